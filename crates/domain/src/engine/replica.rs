//! A copy of the engine kept up to date from committed rows (several nodes, R-11.3): a node
//! that is not the router applies each commit's stored rows of agents, queues, interactions and
//! settings ([`Delta`]) instead of loading the whole state from the store again.
//!
//! Applying a delta gives the engine that [`Engine::load`] would build from the same rows
//! (derived indexes included: loads, waiting lists, ready sets, holders, timers), except that
//! agents keep the live state their rows carry (a load treats every agent who is not offline
//! as disconnected since the load). A replica never routes: the routing bookkeeping a step
//! leaves behind is dropped after each delta.

use super::{AgentSlot, Changes, Engine, QueueSlot};
use crate::model::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What one commit changed in the engine, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_agents: Vec<AgentId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<Queue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_queues: Vec<QueueId>,
    /// Interactions as committed; those in state `done` leave the engine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interactions: Vec<Interaction>,
}

impl Delta {
    /// Whether applying this would change nothing.
    pub fn is_empty(&self) -> bool {
        self.settings.is_none()
            && self.agents.is_empty()
            && self.deleted_agents.is_empty()
            && self.queues.is_empty()
            && self.deleted_queues.is_empty()
            && self.interactions.is_empty()
    }
}

impl Delta {
    /// The rows one step's `changes` gives `engine` to store (what the core commits: the
    /// step's changed agents, queues and interactions as the engine now holds them, and those
    /// that finished), appended to `self`.
    pub fn add(&mut self, engine: &Engine, changes: &Changes) {
        self.agents.extend(
            changes
                .agents
                .iter()
                .filter_map(|a| engine.agent(a).cloned()),
        );
        self.deleted_agents
            .extend(changes.deleted_agents.iter().cloned());
        self.queues.extend(
            changes
                .queues
                .iter()
                .filter_map(|q| engine.queue(q).cloned()),
        );
        self.deleted_queues
            .extend(changes.deleted_queues.iter().cloned());
        if changes.settings_changed {
            self.settings = Some(engine.settings().clone());
        }
        self.interactions.extend(
            changes
                .interactions
                .iter()
                .filter_map(|i| engine.interaction(i).cloned()),
        );
        self.interactions.extend(changes.finished.iter().cloned());
    }
}

impl Engine {
    /// Applies one commit's rows (see the module's documentation). Rows are applied as they
    /// are: a delta older than the state (one applied again after a reload) sets those rows
    /// back until the newer deltas that follow it are applied.
    pub fn apply_delta(&mut self, d: Delta) {
        let mut reindex: BTreeSet<AgentId> = BTreeSet::new();
        if let Some(s) = d.settings {
            let grace_changed = s.disconnect_grace_s != self.settings.disconnect_grace_s;
            self.settings = s;
            if grace_changed {
                let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
                for a in &ids {
                    self.sync_agent_timer(a);
                }
            }
        }
        for q in d.queues {
            match self.queues.get_mut(&q.id) {
                Some(slot) => {
                    let policy_changed = slot.queue.routing_policy != q.routing_policy;
                    let id = q.id.clone();
                    slot.queue = q;
                    if policy_changed {
                        self.rebuild_ready(&id);
                    }
                }
                None => {
                    self.queues.insert(q.id.clone(), QueueSlot::new(q));
                }
            }
        }
        for mut a in d.agents {
            let id = a.id.clone();
            self.unindex_agent(&id);
            a.queue_ids.retain(|q| self.queues.contains_key(q));
            let old_queues = match self.agents.get_mut(&id) {
                Some(slot) => std::mem::replace(&mut slot.agent, a.clone()).queue_ids,
                None => {
                    self.agents.insert(id.clone(), AgentSlot::new(a.clone()));
                    Vec::new()
                }
            };
            for q in old_queues.iter().filter(|q| !a.queue_ids.contains(q)) {
                if let Some(slot) = self.queues.get_mut(q) {
                    slot.members.remove(&id);
                }
            }
            for q in &a.queue_ids {
                if let Some(slot) = self.queues.get_mut(q) {
                    slot.members.insert(id.clone());
                }
            }
            if a.role >= Role::Supervisor {
                self.supervisors.insert(id.clone());
            } else {
                self.supervisors.remove(&id);
            }
            self.sync_agent_timer(&id);
            reindex.insert(id);
        }
        for it in d.interactions {
            let id = it.id.clone();
            self.unlink_interaction(&id, &mut reindex);
            if it.state == InteractionState::Done {
                self.interactions.remove(&id);
                self.timers.remove_interaction(&id);
                self.reindex_holders(&id);
                continue;
            }
            self.tail_key = self.tail_key.max(it.queue_key);
            self.head_key = self.head_key.min(it.queue_key);
            self.interactions.insert(id.clone(), it);
            self.link_interaction(&id, &mut reindex);
        }
        for id in &d.deleted_agents {
            self.unindex_agent(id);
            self.supervisors.remove(id);
            if let Some(slot) = self.agents.remove(id) {
                for q in slot.agent.queue_ids {
                    if let Some(qs) = self.queues.get_mut(&q) {
                        qs.members.remove(id);
                    }
                }
            }
            self.timers.remove_agent(id);
            reindex.remove(id);
        }
        for id in &d.deleted_queues {
            if let Some(slot) = self.queues.remove(id) {
                for a in slot.members {
                    if let Some(s) = self.agents.get_mut(&a) {
                        s.agent.queue_ids.retain(|q| q != id);
                    }
                }
            }
            self.candidates.remove(id);
        }
        for a in &reindex {
            self.reindex_agent(a);
        }
        // A replica never routes: drop what a router would look at next.
        self.dirty_queues.clear();
        self.candidates.clear();
        self.ranking.clear();
        self.reindex.clear();
        self.changes = Default::default();
    }

    /// Takes an interaction out of every derived index (as it stands before a new row).
    fn unlink_interaction(&mut self, id: &InteractionId, reindex: &mut BTreeSet<AgentId>) {
        let Some(it) = self.interactions.get(id) else {
            return;
        };
        let (conv, hold) = (
            it.conversation_id.clone(),
            it.sticky.as_ref().map(|h| h.agent_id.clone()),
        );
        self.remove_waiting(id);
        if self.open_by_conversation.get(&conv) == Some(id) {
            self.open_by_conversation.remove(&conv);
        }
        self.conference_waiting.remove(id);
        if let Some(agent) = hold {
            if let Some(set) = self.sticky_holds.get_mut(&agent) {
                set.remove(id);
                if set.is_empty() {
                    self.sticky_holds.remove(&agent);
                }
            }
        }
        for a in self.holders.get(id).cloned().unwrap_or_default() {
            if let Some(slot) = self.agents.get_mut(&a) {
                slot.load = slot.load.saturating_sub(1);
            }
            reindex.insert(a);
        }
    }

    /// Puts an interaction (already in `interactions`) into every derived index, as
    /// [`Engine::load`] does.
    fn link_interaction(&mut self, id: &InteractionId, reindex: &mut BTreeSet<AgentId>) {
        let Some(it) = self.interactions.get(id) else {
            return;
        };
        let (state, conv) = (it.state, it.conversation_id.clone());
        let hold = it.sticky.as_ref().map(|h| h.agent_id.clone());
        let conf_waiting = matches!(&it.conference, Some(c) if c.offer.is_none() && matches!(c.target, Target::Queue(_)));
        if let Some(agent) = hold {
            self.sticky_holds
                .entry(agent)
                .or_default()
                .insert(id.clone());
        }
        if state == InteractionState::Queued {
            self.insert_waiting(id);
        }
        if state.is_open() {
            self.open_by_conversation.insert(conv, id.clone());
        }
        if conf_waiting {
            self.conference_waiting.insert(id.clone());
        }
        self.sync_interaction_timers(id);
        self.reindex_holders(id);
        for a in self.holders.get(id).cloned().unwrap_or_default() {
            if let Some(slot) = self.agents.get_mut(&a) {
                slot.load += 1;
            }
            reindex.insert(a);
        }
    }
}
