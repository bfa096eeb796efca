//! What the engine is asked to do ([`Command`]) and what it answers: the reply, and the
//! [`Changes`] a step caused (entities to persist, notices to push, system messages to store).

use super::Fact;
use crate::error::DomainError;
use crate::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Something the engine is asked to do.
/// Serializable so that a node of a cluster can hand it to the router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    UpsertQueue(Queue),
    DeleteQueue(QueueId),
    UpsertAgent(AgentConfig),
    DeleteAgent(AgentId),
    UpdateSettings(Settings),
    SetPresence {
        agent: AgentId,
        presence: Presence,
        reason: Option<String>,
    },
    SetStopNew {
        agent: AgentId,
        stop_new: bool,
    },
    Accept {
        agent: AgentId,
        interaction: InteractionId,
    },
    Reject {
        agent: AgentId,
        interaction: InteractionId,
    },
    Transfer {
        agent: AgentId,
        interaction: InteractionId,
        target: Target,
    },
    ConferenceInvite {
        agent: AgentId,
        interaction: InteractionId,
        target: Target,
    },
    ConferenceEnd {
        agent: AgentId,
        interaction: InteractionId,
    },
    End {
        agent: AgentId,
        interaction: InteractionId,
    },
    WrapUp {
        agent: AgentId,
        interaction: InteractionId,
        disposition_code: Option<String>,
        note: Option<String>,
    },
    /// An agent sent a message on the interaction (checked, then counted as a reply).
    AgentReply {
        agent: AgentId,
        interaction: InteractionId,
    },
    /// The agent selected the interaction: its unread count clears.
    MarkRead {
        agent: AgentId,
        interaction: InteractionId,
    },
    /// The delivery of the last outbound message failed (or a later one succeeded).
    OutboundResult {
        interaction: InteractionId,
        failed: bool,
    },
    /// A customer message arrived on a conversation.
    Inbound(Inbound),
    /// an agent starts an outbound interaction with a customer; it opens active and
    /// owned by them, with no offer.
    StartOutbound(Outbound),
    /// the interaction is (re-)linked to a contact (or unlinked with `None`) by one of its
    /// participants or a supervisor.
    SetContact {
        by: AgentId,
        interaction: InteractionId,
        contact_id: Option<String>,
    },
    /// a supervisor (or admin) sets another agent's presence, e.g. offline for an agent
    /// who left without logging out. The agent's own rules apply (see [`Command::SetPresence`]);
    /// `offline` withdraws the agent's pending offers (re-routed), their accepted interactions
    /// stay theirs. Who did it is in [`Changes::presence_set_by`]. Only `offline` can be set for
    /// an agent whose connection is gone beyond the grace period (`agent_disconnected`).
    SetAgentPresence {
        supervisor: AgentId,
        agent: AgentId,
        presence: Presence,
        reason: Option<String>,
    },
    /// a supervisor (or admin) becomes the owner of an active interaction, whatever
    /// their capacity; the previous owner goes to wrap-up, conference participants stay, the
    /// customer notices nothing.
    TakeOver {
        supervisor: AgentId,
        interaction: InteractionId,
    },
    /// a supervisor (or admin) transfers any active interaction to an agent or a queue,
    /// as its owner could with [`Command::Transfer`] (same checks of the target, same effects).
    Reassign {
        supervisor: AgentId,
        interaction: InteractionId,
        target: Target,
    },
    /// A live connection (websocket) of the agent opened.
    Connected {
        agent: AgentId,
    },
    /// A live connection of the agent closed.
    Disconnected {
        agent: AgentId,
    },
}

/// A customer message, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    /// The id to give a new interaction, if this message opens one.
    pub new_interaction_id: InteractionId,
    pub conversation_id: ConversationId,
    pub queue_id: QueueId,
    pub channel_id: Option<String>,
    pub source_number: Option<String>,
    pub customer: Customer,
    pub contact_id: Option<String>,
    /// A short text for the offer (the message body or a description of the media).
    pub summary: Option<String>,
    /// The agent who last handled this conversation, for sticky queues.
    pub last_agent: Option<AgentId>,
    /// A reaction to an earlier message: joining an open interaction, it is neither unread
    /// nor a message that waits for an answer (the SLA clock does not start on it).
    pub reaction: bool,
}

/// An outbound start, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    pub agent: AgentId,
    pub new_interaction_id: InteractionId,
    pub conversation_id: ConversationId,
    pub queue_id: QueueId,
    pub channel_id: Option<String>,
    pub source_number: Option<String>,
    pub customer: Customer,
    pub contact_id: Option<String>,
    /// When the customer last wrote on this conversation (the 24-hour window), if ever.
    pub last_inbound_at: Option<Timestamp>,
}

/// What a successful command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Done,
    Inbound {
        interaction_id: InteractionId,
        created: bool,
    },
}

/// Why an offer went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    Rejected,
    Timeout,
    /// The agent went offline, on break, or lost their connection.
    AgentUnavailable,
    /// The conference invitation was cancelled or the interaction ended.
    Cancelled,
}

/// A live event, rendered and delivered by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    OfferCreated {
        interaction: InteractionId,
        agent: AgentId,
    },
    OfferWithdrawn {
        interaction: InteractionId,
        agent: AgentId,
        reason: WithdrawReason,
    },
    InteractionUpdated {
        interaction: InteractionId,
    },
    PresenceChanged {
        agent: AgentId,
    },
}

/// An event and who receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub to: Vec<AgentId>,
    pub event: Event,
}

/// A system notice to store in an interaction's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemMessage {
    pub interaction: InteractionId,
    pub conversation: ConversationId,
    pub text: String,
}

/// Counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub offers: u64,
    pub accepts: u64,
    pub rejects: u64,
    pub misses: u64,
    pub transfers: u64,
    pub conferences: u64,
    pub wrap_ups: u64,
    pub auto_wrap_ups: u64,
}

/// Everything a command or a tick changed. The caller persists the named entities (reading their
/// current values from the engine), pushes the notices and stores the system messages, all before
/// acknowledging.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub agents: BTreeSet<AgentId>,
    pub queues: BTreeSet<QueueId>,
    /// Interactions still in the engine whose state changed.
    pub interactions: BTreeSet<InteractionId>,
    /// Interactions that reached `done` and left the engine (final value).
    pub finished: Vec<Interaction>,
    pub deleted_agents: Vec<AgentId>,
    pub deleted_queues: Vec<QueueId>,
    pub settings_changed: bool,
    pub notices: Vec<Notice>,
    pub system_messages: Vec<SystemMessage>,
    /// Offers made in this step, in order (interaction, agent).
    pub offers: Vec<(InteractionId, AgentId)>,
    pub counters: Counters,
    /// agents whose presence a supervisor set in this step, with the supervisor: the
    /// `PresenceChanged` notice about such an agent is to say who changed it (`changed_by`).
    /// An agent missing here changed their own presence (or the router did: RONA, grace).
    pub presence_set_by: BTreeMap<AgentId, AgentId>,
    /// What reports need to know about this step, in the order it happened (see [`Fact`]).
    pub facts: Vec<Fact>,
}

#[cfg(any(test, feature = "test-support"))]
impl Changes {
    /// Whether the step changed nothing at all (test support).
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.queues.is_empty()
            && self.interactions.is_empty()
            && self.finished.is_empty()
            && self.deleted_agents.is_empty()
            && self.deleted_queues.is_empty()
            && !self.settings_changed
            && self.notices.is_empty()
            && self.system_messages.is_empty()
            && self.presence_set_by.is_empty()
            && self.facts.is_empty()
    }
}

/// The result of [`Engine::apply`](super::Engine::apply).
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Reply, DomainError>,
    pub changes: Changes,
}
