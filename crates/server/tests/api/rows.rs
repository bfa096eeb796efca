//! Rows the database refuses: one bad command fails alone (422), never the commands that shared
//! its group commit; text the database cannot hold (NUL, ids longer than an index entry, words
//! beyond a `tsvector`) is cleaned or bounded at the edge, so customers' messages are never lost
//! to it and a webhook carrying them is answered 200 once, not 503 on every redelivery.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Runs `sql` on the test's database, beside the server.
async fn raw_sql(db: &Db, sql: &str) {
    use sqlx::Connection;
    match db {
        Db::Sqlite(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open the SQLite file");
            sqlx::raw_sql(sql).execute(&mut c).await.expect("sql");
            c.close().await.expect("close");
        }
        Db::Postgres { url, schema } => {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql(&format!("SET search_path TO \"{schema}\"; {sql}"))
                .execute(&mut c)
                .await
                .expect("sql");
            c.close().await.expect("close");
        }
    }
}

/// An agent with an accepted interaction; returns (server, admin, ann, interaction id).
async fn accepted(db: Db) -> (Server, Api, Api, String) {
    let server = Server::start(db).await;
    let admin = server.admin().await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    agent(&admin, "ann", 3, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let it = server
        .ingest(&q, "4915100000001", "Cleo", "Hello")
        .await
        .interaction_id
        .0;
    ann.ok(&format!("/api/v1/interactions/{it}/accept"), json!({}))
        .await;
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
    let (s, v) = ann.get(&format!("/api/v1/interactions/{it}/notes")).await;
    assert_eq!(s, 200, "{v}");
    let list = v
        .as_array()
        .or_else(|| v["notes"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|n| n["text"].as_str().expect("text").to_owned())
        .collect()
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
    let (s, v) = ann
        .post(
            &format!("/api/v1/interactions/{it}/notes"),
            json!({"text": "after"}),
        )
        .await;
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
            .post(
                &format!("/api/v1/interactions/{it}/notes"),
                json!({"text": "in the outage"}),
            )
            .await;
        assert_error(s, &v, 503, "unavailable");
    }
    drop(server);
}

on_every_backend!(
    a_row_the_database_refuses_fails_only_its_own_command,
    a_refused_row_fails_only_its_command
);
