//! The calling agent: profile, presence, stop-new, and the directory of queues and
//! agents used to pick transfer and conference targets.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{body, ok, Access, Endpoint, Json};
use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use switchboard_domain::{Command, Presence};

feature_state! {
    /// The caller's own endpoints' handles.
    MeState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/me",
            summary: "The calling agent: presence, stop-new, capacity, load, activity (idle, handling, post_processing, full), queues.",
            access: Access::Agent,
            body: None,
            handler: get(me),
            doc: super::Doc::ok::<super::wire::Me>(),
        },
        Endpoint {
            method: "PUT",
            path: "/api/v1/me/presence",
            summary: "Set presence: available, on_break (with a reason) or offline.",
            access: Access::Agent,
            body: body::<PresenceRequest>(),
            handler: put(set_presence),
            doc: super::Doc::ok::<super::wire::Me>(),
        },
        Endpoint {
            method: "PUT",
            path: "/api/v1/me/stop-new",
            summary: "Stop or resume new offers while keeping current interactions.",
            access: Access::Agent,
            body: body::<StopNewRequest>(),
            handler: put(set_stop_new),
            doc: super::Doc::ok::<super::wire::Me>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/directory",
            summary: "Queues and agents to transfer or conference to, with availability.",
            access: Access::Agent,
            body: None,
            handler: get(directory),
            doc: super::Doc::ok::<super::wire::Directory>(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    /// `available`, `on_break` or `offline`.
    pub presence: String,
    /// Required for `on_break`: one of the configured break reasons.
    pub reason: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopNewRequest {
    pub stop_new: bool,
}

async fn me_json(state: &MeState, user: &AuthUser) -> Result<serde_json::Value, ApiError> {
    let id = user.id.clone();
    let found = state
        .core
        .read(move |s| {
            s.engine.agent(&id).map(|a| {
                let mut v = views::agent_now(&s.engine, a, None);
                v["break_reasons"] = json!(s.engine.settings().break_reasons);
                v["max_text_message_size"] = json!(s.engine.settings().max_text_message_size);
                v
            })
        })
        .await?;
    let mut v = found.ok_or_else(ApiError::unauthorized)?;
    if let Some(u) = state.store.user(&user.id).await? {
        v["username"] = json!(u.username);
    }
    Ok(v)
}

/// `GET /api/v1/me`
async fn me(
    State(state): State<MeState>,
    Extension(user): Extension<AuthUser>,
) -> Result<Response, ApiError> {
    Ok(ok(me_json(&state, &user).await?))
}

/// `PUT /api/v1/me/presence`
async fn set_presence(
    State(state): State<MeState>,
    Extension(user): Extension<AuthUser>,
    Json(req): Json<PresenceRequest>,
) -> Result<Response, ApiError> {
    let presence = match Presence::parse(&req.presence) {
        Some(p @ (Presence::Available | Presence::OnBreak | Presence::Offline)) => p,
        _ => {
            return Err(ApiError::invalid(
                "invalid_presence",
                "presence must be available, on_break or offline",
            ))
        }
    };
    let attach = Attach {
        audit: audit::presence_change(
            &state.core,
            state.clock.now(),
            &user.id,
            &user.id,
            presence,
            req.reason.as_deref(),
        )
        .await?,
        ..Attach::default()
    };
    state
        .core
        .call(
            Command::SetPresence {
                agent: user.id.clone(),
                presence,
                reason: req.reason,
            },
            attach,
        )
        .await?;
    Ok(ok(me_json(&state, &user).await?))
}

/// `PUT /api/v1/me/stop-new`
async fn set_stop_new(
    State(state): State<MeState>,
    Extension(user): Extension<AuthUser>,
    Json(req): Json<StopNewRequest>,
) -> Result<Response, ApiError> {
    let id = user.id.clone();
    let before = state
        .core
        .read(move |s| s.engine.agent(&id).map(|a| a.stop_new))
        .await?;
    let attach = match before {
        Some(b) if b != req.stop_new => Attach {
            audit: vec![audit::entry(
                state.clock.now(),
                Some(&user.id),
                audit::STOP_NEW_CHANGED,
                ("agent", user.id.as_str()),
                Some(json!({"stop_new": b})),
                Some(json!({"stop_new": req.stop_new})),
            )],
            ..Attach::default()
        },
        _ => Attach::default(),
    };
    state
        .core
        .call(
            Command::SetStopNew {
                agent: user.id.clone(),
                stop_new: req.stop_new,
            },
            attach,
        )
        .await?;
    Ok(ok(me_json(&state, &user).await?))
}

/// `GET /api/v1/directory`
async fn directory(
    State(state): State<MeState>,
    Extension(user): Extension<AuthUser>,
) -> Result<Response, ApiError> {
    let me = user.id.clone();
    let v = state
        .core
        .read(move |s| {
            let e = &s.engine;
            let mut queues: Vec<_> = e.queues().map(|q| json!({"id": q.id, "name": q.name, "waiting": e.waiting(&q.id).len()})).collect();
            queues.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            let mut agents: Vec<_> = e
                .agents()
                .filter(|a| a.id != me)
                .map(|a| {
                    let load = e.load_of(&a.id);
                    json!({
                        "id": a.id, "display_name": a.display_name, "presence": a.presence,
                        "load": load, "capacity": a.capacity,
                        "available": a.presence == Presence::Available && !a.stop_new && load < a.capacity,
                    })
                })
                .collect();
            agents.sort_by(|a, b| a["display_name"].as_str().cmp(&b["display_name"].as_str()));
            json!({"queues": queues, "agents": agents})
        })
        .await?;
    Ok(ok(v))
}
