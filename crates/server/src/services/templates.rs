//! WhatsApp message templates: what a template looks like and which variables it has, how
//! it is filled in (prefilled from contact fields, checked, rendered for the transcript and turned
//! into the `components` WhatsApp expects), and keeping the stored templates in step with each
//! business account (sync on demand, at start-up, periodically, and on status webhooks).
//!
//! The filling-in is pure (no I/O, no clock): [`Shape::of`], [`prefill`], [`fill`], [`render`] and
//! [`wa_components`] are unit-tested below. The sync never blocks start-up and never fails the
//! server when the Graph API is unreachable: it logs, and tries again at the next interval.
//!
//! Variables are named by key: `header.<name>`, `body.<name>` (a bare `<name>` means the body's)
//! and `button.<index>` (the suffix of a dynamic URL button; buttons are counted from 0, as
//! WhatsApp does). `<name>` is `1`, `2`, … in positional templates and the placeholder's name in
//! named ones.

use crate::runtime::clock::Clock;
use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use switchboard_domain::{Interaction, Timestamp};
use switchboard_store::Store;
use switchboard_store::{TemplateRecord, TemplateStatusChange, TemplateSyncOutcome};

/// The template sync service: keeps each business account's templates in the store.
#[derive(Clone)]
pub struct TemplateSync {
    pub store: Store,
    /// Serializes syncs (one at a time).
    pub locks: Arc<crate::runtime::locks::KeyedLocks>,
    pub clock: Arc<dyn Clock>,
    pub channels: Arc<crate::services::whatsapp::Channels>,
    pub graph: switchboard_channels::GraphClient,
    /// Woken when a status webhook named a template not known yet.
    pub template_sync_wake: Arc<tokio::sync::Notify>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Longest text header WhatsApp accepts once filled in, in characters.
pub const HEADER_TEXT_MAX: usize = 60;
/// Longest body WhatsApp accepts once filled in, in characters.
pub const BODY_TEXT_MAX: usize = 1024;
/// Longest URL button suffix accepted, in characters.
pub const BUTTON_SUFFIX_MAX: usize = 2000;

// ------------------------------------------------------------------------------------- shape

/// The header of a template.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Header {
    /// `TEXT`, `IMAGE`, `VIDEO`, `DOCUMENT` or `LOCATION`.
    pub format: String,
    /// The text of a `TEXT` header, with its placeholders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Header {
    /// The media kind a media header takes at send time (`image`, `video`, `document`).
    pub fn media_kind(&self) -> Option<&'static str> {
        match self.format.as_str() {
            "IMAGE" => Some("image"),
            "VIDEO" => Some("video"),
            "DOCUMENT" => Some("document"),
            _ => None,
        }
    }
}

/// A button of a template.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Button {
    /// Its position (WhatsApp's `index`).
    pub index: usize,
    /// `QUICK_REPLY`, `URL`, `PHONE_NUMBER`, or another type WhatsApp has (`COPY_CODE`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// A variable of a template.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Variable {
    /// `header.<name>`, `body.<name>` or `button.<index>`.
    pub key: String,
    /// `header`, `body` or `button`.
    pub component: &'static str,
    /// `1`, `2`, … (positional) or the placeholder's name (named).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button_index: Option<usize>,
    /// The example value given when the template was created, if any.
    pub example: Option<String>,
    /// The longest value accepted, in characters.
    pub max_length: usize,
}

/// What a template is made of, read from its Graph `components`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    pub named: bool,
    pub header: Option<Header>,
    pub body: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<Button>,
    pub variables: Vec<Variable>,
}

/// The placeholders of a text (`{{1}}`, `{{name}}`), in order of first appearance, once each.
pub fn placeholders(text: &str) -> Vec<String> {
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

/// Placeholders in the order WhatsApp takes their parameters: by number for positional ones,
/// by first appearance for named ones.
fn parameter_order(text: &str, named: bool) -> Vec<String> {
    let mut names = placeholders(text);
    if !named {
        names.sort_by_key(|n| n.parse::<u32>().unwrap_or(u32::MAX));
    }
    names
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A string, or the first string of an array (examples come in either form).
fn first_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| first_string(Some(i))),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The example of a placeholder, from a component's `example` object.
fn example_of(
    component: &Value,
    part: &str,
    named: bool,
    name: &str,
    position: usize,
) -> Option<String> {
    let example = component.get("example")?;
    if named {
        let list = example
            .get(format!("{part}_text_named_params"))
            .and_then(Value::as_array)?;
        return list
            .iter()
            .find(|p| str_of(p, "param_name") == Some(name))
            .and_then(|p| first_string(p.get("example")));
    }
    let list = example.get(format!("{part}_text"))?;
    // `body_text` is `[["a", "b"]]`, `header_text` is `["a"]`.
    let row = match list.as_array()?.first()? {
        Value::Array(row) => row.clone(),
        _ => list.as_array()?.clone(),
    };
    first_string(row.get(position))
}

impl Shape {
    /// Reads a template's Graph components (`HEADER`, `BODY`, `FOOTER`, `BUTTONS`). Anything
    /// unexpected is skipped, never an error: WhatsApp adds component and button types.
    pub fn of(parameter_format: &str, components: &Value) -> Shape {
        let named = parameter_format.eq_ignore_ascii_case("NAMED");
        let mut shape = Shape {
            named,
            header: None,
            body: None,
            footer: None,
            buttons: Vec::new(),
            variables: Vec::new(),
        };
        let items = components.as_array().cloned().unwrap_or_default();
        let mut header_vars = Vec::new();
        let mut body_vars = Vec::new();
        let mut button_vars = Vec::new();
        for c in &items {
            let kind = str_of(c, "type").unwrap_or_default().to_ascii_uppercase();
            match kind.as_str() {
                "HEADER" => {
                    let format = str_of(c, "format").unwrap_or("TEXT").to_ascii_uppercase();
                    let text = str_of(c, "text").map(str::to_owned);
                    if format == "TEXT" {
                        let t = text.clone().unwrap_or_default();
                        for (i, name) in parameter_order(&t, named).into_iter().enumerate() {
                            header_vars.push(Variable {
                                key: format!("header.{name}"),
                                component: "header",
                                example: example_of(c, "header", named, &name, i),
                                name,
                                button_index: None,
                                max_length: HEADER_TEXT_MAX,
                            });
                        }
                    }
                    shape.header = Some(Header { format, text });
                }
                "BODY" => {
                    let t = str_of(c, "text").unwrap_or_default().to_owned();
                    for (i, name) in parameter_order(&t, named).into_iter().enumerate() {
                        body_vars.push(Variable {
                            key: format!("body.{name}"),
                            component: "body",
                            example: example_of(c, "body", named, &name, i),
                            name,
                            button_index: None,
                            max_length: BODY_TEXT_MAX,
                        });
                    }
                    shape.body = Some(t);
                }
                "FOOTER" => shape.footer = str_of(c, "text").map(str::to_owned),
                "BUTTONS" => {
                    let buttons = c.get("buttons").and_then(Value::as_array);
                    for (index, b) in buttons.into_iter().flatten().enumerate() {
                        let kind = str_of(b, "type").unwrap_or_default().to_ascii_uppercase();
                        let url = str_of(b, "url").map(str::to_owned);
                        if kind == "URL" {
                            if let Some(name) = url
                                .as_deref()
                                .map(placeholders)
                                .and_then(|p| p.into_iter().next())
                            {
                                button_vars.push(Variable {
                                    key: format!("button.{index}"),
                                    component: "button",
                                    name,
                                    button_index: Some(index),
                                    example: first_string(b.get("example")),
                                    max_length: BUTTON_SUFFIX_MAX,
                                });
                            }
                        }
                        shape.buttons.push(Button {
                            index,
                            kind,
                            text: str_of(b, "text").unwrap_or_default().to_owned(),
                            url,
                            phone_number: str_of(b, "phone_number").map(str::to_owned),
                        });
                    }
                }
                _ => {}
            }
        }
        shape.variables = header_vars
            .into_iter()
            .chain(body_vars)
            .chain(button_vars)
            .collect();
        shape
    }

    /// The variable a key names: `header.x`, `body.x`, `button.i`, or a bare body name.
    pub fn variable(&self, key: &str) -> Option<&Variable> {
        let key = key.trim();
        self.variables.iter().find(|v| v.key == key).or_else(|| {
            (!key.contains('.'))
                .then(|| {
                    self.variables
                        .iter()
                        .find(|v| v.component == "body" && v.name == key)
                })
                .flatten()
        })
    }
}

// --------------------------------------------------------------------------- contact fields

/// Whether `path` names a contact field a variable can be prefilled from: `contact.name`,
/// `contact.first_name`, `contact.last_name`, `contact.email`, `contact.phone` or
/// `contact.fields.<key>`.
pub fn is_contact_path(path: &str) -> bool {
    match path.strip_prefix("contact.") {
        Some("name" | "first_name" | "last_name" | "email" | "phone") => true,
        Some(rest) => rest
            .strip_prefix("fields.")
            .is_some_and(|k| !k.trim().is_empty() && k.len() <= 200),
        None => false,
    }
}

/// The value of a contact field (`{id, name, first_name, last_name, email, phones:[{number}],
/// fields:{…}}`) as text, if it has one.
pub fn contact_field(contact: &Value, path: &str) -> Option<String> {
    let rest = path.strip_prefix("contact.")?;
    let v = match rest {
        "phone" => contact.get("phones")?.get(0)?.get("number")?,
        _ => match rest.strip_prefix("fields.") {
            Some(key) => contact.get("fields")?.get(key)?,
            None => contact.get(rest)?,
        },
    };
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Checks an admin's variable map (`{variable: contact field}`) against a template and returns it
/// with canonical keys. A `null` or empty value removes the mapping.
pub fn check_variable_map(shape: &Shape, map: &Value) -> Result<BTreeMap<String, String>, String> {
    let Some(entries) = map.as_object() else {
        return Err("variable_map must be an object of template variable to contact field".into());
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let variable = shape.variable(key).ok_or_else(|| {
            format!(
                "{key:?} is not a variable of this template (it has: {})",
                keys_of(shape)
            )
        })?;
        match value {
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) if is_contact_path(s.trim()) => {
                out.insert(variable.key.clone(), s.trim().to_owned());
            }
            _ => {
                return Err(format!(
                    "{key:?} must map to contact.name, contact.first_name, contact.last_name, \
                     contact.email, contact.phone or contact.fields.<key>"
                ))
            }
        }
    }
    Ok(out)
}

fn keys_of(shape: &Shape) -> String {
    if shape.variables.is_empty() {
        return "none".into();
    }
    shape
        .variables
        .iter()
        .map(|v| v.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One variable with the value it is prefilled with.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Prefilled {
    #[serde(flatten)]
    pub variable: Variable,
    /// The contact field it is mapped to, if any.
    pub source: Option<String>,
    /// The mapped field's value, when the contact has one.
    pub value: Option<String>,
}

/// Each variable of `shape` with the value of its mapped contact field (`variable_map` keys
/// may be canonical or bare body names).
pub fn prefill(shape: &Shape, variable_map: &Value, contact: Option<&Value>) -> Vec<Prefilled> {
    let map: Vec<(String, String)> = variable_map
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let key = shape.variable(k)?.key.clone();
                    Some((key, v.as_str()?.trim().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    shape
        .variables
        .iter()
        .map(|v| {
            let source = map
                .iter()
                .find(|(k, _)| *k == v.key)
                .map(|(_, p)| p.clone());
            let value = match (&source, contact) {
                (Some(path), Some(c)) => contact_field(c, path),
                _ => None,
            };
            Prefilled {
                variable: v.clone(),
                source,
                value,
            }
        })
        .collect()
}

// --------------------------------------------------------------------------- filling in

/// Why the variables given for a send cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillError {
    /// Not a variable of the template.
    Unknown(String),
    /// Neither a string nor a number.
    NotText(String),
    /// These variables have no (non-blank) value.
    Missing(Vec<String>),
    /// A value is longer than its variable takes.
    TooLong { key: String, len: usize, max: usize },
    /// A value WhatsApp refuses (new lines, tabs, more than four spaces in a row).
    Invalid { key: String, reason: &'static str },
    /// The header or body, filled in, is longer than WhatsApp takes.
    TextTooLong {
        part: &'static str,
        len: usize,
        max: usize,
    },
}

impl FillError {
    /// The API error: 422 with a code naming the problem.
    pub fn to_api(&self) -> ApiError {
        match self {
            FillError::Unknown(k) => ApiError::invalid(
                "unknown_template_variable",
                format!("{k:?} is not a variable of this template"),
            )
            .with("variable", k.as_str()),
            FillError::NotText(k) => ApiError::invalid(
                "invalid_template_variable",
                format!("the value of {k:?} must be text"),
            )
            .with("variable", k.as_str()),
            FillError::Missing(keys) => ApiError::invalid(
                "template_variable_missing",
                format!(
                    "fill in every variable of the template; missing: {}",
                    keys.join(", ")
                ),
            )
            .with("variables", keys.clone()),
            FillError::TooLong { key, len, max } => ApiError::invalid(
                "template_variable_too_long",
                format!("{key} is {len} characters long; it may have at most {max}"),
            )
            .with("variable", key.as_str())
            .with("limit", *max)
            .with("size", *len),
            FillError::Invalid { key, reason } => {
                ApiError::invalid("invalid_template_variable", format!("{key} {reason}"))
                    .with("variable", key.as_str())
            }
            FillError::TextTooLong { part, len, max } => ApiError::invalid(
                "template_variable_too_long",
                format!(
                    "the {part} with its variables is {len} characters long; WhatsApp allows {max}"
                ),
            )
            .with("part", *part)
            .with("limit", *max)
            .with("size", *len),
        }
    }
}

/// Checks the values given for a send (`{key: text}`) and returns them by canonical key. Every
/// variable needs a value; header and body values may not hold new lines, tabs or more than four
/// spaces in a row (WhatsApp refuses them); the header and body, filled in, must fit WhatsApp's
/// limits.
pub fn fill(
    shape: &Shape,
    given: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, FillError> {
    let mut values = BTreeMap::new();
    for (key, value) in given {
        let variable = shape
            .variable(key)
            .ok_or_else(|| FillError::Unknown(key.clone()))?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(FillError::NotText(key.clone())),
        };
        values.insert(variable.key.clone(), text);
    }
    let missing: Vec<String> = shape
        .variables
        .iter()
        .filter(|v| values.get(&v.key).is_none_or(|t| t.trim().is_empty()))
        .map(|v| v.key.clone())
        .collect();
    if !missing.is_empty() {
        return Err(FillError::Missing(missing));
    }
    for v in &shape.variables {
        let text = &values[&v.key];
        let len = text.chars().count();
        if len > v.max_length {
            return Err(FillError::TooLong {
                key: v.key.clone(),
                len,
                max: v.max_length,
            });
        }
        if v.component != "button" && (text.contains(['\n', '\r', '\t']) || text.contains("     "))
        {
            return Err(FillError::Invalid {
                key: v.key.clone(),
                reason: "may not contain new lines, tabs or more than four spaces in a row",
            });
        }
        if v.component == "button" && text.chars().any(char::is_whitespace) {
            return Err(FillError::Invalid {
                key: v.key.clone(),
                reason: "is the end of a link and may not contain spaces",
            });
        }
    }
    let rendered = render(shape, &values);
    if let Some(t) = rendered.header.as_ref().and_then(|h| h.text.as_deref()) {
        let len = t.chars().count();
        if len > HEADER_TEXT_MAX {
            return Err(FillError::TextTooLong {
                part: "header",
                len,
                max: HEADER_TEXT_MAX,
            });
        }
    }
    if let Some(body) = &rendered.body {
        let len = body.chars().count();
        if len > BODY_TEXT_MAX {
            return Err(FillError::TextTooLong {
                part: "body",
                len,
                max: BODY_TEXT_MAX,
            });
        }
    }
    Ok(values)
}

/// A template filled in: what the customer sees (placeholders without a value stay as they are).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Rendered {
    pub header: Option<Header>,
    pub body: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<Button>,
}

fn substitute(text: &str, component: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for name in placeholders(text) {
        if let Some(v) = values.get(&format!("{component}.{name}")) {
            out = out.replace(&format!("{{{{{name}}}}}", name = name), v);
            // Also `{{ name }}` with spaces, as WhatsApp tolerates them.
            out = out.replace(&format!("{{{{ {name} }}}}"), v);
        }
    }
    out
}

/// Fills `values` (by canonical key) into the header, body and URL buttons.
pub fn render(shape: &Shape, values: &BTreeMap<String, String>) -> Rendered {
    Rendered {
        header: shape.header.as_ref().map(|h| Header {
            format: h.format.clone(),
            text: h.text.as_deref().map(|t| substitute(t, "header", values)),
        }),
        body: shape.body.as_deref().map(|b| substitute(b, "body", values)),
        footer: shape.footer.clone(),
        buttons: shape
            .buttons
            .iter()
            .map(|b| {
                let mut b = b.clone();
                if let (Some(url), Some(v)) = (&b.url, values.get(&format!("button.{}", b.index))) {
                    let mut filled = url.clone();
                    for name in placeholders(url) {
                        filled = filled.replace(&format!("{{{{{name}}}}}"), v);
                    }
                    b.url = Some(filled);
                }
                b
            })
            .collect(),
    }
}

fn text_parameter(shape: &Shape, name: &str, text: &str) -> Value {
    if shape.named {
        json!({"type": "text", "parameter_name": name, "text": text})
    } else {
        json!({"type": "text", "text": text})
    }
}

/// The `components` of a send, as WhatsApp expects them: header parameters (text, or the media
/// by id — left empty here, the outbox fills in the id of the upload), body parameters in
/// WhatsApp's order (with `parameter_name` for named templates), and the suffix of each dynamic
/// URL button. `values` must come from [`fill`].
pub fn wa_components(shape: &Shape, values: &BTreeMap<String, String>) -> Value {
    let mut components = Vec::new();
    let params_of = |component: &str| -> Vec<Value> {
        shape
            .variables
            .iter()
            .filter(|v| v.component == component)
            .filter_map(|v| {
                values
                    .get(&v.key)
                    .map(|t| text_parameter(shape, &v.name, t))
            })
            .collect()
    };
    if let Some(h) = &shape.header {
        match h.media_kind() {
            Some(kind) => components.push(json!({
                "type": "header",
                "parameters": [{"type": kind, kind: {"id": ""}}],
            })),
            None => {
                let params = params_of("header");
                if !params.is_empty() {
                    components.push(json!({"type": "header", "parameters": params}));
                }
            }
        }
    }
    let body = params_of("body");
    if !body.is_empty() {
        components.push(json!({"type": "body", "parameters": body}));
    }
    for v in shape.variables.iter().filter(|v| v.component == "button") {
        if let (Some(index), Some(text)) = (v.button_index, values.get(&v.key)) {
            components.push(json!({
                "type": "button",
                "sub_type": "url",
                "index": index.to_string(),
                "parameters": [{"type": "text", "text": text}],
            }));
        }
    }
    Value::Array(components)
}

/// Puts WhatsApp's media id into the media header parameter of a send's `components`.
pub fn with_header_media_id(mut components: Value, media_id: &str) -> Value {
    for c in components.as_array_mut().into_iter().flatten() {
        if str_of(c, "type") != Some("header") {
            continue;
        }
        for p in c
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let kind = str_of(p, "type").unwrap_or_default().to_owned();
            if matches!(kind.as_str(), "image" | "video" | "document") {
                p[kind] = json!({"id": media_id});
            }
        }
    }
    components
}

// --------------------------------------------------------------------------- views

/// Whether a template can be sent: approved by WhatsApp and still listed.
pub fn is_sendable(t: &TemplateRecord) -> bool {
    t.status == "APPROVED" && !t.deleted
}

/// The JSON of a template: its stored fields, what it is made of, and its variables.
pub fn view(t: &TemplateRecord) -> Value {
    let shape = Shape::of(&t.parameter_format, &t.components);
    json!({
        "id": t.id,
        "channel_id": t.channel_id,
        "waba_id": t.waba_id,
        "wa_template_id": t.wa_template_id,
        "name": t.name,
        "language": t.language,
        "category": t.category,
        "status": t.status,
        "rejected_reason": t.rejected_reason,
        "deleted": t.deleted,
        "sendable": is_sendable(t),
        "parameter_format": t.parameter_format,
        "components": t.components,
        "header": shape.header,
        "body": shape.body,
        "footer": shape.footer,
        "buttons": shape.buttons,
        "variables": shape.variables,
        "variable_map": t.variable_map,
        "synced_at": crate::runtime::views::ts(t.synced_at),
        "created_at": crate::runtime::views::ts(t.created_at),
        "updated_at": crate::runtime::views::ts(t.updated_at),
    })
}

/// The contact whose fields prefill a template's variables: the interaction's linked
/// contact (following merges) as the API shows it; without one, a contact built from the
/// WhatsApp customer (the profile name as `name` and `first_name`, the number as the phone).
pub async fn contact_of(
    store: &Store,
    interaction: &Interaction,
) -> Result<Option<Value>, ApiError> {
    if let Some(id) = &interaction.contact_id {
        if let Some(c) = crate::services::contacts::live_contact(store, id).await? {
            return Ok(Some(crate::services::contacts::contact_json(&c, &[])));
        }
    }
    let c = &interaction.customer;
    if c.wa_id.trim().is_empty() && c.name.is_none() {
        return Ok(None);
    }
    let number = crate::services::contacts::customer_number(&c.wa_id);
    let (first, last) = c
        .name
        .as_deref()
        .map(crate::services::contacts::split_name)
        .unwrap_or((None, None));
    Ok(Some(json!({
        "id": null,
        "name": c.name,
        "first_name": first,
        "last_name": last,
        "email": null,
        "phones": [{"number": number}],
        "fields": {},
    })))
}

// --------------------------------------------------------------------------- sync

/// A Graph template (`message_templates` data item) as a record for `waba_id`, synced through
/// `channel_id`; `None` when it has no name or language.
pub fn from_graph(
    item: &Value,
    waba_id: &str,
    channel_id: &str,
    now: Timestamp,
) -> Option<TemplateRecord> {
    let text = |k: &str| match item.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let name = text("name")?;
    let language = text("language")?;
    let components = match item.get("components") {
        Some(Value::Array(c)) => Value::Array(c.clone()),
        _ => Value::Array(Vec::new()),
    };
    Some(TemplateRecord {
        id: new_id("tpl", now),
        channel_id: channel_id.to_owned(),
        waba_id: waba_id.to_owned(),
        wa_template_id: text("id"),
        name,
        language,
        category: text("category").unwrap_or_default().to_ascii_uppercase(),
        status: text("status")
            .unwrap_or_else(|| "PENDING".into())
            .to_ascii_uppercase(),
        parameter_format: text("parameter_format")
            .unwrap_or_else(|| "POSITIONAL".into())
            .to_ascii_uppercase(),
        components,
        variable_map: json!({}),
        rejected_reason: text("rejected_reason").filter(|r| r != "NONE"),
        deleted: false,
        synced_at: now,
        created_at: now,
        updated_at: now,
    })
}

/// What a sync did for one business account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountSync {
    pub channel_id: String,
    pub waba_id: String,
    pub ok: bool,
    /// Templates WhatsApp listed.
    pub listed: usize,
    #[serde(flatten)]
    pub outcome: TemplateSyncOutcome,
    /// Why it failed.
    pub error: Option<Value>,
}

/// Syncs the templates of every channel with a business account (each account once), or of
/// `only` that channel. One sync runs at a time.
pub async fn sync(state: &TemplateSync, only: Option<&str>) -> Vec<AccountSync> {
    let mut seen = HashSet::new();
    let channels: Vec<_> = state
        .channels
        .all()
        .into_iter()
        .filter(|c| only.is_none_or(|id| c.id == id))
        .filter_map(|c| {
            let waba = c.waba_id.clone().filter(|w| !w.is_empty())?;
            seen.insert(waba.clone()).then_some((c, waba))
        })
        .collect();
    let work = async {
        let mut out = Vec::new();
        for (channel, waba_id) in channels {
            let listed = state
                .graph
                .list_templates(&waba_id, &channel.access_token)
                .await;
            let mut report = AccountSync {
                channel_id: channel.id.clone(),
                waba_id: waba_id.clone(),
                ok: false,
                listed: 0,
                outcome: TemplateSyncOutcome::default(),
                error: None,
            };
            match listed {
                Ok(items) => {
                    let now = state.clock.now();
                    let records: Vec<TemplateRecord> = items
                        .iter()
                        .filter_map(|i| {
                            let r = from_graph(i, &waba_id, &channel.id, now);
                            if r.is_none() {
                                tracing::warn!(waba_id = %waba_id, "templates: a listed template has no name or language; skipped");
                            }
                            r
                        })
                        .collect();
                    report.listed = records.len();
                    match state.store.sync_templates(&waba_id, &records, now).await {
                        Ok(outcome) => {
                            tracing::info!(channel = %channel.id, waba_id = %waba_id, listed = records.len(),
                                added = outcome.added, updated = outcome.updated, deleted = outcome.deleted,
                                "templates synced");
                            report.ok = true;
                            report.outcome = outcome;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, waba_id = %waba_id, "templates: cannot store a sync");
                            report.error = Some(
                                json!({"code": "storage", "title": "the templates could not be stored"}),
                            );
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(channel = %channel.id, waba_id = %waba_id, error = %e.describe(), "templates: sync failed");
                    report.error = Some(json!({
                        "code": e.code,
                        "title": e.title.clone().unwrap_or_else(|| e.message.clone()),
                        "message": e.describe(),
                        "http_status": e.http_status,
                    }));
                }
            }
            out.push(report);
        }
        out
    };
    state
        .locks
        .with(crate::runtime::locks::LockKey::TemplateSync, work)
        .await
}

/// The sync service: once at start-up, then every `whatsapp.template_sync_interval_s` (0: only
/// at start-up and when woken), and whenever a status webhook names a template not known yet.
pub async fn run(state: TemplateSync, interval_s: u32) {
    let interval_ms = i64::from(interval_s) * 1000;
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = sync(&state, None) => {}
        }
        let next = (interval_ms > 0).then(|| Timestamp(state.clock.now().0 + interval_ms));
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = state.template_sync_wake.notified() => {}
            _ = async {
                match next {
                    Some(at) => state.clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
    tracing::info!("template sync stopped");
}

/// A `message_template_status_update` webhook value of account `waba_id` as a status change:
/// `{event, message_template_id, message_template_name, message_template_language, reason,
/// other_info?}`. `None` when it names no status.
pub fn status_change(waba_id: &str, value: &Value) -> Option<TemplateStatusChange> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let status = text(value.get("event"))?.to_ascii_uppercase();
    let mut reason = text(value.get("reason")).filter(|r| r != "NONE");
    if reason.is_none() {
        // Pauses explain themselves in `other_info`.
        let info = value.get("other_info");
        reason = text(info.and_then(|i| i.get("description")))
            .or_else(|| text(info.and_then(|i| i.get("title"))));
    }
    Some(TemplateStatusChange {
        waba_id: waba_id.to_owned(),
        wa_template_id: text(value.get("message_template_id")),
        name: text(value.get("message_template_name")),
        language: text(value.get("message_template_language")),
        status,
        reason,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn appointment() -> Shape {
        Shape::of(
            "POSITIONAL",
            &json!([
                {"type": "HEADER", "format": "TEXT", "text": "Appointment {{1}}",
                 "example": {"header_text": ["#4"]}},
                {"type": "BODY", "text": "Hi {{1}}, see you on {{2}} at {{3}}.",
                 "example": {"body_text": [["Kerry", "May 3", "10:00"]]}},
                {"type": "FOOTER", "text": "Reply STOP to opt out"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Confirm"},
                    {"type": "URL", "text": "Manage", "url": "https://example.com/a/{{1}}"},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550100"}]}
            ]),
        )
    }

    fn named() -> Shape {
        Shape::of(
            "NAMED",
            &json!([{"type": "BODY", "text": "Hi {{first_name}}, about {{ticket_id}}: {{first_name}}.",
                "example": {"body_text_named_params": [
                    {"param_name": "first_name", "example": "Kerry"},
                    {"param_name": "ticket_id", "example": "T-7"}]}}]),
        )
    }

    fn values(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    #[test]
    fn shape_lists_variables_per_component_with_examples() {
        let s = appointment();
        let keys: Vec<&str> = s.variables.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["header.1", "body.1", "body.2", "body.3", "button.1"]);
        assert_eq!(s.variables[0].example.as_deref(), Some("#4"));
        assert_eq!(s.variables[2].example.as_deref(), Some("May 3"));
        assert_eq!(s.buttons.len(), 3);
        assert_eq!(s.buttons[2].phone_number.as_deref(), Some("+15550100"));
        assert_eq!(s.footer.as_deref(), Some("Reply STOP to opt out"));
        let n = named();
        let keys: Vec<&str> = n.variables.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["body.first_name", "body.ticket_id"]);
        assert_eq!(n.variables[1].example.as_deref(), Some("T-7"));
        assert_eq!(
            n.variable("ticket_id").map(|v| v.key.as_str()),
            Some("body.ticket_id")
        );
        assert!(n.variable("header.ticket_id").is_none());
    }

    #[test]
    fn positional_parameters_go_in_number_order() {
        let s = Shape::of(
            "POSITIONAL",
            &json!([{"type": "BODY", "text": "{{2}} then {{1}}"}]),
        );
        let v = fill(&s, &values(&[("1", "one"), ("2", "two")])).unwrap();
        assert_eq!(render(&s, &v).body.as_deref(), Some("two then one"));
        assert_eq!(
            wa_components(&s, &v),
            json!([{"type": "body", "parameters": [
                {"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}])
        );
    }

    #[test]
    fn prefill_takes_mapped_contact_fields() {
        let s = appointment();
        let contact = json!({"id": "c1", "name": "Kerry King", "first_name": "Kerry",
            "email": "k@example.com", "phones": [{"number": "+4917012345"}],
            "fields": {"city": "Berlin", "tier": 3}});
        let map = json!({"body.1": "contact.first_name", "2": "contact.fields.city",
            "body.3": "contact.fields.missing", "button.1": "contact.fields.tier"});
        let p = prefill(&s, &map, Some(&contact));
        let by_key = |k: &str| p.iter().find(|x| x.variable.key == k).unwrap();
        assert_eq!(by_key("body.1").value.as_deref(), Some("Kerry"));
        assert_eq!(by_key("body.2").value.as_deref(), Some("Berlin"));
        assert_eq!(
            by_key("body.2").source.as_deref(),
            Some("contact.fields.city")
        );
        assert_eq!(by_key("body.3").value, None);
        assert_eq!(
            by_key("body.3").source.as_deref(),
            Some("contact.fields.missing")
        );
        assert_eq!(by_key("button.1").value.as_deref(), Some("3"));
        assert_eq!(by_key("header.1").source, None);
        // Without a contact nothing is prefilled, but the mapping is still shown.
        let p = prefill(&s, &map, None);
        assert!(p.iter().all(|x| x.value.is_none()));
        assert_eq!(
            contact_field(&contact, "contact.phone").as_deref(),
            Some("+4917012345")
        );
        assert_eq!(
            contact_field(&contact, "contact.email").as_deref(),
            Some("k@example.com")
        );
        assert_eq!(contact_field(&contact, "contact.last_name"), None);
    }

    #[test]
    fn variable_maps_are_checked() {
        let s = appointment();
        let ok = check_variable_map(
            &s,
            &json!({"1": "contact.first_name", "header.1": null,
            "button.1": "contact.fields.booking"}),
        )
        .unwrap();
        assert_eq!(
            ok.get("body.1").map(String::as_str),
            Some("contact.first_name")
        );
        assert_eq!(ok.len(), 2);
        assert!(check_variable_map(&s, &json!({"body.9": "contact.name"})).is_err());
        assert!(check_variable_map(&s, &json!({"body.1": "contact.shoe_size"})).is_err());
        assert!(check_variable_map(&s, &json!({"body.1": 3})).is_err());
        assert!(check_variable_map(&s, &json!(["body.1"])).is_err());
        assert!(is_contact_path("contact.fields.x"));
        assert!(!is_contact_path("contact.fields."));
    }

    #[test]
    fn fill_refuses_missing_unknown_long_and_invalid_values() {
        let s = appointment();
        let all = [
            ("header.1", "#4"),
            ("1", "Kerry"),
            ("body.2", "May 3"),
            ("body.3", "10:00"),
            ("button.1", "a-17"),
        ];
        let v = fill(&s, &values(&all)).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(
            fill(&s, &values(&all[..3])),
            Err(FillError::Missing(vec!["body.3".into(), "button.1".into()]))
        );
        let mut blank = values(&all);
        blank.insert("body.3".into(), json!("  "));
        assert_eq!(
            fill(&s, &blank),
            Err(FillError::Missing(vec!["body.3".into()]))
        );
        let mut extra = values(&all);
        extra.insert("body.7".into(), json!("x"));
        assert_eq!(fill(&s, &extra), Err(FillError::Unknown("body.7".into())));
        let mut obj = values(&all);
        obj.insert("body.1".into(), json!({"a": 1}));
        assert_eq!(fill(&s, &obj), Err(FillError::NotText("body.1".into())));
        let mut long_header = values(&all);
        long_header.insert("header.1".into(), json!("x".repeat(61)));
        assert!(matches!(
            fill(&s, &long_header),
            Err(FillError::TooLong { max: 60, .. })
        ));
        let mut header_total = values(&all);
        header_total.insert("header.1".into(), json!("x".repeat(55)));
        assert!(matches!(
            fill(&s, &header_total),
            Err(FillError::TextTooLong { part: "header", .. })
        ));
        let mut body_total = values(&all);
        body_total.insert("body.1".into(), json!("y".repeat(1000)));
        assert!(matches!(
            fill(&s, &body_total),
            Err(FillError::TextTooLong {
                part: "body",
                max: 1024,
                ..
            })
        ));
        let mut newline = values(&all);
        newline.insert("body.2".into(), json!("May\n3"));
        assert!(matches!(fill(&s, &newline), Err(FillError::Invalid { .. })));
        let mut spaced = values(&all);
        spaced.insert("button.1".into(), json!("a 17"));
        assert!(matches!(fill(&s, &spaced), Err(FillError::Invalid { .. })));
        let mut number = values(&all);
        number.insert("body.3".into(), json!(10));
        assert_eq!(fill(&s, &number).unwrap()["body.3"], "10");
    }

    #[test]
    fn render_and_components_follow_whatsapp() {
        let s = appointment();
        let v = fill(
            &s,
            &values(&[
                ("header.1", "#4"),
                ("body.1", "Kerry"),
                ("body.2", "May 3"),
                ("body.3", "10:00"),
                ("button.1", "a-17"),
            ]),
        )
        .unwrap();
        let r = render(&s, &v);
        assert_eq!(r.header.unwrap().text.as_deref(), Some("Appointment #4"));
        assert_eq!(
            r.body.as_deref(),
            Some("Hi Kerry, see you on May 3 at 10:00.")
        );
        assert_eq!(
            r.buttons[1].url.as_deref(),
            Some("https://example.com/a/a-17")
        );
        assert_eq!(r.buttons[0].url, None);
        assert_eq!(
            wa_components(&s, &v),
            json!([
                {"type": "header", "parameters": [{"type": "text", "text": "#4"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Kerry"},
                    {"type": "text", "text": "May 3"}, {"type": "text", "text": "10:00"}]},
                {"type": "button", "sub_type": "url", "index": "1",
                 "parameters": [{"type": "text", "text": "a-17"}]}
            ])
        );
        // Unfilled placeholders stay visible in a preview.
        let partial = render(
            &s,
            &BTreeMap::from([("body.1".to_owned(), "Kerry".to_owned())]),
        );
        assert_eq!(
            partial.body.as_deref(),
            Some("Hi Kerry, see you on {{2}} at {{3}}.")
        );
    }

    #[test]
    fn named_templates_name_their_parameters() {
        let s = named();
        let v = fill(
            &s,
            &values(&[("first_name", "Kerry"), ("body.ticket_id", "T-7")]),
        )
        .unwrap();
        assert_eq!(
            render(&s, &v).body.as_deref(),
            Some("Hi Kerry, about T-7: Kerry.")
        );
        assert_eq!(
            wa_components(&s, &v),
            json!([{"type": "body", "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Kerry"},
                {"type": "text", "parameter_name": "ticket_id", "text": "T-7"}]}])
        );
    }

    #[test]
    fn media_headers_are_sent_by_uploaded_id() {
        let s = Shape::of(
            "POSITIONAL",
            &json!([{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Parcel {{1}}"}]),
        );
        assert_eq!(
            s.header.as_ref().and_then(Header::media_kind),
            Some("image")
        );
        let v = fill(&s, &values(&[("1", "P-9")])).unwrap();
        let c = with_header_media_id(wa_components(&s, &v), "777");
        assert_eq!(
            c,
            json!([{"type": "header", "parameters": [{"type": "image", "image": {"id": "777"}}]},
                   {"type": "body", "parameters": [{"type": "text", "text": "P-9"}]}])
        );
    }

    #[test]
    fn graph_items_and_status_webhooks_are_read() {
        let now = Timestamp(1_000);
        let item = json!({"name": "order_update", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "id": "123", "rejected_reason": "NONE",
            "components": [{"type": "BODY", "text": "Order {{1}}"}]});
        let r = from_graph(&item, "waba", "chn", now).unwrap();
        assert_eq!(
            (r.name.as_str(), r.language.as_str(), r.status.as_str()),
            ("order_update", "en_US", "APPROVED")
        );
        assert_eq!(r.parameter_format, "POSITIONAL");
        assert_eq!(r.wa_template_id.as_deref(), Some("123"));
        assert_eq!(r.rejected_reason, None);
        assert!(from_graph(&json!({"language": "en_US"}), "waba", "chn", now).is_none());
        let c = status_change("waba", &json!({"event": "PAUSED", "message_template_id": 123,
            "message_template_name": "order_update", "message_template_language": "en_US",
            "reason": null, "other_info": {"title": "FIRST_PAUSE", "description": "Paused for 3 hours"}}))
        .unwrap();
        assert_eq!(c.status, "PAUSED");
        assert_eq!(c.wa_template_id.as_deref(), Some("123"));
        assert_eq!(c.reason.as_deref(), Some("Paused for 3 hours"));
        let c = status_change(
            "waba",
            &json!({"event": "REJECTED", "message_template_name": "x",
            "message_template_language": "en", "reason": "INVALID_FORMAT"}),
        )
        .unwrap();
        assert_eq!(c.reason.as_deref(), Some("INVALID_FORMAT"));
        assert!(status_change("waba", &json!({"message_template_name": "x"})).is_none());
    }
}
