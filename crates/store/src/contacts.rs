//! The built-in CRM: contacts and their numbers, cases (saved chat logs), contact history, the
//! communication list and full-text search over messages (SPEC §4, §5).
//!
//! Full-text search is SQLite FTS5 (`messages_fts`, kept in step by triggers) or a PostgreSQL GIN
//! index over the stored `body_tsv = to_tsvector('simple', body)`. User text never reaches either query language as
//! is: it is cut into words, all of which must match (the last one also as a prefix: those
//! matches come after the exact ones).

use crate::error::{Result, StoreError};
use crate::records::{
    CaseRecord, ContactRecord, ConversationRecord, ConversationSummary, LastSend, MessageRecord,
};
use crate::rows::{self, RowExt, CONVERSATION_COLUMNS, MESSAGE_COLUMNS};
use crate::{Backend, Store};
use switchboard_domain::model::{AgentId, ConversationId, Interaction, InteractionId, Timestamp};

const CONTACT_COLUMNS: &str = "id, name, first_name, last_name, email, fields, merged_into, \
     created_by, created_at, updated_at";
const CASE_COLUMNS: &str = "id, state, contact_id, interaction_id, conversation_id, queue_id, \
     subject, agents, disposition_code, initiated_at, accepted_at, ended_at, created_by, \
     created_at, closed_at, updated_at";

/// Which cases to list.
#[derive(Debug, Clone, Copy)]
pub enum CaseFilter<'a> {
    Contact(&'a str),
    Unassigned,
    /// Cases without a contact from one conversation.
    UnassignedIn(&'a str),
    All,
}

/// Who is searching, and so what they may see.
#[derive(Debug, Clone)]
pub enum SearchScope {
    /// Supervisors and admins: every conversation.
    All,
    /// An agent: the conversations of their queues, and those they took part in.
    Agent {
        agent_id: AgentId,
        queue_ids: Vec<String>,
    },
}

/// The words of a search, lower-cased, at most 8, each cut to 64 characters. Only letters and
/// digits count; everything else separates words.
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| w.chars().take(64).collect::<String>().to_lowercase())
        .collect()
}

fn contact_row(row: &impl RowExt) -> Result<ContactRecord> {
    Ok(ContactRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        first_name: row.opt_text("first_name")?,
        last_name: row.opt_text("last_name")?,
        email: row.opt_text("email")?,
        fields: row.json("fields")?,
        phones: Vec::new(),
        merged_into: row.opt_text("merged_into")?,
        created_by: row.opt_text("created_by")?.map(AgentId),
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

fn case_row(row: &impl RowExt) -> Result<CaseRecord> {
    Ok(CaseRecord {
        id: row.text("id")?,
        state: row.text("state")?,
        contact_id: row.opt_text("contact_id")?,
        interaction_id: row.text("interaction_id")?.into(),
        conversation_id: row.text("conversation_id")?.into(),
        queue_id: row.opt_text("queue_id")?.map(Into::into),
        subject: row.opt_text("subject")?,
        agents: row.json("agents")?,
        disposition_code: row.opt_text("disposition_code")?,
        initiated_at: row.ts("initiated_at")?,
        accepted_at: row.opt_ts("accepted_at")?,
        ended_at: row.opt_ts("ended_at")?,
        created_by: row.opt_text("created_by")?.map(AgentId),
        created_at: row.ts("created_at")?,
        closed_at: row.opt_ts("closed_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

/// The condition "the conversation `column` is the agent's to see": one of its interactions was
/// in one of the agent's `queues` queues, or the agent took part in it. Checked per row with
/// the indexes on `interactions (conversation_id)` and `interaction_participants`, so a search
/// stops after its page of hits instead of listing every visible conversation first. Takes the
/// agent's placeholder, then one per queue, from `next`.
fn scope_condition(column: &str, queues: usize, next: &mut impl FnMut() -> String) -> String {
    let agent = next();
    let in_queue = if queues == 0 {
        String::new()
    } else {
        let list: Vec<String> = (0..queues).map(|_| next()).collect();
        format!("i.queue_id IN ({}) OR ", list.join(", "))
    };
    format!(
        "EXISTS (SELECT 1 FROM interactions i WHERE i.conversation_id = {column} AND \
         ({in_queue}EXISTS (SELECT 1 FROM interaction_participants p \
         WHERE p.interaction_id = i.id AND p.agent_id = {agent})))"
    )
}

fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Placeholders `$from, $from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    // ---------------------------------------------------------------- contacts

    /// Rewrites a contact's fields and numbers (the caller holds the contact's lock).
    pub async fn update_contact(&self, c: &ContactRecord) -> Result<()> {
        let fields = json_text(&c.fields)?;
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE contacts SET name = $1, first_name = $2, last_name = $3, email = $4, \
                 fields = $5, updated_at = $6 WHERE id = $7 AND merged_into IS NULL",
            )
            .bind(&c.name)
            .bind(c.first_name.as_deref())
            .bind(c.last_name.as_deref())
            .bind(c.email.as_deref())
            .bind(&fields)
            .bind(c.updated_at.0)
            .bind(&c.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM contact_phones WHERE contact_id = $1")
                .bind(&c.id)
                .execute(&mut *tx)
                .await?;
            for number in &c.phones {
                sqlx::query(
                    "INSERT INTO contact_phones (contact_id, number, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&c.id)
                .bind(number)
                .bind(c.updated_at.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Fills in the numbers of `contacts`, in the order they were added.
    async fn with_phones(&self, mut contacts: Vec<ContactRecord>) -> Result<Vec<ContactRecord>> {
        if contacts.is_empty() {
            return Ok(contacts);
        }
        let sql = format!(
            "SELECT contact_id, number FROM contact_phones WHERE contact_id IN ({}) \
             ORDER BY created_at, number",
            placeholders(1, contacts.len())
        );
        let pairs: Vec<(String, String)> = dispatch!(self, pool => {
            let mut q = sqlx::query(&sql);
            for c in &contacts {
                q = q.bind(c.id.as_str());
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.text("contact_id")?, r.text("number")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        for (id, number) in pairs {
            if let Some(c) = contacts.iter_mut().find(|c| c.id == id) {
                c.phones.push(number);
            }
        }
        Ok(contacts)
    }

    /// A contact by id, merged ones included (see `merged_into`).
    pub async fn contact(&self, id: &str) -> Result<Option<ContactRecord>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
        let found = dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| contact_row(&r)).transpose()
        })?;
        match found {
            None => Ok(None),
            Some(c) => Ok(self.with_phones(vec![c]).await?.pop()),
        }
    }

    /// The (not merged) contacts with this E.164 number, oldest first, with all their
    /// numbers: one query, since it runs on every new conversation and every screen pop.
    pub async fn contacts_by_phone(&self, number: &str) -> Result<Vec<ContactRecord>> {
        let cols: String = CONTACT_COLUMNS
            .split(',')
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, n.number AS phone FROM contacts c \
             JOIN contact_phones n ON n.contact_id = c.id \
             WHERE c.merged_into IS NULL AND c.id IN \
             (SELECT contact_id FROM contact_phones WHERE number = $1) \
             ORDER BY c.created_at, c.id, n.created_at, n.number LIMIT 1000"
        );
        let rows: Vec<(ContactRecord, String)> = dispatch!(self, pool => {
            let rows = sqlx::query(&sql).bind(number).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((contact_row(r)?, r.text("phone")?)))
                .collect::<Result<Vec<_>>>()
        })?;
        let mut out: Vec<ContactRecord> = Vec::new();
        for (c, phone) in rows {
            match out.last_mut() {
                Some(last) if last.id == c.id => last.phones.push(phone),
                _ => {
                    if out.len() == 50 {
                        break;
                    }
                    let mut c = c;
                    c.phones.push(phone);
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Contacts whose name or email starts with `q` (any case), or with a number containing
    /// `digits` when given; by name.
    pub async fn search_contacts(
        &self,
        q: &str,
        digits: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ContactRecord>> {
        let pattern = format!(
            "{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let phone = digits.map(|d| format!("%{d}%"));
        let (name_cond, email_cond) = match self.backend {
            Backend::Sqlite(_) => (
                "name LIKE $1 ESCAPE '\\' COLLATE NOCASE",
                "email LIKE $1 ESCAPE '\\' COLLATE NOCASE",
            ),
            Backend::Postgres(_) => (
                "lower(name) LIKE $1 ESCAPE '\\'",
                "lower(email) LIKE $1 ESCAPE '\\'",
            ),
        };
        let phone_cond = if phone.is_some() {
            " OR id IN (SELECT contact_id FROM contact_phones WHERE number LIKE $2)"
        } else {
            ""
        };
        let limit_param = if phone.is_some() { "$3" } else { "$2" };
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE merged_into IS NULL AND \
             ({name_cond} OR {email_cond}{phone_cond}) ORDER BY name, id LIMIT {limit_param}"
        );
        let found = dispatch!(self, pool => {
            let mut query = sqlx::query(&sql).bind(&pattern);
            if let Some(p) = &phone {
                query = query.bind(p);
            }
            let rows = query.bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter().map(contact_row).collect::<Result<Vec<_>>>()
        })?;
        self.with_phones(found).await
    }

    /// Merges contact `from` into `into` (R-4 merging): numbers, conversations, interactions and
    /// cases move over, fields `into` lacks are filled from `from`, and `from` is marked merged.
    pub async fn merge_contacts(
        &self,
        into: &ContactRecord,
        from: &str,
        now: Timestamp,
    ) -> Result<()> {
        let fields = json_text(&into.fields)?;
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE contacts SET merged_into = $1, updated_at = $2 \
                 WHERE id = $3 AND merged_into IS NULL",
            )
            .bind(&into.id)
            .bind(now.0)
            .bind(from)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "UPDATE contacts SET name = $1, first_name = $2, last_name = $3, email = $4, \
                 fields = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&into.name)
            .bind(into.first_name.as_deref())
            .bind(into.last_name.as_deref())
            .bind(into.email.as_deref())
            .bind(&fields)
            .bind(now.0)
            .bind(&into.id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO contact_phones (contact_id, number, created_at) \
                 SELECT $1, number, created_at FROM contact_phones WHERE contact_id = $2 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&into.id)
            .bind(from)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM contact_phones WHERE contact_id = $1")
                .bind(from)
                .execute(&mut *tx)
                .await?;
            for table in ["conversations", "interactions", "cases"] {
                sqlx::query(&format!(
                    "UPDATE {table} SET contact_id = $1 WHERE contact_id = $2"
                ))
                .bind(&into.id)
                .bind(from)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Links a finished interaction (no longer held by the engine) and its conversation to a
    /// contact (R-4.5 for history).
    pub async fn relink_finished(
        &self,
        interaction_id: &InteractionId,
        contact_id: Option<&str>,
    ) -> Result<()> {
        dispatch!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE interactions SET contact_id = $1 WHERE id = $2")
                .bind(contact_id)
                .bind(interaction_id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE cases SET contact_id = $1 WHERE interaction_id = $2",
            )
            .bind(contact_id)
            .bind(interaction_id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The contact's interactions, newest first, after the cursor `before` (the `created_at`
    /// and id of the last one of the previous page). Each carries the contact as stored (it may
    /// have been re-linked or merged since).
    pub async fn contact_interactions(
        &self,
        contact_id: &str,
        before: Option<(Timestamp, &str)>,
        limit: i64,
    ) -> Result<Vec<Interaction>> {
        let sql = if before.is_some() {
            "SELECT doc, contact_id FROM interactions WHERE contact_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        } else {
            "SELECT doc, contact_id FROM interactions WHERE contact_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        };
        dispatch!(self, pool => {
            let mut q = sqlx::query(sql).bind(contact_id);
            if let Some((at, id)) = before {
                q = q.bind(at.0).bind(id);
            }
            let rows = q.bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let mut it: Interaction = r.json("doc")?;
                    it.contact_id = r.opt_text("contact_id")?;
                    Ok(it)
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// The stored contact link of an interaction (the engine's copy wins while it is open).
    pub async fn interaction_contact(&self, id: &InteractionId) -> Result<Option<String>> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT contact_id FROM interactions WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| r.opt_text("contact_id")).transpose()?.flatten())
        })
    }

    /// The last send to each of these WhatsApp ids (digits), from any channel.
    pub async fn last_sends(&self, wa_ids: &[String]) -> Result<Vec<LastSend>> {
        let mut out = Vec::new();
        for wa_id in wa_ids {
            let sql = "SELECT m.status, m.error, m.updated_at FROM messages m \
                 WHERE m.direction = 'out' AND m.author_id IS NOT NULL AND m.conversation_id IN \
                 (SELECT id FROM conversations WHERE wa_id = $1) \
                 ORDER BY m.id DESC LIMIT 1";
            let found = dispatch!(self, pool => {
                let row = sqlx::query(sql).bind(wa_id).fetch_optional(pool).await?;
                row.map(|r| -> Result<LastSend> {
                    Ok(LastSend {
                        wa_id: wa_id.clone(),
                        status: r.text("status")?,
                        error: r.opt_json("error")?,
                        at: r.ts("updated_at")?,
                    })
                })
                .transpose()
            })?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Refreshes the planner's statistics (after a bulk load).
    pub async fn analyze(&self) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("ANALYZE").execute(pool).await?;
            Ok(())
        })
    }

    // ---------------------------------------------------------------- cases

    /// Saves an open case for an interaction, unless it has one; answers the interaction's case.
    pub async fn open_case(&self, c: &CaseRecord) -> Result<CaseRecord> {
        let agents = json_text(&c.agents)?;
        dispatch!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO cases ({CASE_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (interaction_id) DO NOTHING"
            ))
            .bind(&c.id)
            .bind(&c.state)
            .bind(c.contact_id.as_deref())
            .bind(c.interaction_id.as_str())
            .bind(c.conversation_id.as_str())
            .bind(c.queue_id.as_ref().map(|q| q.as_str()))
            .bind(c.subject.as_deref())
            .bind(&agents)
            .bind(c.disposition_code.as_deref())
            .bind(c.initiated_at.0)
            .bind(c.accepted_at.map(|t| t.0))
            .bind(c.ended_at.map(|t| t.0))
            .bind(c.created_by.as_ref().map(AgentId::as_str))
            .bind(c.created_at.0)
            .bind(c.closed_at.map(|t| t.0))
            .bind(c.updated_at.0)
            .execute(pool)
            .await?;
            Ok::<(), StoreError>(())
        })?;
        self.case_of_interaction(&c.interaction_id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn case(&self, id: &str) -> Result<Option<CaseRecord>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| case_row(&r)).transpose()
        })
    }

    pub async fn case_of_interaction(&self, id: &InteractionId) -> Result<Option<CaseRecord>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE interaction_id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(pool).await?;
            row.map(|r| case_row(&r)).transpose()
        })
    }

    /// Cases, newest first: of a contact, without one, or all.
    pub async fn cases(
        &self,
        filter: CaseFilter<'_>,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CaseRecord>> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE ");
        let mut n = 0;
        let bound = match filter {
            CaseFilter::Contact(id) => {
                n += 1;
                sql += &format!("contact_id = ${n}");
                Some(id)
            }
            CaseFilter::Unassigned => {
                sql += "contact_id IS NULL";
                None
            }
            CaseFilter::UnassignedIn(conversation) => {
                n += 1;
                sql += &format!("contact_id IS NULL AND conversation_id = ${n}");
                Some(conversation)
            }
            CaseFilter::All => {
                sql += "1 = 1";
                None
            }
        };
        if state.is_some() {
            n += 1;
            sql += &format!(" AND state = ${n}");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", n + 1);
        dispatch!(self, pool => {
            let mut q = sqlx::query(&sql);
            if let Some(v) = bound {
                q = q.bind(v);
            }
            if let Some(s) = state {
                q = q.bind(s);
            }
            let rows = q.bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter().map(case_row).collect::<Result<Vec<_>>>()
        })
    }

    /// Assigns a case to a contact (R-4.6: a case without contact is assigned later).
    pub async fn assign_case(&self, id: &str, contact_id: &str, now: Timestamp) -> Result<()> {
        dispatch!(self, pool => {
            let done = sqlx::query("UPDATE cases SET contact_id = $1, updated_at = $2 WHERE id = $3")
                .bind(contact_id)
                .bind(now.0)
                .bind(id)
                .execute(pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    pub async fn set_case_subject(
        &self,
        id: &str,
        subject: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("UPDATE cases SET subject = $1, updated_at = $2 WHERE id = $3")
                .bind(subject)
                .bind(now.0)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    // ---------------------------------------------------------------- conversations and search

    /// The communication list: conversations by latest message, with their contact's
    /// name, last message and the customer messages since the last one sent to them.
    ///
    /// It walks the messages backwards from the newest (the primary key), a chunk at a time,
    /// keeping the conversations the caller may see, until the page is full: the cost follows
    /// the page, not the number of conversations stored.
    pub async fn conversation_list(
        &self,
        channel_id: Option<&str>,
        scope: &SearchScope,
        limit: i64,
    ) -> Result<Vec<ConversationSummary>> {
        const CHUNK: i64 = 1000;
        const MAX_CHUNKS: usize = 50;
        let limit = usize::try_from(limit.max(0)).unwrap_or(0);
        let mut picked: Vec<(ConversationRecord, Option<String>, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_CHUNKS {
            if picked.len() >= limit {
                break;
            }
            let sql = if cursor.is_some() {
                "SELECT id, conversation_id FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2"
            } else {
                "SELECT id, conversation_id FROM messages ORDER BY id DESC LIMIT $1"
            };
            let recent: Vec<(String, String)> = dispatch!(self, pool => {
                let mut q = sqlx::query(sql);
                if let Some(c) = &cursor {
                    q = q.bind(c.as_str());
                }
                let rows = q.bind(CHUNK).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| Ok((r.text("id")?, r.text("conversation_id")?)))
                    .collect::<Result<Vec<_>>>()
            })?;
            let Some(last) = recent.last() else {
                break;
            };
            cursor = Some(last.0.clone());
            // Newest message of each conversation not seen yet, in order.
            let mut fresh: Vec<(String, String)> = Vec::new();
            for (id, conv) in &recent {
                if seen.insert(conv.clone()) {
                    fresh.push((conv.clone(), id.clone()));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let visible = self
                .visible_conversations(
                    &fresh.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
                    channel_id,
                    scope,
                )
                .await?;
            for (conv, last_id) in fresh {
                if let Some((c, name)) = visible.iter().find(|(c, _)| c.id.as_str() == conv) {
                    picked.push((c.clone(), name.clone(), last_id));
                    if picked.len() >= limit {
                        break;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(picked.len());
        for (conversation, contact_name, last_id) in picked {
            let last_message = self.message(&last_id).await?;
            let unread = self.unread_of(&conversation.id).await?;
            out.push(ConversationSummary {
                conversation,
                contact_name,
                last_message,
                unread,
            });
        }
        Ok(out)
    }

    /// Of these conversations, those on `channel_id` (if given) that `scope` may see, each with
    /// its contact's name.
    async fn visible_conversations(
        &self,
        ids: &[String],
        channel_id: Option<&str>,
        scope: &SearchScope,
    ) -> Result<Vec<(ConversationRecord, Option<String>)>> {
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let list: Vec<String> = ids.iter().map(|_| next()).collect();
        let mut conds = vec![format!("c.id IN ({})", list.join(", "))];
        if channel_id.is_some() {
            conds.push(format!("c.channel_id = {}", next()));
        }
        if let SearchScope::Agent { queue_ids, .. } = scope {
            conds.push(scope_condition("c.id", queue_ids.len(), &mut next));
        }
        let cols: String = CONVERSATION_COLUMNS
            .split(',')
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, k.name AS contact_name FROM conversations c \
             LEFT JOIN contacts k ON k.id = c.contact_id WHERE {}",
            conds.join(" AND ")
        );
        dispatch!(self, pool => {
            let mut q = sqlx::query(&sql);
            for id in ids {
                q = q.bind(id.as_str());
            }
            if let Some(ch) = channel_id {
                q = q.bind(ch);
            }
            if let SearchScope::Agent { agent_id, queue_ids } = scope {
                q = q.bind(agent_id.as_str());
                for qid in queue_ids {
                    q = q.bind(qid.as_str());
                }
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((rows::conversation(r)?, r.opt_text("contact_name")?)))
                .collect::<Result<Vec<_>>>()
        })
    }

    /// Customer messages after the last message sent to them.
    async fn unread_of(&self, id: &ConversationId) -> Result<i64> {
        dispatch!(self, pool => {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM messages WHERE conversation_id = $1 \
                 AND direction = 'in' AND id > COALESCE((SELECT MAX(id) FROM messages \
                 WHERE conversation_id = $1 AND direction = 'out' AND author_id IS NOT NULL), '')",
            )
            .bind(id.as_str())
            .fetch_one(pool)
            .await?;
            row.int("n")
        })
    }

    /// Full-text search over message bodies: every word must match (the last one
    /// also as a prefix, as while typing), within one conversation or all the caller may see.
    /// The messages matching the exact words come first, newest first; only when they fill less
    /// than a page is the last word widened to a prefix (a prefix of a common word expands to
    /// many index terms, which costs far more than the exact word), and the messages only the
    /// prefix matches follow, newest first. The wider search asks for a page too: at most a
    /// page's worth of its answer are exact matches already listed, so the rest of the page is
    /// always among it.
    pub async fn search_messages(
        &self,
        words: &[String],
        conversation_id: Option<&ConversationId>,
        scope: &SearchScope,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self
            .search_page(words, false, conversation_id, scope, limit)
            .await?;
        if (found.len() as i64) < limit {
            let wider = self
                .search_page(words, true, conversation_id, scope, limit)
                .await?;
            let exact: std::collections::HashSet<String> =
                found.iter().map(|m| m.id.clone()).collect();
            found.extend(wider.into_iter().filter(|m| !exact.contains(&m.id)));
            found.truncate(usize::try_from(limit.max(0)).unwrap_or(0));
        }
        Ok(found)
    }

    async fn search_page(
        &self,
        words: &[String],
        prefix_last: bool,
        conversation_id: Option<&ConversationId>,
        scope: &SearchScope,
        limit: i64,
    ) -> Result<Vec<MessageRecord>> {
        let mut n = 1; // $1 is the query
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let mut conds = Vec::new();
        if conversation_id.is_some() {
            conds.push(format!("m.conversation_id = {}", next()));
        }
        if let SearchScope::Agent { queue_ids, .. } = scope {
            conds.push(scope_condition(
                "m.conversation_id",
                queue_ids.len(),
                &mut next,
            ));
        }
        let limit_param = next();
        let extra: String = conds.iter().map(|c| format!(" AND {c}")).collect();
        let cols: String = MESSAGE_COLUMNS
            .split(',')
            .map(|c| format!("m.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let last = words.len() - 1;
        let (sql, query) = match self.backend {
            Backend::Sqlite(_) => (
                // FTS5 hands matches out newest first (`ORDER BY rowid DESC` is consumed by the
                // index), so a page stops after `limit` rows however common the words are.
                format!(
                    "SELECT {cols} FROM messages_fts JOIN messages m \
                     ON m.rowid = messages_fts.rowid WHERE messages_fts MATCH $1{extra} \
                     ORDER BY messages_fts.rowid DESC LIMIT {limit_param}"
                ),
                words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let star = if prefix_last && i == last { "*" } else { "" };
                        format!("\"{}\"{star}", w.replace('"', "\"\""))
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Backend::Postgres(_) => (
                String::new(), // see pg_search
                words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let star = if prefix_last && i == last { ":*" } else { "" };
                        format!("'{}'{star}", w.replace('\'', "''"))
                    })
                    .collect::<Vec<_>>()
                    .join(" & "),
            ),
        };
        if let Backend::Postgres(pool) = &self.backend {
            return pg_search(
                pool,
                &cols,
                &extra,
                &limit_param,
                &query,
                conversation_id,
                scope,
                limit,
            )
            .await;
        }
        dispatch!(self, pool => {
            let mut q = sqlx::query(&sql).bind(&query);
            if let Some(c) = conversation_id {
                q = q.bind(c.as_str());
            }
            if let SearchScope::Agent { agent_id, queue_ids } = scope {
                q = q.bind(agent_id.as_str());
                for qid in queue_ids {
                    q = q.bind(qid.as_str());
                }
            }
            let rows = q.bind(limit.max(0)).fetch_all(pool).await?;
            rows.iter().map(rows::message).collect::<Result<Vec<_>>>()
        })
    }
}

/// Matches gathered through the GIN index before PostgreSQL search falls back to walking the
/// newest messages (see [`pg_search`]).
const PG_GATHER_CAP: i64 = 2_000;

/// PostgreSQL's full-text page. Planned as one query, `ORDER BY id DESC LIMIT n` tempts the
/// planner to walk the primary key backwards testing every row, which is quick for common words
/// and a table scan for rare ones. So: first gather up to [`PG_GATHER_CAP`] matches through the
/// GIN index alone (sequential and plain index scans off for that statement); if that is all of
/// them, sort and page them; if there are more, the words are common and walking the newest
/// messages finds a page quickly.
///
/// Gathering a common word is the slow part (the index hands over every one of its hundreds of
/// thousands of matches before the limit applies: 12–30 ms on 1,000,000 messages, where the walk
/// takes under 3 ms). So, for one whole word across all conversations, the planner is asked
/// first how many messages the word matches (its estimate from the column's statistics of most
/// common words, one planning round trip); when that is well above the cap the gather is skipped.
#[allow(clippy::too_many_arguments)]
async fn pg_search(
    pool: &sqlx::PgPool,
    cols: &str,
    extra: &str,
    limit_param: &str,
    query: &str,
    conversation_id: Option<&ConversationId>,
    scope: &SearchScope,
    limit: i64,
) -> Result<Vec<MessageRecord>> {
    let matches = "m.body_tsv @@ to_tsquery('simple', $1)";
    let gather = format!(
        "WITH hits AS MATERIALIZED (SELECT m.id FROM messages m WHERE {matches}{extra} \
         LIMIT {}) SELECT {cols}, (SELECT COUNT(*) FROM hits) AS total \
         FROM messages m JOIN hits h ON h.id = m.id ORDER BY m.id DESC LIMIT {limit_param}",
        PG_GATHER_CAP + 1
    );
    let walk = format!(
        "SELECT {cols} FROM messages m WHERE {matches}{extra} ORDER BY m.id DESC LIMIT {limit_param}"
    );
    fn bound<'q>(
        sql: &'q str,
        query: &'q str,
        conversation_id: Option<&'q ConversationId>,
        scope: &'q SearchScope,
        limit: i64,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let mut q = sqlx::query(sql).bind(query);
        if let Some(c) = conversation_id {
            q = q.bind(c.as_str());
        }
        if let SearchScope::Agent {
            agent_id,
            queue_ids,
        } = scope
        {
            q = q.bind(agent_id.as_str());
            for qid in queue_ids {
                q = q.bind(qid.as_str());
            }
        }
        q.bind(limit.max(0))
    }
    // Only for one whole word across everything a supervisor sees: the planner takes several
    // words as independent (two common words that rarely meet would look common), an agent's
    // scope is not in the estimate, and a prefix without statistics is a guess.
    let one_word = !query.contains('&') && !query.contains(":*");
    if conversation_id.is_none()
        && one_word
        && matches!(scope, SearchScope::All)
        && pg_estimated_matches(pool, matches, query).await? > PG_GATHER_CAP as f64 * 4.0
    {
        let rows = bound(&walk, query, conversation_id, scope, limit)
            .fetch_all(pool)
            .await?;
        return rows.iter().map(rows::message).collect();
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL enable_indexscan = off")
        .execute(&mut *tx)
        .await?;
    let rows = bound(&gather, query, conversation_id, scope, limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    let total = match rows.first() {
        Some(r) => r.int("total")?,
        None => 0,
    };
    let rows = if total <= PG_GATHER_CAP {
        rows
    } else {
        bound(&walk, query, conversation_id, scope, limit)
            .fetch_all(pool)
            .await?
    };
    rows.iter().map(rows::message).collect()
}

/// The planner's estimate of the messages matching `matches` (bound to `query`): the "Plan
/// Rows" of `EXPLAIN`, which comes from the statistics of `body_tsv` (its most common words and
/// their frequencies). 0 when the plan has no estimate.
async fn pg_estimated_matches(pool: &sqlx::PgPool, matches: &str, query: &str) -> Result<f64> {
    let sql = format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM messages m WHERE {matches}");
    let plan: serde_json::Value = sqlx::query_scalar(&sql).bind(query).fetch_one(pool).await?;
    Ok(plan
        .get(0)
        .and_then(|p| p.get("Plan"))
        .and_then(|p| p.get("Plan Rows"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| {
            tracing::warn!("search: EXPLAIN gave no row estimate; gathering through the index");
            0.0
        }))
}
