//! The WhatsApp channel end to end, against the Cloud API simulator: signed webhooks of every
//! type, duplicates, wrong signatures and hostile JSON, the outbox through an outage, permanent
//! errors reaching the agent, and statuses out of order or ahead of the send's answer.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use switchboard_simulator::{
    SendFailure, SimulatorHandle, DEFAULT_ACCESS_TOKEN, DEFAULT_DISPLAY_PHONE_NUMBER,
    DEFAULT_PHONE_NUMBER_ID,
};

const SECRET: &str = "app-secret-for-tests";
const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Wa {
    pub server: Server,
    pub sim: SimulatorHandle,
    pub admin: Api,
    pub ann: Api,
    pub ann_id: String,
    pub ws: Ws,
    pub queue: String,
}

pub(crate) async fn setup(db: Db) -> Wa {
    let (server, sim, admin, queue, ch) = whatsapp_queue(db, SECRET).await;
    let text = ch.to_string();
    assert!(
        !text.contains(SECRET)
            && !text.contains(DEFAULT_ACCESS_TOKEN)
            && !text.contains("verify-me"),
        "secrets never returned: {text}"
    );
    let ann_id = agent(&admin, "ann", 10, true, &[&queue]).await;
    let ann = server.login("ann", PASSWORD).await;
    let ws = ann.ws(None).await;
    ann.available().await;
    Wa {
        server,
        sim,
        admin,
        ann,
        ann_id,
        ws,
        queue,
    }
}

/// The customer writes; Ann is offered and accepts. Returns the interaction id.
pub(crate) async fn conversation(wa: &mut Wa, wa_id: &str, name: &str) -> String {
    let m = customer_writes(&wa.sim, wa_id, name, "Hello there").await;
    assert_eq!(m.status, 200);
    let f = wa.ws.expect("offer", |f| f.kind == "offer.created").await;
    assert_eq!(f.data["source_number"], DEFAULT_DISPLAY_PHONE_NUMBER);
    assert_eq!(f.data["customer_name"], name);
    let id = string(&f.data["interaction_id"]);
    wa.ann.act(&id, "accept").await;
    id
}

pub(crate) async fn say(wa: &Wa, id: &str, text: &str) -> String {
    let m = wa.ann.act_with(id, "messages", json!({"text": text})).await;
    assert_eq!(m["status"], "queued");
    string(&m["id"])
}

/// The texts WhatsApp (the simulator) accepted, in order.
fn sent_texts(sim: &SimulatorHandle) -> Vec<String> {
    sim.accepted_messages()
        .iter()
        .filter_map(|s| s.text().map(str::to_owned))
        .collect()
}

/// Message `message` of interaction `id` as Ann reads it from the API.
pub(crate) async fn stored_message(wa: &Wa, id: &str, message: &str) -> Value {
    let (_, page) = wa.ann.messages(id).await;
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == message)
        .cloned()
        .unwrap_or_else(|| panic!("message {message} not in {page}"))
}

pub(crate) async fn expect_status(ws: &mut Ws, message: &str, status: &str) -> Frame {
    let (m, s) = (message.to_owned(), status.to_owned());
    ws.expect(&format!("{message} {status}"), move |f| {
        f.kind == "message.updated" && f.data["id"] == m.as_str() && f.data["status"] == s.as_str()
    })
    .await
}

async fn round_trip_and_handshake(db: Db) {
    let mut wa = setup(db).await;
    // Verification handshake.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345",
        wa.server.base
    );
    let r = http.get(&url).send().await.expect("get");
    assert_eq!(
        (r.status().as_u16(), r.text().await.expect("body")),
        (200, "12345".to_owned())
    );
    let r = http
        .get(url.replace("verify-me", "wrong"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 403);

    let id = conversation(&mut wa, "4915111111111", "Maria").await;
    let msg = say(&wa, &id, "Hi Maria, how can I help? 😀").await;
    let sent = wa
        .sim
        .wait_for_accepted(1, WAIT)
        .await
        .expect("the simulator receives the send");
    assert_eq!(sent[0].to(), Some("4915111111111"));
    assert_eq!(sent[0].text(), Some("Hi Maria, how can I help? 😀"));
    for s in ["accepted", "sent", "delivered", "read"] {
        expect_status(&mut wa.ws, &msg, s).await;
    }
    let stored = stored_message(&wa, &id, &msg).await;
    assert_eq!(stored["status"], "read");
    assert_eq!(stored["wa_message_id"], sent[0].wamid().expect("wamid"));
    // The customer's answer reaches Ann live.
    customer_writes(&wa.sim, "4915111111111", "Maria", "My parcel is late").await;
    wa.ws
        .expect("reply", |f| {
            f.kind == "message.created" && f.data["text"] == "My parcel is late"
        })
        .await;
}

async fn signatures_and_hostile_bodies(db: Db) {
    let wa = setup(db).await;
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/whatsapp", wa.server.base);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "phone_number_id": DEFAULT_PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Eve"}, "wa_id": "4917000"}],
        "messages": [{"from": "4917000", "id": "wamid.sig-test", "timestamp": "1700000000", "type": "text", "text": {"body": "hi"}}]}}]}]}))
    .expect("json");
    let post = |body: Vec<u8>, sig: Option<String>| {
        let mut r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            r = r.header("X-Hub-Signature-256", s);
        }
        r.send()
    };
    for sig in [
        None,
        Some("sha256=00".to_owned()),
        Some(switchboard_channels::sign(b"other-secret", &body)),
    ] {
        let r = post(body.clone(), sig).await.expect("post");
        assert_eq!(r.status().as_u16(), 401);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "invalid_signature");
    }
    for hostile in [
        &body[..body.len() / 2],
        b"{\"object\":",
        b"[]",
        b"{\"entry\": 5}",
        b"\xff\xfe",
    ] {
        let r = post(
            hostile.to_vec(),
            Some(switchboard_channels::sign(SECRET.as_bytes(), hostile)),
        )
        .await
        .expect("post");
        assert_eq!(
            r.status().as_u16(),
            400,
            "{:?}",
            String::from_utf8_lossy(hostile)
        );
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "invalid_payload");
    }
    let (_, all) = wa.admin.get("/api/v1/interactions?all=true").await;
    assert_eq!(all, json!([]), "nothing stored from refused webhooks");
    // The same body, correctly signed, goes in.
    let r = post(
        body.clone(),
        Some(switchboard_channels::sign(SECRET.as_bytes(), &body)),
    )
    .await
    .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let (_, all) = wa.admin.get("/api/v1/interactions?all=true").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
}

async fn every_type_once_despite_duplicates(db: Db) {
    let mut wa = setup(db).await;
    wa.sim.faults().set_duplicate_webhooks(true);
    let id = conversation(&mut wa, "4915222222222", "Tom").await;
    let c = wa.sim.customer("4915222222222", "Tom");
    let mut wamids = vec![];
    let text = c.send_text("a text").await.expect("text");
    wamids.push(text.wamid.clone());
    wamids.push(
        c.send_image(
            switchboard_simulator::TINY_PNG.to_vec(),
            "image/png",
            Some("a photo"),
        )
        .await
        .expect("image")
        .wamid,
    );
    wamids.push(
        c.send_location(52.52, 13.40, Some("Office"), Some("Main St 1"))
            .await
            .expect("location")
            .wamid,
    );
    wamids.push(
        c.send_contacts(&[switchboard_simulator::ContactCard::new(
            "Ann Smith",
            "+4930123",
        )])
        .await
        .expect("contacts")
        .wamid,
    );
    wamids.push(c.react(&text.wamid, "👍").await.expect("react").wamid);
    wamids.push(
        c.reply_to(&text.wamid, "a reply")
            .await
            .expect("reply")
            .wamid,
    );
    wamids.push(
        c.tap_button(&text.wamid, "yes", "Yes")
            .await
            .expect("button")
            .wamid,
    );
    wamids.push(c.send_unsupported().await.expect("unsupported").wamid);
    let (_, page) = wa
        .admin
        .get(&format!("/api/v1/interactions/{id}/messages?limit=100"))
        .await;
    let msgs = page["messages"].as_array().expect("messages").clone();
    let inbound: Vec<&Value> = msgs.iter().filter(|m| m["direction"] == "in").collect();
    let stored: Vec<&str> = inbound
        .iter()
        .filter_map(|m| m["wa_message_id"].as_str())
        .collect();
    let unique: HashSet<&str> = stored.iter().copied().collect();
    assert_eq!(
        stored.len(),
        unique.len(),
        "each message stored once: {stored:?}"
    );
    for w in &wamids {
        assert!(unique.contains(w.as_str()), "{w} stored");
    }
    let kinds: HashSet<&str> = inbound.iter().filter_map(|m| m["type"].as_str()).collect();
    for k in [
        "text",
        "image",
        "location",
        "contacts",
        "reaction",
        "unsupported",
    ] {
        assert!(kinds.contains(k), "{k} in {kinds:?}");
    }
    let reply = inbound
        .iter()
        .find(|m| m["text"] == "a reply")
        .expect("reply");
    assert_eq!(
        reply["payload"]["context"]["id"],
        text.wamid.as_str(),
        "the reply knows what it quotes"
    );
}

async fn outbox_survives_an_outage_in_order(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915333333333", "Lee").await;
    wa.sim.faults().fail_next(3, SendFailure::ServerError);
    let mut attempts = wa.server.state.outbox_attempts.subscribe();
    let first = say(&wa, &id, "first").await;
    let second = say(&wa, &id, "second").await;
    for k in 1..=3u64 {
        attempts
            .wait_for(|n| *n >= k)
            .await
            .expect("attempt stored");
        let m = stored_message(&wa, &id, &first).await;
        assert_eq!(
            m["status"], "queued",
            "still waiting, not failed, after attempt {k}"
        );
        // "second" is held back behind "first", which waits for its retry time: the outbox
        // sleeps until then instead of polling the store in a loop.
        let polls = || {
            wa.server
                .state
                .metrics
                .outbox_polls
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let before = polls();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let spins = polls() - before;
        assert!(spins <= 3, "the outbox polled {spins} times while waiting");
        wa.server.clock.advance_secs(600);
    }
    let sent = wa
        .sim
        .wait_for_accepted(2, WAIT)
        .await
        .expect("both sent after the outage");
    let texts: Vec<String> = sent
        .iter()
        .filter_map(|s| s.text().map(str::to_owned))
        .collect();
    assert_eq!(
        texts,
        vec!["first".to_owned(), "second".to_owned()],
        "in order, each once"
    );
    expect_status(&mut wa.ws, &first, "delivered").await;
    expect_status(&mut wa.ws, &second, "delivered").await;
}

/// WhatsApp accepted a send but the database refuses to store that (a full disk, say): the
/// outcome is stored once the database recovers, and the customer gets the message once, not
/// again with every later poll of the outbox.
async fn an_accepted_send_is_sent_once_when_storing_it_fails(db: Db) {
    let mut wa = setup(db.clone()).await;
    let id = conversation(&mut wa, "4915444444444", "Kim").await;
    let (refuse, allow) = match &db {
        Db::Sqlite(_) => (
            "CREATE TRIGGER refuse_done BEFORE UPDATE OF state ON outbox \
             WHEN new.state = 'done' BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;",
            "DROP TRIGGER refuse_done;",
        ),
        Db::Postgres { .. } => (
            "CREATE FUNCTION refuse_done() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.state = 'done' THEN RAISE EXCEPTION 'disk full (test)'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_done BEFORE UPDATE ON outbox FOR EACH ROW \
             EXECUTE FUNCTION refuse_done();",
            "DROP TRIGGER refuse_done ON outbox; DROP FUNCTION refuse_done();",
        ),
    };
    raw_sql(&db, refuse).await;
    let failures = || {
        wa.server
            .state
            .metrics
            .commit_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let m = say(&wa, &id, "only once").await;
    wa.sim
        .wait_for_accepted(1, WAIT)
        .await
        .expect("WhatsApp accepts the send");
    // The outcome is refused, and tried again (each try a failed commit).
    let deadline = std::time::Instant::now() + WAIT;
    while failures() < 3 {
        assert!(std::time::Instant::now() < deadline, "no retries seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = stored_message(&wa, &id, &m).await;
    assert_eq!(stored["status"], "queued", "not stored as accepted yet");
    raw_sql(&db, allow).await;
    // Stored at the next try: its statuses reach the agent.
    expect_status(&mut wa.ws, &m, "delivered").await;
    let sent = sent_texts(&wa.sim);
    assert_eq!(sent, vec!["only once".to_owned()], "sent exactly once");
    // Nothing is due any more: the outbox does not send it again later either.
    wa.server.clock.advance_secs(3600);
    assert_eq!(
        wa.server.state.store.next_outbox_at().await.expect("read"),
        None
    );
    assert_eq!(wa.sim.accepted_messages().len(), 1);
}

/// The store answers but refuses one send's outcome for good (bad data, not an outage): the
/// outbox gives up storing it after a few tries, keeps only the row's new state, and neither
/// sends the message again nor stops sending the next ones.
async fn an_outcome_the_store_never_takes_does_not_stop_the_outbox(db: Db) {
    let mut wa = setup(db.clone()).await;
    let id = conversation(&mut wa, "4915555555555", "Max").await;
    let (refuse, allow) = match &db {
        Db::Sqlite(_) => (
            "CREATE TRIGGER refuse_wamid BEFORE UPDATE OF wa_message_id ON messages \
             WHEN new.wa_message_id IS NOT NULL BEGIN SELECT RAISE(ABORT, 'bad data (test)'); END;",
            "DROP TRIGGER refuse_wamid;",
        ),
        Db::Postgres { .. } => (
            "CREATE FUNCTION refuse_wamid() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.wa_message_id IS NOT NULL AND OLD.wa_message_id IS NULL THEN \
             RAISE EXCEPTION 'bad data (test)'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_wamid BEFORE UPDATE ON messages FOR EACH ROW \
             EXECUTE FUNCTION refuse_wamid();",
            "DROP TRIGGER refuse_wamid ON messages; DROP FUNCTION refuse_wamid();",
        ),
    };
    raw_sql(&db, refuse).await;
    say(&wa, &id, "stuck outcome").await;
    wa.sim
        .wait_for_accepted(1, WAIT)
        .await
        .expect("WhatsApp accepts the send");
    // Given up after a few tries (about 1.5 s): nothing of the outbox is due any more.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let due = wa.server.state.store.next_outbox_at().await.expect("read");
        if due.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the send is still due"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wa.server.clock.advance_secs(3600);
    raw_sql(&db, allow).await;
    // The next message goes out at once, and the first was not sent again.
    let next = say(&wa, &id, "next one").await;
    expect_status(&mut wa.ws, &next, "delivered").await;
    let sent = sent_texts(&wa.sim);
    assert_eq!(
        sent,
        vec!["stuck outcome".to_owned(), "next one".to_owned()]
    );
}

async fn permanent_errors_reach_the_agent(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915444444444", "Kim").await;
    wa.sim.faults().add_undeliverable("4915444444444");
    let m = say(&wa, &id, "are you there?").await;
    let f = expect_status(&mut wa.ws, &m, "failed").await;
    assert_eq!(f.data["error"]["code"], 131026);
    assert_eq!(f.data["error"]["undeliverable"], true);
    let ann_id = wa.ann_id.clone();
    let i = id.clone();
    wa.ws
        .expect("failed indicator", move |f| {
            f.kind == "interaction.updated"
                && f.data["id"] == i.as_str()
                && f.data["last_outbound_failed"] == true
        })
        .await;
    let _ = ann_id;
    // Outside the 24-hour window as WhatsApp sees it: the reason says a template is needed.
    wa.sim.faults().fail_next(1, SendFailure::ReEngagement);
    let m = say(&wa, &id, "hello again").await;
    let f = expect_status(&mut wa.ws, &m, "failed").await;
    assert_eq!(f.data["error"]["code"], 131047);
    assert_eq!(f.data["error"]["needs_template"], true);
    assert_eq!(
        wa.sim.accepted_messages().len(),
        0,
        "permanent errors are not retried"
    );
    let _ = &wa.queue;
}

async fn statuses_out_of_order_and_early(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915555555555", "Sam").await;
    wa.sim.faults().set_out_of_order_statuses(true);
    let a = say(&wa, &id, "one").await;
    expect_status(&mut wa.ws, &a, "read").await;
    let accepted = wa.sim.wait_for_accepted(1, WAIT).await.expect("sent");
    let wamid = accepted[0].wamid().expect("wamid").to_owned();
    wa.sim
        .wait_for_status(&wamid, "sent", WAIT)
        .await
        .expect("all statuses delivered");
    let m = stored_message(&wa, &id, &a).await;
    assert_eq!(m["status"], "read", "a later state never goes back");
    wa.sim.faults().set_out_of_order_statuses(false);
    wa.sim.faults().set_statuses_before_response(true);
    let b = say(&wa, &id, "two").await;
    let f = expect_status(&mut wa.ws, &b, "read").await;
    assert!(f.data["wa_message_id"].is_string());
}

/// A queue a number routes to cannot be deleted: the number's new conversations would have
/// nowhere to go and their messages would be refused for ever.
async fn a_channels_queue_stays(db: Db) {
    let mut wa = setup(db).await;
    let (s, body) = wa
        .admin
        .delete(&format!("/api/v1/queues/{}", wa.queue))
        .await;
    assert_error(s, &body, 409, "queue_in_use");
    conversation(&mut wa, "4915777777777", "Kim").await;
    // Once the number routes elsewhere, the queue can go (when it holds no interactions).
    let other = queue(&wa.admin, json!({"name": "Other"})).await;
    let channel = string(&body["error"]["channel_id"]);
    wa.admin
        .patch_ok(
            &format!("/api/v1/channels/{channel}"),
            json!({"queue_id": other}),
        )
        .await;
    let empty = queue(&wa.admin, json!({"name": "Empty"})).await;
    let (s, body) = wa.admin.delete(&format!("/api/v1/queues/{empty}")).await;
    assert_eq!(s, 204, "{body}");
}

/// Two admins change different fields of one number at the same moment: both changes stay.
async fn concurrent_channel_changes_both_stay(db: Db) {
    let wa = setup(db).await;
    let (_, list) = wa.admin.get("/api/v1/channels").await;
    let channel = list[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a channel: {list}"))
        .to_owned();
    let path = format!("/api/v1/channels/{channel}");
    let other = wa.server.admin().await;
    for round in 0..20 {
        let display = format!("+49 30 {round:04}");
        let waba = format!("1000{round}");
        let (a, b) = tokio::join!(
            wa.admin
                .patch(&path, json!({"display_phone_number": display})),
            other.patch(&path, json!({"waba_id": waba})),
        );
        assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
        let (_, c) = wa.admin.get(&path).await;
        assert_eq!(
            (c["display_phone_number"].as_str(), c["waba_id"].as_str()),
            (Some(display.as_str()), Some(waba.as_str())),
            "round {round}: one change was lost"
        );
    }
}

on_every_backend!(
    concurrent_changes_of_a_channel_both_stay,
    concurrent_channel_changes_both_stay
);
on_every_backend!(
    a_customer_and_an_agent_talk_through_whatsapp,
    round_trip_and_handshake
);
on_every_backend!(
    bad_signatures_and_hostile_json_store_nothing,
    signatures_and_hostile_bodies
);
on_every_backend!(
    every_inbound_type_is_stored_once_despite_redelivery,
    every_type_once_despite_duplicates
);
on_every_backend!(
    the_outbox_recovers_from_an_outage_without_loss,
    outbox_survives_an_outage_in_order
);
on_every_backend!(
    an_accepted_send_is_sent_once_even_when_storing_it_fails_at_first,
    an_accepted_send_is_sent_once_when_storing_it_fails
);
on_every_backend!(
    a_send_outcome_the_store_never_takes_is_given_up_without_sending_again,
    an_outcome_the_store_never_takes_does_not_stop_the_outbox
);
on_every_backend!(
    permanent_send_errors_reach_the_agent_with_their_reason,
    permanent_errors_reach_the_agent
);
on_every_backend!(
    statuses_never_go_back_and_early_ones_are_kept,
    statuses_out_of_order_and_early
);
on_every_backend!(
    a_queue_a_number_routes_to_cannot_be_deleted,
    a_channels_queue_stays
);

async fn blank_sender_is_kept_raw(db: Db) {
    let wa = setup(db).await;
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "phone_number_id": DEFAULT_PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Val"}, "wa_id": "4917111"}],
        "messages": [
            {"from": " ", "id": "wamid.blank", "timestamp": "1700000000", "type": "text", "text": {"body": "who?"}},
            {"from": "4917111", "id": "wamid.valid", "timestamp": "1700000001", "type": "text", "text": {"body": "hi"}}
        ]}}]}]}))
    .expect("json");
    let r = post_signed_webhook(&wa.server, SECRET, body).await;
    assert_eq!(
        r.status().as_u16(),
        200,
        "one bad message does not cost the others"
    );
    let (_, all) = wa.admin.get("/api/v1/interactions?all=true").await;
    let list = all.as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["customer"]["wa_id"], "4917111");
}

on_every_backend!(
    a_message_without_a_sender_does_not_cost_the_others,
    blank_sender_is_kept_raw
);

async fn closing_text_only_with_a_real_end(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915666666666", "Ole").await;
    let v = wa
        .ann
        .act_with(&id, "end", json!({"text": "Goodbye!"}))
        .await;
    assert_eq!(v["state"], "wrap_up");
    let sent = wa
        .sim
        .wait_for_accepted(1, WAIT)
        .await
        .expect("the closing text is sent");
    assert_eq!(sent[0].text(), Some("Goodbye!"));
    // Ending again (already in wrap-up) is refused, and the text is not sent a second time.
    let (s, body) = wa
        .ann
        .try_act(&id, "end", json!({"text": "Goodbye again"}))
        .await;
    assert_error(s, &body, 409, "not_active");
    let (_, page) = wa.ann.messages(&id).await;
    let texts = texts(&page["messages"]);
    assert!(!texts.contains(&"Goodbye again"), "{texts:?}");
}

on_every_backend!(
    a_closing_text_goes_out_only_with_a_real_end,
    closing_text_only_with_a_real_end
);
