//! The routing engine: every rule of agent state, routing, offers, transfer, conference, end and
//! wrap-up, as one deterministic state machine.
//!
//! [`Engine::apply`] takes a [`Command`] and the current time and returns an [`Outcome`]: the
//! command's result and the [`Changes`] it caused (entities to persist, events to push, system
//! messages to store, counters). [`Engine::tick`] fires the deadlines that are due (offer timeouts,
//! wrap-up countdowns, sticky holds, exclusions, disconnect grace). The engine never reads a clock
//! and never performs I/O; the caller persists the changes before acknowledging anything.
//!
//! A refused command (an `Err` result) changes nothing, except that the deadlines already due at
//! `now` are fired first, so that e.g. an accept arriving after its offer's deadline finds the
//! offer already missed.

use crate::error::DomainError;
use crate::model::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod invariants;
mod routing;
mod timers;

pub use timers::Timer;

/// Something the engine is asked to do.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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
}

/// An outbound start, as the engine needs it.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Changes {
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
    }
}

/// The result of [`Engine::apply`].
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Reply, DomainError>,
    pub changes: Changes,
}

#[derive(Debug, Clone)]
struct AgentSlot {
    agent: Agent,
    /// Offered + active + wrap-up interactions.
    load: u32,
    /// Open live connections (not persisted).
    connections: u32,
    /// `(load, last_idle_at)` under which the agent is listed in the `ready` sets of their
    /// queues; `None` while they cannot take an offer (see [`routing`]).
    ready_as: Option<(u32, Timestamp)>,
}

impl AgentSlot {
    fn new(agent: Agent) -> AgentSlot {
        AgentSlot {
            agent,
            load: 0,
            connections: 0,
            ready_as: None,
        }
    }
}

#[derive(Debug, Clone)]
struct QueueSlot {
    queue: Queue,
    /// queue_key -> interaction, for interactions in state `queued`.
    waiting: BTreeMap<i64, InteractionId>,
    members: BTreeSet<AgentId>,
    /// Members who could take an offer now (available, not stop-new, below capacity), in the
    /// order the queue's policy prefers them.
    ready: BTreeSet<ReadyKey>,
    /// Keys (in `waiting`) of the waiting interactions that have a sticky hold.
    sticky_waiting: BTreeSet<i64>,
}

impl QueueSlot {
    fn new(queue: Queue) -> QueueSlot {
        QueueSlot {
            queue,
            waiting: BTreeMap::new(),
            members: BTreeSet::new(),
            ready: BTreeSet::new(),
            sticky_waiting: BTreeSet::new(),
        }
    }
}

/// A ready member's place in a queue's preference order (smallest first): `longest_idle` orders
/// by idle-since, `least_busy` by load then idle-since, `round_robin` by agent id alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ReadyKey {
    load: u32,
    idle_since: Timestamp,
    agent: AgentId,
}

/// A routing decision the router may make for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    interaction: InteractionId,
    agent: AgentId,
    sticky: bool,
    /// Identifies this decision's entry in the routing pass's ranking.
    seq: u64,
}

/// The whole live state of the contact center and its rules.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    agents: HashMap<AgentId, AgentSlot>,
    queues: HashMap<QueueId, QueueSlot>,
    interactions: HashMap<InteractionId, Interaction>,
    open_by_conversation: HashMap<ConversationId, InteractionId>,
    timers: timers::TimerIndex,
    /// Each queue's best possible offer in the current routing pass.
    candidates: HashMap<QueueId, Candidate>,
    /// The candidates of the current routing pass, best first (entries whose `seq` no longer
    /// matches the queue's candidate are stale and skipped).
    ranking: std::collections::BinaryHeap<routing::Ranked>,
    candidate_seq: u64,
    dirty_queues: BTreeSet<QueueId>,
    /// Interactions with a pending conference request to a queue and no offer yet.
    conference_waiting: BTreeSet<InteractionId>,
    /// the interactions held for each agent (sticky), so that a change of that agent
    /// re-evaluates the queues they wait in, including queues the agent is not a member of.
    sticky_holds: HashMap<AgentId, BTreeSet<InteractionId>>,
    /// Agents with role supervisor or admin: they receive every event.
    supervisors: BTreeSet<AgentId>,
    /// The interactions each agent holds a slot for (offered, active, wrap-up), and the reverse,
    /// so an agent's list needs no scan of every interaction. Updated at the end of each step.
    held: HashMap<AgentId, BTreeSet<InteractionId>>,
    holders: HashMap<InteractionId, Vec<AgentId>>,
    /// Agents whose routing-relevant state changed since their `ready` entries were updated.
    reindex: Vec<AgentId>,
    tail_key: i64,
    head_key: i64,
    // Per-step bookkeeping.
    changes: Changes,
    touched_audience: HashMap<InteractionId, Vec<AgentId>>,
    touched_order: Vec<InteractionId>,
    touched_agents: HashSet<AgentId>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Settings::default())
    }
}

impl Engine {
    /// An empty engine.
    pub fn new(settings: Settings) -> Engine {
        Engine {
            settings,
            agents: HashMap::new(),
            queues: HashMap::new(),
            interactions: HashMap::new(),
            open_by_conversation: HashMap::new(),
            timers: timers::TimerIndex::default(),
            candidates: HashMap::new(),
            ranking: std::collections::BinaryHeap::new(),
            candidate_seq: 0,
            dirty_queues: BTreeSet::new(),
            conference_waiting: BTreeSet::new(),
            sticky_holds: HashMap::new(),
            held: HashMap::new(),
            holders: HashMap::new(),
            supervisors: BTreeSet::new(),
            reindex: Vec::new(),
            tail_key: 0,
            head_key: 0,
            changes: Changes::default(),
            touched_audience: HashMap::new(),
            touched_order: Vec::new(),
            touched_agents: HashSet::new(),
        }
    }

    /// Rebuilds the engine from stored state after a start. Agents who were not offline are
    /// treated as disconnected since `now` (unless already disconnected earlier), so that they
    /// must reconnect within the grace period. Call [`Engine::tick`] afterwards to fire what
    /// expired while the server was down.
    pub fn load(
        settings: Settings,
        agents: Vec<Agent>,
        queues: Vec<Queue>,
        interactions: Vec<Interaction>,
        now: Timestamp,
    ) -> (Engine, Changes) {
        let mut e = Engine::new(settings);
        for q in queues {
            e.queues.insert(q.id.clone(), QueueSlot::new(q));
        }
        for mut a in agents {
            a.queue_ids.retain(|q| e.queues.contains_key(q));
            for q in &a.queue_ids {
                if let Some(slot) = e.queues.get_mut(q) {
                    slot.members.insert(a.id.clone());
                }
            }
            let id = a.id.clone();
            if a.presence != Presence::Offline && a.disconnected_since.is_none() {
                a.disconnected_since = Some(now);
                e.changes.agents.insert(id.clone());
            }
            if a.role >= Role::Supervisor {
                e.supervisors.insert(id.clone());
            }
            e.agents.insert(id, AgentSlot::new(a));
        }
        for it in interactions {
            if it.state == InteractionState::Done {
                continue;
            }
            e.tail_key = e.tail_key.max(it.queue_key);
            e.head_key = e.head_key.min(it.queue_key);
            if let Some(hold) = &it.sticky {
                e.sticky_holds
                    .entry(hold.agent_id.clone())
                    .or_default()
                    .insert(it.id.clone());
            }
            e.interactions.insert(it.id.clone(), it);
        }
        let ids: Vec<InteractionId> = e.interactions.keys().cloned().collect();
        for id in ids {
            let Some(it) = e.interactions.get(&id) else {
                continue;
            };
            let mut holders: Vec<AgentId> = it
                .offered_agents()
                .chain(
                    it.participants
                        .iter()
                        .filter(|p| p.state != ParticipantState::Done)
                        .map(|p| &p.agent_id),
                )
                .cloned()
                .collect();
            holders.sort();
            holders.dedup();
            let (state, conv) = (it.state, it.conversation_id.clone());
            let conf_waiting = matches!(&it.conference, Some(c) if c.offer.is_none() && matches!(c.target, Target::Queue(_)));
            for a in holders {
                if let Some(slot) = e.agents.get_mut(&a) {
                    slot.load += 1;
                }
            }
            if state == InteractionState::Queued {
                e.insert_waiting(&id);
            }
            if state.is_open() {
                e.open_by_conversation.insert(conv, id.clone());
            }
            if conf_waiting {
                e.conference_waiting.insert(id.clone());
            }
            e.sync_interaction_timers(&id);
            e.reindex_holders(&id);
        }
        let agent_ids: Vec<AgentId> = e.agents.keys().cloned().collect();
        for a in agent_ids {
            e.sync_agent_timer(&a);
            e.reindex_agent(&a);
        }
        e.dirty_queues = e.queues.keys().cloned().collect();
        let changes = std::mem::take(&mut e.changes);
        (e, changes)
    }

    // ----- Queries -------------------------------------------------------------------------

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agents.get(id).map(|s| &s.agent)
    }
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values().map(|s| &s.agent)
    }
    /// the agent's offered + active + wrap-up interactions.
    pub fn load_of(&self, id: &AgentId) -> u32 {
        self.agents.get(id).map_or(0, |s| s.load)
    }
    pub fn connections_of(&self, id: &AgentId) -> u32 {
        self.agents.get(id).map_or(0, |s| s.connections)
    }
    pub fn queue(&self, id: &QueueId) -> Option<&Queue> {
        self.queues.get(id).map(|s| &s.queue)
    }
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values().map(|s| &s.queue)
    }
    /// Waiting interactions of a queue, head first.
    pub fn waiting(&self, queue: &QueueId) -> Vec<InteractionId> {
        self.queues
            .get(queue)
            .map(|q| q.waiting.values().cloned().collect())
            .unwrap_or_default()
    }
    pub fn interaction(&self, id: &InteractionId) -> Option<&Interaction> {
        self.interactions.get(id)
    }
    pub fn interactions(&self) -> impl Iterator<Item = &Interaction> {
        self.interactions.values()
    }
    /// The open interaction of a conversation, if any.
    pub fn open_interaction_of(&self, conversation: &ConversationId) -> Option<&Interaction> {
        self.open_by_conversation
            .get(conversation)
            .and_then(|id| self.interactions.get(id))
    }
    /// The interactions an agent holds a slot for (offered, active, wrap-up), oldest accepted first.
    pub fn interactions_of(&self, agent: &AgentId) -> Vec<&Interaction> {
        let mut v: Vec<&Interaction> = self
            .held
            .get(agent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.interactions.get(id))
            .filter(|i| i.holds_slot(agent))
            .collect();
        v.sort_by_key(|i| {
            (
                i.participant(agent)
                    .map_or(Timestamp(i64::MAX), |p| p.joined_at),
                i.created_at,
                i.id.clone(),
            )
        });
        v
    }
    pub fn is_supervisor(&self, agent: &AgentId) -> bool {
        self.agent(agent)
            .is_some_and(|a| a.role >= Role::Supervisor)
    }
    /// whether `agent` may see this live interaction: offered to them, theirs, joined, or
    /// they supervise. (Finished interactions are checked against the store.)
    pub fn can_see(&self, agent: &AgentId, interaction: &Interaction) -> bool {
        self.is_supervisor(agent)
            || interaction.offered_agents().any(|a| a == agent)
            || interaction
                .participants
                .iter()
                .any(|p| &p.agent_id == agent)
    }
    /// Who receives events about this interaction: agents holding a slot for it and supervisors.
    pub fn audience(&self, interaction: &Interaction) -> Vec<AgentId> {
        let mut v: Vec<AgentId> = interaction.offered_agents().cloned().collect();
        for p in &interaction.participants {
            if p.state != ParticipantState::Done {
                v.push(p.agent_id.clone());
            }
        }
        v.extend(self.supervisors());
        v.sort();
        v.dedup();
        v
    }
    /// Who receives presence events about this agent: the agent and supervisors.
    pub fn presence_audience(&self, agent: &AgentId) -> Vec<AgentId> {
        let mut v: Vec<AgentId> = self.supervisors().collect();
        v.push(agent.clone());
        v.sort();
        v.dedup();
        v
    }
    fn supervisors(&self) -> impl Iterator<Item = AgentId> + '_ {
        self.supervisors.iter().cloned()
    }
    /// The earliest pending deadline, for the timer service to sleep until.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.first()
    }
    /// Every pending deadline (for inspection and tests).
    pub fn timers(&self) -> Vec<(Timestamp, Timer)> {
        self.timers.all()
    }

    // ----- Commands ------------------------------------------------------------------------

    /// Applies one command at `now`. Deadlines due at `now` fire first.
    pub fn apply(&mut self, cmd: Command, now: Timestamp) -> Outcome {
        self.fire_due(now);
        let result = self.dispatch(cmd, now);
        if result.is_ok() {
            // The command may have set a deadline that is already due: a disconnect with a zero
            // grace period, or a grace period shortened by a settings change. Index and fire it
            // before routing. (Every deadline of an interaction lies at least a second ahead.)
            self.sync_touched_agent_timers();
            self.fire_due(now);
        }
        self.route(now);
        let changes = self.finish_step();
        Outcome { result, changes }
    }

    /// Fires every deadline due at `now` and routes what became routable.
    pub fn tick(&mut self, now: Timestamp) -> Changes {
        self.fire_due(now);
        self.route(now);
        self.finish_step()
    }

    fn dispatch(&mut self, cmd: Command, now: Timestamp) -> Result<Reply, DomainError> {
        match cmd {
            Command::UpsertQueue(q) => self.upsert_queue(q).map(|_| Reply::Done),
            Command::DeleteQueue(id) => self.delete_queue(&id).map(|_| Reply::Done),
            Command::UpsertAgent(c) => self.upsert_agent(c, now).map(|_| Reply::Done),
            Command::DeleteAgent(id) => self.delete_agent(&id).map(|_| Reply::Done),
            Command::UpdateSettings(s) => self.update_settings(s).map(|_| Reply::Done),
            Command::SetPresence {
                agent,
                presence,
                reason,
            } => self
                .cmd_set_presence(&agent, presence, reason, now)
                .map(|_| Reply::Done),
            Command::SetStopNew { agent, stop_new } => {
                self.cmd_stop_new(&agent, stop_new).map(|_| Reply::Done)
            }
            Command::Accept { agent, interaction } => {
                self.accept(&agent, &interaction, now).map(|_| Reply::Done)
            }
            Command::Reject { agent, interaction } => {
                self.reject(&agent, &interaction, now).map(|_| Reply::Done)
            }
            Command::Transfer {
                agent,
                interaction,
                target,
            } => self
                .transfer(&agent, &interaction, target, now)
                .map(|_| Reply::Done),
            Command::ConferenceInvite {
                agent,
                interaction,
                target,
            } => self
                .conference_invite(&agent, &interaction, target, now)
                .map(|_| Reply::Done),
            Command::ConferenceEnd { agent, interaction } => self
                .conference_end(&agent, &interaction, now)
                .map(|_| Reply::Done),
            Command::End { agent, interaction } => {
                self.end(&agent, &interaction, now).map(|_| Reply::Done)
            }
            Command::WrapUp {
                agent,
                interaction,
                disposition_code,
                note,
            } => self
                .wrap_up(&agent, &interaction, disposition_code, note, now)
                .map(|_| Reply::Done),
            Command::AgentReply { agent, interaction } => self
                .agent_reply(&agent, &interaction, now)
                .map(|_| Reply::Done),
            Command::MarkRead { agent, interaction } => {
                self.mark_read(&agent, &interaction).map(|_| Reply::Done)
            }
            Command::OutboundResult {
                interaction,
                failed,
            } => {
                if self.interactions.contains_key(&interaction) {
                    self.touch(&interaction);
                    if let Some(it) = self.interactions.get_mut(&interaction) {
                        it.last_outbound_failed = failed;
                    }
                }
                Ok(Reply::Done)
            }
            Command::Inbound(msg) => self.inbound(msg, now),
            Command::StartOutbound(o) => self.start_outbound(o, now),
            Command::SetContact {
                by,
                interaction,
                contact_id,
            } => self
                .set_contact(&by, &interaction, contact_id)
                .map(|_| Reply::Done),
            Command::Connected { agent } => self.connected(&agent).map(|_| Reply::Done),
            Command::Disconnected { agent } => self.disconnected(&agent, now).map(|_| Reply::Done),
        }
    }

    // ----- Admin ---------------------------------------------------------------------------

    fn upsert_queue(&mut self, mut q: Queue) -> Result<(), DomainError> {
        validate_queue(&q)?;
        if let Some(slot) = self.queues.get_mut(&q.id) {
            q.rr_last = slot.queue.rr_last.clone();
            let policy_changed = slot.queue.routing_policy != q.routing_policy;
            slot.queue = q.clone();
            if policy_changed {
                self.rebuild_ready(&q.id);
            }
        } else {
            self.queues.insert(q.id.clone(), QueueSlot::new(q.clone()));
        }
        self.changes.queues.insert(q.id.clone());
        self.dirty_queues.insert(q.id);
        Ok(())
    }

    fn delete_queue(&mut self, id: &QueueId) -> Result<(), DomainError> {
        if !self.queues.contains_key(id) {
            return Err(DomainError::not_found("queue"));
        }
        let in_use = self.interactions.values().any(|i| {
            &i.queue_id == id
                || matches!(&i.conference, Some(ConferenceRequest { target: Target::Queue(q), .. }) if q == id)
        });
        if in_use {
            return Err(DomainError::conflict(
                "queue_in_use",
                "the queue still has interactions; transfer or finish them first",
            ));
        }
        if let Some(slot) = self.queues.remove(id) {
            for a in slot.members {
                if let Some(s) = self.agents.get_mut(&a) {
                    s.agent.queue_ids.retain(|q| q != id);
                    self.changes.agents.insert(a);
                }
            }
        }
        self.candidates.remove(id);
        self.dirty_queues.remove(id);
        self.changes.deleted_queues.push(id.clone());
        Ok(())
    }

    fn upsert_agent(&mut self, mut c: AgentConfig, now: Timestamp) -> Result<(), DomainError> {
        if c.display_name.trim().is_empty() {
            return Err(DomainError::invalid(
                "invalid_display_name",
                "display_name must not be empty",
            ));
        }
        if !(1..=100).contains(&c.capacity) {
            return Err(DomainError::invalid(
                "invalid_capacity",
                "capacity must be between 1 and 100",
            ));
        }
        c.queue_ids.sort();
        c.queue_ids.dedup();
        if let Some(q) = c.queue_ids.iter().find(|q| !self.queues.contains_key(*q)) {
            return Err(DomainError::invalid(
                "unknown_queue",
                format!("queue {q} does not exist"),
            ));
        }
        self.unindex_agent(&c.id);
        let old_queues = match self.agents.get_mut(&c.id) {
            Some(slot) => {
                let old = std::mem::take(&mut slot.agent.queue_ids);
                slot.agent.display_name = c.display_name;
                slot.agent.role = c.role;
                slot.agent.capacity = c.capacity;
                slot.agent.can_reject = c.can_reject;
                slot.agent.queue_ids = c.queue_ids.clone();
                old
            }
            None => {
                self.agents.insert(
                    c.id.clone(),
                    AgentSlot::new(Agent {
                        id: c.id.clone(),
                        display_name: c.display_name,
                        role: c.role,
                        capacity: c.capacity,
                        can_reject: c.can_reject,
                        queue_ids: c.queue_ids.clone(),
                        presence: Presence::Offline,
                        break_reason: None,
                        stop_new: false,
                        presence_since: now,
                        last_idle_at: now,
                        disconnected_since: None,
                    }),
                );
                Vec::new()
            }
        };
        for q in &old_queues {
            if let Some(slot) = self.queues.get_mut(q) {
                slot.members.remove(&c.id);
            }
            self.dirty_queues.insert(q.clone());
        }
        for q in &c.queue_ids {
            if let Some(slot) = self.queues.get_mut(q) {
                slot.members.insert(c.id.clone());
            }
            self.dirty_queues.insert(q.clone());
        }
        if c.role >= Role::Supervisor {
            self.supervisors.insert(c.id.clone());
        } else {
            self.supervisors.remove(&c.id);
        }
        self.changes.agents.insert(c.id.clone());
        self.touched_agents.insert(c.id.clone());
        self.reindex.push(c.id);
        Ok(())
    }

    fn delete_agent(&mut self, id: &AgentId) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get(id) else {
            return Err(DomainError::not_found("agent"));
        };
        if slot.load > 0 {
            return Err(DomainError::conflict(
                "agent_busy",
                "the agent still has interactions; wait until they are wrapped up",
            ));
        }
        self.unindex_agent(id);
        self.supervisors.remove(id);
        if let Some(slot) = self.agents.remove(id) {
            for q in slot.agent.queue_ids {
                if let Some(qs) = self.queues.get_mut(&q) {
                    qs.members.remove(id);
                }
                self.dirty_queues.insert(q);
            }
        }
        self.timers.remove_agent(id);
        self.changes.deleted_agents.push(id.clone());
        Ok(())
    }

    fn update_settings(&mut self, s: Settings) -> Result<(), DomainError> {
        validate_settings(&s)?;
        let grace_changed = s.disconnect_grace_s != self.settings.disconnect_grace_s;
        self.settings = s;
        self.changes.settings_changed = true;
        if grace_changed {
            // Disconnect-grace deadlines derive from the setting: re-derive them.
            let waiting: Vec<AgentId> = self
                .agents
                .values()
                .filter(|a| a.agent.disconnected_since.is_some())
                .map(|a| a.agent.id.clone())
                .collect();
            self.touched_agents.extend(waiting);
        }
        Ok(())
    }

    // ----- Agent state ---------------------------------------------------------------------

    fn cmd_set_presence(
        &mut self,
        agent: &AgentId,
        presence: Presence,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if !self.agents.contains_key(agent) {
            return Err(DomainError::not_found("agent"));
        }
        let reason = match presence {
            Presence::Rona => {
                return Err(DomainError::invalid(
                    "invalid_presence",
                    "rona is set by the router; choose available, on_break or offline",
                ))
            }
            Presence::OnBreak => {
                let r = reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                match r {
                    None => {
                        return Err(DomainError::invalid(
                            "break_reason_required",
                            "a break needs a reason",
                        ))
                    }
                    Some(r) => {
                        if !self.settings.break_reasons.is_empty()
                            && !self.settings.break_reasons.contains(&r)
                        {
                            return Err(DomainError::invalid(
                                "unknown_break_reason",
                                format!(
                                    "unknown break reason; choose one of: {}",
                                    self.settings.break_reasons.join(", ")
                                ),
                            ));
                        }
                        Some(r)
                    }
                }
            }
            _ => None,
        };
        // The agent acted, so they are reachable: a disconnected agent who chooses a presence
        // other than offline gets a fresh grace period to reconnect (otherwise an agent whose
        // grace ran out long ago would be set offline again the moment they become available).
        if presence != Presence::Offline {
            if let Some(slot) = self.agents.get_mut(agent) {
                if slot.agent.disconnected_since.is_some_and(|d| d < now) {
                    slot.agent.disconnected_since = Some(now);
                    self.changes.agents.insert(agent.clone());
                    self.touched_agents.insert(agent.clone());
                }
            }
        }
        self.set_presence(agent, presence, reason, now);
        Ok(())
    }

    fn cmd_stop_new(&mut self, agent: &AgentId, stop_new: bool) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get_mut(agent) else {
            return Err(DomainError::not_found("agent"));
        };
        if slot.agent.stop_new != stop_new {
            slot.agent.stop_new = stop_new;
            self.agent_changed(agent);
            self.push_presence(agent);
        }
        Ok(())
    }

    /// Sets presence; leaving `available` withdraws the agent's pending offers.
    fn set_presence(
        &mut self,
        agent: &AgentId,
        presence: Presence,
        reason: Option<String>,
        now: Timestamp,
    ) {
        let Some(slot) = self.agents.get_mut(agent) else {
            return;
        };
        if slot.agent.presence == presence && slot.agent.break_reason == reason {
            return;
        }
        if slot.agent.presence != presence {
            slot.agent.presence_since = now;
        }
        slot.agent.presence = presence;
        slot.agent.break_reason = reason;
        self.agent_changed(agent);
        self.push_presence(agent);
        if presence != Presence::Available {
            self.withdraw_offers_of(agent, WithdrawReason::AgentUnavailable, now);
        }
    }

    fn withdraw_offers_of(&mut self, agent: &AgentId, reason: WithdrawReason, now: Timestamp) {
        // Offers held since earlier steps are indexed; this step's are among the touched.
        let mut ids: BTreeSet<&InteractionId> =
            self.held.get(agent).into_iter().flatten().collect();
        ids.extend(self.touched_order.iter());
        let mut offered: Vec<(i64, InteractionId)> = ids
            .into_iter()
            .filter_map(|id| self.interactions.get(id))
            .filter(|i| i.offered_agents().any(|a| a == agent))
            .map(|i| (i.queue_key, i.id.clone()))
            .collect();
        // Each re-queued interaction goes to the head of its queue: re-queue the one that was
        // furthest back first, so that they keep their order (and the step is deterministic).
        offered.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in offered {
            let routed = self
                .interactions
                .get(&id)
                .is_some_and(|i| i.offer.as_ref().is_some_and(|o| &o.agent_id == agent));
            if routed {
                if self.withdraw_offer(&id, reason).is_some() {
                    self.requeue_head(&id, now);
                }
            } else {
                self.withdraw_conference_offer(&id, reason, false);
            }
        }
    }

    fn connected(&mut self, agent: &AgentId) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get_mut(agent) else {
            return Err(DomainError::not_found("agent"));
        };
        slot.connections += 1;
        if slot.agent.disconnected_since.take().is_some() {
            self.changes.agents.insert(agent.clone());
            self.touched_agents.insert(agent.clone());
        }
        Ok(())
    }

    fn disconnected(&mut self, agent: &AgentId, now: Timestamp) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get_mut(agent) else {
            return Err(DomainError::not_found("agent"));
        };
        slot.connections = slot.connections.saturating_sub(1);
        if slot.connections == 0 && slot.agent.disconnected_since.is_none() {
            slot.agent.disconnected_since = Some(now);
            self.changes.agents.insert(agent.clone());
            self.touched_agents.insert(agent.clone());
        }
        Ok(())
    }

    // ----- Offers --------------------------------------------------------------------------

    /// Looks up an interaction the agent may see; 404 otherwise.
    fn visible(&self, agent: &AgentId, id: &InteractionId) -> Result<&Interaction, DomainError> {
        match self.interactions.get(id) {
            Some(i) if self.can_see(agent, i) => Ok(i),
            _ => Err(DomainError::not_found("interaction")),
        }
    }

    /// Like [`Engine::visible`], but an agent who just missed (or rejected) an offer of the
    /// interaction still knows it: answering an offer that expired a moment ago is a 409
    /// `offer_not_pending`, not a 404.
    fn visible_to_offeree(
        &self,
        agent: &AgentId,
        id: &InteractionId,
    ) -> Result<&Interaction, DomainError> {
        match self.interactions.get(id) {
            Some(i) if i.exclusions.iter().any(|e| &e.agent_id == agent) => Ok(i),
            _ => self.visible(agent, id),
        }
    }

    fn accept(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let it = self.visible_to_offeree(agent, id)?;
        let routed = it.offer.as_ref().filter(|o| &o.agent_id == agent).cloned();
        let conf = it
            .conference
            .as_ref()
            .and_then(|c| c.offer.as_ref())
            .filter(|o| &o.agent_id == agent)
            .cloned();
        if let Some(offer) = routed {
            self.touch(id);
            let conv = {
                let Some(it) = self.interactions.get_mut(id) else {
                    return Err(DomainError::not_found("interaction"));
                };
                it.offer = None;
                it.state = InteractionState::Active;
                it.owner_id = Some(agent.clone());
                if it.accepted_at.is_none() {
                    it.accepted_at = Some(now);
                }
                it.exclusions.retain(|e| &e.agent_id != agent);
                it.participants
                    .push(new_participant(agent, ParticipantRole::Owner, now));
                it.conversation_id.clone()
            };
            self.clear_sticky(id);
            self.changes.counters.accepts += 1;
            if let OfferKind::Transfer { from } = &offer.kind {
                let name = self.display_name(agent);
                let from_name = self.display_name(from);
                self.system_message(
                    id,
                    &conv,
                    format!("{name} accepted the transfer from {from_name}"),
                );
            }
            self.agent_changed(agent);
            Ok(())
        } else if conf.is_some() {
            self.touch(id);
            let conv = {
                let Some(it) = self.interactions.get_mut(id) else {
                    return Err(DomainError::not_found("interaction"));
                };
                it.conference = None;
                it.participants
                    .push(new_participant(agent, ParticipantRole::Conference, now));
                it.conversation_id.clone()
            };
            self.conference_waiting.remove(id);
            self.changes.counters.accepts += 1;
            self.changes.counters.conferences += 1;
            let name = self.display_name(agent);
            self.system_message(id, &conv, format!("{name} joined the conversation"));
            self.agent_changed(agent);
            Ok(())
        } else {
            Err(DomainError::conflict(
                "offer_not_pending",
                "there is no pending offer of this interaction for you (it was withdrawn, expired or taken)",
            ))
        }
    }

    fn reject(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let it = self.visible_to_offeree(agent, id)?;
        let routed = it.offer.as_ref().is_some_and(|o| &o.agent_id == agent);
        let conf = it
            .conference
            .as_ref()
            .and_then(|c| c.offer.as_ref())
            .is_some_and(|o| &o.agent_id == agent);
        if !routed && !conf {
            return Err(DomainError::conflict(
                "offer_not_pending",
                "there is no pending offer of this interaction for you (it was withdrawn, expired or taken)",
            ));
        }
        let can_reject = self.agent(agent).is_some_and(|a| a.can_reject);
        if !can_reject {
            return Err(DomainError::forbidden(
                "reject_not_permitted",
                "you are not permitted to reject offers; accept it or let an administrator grant can_reject",
            ));
        }
        self.changes.counters.rejects += 1;
        if routed {
            self.miss_offer(id, WithdrawReason::Rejected, now);
        } else {
            self.miss_conference_offer(id, WithdrawReason::Rejected, now);
        }
        Ok(())
    }

    /// the routed offer was rejected or timed out.
    fn miss_offer(&mut self, id: &InteractionId, reason: WithdrawReason, now: Timestamp) {
        let Some(offer) = self.withdraw_offer(id, reason) else {
            return;
        };
        self.clear_sticky(id);
        let exclusion_s = self.settings.offer_exclusion_s;
        if let Some(it) = self.interactions.get_mut(id) {
            exclude(it, &offer.agent_id, exclusion_s, now);
        }
        self.requeue_head(id, now);
        if reason == WithdrawReason::Timeout {
            self.changes.counters.misses += 1;
        }
        if let OfferKind::Transfer { from } = &offer.kind {
            let conv = self.interactions.get(id).map(|i| i.conversation_id.clone());
            if let Some(conv) = conv {
                let name = self.display_name(&offer.agent_id);
                let from_name = self.display_name(from);
                let what = if reason == WithdrawReason::Rejected {
                    "rejected"
                } else {
                    "did not answer"
                };
                self.system_message(
                    id,
                    &conv,
                    format!("{name} {what} the transfer from {from_name}; back in the queue"),
                );
            }
        }
        self.after_missed(&offer.agent_id, reason, now);
    }

    /// the presence `after_missed_offer` names, with the reason saying what happened.
    fn after_missed(&mut self, agent: &AgentId, why: WithdrawReason, now: Timestamp) {
        let reason = if why == WithdrawReason::Rejected {
            "Rejected offer"
        } else {
            "Missed offer"
        };
        let presence = match self.settings.after_missed_offer {
            AfterMissedOffer::Rona => Presence::Rona,
            AfterMissedOffer::OnBreak => Presence::OnBreak,
        };
        self.set_presence(agent, presence, Some(reason.to_owned()), now);
    }

    fn miss_conference_offer(
        &mut self,
        id: &InteractionId,
        reason: WithdrawReason,
        now: Timestamp,
    ) {
        let agent = self
            .interactions
            .get(id)
            .and_then(|i| i.conference.as_ref())
            .and_then(|c| c.offer.as_ref())
            .map(|o| o.agent_id.clone());
        let Some(agent) = agent else { return };
        self.withdraw_conference_offer(id, reason, true);
        let exclusion_s = self.settings.offer_exclusion_s;
        if let Some(it) = self.interactions.get_mut(id) {
            exclude(it, &agent, exclusion_s, now);
        }
        if reason == WithdrawReason::Timeout {
            self.changes.counters.misses += 1;
        }
        self.after_missed(&agent, reason, now);
    }

    /// Removes the routed offer and frees the agent's slot. The caller decides where the
    /// interaction goes next.
    fn withdraw_offer(&mut self, id: &InteractionId, reason: WithdrawReason) -> Option<Offer> {
        let offer = self.interactions.get(id)?.offer.clone()?;
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.offer = None;
        }
        self.free_slot(&offer.agent_id);
        self.changes.notices.push(Notice {
            to: vec![offer.agent_id.clone()],
            event: Event::OfferWithdrawn {
                interaction: id.clone(),
                agent: offer.agent_id.clone(),
                reason,
            },
        });
        Some(offer)
    }

    /// Removes a conference offer. For an invitation to a queue the request stays and another
    /// agent of the queue is tried, unless `cancel` or the request targeted that agent directly.
    fn withdraw_conference_offer(
        &mut self,
        id: &InteractionId,
        reason: WithdrawReason,
        missed: bool,
    ) {
        let Some(it) = self.interactions.get(id) else {
            return;
        };
        let Some(conf) = it.conference.clone() else {
            return;
        };
        let Some(offer) = conf.offer.clone() else {
            return;
        };
        let conv = it.conversation_id.clone();
        self.touch(id);
        let to_queue = matches!(conf.target, Target::Queue(_));
        if let Some(it) = self.interactions.get_mut(id) {
            if to_queue {
                if let Some(c) = it.conference.as_mut() {
                    c.offer = None;
                }
            } else {
                it.conference = None;
            }
        }
        if to_queue {
            self.conference_waiting.insert(id.clone());
        }
        self.free_slot(&offer.agent_id);
        self.changes.notices.push(Notice {
            to: vec![offer.agent_id.clone()],
            event: Event::OfferWithdrawn {
                interaction: id.clone(),
                agent: offer.agent_id.clone(),
                reason,
            },
        });
        if missed && !to_queue {
            let name = self.display_name(&offer.agent_id);
            self.system_message(id, &conv, format!("{name} declined the conference"));
        }
    }

    /// Cancels a pending conference request entirely (owner's "End conference", end, transfer).
    fn cancel_conference(&mut self, id: &InteractionId) {
        let has = self
            .interactions
            .get(id)
            .is_some_and(|i| i.conference.is_some());
        if !has {
            return;
        }
        self.withdraw_conference_offer(id, WithdrawReason::Cancelled, false);
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.conference = None;
        }
        self.conference_waiting.remove(id);
    }

    // ----- Handling ------------------------------------------------------------------------

    /// The interaction, if `agent` is an active participant of it.
    fn active_participant(
        &self,
        agent: &AgentId,
        id: &InteractionId,
    ) -> Result<(&Interaction, ParticipantRole), DomainError> {
        let it = self.visible(agent, id)?;
        match it.participant(agent) {
            Some(p) if p.state == ParticipantState::Active => Ok((it, p.role)),
            _ => Err(DomainError::conflict(
                "not_active",
                "you are not handling this interaction",
            )),
        }
    }

    fn transfer(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        target: Target,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let (_, role) = self.active_participant(agent, id)?;
        if role != ParticipantRole::Owner {
            return Err(DomainError::forbidden(
                "not_owner",
                "only the agent who owns the interaction can transfer it",
            ));
        }
        match &target {
            Target::Queue(q) => {
                if !self.queues.contains_key(q) {
                    return Err(DomainError::invalid(
                        "unknown_queue",
                        "the queue does not exist",
                    ));
                }
            }
            Target::Agent(a) => {
                if a == agent {
                    return Err(DomainError::invalid(
                        "transfer_to_self",
                        "you cannot transfer an interaction to yourself",
                    ));
                }
                self.check_can_take(a, id)?;
            }
        }
        let conv = self.interactions.get(id).map(|i| i.conversation_id.clone());
        self.cancel_conference(id);
        self.touch(id);
        let pp = self.post_processing_of(id);
        let leaving: Vec<AgentId> = self
            .interactions
            .get(id)
            .map(|i| {
                i.participants
                    .iter()
                    .filter(|p| p.state == ParticipantState::Active)
                    .map(|p| p.agent_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for a in &leaving {
            self.begin_wrap_up(id, a, pp, now);
        }
        if let Some(it) = self.interactions.get_mut(id) {
            it.owner_id = None;
        }
        self.changes.counters.transfers += 1;
        let from_name = self.display_name(agent);
        match target {
            Target::Queue(q) => {
                let qname = self.queue(&q).map(|q| q.name.clone()).unwrap_or_default();
                if let Some(it) = self.interactions.get_mut(id) {
                    it.queue_id = q;
                    it.waiting_since = now;
                    it.exclusions.clear();
                }
                self.enqueue_tail(id);
                if let Some(conv) = conv {
                    self.system_message(
                        id,
                        &conv,
                        format!("{from_name} transferred to queue {qname}"),
                    );
                }
            }
            Target::Agent(a) => {
                let to_name = self.display_name(&a);
                self.give_offer(
                    id,
                    &a,
                    OfferKind::Transfer {
                        from: agent.clone(),
                    },
                    now,
                );
                if let Some(conv) = conv {
                    self.system_message(id, &conv, format!("{from_name} transferred to {to_name}"));
                }
            }
        }
        Ok(())
    }

    /// Whether agent `a` could take an offer of this interaction right now.
    fn check_can_take(&self, a: &AgentId, id: &InteractionId) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get(a) else {
            return Err(DomainError::invalid(
                "unknown_agent",
                "the agent does not exist",
            ));
        };
        if slot.agent.presence != Presence::Available || slot.agent.stop_new {
            return Err(DomainError::conflict(
                "agent_unavailable",
                format!("{} is not available", slot.agent.display_name),
            ));
        }
        if slot.load >= slot.agent.capacity {
            return Err(DomainError::conflict(
                "agent_at_capacity",
                format!("{} has no free slot", slot.agent.display_name),
            ));
        }
        if self.interactions.get(id).is_some_and(|i| i.holds_slot(a)) {
            return Err(DomainError::conflict(
                "already_participant",
                format!("{} is already on this interaction", slot.agent.display_name),
            ));
        }
        Ok(())
    }

    fn conference_invite(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        target: Target,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let (it, role) = self.active_participant(agent, id)?;
        if role != ParticipantRole::Owner {
            return Err(DomainError::forbidden(
                "not_owner",
                "only the agent who owns the interaction can invite to a conference",
            ));
        }
        if it.conference.is_some() {
            return Err(DomainError::conflict(
                "conference_pending",
                "a conference request is already pending",
            ));
        }
        match &target {
            Target::Queue(q) => {
                if !self.queues.contains_key(q) {
                    return Err(DomainError::invalid(
                        "unknown_queue",
                        "the queue does not exist",
                    ));
                }
            }
            Target::Agent(a) => {
                if a == agent {
                    return Err(DomainError::invalid(
                        "conference_with_self",
                        "you cannot invite yourself",
                    ));
                }
                self.check_can_take(a, id)?;
            }
        }
        self.touch(id);
        let offer_to = match &target {
            Target::Agent(a) => Some(a.clone()),
            Target::Queue(_) => None,
        };
        if let Some(it) = self.interactions.get_mut(id) {
            it.conference = Some(ConferenceRequest {
                target,
                requested_by: agent.clone(),
                requested_at: now,
                offer: None,
            });
        }
        match offer_to {
            Some(a) => self.give_conference_offer(id, &a, agent, now),
            None => {
                self.conference_waiting.insert(id.clone());
            }
        }
        Ok(())
    }

    fn conference_end(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let (it, role) = self.active_participant(agent, id)?;
        let pp = self.post_processing_of(id);
        match role {
            ParticipantRole::Owner => {
                let invited: Vec<AgentId> = it
                    .participants
                    .iter()
                    .filter(|p| {
                        p.role == ParticipantRole::Conference && p.state == ParticipantState::Active
                    })
                    .map(|p| p.agent_id.clone())
                    .collect();
                if invited.is_empty() && it.conference.is_none() {
                    return Err(DomainError::conflict(
                        "no_conference",
                        "there is no conference to end",
                    ));
                }
                let conv = it.conversation_id.clone();
                self.cancel_conference(id);
                for a in invited {
                    self.begin_wrap_up(id, &a, pp, now);
                    let name = self.display_name(&a);
                    self.system_message(id, &conv, format!("{name} left the conversation"));
                }
            }
            ParticipantRole::Conference => self.leave(id, agent, pp, now),
        }
        Ok(())
    }

    fn leave(&mut self, id: &InteractionId, agent: &AgentId, pp: u32, now: Timestamp) {
        let conv = self.interactions.get(id).map(|i| i.conversation_id.clone());
        self.begin_wrap_up(id, agent, pp, now);
        if let Some(conv) = conv {
            let name = self.display_name(agent);
            self.system_message(id, &conv, format!("{name} left the conversation"));
        }
    }

    fn end(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let (_, role) = self.active_participant(agent, id)?;
        let pp = self.post_processing_of(id);
        if role == ParticipantRole::Conference {
            self.leave(id, agent, pp, now);
            return Ok(());
        }
        self.cancel_conference(id);
        self.touch(id);
        let (active, conv) = match self.interactions.get_mut(id) {
            Some(it) => {
                it.state = InteractionState::WrapUp;
                it.ended_at = Some(now);
                let active: Vec<AgentId> = it
                    .participants
                    .iter()
                    .filter(|p| p.state == ParticipantState::Active)
                    .map(|p| p.agent_id.clone())
                    .collect();
                (active, it.conversation_id.clone())
            }
            None => return Err(DomainError::not_found("interaction")),
        };
        if self.open_by_conversation.get(&conv) == Some(id) {
            self.open_by_conversation.remove(&conv);
        }
        for a in active {
            self.begin_wrap_up(id, &a, pp, now);
        }
        let name = self.display_name(agent);
        self.system_message(id, &conv, format!("{name} ended the conversation"));
        Ok(())
    }

    fn wrap_up(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        disposition_code: Option<String>,
        note: Option<String>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let it = self.visible(agent, id)?;
        match it.participant(agent) {
            Some(p) if p.state == ParticipantState::WrapUp => {}
            _ => {
                return Err(DomainError::conflict(
                    "not_in_wrap_up",
                    "you are not in wrap-up for this interaction",
                ))
            }
        }
        let disposition_code = disposition_code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        let queue = self.queue(&it.queue_id);
        if let Some(q) = queue {
            match &disposition_code {
                Some(code) if !q.dispositions.iter().any(|d| &d.code == code) => {
                    return Err(DomainError::invalid(
                        "unknown_disposition",
                        format!("'{code}' is not a disposition of queue {}", q.name),
                    ));
                }
                Some(_) => {}
                None if q.disposition_required => {
                    return Err(DomainError::invalid(
                        "disposition_required",
                        format!("queue {} requires a disposition code", q.name),
                    ))
                }
                None => {}
            }
        }
        if note.as_ref().is_some_and(|n| n.len() > 10_000) {
            return Err(DomainError::invalid(
                "note_too_long",
                "the wrap-up note is longer than 10000 bytes",
            ));
        }
        self.finish_wrap_up(id, agent, disposition_code, note, now);
        self.changes.counters.wrap_ups += 1;
        Ok(())
    }

    fn agent_reply(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.active_participant(agent, id)?;
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.unread = 0;
            it.awaiting_reply_since = None;
            it.last_agent_reply_at = Some(now);
        }
        Ok(())
    }

    fn mark_read(&mut self, agent: &AgentId, id: &InteractionId) -> Result<(), DomainError> {
        let it = self.visible(agent, id)?;
        if it
            .participant(agent)
            .is_none_or(|p| p.state == ParticipantState::Done)
        {
            return Err(DomainError::conflict(
                "not_active",
                "you are not handling this interaction",
            ));
        }
        if it.unread > 0 {
            self.touch(id);
            if let Some(it) = self.interactions.get_mut(id) {
                it.unread = 0;
            }
        }
        Ok(())
    }

    fn inbound(&mut self, msg: Inbound, now: Timestamp) -> Result<Reply, DomainError> {
        if let Some(id) = self.open_by_conversation.get(&msg.conversation_id).cloned() {
            self.touch(&id);
            if let Some(it) = self.interactions.get_mut(&id) {
                it.unread += 1;
                it.last_inbound_at = Some(now);
                if it.awaiting_reply_since.is_none() {
                    it.awaiting_reply_since = Some(now);
                }
                if msg.customer.name.is_some() {
                    it.customer.name = msg.customer.name;
                }
            }
            return Ok(Reply::Inbound {
                interaction_id: id,
                created: false,
            });
        }
        let Some(queue) = self.queue(&msg.queue_id) else {
            return Err(DomainError::invalid(
                "unknown_queue",
                "the channel's queue does not exist",
            ));
        };
        if self.interactions.contains_key(&msg.new_interaction_id) {
            return Err(DomainError::conflict(
                "duplicate_id",
                "interaction id already in use",
            ));
        }
        let sticky = match (&msg.last_agent, queue.sticky) {
            (Some(a), true) if self.agents.contains_key(a) => Some(StickyHold {
                agent_id: a.clone(),
                until: now.plus_secs(queue.sticky_timeout_s),
            }),
            _ => None,
        };
        let id = msg.new_interaction_id.clone();
        self.tail_key += 1;
        let it = Interaction {
            id: id.clone(),
            state: InteractionState::Queued,
            queue_id: msg.queue_id,
            conversation_id: msg.conversation_id.clone(),
            channel_id: msg.channel_id,
            customer: msg.customer,
            source_number: msg.source_number,
            first_message: msg.summary,
            contact_id: msg.contact_id,
            created_at: now,
            waiting_since: now,
            queue_key: self.tail_key,
            accepted_at: None,
            ended_at: None,
            owner_id: None,
            participants: Vec::new(),
            offer: None,
            conference: None,
            exclusions: Vec::new(),
            sticky,
            unread: 1,
            last_inbound_at: Some(now),
            last_agent_reply_at: None,
            awaiting_reply_since: Some(now),
            last_outbound_failed: false,
        };
        if let Some(hold) = &it.sticky {
            self.sticky_holds
                .entry(hold.agent_id.clone())
                .or_default()
                .insert(id.clone());
        }
        self.interactions.insert(id.clone(), it);
        self.touch(&id);
        self.open_by_conversation
            .insert(msg.conversation_id, id.clone());
        self.insert_waiting(&id);
        Ok(Reply::Inbound {
            interaction_id: id,
            created: true,
        })
    }

    fn start_outbound(&mut self, o: Outbound, now: Timestamp) -> Result<Reply, DomainError> {
        let Some(slot) = self.agents.get(&o.agent) else {
            return Err(DomainError::not_found("agent"));
        };
        let (load, capacity) = (slot.load, slot.agent.capacity);
        if self.queue(&o.queue_id).is_none() {
            return Err(DomainError::invalid(
                "unknown_queue",
                "the channel's queue does not exist",
            ));
        }
        if let Some(open) = self.open_by_conversation.get(&o.conversation_id) {
            let mine = self
                .interactions
                .get(open)
                .and_then(|i| i.participant(&o.agent))
                .is_some_and(|p| p.state == ParticipantState::Active);
            return Err(DomainError::conflict(
                if mine {
                    "already_yours"
                } else {
                    "conversation_open"
                },
                if mine {
                    "you already have an open interaction with this customer"
                } else {
                    "this customer already has an open interaction"
                },
            ));
        }
        // an outbound start takes a slot like an accepted offer, never one too many.
        if load >= capacity {
            return Err(DomainError::conflict(
                "at_capacity",
                format!(
                    "you are at capacity ({load} of {capacity} interactions): end or wrap up one before starting another"
                ),
            ));
        }
        if self.interactions.contains_key(&o.new_interaction_id) {
            return Err(DomainError::conflict(
                "duplicate_id",
                "interaction id already in use",
            ));
        }
        let id = o.new_interaction_id.clone();
        self.tail_key += 1;
        let it = Interaction {
            id: id.clone(),
            state: InteractionState::Active,
            queue_id: o.queue_id,
            conversation_id: o.conversation_id.clone(),
            channel_id: o.channel_id,
            customer: o.customer,
            source_number: o.source_number,
            first_message: None,
            contact_id: o.contact_id,
            created_at: now,
            waiting_since: now,
            queue_key: self.tail_key,
            accepted_at: Some(now),
            ended_at: None,
            owner_id: Some(o.agent.clone()),
            participants: vec![new_participant(&o.agent, ParticipantRole::Owner, now)],
            offer: None,
            conference: None,
            exclusions: Vec::new(),
            sticky: None,
            unread: 0,
            last_inbound_at: o.last_inbound_at,
            last_agent_reply_at: None,
            awaiting_reply_since: None,
            last_outbound_failed: false,
        };
        self.interactions.insert(id.clone(), it);
        self.touch(&id);
        self.open_by_conversation
            .insert(o.conversation_id, id.clone());
        self.take_slot(&o.agent, now);
        Ok(Reply::Inbound {
            interaction_id: id,
            created: true,
        })
    }

    fn set_contact(
        &mut self,
        by: &AgentId,
        id: &InteractionId,
        contact_id: Option<String>,
    ) -> Result<(), DomainError> {
        let it = self.visible(by, id)?;
        let supervisor = self.agent(by).is_some_and(|a| a.role >= Role::Supervisor);
        if !supervisor && it.participant(by).is_none() {
            return Err(DomainError::conflict(
                "not_active",
                "you are not handling this interaction",
            ));
        }
        if it.contact_id == contact_id {
            return Ok(());
        }
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.contact_id = contact_id;
        }
        Ok(())
    }

    // ----- Building blocks -----------------------------------------------------------------

    fn display_name(&self, agent: &AgentId) -> String {
        self.agent(agent)
            .map_or_else(|| agent.to_string(), |a| a.display_name.clone())
    }

    fn post_processing_of(&self, id: &InteractionId) -> u32 {
        self.interactions
            .get(id)
            .and_then(|i| self.queue(&i.queue_id))
            .map_or(DEFAULT_POST_PROCESSING_S, |q| q.post_processing_s)
    }

    fn system_message(&mut self, id: &InteractionId, conv: &ConversationId, text: String) {
        self.changes.system_messages.push(SystemMessage {
            interaction: id.clone(),
            conversation: conv.clone(),
            text,
        });
    }

    fn push_presence(&mut self, agent: &AgentId) {
        let to = self.presence_audience(agent);
        self.changes.notices.push(Notice {
            to,
            event: Event::PresenceChanged {
                agent: agent.clone(),
            },
        });
    }

    /// Marks an interaction changed in this step, remembering who saw it before the change.
    fn touch(&mut self, id: &InteractionId) {
        if self.touched_audience.contains_key(id) {
            return;
        }
        let before = self
            .interactions
            .get(id)
            .map(|i| self.audience(i))
            .unwrap_or_default();
        self.touched_audience.insert(id.clone(), before);
        self.touched_order.push(id.clone());
    }

    /// An agent's routing-relevant state changed: persist it and re-evaluate its queues.
    ///
    /// The router looks at the agent again before its next decision (see `reindex_agent`): if
    /// their readiness changed, the queues they could be offered from are re-evaluated.
    fn agent_changed(&mut self, agent: &AgentId) {
        // (Looked up first: an agent often changes several times in one step.)
        if !self.changes.agents.contains(agent) {
            self.changes.agents.insert(agent.clone());
        }
        if !self.touched_agents.contains(agent) {
            self.touched_agents.insert(agent.clone());
        }
        if self.reindex.last() != Some(agent) {
            self.reindex.push(agent.clone());
        }
    }

    /// the interaction is no longer reserved for its last agent.
    pub(super) fn clear_sticky(&mut self, id: &InteractionId) {
        let Some(hold) = self.interactions.get_mut(id).and_then(|i| i.sticky.take()) else {
            return;
        };
        self.touch(id);
        if let Some(set) = self.sticky_holds.get_mut(&hold.agent_id) {
            set.remove(id);
            if set.is_empty() {
                self.sticky_holds.remove(&hold.agent_id);
            }
        }
        if let Some(it) = self.interactions.get(id) {
            if it.state == InteractionState::Queued {
                if let Some(slot) = self.queues.get_mut(&it.queue_id) {
                    slot.sticky_waiting.remove(&it.queue_key);
                }
            }
            self.dirty_queues.insert(it.queue_id.clone());
        }
    }

    fn free_slot(&mut self, agent: &AgentId) {
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.load = slot.load.saturating_sub(1);
        }
        self.agent_changed(agent);
    }

    fn take_slot(&mut self, agent: &AgentId, now: Timestamp) {
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.load += 1;
            slot.agent.last_idle_at = now;
        }
        self.agent_changed(agent);
    }

    fn give_offer(&mut self, id: &InteractionId, agent: &AgentId, kind: OfferKind, now: Timestamp) {
        let deadline = now.plus_secs(self.acceptance_interval_of(id));
        self.remove_waiting(id);
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.state = InteractionState::Offered;
            it.offer = Some(Offer {
                agent_id: agent.clone(),
                kind,
                offered_at: now,
                deadline,
            });
        }
        self.take_slot(agent, now);
        self.changes.counters.offers += 1;
        self.changes.offers.push((id.clone(), agent.clone()));
        self.changes.notices.push(Notice {
            to: vec![agent.clone()],
            event: Event::OfferCreated {
                interaction: id.clone(),
                agent: agent.clone(),
            },
        });
    }

    fn give_conference_offer(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        from: &AgentId,
        now: Timestamp,
    ) {
        let deadline = now.plus_secs(self.acceptance_interval_of(id));
        self.touch(id);
        if let Some(c) = self
            .interactions
            .get_mut(id)
            .and_then(|i| i.conference.as_mut())
        {
            c.offer = Some(Offer {
                agent_id: agent.clone(),
                kind: OfferKind::Conference { from: from.clone() },
                offered_at: now,
                deadline,
            });
        }
        self.conference_waiting.remove(id);
        self.take_slot(agent, now);
        self.changes.counters.offers += 1;
        self.changes.offers.push((id.clone(), agent.clone()));
        self.changes.notices.push(Notice {
            to: vec![agent.clone()],
            event: Event::OfferCreated {
                interaction: id.clone(),
                agent: agent.clone(),
            },
        });
    }

    fn acceptance_interval_of(&self, id: &InteractionId) -> u32 {
        self.interactions
            .get(id)
            .and_then(|i| self.queue(&i.queue_id))
            .map_or(DEFAULT_ACCEPTANCE_INTERVAL_S, |q| q.acceptance_interval_s)
    }

    fn remove_waiting(&mut self, id: &InteractionId) {
        let Some(it) = self.interactions.get(id) else {
            return;
        };
        if it.state != InteractionState::Queued {
            return;
        }
        let (q, key) = (it.queue_id.clone(), it.queue_key);
        if let Some(slot) = self.queues.get_mut(&q) {
            slot.waiting.remove(&key);
            slot.sticky_waiting.remove(&key);
        }
        self.dirty_queues.insert(q);
    }

    fn insert_waiting(&mut self, id: &InteractionId) {
        let Some(it) = self.interactions.get(id) else {
            return;
        };
        let (q, key, sticky) = (it.queue_id.clone(), it.queue_key, it.sticky.is_some());
        if let Some(slot) = self.queues.get_mut(&q) {
            slot.waiting.insert(key, id.clone());
            if sticky {
                slot.sticky_waiting.insert(key);
            }
        }
        self.dirty_queues.insert(q);
    }

    /// Puts the interaction back at the head of its queue.
    fn requeue_head(&mut self, id: &InteractionId, _now: Timestamp) {
        self.remove_waiting(id);
        self.head_key -= 1;
        let key = self.head_key;
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.state = InteractionState::Queued;
            it.queue_key = key;
        }
        self.insert_waiting(id);
    }

    fn enqueue_tail(&mut self, id: &InteractionId) {
        self.remove_waiting(id);
        self.tail_key += 1;
        let key = self.tail_key;
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.state = InteractionState::Queued;
            it.queue_key = key;
        }
        self.insert_waiting(id);
    }

    fn begin_wrap_up(&mut self, id: &InteractionId, agent: &AgentId, pp: u32, now: Timestamp) {
        self.touch(id);
        if let Some(p) = self
            .interactions
            .get_mut(id)
            .and_then(|i| i.participant_mut(agent))
        {
            p.state = ParticipantState::WrapUp;
            p.left_at = Some(now);
            p.wrap_up_deadline = (pp > 0).then(|| now.plus_secs(pp));
        }
        self.agent_changed(agent);
    }

    fn finish_wrap_up(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        disposition_code: Option<String>,
        note: Option<String>,
        now: Timestamp,
    ) {
        self.touch(id);
        if let Some(p) = self
            .interactions
            .get_mut(id)
            .and_then(|i| i.participant_mut(agent))
        {
            p.state = ParticipantState::Done;
            p.wrap_up_deadline = None;
            p.wrapped_up_at = Some(now);
            p.disposition_code = disposition_code;
            p.wrap_up_note = note;
        }
        self.free_slot(agent);
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.agent.last_idle_at = now;
        }
        self.maybe_done(id);
    }

    /// An ended interaction whose every participant finished wrap-up is done.
    fn maybe_done(&mut self, id: &InteractionId) {
        let done = self.interactions.get(id).is_some_and(|i| {
            i.state == InteractionState::WrapUp
                && i.offer.is_none()
                && i.conference.is_none()
                && i.participants
                    .iter()
                    .all(|p| p.state == ParticipantState::Done)
        });
        if done {
            self.touch(id);
            if let Some(it) = self.interactions.get_mut(id) {
                it.state = InteractionState::Done;
            }
        }
    }

    /// Ends a step: syncs timers of what changed, emits `interaction.updated` notices, and hands
    /// the accumulated changes out. Done interactions leave the engine here.
    fn finish_step(&mut self) -> Changes {
        // The bookkeeping collections are emptied and handed back, keeping their allocations.
        let mut order = std::mem::take(&mut self.touched_order);
        let mut before = std::mem::take(&mut self.touched_audience);
        for id in order.drain(..) {
            let mut to = before.remove(&id).unwrap_or_default();
            let Some(it) = self.interactions.get(&id) else {
                self.reindex_holders(&id);
                continue;
            };
            to.extend(self.audience(it));
            to.sort();
            to.dedup();
            if it.state == InteractionState::Done {
                if let Some(it) = self.interactions.remove(&id) {
                    if self.open_by_conversation.get(&it.conversation_id) == Some(&id) {
                        self.open_by_conversation.remove(&it.conversation_id);
                    }
                    self.timers.remove_interaction(&id);
                    self.conference_waiting.remove(&id);
                    self.changes.finished.push(it);
                }
            } else {
                self.sync_interaction_timers(&id);
                self.changes.interactions.insert(id.clone());
            }
            self.reindex_holders(&id);
            self.changes.notices.push(Notice {
                to,
                event: Event::InteractionUpdated { interaction: id },
            });
        }
        before.clear();
        self.touched_order = order;
        self.touched_audience = before;
        self.sync_touched_agent_timers();
        self.touched_agents.clear();
        std::mem::take(&mut self.changes)
    }
}

impl Engine {
    /// Brings the agent ⇄ interaction index up to date for one interaction.
    fn reindex_holders(&mut self, id: &InteractionId) {
        let now: Vec<AgentId> = match self.interactions.get(id) {
            Some(it) if it.state != InteractionState::Done => {
                let mut v: Vec<AgentId> = it.offered_agents().cloned().collect();
                v.extend(
                    it.participants
                        .iter()
                        .filter(|p| p.state != ParticipantState::Done)
                        .map(|p| p.agent_id.clone()),
                );
                v.sort();
                v.dedup();
                v
            }
            _ => Vec::new(),
        };
        let old = self.holders.remove(id).unwrap_or_default();
        for a in old.iter().filter(|a| !now.contains(a)) {
            if let Some(set) = self.held.get_mut(a) {
                set.remove(id);
                if set.is_empty() {
                    self.held.remove(a);
                }
            }
        }
        for a in &now {
            self.held.entry(a.clone()).or_default().insert(id.clone());
        }
        if !now.is_empty() {
            self.holders.insert(id.clone(), now);
        }
    }

    /// Whether the agent ⇄ interaction index matches the interactions (for `check_invariants`).
    pub(crate) fn holders_consistent(&self) -> Result<(), String> {
        for it in self.interactions.values() {
            for a in self.agents.keys() {
                let indexed = self.held.get(a).is_some_and(|s| s.contains(&it.id));
                if indexed != it.holds_slot(a) {
                    return Err(format!("holder index of {} out of step for {a}", it.id));
                }
            }
        }
        for (a, ids) in &self.held {
            for id in ids {
                if !self.interactions.contains_key(id) {
                    return Err(format!("holder index lists gone {id} for {a}"));
                }
            }
        }
        Ok(())
    }
}

/// keeps `agent` away from re-offers of `it` for `secs` (0: not at all).
fn exclude(it: &mut Interaction, agent: &AgentId, secs: u32, now: Timestamp) {
    it.exclusions.retain(|e| &e.agent_id != agent);
    if secs > 0 {
        it.exclusions.push(Exclusion {
            agent_id: agent.clone(),
            until: now.plus_secs(secs),
        });
    }
}

fn new_participant(agent: &AgentId, role: ParticipantRole, now: Timestamp) -> Participant {
    Participant {
        agent_id: agent.clone(),
        role,
        state: ParticipantState::Active,
        joined_at: now,
        left_at: None,
        wrap_up_deadline: None,
        disposition_code: None,
        wrap_up_note: None,
        wrapped_up_at: None,
    }
}

/// Checks a queue's configuration.
pub fn validate_queue(q: &Queue) -> Result<(), DomainError> {
    if q.name.trim().is_empty() || q.name.len() > 200 {
        return Err(DomainError::invalid(
            "invalid_name",
            "queue name must be 1 to 200 bytes",
        ));
    }
    if !(1..=100).contains(&q.priority) {
        return Err(DomainError::invalid(
            "invalid_priority",
            "priority must be between 1 and 100",
        ));
    }
    if !(1..=3600).contains(&q.acceptance_interval_s) {
        return Err(DomainError::invalid(
            "invalid_acceptance_interval",
            "acceptance_interval_s must be between 1 and 3600",
        ));
    }
    if q.post_processing_s > 86_400 {
        return Err(DomainError::invalid(
            "invalid_post_processing",
            "post_processing_s must be between 0 and 86400",
        ));
    }
    if !(1..=86_400).contains(&q.sla_response_s) {
        return Err(DomainError::invalid(
            "invalid_sla_response",
            "sla_response_s must be between 1 and 86400",
        ));
    }
    if !(1..=86_400).contains(&q.sticky_timeout_s) {
        return Err(DomainError::invalid(
            "invalid_sticky_timeout",
            "sticky_timeout_s must be between 1 and 86400",
        ));
    }
    let mut codes = HashSet::new();
    for d in &q.dispositions {
        if d.code.trim().is_empty() || d.code.len() > 100 || d.label.trim().is_empty() {
            return Err(DomainError::invalid(
                "invalid_disposition",
                "each disposition needs a code (1 to 100 bytes) and a label",
            ));
        }
        if !codes.insert(d.code.as_str()) {
            return Err(DomainError::invalid(
                "duplicate_disposition",
                format!("disposition code '{}' appears twice", d.code),
            ));
        }
    }
    if q.disposition_required && q.dispositions.is_empty() {
        return Err(DomainError::invalid(
            "disposition_required_without_codes",
            "a queue that requires a disposition needs at least one disposition code",
        ));
    }
    Ok(())
}

/// Checks global settings.
pub fn validate_settings(s: &Settings) -> Result<(), DomainError> {
    if !(1..=2_147_483_647).contains(&s.max_text_message_size) {
        return Err(DomainError::invalid(
            "invalid_max_text_message_size",
            "max_text_message_size must be between 1 and 2147483647",
        ));
    }
    if !(1..=1000).contains(&s.transcript_interactions_count) {
        return Err(DomainError::invalid(
            "invalid_transcript_interactions_count",
            "transcript_interactions_count must be between 1 and 1000",
        ));
    }
    if s.offer_exclusion_s > 86_400 || s.disconnect_grace_s > 86_400 {
        return Err(DomainError::invalid(
            "invalid_duration",
            "offer_exclusion_s and disconnect_grace_s must be at most 86400",
        ));
    }
    if s.break_reasons
        .iter()
        .any(|r| r.trim().is_empty() || r.len() > 100)
    {
        return Err(DomainError::invalid(
            "invalid_break_reason",
            "break reasons must be 1 to 100 bytes",
        ));
    }
    Ok(())
}
