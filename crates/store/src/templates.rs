//! WhatsApp message templates: what a sync of a business account (WABA) brought, their review
//! status (also moved by status webhooks), and the admin's variable map.
//!
//! The store keeps and finds templates; it never decides what is sendable or how a template is
//! filled in (the server does).

use crate::error::Result;
use crate::rows::{to_json, RowExt};
use crate::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use switchboard_domain::model::Timestamp;

/// One template of a business account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateRecord {
    /// Switchboard's id.
    pub id: String,
    /// The channel it was (last) synced through.
    pub channel_id: String,
    pub waba_id: String,
    /// WhatsApp's id of the template.
    pub wa_template_id: Option<String>,
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// `UTILITY`, `MARKETING`, `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, …
    pub status: String,
    /// `POSITIONAL` or `NAMED`.
    pub parameter_format: String,
    /// The Graph API's `components` array, as listed.
    pub components: Value,
    /// Template variable -> contact field (a JSON object).
    pub variable_map: Value,
    /// Why review refused or paused it, if it did.
    pub rejected_reason: Option<String>,
    /// No longer listed by WhatsApp.
    pub deleted: bool,
    pub synced_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which templates [`Store::templates`] returns, ordered by name and language.
#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    /// Only these accounts (`None`: all).
    pub waba_ids: Option<Vec<String>>,
    /// Only this status (exact, upper case).
    pub status: Option<String>,
    /// Names containing this text (case-insensitive).
    pub q: Option<String>,
    /// Also templates WhatsApp no longer lists.
    pub include_deleted: bool,
}

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateSyncOutcome {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Known templates WhatsApp no longer lists, now marked deleted.
    pub deleted: usize,
}

/// A review decision of WhatsApp (`message_template_status_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatusChange {
    pub waba_id: String,
    pub wa_template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    pub status: String,
    pub reason: Option<String>,
}

const TEMPLATE_COLUMNS: &str = "id, channel_id, waba_id, wa_template_id, name, language, \
     category, status, parameter_format, components, variable_map, rejected_reason, deleted, \
     synced_at, created_at, updated_at";

fn template(row: &impl RowExt) -> Result<TemplateRecord> {
    Ok(TemplateRecord {
        id: row.text("id")?,
        channel_id: row.text("channel_id")?,
        waba_id: row.text("waba_id")?,
        wa_template_id: row.opt_text("wa_template_id")?,
        name: row.text("name")?,
        language: row.text("language")?,
        category: row.text("category")?,
        status: row.text("status")?,
        parameter_format: row.text("parameter_format")?,
        components: row.json("components")?,
        variable_map: row.json("variable_map")?,
        rejected_reason: row.opt_text("rejected_reason")?,
        deleted: row.flag("deleted")?,
        synced_at: row.ts("synced_at")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

/// Whether a sync would change what is stored of a template (times aside).
fn differs(old: &TemplateRecord, new: &TemplateRecord) -> bool {
    old.wa_template_id != new.wa_template_id
        || old.category != new.category
        || old.status != new.status
        || old.parameter_format != new.parameter_format
        || old.components != new.components
        || old.rejected_reason != new.rejected_reason
        || old.deleted
}

/// `text` for a `LIKE … ESCAPE '\'` pattern that matches it anywhere.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Makes the stored templates of `waba_id` what WhatsApp lists (`listed`, one transaction):
    /// new ones are added with their given id, known ones (same name and language) updated
    /// keeping their id, variable map and creation time, and known ones missing from the list
    /// marked deleted. `channel_id` of every listed one becomes the given record's.
    pub async fn sync_templates(
        &self,
        waba_id: &str,
        listed: &[TemplateRecord],
        now: Timestamp,
    ) -> Result<TemplateSyncOutcome> {
        // The last of duplicates wins, as it would in a sequence of upserts.
        let mut by_key: HashMap<(&str, &str), &TemplateRecord> = HashMap::new();
        let mut order: Vec<(&str, &str)> = Vec::new();
        for t in listed {
            let key = (t.name.as_str(), t.language.as_str());
            if by_key.insert(key, t).is_none() {
                order.push(key);
            }
        }
        let docs = order
            .iter()
            .map(|k| {
                Ok((
                    to_json(&by_key[k].components)?,
                    to_json(&by_key[k].variable_map)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let select = format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE waba_id = $1");
        let begin = self.begin_write();
        dispatch!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let rows = sqlx::query(&select).bind(waba_id).fetch_all(&mut *tx).await?;
            let known = rows.iter().map(template).collect::<Result<Vec<_>>>()?;
            let mut outcome = TemplateSyncOutcome::default();
            for (key, (components, variable_map)) in order.iter().zip(&docs) {
                let t = by_key[key];
                match known.iter().find(|k| (k.name.as_str(), k.language.as_str()) == *key) {
                    Some(old) => {
                        let changed = differs(old, t);
                        if changed {
                            outcome.updated += 1;
                        } else {
                            outcome.unchanged += 1;
                        }
                        sqlx::query(
                            "UPDATE templates SET channel_id = $1, wa_template_id = $2, \
                             category = $3, status = $4, parameter_format = $5, components = $6, \
                             rejected_reason = $7, deleted = FALSE, synced_at = $8, \
                             updated_at = CASE WHEN $9 THEN $8 ELSE updated_at END \
                             WHERE id = $10",
                        )
                        .bind(t.channel_id.as_str())
                        .bind(t.wa_template_id.as_deref())
                        .bind(t.category.as_str())
                        .bind(t.status.as_str())
                        .bind(t.parameter_format.as_str())
                        .bind(components.as_str())
                        .bind(t.rejected_reason.as_deref())
                        .bind(now.0)
                        .bind(changed)
                        .bind(old.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        outcome.added += 1;
                        sqlx::query(
                            "INSERT INTO templates (id, channel_id, waba_id, wa_template_id, name, \
                             language, category, status, parameter_format, components, \
                             variable_map, rejected_reason, deleted, synced_at, created_at, \
                             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                             $12, FALSE, $13, $13, $13)",
                        )
                        .bind(t.id.as_str())
                        .bind(t.channel_id.as_str())
                        .bind(waba_id)
                        .bind(t.wa_template_id.as_deref())
                        .bind(t.name.as_str())
                        .bind(t.language.as_str())
                        .bind(t.category.as_str())
                        .bind(t.status.as_str())
                        .bind(t.parameter_format.as_str())
                        .bind(components.as_str())
                        .bind(variable_map.as_str())
                        .bind(t.rejected_reason.as_deref())
                        .bind(now.0)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            for gone in known.iter().filter(|k| {
                !k.deleted && !by_key.contains_key(&(k.name.as_str(), k.language.as_str()))
            }) {
                outcome.deleted += 1;
                sqlx::query("UPDATE templates SET deleted = TRUE, updated_at = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(gone.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Templates matching `filter`, by name and language.
    pub async fn templates(&self, filter: &TemplateFilter) -> Result<Vec<TemplateRecord>> {
        if filter.waba_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        dispatch!(self, pool => {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE 1 = 1"
            ));
            if !filter.include_deleted {
                qb.push(" AND NOT deleted");
            }
            if let Some(wabas) = &filter.waba_ids {
                qb.push(" AND waba_id IN (");
                let mut sep = qb.separated(", ");
                for w in wabas {
                    sep.push_bind(w.as_str());
                }
                qb.push(")");
            }
            if let Some(status) = &filter.status {
                qb.push(" AND status = ").push_bind(status.as_str());
            }
            if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
                qb.push(" AND LOWER(name) LIKE ")
                    .push_bind(contains_pattern(q))
                    .push(" ESCAPE '\\'");
            }
            qb.push(" ORDER BY name, language, waba_id");
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(template).collect()
        })
    }

    /// One template by Switchboard's id (deleted ones too).
    pub async fn template(&self, id: &str) -> Result<Option<TemplateRecord>> {
        let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| template(&r)).transpose()
        })
    }

    /// The template of an account by name and language (deleted ones too).
    pub async fn template_by_name(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<Option<TemplateRecord>> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM templates \
             WHERE waba_id = $1 AND name = $2 AND language = $3"
        );
        dispatch!(self, pool => {
            let row = sqlx::query(&sql)
                .bind(waba_id)
                .bind(name)
                .bind(language)
                .fetch_optional(pool)
                .await?;
            row.map(|r| template(&r)).transpose()
        })
    }

    /// Replaces a template's variable map; `NotFound` if there is no such template.
    pub async fn set_template_variable_map(
        &self,
        id: &str,
        map: &Value,
        now: Timestamp,
    ) -> Result<()> {
        let doc = to_json(map)?;
        let n = dispatch!(self, pool => {
            sqlx::query("UPDATE templates SET variable_map = $1, updated_at = $2 WHERE id = $3")
                .bind(doc.as_str())
                .bind(now.0)
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

    /// Applies a review decision to the template it names: by WhatsApp's id within the account
    /// when given and known, else by name and language. Returns the template as changed, or
    /// `None` when no stored template matches.
    pub async fn set_template_status(
        &self,
        change: &TemplateStatusChange,
        now: Timestamp,
    ) -> Result<Option<TemplateRecord>> {
        let by_wa_id = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE waba_id = $1 AND wa_template_id = $2"
        );
        let by_name = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM templates \
             WHERE waba_id = $1 AND name = $2 AND language = $3"
        );
        let begin = self.begin_write();
        dispatch!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let mut found = None;
            if let Some(wa_id) = change.wa_template_id.as_deref() {
                found = sqlx::query(&by_wa_id)
                    .bind(change.waba_id.as_str())
                    .bind(wa_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            if found.is_none() {
                if let (Some(name), Some(language)) = (&change.name, &change.language) {
                    found = sqlx::query(&by_name)
                        .bind(change.waba_id.as_str())
                        .bind(name.as_str())
                        .bind(language.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                }
            }
            let Some(row) = found else {
                tx.rollback().await?;
                return Ok(None);
            };
            let mut t = template(&row)?;
            sqlx::query(
                "UPDATE templates SET status = $1, rejected_reason = $2, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(change.status.as_str())
            .bind(change.reason.as_deref())
            .bind(now.0)
            .bind(t.id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            t.status = change.status.clone();
            t.rejected_reason = change.reason.clone();
            t.updated_at = now;
            Ok(Some(t))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Order"), "%order%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
