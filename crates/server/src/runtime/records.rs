//! Rows the core worker writes beside the engine's changes, in the same commit: the closed case
//! of a handled interaction, the events for the external CRM and the audit
//! entries of presence changes the engine makes itself.

use crate::runtime::ids::new_id;
use crate::runtime::views;
use serde_json::{json, Value};
use switchboard_domain::{Agent, Engine, Interaction, Timestamp};
use switchboard_store::{AuditRecord, CaseRecord, CrmEventRecord};

/// An interaction left `active` because it ended; with its transcript.
pub const INTERACTION_ENDED: &str = "interaction.ended";
/// A contact was created in the local CRM.
pub const CONTACT_CREATED: &str = "contact.created";
/// A case (chat log) was saved.
pub const CASE_CREATED: &str = "case.created";

/// The audit action of a presence change (`services::audit` names every other action).
pub const PRESENCE_CHANGED: &str = "presence.changed";

/// An agent's presence (and break reason, stop-new) as the audit log keeps it.
pub fn presence_value(a: &Agent) -> Value {
    json!({"presence": a.presence, "break_reason": a.break_reason, "stop_new": a.stop_new})
}

/// The audit entry of a presence change the engine made itself, with no user behind it: a
/// missed or rejected offer (RONA, with its reason), offline when a lost connection's grace
/// period ran out. No actor; `after` is the agent's presence now.
pub fn system_presence_audit(a: &Agent, now: Timestamp) -> AuditRecord {
    AuditRecord {
        id: new_id("aud", now),
        at: now,
        actor_id: None,
        actor_name: None,
        action: PRESENCE_CHANGED.to_owned(),
        target_type: "agent".into(),
        target_id: a.id.as_str().to_owned(),
        before: None,
        after: Some(presence_value(a)),
        client_addr: None,
    }
}

/// A new event for the external CRM, pending from `now`. Put it in
/// [`crate::runtime::core::Attach::crm_events`] of the change it reports, so both commit together (it
/// is dropped there when no webhook is configured). `data` is the event's `data` as sent.
pub fn crm_event(kind: &str, data: Value, now: Timestamp) -> CrmEventRecord {
    CrmEventRecord {
        id: new_id("evt", now),
        kind: kind.to_owned(),
        payload: data,
        body: None,
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// A case as the API (and the CRM's `case.created`) shows it.
pub fn case_json(c: &CaseRecord) -> Value {
    json!({
        "id": c.id,
        "state": c.state,
        "contact_id": c.contact_id,
        "interaction_id": c.interaction_id,
        "conversation_id": c.conversation_id,
        "queue_id": c.queue_id,
        "subject": c.subject,
        "agents": c.agents,
        "disposition_code": c.disposition_code,
        "initiated_at": views::ts(c.initiated_at),
        "accepted_at": c.accepted_at.map(views::ts),
        "ended_at": c.ended_at.map(views::ts),
        "created_by": c.created_by,
        "created_at": views::ts(c.created_at),
        "closed_at": c.closed_at.map(views::ts),
    })
}

/// The closed case of a finished interaction. Its transcript is the interaction's
/// messages and notes, which are kept with it.
pub fn closed_case(it: &Interaction, engine: &Engine, now: Timestamp) -> CaseRecord {
    let disposition = it
        .participants
        .iter()
        .rev()
        .find_map(|p| p.disposition_code.clone());
    CaseRecord {
        id: new_id("case", now),
        state: "closed".into(),
        contact_id: it.contact_id.clone(),
        interaction_id: it.id.clone(),
        conversation_id: it.conversation_id.clone(),
        queue_id: Some(it.queue_id.clone()),
        subject: None,
        agents: case_agents(it, engine),
        disposition_code: disposition,
        initiated_at: it.created_at,
        accepted_at: it.accepted_at,
        ended_at: it.ended_at,
        created_by: None,
        created_at: now,
        closed_at: Some(now),
        updated_at: now,
    }
}

/// The agents of a case: every participant of the interaction so far, named, with their times,
/// disposition and wrap-up note (an open case saved before the end has them too).
pub fn case_agents(it: &Interaction, engine: &Engine) -> Value {
    let agents: Vec<Value> = it
        .participants
        .iter()
        .map(|p| {
            json!({
                "agent_id": p.agent_id,
                "display_name": engine.agent(&p.agent_id).map(|a| a.display_name.clone()),
                "role": p.role,
                "joined_at": views::ts(p.joined_at),
                "left_at": p.left_at.map(views::ts),
                "disposition_code": p.disposition_code,
                "note": p.wrap_up_note,
            })
        })
        .collect();
    Value::Array(agents)
}

/// The `data` of [`INTERACTION_ENDED`] (without the transcript, which the delivery service adds
/// when it first builds the body): the interaction as it was when it ended.
pub fn interaction_ended_data(it: &Interaction, engine: &Engine) -> Value {
    let mut agents: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &it.participants {
        if seen.insert(p.agent_id.clone()) {
            agents.push(json!({
                "id": p.agent_id,
                "name": engine.agent(&p.agent_id).map(|a| a.display_name.clone()),
                "role": p.role,
                "joined_at": views::ts(p.joined_at),
            }));
        }
    }
    json!({
        "interaction": {
            "id": it.id,
            "queue_id": it.queue_id,
            "queue_name": engine.queue(&it.queue_id).map(|q| q.name.clone()),
            "channel_id": it.channel_id,
            "conversation_id": it.conversation_id,
            "customer": {"wa_id": it.customer.wa_id, "name": it.customer.name},
            "contact_id": it.contact_id,
            "owner_id": it.owner_id,
            "agents": agents,
            "created_at": views::ts(it.created_at),
            "accepted_at": views::ts_opt(it.accepted_at),
            "ended_at": views::ts_opt(it.ended_at),
        }
    })
}
