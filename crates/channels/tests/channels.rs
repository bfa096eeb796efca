//! Tests of the WhatsApp channel library: one binary, one module per area.
//! Sample payloads are in `tests/samples/`: WhatsApp Cloud API webhook bodies as Meta sends them.

#![allow(clippy::unwrap_used)]

#[path = "channels/client.rs"]
mod client;
#[path = "channels/media.rs"]
mod media;
#[path = "channels/proptests.rs"]
mod proptests;
#[path = "channels/send.rs"]
mod send;
#[path = "channels/signature.rs"]
mod signature;
#[path = "channels/webhook.rs"]
mod webhook;
