//! Decoding rows of either backend into records and domain types.
//!
//! [`RowExt`] gives SQLite and PostgreSQL rows the same few typed getters, so each decoder is
//! written once. A value that does not decode is [`StoreError::Corrupt`], never a panic.

use crate::error::{Result, StoreError};
use crate::records::{ConversationRecord, EventRecord, MessageRecord, NoteRecord, UserRecord};
use serde::de::DeserializeOwned;
use sqlx::Row;
use switchboard_domain::model::{Agent, AgentId, Presence, Role, Timestamp};

/// Typed column getters shared by `SqliteRow` and `PgRow`.
pub(crate) trait RowExt {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;

    fn ts(&self, col: &str) -> Result<Timestamp> {
        self.int(col).map(Timestamp)
    }
    fn opt_ts(&self, col: &str) -> Result<Option<Timestamp>> {
        Ok(self.opt_int(col)?.map(Timestamp))
    }
    /// A TEXT column holding JSON.
    fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        let text = self.text(col)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
    fn opt_json<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))),
        }
    }
}

fn corrupt(col: &str, err: sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("{col}: {err}"))
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, col: &str) -> Result<String> {
                self.try_get::<String, _>(col).map_err(|e| corrupt(col, e))
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>> {
                self.try_get::<Option<String>, _>(col)
                    .map_err(|e| corrupt(col, e))
            }
            fn int(&self, col: &str) -> Result<i64> {
                self.try_get::<i64, _>(col).map_err(|e| corrupt(col, e))
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>> {
                self.try_get::<Option<i64>, _>(col)
                    .map_err(|e| corrupt(col, e))
            }
            fn flag(&self, col: &str) -> Result<bool> {
                self.try_get::<bool, _>(col).map_err(|e| corrupt(col, e))
            }
        }
    };
}

impl_row_ext!(sqlx::sqlite::SqliteRow);
impl_row_ext!(sqlx::postgres::PgRow);

/// Columns of `users` read by [`user_record`] and [`agent`].
pub(crate) const USER_COLUMNS: &str = "id, username, password_hash, display_name, role, capacity, \
     can_reject, queue_ids, presence, break_reason, stop_new, presence_since, last_idle_at, \
     disconnected_since, deleted, created_at";

pub(crate) const CONVERSATION_COLUMNS: &str =
    "id, channel_id, wa_id, customer_name, contact_id, last_inbound_at, last_agent_id, created_at";

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, interaction_id, direction, \
     author_id, kind, body, payload, wa_message_id, status, error, created_at, updated_at";

pub(crate) const NOTE_COLUMNS: &str = "id, interaction_id, author_id, body, created_at";

pub(crate) const EVENT_COLUMNS: &str = "user_id, seq, kind, data, created_at";

fn role(row: &impl RowExt) -> Result<Role> {
    let text = row.text("role")?;
    Role::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("role: unknown {text:?}")))
}

pub(crate) fn user_record(row: &impl RowExt) -> Result<UserRecord> {
    Ok(UserRecord {
        id: AgentId(row.text("id")?),
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        role: role(row)?,
        deleted: row.flag("deleted")?,
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn agent(row: &impl RowExt) -> Result<Agent> {
    let capacity = row.int("capacity")?;
    let presence = row.text("presence")?;
    Ok(Agent {
        id: AgentId(row.text("id")?),
        display_name: row.text("display_name")?,
        role: role(row)?,
        capacity: u32::try_from(capacity)
            .map_err(|_| StoreError::Corrupt(format!("capacity: out of range {capacity}")))?,
        can_reject: row.flag("can_reject")?,
        queue_ids: row.json("queue_ids")?,
        presence: Presence::parse(&presence)
            .ok_or_else(|| StoreError::Corrupt(format!("presence: unknown {presence:?}")))?,
        break_reason: row.opt_text("break_reason")?,
        stop_new: row.flag("stop_new")?,
        presence_since: row.ts("presence_since")?,
        last_idle_at: row.ts("last_idle_at")?,
        disconnected_since: row.opt_ts("disconnected_since")?,
    })
}

pub(crate) fn conversation(row: &impl RowExt) -> Result<ConversationRecord> {
    Ok(ConversationRecord {
        id: row.text("id")?.into(),
        channel_id: row.opt_text("channel_id")?,
        wa_id: row.text("wa_id")?,
        customer_name: row.opt_text("customer_name")?,
        contact_id: row.opt_text("contact_id")?,
        last_inbound_at: row.opt_ts("last_inbound_at")?,
        last_agent_id: row.opt_text("last_agent_id")?.map(AgentId),
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn message(row: &impl RowExt) -> Result<MessageRecord> {
    Ok(MessageRecord {
        id: row.text("id")?,
        conversation_id: row.text("conversation_id")?.into(),
        interaction_id: row.opt_text("interaction_id")?.map(Into::into),
        direction: row.text("direction")?,
        author_id: row.opt_text("author_id")?.map(AgentId),
        kind: row.text("kind")?,
        body: row.opt_text("body")?,
        payload: row.json("payload")?,
        wa_message_id: row.opt_text("wa_message_id")?,
        status: row.text("status")?,
        error: row.opt_json("error")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

pub(crate) fn note(row: &impl RowExt) -> Result<NoteRecord> {
    Ok(NoteRecord {
        id: row.text("id")?,
        interaction_id: row.text("interaction_id")?.into(),
        author_id: AgentId(row.text("author_id")?),
        body: row.text("body")?,
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn event(row: &impl RowExt) -> Result<EventRecord> {
    Ok(EventRecord {
        user_id: AgentId(row.text("user_id")?),
        seq: row.int("seq")?,
        kind: row.text("kind")?,
        data: row.json("data")?,
        created_at: row.ts("created_at")?,
    })
}

/// An event with its `data` left as the stored JSON text.
pub(crate) fn encoded_event(row: &impl RowExt) -> Result<EventRecord<String>> {
    Ok(EventRecord {
        user_id: AgentId(row.text("user_id")?),
        seq: row.int("seq")?,
        kind: row.text("kind")?,
        data: row.text("data")?,
        created_at: row.ts("created_at")?,
    })
}

/// Serializes a value bound as a JSON TEXT column.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("unencodable value: {e}")))
}

pub(crate) const CHANNEL_COLUMNS: &str = "id, kind, phone_number_id, display_phone_number, \
     waba_id, access_token, app_secret, verify_token, queue_id, created_at";

pub(crate) const OUTBOX_COLUMNS: &str = "message_id, channel_id, recipient, request, state, \
     attempts, next_attempt_at, last_error, created_at";

pub(crate) fn channel(row: &impl RowExt) -> Result<crate::ChannelRecord> {
    Ok(crate::ChannelRecord {
        id: row.text("id")?,
        kind: row.text("kind")?,
        phone_number_id: row.text("phone_number_id")?,
        display_phone_number: row.text("display_phone_number")?,
        waba_id: row.opt_text("waba_id")?,
        access_token: row.text("access_token")?,
        app_secret: row.text("app_secret")?,
        verify_token: row.text("verify_token")?,
        queue_id: row.text("queue_id")?.into(),
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn outbox(row: &impl RowExt) -> Result<crate::OutboxRecord> {
    Ok(crate::OutboxRecord {
        message_id: row.text("message_id")?,
        channel_id: row.text("channel_id")?,
        recipient: row.text("recipient")?,
        request: row.json("request")?,
        state: row.text("state")?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.ts("next_attempt_at")?,
        last_error: row.opt_json("last_error")?,
        created_at: row.ts("created_at")?,
    })
}

pub(crate) fn pending_status(row: &impl RowExt) -> Result<crate::PendingStatus> {
    Ok(crate::PendingStatus {
        wa_message_id: row.text("wa_message_id")?,
        status: row.text("status")?,
        payload: row.json("payload")?,
        received_at: row.ts("received_at")?,
    })
}

pub(crate) const CRM_EVENT_COLUMNS: &str = "id, kind, payload, body, state, attempts, \
     next_attempt_at, last_error, created_at, delivered_at";

pub(crate) fn crm_event(row: &impl RowExt) -> Result<crate::CrmEventRecord> {
    Ok(crate::CrmEventRecord {
        id: row.text("id")?,
        kind: row.text("kind")?,
        payload: row.json("payload")?,
        body: row.opt_text("body")?,
        state: row.text("state")?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.ts("next_attempt_at")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.ts("created_at")?,
        delivered_at: row.opt_ts("delivered_at")?,
    })
}
