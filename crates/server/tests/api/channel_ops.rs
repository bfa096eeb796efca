//! What an admin needs to connect a WhatsApp number: the webhook URL and verify token to paste
//! into Meta's app, a connection check against the Graph API (the simulator), and each number's
//! last webhook and last send error, the latter kept across a restart.

use crate::support::*;
use crate::whatsapp::{conversation, expect_status, say, setup};
use serde_json::{json, Value};
use switchboard_simulator::DEFAULT_ACCESS_TOKEN;

const SECRET: &str = "app-secret-for-tests";

async fn channel_id(admin: &Api) -> String {
    let list = admin.get_ok("/api/v1/channels").await;
    string(&list[0]["id"])
}

/// `GET …/webhook` with the given extra headers.
async fn webhook_setup(admin: &Api, id: &str, headers: &[(&str, &str)]) -> Value {
    let mut req = admin
        .http
        .get(format!("{}/api/v1/channels/{id}/webhook", admin.base))
        .bearer_auth(admin.token.as_deref().unwrap_or_default());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("json")
}

async fn webhook_url_verify_token_and_check(db: Db) {
    let wa = setup(db).await;
    let id = channel_id(&wa.admin).await;

    // The URL the admin's browser used, and the verify token that Meta's handshake must echo.
    let direct = webhook_setup(&wa.admin, &id, &[]).await;
    assert_eq!(
        direct["url"],
        format!("{}/webhooks/whatsapp", wa.server.base)
    );
    assert_eq!(direct["verify_token"], "verify-me");
    let handshake = reqwest::get(format!(
        "{}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=4711",
        string(&direct["url"])
    ))
    .await
    .expect("handshake");
    assert_eq!(handshake.text().await.expect("body"), "4711");
    // Behind a proxy: the address the proxy was asked for.
    let proxied = webhook_setup(
        &wa.admin,
        &id,
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "cc.example.com"),
        ],
    )
    .await;
    assert_eq!(proxied["url"], "https://cc.example.com/webhooks/whatsapp");

    // The access token and app secret never come back, in any answer.
    for path in [
        "/api/v1/channels".to_owned(),
        format!("/api/v1/channels/{id}"),
        format!("/api/v1/channels/{id}/webhook"),
    ] {
        let text = wa.admin.get_ok(&path).await.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains(DEFAULT_ACCESS_TOKEN),
            "{path}: {text}"
        );
    }

    // The check asks the Graph API for the number with its access token.
    let ok = wa
        .admin
        .ok(&format!("/api/v1/channels/{id}/check"), json!({}))
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(
        ok["phone_number"]["verified_name"],
        "Switchboard Test Business"
    );
    assert!(ok["phone_number"]["display_phone_number"].is_string());

    // A wrong token: the Graph API's refusal in words, as an answer (not an error).
    wa.admin
        .patch_ok(
            &format!("/api/v1/channels/{id}"),
            json!({"access_token": "not-the-token"}),
        )
        .await;
    let bad = wa
        .admin
        .ok(&format!("/api/v1/channels/{id}/check"), json!({}))
        .await;
    assert_eq!(bad["ok"], false, "{bad}");
    assert_eq!(bad["phone_number"], Value::Null);
    let words = string(&bad["error"]);
    assert!(
        words.contains("(#190)") && words.contains("Invalid OAuth access token"),
        "{words}"
    );

    // Unknown channels are 404 for both.
    let (s, v) = wa.admin.get("/api/v1/channels/chn_nope/webhook").await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = wa
        .admin
        .post("/api/v1/channels/chn_nope/check", json!({}))
        .await;
    assert_error(s, &v, 404, "not_found");
}
on_every_backend!(
    webhook_url_verify_token_and_check_the_connection,
    webhook_url_verify_token_and_check
);

async fn last_webhook_and_last_send_error(db: Db) {
    let mut wa = setup(db).await;
    let id = channel_id(&wa.admin).await;
    let before = wa.admin.get_ok(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(before["last_webhook_at"], Value::Null);
    assert_eq!(before["last_send_error"], Value::Null);

    let interaction = conversation(&mut wa, "4915222222222", "Lena").await;
    let seen = wa.admin.get_ok(&format!("/api/v1/channels/{id}")).await;
    assert!(seen["last_webhook_at"].is_string(), "{seen}");
    assert_eq!(seen["last_send_error"], Value::Null);

    // The token was revoked at Meta (here: replaced by a wrong one): the send fails for good.
    wa.admin
        .patch_ok(
            &format!("/api/v1/channels/{id}"),
            json!({"access_token": "revoked-token"}),
        )
        .await;
    let m = say(&wa, &interaction, "Your parcel left the depot").await;
    expect_status(&mut wa.ws, &m, "failed").await;
    let failed = wa.admin.get_ok(&format!("/api/v1/channels/{id}")).await;
    let error = &failed["last_send_error"];
    assert!(error["at"].is_string(), "{failed}");
    assert!(
        string(&error["message"]).contains("(#190)"),
        "the Graph error in words: {error}"
    );

    // After a restart the send error is still there (read from the outbox rows); the last
    // webhook is known only since the start.
    let server = wa.server.restart().await;
    let admin = server.admin().await;
    let after = admin.get_ok(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(after["last_send_error"], *error, "{after}");
    assert_eq!(after["last_webhook_at"], Value::Null);
}
on_every_backend!(
    last_webhook_and_last_send_error_per_channel,
    last_webhook_and_last_send_error
);
