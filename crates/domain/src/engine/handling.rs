//! Handling an accepted interaction: transfer, conference, end,
//! wrap-up, replies and read marks.

use super::facts::FactKind;
use super::Engine;
use crate::error::DomainError;
use crate::model::*;

impl Engine {
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

    pub(super) fn transfer(
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
        if matches!(&target, Target::Agent(a) if a == agent) {
            return Err(DomainError::invalid(
                "transfer_to_self",
                "you cannot transfer an interaction to yourself",
            ));
        }
        self.move_active(agent, id, target, now)
    }

    /// a supervisor transfers any active interaction, whoever owns it, to an agent or a
    /// queue, exactly as its owner would (the owner and every active participant go to wrap-up;
    /// the customer notices nothing but the conversation continuing). Transferring it to
    /// themselves makes the supervisor an offer like any other agent (see
    /// [`Command::TakeOver`](super::Command::TakeOver) to take it at once).
    pub(super) fn reassign(
        &mut self,
        supervisor: &AgentId,
        id: &InteractionId,
        target: Target,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.require_supervisor(supervisor)?;
        match self.interactions.get(id) {
            None => return Err(DomainError::not_found("interaction")),
            Some(it) if it.state != InteractionState::Active => {
                return Err(DomainError::conflict(
                    "not_active",
                    "only an active interaction can be transferred",
                ))
            }
            Some(_) => {}
        }
        self.move_active(supervisor, id, target, now)
    }

    /// Whether the queue a transfer targets exists (an agent target is checked by
    /// `check_can_take`).
    fn queue_of_target(&self, target: &Target) -> Result<(), DomainError> {
        match target {
            Target::Queue(q) if !self.queues.contains_key(q) => Err(DomainError::invalid(
                "unknown_queue",
                "the queue does not exist",
            )),
            _ => Ok(()),
        }
    }

    /// Transfers an active interaction on behalf of `agent` (its owner or a supervisor): checks
    /// the target, then every active participant goes to wrap-up and the interaction is
    /// offered to the target agent or queued at the tail of the target queue.
    fn move_active(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        target: Target,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.queue_of_target(&target)?;
        if let Target::Agent(a) = &target {
            self.check_can_take(a, id)?;
        }
        let conv = self.interactions.get(id).map(|i| i.conversation_id.clone());
        self.cancel_conference(id, now);
        self.touch(id);
        self.fact(
            now,
            FactKind::Transferred {
                interaction: id.clone(),
                from: agent.clone(),
                to: target.clone(),
            },
        );
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

    pub(super) fn conference_invite(
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

    pub(super) fn conference_end(
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
                self.cancel_conference(id, now);
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

    pub(super) fn end(
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
        self.cancel_conference(id, now);
        self.touch(id);
        self.fact(
            now,
            FactKind::Ended {
                interaction: id.clone(),
                by: agent.clone(),
            },
        );
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

    pub(super) fn wrap_up(
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
        self.finish_wrap_up(id, agent, disposition_code, note, false, now);
        self.changes.counters.wrap_ups += 1;
        Ok(())
    }

    pub(super) fn agent_reply(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.active_participant(agent, id)?;
        self.touch(id);
        let first = self
            .interactions
            .get(id)
            .is_some_and(|i| i.last_agent_reply_at.is_none());
        if first {
            self.fact(
                now,
                FactKind::FirstResponse {
                    interaction: id.clone(),
                    agent: agent.clone(),
                },
            );
        }
        self.fact(
            now,
            FactKind::MessageOut {
                interaction: id.clone(),
                agent: agent.clone(),
            },
        );
        if let Some(it) = self.interactions.get_mut(id) {
            it.unread = 0;
            it.awaiting_reply_since = None;
            it.last_agent_reply_at = Some(now);
        }
        Ok(())
    }

    pub(super) fn mark_read(
        &mut self,
        agent: &AgentId,
        id: &InteractionId,
    ) -> Result<(), DomainError> {
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

    pub(super) fn post_processing_of(&self, id: &InteractionId) -> u32 {
        self.interactions
            .get(id)
            .and_then(|i| self.queue(&i.queue_id))
            .map_or(DEFAULT_POST_PROCESSING_S, |q| q.post_processing_s)
    }

    pub(super) fn begin_wrap_up(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        pp: u32,
        now: Timestamp,
    ) {
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

    pub(super) fn finish_wrap_up(
        &mut self,
        id: &InteractionId,
        agent: &AgentId,
        disposition_code: Option<String>,
        note: Option<String>,
        by_countdown: bool,
        now: Timestamp,
    ) {
        self.touch(id);
        let mut closing = None;
        if let Some(it) = self.interactions.get_mut(id) {
            let ended_at = it.ended_at;
            if let Some(p) = it.participant_mut(agent) {
                p.state = ParticipantState::Done;
                p.wrap_up_deadline = None;
                p.wrapped_up_at = Some(now);
                p.disposition_code = disposition_code.clone();
                p.wrap_up_note = note;
                // The owner whose participation ended with the interaction: not one who
                // transferred it away, nor an invited agent.
                closing = Some(
                    p.role == ParticipantRole::Owner && ended_at.is_some() && p.left_at == ended_at,
                );
            }
        }
        if let Some(closing) = closing {
            self.fact(
                now,
                FactKind::WrappedUp {
                    interaction: id.clone(),
                    agent: agent.clone(),
                    disposition: disposition_code,
                    by_countdown,
                    closing,
                },
            );
        }
        self.free_slot(agent);
        if let Some(slot) = self.agents.get_mut(agent) {
            slot.agent.last_idle_at = now;
        }
        self.maybe_done(id, now);
    }

    /// An ended interaction whose every participant finished wrap-up is done.
    fn maybe_done(&mut self, id: &InteractionId, now: Timestamp) {
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
            self.fact(
                now,
                FactKind::Completed {
                    interaction: id.clone(),
                },
            );
        }
    }
}

pub(super) fn new_participant(
    agent: &AgentId,
    role: ParticipantRole,
    now: Timestamp,
) -> Participant {
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
