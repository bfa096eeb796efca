//! Several nodes sharing one PostgreSQL database and one NATS server (R-11.3; ARCHITECTURE.md,
//! "Several nodes sharing one PostgreSQL").
//!
//! One node at a time is the **router**: it holds the lease row (`router_lease`, an epoch and an
//! expiry by the database's clock), runs the core worker, and every commit of that worker checks
//! its epoch in the same transaction (`Changeset::fence`), so a router that lost its lease
//! commits nothing more. The [`Manager`] renews or takes the lease every `cluster.renew_ms`.
//!
//! Every other node reaches the router through its [`Link`]:
//! - commands are forwarded by NATS request/reply (`<prefix>.core.cmd`) and answered after the
//!   router's commit, with the result the local core would give. Each request has an id; the
//!   router stores each command's result with its rows (`cluster_commands`), so a retry after a
//!   fail-over is answered from the store instead of being applied twice;
//! - committed events come back on `<prefix>.events` (one message per commit, its frames with
//!   their sequence numbers) and go to this node's sockets; a gap in the numbers (a lost
//!   message) is filled from the `events` table, which is the durable log (no JetStream);
//! - reads run on a replica of the router's state: each relayed commit carries the rows it
//!   stored of the engine (agents, queues, interactions, settings), which the replica applies
//!   in order (`Engine::apply_delta`); commits are numbered per lease epoch, and a replica that
//!   sees a gap in the numbers, a new epoch or a batch too large to carry reloads the whole
//!   state from the store instead. A forwarded command's answer carries the number of the
//!   commit that holds it, and a read that follows waits until the replica has applied it.
//!   The router also sends the last number every `cluster.renew_ms`, so the loss of the last
//!   message of a burst is noticed;
//! - who has which interaction open (R-8.10, kept in memory only) is shared on
//!   `<prefix>.viewers`: each node says, after each change, who has an interaction open through
//!   its own sockets; the node that changed it tells the interaction's readers, and the others
//!   note what was told. A node that starts says to forget what it had before; the viewers of a
//!   node gone silent are forgotten (the router tells the readers).

use crate::runtime::clock::Clock;
use crate::runtime::core::{
    load_state, Attach, Core, CoreState, Directory, ReadFn, Relay, RelayBatch, WorkerParts,
};
use crate::runtime::error::ApiError;
use crate::runtime::hub::{Frame, Hub};
use crate::runtime::ids::new_id;
use crate::runtime::metrics::Metrics;
use crate::runtime::viewers::Viewers;
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::{AgentId, Command, Delta, InteractionId, Reply, Timestamp};
use switchboard_store::Store;
use tokio::sync::{mpsc, watch, OnceCell};

/// A forwarded request: commands (or rows only) to apply in order, as one `call_many`.
#[derive(Serialize, Deserialize)]
struct Request {
    id: String,
    node: String,
    /// An earlier attempt may have reached a router: look for stored results first.
    retry: bool,
    ops: Vec<(Option<Command>, Attach)>,
}

#[derive(Serialize, Deserialize)]
enum Response {
    /// The node asked is not (or no longer) the router: ask again.
    NotRouter,
    /// The answers, and the commit that holds them: `(epoch, number)`.
    Results(Vec<Result<Reply, WireError>>, (i64, u64)),
}

/// An [`ApiError`] on the wire.
#[derive(Serialize, Deserialize, Clone)]
struct WireError {
    status: u16,
    code: String,
    message: String,
    details: Map<String, Value>,
}

impl From<ApiError> for WireError {
    fn from(e: ApiError) -> Self {
        WireError {
            status: e.status.as_u16(),
            code: e.code.to_owned(),
            message: e.message,
            details: e.details,
        }
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        let mut err = ApiError::new(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            intern(&e.code),
            e.message,
        );
        err.details = e.details;
        err
    }
}

/// Error codes are a small fixed set of `&'static str`; one coming back from the router is
/// interned once.
fn intern(code: &str) -> &'static str {
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = codes.iter().find(|c| **c == code) {
        return c;
    }
    if codes.len() >= 1024 {
        return "error";
    }
    let c: &'static str = Box::leak(code.to_owned().into_boxed_str());
    codes.push(c);
    c
}

/// A commit relayed from the router: the rows it stored of the engine, and its events' frames
/// `(stream, seq, type, data)` in order. A commit with many frames is sent in several parts;
/// the first carries the rows.
#[derive(Serialize, Deserialize)]
struct Relayed {
    node: String,
    /// When the router published them (ms since the Unix epoch), for the relay lag.
    at: i64,
    /// The router's lease epoch and the commit's number in it (from 1).
    epoch: i64,
    commit: u64,
    part: u32,
    /// The router reloaded its state before this commit: so does every replica.
    #[serde(default)]
    reset: bool,
    /// The commit's rows; `None` in a heartbeat (which only tells the last number) and when
    /// the rows are too large for one message (the replica reloads).
    delta: Option<Delta>,
    frames: Vec<(String, i64, String, String)>,
}

/// Who has an interaction open through one node (several nodes), or (`reset`) that the node
/// starts with nothing open.
#[derive(Serialize, Deserialize)]
struct ViewersSaid {
    node: String,
    #[serde(default)]
    reset: bool,
    interaction: Option<String>,
    viewers: Vec<String>,
}

/// What the viewing service does with a change of another node's viewers: note what the
/// readers were told (`tell: false`: the node that changed it told them), or tell them (the
/// viewers of a node gone silent, told by the router).
pub struct ViewersChange {
    pub interaction: InteractionId,
    pub tell: bool,
}

/// The most frames in one relay message (NATS messages are limited to 1 MiB by default).
const RELAY_CHUNK_FRAMES: usize = 200;
const RELAY_CHUNK_BYTES: usize = 256 * 1024;
/// A relay message larger than this goes without its rows (the replicas load from the store
/// instead): NATS refuses messages over 1 MiB by default, and the frames of one part take at
/// most `RELAY_CHUNK_BYTES` and a little.
const RELAY_MESSAGE_BYTES: usize = 900 * 1024;

/// A request being answered: since when, and its answer once there.
type Answering = (Instant, Arc<OnceCell<Vec<u8>>>);

/// A copy of the router's state on a node that is not the router, for reads.
struct Replica {
    state: tokio::sync::RwLock<Option<CoreState>>,
    /// The last commit `(epoch, number)` the state holds.
    applied: watch::Sender<(i64, u64)>,
    /// The newest commit this node heard of (relayed, or answering a command it forwarded).
    heard: Mutex<(i64, u64)>,
    /// The state must be loaded again before it is used (a relay message may be lost, or
    /// this node was the router meanwhile).
    stale: AtomicBool,
    /// Serializes applying commits and loading.
    changing: tokio::sync::Mutex<()>,
    /// Whole loads from the store so far (a metric of how often deltas were not enough).
    loads: AtomicU64,
}

/// This node's end of the cluster: forwarding, relay, replica reads.
pub struct Link {
    nats: async_nats::Client,
    pub node_id: String,
    pub started_at: Timestamp,
    cmd_subject: String,
    events_subject: String,
    forward_timeout: Duration,
    try_timeout: Duration,
    store: Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    hub: Hub,
    directory: Arc<Directory>,
    replica: Replica,
    /// Live sockets of this node per agent: announced again to a new router, whose engine
    /// (loaded from the store) knows no connection.
    connections: Mutex<HashMap<AgentId, u32>>,
    /// The newest event sequence number sent to this node's sockets.
    relayed: AtomicI64,
    /// Serializes deliveries to the hub (relay messages, catch-ups), so frames go out in order.
    relay_lock: tokio::sync::Mutex<()>,
    /// Requests being answered (or just answered) by this node as router, by id: a retry that
    /// arrives meanwhile waits for the same answer instead of applying the commands again.
    answering: Mutex<HashMap<String, Answering>>,
    /// On the router: live sockets of the other nodes per agent, from the `Connected` and
    /// `Disconnected` they forwarded; those of a node gone silent are disconnected.
    remote_connections: Mutex<HashMap<String, HashMap<AgentId, u32>>>,
    /// This node's lease epoch while it is the router.
    role: watch::Sender<Option<i64>>,
    /// A node holds an unexpired lease (as of the last look).
    router_seen: AtomicBool,
    /// Milliseconds between the router publishing a relayed commit and this node receiving it.
    pub relay_lag_ms: AtomicU64,
    /// While this node is the router: the number of its worker's last commit.
    committed: Arc<AtomicU64>,
    subject_prefix: String,
    /// Who has which interaction open, this node's and (as they said) the other nodes'.
    viewers: Viewers,
    viewers_tx: mpsc::UnboundedSender<ViewersChange>,
    /// Taken once by the viewing service.
    viewers_rx: Mutex<Option<mpsc::UnboundedReceiver<ViewersChange>>>,
}

impl Link {
    /// Connects to NATS and starts listening to relayed events.
    pub async fn connect(
        config: &crate::runtime::config::ClusterConfig,
        store: Store,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        hub: Hub,
        directory: Arc<Directory>,
        viewers: Viewers,
    ) -> anyhow::Result<Arc<Link>> {
        let url = config.nats_url.clone().unwrap_or_default();
        let node_id = config.node_id();
        let forward_timeout = Duration::from_millis(u64::from(config.forward_timeout_ms));
        let nats = async_nats::ConnectOptions::new()
            .name(format!("switchboard {node_id}"))
            .request_timeout(Some(forward_timeout))
            .connect(url.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to NATS at {url}: {e}"))?;
        let relayed = store.max_event_seq().await?;
        let (viewers_tx, viewers_rx) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            nats,
            node_id,
            started_at: clock.now(),
            cmd_subject: format!("{}.core.cmd", config.subject_prefix),
            events_subject: format!("{}.events", config.subject_prefix),
            forward_timeout,
            try_timeout: Duration::from_millis(u64::from(config.lease_ms.max(1000))),
            store,
            clock,
            metrics,
            hub,
            directory,
            replica: Replica {
                state: tokio::sync::RwLock::new(None),
                applied: watch::Sender::new((0, 0)),
                heard: Mutex::new((0, 0)),
                stale: AtomicBool::new(true),
                changing: tokio::sync::Mutex::new(()),
                loads: AtomicU64::new(0),
            },
            connections: Mutex::default(),
            relayed: AtomicI64::new(relayed),
            relay_lock: tokio::sync::Mutex::new(()),
            answering: Mutex::default(),
            remote_connections: Mutex::default(),
            role: watch::Sender::new(None),
            router_seen: AtomicBool::new(false),
            relay_lag_ms: AtomicU64::new(0),
            committed: Arc::new(AtomicU64::new(0)),
            subject_prefix: config.subject_prefix.clone(),
            viewers,
            viewers_tx,
            viewers_rx: Mutex::new(Some(viewers_rx)),
        });
        let events = link
            .nats
            .subscribe(link.events_subject.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {}: {e}", link.events_subject))?;
        // The replica (and the roles that authenticate requests) before the first request.
        {
            let _changing = link.replica.changing.lock().await;
            if link.load_replica((0, 0)).await.is_err() {
                tracing::warn!(
                    "the replica of the routing state is not loaded yet; it is at its first use"
                );
            }
        }
        tokio::spawn(link.clone().receive_relayed(events));
        let said = link.listen("viewers").await?;
        tokio::spawn(link.clone().receive_viewers(said));
        // What a former process under this node id had open is gone.
        link.say_viewers(ViewersSaid {
            node: link.node_id.clone(),
            reset: true,
            interaction: None,
            viewers: Vec::new(),
        })
        .await;
        Ok(link)
    }

    /// Several nodes: sends `payload` to every node listening on `topic` (this one too).
    pub async fn broadcast(&self, topic: &str, payload: Vec<u8>) {
        let subject = format!("{}.{topic}", self.subject_prefix);
        if let Err(e) = self.nats.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, topic, "cannot tell the other nodes");
        }
    }

    /// Several nodes: what every node sends on `topic` (see [`broadcast`](Self::broadcast)).
    pub async fn listen(&self, topic: &str) -> anyhow::Result<async_nats::Subscriber> {
        let subject = format!("{}.{topic}", self.subject_prefix);
        self.nats
            .subscribe(subject.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {subject}: {e}"))
    }

    /// The other nodes' changes of viewers, for the viewing service (once).
    pub fn viewers_changes(&self) -> Option<mpsc::UnboundedReceiver<ViewersChange>> {
        self.viewers_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Tells the other nodes who has `interaction` open through this node now.
    pub async fn share_viewers(&self, interaction: &InteractionId) {
        let viewers = self.viewers.local_of(interaction);
        self.say_viewers(ViewersSaid {
            node: self.node_id.clone(),
            reset: false,
            interaction: Some(interaction.as_str().to_owned()),
            viewers: viewers.into_iter().map(|a| a.0).collect(),
        })
        .await;
    }

    async fn say_viewers(&self, said: ViewersSaid) {
        if let Ok(payload) = serde_json::to_vec(&said) {
            self.broadcast("viewers", payload).await;
        }
    }

    async fn receive_viewers(self: Arc<Self>, mut sub: async_nats::Subscriber) {
        while let Some(msg) = sub.next().await {
            let Ok(said) = serde_json::from_slice::<ViewersSaid>(&msg.payload) else {
                continue;
            };
            if said.node == self.node_id {
                continue;
            }
            let changed = if said.reset {
                self.viewers.forget_node(&said.node)
            } else if let Some(id) = said.interaction.map(InteractionId) {
                let ids = said.viewers.into_iter().map(AgentId).collect();
                if self.viewers.set_remote(&said.node, &id, ids) {
                    vec![id]
                } else {
                    Vec::new()
                }
            } else {
                Vec::new()
            };
            // A node that restarted told nobody that its former viewers left: the router does.
            let tell = said.reset && self.is_router();
            for interaction in changed {
                let _ = self.viewers_tx.send(ViewersChange { interaction, tell });
            }
        }
    }

    /// Forgets the viewers of nodes not seen lately; the router tells those interactions'
    /// readers.
    fn forget_silent_viewers(&self, alive: &[String]) {
        for node in self.viewers.remote_nodes() {
            if alive.contains(&node) {
                continue;
            }
            let tell = self.is_router();
            for interaction in self.viewers.forget_node(&node) {
                let _ = self.viewers_tx.send(ViewersChange { interaction, tell });
            }
        }
    }

    /// This node's lease epoch while it is the router, `None` otherwise.
    pub fn role(&self) -> watch::Receiver<Option<i64>> {
        self.role.subscribe()
    }

    pub fn is_router(&self) -> bool {
        self.role.borrow().is_some()
    }

    /// Ready to serve: NATS is connected and some node (maybe this one) is the router.
    pub fn ready(&self) -> Result<(), &'static str> {
        if self.nats.connection_state() != async_nats::connection::State::Connected {
            return Err("NATS does not answer");
        }
        if !self.is_router() && !self.router_seen.load(Ordering::Relaxed) {
            return Err("no node is the router");
        }
        Ok(())
    }

    /// Keeps count of this node's live sockets (see `connections`).
    pub(crate) fn note_connections(&self, ops: &[(Option<Command>, Attach)]) {
        let mut conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        count_connections(&mut conns, ops.iter().map(|(cmd, _)| cmd.as_ref()));
    }
}

/// Adds each `Connected` to `conns` and takes each `Disconnected` off.
fn count_connections<'a>(
    conns: &mut HashMap<AgentId, u32>,
    cmds: impl Iterator<Item = Option<&'a Command>>,
) {
    for cmd in cmds {
        match cmd {
            Some(Command::Connected { agent }) => *conns.entry(agent.clone()).or_default() += 1,
            Some(Command::Disconnected { agent }) => {
                if let Some(n) = conns.get_mut(agent) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        conns.remove(agent);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Link {
    /// On the router: disconnects the sockets of nodes not seen since `since` (killed, or cut
    /// off), so their agents' offers are withdrawn after the grace period as for any lost
    /// connection.
    async fn disconnect_silent_nodes(&self, core: &Core, alive: &[String]) {
        let gone: Vec<(String, HashMap<AgentId, u32>)> = {
            let mut remote = self
                .remote_connections
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let silent: Vec<String> = remote
                .keys()
                .filter(|n| !alive.contains(n))
                .cloned()
                .collect();
            silent
                .into_iter()
                .filter_map(|n| remote.remove(&n).map(|c| (n, c)))
                .collect()
        };
        for (node, conns) in gone {
            let ops: Vec<(Option<Command>, Attach)> = conns
                .into_iter()
                .flat_map(|(agent, n)| {
                    (0..n).map(move |_| {
                        (
                            Some(Command::Disconnected {
                                agent: agent.clone(),
                            }),
                            Attach::default(),
                        )
                    })
                })
                .collect();
            tracing::warn!(node = %node, sockets = ops.len(), "a node went silent: its sockets count as lost");
            core.call_unnoted(ops).await;
        }
    }

    /// Sends commands to the router and waits for its answers (after its commit), asking again
    /// (with the same id) while no router answers, up to `cluster.forward_timeout_ms`.
    pub(crate) async fn forward(
        &self,
        ops: Vec<(Option<Command>, Attach)>,
    ) -> Vec<Result<Reply, ApiError>> {
        let n = ops.len();
        self.metrics
            .forwarded
            .fetch_add(n as u64, Ordering::Relaxed);
        let mut request = Request {
            id: new_id("cmd", self.clock.now()),
            node: self.node_id.clone(),
            retry: false,
            ops,
        };
        let deadline = Instant::now() + self.forward_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let payload = match serde_json::to_vec(&request) {
                Ok(p) => p,
                Err(_) => return (0..n).map(|_| Err(ApiError::internal())).collect(),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let asked = tokio::time::timeout(
                left.min(self.try_timeout),
                self.nats.request(self.cmd_subject.clone(), payload.into()),
            )
            .await;
            if let Ok(Ok(msg)) = asked {
                if let Ok(Response::Results(results, commit)) = serde_json::from_slice(&msg.payload)
                {
                    if results.len() == n {
                        self.heard(commit);
                        return results
                            .into_iter()
                            .map(|r| r.map_err(ApiError::from))
                            .collect();
                    }
                }
            }
            // No router answered (none yet, it died, or it lost its lease): the commands may
            // have been committed, so the next attempt asks for stored results first.
            request.retry = true;
            if Instant::now() + pause >= deadline {
                tracing::warn!(id = %request.id, "no router answered a forwarded command in time");
                return (0..n).map(|_| Err(ApiError::unavailable())).collect();
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Runs a read against the replica, once it holds every commit this node heard of
    /// (among them those that answered the commands it forwarded).
    pub(crate) async fn read(&self, f: ReadFn) -> Result<(), ApiError> {
        let target = *self.replica.heard.lock().unwrap_or_else(|e| e.into_inner());
        if self.replica.stale.load(Ordering::Acquire) {
            let _changing = self.replica.changing.lock().await;
            if self.replica.stale.load(Ordering::Acquire) {
                self.load_replica(target).await?;
            }
        }
        let mut applied = self.replica.applied.subscribe();
        tokio::time::timeout(self.forward_timeout, applied.wait_for(|a| *a >= target))
            .await
            .map_err(|_| ApiError::unavailable())?
            .map_err(|_| ApiError::unavailable())?;
        let state = self.replica.state.read().await;
        match state.as_ref() {
            Some(s) => {
                f(s);
                Ok(())
            }
            None => Err(ApiError::unavailable()),
        }
    }

    /// How many times the replica was loaded whole from the store.
    pub fn replica_loads(&self) -> u64 {
        self.replica.loads.load(Ordering::Relaxed)
    }

    /// Notes a commit of the router this node heard of.
    fn heard(&self, commit: (i64, u64)) {
        let mut heard = self.replica.heard.lock().unwrap_or_else(|e| e.into_inner());
        *heard = (*heard).max(commit);
    }

    /// The replica is to be loaded again before its next use.
    fn replica_stale(&self) {
        self.replica.stale.store(true, Ordering::Release);
    }

    /// Loads the replica from the store, which holds at least commit `at` (heard of before
    /// this load started); `changing` is held. Tries for up to `cluster.forward_timeout_ms`.
    async fn load_replica(&self, at: (i64, u64)) -> Result<(), ApiError> {
        let deadline = Instant::now() + self.forward_timeout;
        loop {
            match load_state(&self.store, self.clock.now()).await {
                Ok((state, _, _)) => {
                    self.directory.set(&state.engine);
                    *self.replica.state.write().await = Some(state);
                    self.replica.stale.store(false, Ordering::Release);
                    self.replica.loads.fetch_add(1, Ordering::Relaxed);
                    self.replica.applied.send_modify(|a| *a = (*a).max(at));
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load the replica of the routing state; retrying");
                    if Instant::now() >= deadline {
                        return Err(ApiError::unavailable());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Applies a relayed commit to the replica: its rows when it follows the last one
    /// applied, else (a gap, a new router, rows too large, a reset) a load from the store.
    async fn replicate(&self, r: &mut Relayed) {
        let at = (r.epoch, r.commit);
        self.heard(at);
        let _changing = self.replica.changing.lock().await;
        let applied = *self.replica.applied.borrow();
        let fresh = !self.replica.stale.load(Ordering::Acquire);
        let delta = match step(applied, fresh, r) {
            Step::Skip => return,
            Step::Apply => r.delta.take().unwrap_or_default(),
            Step::Frames => Delta::default(),
            Step::Load => {
                // Missed something: the store holds this commit, and every one before it.
                tracing::info!(
                    epoch = r.epoch,
                    commit = r.commit,
                    part = r.part,
                    reset = r.reset,
                    rows = r.delta.is_some(),
                    applied_epoch = applied.0,
                    applied_commit = applied.1,
                    fresh,
                    "loading the replica of the routing state whole"
                );
                let _ = self.load_replica(at).await;
                return;
            }
        };
        let directory = !delta.agents.is_empty() || !delta.deleted_agents.is_empty();
        let mut state = self.replica.state.write().await;
        let Some(s) = state.as_mut() else {
            drop(state);
            let _ = self.load_replica(at).await;
            return;
        };
        s.apply_relayed(delta, r.frames.iter().map(|f| (f.0.as_str(), f.1)));
        if directory {
            self.directory.set(&s.engine);
        }
        drop(state);
        self.replica.applied.send_replace(at);
    }

    /// What this node's replica holds: the router's epoch and the number of its last commit
    /// applied, and how many times it was loaded whole (`None` on the router).
    pub fn replica_status(&self) -> Option<(i64, u64, u64)> {
        if self.is_router() {
            return None;
        }
        let (epoch, commit) = *self.replica.applied.borrow();
        Some((epoch, commit, self.replica_loads()))
    }

    /// Receives relayed commits of the router (another node) and sends their frames to this
    /// node's sockets.
    async fn receive_relayed(self: Arc<Self>, mut sub: async_nats::Subscriber) {
        while let Some(msg) = sub.next().await {
            let Ok(r) = serde_json::from_slice::<Relayed>(&msg.payload) else {
                continue;
            };
            if r.node == self.node_id {
                continue;
            }
            let mut r = r;
            self.replicate(&mut r).await;
            let now = self.clock_ms();
            self.relay_lag_ms
                .store(u64::try_from(now - r.at).unwrap_or(0), Ordering::Relaxed);
            let Some(first) = r.frames.first().map(|f| f.1) else {
                continue;
            };
            let _order = self.relay_lock.lock().await;
            let relayed = self.relayed.load(Ordering::Acquire);
            if first - 1 > relayed {
                // A relay message was lost (or this node started in between): the store has
                // every committed event.
                self.catch_up(relayed, first - 1).await;
            }
            let relayed = self.relayed.load(Ordering::Acquire);
            let mut last = relayed;
            for (user, seq, kind, data) in r.frames {
                if seq <= relayed {
                    continue;
                }
                last = seq;
                self.hub.publish(
                    &AgentId(user),
                    Arc::new(Frame::new(seq, kind, Arc::from(data))),
                );
            }
            self.relayed.store(last, Ordering::Release);
        }
    }

    fn clock_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Sends the stored events with `since < seq <= until` to this node's sockets.
    async fn catch_up(&self, since: i64, until: i64) {
        let mut from = since;
        while from < until {
            let page = match self.store.encoded_events_between(from, until, 1000).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read events to relay");
                    return;
                }
            };
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            for e in page {
                self.hub.publish(
                    &e.user_id,
                    Arc::new(Frame::new(e.seq, e.kind, Arc::from(e.data))),
                );
            }
            from = last;
        }
        self.relayed.store(until.max(from), Ordering::Release);
    }

    /// A node that is not the router: relays what it may have missed (the last relay message
    /// of a burst lost), from the store.
    async fn poll_relay(&self) {
        let Ok(newest) = self.store.max_event_seq().await else {
            return;
        };
        let _order = self.relay_lock.lock().await;
        let relayed = self.relayed.load(Ordering::Acquire);
        if newest > relayed {
            self.replica_stale();
            self.catch_up(relayed, newest).await;
        }
    }

    /// On the router: publishes each committed batch for the other nodes, and every
    /// `heartbeat` the number of the last one (so a lost last message is noticed).
    async fn publish_relayed(
        self: Arc<Self>,
        epoch: i64,
        heartbeat: Duration,
        mut rx: mpsc::UnboundedReceiver<RelayBatch>,
    ) {
        let mut last = 0;
        let mut beat = tokio::time::interval(heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let batch = tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => b,
                    None => return,
                },
                _ = beat.tick() => {
                    self.send_relayed(Relayed {
                        node: self.node_id.clone(),
                        at: self.clock_ms(),
                        epoch,
                        commit: last,
                        part: 0,
                        reset: false,
                        delta: None,
                        frames: Vec::new(),
                    })
                    .await;
                    continue;
                }
            };
            last = batch.commit;
            if let Some((_, f)) = batch.frames.last() {
                self.relayed.fetch_max(f.seq, Ordering::AcqRel);
            }
            let at = self.clock_ms();
            let mut message = Relayed {
                node: self.node_id.clone(),
                at,
                epoch,
                commit: batch.commit,
                part: 0,
                reset: batch.reset,
                delta: Some(batch.delta),
                frames: Vec::new(),
            };
            let mut bytes = 0;
            for (user, f) in batch.frames {
                bytes += f.data.len() + 64;
                message
                    .frames
                    .push((user.0, f.seq, f.kind.to_string(), f.data.to_string()));
                if message.frames.len() >= RELAY_CHUNK_FRAMES || bytes >= RELAY_CHUNK_BYTES {
                    let next = Relayed {
                        node: message.node.clone(),
                        at,
                        epoch,
                        commit: batch.commit,
                        part: message.part + 1,
                        reset: false,
                        delta: None,
                        frames: Vec::new(),
                    };
                    self.send_relayed(std::mem::replace(&mut message, next))
                        .await;
                    bytes = 0;
                }
            }
            if !message.frames.is_empty() || message.part == 0 {
                self.send_relayed(message).await;
            }
        }
    }

    async fn send_relayed(&self, mut msg: Relayed) {
        let mut payload = serde_json::to_vec(&msg);
        if payload
            .as_ref()
            .is_ok_and(|p| p.len() > RELAY_MESSAGE_BYTES)
            && msg.delta.is_some()
        {
            msg.delta = None;
            payload = serde_json::to_vec(&msg);
        }
        if let Ok(payload) = payload {
            if let Err(e) = self
                .nats
                .publish(self.events_subject.clone(), payload.into())
                .await
            {
                tracing::warn!(error = %e, "cannot relay committed events");
            }
        }
    }

    /// On the router: answers forwarded commands.
    async fn serve_commands(self: Arc<Self>, core: Core, mut sub: async_nats::Subscriber) {
        while let Some(msg) = sub.next().await {
            let (link, core) = (self.clone(), core.clone());
            tokio::spawn(async move {
                let answer = link.answer(&core, &msg.payload).await;
                if let Some(reply) = msg.reply {
                    let _ = link.nats.publish(reply, answer.into()).await;
                }
            });
        }
    }

    async fn answer(&self, core: &Core, payload: &[u8]) -> Vec<u8> {
        let not_router = || serde_json::to_vec(&Response::NotRouter).unwrap_or_default();
        let Ok(request) = serde_json::from_slice::<Request>(payload) else {
            return not_router();
        };
        let cell = {
            let mut answering = self.answering.lock().unwrap_or_else(|e| e.into_inner());
            let keep = self.forward_timeout * 2;
            answering.retain(|_, (at, _)| at.elapsed() < keep);
            answering
                .entry(request.id.clone())
                .or_insert_with(|| (Instant::now(), Arc::new(OnceCell::new())))
                .1
                .clone()
        };
        let id = request.id.clone();
        let answer = cell
            .get_or_init(|| async move {
                match self.apply(core, request).await {
                    Some(results) => {
                        // The worker numbers a commit before answering it: this one holds the
                        // answers (a later one, maybe, which holds them too).
                        let commit = (
                            self.role.borrow().unwrap_or(0),
                            self.committed.load(Ordering::Acquire),
                        );
                        serde_json::to_vec(&Response::Results(results, commit)).unwrap_or_default()
                    }
                    None => Vec::new(),
                }
            })
            .await
            .clone();
        if answer.is_empty() {
            // Not applied here: forget it, so a later attempt is applied.
            self.answering
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            return not_router();
        }
        answer
    }

    /// Applies a forwarded request on this node's worker; `None` when this node cannot (it is
    /// not the router, or stopped being it before answering everything).
    async fn apply(&self, core: &Core, request: Request) -> Option<Vec<Result<Reply, WireError>>> {
        let n = request.ops.len();
        let mut results: Vec<Option<Result<Reply, WireError>>> = (0..n).map(|_| None).collect();
        let mut todo = Vec::with_capacity(n);
        let mut at = Vec::with_capacity(n);
        for (i, (cmd, mut attach)) in request.ops.into_iter().enumerate() {
            let sub_id = format!("{}.{i}", request.id);
            if request.retry {
                match self.store.command_result(&sub_id).await {
                    Ok(Some(text)) => {
                        if let Ok(reply) = serde_json::from_str::<Reply>(&text) {
                            results[i] = Some(Ok(reply));
                            continue;
                        }
                    }
                    Ok(None) => {}
                    Err(_) => return None,
                }
            }
            attach.command_id = Some(sub_id);
            todo.push((cmd, attach));
            at.push(i);
        }
        if !todo.is_empty() {
            if !core.is_local() {
                return None;
            }
            let cmds: Vec<Option<Command>> = todo.iter().map(|(c, _)| c.clone()).collect();
            let answers = core.call_here(todo).await;
            {
                let mut remote = self
                    .remote_connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let conns = remote.entry(request.node.clone()).or_default();
                let done = cmds
                    .iter()
                    .zip(&answers)
                    .filter(|(_, a)| matches!(a, Some(Ok(_))))
                    .map(|(c, _)| c.as_ref());
                count_connections(conns, done);
            }
            for (i, r) in at.into_iter().zip(answers) {
                results[i] = Some(r?.map_err(WireError::from));
            }
        }
        results.into_iter().collect()
    }
}

/// What a replica does with a relayed message.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// It holds this commit already (a heartbeat, a message seen twice, a late message of a
    /// former router).
    Skip,
    /// The next commit: apply its rows.
    Apply,
    /// A further part of the commit last applied: its frames' numbers only.
    Frames,
    /// Something was missed (a gap, a new router, rows too large to carry, a reset, a state
    /// never loaded): load the whole state from the store, which holds this commit.
    Load,
}

/// See [`Step`]: `applied` is the replica's last commit `(epoch, number)`, `fresh` whether its
/// state is loaded and not known to be stale.
fn step(applied: (i64, u64), fresh: bool, r: &Relayed) -> Step {
    let (epoch, last) = applied;
    if !fresh {
        return Step::Load;
    }
    if r.epoch < epoch {
        return Step::Skip;
    }
    if r.epoch > epoch {
        return Step::Load;
    }
    match (r.commit.cmp(&last), r.part) {
        (std::cmp::Ordering::Less, _) | (std::cmp::Ordering::Equal, 0) => Step::Skip,
        (std::cmp::Ordering::Equal, _) => Step::Frames,
        _ if r.commit == last + 1 && r.part == 0 && !r.reset && r.delta.is_some() => Step::Apply,
        _ => Step::Load,
    }
}

/// Takes, renews and gives up the router lease, and starts or stops this node's worker.
pub struct Manager {
    link: Arc<Link>,
    /// The lease, the node's heartbeat and the checks of the relay go through a pool of their
    /// own: a router whose main pool is busy with requests still renews in time.
    lease_store: Store,
    core: Core,
    parts: WorkerParts,
    lease_ms: i64,
    renew: Duration,
    term: Option<Term>,
    /// The lease epoch last seen (any node's): a new one makes this node announce its sockets.
    seen_epoch: i64,
    last_prune: Instant,
}

/// This node's time as the router.
struct Term {
    epoch: i64,
    worker: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    commands: tokio::task::JoinHandle<()>,
    relay: tokio::task::JoinHandle<()>,
    renewed: Instant,
}

impl Manager {
    pub async fn new(
        link: Arc<Link>,
        core: Core,
        parts: WorkerParts,
        config: &crate::runtime::config::ClusterConfig,
    ) -> anyhow::Result<Manager> {
        Ok(Manager {
            lease_store: parts.store.dedicated(2).await?,
            link,
            core,
            parts,
            lease_ms: i64::from(config.lease_ms),
            renew: Duration::from_millis(u64::from(config.renew_ms)),
            term: None,
            seen_epoch: 0,
            last_prune: Instant::now(),
        })
    }

    /// One round: records this node as alive, renews the lease (or takes it when free), and
    /// looks at who holds it.
    pub async fn tick(&mut self) {
        let link = self.link.clone();
        let store = self.lease_store.clone();
        if let Err(e) = store
            .touch_node(&link.node_id, link.started_at, link.clock.now())
            .await
        {
            tracing::warn!(error = %e, "cannot record this node as alive");
        }
        if let Some(term) = &mut self.term {
            let lost = if term.worker.is_finished() {
                true
            } else {
                match store
                    .renew_lease(&link.node_id, term.epoch, self.lease_ms)
                    .await
                {
                    Ok(true) => {
                        term.renewed = Instant::now();
                        false
                    }
                    Ok(false) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot renew the router lease");
                        term.renewed.elapsed() >= Duration::from_millis(self.lease_ms as u64)
                    }
                }
            };
            if lost {
                self.step_down("lost the router lease").await;
            }
        }
        if self.term.is_none() {
            match store.acquire_lease(&link.node_id, self.lease_ms).await {
                Ok(Some(epoch)) => self.become_router(epoch).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look at the router lease"),
            }
        }
        match store.lease().await {
            Ok(lease) => {
                link.router_seen.store(lease.live, Ordering::Relaxed);
                if lease.live && lease.epoch != self.seen_epoch {
                    self.seen_epoch = lease.epoch;
                    // The new router's engine knows no live connection: tell it this node's.
                    let (link, core) = (self.link.clone(), self.core.clone());
                    tokio::spawn(async move { link.announce(&core).await });
                }
            }
            Err(e) => {
                link.router_seen.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "cannot read the router lease");
            }
        }
        if self.term.is_none() {
            link.poll_relay().await;
        }
        let since = Timestamp(link.clock.now().0 - 3 * self.lease_ms);
        if let Ok(nodes) = store.nodes(since).await {
            let alive: Vec<String> = nodes.into_iter().map(|n| n.id).collect();
            if self.term.is_some() {
                link.disconnect_silent_nodes(&self.core, &alive).await;
            }
            link.forget_silent_viewers(&alive);
        }
        if self.term.is_some() && self.last_prune.elapsed() >= Duration::from_secs(60) {
            self.last_prune = Instant::now();
            let older = Timestamp(link.clock.now().0 - 10 * 60 * 1000);
            if let Err(e) = store.prune_commands(older).await {
                tracing::warn!(error = %e, "cannot prune forwarded command results");
            }
        }
    }

    async fn become_router(&mut self, epoch: i64) {
        let (stop, stop_rx) = watch::channel(false);
        let (relay_tx, relay_rx) = mpsc::unbounded_channel();
        let mut parts = self.parts.clone();
        self.link.committed.store(0, Ordering::Release);
        parts.relay = Some(Relay {
            tx: relay_tx,
            committed: self.link.committed.clone(),
        });
        // The worker's first commit is relayed too.
        let relay = tokio::spawn(
            self.link
                .clone()
                .publish_relayed(epoch, self.renew, relay_rx),
        );
        let worker = match self.core.start_worker(&parts, Some(epoch), stop_rx).await {
            Ok(w) => w,
            Err(e) => {
                relay.abort();
                tracing::error!(error = %e, epoch, "took the router lease but cannot start the core worker; giving it up");
                self.give_up(epoch).await;
                return;
            }
        };
        let commands = match self
            .link
            .nats
            .queue_subscribe(self.link.cmd_subject.clone(), "router".into())
            .await
        {
            Ok(sub) => tokio::spawn(self.link.clone().serve_commands(self.core.clone(), sub)),
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to forwarded commands; giving the lease up");
                self.core.stop_worker();
                let _ = stop.send(true);
                relay.abort();
                self.give_up(epoch).await;
                return;
            }
        };
        tracing::info!(node = %self.link.node_id, epoch, "this node is now the router");
        self.link
            .remote_connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.link.role.send_replace(Some(epoch));
        self.link.metrics.cluster_router.store(1, Ordering::Relaxed);
        self.term = Some(Term {
            epoch,
            worker,
            stop,
            commands,
            relay,
            renewed: Instant::now(),
        });
    }

    /// Gives the lease of `epoch` up, so another node takes over without waiting for it.
    async fn give_up(&self, epoch: i64) {
        if let Err(e) = self
            .lease_store
            .release_lease(&self.link.node_id, epoch)
            .await
        {
            tracing::warn!(error = %e, "cannot give the router lease up");
        }
    }

    async fn step_down(&mut self, why: &str) {
        let Some(term) = self.term.take() else {
            return;
        };
        tracing::warn!(node = %self.link.node_id, epoch = term.epoch, "{why}: this node is no longer the router");
        self.core.stop_worker();
        // Reads go to the replica from now on, loaded from the store at its next use.
        self.link.replica_stale();
        term.commands.abort();
        let _ = term.stop.send(true);
        let _ = term.worker.await;
        term.relay.abort();
        self.link.role.send_replace(None);
        self.link.metrics.cluster_router.store(0, Ordering::Relaxed);
        self.link.replica_stale();
    }

    /// Runs until `shutdown`; then a router stops its worker (letting it finish what is
    /// queued) and gives the lease up so another node takes over at once.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(self.renew);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => self.tick().await,
                _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            }
        }
        if let Some(epoch) = self.term.as_ref().map(|t| t.epoch) {
            self.step_down("stopping").await;
            self.give_up(epoch).await;
        }
    }
}

impl Link {
    /// Tells the router about every live socket of this node (after the router changed).
    async fn announce(&self, core: &Core) {
        let ops: Vec<(Option<Command>, Attach)> = {
            let conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
            conns
                .iter()
                .flat_map(|(agent, n)| {
                    (0..*n).map(|_| {
                        (
                            Some(Command::Connected {
                                agent: agent.clone(),
                            }),
                            Attach::default(),
                        )
                    })
                })
                .collect()
        };
        if ops.is_empty() {
            return;
        }
        let n = ops.len();
        let failed = core
            .call_unnoted(ops)
            .await
            .into_iter()
            .filter(Result::is_err)
            .count();
        tracing::info!(
            connections = n,
            failed,
            "announced this node's live sockets to the router"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(epoch: i64, commit: u64, part: u32, delta: bool, reset: bool) -> Relayed {
        Relayed {
            node: "n1".into(),
            at: 0,
            epoch,
            commit,
            part,
            reset,
            delta: delta.then(Delta::default),
            frames: Vec::new(),
        }
    }

    #[test]
    fn a_replica_applies_the_next_commit_and_loads_after_anything_missed() {
        let at = (3, 10);
        // The next commit of the same router: its rows.
        assert_eq!(step(at, true, &msg(3, 11, 0, true, false)), Step::Apply);
        // A further part of the commit applied: its frames only.
        assert_eq!(step(at, true, &msg(3, 10, 1, false, false)), Step::Frames);
        // A heartbeat saying the last number, a message seen twice, an older one.
        assert_eq!(step(at, true, &msg(3, 10, 0, false, false)), Step::Skip);
        assert_eq!(step(at, true, &msg(3, 9, 0, true, false)), Step::Skip);
        // A former router's late message: the store holds its commits.
        assert_eq!(step(at, true, &msg(2, 40, 0, true, false)), Step::Skip);
        // A gap (a lost message), told by a commit or by a heartbeat.
        assert_eq!(step(at, true, &msg(3, 12, 0, true, false)), Step::Load);
        assert_eq!(step(at, true, &msg(3, 11, 0, false, false)), Step::Load);
        // A further part of a commit whose first part was lost.
        assert_eq!(step(at, true, &msg(3, 11, 1, false, false)), Step::Load);
        // A new router, rows too large to carry, a router that reloaded, a stale replica.
        assert_eq!(step(at, true, &msg(4, 1, 0, true, false)), Step::Load);
        assert_eq!(step(at, true, &msg(3, 11, 0, true, true)), Step::Load);
        assert_eq!(step(at, false, &msg(3, 11, 0, true, false)), Step::Load);
    }
}
