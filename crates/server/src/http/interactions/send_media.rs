//! Media an agent sends: files checked against WhatsApp's limits, stored, then queued.

use super::*;

// ------------------------------------------------------------------------------ media

/// Largest multipart body: WhatsApp's largest media plus room for the caption and headers.
pub(super) const UPLOAD_BODY_LIMIT: usize = MEDIA_MAX as usize + 1024 * 1024;
/// Largest JSON body of a text message.
pub(super) const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Largest text part (`caption`, `kind`) of a multipart body.
pub(super) const FIELD_LIMIT: usize = 64 * 1024;
/// Bytes of a file kept in memory to look at its header (animated WebP stickers).
pub(super) const HEAD_BYTES: usize = 64;

/// The `file` part, streamed into the blob store but not finished until everything is checked.
pub(super) struct ReceivedFile {
    /// `None` once the file went over its limit (then only counted, not kept).
    writer: Option<BlobWriter>,
    size: u64,
    mime: String,
    filename: Option<String>,
    head: Vec<u8>,
}

pub(super) fn multipart_error(e: &MultipartError) -> ApiError {
    ApiError::bad_request(
        "invalid_multipart",
        format!("the multipart body cannot be read: {}", e.body_text()),
    )
}

pub(super) fn storage_error(e: &std::io::Error) -> ApiError {
    tracing::error!(error = %e, "media: cannot write to the blob store");
    ApiError::unavailable()
}

/// A text part, refused when longer than [`FIELD_LIMIT`].
pub(super) async fn small_text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if buf.len() + chunk.len() > FIELD_LIMIT {
            return Err(ApiError::invalid(
                "field_too_large",
                format!("the {name} part may have at most {FIELD_LIMIT} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf)
        .map_err(|_| ApiError::invalid("invalid_field", format!("the {name} part is not UTF-8")))
}

/// A file name as given by the browser, without any path, quotes or control characters.
pub(super) fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

/// The limit of a kind for a type: an unsupported type is refused here, naming what is accepted.
pub(super) fn limit_for(kind: MediaKind, mime: &str, head: &[u8]) -> Result<u64, ApiError> {
    let mut limit = media_limit(kind, mime).map_err(|e| limit_error(&e, mime))?;
    if kind == MediaKind::Sticker && !is_animated_webp(head) {
        limit = STICKER_STATIC_MAX;
    }
    Ok(limit)
}

pub(super) fn limit_error(e: &LimitError, mime: &str) -> ApiError {
    match e {
        LimitError::UnsupportedType { kind, accepted, .. } => {
            ApiError::invalid("unsupported_media_type", e.to_string())
                .with("kind", kind.as_str())
                .with("mime_type", mime)
                .with("accepted", accepted.as_str())
        }
        LimitError::TooLarge {
            kind, size, max, ..
        } => ApiError::invalid("media_too_large", e.to_string())
            .with("kind", kind.as_str())
            .with("limit", max.0)
            .with("size", size.0),
        LimitError::Empty => ApiError::invalid("empty_file", "the file is empty"),
    }
}

/// Streams the `file` part into a temporary blob, counting it; stops keeping bytes (but keeps
/// counting, to report the real size) once it is over `cap`.
pub(super) async fn receive_file(
    state: &InteractionsState,
    mut field: Field<'_>,
    cap: u64,
) -> Result<ReceivedFile, ApiError> {
    let mime = field
        .content_type()
        .map(switchboard_channels::media::essence)
        .unwrap_or_default();
    let filename = field.file_name().and_then(clean_filename);
    let mut writer = Some(state.blobs.writer().await.map_err(|e| storage_error(&e))?);
    let mut size = 0u64;
    let mut head = Vec::new();
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            // Over the body limit: certainly over any media limit; report what was counted.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                size = size.max(MEDIA_MAX + 1);
                writer = None;
                break;
            }
            Err(e) => return Err(multipart_error(&e)),
        };
        size += chunk.len() as u64;
        if head.len() < HEAD_BYTES {
            let n = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..n]);
        }
        if size > cap {
            writer = None;
        }
        if let Some(w) = writer.as_mut() {
            w.write(&chunk).await.map_err(|e| storage_error(&e))?;
        }
    }
    Ok(ReceivedFile {
        writer,
        size,
        mime,
        filename,
        head,
    })
}

/// Checks a received file against WhatsApp's limits for its kind (`kind` part, else its type):
/// the blob writer to finish, the kind, and the file's details.
pub(super) fn checked_file(
    mut file: ReceivedFile,
    kind_field: Option<MediaKind>,
) -> Result<(BlobWriter, MediaKind, ReceivedFile), ApiError> {
    let kind = kind_field.unwrap_or_else(|| kind_for(&file.mime));
    let limit = limit_for(kind, &file.mime, &file.head)?;
    if file.size == 0 {
        return Err(ApiError::invalid("empty_file", "the file is empty"));
    }
    if file.size > limit {
        let e = LimitError::TooLarge {
            kind,
            what: match kind {
                MediaKind::Image => "images",
                MediaKind::Video => "videos",
                MediaKind::Audio => "audio",
                MediaKind::Document => "documents",
                MediaKind::Sticker if limit == STICKER_STATIC_MAX => "static stickers",
                MediaKind::Sticker => "animated stickers",
            },
            size: HumanSize(file.size),
            max: HumanSize(limit),
        };
        return Err(limit_error(&e, &file.mime));
    }
    let Some(writer) = file.writer.take() else {
        // Only when a later `kind` part raised the limit the file was first checked against.
        return Err(ApiError::invalid(
            "kind_after_file",
            "send the kind part before the file part",
        ));
    };
    Ok((writer, kind, file))
}

/// Sends a file (multipart `file`, optional `caption` and `kind`): checked against WhatsApp's
/// limits, stored in the blob store, then stored as a message with an outbox row that uploads
/// it and sends it by media id. With a `template` part (JSON, as `{"template": …}` of a JSON
/// send) it sends that template instead, the file being its header. A refused request stores
/// nothing.
pub(super) async fn send_media(
    state: &InteractionsState,
    user: &AuthUser,
    it: &Interaction,
    mut form: Multipart,
) -> Result<MessageRecord, ApiError> {
    let mut file: Option<ReceivedFile> = None;
    let mut caption: Option<String> = None;
    let mut kind_field: Option<MediaKind> = None;
    let mut template: Option<crate::services::messaging::TemplateSend> = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::invalid(
                        "too_many_files",
                        "send one file per message",
                    ));
                }
                let mime = field
                    .content_type()
                    .map(switchboard_channels::media::essence)
                    .unwrap_or_default();
                let kind = kind_field.unwrap_or_else(|| kind_for(&mime));
                // Refuse a type WhatsApp does not take before reading the file.
                let cap = limit_for(kind, &mime, &[])?.max(STICKER_ANIMATED_MAX);
                file = Some(receive_file(state, field, cap).await?);
            }
            "caption" => caption = Some(small_text(field, "caption").await?),
            "template" => {
                let text = small_text(field, "template").await?;
                template = Some(serde_json::from_str(&text).map_err(|e| {
                    ApiError::invalid(
                        "invalid_body",
                        format!("the template part is not a valid template request: {e}"),
                    )
                })?);
            }
            "kind" => {
                let k = small_text(field, "kind").await?;
                kind_field = Some(MediaKind::from_wire(k.trim()).ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_kind",
                        "kind must be image, video, audio, document or sticker",
                    )
                })?);
            }
            other => {
                return Err(ApiError::invalid(
                    "unknown_field",
                    format!(
                        "unexpected part {other:?}: send file, and optionally caption and kind (or template)"
                    ),
                ))
            }
        }
    }
    if let Some(template) = template {
        if caption.as_deref().is_some_and(|c| !c.trim().is_empty()) {
            return Err(ApiError::invalid(
                "caption_not_allowed",
                "a template's header file takes no caption",
            ));
        }
        let header = match file {
            Some(f) => Some(checked_file(f, kind_field)?),
            None => None,
        };
        let header = header.map(|(writer, kind, f)| crate::services::messaging::HeaderFile {
            writer,
            kind,
            mime: f.mime,
            filename: f.filename,
        });
        return crate::services::messaging::send_template(
            &state.messaging(),
            user,
            it,
            template,
            header,
        )
        .await;
    }
    // An outbound start the customer never answered has no window at all.
    require_window(it, state.clock.now())?;
    let Some(file) = file else {
        return Err(ApiError::invalid(
            "missing_file",
            "a multipart message needs a file part",
        ));
    };
    let (writer, kind, file) = checked_file(file, kind_field)?;
    let caption = caption
        .map(|c| crate::runtime::text::clean(&c).into_owned())
        .filter(|c| !c.trim().is_empty());
    if let Some(c) = &caption {
        if !kind.takes_caption() {
            return Err(ApiError::invalid(
                "caption_not_allowed",
                format!("{kind} messages cannot have a caption on WhatsApp"),
            ));
        }
        let chars = c.chars().count();
        if chars > CAPTION_MAX_CHARS {
            return Err(ApiError::invalid(
                "caption_too_long",
                format!("the caption is {chars} characters; WhatsApp allows {CAPTION_MAX_CHARS}"),
            )
            .with("limit", CAPTION_MAX_CHARS)
            .with("size", chars));
        }
    }
    let filename = match kind {
        MediaKind::Document => file.filename.clone().or_else(|| Some("file".to_owned())),
        _ => None,
    };
    // From storing the blob until the message naming it is committed (or the blob deleted after
    // a refusal), nobody else stores or uses the same blob.
    let key = media::lock_key(&writer.sha256());
    let stored = state
        .locks
        .with(key, async {
            let blob = writer.finish().await.map_err(|e| storage_error(&e))?;
            let result =
                store_media_message(state, user, it, kind, caption, filename, &file.mime, &blob)
                    .await;
            if result.is_err() && blob.created {
                state.blobs.remove(&blob.sha256).await;
            }
            result
        })
        .await?;
    Ok(stored)
}

/// Stores the message of an agent's file and, through a connected number, its outbox row.
#[allow(clippy::too_many_arguments)]
pub(super) async fn store_media_message(
    state: &InteractionsState,
    user: &AuthUser,
    it: &Interaction,
    kind: MediaKind,
    caption: Option<String>,
    filename: Option<String>,
    mime: &str,
    blob: &StoredBlob,
) -> Result<MessageRecord, ApiError> {
    let now = state.clock.now();
    let payload = json!({
        "caption": caption,
        "media": media::stored(&blob.sha256, mime, blob.size, filename.as_deref()),
    });
    let m = outbound_record(it, user, kind.as_str(), caption.clone(), payload, now);
    let outbox: Vec<_> = it
        .channel_id
        .as_deref()
        .and_then(|c| state.channels.get(c))
        .map(|ch| {
            let request = OutboundMessage::Media {
                kind,
                // Replaced by WhatsApp's media id once the outbox uploaded the file.
                source: MediaSource::Id(String::new()),
                caption: caption.clone(),
                filename: filename.clone(),
            };
            let upload = media::Upload {
                blob: blob.sha256.clone(),
                mime_type: mime.to_owned(),
                filename: filename.clone(),
            };
            crate::services::whatsapp::outbox::media_row(
                &m.id,
                &ch.id,
                &it.customer.wa_id,
                &request,
                &upload,
                now,
            )
        })
        .into_iter()
        .collect();
    store_outbound(&state.messaging(), user, it, &m, outbox).await?;
    Ok(m)
}
