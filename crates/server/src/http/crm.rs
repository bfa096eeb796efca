//! The external CRM's event queue, for operators (role admin): what was sent, what waits, what
//! died and why; a dead event can be put back in the queue.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{ok, Access, Endpoint, Query};
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use crate::services::paging;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_store::{CrmEventRecord, StoreError};

feature_state! {
    /// The CRM event endpoints' handles.
    CrmState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    crm: Arc<Crm>,
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/crm/events",
            summary: "CRM webhook events, newest first, with attempts and the last error \
                      (`?state=pending|delivered|dead`, `?limit=` 1 to 500, default 50).",
            access: Access::Admin,
            body: None,
            handler: get(list),
            doc: super::Doc::ok::<Vec<super::wire::CrmEvent>>().query::<ListQuery>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/crm/events/{id}/retry",
            summary: "Put a dead CRM event back in the queue (409 unless it is dead).",
            access: Access::Admin,
            body: None,
            handler: post(retry),
            doc: super::Doc::ok::<super::wire::CrmEvent>(),
        },
    ]
}

/// An event as operators see it (the signed body itself is not shown).
fn view(e: &CrmEventRecord) -> Value {
    json!({
        "id": e.id,
        "type": e.kind,
        "state": e.state,
        "attempts": e.attempts,
        "next_attempt_at": (e.state == "pending").then(|| views::ts(e.next_attempt_at)),
        "last_error": e.last_error,
        "created_at": views::ts(e.created_at),
        "delivered_at": views::ts_opt(e.delivered_at),
        "data": e.payload,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/crm/events`
async fn list(
    State(state): State<CrmState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("pending" | "delivered" | "dead")) => Some(s),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_state",
                "state must be pending, delivered or dead",
            ))
        }
    };
    let limit = paging::limit(q.limit, 50, 500)?;
    let rows = state.store.list_crm_events(filter, limit).await?;
    Ok(ok(Value::Array(rows.iter().map(view).collect())))
}

/// `POST /api/v1/crm/events/{id}/retry`
async fn retry(
    State(state): State<CrmState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let before = state.store.crm_event(&id).await?;
    match state.store.retry_crm_event(&id, now).await {
        Ok(event) => {
            tracing::info!(event = %id, "crm: a dead event was put back in the queue");
            // Put back by the store alone, so its entry follows at once.
            let entry = audit::entry(
                now,
                Some(&me.id),
                audit::CRM_EVENT_RETRIED,
                ("crm_event", &id),
                before.map(|b| json!({"state": b.state, "attempts": b.attempts, "last_error": b.last_error})),
                Some(json!({"state": event.state, "attempts": event.attempts})),
            );
            audit::append(&state.core, vec![entry]).await?;
            state.crm.wake.notify_one();
            Ok(ok(view(&event)))
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found("CRM event")),
        Err(StoreError::Conflict(_)) => {
            let current = state.store.crm_event(&id).await?;
            let st = current.map_or_else(|| "gone".to_owned(), |e| e.state);
            Err(ApiError::conflict(
                "not_dead",
                format!("only a dead event can be retried; this one is {st}"),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
