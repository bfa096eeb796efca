//! The one entry of customer messages: [`ingest_many`] stores a webhook's messages and routes
//! them, idempotent by the channel's message id, linking each conversation to
//! its contact (R-4.1 … ).

use crate::runtime::clock::Clock;
use crate::runtime::core::{Attach, Core};
use crate::runtime::error::ApiError;
use crate::runtime::ids::{conversation_id, new_id};
use crate::runtime::locks::{KeyedLocks, LockKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_domain::engine::Inbound;
use switchboard_domain::*;
use switchboard_store::{ContactRecord, ConversationRecord, MessageRecord, RawWebhook, Store};

/// The ingest service: the core, the store, the clock, and the locks that serialize
/// redeliveries of one message and the messages of one conversation.
#[derive(Clone)]
pub struct Ingest {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub locks: Arc<KeyedLocks>,
}

/// A customer message handed to [`ingest`] by a channel.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub queue_id: QueueId,
    pub channel_id: Option<String>,
    /// The channel's own number (shown on offers as the source number).
    pub source_number: Option<String>,
    /// The customer's WhatsApp id (phone number).
    pub wa_id: String,
    pub customer_name: Option<String>,
    /// The channel's message id, for idempotent ingest.
    pub wa_message_id: Option<String>,
    /// `text`, `image`, `location`, …
    pub kind: String,
    pub text: Option<String>,
    /// A one-line description for offers (defaults to the text, or the kind).
    pub summary: Option<String>,
    pub payload: Value,
}

/// What [`ingest`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub interaction_id: InteractionId,
    pub message_id: String,
    /// The message opened a new interaction.
    pub created: bool,
    /// The message was already stored (a redelivery); nothing changed.
    pub duplicate: bool,
}

/// Stores a customer message and routes it: joins the conversation's open interaction or opens a
/// new one. Idempotent by the channel's message id, also when redeliveries of
/// one message arrive at the same time: they are handled one after the other, so all but the
/// first find it stored.
pub async fn ingest(state: &Ingest, msg: InboundMessage) -> Result<Ingested, ApiError> {
    ingest_many(state, vec![msg])
        .await?
        .into_iter()
        .next()
        .ok_or_else(crate::runtime::core::unstorable)
}

/// [`ingest`] for the messages of one webhook, in order, sharing one commit. Answers once all
/// are durable; an `Err` means some may not be (the sender must redeliver, which is safe). A
/// message whose rows the database refuses even so (see [`crate::runtime::text`]) is kept raw
/// (`webhook_raw`, with the reason) and left out of the answer: redelivering it would not help.
pub async fn ingest_many(
    state: &Ingest,
    msgs: Vec<InboundMessage>,
) -> Result<Vec<Ingested>, ApiError> {
    let msgs: Vec<InboundMessage> = msgs.into_iter().map(storable).collect();
    if msgs.iter().any(|m| m.wa_id.trim().is_empty()) {
        return Err(ApiError::invalid(
            "invalid_customer",
            "the customer id is empty",
        ));
    }
    let keys: Vec<String> = msgs
        .iter()
        .filter_map(|m| m.wa_message_id.clone())
        .collect();
    // Messages are also serialized per conversation, so that a new customer writing twice at
    // once gets one contact, not two.
    let mut lock_keys: Vec<LockKey> = keys.iter().cloned().map(LockKey::InboundMessage).collect();
    lock_keys.extend(
        msgs.iter()
            .map(|m| LockKey::Conversation(conversation_id(m.channel_id.as_deref(), &m.wa_id))),
    );
    state
        .locks
        .with_many(&lock_keys, ingest_locked(state, msgs, &keys))
        .await
}

async fn ingest_locked(
    state: &Ingest,
    msgs: Vec<InboundMessage>,
    keys: &[String],
) -> Result<Vec<Ingested>, ApiError> {
    let stored: HashMap<String, MessageRecord> = state
        .store
        .messages_by_wa_ids(keys)
        .await?
        .into_iter()
        .filter_map(|m| m.wa_message_id.clone().map(|w| (w, m)))
        .collect();
    let now = state.clock.now();
    // What each message becomes: already stored, a repeat within this batch, or new.
    enum Slot {
        Stored(Ingested),
        SameAs(usize),
        New(usize),
    }
    let mut slots = Vec::with_capacity(msgs.len());
    let mut ops = Vec::new();
    let mut message_ids = Vec::new();
    let mut raw_payloads = Vec::new();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    // The last agent of each conversation (for sticky queues), in one query.
    let mut conv_ids: Vec<ConversationId> = msgs
        .iter()
        .map(|m| ConversationId(conversation_id(m.channel_id.as_deref(), &m.wa_id)))
        .collect();
    conv_ids.sort();
    conv_ids.dedup();
    let known: HashMap<ConversationId, ConversationRecord> = state
        .store
        .conversations_by_ids(&conv_ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let last_agents: HashMap<ConversationId, Option<AgentId>> = known
        .iter()
        .map(|(id, c)| (id.clone(), c.last_agent_id.clone()))
        .collect();
    let mut links = contact_links(state, &msgs, &known, now).await?;
    for msg in msgs {
        if let Some(wa) = &msg.wa_message_id {
            if let Some(existing) = stored.get(wa) {
                slots.push(Slot::Stored(Ingested {
                    interaction_id: existing
                        .interaction_id
                        .clone()
                        .unwrap_or_else(|| InteractionId(String::new())),
                    message_id: existing.id.clone(),
                    created: false,
                    duplicate: true,
                }));
                continue;
            }
            if let Some(i) = first_of.get(wa) {
                slots.push(Slot::SameAs(*i));
                continue;
            }
            first_of.insert(wa.clone(), ops.len());
        }
        let conv = ConversationId(conversation_id(msg.channel_id.as_deref(), &msg.wa_id));
        let last_agent = last_agents.get(&conv).cloned().flatten();
        let (contact_id, new_contact) = match links.get_mut(&conv) {
            Some((id, new)) => (id.clone(), new.take()),
            None => (None, None),
        };
        let (cmd, mut attach, message_id) = inbound_command(msg, conv, last_agent, contact_id, now);
        if let Some(c) = new_contact {
            attach.crm_events.push(crate::services::crm::event(
                crate::services::crm::CONTACT_CREATED,
                serde_json::json!({"contact": crate::services::contacts::contact_json(&c, &[])}),
                now,
            ));
            attach.contacts.push(c);
        }
        slots.push(Slot::New(ops.len()));
        message_ids.push(message_id);
        let first = attach.messages.first();
        raw_payloads.push((
            attach
                .conversations
                .first()
                .and_then(|c| c.channel_id.clone()),
            first.and_then(|m| m.wa_message_id.clone()),
            first.map(|m| m.payload.clone()).unwrap_or_default(),
        ));
        ops.push((Some(cmd), attach));
    }
    let replies = state.core.call_many(ops).await;
    let mut fresh = Vec::with_capacity(replies.len());
    let mut refused = Vec::new();
    for ((reply, message_id), (channel_id, wamid, payload)) in
        replies.into_iter().zip(message_ids).zip(raw_payloads)
    {
        match reply {
            Ok(Reply::Inbound {
                interaction_id,
                created,
            }) => fresh.push(Some(Ingested {
                interaction_id,
                message_id,
                created,
                duplicate: false,
            })),
            Ok(Reply::Done) => return Err(ApiError::internal()),
            Err(e) if e.code == crate::runtime::core::unstorable().code => {
                tracing::warn!(message = %message_id, "the store refuses a customer message; kept raw");
                fresh.push(None);
                refused.push(RawWebhook {
                    id: refused_raw_id(channel_id.as_deref(), wamid.as_deref(), now),
                    channel_id,
                    reason: format!("message refused by the database: {}", e.message),
                    body: payload,
                    received_at: now,
                });
            }
            Err(e) => return Err(e),
        }
    }
    if !refused.is_empty() {
        state
            .core
            .store(Attach {
                raw_webhooks: refused,
                ..Attach::default()
            })
            .await?;
    }
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        out.push(match slot {
            Slot::Stored(i) => i,
            Slot::New(i) => match &fresh[i] {
                Some(f) => f.clone(),
                None => continue,
            },
            Slot::SameAs(i) => match &fresh[i] {
                Some(f) => Ingested {
                    duplicate: true,
                    created: false,
                    ..f.clone()
                },
                None => continue,
            },
        });
    }
    Ok(out)
}

/// A customer's message as it can be stored (see [`crate::runtime::text`]): never refused, its text
/// without control characters, its ids bounded to what an index holds (hashed beyond that, so
/// a redelivery is still found); the payload keeps everything as received.
/// The id of the raw row kept for a customer message the store refuses: derived from its
/// channel and WhatsApp id, so a redelivery of the same message finds the row already there
/// (`ON CONFLICT DO NOTHING`) instead of adding another; a fresh id without a WhatsApp id.
fn refused_raw_id(channel: Option<&str>, wamid: Option<&str>, now: Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let Some(wamid) = wamid else {
        return new_id("raw", now);
    };
    let mut h = Sha256::new();
    h.update(channel.unwrap_or("").as_bytes());
    h.update([0u8]);
    h.update(wamid.as_bytes());
    format!("raw_refused_{}", hex::encode(&h.finalize()[..16]))
}

fn storable(mut m: InboundMessage) -> InboundMessage {
    use crate::runtime::text;
    m.wa_id = text::key(text::line(&m.wa_id).trim()).into_owned();
    m.customer_name = m.customer_name.as_deref().map(text::name);
    m.wa_message_id = m
        .wa_message_id
        .as_deref()
        .map(|w| text::key(w).into_owned());
    m.text = m.text.as_deref().map(|t| text::clean(t).into_owned());
    m.summary = m.summary.as_deref().map(|t| text::clean(t).into_owned());
    m.kind = text::line(&m.kind).into_owned();
    m
}

/// The engine command and rows of one new customer message.
fn inbound_command(
    mut msg: InboundMessage,
    conv: ConversationId,
    last_agent: Option<AgentId>,
    contact_id: Option<String>,
    now: Timestamp,
) -> (Command, Attach, String) {
    let summary = msg
        .summary
        .clone()
        .or_else(|| msg.text.clone())
        .map(|t| t.chars().take(500).collect::<String>())
        .or_else(|| Some(format!("[{}]", msg.kind)));
    let message = MessageRecord {
        id: new_id("msg", now),
        conversation_id: conv.clone(),
        interaction_id: None,
        direction: "in".into(),
        author_id: None,
        kind: msg.kind.clone(),
        body: msg.text.clone(),
        payload: std::mem::take(&mut msg.payload),
        wa_message_id: msg.wa_message_id.clone(),
        status: "received".into(),
        error: None,
        created_at: now,
        updated_at: now,
    };
    let message_id = message.id.clone();
    let conversation = ConversationRecord {
        id: conv.clone(),
        channel_id: msg.channel_id.clone(),
        wa_id: msg.wa_id.clone(),
        customer_name: msg.customer_name.clone(),
        contact_id: contact_id.clone(),
        last_inbound_at: Some(now),
        last_agent_id: None,
        created_at: now,
    };
    let cmd = Command::Inbound(Inbound {
        new_interaction_id: InteractionId(new_id("int", now)),
        conversation_id: conv,
        queue_id: msg.queue_id,
        channel_id: msg.channel_id,
        source_number: msg.source_number,
        customer: Customer {
            wa_id: msg.wa_id,
            name: msg.customer_name,
        },
        contact_id,
        summary,
        last_agent,
        reaction: msg.kind == "reaction",
    });
    let attach = Attach {
        messages: vec![message],
        conversations: vec![conversation],
        ..Attach::default()
    };
    (cmd, attach, message_id)
}

/// …: the contact of each conversation of these messages that has none yet, by the
/// customer's number: the first match (oldest) is linked; with no match a contact is created
/// from the WhatsApp profile when `new_contact_policy` is `create` (to be stored with the first
/// message), and nothing is linked when it is `prompt` (the agent is shown the form).
async fn contact_links(
    state: &Ingest,
    msgs: &[InboundMessage],
    known: &HashMap<ConversationId, ConversationRecord>,
    now: Timestamp,
) -> Result<HashMap<ConversationId, (Option<String>, Option<ContactRecord>)>, ApiError> {
    let mut links = HashMap::new();
    // Conversations without a contact yet, with the customer's number: looked up in one query.
    let mut unlinked: Vec<(ConversationId, String, Option<String>)> = Vec::new();
    for m in msgs {
        let conv = ConversationId(conversation_id(m.channel_id.as_deref(), &m.wa_id));
        if links.contains_key(&conv) {
            continue;
        }
        if let Some(linked) = known.get(&conv).and_then(|c| c.contact_id.clone()) {
            links.insert(conv, (Some(linked), None));
            continue;
        }
        let Some(e164) = crate::services::contacts::e164_of_wa_id(&m.wa_id) else {
            links.insert(conv, (None, None));
            continue;
        };
        links.insert(conv.clone(), (None, None));
        unlinked.push((conv, e164, m.customer_name.clone()));
    }
    if unlinked.is_empty() {
        return Ok(links);
    }
    let mut numbers: Vec<String> = unlinked.iter().map(|(_, n, _)| n.clone()).collect();
    numbers.sort();
    numbers.dedup();
    let found = state.store.first_contacts_by_phones(&numbers).await?;
    let mut policy = None;
    for (conv, e164, name) in unlinked {
        if let Some(id) = found.get(&e164) {
            links.insert(conv, (Some(id.clone()), None));
            continue;
        }
        let create = match policy {
            Some(p) => p,
            None => {
                let p = state
                    .core
                    .read(|s| s.engine.settings().new_contact_policy)
                    .await?;
                policy = Some(p);
                p
            }
        } == NewContactPolicy::Create;
        if create {
            let c = crate::services::contacts::from_profile(&e164, name.as_deref(), now);
            links.insert(conv, (Some(c.id.clone()), Some(c)));
        }
    }
    Ok(links)
}
