//! The audit log: who changed what and when, with the values before and after.
//!
//! Entries are written with the change they record, in the same transaction
//! ([`Changeset::audit`](crate::Changeset::audit)), or on their own by [`Store::append_audit`]
//! for what changes nothing else (a failed login). They are never updated; [`Store::prune_audit`]
//! removes the old ones. [`Store::audit_page`] reads them newest first by `(at, id)`: ids are
//! unique, so that order is total and a page's cursor never skips or repeats an entry, however
//! many share a timestamp.

use crate::error::Result;
use crate::rows::{to_json, RowExt};
use crate::Store;
use serde::{Deserialize, Serialize};
use switchboard_domain::model::{AgentId, Timestamp};

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique; also the second key of the log's order (entries of equal `at` by id).
    pub id: String,
    pub at: Timestamp,
    /// Who did it; `None` for the system or an unknown user (e.g. a failed login with a username
    /// that does not exist).
    pub actor_id: Option<AgentId>,
    /// The actor's display name when it happened (kept when the user is renamed or deleted).
    pub actor_name: Option<String>,
    /// Dotted: `queue.created`, `agent.updated`, `settings.updated`, `presence.changed`,
    /// `login.failed`, `interaction.taken_over`, …
    pub action: String,
    /// What was acted on: `queue`, `agent`, `settings`, `channel`, `interaction`, `user`, …
    pub target_type: String,
    pub target_id: String,
    /// The target's value before the change (`None` for a creation or when it does not apply).
    pub before: Option<serde_json::Value>,
    /// The target's value after the change (`None` for a deletion or when it does not apply).
    pub after: Option<serde_json::Value>,
    /// The client's address, where the change came from an HTTP request.
    pub client_addr: Option<String>,
}

/// Where a page of the audit log continues: the `(at, id)` of the last entry of the previous
/// page. The next page holds the entries strictly older in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCursor {
    pub at: Timestamp,
    pub id: String,
}

impl AuditCursor {
    /// The cursor of an entry: the page after it starts with the next older entry.
    pub fn of(record: &AuditRecord) -> AuditCursor {
        AuditCursor {
            at: record.at,
            id: record.id.clone(),
        }
    }

    /// The cursor as one opaque string for an API (`next`, `before=`): `<at>_<id>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.0, self.id)
    }

    /// Reads a string made by [`AuditCursor::encode`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<AuditCursor> {
        let (at, id) = s.split_once('_')?;
        if id.is_empty() || at.is_empty() || !at.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(AuditCursor {
            at: Timestamp(at.parse().ok()?),
            id: id.to_owned(),
        })
    }
}

/// Which entries [`Store::audit_page`] returns, newest first. Every set field must match.
/// `Default` has `limit: 0`, which matches nothing: set a limit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditFilter {
    /// Entries at or after this time.
    pub from: Option<Timestamp>,
    /// Entries strictly before this time.
    pub to: Option<Timestamp>,
    pub actor_id: Option<AgentId>,
    /// An exact action (`queue.created`), or, ending with a dot, every action that starts with
    /// it (`queue.` matches `queue.created`, `queue.updated`, `queue.deleted`).
    pub action: Option<String>,
    pub target_id: Option<String>,
    /// At most this many (negative counts as zero).
    pub limit: i64,
    /// Only entries older than this cursor (the `next` of the previous page).
    pub before: Option<AuditCursor>,
}

/// One page of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditRecord>,
    /// The cursor of the next (older) page; `None` when there are no older matching entries.
    pub next: Option<AuditCursor>,
}

/// Inserts one entry; an id already stored is left as it is (a changeset committed again after
/// a failure does not log twice).
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (id, at, actor_id, actor_name, \
     action, target_type, target_id, before, after, client_addr) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING";

/// Runs [`INSERT_AUDIT`] for the entry `$a`, its `before` and `after` encoded (see
/// `encode_values`), in the transaction `$tx`: the one statement that writes an audit row, with
/// a change or alone.
macro_rules! insert_audit {
    ($tx:expr, $a:expr, $before:expr, $after:expr) => {
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind($a.id.as_str())
            .bind($a.at.0)
            .bind(
                $a.actor_id
                    .as_ref()
                    .map(switchboard_domain::model::AgentId::as_str),
            )
            .bind($a.actor_name.as_deref())
            .bind($a.action.as_str())
            .bind($a.target_type.as_str())
            .bind($a.target_id.as_str())
            .bind($before.as_deref())
            .bind($after.as_deref())
            .bind($a.client_addr.as_deref())
            .execute(&mut *$tx)
            .await
    };
}
pub(crate) use insert_audit;

const AUDIT_COLUMNS: &str =
    "id, at, actor_id, actor_name, action, target_type, target_id, before, after, client_addr";

/// `before` and `after` of an entry as JSON text.
pub(crate) fn encode_values(a: &AuditRecord) -> Result<(Option<String>, Option<String>)> {
    Ok((
        a.before.as_ref().map(to_json).transpose()?,
        a.after.as_ref().map(to_json).transpose()?,
    ))
}

fn audit_record(row: &impl RowExt) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.text("id")?,
        at: row.ts("at")?,
        actor_id: row.opt_text("actor_id")?.map(AgentId),
        actor_name: row.opt_text("actor_name")?,
        action: row.text("action")?,
        target_type: row.text("target_type")?,
        target_id: row.text("target_id")?,
        before: row.opt_json("before")?,
        after: row.opt_json("after")?,
        client_addr: row.opt_text("client_addr")?,
    })
}

/// The smallest string above every string that starts with `prefix` (bytewise, which is code
/// point order): its last character incremented. `None` when no such string exists.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A bound value of an audit query.
enum Arg {
    Int(i64),
    Text(String),
}

/// Adds a bound value; its placeholder (numbered in order of first appearance).
fn bind(args: &mut Vec<Arg>, a: Arg) -> String {
    args.push(a);
    format!("${}", args.len())
}

impl Store {
    /// Stores audit entries that go with no other change (e.g. `login.failed`), in one
    /// transaction. An id already stored is left as it is.
    pub async fn append_audit(&self, records: &[AuditRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let values = records
            .iter()
            .map(encode_values)
            .collect::<Result<Vec<_>>>()?;
        let begin = self.begin_write();
        dispatch!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            for (a, (before, after)) in records.iter().zip(&values) {
                insert_audit!(tx, a, before, after)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// One page of the audit log, newest first (by time, then id), with the cursor of the next.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<AuditPage> {
        let limit = filter.limit.max(0);
        if limit == 0 {
            return Ok(AuditPage {
                items: Vec::new(),
                next: None,
            });
        }
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        if let Some(from) = filter.from {
            let p = bind(&mut args, Arg::Int(from.0));
            conds.push(format!("at >= {p}"));
        }
        if let Some(to) = filter.to {
            let p = bind(&mut args, Arg::Int(to.0));
            conds.push(format!("at < {p}"));
        }
        if let Some(actor) = &filter.actor_id {
            let p = bind(&mut args, Arg::Text(actor.0.clone()));
            conds.push(format!("actor_id = {p}"));
        }
        if let Some(action) = &filter.action {
            if action.ends_with('.') {
                let p = bind(&mut args, Arg::Text(action.clone()));
                match prefix_end(action) {
                    Some(end) => {
                        let q = bind(&mut args, Arg::Text(end));
                        conds.push(format!("action >= {p} AND action < {q}"));
                    }
                    None => conds.push(format!("action >= {p}")),
                }
            } else {
                let p = bind(&mut args, Arg::Text(action.clone()));
                conds.push(format!("action = {p}"));
            }
        }
        if let Some(target) = &filter.target_id {
            let p = bind(&mut args, Arg::Text(target.clone()));
            conds.push(format!("target_id = {p}"));
        }
        if let Some(c) = &filter.before {
            let p = bind(&mut args, Arg::Int(c.at.0));
            let q = bind(&mut args, Arg::Text(c.id.clone()));
            conds.push(format!("(at < {p} OR (at = {p} AND id < {q}))"));
        }
        // One more than asked: whether it exists says if there is a next page.
        let l = bind(&mut args, Arg::Int(limit.saturating_add(1)));
        let filter_sql = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log {filter_sql} ORDER BY at DESC, id DESC LIMIT {l}"
        );
        let mut items = dispatch!(self, pool => {
            let mut query = sqlx::query(&sql);
            for a in &args {
                query = match a {
                    Arg::Int(v) => query.bind(*v),
                    Arg::Text(v) => query.bind(v.as_str()),
                };
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(audit_record).collect::<Result<Vec<_>>>()?
        });
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            items.last().map(AuditCursor::of)
        } else {
            None
        };
        Ok(AuditPage { items, next })
    }

    /// Deletes the entries older than `older_than` (the retention setting). Returns how many.
    pub async fn prune_audit(&self, older_than: Timestamp) -> Result<u64> {
        let deleted = dispatch!(self, pool => {
            sqlx::query("DELETE FROM audit_log WHERE at < $1")
                .bind(older_than.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_just_above_every_string_with_the_prefix() {
        assert_eq!(prefix_end("queue.").as_deref(), Some("queue/"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let c = AuditCursor {
            at: Timestamp(1_700_000_000_123),
            id: "aud_01_x".into(),
        };
        assert_eq!(AuditCursor::parse(&c.encode()), Some(c));
        for bad in [
            "",
            "_",
            "12_",
            "_aud",
            "x1_aud",
            "-1_aud",
            "1 2_aud",
            "99999999999999999999_a",
        ] {
            assert_eq!(AuditCursor::parse(bad), None, "{bad:?}");
        }
    }
}
