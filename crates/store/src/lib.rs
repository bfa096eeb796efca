//! Durable storage for Switchboard: one [`Store`] over SQLite (the embedded default) or
//! PostgreSQL, chosen by the URL scheme.
//!
//! Every query is written once, as runtime SQL (`sqlx::query` + `bind`, no compile-time macros),
//! and expanded for both backends by the `dispatch!` macro. Placeholders are `$1, $2, ...` in
//! ascending order of first appearance: PostgreSQL reads them as positions, SQLite as named
//! parameters numbered by first appearance, so both bind the same values in the same order.
//!
//! The store persists what the domain decided; it never decides anything itself (no routing, no
//! validation beyond what the schema enforces) and never reads domain state other than what it
//! is handed. The server's group-commit path writes through [`Store::commit`], one transaction per
//! [`Changeset`].

/// Runs `$body` with `$pool` bound to the concrete pool of `$store`'s backend. The body is
/// expanded once per backend, so it must type-check against both `SqlitePool` and `PgPool`.
macro_rules! dispatch {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}

/// [`dispatch!`] for the group commit: on SQLite, `$pool` is the store's writer (one connection
/// that only commits, so the pages it writes stay in its cache from one commit to the next;
/// every other connection's cache is dropped whenever the database changes).
macro_rules! dispatch_commit {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite(shared) => {
                let $pool = $store.writer.as_ref().unwrap_or(shared);
                $body
            }
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}

mod audit;
mod cluster;
mod connect;
mod contacts;
mod crm;
mod error;
mod library;
mod ops;
mod records;
mod reports;
mod rows;
mod templates;
mod whatsapp;

pub use audit::{AuditCursor, AuditFilter, AuditPage, AuditRecord};
pub use cluster::{LeaseRecord, NodeRecord};
pub use contacts::{search_words, CaseFilter, SearchScope};
pub use error::{Result, StoreError};
pub use library::{ResponseRecord, TokenRecord, TokenUse};
pub use records::{
    CaseRecord, Changeset, ChannelRecord, CommandRecord, ContactRecord, ConversationRecord,
    ConversationSummary, CrmEventRecord, CrmEventUpdate, EventRecord, InteractionFilter, LastSend,
    LoadedState, MessageRecord, MessageStatusUpdate, NoteRecord, OutboxRecord, OutboxUpdate,
    PendingStatus, RawWebhook, UserRecord,
};
pub use reports::{
    report_bucket_range, report_day_of, report_summary_uses_rollups, PresenceInterval,
    ReportFigure, ReportFilter, ReportGroup, ReportInteraction, Summary, SummaryQuery, SummaryRow,
    Timeline, DISPOSITION_BY_COUNTDOWN, DISPOSITION_NO_CODE, MAX_HOUR_RANGE_DAYS, MAX_RANGE_DAYS,
};
pub use templates::{TemplateFilter, TemplateRecord, TemplateStatusChange, TemplateSyncOutcome};

use sqlx::{PgPool, SqlitePool};

/// The concrete connection pool behind a [`Store`].
#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle to the database. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// SQLite: the connection of [`Store::commit`] (see `dispatch_commit!`).
    pub(crate) writer: Option<SqlitePool>,
    /// What a commit writes of the report facts: everything but in benchmarks.
    pub(crate) report_writes: ReportWrites,
}

/// What [`Store::commit`] writes of `Changeset::facts`. Only benchmarks change it, to measure
/// what the report rows cost on the inbound path (`switchboard load --report-writes`); a store
/// that writes less than [`ReportWrites::All`] gives wrong reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportWrites {
    /// The report tables and their roll-ups.
    #[default]
    All,
    /// The report tables without the roll-ups (as before the roll-ups existed).
    FactsOnly,
    /// Nothing (as before the facts existed).
    Off,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// This store, writing only `what` of the report facts (benchmarks only, see
    /// [`ReportWrites`]).
    pub fn with_report_writes(mut self, what: ReportWrites) -> Store {
        self.report_writes = what;
        self
    }

    /// Checks that the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        dispatch!(self, pool => pool.close().await)
    }
}
