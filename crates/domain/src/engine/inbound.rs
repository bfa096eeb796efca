//! Customer conversations entering the engine: inbound messages (a new interaction or a message
//! joining the open one), outbound starts and the contact an interaction is linked to.

use super::facts::FactKind;
use super::handling::new_participant;
use super::{Engine, Inbound, Outbound, Reply};
use crate::error::DomainError;
use crate::model::*;

impl Engine {
    pub(super) fn inbound(&mut self, msg: Inbound, now: Timestamp) -> Result<Reply, DomainError> {
        if let Some(id) = self.open_by_conversation.get(&msg.conversation_id).cloned() {
            self.touch(&id);
            if let Some(it) = self.interactions.get_mut(&id) {
                it.last_inbound_at = Some(now);
                if !msg.reaction {
                    it.unread += 1;
                    if it.awaiting_reply_since.is_none() {
                        it.awaiting_reply_since = Some(now);
                    }
                }
                if msg.customer.name.is_some() {
                    it.customer.name = msg.customer.name;
                }
            }
            self.fact(
                now,
                FactKind::MessageIn {
                    interaction: id.clone(),
                },
            );
            return Ok(Reply::Inbound {
                interaction_id: id,
                created: false,
            });
        }
        let Some(queue) = self.queue(&msg.queue_id) else {
            return Err(DomainError::invalid(
                "unknown_queue",
                "the channel's queue does not exist",
            ));
        };
        if self.interactions.contains_key(&msg.new_interaction_id) {
            return Err(DomainError::conflict(
                "duplicate_id",
                "interaction id already in use",
            ));
        }
        let sticky = match (&msg.last_agent, queue.sticky) {
            (Some(a), true) if self.agents.contains_key(a) => Some(StickyHold {
                agent_id: a.clone(),
                until: now.plus_secs(queue.sticky_timeout_s),
            }),
            _ => None,
        };
        let id = msg.new_interaction_id.clone();
        let sla_response_s = queue.sla_response_s;
        self.fact(
            now,
            FactKind::Arrived {
                interaction: id.clone(),
                queue: msg.queue_id.clone(),
                channel: msg.channel_id.clone(),
                customer: msg.customer.clone(),
                contact_id: msg.contact_id.clone(),
                outbound: false,
                sla_response_s,
            },
        );
        self.tail_key += 1;
        let it = Interaction {
            id: id.clone(),
            state: InteractionState::Queued,
            queue_id: msg.queue_id,
            conversation_id: msg.conversation_id.clone(),
            channel_id: msg.channel_id,
            customer: msg.customer,
            source_number: msg.source_number,
            first_message: msg.summary,
            contact_id: msg.contact_id,
            created_at: now,
            waiting_since: now,
            queue_key: self.tail_key,
            accepted_at: None,
            ended_at: None,
            owner_id: None,
            participants: Vec::new(),
            offer: None,
            conference: None,
            exclusions: Vec::new(),
            sticky,
            unread: 1,
            last_inbound_at: Some(now),
            last_agent_reply_at: None,
            awaiting_reply_since: Some(now),
            last_outbound_failed: false,
        };
        if let Some(hold) = &it.sticky {
            self.sticky_holds
                .entry(hold.agent_id.clone())
                .or_default()
                .insert(id.clone());
        }
        self.interactions.insert(id.clone(), it);
        self.touch(&id);
        self.open_by_conversation
            .insert(msg.conversation_id, id.clone());
        self.insert_waiting(&id);
        Ok(Reply::Inbound {
            interaction_id: id,
            created: true,
        })
    }

    pub(super) fn start_outbound(
        &mut self,
        o: Outbound,
        now: Timestamp,
    ) -> Result<Reply, DomainError> {
        let Some(slot) = self.agents.get(&o.agent) else {
            return Err(DomainError::not_found("agent"));
        };
        let (load, capacity) = (slot.load, slot.agent.capacity);
        if self.queue(&o.queue_id).is_none() {
            return Err(DomainError::invalid(
                "unknown_queue",
                "the channel's queue does not exist",
            ));
        }
        if let Some(open) = self.open_by_conversation.get(&o.conversation_id) {
            let mine = self
                .interactions
                .get(open)
                .and_then(|i| i.participant(&o.agent))
                .is_some_and(|p| p.state == ParticipantState::Active);
            return Err(DomainError::conflict(
                if mine {
                    "already_yours"
                } else {
                    "conversation_open"
                },
                if mine {
                    "you already have an open interaction with this customer"
                } else {
                    "this customer already has an open interaction"
                },
            ));
        }
        // an outbound start takes a slot like an accepted offer, never one too many.
        if load >= capacity {
            return Err(DomainError::conflict(
                "at_capacity",
                format!(
                    "you are at capacity ({load} of {capacity} interactions): end or wrap up one before starting another"
                ),
            ));
        }
        if self.interactions.contains_key(&o.new_interaction_id) {
            return Err(DomainError::conflict(
                "duplicate_id",
                "interaction id already in use",
            ));
        }
        let id = o.new_interaction_id.clone();
        let sla_response_s = self.queue(&o.queue_id).map_or(0, |q| q.sla_response_s);
        self.fact(
            now,
            FactKind::Arrived {
                interaction: id.clone(),
                queue: o.queue_id.clone(),
                channel: o.channel_id.clone(),
                customer: o.customer.clone(),
                contact_id: o.contact_id.clone(),
                outbound: true,
                sla_response_s,
            },
        );
        self.fact(
            now,
            FactKind::Joined {
                interaction: id.clone(),
                agent: o.agent.clone(),
                role: ParticipantRole::Owner,
            },
        );
        self.tail_key += 1;
        let it = Interaction {
            id: id.clone(),
            state: InteractionState::Active,
            queue_id: o.queue_id,
            conversation_id: o.conversation_id.clone(),
            channel_id: o.channel_id,
            customer: o.customer,
            source_number: o.source_number,
            first_message: None,
            contact_id: o.contact_id,
            created_at: now,
            waiting_since: now,
            queue_key: self.tail_key,
            accepted_at: Some(now),
            ended_at: None,
            owner_id: Some(o.agent.clone()),
            participants: vec![new_participant(&o.agent, ParticipantRole::Owner, now)],
            offer: None,
            conference: None,
            exclusions: Vec::new(),
            sticky: None,
            unread: 0,
            last_inbound_at: o.last_inbound_at,
            last_agent_reply_at: None,
            awaiting_reply_since: None,
            last_outbound_failed: false,
        };
        self.interactions.insert(id.clone(), it);
        self.touch(&id);
        self.open_by_conversation
            .insert(o.conversation_id, id.clone());
        self.take_slot(&o.agent, now);
        Ok(Reply::Inbound {
            interaction_id: id,
            created: true,
        })
    }

    pub(super) fn set_contact(
        &mut self,
        by: &AgentId,
        id: &InteractionId,
        contact_id: Option<String>,
    ) -> Result<(), DomainError> {
        let it = self.visible(by, id)?;
        let supervisor = self.agent(by).is_some_and(|a| a.role >= Role::Supervisor);
        if !supervisor && it.participant(by).is_none() {
            return Err(DomainError::conflict(
                "not_active",
                "you are not handling this interaction",
            ));
        }
        if it.contact_id == contact_id {
            return Ok(());
        }
        self.touch(id);
        if let Some(it) = self.interactions.get_mut(id) {
            it.contact_id = contact_id;
        }
        Ok(())
    }
}
