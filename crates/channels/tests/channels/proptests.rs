//! The parser never panics: arbitrary bytes, arbitrary JSON, and valid envelopes with one part
//! replaced or removed. Where it accepts a body, every message it read is either normalized or
//! rejected, never silently lost.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use switchboard_channels::*;

const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "metadata",
    "phone_number_id",
    "display_phone_number",
    "contacts",
    "profile",
    "name",
    "wa_id",
    "user_id",
    "messages",
    "statuses",
    "errors",
    "from",
    "timestamp",
    "type",
    "text",
    "body",
    "image",
    "audio",
    "voice",
    "sticker",
    "animated",
    "location",
    "latitude",
    "longitude",
    "interactive",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "response_json",
    "title",
    "reaction",
    "emoji",
    "message_id",
    "context",
    "forwarded",
    "code",
    "error_data",
    "details",
    "status",
    "recipient_id",
    "x",
];

const STRINGS: &[&str] = &[
    "whatsapp_business_account",
    "messages",
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "button",
    "reaction",
    "order",
    "system",
    "unsupported",
    "sent",
    "delivered",
    "read",
    "failed",
    "1749416383",
    "-1",
    "9999999999999999999999",
    "",
    "wamid.X",
    "1e999",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

/// A valid batch with messages of many types, statuses and another field.
fn rich_batch() -> Value {
    let m = |id: &str, t: &str, body: Value| {
        let mut v = json!({"from": "16315551234", "id": id, "timestamp": "1749416383", "type": t});
        v[t] = body;
        v
    };
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "WABA",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "1555", "phone_number_id": "106"},
                    "contacts": [{"profile": {"name": "K"}, "wa_id": "16315551234"}],
                    "messages": [
                        m("wamid.1", "text", json!({"body": "hi"})),
                        m("wamid.2", "image", json!({"id": "1", "mime_type": "image/jpeg", "sha256": "x", "caption": "c"})),
                        m("wamid.3", "audio", json!({"id": "2", "voice": true})),
                        m("wamid.4", "location", json!({"latitude": 1.5, "longitude": 2.5, "name": "n"})),
                        m("wamid.5", "contacts", json!([{"name": {"formatted_name": "A"}, "phones": [{"phone": "1"}]}])),
                        m("wamid.6", "interactive", json!({"type": "list_reply", "list_reply": {"id": "a", "title": "b"}})),
                        m("wamid.7", "interactive", json!({"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "body": "Sent"}})),
                        m("wamid.8", "reaction", json!({"message_id": "wamid.0", "emoji": "👍"})),
                        m("wamid.9", "order", json!({"catalog_id": "c", "product_items": [{"quantity": 1}]})),
                        m("wamid.10", "system", json!({"body": "changed", "type": "user_changed_number"})),
                        m("wamid.11", "button", json!({"payload": "P", "text": "T"})),
                        {"from": "1", "id": "wamid.12", "timestamp": "1", "type": "unsupported",
                         "errors": [{"code": 131051, "title": "t", "error_data": {"details": "d"}}],
                         "context": {"from": "1555", "id": "wamid.0", "forwarded": true}}
                    ],
                    "statuses": [
                        {"id": "wamid.S", "status": "failed", "timestamp": "2", "recipient_id": "1",
                         "errors": [{"code": 131026, "title": "Undeliverable"}]},
                        {"id": "wamid.S", "status": "read", "timestamp": "3", "recipient_id": "1"}
                    ],
                    "errors": [{"code": 131000, "title": "x"}]
                }
            }, {
                "field": "message_template_status_update",
                "value": {"event": "APPROVED"}
            }]
        }]
    })
}

enum Edit {
    Replace(Value),
    Remove,
}

/// Walks down `path` (indexes taken modulo the number of children) and edits what it reaches.
fn mutate(cur: &mut Value, path: &[usize], edit: Edit) {
    let Some((&step, rest)) = path.split_first() else {
        if let Edit::Replace(v) = edit {
            *cur = v;
        }
        return;
    };
    match cur {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step % map.len()).unwrap().clone();
            if rest.is_empty() && matches!(edit, Edit::Remove) {
                map.remove(&key);
            } else {
                mutate(map.get_mut(&key).unwrap(), rest, edit);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = step % items.len();
            if rest.is_empty() && matches!(edit, Edit::Remove) {
                items.remove(i);
            } else {
                mutate(&mut items[i], rest, edit);
            }
        }
        _ => mutate(cur, &[], edit),
    }
}

/// Messages the body holds in `entry[*].changes[*].value.messages[*]` (any shape).
fn count_raw_messages(root: &Value) -> usize {
    let Some(entries) = root.get("entry").and_then(Value::as_array) else {
        return 0;
    };
    entries
        .iter()
        .filter_map(|e| e.get("changes").and_then(Value::as_array))
        .flatten()
        .filter(|c| c.get("field").and_then(Value::as_str) == Some("messages"))
        .filter_map(|c| c.get("value").and_then(|v| v.get("messages")))
        .filter_map(Value::as_array)
        .map(Vec::len)
        .sum()
}

/// Every message in the body ends up normalized or in `rejected` (possibly as part of a
/// rejected change or entry). Checked when the shape above the messages is intact.
fn accounted(batch: &WebhookBatch) -> usize {
    batch.messages().count()
        + batch
            .rejected
            .iter()
            .map(|r| {
                let loc = r.location.as_str();
                let raw = r.raw.clone();
                if loc.contains(".messages[") {
                    1
                } else if loc.ends_with(".messages") {
                    r.raw.as_array().map_or(0, Vec::len)
                } else if loc.ends_with(".value") {
                    count_raw_messages(
                        &json!({"entry": [{"changes": [{"field": "messages", "value": raw}]}]}),
                    )
                } else if loc.contains(".changes[") && !loc.contains(".value") {
                    count_raw_messages(&json!({"entry": [{"changes": [raw]}]}))
                } else if !loc.contains(".changes") {
                    count_raw_messages(&json!({"entry": [raw]}))
                } else {
                    // Contacts, statuses, errors.
                    0
                }
            })
            .sum::<usize>()
}

// 256 cases each by default (well under a second); `PROPTEST_CASES=5000` for a longer run.
proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = parse_webhook(v.to_string().as_bytes());
        let wrapped = json!({"object": "whatsapp_business_account", "entry": [v.clone()]});
        let _ = parse_webhook(wrapped.to_string().as_bytes());
        let as_value = json!({"entry": [{"changes": [{"field": "messages", "value": v.clone()}]}]});
        let _ = parse_webhook_value(as_value);
        let as_message = json!({"entry": [{"changes": [{"field": "messages",
            "value": {"metadata": {"phone_number_id": "1"}, "messages": [v.clone()], "statuses": [v.clone()],
                      "contacts": [v.clone()], "errors": [v]}}]}]});
        if let Ok(batch) = parse_webhook_value(as_message) {
            for (_, m) in batch.messages() {
                let _ = (m.summary(), m.short_summary(10), m.kind_str());
            }
        }
    }

    #[test]
    fn mutated_envelopes_never_panic_and_lose_nothing(
        path in prop::collection::vec(any::<usize>(), 1..9),
        replacement in arb_json(),
        remove in any::<bool>(),
    ) {
        let mut body = rich_batch();
        let edit = if remove { Edit::Remove } else { Edit::Replace(replacement) };
        mutate(&mut body, &path, edit);
        let bytes = serde_json::to_vec(&body).unwrap();
        if let Ok(batch) = parse_webhook(&bytes) {
            for (_, m) in batch.messages() {
                let _ = (m.summary(), m.kind_str());
            }
            for (_, s) in batch.statuses() {
                let _ = s.status.rank();
            }
            prop_assert_eq!(accounted(&batch), count_raw_messages(&body));
            // The normalized batch is storable.
            let _ = serde_json::to_string(&batch).unwrap();
        }
    }
}

#[test]
fn the_rich_batch_is_clean() {
    let batch = parse_webhook_value(rich_batch()).unwrap();
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    assert!(batch.warnings.is_empty(), "{:?}", batch.warnings);
    assert_eq!(batch.messages().count(), 12);
    assert_eq!(batch.statuses().count(), 2);
}
