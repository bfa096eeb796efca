//! A supervisor acting on other people's work: setting an agent's presence and taking
//! over an active interaction. (Transferring any active interaction, `Reassign`, is a
//! transfer and lives beside it in `handling.rs`.)
//!
//! Only users whose role is supervisor or admin may do these; anyone else is refused with
//! `not_supervisor` and nothing changes.

use super::handling::new_participant;
use super::{Engine, FactKind, WithdrawReason};
use crate::error::DomainError;
use crate::model::*;

impl Engine {
    /// `Ok` when `who` is a supervisor or an admin.
    pub(super) fn require_supervisor(&self, who: &AgentId) -> Result<(), DomainError> {
        if self.is_supervisor(who) {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "not_supervisor",
                "only a supervisor can do this",
            ))
        }
    }

    /// a supervisor sets an agent's presence. The rules of the agent's own choice apply
    /// (no `rona`; a break needs a known reason), and leaving `available` withdraws the agent's
    /// pending offers, which go back to the head of their queues; interactions the agent
    /// accepted stay theirs. Unlike the agent's own choice, it does not count as a sign of
    /// life: an agent whose connection is gone keeps their grace period as it was, and one
    /// whose grace period has run out can only be set offline (anything else would route to
    /// someone who is not there). A supervisor setting their own presence is the own path.
    pub(super) fn cmd_set_agent_presence(
        &mut self,
        supervisor: &AgentId,
        agent: &AgentId,
        presence: Presence,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.require_supervisor(supervisor)?;
        if supervisor == agent {
            return self.cmd_set_presence(agent, presence, reason, now);
        }
        let Some(slot) = self.agents.get(agent) else {
            return Err(DomainError::not_found("agent"));
        };
        let reason = self.chosen_presence(presence, reason)?;
        let gone = slot.connections == 0
            && slot
                .agent
                .disconnected_since
                .is_some_and(|d| d.plus_secs(self.settings.disconnect_grace_s) <= now);
        if gone && presence != Presence::Offline {
            return Err(DomainError::conflict(
                "agent_disconnected",
                format!(
                    "{} is not connected; only offline can be set until they are back",
                    slot.agent.display_name
                ),
            ));
        }
        if self.set_presence(agent, presence, reason, now) {
            self.changes
                .presence_set_by
                .insert(agent.clone(), supervisor.clone());
        }
        Ok(())
    }

    /// the supervisor becomes the owner of an active interaction. The previous owner
    /// goes to wrap-up for it (with the queue's countdown), conference participants stay, a
    /// pending conference invitation (the previous owner's) is cancelled, and the customer
    /// notices nothing: the transcript gets a system note, nothing is sent.
    ///
    /// A take-over is never refused for capacity: a supervisor stepping in must be able to,
    /// however busy they are, and their presence does not matter either. It counts in their
    /// load like any interaction, so while it keeps them above their capacity the router offers
    /// them nothing: their pending offers are withdrawn (routed ones back to the head of their
    /// queues), so only the taken-over interaction itself is ever above capacity.
    ///
    /// A supervisor who joined the interaction as a conference participant becomes its owner
    /// in that same participation. Refused: an interaction that is not active (`not_active`),
    /// one the supervisor already owns (`already_owner`), one the supervisor is still wrapping
    /// up from an earlier participation (`in_wrap_up`).
    pub(super) fn take_over(
        &mut self,
        supervisor: &AgentId,
        id: &InteractionId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        self.require_supervisor(supervisor)?;
        let Some(it) = self.interactions.get(id) else {
            return Err(DomainError::not_found("interaction"));
        };
        if it.state != InteractionState::Active {
            return Err(DomainError::conflict(
                "not_active",
                "only an active interaction can be taken over",
            ));
        }
        if it.owner_id.as_ref() == Some(supervisor) {
            return Err(DomainError::conflict(
                "already_owner",
                "you already own this interaction",
            ));
        }
        let mine = it.participant(supervisor).map(|p| p.state);
        if mine == Some(ParticipantState::WrapUp) {
            return Err(DomainError::conflict(
                "in_wrap_up",
                "finish your wrap-up of this interaction before taking it over",
            ));
        }
        let previous = it.owner_id.clone();
        let conv = it.conversation_id.clone();
        // The previous owner's invitation goes with them (also one offered to the supervisor).
        self.cancel_conference(id, now);
        self.touch(id);
        let pp = self.post_processing_of(id);
        if let Some(prev) = &previous {
            self.begin_wrap_up(id, prev, pp, now);
        }
        let joined = mine == Some(ParticipantState::Active);
        if let Some(it) = self.interactions.get_mut(id) {
            it.owner_id = Some(supervisor.clone());
            match it.participant_mut(supervisor) {
                Some(p) if joined => p.role = ParticipantRole::Owner,
                _ => it
                    .participants
                    .push(new_participant(supervisor, ParticipantRole::Owner, now)),
            }
        }
        if joined {
            self.agent_changed(supervisor);
        } else {
            self.take_slot(supervisor, now);
            // Reports: the supervisor's own participation (and handle time) begins here.
            self.fact(
                now,
                FactKind::Joined {
                    interaction: id.clone(),
                    agent: supervisor.clone(),
                    role: ParticipantRole::Owner,
                },
            );
        }
        let over = self
            .agents
            .get(supervisor)
            .is_some_and(|s| s.load > s.agent.capacity);
        if over {
            self.withdraw_offers_of(supervisor, WithdrawReason::AgentUnavailable, now);
        }
        let name = self.display_name(supervisor);
        let text = match &previous {
            Some(prev) => format!("{name} took over from {}", self.display_name(prev)),
            None => format!("{name} took over"),
        };
        self.system_message(id, &conv, text);
        Ok(())
    }
}
