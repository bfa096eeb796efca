//! `switchboard demo` as a newcomer meets it: the real binary on a fresh database in a directory
//! of its own, then only the public API, as the agent `alice` (and the supervisor `sam` for what
//! is not offered to her). No manual step may be needed to see contacts, screen pops with none,
//! one and several matches, an automatically created contact, history with older pages, search,
//! closed cases and an approved template.

use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const AGENT_PASSWORD: &str = "demo-agent-pass";

/// A directory removed at the end.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct User {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl User {
    async fn login(base: &str, username: &str, password: &str) -> Self {
        let http = reqwest::Client::new();
        let v: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login answer");
        let token = v["token"].as_str().expect("a token").to_owned();
        Self {
            http,
            base: base.to_owned(),
            token,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            r = r.json(&body);
        }
        let answer = r.send().await.expect("request");
        let status = answer.status();
        let text = answer.text().await.expect("answer");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}"))
}

fn names(v: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list(v).iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn the_demo_shows_contacts_screen_pops_history_search_cases_and_templates() {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "switchboard-demo-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .current_dir(&dir.0)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start switchboard demo");
    let mut lines = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let base = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(url) = line.strip_prefix("Switchboard demo is running at ") {
                return url.trim().to_owned();
            }
        }
        panic!("the demo ended before it was running");
    })
    .await
    .expect("the demo is running within two minutes");
    // Keep reading (and dropping) what the demo prints, so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let alice = User::login(&base, "alice", AGENT_PASSWORD).await;
    let sam = User::login(&base, "sam", AGENT_PASSWORD).await;

    // Contacts are there before anyone did anything.
    let kerry_contacts = alice.get("/api/v1/contacts?q=Kerry").await;
    assert_eq!(names(&kerry_contacts), ["Kerry Fisher"]);
    let kerry_contact = list(&kerry_contacts)[0].clone();
    assert_eq!(kerry_contact["email"], "kerry.fisher@example.com");
    assert_eq!(kerry_contact["fields"]["tier"], "Gold");

    // The newcomer goes available and is offered the three oldest customers waiting.
    alice
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/presence",
            Some(json!({"presence": "available"})),
        )
        .await;
    let offered = alice.get("/api/v1/interactions").await;
    let by_name = |name: &str| -> Value {
        list(&offered)
            .iter()
            .find(|i| i["customer"]["name"] == name)
            .unwrap_or_else(|| panic!("no offer from {name} in {offered}"))
            .clone()
    };
    let (kerry, ana, dan) = (
        by_name("Kerry Fisher"),
        by_name("Ana Souza"),
        by_name("Dan Cooper"),
    );
    for it in [&kerry, &ana, &dan] {
        assert_eq!(it["state"], "offered", "{it}");
    }
    let alice_ref = &alice;
    let pop = |it: &Value| {
        let path = format!(
            "/api/v1/interactions/{}/screen-pop",
            it["id"].as_str().expect("id")
        );
        async move { alice_ref.get(&path).await }
    };

    // One match: Kerry's record pops, with her earlier interactions.
    let p = pop(&kerry).await;
    assert_eq!(p["match_count"], 1, "{p}");
    assert_eq!(p["contact"]["name"], "Kerry Fisher");
    assert_eq!(p["phone"], "+447400123456");
    assert_eq!(list(&p["recent_interactions"]).len(), 3, "{p}");

    // Several matches: Ana and Bruno share a number; the oldest is linked until the agent picks.
    let p = pop(&ana).await;
    assert_eq!(p["match_count"], 2, "{p}");
    assert_eq!(names(&p["matches"]), ["Ana Souza", "Bruno Souza"]);
    assert_eq!(p["contact"]["name"], "Ana Souza");

    // No match: Dan is nobody's number yet, so the New contact form is shown, prefilled.
    let p = pop(&dan).await;
    assert_eq!(p["match_count"], 0, "{p}");
    assert_eq!(p["contact"], Value::Null);
    assert_eq!(p["show_new_contact_form"], true);
    assert_eq!(p["phone"], "+61491570156");
    assert_eq!(p["prefill"]["name"], "Dan Cooper");

    // An automatically created contact: Priya's, from her WhatsApp profile, linked to her
    // interaction waiting in the queue (the supervisor sees it).
    let priya_contacts = alice.get("/api/v1/contacts?phone=%2B918123456789").await;
    assert_eq!(names(&priya_contacts), ["Priya Nair"]);
    assert_eq!(list(&priya_contacts)[0]["email"], Value::Null);
    let all = sam.get("/api/v1/interactions?all=true").await;
    let priya = list(&all)
        .iter()
        .find(|i| i["customer"]["name"] == "Priya Nair")
        .unwrap_or_else(|| panic!("Priya waits: {all}"))
        .clone();
    let p = sam
        .get(&format!(
            "/api/v1/interactions/{}/screen-pop",
            priya["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(p["match_count"], 1, "{p}");
    assert_eq!(p["contact"]["name"], "Priya Nair");
    assert_eq!(p["contact"]["id"], list(&priya_contacts)[0]["id"]);

    // History: Kerry's transcript shows her last interaction, and "See older messages" (the
    // next_before cursor) brings the earlier ones, page by page.
    let kerry_id = kerry["id"].as_str().expect("id").to_owned();
    alice
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/interactions/{kerry_id}/accept"),
            None,
        )
        .await;
    // Standard responses are there: `/hi` greets Kerry by her first name, from Alice.
    let greeting = alice.get("/api/v1/responses?q=greeting").await;
    let greeting = list(&greeting)
        .iter()
        .find(|r| r["shortcut"] == "hi")
        .unwrap_or_else(|| panic!("a /hi response: {greeting}"))
        .clone();
    let filled = alice
        .get(&format!(
            "/api/v1/interactions/{kerry_id}/responses/{}",
            greeting["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        filled["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Hello Kerry, this is Alice from ")),
        "{filled}"
    );
    assert_eq!(filled["missing"], json!([]), "{filled}");
    let texts = |page: &Value| -> Vec<String> {
        list(&page["messages"])
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    };
    let transcript = format!("/api/v1/interactions/{kerry_id}/messages?scope=transcript&limit=200");
    let first = alice.get(&transcript).await;
    let shown = texts(&first);
    assert!(
        shown.iter().any(|t| t.contains("still hasn't arrived")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|t| t.contains("tracking number RL-2231")),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|t| t.contains("When will it ship?")),
        "the oldest interaction waits behind See older messages: {shown:?}"
    );
    let mut cursor = first["next_before"].as_str().map(str::to_owned);
    let mut older_pages = 0;
    let mut older = Vec::new();
    while let Some(before) = cursor {
        let page = alice.get(&format!("{transcript}&before={before}")).await;
        older.extend(texts(&page));
        older_pages += 1;
        assert!(older_pages < 10, "paging ends");
        cursor = page["next_before"].as_str().map(str::to_owned);
    }
    assert!(older_pages >= 2, "older pages: {older_pages}");
    assert!(
        older.iter().any(|t| t.contains("When will it ship?")),
        "{older:?}"
    );

    // Search finds the seeded words, and each hit's conversation has its contact.
    let hits = alice.get("/api/v1/search?q=4471").await;
    let hits = list(&hits["messages"]);
    assert!(hits.len() >= 4, "{hits:?}");
    let conversations = alice.get("/api/v1/conversations").await;
    for hit in hits {
        let conversation = list(&conversations)
            .iter()
            .find(|c| c["id"] == hit["conversation_id"])
            .unwrap_or_else(|| panic!("the hit's conversation is listed: {hit}"));
        assert_eq!(conversation["contact_name"], "Kerry Fisher");
    }

    // Closed cases: each of Kerry's earlier interactions, with its disposition.
    let cases = alice
        .get(&format!(
            "/api/v1/contacts/{}/cases?state=closed",
            kerry_contact["id"].as_str().expect("id")
        ))
        .await;
    let mut dispositions: Vec<&str> = list(&cases)
        .iter()
        .filter_map(|c| c["disposition_code"].as_str())
        .collect();
    dispositions.sort_unstable();
    assert_eq!(dispositions, ["follow_up", "solved", "solved"], "{cases}");

    // Templates: approved ones to send, one prefilled from the contact.
    let templates = alice.get("/api/v1/templates").await;
    let approved: Vec<&Value> = list(&templates)
        .iter()
        .filter(|t| t["status"] == "APPROVED" && t["sendable"] == true)
        .collect();
    assert!(approved.len() >= 3, "{templates}");
    let notice = approved
        .iter()
        .find(|t| t["name"] == "account_notice")
        .expect("account_notice is approved");
    let preview = alice
        .get(&format!(
            "/api/v1/interactions/{kerry_id}/templates/{}/preview",
            notice["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        preview.to_string().contains("Hi Kerry,"),
        "prefilled from the contact: {preview}"
    );

    demo.kill().await.expect("stop the demo");
}
