//! The store's queries: users and sessions, the group commit, and the read paths.
//!
//! Each query is written once and runs on both backends through `dispatch!`. Placeholders are
//! numbered in ascending order of first appearance (see the crate docs). Statements are cached
//! per connection by sqlx, so a query repeated in a loop is prepared once.

use crate::error::{is_unique_violation, Result, StoreError};
use crate::records::{
    Changeset, ConversationRecord, EventRecord, InteractionFilter, LoadedState, MessageRecord,
    NoteRecord, UserRecord,
};
use crate::rows::{
    self, to_json, RowExt, CONVERSATION_COLUMNS, EVENT_COLUMNS, MESSAGE_COLUMNS, NOTE_COLUMNS,
    USER_COLUMNS,
};
use crate::{Backend, Store};
use std::ops::Bound;
use switchboard_domain::model::{
    Agent, AgentId, ConversationId, Interaction, InteractionId, Queue, QueueId, Settings, Timestamp,
};

/// The wall clock in milliseconds, for bookkeeping columns the domain does not carry
/// (`queues.updated_at`, `interactions.updated_at`, `schema_migrations.applied_at`).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Most rows per multi-row statement (well under both backends' limits on bound parameters).
const CHUNK: usize = 128;

/// Splits `rows` into runs whose lengths are powers of two (at most [`CHUNK`], longest first):
/// a table's multi-row statements then come in a handful of shapes, each prepared once per
/// connection and found in its statement cache afterwards, instead of a new statement text
/// (parsed and planned again) for every batch size.
fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = rest.len().min(CHUNK);
        let size = 1 << n.ilog2();
        let (head, tail) = rest.split_at(size);
        rest = tail;
        Some(head)
    })
}

/// Keeps, for each key, only the last item with that key, in order of those last appearances.
fn last_per_key<T: Copy>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    let mut last = std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        last.insert(key(item).to_owned(), i);
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(i, item)| last.get(key(item)) == Some(i))
        .map(|(_, item)| item)
        .collect()
}

/// Folds several upserts of one conversation into one, as applying them in order would.
fn merge_conversations(list: &[ConversationRecord]) -> Vec<ConversationRecord> {
    let mut order: Vec<ConversationId> = Vec::new();
    let mut merged: std::collections::HashMap<ConversationId, ConversationRecord> =
        std::collections::HashMap::new();
    for c in list {
        match merged.get_mut(&c.id) {
            Some(m) => {
                m.channel_id = c.channel_id.clone().or(m.channel_id.take());
                m.customer_name = c.customer_name.clone().or(m.customer_name.take());
                m.contact_id = c.contact_id.clone().or(m.contact_id.take());
                m.last_inbound_at = m.last_inbound_at.max(c.last_inbound_at);
                m.last_agent_id = c.last_agent_id.clone().or(m.last_agent_id.take());
            }
            None => {
                order.push(c.id.clone());
                merged.insert(c.id.clone(), c.clone());
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| merged.remove(&id))
        .collect()
}

/// `payload.media.state` of a message, stored beside the payload as `media_state`.
fn media_state(payload: &serde_json::Value) -> Option<String> {
    payload
        .get("media")
        .and_then(|m| m.get("state"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// Collects decoded rows, failing on the first that does not decode.
fn decode_all<R, T>(rows: &[R], decode: impl Fn(&R) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(decode).collect()
}

impl Store {
    /// The statement that opens a write transaction. SQLite takes its write lock up front, so a
    /// busy database is waited for (busy timeout) rather than failing on a lock upgrade.
    pub(crate) fn begin_write(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "BEGIN IMMEDIATE",
            Backend::Postgres(_) => "BEGIN",
        }
    }

    // ---------------------------------------------------------------- start-up

    /// Everything the server keeps in memory: non-deleted agents and queues, interactions not
    /// yet `done`, the settings and each user's highest event sequence number.
    pub async fn load_state(&self) -> Result<LoadedState> {
        let agents_sql = format!("SELECT {USER_COLUMNS} FROM users WHERE NOT deleted ORDER BY id");
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(&agents_sql).fetch_all(&mut *tx).await?;
            let agents = decode_all(&rows, rows::agent)?;
            let rows = sqlx::query("SELECT doc FROM queues WHERE NOT deleted ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
            let queues = decode_all(&rows, |r| r.json::<Queue>("doc"))?;
            let rows = sqlx::query(
                "SELECT doc FROM interactions WHERE state <> 'done' ORDER BY created_at, id",
            )
            .fetch_all(&mut *tx)
            .await?;
            let interactions = decode_all(&rows, |r| r.json::<Interaction>("doc"))?;
            let settings = sqlx::query("SELECT doc FROM settings WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.json::<Settings>("doc"))
                .transpose()?;
            let rows = sqlx::query(
                "SELECT user_id, MAX(seq) AS seq FROM events GROUP BY user_id ORDER BY user_id",
            )
            .fetch_all(&mut *tx)
            .await?;
            let event_seqs = decode_all(&rows, |r| Ok((AgentId(r.text("user_id")?), r.int("seq")?)))?;
            tx.commit().await?;
            Ok(LoadedState { agents, queues, interactions, settings, event_seqs })
        })
    }

    // ---------------------------------------------------------------- users

    /// Number of users that are not deleted.
    pub async fn count_users(&self) -> Result<i64> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE NOT deleted")
                .fetch_one(pool)
                .await?;
            row.int("n")
        })
    }

    /// Creates a user with `agent` as its agent half. [`StoreError::Conflict`] when the username
    /// (also of a deleted user) or the id is taken.
    pub async fn create_user(
        &self,
        agent: &Agent,
        username: &str,
        password_hash: &str,
        created_at: Timestamp,
    ) -> Result<()> {
        let queue_ids = to_json(&agent.queue_ids)?;
        let result = dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, display_name, role, capacity, \
                 can_reject, queue_ids, presence, break_reason, stop_new, presence_since, \
                 last_idle_at, disconnected_since, deleted, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(agent.id.as_str())
            .bind(username)
            .bind(password_hash)
            .bind(agent.display_name.as_str())
            .bind(agent.role.as_str())
            .bind(i64::from(agent.capacity))
            .bind(agent.can_reject)
            .bind(queue_ids.as_str())
            .bind(agent.presence.as_str())
            .bind(agent.break_reason.as_deref())
            .bind(agent.stop_new)
            .bind(agent.presence_since.0)
            .bind(agent.last_idle_at.0)
            .bind(agent.disconnected_since.map(|t| t.0))
            .bind(false)
            .bind(created_at.0)
            .execute(pool)
            .await
            .map(|_| ())
        });
        result.map_err(|e| {
            let username_taken = matches!(&e, sqlx::Error::Database(d)
                if d.message().contains("username")
                    || d.constraint().is_some_and(|c| c.contains("username")));
            StoreError::conflict_or(e, || {
                if username_taken {
                    format!("username {username:?} is taken")
                } else {
                    format!("user id {:?} exists", agent.id.as_str())
                }
            })
        })?;
        Ok(())
    }

    /// The non-deleted user with this username.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 AND NOT deleted");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(username).fetch_optional(pool).await?;
            row.map(|r| rows::user_record(&r)).transpose()
        })
    }

    /// The user with this id, deleted or not.
    pub async fn user(&self, id: &AgentId) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(pool).await?;
            row.map(|r| rows::user_record(&r)).transpose()
        })
    }

    /// Non-deleted users, by username.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE NOT deleted ORDER BY username");
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            decode_all(&rows, rows::user_record)
        })
    }

    /// Replaces a user's password hash. [`StoreError::NotFound`] when there is no such user.
    pub async fn set_password(&self, id: &AgentId, password_hash: &str) -> Result<()> {
        let done = dispatch!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(id.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    // ---------------------------------------------------------------- sessions

    /// Stores a session. [`StoreError::NotFound`] when the user does not exist,
    /// [`StoreError::Conflict`] when the token hash is already stored.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: &AgentId,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        let result = dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(created_at.0)
            .bind(expires_at.0)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(StoreError::conflict_or(e, || "session exists".to_owned())),
        }
    }

    /// The user and expiry of a session, if it exists and its user is not deleted. Expiry is the
    /// caller's to check.
    pub async fn session(&self, token_hash: &str) -> Result<Option<(AgentId, Timestamp)>> {
        dispatch!(self, pool => {
            let row = sqlx::query(
                "SELECT s.user_id AS user_id, s.expires_at AS expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND NOT u.deleted",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
            row.map(|r| Ok((AgentId(r.text("user_id")?), r.ts("expires_at")?)))
                .transpose()
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Removes every session of a user (log out everywhere).
    pub async fn delete_sessions_of(&self, user_id: &AgentId) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id.as_str())
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    // ---------------------------------------------------------------- group commit

    /// Applies a whole changeset in one transaction: all of it or nothing.
    ///
    /// Order: settings; queue upserts, then queue deletions; agent updates (of existing users;
    /// login data untouched), then agent deletions (and their sessions); conversation upserts
    /// (known fields are never erased, `last_inbound_at` only moves forward); interaction upserts
    /// with their participants; message inserts (skipped when the id or WhatsApp id exists);
    /// message status updates; notes; CRM events (in order); audit entries; events.
    ///
    /// A unique violation (e.g. an event `(user_id, seq)` stored twice) is
    /// [`StoreError::Conflict`], and nothing of the changeset is applied.
    pub async fn commit(&self, changes: &Changeset) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        // Encode every JSON column before the transaction opens, so it holds locks only for I/O.
        let now = now_ms();
        let settings_doc = changes.settings.as_ref().map(to_json).transpose()?;
        let queue_docs = changes
            .queues
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>>>()?;
        let agent_queue_ids = changes
            .agents
            .iter()
            .map(|a| to_json(&a.queue_ids))
            .collect::<Result<Vec<_>>>()?;
        let interaction_docs = changes
            .interactions
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>>>()?;
        let contact_fields = changes
            .contacts
            .iter()
            .map(|c| to_json(&c.fields))
            .collect::<Result<Vec<_>>>()?;
        let case_agents = changes
            .cases
            .iter()
            .map(|c| to_json(&c.agents))
            .collect::<Result<Vec<_>>>()?;
        let message_payloads = changes
            .messages
            .iter()
            .map(|m| {
                Ok((
                    to_json(&m.payload)?,
                    m.error.as_ref().map(to_json).transpose()?,
                    media_state(&m.payload),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let update_errors = changes
            .message_updates
            .iter()
            .map(|u| u.error.as_ref().map(to_json).transpose())
            .collect::<Result<Vec<_>>>()?;
        let update_payloads = changes
            .message_updates
            .iter()
            .map(|u| {
                Ok((
                    u.payload.as_ref().map(to_json).transpose()?,
                    u.payload.as_ref().and_then(media_state),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let outbox_json = changes
            .outbox
            .iter()
            .map(|o| {
                Ok((
                    to_json(&o.request)?,
                    o.last_error.as_ref().map(to_json).transpose()?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let outbox_update_errors = changes
            .outbox_updates
            .iter()
            .map(|u| u.last_error.as_ref().map(to_json).transpose())
            .collect::<Result<Vec<_>>>()?;
        let pending_payloads = changes
            .pending_statuses
            .iter()
            .map(|p| to_json(&p.payload))
            .collect::<Result<Vec<_>>>()?;
        let raw_bodies = changes
            .raw_webhooks
            .iter()
            .map(|r| to_json(&r.body))
            .collect::<Result<Vec<_>>>()?;
        let crm_payloads = changes
            .crm_events
            .iter()
            .map(|e| to_json(&e.payload))
            .collect::<Result<Vec<_>>>()?;
        let audit_json = changes
            .audit
            .iter()
            .map(crate::audit::encode_values)
            .collect::<Result<Vec<_>>>()?;
        let event_data = changes
            .events
            .iter()
            .map(|e| to_json(&e.data))
            .collect::<Result<Vec<_>>>()?;
        // The same interaction or agent may change several times in one batch: keep the last.
        let interactions = last_per_key(
            changes.interactions.iter().zip(&interaction_docs).collect(),
            |(i, _)| i.id.as_str(),
        );
        let agents = last_per_key(
            changes.agents.iter().zip(&agent_queue_ids).collect(),
            |(a, _)| a.id.as_str(),
        );
        let mut seen_participants = std::collections::HashSet::new();
        let participants: Vec<(&str, &str)> = interactions
            .iter()
            .flat_map(|(i, _)| {
                i.participants
                    .iter()
                    .map(move |p| (i.id.as_str(), p.agent_id.as_str()))
            })
            .filter(|pair| seen_participants.insert(*pair))
            .collect();
        let conversations = merge_conversations(&changes.conversations);
        let messages: Vec<_> = changes.messages.iter().zip(&message_payloads).collect();
        let events: Vec<(&str, i64, &str, &str, i64)> = changes
            .events
            .iter()
            .zip(&event_data)
            .map(|(e, data)| {
                (
                    e.user_id.as_str(),
                    e.seq,
                    e.kind.as_str(),
                    data.as_str(),
                    e.created_at.0,
                )
            })
            .chain(changes.encoded_events.iter().map(|e| {
                (
                    e.user_id.as_str(),
                    e.seq,
                    e.kind.as_str(),
                    &*e.data,
                    e.created_at.0,
                )
            }))
            .collect();
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let fact_statements = match self.report_writes {
            crate::ReportWrites::All => {
                crate::reports::fact_statements(&changes.facts, true, postgres)
            }
            crate::ReportWrites::FactsOnly => {
                crate::reports::fact_statements(&changes.facts, false, postgres)
            }
            crate::ReportWrites::Off => Vec::new(),
        };
        let begin = self.begin_write();

        let fence_sql = self.fence_sql();
        let mut fenced = false;
        let result: Result<(), sqlx::Error> = dispatch_commit!(self, pool => async {
            let mut tx = pool.begin_with(begin).await?;

            // Several nodes: the router's lease is checked (and, on PostgreSQL, share-locked so
            // no other node can take it over) before anything is written.
            if let Some(epoch) = changes.fence {
                let held = sqlx::query(fence_sql)
                    .bind(epoch)
                    .fetch_optional(&mut *tx)
                    .await?;
                if held.is_none() {
                    fenced = true;
                    return Err(sqlx::Error::RowNotFound);
                }
            }
            for c in &changes.commands {
                sqlx::query(
                    "INSERT INTO cluster_commands (id, result, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(c.id.as_str())
                .bind(c.result.as_str())
                .bind(c.created_at.0)
                .execute(&mut *tx)
                .await?;
            }

            if let Some(doc) = &settings_doc {
                sqlx::query(
                    "INSERT INTO settings (id, doc) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                )
                .bind(doc.as_str())
                .execute(&mut *tx)
                .await?;
            }

            for (queue, doc) in changes.queues.iter().zip(&queue_docs) {
                sqlx::query(
                    "INSERT INTO queues (id, name, doc, deleted, created_at, updated_at) \
                     VALUES ($1, $2, $3, FALSE, $4, $4) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc, \
                     updated_at = excluded.updated_at",
                )
                .bind(queue.id.as_str())
                .bind(queue.name.as_str())
                .bind(doc.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for id in &changes.deleted_queues {
                sqlx::query("UPDATE queues SET deleted = TRUE, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }

            for (agent, queue_ids) in &agents {
                let updated = sqlx::query(
                    "UPDATE users SET display_name = $1, role = $2, capacity = $3, \
                     can_reject = $4, queue_ids = $5, presence = $6, break_reason = $7, \
                     stop_new = $8, presence_since = $9, last_idle_at = $10, \
                     disconnected_since = $11 WHERE id = $12",
                )
                .bind(agent.display_name.as_str())
                .bind(agent.role.as_str())
                .bind(i64::from(agent.capacity))
                .bind(agent.can_reject)
                .bind(queue_ids.as_str())
                .bind(agent.presence.as_str())
                .bind(agent.break_reason.as_deref())
                .bind(agent.stop_new)
                .bind(agent.presence_since.0)
                .bind(agent.last_idle_at.0)
                .bind(agent.disconnected_since.map(|t| t.0))
                .bind(agent.id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    tracing::warn!(agent_id = %agent.id, "commit: agent has no user row; skipped");
                }
            }
            for id in &changes.deleted_agents {
                sqlx::query("UPDATE users SET deleted = TRUE WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }

            // The rows a group commit carries most of (conversations, interactions,
            // participants, messages, events) go in multi-row statements: one round trip per
            // chunk instead of one per row.
            for chunk in chunks(&conversations) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO conversations (id, channel_id, wa_id, customer_name, \
                     contact_id, last_inbound_at, last_agent_id, created_at) ",
                );
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(c.id.as_str())
                        .push_bind(c.channel_id.as_deref())
                        .push_bind(c.wa_id.as_str())
                        .push_bind(c.customer_name.as_deref())
                        .push_bind(c.contact_id.as_deref())
                        .push_bind(c.last_inbound_at.map(|t| t.0))
                        .push_bind(c.last_agent_id.as_ref().map(AgentId::as_str))
                        .push_bind(c.created_at.0);
                });
                qb.push(
                    " ON CONFLICT (id) DO UPDATE SET \
                     channel_id = COALESCE(excluded.channel_id, conversations.channel_id), \
                     customer_name = COALESCE(excluded.customer_name, conversations.customer_name), \
                     contact_id = COALESCE(excluded.contact_id, conversations.contact_id), \
                     last_inbound_at = CASE \
                       WHEN conversations.last_inbound_at IS NULL \
                         OR excluded.last_inbound_at > conversations.last_inbound_at \
                       THEN excluded.last_inbound_at \
                       ELSE conversations.last_inbound_at END, \
                     last_agent_id = COALESCE(excluded.last_agent_id, conversations.last_agent_id)",
                );
                qb.build().execute(&mut *tx).await?;
            }

            for chunk in chunks(&interactions) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO interactions (id, state, queue_id, conversation_id, channel_id, \
                     owner_id, created_at, accepted_at, ended_at, updated_at, doc, contact_id) ",
                );
                qb.push_values(chunk, |mut b, (i, doc)| {
                    b.push_bind(i.id.as_str())
                        .push_bind(i.state.as_str())
                        .push_bind(i.queue_id.as_str())
                        .push_bind(i.conversation_id.as_str())
                        .push_bind(i.channel_id.as_deref())
                        .push_bind(i.owner_id.as_ref().map(AgentId::as_str))
                        .push_bind(i.created_at.0)
                        .push_bind(i.accepted_at.map(|t| t.0))
                        .push_bind(i.ended_at.map(|t| t.0))
                        .push_bind(now)
                        .push_bind(doc.as_str())
                        .push_bind(i.contact_id.as_deref());
                });
                qb.push(
                    " ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
                     queue_id = excluded.queue_id, conversation_id = excluded.conversation_id, \
                     channel_id = excluded.channel_id, owner_id = excluded.owner_id, \
                     accepted_at = excluded.accepted_at, ended_at = excluded.ended_at, \
                     updated_at = excluded.updated_at, doc = excluded.doc, \
                     contact_id = excluded.contact_id",
                );
                qb.build().execute(&mut *tx).await?;
            }
            for (c, fields) in changes.contacts.iter().zip(&contact_fields) {
                sqlx::query(
                    "INSERT INTO contacts (id, name, first_name, last_name, email, fields, \
                     merged_into, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&c.id)
                .bind(&c.name)
                .bind(c.first_name.as_deref())
                .bind(c.last_name.as_deref())
                .bind(c.email.as_deref())
                .bind(fields.as_str())
                .bind(c.merged_into.as_deref())
                .bind(c.created_by.as_ref().map(AgentId::as_str))
                .bind(c.created_at.0)
                .bind(c.updated_at.0)
                .execute(&mut *tx)
                .await?;
                for number in &c.phones {
                    sqlx::query(
                        "INSERT INTO contact_phones (contact_id, number, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&c.id)
                    .bind(number)
                    .bind(c.created_at.0)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for (c, agents) in changes.cases.iter().zip(&case_agents) {
                sqlx::query(
                    "INSERT INTO cases (id, state, contact_id, interaction_id, conversation_id, \
                     queue_id, subject, agents, disposition_code, initiated_at, accepted_at, \
                     ended_at, created_by, created_at, closed_at, updated_at) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (interaction_id) DO UPDATE SET state = excluded.state, \
                     contact_id = COALESCE(excluded.contact_id, cases.contact_id), \
                     queue_id = excluded.queue_id, agents = excluded.agents, \
                     disposition_code = excluded.disposition_code, \
                     accepted_at = excluded.accepted_at, ended_at = excluded.ended_at, \
                     closed_at = excluded.closed_at, updated_at = excluded.updated_at",
                )
                .bind(&c.id)
                .bind(&c.state)
                .bind(c.contact_id.as_deref())
                .bind(c.interaction_id.as_str())
                .bind(c.conversation_id.as_str())
                .bind(c.queue_id.as_ref().map(QueueId::as_str))
                .bind(c.subject.as_deref())
                .bind(agents.as_str())
                .bind(c.disposition_code.as_deref())
                .bind(c.initiated_at.0)
                .bind(c.accepted_at.map(|t| t.0))
                .bind(c.ended_at.map(|t| t.0))
                .bind(c.created_by.as_ref().map(AgentId::as_str))
                .bind(c.created_at.0)
                .bind(c.closed_at.map(|t| t.0))
                .bind(c.updated_at.0)
                .execute(&mut *tx)
                .await?;
            }
            for chunk in chunks(&participants) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO interaction_participants (interaction_id, agent_id) ",
                );
                qb.push_values(chunk, |mut b, (i, a)| {
                    b.push_bind(*i).push_bind(*a);
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }

            for chunk in chunks(&messages) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO messages (id, conversation_id, interaction_id, direction, \
                     author_id, kind, body, payload, wa_message_id, status, error, created_at, \
                     updated_at, media_state) ",
                );
                qb.push_values(chunk, |mut b, (m, (payload, error, media))| {
                    b.push_bind(m.id.as_str())
                        .push_bind(m.conversation_id.as_str())
                        .push_bind(m.interaction_id.as_ref().map(InteractionId::as_str))
                        .push_bind(m.direction.as_str())
                        .push_bind(m.author_id.as_ref().map(AgentId::as_str))
                        .push_bind(m.kind.as_str())
                        .push_bind(m.body.as_deref())
                        .push_bind(payload.as_str())
                        .push_bind(m.wa_message_id.as_deref())
                        .push_bind(m.status.as_str())
                        .push_bind(error.as_deref())
                        .push_bind(m.created_at.0)
                        .push_bind(m.updated_at.0)
                        .push_bind(media.as_deref());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            for ((u, error), (payload, media)) in changes
                .message_updates
                .iter()
                .zip(&update_errors)
                .zip(&update_payloads)
            {
                // A new payload brings its media state along (NULL when it has no media).
                sqlx::query(
                    "UPDATE messages SET status = $1, error = $2, updated_at = $3, \
                     wa_message_id = COALESCE($4, wa_message_id), payload = COALESCE($5, payload), \
                     media_state = CASE WHEN $5 IS NULL THEN media_state ELSE $6 END \
                     WHERE id = $7",
                )
                .bind(u.status.as_str())
                .bind(error.as_deref())
                .bind(u.updated_at.0)
                .bind(u.wa_message_id.as_deref())
                .bind(payload.as_deref())
                .bind(media.as_deref())
                .bind(u.id.as_str())
                .execute(&mut *tx)
                .await?;
            }

            for (o, (request, error)) in changes.outbox.iter().zip(&outbox_json) {
                sqlx::query(
                    "INSERT INTO outbox (message_id, channel_id, recipient, request, state, \
                     attempts, next_attempt_at, last_error, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(o.message_id.as_str())
                .bind(o.channel_id.as_str())
                .bind(o.recipient.as_str())
                .bind(request.as_str())
                .bind(o.state.as_str())
                .bind(o.attempts)
                .bind(o.next_attempt_at.0)
                .bind(error.as_deref())
                .bind(o.created_at.0)
                .bind(o.created_at.0)
                .execute(&mut *tx)
                .await?;
            }
            for (u, error) in changes.outbox_updates.iter().zip(&outbox_update_errors) {
                sqlx::query(
                    "UPDATE outbox SET state = $1, attempts = $2, next_attempt_at = $3, \
                     last_error = $4, updated_at = $5 WHERE message_id = $6",
                )
                .bind(u.state.as_str())
                .bind(u.attempts)
                .bind(u.next_attempt_at.0)
                .bind(error.as_deref())
                .bind(u.updated_at.0)
                .bind(u.message_id.as_str())
                .execute(&mut *tx)
                .await?;
            }
            for (p, payload) in changes.pending_statuses.iter().zip(&pending_payloads) {
                sqlx::query(
                    "INSERT INTO pending_statuses (wa_message_id, status, payload, received_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(p.wa_message_id.as_str())
                .bind(p.status.as_str())
                .bind(payload.as_str())
                .bind(p.received_at.0)
                .execute(&mut *tx)
                .await?;
            }
            for wa in &changes.applied_statuses {
                sqlx::query("DELETE FROM pending_statuses WHERE wa_message_id = $1")
                    .bind(wa.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            for (r, body) in changes.raw_webhooks.iter().zip(&raw_bodies) {
                sqlx::query(
                    "INSERT INTO webhook_raw (id, channel_id, reason, body, received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(r.id.as_str())
                .bind(r.channel_id.as_deref())
                .bind(r.reason.as_str())
                .bind(body.as_str())
                .bind(r.received_at.0)
                .execute(&mut *tx)
                .await?;
            }

            for n in &changes.notes {
                sqlx::query(
                    "INSERT INTO notes (id, interaction_id, author_id, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(n.id.as_str())
                .bind(n.interaction_id.as_str())
                .bind(n.author_id.as_str())
                .bind(n.body.as_str())
                .bind(n.created_at.0)
                .execute(&mut *tx)
                .await?;
            }
            // In order: `seq` numbers them as committed, which is the order of delivery.
            for (e, payload) in changes.crm_events.iter().zip(&crm_payloads) {
                sqlx::query(
                    "INSERT INTO crm_events (id, kind, payload, body, state, attempts, \
                     next_attempt_at, last_error, created_at, delivered_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                )
                .bind(e.id.as_str())
                .bind(e.kind.as_str())
                .bind(payload.as_str())
                .bind(e.body.as_deref())
                .bind(e.state.as_str())
                .bind(e.attempts)
                .bind(e.next_attempt_at.0)
                .bind(e.last_error.as_deref())
                .bind(e.created_at.0)
                .bind(e.delivered_at.map(|t| t.0))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for (a, (before, after)) in changes.audit.iter().zip(&audit_json) {
                crate::audit::insert_audit!(tx, a, before, after)?;
            }
            for chunk in chunks(&events) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO events (user_id, seq, kind, data, created_at) ",
                );
                qb.push_values(chunk, |mut b, &(user, seq, kind, data, at)| {
                    b.push_bind(user)
                        .push_bind(seq)
                        .push_bind(kind)
                        .push_bind(data)
                        .push_bind(at);
                });
                qb.build().execute(&mut *tx).await?;
            }
            // Report facts, in the order they happened (an offer's row before its outcome).
            for st in &fact_statements {
                let mut query = sqlx::query(st.sql);
                for arg in &st.args {
                    query = match arg {
                        crate::reports::Arg::Text(t) => query.bind(t.as_deref()),
                        crate::reports::Arg::Int(i) => query.bind(*i),
                    };
                }
                query.execute(&mut *tx).await?;
            }

            tx.commit().await
        }
        .await);

        if result.is_ok() {
            self.checkpoint_soon();
        }
        if let (true, Some(epoch)) = (fenced, changes.fence) {
            return Err(StoreError::Fenced(epoch));
        }
        result.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("commit rolled back: {e}"))
            } else {
                StoreError::Database(e)
            }
        })
    }

    // ---------------------------------------------------------------- interactions

    /// An interaction as last committed, in any state.
    pub async fn interaction(&self, id: &InteractionId) -> Result<Option<Interaction>> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT doc FROM interactions WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.json::<Interaction>("doc")).transpose()
        })
    }

    /// Whether `agent_id` was ever a participant of the interaction.
    pub async fn was_participant(
        &self,
        interaction_id: &InteractionId,
        agent_id: &AgentId,
    ) -> Result<bool> {
        dispatch!(self, pool => {
            let row = sqlx::query(
                "SELECT 1 AS one FROM interaction_participants \
                 WHERE interaction_id = $1 AND agent_id = $2",
            )
            .bind(interaction_id.as_str())
            .bind(agent_id.as_str())
            .fetch_optional(pool)
            .await?;
            Ok(row.is_some())
        })
    }

    /// Interactions matching `filter`, newest (`created_at`) first, at most `filter.limit`.
    pub async fn list_interactions(&self, filter: &InteractionFilter) -> Result<Vec<Interaction>> {
        let mut sql = String::from("SELECT doc FROM interactions WHERE 1 = 1");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if filter.state.is_some() {
            sql += &format!(" AND state = {}", param());
        }
        if filter.queue_id.is_some() {
            sql += &format!(" AND queue_id = {}", param());
        }
        if filter.agent_id.is_some() {
            sql += &format!(
                " AND id IN (SELECT interaction_id FROM interaction_participants \
                 WHERE agent_id = {})",
                param()
            );
        }
        match (&filter.before_created, &filter.before_id) {
            (Some(_), Some(_)) => {
                let (a, b, c) = (param(), param(), param());
                sql += &format!(" AND (created_at < {a} OR (created_at = {b} AND id < {c}))");
            }
            (Some(_), None) => sql += &format!(" AND created_at < {}", param()),
            (None, _) => {}
        }
        if filter.contact_id.is_some() {
            sql += &format!(" AND contact_id = {}", param());
        }
        // The customer and the disposition are read from the report row written in the same
        // commit as the interaction (one row per interaction, keyed by its id).
        if filter.customer_wa_id.is_some() {
            sql += &format!(
                " AND id IN (SELECT id FROM report_interactions WHERE customer_wa_id = {})",
                param()
            );
        }
        if filter.disposition.is_some() {
            sql += &format!(
                " AND id IN (SELECT id FROM report_interactions WHERE disposition = {})",
                param()
            );
        }
        if filter.created_from.is_some() {
            sql += &format!(" AND created_at >= {}", param());
        }
        if filter.created_to.is_some() {
            sql += &format!(" AND created_at < {}", param());
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", param());
        dispatch!(self, pool => {
            // Bound in the order the placeholders were numbered above.
            let mut query = sqlx::query(&sql);
            if let Some(state) = filter.state {
                query = query.bind(state.as_str());
            }
            if let Some(queue_id) = &filter.queue_id {
                query = query.bind(queue_id.as_str());
            }
            if let Some(agent_id) = &filter.agent_id {
                query = query.bind(agent_id.as_str());
            }
            if let Some(before) = filter.before_created {
                query = query.bind(before.0);
                if let Some(id) = &filter.before_id {
                    query = query.bind(before.0).bind(id.as_str());
                }
            }
            if let Some(contact_id) = &filter.contact_id {
                query = query.bind(contact_id.as_str());
            }
            if let Some(wa_id) = &filter.customer_wa_id {
                query = query.bind(wa_id.as_str());
            }
            if let Some(code) = &filter.disposition {
                query = query.bind(code.as_str());
            }
            if let Some(from) = filter.created_from {
                query = query.bind(from.0);
            }
            if let Some(to) = filter.created_to {
                query = query.bind(to.0);
            }
            let rows = query.bind(filter.limit.max(0)).fetch_all(pool).await?;
            decode_all(&rows, |r| r.json::<Interaction>("doc"))
        })
    }

    // ---------------------------------------------------------------- messages

    /// The `limit` messages of an interaction just before message id `before` (or the latest),
    /// oldest first.
    pub async fn messages_of_interaction(
        &self,
        interaction_id: &InteractionId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        self.messages_page("interaction_id", interaction_id.as_str(), before, limit)
            .await
    }

    /// The `limit` messages of a conversation just before message id `before` (or the latest),
    /// oldest first.
    pub async fn messages_of_conversation(
        &self,
        conversation_id: &ConversationId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        self.messages_page("conversation_id", conversation_id.as_str(), before, limit)
            .await
    }

    /// Each interaction of a conversation that has messages, with the ids of its first and last
    /// message, ordered by the first (the order the interactions happened in).
    pub async fn interaction_spans(
        &self,
        conversation_id: &ConversationId,
    ) -> Result<Vec<(String, String, String)>> {
        dispatch!(self, pool => {
            let rows = sqlx::query(
                "SELECT interaction_id, MIN(id) AS first_id, MAX(id) AS last_id FROM messages \
                 WHERE conversation_id = $1 AND interaction_id IS NOT NULL \
                 GROUP BY interaction_id ORDER BY first_id",
            )
            .bind(conversation_id.as_str())
            .fetch_all(pool)
            .await?;
            decode_all(&rows, |r| {
                Ok((r.text("interaction_id")?, r.text("first_id")?, r.text("last_id")?))
            })
        })
    }

    /// The newest `limit` messages of a conversation with `from <= id` and `id` within `until`,
    /// oldest first.
    pub async fn messages_of_conversation_between(
        &self,
        conversation_id: &ConversationId,
        from: &str,
        until: Bound<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        let (cmp, until) = match until {
            Bound::Included(u) => ("<=", Some(u)),
            Bound::Excluded(u) => ("<", Some(u)),
            Bound::Unbounded => ("", None),
        };
        let sql = match until {
            Some(_) => format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id >= $2 \
                 AND id {cmp} $3 ORDER BY id DESC LIMIT $4"
            ),
            None => format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND id >= $2 \
                 ORDER BY id DESC LIMIT $3"
            ),
        };
        let mut messages = dispatch!(self, pool => {
            let mut query = sqlx::query(&sql).bind(conversation_id.as_str()).bind(from);
            if let Some(until) = until {
                query = query.bind(until);
            }
            let rows = query.bind(limit.max(0)).fetch_all(pool).await?;
            decode_all(&rows, rows::message)
        })?;
        messages.reverse();
        Ok(messages)
    }

    /// `column` is a trusted column name, never user input.
    async fn messages_page(
        &self,
        column: &'static str,
        key: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        let sql = match before {
            Some(_) => format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {column} = $1 AND id < $2 \
                 ORDER BY id DESC LIMIT $3"
            ),
            None => format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {column} = $1 \
                 ORDER BY id DESC LIMIT $2"
            ),
        };
        let mut messages = dispatch!(self, pool => {
            let mut query = sqlx::query(&sql).bind(key);
            if let Some(before) = before {
                query = query.bind(before);
            }
            let rows = query.bind(limit.max(0)).fetch_all(pool).await?;
            decode_all(&rows, rows::message)
        })?;
        messages.reverse();
        Ok(messages)
    }

    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| rows::message(&r)).transpose()
        })
    }

    /// Messages whose media is still to be downloaded (`payload.media.state` is `pending`, or
    /// customer media stored before media existed), oldest first, with ids after `after`.
    pub async fn pending_media(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE media_state = 'pending' AND id > $1 \
             ORDER BY id LIMIT $2"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(after.unwrap_or(""))
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?;
            decode_all(&rows, rows::message)
        })
    }

    /// The message with this WhatsApp message id.
    pub async fn message_by_wa_id(&self, wa_message_id: &str) -> Result<Option<MessageRecord>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE wa_message_id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(wa_message_id).fetch_optional(pool).await?;
            row.map(|r| rows::message(&r)).transpose()
        })
    }

    // ---------------------------------------------------------------- notes

    /// An interaction's notes, oldest first.
    pub async fn notes_of(&self, interaction_id: &InteractionId) -> Result<Vec<NoteRecord>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM notes WHERE interaction_id = $1 ORDER BY created_at, id"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(interaction_id.as_str())
                .fetch_all(pool)
                .await?;
            decode_all(&rows, rows::note)
        })
    }

    // ---------------------------------------------------------------- events

    /// A user's events with `seq > since_seq`, ascending, at most `limit`.
    pub async fn events_since(
        &self,
        user_id: &AgentId,
        since_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE user_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(user_id.as_str())
                .bind(since_seq)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?;
            decode_all(&rows, rows::event)
        })
    }

    /// [`events_since`](Self::events_since) with each event's `data` as stored (JSON text), so
    /// a replay sends exactly the bytes the live stream sent.
    pub async fn encoded_events_since(
        &self,
        user_id: &AgentId,
        since_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord<String>>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE user_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(user_id.as_str())
                .bind(since_seq)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?;
            decode_all(&rows, rows::encoded_event)
        })
    }

    /// The oldest sequence number still stored for a user, if any.
    pub async fn min_event_seq(&self, user_id: &AgentId) -> Result<Option<i64>> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT MIN(seq) AS seq FROM events WHERE user_id = $1")
                .bind(user_id.as_str())
                .fetch_one(pool)
                .await?;
            row.opt_int("seq")
        })
    }

    /// The oldest sequence number still stored in any stream. Numbers are given from one
    /// counter, so every number between this and the newest belongs to a kept event, and a
    /// reader whose cursor is below it may have missed pruned ones.
    pub async fn min_event_seq_any(&self) -> Result<Option<i64>> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT MIN(seq) AS seq FROM events")
                .fetch_one(pool)
                .await?;
            row.opt_int("seq")
        })
    }

    /// The events of any of `streams` (user ids, or a shared stream's id) with
    /// `seq > since_seq`, ascending, at most `limit`: one reader's merged streams, each event's
    /// `data` as stored (JSON text).
    pub async fn encoded_events_of_streams(
        &self,
        streams: &[AgentId],
        since_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord<String>>> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..streams.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 AND user_id IN ({}) \
             ORDER BY seq LIMIT $2",
            marks.join(", ")
        );
        dispatch!(self, pool => {
            let mut q = sqlx::query(&sql).bind(since_seq).bind(limit.max(0));
            for s in streams {
                q = q.bind(s.as_str());
            }
            let rows = q.fetch_all(pool).await?;
            decode_all(&rows, rows::encoded_event)
        })
    }

    /// Deletes events created before `older_than`, except the newest event of all (so the
    /// sequence numbering survives a restart). Returns the number of rows deleted.
    pub async fn prune_events(&self, older_than: Timestamp) -> Result<u64> {
        let deleted = dispatch!(self, pool => {
            sqlx::query(
                "DELETE FROM events WHERE created_at < $1 \
                 AND seq < (SELECT MAX(e.seq) FROM events e)",
            )
            .bind(older_than.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(deleted)
    }

    // ---------------------------------------------------------------- conversations

    pub async fn conversation(&self, id: &ConversationId) -> Result<Option<ConversationRecord>> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(pool).await?;
            row.map(|r| rows::conversation(&r)).transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_covering_all_rows_in_order() {
        for n in 0..600usize {
            let rows: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = super::chunks(&rows).collect();
            assert!(parts
                .iter()
                .all(|p| p.len().is_power_of_two() && p.len() <= super::CHUNK));
            assert_eq!(parts.concat(), rows);
        }
    }
}
