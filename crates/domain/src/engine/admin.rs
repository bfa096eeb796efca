//! Admin commands: queues, agents and settings, and the checks of their configuration.

use super::facts::FactKind;
use super::{AgentSlot, Engine, QueueSlot};
use crate::error::DomainError;
use crate::model::*;
use std::collections::HashSet;

impl Engine {
    pub(super) fn upsert_queue(&mut self, mut q: Queue) -> Result<(), DomainError> {
        validate_queue(&q)?;
        if let Some(slot) = self.queues.get_mut(&q.id) {
            q.rr_last = slot.queue.rr_last.clone();
            let policy_changed = slot.queue.routing_policy != q.routing_policy;
            slot.queue = q.clone();
            if policy_changed {
                self.rebuild_ready(&q.id);
            }
        } else {
            self.queues.insert(q.id.clone(), QueueSlot::new(q.clone()));
        }
        self.changes.queues.insert(q.id.clone());
        self.dirty_queues.insert(q.id);
        Ok(())
    }

    pub(super) fn delete_queue(&mut self, id: &QueueId) -> Result<(), DomainError> {
        if !self.queues.contains_key(id) {
            return Err(DomainError::not_found("queue"));
        }
        let in_use = self.interactions.values().any(|i| {
            &i.queue_id == id
                || matches!(&i.conference, Some(ConferenceRequest { target: Target::Queue(q), .. }) if q == id)
        });
        if in_use {
            return Err(DomainError::conflict(
                "queue_in_use",
                "the queue still has interactions; transfer or finish them first",
            ));
        }
        if let Some(slot) = self.queues.remove(id) {
            for a in slot.members {
                if let Some(s) = self.agents.get_mut(&a) {
                    s.agent.queue_ids.retain(|q| q != id);
                    self.changes.agents.insert(a);
                }
            }
        }
        self.candidates.remove(id);
        self.dirty_queues.remove(id);
        self.changes.deleted_queues.push(id.clone());
        Ok(())
    }

    pub(super) fn upsert_agent(
        &mut self,
        mut c: AgentConfig,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if c.display_name.trim().is_empty() {
            return Err(DomainError::invalid(
                "invalid_display_name",
                "display_name must not be empty",
            ));
        }
        if !(1..=100).contains(&c.capacity) {
            return Err(DomainError::invalid(
                "invalid_capacity",
                "capacity must be between 1 and 100",
            ));
        }
        c.queue_ids.sort();
        c.queue_ids.dedup();
        if let Some(q) = c.queue_ids.iter().find(|q| !self.queues.contains_key(*q)) {
            return Err(DomainError::invalid(
                "unknown_queue",
                format!("queue {q} does not exist"),
            ));
        }
        self.unindex_agent(&c.id);
        let old_queues = match self.agents.get_mut(&c.id) {
            Some(slot) => {
                let old = std::mem::take(&mut slot.agent.queue_ids);
                slot.agent.display_name = c.display_name;
                slot.agent.role = c.role;
                slot.agent.capacity = c.capacity;
                slot.agent.can_reject = c.can_reject;
                slot.agent.queue_ids = c.queue_ids.clone();
                old
            }
            None => {
                self.agents.insert(
                    c.id.clone(),
                    AgentSlot::new(Agent {
                        id: c.id.clone(),
                        display_name: c.display_name,
                        role: c.role,
                        capacity: c.capacity,
                        can_reject: c.can_reject,
                        queue_ids: c.queue_ids.clone(),
                        presence: Presence::Offline,
                        break_reason: None,
                        stop_new: false,
                        presence_since: now,
                        last_idle_at: now,
                        disconnected_since: None,
                    }),
                );
                // A new agent's timeline starts offline.
                self.fact(
                    now,
                    FactKind::Presence {
                        agent: c.id.clone(),
                        presence: Presence::Offline,
                        reason: None,
                    },
                );
                Vec::new()
            }
        };
        for q in &old_queues {
            if let Some(slot) = self.queues.get_mut(q) {
                slot.members.remove(&c.id);
            }
            self.dirty_queues.insert(q.clone());
        }
        for q in &c.queue_ids {
            if let Some(slot) = self.queues.get_mut(q) {
                slot.members.insert(c.id.clone());
            }
            self.dirty_queues.insert(q.clone());
        }
        if c.role >= Role::Supervisor {
            self.supervisors.insert(c.id.clone());
        } else {
            self.supervisors.remove(&c.id);
        }
        self.changes.agents.insert(c.id.clone());
        self.touched_agents.insert(c.id.clone());
        self.reindex.push(c.id);
        Ok(())
    }

    pub(super) fn delete_agent(&mut self, id: &AgentId, now: Timestamp) -> Result<(), DomainError> {
        let Some(slot) = self.agents.get(id) else {
            return Err(DomainError::not_found("agent"));
        };
        if slot.load > 0 {
            return Err(DomainError::conflict(
                "agent_busy",
                "the agent still has interactions; wait until they are wrapped up",
            ));
        }
        self.unindex_agent(id);
        self.supervisors.remove(id);
        if let Some(slot) = self.agents.remove(id) {
            // The agent's timeline ends: offline from now on.
            if slot.agent.presence != Presence::Offline {
                self.fact(
                    now,
                    FactKind::Presence {
                        agent: id.clone(),
                        presence: Presence::Offline,
                        reason: None,
                    },
                );
            }
            for q in slot.agent.queue_ids {
                if let Some(qs) = self.queues.get_mut(&q) {
                    qs.members.remove(id);
                }
                self.dirty_queues.insert(q);
            }
        }
        self.timers.remove_agent(id);
        self.changes.deleted_agents.push(id.clone());
        Ok(())
    }

    pub(super) fn update_settings(&mut self, s: Settings) -> Result<(), DomainError> {
        validate_settings(&s)?;
        let grace_changed = s.disconnect_grace_s != self.settings.disconnect_grace_s;
        self.settings = s;
        self.changes.settings_changed = true;
        if grace_changed {
            // Disconnect-grace deadlines derive from the setting: re-derive them.
            let waiting: Vec<AgentId> = self
                .agents
                .values()
                .filter(|a| a.agent.disconnected_since.is_some())
                .map(|a| a.agent.id.clone())
                .collect();
            self.touched_agents.extend(waiting);
        }
        Ok(())
    }
}

/// Checks a queue's configuration.
pub fn validate_queue(q: &Queue) -> Result<(), DomainError> {
    if q.name.trim().is_empty() || q.name.len() > 200 {
        return Err(DomainError::invalid(
            "invalid_name",
            "queue name must be 1 to 200 bytes",
        ));
    }
    if !(1..=100).contains(&q.priority) {
        return Err(DomainError::invalid(
            "invalid_priority",
            "priority must be between 1 and 100",
        ));
    }
    if !(1..=3600).contains(&q.acceptance_interval_s) {
        return Err(DomainError::invalid(
            "invalid_acceptance_interval",
            "acceptance_interval_s must be between 1 and 3600",
        ));
    }
    if q.post_processing_s > 86_400 {
        return Err(DomainError::invalid(
            "invalid_post_processing",
            "post_processing_s must be between 0 and 86400",
        ));
    }
    if !(1..=86_400).contains(&q.sla_response_s) {
        return Err(DomainError::invalid(
            "invalid_sla_response",
            "sla_response_s must be between 1 and 86400",
        ));
    }
    if !(1..=86_400).contains(&q.sticky_timeout_s) {
        return Err(DomainError::invalid(
            "invalid_sticky_timeout",
            "sticky_timeout_s must be between 1 and 86400",
        ));
    }
    let mut codes = HashSet::new();
    for d in &q.dispositions {
        if d.code.trim().is_empty() || d.code.len() > 100 || d.label.trim().is_empty() {
            return Err(DomainError::invalid(
                "invalid_disposition",
                "each disposition needs a code (1 to 100 bytes) and a label",
            ));
        }
        if !codes.insert(d.code.as_str()) {
            return Err(DomainError::invalid(
                "duplicate_disposition",
                format!("disposition code '{}' appears twice", d.code),
            ));
        }
    }
    if q.disposition_required && q.dispositions.is_empty() {
        return Err(DomainError::invalid(
            "disposition_required_without_codes",
            "a queue that requires a disposition needs at least one disposition code",
        ));
    }
    Ok(())
}

/// Checks global settings.
pub fn validate_settings(s: &Settings) -> Result<(), DomainError> {
    if !(1..=2_147_483_647).contains(&s.max_text_message_size) {
        return Err(DomainError::invalid(
            "invalid_max_text_message_size",
            "max_text_message_size must be between 1 and 2147483647",
        ));
    }
    if !(1..=1000).contains(&s.transcript_interactions_count) {
        return Err(DomainError::invalid(
            "invalid_transcript_interactions_count",
            "transcript_interactions_count must be between 1 and 1000",
        ));
    }
    if s.offer_exclusion_s > 86_400 || s.disconnect_grace_s > 86_400 {
        return Err(DomainError::invalid(
            "invalid_duration",
            "offer_exclusion_s and disconnect_grace_s must be at most 86400",
        ));
    }
    if s.break_reasons
        .iter()
        .any(|r| r.trim().is_empty() || r.len() > 100)
    {
        return Err(DomainError::invalid(
            "invalid_break_reason",
            "break reasons must be 1 to 100 bytes",
        ));
    }
    Ok(())
}
