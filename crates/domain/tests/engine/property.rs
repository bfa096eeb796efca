//! Random command sequences over random contact centers; after every step the engine's own
//! invariant check plus the observable rules are asserted.
use crate::support::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use switchboard_domain::*;

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
    /// A supervisor (or not: then refused) takes over an active interaction.
    TakeOver {
        pick: u16,
        by: u8,
    },
    /// A supervisor (or not) transfers an active interaction they may not handle.
    Reassign {
        pick: u16,
        by: u8,
        to_queue: bool,
        target: u8,
    },
    /// A supervisor (or not) sets another agent's presence.
    AgentPresence {
        by: u8,
        agent: u8,
        presence: u8,
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
            |(policy, priority, acceptance_s, post_processing_s, disposition_required, sticky)| {
                QueueSpec {
                    policy,
                    priority,
                    acceptance_s,
                    post_processing_s,
                    disposition_required,
                    sticky,
                }
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
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, by)| Op::TakeOver { pick, by }),
        1 => (any::<u16>(), any::<u8>(), any::<bool>(), any::<u8>())
            .prop_map(|(pick, by, to_queue, target)| Op::Reassign { pick, by, to_queue, target }),
        2 => (any::<u8>(), any::<u8>(), 0..8u8)
            .prop_map(|(by, agent, presence)| Op::AgentPresence { by, agent, presence }),
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
    /// Take-overs (interaction, supervisor): the only slots that may exceed a capacity.
    taken: BTreeSet<(InteractionId, AgentId)>,
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

fn e_is_supervisor(e: &Engine, a: &AgentId) -> bool {
    e.agent(a).is_some_and(|x| x.role >= Role::Supervisor)
}

struct World {
    e: Engine,
    now: Timestamp,
    agents: Vec<AgentId>,
    queues: Vec<QueueId>,
    model: Model,
    /// A copy kept from each step's stored rows, as a node that is not the router keeps it.
    replica: Option<Engine>,
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
        replica: None,
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

/// A presence someone may choose (the last one is refused for its unknown break reason).
fn presence_choice(n: u8) -> (Presence, Option<String>) {
    match n {
        0..=3 => (Presence::Available, None),
        4 | 5 => (Presence::OnBreak, Some("Lunch".to_owned())),
        6 => (Presence::Offline, None),
        _ => (Presence::OnBreak, Some("Not a reason".to_owned())),
    }
}

/// Active interactions, in a stable order.
fn active(e: &Engine) -> Vec<InteractionId> {
    let mut v: Vec<InteractionId> = e
        .interactions()
        .filter(|i| i.state == InteractionState::Active)
        .map(|i| i.id.clone())
        .collect();
    v.sort();
    v
}

fn pick<T: Clone>(v: &[T], n: u16) -> Option<T> {
    (!v.is_empty()).then(|| v[usize::from(n) % v.len()].clone())
}

impl World {
    fn agent(&self, n: u8) -> AgentId {
        self.agents[usize::from(n) % self.agents.len()].clone()
    }
    /// Mostly a supervisor (when there is one), sometimes anyone (then refused if no supervisor).
    fn boss(&self, n: u8) -> AgentId {
        let bosses: Vec<&AgentId> = self
            .agents
            .iter()
            .filter(|a| e_is_supervisor(&self.e, a))
            .collect();
        if n.is_multiple_of(4) || bosses.is_empty() {
            self.agent(n / 4)
        } else {
            bosses[usize::from(n) % bosses.len()].clone()
        }
    }
    fn queue(&self, n: u8) -> QueueId {
        self.queues[usize::from(n) % self.queues.len()].clone()
    }

    /// A transfer, conference or reassignment target: a queue or an agent.
    fn target(&self, to_queue: bool, n: u8) -> Target {
        if to_queue {
            Target::Queue(self.queue(n))
        } else {
            Target::Agent(self.agent(n))
        }
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
                let (presence, reason) = presence_choice(presence);
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
            }
            | Op::Conference {
                pick: n,
                to_queue,
                target,
            } => {
                let (interaction, agent, _) =
                    pick(&participations(e, ParticipantState::Active), n)?;
                let target = self.target(to_queue, target);
                if matches!(op, Op::Transfer { .. }) {
                    Command::Transfer {
                        agent,
                        interaction,
                        target,
                    }
                } else {
                    Command::ConferenceInvite {
                        agent,
                        interaction,
                        target,
                    }
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
            Op::TakeOver { pick: n, by } => Command::TakeOver {
                supervisor: self.boss(by),
                interaction: pick(&active(e), n)?,
            },
            Op::Reassign {
                pick: n,
                by,
                to_queue,
                target,
            } => Command::Reassign {
                supervisor: self.boss(by),
                interaction: pick(&active(e), n)?,
                target: self.target(to_queue, target),
            },
            Op::AgentPresence {
                by,
                agent,
                presence,
            } => {
                let (presence, reason) = presence_choice(presence);
                Command::SetAgentPresence {
                    supervisor: self.boss(by),
                    agent: self.agent(agent),
                    presence,
                    reason,
                }
            }
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
            self.replicate(&c)?;
            return self.check();
        }
        let Some(cmd) = self.command(op) else {
            return Ok(());
        };
        let dump = format!("{:?}", self.e);
        let o = self.e.apply(cmd.clone(), self.now);
        self.replicate(&o.changes)?;
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
                        }
                        | Command::Reassign {
                            interaction,
                            target: Target::Queue(_),
                            ..
                        },
                        _,
                    ) => Some(interaction.clone()),
                    (
                        Command::TakeOver {
                            supervisor,
                            interaction,
                        },
                        _,
                    ) => {
                        prop_assert!(e_is_supervisor(&self.e, supervisor));
                        self.model
                            .taken
                            .insert((interaction.clone(), supervisor.clone()));
                        None
                    }
                    _ => None,
                };
                self.model.follow(&self.e, &o.changes, tail)?;
            }
        }
        self.check()
    }

    /// Applies the step's stored rows (sent as JSON, as between nodes) to the replica: it must
    /// then hold exactly the engine's state.
    fn replicate(&mut self, c: &Changes) -> Result<(), TestCaseError> {
        let Some(replica) = &mut self.replica else {
            return Ok(());
        };
        let mut d = Delta::default();
        d.add(&self.e, c);
        let d: Delta = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        replica.apply_delta(d);
        if let Err(v) = replica.check_invariants(self.now) {
            return Err(TestCaseError::fail(format!("replica: {v}")));
        }
        let (want, got) = (self.e.replicated_view(), replica.replicated_view());
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let around = |s: &str| {
                s.lines()
                    .skip(line.saturating_sub(8))
                    .take(16)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            return Err(TestCaseError::fail(format!(
                "the replica differs from the engine at line {line}:\nengine:\n{}\nreplica:\n{}",
                around(&want),
                around(&got)
            )));
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let e = &self.e;
        if let Err(v) = e.check_invariants(self.now) {
            return Err(TestCaseError::fail(format!(
                "invariant violated at {:?}: {v}",
                self.now
            )));
        }
        // No agent over capacity but by the take-overs they still hold; the load is what
        // they visibly hold.
        for a in &self.agents {
            let agent = e.agent(a).unwrap();
            let held = e.interactions_of(a).len();
            prop_assert_eq!(e.load_of(a) as usize, held, "load of {}", a);
            let taken = self
                .model
                .taken
                .iter()
                .filter(|(i, s)| s == a && e.interaction(i).is_some_and(|it| it.holds_slot(a)))
                .count() as u32;
            prop_assert!(
                e.load_of(a) <= agent.capacity + taken,
                "{} over capacity",
                a
            );
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

    /// … … under random load: after every step the engine's
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

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// a node that is not the router keeps its copy of the engine by applying each
    /// commit's stored rows; after every step of a random sequence (admin changes, offers,
    /// transfers, conferences, take-overs, wrap-ups, deadlines) the copy holds the router's
    /// state exactly: loads, waiting lists in order, ready sets, holders and deadlines.
    #[test]
    fn a_replica_fed_each_steps_rows_equals_the_engine(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let mut w = build(&setup);
        let (agents, queues, interactions) = persisted(&w.e);
        let (replica, _) = Engine::load(w.e.settings().clone(), agents, queues, interactions, w.now);
        w.replica = Some(replica);
        for op in &ops {
            w.step(op)?;
        }
    }
}
