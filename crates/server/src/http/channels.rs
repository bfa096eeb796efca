//! WhatsApp channels (role admin): connect numbers, each to a queue. The access token and
//! app secret go in and never come out: answers say only whether each is set. The operations an
//! admin needs to connect a number: the webhook URL and verify token to paste into Meta's app
//! (`GET …/webhook`), a connection check against the Graph API (`POST …/check`), and each
//! number's last webhook and last send error in every answer.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, created, no_content, ok, Access, Endpoint, Json};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::locks::LockKey;
use crate::services::audit;
use crate::services::auth::AuthUser;
use crate::services::whatsapp::ChannelActivity;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_domain::QueueId;
use switchboard_store::{ChannelRecord, StoreError};

feature_state! {
    /// The channel endpoints' handles.
    ChannelsState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    channels: Arc<Channels>,
    locks: Arc<KeyedLocks>,
    graph: switchboard_channels::GraphClient,
    config: Arc<Config>,
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "POST",
            path: "/api/v1/channels",
            summary: "Connect a WhatsApp number to a queue.",
            access: Access::Admin,
            body: body::<ChannelRequest>(),
            handler: post(create_channel),
            doc: super::Doc::created::<super::wire::Channel>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/channels",
            summary: "Connected numbers (no secrets).",
            access: Access::Admin,
            body: None,
            handler: get(list_channels),
            doc: super::Doc::ok::<Vec<super::wire::Channel>>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/channels/{id}",
            summary: "One connected number (no secrets).",
            access: Access::Admin,
            body: None,
            handler: get(get_channel),
            doc: super::Doc::ok::<super::wire::Channel>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/channels/{id}",
            summary: "Change a number's queue, names or secrets.",
            access: Access::Admin,
            body: body::<ChannelPatch>(),
            handler: patch(patch_channel),
            doc: super::Doc::ok::<super::wire::Channel>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/channels/{id}",
            summary: "Disconnect a number.",
            access: Access::Admin,
            body: None,
            handler: delete(delete_channel),
            doc: super::Doc::no_content(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/channels/{id}/webhook",
            summary: "The webhook URL and verify token to paste into the Meta app.",
            access: Access::Admin,
            body: None,
            handler: get(webhook_setup),
            doc: super::Doc::ok::<super::wire::ChannelWebhook>(),
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/channels/{id}/check",
            summary:
                "Check the connection: asks the Graph API for the number with its access token.",
            access: Access::Admin,
            body: None,
            handler: post(check_connection),
            doc: super::Doc::ok::<super::wire::ChannelCheck>(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelRequest {
    /// `whatsapp`.
    pub kind: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
    pub queue_id: String,
    /// The WhatsApp Business Account id (for templates).
    pub waba_id: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    pub display_phone_number: Option<String>,
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub queue_id: Option<String>,
    pub waba_id: Option<String>,
}

pub fn view(c: &ChannelRecord, activity: &ChannelActivity) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "phone_number_id": c.phone_number_id,
        "display_phone_number": c.display_phone_number,
        "waba_id": c.waba_id,
        "queue_id": c.queue_id,
        "created_at": crate::runtime::views::ts(c.created_at),
        "access_token_set": !c.access_token.is_empty(),
        "app_secret_set": !c.app_secret.is_empty(),
        "verify_token_set": !c.verify_token.is_empty(),
        "webhook_path": WEBHOOK_PATH,
        "last_webhook_at": crate::runtime::views::ts_opt(activity.last_webhook_at),
        "last_send_error": activity.last_send_error.as_ref().map(|(at, message)| json!({
            "at": crate::runtime::views::ts(*at),
            "message": message,
        })),
    })
}

const WEBHOOK_PATH: &str = "/webhooks/whatsapp";

/// What the number's traffic last said; the last send error is read from the outbox rows the
/// first time after a start (see [`ChannelActivity`]).
async fn activity(state: &ChannelsState, id: &str) -> Result<ChannelActivity, ApiError> {
    let a = state.channels.activity(id);
    if a.stored_error_read {
        return Ok(a);
    }
    let found = state.store.last_send_error(id).await?.map(|(at, e)| {
        let words = crate::services::whatsapp::outbox::error_words(&e);
        (at, words)
    });
    state.channels.stored_send_error(id, found);
    Ok(state.channels.activity(id))
}

/// A channel's JSON with its activity.
async fn answer(state: &ChannelsState, c: &ChannelRecord) -> Result<Value, ApiError> {
    Ok(view(c, &activity(state, &c.id).await?))
}

fn check_secret(name: &str, v: &str) -> Result<(), ApiError> {
    if v.trim().is_empty() || v.len() > 4096 {
        return Err(ApiError::invalid(
            "invalid_secret",
            format!("{name} must be 1 to 4096 bytes"),
        ));
    }
    Ok(())
}

async fn check(state: &ChannelsState, c: &ChannelRecord) -> Result<(), ApiError> {
    let pnid_ok = !c.phone_number_id.is_empty()
        && c.phone_number_id.len() <= 64
        && c.phone_number_id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric());
    if !pnid_ok {
        return Err(ApiError::invalid(
            "invalid_phone_number_id",
            "phone_number_id must be 1 to 64 letters or digits",
        ));
    }
    if c.display_phone_number.trim().is_empty() || c.display_phone_number.len() > 64 {
        return Err(ApiError::invalid(
            "invalid_display_phone_number",
            "display_phone_number must be 1 to 64 bytes",
        ));
    }
    if c.waba_id.as_ref().is_some_and(|w| {
        w.is_empty() || w.len() > 64 || !w.chars().all(|ch| ch.is_ascii_alphanumeric())
    }) {
        return Err(ApiError::invalid(
            "invalid_waba_id",
            "waba_id must be 1 to 64 letters or digits",
        ));
    }
    check_secret("access_token", &c.access_token)?;
    // It travels as `Authorization: Bearer …`: a header value takes visible ASCII only.
    if !c.access_token.chars().all(|ch| ch.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "invalid_secret",
            "access_token may hold only visible ASCII characters (no spaces or control characters)",
        ));
    }
    check_secret("app_secret", &c.app_secret)?;
    check_secret("verify_token", &c.verify_token)?;
    let q = c.queue_id.clone();
    if !state
        .core
        .read(move |s| s.engine.queue(&q).is_some())
        .await?
    {
        return Err(ApiError::invalid(
            "unknown_queue",
            "the queue does not exist",
        ));
    }
    Ok(())
}

async fn save(state: &ChannelsState, c: &ChannelRecord) -> Result<(), ApiError> {
    state.store.upsert_channel(c).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::conflict(
            "phone_number_taken",
            format!(
                "another channel already uses phone_number_id {}",
                c.phone_number_id
            ),
        ),
        other => other.into(),
    })?;
    state.channels.set(c.clone());
    Ok(())
}

/// Logs a change of a channel. Channels are written by the store alone (see
/// ARCHITECTURE.md, "Invariants"), so the entry follows the write at once.
async fn log(
    state: &ChannelsState,
    me: &AuthUser,
    action: &str,
    id: &str,
    before: Option<&ChannelRecord>,
    after: Option<&ChannelRecord>,
) -> Result<(), ApiError> {
    let mut after_value = after.map(audit::channel_value);
    if let (Some(b), Some(a), Some(v)) = (before, after, after_value.as_mut()) {
        let replaced: Vec<&str> = [
            ("access_token", b.access_token != a.access_token),
            ("app_secret", b.app_secret != a.app_secret),
            ("verify_token", b.verify_token != a.verify_token),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect();
        v["secrets_replaced"] = json!(replaced);
    }
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        action,
        ("channel", id),
        before.map(audit::channel_value),
        after_value,
    );
    audit::append(&state.core, vec![entry]).await
}

/// `POST /api/v1/channels`
async fn create_channel(
    State(state): State<ChannelsState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<ChannelRequest>,
) -> Result<Response, ApiError> {
    if req.kind != "whatsapp" {
        return Err(ApiError::invalid("invalid_kind", "kind must be whatsapp"));
    }
    let c = ChannelRecord {
        id: new_id("chn", state.clock.now()),
        kind: req.kind,
        phone_number_id: req.phone_number_id.trim().to_owned(),
        display_phone_number: req.display_phone_number.trim().to_owned(),
        waba_id: req.waba_id.map(|w| w.trim().to_owned()),
        access_token: req.access_token,
        app_secret: req.app_secret,
        verify_token: req.verify_token,
        queue_id: QueueId(req.queue_id),
        created_at: state.clock.now(),
    };
    check(&state, &c).await?;
    save(&state, &c).await?;
    log(&state, &me, audit::CHANNEL_CREATED, &c.id, None, Some(&c)).await?;
    tracing::info!(channel = %c.id, phone_number_id = %c.phone_number_id, "channel connected");
    Ok(created(answer(&state, &c).await?))
}

/// `GET /api/v1/channels`
async fn list_channels(State(state): State<ChannelsState>) -> Result<Response, ApiError> {
    let mut v = Vec::new();
    for c in state.channels.all() {
        v.push(answer(&state, &c).await?);
    }
    Ok(ok(Value::Array(v)))
}

/// The channel `id`, or 404.
fn known(state: &ChannelsState, id: &str) -> Result<ChannelRecord, ApiError> {
    state
        .channels
        .get(id)
        .ok_or_else(|| ApiError::not_found("channel"))
}

/// `GET /api/v1/channels/{id}`
async fn get_channel(
    State(state): State<ChannelsState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = known(&state, &id)?;
    Ok(ok(answer(&state, &c).await?))
}

/// `PATCH /api/v1/channels/{id}`
async fn patch_channel(
    State(state): State<ChannelsState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<ChannelPatch>,
) -> Result<Response, ApiError> {
    // Read, change and save under the channel's lock: two admins changing different fields at
    // once both keep their change, and a channel deleted meanwhile stays deleted (404).
    let key = channel_lock(&id);
    state
        .locks
        .with(key, async {
            let mut c = known(&state, &id)?;
            let before = c.clone();
            if let Some(v) = req.display_phone_number {
                c.display_phone_number = v.trim().to_owned();
            }
            if let Some(v) = req.access_token {
                c.access_token = v;
            }
            if let Some(v) = req.app_secret {
                c.app_secret = v;
            }
            if let Some(v) = req.verify_token {
                c.verify_token = v;
            }
            if let Some(v) = req.queue_id {
                c.queue_id = QueueId(v);
            }
            if let Some(v) = req.waba_id {
                c.waba_id = Some(v.trim().to_owned());
            }
            check(&state, &c).await?;
            save(&state, &c).await?;
            log(
                &state,
                &me,
                audit::CHANNEL_UPDATED,
                &id,
                Some(&before),
                Some(&c),
            )
            .await?;
            Ok(ok(answer(&state, &c).await?))
        })
        .await
}

/// The key of a channel's lock in [`ChannelsState::locks`](crate::app::ChannelsState).
fn channel_lock(id: &str) -> LockKey {
    LockKey::Channel(id.to_owned())
}

/// `DELETE /api/v1/channels/{id}`
async fn delete_channel(
    State(state): State<ChannelsState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = channel_lock(&id);
    state
        .locks
        .with(key, async {
            let before = state.channels.get(&id);
            state.store.delete_channel(&id).await.map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found("channel"),
                other => other.into(),
            })?;
            state.channels.remove(&id);
            log(
                &state,
                &me,
                audit::CHANNEL_DELETED,
                &id,
                before.as_ref(),
                None,
            )
            .await?;
            Ok(no_content())
        })
        .await
}

/// The first value of a header, trimmed, when it is readable and not empty.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The webhook's URL as the admin's browser reached this server: behind a proxy, the scheme and
/// host it says it was asked for (`X-Forwarded-Proto`, `X-Forwarded-Host`); else the `Host` and
/// `https` when cookies are marked secure (the server is then served over TLS), `http` otherwise.
/// It is only shown to the admin who asked, so the headers need no trust.
fn webhook_url(headers: &HeaderMap, secure: bool) -> String {
    let valid_host = |h: &&str| {
        h.len() <= 255
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    let scheme = match header_text(headers, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ if secure => "https",
        _ => "http",
    };
    let host = header_text(headers, "x-forwarded-host")
        .filter(valid_host)
        .or_else(|| header_text(headers, "host").filter(valid_host))
        .unwrap_or("localhost");
    format!("{scheme}://{host}{WEBHOOK_PATH}")
}

/// `GET /api/v1/channels/{id}/webhook`
async fn webhook_setup(
    State(state): State<ChannelsState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = known(&state, &id)?;
    Ok(ok(json!({
        "url": webhook_url(&headers, state.config.server.secure_cookies),
        "verify_token": c.verify_token,
    })))
}

/// `POST /api/v1/channels/{id}/check`: a refusal of the Graph API is an answer (`ok: false` with
/// its words), not an error of this request.
async fn check_connection(
    State(state): State<ChannelsState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = known(&state, &id)?;
    let result = state
        .graph
        .phone_number(&c.phone_number_id, &c.access_token)
        .await;
    let checked_at = crate::runtime::views::ts(state.clock.now());
    Ok(ok(match result {
        Ok(n) => json!({
            "ok": true,
            "checked_at": checked_at,
            "phone_number": {
                "id": n.id,
                "display_phone_number": n.display_phone_number,
                "verified_name": n.verified_name,
                "quality_rating": n.quality_rating,
            },
            "error": null,
        }),
        Err(e) => {
            tracing::info!(channel = %c.id, error = %e.describe(), "channel check failed");
            json!({
                "ok": false,
                "checked_at": checked_at,
                "phone_number": null,
                "error": e.describe(),
            })
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::webhook_url;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn the_webhook_url_follows_the_address_the_browser_used() {
        let direct = headers(&[("host", "10.0.0.5:8080")]);
        assert_eq!(
            webhook_url(&direct, false),
            "http://10.0.0.5:8080/webhooks/whatsapp"
        );
        assert_eq!(
            webhook_url(&direct, true),
            "https://10.0.0.5:8080/webhooks/whatsapp"
        );
        let proxied = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "cc.example.com, inner"),
        ]);
        assert_eq!(
            webhook_url(&proxied, false),
            "https://cc.example.com/webhooks/whatsapp"
        );
        let hostile = headers(&[("host", "a.example"), ("x-forwarded-host", "evil/path?x")]);
        assert_eq!(
            webhook_url(&hostile, false),
            "http://a.example/webhooks/whatsapp"
        );
    }
}
