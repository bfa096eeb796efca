//! `switchboard demo`: a contact center to try at once, on a fresh SQLite database, with demo
//! queues and agents created through the public API, and a simulated WhatsApp (the Cloud API
//! simulator) whose customers write now and then and answer the agents.

use crate::flag;
use anyhow::Context;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_server::{App, Config, SystemClock};
use switchboard_simulator::{ChattyConfig, Simulator, SimulatorConfig, StatusTimings};

const ADMIN_PASSWORD: &str = "demo-admin-pass";
const AGENT_PASSWORD: &str = "demo-agent-pass";

const APP_SECRET: &str = "demo-app-secret";

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    std::fs::create_dir_all("data").context("cannot create ./data")?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("data/demo.db{suffix}"));
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (use --listen ADDR)"))?;
    let base = format!("http://{}", listener.local_addr()?);
    // The simulated WhatsApp: a fake Cloud API that posts signed webhooks to this server.
    let mut sim_config = SimulatorConfig::new(format!("{base}/webhooks/whatsapp"), APP_SECRET);
    sim_config.statuses = StatusTimings {
        sent: Duration::from_millis(300),
        delivered: Some(Duration::from_millis(900)),
        read: Some(Duration::from_secs(3)),
    };
    let sim = Simulator::start(sim_config).await?;
    let env = vec![
        ("SWITCHBOARD_SERVER__LISTEN".to_owned(), listen.clone()),
        (
            "SWITCHBOARD_DATABASE__URL".to_owned(),
            "sqlite://data/demo.db".to_owned(),
        ),
        (
            "SWITCHBOARD_WHATSAPP__GRAPH_API_BASE".to_owned(),
            sim.graph_api_base(),
        ),
    ];
    let config = Config::from_toml_and_env("", env)?;
    let app = App::build(config, Arc::new(SystemClock), Some(ADMIN_PASSWORD.into())).await?;
    let server = tokio::spawn(app.run(listener, crate::shutdown_signal()));
    setup(&base).await.context("cannot create the demo data")?;
    let crowd = sim.start_chatty(ChattyConfig {
        customers: 6,
        min_interval: Duration::from_secs(4),
        max_interval: Duration::from_secs(15),
        max_messages: None,
        reply_probability: 0.6,
        ..ChattyConfig::default()
    });
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
    println!(
        "WhatsApp is simulated at {} (number {}); six customers write every few seconds.",
        sim.graph_api_base(),
        switchboard_simulator::DEFAULT_DISPLAY_PHONE_NUMBER
    );
    println!("Press Ctrl-C to stop.");
    let result = server.await;
    crowd.stop().await;
    sim.shutdown().await;
    result?
}

async fn setup(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let token = crate::login(&http, base, "admin", ADMIN_PASSWORD).await?;
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
        (
            "carol",
            "Carol Agent",
            "agent",
            true,
            vec![s.clone(), l.clone()],
        ),
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
    post(
        "/api/v1/channels",
        json!({"kind": "whatsapp", "phone_number_id": switchboard_simulator::DEFAULT_PHONE_NUMBER_ID,
               "display_phone_number": switchboard_simulator::DEFAULT_DISPLAY_PHONE_NUMBER,
               "access_token": switchboard_simulator::DEFAULT_ACCESS_TOKEN, "app_secret": APP_SECRET,
               "verify_token": "demo-verify-token", "queue_id": s, "waba_id": switchboard_simulator::DEFAULT_WABA_ID}),
    )
    .await?
    .error_for_status()?;
    // The simulated business account's message templates, so agents can send them at once.
    post("/api/v1/templates/sync", json!({}))
        .await?
        .error_for_status()?;
    Ok(())
}
