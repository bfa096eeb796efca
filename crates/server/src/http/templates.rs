//! WhatsApp message templates: the list and one template (any logged-in user), the
//! admin's sync and variable map, an interaction's preview with prefilled variables, and sending
//! a template into an interaction (called by `POST /api/v1/interactions/{id}/messages`).
//!
//! A template can be sent in an interaction only when it is approved, still listed by WhatsApp,
//! and belongs to the business account of the interaction's WhatsApp number; it may be sent
//! outside the 24-hour window (that is what templates are for).

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, ok, Access, Endpoint, Json, Query};
use crate::runtime::error::ApiError;
use crate::services::auth::AuthUser;
use crate::services::interactions::visible;
use crate::services::messaging::{channel_of, not_sendable};
use crate::services::templates::{self as tpl, Shape};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_store::{StoreError, TemplateFilter, TemplateRecord};

feature_state! {
    /// The template endpoints' handles.
    TemplatesState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    channels: Arc<Channels>,
    graph: switchboard_channels::GraphClient,
    blobs: Blobs,
    outbox_wake: Arc<Notify>,
    template_sync_wake: Arc<Notify>,
    locks: Arc<KeyedLocks>,
    shutdown: watch::Receiver<bool>,
    } => base: Base { core, store, clock }, messaging: Messaging { core, store, clock, locks, channels, blobs, outbox_wake }, template_sync: TemplateSync { store, locks, clock, channels, graph, template_sync_wake, shutdown }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/templates", summary: "WhatsApp message templates with their status, components, variables and buttons; filter with ?channel_id=, ?status= and ?q= (name); ?include_deleted=true adds those WhatsApp no longer lists.", access: Access::Agent, body: None, handler: get(list), doc: super::Doc::ok::<Vec<super::wire::Template>>().query::<ListQuery>() },
        Endpoint { method: "GET", path: "/api/v1/templates/{id}", summary: "One template.", access: Access::Agent, body: None, handler: get(get_one), doc: super::Doc::ok::<super::wire::Template>() },
        Endpoint { method: "PATCH", path: "/api/v1/templates/{id}", summary: "Set a template's variable_map: template variable (header.1, body.1 or 1, body.name, button.0) to contact field (contact.name, contact.first_name, contact.last_name, contact.email, contact.phone, contact.fields.KEY).", access: Access::Admin, body: body::<TemplatePatch>(), handler: patch(patch_template), doc: super::Doc::ok::<super::wire::Template>() },
        Endpoint { method: "POST", path: "/api/v1/templates/sync", summary: "Sync the templates of every channel with a waba_id (or of {channel_id}) from WhatsApp; templates no longer listed are marked deleted. 502 sync_failed when WhatsApp could not be read.", access: Access::Admin, body: body::<SyncRequest>(), handler: post(sync), doc: super::Doc::ok::<super::wire::SyncReport>().optional_body() },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/templates/{template_id}/preview", summary: "A template as it would be sent in this interaction: header, body, footer, buttons, each variable prefilled from the mapped contact field, the rendered text, and whether it can be sent here.", access: Access::Agent, body: None, handler: get(preview), doc: super::Doc::ok::<super::wire::TemplatePreview>() },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ListQuery {
    channel_id: Option<String>,
    status: Option<String>,
    q: Option<String>,
    include_deleted: Option<bool>,
}

/// The business account of a channel named in a request (unknown: 422).
fn waba_of_channel(state: &TemplatesState, channel_id: &str) -> Result<Option<String>, ApiError> {
    let c = state
        .channels
        .get(channel_id)
        .ok_or_else(|| ApiError::invalid("unknown_channel", "there is no channel with this id"))?;
    Ok(c.waba_id.filter(|w| !w.is_empty()))
}

/// `GET /api/v1/templates`
async fn list(
    State(state): State<TemplatesState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let waba_ids = match q.channel_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(waba_of_channel(&state, c)?.into_iter().collect()),
        None => None,
    };
    let status = q
        .status
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if s.len() > 40 || !s.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(ApiError::invalid(
                "invalid_status",
                "status is a template status such as APPROVED, PENDING, REJECTED, PAUSED or DISABLED",
            ));
        }
    }
    let filter = TemplateFilter {
        waba_ids,
        status,
        q: q.q.map(|s| s.trim().chars().take(200).collect()),
        include_deleted: q.include_deleted.unwrap_or(false),
    };
    let list: Vec<Value> = state
        .store
        .templates(&filter)
        .await?
        .iter()
        .map(tpl::view)
        .collect();
    Ok(ok(Value::Array(list)))
}

async fn find(state: &TemplatesState, id: &str) -> Result<TemplateRecord, ApiError> {
    state
        .store
        .template(id)
        .await?
        .ok_or_else(|| ApiError::not_found("template"))
}

/// `GET /api/v1/templates/{id}`
async fn get_one(
    State(state): State<TemplatesState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(tpl::view(&find(&state, &id).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePatch {
    /// Template variable -> contact field; `null` or `""` removes a mapping. Replaces the map.
    pub variable_map: Value,
}

/// `PATCH /api/v1/templates/{id}`
async fn patch_template(
    State(state): State<TemplatesState>,
    Extension(me): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<TemplatePatch>,
) -> Result<Response, ApiError> {
    let t = find(&state, &id).await?;
    let shape = Shape::of(&t.parameter_format, &t.components);
    let map = tpl::check_variable_map(&shape, &req.variable_map)
        .map_err(|m| ApiError::invalid("invalid_variable_map", m))?;
    let map = serde_json::to_value(map).unwrap_or_else(|_| json!({}));
    state
        .store
        .set_template_variable_map(&t.id, &map, state.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("template"),
            other => other.into(),
        })?;
    let changed = find(&state, &id).await?;
    // The map is written by the store alone (no routing depends on it), so is its entry.
    let entry = crate::services::audit::entry(
        state.clock.now(),
        Some(&me.id),
        crate::services::audit::TEMPLATE_UPDATED,
        ("template", t.id.as_str()),
        Some(crate::services::audit::template_value(&t)),
        Some(crate::services::audit::template_value(&changed)),
    );
    crate::services::audit::append(&state.core, vec![entry]).await?;
    Ok(ok(tpl::view(&changed)))
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only this channel's business account.
    pub channel_id: Option<String>,
}

/// `POST /api/v1/templates/sync`
async fn sync(
    State(state): State<TemplatesState>,
    Extension(me): Extension<AuthUser>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid("invalid_body", format!("invalid JSON body: {e}")))?
    };
    if let Some(c) = req.channel_id.as_deref() {
        if waba_of_channel(&state, c)?.is_none() {
            return Err(ApiError::invalid(
                "no_waba_id",
                "this channel has no waba_id (WhatsApp Business Account id): set it to sync its templates",
            ));
        }
    }
    let reports = tpl::sync(&state.template_sync(), req.channel_id.as_deref()).await;
    let failed: Vec<&tpl::AccountSync> = reports.iter().filter(|r| !r.ok).collect();
    let detail = serde_json::to_value(&reports).unwrap_or(Value::Null);
    let entry = crate::services::audit::entry(
        state.clock.now(),
        Some(&me.id),
        crate::services::audit::TEMPLATES_SYNCED,
        ("channel", req.channel_id.as_deref().unwrap_or("all")),
        None,
        Some(json!({"accounts": detail})),
    );
    crate::services::audit::append(&state.core, vec![entry]).await?;
    if let Some(first) = failed.first() {
        let reason = first
            .error
            .as_ref()
            .and_then(|e| e.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "sync_failed",
            format!(
                "the templates of business account {} could not be read from WhatsApp: {reason}",
                first.waba_id
            ),
        )
        .with("accounts", detail));
    }
    Ok(ok(json!({"accounts": detail})))
}

// ------------------------------------------------------------------------- in an interaction

/// `GET /api/v1/interactions/{id}/templates/{template_id}/preview`
async fn preview(
    State(state): State<TemplatesState>,
    Extension(user): Extension<AuthUser>,
    Path((id, template_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let t = find(&state, &template_id).await?;
    let shape = Shape::of(&t.parameter_format, &t.components);
    let contact = tpl::contact_of(&state.store, &it).await?;
    let prefilled = tpl::prefill(&shape, &t.variable_map, contact.as_ref());
    let values = prefilled
        .iter()
        .filter_map(|p| p.value.clone().map(|v| (p.variable.key.clone(), v)))
        .collect();
    let rendered = tpl::render(&shape, &values);
    let missing: Vec<&str> = prefilled
        .iter()
        .filter(|p| p.value.is_none())
        .map(|p| p.variable.key.as_str())
        .collect();
    let blocked = not_sendable(&t, channel_of(&state.messaging(), &it).as_ref());
    Ok(ok(json!({
        "interaction_id": it.id,
        "template": tpl::view(&t),
        "sendable": blocked.is_none(),
        "not_sendable": blocked.map(|e| json!({"code": e.code, "message": e.message})),
        "header": shape.header,
        "body": shape.body,
        "footer": shape.footer,
        "buttons": shape.buttons,
        "header_media": shape.header.as_ref().and_then(tpl::Header::media_kind),
        "variables": prefilled,
        "missing": missing,
        "rendered": rendered,
        "text": rendered.body,
        "contact": contact,
    })))
}
