//! Login and logout.

use super::{body, ok, Access, Endpoint, Json};
use crate::app::AppState;
use crate::auth::{hash_token, verify_password, AuthUser, COOKIE};
use crate::error::ApiError;
use crate::ids::new_token;
use crate::views;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::Ordering;

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
async fn login(
    State(state): State<AppState>,
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
    if !state
        .limiter
        .allowed(&username, now, cfg.login_max_failures, cfg.login_window_s)
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins for this user; wait a few minutes and try again",
        ));
    }
    let user = state.store.user_by_username(&username).await?;
    let valid = verify_password(req.password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user.filter(|_| valid) else {
        state.limiter.failed(&username, now);
        state.metrics.logins_failed.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    state.limiter.succeeded(&username);
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
    State(state): State<AppState>,
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
