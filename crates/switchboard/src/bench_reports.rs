//! `switchboard bench-reports`: reports at the scale of issue 14 (1,000,000 interactions over 90
//! days, 1,000 agents, 100 queues). An in-process server on a fresh database, whose report
//! tables are filled by bulk SQL (one `INSERT … SELECT` per table over a generated series, not
//! through the engine: a million interactions through the inbound path would take hours) and
//! whose roll-ups are then summed by [`Store::rebuild_report_rollups`], the store code the
//! migration that adds them runs. Then, beside a trivial query of the same store
//! (`SELECT 1`) and `GET /healthz` of the same server:
//!
//! 1. 30-day summaries (local days of Europe/Berlin, over a change to summer time) grouped by
//!    day, agent and queue: p50/p99 from the roll-ups, and from the report tables alone (the
//!    exact query they must agree with; the two answers are compared);
//! 2. the store's keyset iteration of 100,000 interaction rows (the drill-down's pages of 500);
//! 3. `GET /api/v1/reports/interactions?format=csv` of the same 100,000 rows, when the server
//!    has it: the download time and the growth of the process's peak memory during it.

use crate::bench::{line, num, PASSWORD};
use crate::flag;
use anyhow::Context;
use sqlx::Connection;
use std::time::Instant;
use switchboard_domain::model::{InteractionId, Timestamp};
use switchboard_store::{
    report_bucket_range, report_summary_uses_rollups, ReportFilter, ReportGroup, Store,
    SummaryQuery,
};

const DAY: i64 = 86_400_000;
/// 2026-01-01 00:00 UTC: the first arrival.
const BASE: i64 = 1_767_225_600_000;
const TZ: &str = "Europe/Berlin";

/// The report rows of `n` interactions spread evenly over `days` days, in `queues` queues of
/// `agents / queues` agents each and 5 channels: 1 in 20 an outbound start, 1 in 25 never
/// answered (a missed offer, no first response: past its target), 1 in 7 missed once before
/// its accept, 1 in 11 rejected once, 1 in 10 transferred to a second agent; dispositions
/// "sale", "info" and the countdown's in turn.
fn seed_sql(n: i64, days: i64, queues: i64, agents: i64) -> Vec<String> {
    let step = (days * DAY / n.max(1)).max(1);
    let per = (agents / queues).max(1);
    // The agent `k` places after the interaction's first one, in its queue.
    let agent = |k: &str| format!("'a' || ((i % {queues}) * {per} + (i / {queues} + {k}) % {per})");
    let (a, b, c) = (agent("0"), agent("1"), agent("2"));
    let t = format!("({BASE} + i * {step})");
    let unanswered = "(i % 25 = 3)";
    let answered = |v: &str| format!("CASE WHEN {unanswered} THEN NULL ELSE {v} END");
    let interactions = format!(
        "INSERT INTO report_interactions (id, queue_id, channel_id, customer_wa_id, outbound, \
         sla_ms, created_at, accepted_at, first_agent_id, first_response_at, \
         first_response_agent_id, ended_at, ended_by, wrapped_up_at, disposition, by_countdown, \
         handle_ms, transfers, missed_offers, rejected_offers, messages_in, messages_out) \
         WITH RECURSIVE s(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM s \
         WHERE i < {last}) \
         SELECT 'i' || i, 'q' || (i % {queues}), 'ch' || (i % 5), 'w' || i, \
         CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END, 60000, {t}, {}, {}, {}, {}, {}, {}, {}, \
         CASE WHEN {unanswered} THEN NULL WHEN i % 3 = 0 THEN 'sale' \
         WHEN i % 3 = 1 THEN 'info' ELSE NULL END, \
         CASE WHEN i % 3 = 2 AND NOT {unanswered} THEN 1 ELSE 0 END, {}, \
         CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, \
         CASE WHEN i % 20 <> 0 AND (i % 7 = 0 OR {unanswered}) THEN 1 ELSE 0 END, \
         CASE WHEN i % 20 <> 0 AND i % 11 = 0 THEN 1 ELSE 0 END, 3, 2 FROM s",
        answered(&format!("{t} + (i % 60) * 1000")),
        answered(&a),
        answered(&format!("{t} + (i % 120) * 1000")),
        answered(&a),
        answered(&format!("{t} + 300000")),
        answered(&a),
        answered(&format!("{t} + 360000")),
        answered("330000 + (i % 100) * 1000"),
        last = n - 1,
    );
    // The interaction's number again, for the second and third agents of its queue.
    let from_rows = |what: &str, cond: &str| {
        format!(
            "WITH r AS (SELECT *, CAST(substr(id, 2) AS BIGINT) AS i FROM report_interactions) \
             {what} FROM r WHERE {cond}"
        )
    };
    let legs = "INSERT INTO report_legs (interaction_id, agent_id, joined_at, role, transferred, \
                wrapped_up_at, disposition, by_countdown, created_at, queue_id, channel_id) ";
    let offers = "INSERT INTO report_offers (interaction_id, agent_id, offered_at, source, \
                  outcome, ended_at, created_at, queue_id, channel_id) ";
    vec![
        interactions,
        format!(
            "{legs}SELECT id, first_agent_id, accepted_at, 'owner', transfers, wrapped_up_at, \
             disposition, by_countdown, created_at, queue_id, channel_id FROM report_interactions \
             WHERE first_agent_id IS NOT NULL"
        ),
        format!(
            "{legs}{}",
            from_rows(
                &format!(
                    "SELECT id, {b}, accepted_at + 60000, 'owner', 0, wrapped_up_at, disposition, \
                     by_countdown, created_at, queue_id, channel_id"
                ),
                "transfers = 1"
            )
        ),
        format!(
            "{offers}SELECT id, first_agent_id, created_at, 'route', 'accepted', accepted_at, \
             created_at, queue_id, channel_id FROM report_interactions \
             WHERE outbound = 0 AND accepted_at IS NOT NULL"
        ),
        format!(
            "{offers}{}",
            from_rows(
                &format!(
                    "SELECT id, {b}, created_at, 'route', 'missed', created_at + 30000, \
                     created_at, queue_id, channel_id"
                ),
                "missed_offers = 1"
            )
        ),
        format!(
            "{offers}{}",
            from_rows(
                &format!(
                    "SELECT id, {c}, created_at, 'route', 'rejected', created_at + 5000, \
                     created_at, queue_id, channel_id"
                ),
                "rejected_offers = 1"
            )
        ),
        format!(
            "{offers}{}",
            from_rows(
                &format!(
                    "SELECT id, {b}, accepted_at + 60000, 'transfer', 'accepted', \
                     accepted_at + 60000, created_at, queue_id, channel_id"
                ),
                "transfers = 1"
            )
        ),
        "ANALYZE".to_owned(),
    ]
}

/// Runs `sql` on the bench server's database (a connection of its own, in its schema).
async fn execute(srv: &crate::bench::BenchServer, sql: &[String]) -> anyhow::Result<()> {
    if srv.backend == "postgres" {
        let mut conn = sqlx::PgConnection::connect(&srv.url).await?;
        sqlx::raw_sql(&format!("SET search_path TO \"{}\"", srv.schema))
            .execute(&mut conn)
            .await?;
        for s in sql {
            sqlx::raw_sql(s).execute(&mut conn).await?;
        }
        conn.close().await?;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&srv.url).await?;
        for s in sql {
            sqlx::raw_sql(s).execute(&mut conn).await?;
        }
        conn.close().await?;
    }
    Ok(())
}

/// Kilobytes of a line of `/proc/self/status` (`VmRSS`, `VmHWM`); 0 where there is none.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)
                    .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Resets the process's peak resident memory (`VmHWM`) to its current size (Linux).
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn time_ms<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<f64> {
    let t = Instant::now();
    f.await?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let n: i64 = num(args, "--interactions", 1_000_000);
    let days: i64 = num(args, "--days", 90);
    let queues: i64 = num(args, "--queues", 100);
    let agents: i64 = num(args, "--agents", 1000);
    let samples: usize = num(args, "--samples", 100);
    let raw_samples: usize = num(args, "--raw-samples", 5);
    let csv_rows: i64 = num(args, "--csv-rows", 100_000);
    if n < 1 || days < 31 || queues < 1 || agents < queues || samples < 1 {
        anyhow::bail!(
            "--interactions >= 1, --days >= 31, --queues >= 1, --agents >= --queues, --samples >= 1"
        );
    }
    let database = flag(args, "--database");
    let srv = crate::bench::BenchServer::start(database.as_deref(), "bench-reports").await?;
    let store: Store = srv.state.store.clone();
    let (base, backend) = (srv.base.clone(), srv.backend);

    let t = Instant::now();
    execute(&srv, &seed_sql(n, days, queues, agents)).await?;
    let seeded = t.elapsed().as_secs_f64();
    let t = Instant::now();
    store.rebuild_report_rollups().await?;
    let rolled = t.elapsed().as_secs_f64();
    // The statistics and, on PostgreSQL, the visibility map of a database that has lived a
    // while: autovacuum (on by default) vacuums a table after its inserts, so that index-only
    // scans skip the table's rows (the SLA figure's scan of unanswered interactions); a test
    // server may run with autovacuum off, so it is done here.
    let settle = if backend == "postgres" {
        // Its own tables: the database may hold other schemas.
        "VACUUM ANALYZE report_interactions, report_offers, report_legs, report_rollups, \
         report_agent_rollups, report_rollup_dispositions, report_agent_rollup_dispositions"
    } else {
        "ANALYZE"
    };
    execute(&srv, &[settle.to_owned()]).await?;
    println!(
        "switchboard bench-reports: backend={backend} interactions={n} days={days} queues={queues} \
         agents={agents} (report rows in {seeded:.1} s by bulk SQL, roll-ups summed in {rolled:.1} s)"
    );
    println!(
        "  {:<58} {:>7} {:>9} {:>9} {:>9}",
        "what", "count", "p50 ms", "p99 ms", "max ms"
    );

    // 0. The baselines.
    let http = reqwest::Client::new();
    let (mut ping, mut health) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        ping.push(time_ms(async { Ok(store.ping().await?) }).await?);
        health.push(
            time_ms(async {
                http.get(format!("{base}/healthz"))
                    .send()
                    .await?
                    .error_for_status()?;
                Ok(())
            })
            .await?,
        );
    }
    let (_, ping99) = line("baseline: the store's SELECT 1", ping);
    let (_, health99) = line("baseline: GET /healthz", health);

    // 1. 30-day summaries: the last 30 local days of the series.
    let last_day = (BASE + days * DAY) / DAY;
    let key = |d: i64| {
        jiff::Timestamp::from_millisecond(d * DAY)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
    };
    let (from, _) = report_bucket_range(&key(last_day - 30)?, TZ)?;
    let (to, _) = report_bucket_range(&key(last_day)?, TZ)?;
    for group_by in [ReportGroup::Day, ReportGroup::Agent, ReportGroup::Queue] {
        let q = SummaryQuery {
            filter: ReportFilter {
                from,
                to,
                ..ReportFilter::default()
            },
            group_by,
            tz: TZ.into(),
            now: to,
        };
        anyhow::ensure!(
            report_summary_uses_rollups(&q)?,
            "30 local days of {TZ} should read the roll-ups"
        );
        let fast = store.report_summary(&q).await?;
        let exact = store.report_summary_raw(&q).await?;
        anyhow::ensure!(
            fast == exact,
            "the roll-ups and the report tables disagree on the summary by {group_by:?}"
        );
        let (mut rolled, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            rolled.push(time_ms(async { Ok(store.report_summary(&q).await.map(drop)?) }).await?);
        }
        for _ in 0..raw_samples {
            raw.push(time_ms(async { Ok(store.report_summary_raw(&q).await.map(drop)?) }).await?);
        }
        let what = format!(
            "30-day summary by {} ({} rows, {} offered)",
            group_by.as_str(),
            fast.rows.len(),
            fast.total.offered
        );
        let (r50, r99) = line(&format!("{what}: roll-ups"), rolled);
        let (x50, _) = line(&format!("{what}: report tables"), raw);
        println!(
            "    ratio p50 report tables : roll-ups = {:.0}; p99 roll-ups : SELECT 1 = {:.0}, : /healthz = {:.0}; p50 {r50:.2} ms",
            x50 / r50.max(1e-9),
            r99 / ping99.max(1e-9),
            r99 / health99.max(1e-9)
        );
    }

    // 2. Keyset iteration of `csv_rows` interactions (newest first, pages of 500) over the days
    //    that hold them.
    let per_day = (n / days).max(1);
    let span_days = (csv_rows + per_day - 1) / per_day;
    let filter = ReportFilter {
        from: Timestamp(BASE),
        to: Timestamp(BASE + span_days * DAY),
        ..ReportFilter::default()
    };
    let mut rows = 0i64;
    let mut before: Option<InteractionId> = None;
    let rss = status_kb("VmRSS");
    let peak_reset = reset_peak_memory();
    let t = Instant::now();
    while rows < csv_rows {
        let page = store
            .report_interactions(&filter, 500.min(csv_rows - rows), before.as_ref())
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        rows += page.len() as i64;
    }
    let iterated = t.elapsed().as_secs_f64() * 1000.0;
    let grown = status_kb("VmHWM").saturating_sub(rss);
    println!(
        "  store: {rows} interaction rows by keyset pages of 500 in {iterated:.0} ms ({:.0} rows/s); peak memory {}",
        rows as f64 * 1000.0 / iterated.max(1e-9),
        if peak_reset { format!("+{} MiB", grown / 1024) } else { "not measured".into() }
    );

    // 3. The same rows as CSV over HTTP, when the server has the endpoint.
    let token = crate::login(&http, &base, "admin", PASSWORD).await?;
    let url = format!(
        "{base}/api/v1/reports/interactions?format=csv&from={}&to={}",
        rfc3339(filter.from)?,
        rfc3339(filter.to)?
    );
    let rss = status_kb("VmRSS");
    let peak_reset = reset_peak_memory();
    let t = Instant::now();
    let mut response = http.get(&url).bearer_auth(&token).send().await?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        println!("  GET /api/v1/reports/interactions?format=csv: not in this build (404)");
    } else {
        let response_status = response.status();
        anyhow::ensure!(
            response_status.is_success(),
            "CSV download answered {response_status}"
        );
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = response.chunk().await.context("CSV body")? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let grown = status_kb("VmHWM").saturating_sub(rss);
        println!(
            "  GET /api/v1/reports/interactions?format=csv: {lines} lines, {} MiB in {ms:.0} ms; peak memory of the process {}",
            bytes / (1 << 20),
            if peak_reset { format!("+{} MiB", grown / 1024) } else { "not measured".into() }
        );
    }
    srv.stop().await
}

fn rfc3339(t: Timestamp) -> anyhow::Result<String> {
    Ok(jiff::Timestamp::from_millisecond(t.0)?.to_string())
}
