//! Standard responses: the library admins keep (global or per queue, with categories and
//! shortcuts), what each user may search of it, and one response filled for an interaction.
//!
//! Responses are rows an admin writes directly (one statement each, under
//! [`LockKey::Responses`], so two admins cannot give overlapping responses one shortcut); their
//! audit entries follow at once (`audit::append`). No routing decision and no event depends on
//! them.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{body, created, no_content, ok, Access, Endpoint, Json, Path, Query};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::locks::LockKey;
use crate::runtime::text;
use crate::services::audit;
use crate::services::auth::AuthUser;
use crate::services::interactions::visible;
use crate::services::messaging::check_size;
use crate::services::responses::{self as rules, CATEGORY_MAX_CHARS, TITLE_MAX_CHARS};
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Extension;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use switchboard_domain::QueueId;
use switchboard_store::{ResponseRecord, StoreError};

feature_state! {
    /// The standard responses' handles.
    ResponsesState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    locks: Arc<KeyedLocks>,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/responses",
            summary: "Standard responses the caller may use (an agent: the global ones and those of their queues; supervisors and admins: all), searched by q (title, text, shortcut, category) and category; queue_id: those usable in that queue.",
            access: Access::Agent,
            body: None,
            handler: get(list),
            doc: super::Doc::ok::<Vec<super::wire::StandardResponse>>().query::<ListQuery>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/responses",
            summary: "Add a standard response (no queue_ids: global). 409 shortcut_taken when a response that can be seen with it has the same shortcut.",
            access: Access::Admin,
            body: body::<NewResponse>(),
            handler: post(create),
            doc: super::Doc::created::<super::wire::StandardResponse>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/responses/{id}",
            summary: "One standard response (404 for an agent outside its queues).",
            access: Access::Agent,
            body: None,
            handler: get(get_one),
            doc: super::Doc::ok::<super::wire::StandardResponse>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/responses/{id}",
            summary: "Change a standard response (category or shortcut null: none; queue_ids []: global).",
            access: Access::Admin,
            body: body::<ResponsePatch>(),
            handler: patch(update),
            doc: super::Doc::ok::<super::wire::StandardResponse>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/responses/{id}",
            summary: "Delete a standard response.",
            access: Access::Admin,
            body: None,
            handler: delete(remove),
            doc: super::Doc::no_content(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/interactions/{id}/responses/{rid}",
            summary: "A standard response of the interaction's queue with its placeholders filled for the interaction; those without a value stay as {{path}} and are listed in missing.",
            access: Access::Agent,
            body: None,
            handler: get(filled),
            doc: super::Doc::ok::<super::wire::FilledResponse>(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ListQuery {
    /// Words to find in the title, text, shortcut or category (ignoring case).
    q: Option<String>,
    /// Only this category (ignoring case).
    category: Option<String>,
    /// Only those usable in this queue (its own and the global ones).
    queue_id: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResponse {
    pub title: String,
    /// At most `max_text_message_size` bytes; may hold placeholders such as
    /// `{{contact.first_name}}`.
    pub text: String,
    pub category: Option<String>,
    /// 1 to 32 of `a-z`, `0-9`, `_`, `-`; typed after `/` in the compose box.
    pub shortcut: Option<String>,
    /// The queues it belongs to; none or empty: global.
    pub queue_ids: Option<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsePatch {
    pub title: Option<String>,
    pub text: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub shortcut: Option<Option<String>>,
    pub queue_ids: Option<Vec<String>>,
}

/// A field that was given, possibly as `null` (absent stays `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The queues `user` works in, or `None` for a supervisor or admin (who see every response).
async fn scope_of(
    state: &ResponsesState,
    user: &AuthUser,
) -> Result<Option<Vec<QueueId>>, ApiError> {
    if user.is_supervisor() {
        return Ok(None);
    }
    let me = user.id.clone();
    let queues = state
        .core
        .read(move |s| s.engine.agent(&me).map(|a| a.queue_ids.clone()))
        .await?;
    Ok(Some(queues.unwrap_or_default()))
}

/// `GET /api/v1/responses`
async fn list(
    State(state): State<ResponsesState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "q may be at most 200 characters",
        ));
    }
    let scope = scope_of(&state, &user).await?;
    let all = state.store.responses().await?;
    let found: Vec<Value> = all
        .iter()
        .filter(|r| rules::seen_by(r, scope.as_deref()))
        .filter(|r| {
            q.queue_id
                .as_deref()
                .is_none_or(|qid| rules::applies_in(r, qid))
        })
        .filter(|r| rules::matches(r, q.q.as_deref(), q.category.as_deref()))
        .map(rules::view)
        .collect();
    Ok(ok(Value::Array(found)))
}

/// The response `id` if the caller may see it (404 exactly like a missing id otherwise).
async fn seen(
    state: &ResponsesState,
    user: &AuthUser,
    id: &str,
) -> Result<ResponseRecord, ApiError> {
    let r = state
        .store
        .response(id)
        .await?
        .ok_or_else(|| ApiError::not_found("response"))?;
    let scope = scope_of(state, user).await?;
    if !rules::seen_by(&r, scope.as_deref()) {
        return Err(ApiError::not_found("response"));
    }
    Ok(r)
}

/// `GET /api/v1/responses/{id}`
async fn get_one(
    State(state): State<ResponsesState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(rules::view(&seen(&state, &user, &id).await?)))
}

/// A title or category: one line, trimmed, at most `max` characters.
fn one_line(field: &str, code: &'static str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = text::line(v).trim().to_owned();
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            code,
            format!("{field} may be at most {max} characters"),
        ));
    }
    Ok(v)
}

/// Checks a response as it would be stored (every field, the queues, and its shortcut against
/// the others), cleaning its text fields. Queues in `kept` (those it already had) may have been
/// deleted since: only the others must exist.
async fn check(
    state: &ResponsesState,
    r: &mut ResponseRecord,
    kept: &[String],
) -> Result<(), ApiError> {
    r.title = one_line("title", "invalid_title", &r.title, TITLE_MAX_CHARS)?;
    if r.title.is_empty() {
        return Err(ApiError::invalid("invalid_title", "the title is empty"));
    }
    r.text = text::clean(&r.text).into_owned();
    if r.text.trim().is_empty() {
        return Err(ApiError::invalid("invalid_text", "the text is empty"));
    }
    // The same limits as a typed message: an inserted response is sent as one.
    check_size(&state.core, &r.text).await?;
    r.category = match r.category.as_deref() {
        Some(c) => Some(one_line(
            "category",
            "invalid_category",
            c,
            CATEGORY_MAX_CHARS,
        )?)
        .filter(|c| !c.is_empty()),
        None => None,
    };
    if let Some(s) = r.shortcut.as_deref() {
        let s = s.trim().trim_start_matches('/').to_owned();
        if !rules::valid_shortcut(&s) {
            return Err(ApiError::invalid(
                "invalid_shortcut",
                "a shortcut is 1 to 32 of a-z, 0-9, _ and -",
            ));
        }
        r.shortcut = Some(s);
    }
    let mut queues: Vec<String> = Vec::new();
    for q in &r.queue_ids {
        if !queues.contains(q) {
            queues.push(q.clone());
        }
    }
    let wanted: Vec<String> = queues
        .iter()
        .filter(|q| !kept.contains(q))
        .cloned()
        .collect();
    let unknown = state
        .core
        .read(move |s| {
            wanted
                .into_iter()
                .find(|q| s.engine.queue(&QueueId(q.clone())).is_none())
        })
        .await?;
    if let Some(q) = unknown {
        return Err(
            ApiError::invalid("unknown_queue", format!("there is no queue {q}"))
                .with("queue_id", q),
        );
    }
    r.queue_ids = queues;
    if let Some(s) = &r.shortcut {
        let others = state.store.responses().await?;
        if let Some(o) = others
            .iter()
            .find(|o| o.id != r.id && o.shortcut.as_ref() == Some(s) && rules::overlap(o, r))
        {
            return Err(ApiError::conflict(
                "shortcut_taken",
                format!(
                    "the shortcut /{s} is already used by \"{}\", which can be seen together with this one",
                    o.title
                ),
            )
            .with("response_id", o.id.clone()));
        }
    }
    Ok(())
}

/// The audit entry of a change to response `id`, written at once.
async fn log(
    state: &ResponsesState,
    me: &AuthUser,
    action: &str,
    id: &str,
    before: Option<&ResponseRecord>,
    after: Option<&ResponseRecord>,
) -> Result<(), ApiError> {
    let e = audit::entry(
        state.clock.now(),
        Some(&me.id),
        action,
        ("response", id),
        before.map(rules::audit_value),
        after.map(rules::audit_value),
    );
    audit::append(&state.core, vec![e]).await
}

/// `POST /api/v1/responses`
async fn create(
    State(state): State<ResponsesState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<NewResponse>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let mut r = ResponseRecord {
        id: new_id("rsp", now),
        title: req.title,
        text: req.text,
        category: req.category,
        shortcut: req.shortcut,
        queue_ids: req.queue_ids.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    state
        .locks
        .with(LockKey::Responses, async {
            check(&state, &mut r, &[]).await?;
            state.store.upsert_response(&r).await?;
            log(&state, &me, audit::RESPONSE_CREATED, &r.id, None, Some(&r)).await
        })
        .await?;
    Ok(created(rules::view(&r)))
}

/// `PATCH /api/v1/responses/{id}`
async fn update(
    State(state): State<ResponsesState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<ResponsePatch>,
) -> Result<Response, ApiError> {
    state
        .locks
        .with(LockKey::Responses, async {
            let before = state
                .store
                .response(&id)
                .await?
                .ok_or_else(|| ApiError::not_found("response"))?;
            let mut r = before.clone();
            if let Some(v) = req.title {
                r.title = v;
            }
            if let Some(v) = req.text {
                r.text = v;
            }
            if let Some(v) = req.category {
                r.category = v;
            }
            if let Some(v) = req.shortcut {
                r.shortcut = v.filter(|s| !s.trim().is_empty());
            }
            if let Some(v) = req.queue_ids {
                r.queue_ids = v;
            }
            check(&state, &mut r, &before.queue_ids).await?;
            r.updated_at = state.clock.now();
            state.store.upsert_response(&r).await?;
            log(
                &state,
                &me,
                audit::RESPONSE_UPDATED,
                &id,
                Some(&before),
                Some(&r),
            )
            .await?;
            Ok(ok(rules::view(&r)))
        })
        .await
}

/// `DELETE /api/v1/responses/{id}`
async fn remove(
    State(state): State<ResponsesState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .locks
        .with(LockKey::Responses, async {
            let before = state.store.response(&id).await?;
            state
                .store
                .delete_response(&id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => ApiError::not_found("response"),
                    other => other.into(),
                })?;
            log(
                &state,
                &me,
                audit::RESPONSE_DELETED,
                &id,
                before.as_ref(),
                None,
            )
            .await?;
            Ok(no_content())
        })
        .await
}

/// `GET /api/v1/interactions/{id}/responses/{rid}`
async fn filled(
    State(state): State<ResponsesState>,
    Extension(user): Extension<AuthUser>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let r = state
        .store
        .response(&rid)
        .await?
        .filter(|r| rules::applies_in(r, it.queue_id.as_str()))
        .ok_or_else(|| ApiError::not_found("response"))?;
    let cx = rules::context(&state.core, &state.store, &it, &user.id).await?;
    let f = rules::fill(&r.text, |p| cx.value(p));
    Ok(ok(json!({
        "response_id": r.id,
        "text": f.text,
        "missing": f.missing,
    })))
}
