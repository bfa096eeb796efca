//! The external CRM: an optional contact lookup for the screen pop ([`lookup`]) and
//! signed event webhooks delivered from a durable queue ([`delivery`]).
//!
//! Events are rows of `crm_events`, enqueued in the same commit as the change they report (the
//! core worker adds them from [`crate::core::Attach::crm_events`] and emits
//! [`INTERACTION_ENDED`] itself), and only when `crm.webhook_url` is configured. The delivery
//! service sends them oldest first, one at a time, signed with `crm.webhook_secret`.
//!
//! Nothing here changes routing state, and nothing here is on the path of an agent's request:
//! a slow or broken CRM delays only its own webhooks and falls back to the local CRM on lookup.

pub mod delivery;
pub mod lookup;

pub use lookup::{lookup, CrmContact, LookupFailure, LookupOutcome};

use crate::config::CrmConfig;
use crate::runtime::ids::new_id;
use crate::runtime::views;
use serde_json::{json, Value};
use switchboard_domain::{Engine, Interaction, Timestamp};
use switchboard_store::CrmEventRecord;
use tokio::sync::{watch, Notify};

/// An interaction left `active` because it ended; with its transcript.
pub const INTERACTION_ENDED: &str = "interaction.ended";
/// A contact was created in the local CRM.
pub const CONTACT_CREATED: &str = "contact.created";
/// A case (chat log) was saved.
pub const CASE_CREATED: &str = "case.created";

/// A new event for the external CRM, pending from `now`. Put it in
/// [`crate::core::Attach::crm_events`] of the change it reports, so both commit together (it
/// is dropped there when no webhook is configured). `data` is the event's `data` as sent.
pub fn event(kind: &str, data: Value, now: Timestamp) -> CrmEventRecord {
    CrmEventRecord {
        id: new_id("evt", now),
        kind: kind.to_owned(),
        payload: data,
        body: None,
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// The server's handle on the external CRM: its configuration, the HTTP client, and what wakes
/// (and counts) the delivery service.
pub struct Crm {
    pub config: CrmConfig,
    http: reqwest::Client,
    /// Wakes the delivery service: an event was committed or put back in the queue.
    pub wake: Notify,
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
            wake: Notify::new(),
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

/// The `data` of [`INTERACTION_ENDED`] (without the transcript, which the delivery service adds
/// when it first builds the body): the interaction as it was when it ended.
pub fn interaction_ended_data(it: &Interaction, engine: &Engine) -> Value {
    let mut agents: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &it.participants {
        if seen.insert(p.agent_id.clone()) {
            agents.push(json!({
                "id": p.agent_id,
                "name": engine.agent(&p.agent_id).map(|a| a.display_name.clone()),
                "role": p.role,
                "joined_at": views::ts(p.joined_at),
            }));
        }
    }
    json!({
        "interaction": {
            "id": it.id,
            "queue_id": it.queue_id,
            "queue_name": engine.queue(&it.queue_id).map(|q| q.name.clone()),
            "channel_id": it.channel_id,
            "conversation_id": it.conversation_id,
            "customer": {"wa_id": it.customer.wa_id, "name": it.customer.name},
            "contact_id": it.contact_id,
            "owner_id": it.owner_id,
            "agents": agents,
            "created_at": views::ts(it.created_at),
            "accepted_at": views::ts_opt(it.accepted_at),
            "ended_at": views::ts_opt(it.ended_at),
        }
    })
}
