//! Routing: queue membership, capacity, sticky holds, policies and
//! priorities.

use crate::support::*;
use switchboard_domain::*;

// ----- Queue membership ------------------------------------------------------------------

/// an agent receives offers only from the queues they are a member of; membership changes
/// take effect at once.
#[test]
fn r2_2_offers_only_from_member_queues() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.queue(queue("q2"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    let c = cc.inbound("i2", "c2", "q2", s(2));
    assert!(c.offers.is_empty(), "a1 is not in q2");
    let c = cc.inbound("i1", "c1", "q1", s(3));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    cc.check(s(3));

    // The admin adds a1 to q2: the waiting interaction is offered to them.
    let c = cc.apply(
        Command::UpsertAgent(agent_config("a1", "Ann", &["q2", "q1", "q2"], 3, false)),
        s(4),
    );
    assert_eq!(offers(&c), vec![offer("i2", "a1")]);
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(
        a.queue_ids,
        vec![qid("q1"), qid("q2")],
        "sorted, without duplicates"
    );
    assert_eq!(
        a.presence,
        Presence::Available,
        "a config change keeps presence"
    );
    cc.check(s(4));

    // A queue that does not exist is refused.
    let cmd = Command::UpsertAgent(agent_config("a1", "Ann", &["nope"], 3, false));
    refused(&mut cc.e, cmd, s(5), "unknown_queue");
}

// ----- Capacity --------------------------------------------------------------------------

/// offered, active and wrap-up interactions all count towards capacity; offers keep coming
/// until the maximum is reached, and resume when a slot frees.
#[test]
fn r2_3_capacity_counts_offered_active_and_wrap_up() {
    let mut cc = ann_available();
    for (i, conv) in [("i1", "c1"), ("i2", "c2"), ("i3", "c3"), ("i4", "c4")] {
        cc.inbound(i, conv, "q1", s(2));
    }
    // Three offers at once, the fourth waits.
    assert_eq!(cc.load("a1"), 3);
    assert_eq!(cc.waiting("q1"), ids(&["i4"]));
    cc.accept("a1", "i1", s(3)); // active
    cc.accept("a1", "i2", s(3));
    cc.end("a1", "i2", s(4)); // wrap-up
                              // i1 active, i2 in wrap-up, i3 offered: still full.
    assert_eq!(cc.it("i1").state, InteractionState::Active);
    assert_eq!(cc.it("i2").state, InteractionState::WrapUp);
    assert_eq!(cc.it("i3").state, InteractionState::Offered);
    assert_eq!(cc.load("a1"), 3);
    assert_eq!(cc.waiting("q1"), ids(&["i4"]));
    let held: Vec<InteractionId> =
        cc.e.interactions_of(&aid("a1"))
            .iter()
            .map(|i| i.id.clone())
            .collect();
    assert_eq!(
        held,
        ids(&["i1", "i2", "i3"]),
        "oldest accepted first, offers last"
    );
    cc.check(s(4));

    // Finishing the wrap-up frees the slot: i4 is offered in the same step.
    let c = cc.wrap_up("a1", "i2", None, s(5));
    assert_eq!(offers(&c), vec![offer("i4", "a1")]);
    assert_eq!(cc.load("a1"), 3);
    cc.check(s(5));
}

/// capacity is admin-set, 1..=100 (default 3).
#[test]
fn r2_3_capacity_is_validated() {
    let mut cc = Cc::new();
    assert_eq!(DEFAULT_CAPACITY, 3);
    for cap in [0, 101] {
        let cmd = Command::UpsertAgent(agent_config("a1", "Ann", &[], cap, false));
        refused(&mut cc.e, cmd, T0, "invalid_capacity");
    }
}

/// offers keep coming while an agent has room, even when a long run of waiting
/// interactions at the head is reserved for someone else (sticky holds, R-5.4): the router looks
/// past them.
#[test]
fn r2_3_offers_reach_past_a_long_run_of_reserved_interactions() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.sticky = true;
    q.sticky_timeout_s = 600;
    cc.queue(q, T0);
    cc.agent("busy", "Bea", &["q1"], 3, false, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    for n in 0..100 {
        let mut m = msg(&format!("r{n:03}"), &format!("cr{n}"), "q1");
        m.last_agent = Some(aid("busy"));
        cc.apply(Command::Inbound(m), s(1));
    }
    cc.inbound("free", "cf", "q1", s(2));
    let c = cc.available("a1", s(3));
    assert_eq!(
        offers(&c),
        vec![offer("free", "a1")],
        "the 101st interaction is not stuck"
    );
    cc.check(s(3));
    cc.accept("a1", "free", s(4));
    // When the holds end, the reserved ones go to whoever is free, oldest first.
    let c = cc.tick(s(601));
    assert_eq!(offers(&c), vec![offer("r000", "a1"), offer("r001", "a1")]);
    cc.check(s(601));
}

/// R-5.4 (with ): a returning customer is held for the agent who last handled the
/// conversation — even if that agent is not (or no longer) a member of the queue — and offered
/// to them as soon as they become available.
#[test]
fn r5_4_sticky_hold_waits_for_the_last_agent_even_outside_the_queue() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.sticky = true;
    cc.queue(q, T0);
    cc.queue(queue("q2"), T0);
    cc.agent("last", "Lia", &["q2"], 3, false, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    let mut m = msg("i1", "c1", "q1");
    m.last_agent = Some(aid("last"));
    let c = cc.apply(Command::Inbound(m), s(2));
    assert!(c.offers.is_empty(), "held for Lia for 30 s");
    assert_eq!(cc.it("i1").sticky.as_ref().unwrap().until, s(32));
    cc.check(s(2));
    let c = cc.available("last", s(10));
    assert_eq!(offers(&c), vec![offer("i1", "last")]);
    assert_eq!(cc.it("i1").offer.as_ref().unwrap().kind, OfferKind::Sticky);
    cc.check(s(10));
}

// ----- Routing policies ------------------------------------------------------------------

/// R-2.5 `longest_idle`: the eligible agent whose last offer or last interaction end is oldest.
#[test]
fn r2_5_longest_idle_picks_the_agent_idle_longest() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    for a in ["a3", "a2", "a1"] {
        cc.available(a, s(3));
    }
    // Idle since creation: a1 (0 s) < a2 (1 s) < a3 (2 s).
    assert_eq!(
        offers(&cc.inbound("i1", "c1", "q1", s(4))),
        vec![offer("i1", "a1")]
    );
    assert_eq!(
        offers(&cc.inbound("i2", "c2", "q1", s(5))),
        vec![offer("i2", "a2")]
    );
    // a1 finishes at 6 s, a2 at 7 s; a3 has been idle since 2 s.
    cc.accept("a1", "i1", s(6));
    cc.end("a1", "i1", s(6));
    cc.wrap_up("a1", "i1", None, s(6));
    cc.accept("a2", "i2", s(7));
    cc.end("a2", "i2", s(7));
    cc.wrap_up("a2", "i2", None, s(7));
    assert_eq!(
        offers(&cc.inbound("i3", "c3", "q1", s(8))),
        vec![offer("i3", "a3")]
    );
    assert_eq!(
        offers(&cc.inbound("i4", "c4", "q1", s(9))),
        vec![offer("i4", "a1")]
    );
    assert_eq!(
        offers(&cc.inbound("i5", "c5", "q1", s(9))),
        vec![offer("i5", "a2")]
    );
    cc.check(s(9));
}

/// R-2.5 `least_busy`: fewest interactions first, then longest idle. The same situation under
/// `longest_idle` goes to the other agent.
#[test]
fn r2_5_least_busy_picks_fewest_interactions_then_longest_idle() {
    for (policy, expected) in [
        (RoutingPolicy::LeastBusy, "a2"),
        (RoutingPolicy::LongestIdle, "a1"),
    ] {
        let mut cc = Cc::new();
        let mut q = queue("q1");
        q.routing_policy = policy;
        cc.queue(q, T0);
        cc.agent("a1", "Ann", &["q1"], 3, false, T0);
        cc.agent("a2", "Bob", &["q1"], 3, false, T0);
        cc.available("a1", s(1));
        // a1 takes i1 and keeps it (idle since 2 s, one interaction).
        assert_eq!(
            offers(&cc.inbound("i1", "c1", "q1", s(2))),
            vec![offer("i1", "a1")]
        );
        cc.accept("a1", "i1", s(2));
        // a2 handles i2 to the end at 5 s (idle since 5 s, no interaction).
        cc.available("a2", s(3));
        let c = cc.inbound("i2", "c2", "q1", s(4));
        assert_eq!(
            offers(&c),
            vec![offer("i2", "a2")],
            "{policy:?}: a2 is less busy and idle"
        );
        cc.accept("a2", "i2", s(5));
        cc.end("a2", "i2", s(5));
        cc.wrap_up("a2", "i2", None, s(5));
        let c = cc.inbound("i3", "c3", "q1", s(6));
        assert_eq!(offers(&c), vec![offer("i3", expected)], "{policy:?}");
        cc.check(s(6));
    }
}

/// R-2.5 `least_busy`: among equally busy agents the one idle longest wins.
#[test]
fn r2_5_least_busy_ties_go_to_longest_idle() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.routing_policy = RoutingPolicy::LeastBusy;
    cc.queue(q, T0);
    cc.agent("b", "Bob", &["q1"], 3, false, s(0));
    cc.agent("a", "Ann", &["q1"], 3, false, s(1));
    cc.available("a", s(2));
    cc.available("b", s(2));
    // Both idle, b since 0 s: b first, then a, then b again (both have one, b's offer is older).
    assert_eq!(
        offers(&cc.inbound("i1", "c1", "q1", s(3))),
        vec![offer("i1", "b")]
    );
    assert_eq!(
        offers(&cc.inbound("i2", "c2", "q1", s(4))),
        vec![offer("i2", "a")]
    );
    assert_eq!(
        offers(&cc.inbound("i3", "c3", "q1", s(5))),
        vec![offer("i3", "b")]
    );
    cc.check(s(5));
}

/// R-2.5 `round_robin`: members take turns (in id order), skipping those not eligible.
#[test]
fn r2_5_round_robin_rotates_through_members() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.routing_policy = RoutingPolicy::RoundRobin;
    cc.queue(q, T0);
    for (id, name) in [("a1", "Ann"), ("a2", "Bob"), ("a3", "Cid")] {
        // Created in reverse idle order so that longest-idle would pick differently.
        cc.agent(id, name, &["q1"], 3, false, T0);
    }
    for a in ["a3", "a2", "a1"] {
        cc.available(a, s(1));
    }
    let mut got = Vec::new();
    for n in 1..=4 {
        let c = cc.inbound(&format!("i{n}"), &format!("c{n}"), "q1", s(1 + n));
        got.extend(offers(&c).into_iter().map(|(_, a)| a));
    }
    assert_eq!(got, vec!["a1", "a2", "a3", "a1"]);
    assert_eq!(
        cc.e.queue(&qid("q1")).unwrap().rr_last,
        Some(aid("a1")),
        "position is persisted"
    );
    // a2 (having accepted i2, so no offer is withdrawn) goes on break: the turn passes to a3.
    cc.accept("a2", "i2", s(6));
    assert!(cc.presence("a2", Presence::OnBreak, s(6)).offers.is_empty());
    let c = cc.inbound("i5", "c5", "q1", s(7));
    assert_eq!(offers(&c), vec![offer("i5", "a3")]);
    cc.check(s(7));
}

/// within a queue interactions are served first come, first served.
#[test]
fn r2_5_first_in_first_out_within_a_queue() {
    let mut cc = ann_offline();
    cc.inbound("i1", "c1", "q1", s(1));
    cc.inbound("i2", "c2", "q1", s(2));
    cc.inbound("i3", "c3", "q1", s(3));
    cc.inbound("i4", "c4", "q1", s(4));
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2", "i3", "i4"]));
    let c = cc.available("a1", s(5));
    assert_eq!(
        offers(&c),
        vec![offer("i1", "a1"), offer("i2", "a1"), offer("i3", "a1")]
    );
    assert_eq!(cc.waiting("q1"), ids(&["i4"]));
    cc.check(s(5));
}

/// an agent in several queues of equal priority is served the oldest waiting interaction
/// first, whichever queue it is in.
#[test]
fn r2_5_agent_in_several_queues_gets_the_oldest_waiting_first() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.queue(queue("q2"), T0);
    cc.agent("a1", "Ann", &["q1", "q2"], 3, false, T0);
    cc.inbound("x1", "c1", "q2", s(1));
    cc.inbound("y1", "c2", "q1", s(2));
    cc.inbound("x2", "c3", "q2", s(3));
    cc.inbound("y2", "c4", "q1", s(4));
    let c = cc.available("a1", s(10));
    assert_eq!(
        offers(&c),
        vec![offer("x1", "a1"), offer("y1", "a1"), offer("x2", "a1")]
    );
    cc.check(s(10));
}

/// waiting time is weighted by queue priority: 5 s in a priority-3 queue (15) beats 10 s in
/// a priority-1 queue (10); 3 s in the priority-3 queue (9) does not.
#[test]
fn r2_5_queue_priority_weights_waiting_time() {
    for (high_arrives_at, expected) in [(5, "high"), (7, "low")] {
        let mut cc = Cc::new();
        cc.queue(queue("qlow"), T0);
        let mut high = queue("qhigh");
        high.priority = 3;
        cc.queue(high, T0);
        cc.agent("a1", "Ann", &["qhigh", "qlow"], 1, false, T0);
        cc.inbound("low", "c1", "qlow", s(0));
        cc.inbound("high", "c2", "qhigh", s(high_arrives_at));
        let c = cc.available("a1", s(10));
        assert_eq!(
            offers(&c),
            vec![offer(expected, "a1")],
            "high arrived at {high_arrives_at} s"
        );
        cc.check(s(10));
    }
}
