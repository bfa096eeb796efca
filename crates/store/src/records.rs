//! The rows the store reads and writes, and the [`Changeset`] the server commits in one go.
//!
//! Plain data: no I/O here.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use switchboard_domain::engine::Fact;
use switchboard_domain::model::{
    Agent, AgentId, ConversationId, Interaction, InteractionId, InteractionState, Queue, QueueId,
    Role, Settings, Timestamp,
};

/// A user's login data. The agent half of a user lives in [`Agent`].
#[derive(Debug, Clone, Serialize)]
pub struct UserRecord {
    pub id: AgentId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub deleted: bool,
    pub created_at: Timestamp,
}

/// Everything the server needs in memory at start-up.
#[derive(Debug, Clone, Default)]
pub struct LoadedState {
    /// Non-deleted users, as agents.
    pub agents: Vec<Agent>,
    /// Non-deleted queues.
    pub queues: Vec<Queue>,
    /// Interactions whose state is not `done`.
    pub interactions: Vec<Interaction>,
    pub settings: Option<Settings>,
    /// The highest event sequence number of each user that has events.
    pub event_seqs: Vec<(AgentId, i64)>,
}

/// One customer thread on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub channel_id: Option<String>,
    pub wa_id: String,
    pub customer_name: Option<String>,
    pub contact_id: Option<String>,
    pub last_inbound_at: Option<Timestamp>,
    pub last_agent_id: Option<AgentId>,
    pub created_at: Timestamp,
}

/// One message of a conversation. `id` is time-sortable: ordering by id is chronological.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: String,
    pub conversation_id: ConversationId,
    pub interaction_id: Option<InteractionId>,
    /// `in`, `out` or `system`.
    pub direction: String,
    pub author_id: Option<AgentId>,
    pub kind: String,
    pub body: Option<String>,
    pub payload: serde_json::Value,
    /// WhatsApp's id for the message; unique, so a redelivered webhook inserts nothing.
    pub wa_message_id: Option<String>,
    pub status: String,
    pub error: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A delivery-status change of a stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStatusUpdate {
    pub id: String,
    pub status: String,
    pub error: Option<serde_json::Value>,
    /// WhatsApp's id, once the send was accepted (kept if `None`).
    pub wa_message_id: Option<String>,
    /// A new payload (e.g. media stored), kept if `None`.
    pub payload: Option<serde_json::Value>,
    pub updated_at: Timestamp,
}

/// A connected WhatsApp number. Secrets are stored as given and never leave the server.
#[derive(Clone, PartialEq, Serialize)]
pub struct ChannelRecord {
    pub id: String,
    pub kind: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    #[serde(skip)]
    pub access_token: String,
    #[serde(skip)]
    pub app_secret: String,
    #[serde(skip)]
    pub verify_token: String,
    pub queue_id: QueueId,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for ChannelRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelRecord")
            .field("id", &self.id)
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("queue_id", &self.queue_id)
            .finish_non_exhaustive()
    }
}

/// An outbound message waiting for (or done with) its send to WhatsApp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub message_id: String,
    pub channel_id: String,
    pub recipient: String,
    /// What to send (the channel layer's request description).
    pub request: serde_json::Value,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<serde_json::Value>,
    pub created_at: Timestamp,
}

/// The outcome of a send attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxUpdate {
    pub message_id: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<serde_json::Value>,
    pub updated_at: Timestamp,
}

/// A status webhook for a WhatsApp id not known yet (it came before the send answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingStatus {
    pub wa_message_id: String,
    pub status: String,
    pub payload: serde_json::Value,
    pub received_at: Timestamp,
}

/// A part of a webhook kept as received: rejected items and fields Switchboard does not handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawWebhook {
    pub id: String,
    pub channel_id: Option<String>,
    pub reason: String,
    pub body: serde_json::Value,
    pub received_at: Timestamp,
}

/// An internal note on an interaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteRecord {
    pub id: String,
    pub interaction_id: InteractionId,
    pub author_id: AgentId,
    pub body: String,
    pub created_at: Timestamp,
}

/// One entry of a user's event log (sequence numbers are per user).
///
/// `data` is a JSON value, or (`EventRecord<Arc<str>>`, `EventRecord<String>`) the JSON text
/// already encoded: the server encodes each live event once and stores and sends those bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord<D = serde_json::Value> {
    pub user_id: AgentId,
    pub seq: i64,
    pub kind: String,
    pub data: D,
    pub created_at: Timestamp,
}

/// An event for the external CRM, waiting in (or done with) the durable webhook queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmEventRecord {
    /// Also the delivery id the receiver deduplicates by.
    pub id: String,
    /// `interaction.ended`, `contact.created`, `case.created`, …
    pub kind: String,
    /// The event's `data`, as enqueued.
    pub payload: serde_json::Value,
    /// The exact JSON sent, once built (at the first attempt); every retry sends these bytes.
    pub body: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// The outcome of a delivery attempt of a pending CRM event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrmEventUpdate {
    pub id: String,
    /// `pending` (retry at `next_attempt_at`), `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// Everything one group commit writes, applied atomically by [`crate::Store::commit`].
#[derive(Debug, Clone, Default)]
pub struct Changeset {
    /// Agent state of existing users (login data is untouched).
    pub agents: Vec<Agent>,
    /// Users to mark deleted; their sessions are removed.
    pub deleted_agents: Vec<AgentId>,
    pub queues: Vec<Queue>,
    pub deleted_queues: Vec<QueueId>,
    pub interactions: Vec<Interaction>,
    pub conversations: Vec<ConversationRecord>,
    /// Inserted unless a message with the same id or WhatsApp id exists.
    pub messages: Vec<MessageRecord>,
    pub message_updates: Vec<MessageStatusUpdate>,
    pub notes: Vec<NoteRecord>,
    pub events: Vec<EventRecord>,
    /// Events whose `data` is already JSON text, stored as is (after `events`).
    pub encoded_events: Vec<EventRecord<Arc<str>>>,
    pub settings: Option<Settings>,
    /// New outbound sends.
    pub outbox: Vec<OutboxRecord>,
    pub outbox_updates: Vec<OutboxUpdate>,
    /// Kept until their message's WhatsApp id is known.
    pub pending_statuses: Vec<PendingStatus>,
    /// WhatsApp ids whose pending statuses were applied (deleted).
    pub applied_statuses: Vec<String>,
    pub raw_webhooks: Vec<RawWebhook>,
    /// New contacts (created with an interaction, R-4.3); an existing id is left as it is.
    pub contacts: Vec<ContactRecord>,
    /// Cases, upserted by interaction (the wrap-up closes the case saved before it, R-4.6).
    pub cases: Vec<CaseRecord>,
    /// Events for the external CRM, queued with the change they report.
    pub crm_events: Vec<CrmEventRecord>,
    /// Audit log entries of the changes in this changeset; an id already stored is left
    /// as it is.
    pub audit: Vec<crate::AuditRecord>,
    /// What reports need, the engine's `Changes::facts` in order; written to the report
    /// tables after every other row.
    pub facts: Vec<Fact>,
    /// Results of commands forwarded by other nodes of a cluster, by the id the sender gave:
    /// a retry of one (after the router changed) answers the stored result instead of
    /// applying it again.
    pub commands: Vec<CommandRecord>,
    /// Several nodes: the router's lease epoch. The commit fails with [`crate::StoreError::Fenced`]
    /// (and writes nothing) unless this epoch still holds an unexpired lease.
    pub fence: Option<i64>,
}

/// The stored result of a forwarded command (see [`Changeset::commands`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    pub id: String,
    /// The result as the router answered it (JSON text).
    pub result: String,
    pub created_at: Timestamp,
}

impl Changeset {
    /// Whether committing this would write nothing.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.deleted_agents.is_empty()
            && self.queues.is_empty()
            && self.deleted_queues.is_empty()
            && self.interactions.is_empty()
            && self.conversations.is_empty()
            && self.messages.is_empty()
            && self.message_updates.is_empty()
            && self.notes.is_empty()
            && self.events.is_empty()
            && self.encoded_events.is_empty()
            && self.settings.is_none()
            && self.outbox.is_empty()
            && self.outbox_updates.is_empty()
            && self.pending_statuses.is_empty()
            && self.applied_statuses.is_empty()
            && self.raw_webhooks.is_empty()
            && self.contacts.is_empty()
            && self.cases.is_empty()
            && self.crm_events.is_empty()
            && self.audit.is_empty()
            && self.facts.is_empty()
            && self.commands.is_empty()
    }

    /// Appends `other` after `self`. Rows are applied in order within each kind, so a later
    /// upsert of the same agent, queue or interaction wins; a later `settings` replaces an earlier.
    pub fn extend(&mut self, other: Changeset) {
        let Changeset {
            agents,
            deleted_agents,
            queues,
            deleted_queues,
            interactions,
            conversations,
            messages,
            message_updates,
            notes,
            events,
            encoded_events,
            settings,
            outbox,
            outbox_updates,
            pending_statuses,
            applied_statuses,
            raw_webhooks,
            contacts,
            cases,
            crm_events,
            audit,
            facts,
            commands,
            fence,
        } = other;
        self.facts.extend(facts);
        self.commands.extend(commands);
        if fence.is_some() {
            self.fence = fence;
        }
        self.contacts.extend(contacts);
        self.cases.extend(cases);
        self.crm_events.extend(crm_events);
        self.audit.extend(audit);
        self.outbox.extend(outbox);
        self.outbox_updates.extend(outbox_updates);
        self.pending_statuses.extend(pending_statuses);
        self.applied_statuses.extend(applied_statuses);
        self.raw_webhooks.extend(raw_webhooks);
        self.agents.extend(agents);
        self.deleted_agents.extend(deleted_agents);
        self.queues.extend(queues);
        self.deleted_queues.extend(deleted_queues);
        self.interactions.extend(interactions);
        self.conversations.extend(conversations);
        self.messages.extend(messages);
        self.message_updates.extend(message_updates);
        self.notes.extend(notes);
        self.events.extend(events);
        self.encoded_events.extend(encoded_events);
        if settings.is_some() {
            self.settings = settings;
        }
    }
}

/// Which interactions [`crate::Store::list_interactions`] returns, newest first.
/// `Default` has `limit: 0`, which matches nothing: set a limit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InteractionFilter {
    pub state: Option<InteractionState>,
    pub queue_id: Option<QueueId>,
    /// Interactions this agent ever participated in.
    pub agent_id: Option<AgentId>,
    /// Only interactions created strictly before this time (for paging).
    pub before_created: Option<Timestamp>,
    /// With `before_created`: also those created at that very time with a smaller id, so pages
    /// follow each other by `(created_at, id)` without skipping interactions of the same instant.
    pub before_id: Option<String>,
    /// Interactions linked to this contact of the built-in CRM.
    pub contact_id: Option<String>,
    /// Interactions with this customer (WhatsApp id: the number's digits, no '+').
    pub customer_wa_id: Option<String>,
    /// Interactions whose owner wrapped up with this disposition code.
    pub disposition: Option<String>,
    /// Only interactions created at or after this time.
    pub created_from: Option<Timestamp>,
    /// Only interactions created strictly before this time (the end of a date range).
    pub created_to: Option<Timestamp>,
    /// At most this many (negative counts as zero).
    pub limit: i64,
}

/// A contact of the built-in CRM (SPEC §4). `phones` are E.164 numbers with the leading '+'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// A JSON object of custom fields.
    pub fields: serde_json::Value,
    pub phones: Vec<String>,
    pub merged_into: Option<String>,
    pub created_by: Option<AgentId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A saved chat log: its transcript is the messages and notes of `interaction_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub id: String,
    /// `open` (saved before the end) or `closed` (the interaction was wrapped up).
    pub state: String,
    pub contact_id: Option<String>,
    pub interaction_id: InteractionId,
    pub conversation_id: ConversationId,
    pub queue_id: Option<QueueId>,
    pub subject: Option<String>,
    /// The agents with their role, times, disposition and wrap-up note.
    pub agents: serde_json::Value,
    pub disposition_code: Option<String>,
    pub initiated_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub created_by: Option<AgentId>,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// A conversation of the communication list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    pub conversation: ConversationRecord,
    pub contact_name: Option<String>,
    pub last_message: Option<MessageRecord>,
    /// Customer messages since the last message sent to them.
    pub unread: i64,
}

/// The channel's last send to a number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastSend {
    pub wa_id: String,
    pub status: String,
    pub error: Option<serde_json::Value>,
    pub at: Timestamp,
}
