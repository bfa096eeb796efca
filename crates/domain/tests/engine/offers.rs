//! Offers: contents, accept and reject, timeout, RONA and exclusion,
//! exclusivity.

use crate::support::*;
use std::collections::BTreeSet;
use switchboard_domain::engine::Inbound;
use switchboard_domain::*;

// ----- Offer contents --------------------------------------------------------------------

/// an offer carries the customer, their number, the source number, the queue, the first
/// message and the time the customer has been waiting.
#[test]
fn r2_6_offer_carries_customer_source_queue_first_message_and_wait() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.name = "Support".into();
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    let c = cc.apply(
        Command::Inbound(Inbound {
            new_interaction_id: iid("i1"),
            conversation_id: ConversationId::from("c1"),
            queue_id: qid("q1"),
            channel_id: Some("ch1".into()),
            source_number: Some("+15550100".into()),
            customer: Customer {
                wa_id: "34600111222".into(),
                name: Some("María".into()),
            },
            contact_id: Some("contact-7".into()),
            summary: Some("My order is late".into()),
            last_agent: None,
            reaction: false,
        }),
        s(1),
    );
    assert!(
        c.interactions.contains(&iid("i1")),
        "the new interaction is persisted"
    );
    let c = cc.available("a1", s(8));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    assert!(c.notices.iter().any(|n| n.to == vec![aid("a1")]
        && n.event
            == Event::OfferCreated {
                interaction: iid("i1"),
                agent: aid("a1"),
            }));

    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Offered);
    assert_eq!(it.customer.name.as_deref(), Some("María"));
    assert_eq!(it.customer.wa_id, "34600111222");
    assert_eq!(it.source_number.as_deref(), Some("+15550100"));
    assert_eq!(cc.e.queue(&it.queue_id).unwrap().name, "Support");
    assert_eq!(it.first_message.as_deref(), Some("My order is late"));
    assert_eq!(it.contact_id.as_deref(), Some("contact-7"));
    let o = it.offer.as_ref().unwrap();
    assert_eq!(o.kind, OfferKind::Route);
    assert_eq!(o.offered_at, s(8));
    assert_eq!(
        o.offered_at.millis_since(it.waiting_since),
        7_000,
        "waited 7 s when offered"
    );
    assert_eq!(o.deadline, s(8 + 30), "default acceptance interval 30 s");
}

// ----- Accept and reject -----------------------------------------------------------------

/// accepting makes the agent the interaction's owner.
#[test]
fn r2_7_accept_makes_the_agent_the_owner() {
    let mut cc = offered_to_a1(false);
    let c = cc.accept("a1", "i1", s(5));
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(it.owner_id, Some(aid("a1")));
    assert_eq!(it.offer, None);
    assert_eq!(it.accepted_at, Some(s(5)));
    let p = it.participant(&aid("a1")).unwrap();
    assert_eq!(
        (p.role, p.state, p.joined_at),
        (ParticipantRole::Owner, ParticipantState::Active, s(5))
    );
    assert_eq!(c.counters.accepts, 1);
    assert!(c.interactions.contains(&iid("i1")));
    assert!(c.notices.iter().any(|n| n.event
        == Event::InteractionUpdated {
            interaction: iid("i1")
        }
        && n.to.contains(&aid("a1"))));
    assert_eq!(cc.load("a1"), 1, "accepting keeps the slot");
    cc.check(s(5));

    // Accepting again, or an offer that is not yours, is refused.
    refused(
        &mut cc.e,
        Command::Accept {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(6),
        "offer_not_pending",
    );
    let e = refused(
        &mut cc.e,
        Command::Accept {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(6),
        "not_found",
    );
    assert!(
        matches!(e, DomainError::NotFound { .. }),
        "another agent's interaction is invisible"
    );
}

/// without `can_reject` the reject is refused (403 `reject_not_permitted`) and nothing
/// changes: the offer stays pending with its deadline.
#[test]
fn r2_7_reject_without_permission_is_forbidden_and_changes_nothing() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.available("a2", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    let cmd = Command::Reject {
        agent: aid("a1"),
        interaction: iid("i1"),
    };
    let e = refused(&mut cc.e, cmd, s(5), "reject_not_permitted");
    assert!(matches!(e, DomainError::Forbidden { .. }));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(cc.it("i1").offer.as_ref().unwrap().deadline, s(34));
    cc.check(s(5));
}

/// with `can_reject` a reject withdraws the offer, puts the interaction back at the
/// head of the queue, makes the agent `rona` and offers it to the next agent.
#[test]
fn r2_7_reject_with_permission_offers_to_the_next_agent() {
    let mut cc = offered_to_a1(true);
    cc.inbound("i2", "c2", "q1", s(5));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));
    let c = cc.reject("a1", "i1", s(6));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a1", WithdrawReason::Rejected)]
    );
    assert_eq!(c.counters.rejects, 1);
    assert_eq!(c.counters.misses, 0);
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]), "back at the head");
    assert_eq!(cc.load("a1"), 0);
    cc.check(s(6));
    // The next agent to become available gets it.
    let c = cc.available("a2", s(7));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    cc.check(s(7));
}

// ----- Offer timeout, RONA, exclusion ------------------------------------------------------

/// an unanswered offer expires exactly at its deadline (not one millisecond before): the
/// agent goes `rona` and the interaction goes back to the head of its queue.
#[test]
fn r2_8_offer_times_out_at_the_deadline_not_before() {
    let mut cc = offered_to_a1(false);
    cc.inbound("i2", "c2", "q1", s(5));
    let deadline = cc.it("i1").offer.as_ref().unwrap().deadline;
    assert_eq!(deadline, s(34));
    assert_eq!(cc.e.next_deadline(), Some(deadline));

    let c = cc.tick(t(deadline.0 - T0.0 - 1));
    assert!(c.is_empty(), "one ms early: nothing happens");
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));

    let c = cc.tick(deadline);
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a1", WithdrawReason::Timeout)]
    );
    assert_eq!(c.counters.misses, 1);
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    assert!(c
        .notices
        .iter()
        .any(|n| n.event == Event::PresenceChanged { agent: aid("a1") }));
    assert_eq!(
        cc.waiting("q1"),
        ids(&["i1", "i2"]),
        "re-queued at the head"
    );
    assert_eq!(cc.it("i1").state, InteractionState::Queued);
    assert_eq!(
        cc.it("i1").waiting_since,
        s(4),
        "the wait timer keeps running"
    );
    assert_eq!(cc.load("a1"), 0);
}

/// an accept one millisecond before the deadline wins; at the deadline the offer is gone.
#[test]
fn r2_8_accept_races_the_deadline() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.available("a2", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i2", "c2", "q1", s(4));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.offered_to("i2"), Some(aid("a2")));
    cc.accept("a1", "i1", t(34_000 - 1));
    assert_eq!(cc.it("i1").owner_id, Some(aid("a1")));
    let e = err(cc.e.apply(
        Command::Accept {
            agent: aid("a2"),
            interaction: iid("i2"),
        },
        s(34),
    ));
    assert_eq!(e.code(), "offer_not_pending");
    assert_eq!(cc.presence_of("a2"), Presence::Rona);
    assert_eq!(cc.it("i2").state, InteractionState::Queued);
    cc.check(s(34));
}

/// the queue's acceptance interval sets the deadline.
#[test]
fn r2_8_acceptance_interval_comes_from_the_queue() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.acceptance_interval_s = 7;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    assert_eq!(cc.it("i1").offer.as_ref().unwrap().deadline, s(9));
    assert!(cc.tick(t(8_999)).is_empty());
    assert_eq!(withdrawals(&cc.tick(s(9))).len(), 1);
}

/// with `after_missed_offer = on_break` a missed offer puts the agent on break instead.
#[test]
fn r2_8_after_missed_offer_on_break() {
    let settings = Settings {
        after_missed_offer: AfterMissedOffer::OnBreak,
        ..Settings::default()
    };
    let mut cc = Cc::with_settings(settings);
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, true, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.tick(s(32));
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(a.presence, Presence::OnBreak);
    assert!(a.break_reason.is_some(), "the break says why");
    assert_eq!(cc.waiting("q1"), ids(&["i1"]));
    // A reject does the same.
    cc.available("a1", s(33));
    // ... but a1 is excluded from i1 for a while, so a new one comes.
    cc.inbound("i2", "c2", "q1", s(34));
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
    cc.reject("a1", "i2", s(35));
    assert_eq!(cc.presence_of("a1"), Presence::OnBreak);
    assert_eq!(
        cc.waiting("q1"),
        ids(&["i2", "i1"]),
        "the latest missed is at the head"
    );
    cc.check(s(35));
}

/// the agent who missed an offer is excluded from re-offers of that interaction until the
/// exclusion expires (`offer_exclusion_s`, default 300 s), then it can reach them again; other
/// interactions reach them at once.
#[test]
fn r2_8_missed_agent_is_excluded_from_re_offers_until_expiry() {
    let mut cc = ann_available();
    cc.inbound("i1", "c1", "q1", s(2));
    cc.tick(s(32)); // missed
    let ex = &cc.it("i1").exclusions;
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].agent_id.clone(), ex[0].until),
        (aid("a1"), s(32 + 300))
    );

    let c = cc.available("a1", s(40));
    assert!(c.offers.is_empty(), "a1 is excluded from i1");
    cc.check(s(40));
    let c = cc.inbound("i2", "c2", "q1", s(41));
    assert_eq!(offers(&c), vec![offer("i2", "a1")], "but not from others");
    cc.accept("a1", "i2", s(42));
    assert_eq!(cc.waiting("q1"), ids(&["i1"]));

    assert!(
        cc.tick(t(332_000 - 1)).is_empty(),
        "still excluded one ms before expiry"
    );
    let c = cc.tick(s(332));
    assert_eq!(
        offers(&c),
        vec![offer("i1", "a1")],
        "offered again at expiry"
    );
    assert!(cc.it("i1").exclusions.is_empty());
}

/// with `offer_exclusion_s = 0` nobody is excluded: an agent who missed an offer gets it
/// again as soon as they are available again.
#[test]
fn r2_8_zero_exclusion_excludes_nobody() {
    let settings = Settings {
        offer_exclusion_s: 0,
        ..Settings::default()
    };
    let mut cc = Cc::with_settings(settings);
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, true, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.reject("a1", "i1", s(3));
    assert!(cc.it("i1").exclusions.is_empty());
    cc.check(s(3));
    let c = cc.available("a1", s(4));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    cc.check(s(4));
}

/// from `rona` the agent returns to `available` only by their own action: time passing,
/// other agents' actions and other commands of theirs do not change it.
#[test]
fn r2_8_rona_ends_only_by_the_agents_own_action() {
    let mut cc = offered_to_a1(false);
    cc.tick(s(34));
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: true,
        },
        s(40),
    );
    cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: false,
        },
        s(41),
    );
    cc.apply(Command::Connected { agent: aid("a1") }, s(42));
    // a2 takes i1 and keeps it; i2 and i3 wait.
    assert_eq!(offers(&cc.available("a2", s(43))), vec![offer("i1", "a2")]);
    cc.accept("a2", "i1", s(43));
    cc.inbound("i2", "c2", "q1", s(44));
    for h in 1..=48 {
        cc.tick(s(3600 * h));
    }
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    let c = cc.inbound("i3", "c3", "q1", s(3600 * 48 + 1));
    assert!(
        !offers(&c).iter().any(|(_, a)| a == "a1"),
        "rona receives nothing"
    );

    assert_eq!(cc.waiting("q1"), ids(&["i2", "i3"]));
    let c = cc.available("a1", s(3600 * 48 + 2));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(offers(&c), vec![offer("i2", "a1")]);
    cc.check(s(3600 * 48 + 2));
}

// ----- Exclusive offers --------------------------------------------------------------------

/// nothing is ever offered to two agents at once, and nobody gets more than capacity,
/// however many agents and interactions there are.
#[test]
fn r2_9_nothing_offered_to_two_agents_and_nobody_over_capacity() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.queue(queue("q2"), T0);
    for n in 0..6 {
        let qs: &[&str] = if n % 2 == 0 { &["q1", "q2"] } else { &["q1"] };
        cc.agent(&format!("a{n}"), &format!("Agent {n}"), qs, 2, true, T0);
    }
    for n in 0..20 {
        let q = if n % 3 == 0 { "q2" } else { "q1" };
        cc.inbound(&format!("i{n}"), &format!("c{n}"), q, s(1));
    }
    let mut all = Vec::new();
    for n in 0..6 {
        all.extend(offers(&cc.available(&format!("a{n}"), s(2))));
    }
    assert_eq!(all.len(), 12, "6 agents x capacity 2");
    let distinct: BTreeSet<&String> = all.iter().map(|(i, _)| i).collect();
    assert_eq!(distinct.len(), 12, "each interaction offered once");
    for n in 0..6 {
        assert_eq!(cc.load(&format!("a{n}")), 2);
    }
    cc.check(s(2));
    // Everybody rejects everything: each is offered again, never to two at once.
    for n in 0..6 {
        for (i, _) in all.iter().filter(|(_, a)| a == &format!("a{n}")) {
            let _ = cc.e.apply(
                Command::Reject {
                    agent: aid(&format!("a{n}")),
                    interaction: iid(i),
                },
                s(3),
            );
            cc.check(s(3));
        }
    }
    for it in cc.e.interactions() {
        assert!(it.offered_agents().count() <= 1);
    }
}

/// the presence after a reject says it was a reject, after a timeout that the offer was
/// missed, under either `after_missed_offer`.
#[test]
fn r2_8_presence_after_a_reject_or_a_timeout_says_which() {
    for after in [AfterMissedOffer::Rona, AfterMissedOffer::OnBreak] {
        let mut cc = Cc::with_settings(Settings {
            after_missed_offer: after,
            ..Settings::default()
        });
        cc.queue(queue("q1"), T0);
        cc.agent("a1", "Ann", &["q1"], 3, true, T0);
        cc.available("a1", s(1));
        cc.inbound("i1", "c1", "q1", s(2));
        cc.reject("a1", "i1", s(3));
        let expected = match after {
            AfterMissedOffer::Rona => Presence::Rona,
            AfterMissedOffer::OnBreak => Presence::OnBreak,
        };
        let a = cc.e.agent(&aid("a1")).unwrap();
        assert_eq!(a.presence, expected);
        assert_eq!(a.break_reason.as_deref(), Some("Rejected offer"));
        cc.available("a1", s(4));
        assert_eq!(cc.e.agent(&aid("a1")).unwrap().break_reason, None);
        cc.inbound("i2", "c2", "q1", s(5));
        assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
        cc.tick(s(40));
        let a = cc.e.agent(&aid("a1")).unwrap();
        assert_eq!(a.presence, expected);
        assert_eq!(a.break_reason.as_deref(), Some("Missed offer"));
    }
}
