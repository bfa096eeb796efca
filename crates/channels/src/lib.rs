//! Switchboard's WhatsApp Business Cloud API channel: a protocol library with its own types.
//!
//! - [`signature`]: `X-Hub-Signature-256` verification of webhook POSTs and the GET handshake.
//! - [`webhook`]: webhook bodies -> [`WebhookBatch`] (messages, statuses, errors, other fields).
//! - [`send`]: outbound message bodies, the [`GraphClient`], and [`ErrorClass`] for the outbox.
//! - [`media`]: media kinds, WhatsApp's type and size limits, sha256 checks.
//!
//! This crate never depends on Switchboard's domain, store or server, never stores anything,
//! never retries or sleeps, and never logs tokens or secrets. Its callers decide what to keep
//! and when to try again.

pub mod media;
pub mod send;
pub mod signature;
pub mod webhook;

pub use media::{check_media, media_limit, verify_sha256, DigestError, LimitError, MediaKind};
pub use send::{
    ErrorClass, ErrorOrigin, FetchedMedia, GraphClient, MediaInfo, MediaSource, OutboundError,
    OutboundMessage, PhoneNumberInfo, SendError, SendOk,
};
pub use signature::{sign, verify_signature, verify_subscription, SignatureError};
pub use webhook::{
    parse_webhook, parse_webhook_value, status_advances, status_rank, ApiErrorInfo, Change,
    ContactProfile, Content, Context, DeliveryStatus, InboundMessage, Media, MessagesChange,
    ParseError, Rejected, SharedContact, SharedPhone, StatusUpdate, WebhookBatch, STATUS_ORDER,
};
