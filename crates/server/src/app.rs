//! Assembling the server (wiring only; nothing imports this module): `App::build(config)` connects the store, creates the first admin,
//! starts the core service, and `App::run(listener, shutdown)` serves until told to stop.
//!
//! Tests bind port 0 and pass their own shutdown future; the binary passes ctrl-c/SIGTERM.

use crate::http::AppState;
use crate::runtime::clock::Clock;
use crate::runtime::cluster::{Link, Manager};
use crate::runtime::config::Config;
use crate::runtime::core::{Core, CrmOutlet, Directory, WorkerParts};
use crate::runtime::error::ApiError;
use crate::runtime::hub::Hub;
use crate::runtime::ids::new_id;
use crate::runtime::locks::KeyedLocks;
use crate::runtime::metrics::Metrics;
use crate::runtime::monitor::Today;
use crate::services::auth::{Limits, LoginLimiter, PasswordHasher, TrustedProxies};
use crate::services::ingest::{InboundMessage, Ingest, Ingested};
use crate::services::{crm, maintenance, monitor, templates, whatsapp, Base};
use axum::extract::FromRef;
use std::future::Future;
use std::sync::Arc;
use switchboard_domain::*;
use switchboard_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A built server, ready to run.
pub struct App {
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    core_task: tokio::task::JoinHandle<()>,
}

impl App {
    /// Connects to `config.database.url` and builds the server.
    pub async fn build(
        config: Config,
        clock: Arc<dyn Clock>,
        admin_password: Option<String>,
    ) -> anyhow::Result<App> {
        let store = Store::connect(&config.database.url).await?;
        App::build_with_store(config, clock, store, admin_password).await
    }

    /// Builds the server on an already connected store.
    pub async fn build_with_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Store,
        admin_password: Option<String>,
    ) -> anyhow::Result<App> {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let hub = Hub::default();
        let metrics = Arc::new(Metrics::default());
        let crm = Arc::new(crm::Crm::new(config.crm.clone())?);
        let today = Today::default();
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let media_wake = Arc::new(tokio::sync::Notify::new());
        let crm_outlet = CrmOutlet {
            enabled: crm.webhooks_enabled(),
            wake: crm.wake.clone(),
        };
        let viewers = crate::runtime::viewers::Viewers::default();
        let (core, core_task) = if config.cluster.enabled() {
            // Several nodes: this node becomes the router if the lease is free, and
            // otherwise forwards to the router; the manager keeps the lease on a timer.
            let directory = Arc::new(Directory::default());
            let link = Link::connect(
                &config.cluster,
                store.clone(),
                clock.clone(),
                metrics.clone(),
                hub.clone(),
                directory.clone(),
                viewers.clone(),
            )
            .await?;
            let core = Core::clustered(link.clone(), directory);
            let parts = WorkerParts {
                store: store.clone(),
                clock: clock.clone(),
                hub: hub.clone(),
                metrics: metrics.clone(),
                crm: crm_outlet,
                today: today.clone(),
                relay: None,
                wake: vec![outbox_wake.clone(), media_wake.clone()],
            };
            let mut manager = Manager::new(link, core.clone(), parts, &config.cluster).await?;
            manager.tick().await;
            (core, tokio::spawn(manager.run(shutdown_rx.clone())))
        } else {
            Core::start(
                store.clone(),
                clock.clone(),
                hub.clone(),
                metrics.clone(),
                crm_outlet,
                today.clone(),
                shutdown_rx.clone(),
            )
            .await?
        };
        let channels = Arc::new(whatsapp::Channels::load(&store).await?);
        let graph = switchboard_channels::GraphClient::new(
            &config.whatsapp.graph_api_base,
            std::time::Duration::from_secs(u64::from(config.whatsapp.request_timeout_s.max(1))),
        )
        .map_err(|e| anyhow::anyhow!("cannot build the WhatsApp client: {e}"))?;
        let limiter = Arc::new(LoginLimiter::new(
            Limits {
                per_source: config.server.login_max_failures,
                per_user: config.server.login_max_failures_per_user,
                window_s: config.server.login_window_s,
            },
            TrustedProxies::parse(&config.server.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?,
        ));
        let hasher = Arc::new(PasswordHasher::new(
            config.server.password_hash_workers as usize,
            config.server.password_hash_queue as usize,
            std::time::Duration::from_millis(u64::from(config.server.password_hash_wait_ms)),
        ));
        let state = AppState {
            channels,
            graph,
            outbox_wake,
            outbox_attempts: Arc::new(watch::Sender::new(0)),
            blobs: whatsapp::media::Blobs::new(&config.media.dir),
            media_wake,
            crm,
            today,
            template_sync_wake: Arc::new(tokio::sync::Notify::new()),
            viewers,
            core,
            store,
            hub,
            metrics,
            clock,
            config: Arc::new(config),
            limiter,
            hasher,
            locks: Arc::new(KeyedLocks::default()),
            shutdown: shutdown_rx,
        };
        if let Some(pw) = admin_password.filter(|p| !p.is_empty()) {
            bootstrap_admin(&state, pw).await?;
        }
        Ok(App {
            state,
            shutdown_tx,
            core_task,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> axum::Router {
        crate::http::router(self.state.clone())
    }

    /// The one way customer messages enter Switchboard (the WhatsApp channel calls it).
    pub async fn ingest(&self, msg: InboundMessage) -> Result<Ingested, ApiError> {
        crate::services::ingest::ingest(&Ingest::from_ref(&self.state), msg).await
    }

    /// Serves until `shutdown` completes, then stops accepting, closes live sockets, lets the
    /// core service finish what is queued, and returns.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router();
        let App {
            state,
            shutdown_tx,
            core_task,
        } = self;
        let mut services = JoinSet::new();
        match state.core.link() {
            // Several nodes: the background loops run on the router only, so nothing is sent,
            // fetched, delivered, synced or pruned twice.
            Some(link) => {
                services.spawn(on_router(state.clone(), link.role()));
                services.spawn(refresh_channels(state.clone()));
                services.spawn(share_logins(state.limiter.clone(), link.clone()));
                if let Some(changes) = link.viewers_changes() {
                    let viewing = crate::services::viewing::Viewing::from_ref(&state);
                    services.spawn(viewing.follow_other_nodes(changes));
                }
            }
            None => spawn_background(&state, &mut services),
        }
        let tx = shutdown_tx.clone();
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let result = serve.await;
        let _ = shutdown_tx.send(true);
        while services.join_next().await.is_some() {}
        let _ = core_task.await;
        state.store.close().await;
        tracing::info!("server stopped");
        result.map_err(Into::into)
    }
}

/// The background loops; each gets only its own handles, and stops with `state.shutdown`.
fn spawn_background(state: &AppState, services: &mut JoinSet<()>) {
    services.spawn(maintenance::run(FromRef::from_ref(state)));
    services.spawn(whatsapp::outbox::run(FromRef::from_ref(state)));
    services.spawn(whatsapp::media::run(FromRef::from_ref(state)));
    services.spawn(crm::delivery::run(FromRef::from_ref(state)));
    services.spawn(monitor::run(
        FromRef::from_ref(state),
        state.shutdown.clone(),
    ));
    services.spawn(templates::run(
        FromRef::from_ref(state),
        state.config.whatsapp.template_sync_interval_s,
    ));
}

/// Several nodes: runs the background loops while this node is the router (`role` holds its
/// lease epoch), stopping them when it stops being the router or the server stops.
async fn on_router(state: AppState, mut role: watch::Receiver<Option<i64>>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            r = role.wait_for(Option::is_some) => if r.is_err() { return },
            _ = crate::runtime::clock::stopped(&mut shutdown) => return,
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut term = state.clone();
        term.shutdown = stop_rx;
        let mut services = JoinSet::new();
        spawn_background(&term, &mut services);
        tokio::select! {
            _ = role.wait_for(Option::is_none) => {}
            _ = crate::runtime::clock::stopped(&mut shutdown) => {}
        }
        let _ = stop.send(true);
        while services.join_next().await.is_some() {}
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Several nodes: channels added, changed or removed through another node are read again
/// every second (sends on the router, webhooks on every node).
async fn refresh_channels(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = crate::runtime::clock::stopped(&mut shutdown) => return,
        }
        if let Err(e) = state.channels.refresh(&state.store).await {
            tracing::warn!(error = %e, "cannot read the channels again");
        }
    }
}

async fn bootstrap_admin(state: &AppState, password: String) -> anyhow::Result<()> {
    if state.store.count_users().await? > 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let config = AgentConfig {
        id: AgentId(new_id("usr", now)),
        display_name: "Administrator".into(),
        role: Role::Admin,
        capacity: DEFAULT_CAPACITY,
        can_reject: true,
        queue_ids: Vec::new(),
    };
    let hash = state
        .hasher
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("cannot hash the admin password: {e:?}"))?;
    let audit = vec![crate::services::audit::entry(
        now,
        None,
        crate::services::audit::AGENT_CREATED,
        ("agent", config.id.as_str()),
        None,
        Some(crate::services::audit::agent_value(&config, Some("admin"))),
    )];
    crate::services::users::create_user(&Base::from_ref(state), config, "admin", &hash, now, audit)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!("created the admin user");
    Ok(())
}

/// Several nodes: every node's login limiter counts the failures of every node (a client
/// spreading its guesses over the nodes meets the same limit), through `<prefix>.logins`.
async fn share_logins(limiter: Arc<LoginLimiter>, link: Arc<Link>) {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Said {
        node: String,
        outcome: crate::services::auth::LoginOutcome,
    }
    let mut heard = match link.listen("logins").await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "login failures are counted on this node only");
            return;
        }
    };
    let (tx, mut mine) = tokio::sync::mpsc::unbounded_channel();
    limiter.share_with(tx);
    loop {
        tokio::select! {
            Some(outcome) = mine.recv() => {
                let said = Said { node: link.node_id.clone(), outcome };
                if let Ok(payload) = serde_json::to_vec(&said) {
                    link.broadcast("logins", payload).await;
                }
            }
            msg = futures_util::StreamExt::next(&mut heard) => {
                let Some(msg) = msg else { return };
                match serde_json::from_slice::<Said>(&msg.payload) {
                    Ok(said) if said.node != link.node_id => limiter.count_remote(&said.outcome),
                    _ => {}
                }
            }
        }
    }
}
