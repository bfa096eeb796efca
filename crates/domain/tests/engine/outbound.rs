//! Outbound starts and contact links.

use crate::support::*;
use switchboard_domain::*;

// ----- outbound starts and contact links ----------------------------------------

fn outbound(agent: &str, id: &str, conv: &str, queue: &str) -> Command {
    Command::StartOutbound(Outbound {
        agent: aid(agent),
        new_interaction_id: iid(id),
        conversation_id: ConversationId::from(conv),
        queue_id: qid(queue),
        channel_id: Some("ch1".into()),
        source_number: Some("+15550100".into()),
        customer: Customer {
            wa_id: "4915000001".into(),
            name: Some("Olga".into()),
        },
        contact_id: Some("con_1".into()),
        last_inbound_at: None,
    })
}

#[test]
fn outbound_start_opens_active_and_owned_without_an_offer_and_counts_against_capacity() {
    let mut c = Cc::new();
    c.queue(queue("q"), s(0));
    c.agent("a", "Ann", &["q"], 1, true, s(0));
    c.agent("b", "Bob", &["q"], 1, true, s(0));
    c.available("a", s(0));
    let ch = c.apply(outbound("a", "o1", "conv-o", "q"), s(1));
    assert!(
        ch.offers.is_empty(),
        "no offer is made for an outbound start"
    );
    let it = c.it("o1");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(it.owner_id, Some(aid("a")));
    assert_eq!(it.accepted_at, Some(s(1)));
    assert_eq!(it.contact_id.as_deref(), Some("con_1"));
    assert_eq!(c.load("a"), 1);
    c.check(s(1));
    // The customer answers: the message joins the open interaction, no new one is routed.
    c.available("b", s(2));
    let ch = c.inbound("x", "conv-o", "q", s(3));
    assert!(ch.offers.is_empty());
    assert!(c.e.interaction(&iid("x")).is_none());
    assert_eq!(c.it("o1").unread, 1);
    // A second start on the same conversation is refused, saying whose it is.
    refused(
        &mut c.e,
        outbound("a", "o2", "conv-o", "q"),
        s(4),
        "already_yours",
    );
    refused(
        &mut c.e,
        outbound("b", "o3", "conv-o", "q"),
        s(4),
        "conversation_open",
    );
    // It ends and wraps up like any other.
    c.end("a", "o1", s(5));
    c.wrap_up("a", "o1", None, s(6));
    assert_eq!(c.load("a"), 0);
    c.check(s(6));
}

#[test]
fn outbound_start_needs_a_known_agent_and_queue() {
    let mut c = Cc::new();
    c.queue(queue("q"), s(0));
    c.agent("a", "Ann", &["q"], 1, true, s(0));
    refused(
        &mut c.e,
        outbound("zz", "o1", "conv", "q"),
        s(1),
        "not_found",
    );
    refused(
        &mut c.e,
        outbound("a", "o1", "conv", "nope"),
        s(1),
        "unknown_queue",
    );
}

#[test]
fn contact_is_relinked_by_a_participant_or_a_supervisor_only() {
    let mut c = Cc::new();
    c.queue(queue("q"), s(0));
    c.agent("a", "Ann", &["q"], 1, true, s(0));
    c.agent("b", "Bob", &["q"], 1, true, s(0));
    c.apply(
        Command::UpsertAgent(AgentConfig {
            role: Role::Supervisor,
            ..agent_config("sup", "Sue", &[], 1, true)
        }),
        s(0),
    );
    c.available("a", s(0));
    c.inbound("i", "conv", "q", s(1));
    c.accept("a", "i", s(2));
    let set = |by: &str, contact: Option<&str>| Command::SetContact {
        by: aid(by),
        interaction: iid("i"),
        contact_id: contact.map(str::to_owned),
    };
    let ch = c.apply(set("a", Some("con_2")), s(3));
    assert_eq!(c.it("i").contact_id.as_deref(), Some("con_2"));
    assert!(
        ch.notices.iter().any(|n| n.to.contains(&aid("a"))
            && matches!(&n.event, Event::InteractionUpdated { interaction } if interaction == &iid("i"))),
        "the owner hears of the new link"
    );
    // Bob is not involved: the interaction does not exist for him.
    refused(&mut c.e, set("b", Some("con_3")), s(4), "not_found");
    assert_eq!(c.it("i").contact_id.as_deref(), Some("con_2"));
    c.apply(set("sup", None), s(5));
    assert_eq!(c.it("i").contact_id, None);
    c.check(s(5));
}

/// for outbound starts: an agent at capacity (offers, active and wrap-up interactions all
/// count) cannot start one; the refusal changes nothing, and a freed slot allows it again.
#[test]
fn r2_3_outbound_start_is_refused_at_capacity() {
    let mut c = Cc::new();
    c.queue(queue("q"), s(0));
    c.agent("a", "Ann", &["q"], 2, true, s(0));
    c.available("a", s(0));
    c.apply(outbound("a", "o1", "conv-1", "q"), s(1));
    // An offer takes the second slot.
    c.inbound("i1", "conv-2", "q", s(2));
    assert_eq!(c.offered_to("i1"), Some(aid("a")));
    assert_eq!(c.load("a"), 2);
    let e = refused(
        &mut c.e,
        outbound("a", "o2", "conv-3", "q"),
        s(3),
        "at_capacity",
    );
    assert!(matches!(e, DomainError::Conflict { .. }), "{e:?}");
    assert!(e.to_string().contains("2 of 2"), "says the load: {e}");
    // Accepted and ended: the wrap-up still holds the slot.
    c.accept("a", "i1", s(4));
    c.end("a", "i1", s(5));
    refused(
        &mut c.e,
        outbound("a", "o2", "conv-3", "q"),
        s(6),
        "at_capacity",
    );
    c.wrap_up("a", "i1", None, s(7));
    c.apply(outbound("a", "o2", "conv-3", "q"), s(8));
    assert_eq!(c.load("a"), 2);
    c.check(s(8));
}
