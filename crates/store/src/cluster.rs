//! Several nodes sharing one PostgreSQL database: the router lease, the nodes seen,
//! the results of forwarded commands and the events a node relays to its websockets.
//!
//! Lease times are milliseconds by the database's clock (`db_now`), so the nodes' clocks never
//! decide who holds the lease.

use crate::error::Result;
use crate::records::EventRecord;
use crate::rows::RowExt;
use crate::{Backend, Store};
use switchboard_domain::Timestamp;

/// A node as `GET /api/v1/cluster` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    pub id: String,
    pub started_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// The router lease as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRecord {
    pub holder: String,
    pub epoch: i64,
    /// Whether it is unexpired by the database's clock.
    pub live: bool,
}

impl Store {
    /// The database's clock in milliseconds, as an SQL expression.
    fn db_now(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Backend::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// The statement of [`Changeset::fence`](crate::Changeset::fence): a row when epoch `$1`
    /// holds an unexpired lease; on PostgreSQL the row is share-locked until the commit, so a
    /// take-over waits for the commit and a commit never lands after a take-over.
    pub(crate) fn fence_sql(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => {
                "SELECT 1 AS held FROM router_lease WHERE id = 1 AND epoch = $1 \
                 AND expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
            }
            Backend::Postgres(_) => {
                "SELECT 1 AS held FROM router_lease WHERE id = 1 AND epoch = $1 \
                 AND expires_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) \
                 FOR SHARE"
            }
        }
    }

    /// Takes the router lease for `holder` for `lease_ms` if it is free (never held, expired or
    /// released), with the next epoch; `None` while another node (or an earlier epoch of this
    /// one) holds it.
    pub async fn acquire_lease(&self, holder: &str, lease_ms: i64) -> Result<Option<i64>> {
        let now = self.db_now();
        let sql = format!(
            "UPDATE router_lease SET holder = $1, epoch = epoch + 1, expires_at = {now} + $2 \
             WHERE id = 1 AND expires_at <= {now} RETURNING epoch"
        );
        dispatch!(self, pool => {
            let row = sqlx::query(&sql)
                .bind(holder)
                .bind(lease_ms)
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.int("epoch")).transpose()
        })
    }

    /// Extends the lease of `epoch` held by `holder` by `lease_ms` from now; false when it is
    /// lost (expired, or taken over).
    pub async fn renew_lease(&self, holder: &str, epoch: i64, lease_ms: i64) -> Result<bool> {
        let now = self.db_now();
        let sql = format!(
            "UPDATE router_lease SET expires_at = {now} + $3 \
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > {now}"
        );
        let n = dispatch!(self, pool => {
            sqlx::query(&sql)
                .bind(holder)
                .bind(epoch)
                .bind(lease_ms)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives the lease of `epoch` up at once (a node that stops), so another node takes over
    /// without waiting for it to expire.
    pub async fn release_lease(&self, holder: &str, epoch: i64) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query(
                "UPDATE router_lease SET expires_at = 0 WHERE id = 1 AND holder = $1 AND epoch = $2",
            )
            .bind(holder)
            .bind(epoch)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The lease as stored.
    pub async fn lease(&self) -> Result<LeaseRecord> {
        let sql = format!(
            "SELECT holder, epoch, CAST(CASE WHEN expires_at > {} THEN 1 ELSE 0 END AS BIGINT) AS live \
             FROM router_lease WHERE id = 1",
            self.db_now()
        );
        dispatch!(self, pool => {
            let r = sqlx::query(&sql).fetch_one(pool).await?;
            Ok(LeaseRecord {
                holder: r.text("holder")?,
                epoch: r.int("epoch")?,
                live: r.int("live")? == 1,
            })
        })
    }

    /// Records that node `id` (started at `started_at`) is alive now.
    pub async fn touch_node(&self, id: &str, started_at: Timestamp, now: Timestamp) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO cluster_nodes (id, started_at, last_seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, \
                 last_seen_at = excluded.last_seen_at",
            )
            .bind(id)
            .bind(started_at.0)
            .bind(now.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Nodes seen since `since`, by id.
    pub async fn nodes(&self, since: Timestamp) -> Result<Vec<NodeRecord>> {
        dispatch!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, started_at, last_seen_at FROM cluster_nodes \
                 WHERE last_seen_at >= $1 ORDER BY id",
            )
            .bind(since.0)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(NodeRecord {
                        id: r.text("id")?,
                        started_at: Timestamp(r.int("started_at")?),
                        last_seen_at: Timestamp(r.int("last_seen_at")?),
                    })
                })
                .collect()
        })
    }

    /// The stored result of forwarded command `id`, if it was committed.
    pub async fn command_result(&self, id: &str) -> Result<Option<String>> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT result FROM cluster_commands WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.text("result")).transpose()
        })
    }

    /// Forgets results of forwarded commands stored before `older_than` (a retry comes within
    /// seconds). Returns how many were deleted.
    pub async fn prune_commands(&self, older_than: Timestamp) -> Result<u64> {
        dispatch!(self, pool => {
            Ok(sqlx::query("DELETE FROM cluster_commands WHERE created_at < $1")
                .bind(older_than.0)
                .execute(pool)
                .await?
                .rows_affected())
        })
    }

    /// The newest event sequence number of all streams (0 when none).
    pub async fn max_event_seq(&self) -> Result<i64> {
        dispatch!(self, pool => {
            let row = sqlx::query("SELECT MAX(seq) AS seq FROM events")
                .fetch_one(pool)
                .await?;
            Ok(row.opt_int("seq")?.unwrap_or(0))
        })
    }

    /// Events of every stream with `since < seq <= until`, ascending, at most `limit`, each
    /// `data` as stored (JSON text): what a node relays when it missed a relayed batch.
    pub async fn encoded_events_between(
        &self,
        since: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord<String>>> {
        let sql = format!(
            "SELECT {} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            crate::rows::EVENT_COLUMNS
        );
        dispatch!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(since)
                .bind(until)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?;
            rows.iter().map(crate::rows::encoded_event).collect()
        })
    }
}
