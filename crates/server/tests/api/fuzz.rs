//! What a run of schemathesis (an outside fuzzer checking answers against the OpenAPI
//! document) found, each kept as a test.

use crate::support::*;
use serde_json::json;

/// An access token that cannot travel in an `Authorization` header (a control character, a
/// space, a letter outside ASCII) is refused when the number is connected or changed: accepted,
/// every send and template sync of that number would fail (the fuzzer met a 502 from
/// `POST /api/v1/templates/sync`).
async fn unsendable_access_tokens(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Sales"})).await;
    let channel = |token: &str, pnid: &str| {
        json!({"kind": "whatsapp", "phone_number_id": pnid, "display_phone_number": "15550001111",
               "access_token": token, "app_secret": "s", "verify_token": "v", "queue_id": q,
               "waba_id": "123"})
    };
    for (i, bad) in ["tok\nen", "tok en", "tök", "tok\u{1}"].iter().enumerate() {
        let (s, v) = admin
            .post("/api/v1/channels", channel(bad, &format!("100{i}")))
            .await;
        assert_error(s, &v, 422, "invalid_secret");
    }
    let (s, v) = admin.get("/api/v1/channels").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    let created = admin
        .ok("/api/v1/channels", channel("EAAG-token_1.x", "2000"))
        .await;
    let id = created["id"].as_str().expect("id");
    let (s, v) = admin
        .patch(
            &format!("/api/v1/channels/{id}"),
            json!({"access_token": "new\ttoken"}),
        )
        .await;
    assert_error(s, &v, 422, "invalid_secret");
}

on_every_backend!(
    access_tokens_that_cannot_be_sent_are_refused,
    unsendable_access_tokens
);

/// A NUL character cannot be stored in PostgreSQL text (nor in SQLite's full-text index the same
/// way): in a JSON body, a path id or a query parameter it is refused at the edge with a 4xx on
/// both backends (the fuzzer met a 503 from `POST /api/v1/interactions` with a `contact_id`
/// holding one), and nothing changes.
async fn nul_characters(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let bodies = [
        (
            "/api/v1/interactions",
            json!({"contact_id": "a\u{0}b", "text": "hi"}),
        ),
        ("/api/v1/contacts", json!({"name": "x\u{0}y"})),
        (
            "/api/v1/contacts",
            json!({"name": "x", "fields": {"a\u{0}": "b"}}),
        ),
        (
            "/api/v1/contacts",
            json!({"name": "x", "fields": {"a": ["b\u{0}"]}}),
        ),
        ("/api/v1/queues", json!({"name": "q\u{0}"})),
    ];
    for (path, body) in bodies {
        let (s, v) = admin.post(path, body.clone()).await;
        assert_error_says(s, &v, 422, "invalid_body", "NUL");
    }
    for (path, code) in [
        ("/api/v1/contacts/a%00b", "invalid_path"),
        ("/api/v1/interactions/a%00b", "invalid_path"),
        ("/api/v1/cases/a%00b", "invalid_path"),
        ("/api/v1/queues/a%00b", "invalid_path"),
        ("/api/v1/contacts?q=a%00b", "invalid_query"),
        ("/api/v1/contacts?phone=%2B49%00", "invalid_query"),
        ("/api/v1/cases?contact_id=a%00", "invalid_query"),
        ("/api/v1/search?q=ab%00c", "invalid_query"),
        ("/api/v1/conversations?channel_id=%00", "invalid_query"),
    ] {
        let (s, v) = admin.get(path).await;
        assert_error(s, &v, 400, code);
    }
    let (s, v) = admin.get("/api/v1/contacts").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    let (s, v) = admin.get("/api/v1/queues").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
}

on_every_backend!(nul_characters_are_refused_at_the_edge, nul_characters);
