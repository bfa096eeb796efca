//! Agent state: presence, stop new, disconnect grace.

use crate::support::*;
use switchboard_domain::engine::Timer;
use switchboard_domain::*;

// ----- Presence ------------------------------------------------------------------------

/// only `available` agents receive offers; `offline`, `on_break` and `rona` agents do not.
#[test]
fn r2_1_only_available_agents_receive_offers() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("off", "Olga", &["q1"], 3, true, T0);
    cc.agent("brk", "Bert", &["q1"], 3, true, T0);
    cc.agent("ron", "Rita", &["q1"], 3, true, T0);
    cc.presence("brk", Presence::OnBreak, T0);
    // Put Rita in rona the only way there is: by missing an offer.
    cc.available("ron", s(1));
    let c = cc.inbound("i0", "c0", "q1", s(2));
    assert_eq!(offers(&c), vec![offer("i0", "ron")]);
    cc.tick(s(32));
    assert_eq!(cc.presence_of("ron"), Presence::Rona);

    let c = cc.inbound("i1", "c1", "q1", s(33));
    assert!(c.offers.is_empty(), "nobody available, nothing offered");
    assert_eq!(cc.it("i1").state, InteractionState::Queued);
    assert_eq!(cc.presence_of("off"), Presence::Offline);
    assert_eq!(cc.presence_of("brk"), Presence::OnBreak);
    cc.check(s(33));

    // The first agent to become available gets the head of the queue (i0, re-queued at the head).
    let c = cc.available("off", s(34));
    assert_eq!(offers(&c), vec![offer("i0", "off"), offer("i1", "off")]);
    cc.check(s(34));
}

/// a break needs a reason from the admin-managed list; the presence change is pushed to
/// the agent and to supervisors.
#[test]
fn r2_1_break_needs_a_reason_from_the_admin_list() {
    let mut cc = ann_offline();
    cc.apply(
        Command::UpsertAgent(AgentConfig {
            role: Role::Supervisor,
            ..agent_config("sup", "Sue", &[], 3, false)
        }),
        T0,
    );
    cc.available("a1", s(1));

    let no_reason = Command::SetPresence {
        agent: aid("a1"),
        presence: Presence::OnBreak,
        reason: None,
    };
    let e = refused(&mut cc.e, no_reason, s(2), "break_reason_required");
    assert!(matches!(e, DomainError::Invalid { .. }));
    let blank = Command::SetPresence {
        agent: aid("a1"),
        presence: Presence::OnBreak,
        reason: Some("   ".into()),
    };
    refused(&mut cc.e, blank, s(2), "break_reason_required");
    let unknown = Command::SetPresence {
        agent: aid("a1"),
        presence: Presence::OnBreak,
        reason: Some("Nap".into()),
    };
    let e = refused(&mut cc.e, unknown, s(2), "unknown_break_reason");
    assert!(
        e.to_string().contains("Lunch"),
        "the message lists the reasons: {e}"
    );

    let c = cc.apply(
        Command::SetPresence {
            agent: aid("a1"),
            presence: Presence::OnBreak,
            reason: Some("Coffee".into()),
        },
        s(3),
    );
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(a.presence, Presence::OnBreak);
    assert_eq!(a.break_reason.as_deref(), Some("Coffee"));
    assert_eq!(a.presence_since, s(3));
    assert!(c.agents.contains(&aid("a1")), "the agent is persisted");
    let pushed: Vec<&Notice> = c
        .notices
        .iter()
        .filter(|n| n.event == Event::PresenceChanged { agent: aid("a1") })
        .collect();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].to, vec![aid("a1"), aid("sup")]);

    // Back to available: the reason goes away.
    cc.available("a1", s(4));
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(a.presence, Presence::Available);
    assert_eq!(a.break_reason, None);
}

/// with an empty admin list any non-empty reason is accepted.
#[test]
fn r2_1_empty_break_reason_list_accepts_any_reason() {
    let settings = Settings {
        break_reasons: vec![],
        ..Settings::default()
    };
    let mut cc = Cc::with_settings(settings);
    cc.agent("a1", "Ann", &[], 3, false, T0);
    cc.apply(
        Command::SetPresence {
            agent: aid("a1"),
            presence: Presence::OnBreak,
            reason: Some("Dentist".into()),
        },
        s(1),
    );
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().break_reason.as_deref(),
        Some("Dentist")
    );
}

/// `rona` is set by the router only; an agent cannot choose it.
#[test]
fn r2_1_agent_cannot_choose_rona() {
    let mut cc = Cc::new();
    cc.agent("a1", "Ann", &[], 3, false, T0);
    let cmd = Command::SetPresence {
        agent: aid("a1"),
        presence: Presence::Rona,
        reason: None,
    };
    refused(&mut cc.e, cmd, s(1), "invalid_presence");
    let unknown = Command::SetPresence {
        agent: aid("ghost"),
        presence: Presence::Available,
        reason: None,
    };
    let e = refused(&mut cc.e, unknown, s(1), "not_found");
    assert!(matches!(e, DomainError::NotFound { .. }));
}

/// R-2.1 (with ): leaving `available` withdraws the agent's pending offers; the interaction
/// goes back to the head of its queue and is offered to the next available agent.
#[test]
fn r2_1_going_on_break_withdraws_pending_offers() {
    let mut cc = offered_to_a1(false);
    cc.inbound("i2", "c2", "q1", s(5));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));

    let c = cc.presence("a1", Presence::OnBreak, s(6));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a1", WithdrawReason::AgentUnavailable)]
    );
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]), "back at the head");
    assert_eq!(cc.load("a1"), 0);
    // A withdrawal for unavailability is not a miss: no exclusion, no rona.
    assert!(cc.it("i1").exclusions.is_empty());
    assert_eq!(cc.presence_of("a1"), Presence::OnBreak);

    let c = cc.available("a2", s(7));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    cc.check(s(7));
}

/// when an agent with several pending offers leaves `available`, every one goes
/// back to the head of its queue, in the order they were in.
#[test]
fn r2_1_withdrawn_offers_keep_their_order_at_the_head() {
    let mut cc = ann_available();
    for n in 1..=5 {
        cc.inbound(&format!("i{n}"), &format!("c{n}"), "q1", s(1 + n));
    }
    assert_eq!(cc.waiting("q1"), ids(&["i4", "i5"]));
    let c = cc.presence("a1", Presence::Offline, s(10));
    assert_eq!(withdrawals(&c).len(), 3);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2", "i3", "i4", "i5"]));
    cc.check(s(10));
}

// ----- Stop new --------------------------------------------------------------------------

/// "stop new" stops new offers while keeping presence, pending offers and current work;
/// turning it off resumes offers.
#[test]
fn r2_4_stop_new_keeps_current_work_and_presence() {
    let mut cc = ann_available();
    cc.inbound("i1", "c1", "q1", s(2));
    cc.inbound("i2", "c2", "q1", s(2));
    cc.accept("a1", "i1", s(3));

    let c = cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: true,
        },
        s(4),
    );
    assert!(c
        .notices
        .iter()
        .any(|n| n.event == Event::PresenceChanged { agent: aid("a1") }));
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert!(a.stop_new);
    assert_eq!(a.presence, Presence::Available);
    assert_eq!(
        cc.it("i1").state,
        InteractionState::Active,
        "current work kept"
    );
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")), "pending offer kept");

    let c = cc.inbound("i3", "c3", "q1", s(5));
    assert!(c.offers.is_empty(), "no new offer while stop-new is on");
    assert_eq!(cc.waiting("q1"), ids(&["i3"]));
    cc.check(s(5));

    let c = cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: false,
        },
        s(6),
    );
    assert_eq!(offers(&c), vec![offer("i3", "a1")]);
    cc.check(s(6));
}

// ----- Disconnect grace ---------------------------------------------------------------------

/// the grace period runs out before the offer's deadline: the offer is withdrawn (not
/// missed: no exclusion, no rona), the agent goes offline, their active interaction stays theirs,
/// and the withdrawn interaction goes to the next agent.
#[test]
fn r2_11_grace_expiry_withdraws_offers_and_sets_offline() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.acceptance_interval_s = 3600;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.agent("a2", "Bob", &["q1"], 2, false, T0);
    cc.apply(Command::Connected { agent: aid("a1") }, s(1));
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.inbound("i2", "c2", "q1", s(4));
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(10));
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().disconnected_since,
        Some(s(10))
    );
    assert!(
        cc.tick(t(70_000 - 1)).is_empty(),
        "within the grace period nothing happens"
    );
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")));

    let c = cc.tick(s(70));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i2", "a1", WithdrawReason::AgentUnavailable)]
    );
    assert_eq!(cc.presence_of("a1"), Presence::Offline);
    assert!(cc.it("i2").exclusions.is_empty());
    assert_eq!(
        cc.it("i1").owner_id,
        Some(aid("a1")),
        "active interaction stays theirs"
    );
    assert_eq!(cc.it("i1").state, InteractionState::Active);
    assert_eq!(cc.load("a1"), 1);
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));
    let c = cc.available("a2", s(71));
    assert_eq!(offers(&c), vec![offer("i2", "a2")]);
    // Back online, a1 can carry on with i1.
    cc.apply(Command::Connected { agent: aid("a1") }, s(80));
    cc.end("a1", "i1", s(81));
    cc.check(s(81));
}

/// reconnecting within the grace period keeps everything; with several connections
/// (tabs) only losing the last one counts.
#[test]
fn r2_11_reconnect_within_grace_keeps_everything() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.acceptance_interval_s = 3600;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.apply(Command::Connected { agent: aid("a1") }, s(1));
    cc.apply(Command::Connected { agent: aid("a1") }, s(1));
    assert_eq!(cc.e.connections_of(&aid("a1")), 2);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(3));
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().disconnected_since,
        None,
        "one tab still open"
    );
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(4));
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().disconnected_since,
        Some(s(4))
    );
    cc.apply(Command::Connected { agent: aid("a1") }, s(63));
    assert_eq!(cc.e.agent(&aid("a1")).unwrap().disconnected_since, None);
    assert!(cc.tick(s(200)).is_empty());
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
}

/// the grace period is a setting: changing it applies to agents already disconnected, and
/// a grace period of 0 sets a disconnected agent offline at once.
#[test]
fn r2_11_grace_period_setting_applies_to_disconnected_agents() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.agent("a2", "Bob", &["q1"], 2, false, T0);
    for a in ["a1", "a2"] {
        cc.apply(Command::Connected { agent: aid(a) }, s(1));
        cc.available(a, s(1));
    }
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(10));
    assert!(cc.e.timers().contains(&(s(70), Timer::Grace(aid("a1")))));
    let shorter = Settings {
        disconnect_grace_s: 20,
        ..Settings::default()
    };
    cc.apply(Command::UpdateSettings(shorter), s(11));
    assert_eq!(cc.e.timers(), vec![(s(30), Timer::Grace(aid("a1")))]);
    cc.check(s(11));
    assert!(cc.tick(t(29_999)).is_empty());
    cc.tick(s(30));
    assert_eq!(cc.presence_of("a1"), Presence::Offline);

    let none = Settings {
        disconnect_grace_s: 0,
        ..Settings::default()
    };
    cc.apply(Command::UpdateSettings(none), s(40));
    cc.apply(Command::Disconnected { agent: aid("a2") }, s(41));
    assert_eq!(cc.presence_of("a2"), Presence::Offline, "no grace at all");
    cc.check(s(41));
}

/// an agent whose connection dropped long ago and who then chooses a presence (e.g.
/// through the API) gets a fresh grace period to reconnect, instead of being set offline again
/// at once.
#[test]
fn r2_11_choosing_a_presence_while_disconnected_restarts_the_grace_period() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.apply(Command::Connected { agent: aid("a1") }, s(1));
    cc.available("a1", s(1));
    cc.apply(Command::Disconnected { agent: aid("a1") }, s(2));
    cc.tick(s(62));
    assert_eq!(cc.presence_of("a1"), Presence::Offline);
    cc.available("a1", s(500));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(
        cc.e.agent(&aid("a1")).unwrap().disconnected_since,
        Some(s(500))
    );
    cc.check(s(500));
    cc.tick(s(560));
    assert_eq!(
        cc.presence_of("a1"),
        Presence::Offline,
        "still not connected after the grace"
    );
}

/// going offline by choice withdraws pending offers at once and keeps active work.
#[test]
fn r2_11_going_offline_withdraws_offers_keeps_active_work() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 2, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.inbound("i2", "c2", "q1", s(4));
    let c = cc.presence("a1", Presence::Offline, s(5));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i2", "a1", WithdrawReason::AgentUnavailable)]
    );
    assert_eq!(cc.it("i1").owner_id, Some(aid("a1")));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));
    // Offline agents still handle what they have.
    cc.end("a1", "i1", s(6));
    cc.wrap_up("a1", "i1", None, s(7));
    assert_eq!(cc.load("a1"), 0);
    cc.check(s(7));
}
