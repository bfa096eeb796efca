//! Standard responses and integration tokens: rows an admin writes directly,
//! one statement each, on which no routing decision and no live event depends.
//!
//! The store keeps and finds them; who may see a response, how its placeholders are filled and
//! whether a token is still good are the server's rules.

use crate::error::Result;
use crate::rows::RowExt;
use crate::{Store, StoreError};
use switchboard_domain::model::{AgentId, Timestamp};

/// One standard response.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRecord {
    pub id: String,
    pub title: String,
    pub text: String,
    pub category: Option<String>,
    pub shortcut: Option<String>,
    /// Empty: global (every queue).
    pub queue_ids: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An integration token as listed: never the token, nor its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub user_id: AgentId,
    pub created_by: Option<AgentId>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// What a presented integration token resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUse {
    pub id: String,
    pub user_id: AgentId,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

const RESPONSE_COLUMNS: &str =
    "id, title, text, category, shortcut, queue_ids, created_at, updated_at";
const TOKEN_COLUMNS: &str = "id, name, user_id, created_by, created_at, expires_at, last_used_at";

fn response(r: &impl RowExt) -> Result<ResponseRecord> {
    Ok(ResponseRecord {
        id: r.text("id")?,
        title: r.text("title")?,
        text: r.text("text")?,
        category: r.opt_text("category")?,
        shortcut: r.opt_text("shortcut")?,
        queue_ids: r.json("queue_ids")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

fn token(r: &impl RowExt) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        user_id: AgentId(r.text("user_id")?),
        created_by: r.opt_text("created_by")?.map(AgentId),
        created_at: r.ts("created_at")?,
        expires_at: r.opt_ts("expires_at")?,
        last_used_at: r.opt_ts("last_used_at")?,
    })
}

impl Store {
    /// Every standard response, by title.
    pub async fn responses(&self) -> Result<Vec<ResponseRecord>> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses ORDER BY title, id");
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(response).collect()
        })
    }

    pub async fn response(&self, id: &str) -> Result<Option<ResponseRecord>> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(response).transpose()
        })
    }

    /// Inserts or replaces a standard response.
    pub async fn upsert_response(&self, r: &ResponseRecord) -> Result<()> {
        let queues =
            serde_json::to_string(&r.queue_ids).map_err(|e| StoreError::Invalid(e.to_string()))?;
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO responses (id, title, text, category, shortcut, queue_ids, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, text = excluded.text, \
                 category = excluded.category, shortcut = excluded.shortcut, \
                 queue_ids = excluded.queue_ids, updated_at = excluded.updated_at",
            )
            .bind(r.id.as_str())
            .bind(r.title.as_str())
            .bind(r.text.as_str())
            .bind(r.category.as_deref())
            .bind(r.shortcut.as_deref())
            .bind(queues.as_str())
            .bind(r.created_at.0)
            .bind(r.updated_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes a standard response; [`StoreError::NotFound`] if there is none with that id.
    pub async fn delete_response(&self, id: &str) -> Result<()> {
        self.delete_by_id("DELETE FROM responses WHERE id = $1", id)
            .await
    }

    /// Runs `sql` (a DELETE of one row by `$1`); [`StoreError::NotFound`] if it deleted none.
    async fn delete_by_id(&self, sql: &str, id: &str) -> Result<()> {
        let n = dispatch!(self, pool => {
            sqlx::query(sql).bind(id).execute(pool).await?.rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Stores a new integration token by the SHA-256 of its secret.
    pub async fn create_token(&self, t: &TokenRecord, token_hash: &str) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO api_tokens (id, name, user_id, token_hash, created_by, created_at, \
                 expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(t.id.as_str())
            .bind(t.name.as_str())
            .bind(t.user_id.as_str())
            .bind(token_hash)
            .bind(t.created_by.as_ref().map(AgentId::as_str))
            .bind(t.created_at.0)
            .bind(t.expires_at.map(|e| e.0))
            .bind(t.last_used_at.map(|e| e.0))
            .execute(pool)
            .await
            .map_err(|e| StoreError::conflict_or(e, || "a token with that hash".into()))?;
        });
        Ok(())
    }

    /// Every integration token, newest first (never the token or its hash).
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id");
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(token).collect()
        })
    }

    /// One integration token and the hash of its secret.
    pub async fn token(&self, id: &str) -> Result<Option<(TokenRecord, String)>> {
        let sql = format!("SELECT {TOKEN_COLUMNS}, token_hash FROM api_tokens WHERE id = $1");
        dispatch!(self, pool => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref()
                .map(|r| Ok((token(r)?, r.text("token_hash")?)))
                .transpose()
        })
    }

    /// The token whose secret hashes to `token_hash`, if its user is not deleted.
    pub async fn token_use(&self, token_hash: &str) -> Result<Option<TokenUse>> {
        dispatch!(self, pool => {
            let row = sqlx::query(
                "SELECT t.id AS id, t.user_id AS user_id, t.expires_at AS expires_at, \
                 t.last_used_at AS last_used_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND NOT u.deleted",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(TokenUse {
                    id: r.text("id")?,
                    user_id: AgentId(r.text("user_id")?),
                    expires_at: r.opt_ts("expires_at")?,
                    last_used_at: r.opt_ts("last_used_at")?,
                })
            })
            .transpose()
        })
    }

    /// Sets a token's `last_used_at` to `now` unless it was set after `unless_after` (so that
    /// concurrent requests write it once).
    pub async fn touch_token(
        &self,
        id: &str,
        now: Timestamp,
        unless_after: Timestamp,
    ) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 \
                 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(now.0)
            .bind(id)
            .bind(unless_after.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes (revokes) a token; [`StoreError::NotFound`] if there is none with that id.
    pub async fn delete_token(&self, id: &str) -> Result<()> {
        self.delete_by_id("DELETE FROM api_tokens WHERE id = $1", id)
            .await
    }
}
