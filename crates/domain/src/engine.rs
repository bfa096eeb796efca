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
//!
//! The engine is one type, [`Engine`], whose rules are spread over files by concern: the command
//! and result types (`command.rs`), admin commands (`admin.rs`), agent presence and connections
//! (`presence.rs`), offers (`offers.rs`), handling an accepted interaction (`handling.rs`:
//! transfer, conference, end, wrap-up), a supervisor acting on others' work (`supervisor.rs`:
//! an agent's presence, take-over), customer messages and outbound starts (`inbound.rs`),
//! slot and waiting-list bookkeeping (`slots.rs`), the router (`routing.rs`), deadlines
//! (`timers.rs`), a replica kept from committed rows on other nodes (`replica.rs`) and the invariant checks (`invariants.rs`). This file holds the state, the
//! queries and the step: [`Engine::apply`] and [`Engine::tick`], the dispatch of commands, and
//! what every step records before handing out its changes.

use crate::error::DomainError;
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod admin;
mod command;
mod facts;
mod handling;
mod inbound;
#[cfg(any(test, feature = "test-support"))]
mod invariants;
mod offers;
mod presence;
mod replica;
mod routing;
mod slots;
mod supervisor;
mod timers;

pub use admin::{validate_queue, validate_settings};
pub use command::{
    Changes, Command, Counters, Event, Inbound, Notice, Outbound, Outcome, Reply, SystemMessage,
    WithdrawReason,
};
pub use facts::{Fact, FactKind, OfferOutcome, OfferSource};
pub use replica::Delta;
pub use timers::Timer;

/// What [`Engine::queue_load`] says of a queue now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLoad {
    pub waiting: usize,
    /// The arrival of the longest-waiting interaction, if any waits.
    pub oldest_waiting_since: Option<Timestamp>,
    pub available_agents: usize,
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
    /// A queue on the supervisor's board: how many wait, since when the longest has
    /// waited (its arrival), and how many members could take an offer now (available, not
    /// stop-new, below capacity). `None` for an unknown queue.
    pub fn queue_load(&self, queue: &QueueId) -> Option<QueueLoad> {
        let q = self.queues.get(queue)?;
        let oldest = q
            .waiting
            .values()
            .filter_map(|id| self.interactions.get(id))
            .map(|i| i.created_at)
            .min();
        Some(QueueLoad {
            waiting: q.waiting.len(),
            oldest_waiting_since: oldest,
            available_agents: q.ready.len(),
        })
    }
    pub fn interaction(&self, id: &InteractionId) -> Option<&Interaction> {
        self.interactions.get(id)
    }
    pub fn interactions(&self) -> impl Iterator<Item = &Interaction> {
        self.interactions.values()
    }
    /// The open interaction of a conversation, if any (test support).
    #[cfg(any(test, feature = "test-support"))]
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
    /// Every pending deadline (test support).
    #[cfg(any(test, feature = "test-support"))]
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
            Command::DeleteAgent(id) => self.delete_agent(&id, now).map(|_| Reply::Done),
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
            Command::SetAgentPresence {
                supervisor,
                agent,
                presence,
                reason,
            } => self
                .cmd_set_agent_presence(&supervisor, &agent, presence, reason, now)
                .map(|_| Reply::Done),
            Command::TakeOver {
                supervisor,
                interaction,
            } => self
                .take_over(&supervisor, &interaction, now)
                .map(|_| Reply::Done),
            Command::Reassign {
                supervisor,
                interaction,
                target,
            } => self
                .reassign(&supervisor, &interaction, target, now)
                .map(|_| Reply::Done),
            Command::Connected { agent } => self.connected(&agent).map(|_| Reply::Done),
            Command::Disconnected { agent } => self.disconnected(&agent, now).map(|_| Reply::Done),
        }
    }

    // ----- Step bookkeeping ------------------------------------------------------------------

    /// Looks up an interaction the agent may see; 404 otherwise.
    fn visible(&self, agent: &AgentId, id: &InteractionId) -> Result<&Interaction, DomainError> {
        match self.interactions.get(id) {
            Some(i) if self.can_see(agent, i) => Ok(i),
            _ => Err(DomainError::not_found("interaction")),
        }
    }

    fn display_name(&self, agent: &AgentId) -> String {
        self.agent(agent)
            .map_or_else(|| agent.to_string(), |a| a.display_name.clone())
    }

    fn system_message(&mut self, id: &InteractionId, conv: &ConversationId, text: String) {
        self.changes.system_messages.push(SystemMessage {
            interaction: id.clone(),
            conversation: conv.clone(),
            text,
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
