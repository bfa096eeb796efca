//! The core service: the one owner of the routing engine in this process.
//!
//! Every state change goes through [`Core::call`]: the worker applies commands to the engine in
//! arrival order, turns the engine's `Changes` into rows and per-user events, commits them to the
//! store in one transaction per batch (group commit: commands that arrive while a commit is in
//! flight share the next one), and only then answers the callers and pushes the events to live
//! sockets. If a commit fails the engine is reloaded from the store, so memory never runs ahead
//! of what is durable. The worker also owns the engine's deadlines: it sleeps until the next one
//! and fires it through [`Engine::tick`].
//!
//! Reads ([`Core::read`]) run on the worker after their batch's commit, so they always see
//! committed state.

use crate::runtime::clock::Clock;
use crate::runtime::cluster::Link;
use crate::runtime::error::ApiError;
use crate::runtime::hub::{Frame, Hub, FLOOR};
use crate::runtime::ids::new_id;
use crate::runtime::metrics::Metrics;
use crate::runtime::monitor::{self, Today};
use crate::runtime::records;
use crate::runtime::views;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use switchboard_domain::engine::{Changes, Event, Notice};
use switchboard_domain::*;
use switchboard_store::{
    AuditRecord, Changeset, ContactRecord, ConversationRecord, CrmEventRecord, EventRecord,
    MessageRecord, MessageStatusUpdate, NoteRecord, OutboxRecord, OutboxUpdate, PendingStatus,
    RawWebhook, Store,
};
use tokio::sync::{mpsc, oneshot, watch};

/// Rows to store together with a command, only if it succeeds.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Attach {
    /// Messages to insert; an inbound message without an interaction id gets the id of the
    /// interaction the command answers with.
    pub messages: Vec<MessageRecord>,
    pub notes: Vec<NoteRecord>,
    pub conversations: Vec<ConversationRecord>,
    /// Status changes of stored messages, each with its interaction (for `message.updated`).
    pub message_updates: Vec<(MessageStatusUpdate, Option<InteractionId>)>,
    pub outbox: Vec<OutboxRecord>,
    pub outbox_updates: Vec<OutboxUpdate>,
    pub pending_statuses: Vec<PendingStatus>,
    pub applied_statuses: Vec<String>,
    pub raw_webhooks: Vec<RawWebhook>,
    /// Contacts created with the command.
    pub contacts: Vec<ContactRecord>,
    /// Events for the external CRM (made with [`records::crm_event`]); dropped when no CRM
    /// webhook is configured.
    pub crm_events: Vec<CrmEventRecord>,
    /// Queues whose board figures changed without a routing change (today's figures were
    /// recounted): a `monitor.queue` event each.
    pub monitor_queues: Vec<QueueId>,
    /// Audit log entries of the change, stored only if it succeeds; an entry without
    /// `actor_name` gets the actor's display name as the engine knows it.
    pub audit: Vec<AuditRecord>,
    /// `interaction.viewers` events: who has an interaction open changed. Nothing is
    /// stored of it but the events.
    pub viewers: Vec<ViewersEvent>,
    /// Several nodes: the id a forwarding node gave the command; its result is stored with
    /// it, so a retry after a fail-over is answered, not applied again.
    pub command_id: Option<String>,
}

/// What the readers of one interaction are told about who has it open: `agents` goes to the
/// agents among its audience, `supervisors` to the shared floor stream; `None` tells nobody.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ViewersEvent {
    pub interaction: InteractionId,
    pub agents: Option<Value>,
    pub supervisors: Option<Value>,
}

pub(crate) type ReadFn = Box<dyn FnOnce(&CoreState) + Send>;

/// Where a command's answer goes.
type Answer = oneshot::Sender<Result<Reply, ApiError>>;

/// A command (or rows only, when `cmd` is `None`) with its rows and its answer.
struct CommandOp {
    cmd: Option<Command>,
    attach: Attach,
    reply: Answer,
}

enum Op {
    Command(Box<CommandOp>),
    Read(ReadFn),
}

/// What the worker owns; readers get a shared reference between batches.
#[derive(Clone)]
pub struct CoreState {
    pub engine: Engine,
    /// The last event sequence number given. One counter for every stream (each user's and the
    /// supervisors' shared [`FLOOR`](crate::runtime::hub::FLOOR)), so a supervisor's socket
    /// reads both streams merged in one order; a user's numbers increase, with gaps.
    pub last_seq: i64,
    /// The last sequence number of each stream (a user's, or the floor's): where a new socket
    /// starts (`hello`).
    pub stream_last: HashMap<AgentId, i64>,
    /// Interactions in the engine that have ended (and were reported to the CRM as such).
    ended: HashSet<InteractionId>,
}

impl CoreState {
    /// Several nodes: applies one relayed commit of the router to this node's replica of its
    /// state: the rows it stored (see [`Delta`]) and its events' numbers (`(stream, seq)`).
    /// (`ended` is left as loaded: only a worker reads it, and a worker loads its own state.)
    pub(crate) fn apply_relayed<'a>(
        &mut self,
        delta: Delta,
        seqs: impl Iterator<Item = (&'a str, i64)>,
    ) {
        self.engine.apply_delta(delta);
        for (stream, seq) in seqs {
            self.last_seq = self.last_seq.max(seq);
            let last = self
                .stream_last
                .entry(AgentId(stream.to_owned()))
                .or_default();
            *last = (*last).max(seq);
        }
    }
}

/// Roles of active users, published by the worker for request authentication.
#[derive(Default)]
pub struct Directory {
    roles: RwLock<HashMap<AgentId, Role>>,
}

impl Directory {
    pub fn role(&self, id: &AgentId) -> Option<Role> {
        self.roles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }
    pub(crate) fn set(&self, engine: &Engine) {
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        roles.clear();
        for a in engine.agents() {
            roles.insert(a.id.clone(), a.role);
        }
    }
}

/// A handle to the core service: the worker of this process, or (several nodes, on a node
/// that is not the router) the router, reached through [`Link`].
#[derive(Clone)]
pub struct Core {
    /// The worker, while this process runs one.
    local: Arc<RwLock<Option<mpsc::Sender<Op>>>>,
    /// Several nodes: forwarding to the router and reads of the replica.
    link: Option<Arc<Link>>,
    pub directory: Arc<Directory>,
}

/// Where a router's worker hands each committed batch, to be relayed to the other nodes.
#[derive(Clone)]
pub struct Relay {
    pub tx: mpsc::UnboundedSender<RelayBatch>,
    /// The number of the last batch handed over; the worker of each term counts from 1, and
    /// stores the number before it answers the batch's commands.
    pub committed: Arc<std::sync::atomic::AtomicU64>,
}

/// One committed batch of the router, for the other nodes: its number in this term, the rows
/// it stored of the engine (a replica applies them, see [`Delta`]), and its events' frames.
pub struct RelayBatch {
    pub commit: u64,
    /// The worker reloaded its state from the store before this batch: replicas reload too.
    pub reset: bool,
    pub delta: Delta,
    pub frames: Vec<(AgentId, Arc<Frame>)>,
}

/// What a worker is made of besides its state (several nodes start one whenever they become
/// the router).
#[derive(Clone)]
pub struct WorkerParts {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub crm: CrmOutlet,
    pub today: Today,
    /// Several nodes: where committed frames go to be relayed to the other nodes.
    pub relay: Option<Relay>,
    /// Several nodes: woken when a commit queued sends or media (the router's outbox and
    /// media loops; a node that forwarded the command woke only its own).
    pub wake: Vec<Arc<tokio::sync::Notify>>,
}

const MAX_BATCH: usize = 512;

/// Where the core hands events for the external CRM: whether `crm.webhook_url` is configured
/// (otherwise events are dropped) and what wakes the delivery service once they are committed.
#[derive(Clone)]
pub struct CrmOutlet {
    pub enabled: bool,
    pub wake: Arc<tokio::sync::Notify>,
}

impl Core {
    /// Loads the engine from the store, fires what expired while the server was down, and starts
    /// the worker. The worker stops when `shutdown` turns true (after finishing what is queued).
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        hub: Hub,
        metrics: Arc<Metrics>,
        crm: CrmOutlet,
        today: Today,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<(Core, tokio::task::JoinHandle<()>)> {
        let core = Core::with(None, Arc::new(Directory::default()));
        let parts = WorkerParts {
            store,
            clock,
            hub,
            metrics,
            crm,
            today,
            relay: None,
            wake: Vec::new(),
        };
        let handle = core.start_worker(&parts, None, shutdown).await?;
        Ok((core, handle))
    }

    /// Several nodes: a handle with no worker yet; commands go to the router through `link`
    /// until [`start_worker`](Self::start_worker) makes this node the router.
    pub fn clustered(link: Arc<Link>, directory: Arc<Directory>) -> Core {
        Core::with(Some(link), directory)
    }

    fn with(link: Option<Arc<Link>>, directory: Arc<Directory>) -> Core {
        Core {
            local: Arc::default(),
            link,
            directory,
        }
    }

    /// Loads the engine from the store, fires what expired meanwhile (while the server was
    /// down, or while no node was router), and starts the worker; with `fence`, every commit
    /// of it checks that lease epoch. The worker stops when `shutdown` turns true (after
    /// finishing what is queued) or when a commit finds the lease lost.
    pub async fn start_worker(
        &self,
        parts: &WorkerParts,
        fence: Option<i64>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let WorkerParts {
            store,
            clock,
            hub,
            metrics,
            crm,
            today,
            relay,
            wake,
        } = parts.clone();
        let (state, load_changes, settings_missing) = load_state(&store, clock.now()).await?;
        let mut worker = Worker {
            state,
            store,
            clock,
            hub,
            metrics,
            crm,
            today,
            directory: self.directory.clone(),
            fence,
            fenced: false,
            relay,
            reset_replicas: false,
            wake,
        };
        worker.startup(load_changes, settings_missing).await?;
        let (tx, rx) = mpsc::channel(4096);
        let handle = tokio::spawn(worker.run(rx, shutdown));
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        Ok(handle)
    }

    /// Several nodes: this node stops being the router; its commands go to the new one.
    pub fn stop_worker(&self) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether this process runs the worker (always, on one node; on the router of several).
    pub fn is_local(&self) -> bool {
        self.local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|tx| !tx.is_closed())
    }

    pub fn link(&self) -> Option<&Arc<Link>> {
        self.link.as_ref()
    }

    fn worker(&self) -> Option<mpsc::Sender<Op>> {
        self.local.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies a command; answers once its effects are durable.
    pub async fn call(&self, cmd: Command, attach: Attach) -> Result<Reply, ApiError> {
        let mut out = self.call_many(vec![(Some(cmd), attach)]).await;
        out.pop().unwrap_or_else(|| Err(ApiError::unavailable()))
    }

    /// Applies several commands (or row-only changes, `None`) so that they share one commit
    /// when the worker is not busy elsewhere; answers each once durable.
    pub async fn call_many(
        &self,
        ops: Vec<(Option<Command>, Attach)>,
    ) -> Vec<Result<Reply, ApiError>> {
        if let Some(link) = &self.link {
            link.note_connections(&ops);
        }
        self.call_unnoted(ops).await
    }

    /// [`call_many`](Self::call_many) without counting this node's live sockets (which a
    /// node announces again to a new router).
    pub(crate) async fn call_unnoted(
        &self,
        ops: Vec<(Option<Command>, Attach)>,
    ) -> Vec<Result<Reply, ApiError>> {
        let Some(link) = &self.link else {
            return match self.worker() {
                Some(tx) => local_calls(&tx, ops)
                    .await
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(ApiError::unavailable())))
                    .collect(),
                None => ops.iter().map(|_| Err(ApiError::unavailable())).collect(),
            };
        };
        if let Some(tx) = self.worker() {
            let out = local_calls(&tx, ops.clone()).await;
            // The worker stopped before answering (the lease was lost): nothing of those was
            // committed; they go to the new router.
            if out.iter().all(Option::is_some) {
                return out.into_iter().flatten().collect();
            }
        }
        link.forward(ops).await
    }

    /// Several nodes, on the router: applies commands forwarded by another node; `None` for
    /// each the worker did not answer (it stopped: this node is no longer the router).
    pub async fn call_here(
        &self,
        ops: Vec<(Option<Command>, Attach)>,
    ) -> Vec<Option<Result<Reply, ApiError>>> {
        match self.worker() {
            Some(tx) => local_calls(&tx, ops).await,
            None => ops.iter().map(|_| None).collect(),
        }
    }

    /// Stores rows that change no routing state (e.g. a note), in order with everything else.
    pub async fn store(&self, attach: Attach) -> Result<(), ApiError> {
        let mut out = self.call_many(vec![(None, attach)]).await;
        out.pop()
            .unwrap_or_else(|| Err(ApiError::unavailable()))
            .map(|_| ())
    }

    /// Runs `f` against committed state (several nodes: on a node that is not the router, the
    /// replica of the router's state, as of at least the last change this node knows of).
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&CoreState) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        // Kept here until run: a worker that stops before running it (several nodes: the lease
        // was lost) leaves it to the replica.
        let cell = Arc::new(std::sync::Mutex::new(Some(f)));
        let take =
            |c: &std::sync::Mutex<Option<_>>| c.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = self.worker() {
            let (tx, rx) = oneshot::channel();
            let c = cell.clone();
            let op: ReadFn = Box::new(move |s: &CoreState| {
                if let Some(f) = take(&c) {
                    let _ = tx.send(f(s));
                }
            });
            if worker.send(Op::Read(op)).await.is_ok() {
                if let Ok(v) = rx.await {
                    return Ok(v);
                }
            }
        }
        let (Some(link), Some(f)) = (&self.link, take(&cell)) else {
            return Err(ApiError::unavailable());
        };
        let (tx, rx) = oneshot::channel();
        link.read(Box::new(move |s: &CoreState| {
            let _ = tx.send(f(s));
        }))
        .await?;
        rx.await.map_err(|_| ApiError::unavailable())
    }
}

/// Hands `ops` to the worker behind `tx`, each answered once durable; `None` for each the
/// worker did not answer (it stopped first).
async fn local_calls(
    tx: &mpsc::Sender<Op>,
    ops: Vec<(Option<Command>, Attach)>,
) -> Vec<Option<Result<Reply, ApiError>>> {
    let mut waits = Vec::with_capacity(ops.len());
    for (cmd, attach) in ops {
        let (reply, rx) = oneshot::channel();
        let sent = tx
            .send(Op::Command(Box::new(CommandOp { cmd, attach, reply })))
            .await;
        waits.push((sent.is_ok(), rx));
    }
    let mut out = Vec::with_capacity(waits.len());
    for (sent, rx) in waits {
        out.push(if sent { rx.await.ok() } else { None });
    }
    out
}

/// Rebuilds the engine from the store; also tells whether settings were never stored.
pub(crate) async fn load_state(
    store: &Store,
    now: Timestamp,
) -> anyhow::Result<(CoreState, Changes, bool)> {
    let loaded = store.load_state().await?;
    let settings_missing = loaded.settings.is_none();
    let settings = loaded.settings.unwrap_or_default();
    let (engine, changes) = Engine::load(
        settings,
        loaded.agents,
        loaded.queues,
        loaded.interactions,
        now,
    );
    let last_seq = loaded.event_seqs.iter().map(|(_, s)| *s).max().unwrap_or(0);
    let stream_last = loaded.event_seqs.into_iter().collect();
    // Whatever ended before this load was reported when it ended.
    let ended = engine
        .interactions()
        .filter(|i| i.ended_at.is_some())
        .map(|i| i.id.clone())
        .collect();
    Ok((
        CoreState {
            engine,
            last_seq,
            stream_last,
            ended,
        },
        changes,
        settings_missing,
    ))
}

struct Worker {
    state: CoreState,
    store: Store,
    clock: Arc<dyn Clock>,
    hub: Hub,
    metrics: Arc<Metrics>,
    crm: CrmOutlet,
    /// Today's figures per queue, for `monitor.queue` events.
    today: Today,
    directory: Arc<Directory>,
    /// Several nodes: the lease epoch every commit checks.
    fence: Option<i64>,
    /// A commit found the lease lost: the worker stops without answering what it holds.
    fenced: bool,
    relay: Option<Relay>,
    /// Several nodes: the state was reloaded from the store; the next relayed batch tells the
    /// replicas to reload too (a commit reported failed may have been stored after all).
    reset_replicas: bool,
    wake: Vec<Arc<tokio::sync::Notify>>,
}

/// A batch being applied, with the reads to run once it is committed.
#[derive(Default)]
struct Pending {
    batch: Batch,
    reads: Vec<ReadFn>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.reads.is_empty()
            && self.batch.replies.is_empty()
            && self.batch.cs.is_empty()
            && self.batch.events.is_empty()
    }
}

/// A batch whose transaction is running.
struct InFlight {
    handle: tokio::task::JoinHandle<Result<(), switchboard_store::StoreError>>,
    pending: Pending,
}

/// The answer of a command whose rows the database refuses (the input was at fault).
pub fn unstorable() -> ApiError {
    ApiError::invalid(
        "unstorable",
        "the database cannot store this (a character or a size it refuses); nothing of it was stored",
    )
}

/// How a batch's transaction ended.
enum Committed {
    Ok,
    /// The database refused a row for its data (constraint, encoding, size): not an outage.
    Refused(String),
    /// Anything else (connection lost, disk full, the task died): an outage.
    Failed(String),
    /// Several nodes: the router lease is lost; nothing was written, and this worker must stop.
    Fenced,
}

impl Committed {
    fn of(res: Result<Result<(), switchboard_store::StoreError>, tokio::task::JoinError>) -> Self {
        match res {
            Ok(Ok(())) => Committed::Ok,
            Ok(Err(switchboard_store::StoreError::Fenced(_))) => Committed::Fenced,
            Ok(Err(e)) if e.is_data_fault() => Committed::Refused(e.to_string()),
            Ok(Err(e)) => Committed::Failed(e.to_string()),
            Err(e) => Committed::Failed(e.to_string()),
        }
    }
}

/// The kinds of events whose audience includes every supervisor (the engine's `audience` and
/// `presence_audience`): their supervisors' copies are one row of the shared stream instead.
/// Offers are personal and never shared.
const SHARED_KINDS: [&str; 5] = [
    "interaction.updated",
    "message.created",
    "message.updated",
    "note.created",
    "presence.changed",
];

/// Replaces the supervisors among `to` by the shared [`FLOOR`] stream: one stored row and one
/// frame fanned out in memory to every supervisor's sockets, however many there are.
fn to_floor(engine: &Engine, to: &mut Vec<AgentId>) {
    let before = to.len();
    to.retain(|a| !engine.is_supervisor(a));
    if to.len() != before {
        to.push(AgentId(FLOOR.to_owned()));
    }
}

/// The `data` of an event still to be numbered.
enum Data {
    /// Encoded when the event was made.
    Ready(Arc<str>),
    /// `interaction.updated`: the interaction's view, made when the batch is sealed from its
    /// state at the end of the batch (once for all recipients).
    Interaction(InteractionId),
    /// `monitor.agent` / `monitor.queue`: like `Interaction`, only the last of each agent or
    /// queue in a batch is kept, made from the state the batch left.
    MonitorAgent(AgentId),
    MonitorQueue(QueueId),
}

/// An event of the batch, numbered per recipient when the batch is sealed.
struct PendingEvent {
    to: Vec<AgentId>,
    kind: &'static str,
    data: Data,
    at: Timestamp,
}

/// The engine's rows of a changeset, for the replicas of other nodes.
fn delta_of(cs: &Changeset) -> Delta {
    Delta {
        settings: cs.settings.clone(),
        agents: cs.agents.clone(),
        deleted_agents: cs.deleted_agents.clone(),
        queues: cs.queues.clone(),
        deleted_queues: cs.deleted_queues.clone(),
        interactions: cs.interactions.clone(),
    }
}

/// A batch in progress: rows and events to commit, answers to give after.
#[derive(Default)]
struct Batch {
    cs: Changeset,
    /// Several nodes: the engine's rows of `cs`, kept when `cs` goes to its commit.
    delta: Option<Delta>,
    /// Events in the order they happened; numbered by [`Worker::seal`].
    events: Vec<PendingEvent>,
    /// Interactions that left the engine in this batch, for their last `interaction.updated`.
    finished: HashMap<InteractionId, Interaction>,
    /// Sealed: numbered events, to publish once committed.
    frames: Vec<(AgentId, Arc<Frame>)>,
    replies: Vec<(Answer, Result<Reply, ApiError>)>,
    /// The command and rows of each reply, as they came: applied again, apart from the rest,
    /// when the database refuses a row of the batch (see [`Worker::isolate`]).
    redo: Vec<(Option<Command>, Attach)>,
    counters: Vec<switchboard_domain::engine::Counters>,
    agents_changed: bool,
    /// CRM events are in the changeset: wake their delivery once committed.
    crm_queued: bool,
    /// Sends or messages (maybe with media to fetch) are in the changeset: several nodes wake
    /// the router's outbox and media loops once committed.
    sends_queued: bool,
}

impl Batch {
    /// An audit entry, stored with the batch and told live to supervisors and admins
    /// (the floor stream) as `audit.created`, shown as `GET /api/v1/audit` shows it.
    fn audit(&mut self, a: AuditRecord, now: Timestamp) {
        self.events.push(PendingEvent {
            to: vec![AgentId(FLOOR.to_owned())],
            kind: "audit.created",
            data: Data::Ready(crate::runtime::hub::encode(&views::audit_entry(&a))),
            at: now,
        });
        self.cs.audit.push(a);
    }
}

impl Batch {
    /// Queues an event for the external CRM (only when its webhook is configured).
    fn crm_event(&mut self, crm: &CrmOutlet, event: CrmEventRecord) {
        if crm.enabled {
            self.cs.crm_events.push(event);
            self.crm_queued = true;
        }
    }
}

impl Worker {
    /// First commit after loading: persists the settings if new, the agents marked disconnected,
    /// and whatever expired while the server was down.
    async fn startup(
        &mut self,
        load_changes: Changes,
        settings_missing: bool,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        self.directory.set(&self.state.engine);
        let mut batch = Batch::default();
        if settings_missing {
            batch.cs.settings = Some(self.state.engine.settings().clone());
        }
        self.collect(load_changes, now, &mut batch);
        let changes = self.state.engine.tick(now);
        self.audit_presence(&changes, now, &mut batch);
        self.collect(changes, now, &mut batch);
        self.seal(&mut batch);
        batch.cs.fence = self.fence;
        if let Err(e) = self.store.commit(&batch.cs).await {
            anyhow::bail!("cannot store start-up state: {e}");
        }
        self.publish(batch);
        Ok(())
    }

    /// The worker loop, pipelined: while one batch's transaction runs (on its own task), the
    /// next batch is applied to the engine. Batches commit strictly one after another, and a
    /// batch is answered, published and its reads run only after its own commit; if a commit
    /// fails, that batch and the one applied on top of it are refused and the engine reloads.
    async fn run(mut self, mut rx: mpsc::Receiver<Op>, mut shutdown: watch::Receiver<bool>) {
        let mut next = Pending::default();
        let mut inflight: Option<InFlight> = None;
        let mut open = true;
        loop {
            if self.fenced {
                // Whatever is queued is dropped unanswered: its senders go to the new router.
                rx.close();
                break;
            }
            if inflight.is_none() && !next.is_empty() {
                let p = std::mem::take(&mut next);
                inflight = self.start_commit(p);
            }
            if !open && inflight.is_none() && next.is_empty() {
                break;
            }
            let sleep = self
                .state
                .engine
                .next_deadline()
                .map(|t| self.clock.sleep_until(t));
            let timer = async {
                match sleep {
                    Some(s) => s.await,
                    None => std::future::pending().await,
                }
            };
            // A batch's reads must see the state of its own commit, not of later batches:
            // while such a batch commits, nothing more is applied.
            let hold = inflight
                .as_ref()
                .is_some_and(|f| !f.pending.reads.is_empty());
            let committed = async {
                match inflight.as_mut() {
                    Some(f) => (&mut f.handle).await,
                    None => std::future::pending().await,
                }
            };
            let room = open && !hold && next.batch.replies.len() < MAX_BATCH;
            tokio::select! {
                biased;
                res = committed => {
                    if let Some(f) = inflight.take() {
                        let outcome = Committed::of(res);
                        self.finish(f.pending, outcome, &mut next).await;
                    }
                }
                _ = crate::runtime::clock::stopped(&mut shutdown), if open && !hold => {
                    rx.close();
                    while let Ok(op) = rx.try_recv() {
                        self.apply_op(op, &mut next);
                    }
                    open = false;
                }
                op = rx.recv(), if room => {
                    match op {
                        Some(op) => {
                            self.apply_op(op, &mut next);
                            while next.batch.replies.len() < MAX_BATCH {
                                match rx.try_recv() {
                                    Ok(op) => self.apply_op(op, &mut next),
                                    Err(_) => break,
                                }
                            }
                        }
                        None => open = false,
                    }
                }
                _ = timer, if !hold => {
                    let now = self.clock.now();
                    let changes = self.state.engine.tick(now);
                    self.audit_presence(&changes, now, &mut next.batch);
                    self.collect(changes, now, &mut next.batch);
                }
            }
        }
        tracing::info!("core service stopped");
    }

    /// Applies one command to the engine (or queues one read) into the pending batch.
    fn apply_op(&mut self, op: Op, next: &mut Pending) {
        match op {
            Op::Read(f) => next.reads.push(f),
            Op::Command(op) => {
                let CommandOp { cmd, attach, reply } = *op;
                let now = self.clock.now();
                next.batch.redo.push((cmd.clone(), attach.clone()));
                let result = self.apply_command(cmd, attach, now, &mut next.batch);
                next.batch.replies.push((reply, result));
            }
        }
    }

    /// Applies a command (or rows only) to the engine and its rows and events to `batch`.
    fn apply_command(
        &mut self,
        cmd: Option<Command>,
        attach: Attach,
        now: Timestamp,
        batch: &mut Batch,
    ) -> Result<Reply, ApiError> {
        let Some(cmd) = cmd else {
            self.attach(attach, &Reply::Done, now, batch);
            return Ok(Reply::Done);
        };
        // A user's own presence or stop-new change is audited by its handler, with `before`.
        let by_user = matches!(
            cmd,
            Command::SetPresence { .. }
                | Command::SetAgentPresence { .. }
                | Command::SetStopNew { .. }
        );
        let out = self.state.engine.apply(cmd, now);
        let result = out.result.map_err(ApiError::from);
        if let Ok(r) = &result {
            self.attach(attach, r, now, batch);
        }
        if !by_user {
            self.audit_presence(&out.changes, now, batch);
        }
        self.collect(out.changes, now, batch);
        result
    }

    /// the presence changes the engine made itself (a missed or rejected offer, a lost
    /// connection's grace period running out) are audited in the commit that makes them.
    fn audit_presence(&self, changes: &Changes, now: Timestamp, batch: &mut Batch) {
        let mut seen = HashSet::new();
        for n in &changes.notices {
            if let Event::PresenceChanged { agent } = &n.event {
                if let Some(a) = self
                    .state
                    .engine
                    .agent(agent)
                    .filter(|_| seen.insert(agent))
                {
                    batch.audit(records::system_presence_audit(a, now), now);
                }
            }
        }
    }

    /// Starts committing a batch on its own task; a batch with nothing to write is finished at
    /// once (its reads see committed state: nothing is in flight).
    fn start_commit(&mut self, mut p: Pending) -> Option<InFlight> {
        self.seal(&mut p.batch);
        if p.batch.cs.is_empty() {
            self.publish(std::mem::take(&mut p.batch));
            for f in p.reads {
                f(&self.state);
            }
            return None;
        }
        let mut cs = std::mem::take(&mut p.batch.cs);
        if self.relay.is_some() {
            p.batch.delta = Some(delta_of(&cs));
        }
        cs.fence = self.fence;
        let store = self.store.clone();
        // The changeset is encoded, written and dropped off the worker's path.
        let handle = tokio::spawn(async move { store.commit(&cs).await });
        Some(InFlight { handle, pending: p })
    }

    /// After a batch's commit: publish and answer it; when the database refused a row of it,
    /// find the commands whose rows it refuses (see [`isolate`](Self::isolate)); after any other
    /// failure refuse it (and the batch applied on top of it) and reload the engine.
    async fn finish(&mut self, mut p: Pending, outcome: Committed, next: &mut Pending) {
        match outcome {
            Committed::Ok => {
                self.metrics
                    .commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.publish(std::mem::take(&mut p.batch));
                for f in p.reads {
                    f(&self.state);
                }
                return;
            }
            Committed::Refused(e) => {
                self.metrics
                    .commit_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(error = %e, "the store refused a row of the batch; committing its commands apart");
                return self.isolate(p, next).await;
            }
            Committed::Failed(e) => {
                tracing::error!(error = %e, "commit failed; reloading state from the store");
            }
            Committed::Fenced => {
                tracing::error!(
                    epoch = self.fence,
                    "the router lease is lost: nothing more is committed here; stopping the core worker"
                );
                self.fenced = true;
                // Answers and reads are dropped: the callers send them to the new router.
                drop(p);
                drop(std::mem::take(next));
                return;
            }
        }
        self.metrics
            .commit_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let later = std::mem::take(next);
        let mut reads = p.reads;
        reads.extend(later.reads);
        for batch in [p.batch, later.batch] {
            for (reply, result) in batch.replies {
                let answer = match result {
                    Ok(_) => Err(ApiError::unavailable()),
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
        }
        self.reload(&mut next.batch).await;
        for f in reads {
            f(&self.state);
        }
    }

    /// Memory must not stay ahead of the database: reloads the engine from the store, trying
    /// until it works. Live connections are not stored, so each agent keeps the ones it had;
    /// what that changes (and any routing it allows) goes into `batch`, to be committed.
    async fn reload(&mut self, batch: &mut Batch) {
        let connections: Vec<(AgentId, u32)> = self
            .state
            .engine
            .agents()
            .map(|a| (a.id.clone(), self.state.engine.connections_of(&a.id)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let mut wait = std::time::Duration::from_millis(100);
        loop {
            match load_state(&self.store, self.clock.now()).await {
                Ok((state, _, _)) => {
                    self.state = state;
                    self.reset_replicas = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "reload after a failed commit failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(2));
                }
            }
        }
        let now = self.clock.now();
        for (agent, n) in connections {
            for _ in 0..n {
                let out = self.state.engine.apply(
                    Command::Connected {
                        agent: agent.clone(),
                    },
                    now,
                );
                self.collect(out.changes, now, batch);
            }
        }
        self.directory.set(&self.state.engine);
    }

    /// The database refused a row of batch `p` for its data (a constraint, an encoding, a
    /// size), not for an outage. The engine is reloaded, and the commands of `p` and of the
    /// batch applied on top of it are applied and committed again, in order, in groups that
    /// are halved around each refusal: a command refused alone fails with 422 and changes
    /// nothing (the engine goes back to the state before it), every other one is committed
    /// and answered as usual. An outage meanwhile refuses the rest with 503, as always.
    async fn isolate(&mut self, p: Pending, next: &mut Pending) {
        type Redo = (Answer, Option<Command>, Attach);
        fn redo(batch: Batch) -> Vec<Redo> {
            batch
                .replies
                .into_iter()
                .zip(batch.redo)
                .map(|((reply, _), (cmd, attach))| (reply, cmd, attach))
                .collect()
        }
        let later = std::mem::take(next);
        let mut reads = p.reads;
        reads.extend(later.reads);
        // (commands, known to hold a refused row)
        let mut groups: std::collections::VecDeque<(Vec<Redo>, bool)> =
            [(redo(p.batch), true), (redo(later.batch), false)].into();
        let mut reconnected = Batch::default();
        self.reload(&mut reconnected).await;
        self.seal(&mut reconnected);
        reconnected.cs.fence = self.fence;
        let mut outage = match self.store.commit(&reconnected.cs).await {
            Ok(()) => {
                self.publish(reconnected);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        while let Some((mut group, known_bad)) = groups.pop_front() {
            if group.is_empty() {
                continue;
            }
            if outage.is_some() {
                for (reply, _, _) in group {
                    let _ = reply.send(Err(ApiError::unavailable()));
                }
                continue;
            }
            if known_bad && group.len() > 1 {
                let right = group.split_off(group.len() / 2);
                groups.push_front((right, false));
                groups.push_front((group, false));
                continue;
            }
            let saved = self.state.clone();
            let now = self.clock.now();
            let mut batch = Batch::default();
            let mut results = Vec::with_capacity(group.len());
            for (_, cmd, attach) in &group {
                results.push(self.apply_command(cmd.clone(), attach.clone(), now, &mut batch));
            }
            self.seal(&mut batch);
            batch.cs.fence = self.fence;
            match Committed::of(Ok(self.store.commit(&batch.cs).await)) {
                Committed::Ok => {
                    self.metrics
                        .commits
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    batch.replies = group
                        .into_iter()
                        .map(|(reply, _, _)| reply)
                        .zip(results)
                        .collect();
                    self.publish(batch);
                }
                Committed::Refused(e) => {
                    self.metrics
                        .commit_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.state = saved;
                    if group.len() == 1 {
                        tracing::warn!(error = %e, "the store refuses the rows of a command; it fails alone");
                        for (reply, _, _) in group {
                            let _ = reply.send(Err(unstorable()));
                        }
                    } else {
                        let right = group.split_off(group.len() / 2);
                        groups.push_front((right, false));
                        groups.push_front((group, false));
                    }
                }
                Committed::Failed(e) => {
                    self.metrics
                        .commit_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!(error = %e, "commit failed; reloading state from the store");
                    for (reply, _, _) in group {
                        let _ = reply.send(Err(ApiError::unavailable()));
                    }
                    outage = Some(e);
                }
                Committed::Fenced => {
                    tracing::error!(
                        epoch = self.fence,
                        "the router lease is lost: stopping the core worker"
                    );
                    self.fenced = true;
                    return;
                }
            }
        }
        if outage.is_some() {
            self.reload(&mut next.batch).await;
        }
        for f in reads {
            f(&self.state);
        }
    }

    /// After a successful commit: counters, live events, answers.
    fn publish(&mut self, mut batch: Batch) {
        for c in &batch.counters {
            self.metrics.add(c);
        }
        if batch.agents_changed {
            self.directory.set(&self.state.engine);
        }
        if batch.crm_queued {
            self.crm.wake.notify_one();
        }
        if batch.sends_queued {
            for w in &self.wake {
                w.notify_one();
            }
        }
        if let Some(relay) = &self.relay {
            let delta = batch.delta.take().unwrap_or_else(|| delta_of(&batch.cs));
            if !batch.frames.is_empty()
                || !batch.replies.is_empty()
                || !delta.is_empty()
                || self.reset_replicas
            {
                use std::sync::atomic::Ordering;
                let commit = relay.committed.load(Ordering::Acquire) + 1;
                let _ = relay.tx.send(RelayBatch {
                    commit,
                    reset: std::mem::take(&mut self.reset_replicas),
                    delta,
                    frames: batch.frames.clone(),
                });
                relay.committed.store(commit, Ordering::Release);
            }
        }
        self.metrics.events.fetch_add(
            batch.frames.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        for (user, frame) in batch.frames {
            self.hub.publish(&user, frame);
        }
        for (reply, result) in batch.replies {
            let _ = reply.send(result);
        }
    }

    /// Queues an event for `to`; its `data` is encoded here, once for every recipient.
    fn event(
        &mut self,
        batch: &mut Batch,
        to: Vec<AgentId>,
        kind: &'static str,
        data: &Value,
        now: Timestamp,
    ) {
        self.event_encoded(batch, to, kind, crate::runtime::hub::encode(data), now);
    }

    /// [`event`](Self::event) with `data` already encoded.
    fn event_encoded(
        &mut self,
        batch: &mut Batch,
        to: Vec<AgentId>,
        kind: &'static str,
        data: Arc<str>,
        now: Timestamp,
    ) {
        if to.is_empty() {
            return;
        }
        batch.events.push(PendingEvent {
            to,
            kind,
            data: Data::Ready(data),
            at: now,
        });
    }

    /// Closes a batch before its commit: `interaction.updated` is kept only as the last one of
    /// each interaction for each recipient in the batch (at that place, with the interaction as
    /// the batch left it, its view made and encoded once), then every event is numbered per
    /// recipient and becomes a stored row and a frame, both sharing the encoded `data`.
    fn seal(&mut self, batch: &mut Batch) {
        let mut events = std::mem::take(&mut batch.events);
        if events.is_empty() {
            return;
        }
        // What every supervisor sees is stored once, in the shared stream (see `to_floor`).
        for e in &mut events {
            if SHARED_KINDS.contains(&e.kind) {
                to_floor(&self.state.engine, &mut e.to);
            }
        }
        let mut last: HashMap<(&InteractionId, &AgentId), usize> = HashMap::new();
        let mut last_monitor: HashMap<(&'static str, &str), usize> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            match &e.data {
                Data::Interaction(id) => {
                    for user in &e.to {
                        last.insert((id, user), i);
                    }
                }
                Data::MonitorAgent(id) => {
                    last_monitor.insert((e.kind, id.as_str()), i);
                }
                Data::MonitorQueue(id) => {
                    last_monitor.insert((e.kind, id.as_str()), i);
                }
                Data::Ready(_) => {}
            }
        }
        let mut views: HashMap<&InteractionId, Option<Arc<str>>> = HashMap::new();
        let engine = &self.state.engine;
        let mut rows = Vec::with_capacity(events.len() * 2);
        for (i, e) in events.iter().enumerate() {
            let (data, only_last) = match &e.data {
                Data::Ready(d) => (d.clone(), None),
                Data::Interaction(id) => {
                    let view = views.entry(id).or_insert_with(|| {
                        engine
                            .interaction(id)
                            .or_else(|| batch.finished.get(id))
                            .map(|it| {
                                crate::runtime::hub::encode(&views::interaction(it, engine, e.at))
                            })
                    });
                    match view {
                        Some(v) => (v.clone(), Some(id)),
                        None => continue,
                    }
                }
                Data::MonitorAgent(id) => {
                    if last_monitor.get(&(e.kind, id.as_str())) != Some(&i) {
                        continue;
                    }
                    match engine.agent(id) {
                        Some(a) => (
                            crate::runtime::hub::encode(&monitor::agent(engine, a)),
                            None,
                        ),
                        None => continue,
                    }
                }
                Data::MonitorQueue(id) => {
                    if last_monitor.get(&(e.kind, id.as_str())) != Some(&i) {
                        continue;
                    }
                    match engine.queue(id) {
                        Some(q) => (
                            crate::runtime::hub::encode(&monitor::queue(
                                engine,
                                q,
                                self.today.get(id),
                                e.at,
                            )),
                            None,
                        ),
                        None => continue,
                    }
                }
            };
            for user in &e.to {
                if only_last.is_some_and(|id| last.get(&(id, user)) != Some(&i)) {
                    continue;
                }
                rows.push((user, e.kind, data.clone(), e.at));
            }
        }
        batch.cs.encoded_events.reserve(rows.len());
        batch.frames.reserve(rows.len());
        for (user, kind, data, at) in rows {
            self.state.last_seq += 1;
            let seq = self.state.last_seq;
            self.state.stream_last.insert(user.clone(), seq);
            batch.cs.encoded_events.push(EventRecord {
                user_id: user.clone(),
                seq,
                kind: kind.to_owned(),
                data: data.clone(),
                created_at: at,
            });
            batch
                .frames
                .push((user.clone(), Arc::new(Frame::new(seq, kind, data))));
        }
        batch.finished.clear();
    }

    fn attach(&mut self, attach: Attach, reply: &Reply, now: Timestamp, batch: &mut Batch) {
        if let Some(id) = attach.command_id {
            let result = serde_json::to_string(reply).unwrap_or_default();
            batch.cs.commands.push(switchboard_store::CommandRecord {
                id,
                result,
                created_at: now,
            });
        }
        batch.sends_queued |= !attach.outbox.is_empty() || !attach.messages.is_empty();
        batch.cs.conversations.extend(attach.conversations);
        batch.cs.outbox.extend(attach.outbox);
        batch.cs.outbox_updates.extend(attach.outbox_updates);
        batch.cs.pending_statuses.extend(attach.pending_statuses);
        batch.cs.applied_statuses.extend(attach.applied_statuses);
        batch.cs.raw_webhooks.extend(attach.raw_webhooks);
        batch.cs.contacts.extend(attach.contacts);
        for e in attach.crm_events {
            batch.crm_event(&self.crm, e);
        }
        for q in attach.monitor_queues {
            batch.events.push(PendingEvent {
                to: vec![AgentId(FLOOR.to_owned())],
                kind: "monitor.queue",
                data: Data::MonitorQueue(q),
                at: now,
            });
        }
        for mut a in attach.audit {
            if a.actor_name.is_none() {
                a.actor_name = a
                    .actor_id
                    .as_ref()
                    .and_then(|id| self.state.engine.agent(id))
                    .map(|x| x.display_name.clone());
            }
            batch.audit(a, now);
        }
        for v in attach.viewers {
            if let Some(data) = v.agents {
                let engine = &self.state.engine;
                let to = engine
                    .interaction(&v.interaction)
                    .map(|i| engine.audience(i))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| !engine.is_supervisor(a))
                    .collect();
                self.event(batch, to, "interaction.viewers", &data, now);
            }
            if let Some(data) = v.supervisors {
                let to = vec![AgentId(FLOOR.to_owned())];
                self.event(batch, to, "interaction.viewers", &data, now);
            }
        }
        for (u, interaction) in attach.message_updates {
            let to = interaction
                .as_ref()
                .and_then(|i| self.state.engine.interaction(i))
                .map(|i| self.state.engine.audience(i))
                .unwrap_or_default();
            let mut data = json!({
                "id": u.id,
                "interaction_id": interaction,
                "status": u.status,
                "error": u.error,
                "updated_at": views::ts(u.updated_at),
            });
            // What did not change is left out (a null would tell a client to drop it).
            if let Some(w) = &u.wa_message_id {
                data["wa_message_id"] = json!(w);
            }
            if let Some(p) = &u.payload {
                data["payload"] = p.clone();
            }
            self.event(batch, to, "message.updated", &data, now);
            batch.cs.message_updates.push(u);
        }
        for mut m in attach.messages {
            if m.interaction_id.is_none() {
                if let Reply::Inbound { interaction_id, .. } = reply {
                    m.interaction_id = Some(interaction_id.clone());
                }
            }
            let mut to = m
                .interaction_id
                .as_ref()
                .and_then(|i| self.state.engine.interaction(i))
                .map(|i| self.state.engine.audience(i))
                .unwrap_or_default();
            // A whisper also reaches the supervisor who wrote it.
            if let Some(author) = m.author_id.as_ref().filter(|_| m.kind == "whisper") {
                if !to.contains(author) {
                    to.push(author.clone());
                }
            }
            let data = Arc::from(views::message_event_json(&m));
            self.event_encoded(batch, to, "message.created", data, now);
            batch.cs.messages.push(m);
        }
        for n in attach.notes {
            let to = self
                .state
                .engine
                .interaction(&n.interaction_id)
                .map(|i| self.state.engine.audience(i))
                .unwrap_or_else(|| vec![n.author_id.clone()]);
            let data = views::note(&n);
            self.event(batch, to, "note.created", &data, now);
            batch.cs.notes.push(n);
        }
    }

    /// Turns engine changes into rows and events.
    fn collect(&mut self, mut changes: Changes, now: Timestamp, batch: &mut Batch) {
        // Reports: the step's facts, in order, committed with the change they describe.
        batch.cs.facts.append(&mut changes.facts);
        let engine = &self.state.engine;
        if !changes.agents.is_empty() || !changes.deleted_agents.is_empty() {
            batch.agents_changed = true;
        }
        // The engine's rows: what a restart loads, and what other nodes' replicas apply.
        let mut rows = Delta::default();
        rows.add(engine, &changes);
        let cs = &mut batch.cs;
        cs.agents.append(&mut rows.agents);
        cs.deleted_agents.append(&mut rows.deleted_agents);
        cs.queues.append(&mut rows.queues);
        cs.deleted_queues.append(&mut rows.deleted_queues);
        if let Some(settings) = rows.settings {
            cs.settings = Some(settings);
        }
        cs.interactions.append(&mut rows.interactions);
        let finished: HashMap<&InteractionId, &Interaction> =
            changes.finished.iter().map(|i| (&i.id, i)).collect();
        for it in &changes.finished {
            batch.cs.interactions.push(it.clone());
            let last_agent = it
                .participants
                .iter()
                .rev()
                .find(|p| p.role == ParticipantRole::Owner)
                .map(|p| p.agent_id.clone());
            batch.cs.conversations.push(ConversationRecord {
                id: it.conversation_id.clone(),
                channel_id: it.channel_id.clone(),
                wa_id: it.customer.wa_id.clone(),
                customer_name: it.customer.name.clone(),
                contact_id: it.contact_id.clone(),
                last_inbound_at: it.last_inbound_at,
                last_agent_id: last_agent,
                created_at: it.created_at,
            });
            // a handled interaction's chat log is saved as a closed case.
            if it.accepted_at.is_some() {
                let case = records::closed_case(it, engine, now);
                let data = json!({"case": records::case_json(&case)});
                batch.cs.cases.push(case);
                batch.crm_event(
                    &self.crm,
                    records::crm_event(records::CASE_CREATED, data, now),
                );
            }
        }
        // an interaction that ended is reported to the external CRM once, in the commit
        // that ends it (whether it stays for wrap-up or is done at once).
        let ended_now = changes
            .interactions
            .iter()
            .filter_map(|id| engine.interaction(id))
            .chain(changes.finished.iter())
            .filter(|it| it.ended_at.is_some());
        for it in ended_now {
            if self.state.ended.insert(it.id.clone()) {
                let data = records::interaction_ended_data(it, engine);
                batch.crm_event(
                    &self.crm,
                    records::crm_event(records::INTERACTION_ENDED, data, now),
                );
            }
        }
        for it in &changes.finished {
            self.state.ended.remove(&it.id);
            batch.finished.insert(it.id.clone(), it.clone());
        }
        let mut events: Vec<PendingEvent> = Vec::new();
        let ready = |to: Vec<AgentId>, kind: &'static str, data: &Value| PendingEvent {
            to,
            kind,
            data: Data::Ready(crate::runtime::hub::encode(data)),
            at: now,
        };
        for sm in &changes.system_messages {
            let m = MessageRecord {
                id: new_id("msg", now),
                conversation_id: sm.conversation.clone(),
                interaction_id: Some(sm.interaction.clone()),
                direction: "system".into(),
                author_id: None,
                kind: "system".into(),
                body: Some(sm.text.clone()),
                payload: json!({}),
                wa_message_id: None,
                status: "stored".into(),
                error: None,
                created_at: now,
                updated_at: now,
            };
            let to = engine
                .interaction(&sm.interaction)
                .or_else(|| finished.get(&sm.interaction).copied())
                .map(|i| engine.audience(i))
                .unwrap_or_default();
            events.push(ready(to, "message.created", &views::message(&m)));
            batch.cs.messages.push(m);
        }
        for Notice { to, event } in &changes.notices {
            let (kind, data) = match event {
                Event::OfferCreated { interaction, agent } => {
                    let Some(it) = engine.interaction(interaction) else {
                        continue;
                    };
                    ("offer.created", views::offer_event(it, agent, engine, now))
                }
                Event::OfferWithdrawn {
                    interaction,
                    agent,
                    reason,
                } => (
                    "offer.withdrawn",
                    json!({"interaction_id": interaction, "agent_id": agent, "reason": reason}),
                ),
                Event::InteractionUpdated { interaction } => {
                    // Its view is made when the batch is sealed (see `seal`).
                    events.push(PendingEvent {
                        to: to.clone(),
                        kind: "interaction.updated",
                        data: Data::Interaction(interaction.clone()),
                        at: now,
                    });
                    continue;
                }
                Event::PresenceChanged { agent } => {
                    let Some(a) = engine.agent(agent) else {
                        continue;
                    };
                    let mut data = views::agent_now(engine, a, None);
                    // set by someone else (a supervisor): the agent's desktop says who.
                    if let Some(by) = changes.presence_set_by.get(agent) {
                        data["changed_by"] = json!({
                            "id": by,
                            "name": engine.agent(by).map(|b| b.display_name.clone()),
                        });
                    }
                    ("presence.changed", data)
                }
            };
            events.push(ready(to.clone(), kind, &data));
        }
        // The board: every agent whose state changed, and every queue whose waiting
        // list, available agents or figures may have changed with it.
        let mut agents: BTreeSet<&AgentId> = changes.agents.iter().collect();
        let mut queues: BTreeSet<QueueId> = changes.queues.iter().cloned().collect();
        for id in &changes.interactions {
            if let Some(it) = engine.interaction(id) {
                queues.insert(it.queue_id.clone());
                agents.extend(it.participants.iter().map(|p| &p.agent_id));
            }
        }
        for it in &changes.finished {
            queues.insert(it.queue_id.clone());
        }
        for a in &agents {
            if let Some(agent) = engine.agent(a) {
                queues.extend(agent.queue_ids.iter().cloned());
            }
        }
        let floor = || vec![AgentId(FLOOR.to_owned())];
        for a in agents {
            events.push(PendingEvent {
                to: floor(),
                kind: "monitor.agent",
                data: Data::MonitorAgent(a.clone()),
                at: now,
            });
        }
        for q in queues {
            events.push(PendingEvent {
                to: floor(),
                kind: "monitor.queue",
                data: Data::MonitorQueue(q),
                at: now,
            });
        }
        batch
            .events
            .extend(events.into_iter().filter(|e| !e.to.is_empty()));
        batch.counters.push(changes.counters);
    }
}
