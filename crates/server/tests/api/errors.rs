//! API.md, "Errors": every 4xx/5xx is `{"error": {"code", "message"}}` as `application/json`,
//! also when axum itself refuses the request (a path that is not UTF-8, a websocket request
//! without `Upgrade`, a body over the limit, a wrong method or content type) before any handler
//! runs.

use crate::support::*;
use serde_json::Value;
use switchboard_server::http::endpoint_list;

/// An answer: status, content type and body (parsed when it is JSON text).
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

async fn send(
    http: &reqwest::Client,
    token: Option<&str>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http.request(m, url).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = content_type_of(&resp);
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        body,
    }
}

/// The answer is an error in the API's shape; returns its code.
fn error_code<'a>(what: &str, a: &'a Answer) -> &'a str {
    assert!(
        a.status >= 400,
        "{what}: expected an error, got {} {}",
        a.status,
        a.body
    );
    assert!(
        a.content_type.starts_with("application/json"),
        "{what}: {} answered {:?}: {}",
        a.status,
        a.content_type,
        a.body
    );
    let code = a.body["error"]["code"].as_str();
    assert!(
        code.is_some_and(
            |c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
        ),
        "{what}: {} {}",
        a.status,
        a.body
    );
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        a.body
    );
    code.unwrap_or_default()
}

/// One request of the sweep: method, URL, headers, body, bearer token.
type Try<'a> = (
    String,
    String,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    Option<&'a str>,
);

async fn framework_rejections(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let token = admin.token.as_deref();
    let http = reqwest::Client::new();
    let base = &admin.base;

    // A path id that is not UTF-8; a websocket request that is not an upgrade.
    for (what, path, status, code) in [
        (
            "path not UTF-8",
            "/api/v1/contacts/%FF%FE",
            400,
            "invalid_path",
        ),
        ("ws without Upgrade", "/api/v1/ws", 426, "upgrade_required"),
    ] {
        let a = send(&http, token, "GET", &format!("{base}{path}"), &[], vec![]).await;
        assert_eq!(a.status, status, "{}", a.body);
        assert_eq!(error_code(what, &a), code);
    }

    // A webhook over the 4 MiB limit (its own client: the server closes that connection).
    let a = send(
        &reqwest::Client::new(),
        None,
        "POST",
        &format!("{base}/webhooks/whatsapp"),
        &[
            ("content-type", "application/json"),
            ("x-hub-signature-256", "sha256=00"),
        ],
        vec![b' '; 4 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(error_code("webhook over 4 MiB", &a), "payload_too_large");

    // A sweep: every endpoint, refused in the ways a client can get wrong, answers the shape.
    let mut refusals = 0;
    for (method, path, _) in endpoint_list() {
        if path == "/" || path.starts_with("/assets") {
            continue;
        }
        let bad_id = path
            .replace("{id}", "%FF%FE")
            .replace("{template_id}", "%C3%28");
        let url = format!("{base}{path}");
        let mut tries: Vec<Try> = vec![
            // Not UTF-8 in the path.
            (
                method.to_owned(),
                format!("{base}{bad_id}"),
                vec![],
                vec![],
                token,
            ),
            // A body that is not JSON, with a JSON content type.
            (
                method.to_owned(),
                url.clone(),
                vec![("content-type", "application/json")],
                b"{not json".to_vec(),
                token,
            ),
            // A content type it does not take.
            (
                method.to_owned(),
                url.clone(),
                vec![("content-type", "text/plain")],
                b"hello".to_vec(),
                token,
            ),
            // A method it does not serve.
            ("TRACE".to_owned(), url.clone(), vec![], vec![], token),
            // Not logged in.
            (method.to_owned(), url.clone(), vec![], vec![], None),
        ];
        if method == "GET" {
            // A query parameter of the wrong type.
            tries.push((
                method.to_owned(),
                format!("{url}?limit=x&all=x&since=x&before=%FF"),
                vec![],
                vec![],
                token,
            ));
        }
        for (m, u, h, b, t) in tries {
            let a = send(&http, t, &m, &u, &h, b).await;
            if a.status >= 400 {
                error_code(&format!("{m} {u}"), &a);
                refusals += 1;
            }
        }
    }
    assert!(refusals > 200, "only {refusals} refusals were checked");

    // An unknown path and a header that is too large are refused in the same shape.
    let a = send(
        &http,
        token,
        "GET",
        &format!("{base}/api/v1/nope"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(error_code("unknown path", &a), "not_found");

    // Success bodies that are not JSON keep their type.
    let (s, headers, bytes) = admin.get_bytes("/").await;
    assert_eq!(s, 200);
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));
    assert!(String::from_utf8_lossy(&bytes).contains("<"));
    let (s, headers, _) = admin.get_bytes("/metrics").await;
    assert_eq!(s, 200);
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/plain")));
}

on_every_backend!(
    every_refusal_answers_the_json_error_shape,
    framework_rejections
);
