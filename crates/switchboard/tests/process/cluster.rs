//! Several nodes (R-11.3, R-2.9 across nodes): real `switchboard serve` processes on one
//! PostgreSQL database (a fresh one per test) and one NATS server (a subject prefix of its own
//! per test), with short leases so a fail-over takes about a second.
//!
//! Skipped (with a message) unless `SWITCHBOARD_TEST_POSTGRES_URL` and
//! `SWITCHBOARD_TEST_NATS_URL` are set.

use anyhow::{bail, ensure, Context};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::crash::{
    admin_login, api, burst, create_channel, fire_burst, post_webhook, random_suffix,
    stored_wamids, temp_dir, Webhook, ADMIN_PASSWORD, PER_WEBHOOK, WEBHOOKS,
};
use crate::serve::Serve;

const LEASE_MS: u64 = 1500;
const RENEW_MS: u64 = 300;

struct Env {
    postgres: String,
    nats: String,
}

fn env() -> Option<Env> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("SWITCHBOARD_TEST_POSTGRES_URL"),
        get("SWITCHBOARD_TEST_NATS_URL"),
    ) {
        (Some(postgres), Some(nats)) => Some(Env { postgres, nats }),
        _ => {
            eprintln!(
                "skipped: cluster tests need SWITCHBOARD_TEST_POSTGRES_URL and SWITCHBOARD_TEST_NATS_URL"
            );
            None
        }
    }
}

/// Nodes of one test: a database, a NATS subject prefix and a directory of their own.
struct Cluster {
    env: Env,
    db_name: String,
    url: String,
    prefix: String,
    dir: std::path::PathBuf,
    http: reqwest::Client,
    nodes: Vec<Serve>,
}

impl Cluster {
    async fn new(env: Env) -> anyhow::Result<Cluster> {
        use sqlx::Connection;
        let db_name = format!("sb_cluster_{}", random_suffix());
        let mut conn = sqlx::PgConnection::connect(&env.postgres).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {db_name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = reqwest::Url::parse(&env.postgres)?;
        url.set_path(&format!("/{db_name}"));
        Ok(Cluster {
            env,
            db_name,
            url: url.to_string(),
            prefix: format!("sbtest{}", random_suffix()),
            dir: temp_dir(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()?,
            nodes: Vec::new(),
        })
    }

    /// Starts node `id` and waits until it is ready (some node is the router).
    async fn start(&mut self, id: &str) -> anyhow::Result<usize> {
        let env = [
            ("SWITCHBOARD_CLUSTER__NATS_URL", self.env.nats.clone()),
            ("SWITCHBOARD_CLUSTER__NODE_ID", id.to_owned()),
            ("SWITCHBOARD_CLUSTER__LEASE_MS", LEASE_MS.to_string()),
            ("SWITCHBOARD_CLUSTER__RENEW_MS", RENEW_MS.to_string()),
            ("SWITCHBOARD_CLUSTER__SUBJECT_PREFIX", self.prefix.clone()),
            (
                "SWITCHBOARD_CLUSTER__FORWARD_TIMEOUT_MS",
                "20000".to_owned(),
            ),
            ("SWITCHBOARD_LOG", "info".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        let mut node = Serve::start_with(&self.url, &self.dir, id, ADMIN_PASSWORD, &env)?;
        node.ready(&self.http).await?;
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn base(&self, i: usize) -> &str {
        &self.nodes[i].base
    }

    async fn db(&self) -> anyhow::Result<sqlx::PgConnection> {
        use sqlx::Connection;
        Ok(sqlx::PgConnection::connect(&self.url).await?)
    }

    /// The lease holder, if its lease is unexpired.
    async fn router(&self) -> anyhow::Result<Option<String>> {
        use sqlx::Row;
        let mut db = self.db().await?;
        let row = sqlx::query(
            "SELECT holder FROM router_lease WHERE id = 1 \
             AND expires_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        )
        .fetch_optional(&mut db)
        .await?;
        Ok(row.map(|r| r.get::<String, _>("holder")))
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    async fn finish(mut self, result: anyhow::Result<()>) {
        use sqlx::Connection;
        let logs = self.logs();
        for n in &mut self.nodes {
            n.kill();
        }
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&self.env.postgres).await?;
            sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ))
            .execute(&mut conn)
            .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            panic!("{e:#}\n(files kept in {})\n{logs}", self.dir.display());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        dropped.expect("drop the test database");
    }
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let r = http
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Creates a user on node `base` and logs them in there; (id, token).
async fn user(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    name: &str,
    role: &str,
    queue: &str,
) -> anyhow::Result<(String, String)> {
    let password = format!("{name}-password-123");
    let u = api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/agents"),
        Some(admin),
        Some(
            json!({"username": name, "password": password, "display_name": name,
                    "role": role, "capacity": 1, "queue_ids": [queue]}),
        ),
    )
    .await?;
    let login = api(
        http,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"username": name, "password": password})),
    )
    .await?;
    Ok((
        u["id"].as_str().context("user id")?.to_owned(),
        login["token"].as_str().context("token")?.to_owned(),
    ))
}

/// A websocket of one user on one node, recording every frame `(seq, type, data)`.
struct Socket {
    frames: Arc<Mutex<Vec<(i64, String, Value)>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Socket {
    async fn open(base: &str, token: &str, since: Option<i64>) -> anyhow::Result<Socket> {
        let mut url = format!("{}/api/v1/ws?token={token}", base.replacen("http", "ws", 1));
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
        let frames: Arc<Mutex<Vec<(i64, String, Value)>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (f, a) = (frames.clone(), arrived.clone());
        let task = tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                    if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                        let seq = v["seq"].as_i64().unwrap_or(-1);
                        let kind = v["type"].as_str().unwrap_or("").to_owned();
                        f.lock()
                            .expect("frames")
                            .push((seq, kind, v["data"].clone()));
                        a.notify_waiters();
                    }
                }
            }
            let _ = ws.close(None).await;
        });
        let s = Socket {
            frames,
            arrived,
            task,
        };
        s.wait_for(|f| f.iter().any(|(_, k, _)| k == "hello"), "hello")
            .await?;
        Ok(s)
    }

    fn frames(&self) -> Vec<(i64, String, Value)> {
        self.frames.lock().expect("frames").clone()
    }

    /// Waits (bounded) until the frames received satisfy `done`.
    async fn wait_for(
        &self,
        done: impl Fn(&[(i64, String, Value)]) -> bool,
        what: &str,
    ) -> anyhow::Result<()> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.arrived.notified();
            if done(&self.frames()) {
                return Ok(());
            }
            if Instant::now() >= until {
                bail!(
                    "no {what} on the socket; got {:?}",
                    self.frames()
                        .iter()
                        .map(|f| (&f.0, &f.1))
                        .collect::<Vec<_>>()
                );
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }

    /// The `hello`'s sequence number and the numbers of every other frame received.
    fn seqs(&self) -> (i64, Vec<i64>) {
        let frames = self.frames();
        let hello = frames.iter().find(|f| f.1 == "hello").map_or(0, |f| f.0);
        (
            hello,
            frames
                .iter()
                .filter(|f| f.1 != "hello")
                .map(|f| f.0)
                .collect(),
        )
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn customer_webhook(wa_id: &str, wamid: &str) -> Webhook {
    let envelope = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557650000", "phone_number_id": crate::crash::PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": format!("Customer {wa_id}")}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": "1700000000",
                          "type": "text", "text": {"body": "hello"}}]}}]}]});
    Webhook {
        body: serde_json::to_vec(&envelope).expect("json"),
        wamids: vec![wamid.to_owned()],
    }
}

/// from the store: no agent owns more active interactions than their capacity, and no
/// interaction is offered to two agents.
async fn check_capacity(c: &Cluster) -> anyhow::Result<()> {
    use sqlx::Row;
    let mut db = c.db().await?;
    let rows = sqlx::query("SELECT doc FROM interactions")
        .fetch_all(&mut db)
        .await?;
    let mut owned: HashMap<String, usize> = HashMap::new();
    for r in rows {
        let doc: Value = serde_json::from_str(&r.get::<String, _>("doc"))?;
        if doc["state"] == "done" {
            continue;
        }
        for p in doc["participants"].as_array().into_iter().flatten() {
            if p["role"] == "owner" && p["state"] == "active" {
                *owned
                    .entry(p["agent_id"].as_str().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
    }
    let capacities: HashMap<String, i64> = sqlx::query("SELECT id, capacity FROM users")
        .fetch_all(&mut db)
        .await?
        .into_iter()
        .map(|r| (r.get::<String, _>("id"), r.get::<i64, _>("capacity")))
        .collect();
    for (agent, n) in owned {
        let cap = capacities.get(&agent).copied().unwrap_or(0);
        ensure!(
            n as i64 <= cap,
            "agent {agent} owns {n} interactions, capacity {cap}"
        );
    }
    Ok(())
}

/// Three nodes: users made and logged in through different nodes, their sockets on different
/// nodes, webhooks spread over all three; the same offer accepted at once through all three
/// nodes is accepted once; every webhook is stored once; no agent over capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_router() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = three_nodes(&mut c).await;
    c.finish(result).await;
}

async fn three_nodes(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    c.start("n3").await?;
    ensure!(c.router().await?.is_some(), "no router");
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(1)).await?;
    let queue = create_channel(&http, c.base(2), &admin).await?;
    let (a1, t1) = user(&http, c.base(1), &admin, "anna", "agent", &queue).await?;
    let (a2, t2) = user(&http, c.base(2), &admin, "bert", "agent", &queue).await?;
    let s1 = Socket::open(c.base(1), &t1, None).await?;
    let s2 = Socket::open(c.base(2), &t2, None).await?;
    for (i, t) in [(1, &t1), (2, &t2)] {
        let r = http
            .put(format!("{}/api/v1/me/presence", c.base(i)))
            .bearer_auth(t)
            .json(&json!({"presence": "available"}))
            .send()
            .await?;
        ensure!(r.status().is_success(), "presence: {}", r.text().await?);
    }

    // One customer, through the third node: offered to one of the two agents, whose socket
    // (on a node that is not the router) gets the offer relayed.
    let w = customer_webhook("491700000001", &format!("wamid.cl.{}", random_suffix()));
    ensure!(
        post_webhook(&http, c.base(2), &w.body).await == Some(200),
        "webhook refused"
    );
    let offered = |f: &[(i64, String, Value)]| f.iter().any(|(_, k, _)| k == "offer.created");
    let (who, token, socket) = tokio::select! {
        r = s1.wait_for(offered, "offer") => { r?; (a1.clone(), t1.clone(), &s1) }
        r = s2.wait_for(offered, "offer") => { r?; (a2.clone(), t2.clone(), &s2) }
    };
    let frames = socket.frames();
    let interaction = frames
        .iter()
        .find(|f| f.1 == "offer.created")
        .and_then(|f| f.2["interaction_id"].as_str())
        .context("offer without interaction")?
        .to_owned();

    // The same offer accepted through the three nodes at once: once.
    let mut accepts = tokio::task::JoinSet::new();
    for i in 0..3 {
        let (http, url, token) = (
            http.clone(),
            format!("{}/api/v1/interactions/{interaction}/accept", c.base(i)),
            token.clone(),
        );
        accepts.spawn(async move { post(&http, url, &token, json!({})).await });
    }
    let mut statuses = Vec::new();
    while let Some(r) = accepts.join_next().await {
        statuses.push(r??.0);
    }
    statuses.sort_unstable();
    ensure!(
        statuses.iter().filter(|s| **s == 200).count() == 1
            && statuses.iter().filter(|s| **s == 409).count() == 2,
        "accepts of one offer through three nodes answered {statuses:?}"
    );
    eprintln!("offer of {interaction} to {who}: accepts answered {statuses:?}");

    // Webhooks of many customers spread over the three nodes at once.
    let run = random_suffix();
    let webhooks: Vec<Webhook> = (0..30)
        .map(|n| customer_webhook(&format!("4917100{n:05}"), &format!("wamid.cl.{run}.{n}")))
        .collect();
    let mut posts = tokio::task::JoinSet::new();
    for (n, w) in webhooks.iter().enumerate() {
        let (http, base, body) = (http.clone(), c.base(n % 3).to_owned(), w.body.clone());
        posts.spawn(async move { post_webhook(&http, &base, &body).await });
    }
    while let Some(r) = posts.join_next().await {
        let status = r?;
        ensure!(status == Some(200), "a webhook was answered {status:?}");
    }
    // The other agent (free) is offered one of them, on their socket.
    let other = if who == a1 { &s2 } else { &s1 };
    other
        .wait_for(
            |f| f.iter().filter(|(_, k, _)| k == "offer.created").count() >= 1,
            "offer to the free agent",
        )
        .await?;
    let stored = stored_wamids(&http, c.base(0)).await?;
    for w in webhooks.iter().flat_map(|w| &w.wamids) {
        let n = stored.get(w).copied().unwrap_or(0);
        ensure!(n == 1, "{w} stored {n} times");
    }
    check_capacity(c).await?;

    // The cluster as an operator sees it, from any node.
    let nodes = api(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/cluster", c.base(2)),
        Some(&admin),
        None,
    )
    .await?;
    let nodes = nodes["nodes"].as_array().context("nodes")?;
    let ids: Vec<&str> = nodes.iter().filter_map(|n| n["id"].as_str()).collect();
    ensure!(ids == ["n1", "n2", "n3"], "nodes {ids:?}");
    let routers: Vec<&str> = nodes
        .iter()
        .filter(|n| n["router"] == true)
        .filter_map(|n| n["id"].as_str())
        .collect();
    let router = c.router().await?.context("no router")?;
    ensure!(
        routers == [router.as_str()],
        "routers {routers:?}, lease of {router}"
    );
    // A node that is not the router (the one after it: n1 is the router unless a slow machine
    // moved the lease).
    let follower = router[1..].parse::<usize>()? % 3;
    let metrics = http
        .get(format!("{}/metrics", c.base(follower)))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        metrics.contains("switchboard_cluster_router 0")
            && metrics.contains("switchboard_cluster_forwarded_total"),
        "cluster metrics missing on a follower"
    );

    // A node that is not the router dies with bert's socket: the router counts it as lost, and
    // after the grace period bert is offline, as when a socket drops.
    let r = http
        .patch(format!("{}/api/v1/settings", c.base(0)))
        .bearer_auth(&admin)
        .json(&json!({"disconnect_grace_s": 1}))
        .send()
        .await?;
    ensure!(r.status().is_success(), "settings: {}", r.text().await?);
    c.nodes[2].kill();
    drop(s2);
    let killed = Instant::now();
    loop {
        let board = api(
            &http,
            reqwest::Method::GET,
            format!("{}/api/v1/monitor", c.base(0)),
            Some(&admin),
            None,
        )
        .await?;
        let presence = board["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == a2.as_str()))
            .map(|x| x["presence"].clone());
        if presence == Some(json!("offline")) {
            break;
        }
        ensure!(
            killed.elapsed() < Duration::from_secs(15),
            "bert is {presence:?} 15 s after his node died"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "bert offline {} ms after his node died",
        killed.elapsed().as_millis()
    );
    Ok(())
}

/// A node that is not the router keeps its copy of the routing state from the rows relayed
/// with each commit: every change made through it reads back through it at once (read your
/// writes), its copy agrees with the router's, and it never loads the whole state again while
/// the router stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_applies_relayed_commits_and_reads_its_writes() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = follower_reads(&mut c).await;
    c.finish(result).await;
}

async fn follower_reads(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    let http = c.http.clone();
    let router = c.router().await?.context("no router")?;
    let (f, r) = if router == "n1" { (1, 0) } else { (0, 1) };
    let base = c.base(f).to_owned();
    let admin = admin_login(&http, &base).await?;
    let queue = create_channel(&http, &base, &admin).await?;
    let (agent, _) = user(&http, &base, &admin, "carla", "agent", &queue).await?;
    let get = |url: String| api(&http, reqwest::Method::GET, url, Some(&admin), None);
    let replica = get(format!("{base}/api/v1/cluster")).await?["replica"].clone();
    ensure!(
        replica.is_object(),
        "the follower tells no replica: {replica}"
    );
    let loads = replica["loads"].as_u64().context("loads")?;
    let first = replica["commit"].as_u64().context("commit")?;

    for i in 0..20u32 {
        let name = format!("Queue {i}");
        api(
            &http,
            reqwest::Method::PATCH,
            format!("{base}/api/v1/queues/{queue}"),
            Some(&admin),
            Some(json!({ "name": name })),
        )
        .await?;
        let q = get(format!("{base}/api/v1/queues/{queue}")).await?;
        ensure!(
            q["name"] == name.as_str(),
            "renamed to {name}, read back {q}"
        );
        let capacity = 1 + i % 5;
        api(
            &http,
            reqwest::Method::PATCH,
            format!("{base}/api/v1/agents/{agent}"),
            Some(&admin),
            Some(json!({ "capacity": capacity })),
        )
        .await?;
        let a = get(format!("{base}/api/v1/agents/{agent}")).await?;
        ensure!(
            a["capacity"] == capacity,
            "capacity set to {capacity}, read back {a}"
        );
    }

    // The router's own view and the follower's copy agree.
    let mine = get(format!("{base}/api/v1/monitor")).await?;
    let routers = get(format!("{}/api/v1/monitor", c.base(r))).await?;
    for part in ["agents", "queues"] {
        ensure!(
            mine[part] == routers[part],
            "{part} differ:\nfollower {}\nrouter {}",
            mine[part],
            routers[part]
        );
    }
    let replica = get(format!("{base}/api/v1/cluster")).await?["replica"].clone();
    let commit = replica["commit"].as_u64().context("commit")?;
    ensure!(
        commit >= first + 40,
        "40 commits through the follower, its copy went from commit {first} to {commit}"
    );
    ensure!(
        replica["loads"].as_u64() == Some(loads),
        "the follower loaded its copy whole again: {replica} (had {loads} loads)"
    );
    Ok(())
}

/// Who has an interaction open across nodes: an agent viewing through one node and a
/// supervisor through another see each other; when the agent's socket closes, and when the
/// node of a viewer dies, the supervisor is told the viewer left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_different_nodes_see_each_other() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = viewers_across_nodes(&mut c).await;
    c.finish(result).await;
}

/// The ids of the last `interaction.viewers` frame about `interaction` on a socket.
fn last_viewers(frames: &[(i64, String, Value)], interaction: &str) -> Option<Vec<String>> {
    frames
        .iter()
        .rev()
        .find(|f| f.1 == "interaction.viewers" && f.2["interaction_id"] == interaction)
        .map(|f| viewer_ids(&f.2))
}

fn viewer_ids(v: &Value) -> Vec<String> {
    v["viewers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_str().map(str::to_owned))
        .collect()
}

async fn viewers_across_nodes(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(0)).await?;
    let queue = create_channel(&http, c.base(0), &admin).await?;
    let (ann, ann_token) = user(&http, c.base(1), &admin, "ann", "agent", &queue).await?;
    let (sue, sue_token) = user(&http, c.base(0), &admin, "sue", "supervisor", &queue).await?;
    let ann_socket = Socket::open(c.base(1), &ann_token, None).await?;
    let sue_socket = Socket::open(c.base(0), &sue_token, None).await?;
    let r = http
        .put(format!("{}/api/v1/me/presence", c.base(1)))
        .bearer_auth(&ann_token)
        .json(&json!({"presence": "available"}))
        .send()
        .await?;
    ensure!(r.status().is_success(), "presence: {}", r.text().await?);
    let w = customer_webhook("491700000077", &format!("wamid.view.{}", random_suffix()));
    ensure!(
        post_webhook(&http, c.base(0), &w.body).await == Some(200),
        "webhook refused"
    );
    ann_socket
        .wait_for(|f| f.iter().any(|(_, k, _)| k == "offer.created"), "offer")
        .await?;
    let interaction = ann_socket
        .frames()
        .iter()
        .find(|f| f.1 == "offer.created")
        .and_then(|f| f.2["interaction_id"].as_str().map(str::to_owned))
        .context("offer without interaction")?;
    let (status, body) = post(
        &http,
        format!("{}/api/v1/interactions/{interaction}/accept", c.base(1)),
        &ann_token,
        json!({}),
    )
    .await?;
    ensure!(status == 200, "accept: {status} {body}");

    // Ann opens it through n2; Sue, through n1, is told.
    let view = |base: String, token: String| {
        let http = http.clone();
        let url = format!("{base}/api/v1/interactions/{interaction}/viewing");
        async move {
            let r = http.put(url).bearer_auth(token).send().await?;
            ensure!(r.status().is_success(), "viewing: {}", r.status());
            anyhow::Ok(viewer_ids(&r.json::<Value>().await?))
        }
    };
    let seen = view(c.base(1).to_owned(), ann_token.clone()).await?;
    ensure!(seen == [ann.clone()], "ann sees {seen:?}");
    sue_socket
        .wait_for(
            |f| last_viewers(f, &interaction) == Some(vec![ann.clone()]),
            "ann viewing, told to sue",
        )
        .await?;
    // Sue opens it through n1: she sees ann (whose node is another), and is told both.
    let mut both = vec![ann.clone(), sue.clone()];
    both.sort();
    let seen = view(c.base(0).to_owned(), sue_token.clone()).await?;
    ensure!(
        seen == both,
        "sue sees {seen:?} through the other node, not {both:?}"
    );
    sue_socket
        .wait_for(
            |f| last_viewers(f, &interaction) == Some(both.clone()),
            "both viewing",
        )
        .await?;
    // Ann never sees a supervisor who only watches, and was never told she left.
    let told_ann: Vec<Vec<String>> = ann_socket
        .frames()
        .iter()
        .filter(|f| f.1 == "interaction.viewers")
        .map(|f| viewer_ids(&f.2))
        .collect();
    ensure!(
        told_ann
            .iter()
            .all(|v| v.as_slice() == std::slice::from_ref(&ann)),
        "ann was told {told_ann:?}"
    );

    // Ann's desk closes (her only socket, on n2): Sue is told only she is left.
    drop(ann_socket);
    sue_socket
        .wait_for(
            |f| last_viewers(f, &interaction) == Some(vec![sue.clone()]),
            "ann gone, told to sue",
        )
        .await?;

    // Ann opens it again through n2, then n2 dies: the router forgets n2's viewers.
    let ann_socket = Socket::open(c.base(1), &ann_token, None).await?;
    view(c.base(1).to_owned(), ann_token.clone()).await?;
    sue_socket
        .wait_for(
            |f| last_viewers(f, &interaction) == Some(both.clone()),
            "ann back",
        )
        .await?;
    c.nodes[1].kill();
    drop(ann_socket);
    sue_socket
        .wait_for(
            |f| last_viewers(f, &interaction) == Some(vec![sue.clone()]),
            "ann's node dead, told to sue",
        )
        .await?;
    Ok(())
}

/// The login limit holds across nodes: failures spread over two nodes count
/// together, so the sixth try of a user is refused on either node, even with the right
/// password; another user is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_count_on_every_node() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = login_failures(&mut c).await;
    c.finish(result).await;
}

async fn login_failures(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(0)).await?;
    let queue = create_channel(&http, c.base(0), &admin).await?;
    user(&http, c.base(0), &admin, "dora", "agent", &queue).await?;
    user(&http, c.base(0), &admin, "emil", "agent", &queue).await?;
    let login = |i: usize, name: &str, password: &str| {
        let (http, url) = (http.clone(), format!("{}/api/v1/auth/login", c.base(i)));
        let body = json!({"username": name, "password": password});
        async move {
            let r = http.post(url).json(&body).send().await?;
            anyhow::Ok(r.status().as_u16())
        }
    };
    // The default limit: five failures per user and address within five minutes. Four
    // through n1, the fifth through n2.
    for (i, pw) in [(0, "w1"), (0, "w2"), (0, "w3"), (0, "w4"), (1, "w5")] {
        let status = login(i, "dora", pw).await?;
        ensure!(status == 401, "wrong password {pw} answered {status}");
    }
    for i in [1, 0] {
        let status = login(i, "dora", "dora-password-123").await?;
        ensure!(
            status == 429,
            "after five failures over two nodes, node {} answered {status}",
            i + 1
        );
    }
    let status = login(1, "emil", "emil-password-123").await?;
    ensure!(status == 200, "another user answered {status}");
    Ok(())
}

/// SIGKILL of the router in the middle of a webhook burst spread over the three nodes:
/// another node is router within the lease plus one second; every webhook answered 200 is
/// stored once, also after WhatsApp redelivers them all; a supervisor's socket on the killed
/// node reconnects to another node with `since` and, with a socket that stayed on a third
/// node, receives every stored event of its streams once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_router_loses_nothing() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = sigkill(&mut c).await;
    c.finish(result).await;
}

/// The stored event numbers of `streams` above `after`.
async fn stored_seqs(c: &Cluster, streams: &[&str], after: i64) -> anyhow::Result<Vec<i64>> {
    use sqlx::Row;
    let mut db = c.db().await?;
    let rows =
        sqlx::query("SELECT seq FROM events WHERE user_id = ANY($1) AND seq > $2 ORDER BY seq")
            .bind(streams.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .bind(after)
            .fetch_all(&mut db)
            .await?;
    Ok(rows.into_iter().map(|r| r.get::<i64, _>("seq")).collect())
}

async fn sigkill(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    c.start("n3").await?;
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(0)).await?;
    let queue = create_channel(&http, c.base(0), &admin).await?;
    let (sup, sup_token) = user(&http, c.base(1), &admin, "sue", "supervisor", &queue).await?;
    let (watcher, watcher_token) =
        user(&http, c.base(2), &admin, "walt", "supervisor", &queue).await?;
    let moving = Socket::open(c.base(0), &sup_token, None).await?;
    let staying = Socket::open(c.base(2), &watcher_token, None).await?;

    let webhooks = Arc::new(burst(&random_suffix()));
    let bases: Vec<String> = (0..3).map(|i| c.base(i).to_owned()).collect();
    let (mut posts, enough) = fire_burst(&http, &bases, &webhooks, 24, 60);
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .context("the burst never got 60 answers")?;
    // The router (n1, unless a slow machine moved the lease) dies.
    let old = c.router().await?.context("no router")?;
    let dead = old[1..].parse::<usize>()? - 1;
    c.nodes[dead].kill();
    let live: Vec<String> = (0..3)
        .filter(|i| *i != dead)
        .map(|i| c.base(i).to_owned())
        .collect();
    let killed = Instant::now();
    let mut new_router = None;
    while killed.elapsed() < Duration::from_secs(10) {
        if let Some(r) = c.router().await?.filter(|r| *r != old) {
            new_router = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed();
    let new_router = new_router.context("no node took over")?;
    eprintln!(
        "{new_router} is the router {} ms after SIGKILL",
        took.as_millis()
    );
    ensure!(
        took <= Duration::from_millis(LEASE_MS + 1000),
        "take-over after {} ms",
        took.as_millis()
    );

    let mut answered_200 = Vec::new();
    let mut not_answered = 0;
    while let Some(r) = posts.join_next().await {
        match r? {
            Some((i, Some(200))) => answered_200.push(i),
            Some((i, Some(other))) => bail!("webhook {i} was answered {other}"),
            _ => not_answered += 1,
        }
    }
    eprintln!(
        "{} of {WEBHOOKS} webhooks answered 200, {not_answered} not answered (sent to the killed node)",
        answered_200.len()
    );
    let stored = stored_wamids(&http, &live[0]).await?;
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(twice.is_empty(), "stored more than once: {twice:?}");
    for &i in &answered_200 {
        for w in &webhooks[i].wamids {
            ensure!(stored.contains_key(w), "{w} answered 200 but not stored");
        }
    }
    for (i, w) in webhooks.iter().enumerate() {
        let status = post_webhook(&http, &live[i % 2], &w.body).await;
        ensure!(
            status == Some(200),
            "redelivery of webhook {i} answered {status:?}"
        );
    }
    let stored = stored_wamids(&http, &live[1]).await?;
    for w in webhooks.iter().flat_map(|w| &w.wamids) {
        let n = stored.get(w).copied().unwrap_or(0);
        ensure!(n == 1, "{w} stored {n} times after redelivery");
    }
    ensure!(
        stored.len() == WEBHOOKS * PER_WEBHOOK,
        "{} stored",
        stored.len()
    );

    // The socket of the killed node reconnects to another with the last number it saw.
    let (hello, before) = moving.seqs();
    let since = before.last().copied().unwrap_or(hello);
    let moved = Socket::open(&live[0], &sup_token, Some(since)).await?;
    let expected = stored_seqs(c, &[&sup, "*floor"], hello).await?;
    let last = *expected.last().context("no events")?;
    moved
        .wait_for(
            |f| f.iter().any(|x| x.0 >= last && x.1 != "hello"),
            "the last event",
        )
        .await?;
    let (_, after) = moved.seqs();
    let got: Vec<i64> = before
        .iter()
        .chain(after.iter())
        .copied()
        .filter(|s| *s <= last)
        .collect();
    ensure!(
        got == expected,
        "the moved socket got {} events, {} stored (first difference at {:?})",
        got.len(),
        expected.len(),
        got.iter().zip(&expected).position(|(a, b)| a != b)
    );
    // The socket that stayed on a node that was never router missed nothing either (n3's,
    // unless n3 was the router a slow machine moved the lease to).
    if dead != 2 {
        let (hello, _) = staying.seqs();
        let expected = stored_seqs(c, &[&watcher, "*floor"], hello).await?;
        let last = *expected.last().context("no events")?;
        staying
            .wait_for(
                |f| f.iter().any(|x| x.0 >= last && x.1 != "hello"),
                "the last event",
            )
            .await?;
        let (_, got) = staying.seqs();
        let got: Vec<i64> = got.into_iter().filter(|s| *s <= last).collect();
        ensure!(
            got == expected,
            "the staying socket got {} events, {} stored (first difference at {:?})",
            got.len(),
            expected.len(),
            got.iter().zip(&expected).position(|(a, b)| a != b)
        );
    }
    check_capacity(c).await?;
    Ok(())
}

/// A router paused past its lease (SIGSTOP) and resumed (SIGCONT) commits nothing more: the
/// webhook it took while paused is stored once, by the new router, and its own count of
/// commits does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_router_commits_nothing_after_its_lease() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = paused(&mut c).await;
    c.finish(result).await;
}

fn commits(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_commits_total "))
        .and_then(|v| v.trim().parse().ok())
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()?
        .success();
    ensure!(ok, "kill {sig} {pid} failed");
    Ok(())
}

async fn paused(c: &mut Cluster) -> anyhow::Result<()> {
    c.start("n1").await?;
    c.start("n2").await?;
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(0)).await?;
    create_channel(&http, c.base(0), &admin).await?;
    let scrape = |base: String| {
        let http = http.clone();
        async move {
            let text = http
                .get(format!("{base}/metrics"))
                .send()
                .await?
                .text()
                .await?;
            commits(&text).context("no commits metric")
        }
    };
    // The router's count of commits just before its pause (read until it holds still: the
    // board's recount commits every few seconds).
    let mut before = scrape(c.base(0).to_owned()).await?;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again = scrape(c.base(0).to_owned()).await?;
        if again == before {
            break;
        }
        before = again;
    }
    let pid = c.nodes[0].pid();
    signal(pid, "-STOP")?;
    let stopped = Instant::now();
    let result = async {
        while c.router().await?.as_deref() != Some("n2") {
            ensure!(
                stopped.elapsed() < Duration::from_secs(10),
                "n2 never took over"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A webhook to the paused node: it is read when the node resumes.
        let w = customer_webhook("491700000009", &format!("wamid.cl.{}", random_suffix()));
        let (h, base, body) = (http.clone(), c.base(0).to_owned(), w.body.clone());
        let sent = tokio::spawn(async move { post_webhook(&h, &base, &body).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        anyhow::Ok((w, sent))
    }
    .await;
    signal(pid, "-CONT")?;
    let (w, sent) = result?;
    ensure!(
        sent.await? == Some(200),
        "the paused node's webhook was not answered 200"
    );
    let stored = stored_wamids(&http, c.base(1)).await?;
    ensure!(
        stored.get(&w.wamids[0]) == Some(&1),
        "the webhook is not stored once"
    );
    let after = scrape(c.base(0).to_owned()).await?;
    ensure!(
        after == before,
        "the paused router committed {} batches after its lease was gone",
        after - before
    );
    ensure!(
        c.router().await?.as_deref() == Some("n2"),
        "the resumed node took the lease back"
    );
    let log = c.nodes[0].log();
    ensure!(
        log.contains("no longer the router"),
        "the resumed node does not say it lost the lease"
    );
    Ok(())
}

/// An offer timeout and a wrap-up countdown due while the router is gone (killed just before
/// they are due) fire once, on the node that takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_due_during_a_fail_over_fire_once() {
    let Some(env) = env() else { return };
    let mut c = Cluster::new(env).await.expect("cluster");
    let result = timers(&mut c).await;
    c.finish(result).await;
}

async fn timers(c: &mut Cluster) -> anyhow::Result<()> {
    use sqlx::Row;
    c.start("n1").await?;
    c.start("n2").await?;
    let http = c.http.clone();
    let admin = admin_login(&http, c.base(1)).await?;
    let queue = create_channel(&http, c.base(1), &admin).await?;
    let r = http
        .patch(format!("{}/api/v1/queues/{queue}", c.base(1)))
        .bearer_auth(&admin)
        .json(&json!({"acceptance_interval_s": 2, "post_processing_s": 2}))
        .send()
        .await?;
    ensure!(r.status().is_success(), "queue: {}", r.text().await?);
    let (bert, bert_token) = user(&http, c.base(1), &admin, "bert", "agent", &queue).await?;
    let (anna, anna_token) = user(&http, c.base(1), &admin, "anna", "agent", &queue).await?;
    let bert_socket = Socket::open(c.base(1), &bert_token, None).await?;
    let anna_socket = Socket::open(c.base(1), &anna_token, None).await?;
    let available = |token: String| {
        let (http, url) = (http.clone(), format!("{}/api/v1/me/presence", c.base(1)));
        async move {
            let r = http
                .put(url)
                .bearer_auth(token)
                .json(&json!({"presence": "available"}))
                .send()
                .await?;
            ensure!(r.status().is_success(), "presence: {}", r.text().await?);
            anyhow::Ok(())
        }
    };
    let offer_of = |s: &Socket| {
        s.frames()
            .iter()
            .find(|f| f.1 == "offer.created")
            .and_then(|f| f.2["interaction_id"].as_str().map(str::to_owned))
    };

    // Bert takes a customer and ends: his wrap-up counts down 2 s.
    available(bert_token.clone()).await?;
    let w = customer_webhook("491700000101", &format!("wamid.cl.{}", random_suffix()));
    ensure!(
        post_webhook(&http, c.base(1), &w.body).await == Some(200),
        "webhook"
    );
    bert_socket
        .wait_for(
            |f| f.iter().any(|x| x.1 == "offer.created"),
            "offer to bert",
        )
        .await?;
    let first = offer_of(&bert_socket).context("bert's offer")?;
    for action in ["accept", "end"] {
        let (status, body) = post(
            &http,
            format!("{}/api/v1/interactions/{first}/{action}", c.base(1)),
            &bert_token,
            json!({}),
        )
        .await?;
        ensure!(status == 200, "{action}: {status} {body}");
    }
    // Anna is offered the next customer, for 2 s.
    available(anna_token.clone()).await?;
    let w = customer_webhook("491700000102", &format!("wamid.cl.{}", random_suffix()));
    ensure!(
        post_webhook(&http, c.base(1), &w.body).await == Some(200),
        "webhook"
    );
    anna_socket
        .wait_for(
            |f| f.iter().any(|x| x.1 == "offer.created"),
            "offer to anna",
        )
        .await?;
    let second = offer_of(&anna_socket).context("anna's offer")?;

    // The router dies before either is due; n2 takes over and fires both, once.
    c.nodes[0].kill();
    let mut db = c.db().await?;
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let missed: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM report_offers WHERE interaction_id = $1 AND agent_id = $2 \
             AND outcome = 'missed'",
        )
        .bind(&second)
        .bind(&anna)
        .fetch_one(&mut db)
        .await?
        .get("n");
        let wrapped: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM report_legs WHERE interaction_id = $1 AND agent_id = $2 \
             AND wrapped_up_at IS NOT NULL AND by_countdown = 1",
        )
        .bind(&first)
        .bind(&bert)
        .fetch_one(&mut db)
        .await?
        .get("n");
        ensure!(
            missed <= 1 && wrapped <= 1,
            "missed {missed}, wrapped up {wrapped}"
        );
        if missed == 1 && wrapped == 1 {
            break;
        }
        ensure!(
            Instant::now() < until,
            "offer missed {missed} times, wrap-up done {wrapped} times"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Once, also in what anna was told.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let withdrawn: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM events WHERE user_id = $1 AND kind = 'offer.withdrawn' \
         AND data LIKE $2",
    )
    .bind(&anna)
    .bind(format!("%{second}%"))
    .fetch_one(&mut db)
    .await?
    .get("n");
    ensure!(
        withdrawn == 1,
        "anna was told {withdrawn} times that the offer was withdrawn"
    );
    ensure!(
        c.router().await?.as_deref() == Some("n2"),
        "n2 is not the router"
    );
    Ok(())
}
