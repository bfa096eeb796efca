//! Every answer the API tests receive is checked against the OpenAPI document
//! (`switchboard_server::http::openapi()`): its status must be documented for the operation, and
//! a JSON body must validate against that status's schema. A small validator of the schema
//! keywords the document uses (`$ref`, `type`, `nullable`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `allOf`, `anyOf`, `oneOf`, `format: date-time`, `minimum`).

use serde_json::Value;
use std::sync::OnceLock;

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(switchboard_server::http::openapi)
}

/// The document's path template that `path` (without its query) matches, preferring literal
/// segments over parameters.
pub fn template_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    let mut best: Option<(&'static str, usize)> = None;
    for t in doc()["paths"].as_object()?.keys() {
        let tsegs: Vec<&str> = t.split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let fits = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                !s.is_empty()
            } else {
                literal += 1;
                t == s
            }
        });
        if fits && best.is_none_or(|(_, l)| literal > l) {
            best = Some((t.as_str(), literal));
        }
    }
    best.map(|(t, _)| t)
}

/// The response object the document gives for `status`, if any.
pub fn response_of(method: &str, template: &str, status: u16) -> Option<&'static Value> {
    let op = doc()["paths"][template].get(method.to_ascii_lowercase())?;
    let responses = op["responses"].as_object()?;
    let class = format!("{}XX", status / 100);
    let r = responses
        .get(&status.to_string())
        .or_else(|| responses.get(&class))
        .or_else(|| responses.get("default"))?;
    Some(resolve(r))
}

fn resolve(v: &'static Value) -> &'static Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let mut cur = doc();
            for part in r.trim_start_matches("#/").split('/') {
                cur = &cur[part];
            }
            resolve(cur)
        }
        None => v,
    }
}

/// Panics unless the answer is what the document says `method path` answers with `status`.
pub fn check(method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
    let Some(template) = template_of(path) else {
        // Not an endpoint (the tests of unknown routes): still the error shape.
        assert!(
            status >= 400 && body["error"]["code"].is_string(),
            "{method} {path}: {status} {body}"
        );
        return;
    };
    if doc()["paths"][template]
        .get(method.to_ascii_lowercase())
        .is_none()
    {
        assert!(
            status == 405 && body["error"]["code"].is_string(),
            "{method} {path}: {status} {body}"
        );
        return;
    }
    let Some(resp) = response_of(method, template, status) else {
        panic!("{method} {template}: status {status} is not documented ({body})");
    };
    let content = &resp["content"];
    let Some(types) = content.as_object() else {
        assert!(
            body.is_null() || body.as_str() == Some(""),
            "{method} {template}: {status} documents no body but answered {body}"
        );
        return;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some(media) = types.get(essence).or_else(|| types.get("*/*")) else {
        panic!(
            "{method} {template}: {status} answered {content_type:?}, documented: {:?}",
            types.keys().collect::<Vec<_>>()
        );
    };
    if essence == "application/json" {
        let mut errors = Vec::new();
        validate(&media["schema"], body, "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: the body does not fit the document:\n  {}\nbody: {body}",
            errors.join("\n  ")
        );
    }
}

/// Appends to `errors` every way `v` breaks `schema`.
pub fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = if let Some(r) = schema["$ref"].as_str() {
        let mut cur = doc();
        for part in r.trim_start_matches("#/").split('/') {
            cur = &cur[part];
        }
        cur
    } else {
        schema
    };
    if v.is_null() && schema["nullable"] == Value::Bool(true) {
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            validate(s, v, at, errors);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = schema[key].as_array() {
            let fits = alts.iter().filter(|s| {
                let mut e = Vec::new();
                validate(s, v, at, &mut e);
                e.is_empty()
            });
            let n = fits.count();
            if n == 0 || (key == "oneOf" && n > 1) {
                errors.push(format!("{at}: fits {n} of the {key} alternatives"));
            }
        }
    }
    if let Some(t) = schema["type"].as_str() {
        let fits = match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        };
        if !fits {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(v) {
            errors.push(format!("{at}: {v} is not one of {values:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), v.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} is below {min}"));
        }
    }
    if schema["format"] == "date-time" {
        if let Some(s) = v.as_str() {
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
                errors.push(format!("{at}: {s:?} is not an RFC 3339 time"));
            }
        }
    }
    if let Some(items) = schema.get("items") {
        if let Some(list) = v.as_array() {
            for (i, item) in list.iter().enumerate() {
                validate(items, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema["properties"].as_object();
        if let Some(required) = schema["required"].as_array() {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing {r}"));
                }
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, val, &format!("{at}.{k}"), errors),
                // A response is described whole: a field the schema does not name is a gap in
                // the document.
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) | None if props.is_some() => {
                        errors.push(format!("{at}: {k} is not documented"))
                    }
                    Some(s @ Value::Object(_)) => validate(s, val, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
}
