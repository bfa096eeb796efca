//! `switchboard demo`: a contact center to try at once, on a fresh SQLite database, with demo
//! queues and agents created through the public API and customers who write now and then.

use crate::flag;
use anyhow::Context;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_server::{App, Config, InboundMessage, SystemClock};

const ADMIN_PASSWORD: &str = "demo-admin-pass";
const AGENT_PASSWORD: &str = "demo-agent-pass";

const CUSTOMERS: [(&str, &str); 6] = [
    ("4915112345678", "Maria Schmidt"),
    ("447700900123", "James Taylor"),
    ("5511987654321", "Ana Souza"),
    ("919876543210", "Priya Sharma"),
    ("14155550123", "Chris Miller"),
    ("33612345678", "Camille Martin"),
];

const LINES: [&str; 8] = [
    "Hi, I can't log in to my account",
    "Where is my order? It was due yesterday",
    "Can I change the delivery address?",
    "The app keeps crashing when I pay",
    "Do you ship to Portugal?",
    "I was charged twice this month",
    "Thanks! One more question…",
    "Is anyone there? 🙂",
];

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    std::fs::create_dir_all("data").context("cannot create ./data")?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("data/demo.db{suffix}"));
    }
    let env = vec![
        ("SWITCHBOARD_SERVER__LISTEN".to_owned(), listen.clone()),
        (
            "SWITCHBOARD_DATABASE__URL".to_owned(),
            "sqlite://data/demo.db".to_owned(),
        ),
    ];
    let config = Config::from_toml_and_env("", env)?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (use --listen ADDR)"))?;
    let app = App::build(config, Arc::new(SystemClock), Some(ADMIN_PASSWORD.into())).await?;
    let state = app.state().clone();
    let server = tokio::spawn(app.run(listener, crate::shutdown_signal()));
    let base = format!("http://{listen}");
    let queues = setup(&base).await.context("cannot create the demo data")?;
    println!();
    println!("Switchboard demo is running at {base}");
    println!("  admin:  admin / {ADMIN_PASSWORD}");
    println!(
        "  agents: alice, bob, carol / {AGENT_PASSWORD}   (supervisor: sam / {AGENT_PASSWORD})"
    );
    println!(
        "  try:    curl -s -X POST {base}/api/v1/auth/login -H 'content-type: application/json' \\"
    );
    println!("            -d '{{\"username\":\"alice\",\"password\":\"{AGENT_PASSWORD}\"}}'");
    println!("  API:    {base}/api/v1/openapi.json   metrics: {base}/metrics");
    println!("Customers write every few seconds. Press Ctrl-C to stop.");
    let customers = tokio::spawn(async move {
        let mut i: usize = 0;
        loop {
            let (wa_id, name) = CUSTOMERS[i % CUSTOMERS.len()];
            let line = LINES[(i * 7 + i / 3) % LINES.len()];
            let queue = &queues[i % queues.len()];
            let msg = InboundMessage {
                summary: None,
                queue_id: switchboard_domain::QueueId(queue.clone()),
                channel_id: Some("demo".into()),
                source_number: Some("+1 555 0100".into()),
                wa_id: wa_id.into(),
                customer_name: Some(name.into()),
                wa_message_id: Some(format!("wamid.demo.{}.{i}", std::process::id())),
                kind: "text".into(),
                text: Some(line.into()),
                payload: json!({"text": {"body": line}}),
            };
            if let Err(e) = switchboard_server::app::ingest(&state, msg).await {
                tracing::warn!(error = %e, "demo customer message refused");
            }
            i += 1;
            let pause = 4 + (i * 5) % 9;
            tokio::time::sleep(Duration::from_secs(pause as u64)).await;
        }
    });
    let result = server.await;
    customers.abort();
    result?
}

async fn setup(base: &str) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_owned();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let support: Value = post(
        "/api/v1/queues",
        json!({"name": "Support", "acceptance_interval_s": 30, "post_processing_s": 60, "sla_response_s": 120,
               "dispositions": [{"code": "solved", "label": "Solved"}, {"code": "follow_up", "label": "Needs follow-up"}],
               "disposition_required": true}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let sales: Value = post(
        "/api/v1/queues",
        json!({"name": "Sales", "routing_policy": "least_busy", "priority": 2,
               "dispositions": [{"code": "sale", "label": "Sale"}, {"code": "no_sale", "label": "No sale"}]}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let (s, l) = (
        support["id"].as_str().unwrap_or_default().to_owned(),
        sales["id"].as_str().unwrap_or_default().to_owned(),
    );
    for (user, name, role, can_reject, queues) in [
        (
            "alice",
            "Alice Agent",
            "agent",
            true,
            vec![s.clone(), l.clone()],
        ),
        ("bob", "Bob Agent", "agent", false, vec![s.clone()]),
        ("carol", "Carol Agent", "agent", true, vec![l.clone()]),
        (
            "sam",
            "Sam Supervisor",
            "supervisor",
            true,
            vec![s.clone(), l.clone()],
        ),
    ] {
        post(
            "/api/v1/agents",
            json!({"username": user, "password": AGENT_PASSWORD, "display_name": name, "role": role,
                   "capacity": 3, "can_reject": can_reject, "queue_ids": queues}),
        )
        .await?
        .error_for_status()?;
    }
    Ok(vec![s, l])
}
