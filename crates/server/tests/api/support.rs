//! Test support: a real server on port 0 (SQLite temp file, or a fresh PostgreSQL schema when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set), an HTTP client and a websocket client.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::QueueId;
use switchboard_server::{
    App, AppState, Clock, Config, InboundMessage, Ingested, ManualClock, SystemClock,
};
use switchboard_simulator::{
    Simulator, SimulatorConfig, SimulatorHandle, DEFAULT_ACCESS_TOKEN,
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID,
};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub const ADMIN_PASSWORD: &str = "admin-pass-123";
pub const PASSWORD: &str = "agent-pass-123";

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

impl Db {
    pub fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    /// The media blob directory of a server on this database (the same after a restart).
    pub fn media_dir(&self) -> PathBuf {
        match self {
            Db::Sqlite(p) => p.with_file_name("media"),
            Db::Postgres { schema, .. } => {
                std::env::temp_dir().join(format!("switchboard-test-media-{schema}"))
            }
        }
    }
}

fn random_suffix() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

/// SQLite always; PostgreSQL when its URL is given (otherwise says so and skips it). When the
/// loop over them ends without a panic, their data goes: the SQLite directory, the PostgreSQL
/// schema and its media directory (a failed test's data stays, to look at).
pub fn backends() -> Backends {
    let dir = std::env::temp_dir().join(format!("switchboard-test-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut v = vec![Db::Sqlite(dir.join("test.db"))];
    match std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => v.push(Db::Postgres {
            url,
            schema: format!("t_{}", random_suffix()),
        }),
        _ => eprintln!(
            "skipped: PostgreSQL half of this test (SWITCHBOARD_TEST_POSTGRES_URL not set)"
        ),
    }
    Backends {
        todo: v.clone().into(),
        all: v,
    }
}

/// The databases of one test, in order (see [`backends`]).
pub struct Backends {
    todo: std::collections::VecDeque<Db>,
    all: Vec<Db>,
}

impl Iterator for Backends {
    type Item = Db;
    fn next(&mut self) -> Option<Db> {
        self.todo.pop_front()
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let all = std::mem::take(&mut self.all);
        // On a thread of its own: this may run inside the test's runtime.
        let _ = std::thread::spawn(move || remove_data(all)).join();
    }
}

fn remove_data(dbs: Vec<Db>) {
    for db in dbs {
        let media = db.media_dir();
        match db {
            Db::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            Db::Postgres { url, schema } => {
                let _ = std::fs::remove_dir_all(media);
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    continue;
                };
                rt.block_on(async {
                    use sqlx::Connection;
                    let Ok(mut c) = sqlx::PgConnection::connect(&url).await else {
                        return;
                    };
                    let sql = format!(
                        "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    );
                    if let Err(e) = sqlx::raw_sql(&sql).execute(&mut c).await {
                        eprintln!("could not drop the test schema {schema}: {e}");
                    }
                    let _ = c.close().await;
                });
            }
        }
    }
}

pub struct Server {
    pub base: String,
    pub clock: ManualClock,
    pub db: Db,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    pub async fn start(db: Db) -> Server {
        Server::start_with_clock(db, ManualClock::new(SystemClock.now())).await
    }

    /// Starts on `db` and logs the admin in.
    pub async fn with_admin(db: Db) -> (Server, Api) {
        let server = Server::start(db).await;
        let admin = server.admin().await;
        (server, admin)
    }

    /// Starts with extra `SWITCHBOARD_…` settings; the clock starts now.
    pub async fn start_with_env(db: Db, extra_env: Vec<(&str, String)>) -> Server {
        Server::start_full(db, ManualClock::new(SystemClock.now()), extra_env, None).await
    }

    pub async fn start_with_clock(db: Db, clock: ManualClock) -> Server {
        Server::start_full(db, clock, Vec::new(), None).await
    }

    /// Starts with extra `SWITCHBOARD_…` settings, optionally on a listener bound beforehand
    /// (so a peer such as the WhatsApp simulator can be told the address first).
    pub async fn start_full(
        db: Db,
        clock: ManualClock,
        extra_env: Vec<(&str, String)>,
        listener: Option<tokio::net::TcpListener>,
    ) -> Server {
        let url = match &db {
            Db::Sqlite(p) => format!("sqlite://{}", p.display()),
            Db::Postgres { url, .. } => url.clone(),
        };
        let mut env = vec![
            ("SWITCHBOARD_DATABASE__URL".to_owned(), url.clone()),
            (
                "SWITCHBOARD_MEDIA__DIR".to_owned(),
                db.media_dir().display().to_string(),
            ),
        ];
        env.extend(extra_env.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let config = Config::from_toml_and_env("", env).expect("config");
        let store = match &db {
            Db::Sqlite(_) => switchboard_store::Store::connect(&url).await,
            Db::Postgres { url, schema } => {
                switchboard_store::Store::connect_in_schema(url, schema).await
            }
        }
        .expect("store");
        let app = App::build_with_store(
            config,
            Arc::new(clock.clone()),
            store,
            Some(ADMIN_PASSWORD.into()),
        )
        .await
        .expect("app");
        let state = app.state().clone();
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        };
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let join = tokio::spawn(app.run(listener, async {
            let _ = rx.await;
        }));
        Server {
            base,
            clock,
            db,
            state,
            stop: Some(tx),
            join: Some(join),
        }
    }

    /// Graceful stop: the server stops accepting, closes sockets and finishes what is queued.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(j) = self.join.take() {
            j.await.expect("server task").expect("server run");
        }
    }

    /// Stops the server and starts a new one on the same database and clock.
    pub async fn restart(mut self) -> Server {
        self.stop().await;
        Server::start_with_clock(self.db.clone(), self.clock.clone()).await
    }

    pub async fn ingest(&self, queue: &str, wa_id: &str, name: &str, text: &str) -> Ingested {
        switchboard_server::services::ingest::ingest(
            &self.state.ingest(),
            InboundMessage {
                summary: None,
                queue_id: QueueId(queue.into()),
                channel_id: Some("test-channel".into()),
                source_number: Some("+15550100".into()),
                wa_id: wa_id.into(),
                customer_name: Some(name.into()),
                wa_message_id: Some(format!("wamid.{}", random_suffix())),
                kind: "text".into(),
                text: Some(text.into()),
                payload: json!({"text": {"body": text}}),
            },
        )
        .await
        .expect("ingest")
    }

    /// A customer writes `text` into `queue`: the id of the interaction the message landed in.
    pub async fn ingest_id(&self, queue: &str, wa_id: &str, name: &str, text: &str) -> String {
        self.ingest(queue, wa_id, name, text).await.interaction_id.0
    }

    pub fn anon(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            token: None,
        }
    }

    pub async fn login(&self, user: &str, password: &str) -> Api {
        let mut api = self.anon();
        let (status, body) = api
            .post(
                "/api/v1/auth/login",
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login of {user}: {body}");
        api.token = Some(body["token"].as_str().expect("token").to_owned());
        api
    }

    pub async fn admin(&self) -> Api {
        self.login("admin", ADMIN_PASSWORD).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The value of header `name` of an answer, if it has one (and it is text).
pub fn header_of(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `Content-Type` of an answer ("" without one).
pub fn content_type_of(resp: &reqwest::Response) -> String {
    header_of(resp, "content-type").unwrap_or_default()
}

/// A client of the REST API, logged in or not.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let content_type = content_type_of(&resp);
        let text = resp.text().await.expect("body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        crate::conform::check(method, path, status, &content_type, &v);
        (status, v)
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// POST of a `multipart/form-data` body made of `parts`.
    pub async fn multipart(&self, path: &str, parts: &[Part]) -> (u16, Value) {
        let boundary = format!("test-boundary-{}", random_suffix());
        let mut body = Vec::new();
        for p in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
            if let Some(f) = &p.filename {
                disposition.push_str(&format!("; filename=\"{f}\""));
            }
            body.extend_from_slice(format!("{disposition}\r\n").as_bytes());
            if let Some(t) = &p.content_type {
                body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&p.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut req = self
            .http
            .post(format!("{}{}", self.base, path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let content_type = content_type_of(&resp);
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        crate::conform::check("POST", path, status, &content_type, &v);
        (status, v)
    }

    /// GET of raw bytes: status, headers and body.
    pub async fn get_bytes(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = content_type_of(&resp);
        let bytes = resp.bytes().await.expect("body").to_vec();
        let v = if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        crate::conform::check("GET", path, status, &content_type, &v);
        (status, headers, bytes)
    }

    /// POST that must succeed; returns the body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert!((200..300).contains(&s), "POST {path} -> {s} {v}");
        v
    }

    /// GET that must answer 200; returns the body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// PUT that must answer 200; returns the body.
    pub async fn put_ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.put(path, body).await;
        assert_eq!(s, 200, "PUT {path}: {v}");
        v
    }

    /// PATCH that must answer 200; returns the body.
    pub async fn patch_ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.patch(path, body).await;
        assert_eq!(s, 200, "PATCH {path}: {v}");
        v
    }

    /// `POST /api/v1/interactions/{id}/{action}` with `body` (accept, messages, notes, end,
    /// wrap-up, transfer...).
    pub async fn try_act(&self, interaction: &str, action: &str, body: Value) -> (u16, Value) {
        self.post(
            &format!("/api/v1/interactions/{interaction}/{action}"),
            body,
        )
        .await
    }

    /// [`Api::try_act`], which must succeed; returns the body.
    pub async fn act_with(&self, interaction: &str, action: &str, body: Value) -> Value {
        self.ok(
            &format!("/api/v1/interactions/{interaction}/{action}"),
            body,
        )
        .await
    }

    /// [`Api::act_with`] an empty body (accept, reject, end, wrap-up).
    pub async fn act(&self, interaction: &str, action: &str) -> Value {
        self.act_with(interaction, action, json!({})).await
    }

    /// Sends `text` into an interaction, which must succeed; returns the stored message.
    pub async fn reply(&self, interaction: &str, text: &str) -> Value {
        self.act_with(interaction, "messages", json!({ "text": text }))
            .await
    }

    /// `GET /api/v1/interactions/{id}/messages`.
    pub async fn messages(&self, interaction: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/interactions/{interaction}/messages"))
            .await
    }

    /// `POST /api/v1/interactions`: starts an interaction with the customer at `phone`.
    pub async fn start_outbound(&self, phone: &str) -> (u16, Value) {
        self.post("/api/v1/interactions", json!({ "phone": phone }))
            .await
    }

    pub async fn me(&self) -> Value {
        let (s, v) = self.get("/api/v1/me").await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn available(&self) {
        let (s, v) = self
            .put("/api/v1/me/presence", json!({"presence": "available"}))
            .await;
        assert_eq!(s, 200, "{v}");
    }

    /// Goes on break for `reason`, which must succeed.
    pub async fn on_break(&self, reason: &str) {
        self.put_ok(
            "/api/v1/me/presence",
            json!({"presence": "on_break", "reason": reason}),
        )
        .await;
    }

    pub async fn interaction(&self, id: &str) -> Value {
        let (s, v) = self.get(&format!("/api/v1/interactions/{id}")).await;
        assert_eq!(s, 200, "GET interaction {id}: {v}");
        v
    }

    pub async fn ws(&self, since: Option<i64>) -> Ws {
        Ws::connect(&self.base, self.token.as_deref().unwrap_or(""), since).await
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Part {
    /// A file part.
    pub fn file(name: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Part {
        Part {
            name: name.into(),
            filename: Some(filename.into()),
            content_type: Some(content_type.into()),
            bytes: bytes.to_vec(),
        }
    }
    /// A text part.
    pub fn text(name: &str, value: &str) -> Part {
        Part {
            name: name.into(),
            filename: None,
            content_type: None,
            bytes: value.as_bytes().to_vec(),
        }
    }
}

/// Asserts the standard error shape and code.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(
        status, want_status,
        "expected {want_status} {want_code}, got {status} {body}"
    );
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// [`assert_error`], with a message that mentions `needle`.
pub fn assert_error_says(
    status: u16,
    body: &Value,
    want_status: u16,
    want_code: &str,
    needle: &str,
) {
    assert_error(status, body, want_status, want_code);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(needle)),
        "{needle:?} not in {body}"
    );
}

/// One received event.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: i64,
    pub kind: String,
    pub data: Value,
}

/// A websocket client that keeps what it received, so tests can look for events in any order.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub pending: Vec<Frame>,
    pub last_seq: i64,
    pub hello: Frame,
}

impl Ws {
    pub async fn connect(base: &str, token: &str, since: Option<i64>) -> Ws {
        let mut url = format!(
            "{}/api/v1/ws?token={token}",
            base.replace("http://", "ws://")
        );
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        let mut ws = Ws {
            stream,
            pending: Vec::new(),
            last_seq: 0,
            hello: Frame {
                seq: 0,
                kind: String::new(),
                data: Value::Null,
            },
        };
        let hello = ws.read().await.expect("hello frame");
        assert_eq!(hello.kind, "hello", "{hello:?}");
        ws.last_seq = since.unwrap_or(hello.seq);
        ws.hello = hello;
        ws
    }

    async fn read(&mut self) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .ok()??;
            match msg.ok()? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("frame json");
                    return Some(Frame {
                        seq: v["seq"].as_i64().expect("seq"),
                        kind: v["type"].as_str().expect("type").to_owned(),
                        data: v["data"].clone(),
                    });
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for an event matching `pred` (already received or arriving within 10 s), removes
    /// and returns it. Checks that sequence numbers only increase (one counter numbers every
    /// stream, so a socket's numbers have gaps).
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Frame) -> bool) -> Frame {
        loop {
            if let Some(i) = self.pending.iter().position(&pred) {
                return self.pending.remove(i);
            }
            match self.read().await {
                Some(f) => {
                    if f.kind != "resync" {
                        assert!(
                            f.seq > self.last_seq,
                            "sequence repeats or goes back at {f:?}"
                        );
                        self.last_seq = f.seq;
                    }
                    self.pending.push(f);
                }
                None => panic!(
                    "websocket ended or stayed silent while waiting for {what}; got {:#?}",
                    self.pending
                ),
            }
        }
    }

    pub async fn expect_kind(&mut self, kind: &str, interaction: &str) -> Frame {
        let k = kind.to_owned();
        let i = interaction.to_owned();
        self.expect(&format!("{kind} of {interaction}"), move |f| {
            f.kind == k
                && (f.data["interaction_id"] == i.as_str()
                    || f.data["id"] == i.as_str()
                    || f.data["interaction"]["id"] == i.as_str())
        })
        .await
    }

    /// Waits for a `kind` event about `id` whose `field` is `value`.
    async fn expect_becoming(&mut self, kind: &str, id: &str, field: &str, value: &str) -> Frame {
        let (k, i, f_, v) = (
            kind.to_owned(),
            id.to_owned(),
            field.to_owned(),
            value.to_owned(),
        );
        self.expect(&format!("{id} becoming {value}"), move |f| {
            f.kind == k && f.data["id"] == i.as_str() && f.data[f_.as_str()] == v.as_str()
        })
        .await
    }

    /// Waits for `interaction.updated` of `id` with `state`.
    pub async fn expect_state(&mut self, id: &str, state: &str) -> Frame {
        self.expect_becoming("interaction.updated", id, "state", state)
            .await
    }

    pub async fn expect_presence(&mut self, agent: &str, presence: &str) -> Frame {
        self.expect_becoming("presence.changed", agent, "presence", presence)
            .await
    }

    /// Reads whatever arrives until the socket is quiet (a ping/pong round trip), to assert
    /// that something did NOT happen.
    pub async fn drain(&mut self) -> Vec<Frame> {
        self.stream
            .send(Message::Text("ping".into()))
            .await
            .expect("ping");
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("pong in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(t) = msg {
                if t.as_str() == "pong" {
                    break;
                }
                let v: Value = serde_json::from_str(t.as_str()).expect("json");
                let f = Frame {
                    seq: v["seq"].as_i64().unwrap_or(0),
                    kind: v["type"].as_str().unwrap_or("").into(),
                    data: v["data"].clone(),
                };
                assert!(
                    f.seq > self.last_seq,
                    "sequence repeats or goes back at {f:?}"
                );
                self.last_seq = f.seq;
                self.pending.push(f);
            }
        }
        std::mem::take(&mut self.pending)
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// Starts a WhatsApp Cloud API simulator (its settings from `SimulatorConfig::new` with `secret`,
/// adjusted by `configure`) and a server on `db` that it sends its webhooks to and that calls its
/// Graph API, with `extra_env` settings besides; the clock starts now.
pub async fn start_with_simulator(
    db: Db,
    secret: &str,
    configure: impl FnOnce(&mut SimulatorConfig),
    extra_env: Vec<(&'static str, String)>,
) -> (Server, SimulatorHandle) {
    let clock = ManualClock::new(SystemClock.now());
    start_with_simulator_at(db, secret, configure, extra_env, clock).await
}

/// [`start_with_simulator`] on the fake clock `clock` (a scripted day at known times).
pub async fn start_with_simulator_at(
    db: Db,
    secret: &str,
    configure: impl FnOnce(&mut SimulatorConfig),
    extra_env: Vec<(&'static str, String)>,
    clock: ManualClock,
) -> (Server, SimulatorHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = SimulatorConfig::new(format!("http://{addr}/webhooks/whatsapp"), secret);
    configure(&mut config);
    let sim = Simulator::start(config).await.expect("simulator");
    let mut env = vec![("SWITCHBOARD_WHATSAPP__GRAPH_API_BASE", sim.graph_api_base())];
    env.extend(extra_env);
    let server = Server::start_full(db, clock, env, Some(listener)).await;
    (server, sim)
}

/// [`start_with_simulator`] with a queue "WhatsApp" (offers answered within 60 s) and the
/// simulator's number routed to it: the server, the simulator, the admin, the queue's id and the
/// channel as created (201).
pub async fn whatsapp_queue(db: Db, secret: &str) -> (Server, SimulatorHandle, Api, String, Value) {
    let (server, sim) = start_with_simulator(db, secret, |_| {}, Vec::new()).await;
    let admin = server.admin().await;
    let queue = queue(
        &admin,
        json!({"name": "WhatsApp", "acceptance_interval_s": 60}),
    )
    .await;
    let (s, channel) = admin
        .post("/api/v1/channels", simulator_channel(secret, &queue))
        .await;
    assert_eq!(s, 201, "{channel}");
    (server, sim, admin, queue, channel)
}

/// The body that creates a channel for the simulator's default number, signed with
/// `app_secret` and routed to `queue`.
pub fn simulator_channel(app_secret: &str, queue: &str) -> Value {
    json!({"kind": "whatsapp", "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
           "display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "access_token": DEFAULT_ACCESS_TOKEN,
           "app_secret": app_secret, "verify_token": "verify-me", "queue_id": queue})
}

/// Posts `body` to the server's WhatsApp webhook, signed with `app_secret` as Meta signs.
pub async fn post_signed_webhook(
    server: &Server,
    app_secret: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp", server.base))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            switchboard_channels::sign(app_secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .expect("post")
}

/// The `text` of each item of a JSON list that has one (messages, a transcript).
pub fn texts(list: &Value) -> Vec<&str> {
    strings(list, "text")
}

/// The string `field` of each element of the array `list` that has one.
pub fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m[field].as_str())
        .collect()
}

/// The simulated customer `wa_id` (`name`) writes `text`; the message as the simulator sent it.
pub async fn customer_writes(
    sim: &SimulatorHandle,
    wa_id: &str,
    name: &str,
    text: &str,
) -> switchboard_simulator::CustomerMessage {
    sim.customer(wa_id, name)
        .send_text(text)
        .await
        .expect("send")
}

/// A server with a queue "Support" and Ann in it (capacity 3), logged in, her websocket open and
/// her `available` presence seen on it.
pub struct Desk {
    pub server: Server,
    pub admin: Api,
    pub queue: String,
    pub ann_id: String,
    pub ann: Api,
    pub ws: Ws,
}

impl Desk {
    /// Opens the desk on `db`; `can_reject` is Ann's.
    pub async fn open(db: Db, can_reject: bool) -> Desk {
        Desk::open_with(db, json!({"name": "Support"}), 3, can_reject).await
    }

    /// Opens a desk whose queue is created from `queue_body`, with Ann's `capacity` and
    /// `can_reject`.
    pub async fn open_with(db: Db, queue_body: Value, capacity: u32, can_reject: bool) -> Desk {
        let (server, admin) = Server::with_admin(db).await;
        let queue = queue(&admin, queue_body).await;
        let ann_id = agent(&admin, "ann", capacity, can_reject, &[&queue]).await;
        let ann = server.login("ann", PASSWORD).await;
        let mut ws = ann.ws(None).await;
        ann.available().await;
        ws.expect_presence(&ann_id, "available").await;
        Desk {
            server,
            admin,
            queue,
            ann_id,
            ann,
            ws,
        }
    }
}

/// Creates a queue and returns its id.
pub async fn queue(admin: &Api, body: Value) -> String {
    let v = admin.ok("/api/v1/queues", body).await;
    v["id"].as_str().expect("queue id").to_owned()
}

/// Creates an agent and returns its id.
pub async fn agent(
    admin: &Api,
    username: &str,
    capacity: u32,
    can_reject: bool,
    queues: &[&str],
) -> String {
    let v = admin
        .ok(
            "/api/v1/agents",
            json!({"username": username, "password": PASSWORD, "display_name": username_to_name(username),
                   "role": "agent", "capacity": capacity, "can_reject": can_reject, "queue_ids": queues}),
        )
        .await;
    v["id"].as_str().expect("agent id").to_owned()
}

/// Creates a user from `body` (the admin must be allowed to: 201) and returns its id.
pub async fn create_user(admin: &Api, body: Value) -> String {
    let (s, v) = admin.post("/api/v1/agents", body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().expect("user id").to_owned()
}

/// Creates the supervisor `username` (password [`PASSWORD`]) and returns its id.
pub async fn supervisor(admin: &Api, username: &str) -> String {
    create_user(
        admin,
        json!({"username": username, "password": PASSWORD, "display_name": username_to_name(username), "role": "supervisor"}),
    )
    .await
}

/// Stores a CRM event that gave up (`dead`, after `attempts`, refused with HTTP 400) about the
/// contact `contact`, and returns its id.
pub async fn dead_crm_event(server: &Server, contact: &str, attempts: i64) -> String {
    let mut e = switchboard_server::services::crm::event(
        "contact.created",
        json!({"contact": {"id": contact}}),
        server.clock.now(),
    );
    e.state = "dead".into();
    e.attempts = attempts;
    e.last_error = Some("HTTP 400: refused".into());
    let id = e.id.clone();
    server
        .state
        .store
        .commit(&switchboard_store::Changeset {
            crm_events: vec![e],
            ..Default::default()
        })
        .await
        .expect("a dead CRM event stored");
    id
}

/// The string `v`, owned; it must be one.
pub fn string(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// The element of the array `v[key]` whose `field` is `value`; it must be there.
pub fn item(v: &Value, key: &str, field: &str, value: &str) -> Value {
    v[key]
        .as_array()
        .and_then(|list| list.iter().find(|x| x[field] == value))
        .cloned()
        .unwrap_or_else(|| panic!("no {key} with {field} {value} in {v}"))
}

pub fn username_to_name(u: &str) -> String {
    let mut c = u.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A `#[tokio::test]` named `$name` that runs `$f` on every backend of [`backends`].
macro_rules! on_every_backend {
    ($name:ident, $f:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in backends() {
                eprintln!("backend: {}", db.name());
                $f(db).await;
            }
        }
    };
}
pub(crate) use on_every_backend;

/// Runs `sql` on the test's database, beside the server (e.g. a trigger that makes it refuse
/// writes).
pub async fn raw_sql(db: &Db, sql: &str) {
    use sqlx::Connection;
    match db {
        Db::Sqlite(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open the SQLite file");
            sqlx::raw_sql(sql).execute(&mut c).await.expect("sql");
            c.close().await.expect("close");
        }
        Db::Postgres { url, schema } => {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(&format!("SET search_path TO \"{schema}\"; {sql}"))
                .execute(&mut c)
                .await
                .expect("sql");
            c.close().await.expect("close");
        }
    }
}
