//! Parsing of WhatsApp webhook POST bodies into a normalized [`WebhookBatch`].
//!
//! One POST may carry many entries, each with many changes; every one of them is visited. A
//! `messages` change becomes a [`MessagesChange`] (inbound messages, delivery statuses, errors,
//! contact profiles) routed by `metadata.phone_number_id`; any other field (for example
//! `message_template_status_update`) is kept raw as [`Change::Other`], never an error.
//!
//! # Robustness contract
//! The parser never panics, whatever the bytes. It fails as a whole ([`ParseError`]) only when
//! the body is not a WhatsApp webhook at all: too large, not JSON, not an object, another
//! `object` than `whatsapp_business_account` (a missing `object` is tolerated), or no `entry`
//! array. The server should still keep such a body if its signature was valid: it came from
//! Meta, and a retry would carry the same bytes. Below that level it is
//! lenient item by item:
//! - An item that cannot be normalized without inventing data (a message without `id`,
//!   `timestamp` or sender; a status without `id`/`status`; a `messages` change without
//!   `phone_number_id`; a contact or error that is not an object) is left out of the normalized
//!   data and returned in [`WebhookBatch::rejected`] with its raw JSON, where it was, and why.
//! - A message whose envelope is sound but whose content of a known type is malformed (say a
//!   `text` without `body`) is kept as [`Content::Unsupported`] with that type name, and a line
//!   is added to [`WebhookBatch::warnings`]: the customer sent something, and it is shown.
//! - Unknown message types are [`Content::Unsupported`] too: never dropped.
//!
//! Meta does not resend a webhook it got a 200 for, and there is no API to fetch it again. So
//! the server answers 200 once the normalized part *and the raw rejected items* are durable;
//! rejected items are data for a person to look at, not a reason to make Meta retry (a retry
//! would carry the same bytes and be rejected the same way).
//!
//! Ids and timestamps are strings on the wire; numbers are tolerated. Deeply nested JSON is
//! refused by `serde_json`'s recursion limit (an [`ParseError::InvalidJson`]), never a stack
//! overflow. This module performs no I/O and reads no clock.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::media::MediaKind;

/// The largest body accepted: Meta's payloads are at most 3 MB.
pub const MAX_WEBHOOK_BYTES: usize = 3 * 1024 * 1024;

/// Why a body is not a WhatsApp webhook at all. Nothing in it could be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("webhook body of {size} bytes is larger than the {max} bytes accepted")]
    TooLarge { size: usize, max: usize },
    #[error("webhook body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("webhook body is not a JSON object")]
    NotAnObject,
    #[error("webhook is for object {0:?}, not whatsapp_business_account")]
    UnexpectedObject(String),
    #[error("webhook body has no entry array")]
    MissingEntries,
}

/// Everything one webhook POST carried, normalized.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WebhookBatch {
    /// One item per change of every entry, flattened, in payload order.
    pub entries: Vec<Change>,
    /// Items left out of `entries` because they could not be normalized, with their raw JSON.
    /// The server stores them (they may be the only trace of a customer's message).
    pub rejected: Vec<Rejected>,
    /// Items kept in a degraded form (for example malformed content shown as unsupported).
    pub warnings: Vec<String>,
}

impl WebhookBatch {
    /// Every inbound message, with the change it came in (for `phone_number_id` and contacts).
    pub fn messages(&self) -> impl Iterator<Item = (&MessagesChange, &InboundMessage)> {
        self.messages_changes()
            .flat_map(|c| c.messages.iter().map(move |m| (c, m)))
    }

    /// Every status update, with the change it came in.
    pub fn statuses(&self) -> impl Iterator<Item = (&MessagesChange, &StatusUpdate)> {
        self.messages_changes()
            .flat_map(|c| c.statuses.iter().map(move |s| (c, s)))
    }

    /// The `messages` changes only.
    pub fn messages_changes(&self) -> impl Iterator<Item = &MessagesChange> {
        self.entries.iter().filter_map(|c| match c {
            Change::Messages(m) => Some(m),
            Change::Other { .. } => None,
        })
    }
}

/// An item of the webhook that could not be normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Where it was, e.g. `entry[0].changes[1].value.messages[3]`.
    pub location: String,
    /// Why it was left out.
    pub reason: String,
    /// The item exactly as received (parsed JSON).
    pub raw: Value,
}

/// One change of one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// `field == "messages"`: messages, statuses and errors of one business phone number.
    Messages(MessagesChange),
    /// Any other field, kept as received.
    Other {
        /// The entry id: the WhatsApp Business Account id.
        waba_id: Option<String>,
        field: String,
        value: Value,
    },
}

/// A `messages` change: what happened on one business phone number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesChange {
    /// The entry id: the WhatsApp Business Account, not the number. Route by `phone_number_id`.
    pub waba_id: Option<String>,
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub contacts: Vec<ContactProfile>,
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusUpdate>,
    /// Errors about the number or the app as a whole (`value.errors`).
    pub errors: Vec<ApiErrorInfo>,
}

impl MessagesChange {
    /// The contact profile of the sender of `message`, matched by `wa_id` or `user_id`.
    pub fn contact_of(&self, message: &InboundMessage) -> Option<&ContactProfile> {
        self.contacts.iter().find(|c| {
            (c.wa_id.is_some() && c.wa_id == message.from)
                || (c.user_id.is_some() && c.user_id == message.user_id)
        })
    }
}

/// A customer's profile as the webhook gives it (`contacts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactProfile {
    /// Phone-number based id; may be absent for users known only by `user_id`.
    pub wa_id: Option<String>,
    /// Business-scoped user id.
    pub user_id: Option<String>,
    /// `profile.name`.
    pub name: Option<String>,
    /// `profile.username`.
    pub username: Option<String>,
}

/// A message a customer sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The `wamid.…`: deduplicate on it.
    pub id: String,
    /// The sender's number (wa_id). May be absent when only `user_id` is given.
    pub from: Option<String>,
    /// The sender's business-scoped user id.
    pub user_id: Option<String>,
    /// Unix seconds, as sent by WhatsApp.
    pub timestamp: i64,
    pub context: Option<Context>,
    /// Click-to-WhatsApp ad referral, kept as received.
    pub referral: Option<Value>,
    pub content: Content,
    /// The message object exactly as received.
    pub raw: Value,
}

/// What an inbound message refers to: a reply, or a forward.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Context {
    /// The sender of the message replied to (for replies to us: our number).
    pub from: Option<String>,
    /// The wamid of the message replied to (for template button taps: the template message).
    pub id: Option<String>,
    pub forwarded: bool,
    pub frequently_forwarded: bool,
}

/// The content of an inbound message, one variant per WhatsApp type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        body: String,
    },
    /// Image, video, audio, document or sticker.
    Media(Media),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
        url: Option<String>,
    },
    Contacts {
        contacts: Vec<SharedContact>,
    },
    /// `interactive.button_reply`: the customer tapped a reply button we sent.
    ButtonReply {
        id: String,
        title: String,
    },
    /// `interactive.list_reply`: the customer picked a row of a list we sent.
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// `interactive.nfm_reply`: a WhatsApp Flow was completed.
    NfmReply {
        /// The flow's answers, a JSON document as a string.
        response_json: String,
        body: Option<String>,
        name: Option<String>,
    },
    /// `button`: the customer tapped a quick-reply button of a template.
    Button {
        payload: Option<String>,
        text: String,
    },
    /// A reaction to a message; `emoji: None` means the reaction was removed.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    Order {
        catalog_id: Option<String>,
        text: Option<String>,
        product_items: Value,
    },
    /// A system notice, e.g. `user_changed_number`.
    System {
        body: String,
        kind: Option<String>,
        wa_id: Option<String>,
    },
    /// `unsupported`, an unknown type, or a known type whose content was malformed. Stored and
    /// shown as "unsupported message", never dropped.
    Unsupported {
        /// The type as sent (`unsupported`'s own `type` when given, e.g. `video_note`).
        type_name: String,
        errors: Vec<ApiErrorInfo>,
    },
}

/// An inbound media reference. Fetch it with
/// [`GraphClient::fetch_media`](crate::send::GraphClient::fetch_media) within 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    /// The media id to look up.
    pub id: String,
    pub mime_type: Option<String>,
    /// Base64 sha256 of the file, to check the download against.
    pub sha256: Option<String>,
    pub caption: Option<String>,
    /// Documents only.
    pub filename: Option<String>,
    /// Audio only: recorded as a voice message.
    pub voice: bool,
    /// Stickers only.
    pub animated: bool,
    pub url: Option<String>,
}

/// A contact card the customer shared.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SharedContact {
    pub formatted_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phones: Vec<SharedPhone>,
    pub emails: Vec<String>,
    /// `org.company`.
    pub org: Option<String>,
    pub urls: Vec<String>,
}

/// A phone number of a shared contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedPhone {
    pub phone: Option<String>,
    /// Set when the number is on WhatsApp.
    pub wa_id: Option<String>,
    /// `type`: `CELL`, `HOME`, `WORK`, …
    pub kind: Option<String>,
}

/// An error object as WhatsApp reports it in webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorInfo {
    /// Act on this.
    pub code: i64,
    /// Show this (and `details`).
    pub title: String,
    pub message: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
    pub href: Option<String>,
}

/// A delivery status of a message we sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The wamid of our message.
    pub id: String,
    pub status: DeliveryStatus,
    /// Unix seconds.
    pub timestamp: i64,
    pub recipient_id: Option<String>,
    pub errors: Vec<ApiErrorInfo>,
    pub biz_opaque_callback_data: Option<String>,
    /// The status object exactly as received (pricing, conversation, …).
    pub raw: Value,
}

/// The statuses of an outbound message as Switchboard stores them, in the order they advance:
/// `queued` (stored, not sent yet) and `accepted` (WhatsApp took it) are Switchboard's own, the
/// rest are WhatsApp's delivery statuses. `failed` is not in the list: it ranks above all of them
/// and is final. This is the one statement of the order: the server applies statuses with
/// [`status_advances`], and a client that draws them should take its order from here.
pub const STATUS_ORDER: [&str; 6] = ["queued", "accepted", "sent", "delivered", "read", "played"];

/// The rank of a stored message status in [`STATUS_ORDER`]; `failed` ranks highest, a status
/// this code does not know ranks with `queued` (never applied over a known one).
pub fn status_rank(status: &str) -> u8 {
    if status == "failed" {
        return u8::MAX;
    }
    STATUS_ORDER
        .iter()
        .position(|s| *s == status)
        .map_or(0, |i| i as u8)
}

/// Whether a message whose status is `current` moves to `new`: a later status never goes back,
/// and nothing moves a failed message.
pub fn status_advances(current: &str, new: &str) -> bool {
    current != "failed" && status_rank(new) > status_rank(current)
}

/// The delivery state of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    /// A voice message was played.
    Played,
    /// Final; keeps its error.
    Failed,
    /// A status this code does not know; stored, never applied over a known one.
    Unknown(String),
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown(s) => s,
        }
    }

    /// Order for monotonic application ([`status_rank`]): unknown 0 < sent < delivered < read <
    /// played < failed.
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryStatus::Unknown(_) => 0,
            known => status_rank(known.as_str()),
        }
    }

    /// Whether a message currently in `current` (None: no status yet) moves to `self`. A later
    /// state never goes back, and nothing moves a failed message.
    pub fn advances(&self, current: Option<&DeliveryStatus>) -> bool {
        match current {
            None => true,
            Some(DeliveryStatus::Failed) => false,
            Some(cur) => self.rank() > cur.rank(),
        }
    }

    /// `failed`: no later status changes it.
    pub fn is_final(&self) -> bool {
        matches!(self, DeliveryStatus::Failed)
    }
}

impl From<String> for DeliveryStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "played" => DeliveryStatus::Played,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Unknown(s),
        }
    }
}

impl From<DeliveryStatus> for String {
    fn from(s: DeliveryStatus) -> Self {
        s.as_str().to_owned()
    }
}

impl InboundMessage {
    /// The wire type name: `text`, `image`, `video`, `audio`, `document`, `sticker`,
    /// `location`, `contacts`, `interactive` (button, list and flow replies), `button`,
    /// `reaction`, `order`, `system`, or `unsupported` (also for unknown types).
    pub fn kind_str(&self) -> &'static str {
        match &self.content {
            Content::Text { .. } => "text",
            Content::Media(m) => m.kind.as_str(),
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
            Content::ButtonReply { .. } | Content::ListReply { .. } | Content::NfmReply { .. } => {
                "interactive"
            }
            Content::Button { .. } => "button",
            Content::Reaction { .. } => "reaction",
            Content::Order { .. } => "order",
            Content::System { .. } => "system",
            Content::Unsupported { .. } => "unsupported",
        }
    }

    /// The sender's best id: `from` (wa_id), else `user_id`.
    pub fn sender(&self) -> Option<&str> {
        self.from.as_deref().or(self.user_id.as_deref())
    }

    /// A one-line human text for offers and transcripts: the text itself, or e.g.
    /// `📷 Photo: caption`, `📍 Location: name`, `Reaction 👍 to a message`,
    /// `Unsupported message`. Not truncated; see [`short_summary`](Self::short_summary).
    pub fn summary(&self) -> String {
        fn with(label: &str, detail: Option<&str>) -> String {
            match detail.map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => format!("{label}: {d}"),
                None => label.to_owned(),
            }
        }
        match &self.content {
            Content::Text { body } => body.clone(),
            Content::Media(m) => match m.kind {
                MediaKind::Image => with("📷 Photo", m.caption.as_deref()),
                MediaKind::Video => with("🎥 Video", m.caption.as_deref()),
                MediaKind::Audio if m.voice => "🎤 Voice message".to_owned(),
                MediaKind::Audio => "🎵 Audio".to_owned(),
                MediaKind::Document => with(
                    "📄 Document",
                    m.caption.as_deref().or(m.filename.as_deref()),
                ),
                MediaKind::Sticker if m.animated => "Animated sticker".to_owned(),
                MediaKind::Sticker => "Sticker".to_owned(),
            },
            Content::Location {
                latitude,
                longitude,
                name,
                address,
                ..
            } => match name.as_deref().or(address.as_deref()) {
                Some(n) if !n.trim().is_empty() => with("📍 Location", Some(n)),
                _ => format!("📍 Location: {latitude}, {longitude}"),
            },
            Content::Contacts { contacts } => {
                let names: Vec<&str> = contacts
                    .iter()
                    .map(|c| c.formatted_name.as_str())
                    .filter(|n| !n.is_empty())
                    .collect();
                let label = if contacts.len() == 1 {
                    "👤 Contact".to_owned()
                } else {
                    format!("👤 {} contacts", contacts.len())
                };
                with(&label, Some(&names.join(", ")))
            }
            Content::ButtonReply { title, .. } => with("🔘 Button", Some(title)),
            Content::ListReply { title, .. } => with("📋 Selected", Some(title)),
            Content::NfmReply { body, name, .. } => {
                with("📝 Form submitted", body.as_deref().or(name.as_deref()))
            }
            Content::Button { text, .. } => with("🔘 Button", Some(text)),
            Content::Reaction { emoji: Some(e), .. } => format!("Reaction {e} to a message"),
            Content::Reaction { emoji: None, .. } => "Reaction removed".to_owned(),
            Content::Order {
                product_items,
                text,
                ..
            } => {
                let n = product_items.as_array().map_or(0, Vec::len);
                let label = if n == 1 {
                    "🛒 Order: 1 item".to_owned()
                } else {
                    format!("🛒 Order: {n} items")
                };
                match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    Some(t) => format!("{label} ({t})"),
                    None => label,
                }
            }
            Content::System { body, .. } => with("ℹ️ System", Some(body)),
            Content::Unsupported { .. } => "Unsupported message".to_owned(),
        }
    }

    /// [`summary`](Self::summary) cut to at most `max_chars` characters (an ellipsis marks a cut).
    pub fn short_summary(&self, max_chars: usize) -> String {
        let s = self.summary();
        if s.chars().count() <= max_chars {
            return s;
        }
        let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Parses a webhook POST body (the raw bytes, after the signature check).
pub fn parse_webhook(body: &[u8]) -> Result<WebhookBatch, ParseError> {
    if body.len() > MAX_WEBHOOK_BYTES {
        return Err(ParseError::TooLarge {
            size: body.len(),
            max: MAX_WEBHOOK_BYTES,
        });
    }
    let root: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    parse_webhook_value(root)
}

/// Parses an already decoded webhook body. Same contract as [`parse_webhook`] minus the size
/// limit.
pub fn parse_webhook_value(root: Value) -> Result<WebhookBatch, ParseError> {
    let Value::Object(mut root) = root else {
        return Err(ParseError::NotAnObject);
    };
    match root.get("object") {
        None | Some(Value::Null) => {}
        Some(Value::String(o)) if o == "whatsapp_business_account" => {}
        Some(Value::String(o)) => return Err(ParseError::UnexpectedObject(o.clone())),
        Some(other) => return Err(ParseError::UnexpectedObject(other.to_string())),
    }
    let Some(Value::Array(entries)) = root.remove("entry") else {
        return Err(ParseError::MissingEntries);
    };
    let mut cx = Cx::default();
    for (i, entry) in entries.into_iter().enumerate() {
        let loc = format!("entry[{i}]");
        let Value::Object(mut entry) = entry else {
            cx.reject(loc, "entry is not an object", entry);
            continue;
        };
        let waba_id = string_of(entry.get("id"));
        let changes = match entry.remove("changes") {
            Some(Value::Array(changes)) => changes,
            other => {
                if let Some(c) = other {
                    entry.insert("changes".to_owned(), c);
                }
                cx.reject(loc, "entry has no changes array", Value::Object(entry));
                continue;
            }
        };
        for (j, change) in changes.into_iter().enumerate() {
            let loc = format!("entry[{i}].changes[{j}]");
            cx.change(&loc, waba_id.clone(), change);
        }
    }
    Ok(WebhookBatch {
        entries: cx.changes,
        rejected: cx.rejected,
        warnings: cx.warnings,
    })
}

/// Accumulates the result while walking the payload.
#[derive(Default)]
struct Cx {
    changes: Vec<Change>,
    rejected: Vec<Rejected>,
    warnings: Vec<String>,
}

impl Cx {
    fn reject(&mut self, location: String, reason: impl Into<String>, raw: Value) {
        let reason = reason.into();
        tracing::warn!(%location, %reason, "whatsapp webhook item rejected");
        self.rejected.push(Rejected {
            location,
            reason,
            raw,
        });
    }

    fn warn(&mut self, location: &str, reason: impl std::fmt::Display) {
        tracing::warn!(%location, %reason, "whatsapp webhook item degraded");
        self.warnings.push(format!("{location}: {reason}"));
    }

    fn change(&mut self, loc: &str, waba_id: Option<String>, change: Value) {
        let Value::Object(mut change) = change else {
            self.reject(loc.to_owned(), "change is not an object", change);
            return;
        };
        let Some(field) = change
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            self.reject(
                loc.to_owned(),
                "change has no field name",
                Value::Object(change),
            );
            return;
        };
        let value = change.remove("value").unwrap_or(Value::Null);
        if field != "messages" {
            self.changes.push(Change::Other {
                waba_id,
                field,
                value,
            });
            return;
        }
        let loc = format!("{loc}.value");
        let Value::Object(mut value) = value else {
            self.reject(loc, "messages change value is not an object", value);
            return;
        };
        let metadata = value.get("metadata").and_then(Value::as_object);
        let phone_number_id = metadata
            .and_then(|m| string_of(m.get("phone_number_id")))
            .filter(|s| !s.is_empty());
        let display_phone_number = metadata.and_then(|m| string_of(m.get("display_phone_number")));
        let Some(phone_number_id) = phone_number_id else {
            self.reject(
                loc,
                "messages change has no metadata.phone_number_id to route by",
                Value::Object(value),
            );
            return;
        };

        let mut out = MessagesChange {
            waba_id,
            phone_number_id,
            display_phone_number,
            contacts: Vec::new(),
            messages: Vec::new(),
            statuses: Vec::new(),
            errors: Vec::new(),
        };
        for (k, raw) in self.list(&loc, "contacts", value.remove("contacts")) {
            match contact_profile(&raw) {
                Ok(c) => out.contacts.push(c),
                Err(why) => self.reject(format!("{loc}.contacts[{k}]"), why, raw),
            }
        }
        for (k, raw) in self.list(&loc, "messages", value.remove("messages")) {
            let item_loc = format!("{loc}.messages[{k}]");
            match self.message(&item_loc, raw) {
                Ok(m) => out.messages.push(m),
                Err((why, raw)) => self.reject(item_loc, why, raw),
            }
        }
        for (k, raw) in self.list(&loc, "statuses", value.remove("statuses")) {
            let item_loc = format!("{loc}.statuses[{k}]");
            match self.status(&item_loc, raw) {
                Ok(s) => out.statuses.push(s),
                Err((why, raw)) => self.reject(item_loc, why, raw),
            }
        }
        for (k, raw) in self.list(&loc, "errors", value.remove("errors")) {
            match api_error(&raw) {
                Ok(e) => out.errors.push(e),
                Err(why) => self.reject(format!("{loc}.errors[{k}]"), why, raw),
            }
        }
        self.changes.push(Change::Messages(out));
    }

    /// The items of an optional array field; a present non-array (other than null) is rejected.
    fn list(&mut self, loc: &str, name: &str, v: Option<Value>) -> Vec<(usize, Value)> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.into_iter().enumerate().collect(),
            Some(other) => {
                self.reject(
                    format!("{loc}.{name}"),
                    format!("{name} is not an array"),
                    other,
                );
                Vec::new()
            }
        }
    }

    fn message(&mut self, loc: &str, raw: Value) -> Result<InboundMessage, (String, Value)> {
        let Some(o) = raw.as_object() else {
            return Err(("message is not an object".to_owned(), raw));
        };
        let Some(id) = string_of(o.get("id")).filter(|s| !s.is_empty()) else {
            return Err(("message has no id".to_owned(), raw));
        };
        let Some(timestamp) = o.get("timestamp").and_then(timestamp_of) else {
            return Err(("message has no valid timestamp".to_owned(), raw));
        };
        let from = string_of(o.get("from")).filter(|s| !s.is_empty());
        let user_id = string_of(o.get("user_id")).filter(|s| !s.is_empty());
        if from.is_none() && user_id.is_none() {
            return Err(("message has neither from nor user_id".to_owned(), raw));
        }
        let context = o
            .get("context")
            .and_then(Value::as_object)
            .map(|c| Context {
                from: string_of(c.get("from")),
                id: string_of(c.get("id")),
                forwarded: c.get("forwarded").and_then(Value::as_bool).unwrap_or(false),
                frequently_forwarded: c
                    .get("frequently_forwarded")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        let referral = o.get("referral").filter(|r| !r.is_null()).cloned();
        let errors = self.errors_of(&format!("{loc}.errors"), o.get("errors"));
        let type_name = o.get("type").and_then(Value::as_str);
        let content = match content_of(type_name, o, &errors) {
            Ok(c) => c,
            Err(why) => {
                let t = type_name.unwrap_or("unknown");
                self.warn(loc, format!("{t} content kept as unsupported: {why}"));
                Content::Unsupported {
                    type_name: t.to_owned(),
                    errors,
                }
            }
        };
        Ok(InboundMessage {
            id,
            from,
            user_id,
            timestamp,
            context,
            referral,
            content,
            raw,
        })
    }

    fn status(&mut self, loc: &str, raw: Value) -> Result<StatusUpdate, (String, Value)> {
        let Some(o) = raw.as_object() else {
            return Err(("status is not an object".to_owned(), raw));
        };
        let Some(id) = string_of(o.get("id")).filter(|s| !s.is_empty()) else {
            return Err(("status has no id".to_owned(), raw));
        };
        let Some(status) = o
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(("status has no status".to_owned(), raw));
        };
        let Some(timestamp) = o.get("timestamp").and_then(timestamp_of) else {
            return Err(("status has no valid timestamp".to_owned(), raw));
        };
        let status = DeliveryStatus::from(status.to_owned());
        if let DeliveryStatus::Unknown(s) = &status {
            self.warn(loc, format!("unknown delivery status {s:?}"));
        }
        let errors = self.errors_of(&format!("{loc}.errors"), o.get("errors"));
        Ok(StatusUpdate {
            id,
            status,
            timestamp,
            recipient_id: string_of(o.get("recipient_id")),
            errors,
            biz_opaque_callback_data: string_of(o.get("biz_opaque_callback_data")),
            raw,
        })
    }

    /// Errors nested in a message or status: malformed ones are skipped with a warning (the
    /// parent's `raw` still holds them).
    fn errors_of(&mut self, loc: &str, v: Option<&Value>) -> Vec<ApiErrorInfo> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (k, e) in items.iter().enumerate() {
                    match api_error(e) {
                        Ok(e) => out.push(e),
                        Err(why) => self.warn(&format!("{loc}[{k}]"), why),
                    }
                }
                out
            }
            Some(_) => {
                self.warn(loc, "errors is not an array");
                Vec::new()
            }
        }
    }
}

fn content_of(
    type_name: Option<&str>,
    o: &Map<String, Value>,
    errors: &[ApiErrorInfo],
) -> Result<Content, String> {
    let unsupported = |name: &str| Content::Unsupported {
        type_name: name.to_owned(),
        errors: errors.to_vec(),
    };
    let Some(t) = type_name else {
        return Ok(unsupported("unknown"));
    };
    let body = |key: &str| -> Result<&Map<String, Value>, String> {
        o.get(key)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("no {key} object"))
    };
    if let Some(kind) = MediaKind::from_wire(t) {
        let m = body(t)?;
        let id = string_of(m.get("id"))
            .filter(|s| !s.is_empty())
            .ok_or("media has no id")?;
        return Ok(Content::Media(Media {
            kind,
            id,
            mime_type: string_of(m.get("mime_type")),
            sha256: string_of(m.get("sha256")),
            caption: string_of(m.get("caption")),
            filename: string_of(m.get("filename")),
            voice: bool_of(m.get("voice")),
            animated: bool_of(m.get("animated")),
            url: string_of(m.get("url")),
        }));
    }
    Ok(match t {
        "text" => Content::Text {
            body: string_of(body("text")?.get("body")).ok_or("text has no body")?,
        },
        "location" => {
            let l = body("location")?;
            let latitude = float_of(l.get("latitude")).ok_or("location has no latitude")?;
            let longitude = float_of(l.get("longitude")).ok_or("location has no longitude")?;
            Content::Location {
                latitude,
                longitude,
                name: string_of(l.get("name")),
                address: string_of(l.get("address")),
                url: string_of(l.get("url")),
            }
        }
        "contacts" => {
            let list = o
                .get("contacts")
                .and_then(Value::as_array)
                .ok_or("no contacts array")?;
            Content::Contacts {
                contacts: list.iter().filter_map(shared_contact).collect(),
            }
        }
        "interactive" => {
            let i = body("interactive")?;
            let sub = i.get("type").and_then(Value::as_str).unwrap_or("unknown");
            let reply = |key: &str| -> Result<&Map<String, Value>, String> {
                i.get(key)
                    .and_then(Value::as_object)
                    .ok_or_else(|| format!("interactive has no {key} object"))
            };
            match sub {
                "button_reply" => {
                    let r = reply("button_reply")?;
                    Content::ButtonReply {
                        id: string_of(r.get("id")).unwrap_or_default(),
                        title: string_of(r.get("title")).ok_or("button_reply has no title")?,
                    }
                }
                "list_reply" => {
                    let r = reply("list_reply")?;
                    Content::ListReply {
                        id: string_of(r.get("id")).unwrap_or_default(),
                        title: string_of(r.get("title")).ok_or("list_reply has no title")?,
                        description: string_of(r.get("description")),
                    }
                }
                "nfm_reply" => {
                    let r = reply("nfm_reply")?;
                    let response_json = match r.get("response_json") {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
                        _ => return Err("nfm_reply has no response_json".to_owned()),
                    };
                    Content::NfmReply {
                        response_json,
                        body: string_of(r.get("body")),
                        name: string_of(r.get("name")),
                    }
                }
                other => unsupported(&format!("interactive.{other}")),
            }
        }
        "button" => {
            let b = body("button")?;
            let payload = string_of(b.get("payload"));
            let text = string_of(b.get("text"))
                .or_else(|| payload.clone())
                .ok_or("button has neither text nor payload")?;
            Content::Button { payload, text }
        }
        "reaction" => {
            let r = body("reaction")?;
            Content::Reaction {
                message_id: string_of(r.get("message_id"))
                    .filter(|s| !s.is_empty())
                    .ok_or("reaction has no message_id")?,
                emoji: string_of(r.get("emoji")).filter(|e| !e.is_empty()),
            }
        }
        "order" => {
            let r = body("order")?;
            Content::Order {
                catalog_id: string_of(r.get("catalog_id")),
                text: string_of(r.get("text")),
                product_items: r
                    .get("product_items")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new())),
            }
        }
        "system" => {
            let s = body("system")?;
            Content::System {
                body: string_of(s.get("body")).unwrap_or_default(),
                kind: string_of(s.get("type")),
                wa_id: string_of(s.get("wa_id")).or_else(|| string_of(s.get("new_wa_id"))),
            }
        }
        "unsupported" => {
            let name = o
                .get("unsupported")
                .and_then(|u| u.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("unsupported");
            unsupported(name)
        }
        other => unsupported(other),
    })
}

fn shared_contact(v: &Value) -> Option<SharedContact> {
    let c = v.as_object()?;
    let name = c.get("name").and_then(Value::as_object);
    let first_name = name.and_then(|n| string_of(n.get("first_name")));
    let last_name = name.and_then(|n| string_of(n.get("last_name")));
    let formatted_name = name
        .and_then(|n| string_of(n.get("formatted_name")))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            [first_name.as_deref(), last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        });
    let objects = |key: &str| {
        c.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    Some(SharedContact {
        formatted_name,
        first_name,
        last_name,
        phones: objects("phones")
            .into_iter()
            .map(|p| SharedPhone {
                phone: string_of(p.get("phone")),
                wa_id: string_of(p.get("wa_id")),
                kind: string_of(p.get("type")),
            })
            .collect(),
        emails: objects("emails")
            .into_iter()
            .filter_map(|e| string_of(e.get("email")))
            .collect(),
        org: c
            .get("org")
            .and_then(Value::as_object)
            .and_then(|o| string_of(o.get("company"))),
        urls: objects("urls")
            .into_iter()
            .filter_map(|u| string_of(u.get("url")))
            .collect(),
    })
}

fn contact_profile(v: &Value) -> Result<ContactProfile, &'static str> {
    let c = v.as_object().ok_or("contact is not an object")?;
    let profile = c.get("profile").and_then(Value::as_object);
    let wa_id = string_of(c.get("wa_id")).filter(|s| !s.is_empty());
    let user_id = string_of(c.get("user_id")).filter(|s| !s.is_empty());
    if wa_id.is_none() && user_id.is_none() {
        return Err("contact has neither wa_id nor user_id");
    }
    Ok(ContactProfile {
        wa_id,
        user_id,
        name: profile.and_then(|p| string_of(p.get("name"))),
        username: profile
            .and_then(|p| string_of(p.get("username")))
            .or_else(|| string_of(c.get("username"))),
    })
}

/// Reads a webhook error object (`{code, title, message, error_data{details}, href}`).
pub fn api_error(v: &Value) -> Result<ApiErrorInfo, &'static str> {
    let e = v.as_object().ok_or("error is not an object")?;
    let code = e
        .get("code")
        .and_then(int_of)
        .ok_or("error has no integer code")?;
    let message = string_of(e.get("message"));
    Ok(ApiErrorInfo {
        code,
        title: string_of(e.get("title"))
            .or_else(|| message.clone())
            .unwrap_or_default(),
        message,
        details: e
            .get("error_data")
            .and_then(|d| d.get("details"))
            .and_then(|d| string_of(Some(d))),
        href: string_of(e.get("href")),
    })
}

/// A string field; integers are tolerated (and written in decimal), anything else is absent.
fn string_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn bool_of(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// An integer given as a JSON integer or a decimal string.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Unix seconds given as a decimal string (as WhatsApp sends them) or a JSON integer.
fn timestamp_of(v: &Value) -> Option<i64> {
    int_of(v)
}

/// A finite number given as a JSON number or a decimal string.
fn float_of(v: Option<&Value>) -> Option<f64> {
    let f = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}
