//! Routing throughput of the engine: 1,000 agents (capacity 3, each in 3 of 100 queues), 10,000
//! customers waiting.
//!
//! - `fill`: from a freshly loaded engine (all agents available, nothing offered yet), one
//!   `tick` routes until every agent is at capacity: 3,000 offers decided. The engine is cloned
//!   per iteration outside the measurement.
//! - `steady/cycle`: one agent accepts an offer, ends and wraps up the interaction (freeing a
//!   slot), and the router offers them the next waiting interaction; a new customer arrives in
//!   that queue so the load stays constant. Four `apply` calls and one routing decision per cycle.
//! - `steady/wrap_up_and_offer`: the same, timing only the wrap-up `apply` that frees the slot and
//!   decides the next offer.
//!
//! Run: `cargo bench -p switchboard-domain --bench routing`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard_domain::engine::Inbound;
use switchboard_domain::*;

const AGENTS: usize = 1_000;
const QUEUES: usize = 100;
const CAPACITY: u32 = 3;
const WAITING: usize = 10_000;
const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn queue_id(k: usize) -> QueueId {
    QueueId(format!("q{k:03}"))
}

fn inbound(n: u64, queue: QueueId) -> Command {
    Command::Inbound(Inbound {
        new_interaction_id: InteractionId(format!("i{n:08}")),
        conversation_id: ConversationId(format!("c{n:08}")),
        queue_id: queue,
        channel_id: Some("ch1".into()),
        source_number: Some("+15550100".into()),
        customer: Customer {
            wa_id: format!("49151{n:08}"),
            name: Some(format!("Customer {n}")),
        },
        contact_id: None,
        summary: Some("Hello, I have a question about my order".into()),
        last_agent: None,
        reaction: false,
    })
}

fn must(o: Outcome) -> Changes {
    if let Err(e) = o.result {
        panic!("command refused: {e}");
    }
    o.changes
}

/// A loaded engine, as after a restart: every agent available, 10,000 interactions waiting,
/// nothing offered yet (the first `tick` or command routes).
fn prepared() -> Engine {
    let mut e = Engine::new(Settings::default());
    let start = Timestamp(NOW.0 - 600_000);
    for k in 0..QUEUES {
        let mut q = Queue::new(queue_id(k), format!("Queue {k}"));
        q.routing_policy = match k % 3 {
            0 => RoutingPolicy::LongestIdle,
            1 => RoutingPolicy::LeastBusy,
            _ => RoutingPolicy::RoundRobin,
        };
        q.priority = 1 + (k % 4) as u32;
        must(e.apply(Command::UpsertQueue(q), start));
    }
    for i in 0..AGENTS {
        let queue_ids = [i % QUEUES, (i * 7 + 3) % QUEUES, (i * 13 + 5) % QUEUES]
            .into_iter()
            .map(queue_id)
            .collect();
        let cfg = AgentConfig {
            id: AgentId(format!("a{i:04}")),
            display_name: format!("Agent {i}"),
            role: Role::Agent,
            capacity: CAPACITY,
            can_reject: false,
            queue_ids,
        };
        must(e.apply(Command::UpsertAgent(cfg), Timestamp(start.0 + i as i64)));
    }
    // Customers arrive over the last ten minutes, spread over the queues.
    for n in 0..WAITING {
        let at = Timestamp(start.0 + (n as i64) * 50);
        must(e.apply(inbound(n as u64, queue_id((n * 37) % QUEUES)), at));
    }
    // Persist and reload with everybody available (and connected).
    let agents: Vec<Agent> = e
        .agents()
        .cloned()
        .map(|mut a| {
            a.presence = Presence::Available;
            a
        })
        .collect();
    let queues: Vec<Queue> = e.queues().cloned().collect();
    let interactions: Vec<Interaction> = e.interactions().cloned().collect();
    // After a restart agents have a grace period to reconnect; make it long enough for the whole
    // run (any command would route, so the agents do not connect here).
    let settings = Settings {
        disconnect_grace_s: 86_400,
        ..e.settings().clone()
    };
    let (e, _) = Engine::load(settings, agents, queues, interactions, NOW);
    e
}

fn fill(c: &mut Criterion) {
    let base = prepared();
    let offers = AGENTS * CAPACITY as usize;
    {
        let mut e = base.clone();
        let changes = e.tick(NOW);
        assert_eq!(changes.offers.len(), offers, "every slot filled");
        assert_eq!(e.check_invariants(NOW), Ok(()));
    }
    let mut g = c.benchmark_group("fill");
    g.throughput(Throughput::Elements(offers as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("tick_3000_offers", |b| {
        b.iter_batched(
            || base.clone(),
            |mut e| {
                let changes = e.tick(NOW);
                (e, changes)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

/// The steady state: the engine after filling, the offers pending (oldest first).
struct Steady {
    e: Engine,
    now: Timestamp,
    pending: VecDeque<(InteractionId, AgentId)>,
    next_id: u64,
}

impl Steady {
    fn new() -> Steady {
        let mut e = prepared();
        let changes = e.tick(NOW);
        Steady {
            e,
            now: NOW,
            pending: changes.offers.into_iter().collect(),
            next_id: WAITING as u64,
        }
    }

    /// Accept and end the oldest pending offer; returns the wrap-up command that frees the slot.
    fn before_wrap_up(&mut self) -> Command {
        self.now = Timestamp(self.now.0 + 1);
        let (i, a) = self.pending.pop_front().expect("an offer is pending");
        let accept = Command::Accept {
            agent: a.clone(),
            interaction: i.clone(),
        };
        must(self.e.apply(accept, self.now));
        let end = Command::End {
            agent: a.clone(),
            interaction: i.clone(),
        };
        must(self.e.apply(end, self.now));
        Command::WrapUp {
            agent: a,
            interaction: i,
            disposition_code: None,
            note: None,
        }
    }

    /// Follows the wrap-up: remembers the new offer and lets a new customer arrive in its queue.
    fn after_wrap_up(&mut self, changes: Changes) {
        assert_eq!(changes.offers.len(), 1, "the freed slot is used");
        for (i, a) in changes.offers {
            let queue = self
                .e
                .interaction(&i)
                .map(|it| it.queue_id.clone())
                .expect("offered");
            self.pending.push_back((i, a));
            self.next_id += 1;
            must(self.e.apply(inbound(self.next_id, queue), self.now));
        }
    }
}

fn steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("steady");
    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(10));

    let mut s = Steady::new();
    g.bench_function("cycle", |b| {
        b.iter(|| {
            let wrap_up = s.before_wrap_up();
            let changes = must(s.e.apply(wrap_up, s.now));
            s.after_wrap_up(black_box(changes));
        });
    });
    assert_eq!(s.e.check_invariants(s.now), Ok(()));

    let mut s = Steady::new();
    g.bench_function("wrap_up_and_offer", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let wrap_up = s.before_wrap_up();
                let t = Instant::now();
                let changes = must(s.e.apply(wrap_up, s.now));
                timed += t.elapsed();
                s.after_wrap_up(black_box(changes));
            }
            timed
        });
    });
    assert_eq!(s.e.check_invariants(s.now), Ok(()));
    g.finish();
}

criterion_group!(benches, fill, steady);
criterion_main!(benches);
