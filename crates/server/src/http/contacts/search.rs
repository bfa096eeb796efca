//! The communication list and full-text search, scoped to what the caller may see.

use super::*;

// ------------------------------------------------------------------------------- history

pub(super) fn scope_of(user: &AuthUser, queue_ids: Vec<String>) -> SearchScope {
    if user.is_supervisor() {
        SearchScope::All
    } else {
        SearchScope::Agent {
            agent_id: user.id.clone(),
            queue_ids,
        }
    }
}

pub(super) async fn scope(state: &ContactsState, user: &AuthUser) -> Result<SearchScope, ApiError> {
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
pub(super) struct ConversationsQuery {
    channel_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/conversations`
pub(super) async fn conversations(
    State(state): State<ContactsState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<ConversationsQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(q.limit, 50, 200)?;
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
pub(super) struct SearchQuery {
    q: Option<String>,
    conversation_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/search`
pub(super) async fn search(
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
    let limit = paging::limit(q.limit, 50, 200)?;
    let scope = scope(&state, &user).await?;
    let conv = q.conversation_id.map(ConversationId);
    let hits = state
        .store
        .search_messages(&words, conv.as_ref(), &scope, limit)
        .await?;
    let v: Vec<Value> = hits.iter().map(views::message).collect();
    Ok(ok(json!({"query": words, "messages": v})))
}
