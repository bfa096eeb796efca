//! The `switchboard` binary: a thin shim over the server library.
//!
//! - `switchboard serve [--config FILE]` runs for real (SQLite by default, PostgreSQL by URL).
//! - `switchboard demo [--listen ADDR]` starts a ready-to-try contact center with demo data.
//! - `switchboard bench-api [...]` measures the HTTP API on the real store.
//! - `switchboard bench-history [...]` times the CRM's reads on a large store.
//! - `switchboard bench-monitor [...]` times the supervisor's board at floor size.
//! - `switchboard bench-cluster [...]` measures several nodes (forwarding, relay, fail-over).
//! - `switchboard bench-reports [...]` times reports at the scale of a million interactions.

mod bench;
mod bench_cluster;
mod bench_history;
mod bench_monitor;
mod bench_reports;
mod demo;
mod e2e;
mod loadgen;
mod simulator;

use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_server::{App, Config, SystemClock};

const USAGE: &str = "usage:
  switchboard serve [--config FILE]     run the server (see README for configuration)
  switchboard demo [--listen ADDR]      run a demo contact center with sample agents and customers
  switchboard bench-api [--database URL] [--agents N] [--seconds S] [--concurrency C]
                                        measure accepts/s and latency through the HTTP API
  switchboard bench-history [--database URL] [--conversations N] [--messages-per-conversation M]
                            [--samples S]
                                        time history pages, screen pops and full-text search
                                        on a large store (default 100,000 x 10 messages)
  switchboard bench-monitor [--database URL] [--queues Q] [--agents A] [--waiting W] [--samples N]
                            [--rate R] [--seconds S]
                                        the supervisor's board at floor size: GET /api/v1/monitor
                                        and change -> monitor.* event latency (default 100 x 1,000
                                        x 10,000, 200 changes/s)
  switchboard bench-cluster [--database URL] [--nats URL] [--samples N] [--webhooks W]
                            [--kills K] [--lease-ms L]
                                        three nodes on PostgreSQL and NATS: accept latency on the
                                        router vs forwarded (beside a NATS round trip), webhooks
                                        through a node that is not the router, fail-over time
  switchboard bench-reports [--database URL] [--interactions N] [--days D] [--queues Q]
                            [--agents A] [--samples S] [--raw-samples S] [--csv-rows R]
                                        reports at scale: 30-day summaries from the roll-ups and
                                        from the report tables, 100,000 rows by keyset and as CSV
                                        (default 1,000,000 over 90 days, 100 queues, 1,000 agents)
  switchboard load [--help]             WhatsApp load generator: signed webhooks, bot agents, figures
  switchboard simulator --webhook URL --app-secret S [--listen ADDR] [--customers N]
                                        a fake WhatsApp Cloud API with simulated customers
  switchboard e2e [--listen ADDR] [--control ADDR]
                                        server + simulator fixture for the browser tests";

/// mimalloc: the server allocates and frees many small buffers from several threads at once
/// (requests, JSON, rows); glibc malloc spent a fifth of the inbound path in its locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(&args[1..])),
        Some("demo") => runtime.block_on(demo::run(&args[1..])),
        Some("e2e") => runtime.block_on(e2e::run(&args[1..])),
        Some("bench-api") => runtime.block_on(bench::run(&args[1..])),
        Some("bench-history") => runtime.block_on(bench_history::run(&args[1..])),
        Some("bench-monitor") => runtime.block_on(bench_monitor::run(&args[1..])),
        Some("bench-cluster") => runtime.block_on(bench_cluster::run(&args[1..])),
        Some("bench-reports") => runtime.block_on(bench_reports::run(&args[1..])),
        Some("load") => runtime.block_on(loadgen::run(&args[1..])),
        Some("simulator") => runtime.block_on(simulator::run(&args[1..])),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// The value following `--name` in `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

async fn serve(args: &[String]) -> anyhow::Result<()> {
    let path = flag(args, "--config").map(PathBuf::from);
    let config = Config::load(path.as_deref(), std::env::vars())?;
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let admin_password = std::env::var("SWITCHBOARD_ADMIN_PASSWORD").ok();
    tracing::info!(
        listen = %config.server.listen,
        database = %redact(&config.database.url),
        "starting switchboard"
    );
    let app = App::build(config, Arc::new(SystemClock), admin_password).await?;
    app.run(listener, shutdown_signal()).await
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Logs in over the public API and returns the bearer token (used by the demo, the e2e fixture
/// and the load tools).
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let v: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the login answer")
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// One user's view of the public API (the demo and the e2e fixture set up and seed through it).
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Logs `user` in.
    pub async fn login(base: &str, user: &str, password: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let token = crate::login(&http, base, user, password).await?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token,
        })
    }

    /// `METHOD path` with a JSON body; the answer's JSON, or an error with the server's.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// `POST path`: the answer's JSON.
    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.call("POST", path, Some(body)).await
    }

    /// `POST /api/v1/interactions/{id}/{action}` (accept, messages, notes, end, wrap-up...).
    pub async fn act(
        &self,
        id: &str,
        action: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.post(&format!("/api/v1/interactions/{id}/{action}"), body)
            .await
    }

    /// Sets one's own presence (`available`, `offline`...).
    pub async fn presence(&self, presence: &str) -> anyhow::Result<serde_json::Value> {
        self.call(
            "PUT",
            "/api/v1/me/presence",
            Some(serde_json::json!({ "presence": presence })),
        )
        .await
    }

    /// Connects the simulator's WhatsApp number to `queue_id` as a channel (signed with
    /// `app_secret`) and syncs the simulated business account's message templates, so agents
    /// can send them at once.
    pub async fn connect_simulator(
        &self,
        queue_id: &str,
        app_secret: &str,
        verify_token: &str,
    ) -> anyhow::Result<()> {
        self.post(
            "/api/v1/channels",
            serde_json::json!({"kind": "whatsapp", "phone_number_id": switchboard_simulator::DEFAULT_PHONE_NUMBER_ID,
                   "display_phone_number": switchboard_simulator::DEFAULT_DISPLAY_PHONE_NUMBER,
                   "access_token": switchboard_simulator::DEFAULT_ACCESS_TOKEN, "app_secret": app_secret,
                   "verify_token": verify_token, "queue_id": queue_id,
                   "waba_id": switchboard_simulator::DEFAULT_WABA_ID}),
        )
        .await?;
        self.post("/api/v1/templates/sync", serde_json::json!({}))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
