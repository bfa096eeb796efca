//! Concurrent interactions.

use crate::support::*;
use switchboard_domain::engine::Timer;
use switchboard_domain::*;

// ----- Concurrent interactions -----------------------------------------------------------------

/// an agent handles several interactions at once, each with its own state and timers.
#[test]
fn r3_13_concurrent_interactions_have_independent_timers() {
    let mut cc = ann_available();
    for (i, c) in [("i1", "c1"), ("i2", "c2"), ("i3", "c3")] {
        cc.inbound(i, c, "q1", s(2));
    }
    cc.accept("a1", "i1", s(3));
    cc.accept("a1", "i2", s(4));
    // i3 stays offered (deadline 32 s) while i1 ends at 10 s and i2 at 20 s.
    cc.end("a1", "i1", s(10));
    cc.end("a1", "i2", s(20));
    assert_eq!(cc.it("i1").state, InteractionState::WrapUp);
    assert_eq!(cc.it("i2").state, InteractionState::WrapUp);
    assert_eq!(cc.it("i3").state, InteractionState::Offered);
    let deadlines: Vec<(Timestamp, Timer)> = cc.e.timers();
    assert_eq!(
        deadlines,
        vec![
            (s(32), Timer::Offer(iid("i3"))),
            (s(70), Timer::WrapUp(iid("i1"), aid("a1"))),
            (s(80), Timer::WrapUp(iid("i2"), aid("a1"))),
        ]
    );
    cc.accept("a1", "i3", s(31));
    let c = cc.tick(s(70));
    assert_eq!(
        c.finished.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        ids(&["i1"])
    );
    assert_eq!(cc.load("a1"), 2);
    assert_eq!(cc.it("i2").state, InteractionState::WrapUp);
    assert_eq!(cc.it("i3").state, InteractionState::Active);
    // i2 wrapped up by hand before its countdown: its timer goes away.
    cc.wrap_up("a1", "i2", None, s(75));
    assert!(cc.tick(s(80)).is_empty());
    assert_eq!(cc.e.timers(), vec![]);
    assert_eq!(cc.load("a1"), 1);
}

/// unread counts and reply indicators are per interaction.
#[test]
fn r3_13_indicators_are_per_interaction() {
    let mut cc = ann_available();
    cc.inbound("i1", "c1", "q1", s(2));
    cc.inbound("i2", "c2", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.accept("a1", "i2", s(3));
    cc.inbound("x", "c1", "q1", s(4));
    cc.inbound("x", "c1", "q1", s(5));
    assert_eq!((cc.it("i1").unread, cc.it("i2").unread), (3, 1));
    cc.apply(
        Command::MarkRead {
            agent: aid("a1"),
            interaction: iid("i2"),
        },
        s(6),
    );
    assert_eq!((cc.it("i1").unread, cc.it("i2").unread), (3, 0));
    cc.reply("a1", "i1", s(7));
    assert_eq!(cc.it("i1").unread, 0);
    assert_eq!(cc.it("i1").awaiting_reply_since, None);
    assert_eq!(cc.it("i2").awaiting_reply_since, Some(s(2)));
    cc.apply(
        Command::OutboundResult {
            interaction: iid("i2"),
            failed: true,
        },
        s(8),
    );
    assert!(cc.it("i2").last_outbound_failed && !cc.it("i1").last_outbound_failed);
}
