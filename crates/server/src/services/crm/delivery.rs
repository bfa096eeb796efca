//! The delivery service of CRM event webhooks: `POST crm.webhook_url` of each pending row of
//! `crm_events`, oldest first and one at a time, so the receiver sees events in order.
//!
//! - The body is `{"id", "type", "created_at", "data"}`, built once at the first attempt
//!   (`interaction.ended` gets its transcript then) and stored, so every retry sends identical
//!   bytes. Headers: `X-Switchboard-Signature-256: sha256=<hex HMAC-SHA256(webhook_secret, body)>`,
//!   `X-Switchboard-Event: <type>`, `X-Switchboard-Delivery: <id>` (the receiver's idempotency key).
//! - 2xx: delivered. 5xx, 408, 429, timeouts and connection errors: retried with exponential
//!   backoff (capped, jittered; a `Retry-After` is honoured up to the cap) while later events
//!   wait. Any other answer (4xx, a redirect): dead, with the reason. After
//!   `crm.webhook_max_attempts` attempts: dead. An operator puts a dead event back with
//!   `POST /api/v1/crm/events/{id}/retry`.
//! - Pending events are rows, so they survive a restart; an attempt in flight at shutdown is
//!   finished first (it is bounded by `crm.webhook_timeout_ms`). A receiver may still see a
//!   delivery twice (an answer lost on the way back): it deduplicates by `X-Switchboard-Delivery`.
//!
//! Woken by [`super::Crm::wake`] and by the next retry time (through the clock, so tests pass
//! backoff delays with the manual clock); stopped by the shutdown signal.

use super::Crm;
use crate::runtime::views;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use switchboard_domain::{AgentId, InteractionId, Timestamp};
use switchboard_store::{CrmEventRecord, CrmEventUpdate};

/// The CRM delivery service: sends the queued events to `crm.webhook_url`, oldest first.
#[derive(Clone)]
pub struct Delivery {
    pub core: crate::runtime::core::Core,
    pub store: switchboard_store::Store,
    pub clock: std::sync::Arc<dyn crate::runtime::clock::Clock>,
    pub metrics: std::sync::Arc<crate::runtime::metrics::Metrics>,
    pub crm: std::sync::Arc<Crm>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature-256";
pub const EVENT_HEADER: &str = "X-Switchboard-Event";
pub const DELIVERY_HEADER: &str = "X-Switchboard-Delivery";

/// The first retry waits about this long; each further one twice as long.
const FIRST_BACKOFF_MS: i64 = 1000;
/// The longest wait between two attempts.
pub const MAX_BACKOFF_MS: i64 = 30 * 60 * 1000;
/// Messages of one transcript at most (the latest are kept).
const MAX_TRANSCRIPT: usize = 5000;
/// Bytes of a receiver's answer kept in `last_error`.
const ERROR_SNIPPET: usize = 300;

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Delivered,
    /// Worth another try (not before `retry_after_ms`, if the receiver said so).
    Retry {
        reason: String,
        retry_after_ms: Option<i64>,
    },
    Dead(String),
}

/// Runs until shutdown. Does nothing when no webhook is configured.
pub async fn run(state: Delivery) {
    if !state.crm.webhooks_enabled() {
        return;
    }
    let crm = state.crm.clone();
    let mut shutdown = state.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut until: Option<Timestamp> = None;
        let mut pause = Duration::from_secs(60);
        match state.store.next_crm_event().await {
            Ok(Some(ev)) if ev.next_attempt_at <= state.clock.now() => {
                if attempt(&state, &crm, ev).await {
                    continue;
                }
                // Could not store the outcome or the body: try again shortly.
                pause = Duration::from_secs(1);
            }
            Ok(Some(ev)) => until = Some(ev.next_attempt_at),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "crm: cannot read the event queue");
                pause = Duration::from_secs(1);
            }
        }
        let due = until.map(|t| state.clock.sleep_until(t));
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = crm.wake.notified() => {}
            _ = async { match due { Some(f) => f.await, None => std::future::pending().await } } => {}
            // A safety net only: every change that makes an event due wakes the service.
            _ = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("crm event delivery stopped");
}

/// One attempt of the oldest pending event; `false` when its outcome could not be stored.
async fn attempt(state: &Delivery, crm: &Crm, ev: CrmEventRecord) -> bool {
    let (Some(url), Some(secret)) = (&crm.config.webhook_url, &crm.config.webhook_secret) else {
        return false;
    };
    let body = match &ev.body {
        Some(b) => b.clone(),
        None => {
            let built = match build_body(state, &ev).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, event = %ev.id, "crm: cannot build an event body");
                    return false;
                }
            };
            match state.store.set_crm_event_body(&ev.id, &built).await {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(error = %e, event = %ev.id, "crm: cannot store an event body");
                    return false;
                }
            }
        }
    };
    let signature = switchboard_channels::signature::sign(secret.as_bytes(), body.as_bytes());
    let timeout = Duration::from_millis(u64::from(crm.config.webhook_timeout_ms.max(1)));
    let request = crm
        .http()
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_HEADER, ev.kind.as_str())
        .header(DELIVERY_HEADER, ev.id.as_str())
        .body(body);
    let outcome = match tokio::time::timeout(timeout, send(request)).await {
        Ok(o) => o,
        Err(_) => Outcome::Retry {
            reason: format!("no answer in time ({} ms)", timeout.as_millis()),
            retry_after_ms: None,
        },
    };
    let now = state.clock.now();
    let attempts = ev.attempts + 1;
    let max = i64::from(crm.config.webhook_max_attempts.max(1));
    let mut update = CrmEventUpdate {
        id: ev.id.clone(),
        state: "pending".into(),
        attempts,
        next_attempt_at: ev.next_attempt_at,
        last_error: None,
        delivered_at: None,
        updated_at: now,
    };
    let m = &state.metrics;
    match outcome {
        Outcome::Delivered => {
            update.state = "delivered".into();
            update.delivered_at = Some(now);
            m.crm_delivered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Outcome::Retry { reason, .. } if attempts >= max => {
            tracing::warn!(event = %ev.id, attempts, reason = %reason, "crm: event is dead: no more attempts");
            update.state = "dead".into();
            update.last_error = Some(format!("gave up after {attempts} attempts: {reason}"));
            m.crm_dead
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Outcome::Retry {
            reason,
            retry_after_ms,
        } => {
            let wait = backoff_ms(attempts, rand::random::<f64>())
                .max(retry_after_ms.unwrap_or(0).min(MAX_BACKOFF_MS));
            tracing::info!(event = %ev.id, attempts, retry_in_ms = wait, reason = %reason, "crm: delivery failed; will retry");
            update.next_attempt_at = Timestamp(now.0.saturating_add(wait));
            update.last_error = Some(reason);
            m.crm_retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Outcome::Dead(reason) => {
            tracing::warn!(event = %ev.id, attempts, reason = %reason, "crm: event is dead: refused by the receiver");
            update.state = "dead".into();
            update.last_error = Some(reason);
            m.crm_dead
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    m.crm_attempts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stored = match state.store.update_crm_event(&update).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, event = %ev.id, "crm: cannot store a delivery outcome");
            false
        }
    };
    crm.attempts.send_modify(|n| *n += 1);
    stored
}

/// Sends and classifies the answer.
async fn send(request: reqwest::RequestBuilder) -> Outcome {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let reason = if e.is_timeout() {
                "no answer in time".to_owned()
            } else {
                format!("cannot reach the receiver: {e}")
            };
            return Outcome::Retry {
                reason,
                retry_after_ms: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let retry_after_ms = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.max(0).saturating_mul(1000));
    let snippet = match super::lookup::read_limited(response, 64 * 1024).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            let mut s: String = text.chars().take(ERROR_SNIPPET).collect();
            if s.len() < text.len() {
                s.push('…');
            }
            s
        }
        Err(_) => String::new(),
    };
    let mut reason = format!("HTTP {}", status.as_u16());
    if !snippet.is_empty() {
        reason.push_str(": ");
        reason.push_str(&snippet);
    }
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        Outcome::Retry {
            reason,
            retry_after_ms,
        }
    } else {
        Outcome::Dead(reason)
    }
}

/// The wait after the `attempts`-th failed attempt: doubling from 1 s, capped, with the upper
/// half jittered by `jitter` (0..1) so that many events do not retry in step.
pub fn backoff_ms(attempts: i64, jitter: f64) -> i64 {
    let exp = (attempts - 1).clamp(0, 30);
    let full = FIRST_BACKOFF_MS
        .saturating_mul(1i64 << exp)
        .min(MAX_BACKOFF_MS);
    let half = full / 2;
    half + (half as f64 * jitter.clamp(0.0, 1.0)) as i64
}

/// The body as sent: `{"id", "type", "created_at", "data"}`. An `interaction.ended` event's data
/// gets the interaction's transcript.
async fn build_body(state: &Delivery, ev: &CrmEventRecord) -> anyhow::Result<String> {
    let mut data = ev.payload.clone();
    if ev.kind == super::INTERACTION_ENDED {
        let id = data["interaction"]["id"].as_str().map(str::to_owned);
        if let (Some(id), Value::Object(fields)) = (id, &mut data) {
            let customer = ev.payload["interaction"]["customer"]["name"].clone();
            let (transcript, truncated) = transcript(state, &InteractionId(id), customer).await?;
            fields.insert("transcript".into(), Value::Array(transcript));
            if truncated {
                fields.insert("transcript_truncated".into(), Value::Bool(true));
            }
        }
    }
    let body = json!({
        "id": ev.id,
        "type": ev.kind,
        "created_at": views::ts(ev.created_at),
        "data": data,
    });
    Ok(serde_json::to_string(&body)?)
}

/// The interaction's messages, oldest first (at most [`MAX_TRANSCRIPT`], the latest), and whether
/// older ones were left out.
async fn transcript(
    state: &Delivery,
    id: &InteractionId,
    customer_name: Value,
) -> anyhow::Result<(Vec<Value>, bool)> {
    const PAGE: i64 = 500;
    let mut pages = Vec::new();
    let mut count = 0;
    let mut before: Option<String> = None;
    let mut truncated = false;
    loop {
        let page = state
            .store
            .messages_of_interaction(id, before.as_deref(), PAGE)
            .await?;
        let full = page.len() as i64 == PAGE;
        before = page.first().map(|m| m.id.clone());
        count += page.len();
        pages.push(page);
        if !full {
            break;
        }
        if count >= MAX_TRANSCRIPT {
            truncated = true;
            break;
        }
    }
    // Agents' names, in one read of the engine (a deleted agent keeps only the id).
    let mut ids: Vec<AgentId> = pages
        .iter()
        .flatten()
        .filter_map(|m| m.author_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    let names: HashMap<AgentId, String> = state
        .core
        .read(move |s| {
            ids.into_iter()
                .filter_map(|id| {
                    let name = s.engine.agent(&id).map(|a| a.display_name.clone());
                    name.map(|n| (id, n))
                })
                .collect()
        })
        .await
        .unwrap_or_default();
    let mut out = Vec::with_capacity(count);
    for page in pages.into_iter().rev() {
        for m in page {
            let author = match (m.direction.as_str(), &m.author_id) {
                ("in", _) => json!({"type": "customer", "name": customer_name}),
                (_, Some(agent)) => {
                    json!({"type": "agent", "id": agent, "name": names.get(agent)})
                }
                ("system", None) => json!({"type": "system"}),
                _ => json!({"type": "agent"}),
            };
            out.push(json!({
                "id": m.id,
                "direction": m.direction,
                "kind": m.kind,
                "text": m.body,
                "author": author,
                "created_at": views::ts(m.created_at),
                "status": m.status,
            }));
        }
    }
    Ok((out, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_its_upper_half() {
        assert_eq!(backoff_ms(1, 0.0), 500);
        assert_eq!(backoff_ms(1, 1.0), 1000);
        assert_eq!(backoff_ms(2, 1.0), 2000);
        assert_eq!(backoff_ms(4, 0.5), 6000);
        assert_eq!(backoff_ms(40, 1.0), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(40, 0.0), MAX_BACKOFF_MS / 2);
        for a in 1..30 {
            assert!(backoff_ms(a, 0.3) <= backoff_ms(a + 1, 0.3));
        }
    }
}
