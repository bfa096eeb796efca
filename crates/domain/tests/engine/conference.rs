//! Conference.

use crate::support::*;
use switchboard_domain::*;

// ----- Conference -----------------------------------------------------------------------------

/// the owner invites an agent: while pending the interaction has a conference request with
/// an offer to them; on accept "NAME joined the conversation" is stored and both agents see the
/// interaction; "End conference" sends the invitee to wrap-up.
#[test]
fn r3_10_conference_with_an_agent() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    let c = cc.apply(invite("a1", "i1", to_agent("a2")), s(10));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    let it = cc.it("i1");
    let conf = it.conference.as_ref().expect("conference requested");
    assert_eq!(conf.requested_by, aid("a1"));
    let o = conf.offer.as_ref().unwrap();
    assert_eq!(
        (o.agent_id.clone(), o.kind.clone()),
        (aid("a2"), OfferKind::Conference { from: aid("a1") })
    );
    assert_eq!(it.owner_id, Some(aid("a1")), "the owner keeps it meanwhile");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(cc.load("a2"), 1, "the invitation takes a slot");
    cc.check(s(10));
    // A second invitation while one is pending is refused.
    refused(
        &mut cc.e,
        invite("a1", "i1", to_queue("q2")),
        s(10),
        "conference_pending",
    );

    let c = cc.accept("a2", "i1", s(11));
    assert_eq!(
        system_texts(&c),
        vec!["Bob joined the conversation".to_owned()]
    );
    assert_eq!(c.counters.conferences, 1);
    let updated: Vec<&Notice> = c
        .notices
        .iter()
        .filter(|n| {
            n.event
                == Event::InteractionUpdated {
                    interaction: iid("i1"),
                }
        })
        .collect();
    assert_eq!(updated.len(), 1);
    assert!(updated[0].to.contains(&aid("a1")) && updated[0].to.contains(&aid("a2")));
    let it = cc.it("i1");
    assert!(it.conference.is_none());
    let p = it.participant(&aid("a2")).unwrap();
    assert_eq!(
        (p.role, p.state),
        (ParticipantRole::Conference, ParticipantState::Active)
    );
    assert_eq!(it.owner_id, Some(aid("a1")));
    // Both can act on it.
    cc.reply("a2", "i1", s(12));
    cc.reply("a1", "i1", s(12));
    cc.check(s(12));

    let c = cc.end_conference("a1", "i1", s(20));
    assert_eq!(
        system_texts(&c),
        vec!["Bob left the conversation".to_owned()]
    );
    let it = cc.it("i1");
    let p = it.participant(&aid("a2")).unwrap();
    assert_eq!(p.state, ParticipantState::WrapUp);
    assert_eq!(p.wrap_up_deadline, Some(s(80)));
    assert_eq!(it.state, InteractionState::Active, "the owner carries on");
    assert_eq!(cc.load("a2"), 1);
    cc.wrap_up("a2", "i1", None, s(21));
    assert_eq!(cc.load("a2"), 0);
    cc.check(s(21));

    // The same agent can be invited again later and act on the interaction again.
    cc.apply(invite("a1", "i1", to_agent("a2")), s(22));
    cc.accept("a2", "i1", s(23));
    cc.reply("a2", "i1", s(24));
    cc.end_conference("a2", "i1", s(25));
    assert_eq!(
        cc.it("i1").participant(&aid("a2")).unwrap().state,
        ParticipantState::WrapUp
    );
    assert_eq!(cc.load("a2"), 1);
    cc.check(s(25));
}

/// inviting a queue offers the conference to one of its available agents (never the owner);
/// if they reject, another agent of the queue is tried.
#[test]
fn r3_10_conference_with_a_queue() {
    let mut cc = two_queues_with_owner();
    cc.agent("a4", "Dan", &["q2"], 2, true, T0);
    // The owner is also in q2: they must not be invited to their own interaction.
    cc.apply(
        Command::UpsertAgent(agent_config("a1", "Ann", &["q1", "q2"], 3, false)),
        s(4),
    );
    let c = cc.apply(invite("a1", "i1", to_queue("q2")), s(10));
    assert!(c.offers.is_empty(), "nobody available in Sales yet");
    assert!(cc.it("i1").conference.is_some(), "conference requested");
    cc.check(s(10));
    let c = cc.available("a3", s(11));
    assert_eq!(offers(&c), vec![offer("i1", "a3")]);
    cc.available("a4", s(12));
    let c = cc.reject("a3", "i1", s(13));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a3", WithdrawReason::Rejected)]
    );
    assert_eq!(
        offers(&c),
        vec![offer("i1", "a4")],
        "the next agent of the queue is tried"
    );
    assert_eq!(cc.presence_of("a3"), Presence::Rona);
    let c = cc.accept("a4", "i1", s(14));
    assert_eq!(
        system_texts(&c),
        vec!["Dan joined the conversation".to_owned()]
    );
    cc.check(s(14));
    // Ending the interaction sends both to wrap-up.
    cc.end("a1", "i1", s(15));
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::WrapUp);
    for a in ["a1", "a4"] {
        assert_eq!(
            it.participant(&aid(a)).unwrap().state,
            ParticipantState::WrapUp
        );
    }
    cc.wrap_up("a4", "i1", None, s(16));
    assert!(
        cc.e.interaction(&iid("i1")).is_some(),
        "not done until every agent wrapped up"
    );
    let c = cc.wrap_up("a1", "i1", None, s(17));
    assert_eq!(c.finished.len(), 1);
    cc.check(s(17));
}

/// the owner can cancel a pending invitation with "End conference"; the offer is withdrawn.
#[test]
fn r3_10_end_conference_cancels_a_pending_invitation() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.apply(invite("a1", "i1", to_agent("a2")), s(10));
    let c = cc.end_conference("a1", "i1", s(11));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a2", WithdrawReason::Cancelled)]
    );
    assert!(cc.it("i1").conference.is_none());
    assert_eq!(cc.load("a2"), 0);
    assert_eq!(
        cc.presence_of("a2"),
        Presence::Available,
        "a cancellation is no miss"
    );
    refused(
        &mut cc.e,
        Command::ConferenceEnd {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(12),
        "no_conference",
    );
    cc.check(s(12));
}
