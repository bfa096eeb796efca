//! The router lease of several nodes: taken only when free, renewed only by its epoch,
//! and a commit fenced with a lost epoch writes nothing.

use switchboard_domain::{AgentId, Timestamp};
use switchboard_store::{Changeset, CommandRecord, EventRecord, StoreError};

mod common;
use common::each_store;

fn event(seq: i64) -> EventRecord {
    EventRecord {
        user_id: AgentId::from("u1"),
        seq,
        kind: "test".into(),
        data: serde_json::json!({"n": seq}),
        created_at: Timestamp(1_000),
    }
}

#[tokio::test]
async fn a_lost_lease_fences_every_commit() {
    each_store("cluster", |store| async move {
        // Free at first: the first node takes it; the second cannot while it is held.
        let one = store.acquire_lease("n1", 60_000).await.expect("acquire");
        let one = one.expect("the lease was free");
        assert_eq!(
            store.acquire_lease("n2", 60_000).await.expect("acquire"),
            None
        );
        assert!(store.renew_lease("n1", one, 60_000).await.expect("renew"));
        assert!(!store.renew_lease("n2", one, 60_000).await.expect("renew"));
        let lease = store.lease().await.expect("lease");
        assert_eq!(
            (lease.holder.as_str(), lease.epoch, lease.live),
            ("n1", one, true)
        );

        // A commit with the holder's epoch is written, with its forwarded command's result.
        let cs = Changeset {
            events: vec![event(1)],
            commands: vec![CommandRecord {
                id: "cmd_1.0".into(),
                result: "\"Done\"".into(),
                created_at: Timestamp(1_000),
            }],
            fence: Some(one),
            ..Changeset::default()
        };
        store
            .commit(&cs)
            .await
            .expect("fenced commit of the holder");
        assert_eq!(
            store
                .command_result("cmd_1.0")
                .await
                .expect("result")
                .as_deref(),
            Some("\"Done\"")
        );

        // The lease is given up and taken by n2 with the next epoch: n1's commits fail whole.
        store.release_lease("n1", one).await.expect("release");
        let two = store.acquire_lease("n2", 60_000).await.expect("acquire");
        let two = two.expect("the lease was released");
        assert!(two > one);
        assert!(!store.renew_lease("n1", one, 60_000).await.expect("renew"));
        let late = Changeset {
            events: vec![event(2)],
            fence: Some(one),
            ..Changeset::default()
        };
        match store.commit(&late).await {
            Err(StoreError::Fenced(e)) => assert_eq!(e, one),
            other => panic!("a commit of a lost epoch answered {other:?}"),
        }
        assert_eq!(store.max_event_seq().await.expect("max"), 1);
        let cs = Changeset {
            events: vec![event(2)],
            fence: Some(two),
            ..Changeset::default()
        };
        store
            .commit(&cs)
            .await
            .expect("fenced commit of the new holder");
        assert_eq!(store.max_event_seq().await.expect("max"), 2);
        let between = store
            .encoded_events_between(0, 2, 10)
            .await
            .expect("events");
        assert_eq!(between.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);

        // An expired lease is free again.
        assert!(store.renew_lease("n2", two, -1).await.expect("renew"));
        assert!(!store.lease().await.expect("lease").live);
        assert!(store
            .acquire_lease("n3", 60_000)
            .await
            .expect("acquire")
            .is_some());

        // Nodes seen.
        store
            .touch_node("n1", Timestamp(1_000), Timestamp(5_000))
            .await
            .expect("touch");
        store
            .touch_node("n2", Timestamp(2_000), Timestamp(9_000))
            .await
            .expect("touch");
        let nodes = store.nodes(Timestamp(6_000)).await.expect("nodes");
        assert_eq!(
            nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["n2"]
        );
        assert_eq!(
            store.prune_commands(Timestamp(2_000)).await.expect("prune"),
            1
        );
    })
    .await;
}
