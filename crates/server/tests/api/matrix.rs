//! the role matrix: every endpoint of `switchboard_server::http::endpoint_list()` called
//! as anonymous, as the agent who owns (or is offered) the interaction, as another agent who is
//! not involved, as a supervisor and as an admin, on real ids. Each answer's status and error
//! code is pinned. An endpoint added to the table without an expectation here fails the test.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard_server::http::{endpoint_list, Access};
use tokio_tungstenite::tungstenite;

/// An expected answer: status and error code ("" for a success).
type Ans = (u16, &'static str);
const OK: Ans = (200, "");
const CREATED: Ans = (201, "");
const NO_CONTENT: Ans = (204, "");
const FORBIDDEN: Ans = (403, "forbidden");
/// What an agent gets for an interaction they may not see: exactly what a missing id gets.
const HIDDEN: Ans = (404, "not_found");
const NO_OFFER: Ans = (409, "offer_not_pending");
const NOT_ACTIVE: Ans = (409, "not_active");

/// What a path's `{id}` is, and the state it must be in before the calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fixture {
    None,
    /// Each caller logs in anew, so that logging out does not end the sessions used elsewhere.
    FreshSession,
    /// A new interaction offered to the owner.
    Offered,
    /// A new interaction the owner accepted.
    Active,
    /// Active, with a conference invitation to Carl pending.
    ConferenceRequested,
    /// Ended by the owner, who is in wrap-up.
    WrapUp,
    /// A new queue with no interactions.
    Queue,
    /// A new agent holding nothing.
    User,
    /// A newly connected WhatsApp number.
    Channel,
    /// An image the owner sent in a new active interaction (a message id).
    MediaMessage,
    /// A new contact.
    Contact,
    /// An open case saved on a new active interaction of the owner.
    Case,
    /// A CRM event the receiver refused for good (an event id).
    DeadCrmEvent,
    /// The message template of the setup.
    Template,
}

#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    Empty,
    Login,
    NewQueue,
    QueuePatch,
    NewAgent,
    AgentPatch,
    Settings,
    Presence,
    StopNew,
    Text,
    ToQueue,
    ToCarl,
    NewChannel,
    ChannelPatch,
    NewContact,
    ContactPatch,
    Phone,
    MergeMissing,
    Unlink,
    CaseSubject,
    BadPhone,
    TemplatePatch,
}

struct Case {
    access: Access,
    fixture: Fixture,
    body: Body,
    /// Answers for [owner, other agent, supervisor, admin]; anonymous follows from `access`.
    answers: [Ans; 4],
}

const WHO: [&str; 4] = ["owner", "other agent", "supervisor", "admin"];

fn expectations() -> BTreeMap<(&'static str, &'static str), Case> {
    let public = |body| Case {
        access: Access::Public,
        fixture: Fixture::None,
        body,
        answers: [OK; 4],
    };
    let user = |fixture, body, ok| Case {
        access: Access::Agent,
        fixture,
        body,
        answers: [ok; 4],
    };
    let admin = |fixture, body, ok| Case {
        access: Access::Admin,
        fixture,
        body,
        answers: [FORBIDDEN, FORBIDDEN, FORBIDDEN, ok],
    };
    // Supervisors' actions on others' work (R-8.5, R-8.7 … ): agents are refused.
    let supervisor = |fixture, body, ok| Case {
        access: Access::Supervisor,
        fixture,
        body,
        answers: [FORBIDDEN, FORBIDDEN, ok, ok],
    };
    // Supervisors and admins see every interaction but act only where they take part.
    let interaction = |fixture, body, owner, watcher| Case {
        access: Access::Agent,
        fixture,
        body,
        answers: [owner, HIDDEN, watcher, watcher],
    };
    use Body as B;
    use Fixture as F;
    let cases = vec![
        (("GET", "/healthz"), public(B::None)),
        (("GET", "/readyz"), public(B::None)),
        (("GET", "/metrics"), public(B::None)),
        (("GET", "/api/v1/openapi.json"), public(B::None)),
        // The agent desktop: the page, and its assets (the literals `{file}`, `{dir}/{file}` are no asset).
        (("GET", "/"), public(B::None)),
        (
            ("GET", "/assets/{file}"),
            Case {
                access: Access::Public,
                fixture: F::None,
                body: B::None,
                answers: [(404, "not_found"); 4],
            },
        ),
        (
            ("GET", "/assets/{dir}/{file}"),
            Case {
                access: Access::Public,
                fixture: F::None,
                body: B::None,
                answers: [(404, "not_found"); 4],
            },
        ),
        (("POST", "/api/v1/auth/login"), public(B::Login)),
        (
            ("POST", "/api/v1/auth/logout"),
            user(F::FreshSession, B::None, NO_CONTENT),
        ),
        (("GET", "/api/v1/me"), user(F::None, B::None, OK)),
        (
            ("PUT", "/api/v1/me/presence"),
            user(F::None, B::Presence, OK),
        ),
        (
            ("PUT", "/api/v1/me/stop-new"),
            user(F::None, B::StopNew, OK),
        ),
        (("GET", "/api/v1/directory"), user(F::None, B::None, OK)),
        (
            ("POST", "/api/v1/queues"),
            admin(F::None, B::NewQueue, CREATED),
        ),
        // Supervisors read queues and agents for the board; only admins change them.
        (("GET", "/api/v1/queues"), supervisor(F::None, B::None, OK)),
        (
            ("GET", "/api/v1/queues/{id}"),
            supervisor(F::Queue, B::None, OK),
        ),
        (
            ("PATCH", "/api/v1/queues/{id}"),
            admin(F::Queue, B::QueuePatch, OK),
        ),
        (
            ("DELETE", "/api/v1/queues/{id}"),
            admin(F::Queue, B::None, NO_CONTENT),
        ),
        (
            ("POST", "/api/v1/agents"),
            admin(F::None, B::NewAgent, CREATED),
        ),
        (("GET", "/api/v1/agents"), supervisor(F::None, B::None, OK)),
        (
            ("GET", "/api/v1/agents/{id}"),
            supervisor(F::User, B::None, OK),
        ),
        (("GET", "/api/v1/monitor"), supervisor(F::None, B::None, OK)),
        (
            ("PATCH", "/api/v1/agents/{id}"),
            admin(F::User, B::AgentPatch, OK),
        ),
        (
            ("DELETE", "/api/v1/agents/{id}"),
            admin(F::User, B::None, NO_CONTENT),
        ),
        (("GET", "/api/v1/settings"), admin(F::None, B::None, OK)),
        (
            ("POST", "/api/v1/channels"),
            admin(F::None, B::NewChannel, CREATED),
        ),
        (("GET", "/api/v1/channels"), admin(F::None, B::None, OK)),
        (
            ("GET", "/api/v1/channels/{id}"),
            admin(F::Channel, B::None, OK),
        ),
        (
            ("PATCH", "/api/v1/channels/{id}"),
            admin(F::Channel, B::ChannelPatch, OK),
        ),
        (
            ("DELETE", "/api/v1/channels/{id}"),
            admin(F::Channel, B::None, NO_CONTENT),
        ),
        // The external CRM's event queue is for operators.
        (("GET", "/api/v1/crm/events"), admin(F::None, B::None, OK)),
        (
            ("POST", "/api/v1/crm/events/{id}/retry"),
            admin(F::DeadCrmEvent, B::Empty, OK),
        ),
        // WhatsApp's endpoints are public but need the verify token or a valid signature.
        (
            ("GET", "/webhooks/whatsapp"),
            Case {
                access: Access::Public,
                fixture: F::None,
                body: B::None,
                answers: [(403, "verification_failed"); 4],
            },
        ),
        (
            ("POST", "/webhooks/whatsapp"),
            Case {
                access: Access::Public,
                fixture: F::None,
                body: B::Empty,
                answers: [(401, "invalid_signature"); 4],
            },
        ),
        (
            ("PATCH", "/api/v1/settings"),
            admin(F::None, B::Settings, OK),
        ),
        (("GET", "/api/v1/interactions"), user(F::None, B::None, OK)),
        (
            ("GET", "/api/v1/interactions/{id}"),
            interaction(F::Active, B::None, OK, OK),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/accept"),
            interaction(F::Offered, B::Empty, OK, NO_OFFER),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/reject"),
            interaction(F::Offered, B::Empty, OK, NO_OFFER),
        ),
        (
            ("GET", "/api/v1/interactions/{id}/messages"),
            interaction(F::Active, B::None, OK, OK),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/messages"),
            interaction(F::Active, B::Text, CREATED, NOT_ACTIVE),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/read"),
            interaction(F::Active, B::Empty, OK, NOT_ACTIVE),
        ),
        // A supervisor who does not own it reassigns it; after that the owner is in
        // wrap-up and the admin finds it queued, not active.
        (
            ("POST", "/api/v1/interactions/{id}/transfer"),
            Case {
                access: Access::Agent,
                fixture: F::Active,
                body: B::ToQueue,
                answers: [NOT_ACTIVE, HIDDEN, OK, NOT_ACTIVE],
            },
        ),
        (
            ("POST", "/api/v1/interactions/{id}/take-over"),
            supervisor(F::Active, B::Empty, OK),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/whisper"),
            supervisor(F::Active, B::Text, CREATED),
        ),
        // Silent watch and who is viewing: agents say so only of what they see.
        (
            ("POST", "/api/v1/interactions/{id}/watch"),
            supervisor(F::Active, B::None, OK),
        ),
        (
            ("DELETE", "/api/v1/interactions/{id}/watch"),
            supervisor(F::Active, B::None, NO_CONTENT),
        ),
        (
            ("PUT", "/api/v1/interactions/{id}/viewing"),
            interaction(F::Active, B::None, OK, OK),
        ),
        (
            ("DELETE", "/api/v1/interactions/{id}/viewing"),
            user(F::Active, B::None, NO_CONTENT),
        ),
        (
            ("PUT", "/api/v1/agents/{id}/presence"),
            supervisor(F::User, B::Presence, OK),
        ),
        (("GET", "/api/v1/audit"), supervisor(F::None, B::None, OK)),
        // Reports: the range is required, so a bare call is refused as unprocessable
        // (after the role check); `tests/api/reports.rs` calls them with their parameters.
        (
            ("GET", "/api/v1/reports/summary"),
            supervisor(F::None, B::None, (422, "invalid_time")),
        ),
        (
            ("GET", "/api/v1/reports/interactions"),
            supervisor(F::None, B::None, (422, "invalid_time")),
        ),
        (
            ("GET", "/api/v1/reports/agents/{id}/timeline"),
            supervisor(F::User, B::None, (422, "invalid_time")),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/conference"),
            interaction(F::Active, B::ToCarl, OK, NOT_ACTIVE),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/conference/end"),
            interaction(F::ConferenceRequested, B::Empty, OK, NOT_ACTIVE),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/end"),
            interaction(F::Active, B::Empty, OK, NOT_ACTIVE),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/wrap-up"),
            interaction(F::WrapUp, B::Empty, OK, (409, "not_in_wrap_up")),
        ),
        // Supervisors may annotate any interaction (coaching notes); an uninvolved agent may not.
        (
            ("POST", "/api/v1/interactions/{id}/notes"),
            interaction(F::Active, B::Text, CREATED, CREATED),
        ),
        (
            ("GET", "/api/v1/interactions/{id}/notes"),
            interaction(F::Active, B::None, OK, OK),
        ),
        // A message's media follows its interaction's visibility.
        (
            ("GET", "/api/v1/messages/{id}/media"),
            interaction(F::MediaMessage, B::None, OK, OK),
        ),
        // The CRM: contacts, their history and cases are every user's; merging is a
        // supervisor's; the screen pop, links and saved cases follow the interaction.
        (("GET", "/api/v1/contacts"), user(F::None, B::None, OK)),
        (
            ("POST", "/api/v1/contacts"),
            user(F::None, B::NewContact, CREATED),
        ),
        (
            ("GET", "/api/v1/contacts/{id}"),
            user(F::Contact, B::None, OK),
        ),
        (
            ("PATCH", "/api/v1/contacts/{id}"),
            user(F::Contact, B::ContactPatch, OK),
        ),
        (
            ("POST", "/api/v1/contacts/{id}/phones"),
            user(F::Contact, B::Phone, CREATED),
        ),
        (
            ("POST", "/api/v1/contacts/{id}/merge"),
            Case {
                access: Access::Supervisor,
                fixture: F::Contact,
                body: B::MergeMissing,
                answers: [FORBIDDEN, FORBIDDEN, (404, "not_found"), (404, "not_found")],
            },
        ),
        (
            ("GET", "/api/v1/contacts/{id}/interactions"),
            user(F::Contact, B::None, OK),
        ),
        (
            ("GET", "/api/v1/contacts/{id}/cases"),
            user(F::Contact, B::None, OK),
        ),
        (
            ("GET", "/api/v1/interactions/{id}/screen-pop"),
            interaction(F::Active, B::None, OK, OK),
        ),
        (
            ("PUT", "/api/v1/interactions/{id}/contact"),
            interaction(F::Active, B::Unlink, OK, OK),
        ),
        (
            ("POST", "/api/v1/interactions/{id}/case"),
            interaction(F::Active, B::Empty, CREATED, CREATED),
        ),
        // A number that cannot be placed: checked before anything opens, for everyone.
        (
            ("POST", "/api/v1/interactions"),
            user(F::None, B::BadPhone, (422, "invalid_phone")),
        ),
        (("GET", "/api/v1/cases"), user(F::None, B::None, OK)),
        (("GET", "/api/v1/cases/{id}"), user(F::Case, B::None, OK)),
        (
            ("PATCH", "/api/v1/cases/{id}"),
            user(F::Case, B::CaseSubject, OK),
        ),
        (("GET", "/api/v1/conversations"), user(F::None, B::None, OK)),
        // Without ?q= there is nothing to search for.
        (
            ("GET", "/api/v1/search"),
            user(F::None, B::None, (400, "invalid_query")),
        ),
        // Templates: anyone logged in reads them; admins map variables and sync (no channel
        // here has a business account, so a sync has nothing to do).
        (("GET", "/api/v1/templates"), user(F::None, B::None, OK)),
        (
            ("GET", "/api/v1/templates/{id}"),
            user(F::Template, B::None, OK),
        ),
        (
            ("PATCH", "/api/v1/templates/{id}"),
            admin(F::Template, B::TemplatePatch, OK),
        ),
        (
            ("POST", "/api/v1/templates/sync"),
            admin(F::None, B::Empty, OK),
        ),
        // A template's preview in an interaction follows the interaction's visibility.
        (
            (
                "GET",
                "/api/v1/interactions/{id}/templates/{template_id}/preview",
            ),
            interaction(F::Active, B::None, OK, OK),
        ),
        // The websocket is checked with a real upgrade: 200 here means "the socket opens".
        (("GET", "/api/v1/ws"), user(F::None, B::None, OK)),
    ];
    let n = cases.len();
    let map: BTreeMap<_, _> = cases.into_iter().collect();
    assert_eq!(
        map.len(),
        n,
        "an endpoint is listed twice in the expectations"
    );
    map
}

struct Ctx {
    server: Server,
    anon: Api,
    /// owner, other agent, supervisor, admin
    users: [Api; 4],
    usernames: [&'static str; 4],
    queue: String,
    other_queue: String,
    carl: String,
    /// A stored message template (`{template_id}` of paths).
    template: String,
    counter: AtomicUsize,
}

impl Ctx {
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn owner(&self) -> &Api {
        &self.users[0]
    }

    fn admin(&self) -> &Api {
        &self.users[3]
    }

    fn body(&self, b: Body) -> Option<Value> {
        let n = self.next();
        match b {
            Body::None => None,
            Body::Empty => Some(json!({})),
            Body::Login => Some(json!({"username": "carl", "password": PASSWORD})),
            Body::NewQueue => Some(json!({"name": format!("Matrix queue {n}")})),
            Body::QueuePatch => Some(json!({"priority": 7, "sla_response_s": 90})),
            Body::NewAgent => Some(
                json!({"username": format!("new{n}"), "password": PASSWORD, "display_name": "New", "role": "agent"}),
            ),
            Body::AgentPatch => {
                Some(json!({"display_name": format!("Renamed {n}"), "capacity": 4}))
            }
            Body::Settings => Some(json!({"transcript_interactions_count": 2})),
            Body::Presence => Some(json!({"presence": "available"})),
            Body::StopNew => Some(json!({"stop_new": false})),
            Body::Text => Some(json!({"text": format!("text {n}")})),
            Body::ToQueue => Some(json!({"queue_id": self.other_queue})),
            Body::ToCarl => Some(json!({"agent_id": self.carl})),
            Body::NewChannel => Some(
                json!({"kind": "whatsapp", "phone_number_id": format!("9{n:08}"),
                "display_phone_number": "15550100", "access_token": "t", "app_secret": "s",
                "verify_token": "v", "queue_id": self.queue}),
            ),
            Body::ChannelPatch => Some(json!({"display_phone_number": format!("1555{n:04}")})),
            Body::NewContact => {
                Some(json!({"name": format!("Contact {n}"), "phones": [format!("+49151{n:08}")]}))
            }
            Body::ContactPatch => Some(json!({"email": format!("c{n}@example.com")})),
            Body::Phone => Some(json!({"number": format!("+49152{n:08}")})),
            Body::MergeMissing => Some(json!({"from": "con_missing"})),
            Body::Unlink => Some(json!({"contact_id": null})),
            Body::CaseSubject => Some(json!({"subject": format!("Case {n}")})),
            Body::BadPhone => Some(json!({"phone": "12"})),
            Body::TemplatePatch => Some(json!({"variable_map": {"1": "contact.first_name"}})),
        }
    }

    /// Creates what the path's `{id}` names, in the state the case needs.
    async fn fixture(&self, f: Fixture) -> Option<String> {
        let n = self.next();
        let owner = self.owner();
        let interaction = |state: &'static str| async move {
            // A reject leaves the owner in RONA: back to available before each new offer.
            owner.available().await;
            let id = self
                .server
                .ingest(&self.queue, &format!("49170{n:06}"), "Mia", "hello")
                .await
                .interaction_id
                .0;
            assert_eq!(
                owner.interaction(&id).await["state"],
                "offered",
                "routed to the owner at once"
            );
            if state != "offered" {
                owner
                    .ok(&format!("/api/v1/interactions/{id}/accept"), json!({}))
                    .await;
            }
            id
        };
        match f {
            Fixture::None | Fixture::FreshSession => None,
            Fixture::Offered => Some(interaction("offered").await),
            Fixture::Active => Some(interaction("active").await),
            Fixture::ConferenceRequested => {
                let id = interaction("active").await;
                owner
                    .ok(
                        &format!("/api/v1/interactions/{id}/conference"),
                        json!({"agent_id": self.carl}),
                    )
                    .await;
                Some(id)
            }
            Fixture::WrapUp => {
                let id = interaction("active").await;
                owner
                    .ok(&format!("/api/v1/interactions/{id}/end"), json!({}))
                    .await;
                assert_eq!(owner.interaction(&id).await["state"], "wrap_up");
                Some(id)
            }
            Fixture::Queue => {
                Some(queue(self.admin(), json!({"name": format!("Fixture queue {n}")})).await)
            }
            Fixture::User => Some(agent(self.admin(), &format!("victim{n}"), 3, false, &[]).await),
            Fixture::MediaMessage => {
                let id = interaction("active").await;
                let (s, m) = owner
                    .multipart(
                        &format!("/api/v1/interactions/{id}/messages"),
                        &[Part::file(
                            "file",
                            "p.png",
                            "image/png",
                            switchboard_simulator::TINY_PNG,
                        )],
                    )
                    .await;
                assert_eq!(s, 201, "{m}");
                Some(string(&m["id"]))
            }
            Fixture::Contact => {
                let v = self
                    .admin()
                    .ok(
                        "/api/v1/contacts",
                        json!({"name": format!("Fixture contact {n}")}),
                    )
                    .await;
                Some(string(&v["id"]))
            }
            Fixture::Case => {
                let id = interaction("active").await;
                let v = owner
                    .ok(&format!("/api/v1/interactions/{id}/case"), json!({}))
                    .await;
                Some(string(&v["id"]))
            }
            Fixture::DeadCrmEvent => Some(dead_crm_event(&self.server, &format!("c{n}"), 1).await),
            Fixture::Template => Some(self.template.clone()),
            Fixture::Channel => {
                let body = self.body(Body::NewChannel);
                let v = self
                    .admin()
                    .ok("/api/v1/channels", body.unwrap_or_default())
                    .await;
                Some(string(&v["id"]))
            }
        }
    }
}

async fn setup(db: Db) -> Ctx {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Matrix"})).await;
    let other_queue = queue(&admin, json!({"name": "Elsewhere"})).await;
    agent(&admin, "ann", 100, true, &[&q]).await;
    agent(&admin, "oscar", 100, true, &[]).await;
    let carl = agent(&admin, "carl", 100, false, &[]).await;
    supervisor(&admin, "sue").await;
    let owner = server.login("ann", PASSWORD).await;
    let other = server.login("oscar", PASSWORD).await;
    let sup = server.login("sue", PASSWORD).await;
    server.login("carl", PASSWORD).await.available().await;
    owner.available().await;
    let template = stored_template(&server).await;
    Ctx {
        template,
        anon: server.anon(),
        users: [owner, other, sup, admin],
        usernames: ["ann", "oscar", "sue", "admin"],
        queue: q,
        other_queue,
        carl,
        counter: AtomicUsize::new(0),
        server,
    }
}

/// Stores a message template as a sync would (the matrix runs without WhatsApp).
async fn stored_template(server: &Server) -> String {
    use switchboard_server::Clock;
    let now = server.clock.now();
    let t = switchboard_store::TemplateRecord {
        id: "tpl_matrix".into(),
        channel_id: "chn_matrix".into(),
        waba_id: "waba_matrix".into(),
        wa_template_id: Some("1".into()),
        name: "matrix_notice".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        status: "APPROVED".into(),
        parameter_format: "POSITIONAL".into(),
        components: json!([{"type": "BODY", "text": "Hello {{1}}"}]),
        variable_map: json!({}),
        rejected_reason: None,
        deleted: false,
        synced_at: now,
        created_at: now,
        updated_at: now,
    };
    server
        .state
        .store
        .sync_templates("waba_matrix", std::slice::from_ref(&t), now)
        .await
        .expect("template stored");
    t.id
}

/// Opens the websocket (optionally with a token): the status of the upgrade answer and, when
/// refused, its body.
async fn ws_open(base: &str, token: Option<&str>) -> (u16, Value) {
    let mut url = format!("{}/api/v1/ws", base.replace("http://", "ws://"));
    if let Some(t) = token {
        url.push_str(&format!("?token={t}"));
    }
    match tokio_tungstenite::connect_async(url).await {
        Ok((mut stream, resp)) => {
            use futures_util::StreamExt;
            assert_eq!(resp.status().as_u16(), 101);
            let first = stream.next().await.expect("a first frame").expect("frame");
            let v: Value = serde_json::from_str(first.to_text().expect("text")).expect("json");
            assert_eq!(v["type"], "hello", "{v}");
            let _ = stream.close(None).await;
            (200, Value::Null)
        }
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            (resp.status().as_u16(), body)
        }
        Err(e) => panic!("websocket connect failed without an HTTP answer: {e}"),
    }
}

fn check(who: &str, method: &str, path: &str, got: (u16, &Value), want: Ans) {
    let (status, body) = got;
    assert_eq!(
        status, want.0,
        "{method} {path} as {who}: expected {want:?}, got {status} {body}"
    );
    if want.1.is_empty() {
        assert!(
            body["error"]["code"].is_null(),
            "{method} {path} as {who}: {body}"
        );
    } else {
        assert_error(status, body, want.0, want.1);
    }
}

async fn run(db: Db) {
    let cx = setup(db).await;
    let table = endpoint_list();
    let expect = expectations();

    // Every endpoint of the table has an expectation (and nothing is expected of a vanished one).
    let missing: Vec<String> = table
        .iter()
        .filter(|(m, p, _)| !expect.contains_key(&(*m, *p)))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "endpoints without a role-matrix expectation: {missing:?}"
    );
    let stale: Vec<String> = expect
        .keys()
        .filter(|k| !table.iter().any(|(m, p, _)| (m, p) == (&k.0, &k.1)))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        stale.is_empty(),
        "expectations for endpoints that do not exist: {stale:?}"
    );

    for (method, path, access) in &table {
        let case = &expect[&(*method, *path)];
        assert_eq!(
            *access, case.access,
            "{method} {path}: access in the table differs from the matrix"
        );
        let id = cx.fixture(case.fixture).await;
        let path_with = |id: &str| {
            path.replace("{id}", id)
                .replace("{template_id}", &cx.template)
        };
        let url = match &id {
            Some(id) => path_with(id),
            None => (*path).to_owned(),
        };

        // Anonymous: public endpoints answer, everything else is 401.
        let anon_want = if case.access == Access::Public {
            case.answers[0]
        } else {
            (401, "unauthorized")
        };
        if *path == "/api/v1/ws" {
            let (s, body) = ws_open(&cx.server.base, None).await;
            assert_eq!(s, 401, "anonymous websocket upgrade: {body}");
            if !body.is_null() {
                assert_error(s, &body, 401, "unauthorized");
            }
            let (s, body) = ws_open(&cx.server.base, Some("not-a-token")).await;
            assert_eq!(s, 401, "websocket upgrade with a bad token: {body}");
        } else {
            let (s, v) = cx.anon.call(method, &url, cx.body(case.body)).await;
            check("anonymous", method, &url, (s, &v), anon_want);
        }

        // The logged-in callers; the owner last, since their success changes the fixture.
        for i in [1, 2, 3, 0] {
            let want = case.answers[i];
            let (s, v) = if *path == "/api/v1/ws" {
                ws_open(&cx.server.base, cx.users[i].token.as_deref()).await
            } else if case.fixture == Fixture::FreshSession {
                let api = cx
                    .server
                    .login(
                        cx.usernames[i],
                        if i == 3 { ADMIN_PASSWORD } else { PASSWORD },
                    )
                    .await;
                let answer = api.call(method, &url, cx.body(case.body)).await;
                if answer.0 < 300 {
                    let (s, v) = api.get("/api/v1/me").await;
                    assert_error(s, &v, 401, "unauthorized");
                }
                answer
            } else {
                cx.users[i].call(method, &url, cx.body(case.body)).await
            };
            check(WHO[i], method, &url, (s, &v), want);
        }

        // An uninvolved agent's answer is exactly a missing id's answer: nothing leaks.
        if path.starts_with("/api/v1/interactions/{id}") {
            let other_id = cx.fixture(case.fixture).await.expect("fixture id");
            let (s1, v1) = cx.users[1]
                .call(method, &path_with(&other_id), cx.body(case.body))
                .await;
            let (s2, v2) = cx.users[1]
                .call(method, &path_with("int_missing"), cx.body(case.body))
                .await;
            assert_eq!(
                (s1, &v1),
                (s2, &v2),
                "{method} {path}: hidden and missing differ"
            );
            let (s3, v3) = cx
                .owner()
                .call(method, &path_with("int_missing"), cx.body(case.body))
                .await;
            assert_eq!(
                (s3, &v3),
                (s2, &v2),
                "{method} {path}: missing differs between callers"
            );
        } else if path.contains("{id}") {
            let (s, v) = cx
                .admin()
                .call(method, &path_with("missing"), cx.body(case.body))
                .await;
            assert_error(s, &v, 404, "not_found");
        }
    }

    // The list: an agent sees their own; `?all=true` is for supervisors and admins, who see all.
    let owned = cx.fixture(Fixture::Active).await.expect("id");
    for (i, want) in [(0, FORBIDDEN), (1, FORBIDDEN), (2, OK), (3, OK)] {
        let (s, v) = cx.users[i].get("/api/v1/interactions?all=true").await;
        check(
            WHO[i],
            "GET",
            "/api/v1/interactions?all=true",
            (s, &v),
            want,
        );
        if s == 200 {
            assert!(
                v.as_array()
                    .expect("list")
                    .iter()
                    .any(|i| i["id"] == owned.as_str()),
                "{v}"
            );
        }
    }
    let (_, mine) = cx.owner().get("/api/v1/interactions").await;
    assert!(mine
        .as_array()
        .expect("list")
        .iter()
        .any(|i| i["id"] == owned.as_str()));
    let (_, theirs) = cx.users[1].get("/api/v1/interactions").await;
    assert!(
        !theirs
            .as_array()
            .expect("list")
            .iter()
            .any(|i| i["id"] == owned.as_str()),
        "{theirs}"
    );

    // Once an interaction is finished the rule still holds (it is read from the store then).
    cx.owner()
        .ok(&format!("/api/v1/interactions/{owned}/end"), json!({}))
        .await;
    cx.owner()
        .ok(&format!("/api/v1/interactions/{owned}/wrap-up"), json!({}))
        .await;
    for (i, want) in [(0, OK), (1, HIDDEN), (2, OK), (3, OK)] {
        for sub in ["", "/messages", "/notes"] {
            let p = format!("/api/v1/interactions/{owned}{sub}");
            let (s, v) = cx.users[i].get(&p).await;
            check(WHO[i], "GET", &p, (s, &v), want);
        }
    }
    let (s, v) = cx.users[2]
        .get("/api/v1/interactions?all=true&state=done")
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v.as_array()
            .expect("list")
            .iter()
            .any(|i| i["id"] == owned.as_str()),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_each_role_as_the_matrix_says() {
    for db in backends() {
        eprintln!("backend: {}", db.name());
        run(db).await;
    }
}
