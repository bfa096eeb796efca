//! The store's behaviour on both backends.
//!
//! Every scenario runs on a fresh SQLite file, and on a fresh PostgreSQL schema when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`).

use serde_json::json;
use switchboard_domain::model::{
    Agent, AgentId, ConversationId, Interaction, InteractionId, InteractionState, Participant,
    ParticipantRole, ParticipantState, Presence, Queue, QueueId, Role, Settings, Timestamp,
};
use switchboard_store::{
    Changeset, ConversationRecord, CrmEventRecord, CrmEventUpdate, EventRecord, InteractionFilter,
    MessageRecord, MessageStatusUpdate, NoteRecord, SearchScope, Store, StoreError,
};

mod common;
use common::{each_backend, interaction, random_hex};

// ------------------------------------------------------------------------------------ fixtures

fn agent(id: &str) -> Agent {
    common::agent(id, Role::Agent)
}

async fn create_agent(store: &Store, id: &str) -> Agent {
    let a = agent(id);
    store
        .create_user(&a, &format!("user-{id}"), "hash", Timestamp(1_000))
        .await
        .expect("create user");
    a
}

fn participant(agent: &str, joined_at: i64) -> Participant {
    Participant {
        agent_id: AgentId::from(agent),
        role: ParticipantRole::Owner,
        state: ParticipantState::Active,
        joined_at: Timestamp(joined_at),
        left_at: None,
        wrap_up_deadline: None,
        disposition_code: None,
        wrap_up_note: None,
        wrapped_up_at: None,
    }
}

fn message(
    id: &str,
    conversation: &str,
    interaction: Option<&str>,
    wa: Option<&str>,
) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        conversation_id: ConversationId::from(conversation),
        interaction_id: interaction.map(InteractionId::from),
        direction: "in".into(),
        author_id: None,
        kind: "text".into(),
        body: Some(format!("body of {id}")),
        payload: json!({ "text": { "body": id } }),
        wa_message_id: wa.map(str::to_owned),
        status: "received".into(),
        error: None,
        created_at: Timestamp(10),
        updated_at: Timestamp(10),
    }
}

fn event(user: &str, seq: i64, created_at: i64) -> EventRecord {
    EventRecord {
        user_id: AgentId::from(user),
        seq,
        kind: "presence".into(),
        data: json!({ "seq": seq }),
        created_at: Timestamp(created_at),
    }
}

fn conversation(id: &str) -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::from(id),
        channel_id: None,
        wa_id: "4915112345678".into(),
        customer_name: None,
        contact_id: None,
        last_inbound_at: None,
        last_agent_id: None,
        created_at: Timestamp(100),
    }
}

fn ids(interactions: &[Interaction]) -> Vec<&str> {
    interactions.iter().map(|i| i.id.as_str()).collect()
}

fn message_ids(messages: &[MessageRecord]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

// ------------------------------------------------------------------------------------ tests

#[tokio::test]
async fn migrations_are_idempotent_and_data_survives_reopening() {
    each_backend("store", |db| async move {
        db.store.ping().await.expect("ping");
        create_agent(&db.store, "a1").await;
        db.store.close().await;

        // A second connect finds the migrations applied; re-running them would fail on
        // CREATE TABLE users.
        let again = db.reopen().await;
        let third = db.reopen().await;
        third.ping().await.expect("ping");
        assert_eq!(again.count_users().await.expect("count"), 1);
        assert!(again.user(&"a1".into()).await.expect("user").is_some());
        again.close().await;
        third.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_numbers_dollar_placeholders_by_first_appearance() {
    // The whole store relies on this: `$1, $2` bind positionally on SQLite as on PostgreSQL,
    // and a repeated `$1` reuses the first value.
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("memory pool");
    let row = sqlx::query("SELECT $1 AS a, $2 AS b, $1 AS c, $3 AS d")
        .bind("x")
        .bind("y")
        .bind(3_i64)
        .fetch_one(&pool)
        .await
        .expect("query");
    use sqlx::Row;
    assert_eq!(row.get::<String, _>("a"), "x");
    assert_eq!(row.get::<String, _>("b"), "y");
    assert_eq!(row.get::<String, _>("c"), "x");
    assert_eq!(row.get::<i64, _>("d"), 3);
    pool.close().await;

    // An in-memory store works too (tests only).
    let store = Store::connect("sqlite::memory:")
        .await
        .expect("memory store");
    create_agent(&store, "a1").await;
    assert_eq!(store.count_users().await.expect("count"), 1);
    store.close().await;
}

#[tokio::test]
async fn sqlite_creates_missing_directories() {
    let dir = std::env::temp_dir().join(format!("switchboard-store-dir-{}", random_hex()));
    let url = format!("sqlite://{}", dir.join("nested/db.sqlite").display());
    let store = Store::connect(&url).await.expect("connect");
    store.ping().await.expect("ping");
    store.close().await;
    assert!(dir.join("nested/db.sqlite").exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn connect_rejects_unknown_schemes() {
    assert!(Store::connect("mysql://localhost/x").await.is_err());
    assert!(Store::connect_in_schema("sqlite://x.db", "s")
        .await
        .is_err());
}

#[tokio::test]
async fn users_are_created_looked_up_and_hidden_when_deleted() {
    each_backend("store", |db| async move {
        let store = &db.store;
        assert_eq!(store.count_users().await.expect("count"), 0);
        let mut admin = agent("a1");
        admin.role = Role::Admin;
        admin.queue_ids = vec![QueueId::from("q1"), QueueId::from("q2")];
        store
            .create_user(&admin, "alice", "hash-1", Timestamp(5))
            .await
            .expect("create");
        create_agent(store, "a2").await;

        let taken = store
            .create_user(&agent("a3"), "alice", "h", Timestamp(6))
            .await;
        assert!(
            matches!(taken, Err(StoreError::Conflict(ref m)) if m.contains("alice")),
            "{taken:?}"
        );
        let same_id = store
            .create_user(&agent("a1"), "someone-else", "h", Timestamp(6))
            .await;
        assert!(
            matches!(same_id, Err(StoreError::Conflict(_))),
            "{same_id:?}"
        );

        let alice = store
            .user_by_username("alice")
            .await
            .expect("lookup")
            .expect("alice exists");
        assert_eq!(alice.id, AgentId::from("a1"));
        assert_eq!(alice.role, Role::Admin);
        assert_eq!(alice.password_hash, "hash-1");
        assert_eq!(alice.created_at, Timestamp(5));
        assert!(!alice.deleted);
        assert!(store
            .user_by_username("nobody")
            .await
            .expect("lookup")
            .is_none());

        store
            .set_password(&"a1".into(), "hash-2")
            .await
            .expect("set password");
        let alice = store
            .user(&"a1".into())
            .await
            .expect("user")
            .expect("exists");
        assert_eq!(alice.password_hash, "hash-2");
        assert!(matches!(
            store.set_password(&"ghost".into(), "x").await,
            Err(StoreError::NotFound)
        ));

        let names: Vec<String> = store
            .list_users()
            .await
            .expect("list")
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["alice", "user-a2"]);
        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents, vec![admin, agent("a2")]);

        // Delete a2.
        store
            .commit(&Changeset {
                deleted_agents: vec!["a2".into()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert_eq!(store.count_users().await.expect("count"), 1);
        assert!(store
            .user_by_username("user-a2")
            .await
            .expect("lookup")
            .is_none());
        let a2 = store
            .user(&"a2".into())
            .await
            .expect("user")
            .expect("still stored");
        assert!(a2.deleted);
        assert_eq!(store.list_users().await.expect("list").len(), 1);
        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents.len(), 1);
        // A deleted user's username stays taken.
        let reuse = store
            .create_user(&agent("a9"), "user-a2", "h", Timestamp(7))
            .await;
        assert!(matches!(reuse, Err(StoreError::Conflict(_))), "{reuse:?}");
    })
    .await;
}

#[tokio::test]
async fn sessions_resolve_to_live_users_only() {
    each_backend("store", |db| async move {
        let store = &db.store;
        create_agent(store, "a1").await;
        create_agent(store, "a2").await;
        let a1 = AgentId::from("a1");
        let a2 = AgentId::from("a2");
        store
            .create_session("t1", &a1, Timestamp(10), Timestamp(1_000))
            .await
            .expect("session");
        store
            .create_session("t2", &a1, Timestamp(10), Timestamp(2_000))
            .await
            .expect("session");
        store
            .create_session("t3", &a2, Timestamp(10), Timestamp(3_000))
            .await
            .expect("session");
        assert!(matches!(
            store
                .create_session("t1", &a1, Timestamp(10), Timestamp(1_000))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .create_session("t4", &"ghost".into(), Timestamp(10), Timestamp(1_000))
                .await,
            Err(StoreError::NotFound)
        ));

        assert_eq!(
            store.session("t1").await.expect("session"),
            Some((a1.clone(), Timestamp(1_000)))
        );
        assert_eq!(store.session("nope").await.expect("session"), None);

        store.delete_session("t1").await.expect("delete");
        assert_eq!(store.session("t1").await.expect("session"), None);
        assert!(store.session("t2").await.expect("session").is_some());

        store.delete_sessions_of(&a1).await.expect("delete all");
        assert_eq!(store.session("t2").await.expect("session"), None);

        // Deleting a user removes their sessions.
        store
            .commit(&Changeset {
                deleted_agents: vec![a2.clone()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert_eq!(store.session("t3").await.expect("session"), None);
    })
    .await;
}

#[tokio::test]
async fn committed_state_loads_back() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let empty = store.load_state().await.expect("load");
        assert!(empty.agents.is_empty() && empty.queues.is_empty());
        assert!(empty.interactions.is_empty() && empty.settings.is_none());
        assert!(empty.event_seqs.is_empty());
        store
            .commit(&Changeset::default())
            .await
            .expect("empty commit");

        create_agent(store, "a1").await;
        create_agent(store, "a2").await;
        let mut a1 = agent("a1");
        a1.presence = Presence::OnBreak;
        a1.break_reason = Some("Lunch".into());
        a1.capacity = 5;
        a1.can_reject = true;
        a1.stop_new = true;
        a1.queue_ids = vec!["q1".into()];
        a1.presence_since = Timestamp(2_000);
        a1.last_idle_at = Timestamp(2_500);
        a1.disconnected_since = Some(Timestamp(3_000));
        a1.display_name = "Alice".into();
        a1.role = Role::Supervisor;

        let mut q1 = Queue::new("q1".into(), "Sales");
        q1.rr_last = Some("a1".into());
        let q2 = Queue::new("q2".into(), "Support");

        let queued = interaction("i1", InteractionState::Queued, "q1", 100);
        let mut active = interaction("i2", InteractionState::Active, "q1", 200);
        active.owner_id = Some("a1".into());
        active.accepted_at = Some(Timestamp(250));
        active.participants = vec![participant("a1", 250)];
        let mut done = interaction("i3", InteractionState::Done, "q2", 300);
        done.ended_at = Some(Timestamp(400));

        let settings = Settings {
            max_text_message_size: 1000,
            break_reasons: vec!["Nap".into()],
            ..Settings::default()
        };

        let mut changes = Changeset {
            agents: vec![a1.clone()],
            queues: vec![q1.clone(), q2.clone()],
            ..Default::default()
        };
        assert!(!changes.is_empty());
        changes.extend(Changeset {
            interactions: vec![queued.clone(), active.clone(), done.clone()],
            settings: Some(settings.clone()),
            ..Default::default()
        });
        store.commit(&changes).await.expect("commit");

        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents, vec![a1.clone(), agent("a2")]);
        assert_eq!(state.queues, vec![q1.clone(), q2.clone()]);
        assert_eq!(state.interactions, vec![queued.clone(), active.clone()]);
        assert_eq!(state.settings, Some(settings));
        assert_eq!(
            store.interaction(&"i3".into()).await.expect("get"),
            Some(done.clone())
        );
        assert_eq!(store.interaction(&"nope".into()).await.expect("get"), None);

        // Upserts replace, deletions hide, the agent update leaves login data alone.
        let mut q1b = q1.clone();
        q1b.name = "Sales EU".into();
        q1b.priority = 7;
        let mut queued_now_done = queued.clone();
        queued_now_done.state = InteractionState::Done;
        a1.presence = Presence::Available;
        a1.break_reason = None;
        a1.disconnected_since = None;
        store
            .commit(&Changeset {
                agents: vec![a1.clone()],
                queues: vec![q1b.clone()],
                deleted_queues: vec!["q2".into()],
                interactions: vec![queued_now_done],
                settings: Some(Settings::default()),
                ..Default::default()
            })
            .await
            .expect("commit");
        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents[0], a1);
        assert_eq!(state.queues, vec![q1b]);
        assert_eq!(ids(&state.interactions), ["i2"]);
        assert_eq!(state.settings, Some(Settings::default()));
        let user = store
            .user_by_username("user-a1")
            .await
            .expect("user")
            .expect("exists");
        assert_eq!(user.password_hash, "hash");
        assert_eq!(user.role, Role::Supervisor);

        // An agent without a user row is skipped, not an error.
        store
            .commit(&Changeset {
                agents: vec![agent("ghost")],
                ..Default::default()
            })
            .await
            .expect("commit ghost");
        assert!(store.user(&"ghost".into()).await.expect("user").is_none());
    })
    .await;
}

#[tokio::test]
async fn participants_are_remembered_and_filter_listings() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let mut i1 = interaction("i1", InteractionState::Active, "q1", 100);
        i1.participants = vec![participant("a1", 110)];
        let mut i2 = interaction("i2", InteractionState::WrapUp, "q2", 200);
        i2.participants = vec![participant("a2", 210)];
        let i3 = interaction("i3", InteractionState::Queued, "q1", 300);
        let i4 = interaction("i4", InteractionState::Queued, "q1", 400);
        store
            .commit(&Changeset {
                interactions: vec![i1.clone(), i2.clone(), i3, i4],
                ..Default::default()
            })
            .await
            .expect("commit");

        // a1 leaves i1 (transfer to a2): the participant rows keep a1.
        i1.participants = vec![participant("a2", 150)];
        store
            .commit(&Changeset {
                interactions: vec![i1.clone()],
                ..Default::default()
            })
            .await
            .expect("commit");
        let (a1, a2, a3) = (
            AgentId::from("a1"),
            AgentId::from("a2"),
            AgentId::from("a3"),
        );
        let i1_id = InteractionId::from("i1");
        assert!(store.was_participant(&i1_id, &a1).await.expect("query"));
        assert!(store.was_participant(&i1_id, &a2).await.expect("query"));
        assert!(!store.was_participant(&i1_id, &a3).await.expect("query"));
        assert!(!store
            .was_participant(&"i2".into(), &a1)
            .await
            .expect("query"));

        let list = |filter: InteractionFilter| async move {
            store.list_interactions(&filter).await.expect("list")
        };
        let all = InteractionFilter {
            limit: 100,
            ..Default::default()
        };
        assert_eq!(ids(&list(all.clone()).await), ["i4", "i3", "i2", "i1"]);
        assert_eq!(
            ids(&list(InteractionFilter {
                limit: 2,
                ..all.clone()
            })
            .await),
            ["i4", "i3"]
        );
        assert_eq!(
            ids(&list(InteractionFilter {
                before_created: Some(Timestamp(300)),
                ..all.clone()
            })
            .await),
            ["i2", "i1"]
        );
        assert_eq!(
            ids(&list(InteractionFilter {
                queue_id: Some("q1".into()),
                state: Some(InteractionState::Queued),
                ..all.clone()
            })
            .await),
            ["i4", "i3"]
        );
        assert_eq!(
            ids(&list(InteractionFilter {
                agent_id: Some(a2.clone()),
                ..all.clone()
            })
            .await),
            ["i2", "i1"]
        );
        assert_eq!(
            ids(&list(InteractionFilter {
                state: Some(InteractionState::Active),
                queue_id: Some("q1".into()),
                agent_id: Some(a1.clone()),
                before_created: Some(Timestamp(101)),
                limit: 10,
                ..Default::default()
            })
            .await),
            ["i1"]
        );
        assert!(list(InteractionFilter { limit: 0, ..all }).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn messages_dedupe_page_backwards_and_update_status() {
    each_backend("store", |db| async move {
        let store = &db.store;
        // Ids sort bytewise ("m-B" < "ma" even where a locale would say otherwise).
        let originals = vec![
            message("m1", "c1", Some("i1"), Some("wamid.1")),
            message("m2", "c1", Some("i1"), None),
            message("m3", "c1", None, None),
            message("m4", "c1", Some("i1"), Some("wamid.4")),
            message("m5-B", "c1", Some("i1"), None),
            message("m5a", "c1", Some("i1"), None),
            message("x1", "c2", Some("i2"), None),
        ];
        store
            .commit(&Changeset {
                messages: originals.clone(),
                ..Default::default()
            })
            .await
            .expect("commit");

        // A redelivered webhook: same WhatsApp id under a new id, and the same id again.
        let mut redelivered = message("m9", "c1", Some("i1"), Some("wamid.1"));
        redelivered.body = Some("changed".into());
        let mut same_id = message("m2", "c1", Some("i1"), Some("wamid.new"));
        same_id.body = Some("changed".into());
        store
            .commit(&Changeset {
                messages: vec![redelivered, same_id],
                ..Default::default()
            })
            .await
            .expect("commit duplicates");
        assert_eq!(store.message("m9").await.expect("get"), None);
        assert_eq!(
            store.message_by_wa_id("wamid.1").await.expect("get"),
            Some(originals[0].clone())
        );
        assert_eq!(
            store.message("m2").await.expect("get"),
            Some(originals[1].clone())
        );
        assert_eq!(
            store.message_by_wa_id("wamid.new").await.expect("get"),
            None
        );

        let i1 = InteractionId::from("i1");
        let page = store
            .messages_of_interaction(&i1, None, 2)
            .await
            .expect("page");
        assert_eq!(message_ids(&page), ["m5-B", "m5a"]);
        assert_eq!(page[0], originals[4]);
        let page = store
            .messages_of_interaction(&i1, Some("m5-B"), 2)
            .await
            .expect("page");
        assert_eq!(message_ids(&page), ["m2", "m4"]);
        let page = store
            .messages_of_interaction(&i1, Some("m2"), 2)
            .await
            .expect("page");
        assert_eq!(message_ids(&page), ["m1"]);
        let page = store
            .messages_of_interaction(&i1, Some("m1"), 2)
            .await
            .expect("page");
        assert!(page.is_empty());

        let c1 = ConversationId::from("c1");
        let page = store
            .messages_of_conversation(&c1, None, 100)
            .await
            .expect("page");
        assert_eq!(message_ids(&page), ["m1", "m2", "m3", "m4", "m5-B", "m5a"]);
        let page = store
            .messages_of_conversation(&c1, Some("m4"), 2)
            .await
            .expect("page");
        assert_eq!(message_ids(&page), ["m2", "m3"]);

        // Delivery status updates.
        let error = json!({ "code": 131047, "title": "Re-engagement message" });
        store
            .commit(&Changeset {
                message_updates: vec![
                    MessageStatusUpdate {
                        id: "m4".into(),
                        status: "failed".into(),
                        error: Some(error.clone()),
                        wa_message_id: None,
                        payload: None,
                        updated_at: Timestamp(99),
                    },
                    MessageStatusUpdate {
                        id: "m2".into(),
                        status: "read".into(),
                        error: None,
                        wa_message_id: None,
                        payload: None,
                        updated_at: Timestamp(98),
                    },
                ],
                ..Default::default()
            })
            .await
            .expect("commit updates");
        let m4 = store
            .message_by_wa_id("wamid.4")
            .await
            .expect("get")
            .expect("m4");
        assert_eq!(m4.status, "failed");
        assert_eq!(m4.error, Some(error));
        assert_eq!(m4.updated_at, Timestamp(99));
        assert_eq!(m4.created_at, Timestamp(10));
        assert_eq!(m4.body.as_deref(), Some("body of m4"));
        let m2 = store.message("m2").await.expect("get").expect("m2");
        assert_eq!((m2.status.as_str(), m2.error), ("read", None));
    })
    .await;
}

#[tokio::test]
async fn notes_list_in_order() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let note = |id: &str, at: i64| NoteRecord {
            id: id.into(),
            interaction_id: "i1".into(),
            author_id: "a1".into(),
            body: format!("note {id}"),
            created_at: Timestamp(at),
        };
        let mut other = note("n9", 1);
        other.interaction_id = "i2".into();
        store
            .commit(&Changeset {
                notes: vec![note("n2", 20), note("n1", 10), other],
                ..Default::default()
            })
            .await
            .expect("commit");
        let notes = store.notes_of(&"i1".into()).await.expect("notes");
        assert_eq!(notes, vec![note("n1", 10), note("n2", 20)]);
        assert!(store
            .notes_of(&"i3".into())
            .await
            .expect("notes")
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn events_replay_and_prune() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let u1 = AgentId::from("u1");
        let u2 = AgentId::from("u2");
        // One counter for every stream, in commit order.
        let events: Vec<EventRecord> = [
            ("u1", 1, 1_000),
            ("u2", 2, 1_000),
            ("u1", 3, 2_000),
            ("u2", 4, 2_000),
            ("u1", 5, 3_000),
            ("u1", 6, 4_000),
            ("u1", 7, 5_000),
        ]
        .into_iter()
        .map(|(u, s, t)| event(u, s, t))
        .collect();
        store
            .commit(&Changeset {
                events: events.clone(),
                ..Default::default()
            })
            .await
            .expect("commit");

        let since = store.events_since(&u1, 3, 10).await.expect("since");
        assert_eq!(since, events[4..7].to_vec());
        let since = store.events_since(&u1, 3, 2).await.expect("since");
        assert_eq!(since.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6]);
        assert!(store
            .events_since(&u1, 7, 10)
            .await
            .expect("since")
            .is_empty());
        // A reader of two streams gets them merged in one order.
        let merged = store
            .encoded_events_of_streams(&[u1.clone(), u2.clone()], 1, 4)
            .await
            .expect("streams");
        assert_eq!(
            merged
                .iter()
                .map(|e| (e.user_id.as_str(), e.seq))
                .collect::<Vec<_>>(),
            [("u2", 2), ("u1", 3), ("u2", 4), ("u1", 5)]
        );
        assert_eq!(store.min_event_seq(&u1).await.expect("min"), Some(1));
        assert_eq!(store.min_event_seq(&"u3".into()).await.expect("min"), None);
        assert_eq!(store.min_event_seq_any().await.expect("min"), Some(1));
        let state = store.load_state().await.expect("load");
        assert_eq!(state.event_seqs, vec![(u1.clone(), 7), (u2.clone(), 4)]);

        // Older than 3.5 s: 1 ..= 5 go.
        assert_eq!(
            store.prune_events(Timestamp(3_500)).await.expect("prune"),
            5
        );
        assert_eq!(store.min_event_seq(&u1).await.expect("min"), Some(6));
        assert_eq!(store.min_event_seq(&u2).await.expect("min"), None);
        assert_eq!(store.min_event_seq_any().await.expect("min"), Some(6));
        // Pruning everything still keeps the newest event of all, so numbering survives.
        assert_eq!(
            store
                .prune_events(Timestamp(i64::MAX))
                .await
                .expect("prune"),
            1
        );
        assert_eq!(store.min_event_seq_any().await.expect("min"), Some(7));
        let state = store.load_state().await.expect("load");
        assert_eq!(state.event_seqs, vec![(u1, 7)]);
    })
    .await;
}

#[tokio::test]
async fn conversations_upsert_without_losing_known_fields() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let id = ConversationId::from("c1");
        let mut first = conversation("c1");
        first.customer_name = Some("Ann".into());
        first.last_inbound_at = Some(Timestamp(100));
        store
            .commit(&Changeset {
                conversations: vec![first.clone()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert_eq!(
            store.conversation(&id).await.expect("get"),
            Some(first.clone())
        );

        let mut older = conversation("c1");
        older.contact_id = Some("k1".into());
        older.channel_id = Some("chan".into());
        older.last_inbound_at = Some(Timestamp(50));
        older.last_agent_id = Some("a1".into());
        older.created_at = Timestamp(999);
        store
            .commit(&Changeset {
                conversations: vec![older],
                ..Default::default()
            })
            .await
            .expect("commit");
        let got = store.conversation(&id).await.expect("get").expect("c1");
        assert_eq!(got.customer_name.as_deref(), Some("Ann"));
        assert_eq!(got.contact_id.as_deref(), Some("k1"));
        assert_eq!(got.channel_id.as_deref(), Some("chan"));
        assert_eq!(got.last_inbound_at, Some(Timestamp(100)));
        assert_eq!(got.last_agent_id, Some(AgentId::from("a1")));
        assert_eq!(got.created_at, Timestamp(100));

        let mut newer = conversation("c1");
        newer.customer_name = Some("Bob".into());
        newer.last_inbound_at = Some(Timestamp(200));
        newer.last_agent_id = Some("a2".into());
        let mut silent = conversation("c1");
        silent.last_inbound_at = None;
        store
            .commit(&Changeset {
                conversations: vec![newer, silent],
                ..Default::default()
            })
            .await
            .expect("commit");
        let got = store.conversation(&id).await.expect("get").expect("c1");
        assert_eq!(got.customer_name.as_deref(), Some("Bob"));
        assert_eq!(got.contact_id.as_deref(), Some("k1"));
        assert_eq!(got.last_inbound_at, Some(Timestamp(200)));
        assert_eq!(got.last_agent_id, Some(AgentId::from("a2")));
        assert_eq!(store.conversation(&"c9".into()).await.expect("get"), None);
        let found = store
            .conversations_by_ids(&["c1".into(), "c9".into()])
            .await
            .expect("by ids");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].last_agent_id, Some(AgentId::from("a2")));
    })
    .await;
}

#[tokio::test]
async fn a_failed_commit_applies_nothing() {
    each_backend("store", |db| async move {
        let store = &db.store;
        create_agent(store, "a1").await;
        store
            .create_session("tok", &"a1".into(), Timestamp(1), Timestamp(9_999))
            .await
            .expect("session");
        let mut busy = agent("a1");
        busy.presence = Presence::Available;
        let mut active = interaction("i1", InteractionState::Active, "q1", 100);
        active.participants = vec![participant("a1", 110)];
        let mut conv = conversation("c1");
        conv.customer_name = Some("Ann".into());
        let poisoned = Changeset {
            agents: vec![busy],
            deleted_agents: vec![],
            queues: vec![Queue::new("q1".into(), "Sales")],
            deleted_queues: vec![],
            interactions: vec![active],
            conversations: vec![conv],
            messages: vec![message("m1", "c1", Some("i1"), Some("wamid.1"))],
            message_updates: vec![],
            notes: vec![NoteRecord {
                id: "n1".into(),
                interaction_id: "i1".into(),
                author_id: "a1".into(),
                body: "hi".into(),
                created_at: Timestamp(5),
            }],
            // The same (user_id, seq) twice: the last statement of the commit fails.
            events: vec![event("a1", 1, 10), event("a1", 1, 11)],
            settings: Some(Settings::default()),
            ..Default::default()
        };
        let result = store.commit(&poisoned).await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents, vec![agent("a1")]);
        assert!(state.queues.is_empty());
        assert!(state.interactions.is_empty());
        assert!(state.settings.is_none());
        assert!(state.event_seqs.is_empty());
        assert_eq!(store.interaction(&"i1".into()).await.expect("get"), None);
        assert!(!store
            .was_participant(&"i1".into(), &"a1".into())
            .await
            .expect("query"));
        assert_eq!(store.conversation(&"c1".into()).await.expect("get"), None);
        assert_eq!(store.message("m1").await.expect("get"), None);
        assert!(store
            .notes_of(&"i1".into())
            .await
            .expect("notes")
            .is_empty());
        assert!(store
            .events_since(&"a1".into(), 0, 10)
            .await
            .expect("events")
            .is_empty());

        // A failed deletion leaves the user and their session.
        let result = store
            .commit(&Changeset {
                deleted_agents: vec!["a1".into()],
                events: vec![event("a1", 7, 1), event("a1", 7, 1)],
                ..Default::default()
            })
            .await;
        assert!(result.is_err());
        assert!(store
            .user_by_username("user-a1")
            .await
            .expect("user")
            .is_some());
        assert!(store.session("tok").await.expect("session").is_some());

        // The store is still usable, and the same changeset minus the duplicate commits.
        let mut fixed = poisoned.clone();
        fixed.events.pop();
        store.commit(&fixed).await.expect("commit");
        let state = store.load_state().await.expect("load");
        assert_eq!(state.agents[0].presence, Presence::Available);
        assert_eq!(ids(&state.interactions), ["i1"]);
        assert_eq!(state.event_seqs, vec![(AgentId::from("a1"), 1)]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_commits_all_land() {
    each_backend("store", |db| async move {
        let store = db.store.clone();
        let mut tasks = Vec::new();
        for worker in 0..8_i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for batch in 0..5_i64 {
                    let events = (0..20)
                        .map(|k| event(&format!("w{worker}"), batch * 20 + k + 1, 1))
                        .collect();
                    store
                        .commit(&Changeset {
                            events,
                            ..Default::default()
                        })
                        .await
                        .expect("commit");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let state = store.load_state().await.expect("load");
        assert_eq!(state.event_seqs.len(), 8);
        assert!(state.event_seqs.iter().all(|(_, seq)| *seq == 100));
    })
    .await;
}

#[tokio::test]
async fn a_batch_with_repeated_rows_and_more_rows_than_a_chunk_lands_whole() {
    each_backend("store", |db| async move {
        let store = &db.store;
        // The same interaction changed three times in one batch: the last value wins.
        let mut v1 = interaction("i1", InteractionState::Queued, "q1", 10);
        let mut v2 = v1.clone();
        v2.state = InteractionState::Offered;
        let mut v3 = v1.clone();
        v3.state = InteractionState::Active;
        v3.participants = vec![participant("a1", 20)];
        v1.unread = 7;
        let events: Vec<EventRecord> = (1..=450).map(|s| event("u1", s, 30)).collect();
        let messages: Vec<MessageRecord> = (0..430)
            .map(|n| message(&format!("m{n:04}"), "conv-i1", Some("i1"), None))
            .collect();
        store
            .commit(&Changeset {
                interactions: vec![v1, v2, v3.clone()],
                events,
                messages,
                ..Default::default()
            })
            .await
            .expect("commit");
        let got = store
            .interaction(&"i1".into())
            .await
            .expect("get")
            .expect("i1");
        assert_eq!(got, v3);
        assert!(store
            .was_participant(&"i1".into(), &"a1".into())
            .await
            .expect("p"));
        let replay = store
            .events_since(&"u1".into(), 0, 1000)
            .await
            .expect("events");
        assert_eq!(replay.len(), 450);
        assert_eq!(replay.last().map(|e| e.seq), Some(450));
        let page = store
            .messages_of_interaction(&"i1".into(), None, 1000)
            .await
            .expect("messages");
        assert_eq!(page.len(), 430);
    })
    .await;
}

fn channel(id: &str, pnid: &str) -> switchboard_store::ChannelRecord {
    switchboard_store::ChannelRecord {
        id: id.into(),
        kind: "whatsapp".into(),
        phone_number_id: pnid.into(),
        display_phone_number: "15550001".into(),
        waba_id: Some("waba".into()),
        access_token: "token-secret".into(),
        app_secret: "app-secret".into(),
        verify_token: "verify".into(),
        queue_id: QueueId::from("q1"),
        created_at: Timestamp(5),
    }
}

#[tokio::test]
async fn channels_outbox_and_early_statuses() {
    each_backend("store", |db| async move {
        let store = &db.store;
        // Channels: one live channel per number id; deleting frees the number.
        store
            .upsert_channel(&channel("ch1", "111"))
            .await
            .expect("create");
        let err = store
            .upsert_channel(&channel("ch2", "111"))
            .await
            .expect_err("same number");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let mut changed = channel("ch1", "111");
        changed.display_phone_number = "15550002".into();
        store.upsert_channel(&changed).await.expect("update");
        assert_eq!(store.channels().await.expect("list"), vec![changed]);
        assert!(!format!("{:?}", store.channels().await.expect("list")).contains("secret"));
        store.delete_channel("ch1").await.expect("delete");
        assert!(matches!(
            store.delete_channel("ch1").await,
            Err(StoreError::NotFound)
        ));
        store
            .upsert_channel(&channel("ch2", "111"))
            .await
            .expect("number free again");

        // Outbox: inserted with its message, due by time, updated by attempts.
        let mut m = message("m1", "c1", Some("i1"), None);
        m.direction = "out".into();
        m.status = "queued".into();
        let row = switchboard_store::OutboxRecord {
            message_id: "m1".into(),
            channel_id: "ch2".into(),
            recipient: "4915".into(),
            request: json!({"type": "text", "text": {"body": "hi"}}),
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: Timestamp(100),
            last_error: None,
            created_at: Timestamp(100),
        };
        store
            .commit(&Changeset {
                messages: vec![m],
                outbox: vec![row.clone()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert!(store
            .due_outbox(Timestamp(99), 10)
            .await
            .expect("due")
            .is_empty());
        assert_eq!(
            store.due_outbox(Timestamp(100), 10).await.expect("due"),
            vec![row]
        );
        assert_eq!(
            store.next_outbox_at().await.expect("next"),
            Some(Timestamp(100))
        );
        store
            .commit(&Changeset {
                outbox_updates: vec![switchboard_store::OutboxUpdate {
                    message_id: "m1".into(),
                    state: "done".into(),
                    attempts: 1,
                    next_attempt_at: Timestamp(100),
                    last_error: None,
                    updated_at: Timestamp(101),
                }],
                message_updates: vec![MessageStatusUpdate {
                    id: "m1".into(),
                    status: "accepted".into(),
                    error: None,
                    wa_message_id: Some("wamid.1".into()),
                    payload: None,
                    updated_at: Timestamp(101),
                }],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert!(store
            .due_outbox(Timestamp(1000), 10)
            .await
            .expect("due")
            .is_empty());
        assert_eq!(store.next_outbox_at().await.expect("next"), None);
        let got = store
            .messages_by_wa_ids(&["wamid.1".into(), "wamid.x".into()])
            .await
            .expect("by wa");
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].id.as_str(), got[0].status.as_str()),
            ("m1", "accepted")
        );
        assert_eq!(
            got[0].payload,
            json!({ "text": { "body": "m1" } }),
            "payload kept when not given"
        );

        // Early statuses wait for their id, once each, and go when applied.
        let early = switchboard_store::PendingStatus {
            wa_message_id: "wamid.2".into(),
            status: "delivered".into(),
            payload: json!({"status": "delivered"}),
            received_at: Timestamp(7),
        };
        store
            .commit(&Changeset {
                pending_statuses: vec![early.clone(), early.clone()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert_eq!(
            store
                .pending_statuses_for("wamid.2")
                .await
                .expect("pending"),
            vec![early]
        );
        store
            .commit(&Changeset {
                applied_statuses: vec!["wamid.2".into()],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert!(store
            .pending_statuses_for("wamid.2")
            .await
            .expect("pending")
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn pending_media_follows_the_message_payload() {
    each_backend("store", |db| async move {
        let store = &db.store;
        let with_media = |id: &str, state: &str| {
            let mut m = message(id, "c1", Some("i1"), Some(&format!("wamid.{id}")));
            m.kind = "image".into();
            m.payload =
                json!({"content": {"id": format!("media-{id}")}, "media": {"state": state}});
            m
        };
        store
            .commit(&Changeset {
                messages: vec![
                    with_media("m1", "pending"),
                    message("m2", "c1", Some("i1"), None),
                    with_media("m3", "stored"),
                    with_media("m4", "pending"),
                    with_media("m5", "failed"),
                ],
                ..Default::default()
            })
            .await
            .expect("commit");
        let pending = |after: Option<&'static str>, limit| async move {
            store
                .pending_media(after, limit)
                .await
                .expect("pending media")
                .iter()
                .map(|m| m.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pending(None, 10).await, ["m1", "m4"]);
        assert_eq!(pending(None, 1).await, ["m1"]);
        assert_eq!(pending(Some("m1"), 10).await, ["m4"]);
        assert_eq!(
            store.pending_media(None, 10).await.expect("pending")[0],
            with_media("m1", "pending"),
            "the whole message comes back"
        );

        // A new payload moves the state; an update without one (a status) keeps it.
        let update = |id: &str, payload: Option<serde_json::Value>| MessageStatusUpdate {
            id: id.into(),
            status: "received".into(),
            error: None,
            wa_message_id: None,
            payload,
            updated_at: Timestamp(20),
        };
        let stored = json!({"content": {"id": "media-m1"},
            "media": {"state": "stored", "blob": "ab", "mime_type": "image/png", "size": 2}});
        store
            .commit(&Changeset {
                message_updates: vec![update("m1", Some(stored.clone())), update("m4", None)],
                ..Default::default()
            })
            .await
            .expect("commit updates");
        assert_eq!(pending(None, 10).await, ["m4"]);
        let m1 = store.message("m1").await.expect("get").expect("m1");
        assert_eq!(m1.payload, stored);
        // A payload without media clears the state.
        store
            .commit(&Changeset {
                message_updates: vec![update("m4", Some(json!({"note": "no media"})))],
                ..Default::default()
            })
            .await
            .expect("commit");
        assert!(pending(None, 10).await.is_empty());

        // Survives reopening (the column is durable, not derived at read time).
        store
            .commit(&Changeset {
                messages: vec![with_media("m6", "pending")],
                ..Default::default()
            })
            .await
            .expect("commit");
        let again = db.reopen().await;
        assert_eq!(
            message_ids(&again.pending_media(None, 10).await.expect("pending")),
            ["m6"]
        );
        again.close().await;
    })
    .await;
}

fn crm_event(id: &str, at: i64) -> CrmEventRecord {
    CrmEventRecord {
        id: id.into(),
        kind: "contact.created".into(),
        payload: json!({"contact": {"id": id}}),
        body: None,
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: Timestamp(at),
        last_error: None,
        created_at: Timestamp(at),
        delivered_at: None,
    }
}

#[tokio::test]
async fn crm_events_queue_in_commit_order_and_move_between_states() {
    each_backend("store", |db| async move {
        let store = &db.store;
        assert!(store.next_crm_event().await.expect("next").is_none());
        // Commit order, not id or time order, is the order of delivery.
        store
            .commit(&Changeset {
                crm_events: vec![crm_event("e2", 2_000), crm_event("e1", 1_000)],
                ..Default::default()
            })
            .await
            .expect("commit");
        store
            .commit(&Changeset {
                crm_events: vec![crm_event("e0", 500), crm_event("e2", 9_000)],
                ..Default::default()
            })
            .await
            .expect("a repeated id is skipped");
        let head = store.next_crm_event().await.expect("next").expect("head");
        assert_eq!(head.id, "e2");
        assert_eq!(head.payload, json!({"contact": {"id": "e2"}}));
        assert_eq!(head.next_attempt_at, Timestamp(2_000));
        let ids = |v: Vec<CrmEventRecord>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_crm_events(None, 10).await.expect("list")),
            ["e0", "e1", "e2"]
        );

        // The body is set once: a second build keeps the first.
        assert_eq!(
            store
                .set_crm_event_body("e2", "{\"a\":1}")
                .await
                .expect("body"),
            "{\"a\":1}"
        );
        assert_eq!(
            store
                .set_crm_event_body("e2", "{\"b\":2}")
                .await
                .expect("body"),
            "{\"a\":1}"
        );
        assert!(matches!(
            store.set_crm_event_body("nope", "{}").await,
            Err(StoreError::NotFound)
        ));

        // A retry, then dead; a dead event no longer takes updates and is not next.
        let update = |state: &str, attempts: i64| CrmEventUpdate {
            id: "e2".into(),
            state: state.into(),
            attempts,
            next_attempt_at: Timestamp(60_000),
            last_error: Some("HTTP 500".into()),
            delivered_at: None,
            updated_at: Timestamp(3_000),
        };
        assert!(store
            .update_crm_event(&update("pending", 1))
            .await
            .expect("update"));
        let e2 = store.crm_event("e2").await.expect("get").expect("e2");
        assert_eq!((e2.attempts, e2.next_attempt_at), (1, Timestamp(60_000)));
        assert_eq!(e2.body.as_deref(), Some("{\"a\":1}"));
        assert!(store
            .update_crm_event(&update("dead", 2))
            .await
            .expect("update"));
        assert!(!store
            .update_crm_event(&update("pending", 3))
            .await
            .expect("update"));
        assert_eq!(
            store
                .next_crm_event()
                .await
                .expect("next")
                .expect("head")
                .id,
            "e1"
        );
        assert_eq!(
            ids(store.list_crm_events(Some("dead"), 10).await.expect("list")),
            ["e2"]
        );
        assert_eq!(
            store.count_crm_events().await.expect("count"),
            vec![("dead".to_owned(), 1), ("pending".to_owned(), 2)]
        );

        // Back in the queue: first again, fresh attempts, same body, last error kept.
        let revived = store
            .retry_crm_event("e2", Timestamp(4_000))
            .await
            .expect("retry");
        assert_eq!(revived.state, "pending");
        assert_eq!(
            (revived.attempts, revived.next_attempt_at),
            (0, Timestamp(4_000))
        );
        assert_eq!(revived.body.as_deref(), Some("{\"a\":1}"));
        assert_eq!(revived.last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(
            store
                .next_crm_event()
                .await
                .expect("next")
                .expect("head")
                .id,
            "e2"
        );
        assert!(matches!(
            store.retry_crm_event("e2", Timestamp(4_000)).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.retry_crm_event("nope", Timestamp(4_000)).await,
            Err(StoreError::NotFound)
        ));

        // Survives reopening.
        let again = db.reopen().await;
        assert_eq!(
            again
                .next_crm_event()
                .await
                .expect("next")
                .expect("head")
                .id,
            "e2"
        );
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn full_text_search_pages_common_and_rare_words_newest_first() {
    each_backend("store", |db| async move {
        let store = &db.store;
        // 12,000 messages say "common"; every 500th also says "rare". With statistics taken,
        // PostgreSQL knows "common" is in every message and walks the newest ones instead of
        // gathering its matches; the answer must be the same either way.
        let total = 12_000;
        for chunk in 0..total / 1_000 {
            let mut cs = Changeset::default();
            if chunk == 0 {
                cs.conversations.push(conversation("conv_fts"));
            }
            for i in chunk * 1_000..(chunk + 1) * 1_000 {
                let mut m = message(&format!("msg_{i:06}"), "conv_fts", None, None);
                m.body = Some(if i % 500 == 0 {
                    format!("common rare word{i}")
                } else {
                    format!("common word{i}")
                });
                cs.messages.push(m);
            }
            store.commit(&cs).await.expect("commit messages");
        }
        store.analyze().await.expect("analyze");
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let page = store
            .search_messages(&words(&["common"]), None, &SearchScope::All, 50)
            .await
            .expect("search common");
        let expected: Vec<String> = (total - 50..total)
            .rev()
            .map(|i| format!("msg_{i:06}"))
            .collect();
        assert_eq!(
            message_ids(&page),
            expected,
            "the newest 50 messages, newest first"
        );

        let rare = store
            .search_messages(&words(&["rare"]), None, &SearchScope::All, 50)
            .await
            .expect("search rare");
        let expected: Vec<String> = (0..total)
            .rev()
            .filter(|i| i % 500 == 0)
            .map(|i| format!("msg_{i:06}"))
            .collect();
        assert_eq!(
            message_ids(&rare),
            expected,
            "every rare message, newest first"
        );

        let both = store
            .search_messages(&words(&["common", "rare"]), None, &SearchScope::All, 50)
            .await
            .expect("search both");
        assert_eq!(message_ids(&both), expected);

        let in_conversation = store
            .search_messages(
                &words(&["common"]),
                Some(&ConversationId::from("conv_fts")),
                &SearchScope::All,
                3,
            )
            .await
            .expect("search in the conversation");
        assert_eq!(
            message_ids(&in_conversation),
            ["msg_011999", "msg_011998", "msg_011997"]
        );
    })
    .await;
}

/// What the database refuses for the data (a NUL in text on PostgreSQL, a duplicate key) is
/// told apart from an outage (a closed pool): the core isolates the first, reloads on the
/// second. A body of 1 MB of distinct words is stored on both (PostgreSQL indexes its first
/// 100,000 characters, migration 0008).
#[tokio::test]
async fn data_refusals_are_told_apart_from_outages() {
    each_backend("store", |db| async move {
        let store = &db.store;
        create_agent(store, "a1").await;
        let mut big = String::from("alphaword");
        let mut i = 0u64;
        while big.len() < 1_000_000 {
            big.push_str(&format!(" w{i:x}"));
            i += 1;
        }
        let mut m = message("m1", "c1", None, Some("wamid.big"));
        m.body = Some(big);
        store
            .commit(&Changeset {
                conversations: vec![conversation("c1")],
                messages: vec![m],
                ..Default::default()
            })
            .await
            .expect("a 1 MB text is stored");
        let nul = Changeset {
            notes: vec![NoteRecord {
                id: "n1".into(),
                interaction_id: "i1".into(),
                author_id: "a1".into(),
                body: "nul\u{0}".into(),
                created_at: Timestamp(5),
            }],
            ..Default::default()
        };
        let mut i1 = interaction("i1", InteractionState::Active, "q1", 100);
        i1.conversation_id = "c1".into();
        store
            .commit(&Changeset {
                interactions: vec![i1],
                ..Default::default()
            })
            .await
            .expect("interaction");
        let result = store.commit(&nul).await;
        if store.backend() == "postgres" {
            let e = result.expect_err("PostgreSQL refuses NUL in text");
            assert!(e.is_data_fault(), "{e}");
        }
        let twice = Changeset {
            events: vec![event("a1", 1, 10), event("a1", 1, 11)],
            ..Default::default()
        };
        let e = store.commit(&twice).await.expect_err("duplicate key");
        assert!(e.is_data_fault(), "{e}");
        store.close().await;
        let e = store
            .commit(&Changeset {
                events: vec![event("a1", 2, 12)],
                ..Default::default()
            })
            .await
            .expect_err("closed");
        assert!(!e.is_data_fault(), "an outage is not the data's fault: {e}");
    })
    .await;
}

#[tokio::test]
async fn full_text_search_lists_exact_matches_before_prefix_matches() {
    each_backend("store", |db| async move {
        let store = &db.store;
        // "n1" … "n999", oldest first: "n1" is the only exact match of `n1`, and 110 newer
        // messages ("n10" … "n19", "n100" … "n199") only start with it.
        let mut cs = Changeset::default();
        cs.conversations.push(conversation("conv_prefix"));
        for i in 1..=999 {
            let mut m = message(&format!("msg_{i:06}"), "conv_prefix", None, None);
            m.body = Some(format!("n{i}"));
            cs.messages.push(m);
        }
        store.commit(&cs).await.expect("commit messages");
        store.analyze().await.expect("analyze");
        let search = |w: &'static str, limit: i64| async move {
            store
                .search_messages(&[w.to_owned()], None, &SearchScope::All, limit)
                .await
                .expect("search")
        };

        // The exact match first, then the prefix matches, newest first.
        let page = search("n1", 10).await;
        let mut expected = vec!["msg_000001".to_owned()];
        expected.extend((191..=199).rev().map(|i| format!("msg_{i:06}")));
        assert_eq!(message_ids(&page), expected);

        // A page large enough for every match ends with the last prefix match.
        let page = search("n1", 200).await;
        assert_eq!(page.len(), 111);
        assert_eq!(message_ids(&page)[0], "msg_000001");
        assert_eq!(message_ids(&page)[1], "msg_000199");
        assert_eq!(message_ids(&page)[110], "msg_000010");

        // Several exact matches ("n19" in two messages): all of them first, newest first.
        let mut cs = Changeset::default();
        let mut m = message("msg_001000", "conv_prefix", None, None);
        m.body = Some("n19 again".to_owned());
        cs.messages.push(m);
        store.commit(&cs).await.expect("commit another n19");
        let page = search("n19", 5).await;
        assert_eq!(
            message_ids(&page),
            [
                "msg_001000",
                "msg_000019",
                "msg_000199",
                "msg_000198",
                "msg_000197"
            ]
        );

        // A page the exact matches fill alone holds no prefix match.
        let page = search("n19", 2).await;
        assert_eq!(message_ids(&page), ["msg_001000", "msg_000019"]);
    })
    .await;
}
