//! The outbox service: sends agents' messages to `POST {graph_api_base}/{phone_number_id}/messages`
//! from the durable `outbox` table.
//!
//! - A message is in the outbox from the commit that stored it; it leaves only when WhatsApp
//!   accepted it (its `wamid` stored) or refused it for good (the message marked failed with the
//!   reason). Transient errors (5xx, timeouts, 130429, 131056, …) retry with exponential backoff.
//! - Messages to one customer go in order: a recipient whose message waits for a retry holds back
//!   the ones after it.
//! - Throughput: a token bucket per number (`whatsapp.rate_per_second`, 80 by default) and one per
//!   recipient (bursts of `whatsapp.pair_burst`, then one every `whatsapp.pair_interval_ms`).
//! - A media message's request carries an `upload` (a blob of the media store): the blob is
//!   uploaded first and the message sent by the returned media id (for a template, its header's
//!   media parameter); a failed upload is retried or fails the message like a failed send.
//! - On shutdown it stops taking new rows and finishes the sends in flight, so in normal operation
//!   nothing is lost or sent twice across a restart.

use super::media::Upload;
use crate::runtime::clock::Clock;
use crate::runtime::core::Attach;
use crate::runtime::core::Core;
use crate::runtime::locks::KeyedLocks;
use crate::runtime::locks::LockKey;
use crate::services::whatsapp::Channels;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_channels::send::{ErrorClass, MediaSource, OutboundMessage, SendError};
use switchboard_domain::{Command, InteractionId, Timestamp};
use switchboard_store::Store;
use switchboard_store::{MessageStatusUpdate, OutboxRecord, OutboxUpdate};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// The outbox service: sends queued messages in order, within WhatsApp's rates.
#[derive(Clone)]
pub struct Outbox {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub locks: Arc<KeyedLocks>,
    pub channels: Arc<Channels>,
    pub graph: switchboard_channels::GraphClient,
    pub blobs: super::media::Blobs,
    pub whatsapp: crate::runtime::config::WhatsappConfig,
    pub metrics: Arc<crate::runtime::metrics::Metrics>,
    /// Woken when a message was queued.
    pub outbox_wake: Arc<Notify>,
    /// Counts send attempts whose outcome is stored.
    pub outbox_attempts: Arc<watch::Sender<u64>>,
    pub shutdown: watch::Receiver<bool>,
}

/// Gives up retrying a message after this long.
const GIVE_UP_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;
/// Recipients served at once.
const PARALLEL_RECIPIENTS: usize = 32;

/// A new outbox row for a stored outbound message.
pub fn row(
    message_id: &str,
    channel_id: &str,
    recipient: &str,
    request: &OutboundMessage,
    now: Timestamp,
) -> OutboxRecord {
    OutboxRecord {
        message_id: message_id.to_owned(),
        channel_id: channel_id.to_owned(),
        recipient: recipient.to_owned(),
        request: serde_json::to_value(request).unwrap_or(Value::Null),
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
    }
}

/// [`row`] for a media message whose file is in the blob store: the outbox uploads it first.
pub fn media_row(
    message_id: &str,
    channel_id: &str,
    recipient: &str,
    request: &OutboundMessage,
    upload: &Upload,
    now: Timestamp,
) -> OutboxRecord {
    let mut r = row(message_id, channel_id, recipient, request, now);
    if let Value::Object(fields) = &mut r.request {
        fields.insert(
            "upload".into(),
            serde_json::to_value(upload).unwrap_or(Value::Null),
        );
    }
    r
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, capacity: f64, per_second: f64, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_second))
        }
    }
}

/// Wall-clock rate limits per number and per recipient.
struct Limiter {
    per_number: f64,
    pair_burst: f64,
    pair_per_second: f64,
    numbers: HashMap<String, Bucket>,
    recipients: HashMap<(String, String), Bucket>,
}

impl Limiter {
    fn take(&mut self, channel: &str, recipient: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let key = (channel.to_owned(), recipient.to_owned());
        let pair = self.recipients.entry(key).or_insert(Bucket {
            tokens: self.pair_burst,
            last: now,
        });
        // Check the pair first without spending the number's token when it refuses.
        let mut probe = Bucket {
            tokens: pair.tokens,
            last: pair.last,
        };
        probe.take(self.pair_burst, self.pair_per_second, now)?;
        let number = self.numbers.entry(channel.to_owned()).or_insert(Bucket {
            tokens: self.per_number,
            last: now,
        });
        number.take(self.per_number, self.per_number, now)?;
        *pair = probe;
        Ok(())
    }
}

/// Runs until shutdown.
pub async fn run(state: Outbox) {
    let cfg = &state.whatsapp;
    let limiter = Arc::new(Mutex::new(Limiter {
        per_number: f64::from(cfg.rate_per_second.max(1)),
        pair_burst: f64::from(cfg.pair_burst.max(1)),
        pair_per_second: 1000.0 / f64::from(cfg.pair_interval_ms.max(1)),
        numbers: HashMap::new(),
        recipients: HashMap::new(),
    }));
    let mut shutdown = state.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = state.clock.now();
        state
            .metrics
            .outbox_polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let due = match state.store.due_outbox(now, 500).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot read due sends");
                Vec::new()
            }
        };
        let mut wait_hint: Option<Duration> = None;
        if !due.is_empty() {
            // Group by recipient, keeping creation order within each.
            let mut order: Vec<(String, String)> = Vec::new();
            let mut groups: HashMap<(String, String), Vec<OutboxRecord>> = HashMap::new();
            for r in due {
                let key = (r.channel_id.clone(), r.recipient.clone());
                if !groups.contains_key(&key) {
                    order.push(key.clone());
                }
                groups.entry(key).or_default().push(r);
            }
            let mut set = JoinSet::new();
            for key in order {
                let Some(rows) = groups.remove(&key) else {
                    continue;
                };
                while set.len() >= PARALLEL_RECIPIENTS {
                    if let Some(Ok(Some(w))) = set.join_next().await {
                        wait_hint = Some(wait_hint.map_or(w, |h: Duration| h.min(w)));
                    }
                }
                set.spawn(send_group(state.clone(), limiter.clone(), rows));
            }
            while let Some(r) = set.join_next().await {
                if let Ok(Some(w)) = r {
                    wait_hint = Some(wait_hint.map_or(w, |h: Duration| h.min(w)));
                }
            }
            if wait_hint.is_none() {
                continue;
            }
        }
        // Nothing sendable now: sleep until the next due row, a new row, a rate-limit token or
        // shutdown.
        let next = state.store.next_outbox_at().await.ok().flatten();
        let clock_wait = match next {
            Some(t) if t > state.clock.now() => Some(state.clock.sleep_until(t)),
            Some(_) if wait_hint.is_none() => continue,
            _ => None,
        };
        let real_wait = wait_hint
            .unwrap_or(Duration::from_secs(30))
            .max(Duration::from_millis(5));
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = state.outbox_wake.notified() => {}
            _ = async { match clock_wait { Some(f) => f.await, None => std::future::pending().await } } => {}
            _ = tokio::time::sleep(real_wait) => {}
        }
    }
    tracing::info!("outbox stopped");
}

/// Sends one recipient's due rows in order. Returns how long to wait when rate-limited.
async fn send_group(
    state: Outbox,
    limiter: Arc<Mutex<Limiter>>,
    rows: Vec<OutboxRecord>,
) -> Option<Duration> {
    for row in rows {
        let Some(channel) = state.channels.get(&row.channel_id) else {
            fail(&state, &row, json!({"code": "channel_removed", "title": "The WhatsApp number of this conversation is no longer connected"})).await;
            continue;
        };
        let allowed = limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&row.channel_id, &row.recipient);
        if let Err(wait) = allowed {
            return Some(wait);
        }
        let request: OutboundMessage = match serde_json::from_value(row.request.clone()) {
            Ok(r) => r,
            Err(e) => {
                fail(
                    &state,
                    &row,
                    json!({"code": "invalid_request", "title": e.to_string()}),
                )
                .await;
                continue;
            }
        };
        let result = async {
            // Media stored here goes up first; the message then names WhatsApp's media id.
            let request = match upload_of(&row) {
                Some(upload) => with_uploaded(&state, &channel, request, &upload).await?,
                None => request,
            };
            state
                .graph
                .send(
                    &channel.phone_number_id,
                    &channel.access_token,
                    &request,
                    &row.recipient,
                )
                .await
        }
        .await;
        let retried = match result {
            Ok(ok) => {
                accepted(&state, &row, &ok.wamid).await;
                false
            }
            Err(e) if e.class.is_retryable() => {
                retry(&state, &row, &e).await;
                true
            }
            Err(e) => {
                fail(&state, &row, error_json(&e)).await;
                false
            }
        };
        state.outbox_attempts.send_modify(|n| *n += 1);
        if retried {
            // Later messages to this customer wait for this one.
            return None;
        }
    }
    None
}

/// The blob to upload before sending (`upload` of the stored request), if any.
fn upload_of(row: &OutboxRecord) -> Option<Upload> {
    row.request
        .get("upload")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
}

/// Uploads the blob of a media message and returns the message to send by the new media id.
/// A retried row uploads again (WhatsApp keeps uploads for 30 days, so nothing goes stale).
async fn with_uploaded(
    state: &Outbox,
    channel: &switchboard_store::ChannelRecord,
    request: OutboundMessage,
    upload: &Upload,
) -> Result<OutboundMessage, SendError> {
    let bytes = state.blobs.read(&upload.blob).await.map_err(|e| {
        tracing::error!(error = %e, blob = %upload.blob, "outbox: the file of a media message is missing");
        SendError::invalid("the file of this message is no longer stored")
    })?;
    let id = state
        .graph
        .upload_media(
            &channel.phone_number_id,
            &channel.access_token,
            &bytes,
            &upload.mime_type,
            upload.filename.as_deref().unwrap_or("file"),
        )
        .await?;
    Ok(match request {
        OutboundMessage::Media {
            kind,
            caption,
            filename,
            ..
        } => OutboundMessage::Media {
            kind,
            source: MediaSource::Id(id),
            caption,
            filename,
        },
        // A template's header file: its media parameter names the upload.
        OutboundMessage::Template {
            name,
            language,
            components,
        } => OutboundMessage::Template {
            name,
            language,
            components: crate::services::templates::with_header_media_id(components, &id),
        },
        other => other,
    })
}

/// The words of a stored send error (`error_json`'s `message`, else its `title`).
pub fn error_words(error: &Value) -> String {
    error["message"]
        .as_str()
        .or_else(|| error["title"].as_str())
        .unwrap_or("the send failed")
        .to_owned()
}

fn error_json(e: &SendError) -> Value {
    let (needs_template, undeliverable, auth) = match e.class {
        ErrorClass::Permanent {
            needs_template,
            undeliverable,
            auth,
        } => (needs_template, undeliverable, auth),
        _ => (false, false, false),
    };
    json!({
        "code": e.code,
        "title": e.title.clone().unwrap_or_else(|| e.message.clone()),
        "message": e.describe(),
        "details": e.details,
        "http_status": e.http_status,
        "needs_template": needs_template,
        "undeliverable": undeliverable,
        "auth": auth,
    })
}

async fn interaction_of(state: &Outbox, message_id: &str) -> Option<InteractionId> {
    state
        .store
        .message(message_id)
        .await
        .ok()
        .flatten()
        .and_then(|m| m.interaction_id)
}

/// WhatsApp accepted the message: store its wamid, with any statuses that came before.
async fn accepted(state: &Outbox, row: &OutboxRecord, wamid: &str) {
    let key = LockKey::Statuses(wamid.to_owned());
    let work = async {
        let now = state.clock.now();
        let early = state
            .store
            .pending_statuses_for(wamid)
            .await
            .unwrap_or_default();
        let mut status = "accepted".to_owned();
        let mut error = None;
        for p in &early {
            if switchboard_channels::status_advances(&status, &p.status) {
                status = p.status.clone();
                if status == "failed" {
                    error = p.payload.get("errors").and_then(|e| e.get(0)).cloned();
                }
            }
        }
        let interaction = interaction_of(state, &row.message_id).await;
        let failed = status == "failed";
        let attach = Attach {
            message_updates: vec![(
                MessageStatusUpdate {
                    id: row.message_id.clone(),
                    status,
                    error,
                    wa_message_id: Some(wamid.to_owned()),
                    payload: None,
                    updated_at: now,
                },
                interaction.clone(),
            )],
            outbox_updates: vec![OutboxUpdate {
                message_id: row.message_id.clone(),
                state: "done".into(),
                attempts: row.attempts + 1,
                next_attempt_at: row.next_attempt_at,
                last_error: None,
                updated_at: now,
            }],
            applied_statuses: if early.is_empty() {
                Vec::new()
            } else {
                vec![wamid.to_owned()]
            },
            ..Attach::default()
        };
        let cmd = interaction.map(|i| Command::OutboundResult {
            interaction: i,
            failed,
        });
        store_outcome(state, "an accepted send", &row.message_id, cmd, attach).await;
    };
    state.locks.with(key, work).await;
    state
        .metrics
        .sends_ok
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A transient error: try again later, or give up after a day.
async fn retry(state: &Outbox, row: &OutboxRecord, e: &SendError) {
    let now = state.clock.now();
    state
        .metrics
        .sends_retried
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if now.millis_since(row.created_at) > GIVE_UP_MS {
        let mut err = error_json(e);
        err["title"] = json!("WhatsApp did not accept the message within 24 hours");
        fail(state, row, err).await;
        return;
    }
    let attempts = row.attempts + 1;
    let mut backoff = 1000i64
        .saturating_mul(1i64 << attempts.clamp(0, 16))
        .min(MAX_BACKOFF_MS);
    if matches!(e.class, ErrorClass::PairRate) {
        backoff = backoff.max(6000);
    }
    tracing::warn!(message = %row.message_id, attempts, backoff_ms = backoff, error = %e.describe(), "outbox: send failed, will retry");
    state
        .channels
        .send_failed(&row.channel_id, now, e.describe());
    let attach = Attach {
        outbox_updates: vec![OutboxUpdate {
            message_id: row.message_id.clone(),
            state: "pending".into(),
            attempts,
            next_attempt_at: Timestamp(now.0 + backoff),
            last_error: Some(error_json(e)),
            updated_at: now,
        }],
        ..Attach::default()
    };
    store_outcome(state, "a retry", &row.message_id, None, attach).await;
}

/// A permanent error: the message failed, with the reason shown to the agent.
async fn fail(state: &Outbox, row: &OutboxRecord, error: Value) {
    let now = state.clock.now();
    state
        .channels
        .send_failed(&row.channel_id, now, error_words(&error));
    state
        .metrics
        .sends_failed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let interaction = interaction_of(state, &row.message_id).await;
    let attach = Attach {
        message_updates: vec![(
            MessageStatusUpdate {
                id: row.message_id.clone(),
                status: "failed".into(),
                error: Some(error.clone()),
                wa_message_id: None,
                payload: None,
                updated_at: now,
            },
            interaction.clone(),
        )],
        outbox_updates: vec![OutboxUpdate {
            message_id: row.message_id.clone(),
            state: "failed".into(),
            attempts: row.attempts + 1,
            next_attempt_at: row.next_attempt_at,
            last_error: Some(error),
            updated_at: now,
        }],
        ..Attach::default()
    };
    let cmd = interaction.map(|i| Command::OutboundResult {
        interaction: i,
        failed: true,
    });
    store_outcome(state, "a failed send", &row.message_id, cmd, attach).await;
}

/// Stores what became of a send. WhatsApp has already answered, so a row left due would be sent
/// again (a second copy to the customer, or a retry without its backoff): while the store
/// refuses (a full disk, a lost database), the same outcome is tried again, waiting 0.1 s, 0.2 s
/// … up to 5 s between tries. Only shutdown ends the wait; the row is then due at the next start,
/// the one case where a message can reach the customer twice.
///
/// When the store answers but keeps refusing this one outcome ([`BAD_OUTCOME_TRIES`] tries: bad
/// data, not an outage), only the outbox row's new state is stored, so the message is neither
/// sent again nor holds up the outbox, and the error is logged.
async fn store_outcome(
    state: &Outbox,
    what: &str,
    message_id: &str,
    cmd: Option<Command>,
    attach: Attach,
) {
    let mut shutdown = state.shutdown.clone();
    let mut wait = Duration::from_millis(100);
    let mut tries = 0u32;
    loop {
        let result = state
            .core
            .call_many(vec![(cmd.clone(), attach.clone())])
            .await
            .into_iter()
            .next();
        let Some(Err(e)) = result else {
            return;
        };
        tries += 1;
        if *shutdown.borrow() {
            tracing::error!(error = %e, message = %message_id, "outbox: cannot store {what} before shutdown; the message is sent again at the next start");
            return;
        }
        if tries >= BAD_OUTCOME_TRIES && state.store.ping().await.is_ok() {
            let row_only = Attach {
                outbox_updates: attach.outbox_updates.clone(),
                ..Attach::default()
            };
            if state.core.store(row_only).await.is_ok() {
                tracing::error!(error = %e, message = %message_id, tries, "outbox: the store refuses {what} although it answers; only the outbox row was updated, the message keeps its last stored status");
                return;
            }
        }
        tracing::error!(error = %e, message = %message_id, retry_in_ms = wait.as_millis() as u64, "outbox: cannot store {what}; trying again");
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => {}
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Failed tries of one outcome, with the store answering, after which the outcome is taken for
/// bad data rather than an outage (see [`store_outcome`]).
const BAD_OUTCOME_TRIES: u32 = 5;
