//! Invariant checks over the whole engine state, for property tests and debugging.
//!
//! They recompute from scratch what the engine maintains incrementally (loads, waiting lists,
//! deadlines) and compare.

use super::routing::ready_key;
use super::timers::{agent_timer, interaction_timers};
use super::Engine;
use crate::model::*;
use std::collections::{BTreeSet, HashMap};

impl Engine {
    /// The state a replica must agree on with the engine it copies (see `replica.rs`), in a
    /// stable order: settings, agents with their loads and readiness, queues with their
    /// waiting lists and ready sets, interactions, and every index derived from them. Live
    /// connections are left out (a replica does not know them), and so is the routing pass's
    /// bookkeeping.
    pub fn replicated_view(&self) -> String {
        use std::collections::BTreeMap;
        let agents: BTreeMap<_, _> = self
            .agents
            .iter()
            .map(|(k, s)| (k, (&s.agent, s.load, s.ready_as)))
            .collect();
        let queues: BTreeMap<_, _> = self
            .queues
            .iter()
            .map(|(k, s)| {
                (
                    k,
                    (
                        &s.queue,
                        &s.waiting,
                        &s.members,
                        &s.ready,
                        &s.sticky_waiting,
                    ),
                )
            })
            .collect();
        let interactions: BTreeMap<_, _> = self.interactions.iter().collect();
        let open: BTreeMap<_, _> = self.open_by_conversation.iter().collect();
        let sticky: BTreeMap<_, _> = self.sticky_holds.iter().collect();
        let held: BTreeMap<_, _> = self.held.iter().collect();
        let holders: BTreeMap<_, _> = self.holders.iter().collect();
        format!(
            "{:#?}",
            (
                &self.settings,
                agents,
                queues,
                interactions,
                open,
                &self.conference_waiting,
                sticky,
                &self.supervisors,
                held,
                holders,
                self.timers(),
            )
        )
    }

    /// Checks every invariant; returns the first violation found.
    pub fn check_invariants(&self, now: Timestamp) -> Result<(), String> {
        self.holders_consistent()?;
        // Loads: recount slots held per agent; never above capacity by an offer (only a
        // supervisor's take-over may go beyond it, and then they hold no offer).
        let mut load: HashMap<&AgentId, u32> = HashMap::new();
        let mut offered: BTreeSet<&AgentId> = BTreeSet::new();
        let mut routed_offers: HashMap<&InteractionId, usize> = HashMap::new();
        for it in self.interactions.values() {
            for a in self.agents.keys() {
                if it.holds_slot(a) {
                    *load.entry(a).or_default() += 1;
                }
            }
            routed_offers.insert(&it.id, usize::from(it.offer.is_some()));
            for a in it.offered_agents() {
                offered.insert(a);
                if !self.agents.contains_key(a) {
                    return Err(format!("{} offered to unknown agent {a}", it.id));
                }
                let p = self.agents.get(a).map(|s| s.agent.presence);
                if p != Some(Presence::Available) {
                    return Err(format!("{} offered to {a} whose presence is {p:?}", it.id));
                }
            }
            if let (Some(o), Some(c)) = (
                &it.offer,
                it.conference.as_ref().and_then(|c| c.offer.as_ref()),
            ) {
                if o.agent_id == c.agent_id {
                    return Err(format!("{} offered twice to {}", it.id, o.agent_id));
                }
            }
            self.check_state(it)?;
        }
        for (id, slot) in &self.agents {
            let expected = load.get(id).copied().unwrap_or(0);
            if slot.load != expected {
                return Err(format!(
                    "agent {id}: load {} but holds {expected}",
                    slot.load
                ));
            }
            if slot.load > slot.agent.capacity && offered.contains(id) {
                return Err(format!(
                    "agent {id}: load {} over capacity {} with an offer pending",
                    slot.load, slot.agent.capacity
                ));
            }
        }
        // Waiting lists hold exactly the queued interactions, each once, ordered by key.
        let mut seen = BTreeSet::new();
        for (qid, slot) in &self.queues {
            for (key, id) in &slot.waiting {
                let Some(it) = self.interactions.get(id) else {
                    return Err(format!("queue {qid} waits for missing {id}"));
                };
                if it.state != InteractionState::Queued
                    || &it.queue_id != qid
                    || it.queue_key != *key
                {
                    return Err(format!("queue {qid} lists {id} inconsistently"));
                }
                if !seen.insert(id.clone()) {
                    return Err(format!("{id} waits twice"));
                }
            }
            for m in &slot.members {
                let ok = self
                    .agents
                    .get(m)
                    .is_some_and(|a| a.agent.queue_ids.contains(qid));
                if !ok {
                    return Err(format!("queue {qid} member {m} does not list it"));
                }
            }
            // The router's indexes: ready members in policy order, sticky waiting interactions.
            let policy = slot.queue.routing_policy;
            let ready: BTreeSet<_> = slot
                .members
                .iter()
                .filter_map(|m| {
                    let s = self.agents.get(m)?;
                    let ok = s.agent.presence == Presence::Available
                        && !s.agent.stop_new
                        && s.load < s.agent.capacity;
                    ok.then(|| ready_key(policy, s.load, s.agent.last_idle_at, m.clone()))
                })
                .collect();
            if ready != slot.ready {
                return Err(format!("queue {qid}: ready members out of step"));
            }
            let sticky: BTreeSet<i64> = slot
                .waiting
                .iter()
                .filter(|(_, id)| {
                    self.interactions
                        .get(*id)
                        .is_some_and(|i| i.sticky.is_some())
                })
                .map(|(k, _)| *k)
                .collect();
            if sticky != slot.sticky_waiting {
                return Err(format!("queue {qid}: sticky waiting list out of step"));
            }
        }
        for (id, slot) in &self.agents {
            if let Some(m) = slot.agent.queue_ids.iter().find(|q| {
                self.queues
                    .get(*q)
                    .is_some_and(|qs| !qs.members.contains(id))
            }) {
                return Err(format!(
                    "agent {id} lists queue {m} that does not list them"
                ));
            }
            let supervisor = slot.agent.role >= Role::Supervisor;
            if supervisor != self.supervisors.contains(id) {
                return Err(format!("agent {id}: supervisor set out of step"));
            }
        }
        if self
            .supervisors
            .iter()
            .any(|a| !self.agents.contains_key(a))
        {
            return Err("supervisor set lists a deleted agent".into());
        }
        for it in self.interactions.values() {
            if it.state == InteractionState::Queued && !seen.contains(&it.id) {
                return Err(format!("{} is queued but in no waiting list", it.id));
            }
        }
        // Conversations: at most one open interaction each, and the index agrees.
        let mut open: HashMap<&ConversationId, &InteractionId> = HashMap::new();
        for it in self.interactions.values() {
            if it.state.is_open() {
                if let Some(other) = open.insert(&it.conversation_id, &it.id) {
                    return Err(format!(
                        "conversation {} has two open interactions {other} and {}",
                        it.conversation_id, it.id
                    ));
                }
            }
        }
        if open.len() != self.open_by_conversation.len()
            || open
                .iter()
                .any(|(c, i)| self.open_by_conversation.get(*c) != Some(*i))
        {
            return Err("open-conversation index out of step".into());
        }
        // Sticky holds: the per-agent index is exactly what the interactions say.
        let mut holds: HashMap<&AgentId, BTreeSet<&InteractionId>> = HashMap::new();
        for it in self.interactions.values() {
            if let Some(h) = &it.sticky {
                holds.entry(&h.agent_id).or_default().insert(&it.id);
            }
        }
        let indexed: HashMap<&AgentId, BTreeSet<&InteractionId>> = self
            .sticky_holds
            .iter()
            .map(|(a, set)| (a, set.iter().collect()))
            .collect();
        if holds != indexed {
            return Err("sticky-hold index out of step".into());
        }
        // Deadlines: the index is exactly what the state implies.
        let mut expected: BTreeSet<(Timestamp, super::Timer)> = BTreeSet::new();
        for it in self.interactions.values() {
            expected.extend(interaction_timers(it));
        }
        for slot in self.agents.values() {
            expected.extend(agent_timer(&slot.agent, &self.settings));
        }
        let actual: BTreeSet<_> = self.timers.all().into_iter().collect();
        if expected != actual {
            let missing: Vec<_> = expected.difference(&actual).take(3).collect();
            let extra: Vec<_> = actual.difference(&expected).take(3).collect();
            return Err(format!(
                "timers out of step: missing {missing:?}, extra {extra:?}"
            ));
        }
        if let Some(first) = self.timers.first() {
            if first <= now {
                return Err(format!(
                    "deadline {first:?} is due at {now:?} but did not fire"
                ));
            }
        }
        // The router finished its pass: nothing left to re-evaluate or offer.
        if !self.dirty_queues.is_empty() || !self.reindex.is_empty() || !self.candidates.is_empty()
        {
            return Err("the routing pass did not finish".into());
        }
        // Work conservation: nothing waits that an eligible agent could take.
        let unrouted = self.unrouted_pairs(now);
        if let Some((i, a)) = unrouted.first() {
            return Err(format!("{i} waits although {a} could take it"));
        }
        Ok(())
    }

    fn check_state(&self, it: &Interaction) -> Result<(), String> {
        let active_owner = it
            .participants
            .iter()
            .filter(|p| p.role == ParticipantRole::Owner && p.state == ParticipantState::Active)
            .count();
        let any_active = it
            .participants
            .iter()
            .any(|p| p.state == ParticipantState::Active);
        let ok = match it.state {
            InteractionState::Queued => it.offer.is_none() && !any_active && it.owner_id.is_none(),
            InteractionState::Offered => it.offer.is_some() && !any_active && it.owner_id.is_none(),
            InteractionState::Active => {
                it.offer.is_none()
                    && active_owner == 1
                    && it.owner_id.as_ref().is_some_and(|o| {
                        it.participant(o).is_some_and(|p| {
                            p.role == ParticipantRole::Owner && p.state == ParticipantState::Active
                        })
                    })
            }
            InteractionState::WrapUp => it.offer.is_none() && !any_active && it.ended_at.is_some(),
            InteractionState::Done => false,
        };
        if !ok {
            return Err(format!(
                "{} is inconsistent with state {:?}: {it:?}",
                it.id, it.state
            ));
        }
        if it.conference.is_some() && it.state != InteractionState::Active {
            return Err(format!(
                "{} has a conference request while {:?}",
                it.id, it.state
            ));
        }
        for p in &it.participants {
            let n = it
                .participants
                .iter()
                .filter(|q| q.agent_id == p.agent_id && q.state != ParticipantState::Done)
                .count();
            if n > 1 {
                return Err(format!("{} holds {} twice", it.id, p.agent_id));
            }
        }
        Ok(())
    }
}
