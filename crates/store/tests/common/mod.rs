//! What every store test binary shares: a fresh SQLite file, and a fresh PostgreSQL schema when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`), each
//! removed after the scenario, even when it panics.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;

use sqlx::Connection;
use switchboard_domain::model::{
    Agent, AgentId, ConversationId, Customer, Interaction, InteractionId, InteractionState,
    Presence, QueueId, Role, Timestamp,
};
use switchboard_store::Store;

pub const PG_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// Removes a SQLite database file and its WAL companions, even when the test panics.
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

pub fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One database under test, and how to open it again.
pub struct Db {
    pub store: Store,
    pub url: String,
    pub schema: Option<String>,
}

impl Db {
    pub async fn reopen(&self) -> Store {
        match &self.schema {
            Some(schema) => Store::connect_in_schema(&self.url, schema).await,
            None => Store::connect(&self.url).await,
        }
        .expect("reopen")
    }
}

/// The PostgreSQL URL of the tests, if one is set.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: {PG_ENV} not set");
    }
    url
}

/// Drops the test schema `schema` of `url`.
pub async fn drop_schema(url: &str, schema: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to drop schema");
    sqlx::raw_sql(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}

/// Runs `scenario` on a fresh SQLite file named after `name`, then on a fresh PostgreSQL schema
/// if configured.
pub async fn each_backend<F, Fut>(name: &str, scenario: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let path = std::env::temp_dir().join(format!("switchboard-{name}-{}.db", random_hex()));
    let _cleanup = TempFile(path.clone());
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.expect("connect sqlite");
    assert_eq!(store.backend(), "sqlite");
    scenario(Db {
        store: store.clone(),
        url,
        schema: None,
    })
    .await;
    store.close().await;

    let Some(pg_url) = postgres_url() else {
        return;
    };
    let schema = format!("t_{}", random_hex());
    let store = Store::connect_in_schema(&pg_url, &schema)
        .await
        .expect("connect postgres");
    assert_eq!(store.backend(), "postgres");
    scenario(Db {
        store: store.clone(),
        url: pg_url.clone(),
        schema: Some(schema.clone()),
    })
    .await;
    store.close().await;
    drop_schema(&pg_url, &schema).await;
}

/// [`each_backend`] for a scenario that needs only the store.
pub async fn each_store<F, Fut>(name: &str, scenario: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend(name, |db| scenario(db.store)).await;
}

/// An offline agent `id` with `role` ("Agent <id>", capacity 3, in no queue) since 1 s.
pub fn agent(id: &str, role: Role) -> Agent {
    Agent {
        id: AgentId::from(id),
        display_name: format!("Agent {id}"),
        role,
        capacity: 3,
        can_reject: false,
        queue_ids: vec![],
        presence: Presence::Offline,
        break_reason: None,
        stop_new: false,
        presence_since: Timestamp(1_000),
        last_idle_at: Timestamp(1_000),
        disconnected_since: None,
    }
}

/// An interaction `id` in `queue`, created at `created_at` (ms) with Ann's unread "hello".
pub fn interaction(id: &str, state: InteractionState, queue: &str, created_at: i64) -> Interaction {
    Interaction {
        id: InteractionId::from(id),
        state,
        queue_id: QueueId::from(queue),
        conversation_id: ConversationId::from(format!("conv-{id}")),
        channel_id: Some("chan".into()),
        customer: Customer {
            wa_id: "4915112345678".into(),
            name: Some("Ann".into()),
        },
        source_number: None,
        first_message: Some("hello".into()),
        contact_id: None,
        created_at: Timestamp(created_at),
        waiting_since: Timestamp(created_at),
        queue_key: created_at,
        accepted_at: None,
        ended_at: None,
        owner_id: None,
        participants: vec![],
        offer: None,
        conference: None,
        exclusions: vec![],
        sticky: None,
        unread: 1,
        last_inbound_at: Some(Timestamp(created_at)),
        last_agent_reply_at: None,
        awaiting_reply_since: None,
        last_outbound_failed: false,
    }
}
