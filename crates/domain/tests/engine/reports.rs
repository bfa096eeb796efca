//! Report facts: a scripted day yields exactly the facts reports are built from, each at
//! the time of the step that caused it.

use crate::support::*;
use switchboard_domain::*;

fn f(at: Timestamp, kind: FactKind) -> Fact {
    Fact { at, kind }
}

fn offer_made(i: &str, a: &str, source: OfferSource) -> FactKind {
    FactKind::OfferMade {
        interaction: iid(i),
        agent: aid(a),
        source,
    }
}

fn offer_ended(i: &str, a: &str, outcome: OfferOutcome) -> FactKind {
    FactKind::OfferEnded {
        interaction: iid(i),
        agent: aid(a),
        outcome,
    }
}

fn presence(a: &str, p: Presence, reason: Option<&str>) -> FactKind {
    FactKind::Presence {
        agent: aid(a),
        presence: p,
        reason: reason.map(str::to_owned),
    }
}

fn joined(i: &str, a: &str, role: ParticipantRole) -> FactKind {
    FactKind::Joined {
        interaction: iid(i),
        agent: aid(a),
        role,
    }
}

/// `a` wrapped up `i` with `disposition`; by the countdown or not, the closing wrap-up or not.
fn wrapped_up(
    i: &str,
    a: &str,
    disposition: Option<&str>,
    by_countdown: bool,
    closing: bool,
) -> FactKind {
    FactKind::WrappedUp {
        interaction: iid(i),
        agent: aid(a),
        disposition: disposition.map(str::to_owned),
        by_countdown,
        closing,
    }
}

fn transferred(i: &str, from: &str, to: Target) -> FactKind {
    FactKind::Transferred {
        interaction: iid(i),
        from: aid(from),
        to,
    }
}

/// The facts of step `c` are exactly `kinds`, in order, each at `at`.
#[track_caller]
fn assert_facts(c: &Changes, at: Timestamp, kinds: Vec<FactKind>) {
    let want: Vec<Fact> = kinds.into_iter().map(|kind| f(at, kind)).collect();
    assert_eq!(c.facts, want);
}

#[test]
fn a_scripted_interaction_yields_exactly_its_facts() {
    let mut cc = Cc::with_settings(Settings {
        offer_exclusion_s: 0,
        ..Settings::default()
    });
    let mut q = queue("q1");
    q.sla_response_s = 60;
    q.dispositions = vec![Disposition {
        code: "sale".into(),
        label: "Sale".into(),
    }];
    cc.queue(q, T0);
    let created = cc.apply(
        Command::UpsertAgent(AgentConfig {
            id: aid("a1"),
            display_name: "Ann".into(),
            role: Role::Agent,
            capacity: 2,
            can_reject: true,
            queue_ids: vec![qid("q1")],
        }),
        s(0),
    );
    assert_facts(
        &created,
        s(0),
        vec![presence("a1", Presence::Offline, None)],
    );
    cc.agent("a2", "Bob", &["q1"], 2, false, s(0));

    let c = cc.available("a1", s(1));
    assert_facts(&c, s(1), vec![presence("a1", Presence::Available, None)]);

    // A customer writes: the interaction arrives and is offered at once.
    let c = cc.inbound("i1", "c1", "q1", s(2));
    assert_facts(
        &c,
        s(2),
        vec![
            FactKind::Arrived {
                interaction: iid("i1"),
                queue: qid("q1"),
                channel: Some("ch1".into()),
                customer: msg("i1", "c1", "q1").customer,
                contact_id: None,
                outbound: false,
                sla_response_s: 60,
            },
            offer_made("i1", "a1", OfferSource::Route),
        ],
    );

    // Ann rejects: her offer ends rejected and she goes to rona.
    let c = cc.reject("a1", "i1", s(3));
    assert_facts(
        &c,
        s(3),
        vec![
            offer_ended("i1", "a1", OfferOutcome::Rejected),
            presence("a1", Presence::Rona, Some("Rejected offer")),
        ],
    );

    // Bob becomes available, is offered it and lets it time out (30 s).
    let c = cc.available("a2", s(4));
    assert_facts(
        &c,
        s(4),
        vec![
            presence("a2", Presence::Available, None),
            offer_made("i1", "a2", OfferSource::Route),
        ],
    );
    assert!(
        cc.tick(s(33)).facts.is_empty(),
        "nothing before the deadline"
    );
    let c = cc.tick(s(34));
    assert_facts(
        &c,
        s(34),
        vec![
            offer_ended("i1", "a2", OfferOutcome::Missed),
            presence("a2", Presence::Rona, Some("Missed offer")),
        ],
    );

    // Ann comes back and accepts: the interaction's first answer, her participation begins.
    let c = cc.available("a1", s(40));
    assert_facts(
        &c,
        s(40),
        vec![
            presence("a1", Presence::Available, None),
            offer_made("i1", "a1", OfferSource::Route),
        ],
    );
    let c = cc.accept("a1", "i1", s(41));
    assert_facts(
        &c,
        s(41),
        vec![
            offer_ended("i1", "a1", OfferOutcome::Accepted),
            FactKind::Answered {
                interaction: iid("i1"),
                agent: aid("a1"),
            },
            joined("i1", "a1", ParticipantRole::Owner),
        ],
    );

    // Messages both ways; only the first agent message is the first response.
    let c = cc.inbound("ignored", "c1", "q1", s(42));
    assert_facts(
        &c,
        s(42),
        vec![FactKind::MessageIn {
            interaction: iid("i1"),
        }],
    );
    let c = cc.reply("a1", "i1", s(45));
    assert_facts(
        &c,
        s(45),
        vec![
            FactKind::FirstResponse {
                interaction: iid("i1"),
                agent: aid("a1"),
            },
            FactKind::MessageOut {
                interaction: iid("i1"),
                agent: aid("a1"),
            },
        ],
    );
    let c = cc.reply("a1", "i1", s(46));
    assert_facts(
        &c,
        s(46),
        vec![FactKind::MessageOut {
            interaction: iid("i1"),
            agent: aid("a1"),
        }],
    );

    // Ann transfers to Bob, who accepts: no second answer, a second participation.
    cc.available("a2", s(47));
    let c = cc.apply(transfer("a1", "i1", to_agent("a2")), s(50));
    assert_facts(
        &c,
        s(50),
        vec![
            transferred("i1", "a1", Target::Agent(aid("a2"))),
            offer_made("i1", "a2", OfferSource::Transfer),
        ],
    );
    let c = cc.accept("a2", "i1", s(52));
    assert_facts(
        &c,
        s(52),
        vec![
            offer_ended("i1", "a2", OfferOutcome::Accepted),
            joined("i1", "a2", ParticipantRole::Owner),
        ],
    );

    // Ann wraps up her part with a code: not the closing wrap-up.
    let c = cc.wrap_up("a1", "i1", Some("sale"), s(55));
    assert_facts(
        &c,
        s(55),
        vec![wrapped_up("i1", "a1", Some("sale"), false, false)],
    );

    // Bob ends it and lets the countdown (60 s) complete his wrap-up: the interaction is done.
    let c = cc.end("a2", "i1", s(60));
    assert_facts(
        &c,
        s(60),
        vec![FactKind::Ended {
            interaction: iid("i1"),
            by: aid("a2"),
        }],
    );
    let c = cc.tick(s(120));
    assert_facts(
        &c,
        s(120),
        vec![
            wrapped_up("i1", "a2", None, true, true),
            FactKind::Completed {
                interaction: iid("i1"),
            },
        ],
    );
}

#[test]
fn offers_taken_back_are_withdrawn_and_an_outbound_start_is_joined_not_offered() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    // Going on break takes the offer back: withdrawn, neither missed nor rejected.
    let c = cc.presence("a1", Presence::OnBreak, s(3));
    assert_facts(
        &c,
        s(3),
        vec![
            presence("a1", Presence::OnBreak, Some("Lunch")),
            offer_ended("i1", "a1", OfferOutcome::Withdrawn),
        ],
    );
    let c = cc.apply(
        Command::StartOutbound(Outbound {
            agent: aid("a1"),
            new_interaction_id: iid("o1"),
            conversation_id: ConversationId::from("c9"),
            queue_id: qid("q1"),
            channel_id: None,
            source_number: None,
            customer: Customer {
                wa_id: "49151".into(),
                name: None,
            },
            contact_id: Some("k1".into()),
            last_inbound_at: None,
        }),
        s(4),
    );
    assert_facts(
        &c,
        s(4),
        vec![
            FactKind::Arrived {
                interaction: iid("o1"),
                queue: qid("q1"),
                channel: None,
                customer: Customer {
                    wa_id: "49151".into(),
                    name: None,
                },
                contact_id: Some("k1".into()),
                outbound: true,
                sla_response_s: DEFAULT_SLA_RESPONSE_S,
            },
            joined("o1", "a1", ParticipantRole::Owner),
        ],
    );
}

#[test]
fn a_refused_command_and_a_restart_emit_no_facts() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    let o = cc.e.apply(
        Command::Reject {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(3),
    );
    assert!(o.result.is_err());
    assert!(o.changes.facts.is_empty());
    let (_, changes) = Engine::load(
        Settings::default(),
        cc.e.agents().cloned().collect(),
        cc.e.queues().cloned().collect(),
        cc.e.interactions().cloned().collect(),
        s(4),
    );
    assert!(changes.facts.is_empty());
}

/// A conference: the invitee's offer and participation are facts, their wrap-up is not the
/// closing one; a transfer to a queue routes a new offer from there.
#[test]
fn a_conference_and_a_transfer_to_a_queue() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    let c = cc.apply(invite("a1", "i1", to_agent("a2")), s(10));
    assert_facts(
        &c,
        s(10),
        vec![offer_made("i1", "a2", OfferSource::Conference)],
    );
    let c = cc.accept("a2", "i1", s(11));
    assert_facts(
        &c,
        s(11),
        vec![
            offer_ended("i1", "a2", OfferOutcome::Accepted),
            joined("i1", "a2", ParticipantRole::Conference),
        ],
    );
    // "End conference": Bob goes to wrap-up; his code is his own, not the interaction's.
    cc.end_conference("a1", "i1", s(12));
    let c = cc.wrap_up("a2", "i1", None, s(13));
    assert_facts(&c, s(13), vec![wrapped_up("i1", "a2", None, false, false)]);
    // Ann transfers to Sales, where Cid is offered it by the router.
    cc.available("a3", s(14));
    let c = cc.apply(transfer("a1", "i1", to_queue("q2")), s(20));
    assert_facts(
        &c,
        s(20),
        vec![
            transferred("i1", "a1", Target::Queue(qid("q2"))),
            offer_made("i1", "a3", OfferSource::Route),
        ],
    );
}

/// A customer who comes back is offered to their last agent first: a sticky offer.
#[test]
fn a_sticky_offer_says_so() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.sticky = true;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.available("a1", s(1));
    let mut m = msg("i1", "c1", "q1");
    m.last_agent = Some(aid("a1"));
    let c = cc.apply(Command::Inbound(m), s(2));
    assert_eq!(
        c.facts[1],
        f(s(2), offer_made("i1", "a1", OfferSource::Sticky))
    );
}

/// A deleted agent's timeline ends: they are offline from then on.
#[test]
fn deleting_an_available_agent_ends_their_timeline() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.available("a1", s(1));
    let c = cc.apply(Command::DeleteAgent(aid("a1")), s(5));
    assert_facts(&c, s(5), vec![presence("a1", Presence::Offline, None)]);
}
