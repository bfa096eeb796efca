//! Reports at the scale of issue 14 (1,000,000 interactions over 90 days, 1,000 agents, 100
//! queues), seeded straight into the report tables. Ignored by default (it takes minutes):
//! `cargo test -p switchboard-store --test reports_scale -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use sqlx::Connection;
use switchboard_domain::model::{AgentId, Timestamp};
use switchboard_store::{ReportFilter, ReportGroup, Store, SummaryQuery};

const N: i64 = 1_000_000;
const BASE: i64 = 1_767_225_600_000; // 2026-01-01 00:00 UTC
const SPAN: i64 = 90 * 86_400_000;

fn seed_sql() -> Vec<String> {
    let step = SPAN / N;
    vec![
        format!(
            "INSERT INTO report_interactions (id, queue_id, channel_id, customer_wa_id, outbound, \
             sla_ms, created_at, accepted_at, first_agent_id, first_response_at, ended_at, \
             wrapped_up_at, disposition, by_countdown, handle_ms, transfers, missed_offers, \
             rejected_offers, messages_in, messages_out) \
             WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
             SELECT 'i' || i, 'q' || (i % 100), 'ch' || (i % 5), 'w' || i, \
             CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END, 60000, {BASE} + i * {step}, \
             {BASE} + i * {step} + (i % 60) * 1000, 'a' || (i % 1000), \
             {BASE} + i * {step} + (i % 120) * 1000, {BASE} + i * {step} + 300000, \
             {BASE} + i * {step} + 360000, \
             CASE i % 3 WHEN 0 THEN 'sale' WHEN 1 THEN 'info' ELSE NULL END, \
             CASE WHEN i % 3 = 2 THEN 1 ELSE 0 END, 330000 + (i % 100) * 1000, \
             CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, CASE WHEN i % 7 = 0 THEN 1 ELSE 0 END, \
             CASE WHEN i % 11 = 0 THEN 1 ELSE 0 END, 3, 2 FROM n",
            last = N - 1
        ),
        "INSERT INTO report_legs (interaction_id, agent_id, joined_at, role, transferred, \
         wrapped_up_at, disposition, by_countdown, created_at, queue_id, channel_id) \
         SELECT id, first_agent_id, accepted_at, 'owner', transfers, wrapped_up_at, disposition, \
         by_countdown, created_at, queue_id, channel_id FROM report_interactions"
            .into(),
        "INSERT INTO report_offers (interaction_id, agent_id, offered_at, source, outcome, \
         ended_at, created_at, queue_id, channel_id) \
         SELECT id, first_agent_id, created_at, 'route', 'accepted', accepted_at, created_at, \
         queue_id, channel_id FROM report_interactions"
            .into(),
    ]
}

async fn measure(store: &Store, what: &str) {
    let from = Timestamp(BASE + 60 * 86_400_000);
    let to = Timestamp(BASE + 90 * 86_400_000);
    for group_by in [ReportGroup::Day, ReportGroup::Agent, ReportGroup::Queue] {
        let q = SummaryQuery {
            filter: ReportFilter {
                from,
                to,
                ..ReportFilter::default()
            },
            group_by,
            tz: "Europe/Berlin".into(),
            now: to,
        };
        let mut times = vec![];
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let s = store.report_summary(&q).await.unwrap();
            times.push(t.elapsed().as_millis());
            rows = s.rows.len();
        }
        times.sort();
        eprintln!("{what}: 30-day summary by {group_by:?}: {rows} rows, ms {times:?}");
    }
    let f = ReportFilter {
        from,
        to,
        agent_id: Some(AgentId::from("a7")),
        ..ReportFilter::default()
    };
    let t = Instant::now();
    let page = store.report_interactions(&f, 100, None).await.unwrap();
    eprintln!(
        "{what}: drill-down of one agent, {} rows: {} ms",
        page.len(),
        t.elapsed().as_millis()
    );
}

#[tokio::test]
#[ignore]
async fn reports_at_scale() {
    let path = std::env::temp_dir().join(format!("switchboard-scale-{}.db", rand::random::<u32>()));
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let t = Instant::now();
    for sql in seed_sql() {
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    }
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    eprintln!("sqlite: seeded in {} s", t.elapsed().as_secs());
    measure(&store, "sqlite").await;
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }

    let Ok(pg) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = format!("scale_{}", rand::random::<u32>());
    let store = Store::connect_in_schema(&pg, &schema).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&pg).await.unwrap();
    sqlx::raw_sql(&format!("SET search_path TO \"{schema}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let t = Instant::now();
    for sql in seed_sql() {
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    }
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    eprintln!("postgres: seeded in {} s", t.elapsed().as_secs());
    measure(&store, "postgres").await;
    store.close().await;
    sqlx::raw_sql(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}
