//! Offers: making them, accepting and rejecting them, missing and withdrawing them (R-2.6 … ),
//! routed and conference offers alike.

use super::facts::{FactKind, OfferOutcome, OfferSource};
use super::handling::new_participant;
use super::{Engine, Event, Notice, WithdrawReason};
use crate::error::DomainError;
use crate::model::*;

impl Engine {
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

    pub(super) fn accept(
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
            let (conv, first) = {
                let Some(it) = self.interactions.get_mut(id) else {
                    return Err(DomainError::not_found("interaction"));
                };
                it.offer = None;
                it.state = InteractionState::Active;
                it.owner_id = Some(agent.clone());
                let first = it.accepted_at.is_none();
                if first {
                    it.accepted_at = Some(now);
                }
                it.exclusions.retain(|e| &e.agent_id != agent);
                it.participants
                    .push(new_participant(agent, ParticipantRole::Owner, now));
                (it.conversation_id.clone(), first)
            };
            self.offer_ended(id, agent, OfferOutcome::Accepted, now);
            if first {
                self.fact(
                    now,
                    FactKind::Answered {
                        interaction: id.clone(),
                        agent: agent.clone(),
                    },
                );
            }
            self.fact(
                now,
                FactKind::Joined {
                    interaction: id.clone(),
                    agent: agent.clone(),
                    role: ParticipantRole::Owner,
                },
            );
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
            self.offer_ended(id, agent, OfferOutcome::Accepted, now);
            self.fact(
                now,
                FactKind::Joined {
                    interaction: id.clone(),
                    agent: agent.clone(),
                    role: ParticipantRole::Conference,
                },
            );
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

    pub(super) fn reject(
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
    pub(super) fn miss_offer(
        &mut self,
        id: &InteractionId,
        reason: WithdrawReason,
        now: Timestamp,
    ) {
        let Some(offer) = self.withdraw_offer(id, reason, now) else {
            return;
        };
        self.clear_sticky(id);
        let exclusion_s = self.settings.offer_exclusion_s;
        if let Some(it) = self.interactions.get_mut(id) {
            exclude(it, &offer.agent_id, exclusion_s, now);
        }
        self.requeue_head(id);
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

    pub(super) fn miss_conference_offer(
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
        self.withdraw_conference_offer(id, reason, true, now);
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
    pub(super) fn withdraw_offer(
        &mut self,
        id: &InteractionId,
        reason: WithdrawReason,
        now: Timestamp,
    ) -> Option<Offer> {
        let offer = self.interactions.get(id)?.offer.clone()?;
        self.offer_ended(id, &offer.agent_id, outcome_of(reason), now);
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
    pub(super) fn withdraw_conference_offer(
        &mut self,
        id: &InteractionId,
        reason: WithdrawReason,
        missed: bool,
        now: Timestamp,
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
        self.offer_ended(id, &offer.agent_id, outcome_of(reason), now);
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
    pub(super) fn cancel_conference(&mut self, id: &InteractionId, now: Timestamp) {
        let has = self
            .interactions
            .get(id)
            .is_some_and(|i| i.conference.is_some());
        if !has {
            return;
        }
        self.withdraw_conference_offer(id, WithdrawReason::Cancelled, false, now);
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.conference = None;
        }
        self.conference_waiting.remove(id);
    }

    pub(super) fn give_offer(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        kind: OfferKind,
        now: Timestamp,
    ) {
        let deadline = now.plus_secs(self.acceptance_interval_of(id));
        let source = match &kind {
            OfferKind::Route => OfferSource::Route,
            OfferKind::Sticky => OfferSource::Sticky,
            OfferKind::Transfer { .. } => OfferSource::Transfer,
            OfferKind::Conference { .. } => OfferSource::Conference,
        };
        self.fact(
            now,
            FactKind::OfferMade {
                interaction: id.clone(),
                agent: agent.clone(),
                source,
            },
        );
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

    pub(super) fn give_conference_offer(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        from: &AgentId,
        now: Timestamp,
    ) {
        let deadline = now.plus_secs(self.acceptance_interval_of(id));
        self.fact(
            now,
            FactKind::OfferMade {
                interaction: id.clone(),
                agent: agent.clone(),
                source: OfferSource::Conference,
            },
        );
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

    fn offer_ended(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        outcome: OfferOutcome,
        now: Timestamp,
    ) {
        self.fact(
            now,
            FactKind::OfferEnded {
                interaction: id.clone(),
                agent: agent.clone(),
                outcome,
            },
        );
    }

    fn acceptance_interval_of(&self, id: &InteractionId) -> u32 {
        self.interactions
            .get(id)
            .and_then(|i| self.queue(&i.queue_id))
            .map_or(DEFAULT_ACCEPTANCE_INTERVAL_S, |q| q.acceptance_interval_s)
    }
}

/// How an offer withdrawn for `reason` ended, for reports.
fn outcome_of(reason: WithdrawReason) -> OfferOutcome {
    match reason {
        WithdrawReason::Rejected => OfferOutcome::Rejected,
        WithdrawReason::Timeout => OfferOutcome::Missed,
        WithdrawReason::AgentUnavailable | WithdrawReason::Cancelled => OfferOutcome::Withdrawn,
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
