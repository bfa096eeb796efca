//! What a simulator is started with: the business numbers it serves, where it delivers webhooks,
//! the templates of the business account, pacing and limits.

use std::net::SocketAddr;
use std::time::Duration;

use crate::templates::{default_templates, Template};

/// The WhatsApp Business Account id used when none is given (the one in `whatsapp-examples/`).
pub const DEFAULT_WABA_ID: &str = "102290129340398";
/// The phone number id used when none is given.
pub const DEFAULT_PHONE_NUMBER_ID: &str = "106540352242922";
/// The display number used when none is given.
pub const DEFAULT_DISPLAY_PHONE_NUMBER: &str = "15557650000";
/// The access token used when none is given.
pub const DEFAULT_ACCESS_TOKEN: &str = "sim-access-token";
/// The Graph API version the simulator answers under (`/v21.0/...`); other `vN.M` prefixes work too.
pub const GRAPH_API_VERSION: &str = "v21.0";

/// One business phone number of the simulated account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumberConfig {
    /// The Graph id of the number: the path segment of `/{phone_number_id}/messages` and
    /// `metadata.phone_number_id` of every webhook about it.
    pub phone_number_id: String,
    /// The number as customers see it (digits, no `+`): `metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The bearer token that may send from this number.
    pub access_token: String,
    /// The business name Meta approved for the number (`verified_name` of `GET /{phone_number_id}`).
    pub verified_name: String,
}

impl PhoneNumberConfig {
    /// A number with the given id, display number and token.
    pub fn new(
        phone_number_id: impl Into<String>,
        display_phone_number: impl Into<String>,
        access_token: impl Into<String>,
    ) -> Self {
        Self {
            phone_number_id: phone_number_id.into(),
            display_phone_number: display_phone_number.into(),
            access_token: access_token.into(),
            verified_name: "Switchboard Test Business".to_owned(),
        }
    }
}

impl Default for PhoneNumberConfig {
    fn default() -> Self {
        Self::new(
            DEFAULT_PHONE_NUMBER_ID,
            DEFAULT_DISPLAY_PHONE_NUMBER,
            DEFAULT_ACCESS_TOKEN,
        )
    }
}

/// When status webhooks follow an accepted send. Each delay counts from the previous status.
/// `None` leaves that status (and those after it) out: e.g. `read: None` is a customer with read
/// receipts off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusTimings {
    /// From the send to `sent`.
    pub sent: Duration,
    /// From `sent` to `delivered`.
    pub delivered: Option<Duration>,
    /// From `delivered` to `read`.
    pub read: Option<Duration>,
}

impl Default for StatusTimings {
    fn default() -> Self {
        Self {
            sent: Duration::from_millis(100),
            delivered: Some(Duration::from_millis(200)),
            read: Some(Duration::from_millis(300)),
        }
    }
}

impl StatusTimings {
    /// All statuses at once (tests that only care about order).
    pub fn immediate() -> Self {
        Self {
            sent: Duration::ZERO,
            delivered: Some(Duration::ZERO),
            read: Some(Duration::ZERO),
        }
    }
}

/// Per-recipient pacing (error 131056): a bucket of `burst` messages refilled by one every
/// `interval`. WhatsApp allows about one message per 6 s to one user, with short bursts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairRate {
    /// Messages that may go to one recipient back to back.
    pub burst: u32,
    /// Time to earn one more.
    pub interval: Duration,
}

impl Default for PairRate {
    fn default() -> Self {
        Self {
            burst: 45,
            interval: Duration::from_secs(6),
        }
    }
}

/// How a policy refusal (131047 outside the window, 131026 undeliverable) reaches the sender.
/// The real Cloud API does both depending on when it finds out: refusing the request, or accepting
/// it (a wamid) and then reporting a `failed` status webhook. Switchboard must handle both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorDelivery {
    /// An HTTP 400 answer to the send (default).
    #[default]
    Response,
    /// A 200 answer with a wamid, then a `failed` status webhook carrying the error.
    StatusWebhook,
}

/// Everything a [`crate::Simulator`] is started with. Build it with [`SimulatorConfig::new`] and
/// change the public fields.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Where the fake Cloud API listens; port 0 picks a free port (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Switchboard's webhook URL (`.../webhooks/whatsapp`), where messages and statuses are POSTed.
    pub webhook_url: String,
    /// The app secret webhooks are signed with (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// The WhatsApp Business Account id (`entry[].id`, and `/{waba_id}/message_templates`).
    pub waba_id: String,
    /// The business numbers served; the first is the one [`crate::SimulatorHandle::customer`] writes to.
    pub numbers: Vec<PhoneNumberConfig>,
    /// The account's message templates (default: [`default_templates`]).
    pub templates: Vec<Template>,
    /// Page size of `message_templates` when the request gives no `limit` (WhatsApp: 25).
    pub templates_page_size: usize,
    /// Status webhook pacing after an accepted send.
    pub statuses: StatusTimings,
    /// Customer numbers (wa ids) that can never be reached: sends to them fail with 131026.
    pub undeliverable: Vec<String>,
    /// How 131047 and 131026 are reported.
    pub policy_errors: ErrorDelivery,
    /// Enforce the 24-hour customer service window for non-template messages (131047).
    pub enforce_window: bool,
    /// Messages per second one number may send before 130429 (WhatsApp's default: 80).
    pub throughput_per_second: u32,
    /// Per-recipient pacing before 131056.
    pub pair_rate: PairRate,
    /// How long a media URL from a media lookup can be downloaded (WhatsApp: 5 minutes).
    pub media_url_ttl: Duration,
    /// Timeout of one webhook POST.
    pub webhook_timeout: Duration,
    /// Extra attempts for a status webhook Switchboard did not answer 200 (Meta retries for days;
    /// the simulator gives up after these). Customer messages are posted once: the caller sees the
    /// answer.
    pub webhook_retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub webhook_retry_backoff: Duration,
}

impl SimulatorConfig {
    /// One business number ([`PhoneNumberConfig::default`]), the default templates and WhatsApp's
    /// real limits, delivering to `webhook_url` signed with `app_secret`.
    pub fn new(webhook_url: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_url: webhook_url.into(),
            app_secret: app_secret.into(),
            waba_id: DEFAULT_WABA_ID.to_owned(),
            numbers: vec![PhoneNumberConfig::default()],
            templates: default_templates(),
            templates_page_size: 25,
            statuses: StatusTimings::default(),
            undeliverable: Vec::new(),
            policy_errors: ErrorDelivery::Response,
            enforce_window: true,
            throughput_per_second: 80,
            pair_rate: PairRate::default(),
            media_url_ttl: Duration::from_secs(300),
            webhook_timeout: Duration::from_secs(10),
            webhook_retries: 3,
            webhook_retry_backoff: Duration::from_millis(200),
        }
    }

    /// The number customers write to by default.
    pub fn primary_number(&self) -> Option<&PhoneNumberConfig> {
        self.numbers.first()
    }

    pub(crate) fn number(&self, phone_number_id: &str) -> Option<&PhoneNumberConfig> {
        self.numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
    }

    pub(crate) fn knows_token(&self, token: &str) -> bool {
        self.numbers.iter().any(|n| n.access_token == token)
    }
}
