//! `POST /{phone_number_id}/messages`: the checks a send goes through, in WhatsApp's order and
//! with its error codes, and what happens once it is accepted.

use serde_json::{json, Value};

use crate::config::{ErrorDelivery, PhoneNumberConfig};
use crate::error::GraphError;
use crate::ids::{self, Direction};
use crate::state::{MarkRead, RecordedSend, SendOutcome, Shared, SimEvent, StatusPlan};
use crate::templates;
use crate::webhook::Pricing;

/// Longest text body, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 4096;
/// Longest media caption, in characters.
pub(crate) const MAX_CAPTION_CHARS: usize = 1024;
const MEDIA_TYPES: [&str; 5] = ["image", "video", "audio", "document", "sticker"];
const TYPES: &str =
    "{text, image, video, audio, document, sticker, location, contacts, interactive, reaction, template}";

/// A send that passed the shape checks.
struct Checked {
    wa_id: String,
    pricing: Pricing,
    is_template: bool,
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The wa id WhatsApp answers for a `to`: its digits (`+`, spaces, dashes, dots and brackets
/// dropped).
fn normalize_recipient(to: &str) -> Result<String, GraphError> {
    let cleaned: String = to
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'))
        .collect();
    if cleaned.len() < 6 || cleaned.len() > 15 || !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return Err(GraphError::invalid_parameter(format!(
            "Param to must be a valid phone number, got '{to}'."
        )));
    }
    Ok(cleaned)
}

fn check_text(body: &Value) -> Result<(), GraphError> {
    let text = body
        .get("text")
        .ok_or_else(|| GraphError::missing_parameter("Parameter text is required."))?;
    let content = str_at(text, "body")
        .ok_or_else(|| GraphError::missing_parameter("Parameter text['body'] is required."))?;
    if content.trim().is_empty() {
        return Err(GraphError::invalid_parameter(
            "Param text['body'] must be a non-empty string.",
        ));
    }
    if chars(content) > MAX_TEXT_CHARS {
        return Err(GraphError::invalid_parameter(format!(
            "Param text['body'] must be at most {MAX_TEXT_CHARS} characters long."
        )));
    }
    if text.get("preview_url").is_some_and(|p| !p.is_boolean()) {
        return Err(GraphError::invalid_parameter(
            "Param text['preview_url'] must be a boolean.",
        ));
    }
    Ok(())
}

fn check_media(shared: &Shared, kind: &str, body: &Value) -> Result<(), GraphError> {
    let media = body
        .get(kind)
        .ok_or_else(|| GraphError::missing_parameter(format!("Parameter {kind} is required.")))?;
    match (str_at(media, "id"), str_at(media, "link")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(GraphError::invalid_parameter(format!(
                "Param {kind} must have exactly one of {kind}['id'] or {kind}['link']."
            )))
        }
        (Some(id), None) => {
            if shared.media_info(id).is_none() {
                return Err(GraphError::invalid_parameter(format!(
                    "Param {kind}['id'] is not a valid WhatsApp business account media attachment ID."
                )));
            }
        }
        (None, Some(link)) => {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return Err(GraphError::invalid_parameter(format!(
                    "Param {kind}['link'] must be a valid http(s) URL."
                )));
            }
        }
    }
    if let Some(caption) = media.get("caption") {
        if !matches!(kind, "image" | "video" | "document") {
            return Err(GraphError::invalid_parameter(format!(
                "Param {kind}['caption'] is not allowed for {kind} messages."
            )));
        }
        let caption = caption.as_str().ok_or_else(|| {
            GraphError::invalid_parameter(format!("Param {kind}['caption'] must be a string."))
        })?;
        if chars(caption) > MAX_CAPTION_CHARS {
            return Err(GraphError::invalid_parameter(format!(
                "Param {kind}['caption'] must be at most {MAX_CAPTION_CHARS} characters long."
            )));
        }
    }
    Ok(())
}

fn check_length(what: &str, text: Option<&str>, min: usize, max: usize) -> Result<(), GraphError> {
    let len = text.map(chars).unwrap_or(0);
    if len < min || len > max {
        return Err(GraphError::invalid_value(format!(
            "{what} length invalid. Min length: {min}, Max length: {max}"
        )));
    }
    Ok(())
}

fn check_interactive(body: &Value) -> Result<(), GraphError> {
    let interactive = body
        .get("interactive")
        .ok_or_else(|| GraphError::missing_parameter("Parameter interactive is required."))?;
    let kind = str_at(interactive, "type").ok_or_else(|| {
        GraphError::missing_parameter("Parameter interactive['type'] is required.")
    })?;
    let action = interactive.get("action").ok_or_else(|| {
        GraphError::missing_parameter("Parameter interactive['action'] is required.")
    })?;
    let body_text = interactive.get("body").and_then(|b| str_at(b, "text"));
    if let Some(footer) = interactive.get("footer") {
        check_length("Footer text", str_at(footer, "text"), 1, 60)?;
    }
    match kind {
        "button" => {
            check_length("Body text", body_text, 1, 1024)?;
            let buttons = action
                .get("buttons")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    GraphError::missing_parameter("Parameter action['buttons'] is required.")
                })?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(GraphError::invalid_value(format!(
                    "Buttons count invalid: {}. Min: 1, Max: 3",
                    buttons.len()
                )));
            }
            let mut seen: Vec<(&str, &str)> = Vec::new();
            for button in buttons {
                let reply = button.get("reply").ok_or_else(|| {
                    GraphError::missing_parameter("Parameter button['reply'] is required.")
                })?;
                let id = str_at(reply, "id");
                let title = str_at(reply, "title");
                check_length("Button id", id, 1, 256)?;
                check_length("Button title", title, 1, 20)?;
                let (id, title) = (id.unwrap_or_default(), title.unwrap_or_default());
                if seen.iter().any(|(i, t)| *i == id || *t == title) {
                    return Err(GraphError::invalid_value(
                        "Button titles and ids must be unique.",
                    ));
                }
                seen.push((id, title));
            }
        }
        "list" => {
            check_length("Body text", body_text, 1, 4096)?;
            check_length("Button text", str_at(action, "button"), 1, 20)?;
            let sections = action
                .get("sections")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    GraphError::missing_parameter("Parameter action['sections'] is required.")
                })?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(GraphError::invalid_value(format!(
                    "Sections count invalid: {}. Min: 1, Max: 10",
                    sections.len()
                )));
            }
            let mut rows_total = 0;
            for section in sections {
                if sections.len() > 1 {
                    check_length("Section title", str_at(section, "title"), 1, 24)?;
                }
                let rows = section
                    .get("rows")
                    .and_then(Value::as_array)
                    .ok_or_else(|| GraphError::missing_parameter("Parameter rows is required."))?;
                for row in rows {
                    check_length("Row id", str_at(row, "id"), 1, 200)?;
                    check_length("Row title", str_at(row, "title"), 1, 24)?;
                    if row.get("description").is_some() {
                        check_length("Row description", str_at(row, "description"), 0, 72)?;
                    }
                }
                rows_total += rows.len();
            }
            if rows_total == 0 || rows_total > 10 {
                return Err(GraphError::invalid_value(format!(
                    "Total row count invalid: {rows_total}. Min: 1, Max: 10"
                )));
            }
        }
        "cta_url"
        | "flow"
        | "product"
        | "product_list"
        | "catalog_message"
        | "location_request_message"
        | "address_message"
        | "call_permission_request" => {}
        other => {
            return Err(GraphError::invalid_parameter(format!(
                "Param interactive['type'] '{other}' is not a valid interactive type."
            )))
        }
    }
    Ok(())
}

fn check_reaction(body: &Value) -> Result<(), GraphError> {
    let reaction = body
        .get("reaction")
        .ok_or_else(|| GraphError::missing_parameter("Parameter reaction is required."))?;
    if str_at(reaction, "message_id").is_none_or(str::is_empty) {
        return Err(GraphError::missing_parameter(
            "Parameter reaction['message_id'] is required.",
        ));
    }
    if !reaction.get("emoji").is_some_and(Value::is_string) {
        return Err(GraphError::missing_parameter(
            "Parameter reaction['emoji'] is required.",
        ));
    }
    Ok(())
}

fn check_location(body: &Value) -> Result<(), GraphError> {
    let location = body
        .get("location")
        .ok_or_else(|| GraphError::missing_parameter("Parameter location is required."))?;
    for key in ["latitude", "longitude"] {
        let ok = match location.get(key) {
            Some(Value::Number(_)) => true,
            Some(Value::String(s)) => s.parse::<f64>().is_ok(),
            _ => false,
        };
        if !ok {
            return Err(GraphError::missing_parameter(format!(
                "Parameter location['{key}'] is required."
            )));
        }
    }
    Ok(())
}

fn check_contacts(body: &Value) -> Result<(), GraphError> {
    let contacts = body
        .get("contacts")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| GraphError::missing_parameter("Parameter contacts is required."))?;
    for contact in contacts {
        if contact
            .get("name")
            .and_then(|n| str_at(n, "formatted_name"))
            .is_none_or(str::is_empty)
        {
            return Err(GraphError::missing_parameter(
                "Parameter contacts[]['name']['formatted_name'] is required.",
            ));
        }
    }
    Ok(())
}

/// The shape checks of a send, WhatsApp's way.
fn check_shape(shared: &Shared, body: &Value) -> Result<Checked, GraphError> {
    if !body.is_object() {
        return Err(GraphError::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    }
    match str_at(body, "messaging_product") {
        Some("whatsapp") => {}
        Some(other) => {
            return Err(GraphError::invalid_parameter(format!(
                "Param messaging_product must be 'whatsapp', got '{other}'."
            )))
        }
        None => {
            return Err(GraphError::invalid_parameter(
                "The parameter messaging_product is required.",
            ))
        }
    }
    if let Some(kind) = body.get("recipient_type") {
        if kind.as_str() != Some("individual") {
            return Err(GraphError::invalid_parameter(
                "Param recipient_type must be 'individual'.",
            ));
        }
    }
    let to = str_at(body, "to")
        .ok_or_else(|| GraphError::invalid_parameter("The parameter to is required."))?;
    let wa_id = normalize_recipient(to)?;
    if let Some(context) = body.get("context") {
        if str_at(context, "message_id").is_none_or(str::is_empty) {
            return Err(GraphError::invalid_parameter(
                "Param context['message_id'] must be a message id.",
            ));
        }
    }
    let kind = match body.get("type") {
        None => "text",
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => {
            return Err(GraphError::invalid_parameter(format!(
                "Param type must be one of {TYPES}."
            )))
        }
    };
    let mut pricing = Pricing::Service;
    match kind {
        "text" => check_text(body)?,
        k if MEDIA_TYPES.contains(&k) => check_media(shared, k, body)?,
        "interactive" => check_interactive(body)?,
        "reaction" => check_reaction(body)?,
        "location" => check_location(body)?,
        "contacts" => check_contacts(body)?,
        "template" => {
            let template = body
                .get("template")
                .ok_or_else(|| GraphError::missing_parameter("Parameter template is required."))?;
            // Copied out first: the media check takes the state's lock too.
            let all = shared.templates();
            let media_known = |id: &str| shared.media_info(id).is_some();
            let category = templates::check_send(&all, template, &media_known)?.category;
            pricing = Pricing::Template(category.pricing_name().to_owned());
        }
        other => {
            return Err(GraphError::invalid_parameter(format!(
                "Param type must be one of {TYPES}, got '{other}'."
            )))
        }
    }
    Ok(Checked {
        wa_id,
        pricing,
        is_template: kind == "template",
    })
}

/// What the handler answers.
pub(crate) type Answer = Result<Value, GraphError>;

/// Handles a mark-as-read request.
pub(crate) fn mark_read(shared: &Shared, number: &PhoneNumberConfig, body: &Value) -> Answer {
    if str_at(body, "messaging_product") != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let message_id = str_at(body, "message_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| GraphError::missing_parameter("Parameter message_id is required."))?;
    shared.record_read(MarkRead {
        phone_number_id: number.phone_number_id.clone(),
        message_id: message_id.to_owned(),
        typing_indicator: body.get("typing_indicator").is_some(),
    });
    shared.emit(SimEvent::MarkedRead {
        phone_number_id: number.phone_number_id.clone(),
        message_id: message_id.to_owned(),
    });
    Ok(json!({ "success": true }))
}

/// Decides a send: shape, faults, undeliverable numbers, the 24-hour window, pacing. On
/// acceptance, records it and returns the answer and the status webhooks to deliver.
pub(crate) fn decide(
    shared: &Shared,
    number: &PhoneNumberConfig,
    token: &str,
    body: &Value,
) -> Result<(Value, StatusPlan), GraphError> {
    let record_refusal = |error: &GraphError| {
        shared.record_send(RecordedSend {
            phone_number_id: number.phone_number_id.clone(),
            token: token.to_owned(),
            body: body.clone(),
            received_at: shared.clock.now_unix(),
            outcome: SendOutcome::Refused {
                http_status: error.http_status,
                code: error.code,
            },
        });
        shared.emit(SimEvent::SendRefused {
            phone_number_id: number.phone_number_id.clone(),
            to: str_at(body, "to").map(str::to_owned),
            http_status: error.http_status,
            code: error.code,
            message: error.message.clone(),
        });
    };
    let outcome = (|| {
        let checked = check_shape(shared, body)?;
        if let Some(error) = shared.faults.take_send_failure() {
            return Err(error);
        }
        let mut failure = None;
        let policy = |error: GraphError| match shared.config.policy_errors {
            ErrorDelivery::Response => Err(error),
            ErrorDelivery::StatusWebhook => Ok(Some(error)),
        };
        if shared.faults.is_undeliverable(&checked.wa_id) {
            failure = policy(GraphError::undeliverable())?;
        } else if shared.config.enforce_window && !checked.is_template {
            let open = shared
                .window_expires_at(&number.phone_number_id, &checked.wa_id)
                .is_some_and(|closes| closes > shared.clock.now_unix());
            if !open {
                failure = policy(GraphError::re_engagement())?;
            }
        }
        shared.admit(&number.phone_number_id, &checked.wa_id)?;
        if failure.is_none() {
            failure = shared.faults.take_async_failure();
        }
        Ok((checked, failure))
    })();
    let (checked, failure) = match outcome {
        Ok(accepted) => accepted,
        Err(error) => {
            record_refusal(&error);
            return Err(error);
        }
    };

    let wamid = ids::wamid(&checked.wa_id, Direction::Outbound);
    let to = str_at(body, "to").unwrap_or_default().to_owned();
    shared.record_send(RecordedSend {
        phone_number_id: number.phone_number_id.clone(),
        token: token.to_owned(),
        body: body.clone(),
        received_at: shared.clock.now_unix(),
        outcome: SendOutcome::Accepted {
            wamid: wamid.clone(),
        },
    });
    shared.emit(SimEvent::SendAccepted {
        phone_number_id: number.phone_number_id.clone(),
        to: to.clone(),
        wamid: wamid.clone(),
        body: body.clone(),
    });
    let mut message = json!({ "id": wamid });
    if checked.is_template {
        message["message_status"] = json!("accepted");
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": checked.wa_id }],
        "messages": [message],
    });
    let plan = StatusPlan {
        number: number.clone(),
        wamid,
        recipient: checked.wa_id,
        pricing: checked.pricing,
        failure,
    };
    Ok((answer, plan))
}
