//! the transcript of an interaction shows it plus the previous
//! `transcript_interactions_count` interactions of its conversation, and "See older messages"
//! (`?scope=transcript&before=…`) pages back through the earlier ones.

use crate::support::*;
use serde_json::{json, Value};

/// The customer's texts of a page, in order, and its `next_before`.
fn page(v: &Value) -> (Vec<String>, Option<String>) {
    let texts = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    (texts, v["next_before"].as_str().map(str::to_owned))
}

async fn run(db: Db) {
    let Desk {
        server,
        admin,
        queue: q,
        ann,
        mut ws,
        ..
    } = Desk::open(db, true).await;
    let wa = "4915000000777";

    // Three visits of one customer, one interaction each; the first two are ended and wrapped up.
    let mut ids = Vec::new();
    for (visit, texts) in [("a", 2), ("b", 2), ("c", 1)] {
        let first = server.ingest(&q, wa, "Mia", &format!("{visit}1")).await;
        assert!(first.created, "visit {visit} opens an interaction");
        let id = first.interaction_id.0;
        ws.expect_kind("offer.created", &id).await;
        ann.act(&id, "accept").await;
        for n in 2..=texts {
            server.ingest(&q, wa, "Mia", &format!("{visit}{n}")).await;
        }
        if visit != "c" {
            ann.act(&id, "end").await;
            ann.act(&id, "wrap-up").await;
        }
        ids.push(id);
    }
    let transcript =
        |id: &str, rest: &str| format!("/api/v1/interactions/{id}/messages?scope=transcript{rest}");

    // Default (1): the current interaction and the one before it.
    let v = ann.get_ok(&transcript(&ids[2], "")).await;
    let (texts, next) = page(&v);
    assert_eq!(texts, ["b1", "b2", "c1"]);
    let next = next.expect("older messages remain");
    let v = ann
        .get_ok(&transcript(&ids[2], &format!("&before={next}")))
        .await;
    assert_eq!(page(&v), (vec!["a1".to_owned(), "a2".to_owned()], None));

    // An earlier interaction's transcript never shows later ones.
    let (_, v) = ann.get(&transcript(&ids[1], "")).await;
    assert_eq!(
        page(&v),
        (
            vec!["a1".into(), "a2".into(), "b1".into(), "b2".into()],
            None
        )
    );
    let (_, v) = ann.get(&transcript(&ids[0], "")).await;
    assert_eq!(page(&v), (vec!["a1".into(), "a2".into()], None));

    // A small limit pages through everything once, in order, without gaps or repeats.
    let mut all: Vec<Value> = Vec::new();
    let mut before = String::new();
    loop {
        let v = ann
            .get_ok(&transcript(&ids[2], &format!("&limit=2&before={before}")))
            .await;
        let mut msgs = v["messages"].as_array().expect("messages").clone();
        assert!(msgs.len() <= 2);
        msgs.extend(all);
        all = msgs;
        match v["next_before"].as_str() {
            Some(b) => before = b.to_owned(),
            None => break,
        }
    }
    let ids_in_order: Vec<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let mut sorted = ids_in_order.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids_in_order, sorted, "chronological, no repeats");
    let texts: Vec<&str> = all
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["a1", "a2", "b1", "b2", "c1"]);

    // The setting decides how many earlier interactions the first page holds.
    admin
        .patch_ok(
            "/api/v1/settings",
            json!({"transcript_interactions_count": 2}),
        )
        .await;
    let (_, v) = ann.get(&transcript(&ids[2], "")).await;
    assert_eq!(
        page(&v),
        (
            vec![
                "a1".into(),
                "a2".into(),
                "b1".into(),
                "b2".into(),
                "c1".into()
            ],
            None
        )
    );

    // An unknown scope is refused.
    let (status, v) = ann
        .get(&format!(
            "/api/v1/interactions/{}/messages?scope=everything",
            ids[2]
        ))
        .await;
    assert_eq!(status, 400, "{v}");
}

on_every_backend!(transcript_pages_back_through_earlier_interactions, run);
