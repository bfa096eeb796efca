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
