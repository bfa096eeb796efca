//! `switchboard bench-history`: the CRM's reads on a large store (issue target: with 1,000,000
//! messages over 100,000 conversations, a page of "see older messages" and a screen-pop lookup
//! each under 2 ms at p99, a full-text search under 50 ms at p99).
//!
//! It fills a fresh database (a temp SQLite file, or `--database URL` for PostgreSQL in a fresh
//! schema) through the store's own commit path: one contact per conversation, two finished
//! interactions per conversation, messages of 8 words drawn from a 5,000-word vocabulary with a
//! Zipf distribution (so some words are everywhere and most are rare, as in real chats). Then it
//! times, one after the other, the store calls the server makes: `messages_of_conversation`
//! (a page before a message), the screen pop (`contacts_by_phone`, then the contact's recent
//! interactions and open cases), and `search_messages` (one word, two words, and the ten most
//! common words as the worst case), for a supervisor (everything) and for an agent (their
//! queues' conversations).

use crate::flag;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::time::{Duration, Instant};
use switchboard_domain::*;
use switchboard_store::{
    search_words, CaseFilter, Changeset, ContactRecord, ConversationRecord, MessageRecord,
    SearchScope, Store,
};

const VOCABULARY: usize = 5_000;
const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "da", "fe", "go", "hi", "ju", "ko", "la",
    "me", "no", "pa", "qu", "re", "si", "tu", "wo",
];

fn word(i: usize) -> String {
    let mut n = i + 24;
    let mut w = String::new();
    while n > 0 {
        w.push_str(SYLLABLES[n % 24]);
        n /= 24;
    }
    w
}

/// Zipf-distributed word index (s = 1) by inverse transform over the precomputed CDF.
fn zipf(cdf: &[f64], rng: &mut StdRng) -> usize {
    let x: f64 = rng.random();
    cdf.partition_point(|&c| c < x).min(cdf.len() - 1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
    n: usize,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |p: f64| ms(v[((v.len() as f64 - 1.0) * p).round() as usize]);
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        max: ms(*v.last().unwrap_or(&Duration::ZERO)),
        n: v.len(),
    }
}

fn report(name: &str, s: &Stats, target_ms: f64) {
    println!(
        "{name:<44} n={:<5} p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  target p99 < {target_ms} ms: {}",
        s.n,
        s.p50,
        s.p99,
        s.max,
        if s.p99 < target_ms { "met" } else { "NOT met" }
    );
}

fn phone_of(c: usize) -> String {
    format!("+4917{:08}", c)
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let conversations: usize = flag(args, "--conversations")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_conversation: usize = flag(args, "--messages-per-conversation")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let samples: usize = flag(args, "--samples")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let database = flag(args, "--database");
    let tmp = std::env::temp_dir().join(format!("switchboard-history-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let url = database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/history.db", tmp.display()));
    let store = if url.starts_with("postgres") {
        let schema = format!("bench_history_{}", std::process::id());
        Store::connect_in_schema(&url, &schema).await?
    } else {
        Store::connect(&url).await?
    };
    println!(
        "backend {}: {} conversations x {} messages = {} messages",
        store.backend(),
        conversations,
        per_conversation,
        conversations * per_conversation
    );

    // ---------------------------------------------------------------- fill
    let mut cdf = Vec::with_capacity(VOCABULARY);
    let total: f64 = (1..=VOCABULARY).map(|k| 1.0 / k as f64).sum();
    let mut acc = 0.0;
    for k in 1..=VOCABULARY {
        acc += 1.0 / k as f64 / total;
        cdf.push(acc);
    }
    let words: Vec<String> = (0..VOCABULARY).map(word).collect();
    let mut rng = StdRng::seed_from_u64(7);
    let queue = QueueId("q_main".into());
    let agent = AgentId("usr_bench".into());
    let start_ms: i64 = 1_700_000_000_000;
    let fill = Instant::now();
    let chunk = 2_000; // conversations per commit
    let mut seq: i64 = 0;
    for first in (0..conversations).step_by(chunk) {
        let mut cs = Changeset::default();
        for c in first..(first + chunk).min(conversations) {
            let conv = ConversationId(format!("cv_{c:08}"));
            let contact = format!("con_{c:08}");
            let wa_id = phone_of(c).trim_start_matches('+').to_owned();
            let t0 = start_ms + (c as i64) * 1_000;
            cs.contacts.push(ContactRecord {
                id: contact.clone(),
                name: format!("Customer {c}"),
                first_name: Some("Customer".into()),
                last_name: Some(c.to_string()),
                email: None,
                fields: json!({}),
                phones: vec![phone_of(c)],
                merged_into: None,
                created_by: None,
                created_at: Timestamp(t0),
                updated_at: Timestamp(t0),
            });
            cs.conversations.push(ConversationRecord {
                id: conv.clone(),
                channel_id: Some("chn_bench".into()),
                wa_id: wa_id.clone(),
                customer_name: Some(format!("Customer {c}")),
                contact_id: Some(contact.clone()),
                last_inbound_at: Some(Timestamp(t0)),
                last_agent_id: Some(agent.clone()),
                created_at: Timestamp(t0),
            });
            for half in 0..2 {
                let iid = InteractionId(format!("int_{c:08}_{half}"));
                let at = Timestamp(t0 + half * 500);
                cs.interactions.push(Interaction {
                    id: iid.clone(),
                    state: InteractionState::Done,
                    queue_id: queue.clone(),
                    conversation_id: conv.clone(),
                    channel_id: Some("chn_bench".into()),
                    customer: Customer {
                        wa_id: wa_id.clone(),
                        name: Some(format!("Customer {c}")),
                    },
                    source_number: None,
                    first_message: None,
                    contact_id: Some(contact.clone()),
                    created_at: at,
                    waiting_since: at,
                    queue_key: 0,
                    accepted_at: Some(at),
                    ended_at: Some(at),
                    owner_id: Some(agent.clone()),
                    participants: Vec::new(),
                    offer: None,
                    conference: None,
                    exclusions: Vec::new(),
                    sticky: None,
                    unread: 0,
                    last_inbound_at: Some(at),
                    last_agent_reply_at: None,
                    awaiting_reply_since: None,
                    last_outbound_failed: false,
                });
                for k in 0..per_conversation / 2 {
                    seq += 1;
                    let body: Vec<&str> = (0..8)
                        .map(|_| words[zipf(&cdf, &mut rng)].as_str())
                        .collect();
                    let at = Timestamp(t0 + half * 500 + k as i64);
                    cs.messages.push(MessageRecord {
                        id: format!("msg_{seq:012}"),
                        conversation_id: conv.clone(),
                        interaction_id: Some(iid.clone()),
                        direction: if k % 2 == 0 { "in" } else { "out" }.into(),
                        author_id: (k % 2 == 1).then(|| agent.clone()),
                        kind: "text".into(),
                        body: Some(body.join(" ")),
                        payload: json!({}),
                        wa_message_id: None,
                        status: "delivered".into(),
                        error: None,
                        created_at: at,
                        updated_at: at,
                    });
                }
            }
        }
        store.commit(&cs).await?;
        if (first / chunk) % 10 == 0 {
            println!(
                "  filled {} conversations ({} messages) in {:.1} s",
                first + chunk,
                seq,
                fill.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "filled {seq} messages in {:.1} s ({:.0} messages/s)",
        fill.elapsed().as_secs_f64(),
        seq as f64 / fill.elapsed().as_secs_f64()
    );
    store.analyze().await?;

    // ---------------------------------------------------------------- measure
    let mut rng = StdRng::seed_from_u64(11);
    let mut pages = Vec::with_capacity(samples);
    let mut lookups = Vec::with_capacity(samples);
    let mut pops = Vec::with_capacity(samples);
    // The baseline: a trivial query's round trip through the same pool, interleaved, so that
    // the machine's noise (shared cores) shows beside the figures.
    let mut baseline = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        store.ping().await?;
        baseline.push(t.elapsed());
        let c = rng.random_range(0..conversations);
        let conv = ConversationId(format!("cv_{c:08}"));
        // The page before the conversation's third message from the end, as "see older" asks.
        let last = (c * per_conversation + per_conversation) as i64;
        let before = format!("msg_{:012}", last - 2);
        let t = Instant::now();
        let page = store
            .messages_of_conversation(&conv, Some(&before), 50)
            .await?;
        pages.push(t.elapsed());
        anyhow::ensure!(!page.is_empty(), "an older page of {conv} is empty");

        let phone = phone_of(rng.random_range(0..conversations));
        let t = Instant::now();
        let found = store.contacts_by_phone(&phone).await?;
        lookups.push(t.elapsed());
        let contact = found.first().map(|c| c.id.clone());
        anyhow::ensure!(contact.is_some(), "no contact for {phone}");
        if let Some(id) = contact {
            let recent = store.contact_interactions(&id, None, 6).await?;
            store
                .cases(CaseFilter::Contact(&id), Some("open"), 10)
                .await?;
            pops.push(t.elapsed());
            anyhow::ensure!(recent.len() == 2, "history of {id}: {}", recent.len());
        }
    }
    let agent_scope = SearchScope::Agent {
        agent_id: AgentId("usr_other".into()),
        queue_ids: vec![queue.to_string()],
    };
    let searches = (samples / 4).max(50);
    let mut one = Vec::new();
    let mut two = Vec::new();
    let mut scoped = Vec::new();
    let mut common = Vec::new();
    let mut hits = 0usize;
    for i in 0..searches {
        // A word a user would look for: any of the vocabulary but its 100 most common.
        let w1 = &words[rng.random_range(100..VOCABULARY)];
        let w2 = &words[zipf(&cdf, &mut rng)];
        let t = Instant::now();
        hits += store
            .search_messages(&search_words(w1), None, &SearchScope::All, 50)
            .await?
            .len();
        one.push(t.elapsed());
        let t = Instant::now();
        store
            .search_messages(
                &search_words(&format!("{w1} {w2}")),
                None,
                &SearchScope::All,
                50,
            )
            .await?;
        two.push(t.elapsed());
        let t = Instant::now();
        store
            .search_messages(&search_words(w1), None, &agent_scope, 50)
            .await?;
        scoped.push(t.elapsed());
        let t = Instant::now();
        store
            .search_messages(&search_words(&words[i % 10]), None, &SearchScope::All, 50)
            .await?;
        common.push(t.elapsed());
    }
    let mut lists = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let l = store.conversation_list(None, &agent_scope, 50).await?;
        lists.push(t.elapsed());
        anyhow::ensure!(l.len() == 50, "a communication list of {}", l.len());
    }
    println!("searches found {hits} messages in all");
    report("baseline: trivial query (SELECT 1)", &stats(baseline), 2.0);
    report("see older messages (page of 50)", &stats(pages), 2.0);
    report("screen pop: contact by phone", &stats(lookups), 2.0);
    report(
        "screen pop: + recent interactions, cases",
        &stats(pops),
        2.0,
    );
    report("search: one word (supervisor)", &stats(one), 50.0);
    report("search: two words (supervisor)", &stats(two), 50.0);
    report("search: one word (agent's queues)", &stats(scoped), 50.0);
    report("search: a top-10 word (worst case)", &stats(common), 50.0);
    report(
        "communication list, agent (page of 50)",
        &stats(lists),
        50.0,
    );
    if database.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}
