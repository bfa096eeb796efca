//! The built-in CRM over HTTP (SPEC §4, §5): contacts and their numbers, the screen pop of an
//! interaction, re-linking, merging, cases (saved chat logs), contact history, the communication
//! list, full-text search and outbound starts.
//!
//! Contacts, their history and cases are visible to every logged-in user: shows an agent
//! the customer's history across agents. Search and the communication list show an agent the
//! conversations of their queues and those they took part in; supervisors see all.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::Path;
use super::{body, created, ok, Access, Endpoint, Json, Query};
use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::runtime::ids::{conversation_id, new_id};
use crate::runtime::locks::LockKey;
use crate::runtime::views;
use crate::services::auth::AuthUser;
use crate::services::contacts::{
    case_agents, case_json, contact_json, normalize_phone, split_name, wa_id_of, FIELDS_MAX,
    PHONES_MAX, TEXT_MAX,
};
use crate::services::crm::LookupOutcome;
use crate::services::interactions::{as_seen, visible, window_open};
use crate::services::messaging::send_text;
use crate::services::paging;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post, put};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchboard_domain::*;
use switchboard_store::{
    search_words, CaseFilter, CaseRecord, ContactRecord, ConversationRecord, SearchScope,
    StoreError,
};

feature_state! {
    /// The contact, case and conversation endpoints' handles.
    ContactsState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    channels: Arc<Channels>,
    crm: Arc<Crm>,
    metrics: Arc<Metrics>,
    locks: Arc<KeyedLocks>,
    outbox_wake: Arc<Notify>,
    blobs: Blobs,
    } => base: Base { core, store, clock }, messaging: Messaging { core, store, clock, locks, channels, blobs, outbox_wake }
}

mod cases;
mod contact;
mod outbound;
mod screen_pop;
mod search;
#[allow(unused_imports)]
use cases::*;
#[allow(unused_imports)]
use contact::*;
#[allow(unused_imports)]
use outbound::*;
#[allow(unused_imports)]
use screen_pop::*;
#[allow(unused_imports)]
use search::*;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/contacts", summary: "Find contacts: ?phone= (any format; exact match on the normalized number) or ?q= (name or email prefix, or digits of a number); neither lists them by name; ?limit=.", access: Access::Agent, body: None, handler: get(list_contacts), doc: super::Doc::ok::<Vec<super::wire::Contact>>().query::<ListQuery>() },
        Endpoint { method: "POST", path: "/api/v1/contacts", summary: "Create a contact {name, first_name?, last_name?, email?, phones?, fields?}.", access: Access::Agent, body: body::<ContactInput>(), handler: post(create_contact), doc: super::Doc::created::<super::wire::Contact>() },
        Endpoint { method: "GET", path: "/api/v1/contacts/{id}", summary: "One contact, each number with the channel's last send to it (ok, failed with the reason, unknown). A merged contact answers with the contact it was merged into.", access: Access::Agent, body: None, handler: get(get_contact), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "PATCH", path: "/api/v1/contacts/{id}", summary: "Change a contact: name, first_name, last_name, email, phones (the whole list), fields (merged; null removes a field).", access: Access::Agent, body: body::<ContactInput>(), handler: patch(patch_contact), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "POST", path: "/api/v1/contacts/{id}/phones", summary: "Connect a WhatsApp number to the contact ({number}, any format); answers the contact with the number's state.", access: Access::Agent, body: body::<PhoneInput>(), handler: post(add_phone), doc: super::Doc::created::<super::wire::Contact>() },
        Endpoint { method: "POST", path: "/api/v1/contacts/{id}/merge", summary: "Merge another contact ({from}) into this one: numbers, conversations, interactions and cases move over.", access: Access::Supervisor, body: body::<MergeInput>(), handler: post(merge), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "GET", path: "/api/v1/contacts/{id}/interactions", summary: "The contact's history: every interaction across channels and agents, newest first, paged with ?before=CURSOR&limit=N; ?transcripts=true adds each one's messages and private notes.", access: Access::Agent, body: None, handler: get(contact_history), doc: super::Doc::ok::<super::wire::ContactHistory>().query::<HistoryQuery>() },
        Endpoint { method: "GET", path: "/api/v1/contacts/{id}/cases", summary: "The contact's cases, newest first (?state=open|closed).", access: Access::Agent, body: None, handler: get(contact_cases), doc: super::Doc::ok::<Vec<super::wire::Case>>().query::<CasesQuery>() },
        Endpoint { method: "GET", path: "/api/v1/interactions/{id}/screen-pop", summary: "The contact lookup of an interaction by the customer's number: the linked contact, all matches and their count, the new-contact form's prefill, recent interactions, open cases and the conversation's cases without a contact.", access: Access::Agent, body: None, handler: get(screen_pop), doc: super::Doc::ok::<super::wire::ScreenPop>() },
        Endpoint { method: "PUT", path: "/api/v1/interactions/{id}/contact", summary: "Link the interaction (and its conversation) to another contact ({contact_id}), or unlink it ({contact_id: null}).", access: Access::Agent, body: body::<LinkInput>(), handler: put(link_contact), doc: super::Doc::ok::<super::wire::Interaction>() },
        Endpoint { method: "POST", path: "/api/v1/interactions/{id}/case", summary: "Save the transcript so far as an open case ({subject?}); the wrap-up closes it.", access: Access::Agent, body: body::<CaseInput>(), handler: post(save_case), doc: super::Doc::created::<super::wire::Case>().and_json::<super::wire::Case>(200).optional_body() },
        Endpoint { method: "POST", path: "/api/v1/interactions", summary: "Start an outbound interaction with a contact or number ({contact_id? | phone?, channel_id?, text?}); it opens active and owned by the caller, with no offer.", access: Access::Agent, body: body::<StartInput>(), handler: post(start_outbound), doc: super::Doc::created::<super::wire::Interaction>() },
        Endpoint { method: "GET", path: "/api/v1/cases", summary: "Cases, newest first: all, of a contact (?contact_id=) or without one (?unassigned=true, and of one conversation with &conversation_id=); ?state=open|closed.", access: Access::Agent, body: None, handler: get(list_cases), doc: super::Doc::ok::<Vec<super::wire::Case>>().query::<CasesQuery>() },
        Endpoint { method: "GET", path: "/api/v1/cases/{id}", summary: "One case with its transcript and notes.", access: Access::Agent, body: None, handler: get(get_case), doc: super::Doc::ok::<super::wire::CaseDetail>() },
        Endpoint { method: "PATCH", path: "/api/v1/cases/{id}", summary: "Assign the case to a contact ({contact_id}) or change its subject.", access: Access::Agent, body: body::<CasePatch>(), handler: patch(patch_case), doc: super::Doc::ok::<super::wire::Case>() },
        Endpoint { method: "GET", path: "/api/v1/conversations", summary: "The communication list: conversations by latest message with the contact, last message and unread count (?channel_id=, ?limit=).", access: Access::Agent, body: None, handler: get(conversations), doc: super::Doc::ok::<Vec<super::wire::ConversationRow>>().query::<ConversationsQuery>() },
        Endpoint { method: "GET", path: "/api/v1/search", summary: "Full-text search over messages (?q=; every word must match as a prefix), within a conversation (?conversation_id=) or across all the caller may see; newest first.", access: Access::Agent, body: None, handler: get(search), doc: super::Doc::ok::<super::wire::SearchResult>().query::<SearchQuery>() },
    ]
}

// ------------------------------------------------------------------------------- input checks

fn clean_text(field: &'static str, v: &str) -> Result<Option<String>, ApiError> {
    let t = v.trim();
    // A case's subject is not a contact's field.
    let code = if field == "subject" {
        "invalid_subject"
    } else {
        "invalid_contact"
    };
    if t.chars().count() > TEXT_MAX {
        return Err(ApiError::invalid(
            code,
            format!("{field} may have at most {TEXT_MAX} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            code,
            format!("{field} may not contain control characters"),
        ));
    }
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

fn clean_email(v: &str) -> Result<Option<String>, ApiError> {
    let Some(e) = clean_text("email", v)? else {
        return Ok(None);
    };
    let valid = e.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !e.contains(char::is_whitespace);
    if !valid {
        return Err(ApiError::invalid(
            "invalid_email",
            "email must look like name@example.com",
        ));
    }
    Ok(Some(e))
}

fn clean_phones(list: &[String]) -> Result<Vec<String>, ApiError> {
    if list.len() > PHONES_MAX {
        return Err(ApiError::invalid(
            "invalid_contact",
            format!("a contact may have at most {PHONES_MAX} numbers"),
        ));
    }
    let mut out = Vec::new();
    for p in list {
        let n = normalize_phone(p)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Applies a fields patch: a value sets (strings, numbers, booleans), `null` removes.
fn patch_fields(current: &Value, patch: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut fields = current.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        if k.is_empty()
            || k.len() > 64
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ApiError::invalid(
                "invalid_field",
                "custom field names are 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        match v {
            Value::Null => {
                fields.remove(k);
            }
            Value::String(s) if s.chars().count() <= TEXT_MAX * 5 => {
                fields.insert(k.clone(), v.clone());
            }
            Value::Number(_) | Value::Bool(_) => {
                fields.insert(k.clone(), v.clone());
            }
            _ => {
                return Err(ApiError::invalid(
                    "invalid_field",
                    format!(
                        "custom field {k:?} must be a string (at most {} characters), a number, a boolean, or null to remove it",
                        TEXT_MAX * 5
                    ),
                ))
            }
        }
    }
    if fields.len() > FIELDS_MAX {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("a contact may have at most {FIELDS_MAX} custom fields"),
        ));
    }
    Ok(Value::Object(fields))
}

/// Contacts with their numbers' states.
async fn render_contacts(
    state: &ContactsState,
    list: &[ContactRecord],
) -> Result<Vec<Value>, ApiError> {
    let mut wa_ids: Vec<String> = list
        .iter()
        .flat_map(|c| c.phones.iter().map(|p| wa_id_of(p)))
        .collect();
    wa_ids.sort();
    wa_ids.dedup();
    let sends = state.store.last_sends(&wa_ids).await?;
    Ok(list.iter().map(|c| contact_json(c, &sends)).collect())
}

async fn render_contact(state: &ContactsState, c: &ContactRecord) -> Result<Value, ApiError> {
    Ok(render_contacts(state, std::slice::from_ref(c))
        .await?
        .pop()
        .unwrap_or(Value::Null))
}

/// A contact by id, following merges ([`crate::services::contacts::live_contact`]); 404 without one.
async fn load_contact(state: &ContactsState, id: &str) -> Result<ContactRecord, ApiError> {
    crate::services::contacts::live_contact(&state.store, id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))
}

fn store_not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}
