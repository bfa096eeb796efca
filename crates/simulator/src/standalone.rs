//! The simulator on its own (`switchboard simulator …`): the fake Cloud API plus chatty customers,
//! telling on standard output what it does, until stopped.

use std::future::Future;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::{ChattyConfig, SimEvent, Simulator, SimulatorConfig};

/// What [`run_standalone`] starts.
#[derive(Clone, Debug)]
pub struct StandaloneConfig {
    /// The fake Cloud API.
    pub simulator: SimulatorConfig,
    /// The chatty crowd (`None`: no customers write by themselves).
    pub chatty: Option<ChattyConfig>,
}

impl StandaloneConfig {
    /// The simulator listening on `listen`, delivering to `webhook_url` signed with `app_secret`,
    /// with the default chatty crowd.
    pub fn new(
        webhook_url: impl Into<String>,
        app_secret: impl Into<String>,
        listen: std::net::SocketAddr,
    ) -> Self {
        let mut simulator = SimulatorConfig::new(webhook_url, app_secret);
        simulator.listen = listen;
        Self {
            simulator,
            chatty: Some(ChattyConfig::default()),
        }
    }
}

/// Runs the simulator and chatty customers until Ctrl-C.
pub async fn run_standalone(config: StandaloneConfig) -> anyhow::Result<()> {
    run_standalone_until(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

fn summary(body: &Value) -> String {
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text");
    let detail = match kind {
        "text" => body
            .pointer("/text/body")
            .and_then(Value::as_str)
            .map(str::to_owned),
        "template" => body
            .pointer("/template/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        "reaction" => body
            .pointer("/reaction/emoji")
            .and_then(Value::as_str)
            .map(str::to_owned),
        other => body
            .pointer(&format!("/{other}/caption"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    match detail {
        Some(detail) => {
            let short: String = detail.chars().take(60).collect();
            format!("{kind} \"{short}\"")
        }
        None => kind.to_owned(),
    }
}

fn describe(event: &SimEvent) -> String {
    let answered =
        |status: &Option<u16>| status.map_or_else(|| "unreachable".to_owned(), |s| s.to_string());
    match event {
        SimEvent::SendAccepted {
            to, wamid, body, ..
        } => {
            format!("send to {to}: {} accepted as {wamid}", summary(body))
        }
        SimEvent::SendRefused {
            to, code, message, ..
        } => format!(
            "send to {}: refused with {code} ({message})",
            to.as_deref().unwrap_or("?")
        ),
        SimEvent::MarkedRead { message_id, .. } => format!("marked read: {message_id}"),
        SimEvent::MediaUploaded {
            id,
            mime_type,
            file_size,
        } => format!("media uploaded: {id} ({mime_type}, {file_size} bytes)"),
        SimEvent::CustomerMessage {
            wa_id,
            message_type,
            http_status,
            ..
        } => format!(
            "customer {wa_id} sent a {message_type} message; Switchboard answered {}",
            answered(http_status)
        ),
        SimEvent::StatusDelivered {
            wamid,
            status,
            http_status,
        } => format!(
            "status {status} of {wamid}; Switchboard answered {}",
            answered(http_status)
        ),
    }
}

/// Runs the simulator and chatty customers until `shutdown` resolves.
pub async fn run_standalone_until(
    config: StandaloneConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let sim = Simulator::start(config.simulator).await?;
    println!("WhatsApp Cloud API simulator");
    println!("  graph API base:  {}", sim.graph_api_base());
    println!("  business account: {}", sim.config().waba_id);
    for number in &sim.config().numbers {
        println!(
            "  number:          {} (phone number id {}, access token {})",
            number.display_phone_number, number.phone_number_id, number.access_token
        );
    }
    println!("  webhooks to:     {}", sim.config().webhook_url);
    let mut events = sim.events();
    let chatty = config.chatty.map(|chatty| {
        println!(
            "  chatty customers: {} writing every {:?}–{:?}",
            chatty.customers, chatty.min_interval, chatty.max_interval
        );
        sim.start_chatty(chatty)
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            event = events.recv() => match event {
                Ok(event) => println!("{}", describe(&event)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    println!("({missed} events not shown)");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    if let Some(chatty) = chatty {
        let posted = chatty.stop().await;
        println!("chatty customers stopped after {posted} messages");
    }
    sim.shutdown().await;
    Ok(())
}
