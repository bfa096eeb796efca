//! Login and logout.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{body, ok, Access, Endpoint, Json};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_token;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::{hash_token, with_retry_after, AuthUser, COOKIE};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

feature_state! {
    /// The login endpoints' handles.
    AuthState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    hub: Hub,
    config: Arc<Config>,
    limiter: Arc<LoginLimiter>,
    metrics: Arc<Metrics>,
    hasher: Arc<PasswordHasher>,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "POST", path: "/api/v1/auth/login", summary: "Log in with username and password; returns a bearer token and sets a session cookie.", access: Access::Public, body: body::<LoginRequest>(), handler: post(login), doc: super::Doc::ok::<super::wire::Login>() },
        Endpoint { method: "POST", path: "/api/v1/auth/logout", summary: "End the current session.", access: Access::Agent, body: None, handler: post(logout), doc: super::Doc::no_content() },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/auth/login`
///
/// The login takes its place in the limit (per username and client address) *before* the
/// password check, so concurrent guesses cannot run more checks than the limit allows.
async fn login(
    State(state): State<AuthState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let cfg = &state.config.server;
    let username = req.username.trim().to_owned();
    if username.is_empty() || username.len() > 100 || req.password.len() > 1024 {
        return Err(ApiError::invalid(
            "invalid_credentials_format",
            "username must be 1 to 100 bytes and password at most 1024 bytes",
        ));
    }
    let client = state
        .limiter
        .client_address(peer.map(|Extension(ConnectInfo(a))| a), &headers);
    let attempt = match state.limiter.begin(&username, client, now) {
        Ok(a) => a,
        Err(retry_after_s) => {
            state.metrics.logins_refused.fetch_add(1, Ordering::Relaxed);
            return Ok(with_retry_after(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many failed logins for this user; wait a few minutes and try again",
                ),
                retry_after_s,
            ));
        }
    };
    let user = state.store.user_by_username(&username).await?;
    let valid = match state
        .hasher
        .verify(req.password, user.as_ref().map(|u| u.password_hash.clone()))
        .await
    {
        Ok(v) => v,
        Err(busy) => {
            // Not checked: the attempt is given back uncounted.
            state.metrics.logins_busy.fetch_add(1, Ordering::Relaxed);
            return Ok(busy.into_response());
        }
    };
    let known = user.as_ref().filter(|u| !u.deleted).map(|u| u.id.clone());
    let Some(user) = user.filter(|_| valid) else {
        attempt.failed(now);
        state.metrics.logins_failed.fetch_add(1, Ordering::Relaxed);
        // a failure is logged with the address it came from (and the user, if the
        // username exists); the answer does not depend on whether the entry could be stored.
        let entry = audit::login(
            &state.clock,
            audit::LOGIN_FAILED,
            known.as_ref(),
            &username,
            Some(client.to_string()),
        );
        if let Err(e) = audit::append(&state.core, vec![entry]).await {
            tracing::warn!(error = %e.message, "cannot log a failed login");
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    attempt.succeeded(now);
    let token = new_token();
    let ttl_ms = i64::from(cfg.session_ttl_hours) * 3_600_000;
    state
        .store
        .create_session(
            &hash_token(&token),
            &user.id,
            now,
            switchboard_domain::Timestamp(now.0 + ttl_ms),
        )
        .await?;
    let entry = audit::login(
        &state.clock,
        audit::LOGIN_SUCCEEDED,
        Some(&user.id),
        &user.username,
        Some(client.to_string()),
    );
    audit::append(&state.core, vec![entry]).await?;
    let id = user.id.clone();
    let agent = state
        .core
        .read(move |s| {
            s.engine
                .agent(&id)
                .cloned()
                .map(|a| (s.engine.load_of(&a.id), a))
        })
        .await?;
    let user_json = match &agent {
        Some((load, a)) => views::agent(a, *load, Some(&user.username)),
        None => json!({"id": user.id, "username": user.username, "role": user.role}),
    };
    let secure = if cfg.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        ttl_ms / 1000
    );
    tracing::info!(agent = %user.id, "login");
    let mut resp = ok(json!({"token": token, "user": user_json}));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `POST /api/v1/auth/logout`
async fn logout(
    State(state): State<AuthState>,
    Extension(user): Extension<AuthUser>,
) -> Result<Response, ApiError> {
    state.store.delete_session(&user.token_hash).await?;
    state.hub.revoke(&user.id, Some(user.token_hash.clone()));
    let secure = if state.config.server.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) =
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}").parse()
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}
