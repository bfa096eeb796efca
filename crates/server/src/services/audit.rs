//! The audit log's entries: who changed what, when, with the value before and after.
//!
//! Every entry is made here, so actions are named one way (dotted: `<noun>.<verb in the past>`)
//! and values have one shape per noun. An entry of a change goes into the change's
//! [`Attach::audit`](crate::runtime::core::Attach) and is committed with it (the core fills in
//! the actor's display name and tells the floor, `audit.created`); an entry that goes with no
//! other change (a login) is written by [`append`], through the core as well. Secrets (passwords, tokens, app secrets) never appear in a value.

use crate::runtime::clock::Clock;
use crate::runtime::core::{Attach, Core};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::views;
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard_domain::*;
use switchboard_store::{AuditRecord, ChannelRecord, TemplateRecord};

pub const QUEUE_CREATED: &str = "queue.created";
pub const QUEUE_UPDATED: &str = "queue.updated";
pub const QUEUE_DELETED: &str = "queue.deleted";
pub const AGENT_CREATED: &str = "agent.created";
pub const AGENT_UPDATED: &str = "agent.updated";
/// An admin set a new password for the user (the password itself is never logged).
pub const AGENT_PASSWORD_RESET: &str = "agent.password_reset";
/// The user was deleted (deactivated: their history stays).
pub const AGENT_DELETED: &str = "agent.deleted";
pub const SETTINGS_UPDATED: &str = "settings.updated";
pub const CHANNEL_CREATED: &str = "channel.created";
pub const CHANNEL_UPDATED: &str = "channel.updated";
pub const CHANNEL_DELETED: &str = "channel.deleted";
/// A template's variable map changed.
pub const TEMPLATE_UPDATED: &str = "template.updated";
/// An admin put a dead event for the external CRM back in the queue.
pub const CRM_EVENT_RETRIED: &str = "crm_event.retried";
pub const RESPONSE_CREATED: &str = "response.created";
pub const RESPONSE_UPDATED: &str = "response.updated";
pub const RESPONSE_DELETED: &str = "response.deleted";
/// An integration token was made for a user (the token itself is never logged).
pub const TOKEN_CREATED: &str = "token.created";
/// An integration token was deleted: it stops working at once.
pub const TOKEN_REVOKED: &str = "token.revoked";
/// An admin asked for the templates to be read from WhatsApp again.
pub const TEMPLATES_SYNCED: &str = "templates.synced";
pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
/// A wrong username or password; the actor is the user when the username exists.
pub const LOGIN_FAILED: &str = "login.failed";
/// An agent's presence changed by their own choice, by a supervisor, or by the engine
/// (no actor: RONA, offline after a lost connection; written by the core).
pub use crate::runtime::records::PRESENCE_CHANGED;
pub const STOP_NEW_CHANGED: &str = "stop_new.changed";
/// A supervisor became the owner of an active interaction.
pub const INTERACTION_TAKEN_OVER: &str = "interaction.taken_over";
/// A supervisor transferred an interaction they do not own.
pub const INTERACTION_REASSIGNED: &str = "interaction.reassigned";
/// A supervisor whispered to the interaction's agents.
pub const INTERACTION_WHISPERED: &str = "interaction.whispered";

/// An entry: `actor` did `action` on the target `(target_type, target_id)`, changing it from
/// `before` to `after`. The actor's name is left for the core to fill in (see the module doc).
pub fn entry(
    now: Timestamp,
    actor: Option<&AgentId>,
    action: &str,
    target: (&str, &str),
    before: Option<Value>,
    after: Option<Value>,
) -> AuditRecord {
    AuditRecord {
        id: new_id("aud", now),
        at: now,
        actor_id: actor.cloned(),
        actor_name: None,
        action: action.to_owned(),
        target_type: target.0.to_owned(),
        target_id: target.1.to_owned(),
        before,
        after,
        client_addr: None,
    }
}

/// Stores entries that go with no other change (logins) through the core, in order with
/// everything else: it fills in actors' names from the engine (a user the engine does not know
/// keeps `None`) and tells supervisors and admins live (`audit.created`).
pub async fn append(core: &Core, records: Vec<AuditRecord>) -> Result<(), ApiError> {
    core.store(Attach {
        audit: records,
        ..Attach::default()
    })
    .await
}

/// A login, successful or not, from `client` (the client's address as the server sees it).
/// The target is the user (their username when it names none); a failure has no actor: who
/// typed the password is not known.
pub fn login(
    clock: &Arc<dyn Clock>,
    action: &str,
    user: Option<&AgentId>,
    username: &str,
    client: Option<String>,
) -> AuditRecord {
    let target = user.map_or(username, AgentId::as_str);
    let actor = user.filter(|_| action == LOGIN_SUCCEEDED);
    let mut e = entry(
        clock.now(),
        actor,
        action,
        ("user", target),
        None,
        Some(json!({"username": username})),
    );
    e.client_addr = client;
    e
}

/// A queue's configuration as the log keeps it (without live counts).
pub fn queue_value(q: &Queue) -> Value {
    let mut v = views::queue(q, 0);
    if let Some(o) = v.as_object_mut() {
        o.remove("waiting");
    }
    v
}

/// A user's configuration as the log keeps it (never the password).
pub fn agent_value(a: &AgentConfig, username: Option<&str>) -> Value {
    let mut v = json!({
        "display_name": a.display_name,
        "role": a.role,
        "capacity": a.capacity,
        "can_reject": a.can_reject,
        "queue_ids": a.queue_ids,
    });
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

/// The configuration of a live agent.
pub fn agent_config(a: &Agent) -> AgentConfig {
    AgentConfig {
        id: a.id.clone(),
        display_name: a.display_name.clone(),
        role: a.role,
        capacity: a.capacity,
        can_reject: a.can_reject,
        queue_ids: a.queue_ids.clone(),
    }
}

/// The global settings as the log keeps them.
pub fn settings_value(s: &Settings) -> Value {
    views::settings(s)
}

/// A channel without its secrets (not even a hash of one: a weak verify token could be
/// guessed from it); which secrets a change replaced is told by the change's entry.
pub fn channel_value(c: &ChannelRecord) -> Value {
    json!({
        "phone_number_id": c.phone_number_id,
        "display_phone_number": c.display_phone_number,
        "waba_id": c.waba_id,
        "queue_id": c.queue_id,
    })
}

/// A template as the log keeps it: what an admin changes of it.
pub fn template_value(t: &TemplateRecord) -> Value {
    json!({"name": t.name, "language": t.language, "variable_map": t.variable_map})
}

/// An agent's presence (and break reason, stop-new) as the log keeps it.
pub use crate::runtime::records::presence_value;

/// The entry of `actor` setting `agent`'s presence (their own, or by a supervisor), read
/// against the agent's presence now; none when nothing would change or the agent is unknown
/// (the engine then refuses, and nothing is stored anyway).
pub async fn presence_change(
    core: &Core,
    now: Timestamp,
    actor: &AgentId,
    agent: &AgentId,
    presence: Presence,
    reason: Option<&str>,
) -> Result<Vec<AuditRecord>, ApiError> {
    let id = agent.clone();
    let before = core
        .read(move |s| s.engine.agent(&id).map(presence_value))
        .await?;
    let Some(before) = before else {
        return Ok(Vec::new());
    };
    let mut after = before.clone();
    after["presence"] = json!(presence);
    after["break_reason"] = json!(reason.filter(|_| presence == Presence::OnBreak));
    if after == before {
        return Ok(Vec::new());
    }
    Ok(vec![entry(
        now,
        Some(actor),
        PRESENCE_CHANGED,
        ("agent", agent.as_str()),
        Some(before),
        Some(after),
    )])
}
