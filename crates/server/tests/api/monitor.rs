//! the supervisor's board: `GET /api/v1/monitor` and the live `monitor.agent` /
//! `monitor.queue` events, and the shared floor stream that stores what every supervisor sees
//! once, however many supervisors there are.

use crate::support::*;
use serde_json::{json, Value};
use switchboard_domain::AgentId;

/// Each interaction of `ids` has exactly one `message.created` among `events` (kind, data).
fn once_each<'a>(events: impl Iterator<Item = (&'a str, &'a Value)> + Clone, ids: &[String]) {
    for c in ids {
        let n = events
            .clone()
            .filter(|(kind, data)| *kind == "message.created" && data["interaction_id"] == *c)
            .count();
        assert_eq!(n, 1, "message.created of {c}");
    }
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("{id} not in {list:#}"))
}

async fn board_follows_the_floor(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(
        &admin,
        json!({"name": "Support", "acceptance_interval_s": 300, "sla_response_s": 60}),
    )
    .await;
    let ann_id = agent(&admin, "ann", 2, false, &[&q]).await;
    supervisor(&admin, "sue").await;
    let ann = server.login("ann", PASSWORD).await;
    let sue = server.login("sue", PASSWORD).await;
    let mut board = sue.ws(None).await;

    ann.available().await;
    let f = board
        .expect("ann available on the board", |f| {
            f.kind == "monitor.agent" && f.data["id"] == ann_id && f.data["presence"] == "available"
        })
        .await;
    assert_eq!(f.data["activity"], "idle");
    assert_eq!(f.data["load"], 0);
    board
        .expect("one agent available in Support", |f| {
            f.kind == "monitor.queue" && f.data["id"] == q && f.data["available_agents"] == 1
        })
        .await;

    // A customer writes: offered to Ann, who accepts.
    let c = server
        .ingest(&q, "4916000001", "Cleo", "hello")
        .await
        .interaction_id
        .0;
    board
        .expect("the offer on Ann's row", |f| {
            f.kind == "monitor.agent"
                && f.data["id"] == ann_id
                && f.data["interaction_ids"] == json!([c])
        })
        .await;
    ann.ok(&format!("/api/v1/interactions/{c}/accept"), json!({}))
        .await;
    board
        .expect("Ann handling", |f| {
            f.kind == "monitor.agent" && f.data["id"] == ann_id && f.data["activity"] == "handling"
        })
        .await;
    // A second customer waits: Ann has room for one more, so it is offered; a third waits.
    ann.put("/api/v1/me/stop-new", json!({"stop_new": true}))
        .await;
    server.ingest(&q, "4916000002", "Dan", "hi").await;
    let f = board
        .expect("one waiting", |f| {
            f.kind == "monitor.queue" && f.data["id"] == q && f.data["waiting"] == 1
        })
        .await;
    assert_eq!(f.data["available_agents"], 0, "{f:?}");
    assert!(f.data["oldest_waiting_since"].is_string(), "{f:?}");

    let b = sue.get_ok("/api/v1/monitor").await;
    let a = row(&b["agents"], &ann_id);
    assert_eq!(
        (
            &a["presence"],
            &a["activity"],
            &a["load"],
            &a["capacity"],
            &a["stop_new"]
        ),
        (
            &json!("available"),
            &json!("handling"),
            &json!(1),
            &json!(2),
            &json!(true)
        ),
        "{a:#}"
    );
    let qv = row(&b["queues"], &q);
    assert_eq!(
        (
            &qv["waiting"],
            &qv["available_agents"],
            &qv["offered"],
            &qv["accepted"],
            &qv["missed"],
            &qv["handled"]
        ),
        (
            &json!(1),
            &json!(0),
            &json!(2),
            &json!(1),
            &json!(0),
            &json!(0)
        ),
        "{qv:#}"
    );
    assert_eq!(qv["name"], "Support");

    // Agents do not see the board.
    let (s, v) = ann.get("/api/v1/monitor").await;
    assert_eq!(s, 403, "{v}");
}

on_every_backend!(
    the_board_follows_presence_offers_and_accepts_live,
    board_follows_the_floor
);

async fn floor_stored_once(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Sales"})).await;
    let mut sups = Vec::new();
    for i in 0..10 {
        let id = supervisor(&admin, &format!("sup{i}")).await;
        let api = server.login(&format!("sup{i}"), PASSWORD).await;
        let ws = api.ws(None).await;
        sups.push((id, api, ws));
    }
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = server
            .ingest(&q, &format!("49160000100{i}"), "Kim", "hello")
            .await
            .interaction_id
            .0;
        ids.push(c);
    }
    // Every supervisor's socket got every message, live ...
    for (_, _, ws) in &mut sups {
        for c in &ids {
            ws.expect("the message", |f| {
                f.kind == "message.created" && f.data["interaction_id"] == *c
            })
            .await;
        }
    }
    // ... from one stored row each, in the shared stream, not one per supervisor.
    let store = &server.state.store;
    for (id, _, _) in &sups {
        let own = store
            .events_since(&AgentId(id.clone()), 0, 1000)
            .await
            .expect("events");
        assert!(
            own.iter()
                .all(|e| e.kind != "message.created" && e.kind != "interaction.updated"),
            "a supervisor's own copy was stored: {own:#?}"
        );
    }
    let floor = store
        .events_since(&AgentId("*floor".into()), 0, 10_000)
        .await
        .expect("floor");
    once_each(floor.iter().map(|e| (e.kind.as_str(), &e.data)), &ids);
    // A supervisor who reconnects replays the shared stream: the same messages, once each.
    let (_, api, ws) = sups.pop().expect("a supervisor");
    let last = ws.last_seq;
    ws.close().await;
    let mut again = api.ws(Some(0)).await;
    let replayed = again.drain().await;
    once_each(replayed.iter().map(|f| (f.kind.as_str(), &f.data)), &ids);
    assert!(replayed.last().is_some_and(|f| f.seq >= last));
}

on_every_backend!(what_every_supervisor_sees_is_stored_once, floor_stored_once);
