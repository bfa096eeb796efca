//! Global settings, break reasons included.

use super::{audited, AdminState};
use crate::http::{body, ok, Access, Endpoint, Json};
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::audit;
use crate::services::auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch};
use axum::Extension;
use serde::Deserialize;
use switchboard_domain::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/settings",
            summary: "Global settings.",
            access: Access::Admin,
            body: None,
            handler: get(get_settings),
            doc: crate::http::Doc::ok::<crate::http::wire::Settings>(),
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/settings",
            summary: "Change global settings.",
            access: Access::Admin,
            body: body::<SettingsPatch>(),
            handler: patch(patch_settings),
            doc: crate::http::Doc::ok::<crate::http::wire::Settings>(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub max_text_message_size: Option<u32>,
    pub transcript_interactions_count: Option<u32>,
    /// `rona` (default) or `on_break`.
    pub after_missed_offer: Option<String>,
    /// `create` (default) or `prompt`.
    pub new_contact_policy: Option<String>,
    pub offer_exclusion_s: Option<u32>,
    pub disconnect_grace_s: Option<u32>,
    pub break_reasons: Option<Vec<String>>,
}

/// `GET /api/v1/settings`
async fn get_settings(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let s = state.core.read(|s| s.engine.settings().clone()).await?;
    Ok(ok(views::settings(&s)))
}

/// `PATCH /api/v1/settings`
async fn patch_settings(
    State(state): State<AdminState>,
    Extension(me): Extension<AuthUser>,
    Json(req): Json<SettingsPatch>,
) -> Result<Response, ApiError> {
    let mut s = state.core.read(|s| s.engine.settings().clone()).await?;
    let before = audit::settings_value(&s);
    if let Some(v) = req.max_text_message_size {
        s.max_text_message_size = v;
    }
    if let Some(v) = req.transcript_interactions_count {
        s.transcript_interactions_count = v;
    }
    if let Some(v) = req.after_missed_offer {
        s.after_missed_offer = match v.as_str() {
            "rona" => AfterMissedOffer::Rona,
            "on_break" => AfterMissedOffer::OnBreak,
            _ => {
                return Err(ApiError::invalid(
                    "invalid_after_missed_offer",
                    "after_missed_offer must be rona or on_break",
                ))
            }
        };
    }
    if let Some(v) = req.new_contact_policy {
        s.new_contact_policy = match v.as_str() {
            "create" => NewContactPolicy::Create,
            "prompt" => NewContactPolicy::Prompt,
            _ => {
                return Err(ApiError::invalid(
                    "invalid_new_contact_policy",
                    "new_contact_policy must be create or prompt",
                ))
            }
        };
    }
    if let Some(v) = req.offer_exclusion_s {
        s.offer_exclusion_s = v;
    }
    if let Some(v) = req.disconnect_grace_s {
        s.disconnect_grace_s = v;
    }
    if let Some(v) = req.break_reasons {
        use crate::runtime::text::{BREAK_REASONS_MAX, BREAK_REASON_MAX_CHARS};
        let bad = v.len() > BREAK_REASONS_MAX
            || v.iter().any(|r| {
                r.chars().count() > BREAK_REASON_MAX_CHARS || r.chars().any(char::is_control)
            });
        if bad {
            return Err(ApiError::invalid(
                "invalid_break_reason",
                format!("at most {BREAK_REASONS_MAX} break reasons, each at most {BREAK_REASON_MAX_CHARS} characters without control characters"),
            ));
        }
        s.break_reasons = v.into_iter().map(|r| r.trim().to_owned()).collect();
    }
    let entry = audit::entry(
        state.clock.now(),
        Some(&me.id),
        audit::SETTINGS_UPDATED,
        ("settings", "global"),
        Some(before),
        Some(audit::settings_value(&s)),
    );
    state
        .core
        .call(Command::UpdateSettings(s), audited(entry))
        .await?;
    let s = state.core.read(|s| s.engine.settings().clone()).await?;
    Ok(ok(views::settings(&s)))
}
