//! The audit log, read by supervisors and admins: `GET /api/v1/audit`, newest first,
//! searchable by time, actor, action (exact, or a prefix ending with a dot) and target, paged
//! with the cursor `next`. Entries are written by the changes themselves (`services::audit`).

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{ok, Access, Endpoint, Query};
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::paging;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_domain::AgentId;
use switchboard_store::{AuditCursor, AuditFilter};

feature_state! {
    /// The audit log's handles.
    AuditState {
    store: Store,
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint {
        method: "GET",
        path: "/api/v1/audit",
        summary: "The audit log, newest first: admin changes (before and after), logins, presence changes, take-overs, reassignments, whispers. Filters: from, to (RFC 3339), actor_id, action (exact, or a prefix ending with a dot: `queue.`), target_id; `limit` (1-500, default 50), `before` = the `next` of the previous page.",
        access: Access::Supervisor,
        body: None,
        handler: get(audit_log),
        doc: super::Doc::ok::<super::wire::AuditLog>().query::<AuditQuery>(),
    }]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct AuditQuery {
    /// Entries at or after this time (RFC 3339).
    from: Option<String>,
    /// Entries before this time (RFC 3339).
    to: Option<String>,
    actor_id: Option<String>,
    /// An action (`agent.updated`), or a prefix ending with a dot (`agent.`).
    action: Option<String>,
    target_id: Option<String>,
    limit: Option<i64>,
    /// The `next` of the previous page.
    before: Option<String>,
}

/// `GET /api/v1/audit`
async fn audit_log(
    State(state): State<AuditState>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(q.limit, 50, 500)?;
    let before = match q.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(AuditCursor::parse(b).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "before must be the `next` of an earlier page",
            )
        })?),
        None => None,
    };
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let filter = AuditFilter {
        from: super::time_param("from", q.from.as_deref())?,
        to: super::time_param("to", q.to.as_deref())?,
        actor_id: nonempty(q.actor_id).map(AgentId),
        action: nonempty(q.action),
        target_id: nonempty(q.target_id),
        limit,
        before,
    };
    let page = state.store.audit_page(&filter).await?;
    let items: Vec<Value> = page.items.iter().map(views::audit_entry).collect();
    Ok(ok(json!({
        "items": items,
        "next": page.next.map(|c| c.encode()),
    })))
}
