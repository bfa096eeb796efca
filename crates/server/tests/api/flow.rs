//! The acceptance story of the core server, through HTTP and the websocket alone (plus ingest):
//! two agents in one queue, capacity 2, one without `can_reject`; five customers write; offers,
//! accepts, a refused reject, a missed offer (RONA), a transfer that is rejected and lands back in
//! the queue, a conference, end, wrap-up with a required disposition, the countdown completing on
//! its own — each step seen on the agents' sockets — and all of it surviving a restart.

use crate::support::*;
use serde_json::json;

fn offered_to(f: &Frame) -> String {
    f.data["interaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn run(db: Db) {
    let (server, admin) = Server::with_admin(db.clone()).await;
    let q = queue(
        &admin,
        json!({"name": "Support", "acceptance_interval_s": 30, "post_processing_s": 60,
               "dispositions": [{"code": "solved", "label": "Solved"}, {"code": "callback", "label": "Call back"}],
               "disposition_required": true}),
    )
    .await;
    let ann_id = agent(&admin, "ann", 2, true, &[&q]).await;
    let bob_id = agent(&admin, "bob", 2, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    let mut ann_ws = ann.ws(None).await;
    let mut bob_ws = bob.ws(None).await;
    ann.available().await;
    ann_ws.expect_presence(&ann_id, "available").await;
    bob.available().await;
    bob_ws.expect_presence(&bob_id, "available").await;

    // Five customers write. Each agent is offered two (capacity 2); the fifth waits.
    let mut customers = Vec::new();
    for (i, name) in ["Cleo", "Dan", "Eve", "Finn", "Gus"].iter().enumerate() {
        let r = server
            .ingest(
                &q,
                &format!("4915000000{i}"),
                name,
                &format!("Hello, I am {name}"),
            )
            .await;
        assert!(r.created, "a first message opens an interaction");
        customers.push(r.interaction_id.0);
    }
    let mut ann_offers = Vec::new();
    let mut bob_offers = Vec::new();
    for _ in 0..2 {
        let f = ann_ws
            .expect("offer for ann", |f| f.kind == "offer.created")
            .await;
        assert_eq!(f.data["queue_name"], "Support");
        assert_eq!(f.data["source_number"], "+15550100");
        assert!(f.data["first_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Hello, I am")));
        assert!(f.data["customer_name"].is_string() && f.data["customer_number"].is_string());
        assert!(f.data["waiting_since"].is_string() && f.data["offer"]["deadline"].is_string());
        ann_offers.push(offered_to(&f));
        bob_offers.push(offered_to(
            &bob_ws
                .expect("offer for bob", |f| f.kind == "offer.created")
                .await,
        ));
    }
    let fifth = customers[4].clone();
    assert!(!ann_offers.contains(&fifth) && !bob_offers.contains(&fifth));
    let (s, _) = ann.get(&format!("/api/v1/interactions/{fifth}")).await;
    assert_eq!(
        s, 404,
        "an agent does not see an interaction not offered to them"
    );
    assert_eq!(ann.me().await["load"], 2);

    // Bob may not reject: 403, and the offer is still his.
    let (s, body) = bob
        .post(
            &format!("/api/v1/interactions/{}/reject", bob_offers[0]),
            json!({}),
        )
        .await;
    assert_error(s, &body, 403, "reject_not_permitted");
    assert_eq!(bob.interaction(&bob_offers[0]).await["state"], "offered");

    // Accepts: Ann her first, Bob both of his.
    let (a1, a2) = (ann_offers[0].clone(), ann_offers[1].clone());
    let (b1, b2) = (bob_offers[0].clone(), bob_offers[1].clone());
    for (api, is_ann, id) in [(&ann, true, &a1), (&bob, false, &b1), (&bob, false, &b2)] {
        let v = api.act(id, "accept").await;
        assert_eq!(v["state"], "active");
        let ws = if is_ann { &mut ann_ws } else { &mut bob_ws };
        ws.expect_state(id, "active").await;
    }
    let (s, body) = bob.try_act(&a2, "accept", json!({})).await;
    assert_eq!(s, 404, "bob cannot accept ann's offer: {body}");

    // Ann lets her second offer time out: withdrawn, Ann in RONA, the interaction back at the head.
    server.clock.advance_secs(31);
    let f = ann_ws.expect_kind("offer.withdrawn", &a2).await;
    assert_eq!(f.data["reason"], "timeout");
    ann_ws.expect_presence(&ann_id, "rona").await;
    assert_eq!(ann.me().await["presence"], "rona");
    let (_, all) = admin
        .get("/api/v1/interactions?all=true&state=queued")
        .await;
    let waiting = strings(&all, "id");
    assert!(
        waiting.contains(&a2.as_str()) && waiting.contains(&fifth.as_str()),
        "{all}"
    );
    let (s, body) = ann.try_act(&a2, "accept", json!({})).await;
    assert!(
        s == 404 || s == 409,
        "a withdrawn offer cannot be accepted: {s} {body}"
    );

    // Only Ann herself leaves RONA. Back available, she is offered the fifth customer, not the
    // one she missed (she is excluded from it for a while).
    ann.available().await;
    ann_ws.expect_presence(&ann_id, "available").await;
    let f = ann_ws
        .expect("next offer for ann", |f| f.kind == "offer.created")
        .await;
    assert_eq!(offered_to(&f), fifth);
    ann.act(&fifth, "accept").await;

    // Messages both ways; the agent's message is stored as queued and reaches the socket.
    let m = bob.reply(&b1, "Hi, how can I help? 😀").await;
    assert_eq!(m["status"], "queued");
    bob_ws
        .expect("bob's message", |f| {
            f.kind == "message.created" && f.data["id"] == m["id"]
        })
        .await;
    let b1_customer = string(&bob.interaction(&b1).await["customer"]["wa_id"]);
    let b2_customer = string(&bob.interaction(&b2).await["customer"]["wa_id"]);
    server
        .ingest(&q, &b1_customer, "Dan", "My order is late")
        .await;
    let f = bob_ws
        .expect("customer's message", |f| {
            f.kind == "message.created" && f.data["text"] == "My order is late"
        })
        .await;
    assert_eq!(f.data["direction"], "in");

    // Ann ends her first interaction; wrap-up needs a disposition.
    ann.act(&a1, "end").await;
    let f = ann_ws.expect_state(&a1, "wrap_up").await;
    assert!(f.data["participants"][0]["wrap_up_deadline"].is_string());
    let (s, body) = ann.try_act(&a1, "wrap-up", json!({})).await;
    assert_error(s, &body, 422, "disposition_required");
    let (s, body) = ann
        .try_act(&a1, "wrap-up", json!({"disposition_code": "nope"}))
        .await;
    assert_error(s, &body, 422, "unknown_disposition");
    ann.act_with(
        &a1,
        "wrap-up",
        json!({"disposition_code": "solved", "note": "password reset"}),
    )
    .await;
    ann_ws.expect_state(&a1, "done").await;
    assert_eq!(ann.me().await["load"], 1);

    // Bob transfers b1 to Ann; Ann rejects; it lands back in the queue, the customer is kept.
    let v = bob
        .act_with(&b1, "transfer", json!({"agent_id": ann_id}))
        .await;
    assert_eq!(v["state"], "offered");
    let f = ann_ws.expect_kind("offer.created", &b1).await;
    assert_eq!(f.data["offer"]["kind"], "transfer");
    assert_eq!(f.data["offer"]["from_agent_id"], bob_id.as_str());
    bob_ws
        .expect("bob in wrap-up of the transfer", |f| {
            f.kind == "interaction.updated"
                && f.data["id"] == b1.as_str()
                && f.data["participants"].as_array().is_some_and(|p| {
                    p.iter()
                        .any(|p| p["agent_id"] == bob_id.as_str() && p["state"] == "wrap_up")
                })
        })
        .await;
    ann.act(&b1, "reject").await;
    let f = ann_ws.expect_kind("offer.withdrawn", &b1).await;
    assert_eq!(f.data["reason"], "rejected");
    bob_ws.expect_state(&b1, "queued").await;
    bob_ws
        .expect("transfer notice", |f| {
            f.kind == "message.created"
                && f.data["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("rejected the transfer"))
        })
        .await;
    ann_ws.expect_presence(&ann_id, "rona").await;

    // Bob finishes wrap-up of the transfer; the queue offers b1 (at the head) to him again.
    bob.act_with(&b1, "wrap-up", json!({"disposition_code": "callback"}))
        .await;
    let f = bob_ws
        .expect("b1 offered again", |f| {
            f.kind == "offer.created" && f.data["interaction_id"] == b1.as_str()
        })
        .await;
    assert_eq!(f.data["offer"]["kind"], "route");
    bob.act(&b1, "accept").await;

    // Conference: Bob invites Ann on b2 (Ann must be available first).
    let (s, body) = bob
        .try_act(&b2, "conference", json!({"agent_id": ann_id}))
        .await;
    assert_error(s, &body, 409, "agent_unavailable");
    ann.available().await;
    let v = bob
        .act_with(&b2, "conference", json!({"agent_id": ann_id}))
        .await;
    assert_eq!(v["conference_status"], "requested");
    let f = ann_ws.expect_kind("offer.created", &b2).await;
    assert_eq!(f.data["offer"]["kind"], "conference");
    let v = ann.act(&b2, "accept").await;
    assert_eq!(v["conference_status"], "active");
    for ws in [&mut ann_ws, &mut bob_ws] {
        ws.expect("join notice", |f| {
            f.kind == "message.created" && f.data["text"] == "Ann joined the conversation"
        })
        .await;
    }
    let m = ann.reply(&b2, "Ann here, I can help too").await;
    bob_ws
        .expect("ann's message on bob's socket", |f| {
            f.kind == "message.created" && f.data["id"] == m["id"]
        })
        .await;
    bob.ok(
        &format!("/api/v1/interactions/{b2}/conference/end"),
        json!({}),
    )
    .await;
    let f = ann_ws
        .expect("ann in wrap-up of the conference", |f| {
            f.kind == "interaction.updated"
                && f.data["id"] == b2.as_str()
                && f.data["participants"].as_array().is_some_and(|p| {
                    p.iter()
                        .any(|p| p["agent_id"] == ann_id.as_str() && p["state"] == "wrap_up")
                })
        })
        .await;
    assert_eq!(f.data["state"], "active", "the customer stays with Bob");
    ann.act_with(&b2, "wrap-up", json!({"disposition_code": "solved"}))
        .await;

    // Bob stops new offers (keeping what he has), ends b2 and does not submit wrap-up: the
    // countdown completes it on its own.
    let (s, v) = bob
        .put("/api/v1/me/stop-new", json!({"stop_new": true}))
        .await;
    assert_eq!(
        (s, v["stop_new"].clone(), v["presence"].clone()),
        (200, json!(true), json!("available"))
    );
    bob.act_with(&b2, "end", json!({"text": "Bye!"})).await;
    bob_ws.expect_state(&b2, "wrap_up").await;
    server.clock.advance_secs(59);
    assert_eq!(
        bob.interaction(&b2).await["state"],
        "wrap_up",
        "not before the deadline"
    );
    server.clock.advance_secs(2);
    bob_ws.expect_state(&b2, "done").await;
    let v = bob.interaction(&b2).await;
    let p = item(&v, "participants", "agent_id", &bob_id);
    assert_eq!(p["state"], "done");
    assert!(
        p["disposition_code"].is_null(),
        "completed by the countdown with no code"
    );

    // Before the restart: an offer pending to Ann (b2's customer writes again) and Bob's b1 ended.
    let again = server.ingest(&q, &b2_customer, "Finn", "Me again").await;
    assert!(
        again.created && again.interaction_id.0 != b2,
        "a message after the end opens a new interaction"
    );
    let f = ann_ws
        .expect("offer of the returning customer", |f| {
            f.kind == "offer.created"
        })
        .await;
    let pending = offered_to(&f);
    bob.act(&b1, "end").await;
    let ann_seq = ann_ws.last_seq;
    let bob_seq = bob_ws.last_seq;
    ann_ws.close().await;
    bob_ws.close().await;

    // Stop; the offer's deadline and Bob's countdown pass while the server is down.
    let server = server.restart().await;
    server.clock.advance_secs(0);
    let ann = Api {
        base: server.base.clone(),
        ..ann
    };
    let bob = Api {
        base: server.base.clone(),
        ..bob
    };
    assert_eq!(
        ann.me().await["presence"],
        "available",
        "sessions and presence survive"
    );
    let mut ann_ws = ann.ws(Some(ann_seq)).await;
    let mut bob_ws = bob.ws(Some(bob_seq)).await;
    server.clock.advance_secs(61);
    ann_ws.expect_kind("offer.withdrawn", &pending).await;
    ann_ws.expect_presence(&ann_id, "rona").await;
    bob_ws.expect_state(&b1, "done").await;
    let v = admin_of(&server).await.interaction(&pending).await;
    // The story is all still there.
    let waiting = v;
    let v = bob.interaction(&b2).await;
    assert_eq!(v["state"], "done");
    let (_, msgs) = bob.messages(&b2).await;
    let texts = texts(&msgs["messages"]);
    assert!(
        texts.contains(&"Ann joined the conversation")
            && texts.contains(&"Ann here, I can help too")
            && texts.contains(&"Bye!"),
        "{texts:?}"
    );
    assert_eq!(
        waiting["state"], "queued",
        "the missed returning customer waits: {waiting}"
    );
    assert_eq!(
        bob.me().await["load"],
        0,
        "b1 wrapped up by the countdown; nothing new while stop-new"
    );
}

async fn admin_of(server: &Server) -> Api {
    server.admin().await
}

on_every_backend!(two_agents_one_queue_the_whole_story_survives_a_restart, run);
