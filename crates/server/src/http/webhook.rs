//! `/webhooks/whatsapp`: the verification handshake (GET) and events (POST) of WhatsApp
//! . Public: authenticated by the verify token and the request signature.

use super::{Access, Endpoint, Query};
use crate::runtime::error::ApiError;
use crate::services::whatsapp::webhook::Webhooks;
use crate::services::whatsapp::Channels;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// WhatsApp sends up to 3 MB; the parser refuses more with a clear error.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/webhooks/whatsapp", summary: "WhatsApp's verification handshake: answers hub.challenge when hub.verify_token matches a channel.", access: Access::Public, body: None, handler: get(verify), doc: super::Doc::text(200, "text/plain").query::<VerifyQuery>() },
        Endpoint { method: "POST", path: "/webhooks/whatsapp", summary: "WhatsApp events (X-Hub-Signature-256 required); 200 once durable.", access: Access::Public, body: None, handler: post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)), doc: super::Doc::ok::<super::wire::WebhookReceived>() },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhooks/whatsapp`
async fn verify(State(channels): State<Arc<Channels>>, Query(q): Query<VerifyQuery>) -> Response {
    for c in channels.all() {
        if let Some(challenge) = switchboard_channels::verify_subscription(
            q.mode.as_deref(),
            q.verify_token.as_deref(),
            q.challenge.as_deref(),
            &c.verify_token,
        ) {
            return (StatusCode::OK, challenge.to_owned()).into_response();
        }
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        "verification_failed",
        "hub.verify_token does not match any channel",
    )
    .into_response()
}

/// `POST /webhooks/whatsapp`
async fn receive(
    State(state): State<Webhooks>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = crate::services::whatsapp::webhook::handle(&state, &headers, &body).await?;
    state.metrics.webhooks_ok.fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .webhook_messages
        .fetch_add(outcome.messages as u64, Ordering::Relaxed);
    Ok(axum::Json(json!({
        "received": {"messages": outcome.messages, "duplicates": outcome.duplicates, "statuses": outcome.statuses, "kept_raw": outcome.kept_raw}
    }))
    .into_response())
}
