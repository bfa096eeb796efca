//! A supervisor acting on others' work: an agent's presence, take-over and reassigning
//! any active interaction.

use crate::support::*;
use switchboard_domain::*;

/// Adds supervisor s1 "Sue" (capacity `capacity`, member of `queues`), offline.
fn add_sue(cc: &mut Cc, queues: &[&str], capacity: u32) {
    let sue = AgentConfig {
        role: Role::Supervisor,
        ..agent_config("s1", "Sue", queues, capacity, false)
    };
    cc.apply(Command::UpsertAgent(sue), T0);
}

fn set_by_sue(agent: &str, presence: Presence, reason: Option<&str>) -> Command {
    Command::SetAgentPresence {
        supervisor: aid("s1"),
        agent: aid(agent),
        presence,
        reason: reason.map(str::to_owned),
    }
}

fn take_over(by: &str, i: &str) -> Command {
    Command::TakeOver {
        supervisor: aid(by),
        interaction: iid(i),
    }
}

fn reassign(by: &str, i: &str, target: Target) -> Command {
    Command::Reassign {
        supervisor: aid(by),
        interaction: iid(i),
        target,
    }
}

/// Who received an `interaction.updated` about `i` in this step.
fn updated_to(c: &Changes, i: &str) -> Vec<AgentId> {
    let mut to: Vec<AgentId> = c
        .notices
        .iter()
        .filter(|n| {
            n.event
                == Event::InteractionUpdated {
                    interaction: iid(i),
                }
        })
        .flat_map(|n| n.to.clone())
        .collect();
    to.sort();
    to.dedup();
    to
}

// ----- An agent's presence, set by a supervisor --------------------------------------------

/// a supervisor sets an agent offline: the agent's pending offer is withdrawn and routed
/// to someone else at once, the interaction the agent accepted stays theirs, and the presence
/// notice goes to the agent (and supervisors) with who changed it.
#[test]
fn r8_9_offline_by_a_supervisor_reroutes_offers_and_keeps_accepted_work() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.agent("a2", "Bob", &["q1"], 1, false, T0);
    add_sue(&mut cc, &[], 1);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.inbound("i2", "c2", "q1", s(4));
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
    cc.available("a2", s(5));
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")), "Ann still has it");

    let c = cc.apply(set_by_sue("a1", Presence::Offline, None), s(6));
    assert_eq!(cc.presence_of("a1"), Presence::Offline);
    assert_eq!(
        withdrawals(&c),
        vec![(
            "i2".to_owned(),
            "a1".to_owned(),
            WithdrawReason::AgentUnavailable
        )]
    );
    assert_eq!(offers(&c), vec![offer("i2", "a2")], "re-routed at once");
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(it.owner_id, Some(aid("a1")), "accepted work stays theirs");
    assert_eq!(cc.load("a1"), 1);
    assert_eq!(c.presence_set_by.get(&aid("a1")), Some(&aid("s1")));
    let notice = c
        .notices
        .iter()
        .find(|n| n.event == Event::PresenceChanged { agent: aid("a1") })
        .expect("a presence notice");
    assert_eq!(notice.to, vec![aid("a1"), aid("s1")]);
    assert!(system_texts(&c).is_empty());
    cc.check(s(6));

    // The agent's own change says nobody else did it.
    let c = cc.available("a1", s(7));
    assert!(c.presence_set_by.is_empty());
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    cc.check(s(7));
}

/// the agent's own rules apply to a supervisor's choice; only supervisors and admins
/// may make it; a choice that changes nothing says nothing.
#[test]
fn r8_9_the_agents_rules_apply_and_only_supervisors_may_set_presence() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.agent("a2", "Bob", &["q1"], 1, false, T0);
    add_sue(&mut cc, &[], 1);
    cc.available("a1", s(1));
    let now = s(2);
    let by_bob = Command::SetAgentPresence {
        supervisor: aid("a2"),
        agent: aid("a1"),
        presence: Presence::Offline,
        reason: None,
    };
    refused(&mut cc.e, by_bob, now, "not_supervisor");
    refused(
        &mut cc.e,
        set_by_sue("a1", Presence::Rona, None),
        now,
        "invalid_presence",
    );
    refused(
        &mut cc.e,
        set_by_sue("a1", Presence::OnBreak, None),
        now,
        "break_reason_required",
    );
    refused(
        &mut cc.e,
        set_by_sue("a1", Presence::OnBreak, Some("Nap")),
        now,
        "unknown_break_reason",
    );
    refused(
        &mut cc.e,
        set_by_sue("zz", Presence::Offline, None),
        now,
        "not_found",
    );

    let c = cc.apply(set_by_sue("a1", Presence::OnBreak, Some(" Lunch ")), now);
    let a1 = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(a1.presence, Presence::OnBreak);
    assert_eq!(a1.break_reason.as_deref(), Some("Lunch"));
    assert_eq!(a1.presence_since, now);
    assert_eq!(c.presence_set_by.get(&aid("a1")), Some(&aid("s1")));

    let c = cc.apply(set_by_sue("a1", Presence::OnBreak, Some("Lunch")), s(3));
    assert!(c.is_empty(), "nothing changed: {c:?}");
    assert!(c.presence_set_by.is_empty());

    // Sue setting her own presence is her own choice.
    let c = cc.apply(set_by_sue("s1", Presence::Available, None), s(4));
    assert_eq!(cc.presence_of("s1"), Presence::Available);
    assert!(c.presence_set_by.is_empty());
    cc.check(s(4));
}

/// with: a supervisor's choice is no sign of life from the agent, so a disconnected
/// agent's grace period runs on; once it ran out only offline can be set for them.
#[test]
fn r8_9_a_disconnected_agent_keeps_their_grace_and_a_gone_one_can_only_be_set_offline() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    add_sue(&mut cc, &[], 1);
    cc.apply(Command::Connected { agent: aid("a1") }, s(1));
    cc.available("a1", s(1));
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(10));

    cc.apply(set_by_sue("a1", Presence::OnBreak, Some("Meeting")), s(20));
    assert_eq!(cc.presence_of("a1"), Presence::OnBreak);
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().disconnected_since,
        Some(s(10)),
        "the grace period is not renewed"
    );
    cc.tick(s(69));
    assert_eq!(cc.presence_of("a1"), Presence::OnBreak);
    cc.tick(s(70));
    assert_eq!(cc.presence_of("a1"), Presence::Offline, "grace ran out");

    refused(
        &mut cc.e,
        set_by_sue("a1", Presence::Available, None),
        s(80),
        "agent_disconnected",
    );
    refused(
        &mut cc.e,
        set_by_sue("a1", Presence::OnBreak, Some("Lunch")),
        s(80),
        "agent_disconnected",
    );
    // Back online, the agent can be set available by the supervisor again.
    cc.apply(Command::Connected { agent: aid("a1") }, s(90));
    cc.apply(set_by_sue("a1", Presence::Available, None), s(91));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    cc.check(s(91));
}

// ----- Take over -------------------------------------------------------------------------

/// the supervisor becomes the owner; the previous owner goes to wrap-up with the queue's
/// countdown; both hear about it; the transcript says so; nothing is offered or counted as a
/// transfer.
#[test]
fn r8_8_take_over_makes_the_supervisor_owner_and_wraps_up_the_previous_owner() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 1);
    let c = cc.apply(take_over("s1", "i1"), s(10));
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(it.owner_id, Some(aid("s1")));
    assert_eq!(
        it.accepted_at,
        Some(s(3)),
        "the customer's interaction goes on"
    );
    let ann = it.participant(&aid("a1")).unwrap();
    assert_eq!(ann.state, ParticipantState::WrapUp);
    assert_eq!(ann.role, ParticipantRole::Owner);
    assert_eq!(ann.left_at, Some(s(10)));
    assert_eq!(
        ann.wrap_up_deadline,
        Some(s(70)),
        "Support's 60 s countdown"
    );
    let sue = it.participant(&aid("s1")).unwrap();
    assert_eq!(
        (sue.role, sue.state, sue.joined_at),
        (ParticipantRole::Owner, ParticipantState::Active, s(10))
    );
    assert_eq!(system_texts(&c), vec!["Sue took over from Ann".to_owned()]);
    assert_eq!(updated_to(&c, "i1"), vec![aid("a1"), aid("s1")]);
    assert!(c.offers.is_empty());
    assert_eq!(c.counters.transfers, 0);
    assert_eq!((cc.load("a1"), cc.load("s1")), (1, 1));
    cc.check(s(10));

    // Sue answers the customer; Ann cannot any more, and wraps up.
    cc.reply("s1", "i1", s(11));
    refused(&mut cc.e, reply_cmd("a1", "i1"), s(11), "not_active");
    cc.wrap_up("a1", "i1", None, s(12));
    assert_eq!(cc.load("a1"), 0);
    // Sue ends it and wraps up: done.
    cc.end("s1", "i1", s(13));
    let c = cc.wrap_up("s1", "i1", None, s(14));
    assert_eq!(c.finished.len(), 1);
    assert_eq!(cc.load("s1"), 0);
    cc.check(s(14));
}

/// a take-over is not refused for capacity (or presence); while it keeps the supervisor
/// above capacity they get no offers: a pending one is withdrawn and goes back to the head of
/// its queue, and new customers wait for someone else.
#[test]
fn r8_8_take_over_ignores_capacity_and_routes_nothing_beyond_it() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &["q1"], 2);
    cc.available("s1", s(4));
    cc.inbound("i5", "c5", "q1", s(5));
    cc.accept("s1", "i5", s(6));
    cc.inbound("i6", "c6", "q1", s(7));
    assert_eq!(cc.offered_to("i6"), Some(aid("s1")));
    assert_eq!(cc.load("s1"), 2, "full");

    let c = cc.apply(take_over("s1", "i1"), s(10));
    assert_eq!(cc.it("i1").owner_id, Some(aid("s1")));
    assert_eq!(cc.load("s1"), 2, "i5 and i1; the offer of i6 went back");
    assert_eq!(
        withdrawals(&c),
        vec![(
            "i6".to_owned(),
            "s1".to_owned(),
            WithdrawReason::AgentUnavailable
        )]
    );
    assert_eq!(cc.waiting("q1"), ids(&["i6"]));
    cc.check(s(10));

    // Ann wraps up i1 and gets i6; a new customer waits while Sue is full.
    let c = cc.wrap_up("a1", "i1", None, s(11));
    assert_eq!(offers(&c), vec![offer("i6", "a1")]);
    cc.inbound("i7", "c7", "q1", s(12));
    assert_eq!(cc.waiting("q1"), ids(&["i7"]));

    // An offline supervisor at capacity 1 with one interaction takes over one more: load 2.
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &["q2"], 1);
    cc.available("s1", s(4));
    cc.inbound("i6", "c6", "q2", s(6));
    assert_eq!(cc.offered_to("i6"), Some(aid("s1")));
    cc.accept("s1", "i6", s(6));
    cc.presence("s1", Presence::Offline, s(7));
    cc.apply(take_over("s1", "i1"), s(10));
    assert_eq!(cc.load("s1"), 2);
    assert_eq!(cc.presence_of("s1"), Presence::Offline);
    cc.check(s(10));
}

/// conference participants stay; the previous owner's pending invitation is cancelled;
/// a supervisor who had joined the conference becomes the owner in that same participation.
#[test]
fn r8_8_take_over_keeps_conference_participants_and_cancels_the_pending_invitation() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 2);
    cc.available("a2", s(4));
    cc.available("a3", s(4));
    cc.apply(invite("a1", "i1", to_agent("a2")), s(5));
    cc.accept("a2", "i1", s(6));
    cc.apply(invite("a1", "i1", to_agent("a3")), s(7));
    assert_eq!(cc.load("a3"), 1, "invited");

    let c = cc.apply(take_over("s1", "i1"), s(10));
    let it = cc.it("i1");
    assert_eq!(it.owner_id, Some(aid("s1")));
    assert!(it.conference.is_none(), "Ann's invitation went with her");
    let bob = it.participant(&aid("a2")).unwrap();
    assert_eq!(
        (bob.role, bob.state),
        (ParticipantRole::Conference, ParticipantState::Active)
    );
    assert_eq!(
        withdrawals(&c),
        vec![("i1".to_owned(), "a3".to_owned(), WithdrawReason::Cancelled)]
    );
    assert_eq!(cc.load("a3"), 0);
    assert_eq!(
        updated_to(&c, "i1"),
        vec![aid("a1"), aid("a2"), aid("a3"), aid("s1")]
    );
    cc.check(s(10));

    // A supervisor in the conference takes over in place.
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 2);
    cc.available("s1", s(4));
    cc.apply(invite("a1", "i1", to_agent("s1")), s(5));
    cc.accept("s1", "i1", s(6));
    assert_eq!(cc.load("s1"), 1);
    cc.apply(take_over("s1", "i1"), s(10));
    let it = cc.it("i1");
    let mine: Vec<&Participant> = it
        .participants
        .iter()
        .filter(|p| p.agent_id == aid("s1"))
        .collect();
    assert_eq!(mine.len(), 1, "one participation");
    assert_eq!(
        (mine[0].role, mine[0].state, mine[0].joined_at),
        (ParticipantRole::Owner, ParticipantState::Active, s(6))
    );
    assert_eq!(cc.load("s1"), 1);
    assert_eq!(
        it.participant(&aid("a1")).unwrap().state,
        ParticipantState::WrapUp
    );
    cc.check(s(10));
}

/// what cannot be taken over is refused clearly, and changes nothing.
#[test]
fn r8_8_take_over_refusals() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &["q2"], 2);
    cc.inbound("i2", "c2", "q1", s(4)); // waits: Ann is full
    cc.inbound("i3", "c3", "q2", s(4));
    cc.available("a3", s(4));
    assert_eq!(cc.offered_to("i3"), Some(aid("a3")));
    cc.accept("a3", "i3", s(5));
    cc.end("a3", "i3", s(6)); // wrap-up
    let now = s(7);
    refused(&mut cc.e, take_over("a2", "i1"), now, "not_supervisor");
    refused(&mut cc.e, take_over("zz", "i1"), now, "not_supervisor");
    refused(&mut cc.e, take_over("s1", "nope"), now, "not_found");
    refused(&mut cc.e, take_over("s1", "i2"), now, "not_active");
    refused(&mut cc.e, take_over("s1", "i3"), now, "not_active");

    cc.apply(take_over("s1", "i1"), now);
    refused(&mut cc.e, take_over("s1", "i1"), s(8), "already_owner");

    // Sue joined a conference, left it and still wraps up: she finishes that first.
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 2);
    cc.available("s1", s(4));
    cc.apply(invite("a1", "i1", to_agent("s1")), s(5));
    cc.accept("s1", "i1", s(6));
    cc.end_conference("s1", "i1", s(7));
    refused(&mut cc.e, take_over("s1", "i1"), s(8), "in_wrap_up");
    cc.wrap_up("s1", "i1", None, s(9));
    cc.apply(take_over("s1", "i1"), s(10));
    assert_eq!(cc.it("i1").owner_id, Some(aid("s1")));
    cc.check(s(10));
}

// ----- Reassign --------------------------------------------------------------------------

/// a supervisor transfers an interaction they do not handle, to a queue or an agent,
/// exactly as its owner would.
#[test]
fn r8_8_a_supervisor_reassigns_any_active_interaction() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 1);
    let c = cc.apply(reassign("s1", "i1", to_queue("q2")), s(10));
    assert_eq!(c.counters.transfers, 1);
    assert_eq!(
        system_texts(&c),
        vec!["Sue transferred to queue Sales".to_owned()]
    );
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Queued);
    assert_eq!(it.queue_id, qid("q2"));
    assert_eq!(it.owner_id, None);
    assert_eq!(
        it.participant(&aid("a1")).unwrap().state,
        ParticipantState::WrapUp
    );
    assert!(it.participant(&aid("s1")).is_none(), "Sue never joined");
    assert_eq!(cc.waiting("q2"), ids(&["i1"]));
    cc.check(s(10));

    // To an agent: an offer from the supervisor.
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 1);
    cc.available("a2", s(4));
    let c = cc.apply(reassign("s1", "i1", to_agent("a2")), s(10));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    assert_eq!(system_texts(&c), vec!["Sue transferred to Bob".to_owned()]);
    assert_eq!(
        cc.it("i1").offer.as_ref().unwrap().kind,
        OfferKind::Transfer { from: aid("s1") }
    );
    let c = cc.accept("a2", "i1", s(11));
    assert_eq!(
        system_texts(&c),
        vec!["Bob accepted the transfer from Sue".to_owned()]
    );
    assert_eq!(cc.it("i1").owner_id, Some(aid("a2")));
    cc.check(s(11));
}

/// a reassignment is refused like a transfer, plus for a caller who is no supervisor and
/// an interaction that is not active.
#[test]
fn r8_8_reassign_refusals() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &[], 1);
    cc.inbound("i2", "c2", "q1", s(4)); // waits: Ann is full
    let now = s(5);
    let to_q2 = to_queue("q2");
    refused(
        &mut cc.e,
        reassign("a2", "i1", to_q2.clone()),
        now,
        "not_supervisor",
    );
    refused(
        &mut cc.e,
        reassign("s1", "nope", to_q2.clone()),
        now,
        "not_found",
    );
    refused(&mut cc.e, reassign("s1", "i2", to_q2), now, "not_active");
    refused(
        &mut cc.e,
        reassign("s1", "i1", to_queue("q9")),
        now,
        "unknown_queue",
    );
    refused(
        &mut cc.e,
        reassign("s1", "i1", to_agent("a2")),
        now,
        "agent_unavailable",
    );
    refused(
        &mut cc.e,
        reassign("s1", "i1", to_agent("zz")),
        now,
        "unknown_agent",
    );
    refused(
        &mut cc.e,
        reassign("s1", "i1", to_agent("a1")),
        now,
        "agent_at_capacity",
    );
    // The owner's own transfer still needs the owner.
    refused(
        &mut cc.e,
        transfer("s1", "i1", to_queue("q2")),
        now,
        "not_active",
    );
}

/// with: a take-over above capacity survives a restart as it was: the supervisor's
/// load counts it, and the router still offers them nothing while it keeps them above capacity.
#[test]
fn r8_8_a_take_over_above_capacity_survives_a_restart() {
    let mut cc = two_queues_with_owner();
    add_sue(&mut cc, &["q1"], 1);
    cc.available("s1", s(4));
    cc.inbound("i5", "c5", "q1", s(5));
    cc.accept("s1", "i5", s(6));
    cc.apply(take_over("s1", "i1"), s(10));
    assert_eq!(cc.load("s1"), 2);

    let (agents, queues, interactions) = persisted(&cc.e);
    let (e, _) = Engine::load(Settings::default(), agents, queues, interactions, s(20));
    let mut cc = Cc { e };
    cc.tick(s(20));
    assert_eq!(cc.it("i1").owner_id, Some(aid("s1")));
    assert_eq!((cc.load("s1"), cc.load("a1")), (2, 1));
    cc.apply(Command::Connected { agent: aid("s1") }, s(21));
    cc.apply(Command::Connected { agent: aid("a1") }, s(21));
    let c = cc.inbound("i7", "c7", "q1", s(22));
    assert!(c.offers.is_empty(), "Sue is above capacity, Ann wraps up");
    assert_eq!(cc.waiting("q1"), ids(&["i7"]));
    cc.check(s(22));
    let c = cc.wrap_up("a1", "i1", None, s(23));
    assert_eq!(offers(&c), vec![offer("i7", "a1")]);
    cc.check(s(23));
}
