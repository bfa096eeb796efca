//! "Chatty customers" for the demo: a bounded, stoppable crowd writing at random intervals and now
//! and then answering what agents send them (tapping the buttons they were offered, quoting,
//! reacting).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::customer::{ContactCard, Customer};
use crate::state::SimEvent;
use crate::templates::TemplateButton;
use crate::SimulatorHandle;

/// A 1×1 PNG: the smallest valid image, for tests (customers send [`crate::photo_png`]).
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The crowd: a name and a WhatsApp id (the number's digits) in the name's country. The numbers
/// are the example mobile numbers of each country's numbering plan (as the phone libraries list
/// them), so a CRM places and normalizes them like any real customer's, yet they are nobody's.
const CROWD: &[(&str, &str)] = &[
    ("Kerry Fisher", "447400123456"), // United Kingdom
    ("Ana Souza", "5511961234567"),   // Brazil
    ("Jonas Weber", "4915123456789"), // Germany
    ("Priya Nair", "918123456789"),   // India
    ("Tom O'Brien", "353850123456"),  // Ireland
    ("Mei Lin", "6581234567"),        // Singapore
    ("Lucas Martin", "33612345678"),  // France
    ("Fatima Zahra", "212650123456"), // Morocco
    ("Oskar Nilsson", "46701234567"), // Sweden
    ("Grace Mensah", "233231234567"), // Ghana
    ("Diego Ramírez", "34612345678"), // Spain
    ("Yuki Tanaka", "819012345678"),  // Japan
];

/// Customer `i` of a chatty crowd: their WhatsApp id (a valid mobile number's digits, see
/// [`CROWD`]) and profile name. The first twelve are the example numbers themselves; later
/// rounds count the last four digits up, so up to 10,000 customers all differ.
pub fn chatty_customer(i: usize) -> (String, &'static str) {
    let (name, number) = CROWD[i % CROWD.len()];
    let round = i / CROWD.len();
    let (head, tail) = number.split_at(number.len() - 4);
    let tail: usize = tail.parse().unwrap_or(0);
    (format!("{head}{:04}", (tail + round) % 10_000), name)
}

const OPENERS: &[&str] = &[
    "Hi! Where is my order?",
    "Hello, I need to change my delivery address.",
    "Does it come in another color?",
    "My parcel arrived damaged 😕",
    "Can I get a refund for order 4471?",
    "Good morning, is the shop open on Sunday?",
    "I was charged twice this month.",
    "How do I reset my password?",
    "Is the blue jacket back in stock?",
    "Can someone call me back please?",
];

const FOLLOW_UPS: &[&str] = &[
    "Thanks!",
    "Great, thank you 🙏",
    "Ok, and how long will that take?",
    "Sorry, one more question.",
    "That works for me.",
    "Hmm, that's not what I asked.",
    "Perfect 👍",
    "Can you check again please?",
];

/// How the chatty crowd behaves.
#[derive(Clone, Debug)]
pub struct ChattyConfig {
    /// How many customers (see [`chatty_customer`]).
    pub customers: usize,
    /// Shortest pause between two spontaneous messages (of the whole crowd).
    pub min_interval: Duration,
    /// Longest such pause.
    pub max_interval: Duration,
    /// Stop by itself after this many messages (`None`: until stopped).
    pub max_messages: Option<u64>,
    /// Chance (0–1) that a customer answers a message an agent sent them.
    pub reply_probability: f64,
    /// Shortest delay before such an answer.
    pub min_reply_delay: Duration,
    /// Longest delay before such an answer.
    pub max_reply_delay: Duration,
    /// The business number written to (default: the first configured).
    pub phone_number_id: Option<String>,
}

impl Default for ChattyConfig {
    fn default() -> Self {
        Self {
            customers: 5,
            min_interval: Duration::from_secs(3),
            max_interval: Duration::from_secs(12),
            max_messages: Some(500),
            reply_probability: 0.5,
            min_reply_delay: Duration::from_secs(1),
            max_reply_delay: Duration::from_secs(5),
            phone_number_id: None,
        }
    }
}

/// A running chatty crowd.
#[derive(Debug)]
pub struct ChattyHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    sent: Arc<AtomicU64>,
    customers: Vec<Customer>,
}

impl ChattyHandle {
    /// Messages posted so far.
    pub fn messages_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// The customers of the crowd.
    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    /// Whether the crowd has stopped (by itself at `max_messages`, or stopped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the crowd and waits for it; returns how many messages it posted.
    pub async fn stop(mut self) -> u64 {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for ChattyHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Action {
    Spontaneous,
    Answer(usize, Value, String),
}

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn random_between(rng: &mut StdRng, min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    let span = (max - min).as_millis();
    let span = u64::try_from(span).unwrap_or(u64::MAX);
    min + Duration::from_millis(rng.random_range(0..=span))
}

pub(crate) fn start(sim: &SimulatorHandle, config: ChattyConfig) -> ChattyHandle {
    let number = config
        .phone_number_id
        .clone()
        .or_else(|| {
            sim.config()
                .primary_number()
                .map(|n| n.phone_number_id.clone())
        })
        .unwrap_or_default();
    let customers: Vec<Customer> = (0..config.customers.min(10_000))
        .filter_map(|i| {
            let (wa_id, name) = chatty_customer(i);
            sim.customer_on(&number, &wa_id, name).ok()
        })
        .collect();
    let (stop, stopped) = watch::channel(false);
    let sent = Arc::new(AtomicU64::new(0));
    let events = sim.events();
    let templates = sim.templates();
    let simulator_stopped = sim.shared().stopped();
    let crowd = run(
        config,
        customers.clone(),
        templates,
        events,
        stopped,
        Arc::clone(&sent),
    );
    let task = tokio::spawn(async move {
        tokio::select! {
            () = crowd => {}
            () = simulator_stopped => {}
        }
    });
    ChattyHandle {
        stop,
        task,
        sent,
        customers,
    }
}

async fn run(
    config: ChattyConfig,
    customers: Vec<Customer>,
    templates: Vec<crate::Template>,
    mut events: broadcast::Receiver<SimEvent>,
    mut stopped: watch::Receiver<bool>,
    sent: Arc<AtomicU64>,
) {
    if customers.is_empty() {
        return;
    }
    let mut rng = StdRng::from_os_rng();
    let mut next_spontaneous = Instant::now() + config.min_interval;
    let mut answers: Vec<(Instant, Action)> = Vec::new();
    loop {
        if config
            .max_messages
            .is_some_and(|max| sent.load(Ordering::SeqCst) >= max)
        {
            return;
        }
        let (due_index, due_at) = answers
            .iter()
            .enumerate()
            .min_by_key(|(_, (at, _))| *at)
            .map_or((None, next_spontaneous), |(i, (at, _))| {
                if *at < next_spontaneous {
                    (Some(i), *at)
                } else {
                    (None, next_spontaneous)
                }
            });
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep_until(due_at) => {
                let action = match due_index {
                    Some(i) => answers.swap_remove(i).1,
                    None => {
                        next_spontaneous = Instant::now()
                            + random_between(&mut rng, config.min_interval, config.max_interval);
                        Action::Spontaneous
                    }
                };
                let posted = match action {
                    Action::Spontaneous => {
                        let customer = &customers[rng.random_range(0..customers.len())];
                        spontaneous(&mut rng, customer).await
                    }
                    Action::Answer(i, body, wamid) => {
                        answer(&mut rng, &customers[i], &templates, &body, &wamid).await
                    }
                };
                match posted {
                    Ok(()) => { sent.fetch_add(1, Ordering::SeqCst); }
                    Err(error) => tracing::warn!(%error, "chatty customer could not post"),
                }
            }
            event = events.recv() => match event {
                Ok(SimEvent::SendAccepted { to, wamid, body, .. }) => {
                    let to: String = to.chars().filter(char::is_ascii_digit).collect();
                    let answerable = body.get("type").and_then(Value::as_str) != Some("reaction");
                    if let Some(i) = customers.iter().position(|c| c.wa_id() == to) {
                        if answerable && rng.random_bool(config.reply_probability.clamp(0.0, 1.0)) {
                            let at = Instant::now()
                                + random_between(&mut rng, config.min_reply_delay, config.max_reply_delay);
                            answers.push((at, Action::Answer(i, body, wamid)));
                        }
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

async fn spontaneous(rng: &mut StdRng, customer: &Customer) -> Result<(), crate::SimError> {
    let roll: u8 = rng.random_range(0..100);
    let last_received = customer
        .received()
        .last()
        .and_then(|s| s.wamid().map(str::to_owned));
    match (roll, last_received) {
        (0..=79, _) => customer.send_text(pick(rng, OPENERS)).await.map(drop),
        (80..=87, _) => customer
            .send_image(
                crate::photo_png(rng.random()),
                "image/png",
                Some("Here is a photo"),
            )
            .await
            .map(drop),
        (88..=93, _) => customer
            .send_location(
                52.52,
                13.405,
                Some("Home"),
                Some("Alexanderplatz 1, Berlin"),
            )
            .await
            .map(drop),
        (94..=96, _) => customer
            .send_contacts(&[ContactCard::new("Sam Keller", "+1 201 555 0123")])
            .await
            .map(drop),
        (_, Some(wamid)) => customer.react(&wamid, "👍").await.map(drop),
        (_, None) => customer.send_text(pick(rng, FOLLOW_UPS)).await.map(drop),
    }
}

async fn answer(
    rng: &mut StdRng,
    customer: &Customer,
    templates: &[crate::Template],
    body: &Value,
    wamid: &str,
) -> Result<(), crate::SimError> {
    // Interactive reply buttons: tap one.
    if let Some(buttons) = body
        .pointer("/interactive/action/buttons")
        .and_then(Value::as_array)
        .filter(|b| !b.is_empty())
    {
        let button = &buttons[rng.random_range(0..buttons.len())];
        let id = button
            .pointer("/reply/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let title = button
            .pointer("/reply/title")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return customer.tap_button(wamid, id, title).await.map(drop);
    }
    // A template with quick replies: tap one (payload as sent, else the label).
    if let Some(name) = body.pointer("/template/name").and_then(Value::as_str) {
        let quick: Vec<(usize, &str)> = templates
            .iter()
            .find(|t| t.name == name)
            .map(|t| {
                t.buttons()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| match b {
                        TemplateButton::QuickReply { text } => Some((i, text.as_str())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !quick.is_empty() {
            let (index, text) = quick[rng.random_range(0..quick.len())];
            let payload = body
                .pointer("/template/components")
                .and_then(Value::as_array)
                .and_then(|components| {
                    components.iter().find(|c| {
                        c.get("sub_type").and_then(Value::as_str) == Some("quick_reply")
                            && (c.get("index").and_then(Value::as_str) == Some(&index.to_string())
                                || c.get("index").and_then(Value::as_u64)
                                    == u64::try_from(index).ok())
                    })
                })
                .and_then(|c| c.pointer("/parameters/0/payload"))
                .and_then(Value::as_str)
                .unwrap_or(text);
            return customer
                .tap_template_button(wamid, payload, text)
                .await
                .map(drop);
        }
    }
    let roll: u8 = rng.random_range(0..100);
    match roll {
        0..=49 => customer.send_text(pick(rng, FOLLOW_UPS)).await.map(drop),
        50..=79 => customer
            .reply_to(wamid, pick(rng, FOLLOW_UPS))
            .await
            .map(drop),
        _ => customer.react(wamid, "👍").await.map(drop),
    }
}
