//! Helpers shared by the engine tests: the fake clock, ids, a small contact center under test
//! ([`Cc`]), checks of results and changes, and scenarios several topics start from.

use switchboard_domain::engine::Inbound;
use switchboard_domain::*;

/// The fake clock's origin.
pub(crate) const T0: Timestamp = Timestamp(1_700_000_000_000);

/// `T0` plus `ms` milliseconds.
pub(crate) fn t(ms: i64) -> Timestamp {
    Timestamp(T0.0 + ms)
}

/// `T0` plus `s` seconds.
pub(crate) fn s(s: i64) -> Timestamp {
    t(s * 1000)
}

pub(crate) fn aid(s: &str) -> AgentId {
    AgentId::from(s)
}
pub(crate) fn qid(s: &str) -> QueueId {
    QueueId::from(s)
}
pub(crate) fn iid(s: &str) -> InteractionId {
    InteractionId::from(s)
}

/// The settings of an agent with role agent in `queues`.
pub(crate) fn agent_config(
    id: &str,
    name: &str,
    queues: &[&str],
    capacity: u32,
    can_reject: bool,
) -> AgentConfig {
    AgentConfig {
        id: aid(id),
        display_name: name.into(),
        role: Role::Agent,
        capacity,
        can_reject,
        queue_ids: queues.iter().map(|q| qid(q)).collect(),
    }
}

/// A queue with the documented defaults, named after its id ("q1" -> "Queue q1").
pub(crate) fn queue(id: &str) -> Queue {
    Queue::new(qid(id), format!("Queue {id}"))
}

/// The result must be a success; its changes.
#[track_caller]
pub(crate) fn ok(o: Outcome) -> Changes {
    assert!(o.result.is_ok(), "command refused: {:?}", o.result);
    o.changes
}

/// The result must be an error; it.
#[track_caller]
pub(crate) fn err(o: Outcome) -> DomainError {
    match o.result {
        Ok(r) => panic!("command unexpectedly succeeded: {r:?}"),
        Err(e) => e,
    }
}

/// Applies a command that must be refused with `code`, and checks that it changed nothing at all:
/// the engine's whole state is identical before and after and no changes are reported.
#[track_caller]
pub(crate) fn refused(e: &mut Engine, cmd: Command, now: Timestamp, code: &str) -> DomainError {
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
pub(crate) struct Cc {
    pub(crate) e: Engine,
}

impl Cc {
    pub(crate) fn new() -> Cc {
        Cc {
            e: Engine::new(Settings::default()),
        }
    }
    pub(crate) fn with_settings(settings: Settings) -> Cc {
        Cc {
            e: Engine::new(settings),
        }
    }
    pub(crate) fn apply(&mut self, cmd: Command, now: Timestamp) -> Changes {
        ok(self.e.apply(cmd, now))
    }
    pub(crate) fn queue(&mut self, q: Queue, now: Timestamp) {
        self.apply(Command::UpsertQueue(q), now);
    }
    /// Creates an agent (offline, as new agents are) or changes one's settings.
    pub(crate) fn agent(
        &mut self,
        id: &str,
        name: &str,
        queues: &[&str],
        capacity: u32,
        can_reject: bool,
        now: Timestamp,
    ) -> Changes {
        self.apply(
            Command::UpsertAgent(agent_config(id, name, queues, capacity, can_reject)),
            now,
        )
    }
    pub(crate) fn presence(&mut self, agent: &str, p: Presence, now: Timestamp) -> Changes {
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
    pub(crate) fn available(&mut self, agent: &str, now: Timestamp) -> Changes {
        self.presence(agent, Presence::Available, now)
    }
    /// A customer writes on conversation `conv`; opens interaction `id` if none is open.
    pub(crate) fn inbound(&mut self, id: &str, conv: &str, queue: &str, now: Timestamp) -> Changes {
        self.apply(Command::Inbound(msg(id, conv, queue)), now)
    }
    pub(crate) fn accept(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::Accept {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    pub(crate) fn reject(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::Reject {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    /// The agent's reply to the customer (`Command::AgentReply`).
    pub(crate) fn reply(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(reply_cmd(agent, i), now)
    }
    pub(crate) fn end_conference(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::ConferenceEnd {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    pub(crate) fn end(&mut self, agent: &str, i: &str, now: Timestamp) -> Changes {
        self.apply(
            Command::End {
                agent: aid(agent),
                interaction: iid(i),
            },
            now,
        )
    }
    pub(crate) fn wrap_up(
        &mut self,
        agent: &str,
        i: &str,
        code: Option<&str>,
        now: Timestamp,
    ) -> Changes {
        self.apply(wrap_up_cmd(agent, i, code, None), now)
    }
    pub(crate) fn tick(&mut self, now: Timestamp) -> Changes {
        let c = self.e.tick(now);
        self.check(now);
        c
    }
    #[track_caller]
    pub(crate) fn check(&self, now: Timestamp) {
        if let Err(e) = self.e.check_invariants(now) {
            panic!("invariant violated: {e}");
        }
    }
    pub(crate) fn it(&self, i: &str) -> &Interaction {
        self.e
            .interaction(&iid(i))
            .unwrap_or_else(|| panic!("no interaction {i}"))
    }
    /// Who holds the routed offer of `i`.
    pub(crate) fn offered_to(&self, i: &str) -> Option<AgentId> {
        self.e
            .interaction(&iid(i))
            .and_then(|x| x.offer.as_ref())
            .map(|o| o.agent_id.clone())
    }
    pub(crate) fn presence_of(&self, agent: &str) -> Presence {
        self.e.agent(&aid(agent)).unwrap().presence
    }
    pub(crate) fn waiting(&self, q: &str) -> Vec<InteractionId> {
        self.e.waiting(&qid(q))
    }
    pub(crate) fn load(&self, agent: &str) -> u32 {
        self.e.load_of(&aid(agent))
    }
}

pub(crate) fn msg(id: &str, conv: &str, queue: &str) -> Inbound {
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
        reaction: false,
    }
}

/// `Command::AgentReply` of `agent` in interaction `i`.
pub(crate) fn reply_cmd(agent: &str, i: &str) -> Command {
    Command::AgentReply {
        agent: aid(agent),
        interaction: iid(i),
    }
}

/// The engine's persisted values, as the store would keep them (through JSON).
pub(crate) fn persisted(e: &Engine) -> (Vec<Agent>, Vec<Queue>, Vec<Interaction>) {
    fn roundtrip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap()
    }
    (
        e.agents().map(roundtrip).collect(),
        e.queues().map(roundtrip).collect(),
        e.interactions().map(roundtrip).collect(),
    )
}

/// `Command::Transfer` of interaction `i` by `agent` to `target`.
pub(crate) fn transfer(agent: &str, i: &str, target: Target) -> Command {
    Command::Transfer {
        agent: aid(agent),
        interaction: iid(i),
        target,
    }
}

/// `Command::ConferenceInvite` into interaction `i` by `agent` of `target`.
pub(crate) fn invite(agent: &str, i: &str, target: Target) -> Command {
    Command::ConferenceInvite {
        agent: aid(agent),
        interaction: iid(i),
        target,
    }
}

/// A transfer or conference target: the agent `id`.
pub(crate) fn to_agent(id: &str) -> Target {
    Target::Agent(aid(id))
}

/// A transfer or conference target: the queue `id`.
pub(crate) fn to_queue(id: &str) -> Target {
    Target::Queue(qid(id))
}

/// The offers a step made, as (interaction, agent) strings.
pub(crate) fn offers(c: &Changes) -> Vec<(String, String)> {
    c.offers
        .iter()
        .map(|(i, a)| (i.to_string(), a.to_string()))
        .collect()
}

pub(crate) fn offer(i: &str, a: &str) -> (String, String) {
    (i.to_owned(), a.to_owned())
}

/// `Command::WrapUp` of `agent` in interaction `i`.
pub(crate) fn wrap_up_cmd(
    agent: &str,
    i: &str,
    code: Option<&str>,
    note: Option<String>,
) -> Command {
    Command::WrapUp {
        agent: aid(agent),
        interaction: iid(i),
        disposition_code: code.map(str::to_owned),
        note,
    }
}

/// An offer of `i` to `a` withdrawn for `reason`, as [`withdrawals`] lists it.
pub(crate) fn withdrawal(
    i: &str,
    a: &str,
    reason: WithdrawReason,
) -> (String, String, WithdrawReason) {
    (i.to_owned(), a.to_owned(), reason)
}

/// The `OfferWithdrawn` notices of a step, as (interaction, agent, reason).
pub(crate) fn withdrawals(c: &Changes) -> Vec<(String, String, WithdrawReason)> {
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

pub(crate) fn system_texts(c: &Changes) -> Vec<String> {
    c.system_messages.iter().map(|m| m.text.clone()).collect()
}

pub(crate) fn ids(v: &[&str]) -> Vec<InteractionId> {
    v.iter().map(|s| iid(s)).collect()
}

/// One queue `q1` with one agent a1 ("Ann", capacity 3, cannot reject), offline.
pub(crate) fn ann_offline() -> Cc {
    let mut cc = Cc::new();
    cc.queue(queue("q1"), T0);
    cc.agent("a1", "Ann", &["q1"], 3, false, T0);
    cc
}

/// [`ann_offline`], with Ann available since 1 s.
pub(crate) fn ann_available() -> Cc {
    let mut cc = ann_offline();
    cc.available("a1", s(1));
    cc
}

/// One queue `q1` with agents a1 ("Ann"), a2 ("Bob"), a3 ("Cid") created in that order one second
/// apart, capacity 1, all offline.
pub(crate) fn three_agents(policy: RoutingPolicy, can_reject: bool) -> Cc {
    let mut cc = Cc::new();
    let mut q = queue("q1");
    q.routing_policy = policy;
    cc.queue(q, T0);
    cc.agent("a1", "Ann", &["q1"], 1, can_reject, s(0));
    cc.agent("a2", "Bob", &["q1"], 1, can_reject, s(1));
    cc.agent("a3", "Cid", &["q1"], 1, can_reject, s(2));
    cc
}

/// [`three_agents`] routed longest idle, with a1 available since 3 s and offered i1 at 4 s
/// (deadline 34 s).
pub(crate) fn offered_to_a1(can_reject: bool) -> Cc {
    let mut cc = three_agents(RoutingPolicy::LongestIdle, can_reject);
    cc.available("a1", s(3));
    cc.inbound("i1", "c1", "q1", s(4));
    cc
}

/// A contact center with an offer pending (i1 to a1, deadline 34 s), an interaction active (i2,
/// a2) and one in wrap-up (i3, a2, countdown until 66 s), one waiting (i4).
pub(crate) fn busy_center() -> Cc {
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

/// Queue q1 "Support" (a1 Ann, capacity 1) and q2 "Sales" (a3 Cid); a2 Bob is in no queue.
/// a1 owns i1 (accepted at 3 s).
pub(crate) fn two_queues_with_owner() -> Cc {
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
