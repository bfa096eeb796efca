//! The external CRM: an optional contact lookup for the screen pop ([`lookup`]) and
//! signed event webhooks delivered from a durable queue ([`delivery`]).
//!
//! Events are rows of `crm_events`, enqueued in the same commit as the change they report (the
//! core worker adds them from [`crate::runtime::core::Attach::crm_events`] and emits
//! [`INTERACTION_ENDED`] itself), and only when `crm.webhook_url` is configured. The delivery
//! service sends them oldest first, one at a time, signed with `crm.webhook_secret`.
//!
//! Nothing here changes routing state, and nothing here is on the path of an agent's request:
//! a slow or broken CRM delays only its own webhooks and falls back to the local CRM on lookup.

pub mod delivery;
pub mod lookup;

pub use crate::runtime::records::{
    crm_event as event, interaction_ended_data, CASE_CREATED, CONTACT_CREATED, INTERACTION_ENDED,
};

pub use lookup::{lookup, CrmContact, LookupFailure, LookupOutcome};

use crate::runtime::config::CrmConfig;
use tokio::sync::{watch, Notify};

/// The server's handle on the external CRM: its configuration, the HTTP client, and what wakes
/// (and counts) the delivery service.
pub struct Crm {
    pub config: CrmConfig,
    http: reqwest::Client,
    /// Wakes the delivery service: an event was committed or put back in the queue.
    pub wake: std::sync::Arc<Notify>,
    /// Delivery attempts whose outcome is stored (for tests to await).
    pub attempts: watch::Sender<u64>,
}

impl Crm {
    pub fn new(config: CrmConfig) -> anyhow::Result<Crm> {
        let http = reqwest::Client::builder()
            // A redirect is the receiver's configuration error: shown, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the CRM HTTP client: {e}"))?;
        Ok(Crm {
            config,
            http,
            wake: std::sync::Arc::new(Notify::new()),
            attempts: watch::Sender::new(0),
        })
    }

    /// Whether events are enqueued and delivered (`crm.webhook_url` is set).
    pub fn webhooks_enabled(&self) -> bool {
        self.config.webhook_url.is_some() && self.config.webhook_secret.is_some()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
