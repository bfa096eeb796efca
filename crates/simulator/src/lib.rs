//! A simulated WhatsApp Business Cloud API and simulated WhatsApp customers.
//!
//! The simulator stands where `graph.facebook.com` and Meta's webhook sender stand, so Switchboard
//! can be run, demonstrated and tested on one machine:
//! - a fake Cloud API ([`Simulator::start`]) that takes sends, media and template listings like the
//!   real one (same JSON, same error codes, same limits), and reports signed status webhooks;
//! - [`Customer`]s whose every action becomes a signed webhook in Meta's envelope, and a chatty
//!   crowd of them for the demo ([`SimulatorHandle::start_chatty`]);
//! - [`FaultControl`] to make it misbehave the ways WhatsApp does (5xx, rate limits, duplicate and
//!   out-of-order webhooks, …);
//! - introspection for tests: everything received, awaitable without sleeping.
//!
//! It speaks only the public protocol: it must never depend on a Switchboard crate, and builds and
//! parses the Cloud API JSON itself.

mod chatty;
mod clock;
mod config;
mod customer;
mod error;
mod faults;
mod ids;
mod photo;
mod send;
mod server;
mod standalone;
mod state;
mod templates;
mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use chatty::{chatty_customer, ChattyConfig, ChattyHandle, TINY_PNG};
pub use clock::SimClock;
pub use config::{
    ErrorDelivery, PairRate, PhoneNumberConfig, SimulatorConfig, StatusTimings,
    DEFAULT_ACCESS_TOKEN, DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID,
    GRAPH_API_VERSION,
};
pub use customer::{ContactCard, Customer, CustomerMessage};
pub use error::{GraphError, SimError};
pub use faults::{FaultControl, Faults, SendFailure};
pub use photo::{photo_png, PHOTO_SIZE};
pub use standalone::{run_standalone, run_standalone_until, StandaloneConfig};
pub use state::{
    DeliveredWebhook, MarkRead, MediaInfo, MediaOrigin, RecordedSend, SendOutcome, SimEvent,
};
pub use templates::{
    default_templates, HeaderFormat, ParameterFormat, Template, TemplateButton, TemplateCategory,
    TemplateComponent, TemplateStatus,
};
pub use webhook::{
    message_envelope, sign, status_envelope, status_object, verify_signature, webhook_envelope,
    Metadata, Pricing, SIGNATURE_HEADER,
};

use state::Shared;

/// Locks a mutex, ignoring poisoning: the simulator's state stays usable after a panic elsewhere.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen`, serves the fake Cloud API and returns the handle that controls it.
    pub async fn start(config: SimulatorConfig) -> Result<SimulatorHandle, SimError> {
        Self::start_with_clock(config, SimClock::default()).await
    }

    /// Like [`Simulator::start`], with a clock shared with the caller.
    pub async fn start_with_clock(
        config: SimulatorConfig,
        clock: SimClock,
    ) -> Result<SimulatorHandle, SimError> {
        if config.numbers.is_empty() {
            return Err(SimError::Config(
                "at least one phone number is needed".into(),
            ));
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            match addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            }
        };
        let base_url = format!("http://{host}:{}", addr.port());
        let shared = Arc::new(Shared::new(config, base_url, clock)?);
        let app = server::router(Arc::clone(&shared));
        let stopped = shared.stopped();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "simulator server stopped");
            }
        });
        tracing::info!(%addr, "WhatsApp Cloud API simulator listening");
        Ok(SimulatorHandle {
            shared,
            addr,
            server: Some(server),
        })
    }
}

/// A running simulator. Dropping it stops the server, pending status webhooks and chatty customers.
pub struct SimulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// What Switchboard's `whatsapp.graph_api_base` should be: `http://127.0.0.1:PORT/v21.0`.
    pub fn graph_api_base(&self) -> String {
        format!("{}/{GRAPH_API_VERSION}", self.shared.base_url)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimulatorConfig {
        &self.shared.config
    }

    /// The clock dating webhooks, windows and media URLs; advance it to skip time.
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// The faults switch board.
    pub fn faults(&self) -> &FaultControl {
        &self.shared.faults
    }

    /// A live feed of what the simulator does.
    pub fn events(&self) -> broadcast::Receiver<SimEvent> {
        self.shared.subscribe()
    }

    /// A customer writing to the first configured number.
    pub fn customer(&self, wa_id: &str, profile_name: &str) -> Customer {
        let number = self
            .shared
            .config
            .primary_number()
            .cloned()
            .unwrap_or_default();
        Customer::new(Arc::clone(&self.shared), number, wa_id, profile_name)
    }

    /// A customer writing to the number `phone_number_id`.
    pub fn customer_on(
        &self,
        phone_number_id: &str,
        wa_id: &str,
        profile_name: &str,
    ) -> Result<Customer, SimError> {
        let number = self
            .shared
            .config
            .number(phone_number_id)
            .cloned()
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
        Ok(Customer::new(
            Arc::clone(&self.shared),
            number,
            wa_id,
            profile_name,
        ))
    }

    /// When the customer service window of `wa_id` on number `phone_number_id` closes (unix
    /// seconds of the simulator clock), if the customer ever wrote.
    pub fn window_expires_at(&self, phone_number_id: &str, wa_id: &str) -> Option<i64> {
        self.shared.window_expires_at(phone_number_id, wa_id)
    }

    /// Every send request received (mark-read aside), accepted or refused, oldest first.
    pub fn sent_messages(&self) -> Vec<RecordedSend> {
        self.shared.with_records(|r| r.sends.clone())
    }

    /// The accepted sends, oldest first.
    pub fn accepted_messages(&self) -> Vec<RecordedSend> {
        self.shared.with_records(|r| {
            r.sends
                .iter()
                .filter(|s| s.wamid().is_some())
                .cloned()
                .collect()
        })
    }

    /// Mark-as-read requests received.
    pub fn read_receipts(&self) -> Vec<MarkRead> {
        self.shared.with_records(|r| r.read_receipts.clone())
    }

    /// Every webhook POST made (retries and duplicates included), oldest first.
    pub fn webhooks(&self) -> Vec<DeliveredWebhook> {
        self.shared.with_records(|r| r.webhooks.clone())
    }

    /// Every media object held (uploaded and from customers), with its bytes.
    pub fn media(&self) -> Vec<MediaInfo> {
        self.shared.all_media()
    }

    /// Forgets what was received (sends, read receipts, webhooks); media and windows stay.
    pub fn clear_records(&self) {
        self.shared.clear_records();
    }

    /// The account's templates.
    pub fn templates(&self) -> Vec<Template> {
        self.shared.templates()
    }

    /// Replaces the account's templates.
    pub fn set_templates(&self, templates: Vec<Template>) {
        self.shared.set_templates(templates);
    }

    /// Adds a template (or replaces the one with the same name and language).
    pub fn upsert_template(&self, template: Template) {
        let mut templates = self.shared.templates();
        templates.retain(|t| !(t.name == template.name && t.language == template.language));
        templates.push(template);
        self.shared.set_templates(templates);
    }

    /// Changes the review status of template `name` in `language` (with a reason such as
    /// `INVALID_FORMAT`, or none) and posts the `message_template_status_update` webhook WhatsApp
    /// sends for it, retried like status webhooks. Returns Switchboard's answer.
    pub async fn set_template_status(
        &self,
        name: &str,
        language: &str,
        status: TemplateStatus,
        reason: Option<&str>,
    ) -> Result<u16, SimError> {
        let template = self
            .shared
            .set_template_status(name, language, status, reason)
            .ok_or_else(|| SimError::UnknownTemplate(format!("{name} ({language})")))?;
        let envelope = templates::status_update_envelope(
            &self.shared.config.waba_id,
            &template,
            self.shared.clock.now_unix(),
        );
        self.shared
            .post_webhook(&envelope, self.shared.config.webhook_retries)
            .await
    }

    /// Waits until at least `n` send requests were received (refused ones count); returns them all.
    pub async fn wait_for_sent(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedSend>, SimError> {
        self.shared
            .wait_until(format!("{n} send requests"), timeout, |r| {
                (r.sends.len() >= n).then(|| r.sends.clone())
            })
            .await
    }

    /// Waits until at least `n` sends were accepted; returns the accepted ones.
    pub async fn wait_for_accepted(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedSend>, SimError> {
        self.shared
            .wait_until(format!("{n} accepted sends"), timeout, |r| {
                let accepted: Vec<RecordedSend> = r
                    .sends
                    .iter()
                    .filter(|s| s.wamid().is_some())
                    .cloned()
                    .collect();
                (accepted.len() >= n).then_some(accepted)
            })
            .await
    }

    /// Waits until at least `n` mark-as-read requests were received.
    pub async fn wait_for_read_receipts(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<MarkRead>, SimError> {
        self.shared
            .wait_until(format!("{n} read receipts"), timeout, |r| {
                (r.read_receipts.len() >= n).then(|| r.read_receipts.clone())
            })
            .await
    }

    /// Waits until at least `n` webhook POSTs were made (answered or not).
    pub async fn wait_for_webhooks(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveredWebhook>, SimError> {
        self.shared
            .wait_until(format!("{n} webhook posts"), timeout, |r| {
                (r.webhooks.len() >= n).then(|| r.webhooks.clone())
            })
            .await
    }

    /// Waits until a status webhook `status` about `wamid` was answered 200 by Switchboard.
    pub async fn wait_for_status(
        &self,
        wamid: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<DeliveredWebhook, SimError> {
        self.shared
            .wait_until(format!("status {status} of {wamid}"), timeout, |r| {
                r.webhooks
                    .iter()
                    .find(|w| {
                        w.http_status == Some(200)
                            && w.statuses()
                                .iter()
                                .any(|(id, s)| id == wamid && s == status)
                    })
                    .cloned()
            })
            .await
    }

    /// Starts a chatty crowd of customers (for the demo).
    pub fn start_chatty(&self, config: ChattyConfig) -> ChattyHandle {
        chatty::start(self, config)
    }

    /// Stops the server, pending status webhooks and chatty customers, and waits for the server.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}
