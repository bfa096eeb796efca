//! Queries of the WhatsApp channel: channels, the outbox, early statuses, lookups by WhatsApp id.

use crate::error::{is_unique_violation, Result, StoreError};
use crate::ops::now_ms;
use crate::records::{ChannelRecord, MessageRecord, OutboxRecord, PendingStatus};
use crate::rows::{self, RowExt, CHANNEL_COLUMNS, MESSAGE_COLUMNS, OUTBOX_COLUMNS};
use crate::Store;
use switchboard_domain::model::Timestamp;

impl Store {
    /// Creates or replaces a channel. `Conflict` if another live channel has its number id.
    pub async fn upsert_channel(&self, c: &ChannelRecord) -> Result<()> {
        let now = now_ms();
        let result: std::result::Result<(), sqlx::Error> = dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO channels (id, kind, phone_number_id, display_phone_number, waba_id, \
                 access_token, app_secret, verify_token, queue_id, deleted, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, \
                 phone_number_id = excluded.phone_number_id, \
                 display_phone_number = excluded.display_phone_number, waba_id = excluded.waba_id, \
                 access_token = excluded.access_token, app_secret = excluded.app_secret, \
                 verify_token = excluded.verify_token, queue_id = excluded.queue_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(c.id.as_str())
            .bind(c.kind.as_str())
            .bind(c.phone_number_id.as_str())
            .bind(c.display_phone_number.as_str())
            .bind(c.waba_id.as_deref())
            .bind(c.access_token.as_str())
            .bind(c.app_secret.as_str())
            .bind(c.verify_token.as_str())
            .bind(c.queue_id.as_str())
            .bind(c.created_at.0)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "a channel for phone number id {}",
                c.phone_number_id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a channel deleted; `NotFound` if there is no live channel with that id.
    pub async fn delete_channel(&self, id: &str) -> Result<()> {
        let now = now_ms();
        let n = dispatch!(self, pool => {
            sqlx::query("UPDATE channels SET deleted = TRUE, updated_at = $1 WHERE id = $2 AND NOT deleted")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Live channels.
    pub async fn channels(&self) -> Result<Vec<ChannelRecord>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE NOT deleted ORDER BY created_at, id"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(rows::channel).collect()
        })
    }

    /// Stored messages with any of these WhatsApp ids.
    pub async fn messages_by_wa_ids(&self, wa_ids: &[String]) -> Result<Vec<MessageRecord>> {
        if wa_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for chunk in wa_ids.chunks(500) {
            let rows: Vec<MessageRecord> = dispatch!(self, pool => {
                let mut qb = sqlx::QueryBuilder::new(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE wa_message_id IN ("
                ));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(id.as_str());
                }
                qb.push(")");
                let rows = qb.build().fetch_all(pool).await?;
                rows.iter().map(rows::message).collect::<Result<Vec<_>>>()?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// The stored conversations among `ids` (one query for a whole webhook).
    pub async fn conversations_by_ids(
        &self,
        ids: &[switchboard_domain::model::ConversationId],
    ) -> Result<Vec<crate::ConversationRecord>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<crate::ConversationRecord> = dispatch!(self, pool => {
                let mut qb = sqlx::QueryBuilder::new(format!(
                    "SELECT {} FROM conversations WHERE id IN (",
                    rows::CONVERSATION_COLUMNS
                ));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(id.as_str());
                }
                qb.push(")");
                let rows = qb.build().fetch_all(pool).await?;
                rows.iter().map(rows::conversation).collect::<Result<Vec<_>>>()?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// For each of these E.164 numbers that a contact has, the first such contact (oldest, not
    /// merged away), as `contacts_by_phone(number).first()` would find it: one query for a whole
    /// webhook's new conversations.
    pub async fn first_contacts_by_phones(
        &self,
        numbers: &[String],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in numbers.chunks(500) {
            let rows: Vec<(String, String)> = dispatch!(self, pool => {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT p.number AS number, c.id AS id FROM contact_phones p \
                     JOIN contacts c ON c.id = p.contact_id \
                     WHERE c.merged_into IS NULL AND p.number IN (",
                );
                let mut sep = qb.separated(", ");
                for n in chunk {
                    sep.push_bind(n.as_str());
                }
                qb.push(") ORDER BY c.created_at, c.id");
                let rows = qb.build().fetch_all(pool).await?;
                rows.iter()
                    .map(|r| Ok((r.text("number")?, r.text("id")?)))
                    .collect::<Result<Vec<_>>>()?
            });
            for (number, id) in rows {
                out.entry(number).or_insert(id);
            }
        }
        Ok(out)
    }

    /// Statuses kept for a WhatsApp id that was not known when they arrived.
    pub async fn pending_statuses_for(&self, wa_message_id: &str) -> Result<Vec<PendingStatus>> {
        dispatch!(self, pool => {
            let rows = sqlx::query(
                "SELECT wa_message_id, status, payload, received_at FROM pending_statuses \
                 WHERE wa_message_id = $1 ORDER BY received_at, status",
            )
            .bind(wa_message_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(rows::pending_status).collect()
        })
    }

    /// The newest error of a send attempt from `channel_id` (a retry or a failure), with when it
    /// was written: what the outbox rows keep of each attempt.
    pub async fn last_send_error(
        &self,
        channel_id: &str,
    ) -> Result<Option<(Timestamp, serde_json::Value)>> {
        dispatch!(self, pool => {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT updated_at, last_error FROM outbox \
                 WHERE channel_id = $1 AND last_error IS NOT NULL \
                 ORDER BY updated_at DESC, message_id DESC LIMIT 1",
            )
            .bind(channel_id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(at, e)| {
                let v = serde_json::from_str(&e).unwrap_or(serde_json::Value::String(e));
                (Timestamp(at), v)
            }))
        })
    }

    /// Pending sends due at `now`, oldest first. A send waits while an earlier one to the same
    /// recipient is waiting for a retry, so a customer receives messages in order.
    pub async fn due_outbox(&self, now: Timestamp, limit: i64) -> Result<Vec<OutboxRecord>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox o WHERE o.state = 'pending' \
             AND o.next_attempt_at <= $1 AND NOT EXISTS (SELECT 1 FROM outbox p \
               WHERE p.state = 'pending' AND p.channel_id = o.channel_id \
               AND p.recipient = o.recipient AND p.message_id < o.message_id \
               AND p.next_attempt_at > $1) \
             ORDER BY o.message_id LIMIT $2"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql).bind(now.0).bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter().map(rows::outbox).collect()
        })
    }

    /// When the next pending send can go, if any: the earliest retry time of the first pending
    /// row of each recipient (a later row waits for its recipient's first, see
    /// [`due_outbox`](Self::due_outbox), so its own time says nothing).
    pub async fn next_outbox_at(&self) -> Result<Option<Timestamp>> {
        dispatch!(self, pool => {
            let row: Option<(Option<i64>,)> = sqlx::query_as(
                "SELECT MIN(o.next_attempt_at) FROM outbox o WHERE o.state = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' \
                   AND p.channel_id = o.channel_id AND p.recipient = o.recipient \
                   AND p.message_id < o.message_id)",
            )
            .fetch_optional(pool)
            .await?;
            Ok(row.and_then(|r| r.0).map(Timestamp))
        })
    }
}
