//! Administration (role admin): queues, agents and global settings.
//!
//! Every change goes through the core service like any other state change, so routing sees it
//! at once and it is durable before the answer.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, created, no_content, ok, Access, Endpoint, Json};
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

feature_state! {
    /// The admin endpoints' handles.
    AdminState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    hub: Hub,
    hasher: Arc<PasswordHasher>,
    channels: Arc<Channels>,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "POST",
            path: "/api/v1/queues",
            summary: "Create a queue.",
            access: Access::Admin,
            body: body::<QueueRequest>(),
            handler: post(create_queue),
            doc: super::Doc::created::<super::wire::Queue>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/queues",
            summary: "List queues.",
            access: Access::Supervisor,
            body: None,
            handler: get(list_queues),
            doc: super::Doc::ok::<Vec<super::wire::Queue>>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/queues/{id}",
            summary: "One queue.",
            access: Access::Supervisor,
            body: None,
            handler: get(get_queue),
            doc: super::Doc::ok::<super::wire::Queue>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/queues/{id}",
            summary: "Change a queue.",
            access: Access::Admin,
            body: body::<QueueRequest>(),
            handler: patch(patch_queue),
            doc: super::Doc::ok::<super::wire::Queue>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/queues/{id}",
            summary: "Delete a queue with no interactions.",
            access: Access::Admin,
            body: None,
            handler: delete(delete_queue),
            doc: super::Doc::no_content(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/agents",
            summary: "Create a user (agent, supervisor or admin).",
            access: Access::Admin,
            body: body::<AgentRequest>(),
            handler: post(create_agent),
            doc: super::Doc::created::<super::wire::User>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/agents",
            summary: "List users with presence and load.",
            access: Access::Supervisor,
            body: None,
            handler: get(list_agents),
            doc: super::Doc::ok::<Vec<super::wire::User>>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/agents/{id}",
            summary: "One user.",
            access: Access::Supervisor,
            body: None,
            handler: get(get_agent),
            doc: super::Doc::ok::<super::wire::User>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/agents/{id}",
            summary: "Change a user (role, capacity, can_reject, queues, password).",
            access: Access::Admin,
            body: body::<AgentPatch>(),
            handler: patch(patch_agent),
            doc: super::Doc::ok::<super::wire::User>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/agents/{id}",
            summary: "Delete a user who holds no interactions.",
            access: Access::Admin,
            body: None,
            handler: delete(delete_agent),
            doc: super::Doc::no_content(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/settings",
            summary: "Global settings.",
            access: Access::Admin,
            body: None,
            handler: get(get_settings),
            doc: super::Doc::ok::<super::wire::Settings>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/settings",
            summary: "Change global settings.",
            access: Access::Admin,
            body: body::<SettingsPatch>(),
            handler: patch(patch_settings),
            doc: super::Doc::ok::<super::wire::Settings>(),
        },
    ]
}

/// Fields of a queue; all optional on PATCH, `name` required on POST.
#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct QueueRequest {
    pub name: Option<String>,
    /// `longest_idle` (default), `least_busy` or `round_robin`.
    pub routing_policy: Option<String>,
    pub priority: Option<u32>,
    pub acceptance_interval_s: Option<u32>,
    pub post_processing_s: Option<u32>,
    pub sla_response_s: Option<u32>,
    pub dispositions: Option<Vec<DispositionRequest>>,
    pub disposition_required: Option<bool>,
    pub sticky: Option<bool>,
    pub sticky_timeout_s: Option<u32>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionRequest {
    pub code: String,
    pub label: Option<String>,
}

impl QueueRequest {
    fn apply(self, q: &mut Queue) -> Result<(), ApiError> {
        if let Some(n) = self.name {
            q.name = n.trim().to_owned();
        }
        if let Some(p) = self.routing_policy {
            q.routing_policy = RoutingPolicy::parse(&p).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_routing_policy",
                    "routing_policy must be longest_idle, least_busy or round_robin",
                )
            })?;
        }
        if let Some(v) = self.priority {
            q.priority = v;
        }
        if let Some(v) = self.acceptance_interval_s {
            q.acceptance_interval_s = v;
        }
        if let Some(v) = self.post_processing_s {
            q.post_processing_s = v;
        }
        if let Some(v) = self.sla_response_s {
            q.sla_response_s = v;
        }
        if let Some(d) = self.dispositions {
            q.dispositions = d
                .into_iter()
                .map(|d| Disposition {
                    label: d.label.unwrap_or_else(|| d.code.clone()),
                    code: d.code,
                })
                .collect();
        }
        if let Some(v) = self.disposition_required {
            q.disposition_required = v;
        }
        if let Some(v) = self.sticky {
            q.sticky = v;
        }
        if let Some(v) = self.sticky_timeout_s {
            q.sticky_timeout_s = v;
        }
        Ok(())
    }
}

async fn queue_json(state: &AdminState, id: QueueId) -> Result<Value, ApiError> {
    state
        .core
        .read(move |s| {
            s.engine
                .queue(&id)
                .map(|q| views::queue(q, s.engine.waiting(&q.id).len()))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("queue"))
}

/// The rows of an admin change: its audit entry.
fn audited(entry: switchboard_store::AuditRecord) -> Attach {
    Attach {
        audit: vec![entry],
        ..Attach::default()
    }
}

/// `POST /api/v1/queues`
async fn create_queue(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<QueueRequest>,
) -> Result<Response, ApiError> {
    if req.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid("invalid_name", "a queue needs a name"));
    }
    let id = QueueId(new_id("que", state.clock.now()));
    let mut q = Queue::new(id.clone(), "");
    req.apply(&mut q)?;
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::QUEUE_CREATED,
        ("queue", id.as_str()),
        None,
        Some(audit::queue_value(&q)),
    );
    state
        .core
        .call(Command::UpsertQueue(q), audited(entry))
        .await?;
    Ok(created(queue_json(&state, id).await?))
}

/// `GET /api/v1/queues`
async fn list_queues(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let mut v = state
        .core
        .read(|s| {
            s.engine
                .queues()
                .map(|q| views::queue(q, s.engine.waiting(&q.id).len()))
                .collect::<Vec<_>>()
        })
        .await?;
    v.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(ok(Value::Array(v)))
}

/// `GET /api/v1/queues/{id}`
async fn get_queue(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(queue_json(&state, QueueId(id)).await?))
}

/// `PATCH /api/v1/queues/{id}`
async fn patch_queue(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<QueueRequest>,
) -> Result<Response, ApiError> {
    let id = QueueId(id);
    let qid = id.clone();
    let mut q = state
        .core
        .read(move |s| s.engine.queue(&qid).cloned())
        .await?
        .ok_or_else(|| ApiError::not_found("queue"))?;
    let before = audit::queue_value(&q);
    req.apply(&mut q)?;
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::QUEUE_UPDATED,
        ("queue", id.as_str()),
        Some(before),
        Some(audit::queue_value(&q)),
    );
    state
        .core
        .call(Command::UpsertQueue(q), audited(entry))
        .await?;
    Ok(ok(queue_json(&state, id).await?))
}

/// `DELETE /api/v1/queues/{id}`
async fn delete_queue(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // A number routing to the queue would have nowhere to put its customers' new conversations:
    // their messages would be refused (and redelivered by WhatsApp) for ever.
    if let Some(c) = state.channels.all().iter().find(|c| c.queue_id.0 == id) {
        return Err(ApiError::conflict(
            "queue_in_use",
            format!(
                "the WhatsApp number {} routes to this queue; move it to another queue first",
                c.display_phone_number
            ),
        )
        .with("channel_id", c.id.clone()));
    }
    let qid = QueueId(id.clone());
    let before = state
        .core
        .read(move |s| s.engine.queue(&qid).map(audit::queue_value))
        .await?;
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::QUEUE_DELETED,
        ("queue", &id),
        before,
        None,
    );
    state
        .core
        .call(Command::DeleteQueue(QueueId(id)), audited(entry))
        .await?;
    Ok(no_content())
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
        audit::append(&state.core, &state.store, vec![entry]).await?;
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub max_text_message_size: Option<u32>,
    pub transcript_interactions_count: Option<u32>,
    /// `rona` (default) or `on_break`.
    pub after_missed_offer: Option<String>,
    /// `create` (default) or `prompt`.
    pub new_contact_policy: Option<String>,
    pub offer_exclusion_s: Option<u32>,
    pub disconnect_grace_s: Option<u32>,
    pub break_reasons: Option<Vec<String>>,
}

/// `GET /api/v1/settings`
async fn get_settings(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let s = state.core.read(|s| s.engine.settings().clone()).await?;
    Ok(ok(views::settings(&s)))
}

/// `PATCH /api/v1/settings`
async fn patch_settings(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<SettingsPatch>,
) -> Result<Response, ApiError> {
    let mut s = state.core.read(|s| s.engine.settings().clone()).await?;
    let before = audit::settings_value(&s);
    if let Some(v) = req.max_text_message_size {
        s.max_text_message_size = v;
    }
    if let Some(v) = req.transcript_interactions_count {
        s.transcript_interactions_count = v;
    }
    if let Some(v) = req.after_missed_offer {
        s.after_missed_offer = match v.as_str() {
            "rona" => AfterMissedOffer::Rona,
            "on_break" => AfterMissedOffer::OnBreak,
            _ => {
                return Err(ApiError::invalid(
                    "invalid_after_missed_offer",
                    "after_missed_offer must be rona or on_break",
                ))
            }
        };
    }
    if let Some(v) = req.new_contact_policy {
        s.new_contact_policy = match v.as_str() {
            "create" => NewContactPolicy::Create,
            "prompt" => NewContactPolicy::Prompt,
            _ => {
                return Err(ApiError::invalid(
                    "invalid_new_contact_policy",
                    "new_contact_policy must be create or prompt",
                ))
            }
        };
    }
    if let Some(v) = req.offer_exclusion_s {
        s.offer_exclusion_s = v;
    }
    if let Some(v) = req.disconnect_grace_s {
        s.disconnect_grace_s = v;
    }
    if let Some(v) = req.break_reasons {
        use crate::runtime::text::{BREAK_REASONS_MAX, BREAK_REASON_MAX_CHARS};
        let bad = v.len() > BREAK_REASONS_MAX
            || v.iter().any(|r| {
                r.chars().count() > BREAK_REASON_MAX_CHARS || r.chars().any(char::is_control)
            });
        if bad {
            return Err(ApiError::invalid(
                "invalid_break_reason",
                format!("at most {BREAK_REASONS_MAX} break reasons, each at most {BREAK_REASON_MAX_CHARS} characters without control characters"),
            ));
        }
        s.break_reasons = v.into_iter().map(|r| r.trim().to_owned()).collect();
    }
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::SETTINGS_UPDATED,
        ("settings", "global"),
        Some(before),
        Some(audit::settings_value(&s)),
    );
    state
        .core
        .call(Command::UpdateSettings(s), audited(entry))
        .await?;
    let s = state.core.read(|s| s.engine.settings().clone()).await?;
    Ok(ok(views::settings(&s)))
}
