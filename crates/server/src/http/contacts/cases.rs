//! Cases: a contact's and all cases, one case, and changing its state or subject.

use super::*;

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct CasesQuery {
    contact_id: Option<String>,
    unassigned: Option<bool>,
    /// With `unassigned=true`: only those of this conversation.
    conversation_id: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

pub(super) fn check_case_state(s: Option<&str>) -> Result<(), ApiError> {
    match s {
        None | Some("open" | "closed") => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "invalid_state",
            "state must be open or closed",
        )),
    }
}

/// `GET /api/v1/contacts/{id}/cases`
pub(super) async fn contact_cases(
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
pub(super) async fn list_cases(
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
pub(super) async fn get_case(
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
pub(super) async fn patch_case(
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
