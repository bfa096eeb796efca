//! Reports in the store, on a fresh SQLite file and, when
//! `SWITCHBOARD_TEST_POSTGRES_URL` is set, a fresh PostgreSQL schema: a scripted day of facts,
//! committed step by step as the engine emits them, gives every figure of the summary, the
//! drill-down and an agent's timeline exactly, in a time zone that is not UTC, with an interaction
//! across midnight and a transfer.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use switchboard_domain::engine::{Fact, FactKind, OfferOutcome, OfferSource};
use switchboard_domain::model::{
    Agent, AgentId, Customer, Interaction, InteractionId, InteractionState, ParticipantRole,
    Presence, Queue, QueueId, Role, Target, Timestamp,
};
use switchboard_store::{
    report_bucket_range, Changeset, ReportFigure, ReportFilter, ReportGroup, ReportInteraction,
    Store, SummaryQuery, SummaryRow, DISPOSITION_BY_COUNTDOWN, DISPOSITION_NO_CODE,
};

mod common;

/// 2026-01-14 00:00 in Berlin (UTC+1): 2026-01-13 23:00 UTC.
const M: i64 = 1_768_345_200_000;
const BERLIN: &str = "Europe/Berlin";

/// Local Berlin time on 2026-01-14 (`h` may pass 24 for the next day).
fn at(h: i64, m: i64, s: i64) -> Timestamp {
    Timestamp(M + ((h * 60 + m) * 60 + s) * 1000)
}

fn aid(s: &str) -> AgentId {
    AgentId::from(s)
}
fn iid(s: &str) -> InteractionId {
    InteractionId::from(s)
}

struct Script {
    facts: Vec<Fact>,
}

impl Script {
    fn f(&mut self, t: Timestamp, kind: FactKind) -> &mut Self {
        self.facts.push(Fact { at: t, kind });
        self
    }
    fn arrived(&mut self, t: Timestamp, i: &str, q: &str, sla_s: u32, outbound: bool) -> &mut Self {
        self.f(
            t,
            FactKind::Arrived {
                interaction: iid(i),
                queue: QueueId::from(q),
                channel: Some("ch1".into()),
                customer: Customer {
                    wa_id: format!("49151{i}"),
                    name: Some(format!("Customer {i}")),
                },
                contact_id: Some(format!("k-{i}")),
                outbound,
                sla_response_s: sla_s,
            },
        )
    }
    fn offer(&mut self, t: Timestamp, i: &str, a: &str, source: OfferSource) -> &mut Self {
        self.f(
            t,
            FactKind::OfferMade {
                interaction: iid(i),
                agent: aid(a),
                source,
            },
        )
    }
    fn outcome(&mut self, t: Timestamp, i: &str, a: &str, outcome: OfferOutcome) -> &mut Self {
        self.f(
            t,
            FactKind::OfferEnded {
                interaction: iid(i),
                agent: aid(a),
                outcome,
            },
        )
    }
    /// An accept: the offer's outcome, the first answer (when `first`), the participation.
    fn accept(&mut self, t: Timestamp, i: &str, a: &str, first: bool) -> &mut Self {
        self.outcome(t, i, a, OfferOutcome::Accepted);
        if first {
            self.f(
                t,
                FactKind::Answered {
                    interaction: iid(i),
                    agent: aid(a),
                },
            );
        }
        self.joined(t, i, a)
    }
    fn joined(&mut self, t: Timestamp, i: &str, a: &str) -> &mut Self {
        self.f(
            t,
            FactKind::Joined {
                interaction: iid(i),
                agent: aid(a),
                role: ParticipantRole::Owner,
            },
        )
    }
    fn reply(&mut self, t: Timestamp, i: &str, a: &str, first: bool) -> &mut Self {
        if first {
            self.f(
                t,
                FactKind::FirstResponse {
                    interaction: iid(i),
                    agent: aid(a),
                },
            );
        }
        self.f(
            t,
            FactKind::MessageOut {
                interaction: iid(i),
                agent: aid(a),
            },
        )
    }
    fn end(&mut self, t: Timestamp, i: &str, a: &str) -> &mut Self {
        self.f(
            t,
            FactKind::Ended {
                interaction: iid(i),
                by: aid(a),
            },
        )
    }
    fn wrap(
        &mut self,
        t: Timestamp,
        i: &str,
        a: &str,
        code: Option<&str>,
        by_countdown: bool,
        closing: bool,
    ) -> &mut Self {
        self.f(
            t,
            FactKind::WrappedUp {
                interaction: iid(i),
                agent: aid(a),
                disposition: code.map(str::to_owned),
                by_countdown,
                closing,
            },
        )
    }
    fn done(&mut self, t: Timestamp, i: &str) -> &mut Self {
        self.f(
            t,
            FactKind::Completed {
                interaction: iid(i),
            },
        )
    }
    fn presence(&mut self, t: Timestamp, a: &str, p: Presence, reason: Option<&str>) -> &mut Self {
        self.f(
            t,
            FactKind::Presence {
                agent: aid(a),
                presence: p,
                reason: reason.map(str::to_owned),
            },
        )
    }
}

/// The scripted day (Berlin times):
/// - i1 (Support, SLA 60 s) at 09:00: Ann rejects, Bob misses, Ann accepts at 09:01:10 (answer
///   70 s), first response 09:01:40 (100 s, SLA not met), transfers to Bob at 09:05 who accepts at
///   09:05:20; Ann wraps up "sale" at 09:06 (290 s); Bob ends at 09:10, his countdown completes
///   at 09:11 (340 s): handled, 630 s, disposition "(none)".
/// - i2 (Support) at 10:00: Bob accepts at 10:00:20, answers at 10:00:50 (SLA met), ends 10:05,
///   wraps up "sale" at 10:05:30 (310 s).
/// - o1: Ann's outbound start at 11:00 (Support), a message at 11:00:05, ended 11:02, wrapped up
///   "info" at 11:02:30 (150 s): handled, never offered.
/// - i3 (Sales, SLA 120 s) at 23:59 across midnight: Ann accepts 23:59:30 (30 s), answers 00:00:30
///   (90 s, met), ends 00:10, wraps up without a code at 00:10:30 (660 s). It counts on the 14th.
/// - i4 (Support) at 00:30 on the 15th (still the 14th in UTC): Bob misses it; unanswered.
fn script() -> Vec<Fact> {
    let mut s = Script { facts: vec![] };
    s.presence(at(8, 0, 0), "a1", Presence::Available, None)
        .presence(at(8, 30, 0), "a2", Presence::Available, None);
    s.arrived(at(9, 0, 0), "i1", "q1", 60, false)
        .offer(at(9, 0, 0), "i1", "a1", OfferSource::Route)
        .outcome(at(9, 0, 5), "i1", "a1", OfferOutcome::Rejected)
        .presence(at(9, 0, 5), "a1", Presence::Rona, Some("Rejected offer"))
        .offer(at(9, 0, 5), "i1", "a2", OfferSource::Route)
        .outcome(at(9, 0, 35), "i1", "a2", OfferOutcome::Missed)
        .presence(at(9, 0, 35), "a2", Presence::Rona, Some("Missed offer"))
        .presence(at(9, 0, 50), "a1", Presence::Available, None)
        .offer(at(9, 1, 0), "i1", "a1", OfferSource::Route)
        .accept(at(9, 1, 10), "i1", "a1", true)
        .f(
            at(9, 1, 20),
            FactKind::MessageIn {
                interaction: iid("i1"),
            },
        )
        .reply(at(9, 1, 40), "i1", "a1", true)
        .reply(at(9, 2, 0), "i1", "a1", false)
        .presence(at(9, 4, 0), "a2", Presence::Available, None)
        .f(
            at(9, 5, 0),
            FactKind::Transferred {
                interaction: iid("i1"),
                from: aid("a1"),
                to: Target::Agent(aid("a2")),
            },
        )
        .offer(at(9, 5, 0), "i1", "a2", OfferSource::Transfer)
        .accept(at(9, 5, 20), "i1", "a2", false)
        .wrap(at(9, 6, 0), "i1", "a1", Some("sale"), false, false)
        .end(at(9, 10, 0), "i1", "a2")
        .wrap(at(9, 11, 0), "i1", "a2", None, true, true)
        .done(at(9, 11, 0), "i1");
    s.arrived(at(10, 0, 0), "i2", "q1", 60, false)
        .offer(at(10, 0, 0), "i2", "a2", OfferSource::Route)
        .accept(at(10, 0, 20), "i2", "a2", true)
        .reply(at(10, 0, 50), "i2", "a2", true)
        .end(at(10, 5, 0), "i2", "a2")
        .wrap(at(10, 5, 30), "i2", "a2", Some("sale"), false, true)
        .done(at(10, 5, 30), "i2");
    s.arrived(at(11, 0, 0), "o1", "q1", 60, true)
        .joined(at(11, 0, 0), "o1", "a1")
        .reply(at(11, 0, 5), "o1", "a1", true)
        .end(at(11, 2, 0), "o1", "a1")
        .wrap(at(11, 2, 30), "o1", "a1", Some("info"), false, true)
        .done(at(11, 2, 30), "o1");
    s.presence(at(12, 0, 0), "a1", Presence::OnBreak, Some("Lunch"))
        .presence(at(13, 0, 0), "a1", Presence::Available, None);
    s.arrived(at(23, 59, 0), "i3", "q2", 120, false)
        .offer(at(23, 59, 0), "i3", "a1", OfferSource::Route)
        .accept(at(23, 59, 30), "i3", "a1", true)
        .reply(at(24, 0, 30), "i3", "a1", true)
        .end(at(24, 10, 0), "i3", "a1")
        .wrap(at(24, 10, 30), "i3", "a1", None, false, true)
        .done(at(24, 10, 30), "i3");
    s.presence(at(18, 0, 0), "a1", Presence::Offline, None);
    s.arrived(at(24, 30, 0), "i4", "q1", 60, false)
        .offer(at(24, 30, 0), "i4", "a2", OfferSource::Route)
        .outcome(at(24, 30, 30), "i4", "a2", OfferOutcome::Missed)
        .presence(at(24, 30, 30), "a2", Presence::Rona, Some("Missed offer"));
    // Committed in the order they happened, one step at a time.
    s.facts.sort_by_key(|f| f.at);
    s.facts
}

/// A stored interaction (done), as the core worker commits it beside the facts.
fn interaction_row(id: &str) -> Interaction {
    Interaction {
        channel_id: Some("ch1".into()),
        customer: Customer::default(),
        first_message: None,
        queue_key: 1,
        unread: 0,
        last_inbound_at: None,
        ..common::interaction(id, InteractionState::Done, "q1", at(10, 0, 0).0)
    }
}

fn user(id: &str, name: &str) -> Agent {
    Agent {
        display_name: name.into(),
        can_reject: true,
        presence_since: Timestamp(0),
        last_idle_at: Timestamp(0),
        ..common::agent(id, Role::Agent)
    }
}

async fn seed(store: &Store) {
    store
        .create_user(&user("a1", "Ann"), "ann", "hash", Timestamp(0))
        .await
        .unwrap();
    store
        .create_user(&user("a2", "Bob"), "bob", "hash", Timestamp(0))
        .await
        .unwrap();
    store
        .commit(&Changeset {
            queues: vec![
                Queue::new(QueueId::from("q1"), "Support"),
                Queue::new(QueueId::from("q2"), "Sales"),
            ],
            ..Changeset::default()
        })
        .await
        .unwrap();
    // One commit per step (facts of the same instant together), as the core worker does.
    let facts = script();
    let mut i = 0;
    while i < facts.len() {
        let mut step = Changeset::default();
        let t = facts[i].at;
        while i < facts.len() && facts[i].at == t {
            step.facts.push(facts[i].clone());
            i += 1;
        }
        store.commit(&step).await.unwrap();
    }
}

fn range() -> ReportFilter {
    ReportFilter {
        from: at(0, 0, 0),
        to: at(48, 0, 0),
        ..ReportFilter::default()
    }
}

fn query(group_by: ReportGroup, tz: &str) -> SummaryQuery {
    SummaryQuery {
        filter: range(),
        group_by,
        tz: tz.into(),
        now: at(36, 0, 0),
    }
}

fn dispositions(v: &[(&str, i64)]) -> BTreeMap<String, i64> {
    v.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    key: &str,
    label: &str,
    counts: [i64; 6],
    handle: Option<f64>,
    answer: Option<f64>,
    response: Option<f64>,
    sla: Option<f64>,
    disp: &[(&str, i64)],
) -> SummaryRow {
    SummaryRow {
        key: key.into(),
        label: label.into(),
        offered: counts[0],
        accepted: counts[1],
        missed: counts[2],
        rejected: counts[3],
        handled: counts[4],
        transferred: counts[5],
        avg_handle_s: handle,
        avg_speed_of_answer_s: answer,
        avg_first_response_s: response,
        sla_met_pct: sla,
        dispositions: dispositions(disp),
    }
}

fn total_of_the_day() -> SummaryRow {
    row(
        "total",
        "Total",
        [4, 3, 2, 1, 4, 1],
        Some(437.5),
        Some(40.0),
        Some(80.0),
        Some(50.0),
        &[
            (DISPOSITION_BY_COUNTDOWN, 1),
            ("sale", 1),
            ("info", 1),
            (DISPOSITION_NO_CODE, 1),
        ],
    )
}

async fn scenario(store: &Store) {
    seed(store).await;

    // By Berlin day: the interaction across midnight counts on the day it arrived; the one at
    // 00:30 on the 15th is the 15th's.
    let s = store
        .report_summary(&query(ReportGroup::Day, BERLIN))
        .await
        .unwrap();
    assert_eq!(
        s.rows,
        vec![
            row(
                "2026-01-14",
                "2026-01-14",
                [3, 3, 1, 1, 4, 1],
                Some(437.5),
                Some(40.0),
                Some(80.0),
                Some(200.0 / 3.0),
                &[
                    (DISPOSITION_BY_COUNTDOWN, 1),
                    ("sale", 1),
                    ("info", 1),
                    (DISPOSITION_NO_CODE, 1),
                ],
            ),
            row(
                "2026-01-15",
                "2026-01-15",
                [1, 0, 1, 0, 0, 0],
                None,
                None,
                None,
                Some(0.0),
                &[],
            ),
        ]
    );
    assert_eq!(s.total, total_of_the_day());

    // The same instants by UTC day: everything happened on the 14th.
    let s = store
        .report_summary(&query(ReportGroup::Day, "UTC"))
        .await
        .unwrap();
    let keys: Vec<&str> = s.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["2026-01-13", "2026-01-14", "2026-01-15"]);
    let offered: Vec<i64> = s.rows.iter().map(|r| r.offered).collect();
    assert_eq!(offered, [0, 4, 0]);
    assert_eq!(s.total, total_of_the_day());

    // By hour: 48 local hours, i1 in the 09:00 hour.
    let s = store
        .report_summary(&query(ReportGroup::Hour, BERLIN))
        .await
        .unwrap();
    assert_eq!(s.rows.len(), 48);
    let nine = s.rows.iter().find(|r| r.key == "2026-01-14T09:00").unwrap();
    assert_eq!(nine.label, "2026-01-14 09:00");
    assert_eq!((nine.offered, nine.missed, nine.rejected), (1, 1, 1));
    assert_eq!(s.total, total_of_the_day());

    // By queue (the queue an interaction arrived in), ordered by name.
    let s = store
        .report_summary(&query(ReportGroup::Queue, BERLIN))
        .await
        .unwrap();
    assert_eq!(
        s.rows,
        vec![
            row(
                "q2",
                "Sales",
                [1, 1, 0, 0, 1, 0],
                Some(660.0),
                Some(30.0),
                Some(90.0),
                Some(100.0),
                &[(DISPOSITION_NO_CODE, 1)],
            ),
            row(
                "q1",
                "Support",
                [3, 2, 2, 1, 3, 1],
                Some((630.0 + 310.0 + 150.0) / 3.0),
                Some(45.0),
                Some(75.0),
                Some(100.0 / 3.0),
                &[(DISPOSITION_BY_COUNTDOWN, 1), ("sale", 1), ("info", 1)],
            ),
        ]
    );
    assert_eq!(s.total, total_of_the_day());

    // By agent: each agent's own offers and participations; speed figures of what they answered
    // first. The total counts each interaction once.
    let s = store
        .report_summary(&query(ReportGroup::Agent, BERLIN))
        .await
        .unwrap();
    assert_eq!(
        s.rows,
        vec![
            row(
                "a1",
                "Ann",
                [3, 2, 0, 1, 3, 1],
                Some(1_100_000.0 / 3.0 / 1000.0),
                Some(50.0),
                Some(95.0),
                Some(50.0),
                &[("sale", 1), ("info", 1), (DISPOSITION_NO_CODE, 1)],
            ),
            row(
                "a2",
                "Bob",
                [4, 2, 2, 0, 2, 0],
                Some(325.0),
                Some(20.0),
                Some(50.0),
                Some(100.0),
                &[(DISPOSITION_BY_COUNTDOWN, 1), ("sale", 1)],
            ),
        ]
    );
    assert_eq!(s.total, total_of_the_day());

    // One agent's figures by day: Bob's offers of the 14th and of the 15th.
    let mut q = query(ReportGroup::Day, BERLIN);
    q.filter.agent_id = Some(aid("a2"));
    let s = store.report_summary(&q).await.unwrap();
    let bob: Vec<(String, i64, i64, i64)> = s
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.offered, r.accepted, r.missed))
        .collect();
    assert_eq!(
        bob,
        [
            ("2026-01-14".into(), 3, 2, 1),
            ("2026-01-15".into(), 1, 0, 1)
        ]
    );
    assert_eq!((s.total.offered, s.total.handled), (4, 2));

    // A queue filter keeps only what arrived in it.
    let mut q = query(ReportGroup::Day, BERLIN);
    q.filter.queue_id = Some(QueueId::from("q2"));
    let s = store.report_summary(&q).await.unwrap();
    assert_eq!((s.total.offered, s.total.handled), (1, 1));

    // The drill-down: newest first, every field of i1.
    let all = store.report_interactions(&range(), 10, None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["i4", "i3", "o1", "i2", "i1"]);
    let i1 = &all[4];
    assert_eq!(i1.queue, "Support");
    assert_eq!(i1.agents, vec![aid("a1"), aid("a2")]);
    assert_eq!(i1.customer_wa_id, "49151i1");
    assert_eq!(i1.contact_id.as_deref(), Some("k-i1"));
    assert_eq!(i1.created_at, at(9, 0, 0));
    assert_eq!(i1.accepted_at, Some(at(9, 1, 10)));
    assert_eq!(i1.ended_at, Some(at(9, 10, 0)));
    assert_eq!(i1.wrapped_up_at, Some(at(9, 11, 0)));
    assert_eq!(i1.disposition.as_deref(), Some(DISPOSITION_BY_COUNTDOWN));
    assert_eq!(i1.handle_s, Some(630.0));
    assert_eq!(i1.speed_of_answer_s, Some(70.0));
    assert_eq!(i1.first_response_s, Some(100.0));
    assert_eq!(
        (i1.transfers, i1.missed_offers, i1.rejected_offers),
        (1, 1, 1)
    );
    assert_eq!((i1.messages_in, i1.messages_out), (2, 2));
    let i4 = &all[0];
    assert_eq!(
        (i4.accepted_at, i4.disposition.clone(), i4.handle_s),
        (None, None, None)
    );
    let o1 = &all[2];
    assert!(o1.outbound);
    assert_eq!((o1.speed_of_answer_s, o1.first_response_s), (None, None));

    // A re-link (or a merge) after the fact shows in the drill-down: the contact as it is now.
    let mut relinked = interaction_row("i2");
    relinked.contact_id = Some("k-new".into());
    store
        .commit(&Changeset {
            interactions: vec![relinked],
            ..Changeset::default()
        })
        .await
        .unwrap();
    let all = store.report_interactions(&range(), 10, None).await.unwrap();
    let contacts: Vec<Option<&str>> = all.iter().map(|r| r.contact_id.as_deref()).collect();
    assert_eq!(
        contacts,
        [
            Some("k-i4"),
            Some("k-i3"),
            Some("k-o1"),
            Some("k-new"),
            Some("k-i1")
        ]
    );

    // Paging, and the filters behind the figures.
    let page = store.report_interactions(&range(), 2, None).await.unwrap();
    assert_eq!(page.len(), 2);
    let next = store
        .report_interactions(&range(), 2, Some(&page[1].id))
        .await
        .unwrap();
    let ids: Vec<&str> = next.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["o1", "i2"]);
    let sales = ReportFilter {
        disposition: Some("sale".into()),
        ..range()
    };
    let ids: Vec<String> = store
        .report_interactions(&sales, 10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.0)
        .collect();
    assert_eq!(ids, ["i2"]);
    let ann = ReportFilter {
        agent_id: Some(aid("a1")),
        ..range()
    };
    let ids: Vec<String> = store
        .report_interactions(&ann, 10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.0)
        .collect();
    assert_eq!(ids, ["i3", "o1", "i1"]);

    // Every count drills down to the interactions behind it: as many as it counts (missed and
    // rejected count offers: the interactions listed carry them).
    let total = store
        .report_summary(&query(ReportGroup::Day, BERLIN))
        .await
        .unwrap()
        .total;
    let behind = |agent: Option<&str>, figure: ReportFigure| {
        let f = ReportFilter {
            agent_id: agent.map(aid),
            figure: Some(figure),
            ..range()
        };
        async move { store.report_interactions(&f, 100, None).await.unwrap() }
    };
    let ids = |v: &[ReportInteraction]| v.iter().map(|r| r.id.0.clone()).collect::<Vec<_>>();
    let offered = behind(None, ReportFigure::Offered).await;
    assert_eq!(ids(&offered), ["i4", "i3", "i2", "i1"]);
    assert_eq!(offered.len() as i64, total.offered);
    let accepted = behind(None, ReportFigure::Accepted).await;
    assert_eq!(ids(&accepted), ["i3", "i2", "i1"]);
    assert_eq!(accepted.len() as i64, total.accepted);
    let missed = behind(None, ReportFigure::Missed).await;
    assert_eq!(ids(&missed), ["i4", "i1"]);
    assert_eq!(
        missed.iter().map(|r| r.missed_offers).sum::<i64>(),
        total.missed
    );
    let rejected = behind(None, ReportFigure::Rejected).await;
    assert_eq!(ids(&rejected), ["i1"]);
    assert_eq!(
        rejected.iter().map(|r| r.rejected_offers).sum::<i64>(),
        total.rejected
    );
    let handled = behind(None, ReportFigure::Handled).await;
    assert_eq!(ids(&handled), ["i3", "o1", "i2", "i1"]);
    assert_eq!(handled.len() as i64, total.handled);
    let transferred = behind(None, ReportFigure::Transferred).await;
    assert_eq!(ids(&transferred), ["i1"]);
    assert_eq!(transferred.len() as i64, total.transferred);
    // An agent's counts: the interactions of their offers and participations behind them.
    assert_eq!(
        ids(&behind(Some("a2"), ReportFigure::Offered).await),
        ["i4", "i2", "i1"]
    );
    assert_eq!(
        ids(&behind(Some("a2"), ReportFigure::Missed).await),
        ["i4", "i1"]
    );
    assert_eq!(
        ids(&behind(Some("a2"), ReportFigure::Accepted).await),
        ["i2", "i1"]
    );
    assert_eq!(
        ids(&behind(Some("a2"), ReportFigure::Handled).await),
        ["i2", "i1"]
    );
    assert_eq!(
        ids(&behind(Some("a1"), ReportFigure::Rejected).await),
        ["i1"]
    );
    assert_eq!(
        ids(&behind(Some("a1"), ReportFigure::Transferred).await),
        ["i1"]
    );
    // A row's day or hour gives the range of its drill-down.
    let (from, to) = report_bucket_range("2026-01-15", BERLIN).unwrap();
    assert_eq!((from, to), (at(24, 0, 0), at(48, 0, 0)));
    let f = ReportFilter {
        from,
        to,
        figure: Some(ReportFigure::Offered),
        ..ReportFilter::default()
    };
    let day = store.report_interactions(&f, 100, None).await.unwrap();
    assert_eq!(ids(&day), ["i4"]);
    assert_eq!(
        report_bucket_range("2026-01-14T09:00", BERLIN).unwrap(),
        (at(9, 0, 0), at(10, 0, 0))
    );

    // Ann's timeline on the 14th: intervals tile the day, totals add up to 86,400 s.
    let tl = store
        .agent_timeline(&aid("a1"), at(0, 0, 0), at(24, 0, 0), at(36, 0, 0))
        .await
        .unwrap();
    let spans: Vec<(Presence, Option<&str>, Timestamp, Timestamp)> = tl
        .intervals
        .iter()
        .map(|i| (i.presence, i.reason.as_deref(), i.from, i.to))
        .collect();
    assert_eq!(
        spans,
        vec![
            (Presence::Offline, None, at(0, 0, 0), at(8, 0, 0)),
            (Presence::Available, None, at(8, 0, 0), at(9, 0, 5)),
            (
                Presence::Rona,
                Some("Rejected offer"),
                at(9, 0, 5),
                at(9, 0, 50)
            ),
            (Presence::Available, None, at(9, 0, 50), at(12, 0, 0)),
            (Presence::OnBreak, Some("Lunch"), at(12, 0, 0), at(13, 0, 0)),
            (Presence::Available, None, at(13, 0, 0), at(18, 0, 0)),
            (Presence::Offline, None, at(18, 0, 0), at(24, 0, 0)),
        ]
    );
    let totals: Vec<(&str, f64)> = tl.totals.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        totals,
        [
            ("available", 32_355.0),
            ("offline", 50_400.0),
            ("on_break", 3_600.0),
            ("rona", 45.0)
        ]
    );
    assert_eq!(tl.totals.values().sum::<f64>(), 86_400.0);
    assert_eq!(tl.break_totals, BTreeMap::from([("Lunch".into(), 3_600.0)]));

    // Asked at 12:30, the day so far: the break is half over.
    let tl = store
        .agent_timeline(&aid("a1"), at(0, 0, 0), at(24, 0, 0), at(12, 30, 0))
        .await
        .unwrap();
    assert_eq!(tl.totals.get("on_break"), Some(&1_800.0));
    assert_eq!(tl.totals.values().sum::<f64>(), 12.5 * 3600.0);

    // A time zone that does not exist is the caller's mistake.
    let err = store
        .report_summary(&query(ReportGroup::Day, "Mars/Olympus"))
        .await
        .unwrap_err();
    assert!(matches!(err, switchboard_store::StoreError::Invalid(_)));
    // So is an empty range, or one too long for its rows.
    let mut q = query(ReportGroup::Day, BERLIN);
    q.filter.to = q.filter.from;
    let err = store.report_summary(&q).await.unwrap_err();
    assert!(matches!(err, switchboard_store::StoreError::Invalid(_)));
    let mut q = query(ReportGroup::Hour, BERLIN);
    q.filter.to = Timestamp(q.filter.from.0 + 367 * 86_400_000);
    let err = store.report_summary(&q).await.unwrap_err();
    assert!(matches!(err, switchboard_store::StoreError::Invalid(_)));
}

/// 2026-03-29, when Berlin moves from UTC+1 to UTC+2 at 01:00 UTC: the local day has 23 hours.
async fn daylight_saving_scenario(store: &Store) {
    // Local midnight of 2026-03-29 is 2026-03-28 23:00 UTC.
    let midnight = Timestamp(1_774_738_800_000);
    let utc = |h: i64, m: i64| Timestamp(midnight.0 + (h * 60 + m) * 60_000);
    let mut s = Script { facts: vec![] };
    s.arrived(utc(1, 30), "d1", "q1", 60, false) // 01:30 local (UTC+1)
        .arrived(utc(3, 30), "d2", "q1", 60, false); // 04:30 local (UTC+2)
    store
        .commit(&Changeset {
            facts: s.facts.clone(),
            ..Changeset::default()
        })
        .await
        .unwrap();
    let q = |group_by| SummaryQuery {
        filter: ReportFilter {
            from: midnight,
            to: utc(23, 0),
            ..ReportFilter::default()
        },
        group_by,
        tz: BERLIN.into(),
        now: utc(23, 0),
    };
    let s = store.report_summary(&q(ReportGroup::Hour)).await.unwrap();
    let keys: Vec<&str> = s.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), 23, "{keys:?}");
    assert!(!keys.contains(&"2026-03-29T02:00"), "02:00 does not exist");
    let with: Vec<&str> = s
        .rows
        .iter()
        .filter(|r| r.offered > 0)
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(with, ["2026-03-29T01:00", "2026-03-29T04:00"]);
    let s = store.report_summary(&q(ReportGroup::Day)).await.unwrap();
    let days: Vec<(&str, i64)> = s.rows.iter().map(|r| (r.key.as_str(), r.offered)).collect();
    assert_eq!(days, [("2026-03-29", 2)]);
}

async fn both(store: &Store) {
    scenario(store).await;
    daylight_saving_scenario(store).await;
}

#[tokio::test]
async fn a_scripted_day_gives_every_figure_exactly() {
    common::each_store("reports", |store| async move { both(&store).await }).await;
}

/// The messages of many steps in one commit (a webhook burst) count per interaction as they
/// do one step at a time.
#[tokio::test]
async fn messages_of_one_commit_count_per_interaction() {
    common::each_store("report_messages", |store| async move {
        let arrived = |i: &str| Fact {
            at: at(9, 0, 0),
            kind: FactKind::Arrived {
                interaction: iid(i),
                queue: QueueId::from("q1"),
                channel: None,
                customer: Customer {
                    wa_id: format!("49151{i}"),
                    name: None,
                },
                contact_id: None,
                outbound: false,
                sla_response_s: 60,
            },
        };
        let msg_in = |i: &str| Fact {
            at: at(9, 1, 0),
            kind: FactKind::MessageIn {
                interaction: iid(i),
            },
        };
        let msg_out = |i: &str| Fact {
            at: at(9, 2, 0),
            kind: FactKind::MessageOut {
                interaction: iid(i),
                agent: aid("a1"),
            },
        };
        let facts = vec![
            arrived("m1"),
            msg_in("m1"),
            arrived("m2"),
            msg_in("m1"),
            msg_out("m1"),
            msg_in("m2"),
            msg_in("m1"),
            msg_out("m1"),
            // An interaction with no report row (stored before reports existed): nothing.
            msg_in("gone"),
        ];
        store
            .commit(&Changeset {
                queues: vec![Queue::new(QueueId::from("q1"), "Support")],
                ..Changeset::default()
            })
            .await
            .unwrap();
        store
            .commit(&Changeset {
                facts,
                ..Changeset::default()
            })
            .await
            .unwrap();
        let rows = store.report_interactions(&range(), 10, None).await.unwrap();
        let counts: Vec<(&str, i64, i64)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.messages_in, r.messages_out))
            .collect();
        // The first customer message is counted by the arrival.
        assert_eq!(counts, [("m2", 2, 0), ("m1", 4, 2)]);
    })
    .await;
}

#[test]
fn days_and_hours_of_rows_are_ranges_of_instants() {
    // Berlin's spring change: a 23-hour day; the autumn one repeats 02:00, whose row covers both.
    let (from, to) = report_bucket_range("2026-03-29", BERLIN).unwrap();
    assert_eq!(to.0 - from.0, 23 * 3_600_000);
    let (from, to) = report_bucket_range("2026-10-25T02:00", BERLIN).unwrap();
    assert_eq!(from, Timestamp(1_792_886_400_000)); // 00:00 UTC
    assert_eq!(to.0 - from.0, 2 * 3_600_000);
    let (from, to) = report_bucket_range("2026-01-14T23:00", "UTC").unwrap();
    assert_eq!(to.0 - from.0, 3_600_000);
    for bad in [
        "2026-1-14",
        "2026-01-14T24:00",
        "2026-02-30",
        "yesterday",
        "",
    ] {
        assert!(report_bucket_range(bad, BERLIN).is_err(), "{bad}");
    }
    assert!(report_bucket_range("2026-01-14", "Mars/Olympus").is_err());
}

#[test]
fn facts_make_a_changeset_non_empty_and_extend_in_order() {
    let mut facts = script().into_iter();
    let (first, second) = (facts.next().unwrap(), facts.next().unwrap());
    let mut a = Changeset::default();
    assert!(a.is_empty());
    a.extend(Changeset {
        facts: vec![first.clone()],
        ..Changeset::default()
    });
    assert!(!a.is_empty(), "facts alone are something to commit");
    a.extend(Changeset {
        facts: vec![second.clone()],
        ..Changeset::default()
    });
    assert_eq!(a.facts, vec![first, second]);
}
