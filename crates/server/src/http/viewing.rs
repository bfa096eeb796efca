//! Who is viewing: the desk tells the server which interaction a user has open
//! (`PUT …/viewing` when it is selected, `DELETE …/viewing` when it is not), and the
//! interaction's readers get `interaction.viewers` events. What a user has open lasts while a
//! websocket of theirs is open and ends with the last one; nothing of it is stored.

use super::Path;
use super::{no_content, ok, Access, Endpoint};
use crate::runtime::error::ApiError;
use crate::services::auth::AuthUser;
use crate::services::interactions::visible;
use crate::services::viewing::Viewing;
use crate::services::Base;
use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use axum::Extension;
use switchboard_domain::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "PUT",
            path: "/api/v1/interactions/{id}/viewing",
            summary: "Say that you have this interaction open (R-8.10): its readers are told who has it open (`interaction.viewers`). Lasts while a websocket of yours is open (without one nothing is registered); answers who has it open as you may see it.",
            access: Access::Agent,
            body: None,
            handler: put(open),
            doc: super::Doc::ok::<super::wire::Viewers>(),
        },
        Endpoint {
            method: "DELETE",
            path: "/api/v1/interactions/{id}/viewing",
            summary: "Say that you closed this interaction (also when you never opened it).",
            access: Access::Agent,
            body: None,
            handler: axum::routing::delete(close),
            doc: super::Doc::no_content(),
        },
    ]
}

/// `PUT /api/v1/interactions/{id}/viewing`
async fn open(
    State(base): State<Base>,
    State(viewing): State<Viewing>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&base, &user, &id).await?;
    if it.state == InteractionState::Done {
        // Nobody works on it any more: nothing to tell.
        return Ok(ok(viewing.as_seen_by(&user.id, &it.id).await?));
    }
    Ok(ok(viewing.open(&user.id, &it.id).await?))
}

/// `DELETE /api/v1/interactions/{id}/viewing`
async fn close(
    State(viewing): State<Viewing>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    viewing.close(&user.id, &InteractionId(id)).await?;
    Ok(no_content())
}
