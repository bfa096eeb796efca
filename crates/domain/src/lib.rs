//! Switchboard's domain: the contact center as pure data and deterministic functions.
//!
//! This crate never reads the clock, never performs I/O and never spawns tasks. Time comes in as
//! a [`model::Timestamp`] argument; what must happen as a consequence (rows to persist, events to
//! push, system messages to store) comes out as [`engine::Changes`].

pub mod engine;
pub mod error;
pub mod model;

pub use engine::{
    Changes, Command, Delta, Engine, Event, Fact, FactKind, Inbound, Notice, OfferOutcome,
    OfferSource, Outbound, Outcome, QueueLoad, Reply, WithdrawReason,
};
pub use error::DomainError;
pub use model::*;
