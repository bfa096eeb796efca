//! `POST /webhooks/whatsapp`: signature first (nothing is stored without a valid one), then every
//! entry and change: customer messages are ingested (once per WhatsApp id), statuses applied
//! monotonically (or kept until their message is known), and whatever Switchboard does not handle
//! (other fields, rejected items, errors) stored raw. A `message_template_status_update` of an
//! account whose number signed the webhook also moves that template's status; a reply
//! to a stored message (a template's quick-reply tap) names it in `payload.reply_to`. The answer
//! is 200 only once all of it is durable (R-7.1 … ). Customer media is stored with
//! `payload.media.state = "pending"` and the media service woken to download it.

use super::ChannelRecord;
use crate::runtime::clock::Clock;
use crate::runtime::core::Attach;
use crate::runtime::core::Core;
use crate::runtime::error::ApiError;
use crate::runtime::ids::{conversation_id, new_id};
use crate::runtime::locks::KeyedLocks;
use crate::runtime::locks::LockKey;
use crate::services::ingest::{ingest_many, InboundMessage, Ingest};
use crate::services::whatsapp::Channels;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_channels::signature::SIGNATURE_HEADER;
use switchboard_channels::webhook::{
    Change, Content, DeliveryStatus, InboundMessage as WaMessage, StatusUpdate,
};
use switchboard_channels::{parse_webhook, status_advances, verify_signature, ParseError};
use switchboard_domain::{Command, InteractionId};
use switchboard_store::Store;
use switchboard_store::{MessageStatusUpdate, PendingStatus, RawWebhook};
use tokio::sync::Notify;

/// The webhook service: verifies, parses and stores what WhatsApp posts.
#[derive(Clone)]
pub struct Webhooks {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub locks: Arc<KeyedLocks>,
    pub metrics: Arc<crate::runtime::metrics::Metrics>,
    pub channels: Arc<Channels>,
    /// Woken when customer media was stored.
    pub media_wake: Arc<Notify>,
    /// Woken when a status named a template not known yet.
    pub template_sync_wake: Arc<Notify>,
}

impl Webhooks {
    /// The ingest service these handles make.
    pub fn ingest(&self) -> Ingest {
        Ingest {
            core: self.core.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            locks: self.locks.clone(),
        }
    }
}

/// What one webhook carried.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub messages: usize,
    pub duplicates: usize,
    pub statuses: usize,
    pub kept_raw: usize,
}

/// Verifies, parses and stores one webhook POST.
pub async fn handle(
    state: &Webhooks,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookOutcome, ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let mut secrets = state.channels.app_secrets();
    let signed = |secrets: &[String]| {
        secrets
            .iter()
            .any(|s| verify_signature(s.as_bytes(), body, signature).is_ok())
    };
    // Several nodes: the channel may have been added through another node just now.
    if !signed(&secrets) && state.core.link().is_some() {
        if let Err(e) = state.channels.refresh(&state.store).await {
            tracing::warn!(error = %e, "cannot read the channels again");
        }
        secrets = state.channels.app_secrets();
    }
    let Some(secret) = secrets
        .iter()
        .find(|s| verify_signature(s.as_bytes(), body, signature).is_ok())
    else {
        state
            .metrics
            .webhooks_unauthorized
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "the X-Hub-Signature-256 header is missing or does not match any channel's app secret",
        ));
    };
    let batch = parse_webhook(body).map_err(|e| match e {
        ParseError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.to_string(),
        ),
        _ => ApiError::bad_request("invalid_payload", e.to_string()),
    })?;
    let now = state.clock.now();
    let mut inbound = Vec::new();
    let mut statuses: Vec<(ChannelRecord, StatusUpdate)> = Vec::new();
    let mut raw = Vec::new();
    let mut has_media = false;
    let mut template_changes = Vec::new();
    let keep = |channel: Option<&str>, reason: String, body: Value| RawWebhook {
        id: new_id("raw", now),
        channel_id: channel.map(str::to_owned),
        reason,
        body,
        received_at: now,
    };
    for change in batch.entries {
        match change {
            Change::Messages(mc) => {
                let channel = state
                    .channels
                    .by_phone_number_id(&mc.phone_number_id)
                    .filter(|c| &c.app_secret == secret);
                let Some(channel) = channel else {
                    let body = json!({"phone_number_id": mc.phone_number_id,
                        "messages": mc.messages.iter().map(|m| m.raw.clone()).collect::<Vec<_>>(),
                        "statuses": mc.statuses.iter().map(|s| s.raw.clone()).collect::<Vec<_>>()});
                    raw.push(keep(None, "unknown phone_number_id".into(), body));
                    continue;
                };
                state.channels.webhook_received(&channel.id, now);
                for m in &mc.messages {
                    let Some(sender) = m.sender().filter(|s| !s.trim().is_empty()) else {
                        raw.push(keep(
                            Some(&channel.id),
                            "message without sender".into(),
                            m.raw.clone(),
                        ));
                        continue;
                    };
                    let contact = mc.contact_of(m);
                    let mut payload = json!({
                        "content": m.content,
                        "context": m.context,
                        "referral": m.referral,
                        "timestamp": m.timestamp,
                        "raw": m.raw,
                    });
                    if let Content::Media(media) = &m.content {
                        // Downloaded later by the media service.
                        payload["media"] = super::media::pending(
                            media.mime_type.as_deref(),
                            media.filename.as_deref(),
                        );
                        has_media = true;
                    }
                    inbound.push(InboundMessage {
                        queue_id: channel.queue_id.clone(),
                        channel_id: Some(channel.id.clone()),
                        source_number: Some(channel.display_phone_number.clone()),
                        wa_id: sender.to_owned(),
                        customer_name: contact.and_then(|c| c.name.clone()),
                        wa_message_id: Some(m.id.clone()),
                        kind: m.kind_str().to_owned(),
                        text: text_of(m),
                        summary: Some(m.short_summary(200)),
                        payload,
                    });
                }
                for s in mc.statuses {
                    statuses.push((channel.clone(), s));
                }
                for e in mc.errors {
                    raw.push(keep(Some(&channel.id), "error".into(), json!(e)));
                }
            }
            Change::Other {
                field,
                value,
                waba_id,
            } => {
                // A review decision about a template of an account whose number signed this.
                if field == "message_template_status_update" {
                    let ours =
                        waba_id.as_deref().filter(|w| {
                            state.channels.all().iter().any(|c| {
                                c.waba_id.as_deref() == Some(*w) && &c.app_secret == secret
                            })
                        });
                    if let Some(change) =
                        ours.and_then(|w| crate::services::templates::status_change(w, &value))
                    {
                        template_changes.push(change);
                    }
                }
                raw.push(keep(None, format!("field {field}"), value));
            }
        }
    }
    for r in batch.rejected {
        raw.push(keep(
            None,
            format!("rejected at {}: {}", r.location, r.reason),
            r.raw,
        ));
    }
    let mut outcome = WebhookOutcome {
        kept_raw: raw.len(),
        statuses: statuses.len(),
        ..WebhookOutcome::default()
    };
    if !inbound.is_empty() {
        link_replies(state, &mut inbound).await?;
        let done = ingest_many(&state.ingest(), inbound).await?;
        outcome.messages = done.len();
        outcome.duplicates = done.iter().filter(|d| d.duplicate).count();
        if has_media {
            state.media_wake.notify_one();
        }
    }
    if !statuses.is_empty() {
        apply_statuses(state, statuses).await?;
    }
    for change in &template_changes {
        let updated = state.store.set_template_status(change, now).await?;
        match updated {
            Some(t) => {
                tracing::info!(template = %t.id, name = %t.name, status = %t.status, "template status changed")
            }
            // Not synced yet: the sync service fetches it.
            None => state.template_sync_wake.notify_one(),
        }
    }
    if !raw.is_empty() {
        state
            .core
            .store(Attach {
                raw_webhooks: raw,
                ..Attach::default()
            })
            .await?;
    }
    Ok(outcome)
}

/// Gives each message that replies to one of its conversation's stored messages (`context.id`:
/// a quote, or the tap of a template's quick-reply button) a `reply_to` naming that message, so
/// the transcript can show what it answers: `{id, type, text, template?}`.
async fn link_replies(state: &Webhooks, inbound: &mut [InboundMessage]) -> Result<(), ApiError> {
    let context_id = |m: &InboundMessage| {
        m.payload
            .pointer("/context/id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    };
    let ids: Vec<String> = inbound.iter().filter_map(context_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let stored: HashMap<String, switchboard_store::MessageRecord> = state
        .store
        .messages_by_wa_ids(&ids)
        .await?
        .into_iter()
        .filter_map(|m| m.wa_message_id.clone().map(|w| (w, m)))
        .collect();
    for m in inbound.iter_mut() {
        let Some(target) = context_id(m).and_then(|id| stored.get(&id)) else {
            continue;
        };
        let conversation = conversation_id(m.channel_id.as_deref(), &m.wa_id);
        if target.conversation_id.0 != conversation {
            continue;
        }
        let text: Option<String> = target
            .body
            .as_deref()
            .map(|b| b.chars().take(200).collect());
        let mut reply_to = json!({"id": target.id, "type": target.kind, "text": text,
            "direction": target.direction});
        if let Some(t) = target.payload.get("template") {
            reply_to["template"] = json!({"id": t.get("id"), "name": t.get("name")});
        }
        m.payload["reply_to"] = reply_to;
    }
    Ok(())
}

/// The text a message carries, for the transcript: the body, a caption, a button's title.
fn text_of(m: &WaMessage) -> Option<String> {
    match &m.content {
        Content::Text { body } => Some(body.clone()),
        Content::Media(media) => media.caption.clone(),
        Content::ButtonReply { title, .. } | Content::ListReply { title, .. } => {
            Some(title.clone())
        }
        Content::Button { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// The error object stored on a failed message.
pub fn status_error(s: &StatusUpdate) -> Option<Value> {
    s.errors.first().map(|e| {
        json!({"code": e.code, "title": e.title, "message": e.message, "details": e.details, "href": e.href})
    })
}

/// Applies status webhooks: a status moves a message forward only; one for a WhatsApp
/// id not known yet is kept and applied when the send's answer names it.
pub async fn apply_statuses(
    state: &Webhooks,
    statuses: Vec<(ChannelRecord, StatusUpdate)>,
) -> Result<(), ApiError> {
    // Ids and status values become index keys (messages, pending_statuses): bounded, the
    // same way as the ids of stored messages (see `crate::runtime::text`); the raw status is kept.
    let statuses: Vec<(ChannelRecord, StatusUpdate)> = statuses
        .into_iter()
        .map(|(c, mut s)| {
            s.id = crate::runtime::text::key(&s.id).into_owned();
            if let DeliveryStatus::Unknown(v) = &s.status {
                s.status = DeliveryStatus::Unknown(crate::runtime::text::key(v).into_owned());
            }
            (c, s)
        })
        .collect();
    let keys: Vec<LockKey> = statuses
        .iter()
        .map(|(_, s)| LockKey::Statuses(s.id.clone()))
        .collect();
    state
        .locks
        .with_many(&keys, apply_locked(state, statuses))
        .await
}

async fn apply_locked(
    state: &Webhooks,
    statuses: Vec<(ChannelRecord, StatusUpdate)>,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let ids: Vec<String> = statuses.iter().map(|(_, s)| s.id.clone()).collect();
    let mut known: HashMap<String, (String, String, Option<InteractionId>, String)> = state
        .store
        .messages_by_wa_ids(&ids)
        .await?
        .into_iter()
        .filter_map(|m| {
            let wa = m.wa_message_id.clone()?;
            Some((wa, (m.id, m.status, m.interaction_id, m.direction)))
        })
        .collect();
    let mut ops = Vec::new();
    for (_, s) in statuses {
        let new = s.status.as_str().to_owned();
        match known.get_mut(&s.id) {
            Some((message_id, current, interaction, direction)) => {
                if !status_advances(current, &new) {
                    continue;
                }
                *current = new.clone();
                let failed = new == "failed";
                let update = MessageStatusUpdate {
                    id: message_id.clone(),
                    status: new,
                    error: if failed { status_error(&s) } else { None },
                    wa_message_id: None,
                    payload: None,
                    updated_at: now,
                };
                let cmd = match (interaction.clone(), direction.as_str()) {
                    (Some(i), "out") => Some(Command::OutboundResult {
                        interaction: i,
                        failed,
                    }),
                    _ => None,
                };
                ops.push((
                    cmd,
                    Attach {
                        message_updates: vec![(update, interaction.clone())],
                        ..Attach::default()
                    },
                ));
            }
            None => ops.push((
                None,
                Attach {
                    pending_statuses: vec![PendingStatus {
                        wa_message_id: s.id.clone(),
                        status: new,
                        payload: s.raw.clone(),
                        received_at: now,
                    }],
                    ..Attach::default()
                },
            )),
        }
    }
    for r in state.core.call_many(ops).await {
        r?;
    }
    Ok(())
}
