//! Agents' messages to customers: the checks of, the message row, and its
//! commit as a reply together with its outbox row, which wakes the outbox; and templates sent
//! in an interaction, checked before anything is stored.

use crate::runtime::clock::Clock;
use crate::runtime::core::{Attach, Core};
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use crate::runtime::locks::KeyedLocks;
use crate::services::auth::AuthUser;
use crate::services::interactions::require_window;
use crate::services::templates::{self as tpl, Shape};
use crate::services::whatsapp::media::{self, BlobWriter, Blobs, Upload};
use crate::services::whatsapp::Channels;
use serde::Deserialize;
use serde_json::Map;
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard_channels::send::OutboundMessage;
use switchboard_channels::MediaKind;
use switchboard_domain::*;
use switchboard_store::{ChannelRecord, MessageRecord, Store, TemplateRecord};
use tokio::sync::Notify;

/// The messaging service: the core, the clock, the connected numbers, and what wakes the outbox.
#[derive(Clone)]
pub struct Messaging {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Serializes the storing of a blob with the message naming it.
    pub locks: Arc<KeyedLocks>,
    pub channels: Arc<Channels>,
    pub blobs: Blobs,
    pub outbox_wake: Arc<Notify>,
}

/// Checks an outbound text against and the window of.
pub async fn check_text(state: &Messaging, it: &Interaction, text: &str) -> Result<(), ApiError> {
    check_size(&state.core, text).await?;
    // An outbound start the customer never answered has no window at all.
    require_window(it, state.clock.now())?;
    Ok(())
}

/// Checks a text an agent or supervisor writes against: not empty, at most
/// `max_text_message_size` bytes and WhatsApp's character limit (also for whispers, which a
/// supervisor may want to forward as they are).
pub async fn check_size(core: &Core, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("empty_message", "the message is empty"));
    }
    let limit = core
        .read(|s| s.engine.settings().max_text_message_size)
        .await?;
    let size = text.len();
    if size > limit as usize {
        return Err(ApiError::invalid(
            "text_too_long",
            format!("the message is {size} bytes; the limit is {limit} bytes"),
        )
        .with("limit", limit)
        .with("size", size));
    }
    let chars = text.chars().count();
    if chars > WHATSAPP_TEXT_LIMIT as usize {
        return Err(ApiError::invalid(
            "text_too_long",
            format!("the message is {chars} characters; WhatsApp allows {WHATSAPP_TEXT_LIMIT}"),
        )
        .with("limit", WHATSAPP_TEXT_LIMIT)
        .with("size", chars));
    }
    Ok(())
}

/// a supervisor's whisper on the interaction: a message to its agents only
/// (`kind: "whisper"`, `direction: "internal"`), never in the outbox, never a reply. The
/// supervisor's display name is kept in its payload (`author_name`), so live events name them.
pub fn whisper_record(
    it: &Interaction,
    user: &AuthUser,
    author_name: Option<String>,
    text: String,
    now: Timestamp,
) -> MessageRecord {
    MessageRecord {
        id: new_id("msg", now),
        conversation_id: it.conversation_id.clone(),
        interaction_id: Some(it.id.clone()),
        direction: "internal".into(),
        author_id: Some(user.id.clone()),
        kind: "whisper".into(),
        body: Some(text),
        payload: json!({"author_name": author_name}),
        wa_message_id: None,
        status: "stored".into(),
        error: None,
        created_at: now,
        updated_at: now,
    }
}

/// A new agent message on the interaction, `queued` until the outbox sends it.
pub fn outbound_record(
    it: &Interaction,
    user: &AuthUser,
    kind: &str,
    body: Option<String>,
    payload: Value,
    now: Timestamp,
) -> MessageRecord {
    MessageRecord {
        id: new_id("msg", now),
        conversation_id: it.conversation_id.clone(),
        interaction_id: Some(it.id.clone()),
        direction: "out".into(),
        author_id: Some(user.id.clone()),
        kind: kind.into(),
        body,
        payload,
        wa_message_id: None,
        status: "queued".into(),
        error: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn send_text(
    state: &Messaging,
    user: &AuthUser,
    it: &Interaction,
    text: String,
) -> Result<MessageRecord, ApiError> {
    let text = crate::runtime::text::clean(&text).into_owned();
    check_text(state, it, &text).await?;
    let now = state.clock.now();
    let m = outbound_record(it, user, "text", Some(text), json!({}), now);
    // Through a connected number, the message goes out via the outbox in the same commit.
    let outbox: Vec<_> = it
        .channel_id
        .as_deref()
        .and_then(|c| state.channels.get(c))
        .map(|ch| {
            let request = switchboard_channels::OutboundMessage::Text {
                body: m.body.clone().unwrap_or_default(),
                preview_url: false,
            };
            crate::services::whatsapp::outbox::row(&m.id, &ch.id, &it.customer.wa_id, &request, now)
        })
        .into_iter()
        .collect();
    store_outbound(state, user, it, &m, outbox).await?;
    Ok(m)
}

/// Stores an agent's message (and its outbox row, if the conversation has a connected number)
/// as a reply on the interaction, then wakes the outbox.
pub async fn store_outbound(
    state: &Messaging,
    user: &AuthUser,
    it: &Interaction,
    m: &MessageRecord,
    outbox: Vec<switchboard_store::OutboxRecord>,
) -> Result<(), ApiError> {
    let queued = !outbox.is_empty();
    state
        .core
        .call(
            Command::AgentReply {
                agent: user.id.clone(),
                interaction: it.id.clone(),
            },
            Attach {
                messages: vec![m.clone()],
                outbox,
                ..Attach::default()
            },
        )
        .await?;
    if queued {
        state.outbox_wake.notify_one();
    }
    Ok(())
}

// ------------------------------------------------------------------------- templates

/// The WhatsApp number of an interaction, when it has one.
pub fn channel_of(state: &Messaging, it: &Interaction) -> Option<ChannelRecord> {
    it.channel_id.as_deref().and_then(|c| state.channels.get(c))
}

/// Why `t` cannot be sent in `it`, as the API error a send gets.
pub fn not_sendable(t: &TemplateRecord, channel: Option<&ChannelRecord>) -> Option<ApiError> {
    let same_account = channel
        .and_then(|c| c.waba_id.as_deref())
        .is_some_and(|w| w == t.waba_id);
    if !same_account {
        return Some(ApiError::invalid(
            "template_wrong_channel",
            "this template belongs to another WhatsApp Business Account than this conversation's number",
        ));
    }
    if t.deleted {
        return Some(
            ApiError::invalid(
                "template_not_approved",
                format!(
                    "template {} ({}) no longer exists in WhatsApp",
                    t.name, t.language
                ),
            )
            .with("status", "DELETED"),
        );
    }
    if t.status != "APPROVED" {
        let reason = t
            .rejected_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Some(
            ApiError::invalid(
                "template_not_approved",
                format!(
                    "template {} ({}) is {}{reason}; only approved templates can be sent",
                    t.name,
                    t.language,
                    t.status.to_ascii_lowercase()
                ),
            )
            .with("status", t.status.as_str()),
        );
    }
    None
}

/// The `template` of a send request.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSend {
    /// The template's id (`GET /api/v1/templates`).
    pub id: String,
    /// Variable -> value (`header.1`, `body.1` or `1`, `body.name` or `name`, `button.0`).
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Send the same template in this language instead (another translation of it).
    pub language: Option<String>,
}

/// A header file that passed the media checks, not yet stored.
pub struct HeaderFile {
    pub writer: BlobWriter,
    pub kind: MediaKind,
    pub mime: String,
    pub filename: Option<String>,
}

/// The template a send names, in the language asked for.
pub async fn resolve(state: &Messaging, req: &TemplateSend) -> Result<TemplateRecord, ApiError> {
    let unknown = || ApiError::invalid("unknown_template", "there is no template with this id");
    let t = state
        .store
        .template(req.id.trim())
        .await?
        .ok_or_else(unknown)?;
    match req
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(lang) if lang != t.language => state
            .store
            .template_by_name(&t.waba_id, &t.name, lang)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(
                    "template_language_unavailable",
                    format!("template {} has no {lang} translation", t.name),
                )
            }),
        _ => Ok(t),
    }
}

/// Sends a template in an interaction: checked (approved, this number's account, every variable
/// filled in and within WhatsApp's limits, the header media when it needs one), stored as a
/// message of kind `template` with its rendered header, body, footer and buttons, and queued in
/// the outbox (the header file uploaded first). A refused request stores nothing.
pub async fn send_template(
    state: &Messaging,
    user: &AuthUser,
    it: &Interaction,
    req: TemplateSend,
    file: Option<HeaderFile>,
) -> Result<MessageRecord, ApiError> {
    let t = resolve(state, &req).await?;
    let channel = channel_of(state, it);
    if let Some(e) = not_sendable(&t, channel.as_ref()) {
        return Err(e);
    }
    let Some(channel) = channel else {
        return Err(ApiError::internal());
    };
    let shape = Shape::of(&t.parameter_format, &t.components);
    if shape
        .header
        .as_ref()
        .is_some_and(|h| h.format == "LOCATION")
    {
        return Err(ApiError::invalid(
            "template_not_supported",
            "templates with a location header cannot be sent from Switchboard",
        ));
    }
    let values = tpl::fill(&shape, &req.variables).map_err(|e| e.to_api())?;
    let wants = shape.header.as_ref().and_then(tpl::Header::media_kind);
    match (wants, &file) {
        (Some(kind), None) => {
            return Err(ApiError::invalid(
                "template_header_media_required",
                format!("this template's header is {kind}: send it as multipart with a file part"),
            )
            .with("kind", kind))
        }
        (Some(kind), Some(f)) if f.kind.as_str() != kind => {
            return Err(ApiError::invalid(
                "template_header_media_mismatch",
                format!(
                    "this template's header takes {kind}, not {}",
                    f.kind.as_str()
                ),
            )
            .with("kind", kind))
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "template_header_media_unexpected",
                "this template's header takes no file",
            ))
        }
        _ => {}
    }
    let rendered = tpl::render(&shape, &values);
    let request = OutboundMessage::Template {
        name: t.name.clone(),
        language: t.language.clone(),
        components: tpl::wa_components(&shape, &values),
    };
    let payload = json!({
        "template": {
            "id": t.id,
            "wa_template_id": t.wa_template_id,
            "name": t.name,
            "language": t.language,
            "category": t.category,
        },
        "header": rendered.header,
        "body": rendered.body,
        "footer": rendered.footer,
        "buttons": rendered.buttons,
        "variables": values,
    });
    tracing::info!(interaction = %it.id, template = %t.id, name = %t.name, "sending a template");
    let Some(file) = file else {
        let now = state.clock.now();
        let m = outbound_record(it, user, "template", rendered.body.clone(), payload, now);
        let row = crate::services::whatsapp::outbox::row(
            &m.id,
            &channel.id,
            &it.customer.wa_id,
            &request,
            now,
        );
        store_outbound(state, user, it, &m, vec![row]).await?;
        return Ok(m);
    };
    // The header file: stored as a blob, then named by the message and uploaded by the outbox.
    let key = media::lock_key(&file.writer.sha256());
    let HeaderFile {
        writer,
        mime,
        filename,
        ..
    } = file;
    state
        .locks
        .with(key, async {
            let blob = writer.finish().await.map_err(|e| {
                tracing::error!(error = %e, "templates: cannot write to the blob store");
                ApiError::unavailable()
            })?;
            let now = state.clock.now();
            let mut payload = payload;
            payload["media"] = media::stored(&blob.sha256, &mime, blob.size, filename.as_deref());
            let m = outbound_record(it, user, "template", rendered.body.clone(), payload, now);
            let upload = Upload {
                blob: blob.sha256.clone(),
                mime_type: mime.clone(),
                filename: filename.clone(),
            };
            let row = crate::services::whatsapp::outbox::media_row(
                &m.id,
                &channel.id,
                &it.customer.wa_id,
                &request,
                &upload,
                now,
            );
            let result = store_outbound(state, user, it, &m, vec![row]).await;
            if result.is_err() && blob.created {
                state.blobs.remove(&blob.sha256).await;
            }
            result.map(|()| m)
        })
        .await
}
