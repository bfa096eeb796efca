//! Customer messages: a later message joins the open interaction.

use crate::support::*;
use switchboard_domain::*;

/// a later customer message joins the open interaction (it keeps its first message) and
/// the name from the WhatsApp profile is updated.
#[test]
fn r2_6_later_messages_join_the_open_interaction() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    let o = cc.e.apply(Command::Inbound(msg("i1", "c1", "q1")), s(1));
    assert_eq!(
        o.result,
        Ok(Reply::Inbound {
            interaction_id: iid("i1"),
            created: true
        })
    );
    let mut second = msg("i2", "c1", "q1");
    second.customer.name = Some("Jo".into());
    second.summary = Some("anyone?".into());
    let o = cc.e.apply(Command::Inbound(second), s(2));
    assert_eq!(
        o.result,
        Ok(Reply::Inbound {
            interaction_id: iid("i1"),
            created: false
        })
    );
    let it = cc.it("i1");
    assert_eq!(it.first_message.as_deref(), Some("hello from c1"));
    assert_eq!(it.customer.name.as_deref(), Some("Jo"));
    assert_eq!(it.unread, 2);
    assert!(cc.e.interaction(&iid("i2")).is_none());
}

/// A customer's reaction to an earlier message joins the open interaction without counting as
/// unread or starting the reply clock (R-2.6, SLA): a 👍 after the agent's answer is not a
/// question waiting for one. A message after it counts as usual.
#[test]
fn a_reaction_is_neither_unread_nor_waiting_for_a_reply() {
    let mut cc = ann_available();
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc.reply("a1", "i1", s(4));
    cc.apply(
        Command::MarkRead {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(4),
    );
    assert_eq!(cc.it("i1").awaiting_reply_since, None);
    assert_eq!(cc.it("i1").unread, 0);

    let mut reaction = msg("i2", "c1", "q1");
    reaction.reaction = true;
    cc.apply(Command::Inbound(reaction), s(10));
    let it = cc.it("i1");
    assert_eq!(it.unread, 0, "a reaction is not unread");
    assert_eq!(it.awaiting_reply_since, None, "nor waits for a reply");
    assert_eq!(it.last_inbound_at, Some(s(10)));

    cc.apply(Command::Inbound(msg("i3", "c1", "q1")), s(20));
    let it = cc.it("i1");
    assert_eq!(it.unread, 1);
    assert_eq!(it.awaiting_reply_since, Some(s(20)));
    cc.check(s(20));
}
