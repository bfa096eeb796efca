//! `switchboard bench-api`: accepts per second and their latency through the HTTP API on the real
//! store, beside a trivial endpoint (`GET /healthz`) of the same server measured in the same run.
//!
//! It starts an in-process server on a fresh database (a temp SQLite file, or `--database URL`
//! for PostgreSQL, in a fresh schema), creates one queue and N agents, fills the queue with
//! customers, and lets C concurrent clients play agents: find the offer, accept, end, wrap up.

use crate::flag;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_domain::QueueId;
use switchboard_server::{App, Config, InboundMessage, SystemClock};
use tokio::task::JoinSet;

pub const PASSWORD: &str = "bench-pass-123";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Stats {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
}

fn stats(mut lat: Vec<Duration>, elapsed: Duration) -> Stats {
    lat.sort();
    Stats {
        per_sec: lat.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        count: lat.len(),
    }
}

/// A server in this process for a benchmark, on a fresh database: a temp SQLite file, or a fresh
/// schema of the PostgreSQL `database`; the first admin has the password [`PASSWORD`].
pub struct BenchServer {
    pub state: switchboard_server::AppState,
    pub base: String,
    pub backend: &'static str,
    /// The database's URL; on PostgreSQL, every table is in `schema`.
    pub url: String,
    pub schema: String,
    tmp: std::path::PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl BenchServer {
    /// `name` names the temp directory and the PostgreSQL schema (with the process id).
    pub async fn start(database: Option<&str>, name: &str) -> anyhow::Result<BenchServer> {
        let tmp = std::env::temp_dir().join(format!("switchboard-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        let url = database
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}/bench.db", tmp.display()));
        let env = [
            ("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:0"),
            ("SWITCHBOARD_DATABASE__URL", url.as_str()),
            ("SWITCHBOARD_SERVER__LOGIN_MAX_FAILURES", "1000"),
        ];
        let config = Config::from_toml_and_env(
            "",
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )?;
        let schema = format!("{}_{}", name.replace('-', "_"), std::process::id());
        let store = if url.starts_with("postgres") {
            switchboard_store::Store::connect_in_schema(&url, &schema).await?
        } else {
            switchboard_store::Store::connect(&url).await?
        };
        let backend = store.backend();
        let app =
            App::build_with_store(config, Arc::new(SystemClock), store, Some(PASSWORD.into()))
                .await?;
        let state = app.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run(listener, async {
            let _ = stopped.await;
        }));
        Ok(BenchServer {
            state,
            base,
            backend,
            url,
            schema,
            tmp,
            stop,
            server,
        })
    }

    /// Stops the server and removes the temp directory (a PostgreSQL schema is left, and named).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        let _ = std::fs::remove_dir_all(&self.tmp);
        if self.backend == "postgres" {
            println!(
                "(PostgreSQL schema {s} was left in place; DROP SCHEMA {s} CASCADE to remove it)",
                s = self.schema
            );
        }
        Ok(())
    }
}

/// The value of the flag `name`, or `default` when it is missing or not a number.
pub fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Prints a row (`what`, count, p50, p99, max in ms) and returns (p50, p99).
pub fn line(what: &str, mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (pct(&ms, 0.5), pct(&ms, 0.99));
    println!(
        "  {what:<58} {:>7} {:>9.2} {:>9.2} {:>9.2}",
        ms.len(),
        p50,
        p99,
        ms.last().copied().unwrap_or(0.0)
    );
    (p50, p99)
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let agents: usize = flag(args, "--agents")
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let seconds: u64 = flag(args, "--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let concurrency: usize = flag(args, "--concurrency")
        .and_then(|v| v.parse().ok())
        .unwrap_or(agents);
    let database = flag(args, "--database");
    let srv = BenchServer::start(database.as_deref(), "bench").await?;
    let (state, base, backend) = (srv.state.clone(), srv.base.clone(), srv.backend);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let admin = crate::login(&http, &base, "admin", PASSWORD).await?;
    let queue: Value = http
        .post(format!("{base}/api/v1/queues"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Bench", "post_processing_s": 0, "acceptance_interval_s": 600}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let queue_id = queue["id"].as_str().unwrap_or_default().to_owned();
    let mut tokens = Vec::new();
    for i in 0..agents {
        let name = format!("agent{i}");
        http.post(format!("{base}/api/v1/agents"))
            .bearer_auth(&admin)
            .json(&json!({"username": name, "password": PASSWORD, "display_name": name, "role": "agent",
                          "capacity": 1, "queue_ids": [queue_id]}))
            .send()
            .await?
            .error_for_status()?;
        tokens.push(crate::login(&http, &base, &name, PASSWORD).await?);
    }
    // Enough customers that the queue never runs dry during the run.
    let customers = (agents * 400).max(2000);
    for i in 0..customers {
        let msg = InboundMessage {
            summary: None,
            queue_id: QueueId(queue_id.clone()),
            channel_id: Some("bench".into()),
            source_number: None,
            wa_id: format!("49150{i:08}"),
            customer_name: Some(format!("Customer {i}")),
            wa_message_id: None,
            kind: "text".into(),
            text: Some("hello".into()),
            payload: json!({}),
        };
        switchboard_server::services::ingest::ingest(&state.ingest(), msg)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for t in &tokens {
        http.put(format!("{base}/api/v1/me/presence"))
            .bearer_auth(t)
            .json(&json!({"presence": "available"}))
            .send()
            .await?
            .error_for_status()?;
    }

    // Baseline: the trivial endpoint, same concurrency, same duration.
    let baseline = {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let start = Instant::now();
        let mut set = JoinSet::new();
        for _ in 0..concurrency {
            let (http, base) = (http.clone(), base.clone());
            set.spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if http.get(format!("{base}/healthz")).send().await.is_ok() {
                        lat.push(t.elapsed());
                    }
                }
                lat
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r?);
        }
        stats(all, start.elapsed())
    };

    // Accepts: each client plays agents; only the accept call is timed.
    let accepts = {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let start = Instant::now();
        let mut set = JoinSet::new();
        let per = tokens.len().div_ceil(concurrency.max(1));
        for chunk in tokens.chunks(per.max(1)) {
            let (http, base, chunk) = (http.clone(), base.clone(), chunk.to_vec());
            set.spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    for t in &chunk {
                        let list: Value = match http
                            .get(format!("{base}/api/v1/interactions"))
                            .bearer_auth(t)
                            .send()
                            .await
                        {
                            Ok(r) => r.json().await.unwrap_or(Value::Null),
                            Err(_) => continue,
                        };
                        let Some(items) = list.as_array() else {
                            continue;
                        };
                        for it in items {
                            let id = it["id"].as_str().unwrap_or_default();
                            match it["state"].as_str() {
                                Some("offered") => {
                                    let t0 = Instant::now();
                                    let r = http
                                        .post(format!("{base}/api/v1/interactions/{id}/accept"))
                                        .bearer_auth(t)
                                        .send()
                                        .await;
                                    if r.is_ok_and(|r| r.status().is_success()) {
                                        lat.push(t0.elapsed());
                                    }
                                }
                                Some("active") => {
                                    let _ = http
                                        .post(format!("{base}/api/v1/interactions/{id}/end"))
                                        .bearer_auth(t)
                                        .send()
                                        .await;
                                }
                                Some("wrap_up") => {
                                    let _ = http
                                        .post(format!("{base}/api/v1/interactions/{id}/wrap-up"))
                                        .bearer_auth(t)
                                        .send()
                                        .await;
                                }
                                _ => {}
                            }
                        }
                    }
                }
                lat
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r?);
        }
        stats(all, start.elapsed())
    };
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let metric = |name: &str| {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    let (commits, events) = (
        metric("switchboard_commits_total "),
        metric("switchboard_events_total "),
    );
    srv.stop().await?;

    println!(
        "bench-api: backend={backend} agents={agents} concurrency={concurrency} seconds={seconds}"
    );
    println!(
        "  GET /healthz (baseline): {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  (n={})",
        baseline.per_sec, baseline.p50_ms, baseline.p99_ms, baseline.count
    );
    println!(
        "  POST …/accept:           {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  (n={})",
        accepts.per_sec, accepts.p50_ms, accepts.p99_ms, accepts.count
    );
    println!("  server: {commits:.0} commits, {events:.0} events stored in the whole run");
    println!(
        "  ratio accept/baseline: throughput {:.3}, p50 latency {:.1}x",
        accepts.per_sec / baseline.per_sec.max(1e-9),
        accepts.p50_ms / baseline.p50_ms.max(1e-9)
    );
    Ok(())
}
