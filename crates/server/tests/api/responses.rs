//! Standard responses: who sees which (global, per queue), search and categories,
//! placeholders filled for an interaction, validation that changes nothing, the audit log.

use crate::support::*;
use serde_json::{json, Value};

fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = strings(v, "title").into_iter().map(str::to_owned).collect();
    t.sort();
    t
}

async fn list(api: &Api, query: &str) -> Vec<String> {
    titles(&api.get_ok(&format!("/api/v1/responses{query}")).await)
}

struct Library {
    server: Server,
    admin: Api,
    ann: Api,
    qa: String,
    qb: String,
    /// Global "Greeting" (with placeholders), "Hours" in A, "Refund" in B.
    greeting: String,
    hours: String,
    refund: String,
}

async fn library(db: Db) -> Library {
    let (server, admin) = Server::with_admin(db).await;
    let qa = queue(&admin, json!({"name": "Billing"})).await;
    let qb = queue(&admin, json!({"name": "Sales"})).await;
    agent(&admin, "ann", 3, false, &[&qa]).await;
    let ann = server.login("ann", PASSWORD).await;
    let mk = |body: Value| {
        let admin = &admin;
        async move { string(&admin.ok("/api/v1/responses", body).await["id"]) }
    };
    let greeting = mk(json!({"title": "Greeting", "category": "Opening", "shortcut": "hi",
        "text": "Hello {{contact.first_name}}, {{agent.first_name}} from {{queue.name}} here. Your email {{ contact.email }}?"}))
    .await;
    let hours = mk(
        json!({"title": "Hours", "category": "Info", "shortcut": "hours",
        "text": "We are open 9 to 17.", "queue_ids": [qa]}),
    )
    .await;
    let refund = mk(
        json!({"title": "Refund", "category": "info", "text": "Refunds take 5 days.",
        "queue_ids": [qb]}),
    )
    .await;
    Library {
        server,
        admin,
        ann,
        qa,
        qb,
        greeting,
        hours,
        refund,
    }
}

async fn scoping_and_search(db: Db) {
    let l = library(db).await;
    // An agent of queue A sees the global ones and A's, not B's; the admin sees all.
    assert_eq!(list(&l.ann, "").await, ["Greeting", "Hours"]);
    assert_eq!(list(&l.admin, "").await, ["Greeting", "Hours", "Refund"]);
    let (s, v) = l.ann.get(&format!("/api/v1/responses/{}", l.refund)).await;
    assert_error(s, &v, 404, "not_found");
    assert_eq!(
        l.ann
            .get_ok(&format!("/api/v1/responses/{}", l.hours))
            .await["shortcut"],
        "hours"
    );
    // The admin filters by queue: what can be used there (its own and the global ones).
    assert_eq!(
        list(&l.admin, &format!("?queue_id={}", l.qb)).await,
        ["Greeting", "Refund"]
    );
    // Search in title, text, shortcut and category, ignoring case; categories ignore case too.
    assert_eq!(list(&l.ann, "?q=OPEN").await, ["Greeting", "Hours"]);
    assert_eq!(list(&l.ann, "?q=hou").await, ["Hours"]);
    assert_eq!(list(&l.admin, "?q=5%20days").await, ["Refund"]);
    assert_eq!(list(&l.admin, "?category=INFO").await, ["Hours", "Refund"]);
    assert_eq!(list(&l.ann, "?category=info").await, ["Hours"]);
    assert_eq!(
        list(&l.ann, "?category=info&q=refund").await,
        Vec::<String>::new()
    );

    // Moving a response to queue B hides it from ann at once; making it global shows it.
    l.admin
        .patch_ok(
            &format!("/api/v1/responses/{}", l.hours),
            json!({"queue_ids": [l.qb]}),
        )
        .await;
    assert_eq!(list(&l.ann, "").await, ["Greeting"]);
    let v = l
        .admin
        .patch_ok(
            &format!("/api/v1/responses/{}", l.refund),
            json!({"queue_ids": [], "category": null}),
        )
        .await;
    assert_eq!(v["category"], Value::Null);
    assert_eq!(list(&l.ann, "").await, ["Greeting", "Refund"]);
    let (s, _) = l
        .admin
        .delete(&format!("/api/v1/responses/{}", l.refund))
        .await;
    assert_eq!(s, 204);
    assert_eq!(list(&l.ann, "").await, ["Greeting"]);
    let (s, v) = l
        .admin
        .delete(&format!("/api/v1/responses/{}", l.refund))
        .await;
    assert_error(s, &v, 404, "not_found");
    // Agents cannot change the library.
    let (s, v) = l
        .ann
        .post("/api/v1/responses", json!({"title": "x", "text": "y"}))
        .await;
    assert_error(s, &v, 403, "forbidden");
}
on_every_backend!(
    responses_are_scoped_by_queue_and_searchable,
    scoping_and_search
);

async fn placeholders(db: Db) {
    let l = library(db).await;
    l.ann.available().await;
    let id = l
        .server
        .ingest_id(&l.qa, "491701234567", "Kerry King", "hi")
        .await;
    l.ann.act(&id, "accept").await;
    let greeting = &l.greeting;
    let filled = l
        .ann
        .get_ok(&format!("/api/v1/interactions/{id}/responses/{greeting}"))
        .await;
    // No contact is linked: the WhatsApp profile stands in; it has no email.
    assert_eq!(
        filled["text"],
        "Hello Kerry, Ann from Billing here. Your email {{contact.email}}?"
    );
    assert_eq!(filled["missing"], json!(["contact.email"]));

    // With a linked contact, its fields fill the text.
    let contact = l
        .ann
        .ok(
            "/api/v1/contacts",
            json!({"name": "Katherine Kerr", "email": "kk@example.com"}),
        )
        .await;
    l.ann
        .put_ok(
            &format!("/api/v1/interactions/{id}/contact"),
            json!({"contact_id": contact["id"]}),
        )
        .await;
    let filled = l
        .ann
        .get_ok(&format!("/api/v1/interactions/{id}/responses/{greeting}"))
        .await;
    assert_eq!(
        filled["text"],
        "Hello Katherine, Ann from Billing here. Your email kk@example.com?"
    );
    assert_eq!(filled["missing"], json!([]));

    // A response of another queue is not in this interaction's scope, even for the admin.
    let (s, v) = l
        .admin
        .get(&format!("/api/v1/interactions/{id}/responses/{}", l.refund))
        .await;
    assert_error(s, &v, 404, "not_found");
    // An agent who may not see the interaction gets what a missing one gets.
    agent(&l.admin, "oscar", 3, false, &[&l.qa]).await;
    let oscar = l.server.login("oscar", PASSWORD).await;
    let (s, v) = oscar
        .get(&format!("/api/v1/interactions/{id}/responses/{}", l.hours))
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = l
        .ann
        .get(&format!("/api/v1/interactions/{id}/responses/rsp_missing"))
        .await;
    assert_error(s, &v, 404, "not_found");
}
on_every_backend!(placeholders_are_filled_for_the_interaction, placeholders);

async fn validation(db: Db) {
    let l = library(db).await;
    l.admin
        .patch_ok("/api/v1/settings", json!({"max_text_message_size": 20}))
        .await;
    let before = l.admin.get_ok("/api/v1/responses").await;
    let cases = [
        (json!({"title": " ", "text": "x"}), 422, "invalid_title"),
        (json!({"title": "t", "text": " \n"}), 422, "invalid_text"),
        (
            json!({"title": "t", "text": "x".repeat(21)}),
            422,
            "text_too_long",
        ),
        (
            json!({"title": "t", "text": "x", "shortcut": "Bad Shortcut"}),
            422,
            "invalid_shortcut",
        ),
        (
            json!({"title": "t", "text": "x", "shortcut": "a".repeat(33)}),
            422,
            "invalid_shortcut",
        ),
        (
            json!({"title": "t", "text": "x", "queue_ids": ["que_missing"]}),
            422,
            "unknown_queue",
        ),
        (
            json!({"title": "t".repeat(201), "text": "x"}),
            422,
            "invalid_title",
        ),
        (
            json!({"title": "t", "text": "x", "category": "c".repeat(101)}),
            422,
            "invalid_category",
        ),
        // "hours" is A's; a global response would be seen together with it.
        (
            json!({"title": "t", "text": "x", "shortcut": "hours"}),
            409,
            "shortcut_taken",
        ),
        // "hi" is global: seen together with anything.
        (
            json!({"title": "t", "text": "x", "shortcut": "hi", "queue_ids": [l.qb]}),
            409,
            "shortcut_taken",
        ),
        (json!({"title": "t"}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let (s, v) = l.admin.post("/api/v1/responses", body).await;
        assert_error(s, &v, status, code);
    }
    let (s, v) = l
        .admin
        .patch(
            &format!("/api/v1/responses/{}", l.refund),
            json!({"shortcut": "hi", "title": "Changed"}),
        )
        .await;
    assert_error(s, &v, 409, "shortcut_taken");
    let (s, v) = l
        .admin
        .patch(
            &format!("/api/v1/responses/{}", l.refund),
            json!({"text": "", "title": "Changed"}),
        )
        .await;
    assert_error(s, &v, 422, "invalid_text");
    // Nothing changed.
    assert_eq!(l.admin.get_ok("/api/v1/responses").await, before);
    // A queue deleted since does not block changing a response that still names it.
    let gone = queue(&l.admin, json!({"name": "Old"})).await;
    let old = l
        .admin
        .ok(
            "/api/v1/responses",
            json!({"title": "Old", "text": "x", "queue_ids": [gone]}),
        )
        .await;
    let (s, _) = l.admin.delete(&format!("/api/v1/queues/{gone}")).await;
    assert_eq!(s, 204);
    let v = l
        .admin
        .patch_ok(
            &format!("/api/v1/responses/{}", string(&old["id"])),
            json!({"title": "Older"}),
        )
        .await;
    assert_eq!(v["queue_ids"], json!([gone]));
    let (s, v) = l
        .admin
        .patch(
            &format!("/api/v1/responses/{}", string(&old["id"])),
            json!({"queue_ids": [gone, "que_missing"]}),
        )
        .await;
    assert_error(s, &v, 422, "unknown_queue");
    // The same shortcut in queues that never meet is allowed; a leading "/" is dropped.
    let v = l
        .admin
        .ok(
            "/api/v1/responses",
            json!({"title": "Sales hours", "text": "10 to 16.", "shortcut": "/hours", "queue_ids": [l.qb]}),
        )
        .await;
    assert_eq!(v["shortcut"], "hours");
}
on_every_backend!(invalid_responses_are_refused_and_change_nothing, validation);

async fn audited(db: Db) {
    let l = library(db).await;
    l.admin
        .patch_ok(
            &format!("/api/v1/responses/{}", l.hours),
            json!({"text": "We are open 8 to 18."}),
        )
        .await;
    let (s, _) = l
        .admin
        .delete(&format!("/api/v1/responses/{}", l.hours))
        .await;
    assert_eq!(s, 204);
    let page = l
        .admin
        .get_ok(&format!("/api/v1/audit?target_id={}", l.hours))
        .await;
    let items = page["items"].as_array().expect("items").clone();
    let actions: Vec<String> = items.iter().map(|i| string(&i["action"])).collect();
    assert_eq!(
        actions,
        ["response.deleted", "response.updated", "response.created"]
    );
    assert_eq!(items[1]["before"]["text"], "We are open 9 to 17.");
    assert_eq!(items[1]["after"]["text"], "We are open 8 to 18.");
    assert_eq!(items[0]["after"], Value::Null);
    assert_eq!(items[2]["actor"]["name"], "Administrator");
}
on_every_backend!(response_changes_are_audited, audited);
