//! The server side of what the agent desktop shows (issue 10, items 8 and 9): how an offer after
//! a transfer reads and the customer's real wait on it, outbound starts refused at capacity, a
//! reject told apart from a missed offer, the agent's `activity`, and the names of the agents who
//! wrote the messages of earlier interactions.

use crate::support::*;
use crate::whatsapp::{conversation, say, setup, Wa};
use serde_json::json;

async fn end_and_wrap_up(api: &Api, id: &str) {
    api.act(id, "end").await;
    api.act(id, "wrap-up").await;
}

async fn set_capacity(wa: &Wa, capacity: u32) {
    wa.admin
        .patch_ok(
            &format!("/api/v1/agents/{}", wa.ann_id),
            json!({"capacity": capacity}),
        )
        .await;
}

/// a transfer to a queue is offered as a transfer (by whom, via which way) and
/// with the customer's wait since their unanswered message, not since the transfer.
async fn offers_after_a_transfer_say_so_with_the_customers_real_wait(db: Db) {
    let mut wa = setup(db).await;
    let bob_id = agent(&wa.admin, "bob", 3, false, &[&wa.queue]).await;
    let bob = wa.server.login("bob", PASSWORD).await;
    let mut bob_ws = bob.ws(None).await;
    let id = conversation(&mut wa, "4915110505050", "Vic").await;
    let first = wa.ann.interaction(&id).await;
    let asked_at = first["awaiting_reply_since"].clone();
    assert!(asked_at.is_string());
    // Two minutes without an answer, then Ann hands it to the queue; Bob is the one available.
    wa.server.clock.advance_secs(120);
    bob.available().await;
    wa.ann
        .act_with(&id, "transfer", json!({"queue_id": wa.queue}))
        .await;
    let f = bob_ws.expect_kind("offer.created", &id).await;
    let offer = &f.data["offer"];
    assert_eq!(offer["kind"], "route");
    assert_eq!(offer["transferred_via"], "queue");
    assert_eq!(offer["transferred_by_id"], wa.ann_id.as_str());
    assert_eq!(offer["transferred_by_name"], "Ann");
    assert_eq!(
        offer["customer_waiting_since"], asked_at,
        "the wait runs since the customer's message"
    );
    assert_eq!(f.data["customer_waiting_since"], asked_at);
    assert_ne!(
        f.data["waiting_since"], asked_at,
        "in the queue since the transfer"
    );
    // The same in the interaction's view.
    assert_eq!(
        bob.interaction(&id).await["offer"]["transferred_via"],
        "queue"
    );
    bob.act(&id, "accept").await;
    wa.ann.act(&id, "wrap-up").await;
    // Bob answers, then hands it straight to Ann: a transfer from Bob, waiting since then.
    bob.reply(&id, "Let me get Ann").await;
    wa.server.clock.advance_secs(30);
    bob.act_with(&id, "transfer", json!({"agent_id": wa.ann_id}))
        .await;
    let f = wa.ws.expect_kind("offer.created", &id).await;
    let offer = &f.data["offer"];
    assert_eq!(offer["kind"], "transfer");
    assert_eq!(offer["transferred_via"], "agent");
    assert_eq!(offer["transferred_by_id"], bob_id.as_str());
    assert_eq!(offer["transferred_by_name"], "Bob");
    assert_eq!(offer["customer_waiting_since"], offer["offered_at"]);
}

/// for outbound starts: refused at capacity with 409 `at_capacity`, nothing opened.
async fn outbound_start_at_capacity_is_refused(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915110303030", "Una").await;
    set_capacity(&wa, 1).await;
    let before = wa.ann.get("/api/v1/interactions").await.1;
    let (s, b) = wa.ann.start_outbound("+49 151 4040 4040").await;
    assert_error_says(s, &b, 409, "at_capacity", "1 of 1");
    assert_eq!(wa.ann.get("/api/v1/interactions").await.1, before);
    assert_eq!(wa.ann.me().await["load"], 1);
    // In wrap-up the slot is still held; once wrapped up, the start goes through.
    wa.ann.act(&id, "end").await;
    let (s, b) = wa.ann.start_outbound("+49 151 4040 4040").await;
    assert_error(s, &b, 409, "at_capacity");
    wa.ann.act(&id, "wrap-up").await;
    let (s, v) = wa.ann.start_outbound("+49 151 4040 4040").await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(wa.ann.me().await["load"], 1);
}

/// after a reject the presence says "Rejected offer", after a timeout "Missed offer".
async fn a_reject_is_told_apart_from_a_missed_offer(db: Db) {
    let mut wa = setup(db).await;
    customer_writes(&wa.sim, "4915110606060", "Wes", "Hi").await;
    let f = wa.ws.expect("offer", |f| f.kind == "offer.created").await;
    let id = string(&f.data["interaction_id"]);
    wa.ann.act(&id, "reject").await;
    let p = wa.ws.expect_presence(&wa.ann_id, "rona").await;
    assert_eq!(p.data["break_reason"], "Rejected offer");
    assert_eq!(wa.ann.me().await["break_reason"], "Rejected offer");
    wa.ann.available().await;
    assert!(wa.ann.me().await["break_reason"].is_null());
    customer_writes(&wa.sim, "4915110606061", "Xia", "Hello").await;
    wa.ws
        .expect("second offer", |f| {
            f.kind == "offer.created" && f.data["customer_name"] == "Xia"
        })
        .await;
    wa.server.clock.advance_secs(61); // the queue's acceptance interval is 60 s
    let p = wa.ws.expect_presence(&wa.ann_id, "rona").await;
    assert_eq!(p.data["break_reason"], "Missed offer");
}

/// R-8.2 / API.md "Supervisor": `activity` in `/me` and on presence events.
async fn activity_says_what_the_agent_is_doing(db: Db) {
    let mut wa = setup(db).await;
    assert_eq!(wa.ann.me().await["activity"], "idle");
    let a = conversation(&mut wa, "4915110707070", "Yan").await;
    assert_eq!(wa.ann.me().await["activity"], "handling");
    wa.ann.act(&a, "end").await;
    assert_eq!(wa.ann.me().await["activity"], "post_processing");
    let b = conversation(&mut wa, "4915110707071", "Zoe").await;
    assert_eq!(
        wa.ann.me().await["activity"],
        "handling",
        "one active, one in wrap-up"
    );
    set_capacity(&wa, 2).await;
    assert_eq!(wa.ann.me().await["activity"], "full");
    wa.ann.act(&b, "end").await;
    assert_eq!(
        wa.ann.me().await["activity"],
        "post_processing",
        "only wrap-ups, though at capacity"
    );
    for id in [&a, &b] {
        wa.ann.act(id, "wrap-up").await;
    }
    assert_eq!(wa.ann.me().await["activity"], "idle");
    // Presence events carry it too.
    wa.ann.on_break("Lunch").await;
    let p = wa.ws.expect_presence(&wa.ann_id, "on_break").await;
    assert_eq!(p.data["activity"], "idle");
}

/// The transcript names the agent of every message, also of earlier interactions.
async fn messages_name_their_authors(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915110808080", "Ada").await;
    say(&wa, &id, "Ann writing").await;
    end_and_wrap_up(&wa.ann, &id).await;
    let next = conversation(&mut wa, "4915110808080", "Ada").await;
    assert_ne!(next, id);
    let v = wa
        .ann
        .get_ok(&format!(
            "/api/v1/interactions/{next}/messages?scope=transcript"
        ))
        .await;
    let messages = v["messages"].as_array().expect("messages");
    let mine = messages
        .iter()
        .find(|m| m["text"] == "Ann writing")
        .expect("the earlier message");
    assert_eq!(mine["interaction_id"], id.as_str());
    assert_eq!(mine["author_name"], "Ann");
    let customer = messages
        .iter()
        .find(|m| m["direction"] == "in")
        .expect("a customer message");
    assert!(customer.get("author_name").is_none());
}

on_every_backend!(
    offers_after_a_transfer_say_so_with_the_customers_real_wait_on_every_backend,
    offers_after_a_transfer_say_so_with_the_customers_real_wait
);
on_every_backend!(
    outbound_start_at_capacity_is_refused_on_every_backend,
    outbound_start_at_capacity_is_refused
);
on_every_backend!(
    a_reject_is_told_apart_from_a_missed_offer_on_every_backend,
    a_reject_is_told_apart_from_a_missed_offer
);
on_every_backend!(
    activity_says_what_the_agent_is_doing_on_every_backend,
    activity_says_what_the_agent_is_doing
);
on_every_backend!(
    messages_name_their_authors_on_every_backend,
    messages_name_their_authors
);
