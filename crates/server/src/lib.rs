//! Switchboard's server: configuration, the core service that owns the routing engine, the REST
//! API and live websocket events, authentication, and operations endpoints.
//!
//! Handlers never write SQL and never change routing state themselves: every change is a
//! [`switchboard_domain::Command`] sent to the [`core::Core`], which persists it before answering.

pub mod app;
pub mod auth;
pub mod config;
pub mod contacts;
pub mod core;
pub mod crm;
pub mod http;
pub mod interactions;
pub mod runtime;
pub mod templates;
pub mod users;
pub mod whatsapp;

pub use app::{App, AppState, InboundMessage, Ingested};
pub use config::Config;
pub use runtime::clock::{self, Clock, ManualClock, SystemClock};
