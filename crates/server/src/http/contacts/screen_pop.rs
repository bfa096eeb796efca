//! The screen pop of an interaction, re-linking its contact and saving its case (R-4.2 … ).

use super::*;

// ------------------------------------------------------------------------------- screen pop

/// `GET /api/v1/interactions/{id}/screen-pop`
pub(super) async fn screen_pop(
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
pub(super) async fn link_contact(
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
pub(super) async fn save_case(
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
    // The agents so far, named as the live engine knows them.
    let named = it.clone();
    let agents = state
        .core
        .read(move |s| case_agents(&named, &s.engine))
        .await?;
    let case = CaseRecord {
        id: new_id("case", now),
        state: "open".into(),
        contact_id: it.contact_id.clone(),
        interaction_id: it.id.clone(),
        conversation_id: it.conversation_id.clone(),
        queue_id: Some(it.queue_id.clone()),
        subject,
        agents,
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
