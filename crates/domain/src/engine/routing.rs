//! The router: matches waiting interactions with eligible agents (R-2.1 … ).
//!
//! Each queue caches its best possible offer (a [`Candidate`]); a queue is re-evaluated only when
//! something that matters to it changed (it is "dirty"): an interaction entered or left it, or one
//! of its member agents changed presence, stop-new, load, capacity or membership. Among the
//! queues' candidates the one whose head has waited longest, weighted by queue priority, is offered
//! first; then the affected queues are re-evaluated and the next is chosen, until nothing more can
//! be offered.

use super::{Candidate, Engine, QueueSlot, WALK_LIMIT};
use crate::model::*;
use std::cmp::Ordering;
use std::ops::Bound;

impl Engine {
    /// Whether `agent` may be offered `it` now (besides queue membership).
    pub(super) fn eligible(&self, agent: &AgentId, it: &Interaction, now: Timestamp) -> bool {
        let Some(slot) = self.agents.get(agent) else {
            return false;
        };
        slot.agent.presence == Presence::Available
            && !slot.agent.stop_new
            && slot.load < slot.agent.capacity
            && !it.holds_slot(agent)
            && !it
                .exclusions
                .iter()
                .any(|e| &e.agent_id == agent && e.until > now)
    }

    /// The member of `q` the queue's policy chooses for `it`, if any is eligible.
    fn pick_agent(&self, q: &QueueSlot, it: &Interaction, now: Timestamp) -> Option<AgentId> {
        let eligible = |a: &&AgentId| self.eligible(a, it, now);
        match q.queue.routing_policy {
            RoutingPolicy::LongestIdle => q
                .members
                .iter()
                .filter(eligible)
                .min_by_key(|a| (self.agents.get(*a).map(|s| s.agent.last_idle_at), *a))
                .cloned(),
            RoutingPolicy::LeastBusy => q
                .members
                .iter()
                .filter(eligible)
                .min_by_key(|a| {
                    let s = self.agents.get(*a);
                    (s.map(|s| s.load), s.map(|s| s.agent.last_idle_at), *a)
                })
                .cloned(),
            RoutingPolicy::RoundRobin => match &q.queue.rr_last {
                Some(last) => q
                    .members
                    .range::<AgentId, _>((Bound::Excluded(last), Bound::Unbounded))
                    .chain(q.members.range::<AgentId, _>((Bound::Unbounded, Bound::Included(last))))
                    .find(eligible)
                    .cloned(),
                None => q.members.iter().find(eligible).cloned(),
            },
        }
    }

    /// Re-evaluates the best offer queue `q` could make now.
    fn refresh_candidate(&mut self, q: &QueueId, now: Timestamp) {
        let found = self.queues.get(q).and_then(|slot| {
            for id in slot.waiting.values().take(WALK_LIMIT) {
                let Some(it) = self.interactions.get(id) else {
                    continue;
                };
                if let Some(hold) = it.sticky.as_ref().filter(|h| h.until > now) {
                    if self.eligible(&hold.agent_id, it, now) {
                        return Some(Candidate {
                            interaction: id.clone(),
                            agent: hold.agent_id.clone(),
                            sticky: true,
                        });
                    }
                    continue;
                }
                if let Some(agent) = self.pick_agent(slot, it, now) {
                    return Some(Candidate {
                        interaction: id.clone(),
                        agent,
                        sticky: false,
                    });
                }
            }
            None
        });
        match found {
            Some(c) => {
                self.candidates.insert(q.clone(), c);
            }
            None => {
                self.candidates.remove(q);
            }
        }
    }

    fn refresh_dirty(&mut self, now: Timestamp) {
        while let Some(q) = self.dirty_queues.pop_first() {
            self.refresh_candidate(&q, now);
        }
    }

    /// Orders two queues' candidates: the one that should be offered first is `Greater`.
    fn compare(&self, a: (&QueueId, &Candidate), b: (&QueueId, &Candidate), now: Timestamp) -> Ordering {
        let key = |(q, c): (&QueueId, &Candidate)| {
            let prio = self.queues.get(q).map_or(1, |s| s.queue.priority);
            let it = self.interactions.get(&c.interaction);
            let since = it.map_or(now, |i| i.waiting_since);
            let queue_key = it.map_or(0, |i| i.queue_key);
            let waited = i128::from(now.millis_since(since).max(0));
            (waited * i128::from(prio), since, queue_key)
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then_with(|| kb.1.cmp(&ka.1))
            .then_with(|| kb.2.cmp(&ka.2))
            .then_with(|| b.0.cmp(a.0))
    }

    /// Makes every offer that can be made now.
    pub(super) fn route(&mut self, now: Timestamp) {
        self.route_conferences(now);
        self.refresh_dirty(now);
        loop {
            let best = self
                .candidates
                .iter()
                .max_by(|a, b| self.compare(*a, *b, now))
                .map(|(q, c)| (q.clone(), c.clone()));
            let Some((q, c)) = best else { break };
            let kind = if c.sticky {
                OfferKind::Sticky
            } else {
                OfferKind::Route
            };
            self.give_offer(&c.interaction, &c.agent, kind, now);
            if !c.sticky {
                if let Some(slot) = self.queues.get_mut(&q) {
                    if slot.queue.routing_policy == RoutingPolicy::RoundRobin {
                        slot.queue.rr_last = Some(c.agent.clone());
                        self.changes.queues.insert(q.clone());
                    }
                }
            }
            self.dirty_queues.insert(q);
            self.refresh_dirty(now);
        }
    }

    /// conference invitations to a queue go to one of its eligible agents.
    fn route_conferences(&mut self, now: Timestamp) {
        if self.conference_waiting.is_empty() {
            return;
        }
        let waiting: Vec<InteractionId> = self.conference_waiting.iter().cloned().collect();
        for id in waiting {
            let Some(it) = self.interactions.get(&id) else {
                self.conference_waiting.remove(&id);
                continue;
            };
            let Some(conf) = it.conference.as_ref().filter(|c| c.offer.is_none()) else {
                self.conference_waiting.remove(&id);
                continue;
            };
            let Target::Queue(q) = &conf.target else {
                self.conference_waiting.remove(&id);
                continue;
            };
            let from = conf.requested_by.clone();
            let pick = self.queues.get(q).and_then(|slot| self.pick_agent(slot, it, now));
            if let Some(agent) = pick {
                self.give_conference_offer(&id, &agent, &from, now);
            }
        }
    }

    /// Every (waiting interaction, agent) pair that could be offered now but was not: must be
    /// empty after each step (work conservation). Slow; for tests.
    pub fn unrouted_pairs(&self, now: Timestamp) -> Vec<(InteractionId, AgentId)> {
        let mut out = Vec::new();
        for slot in self.queues.values() {
            for id in slot.waiting.values() {
                let Some(it) = self.interactions.get(id) else {
                    continue;
                };
                if let Some(hold) = it.sticky.as_ref().filter(|h| h.until > now) {
                    if self.eligible(&hold.agent_id, it, now) {
                        out.push((id.clone(), hold.agent_id.clone()));
                    }
                    continue;
                }
                for a in &slot.members {
                    if self.eligible(a, it, now) {
                        out.push((id.clone(), a.clone()));
                    }
                }
            }
        }
        out
    }
}
