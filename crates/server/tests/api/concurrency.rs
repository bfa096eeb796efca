//! under concurrent load: racing accepts of one offer, racing redeliveries of
//! one customer message, and many customers and agents at once. Nothing is offered to two
//! agents, no agent exceeds capacity, every customer message is stored exactly once.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use switchboard_domain::QueueId;
use switchboard_server::{InboundMessage, Ingested};
use tokio::sync::watch;
use tokio::task::JoinSet;

async fn racing_accepts(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    agent(&admin, "ann", 3, true, &[&q]).await;
    agent(&admin, "bob", 3, true, &[]).await;
    let ann = server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    ann.available().await;
    bob.available().await;

    // 40 accepts of one offer by its agent (and 10 by someone else): exactly one wins.
    let it = server.ingest_id(&q, "4917000001", "Cleo", "hello").await;
    let mut set = JoinSet::new();
    for i in 0..50 {
        let api = if i % 5 == 4 { bob.clone() } else { ann.clone() };
        let path = format!("/api/v1/interactions/{it}/accept");
        set.spawn(async move { (i % 5 == 4, api.post(&path, json!({})).await) });
    }
    let mut wins = 0;
    while let Some(r) = set.join_next().await {
        let (by_bob, (s, v)) = r.expect("task");
        match (by_bob, s) {
            (false, 200) => {
                wins += 1;
                assert_eq!(v["state"], "active");
            }
            (false, _) => assert_error(s, &v, 409, "offer_not_pending"),
            (true, _) => assert_error(s, &v, 404, "not_found"),
        }
    }
    assert_eq!(wins, 1, "exactly one accept succeeds");
    let v = ann.interaction(&it).await;
    assert_eq!(v["participants"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(ann.me().await["load"], 1);

    // Accept and reject of one offer at once: exactly one of them happens.
    for n in 0..6 {
        ann.available().await;
        let it = server
            .ingest_id(&q, &format!("49170001{n:02}"), "Dan", "hi")
            .await;
        let mut set = JoinSet::new();
        for i in 0..10 {
            let api = ann.clone();
            let path = format!(
                "/api/v1/interactions/{it}/{}",
                if i % 2 == 0 { "accept" } else { "reject" }
            );
            set.spawn(async move { api.post(&path, json!({})).await });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            let (s, v) = r.expect("task");
            if s == 200 {
                ok += 1;
            } else {
                assert_error(s, &v, 409, "offer_not_pending");
            }
        }
        assert_eq!(ok, 1, "one answer to an offer");
        let v = admin.interaction(&it).await;
        assert!(v["state"] == "active" || v["state"] == "queued", "{v}");
        if v["state"] == "active" {
            ann.act(&it, "end").await;
            ann.act(&it, "wrap-up").await;
        }
    }
}

on_every_backend!(
    racing_answers_to_one_offer_have_exactly_one_winner,
    racing_accepts
);

async fn racing_redeliveries(db: Db) {
    let Desk {
        server,
        admin,
        queue: q,
        mut ws,
        ..
    } = Desk::open(db, false).await;

    // WhatsApp redelivers a webhook while the first delivery is still being stored.
    for (round, text) in ["first", "second", "third"].iter().enumerate() {
        let wa_message_id = format!("wamid.race.{round}");
        let server_state = server.state.clone();
        let mut set = JoinSet::new();
        for _ in 0..8 {
            let state = server_state.clone();
            let (q, wamid, text) = (q.clone(), wa_message_id.clone(), text.to_string());
            set.spawn(async move {
                switchboard_server::services::ingest::ingest(
                    &state.ingest(),
                    InboundMessage {
                        summary: None,
                        queue_id: QueueId(q),
                        channel_id: Some("test-channel".into()),
                        source_number: None,
                        wa_id: "4917000002".into(),
                        customer_name: Some("Eve".into()),
                        wa_message_id: Some(wamid),
                        kind: "text".into(),
                        text: Some(text),
                        payload: json!({}),
                    },
                )
                .await
                .expect("ingest")
            });
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            results.push(r.expect("task"));
        }
        let fresh: Vec<&Ingested> = results.iter().filter(|r| !r.duplicate).collect();
        assert_eq!(
            fresh.len(),
            1,
            "one delivery stores the message, the others are duplicates: {results:?}"
        );
        assert_eq!(fresh[0].created, round == 0);
        assert!(
            results.iter().all(|r| r.message_id == fresh[0].message_id
                && r.interaction_id == fresh[0].interaction_id),
            "{results:?}"
        );
    }
    let ids: BTreeSet<String> = {
        let (_, all) = admin.get("/api/v1/interactions?all=true").await;
        all.as_array()
            .expect("list")
            .iter()
            .map(|i| string(&i["id"]))
            .collect()
    };
    assert_eq!(ids.len(), 1, "one interaction");
    let it = ids.into_iter().next().expect("id");
    let (_, msgs) = admin.messages(&it).await;
    let texts = texts(&msgs["messages"]);
    assert_eq!(texts, ["first", "second", "third"]);
    let v = admin.interaction(&it).await;
    assert_eq!(v["unread"], 3, "each message counted once: {v}");
    // The agent was told of each message once, and of no message that does not exist.
    let frames = ws.drain().await;
    let told: Vec<&Value> = frames
        .iter()
        .filter(|f| f.kind == "message.created")
        .map(|f| &f.data)
        .collect();
    assert_eq!(told.len(), 3, "{told:#?}");
    let stored: BTreeSet<&str> = strings(&msgs["messages"], "id").into_iter().collect();
    assert!(
        told.iter()
            .all(|m| stored.contains(m["id"].as_str().unwrap_or_default())),
        "{told:#?}"
    );
}

on_every_backend!(
    racing_redeliveries_of_a_message_store_and_announce_it_once,
    racing_redeliveries
);

/// Checks on one consistent view of all live interactions and on the agents' loads.
async fn checkpoint(admin: &Api, capacity: &HashMap<String, u64>) -> usize {
    let all = admin
        .get_ok("/api/v1/interactions?all=true&limit=1000")
        .await;
    let mut slots: HashMap<String, u64> = HashMap::new();
    for it in all.as_array().expect("list") {
        if let Some(a) = it["offer"]["agent_id"].as_str() {
            assert_eq!(it["state"], "offered", "{it}");
            *slots.entry(a.to_owned()).or_default() += 1;
        }
        let mut holders = BTreeSet::new();
        for p in it["participants"].as_array().expect("participants") {
            if p["state"] != "done" {
                let a = string(&p["agent_id"]);
                assert!(
                    holders.insert(a.clone()),
                    "an agent twice on one interaction: {it}"
                );
                assert_ne!(
                    it["offer"]["agent_id"].as_str(),
                    Some(a.as_str()),
                    "offered to its own participant: {it}"
                );
                *slots.entry(a).or_default() += 1;
            }
        }
    }
    for (a, n) in &slots {
        assert!(
            n <= &capacity[a],
            "agent {a} holds {n} interactions, capacity {}",
            capacity[a]
        );
    }
    let (_, agents) = admin.get("/api/v1/agents").await;
    for a in agents.as_array().expect("agents") {
        if let (Some(load), Some(cap)) = (a["load"].as_u64(), a["capacity"].as_u64()) {
            assert!(load <= cap, "load over capacity: {a}");
        }
    }
    all.as_array().map_or(0, Vec::len)
}

/// One agent at work: answers offers, talks, ends and wraps up, until the customers are all
/// served. Returns which interactions were offered to them.
async fn work(
    api: Api,
    mut ws: Ws,
    me: String,
    capacity: usize,
    mut done: watch::Receiver<bool>,
) -> BTreeSet<String> {
    let mut offered = BTreeSet::new();
    let mut step = 0usize;
    loop {
        step += 1;
        assert!(step < 2000, "agent {me} never finished");
        let list = api.get_ok("/api/v1/interactions").await;
        let list = list.as_array().cloned().unwrap_or_default();
        assert!(
            list.len() <= capacity,
            "{me} sees {} interactions, capacity {capacity}",
            list.len()
        );
        if list.is_empty() {
            if *done.borrow() {
                // Nothing queued may wait while an available agent with room is idle.
                break;
            }
            tokio::select! {
                f = ws.expect("anything", |_| true) => {
                    if f.kind == "offer.created" {
                        offered.insert(string(&f.data["interaction_id"]));
                    }
                }
                _ = done.wait_for(|d| *d) => {}
            }
            continue;
        }
        for it in list {
            let id = it["id"].as_str().expect("id");
            let mine = it["participants"]
                .as_array()
                .expect("participants")
                .iter()
                .rev()
                .find(|p| p["agent_id"] == me.as_str())
                .cloned();
            match (
                it["state"].as_str(),
                mine.as_ref().and_then(|p| p["state"].as_str()),
            ) {
                (Some("offered"), _) if it["offer"]["agent_id"] == me.as_str() => {
                    offered.insert(id.to_owned());
                    let (s, v) = api.try_act(id, "accept", json!({})).await;
                    assert_eq!(s, 200, "{me} accepts {id}: {v}");
                }
                (_, Some("active")) => {
                    let (s, v) = api
                        .try_act(id, "messages", json!({"text": format!("{me} here")}))
                        .await;
                    assert_eq!(s, 201, "{v}");
                    let (s, v) = api.try_act(id, "end", json!({})).await;
                    assert_eq!(s, 200, "{me} ends {id}: {v}");
                }
                (_, Some("wrap_up")) => {
                    let (s, v) = api
                        .try_act(id, "wrap-up", json!({"disposition_code": "ok"}))
                        .await;
                    assert_eq!(s, 200, "{me} wraps up {id}: {v}");
                }
                other => panic!("{me} holds {id} in an unexpected state {other:?}: {it}"),
            }
        }
    }
    for f in ws.drain().await {
        if f.kind == "offer.created" {
            offered.insert(string(&f.data["interaction_id"]));
        }
    }
    offered
}

async fn load(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let dispositions = json!([{"code": "ok", "label": "OK"}]);
    let qa = queue(
        &admin,
        json!({"name": "Sales", "dispositions": dispositions, "routing_policy": "least_busy"}),
    )
    .await;
    let qb = queue(
        &admin,
        json!({"name": "Support", "dispositions": dispositions, "priority": 2}),
    )
    .await;
    let mut capacity = HashMap::new();
    let mut agents = Vec::new();
    for (i, name) in ["ann", "bob", "cid", "dee", "eli", "fay"]
        .iter()
        .enumerate()
    {
        let cap = 1 + (i as u32 % 3);
        let id = agent(&admin, name, cap, false, &[&qa, &qb]).await;
        capacity.insert(id.clone(), u64::from(cap));
        let api = server.login(name, PASSWORD).await;
        let ws = api.ws(None).await;
        api.available().await;
        agents.push((api, ws, id, cap as usize));
    }
    capacity.insert(string(&admin.me().await["id"]), 3);

    let (done_tx, done_rx) = watch::channel(false);
    let mut workers = JoinSet::new();
    for (api, ws, id, cap) in agents {
        workers.spawn(work(api, ws, id, cap, done_rx.clone()));
    }

    // 40 customers in 4 waves, each writing 3 messages (the second one delivered twice).
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    for wave in 0..4 {
        let mut set = JoinSet::new();
        for c in 0..10 {
            let n = wave * 10 + c;
            let q = if n % 3 == 0 { qa.clone() } else { qb.clone() };
            let state = server.state.clone();
            let wa_id = format!("4918{n:06}");
            let msgs: Vec<(String, String)> = (0..3)
                .map(|m| {
                    (
                        format!("wamid.{n}.{m}"),
                        format!("customer {n} message {m}"),
                    )
                })
                .collect();
            for (wamid, text) in &msgs {
                sent.insert(wamid.clone(), text.clone());
            }
            set.spawn(async move {
                let mut results = Vec::new();
                for (i, (wamid, text)) in msgs.iter().enumerate() {
                    let times = if i == 1 { 2 } else { 1 };
                    for _ in 0..times {
                        let r = switchboard_server::services::ingest::ingest(
                            &state.ingest(),
                            InboundMessage {
                                summary: None,
                                queue_id: QueueId(q.clone()),
                                channel_id: Some("test-channel".into()),
                                source_number: None,
                                wa_id: wa_id.clone(),
                                customer_name: None,
                                wa_message_id: Some(wamid.clone()),
                                kind: "text".into(),
                                text: Some(text.clone()),
                                payload: json!({}),
                            },
                        )
                        .await
                        .expect("ingest");
                        results.push(r);
                    }
                }
                results
            });
        }
        while let Some(r) = set.join_next().await {
            let results = r.expect("customer task");
            assert_eq!(
                results.iter().filter(|r| r.duplicate).count(),
                1,
                "{results:?}"
            );
        }
        checkpoint(&admin, &capacity).await;
    }
    done_tx.send_replace(true);

    // Every interaction was offered to exactly one agent (no rejects, no timeouts here).
    let mut offered_to: HashMap<String, usize> = HashMap::new();
    while let Some(r) = workers.join_next().await {
        for id in r.expect("agent task") {
            *offered_to.entry(id).or_default() += 1;
        }
    }
    assert!(
        offered_to.values().all(|n| *n == 1),
        "an interaction was offered to two agents: {offered_to:?}"
    );
    assert_eq!(
        checkpoint(&admin, &capacity).await,
        0,
        "every customer was served"
    );

    // Every customer message is stored exactly once, in the interaction it opened or joined.
    let done = admin
        .get_ok("/api/v1/interactions?all=true&state=done&limit=1000")
        .await;
    let done = done.as_array().expect("list");
    assert_eq!(
        done.len(),
        offered_to.len(),
        "each finished interaction was offered once"
    );
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    let mut inbound = 0;
    for it in done {
        let id = it["id"].as_str().expect("id");
        let v = admin
            .get_ok(&format!("/api/v1/interactions/{id}/messages?limit=500"))
            .await;
        for m in v["messages"].as_array().expect("messages") {
            if m["direction"] == "in" {
                inbound += 1;
                let wamid = string(&m["wa_message_id"]);
                assert_eq!(
                    m["text"].as_str(),
                    sent.get(&wamid).map(String::as_str),
                    "{m}"
                );
                *stored.entry(wamid).or_default() += 1;
            }
        }
    }
    assert_eq!(inbound, sent.len(), "stored inbound messages");
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>()
    );
    let (_, agents) = admin.get("/api/v1/agents").await;
    assert!(
        agents
            .as_array()
            .expect("agents")
            .iter()
            .all(|a| a["load"].as_u64().unwrap_or(0) == 0),
        "{agents}"
    );
}

on_every_backend!(
    many_customers_and_agents_at_once_keep_capacity_and_single_offers,
    load
);
