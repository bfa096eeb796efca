//! Tests of the routing engine, one per rule of SPEC.md sections 2 and 3 (R-2.1 … R-2.11,
//! R-3.9 … R-3.13), plus a property test that drives random command sequences and checks the
//! engine's invariants after every step.
//!
//! Every test states what a user would observe: offers made to whom, presence, interaction states,
//! notices pushed, system messages stored, errors with their codes. Time is a fake clock passed in.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use switchboard_domain::engine::{Inbound, Timer};
use switchboard_domain::*;

// ----- Helpers ---------------------------------------------------------------------------------

/// The fake clock's origin.
const T0: Timestamp = Timestamp(1_700_000_000_000);

/// `T0` plus `ms` milliseconds.
fn t(ms: i64) -> Timestamp {
    Timestamp(T0.0 + ms)
}

/// `T0` plus `s` seconds.
fn s(s: i64) -> Timestamp {
    t(s * 1000)
}

fn aid(s: &str) -> AgentId {
    AgentId::from(s)
}
fn qid(s: &str) -> QueueId {
    QueueId::from(s)
}
fn iid(s: &str) -> InteractionId {
    InteractionId::from(s)
}

/// A queue with the documented defaults, named after its id ("q1" -> "Queue q1").
fn queue(id: &str) -> Queue {
    Queue::new(qid(id), format!("Queue {id}"))
}

/// The result must be a success; its changes.
#[track_caller]
fn ok(o: Outcome) -> Changes {
    assert!(o.result.is_ok(), "command refused: {:?}", o.result);
    o.changes
}

/// The result must be an error; it.
#[track_caller]
fn err(o: Outcome) -> DomainError {
    match o.result {
        Ok(r) => panic!("command unexpectedly succeeded: {r:?}"),
        Err(e) => e,
    }
}

/// Applies a command that must be refused with `code`, and checks that it changed nothing at all:
/// the engine's whole state is identical before and after and no changes are reported.
#[track_caller]
fn refused(e: &mut Engine, cmd: Command, now: Timestamp, code: &str) -> DomainError {
    // Fire what is due first, so that the comparison is about the command alone.
    e.tick(now);
    let before = format!("{e:?}");
    let o = e.apply(cmd, now);
    let after = format!("{e:?}");
    let error = match o.result {
        Ok(r) => panic!("command unexpectedly succeeded: {r:?}"),
        Err(error) => error,
    };
    assert_eq!(error.code(), code, "wrong error: {error:?}");
    assert!(
        o.changes.is_empty(),
        "a refused command reported changes: {:?}",
        o.changes
    );
    assert!(o.changes.offers.is_empty());
    assert_eq!(before, after, "a refused command changed the engine");
    error
}

/// A small contact center under test.
struct Cc {
    e: Engine,
}

impl Cc {
    fn new() -> Cc {
        Cc {
            e: Engine::new(Settings::default()),
        }
    }
    fn with_settings(settings: Settings) -> Cc {
        Cc {
            e: Engine::new(settings),
        }
    }
    fn apply(&mut self, cmd: Command, now: Timestamp) -> Changes {
        ok(self.e.apply(cmd, now))
    }
    fn queue(&mut self, q: Queue, now: Timestamp) {
        self.apply(Command::UpsertQueue(q), now);
    }
    /// Creates an agent (offline, as new agents are).
    fn agent(
        &mut self,
        id: &str,
        name: &str,
        queues: &[&str],
        capacity: u32,
        can_reject: bool,
        now: Timestamp,
    ) {
        self.apply(
            Command::UpsertAgent(AgentConfig {
                id: aid(id),
                display_name: name.into(),
                role: Role::Agent,
                capacity,
                can_reject,
                queue_ids: queues.iter().map(|q| qid(q)).collect(),
            }),
            now,
        );
    }
    fn presence(&mut self, agent: &str, p: Presence, now: Timestamp) -> Changes {
        let reason = (p == Presence::OnBreak).then(|| "Lunch".to_owned());
        self.apply(
            Command::SetPresence {
                agent: aid(agent),
                presence: p,
                reason,
            },
            now,
        )
    }
    fn available(&mut self, agent: &str, now: Timestamp) -> Changes {
        self.presence(agent, Presence::Available, now)
    }
    /// A customer writes on conversation `conv`; opens interaction `id` if none is open.
    fn inbound(&mut self, id: &str, conv: &str, queue: &str, now: Timestamp) -> Changes {
        self.apply(Command::Inbound(msg(id, conv, queue)), now)
    }
    fn accept(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::Accept {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    fn end(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::End {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    fn wrap_up(&mut self, agent: &str, i: &str, code: Option<&str>, now: Timestamp) -> Changes {
        self.apply(
            Command::WrapUp {
                agent: aid(agent),
                interaction: iid(i),
                disposition_code: code.map(str::to_owned),
                note: None,
            },
            now,
        )
    }
    fn tick(&mut self, now: Timestamp) -> Changes {
        let c = self.e.tick(now);
        self.check(now);
        c
    }
    #[track_caller]
    fn check(&self, now: Timestamp) {
        if let Err(e) = self.e.check_invariants(now) {
            panic!("invariant violated: {e}");
        }
    }
    fn it(&self, i: &str) -> &Interaction {
        self.e
            .interaction(&iid(i))
            .unwrap_or_else(|| panic!("no interaction {i}"))
    }
    /// Who holds the routed offer of `i`.
    fn offered_to(&self, i: &str) -> Option<AgentId> {
        self.e
            .interaction(&iid(i))
            .and_then(|x| x.offer.as_ref())
            .map(|o| o.agent_id.clone())
    }
    fn presence_of(&self, agent: &str) -> Presence {
        self.e.agent(&aid(agent)).unwrap().presence
    }
    fn waiting(&self, q: &str) -> Vec<InteractionId> {
        self.e.waiting(&qid(q))
    }
    fn load(&self, agent: &str) -> u32 {
        self.e.load_of(&aid(agent))
    }
}

fn msg(id: &str, conv: &str, queue: &str) -> Inbound {
    Inbound {
        new_interaction_id: iid(id),
        conversation_id: ConversationId::from(conv),
        queue_id: qid(queue),
        channel_id: Some("ch1".into()),
        source_number: Some("+15550100".into()),
        customer: Customer {
            wa_id: format!("4915{:07}", conv.len()),
            name: None,
        },
        contact_id: None,
        summary: Some(format!("hello from {conv}")),
        last_agent: None,
    }
}

/// The offers a step made, as (interaction, agent) strings.
fn offers(c: &Changes) -> Vec<(String, String)> {
    c.offers
        .iter()
        .map(|(i, a)| (i.to_string(), a.to_string()))
        .collect()
}

fn offer(i: &str, a: &str) -> (String, String) {
    (i.to_owned(), a.to_owned())
}

/// The `OfferWithdrawn` notices of a step, as (interaction, agent, reason).
fn withdrawals(c: &Changes) -> Vec<(String, String, WithdrawReason)> {
    c.notices
        .iter()
        .filter_map(|n| match &n.event {
            Event::OfferWithdrawn {
                interaction,
                agent,
                reason,
            } => {
                assert_eq!(n.to, vec![agent.clone()], "a withdrawal goes to the agent");
                Some((interaction.to_string(), agent.to_string(), *reason))
            }
            _ => None,
        })
        .collect()
}

fn system_texts(c: &Changes) -> Vec<String> {
    c.system_messages.iter().map(|m| m.text.clone()).collect()
}

fn ids(v: &[&str]) -> Vec<InteractionId> {
    v.iter().map(|s| iid(s)).collect()
}

/// One queue `q1` with agents a1 ("Ann"), a2 ("Bob"), a3 ("Cid") created in that order one second
/// apart, capacity 1, all offline.
fn three_agents(policy: RoutingPolicy, can_reject: bool) -> Cc {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.routing_policy = policy;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 1, can_reject, s(0));
    cc.agent("a2", "Bob", &["q1"], 1, can_reject, s(1));
    cc.agent("a3", "Cid", &["q1"], 1, can_reject, s(2));
    cc
}

// ----- R-2.1 Presence ------------------------------------------------------------------------

/// R-2.1: only `available` agents receive offers; `offline`, `on_break` and `rona` agents do not.
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

/// R-2.1: a break needs a reason from the admin-managed list; the presence change is pushed to
/// the agent and to supervisors.
#[test]
fn r2_1_break_needs_a_reason_from_the_admin_list() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.apply(
        Command::UpsertAgent(AgentConfig {
            id: aid("sup"),
            display_name: "Sue".into(),
            role: Role::Supervisor,
            capacity: 3,
            can_reject: false,
            queue_ids: vec![],
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

/// R-2.1: with an empty admin list any non-empty reason is accepted.
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

/// R-2.1: `rona` is set by the router only; an agent cannot choose it.
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

/// R-2.1 (with R-2.11): leaving `available` withdraws the agent's pending offers; the interaction
/// goes back to the head of its queue and is offered to the next available agent.
#[test]
fn r2_1_going_on_break_withdraws_pending_offers() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i2", "c2", "q1", s(5));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));

    let c = cc.presence("a1", Presence::OnBreak, s(6));
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a1".into(), WithdrawReason::AgentUnavailable)]
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

/// R-2.1, R-2.8: when an agent with several pending offers leaves `available`, every one goes
/// back to the head of its queue, in the order they were in.
#[test]
fn r2_1_withdrawn_offers_keep_their_order_at_the_head() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    for n in 1..=5 {
        cc.inbound(&format!("i{n}"), &format!("c{n}"), "q1", s(1 + n));
    }
    assert_eq!(cc.waiting("q1"), ids(&["i4", "i5"]));
    let c = cc.presence("a1", Presence::Offline, s(10));
    assert_eq!(withdrawals(&c).len(), 3);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2", "i3", "i4", "i5"]));
    cc.check(s(10));
}

// ----- R-2.2 Queue membership ------------------------------------------------------------------

/// R-2.2: an agent receives offers only from the queues they are a member of; membership changes
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
        Command::UpsertAgent(AgentConfig {
            id: aid("a1"),
            display_name: "Ann".into(),
            role: Role::Agent,
            capacity: 3,
            can_reject: false,
            queue_ids: vec![qid("q2"), qid("q1"), qid("q2")],
        }),
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
    let cmd = Command::UpsertAgent(AgentConfig {
        id: aid("a1"),
        display_name: "Ann".into(),
        role: Role::Agent,
        capacity: 3,
        can_reject: false,
        queue_ids: vec![qid("nope")],
    });
    refused(&mut cc.e, cmd, s(5), "unknown_queue");
}

// ----- R-2.3 Capacity --------------------------------------------------------------------------

/// R-2.3: offered, active and wrap-up interactions all count towards capacity; offers keep coming
/// until the maximum is reached, and resume when a slot frees.
#[test]
fn r2_3_capacity_counts_offered_active_and_wrap_up() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
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

/// R-2.3: capacity is admin-set, 1..=100 (default 3).
#[test]
fn r2_3_capacity_is_validated() {
    let mut cc = Cc::new();
    assert_eq!(DEFAULT_CAPACITY, 3);
    for cap in [0, 101] {
        let cmd = Command::UpsertAgent(AgentConfig {
            id: aid("a1"),
            display_name: "Ann".into(),
            role: Role::Agent,
            capacity: cap,
            can_reject: false,
            queue_ids: vec![],
        });
        refused(&mut cc.e, cmd, T0, "invalid_capacity");
    }
}

/// R-2.3, R-2.9: offers keep coming while an agent has room, even when a long run of waiting
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

/// R-5.4 (with R-2.2): a returning customer is held for the agent who last handled the
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

// ----- R-2.4 Stop new --------------------------------------------------------------------------

/// R-2.4: "stop new" stops new offers while keeping presence, pending offers and current work;
/// turning it off resumes offers.
#[test]
fn r2_4_stop_new_keeps_current_work_and_presence() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
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

// ----- R-2.5 Routing policies ------------------------------------------------------------------

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

/// R-2.5: within a queue interactions are served first come, first served.
#[test]
fn r2_5_first_in_first_out_within_a_queue() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
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

/// R-2.5: an agent in several queues of equal priority is served the oldest waiting interaction
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

/// R-2.5: waiting time is weighted by queue priority: 5 s in a priority-3 queue (15) beats 10 s in
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

// ----- R-2.6 Offer contents --------------------------------------------------------------------

/// R-2.6: an offer carries the customer, their number, the source number, the queue, the first
/// message and the time the customer has been waiting.
#[test]
fn r2_6_offer_carries_customer_source_queue_first_message_and_wait() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.name = "Support".into();
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    let c = cc.apply(
        Command::Inbound(Inbound {
            new_interaction_id: iid("i1"),
            conversation_id: ConversationId::from("c1"),
            queue_id: qid("q1"),
            channel_id: Some("ch1".into()),
            source_number: Some("+15550100".into()),
            customer: Customer {
                wa_id: "34600111222".into(),
                name: Some("María".into()),
            },
            contact_id: Some("contact-7".into()),
            summary: Some("My order is late".into()),
            last_agent: None,
        }),
        s(1),
    );
    assert!(
        c.interactions.contains(&iid("i1")),
        "the new interaction is persisted"
    );
    let c = cc.available("a1", s(8));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    assert!(c.notices.iter().any(|n| n.to == vec![aid("a1")]
        && n.event
            == Event::OfferCreated {
                interaction: iid("i1"),
                agent: aid("a1"),
            }));

    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Offered);
    assert_eq!(it.customer.name.as_deref(), Some("María"));
    assert_eq!(it.customer.wa_id, "34600111222");
    assert_eq!(it.source_number.as_deref(), Some("+15550100"));
    assert_eq!(cc.e.queue(&it.queue_id).unwrap().name, "Support");
    assert_eq!(it.first_message.as_deref(), Some("My order is late"));
    assert_eq!(it.contact_id.as_deref(), Some("contact-7"));
    let o = it.offer.as_ref().unwrap();
    assert_eq!(o.kind, OfferKind::Route);
    assert_eq!(o.offered_at, s(8));
    assert_eq!(
        o.offered_at.millis_since(it.waiting_since),
        7_000,
        "waited 7 s when offered"
    );
    assert_eq!(o.deadline, s(8 + 30), "default acceptance interval 30 s");
}

/// R-2.6: a later customer message joins the open interaction (it keeps its first message) and
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

// ----- R-2.7 Accept and reject -----------------------------------------------------------------

/// R-2.7: accepting makes the agent the interaction's owner.
#[test]
fn r2_7_accept_makes_the_agent_the_owner() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    let c = cc.accept("a1", "i1", s(5));
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(it.owner_id, Some(aid("a1")));
    assert_eq!(it.offer, None);
    assert_eq!(it.accepted_at, Some(s(5)));
    let p = it.participant(&aid("a1")).unwrap();
    assert_eq!(
        (p.role, p.state, p.joined_at),
        (ParticipantRole::Owner, ParticipantState::Active, s(5))
    );
    assert_eq!(c.counters.accepts, 1);
    assert!(c.interactions.contains(&iid("i1")));
    assert!(c.notices.iter().any(|n| n.event
        == Event::InteractionUpdated {
            interaction: iid("i1")
        }
        && n.to.contains(&aid("a1"))));
    assert_eq!(cc.load("a1"), 1, "accepting keeps the slot");
    cc.check(s(5));

    // Accepting again, or an offer that is not yours, is refused.
    refused(
        &mut cc.e,
        Command::Accept {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(6),
        "offer_not_pending",
    );
    let e = refused(
        &mut cc.e,
        Command::Accept {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(6),
        "not_found",
    );
    assert!(
        matches!(e, DomainError::NotFound { .. }),
        "another agent's interaction is invisible"
    );
}

/// R-2.7: without `can_reject` the reject is refused (403 `reject_not_permitted`) and nothing
/// changes: the offer stays pending with its deadline.
#[test]
fn r2_7_reject_without_permission_is_forbidden_and_changes_nothing() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.available("a2", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    let cmd = Command::Reject {
        agent: aid("a1"),
        interaction: iid("i1"),
    };
    let e = refused(&mut cc.e, cmd, s(5), "reject_not_permitted");
    assert!(matches!(e, DomainError::Forbidden { .. }));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(cc.it("i1").offer.as_ref().unwrap().deadline, s(34));
    cc.check(s(5));
}

/// R-2.7, R-2.8: with `can_reject` a reject withdraws the offer, puts the interaction back at the
/// head of the queue, makes the agent `rona` and offers it to the next agent.
#[test]
fn r2_7_reject_with_permission_offers_to_the_next_agent() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, true);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i2", "c2", "q1", s(5));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));
    let c = cc.apply(
        Command::Reject {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(6),
    );
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a1".into(), WithdrawReason::Rejected)]
    );
    assert_eq!(c.counters.rejects, 1);
    assert_eq!(c.counters.misses, 0);
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]), "back at the head");
    assert_eq!(cc.load("a1"), 0);
    cc.check(s(6));
    // The next agent to become available gets it.
    let c = cc.available("a2", s(7));
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    cc.check(s(7));
}

// ----- R-2.8 Offer timeout, RONA, exclusion ------------------------------------------------------

/// R-2.8: an unanswered offer expires exactly at its deadline (not one millisecond before): the
/// agent goes `rona` and the interaction goes back to the head of its queue.
#[test]
fn r2_8_offer_times_out_at_the_deadline_not_before() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i2", "c2", "q1", s(5));
    let deadline = cc.it("i1").offer.as_ref().unwrap().deadline;
    assert_eq!(deadline, s(34));
    assert_eq!(cc.e.next_deadline(), Some(deadline));

    let c = cc.tick(t(deadline.0 - T0.0 - 1));
    assert!(c.is_empty(), "one ms early: nothing happens");
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));

    let c = cc.tick(deadline);
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a1".into(), WithdrawReason::Timeout)]
    );
    assert_eq!(c.counters.misses, 1);
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    assert!(c
        .notices
        .iter()
        .any(|n| n.event == Event::PresenceChanged { agent: aid("a1") }));
    assert_eq!(
        cc.waiting("q1"),
        ids(&["i1", "i2"]),
        "re-queued at the head"
    );
    assert_eq!(cc.it("i1").state, InteractionState::Queued);
    assert_eq!(
        cc.it("i1").waiting_since,
        s(4),
        "the wait timer keeps running"
    );
    assert_eq!(cc.load("a1"), 0);
}

/// R-2.8: an accept one millisecond before the deadline wins; at the deadline the offer is gone.
#[test]
fn r2_8_accept_races_the_deadline() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.available("a2", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i2", "c2", "q1", s(4));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.offered_to("i2"), Some(aid("a2")));
    cc.accept("a1", "i1", t(34_000 - 1));
    assert_eq!(cc.it("i1").owner_id, Some(aid("a1")));
    let e = err(cc.e.apply(
        Command::Accept {
            agent: aid("a2"),
            interaction: iid("i2"),
        },
        s(34),
    ));
    assert_eq!(e.code(), "offer_not_pending");
    assert_eq!(cc.presence_of("a2"), Presence::Rona);
    assert_eq!(cc.it("i2").state, InteractionState::Queued);
    cc.check(s(34));
}

/// R-2.8: the queue's acceptance interval sets the deadline.
#[test]
fn r2_8_acceptance_interval_comes_from_the_queue() {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.acceptance_interval_s = 7;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    assert_eq!(cc.it("i1").offer.as_ref().unwrap().deadline, s(9));
    assert!(cc.tick(t(8_999)).is_empty());
    assert_eq!(withdrawals(&cc.tick(s(9))).len(), 1);
}

/// R-2.8: with `after_missed_offer = on_break` a missed offer puts the agent on break instead.
#[test]
fn r2_8_after_missed_offer_on_break() {
    let settings = Settings {
        after_missed_offer: AfterMissedOffer::OnBreak,
        ..Settings::default()
    };
    let mut cc = Cc::with_settings(settings);
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, true, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.tick(s(32));
    let a = cc.e.agent(&aid("a1")).unwrap();
    assert_eq!(a.presence, Presence::OnBreak);
    assert!(a.break_reason.is_some(), "the break says why");
    assert_eq!(cc.waiting("q1"), ids(&["i1"]));
    // A reject does the same.
    cc.available("a1", s(33));
    // ... but a1 is excluded from i1 for a while, so a new one comes.
    cc.inbound("i2", "c2", "q1", s(34));
    assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
    cc.apply(
        Command::Reject {
            agent: aid("a1"),
            interaction: iid("i2"),
        },
        s(35),
    );
    assert_eq!(cc.presence_of("a1"), Presence::OnBreak);
    assert_eq!(
        cc.waiting("q1"),
        ids(&["i2", "i1"]),
        "the latest missed is at the head"
    );
    cc.check(s(35));
}

/// R-2.8: the agent who missed an offer is excluded from re-offers of that interaction until the
/// exclusion expires (`offer_exclusion_s`, default 300 s), then it can reach them again; other
/// interactions reach them at once.
#[test]
fn r2_8_missed_agent_is_excluded_from_re_offers_until_expiry() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.tick(s(32)); // missed
    let ex = &cc.it("i1").exclusions;
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].agent_id.clone(), ex[0].until),
        (aid("a1"), s(32 + 300))
    );

    let c = cc.available("a1", s(40));
    assert!(c.offers.is_empty(), "a1 is excluded from i1");
    cc.check(s(40));
    let c = cc.inbound("i2", "c2", "q1", s(41));
    assert_eq!(offers(&c), vec![offer("i2", "a1")], "but not from others");
    cc.accept("a1", "i2", s(42));
    assert_eq!(cc.waiting("q1"), ids(&["i1"]));

    assert!(
        cc.tick(t(332_000 - 1)).is_empty(),
        "still excluded one ms before expiry"
    );
    let c = cc.tick(s(332));
    assert_eq!(
        offers(&c),
        vec![offer("i1", "a1")],
        "offered again at expiry"
    );
    assert!(cc.it("i1").exclusions.is_empty());
}

/// R-2.8: with `offer_exclusion_s = 0` nobody is excluded: an agent who missed an offer gets it
/// again as soon as they are available again.
#[test]
fn r2_8_zero_exclusion_excludes_nobody() {
    let settings = Settings {
        offer_exclusion_s: 0,
        ..Settings::default()
    };
    let mut cc = Cc::with_settings(settings);
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, true, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.apply(
        Command::Reject {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(3),
    );
    assert!(cc.it("i1").exclusions.is_empty());
    cc.check(s(3));
    let c = cc.available("a1", s(4));
    assert_eq!(offers(&c), vec![offer("i1", "a1")]);
    cc.check(s(4));
}

/// R-2.8: from `rona` the agent returns to `available` only by their own action: time passing,
/// other agents' actions and other commands of theirs do not change it.
#[test]
fn r2_8_rona_ends_only_by_the_agents_own_action() {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, false);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.tick(s(34));
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: true,
        },
        s(40),
    );
    cc.apply(
        Command::SetStopNew {
            agent: aid("a1"),
            stop_new: false,
        },
        s(41),
    );
    cc.apply(Command::Connected { agent: aid("a1") }, s(42));
    // a2 takes i1 and keeps it; i2 and i3 wait.
    assert_eq!(offers(&cc.available("a2", s(43))), vec![offer("i1", "a2")]);
    cc.accept("a2", "i1", s(43));
    cc.inbound("i2", "c2", "q1", s(44));
    for h in 1..=48 {
        cc.tick(s(3600 * h));
    }
    assert_eq!(cc.presence_of("a1"), Presence::Rona);
    let c = cc.inbound("i3", "c3", "q1", s(3600 * 48 + 1));
    assert!(
        !offers(&c).iter().any(|(_, a)| a == "a1"),
        "rona receives nothing"
    );

    assert_eq!(cc.waiting("q1"), ids(&["i2", "i3"]));
    let c = cc.available("a1", s(3600 * 48 + 2));
    assert_eq!(cc.presence_of("a1"), Presence::Available);
    assert_eq!(offers(&c), vec![offer("i2", "a1")]);
    cc.check(s(3600 * 48 + 2));
}

// ----- R-2.9 Exclusive offers --------------------------------------------------------------------

/// R-2.9: nothing is ever offered to two agents at once, and nobody gets more than capacity,
/// however many agents and interactions there are.
#[test]
fn r2_9_nothing_offered_to_two_agents_and_nobody_over_capacity() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.queue(queue("q2"), T0);
    for n in 0..6 {
        let qs: &[&str] = if n % 2 == 0 { &["q1", "q2"] } else { &["q1"] };
        cc.agent(&format!("a{n}"), &format!("Agent {n}"), qs, 2, true, T0);
    }
    for n in 0..20 {
        let q = if n % 3 == 0 { "q2" } else { "q1" };
        cc.inbound(&format!("i{n}"), &format!("c{n}"), q, s(1));
    }
    let mut all = Vec::new();
    for n in 0..6 {
        all.extend(offers(&cc.available(&format!("a{n}"), s(2))));
    }
    assert_eq!(all.len(), 12, "6 agents x capacity 2");
    let distinct: BTreeSet<&String> = all.iter().map(|(i, _)| i).collect();
    assert_eq!(distinct.len(), 12, "each interaction offered once");
    for n in 0..6 {
        assert_eq!(cc.load(&format!("a{n}")), 2);
    }
    cc.check(s(2));
    // Everybody rejects everything: each is offered again, never to two at once.
    for n in 0..6 {
        for (i, _) in all.iter().filter(|(_, a)| a == &format!("a{n}")) {
            let _ = cc.e.apply(
                Command::Reject {
                    agent: aid(&format!("a{n}")),
                    interaction: iid(i),
                },
                s(3),
            );
            cc.check(s(3));
        }
    }
    for it in cc.e.interactions() {
        assert!(it.offered_agents().count() <= 1);
    }
}

// ----- R-2.10 Restart ----------------------------------------------------------------------------

/// The engine's persisted values, as the store would keep them (through JSON).
fn persisted(e: &Engine) -> (Vec<Agent>, Vec<Queue>, Vec<Interaction>) {
    fn roundtrip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap()
    }
    (
        e.agents().map(roundtrip).collect(),
        e.queues().map(roundtrip).collect(),
        e.interactions().map(roundtrip).collect(),
    )
}

/// A contact center with an offer pending (i1 to a1, deadline 34 s), an interaction active (i2,
/// a2) and one in wrap-up (i3, a2, countdown until 66 s), one waiting (i4).
fn busy_center() -> Cc {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.agent("a2", "Bob", &["q1"], 2, false, T0);
    cc.available("a2", s(1));
    cc.inbound("i2", "c2", "q1", s(2));
    cc.inbound("i3", "c3", "q1", s(2));
    cc.accept("a2", "i2", s(3));
    cc.accept("a2", "i3", s(3));
    cc.end("a2", "i3", s(6));
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc.inbound("i4", "c4", "q1", s(5));
    assert_eq!(cc.offered_to("i1"), Some(aid("a1")));
    assert_eq!(cc.waiting("q1"), ids(&["i4"]));
    cc.check(s(6));
    cc
}

/// R-2.10: after a restart the engine rebuilt from stored values has the same deadlines, and they
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
        vec![("i1".into(), "a1".into(), WithdrawReason::Timeout)]
    );
    let c = restarted.tick(s(66));
    assert_eq!(
        c.finished.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        ids(&["i3"])
    );
    // The freed slot goes to the head of the queue: i1, re-queued before i4.
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
}

/// R-2.10: an offer that expired while the server was down is treated as missed on the first tick
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
        vec![("i1".into(), "a1".into(), WithdrawReason::Timeout)]
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

// ----- R-2.11 Disconnect grace ---------------------------------------------------------------------

/// R-2.11: the grace period runs out before the offer's deadline: the offer is withdrawn (not
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
        vec![("i2".into(), "a1".into(), WithdrawReason::AgentUnavailable)]
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

/// R-2.11: reconnecting within the grace period keeps everything; with several connections
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

/// R-2.11: the grace period is a setting: changing it applies to agents already disconnected, and
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

/// R-2.11: an agent whose connection dropped long ago and who then chooses a presence (e.g.
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

/// R-2.11: going offline by choice withdraws pending offers at once and keeps active work.
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
        vec![("i2".into(), "a1".into(), WithdrawReason::AgentUnavailable)]
    );
    assert_eq!(cc.it("i1").owner_id, Some(aid("a1")));
    assert_eq!(cc.waiting("q1"), ids(&["i2"]));
    // Offline agents still handle what they have.
    cc.end("a1", "i1", s(6));
    cc.wrap_up("a1", "i1", None, s(7));
    assert_eq!(cc.load("a1"), 0);
    cc.check(s(7));
}

// ----- R-3.9 Transfer ------------------------------------------------------------------------------

/// Queue q1 "Support" (a1 Ann, capacity 1) and q2 "Sales" (a3 Cid); a2 Bob is in no queue.
/// a1 owns i1 (accepted at 3 s).
fn two_queues_with_owner() -> Cc {
    let mut cc = Cc::new();
    let mut q1 = queue("q1");
    q1.name = "Support".into();
    let mut q2 = queue("q2");
    q2.name = "Sales".into();
    q2.post_processing_s = 10;
    cc.queue(q1, T0);
    cc.queue(q2, T0);
    cc.agent("a1", "Ann", &["q1"], 1, false, T0);
    cc.agent("a2", "Bob", &[], 2, true, T0);
    cc.agent("a3", "Cid", &["q2"], 2, true, T0);
    cc.available("a1", s(1));
    cc.inbound("i1", "c1", "q1", s(2));
    cc.accept("a1", "i1", s(3));
    cc
}

/// R-3.9: transfer to a queue: the transferring agent goes to wrap-up at once (with the original
/// queue's countdown) and the interaction waits at the tail of the target queue.
#[test]
fn r3_9_transfer_to_queue_wraps_up_the_owner_and_queues_in_target() {
    let mut cc = two_queues_with_owner();
    cc.inbound("i9", "c9", "q2", s(4)); // already waiting in Sales
    let c = cc.apply(
        Command::Transfer {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Queue(qid("q2")),
        },
        s(10),
    );
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

/// R-3.9: transfer to an agent is an offer to them; the owner goes to wrap-up at once; when they
/// accept they become the owner.
#[test]
fn r3_9_transfer_to_agent_is_an_offer_to_them() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    let c = cc.apply(
        Command::Transfer {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(10),
    );
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

/// R-3.9: a transfer to an agent who rejects it sends the interaction back to the head of the
/// original queue — the customer is never dropped.
#[test]
fn r3_9_rejected_transfer_goes_back_to_the_head_of_the_original_queue() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.inbound("i2", "c2", "q1", s(5)); // waits: a1 is full
    cc.apply(
        Command::Transfer {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(10),
    );
    let c = cc.apply(
        Command::Reject {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(11),
    );
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a2".into(), WithdrawReason::Rejected)]
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

/// R-3.9: a transfer to an agent who lets it time out also goes back to the head of the original
/// queue, and that agent goes `rona`.
#[test]
fn r3_9_timed_out_transfer_goes_back_to_the_head_of_the_original_queue() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.inbound("i2", "c2", "q1", s(5));
    cc.apply(
        Command::Transfer {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(10),
    );
    assert!(cc.tick(t(39_999)).is_empty());
    let c = cc.tick(s(40));
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a2".into(), WithdrawReason::Timeout)]
    );
    assert_eq!(
        system_texts(&c),
        vec!["Bob did not answer the transfer from Ann; back in the queue".to_owned()]
    );
    assert_eq!(cc.presence_of("a2"), Presence::Rona);
    assert_eq!(cc.waiting("q1"), ids(&["i1", "i2"]));
}

/// R-3.9: a transfer is refused (and changes nothing) when the target agent cannot take it, when
/// the queue does not exist, to oneself, or by someone who does not own the interaction.
#[test]
fn r3_9_impossible_transfers_are_refused() {
    let mut cc = two_queues_with_owner();
    let to = |a: &str| Command::Transfer {
        agent: aid("a1"),
        interaction: iid("i1"),
        target: Target::Agent(aid(a)),
    };
    refused(&mut cc.e, to("a2"), s(5), "agent_unavailable"); // a2 offline
    cc.available("a3", s(5));
    cc.inbound("i5", "c5", "q2", s(5));
    cc.inbound("i6", "c6", "q2", s(5));
    refused(&mut cc.e, to("a3"), s(6), "agent_at_capacity");
    refused(&mut cc.e, to("a1"), s(6), "transfer_to_self");
    refused(&mut cc.e, to("zz"), s(6), "unknown_agent");
    refused(
        &mut cc.e,
        Command::Transfer {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Queue(qid("nope")),
        },
        s(6),
        "unknown_queue",
    );
    refused(
        &mut cc.e,
        Command::Transfer {
            agent: aid("a3"),
            interaction: iid("i1"),
            target: Target::Queue(qid("q2")),
        },
        s(6),
        "not_found",
    );
    cc.check(s(6));
}

// ----- R-3.10 Conference -----------------------------------------------------------------------------

/// R-3.10: the owner invites an agent: while pending the interaction has a conference request with
/// an offer to them; on accept "NAME joined the conversation" is stored and both agents see the
/// interaction; "End conference" sends the invitee to wrap-up.
#[test]
fn r3_10_conference_with_an_agent() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    let c = cc.apply(
        Command::ConferenceInvite {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(10),
    );
    assert_eq!(offers(&c), vec![offer("i1", "a2")]);
    let it = cc.it("i1");
    let conf = it.conference.as_ref().expect("conference requested");
    assert_eq!(conf.requested_by, aid("a1"));
    let o = conf.offer.as_ref().unwrap();
    assert_eq!(
        (o.agent_id.clone(), o.kind.clone()),
        (aid("a2"), OfferKind::Conference { from: aid("a1") })
    );
    assert_eq!(it.owner_id, Some(aid("a1")), "the owner keeps it meanwhile");
    assert_eq!(it.state, InteractionState::Active);
    assert_eq!(cc.load("a2"), 1, "the invitation takes a slot");
    cc.check(s(10));
    // A second invitation while one is pending is refused.
    refused(
        &mut cc.e,
        Command::ConferenceInvite {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Queue(qid("q2")),
        },
        s(10),
        "conference_pending",
    );

    let c = cc.accept("a2", "i1", s(11));
    assert_eq!(
        system_texts(&c),
        vec!["Bob joined the conversation".to_owned()]
    );
    assert_eq!(c.counters.conferences, 1);
    let updated: Vec<&Notice> = c
        .notices
        .iter()
        .filter(|n| {
            n.event
                == Event::InteractionUpdated {
                    interaction: iid("i1"),
                }
        })
        .collect();
    assert_eq!(updated.len(), 1);
    assert!(updated[0].to.contains(&aid("a1")) && updated[0].to.contains(&aid("a2")));
    let it = cc.it("i1");
    assert!(it.conference.is_none());
    let p = it.participant(&aid("a2")).unwrap();
    assert_eq!(
        (p.role, p.state),
        (ParticipantRole::Conference, ParticipantState::Active)
    );
    assert_eq!(it.owner_id, Some(aid("a1")));
    // Both can act on it.
    cc.apply(
        Command::AgentReply {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(12),
    );
    cc.apply(
        Command::AgentReply {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(12),
    );
    cc.check(s(12));

    let c = cc.apply(
        Command::ConferenceEnd {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(20),
    );
    assert_eq!(
        system_texts(&c),
        vec!["Bob left the conversation".to_owned()]
    );
    let it = cc.it("i1");
    let p = it.participant(&aid("a2")).unwrap();
    assert_eq!(p.state, ParticipantState::WrapUp);
    assert_eq!(p.wrap_up_deadline, Some(s(80)));
    assert_eq!(it.state, InteractionState::Active, "the owner carries on");
    assert_eq!(cc.load("a2"), 1);
    cc.wrap_up("a2", "i1", None, s(21));
    assert_eq!(cc.load("a2"), 0);
    cc.check(s(21));

    // The same agent can be invited again later and act on the interaction again.
    cc.apply(
        Command::ConferenceInvite {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(22),
    );
    cc.accept("a2", "i1", s(23));
    cc.apply(
        Command::AgentReply {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(24),
    );
    cc.apply(
        Command::ConferenceEnd {
            agent: aid("a2"),
            interaction: iid("i1"),
        },
        s(25),
    );
    assert_eq!(
        cc.it("i1").participant(&aid("a2")).unwrap().state,
        ParticipantState::WrapUp
    );
    assert_eq!(cc.load("a2"), 1);
    cc.check(s(25));
}

/// R-3.10: inviting a queue offers the conference to one of its available agents (never the owner);
/// if they reject, another agent of the queue is tried.
#[test]
fn r3_10_conference_with_a_queue() {
    let mut cc = two_queues_with_owner();
    cc.agent("a4", "Dan", &["q2"], 2, true, T0);
    // The owner is also in q2: they must not be invited to their own interaction.
    cc.apply(
        Command::UpsertAgent(AgentConfig {
            id: aid("a1"),
            display_name: "Ann".into(),
            role: Role::Agent,
            capacity: 3,
            can_reject: false,
            queue_ids: vec![qid("q1"), qid("q2")],
        }),
        s(4),
    );
    let c = cc.apply(
        Command::ConferenceInvite {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Queue(qid("q2")),
        },
        s(10),
    );
    assert!(c.offers.is_empty(), "nobody available in Sales yet");
    assert!(cc.it("i1").conference.is_some(), "conference requested");
    cc.check(s(10));
    let c = cc.available("a3", s(11));
    assert_eq!(offers(&c), vec![offer("i1", "a3")]);
    cc.available("a4", s(12));
    let c = cc.apply(
        Command::Reject {
            agent: aid("a3"),
            interaction: iid("i1"),
        },
        s(13),
    );
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a3".into(), WithdrawReason::Rejected)]
    );
    assert_eq!(
        offers(&c),
        vec![offer("i1", "a4")],
        "the next agent of the queue is tried"
    );
    assert_eq!(cc.presence_of("a3"), Presence::Rona);
    let c = cc.accept("a4", "i1", s(14));
    assert_eq!(
        system_texts(&c),
        vec!["Dan joined the conversation".to_owned()]
    );
    cc.check(s(14));
    // Ending the interaction sends both to wrap-up.
    cc.end("a1", "i1", s(15));
    let it = cc.it("i1");
    assert_eq!(it.state, InteractionState::WrapUp);
    for a in ["a1", "a4"] {
        assert_eq!(
            it.participant(&aid(a)).unwrap().state,
            ParticipantState::WrapUp
        );
    }
    cc.wrap_up("a4", "i1", None, s(16));
    assert!(
        cc.e.interaction(&iid("i1")).is_some(),
        "not done until every agent wrapped up"
    );
    let c = cc.wrap_up("a1", "i1", None, s(17));
    assert_eq!(c.finished.len(), 1);
    cc.check(s(17));
}

/// R-3.10: the owner can cancel a pending invitation with "End conference"; the offer is withdrawn.
#[test]
fn r3_10_end_conference_cancels_a_pending_invitation() {
    let mut cc = two_queues_with_owner();
    cc.available("a2", s(4));
    cc.apply(
        Command::ConferenceInvite {
            agent: aid("a1"),
            interaction: iid("i1"),
            target: Target::Agent(aid("a2")),
        },
        s(10),
    );
    let c = cc.apply(
        Command::ConferenceEnd {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(11),
    );
    assert_eq!(
        withdrawals(&c),
        vec![("i1".into(), "a2".into(), WithdrawReason::Cancelled)]
    );
    assert!(cc.it("i1").conference.is_none());
    assert_eq!(cc.load("a2"), 0);
    assert_eq!(
        cc.presence_of("a2"),
        Presence::Available,
        "a cancellation is no miss"
    );
    refused(
        &mut cc.e,
        Command::ConferenceEnd {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(12),
        "no_conference",
    );
    cc.check(s(12));
}

// ----- R-3.11 End --------------------------------------------------------------------------------------

/// R-3.11: ending enters wrap-up with the queue's countdown; the customer can keep writing and a
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

// ----- R-3.12 Wrap-up ----------------------------------------------------------------------------------

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

/// R-3.12: a queue that requires a disposition refuses a wrap-up without one (nothing changes);
/// with a code (and a note) the wrap-up completes, the slot is freed and the interaction is done.
#[test]
fn r3_12_disposition_required() {
    let mut cc = queue_with_dispositions(true, 60);
    let without = Command::WrapUp {
        agent: aid("a1"),
        interaction: iid("i1"),
        disposition_code: None,
        note: Some("called back".into()),
    };
    let e = refused(&mut cc.e, without, s(5), "disposition_required");
    assert!(matches!(e, DomainError::Invalid { .. }));
    let blank = Command::WrapUp {
        agent: aid("a1"),
        interaction: iid("i1"),
        disposition_code: Some("  ".into()),
        note: None,
    };
    refused(&mut cc.e, blank, s(5), "disposition_required");
    cc.inbound("i2", "c2", "q1", s(6));

    let c = cc.apply(
        Command::WrapUp {
            agent: aid("a1"),
            interaction: iid("i1"),
            disposition_code: Some("sale".into()),
            note: Some("called back".into()),
        },
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

/// R-3.12: a code that is not in the queue's list is refused; an optional code may be left out.
#[test]
fn r3_12_unknown_disposition_is_refused() {
    let mut cc = queue_with_dispositions(false, 60);
    let bogus = Command::WrapUp {
        agent: aid("a1"),
        interaction: iid("i1"),
        disposition_code: Some("bogus".into()),
        note: None,
    };
    refused(&mut cc.e, bogus, s(5), "unknown_disposition");
    let too_long = Command::WrapUp {
        agent: aid("a1"),
        interaction: iid("i1"),
        disposition_code: None,
        note: Some("x".repeat(10_001)),
    };
    refused(&mut cc.e, too_long, s(5), "note_too_long");
    let c = cc.wrap_up("a1", "i1", None, s(6));
    assert_eq!(c.finished.len(), 1);
    assert_eq!(c.finished[0].participants[0].disposition_code, None);
    // Wrapping up twice is refused (the interaction is gone).
    refused(
        &mut cc.e,
        Command::WrapUp {
            agent: aid("a1"),
            interaction: iid("i1"),
            disposition_code: None,
            note: None,
        },
        s(7),
        "not_found",
    );
}

/// R-3.12: the countdown completes the wrap-up on its own exactly at its deadline, with no code
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

/// R-3.12: a post-processing timeout of 0 disables the countdown: the wrap-up waits for the agent.
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

// ----- R-3.13 Concurrent interactions -----------------------------------------------------------------

/// R-3.13: an agent handles several interactions at once, each with its own state and timers.
#[test]
fn r3_13_concurrent_interactions_have_independent_timers() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
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

/// R-3.3, R-3.13: unread counts and reply indicators are per interaction.
#[test]
fn r3_13_indicators_are_per_interaction() {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc.available("a1", s(1));
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
    cc.apply(
        Command::AgentReply {
            agent: aid("a1"),
            interaction: iid("i1"),
        },
        s(7),
    );
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

// ----- Refused commands ----------------------------------------------------------------------------------

/// A refused command changes nothing (every error path): the state dumped before and after is
/// identical and no change is reported.
#[test]
fn refused_commands_change_nothing() {
    let mut cc = busy_center();
    let now = s(7);
    let cases: Vec<(Command, &str)> = vec![
        (
            Command::Accept {
                agent: aid("a2"),
                interaction: iid("i1"),
            },
            "not_found",
        ),
        (
            Command::Reject {
                agent: aid("a1"),
                interaction: iid("i1"),
            },
            "reject_not_permitted",
        ),
        (
            Command::Reject {
                agent: aid("a2"),
                interaction: iid("i2"),
            },
            "offer_not_pending",
        ),
        (
            Command::End {
                agent: aid("a2"),
                interaction: iid("i3"),
            },
            "not_active",
        ),
        (
            Command::WrapUp {
                agent: aid("a2"),
                interaction: iid("i2"),
                disposition_code: None,
                note: None,
            },
            "not_in_wrap_up",
        ),
        (
            Command::ConferenceInvite {
                agent: aid("a2"),
                interaction: iid("i2"),
                target: Target::Agent(aid("a1")),
            },
            "agent_at_capacity",
        ),
        (
            Command::ConferenceInvite {
                agent: aid("a2"),
                interaction: iid("i2"),
                target: Target::Agent(aid("a2")),
            },
            "conference_with_self",
        ),
        (
            Command::ConferenceEnd {
                agent: aid("a2"),
                interaction: iid("i2"),
            },
            "no_conference",
        ),
        (
            Command::MarkRead {
                agent: aid("a1"),
                interaction: iid("i2"),
            },
            "not_found",
        ),
        (
            Command::AgentReply {
                agent: aid("a2"),
                interaction: iid("i3"),
            },
            "not_active",
        ),
        (Command::DeleteAgent(aid("a2")), "agent_busy"),
        (Command::DeleteQueue(qid("q1")), "queue_in_use"),
        (Command::DeleteQueue(qid("nope")), "not_found"),
        (Command::Connected { agent: aid("nope") }, "not_found"),
        (
            Command::SetStopNew {
                agent: aid("nope"),
                stop_new: true,
            },
            "not_found",
        ),
        (Command::Inbound(msg("i9", "c9", "nope")), "unknown_queue"),
        (Command::Inbound(msg("i2", "c9", "q1")), "duplicate_id"),
        (
            Command::UpsertQueue(Queue {
                priority: 0,
                ..queue("q1")
            }),
            "invalid_priority",
        ),
        (
            Command::UpsertQueue(Queue {
                disposition_required: true,
                ..queue("q1")
            }),
            "disposition_required_without_codes",
        ),
        (
            Command::UpdateSettings(Settings {
                transcript_interactions_count: 0,
                ..Settings::default()
            }),
            "invalid_transcript_interactions_count",
        ),
    ];
    for (cmd, code) in cases {
        refused(&mut cc.e, cmd, now, code);
    }
    cc.check(now);
}

// ----- Property test ---------------------------------------------------------------------------------------

mod property {
    //! Random command sequences over random contact centers; after every step the engine's own
    //! invariant check plus the observable rules are asserted.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct AgentSpec {
        capacity: u32,
        can_reject: bool,
        supervisor: bool,
        /// Bit n: member of queue n.
        queues: u8,
    }

    #[derive(Debug, Clone)]
    struct QueueSpec {
        policy: RoutingPolicy,
        priority: u32,
        acceptance_s: u32,
        post_processing_s: u32,
        disposition_required: bool,
        sticky: bool,
    }

    #[derive(Debug, Clone)]
    struct Setup {
        agents: Vec<AgentSpec>,
        queues: Vec<QueueSpec>,
        after_missed: AfterMissedOffer,
        exclusion_s: u32,
        grace_s: u32,
    }

    #[derive(Debug, Clone)]
    enum Op {
        Inbound {
            conv: u8,
            queue: u8,
            last_agent: Option<u8>,
        },
        Presence {
            agent: u8,
            presence: u8,
        },
        StopNew {
            agent: u8,
            on: bool,
        },
        Accept {
            pick: u16,
        },
        Reject {
            pick: u16,
        },
        Transfer {
            pick: u16,
            to_queue: bool,
            target: u8,
        },
        Conference {
            pick: u16,
            to_queue: bool,
            target: u8,
        },
        ConferenceEnd {
            pick: u16,
        },
        End {
            pick: u16,
        },
        WrapUp {
            pick: u16,
            code: bool,
        },
        Connected {
            agent: u8,
        },
        Disconnected {
            agent: u8,
        },
        Advance {
            ms: u32,
        },
        /// The admin changes an agent's queues (and can_reject).
        Membership {
            agent: u8,
            queues: u8,
            can_reject: bool,
        },
        /// The admin changes a queue's policy and priority.
        QueueConfig {
            queue: u8,
            policy: RoutingPolicy,
            priority: u32,
        },
        /// The admin changes the global settings.
        Settings {
            after_missed: bool,
            exclusion_s: u32,
            grace_s: u32,
        },
    }

    fn policy() -> impl Strategy<Value = RoutingPolicy> {
        prop_oneof![
            Just(RoutingPolicy::LongestIdle),
            Just(RoutingPolicy::LeastBusy),
            Just(RoutingPolicy::RoundRobin),
        ]
    }

    fn setup() -> impl Strategy<Value = Setup> {
        let queue = (
            policy(),
            1..=5u32,
            1..=60u32,
            prop_oneof![Just(0u32), 1..=90u32],
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(
                |(
                    policy,
                    priority,
                    acceptance_s,
                    post_processing_s,
                    disposition_required,
                    sticky,
                )| QueueSpec {
                    policy,
                    priority,
                    acceptance_s,
                    post_processing_s,
                    disposition_required,
                    sticky,
                },
            );
        let agent = (
            1..=4u32,
            any::<bool>(),
            prop::bool::weighted(0.1),
            any::<u8>(),
        )
            .prop_map(|(capacity, can_reject, supervisor, queues)| AgentSpec {
                capacity,
                can_reject,
                supervisor,
                queues,
            });
        (
            prop::collection::vec(agent, 5..=30),
            prop::collection::vec(queue, 1..=6),
            prop_oneof![
                Just(AfterMissedOffer::Rona),
                Just(AfterMissedOffer::OnBreak)
            ],
            prop_oneof![Just(0u32), 1..=120u32],
            prop_oneof![Just(0u32), 1..=90u32],
        )
            .prop_map(
                |(agents, queues, after_missed, exclusion_s, grace_s)| Setup {
                    agents,
                    queues,
                    after_missed,
                    exclusion_s,
                    grace_s,
                },
            )
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..60u8, any::<u8>(), prop::option::weighted(0.3, any::<u8>()))
                .prop_map(|(conv, queue, last_agent)| Op::Inbound { conv, queue, last_agent }),
            4 => (any::<u8>(), 0..8u8).prop_map(|(agent, presence)| Op::Presence { agent, presence }),
            1 => (any::<u8>(), any::<bool>()).prop_map(|(agent, on)| Op::StopNew { agent, on }),
            8 => any::<u16>().prop_map(|pick| Op::Accept { pick }),
            2 => any::<u16>().prop_map(|pick| Op::Reject { pick }),
            2 => (any::<u16>(), any::<bool>(), any::<u8>())
                .prop_map(|(pick, to_queue, target)| Op::Transfer { pick, to_queue, target }),
            2 => (any::<u16>(), any::<bool>(), any::<u8>())
                .prop_map(|(pick, to_queue, target)| Op::Conference { pick, to_queue, target }),
            1 => any::<u16>().prop_map(|pick| Op::ConferenceEnd { pick }),
            4 => any::<u16>().prop_map(|pick| Op::End { pick }),
            4 => (any::<u16>(), any::<bool>()).prop_map(|(pick, code)| Op::WrapUp { pick, code }),
            1 => any::<u8>().prop_map(|agent| Op::Connected { agent }),
            1 => any::<u8>().prop_map(|agent| Op::Disconnected { agent }),
            5 => prop_oneof![0..2_000u32, 0..70_000u32, 0..400_000u32].prop_map(|ms| Op::Advance { ms }),
            1 => (any::<u8>(), any::<u8>(), any::<bool>())
                .prop_map(|(agent, queues, can_reject)| Op::Membership { agent, queues, can_reject }),
            1 => (any::<u8>(), policy(), 1..=5u32)
                .prop_map(|(queue, policy, priority)| Op::QueueConfig { queue, policy, priority }),
            1 => (any::<bool>(), prop_oneof![Just(0u32), 1..=120u32], prop_oneof![Just(0u32), 1..=90u32])
                .prop_map(|(after_missed, exclusion_s, grace_s)| Op::Settings { after_missed, exclusion_s, grace_s }),
        ]
    }

    /// What the test itself remembers, to check the engine against.
    #[derive(Default)]
    struct Model {
        /// Per queue, the waiting interactions in the order the rules say (head first).
        waiting: BTreeMap<QueueId, VecDeque<InteractionId>>,
        /// The routed offer of each offered interaction.
        routed: HashMap<InteractionId, AgentId>,
        /// Every interaction ever created and not yet finished.
        open: BTreeSet<InteractionId>,
        next_id: u64,
    }

    impl Model {
        fn remove_waiting(&mut self, id: &InteractionId) {
            for q in self.waiting.values_mut() {
                q.retain(|x| x != id);
            }
        }
        /// Follows one step's changes. `tail`: interactions the step's command put at the tail of
        /// a queue (a new interaction, a transfer to a queue).
        fn follow(
            &mut self,
            e: &Engine,
            c: &Changes,
            tail: Option<InteractionId>,
        ) -> Result<(), TestCaseError> {
            // Offers withdrawn in this step happened before any offer made in it; a withdrawn
            // routed offer puts the interaction back at the head of its queue.
            for n in &c.notices {
                if let Event::OfferWithdrawn {
                    interaction, agent, ..
                } = &n.event
                {
                    if self.routed.get(interaction) == Some(agent) {
                        self.routed.remove(interaction);
                        let q = e.interaction(interaction).map(|i| i.queue_id.clone());
                        prop_assert!(q.is_some(), "withdrawn {} disappeared", interaction);
                        self.waiting
                            .entry(q.unwrap())
                            .or_default()
                            .push_front(interaction.clone());
                    }
                }
            }
            if let Some(id) = tail {
                let it = e.interaction(&id);
                prop_assert!(it.is_some());
                self.remove_waiting(&id);
                self.waiting
                    .entry(it.unwrap().queue_id.clone())
                    .or_default()
                    .push_back(id);
            }
            for (i, a) in &c.offers {
                let it = e.interaction(i);
                prop_assert!(it.is_some());
                let it = it.unwrap();
                let routed = it.offer.as_ref().is_some_and(|o| &o.agent_id == a);
                if routed {
                    prop_assert!(
                        !self.routed.contains_key(i),
                        "{} offered to {} while offered to {:?}",
                        i,
                        a,
                        self.routed.get(i)
                    );
                    self.routed.insert(i.clone(), a.clone());
                    self.remove_waiting(i);
                } else {
                    let conf = it.conference.as_ref().and_then(|c| c.offer.as_ref());
                    prop_assert!(
                        conf.is_some_and(|o| &o.agent_id == a),
                        "offer of {} to {} vanished",
                        i,
                        a
                    );
                }
            }
            // Accepted offers.
            self.routed
                .retain(|i, _| e.interaction(i).is_some_and(|it| it.offer.is_some()));
            for it in &c.finished {
                prop_assert!(self.open.remove(&it.id), "{} finished twice", it.id);
                prop_assert_eq!(it.state, InteractionState::Done);
                prop_assert!(
                    it.ended_at.is_some(),
                    "{} finished without being ended: dropped",
                    it.id
                );
                prop_assert!(it
                    .participants
                    .iter()
                    .all(|p| p.state == ParticipantState::Done));
                self.remove_waiting(&it.id);
            }
            Ok(())
        }
    }

    struct World {
        e: Engine,
        now: Timestamp,
        agents: Vec<AgentId>,
        queues: Vec<QueueId>,
        model: Model,
    }

    fn build(setup: &Setup) -> World {
        let settings = Settings {
            after_missed_offer: setup.after_missed,
            offer_exclusion_s: setup.exclusion_s,
            disconnect_grace_s: setup.grace_s,
            ..Settings::default()
        };
        let mut e = Engine::new(settings);
        let now = T0;
        let mut queues = Vec::new();
        for (n, q) in setup.queues.iter().enumerate() {
            let id = qid(&format!("q{n}"));
            let mut queue = Queue::new(id.clone(), format!("Queue {n}"));
            queue.routing_policy = q.policy;
            queue.priority = q.priority;
            queue.acceptance_interval_s = q.acceptance_s;
            queue.post_processing_s = q.post_processing_s;
            queue.dispositions = vec![Disposition {
                code: "ok".into(),
                label: "OK".into(),
            }];
            queue.disposition_required = q.disposition_required;
            queue.sticky = q.sticky;
            queue.sticky_timeout_s = 20;
            assert!(e.apply(Command::UpsertQueue(queue), now).result.is_ok());
            queues.push(id);
        }
        let mut agents = Vec::new();
        for (n, a) in setup.agents.iter().enumerate() {
            let id = aid(&format!("a{n:02}"));
            let queue_ids = queues
                .iter()
                .enumerate()
                .filter(|(k, _)| a.queues & (1 << k) != 0)
                .map(|(_, q)| q.clone())
                .collect();
            let cfg = AgentConfig {
                id: id.clone(),
                display_name: format!("Agent {n}"),
                role: if a.supervisor {
                    Role::Supervisor
                } else {
                    Role::Agent
                },
                capacity: a.capacity,
                can_reject: a.can_reject,
                queue_ids,
            };
            assert!(e.apply(Command::UpsertAgent(cfg), now).result.is_ok());
            agents.push(id);
        }
        World {
            e,
            now,
            agents,
            queues,
            model: Model::default(),
        }
    }

    /// Pending offers (routed and conference), in a stable order.
    fn pending_offers(e: &Engine) -> Vec<(InteractionId, AgentId)> {
        let mut v: Vec<(InteractionId, AgentId)> = e
            .interactions()
            .flat_map(|i| i.offered_agents().map(move |a| (i.id.clone(), a.clone())))
            .collect();
        v.sort();
        v
    }

    /// Participations in a given state, in a stable order; with the participant's role.
    fn participations(
        e: &Engine,
        state: ParticipantState,
    ) -> Vec<(InteractionId, AgentId, ParticipantRole)> {
        let mut v: Vec<(InteractionId, AgentId, ParticipantRole)> = e
            .interactions()
            .flat_map(|i| {
                i.participants
                    .iter()
                    .filter(move |p| p.state == state)
                    .map(move |p| (i.id.clone(), p.agent_id.clone(), p.role))
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    fn pick<T: Clone>(v: &[T], n: u16) -> Option<T> {
        (!v.is_empty()).then(|| v[usize::from(n) % v.len()].clone())
    }

    impl World {
        fn agent(&self, n: u8) -> AgentId {
            self.agents[usize::from(n) % self.agents.len()].clone()
        }
        fn queue(&self, n: u8) -> QueueId {
            self.queues[usize::from(n) % self.queues.len()].clone()
        }

        /// Turns a random op into a command (None: nothing applicable, or a tick).
        fn command(&mut self, op: &Op) -> Option<Command> {
            let e = &self.e;
            Some(match op.clone() {
                Op::Inbound {
                    conv,
                    queue,
                    last_agent,
                } => {
                    self.model.next_id += 1;
                    let mut m = msg(&format!("i{}", self.model.next_id), &format!("c{conv}"), "");
                    m.queue_id = self.queue(queue);
                    m.last_agent = last_agent.map(|a| self.agent(a));
                    Command::Inbound(m)
                }
                Op::Presence { agent, presence } => {
                    let (presence, reason) = match presence {
                        0..=3 => (Presence::Available, None),
                        4 | 5 => (Presence::OnBreak, Some("Lunch".to_owned())),
                        6 => (Presence::Offline, None),
                        _ => (Presence::OnBreak, Some("Not a reason".to_owned())),
                    };
                    Command::SetPresence {
                        agent: self.agent(agent),
                        presence,
                        reason,
                    }
                }
                Op::StopNew { agent, on } => Command::SetStopNew {
                    agent: self.agent(agent),
                    stop_new: on,
                },
                Op::Accept { pick: n } => {
                    let (interaction, agent) = pick(&pending_offers(e), n)?;
                    Command::Accept { agent, interaction }
                }
                Op::Reject { pick: n } => {
                    let (interaction, agent) = pick(&pending_offers(e), n)?;
                    Command::Reject { agent, interaction }
                }
                Op::Transfer {
                    pick: n,
                    to_queue,
                    target,
                } => {
                    let (interaction, agent, _) =
                        pick(&participations(e, ParticipantState::Active), n)?;
                    let target = if to_queue {
                        Target::Queue(self.queue(target))
                    } else {
                        Target::Agent(self.agent(target))
                    };
                    Command::Transfer {
                        agent,
                        interaction,
                        target,
                    }
                }
                Op::Conference {
                    pick: n,
                    to_queue,
                    target,
                } => {
                    let (interaction, agent, _) =
                        pick(&participations(e, ParticipantState::Active), n)?;
                    let target = if to_queue {
                        Target::Queue(self.queue(target))
                    } else {
                        Target::Agent(self.agent(target))
                    };
                    Command::ConferenceInvite {
                        agent,
                        interaction,
                        target,
                    }
                }
                Op::ConferenceEnd { pick: n } => {
                    let (interaction, agent, _) =
                        pick(&participations(e, ParticipantState::Active), n)?;
                    Command::ConferenceEnd { agent, interaction }
                }
                Op::End { pick: n } => {
                    let (interaction, agent, _) =
                        pick(&participations(e, ParticipantState::Active), n)?;
                    Command::End { agent, interaction }
                }
                Op::WrapUp { pick: n, code } => {
                    let (interaction, agent, _) =
                        pick(&participations(e, ParticipantState::WrapUp), n)?;
                    Command::WrapUp {
                        agent,
                        interaction,
                        disposition_code: code.then(|| "ok".to_owned()),
                        note: None,
                    }
                }
                Op::Connected { agent } => Command::Connected {
                    agent: self.agent(agent),
                },
                Op::Disconnected { agent } => Command::Disconnected {
                    agent: self.agent(agent),
                },
                Op::Advance { .. } => return None,
                Op::Membership {
                    agent,
                    queues,
                    can_reject,
                } => {
                    let a = e.agent(&self.agent(agent))?.clone();
                    let queue_ids = self
                        .queues
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| queues & (1 << k) != 0)
                        .map(|(_, q)| q.clone())
                        .collect();
                    Command::UpsertAgent(AgentConfig {
                        id: a.id,
                        display_name: a.display_name,
                        role: a.role,
                        capacity: a.capacity,
                        can_reject,
                        queue_ids,
                    })
                }
                Op::QueueConfig {
                    queue,
                    policy,
                    priority,
                } => {
                    let mut q = e.queue(&self.queue(queue))?.clone();
                    q.routing_policy = policy;
                    q.priority = priority;
                    Command::UpsertQueue(q)
                }
                Op::Settings {
                    after_missed,
                    exclusion_s,
                    grace_s,
                } => Command::UpdateSettings(Settings {
                    after_missed_offer: if after_missed {
                        AfterMissedOffer::OnBreak
                    } else {
                        AfterMissedOffer::Rona
                    },
                    offer_exclusion_s: exclusion_s,
                    disconnect_grace_s: grace_s,
                    ..Settings::default()
                }),
            })
        }

        fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
            if let Op::Advance { ms } = op {
                self.now = Timestamp(self.now.0 + i64::from(*ms));
                let c = self.e.tick(self.now);
                self.model.follow(&self.e, &c, None)?;
                return self.check();
            }
            let Some(cmd) = self.command(op) else {
                return Ok(());
            };
            let dump = format!("{:?}", self.e);
            let o = self.e.apply(cmd.clone(), self.now);
            match &o.result {
                Err(_) => {
                    prop_assert!(
                        o.changes.is_empty(),
                        "refused {:?} reported changes {:?}",
                        cmd,
                        o.changes
                    );
                    prop_assert!(o.changes.offers.is_empty());
                    prop_assert!(
                        dump == format!("{:?}", self.e),
                        "refused {:?} changed the engine",
                        cmd
                    );
                }
                Ok(reply) => {
                    let tail = match (&cmd, reply) {
                        (
                            Command::Inbound(_),
                            Reply::Inbound {
                                interaction_id,
                                created: true,
                            },
                        ) => {
                            self.model.open.insert(interaction_id.clone());
                            Some(interaction_id.clone())
                        }
                        (
                            Command::Transfer {
                                interaction,
                                target: Target::Queue(_),
                                ..
                            },
                            _,
                        ) => Some(interaction.clone()),
                        _ => None,
                    };
                    self.model.follow(&self.e, &o.changes, tail)?;
                }
            }
            self.check()
        }

        fn check(&self) -> Result<(), TestCaseError> {
            let e = &self.e;
            if let Err(v) = e.check_invariants(self.now) {
                return Err(TestCaseError::fail(format!(
                    "invariant violated at {:?}: {v}",
                    self.now
                )));
            }
            // No agent over capacity; the load is what they visibly hold.
            for a in &self.agents {
                let agent = e.agent(a).unwrap();
                let held = e.interactions_of(a).len();
                prop_assert_eq!(e.load_of(a) as usize, held, "load of {}", a);
                prop_assert!(e.load_of(a) <= agent.capacity, "{} over capacity", a);
            }
            // Each interaction in exactly one state, and where that state says it is.
            let mut queued_in: HashMap<InteractionId, usize> = HashMap::new();
            for q in &self.queues {
                for id in e.waiting(q) {
                    *queued_in.entry(id).or_default() += 1;
                }
            }
            let mut offered_to: HashMap<&AgentId, usize> = HashMap::new();
            for it in e.interactions() {
                let waits = queued_in.get(&it.id).copied().unwrap_or(0);
                match it.state {
                    InteractionState::Queued => {
                        prop_assert_eq!(waits, 1);
                        prop_assert!(it.offer.is_none() && it.owner_id.is_none());
                    }
                    InteractionState::Offered => {
                        prop_assert_eq!(waits, 0);
                        prop_assert!(it.offer.is_some() && it.owner_id.is_none());
                    }
                    InteractionState::Active => {
                        prop_assert_eq!(waits, 0);
                        prop_assert!(it.offer.is_none() && it.owner_id.is_some());
                    }
                    InteractionState::WrapUp => {
                        prop_assert_eq!(waits, 0);
                        prop_assert!(it.offer.is_none() && it.conference.is_none());
                        prop_assert!(it
                            .participants
                            .iter()
                            .any(|p| p.state == ParticipantState::WrapUp));
                    }
                    InteractionState::Done => {
                        prop_assert!(false, "done {} still in the engine", it.id)
                    }
                }
                // Nothing offered to two agents at once (the conference invitation aside), and
                // never to an agent already on it.
                let offered: Vec<&AgentId> = it.offered_agents().collect();
                prop_assert!(offered.len() <= 2);
                if let (Some(o), Some(c)) = (
                    &it.offer,
                    it.conference.as_ref().and_then(|c| c.offer.as_ref()),
                ) {
                    prop_assert_ne!(&o.agent_id, &c.agent_id);
                }
                for a in offered {
                    *offered_to.entry(a).or_default() += 1;
                    prop_assert!(
                        !it.participants
                            .iter()
                            .any(|p| &p.agent_id == a && p.state != ParticipantState::Done),
                        "{} offered to its own participant {}",
                        it.id,
                        a
                    );
                }
                prop_assert!(
                    self.model.open.contains(&it.id),
                    "unknown interaction {}",
                    it.id
                );
            }
            // Every interaction ever created is still there or finished: no customer dropped.
            prop_assert_eq!(self.model.open.len(), e.interactions().count());
            // The model's routed offers are exactly the engine's.
            for (i, a) in &self.model.routed {
                let it = e.interaction(i).unwrap();
                prop_assert_eq!(it.offer.as_ref().map(|o| &o.agent_id), Some(a));
            }
            prop_assert_eq!(
                self.model.routed.len(),
                e.interactions().filter(|i| i.offer.is_some()).count()
            );
            // FIFO within each queue, re-queued interactions at the head.
            for q in &self.queues {
                let expected: Vec<InteractionId> = self
                    .model
                    .waiting
                    .get(q)
                    .map(|v| v.iter().cloned().collect())
                    .unwrap_or_default();
                prop_assert_eq!(e.waiting(q), expected, "order of queue {}", q);
            }
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            max_shrink_iters: 2_000,
            // A failure prints the minimal failing input; nothing is written to the source tree.
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// R-2.1 … R-2.11, R-3.9 … R-3.13 under random load: after every step the engine's
        /// invariants hold (loads, waiting lists, timers, work conservation), nothing is offered
        /// to two agents, nobody is over capacity, every interaction is in exactly one state and
        /// queues are first-in first-out except that re-queued interactions go to the head.
        #[test]
        fn random_sequences_keep_every_invariant(
            setup in setup(),
            ops in prop::collection::vec(op(), 1..300),
        ) {
            let mut w = build(&setup);
            w.check()?;
            for op in &ops {
                w.step(op)?;
            }
            // Finally everybody connects and becomes available: still consistent.
            for k in 0..w.agents.len() {
                let k = u8::try_from(k).unwrap();
                w.step(&Op::Connected { agent: k })?;
                w.step(&Op::Presence { agent: k, presence: 0 })?;
            }
            w.step(&Op::Advance { ms: 400_000 })?;
        }
    }
}

// ----- R-5.3 outbound starts and R-4.5 contact links ----------------------------------------

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
            id: aid("sup"),
            display_name: "Sue".into(),
            role: Role::Supervisor,
            capacity: 1,
            can_reject: true,
            queue_ids: vec![],
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

/// R-2.3 for outbound starts: an agent at capacity (offers, active and wrap-up interactions all
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

/// R-2.8: the presence after a reject says it was a reject, after a timeout that the offer was
/// missed, under either `after_missed_offer`.
#[test]
fn r2_8_presence_after_a_reject_or_a_timeout_says_which() {
    for after in [AfterMissedOffer::Rona, AfterMissedOffer::OnBreak] {
        let mut cc = Cc::with_settings(Settings {
            after_missed_offer: after,
            ..Settings::default()
        });
        cc.queue(queue("q1"), T0);
        cc.agent("a1", "Ann", &["q1"], 3, true, T0);
        cc.available("a1", s(1));
        cc.inbound("i1", "c1", "q1", s(2));
        cc.apply(
            Command::Reject {
                agent: aid("a1"),
                interaction: iid("i1"),
            },
            s(3),
        );
        let expected = match after {
            AfterMissedOffer::Rona => Presence::Rona,
            AfterMissedOffer::OnBreak => Presence::OnBreak,
        };
        let a = cc.e.agent(&aid("a1")).unwrap();
        assert_eq!(a.presence, expected);
        assert_eq!(a.break_reason.as_deref(), Some("Rejected offer"));
        cc.available("a1", s(4));
        assert_eq!(cc.e.agent(&aid("a1")).unwrap().break_reason, None);
        cc.inbound("i2", "c2", "q1", s(5));
        assert_eq!(cc.offered_to("i2"), Some(aid("a1")));
        cc.tick(s(40));
        let a = cc.e.agent(&aid("a1")).unwrap();
        assert_eq!(a.presence, expected);
        assert_eq!(a.break_reason.as_deref(), Some("Missed offer"));
    }
}
