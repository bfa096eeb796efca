//! Errors: the Graph API errors the fake Cloud API answers with (shaped like Meta's), and the
//! simulator's own errors for its Rust callers.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::ids;

/// Where WhatsApp's error code reference lives; `href` of status webhook errors.
const ERROR_CODES_HREF: &str = "/documentation/business-messaging/whatsapp/support/error-codes";

/// An error as the Cloud API reports it: an HTTP status and the Graph error object, or the same
/// code and title inside a `failed` status webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphError {
    /// HTTP status of the answer.
    pub http_status: u16,
    /// `error.code`: what a client acts on.
    pub code: i64,
    /// `error.error_subcode`, when Graph gives one.
    pub subcode: Option<i64>,
    /// `error.type` (`OAuthException`, `GraphMethodException`).
    pub error_type: &'static str,
    /// `error.message`, e.g. `(#131047) Re-engagement message`.
    pub message: String,
    /// The short title used in status webhooks (`errors[].title`).
    pub title: String,
    /// `error.error_data.details`: the human explanation.
    pub details: String,
}

impl GraphError {
    fn coded(http_status: u16, code: i64, title: &str, details: impl Into<String>) -> Self {
        Self {
            http_status,
            code,
            subcode: None,
            error_type: "OAuthException",
            message: format!("(#{code}) {title}"),
            title: title.to_owned(),
            details: details.into(),
        }
    }

    /// 190, HTTP 401: missing, malformed or wrong access token.
    pub fn invalid_token() -> Self {
        Self {
            http_status: 401,
            code: 190,
            subcode: None,
            error_type: "OAuthException",
            message: "Invalid OAuth access token - Cannot parse access token".to_owned(),
            title: "Invalid OAuth access token".to_owned(),
            details:
                "The access token is missing, malformed, expired or not valid for this object."
                    .to_owned(),
        }
    }

    /// 100 subcode 33: the object (number, media, account) does not exist or the token may not see it.
    pub fn unknown_object(method: &str, id: &str) -> Self {
        let message = format!(
            "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due \
             to missing permissions, or does not support this operation. Please read the Graph API \
             documentation at https://developers.facebook.com/docs/graph-api"
        );
        Self {
            http_status: 400,
            code: 100,
            subcode: Some(33),
            error_type: "GraphMethodException",
            title: "Unsupported request".to_owned(),
            details: message.clone(),
            message,
        }
    }

    /// 100: an invalid parameter; `details` names it, and is also the message, as Graph does.
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        let details = details.into();
        Self {
            http_status: 400,
            code: 100,
            subcode: None,
            error_type: "OAuthException",
            message: format!("(#100) {details}"),
            title: "Invalid parameter".to_owned(),
            details,
        }
    }

    /// 131008: a required parameter is missing.
    pub fn missing_parameter(details: impl Into<String>) -> Self {
        Self::coded(400, 131008, "Required parameter is missing", details)
    }

    /// 131009: a parameter value is not valid.
    pub fn invalid_value(details: impl Into<String>) -> Self {
        Self::coded(400, 131009, "Parameter value is not valid", details)
    }

    /// 131047: more than 24 hours since the customer last wrote.
    pub fn re_engagement() -> Self {
        Self::coded(
            400,
            131047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last \
             replied to this number.",
        )
    }

    /// 131026: the recipient cannot receive the message.
    pub fn undeliverable() -> Self {
        Self::coded(
            400,
            131026,
            "Message undeliverable",
            "Message Undeliverable.",
        )
    }

    /// 130429: the number's throughput is exhausted.
    pub fn throughput() -> Self {
        Self::coded(
            400,
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
    }

    /// 131056: too many messages to the same recipient in a short time.
    pub fn pair_rate() -> Self {
        Self::coded(
            400,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number \
             to the same phone number in a short period of time.",
        )
    }

    /// 131000, HTTP 500: something went wrong (transient).
    pub fn server_error() -> Self {
        Self::coded(
            500,
            131000,
            "Something went wrong",
            "Message failed to send due to an unknown error. Please try again later.",
        )
    }

    /// 2, HTTP 503: the service is temporarily unavailable (transient).
    pub fn service_unavailable() -> Self {
        Self {
            http_status: 503,
            code: 2,
            subcode: None,
            error_type: "OAuthException",
            message: "Service temporarily unavailable".to_owned(),
            title: "Service temporarily unavailable".to_owned(),
            details: "An unexpected error has occurred. Please retry your request later."
                .to_owned(),
        }
    }

    /// 131057, HTTP 500: the business account is in maintenance mode (transient).
    pub fn maintenance() -> Self {
        Self::coded(
            500,
            131057,
            "Business Account is in maintenance mode",
            "The WhatsApp Business Account is in maintenance mode. Please try again later.",
        )
    }

    /// 132000: the number of template parameters does not match.
    pub fn template_param_count(details: impl Into<String>) -> Self {
        Self::coded(
            400,
            132000,
            "Number of parameters does not match the expected number of params",
            details,
        )
    }

    /// 132001, HTTP 404: no approved template of that name in that language.
    pub fn template_missing(name: &str, language: &str) -> Self {
        Self::coded(
            404,
            132001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {language}"),
        )
    }

    /// 132005: the filled-in template is too long.
    pub fn template_text_too_long(details: impl Into<String>) -> Self {
        Self::coded(400, 132005, "Translated text too long", details)
    }

    /// 132012: a parameter's format does not match the template.
    pub fn template_param_format(details: impl Into<String>) -> Self {
        Self::coded(
            400,
            132012,
            "Parameter format does not match format in the created template",
            details,
        )
    }

    /// 132015: the template is paused for low quality.
    pub fn template_paused(name: &str) -> Self {
        Self::coded(
            400,
            132015,
            "Template is Paused",
            format!("Template {name} is paused due to low quality so it cannot be sent."),
        )
    }

    /// 132016: the template is disabled.
    pub fn template_disabled(name: &str) -> Self {
        Self::coded(
            400,
            132016,
            "Template is disabled",
            format!("Template {name} has been paused too many times due to low quality and is now permanently disabled."),
        )
    }

    /// 131053: the uploaded media cannot be accepted.
    pub fn media_upload(details: impl Into<String>) -> Self {
        Self::coded(400, 131053, "Media upload error", details)
    }

    /// Any other code.
    pub fn custom(http_status: u16, code: i64, title: &str, details: &str) -> Self {
        Self::coded(http_status, code, title, details)
    }

    /// The HTTP answer body: `{"error":{"message","type","code","error_data":{…},"fbtrace_id"}}`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": self.details,
            },
            "fbtrace_id": ids::fbtrace_id(),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        json!({ "error": error })
    }

    /// The object inside a `failed` status's `errors[]`.
    pub fn to_status_error(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": { "details": self.details },
            "href": ERROR_CODES_HREF,
        })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, Json(self.to_json())).into_response();
        if self.http_status == 401 {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token\"",
                ),
            );
        }
        response
    }
}

/// What can go wrong for a Rust caller of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The fake Cloud API could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Switchboard's webhook could not be reached.
    #[error("webhook POST to {url} failed: {source}")]
    Webhook {
        /// The webhook URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// A `wait_for_*` did not see what it waited for in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        timeout: Duration,
    },
    /// The configuration has no such business number.
    #[error("unknown phone number id {0}")]
    UnknownNumber(String),
    /// The business account has no such template.
    #[error("unknown template {0}")]
    UnknownTemplate(String),
    /// The configuration is not usable.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}
