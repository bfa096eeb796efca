//! Switchboard's server: configuration, the core service that owns the routing engine, the REST
//! API and live websocket events, authentication, and operations endpoints.
//!
//! Handlers never write SQL and never change routing state themselves: every change is a
//! [`switchboard_domain::Command`] sent to the [`core::Core`], which persists it before answering.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod core;
pub mod crm;
pub mod error;
pub mod http;
pub mod hub;
pub mod ids;
pub mod interactions;
pub mod locks;
pub mod metrics;
pub mod templates;
pub mod text;
pub mod users;
pub mod views;
pub mod whatsapp;

pub use app::{App, AppState, InboundMessage, Ingested};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
