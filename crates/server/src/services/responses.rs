//! Standard responses (R-3.8): which ones a user sees, the rules of their fields, and their
//! placeholders filled for one interaction.
//!
//! A response is global (no queues) or belongs to queues. An agent sees the global ones and
//! those of their queues; supervisors and admins see all. A placeholder is `{{path}}` (spaces
//! inside the braces allowed): `contact.name`, `contact.first_name`, `contact.last_name`,
//! `contact.email`, `contact.phone`, `contact.fields.<key>`, `customer.name`, `customer.phone`,
//! `agent.display_name`, `agent.first_name`, `agent.last_name`, `queue.name`. One without a
//! value is left in the text as `{{path}}` and listed as missing, for the agent to fill.

use crate::runtime::error::ApiError;
use crate::services::contacts::{customer_number, split_name};
use crate::services::templates::{contact_field, contact_of};
use serde_json::{json, Value};
use switchboard_domain::*;
use switchboard_store::{ResponseRecord, Store};

/// The longest title and category, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
pub const CATEGORY_MAX_CHARS: usize = 100;
/// The longest shortcut, in characters (`a`–`z`, `0`–`9`, `_`, `-`).
pub const SHORTCUT_MAX_CHARS: usize = 32;

/// A response's text with its placeholders filled, and the placeholders that had no value
/// (left in the text as they were written, each listed once, in order of appearance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub text: String,
    pub missing: Vec<String>,
}

/// Fills every `{{path}}` of `text` with `value(path)`; a placeholder without a value stays as
/// `{{path}}` (spaces inside the braces dropped) and is listed in `missing`. Braces around
/// anything but a path (letters, digits, `_`, `.`) are not a placeholder and stay as they are.
pub fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> Filled {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let path = after[..end].trim();
        let is_path = !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !is_path {
            // Not a placeholder: keep the braces, look again after them.
            out.push_str("{{");
            rest = after;
            continue;
        }
        match value(path).filter(|v| !v.trim().is_empty()) {
            Some(v) => out.push_str(&v),
            None => {
                out.push_str("{{");
                out.push_str(path);
                out.push_str("}}");
                if !missing.iter().any(|m| m == path) {
                    missing.push(path.to_owned());
                }
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Filled { text: out, missing }
}

/// What placeholders are filled from: the interaction's contact (or the WhatsApp customer as
/// one), the customer, the agent who inserts the response and the interaction's queue.
pub struct Context {
    pub contact: Option<Value>,
    pub customer: Customer,
    pub agent_name: Option<String>,
    pub queue_name: Option<String>,
}

impl Context {
    /// The value of one placeholder, if it has one.
    pub fn value(&self, path: &str) -> Option<String> {
        let agent = || self.agent_name.as_deref().map(split_name);
        match path {
            "customer.name" => self.customer.name.clone(),
            "customer.phone" => Some(customer_number(&self.customer.wa_id)),
            "agent.display_name" | "agent.name" => self.agent_name.clone(),
            "agent.first_name" => agent().and_then(|(first, _)| first),
            "agent.last_name" => agent().and_then(|(_, last)| last),
            "queue.name" => self.queue_name.clone(),
            _ => contact_field(self.contact.as_ref()?, path),
        }
    }
}

/// The context of `agent` inserting a response into `it`.
pub async fn context(
    core: &crate::runtime::core::Core,
    store: &Store,
    it: &Interaction,
    agent: &AgentId,
) -> Result<Context, ApiError> {
    let contact = contact_of(store, it).await?;
    let (a, q) = (agent.clone(), it.queue_id.clone());
    let (agent_name, queue_name) = core
        .read(move |s| {
            (
                s.engine.agent(&a).map(|x| x.display_name.clone()),
                s.engine.queue(&q).map(|x| x.name.clone()),
            )
        })
        .await?;
    Ok(Context {
        contact,
        customer: it.customer.clone(),
        agent_name,
        queue_name,
    })
}

/// Whether a response applies in a queue: global, or one of its queues.
pub fn applies_in(r: &ResponseRecord, queue: &str) -> bool {
    r.queue_ids.is_empty() || r.queue_ids.iter().any(|q| q == queue)
}

/// Whether a user who works in `queues` sees a response (`None`: every response, for
/// supervisors and admins).
pub fn seen_by(r: &ResponseRecord, queues: Option<&[QueueId]>) -> bool {
    match queues {
        None => true,
        Some(qs) => r.queue_ids.is_empty() || qs.iter().any(|q| applies_in(r, q.as_str())),
    }
}

/// Whether two responses can be seen together (by an agent of a queue of both, or because one
/// is global): their shortcuts must then differ.
pub fn overlap(a: &ResponseRecord, b: &ResponseRecord) -> bool {
    a.queue_ids.is_empty()
        || b.queue_ids.is_empty()
        || a.queue_ids.iter().any(|q| b.queue_ids.contains(q))
}

/// Whether a response matches a search: `q` in its title, text, shortcut or category, and its
/// category is `category` (both ignoring case; `None` matches everything).
pub fn matches(r: &ResponseRecord, q: Option<&str>, category: Option<&str>) -> bool {
    let category_ok = category.is_none_or(|c| {
        r.category
            .as_deref()
            .is_some_and(|rc| rc.to_lowercase() == c.trim().to_lowercase())
    });
    let q = q.map(|q| q.trim().to_lowercase()).unwrap_or_default();
    let q_ok = q.is_empty()
        || [
            Some(r.title.as_str()),
            Some(r.text.as_str()),
            r.shortcut.as_deref(),
            r.category.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|f| f.to_lowercase().contains(&q));
    category_ok && q_ok
}

/// A shortcut's syntax: 1 to 32 of `a`–`z`, `0`–`9`, `_`, `-`.
pub fn valid_shortcut(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= SHORTCUT_MAX_CHARS
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A response as the API and the audit log show it.
pub fn view(r: &ResponseRecord) -> Value {
    json!({
        "id": r.id,
        "title": r.title,
        "text": r.text,
        "category": r.category,
        "shortcut": r.shortcut,
        "queue_ids": r.queue_ids,
        "created_at": crate::runtime::views::ts(r.created_at),
        "updated_at": crate::runtime::views::ts(r.updated_at),
    })
}

/// A response as the audit log keeps it (what an admin changes of it).
pub fn audit_value(r: &ResponseRecord) -> Value {
    json!({
        "title": r.title,
        "text": r.text,
        "category": r.category,
        "shortcut": r.shortcut,
        "queue_ids": r.queue_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            contact: Some(
                json!({"name": "Kerry King", "first_name": "Kerry", "last_name": null,
                "email": "", "phones": [{"number": "+4915112345"}], "fields": {"plan": "Gold"}}),
            ),
            customer: Customer {
                wa_id: "4915112345".into(),
                name: Some("KK".into()),
            },
            agent_name: Some("Ann Smith".into()),
            queue_name: Some("Billing".into()),
        }
    }

    #[test]
    fn placeholders_are_filled_from_the_contact_agent_and_queue() {
        let c = ctx();
        let f = fill(
            "Hi {{contact.first_name}} ({{ contact.name }}, {{contact.phone}}), {{agent.first_name}} \
             of {{queue.name}} here; plan {{contact.fields.plan}}, {{customer.name}}, {{agent.display_name}}.",
            |p| c.value(p),
        );
        assert_eq!(
            f.text,
            "Hi Kerry (Kerry King, +4915112345), Ann of Billing here; plan Gold, KK, Ann Smith."
        );
        assert!(f.missing.is_empty());
    }

    #[test]
    fn a_placeholder_without_a_value_stays_and_is_listed_once() {
        let c = ctx();
        let f = fill(
            "{{contact.last_name}}, {{ contact.email }} {{contact.last_name}} {{nope.x}}",
            |p| c.value(p),
        );
        assert_eq!(
            f.text,
            "{{contact.last_name}}, {{contact.email}} {{contact.last_name}} {{nope.x}}"
        );
        assert_eq!(f.missing, ["contact.last_name", "contact.email", "nope.x"]);
        let none = Context {
            contact: None,
            ..ctx()
        };
        assert_eq!(
            fill("Hi {{contact.first_name}}", |p| none.value(p)).missing,
            ["contact.first_name"]
        );
    }

    #[test]
    fn braces_that_are_no_placeholder_are_kept() {
        let f = fill("a {{ }} b {{x y}} {{queue.name}} {{ open", |p| {
            (p == "queue.name").then(|| "Q".to_owned())
        });
        assert_eq!(f.text, "a {{ }} b {{x y}} Q {{ open");
        assert!(f.missing.is_empty());
        assert_eq!(fill("", |_| None).text, "");
        assert_eq!(fill("{{{{queue.name}}", |_| Some("Q".into())).text, "{{Q");
    }

    fn response(queues: &[&str]) -> ResponseRecord {
        ResponseRecord {
            id: "r".into(),
            title: "Opening hours".into(),
            text: "We are open 9-17".into(),
            category: Some("Info".into()),
            shortcut: Some("hours".into()),
            queue_ids: queues.iter().map(|q| (*q).to_owned()).collect(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn scope_overlap_search_and_shortcuts() {
        let global = response(&[]);
        let a = response(&["qa"]);
        let b = response(&["qb"]);
        let qa = [QueueId("qa".into())];
        assert!(seen_by(&global, Some(&qa)) && seen_by(&a, Some(&qa)));
        assert!(!seen_by(&b, Some(&qa)) && seen_by(&b, None));
        assert!(overlap(&global, &b) && !overlap(&a, &b) && overlap(&a, &response(&["qb", "qa"])));
        assert!(matches(&a, Some("OPEN 9"), None) && matches(&a, Some("hou"), Some("info")));
        assert!(!matches(&a, Some("closed"), None) && !matches(&a, None, Some("Billing")));
        assert!(valid_shortcut("hours_2-x") && !valid_shortcut("Hours") && !valid_shortcut(""));
        assert!(!valid_shortcut(&"a".repeat(33)) && !valid_shortcut("a b"));
    }
}
