//! Integration tokens: shown once, listed without the token, a bearer on REST and the
//! websocket with the user's role, `last_used_at` at most once a minute, and 401 at once when
//! revoked, expired or its user deleted.

use crate::support::*;
use serde_json::{json, Value};

fn bearer(server: &Server, token: &str) -> Api {
    Api {
        token: Some(token.to_owned()),
        ..server.anon()
    }
}

async fn make(admin: &Api, body: Value) -> Value {
    admin.ok("/api/v1/tokens", body).await
}

fn listed<'a>(list: &'a Value, id: &Value) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|t| t["id"] == *id)
        .expect("the token is listed")
}

async fn bearer_tokens(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let sue = supervisor(&admin, "sue").await;
    let t = make(&admin, json!({"name": "Reporting export", "user_id": sue})).await;
    let token = string(&t["token"]);
    assert!(token.starts_with("sbt_") && token.len() == 68, "{token}");
    assert_eq!(t["user_id"], sue.as_str());
    assert_eq!(t["expires_at"], Value::Null);

    // The list never shows the token; it was not used yet.
    let list = admin.get_ok("/api/v1/tokens").await;
    assert!(!list.to_string().contains(&token[4..]), "{list}");
    let row = listed(&list, &t["id"]);
    assert_eq!(row["name"], "Reporting export");
    assert_eq!(row["user_name"], "Sue");
    assert_eq!(row["last_used_at"], Value::Null);

    // It works with the user's role: a supervisor reads every interaction, not the settings.
    let api = bearer(&server, &token);
    assert_eq!(api.me().await["id"], sue.as_str());
    assert_eq!(api.get("/api/v1/interactions?all=true").await.0, 200);
    let (s, v) = api.get("/api/v1/settings").await;
    assert_error(s, &v, 403, "forbidden");
    // And on the websocket.
    let ws = Ws::connect(&server.base, &token, None).await;
    assert_eq!(ws.hello.data["user_id"], sue.as_str());
    ws.close().await;

    // Used now: last_used_at is the time of the first use, and is not written again within
    // the minute.
    let list = admin.get_ok("/api/v1/tokens").await;
    let used = listed(&list, &t["id"])["last_used_at"].clone();
    assert!(used.is_string(), "{list}");
    server.clock.advance_secs(30);
    api.me().await;
    let list = admin.get_ok("/api/v1/tokens").await;
    assert_eq!(listed(&list, &t["id"])["last_used_at"], used);
    server.clock.advance_secs(31);
    api.me().await;
    let list = admin.get_ok("/api/v1/tokens").await;
    assert_ne!(listed(&list, &t["id"])["last_used_at"], used);

    // Revoked: 401 at once, on REST and the websocket; an open socket closes.
    let url = format!(
        "{}/api/v1/ws?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (mut open, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("ws");
    let (s, _) = admin
        .delete(&format!("/api/v1/tokens/{}", string(&t["id"])))
        .await;
    assert_eq!(s, 204);
    let (s, v) = api.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");
    assert_eq!(crate::auth::close_code(&mut open).await, 1008);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401)
        }
        other => panic!("a revoked token opened a websocket: {:?}", other.is_ok()),
    }
    let list = admin.get_ok("/api/v1/tokens").await;
    assert!(list
        .as_array()
        .expect("list")
        .iter()
        .all(|r| r["id"] != t["id"]));
    let (s, v) = admin
        .delete(&format!("/api/v1/tokens/{}", string(&t["id"])))
        .await;
    assert_error(s, &v, 404, "not_found");
}
on_every_backend!(tokens_are_bearers_until_revoked, bearer_tokens);

async fn expiry_and_users(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let ann = agent(&admin, "ann", 2, false, &[]).await;
    let t = make(
        &admin,
        json!({"name": "Short", "user_id": ann, "expires_in_days": 1}),
    )
    .await;
    assert!(t["expires_at"].is_string());
    let api = bearer(&server, &string(&t["token"]));
    assert_eq!(api.me().await["id"], ann.as_str());
    // An agent's token gets the agent's role.
    let (s, v) = api.get("/api/v1/agents").await;
    assert_error(s, &v, 403, "forbidden");
    server.clock.advance_secs(86_399);
    assert_eq!(api.me().await["id"], ann.as_str());
    server.clock.advance_secs(1);
    let (s, v) = api.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");
    // (The admin's own session ended too; a day has passed.)
    let admin = server.admin().await;
    let list = admin.get_ok("/api/v1/tokens").await;
    assert_eq!(listed(&list, &t["id"])["expired"], true);

    // A token of a user who is deleted stops working.
    let t2 = make(&admin, json!({"name": "Long", "user_id": ann})).await;
    let api2 = bearer(&server, &string(&t2["token"]));
    api2.me().await;
    let (s, _) = admin.delete(&format!("/api/v1/agents/{ann}")).await;
    assert_eq!(s, 204);
    let (s, v) = api2.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");

    // A made-up token, and one shaped like a session token, get 401.
    for fake in [format!("sbt_{}", "0".repeat(64)), "0".repeat(64)] {
        let (s, v) = bearer(&server, &fake).get("/api/v1/me").await;
        assert_error(s, &v, 401, "unauthorized");
    }

    // Bad input changes nothing.
    let before = admin.get_ok("/api/v1/tokens").await;
    let bob = agent(&admin, "bob", 2, false, &[]).await;
    for (body, code) in [
        (json!({"name": " ", "user_id": bob}), "invalid_name"),
        (
            json!({"name": "x".repeat(101), "user_id": bob}),
            "invalid_name",
        ),
        (
            json!({"name": "n", "user_id": "usr_missing"}),
            "unknown_user",
        ),
        (json!({"name": "n", "user_id": ann}), "unknown_user"),
        (
            json!({"name": "n", "user_id": bob, "expires_in_days": 0}),
            "invalid_expiry",
        ),
        (
            json!({"name": "n", "user_id": bob, "expires_in_days": 3651}),
            "invalid_expiry",
        ),
    ] {
        let (s, v) = admin.post("/api/v1/tokens", body).await;
        assert_error(s, &v, 422, code);
    }
    assert_eq!(admin.get_ok("/api/v1/tokens").await, before);
    // Only admins manage tokens.
    let (s, v) = bearer(&server, &string(&t["token"]))
        .get("/api/v1/tokens")
        .await;
    assert_error(s, &v, 401, "unauthorized");
    let bob_api = server.login("bob", PASSWORD).await;
    let (s, v) = bob_api.get("/api/v1/tokens").await;
    assert_error(s, &v, 403, "forbidden");
}
on_every_backend!(
    expired_tokens_and_tokens_of_deleted_users_get_401,
    expiry_and_users
);

async fn audited(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let ann = agent(&admin, "ann", 2, false, &[]).await;
    let t = make(&admin, json!({"name": "CRM", "user_id": ann})).await;
    let token = string(&t["token"]);
    let id = string(&t["id"]);
    let (s, _) = admin.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(s, 204);
    let page = admin.get_ok(&format!("/api/v1/audit?target_id={id}")).await;
    assert!(!page.to_string().contains(&token[4..]), "{page}");
    let items = page["items"].as_array().expect("items");
    let actions: Vec<String> = items.iter().map(|i| string(&i["action"])).collect();
    assert_eq!(actions, ["token.revoked", "token.created"]);
    assert_eq!(items[1]["after"]["name"], "CRM");
    assert_eq!(items[1]["after"]["user_id"], ann.as_str());
    assert_eq!(items[0]["before"]["name"], "CRM");
}
on_every_backend!(token_changes_are_audited, audited);
