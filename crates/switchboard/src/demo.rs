//! `switchboard demo`: a contact center to try at once, on a fresh SQLite database, with demo
//! queues and agents created through the public API, and a simulated WhatsApp (the Cloud API
//! simulator) whose customers write now and then and answer the agents.
//!
//! Before the crowd starts, [`setup`] seeds the built-in CRM through the same API, so a newcomer
//! who logs in as `alice` and goes available is offered, oldest first:
//! - Kerry Fisher: one matching contact (email, custom fields) with three earlier interactions
//!   that `carol` handled (closed cases; the transcript shows the last one and "See older
//!   messages" the others; their words are found by the full-text search);
//! - Ana Souza: a number two contacts share (she and Bruno), so the agent picks one;
//! - Dan Cooper: no contact at all (he wrote while `new_contact_policy` was `prompt`), so the
//!   New contact form is shown, prefilled;
//!
//! and then Priya Nair, whose contact was created from her WhatsApp profile (policy `create`, as
//! for every other customer of the crowd). The simulated account's approved templates are synced,
//! `account_notice` prefilled from the contact's first name.

use crate::{flag, Api};
use anyhow::Context;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchboard_server::{App, Config, SystemClock};
use switchboard_simulator::{
    chatty_customer, ChattyConfig, Customer, Simulator, SimulatorConfig, SimulatorHandle,
    StatusTimings,
};

const ADMIN_PASSWORD: &str = "demo-admin-pass";
const AGENT_PASSWORD: &str = "demo-agent-pass";

const APP_SECRET: &str = "demo-app-secret";

/// How many chatty customers write (see `switchboard_simulator::chatty_customer`).
const CROWD: usize = 6;
/// Crowd members the seed gives a story: Kerry (index 0) has a contact and a history, Ana (1)
/// a number two contacts share, Priya (3) an automatically created contact.
const KERRY: usize = 0;
const ANA: usize = 1;
const PRIYA: usize = 3;
/// A customer outside the crowd (so he never writes again on his own): an Australian number of
/// the range reserved for fiction (0491 570 156).
const DAN: (&str, &str) = ("61491570156", "Dan Cooper");

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
    setup(&base, &sim)
        .await
        .context("cannot create the demo data")?;
    let crowd = sim.start_chatty(ChattyConfig {
        customers: CROWD,
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
        "WhatsApp is simulated at {} (number {}); {CROWD} customers write every few seconds.",
        sim.graph_api_base(),
        switchboard_simulator::DEFAULT_DISPLAY_PHONE_NUMBER
    );
    println!(
        "Log in as alice and choose Available: Kerry (a contact with history), Ana (two contacts \
         share her number) and Dan (no contact yet) are waiting."
    );
    println!("Press Ctrl-C to stop.");
    let result = server.await;
    crowd.stop().await;
    sim.shutdown().await;
    result?
}

async fn setup(base: &str, sim: &SimulatorHandle) -> anyhow::Result<()> {
    let admin = Api::login(base, "admin", ADMIN_PASSWORD).await?;
    let support = admin
        .post(
            "/api/v1/queues",
            json!({"name": "Support", "acceptance_interval_s": 30, "post_processing_s": 60, "sla_response_s": 120,
                   "dispositions": [{"code": "solved", "label": "Solved"}, {"code": "follow_up", "label": "Needs follow-up"}],
                   "disposition_required": true}),
        )
        .await?;
    let sales = admin
        .post(
            "/api/v1/queues",
            json!({"name": "Sales", "routing_policy": "least_busy", "priority": 2,
                   "dispositions": [{"code": "sale", "label": "Sale"}, {"code": "no_sale", "label": "No sale"}]}),
        )
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
        admin
            .post(
                "/api/v1/agents",
                json!({"username": user, "password": AGENT_PASSWORD, "display_name": name, "role": role,
                       "capacity": 3, "can_reject": can_reject, "queue_ids": queues}),
            )
            .await?;
    }
    admin
        .connect_simulator(&s, APP_SECRET, "demo-verify-token")
        .await?;
    seed(&admin, sim).await
}

/// A crowd member as a simulated customer.
fn crowd_member(sim: &SimulatorHandle, i: usize) -> Customer {
    let (wa_id, name) = chatty_customer(i);
    sim.customer(&wa_id, name)
}

/// The customer writes; Switchboard must have stored it.
async fn write(customer: &Customer, text: &str) -> anyhow::Result<()> {
    let sent = customer.send_text(text).await?;
    anyhow::ensure!(
        sent.status == 200,
        "the webhook of {}'s message was answered {}",
        customer.profile_name(),
        sent.status
    );
    Ok(())
}

/// The CRM's demo data (see the module's documentation).
async fn seed(admin: &Api, sim: &SimulatorHandle) -> anyhow::Result<()> {
    let kerry = crowd_member(sim, KERRY);
    let ana = crowd_member(sim, ANA);
    let priya = crowd_member(sim, PRIYA);
    let dan = sim.customer(DAN.0, DAN.1);

    // Contacts: Kerry's record, and two contacts on the number Ana and Bruno share.
    admin
        .post(
            "/api/v1/contacts",
            json!({"name": "Kerry Fisher", "first_name": "Kerry", "last_name": "Fisher",
                   "email": "kerry.fisher@example.com", "phones": [format!("+{}", kerry.wa_id())],
                   "fields": {"customer_since": "2019", "tier": "Gold"}}),
        )
        .await?;
    for (name, email) in [
        ("Ana Souza", "ana.souza@example.com"),
        ("Bruno Souza", "bruno.souza@example.com"),
    ] {
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        admin
            .post(
                "/api/v1/contacts",
                json!({"name": name, "first_name": first, "last_name": last, "email": email,
                       "phones": [format!("+{}", ana.wa_id())], "fields": {"household": "Souza"}}),
            )
            .await?;
    }
    // The template dialog prefills `account_notice`'s first name from the contact.
    let templates = admin
        .call("GET", "/api/v1/templates?q=account_notice", None)
        .await?;
    if let Some(id) = templates
        .as_array()
        .and_then(|list| list.first())
        .and_then(|t| t["id"].as_str())
    {
        admin
            .call(
                "PATCH",
                &format!("/api/v1/templates/{id}"),
                Some(json!({"variable_map": {"body.first_name": "contact.first_name"}})),
            )
            .await?;
    }

    // Standard responses for the `/` picker and the Responses panel.
    for (title, category, shortcut, text) in [
        (
            "Greeting",
            "Opening",
            "hi",
            "Hello {{contact.first_name}}, this is {{agent.first_name}} from {{queue.name}}. How can I help you?",
        ),
        (
            "Order status",
            "Orders",
            "order",
            "Let me check that for you, {{contact.first_name}}. Could you give me your order number?",
        ),
        (
            "Opening hours",
            "Info",
            "hours",
            "We are here Monday to Friday, 8:00 to 18:00.",
        ),
        (
            "Goodbye",
            "Closing",
            "bye",
            "Thank you for writing to us, {{contact.first_name}}. Have a good day!",
        ),
    ] {
        admin
            .post(
                "/api/v1/responses",
                json!({"title": title, "category": category, "shortcut": shortcut, "text": text}),
            )
            .await?;
    }

    // Kerry's history: three interactions Carol handled, each now a closed case.
    let carol = Api::login(&admin.base, "carol", AGENT_PASSWORD).await?;
    carol.presence("available").await?;
    let episodes: [(&str, &str, &str, Option<&str>, &str); 3] = [
        (
            "Hi, I ordered the blue jacket last week (order 4471). When will it ship?",
            "Hi Kerry! Order 4471 left our warehouse this morning, it should be with you by Friday.",
            "Great, thanks!",
            None,
            "solved",
        ),
        (
            "The jacket of order 4471 arrived but it is too small. Can I exchange it for a size L?",
            "Of course. I sent you a free return label by email; the size L goes out as soon as your parcel is back.",
            "Perfect, thank you 🙏",
            Some("Exchange S for L approved, return label RL-2231 sent."),
            "follow_up",
        ),
        (
            "I posted the return parcel today, tracking number RL-2231.",
            "Thank you! The size L jacket ships as soon as the parcel is scanned in.",
            "Ok, I'll wait for it.",
            None,
            "solved",
        ),
    ];
    for (question, answer, thanks, note, disposition) in episodes {
        write(&kerry, question).await?;
        let id = offer_of(&carol).await?;
        carol.act(&id, "accept", json!({})).await?;
        carol.act(&id, "messages", json!({"text": answer})).await?;
        write(&kerry, thanks).await?;
        if let Some(note) = note {
            carol.act(&id, "notes", json!({"text": note})).await?;
        }
        carol.act(&id, "end", json!({})).await?;
        carol
            .act(&id, "wrap-up", json!({"disposition_code": disposition}))
            .await?;
    }
    carol.presence("offline").await?;

    // Waiting for the newcomer, oldest first.
    write(
        &kerry,
        "Hi again! The size L jacket still hasn't arrived, can you check order 4471?",
    )
    .await?;
    write(
        &ana,
        "Hi, Ana here. Bruno and I share this number: where is our order 5820?",
    )
    .await?;
    // Dan writes while new contacts are left to the agent (the New contact form), then the
    // default comes back for everyone else.
    admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"new_contact_policy": "prompt"})),
        )
        .await?;
    write(&dan, "G'day, I'm new here. Do you ship to Australia?").await?;
    admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"new_contact_policy": "create"})),
        )
        .await?;
    write(&priya, "Hello! Is the blue jacket back in stock in size M?").await?;
    Ok(())
}

/// The interaction offered to `agent` (the only available one): the offer is made in the commit
/// that stored the customer's message, which the webhook's answer followed.
async fn offer_of(agent: &Api) -> anyhow::Result<String> {
    let list = agent.call("GET", "/api/v1/interactions", None).await?;
    list.as_array()
        .into_iter()
        .flatten()
        .find(|i| i["state"] == "offered")
        .and_then(|i| i["id"].as_str())
        .map(str::to_owned)
        .context("the customer's message was not offered to the seeding agent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_server::services::contacts::normalize_phone;

    /// Every number the demo's customers write from is one the CRM can place: it normalizes to
    /// E.164 with the same digits, so screen pop, contacts and search hits work for each.
    #[test]
    fn every_demo_number_normalizes() {
        // Each country's number in the first two rounds of the crowd, in the last ones (the
        // crowd stops at 10,000) and now and then between (parsing is slow in debug builds).
        let mut numbers: Vec<String> = (0..24)
            .chain((0..10_000).step_by(499))
            .chain(10_000 - 24..10_000)
            .map(|i| chatty_customer(i).0)
            .collect();
        numbers.push(DAN.0.to_owned());
        for wa_id in &numbers {
            let e164 = normalize_phone(wa_id)
                .unwrap_or_else(|e| panic!("{wa_id} is not a valid number: {e:?}"));
            assert_eq!(e164, format!("+{wa_id}"));
        }
        let all: std::collections::HashSet<String> =
            (0..10_000).map(|i| chatty_customer(i).0).collect();
        assert_eq!(
            all.len(),
            10_000,
            "every customer has a number of their own"
        );
        let countries: std::collections::HashSet<String> = (0..CROWD)
            .map(|i| chatty_customer(i).0[..2].to_owned())
            .collect();
        assert!(
            countries.len() >= 4,
            "the crowd writes from several countries"
        );
    }
}
