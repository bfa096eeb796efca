//! The simulator's shared state: what it has received (for introspection), the customers' service
//! windows, rate-limit buckets, media, and the webhook sender with its status pipeline.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use crate::clock::SimClock;
use crate::config::{PhoneNumberConfig, SimulatorConfig, StatusTimings};
use crate::error::{GraphError, SimError};
use crate::faults::FaultControl;
use crate::templates::Template;
use crate::webhook::{sign, status_envelope, status_object, Metadata, Pricing, SIGNATURE_HEADER};
use crate::{ids, lock};

/// How long a customer service window lasts after the customer's last message.
pub(crate) const WINDOW_SECS: i64 = 24 * 60 * 60;
/// How long uploaded media ids can be looked up (WhatsApp: 30 days).
const UPLOADED_MEDIA_TTL_SECS: i64 = 30 * 24 * 60 * 60;
/// How long inbound (customer) media ids can be looked up (WhatsApp: 7 days).
const INBOUND_MEDIA_TTL_SECS: i64 = 7 * 24 * 60 * 60;

/// One request to `POST /{phone_number_id}/messages` (mark-read requests aside), whatever its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedSend {
    /// The number in the path.
    pub phone_number_id: String,
    /// The bearer token given (empty when none).
    pub token: String,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
    /// Simulator clock, unix seconds.
    pub received_at: i64,
    /// What the simulator answered.
    pub outcome: SendOutcome,
}

/// The answer to a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// 200 with this wamid (a `failed` status may still follow).
    Accepted {
        /// The message id given back.
        wamid: String,
    },
    /// An error answer.
    Refused {
        /// HTTP status.
        http_status: u16,
        /// Graph error code.
        code: i64,
    },
}

impl RecordedSend {
    /// The wamid, when accepted.
    pub fn wamid(&self) -> Option<&str> {
        match &self.outcome {
            SendOutcome::Accepted { wamid } => Some(wamid),
            SendOutcome::Refused { .. } => None,
        }
    }

    /// The Graph error code, when refused.
    pub fn error_code(&self) -> Option<i64> {
        match &self.outcome {
            SendOutcome::Accepted { .. } => None,
            SendOutcome::Refused { code, .. } => Some(*code),
        }
    }

    /// `to` of the body.
    pub fn to(&self) -> Option<&str> {
        self.body.get("to").and_then(Value::as_str)
    }

    /// `type` of the body (`text` when absent, as WhatsApp assumes).
    pub fn message_type(&self) -> &str {
        self.body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("text")
    }

    /// `text.body` of a text message.
    pub fn text(&self) -> Option<&str> {
        self.body.pointer("/text/body").and_then(Value::as_str)
    }

    /// All of it as one JSON object (`phone_number_id`, `token`, `body`, `received_at`, and `wamid`
    /// or `error_code`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "phone_number_id": self.phone_number_id,
            "token": self.token,
            "body": self.body,
            "received_at": self.received_at,
        });
        match &self.outcome {
            SendOutcome::Accepted { wamid } => v["wamid"] = json!(wamid),
            SendOutcome::Refused { http_status, code } => {
                v["http_status"] = json!(http_status);
                v["error_code"] = json!(code);
            }
        }
        v
    }
}

/// A mark-as-read request (`{"status":"read","message_id":…}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkRead {
    /// The number in the path.
    pub phone_number_id: String,
    /// The customer's message marked read.
    pub message_id: String,
    /// Whether a typing indicator was asked for too.
    pub typing_indicator: bool,
}

/// One webhook POST the simulator made to Switchboard.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveredWebhook {
    /// The JSON posted.
    pub body: Value,
    /// The `X-Hub-Signature-256` sent with it.
    pub signature: String,
    /// What Switchboard answered; `None` when it could not be reached.
    pub http_status: Option<u16>,
    /// 0 for the first attempt, then 1, 2, … for retries.
    pub attempt: u32,
}

impl DeliveredWebhook {
    /// The `statuses[]` it carried, as (wamid, status).
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.body
            .pointer("/entry/0/changes/0/value/statuses")
            .and_then(Value::as_array)
            .map(|statuses| {
                statuses
                    .iter()
                    .map(|s| {
                        let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
                        (field("id").to_owned(), field("status").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Where a media object came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaOrigin {
    /// Uploaded with `POST /{phone_number_id}/media`.
    Uploaded,
    /// Sent by a simulated customer.
    Customer,
}

/// A media object the simulator holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaInfo {
    /// The media id.
    pub id: String,
    /// The business number it belongs to.
    pub phone_number_id: String,
    /// MIME type.
    pub mime_type: String,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub file_size: usize,
    /// The file name given on upload, if any.
    pub filename: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Uploaded or from a customer.
    pub origin: MediaOrigin,
    /// Simulator clock, unix seconds.
    pub created_at: i64,
}

/// Something the simulator did, for live logs and the demo ([`crate::SimulatorHandle::events`]).
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// A send was accepted.
    SendAccepted {
        /// From this number.
        phone_number_id: String,
        /// To this customer.
        to: String,
        /// Its id.
        wamid: String,
        /// The request body.
        body: Value,
    },
    /// A send was refused.
    SendRefused {
        /// From this number.
        phone_number_id: String,
        /// To this customer, when the body said.
        to: Option<String>,
        /// HTTP status.
        http_status: u16,
        /// Graph error code.
        code: i64,
        /// Graph error message.
        message: String,
    },
    /// A customer message was marked read.
    MarkedRead {
        /// Number.
        phone_number_id: String,
        /// The message.
        message_id: String,
    },
    /// Media was uploaded.
    MediaUploaded {
        /// Media id.
        id: String,
        /// Type.
        mime_type: String,
        /// Size in bytes.
        file_size: usize,
    },
    /// A simulated customer's message was posted.
    CustomerMessage {
        /// Customer.
        wa_id: String,
        /// Message id.
        wamid: String,
        /// Message type.
        message_type: String,
        /// Switchboard's answer (`None`: unreachable).
        http_status: Option<u16>,
    },
    /// A status webhook was posted.
    StatusDelivered {
        /// The message it is about.
        wamid: String,
        /// `sent`, `delivered`, `read` or `failed`.
        status: String,
        /// Switchboard's answer (`None`: unreachable).
        http_status: Option<u16>,
    },
}

pub(crate) struct StoredMedia {
    pub(crate) info: MediaInfo,
    pub(crate) bytes: Bytes,
    pub(crate) expires_at: i64,
}

struct MediaUrl {
    media_id: String,
    expires_at: i64,
}

#[derive(Default)]
pub(crate) struct Records {
    pub(crate) sends: Vec<RecordedSend>,
    pub(crate) read_receipts: Vec<MarkRead>,
    pub(crate) webhooks: Vec<DeliveredWebhook>,
}

#[derive(Default)]
struct Inner {
    records: Records,
    media: HashMap<String, StoredMedia>,
    media_order: Vec<String>,
    media_urls: HashMap<String, MediaUrl>,
    last_inbound: HashMap<(String, String), i64>,
    throughput: HashMap<String, VecDeque<Instant>>,
    pair: HashMap<(String, String), (f64, Instant)>,
    conversations: HashMap<(String, String, String), (String, i64)>,
    templates: Vec<Template>,
}

/// What a status webhook sequence is about.
pub(crate) struct StatusPlan {
    pub(crate) number: PhoneNumberConfig,
    pub(crate) wamid: String,
    pub(crate) recipient: String,
    pub(crate) pricing: Pricing,
    pub(crate) failure: Option<GraphError>,
}

pub(crate) struct Shared {
    pub(crate) config: SimulatorConfig,
    pub(crate) base_url: String,
    pub(crate) clock: SimClock,
    pub(crate) faults: FaultControl,
    http: reqwest::Client,
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
    events: broadcast::Sender<SimEvent>,
    tasks: Mutex<JoinSet<()>>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(
        config: SimulatorConfig,
        base_url: String,
        clock: SimClock,
    ) -> Result<Self, SimError> {
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .user_agent("facebookexternalua")
            .build()
            .map_err(|e| SimError::Config(format!("HTTP client: {e}")))?;
        let faults = FaultControl::default();
        faults.update(|f| f.undeliverable.extend(config.undeliverable.iter().cloned()));
        let inner = Inner {
            templates: config.templates.clone(),
            ..Inner::default()
        };
        Ok(Self {
            config,
            base_url,
            clock,
            faults,
            http,
            inner: Mutex::new(inner),
            changed: watch::Sender::new(0),
            events: broadcast::channel(1024).0,
            tasks: Mutex::new(JoinSet::new()),
            shutdown: watch::Sender::new(false),
        })
    }

    fn touch(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn emit(&self, event: SimEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.events.subscribe()
    }

    /// Runs `task` in the simulator's task set (aborted when the simulator stops).
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Stops everything the simulator runs: status deliveries, chatty customers.
    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
        lock(&self.tasks).abort_all();
    }

    /// Resolves once the simulator is stopped.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            // An error means the simulator is gone: stopped too.
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    pub(crate) fn metadata(&self, number: &PhoneNumberConfig) -> Metadata {
        Metadata {
            waba_id: self.config.waba_id.clone(),
            phone_number_id: number.phone_number_id.clone(),
            display_phone_number: number.display_phone_number.clone(),
        }
    }

    // ---- records ---------------------------------------------------------------------------

    pub(crate) fn record_send(&self, send: RecordedSend) {
        lock(&self.inner).records.sends.push(send);
        self.touch();
    }

    pub(crate) fn record_read(&self, read: MarkRead) {
        lock(&self.inner).records.read_receipts.push(read);
        self.touch();
    }

    pub(crate) fn with_records<T>(&self, f: impl FnOnce(&Records) -> T) -> T {
        f(&lock(&self.inner).records)
    }

    pub(crate) fn clear_records(&self) {
        lock(&self.inner).records = Records::default();
        self.touch();
    }

    /// Waits until `check` finds what it looks for in the records.
    pub(crate) async fn wait_until<T>(
        &self,
        what: String,
        timeout: Duration,
        mut check: impl FnMut(&Records) -> Option<T>,
    ) -> Result<T, SimError> {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                changes.borrow_and_update();
                if let Some(found) = self.with_records(&mut check) {
                    return found;
                }
                if changes.changed().await.is_err() {
                    // The sender lives as long as `self`; cannot happen while we hold `self`.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| SimError::Timeout { what, timeout })
    }

    // ---- templates -------------------------------------------------------------------------

    pub(crate) fn templates(&self) -> Vec<Template> {
        lock(&self.inner).templates.clone()
    }

    pub(crate) fn set_templates(&self, templates: Vec<Template>) {
        lock(&self.inner).templates = templates;
    }

    /// Sets the status (and reason) of the template `name`/`language`; returns it as changed.
    pub(crate) fn set_template_status(
        &self,
        name: &str,
        language: &str,
        status: crate::TemplateStatus,
        reason: Option<&str>,
    ) -> Option<Template> {
        let mut inner = lock(&self.inner);
        let t = inner
            .templates
            .iter_mut()
            .find(|t| t.name == name && t.language == language)?;
        t.status = status;
        t.rejected_reason = reason.map(str::to_owned);
        Some(t.clone())
    }

    // ---- windows and pacing ----------------------------------------------------------------

    pub(crate) fn record_inbound(&self, phone_number_id: &str, wa_id: &str, at: i64) {
        lock(&self.inner)
            .last_inbound
            .insert((phone_number_id.to_owned(), wa_id.to_owned()), at);
    }

    /// When the customer service window with `wa_id` closes (unix seconds), if it was ever open.
    pub(crate) fn window_expires_at(&self, phone_number_id: &str, wa_id: &str) -> Option<i64> {
        lock(&self.inner)
            .last_inbound
            .get(&(phone_number_id.to_owned(), wa_id.to_owned()))
            .map(|at| at + WINDOW_SECS)
    }

    /// Takes one message of the number's throughput and of the pair's bucket, or says which
    /// limit is hit (taking nothing).
    pub(crate) fn admit(&self, phone_number_id: &str, wa_id: &str) -> Result<(), GraphError> {
        let now = Instant::now();
        let limit = usize::try_from(self.config.throughput_per_second).unwrap_or(usize::MAX);
        let pair = self.config.pair_rate;
        let mut inner = lock(&self.inner);
        let window = inner
            .throughput
            .entry(phone_number_id.to_owned())
            .or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= limit {
            return Err(GraphError::throughput());
        }
        let burst = f64::from(pair.burst.max(1));
        let key = (phone_number_id.to_owned(), wa_id.to_owned());
        let (tokens, last) = inner.pair.get(&key).copied().unwrap_or((burst, now));
        let refill = if pair.interval.is_zero() {
            burst
        } else {
            now.duration_since(last).as_secs_f64() / pair.interval.as_secs_f64()
        };
        let tokens = (tokens + refill).min(burst);
        if tokens < 1.0 {
            inner.pair.insert(key, (tokens, now));
            return Err(GraphError::pair_rate());
        }
        inner.pair.insert(key, (tokens - 1.0, now));
        inner
            .throughput
            .entry(phone_number_id.to_owned())
            .or_default()
            .push_back(now);
        Ok(())
    }

    /// The conversation id and expiry for (number, customer, category), opened on first use and
    /// renewed every 24 hours, as WhatsApp's conversation objects were.
    fn conversation(&self, phone_number_id: &str, wa_id: &str, category: &str) -> (String, i64) {
        let now = self.clock.now_unix();
        let key = (
            phone_number_id.to_owned(),
            wa_id.to_owned(),
            category.to_owned(),
        );
        let mut inner = lock(&self.inner);
        match inner.conversations.get(&key) {
            Some((id, expires)) if *expires > now => (id.clone(), *expires),
            _ => {
                let fresh = (ids::hex_token(16), now + WINDOW_SECS);
                inner.conversations.insert(key, fresh.clone());
                fresh
            }
        }
    }

    // ---- media -----------------------------------------------------------------------------

    pub(crate) fn store_media(
        &self,
        phone_number_id: &str,
        mime_type: &str,
        filename: Option<String>,
        bytes: Bytes,
        origin: MediaOrigin,
    ) -> MediaInfo {
        use sha2::{Digest as _, Sha256};
        let now = self.clock.now_unix();
        let ttl = match origin {
            MediaOrigin::Uploaded => UPLOADED_MEDIA_TTL_SECS,
            MediaOrigin::Customer => INBOUND_MEDIA_TTL_SECS,
        };
        let info = MediaInfo {
            id: ids::graph_id(),
            phone_number_id: phone_number_id.to_owned(),
            mime_type: mime_type.to_owned(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            file_size: bytes.len(),
            filename,
            bytes: Vec::new(),
            origin,
            created_at: now,
        };
        let mut inner = lock(&self.inner);
        inner.media_order.push(info.id.clone());
        inner.media.insert(
            info.id.clone(),
            StoredMedia {
                info: info.clone(),
                bytes,
                expires_at: now + ttl,
            },
        );
        drop(inner);
        self.touch();
        info
    }

    /// The media object, unless unknown or past its id's lifetime.
    pub(crate) fn media_info(&self, media_id: &str) -> Option<MediaInfo> {
        let now = self.clock.now_unix();
        let inner = lock(&self.inner);
        inner
            .media
            .get(media_id)
            .filter(|m| m.expires_at > now)
            .map(|m| m.info.clone())
    }

    pub(crate) fn delete_media(&self, media_id: &str) -> bool {
        lock(&self.inner).media.remove(media_id).is_some()
    }

    pub(crate) fn all_media(&self) -> Vec<MediaInfo> {
        let inner = lock(&self.inner);
        inner
            .media_order
            .iter()
            .filter_map(|id| inner.media.get(id))
            .map(|m| MediaInfo {
                bytes: m.bytes.to_vec(),
                ..m.info.clone()
            })
            .collect()
    }

    /// A fresh download URL for the media, valid for `media_url_ttl` of simulator time.
    pub(crate) fn issue_media_url(&self, media_id: &str) -> String {
        let ttl = i64::try_from(self.config.media_url_ttl.as_secs()).unwrap_or(i64::MAX);
        let expires_at = self.clock.now_unix().saturating_add(ttl);
        let hash = ids::hex_token(16);
        lock(&self.inner).media_urls.insert(
            hash.clone(),
            MediaUrl {
                media_id: media_id.to_owned(),
                expires_at,
            },
        );
        format!(
            "{}/whatsapp_business/attachments/?mid={media_id}&ext={expires_at}&hash={hash}",
            self.base_url
        )
    }

    /// The bytes behind a download URL, unless unknown or expired.
    pub(crate) fn resolve_media_url(&self, hash: &str, mid: &str) -> Option<(MediaInfo, Bytes)> {
        let now = self.clock.now_unix();
        let inner = lock(&self.inner);
        let url = inner
            .media_urls
            .get(hash)
            .filter(|u| u.media_id == mid && u.expires_at > now)?;
        let media = inner.media.get(&url.media_id)?;
        Some((media.info.clone(), media.bytes.clone()))
    }

    // ---- webhooks --------------------------------------------------------------------------

    /// POSTs a signed webhook (twice under the duplicate fault), retrying a non-200 answer up to
    /// `retries` times. Gives Switchboard's first answer to the first copy.
    pub(crate) async fn post_webhook(&self, body: &Value, retries: u32) -> Result<u16, SimError> {
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        let signature = sign(&self.config.app_secret, &bytes);
        let copies = if self.faults.get().duplicate_webhooks {
            2
        } else {
            1
        };
        let mut first = None;
        for _ in 0..copies {
            let result = self
                .post_with_retries(body, &bytes, &signature, retries)
                .await;
            if first.is_none() {
                first = Some(result);
            }
        }
        first.unwrap_or(Ok(0))
    }

    async fn post_with_retries(
        &self,
        body: &Value,
        bytes: &Bytes,
        signature: &str,
        retries: u32,
    ) -> Result<u16, SimError> {
        let mut backoff = self.config.webhook_retry_backoff;
        let mut attempt = 0;
        loop {
            let result = self
                .http
                .post(&self.config.webhook_url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .body(bytes.clone())
                .send()
                .await;
            let result = match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    // Read the answer so the connection can be reused.
                    let _ = response.bytes().await;
                    Ok(status)
                }
                Err(source) => Err(source),
            };
            lock(&self.inner).records.webhooks.push(DeliveredWebhook {
                body: body.clone(),
                signature: signature.to_owned(),
                http_status: result.as_ref().ok().copied(),
                attempt,
            });
            self.touch();
            match result {
                Ok(200) => return Ok(200),
                Ok(status) if attempt >= retries => return Ok(status),
                Err(source) if attempt >= retries => {
                    return Err(SimError::Webhook {
                        url: self.config.webhook_url.clone(),
                        source,
                    })
                }
                _ => {
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }

    /// Delivers the status webhooks of an accepted send: `sent`, `delivered`, `read` with the
    /// configured delays (all at once when `immediate`), or one `failed`.
    pub(crate) async fn deliver_statuses(&self, plan: StatusPlan, immediate: bool) {
        let timings = if immediate {
            StatusTimings::immediate()
        } else {
            self.config.statuses.clone()
        };
        let mut steps: Vec<(Duration, &'static str)> = Vec::new();
        if plan.failure.is_some() {
            steps.push((timings.sent, "failed"));
        } else {
            steps.push((timings.sent, "sent"));
            if let Some(delivered) = timings.delivered {
                steps.push((delivered, "delivered"));
                if let Some(read) = timings.read {
                    steps.push((read, "read"));
                }
            }
        }
        // Each status is dated when it happens; out of order, they are posted in reverse but keep
        // their true timestamps.
        let start_ms = self.clock.now_unix_ms();
        let mut elapsed = Duration::ZERO;
        let mut dated: Vec<(Duration, &'static str, i64)> = Vec::new();
        for (delay, status) in &steps {
            elapsed += *delay;
            let at_ms = start_ms + i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
            dated.push((*delay, status, at_ms.div_euclid(1000)));
        }
        if self.faults.get().out_of_order_statuses {
            let delays: Vec<Duration> = dated.iter().map(|d| d.0).collect();
            dated.reverse();
            for (slot, delay) in dated.iter_mut().zip(delays) {
                slot.0 = delay;
            }
        }
        let metadata = self.metadata(&plan.number);
        let (conversation_id, expires) = self.conversation(
            &plan.number.phone_number_id,
            &plan.recipient,
            match &plan.pricing {
                Pricing::Service => "service",
                Pricing::Template(category) => category,
            },
        );
        for (delay, status, timestamp) in dated {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let errors = plan
                .failure
                .as_ref()
                .map(|e| Value::Array(vec![e.to_status_error()]));
            let object = status_object(
                &plan.wamid,
                status,
                timestamp,
                &plan.recipient,
                Some((&conversation_id, expires, &plan.pricing)),
                errors,
            );
            let envelope = status_envelope(&metadata, vec![object]);
            let answered = self
                .post_webhook(&envelope, self.config.webhook_retries)
                .await;
            if let Err(error) = &answered {
                tracing::warn!(wamid = %plan.wamid, status, %error, "status webhook not delivered");
            }
            self.emit(SimEvent::StatusDelivered {
                wamid: plan.wamid.clone(),
                status: status.to_owned(),
                http_status: answered.ok(),
            });
        }
    }
}
