//! Rows the database refuses: one bad command fails alone (422), never the commands that shared
//! its group commit; text the database cannot hold (NUL, ids longer than an index entry, words
//! beyond a `tsvector`) is cleaned or bounded at the edge, so customers' messages are never lost
//! to it and a webhook carrying them is answered 200 once, not 503 on every redelivery.

use crate::support::*;
use crate::whatsapp::{setup, Wa};
use serde_json::{json, Value};
use std::collections::HashSet;
use switchboard_simulator::{DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID};

/// The app secret `whatsapp::setup` gives its channel.
const SECRET: &str = "app-secret-for-tests";

/// Makes the test's database refuse every message whose text contains "poison", as a
/// constraint would (a data refusal, not an outage).
async fn refuse_poison_messages(db: &Db) {
    let refuse = match db {
        Db::Sqlite(_) => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages \
             WHEN instr(new.body, 'poison') > 0 BEGIN SELECT RAISE(ABORT, 'refused (test)'); END;"
        }
        Db::Postgres { .. } => {
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF position('poison' in COALESCE(NEW.body, '')) > 0 THEN \
             RAISE EXCEPTION 'refused (test)' USING ERRCODE = 'check_violation'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON messages FOR EACH ROW \
             EXECUTE FUNCTION refuse_poison();"
        }
    };
    raw_sql(db, refuse).await;
}

/// An agent with an accepted interaction; returns (server, admin, ann, interaction id).
async fn accepted(db: Db) -> (Server, Api, Api, String) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    agent(&admin, "ann", 3, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let it = server.ingest_id(&q, "4915100000001", "Cleo", "Hello").await;
    ann.act(&it, "accept").await;
    (server, admin, ann, it)
}

/// Posts `texts` as notes all at once; returns each answer in the same order.
async fn notes_at_once(ann: &Api, it: &str, texts: Vec<String>) -> Vec<(u16, Value)> {
    let path = format!("/api/v1/interactions/{it}/notes");
    let calls = texts.into_iter().map(|t| {
        let (ann, path) = (ann.clone(), path.clone());
        tokio::spawn(async move { ann.post(&path, json!({ "text": t })).await })
    });
    let mut out = Vec::new();
    for c in calls.collect::<Vec<_>>() {
        out.push(c.await.expect("task"));
    }
    out
}

async fn stored_notes(ann: &Api, it: &str) -> Vec<String> {
    let v = ann
        .get_ok(&format!("/api/v1/interactions/{it}/notes"))
        .await;
    let list = v
        .as_array()
        .or_else(|| v["notes"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter().map(|n| string(&n["text"])).collect()
}

/// The database refuses some notes for their data (here a trigger standing for any constraint,
/// encoding or size check): each of those fails alone with 422, every other note of the same
/// group commits is stored and answered 201, and the engine goes on as before.
async fn a_refused_row_fails_only_its_command(db: Db) {
    let (server, _admin, ann, it) = accepted(db.clone()).await;
    let refuse = match &db {
        Db::Sqlite(_) => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON notes \
             WHEN instr(new.body, 'poison') > 0 BEGIN SELECT RAISE(ABORT, 'refused (test)'); END;"
        }
        Db::Postgres { .. } => {
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF position('poison' in NEW.body) > 0 THEN \
             RAISE EXCEPTION 'refused (test)' USING ERRCODE = 'check_violation'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON notes FOR EACH ROW \
             EXECUTE FUNCTION refuse_poison();"
        }
    };
    raw_sql(&db, refuse).await;
    let texts: Vec<String> = (0..200)
        .map(|i| {
            if i % 10 == 3 {
                format!("poison {i}")
            } else {
                format!("good {i}")
            }
        })
        .collect();
    let answers = notes_at_once(&ann, &it, texts.clone()).await;
    let mut good = HashSet::new();
    for (t, (s, v)) in texts.iter().zip(&answers) {
        if t.starts_with("poison") {
            assert_error(*s, v, 422, "unstorable");
        } else {
            assert_eq!(*s, 201, "{t}: {v}");
            good.insert(t.clone());
        }
    }
    let stored: HashSet<String> = stored_notes(&ann, &it).await.into_iter().collect();
    assert_eq!(stored, good, "every good note stored, no refused one");
    // The engine is as committed: the interaction is still Ann's and she can go on.
    let i = ann.interaction(&it).await;
    assert_eq!(i["state"], "active", "{i}");
    let (s, v) = ann.try_act(&it, "notes", json!({"text": "after"})).await;
    assert_eq!(s, 201, "{v}");
    // A failure that is not the data's (an outage) still answers 503.
    if let Db::Postgres { .. } = db {
        raw_sql(
            &db,
            "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'disk full (test)'; END $$; \
             CREATE TRIGGER refuse_all BEFORE INSERT ON notes FOR EACH ROW \
             EXECUTE FUNCTION refuse_all();",
        )
        .await;
        let (s, v) = ann
            .try_act(&it, "notes", json!({"text": "in the outage"}))
            .await;
        assert_error(s, &v, 503, "unavailable");
    }
    drop(server);
}

on_every_backend!(
    a_row_the_database_refuses_fails_only_its_own_command,
    a_refused_row_fails_only_its_command
);
/// NUL in notes: PostgreSQL cannot store it, so the API refuses it at the edge (422, nothing
/// stored) and other control characters are stripped by the text rule: of 200 notes at once, 20
/// with NUL and 20 with a bell character, the 20 with NUL fail alone and the other 180 are
/// stored (the bell stripped).
async fn nul_in_notes(db: Db) {
    let (_server, _admin, ann, it) = accepted(db).await;
    let texts: Vec<String> = (0..200)
        .map(|i| {
            if i % 10 == 3 {
                format!("nul\u{0}note {i}")
            } else if i % 10 == 5 {
                format!("bell\u{7}note {i}")
            } else {
                format!("good {i}")
            }
        })
        .collect();
    let answers = notes_at_once(&ann, &it, texts.clone()).await;
    for (t, (s, v)) in texts.iter().zip(&answers) {
        if t.contains('\u{0}') {
            assert_error(*s, v, 422, "invalid_body");
        } else {
            assert_eq!(*s, 201, "{t:?}: {v}");
        }
    }
    let stored: HashSet<String> = stored_notes(&ann, &it).await.into_iter().collect();
    let want: HashSet<String> = texts
        .iter()
        .filter(|t| !t.contains('\u{0}'))
        .map(|t| t.replace('\u{7}', ""))
        .collect();
    assert_eq!(stored.len(), 180);
    assert_eq!(stored, want);
}

on_every_backend!(
    notes_with_nul_are_refused_alone_and_the_rest_stored,
    nul_in_notes
);

/// Posts a signed webhook body; returns the status.
async fn post_webhook(wa: &Wa, body: &[u8]) -> u16 {
    post_signed_webhook(&wa.server, SECRET, body.to_vec())
        .await
        .status()
        .as_u16()
}

/// Every message stored, as the admin reads them: (interaction's customer wa_id, text).
async fn all_messages(admin: &Api) -> Vec<(String, Value)> {
    let (_, all) = admin.get("/api/v1/interactions?all=true").await;
    let mut out = Vec::new();
    for it in all.as_array().expect("list") {
        let id = it["id"].as_str().expect("id");
        let (s, page) = admin.messages(id).await;
        assert_eq!(s, 200, "{page}");
        for m in page["messages"].as_array().expect("messages") {
            let wa = string(&it["customer"]["wa_id"]);
            out.push((wa, m.clone()));
        }
    }
    out
}

/// One webhook with good messages beside each kind PostgreSQL used to refuse: a message id
/// over 2,700 bytes, NUL in a text and in a profile name, a text of 1 MB of distinct words,
/// and a status for an unknown message with an id and a status value over 2,700 bytes. It is
/// answered 200, every message is stored (NUL stripped; the long text whole, found by its
/// first words), and a redelivery stores nothing twice.
async fn hostile_rows_in_a_webhook(db: Db) {
    let wa = setup(db).await;
    let long_id = format!("wamid.{}", "A".repeat(3000));
    let mut big = String::from("alphaword");
    let mut i = 0u64;
    while big.len() < 1_000_000 {
        big.push_str(&format!(" w{i:x}"));
        i += 1;
    }
    let msg = |from: &str, id: &str, ts: u64, text: &str| json!({"from": from, "id": id, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}});
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "phone_number_id": DEFAULT_PHONE_NUMBER_ID},
        "contacts": [
            {"profile": {"name": "Gus"}, "wa_id": "4917001"},
            {"profile": {"name": "Lo"}, "wa_id": "4917002"},
            {"profile": {"name": "Nu\u{0}ll"}, "wa_id": "4917003"},
            {"profile": {"name": "Big"}, "wa_id": "4917004"},
            {"profile": {"name": "Hal"}, "wa_id": "4917005"}
        ],
        "messages": [
            msg("4917001", "wamid.good-1", 1_700_000_000, "good one"),
            msg("4917002", &long_id, 1_700_000_001, "long id"),
            msg("4917003", "wamid.nul", 1_700_000_002, "nul\u{0}text"),
            msg("4917004", "wamid.big", 1_700_000_003, &big),
            msg("4917005", "wamid.good-2", 1_700_000_004, "good two")
        ],
        "statuses": [
            {"id": format!("wamid.{}", "S".repeat(3000)), "status": "delivered", "timestamp": "1700000005", "recipient_id": "4917001"},
            {"id": "wamid.unknown", "status": "x".repeat(3000), "timestamp": "1700000006", "recipient_id": "4917001"}
        ]}}]}]}))
    .expect("json");
    assert_eq!(post_webhook(&wa, &body).await, 200);
    let stored = all_messages(&wa.admin).await;
    let text_of = |wa_id: &str| -> Vec<String> {
        stored
            .iter()
            .filter(|(w, _)| w == wa_id)
            .map(|(_, m)| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(text_of("4917001"), vec!["good one"]);
    assert_eq!(text_of("4917002"), vec!["long id"]);
    assert_eq!(text_of("4917003"), vec!["nultext"]);
    assert_eq!(text_of("4917004"), vec![big.clone()]);
    assert_eq!(text_of("4917005"), vec!["good two"]);
    let (_, all) = wa.admin.get("/api/v1/interactions?all=true").await;
    let nul = all
        .as_array()
        .expect("list")
        .iter()
        .find(|i| i["customer"]["wa_id"] == "4917003")
        .expect("Null's interaction");
    assert_eq!(nul["customer"]["name"], "Null");
    // The long text is found by its first word.
    let found = wa.admin.get_ok("/api/v1/search?q=alphaword").await;
    assert!(
        found.to_string().contains("alphaword"),
        "the long text is found: {}",
        &found.to_string()[..200.min(found.to_string().len())]
    );
    // Redelivered (WhatsApp retries until it gets a 200): nothing is stored twice.
    assert_eq!(post_webhook(&wa, &body).await, 200);
    assert_eq!(all_messages(&wa.admin).await.len(), stored.len());
}

on_every_backend!(
    a_webhook_with_rows_postgres_refused_is_stored_once,
    hostile_rows_in_a_webhook
);

/// Small ones: a password over 1,024 bytes, a case subject over its bound, and break reasons
/// with control characters or too many of them each get their own error.
async fn bounded_inputs(db: Db) {
    let (_server, admin, ann, it) = accepted(db).await;
    let (s, v) = admin
        .post(
            "/api/v1/agents",
            json!({"username": "long", "password": "p".repeat(2000), "display_name": "Long",
                   "role": "agent", "capacity": 1, "can_reject": false, "queue_ids": []}),
        )
        .await;
    assert_error_says(s, &v, 422, "invalid_password", "1024");
    let (s, v) = admin
        .post(
            "/api/v1/agents",
            json!({"username": "nul", "password": PASSWORD, "display_name": "N\u{7}ul",
                   "role": "agent", "capacity": 1, "can_reject": false, "queue_ids": []}),
        )
        .await;
    assert_error(s, &v, 422, "invalid_display_name");
    let (s, v) = ann
        .try_act(&it, "case", json!({"subject": "s".repeat(100_000)}))
        .await;
    assert_error(s, &v, 422, "invalid_subject");
    for reasons in [
        json!(["Lunch", "Bell\u{7}"]),
        json!((0..51).map(|i| format!("Reason {i}")).collect::<Vec<_>>()),
        json!(["r".repeat(101)]),
    ] {
        let (s, v) = admin
            .patch("/api/v1/settings", json!({ "break_reasons": reasons }))
            .await;
        assert_error(s, &v, 422, "invalid_break_reason");
    }
    admin
        .patch_ok(
            "/api/v1/settings",
            json!({"break_reasons": ["Lunch", "Training"]}),
        )
        .await;
}

on_every_backend!(
    bounds_of_small_inputs_answer_their_own_errors,
    bounded_inputs
);

/// Customers write at once and the database refuses some of their messages (a trigger
/// standing for any constraint): those fail alone with `unstorable` and leave nothing behind,
/// not even in the engine's memory; every other customer's interaction is stored and offered,
/// and a refused customer's next message opens an interaction as usual.
async fn refused_commands_among_good_ones(db: Db) {
    let (server, admin, ann, first) = accepted(db.clone()).await;
    refuse_poison_messages(&db).await;
    let queue_id = string(&ann.interaction(&first).await["queue_id"]);
    let message = |wa_id: String, text: String| switchboard_server::InboundMessage {
        summary: None,
        queue_id: switchboard_domain::QueueId(queue_id.clone()),
        channel_id: Some("test-channel".into()),
        source_number: Some("+15550100".into()),
        wa_id,
        customer_name: Some("Customer".into()),
        wa_message_id: Some(format!("wamid.{}", rand::random::<u64>())),
        kind: "text".into(),
        text: Some(text.clone()),
        payload: json!({"text": {"body": text}}),
    };
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let state = server.state.clone();
            let poisoned = i % 5 == 2;
            let text = if poisoned { "poison" } else { "hello" };
            let msg = message(format!("49152000{i:04}"), format!("{text} {i}"));
            tokio::spawn(async move {
                (
                    poisoned,
                    switchboard_server::services::ingest::ingest(&state.ingest(), msg).await,
                )
            })
        })
        .collect();
    let mut good = HashSet::new();
    for c in calls {
        let (poisoned, r) = c.await.expect("task");
        match r {
            Ok(i) if !poisoned => {
                good.insert(i.interaction_id.0);
            }
            Err(e) if poisoned => assert_eq!(e.code, "unstorable", "{e}"),
            other => panic!("poisoned {poisoned}: {other:?}"),
        }
    }
    assert_eq!(good.len(), 32);
    // Stored: the first interaction and the good ones; in memory: the same.
    let (_, all) = admin.get("/api/v1/interactions?all=true").await;
    let stored: HashSet<String> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|i| string(&i["id"]))
        .collect();
    let mut want = good.clone();
    want.insert(first.clone());
    assert_eq!(stored, want);
    let live: HashSet<String> = server
        .state
        .core
        .read(|s| s.engine.interactions().map(|i| i.id.0.clone()).collect())
        .await
        .expect("read");
    assert_eq!(live, want, "the engine holds exactly what is stored");
    // A refused customer writes again: a new interaction, stored and live.
    let again = switchboard_server::services::ingest::ingest(
        &server.state.ingest(),
        message("491520000002".into(), "hello again".into()),
    )
    .await
    .expect("ingest");
    assert!(again.created);
    let it = admin
        .get(&format!("/api/v1/interactions/{}", again.interaction_id.0))
        .await;
    assert_eq!(it.0, 200, "{}", it.1);
}

on_every_backend!(
    refused_commands_fail_alone_among_concurrent_good_ones,
    refused_commands_among_good_ones
);

/// Rows in the test's database matching `sql` (a `SELECT count(*) …`).
async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Connection;
    match db {
        Db::Sqlite(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open the SQLite file");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("sql")
        }
        Db::Postgres { url, schema } => {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(&format!("SET search_path TO \"{schema}\""))
                .execute(&mut c)
                .await
                .expect("schema");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("sql")
        }
    }
}

/// A customer message the database refuses for a reason the text rule does not know (a
/// trigger stands for it): the webhook is still answered 200, the other messages are stored,
/// and the refused one is kept raw with the reason, so WhatsApp stops redelivering it.
async fn a_refused_message_is_kept_raw(db: Db) {
    let wa = setup(db.clone()).await;
    refuse_poison_messages(&db).await;
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": DEFAULT_DISPLAY_PHONE_NUMBER, "phone_number_id": DEFAULT_PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "4917201"}, {"profile": {"name": "Bo"}, "wa_id": "4917202"}],
        "messages": [
            {"from": "4917201", "id": "wamid.ok-1", "timestamp": "1700000000", "type": "text", "text": {"body": "fine"}},
            {"from": "4917202", "id": "wamid.poison", "timestamp": "1700000001", "type": "text", "text": {"body": "poison"}},
            {"from": "4917201", "id": "wamid.ok-2", "timestamp": "1700000002", "type": "text", "text": {"body": "also fine"}}
        ]}}]}]}))
    .expect("json");
    assert_eq!(post_webhook(&wa, &body).await, 200);
    let texts: Vec<String> = all_messages(&wa.admin)
        .await
        .iter()
        .map(|(_, m)| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, vec!["fine", "also fine"]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM webhook_raw WHERE reason LIKE 'message refused%' \
             AND body LIKE '%wamid.poison%'"
        )
        .await,
        1
    );
    // WhatsApp delivers the same webhook again: nothing is stored twice, and the refused
    // message is still kept raw once.
    assert_eq!(post_webhook(&wa, &body).await, 200);
    assert_eq!(all_messages(&wa.admin).await.len(), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM webhook_raw WHERE reason LIKE 'message refused%'"
        )
        .await,
        1
    );
}

on_every_backend!(
    a_customer_message_the_database_refuses_is_kept_raw_and_answered_200,
    a_refused_message_is_kept_raw
);
