//! Users (agents, supervisors, admins): create, list, change (role, capacity, queues, password), delete.

use super::{audited, AdminState};
use crate::http::Path;
use crate::http::{body, created, no_content, ok, Access, Endpoint, Json};
use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "POST",
            path: "/api/v1/agents",
            summary: "Create a user (agent, supervisor or admin).",
            access: Access::Admin,
            body: body::<AgentRequest>(),
            handler: post(create_agent),
            doc: crate::http::Doc::created::<crate::http::wire::User>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/agents",
            summary: "List users with presence and load.",
            access: Access::Supervisor,
            body: None,
            handler: get(list_agents),
            doc: crate::http::Doc::ok::<Vec<crate::http::wire::User>>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/agents/{id}",
            summary: "One user.",
            access: Access::Supervisor,
            body: None,
            handler: get(get_agent),
            doc: crate::http::Doc::ok::<crate::http::wire::User>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/agents/{id}",
            summary: "Change a user (role, capacity, can_reject, queues, password).",
            access: Access::Admin,
            body: body::<AgentPatch>(),
            handler: patch(patch_agent),
            doc: crate::http::Doc::ok::<crate::http::wire::User>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/agents/{id}",
            summary: "Delete a user who holds no interactions.",
            access: Access::Admin,
            body: None,
            handler: delete(delete_agent),
            doc: crate::http::Doc::no_content(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    pub username: String,
    pub password: String,
    pub display_name: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    pub capacity: Option<u32>,
    pub can_reject: Option<bool>,
    pub queue_ids: Option<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub capacity: Option<u32>,
    pub can_reject: Option<bool>,
    pub queue_ids: Option<Vec<String>>,
    pub password: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s)
        .ok_or_else(|| ApiError::invalid("invalid_role", "role must be agent, supervisor or admin"))
}

/// Display names are shown in lists, offers and system messages: 1 to 200 bytes, one line.
fn check_display_name(d: &str) -> Result<(), ApiError> {
    if d.trim().is_empty() || d.len() > 200 || d.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_display_name",
            "display_name must be 1 to 200 bytes without control characters",
        ));
    }
    Ok(())
}

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < 8 {
        return Err(ApiError::invalid(
            "weak_password",
            "the password needs at least 8 characters",
        ));
    }
    if p.len() > 1024 {
        return Err(ApiError::invalid(
            "invalid_password",
            "the password may have at most 1024 bytes",
        ));
    }
    Ok(())
}

async fn agent_json(state: &AdminState, id: &AgentId) -> Result<Value, ApiError> {
    let user = state
        .store
        .user(id)
        .await?
        .filter(|u| !u.deleted)
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let aid = id.clone();
    let agent = state
        .core
        .read(move |s| {
            s.engine
                .agent(&aid)
                .cloned()
                .map(|a| (s.engine.load_of(&a.id), a))
        })
        .await?;
    Ok(match agent {
        Some((load, a)) => views::user_agent(&user, Some(&a), load),
        None => views::user_agent(&user, None, 0),
    })
}

/// `POST /api/v1/agents`
async fn create_agent(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<AgentRequest>,
) -> Result<Response, ApiError> {
    let username = req.username.trim().to_owned();
    let valid = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !valid {
        return Err(ApiError::invalid(
            "invalid_username",
            "username must be 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    check_password(&req.password)?;
    let role = parse_role(&req.role)?;
    let now = state.clock.now();
    let id = AgentId(new_id("usr", now));
    let config = AgentConfig {
        id: id.clone(),
        display_name: req.display_name.trim().to_owned(),
        role,
        capacity: req.capacity.unwrap_or(DEFAULT_CAPACITY),
        can_reject: req.can_reject.unwrap_or(false),
        queue_ids: req
            .queue_ids
            .unwrap_or_default()
            .into_iter()
            .map(QueueId)
            .collect(),
    };
    // Refuse what the engine would refuse before the user row exists.
    check_display_name(&config.display_name)?;
    if !(1..=100).contains(&config.capacity) {
        return Err(ApiError::invalid(
            "invalid_capacity",
            "capacity must be between 1 and 100",
        ));
    }
    let wanted = config.queue_ids.clone();
    let missing = state
        .core
        .read(move |s| wanted.into_iter().find(|q| s.engine.queue(q).is_none()))
        .await?;
    if let Some(q) = missing {
        return Err(ApiError::invalid(
            "unknown_queue",
            format!("queue {q} does not exist"),
        ));
    }
    if state.store.user_by_username(&username).await?.is_some() {
        return Err(ApiError::conflict(
            "username_taken",
            format!("the username '{username}' is taken"),
        ));
    }
    // Busy hashers answer 503 with Retry-After.
    let hash = match state.hasher.hash(req.password).await {
        Ok(h) => h,
        Err(e) => return Ok(e.into_response()),
    };
    let entry = audit::entry(
        now,
        Some(&me.id),
        audit::AGENT_CREATED,
        ("agent", id.as_str()),
        None,
        Some(audit::agent_value(&config, Some(&username))),
    );
    crate::services::users::create_user(&state.base(), config, &username, &hash, now, vec![entry])
        .await?;
    Ok(created(agent_json(&state, &id).await?))
}

/// `GET /api/v1/agents`
async fn list_agents(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let users = state.store.list_users().await?;
    let agents = state
        .core
        .read(|s| {
            s.engine
                .agents()
                .map(|a| (a.id.clone(), (s.engine.load_of(&a.id), a.clone())))
                .collect::<std::collections::HashMap<_, _>>()
        })
        .await?;
    let v: Vec<Value> = users
        .iter()
        .map(|u| match agents.get(&u.id) {
            Some((load, a)) => views::user_agent(u, Some(a), *load),
            None => views::user_agent(u, None, 0),
        })
        .collect();
    Ok(ok(Value::Array(v)))
}

/// `GET /api/v1/agents/{id}`
async fn get_agent(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(agent_json(&state, &AgentId(id)).await?))
}

/// `PATCH /api/v1/agents/{id}`
async fn patch_agent(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<AgentPatch>,
) -> Result<Response, ApiError> {
    let id = AgentId(id);
    let aid = id.clone();
    let current = state
        .core
        .read(move |s| s.engine.agent(&aid).cloned())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let role = match &req.role {
        Some(r) => parse_role(r)?,
        None => current.role,
    };
    if let Some(d) = &req.display_name {
        check_display_name(d)?;
    }
    if id == me.id && role < Role::Admin {
        return Err(ApiError::conflict(
            "cannot_demote_self",
            "you cannot remove your own admin role",
        ));
    }
    let hash = match req.password {
        Some(p) => {
            check_password(&p)?;
            match state.hasher.hash(p).await {
                Ok(h) => Some(h),
                Err(e) => return Ok(e.into_response()),
            }
        }
        None => None,
    };
    let before = audit::agent_value(&audit::agent_config(&current), None);
    let config = AgentConfig {
        id: id.clone(),
        display_name: req
            .display_name
            .map(|d| d.trim().to_owned())
            .unwrap_or(current.display_name),
        role,
        capacity: req.capacity.unwrap_or(current.capacity),
        can_reject: req.can_reject.unwrap_or(current.can_reject),
        queue_ids: req
            .queue_ids
            .map(|q| q.into_iter().map(QueueId).collect())
            .unwrap_or(current.queue_ids),
    };
    let after = audit::agent_value(&config, None);
    let now = state.clock.now();
    let attach = if before == after {
        Attach::default()
    } else {
        audited(audit::entry(
            now,
            Some(&me.id),
            audit::AGENT_UPDATED,
            ("agent", id.as_str()),
            Some(before),
            Some(after),
        ))
    };
    state
        .core
        .call(Command::UpsertAgent(config), attach)
        .await?;
    if let Some(h) = hash {
        state.store.set_password(&id, &h).await?;
        // The hash is written on its own (see ARCHITECTURE.md), so is its entry.
        let entry = audit::entry(
            now,
            Some(&me.id),
            audit::AGENT_PASSWORD_RESET,
            ("agent", id.as_str()),
            None,
            None,
        );
        audit::append(&state.core, vec![entry]).await?;
    }
    Ok(ok(agent_json(&state, &id).await?))
}

/// `DELETE /api/v1/agents/{id}`
async fn delete_agent(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = AgentId(id);
    if id == me.id {
        return Err(ApiError::conflict(
            "cannot_delete_self",
            "you cannot delete yourself",
        ));
    }
    let aid = id.clone();
    let before = state
        .core
        .read(move |s| {
            s.engine
                .agent(&aid)
                .map(|a| audit::agent_value(&audit::agent_config(a), None))
        })
        .await?;
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::AGENT_DELETED,
        ("agent", id.as_str()),
        before,
        None,
    );
    state
        .core
        .call(Command::DeleteAgent(id.clone()), audited(entry))
        .await?;
    state.store.delete_sessions_of(&id).await?;
    state.hub.revoke(&id, None);
    Ok(no_content())
}
