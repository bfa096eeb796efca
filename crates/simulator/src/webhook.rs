//! Webhooks as Meta sends them: the signature (`X-Hub-Signature-256`) and the envelope builders
//! for messages and statuses. Public so tests can build and sign their own payloads.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The value of `X-Hub-Signature-256` for `body`: `sha256=` and the lowercase hex
/// HMAC-SHA256 of the raw bytes keyed with the app secret.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` (the whole `sha256=<hex>` value) signs `body` with `app_secret`; compared in
/// constant time.
pub fn verify_signature(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The business number a webhook is about (`value.metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `metadata.display_phone_number`.
    pub display_phone_number: String,
}

/// The full envelope around one change of field `messages`:
/// `{"object":"whatsapp_business_account","entry":[{"id":WABA,"changes":[{"field":"messages",
/// "value":{"messaging_product":"whatsapp","metadata":{…}, …fields}}]}]}`.
/// `fields` are merged into `value` (e.g. `contacts` and `messages`, or `statuses`).
pub fn webhook_envelope(metadata: &Metadata, fields: Map<String, Value>) -> Value {
    let mut value = Map::new();
    value.insert("messaging_product".into(), json!("whatsapp"));
    value.insert(
        "metadata".into(),
        json!({
            "display_phone_number": metadata.display_phone_number,
            "phone_number_id": metadata.phone_number_id,
        }),
    );
    value.extend(fields);
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": metadata.waba_id,
            "changes": [{ "field": "messages", "value": Value::Object(value) }],
        }],
    })
}

/// A customer's messages: `contacts[{profile{name}, wa_id}]` and `messages[…]`.
pub fn message_envelope(
    metadata: &Metadata,
    wa_id: &str,
    profile_name: &str,
    messages: Vec<Value>,
) -> Value {
    let mut fields = Map::new();
    fields.insert(
        "contacts".into(),
        json!([{ "profile": { "name": profile_name }, "wa_id": wa_id }]),
    );
    fields.insert("messages".into(), Value::Array(messages));
    webhook_envelope(metadata, fields)
}

/// Status updates: `statuses[…]` (no `contacts`).
pub fn status_envelope(metadata: &Metadata, statuses: Vec<Value>) -> Value {
    let mut fields = Map::new();
    fields.insert("statuses".into(), Value::Array(statuses));
    webhook_envelope(metadata, fields)
}

/// The pricing category of a message for status webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pricing {
    /// A free-form message inside the customer service window (free).
    Service,
    /// A template of this category (`utility`, `marketing`, `authentication`), billed.
    Template(String),
}

impl Pricing {
    fn category(&self) -> &str {
        match self {
            Self::Service => "service",
            Self::Template(category) => category,
        }
    }

    /// The `pricing` object, per-message pricing as in 2025 payloads.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Service => json!({
                "billable": false,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            }),
            Self::Template(category) => json!({
                "billable": true,
                "pricing_model": "PMP",
                "type": "regular",
                "category": category,
            }),
        }
    }
}

/// One entry of `statuses[]`. `sent` and `delivered` carry `conversation` and `pricing`;
/// `conversation.expiration_timestamp` only on `sent`; `read` carries neither; `failed` carries
/// `errors`.
pub fn status_object(
    wamid: &str,
    status: &str,
    timestamp: i64,
    recipient_id: &str,
    conversation: Option<(&str, i64, &Pricing)>,
    errors: Option<Value>,
) -> Value {
    let mut object = json!({
        "id": wamid,
        "status": status,
        "timestamp": timestamp.to_string(),
        "recipient_id": recipient_id,
    });
    if let Some((conversation_id, expires, pricing)) = conversation {
        if status == "sent" || status == "delivered" {
            let mut conv = json!({
                "id": conversation_id,
                "origin": { "type": pricing.category() },
            });
            if status == "sent" {
                conv["expiration_timestamp"] = json!(expires.to_string());
            }
            object["conversation"] = conv;
            object["pricing"] = pricing.to_json();
        }
    }
    if let Some(errors) = errors {
        object["errors"] = errors;
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_rejects_tampering() {
        let sig = sign("secret", b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert!(verify_signature("secret", b"{\"a\":1}", &sig));
        assert!(!verify_signature("secret", b"{\"a\":2}", &sig));
        assert!(!verify_signature("other", b"{\"a\":1}", &sig));
        assert!(!verify_signature("secret", b"{\"a\":1}", &sig[7..]));
    }

    #[test]
    fn known_hmac_vector() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
