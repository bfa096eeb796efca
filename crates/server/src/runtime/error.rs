//! The one HTTP error type: every 4xx/5xx body is `{"error": {"code", "message"}}`.
//!
//! 4xx messages are sentences a user can act on; 5xx messages say little and the cause chain is
//! logged instead.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use switchboard_domain::DomainError;
use switchboard_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields placed beside `code` and `message` (e.g. `limit` and `size`).
    pub details: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in first: send a session cookie or an Authorization: Bearer token",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server cannot store changes right now; try again shortly",
        )
    }
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match &e {
            DomainError::NotFound { .. } => StatusCode::NOT_FOUND,
            DomainError::Forbidden { .. } => StatusCode::FORBIDDEN,
            DomainError::Conflict { .. } => StatusCode::CONFLICT,
            DomainError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => {
                ApiError::conflict("already_exists", format!("{what} already exists"))
            }
            StoreError::NotFound => ApiError::not_found("record"),
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::unavailable()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".into(), Value::String(self.code.to_owned()));
        body.insert("message".into(), Value::String(self.message));
        for (k, v) in self.details {
            body.insert(k, v);
        }
        (self.status, axum::Json(json!({ "error": body }))).into_response()
    }
}

/// Turns axum's own rejections (bad JSON, wrong content type, bad path) into our error shape.
pub fn from_rejection(status: StatusCode, text: String) -> ApiError {
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "bad_request",
    };
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code, text)
}

/// The error for a response that some part of the stack (axum's extractors, a body limit, a
/// websocket handshake) answered with a plain-text or empty body: the same status, a code that
/// names it, and the original text as the message for a 4xx (a 5xx says little, as always).
pub fn from_status(status: StatusCode, text: Option<String>) -> ApiError {
    let code = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid_input",
        426 => "upgrade_required",
        429 => "too_many_requests",
        431 => "headers_too_large",
        503 => "unavailable",
        s if s < 500 => "client_error",
        _ => "internal",
    };
    if status.is_server_error() {
        tracing::error!(%status, text = text.as_deref().unwrap_or(""), "error response without a JSON body");
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            ApiError::unavailable().message
        } else {
            ApiError::internal().message
        };
        return ApiError::new(status, code, message);
    }
    let message = text
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("the request was refused")
                .to_owned()
        });
    ApiError::new(status, code, message)
}
