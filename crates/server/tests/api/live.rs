//! the live event stream: sequence numbers that only increase per socket,
//! replay after `since=N` identical to what a socket that never left received, events missed
//! while away delivered once on reconnect, no events about other agents' interactions, and the
//! disconnect grace period that withdraws offers and sets presence offline (but keeps active
//! interactions) when an agent's last socket has been gone too long.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashSet;

fn view(frames: &[Frame]) -> Vec<(i64, String, Value)> {
    frames
        .iter()
        .map(|f| (f.seq, f.kind.clone(), f.data.clone()))
        .collect()
}

fn count(frames: &[Frame], kind: &str, interaction: &str) -> usize {
    frames
        .iter()
        .filter(|f| {
            f.kind == kind
                && (f.data["interaction_id"] == interaction || f.data["id"] == interaction)
        })
        .count()
}

/// Waits (by asking the server, never by sleeping) until the agent is seen as disconnected.
async fn wait_disconnected(api: &Api) {
    for _ in 0..2000 {
        if api.me().await["connected"] == false {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the server never noticed the closed socket");
}

async fn sequences_and_replay(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(
        &admin,
        json!({"name": "Support", "acceptance_interval_s": 300}),
    )
    .await;
    let ann_id = agent(&admin, "ann", 3, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;

    // A new user's first socket: nothing happened yet; the first event is number 1.
    let mut a = ann.ws(None).await;
    assert_eq!(
        (a.hello.seq, a.hello.data["last_seq"].clone()),
        (0, json!(0)),
        "{:?}",
        a.hello
    );
    ann.available().await;
    let first = a.expect_presence(&ann_id, "available").await;
    assert!(first.seq >= 1);

    // A second socket leaves at the first event while things happen.
    let b = ann.ws(None).await;
    assert_eq!(
        b.hello.seq, first.seq,
        "hello carries the last sequence number"
    );
    b.close().await;
    let c1 = server.ingest_id(&q, "4916000001", "Cleo", "one").await;
    let c2 = server.ingest_id(&q, "4916000002", "Dan", "two").await;
    ann.act(&c1, "accept").await;
    ann.reply(&c1, "hello Cleo").await;
    server.ingest(&q, "4916000001", "Cleo", "thanks").await;
    ann.on_break("Lunch").await;
    let seen = a.drain().await;
    assert!(seen.first().is_some_and(|f| f.seq > first.seq), "{seen:#?}");
    assert_eq!(count(&seen, "offer.created", &c1), 1);
    assert_eq!(count(&seen, "offer.created", &c2), 1);
    assert_eq!(count(&seen, "offer.withdrawn", &c2), 1);
    assert!(seen
        .iter()
        .any(|f| f.kind == "message.created" && f.data["text"] == "thanks"));
    assert!(seen
        .iter()
        .any(|f| f.kind == "presence.changed" && f.data["presence"] == "on_break"));

    // Reconnecting with since=N replays exactly what the other socket got after N.
    let mut b = ann.ws(Some(first.seq)).await;
    let replayed = b.drain().await;
    assert_eq!(
        view(&replayed),
        view(&seen),
        "replay differs from the live stream"
    );
    // since=0 replays everything.
    let mut all = ann.ws(Some(0)).await;
    let everything = all.drain().await;
    assert_eq!(everything.len(), seen.len() + 1);
    assert_eq!(view(&everything[1..]), view(&seen));
    all.close().await;

    // After the replay both sockets get new events once, with the same numbers.
    ann.available().await;
    let fa = a.expect_presence(&ann_id, "available").await;
    let fb = b.expect_presence(&ann_id, "available").await;
    assert_eq!(fa.seq, fb.seq);
    assert!(fa.seq > seen.last().expect("events").seq);
    a.expect_kind("offer.created", &c2).await;
    b.expect_kind("offer.created", &c2).await;
    let (ra, rb) = (a.drain().await, b.drain().await);
    assert_eq!(view(&ra), view(&rb));
    let last = a.last_seq;
    assert_eq!(b.last_seq, last);
    let c = ann.ws(None).await;
    assert_eq!(
        c.hello.seq, last,
        "a fresh socket starts after the last event"
    );
    // A client claiming a number from the future is told to reload.
    let mut future = ann.ws(Some(last + 100)).await;
    let f = future.expect("resync", |f| f.kind == "resync").await;
    assert_eq!(f.seq, last);
    assert!(future.drain().await.is_empty());
}

on_every_backend!(
    sequence_numbers_increase_and_replay_equals_the_live_stream,
    sequences_and_replay
);

async fn missed_while_away(db: Db) {
    let Desk {
        server,
        queue: q,
        ann_id,
        ann,
        ws: a,
        ..
    } = Desk::open_with(
        db,
        json!({"name": "Support", "acceptance_interval_s": 300}),
        3,
        false,
    )
    .await;
    let n = a.last_seq;
    a.close().await;
    wait_disconnected(&ann).await;

    // Within the grace period she is still available: offered, then she goes on a break.
    let c = server.ingest_id(&q, "4916000003", "Eve", "hi").await;
    assert_eq!(ann.interaction(&c).await["state"], "offered");
    ann.on_break("Coffee").await;

    let mut b = ann.ws(Some(n)).await;
    let got = b.drain().await;
    assert_eq!(count(&got, "offer.created", &c), 1, "{got:#?}");
    let withdrawn: Vec<&Frame> = got.iter().filter(|f| f.kind == "offer.withdrawn").collect();
    assert_eq!(withdrawn.len(), 1, "{got:#?}");
    assert_eq!(withdrawn[0].data["reason"], "agent_unavailable");
    assert_eq!(
        got.iter()
            .filter(|f| f.kind == "presence.changed" && f.data["presence"] == "on_break")
            .count(),
        1
    );
    let seqs: Vec<i64> = got.iter().map(|f| f.seq).collect();
    assert!(
        seqs.first().is_some_and(|s| *s > n) && seqs.windows(2).all(|w| w[0] < w[1]),
        "after {n}, increasing, no duplicates: {seqs:?}"
    );

    // Live again: new events follow on, nothing is sent twice.
    ann.available().await;
    let f = b.expect_presence(&ann_id, "available").await;
    assert!(seqs.last().is_some_and(|s| f.seq > *s));
    b.expect_kind("offer.created", &c).await;
    let more = b.drain().await;
    let mut all: Vec<i64> = seqs;
    all.push(f.seq);
    all.extend(more.iter().map(|f| f.seq));
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "no event twice");
}

on_every_backend!(
    events_missed_while_disconnected_arrive_once_on_reconnect,
    missed_while_away
);

async fn only_what_they_may_see(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let qa = queue(&admin, json!({"name": "Sales"})).await;
    let qb = queue(&admin, json!({"name": "Support"})).await;
    let ann_id = agent(&admin, "ann", 3, false, &[&qa]).await;
    let bob_id = agent(&admin, "bob", 3, false, &[&qb]).await;
    supervisor(&admin, "sue").await;
    let (ann, bob, sue) = (
        server.login("ann", PASSWORD).await,
        server.login("bob", PASSWORD).await,
        server.login("sue", PASSWORD).await,
    );
    let (mut ann_ws, mut bob_ws, mut sue_ws) =
        (ann.ws(None).await, bob.ws(None).await, sue.ws(None).await);
    ann.available().await;
    ann_ws.expect_presence(&ann_id, "available").await;
    bob.available().await;
    bob_ws.expect_presence(&bob_id, "available").await;
    sue_ws.expect_presence(&ann_id, "available").await;
    sue_ws.expect_presence(&bob_id, "available").await;

    // Bob's whole interaction, start to finish.
    let c = server.ingest_id(&qb, "4916000004", "Finn", "help").await;
    bob_ws.expect_kind("offer.created", &c).await;
    sue_ws.expect_state(&c, "offered").await;
    bob.act(&c, "accept").await;
    sue_ws.expect_state(&c, "active").await;
    let m = bob.reply(&c, "on it").await;
    sue_ws
        .expect("bob's message", |f| {
            f.kind == "message.created" && f.data["id"] == m["id"]
        })
        .await;
    server.ingest(&qb, "4916000004", "Finn", "thanks").await;
    sue_ws
        .expect("the customer's message", |f| {
            f.kind == "message.created" && f.data["text"] == "thanks"
        })
        .await;
    bob.act_with(&c, "notes", json!({"text": "VIP"})).await;
    sue_ws
        .expect("bob's note", |f| {
            f.kind == "note.created" && f.data["text"] == "VIP"
        })
        .await;
    bob.act(&c, "end").await;
    bob.act(&c, "wrap-up").await;
    sue_ws.expect_state(&c, "done").await;
    bob_ws.expect_state(&c, "done").await;
    bob.on_break("Lunch").await;
    sue_ws.expect_presence(&bob_id, "on_break").await;
    bob_ws.drain().await;

    // Ann got none of it: not the interaction, its messages and notes, nor Bob's presence.
    let leaked: Vec<Frame> = ann_ws.drain().await;
    assert!(
        leaked.is_empty(),
        "ann received events not meant for her: {leaked:#?}"
    );
    // And an offer of Ann's is not Bob's business (he is on break, but also not in Sales).
    bob.available().await;
    let d = server.ingest_id(&qa, "4916000005", "Gus", "hello").await;
    ann_ws.expect_kind("offer.created", &d).await;
    sue_ws.expect_state(&d, "offered").await;
    let bobs: Vec<Frame> = bob_ws.drain().await;
    assert!(
        bobs.iter()
            .all(|f| f.kind == "presence.changed" && f.data["id"] == bob_id.as_str()),
        "{bobs:#?}"
    );
    assert!(
        !bobs.iter().any(|f| f.data.to_string().contains(&d)),
        "{bobs:#?}"
    );
    let sues = sue_ws.drain().await;
    assert!(
        !sues.iter().any(|f| f.kind == "offer.created"),
        "offers go to the offered agent only: {sues:#?}"
    );
}

on_every_backend!(
    agents_get_only_their_own_events_and_supervisors_see_everything,
    only_what_they_may_see
);

async fn grace(db: Db) {
    let Desk {
        server,
        admin,
        queue: q,
        ann_id,
        ann,
        ws: mut a1,
    } = Desk::open_with(
        db,
        json!({"name": "Support", "acceptance_interval_s": 600}),
        3,
        false,
    )
    .await;
    supervisor(&admin, "sue").await;
    let sue = server.login("sue", PASSWORD).await;
    let mut sue_ws = sue.ws(None).await;
    let active = server.ingest_id(&q, "4916000006", "Hal", "first").await;
    ann.act(&active, "accept").await;
    let pending = server.ingest_id(&q, "4916000007", "Ida", "second").await;
    a1.expect_kind("offer.created", &pending).await;
    sue_ws.drain().await;

    // One of two sockets closes: she is still connected, nothing is withdrawn, ever.
    let a2 = ann.ws(None).await;
    let id = switchboard_domain::AgentId(ann_id.clone());
    a2.close().await;
    let mut closed = false;
    for _ in 0..20_000 {
        let id = id.clone();
        if server
            .state
            .core
            .read(move |s| s.engine.connections_of(&id))
            .await
            .expect("read")
            == 1
        {
            closed = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(closed, "the server never noticed the second socket closing");
    server.clock.advance_secs(120);
    let me = ann.me().await;
    assert_eq!(
        (me["presence"].clone(), me["connected"].clone()),
        (json!("available"), json!(true))
    );
    assert_eq!(ann.interaction(&pending).await["state"], "offered");
    assert!(!sue_ws
        .drain()
        .await
        .iter()
        .any(|f| f.kind == "presence.changed" && f.data["id"] == ann_id.as_str()));

    // Her only socket closes: 59 s later she is still available and still offered.
    let n = a1.last_seq;
    a1.close().await;
    wait_disconnected(&ann).await;
    server.clock.advance_secs(59);
    let me = ann.me().await;
    assert_eq!(me["presence"], "available");
    assert_eq!(me["load"], 2);
    let v = ann.interaction(&pending).await;
    assert_eq!(
        (v["state"].clone(), v["offer"]["agent_id"].clone()),
        (json!("offered"), json!(ann_id))
    );
    assert!(!sue_ws
        .drain()
        .await
        .iter()
        .any(|f| f.kind == "presence.changed" && f.data["id"] == ann_id.as_str()));

    // At 61 s: the offer is withdrawn, she is offline, the active interaction stays hers.
    server.clock.advance_secs(2);
    sue_ws.expect_presence(&ann_id, "offline").await;
    sue_ws.expect_state(&pending, "queued").await;
    let me = ann.me().await;
    assert_eq!(
        (me["presence"].clone(), me["load"].clone()),
        (json!("offline"), json!(1))
    );
    let v = ann.interaction(&active).await;
    assert_eq!(
        (v["state"].clone(), v["owner_id"].clone()),
        (json!("active"), json!(ann_id))
    );
    let (s, _) = ann.get(&format!("/api/v1/interactions/{pending}")).await;
    assert_eq!(s, 404, "the withdrawn offer is no longer hers to see");

    // Reconnecting, she learns what happened; she can still work on the active one.
    let mut back = ann.ws(Some(n)).await;
    let f = back.expect_kind("offer.withdrawn", &pending).await;
    assert_eq!(f.data["reason"], "agent_unavailable");
    back.expect_presence(&ann_id, "offline").await;
    ann.reply(&active, "sorry, lost my connection").await;
    assert_eq!(ann.me().await["connected"], true);
}

on_every_backend!(
    a_lost_connection_withdraws_offers_after_the_grace_period_and_keeps_active_work,
    grace
);
