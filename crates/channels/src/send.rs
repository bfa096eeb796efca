//! Talking to the Graph API: outbound message bodies, the HTTP client, and the classification of
//! its errors into what the outbox should do (retry, slow down, or fail for good).
//!
//! Everything here is stateless: no retries, no pacing, no storage. The caller (the server's
//! outbox) owns those and decides from [`ErrorClass`]. A request is sent at most once per call;
//! a 2xx whose body cannot be read is reported as permanent for sends, because the message may
//! have been accepted and a retry would deliver it twice. Tokens are sent only as bearer headers
//! and never logged.

// `SendError` is a flat struct with public fields (about 160 bytes) so the outbox can store and
// show it as is; it is returned once per network call, where its size is irrelevant next to the
// request itself. Boxing it would only make every caller's field access noisier.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::media::{verify_sha256, MediaKind, MEDIA_MAX};

/// Longest text body WhatsApp accepts, in characters.
pub const TEXT_MAX_CHARS: usize = 4096;
/// Longest media caption WhatsApp accepts, in characters.
pub const CAPTION_MAX_CHARS: usize = 1024;
/// Largest JSON answer read from the Graph API.
const JSON_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Pages of templates followed at most (a guard against a `next` loop).
const TEMPLATE_PAGES_MAX: usize = 100;

/// Where the media of a media message comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    /// A media id returned by [`GraphClient::upload_media`].
    Id(String),
    /// A public https URL WhatsApp fetches itself.
    Link(String),
}

/// A message to send to a customer (or the read receipt of one of theirs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundMessage {
    Text {
        body: String,
        preview_url: bool,
    },
    Media {
        kind: MediaKind,
        source: MediaSource,
        /// Image, video and document only.
        caption: Option<String>,
        /// Document only.
        filename: Option<String>,
    },
    /// An empty `emoji` removes our reaction.
    Reaction {
        message_id: String,
        emoji: String,
    },
    Template {
        name: String,
        /// Language code, e.g. `en_US`.
        language: String,
        /// The `components` array as WhatsApp wants it (null or `[]`: none).
        components: Value,
    },
    /// Marks a customer's message (and those before it) as read.
    MarkRead {
        message_id: String,
    },
}

/// Why an outbound message cannot be sent as it is. Written for an agent to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the message is empty")]
    EmptyText,
    #[error("the message is {len} characters long; WhatsApp accepts at most {max}")]
    TextTooLong { len: usize, max: usize },
    #[error("the caption is {len} characters long; WhatsApp accepts at most {max}")]
    CaptionTooLong { len: usize, max: usize },
    #[error("{0} messages cannot have a caption")]
    CaptionNotAllowed(MediaKind),
    #[error("only documents can have a file name")]
    FilenameNotAllowed,
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("template components must be a JSON array")]
    ComponentsNotArray,
}

impl OutboundMessage {
    /// The wire type (`text`, `image`, …, `reaction`, `template`, `read`).
    pub fn kind_str(&self) -> &'static str {
        match self {
            OutboundMessage::Text { .. } => "text",
            OutboundMessage::Media { kind, .. } => kind.as_str(),
            OutboundMessage::Reaction { .. } => "reaction",
            OutboundMessage::Template { .. } => "template",
            OutboundMessage::MarkRead { .. } => "read",
        }
    }

    /// Checks WhatsApp's limits that can be checked locally.
    pub fn validate(&self) -> Result<(), OutboundError> {
        match self {
            OutboundMessage::Text { body, .. } => {
                if body.trim().is_empty() {
                    return Err(OutboundError::EmptyText);
                }
                let len = body.chars().count();
                if len > TEXT_MAX_CHARS {
                    return Err(OutboundError::TextTooLong {
                        len,
                        max: TEXT_MAX_CHARS,
                    });
                }
            }
            OutboundMessage::Media {
                kind,
                source,
                caption,
                filename,
            } => {
                let (MediaSource::Id(s) | MediaSource::Link(s)) = source;
                if s.trim().is_empty() {
                    return Err(OutboundError::Missing("the media id or link"));
                }
                if let Some(c) = caption.as_deref().filter(|c| !c.is_empty()) {
                    if !kind.takes_caption() {
                        return Err(OutboundError::CaptionNotAllowed(*kind));
                    }
                    let len = c.chars().count();
                    if len > CAPTION_MAX_CHARS {
                        return Err(OutboundError::CaptionTooLong {
                            len,
                            max: CAPTION_MAX_CHARS,
                        });
                    }
                }
                if filename.as_deref().is_some_and(|f| !f.is_empty())
                    && *kind != MediaKind::Document
                {
                    return Err(OutboundError::FilenameNotAllowed);
                }
            }
            OutboundMessage::Reaction { message_id, .. }
            | OutboundMessage::MarkRead { message_id } => {
                if message_id.trim().is_empty() {
                    return Err(OutboundError::Missing("the message id"));
                }
            }
            OutboundMessage::Template {
                name,
                language,
                components,
            } => {
                if name.trim().is_empty() {
                    return Err(OutboundError::Missing("the template name"));
                }
                if language.trim().is_empty() {
                    return Err(OutboundError::Missing("the template language"));
                }
                if !(components.is_null() || components.is_array()) {
                    return Err(OutboundError::ComponentsNotArray);
                }
            }
        }
        Ok(())
    }

    /// The request body of `POST /{phone_number_id}/messages`. `context_message_id` makes the
    /// message a reply to that wamid (ignored for reactions and read receipts). Captions are
    /// only written for kinds that take one, file names only for documents.
    pub fn to_json(&self, to: &str, context_message_id: Option<&str>) -> Value {
        let (type_name, object) = match self {
            OutboundMessage::MarkRead { message_id } => {
                return json!({
                    "messaging_product": "whatsapp",
                    "status": "read",
                    "message_id": message_id,
                });
            }
            OutboundMessage::Text { body, preview_url } => {
                let mut t = Map::new();
                t.insert("body".into(), json!(body));
                if *preview_url {
                    t.insert("preview_url".into(), json!(true));
                }
                ("text", Value::Object(t))
            }
            OutboundMessage::Media {
                kind,
                source,
                caption,
                filename,
            } => {
                let mut m = Map::new();
                match source {
                    MediaSource::Id(id) => m.insert("id".into(), json!(id)),
                    MediaSource::Link(link) => m.insert("link".into(), json!(link)),
                };
                if let Some(c) = caption.as_deref().filter(|c| !c.is_empty()) {
                    if kind.takes_caption() {
                        m.insert("caption".into(), json!(c));
                    }
                }
                if let Some(f) = filename.as_deref().filter(|f| !f.is_empty()) {
                    if *kind == MediaKind::Document {
                        m.insert("filename".into(), json!(f));
                    }
                }
                (kind.as_str(), Value::Object(m))
            }
            OutboundMessage::Reaction { message_id, emoji } => (
                "reaction",
                json!({ "message_id": message_id, "emoji": emoji }),
            ),
            OutboundMessage::Template {
                name,
                language,
                components,
            } => {
                let mut t = Map::new();
                t.insert("name".into(), json!(name));
                t.insert("language".into(), json!({ "code": language }));
                let empty =
                    components.is_null() || components.as_array().is_some_and(Vec::is_empty);
                if !empty {
                    t.insert("components".into(), components.clone());
                }
                ("template", Value::Object(t))
            }
        };
        let mut body = Map::new();
        body.insert("messaging_product".into(), json!("whatsapp"));
        body.insert("recipient_type".into(), json!("individual"));
        body.insert("to".into(), json!(to));
        body.insert("type".into(), json!(type_name));
        body.insert(type_name.into(), object);
        if let Some(ctx) = context_message_id.filter(|c| !c.is_empty()) {
            if !matches!(self, OutboundMessage::Reaction { .. }) {
                body.insert("context".into(), json!({ "message_id": ctx }));
            }
        }
        Value::Object(body)
    }
}

/// What the outbox should do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum ErrorClass {
    /// Retry with backoff (5xx, timeouts, connection errors, 131000, 131057).
    Transient,
    /// The number, app or account is over a rate limit: retry later and slow the number down
    /// (130429, 4, 80007, 131048).
    Throughput,
    /// Too fast to this one recipient: retry later, back off for this recipient (131056).
    PairRate,
    /// Never retry; show the reason.
    Permanent {
        /// Outside the 24-hour window: the agent must send a template (131047).
        needs_template: bool,
        /// The number cannot receive messages: flag it (131026).
        undeliverable: bool,
        /// Token or permission problem: alert the admin (190, 0, 10, 200–299).
        auth: bool,
    },
}

impl ErrorClass {
    /// Permanent, with no particular action.
    pub const PERMANENT: ErrorClass = ErrorClass::Permanent {
        needs_template: false,
        undeliverable: false,
        auth: false,
    };

    /// Classifies a failure by its Graph error `code` (when there is one) and HTTP status
    /// (when a response came back). Known codes decide; otherwise 429 is throughput, other 4xx
    /// permanent, and 5xx or no response at all transient.
    pub fn classify(http_status: Option<u16>, code: Option<i64>) -> ErrorClass {
        if let Some(code) = code {
            match code {
                131000 | 131057 => return ErrorClass::Transient,
                130429 | 4 | 80007 | 131048 => return ErrorClass::Throughput,
                131056 => return ErrorClass::PairRate,
                131047 => {
                    return ErrorClass::Permanent {
                        needs_template: true,
                        undeliverable: false,
                        auth: false,
                    }
                }
                131026 => {
                    return ErrorClass::Permanent {
                        needs_template: false,
                        undeliverable: true,
                        auth: false,
                    }
                }
                190 | 0 | 10 | 200..=299 => {
                    return ErrorClass::Permanent {
                        needs_template: false,
                        undeliverable: false,
                        auth: true,
                    }
                }
                132000..=132999 | 100 | 131008 | 131009 | 131051 | 131052 | 131053 => {
                    return ErrorClass::PERMANENT
                }
                _ => {}
            }
        }
        match http_status {
            Some(429) => ErrorClass::Throughput,
            Some(s) if (400..500).contains(&s) => ErrorClass::PERMANENT,
            // 5xx, anything else unexpected, or no response (timeout, connection error).
            _ => ErrorClass::Transient,
        }
    }

    /// Whether the same request may be tried again later.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ErrorClass::Permanent { .. })
    }
}

/// Where a [`SendError`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorOrigin {
    /// The Graph API answered with an error status.
    Api,
    /// No answer in time.
    Timeout,
    /// Connection refused, reset, DNS, TLS…
    Network,
    /// A success status with a body that could not be read.
    InvalidResponse,
    /// Refused before sending: invalid message, id or configuration.
    Invalid,
    /// A body larger than allowed (download or answer).
    TooLarge,
    /// Downloaded media did not match its sha256.
    Checksum,
}

/// A failed Graph API call (send, upload, lookup, download, template list).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{}", self.describe())]
pub struct SendError {
    pub class: ErrorClass,
    pub origin: ErrorOrigin,
    pub http_status: Option<u16>,
    /// `error.code`.
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// `error.type`, e.g. `OAuthException`.
    pub error_type: Option<String>,
    /// `error.error_user_title` (or a webhook error's `title`).
    pub title: Option<String>,
    pub message: String,
    /// `error.error_data.details`.
    pub details: Option<String>,
    pub fbtrace_id: Option<String>,
}

impl SendError {
    fn local(origin: ErrorOrigin, class: ErrorClass, message: impl Into<String>) -> SendError {
        SendError {
            class,
            origin,
            http_status: None,
            code: None,
            subcode: None,
            error_type: None,
            title: None,
            message: message.into(),
            details: None,
            fbtrace_id: None,
        }
    }

    /// A message that failed local validation: permanent.
    pub fn invalid(message: impl Into<String>) -> SendError {
        SendError::local(ErrorOrigin::Invalid, ErrorClass::PERMANENT, message)
    }

    /// Reads an error answer of the Graph API (`{"error":{"message","type","code",
    /// "error_data":{"details"},"fbtrace_id"}}`) and classifies it. A body that is not such
    /// JSON (a proxy's HTML page) is classified by the status alone.
    pub fn from_response(http_status: u16, body: &[u8]) -> SendError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let err = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_object);
        let Some(e) = err else {
            let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
            let message = if snippet.trim().is_empty() {
                format!("HTTP {http_status}")
            } else {
                format!("HTTP {http_status}: {}", snippet.trim())
            };
            return SendError {
                class: ErrorClass::classify(Some(http_status), None),
                http_status: Some(http_status),
                ..SendError::local(ErrorOrigin::Api, ErrorClass::Transient, message)
            };
        };
        let int = |k: &str| {
            e.get(k).and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let code = int("code");
        SendError {
            class: ErrorClass::classify(Some(http_status), code),
            origin: ErrorOrigin::Api,
            http_status: Some(http_status),
            code,
            subcode: int("error_subcode"),
            error_type: text(e.get("type")),
            title: text(e.get("error_user_title")).or_else(|| text(e.get("title"))),
            message: text(e.get("message"))
                .or_else(|| text(e.get("error_user_msg")))
                .unwrap_or_else(|| format!("HTTP {http_status}")),
            details: e
                .get("error_data")
                .and_then(|d| text(d.get("details")))
                .or_else(|| text(e.get("error_user_msg"))),
            fbtrace_id: text(e.get("fbtrace_id")),
        }
    }

    fn transport(e: &reqwest::Error) -> SendError {
        let (origin, class) = if e.is_timeout() {
            (ErrorOrigin::Timeout, ErrorClass::Transient)
        } else if e.is_builder() {
            (ErrorOrigin::Invalid, ErrorClass::PERMANENT)
        } else {
            (ErrorOrigin::Network, ErrorClass::Transient)
        };
        SendError::local(origin, class, e.to_string())
    }

    /// A one-line description: `(#131047) message: details [HTTP 400]`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(code) = self.code {
            s.push_str(&format!("(#{code}) "));
        }
        s.push_str(self.title.as_deref().unwrap_or(&self.message));
        if let Some(d) = self.details.as_deref().filter(|d| !d.is_empty()) {
            s.push_str(": ");
            s.push_str(d);
        }
        if let Some(st) = self.http_status {
            s.push_str(&format!(" [HTTP {st}]"));
        }
        s
    }
}

/// A message WhatsApp accepted (delivery comes later, by status webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOk {
    /// The new message's `wamid.…` (for a read receipt: the message marked read).
    pub wamid: String,
    /// The recipient's WhatsApp id, as WhatsApp resolved `to`.
    pub wa_id: Option<String>,
}

/// The answer of a media lookup. The `url` lives 5 minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub id: Option<String>,
    pub url: String,
    pub mime_type: Option<String>,
    /// Hex or base64.
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

/// A business number as the Graph API describes it (fields it did not give are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    pub id: Option<String>,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
}

/// Media fetched by [`GraphClient::fetch_media`], checked against its sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    pub info: MediaInfo,
    pub bytes: Vec<u8>,
}

/// A Graph API client for one base URL (`https://graph.facebook.com/v23.0` in production, a
/// local fake in tests). Cheap to clone. The access token is given per call, since each
/// channel (number) may have its own.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    transfer_timeout: Duration,
    max_download: u64,
}

impl GraphClient {
    /// A client whose API calls time out after `timeout`; uploads and downloads get at least
    /// two minutes. Downloads are capped at 100 MB (WhatsApp's largest media).
    pub fn new(base_url: &str, timeout: Duration) -> Result<GraphClient, SendError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::transport(&e))?;
        Ok(GraphClient::with_http_client(base_url, http, timeout))
    }

    /// A client over an HTTP client built elsewhere (e.g. with TLS settings of the binary).
    pub fn with_http_client(base_url: &str, http: reqwest::Client, timeout: Duration) -> Self {
        GraphClient {
            http,
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            timeout,
            transfer_timeout: timeout.max(Duration::from_secs(120)),
            max_download: MEDIA_MAX,
        }
    }

    /// Changes the largest download accepted by [`download`](Self::download).
    pub fn with_max_download(mut self, max_bytes: u64) -> Self {
        self.max_download = max_bytes;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `message` to `to` from the number `phone_number_id`.
    pub async fn send(
        &self,
        phone_number_id: &str,
        access_token: &str,
        message: &OutboundMessage,
        to: &str,
    ) -> Result<SendOk, SendError> {
        self.send_with_context(phone_number_id, access_token, message, to, None)
            .await
    }

    /// [`send`](Self::send) as a reply to the message `context_message_id`.
    #[tracing::instrument(
        name = "whatsapp.send",
        skip_all,
        fields(phone_number_id = %phone_number_id, kind = message.kind_str())
    )]
    pub async fn send_with_context(
        &self,
        phone_number_id: &str,
        access_token: &str,
        message: &OutboundMessage,
        to: &str,
        context_message_id: Option<&str>,
    ) -> Result<SendOk, SendError> {
        message
            .validate()
            .map_err(|e| SendError::invalid(e.to_string()))?;
        let is_read = matches!(message, OutboundMessage::MarkRead { .. });
        if !is_read && to.trim().is_empty() {
            return Err(SendError::invalid("the recipient is missing"));
        }
        let url = format!("{}/{}/messages", self.base_url, segment(phone_number_id)?);
        let body = message.to_json(to, context_message_id);
        let request = self
            .http
            .post(url)
            .bearer_auth(access_token)
            .timeout(self.timeout)
            .json(&body);
        // A 2xx whose body we cannot read may still mean "accepted": do not retry it.
        let answer = self.call_json(request, ErrorClass::PERMANENT).await?;
        if let OutboundMessage::MarkRead { message_id } = message {
            return Ok(SendOk {
                wamid: message_id.clone(),
                wa_id: None,
            });
        }
        let wamid = answer
            .get("messages")
            .and_then(|m| m.get(0))
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                SendError::local(
                    ErrorOrigin::InvalidResponse,
                    ErrorClass::PERMANENT,
                    "the send was answered without a message id; it may have been accepted",
                )
            })?;
        let wa_id = answer
            .get("contacts")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("wa_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(SendOk {
            wamid: wamid.to_owned(),
            wa_id,
        })
    }

    /// Marks the customer's message `message_id` (and those before it) as read.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        access_token: &str,
        message_id: &str,
    ) -> Result<(), SendError> {
        let m = OutboundMessage::MarkRead {
            message_id: message_id.to_owned(),
        };
        self.send(phone_number_id, access_token, &m, "")
            .await
            .map(|_| ())
    }

    /// Uploads a file (multipart `messaging_product=whatsapp`, `type`, `file`) and returns its
    /// media id. Check it first with [`check_media`](crate::media::check_media): only the
    /// absolute 100 MB ceiling is enforced here.
    #[tracing::instrument(name = "whatsapp.upload", skip_all, fields(phone_number_id = %phone_number_id, mime = %mime, size = bytes.len()))]
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        access_token: &str,
        bytes: &[u8],
        mime: &str,
        filename: &str,
    ) -> Result<String, SendError> {
        if bytes.len() as u64 > MEDIA_MAX {
            return Err(SendError::local(
                ErrorOrigin::TooLarge,
                ErrorClass::PERMANENT,
                "the file is larger than WhatsApp's 100 MB limit",
            ));
        }
        let mime = mime.trim();
        if mime.is_empty() || mime.chars().any(|c| c.is_control() || c == '"') {
            return Err(SendError::invalid("the media type is missing or invalid"));
        }
        let url = format!("{}/{}/media", self.base_url, segment(phone_number_id)?);
        let (content_type, body) = multipart(bytes, mime, filename);
        let request = self
            .http
            .post(url)
            .bearer_auth(access_token)
            .timeout(self.transfer_timeout)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let answer = self.call_json(request, ErrorClass::Transient).await?;
        answer
            .get("id")
            .and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| {
                SendError::local(
                    ErrorOrigin::InvalidResponse,
                    ErrorClass::Transient,
                    "the upload was answered without a media id",
                )
            })
    }

    /// Looks up a media id: its short-lived download URL, type, sha256 and size.
    #[tracing::instrument(name = "whatsapp.media_lookup", skip_all, fields(media_id = %media_id))]
    pub async fn media_lookup(
        &self,
        media_id: &str,
        access_token: &str,
    ) -> Result<MediaInfo, SendError> {
        let v = self.get_object(media_id, access_token).await?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let url = text("url").filter(|u| !u.is_empty()).ok_or_else(|| {
            SendError::local(
                ErrorOrigin::InvalidResponse,
                ErrorClass::Transient,
                "the media lookup was answered without a url",
            )
        })?;
        Ok(MediaInfo {
            id: text("id"),
            url,
            mime_type: text("mime_type"),
            sha256: text("sha256"),
            file_size: v.get("file_size").and_then(|s| match s {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }),
        })
    }

    /// Downloads a media URL (from [`media_lookup`](Self::media_lookup)) with the bearer
    /// token, refusing bodies over the client's maximum (100 MB unless changed). A 404 means
    /// the URL expired: look the media up again.
    pub async fn download(&self, url: &str, access_token: &str) -> Result<Vec<u8>, SendError> {
        self.download_limited(url, access_token, self.max_download)
            .await
    }

    /// [`download`](Self::download) with an explicit size cap.
    #[tracing::instrument(name = "whatsapp.download", skip_all)]
    pub async fn download_limited(
        &self,
        url: &str,
        access_token: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, SendError> {
        let request = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .timeout(self.transfer_timeout);
        let response = request.send().await.map_err(|e| SendError::transport(&e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = read_limited(response, JSON_MAX_BYTES)
                .await
                .unwrap_or_default();
            return Err(SendError::from_response(status, &body));
        }
        read_limited(response, max_bytes).await
    }

    /// Looks up `media_id`, downloads it (looking it up once more if the URL expired), and
    /// checks the bytes against the lookup's sha256 and `expected_sha256` (the webhook's) when
    /// given. A mismatch is a permanent [`ErrorOrigin::Checksum`] error: keep the message and
    /// mark its media failed.
    pub async fn fetch_media(
        &self,
        media_id: &str,
        access_token: &str,
        expected_sha256: Option<&str>,
    ) -> Result<FetchedMedia, SendError> {
        let mut info = self.media_lookup(media_id, access_token).await?;
        let bytes = match self.download(&info.url, access_token).await {
            Err(e) if e.http_status == Some(404) => {
                info = self.media_lookup(media_id, access_token).await?;
                self.download(&info.url, access_token).await?
            }
            other => other?,
        };
        for digest in [info.sha256.as_deref(), expected_sha256]
            .into_iter()
            .flatten()
            .filter(|d| !d.trim().is_empty())
        {
            if let Err(e) = verify_sha256(&bytes, digest) {
                return Err(SendError::local(
                    ErrorOrigin::Checksum,
                    ErrorClass::PERMANENT,
                    e.to_string(),
                ));
            }
        }
        Ok(FetchedMedia { info, bytes })
    }

    /// The number `phone_number_id` as the Graph API knows it (`GET /{phone_number_id}`): a
    /// check that the access token may use it.
    #[tracing::instrument(name = "whatsapp.phone_number", skip_all, fields(phone_number_id = %phone_number_id))]
    pub async fn phone_number(
        &self,
        phone_number_id: &str,
        access_token: &str,
    ) -> Result<PhoneNumberInfo, SendError> {
        let v = self.get_object(phone_number_id, access_token).await?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(PhoneNumberInfo {
            id: text("id"),
            display_phone_number: text("display_phone_number"),
            verified_name: text("verified_name"),
            quality_rating: text("quality_rating"),
        })
    }

    /// Every message template of the WhatsApp Business Account, following `paging.next`.
    #[tracing::instrument(name = "whatsapp.list_templates", skip_all, fields(waba_id = %waba_id))]
    pub async fn list_templates(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<Value>, SendError> {
        let mut url = format!(
            "{}/{}/message_templates?limit=100",
            self.base_url,
            segment(waba_id)?
        );
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..TEMPLATE_PAGES_MAX {
            seen.insert(url.clone());
            let request = self
                .http
                .get(&url)
                .bearer_auth(access_token)
                .timeout(self.timeout);
            let page = self.call_json(request, ErrorClass::Transient).await?;
            match page.get("data") {
                Some(Value::Array(data)) => out.extend(data.iter().cloned()),
                _ => {
                    return Err(SendError::local(
                        ErrorOrigin::InvalidResponse,
                        ErrorClass::Transient,
                        "a template page has no data array",
                    ))
                }
            }
            match page
                .get("paging")
                .and_then(|p| p.get("next"))
                .and_then(Value::as_str)
            {
                Some(next) if !next.is_empty() && !seen.contains(next) => url = next.to_owned(),
                _ => return Ok(out),
            }
        }
        tracing::warn!(pages = TEMPLATE_PAGES_MAX, "template list truncated");
        Ok(out)
    }

    /// `GET {base}/{id}` with the bearer token: a Graph object (a media id, a phone number id).
    async fn get_object(&self, id: &str, access_token: &str) -> Result<Value, SendError> {
        let url = format!("{}/{}", self.base_url, segment(id)?);
        let request = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .timeout(self.timeout);
        self.call_json(request, ErrorClass::Transient).await
    }

    /// Sends a request and reads a JSON answer; `unreadable` classifies a 2xx whose body is not
    /// JSON.
    async fn call_json(
        &self,
        request: reqwest::RequestBuilder,
        unreadable: ErrorClass,
    ) -> Result<Value, SendError> {
        let response = request.send().await.map_err(|e| SendError::transport(&e))?;
        let status = response.status();
        let body = read_limited(response, JSON_MAX_BYTES).await?;
        if !status.is_success() {
            let e = SendError::from_response(status.as_u16(), &body);
            tracing::warn!(
                status = status.as_u16(),
                code = e.code,
                fbtrace_id = e.fbtrace_id.as_deref(),
                error = %e,
                "graph api error"
            );
            return Err(e);
        }
        serde_json::from_slice(&body).map_err(|e| SendError {
            http_status: Some(status.as_u16()),
            ..SendError::local(
                ErrorOrigin::InvalidResponse,
                unreadable,
                format!("the answer is not JSON: {e}"),
            )
        })
    }
}

/// Reads a body, failing as soon as it exceeds `max` bytes.
async fn read_limited(mut response: reqwest::Response, max: u64) -> Result<Vec<u8>, SendError> {
    let too_large = |n: u64| {
        SendError::local(
            ErrorOrigin::TooLarge,
            ErrorClass::PERMANENT,
            format!("the answer is larger than {max} bytes ({n} bytes at least)"),
        )
    };
    if let Some(len) = response.content_length() {
        if len > max {
            return Err(too_large(len));
        }
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SendError::transport(&e))?
    {
        let n = (buf.len() + chunk.len()) as u64;
        if n > max {
            return Err(too_large(n));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A Graph path segment (number, account or media id): refuses anything that could change
/// the path or query.
fn segment(id: &str) -> Result<&str, SendError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(SendError::invalid(format!(
            "{id:?} is not a valid Graph id"
        )))
    }
}

/// A `multipart/form-data` body. The boundary is derived from the content's sha256, so it
/// cannot occur inside it.
fn multipart(bytes: &[u8], mime: &str, filename: &str) -> (String, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let boundary = format!("switchboard-{}", &hex::encode(Sha256::digest(bytes))[..32]);
    let filename: String = filename
        .chars()
        .map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let filename = if filename.trim().is_empty() {
        "file".to_owned()
    } else {
        filename
    };
    let mut body = Vec::with_capacity(bytes.len() + 512);
    let field = |body: &mut Vec<u8>, name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    field(&mut body, "messaging_product", "whatsapp");
    field(&mut body, "type", mime);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_refuse_path_tricks() {
        assert!(segment("106540352242922").is_ok());
        assert!(segment("../me").is_err());
        assert!(segment("1?x=2").is_err());
        assert!(segment("").is_err());
    }

    #[test]
    fn multipart_shape() {
        let (ct, body) = multipart(b"abc", "image/png", "a\"b.png");
        let boundary = ct.trim_start_matches("multipart/form-data; boundary=");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
        assert!(text.contains("filename=\"a_b.png\"\r\nContent-Type: image/png\r\n\r\nabc\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
