//! durable state and timers across a restart. Deadlines that passed while the server was
//! down fire when it starts: an expired offer counts as missed, an expired wrap-up completes.

use crate::support::*;
use serde_json::json;

async fn run(db: Db) {
    let (mut server, admin) = Server::with_admin(db.clone()).await;
    let q = queue(
        &admin,
        json!({"name": "Billing", "acceptance_interval_s": 20, "post_processing_s": 45}),
    )
    .await;
    let ann_id = agent(&admin, "ann", 2, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let first = server.ingest_id(&q, "4930111", "Ida", "first").await;
    let second = server.ingest_id(&q, "4930222", "Jon", "second").await;
    ann.act(&first, "accept").await;
    ann.act(&first, "end").await;
    assert_eq!(ann.interaction(&second).await["state"], "offered");
    let ws = ann.ws(None).await;
    let seq_before = ws.last_seq;
    ws.close().await;

    // Down for 50 s: the offer (20 s) and the wrap-up countdown (45 s) both expire meanwhile
    // (the 60 s disconnect grace does not).
    server.stop().await;
    server.clock.advance_secs(50);
    let server = Server::start_with_clock(db, server.clock.clone()).await;
    let ann = Api {
        base: server.base.clone(),
        ..ann
    };

    let me = ann.me().await;
    assert_eq!(
        me["presence"], "rona",
        "the offer that expired while down counts as missed"
    );
    assert_eq!(
        me["load"], 0,
        "the expired wrap-up completed and the missed offer freed its slot"
    );
    assert_eq!(ann.interaction(&first).await["state"], "done");
    let (s, _) = ann.get(&format!("/api/v1/interactions/{second}")).await;
    assert_eq!(s, 404, "the missed offer is no longer hers to see");
    let v = server.admin().await.interaction(&second).await;
    assert_eq!(v["state"], "queued");

    // What happened while she was away is replayed on reconnect, in order.
    let mut ws = ann.ws(Some(seq_before)).await;
    ws.expect_kind("offer.withdrawn", &second).await;
    ws.expect_presence(&ann_id, "rona").await;
    ws.expect_state(&first, "done").await;

    // Back available, she is not offered the one she missed (excluded for a while), but a new
    // customer; that offer's deadline survives another restart and fires on time.
    ann.available().await;
    let third = server.ingest_id(&q, "4930333", "Kai", "third").await;
    let second = third;
    let f = ws.expect_kind("offer.created", &second).await;
    let deadline = string(&f.data["offer"]["deadline"]);
    let mut server = server.restart().await;
    server.clock.advance_secs(19);
    let ann = Api {
        base: server.base.clone(),
        ..ann
    };
    let mut ws = ann.ws(None).await;
    assert_eq!(
        ann.interaction(&second).await["offer"]["deadline"],
        deadline.as_str()
    );
    assert_eq!(
        ann.interaction(&second).await["state"],
        "offered",
        "not before its deadline"
    );
    server.clock.advance_secs(2);
    let f = ws.expect_kind("offer.withdrawn", &second).await;
    assert_eq!(f.data["reason"], "timeout");
    server.stop().await;
}

on_every_backend!(
    deadlines_that_pass_while_down_fire_at_start_and_others_resume,
    run
);
