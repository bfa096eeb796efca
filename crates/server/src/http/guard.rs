//! The guard in front of every endpoint: authentication, the endpoint's role, and the
//! same-origin check (CSRF).

use super::AppState;
use crate::runtime::error::ApiError;
use crate::services::auth::{authenticate, Access, WEBSOCKET_PATH};
use crate::services::Base;
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware enforcing an endpoint's [`Access`]: 401 without a valid session, 403 below the
/// required role, and a same-origin check for cookie-authenticated writes and websocket
/// handshakes (CSRF).
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(min) = access.min_role() else {
        return Ok(next.run(req).await);
    };
    // A websocket handshake is a GET, but it opens a stream of the user's data to whatever page
    // started it (cross-site websocket hijacking): check it like a write.
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // `?token=` only opens the websocket (a browser cannot set headers on one): anywhere else a
    // token in the URL would end up in access logs, proxies and browser history, whatever
    // handshake headers the request carries.
    let ws_route = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == WEBSOCKET_PATH);
    let query = if upgrade && ws_route {
        req.uri().query()
    } else {
        None
    };
    let (user, from_cookie) = authenticate(&Base::from_ref(&state), req.headers(), query).await?;
    if from_cookie
        && (upgrade || !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS))
    {
        check_same_origin(req.headers())?;
    }
    if user.role < min {
        return Err(ApiError::forbidden(format!(
            "this needs the {} role",
            min.as_str()
        )));
    }
    req.extensions_mut().insert(user);
    Ok(next.run(req).await)
}

/// A browser sends `Origin` on cross-site writes; it must name this host.
fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    if origin_host == host {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "cross-site request refused: the Origin does not match this server",
        )
        .with("reason", "csrf"))
    }
}
