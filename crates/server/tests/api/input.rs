//! R-9.3, bad input: malformed JSON, wrong types, unknown and missing fields, negative numbers,
//! empty and huge strings, invalid enum values, wrong content types, bad query parameters,
//! unknown routes and wrong methods each get a 4xx with `{"error": {"code", "message"}}` and
//! change nothing. Also R-3.4 (the outbound text limit in UTF-8 bytes, answered with the limit
//! and the size) and R-3.5 (the 24-hour window).

use crate::support::*;
use serde_json::{json, Value};

/// A request with a raw body and content type (None: no Content-Type header).
async fn raw(
    api: &Api,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let body = body.into();
    // The server answers an oversized body before reading it and closes that connection: keep
    // such a request off the shared connection pool.
    let http = if body.len() > 1024 * 1024 {
        reqwest::Client::new()
    } else {
        api.http.clone()
    };
    let mut req = http.request(m, format!("{}{}", api.base, path)).body(body);
    if let Some(t) = &api.token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const JSON: Option<&str> = Some("application/json");

/// (caller, method, path, content type, body, status, error code)
type BadRequest<'a> = (
    &'a Api,
    &'static str,
    String,
    Option<&'static str>,
    String,
    u16,
    &'static str,
);

/// Everything a bad request could have changed, as the users see it.
async fn snapshot(admin: &Api, ann: &Api, interaction: &str) -> Value {
    let mut out = Vec::new();
    for (api, path) in [
        (admin, "/api/v1/queues".to_owned()),
        (admin, "/api/v1/agents".to_owned()),
        (admin, "/api/v1/settings".to_owned()),
        (ann, "/api/v1/me".to_owned()),
        (ann, "/api/v1/interactions".to_owned()),
        (ann, format!("/api/v1/interactions/{interaction}")),
        (ann, format!("/api/v1/interactions/{interaction}/messages")),
        (ann, format!("/api/v1/interactions/{interaction}/notes")),
    ] {
        let (s, v) = api.get(&path).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        out.push(json!({"path": path, "body": v}));
    }
    Value::Array(out)
}

async fn bad_requests(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(
        &admin,
        json!({"name": "Support", "dispositions": [{"code": "solved"}]}),
    )
    .await;
    let ann_id = agent(&admin, "ann", 3, false, &[&q]).await;
    agent(&admin, "bob", 3, false, &[]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let it = server.ingest_id(&q, "4915100000001", "Cleo", "Hello").await;
    ann.act(&it, "accept").await;
    let before = snapshot(&admin, &ann, &it).await;

    let huge = "x".repeat(100_000);
    let too_big_body = format!("{{\"name\": \"{}\"}}", "y".repeat(3 * 1024 * 1024));
    let msgs = format!("/api/v1/interactions/{it}/messages");
    let notes = format!("/api/v1/interactions/{it}/notes");
    let end = format!("/api/v1/interactions/{it}/end");
    let transfer = format!("/api/v1/interactions/{it}/transfer");
    let conference = format!("/api/v1/interactions/{it}/conference");
    let wrap_up = format!("/api/v1/interactions/{it}/wrap-up");
    let queue_path = format!("/api/v1/queues/{q}");
    let ann_path = format!("/api/v1/agents/{ann_id}");
    let anon = server.anon();

    let cases: Vec<BadRequest> = vec![
        // Malformed JSON, wrong shapes and types, unknown and missing fields.
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X","#.into(), 400, "bad_request"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, "".into(), 400, "bad_request"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, "[1, 2]".into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": 5}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "colour": "red"}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "priority": -1}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "acceptance_interval_s": 1.5}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "sticky": "yes"}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "priority": 0}"#.into(), 422, "invalid_priority"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "acceptance_interval_s": 0}"#.into(), 422, "invalid_acceptance_interval"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "dispositions": [{"code": ""}]}"#.into(), 422, "invalid_disposition"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "disposition_required": true}"#.into(), 422, "disposition_required_without_codes"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, "{}".into(), 422, "invalid_name"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": ""}"#.into(), 422, "invalid_name"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "   "}"#.into(), 422, "invalid_name"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, json!({"name": huge}).to_string(), 422, "invalid_name"),
        // Invalid enum values.
        (&admin, "POST", "/api/v1/queues".into(), JSON, r#"{"name": "X", "routing_policy": "x"}"#.into(), 422, "invalid_routing_policy"),
        (&admin, "PATCH", queue_path.clone(), JSON, r#"{"routing_policy": "x"}"#.into(), 422, "invalid_routing_policy"),
        (&admin, "PATCH", queue_path.clone(), JSON, r#"{"name": ""}"#.into(), 422, "invalid_name"),
        (&admin, "PATCH", queue_path.clone(), JSON, r#"{"sla_response_s": -5}"#.into(), 422, "invalid_body"),
        (&admin, "PATCH", queue_path.clone(), JSON, r#"{"priority": 101}"#.into(), 422, "invalid_priority"),
        // Wrong content type, none at all, and a body over the size limit.
        (&admin, "POST", "/api/v1/queues".into(), Some("text/plain"), r#"{"name": "X"}"#.into(), 415, "unsupported_media_type"),
        (&admin, "POST", "/api/v1/queues".into(), None, r#"{"name": "X"}"#.into(), 415, "unsupported_media_type"),
        (&admin, "POST", "/api/v1/queues".into(), Some("application/x-www-form-urlencoded"), "name=X".into(), 415, "unsupported_media_type"),
        (&admin, "POST", "/api/v1/queues".into(), JSON, too_big_body, 413, "payload_too_large"),
        // Agents.
        (&admin, "POST", "/api/v1/agents".into(), JSON, r#"{"username": "zed", "display_name": "Zed", "role": "agent"}"#.into(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": "Zed", "role": "boss"}).to_string(), 422, "invalid_role"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "", "password": PASSWORD, "display_name": "Zed", "role": "agent"}).to_string(), 422, "invalid_username"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed zed", "password": PASSWORD, "display_name": "Zed", "role": "agent"}).to_string(), 422, "invalid_username"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": huge, "password": PASSWORD, "display_name": "Zed", "role": "agent"}).to_string(), 422, "invalid_username"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": "short", "display_name": "Zed", "role": "agent"}).to_string(), 422, "weak_password"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": " ", "role": "agent"}).to_string(), 422, "invalid_display_name"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": huge, "role": "agent"}).to_string(), 422, "invalid_display_name"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": "Zed", "role": "agent", "capacity": -1}).to_string(), 422, "invalid_body"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": "Zed", "role": "agent", "capacity": 0}).to_string(), 422, "invalid_capacity"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "zed", "password": PASSWORD, "display_name": "Zed", "role": "agent", "queue_ids": ["nope"]}).to_string(), 422, "unknown_queue"),
        (&admin, "POST", "/api/v1/agents".into(), JSON, json!({"username": "ann", "password": PASSWORD, "display_name": "Ann 2", "role": "agent"}).to_string(), 409, "username_taken"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"role": "boss"}"#.into(), 422, "invalid_role"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"capacity": 0}"#.into(), 422, "invalid_capacity"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"capacity": 0, "password": "a-fine-new-password"}"#.into(), 422, "invalid_capacity"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"queue_ids": ["nope"]}"#.into(), 422, "unknown_queue"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"password": "x"}"#.into(), 422, "weak_password"),
        (&admin, "PATCH", ann_path.clone(), JSON, json!({"display_name": huge}).to_string(), 422, "invalid_display_name"),
        (&admin, "PATCH", ann_path.clone(), JSON, r#"{"username": "annie"}"#.into(), 422, "invalid_body"),
        // Presence and stop-new.
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": "rona"}"#.into(), 422, "invalid_presence"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": "busy"}"#.into(), 422, "invalid_presence"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": ""}"#.into(), 422, "invalid_presence"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": 1}"#.into(), 422, "invalid_body"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, "{}".into(), 422, "invalid_body"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": "on_break"}"#.into(), 422, "break_reason_required"),
        (&ann, "PUT", "/api/v1/me/presence".into(), JSON, r#"{"presence": "on_break", "reason": "Nap"}"#.into(), 422, "unknown_break_reason"),
        (&ann, "PUT", "/api/v1/me/stop-new".into(), JSON, r#"{"stop_new": "yes"}"#.into(), 422, "invalid_body"),
        (&ann, "PUT", "/api/v1/me/stop-new".into(), JSON, "null".into(), 422, "invalid_body"),
        // Messages, notes and actions on the interaction.
        (&ann, "POST", msgs.clone(), JSON, r#"{"text": ""}"#.into(), 422, "empty_message"),
        (&ann, "POST", msgs.clone(), JSON, r#"{"text": "  \n "}"#.into(), 422, "empty_message"),
        (&ann, "POST", msgs.clone(), JSON, r#"{"text": 5}"#.into(), 422, "invalid_body"),
        (&ann, "POST", msgs.clone(), JSON, "{}".into(), 422, "invalid_body"),
        (&ann, "POST", msgs.clone(), JSON, r#"{"text": "hi", "to": "+1555"}"#.into(), 422, "invalid_body"),
        (&ann, "POST", msgs.clone(), JSON, json!({"text": huge}).to_string(), 422, "text_too_long"),
        (&ann, "POST", msgs.clone(), Some("text/plain"), "hi".into(), 415, "unsupported_media_type"),
        (&ann, "POST", notes.clone(), JSON, r#"{"text": ""}"#.into(), 422, "invalid_note"),
        (&ann, "POST", notes.clone(), JSON, json!({"text": huge}).to_string(), 422, "invalid_note"),
        (&ann, "POST", end.clone(), JSON, r#"{"text": 5}"#.into(), 422, "invalid_body"),
        (&ann, "POST", end.clone(), JSON, "not json".into(), 422, "invalid_body"),
        (&ann, "POST", end.clone(), JSON, r#"{"reason": "done"}"#.into(), 422, "invalid_body"),
        (&ann, "POST", end.clone(), JSON, json!({"text": huge}).to_string(), 422, "text_too_long"),
        (&ann, "POST", transfer.clone(), JSON, "{}".into(), 422, "invalid_target"),
        (&ann, "POST", transfer.clone(), JSON, json!({"queue_id": q, "agent_id": ann_id}).to_string(), 422, "invalid_target"),
        (&ann, "POST", transfer.clone(), JSON, r#"{"queue_id": "nope"}"#.into(), 422, "unknown_queue"),
        (&ann, "POST", transfer.clone(), JSON, r#"{"agent_id": "nope"}"#.into(), 422, "unknown_agent"),
        (&ann, "POST", transfer.clone(), JSON, json!({"agent_id": ann_id}).to_string(), 422, "transfer_to_self"),
        (&ann, "POST", transfer.clone(), JSON, r#"{"queue_id": 7}"#.into(), 422, "invalid_body"),
        (&ann, "POST", conference.clone(), JSON, json!({"agent_id": ann_id}).to_string(), 422, "conference_with_self"),
        (&ann, "POST", conference.clone(), JSON, "{}".into(), 422, "invalid_target"),
        (&ann, "POST", wrap_up.clone(), JSON, r#"{"disposition_code": 3}"#.into(), 422, "invalid_body"),
        (&ann, "POST", wrap_up.clone(), JSON, "{}".into(), 409, "not_in_wrap_up"),
        // Query parameters.
        (&ann, "GET", "/api/v1/interactions?limit=abc".into(), None, String::new(), 400, "invalid_query"),
        (&ann, "GET", "/api/v1/interactions?all=maybe".into(), None, String::new(), 400, "invalid_query"),
        (&ann, "GET", "/api/v1/interactions?state=bogus".into(), None, String::new(), 400, "invalid_state"),
        (&ann, "GET", format!("{msgs}?limit=0"), None, String::new(), 400, "invalid_limit"),
        (&ann, "GET", format!("{msgs}?limit=-1"), None, String::new(), 400, "invalid_limit"),
        (&ann, "GET", format!("{msgs}?limit=100000"), None, String::new(), 400, "invalid_limit"),
        (&ann, "GET", format!("{msgs}?scope=everything"), None, String::new(), 400, "invalid_scope"),
        (&ann, "GET", "/api/v1/ws?since=abc".into(), None, String::new(), 400, "invalid_query"),
        // Login.
        (&anon, "POST", "/api/v1/auth/login".into(), JSON, r#"{"username": "ann"}"#.into(), 422, "invalid_body"),
        (&anon, "POST", "/api/v1/auth/login".into(), JSON, r#"{"username": "", "password": "x"}"#.into(), 422, "invalid_credentials_format"),
        (&anon, "POST", "/api/v1/auth/login".into(), JSON, json!({"username": huge, "password": "x"}).to_string(), 422, "invalid_credentials_format"),
        (&anon, "POST", "/api/v1/auth/login".into(), JSON, json!({"username": "ann", "password": huge}).to_string(), 422, "invalid_credentials_format"),
        (&anon, "POST", "/api/v1/auth/login".into(), Some("text/plain"), "ann:pw".into(), 415, "unsupported_media_type"),
        // Settings (R-3.4, R-3.6 ranges).
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"max_text_message_size": 0}"#.into(), 422, "invalid_max_text_message_size"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"max_text_message_size": 2147483648}"#.into(), 422, "invalid_max_text_message_size"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"max_text_message_size": -1}"#.into(), 422, "invalid_body"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"max_text_message_size": "big"}"#.into(), 422, "invalid_body"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"transcript_interactions_count": 1001}"#.into(), 422, "invalid_transcript_interactions_count"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"transcript_interactions_count": 0}"#.into(), 422, "invalid_transcript_interactions_count"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"after_missed_offer": "x"}"#.into(), 422, "invalid_after_missed_offer"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"new_contact_policy": "x"}"#.into(), 422, "invalid_new_contact_policy"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"break_reasons": ["Lunch", ""]}"#.into(), 422, "invalid_break_reason"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"disconnect_grace_s": 86401}"#.into(), 422, "invalid_duration"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"colour": "red"}"#.into(), 422, "invalid_body"),
        (&admin, "PATCH", "/api/v1/settings".into(), JSON, r#"{"max_text_message_size": 10, "transcript_interactions_count": 1001}"#.into(), 422, "invalid_transcript_interactions_count"),
        // Unknown routes and wrong methods.
        (&ann, "GET", "/api/v1/nope".into(), None, String::new(), 404, "not_found"),
        (&anon, "GET", "/nope".into(), None, String::new(), 404, "not_found"),
        (&ann, "POST", format!("/api/v1/interactions/{it}/nope"), JSON, "{}".into(), 404, "not_found"),
        (&ann, "GET", "/api/v1/interactions/a/b/c/d".into(), None, String::new(), 404, "not_found"),
        (&ann, "DELETE", "/api/v1/me".into(), None, String::new(), 405, "method_not_allowed"),
        (&anon, "GET", "/api/v1/auth/login".into(), None, String::new(), 405, "method_not_allowed"),
        (&admin, "PUT", "/api/v1/queues".into(), JSON, "{}".into(), 405, "method_not_allowed"),
        (&ann, "POST", format!("/api/v1/interactions/{it}"), JSON, "{}".into(), 405, "method_not_allowed"),
    ];
    for (api, method, path, ct, body, status, code) in cases {
        let (s, v) = raw(api, method, &path, ct, body).await;
        let shown = if path.len() > 80 { &path[..80] } else { &path };
        let answer: String = v.to_string().chars().take(300).collect();
        assert_eq!(
            s, status,
            "{method} {shown}: expected {status} {code}, got {s} {answer}"
        );
        assert_error(s, &v, status, code);
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.len() < 2000,
            "{method} {shown}: the message is a sentence, not an echo of the input"
        );
    }

    let after = snapshot(&admin, &ann, &it).await;
    assert_eq!(before, after, "bad requests changed something");
    let (_, all) = admin.get("/api/v1/interactions?all=true").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    // The server is still well after all of it.
    let (s, _) = anon.get("/healthz").await;
    assert_eq!(s, 200);
    ann.ok(&msgs, json!({"text": "still here"})).await;
}

on_every_backend!(
    bad_input_answers_4xx_with_the_error_shape_and_changes_nothing,
    bad_requests
);

async fn texts(api: &Api, it: &str) -> Vec<String> {
    let (s, v) = api.messages(it).await;
    assert_eq!(s, 200, "{v}");
    v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "out")
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

async fn text_limit_and_window(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    agent(&admin, "ann", 3, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let it = server
        .ingest_id(&q, "4915100000002", "Dan", "Hi there")
        .await;
    ann.act(&it, "accept").await;
    let msgs = format!("/api/v1/interactions/{it}/messages");

    // R-3.4: the limit counts bytes of UTF-8, not characters.
    let (s, v) = admin
        .patch("/api/v1/settings", json!({"max_text_message_size": 10}))
        .await;
    assert_eq!(
        (s, v["max_text_message_size"].clone()),
        (200, json!(10)),
        "{v}"
    );
    assert_eq!(
        ann.me().await["max_text_message_size"],
        10,
        "the desktop learns the limit"
    );
    for ok in ["0123456789", "ééééé", "😀😀"] {
        let (s, v) = ann.post(&msgs, json!({"text": ok})).await;
        assert_eq!(
            s,
            201,
            "{ok:?} ({} bytes) is within 10 bytes: {v}",
            ok.len()
        );
        assert_eq!(v["status"], "queued");
    }
    for (bad, size) in [("01234567890", 11), ("😀😀😀", 12), ("ééééé!", 11)] {
        let (s, v) = ann.post(&msgs, json!({"text": bad})).await;
        assert_error(s, &v, 422, "text_too_long");
        assert_eq!(v["error"]["limit"], 10, "{v}");
        assert_eq!(v["error"]["size"], size, "{bad:?}: {v}");
    }
    // A refused closing text refuses the end too: the interaction stays active.
    let (s, v) = ann
        .try_act(&it, "end", json!({"text": "Goodbye and thanks!"}))
        .await;
    assert_error(s, &v, 422, "text_too_long");
    assert_eq!(ann.interaction(&it).await["state"], "active");
    assert_eq!(
        texts(&ann, &it).await,
        ["0123456789", "ééééé", "😀😀"],
        "refused texts are not stored"
    );

    // WhatsApp's own limit applies above a larger setting.
    let (s, _) = admin
        .patch(
            "/api/v1/settings",
            json!({"max_text_message_size": 100_000}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = ann.post(&msgs, json!({"text": "x".repeat(4097)})).await;
    assert_error(s, &v, 422, "text_too_long");
    assert_eq!(v["error"]["limit"], 4096, "{v}");
    let (s, v) = ann.post(&msgs, json!({"text": "x".repeat(4096)})).await;
    assert_eq!(s, 201, "{v}");

    // R-3.5: 24 hours after the customer's last message only a template may be sent.
    let expires = string(&ann.interaction(&it).await["window_expires_at"]);
    server.clock.advance_secs(24 * 3600 - 1);
    // Sessions last 12 hours: log in again.
    let ann = server.login("ann", PASSWORD).await;
    assert_eq!(
        ann.interaction(&it).await["window_expires_at"],
        expires.as_str()
    );
    let (s, v) = ann.post(&msgs, json!({"text": "just in time"})).await;
    assert_eq!(s, 201, "{v}");
    server.clock.advance_secs(2);
    let (s, v) = ann.post(&msgs, json!({"text": "too late"})).await;
    assert_error(s, &v, 422, "template_required");
    let (s, v) = ann.try_act(&it, "end", json!({"text": "bye"})).await;
    assert_error(s, &v, 422, "template_required");
    assert_eq!(ann.interaction(&it).await["state"], "active");
    assert!(!texts(&ann, &it)
        .await
        .iter()
        .any(|t| t == "too late" || t == "bye"));
    // The customer writes again: the window opens again.
    let again = server
        .ingest(&q, "4915100000002", "Dan", "Still there?")
        .await;
    assert_eq!(again.interaction_id.0, it);
    let (s, v) = ann.post(&msgs, json!({"text": "yes!"})).await;
    assert_eq!(s, 201, "{v}");
    // Ending without a text is always possible.
    ann.act(&it, "end").await;
}

on_every_backend!(
    text_limit_counts_utf8_bytes_and_the_24_hour_window_asks_for_a_template,
    text_limit_and_window
);
