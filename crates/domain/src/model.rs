//! The nouns of the contact center: agents, queues, interactions, offers and settings.
//!
//! Plain data with serde derives so the store can persist them and the server can render them.
//! Nothing here reads a clock, touches I/O or knows about HTTP.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in time: milliseconds since the Unix epoch, UTC. The domain never reads a clock;
/// every function that needs "now" takes one of these.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn plus_secs(self, secs: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::from(secs) * 1000))
    }
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A user of Switchboard; every user (agent, supervisor, admin) can handle interactions.
    AgentId
);
string_id!(QueueId);
string_id!(InteractionId);
string_id!(
    /// The long-lived thread between one customer and one channel.
    ConversationId
);

/// What a user may do. Each role includes the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// an agent's presence. Only `available` agents receive offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Offline,
    Available,
    OnBreak,
    /// Redirected on no answer: set by the router after a missed offer; only the agent leaves it.
    Rona,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Offline => "offline",
            Presence::Available => "available",
            Presence::OnBreak => "on_break",
            Presence::Rona => "rona",
        }
    }
    pub fn parse(s: &str) -> Option<Presence> {
        match s {
            "offline" => Some(Presence::Offline),
            "available" => Some(Presence::Available),
            "on_break" => Some(Presence::OnBreak),
            "rona" => Some(Presence::Rona),
            _ => None,
        }
    }
}

/// An agent as the router sees them: configuration (admin-set) and live state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub display_name: String,
    pub role: Role,
    /// maximum concurrent interactions (offered + active + wrap-up).
    pub capacity: u32,
    /// may reject offers.
    pub can_reject: bool,
    /// queues this agent receives offers from (kept sorted, no duplicates).
    pub queue_ids: Vec<QueueId>,
    pub presence: Presence,
    pub break_reason: Option<String>,
    /// no new offers while set; presence and current work are untouched.
    pub stop_new: bool,
    pub presence_since: Timestamp,
    /// the time of this agent's last offer or last finished interaction ("idle since").
    pub last_idle_at: Timestamp,
    /// when the agent's last live connection dropped; `None` while connected (or never
    /// connected, e.g. API-only integrations).
    pub disconnected_since: Option<Timestamp>,
}

/// Admin-set fields of an agent, used to create or update one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub id: AgentId,
    pub display_name: String,
    pub role: Role,
    pub capacity: u32,
    pub can_reject: bool,
    pub queue_ids: Vec<QueueId>,
}

pub const DEFAULT_CAPACITY: u32 = 3;

/// routing policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoutingPolicy {
    #[default]
    LongestIdle,
    LeastBusy,
    RoundRobin,
}

impl RoutingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingPolicy::LongestIdle => "longest_idle",
            RoutingPolicy::LeastBusy => "least_busy",
            RoutingPolicy::RoundRobin => "round_robin",
        }
    }
    pub fn parse(s: &str) -> Option<RoutingPolicy> {
        match s {
            "longest_idle" => Some(RoutingPolicy::LongestIdle),
            "least_busy" => Some(RoutingPolicy::LeastBusy),
            "round_robin" => Some(RoutingPolicy::RoundRobin),
            _ => None,
        }
    }
}

/// A wrap-up reason offered by a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    pub code: String,
    pub label: String,
}

/// A queue's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub name: String,
    pub routing_policy: RoutingPolicy,
    /// Weight of this queue's waiting time against other queues' (>= 1; higher wins sooner).
    pub priority: u32,
    /// how long an offer waits for an answer.
    pub acceptance_interval_s: u32,
    /// wrap-up countdown; 0 disables it (wrap-up then waits for the agent).
    pub post_processing_s: u32,
    /// how long a customer message may wait for an answer before the interaction is "past SLA".
    pub sla_response_s: u32,
    pub dispositions: Vec<Disposition>,
    pub disposition_required: bool,
    /// offer a returning customer to the agent who last handled the conversation first.
    pub sticky: bool,
    pub sticky_timeout_s: u32,
    /// Round-robin position: the agent who received this queue's last offer.
    #[serde(default)]
    pub rr_last: Option<AgentId>,
}

pub const DEFAULT_ACCEPTANCE_INTERVAL_S: u32 = 30;
pub const DEFAULT_POST_PROCESSING_S: u32 = 60;
pub const DEFAULT_SLA_RESPONSE_S: u32 = 120;
pub const DEFAULT_STICKY_TIMEOUT_S: u32 = 30;

impl Queue {
    /// A queue with the documented defaults.
    pub fn new(id: QueueId, name: impl Into<String>) -> Queue {
        Queue {
            id,
            name: name.into(),
            routing_policy: RoutingPolicy::LongestIdle,
            priority: 1,
            acceptance_interval_s: DEFAULT_ACCEPTANCE_INTERVAL_S,
            post_processing_s: DEFAULT_POST_PROCESSING_S,
            sla_response_s: DEFAULT_SLA_RESPONSE_S,
            dispositions: Vec::new(),
            disposition_required: false,
            sticky: false,
            sticky_timeout_s: DEFAULT_STICKY_TIMEOUT_S,
            rr_last: None,
        }
    }
}

/// What happens to an agent who rejects or misses an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AfterMissedOffer {
    #[default]
    Rona,
    OnBreak,
}

/// what happens when an offer's phone number matches no contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NewContactPolicy {
    #[default]
    Create,
    Prompt,
}

/// Global settings (admin-managed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// outbound text limit in UTF-8 bytes, 1..=2147483647; WhatsApp's own limit
    /// ([`WHATSAPP_TEXT_LIMIT`]) applies on top of it.
    pub max_text_message_size: u32,
    /// previous interactions shown in a transcript, 1..=1000.
    pub transcript_interactions_count: u32,
    pub after_missed_offer: AfterMissedOffer,
    pub new_contact_policy: NewContactPolicy,
    /// how long an agent who missed an offer is excluded from re-offers of it.
    pub offer_exclusion_s: u32,
    /// how long an agent may be disconnected before their offers are withdrawn.
    pub disconnect_grace_s: u32,
    /// the reasons an agent may give for a break. Empty means any reason is accepted.
    pub break_reasons: Vec<String>,
}

/// WhatsApp's own text limit (characters of a text message body).
pub const WHATSAPP_TEXT_LIMIT: u32 = 4096;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_text_message_size: 4096,
            transcript_interactions_count: 1,
            after_missed_offer: AfterMissedOffer::Rona,
            new_contact_policy: NewContactPolicy::Create,
            offer_exclusion_s: 300,
            disconnect_grace_s: 60,
            break_reasons: vec![
                "Lunch".into(),
                "Coffee".into(),
                "Meeting".into(),
                "Training".into(),
            ],
        }
    }
}

/// The life of an interaction: queued -> offered -> active -> wrap_up -> done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionState {
    Queued,
    Offered,
    Active,
    WrapUp,
    Done,
}

impl InteractionState {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionState::Queued => "queued",
            InteractionState::Offered => "offered",
            InteractionState::Active => "active",
            InteractionState::WrapUp => "wrap_up",
            InteractionState::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<InteractionState> {
        match s {
            "queued" => Some(InteractionState::Queued),
            "offered" => Some(InteractionState::Offered),
            "active" => Some(InteractionState::Active),
            "wrap_up" => Some(InteractionState::WrapUp),
            "done" => Some(InteractionState::Done),
            _ => None,
        }
    }
    /// Still open for the customer: a new inbound message joins it rather than opening another.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            InteractionState::Queued | InteractionState::Offered | InteractionState::Active
        )
    }
}

/// The customer on the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Customer {
    pub wa_id: String,
    pub name: Option<String>,
}

/// Why an offer was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OfferKind {
    /// Routed from the queue.
    Route,
    /// a returning customer offered first to the last agent.
    Sticky,
    /// transferred by another agent.
    Transfer { from: AgentId },
    /// an invitation to join as a second agent.
    Conference { from: AgentId },
}

/// A pending offer to one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub kind: OfferKind,
    pub offered_at: Timestamp,
    pub deadline: Timestamp,
}

/// Where a transfer or a conference invitation goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Agent(AgentId),
    Queue(QueueId),
}

/// a pending conference invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceRequest {
    pub target: Target,
    pub requested_by: AgentId,
    pub requested_at: Timestamp,
    /// The offer made for it, if an agent has been chosen.
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Owner,
    Conference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantState {
    Active,
    WrapUp,
    Done,
}

/// An agent who accepted the interaction, and where they are with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub agent_id: AgentId,
    pub role: ParticipantRole,
    pub state: ParticipantState,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
    /// when the wrap-up completes on its own; `None` when the queue disables the countdown.
    pub wrap_up_deadline: Option<Timestamp>,
    pub disposition_code: Option<String>,
    pub wrap_up_note: Option<String>,
    pub wrapped_up_at: Option<Timestamp>,
}

/// An agent kept away from re-offers of one interaction after missing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub agent_id: AgentId,
    pub until: Timestamp,
}

/// a returning customer reserved for their last agent until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StickyHold {
    pub agent_id: AgentId,
    pub until: Timestamp,
}

/// One episode of work on a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub state: InteractionState,
    pub queue_id: QueueId,
    pub conversation_id: ConversationId,
    pub channel_id: Option<String>,
    pub customer: Customer,
    /// The channel's own number, shown on offers as the source number.
    pub source_number: Option<String>,
    /// The first customer message, shown on offers.
    pub first_message: Option<String>,
    pub contact_id: Option<String>,
    pub created_at: Timestamp,
    /// Since when it waits in its current queue (the offer's wait timer).
    pub waiting_since: Timestamp,
    /// Order within the queue: lower is nearer the head. Re-queued interactions get a key below
    /// every other waiting one.
    pub queue_key: i64,
    pub accepted_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub owner_id: Option<AgentId>,
    pub participants: Vec<Participant>,
    pub offer: Option<Offer>,
    pub conference: Option<ConferenceRequest>,
    pub exclusions: Vec<Exclusion>,
    pub sticky: Option<StickyHold>,
    /// customer messages since the agent's last reply (or since it was last selected).
    pub unread: u32,
    pub last_inbound_at: Option<Timestamp>,
    pub last_agent_reply_at: Option<Timestamp>,
    /// The oldest customer message still waiting for an agent's answer (for the response SLA).
    pub awaiting_reply_since: Option<Timestamp>,
    /// the last outbound message failed.
    pub last_outbound_failed: bool,
}

/// The 24-hour customer-service window of WhatsApp.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

impl Interaction {
    /// The agent's current participation: the last one, since an agent can join the same
    /// interaction again after an earlier participation ended (a second conference invitation, or
    /// the interaction transferred back to them).
    pub fn participant(&self, agent: &AgentId) -> Option<&Participant> {
        self.participants
            .iter()
            .rev()
            .find(|p| &p.agent_id == agent)
    }
    /// The agent's current (last) participation, mutable.
    pub fn participant_mut(&mut self, agent: &AgentId) -> Option<&mut Participant> {
        self.participants
            .iter_mut()
            .rev()
            .find(|p| &p.agent_id == agent)
    }
    /// Agents with a pending offer for this interaction (routing offer and conference offer).
    pub fn offered_agents(&self) -> impl Iterator<Item = &AgentId> {
        self.offer.iter().map(|o| &o.agent_id).chain(
            self.conference
                .iter()
                .filter_map(|c| c.offer.as_ref().map(|o| &o.agent_id)),
        )
    }
    /// When the customer-service window closes, if a customer ever wrote.
    pub fn window_expires_at(&self) -> Option<Timestamp> {
        self.last_inbound_at.map(|t| Timestamp(t.0 + WINDOW_MS))
    }
    /// Whether a customer message has waited longer than the queue's response target.
    pub fn past_sla(&self, sla_response_s: u32, now: Timestamp) -> bool {
        let since = match self.state {
            InteractionState::Queued | InteractionState::Offered => Some(self.waiting_since),
            InteractionState::Active => self.awaiting_reply_since,
            _ => None,
        };
        since.is_some_and(|s| now.millis_since(s) > i64::from(sla_response_s) * 1000)
    }
    /// Whether `agent` holds a slot for this interaction (offered, active or in wrap-up).
    pub fn holds_slot(&self, agent: &AgentId) -> bool {
        self.offered_agents().any(|a| a == agent)
            || self
                .participants
                .iter()
                .any(|p| &p.agent_id == agent && p.state != ParticipantState::Done)
    }
}
