//! `switchboard load`: the WhatsApp load generator.
//!
//! It starts, in this process and on loopback only, a Switchboard server on a fresh database (a
//! temp SQLite file, or `--database postgres://…` in a fresh schema) and the Cloud API simulator
//! as its `graph_api_base`. Through the public API it creates a queue, a channel (the simulator's
//! number, a known app secret) and bot agents who keep a websocket open, accept every offer and
//! answer it with a short text. Then it POSTs signed webhooks in Meta's envelope and measures:
//!
//! 1. **warm-up**: one message per customer; each becomes an interaction a bot accepts and answers
//!    (POST → `offer.created` latency);
//! 2. **outbound burst**: each bot writes once more in every conversation it owns, all at once
//!    (agent messages/s through the API; sends/s the simulator accepted from the outbox, capped
//!    by `--send-rate`);
//! 3. **no-op baseline**: the same POSTs with a wrong signature (401, nothing stored: the cheapest
//!    POST of the server), same concurrency, same rate;
//! 4. **measured**: follow-up messages of those customers, K per webhook, at `--rate` webhooks/s:
//!    durable inbound messages/s (answered 200) and POST → `message.created` latency on the bot's
//!    socket (each message carries its send time in its text).
//!
//! Bounded in time (`--seconds` per phase, bounded waits) and count; it never listens beyond
//! 127.0.0.1. The client shares the process (and the cores) with the server: figures are a
//! lower bound of what the server alone would do.

use crate::flag;
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_server::{App, Config, SystemClock};
use switchboard_simulator::{
    PairRate, Simulator, SimulatorConfig, SimulatorHandle, StatusTimings, DEFAULT_ACCESS_TOKEN,
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID,
};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "usage: switchboard load [options]
  --rate N          webhooks per second to aim at (0 = as fast as possible; default 0)
  --seconds S       length of the baseline and of the measured phase (default 10)
  --customers N     distinct customers, one interaction each (default 1000)
  --agents N        bot agents, capacity 100 each (default 20)
  --batch K         messages per webhook, each from another customer (default 10)
  --concurrency C   webhook POSTs in flight (default 32)
  --database URL    default: a temp SQLite file; postgres://… uses a fresh schema
  --send-rate N     outbound sends/s per number, server and simulator (default 1000, the most
                    WhatsApp grants a number)
  --reply-every N   in the measured phase, bots answer every Nth customer message (0 = never;
                    default 0)
  --supervisors N   supervisors with a websocket open, reading every frame (default 0)
  --report-writes W what commits write of the report facts: all (default), facts (the report
                    tables without their roll-ups) or off (none): to measure what they cost;
                    reports are wrong unless all
Phases: warm-up (each customer writes once; bots accept and answer), outbound burst (bots write
once more in each conversation), no-op baseline, measured (follow-ups at --rate).
Prints a table: durable inbound messages/s, POST→websocket latency p50/p99, outbound sends/s,
and the no-op POST baseline (wrong signature: 401, nothing stored) of the same server.";

const PASSWORD: &str = "load-pass-123";
const APP_SECRET: &str = "load-app-secret";
/// The longest any single wait of the run may take.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Marks the send time in a message text: `[lg:<phase>:<microseconds since the run start>]`.
const TOKEN: &str = "[lg:";

#[derive(Debug, Clone)]
struct Opts {
    rate: u64,
    seconds: u64,
    customers: usize,
    agents: usize,
    batch: usize,
    concurrency: usize,
    database: Option<String>,
    send_rate: u32,
    reply_every: u64,
    supervisors: usize,
    report_writes: switchboard_store::ReportWrites,
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match flag(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} {v}: not a number\n{USAGE}")),
    }
}

impl Opts {
    fn parse(args: &[String]) -> anyhow::Result<Opts> {
        let o = Opts {
            rate: num(args, "--rate", 0)?,
            seconds: num(args, "--seconds", 10)?,
            customers: num(args, "--customers", 1000)?,
            agents: num(args, "--agents", 20)?,
            batch: num(args, "--batch", 10)?,
            concurrency: num(args, "--concurrency", 32)?,
            database: flag(args, "--database"),
            send_rate: num(args, "--send-rate", 1000)?,
            reply_every: num(args, "--reply-every", 0)?,
            supervisors: num(args, "--supervisors", 0)?,
            report_writes: match flag(args, "--report-writes").as_deref() {
                None | Some("all") => switchboard_store::ReportWrites::All,
                Some("facts") => switchboard_store::ReportWrites::FactsOnly,
                Some("off") => switchboard_store::ReportWrites::Off,
                Some(v) => bail!("--report-writes {v}: expected all, facts or off\n{USAGE}"),
            },
        };
        if o.agents == 0 || o.batch == 0 || o.concurrency == 0 || o.seconds == 0 {
            bail!("--agents, --batch, --concurrency and --seconds must be at least 1\n{USAGE}");
        }
        if o.batch > 1000 {
            bail!("--batch: WhatsApp sends at most 1000 updates per webhook");
        }
        if o.customers < o.batch {
            bail!("--customers must be at least --batch (each message of a webhook is from another customer)");
        }
        if o.customers > o.agents * 100 {
            bail!(
                "--customers {} exceeds what {} agents of capacity 100 can own; add agents",
                o.customers,
                o.agents
            );
        }
        Ok(o)
    }
}

/// Latency samples in microseconds.
#[derive(Default)]
struct Samples(Mutex<Vec<u64>>);

impl Samples {
    fn push(&self, us: u64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(us);
    }
    fn take(&self) -> Vec<u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// p50/p99 and count of samples in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Summary {
    count: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn summarize(mut us: Vec<u64>) -> Summary {
    us.sort_unstable();
    let at = |p: f64| -> f64 {
        if us.is_empty() {
            return 0.0;
        }
        let i = ((us.len() as f64 - 1.0) * p).round() as usize;
        us[i.min(us.len() - 1)] as f64 / 1000.0
    };
    Summary {
        count: us.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// What the bots share with the driver.
struct Probe {
    start: Instant,
    /// POST → `offer.created` (warm-up).
    offer_latency: Samples,
    /// POST → `message.created` (measured phase).
    event_latency: Samples,
    offers: AtomicU64,
    accepted: AtomicU64,
    events: AtomicU64,
    bot_errors: AtomicU64,
    replies: AtomicU64,
    /// Accepted interactions with the token of the bot that owns each.
    owned: Mutex<Vec<(String, String)>>,
    changed: Notify,
    reply_every: u64,
}

impl Probe {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
    fn bump(&self, c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_one();
    }
    /// Waits until `counter` reaches `target`, at most `limit`; returns whether it did.
    async fn wait_for(&self, counter: &AtomicU64, target: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if counter.load(Ordering::Relaxed) >= target {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return counter.load(Ordering::Relaxed) >= target;
            }
        }
    }
}

/// Finds `[lg:<phase>:<us>]` in a text.
fn parse_token(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.find(TOKEN)? + TOKEN.len()..];
    let mut chars = rest.chars();
    let phase = chars.next()?;
    let rest = rest.get(phase.len_utf8()..)?.strip_prefix(':')?;
    let end = rest.find(']')?;
    Some((phase, rest[..end].parse().ok()?))
}

fn customer_wa_id(i: usize) -> String {
    format!("49151{i:08}")
}

/// Appends `s` as a JSON string.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One customer message of a webhook.
struct Outgoing {
    customer: usize,
    wamid: String,
    text: String,
}

/// A webhook in Meta's envelope: one change of field `messages` whose value carries a contact
/// and a text message per item (WhatsApp batches up to 1000 updates in one POST). Written by
/// hand rather than through `serde_json::Value`: the client shares the cores with the server.
fn envelope(items: &[Outgoing], unix_ts: u64) -> Vec<u8> {
    let mut out = String::with_capacity(300 + items.len() * 260);
    out.push_str("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":");
    push_str(&mut out, DEFAULT_WABA_ID);
    out.push_str(",\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":");
    push_str(&mut out, DEFAULT_DISPLAY_PHONE_NUMBER);
    out.push_str(",\"phone_number_id\":");
    push_str(&mut out, DEFAULT_PHONE_NUMBER_ID);
    out.push_str("},\"contacts\":[");
    for (i, m) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"profile\":{\"name\":");
        push_str(&mut out, &format!("Customer {}", m.customer));
        out.push_str("},\"wa_id\":");
        push_str(&mut out, &customer_wa_id(m.customer));
        out.push('}');
    }
    out.push_str("],\"messages\":[");
    for (i, m) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"from\":");
        push_str(&mut out, &customer_wa_id(m.customer));
        out.push_str(",\"id\":");
        push_str(&mut out, &m.wamid);
        let _ = write!(
            out,
            ",\"timestamp\":\"{unix_ts}\",\"type\":\"text\",\"text\":{{\"body\":"
        );
        push_str(&mut out, &m.text);
        out.push_str("}}");
    }
    out.push_str("]}}]}]}");
    out.into_bytes()
}

/// How a phase POSTs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Signed with the channel's app secret: stored, answered 200.
    Signed,
    /// Signed with another secret: answered 401, nothing stored.
    NoOp,
}

/// One phase's plan: which webhooks, how fast, for how long.
#[derive(Clone, Copy, Debug)]
struct Plan {
    mode: Mode,
    phase: char,
    /// Webhooks per second (0: as fast as possible).
    rate: u64,
    /// Stop after this long…
    seconds: u64,
    /// …or after this many customer messages (each customer once), whichever comes first.
    max_messages: Option<usize>,
    concurrency: usize,
}

#[derive(Debug, Default)]
struct PhaseResult {
    webhooks: u64,
    answered_ok: u64,
    answered_other: u64,
    failed: u64,
    messages_ok: u64,
    post_latency: Summary,
    elapsed: Duration,
    cpu: Option<f64>,
}

/// The process's CPU time (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Driver {
    http: reqwest::Client,
    base: String,
    probe: Arc<Probe>,
    customers: usize,
    batch: usize,
    run_id: u32,
}

impl Driver {
    /// POSTs webhooks per `plan`; answers when every POST was answered.
    async fn blast(self: &Arc<Self>, plan: Plan) -> PhaseResult {
        let slots = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(plan.seconds);
        let cpu0 = cpu_seconds();
        let mut set = JoinSet::new();
        for _ in 0..plan.concurrency {
            let (me, slots) = (self.clone(), slots.clone());
            set.spawn(async move {
                let mut r = PhaseResult::default();
                let mut lat = Vec::new();
                loop {
                    let slot = slots.fetch_add(1, Ordering::Relaxed);
                    let first = slot as usize * me.batch;
                    let count = match plan.max_messages {
                        Some(max) if first >= max => break,
                        Some(max) => me.batch.min(max - first),
                        None => me.batch,
                    };
                    if plan.rate > 0 {
                        let at = start + Duration::from_secs_f64(slot as f64 / plan.rate as f64);
                        if at >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                    } else if Instant::now() >= deadline {
                        break;
                    }
                    let t0 = Instant::now();
                    let stamp = me.probe.now_us();
                    let items: Vec<Outgoing> = (first..first + count)
                        .map(|n| Outgoing {
                            customer: n % me.customers,
                            wamid: format!(
                                "wamid.HBgLNDkxNTE{:08X}{}{:012X}AA==",
                                me.run_id, plan.phase, n
                            ),
                            text: format!(
                                "Hello, a question about my order {n} {TOKEN}{}:{stamp}]",
                                plan.phase
                            ),
                        })
                        .collect();
                    let unix = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let body = envelope(&items, unix);
                    let secret = match plan.mode {
                        Mode::Signed => APP_SECRET,
                        Mode::NoOp => "not-the-app-secret",
                    };
                    let signature = switchboard_simulator::sign(secret, &body);
                    r.webhooks += 1;
                    let sent = me
                        .http
                        .post(format!("{}/webhooks/whatsapp", me.base))
                        .header("content-type", "application/json")
                        .header("X-Hub-Signature-256", signature)
                        .body(body)
                        .send()
                        .await;
                    match sent {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            // Read the answer to the end so the connection is reused.
                            let _ = resp.bytes().await;
                            let expected = match plan.mode {
                                Mode::Signed => 200,
                                Mode::NoOp => 401,
                            };
                            if status == expected {
                                r.answered_ok += 1;
                                lat.push(t0.elapsed().as_micros() as u64);
                                if plan.mode == Mode::Signed {
                                    r.messages_ok += count as u64;
                                }
                            } else {
                                r.answered_other += 1;
                            }
                        }
                        Err(_) => r.failed += 1,
                    }
                }
                (r, lat)
            });
        }
        let mut total = PhaseResult::default();
        let mut lat = Vec::new();
        while let Some(done) = set.join_next().await {
            if let Ok((r, l)) = done {
                total.webhooks += r.webhooks;
                total.answered_ok += r.answered_ok;
                total.answered_other += r.answered_other;
                total.failed += r.failed;
                total.messages_ok += r.messages_ok;
                lat.extend(l);
            }
        }
        total.elapsed = start.elapsed();
        total.post_latency = summarize(lat);
        total.cpu = match (cpu0, cpu_seconds()) {
            (Some(a), Some(b)) => Some((b - a) / total.elapsed.as_secs_f64()),
            _ => None,
        };
        total
    }
}

struct Outbound {
    posted: u64,
    post_latency: Summary,
    posted_in: Duration,
    accepted_in: Duration,
}

/// Each owned interaction gets one agent message through the API at once; measures how fast
/// the API takes them and how fast the outbox hands them to the Cloud API (the simulator).
async fn outbound_burst(
    http: &reqwest::Client,
    base: &str,
    probe: &Probe,
    sim: &SimulatorHandle,
    concurrency: usize,
) -> anyhow::Result<Outbound> {
    let owned = probe
        .owned
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let before = sim.accepted_messages().len();
    let work = Arc::new(Mutex::new(owned));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..concurrency {
        let (http, base, work) = (http.clone(), base.to_owned(), work.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0u64;
            loop {
                let next = work.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some((token, id)) = next else { break };
                let t0 = Instant::now();
                let ok = http
                    .post(format!("{base}/api/v1/interactions/{id}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"text": "Your parcel left our warehouse today."}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    lat.push(t0.elapsed().as_micros() as u64);
                } else {
                    failed += 1;
                }
            }
            (lat, failed)
        });
    }
    let mut lat = Vec::new();
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        let (l, f) = r?;
        lat.extend(l);
        failed += f;
    }
    let posted_in = start.elapsed();
    if failed > 0 {
        bail!("outbound burst: {failed} agent messages were refused");
    }
    let posted = lat.len();
    sim.wait_for_accepted(before + posted, MAX_WAIT)
        .await
        .context("outbound burst: the simulator did not receive every send")?;
    let accepted_in = start.elapsed();
    // Their status webhooks, so they do not spill into the next phase.
    let _ = sim.wait_for_webhooks(3 * (before + posted), MAX_WAIT).await;
    Ok(Outbound {
        posted: posted as u64,
        post_latency: summarize(lat),
        posted_in,
        accepted_in,
    })
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bot agent: accepts every offer and answers it; timestamps the tagged messages it sees.
async fn bot(
    probe: Arc<Probe>,
    http: reqwest::Client,
    base: String,
    token: String,
    mut ws: WsStream,
    mut stop: watch::Receiver<bool>,
) {
    let me = Session { http, base, token };
    let mut tasks = JoinSet::new();
    // Counts down to the next customer message answered (`--reply-every`).
    let mut until_reply = probe.reply_every;
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            f = ws.next() => f,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(p))) => {
                let _ = ws.send(Message::Pong(p)).await;
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                probe.bump(&probe.bot_errors);
                break;
            }
        };
        let text = text.as_str();
        // Only offers and tagged messages matter; skip parsing the rest.
        let is_offer = text.contains("\"type\":\"offer.created\"");
        let is_message = text.contains("\"type\":\"message.created\"") && text.contains(TOKEN);
        if !is_offer && !is_message {
            continue;
        }
        let received = probe.now_us();
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        let data = &v["data"];
        if is_offer {
            if let Some((_, sent)) = data["first_message"].as_str().and_then(parse_token) {
                probe.offer_latency.push(received.saturating_sub(sent));
            }
            probe.bump(&probe.offers);
            let Some(id) = data["interaction_id"].as_str().map(str::to_owned) else {
                continue;
            };
            let (me, probe) = (me.clone(), probe.clone());
            tasks.spawn(async move {
                let accepted = me
                    .http
                    .post(format!("{}/api/v1/interactions/{id}/accept", me.base))
                    .bearer_auth(&me.token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !accepted {
                    probe.bump(&probe.bot_errors);
                    return;
                }
                probe
                    .owned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((me.token.clone(), id.clone()));
                probe.bump(&probe.accepted);
                me.reply(&probe, &id, "Hi! Thanks for writing, let me check.")
                    .await;
            });
        } else if data["direction"] == "in" {
            let Some((phase, sent)) = data["text"].as_str().and_then(parse_token) else {
                continue;
            };
            if phase != 'm' {
                continue;
            }
            probe.event_latency.push(received.saturating_sub(sent));
            probe.bump(&probe.events);
            until_reply = until_reply.saturating_sub(1);
            if probe.reply_every > 0 && until_reply == 0 {
                until_reply = probe.reply_every;
                if let Some(id) = data["interaction_id"].as_str().map(str::to_owned) {
                    let (me, probe) = (me.clone(), probe.clone());
                    tasks.spawn(async move {
                        me.reply(&probe, &id, "Noted, one moment please.").await;
                    });
                }
            }
        }
    }
    tasks.shutdown().await;
    let _ = ws.close(None).await;
}

/// A bot agent's session: what its tasks need to call the API as that agent.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Session {
    /// Sends `text` into interaction `id`, counting the reply or the error.
    async fn reply(&self, probe: &Probe, id: &str, text: &str) {
        let ok = self
            .http
            .post(format!("{}/api/v1/interactions/{id}/messages", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "text": text }))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            probe.bump(&probe.replies);
        } else {
            probe.bump(&probe.bot_errors);
        }
    }
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = http
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("POST {url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Reads one counter of `/metrics`.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let Ok(resp) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

struct Counters {
    commits: f64,
    events: f64,
}

async fn counters(http: &reqwest::Client, base: &str) -> Counters {
    Counters {
        commits: metric(http, base, "switchboard_commits_total").await,
        events: metric(http, base, "switchboard_events_total").await,
    }
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let o = Opts::parse(args)?;
    let run_id: u32 = rand::random();
    let tmp = std::env::temp_dir().join(format!("switchboard-load-{run_id:08x}"));
    let url = match &o.database {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&tmp)?;
            format!("sqlite://{}/load.db", tmp.display())
        }
    };
    let result = run_with(&o, &url, run_id).await;
    if o.database.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

async fn run_with(o: &Opts, url: &str, run_id: u32) -> anyhow::Result<()> {
    // The server's address first: the simulator posts its status webhooks there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut sim_config = SimulatorConfig::new(format!("{base}/webhooks/whatsapp"), APP_SECRET);
    sim_config.statuses = StatusTimings {
        sent: Duration::from_millis(5),
        delivered: Some(Duration::from_millis(5)),
        read: Some(Duration::from_millis(5)),
    };
    // The simulator never saw these customers write (the load generator posts for them).
    sim_config.enforce_window = false;
    sim_config.throughput_per_second = o.send_rate.max(1);
    sim_config.pair_rate = PairRate {
        burst: 1000,
        interval: Duration::from_millis(10),
    };
    let sim = Simulator::start(sim_config).await?;

    let env = vec![
        ("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("SWITCHBOARD_DATABASE__URL", url.to_owned()),
        ("SWITCHBOARD_SERVER__LOGIN_MAX_FAILURES", "1000".to_owned()),
        ("SWITCHBOARD_WHATSAPP__GRAPH_API_BASE", sim.graph_api_base()),
        (
            "SWITCHBOARD_WHATSAPP__RATE_PER_SECOND",
            o.send_rate.max(1).to_string(),
        ),
        ("SWITCHBOARD_WHATSAPP__PAIR_BURST", "1000".to_owned()),
        ("SWITCHBOARD_WHATSAPP__PAIR_INTERVAL_MS", "10".to_owned()),
    ];
    let config = Config::from_toml_and_env("", env.into_iter().map(|(k, v)| (k.to_owned(), v)))?;
    let schema = format!("load_{run_id:08x}");
    let store = if url.starts_with("postgres") {
        switchboard_store::Store::connect_in_schema(url, &schema).await?
    } else {
        switchboard_store::Store::connect(url).await?
    };
    let store = store.with_report_writes(o.report_writes);
    let backend = store.backend();
    let app =
        App::build_with_store(config, Arc::new(SystemClock), store, Some(PASSWORD.into())).await?;
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async {
        let _ = stopped.await;
    }));
    let outcome = drive(o, &base, &sim, run_id, backend).await;
    let _ = stop_server.send(());
    let stopped = server.await;
    sim.shutdown().await;
    if backend == "postgres" {
        println!("(PostgreSQL schema {schema} was left in place; DROP SCHEMA {schema} CASCADE to remove it)");
    }
    outcome?;
    stopped??;
    Ok(())
}

async fn drive(
    o: &Opts,
    base: &str,
    sim: &SimulatorHandle,
    run_id: u32,
    backend: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency + o.agents * 4 + 16)
        .tcp_nodelay(true)
        .build()?;
    let admin = crate::login(&http, base, "admin", PASSWORD).await?;
    let queue = post_json(
        &http,
        format!("{base}/api/v1/queues"),
        &admin,
        json!({"name": "Load", "acceptance_interval_s": 600, "post_processing_s": 0}),
    )
    .await?;
    let queue_id = queue["id"].as_str().context("no queue id")?.to_owned();
    post_json(
        &http,
        format!("{base}/api/v1/channels"),
        &admin,
        json!({"kind": "whatsapp", "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
               "display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "access_token": DEFAULT_ACCESS_TOKEN,
               "app_secret": APP_SECRET, "verify_token": "load-verify", "queue_id": queue_id,
               "waba_id": DEFAULT_WABA_ID}),
    )
    .await?;

    let probe = Arc::new(Probe {
        start: Instant::now(),
        offer_latency: Samples::default(),
        event_latency: Samples::default(),
        offers: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        events: AtomicU64::new(0),
        bot_errors: AtomicU64::new(0),
        replies: AtomicU64::new(0),
        owned: Mutex::new(Vec::new()),
        changed: Notify::new(),
        reply_every: o.reply_every,
    });
    let (stop_bots, bots_stop) = watch::channel(false);
    let mut bots = JoinSet::new();
    // Supervisors watching the floor: each socket reads (and drops) every frame it is sent.
    let supervisor_frames = Arc::new(AtomicU64::new(0));
    for i in 0..o.supervisors {
        let name = format!("sup{i}");
        post_json(
            &http,
            format!("{base}/api/v1/agents"),
            &admin,
            json!({"username": name, "password": PASSWORD, "display_name": format!("Supervisor {i}"),
                   "role": "supervisor"}),
        )
        .await?;
        let token = crate::login(&http, base, &name, PASSWORD).await?;
        let ws_url = format!(
            "{}/api/v1/ws?token={token}",
            base.replace("http://", "ws://")
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .context("supervisor websocket")?;
        let frames = supervisor_frames.clone();
        let mut stop = bots_stop.clone();
        bots.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    f = ws.next() => match f {
                        Some(Ok(_)) => { frames.fetch_add(1, Ordering::Relaxed); }
                        _ => break,
                    },
                }
            }
        });
    }
    for i in 0..o.agents {
        let name = format!("bot{i}");
        post_json(
            &http,
            format!("{base}/api/v1/agents"),
            &admin,
            json!({"username": name, "password": PASSWORD, "display_name": format!("Bot {i}"),
                   "role": "agent", "capacity": 100, "queue_ids": [queue_id]}),
        )
        .await?;
        let token = crate::login(&http, base, &name, PASSWORD).await?;
        let ws_url = format!(
            "{}/api/v1/ws?token={token}",
            base.replace("http://", "ws://")
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .context("websocket")?;
        // The hello frame first.
        ws.next().await.context("no hello frame")??;
        let resp = http
            .put(format!("{base}/api/v1/me/presence"))
            .bearer_auth(&token)
            .json(&json!({"presence": "available"}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("bot{i} cannot go available: {}", resp.status());
        }
        bots.spawn(bot(
            probe.clone(),
            http.clone(),
            base.to_owned(),
            token,
            ws,
            bots_stop.clone(),
        ));
    }

    let driver = Arc::new(Driver {
        http: http.clone(),
        base: base.to_owned(),
        probe: probe.clone(),
        customers: o.customers,
        batch: o.batch,
        run_id,
    });
    let customers = o.customers as u64;

    // 1. Warm-up: every customer writes once; a bot accepts and answers each.
    let warm_start = Instant::now();
    let warm = driver
        .blast(Plan {
            mode: Mode::Signed,
            phase: 'w',
            rate: o.rate,
            seconds: MAX_WAIT.as_secs(),
            max_messages: Some(o.customers),
            concurrency: o.concurrency,
        })
        .await;
    if warm.messages_ok < customers {
        bail!(
            "warm-up: only {} of {customers} customer messages were answered 200 ({} other answers, {} failed POSTs)",
            warm.messages_ok,
            warm.answered_other,
            warm.failed
        );
    }
    if !probe.wait_for(&probe.replies, customers, MAX_WAIT).await {
        bail!(
            "warm-up: after {}s only {} of {customers} offers were accepted and {} answered ({} bot errors)",
            MAX_WAIT.as_secs(),
            probe.accepted.load(Ordering::Relaxed),
            probe.replies.load(Ordering::Relaxed),
            probe.bot_errors.load(Ordering::Relaxed)
        );
    }
    let warm_accepted = warm_start.elapsed();
    sim.wait_for_accepted(o.customers, MAX_WAIT)
        .await
        .context("the simulator did not receive every answer")?;
    // Their sent/delivered/read webhooks, so they do not spill into the next phase.
    let _ = sim.wait_for_webhooks(3 * o.customers, MAX_WAIT).await;
    let offer_latency = summarize(probe.offer_latency.take());

    // 2. Baseline: the same POSTs, wrongly signed.
    let noop = driver
        .blast(Plan {
            mode: Mode::NoOp,
            phase: 'n',
            rate: o.rate,
            seconds: o.seconds,
            max_messages: None,
            concurrency: o.concurrency,
        })
        .await;

    // 2b. Outbound: every bot writes once more in each of its conversations, all at once.
    let outbound = outbound_burst(&http, base, &probe, sim, o.concurrency).await?;

    // 3. Measured: follow-up messages of customers whose interactions bots own.
    let sends_before = sim.accepted_messages().len();
    let before = counters(&http, base).await;
    let measured = driver
        .blast(Plan {
            mode: Mode::Signed,
            phase: 'm',
            rate: o.rate,
            seconds: o.seconds,
            max_messages: None,
            concurrency: o.concurrency,
        })
        .await;
    let all_seen = probe
        .wait_for(&probe.events, measured.messages_ok, Duration::from_secs(30))
        .await;
    let after = counters(&http, base).await;
    let seen = probe.events.load(Ordering::Relaxed);
    let event_latency = summarize(probe.event_latency.take());
    let measured_sends = sim.accepted_messages().len().saturating_sub(sends_before);
    let _ = stop_bots.send(true);
    while bots.join_next().await.is_some() {}

    // The table.
    let rate = if o.rate == 0 {
        "max".to_owned()
    } else {
        format!("{}/s ({} msgs/s)", o.rate, o.rate * o.batch as u64)
    };
    println!();
    println!(
        "switchboard load: backend={backend} customers={} agents={} batch={} concurrency={} rate={rate} seconds={} report-writes={:?}",
        o.customers, o.agents, o.batch, o.concurrency, o.seconds, o.report_writes
    );
    let secs = |r: &PhaseResult| r.elapsed.as_secs_f64().max(1e-9);
    let cpu = |r: &PhaseResult| {
        r.cpu
            .map(|c| format!("{:.0}%", c * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "  {:<48} {:>9} {:>11} {:>9} {:>9} {:>6}",
        "what", "count", "per second", "p50 ms", "p99 ms", "cpu"
    );
    let row = |what: &str, count: u64, per_s: Option<f64>, lat: Option<Summary>, cpu: String| {
        println!(
            "  {:<48} {:>9} {:>11} {:>9} {:>9} {:>6}",
            what,
            count,
            per_s
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            lat.map(|l| format!("{:.2}", l.p50_ms))
                .unwrap_or_else(|| "-".into()),
            lat.map(|l| format!("{:.2}", l.p99_ms))
                .unwrap_or_else(|| "-".into()),
            cpu
        );
    };
    row(
        "warm-up: POST -> offer.created (ws)",
        offer_latency.count as u64,
        Some(customers as f64 / warm_accepted.as_secs_f64().max(1e-9)),
        Some(offer_latency),
        cpu(&warm),
    );
    row(
        "outbound burst: POST .../messages answered",
        outbound.posted,
        Some(outbound.posted as f64 / outbound.posted_in.as_secs_f64().max(1e-9)),
        Some(outbound.post_latency),
        "-".into(),
    );
    row(
        "outbound burst: sends accepted by the simulator",
        outbound.posted,
        Some(outbound.posted as f64 / outbound.accepted_in.as_secs_f64().max(1e-9)),
        None,
        "-".into(),
    );
    row(
        "baseline: no-op POST (bad signature, 401)",
        noop.answered_ok,
        Some(noop.answered_ok as f64 / secs(&noop)),
        Some(noop.post_latency),
        cpu(&noop),
    );
    row(
        "webhook POST answered 200 (durable)",
        measured.answered_ok,
        Some(measured.answered_ok as f64 / secs(&measured)),
        Some(measured.post_latency),
        cpu(&measured),
    );
    row(
        "inbound messages durable",
        measured.messages_ok,
        Some(measured.messages_ok as f64 / secs(&measured)),
        None,
        "-".into(),
    );
    row(
        "POST -> message.created on the bot's socket",
        event_latency.count as u64,
        None,
        Some(event_latency),
        "-".into(),
    );
    if o.reply_every > 0 {
        row(
            "outbound sends during the measured phase",
            measured_sends as u64,
            Some(measured_sends as f64 / secs(&measured)),
            None,
            "-".into(),
        );
    }
    let noop_rate = noop.answered_ok as f64 / secs(&noop);
    let msgs_rate = measured.messages_ok as f64 / secs(&measured);
    let hooks_rate = measured.answered_ok as f64 / secs(&measured);
    println!(
        "  ratio inbound msgs/s : no-op POSTs/s = {:.2}   webhooks/s : no-op POSTs/s = {:.2}{}",
        msgs_rate / noop_rate.max(1e-9),
        hooks_rate / noop_rate.max(1e-9),
        if o.rate > 0 {
            "   (both paced by --rate)"
        } else {
            ""
        }
    );
    let commits = after.commits - before.commits;
    println!(
        "  measured phase: {:.0} commits ({:.1} messages each), {:.0} events stored; max latency POST {:.1} ms, event {:.1} ms",
        commits,
        measured.messages_ok as f64 / commits.max(1.0),
        after.events - before.events,
        measured.post_latency.max_ms,
        event_latency.max_ms
    );
    println!(
        "  event rows stored per inbound message: {:.2} ({} supervisors connected, {} frames read by their sockets)",
        (after.events - before.events) / (measured.messages_ok as f64).max(1.0),
        o.supervisors,
        supervisor_frames.load(Ordering::Relaxed)
    );
    let problems = measured.answered_other + measured.failed + noop.answered_other + noop.failed;
    if problems > 0 || !all_seen {
        println!(
            "  problems: {} unexpected answers, {} failed POSTs, {} of {} messages never reached a socket, {} bot errors",
            measured.answered_other + noop.answered_other,
            measured.failed + noop.failed,
            measured.messages_ok.saturating_sub(seen),
            measured.messages_ok,
            probe.bot_errors.load(Ordering::Relaxed)
        );
    }
    if o.rate > 0 {
        let target = o.rate as f64;
        if hooks_rate < target * 0.95 {
            println!("  note: the target rate was not reached ({hooks_rate:.0} of {target:.0} webhooks/s): latency includes queueing in the client");
        }
    }
    if measured.messages_ok == 0 {
        bail!("no webhook was answered 200 in the measured phase");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_simulator::{message_envelope, Metadata};

    #[test]
    fn tokens_round_trip() {
        assert_eq!(
            parse_token("Hello, a question about my order 7 [lg:m:123456]"),
            Some(('m', 123456))
        );
        assert_eq!(parse_token("no token here"), None);
        assert_eq!(parse_token("[lg:m:12"), None);
        assert_eq!(parse_token("[lg:m:x]"), None);
    }

    #[test]
    fn envelope_is_metas_shape() {
        let items = vec![
            Outgoing {
                customer: 3,
                wamid: "wamid.A".into(),
                text: "hi \"there\" [lg:w:5]".into(),
            },
            Outgoing {
                customer: 4,
                wamid: "wamid.B".into(),
                text: "second".into(),
            },
        ];
        let body: Value = serde_json::from_slice(&envelope(&items, 1_700_000_000)).expect("json");
        let meta = Metadata {
            waba_id: DEFAULT_WABA_ID.into(),
            phone_number_id: DEFAULT_PHONE_NUMBER_ID.into(),
            display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER.into(),
        };
        let msg = |c: usize, id: &str, text: &str| {
            json!({"from": customer_wa_id(c), "id": id, "timestamp": "1700000000", "type": "text",
                   "text": {"body": text}})
        };
        // The simulator's builder for one customer, with the second contact added.
        let mut want = message_envelope(
            &meta,
            &customer_wa_id(3),
            "Customer 3",
            vec![
                msg(3, "wamid.A", "hi \"there\" [lg:w:5]"),
                msg(4, "wamid.B", "second"),
            ],
        );
        want["entry"][0]["changes"][0]["value"]["contacts"]
            .as_array_mut()
            .expect("contacts")
            .push(json!({"profile": {"name": "Customer 4"}, "wa_id": customer_wa_id(4)}));
        assert_eq!(body, want);
    }

    #[test]
    fn percentiles() {
        let s = summarize((1..=100).map(|v| v * 1000).collect());
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() <= 1.0, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() <= 1.0, "{s:?}");
        assert_eq!(summarize(Vec::new()).count, 0);
    }

    #[test]
    fn options_are_checked() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert!(Opts::parse(&args("--customers 5 --batch 10")).is_err());
        assert!(Opts::parse(&args("--customers 1000 --agents 2")).is_err());
        assert!(Opts::parse(&args("--rate x")).is_err());
        let o = Opts::parse(&args("--rate 200 --batch 10 --customers 500")).expect("valid");
        assert_eq!((o.rate, o.batch, o.customers), (200, 10, 500));
    }
}
