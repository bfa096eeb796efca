//! Tests of the routing engine, one per rule of SPEC.md sections 2 and 3 (R-2.1 …,
//! …) and of a supervisor acting on others' work, plus a property
//! test that drives random command sequences and checks the engine's invariants after every step.
//!
//! Every test states what a user would observe: offers made to whom, presence, interaction states,
//! notices pushed, system messages stored, errors with their codes. Time is a fake clock passed in.
#![allow(clippy::unwrap_used)]

mod concurrent;
mod conference;
mod inbound;
mod offers;
mod outbound;
mod presence;
mod property;
mod refused;
mod reports;
mod restart;
mod routing;
mod supervisor;
mod support;
mod transfer;
mod wrap_up;
