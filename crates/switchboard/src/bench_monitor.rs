//! `switchboard bench-monitor`: the supervisor's board at floor size (issue "Supervisor desk",
//! performance). An in-process server on a fresh database with Q queues, A agents (each a member
//! of two queues) and W customers waiting (agents start offline, so everyone waits), then:
//!
//! 1. `GET /api/v1/monitor` N times one after the other, beside `GET /healthz` of the same
//!    server in the same run (the baseline);
//! 2. R presence changes per second for S seconds (a supervisor setting agents available and
//!    offline in turn, `PUT /api/v1/agents/{id}/presence`), each timed from the request to the
//!    `monitor.agent` event about that agent on a supervisor's websocket, beside the HTTP answer
//!    of the same request (the baseline: the change is durable when it answers).

use crate::flag;
use anyhow::Context;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::QueueId;
use switchboard_server::InboundMessage;
use tokio_tungstenite::tungstenite::Message;

use crate::bench::{line, num, PASSWORD};

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let queues: usize = num(args, "--queues", 100);
    let agents: usize = num(args, "--agents", 1000);
    let waiting: usize = num(args, "--waiting", 10_000);
    let samples: usize = num(args, "--samples", 200);
    let rate: u64 = num(args, "--rate", 200);
    let seconds: u64 = num(args, "--seconds", 10);
    let database = flag(args, "--database");
    if queues == 0 || agents == 0 || rate == 0 {
        anyhow::bail!("--queues, --agents and --rate must be at least 1");
    }
    let srv = crate::bench::BenchServer::start(database.as_deref(), "bench-monitor").await?;
    let (state, base, backend) = (srv.state.clone(), srv.base.clone(), srv.backend);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let admin = crate::login(&http, &base, "admin", PASSWORD).await?;

    let setup = Instant::now();
    let mut queue_ids = Vec::with_capacity(queues);
    for i in 0..queues {
        let q: Value = http
            .post(format!("{base}/api/v1/queues"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("Queue {i:03}"), "acceptance_interval_s": 600, "sla_response_s": 60}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        queue_ids.push(q["id"].as_str().context("queue id")?.to_owned());
    }
    let mut agent_ids = Vec::with_capacity(agents);
    for i in 0..agents {
        let a: Value = http
            .post(format!("{base}/api/v1/agents"))
            .bearer_auth(&admin)
            .json(&json!({"username": format!("agent{i}"), "password": PASSWORD, "display_name": format!("Agent {i:04}"),
                          "role": "agent", "capacity": 3,
                          "queue_ids": [queue_ids[i % queues], queue_ids[(i + 1) % queues]]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        agent_ids.push(a["id"].as_str().context("agent id")?.to_owned());
    }
    http.post(format!("{base}/api/v1/agents"))
        .bearer_auth(&admin)
        .json(&json!({"username": "sup", "password": PASSWORD, "display_name": "Supervisor", "role": "supervisor"}))
        .send()
        .await?
        .error_for_status()?;
    let sup = crate::login(&http, &base, "sup", PASSWORD).await?;
    let ingest = state.ingest();
    for i in 0..waiting {
        switchboard_server::services::ingest::ingest(
            &ingest,
            InboundMessage {
                summary: None,
                queue_id: QueueId(queue_ids[i % queues].clone()),
                channel_id: Some("bench".into()),
                source_number: None,
                wa_id: format!("49151{i:08}"),
                customer_name: Some(format!("Customer {i}")),
                wa_message_id: None,
                kind: "text".into(),
                text: Some("hello".into()),
                payload: json!({}),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!(
        "switchboard bench-monitor: backend={backend} queues={queues} agents={agents} waiting={waiting} (set up in {:.1} s)",
        setup.elapsed().as_secs_f64()
    );
    println!(
        "  {:<58} {:>7} {:>9} {:>9} {:>9}",
        "what", "count", "p50 ms", "p99 ms", "max ms"
    );

    // 1. The board, beside the trivial endpoint.
    let mut health = Vec::with_capacity(samples);
    let mut board = Vec::with_capacity(samples);
    let mut size = 0;
    for _ in 0..samples {
        let t = Instant::now();
        http.get(format!("{base}/healthz"))
            .send()
            .await?
            .error_for_status()?;
        health.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let body = http
            .get(format!("{base}/api/v1/monitor"))
            .bearer_auth(&sup)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        board.push(t.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
    }
    let (_, h99) = line("baseline: GET /healthz", health);
    let (_, b99) = line(&format!("GET /api/v1/monitor ({} KiB)", size / 1024), board);
    println!(
        "  ratio p99 board : p99 healthz = {:.1}",
        b99 / h99.max(1e-9)
    );

    // 2. Changes -> monitor.agent on a supervisor's socket.
    let ws_url = format!("{}/api/v1/ws?token={sup}", base.replace("http://", "ws://"));
    let (ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .context("websocket")?;
    let (_, mut read) = ws.split();
    let sent: Arc<Mutex<HashMap<(String, String), Instant>>> = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::<f64>::new()));
    let reader = {
        let (sent, seen) = (sent.clone(), seen.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = read.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if v["type"] != "monitor.agent" {
                    continue;
                }
                let key = (
                    v["data"]["id"].as_str().unwrap_or_default().to_owned(),
                    v["data"]["presence"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                let at = sent.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                if let Some(at) = at {
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(at.elapsed().as_secs_f64() * 1000.0);
                }
            }
        })
    };
    let answers = Arc::new(Mutex::new(Vec::<f64>::new()));
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..total as usize {
        tick.tick().await;
        let agent = agent_ids[i % agent_ids.len()].clone();
        // Each agent goes available on its first turn, offline on the next, and so on.
        let presence = if (i / agent_ids.len()) % 2 == 0 {
            "available"
        } else {
            "offline"
        };
        let (http, base, admin, sent, answers) = (
            http.clone(),
            base.clone(),
            admin.clone(),
            sent.clone(),
            answers.clone(),
        );
        tasks.spawn(async move {
            let t = Instant::now();
            sent.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((agent.clone(), presence.to_owned()), t);
            let ok = http
                .put(format!("{base}/api/v1/agents/{agent}/presence"))
                .bearer_auth(&admin)
                .json(&json!({"presence": presence}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                answers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(t.elapsed().as_secs_f64() * 1000.0);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    // The last events arrive after the last answers: wait for them (bounded).
    let wait_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < wait_until && !sent.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    let answers = std::mem::take(&mut *answers.lock().unwrap_or_else(|e| e.into_inner()));
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let missing = sent.lock().unwrap_or_else(|e| e.into_inner()).len();
    println!("  presence changes: {total} at {achieved:.0}/s (aimed at {rate}/s)");
    let (_, a99) = line("baseline: PUT …/presence answered (durable)", answers);
    let (_, e99) = line("change -> monitor.agent on the supervisor's socket", seen);
    println!(
        "  ratio p99 event : p99 answer = {:.2}; events never seen: {missing}",
        e99 / a99.max(1e-9)
    );

    srv.stop().await
}
