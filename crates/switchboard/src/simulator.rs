//! `switchboard simulator`: a fake WhatsApp Cloud API with simulated customers, for trying
//! Switchboard (or anything that speaks the Cloud API) without Meta. Point a channel's
//! `whatsapp.graph_api_base` at the printed base URL and give the simulator the webhook URL and
//! app secret of that channel.

use crate::flag;
use anyhow::Context;
use switchboard_simulator::{run_standalone_until, StandaloneConfig};

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let webhook = flag(args, "--webhook")
        .context("--webhook URL is required (e.g. http://127.0.0.1:8080/webhooks/whatsapp)")?;
    let secret = flag(args, "--app-secret").context("--app-secret SECRET is required")?;
    let listen = flag(args, "--listen").unwrap_or_else(|| "127.0.0.1:8090".into());
    let listen = listen
        .parse()
        .with_context(|| format!("--listen {listen} is not an address like 127.0.0.1:8090"))?;
    let mut config = StandaloneConfig::new(webhook, secret, listen);
    if let Some(n) = flag(args, "--customers") {
        let n: usize = n.parse().context("--customers must be a number")?;
        match config.chatty.as_mut() {
            Some(c) if n > 0 => c.customers = n,
            _ => config.chatty = None,
        }
    }
    run_standalone_until(config, crate::shutdown_signal()).await
}
