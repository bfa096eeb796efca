//! The HTTP surface. Each feature module lists its endpoints in one table
//! ([`Endpoint`]: method, path, summary, who may call it, request body type, handler, and its
//! [`Doc`]: query parameters and what it answers with each status); the router, the access checks
//! and the OpenAPI document are all built from those tables, so they cannot disagree. The types
//! of the document are Rust types: request bodies and query parameters are the handlers' own
//! `Deserialize` types, answers are described by [`wire`].

pub use state::AppState;

mod admin;
mod audit;
mod auth;
mod channels;
mod contacts;
mod crm;
mod guard;
mod interactions;
mod me;
mod media;
mod monitor;
mod ops;
mod reports;
mod state;
mod supervision;
mod templates;
mod ui;
mod viewing;
mod webhook;
pub mod wire;
mod ws;

use crate::runtime::error::{from_rejection, ApiError};
pub use crate::services::auth::Access;
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
    pub body: Option<SchemaFn>,
    pub handler: MethodRouter<AppState>,
    /// Its query parameters and answers, for the OpenAPI document.
    pub doc: Doc,
}

/// A function that describes a type in the document.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema function for a request body type.
pub fn body<T: schemars::JsonSchema>() -> Option<SchemaFn> {
    Some(|g: &mut SchemaGenerator| g.subschema_for::<T>())
}

/// What an endpoint answers with one status.
#[derive(Clone, Copy)]
pub enum Reply {
    /// A JSON body of this type.
    Json(u16, SchemaFn),
    /// A body of another content type (`text/plain`, `text/html`, …).
    Text(u16, &'static str),
    /// A file of any content type.
    File(u16),
    /// No body (204, and 101 for a websocket).
    Empty(u16),
}

/// The rest of an endpoint's description: its query parameters (a `Deserialize` type of the
/// handler), what it answers with each success status, and how it takes its body. Errors are
/// always the shape of API.md and need not be listed.
pub struct Doc {
    pub query: Option<SchemaFn>,
    pub replies: Vec<Reply>,
    /// The body may be left out (an empty body means the defaults).
    pub body_optional: bool,
    /// The body may also be `multipart/form-data` of this form.
    pub multipart: Option<SchemaFn>,
}

impl Doc {
    fn with(reply: Reply) -> Doc {
        Doc {
            query: None,
            replies: vec![reply],
            body_optional: false,
            multipart: None,
        }
    }
    /// `200` with a JSON body of type `T`.
    pub fn ok<T: schemars::JsonSchema>() -> Doc {
        Doc::with(Reply::Json(200, |g| g.subschema_for::<T>()))
    }
    /// `201` with a JSON body of type `T`.
    pub fn created<T: schemars::JsonSchema>() -> Doc {
        Doc::with(Reply::Json(201, |g| g.subschema_for::<T>()))
    }
    /// `204` without a body.
    pub fn no_content() -> Doc {
        Doc::with(Reply::Empty(204))
    }
    /// `status` with a body of `content_type`.
    pub fn text(status: u16, content_type: &'static str) -> Doc {
        Doc::with(Reply::Text(status, content_type))
    }
    /// Another answer.
    pub fn and(mut self, reply: Reply) -> Doc {
        self.replies.push(reply);
        self
    }
    /// Also `status` with a JSON body of type `T`.
    pub fn and_json<T: schemars::JsonSchema>(self, status: u16) -> Doc {
        self.and(Reply::Json(status, |g| g.subschema_for::<T>()))
    }
    /// Query parameters: the fields of `T`.
    pub fn query<T: schemars::JsonSchema>(mut self) -> Doc {
        self.query = Some(|g| T::json_schema(g));
        self
    }
    pub fn optional_body(mut self) -> Doc {
        self.body_optional = true;
        self
    }
    pub fn multipart<T: schemars::JsonSchema>(mut self) -> Doc {
        self.multipart = Some(|g| g.subschema_for::<T>());
        self
    }
}

/// Every endpoint of the server.
pub fn endpoints() -> Vec<Endpoint> {
    let mut v = Vec::new();
    v.extend(ops::endpoints());
    v.extend(auth::endpoints());
    v.extend(me::endpoints());
    v.extend(admin::endpoints());
    v.extend(monitor::endpoints());
    v.extend(interactions::endpoints());
    v.extend(supervision::endpoints());
    v.extend(viewing::endpoints());
    v.extend(audit::endpoints());
    v.extend(reports::endpoints());
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
            guard::require,
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
    axum::extract::State(metrics): axum::extract::State<
        std::sync::Arc<crate::runtime::metrics::Metrics>,
    >,
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
    metrics.observe_request(
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
    let mut answer = crate::runtime::error::from_status(status, text).into_response();
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
        if encoded_nul(parts.uri.path()) {
            return Err(ApiError::bad_request(
                "invalid_path",
                "a path may not contain NUL characters (%00)",
            ));
        }
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
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|r| from_rejection(r.status(), r.body_text()))?;
        if has_nul_escape(&bytes) {
            let nul = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .is_some_and(|v| holds_nul(&v));
            if nul {
                return Err(ApiError::invalid(
                    "invalid_body",
                    "the JSON body may not contain NUL characters (\\u0000)",
                ));
            }
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(from_rejection(r.status(), r.body_text())),
        }
    }
}

/// Whether JSON text may hold a NUL character: the only way to write one is the escape `\u0000`.
fn has_nul_escape(text: &[u8]) -> bool {
    text.windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000")
}

/// Whether a string (or a key) anywhere in `v` holds a NUL character, which neither database
/// stores: PostgreSQL refuses it in text and JSON.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Whether the raw (percent-encoded) text of a path or query holds an encoded NUL.
fn encoded_nul(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Query parameters whose rejections use our error shape.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(encoded_nul) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "query parameters may not contain NUL characters (%00)",
            ));
        }
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

/// The `operationId` of an endpoint.
fn operation_id(method: &str, path: &str) -> String {
    format!(
        "{}_{}",
        method.to_ascii_lowercase(),
        path.trim_start_matches('/')
            .replace(['/', '{', '}', '-'], "_")
    )
}

/// The query parameters described by the object schema `schema`, one a property.
fn query_parameters(schema: &Schema) -> Vec<Value> {
    let Schema::Object(o) = schema else {
        return Vec::new();
    };
    let Some(object) = &o.object else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, prop)| {
            let mut prop = serde_json::to_value(prop).unwrap_or(Value::Null);
            // A parameter is present or not; it is never `null`.
            let description = prop.as_object_mut().and_then(|p| {
                p.remove("nullable");
                p.remove("description")
            });
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": object.required.contains(name),
                "schema": prop,
            });
            if let Some(d) = description {
                p["description"] = d;
            }
            p
        })
        .collect()
}

/// An answer's OpenAPI response object.
fn response(reply: &Reply, gen: &mut SchemaGenerator) -> (u16, Value) {
    match *reply {
        Reply::Json(status, f) => {
            let schema = serde_json::to_value(f(gen)).unwrap_or(Value::Null);
            (
                status,
                json!({"description": describe(status),
                       "content": {"application/json": {"schema": schema}}}),
            )
        }
        Reply::Text(status, content_type) => (
            status,
            json!({"description": describe(status),
                   "content": {content_type: {"schema": {"type": "string"}}}}),
        ),
        Reply::File(status) => (
            status,
            json!({"description": describe(status),
                   "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}),
        ),
        Reply::Empty(status) => (status, json!({"description": describe(status)})),
    }
}

fn describe(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols: the websocket is open",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "Success",
    }
}

/// The schema `schema` names, following one `$ref` (or one wrapped in `allOf`).
fn target<'a>(schema: &'a Value, components: &'a Value) -> &'a Value {
    let r = schema["$ref"]
        .as_str()
        .or_else(|| schema["allOf"][0]["$ref"].as_str());
    match r.and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &components[name],
        None => schema,
    }
}

/// OpenAPI links: an answer that is one object with an `id`, of a path `P` or `P/{id}`, feeds
/// the `id` of every operation under `P/{id}` (a created queue's id to `GET /api/v1/queues/{id}`,
/// an interaction's to its `accept`, `messages`, …).
fn add_links(paths: &mut BTreeMap<String, Map<String, Value>>, components: &Value) {
    let ops: Vec<(String, String, String)> = paths
        .iter()
        .flat_map(|(path, methods)| {
            methods.iter().map(move |(m, op)| {
                (
                    path.clone(),
                    m.clone(),
                    op["operationId"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    for (path, methods) in paths.iter_mut() {
        let base = if path.ends_with("/{id}") {
            path.clone()
        } else {
            format!("{path}/{{id}}")
        };
        let targets: Vec<&(String, String, String)> = ops
            .iter()
            .filter(|(p, _, _)| *p == base || p.starts_with(&format!("{base}/")))
            .collect();
        if targets.is_empty() {
            continue;
        }
        for (method, op) in methods.iter_mut() {
            let Some(responses) = op["responses"].as_object_mut() else {
                continue;
            };
            for (status, resp) in responses.iter_mut() {
                if !status.starts_with('2') {
                    continue;
                }
                let schema = &resp["content"]["application/json"]["schema"];
                let has_id = target(schema, components)["properties"]["id"].is_object();
                if !has_id {
                    continue;
                }
                let mut links = Map::new();
                for (tp, tm, tid) in &targets {
                    if tp == path && tm == method {
                        continue;
                    }
                    links.insert(
                        tid.clone(),
                        json!({"operationId": tid, "parameters": {"id": "$response.body#/id"}}),
                    );
                }
                if !links.is_empty() {
                    resp["links"] = Value::Object(links);
                }
            }
        }
    }
}

/// OpenAPI 3.0 ignores the siblings of a `$ref`: schemars' `{"$ref", "nullable": true}` (an
/// `Option` of a described type) becomes `{"allOf": [{"$ref"}], "nullable": true}`.
fn wrap_nullable_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.len() > 1 {
                if let Some(r) = m.remove("$ref") {
                    m.insert("allOf".into(), json!([{ "$ref": r }]));
                }
            }
            m.values_mut().for_each(wrap_nullable_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(wrap_nullable_refs),
        _ => {}
    }
}

/// OpenAPI 3.0 has no boolean schemas: schemars' `true` (any value, e.g. a `serde_json::Value`
/// field) becomes `{}` wherever a schema object is expected (`additionalProperties` may stay a
/// boolean). `schema_map` says `v` is a map of names to schemas (`properties`, `schemas`).
fn object_schemas(v: &mut Value, schema_map: bool) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let expects_schema = schema_map
                    || matches!(
                        k.as_str(),
                        "items" | "schema" | "not" | "allOf" | "anyOf" | "oneOf"
                    );
                if expects_schema && child.is_boolean() {
                    *child = json!({});
                }
                if let Value::Array(a) = child {
                    if matches!(k.as_str(), "allOf" | "anyOf" | "oneOf") {
                        for item in a.iter_mut().filter(|i| i.is_boolean()) {
                            *item = json!({});
                        }
                    }
                }
                object_schemas(child, k == "properties" && !schema_map);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|i| object_schemas(i, false)),
        _ => {}
    }
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
            json!(operation_id(ep.method, ep.path)),
        );
        let mut params: Vec<Value> = ep
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if let Some(f) = ep.doc.query {
            params.extend(query_parameters(&f(&mut gen)));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(f) = ep.body {
            let schema = serde_json::to_value(f(&mut gen)).unwrap_or(Value::Null);
            let mut content = json!({"application/json": {"schema": schema}});
            if let Some(m) = ep.doc.multipart {
                let form = serde_json::to_value(m(&mut gen)).unwrap_or(Value::Null);
                content["multipart/form-data"] = json!({"schema": form});
            }
            op.insert(
                "requestBody".into(),
                json!({"required": !ep.doc.body_optional, "content": content}),
            );
        }
        let mut responses = Map::new();
        for reply in &ep.doc.replies {
            let (status, resp) = response(reply, &mut gen);
            // Two answers of one status (JSON or CSV): one response with both contents.
            match responses.get_mut(&status.to_string()) {
                Some(Value::Object(had)) => {
                    if let (Some(Value::Object(both)), Value::Object(more)) =
                        (had.get_mut("content"), &resp["content"])
                    {
                        both.extend(more.clone());
                    }
                }
                _ => {
                    responses.insert(status.to_string(), resp);
                }
            }
        }
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
        responses.insert(
            "5XX".into(),
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
    let mut schemas = serde_json::to_value(gen.definitions()).unwrap_or(Value::Null);
    wrap_nullable_refs(&mut schemas);
    object_schemas(&mut schemas, true);
    for op in paths.values_mut().flat_map(|m| m.values_mut()) {
        wrap_nullable_refs(op);
        object_schemas(op, false);
    }
    add_links(&mut paths, &schemas);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Switchboard API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::services::auth::COOKIE}
            },
            "responses": {
                "Error": {
                    "description": "An error (API.md, \"Errors\"): 401 not logged in, 403 not allowed, 404 not found, 409 wrong state, 422 invalid input, …",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {"error": {"type": "object", "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                            "description": "Some errors add details beside code and message (e.g. `limit` and `size` of a text over the limit).",
                            "additionalProperties": true}}
                    }}}
                }
            }
        }
    })
}

/// An RFC 3339 time of a query parameter (`name`, for the error), as a timestamp in
/// milliseconds; absent or empty is `None`, anything else 400 `invalid_time`.
pub(crate) fn time_param(
    name: &str,
    v: Option<&str>,
) -> Result<Option<switchboard_domain::Timestamp>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_time",
                format!("{name} must be an RFC 3339 time such as 2026-01-31T08:00:00Z"),
            )
        })?;
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    let ms = i64::try_from(ms)
        .map_err(|_| ApiError::bad_request("invalid_time", format!("{name} is out of range")))?;
    Ok(Some(switchboard_domain::Timestamp(ms)))
}

#[cfg(test)]
mod tests {
    /// The layering rule (ARCHITECTURE.md, "Layers"): `http` stands on `services` and `runtime`
    /// and never names `app`, which only wires the layers together; and no module but `lib.rs`
    /// names `app` at all.
    #[test]
    fn http_imports_no_app_and_nothing_imports_app() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let checked = crate::runtime::tests::check_imports(
            &src.join("http"),
            &["runtime", "services", "http"],
        );
        assert!(checked >= 20, "only {checked} files of src/http were read");
        for layer in ["runtime", "services"] {
            crate::runtime::tests::check_imports(&src.join(layer), &["runtime", "services"]);
        }
    }
}
