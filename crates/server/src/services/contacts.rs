//! The built-in CRM's rules (SPEC §4): phone numbers normalized to E.164, the contact lookup of
//! every new customer message (R-4.1 … ), the JSON of a contact with the state of its numbers
//! and the closed case a wrap-up leaves.

use crate::runtime::error::ApiError;
use crate::runtime::ids::new_id;
pub use crate::runtime::records::{case_agents, case_json, closed_case};
use crate::runtime::views;
use serde_json::{json, Value};
use switchboard_domain::Timestamp;
use switchboard_store::{ContactRecord, LastSend, Store, StoreError};

/// The longest name, email or custom field value a contact keeps.
pub const TEXT_MAX: usize = 200;
/// At most this many numbers and custom fields per contact.
pub const PHONES_MAX: usize = 20;
pub const FIELDS_MAX: usize = 50;

/// Normalizes a phone number written in any common international form ("+49 151 1234-5678",
/// "0049 151 12345678", "(+1) 555 010 0123", or the bare digits WhatsApp uses as `wa_id`) to
/// E.164 with the leading '+'. Numbers without a country code cannot be placed and are refused.
pub fn normalize_phone(input: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "invalid_phone",
            format!(
                "{:?} is not a valid international phone number (write it with its country code, e.g. +4915112345678)",
                input.chars().take(40).collect::<String>()
            ),
        )
    };
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.len() > 40 {
        return Err(invalid());
    }
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " +-().\u{a0}/".contains(c)))
    {
        return Err(invalid());
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else {
        format!("+{digits}")
    };
    let number = phonenumber::parse(None, &international).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The E.164 form of a WhatsApp id (its digits), or `None` when it is not a valid number.
pub fn e164_of_wa_id(wa_id: &str) -> Option<String> {
    if wa_id.is_empty() || !wa_id.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    normalize_phone(wa_id).ok()
}

/// How many merges [`live_contact`] follows before it gives up (a chain is one or two hops in
/// practice; the bound only guards against a loop in the stored data).
const MERGE_HOPS_MAX: usize = 8;

/// The contact `id` as it lives now: a contact merged into another one is found as that one,
/// following the chain of merges. `None` when the contact, or one on its chain, does not exist
/// (or the chain is longer than [`MERGE_HOPS_MAX`]). Endpoints about a contact answer 404 for
/// `None`; the template prefill falls back to the WhatsApp customer.
pub async fn live_contact(store: &Store, id: &str) -> Result<Option<ContactRecord>, StoreError> {
    let mut id = id.to_owned();
    for _ in 0..MERGE_HOPS_MAX {
        let Some(c) = store.contact(&id).await? else {
            return Ok(None);
        };
        match &c.merged_into {
            Some(next) => id = next.clone(),
            None => return Ok(Some(c)),
        }
    }
    Ok(None)
}

/// The customer's number, written from their WhatsApp id, where no contact gives one (the
/// template prefill's `contact.phone`): its E.164 form ([`e164_of_wa_id`], the form contacts
/// are matched by); an id of digits that is not a valid number is still written with `+` (a
/// WhatsApp id is the number without it), anything else as it came.
pub fn customer_number(wa_id: &str) -> String {
    e164_of_wa_id(wa_id).unwrap_or_else(|| {
        if !wa_id.is_empty() && wa_id.bytes().all(|b| b.is_ascii_digit()) {
            format!("+{wa_id}")
        } else {
            wa_id.to_owned()
        }
    })
}

/// The WhatsApp id (digits only) of an E.164 number.
pub fn wa_id_of(e164: &str) -> String {
    e164.chars().filter(char::is_ascii_digit).collect()
}

/// A contact created from a customer's first message: their WhatsApp profile name (or
/// the number) and the number.
pub fn from_profile(e164: &str, profile_name: Option<&str>, now: Timestamp) -> ContactRecord {
    let name = profile_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(TEXT_MAX).collect::<String>());
    let (first, last) = match &name {
        Some(n) => split_name(n),
        None => (None, None),
    };
    ContactRecord {
        id: new_id("con", now),
        name: name.unwrap_or_else(|| e164.to_owned()),
        first_name: first,
        last_name: last,
        email: None,
        fields: json!({}),
        phones: vec![e164.to_owned()],
        merged_into: None,
        created_by: None,
        created_at: now,
        updated_at: now,
    }
}

/// "Ada Lovelace" → ("Ada", "Lovelace"); a single word is a first name.
pub fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let mut parts = name.trim().splitn(2, char::is_whitespace);
    let first = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    let last = parts
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    (first, last)
}

/// A contact as the API shows it, each number with the channel's last send to it:
/// `ok` when it was delivered (or at least accepted), `failed` with the reason when WhatsApp
/// refused it, `unknown` when nothing was sent yet.
pub fn contact_json(c: &ContactRecord, sends: &[LastSend]) -> Value {
    let phones: Vec<Value> = c
        .phones
        .iter()
        .map(|p| {
            let wa = wa_id_of(p);
            let last = sends.iter().find(|s| s.wa_id == wa);
            let status = match last.map(|s| s.status.as_str()) {
                None => "unknown",
                Some("failed") => "failed",
                Some("queued" | "sending") => "unknown",
                Some(_) => "ok",
            };
            json!({
                "number": p,
                "wa_id": wa,
                "status": status,
                "last_send": last.map(|s| json!({
                    "status": s.status,
                    "error": s.error,
                    "at": views::ts(s.at),
                })),
            })
        })
        .collect();
    let failed = phones.iter().any(|p| p["status"] == "failed");
    json!({
        "id": c.id,
        "name": c.name,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "fields": c.fields,
        "phones": phones,
        "has_failed_number": failed,
        "merged_into": c.merged_into,
        "created_at": views::ts(c.created_at),
        "updated_at": views::ts(c.updated_at),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalized_from_common_international_forms() {
        for input in [
            "+49 151 12345678",
            "+49-151-1234-5678",
            "0049 151 12345678",
            "4915112345678",
            " +49 (151) 12345678 ",
        ] {
            assert_eq!(normalize_phone(input).unwrap(), "+4915112345678", "{input}");
        }
        assert_eq!(
            normalize_phone("+1 (415) 555-2671").unwrap(),
            "+14155552671"
        );
    }

    #[test]
    fn numbers_that_cannot_be_placed_are_refused() {
        for input in [
            "",
            "hello",
            "+49",
            "0151 12345678x",
            "+999 123456",
            "12",
            "+1 000",
        ] {
            let e = normalize_phone(input).unwrap_err();
            assert_eq!(e.code, "invalid_phone", "{input}");
        }
    }

    #[test]
    fn wa_ids_map_to_e164_and_back() {
        assert_eq!(
            e164_of_wa_id("4915112345678").as_deref(),
            Some("+4915112345678")
        );
        assert_eq!(e164_of_wa_id("+4915112345678"), None);
        assert_eq!(wa_id_of("+4915112345678"), "4915112345678");
        assert_eq!(customer_number("4915112345678"), "+4915112345678");
        assert_eq!(customer_number("not-a-number"), "not-a-number");
        // Digits that are no valid number (a fictional range) keep the `+` the prefill gave them.
        assert_eq!(e164_of_wa_id("15550100000"), None);
        assert_eq!(customer_number("15550100000"), "+15550100000");
    }

    #[test]
    fn profile_names_split_into_first_and_last() {
        let c = from_profile("+4915112345678", Some(" Ada  Lovelace "), Timestamp(1));
        assert_eq!(c.name, "Ada  Lovelace");
        assert_eq!(c.first_name.as_deref(), Some("Ada"));
        assert_eq!(c.last_name.as_deref(), Some("Lovelace"));
        let c = from_profile("+4915112345678", None, Timestamp(1));
        assert_eq!(c.name, "+4915112345678");
        assert_eq!(c.first_name, None);
    }
}
