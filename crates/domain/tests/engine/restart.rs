//! Restart: the engine rebuilt from stored values resumes offers and countdowns.

use crate::support::*;
use switchboard_domain::engine::Timer;
use switchboard_domain::*;

// ----- Restart ----------------------------------------------------------------------------

/// after a restart the engine rebuilt from stored values has the same deadlines, and they
/// fire when due.
#[test]
fn r2_10_restart_resumes_offers_and_countdowns_from_stored_deadlines() {
    let cc = busy_center();
    let (agents, queues, interactions) = persisted(&cc.e);
    let (e, _) = Engine::load(Settings::default(), agents, queues, interactions, s(10));
    let mut restarted = Cc { e };
    let before: Vec<(Timestamp, Timer)> =
        cc.e.timers()
            .into_iter()
            .filter(|(_, t)| !matches!(t, Timer::Grace(_)))
            .collect();
    let after: Vec<(Timestamp, Timer)> = restarted
        .e
        .timers()
        .into_iter()
        .filter(|(_, t)| !matches!(t, Timer::Grace(_)))
        .collect();
    assert_eq!(before, after);
    assert_eq!(restarted.load("a1"), 1);
    assert_eq!(restarted.load("a2"), 2);
    assert_eq!(restarted.waiting("q1"), ids(&["i4"]));
    let c = restarted.tick(s(10));
    assert!(c.offers.is_empty());
    // Both reconnect in time; the offer expires at 34 s, the countdown at 66 s.
    restarted.apply(Command::Connected { agent: aid("a1") }, s(11));
    restarted.apply(Command::Connected { agent: aid("a2") }, s(11));
    assert!(restarted.tick(t(33_999)).is_empty());
    let c = restarted.tick(s(34));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a1", WithdrawReason::Timeout)]
    );
    let c = restarted.tick(s(66));
    assert_eq!(
        c.finished.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        ids(&["i3"])
    );
    // The freed slot goes to the head of the queue: i1, re-queued before i4.
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
}

/// an offer that expired while the server was down is treated as missed on the first tick
/// after the restart: the agent goes `rona`, the interaction goes back to the head of the queue.
/// A wrap-up countdown that ran out meanwhile completes.
#[test]
fn r2_10_offer_expired_while_down_counts_as_missed() {
    let cc = busy_center();
    let (agents, queues, interactions) = persisted(&cc.e);
    let now = s(100);
    let (e, changes) = Engine::load(Settings::default(), agents, queues, interactions, now);
    assert!(
        changes.agents.contains(&aid("a1")),
        "agents not offline await their reconnection"
    );
    let mut cc = Cc { e };
    let c = cc.tick(now);
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a1", WithdrawReason::Timeout)]
    );
    assert_eq!(c.counters.misses, 1);
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    assert_eq!(
        c.finished.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        ids(&["i3"])
    );
    assert_eq!(c.counters.auto_wrap_ups, 1);
    // a2's freed slot takes the head of the queue: i1 (re-queued ahead of i4).
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    assert_eq!(cc.waiting("q1"), ids(&["i4"]));
    assert_eq!(
        cc.it("i2").owner_id,
        Some(aid("a2")),
        "active work survives the restart"
    );
}
