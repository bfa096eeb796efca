//! The audit log through `GET /api/v1/audit`: admin changes with before and after,
//! logins with the client's address, filters, paging, who may read it, and retention.

use crate::support::*;
use serde_json::{json, Value};

async fn page(api: &Api, query: &str) -> Value {
    let (s, v) = api.get(&format!("/api/v1/audit?{query}")).await;
    assert_eq!(s, 200, "GET /api/v1/audit?{query}: {v}");
    v
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().expect("items").clone()
}

fn actions(v: &Value) -> Vec<String> {
    items(v).iter().map(|i| string(&i["action"])).collect()
}

async fn admin_changes(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let admin_id = string(&admin.me().await["id"]);

    let q = queue(&admin, json!({"name": "Support", "priority": 1})).await;
    admin
        .patch_ok(
            &format!("/api/v1/queues/{q}"),
            json!({"priority": 5, "dispositions": [{"code": "ok"}]}),
        )
        .await;
    let ann = agent(&admin, "ann", 2, false, &[&q]).await;
    admin
        .patch_ok(
            &format!("/api/v1/agents/{ann}"),
            json!({"capacity": 4, "password": "a-new-password-1"}),
        )
        .await;
    admin
        .patch_ok("/api/v1/settings", json!({"break_reasons": ["Lunch"]}))
        .await;
    let channel = admin
        .ok(
            "/api/v1/channels",
            json!({"kind": "whatsapp", "phone_number_id": "10001", "display_phone_number": "15550100",
                   "access_token": "secret-token", "app_secret": "secret-app", "verify_token": "secret-verify",
                   "queue_id": q}),
        )
        .await;
    let channel = string(&channel["id"]);
    admin
        .patch_ok(
            &format!("/api/v1/channels/{channel}"),
            json!({"access_token": "secret-token-2", "display_phone_number": "15550199"}),
        )
        .await;
    let (s, _) = admin.delete(&format!("/api/v1/channels/{channel}")).await;
    assert_eq!(s, 204);
    let gone = queue(&admin, json!({"name": "Old"})).await;
    let (s, _) = admin.delete(&format!("/api/v1/queues/{gone}")).await;
    assert_eq!(s, 204);

    // Newest first, each change once (the admin's own login is the oldest).
    let all = page(&admin, "limit=100").await;
    assert_eq!(
        actions(&all),
        [
            "queue.deleted",
            "queue.created",
            "channel.deleted",
            "channel.updated",
            "channel.created",
            "settings.updated",
            "agent.password_reset",
            "agent.updated",
            "agent.created",
            "queue.updated",
            "queue.created",
            "login.succeeded",
            "agent.created",
        ],
        "{all}"
    );
    let all = items(&all);
    assert!(all
        .iter()
        .all(|i| i["id"].is_string() && i["at"].is_string()));

    // Who, what, before and after.
    let updated = &all[9];
    assert_eq!(
        updated["actor"],
        json!({"id": admin_id, "name": "Administrator"})
    );
    assert_eq!(updated["target"], json!({"type": "queue", "id": q}));
    assert_eq!(updated["before"]["priority"], 1);
    assert_eq!(updated["after"]["priority"], 5);
    assert_eq!(updated["after"]["dispositions"][0]["code"], "ok");
    let agent_updated = &all[7];
    assert_eq!(agent_updated["before"]["capacity"], 2);
    assert_eq!(agent_updated["after"]["capacity"], 4);
    let settings = &all[5];
    assert_eq!(settings["after"]["break_reasons"], json!(["Lunch"]));
    assert_eq!(all[4]["before"], Value::Null);
    assert_eq!(all[3]["before"]["display_phone_number"], "15550100");
    assert_eq!(all[3]["after"]["display_phone_number"], "15550199");
    assert_eq!(all[3]["after"]["secrets_replaced"], json!(["access_token"]));
    assert_eq!(all[2]["after"], Value::Null);
    assert_eq!(all[0]["before"]["name"], "Old");
    // The first admin was created at start-up by the system.
    assert_eq!(all[12]["actor"], Value::Null);
    // No secret is ever in the log.
    let text = serde_json::to_string(&all).expect("json");
    for secret in ["secret-", "a-new-password-1"] {
        assert!(!text.contains(secret), "{secret} leaked into the audit log");
    }

    // Filters: action prefix, exact action, target, actor.
    assert_eq!(
        actions(&page(&admin, "action=queue.&limit=100").await),
        [
            "queue.deleted",
            "queue.created",
            "queue.updated",
            "queue.created"
        ]
    );
    assert_eq!(
        actions(&page(&admin, "action=queue.created").await),
        ["queue.created", "queue.created"]
    );
    assert_eq!(
        actions(&page(&admin, &format!("target_id={ann}")).await),
        ["agent.password_reset", "agent.updated", "agent.created"]
    );
    assert_eq!(
        items(&page(&admin, &format!("actor_id={admin_id}&limit=100")).await).len(),
        12
    );

    // Paging: pages of four, the last (of one) without a next; together, the whole log in order.
    let mut seen = Vec::new();
    let mut query = "limit=4".to_owned();
    let mut sizes = Vec::new();
    loop {
        let p = page(&admin, &query).await;
        sizes.push(items(&p).len());
        seen.extend(items(&p));
        match p["next"].as_str() {
            Some(next) => query = format!("limit=4&before={next}"),
            None => break,
        }
    }
    assert_eq!(sizes, [4, 4, 4, 1]);
    assert_eq!(seen, all);

    // A time range: everything happened within this minute.
    let (from, to) = {
        let now = time::OffsetDateTime::now_utc();
        let f = time::format_description::well_known::Rfc3339;
        (
            (now - time::Duration::hours(1)).format(&f).expect("time"),
            (now + time::Duration::hours(1)).format(&f).expect("time"),
        )
    };
    let in_range = page(&admin, &format!("from={from}&to={to}&limit=100")).await;
    assert_eq!(items(&in_range).len(), 13);
    let before_all = page(&admin, &format!("to={from}")).await;
    assert!(items(&before_all).is_empty());

    // Bad parameters are refused.
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("before=nonsense", "invalid_cursor"),
        ("from=yesterday", "invalid_time"),
    ] {
        let (s, v) = admin.get(&format!("/api/v1/audit?{query}")).await;
        assert_error(s, &v, 400, code);
    }
}
on_every_backend!(
    admin_changes_are_logged_with_before_and_after,
    admin_changes
);

async fn logins(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let ann = agent(&admin, "ann", 2, false, &[]).await;
    let sue_id = supervisor(&admin, "sue").await;

    let anon = server.anon();
    for (user, password) in [("ann", "wrong-password"), ("nobody", "whatever-it-is")] {
        let (s, _) = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(s, 401);
    }
    let ann_api = server.login("ann", PASSWORD).await;
    let sue_api = server.login("sue", PASSWORD).await;

    // An agent may not read the log; a supervisor may.
    let (s, v) = ann_api.get("/api/v1/audit").await;
    assert_error(s, &v, 403, "forbidden");

    let failed = items(&page(&sue_api, "action=login.failed").await);
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0]["target"], json!({"type": "user", "id": "nobody"}));
    assert_eq!(failed[1]["target"], json!({"type": "user", "id": ann}));
    for f in &failed {
        assert_eq!(f["actor"], Value::Null, "who typed it is not known: {f}");
        assert_eq!(f["client_addr"], "127.0.0.1");
    }
    let ok = items(&page(&sue_api, "action=login.succeeded").await);
    assert_eq!(ok.len(), 3, "{ok:?}");
    assert_eq!(ok[0]["actor"], json!({"id": sue_id, "name": "Sue"}));
    assert_eq!(ok[1]["actor"]["id"], ann.as_str());
    assert_eq!(ok[1]["client_addr"], "127.0.0.1");
    assert_eq!(
        items(&page(&sue_api, &format!("target_id={ann}&action=login.")).await).len(),
        2
    );
}
on_every_backend!(logins_are_logged_with_the_client_address, logins);

async fn retention(db: Db) {
    use switchboard_server::services::maintenance::{prune_audit, Maintenance};
    let (server, admin) = Server::with_admin(db).await;
    queue(&admin, json!({"name": "Early"})).await;
    let m = <Maintenance as axum::extract::FromRef<_>>::from_ref(&server.state);
    assert_eq!(m.audit_retention_days, 365, "the default");

    // A year and a day later, only what happened since is kept.
    server.clock.advance_secs(366 * 86_400);
    let admin = server.admin().await;
    queue(&admin, json!({"name": "Late"})).await;
    assert_eq!(
        prune_audit(&m).await,
        3,
        "the admin's creation, login and the first queue"
    );
    let left = page(&admin, "limit=100").await;
    assert_eq!(
        actions(&left),
        ["queue.created", "login.succeeded"],
        "{left}"
    );
    assert_eq!(items(&left)[0]["after"]["name"], "Late");
}
on_every_backend!(entries_older_than_the_retention_are_pruned, retention);

async fn crm_retry(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let id = dead_crm_event(&server, "c1", 3).await;
    admin
        .ok(&format!("/api/v1/crm/events/{id}/retry"), json!({}))
        .await;
    let logged = items(&page(&admin, &format!("target_id={id}")).await);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["action"], "crm_event.retried");
    assert_eq!(logged[0]["target"], json!({"type": "crm_event", "id": id}));
    assert_eq!(logged[0]["before"]["state"], "dead");
    assert_eq!(logged[0]["before"]["last_error"], "HTTP 400: refused");
    assert_eq!(logged[0]["after"]["state"], "pending");
}
on_every_backend!(a_retried_crm_event_is_logged, crm_retry);

async fn engine_presence(db: Db) {
    let Desk {
        server,
        admin,
        queue: q,
        ann_id,
        ann,
        mut ws,
    } = Desk::open_with(
        db,
        json!({"name": "Support", "acceptance_interval_s": 30}),
        2,
        true,
    )
    .await;
    ann.put_ok("/api/v1/me/stop-new", json!({"stop_new": false}))
        .await;
    server.ingest(&q, "4917099999", "Mia", "hello").await;
    ws.expect("the offer", |f| f.kind == "offer.created").await;

    // Ann lets the offer time out: the engine puts her in RONA, and that is logged too.
    server.clock.advance_secs(31);
    ws.expect_presence(&ann_id, "rona").await;
    let logged = items(
        &page(
            &admin,
            &format!("action=presence.changed&target_id={ann_id}"),
        )
        .await,
    );
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[0]["actor"], Value::Null, "nobody chose it");
    assert_eq!(logged[0]["after"]["presence"], "rona");
    assert_eq!(logged[0]["after"]["break_reason"], "Missed offer");
    assert_eq!(logged[1]["actor"]["id"], ann_id.as_str());
    assert_eq!(logged[1]["after"]["presence"], "available");
    // Stop-new unchanged: nothing logged for it.
    assert!(items(&page(&admin, "action=stop_new.changed").await).is_empty());
}
on_every_backend!(
    presence_changes_the_engine_makes_are_logged,
    engine_presence
);

/// New entries reach supervisors' and admins' sockets at once (`audit.created`, the entry as
/// the log shows it), those of a change and those appended alone (a login); never an agent's.
async fn live_entries(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    agent(&admin, "ann", 2, false, &[]).await;
    supervisor(&admin, "sue").await;
    let ann = server.login("ann", PASSWORD).await;
    let sue = server.login("sue", PASSWORD).await;
    let mut sue_ws = sue.ws(None).await;
    let mut ann_ws = ann.ws(None).await;

    // A change: the entry committed with it.
    let q = queue(&admin, json!({"name": "Live"})).await;
    let created = sue_ws
        .expect("audit.created of the queue", |f| {
            f.kind == "audit.created" && f.data["action"] == "queue.created"
        })
        .await;
    let listed = items(&page(&sue, "action=queue.created").await);
    assert_eq!(
        created.data, listed[0],
        "the same as GET /api/v1/audit shows it"
    );
    assert_eq!(created.data["target"], json!({"type": "queue", "id": q}));
    assert_eq!(
        created.data["actor"]["name"], "Administrator",
        "{}",
        created.data
    );

    // Appended alone: a failed login.
    let (s, _) = server
        .anon()
        .post(
            "/api/v1/auth/login",
            json!({"username": "ann", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(s, 401);
    let failed = sue_ws
        .expect("audit.created of the login", |f| {
            f.kind == "audit.created" && f.data["action"] == "login.failed"
        })
        .await;
    assert_eq!(
        failed.data,
        items(&page(&sue, "action=login.failed").await)[0]
    );

    // The agent's socket got neither.
    let seen = ann_ws.drain().await;
    assert!(
        seen.iter().all(|f| f.kind != "audit.created"),
        "an agent is told of no audit entry: {seen:?}"
    );
}
on_every_backend!(new_entries_reach_supervisors_live, live_entries);
