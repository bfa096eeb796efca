//! Message templates of the simulated business account: the model, the defaults, the JSON that
//! `GET /{waba_id}/message_templates` lists, the `message_template_status_update` webhook a review
//! decision sends, and the checks a template send goes through (existence, approval, parameter
//! count, types and names, header media, button parameters, lengths) with WhatsApp's 132xxx
//! errors.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::GraphError;
use crate::ids;

/// Review status of a template. Only `APPROVED` ones can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    /// Can be sent.
    Approved,
    /// In review: sending gives 132001.
    Pending,
    /// Refused in review: sending gives 132001.
    Rejected,
    /// Paused for low quality: sending gives 132015.
    Paused,
    /// Disabled: sending gives 132016.
    Disabled,
}

/// What a template is for; it decides the pricing category of its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    /// Transactional updates.
    Utility,
    /// Promotions.
    Marketing,
    /// One-time passwords.
    Authentication,
}

impl TemplateCategory {
    /// The lowercase name used in `pricing.category` and `conversation.origin.type`.
    pub fn pricing_name(self) -> &'static str {
        match self {
            Self::Utility => "utility",
            Self::Marketing => "marketing",
            Self::Authentication => "authentication",
        }
    }
}

/// How placeholders are written: `{{1}}` or `{{name}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParameterFormat {
    /// `{{1}}`, `{{2}}`, …
    Positional,
    /// `{{first_name}}`, …; a send names each parameter (`parameter_name`).
    Named,
}

/// What a header shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HeaderFormat {
    /// Text, possibly with one placeholder.
    Text,
    /// An image given at send time.
    Image,
    /// A video given at send time.
    Video,
    /// A document given at send time.
    Document,
    /// A location given at send time.
    Location,
}

impl HeaderFormat {
    /// The send-time parameter type a media header expects.
    fn parameter_type(self) -> Option<&'static str> {
        match self {
            Self::Text => None,
            Self::Image => Some("image"),
            Self::Video => Some("video"),
            Self::Document => Some("document"),
            Self::Location => Some("location"),
        }
    }
}

/// A button of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateButton {
    /// A quick reply: tapping it sends a `button` message back (`payload`, `text`).
    QuickReply {
        /// The label.
        text: String,
    },
    /// A link; a `{{1}}` at the end of `url` is filled at send time.
    Url {
        /// The label.
        text: String,
        /// The link.
        url: String,
    },
    /// Calls a number.
    PhoneNumber {
        /// The label.
        text: String,
        /// The number called.
        phone_number: String,
    },
}

/// One component of a template, in the Graph shape (`{"type":"BODY","text":…}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateComponent {
    /// The header.
    Header {
        /// What it shows.
        format: HeaderFormat,
        /// The text of a `TEXT` header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The body, with placeholders.
    Body {
        /// The text.
        text: String,
    },
    /// The footer (no placeholders).
    Footer {
        /// The text.
        text: String,
    },
    /// Up to 10 buttons.
    Buttons {
        /// The buttons, in order; sends address them by index.
        buttons: Vec<TemplateButton>,
    },
}

/// A message template of the business account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Graph id.
    pub id: String,
    /// Name, unique per language.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// Review status.
    pub status: TemplateStatus,
    /// Category.
    pub category: TemplateCategory,
    /// Placeholder style.
    pub parameter_format: ParameterFormat,
    /// Header, body, footer, buttons.
    pub components: Vec<TemplateComponent>,
    /// Why review refused (or paused) it, e.g. `INVALID_FORMAT`; listed as `rejected_reason`
    /// (`NONE` when there is none).
    pub rejected_reason: Option<String>,
}

impl Template {
    /// An approved, positional template with no components yet.
    pub fn new(name: &str, language: &str, category: TemplateCategory) -> Self {
        Self {
            id: ids::stable_numeric_id(&format!("{name}/{language}")),
            name: name.to_owned(),
            language: language.to_owned(),
            status: TemplateStatus::Approved,
            category,
            parameter_format: ParameterFormat::Positional,
            components: Vec::new(),
            rejected_reason: None,
        }
    }

    /// With this review status.
    pub fn with_status(mut self, status: TemplateStatus) -> Self {
        self.status = status;
        self
    }

    /// With this rejection reason.
    pub fn with_rejected_reason(mut self, reason: &str) -> Self {
        self.rejected_reason = Some(reason.to_owned());
        self
    }

    /// With `{{name}}` placeholders.
    pub fn named(mut self) -> Self {
        self.parameter_format = ParameterFormat::Named;
        self
    }

    /// With a text header.
    pub fn header_text(mut self, text: &str) -> Self {
        self.components.push(TemplateComponent::Header {
            format: HeaderFormat::Text,
            text: Some(text.to_owned()),
        });
        self
    }

    /// With a media (or location) header filled at send time.
    pub fn header_media(mut self, format: HeaderFormat) -> Self {
        self.components
            .push(TemplateComponent::Header { format, text: None });
        self
    }

    /// With this body text.
    pub fn body(mut self, text: &str) -> Self {
        self.components.push(TemplateComponent::Body {
            text: text.to_owned(),
        });
        self
    }

    /// With this footer.
    pub fn footer(mut self, text: &str) -> Self {
        self.components.push(TemplateComponent::Footer {
            text: text.to_owned(),
        });
        self
    }

    /// With one more button.
    pub fn button(mut self, button: TemplateButton) -> Self {
        if let Some(TemplateComponent::Buttons { buttons }) = self
            .components
            .iter_mut()
            .find(|c| matches!(c, TemplateComponent::Buttons { .. }))
        {
            buttons.push(button);
        } else {
            self.components.push(TemplateComponent::Buttons {
                buttons: vec![button],
            });
        }
        self
    }

    /// With one more quick-reply button.
    pub fn quick_reply(self, text: &str) -> Self {
        self.button(TemplateButton::QuickReply {
            text: text.to_owned(),
        })
    }

    /// The listing JSON, as `message_templates` returns it.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": self.components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "rejected_reason": self.rejected_reason.as_deref().unwrap_or("NONE"),
            "id": self.id,
        })
    }

    /// The `value` of the `message_template_status_update` webhook announcing its current status
    /// (`event`), with the reason when there is one.
    pub fn status_update_value(&self) -> Value {
        let event = serde_json::to_value(self.status).unwrap_or(Value::Null);
        let id = self
            .id
            .parse::<u64>()
            .map_or_else(|_| json!(self.id), |n| json!(n));
        let mut value = json!({
            "event": event,
            "message_template_id": id,
            "message_template_name": self.name,
            "message_template_language": self.language,
            "reason": self.rejected_reason.as_deref().unwrap_or("NONE"),
        });
        if self.status == TemplateStatus::Paused {
            value["other_info"] = json!({
                "title": "FIRST_PAUSE",
                "description": format!(
                    "Your template {} has been paused for 3 hours due to low quality.",
                    self.name
                ),
            });
        }
        value
    }

    fn header(&self) -> Option<(HeaderFormat, Option<&str>)> {
        self.components.iter().find_map(|c| match c {
            TemplateComponent::Header { format, text } => Some((*format, text.as_deref())),
            _ => None,
        })
    }

    /// The body text, if the template has a body.
    pub fn body_text(&self) -> Option<&str> {
        self.components.iter().find_map(|c| match c {
            TemplateComponent::Body { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The buttons, in order.
    pub fn buttons(&self) -> &[TemplateButton] {
        self.components
            .iter()
            .find_map(|c| match c {
                TemplateComponent::Buttons { buttons } => Some(buttons.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// The templates a new simulator has: Meta's `hello_world`, an approved `order_update` (body
/// `{{1}}`, quick replies), an image-header `shipping_photo`, a named-parameter `account_notice`,
/// an `appointment_reminder` with a text header and a dynamic URL button, and one template in each
/// unsendable status (`spring_sale` PENDING, `flash_offer` REJECTED, `old_newsletter` PAUSED,
/// `legacy_promo` DISABLED).
pub fn default_templates() -> Vec<Template> {
    use TemplateCategory::{Marketing, Utility};
    vec![
        Template::new("hello_world", "en_US", Utility)
            .header_text("Hello World")
            .body(
                "Welcome and congratulations!! This message demonstrates your ability to send a \
                 WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for \
                 taking the time to test with us.",
            )
            .footer("WhatsApp Business Platform sample message"),
        Template::new("order_update", "en_US", Utility)
            .body("Your order {{1}} has been updated. Tap below if you have a question.")
            .quick_reply("Talk to an agent")
            .quick_reply("All good"),
        Template::new("shipping_photo", "en_US", Utility)
            .header_media(HeaderFormat::Image)
            .body("Here is a photo of parcel {{1}}, ready to ship.")
            .footer("Reply to this message with any question"),
        Template::new("account_notice", "en_US", Utility)
            .named()
            .body("Hi {{first_name}}, there is news about your request {{ticket_id}}.")
            .quick_reply("Call me back"),
        Template::new("appointment_reminder", "en_US", Utility)
            .header_text("Appointment {{1}}")
            .body("Hi {{1}}, this is a reminder of your appointment on {{2}} at {{3}}.")
            .quick_reply("Confirm")
            .quick_reply("Change date")
            .button(TemplateButton::Url {
                text: "Manage".to_owned(),
                url: "https://example.com/appointments/{{1}}".to_owned(),
            }),
        Template::new("spring_sale", "en_US", Marketing)
            .with_status(TemplateStatus::Pending)
            .body("Spring sale! {{1}} off everything this week."),
        Template::new("flash_offer", "en_US", Marketing)
            .with_status(TemplateStatus::Rejected)
            .with_rejected_reason("PROMOTIONAL")
            .body("Buy now!!! {{1}}"),
        Template::new("old_newsletter", "en_US", Marketing)
            .with_status(TemplateStatus::Paused)
            .body("Our monthly news: {{1}}"),
        Template::new("legacy_promo", "en_US", Marketing)
            .with_status(TemplateStatus::Disabled)
            .body("Limited offer for {{1}}"),
    ]
}

/// The full `message_template_status_update` webhook for `template` of account `waba_id`.
pub(crate) fn status_update_envelope(waba_id: &str, template: &Template, time: i64) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "time": time,
            "changes": [{
                "field": "message_template_status_update",
                "value": template.status_update_value(),
            }],
        }],
    })
}

/// The placeholders of a text, in order of first appearance, without duplicates.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim().to_owned();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
        rest = &after[end + 2..];
    }
    found
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// Checks the `template` object of a send against the account's templates. `media_known` says
/// whether a media id (of a header given by id) can be used.
pub(crate) fn check_send<'a>(
    templates: &'a [Template],
    template: &Value,
    media_known: &dyn Fn(&str) -> bool,
) -> Result<&'a Template, GraphError> {
    let name = str_field(template, "name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| GraphError::missing_parameter("Parameter template['name'] is required."))?;
    let language = template
        .get("language")
        .and_then(|l| str_field(l, "code"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            GraphError::missing_parameter("Parameter template['language']['code'] is required.")
        })?;
    let found = templates
        .iter()
        .find(|t| t.name == name && t.language == language)
        .ok_or_else(|| GraphError::template_missing(name, language))?;
    match found.status {
        TemplateStatus::Approved => {}
        TemplateStatus::Pending | TemplateStatus::Rejected => {
            return Err(GraphError::template_missing(name, language))
        }
        TemplateStatus::Paused => return Err(GraphError::template_paused(name)),
        TemplateStatus::Disabled => return Err(GraphError::template_disabled(name)),
    }

    let components = match template.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(GraphError::invalid_parameter(
                "Param template['components'] must be an array.",
            ))
        }
    };
    let mut header_params: Vec<Value> = Vec::new();
    let mut body_params: Vec<Value> = Vec::new();
    let mut button_params: Vec<(usize, String, Vec<Value>)> = Vec::new();
    for component in &components {
        let params = match component.get("parameters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(p)) => p.clone(),
            Some(_) => {
                return Err(GraphError::invalid_parameter(
                    "Param template['components'][]['parameters'] must be an array.",
                ))
            }
        };
        let kind = str_field(component, "type")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match kind.as_str() {
            "header" => header_params.extend(params),
            "body" => body_params.extend(params),
            "button" => {
                let sub_type = str_field(component, "sub_type")
                    .map(str::to_ascii_lowercase)
                    .ok_or_else(|| {
                        GraphError::missing_parameter("button: Parameter sub_type is required.")
                    })?;
                let index = match component.get("index") {
                    Some(Value::String(s)) => s.parse::<usize>().ok(),
                    Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
                    _ => None,
                }
                .ok_or_else(|| {
                    GraphError::missing_parameter("button: Parameter index is required.")
                })?;
                button_params.push((index, sub_type, params));
            }
            other => {
                return Err(GraphError::invalid_parameter(format!(
                    "Param template['components'][]['type'] must be one of {{HEADER, BODY, BUTTON}}, got '{other}'."
                )))
            }
        }
    }

    check_header(found, &header_params, media_known)?;
    let rendered = check_body(found, &body_params)?;
    check_buttons(found, &button_params)?;
    if rendered.chars().count() > 1024 {
        return Err(GraphError::template_text_too_long(format!(
            "body: the message with its parameters is {} characters long; the maximum is 1024.",
            rendered.chars().count()
        )));
    }
    Ok(found)
}

/// Longest text header once filled in, in characters.
const HEADER_TEXT_MAX: usize = 60;

fn count_mismatch(part: &str, got: usize, expected: usize) -> GraphError {
    GraphError::template_param_count(format!(
        "{part}: number of localizable_params ({got}) does not match the expected number of params ({expected})"
    ))
}

fn check_text_param(part: &str, param: &Value) -> Result<String, GraphError> {
    match str_field(param, "type") {
        Some("text") => {
            let text = str_field(param, "text").ok_or_else(|| {
                GraphError::missing_parameter(format!("{part}: Parameter text is required."))
            })?;
            if text.is_empty() {
                return Err(GraphError::invalid_value(format!(
                    "{part}: Param text cannot be empty."
                )));
            }
            if text.contains(['\n', '\t']) || text.contains("     ") {
                return Err(GraphError::invalid_parameter(format!(
                    "{part}: Param text cannot have new-line/tab characters or more than 4 consecutive spaces"
                )));
            }
            Ok(text.to_owned())
        }
        Some("currency") => param
            .get("currency")
            .and_then(|c| str_field(c, "fallback_value"))
            .map(str::to_owned)
            .ok_or_else(|| {
                GraphError::missing_parameter(format!(
                    "{part}: Parameter currency['fallback_value'] is required."
                ))
            }),
        Some("date_time") => param
            .get("date_time")
            .and_then(|c| str_field(c, "fallback_value"))
            .map(str::to_owned)
            .ok_or_else(|| {
                GraphError::missing_parameter(format!(
                    "{part}: Parameter date_time['fallback_value'] is required."
                ))
            }),
        Some(other) => Err(GraphError::template_param_format(format!(
            "{part}: parameter of type '{other}' where the template expects text"
        ))),
        None => Err(GraphError::missing_parameter(format!(
            "{part}: Parameter type is required."
        ))),
    }
}

fn check_header(
    template: &Template,
    params: &[Value],
    media_known: &dyn Fn(&str) -> bool,
) -> Result<(), GraphError> {
    let Some((format, text)) = template.header() else {
        if params.is_empty() {
            return Ok(());
        }
        return Err(count_mismatch("header", params.len(), 0));
    };
    let Some(expected_type) = format.parameter_type() else {
        let rendered = check_text_params(
            "header",
            template.parameter_format,
            text.unwrap_or_default(),
            params,
        )?;
        let len = rendered.chars().count();
        if len > HEADER_TEXT_MAX {
            return Err(GraphError::template_text_too_long(format!(
                "header: the header with its parameters is {len} characters long; the maximum is {HEADER_TEXT_MAX}."
            )));
        }
        return Ok(());
    };
    if params.len() != 1 {
        return Err(count_mismatch("header", params.len(), 1));
    }
    for param in params {
        let got = str_field(param, "type").unwrap_or_default();
        if got != expected_type {
            return Err(GraphError::template_param_format(format!(
                "header: format mismatch, expected {}, received {}",
                expected_type.to_ascii_uppercase(),
                got.to_ascii_uppercase()
            )));
        }
        let object = param.get(expected_type).ok_or_else(|| {
            GraphError::missing_parameter(format!("header: Parameter {expected_type} is required."))
        })?;
        if expected_type == "location" {
            if object.get("latitude").is_none() || object.get("longitude").is_none() {
                return Err(GraphError::missing_parameter(
                    "header: location needs latitude and longitude.",
                ));
            }
            continue;
        }
        match (str_field(object, "id"), str_field(object, "link")) {
            (Some(id), None) => {
                if !media_known(id) {
                    return Err(GraphError::invalid_parameter(format!(
                        "header: Param {expected_type}['id'] is not a valid WhatsApp business account media attachment ID."
                    )));
                }
            }
            (None, Some(link)) => {
                if !(link.starts_with("https://") || link.starts_with("http://")) {
                    return Err(GraphError::invalid_parameter(format!(
                        "header: Param {expected_type}['link'] must be a valid http(s) URL."
                    )));
                }
            }
            _ => {
                return Err(GraphError::invalid_parameter(format!(
                    "header: Param {expected_type} must have exactly one of id or link."
                )))
            }
        }
    }
    Ok(())
}

/// Checks the text parameters given for the placeholders of `text` (a header or the body) and
/// returns the text with them filled in. Positional parameters fill `{{1}}`, `{{2}}`, … in
/// order; named ones must each name a placeholder (`parameter_name`), once.
fn check_text_params(
    part: &str,
    format: ParameterFormat,
    text: &str,
    params: &[Value],
) -> Result<String, GraphError> {
    let names = placeholders(text);
    if params.len() != names.len() {
        return Err(count_mismatch(part, params.len(), names.len()));
    }
    let mut rendered = text.to_owned();
    match format {
        ParameterFormat::Positional => {
            for (i, param) in params.iter().enumerate() {
                let value = check_text_param(part, param)?;
                rendered = rendered.replace(&format!("{{{{{}}}}}", i + 1), &value);
            }
        }
        ParameterFormat::Named => {
            let mut seen: Vec<&str> = Vec::new();
            for param in params {
                let value = check_text_param(part, param)?;
                let name = str_field(param, "parameter_name").ok_or_else(|| {
                    GraphError::missing_parameter(format!(
                        "{part}: Parameter parameter_name is required for templates with named parameters."
                    ))
                })?;
                if !names.iter().any(|n| n == name) {
                    return Err(GraphError::template_param_count(format!(
                        "{part}: parameter name '{name}' is not in the template (expected {})",
                        names.join(", ")
                    )));
                }
                if seen.contains(&name) {
                    return Err(GraphError::template_param_count(format!(
                        "{part}: parameter name '{name}' is given more than once"
                    )));
                }
                seen.push(name);
                rendered = rendered.replace(&format!("{{{{{name}}}}}"), &value);
            }
        }
    }
    Ok(rendered)
}

fn check_body(template: &Template, params: &[Value]) -> Result<String, GraphError> {
    check_text_params(
        "body",
        template.parameter_format,
        template.body_text().unwrap_or_default(),
        params,
    )
}

fn check_buttons(
    template: &Template,
    sent: &[(usize, String, Vec<Value>)],
) -> Result<(), GraphError> {
    let buttons = template.buttons();
    for (index, sub_type, params) in sent {
        let button = buttons.get(*index).ok_or_else(|| {
            GraphError::invalid_value(format!(
                "button: index {index} is out of range; the template has {} buttons",
                buttons.len()
            ))
        })?;
        match (sub_type.as_str(), button) {
            ("quick_reply", TemplateButton::QuickReply { .. }) => {
                if params.len() > 1 {
                    return Err(count_mismatch("buttons", params.len(), 1));
                }
                for param in params {
                    if str_field(param, "type") != Some("payload") {
                        return Err(GraphError::template_param_format(
                            "buttons: a quick_reply button takes a parameter of type payload",
                        ));
                    }
                    if str_field(param, "payload").is_none() {
                        return Err(GraphError::missing_parameter(
                            "buttons: Parameter payload is required.",
                        ));
                    }
                }
            }
            ("url", TemplateButton::Url { url, .. }) => {
                let expected = placeholders(url).len();
                if params.len() != expected {
                    return Err(count_mismatch("buttons", params.len(), expected));
                }
                for param in params {
                    check_text_param("buttons", param)?;
                }
            }
            (other, _) => {
                return Err(GraphError::invalid_value(format!(
                    "button: sub_type '{other}' does not match button {index} of the template"
                )))
            }
        }
    }
    // A dynamic URL button must be given its parameter.
    for (index, button) in buttons.iter().enumerate() {
        if let TemplateButton::Url { url, .. } = button {
            let expected = placeholders(url).len();
            if expected > 0 && !sent.iter().any(|(i, _, _)| *i == index) {
                return Err(count_mismatch("buttons", 0, expected));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_order_without_duplicates() {
        assert_eq!(placeholders("a {{1}} b {{2}} c {{1}}"), vec!["1", "2"]);
        assert_eq!(placeholders("Hi {{ name }}!"), vec!["name"]);
        assert!(placeholders("no params {{").is_empty());
    }

    #[test]
    fn listing_json_has_the_graph_shape() {
        let json = default_templates()[1].to_json();
        assert_eq!(json["name"], "order_update");
        assert_eq!(json["status"], "APPROVED");
        assert_eq!(json["category"], "UTILITY");
        assert_eq!(json["parameter_format"], "POSITIONAL");
        assert_eq!(json["components"][0]["type"], "BODY");
        assert_eq!(json["components"][1]["type"], "BUTTONS");
        assert_eq!(json["components"][1]["buttons"][0]["type"], "QUICK_REPLY");
    }

    #[test]
    fn template_sends_are_checked() {
        let templates = default_templates();
        let known = |id: &str| id == "media-1";
        let send = |t: Value| check_send(&templates, &t, &known).map(|t| t.name.clone());
        let ok = json!({"name":"order_update","language":{"code":"en_US"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"A-1"}]}]});
        assert_eq!(send(ok).ok().as_deref(), Some("order_update"));
        let none = json!({"name":"order_update","language":{"code":"en_US"}});
        assert_eq!(send(none).err().map(|e| e.code), Some(132000));
        let lang = json!({"name":"order_update","language":{"code":"de"}});
        assert_eq!(send(lang).err().map(|e| e.code), Some(132001));
        let pending = json!({"name":"spring_sale","language":{"code":"en_US"}});
        assert_eq!(send(pending).err().map(|e| e.code), Some(132001));
        let paused = json!({"name":"old_newsletter","language":{"code":"en_US"}});
        assert_eq!(send(paused).err().map(|e| e.code), Some(132015));
        let disabled = json!({"name":"legacy_promo","language":{"code":"en_US"}});
        assert_eq!(send(disabled).err().map(|e| e.code), Some(132016));
        let image = json!({"name":"shipping_photo","language":{"code":"en_US"},"components":[
            {"type":"header","parameters":[{"type":"document","document":{"id":"1"}}]},
            {"type":"body","parameters":[{"type":"text","text":"P-9"}]}]});
        assert_eq!(send(image).err().map(|e| e.code), Some(132012));
        let named = json!({"name":"account_notice","language":{"code":"en_US"},"components":[
            {"type":"body","parameters":[
                {"type":"text","parameter_name":"first_name","text":"Kerry"},
                {"type":"text","parameter_name":"ticket_id","text":"T-7"}]}]});
        assert!(send(named).is_ok());
        let url_missing = json!({"name":"appointment_reminder","language":{"code":"en_US"},"components":[
            {"type":"header","parameters":[{"type":"text","text":"#4"}]},
            {"type":"body","parameters":[{"type":"text","text":"Kerry"},{"type":"text","text":"May 3"},{"type":"text","text":"10:00"}]}]});
        assert_eq!(send(url_missing).err().map(|e| e.code), Some(132000));
        let long = json!({"name":"order_update","language":{"code":"en_US"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"x".repeat(1100)}]}]});
        assert_eq!(send(long).err().map(|e| e.code), Some(132005));
    }

    #[test]
    fn header_media_must_be_a_known_upload_or_a_link() {
        let templates = default_templates();
        let known = |id: &str| id == "media-1";
        let send = |header: Value| {
            let t = json!({"name":"shipping_photo","language":{"code":"en_US"},"components":[
                {"type":"header","parameters":[header]},
                {"type":"body","parameters":[{"type":"text","text":"P-9"}]}]});
            check_send(&templates, &t, &known)
                .map(|_| ())
                .map_err(|e| e.code)
        };
        assert_eq!(
            send(json!({"type":"image","image":{"id":"media-1"}})),
            Ok(())
        );
        assert_eq!(
            send(json!({"type":"image","image":{"id":"nope"}})),
            Err(100)
        );
        assert_eq!(
            send(json!({"type":"image","image":{"link":"https://example.com/p.png"}})),
            Ok(())
        );
        assert_eq!(send(json!({"type":"image","image":{}})), Err(100));
        // No header parameter at all for an image header.
        let bare = json!({"name":"shipping_photo","language":{"code":"en_US"},"components":[
            {"type":"body","parameters":[{"type":"text","text":"P-9"}]}]});
        assert_eq!(
            check_send(&templates, &bare, &known).err().map(|e| e.code),
            Some(132000)
        );
    }

    #[test]
    fn named_parameters_each_name_a_placeholder_once() {
        let templates = default_templates();
        let known = |_: &str| false;
        let send = |params: Value| {
            let t = json!({"name":"account_notice","language":{"code":"en_US"},"components":[
                {"type":"body","parameters":params}]});
            check_send(&templates, &t, &known)
                .map(|_| ())
                .map_err(|e| e.code)
        };
        let p = |name: &str, text: &str| json!({"type":"text","parameter_name":name,"text":text});
        assert_eq!(
            send(json!([p("first_name", "K"), p("ticket_id", "T")])),
            Ok(())
        );
        assert_eq!(
            send(json!([p("ticket_id", "T"), p("first_name", "K")])),
            Ok(())
        );
        assert_eq!(
            send(json!([p("first_name", "K"), p("first_name", "T")])),
            Err(132000)
        );
        assert_eq!(
            send(json!([p("first_name", "K"), p("order", "T")])),
            Err(132000)
        );
        assert_eq!(
            send(json!([{"type":"text","text":"K"}, {"type":"text","text":"T"}])),
            Err(131008)
        );
    }

    #[test]
    fn text_headers_and_url_buttons_are_checked() {
        let templates = default_templates();
        let known = |_: &str| false;
        let send = |header: &str, button: Option<Value>| {
            let mut components = vec![
                json!({"type":"header","parameters":[{"type":"text","text":header}]}),
                json!({"type":"body","parameters":[{"type":"text","text":"Kerry"},
                    {"type":"text","text":"May 3"},{"type":"text","text":"10:00"}]}),
            ];
            components.extend(button);
            let t = json!({"name":"appointment_reminder","language":{"code":"en_US"},
                "components":components});
            check_send(&templates, &t, &known)
                .map(|_| ())
                .map_err(|e| e.code)
        };
        let url = |index: Value, text: &str| {
            json!({"type":"button","sub_type":"url","index":index,
                "parameters":[{"type":"text","text":text}]})
        };
        assert_eq!(send("#4", Some(url(json!("2"), "a-17"))), Ok(()));
        assert_eq!(send("#4", Some(url(json!(2), "a-17"))), Ok(()));
        assert_eq!(send("#4", None), Err(132000));
        assert_eq!(send("#4", Some(url(json!("0"), "a-17"))), Err(131009));
        assert_eq!(
            send(&"x".repeat(60), Some(url(json!("2"), "a"))),
            Err(132005)
        );
        assert_eq!(send("line\nbreak", Some(url(json!("2"), "a"))), Err(100));
    }

    #[test]
    fn status_updates_have_the_webhook_shape() {
        let t = default_templates()[1]
            .clone()
            .with_status(TemplateStatus::Paused);
        let v = status_update_envelope("waba-1", &t, 1_700_000_000);
        assert_eq!(v["entry"][0]["id"], "waba-1");
        let change = &v["entry"][0]["changes"][0];
        assert_eq!(change["field"], "message_template_status_update");
        assert_eq!(change["value"]["event"], "PAUSED");
        assert_eq!(change["value"]["message_template_name"], "order_update");
        assert_eq!(change["value"]["message_template_language"], "en_US");
        assert!(change["value"]["message_template_id"].is_u64());
        assert_eq!(change["value"]["other_info"]["title"], "FIRST_PAUSE");
        let rejected = default_templates()[6].to_json();
        assert_eq!(rejected["rejected_reason"], "PROMOTIONAL");
    }
}
