//! The simulator as Switchboard sees it: a fake Cloud API on one side, signed webhooks to a
//! stand-in for Switchboard's `/webhooks/whatsapp` on the other. The stand-in checks every
//! signature over the raw bytes and records what it got; tests await what they expect from it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use switchboard_simulator::{
    default_templates, verify_signature, ChattyConfig, ContactCard, ErrorDelivery, PairRate,
    SendFailure, SimError, Simulator, SimulatorConfig, SimulatorHandle, StandaloneConfig,
    StatusTimings, DEFAULT_ACCESS_TOKEN, DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_WABA_ID, TINY_PNG,
};
use tokio::sync::watch;

const SECRET: &str = "test-app-secret";
const WAIT: Duration = Duration::from_secs(10);
const CUSTOMER: &str = "16315551234";

// ---- the stand-in for Switchboard's webhook ----------------------------------------------------

#[derive(Clone, Debug)]
struct Received {
    body: Value,
    signature_ok: bool,
}

#[derive(Clone)]
struct StandIn {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    changed: watch::Sender<usize>,
    /// Answer 500 to this many of the next requests.
    fail_next: Arc<AtomicUsize>,
}

async fn webhook(State(stand_in): State<StandIn>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signature_ok = verify_signature(SECRET, &body, signature);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    stand_in.received.lock().expect("lock").push(Received {
        body: parsed,
        signature_ok,
    });
    stand_in.changed.send_modify(|n| *n += 1);
    if !signature_ok {
        return StatusCode::UNAUTHORIZED;
    }
    let failing = stand_in
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl StandIn {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let stand_in = StandIn {
            url: format!("http://{addr}/webhooks/whatsapp"),
            received: Arc::new(Mutex::new(Vec::new())),
            changed: watch::Sender::new(0),
            fail_next: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/webhooks/whatsapp", post(webhook))
            .with_state(stand_in.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stand-in serves");
        });
        stand_in
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until `check` finds what it wants in everything received so far.
    async fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&[Received]) -> Option<T>) -> T {
        let mut changes = self.changed.subscribe();
        let found = tokio::time::timeout(WAIT, async {
            loop {
                changes.borrow_and_update();
                if let Some(found) = check(&self.received()) {
                    return found;
                }
                changes.changed().await.expect("stand-in alive");
            }
        })
        .await;
        match found {
            Ok(found) => found,
            Err(_) => panic!(
                "timed out waiting for {what}; received: {:#?}",
                self.received()
            ),
        }
    }

    /// Waits for `n` status webhooks about `wamid`; returns (status, status object) in arrival order.
    async fn statuses_of(&self, wamid: &str, n: usize) -> Vec<(String, Value)> {
        self.wait_for(&format!("{n} statuses of {wamid}"), |all| {
            let found: Vec<(String, Value)> = all
                .iter()
                .flat_map(|r| statuses(&r.body))
                .filter(|s| s["id"] == wamid)
                .map(|s| (s["status"].as_str().unwrap_or_default().to_owned(), s))
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
    }

    /// Waits for `n` customer messages; returns the full envelopes.
    async fn messages(&self, n: usize) -> Vec<Value> {
        self.wait_for(&format!("{n} messages"), |all| {
            let found: Vec<Value> = all
                .iter()
                .filter(|r| {
                    r.body
                        .pointer("/entry/0/changes/0/value/messages")
                        .is_some()
                })
                .map(|r| r.body.clone())
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
    }
}

fn statuses(body: &Value) -> Vec<Value> {
    body.pointer("/entry/0/changes/0/value/statuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

// ---- harness -----------------------------------------------------------------------------------

struct Harness {
    sim: SimulatorHandle,
    stand_in: StandIn,
    http: reqwest::Client,
}

async fn harness(configure: impl FnOnce(&mut SimulatorConfig)) -> Harness {
    let stand_in = StandIn::start().await;
    let mut config = SimulatorConfig::new(stand_in.url.clone(), SECRET);
    config.statuses = StatusTimings {
        sent: Duration::from_millis(20),
        delivered: Some(Duration::from_millis(20)),
        read: Some(Duration::from_millis(20)),
    };
    config.webhook_retry_backoff = Duration::from_millis(10);
    configure(&mut config);
    let sim = Simulator::start(config).await.expect("simulator starts");
    Harness {
        sim,
        stand_in,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    fn messages_url(&self) -> String {
        format!(
            "{}/{DEFAULT_PHONE_NUMBER_ID}/messages",
            self.sim.graph_api_base()
        )
    }

    async fn post_as(&self, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.http.post(url).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("simulator reachable");
        let status = response.status().as_u16();
        let json = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, json)
    }

    async fn send(&self, body: &Value) -> (u16, Value) {
        self.post_as(&self.messages_url(), Some(DEFAULT_ACCESS_TOKEN), body)
            .await
    }

    async fn get(&self, url: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("simulator reachable")
    }

    /// The customer writes, opening the 24-hour window.
    async fn open_window(&self, wa_id: &str) {
        let written = self
            .sim
            .customer(wa_id, "Kerry Fisher")
            .send_text("Hello")
            .await
            .expect("webhook reachable");
        assert_eq!(written.status, 200);
    }
}

fn text_to(to: &str, body: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "body": body },
    })
}

fn template_to(to: &str, name: &str, components: Value) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": { "name": name, "language": { "code": "en_US" }, "components": components },
    })
}

/// Asserts a Graph error answer: status, code, and the documented shape.
fn assert_graph_error(answer: &(u16, Value), status: u16, code: i64) {
    let (got_status, body) = answer;
    assert_eq!(*got_status, status, "HTTP status of {body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "error code of {body}");
    assert!(error["message"].is_string(), "message in {body}");
    assert!(error["type"].is_string(), "type in {body}");
    assert!(error["fbtrace_id"].is_string(), "fbtrace_id in {body}");
    assert_eq!(error["error_data"]["messaging_product"], "whatsapp");
    assert!(
        error["error_data"]["details"].is_string(),
        "details in {body}"
    );
}

fn wamid_of(answer: &(u16, Value)) -> String {
    assert_eq!(answer.0, 200, "send accepted: {}", answer.1);
    answer.1["messages"][0]["id"]
        .as_str()
        .expect("a wamid")
        .to_owned()
}

fn assert_envelope(body: &Value) -> &Value {
    assert_eq!(body["object"], "whatsapp_business_account");
    assert_eq!(body["entry"][0]["id"], DEFAULT_WABA_ID);
    let change = &body["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    let value = &change["value"];
    assert_eq!(value["messaging_product"], "whatsapp");
    assert_eq!(
        value["metadata"]["phone_number_id"],
        DEFAULT_PHONE_NUMBER_ID
    );
    assert_eq!(
        value["metadata"]["display_phone_number"],
        DEFAULT_DISPLAY_PHONE_NUMBER
    );
    value
}

fn is_unix_seconds_string(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|t| t > 1_600_000_000)
}

// ---- sends and statuses ------------------------------------------------------------------------

#[tokio::test]
async fn an_accepted_send_is_followed_by_signed_sent_delivered_read_statuses() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;

    let answer = h.send(&text_to(&format!("+{CUSTOMER}"), "Hi Kerry!")).await;
    let wamid = wamid_of(&answer);
    assert!(wamid.starts_with("wamid."));
    assert_eq!(answer.1["messaging_product"], "whatsapp");
    assert_eq!(answer.1["contacts"][0]["input"], format!("+{CUSTOMER}"));
    assert_eq!(answer.1["contacts"][0]["wa_id"], CUSTOMER);

    let got = h.stand_in.statuses_of(&wamid, 3).await;
    let order: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(order, ["sent", "delivered", "read"]);
    for (status, object) in &got {
        assert_eq!(object["recipient_id"], CUSTOMER);
        assert!(is_unix_seconds_string(&object["timestamp"]), "{object}");
        match status.as_str() {
            "sent" | "delivered" => {
                assert!(object["conversation"]["id"].is_string());
                assert_eq!(object["conversation"]["origin"]["type"], "service");
                assert_eq!(object["pricing"]["category"], "service");
                assert_eq!(object["pricing"]["pricing_model"], "PMP");
                assert!(object["pricing"]["billable"].is_boolean());
            }
            _ => assert!(object.get("pricing").is_none()),
        }
    }
    assert!(is_unix_seconds_string(
        &got[0].1["conversation"]["expiration_timestamp"]
    ));
    for received in h.stand_in.received() {
        assert!(received.signature_ok);
        assert_envelope(&received.body);
        assert!(received
            .body
            .pointer("/entry/0/changes/0/value/contacts")
            .is_none_or(|c| c.is_array()));
    }

    let sent = h.sim.wait_for_sent(1, WAIT).await.expect("recorded");
    assert_eq!(sent[0].phone_number_id, DEFAULT_PHONE_NUMBER_ID);
    assert_eq!(sent[0].token, DEFAULT_ACCESS_TOKEN);
    assert_eq!(sent[0].text(), Some("Hi Kerry!"));
    assert_eq!(sent[0].wamid(), Some(wamid.as_str()));
    let read = h
        .sim
        .wait_for_status(&wamid, "read", WAIT)
        .await
        .expect("read acknowledged");
    assert_eq!(read.http_status, Some(200));
}

#[tokio::test]
async fn bad_or_missing_tokens_get_401_code_190() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    let body = text_to(CUSTOMER, "hi");
    let wrong = h.post_as(&h.messages_url(), Some("nope"), &body).await;
    assert_graph_error(&wrong, 401, 190);
    assert_eq!(wrong.1["error"]["type"], "OAuthException");
    let missing = h.post_as(&h.messages_url(), None, &body).await;
    assert_graph_error(&missing, 401, 190);

    let other_number = format!("{}/999999999/messages", h.sim.graph_api_base());
    let unknown = h
        .post_as(&other_number, Some(DEFAULT_ACCESS_TOKEN), &body)
        .await;
    assert_graph_error(&unknown, 400, 100);

    let sent = h.sim.sent_messages();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].token, "nope");
    assert!(sent.iter().all(|s| s.wamid().is_none()));
}

/// `GET /{phone_number_id}`: the number's fields for its own token (what a connection check
/// reads), 190 for a wrong one; an id that is neither a number nor a media is "does not exist".
#[tokio::test]
async fn a_phone_number_answers_its_fields_to_its_own_token() {
    let h = harness(|_| {}).await;
    let url = format!("{}/{DEFAULT_PHONE_NUMBER_ID}", h.sim.graph_api_base());
    let ok = h.get(&url, Some(DEFAULT_ACCESS_TOKEN)).await;
    assert_eq!(ok.status().as_u16(), 200);
    let v: Value = ok.json().await.expect("json");
    assert_eq!(v["id"], DEFAULT_PHONE_NUMBER_ID);
    assert_eq!(v["verified_name"], "Switchboard Test Business");
    assert_eq!(v["quality_rating"], "GREEN");
    assert!(v["display_phone_number"]
        .as_str()
        .is_some_and(|d| d.starts_with('+')));
    let wrong = h.get(&url, Some("nope")).await;
    let status = wrong.status().as_u16();
    let body: Value = wrong.json().await.expect("json");
    assert_graph_error(&(status, body), 401, 190);
    let missing = h
        .get(
            &format!("{}/123456", h.sim.graph_api_base()),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
    let status = missing.status().as_u16();
    let body: Value = missing.json().await.expect("json");
    assert_graph_error(&(status, body), 400, 100);
}

#[tokio::test]
async fn malformed_sends_get_code_100_or_131009() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;

    let longest = h.send(&text_to(CUSTOMER, &"é".repeat(4096))).await;
    assert_eq!(longest.0, 200, "4096 characters are allowed: {}", longest.1);
    let too_long = h.send(&text_to(CUSTOMER, &"a".repeat(4097))).await;
    assert_graph_error(&too_long, 400, 100);

    let mut no_product = text_to(CUSTOMER, "hi");
    no_product
        .as_object_mut()
        .expect("object")
        .remove("messaging_product");
    assert_graph_error(&h.send(&no_product).await, 400, 100);
    let unknown_type =
        json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"hologram","hologram":{}});
    assert_graph_error(&h.send(&unknown_type).await, 400, 100);
    let bad_number = text_to("call me", "hi");
    assert_graph_error(&h.send(&bad_number).await, 400, 100);
    let long_caption = json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"image",
        "image":{"link":"https://example.com/a.png","caption":"c".repeat(1025)}});
    assert_graph_error(&h.send(&long_caption).await, 400, 100);
    let unknown_media = json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"image",
        "image":{"id":"123456"}});
    assert_graph_error(&h.send(&unknown_media).await, 400, 100);

    let buttons = |n: usize, title: &str| {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"type":"reply","reply":{"id":format!("b{i}"),"title":format!("{title}{i}")}}))
            .collect();
        json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"interactive",
            "interactive":{"type":"button","body":{"text":"Pick one"},"action":{"buttons":list}}})
    };
    assert_eq!(h.send(&buttons(3, "Option ")).await.0, 200);
    assert_graph_error(&h.send(&buttons(4, "Option ")).await, 400, 131009);
    assert_graph_error(
        &h.send(&buttons(1, "A title far longer than twenty")).await,
        400,
        131009,
    );

    let reaction = json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"reaction",
        "reaction":{"message_id":"wamid.X","emoji":"👍"}});
    assert_eq!(h.send(&reaction).await.0, 200);
}

#[tokio::test]
async fn outside_the_24_hour_window_sends_get_131047_but_templates_pass() {
    let h = harness(|_| {}).await;
    let never_wrote = h.send(&text_to("15550001111", "hello?")).await;
    assert_graph_error(&never_wrote, 400, 131047);

    h.open_window(CUSTOMER).await;
    h.sim.clock().advance(Duration::from_secs(23 * 3600));
    assert_eq!(h.send(&text_to(CUSTOMER, "still open")).await.0, 200);
    h.sim.clock().advance(Duration::from_secs(2 * 3600));
    let closed = h.send(&text_to(CUSTOMER, "too late")).await;
    assert_graph_error(&closed, 400, 131047);
    assert_eq!(
        closed.1["error"]["message"],
        "(#131047) Re-engagement message"
    );

    let template = template_to(
        CUSTOMER,
        "order_update",
        json!([{"type":"body","parameters":[{"type":"text","text":"A-17"}]}]),
    );
    let answer = h.send(&template).await;
    let wamid = wamid_of(&answer);
    assert_eq!(answer.1["messages"][0]["message_status"], "accepted");
    let got = h.stand_in.statuses_of(&wamid, 1).await;
    assert_eq!(got[0].1["pricing"]["category"], "utility");
    assert_eq!(got[0].1["pricing"]["billable"], true);

    // Writing again reopens it.
    h.open_window(CUSTOMER).await;
    assert_eq!(h.send(&text_to(CUSTOMER, "welcome back")).await.0, 200);
}

#[tokio::test]
async fn undeliverable_numbers_get_131026_in_the_answer_or_as_a_failed_status() {
    let h = harness(|c| c.undeliverable = vec!["15559990000".into()]).await;
    h.open_window("15559990000").await;
    assert_graph_error(&h.send(&text_to("15559990000", "hi")).await, 400, 131026);
    h.open_window("15559990001").await;
    h.sim.faults().add_undeliverable("15559990001");
    assert_graph_error(&h.send(&text_to("15559990001", "hi")).await, 400, 131026);

    let h = harness(|c| {
        c.undeliverable = vec!["15559990000".into()];
        c.policy_errors = ErrorDelivery::StatusWebhook;
    })
    .await;
    h.open_window("15559990000").await;
    let wamid = wamid_of(&h.send(&text_to("15559990000", "hi")).await);
    let got = h.stand_in.statuses_of(&wamid, 1).await;
    assert_eq!(got[0].0, "failed");
    let error = &got[0].1["errors"][0];
    assert_eq!(error["code"], 131026);
    assert!(error["title"].is_string());
    assert!(error["error_data"]["details"].is_string());
    assert!(error["href"].is_string());
    assert!(got[0].1.get("pricing").is_none());
}

// ---- faults ------------------------------------------------------------------------------------

#[tokio::test]
async fn fault_next_sends_answer_5xx_then_service_resumes() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().fail_next(2, SendFailure::ServerError);
    let first = h.send(&text_to(CUSTOMER, "one")).await;
    assert_graph_error(&first, 500, 131000);
    assert_graph_error(&h.send(&text_to(CUSTOMER, "one")).await, 500, 131000);
    wamid_of(&h.send(&text_to(CUSTOMER, "one")).await);

    h.sim
        .faults()
        .fail_percent(100, SendFailure::ServiceUnavailable);
    assert_graph_error(&h.send(&text_to(CUSTOMER, "two")).await, 503, 2);
    h.sim.faults().clear();
    wamid_of(&h.send(&text_to(CUSTOMER, "two")).await);

    let sent = h.sim.wait_for_sent(5, WAIT).await.expect("five requests");
    let codes: Vec<Option<i64>> = sent.iter().map(|s| s.error_code()).collect();
    assert_eq!(codes, [Some(131000), Some(131000), None, Some(2), None]);
    assert_eq!(h.sim.accepted_messages().len(), 2);
}

#[tokio::test]
async fn fault_rate_limits_and_re_engagement_answer_their_codes() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().fail_next(1, SendFailure::Throughput);
    h.sim.faults().fail_next(1, SendFailure::PairRate);
    h.sim.faults().fail_next(1, SendFailure::ReEngagement);
    assert_graph_error(&h.send(&text_to(CUSTOMER, "a")).await, 400, 130429);
    assert_graph_error(&h.send(&text_to(CUSTOMER, "a")).await, 400, 131056);
    assert_graph_error(&h.send(&text_to(CUSTOMER, "a")).await, 400, 131047);
    wamid_of(&h.send(&text_to(CUSTOMER, "a")).await);
}

#[tokio::test]
async fn real_throughput_and_pair_rate_limits_are_enforced() {
    let h = harness(|c| {
        c.throughput_per_second = 3;
        c.pair_rate = PairRate {
            burst: 2,
            interval: Duration::from_secs(600),
        };
    })
    .await;
    for wa_id in ["15550000001", "15550000002"] {
        h.open_window(wa_id).await;
    }
    let started = Instant::now();
    wamid_of(&h.send(&text_to("15550000001", "1")).await);
    wamid_of(&h.send(&text_to("15550000001", "2")).await);
    assert_graph_error(&h.send(&text_to("15550000001", "3")).await, 400, 131056);
    wamid_of(&h.send(&text_to("15550000002", "1")).await);
    let throttled = h.send(&text_to("15550000002", "2")).await;
    if started.elapsed() < Duration::from_millis(900) {
        assert_graph_error(&throttled, 400, 130429);
    }
}

#[tokio::test]
async fn fault_latency_delays_answers() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().set_latency(Duration::from_millis(300));
    let started = Instant::now();
    wamid_of(&h.send(&text_to(CUSTOMER, "slow")).await);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn fault_duplicate_webhooks_posts_everything_twice() {
    let h = harness(|_| {}).await;
    h.sim.faults().set_duplicate_webhooks(true);
    let written = h
        .sim
        .customer(CUSTOMER, "Kerry Fisher")
        .send_text("twice")
        .await
        .expect("posted");
    let messages = h.stand_in.messages(2).await;
    assert_eq!(messages[0], messages[1]);
    assert_eq!(
        messages[0]["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
        written.wamid
    );

    let wamid = wamid_of(&h.send(&text_to(CUSTOMER, "hi")).await);
    let got = h.stand_in.statuses_of(&wamid, 6).await;
    let order: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        order,
        ["sent", "sent", "delivered", "delivered", "read", "read"]
    );
}

#[tokio::test]
async fn fault_out_of_order_statuses_arrive_read_first_with_true_timestamps() {
    let h = harness(|c| {
        c.statuses = StatusTimings {
            sent: Duration::from_millis(10),
            delivered: Some(Duration::from_millis(1100)),
            read: Some(Duration::from_millis(1100)),
        };
    })
    .await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().set_out_of_order_statuses(true);
    let wamid = wamid_of(&h.send(&text_to(CUSTOMER, "hi")).await);
    let got = h.stand_in.statuses_of(&wamid, 3).await;
    let order: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(order, ["read", "delivered", "sent"]);
    let ts = |i: usize| {
        got[i].1["timestamp"]
            .as_str()
            .and_then(|t| t.parse::<i64>().ok())
            .expect("timestamp")
    };
    assert!(
        ts(0) > ts(1) && ts(1) > ts(2),
        "read after delivered after sent"
    );
}

#[tokio::test]
async fn fault_statuses_before_response_are_all_there_when_the_answer_returns() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().set_statuses_before_response(true);
    let wamid = wamid_of(&h.send(&text_to(CUSTOMER, "hi")).await);
    let already: Vec<String> = h
        .stand_in
        .received()
        .iter()
        .flat_map(|r| statuses(&r.body))
        .filter(|s| s["id"] == wamid)
        .map(|s| s["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(already, ["sent", "delivered", "read"]);
}

#[tokio::test]
async fn fault_async_failure_accepts_then_reports_failed() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.sim.faults().fail_async_next(1, SendFailure::Maintenance);
    let wamid = wamid_of(&h.send(&text_to(CUSTOMER, "hi")).await);
    let got = h.stand_in.statuses_of(&wamid, 1).await;
    assert_eq!(got[0].0, "failed");
    assert_eq!(got[0].1["errors"][0]["code"], 131057);
    let next = wamid_of(&h.send(&text_to(CUSTOMER, "again")).await);
    assert_eq!(h.stand_in.statuses_of(&next, 1).await[0].0, "sent");
}

#[tokio::test]
async fn status_webhooks_are_retried_until_switchboard_answers_200() {
    let h = harness(|_| {}).await;
    h.open_window(CUSTOMER).await;
    h.stand_in.fail_next.store(2, Ordering::SeqCst);
    let wamid = wamid_of(&h.send(&text_to(CUSTOMER, "hi")).await);
    h.sim
        .wait_for_status(&wamid, "sent", WAIT)
        .await
        .expect("delivered in the end");
    let attempts: Vec<(u32, Option<u16>)> = h
        .sim
        .webhooks()
        .iter()
        .filter(|w| {
            w.statuses()
                .iter()
                .any(|(id, s)| id == &wamid && s == "sent")
        })
        .map(|w| (w.attempt, w.http_status))
        .collect();
    assert_eq!(attempts, [(0, Some(500)), (1, Some(500)), (2, Some(200))]);
}

// ---- media -------------------------------------------------------------------------------------

/// A multipart part: field name, (file name, content type) for files, content.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----switchboard-test-boundary";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, content_type)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Harness {
    async fn upload(&self, parts: &[Part<'_>]) -> (u16, Value) {
        let (content_type, body) = multipart(parts);
        let response = self
            .http
            .post(format!(
                "{}/{DEFAULT_PHONE_NUMBER_ID}/media",
                self.sim.graph_api_base()
            ))
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("reachable");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn media_upload_lookup_and_download_with_expiring_urls() {
    use sha2::{Digest as _, Sha256};
    let h = harness(|_| {}).await;
    let uploaded = h
        .upload(&[
            ("messaging_product", None, b"whatsapp"),
            ("file", Some(("dot.png", "image/png")), TINY_PNG),
        ])
        .await;
    assert_eq!(uploaded.0, 200, "{}", uploaded.1);
    let id = uploaded.1["id"].as_str().expect("media id").to_owned();

    let lookup_url = format!("{}/{id}", h.sim.graph_api_base());
    let lookup: Value = h
        .get(&lookup_url, Some(DEFAULT_ACCESS_TOKEN))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(lookup["messaging_product"], "whatsapp");
    assert_eq!(lookup["id"], id.as_str());
    assert_eq!(lookup["mime_type"], "image/png");
    assert_eq!(lookup["file_size"], TINY_PNG.len());
    assert_eq!(lookup["sha256"], hex::encode(Sha256::digest(TINY_PNG)));
    let url = lookup["url"].as_str().expect("url").to_owned();
    assert_eq!(h.get(&lookup_url, None).await.status(), 401);

    let download = h.get(&url, Some(DEFAULT_ACCESS_TOKEN)).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), TINY_PNG);
    assert_eq!(h.get(&url, None).await.status(), 401);
    assert_eq!(h.get(&url, Some("wrong")).await.status(), 401);

    h.sim.clock().advance(Duration::from_secs(301));
    assert_eq!(h.get(&url, Some(DEFAULT_ACCESS_TOKEN)).await.status(), 404);
    let again: Value = h
        .get(&lookup_url, Some(DEFAULT_ACCESS_TOKEN))
        .await
        .json()
        .await
        .expect("json");
    let fresh = again["url"].as_str().expect("url");
    assert_ne!(fresh, url);
    assert_eq!(h.get(fresh, Some(DEFAULT_ACCESS_TOKEN)).await.status(), 200);

    // Sent by id.
    h.open_window(CUSTOMER).await;
    let image = json!({"messaging_product":"whatsapp","to":CUSTOMER,"type":"image",
        "image":{"id":id,"caption":"Your parcel"}});
    wamid_of(&h.send(&image).await);
    let media = h.sim.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].bytes, TINY_PNG);
    assert_eq!(media[0].filename.as_deref(), Some("dot.png"));

    let unknown = h
        .get(
            &format!("{}/4242", h.sim.graph_api_base()),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn media_uploads_outside_whatsapp_limits_are_refused() {
    let h = harness(|_| {}).await;
    let wrong_type = h
        .upload(&[
            ("messaging_product", None, b"whatsapp"),
            ("file", Some(("a.tar", "application/x-tar")), b"tar"),
        ])
        .await;
    assert_graph_error(&wrong_type, 400, 100);
    let big = vec![0_u8; 5 * 1024 * 1024 + 1];
    let too_big = h
        .upload(&[
            ("messaging_product", None, b"whatsapp"),
            ("file", Some(("big.jpg", "image/jpeg")), &big),
        ])
        .await;
    assert_graph_error(&too_big, 400, 131053);
    let sticker = vec![0_u8; 150 * 1024];
    let static_sticker = h
        .upload(&[
            ("messaging_product", None, b"whatsapp"),
            ("file", Some(("s.webp", "image/webp")), &sticker),
        ])
        .await;
    assert_graph_error(&static_sticker, 400, 131053);
    let no_product = h
        .upload(&[("file", Some(("dot.png", "image/png")), TINY_PNG)])
        .await;
    assert_graph_error(&no_product, 400, 100);
    let pdf = h
        .upload(&[
            ("messaging_product", None, b"whatsapp"),
            ("type", None, b"application/pdf"),
            (
                "file",
                Some(("terms.pdf", "application/octet-stream")),
                b"%PDF-1.4",
            ),
        ])
        .await;
    assert_eq!(pdf.0, 200, "the type field decides: {}", pdf.1);
    assert!(h
        .sim
        .media()
        .iter()
        .all(|m| m.mime_type == "application/pdf"));
}

// ---- templates ---------------------------------------------------------------------------------

#[tokio::test]
async fn template_listing_pages_follow_next_through_every_template() {
    let h = harness(|_| {}).await;
    let mut url = format!(
        "{}/{DEFAULT_WABA_ID}/message_templates?limit=2",
        h.sim.graph_api_base()
    );
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = h
            .get(&url, Some(DEFAULT_ACCESS_TOKEN))
            .await
            .json()
            .await
            .expect("json");
        pages += 1;
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        for template in data {
            assert!(template["id"].is_string());
            assert!(template["language"].is_string());
            assert!(template["category"].is_string());
            assert!(["POSITIONAL", "NAMED"]
                .contains(&template["parameter_format"].as_str().unwrap_or_default()));
            assert!(template["components"].is_array());
            names.push(template["name"].as_str().expect("name").to_owned());
        }
        assert!(page["paging"]["cursors"]["after"].is_string());
        match page["paging"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = default_templates().into_iter().map(|t| t.name).collect();
    assert_eq!(names, expected);
    assert_eq!(pages, expected.len().div_ceil(2));

    let approved: Value = h
        .get(
            &format!(
                "{}/{DEFAULT_WABA_ID}/message_templates?status=APPROVED",
                h.sim.graph_api_base()
            ),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await
        .json()
        .await
        .expect("json");
    let data = approved["data"].as_array().expect("data");
    assert!(data.iter().all(|t| t["status"] == "APPROVED"));
    let order_update = data
        .iter()
        .find(|t| t["name"] == "order_update")
        .expect("order_update");
    assert_eq!(order_update["components"][0]["type"], "BODY");
    assert!(order_update["components"][0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("{{1}}")));
    assert_eq!(
        order_update["components"][1]["buttons"][0]["type"],
        "QUICK_REPLY"
    );
    let unauthorized = h
        .get(
            &format!(
                "{}/{DEFAULT_WABA_ID}/message_templates",
                h.sim.graph_api_base()
            ),
            None,
        )
        .await;
    assert_eq!(unauthorized.status(), 401);
}

#[tokio::test]
async fn template_sends_are_checked_against_the_account_templates() {
    let h = harness(|_| {}).await;
    let body = |params: Value| json!([{"type":"body","parameters":params}]);
    let wrong_count = h
        .send(&template_to(CUSTOMER, "order_update", body(json!([]))))
        .await;
    assert_graph_error(&wrong_count, 400, 132000);
    let two = body(json!([{"type":"text","text":"a"},{"type":"text","text":"b"}]));
    assert_graph_error(
        &h.send(&template_to(CUSTOMER, "order_update", two)).await,
        400,
        132000,
    );
    assert_graph_error(
        &h.send(&template_to(CUSTOMER, "no_such_template", json!([])))
            .await,
        404,
        132001,
    );
    let one = body(json!([{"type":"text","text":"x"}]));
    assert_graph_error(
        &h.send(&template_to(CUSTOMER, "spring_sale", one.clone()))
            .await,
        404,
        132001,
    );
    assert_graph_error(
        &h.send(&template_to(CUSTOMER, "old_newsletter", one.clone()))
            .await,
        400,
        132015,
    );
    assert_graph_error(
        &h.send(&template_to(CUSTOMER, "legacy_promo", one.clone()))
            .await,
        400,
        132016,
    );
    let image_header = json!([
        {"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/p.jpg"}}]},
        {"type":"body","parameters":[{"type":"text","text":"P-1"}]}
    ]);
    wamid_of(
        &h.send(&template_to(CUSTOMER, "shipping_photo", image_header))
            .await,
    );
    let quick_reply = json!([
        {"type":"body","parameters":[{"type":"text","text":"A-17"}]},
        {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"AGENT"}]}
    ]);
    wamid_of(
        &h.send(&template_to(CUSTOMER, "order_update", quick_reply))
            .await,
    );
}

// ---- customers ---------------------------------------------------------------------------------

#[tokio::test]
async fn customer_webhooks_of_every_kind_are_signed_and_shaped_like_meta_s() {
    let h = harness(|_| {}).await;
    let kerry = h.sim.customer(CUSTOMER, "Kerry Fisher");

    let text = kerry
        .send_text("Does it come in another color?")
        .await
        .expect("text");
    assert_eq!(text.status, 200);
    h.open_window(CUSTOMER).await;
    let business = wamid_of(&h.send(&text_to(CUSTOMER, "Which color?")).await);
    let image = kerry
        .send_image(TINY_PNG.to_vec(), "image/png", Some("This one"))
        .await
        .expect("image");
    let location = kerry
        .send_location(52.52, 13.405, Some("Office"), Some("Berlin"))
        .await
        .expect("location");
    let contacts = kerry
        .send_contacts(&[ContactCard::new("Sam Keller", "+1 555 0199 123")])
        .await
        .expect("contacts");
    let tap = kerry
        .tap_button(&business, "change-date", "Change date")
        .await
        .expect("button reply");
    let template_tap = kerry
        .tap_template_button(&business, "AGENT", "Talk to an agent")
        .await
        .expect("template button");
    let reaction = kerry.react(&business, "❤️").await.expect("reaction");
    let unreaction = kerry.react(&business, "").await.expect("reaction removed");
    let reply = kerry
        .reply_to(&business, "Blue please")
        .await
        .expect("reply");
    let unsupported = kerry.send_unsupported().await.expect("unsupported");

    let all = [
        &text,
        &image,
        &location,
        &contacts,
        &tap,
        &template_tap,
        &reaction,
        &unreaction,
        &reply,
        &unsupported,
    ];
    // The stand-in got each exactly as posted, every one correctly signed.
    let envelopes = h.stand_in.messages(all.len() + 1).await;
    assert!(h.stand_in.received().iter().all(|r| r.signature_ok));
    for posted in all {
        assert_eq!(posted.status, 200);
        let got = envelopes
            .iter()
            .find(|e| e["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == posted.wamid)
            .expect("received");
        assert_eq!(got, &posted.envelope);
        let value = assert_envelope(got);
        assert_eq!(value["contacts"][0]["wa_id"], CUSTOMER);
        assert_eq!(value["contacts"][0]["profile"]["name"], "Kerry Fisher");
        let message = &value["messages"][0];
        assert_eq!(message["from"], CUSTOMER);
        assert!(message["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("wamid.")));
        assert!(is_unix_seconds_string(&message["timestamp"]));
        assert!(message["type"].is_string());
    }

    assert_eq!(
        text.message()["text"]["body"],
        "Does it come in another color?"
    );

    let img = &image.message()["image"];
    assert_eq!(image.message()["type"], "image");
    assert_eq!(img["mime_type"], "image/png");
    assert_eq!(img["caption"], "This one");
    {
        use base64::Engine as _;
        use sha2::{Digest as _, Sha256};
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(TINY_PNG));
        assert_eq!(img["sha256"], expected);
    }
    // The customer's media can be looked up and downloaded like any other.
    let lookup: Value = h
        .get(
            &format!(
                "{}/{}",
                h.sim.graph_api_base(),
                img["id"].as_str().expect("id")
            ),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await
        .json()
        .await
        .expect("json");
    let bytes = h
        .get(
            lookup["url"].as_str().expect("url"),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), TINY_PNG);

    let loc = &location.message()["location"];
    assert_eq!(loc["latitude"], 52.52);
    assert_eq!(loc["longitude"], 13.405);
    assert_eq!(loc["name"], "Office");
    assert_eq!(loc["address"], "Berlin");

    let card = &contacts.message()["contacts"][0];
    assert_eq!(card["name"]["formatted_name"], "Sam Keller");
    assert_eq!(card["phones"][0]["phone"], "+1 555 0199 123");
    assert_eq!(card["phones"][0]["wa_id"], "15550199123");

    let t = tap.message();
    assert_eq!(t["type"], "interactive");
    assert_eq!(t["interactive"]["type"], "button_reply");
    assert_eq!(t["interactive"]["button_reply"]["id"], "change-date");
    assert_eq!(t["interactive"]["button_reply"]["title"], "Change date");
    assert_eq!(t["context"]["id"], business.as_str());
    assert_eq!(t["context"]["from"], DEFAULT_DISPLAY_PHONE_NUMBER);

    let b = template_tap.message();
    assert_eq!(b["type"], "button");
    assert_eq!(b["button"]["payload"], "AGENT");
    assert_eq!(b["button"]["text"], "Talk to an agent");
    assert_eq!(b["context"]["id"], business.as_str());

    assert_eq!(
        reaction.message()["reaction"]["message_id"],
        business.as_str()
    );
    assert_eq!(reaction.message()["reaction"]["emoji"], "❤️");
    assert_eq!(unreaction.message()["reaction"]["emoji"], "");

    assert_eq!(reply.message()["text"]["body"], "Blue please");
    assert_eq!(reply.message()["context"]["id"], business.as_str());

    let u = unsupported.message();
    assert_eq!(u["type"], "unsupported");
    assert_eq!(u["errors"][0]["code"], 131051);
    assert!(u["errors"][0]["title"].is_string());
    assert!(u["errors"][0]["error_data"]["details"].is_string());
}

#[tokio::test]
async fn a_bad_secret_is_refused_by_switchboard_and_the_customer_sees_it() {
    let stand_in = StandIn::start().await;
    let sim = Simulator::start(SimulatorConfig::new(stand_in.url.clone(), "wrong-secret"))
        .await
        .expect("starts");
    let posted = sim
        .customer(CUSTOMER, "Kerry")
        .send_text("hi")
        .await
        .expect("reachable");
    assert_eq!(posted.status, 401);
    assert!(!stand_in.received()[0].signature_ok);
}

#[tokio::test]
async fn mark_read_answers_success_and_is_recorded() {
    let h = harness(|_| {}).await;
    let written = h
        .sim
        .customer(CUSTOMER, "Kerry")
        .send_text("hi")
        .await
        .expect("posted");
    let answer = h
        .send(&json!({"messaging_product":"whatsapp","status":"read","message_id":written.wamid}))
        .await;
    assert_eq!(answer, (200, json!({"success": true})));
    let reads = h.sim.wait_for_read_receipts(1, WAIT).await.expect("read");
    assert_eq!(reads[0].message_id, written.wamid);
    assert!(h.sim.sent_messages().is_empty());
}

#[tokio::test]
async fn waiting_for_what_never_comes_times_out() {
    let h = harness(|_| {}).await;
    let waited = h.sim.wait_for_sent(1, Duration::from_millis(50)).await;
    assert!(matches!(waited, Err(SimError::Timeout { .. })));
}

#[tokio::test]
async fn chatty_customers_write_answer_agents_and_stop() {
    let h = harness(|_| {}).await;
    let chatty = h.sim.start_chatty(ChattyConfig {
        customers: 3,
        min_interval: Duration::from_millis(200),
        max_interval: Duration::from_millis(400),
        max_messages: Some(6),
        reply_probability: 1.0,
        min_reply_delay: Duration::from_millis(1),
        max_reply_delay: Duration::from_millis(5),
        phone_number_id: None,
    });
    let first = h.stand_in.messages(1).await;
    let from = first[0]["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
        .as_str()
        .expect("from")
        .to_owned();
    assert!(chatty.customers().iter().any(|c| c.wa_id() == from));

    // An agent offers buttons; the customer taps one.
    let buttons = json!({"messaging_product":"whatsapp","to":from,"type":"interactive",
        "interactive":{"type":"button","body":{"text":"Pick one"},
        "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}});
    let wamid = wamid_of(&h.send(&buttons).await);
    h.stand_in
        .wait_for("the tap on the offered button", |all| {
            all.iter()
                .find(|r| {
                    let m = &r.body["entry"][0]["changes"][0]["value"]["messages"][0];
                    m["context"]["id"] == wamid.as_str()
                        && m["interactive"]["button_reply"]["id"] == "yes"
                })
                .map(drop)
        })
        .await;

    let messages = h.stand_in.messages(4).await;
    assert!(messages.len() >= 4);
    let posted = chatty.stop().await;
    assert!((4..=6).contains(&posted), "{posted} messages");
    assert!(h.stand_in.received().iter().all(|r| r.signature_ok));
}

#[tokio::test]
async fn standalone_runs_the_simulator_and_crowd_until_shut_down() {
    let stand_in = StandIn::start().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = StandaloneConfig {
        simulator: SimulatorConfig::new(stand_in.url.clone(), SECRET),
        chatty: Some(ChattyConfig {
            customers: 2,
            min_interval: Duration::from_millis(5),
            max_interval: Duration::from_millis(10),
            max_messages: Some(2),
            ..ChattyConfig::default()
        }),
    };
    let run = tokio::spawn(switchboard_simulator::run_standalone_until(config, async {
        let _ = stopped.await;
    }));
    stand_in.messages(2).await;
    stop.send(()).expect("still running");
    run.await.expect("joined").expect("ran cleanly");
}
