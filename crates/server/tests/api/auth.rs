//! logins (the same answer for a wrong password and an unknown user, rate-limited per
//! username and client address, concurrent guesses included; trusted proxies), logout, the session cookie (HttpOnly, SameSite=Strict, refused on cross-site
//! writes), bearer tokens in the header (`?token=` only on the websocket), passwords never in an answer, the admin
//! created at first start, and deleted agents losing their sessions.

use crate::support::*;
use serde_json::{json, Value};

/// A request authenticated only by the given headers (no bearer token).
async fn with_headers(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http.request(m, format!("{}{}", server.base, path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Logs in with raw HTTP; returns status, body and the Set-Cookie header.
async fn login_raw(
    server: &Server,
    username: &str,
    password: &str,
) -> (u16, Value, Option<String>) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let status = resp.status().as_u16();
    let cookie = header_of(&resp, "set-cookie");
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        cookie,
    )
}

/// Keys anywhere in a JSON value.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn assert_no_secret(what: &str, v: &Value, secrets: &[&str]) {
    let mut ks = Vec::new();
    keys(v, &mut ks);
    assert!(
        !ks.iter().any(|k| k.contains("password")),
        "{what} has a password field: {v}"
    );
    let text = v.to_string();
    assert!(
        !text.contains("$argon2"),
        "{what} shows a password hash: {v}"
    );
    for s in secrets {
        assert!(!text.contains(s), "{what} shows a password: {v}");
    }
}

async fn logins(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    agent(&admin, "ann", 3, false, &[]).await;
    agent(&admin, "bob", 3, false, &[]).await;

    // Wrong password and unknown user: the same answer, so usernames cannot be probed.
    let (s, wrong, cookie) = login_raw(&server, "ann", "not-her-password").await;
    assert_error(s, &wrong, 401, "invalid_credentials");
    assert!(cookie.is_none(), "no session cookie on a failed login");
    let (s, unknown, _) = login_raw(&server, "nobody", "not-her-password").await;
    assert_error(s, &unknown, 401, "invalid_credentials");
    assert_eq!(
        wrong, unknown,
        "a wrong password and an unknown user answer alike"
    );

    // Five failures (the default login_max_failures) within the window block the username,
    // even with the right password; other users are not affected.
    for pw in ["two", "three", "four"] {
        let (s, v, _) = login_raw(&server, "ann", pw).await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, _) = login_raw(&server, "ANN", "five").await;
    assert_error(s, &v, 401, "invalid_credentials");
    let (s, v, cookie) = login_raw(&server, "ann", PASSWORD).await;
    assert_error(s, &v, 429, "too_many_attempts");
    assert!(cookie.is_none());
    let (s, v, _) = login_raw(&server, "ann", "six").await;
    assert_error(s, &v, 429, "too_many_attempts");
    let (s, v, _) = login_raw(&server, "bob", PASSWORD).await;
    assert_eq!(s, 200, "another user logs in: {v}");
    // Once the window (300 s) has passed, the right password works again.
    server.clock.advance_secs(301);
    let (s, v, _) = login_raw(&server, "ann", PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["user"]["username"], "ann");
    assert!(v["token"].as_str().is_some_and(|t| t.len() >= 32), "{v}");
    // A success clears the failures.
    for pw in ["a", "b", "c", "d"] {
        let (s, v, _) = login_raw(&server, "ann", pw).await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, _) = login_raw(&server, "ann", PASSWORD).await;
    assert_eq!(
        s, 200,
        "four failures after a success are still below the limit: {v}"
    );

    // Logout ends the session: the token no longer works; other sessions of the user do.
    let ann = server.login("ann", PASSWORD).await;
    let ann2 = server.login("ann", PASSWORD).await;
    let resp = ann
        .http
        .post(format!("{}/api/v1/auth/logout", server.base))
        .bearer_auth(ann.token.as_deref().expect("token"))
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status().as_u16(), 204);
    let cleared = header_of(&resp, "set-cookie").unwrap_or_default();
    assert!(
        cleared.starts_with("sb_session=;") && cleared.contains("Max-Age=0"),
        "the cookie is cleared: {cleared}"
    );
    let (s, v) = ann.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v) = ann.post("/api/v1/auth/logout", json!({})).await;
    assert_error(s, &v, 401, "unauthorized");
    assert_eq!(ann2.me().await["username"], "ann");

    // A token in the URL (`?token=`) opens only the websocket (see the websocket tests): on any
    // other request it would leak into logs and history, and it is refused like no token.
    let token = ann2.token.clone().expect("token");
    let (s, v) = server
        .anon()
        .get(&format!("/api/v1/me?token={token}"))
        .await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v) = server.anon().get("/api/v1/me?token=bogus").await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v) = with_headers(
        &server,
        "GET",
        "/api/v1/me",
        &[("authorization", "Bearer bogus")],
        None,
    )
    .await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v) = with_headers(
        &server,
        "GET",
        "/api/v1/me",
        &[("authorization", "Basic YW5uOnB3")],
        None,
    )
    .await;
    assert_error(s, &v, 401, "unauthorized");

    // Sessions expire (12 hours by default).
    server.clock.advance_secs(12 * 3600 + 1);
    let (s, v) = ann2.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");
}

on_every_backend!(
    logins_are_checked_rate_limited_and_logout_ends_the_session,
    logins
);

async fn cookies(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    agent(&admin, "ann", 3, false, &[]).await;
    let (s, v, cookie) = login_raw(&server, "ann", PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    let cookie = cookie.expect("a session cookie");
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    let pair = attrs[0];
    assert_eq!(
        pair,
        format!("sb_session={}", v["token"].as_str().expect("token")),
        "{cookie}"
    );
    assert!(attrs.contains(&"HttpOnly"), "{cookie}");
    assert!(attrs.contains(&"SameSite=Strict"), "{cookie}");
    assert!(attrs.contains(&"Path=/"), "{cookie}");
    assert!(
        !attrs.contains(&"Secure"),
        "Secure only when configured behind TLS: {cookie}"
    );

    // The cookie alone authenticates reads and same-origin writes.
    let (s, v) = with_headers(&server, "GET", "/api/v1/me", &[("cookie", pair)], None).await;
    assert_eq!((s, v["username"].clone()), (200, json!("ann")), "{v}");
    let (s, v) = with_headers(
        &server,
        "PUT",
        "/api/v1/me/presence",
        &[("cookie", pair)],
        Some(json!({"presence": "available"})),
    )
    .await;
    assert_eq!((s, v["presence"].clone()), (200, json!("available")), "{v}");
    let origin = server.base.clone();
    let (s, v) = with_headers(
        &server,
        "PUT",
        "/api/v1/me/stop-new",
        &[("cookie", pair), ("origin", &origin)],
        Some(json!({"stop_new": true})),
    )
    .await;
    assert_eq!((s, v["stop_new"].clone()), (200, json!(true)), "{v}");

    // A cookie-authenticated write from another origin is refused (CSRF) and changes nothing.
    for evil in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let (s, v) = with_headers(
            &server,
            "PUT",
            "/api/v1/me/presence",
            &[("cookie", pair), ("origin", evil)],
            Some(json!({"presence": "on_break", "reason": "Lunch"})),
        )
        .await;
        assert_error(s, &v, 403, "forbidden");
        let (s, v) = with_headers(
            &server,
            "POST",
            "/api/v1/auth/logout",
            &[("cookie", pair), ("origin", evil)],
            None,
        )
        .await;
        assert_error(s, &v, 403, "forbidden");
    }
    let (s, v) = with_headers(
        &server,
        "GET",
        "/api/v1/me",
        &[("cookie", pair), ("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(s, 200, "reads are not writes: {v}");
    assert_eq!(
        v["presence"], "available",
        "the refused write changed nothing"
    );
    assert_eq!(v["stop_new"], true);
    // A bearer token cannot be sent by another site, so it needs no Origin check.
    let token = pair.trim_start_matches("sb_session=");
    let (s, v) = with_headers(
        &server,
        "PUT",
        "/api/v1/me/stop-new",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("origin", "https://evil.example"),
        ],
        Some(json!({"stop_new": false})),
    )
    .await;
    assert_eq!((s, v["stop_new"].clone()), (200, json!(false)), "{v}");

    // The websocket opens with the cookie from this origin, not from another one (a handshake
    // from a foreign page would stream the agent's customers to it).
    let ws_with = |origin: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{}/api/v1/ws", server.base.replace("http://", "ws://"))
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("cookie", pair.parse().expect("header"));
        req.headers_mut()
            .insert("origin", origin.parse().expect("header"));
        tokio_tungstenite::connect_async(req)
    };
    match ws_with("https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403)
        }
        other => panic!(
            "a cross-site websocket handshake with the cookie must be refused: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    let (ws, resp) = ws_with(&origin)
        .await
        .expect("same-origin websocket with the cookie");
    assert_eq!(resp.status().as_u16(), 101);
    drop(ws);

    // Logging out by cookie ends that session.
    let (s, _) = with_headers(
        &server,
        "POST",
        "/api/v1/auth/logout",
        &[("cookie", pair), ("origin", &origin)],
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = with_headers(&server, "GET", "/api/v1/me", &[("cookie", pair)], None).await;
    assert_error(s, &v, 401, "unauthorized");
}

on_every_backend!(
    the_session_cookie_is_http_only_strict_and_refused_cross_site,
    cookies
);

async fn accounts(db: Db) {
    let server = Server::start(db).await;
    // The first start created `admin` with the configured password, role admin.
    let (s, v, _) = login_raw(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["user"]["username"], "admin");
    assert_eq!(v["user"]["role"], "admin");
    let (s, v, _) = login_raw(&server, "admin", "admin").await;
    assert_error(s, &v, 401, "invalid_credentials");
    let admin = server.admin().await;
    let q = queue(&admin, json!({"name": "Support"})).await;

    // Passwords never appear in an answer, and are stored as argon2id hashes.
    let secret = "a-very-secret-pass";
    let (s, created) = admin
        .post("/api/v1/agents", json!({"username": "ann", "password": secret, "display_name": "Ann", "role": "agent", "queue_ids": [q]}))
        .await;
    assert_eq!(s, 201, "{created}");
    let ann_id = string(&created["id"]);
    assert_no_secret("POST /agents", &created, &[secret, ADMIN_PASSWORD]);
    let patched = admin
        .patch_ok(
            &format!("/api/v1/agents/{ann_id}"),
            json!({"password": "another-secret-1"}),
        )
        .await;
    assert_no_secret("PATCH /agents", &patched, &["another-secret-1"]);
    let (s, v, _) = login_raw(&server, "ann", secret).await;
    assert_error(s, &v, 401, "invalid_credentials");
    let (s, login, _) = login_raw(&server, "ann", "another-secret-1").await;
    assert_eq!(s, 200, "the new password works: {login}");
    assert_no_secret("login", &login["user"], &["another-secret-1"]);
    let stored = server
        .state
        .store
        .user_by_username("ann")
        .await
        .expect("store")
        .expect("ann");
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "argon2id: {}",
        &stored.password_hash[..12]
    );
    let ann = server.login("ann", "another-secret-1").await;
    let mut ws = ann.ws(None).await;
    ann.available().await;
    let f = ws.expect_presence(&ann_id, "available").await;
    assert_no_secret("presence event", &f.data, &["another-secret-1"]);
    let bob_id = agent(&admin, "bob", 2, false, &[&q]).await;
    for (api, path) in [
        (&admin, "/api/v1/agents".to_owned()),
        (&admin, format!("/api/v1/agents/{ann_id}")),
        (&admin, format!("/api/v1/agents/{bob_id}")),
        (&admin, "/api/v1/me".to_owned()),
        (&ann, "/api/v1/me".to_owned()),
        (&ann, "/api/v1/directory".to_owned()),
        (&admin, "/api/v1/settings".to_owned()),
    ] {
        let (s, v) = api.get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert_no_secret(&path, &v, &["another-secret-1", PASSWORD, ADMIN_PASSWORD]);
    }
    let (_, list) = admin.get("/api/v1/agents").await;
    let admins: Vec<&Value> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|u| u["role"] == "admin")
        .collect();
    assert_eq!(admins.len(), 1, "one admin: {list}");
    assert_eq!(admins[0]["username"], "admin");

    // Deleting an agent ends their sessions at once; they cannot log in again.
    let bob = server.login("bob", PASSWORD).await;
    assert_eq!(bob.me().await["username"], "bob");
    let (s, v) = admin.delete(&format!("/api/v1/agents/{bob_id}")).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = bob.get("/api/v1/me").await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v) = bob
        .put("/api/v1/me/presence", json!({"presence": "available"}))
        .await;
    assert_error(s, &v, 401, "unauthorized");
    let (s, v, _) = login_raw(&server, "bob", PASSWORD).await;
    assert_error(s, &v, 401, "invalid_credentials");
    let (s, v) = admin.get(&format!("/api/v1/agents/{bob_id}")).await;
    assert_error(s, &v, 404, "not_found");

    // A restart keeps the one admin and their password (the bootstrap runs on an empty
    // database only), and sessions survive it.
    ws.close().await;
    let server = server.restart().await;
    let (s, v, _) = login_raw(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    let admin = Api {
        base: server.base.clone(),
        ..admin
    };
    let (_, list) = admin.get("/api/v1/agents").await;
    assert_eq!(
        list.as_array()
            .expect("list")
            .iter()
            .filter(|u| u["role"] == "admin")
            .count(),
        1,
        "{list}"
    );
    let ann = Api {
        base: server.base.clone(),
        ..ann
    };
    assert_eq!(ann.me().await["username"], "ann");
}

on_every_backend!(
    passwords_never_leave_the_server_and_deleted_agents_lose_their_sessions,
    accounts
);

/// Reads a raw websocket until its close frame and returns the close code.
pub(crate) async fn close_code(
    stream: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> u16 {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("the socket closes in time");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    }
}

async fn ended_sessions_close_their_sockets(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Q"})).await;
    let ann_id = agent(&admin, "ann", 2, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    let ann2 = server.login("ann", PASSWORD).await;
    let connect = |token: String| {
        let url = format!(
            "{}/api/v1/ws?token={token}",
            server.base.replace("http://", "ws://")
        );
        async move { tokio_tungstenite::connect_async(url).await.expect("ws").0 }
    };
    let mut first = connect(ann.token.clone().expect("token")).await;
    let mut second = connect(ann2.token.clone().expect("token")).await;
    // Logging out ends that session's socket (policy violation, 1008), not the other one's.
    let (s, _) = ann.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(s, 204);
    assert_eq!(close_code(&mut first).await, 1008);
    let (s, _) = ann2.get("/api/v1/me").await;
    assert_eq!(s, 200, "the other session lives on");
    // Deleting the agent ends all their sockets.
    let (s, v) = admin.delete(&format!("/api/v1/agents/{ann_id}")).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(close_code(&mut second).await, 1008);
}

on_every_backend!(
    logout_and_deletion_close_live_sockets,
    ended_sessions_close_their_sockets
);

/// A login from the given local address (any of 127.0.0.0/8 reaches the test server); returns
/// status, body and the `Retry-After` header.
async fn login_from(
    server: &Server,
    from: &str,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let ip: std::net::IpAddr = from.parse().expect("address");
    let http = reqwest::Client::builder()
        .local_address(ip)
        .build()
        .expect("client");
    let mut req = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": username, "password": password}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("login");
    let status = resp.status().as_u16();
    let retry = header_of(&resp, "retry-after");
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry,
    )
}

/// The value of an unlabelled counter in `/metrics` (0 when it is not there).
async fn counter(server: &Server, name: &str) -> u64 {
    let (_, _, metrics) = server.anon().get_bytes("/metrics").await;
    let metrics = String::from_utf8(metrics).expect("text");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Asserts a 429 `too_many_attempts` with a `Retry-After` of 1 to `max` seconds.
fn assert_refused(s: u16, v: &Value, retry: Option<&str>, max: u64) {
    assert_error(s, v, 429, "too_many_attempts");
    let secs: u64 = retry
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("a 429 carries Retry-After in seconds: {retry:?} {v}"));
    assert!(
        (1..=max).contains(&secs),
        "Retry-After {secs} within 1..={max}"
    );
}

async fn concurrent_wrong_passwords(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    agent(&admin, "ann", 3, false, &[]).await;
    let failed_before = counter(&server, "switchboard_login_failures_total").await;
    let refused_before = counter(&server, "switchboard_login_refusals_total").await;

    // 50 wrong passwords at once from one address: only login_max_failures (5) of them are
    // checked, however they interleave; the rest are refused before any hashing.
    let tries = (0..50).map(|i| {
        let server = &server;
        async move { login_from(server, "127.0.0.1", "ann", &format!("wrong-{i}"), &[]).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let mut checked = 0;
    let mut refused = 0;
    for (s, v, retry) in &answers {
        match s {
            401 => {
                assert_error(*s, v, 401, "invalid_credentials");
                checked += 1;
            }
            _ => {
                assert_refused(*s, v, retry.as_deref(), 300);
                refused += 1;
            }
        }
    }
    assert_eq!(
        (checked, refused),
        (5, 45),
        "at most login_max_failures password checks per user and address"
    );
    // The right password from the same address is refused too, until the window has passed.
    let (s, v, retry) = login_from(&server, "127.0.0.1", "ann", PASSWORD, &[]).await;
    assert_refused(s, &v, retry.as_deref(), 300);
    assert_eq!(
        counter(&server, "switchboard_login_failures_total").await - failed_before,
        5
    );
    assert_eq!(
        counter(&server, "switchboard_login_refusals_total").await - refused_before,
        46
    );
    server.clock.advance_secs(301);
    let (s, v, _) = login_from(&server, "127.0.0.1", "ann", PASSWORD, &[]).await;
    assert_eq!(s, 200, "{v}");
}

on_every_backend!(
    concurrent_wrong_passwords_are_checked_at_most_login_max_failures_times,
    concurrent_wrong_passwords
);

async fn lockout_from_elsewhere(db: Db) {
    let server = Server::start_with_env(
        db,
        vec![(
            "SWITCHBOARD_SERVER__LOGIN_MAX_FAILURES_PER_USER",
            "10".into(),
        )],
    )
    .await;
    let admin = server.admin().await;
    agent(&admin, "ann", 3, false, &[]).await;
    // Ann works from 127.0.0.1 (she logged in from there before).
    let (s, v, _) = login_from(&server, "127.0.0.1", "ann", PASSWORD, &[]).await;
    assert_eq!(s, 200, "{v}");

    // Someone at 127.0.0.2 who knows her username guesses until refused.
    for i in 0..5 {
        let (s, v, _) = login_from(&server, "127.0.0.2", "ann", &format!("guess-{i}"), &[]).await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, retry) = login_from(&server, "127.0.0.2", "ann", "guess-5", &[]).await;
    assert_refused(s, &v, retry.as_deref(), 300);
    let (s, v, retry) = login_from(&server, "127.0.0.2", "ann", PASSWORD, &[]).await;
    assert_refused(s, &v, retry.as_deref(), 300);
    // Ann is not locked out: from her address the right password works at once.
    let (s, v, _) = login_from(&server, "127.0.0.1", "ann", PASSWORD, &[]).await;
    assert_eq!(s, 200, "a stranger's failures do not lock ann out: {v}");

    // Guessing from many addresses meets the per-user limit (10 here) across addresses: a
    // third address is refused, while ann's own recent address still logs in.
    for i in 0..5 {
        let (s, v, _) = login_from(&server, "127.0.0.3", "ann", &format!("guess-{i}"), &[]).await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, retry) = login_from(&server, "127.0.0.4", "ann", "guess-x", &[]).await;
    assert_refused(s, &v, retry.as_deref(), 300);
    let (s, v, _) = login_from(&server, "127.0.0.1", "ann", PASSWORD, &[]).await;
    assert_eq!(
        s, 200,
        "ann's recent address passes the per-user limit: {v}"
    );

    // Without a trusted proxy configured, X-Forwarded-For is ignored: a spoofed header does
    // not buy another address's attempts.
    let (s, v, retry) = login_from(
        &server,
        "127.0.0.2",
        "ann",
        "guess-y",
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_refused(s, &v, retry.as_deref(), 300);
}

on_every_backend!(
    failed_logins_from_another_address_do_not_lock_the_user_out,
    lockout_from_elsewhere
);

async fn behind_a_proxy(db: Db) {
    let server = Server::start_with_env(
        db,
        vec![(
            "SWITCHBOARD_SERVER__TRUSTED_PROXIES",
            "127.0.0.5, ::1".into(),
        )],
    )
    .await;
    let admin = server.admin().await;
    agent(&admin, "ann", 3, false, &[]).await;
    let xff = |v: &'static str| [("x-forwarded-for", v)];
    // Through the trusted proxy (127.0.0.5) the client is the last address it appended.
    for i in 0..5 {
        let (s, v, _) = login_from(
            &server,
            "127.0.0.5",
            "ann",
            &format!("guess-{i}"),
            &xff("1.2.3.4, 203.0.113.7"),
        )
        .await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, retry) =
        login_from(&server, "127.0.0.5", "ann", PASSWORD, &xff("203.0.113.7")).await;
    assert_refused(s, &v, retry.as_deref(), 300);
    // Another client behind the same proxy is another address; a forged first entry changes
    // nothing (only the proxy's own entry counts).
    let (s, v, _) = login_from(
        &server,
        "127.0.0.5",
        "ann",
        PASSWORD,
        &xff("203.0.113.7, 198.51.100.20"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // A client that is not the trusted proxy cannot choose its address with the header.
    for i in 0..5 {
        let (s, v, _) = login_from(
            &server,
            "127.0.0.6",
            "ann",
            &format!("guess-{i}"),
            &xff("198.51.100.20"),
        )
        .await;
        assert_error(s, &v, 401, "invalid_credentials");
    }
    let (s, v, retry) =
        login_from(&server, "127.0.0.6", "ann", PASSWORD, &xff("198.51.100.21")).await;
    assert_refused(s, &v, retry.as_deref(), 300);
}

on_every_backend!(
    behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for,
    behind_a_proxy
);

async fn url_tokens_outside_the_websocket(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    agent(&admin, "ann", 3, false, &[]).await;
    let ann = server.login("ann", PASSWORD).await;
    let token = ann.token.clone().expect("token");
    // Handshake headers on a REST endpoint do not make its URL a place for the token.
    let upgrade = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for path in [
        format!("/api/v1/me?token={token}"),
        format!("/api/v1/directory?token={token}"),
        format!("/api/v1/agents?token={token}"),
    ] {
        let (s, v) = with_headers(&server, "GET", &path, &upgrade, None).await;
        assert_error(s, &v, 401, "unauthorized");
    }
    // The websocket still opens with it.
    let url = format!(
        "{}/api/v1/ws?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (ws, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket with ?token=");
    assert_eq!(resp.status().as_u16(), 101);
    drop(ws);
}

on_every_backend!(
    a_url_token_opens_only_the_websocket_even_with_upgrade_headers,
    url_tokens_outside_the_websocket
);
