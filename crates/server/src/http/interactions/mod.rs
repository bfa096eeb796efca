//! Interactions: the agent's list, offers (accept, reject), messages, transfer, conference, end,
//! wrap-up and notes (R-2.6 … … ).
//!
//! Visibility: an agent sees an interaction offered to them, owned by them or that they
//! joined; supervisors see all. Anything else answers 404, exactly like a missing id.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, created, ok, Access, Endpoint, Json, Query};
use crate::runtime::core::Attach;
use crate::runtime::error::from_rejection;
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::views;
use crate::services::auth::AuthUser;
use crate::services::interactions::{as_seen, render, require_window, visible};
use crate::services::messaging::{outbound_record, send_text, store_outbound};
use crate::services::paging;
use crate::services::whatsapp::media::{self, kind_for, BlobWriter, StoredBlob};
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_channels::media::{
    is_animated_webp, media_limit, HumanSize, LimitError, MEDIA_MAX, STICKER_ANIMATED_MAX,
    STICKER_STATIC_MAX,
};
use switchboard_channels::send::{MediaSource, OutboundMessage, CAPTION_MAX_CHARS};
use switchboard_channels::MediaKind;
use switchboard_domain::*;
use switchboard_store::{InteractionFilter, MessageRecord, NoteRecord};

feature_state! {
    /// The interaction endpoints' handles.
    InteractionsState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    channels: Arc<Channels>,
    blobs: Blobs,
    outbox_wake: Arc<Notify>,
    locks: Arc<KeyedLocks>,
    } => base: Base { core, store, clock }, messaging: Messaging { core, store, clock, locks, channels, blobs, outbox_wake }
}

mod send_media;
#[allow(unused_imports)]
use send_media::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/interactions", summary: "The caller's offered, active and wrap-up interactions, oldest accepted first (supervisors: ?all=true, state, queue_id). Supervisors find ended ones (playback) with state=done and any of agent_id, contact_id, customer (a number in any format), disposition (a code), from and to (RFC 3339, on created_at): these filters imply all=true and answer from the store, newest first, `limit` (1–1000, default 100) at a time; `before` (the last id of a page) gives the next page.", access: Access::Agent, body: None, handler: get(list), doc: super::Doc::ok::<Vec<super::wire::Interaction>>().query::<ListQuery>() },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}", summary: "One interaction.", access: Access::Agent, body: None, handler: get(get_one), doc: super::Doc::ok::<super::wire::Interaction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/accept", summary: "Accept an offer (or a conference invitation).", access: Access::Agent, body: None, handler: post(accept), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/reject", summary: "Reject an offer (needs can_reject).", access: Access::Agent, body: None, handler: post(reject), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/messages", summary: "Messages, newest last; page backwards with ?before=ID&limit=N; ?scope=conversation for the whole conversation; ?scope=transcript for this interaction and the earlier ones of its conversation (R-3.6, transcript_interactions_count at a time).", access: Access::Agent, body: None, handler: get(messages), doc: super::Doc::ok::<super::wire::MessagePage>().query::<MessagesQuery>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/messages", summary: "Send a text message ({text}), or a file as multipart/form-data (a `file` part, optional `caption` and `kind`) within WhatsApp's type and size limits; stored with status queued.", access: Access::Agent, body: body::<SendRequest>(), handler: post(send).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)), doc: super::Doc::created::<super::wire::Message>().multipart::<super::wire::UploadForm>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/read", summary: "Mark the interaction read (clears its unread count).", access: Access::Agent, body: None, handler: post(mark_read), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/transfer", summary: "Transfer to a queue ({queue_id}) or an agent ({agent_id}); the caller goes to wrap-up.", access: Access::Agent, body: body::<TargetRequest>(), handler: post(transfer), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/conference", summary: "Invite an agent ({agent_id}) or a queue ({queue_id}) to a conference.", access: Access::Agent, body: body::<TargetRequest>(), handler: post(conference), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/conference/end", summary: "End the conference (owner) or leave it (invited agent).", access: Access::Agent, body: None, handler: post(conference_end), doc: super::Doc::ok::<super::wire::AfterAction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/end", summary: "End the interaction (optional closing text) and enter wrap-up.", access: Access::Agent, body: body::<EndRequest>(), handler: post(end), doc: super::Doc::ok::<super::wire::AfterAction>().optional_body() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/wrap-up", summary: "Submit wrap-up with a disposition code and a note.", access: Access::Agent, body: body::<WrapUpRequest>(), handler: post(wrap_up), doc: super::Doc::ok::<super::wire::AfterAction>().optional_body() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/notes", summary: "Attach a private note.", access: Access::Agent, body: body::<NoteRequest>(), handler: post(add_note), doc: super::Doc::created::<super::wire::Note>() },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/notes", summary: "The interaction's notes.", access: Access::Agent, body: None, handler: get(notes), doc: super::Doc::ok::<Vec<super::wire::Note>>() },
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

/// The interaction after an action, as the caller now sees it.
async fn after(state: &InteractionsState, user: &AuthUser, id: &str) -> Result<Response, ApiError> {
    match visible(&state.base(), user, id).await {
        Ok(it) => Ok(ok(render(&state.base(), it).await?)),
        // The action removed the caller (e.g. a rejected offer): say so without the details.
        Err(_) => Ok(ok(json!({"id": id, "visible": false}))),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ListQuery {
    all: Option<bool>,
    state: Option<String>,
    queue_id: Option<String>,
    limit: Option<i64>,
    /// Interactions this agent ever took part in.
    agent_id: Option<String>,
    /// Interactions linked to this contact.
    contact_id: Option<String>,
    /// Interactions with this customer number (any format: only its digits count).
    customer: Option<String>,
    /// Interactions wrapped up with this disposition code.
    disposition: Option<String>,
    /// Created at or after this time (RFC 3339).
    from: Option<String>,
    /// Created before this time (RFC 3339).
    to: Option<String>,
    /// The next page of a search or of `state=done` (newest first): the id of the last
    /// interaction of the page before; a full page (`limit` items) may have another after it.
    before: Option<String>,
}

/// A query string value, `None` when absent or empty.
fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `GET /api/v1/interactions`
async fn list(
    State(state): State<InteractionsState>,
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
    let customer_wa_id = match non_empty(q.customer) {
        Some(c) => {
            let digits: String = c.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_customer",
                    "customer must be a phone number such as +49 151 1234567",
                ));
            }
            Some(digits)
        }
        None => None,
    };
    let search = InteractionFilter {
        state: filter_state,
        queue_id: non_empty(q.queue_id.clone()).map(QueueId),
        agent_id: non_empty(q.agent_id).map(AgentId),
        contact_id: non_empty(q.contact_id),
        customer_wa_id,
        disposition: non_empty(q.disposition),
        created_from: super::time_param("from", q.from.as_deref())?,
        created_to: super::time_param("to", q.to.as_deref())?,
        before_created: None,
        before_id: None,
        limit: paging::limit(q.limit, 100, 1000)?,
    };
    // Searching (playback: who, which contact, when, how it ended) is a supervisor's view of all.
    let searching = search.agent_id.is_some()
        || search.contact_id.is_some()
        || search.customer_wa_id.is_some()
        || search.disposition.is_some()
        || search.created_from.is_some()
        || search.created_to.is_some();
    let all = q.all.unwrap_or(false) || searching;
    if all && !user.is_supervisor() {
        return Err(ApiError::forbidden("?all=true needs the supervisor role"));
    }
    let limit = search.limit;
    let before = non_empty(q.before);
    if all && (searching || filter_state == Some(InteractionState::Done)) {
        let mut search = search;
        if let Some(id) = before {
            // Keyset paging by (created_at, id), the listing's order.
            let last = state
                .store
                .interaction(&InteractionId(id.clone()))
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_cursor",
                        "before must be the id of an interaction of the previous page",
                    )
                })?;
            search.before_created = Some(last.created_at);
            search.before_id = Some(id);
        }
        let rows = state.store.list_interactions(&search).await?;
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
    if before.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "before pages a search or state=done with all=true",
        ));
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(as_seen(&state.base(), &user, &id).await?))
}

async fn act(
    state: &InteractionsState,
    user: &AuthUser,
    id: &str,
    cmd: Command,
) -> Result<Response, ApiError> {
    state.core.call(cmd, Attach::default()).await?;
    after(state, user, id).await
}

/// `POST /api/v1/interactions/{id}/accept`
async fn accept(
    State(state): State<InteractionsState>,
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
    State(state): State<InteractionsState>,
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cmd = Command::MarkRead {
        agent: user.id.clone(),
        interaction: InteractionId(id.clone()),
    };
    act(&state, &user, &id, cmd).await
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MessagesQuery {
    before: Option<String>,
    limit: Option<i64>,
    scope: Option<String>,
}

/// `GET /api/v1/interactions/{id}/messages`
async fn messages(
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 500",
        ));
    }
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    if q.scope.as_deref() == Some("transcript") {
        let (rows, next_before) = transcript_page(&state, &it, before, limit).await?;
        let list = with_author_names(&state, &rows).await?;
        return Ok(ok(json!({"messages": list, "next_before": next_before})));
    }
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
                "scope must be interaction, conversation or transcript",
            ))
        }
    };
    let next_before = if rows.len() as i64 == limit {
        rows.first().map(|m| m.id.clone())
    } else {
        None
    };
    let list = with_author_names(&state, &rows).await?;
    Ok(ok(json!({"messages": list, "next_before": next_before})))
}

/// The messages' views, each written by an agent with `author_name`: the transcript names the
/// agents of earlier interactions too, who are not among the current one's participants.
async fn with_author_names(
    state: &InteractionsState,
    rows: &[MessageRecord],
) -> Result<Vec<Value>, ApiError> {
    let authors: Vec<AgentId> = rows.iter().filter_map(|m| m.author_id.clone()).collect();
    let names: std::collections::HashMap<AgentId, String> = state
        .core
        .read(move |s| {
            authors
                .into_iter()
                .filter_map(|a| s.engine.agent(&a).map(|x| (a, x.display_name.clone())))
                .collect()
        })
        .await?;
    Ok(rows
        .iter()
        .map(|m| {
            let mut v = views::message(m);
            if let Some(name) = m.author_id.as_ref().and_then(|a| names.get(a)) {
                v["author_name"] = json!(name);
            }
            v
        })
        .collect())
}

/// `?scope=transcript`: without `before`, the interaction's messages plus those of the
/// `transcript_interactions_count` interactions of its conversation before it; with `before`, the
/// next that many earlier interactions ("See older messages", page by page). At most `limit`
/// messages a page (the newest of them); an interaction cut by the limit continues on the next
/// page. Later interactions of the conversation are never included.
async fn transcript_page(
    state: &InteractionsState,
    it: &Interaction,
    before: Option<&str>,
    limit: i64,
) -> Result<(Vec<MessageRecord>, Option<String>), ApiError> {
    use std::ops::Bound;
    let count = state
        .core
        .read(|s| s.engine.settings().transcript_interactions_count)
        .await? as usize;
    let spans = state.store.interaction_spans(&it.conversation_id).await?;
    let Some(pos) = spans.iter().position(|(i, _, _)| i == it.id.as_str()) else {
        // No message of this interaction yet: nothing of it to anchor the earlier ones to.
        return Ok((Vec::new(), None));
    };
    // This interaction and the ones before it, newest first, that still have messages to show.
    let candidates: Vec<&(String, String, String)> = spans[..=pos]
        .iter()
        .rev()
        .filter(|(_, first, _)| before.is_none_or(|b| first.as_str() < b))
        .collect();
    let take = if before.is_some() { count } else { count + 1 };
    let (Some(oldest), Some(chosen)) = (
        candidates.last(),
        candidates.get(take.min(candidates.len()).saturating_sub(1)),
    ) else {
        return Ok((Vec::new(), None));
    };
    let until = match before {
        Some(b) => Bound::Excluded(b),
        None => Bound::Included(spans[pos].2.as_str()),
    };
    let rows = state
        .store
        .messages_of_conversation_between(&it.conversation_id, &chosen.1, until, limit)
        .await?;
    let next_before = rows
        .first()
        .filter(|m| m.id.as_str() > oldest.1.as_str())
        .map(|m| m.id.clone());
    Ok((rows, next_before))
}

/// A text (`{text}`) or a template (`{template: {id, variables, language?}}`); files and
/// templates with a header image go as multipart instead.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub text: Option<String>,
    pub template: Option<crate::services::messaging::TemplateSend>,
}

/// `POST /api/v1/interactions/{id}/messages`
async fn send(
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| switchboard_channels::media::essence(ct) == "multipart/form-data");
    if multipart {
        let form = Multipart::from_request(req, &state)
            .await
            .map_err(|r| from_rejection(r.status(), r.body_text()))?;
        let it = visible(&state.base(), &user, &id).await?;
        let m = send_media(&state, &user, &it, form).await?;
        return Ok(created(views::message(&m)));
    }
    // A text: the route takes large uploads, JSON keeps the usual limit.
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, JSON_BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a JSON body may have at most {JSON_BODY_LIMIT} bytes"),
            )
        })?;
    let Json(req) =
        Json::<SendRequest>::from_request(Request::from_parts(parts, Body::from(bytes)), &state)
            .await?;
    if req.text.is_some() == req.template.is_some() {
        return Err(ApiError::invalid(
            "invalid_body",
            "send either {\"text\"} or {\"template\": {\"id\", \"variables\"}}",
        ));
    }
    let it = visible(&state.base(), &user, &id).await?;
    let m = match (req.text, req.template) {
        (Some(text), _) => send_text(&state.messaging(), &user, &it, text).await?,
        (None, Some(template)) => {
            crate::services::messaging::send_template(
                &state.messaging(),
                &user,
                &it,
                template,
                None,
            )
            .await?
        }
        (None, None) => return Err(ApiError::internal()),
    };
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<TargetRequest>,
) -> Result<Response, ApiError> {
    let target = req.target()?;
    let iid = InteractionId(id.clone());
    // a supervisor who does not own the interaction reassigns it (any active one).
    if user.is_supervisor() {
        let (lookup, me) = (iid.clone(), user.id.clone());
        let owner = state
            .core
            .read(move |s| {
                s.engine
                    .interaction(&lookup)
                    .map(|i| (i.owner_id.clone(), i.queue_id.clone()))
            })
            .await?;
        if let Some((owner_id, queue_id)) = owner.filter(|(o, _)| o.as_ref() != Some(&me)) {
            let wanted = match &target {
                Target::Queue(q) => json!({"queue_id": q}),
                Target::Agent(a) => json!({"agent_id": a}),
            };
            let entry = crate::services::audit::entry(
                state.clock.now(),
                Some(&user.id),
                crate::services::audit::INTERACTION_REASSIGNED,
                ("interaction", iid.as_str()),
                Some(json!({"owner_id": owner_id, "queue_id": queue_id})),
                Some(wanted),
            );
            let cmd = Command::Reassign {
                supervisor: user.id.clone(),
                interaction: iid,
                target,
            };
            let attach = Attach {
                audit: vec![entry],
                ..Attach::default()
            };
            state.core.call(cmd, attach).await?;
            return after(&state, &user, &id).await;
        }
    }
    let cmd = Command::Transfer {
        agent: user.id.clone(),
        interaction: iid,
        target,
    };
    act(&state, &user, &id, cmd).await
}

/// `POST /api/v1/interactions/{id}/conference`
async fn conference(
    State(state): State<InteractionsState>,
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
    State(state): State<InteractionsState>,
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: EndRequest = optional_json(&body)?;
    if let Some(text) = req.text.filter(|t| !t.trim().is_empty()) {
        let it = visible(&state.base(), &user, &id).await?;
        // The closing text goes out only if the agent could end the interaction now: one who
        // is not handling it gets the same 409 as for the End itself, and nothing is sent.
        let handling = it
            .participant(&user.id)
            .is_some_and(|p| p.state == ParticipantState::Active);
        if !handling || it.state != InteractionState::Active {
            return Err(ApiError::conflict(
                "not_active",
                "you are not handling this interaction",
            ));
        }
        send_text(&state.messaging(), &user, &it, text).await?;
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
    State(state): State<InteractionsState>,
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<NoteRequest>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let is_participant = it.participants.iter().any(|p| p.agent_id == user.id);
    if !is_participant && !user.is_supervisor() {
        return Err(ApiError::conflict(
            "not_participant",
            "accept the interaction before adding notes",
        ));
    }
    let text = crate::runtime::text::clean(&req.text).trim().to_owned();
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
    State(state): State<InteractionsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let list: Vec<Value> = state
        .store
        .notes_of(&it.id)
        .await?
        .iter()
        .map(views::note)
        .collect();
    Ok(ok(Value::Array(list)))
}
