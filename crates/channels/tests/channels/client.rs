//! `GraphClient` against a small fake Graph API on 127.0.0.1 (port 0).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_channels::*;

const TOKEN: &str = "EAAG-test-token";
const FILE: &[u8] = b"\x89PNG pretend this is an image";

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Fake {
    origin: String,
    seen: Mutex<Vec<Seen>>,
    lookups: AtomicUsize,
}

struct Graph {
    fake: Arc<Fake>,
    client: GraphClient,
}

impl Graph {
    fn seen(&self) -> Vec<Seen> {
        self.fake.seen.lock().unwrap().clone()
    }
}

async fn start() -> Graph {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake {
        origin: origin.clone(),
        ..Fake::default()
    });
    let state = fake.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let fake = state.clone();
            async move { handle(&fake, method, uri, headers, body).await }
        },
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = GraphClient::new(&format!("{origin}/v23.0/"), Duration::from_millis(500)).unwrap();
    Graph { fake, client }
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "details here"},
            "fbtrace_id": "TRACE-1"
        }})),
    )
        .into_response()
}

async fn handle(
    fake: &Fake,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    fake.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        auth: header("authorization"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
    }
    let Some(rest) = path.strip_prefix("/v23.0/").map(str::to_owned) else {
        // The media CDN.
        return match path.as_str() {
            "/cdn/ok" => FILE.to_vec().into_response(),
            "/cdn/big" => vec![7u8; 64 * 1024].into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        };
    };
    let parts: Vec<&str> = rest.split('?').next().unwrap().split('/').collect();
    match (method, parts.as_slice()) {
        (Method::POST, [_, "messages"]) => {
            let v: Value = serde_json::from_slice(&body).unwrap();
            if v["status"] == "read" {
                return axum::Json(json!({"success": true})).into_response();
            }
            match v["to"].as_str().unwrap_or("") {
                "needs-template" => graph_error(
                    StatusCode::BAD_REQUEST,
                    131047,
                    "(#131047) Re-engagement message",
                ),
                "busy" => (StatusCode::SERVICE_UNAVAILABLE, "upstream busy").into_response(),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    StatusCode::OK.into_response()
                }
                "garbage" => (StatusCode::OK, "<html>ok?</html>").into_response(),
                to => axum::Json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": "16315551234"}],
                    "messages": [{"id": "wamid.NEW"}]
                }))
                .into_response(),
            }
        }
        (Method::POST, [_, "media"]) => axum::Json(json!({"id": "media-1"})).into_response(),
        (Method::GET, [_, "message_templates"]) => {
            if rest.contains("after=page2") {
                axum::Json(
                    json!({"data": [{"name": "t3"}], "paging": {"cursors": {"before": "x"}}}),
                )
                .into_response()
            } else {
                axum::Json(json!({
                    "data": [{"name": "t1", "status": "APPROVED"}, {"name": "t2"}],
                    "paging": {"cursors": {"after": "page2"},
                               "next": format!("{}/v23.0/WABA1/message_templates?limit=100&after=page2", fake.origin)}
                }))
                .into_response()
            }
        }
        (Method::GET, [media_id]) => {
            let n = fake.lookups.fetch_add(1, Ordering::SeqCst);
            let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(FILE));
            let (file, sha) = match *media_id {
                "m-ok" => ("ok", hex::encode(Sha256::digest(FILE))),
                "m-expired" if n == 0 => ("expired", b64),
                "m-expired" => ("ok", b64),
                "m-tampered" => ("ok", hex::encode(Sha256::digest(b"something else"))),
                "m-big" => ("big", b64),
                _ => return graph_error(StatusCode::BAD_REQUEST, 100, "Unsupported get request"),
            };
            axum::Json(json!({
                "messaging_product": "whatsapp", "url": format!("{}/cdn/{file}", fake.origin),
                "mime_type": "image/png", "sha256": sha, "file_size": FILE.len().to_string(), "id": media_id
            }))
            .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn text(body: &str) -> OutboundMessage {
    OutboundMessage::Text {
        body: body.into(),
        preview_url: false,
    }
}

#[tokio::test]
async fn send_posts_the_body_with_the_bearer_token() {
    let g = start().await;
    let m = text("Hello Kerry");
    let ok = g
        .client
        .send_with_context(
            "106540352242922",
            TOKEN,
            &m,
            "16315551234",
            Some("wamid.THEIRS"),
        )
        .await
        .unwrap();
    assert_eq!(
        ok,
        SendOk {
            wamid: "wamid.NEW".into(),
            wa_id: Some("16315551234".into())
        }
    );
    let seen = g.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/v23.0/106540352242922/messages");
    assert_eq!(seen[0].auth.as_deref(), Some("Bearer EAAG-test-token"));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body, m.to_json("16315551234", Some("wamid.THEIRS")));
}

#[tokio::test]
async fn send_errors_are_classified() {
    let g = start().await;
    let e = g
        .client
        .send("1", TOKEN, &text("hi"), "needs-template")
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.fbtrace_id.as_deref(), Some("TRACE-1"));
    assert!(matches!(
        e.class,
        ErrorClass::Permanent {
            needs_template: true,
            ..
        }
    ));

    let e = g
        .client
        .send("1", TOKEN, &text("hi"), "busy")
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.http_status, Some(503));

    let e = g
        .client
        .send("1", "wrong-token", &text("hi"), "x")
        .await
        .unwrap_err();
    assert!(matches!(e.class, ErrorClass::Permanent { auth: true, .. }));
}

#[tokio::test]
async fn a_timeout_is_transient() {
    let g = start().await;
    let e = g
        .client
        .send("1", TOKEN, &text("hi"), "slow")
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Timeout);
    assert_eq!(e.class, ErrorClass::Transient);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = GraphClient::new(&format!("http://{addr}"), Duration::from_millis(500)).unwrap();
    let e = client.send("1", TOKEN, &text("hi"), "x").await.unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Network);
    assert!(e.class.is_retryable());
}

#[tokio::test]
async fn an_unreadable_success_is_not_retried() {
    let g = start().await;
    let e = g
        .client
        .send("1", TOKEN, &text("hi"), "garbage")
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::InvalidResponse);
    assert!(!e.class.is_retryable(), "it may have been accepted");
}

#[tokio::test]
async fn invalid_messages_and_ids_never_reach_the_network() {
    let g = start().await;
    let e = g
        .client
        .send("1", TOKEN, &text(" "), "x")
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Invalid);
    let e = g
        .client
        .send("../1", TOKEN, &text("hi"), "x")
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Invalid);
    let e = g
        .client
        .send("1", TOKEN, &text("hi"), "")
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Invalid);
    let e = g.client.media_lookup("a/b", TOKEN).await.unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Invalid);
    assert!(g.seen().is_empty());
}

#[tokio::test]
async fn mark_read() {
    let g = start().await;
    g.client
        .mark_read("1", TOKEN, "wamid.THEIRS")
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&g.seen()[0].body).unwrap();
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.THEIRS"})
    );
}

#[tokio::test]
async fn upload_is_multipart() {
    let g = start().await;
    let id = g
        .client
        .upload_media("106540352242922", TOKEN, FILE, "image/png", "photo.png")
        .await
        .unwrap();
    assert_eq!(id, "media-1");
    let seen = &g.seen()[0];
    assert_eq!(seen.path, "/v23.0/106540352242922/media");
    let ct = seen.content_type.clone().unwrap();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    let body = &seen.body;
    let text = String::from_utf8_lossy(body);
    assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
    assert!(text.contains("name=\"type\"\r\n\r\nimage/png\r\n"));
    assert!(
        text.contains("name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n")
    );
    assert!(body.windows(FILE.len()).any(|w| w == FILE));
    assert!(text.ends_with(&format!("--{boundary}--\r\n")));
}

#[tokio::test]
async fn fetch_media_checks_the_digest() {
    let g = start().await;
    let webhook_sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(FILE));
    let got = g
        .client
        .fetch_media("m-ok", TOKEN, Some(&webhook_sha))
        .await
        .unwrap();
    assert_eq!(got.bytes, FILE);
    assert_eq!(got.info.mime_type.as_deref(), Some("image/png"));
    assert_eq!(got.info.file_size, Some(FILE.len() as u64));
    // The download carried the token too.
    let seen = g.seen();
    assert_eq!(seen[1].path, "/cdn/ok");
    assert_eq!(seen[1].auth.as_deref(), Some("Bearer EAAG-test-token"));

    let e = g
        .client
        .fetch_media("m-tampered", TOKEN, None)
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Checksum);
    assert!(!e.class.is_retryable());
    // The webhook's digest is checked as well.
    let e = g
        .client
        .fetch_media(
            "m-ok",
            TOKEN,
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        )
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::Checksum);
}

#[tokio::test]
async fn an_expired_media_url_is_looked_up_again() {
    let g = start().await;
    let got = g
        .client
        .fetch_media("m-expired", TOKEN, None)
        .await
        .unwrap();
    assert_eq!(got.bytes, FILE);
    assert_eq!(g.fake.lookups.load(Ordering::SeqCst), 2);
    let paths: Vec<String> = g.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        vec![
            "/v23.0/m-expired",
            "/cdn/expired",
            "/v23.0/m-expired",
            "/cdn/ok"
        ]
    );
}

#[tokio::test]
async fn downloads_are_capped() {
    let g = start().await;
    let small = g.client.clone().with_max_download(1000);
    let e = small.fetch_media("m-big", TOKEN, None).await.unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::TooLarge);
    let info = g.client.media_lookup("m-big", TOKEN).await.unwrap();
    assert_eq!(
        g.client.download(&info.url, TOKEN).await.unwrap().len(),
        64 * 1024
    );
    let e = g
        .client
        .download_limited(&info.url, TOKEN, 64 * 1024 - 1)
        .await
        .unwrap_err();
    assert_eq!(e.origin, ErrorOrigin::TooLarge);
}

#[tokio::test]
async fn templates_follow_paging_next() {
    let g = start().await;
    let all = g.client.list_templates("WABA1", TOKEN).await.unwrap();
    let names: Vec<&str> = all.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["t1", "t2", "t3"]);
    let paths: Vec<String> = g.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        vec![
            "/v23.0/WABA1/message_templates?limit=100",
            "/v23.0/WABA1/message_templates?limit=100&after=page2"
        ]
    );
}
