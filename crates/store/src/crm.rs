//! Queries of the external CRM's event queue (`crm_events`). Rows are inserted only through
//! [`Store::commit`](crate::Store::commit), with the change they report; here they are read, built,
//! and moved between `pending`, `delivered` and `dead`.

use crate::error::{Result, StoreError};
use crate::ops::now_ms;
use crate::records::{CrmEventRecord, CrmEventUpdate};
use crate::rows::{self, CRM_EVENT_COLUMNS};
use crate::Store;
use switchboard_domain::model::Timestamp;

impl Store {
    /// The oldest pending event (in commit order), due or not: events go out strictly in order,
    /// so a later one waits while an earlier one waits for its retry.
    pub async fn next_crm_event(&self) -> Result<Option<CrmEventRecord>> {
        let sql = format!(
            "SELECT {CRM_EVENT_COLUMNS} FROM crm_events WHERE state = 'pending' ORDER BY seq LIMIT 1"
        );
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).fetch_optional(pool).await?;
            row.map(|r| rows::crm_event(&r)).transpose()
        })
    }

    /// One event.
    pub async fn crm_event(&self, id: &str) -> Result<Option<CrmEventRecord>> {
        let sql = format!("SELECT {CRM_EVENT_COLUMNS} FROM crm_events WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| rows::crm_event(&r)).transpose()
        })
    }

    /// Events newest first, in one state or all, at most `limit`.
    pub async fn list_crm_events(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CrmEventRecord>> {
        let sql = match state {
            Some(_) => format!(
                "SELECT {CRM_EVENT_COLUMNS} FROM crm_events WHERE state = $1 \
                 ORDER BY seq DESC LIMIT $2"
            ),
            None => {
                format!("SELECT {CRM_EVENT_COLUMNS} FROM crm_events ORDER BY seq DESC LIMIT $1")
            }
        };
        dispatch!(self, pool => {
            let mut query = sqlx::query(&sql);
            if let Some(state) = state {
                query = query.bind(state);
            }
            let rows = query.bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter().map(rows::crm_event).collect()
        })
    }

    /// Stores the built body of an event unless one is stored already, and returns the stored
    /// one: whoever built first wins, so every attempt sends the same bytes.
    pub async fn set_crm_event_body(&self, id: &str, body: &str) -> Result<String> {
        let now = now_ms();
        let stored = dispatch!(self, pool => {
            sqlx::query(
                "UPDATE crm_events SET body = $1, updated_at = $2 WHERE id = $3 AND body IS NULL",
            )
            .bind(body)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
            let row: Option<(Option<String>,)> =
                sqlx::query_as("SELECT body FROM crm_events WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            row
        });
        match stored {
            Some((Some(body),)) => Ok(body),
            Some((None,)) => Err(StoreError::Corrupt(format!(
                "crm event {id}: body not stored"
            ))),
            None => Err(StoreError::NotFound),
        }
    }

    /// Records an attempt's outcome on a pending event. Returns whether it was still pending
    /// (an event an operator changed meanwhile is left alone).
    pub async fn update_crm_event(&self, u: &CrmEventUpdate) -> Result<bool> {
        let n = dispatch!(self, pool => {
            sqlx::query(
                "UPDATE crm_events SET state = $1, attempts = $2, next_attempt_at = $3, \
                 last_error = $4, delivered_at = $5, updated_at = $6 \
                 WHERE id = $7 AND state = 'pending'",
            )
            .bind(u.state.as_str())
            .bind(u.attempts)
            .bind(u.next_attempt_at.0)
            .bind(u.last_error.as_deref())
            .bind(u.delivered_at.map(|t| t.0))
            .bind(u.updated_at.0)
            .bind(u.id.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n > 0)
    }

    /// Puts a dead event back in the queue, due at `now`, with a fresh count of attempts (its
    /// body and last error are kept). [`StoreError::NotFound`] when there is no such event,
    /// [`StoreError::Conflict`] when it is not dead.
    pub async fn retry_crm_event(&self, id: &str, now: Timestamp) -> Result<CrmEventRecord> {
        let n = dispatch!(self, pool => {
            sqlx::query(
                "UPDATE crm_events SET state = 'pending', attempts = 0, next_attempt_at = $1, \
                 updated_at = $2 WHERE id = $3 AND state = 'dead'",
            )
            .bind(now.0)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        let event = self.crm_event(id).await?.ok_or(StoreError::NotFound)?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "the event is {}, not dead",
                event.state
            )));
        }
        Ok(event)
    }

    /// How many events are in each state.
    pub async fn count_crm_events(&self) -> Result<Vec<(String, i64)>> {
        dispatch!(self, pool => {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM crm_events GROUP BY state ORDER BY state",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows)
        })
    }
}
