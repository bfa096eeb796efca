//! What a run of schemathesis (an outside fuzzer checking answers against the OpenAPI
//! document) found, each kept as a test.

use crate::support::*;
use serde_json::json;

/// An access token that cannot travel in an `Authorization` header (a control character, a
/// space, a letter outside ASCII) is refused when the number is connected or changed: accepted,
/// every send and template sync of that number would fail (the fuzzer met a 502 from
/// `POST /api/v1/templates/sync`).
async fn unsendable_access_tokens(db: Db) {
    let server = Server::start(db).await;
    let admin = server.admin().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_that_cannot_be_sent_are_refused() {
    for db in backends() {
        eprintln!("backend: {}", db.name());
        unsendable_access_tokens(db).await;
    }
}
