//! The supervisor's board: today's figures per queue, shared between the service that
//! counts them from the report tables and the core worker that puts them in `monitor.queue`
//! events, and the JSON of a board's agent and queue (the same objects in `GET /api/v1/monitor`
//! and in the live events).

use crate::runtime::views;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use switchboard_domain::{Agent, Engine, Queue, QueueId, Timestamp};

/// A queue's figures for the current day (in `reports.timezone`), as the reports define them
/// (ARCHITECTURE.md, "Report definitions").
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueToday {
    pub offered: i64,
    pub accepted: i64,
    pub missed: i64,
    pub handled: i64,
    pub sla_met_pct: Option<f64>,
}

/// Today's figures of every queue: written by the monitor service, read by the core.
#[derive(Clone, Default)]
pub struct Today(Arc<RwLock<HashMap<QueueId, QueueToday>>>);

impl Today {
    pub fn get(&self, queue: &QueueId) -> QueueToday {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(queue)
            .copied()
            .unwrap_or_default()
    }

    /// Replaces every queue's figures; returns the queues whose figures changed.
    pub fn replace(&self, next: HashMap<QueueId, QueueToday>) -> Vec<QueueId> {
        let mut cur = self.0.write().unwrap_or_else(|e| e.into_inner());
        let mut changed: Vec<QueueId> = next
            .iter()
            .filter(|(q, v)| cur.get(*q) != Some(*v))
            .map(|(q, _)| q.clone())
            .collect();
        changed.extend(
            cur.keys()
                .filter(|q| !next.contains_key(*q))
                .cloned()
                .collect::<Vec<_>>(),
        );
        *cur = next;
        changed.sort();
        changed
    }
}

/// An agent on the board: the agent as `/me` shows them (presence, break reason, since when,
/// stop-new, load against capacity, activity) and the interactions they hold.
pub fn agent(engine: &Engine, a: &Agent) -> Value {
    let mut v = views::agent_now(engine, a, None);
    let held = engine.interactions_of(&a.id);
    let ids: Vec<&str> = held.iter().map(|i| i.id.as_str()).collect();
    let list: Vec<Value> = held
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "customer": i.customer.name.as_deref().unwrap_or(&i.customer.wa_id),
                "state": i.state,
            })
        })
        .collect();
    v["interaction_ids"] = json!(ids);
    v["interactions"] = Value::Array(list);
    v
}

/// A queue on the board at `now`: waiting, the longest wait (and since when, for the board's
/// clock), available agents and today's figures.
pub fn queue(engine: &Engine, q: &Queue, today: QueueToday, now: Timestamp) -> Value {
    let load = engine.queue_load(&q.id);
    let since = load.and_then(|l| l.oldest_waiting_since);
    json!({
        "id": q.id,
        "name": q.name,
        "waiting": load.map_or(0, |l| l.waiting),
        "longest_wait_s": since.map_or(0, |t| now.millis_since(t).max(0) / 1000),
        "oldest_waiting_since": since.map(views::ts),
        "available_agents": load.map_or(0, |l| l.available_agents),
        "sla_response_s": q.sla_response_s,
        "offered": today.offered,
        "accepted": today.accepted,
        "missed": today.missed,
        "handled": today.handled,
        "sla_met_pct": today.sla_met_pct,
    })
}

/// The whole board.
pub fn board(engine: &Engine, today: &Today, now: Timestamp) -> Value {
    let mut agents: Vec<&Agent> = engine.agents().collect();
    agents.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
    let mut queues: Vec<&Queue> = engine.queues().collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    json!({
        "agents": agents.into_iter().map(|a| agent(engine, a)).collect::<Vec<_>>(),
        "queues": queues.into_iter().map(|q| queue(engine, q, today.get(&q.id), now)).collect::<Vec<_>>(),
        "at": views::ts(now),
    })
}
