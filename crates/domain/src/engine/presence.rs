//! Agent state: presence, stop-new, live connections.

use super::facts::FactKind;
use super::{Engine, Event, Notice, WithdrawReason};
use crate::error::DomainError;
use crate::model::*;
use std::collections::BTreeSet;

impl Engine {
    pub(super) fn cmd_set_presence(
        &mut self,
        agent: &AgentId,
        presence: Presence,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if !self.agents.contains_key(agent) {
            return Err(DomainError::not_found("agent"));
        }
        let reason = self.chosen_presence(presence, reason)?;
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

    /// The presence a person may choose: `rona` is the router's alone, and a break
    /// needs one of the configured reasons. Returns the break reason to store.
    pub(super) fn chosen_presence(
        &self,
        presence: Presence,
        reason: Option<String>,
    ) -> Result<Option<String>, DomainError> {
        Ok(match presence {
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
        })
    }

    pub(super) fn cmd_stop_new(
        &mut self,
        agent: &AgentId,
        stop_new: bool,
    ) -> Result<(), DomainError> {
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
    /// Returns whether anything changed.
    pub(super) fn set_presence(
        &mut self,
        agent: &AgentId,
        presence: Presence,
        reason: Option<String>,
        now: Timestamp,
    ) -> bool {
        let Some(slot) = self.agents.get_mut(agent) else {
            return false;
        };
        if slot.agent.presence == presence && slot.agent.break_reason == reason {
            return false;
        }
        if slot.agent.presence != presence {
            slot.agent.presence_since = now;
        }
        slot.agent.presence = presence;
        slot.agent.break_reason = reason.clone();
        self.fact(
            now,
            FactKind::Presence {
                agent: agent.clone(),
                presence,
                reason,
            },
        );
        self.agent_changed(agent);
        self.push_presence(agent);
        if presence != Presence::Available {
            self.withdraw_offers_of(agent, WithdrawReason::AgentUnavailable, now);
        }
        true
    }

    /// Withdraws every pending offer to the agent (routed and conference); a routed one goes
    /// back to the head of its queue.
    pub(super) fn withdraw_offers_of(
        &mut self,
        agent: &AgentId,
        reason: WithdrawReason,
        now: Timestamp,
    ) {
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
                if self.withdraw_offer(&id, reason, now).is_some() {
                    self.requeue_head(&id);
                }
            } else {
                self.withdraw_conference_offer(&id, reason, false, now);
            }
        }
    }

    pub(super) fn connected(&mut self, agent: &AgentId) -> Result<(), DomainError> {
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

    pub(super) fn disconnected(
        &mut self,
        agent: &AgentId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
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

    fn push_presence(&mut self, agent: &AgentId) {
        let to = self.presence_audience(agent);
        self.changes.notices.push(Notice {
            to,
            event: Event::PresenceChanged {
                agent: agent.clone(),
            },
        });
    }
}
