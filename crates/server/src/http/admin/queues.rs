//! Queues: create, list, change, delete (with their dispositions and sticky routing).

use super::{audited, AdminState};
use crate::http::Path;
use crate::http::{body, created, no_content, ok, Access, Endpoint, Json};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "POST",
            path: "/api/v1/queues",
            summary: "Create a queue.",
            access: Access::Admin,
            body: body::<QueueRequest>(),
            handler: post(create_queue),
            doc: crate::http::Doc::created::<crate::http::wire::Queue>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/queues",
            summary: "List queues.",
            access: Access::Supervisor,
            body: None,
            handler: get(list_queues),
            doc: crate::http::Doc::ok::<Vec<crate::http::wire::Queue>>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/queues/{id}",
            summary: "One queue.",
            access: Access::Supervisor,
            body: None,
            handler: get(get_queue),
            doc: crate::http::Doc::ok::<crate::http::wire::Queue>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/queues/{id}",
            summary: "Change a queue.",
            access: Access::Admin,
            body: body::<QueueRequest>(),
            handler: patch(patch_queue),
            doc: crate::http::Doc::ok::<crate::http::wire::Queue>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/queues/{id}",
            summary: "Delete a queue with no interactions.",
            access: Access::Admin,
            body: None,
            handler: delete(delete_queue),
            doc: crate::http::Doc::no_content(),
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
