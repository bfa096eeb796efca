//! the external CRM: signed event webhooks from a durable queue (a receiver here records
//! every request and checks its signature), the operator endpoints, and the contact lookup.

use crate::support::*;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_server::services::crm::{self, LookupFailure, LookupOutcome};
use switchboard_server::{Clock, ManualClock, SystemClock};
use tokio::sync::watch;

const SECRET: &str = "crm-webhook-secret";
const LOOKUP_TOKEN: &str = "lookup-token-123";
/// Longer than any backoff: advancing the clock by this makes a retry due.
const PAST_BACKOFF_S: i64 = 31 * 60;

// ---------------------------------------------------------------- the receiver

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    body: Vec<u8>,
    headers: HeaderMap,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    /// Checks the signature over the raw bytes, and that the headers agree with the body.
    fn assert_signed(&self) {
        switchboard_channels::signature::verify_signature(
            SECRET.as_bytes(),
            &self.body,
            Some(&self.header("x-switchboard-signature-256")),
        )
        .expect("a valid X-Switchboard-Signature-256");
        let v = self.json();
        assert_eq!(self.header("x-switchboard-event"), v["type"], "{v}");
        assert_eq!(self.header("x-switchboard-delivery"), v["id"], "{v}");
        assert_eq!(self.header("content-type"), "application/json");
    }
}

struct ReceiverState {
    /// Statuses to answer, in order; then 200.
    script: Mutex<VecDeque<u16>>,
    got: watch::Sender<Vec<Delivery>>,
}

/// A CRM webhook receiver on 127.0.0.1.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let status = s.script.lock().expect("script").pop_front().unwrap_or(200);
    s.got.send_modify(|v| {
        v.push(Delivery {
            body: body.to_vec(),
            headers,
        })
    });
    // 0: answer far too late.
    let status = if status == 0 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        200
    } else {
        status
    };
    let status = StatusCode::from_u16(status).expect("status");
    (status, format!("receiver says {}", status.as_u16()))
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(ReceiverState {
            script: Mutex::new(VecDeque::new()),
            got: watch::Sender::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, state }
    }

    /// Answers the next requests with these statuses (then 200 again).
    fn answer(&self, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .expect("script")
            .extend(statuses.iter().copied());
    }

    fn got(&self) -> Vec<Delivery> {
        self.state.got.borrow().clone()
    }

    /// Waits until `n` requests arrived in all.
    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let mut rx = self.state.got.subscribe();
        let got = tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|v| v.len() >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} deliveries in time; got {:?}", self.got()))
            .expect("receiver open")
            .clone();
        got
    }
}

// ---------------------------------------------------------------- helpers

async fn start(db: Db, clock: ManualClock, receiver: Option<&Receiver>) -> Server {
    start_at(db, clock, receiver.map(|r| r.url.clone())).await
}

/// A server whose CRM webhook is `url` (a receiver's, or somewhere nobody listens).
async fn start_at(db: Db, clock: ManualClock, url: Option<String>) -> Server {
    let mut env = Vec::new();
    if let Some(url) = url {
        env.push(("SWITCHBOARD_CRM__WEBHOOK_URL", url));
        env.push(("SWITCHBOARD_CRM__WEBHOOK_SECRET", SECRET.to_owned()));
        env.push(("SWITCHBOARD_CRM__WEBHOOK_MAX_ATTEMPTS", "5".to_owned()));
        env.push(("SWITCHBOARD_CRM__WEBHOOK_TIMEOUT_MS", "500".to_owned()));
    }
    Server::start_full(db, clock, env, None).await
}

/// Waits until the server stored the outcome of `n` delivery attempts in all.
async fn attempts(server: &Server, n: u64) {
    let mut rx = server.state.crm.attempts.subscribe();
    tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|v| *v >= n))
        .await
        .unwrap_or_else(|_| panic!("{n} delivery attempts in time"))
        .expect("open");
}

struct Desk {
    admin: Api,
    ann: Api,
    ann_id: String,
    queue: String,
}

async fn desk(server: &Server) -> Desk {
    let admin = server.admin().await;
    let queue = queue(&admin, json!({"name": "Support", "post_processing_s": 0})).await;
    let ann_id = agent(&admin, "ann", 5, false, &[&queue]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    Desk {
        admin,
        ann,
        ann_id,
        queue,
    }
}

/// A customer writes, Ann accepts, answers, the customer thanks her, and Ann ends it.
async fn conversation(server: &Server, d: &Desk, wa_id: &str, name: &str) -> String {
    let id = server.ingest_id(&d.queue, wa_id, name, "hello").await;
    d.ann.act(&id, "accept").await;
    d.ann.reply(&id, "Hi, Ann here").await;
    server.ingest(&d.queue, wa_id, name, "thanks").await;
    d.ann.act(&id, "end").await;
    id
}

async fn events(admin: &Api, query: &str) -> Vec<Value> {
    let v = admin.get_ok(&format!("/api/v1/crm/events{query}")).await;
    v.as_array().expect("a list").clone()
}

// ---------------------------------------------------------------- webhooks

async fn ended_interaction_is_reported_once(db: Db) {
    let receiver = Receiver::start().await;
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let d = desk(&server).await;
    let first = conversation(&server, &d, "4915111111", "Ida").await;

    let got = receiver.wait_for(1).await;
    let e = &got[0];
    e.assert_signed();
    let v = e.json();
    assert_eq!(v["type"], "interaction.ended", "{v}");
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(v["created_at"].as_str().is_some(), "{v}");
    let it = &v["data"]["interaction"];
    let shown = d.ann.interaction(&first).await;
    assert_eq!(it["id"], first.as_str());
    assert_eq!(it["queue_id"], d.queue.as_str());
    assert_eq!(it["queue_name"], "Support");
    assert_eq!(it["channel_id"], "test-channel");
    assert_eq!(
        it["customer"],
        json!({"wa_id": "4915111111", "name": "Ida"})
    );
    assert!(it.get("contact_id").is_some(), "{it}");
    assert_eq!(it["agents"][0]["id"], d.ann_id.as_str());
    assert_eq!(it["agents"][0]["name"], "Ann");
    for t in ["created_at", "accepted_at", "ended_at"] {
        assert!(it[t].is_string(), "{t} in {it}");
        assert_eq!(it[t], shown[t], "{t} as the API shows it");
    }
    // The whole transcript, in order, with who wrote what.
    let transcript = v["data"]["transcript"].as_array().expect("transcript");
    let lines: Vec<(&str, &str, &str)> = transcript
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap_or(""),
                m["author"]["type"].as_str().unwrap_or(""),
                m["text"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("in", "customer", "hello"),
            ("out", "agent", "Hi, Ann here"),
            ("in", "customer", "thanks"),
            ("system", "system", "Ann ended the conversation"),
        ],
        "{v}"
    );
    assert_eq!(transcript[1]["author"]["name"], "Ann");
    assert_eq!(transcript[0]["author"]["name"], "Ida");
    for m in transcript {
        assert!(
            m["id"].is_string() && m["kind"].is_string() && m["created_at"].is_string(),
            "{m}"
        );
        assert!(m["status"].is_string(), "{m}");
    }

    // Wrapping up does not report it again: the next event the receiver gets is the next
    // interaction's (events go out in order, so a second report of the first would come first).
    d.ann.act(&first, "wrap-up").await;
    assert_eq!(d.ann.interaction(&first).await["state"], "done");
    // The wrap-up saves the chat log as a closed case, reported as `case.created`.
    let second = conversation(&server, &d, "4915222222", "Jon").await;
    let got = receiver.wait_for(3).await;
    got[1].assert_signed();
    let case = got[1].json();
    assert_eq!(case["type"], "case.created", "{case}");
    assert_eq!(case["data"]["case"]["interaction_id"], first.as_str());
    assert_eq!(case["data"]["case"]["state"], "closed");
    got[2].assert_signed();
    assert_eq!(got[2].json()["type"], "interaction.ended");
    assert_eq!(got[2].json()["data"]["interaction"]["id"], second.as_str());
    d.ann.act(&second, "wrap-up").await;
    attempts(&server, 4).await;

    // Operators see all four delivered, newest first.
    let list = events(&d.admin, "").await;
    assert_eq!(list.len(), 4, "{list:?}");
    assert_eq!(list[0]["type"], "case.created");
    assert_eq!(list[1]["data"]["interaction"]["id"], second.as_str());
    assert_eq!(list[3]["id"], v["id"]);
    for e in &list {
        assert_eq!(e["state"], "delivered", "{e}");
        assert_eq!(e["attempts"], 1, "{e}");
        assert!(e["delivered_at"].is_string(), "{e}");
        assert!(e["last_error"].is_null(), "{e}");
    }
    assert_eq!(events(&d.admin, "?state=pending").await.len(), 0);
    assert_eq!(events(&d.admin, "?state=delivered&limit=1").await.len(), 1);
    let (s, b) = d.admin.get("/api/v1/crm/events?state=lost").await;
    assert_error(s, &b, 400, "invalid_state");
    let (s, b) = d.admin.get("/api/v1/crm/events?limit=0").await;
    assert_error(s, &b, 400, "invalid_limit");

    let (_, _, metrics) = server.anon().get_bytes("/metrics").await;
    let metrics = String::from_utf8(metrics).expect("text");
    for line in [
        "switchboard_crm_events{state=\"delivered\"} 4",
        "switchboard_crm_events{state=\"pending\"} 0",
        "switchboard_crm_events{state=\"dead\"} 0",
        "switchboard_crm_webhook_attempts_total 4",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

on_every_backend!(
    an_ended_interaction_is_reported_once_signed_with_its_transcript,
    ended_interaction_is_reported_once
);

async fn failing_receiver_gets_events_later(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 503, 429]);
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let d = desk(&server).await;
    let first = conversation(&server, &d, "4915333333", "Kai").await;
    let second = conversation(&server, &d, "4915444444", "Lea").await;

    // Three failed attempts of the first; the second waits behind it.
    for n in 1..=3 {
        attempts(&server, n).await;
        assert_eq!(receiver.got().len(), n as usize);
        let list = events(&d.admin, "?state=pending").await;
        assert_eq!(list.len(), 2, "both still pending: {list:?}");
        let head = &list[1];
        assert_eq!(head["data"]["interaction"]["id"], first.as_str());
        assert_eq!(head["attempts"], n, "{head}");
        assert!(
            head["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("HTTP 5") || e.starts_with("HTTP 429")),
            "{head}"
        );
        assert!(head["next_attempt_at"].is_string(), "{head}");
        assert_eq!(list[0]["attempts"], 0, "the later event waits: {}", list[0]);
        server.clock.advance_secs(PAST_BACKOFF_S);
    }
    // Then both, in order.
    let got = receiver.wait_for(5).await;
    attempts(&server, 5).await;
    let ids: Vec<String> = got
        .iter()
        .map(|g| {
            g.assert_signed();
            g.json()["data"]["interaction"]["id"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            first.clone(),
            first.clone(),
            first.clone(),
            first.clone(),
            second.clone()
        ]
    );
    for g in &got[1..4] {
        assert_eq!(g.body, got[0].body, "every retry sends the same bytes");
        assert_eq!(
            g.header("x-switchboard-delivery"),
            got[0].header("x-switchboard-delivery")
        );
    }
    assert_ne!(
        got[4].header("x-switchboard-delivery"),
        got[0].header("x-switchboard-delivery")
    );
    let list = events(&d.admin, "?state=delivered").await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["attempts"], 4, "{}", list[1]);
    assert_eq!(list[0]["attempts"], 1, "{}", list[0]);
}

on_every_backend!(
    a_failing_receiver_gets_the_events_later_in_order_with_the_same_bytes,
    failing_receiver_gets_events_later
);

async fn refused_event_is_dead_until_retried(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer(&[400]);
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let d = desk(&server).await;
    let first = conversation(&server, &d, "4915555555", "Mia").await;
    attempts(&server, 1).await;
    let dead = events(&d.admin, "?state=dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let id = dead[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(dead[0]["attempts"], 1);
    let reason = dead[0]["last_error"].as_str().expect("a reason");
    assert!(
        reason.contains("HTTP 400") && reason.contains("receiver says 400"),
        "{reason}"
    );

    // A dead event holds nothing up.
    let second = conversation(&server, &d, "4915666666", "Noa").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["interaction"]["id"], second.as_str());
    attempts(&server, 2).await;

    // Only a dead event can be retried; an unknown one is not found.
    let delivered = events(&d.admin, "?state=delivered").await;
    let other = delivered[0]["id"].as_str().expect("id");
    let (s, b) = d
        .admin
        .post(&format!("/api/v1/crm/events/{other}/retry"), json!({}))
        .await;
    assert_error(s, &b, 409, "not_dead");
    let (s, b) = d
        .admin
        .post("/api/v1/crm/events/evt_missing/retry", json!({}))
        .await;
    assert_error(s, &b, 404, "not_found");

    // The operator revives it: delivered, the same bytes and delivery id as before.
    let v = d
        .admin
        .ok(&format!("/api/v1/crm/events/{id}/retry"), json!({}))
        .await;
    assert_eq!(v["state"], "pending", "{v}");
    assert_eq!(v["attempts"], 0, "{v}");
    let got = receiver.wait_for(3).await;
    attempts(&server, 3).await;
    got[2].assert_signed();
    assert_eq!(got[2].body, got[0].body);
    assert_eq!(got[2].header("x-switchboard-delivery"), id);
    assert_eq!(got[2].json()["data"]["interaction"]["id"], first.as_str());
    assert!(events(&d.admin, "?state=dead").await.is_empty());
    let (s, b) = d
        .admin
        .post(&format!("/api/v1/crm/events/{id}/retry"), json!({}))
        .await;
    assert_error(s, &b, 409, "not_dead");
}

on_every_backend!(
    a_refused_event_is_dead_until_an_operator_retries_it,
    refused_event_is_dead_until_retried
);

async fn out_of_attempts_is_dead(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 5]);
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let d = desk(&server).await;
    conversation(&server, &d, "4915777000", "Ola").await;
    for n in 1..=5 {
        attempts(&server, n).await;
        server.clock.advance_secs(PAST_BACKOFF_S);
    }
    let dead = events(&d.admin, "?state=dead").await;
    assert_eq!(dead.len(), 1, "dead after webhook_max_attempts = 5");
    assert_eq!(dead[0]["attempts"], 5);
    assert!(
        dead[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after 5 attempts") && e.contains("HTTP 500")),
        "{}",
        dead[0]
    );
    assert_eq!(receiver.got().len(), 5);
}

on_every_backend!(
    an_event_is_dead_after_the_last_attempt,
    out_of_attempts_is_dead
);

async fn pending_survive_restart(db: Db) {
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let clock = ManualClock::new(SystemClock.now());
    let mut server = start(db.clone(), clock.clone(), Some(&receiver)).await;
    let d = desk(&server).await;
    let id = conversation(&server, &d, "4915888888", "Pia").await;
    attempts(&server, 1).await;
    assert_eq!(events(&d.admin, "?state=pending").await.len(), 1);

    server.stop().await;
    clock.advance_secs(PAST_BACKOFF_S);
    let server = start(db, clock, Some(&receiver)).await;
    let got = receiver.wait_for(2).await;
    attempts(&server, 1).await;
    got[1].assert_signed();
    assert_eq!(got[1].body, got[0].body, "the stored body is sent again");
    assert_eq!(got[1].json()["data"]["interaction"]["id"], id.as_str());
    let admin = server.admin().await;
    let list = events(&admin, "").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "delivered", "{}", list[0]);
    assert_eq!(list[0]["attempts"], 2);
}

on_every_backend!(
    pending_events_are_delivered_after_a_restart,
    pending_survive_restart
);

async fn silent_receivers_are_retried(db: Db) {
    // Nobody listens at first.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hooks", l.local_addr().expect("addr"))
    };
    let clock = ManualClock::new(SystemClock.now());
    let mut server = start_at(db.clone(), clock.clone(), Some(closed)).await;
    let d = desk(&server).await;
    let id = conversation(&server, &d, "4915123123", "Uma").await;
    attempts(&server, 1).await;
    let list = events(&d.admin, "?state=pending").await;
    assert_eq!(list.len(), 1, "still pending: {list:?}");
    assert!(
        list[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")),
        "{}",
        list[0]
    );

    // Then a receiver that answers too late: tried again.
    let receiver = Receiver::start().await;
    receiver.answer(&[0]);
    server.stop().await;
    clock.advance_secs(PAST_BACKOFF_S);
    let server = start(db, clock.clone(), Some(&receiver)).await;
    attempts(&server, 1).await;
    let admin = server.admin().await;
    let list = events(&admin, "?state=pending").await;
    assert_eq!(list[0]["attempts"], 2, "{}", list[0]);
    assert!(
        list[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("in time")),
        "{}",
        list[0]
    );
    clock.advance_secs(PAST_BACKOFF_S);
    let got = receiver.wait_for(2).await;
    attempts(&server, 2).await;
    assert_eq!(got[1].body, got[0].body);
    assert_eq!(got[1].json()["data"]["interaction"]["id"], id.as_str());
    assert_eq!(events(&admin, "?state=delivered").await.len(), 1);
}

on_every_backend!(
    unreachable_and_slow_receivers_are_tried_again,
    silent_receivers_are_retried
);

async fn nothing_when_not_configured(db: Db) {
    let server = start(db, ManualClock::new(SystemClock.now()), None).await;
    assert!(!server.state.crm.webhooks_enabled());
    let d = desk(&server).await;
    let id = conversation(&server, &d, "4915999999", "Rio").await;
    d.ann.act(&id, "wrap-up").await;
    // Other code enqueues through the same attachment: dropped too.
    server
        .state
        .core
        .store(switchboard_server::runtime::core::Attach {
            crm_events: vec![crm::event(
                crm::CONTACT_CREATED,
                json!({"contact": {"id": "c1"}}),
                server.clock.now(),
            )],
            ..Default::default()
        })
        .await
        .expect("stored");
    assert!(events(&d.admin, "").await.is_empty(), "nothing enqueued");
    assert_eq!(
        crm::lookup(&server.state.crm, &server.state.metrics, "+4915999999").await,
        LookupOutcome::NotConfigured
    );
}

on_every_backend!(
    nothing_is_enqueued_or_looked_up_when_not_configured,
    nothing_when_not_configured
);

async fn other_kinds_are_delivered(db: Db) {
    let receiver = Receiver::start().await;
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let data = json!({"contact": {"id": "c42", "name": "Ida", "phones": ["+4915111111"]}});
    server
        .state
        .core
        .store(switchboard_server::runtime::core::Attach {
            crm_events: vec![crm::event(
                crm::CONTACT_CREATED,
                data.clone(),
                server.clock.now(),
            )],
            ..Default::default()
        })
        .await
        .expect("stored");
    let got = receiver.wait_for(1).await;
    got[0].assert_signed();
    assert_eq!(got[0].header("x-switchboard-event"), "contact.created");
    assert_eq!(got[0].json()["data"], data);
}

on_every_backend!(
    any_kind_of_event_is_delivered_as_given,
    other_kinds_are_delivered
);

// ---------------------------------------------------------------- lookup

/// A CRM lookup endpoint whose answer depends on the number asked for.
async fn crm_stub() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let asked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = asked.clone();
    let app = axum::Router::new().route(
        "/contacts",
        axum::routing::get(
            move |Query(q): Query<HashMap<String, String>>, headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let phone = q.get("phone").cloned().unwrap_or_default();
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    seen.lock().expect("log").push((phone.clone(), auth));
                    match phone.as_str() {
                        "+4911" => (
                            StatusCode::OK,
                            json!({"contacts": [{"id": 17, "name": "Ida Kranz", "email": "ida@example.org",
                                "phones": ["+4911"], "url": "https://crm.example/c/17",
                                "fields": {"tier": "gold"}}]})
                            .to_string(),
                        ),
                        "+4922" => (
                            StatusCode::OK,
                            json!([{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]).to_string(),
                        ),
                        "+4933" => (StatusCode::OK, "[]".to_owned()),
                        "+4944" => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            (StatusCode::OK, "[]".to_owned())
                        }
                        "+4955" => (StatusCode::OK, "<html>not json</html>".to_owned()),
                        "+4966" => (StatusCode::OK, json!({"contacts": [{"name": "no id"}]}).to_string()),
                        "+4977" => (StatusCode::OK, format!("[{}]", "{\"id\":1,\"name\":\"x\"},".repeat(20_000) + "{\"id\":2,\"name\":\"y\"}")),
                        _ => (StatusCode::SERVICE_UNAVAILABLE, "down".to_owned()),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, asked)
}

async fn lookups(db: Db) {
    let (base, asked) = crm_stub().await;
    let env = vec![
        (
            "SWITCHBOARD_CRM__LOOKUP_URL",
            format!("{base}/contacts?phone={{phone}}"),
        ),
        ("SWITCHBOARD_CRM__LOOKUP_TOKEN", LOOKUP_TOKEN.to_owned()),
        ("SWITCHBOARD_CRM__LOOKUP_TIMEOUT_MS", "300".to_owned()),
    ];
    let server = Server::start_with_env(db, env).await;
    let st = &server.state;

    // Found, in the wrapped shape; the number goes with its `+` (percent-encoded on the way).
    match crm::lookup(&st.crm, &st.metrics, "+4911").await {
        LookupOutcome::Found(c) => {
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].id, "17");
            assert_eq!(c[0].name, "Ida Kranz");
            assert_eq!(c[0].email.as_deref(), Some("ida@example.org"));
            assert_eq!(c[0].phones, vec!["+4911".to_owned()]);
            assert_eq!(c[0].url.as_deref(), Some("https://crm.example/c/17"));
            assert_eq!(c[0].fields["tier"], "gold");
        }
        other => panic!("expected a contact, got {other:?}"),
    }
    assert_eq!(
        asked.lock().expect("log")[0],
        ("+4911".to_owned(), format!("Bearer {LOOKUP_TOKEN}"))
    );
    // A WhatsApp id without `+` is asked for as E.164.
    match crm::lookup(&st.crm, &st.metrics, "4922").await {
        LookupOutcome::Found(c) => {
            assert_eq!(
                c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                ["a", "b"]
            )
        }
        other => panic!("expected two contacts, got {other:?}"),
    }
    assert_eq!(
        crm::lookup(&st.crm, &st.metrics, "+4933").await,
        LookupOutcome::Found(vec![])
    );

    // Failures, each with its reason, quickly.
    let started = std::time::Instant::now();
    assert_eq!(
        crm::lookup(&st.crm, &st.metrics, "+4944").await,
        LookupOutcome::Failed(LookupFailure::Timeout(300))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up at the timeout"
    );
    for (number, what) in [("+4955", "not JSON"), ("+4966", "a contact without id")] {
        match crm::lookup(&st.crm, &st.metrics, number).await {
            LookupOutcome::Failed(LookupFailure::BadAnswer(reason)) => {
                assert!(!reason.is_empty(), "{what}")
            }
            other => panic!("{what}: expected a bad answer, got {other:?}"),
        }
    }
    assert_eq!(
        crm::lookup(&st.crm, &st.metrics, "+4977").await,
        LookupOutcome::Failed(LookupFailure::TooLarge)
    );
    assert_eq!(
        crm::lookup(&st.crm, &st.metrics, "+4999").await,
        LookupOutcome::Failed(LookupFailure::Status(503))
    );

    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut config = server.state.config.crm.clone();
    config.lookup_url = Some(format!("http://{closed}/contacts?phone={{phone}}"));
    match crm::lookup::lookup_with(&reqwest::Client::new(), &config, "+4911").await {
        LookupOutcome::Failed(LookupFailure::Unreachable(_)) => {}
        other => panic!("expected unreachable, got {other:?}"),
    }

    let (_, _, metrics) = server.anon().get_bytes("/metrics").await;
    let metrics = String::from_utf8(metrics).expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "switchboard_crm_lookup_failures_total 5"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "switchboard_crm_lookups_total 3"),
        "{metrics}"
    );
}

on_every_backend!(
    the_contact_lookup_finds_times_out_refuses_bad_answers_and_reports_why,
    lookups
);

async fn contacts_and_cases_are_reported(db: Db) {
    let receiver = Receiver::start().await;
    let server = start(db, ManualClock::new(SystemClock.now()), Some(&receiver)).await;
    let d = desk(&server).await;
    // A new customer becomes a contact, reported before anything else of theirs.
    let id = conversation(&server, &d, "4915199990000", "Lea Long").await;
    let got = receiver.wait_for(2).await;
    let created = got[0].json();
    got[0].assert_signed();
    assert_eq!(created["type"], "contact.created", "{created}");
    assert_eq!(created["data"]["contact"]["name"], "Lea Long");
    assert_eq!(
        created["data"]["contact"]["phones"][0]["number"],
        "+4915199990000"
    );
    let contact = string(&created["data"]["contact"]["id"]);
    assert_eq!(got[1].json()["type"], "interaction.ended");
    assert_eq!(
        got[1].json()["data"]["interaction"]["contact_id"],
        contact.as_str()
    );
    // So is a contact an agent creates, and the case the wrap-up closes.
    let (s, v) = d
        .ann
        .post(
            "/api/v1/contacts",
            json!({"name": "Max Mohr", "phones": ["+4915199990001"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    d.ann.act(&id, "wrap-up").await;
    let got = receiver.wait_for(4).await;
    let kinds: Vec<String> = got
        .iter()
        .map(|g| g.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "contact.created",
            "interaction.ended",
            "contact.created",
            "case.created"
        ]
    );
    assert_eq!(got[2].json()["data"]["contact"]["id"], v["id"]);
    let case = got[3].json();
    assert_eq!(case["data"]["case"]["contact_id"], contact.as_str());
    assert_eq!(case["data"]["case"]["interaction_id"], id.as_str());
}

on_every_backend!(
    new_contacts_and_closed_cases_are_reported,
    contacts_and_cases_are_reported
);
