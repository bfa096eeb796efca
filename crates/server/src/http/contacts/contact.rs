//! Contacts: list, create, read, change, numbers, merge, and a contact's history (R-4.1 … ).

use super::*;

// ------------------------------------------------------------------------------- contacts

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct ListQuery {
    phone: Option<String>,
    q: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/contacts`
pub(super) async fn list_contacts(
    State(state): State<ContactsState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(q.limit, 20, 100)?;
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
pub(super) async fn create_contact(
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
pub(super) async fn get_contact(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let c = load_contact(&state, &id).await?;
    Ok(ok(render_contact(&state, &c).await?))
}

/// Read-modify-write of one contact, serialized per contact.
pub(super) async fn update_with<F>(
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
pub(super) async fn patch_contact(
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
pub(super) async fn add_phone(
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
pub(super) async fn merge(
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
pub(super) struct HistoryQuery {
    before: Option<String>,
    limit: Option<i64>,
    transcripts: Option<bool>,
}

/// The history view of one interaction: who handled it, where, when, how it ended.
pub(super) fn history_entry(it: &Interaction, engine: &Engine, now: Timestamp) -> Value {
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
pub(super) async fn contact_history(
    State(state): State<ContactsState>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let c = load_contact(&state, &id).await?;
    let limit = paging::limit(q.limit, 20, 100)?;
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
            // Private notes are part of the history, drawn beside the messages.
            let notes = state.store.notes_of(&iid).await?;
            v["notes"] = Value::Array(notes.iter().map(views::note).collect());
        }
    }
    Ok(ok(
        json!({"contact": render_contact(&state, &c).await?, "interactions": list, "next_before": next_before}),
    ))
}
