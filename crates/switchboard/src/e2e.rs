//! `switchboard e2e`: the fixture of the browser tests (`tests/browser/`). It starts the server on
//! a fresh temporary SQLite database and media directory with a manual clock and the WhatsApp
//! simulator as its Cloud API (no chatty customers), creates two queues ("Support", and "Sales"
//! with no members), one channel and the agents `ann` (may reject) and `bob` (may not), prints one
//! line of JSON with its URLs and serves a small loopback-only control API the tests drive (the
//! simulator's message templates are synced at start):
//!
//! - `POST /customers/{wa_id}/text {"name", "text"}`: the simulated customer writes (a signed webhook);
//! - `POST /customers/{wa_id}/texts {"name", "count", "prefix"}`: the customer writes `count` texts
//!   ("PREFIX 1" … "PREFIX N", at most 5,000) in signed webhooks of up to 100 messages each, to seed
//!   long transcripts quickly;
//! - `POST /customers/{wa_id}/button {"name", "context_id", "text", "payload"?}`: the customer taps a
//!   quick-reply button of the template message `context_id` (a wamid);
//! - `POST /customers/{wa_id}/reaction {"name", "message_id", "emoji"}`: the customer reacts to the
//!   message `message_id` (a wamid) with `emoji` (empty: removes the reaction);
//! - `POST /faults/undeliverable {"wa_id"}`: sends to that customer fail (error 131026);
//! - `POST /clock/advance {"secs"}`: moves the server's clock forward (offer timeouts, wrap-up
//!   countdowns) without waiting.
//!
//! The server's clock is real time plus an offset that `/clock/advance` grows: it keeps ticking,
//! so the countdowns the browser draws from its own clock stay meaningful, and a jump wakes the
//! server's timers at once.

use crate::{flag, Api};
use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::Timestamp;
use switchboard_server::clock::BoxFuture;
use switchboard_server::{App, Clock, Config, SystemClock};
use switchboard_simulator::{
    Simulator, SimulatorConfig, SimulatorHandle, StatusTimings, DEFAULT_ACCESS_TOKEN,
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID,
};
use tokio::sync::watch;

const ADMIN_PASSWORD: &str = "e2e-admin-pass";
const AGENT_PASSWORD: &str = "e2e-agent-pass";
const APP_SECRET: &str = "e2e-app-secret";

#[derive(Clone)]
struct Control {
    sim: Arc<SimulatorHandle>,
    clock: OffsetClock,
    webhook_url: String,
    http: reqwest::Client,
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let control_listen = flag(args, "--control").unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let control_listener = tokio::net::TcpListener::bind(&control_listen)
        .await
        .with_context(|| format!("cannot listen on {control_listen}"))?;
    anyhow::ensure!(
        control_listener.local_addr()?.ip().is_loopback(),
        "the control API listens on loopback only"
    );
    let base = format!("http://{}", listener.local_addr()?);
    let control_base = format!("http://{}", control_listener.local_addr()?);
    let db = TempDb::new();

    let mut sim_config = SimulatorConfig::new(format!("{base}/webhooks/whatsapp"), APP_SECRET);
    // Slow enough that a browser sees each tick (sent, delivered, read) before the next.
    sim_config.statuses = StatusTimings {
        sent: Duration::from_millis(200),
        delivered: Some(Duration::from_millis(600)),
        read: Some(Duration::from_millis(2500)),
    };
    let sim = Arc::new(Simulator::start(sim_config).await?);
    let clock = OffsetClock::default();
    let env = vec![
        ("SWITCHBOARD_SERVER__LISTEN".to_owned(), listen.clone()),
        ("SWITCHBOARD_DATABASE__URL".to_owned(), db.url()),
        ("SWITCHBOARD_MEDIA__DIR".to_owned(), db.media_dir()),
        (
            "SWITCHBOARD_WHATSAPP__GRAPH_API_BASE".to_owned(),
            sim.graph_api_base(),
        ),
        // Tests move the clock by days (the 24-hour window): sessions must outlive that.
        (
            "SWITCHBOARD_SERVER__SESSION_TTL_HOURS".to_owned(),
            "8760".to_owned(),
        ),
    ];
    let config = Config::from_toml_and_env("", env)?;
    let app = App::build(config, Arc::new(clock.clone()), Some(ADMIN_PASSWORD.into())).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(app.run(listener, wait_for(stop_rx.clone())));
    setup(&base).await.context("cannot create the e2e data")?;

    let control = Control {
        sim: sim.clone(),
        clock,
        webhook_url: format!("{base}/webhooks/whatsapp"),
        http: reqwest::Client::new(),
    };
    let router = Router::new()
        .route("/customers/{wa_id}/text", post(customer_text))
        .route("/customers/{wa_id}/button", post(customer_button))
        .route("/customers/{wa_id}/reaction", post(customer_reaction))
        .route("/customers/{wa_id}/texts", post(customer_texts))
        .route("/faults/undeliverable", post(undeliverable))
        .route("/clock/advance", post(advance))
        .route("/whatsapp/sent", post(whatsapp_sent))
        .with_state(control);
    let control_server = tokio::spawn(async move {
        axum::serve(control_listener, router)
            .with_graceful_shutdown(wait_for(stop_rx))
            .await
    });

    println!(
        "{}",
        json!({"base": base, "control": control_base, "admin_password": ADMIN_PASSWORD,
               "agent_password": AGENT_PASSWORD,
               // What an admin copies from the Meta app to connect the simulator's number.
               "whatsapp": {"phone_number_id": DEFAULT_PHONE_NUMBER_ID,
                            "display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER,
                            "access_token": DEFAULT_ACCESS_TOKEN, "app_secret": APP_SECRET,
                            "waba_id": DEFAULT_WABA_ID}})
    );
    crate::shutdown_signal().await;
    let _ = stop_tx.send(true);
    let result = server.await;
    let _ = control_server.await;
    drop(sim);
    drop(db);
    result?
}

/// Real time plus an offset that only grows.
#[derive(Clone, Default)]
struct OffsetClock {
    offset_ms: Arc<watch::Sender<i64>>,
}

impl OffsetClock {
    fn advance_secs(&self, secs: i64) {
        self.offset_ms
            .send_modify(|o| *o += secs.max(0).saturating_mul(1000));
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp(SystemClock.now().0 + *self.offset_ms.borrow())
    }

    fn sleep_until(&self, at: Timestamp) -> BoxFuture {
        let clock = self.clone();
        let mut changes = self.offset_ms.subscribe();
        Box::pin(async move {
            loop {
                let wait = at.0.saturating_sub(clock.now().0);
                if wait <= 0 {
                    return;
                }
                let sleep = tokio::time::sleep(Duration::from_millis(wait as u64));
                tokio::select! {
                    () = sleep => {}
                    changed = changes.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                        }
                    }
                }
            }
        })
    }
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn bad_request(message: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.to_owned()})),
    )
}

async fn customer_text(
    State(c): State<Control>,
    Path(wa_id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let Some(text) = body["text"].as_str() else {
        return bad_request("text is required");
    };
    let name = body["name"].as_str().unwrap_or("Customer");
    sent(c.sim.customer(&wa_id, name).send_text(text).await)
}

async fn customer_button(
    State(c): State<Control>,
    Path(wa_id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let (Some(context_id), Some(text)) = (body["context_id"].as_str(), body["text"].as_str())
    else {
        return bad_request("context_id and text are required");
    };
    let payload = body["payload"].as_str().unwrap_or(text);
    let name = body["name"].as_str().unwrap_or("Customer");
    sent(
        c.sim
            .customer(&wa_id, name)
            .tap_template_button(context_id, payload, text)
            .await,
    )
}

/// `{name, message_id, emoji}`: the customer reacts to message `message_id` (a wamid); an empty
/// `emoji` removes the reaction.
async fn customer_reaction(
    State(c): State<Control>,
    Path(wa_id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let (Some(message_id), Some(emoji)) = (body["message_id"].as_str(), body["emoji"].as_str())
    else {
        return bad_request("message_id and emoji are required");
    };
    let name = body["name"].as_str().unwrap_or("Customer");
    sent(c.sim.customer(&wa_id, name).react(message_id, emoji).await)
}

/// The answer to a customer action: the message's wamid and the status Switchboard's webhook
/// answered, or 502 with why the simulator could not send it.
fn sent(
    result: Result<switchboard_simulator::CustomerMessage, switchboard_simulator::SimError>,
) -> (StatusCode, Json<Value>) {
    match result {
        Ok(m) => (
            StatusCode::OK,
            Json(json!({"wamid": m.wamid, "status": m.status})),
        ),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": e.to_string()})),
        ),
    }
}

/// Most messages one `/texts` call may seed.
const MAX_SEEDED: u64 = 5_000;

async fn customer_texts(
    State(c): State<Control>,
    Path(wa_id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let Some(count) = body["count"]
        .as_u64()
        .filter(|n| (1..=MAX_SEEDED).contains(n))
    else {
        return bad_request("count must be between 1 and 5000");
    };
    let name = body["name"].as_str().unwrap_or("Customer");
    let prefix = body["prefix"].as_str().unwrap_or("Message");
    let metadata = switchboard_simulator::Metadata {
        waba_id: switchboard_simulator::DEFAULT_WABA_ID.to_owned(),
        phone_number_id: switchboard_simulator::DEFAULT_PHONE_NUMBER_ID.to_owned(),
        display_phone_number: switchboard_simulator::DEFAULT_DISPLAY_PHONE_NUMBER.to_owned(),
    };
    let stamp = c.clock.now().0;
    let mut n = 1;
    while n <= count {
        let last = (n + 99).min(count);
        let messages: Vec<Value> = (n..=last)
            .map(|i| {
                json!({"from": wa_id, "id": format!("wamid.e2e.{wa_id}.{stamp}.{i}"),
                       "timestamp": (c.clock.now().0 / 1000).to_string(), "type": "text",
                       "text": {"body": format!("{prefix} {i}")}})
            })
            .collect();
        let envelope = switchboard_simulator::message_envelope(&metadata, &wa_id, name, messages);
        let raw = envelope.to_string();
        let sent = c
            .http
            .post(&c.webhook_url)
            .header("content-type", "application/json")
            .header(
                switchboard_simulator::SIGNATURE_HEADER,
                switchboard_simulator::sign(APP_SECRET, raw.as_bytes()),
            )
            .body(raw)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    Json(json!({"error": format!("webhook answered {}", r.status())})),
                )
            }
            Err(e) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    Json(json!({"error": e.to_string()})),
                )
            }
        }
        n = last + 1;
    }
    (StatusCode::OK, Json(json!({"sent": count})))
}

async fn undeliverable(
    State(c): State<Control>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let Some(wa_id) = body["wa_id"].as_str() else {
        return bad_request("wa_id is required");
    };
    c.sim.faults().add_undeliverable(wa_id);
    (StatusCode::OK, Json(json!({"undeliverable": wa_id})))
}

/// What reached WhatsApp so far: the texts sent and how many read receipts (a test of silent
/// watching checks that nothing was marked read).
async fn whatsapp_sent(State(c): State<Control>) -> (StatusCode, Json<Value>) {
    let texts: Vec<String> = c
        .sim
        .accepted_messages()
        .iter()
        .filter_map(|m| m.text().map(str::to_owned))
        .collect();
    (
        StatusCode::OK,
        Json(json!({"texts": texts, "read_receipts": c.sim.read_receipts().len()})),
    )
}

async fn advance(State(c): State<Control>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let Some(secs) = body["secs"].as_i64() else {
        return bad_request("secs is required");
    };
    c.clock.advance_secs(secs);
    (StatusCode::OK, Json(json!({"now_ms": c.clock.now().0})))
}

/// A fresh SQLite file in the temporary directory, removed on drop.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("switchboard-e2e-{}-{nanos}.db", std::process::id()));
        Self { path }
    }
    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
    fn media_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push("-media");
        PathBuf::from(p)
    }
    fn media_dir(&self) -> String {
        self.media_path().display().to_string()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.media_path());
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn setup(base: &str) -> anyhow::Result<()> {
    let admin = Api::login(base, "admin", ADMIN_PASSWORD).await?;
    let queue = admin
        .post(
            "/api/v1/queues",
            json!({"name": "Support", "acceptance_interval_s": 30, "post_processing_s": 10,
                   "sla_response_s": 3600,
                   "dispositions": [{"code": "solved", "label": "Solved"},
                                    {"code": "follow_up", "label": "Needs follow-up"}],
                   "disposition_required": true}),
        )
        .await?;
    let queue_id = queue["id"].as_str().unwrap_or_default().to_owned();
    // A second queue nobody serves: the transfer dialog lists and filters two queues.
    admin
        .post(
            "/api/v1/queues",
            json!({"name": "Sales", "acceptance_interval_s": 30, "post_processing_s": 10}),
        )
        .await?;
    for (user, name, can_reject) in [("ann", "Ann Agent", true), ("bob", "Bob Agent", false)] {
        admin
            .post(
                "/api/v1/agents",
                json!({"username": user, "password": AGENT_PASSWORD, "display_name": name,
                       "role": "agent", "capacity": 3, "can_reject": can_reject,
                       "queue_ids": [queue_id]}),
            )
            .await?;
    }
    admin
        .connect_simulator(&queue_id, APP_SECRET, "e2e-verify-token")
        .await
}
