//! Message templates in the store, on a fresh SQLite file and, when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set, a fresh PostgreSQL schema: a sync adds, updates,
//! keeps and marks deleted; status changes find their template; filters match on both backends.

use serde_json::json;
use switchboard_domain::model::Timestamp;
use switchboard_store::{Store, TemplateFilter, TemplateRecord, TemplateStatusChange};

mod common;

/// Syncs `listed` as all the templates of account `waba_1`: how many were (added, updated,
/// unchanged, deleted).
async fn sync(
    store: &Store,
    listed: &[TemplateRecord],
    now: Timestamp,
) -> (usize, usize, usize, usize) {
    let o = store
        .sync_templates("waba_1", listed, now)
        .await
        .expect("sync");
    (o.added, o.updated, o.unchanged, o.deleted)
}

fn template(id: &str, name: &str, language: &str, status: &str) -> TemplateRecord {
    TemplateRecord {
        id: id.into(),
        channel_id: "chn_1".into(),
        waba_id: "waba_1".into(),
        wa_template_id: Some(format!("wa-{name}-{language}")),
        name: name.into(),
        language: language.into(),
        category: "UTILITY".into(),
        status: status.into(),
        parameter_format: "POSITIONAL".into(),
        components: json!([{"type": "BODY", "text": "Hi {{1}}"}]),
        variable_map: json!({}),
        rejected_reason: None,
        deleted: false,
        synced_at: Timestamp(0),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

fn names(list: &[TemplateRecord]) -> Vec<String> {
    list.iter()
        .map(|t| format!("{}/{}", t.name, t.language))
        .collect()
}

/// The templates whose name holds `q` (taken literally), deleted ones too, as [`names`].
async fn search(store: &Store, q: &str) -> Vec<String> {
    let filter = TemplateFilter {
        q: Some(q.into()),
        include_deleted: true,
        ..TemplateFilter::default()
    };
    names(&store.templates(&filter).await.expect("list"))
}

#[tokio::test]
async fn sync_status_and_filters() {
    common::each_store("templates", |store| async move {
        eprintln!("backend: {}", store.backend());
        let t1 = Timestamp(1_000);
        let listed = vec![
            template("tpl_a", "order_update", "en_US", "APPROVED"),
            template("tpl_b", "order_update", "de", "PENDING"),
            template("tpl_c", "50%_off", "en_US", "APPROVED"),
        ];
        assert_eq!(sync(&store, &listed, t1).await, (3, 0, 0, 0));
        store
            .set_template_variable_map("tpl_a", &json!({"body.1": "contact.first_name"}), t1)
            .await
            .expect("map");

        // Again, with one changed, one gone and one new (whose proposed id differs).
        let t2 = Timestamp(2_000);
        let mut changed = template("tpl_other", "order_update", "en_US", "PAUSED");
        changed.rejected_reason = Some("LOW_QUALITY".into());
        let listed = vec![
            changed,
            template("tpl_b2", "order_update", "de", "PENDING"),
            template("tpl_d", "welcome", "en_US", "APPROVED"),
        ];
        assert_eq!(sync(&store, &listed, t2).await, (1, 1, 1, 1));
        let a = store
            .template("tpl_a")
            .await
            .expect("read")
            .expect("kept its id");
        assert_eq!(a.status, "PAUSED");
        assert_eq!(a.rejected_reason.as_deref(), Some("LOW_QUALITY"));
        assert_eq!(
            a.variable_map,
            json!({"body.1": "contact.first_name"}),
            "the admin's map stays"
        );
        assert_eq!((a.created_at, a.updated_at, a.synced_at), (t1, t2, t2));
        let b = store.template("tpl_b").await.expect("read").expect("kept");
        assert_eq!(
            (b.updated_at, b.synced_at),
            (t1, t2),
            "unchanged keeps its update time"
        );
        assert!(store.template("tpl_b2").await.expect("read").is_none());
        let c = store.template("tpl_c").await.expect("read").expect("kept");
        assert!(c.deleted);

        // Filters.
        let all = store
            .templates(&TemplateFilter::default())
            .await
            .expect("list");
        assert_eq!(
            names(&all),
            ["order_update/de", "order_update/en_US", "welcome/en_US"]
        );
        let with_deleted = TemplateFilter {
            include_deleted: true,
            ..TemplateFilter::default()
        };
        assert_eq!(store.templates(&with_deleted).await.expect("list").len(), 4);
        assert_eq!(search(&store, "%").await, ["50%_off/en_US"]);
        assert_eq!(
            search(&store, "R_U").await,
            ["order_update/de", "order_update/en_US"]
        );
        let status = TemplateFilter {
            status: Some("PENDING".into()),
            ..TemplateFilter::default()
        };
        assert_eq!(
            names(&store.templates(&status).await.expect("list")),
            ["order_update/de"]
        );
        let other_account = TemplateFilter {
            waba_ids: Some(vec!["waba_2".into()]),
            ..TemplateFilter::default()
        };
        assert!(store
            .templates(&other_account)
            .await
            .expect("list")
            .is_empty());
        let none = TemplateFilter {
            waba_ids: Some(Vec::new()),
            ..TemplateFilter::default()
        };
        assert!(store.templates(&none).await.expect("list").is_empty());

        // Status changes: by WhatsApp's id, else by name and language; unknown ones change nothing.
        let t3 = Timestamp(3_000);
        let change = |wa: Option<&str>, name: Option<&str>, status: &str| TemplateStatusChange {
            waba_id: "waba_1".into(),
            wa_template_id: wa.map(str::to_owned),
            name: name.map(str::to_owned),
            language: Some("de".into()),
            status: status.into(),
            reason: None,
        };
        let by_id = store
            .set_template_status(&change(Some("wa-order_update-en_US"), None, "APPROVED"), t3)
            .await
            .expect("status")
            .expect("found");
        assert_eq!(
            (by_id.id.as_str(), by_id.status.as_str()),
            ("tpl_a", "APPROVED")
        );
        assert_eq!(by_id.rejected_reason, None);
        let by_name = store
            .set_template_status(
                &change(Some("unknown"), Some("order_update"), "REJECTED"),
                t3,
            )
            .await
            .expect("status")
            .expect("found");
        assert_eq!(by_name.id, "tpl_b");
        assert!(store
            .set_template_status(&change(None, Some("nope"), "APPROVED"), t3)
            .await
            .expect("status")
            .is_none());
        let b = store
            .template_by_name("waba_1", "order_update", "de")
            .await
            .expect("read")
            .expect("found");
        assert_eq!((b.status.as_str(), b.updated_at), ("REJECTED", t3));
        assert!(matches!(
            store
                .set_template_variable_map("tpl_missing", &json!({}), t3)
                .await,
            Err(switchboard_store::StoreError::NotFound)
        ));
    })
    .await;
}
