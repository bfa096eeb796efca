//! The router: matches waiting interactions with eligible agents (R-2.1 … ).
//!
//! Two structures keep routing cheap however many agents and interactions there are:
//!
//! - Each queue keeps its *ready* members — available, not stop-new, below capacity — in the order
//!   its policy prefers them (a [`ReadyKey`] set). An agent's entries are updated when their
//!   routing-relevant state changes (presence, stop-new, load, capacity, idle time, membership).
//! - A queue is re-evaluated only when something that matters to it changed (it is "dirty"): an
//!   interaction entered or left it, or the readiness of one of its members (or of an agent a
//!   sticky hold in it waits for) changed. A queue that is not dirty has nothing to offer: every
//!   routing pass ends when no queue has a candidate left.
//!
//! Re-evaluating a queue finds its best possible offer (a [`Candidate`]): it walks its waiting
//! interactions from the head and gives the first one it can to the first ready member that may
//! take it (not excluded after a miss, not already on it); usually that is the head and the first
//! ready member. A queue without ready members is settled at once (only sticky holds, whose agent
//! need not be a member, are looked at).
//!
//! Among the queues' candidates the one whose interaction has waited longest, weighted by queue
//! priority, is offered first (a heap ranks them; `now` is fixed during a routing pass, so a
//! candidate's rank is too); then the affected queues are re-evaluated and the next is chosen,
//! until nothing more can be offered. Every interaction some eligible agent could take is offered
//! by the end of a step (work conservation, checked by [`Engine::unrouted_pairs`]).

use super::{Candidate, Engine, QueueSlot, ReadyKey};
use crate::model::*;
use std::cmp::Reverse;
use std::ops::Bound;

/// Where an agent in state (`load`, `idle_since`) stands in a queue with `policy`.
pub(super) fn ready_key(
    policy: RoutingPolicy,
    load: u32,
    idle_since: Timestamp,
    agent: AgentId,
) -> ReadyKey {
    match policy {
        RoutingPolicy::LongestIdle => ReadyKey {
            load: 0,
            idle_since,
            agent,
        },
        RoutingPolicy::LeastBusy => ReadyKey {
            load,
            idle_since,
            agent,
        },
        RoutingPolicy::RoundRobin => ReadyKey {
            load: 0,
            idle_since: Timestamp(0),
            agent,
        },
    }
}

/// A queue's candidate's rank in a routing pass; the greatest is offered first: waiting time
/// times queue priority, then the earlier arrival, then the nearer the head, then the queue id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ranked {
    weighted_wait: i64,
    earlier: Reverse<Timestamp>,
    nearer_head: Reverse<i64>,
    queue: Reverse<QueueId>,
    seq: u64,
}

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

    /// Whether the agent could take an offer now, and with which `(load, last_idle_at)`.
    fn readiness(&self, agent: &AgentId) -> Option<(u32, Timestamp)> {
        let s = self.agents.get(agent)?;
        (s.agent.presence == Presence::Available && !s.agent.stop_new && s.load < s.agent.capacity)
            .then_some((s.load, s.agent.last_idle_at))
    }

    /// Brings the agent's entries in their queues' ready sets up to date. When the agent's
    /// readiness (or their load or idle time) changed, the queues they could be offered from are
    /// marked for re-evaluation: their own queues, and those where a sticky hold waits for them.
    pub(super) fn reindex_agent(&mut self, agent: &AgentId) {
        let ready = self.readiness(agent);
        let Some(slot) = self.agents.get_mut(agent) else {
            return;
        };
        let old = slot.ready_as;
        if old == ready {
            return;
        }
        if let Some(held) = self.sticky_holds.get(agent) {
            for id in held {
                if let Some(it) = self.interactions.get(id) {
                    if !self.dirty_queues.contains(&it.queue_id) {
                        self.dirty_queues.insert(it.queue_id.clone());
                    }
                }
            }
        }
        for q in &slot.agent.queue_ids {
            if !self.dirty_queues.contains(q) {
                self.dirty_queues.insert(q.clone());
            }
            let Some(qs) = self.queues.get_mut(q) else {
                continue;
            };
            let policy = qs.queue.routing_policy;
            let same_place = match (old, ready) {
                (Some((l0, t0)), Some((l1, t1))) => match policy {
                    RoutingPolicy::LongestIdle => t0 == t1,
                    RoutingPolicy::LeastBusy => (l0, t0) == (l1, t1),
                    RoutingPolicy::RoundRobin => true,
                },
                _ => false,
            };
            if same_place {
                continue;
            }
            let removed =
                old.and_then(|(l, t)| qs.ready.take(&ready_key(policy, l, t, agent.clone())));
            if let Some((l, t)) = ready {
                // Reuse the removed entry's id rather than allocating another.
                let id = removed.map_or_else(|| agent.clone(), |k| k.agent);
                qs.ready.insert(ready_key(policy, l, t, id));
            }
        }
        slot.ready_as = ready;
    }

    /// Removes the agent from every ready set (before their queues change or they are deleted).
    pub(super) fn unindex_agent(&mut self, agent: &AgentId) {
        let Some(slot) = self.agents.get_mut(agent) else {
            return;
        };
        if let Some((l, t)) = slot.ready_as.take() {
            for q in &slot.agent.queue_ids {
                if let Some(qs) = self.queues.get_mut(q) {
                    let key = ready_key(qs.queue.routing_policy, l, t, agent.clone());
                    qs.ready.remove(&key);
                }
            }
        }
    }

    /// Rebuilds a queue's ready set (its policy changed).
    pub(super) fn rebuild_ready(&mut self, q: &QueueId) {
        let Some(slot) = self.queues.get(q) else {
            return;
        };
        let policy = slot.queue.routing_policy;
        let ready = slot
            .members
            .iter()
            .filter_map(|a| {
                let (l, t) = self.agents.get(a)?.ready_as?;
                Some(ready_key(policy, l, t, a.clone()))
            })
            .collect();
        if let Some(slot) = self.queues.get_mut(q) {
            slot.ready = ready;
        }
        self.dirty_queues.insert(q.clone());
    }

    fn apply_reindex(&mut self) {
        let mut pending = std::mem::take(&mut self.reindex);
        for a in &pending {
            self.reindex_agent(a);
        }
        pending.clear();
        self.reindex = pending;
    }

    /// The first ready member of `q`, in the policy's order, that may take `it`.
    fn pick_ready(&self, q: &QueueSlot, it: &Interaction, now: Timestamp) -> Option<AgentId> {
        let fits = |k: &&ReadyKey| {
            !it.holds_slot(&k.agent)
                && !it
                    .exclusions
                    .iter()
                    .any(|e| e.agent_id == k.agent && e.until > now)
        };
        let found = match (&q.queue.routing_policy, &q.queue.rr_last) {
            (RoutingPolicy::RoundRobin, Some(last)) => {
                // The member after the last one served, wrapping around.
                let pivot = ready_key(RoutingPolicy::RoundRobin, 0, Timestamp(0), last.clone());
                q.ready
                    .range((Bound::Excluded(&pivot), Bound::Unbounded))
                    .chain(q.ready.range(..=&pivot))
                    .find(fits)
            }
            _ => q.ready.iter().find(fits),
        };
        found.map(|k| k.agent.clone())
    }

    /// Re-evaluates the best offer queue `q` could make now, and ranks it.
    fn refresh_candidate(&mut self, q: &QueueId, now: Timestamp) {
        let seq = self.candidate_seq + 1;
        let found = self.queues.get(q).and_then(|slot| {
            let candidate = |it: &Interaction, agent: AgentId, sticky: bool| {
                let rank = Ranked {
                    weighted_wait: now
                        .millis_since(it.waiting_since)
                        .max(0)
                        .saturating_mul(i64::from(slot.queue.priority)),
                    earlier: Reverse(it.waiting_since),
                    nearer_head: Reverse(it.queue_key),
                    queue: Reverse(q.clone()),
                    seq,
                };
                let c = Candidate {
                    interaction: it.id.clone(),
                    agent,
                    sticky,
                    seq,
                };
                (c, rank)
            };
            if slot.ready.is_empty() {
                // Nobody in the queue can take anything: only an agent a sticky hold waits for.
                return slot.sticky_waiting.iter().find_map(|key| {
                    let it = self.interactions.get(slot.waiting.get(key)?)?;
                    let hold = it.sticky.as_ref().filter(|h| h.until > now)?;
                    self.eligible(&hold.agent_id, it, now)
                        .then(|| candidate(it, hold.agent_id.clone(), true))
                });
            }
            slot.waiting.values().find_map(|id| {
                let it = self.interactions.get(id)?;
                if let Some(hold) = it.sticky.as_ref().filter(|h| h.until > now) {
                    // Reserved for its last agent until the hold ends.
                    return self
                        .eligible(&hold.agent_id, it, now)
                        .then(|| candidate(it, hold.agent_id.clone(), true));
                }
                self.pick_ready(slot, it, now)
                    .map(|agent| candidate(it, agent, false))
            })
        });
        match found {
            Some((c, rank)) => {
                self.candidate_seq = seq;
                self.candidates.insert(q.clone(), c);
                self.ranking.push(rank);
            }
            None => {
                self.candidates.remove(q);
            }
        }
    }

    fn refresh_dirty(&mut self, now: Timestamp) {
        self.apply_reindex();
        while let Some(q) = self.dirty_queues.pop_first() {
            self.refresh_candidate(&q, now);
        }
    }

    /// Makes every offer that can be made now.
    pub(super) fn route(&mut self, now: Timestamp) {
        self.apply_reindex();
        self.route_conferences(now);
        // A pass ends when no candidate is left, so there is none here; one left over would be
        // ranked for another `now`, so it would be recomputed.
        let left: Vec<QueueId> = self.candidates.drain().map(|(q, _)| q).collect();
        self.dirty_queues.extend(left);
        self.ranking.clear();
        self.refresh_dirty(now);
        while let Some(top) = self.ranking.pop() {
            let q = top.queue.0;
            let current = self.candidates.get(&q).is_some_and(|c| c.seq == top.seq);
            if !current {
                continue;
            }
            let Some(c) = self.candidates.remove(&q) else {
                continue;
            };
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

    /// conference invitations to a queue go to one of its ready agents.
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
            let pick = self
                .queues
                .get(q)
                .and_then(|slot| self.pick_ready(slot, it, now));
            if let Some(agent) = pick {
                self.give_conference_offer(&id, &agent, &from, now);
                self.apply_reindex();
            }
        }
    }

    /// Every (waiting interaction, agent) pair that could be offered now but was not: must be
    /// empty after each step (work conservation). Slow, and independent of the router's indexes;
    /// for tests.
    #[cfg(any(test, feature = "test-support"))]
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
