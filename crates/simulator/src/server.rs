//! The fake Cloud API's HTTP routes, under `/{version}` (e.g. `/v21.0`) like `graph.facebook.com`,
//! plus the media download host (`/whatsapp_business/attachments/`) that lookups point to.
//! Each handler checks the bearer token first, then behaves as the real endpoint does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::config::PhoneNumberConfig;
use crate::error::GraphError;
use crate::send;
use crate::state::{MediaOrigin, RecordedSend, SendOutcome, Shared, SimEvent};

type Sim = State<Arc<Shared>>;

/// Biggest upload accepted at the HTTP level (documents may be 100 MB).
const MAX_UPLOAD_BYTES: usize = 101 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{version}/{id}/messages", post(send_message))
        .route(
            "/{version}/{id}/media",
            post(upload_media).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/{version}/{id}/message_templates", get(list_templates))
        .route("/{version}/{id}", get(get_object).delete(delete_media))
        .route("/whatsapp_business/attachments/", get(download_media))
        .fallback(unknown_path)
        .with_state(shared)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn check_version(version: &str) -> Result<(), GraphError> {
    let ok = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(GraphError::unknown_object("get", version))
    }
}

/// The number `phone_number_id`, if `token` may use it: a wrong or missing token is 190 (401), an
/// unknown number with a good token is "object does not exist".
fn authorize_number(
    shared: &Shared,
    method: &str,
    phone_number_id: &str,
    token: Option<&str>,
) -> Result<PhoneNumberConfig, GraphError> {
    let token = token.ok_or_else(GraphError::invalid_token)?;
    match shared.config.number(phone_number_id) {
        Some(number) if number.access_token == token => Ok(number.clone()),
        Some(_) => Err(GraphError::invalid_token()),
        None if shared.config.knows_token(token) => {
            Err(GraphError::unknown_object(method, phone_number_id))
        }
        None => Err(GraphError::invalid_token()),
    }
}

/// Any configured token may read account-wide objects (media, templates).
fn authorize_any(shared: &Shared, token: Option<&str>) -> Result<(), GraphError> {
    match token {
        Some(token) if shared.config.knows_token(token) => Ok(()),
        _ => Err(GraphError::invalid_token()),
    }
}

/// A Graph call that any known token may make: the version in its path must be well formed and
/// its bearer token known.
fn authorize_call(shared: &Shared, version: &str, headers: &HeaderMap) -> Result<(), GraphError> {
    check_version(version)?;
    authorize_any(shared, bearer(headers).as_deref())
}

/// A Graph answer: the JSON body, or the error as Graph words it.
fn graph_answer(result: Result<Value, GraphError>) -> Response {
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn apply_latency(shared: &Shared) {
    let latency = shared.faults.get().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// `POST /{version}/{phone_number_id}/messages`
async fn send_message(
    State(shared): Sim,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    apply_latency(&shared).await;
    let token = bearer(&headers);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let refuse = |error: GraphError| {
        shared.record_send(RecordedSend {
            phone_number_id: phone_number_id.clone(),
            token: token.clone().unwrap_or_default(),
            body: parsed.clone().unwrap_or(Value::Null),
            received_at: shared.clock.now_unix(),
            outcome: SendOutcome::Refused {
                http_status: error.http_status,
                code: error.code,
            },
        });
        shared.emit(SimEvent::SendRefused {
            phone_number_id: phone_number_id.clone(),
            to: parsed
                .as_ref()
                .and_then(|b| b.get("to"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            http_status: error.http_status,
            code: error.code,
            message: error.message.clone(),
        });
        error.into_response()
    };
    if let Err(error) = check_version(&version) {
        return refuse(error);
    }
    let number = match authorize_number(&shared, "post", &phone_number_id, token.as_deref()) {
        Ok(number) => number,
        Err(error) => return refuse(error),
    };
    let Some(body) = parsed.clone() else {
        return refuse(GraphError::invalid_parameter(
            "The request body is not valid JSON.",
        ));
    };
    if body.get("status").and_then(Value::as_str) == Some("read") {
        return graph_answer(send::mark_read(&shared, &number, &body));
    }
    let token = token.unwrap_or_default();
    match send::decide(&shared, &number, &token, &body) {
        Ok((answer, plan)) => {
            if shared.faults.get().statuses_before_response {
                shared.deliver_statuses(plan, true).await;
            } else {
                let task_shared = Arc::clone(&shared);
                shared.spawn(async move { task_shared.deliver_statuses(plan, false).await });
            }
            Json(answer).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// WhatsApp's upload limits: (MIME types, maximum bytes, kind).
const MEDIA_LIMITS: &[(&[&str], usize, &str)] = &[
    (&["image/jpeg", "image/png"], 5 * 1024 * 1024, "image"),
    (&["video/mp4", "video/3gpp"], 16 * 1024 * 1024, "video"),
    (
        &[
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
        ],
        16 * 1024 * 1024,
        "audio",
    ),
    (
        &[
            "text/plain",
            "application/pdf",
            "application/vnd.ms-powerpoint",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ],
        100 * 1024 * 1024,
        "document",
    ),
    (&["image/webp"], 500 * 1024, "sticker"),
];

/// Checks type and size against WhatsApp's limits (a static sticker may be 100 KB, an animated one
/// 500 KB).
pub(crate) fn check_media_limits(mime_type: &str, bytes: &[u8]) -> Result<(), GraphError> {
    let Some((_, max, kind)) = MEDIA_LIMITS
        .iter()
        .find(|(types, _, _)| types.contains(&mime_type))
    else {
        let all: Vec<&str> = MEDIA_LIMITS
            .iter()
            .flat_map(|(types, _, _)| types.iter().copied())
            .collect();
        return Err(GraphError::invalid_parameter(format!(
            "Param file must be a file with one of the following types: {}. Received file of type '{mime_type}'.",
            all.join(", ")
        )));
    };
    let max = if *kind == "sticker" && !bytes.windows(4).any(|w| w == b"ANIM") {
        100 * 1024
    } else {
        *max
    };
    if bytes.is_empty() {
        return Err(GraphError::invalid_parameter(
            "Param file must not be empty.",
        ));
    }
    if bytes.len() > max {
        return Err(GraphError::media_upload(format!(
            "File size {} bytes exceeds the {} limit of {} bytes for {mime_type}.",
            bytes.len(),
            kind,
            max
        )));
    }
    Ok(())
}

/// `POST /{version}/{phone_number_id}/media` (multipart: `messaging_product`, `file`, `type`?)
async fn upload_media(
    State(shared): Sim,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    apply_latency(&shared).await;
    let result: Result<Value, GraphError> = async {
        check_version(&version)?;
        let number = authorize_number(
            &shared,
            "post",
            &phone_number_id,
            bearer(&headers).as_deref(),
        )?;
        let mut multipart = multipart.map_err(|_| {
            GraphError::invalid_parameter("The request must be multipart/form-data.")
        })?;
        let mut product = None;
        let mut declared_type = None;
        let mut file: Option<(Option<String>, Option<String>, Bytes)> = None;
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(error) => {
                    let status = error.status();
                    return Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                        GraphError::media_upload(
                            "The file is larger than any WhatsApp media may be.",
                        )
                    } else {
                        GraphError::invalid_parameter(format!("Malformed multipart body: {error}"))
                    });
                }
            };
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "messaging_product" => product = field.text().await.ok(),
                "type" => declared_type = field.text().await.ok(),
                "file" => {
                    let filename = field.file_name().map(str::to_owned);
                    let content_type = field.content_type().map(str::to_owned);
                    let bytes = field.bytes().await.map_err(|e| {
                        GraphError::media_upload(format!("Could not read the file: {e}"))
                    })?;
                    file = Some((filename, content_type, bytes));
                }
                _ => {}
            }
        }
        if product.as_deref() != Some("whatsapp") {
            return Err(GraphError::invalid_parameter(
                "The parameter messaging_product is required.",
            ));
        }
        let (filename, content_type, bytes) =
            file.ok_or_else(|| GraphError::invalid_parameter("The parameter file is required."))?;
        let mime_type = declared_type
            .or(content_type)
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        check_media_limits(&mime_type, &bytes)?;
        let info = shared.store_media(
            &number.phone_number_id,
            &mime_type,
            filename,
            bytes,
            MediaOrigin::Uploaded,
        );
        shared.emit(SimEvent::MediaUploaded {
            id: info.id.clone(),
            mime_type: info.mime_type.clone(),
            file_size: info.file_size,
        });
        Ok(json!({ "id": info.id }))
    }
    .await;
    graph_answer(result)
}

/// `GET /{version}/{id}`: a phone number (its own token only) or a media lookup.
async fn get_object(
    State(shared): Sim,
    Path((version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    apply_latency(&shared).await;
    let result: Result<Value, GraphError> = (|| {
        check_version(&version)?;
        // A phone number id: the number's own fields, for its own token only.
        if shared.config.number(&media_id).is_some() {
            let number = authorize_number(&shared, "get", &media_id, bearer(&headers).as_deref())?;
            return Ok(json!({
                "verified_name": number.verified_name,
                "code_verification_status": "VERIFIED",
                "display_phone_number": format!("+{}", number.display_phone_number),
                "quality_rating": "GREEN",
                "platform_type": "CLOUD_API",
                "throughput": {"level": "STANDARD"},
                "id": number.phone_number_id,
            }));
        }
        authorize_call(&shared, &version, &headers)?;
        let info = shared
            .media_info(&media_id)
            .ok_or_else(|| GraphError::unknown_object("get", &media_id))?;
        Ok(json!({
            "messaging_product": "whatsapp",
            "url": shared.issue_media_url(&media_id),
            "mime_type": info.mime_type,
            "sha256": info.sha256,
            "file_size": info.file_size,
            "id": info.id,
        }))
    })();
    graph_answer(result)
}

/// `DELETE /{version}/{media_id}`
async fn delete_media(
    State(shared): Sim,
    Path((version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    apply_latency(&shared).await;
    let result: Result<Value, GraphError> = (|| {
        authorize_call(&shared, &version, &headers)?;
        if shared.delete_media(&media_id) {
            Ok(json!({ "success": true }))
        } else {
            Err(GraphError::unknown_object("delete", &media_id))
        }
    })();
    graph_answer(result)
}

/// `GET /whatsapp_business/attachments/?mid=…&ext=…&hash=…` — the URL a media lookup returned;
/// needs the bearer token; 404 once expired.
async fn download_media(
    State(shared): Sim,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authorize_any(&shared, bearer(&headers).as_deref()) {
        return error.into_response();
    }
    let found = match (query.get("hash"), query.get("mid")) {
        (Some(hash), Some(mid)) => shared.resolve_media_url(hash, mid),
        _ => None,
    };
    match found {
        Some((info, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, info.mime_type),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"",
                        info.filename.unwrap_or_else(|| info.id.clone())
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "URL signature expired").into_response(),
    }
}

/// `GET /{version}/{waba_id}/message_templates?limit=&after=&before=&status=&name=&language=`
async fn list_templates(
    State(shared): Sim,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    apply_latency(&shared).await;
    let result: Result<Value, GraphError> = (|| {
        authorize_call(&shared, &version, &headers)?;
        if waba_id != shared.config.waba_id {
            return Err(GraphError::unknown_object("get", &waba_id));
        }
        let limit = match query.get("limit") {
            None => shared.config.templates_page_size.max(1),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=1000).contains(l))
                .ok_or_else(|| {
                    GraphError::invalid_parameter(
                        "Param limit must be a number between 1 and 1000.",
                    )
                })?,
        };
        let matching: Vec<Value> = shared
            .templates()
            .iter()
            .filter(|t| {
                query
                    .get("status")
                    .is_none_or(|s| serde_json::to_value(t.status).ok() == Some(json!(s)))
                    && query
                        .get("name")
                        .is_none_or(|n| t.name.contains(n.as_str()))
                    && query.get("language").is_none_or(|l| &t.language == l)
            })
            .map(|t| t.to_json())
            .collect();
        let start = match (query.get("after"), query.get("before")) {
            (Some(after), _) => decode_cursor(after)? + 1,
            (None, Some(before)) => decode_cursor(before)?.saturating_sub(limit),
            (None, None) => 0,
        };
        let start = start.min(matching.len());
        let end = (start + limit).min(matching.len());
        let page: Vec<Value> = matching[start..end].to_vec();
        let mut paging = json!({});
        if !page.is_empty() {
            paging["cursors"] = json!({
                "before": encode_cursor(start),
                "after": encode_cursor(end - 1),
            });
        }
        let page_url = |cursor_key: &str, cursor: String| {
            let mut params: Vec<String> = vec![format!("limit={limit}")];
            for key in ["status", "name", "language"] {
                if let Some(v) = query.get(key) {
                    params.push(format!("{key}={}", encode_query(v)));
                }
            }
            params.push(format!("{cursor_key}={cursor}"));
            format!(
                "{}/{version}/{waba_id}/message_templates?{}",
                shared.base_url,
                params.join("&")
            )
        };
        if end < matching.len() {
            paging["next"] = json!(page_url("after", encode_cursor(end - 1)));
        }
        if start > 0 && !page.is_empty() {
            paging["previous"] = json!(page_url("before", encode_cursor(start)));
        }
        Ok(json!({ "data": page, "paging": paging }))
    })();
    graph_answer(result)
}

fn encode_cursor(index: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    URL_SAFE_NO_PAD.encode(format!("tpl:{index}"))
}

fn decode_cursor(cursor: &str) -> Result<usize, GraphError> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.strip_prefix("tpl:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| GraphError::invalid_parameter("Invalid paging cursor."))
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn unknown_path(uri: axum::http::Uri) -> Response {
    GraphError::unknown_object("get", uri.path()).into_response()
}
