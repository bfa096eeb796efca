//! Media of messages: `GET /api/v1/messages/{id}/media` streams a message's file from
//! the blob store.
//!
//! Visibility is the interaction's: whoever may see `GET /api/v1/interactions/{id}` of
//! the message's interaction may download its media; anyone else gets exactly the 404 of a
//! missing message. Media not downloaded (yet, or for good) answers 404 `media_not_available`.
//! Files are served with `nosniff` and a sandboxing CSP, documents as attachments, so a
//! customer's file can never run as a page of Switchboard.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{Access, Endpoint};
use crate::runtime::error::ApiError;
use crate::services::auth::AuthUser;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Extension;
use serde_json::Value;
use tokio::io::AsyncReadExt;

feature_state! {
    /// The media endpoints' handles.
    MediaState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    blobs: Blobs,
    } => base: Base { core, store, clock }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/messages/{id}/media", summary: "The file of a media message (image, video, audio, document, sticker), with its content type; 404 media_not_available while it is not downloaded.", access: Access::Agent, body: None, handler: get(download), doc: super::Doc::with(super::Reply::File(200)) },
    ]
}

/// Bytes read from the blob per chunk of the answer.
const CHUNK: usize = 64 * 1024;

/// `GET /api/v1/messages/{id}/media`
async fn download(
    State(state): State<MediaState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let hidden = || ApiError::not_found("message");
    let m = state.store.message(&id).await?.ok_or_else(hidden)?;
    let Some(interaction) = &m.interaction_id else {
        return Err(hidden());
    };
    crate::services::interactions::visible(&state.base(), &user, interaction.as_str())
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                hidden()
            } else {
                e
            }
        })?;
    let media = m.payload.get("media").cloned().unwrap_or(Value::Null);
    let field = |k: &str| media.get(k).and_then(Value::as_str).map(str::to_owned);
    let not_available = |message: String| {
        ApiError::new(StatusCode::NOT_FOUND, "media_not_available", message)
            .with("state", media.get("state").cloned().unwrap_or(Value::Null))
    };
    match field("state").as_deref() {
        Some("stored") => {}
        Some("pending") => {
            return Err(not_available(
                "the media of this message is still being downloaded".into(),
            ))
        }
        Some("failed") => {
            let reason = media
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("unknown reason");
            return Err(not_available(format!(
                "the media of this message could not be downloaded: {reason}"
            )));
        }
        _ => return Err(not_available("this message has no media".into())),
    }
    let blob = field("blob").unwrap_or_default();
    let file = match state.blobs.open(&blob).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, message = %m.id, blob = %blob, "media: a stored blob cannot be read");
            return Err(not_available(
                "the file of this message is no longer stored".into(),
            ));
        }
    };
    let len = file.metadata().await.map(|md| md.len()).ok();
    let mime = field("mime_type")
        .filter(|t| HeaderValue::from_str(t).is_ok() && t.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let disposition = content_disposition(m.kind == "document", field("filename").as_deref());

    let stream = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    h.insert(header::CONTENT_TYPE, value(&mime));
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(header::CONTENT_DISPOSITION, value(&disposition));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // Content-addressed: the bytes behind this URL never change, but only its viewers may cache.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    h.insert(header::ETAG, value(&format!("\"{blob}\"")));
    Ok(resp)
}

/// `attachment` with the file name for documents, `inline` (with the name if known) otherwise.
/// The plain `filename` is an ASCII stand-in; `filename*` carries the real name (RFC 6266).
fn content_disposition(attachment: bool, filename: Option<&str>) -> String {
    let kind = if attachment { "attachment" } else { "inline" };
    let Some(name) = filename.map(str::trim).filter(|n| !n.is_empty()) else {
        return kind.to_owned();
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions_quote_names_safely() {
        assert_eq!(content_disposition(false, None), "inline");
        assert_eq!(
            content_disposition(true, Some("Rechnung März.pdf")),
            "attachment; filename=\"Rechnung M_rz.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
        );
        assert_eq!(
            content_disposition(true, Some("a\"b\r\n.txt")),
            "attachment; filename=\"a_b__.txt\"; filename*=UTF-8''a%22b%0D%0A.txt"
        );
    }
}
