//! The HTTP surface. Each feature module lists its endpoints in one table
//! ([`Endpoint`]: method, path, summary, who may call it, request body type, handler); the router,
//! the access checks and the OpenAPI document are all built from those tables, so they cannot
//! disagree.

mod admin;
mod auth;
mod channels;
mod contacts;
mod crm;
mod interactions;
mod me;
mod media;
mod ops;
mod templates;
mod ui;
mod webhook;
mod ws;

use crate::app::AppState;
pub use crate::auth::Access;
use crate::error::{from_rejection, ApiError};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// One HTTP endpoint.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// The JSON schema of the request body, if it takes one.
    pub body: Option<fn(&mut SchemaGenerator) -> Schema>,
    pub handler: MethodRouter<AppState>,
}

/// The schema function for a request body type.
pub fn body<T: schemars::JsonSchema>() -> Option<fn(&mut SchemaGenerator) -> Schema> {
    Some(|g: &mut SchemaGenerator| g.subschema_for::<T>())
}

/// Every endpoint of the server.
pub fn endpoints() -> Vec<Endpoint> {
    let mut v = Vec::new();
    v.extend(ops::endpoints());
    v.extend(auth::endpoints());
    v.extend(me::endpoints());
    v.extend(admin::endpoints());
    v.extend(interactions::endpoints());
    v.extend(contacts::endpoints());
    v.extend(media::endpoints());
    v.extend(templates::endpoints());
    v.extend(channels::endpoints());
    v.extend(crm::endpoints());
    v.extend(webhook::endpoints());
    v.extend(ws::endpoints());
    v.extend(ui::endpoints());
    v
}

/// The method and path of every endpoint, with who may call it (for tests and docs).
pub fn endpoint_list() -> Vec<(&'static str, &'static str, Access)> {
    endpoints()
        .into_iter()
        .map(|e| (e.method, e.path, e.access))
        .collect()
}

pub fn router(state: AppState) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for ep in endpoints() {
        let guarded = ep.handler.route_layer(middleware::from_fn_with_state(
            (state.clone(), ep.access),
            crate::auth::require,
        ));
        let merged = match by_path.remove(ep.path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(ep.path, merged);
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(path, mr);
    }
    router
        .fallback(|| async { ApiError::not_found("endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not support that method",
            )
        })
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Records request latency per route.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    state.metrics.observe_request(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// The most of an error body [`json_errors`] reads to keep as the message.
const ERROR_TEXT_MAX: usize = 4 * 1024;

/// Every 4xx/5xx answers the API's error shape (API.md, "Errors"), whoever produced it: errors
/// that are not JSON (axum's own rejections, a body limit, a websocket handshake without
/// `Upgrade`, …) are rewritten with the same status and headers, a code that names the status and
/// the original text as the message. JSON errors, and every success (the UI's HTML and assets,
/// `text/plain` probes, CSV reports), pass untouched.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_MAX)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok());
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut answer = crate::error::from_status(status, text).into_response();
    for (name, value) in &parts.headers {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}

/// Path parameters whose rejections use our error shape (`invalid_path`, e.g. an id that is not
/// UTF-8).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) if r.status().is_client_error() => {
                Err(ApiError::bad_request("invalid_path", r.body_text()))
            }
            Err(r) => {
                tracing::error!(error = %r.body_text(), "path parameters do not fit the route");
                Err(ApiError::internal())
            }
        }
    }
}

/// A JSON body whose rejections use our error shape.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(from_rejection(r.status(), r.body_text())),
        }
    }
}

/// Query parameters whose rejections use our error shape.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(ApiError::bad_request("invalid_query", r.body_text())),
        }
    }
}

/// A JSON response with a status.
pub fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

pub fn created(v: Value) -> Response {
    (axum::http::StatusCode::CREATED, axum::Json(v)).into_response()
}

pub fn no_content() -> Response {
    axum::http::StatusCode::NO_CONTENT.into_response()
}

/// The OpenAPI 3.0 document, generated from the endpoint tables.
pub fn openapi() -> Value {
    let mut gen = schemars::gen::SchemaSettings::openapi3().into_generator();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for ep in endpoints() {
        let mut op = Map::new();
        op.insert("summary".into(), json!(ep.summary));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}_{}",
                ep.method.to_ascii_lowercase(),
                ep.path
                    .trim_start_matches('/')
                    .replace(['/', '{', '}', '-'], "_")
            )),
        );
        let params: Vec<Value> = ep
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(f) = ep.body {
            let schema = serde_json::to_value(f(&mut gen)).unwrap_or(Value::Null);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": "Success (201 on creation, 204 when there is no body)"}),
        );
        if ep.access != Access::Public {
            responses.insert(
                "401".into(),
                json!({"$ref": "#/components/responses/Error"}),
            );
            responses.insert(
                "403".into(),
                json!({"$ref": "#/components/responses/Error"}),
            );
            op.insert("security".into(), json!([{"bearer": []}, {"cookie": []}]));
        }
        responses.insert(
            "4XX".into(),
            json!({"$ref": "#/components/responses/Error"}),
        );
        op.insert("responses".into(), Value::Object(responses));
        op.insert(
            "x-switchboard-access".into(),
            json!(format!("{:?}", ep.access).to_ascii_lowercase()),
        );
        paths
            .entry(ep.path.to_owned())
            .or_default()
            .insert(ep.method.to_ascii_lowercase(), Value::Object(op));
    }
    let schemas = serde_json::to_value(gen.definitions()).unwrap_or(Value::Null);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Switchboard API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE}
            },
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {"error": {"type": "object", "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
                    }}}
                }
            }
        }
    })
}
