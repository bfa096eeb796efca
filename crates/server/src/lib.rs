//! Switchboard's server: configuration, the core service that owns the routing engine, the REST
//! API and live websocket events, authentication, and operations endpoints.
//!
//! Handlers never write SQL and never change routing state themselves: every change is a
//! [`switchboard_domain::Command`] sent to the [`core::Core`], which persists it before answering.

pub mod app;
pub mod http;
pub mod runtime;
pub mod services;

pub use app::App;
pub use http::AppState;
pub use runtime::clock::{self, Clock, ManualClock, SystemClock};
pub use runtime::config::Config;
pub use services::ingest::{InboundMessage, Ingested};
