//! The JSON the API answers, as Rust types for the OpenAPI document: one type per shape that
//! `views.rs`, `contacts.rs`, `templates.rs` and the handlers build, field for field.
//!
//! These types only describe: the handlers still build their answers where they did. What keeps
//! the two the same is the API test suite, which validates every answer it receives against the
//! document built from these types (`tests/api/support.rs`, `conforms`). A field that may be
//! `null` but is always present is [`Nullable`]; an `Option` is a field that may be absent.
#![allow(dead_code)]

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde_json::Value;
use std::marker::PhantomData;

/// A field that is always present and may be `null`.
pub struct Nullable<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Nullable<T> {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        format!("Nullable_{}", T::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let inner = gen.subschema_for::<T>();
        let mut o = match inner {
            // `nullable` beside a `$ref` would be ignored: wrap the reference.
            Schema::Object(o) if o.reference.is_some() => SchemaObject {
                subschemas: Some(Box::new(schemars::schema::SubschemaValidation {
                    all_of: Some(vec![Schema::Object(o)]),
                    ..Default::default()
                })),
                ..Default::default()
            },
            other => other.into_object(),
        };
        o.extensions.insert("nullable".into(), Value::Bool(true));
        Schema::Object(o)
    }
}

/// An RFC 3339 UTC time with milliseconds (`views::ts`).
pub struct Time;

impl JsonSchema for Time {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "Time".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            format: Some("date-time".into()),
            ..Default::default()
        }
        .into()
    }
}

/// Any JSON object (a free-form map).
pub type Object = serde_json::Map<String, Value>;

// ------------------------------------------------------------------------------ enumerations

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

/// What an agent is doing (API.md "Supervisor").
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Idle,
    Handling,
    PostProcessing,
    Full,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Offline,
    Available,
    OnBreak,
    Rona,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionState {
    Queued,
    Offered,
    Active,
    WrapUp,
    Done,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingPolicy {
    LongestIdle,
    LeastBusy,
    RoundRobin,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Owner,
    Conference,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantState {
    Active,
    WrapUp,
    Done,
}

// ------------------------------------------------------------------------------------ agents

/// An agent (`views::agent`): `GET /api/v1/me`, the agents of the admin API, `presence.changed`.
#[derive(JsonSchema)]
pub struct Agent {
    pub id: String,
    pub username: Nullable<String>,
    pub display_name: String,
    pub role: Role,
    pub presence: Presence,
    pub break_reason: Nullable<String>,
    pub presence_since: Time,
    pub stop_new: bool,
    pub capacity: u32,
    pub load: u32,
    pub can_reject: bool,
    pub queue_ids: Vec<String>,
    pub connected: bool,
}

/// An agent on the supervisor's board (`runtime::monitor::agent`): `GET /api/v1/monitor` and
/// `monitor.agent` events.
#[derive(JsonSchema)]
pub struct MonitorAgent {
    #[serde(flatten)]
    pub agent: Agent,
    pub activity: Activity,
    /// The interactions the agent holds (offered, active, in wrap-up).
    pub interaction_ids: Vec<String>,
    /// The same, with the customer's name (or number) and the interaction's state.
    pub interactions: Vec<MonitorInteraction>,
}

/// An interaction an agent holds, on the board.
#[derive(JsonSchema)]
pub struct MonitorInteraction {
    pub id: String,
    pub customer: String,
    pub state: InteractionState,
}

/// A queue on the supervisor's board (`runtime::monitor::queue`): `GET /api/v1/monitor` and
/// `monitor.queue` events. The figures cover the current day in `reports.timezone`.
#[derive(JsonSchema)]
pub struct MonitorQueue {
    pub id: String,
    pub name: String,
    pub waiting: u64,
    pub longest_wait_s: i64,
    /// The arrival of the longest-waiting interaction (for the board's clock).
    pub oldest_waiting_since: Nullable<Time>,
    pub available_agents: u64,
    pub sla_response_s: u32,
    pub offered: i64,
    pub accepted: i64,
    pub missed: i64,
    pub handled: i64,
    /// `null` while no interaction of the day is decided against the SLA.
    pub sla_met_pct: Nullable<f64>,
}

/// `GET /api/v1/monitor`.
#[derive(JsonSchema)]
pub struct Monitor {
    pub agents: Vec<MonitorAgent>,
    pub queues: Vec<MonitorQueue>,
    pub at: Time,
}

/// A user without an agent record (`views::user_agent`).
#[derive(JsonSchema)]
pub struct UserOnly {
    pub id: String,
    pub username: String,
    pub role: Role,
}

/// A user: an agent, or a user the engine does not know as one.
#[derive(JsonSchema)]
#[serde(untagged)]
pub enum User {
    Agent(Agent),
    UserOnly(UserOnly),
}

/// `GET /api/v1/me`: the agent with the settings the desktop needs.
#[derive(JsonSchema)]
pub struct Me {
    #[serde(flatten)]
    pub agent: Agent,
    pub activity: Activity,
    pub break_reasons: Vec<String>,
    pub max_text_message_size: u32,
}

/// An agent as a supervisor sees them now (`views::agent_now`): `PUT /api/v1/agents/{id}/presence`.
#[derive(JsonSchema)]
pub struct AgentNow {
    #[serde(flatten)]
    pub agent: Agent,
    pub activity: Activity,
}

/// `POST /api/v1/auth/login`.
#[derive(JsonSchema)]
pub struct Login {
    /// A bearer token (also set as the session cookie).
    pub token: String,
    pub user: User,
}

#[derive(JsonSchema)]
pub struct DirectoryQueue {
    pub id: String,
    pub name: String,
    pub waiting: u64,
}

#[derive(JsonSchema)]
pub struct DirectoryAgent {
    pub id: String,
    pub display_name: String,
    pub presence: Presence,
    pub load: u32,
    pub capacity: u32,
    pub available: bool,
}

/// `GET /api/v1/directory`: the queues and the other agents (transfer and conference targets).
#[derive(JsonSchema)]
pub struct Directory {
    pub queues: Vec<DirectoryQueue>,
    pub agents: Vec<DirectoryAgent>,
}

// ------------------------------------------------------------------------------------ queues

#[derive(JsonSchema)]
pub struct Disposition {
    pub code: String,
    pub label: String,
}

/// A queue (`views::queue`).
#[derive(JsonSchema)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub routing_policy: RoutingPolicy,
    pub priority: u32,
    pub acceptance_interval_s: u32,
    pub post_processing_s: u32,
    pub sla_response_s: u32,
    pub dispositions: Vec<Disposition>,
    pub disposition_required: bool,
    pub sticky: bool,
    pub sticky_timeout_s: u32,
    pub waiting: u64,
}

/// The global settings (`views::settings`).
#[derive(JsonSchema)]
pub struct Settings {
    pub max_text_message_size: u32,
    pub transcript_interactions_count: u32,
    /// `rona` or `on_break`.
    pub after_missed_offer: String,
    /// `create` or `prompt`.
    pub new_contact_policy: String,
    pub offer_exclusion_s: u32,
    pub disconnect_grace_s: u32,
    pub break_reasons: Vec<String>,
}

// ------------------------------------------------------------------------------ interactions

/// An offer (`views::offer_json`).
#[derive(JsonSchema)]
pub struct Offer {
    pub agent_id: String,
    /// `route`, `sticky`, `transfer` or `conference`.
    pub kind: String,
    pub from_agent_id: Nullable<String>,
    pub from_agent_name: Nullable<String>,
    pub offered_at: Time,
    pub deadline: Time,
    /// How a transferred interaction came to this agent: `agent` (transferred to them) or
    /// `queue` (its owner transferred it to the queue); `null` for a first offer.
    pub transferred_via: Nullable<String>,
    pub transferred_by_id: Nullable<String>,
    pub transferred_by_name: Nullable<String>,
    /// Since when the customer waits: their oldest unanswered message (a transfer does not
    /// restart it).
    pub customer_waiting_since: Time,
}

#[derive(JsonSchema)]
pub struct Participant {
    pub agent_id: String,
    pub display_name: Nullable<String>,
    pub role: ParticipantRole,
    pub state: ParticipantState,
    pub joined_at: Time,
    pub left_at: Nullable<Time>,
    pub wrap_up_deadline: Nullable<Time>,
    pub disposition_code: Nullable<String>,
    pub wrap_up_note: Nullable<String>,
    pub wrapped_up_at: Nullable<Time>,
}

/// A pending conference invitation.
#[derive(JsonSchema)]
pub struct Conference {
    /// Always `requested`.
    pub status: String,
    /// `agent` or `queue`.
    pub target_kind: String,
    pub target_id: String,
    pub requested_by: String,
    pub requested_at: Time,
    pub offer: Nullable<Offer>,
}

#[derive(JsonSchema)]
pub struct IdRef {
    pub id: String,
}

#[derive(JsonSchema)]
pub struct Customer {
    pub wa_id: String,
    pub name: Nullable<String>,
}

/// An interaction (`views::interaction`).
#[derive(JsonSchema)]
pub struct Interaction {
    pub id: String,
    pub state: InteractionState,
    pub queue_id: String,
    pub queue_name: Nullable<String>,
    pub owner_id: Nullable<String>,
    pub participants: Vec<Participant>,
    pub contact: Nullable<IdRef>,
    pub conversation_id: String,
    pub customer: Customer,
    pub customer_display_name: String,
    pub channel_id: Nullable<String>,
    pub source_number: Nullable<String>,
    pub first_message: Nullable<String>,
    pub created_at: Time,
    pub waiting_since: Time,
    pub accepted_at: Nullable<Time>,
    pub ended_at: Nullable<Time>,
    pub unread: u32,
    pub past_sla: bool,
    pub sla_response_s: u32,
    pub awaiting_reply_since: Nullable<Time>,
    pub last_inbound_at: Nullable<Time>,
    pub window_expires_at: Nullable<Time>,
    pub last_outbound_failed: bool,
    pub offer: Nullable<Offer>,
    pub conference: Nullable<Conference>,
    /// `none`, `requested` or `active`.
    pub conference_status: String,
    pub dispositions: Vec<Disposition>,
    pub disposition_required: bool,
}

/// What an action answers when it removed the caller from the interaction (e.g. a rejected offer).
#[derive(JsonSchema)]
pub struct NotVisible {
    pub id: String,
    /// Always `false`.
    pub visible: bool,
}

/// The interaction after an action, or [`NotVisible`] when the caller no longer sees it.
#[derive(JsonSchema)]
#[serde(untagged)]
pub enum AfterAction {
    Interaction(Box<Interaction>),
    NotVisible(NotVisible),
}

/// A stored message (`views::message`).
#[derive(JsonSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub interaction_id: Nullable<String>,
    /// `in`, `out` or `internal`.
    pub direction: String,
    pub author_id: Nullable<String>,
    /// The display name of the agent who wrote it (transcripts only; absent for customers).
    pub author_name: Option<String>,
    /// `text`, `image`, `document`, `template`, `whisper`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Nullable<String>,
    /// The channel's data of the message (content, media state, WhatsApp's raw payload, …).
    pub payload: Value,
    pub wa_message_id: Nullable<String>,
    /// `received`, `queued`, `sending`, `sent`, `delivered`, `read`, `failed`, …
    pub status: String,
    pub error: Value,
    pub created_at: Time,
    pub updated_at: Time,
}

/// `GET /api/v1/interactions/{id}/messages`: a page, newest last.
#[derive(JsonSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// The `before` of the next (older) page; `null` on the last.
    pub next_before: Nullable<String>,
}

/// A private note (`views::note`).
#[derive(JsonSchema)]
pub struct Note {
    pub id: String,
    pub interaction_id: String,
    pub author_id: String,
    pub text: String,
    pub created_at: Time,
}

// ------------------------------------------------------------- standard responses and tokens

/// A standard response (`services::responses::view`).
#[derive(JsonSchema)]
pub struct StandardResponse {
    pub id: String,
    pub title: String,
    pub text: String,
    pub category: Nullable<String>,
    pub shortcut: Nullable<String>,
    /// Empty: global.
    pub queue_ids: Vec<String>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A standard response filled for an interaction.
#[derive(JsonSchema)]
pub struct FilledResponse {
    pub response_id: String,
    /// The text with its placeholders filled; those without a value stay as `{{path}}`.
    pub text: String,
    /// The placeholders without a value (e.g. `contact.first_name`), in order of appearance.
    pub missing: Vec<String>,
}

/// An integration token as listed (never the token).
#[derive(JsonSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub user_id: String,
    /// The user's display name, when the user still exists.
    pub user_name: Nullable<String>,
    pub created_at: Time,
    pub expires_at: Nullable<Time>,
    /// Updated at most once a minute.
    pub last_used_at: Nullable<Time>,
    pub expired: bool,
}

/// A new integration token: `token` is shown this once.
#[derive(JsonSchema)]
pub struct NewToken {
    pub id: String,
    pub name: String,
    pub user_id: String,
    /// `sbt_` and 64 hex digits; send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub created_at: Time,
    pub expires_at: Nullable<Time>,
}

// ---------------------------------------------------------------------------------- contacts

#[derive(JsonSchema)]
pub struct LastSend {
    pub status: String,
    pub error: Value,
    pub at: Time,
}

#[derive(JsonSchema)]
pub struct Phone {
    /// E.164.
    pub number: String,
    pub wa_id: String,
    /// `ok`, `failed` or `unknown`.
    pub status: String,
    pub last_send: Nullable<LastSend>,
}

/// A contact (`contacts::contact_json`).
#[derive(JsonSchema)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub first_name: Nullable<String>,
    pub last_name: Nullable<String>,
    pub email: Nullable<String>,
    pub fields: Object,
    pub phones: Vec<Phone>,
    pub has_failed_number: bool,
    pub merged_into: Nullable<String>,
    pub created_at: Time,
    pub updated_at: Time,
}

#[derive(JsonSchema)]
pub struct HistoryAgent {
    pub agent_id: String,
    pub display_name: Nullable<String>,
    pub role: ParticipantRole,
    pub disposition_code: Nullable<String>,
}

/// An interaction in a contact's history: the interaction with its agents, and with
/// `?transcripts=true` its messages.
#[derive(JsonSchema)]
pub struct HistoryEntry {
    #[serde(flatten)]
    pub interaction: Interaction,
    pub agents: Vec<HistoryAgent>,
    pub messages: Option<Vec<Message>>,
    /// With `?transcripts=true`: the interaction's private notes (never sent to the customer).
    pub notes: Option<Vec<Note>>,
}

/// `GET /api/v1/contacts/{id}/interactions`.
#[derive(JsonSchema)]
pub struct ContactHistory {
    pub contact: Contact,
    pub interactions: Vec<HistoryEntry>,
    pub next_before: Nullable<String>,
}

/// A case (`contacts::case_json`).
#[derive(JsonSchema)]
pub struct Case {
    pub id: String,
    /// `open` or `closed`.
    pub state: String,
    pub contact_id: Nullable<String>,
    pub interaction_id: String,
    pub conversation_id: String,
    pub queue_id: Nullable<String>,
    pub subject: Nullable<String>,
    /// The agents who handled it, with their dispositions and notes.
    pub agents: Value,
    pub disposition_code: Nullable<String>,
    pub initiated_at: Time,
    pub accepted_at: Nullable<Time>,
    pub ended_at: Nullable<Time>,
    pub created_by: Nullable<String>,
    pub created_at: Time,
    pub closed_at: Nullable<Time>,
}

/// `GET /api/v1/cases/{id}`: the case with its transcript and notes.
#[derive(JsonSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: Case,
    pub transcript: Vec<Message>,
    pub notes: Vec<Note>,
}

#[derive(JsonSchema)]
pub struct Prefill {
    pub name: Nullable<String>,
    pub first_name: Nullable<String>,
    pub last_name: Nullable<String>,
    pub phones: Vec<String>,
}

/// The external CRM's lookup: `status` is `not_configured`, `found` (with `contacts`) or
/// `failed` (with `reason`).
#[derive(JsonSchema)]
pub struct ExternalLookup {
    pub status: String,
    pub contacts: Option<Value>,
    pub reason: Option<String>,
}

/// `GET /api/v1/interactions/{id}/screen-pop`.
#[derive(JsonSchema)]
pub struct ScreenPop {
    pub interaction_id: String,
    pub phone: Nullable<String>,
    pub match_count: u64,
    pub matches: Vec<Contact>,
    pub contact: Nullable<Contact>,
    /// `create` or `prompt`.
    pub new_contact_policy: String,
    pub show_new_contact_form: bool,
    pub prefill: Prefill,
    pub recent_interactions: Vec<HistoryEntry>,
    pub open_cases: Vec<Case>,
    pub unassigned_cases: Vec<Case>,
    pub external: ExternalLookup,
}

/// A row of the communication list (`GET /api/v1/conversations`).
#[derive(JsonSchema)]
pub struct ConversationRow {
    pub id: String,
    pub channel_id: Nullable<String>,
    pub wa_id: String,
    pub customer_name: Nullable<String>,
    pub contact_id: Nullable<String>,
    pub contact_name: Nullable<String>,
    pub unread: u64,
    pub last_message: Nullable<Message>,
    pub last_inbound_at: Nullable<Time>,
}

/// `GET /api/v1/search`.
#[derive(JsonSchema)]
pub struct SearchResult {
    /// The words searched for.
    pub query: Vec<String>,
    pub messages: Vec<Message>,
}

// ---------------------------------------------------------------------- channels, CRM, ops

/// A WhatsApp number (secrets are never returned, only whether they are set).
#[derive(JsonSchema)]
pub struct Channel {
    pub id: String,
    /// `whatsapp`.
    pub kind: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: Nullable<String>,
    pub queue_id: String,
    pub created_at: Time,
    pub access_token_set: bool,
    pub app_secret_set: bool,
    pub verify_token_set: bool,
    pub webhook_path: String,
    /// When a signed webhook last named this number (known since the server started).
    pub last_webhook_at: Nullable<Time>,
    /// The newest error of a send from this number (a retry or a failure).
    pub last_send_error: Nullable<ChannelSendError>,
}

/// A send error of a channel: when, and the Graph API's error in words.
#[derive(JsonSchema)]
pub struct ChannelSendError {
    pub at: Time,
    pub message: String,
}

/// `GET /api/v1/channels/{id}/webhook`: what to paste into the Meta app's webhook settings.
#[derive(JsonSchema)]
pub struct ChannelWebhook {
    /// The callback URL, from the address the request came to (`X-Forwarded-Proto` and
    /// `X-Forwarded-Host` when a proxy sets them).
    pub url: String,
    pub verify_token: String,
}

/// `POST /api/v1/channels/{id}/check`: whether the Graph API accepts the access token for the
/// phone number id.
#[derive(JsonSchema)]
pub struct ChannelCheck {
    pub ok: bool,
    pub checked_at: Time,
    /// The number as the Graph API describes it, when `ok`.
    pub phone_number: Nullable<ChannelCheckNumber>,
    /// The Graph API's error in words, when not `ok`.
    pub error: Nullable<String>,
}

/// The number as the Graph API answered `GET /{phone_number_id}`.
#[derive(JsonSchema)]
pub struct ChannelCheckNumber {
    pub id: Nullable<String>,
    pub display_phone_number: Nullable<String>,
    pub verified_name: Nullable<String>,
    pub quality_rating: Nullable<String>,
}

/// An event for the external CRM.
#[derive(JsonSchema)]
pub struct CrmEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Nullable<Time>,
    pub last_error: Nullable<String>,
    pub created_at: Time,
    pub delivered_at: Nullable<Time>,
    pub data: Value,
}

/// `GET /healthz`.
#[derive(JsonSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `GET /api/v1/cluster`.
#[derive(JsonSchema)]
pub struct Cluster {
    pub nodes: Vec<ClusterNode>,
    /// The answering node's copy of the routing state, when it is not the router.
    pub replica: Option<ClusterReplica>,
}

/// What a node that is not the router holds of the router's state.
#[derive(JsonSchema)]
pub struct ClusterReplica {
    /// The router's lease epoch of the last commit applied.
    pub epoch: i64,
    /// The number of that commit in the epoch (the router counts its commits from 1).
    pub commit: u64,
    /// How many times the copy was loaded whole from the store (at start, after the node was
    /// the router, after a gap in the relayed commits); every other commit is applied from the
    /// rows relayed with it.
    pub loads: u64,
}

/// A node of the cluster.
#[derive(JsonSchema)]
pub struct ClusterNode {
    /// `cluster.node_id` (default: host name and process id).
    pub id: String,
    /// When the node started (null on one node without a cluster).
    pub started_at: Option<String>,
    /// When the node last said it was alive (it does every `cluster.renew_ms`).
    pub last_seen_at: String,
    /// Whether the node holds the router lease (runs the routing engine).
    pub router: bool,
    /// Whether it is the node that answered.
    pub this_node: Option<bool>,
}

/// `GET /readyz`.
#[derive(JsonSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

// --------------------------------------------------------------------------------- templates

/// A WhatsApp message template (`templates::view`).
#[derive(JsonSchema)]
pub struct Template {
    pub id: String,
    pub channel_id: String,
    pub waba_id: String,
    pub wa_template_id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub rejected_reason: Nullable<String>,
    pub deleted: bool,
    pub sendable: bool,
    pub parameter_format: String,
    /// WhatsApp's components, as WhatsApp lists them.
    pub components: Value,
    pub header: Nullable<crate::services::templates::Header>,
    pub body: Nullable<String>,
    pub footer: Nullable<String>,
    pub buttons: Vec<crate::services::templates::Button>,
    pub variables: Vec<crate::services::templates::Variable>,
    /// Template variable to contact field.
    pub variable_map: Value,
    pub synced_at: Time,
    pub created_at: Time,
    pub updated_at: Time,
}

/// What a sync did for one business account (`templates::AccountSync`).
#[derive(JsonSchema)]
pub struct AccountSync {
    pub channel_id: String,
    pub waba_id: String,
    pub ok: bool,
    pub listed: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub error: Value,
}

/// `POST /api/v1/templates/sync`.
#[derive(JsonSchema)]
pub struct SyncReport {
    pub accounts: Vec<AccountSync>,
}

#[derive(JsonSchema)]
pub struct NotSendable {
    pub code: String,
    pub message: String,
}

/// `GET /api/v1/interactions/{id}/templates/{template_id}/preview`.
#[derive(JsonSchema)]
pub struct TemplatePreview {
    pub interaction_id: String,
    pub template: Template,
    pub sendable: bool,
    pub not_sendable: Nullable<NotSendable>,
    pub header: Nullable<crate::services::templates::Header>,
    pub body: Nullable<String>,
    pub footer: Nullable<String>,
    pub buttons: Vec<crate::services::templates::Button>,
    /// `image`, `video` or `document` when the header is a media.
    pub header_media: Nullable<String>,
    pub variables: Vec<crate::services::templates::Prefilled>,
    pub missing: Vec<String>,
    pub rendered: crate::services::templates::Rendered,
    pub text: Nullable<String>,
    /// The contact whose fields prefill the variables.
    pub contact: Value,
}

// ---------------------------------------------------------------------------------- webhooks

#[derive(JsonSchema)]
pub struct WebhookCounts {
    pub messages: u64,
    pub duplicates: u64,
    pub statuses: u64,
    pub kept_raw: u64,
}

/// `POST /webhooks/whatsapp`: what the delivery held, once it is durable.
#[derive(JsonSchema)]
pub struct WebhookReceived {
    pub received: WebhookCounts,
}

// ------------------------------------------------------------------------------------ bodies

/// Bytes of a file (a `format: binary` string).
pub struct Binary;

impl JsonSchema for Binary {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "Binary".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            format: Some("binary".into()),
            ..Default::default()
        }
        .into()
    }
}

/// `POST /api/v1/interactions/{id}/messages` as `multipart/form-data`: a file to send.
#[derive(JsonSchema)]
pub struct UploadForm {
    /// The file; its content type and name come from the part's headers.
    pub file: Binary,
    /// A caption (images, videos and documents).
    pub caption: Option<String>,
    /// `image`, `video`, `audio`, `document` or `sticker`; by default from the content type.
    pub kind: Option<String>,
}

// ------------------------------------------------------------------------------- audit log

/// Who did it: a user, with their display name when it happened.
#[derive(JsonSchema)]
pub struct AuditActor {
    pub id: String,
    pub name: Nullable<String>,
}

/// What was acted on.
#[derive(JsonSchema)]
pub struct AuditTarget {
    /// `queue`, `agent`, `settings`, `channel`, `template`, `user`, `interaction`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// One entry of the audit log.
#[derive(JsonSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: Time,
    /// `null` for the system or an unknown user (a failed login).
    pub actor: Nullable<AuditActor>,
    /// Dotted: `queue.created`, `agent.updated`, `presence.changed`, `login.failed`, …
    pub action: String,
    pub target: AuditTarget,
    /// The target's value before (`null` for a creation or when it does not apply).
    pub before: Value,
    /// The target's value after (`null` for a deletion or when it does not apply).
    pub after: Value,
    /// The client's address (logins).
    pub client_addr: Nullable<String>,
}

/// `GET /api/v1/audit`: a page, newest first.
#[derive(JsonSchema)]
pub struct AuditLog {
    pub items: Vec<AuditEntry>,
    /// The `before` of the next (older) page; `null` on the last.
    pub next: Nullable<String>,
}

/// A user who has an interaction open.
#[derive(JsonSchema)]
pub struct Viewer {
    pub id: String,
    /// Their display name.
    pub name: String,
    /// A supervisor who only watches (not taking part); agents are never shown one.
    pub watching: bool,
}

/// `PUT /api/v1/interactions/{id}/viewing`, and the `data` of the live `interaction.viewers`:
/// who has the interaction open, as the reader may see it (the reader included).
#[derive(JsonSchema)]
pub struct Viewers {
    pub interaction_id: String,
    pub viewers: Vec<Viewer>,
}

/// `POST /api/v1/interactions/{id}/watch`: the interaction as the supervisor sees it and who has
/// it open. Its transcript is `GET …/messages` (reading it changes nothing the agent sees).
#[derive(JsonSchema)]
pub struct Watch {
    pub interaction: Interaction,
    pub viewers: Vec<Viewer>,
}

/// A line of `GET /api/v1/reports/summary` (ARCHITECTURE.md, "Report definitions").
#[derive(JsonSchema)]
pub struct ReportRow {
    /// Queue, agent or channel id; `YYYY-MM-DD` for a local day, `YYYY-MM-DDTHH:00` for an
    /// hour; `total` for the total.
    pub key: String,
    /// The queue's or agent's name, the channel's number, the local day or hour.
    pub label: String,
    /// The instants the row covers: a day's or hour's own (within the range), else the range.
    pub from: Time,
    pub to: Time,
    pub offered: i64,
    pub accepted: i64,
    pub missed: i64,
    pub rejected: i64,
    pub handled: i64,
    pub transferred: i64,
    pub avg_handle_s: Nullable<f64>,
    pub avg_speed_of_answer_s: Nullable<f64>,
    pub avg_first_response_s: Nullable<f64>,
    pub sla_met_pct: Nullable<f64>,
    /// Handled interactions by disposition code, `(none)` (completed by the countdown) and
    /// `(no code)`.
    pub dispositions: std::collections::BTreeMap<String, i64>,
}

/// `GET /api/v1/reports/summary`.
#[derive(JsonSchema)]
pub struct ReportSummary {
    pub from: Time,
    pub to: Time,
    pub group_by: String,
    /// The IANA time zone of days and hours.
    pub tz: String,
    pub rows: Vec<ReportRow>,
    /// Every interaction of the range once (agent rows need not add up to it).
    pub total: ReportRow,
}

/// A queue named in a report.
#[derive(JsonSchema)]
pub struct ReportQueue {
    pub id: String,
    pub name: String,
}

/// An agent named in a report.
#[derive(JsonSchema)]
pub struct ReportAgent {
    pub id: String,
    pub name: String,
}

/// A customer in a report.
#[derive(JsonSchema)]
pub struct ReportCustomer {
    pub wa_id: String,
    pub name: Nullable<String>,
}

/// One interaction of the drill-down.
#[derive(JsonSchema)]
pub struct ReportInteraction {
    pub id: String,
    /// The queue it arrived in.
    pub queue: ReportQueue,
    /// The WhatsApp number's id.
    pub channel: Nullable<String>,
    pub customer: ReportCustomer,
    pub contact_id: Nullable<String>,
    /// Who accepted it, in order.
    pub agents: Vec<ReportAgent>,
    pub outbound: bool,
    pub created_at: Time,
    pub accepted_at: Nullable<Time>,
    pub first_response_at: Nullable<Time>,
    pub ended_at: Nullable<Time>,
    pub wrapped_up_at: Nullable<Time>,
    /// Once done: the code, `(none)` or `(no code)`.
    pub disposition: Nullable<String>,
    pub handle_s: Nullable<f64>,
    pub speed_of_answer_s: Nullable<f64>,
    pub first_response_s: Nullable<f64>,
    pub transfers: i64,
    pub missed_offers: i64,
    pub rejected_offers: i64,
    pub messages_in: i64,
    pub messages_out: i64,
}

/// `GET /api/v1/reports/interactions`: a page, newest first.
#[derive(JsonSchema)]
pub struct ReportInteractions {
    pub items: Vec<ReportInteraction>,
    /// The `before` of the next (older) page; `null` on the last.
    pub next: Nullable<String>,
}

/// One stretch of an agent's presence.
#[derive(JsonSchema)]
pub struct ReportInterval {
    pub presence: Presence,
    /// The break reason.
    pub reason: Nullable<String>,
    pub from: Time,
    pub to: Time,
}

/// `GET /api/v1/reports/agents/{id}/timeline`.
#[derive(JsonSchema)]
pub struct ReportTimeline {
    pub agent_id: String,
    pub from: Time,
    pub to: Time,
    /// They tile `[from, min(to, now))`.
    pub intervals: Vec<ReportInterval>,
    /// Seconds per presence; they add up to the intervals' span.
    pub totals: std::collections::BTreeMap<String, f64>,
    /// Seconds on break per reason.
    pub break_totals: std::collections::BTreeMap<String, f64>,
}
