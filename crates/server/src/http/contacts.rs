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
    case_json, contact_json, normalize_phone, split_name, wa_id_of, FIELDS_MAX, PHONES_MAX,
    TEXT_MAX,
};
use crate::services::crm::LookupOutcome;
use crate::services::interactions::{as_seen, visible, window_open};
use crate::services::messaging::send_text;
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

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { method: "GET", path: "/api/v1/contacts", summary: "Find contacts: ?phone= (any format; exact match on the normalized number) or ?q= (name or email prefix, or digits of a number); neither lists them by name; ?limit=.", access: Access::Agent, body: None, handler: get(list_contacts), doc: super::Doc::ok::<Vec<super::wire::Contact>>().query::<ListQuery>() },
        Endpoint { method: "POST", path: "/api/v1/contacts", summary: "Create a contact {name, first_name?, last_name?, email?, phones?, fields?}.", access: Access::Agent, body: body::<ContactInput>(), handler: post(create_contact), doc: super::Doc::created::<super::wire::Contact>() },
        Endpoint { method: "GET", path: "/api/v1/contacts/{id}", summary: "One contact, each number with the channel's last send to it (ok, failed with the reason, unknown). A merged contact answers with the contact it was merged into.", access: Access::Agent, body: None, handler: get(get_contact), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "PATCH", path: "/api/v1/contacts/{id}", summary: "Change a contact: name, first_name, last_name, email, phones (the whole list), fields (merged; null removes a field).", access: Access::Agent, body: body::<ContactInput>(), handler: patch(patch_contact), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "POST", path: "/api/v1/contacts/{id}/phones", summary: "Connect a WhatsApp number to the contact ({number}, any format); answers the contact with the number's state.", access: Access::Agent, body: body::<PhoneInput>(), handler: post(add_phone), doc: super::Doc::created::<super::wire::Contact>() },
        Endpoint { method: "POST", path: "/api/v1/contacts/{id}/merge", summary: "Merge another contact ({from}) into this one: numbers, conversations, interactions and cases move over.", access: Access::Supervisor, body: body::<MergeInput>(), handler: post(merge), doc: super::Doc::ok::<super::wire::Contact>() },
        Endpoint { method: "GET", path: "/api/v1/contacts/{id}/interactions", summary: "The contact's history: every interaction across channels and agents, newest first, paged with ?before=CURSOR&limit=N; ?transcripts=true adds each one's messages.", access: Access::Agent, body: None, handler: get(contact_history), doc: super::Doc::ok::<super::wire::ContactHistory>().query::<HistoryQuery>() },
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

// ------------------------------------------------------------------------------- contacts

#[derive(Deserialize, schemars::JsonSchema)]
struct ListQuery {
    phone: Option<String>,
    q: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/contacts`
async fn list_contacts(
    State(state): State<ContactsState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 100",
        ));
    }
    let found = match (q.phone.as_deref(), q.q.as_deref()) {
        (Some(phone), None) => {
            state
                .store
                .contacts_by_phone(&normalize_phone(phone)?)
                .await?
        }
        (None, Some(text)) => {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > TEXT_MAX {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("q must be 1 to {TEXT_MAX} characters"),
                ));
            }
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let phone_like = digits.len() >= 4
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            state
                .store
                .search_contacts(text, phone_like.then_some(digits.as_str()), limit)
                .await?
        }
        (None, None) => state.store.search_contacts("", None, limit).await?,
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give phone or q, not both",
            ))
        }
    };
    let list: Vec<ContactRecord> = found.into_iter().take(limit as usize).collect();
    Ok(ok(Value::Array(render_contacts(&state, &list).await?)))
}

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phones: Option<Vec<String>>,
    pub fields: Option<Map<String, Value>>,
}

/// `POST /api/v1/contacts`
async fn create_contact(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Json(req): Json<ContactInput>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let first = req
        .first_name
        .as_deref()
        .map(|v| clean_text("first_name", v))
        .transpose()?
        .flatten();
    let last = req
        .last_name
        .as_deref()
        .map(|v| clean_text("last_name", v))
        .transpose()?
        .flatten();
    let name = match req
        .name
        .as_deref()
        .map(|v| clean_text("name", v))
        .transpose()?
        .flatten()
    {
        Some(n) => n,
        None => {
            let joined = [first.as_deref(), last.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if joined.is_empty() {
                return Err(ApiError::invalid(
                    "invalid_contact",
                    "a contact needs a name (or a first or last name)",
                ));
            }
            joined
        }
    };
    let (split_first, split_last) = split_name(&name);
    let contact = ContactRecord {
        id: new_id("con", now),
        first_name: first.or(split_first),
        last_name: last.or(split_last),
        name,
        email: req.email.as_deref().map(clean_email).transpose()?.flatten(),
        fields: patch_fields(&json!({}), &req.fields.unwrap_or_default())?,
        phones: clean_phones(&req.phones.unwrap_or_default())?,
        merged_into: None,
        created_by: Some(user.id.clone()),
        created_at: now,
        updated_at: now,
    };
    // The contact and its `contact.created` for the external CRM, in one commit.
    state
        .core
        .store(Attach {
            crm_events: vec![crate::services::crm::event(
                crate::services::crm::CONTACT_CREATED,
                json!({"contact": contact_json(&contact, &[])}),
                now,
            )],
            contacts: vec![contact.clone()],
            ..Attach::default()
        })
        .await?;
    Ok(created(render_contact(&state, &contact).await?))
}

/// `GET /api/v1/contacts/{id}`
async fn get_contact(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = load_contact(&state, &id).await?;
    Ok(ok(render_contact(&state, &c).await?))
}

/// Read-modify-write of one contact, serialized per contact.
async fn update_with<F>(
    state: &ContactsState,
    id: &str,
    change: F,
) -> Result<ContactRecord, ApiError>
where
    F: FnOnce(&mut ContactRecord) -> Result<(), ApiError>,
{
    let key = LockKey::Contact(id.to_owned());
    let state2 = state.clone();
    let id = id.to_owned();
    state
        .locks
        .with(key, async move {
            let mut c = state2
                .store
                .contact(&id)
                .await?
                .filter(|c| c.merged_into.is_none())
                .ok_or_else(|| ApiError::not_found("contact"))?;
            change(&mut c)?;
            c.updated_at = state2.clock.now();
            state2
                .store
                .update_contact(&c)
                .await
                .map_err(store_not_found("contact"))?;
            Ok(c)
        })
        .await
}

/// `PATCH /api/v1/contacts/{id}`
async fn patch_contact(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Json(req): Json<ContactInput>,
) -> Result<Response, ApiError> {
    // Everything is checked before anything changes.
    let name = match req.name.as_deref() {
        Some(v) => Some(
            clean_text("name", v)?
                .ok_or_else(|| ApiError::invalid("invalid_contact", "the name may not be empty"))?,
        ),
        None => None,
    };
    let first = req
        .first_name
        .as_deref()
        .map(|v| clean_text("first_name", v))
        .transpose()?;
    let last = req
        .last_name
        .as_deref()
        .map(|v| clean_text("last_name", v))
        .transpose()?;
    let email = req.email.as_deref().map(clean_email).transpose()?;
    let phones = req.phones.as_deref().map(clean_phones).transpose()?;
    let fields = req.fields;
    let c = update_with(&state, &id, move |c| {
        if let Some(f) = &fields {
            c.fields = patch_fields(&c.fields, f)?;
        }
        if let Some(n) = name {
            c.name = n;
        }
        if let Some(f) = first {
            c.first_name = f;
        }
        if let Some(l) = last {
            c.last_name = l;
        }
        if let Some(e) = email {
            c.email = e;
        }
        if let Some(p) = phones {
            c.phones = p;
        }
        Ok(())
    })
    .await?;
    Ok(ok(render_contact(&state, &c).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    pub number: String,
}

/// `POST /api/v1/contacts/{id}/phones`
async fn add_phone(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Json(req): Json<PhoneInput>,
) -> Result<Response, ApiError> {
    let number = normalize_phone(&req.number)?;
    let c = update_with(&state, &id, move |c| {
        if !c.phones.contains(&number) {
            if c.phones.len() >= PHONES_MAX {
                return Err(ApiError::invalid(
                    "invalid_contact",
                    format!("a contact may have at most {PHONES_MAX} numbers"),
                ));
            }
            c.phones.push(number);
        }
        Ok(())
    })
    .await?;
    Ok(created(render_contact(&state, &c).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    pub from: String,
}

/// `POST /api/v1/contacts/{id}/merge`
async fn merge(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<MergeInput>,
) -> Result<Response, ApiError> {
    if req.from == id {
        return Err(ApiError::invalid(
            "invalid_merge",
            "a contact cannot be merged into itself",
        ));
    }
    let now = state.clock.now();
    let keys = [
        LockKey::Contact(id.clone()),
        LockKey::Contact(req.from.clone()),
    ];
    let state2 = state.clone();
    let from_id = req.from.clone();
    let into = state
        .locks
        .with_many(&keys, async move {
            let live = |c: Option<ContactRecord>| c.filter(|c| c.merged_into.is_none());
            let mut into = live(state2.store.contact(&id).await?)
                .ok_or_else(|| ApiError::not_found("contact"))?;
            let from = live(state2.store.contact(&from_id).await?)
                .ok_or_else(|| ApiError::not_found("contact"))?;
            into.first_name = into.first_name.or(from.first_name);
            into.last_name = into.last_name.or(from.last_name);
            into.email = into.email.or(from.email);
            let mut fields = from.fields.as_object().cloned().unwrap_or_default();
            fields.extend(into.fields.as_object().cloned().unwrap_or_default());
            into.fields = Value::Object(fields);
            for p in from.phones {
                if !into.phones.contains(&p) {
                    into.phones.push(p);
                }
            }
            // Open interactions of the merged contact follow it in the engine too.
            let from_key = from.id.clone();
            let open: Vec<InteractionId> = state2
                .core
                .read(move |s| {
                    s.engine
                        .interactions()
                        .filter(|i| i.contact_id.as_deref() == Some(from_key.as_str()))
                        .map(|i| i.id.clone())
                        .collect()
                })
                .await?;
            for iid in open {
                state2
                    .core
                    .call(
                        Command::SetContact {
                            by: user.id.clone(),
                            interaction: iid,
                            contact_id: Some(into.id.clone()),
                        },
                        Attach::default(),
                    )
                    .await?;
            }
            state2
                .store
                .merge_contacts(&into, &from.id, now)
                .await
                .map_err(store_not_found("contact"))?;
            Ok::<ContactRecord, ApiError>(into)
        })
        .await?;
    let into = load_contact(&state, &into.id).await?;
    Ok(ok(render_contact(&state, &into).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct HistoryQuery {
    before: Option<String>,
    limit: Option<i64>,
    transcripts: Option<bool>,
}

/// The history view of one interaction: who handled it, where, when, how it ended.
fn history_entry(it: &Interaction, engine: &Engine, now: Timestamp) -> Value {
    let mut v = views::interaction(it, engine, now);
    let agents: Vec<Value> = it
        .participants
        .iter()
        .map(|p| {
            json!({
                "agent_id": p.agent_id,
                "display_name": engine.agent(&p.agent_id).map(|a| a.display_name.clone()),
                "role": p.role,
                "disposition_code": p.disposition_code,
            })
        })
        .collect();
    v["agents"] = Value::Array(agents);
    v["queue_name"] = json!(engine.queue(&it.queue_id).map(|q| q.name.clone()));
    v
}

/// `GET /api/v1/contacts/{id}/interactions`
async fn contact_history(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let c = load_contact(&state, &id).await?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 100",
        ));
    }
    let cursor = match q.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(
            b.split_once('.')
                .and_then(|(at, id)| Some((Timestamp(at.parse::<i64>().ok()?), id.to_owned())))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_cursor",
                        "before must be a cursor from next_before",
                    )
                })?,
        ),
        None => None,
    };
    let rows = state
        .store
        .contact_interactions(
            &c.id,
            cursor.as_ref().map(|(t, id)| (*t, id.as_str())),
            limit,
        )
        .await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|i| format!("{}.{}", i.created_at.0, i.id)))
        .flatten();
    // While open, the engine's copy is the current one.
    let now = state.clock.now();
    let mut list = state
        .core
        .read(move |s| {
            rows.iter()
                .map(|i| {
                    let live = s.engine.interaction(&i.id).unwrap_or(i);
                    history_entry(live, &s.engine, now)
                })
                .collect::<Vec<_>>()
        })
        .await?;
    if q.transcripts.unwrap_or(false) {
        for v in &mut list {
            let iid = InteractionId(v["id"].as_str().unwrap_or_default().to_owned());
            let messages = state.store.messages_of_interaction(&iid, None, 500).await?;
            v["messages"] = Value::Array(messages.iter().map(views::message).collect());
        }
    }
    Ok(ok(
        json!({"contact": render_contact(&state, &c).await?, "interactions": list, "next_before": next_before}),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct CasesQuery {
    contact_id: Option<String>,
    unassigned: Option<bool>,
    /// With `unassigned=true`: only those of this conversation.
    conversation_id: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

fn check_case_state(s: Option<&str>) -> Result<(), ApiError> {
    match s {
        None | Some("open" | "closed") => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "invalid_state",
            "state must be open or closed",
        )),
    }
}

/// `GET /api/v1/contacts/{id}/cases`
async fn contact_cases(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Query(q): Query<CasesQuery>,
) -> Result<Response, ApiError> {
    let c = load_contact(&state, &id).await?;
    check_case_state(q.state.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let list = state
        .store
        .cases(CaseFilter::Contact(&c.id), q.state.as_deref(), limit)
        .await?;
    Ok(ok(Value::Array(list.iter().map(case_json).collect())))
}

/// `GET /api/v1/cases`
async fn list_cases(
    State(state): State<ContactsState>,
    Query(q): Query<CasesQuery>,
) -> Result<Response, ApiError> {
    check_case_state(q.state.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let contact = match &q.contact_id {
        Some(id) => Some(load_contact(&state, id).await?.id),
        None => None,
    };
    if q.conversation_id.is_some() && q.unassigned != Some(true) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "conversation_id goes with unassigned=true",
        ));
    }
    let filter = match (&contact, q.unassigned.unwrap_or(false)) {
        (Some(id), false) => CaseFilter::Contact(id),
        (None, true) => match &q.conversation_id {
            Some(c) => CaseFilter::UnassignedIn(c),
            None => CaseFilter::Unassigned,
        },
        (None, false) => CaseFilter::All,
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give contact_id or unassigned=true, not both",
            ))
        }
    };
    let list = state.store.cases(filter, q.state.as_deref(), limit).await?;
    Ok(ok(Value::Array(list.iter().map(case_json).collect())))
}

/// `GET /api/v1/cases/{id}`
async fn get_case(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = state
        .store
        .case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    let messages = state
        .store
        .messages_of_interaction(&c.interaction_id, None, 10_000)
        .await?;
    let notes = state.store.notes_of(&c.interaction_id).await?;
    let mut v = case_json(&c);
    v["transcript"] = Value::Array(messages.iter().map(views::message).collect());
    v["notes"] = Value::Array(notes.iter().map(views::note).collect());
    Ok(ok(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CasePatch {
    pub contact_id: Option<String>,
    pub subject: Option<String>,
}

/// `PATCH /api/v1/cases/{id}`
async fn patch_case(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Json(req): Json<CasePatch>,
) -> Result<Response, ApiError> {
    let case = state
        .store
        .case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    if req.contact_id.is_none() && req.subject.is_none() {
        return Err(ApiError::invalid(
            "invalid_case",
            "give contact_id or subject",
        ));
    }
    let subject = req
        .subject
        .as_deref()
        .map(|s| clean_text("subject", s))
        .transpose()?;
    let contact = match &req.contact_id {
        Some(cid) => Some(load_contact(&state, cid).await?),
        None => None,
    };
    let now = state.clock.now();
    if let Some(c) = &contact {
        state
            .store
            .assign_case(&case.id, &c.id, now)
            .await
            .map_err(store_not_found("case"))?;
        // An interaction without a contact takes the case's.
        if state
            .store
            .interaction_contact(&case.interaction_id)
            .await?
            .is_none()
        {
            let iid = case.interaction_id.clone();
            let live = state
                .core
                .read(move |s| s.engine.interaction(&iid).is_some())
                .await?;
            if !live {
                state
                    .store
                    .relink_finished(&case.interaction_id, Some(&c.id))
                    .await?;
            }
        }
    }
    if let Some(subject) = subject {
        state
            .store
            .set_case_subject(&case.id, subject.as_deref(), now)
            .await?;
    }
    let case = state
        .store
        .case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    Ok(ok(case_json(&case)))
}

// ------------------------------------------------------------------------------- screen pop

/// `GET /api/v1/interactions/{id}/screen-pop`
async fn screen_pop(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let phone = crate::services::contacts::e164_of_wa_id(&it.customer.wa_id);
    let matches = match &phone {
        Some(p) => state.store.contacts_by_phone(p).await?,
        None => Vec::new(),
    };
    let linked = match &it.contact_id {
        Some(cid) => load_contact(&state, cid).await.ok(),
        None => None,
    };
    let policy = state
        .core
        .read(|s| s.engine.settings().new_contact_policy)
        .await?;
    // the external CRM's answer beside the local one; on failure the local CRM stands.
    let external = match &phone {
        None => json!({"status": "not_configured"}),
        Some(p) => match crate::services::crm::lookup(&state.crm, &state.metrics, p).await {
            LookupOutcome::NotConfigured => json!({"status": "not_configured"}),
            LookupOutcome::Found(list) => json!({"status": "found", "contacts": list}),
            LookupOutcome::Failed(reason) => {
                json!({"status": "failed", "reason": reason.to_string()})
            }
        },
    };
    let (recent, open_cases) = match &linked {
        Some(c) => {
            let rows = state.store.contact_interactions(&c.id, None, 6).await?;
            let now = state.clock.now();
            let current = it.id.clone();
            let recent = state
                .core
                .read(move |s| {
                    rows.iter()
                        .filter(|i| i.id != current)
                        .take(5)
                        .map(|i| {
                            let live = s.engine.interaction(&i.id).unwrap_or(i);
                            history_entry(live, &s.engine, now)
                        })
                        .collect::<Vec<_>>()
                })
                .await?;
            let cases = state
                .store
                .cases(CaseFilter::Contact(&c.id), Some("open"), 10)
                .await?;
            (recent, cases.iter().map(case_json).collect::<Vec<_>>())
        }
        None => (Vec::new(), Vec::new()),
    };
    // Earlier chats of this conversation saved without a contact, to assign to one.
    let unassigned: Vec<Value> = state
        .store
        .cases(
            CaseFilter::UnassignedIn(it.conversation_id.as_str()),
            None,
            20,
        )
        .await?
        .iter()
        .map(case_json)
        .collect();
    let (first, last) = it
        .customer
        .name
        .as_deref()
        .map(split_name)
        .unwrap_or((None, None));
    let mut all = matches.clone();
    if let Some(c) = &linked {
        if !all.iter().any(|m| m.id == c.id) {
            all.push(c.clone());
        }
    }
    let rendered = render_contacts(&state, &all).await?;
    let linked_json = linked
        .as_ref()
        .and_then(|c| rendered.iter().find(|v| v["id"] == c.id.as_str()).cloned());
    let matches_json: Vec<Value> = rendered
        .iter()
        .filter(|v| matches.iter().any(|m| v["id"] == m.id.as_str()))
        .cloned()
        .collect();
    Ok(ok(json!({
        "interaction_id": it.id,
        "phone": phone,
        "match_count": matches_json.len(),
        "matches": matches_json,
        "contact": linked_json,
        "new_contact_policy": match policy {
            NewContactPolicy::Create => "create",
            NewContactPolicy::Prompt => "prompt",
        },
        "show_new_contact_form": linked_json.is_none() && matches_json.is_empty(),
        "prefill": {
            "name": it.customer.name,
            "first_name": first,
            "last_name": last,
            "phones": phone.iter().collect::<Vec<_>>(),
        },
        "recent_interactions": recent,
        "open_cases": open_cases,
        "unassigned_cases": unassigned,
        "external": external,
    })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub contact_id: Option<String>,
}

/// `PUT /api/v1/interactions/{id}/contact`
async fn link_contact(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    Json(req): Json<LinkInput>,
) -> Result<Response, ApiError> {
    let it = visible(&state.base(), &user, &id).await?;
    let contact = match &req.contact_id {
        Some(cid) => Some(load_contact(&state, cid).await?),
        None => None,
    };
    let contact_id = contact.as_ref().map(|c| c.id.clone());
    let iid = it.id.clone();
    let live = state
        .core
        .read(move |s| s.engine.interaction(&iid).is_some())
        .await?;
    if live {
        // The conversation follows, so that the customer's next interaction is linked too.
        let conversations = contact_id
            .as_ref()
            .map(|cid| ConversationRecord {
                id: it.conversation_id.clone(),
                channel_id: it.channel_id.clone(),
                wa_id: it.customer.wa_id.clone(),
                customer_name: None,
                contact_id: Some(cid.clone()),
                last_inbound_at: None,
                last_agent_id: None,
                created_at: it.created_at,
            })
            .into_iter()
            .collect();
        state
            .core
            .call(
                Command::SetContact {
                    by: user.id.clone(),
                    interaction: it.id.clone(),
                    contact_id: contact_id.clone(),
                },
                Attach {
                    conversations,
                    ..Attach::default()
                },
            )
            .await?;
    } else {
        state
            .store
            .relink_finished(&it.id, contact_id.as_deref())
            .await?;
    }
    let mut v = as_seen(&state.base(), &user, &id).await?;
    if !live {
        v["contact"] = json!(contact_id.as_ref().map(|c| json!({"id": c})));
    }
    Ok(ok(v))
}

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseInput {
    pub subject: Option<String>,
}

/// `POST /api/v1/interactions/{id}/case`
async fn save_case(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: CaseInput = if body.iter().all(u8::is_ascii_whitespace) {
        CaseInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid("invalid_body", format!("invalid JSON body: {e}")))?
    };
    let subject = req
        .subject
        .as_deref()
        .map(|s| clean_text("subject", s))
        .transpose()?
        .flatten();
    let it = visible(&state.base(), &user, &id).await?;
    if it.state == InteractionState::Done {
        return match state.store.case_of_interaction(&it.id).await? {
            Some(c) => Ok(ok(case_json(&c))),
            None => Err(ApiError::conflict(
                "not_active",
                "the interaction is finished and was never handled",
            )),
        };
    }
    let now = state.clock.now();
    let case = CaseRecord {
        id: new_id("case", now),
        state: "open".into(),
        contact_id: it.contact_id.clone(),
        interaction_id: it.id.clone(),
        conversation_id: it.conversation_id.clone(),
        queue_id: Some(it.queue_id.clone()),
        subject,
        agents: json!([]),
        disposition_code: None,
        initiated_at: it.created_at,
        accepted_at: it.accepted_at,
        ended_at: it.ended_at,
        created_by: Some(user.id.clone()),
        created_at: now,
        closed_at: None,
        updated_at: now,
    };
    let saved = state.store.open_case(&case).await?;
    if saved.id == case.id {
        state
            .core
            .store(Attach {
                crm_events: vec![crate::services::crm::event(
                    crate::services::crm::CASE_CREATED,
                    json!({"case": case_json(&saved)}),
                    now,
                )],
                ..Attach::default()
            })
            .await?;
    }
    Ok(created(case_json(&saved)))
}

// ------------------------------------------------------------------------------- outbound starts

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    pub contact_id: Option<String>,
    pub phone: Option<String>,
    pub channel_id: Option<String>,
    pub text: Option<String>,
}

/// `POST /api/v1/interactions`
async fn start_outbound(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Json(req): Json<StartInput>,
) -> Result<Response, ApiError> {
    let contact = match &req.contact_id {
        Some(cid) => Some(load_contact(&state, cid).await?),
        None => None,
    };
    let phone =
        match (&req.phone, &contact) {
            (Some(p), _) => normalize_phone(p)?,
            (None, Some(c)) => c.phones.first().cloned().ok_or_else(|| {
                ApiError::invalid("no_number", "the contact has no WhatsApp number")
            })?,
            (None, None) => {
                return Err(ApiError::invalid(
                    "invalid_target",
                    "give contact_id or phone",
                ))
            }
        };
    if let (Some(c), Some(_)) = (&contact, &req.phone) {
        if !c.phones.contains(&phone) {
            return Err(ApiError::invalid(
                "invalid_target",
                "that number is not one of the contact's",
            ));
        }
    }
    let channels = state.channels.all();
    let channel = match &req.channel_id {
        Some(id) => channels
            .into_iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| ApiError::invalid("unknown_channel", "no such channel"))?,
        None => match channels.len() {
            1 => channels.into_iter().next().ok_or_else(ApiError::internal)?,
            0 => {
                return Err(ApiError::invalid(
                    "no_channel",
                    "no WhatsApp number is connected",
                ))
            }
            _ => {
                return Err(ApiError::invalid(
                    "channel_required",
                    "several WhatsApp numbers are connected: give channel_id",
                ))
            }
        },
    };
    if let Some(text) = &req.text {
        if text.trim().is_empty() {
            return Err(ApiError::invalid("empty_message", "the message is empty"));
        }
    }
    let wa_id = wa_id_of(&phone);
    let conv = ConversationId(conversation_id(Some(&channel.id), &wa_id));
    let stored = state.store.conversation(&conv).await?;
    let last_inbound_at = stored.as_ref().and_then(|c| c.last_inbound_at);
    let now = state.clock.now();
    // A free text outside the 24-hour window is refused before anything opens.
    if req.text.is_some() && !window_open(last_inbound_at, now) {
        return Err(ApiError::invalid(
            "template_required",
            "the customer has not written in the last 24 hours: start with a template",
        ));
    }
    // The contact given, else the conversation's, else the first with this number.
    let contact = match contact {
        Some(c) => Some(c),
        None => match stored.as_ref().and_then(|c| c.contact_id.clone()) {
            Some(cid) => load_contact(&state, &cid).await.ok(),
            None => state
                .store
                .contacts_by_phone(&phone)
                .await?
                .into_iter()
                .next(),
        },
    };
    let contact_id = contact.as_ref().map(|c| c.id.clone());
    let name = contact
        .as_ref()
        .map(|c| c.name.clone())
        .or_else(|| stored.as_ref().and_then(|c| c.customer_name.clone()));
    let reply = state
        .core
        .call(
            Command::StartOutbound(Outbound {
                agent: user.id.clone(),
                new_interaction_id: InteractionId(new_id("int", now)),
                conversation_id: conv.clone(),
                queue_id: channel.queue_id.clone(),
                channel_id: Some(channel.id.clone()),
                source_number: Some(channel.display_phone_number.clone()),
                customer: Customer {
                    wa_id: wa_id.clone(),
                    name: name.clone(),
                },
                contact_id: contact_id.clone(),
                last_inbound_at,
            }),
            Attach {
                conversations: vec![ConversationRecord {
                    id: conv.clone(),
                    channel_id: Some(channel.id.clone()),
                    wa_id,
                    customer_name: None,
                    contact_id,
                    last_inbound_at: None,
                    last_agent_id: None,
                    created_at: now,
                }],
                ..Attach::default()
            },
        )
        .await?;
    let Reply::Inbound { interaction_id, .. } = reply else {
        return Err(ApiError::internal());
    };
    let it = visible(&state.base(), &user, interaction_id.as_str()).await?;
    if let Some(text) = req.text {
        send_text(&state.messaging(), &user, &it, text).await?;
    }
    Ok(created(
        as_seen(&state.base(), &user, interaction_id.as_str()).await?,
    ))
}

// ------------------------------------------------------------------------------- history

fn scope_of(user: &AuthUser, queue_ids: Vec<String>) -> SearchScope {
    if user.is_supervisor() {
        SearchScope::All
    } else {
        SearchScope::Agent {
            agent_id: user.id.clone(),
            queue_ids,
        }
    }
}

async fn scope(state: &ContactsState, user: &AuthUser) -> Result<SearchScope, ApiError> {
    let me = user.id.clone();
    let queues = state
        .core
        .read(move |s| {
            s.engine
                .agent(&me)
                .map(|a| {
                    a.queue_ids
                        .iter()
                        .map(|q| q.to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .await?;
    Ok(scope_of(user, queues))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ConversationsQuery {
    channel_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/conversations`
async fn conversations(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<ConversationsQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 200",
        ));
    }
    let scope = scope(&state, &user).await?;
    let list = state
        .store
        .conversation_list(q.channel_id.as_deref(), &scope, limit)
        .await?;
    let v: Vec<Value> = list
        .iter()
        .map(|s| {
            json!({
                "id": s.conversation.id,
                "channel_id": s.conversation.channel_id,
                "wa_id": s.conversation.wa_id,
                "customer_name": s.conversation.customer_name,
                "contact_id": s.conversation.contact_id,
                "contact_name": s.contact_name,
                "unread": s.unread,
                "last_message": s.last_message.as_ref().map(views::message),
                "last_inbound_at": s.conversation.last_inbound_at.map(views::ts),
            })
        })
        .collect();
    Ok(ok(Value::Array(v)))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SearchQuery {
    q: Option<String>,
    conversation_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/search`
async fn search(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    let text = q.q.unwrap_or_default();
    let words = search_words(&text);
    if words.is_empty() || text.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "q must hold at least one word (letters or digits), at most 500 characters",
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 200",
        ));
    }
    let scope = scope(&state, &user).await?;
    let conv = q.conversation_id.map(ConversationId);
    let hits = state
        .store
        .search_messages(&words, conv.as_ref(), &scope, limit)
        .await?;
    let v: Vec<Value> = hits.iter().map(views::message).collect();
    Ok(ok(json!({"query": words, "messages": v})))
}
