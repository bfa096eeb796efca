//! Interactions: the agent's list, offers (accept, reject), messages, transfer, conference, end,
//! wrap-up and notes (R-2.6 … … ).
//!
//! Visibility: an agent sees an interaction offered to them, owned by them or that they
//! joined; supervisors see all. Anything else answers 404, exactly like a missing id.

use super::{body, created, ok, Access, Endpoint, Json, Query};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::core::Attach;
use crate::error::ApiError;
use crate::ids::new_id;
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_domain::*;
use switchboard_store::{InteractionFilter, MessageRecord, NoteRecord};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/interactions", summary: "The caller's offered, active and wrap-up interactions, oldest accepted first (supervisors: ?all=true, state, queue_id).", access: Access::Agent, body: None, handler: get(list) },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}", summary: "One interaction.", access: Access::Agent, body: None, handler: get(get_one) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/accept", summary: "Accept an offer (or a conference invitation).", access: Access::Agent, body: None, handler: post(accept) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/reject", summary: "Reject an offer (needs can_reject).", access: Access::Agent, body: None, handler: post(reject) },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/messages", summary: "Messages, newest last; page backwards with ?before=ID&limit=N; ?scope=conversation for the whole conversation.", access: Access::Agent, body: None, handler: get(messages) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/messages", summary: "Send a text message to the customer; stored with status queued.", access: Access::Agent, body: body::<SendRequest>(), handler: post(send) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/read", summary: "Mark the interaction read (clears its unread count).", access: Access::Agent, body: None, handler: post(mark_read) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/transfer", summary: "Transfer to a queue ({queue_id}) or an agent ({agent_id}); the caller goes to wrap-up.", access: Access::Agent, body: body::<TargetRequest>(), handler: post(transfer) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/conference", summary: "Invite an agent ({agent_id}) or a queue ({queue_id}) to a conference.", access: Access::Agent, body: body::<TargetRequest>(), handler: post(conference) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/conference/end", summary: "End the conference (owner) or leave it (invited agent).", access: Access::Agent, body: None, handler: post(conference_end) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/end", summary: "End the interaction (optional closing text) and enter wrap-up.", access: Access::Agent, body: body::<EndRequest>(), handler: post(end) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/wrap-up", summary: "Submit wrap-up with a disposition code and a note.", access: Access::Agent, body: body::<WrapUpRequest>(), handler: post(wrap_up) },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/notes", summary: "Attach a private note.", access: Access::Agent, body: body::<NoteRequest>(), handler: post(add_note) },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/notes", summary: "The interaction's notes.", access: Access::Agent, body: None, handler: get(notes) },
    ]
}

/// A JSON body that may be absent (empty body means all defaults).
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("invalid_body", format!("invalid JSON body: {e}")))
}

/// The interaction as the caller may see it: from the engine while live, from the store after.
async fn visible(state: &AppState, user: &AuthUser, id: &str) -> Result<Interaction, ApiError> {
    let iid = InteractionId(id.to_owned());
    let me = user.id.clone();
    let key = iid.clone();
    let live = state
        .core
        .read(move |s| {
            s.engine
                .interaction(&key)
                .map(|i| (s.engine.can_see(&me, i), i.clone()))
        })
        .await?;
    match live {
        Some((true, it)) => Ok(it),
        Some((false, _)) => Err(ApiError::not_found("interaction")),
        None => {
            let it = state
                .store
                .interaction(&iid)
                .await?
                .ok_or_else(|| ApiError::not_found("interaction"))?;
            if user.is_supervisor() || state.store.was_participant(&iid, &user.id).await? {
                Ok(it)
            } else {
                Err(ApiError::not_found("interaction"))
            }
        }
    }
}

async fn render(state: &AppState, it: Interaction) -> Result<Value, ApiError> {
    let now = state.clock.now();
    state
        .core
        .read(move |s| views::interaction(&it, &s.engine, now))
        .await
}

/// The interaction after an action, as the caller now sees it.
async fn after(state: &AppState, user: &AuthUser, id: &str) -> Result<Response, ApiError> {
    match visible(state, user, id).await {
        Ok(it) => Ok(ok(render(state, it).await?)),
        // The action removed the caller (e.g. a rejected offer): say so without the details.
        Err(_) => Ok(ok(json!({"id": id, "visible": false}))),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    all: Option<bool>,
    state: Option<String>,
    queue_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/interactions`
async fn list(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let filter_state = match q.state.as_deref() {
        Some(s) => Some(InteractionState::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_state",
                "state must be queued, offered, active, wrap_up or done",
            )
        })?),
        None => None,
    };
    let all = q.all.unwrap_or(false);
    if all && !user.is_supervisor() {
        return Err(ApiError::forbidden("?all=true needs the supervisor role"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    if all && filter_state == Some(InteractionState::Done) {
        let rows = state
            .store
            .list_interactions(&InteractionFilter {
                state: Some(InteractionState::Done),
                queue_id: q.queue_id.map(QueueId),
                agent_id: None,
                before_created: None,
                limit,
            })
            .await?;
        let v = state
            .core
            .read(move |s| {
                rows.iter()
                    .map(|i| views::interaction(i, &s.engine, now))
                    .collect::<Vec<_>>()
            })
            .await?;
        return Ok(ok(Value::Array(v)));
    }
    let me = user.id.clone();
    let queue = q.queue_id.map(QueueId);
    let v = state
        .core
        .read(move |s| {
            let e = &s.engine;
            let items: Vec<&Interaction> = if all {
                let mut v: Vec<&Interaction> = e.interactions().collect();
                v.sort_by_key(|i| (i.created_at, i.id.clone()));
                v
            } else {
                e.interactions_of(&me)
            };
            items
                .into_iter()
                .filter(|i| filter_state.is_none_or(|st| i.state == st))
                .filter(|i| queue.as_ref().is_none_or(|q| &i.queue_id == q))
                .take(limit as usize)
                .map(|i| views::interaction(i, e, now))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(ok(Value::Array(v)))
}

/// `GET /api/v1/interactions/{id}`
async fn get_one(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state, &user, &id).await?;
    Ok(ok(render(&state, it).await?))
}

async fn act(
    state: &AppState,
    user: &AuthUser,
    id: &str,
    cmd: Command,
) -> Result<Response, ApiError> {
    state.core.call(cmd, Attach::default()).await?;
    after(state, user, id).await
}

/// `POST /api/v1/interactions/{id}/accept`
async fn accept(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::Accept {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

/// `POST /api/v1/interactions/{id}/reject`
async fn reject(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::Reject {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

/// `POST /api/v1/interactions/{id}/read`
async fn mark_read(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::MarkRead {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

#[derive(Deserialize)]
struct MessagesQuery {
    before: Option<String>,
    limit: Option<i64>,
    scope: Option<String>,
}

/// `GET /api/v1/interactions/{id}/messages`
async fn messages(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, ApiError> {
    let it = visible(&state, &user, &id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 500",
        ));
    }
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    let rows = match q.scope.as_deref() {
        None | Some("interaction") => {
            state
                .store
                .messages_of_interaction(&it.id, before, limit)
                .await?
        }
        Some("conversation") => {
            state
                .store
                .messages_of_conversation(&it.conversation_id, before, limit)
                .await?
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_scope",
                "scope must be interaction or conversation",
            ))
        }
    };
    let next_before = if rows.len() as i64 == limit {
        rows.first().map(|m| m.id.clone())
    } else {
        None
    };
    let list: Vec<Value> = rows.iter().map(views::message).collect();
    Ok(ok(json!({"messages": list, "next_before": next_before})))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub text: String,
}

/// Checks an outbound text against and the window of.
async fn check_text(state: &AppState, it: &Interaction, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("empty_message", "the message is empty"));
    }
    let limit = state
        .core
        .read(|s| s.engine.settings().max_text_message_size)
        .await?;
    let size = text.len();
    if size > limit as usize {
        return Err(ApiError::invalid(
            "text_too_long",
            format!("the message is {size} bytes; the limit is {limit} bytes"),
        )
        .with("limit", limit)
        .with("size", size));
    }
    let chars = text.chars().count();
    if chars > WHATSAPP_TEXT_LIMIT as usize {
        return Err(ApiError::invalid(
            "text_too_long",
            format!("the message is {chars} characters; WhatsApp allows {WHATSAPP_TEXT_LIMIT}"),
        )
        .with("limit", WHATSAPP_TEXT_LIMIT)
        .with("size", chars));
    }
    let now = state.clock.now();
    if it.window_expires_at().is_some_and(|t| t <= now) {
        return Err(ApiError::invalid(
            "template_required",
            "more than 24 hours have passed since the customer's last message; only a template can be sent",
        ));
    }
    Ok(())
}

async fn send_text(
    state: &AppState,
    user: &AuthUser,
    it: &Interaction,
    text: String,
) -> Result<MessageRecord, ApiError> {
    check_text(state, it, &text).await?;
    let now = state.clock.now();
    let m = MessageRecord {
        id: new_id("msg", now),
        conversation_id: it.conversation_id.clone(),
        interaction_id: Some(it.id.clone()),
        direction: "out".into(),
        author_id: Some(user.id.clone()),
        kind: "text".into(),
        body: Some(text),
        payload: json!({}),
        wa_message_id: None,
        status: "queued".into(),
        error: None,
        created_at: now,
        updated_at: now,
    };
    // Through a connected number, the message goes out via the outbox in the same commit.
    let outbox: Vec<_> = it
        .channel_id
        .as_deref()
        .and_then(|c| state.channels.get(c))
        .map(|ch| {
            let request = switchboard_channels::OutboundMessage::Text {
                body: m.body.clone().unwrap_or_default(),
                preview_url: false,
            };
            crate::whatsapp::outbox::row(&m.id, &ch.id, &it.customer.wa_id, &request, now)
        })
        .into_iter()
        .collect();
    let queued = !outbox.is_empty();
    state
        .core
        .call(
            Command::AgentReply {
                agent: user.id.clone(),
                interaction: it.id.clone(),
            },
            Attach {
                messages: vec![m.clone()],
                outbox,
                ..Attach::default()
            },
        )
        .await?;
    if queued {
        state.outbox_wake.notify_one();
    }
    Ok(m)
}

/// `POST /api/v1/interactions/{id}/messages`
async fn send(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<SendRequest>,
) -> Result<Response, ApiError> {
    let it = visible(&state, &user, &id).await?;
    let m = send_text(&state, &user, &it, req.text).await?;
    Ok(created(views::message(&m)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRequest {
    pub queue_id: Option<String>,
    pub agent_id: Option<String>,
}

impl TargetRequest {
    fn target(self) -> Result<Target, ApiError> {
        match (self.queue_id, self.agent_id) {
            (Some(q), None) => Ok(Target::Queue(QueueId(q))),
            (None, Some(a)) => Ok(Target::Agent(AgentId(a))),
            _ => Err(ApiError::invalid(
                "invalid_target",
                "give exactly one of queue_id or agent_id",
            )),
        }
    }
}

/// `POST /api/v1/interactions/{id}/transfer`
async fn transfer(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<TargetRequest>,
) -> Result<Response, ApiError> {
    let target = req.target()?;
    let cmd = Command::Transfer {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
        target,
    };
    act(&state, &user, &id, cmd).await
}

/// `POST /api/v1/interactions/{id}/conference`
async fn conference(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<TargetRequest>,
) -> Result<Response, ApiError> {
    let target = req.target()?;
    let cmd = Command::ConferenceInvite {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
        target,
    };
    act(&state, &user, &id, cmd).await
}

/// `POST /api/v1/interactions/{id}/conference/end`
async fn conference_end(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::ConferenceEnd {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// An optional closing message sent to the customer before ending.
    pub text: Option<String>,
}

/// `POST /api/v1/interactions/{id}/end`
async fn end(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: EndRequest = optional_json(&body)?;
    if let Some(text) = req.text.filter(|t| !t.trim().is_empty()) {
        let it = visible(&state, &user, &id).await?;
        send_text(&state, &user, &it, text).await?;
    }
    let cmd = Command::End {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WrapUpRequest {
    pub disposition_code: Option<String>,
    pub note: Option<String>,
}

/// `POST /api/v1/interactions/{id}/wrap-up`
async fn wrap_up(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: WrapUpRequest = optional_json(&body)?;
    let cmd = Command::WrapUp {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
        disposition_code: req.disposition_code,
        note: req.note,
    };
    act(&state, &user, &id, cmd).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

/// `POST /api/v1/interactions/{id}/notes`
async fn add_note(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<NoteRequest>,
) -> Result<Response, ApiError> {
    let it = visible(&state, &user, &id).await?;
    let is_participant = it.participants.iter().any(|p| p.agent_id == user.id);
    if !is_participant && !user.is_supervisor() {
        return Err(ApiError::conflict(
            "not_participant",
            "accept the interaction before adding notes",
        ));
    }
    let text = req.text.trim().to_owned();
    if text.is_empty() || text.len() > 10_000 {
        return Err(ApiError::invalid(
            "invalid_note",
            "a note must be 1 to 10000 bytes",
        ));
    }
    let n = NoteRecord {
        id: new_id("note", state.clock.now()),
        interaction_id: it.id.clone(),
        author_id: user.id.clone(),
        body: text,
        created_at: state.clock.now(),
    };
    state
        .core
        .store(Attach {
            notes: vec![n.clone()],
            ..Attach::default()
        })
        .await?;
    Ok(created(views::note(&n)))
}

/// `GET /api/v1/interactions/{id}/notes`
async fn notes(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state, &user, &id).await?;
    let list: Vec<Value> = state
        .store
        .notes_of(&it.id)
        .await?
        .iter()
        .map(views::note)
        .collect();
    Ok(ok(Value::Array(list)))
}
