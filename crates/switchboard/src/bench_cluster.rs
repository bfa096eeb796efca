//! `switchboard bench-cluster`: several nodes on one PostgreSQL database and NATS.
//! Starts three `switchboard serve` processes of this binary on a fresh schema of `--database`
//! and a subject prefix of their own on `--nats`, then measures:
//!
//! 1. a NATS request/reply round trip (an echo in this process), the baseline of forwarding;
//! 2. an accept (`POST …/accept` of a pending offer) answered by the router itself and by a
//!    node that forwards it to the router, alternating, N of each;
//! 3. webhooks (5 messages each) through the router and through a node that is not the router;
//! 4. fail-over: K times, SIGKILL of the router and the time until another node holds the lease
//!    (read from the database), the killed node restarted after each.

use crate::flag;
use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_store::Store;
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "bench-cluster-admin-123";
const APP_SECRET: &str = "bench-cluster-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    flag(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if ms.is_empty() {
            0.0
        } else {
            ms[(((ms.len() - 1) as f64) * p).round() as usize]
        }
    };
    println!(
        "  {what:<52} {:>6} {:>9.3} {:>9.3} {:>9.3}",
        ms.len(),
        pct(0.5),
        pct(0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

struct Node {
    id: String,
    base: String,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Nodes {
    url: String,
    nats: String,
    prefix: String,
    lease_ms: u64,
    dir: std::path::PathBuf,
}

impl Nodes {
    fn start(&self, id: &str, port: u16) -> anyhow::Result<Node> {
        let log = std::fs::File::create(self.dir.join(format!("{id}.log")))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        for (k, _) in std::env::vars() {
            if k.starts_with("SWITCHBOARD_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .arg("serve")
            .env("SWITCHBOARD_DATABASE__URL", &self.url)
            .env("SWITCHBOARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_ADMIN_PASSWORD", PASSWORD)
            .env("SWITCHBOARD_MEDIA__DIR", self.dir.join("media"))
            .env("SWITCHBOARD_LOG", "warn")
            .env("SWITCHBOARD_CLUSTER__NATS_URL", &self.nats)
            .env("SWITCHBOARD_CLUSTER__NODE_ID", id)
            .env("SWITCHBOARD_CLUSTER__SUBJECT_PREFIX", &self.prefix)
            .env("SWITCHBOARD_CLUSTER__LEASE_MS", self.lease_ms.to_string())
            .env(
                "SWITCHBOARD_CLUSTER__RENEW_MS",
                (self.lease_ms / 5).max(1).to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(log)
            .spawn()?;
        Ok(Node {
            id: id.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            child,
        })
    }
}

async fn ready(http: &reqwest::Client, node: &Node) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{}/readyz", node.base)).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("node {} not ready after 30 s", node.id)
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http.request(method, &url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn webhook(wa_id: &str, messages: &[String]) -> Vec<u8> {
    let messages: Vec<Value> = messages
        .iter()
        .map(|id| json!({"from": wa_id, "id": id, "timestamp": "1700000000", "type": "text", "text": {"body": "hi"}}))
        .collect();
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}], "messages": messages}}]}]}))
    .unwrap_or_default()
}

async fn post_webhook(http: &reqwest::Client, base: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let r = http
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            switchboard_simulator::sign(APP_SECRET, &body),
        )
        .body(body)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("webhook answered {}", r.status());
    }
    Ok(())
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let database = flag(args, "--database")
        .or_else(|| std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok())
        .context("--database postgres://… is required")?;
    let nats = flag(args, "--nats")
        .or_else(|| std::env::var("SWITCHBOARD_TEST_NATS_URL").ok())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let samples: usize = num(args, "--samples", 200);
    let webhooks: usize = num(args, "--webhooks", 400);
    let kills: usize = num(args, "--kills", 20);
    let lease_ms: u64 = num(args, "--lease-ms", 1000);
    let suffix = format!("{:012x}", rand::random::<u64>() >> 16);
    let schema = format!("bench_cluster_{suffix}");
    let store = Store::connect_in_schema(&database, &schema).await?;
    let mut url = reqwest::Url::parse(&database)?;
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    let dir = std::env::temp_dir().join(format!("switchboard-bench-cluster-{suffix}"));
    std::fs::create_dir_all(&dir)?;
    let nodes = Nodes {
        url: url.to_string(),
        nats: nats.clone(),
        prefix: format!("bench{suffix}"),
        lease_ms,
        dir: dir.clone(),
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
        })
        .collect::<Result<_, _>>()?;
    let mut running: Vec<Node> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let node = nodes.start(&format!("n{}", i + 1), *port)?;
        ready(&http, &node).await?;
        running.push(node);
    }
    println!(
        "bench-cluster: 3 nodes on PostgreSQL schema {schema}, NATS {nats}, lease {lease_ms} ms (logs in {})",
        dir.display()
    );
    println!(
        "  {:<52} {:>6} {:>9} {:>9} {:>9}",
        "", "n", "p50 ms", "p99 ms", "max ms"
    );

    // 1. The NATS baseline: request/reply to an echo in this process.
    let client = async_nats::connect(nats.as_str()).await?;
    let subject = format!("bench{suffix}.echo");
    let mut echo = client.subscribe(subject.clone()).await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(m) = echo.next().await {
            if let Some(reply) = m.reply {
                let _ = responder.publish(reply, m.payload).await;
            }
        }
    });
    let payload = vec![b'x'; 400];
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        client
            .request(subject.clone(), payload.clone().into())
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("NATS request/reply, 400 bytes (baseline)", lat);

    // 2. Accepts on the router vs forwarded.
    let router = store.lease().await?.holder;
    let r = running
        .iter()
        .position(|n| n.id == router)
        .context("router not running")?;
    let f = (r + 1) % 3;
    let admin = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", running[r].base),
        None,
        Some(json!({"username": "admin", "password": PASSWORD})),
    )
    .await?["token"]
        .as_str()
        .context("token")?
        .to_owned();
    let queue = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/queues", running[r].base),
        Some(&admin),
        Some(json!({"name": "Bench", "post_processing_s": 0})),
    )
    .await?;
    call(&http, reqwest::Method::POST, format!("{}/api/v1/channels", running[r].base), Some(&admin),
        Some(json!({"kind": "whatsapp", "phone_number_id": PHONE_NUMBER_ID, "display_phone_number": "15557650000",
            "access_token": "token", "app_secret": APP_SECRET, "verify_token": "verify", "queue_id": queue["id"]}))).await?;
    call(&http, reqwest::Method::POST, format!("{}/api/v1/agents", running[r].base), Some(&admin),
        Some(json!({"username": "agent", "password": PASSWORD, "display_name": "Agent", "role": "agent",
            "capacity": 1, "queue_ids": [queue["id"]]}))).await?;
    let agent = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", running[r].base),
        None,
        Some(json!({"username": "agent", "password": PASSWORD})),
    )
    .await?["token"]
        .as_str()
        .context("token")?
        .to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/ws?token={agent}",
        running[r].base.replacen("http", "ws", 1)
    ))
    .await?;
    call(
        &http,
        reqwest::Method::PUT,
        format!("{}/api/v1/me/presence", running[r].base),
        Some(&agent),
        Some(json!({"presence": "available"})),
    )
    .await?;
    let (mut local, mut forwarded) = (Vec::new(), Vec::new());
    for i in 0..samples * 2 {
        post_webhook(
            &http,
            &running[r].base,
            webhook(&format!("4915{i:08}"), &[format!("wamid.bc.{suffix}.a{i}")]),
        )
        .await?;
        let interaction = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .context("no offer")?
                .context("socket closed")??;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] == "offer.created" {
                    break v["data"]["interaction_id"]
                        .as_str()
                        .context("offer")?
                        .to_owned();
                }
            }
        };
        let via = if i % 2 == 0 { r } else { f };
        let t = Instant::now();
        call(
            &http,
            reqwest::Method::POST,
            format!(
                "{}/api/v1/interactions/{interaction}/accept",
                running[via].base
            ),
            Some(&agent),
            Some(json!({})),
        )
        .await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if via == r { &mut local } else { &mut forwarded }.push(ms);
        for action in ["end", "wrap-up"] {
            call(
                &http,
                reqwest::Method::POST,
                format!(
                    "{}/api/v1/interactions/{interaction}/{action}",
                    running[r].base
                ),
                Some(&agent),
                Some(json!({})),
            )
            .await?;
        }
    }
    report("accept answered by the router (HTTP)", local);
    report(
        "accept forwarded by another node to the router (HTTP)",
        forwarded,
    );
    drop(ws);

    // 3. Webhook throughput, 5 messages each, 32 in flight.
    for (what, via) in [("the router", r), ("a node that is not the router", f)] {
        let gate = Arc::new(tokio::sync::Semaphore::new(32));
        let started = Instant::now();
        let mut posts = tokio::task::JoinSet::new();
        for w in 0..webhooks {
            let (http, base, gate) = (http.clone(), running[via].base.clone(), gate.clone());
            let ids: Vec<String> = (0..5)
                .map(|j| format!("wamid.bc.{suffix}.{via}.{w}.{j}"))
                .collect();
            let body = webhook(&format!("4916{:08}", w % 200), &ids);
            posts.spawn(async move {
                let _p = gate.acquire().await;
                post_webhook(&http, &base, body).await
            });
        }
        while let Some(r) = posts.join_next().await {
            r??;
        }
        let s = started.elapsed().as_secs_f64();
        println!(
            "  webhooks through {what:<31} {webhooks} x 5 messages in {s:.2} s: {:.0} webhooks/s, {:.0} messages/s",
            webhooks as f64 / s,
            (webhooks * 5) as f64 / s
        );
    }

    // 4. Fail-over: SIGKILL of the router, time until another node holds the lease.
    let mut took = Vec::with_capacity(kills);
    for _ in 0..kills {
        let lease = store.lease().await?;
        let r = running
            .iter()
            .position(|n| n.id == lease.holder)
            .context("router not running")?;
        let _ = running[r].child.kill();
        let _ = running[r].child.wait();
        let killed = Instant::now();
        loop {
            let l = store.lease().await?;
            if l.live && l.holder != lease.holder {
                break;
            }
            if killed.elapsed() > Duration::from_secs(30) {
                bail!("no node took over in 30 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(killed.elapsed().as_secs_f64() * 1000.0);
        let id = running[r].id.clone();
        let port: u16 = running[r]
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("port")?;
        running.remove(r);
        let node = nodes.start(&id, port)?;
        ready(&http, &node).await?;
        running.push(node);
    }
    report(
        &format!("fail-over after SIGKILL (lease {lease_ms} ms)"),
        took,
    );
    drop(running);
    println!("  (schema {schema} left in place; drop it with DROP SCHEMA {schema} CASCADE)");
    Ok(())
}
