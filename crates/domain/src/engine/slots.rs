//! Bookkeeping of slots and waiting lists: agents' loads, the queues' waiting lists and
//! their sticky index, and the agent ⇄ interaction holder index.

use super::Engine;
use crate::model::*;

impl Engine {
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

    pub(super) fn free_slot(&mut self, agent: &AgentId) {
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.load = slot.load.saturating_sub(1);
        }
        self.agent_changed(agent);
    }

    pub(super) fn take_slot(&mut self, agent: &AgentId, now: Timestamp) {
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.load += 1;
            slot.agent.last_idle_at = now;
        }
        self.agent_changed(agent);
    }

    pub(super) fn remove_waiting(&mut self, id: &InteractionId) {
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

    pub(super) fn insert_waiting(&mut self, id: &InteractionId) {
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
    pub(super) fn requeue_head(&mut self, id: &InteractionId) {
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

    pub(super) fn enqueue_tail(&mut self, id: &InteractionId) {
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

    /// Brings the agent ⇄ interaction index up to date for one interaction.
    pub(super) fn reindex_holders(&mut self, id: &InteractionId) {
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
    #[cfg(any(test, feature = "test-support"))]
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
