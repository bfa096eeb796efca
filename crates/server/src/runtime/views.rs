//! How domain values look on the wire: the JSON of the REST API and of live events.
//!
//! One function per noun, used by both the handlers and the event renderer, so a client sees the
//! same shape whether it polls or listens.

use serde_json::{json, Value};
use switchboard_domain::*;
use switchboard_store::{AuditRecord, MessageRecord, NoteRecord, UserRecord};

/// RFC 3339 UTC with milliseconds.
pub fn ts(t: Timestamp) -> String {
    let nanos = i128::from(t.0) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(dt) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            dt.format(&fmt).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

pub fn ts_opt(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

/// What the rest of the engine knows that a view needs: names of agents and queues.
pub trait Names {
    fn agent_name(&self, id: &AgentId) -> Option<String>;
    fn queue(&self, id: &QueueId) -> Option<&Queue>;
}

impl Names for Engine {
    fn agent_name(&self, id: &AgentId) -> Option<String> {
        self.agent(id).map(|a| a.display_name.clone())
    }
    fn queue(&self, id: &QueueId) -> Option<&Queue> {
        Engine::queue(self, id)
    }
}

/// How the interaction reached the agent of offer `o` when it was handled before: straight
/// from the agent who transferred it (`"agent"`), or from the queue after its owner transferred it
/// there (`"queue"`: the last owner before, unless that is the agent offered, for whom it merely
/// came back), with that agent. `None` for a first offer.
fn transferred(o: &Offer, it: &Interaction) -> Option<(&'static str, AgentId)> {
    match &o.kind {
        OfferKind::Transfer { from } => Some(("agent", from.clone())),
        OfferKind::Route => it
            .participants
            .iter()
            .filter(|p| p.role == ParticipantRole::Owner)
            .max_by_key(|p| p.joined_at)
            .filter(|p| p.agent_id != o.agent_id)
            .map(|p| ("queue", p.agent_id.clone())),
        OfferKind::Sticky | OfferKind::Conference { .. } => None,
    }
}

/// Since when the customer of offer `o` waits: since their oldest message still without
/// an answer, or else since the interaction joined its queue (for a transfer to an agent: since
/// that transfer), whichever is earlier. A transfer does not restart the customer's wait.
fn customer_waiting_since(o: &Offer, it: &Interaction) -> Timestamp {
    let since = match o.kind {
        OfferKind::Transfer { .. } => o.offered_at,
        _ => it.waiting_since,
    };
    it.awaiting_reply_since.map_or(since, |a| a.min(since))
}

fn offer_json(o: &Offer, it: &Interaction, names: &dyn Names) -> Value {
    let (kind, from) = match &o.kind {
        OfferKind::Route => ("route", None),
        OfferKind::Sticky => ("sticky", None),
        OfferKind::Transfer { from } => ("transfer", Some(from)),
        OfferKind::Conference { from } => ("conference", Some(from)),
    };
    let transfer = transferred(o, it);
    json!({
        "agent_id": o.agent_id,
        "kind": kind,
        "from_agent_id": from,
        "from_agent_name": from.and_then(|f| names.agent_name(f)),
        "offered_at": ts(o.offered_at),
        "deadline": ts(o.deadline),
        "transferred_via": transfer.as_ref().map(|(via, _)| via),
        "transferred_by_id": transfer.as_ref().map(|(_, a)| a),
        "transferred_by_name": transfer.as_ref().and_then(|(_, a)| names.agent_name(a)),
        "customer_waiting_since": ts(customer_waiting_since(o, it)),
    })
}

/// The interaction as `GET /api/v1/interactions/{id}` returns it.
pub fn interaction(it: &Interaction, names: &dyn Names, now: Timestamp) -> Value {
    let queue = names.queue(&it.queue_id);
    let sla = queue.map_or(DEFAULT_SLA_RESPONSE_S, |q| q.sla_response_s);
    let participants: Vec<Value> = it
        .participants
        .iter()
        .map(|p| {
            json!({
                "agent_id": p.agent_id,
                "display_name": names.agent_name(&p.agent_id),
                "role": p.role,
                "state": p.state,
                "joined_at": ts(p.joined_at),
                "left_at": ts_opt(p.left_at),
                "wrap_up_deadline": ts_opt(p.wrap_up_deadline),
                "disposition_code": p.disposition_code,
                "wrap_up_note": p.wrap_up_note,
                "wrapped_up_at": ts_opt(p.wrapped_up_at),
            })
        })
        .collect();
    let conference = it.conference.as_ref().map(|c| {
        let (kind, target) = match &c.target {
            Target::Agent(a) => ("agent", a.to_string()),
            Target::Queue(q) => ("queue", q.to_string()),
        };
        json!({
            "status": "requested",
            "target_kind": kind,
            "target_id": target,
            "requested_by": c.requested_by,
            "requested_at": ts(c.requested_at),
            "offer": c.offer.as_ref().map(|o| offer_json(o, it, names)),
        })
    });
    let in_conference = it
        .participants
        .iter()
        .any(|p| p.role == ParticipantRole::Conference && p.state == ParticipantState::Active);
    let conference_status = if it.conference.is_some() {
        "requested"
    } else if in_conference {
        "active"
    } else {
        "none"
    };
    json!({
        "id": it.id,
        "state": it.state,
        "queue_id": it.queue_id,
        "queue_name": queue.map(|q| q.name.clone()),
        "owner_id": it.owner_id,
        "participants": participants,
        "contact": it.contact_id.as_ref().map(|c| json!({"id": c})),
        "conversation_id": it.conversation_id,
        "customer": {"wa_id": it.customer.wa_id, "name": it.customer.name},
        "customer_display_name": it.customer.name.clone().unwrap_or_else(|| it.customer.wa_id.clone()),
        "channel_id": it.channel_id,
        "source_number": it.source_number,
        "first_message": it.first_message,
        "created_at": ts(it.created_at),
        "waiting_since": ts(it.waiting_since),
        "accepted_at": ts_opt(it.accepted_at),
        "ended_at": ts_opt(it.ended_at),
        "unread": it.unread,
        "past_sla": it.past_sla(sla, now),
        "sla_response_s": sla,
        "awaiting_reply_since": ts_opt(it.awaiting_reply_since),
        "last_inbound_at": ts_opt(it.last_inbound_at),
        "window_expires_at": ts_opt(it.window_expires_at()),
        "last_outbound_failed": it.last_outbound_failed,
        "offer": it.offer.as_ref().map(|o| offer_json(o, it, names)),
        "conference": conference,
        "conference_status": conference_status,
        "dispositions": queue.map(|q| q.dispositions.clone()).unwrap_or_default(),
        "disposition_required": queue.is_some_and(|q| q.disposition_required),
    })
}

/// The data of an `offer.created` event: who, from where, which queue, the first message
/// and the wait so far, plus the whole interaction.
pub fn offer_event(it: &Interaction, agent: &AgentId, names: &dyn Names, now: Timestamp) -> Value {
    let offer = it
        .offer
        .as_ref()
        .filter(|o| &o.agent_id == agent)
        .or_else(|| {
            it.conference
                .as_ref()
                .and_then(|c| c.offer.as_ref())
                .filter(|o| &o.agent_id == agent)
        });
    json!({
        "interaction_id": it.id,
        "customer_name": it.customer.name.clone().unwrap_or_else(|| it.customer.wa_id.clone()),
        "customer_number": it.customer.wa_id,
        "source_number": it.source_number,
        "queue_id": it.queue_id,
        "queue_name": names.queue(&it.queue_id).map(|q| q.name.clone()),
        "first_message": it.first_message,
        "waiting_since": ts(it.waiting_since),
        "customer_waiting_since": offer.map(|o| ts(customer_waiting_since(o, it))),
        "offer": offer.map(|o| offer_json(o, it, names)),
        "interaction": interaction(it, names, now),
    })
}

/// An agent as `GET /api/v1/me` and presence events show them.
pub fn agent(a: &Agent, load: u32, username: Option<&str>) -> Value {
    json!({
        "id": a.id,
        "username": username,
        "display_name": a.display_name,
        "role": a.role,
        "presence": a.presence,
        "break_reason": a.break_reason,
        "presence_since": ts(a.presence_since),
        "stop_new": a.stop_new,
        "capacity": a.capacity,
        "load": load,
        "can_reject": a.can_reject,
        "queue_ids": a.queue_ids,
        "connected": a.disconnected_since.is_none(),
    })
}

/// What the agent is doing (R-8.2; `activity` of API.md "Supervisor"), from the engine: `handling`
/// while an interaction of theirs is active (`full` once their load reaches their capacity),
/// `post_processing` while they only wrap up (whatever their load), `full` when pending offers
/// alone fill their capacity, else `idle`.
pub fn activity(engine: &Engine, agent: &AgentId) -> &'static str {
    let (Some(a), load) = (engine.agent(agent), engine.load_of(agent)) else {
        return "idle";
    };
    let full = load > 0 && load >= a.capacity;
    let mut wrap_up = false;
    for it in engine.interactions_of(agent) {
        match it.participant(agent).map(|p| p.state) {
            Some(ParticipantState::Active) => return if full { "full" } else { "handling" },
            Some(ParticipantState::WrapUp) => wrap_up = true,
            _ => {}
        }
    }
    if wrap_up {
        "post_processing"
    } else if full {
        "full"
    } else {
        "idle"
    }
}

/// [`agent`] with its [`activity`]: the agent as their presence is reported live and by `/me`.
pub fn agent_now(engine: &Engine, a: &Agent, username: Option<&str>) -> Value {
    let mut v = agent(a, engine.load_of(&a.id), username);
    v["activity"] = json!(activity(engine, &a.id));
    v
}

pub fn user_agent(u: &UserRecord, a: Option<&Agent>, load: u32) -> Value {
    match a {
        Some(a) => agent(a, load, Some(&u.username)),
        None => json!({"id": u.id, "username": u.username, "role": u.role}),
    }
}

pub fn queue(q: &Queue, waiting: usize) -> Value {
    json!({
        "id": q.id,
        "name": q.name,
        "routing_policy": q.routing_policy,
        "priority": q.priority,
        "acceptance_interval_s": q.acceptance_interval_s,
        "post_processing_s": q.post_processing_s,
        "sla_response_s": q.sla_response_s,
        "dispositions": q.dispositions,
        "disposition_required": q.disposition_required,
        "sticky": q.sticky,
        "sticky_timeout_s": q.sticky_timeout_s,
        "waiting": waiting,
    })
}

pub fn message(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "conversation_id": m.conversation_id,
        "interaction_id": m.interaction_id,
        "direction": m.direction,
        "author_id": m.author_id,
        "type": m.kind,
        "text": m.body,
        "payload": m.payload,
        "wa_message_id": m.wa_message_id,
        "status": m.status,
        "error": m.error,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
    })
}

/// A message as live events carry it: without the channel's raw payload (it stays in the row
/// and in `GET …/messages`), to keep events light.
pub fn message_event(m: &MessageRecord) -> Value {
    let mut v = message(m);
    if let Some(p) = v.get_mut("payload").and_then(Value::as_object_mut) {
        p.remove("raw");
    }
    v
}

/// [`message_event`] as JSON text, byte for byte, written straight from the record: no `Value`
/// tree, no copy of the payload (the worker encodes one per customer message).
pub fn message_event_json(m: &MessageRecord) -> String {
    /// The payload object without `raw` (keys in `Value`'s order); any other value as is.
    struct Payload<'a>(&'a Value);
    impl serde::Serialize for Payload<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            match self.0.as_object() {
                Some(map) => {
                    let mut out = s.serialize_map(None)?;
                    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "raw") {
                        out.serialize_entry(k, v)?;
                    }
                    out.end()
                }
                None => self.0.serialize(s),
            }
        }
    }
    // Fields in the order `Value` keeps object keys (sorted), so the text is the same.
    #[derive(serde::Serialize)]
    struct View<'a> {
        author_id: &'a Option<AgentId>,
        conversation_id: &'a ConversationId,
        created_at: String,
        direction: &'a str,
        error: &'a Option<Value>,
        id: &'a str,
        interaction_id: &'a Option<InteractionId>,
        payload: Payload<'a>,
        status: &'a str,
        text: &'a Option<String>,
        #[serde(rename = "type")]
        kind: &'a str,
        updated_at: String,
        wa_message_id: &'a Option<String>,
    }
    let view = View {
        author_id: &m.author_id,
        conversation_id: &m.conversation_id,
        created_at: ts(m.created_at),
        direction: &m.direction,
        error: &m.error,
        id: &m.id,
        interaction_id: &m.interaction_id,
        payload: Payload(&m.payload),
        status: &m.status,
        text: &m.body,
        kind: &m.kind,
        updated_at: ts(m.updated_at),
        wa_message_id: &m.wa_message_id,
    };
    serde_json::to_string(&view).unwrap_or_else(|_| message_event(m).to_string())
}

pub fn note(n: &NoteRecord) -> Value {
    json!({
        "id": n.id,
        "interaction_id": n.interaction_id,
        "author_id": n.author_id,
        "text": n.body,
        "created_at": ts(n.created_at),
    })
}

/// One audit log entry as `GET /api/v1/audit` and the floor's `audit.created` show it.
pub fn audit_entry(a: &AuditRecord) -> Value {
    let actor = match &a.actor_id {
        Some(id) => json!({"id": id, "name": a.actor_name}),
        None => Value::Null,
    };
    json!({
        "id": a.id,
        "at": ts(a.at),
        "actor": actor,
        "action": a.action,
        "target": {"type": a.target_type, "id": a.target_id},
        "before": a.before,
        "after": a.after,
        "client_addr": a.client_addr,
    })
}

pub fn settings(s: &Settings) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: Value, error: Option<Value>, author: Option<&str>) -> MessageRecord {
        MessageRecord {
            id: "msg_01".into(),
            conversation_id: ConversationId("conv \"1\"".into()),
            interaction_id: author.map(|_| InteractionId("int_1".into())),
            direction: "in".into(),
            author_id: author.map(|a| AgentId(a.into())),
            kind: "text".into(),
            body: Some("Grüße\n\"quoted\" \\ \u{1}".into()),
            payload,
            wa_message_id: author.map(|_| "wamid.X".to_owned()),
            status: "received".into(),
            error,
            created_at: Timestamp(1_700_000_000_123),
            updated_at: Timestamp(1_700_000_000_456),
        }
    }

    /// The direct encoding is the same text as encoding the `Value` view.
    #[test]
    fn message_event_json_is_the_value_encoded() {
        let cases = [
            record(
                json!({"raw": {"id": "x", "big": [1, 2, 3]}, "content": {"type": "text", "body": "hi"},
                       "context": null, "timestamp": "17", "media": {"state": "pending"}, "z": 1.25}),
                None,
                Some("agent-1"),
            ),
            record(json!({}), Some(json!({"code": 131026, "title": "t"})), None),
            record(json!("not an object"), None, None),
            record(Value::Null, None, Some("a")),
        ];
        for m in &cases {
            assert_eq!(message_event_json(m), message_event(m).to_string());
        }
        assert!(!message_event_json(&cases[0]).contains("\"raw\""));
    }
}
