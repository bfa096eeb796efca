//! End and wrap-up.

use crate::support::*;
use switchboard_domain::engine::Timer;
use switchboard_domain::*;

// ----- End --------------------------------------------------------------------------------------

/// ending enters wrap-up with the queue's countdown; the customer can keep writing and a
/// later message opens a new interaction.
#[test]
fn r3_11_end_enters_wrap_up_and_a_later_message_opens_a_new_interaction() {
    let mut cc = two_queues_with_owner();
    let c = cc.end("a1", "i1", s(10));
    assert_eq!(
        system_texts(&c),
        vec!["Ann ended the conversation".to_owned()]
    );
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::WrapUp);
    assert_eq!(it.ended_at, Some(s(10)));
    let p = it.participant(&aid("a1")).unwrap();
    assert_eq!(
        (p.state, p.wrap_up_deadline),
        (ParticipantState::WrapUp, Some(s(70)))
    );
    assert!(cc
        .e
        .open_interaction_of(&ConversationId::from("c1"))
        .is_none());
    refused(
        &mut cc.e,
        Command::End {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(11),
        "not_active",
    );

    let o = cc.e.apply(Command::Inbound(msg("i1b", "c1", "q1")), s(12));
    assert_eq!(
        o.result,
        Ok(Reply::Inbound {
            interaction_id: iid("i1b"),
            created: true
        })
    );
    assert_eq!(
        cc.it("i1b").state,
        InteractionState::Queued,
        "a1 is full while wrapping up"
    );
    assert_eq!(cc.it("i1").state, InteractionState::WrapUp);
    cc.check(s(12));
}

// ----- Wrap-up ----------------------------------------------------------------------------------

fn queue_with_dispositions(required: bool, post_processing_s: u32) -> Cc {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.dispositions = vec![
        Disposition {
            code: "sale".into(),
            label: "Sale".into(),
        },
        Disposition {
            code: "no_sale".into(),
            label: "No sale".into(),
        },
    ];
    q.disposition_required = required;
    q.post_processing_s = post_processing_s;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.end("a1", "i1", s(4));
    cc
}

/// a queue that requires a disposition refuses a wrap-up without one (nothing changes);
/// with a code (and a note) the wrap-up completes, the slot is freed and the interaction is done.
#[test]
fn r3_12_disposition_required() {
    let mut cc = queue_with_dispositions(true, 60);
    let without = wrap_up_cmd("a1", "i1", None, Some("called back".to_owned()));
    let e = refused(&mut cc.e, without, s(5), "disposition_required");
    assert!(matches!(e, DomainError::Invalid { .. }));
    let blank = wrap_up_cmd("a1", "i1", Some("  "), None);
    refused(&mut cc.e, blank, s(5), "disposition_required");
    cc.inbound("i2", "c2", "q1", s(6));

    let c = cc.apply(
        wrap_up_cmd("a1", "i1", Some("sale"), Some("called back".to_owned())),
        s(7),
    );
    assert_eq!(c.counters.wrap_ups, 1);
    assert_eq!(c.finished.len(), 1);
    let done = &c.finished[0];
    assert_eq!(done.state, InteractionState::Done);
    let p = done.participant(&aid("a1")).unwrap();
    assert_eq!(p.state, ParticipantState::Done);
    assert_eq!(p.disposition_code.as_deref(), Some("sale"));
    assert_eq!(p.wrap_up_note.as_deref(), Some("called back"));
    assert_eq!(p.wrapped_up_at, Some(s(7)));
    assert!(
        cc.e.interaction(&iid("i1")).is_none(),
        "done interactions leave the engine"
    );
    assert_eq!(
        offers(&c),
        vec![offer("i2", "a1")],
        "the freed slot is used at once"
    );
    cc.check(s(7));
}

/// a code that is not in the queue's list is refused; an optional code may be left out.
#[test]
fn r3_12_unknown_disposition_is_refused() {
    let mut cc = queue_with_dispositions(false, 60);
    let bogus = wrap_up_cmd("a1", "i1", Some("bogus"), None);
    refused(&mut cc.e, bogus, s(5), "unknown_disposition");
    let too_long = wrap_up_cmd("a1", "i1", None, Some("x".repeat(10_001)));
    refused(&mut cc.e, too_long, s(5), "note_too_long");
    let c = cc.wrap_up("a1", "i1", None, s(6));
    assert_eq!(c.finished.len(), 1);
    assert_eq!(c.finished[0].participants[0].disposition_code, None);
    // Wrapping up twice is refused (the interaction is gone).
    refused(
        &mut cc.e,
        wrap_up_cmd("a1", "i1", None, None),
        s(7),
        "not_found",
    );
}

/// the countdown completes the wrap-up on its own exactly at its deadline, with no code
/// (even where a code is required): the slot is freed and the interaction is done.
#[test]
fn r3_12_countdown_completes_the_wrap_up_at_the_deadline() {
    let mut cc = queue_with_dispositions(true, 60);
    cc.inbound("i2", "c2", "q1", s(5));
    let deadline = cc.it("i1").participants[0].wrap_up_deadline;
    assert_eq!(deadline, Some(s(64)));
    assert!(cc
        .e
        .timers()
        .contains(&(s(64), Timer::WrapUp(iid("i1"), aid("a1")))));
    assert!(
        cc.tick(t(64_000 - 1)).is_empty(),
        "one ms early: still wrapping up"
    );
    assert_eq!(cc.load("a1"), 1);

    let c = cc.tick(s(64));
    assert_eq!(c.counters.auto_wrap_ups, 1);
    assert_eq!(
        c.finished.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        ids(&["i1"])
    );
    let p = &c.finished[0].participants[0];
    assert_eq!(
        (p.state, p.disposition_code.clone()),
        (ParticipantState::Done, None)
    );
    assert!(cc.e.interaction(&iid("i1")).is_none());
    assert_eq!(offers(&c), vec![offer("i2", "a1")], "the slot is freed");
}

/// a post-processing timeout of 0 disables the countdown: the wrap-up waits for the agent.
#[test]
fn r3_12_zero_post_processing_means_no_countdown() {
    let mut cc = queue_with_dispositions(false, 0);
    assert_eq!(cc.it("i1").participants[0].wrap_up_deadline, None);
    assert!(cc.e.timers().is_empty());
    assert!(cc.tick(s(86_400 * 7)).is_empty());
    assert_eq!(cc.it("i1").state, InteractionState::WrapUp);
    assert_eq!(cc.load("a1"), 1);
    let c = cc.wrap_up("a1", "i1", Some("no_sale"), s(86_400 * 7 + 1));
    assert_eq!(c.finished.len(), 1);
}
