//! Deadlines: offer timeouts, wrap-up countdowns, sticky holds, exclusions and disconnect grace.
//!
//! Every deadline is a field of the stored state (an offer's `deadline`, a participant's
//! `wrap_up_deadline`, …); the index here is derived from that state and re-derived for each
//! entity a step touched, so after a restart the same deadlines resume from storage.

use super::{Engine, WithdrawReason};
use crate::model::*;
use std::collections::{BTreeSet, HashMap};

/// A pending deadline and what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Offer(InteractionId),
    ConferenceOffer(InteractionId),
    WrapUp(InteractionId, AgentId),
    Sticky(InteractionId),
    Exclusion(InteractionId, AgentId),
    Grace(AgentId),
}

#[derive(Debug, Clone, Default)]
pub(super) struct TimerIndex {
    set: BTreeSet<(Timestamp, Timer)>,
    by_interaction: HashMap<InteractionId, Vec<(Timestamp, Timer)>>,
    by_agent: HashMap<AgentId, (Timestamp, Timer)>,
}

impl TimerIndex {
    pub(super) fn first(&self) -> Option<Timestamp> {
        self.set.first().map(|(t, _)| *t)
    }
    #[cfg(any(test, feature = "test-support"))]
    pub(super) fn all(&self) -> Vec<(Timestamp, Timer)> {
        self.set.iter().cloned().collect()
    }
    fn set_interaction(&mut self, id: &InteractionId, timers: Vec<(Timestamp, Timer)>) {
        match self.by_interaction.get(id) {
            Some(old) if *old == timers => return,
            None if timers.is_empty() => return,
            _ => {}
        }
        self.remove_interaction(id);
        if timers.is_empty() {
            return;
        }
        for t in &timers {
            self.set.insert(t.clone());
        }
        self.by_interaction.insert(id.clone(), timers);
    }
    pub(super) fn remove_interaction(&mut self, id: &InteractionId) {
        if let Some(old) = self.by_interaction.remove(id) {
            for t in old {
                self.set.remove(&t);
            }
        }
    }
    fn set_agent(&mut self, id: &AgentId, timer: Option<(Timestamp, Timer)>) {
        if self.by_agent.get(id) == timer.as_ref() {
            return;
        }
        self.remove_agent(id);
        if let Some(t) = timer {
            self.set.insert(t.clone());
            self.by_agent.insert(id.clone(), t);
        }
    }
    pub(super) fn remove_agent(&mut self, id: &AgentId) {
        if let Some(old) = self.by_agent.remove(id) {
            self.set.remove(&old);
        }
    }
    /// Removes and returns the earliest deadline at or before `now`.
    fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, Timer)> {
        let first = self.set.first()?.clone();
        if first.0 > now {
            return None;
        }
        self.set.remove(&first);
        match &first.1 {
            Timer::Grace(a) => {
                self.by_agent.remove(a);
            }
            Timer::Offer(i)
            | Timer::ConferenceOffer(i)
            | Timer::WrapUp(i, _)
            | Timer::Sticky(i)
            | Timer::Exclusion(i, _) => {
                if let Some(v) = self.by_interaction.get_mut(i) {
                    v.retain(|t| t != &first);
                    if v.is_empty() {
                        self.by_interaction.remove(i);
                    }
                }
            }
        }
        Some(first)
    }
}

/// The deadlines an interaction's state implies.
pub fn interaction_timers(it: &Interaction) -> Vec<(Timestamp, Timer)> {
    let mut v = Vec::new();
    if let Some(o) = &it.offer {
        v.push((o.deadline, Timer::Offer(it.id.clone())));
    }
    if let Some(o) = it.conference.as_ref().and_then(|c| c.offer.as_ref()) {
        v.push((o.deadline, Timer::ConferenceOffer(it.id.clone())));
    }
    for p in &it.participants {
        if let (ParticipantState::WrapUp, Some(d)) = (p.state, p.wrap_up_deadline) {
            v.push((d, Timer::WrapUp(it.id.clone(), p.agent_id.clone())));
        }
    }
    if let Some(s) = &it.sticky {
        v.push((s.until, Timer::Sticky(it.id.clone())));
    }
    for e in &it.exclusions {
        v.push((e.until, Timer::Exclusion(it.id.clone(), e.agent_id.clone())));
    }
    v.sort();
    v.dedup();
    v
}

/// The deadline an agent's state implies: the end of the disconnect grace period.
pub fn agent_timer(a: &Agent, settings: &Settings) -> Option<(Timestamp, Timer)> {
    match (a.disconnected_since, a.presence) {
        (_, Presence::Offline) => None,
        (Some(since), _) => Some((
            since.plus_secs(settings.disconnect_grace_s),
            Timer::Grace(a.id.clone()),
        )),
        (None, _) => None,
    }
}

impl Engine {
    pub(super) fn sync_interaction_timers(&mut self, id: &InteractionId) {
        match self.interactions.get(id) {
            Some(it) => {
                let t = interaction_timers(it);
                self.timers.set_interaction(id, t);
            }
            None => self.timers.remove_interaction(id),
        }
    }

    pub(super) fn sync_agent_timer(&mut self, id: &AgentId) {
        let t = self
            .agents
            .get(id)
            .and_then(|s| agent_timer(&s.agent, &self.settings));
        self.timers.set_agent(id, t);
    }

    /// Re-derives the deadlines of the agents touched so far in this step.
    pub(super) fn sync_touched_agent_timers(&mut self) {
        let agents = std::mem::take(&mut self.touched_agents);
        for a in &agents {
            self.sync_agent_timer(a);
        }
        self.touched_agents = agents;
    }

    /// Fires every deadline due at `now`, oldest first.
    pub(super) fn fire_due(&mut self, now: Timestamp) {
        while let Some((_, timer)) = self.timers.pop_due(now) {
            let touched_before = self.touched_order.len();
            match &timer {
                Timer::Offer(id) => {
                    let due = self
                        .interactions
                        .get(id)
                        .and_then(|i| i.offer.as_ref())
                        .is_some_and(|o| o.deadline <= now);
                    if due {
                        self.miss_offer(id, WithdrawReason::Timeout, now);
                    }
                }
                Timer::ConferenceOffer(id) => {
                    let due = self
                        .interactions
                        .get(id)
                        .and_then(|i| i.conference.as_ref())
                        .and_then(|c| c.offer.as_ref())
                        .is_some_and(|o| o.deadline <= now);
                    if due {
                        self.miss_conference_offer(id, WithdrawReason::Timeout, now);
                    }
                }
                Timer::WrapUp(id, agent) => {
                    let due = self.interactions.get(id).is_some_and(|i| {
                        i.participants
                            .iter()
                            .rev()
                            .find(|p| &p.agent_id == agent)
                            .is_some_and(|p| {
                                p.state == ParticipantState::WrapUp
                                    && p.wrap_up_deadline.is_some_and(|d| d <= now)
                            })
                    });
                    if due {
                        self.finish_wrap_up(id, agent, None, None, true, now);
                        self.changes.counters.auto_wrap_ups += 1;
                    }
                }
                Timer::Sticky(id) => {
                    let due = self
                        .interactions
                        .get(id)
                        .and_then(|i| i.sticky.as_ref())
                        .is_some_and(|s| s.until <= now);
                    if due {
                        self.clear_sticky(id);
                    }
                }
                Timer::Exclusion(id, _) => {
                    let queue = self.interactions.get(id).and_then(|i| {
                        i.exclusions
                            .iter()
                            .any(|e| e.until <= now)
                            .then(|| i.queue_id.clone())
                    });
                    if let Some(q) = queue {
                        self.touch(id);
                        if let Some(it) = self.interactions.get_mut(id) {
                            it.exclusions.retain(|e| e.until > now);
                        }
                        self.dirty_queues.insert(q);
                        // A conference invitation to a queue may now reach the agent again.
                        if self
                            .interactions
                            .get(id)
                            .and_then(|i| i.conference.as_ref())
                            .is_some_and(|c| c.offer.is_none())
                        {
                            self.conference_waiting.insert(id.clone());
                        }
                    }
                }
                Timer::Grace(agent) => {
                    let due = self.agents.get(agent).is_some_and(|s| {
                        s.connections == 0
                            && s.agent.presence != Presence::Offline
                            && s.agent.disconnected_since.is_some_and(|d| {
                                d.plus_secs(self.settings.disconnect_grace_s) <= now
                            })
                    });
                    if due {
                        self.set_presence(agent, Presence::Offline, None, now);
                    }
                }
            }
            // Re-derive the deadlines of whatever this timer changed before looking further.
            let touched: Vec<InteractionId> = self.touched_order[touched_before..].to_vec();
            for id in touched {
                self.sync_interaction_timers(&id);
            }
            match &timer {
                Timer::Grace(a) => self.sync_agent_timer(a),
                Timer::Offer(i)
                | Timer::ConferenceOffer(i)
                | Timer::WrapUp(i, _)
                | Timer::Sticky(i)
                | Timer::Exclusion(i, _) => self.sync_interaction_timers(i),
            }
        }
    }
}
