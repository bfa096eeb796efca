//! Report roll-ups on a fresh SQLite file and, when `SWITCHBOARD_TEST_POSTGRES_URL` is
//! set, a fresh PostgreSQL schema: a random (seeded) month of facts committed in steps of random
//! size, then every grouping, filter, several time zones (two daylight-saving changes, a +05:30
//! zone) and times of asking give the same summary from the roll-ups as from the report tables;
//! so does a database whose roll-ups were filled by their migration from existing rows.
#![allow(clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use switchboard_domain::engine::{Fact, FactKind, OfferOutcome, OfferSource};
use switchboard_domain::model::{
    AgentId, Customer, InteractionId, ParticipantRole, QueueId, Target, Timestamp,
};
use switchboard_store::{
    report_bucket_range, report_summary_uses_rollups, Changeset, ReportFilter, ReportGroup, Store,
    SummaryQuery,
};

mod common;

const HOUR: i64 = 3_600_000;
/// 2026-03-05 00:00 UTC: the month holds New York's change to summer time (03-08) and Berlin's
/// (03-29).
const START: i64 = 1_772_668_800_000;
const DAYS: i64 = 28;
const AGENTS: [&str; 6] = ["a1", "a2", "a3", "a4", "a5", "a6"];
const QUEUES: [&str; 3] = ["q1", "q2", "q3"];
const CODES: [&str; 3] = ["sale", "info", "spam"];

fn fact(at: i64, kind: FactKind) -> Fact {
    Fact {
        at: Timestamp(at),
        kind,
    }
}

/// One interaction's life, cut short at a random point (some are still waiting, talking or in
/// wrap-up), with missed, rejected and withdrawn offers, transfers, late or no first responses
/// and every kind of disposition.
fn life(rng: &mut StdRng, n: usize, out: &mut Vec<Fact>) {
    let i = InteractionId::from(format!("i{n}").as_str());
    let mut t = START + rng.random_range(0..DAYS * 24 * HOUR);
    let outbound = rng.random_bool(0.1);
    let channel = [Some("ch1"), Some("ch2"), None][rng.random_range(0..3)];
    out.push(fact(
        t,
        FactKind::Arrived {
            interaction: i.clone(),
            queue: QueueId::from(QUEUES[rng.random_range(0..QUEUES.len())]),
            channel: channel.map(str::to_owned),
            customer: Customer {
                wa_id: format!("49{n}"),
                name: None,
            },
            contact_id: None,
            outbound,
            sla_response_s: rng.random_range(30..180),
        },
    ));
    let agent = |rng: &mut StdRng| AgentId::from(AGENTS[rng.random_range(0..AGENTS.len())]);
    let mut step = |rng: &mut StdRng, max_s: i64| {
        t += rng.random_range(0..max_s * 1000);
        t
    };
    let mut owner = agent(rng);
    if !outbound {
        // Offers until one is accepted, or none is.
        loop {
            let a = agent(rng);
            out.push(fact(
                step(rng, 20),
                FactKind::OfferMade {
                    interaction: i.clone(),
                    agent: a.clone(),
                    source: OfferSource::Route,
                },
            ));
            if rng.random_bool(0.1) {
                return; // still offered
            }
            let outcome = [
                OfferOutcome::Accepted,
                OfferOutcome::Accepted,
                OfferOutcome::Missed,
                OfferOutcome::Rejected,
                OfferOutcome::Withdrawn,
            ][rng.random_range(0..5)];
            out.push(fact(
                step(rng, 40),
                FactKind::OfferEnded {
                    interaction: i.clone(),
                    agent: a.clone(),
                    outcome,
                },
            ));
            if outcome == OfferOutcome::Accepted {
                owner = a;
                break;
            }
            if rng.random_bool(0.15) {
                return; // never answered
            }
        }
    }
    let at = step(rng, 5);
    out.push(fact(
        at,
        FactKind::Answered {
            interaction: i.clone(),
            agent: owner.clone(),
        },
    ));
    out.push(fact(
        at,
        FactKind::Joined {
            interaction: i.clone(),
            agent: owner.clone(),
            role: ParticipantRole::Owner,
        },
    ));
    if rng.random_bool(0.85) {
        out.push(fact(
            step(rng, 240),
            FactKind::FirstResponse {
                interaction: i.clone(),
                agent: owner.clone(),
            },
        ));
    }
    out.push(fact(
        step(rng, 30),
        FactKind::MessageIn {
            interaction: i.clone(),
        },
    ));
    if rng.random_bool(0.1) {
        return; // still talking
    }
    if rng.random_bool(0.25) {
        // A transfer: the first owner wraps up their part, the next one takes it.
        let next = agent(rng);
        let at = step(rng, 120);
        out.push(fact(
            at,
            FactKind::Transferred {
                interaction: i.clone(),
                from: owner.clone(),
                to: Target::Agent(next.clone()),
            },
        ));
        out.push(fact(
            at,
            FactKind::OfferMade {
                interaction: i.clone(),
                agent: next.clone(),
                source: OfferSource::Transfer,
            },
        ));
        let at = step(rng, 30);
        out.push(fact(
            at,
            FactKind::OfferEnded {
                interaction: i.clone(),
                agent: next.clone(),
                outcome: OfferOutcome::Accepted,
            },
        ));
        out.push(fact(
            at,
            FactKind::Joined {
                interaction: i.clone(),
                agent: next.clone(),
                role: ParticipantRole::Owner,
            },
        ));
        out.push(fact(
            step(rng, 60),
            FactKind::WrappedUp {
                interaction: i.clone(),
                agent: owner.clone(),
                disposition: Some(CODES[rng.random_range(0..CODES.len())].to_owned()),
                by_countdown: false,
                closing: false,
            },
        ));
        owner = next;
    }
    out.push(fact(
        step(rng, 600),
        FactKind::Ended {
            interaction: i.clone(),
            by: owner.clone(),
        },
    ));
    if rng.random_bool(0.1) {
        return; // in wrap-up
    }
    let (disposition, by_countdown) = match rng.random_range(0..4) {
        0 => (None, true),
        1 => (None, false),
        k => (Some(CODES[k - 2].to_owned()), false),
    };
    let at = step(rng, 120);
    out.push(fact(
        at,
        FactKind::WrappedUp {
            interaction: i.clone(),
            agent: owner,
            disposition,
            by_countdown,
            closing: true,
        },
    ));
    out.push(fact(at, FactKind::Completed { interaction: i }));
}

/// A seeded month: facts in the order they happened, committed in steps of 1 to 30 or 300.
async fn workload(store: &Store, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut facts = Vec::new();
    for n in 0..300 {
        life(&mut rng, n, &mut facts);
    }
    facts.sort_by_key(|f| f.at);
    let mut rest = facts.as_slice();
    while !rest.is_empty() {
        // Now and then a large step: more interactions than one roll-up statement covers.
        let k = if rng.random_bool(0.05) {
            300
        } else {
            rng.random_range(1..=30)
        };
        let k = k.min(rest.len());
        let (step, tail) = rest.split_at(k);
        store
            .commit(&Changeset {
                facts: step.to_vec(),
                ..Changeset::default()
            })
            .await
            .unwrap();
        rest = tail;
    }
}

/// Summaries from the roll-ups and from the report tables are equal for every grouping, filter,
/// zone, range and time of asking; returns how many were answered from the roll-ups.
async fn compare(store: &Store, zones: &[&str]) -> usize {
    let day = |key: &str, tz: &str| report_bucket_range(key, tz).unwrap();
    let mut from_rollups = 0;
    for &tz in zones {
        let ranges = [
            // Local days over both changes to summer time.
            (day("2026-03-06", tz).0, day("2026-04-01", tz).0),
            // The day of Berlin's change alone (23 hours there).
            (day("2026-03-29", tz).0, day("2026-03-30", tz).0),
            // Whole UTC hours, not days: roll-up days inside, hours at both ends.
            (
                Timestamp(START + 29 * HOUR),
                Timestamp(START + 20 * 24 * HOUR + 7 * HOUR),
            ),
            // Not on whole hours: always the report tables.
            (
                Timestamp(START + 3 * 24 * HOUR + 1_234_567),
                Timestamp(START + 9 * 24 * HOUR + 7_654_321),
            ),
        ];
        for (from, to) in ranges {
            let whole = from.0 % HOUR == 0 && to.0 % HOUR == 0;
            let filters = [
                ReportFilter::default(),
                ReportFilter {
                    queue_id: Some(QueueId::from("q2")),
                    ..ReportFilter::default()
                },
                ReportFilter {
                    channel_id: Some("ch1".into()),
                    ..ReportFilter::default()
                },
                ReportFilter {
                    agent_id: Some(AgentId::from("a3")),
                    ..ReportFilter::default()
                },
                ReportFilter {
                    agent_id: Some(AgentId::from("a5")),
                    queue_id: Some(QueueId::from("q1")),
                    channel_id: Some("ch2".into()),
                    ..ReportFilter::default()
                },
            ];
            for filter in filters {
                for group_by in [
                    ReportGroup::Queue,
                    ReportGroup::Agent,
                    ReportGroup::Channel,
                    ReportGroup::Day,
                    ReportGroup::Hour,
                ] {
                    // Before the end (some targets not yet passed) and long after.
                    for now in [START + 15 * 24 * HOUR + 90_000, START + 60 * 24 * HOUR] {
                        let q = SummaryQuery {
                            filter: ReportFilter {
                                from,
                                to,
                                ..filter.clone()
                            },
                            group_by,
                            tz: tz.into(),
                            now: Timestamp(now),
                        };
                        let uses = report_summary_uses_rollups(&q).unwrap();
                        let time_rows = matches!(group_by, ReportGroup::Day | ReportGroup::Hour);
                        assert_eq!(uses, whole && !(tz == "Asia/Kolkata" && time_rows), "{q:?}");
                        from_rollups += usize::from(uses);
                        let fast = store.report_summary(&q).await.unwrap();
                        let exact = store.report_summary_raw(&q).await.unwrap();
                        assert_eq!(fast, exact, "{q:?}");
                    }
                }
            }
        }
    }
    from_rollups
}

/// Some figures of the whole month are not all zero, so the comparison compares something.
async fn not_empty(store: &Store) {
    let q = SummaryQuery {
        filter: ReportFilter {
            from: Timestamp(START),
            to: Timestamp(START + DAYS * 24 * HOUR + 24 * HOUR),
            ..ReportFilter::default()
        },
        group_by: ReportGroup::Agent,
        tz: "UTC".into(),
        now: Timestamp(START + 60 * 24 * HOUR),
    };
    let s = store.report_summary(&q).await.unwrap();
    let t = &s.total;
    assert_eq!(s.rows.len(), AGENTS.len());
    assert!(t.offered > 200 && t.missed > 0 && t.rejected > 0 && t.transferred > 0);
    assert!(t.handled > 100 && t.dispositions.len() >= 4, "{t:?}");
    assert!(t.sla_met_pct.is_some_and(|p| p > 0.0 && p < 100.0));
}

#[tokio::test]
async fn rollups_agree_with_the_report_tables() {
    common::each_backend("rollups", |db| async move {
        workload(&db.store, 14).await;
        not_empty(&db.store).await;
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Asia/Tokyo",
        ];
        let n = compare(&db.store, &zones).await;
        assert!(n > 500, "{n} summaries from the roll-ups");

        // The same rows summed again at once (the migration's and the benchmark's path).
        db.store.rebuild_report_rollups().await.unwrap();
        compare(&db.store, &zones[1..2]).await;

        // A database upgraded with report rows in it: the migration fills the roll-ups.
        let undo = "DROP TABLE report_rollups; DROP TABLE report_agent_rollups; \
             DROP TABLE report_rollup_dispositions; DROP TABLE report_agent_rollup_dispositions; \
             DROP INDEX report_interactions_unanswered; \
             DELETE FROM schema_migrations WHERE version = 13";
        match &db.schema {
            Some(schema) => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(&format!("SET search_path TO \"{schema}\"; {undo}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            None => {
                let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(undo).execute(&mut conn).await.unwrap();
            }
        }
        let upgraded = db.reopen().await;
        not_empty(&upgraded).await;
        compare(&upgraded, &zones[1..2]).await;
        upgraded.close().await;
    })
    .await;
}

/// The drill-down's keyset pages list every interaction of the month once, in the order of one
/// long page, whatever the page size.
#[tokio::test]
async fn drill_down_pages_follow_each_other() {
    common::each_store("rollups-pages", |store| async move {
        workload(&store, 7).await;
        let filter = ReportFilter {
            from: Timestamp(START + 2 * 24 * HOUR),
            to: Timestamp(START + 20 * 24 * HOUR),
            queue_id: Some(QueueId::from("q1")),
            ..ReportFilter::default()
        };
        let all = store
            .report_interactions(&filter, 1000, None)
            .await
            .unwrap();
        assert!(all.len() > 40, "{}", all.len());
        for size in [1, 7, 50] {
            let mut paged = Vec::new();
            loop {
                let page = store
                    .report_interactions(
                        &filter,
                        size,
                        paged
                            .last()
                            .map(|i: &switchboard_store::ReportInteraction| &i.id),
                    )
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                paged.extend(page);
            }
            assert_eq!(paged, all, "pages of {size}");
        }
        // After an interaction that is not there: nothing.
        let none = InteractionId::from("i-none");
        assert!(store
            .report_interactions(&filter, 10, Some(&none))
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
