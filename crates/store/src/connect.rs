//! Opening a [`Store`] from a URL and bringing its schema up to date.
//!
//! Migrations are embedded SQL files, one append-only list per backend, applied in order by a
//! tiny runner that records each version in `schema_migrations`. Each migration runs in its own
//! transaction and is never applied twice. An applied migration must never be edited: add one.

use crate::error::Result;
use crate::{Backend, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;
use std::str::FromStr;
use std::time::Duration;

/// `(version, sql)`, in ascending version order.
type Migrations = &'static [(i64, &'static str)];

const SQLITE_MIGRATIONS: Migrations = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_whatsapp.sql")),
    (3, include_str!("../migrations/sqlite/0003_media.sql")),
    (4, include_str!("../migrations/sqlite/0004_contacts.sql")),
    (5, include_str!("../migrations/sqlite/0005_templates.sql")),
    (6, include_str!("../migrations/sqlite/0006_crm_events.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_unassigned_cases.sql"),
    ),
    (9, include_str!("../migrations/sqlite/0009_audit.sql")),
    (
        10,
        include_str!("../migrations/sqlite/0010_report_facts.sql"),
    ),
    (11, include_str!("../migrations/sqlite/0011_event_seq.sql")),
    (
        12,
        include_str!("../migrations/sqlite/0012_responses_tokens.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_report_rollups.sql"),
    ),
    (14, include_str!("../migrations/sqlite/0014_cluster.sql")),
    (
        15,
        include_str!("../migrations/sqlite/0015_report_rollups_storage.sql"),
    ),
];

const POSTGRES_MIGRATIONS: Migrations = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_whatsapp.sql")),
    (3, include_str!("../migrations/postgres/0003_media.sql")),
    (4, include_str!("../migrations/postgres/0004_contacts.sql")),
    (5, include_str!("../migrations/postgres/0005_templates.sql")),
    (
        6,
        include_str!("../migrations/postgres/0006_crm_events.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_unassigned_cases.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_bounded_search.sql"),
    ),
    (9, include_str!("../migrations/postgres/0009_audit.sql")),
    (
        10,
        include_str!("../migrations/postgres/0010_report_facts.sql"),
    ),
    (
        11,
        include_str!("../migrations/postgres/0011_event_seq.sql"),
    ),
    (
        12,
        include_str!("../migrations/postgres/0012_responses_tokens.sql"),
    ),
    (
        13,
        include_str!("../migrations/postgres/0013_report_rollups.sql"),
    ),
    (14, include_str!("../migrations/postgres/0014_cluster.sql")),
    (
        15,
        include_str!("../migrations/postgres/0015_report_rollups_storage.sql"),
    ),
];

/// Serializes concurrent migrators of one PostgreSQL database (an arbitrary constant).
const PG_MIGRATION_LOCK: i64 = 0x5357_4954_4348; // "SWITCH"

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite: WAL pages after which a committing connection checkpoints by itself. Only a
/// backstop: [`Store::checkpoint_soon`] normally did it in the background long before.
const SQLITE_WAL_AUTOCHECKPOINT: &str = "10000";

/// SQLite: the least time between two background checkpoints.
const SQLITE_CHECKPOINT_EVERY_MS: i64 = 50;

fn config_error(msg: impl Into<String>) -> StoreError {
    StoreError::Database(sqlx::Error::Configuration(msg.into().into()))
}

impl Store {
    /// Opens the database at `url` and applies pending migrations.
    ///
    /// - `sqlite://path/to/file.db` (or `sqlite:path`): creates the file and its parent
    ///   directories if missing; WAL journal, `synchronous=FULL`, 5 s busy timeout, foreign keys
    ///   on. `sqlite::memory:` gives a private in-memory database (tests only: it lives as long
    ///   as the pool's single connection).
    /// - `postgres://...` or `postgresql://...`.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = if is_postgres(url) {
            Store {
                backend: Backend::Postgres(pg_pool(PgConnectOptions::from_str(url)?).await?),
                writer: None,
                report_writes: Default::default(),
            }
        } else if url.starts_with("sqlite:") {
            let (pool, writer) = sqlite_pool(url).await?;
            Store {
                backend: Backend::Sqlite(pool),
                writer,
                report_writes: Default::default(),
            }
        } else {
            return Err(config_error(
                "unsupported database URL: expected sqlite://, postgres:// or postgresql://",
            ));
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a PostgreSQL database with every table inside `schema` (created if missing), by
    /// setting `search_path` on each pooled connection. For tests that share one database.
    /// `schema` must be a plain identifier (ASCII letters, digits, `_`).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Store> {
        if !is_postgres(url) {
            return Err(config_error("connect_in_schema needs a PostgreSQL URL"));
        }
        let plain_identifier = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain_identifier {
            return Err(config_error(format!("invalid schema name {schema:?}")));
        }
        let options = PgConnectOptions::from_str(url)?;
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let pool = pg_pool(options.options([("search_path", schema)])).await?;
        let store = Store {
            backend: Backend::Postgres(pool),
            writer: None,
            report_writes: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// After a commit, on SQLite: copies the WAL back into the database file (`PRAGMA
    /// wal_checkpoint(PASSIVE)`) on another pooled connection, in the background and at most
    /// every 50 ms, so that no commit pays for a checkpoint (a passive checkpoint never blocks a
    /// writer, and the writer restarts the WAL from its beginning once all of it is copied).
    /// One background checkpoint at a time per process.
    pub(crate) fn checkpoint_soon(&self) {
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        static RUNNING: AtomicBool = AtomicBool::new(false);
        static LAST_MS: AtomicI64 = AtomicI64::new(0);
        let Backend::Sqlite(pool) = &self.backend else {
            return;
        };
        let now = crate::ops::now_ms();
        if now - LAST_MS.load(Ordering::Relaxed) < SQLITE_CHECKPOINT_EVERY_MS
            || RUNNING.swap(true, Ordering::AcqRel)
        {
            return;
        }
        LAST_MS.store(now, Ordering::Relaxed);
        let pool = pool.clone();
        tokio::spawn(async move {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::debug!(error = %e, "background WAL checkpoint failed");
            }
            RUNNING.store(false, Ordering::Release);
        });
    }

    /// Applies every migration of this backend not yet recorded in `schema_migrations`.
    async fn migrate(&self) -> Result<()> {
        let (migrations, lock) = match &self.backend {
            // Take SQLite's write lock up front, so two migrators wait on each other (busy
            // timeout) instead of failing when a read lock cannot be upgraded.
            Backend::Sqlite(_) => (SQLITE_MIGRATIONS, "BEGIN IMMEDIATE".to_owned()),
            Backend::Postgres(_) => (
                POSTGRES_MIGRATIONS,
                format!("BEGIN; SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"),
            ),
        };
        dispatch!(self, pool => {
            for &(version, sql) in migrations {
                let mut tx = pool.begin_with(lock.clone()).await?;
                // Inside the locked transaction, so concurrent first starts do not race on it.
                sqlx::raw_sql(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (\
                     version BIGINT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)",
                )
                .execute(&mut *tx)
                .await?;
                let applied =
                    sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                if applied {
                    tx.rollback().await?;
                    continue;
                }
                tracing::info!(backend = self.backend(), version, "applying migration");
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                if version == crate::reports::ROLLUP_MIGRATION {
                    // An upgraded database's roll-ups are right at once: summed from its rows.
                    for sql in crate::reports::rollup_rebuild_sql() {
                        sqlx::raw_sql(&sql).execute(&mut *tx).await?;
                    }
                }
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(version)
                    .bind(crate::ops::now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        });
        Ok(())
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// The same PostgreSQL database through a pool of its own of at most `connections`
    /// (several nodes: the router lease is renewed on it, so a busy main pool never delays it).
    /// On SQLite, the same store.
    pub async fn dedicated(&self, connections: u32) -> Result<Store> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let options = (*pool.connect_options()).clone();
                let pool = PgPoolOptions::new()
                    .max_connections(connections.max(1))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Store {
                    backend: Backend::Postgres(pool),
                    writer: None,
                    report_writes: self.report_writes,
                })
            }
            Backend::Sqlite(_) => Ok(self.clone()),
        }
    }
}

async fn pg_pool(options: PgConnectOptions) -> Result<sqlx::PgPool> {
    // Plan every execution of a prepared statement with its actual parameters and the table's
    // current size: a generic plan cached while a table was empty (a sequential scan, e.g. of
    // `messages` by `wa_message_id`) would otherwise stay in use as the table grows.
    let options = options.options([("plan_cache_mode", "force_custom_plan")]);
    Ok(PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

/// SQLite: the shared pool, and (for a database file) the writer of the group commit.
async fn sqlite_pool(url: &str) -> Result<(sqlx::SqlitePool, Option<sqlx::SqlitePool>)> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    if in_memory {
        // One connection that never retires: the database lives exactly as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        return Ok((pool, None));
    }
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                config_error(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
    }
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .pragma("wal_autocheckpoint", SQLITE_WAL_AUTOCHECKPOINT)
        // A group commit's multi-row statements each keep a statement journal (to undo just
        // that statement on a constraint error); in memory, not spilled to a temp file.
        .pragma("temp_store", "memory")
        // A 32 MiB page cache per connection (default 2 MiB): the B-trees a commit writes to stay
        // cached between commits, and history pages and lookups on a large database stay off the
        // read syscalls, as do memory-mapped reads (256 MiB).
        .pragma("cache_size", "-32768")
        .pragma("mmap_size", "268435456");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    // The group commit's own connection: never retired, never tested before use (a commit that
    // finds it broken fails and the core reloads, as for any failed commit).
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok((pool, Some(writer)))
}
