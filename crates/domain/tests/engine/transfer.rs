//! Transfer.

use crate::support::*;
use switchboard_domain::*;

// ----- Transfer ------------------------------------------------------------------------------

/// transfer to a queue: the transferring agent goes to wrap-up at once (with the original
/// queue's countdown) and the interaction waits at the tail of the target queue.
#[test]
fn r3_9_transfer_to_queue_wraps_up_the_owner_and_queues_in_target() {
    let mut cc = two_queues_with_owner();
    cc.inbound("i9", "c9", "q2", s(4)); // already waiting in Sales
    let c = cc.apply(transfer("a1", "i1", to_queue("q2")), s(10));
    assert_eq!(c.counters.transfers, 1);
    assert_eq!(
        system_texts(&c),
        vec!["Ann transferred to queue Sales".to_owned()]
    );
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Queued);
    assert_eq!(it.queue_id, qid("q2"));
    assert_eq!(it.owner_id, None);
    assert_eq!(it.waiting_since, s(10));
    let p = it.participant(&aid("a1")).unwrap();
    assert_eq!(p.state, ParticipantState::WrapUp);
    assert_eq!(p.wrap_up_deadline, Some(s(70)), "Support's 60 s countdown");
    assert_eq!(
        cc.waiting("q2"),
        ids(&["i9", "i1"]),
        "at the tail of the target queue"
    );
    assert_eq!(cc.load("a1"), 1, "wrap-up holds the slot");
    cc.check(s(10));

    // Cid becomes available: FIFO in Sales.
    let c = cc.available("a3", s(11));
    assert_eq!(offers(&c), vec![offer("i9", "a3"), offer("i1", "a3")]);
    cc.accept("a3", "i1", s(12));
    assert_eq!(cc.it("i1").owner_id, Some(aid("a3")));
    // Ann wraps up; the interaction lives on with Cid.
    let c = cc.wrap_up("a1", "i1", None, s(13));
    assert!(c.finished.is_empty());
    assert_eq!(cc.load("a1"), 0);
    assert_eq!(cc.it("i1").state, InteractionState::Active);
    cc.check(s(13));
}

/// transfer to an agent is an offer to them; the owner goes to wrap-up at once; when they
/// accept they become the owner.
#[test]
fn r3_9_transfer_to_agent_is_an_offer_to_them() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    let c = cc.apply(transfer("a1", "i1", to_agent("a2")), s(10));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    assert_eq!(system_texts(&c), vec!["Ann transferred to Bob".to_owned()]);
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Offered);
    assert_eq!(
        it.offer.as_ref().unwrap().kind,
        OfferKind::Transfer { from: aid("a1") }
    );
    assert_eq!(it.offer.as_ref().unwrap().deadline, s(40));
    assert_eq!(
        it.participant(&aid("a1")).unwrap().state,
        ParticipantState::WrapUp
    );
    cc.check(s(10));

    let c = cc.accept("a2", "i1", s(11));
    assert_eq!(
        system_texts(&c),
        vec!["Bob accepted the transfer from Ann".to_owned()]
    );
    assert_eq!(cc.it("i1").owner_id, Some(aid("a2")));
    assert_eq!(cc.it("i1").queue_id, qid("q1"));
    cc.check(s(11));
}

/// a transfer to an agent who rejects it sends the interaction back to the head of the
/// original queue — the customer is never dropped.
#[test]
fn r3_9_rejected_transfer_goes_back_to_the_head_of_the_original_queue() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.inbound("i2", "c2", "q1", s(5)); // waits: a1 is full
    cc.apply(transfer("a1", "i1", to_agent("a2")), s(10));
    let c = cc.reject("a2", "i1", s(11));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a2", WithdrawReason::Rejected)]
    );
    assert_eq!(
        system_texts(&c),
        vec!["Bob rejected the transfer from Ann; back in the queue".to_owned()]
    );
    assert_eq!(cc.it("i1").state, InteractionState::Queued);
    assert_eq!(cc.it("i1").queue_id, qid("q1"));
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]));
    cc.check(s(11));
    // Ann finishes her wrap-up: her free slot takes the head of Support, i1 again.
    let c = cc.wrap_up("a1", "i1", None, s(12));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    cc.check(s(12));
}

/// a transfer to an agent who lets it time out also goes back to the head of the original
/// queue, and that agent goes `rona`.
#[test]
fn r3_9_timed_out_transfer_goes_back_to_the_head_of_the_original_queue() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.inbound("i2", "c2", "q1", s(5));
    cc.apply(transfer("a1", "i1", to_agent("a2")), s(10));
    assert!(cc.tick(t(39_999)).is_empty());
    let c = cc.tick(s(40));
    assert_eq!(
        withdrawals(&c),
        vec![withdrawal("i1", "a2", WithdrawReason::Timeout)]
    );
    assert_eq!(
        system_texts(&c),
        vec!["Bob did not answer the transfer from Ann; back in the queue".to_owned()]
    );
    assert_eq!(cc.presence_of("a2"), Presence::Rona);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]));
}

/// a transfer is refused (and changes nothing) when the target agent cannot take it, when
/// the queue does not exist, to oneself, or by someone who does not own the interaction.
#[test]
fn r3_9_impossible_transfers_are_refused() {
    let mut cc = two_queues_with_owner();
    let to = |a: &str| transfer("a1", "i1", to_agent(a));
    refused(&mut cc.e, to("a2"), s(5), "agent_unavailable"); // a2 offline
    cc.available("a3", s(5));
    cc.inbound("i5", "c5", "q2", s(5));
    cc.inbound("i6", "c6", "q2", s(5));
    refused(&mut cc.e, to("a3"), s(6), "agent_at_capacity");
    refused(&mut cc.e, to("a1"), s(6), "transfer_to_self");
    refused(&mut cc.e, to("zz"), s(6), "unknown_agent");
    refused(
        &mut cc.e,
        transfer("a1", "i1", to_queue("nope")),
        s(6),
        "unknown_queue",
    );
    refused(
        &mut cc.e,
        transfer("a3", "i1", to_queue("q2")),
        s(6),
        "not_found",
    );
    cc.check(s(6));
}
