//! Crash test of the WhatsApp webhook: a burst of signed webhooks is fired at a
//! real `switchboard serve` process, which is killed with SIGKILL in the middle of it. After a
//! restart on the same database every message of every webhook that was answered 200 is there,
//! exactly once; and when WhatsApp then redelivers the whole burst, every message is stored once.
//!
//! SQLite always; PostgreSQL too when `SWITCHBOARD_TEST_POSTGRES_URL` is set (in a fresh
//! database created for the test and dropped after it).

use anyhow::{bail, ensure, Context};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

use crate::serve::Serve;

pub(crate) const ADMIN_PASSWORD: &str = "crash-admin-pass-123";
pub(crate) const APP_SECRET: &str = "crash-app-secret";
pub(crate) const PHONE_NUMBER_ID: &str = "106540352242922";
pub(crate) const WEBHOOKS: usize = 400;
pub(crate) const PER_WEBHOOK: usize = 5;
/// Few enough that the open interactions fit in one `?all=true` page.
const CUSTOMERS: usize = 100;
const IN_FLIGHT: usize = 48;
/// The kill comes once this many webhooks were answered 200.
const KILL_AFTER: usize = 60;

pub(crate) fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One webhook of the burst: its body and the message ids it carries.
pub(crate) struct Webhook {
    pub body: Vec<u8>,
    pub wamids: Vec<String>,
}

pub(crate) fn burst(run: &str) -> Vec<Webhook> {
    (0..WEBHOOKS)
        .map(|w| {
            let mut contacts = Vec::new();
            let mut messages = Vec::new();
            let mut wamids = Vec::new();
            for j in 0..PER_WEBHOOK {
                let n = w * PER_WEBHOOK + j;
                let wa_id = format!("4917{:08}", n % CUSTOMERS);
                let wamid = format!("wamid.crash.{run}.{w}.{j}");
                contacts.push(json!({"profile": {"name": format!("Customer {}", n % CUSTOMERS)}, "wa_id": wa_id}));
                messages.push(json!({"from": wa_id, "id": wamid, "timestamp": "1700000000",
                                     "type": "text", "text": {"body": format!("message {j} of webhook {w}")}}));
                wamids.push(wamid);
            }
            let envelope = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
                "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": contacts, "messages": messages}}]}]});
            Webhook {
                body: serde_json::to_vec(&envelope).expect("json"),
                wamids,
            }
        })
        .collect()
}

pub(crate) async fn post_webhook(http: &reqwest::Client, base: &str, body: &[u8]) -> Option<u16> {
    http.post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            switchboard_simulator::sign(APP_SECRET, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

pub(crate) async fn api(
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
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "{url} answered {status}: {text}");
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) async fn admin_login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let v = api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
    )
    .await?;
    v["token"].as_str().map(str::to_owned).context("no token")
}

/// How many times each WhatsApp message id is stored, read through the API as admin.
pub(crate) async fn stored_wamids(
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<HashMap<String, usize>> {
    let token = admin_login(http, base).await?;
    let list = api(
        http,
        reqwest::Method::GET,
        format!("{base}/api/v1/interactions?all=true&limit=1000"),
        Some(&token),
        None,
    )
    .await?;
    let list = list.as_array().context("interaction list")?;
    ensure!(list.len() < 1000, "more interactions than one page");
    let mut counts = HashMap::new();
    for it in list {
        let id = it["id"].as_str().context("interaction id")?;
        let mut before: Option<String> = None;
        loop {
            let mut url = format!("{base}/api/v1/interactions/{id}/messages?limit=500");
            if let Some(b) = &before {
                url.push_str(&format!("&before={b}"));
            }
            let page = api(http, reqwest::Method::GET, url, Some(&token), None).await?;
            for m in page["messages"].as_array().context("messages")? {
                if let Some(w) = m["wa_message_id"].as_str() {
                    *counts.entry(w.to_owned()).or_insert(0) += 1;
                }
            }
            match page["next_before"].as_str() {
                Some(b) => before = Some(b.to_owned()),
                None => break,
            }
        }
    }
    Ok(counts)
}

/// The answers of a burst: each webhook's index and its status (`None`: no answer).
pub(crate) type Burst = tokio::task::JoinSet<Option<(usize, Option<u16>)>>;

/// Posts every webhook of `webhooks`, the n-th to `bases[n % bases.len()]`, `in_flight` at a
/// time; the `Notify` is told once `kill_after` were answered 200.
pub(crate) fn fire_burst(
    http: &reqwest::Client,
    bases: &[String],
    webhooks: &Arc<Vec<Webhook>>,
    in_flight: usize,
    kill_after: usize,
) -> (Burst, Arc<Notify>) {
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let gate = Arc::new(Semaphore::new(in_flight));
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..webhooks.len() {
        let (http, base, webhooks, acked, enough, gate) = (
            http.clone(),
            bases[i % bases.len()].clone(),
            webhooks.clone(),
            acked.clone(),
            enough.clone(),
            gate.clone(),
        );
        posts.spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            let status = post_webhook(&http, &base, &webhooks[i].body).await;
            if status == Some(200) && acked.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                enough.notify_one();
            }
            Some((i, status))
        });
    }
    (posts, enough)
}

/// A queue and the WhatsApp channel of the burst's number feeding it; the queue's id.
pub(crate) async fn create_channel(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<String> {
    let queue = api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/queues"),
        Some(token),
        Some(json!({"name": "Crash"})),
    )
    .await?;
    api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/channels"),
        Some(token),
        Some(
            json!({"kind": "whatsapp", "phone_number_id": PHONE_NUMBER_ID,
                    "display_phone_number": "15557650000", "access_token": "token",
                    "app_secret": APP_SECRET, "verify_token": "verify", "queue_id": queue["id"]}),
        ),
    )
    .await?;
    queue["id"].as_str().map(str::to_owned).context("queue id")
}

async fn crash_and_recover(database_url: &str, dir: &Path) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()?;
    let mut first = Serve::start(database_url, dir, "first", ADMIN_PASSWORD)?;
    first.ready(&http).await?;
    let token = admin_login(&http, &first.base).await?;
    create_channel(&http, &first.base, &token).await?;

    // The burst, with the kill in the middle of it.
    let webhooks = Arc::new(burst(&random_suffix()));
    let (mut posts, enough) = fire_burst(
        &http,
        &[first.base.clone()],
        &webhooks,
        IN_FLIGHT,
        KILL_AFTER,
    );
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .with_context(|| format!("the burst never got {KILL_AFTER} answers:\n{}", first.log()))?;
    first.kill();
    let mut answered_200 = Vec::new();
    let mut not_answered = 0;
    while let Some(r) = posts.join_next().await {
        match r? {
            Some((i, Some(200))) => answered_200.push(i),
            Some((_, Some(other))) => bail!("a webhook was answered {other}:\n{}", first.log()),
            _ => not_answered += 1,
        }
    }
    ensure!(
        not_answered > 0,
        "the kill came after the whole burst was answered: nothing was tested"
    );
    eprintln!(
        "{} of {WEBHOOKS} webhooks answered 200 before SIGKILL, {not_answered} not answered",
        answered_200.len()
    );

    // Restart on the same database: every acknowledged message is there, once.
    let mut second = Serve::start(database_url, dir, "second", ADMIN_PASSWORD)?;
    second.ready(&http).await?;
    let stored = stored_wamids(&http, &second.base).await?;
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(twice.is_empty(), "stored more than once: {twice:?}");
    let mut missing = Vec::new();
    for &i in &answered_200 {
        for w in &webhooks[i].wamids {
            if !stored.contains_key(w) {
                missing.push(w.clone());
            }
        }
    }
    ensure!(
        missing.is_empty(),
        "{} messages of webhooks answered 200 are missing after the crash, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // WhatsApp redelivers what it is not sure of (here: everything): still each message once.
    for (i, w) in webhooks.iter().enumerate() {
        let status = post_webhook(&http, &second.base, &w.body).await;
        ensure!(
            status == Some(200),
            "redelivery of webhook {i} answered {status:?}:\n{}",
            second.log()
        );
    }
    let stored = stored_wamids(&http, &second.base).await?;
    for w in webhooks.iter().flat_map(|w| &w.wamids) {
        let n = stored.get(w).copied().unwrap_or(0);
        ensure!(n == 1, "{w} stored {n} times after redelivery");
    }
    ensure!(
        stored.len() == WEBHOOKS * PER_WEBHOOK,
        "{} messages stored, {} sent",
        stored.len(),
        WEBHOOKS * PER_WEBHOOK
    );
    second.kill();
    Ok(())
}

pub(crate) fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-crash-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_message_sqlite() {
    let dir = temp_dir();
    let url = format!("sqlite://{}/db", dir.display());
    let result = crash_and_recover(&url, &dir).await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Err(e) = result {
        panic!("{e:#} (files kept in {})", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_message_postgres() {
    use sqlx::Connection;
    let Some(base) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: PostgreSQL crash test (SWITCHBOARD_TEST_POSTGRES_URL not set)");
        return;
    };
    // The server takes a database URL only: give it a database of its own.
    let name = format!("sb_crash_{}", random_suffix());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to SWITCHBOARD_TEST_POSTGRES_URL");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let mut url = reqwest::Url::parse(&base).expect("postgres URL");
    url.set_path(&format!("/{name}"));
    let dir = temp_dir();
    let result = crash_and_recover(url.as_str(), &dir).await;
    let dropped = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    if let Err(e) = result {
        panic!("{e:#} (files kept in {})", dir.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    dropped.expect("drop the test database");
}
