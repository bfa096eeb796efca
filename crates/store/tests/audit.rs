//! The audit log on both backends: entries land with the commit they belong to and not
//! when it fails; the filters of `GET /api/v1/audit`; paging newest first through entries of
//! equal time without skipping or repeating one; pruning by age.
//!
//! Every scenario runs on a fresh SQLite file, and on a fresh PostgreSQL schema when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`).

use serde_json::json;
use switchboard_domain::model::{Agent, AgentId, Role, Settings, Timestamp};
use switchboard_store::{
    AuditCursor, AuditFilter, AuditRecord, Changeset, EventRecord, Store, StoreError,
};

mod common;
use common::each_store;

/// An entry by supervisor `actor` ("Sue" for s1) at `at` ms.
fn entry(id: &str, at: i64, actor: Option<&str>, action: &str, target: &str) -> AuditRecord {
    AuditRecord {
        id: id.into(),
        at: Timestamp(at),
        actor_id: actor.map(AgentId::from),
        actor_name: actor.map(|a| format!("Name of {a}")),
        action: action.into(),
        target_type: action.split('.').next().unwrap_or("").into(),
        target_id: target.into(),
        before: None,
        after: None,
        client_addr: None,
    }
}

fn filter(limit: i64) -> AuditFilter {
    AuditFilter {
        limit,
        ..AuditFilter::default()
    }
}

async fn ids(store: &Store, f: &AuditFilter) -> Vec<String> {
    store
        .audit_page(f)
        .await
        .expect("audit page")
        .items
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn user(id: &str) -> Agent {
    common::agent(id, Role::Supervisor)
}

fn event(user: &str, seq: i64) -> EventRecord {
    EventRecord {
        user_id: user.into(),
        seq,
        kind: "settings.updated".into(),
        data: json!({}),
        created_at: Timestamp(10),
    }
}

#[tokio::test]
async fn entries_land_with_their_commit_and_not_when_it_fails() {
    each_store("audit", |store| async move {
        store
            .create_user(&user("s1"), "sue", "hash", Timestamp(1))
            .await
            .expect("user");
        let mut changed = entry("aud_1", 100, Some("s1"), "settings.updated", "settings");
        changed.before = Some(json!({"offer_exclusion_s": 300}));
        changed.after = Some(json!({"offer_exclusion_s": 60, "name": "ünïcode \"quoted\""}));
        changed.client_addr = Some("203.0.113.7".into());
        let settings = Settings {
            offer_exclusion_s: 60,
            ..Settings::default()
        };
        let mut cs = Changeset {
            settings: Some(settings.clone()),
            audit: vec![changed.clone()],
            events: vec![event("s1", 1)],
            ..Changeset::default()
        };
        assert!(!cs.is_empty());
        store.commit(&cs).await.expect("commit");
        let page = store.audit_page(&filter(10)).await.expect("page");
        assert_eq!(page.items, vec![changed.clone()], "stored as given");
        assert_eq!(page.next, None);

        // The same changeset again (a retried commit) does not log the change twice.
        cs.events = vec![event("s1", 2)];
        store.commit(&cs).await.expect("commit again");
        assert_eq!(ids(&store, &filter(10)).await, vec!["aud_1"]);

        // A commit that fails (its last statement: an event number stored twice) leaves no
        // entry of its own.
        let failing = Changeset {
            settings: Some(Settings::default()),
            audit: vec![entry(
                "aud_2",
                200,
                Some("s1"),
                "settings.updated",
                "settings",
            )],
            events: vec![event("s1", 3), event("s1", 3)],
            ..Changeset::default()
        };
        let result = store.commit(&failing).await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        assert_eq!(ids(&store, &filter(10)).await, vec!["aud_1"]);
        let state = store.load_state().await.expect("load");
        assert_eq!(state.settings, Some(settings));

        // An entry with no other change (a failed login: no actor).
        let mut failed = entry("aud_3", 300, None, "login.failed", "mallory");
        failed.target_type = "user".into();
        failed.client_addr = Some("198.51.100.9".into());
        store.append_audit(&[failed.clone()]).await.expect("append");
        store.append_audit(&[]).await.expect("append nothing");
        let page = store.audit_page(&filter(10)).await.expect("page");
        assert_eq!(page.items, vec![failed, changed]);

        // A changeset of audit entries alone is not empty, and extends keep them.
        let mut a = Changeset::default();
        assert!(a.is_empty());
        a.extend(Changeset {
            audit: vec![entry("aud_4", 400, Some("s1"), "queue.created", "q1")],
            ..Changeset::default()
        });
        assert!(!a.is_empty());
        store.commit(&a).await.expect("audit alone");
        assert_eq!(
            ids(&store, &filter(10)).await,
            vec!["aud_4", "aud_3", "aud_1"]
        );
    })
    .await;
}

#[tokio::test]
async fn filters_match_time_actor_action_and_target() {
    each_store("audit", |store| async move {
        let log = vec![
            entry("aud_1", 1_000, Some("s1"), "queue.created", "q1"),
            entry("aud_2", 2_000, Some("s1"), "queue.updated", "q1"),
            entry("aud_3", 3_000, Some("s2"), "queues.reordered", "all"),
            entry("aud_4", 4_000, Some("s2"), "agent.updated", "a1"),
            entry("aud_5", 5_000, Some("s1"), "queue.deleted", "q2"),
            entry("aud_6", 6_000, None, "login.failed", "a1"),
            entry("aud_7", 7_000, Some("s2"), "queue", "q3"),
        ];
        store.append_audit(&log).await.expect("append");

        let all = ids(&store, &filter(100)).await;
        assert_eq!(
            all,
            vec!["aud_7", "aud_6", "aud_5", "aud_4", "aud_3", "aud_2", "aud_1"]
        );
        let f = AuditFilter {
            from: Some(Timestamp(2_000)),
            to: Some(Timestamp(5_000)),
            ..filter(100)
        };
        assert_eq!(
            ids(&store, &f).await,
            vec!["aud_4", "aud_3", "aud_2"],
            "from is inclusive, to exclusive"
        );
        let f = AuditFilter {
            actor_id: Some("s1".into()),
            ..filter(100)
        };
        assert_eq!(ids(&store, &f).await, vec!["aud_5", "aud_2", "aud_1"]);
        let f = AuditFilter {
            action: Some("queue.updated".into()),
            ..filter(100)
        };
        assert_eq!(ids(&store, &f).await, vec!["aud_2"], "exact");
        let f = AuditFilter {
            action: Some("queue.".into()),
            ..filter(100)
        };
        assert_eq!(
            ids(&store, &f).await,
            vec!["aud_5", "aud_2", "aud_1"],
            "a prefix ending with a dot: not `queues.reordered`, not `queue`"
        );
        let f = AuditFilter {
            action: Some("queue".into()),
            ..filter(100)
        };
        assert_eq!(ids(&store, &f).await, vec!["aud_7"], "no dot: exact");
        let f = AuditFilter {
            action: Some("%.".into()),
            ..filter(100)
        };
        assert!(ids(&store, &f).await.is_empty(), "no pattern characters");
        let f = AuditFilter {
            target_id: Some("a1".into()),
            ..filter(100)
        };
        assert_eq!(ids(&store, &f).await, vec!["aud_6", "aud_4"]);
        let f = AuditFilter {
            actor_id: Some("s1".into()),
            action: Some("queue.".into()),
            target_id: Some("q1".into()),
            from: Some(Timestamp(1_500)),
            ..filter(100)
        };
        assert_eq!(ids(&store, &f).await, vec!["aud_2"], "all together");
        assert!(ids(&store, &filter(0)).await.is_empty());
        assert!(ids(&store, &filter(-5)).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn pages_through_equal_timestamps_without_skipping_or_repeating() {
    each_store("audit", |store| async move {
        // 23 entries over 4 distinct times, inserted out of order.
        let mut log = Vec::new();
        for n in [
            17, 3, 22, 0, 9, 11, 5, 20, 1, 14, 8, 19, 2, 6, 21, 13, 4, 16, 10, 7, 12, 18, 15,
        ] {
            let at = 1_000 + (n / 6) * 10;
            log.push(entry(
                &format!("aud_{n:02}"),
                at,
                Some("s1"),
                "agent.updated",
                "a1",
            ));
        }
        store.append_audit(&log).await.expect("append");

        let mut expected: Vec<(i64, String)> = log.iter().map(|r| (r.at.0, r.id.clone())).collect();
        expected.sort();
        expected.reverse();

        for limit in [1, 4, 5, 6, 7, 23, 24] {
            let mut seen: Vec<(i64, String)> = Vec::new();
            let mut f = filter(limit);
            let mut pages = 0;
            loop {
                let page = store.audit_page(&f).await.expect("page");
                pages += 1;
                assert!(page.items.len() as i64 <= limit);
                seen.extend(page.items.iter().map(|r| (r.at.0, r.id.clone())));
                match page.next {
                    Some(next) => {
                        // The cursor survives the trip through the API as a string.
                        let text = next.encode();
                        f.before = Some(AuditCursor::parse(&text).expect("cursor"));
                        assert_eq!(page.items.len() as i64, limit, "only a full page has more");
                    }
                    None => break,
                }
                assert!(pages <= 24, "paging does not end");
            }
            assert_eq!(seen, expected, "limit {limit}");
        }

        // Entries added meanwhile (newer) do not shift an older page.
        let first = store.audit_page(&filter(5)).await.expect("page");
        store
            .append_audit(&[entry("aud_99", 1_040, Some("s1"), "agent.updated", "a1")])
            .await
            .expect("append");
        let second = store
            .audit_page(&AuditFilter {
                before: first.next.clone(),
                ..filter(5)
            })
            .await
            .expect("page");
        let second: Vec<String> = second.items.into_iter().map(|r| r.id).collect();
        let want: Vec<String> = expected[5..10].iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(second, want);
    })
    .await;
}

#[tokio::test]
async fn prune_deletes_entries_older_than_the_retention() {
    each_store("audit", |store| async move {
        let log = vec![
            entry("aud_1", 1_000, Some("s1"), "queue.created", "q1"),
            entry("aud_2", 1_999, Some("s1"), "queue.updated", "q1"),
            entry("aud_3", 2_000, Some("s1"), "queue.updated", "q1"),
            entry("aud_4", 3_000, Some("s1"), "queue.deleted", "q1"),
        ];
        store.append_audit(&log).await.expect("append");
        assert_eq!(store.prune_audit(Timestamp(2_000)).await.expect("prune"), 2);
        assert_eq!(ids(&store, &filter(10)).await, vec!["aud_4", "aud_3"]);
        assert_eq!(store.prune_audit(Timestamp(2_000)).await.expect("prune"), 0);
    })
    .await;
}
