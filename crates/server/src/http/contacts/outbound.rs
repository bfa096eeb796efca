//! Outbound starts: an agent opens a conversation with a contact.

use super::*;

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
pub(super) async fn start_outbound(
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
