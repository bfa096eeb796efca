//! The external contact lookup for the screen pop: `GET crm.lookup_url` with `{phone}` replaced
//! by the customer's number (E.164 with `+`, percent-encoded), `Authorization: Bearer
//! crm.lookup_token` if set, within `crm.lookup_timeout_ms`.
//!
//! The answer is `{"contacts": [{id, name, email?, phones?: […], url?, fields?: {…}}]}` or a bare
//! array of the same, at most [`MAX_ANSWER_BYTES`]; an empty list means "no match". Whatever
//! goes wrong (timeout, error status, unreadable or oversized answer) is a
//! [`LookupOutcome::Failed`] with the reason, for the caller to fall back to the local CRM. This
//! never panics and never retries.

use crate::runtime::config::CrmConfig;
use crate::runtime::metrics::Metrics;
use crate::services::crm::Crm;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// The largest answer read; a longer one is refused.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Contacts kept of one answer (the rest are dropped).
pub const MAX_CONTACTS: usize = 50;

/// A contact as the external CRM describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmContact {
    /// The CRM's id (a number in the answer becomes its decimal text).
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    /// A link to the contact in the CRM.
    #[serde(default)]
    pub url: Option<String>,
    /// Any other fields, as given.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// Why a lookup gave no answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupFailure {
    #[error("the CRM did not answer within {0} ms")]
    Timeout(u32),
    #[error("the CRM answered HTTP {0}")]
    Status(u16),
    #[error("the CRM's answer is not a contact list: {0}")]
    BadAnswer(String),
    #[error("the CRM's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("the CRM cannot be reached: {0}")]
    Unreachable(String),
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupOutcome {
    /// No `crm.lookup_url`: use the local CRM.
    NotConfigured,
    /// The CRM answered; possibly no contact.
    Found(Vec<CrmContact>),
    /// The CRM could not be used this time; fall back to the local CRM.
    Failed(LookupFailure),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Wrapped { contacts: Vec<CrmContact> },
    Bare(Vec<CrmContact>),
}

fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

/// Looks the customer with number `e164` up in the external CRM (see the module docs).
pub async fn lookup(crm: &Crm, metrics: &Metrics, e164: &str) -> LookupOutcome {
    let outcome = lookup_with(crm.http(), &crm.config, e164).await;
    let counter = match &outcome {
        LookupOutcome::NotConfigured => None,
        LookupOutcome::Found(_) => Some(&metrics.crm_lookups),
        LookupOutcome::Failed(reason) => {
            tracing::warn!(reason = %reason, "CRM lookup failed; the local CRM is used");
            Some(&metrics.crm_lookup_failures)
        }
    };
    if let Some(c) = counter {
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    outcome
}

/// [`lookup`] with an explicit client and configuration.
pub async fn lookup_with(http: &reqwest::Client, config: &CrmConfig, e164: &str) -> LookupOutcome {
    let Some(template) = &config.lookup_url else {
        return LookupOutcome::NotConfigured;
    };
    let number = e164.trim();
    let number = if number.starts_with('+') {
        number.to_owned()
    } else {
        format!("+{number}")
    };
    let url = template.replace("{phone}", &percent_encode(&number));
    let timeout = Duration::from_millis(u64::from(config.lookup_timeout_ms.max(1)));
    let mut request = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(token) = &config.lookup_token {
        request = request.bearer_auth(token);
    }
    // One deadline for the whole exchange, the answer's body included.
    let exchange = async {
        let response = request.send().await.map_err(|e| transport(&e, config))?;
        let status = response.status();
        if !status.is_success() {
            return Err(LookupFailure::Status(status.as_u16()));
        }
        let bytes = read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                Some(e) => transport(&e, config),
                None => LookupFailure::TooLarge,
            })?;
        parse_answer(&bytes)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(contacts)) => LookupOutcome::Found(contacts),
        Ok(Err(reason)) => LookupOutcome::Failed(reason),
        Err(_) => LookupOutcome::Failed(LookupFailure::Timeout(config.lookup_timeout_ms)),
    }
}

/// Parses an answer body (either shape), keeping at most [`MAX_CONTACTS`].
pub fn parse_answer(bytes: &[u8]) -> Result<Vec<CrmContact>, LookupFailure> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        // serde's untagged error says nothing useful: name what was expected.
        let shape = match serde_json::from_slice::<Value>(bytes) {
            Err(e) => format!("invalid JSON ({e})"),
            Ok(_) => "expected {\"contacts\": [{\"id\", \"name\", …}]} or an array of contacts"
                .to_owned(),
        };
        tracing::debug!(error = %e, "CRM lookup answer refused");
        LookupFailure::BadAnswer(shape)
    })?;
    let mut contacts = match answer {
        Answer::Wrapped { contacts } | Answer::Bare(contacts) => contacts,
    };
    contacts.truncate(MAX_CONTACTS);
    Ok(contacts)
}

fn transport(e: &reqwest::Error, config: &CrmConfig) -> LookupFailure {
    if e.is_timeout() {
        LookupFailure::Timeout(config.lookup_timeout_ms)
    } else {
        LookupFailure::Unreachable(e.to_string())
    }
}

/// Reads at most `max` bytes of a body; `Err(None)` when it is longer.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Option<reqwest::Error>> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(None);
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Some)? {
        if out.len() + chunk.len() > max {
            return Err(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Percent-encodes everything but unreserved characters (RFC 3986), so `+` becomes `%2B`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_are_encoded_with_their_plus() {
        assert_eq!(percent_encode("+4915112345678"), "%2B4915112345678");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn both_answer_shapes_are_read_and_capped() {
        let wrapped =
            br#"{"contacts":[{"id":7,"name":"Ida","phones":["+491"],"fields":{"tier":"gold"}}]}"#;
        let c = parse_answer(wrapped).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].id, "7");
        assert_eq!(c[0].fields["tier"], "gold");
        let bare = br#"[{"id":"a","name":"A","email":"a@x.example","url":"https://crm/a"}]"#;
        assert_eq!(
            parse_answer(bare).unwrap()[0].email.as_deref(),
            Some("a@x.example")
        );
        assert_eq!(parse_answer(b"[]").unwrap(), Vec::new());
        let many: Vec<Value> = (0..80)
            .map(|i| serde_json::json!({"id": i, "name": "x"}))
            .collect();
        let bytes = serde_json::to_vec(&many).unwrap();
        assert_eq!(parse_answer(&bytes).unwrap().len(), MAX_CONTACTS);
    }

    #[test]
    fn other_answers_are_refused_with_a_reason() {
        for bad in [
            &b"not json"[..],
            br#"{"contacts": "none"}"#,
            br#"[{"name": "no id"}]"#,
            br#"{"id": 1, "name": "not a list"}"#,
        ] {
            assert!(
                matches!(parse_answer(bad), Err(LookupFailure::BadAnswer(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
