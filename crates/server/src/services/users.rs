//! Users: creating one (the first admin at start-up and `POST /api/v1/agents` go through the
//! same steps).

use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::services::Base;
use switchboard_domain::*;
use switchboard_store::{AuditRecord, Changeset, StoreError};

/// Creates the user `username` with the password hash `hash` as the agent `config` (offline,
/// since `now`): the user row first, then the agent in the engine. A username already taken
/// answers 409 `username_taken`. If the engine refuses the agent after all (a queue vanished
/// meanwhile), the row is retired again and the engine's refusal returned, so a refused
/// creation leaves no user behind. `audit` is committed with the engine's agent.
pub async fn create_user(
    state: &Base,
    config: AgentConfig,
    username: &str,
    hash: &str,
    now: Timestamp,
    audit: Vec<AuditRecord>,
) -> Result<(), ApiError> {
    let agent = Agent {
        id: config.id.clone(),
        display_name: config.display_name.clone(),
        role: config.role,
        capacity: config.capacity,
        can_reject: config.can_reject,
        queue_ids: config.queue_ids.clone(),
        presence: Presence::Offline,
        break_reason: None,
        stop_new: false,
        presence_since: now,
        last_idle_at: now,
        disconnected_since: None,
    };
    state
        .store
        .create_user(&agent, username, hash, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::conflict(
                "username_taken",
                format!("the username '{username}' is taken"),
            ),
            other => other.into(),
        })?;
    if let Err(e) = state
        .core
        .call(
            Command::UpsertAgent(config),
            Attach {
                audit,
                ..Attach::default()
            },
        )
        .await
    {
        // The engine refused after all: retire the row again.
        let _ = state
            .store
            .commit(&Changeset {
                deleted_agents: vec![agent.id],
                ..Changeset::default()
            })
            .await;
        return Err(e);
    }
    Ok(())
}
