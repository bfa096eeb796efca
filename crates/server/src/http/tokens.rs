//! Integration tokens (R-9.1, role admin): a named, long-lived bearer token acting as one user
//! with that user's role, for integrations that cannot keep a session alive.
//!
//! The token is answered once, when it is made; only its SHA-256 is stored (like sessions). A
//! deleted token gets 401 at once, and its open websockets close. Tokens are rows an admin
//! writes directly (one statement each); their audit entries follow at once (`audit::append`).

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{body, created, no_content, ok, Access, Endpoint, Json, Path};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::text;
use crate::runtime::views::ts;
use crate::services::audit;
use crate::services::auth::{hash_token, new_api_token, AuthUser};
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_domain::{AgentId, Timestamp};
use switchboard_store::{StoreError, TokenRecord};

feature_state! {
    /// The integration tokens' handles.
    TokensState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    hub: Hub,
    }
}

/// The longest a token may be made to last, in days (none: it does not expire).
pub const MAX_EXPIRY_DAYS: u32 = 3650;
const NAME_MAX_CHARS: usize = 100;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/tokens",
            summary: "Integration tokens, newest first, with when each was last used (never the token).",
            access: Access::Admin,
            body: None,
            handler: get(list),
            doc: super::Doc::ok::<Vec<super::wire::Token>>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/tokens",
            summary: "Make an integration token acting as a user (with their role); the token is answered this once. Use it as Authorization: Bearer.",
            access: Access::Admin,
            body: body::<NewTokenRequest>(),
            handler: post(create),
            doc: super::Doc::created::<super::wire::NewToken>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/tokens/{id}",
            summary: "Revoke an integration token: it gets 401 at once.",
            access: Access::Admin,
            body: None,
            handler: delete(revoke),
            doc: super::Doc::no_content(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What it is for (1 to 100 characters), e.g. "ERP sync".
    pub name: String,
    /// The user it acts as.
    pub user_id: String,
    /// Days until it stops working (1 to 3650); none: it does not expire.
    pub expires_in_days: Option<u32>,
}

/// A token as listed and logged: never the token or its hash.
fn view(t: &TokenRecord, user_name: Option<String>, now: Timestamp) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "user_id": t.user_id,
        "user_name": user_name,
        "created_at": ts(t.created_at),
        "expires_at": t.expires_at.map(ts),
        "last_used_at": t.last_used_at.map(ts),
        "expired": t.expires_at.is_some_and(|e| e <= now),
    })
}

fn audit_value(t: &TokenRecord) -> Value {
    json!({
        "name": t.name,
        "user_id": t.user_id,
        "expires_at": t.expires_at.map(ts),
    })
}

/// `GET /api/v1/tokens`
async fn list(State(state): State<TokensState>) -> Result<Response, ApiError> {
    let tokens = state.store.tokens().await?;
    let ids: Vec<AgentId> = tokens.iter().map(|t| t.user_id.clone()).collect();
    let names: std::collections::HashMap<AgentId, String> = state
        .core
        .read(move |s| {
            ids.into_iter()
                .filter_map(|a| s.engine.agent(&a).map(|x| (a, x.display_name.clone())))
                .collect()
        })
        .await?;
    let now = state.clock.now();
    let list = tokens
        .iter()
        .map(|t| view(t, names.get(&t.user_id).cloned(), now))
        .collect();
    Ok(ok(Value::Array(list)))
}

/// `POST /api/v1/tokens`
async fn create(
    State(state): State<TokensState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<NewTokenRequest>,
) -> Result<Response, ApiError> {
    let name = text::line(&req.name).trim().to_owned();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::invalid(
            "invalid_name",
            format!("a token's name is 1 to {NAME_MAX_CHARS} characters"),
        ));
    }
    if req
        .expires_in_days
        .is_some_and(|d| d == 0 || d > MAX_EXPIRY_DAYS)
    {
        return Err(ApiError::invalid(
            "invalid_expiry",
            format!("expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}"),
        ));
    }
    let user = AgentId(req.user_id);
    if state.core.directory.role(&user).is_none() {
        return Err(ApiError::invalid("unknown_user", "there is no such user")
            .with("user_id", user.0.clone()));
    }
    let now = state.clock.now();
    let token = new_api_token();
    let record = TokenRecord {
        id: new_id("tok", now),
        name,
        user_id: user,
        created_by: Some(me.id.clone()),
        created_at: now,
        expires_at: req
            .expires_in_days
            .map(|d| Timestamp(now.0 + i64::from(d) * 86_400_000)),
        last_used_at: None,
    };
    state
        .store
        .create_token(&record, &hash_token(&token))
        .await
        .map_err(|e| match e {
            // The user was deleted since the check (the row's foreign key refuses it).
            StoreError::Database(_) if state.core.directory.role(&record.user_id).is_none() => {
                ApiError::invalid("unknown_user", "there is no such user")
            }
            other => other.into(),
        })?;
    let entry = audit::entry(
        now,
        Some(&me.id),
        audit::TOKEN_CREATED,
        ("token", &record.id),
        None,
        Some(audit_value(&record)),
    );
    audit::append(&state.core, vec![entry]).await?;
    Ok(created(json!({
        "id": record.id,
        "name": record.name,
        "user_id": record.user_id,
        "token": token,
        "created_at": ts(record.created_at),
        "expires_at": record.expires_at.map(ts),
    })))
}

/// `DELETE /api/v1/tokens/{id}`
async fn revoke(
    State(state): State<TokensState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (record, hash) = state
        .store
        .token(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("token"))?;
    state.store.delete_token(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("token"),
        other => other.into(),
    })?;
    // Its open websockets close now.
    state.hub.revoke(&record.user_id, Some(hash));
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::TOKEN_REVOKED,
        ("token", &id),
        Some(audit_value(&record)),
        None,
    );
    audit::append(&state.core, vec![entry]).await?;
    Ok(no_content())
}
