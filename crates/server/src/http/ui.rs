//! The agent desktop: a browser UI served by the binary itself. The page and its
//! assets are embedded at build time, so the binary needs nothing else on disk. The page talks to
//! the public REST API and the websocket like any other client.
//!
//! Debug builds only: with `SWITCHBOARD_UI_DIR` set to a directory (e.g. `crates/server/ui`), the
//! page and assets are read from there on each request, so UI changes show without a rebuild.
//! Release builds always serve the embedded copy.

use super::Path;
use super::{Access, Endpoint};
use crate::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const APP_CSS: &str = include_str!("../../ui/app.css");
const CRM_JS: &str = include_str!("../../ui/crm.js");
const CRM_CSS: &str = include_str!("../../ui/crm.css");

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/",
            summary: "The agent desktop (HTML page).",
            access: Access::Public,
            body: None,
            handler: get(index), doc: super::Doc::text(200, "text/html"),
        },
        Endpoint {
            method: "GET",
            path: "/assets/{file}",
            summary: "Static assets of the agent desktop (app.js, app.css, crm.js, crm.css); 404 for anything else.",
            access: Access::Public,
            body: None,
            handler: get(asset), doc: super::Doc::text(200, "text/javascript").and(super::Reply::Text(200, "text/css")),
        },
    ]
}

/// The embedded file named `name`, with its content type.
fn lookup(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.js" => Some((APP_JS, "text/javascript; charset=utf-8")),
        "app.css" => Some((APP_CSS, "text/css; charset=utf-8")),
        "crm.js" => Some((CRM_JS, "text/javascript; charset=utf-8")),
        "crm.css" => Some((CRM_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

/// The file `name` read from `SWITCHBOARD_UI_DIR` (debug builds only), if that is set.
fn from_disk(name: &str) -> Option<String> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let dir = std::env::var_os("SWITCHBOARD_UI_DIR")?;
    std::fs::read_to_string(std::path::Path::new(&dir).join(name)).ok()
}

fn respond(
    name: &str,
    body: &'static str,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let (mut resp, cache) = match from_disk(name) {
        Some(text) => (text.into_response(), "no-cache"),
        None => (body.into_response(), cache),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /`
async fn index() -> Response {
    let mut resp = respond(
        "index.html",
        INDEX_HTML,
        "text/html; charset=utf-8",
        "no-cache",
    );
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; \
             style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// `GET /assets/{file}`
async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, content_type) = lookup(&file).ok_or_else(|| ApiError::not_found("asset"))?;
    // Revalidated on each load (the binary may have been upgraded), cheap to keep for a while.
    Ok(respond(
        &file,
        body,
        content_type,
        "public, max-age=300, must-revalidate",
    ))
}
