//! A supervisor acting on others' work (role supervisor; admins too): setting an agent's
//! presence, taking over an active interaction, whispering to its agents
//! and watching it silently. Reassigning (a supervisor's transfer) is `POST …/transfer` in `interactions`.
//!
//! Each action is an engine command (or a row for the core) carrying its audit entry, so the
//! change and its entry are committed together.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, created, no_content, ok, Access, Endpoint, Json};
use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use crate::services::interactions::{render, visible};
use crate::services::messaging::{check_size, whisper_record};
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, post, put};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use switchboard_domain::*;

feature_state! {
    /// The supervisor actions' handles.
    SupervisionState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    viewers: Viewers,
    } => base: Base { core, store, clock }, viewing: Viewing { core, viewers }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "PUT",
            path: "/api/v1/agents/{id}/presence",
            summary: "Set an agent's presence (offline withdraws their offers; their active interactions stay theirs). The agent's desktop is told who did it (`changed_by` of `presence.changed`).",
            access: Access::Supervisor,
            body: body::<AgentPresenceRequest>(),
            handler: put(set_agent_presence),
            doc: super::Doc::ok::<super::wire::AgentNow>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/interactions/{id}/take-over",
            summary: "Become the owner of an active interaction (whatever your capacity); the previous owner goes to wrap-up, the customer notices nothing.",
            access: Access::Supervisor,
            body: None,
            handler: post(take_over),
            doc: super::Doc::ok::<super::wire::Interaction>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/interactions/{id}/whisper",
            summary: "Write to the interaction's agents only ({text}): stored in the transcript with type `whisper`, never sent to WhatsApp.",
            access: Access::Supervisor,
            body: body::<WhisperRequest>(),
            handler: post(whisper),
            doc: super::Doc::created::<super::wire::Message>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/interactions/{id}/watch",
            summary: "Watch a live interaction silently (R-8.3, R-8.6): answers it and who has it open; you are among its viewers (shown to supervisors, never to agents) while a websocket of yours is open. Supervisors' sockets already carry every interaction's live events; its transcript is `GET …/messages`. Nothing the agents or the customer see changes: no unread count, no read receipt.",
            access: Access::Supervisor,
            body: None,
            handler: post(watch),
            doc: super::Doc::ok::<super::wire::Watch>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/interactions/{id}/watch",
            summary: "Stop watching an interaction (also when you were not).",
            access: Access::Supervisor,
            body: None,
            handler: delete(unwatch),
            doc: super::Doc::no_content(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPresenceRequest {
    /// `available`, `on_break` or `offline`.
    pub presence: String,
    /// Required for `on_break`: one of the configured break reasons.
    pub reason: Option<String>,
}

/// `PUT /api/v1/agents/{id}/presence`
async fn set_agent_presence(
    State(state): State<SupervisionState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<AgentPresenceRequest>,
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
    let agent = AgentId(id);
    let entries = audit::presence_change(
        &state.core,
        state.clock.now(),
        &user.id,
        &agent,
        presence,
        req.reason.as_deref(),
    )
    .await?;
    state
        .core
        .call(
            Command::SetAgentPresence {
                supervisor: user.id.clone(),
                agent: agent.clone(),
                presence,
                reason: req.reason,
            },
            Attach {
                audit: entries,
                ..Attach::default()
            },
        )
        .await?;
    let v = state
        .core
        .read(move |s| {
            s.engine
                .agent(&agent)
                .map(|a| views::agent_now(&s.engine, a, None))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(ok(v))
}

/// `POST /api/v1/interactions/{id}/take-over`
async fn take_over(
    State(state): State<SupervisionState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let entry = audit::entry(
        state.clock.now(),
        Some(&user.id),
        audit::INTERACTION_TAKEN_OVER,
        ("interaction", it.id.as_str()),
        Some(json!({"owner_id": it.owner_id})),
        Some(json!({"owner_id": user.id})),
    );
    state
        .core
        .call(
            Command::TakeOver {
                supervisor: user.id.clone(),
                interaction: it.id.clone(),
            },
            Attach {
                audit: vec![entry],
                ..Attach::default()
            },
        )
        .await?;
    // A supervisor who watched it now takes part: agents see them among its viewers.
    state.viewing().refresh(&it.id).await?;
    let it = visible(&state.base(), &user, &id).await?;
    Ok(ok(render(&state.base(), it).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhisperRequest {
    pub text: String,
}

/// `POST /api/v1/interactions/{id}/whisper`
async fn whisper(
    State(state): State<SupervisionState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<WhisperRequest>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    if !matches!(
        it.state,
        InteractionState::Active | InteractionState::WrapUp
    ) {
        return Err(ApiError::conflict(
            "not_active",
            "a whisper goes to the agents handling an interaction; this one has none now",
        ));
    }
    let text = crate::runtime::text::clean(&req.text).into_owned();
    check_size(&state.core, &text).await?;
    let me = user.id.clone();
    let name = state
        .core
        .read(move |s| s.engine.agent(&me).map(|a| a.display_name.clone()))
        .await?;
    let now = state.clock.now();
    let m = whisper_record(&it, &user, name.clone(), text, now);
    let entry = audit::entry(
        now,
        Some(&user.id),
        audit::INTERACTION_WHISPERED,
        ("interaction", it.id.as_str()),
        None,
        Some(json!({"message_id": m.id, "text": m.body})),
    );
    state
        .core
        .store(Attach {
            messages: vec![m.clone()],
            audit: vec![entry],
            ..Attach::default()
        })
        .await?;
    let mut v = views::message(&m);
    if let Some(name) = name {
        v["author_name"] = json!(name);
    }
    Ok(created(v))
}

/// `POST /api/v1/interactions/{id}/watch`
async fn watch(
    State(state): State<SupervisionState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    if it.state == InteractionState::Done {
        return Err(ApiError::conflict(
            "not_live",
            "this interaction has ended: play it back instead of watching it",
        ));
    }
    let iid = it.id.clone();
    let viewers = state.viewing().open(&user.id, &iid).await?;
    let interaction = render(&state.base(), it).await?;
    Ok(ok(
        json!({"interaction": interaction, "viewers": viewers["viewers"]}),
    ))
}

/// `DELETE /api/v1/interactions/{id}/watch`
async fn unwatch(
    State(state): State<SupervisionState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.viewing().close(&user.id, &InteractionId(id)).await?;
    Ok(no_content())
}
