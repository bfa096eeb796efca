//! Rules about one interaction that handlers and services share: which interaction a caller may
//! see and how they see it, and WhatsApp's 24-hour window for free-form messages.

use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::auth::AuthUser;
use crate::services::Base;
use serde_json::Value;
use switchboard_domain::*;

/// The interaction as the caller may see it: from the engine while live, from the store after.
/// One they may not see answers 404 exactly like a missing id.
pub async fn visible(state: &Base, user: &AuthUser, id: &str) -> Result<Interaction, ApiError> {
    let iid = InteractionId(id.to_owned());
    let me = user.id.clone();
    let key = iid.clone();
    let live = state
        .core
        .read(move |s| {
            s.engine
                .interaction(&key)
                .map(|i| (s.engine.can_see(&me, i), i.clone()))
        })
        .await?;
    match live {
        Some((true, it)) => Ok(it),
        Some((false, _)) => Err(ApiError::not_found("interaction")),
        None => {
            let it = state
                .store
                .interaction(&iid)
                .await?
                .ok_or_else(|| ApiError::not_found("interaction"))?;
            if user.is_supervisor() || state.store.was_participant(&iid, &user.id).await? {
                Ok(it)
            } else {
                Err(ApiError::not_found("interaction"))
            }
        }
    }
}

/// The JSON of an interaction (`views::interaction`), with the engine's view of its agents now.
pub async fn render(state: &Base, it: Interaction) -> Result<Value, ApiError> {
    let now = state.clock.now();
    state
        .core
        .read(move |s| views::interaction(&it, &s.engine, now))
        .await
}

/// The interaction `id` as the caller sees it: [`visible`], then [`render`].
pub async fn as_seen(state: &Base, user: &AuthUser, id: &str) -> Result<Value, ApiError> {
    render(state, visible(state, user, id).await?).await
}

/// Whether WhatsApp's 24-hour window is open at `now` for a customer whose last message came at
/// `last_inbound_at`: free-form messages may be sent only within 24 hours of it; without any
/// customer message (an outbound start not answered yet) there is no window.
pub fn window_open(last_inbound_at: Option<Timestamp>, now: Timestamp) -> bool {
    last_inbound_at.is_some_and(|t| now.0 - t.0 < WINDOW_MS)
}

/// Refuses a free-form message on `it` outside its 24-hour window (see [`window_open`]).
pub fn require_window(it: &Interaction, now: Timestamp) -> Result<(), ApiError> {
    if !window_open(it.last_inbound_at, now) {
        return Err(ApiError::invalid(
            "template_required",
            "more than 24 hours have passed since the customer's last message; only a template can be sent",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::window_open;
    use switchboard_domain::{Timestamp, WINDOW_MS};

    #[test]
    fn the_window_is_open_for_24_hours_after_the_customers_last_message() {
        let at = Timestamp(1_000_000);
        assert!(window_open(Some(at), at));
        assert!(window_open(Some(at), Timestamp(at.0 + WINDOW_MS - 1)));
        assert!(!window_open(Some(at), Timestamp(at.0 + WINDOW_MS)));
        assert!(!window_open(None, at), "no customer message, no window");
    }
}
