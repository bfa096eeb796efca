//! WhatsApp message templates end to end, against the Cloud API simulator: the sync (with
//! paging, deletions, start-up and periodic runs, and WhatsApp unreachable), status webhooks, the
//! preview with prefilled variables, sending outside the 24-hour window exactly as WhatsApp
//! expects, the header image, the customer's button tap, and every refusal.

use crate::support::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_simulator::{
    SimulatorHandle, TemplateStatus, DEFAULT_ACCESS_TOKEN, DEFAULT_WABA_ID, TINY_PNG,
};

const SECRET: &str = "app-secret-for-template-tests";
const WAIT: Duration = Duration::from_secs(10);
/// Templates of the simulated account (see `switchboard_simulator::default_templates`).
const DEFAULT_TEMPLATES: usize = 9;

struct Tpl {
    server: Server,
    sim: SimulatorHandle,
    admin: Api,
    ann: Api,
    ws: Ws,
    channel: String,
}

/// A server talking to a fresh simulator, one queue, one channel with the simulator's business
/// account, and Ann (available, watching her websocket). `sync`: templates synced already.
async fn setup(db: Db, sync: bool) -> Tpl {
    let (server, sim) = start_with_simulator(
        db,
        SECRET,
        // Small pages, so that a sync has to follow `paging.next` several times.
        |config| config.templates_page_size = 2,
        // Sessions outlast the jumps past the 24-hour window.
        vec![("SWITCHBOARD_SERVER__SESSION_TTL_HOURS", "72".to_owned())],
    )
    .await;
    let admin = server.admin().await;
    let queue = queue(
        &admin,
        json!({"name": "Notifications", "acceptance_interval_s": 600}),
    )
    .await;
    let mut channel = simulator_channel(SECRET, &queue);
    channel["waba_id"] = json!(DEFAULT_WABA_ID);
    let ch = admin.ok("/api/v1/channels", channel).await;
    agent(&admin, "ann", 10, true, &[&queue]).await;
    let ann = server.login("ann", PASSWORD).await;
    let ws = ann.ws(None).await;
    ann.available().await;
    let t = Tpl {
        server,
        sim,
        admin,
        ann,
        ws,
        channel: string(&ch["id"]),
    };
    if sync {
        let v = t.admin.ok("/api/v1/templates/sync", json!({})).await;
        assert_eq!(v["accounts"][0]["listed"], DEFAULT_TEMPLATES, "{v}");
    }
    t
}

/// The id of the synced template `name`.
async fn template_id(api: &Api, name: &str) -> String {
    let v = api
        .get_ok(&format!("/api/v1/templates?q={name}&include_deleted=true"))
        .await;
    v.as_array()
        .expect("list")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("template {name} listed: {v}"))
        .to_owned()
}

/// Waits for an offer of an interaction with the customer `wa_id` (`what` names it if it never
/// comes); its interaction id.
async fn offered(ws: &mut Ws, wa_id: &str, what: &str) -> String {
    let w = wa_id.to_owned();
    let f = ws
        .expect(what, move |f| {
            f.kind == "offer.created" && f.data["customer_number"] == w.as_str()
        })
        .await;
    string(&f.data["interaction_id"])
}

/// The customer writes; Ann is offered and accepts. Returns the interaction id.
async fn conversation(t: &mut Tpl, wa_id: &str, name: &str) -> String {
    let m = customer_writes(&t.sim, wa_id, name, "Hello").await;
    assert_eq!(m.status, 200);
    let id = offered(&mut t.ws, wa_id, "offer").await;
    t.ann.act(&id, "accept").await;
    id
}

async fn expect_status(ws: &mut Ws, message: &str, status: &str) -> Frame {
    let (m, s) = (message.to_owned(), status.to_owned());
    let f = ws
        .expect(&format!("{message} {status}"), move |f| {
            f.kind == "message.updated"
                && f.data["id"] == m.as_str()
                && f.data["status"] == s.as_str()
        })
        .await;
    // A status change leaves the rest as it was: no null that a client would merge over the
    // template's payload (header, body, footer, buttons) or the WhatsApp id.
    assert_ne!(f.data.get("payload"), Some(&Value::Null), "{}", f.data);
    assert_ne!(
        f.data.get("wa_message_id"),
        Some(&Value::Null),
        "{}",
        f.data
    );
    f
}

async fn messages_of(api: &Api, interaction: &str) -> Vec<Value> {
    let (s, v) = api.messages(interaction).await;
    assert_eq!(s, 200, "{v}");
    v["messages"].as_array().expect("messages").clone()
}

/// Polls the template list until `pred` holds (the sync services run on their own).
async fn wait_for_templates(api: &Api, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = api.get_ok("/api/v1/templates?include_deleted=true").await;
        let list = v.as_array().expect("list").clone();
        if pred(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// PATCH that must succeed.
async fn patch_ok(api: &Api, path: &str, body: Value) -> Value {
    let (s, v) = api.patch(path, body).await;
    assert_eq!(s, 200, "PATCH {path}: {v}");
    v
}

fn by_name<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list:?}"))
}

// ------------------------------------------------------------------------------------ sync

async fn sync_pages_and_deletes(db: Db) {
    let t = setup(db, false).await;
    // Nothing before the first sync (the start-up sync ran before the channel existed).
    let (s, v) = t.ann.get("/api/v1/templates").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");

    let v = t.admin.ok("/api/v1/templates/sync", json!({})).await;
    let account = &v["accounts"][0];
    assert_eq!(account["waba_id"], DEFAULT_WABA_ID);
    assert_eq!(account["channel_id"], t.channel.as_str());
    assert_eq!(account["ok"], true);
    assert_eq!(
        account["listed"], DEFAULT_TEMPLATES,
        "all five pages were read"
    );
    assert_eq!(account["added"], DEFAULT_TEMPLATES);

    let (_, list) = t.ann.get("/api/v1/templates").await;
    let list = list.as_array().expect("list").clone();
    assert_eq!(list.len(), DEFAULT_TEMPLATES);
    let order = by_name(&list, "order_update");
    assert_eq!(order["status"], "APPROVED");
    assert_eq!(order["category"], "UTILITY");
    assert_eq!(order["language"], "en_US");
    assert_eq!(order["sendable"], true);
    assert_eq!(
        order["body"],
        "Your order {{1}} has been updated. Tap below if you have a question."
    );
    assert_eq!(
        order["buttons"][0],
        json!({"index": 0, "type": "QUICK_REPLY", "text": "Talk to an agent"})
    );
    assert_eq!(order["variables"][0]["key"], "body.1");
    let flash = by_name(&list, "flash_offer");
    assert_eq!(
        (flash["status"].as_str(), flash["sendable"].as_bool()),
        (Some("REJECTED"), Some(false))
    );
    assert_eq!(flash["rejected_reason"], "PROMOTIONAL");
    let reminder = by_name(&list, "appointment_reminder");
    let keys = strings(&reminder["variables"], "key");
    assert_eq!(keys, ["header.1", "body.1", "body.2", "body.3", "button.2"]);
    assert_eq!(reminder["buttons"][2]["type"], "URL");
    assert_eq!(
        reminder["header"],
        json!({"format": "TEXT", "text": "Appointment {{1}}"})
    );
    let notice = by_name(&list, "account_notice");
    assert_eq!(notice["parameter_format"], "NAMED");
    assert_eq!(notice["variables"][1]["key"], "body.ticket_id");

    // Filters: status (any case), name, channel.
    let (_, approved) = t.ann.get("/api/v1/templates?status=approved").await;
    assert_eq!(approved.as_array().map(Vec::len), Some(5), "{approved}");
    let (_, found) = t.ann.get("/api/v1/templates?q=ORDER").await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let (_, on_channel) = t
        .ann
        .get(&format!("/api/v1/templates?channel_id={}", t.channel))
        .await;
    assert_eq!(on_channel.as_array().map(Vec::len), Some(DEFAULT_TEMPLATES));
    let (s, v) = t.ann.get("/api/v1/templates?channel_id=chn_nope").await;
    assert_error(s, &v, 422, "unknown_channel");
    let (s, v) = t.ann.get("/api/v1/templates?status=ok%27%20OR").await;
    assert_error(s, &v, 422, "invalid_status");
    let id = order["id"].as_str().expect("id");
    let (s, one) = t.ann.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!((s, &one["name"]), (200, &json!("order_update")));

    // A sync again changes nothing; a template WhatsApp stops listing is kept, deleted.
    let v = t
        .admin
        .ok("/api/v1/templates/sync", json!({"channel_id": t.channel}))
        .await;
    assert_eq!(v["accounts"][0]["unchanged"], DEFAULT_TEMPLATES, "{v}");
    let mut remaining = t.sim.templates();
    remaining.retain(|x| x.name != "order_update");
    t.sim.set_templates(remaining);
    let v = t.admin.ok("/api/v1/templates/sync", json!({})).await;
    assert_eq!(v["accounts"][0]["deleted"], 1, "{v}");
    let (_, list) = t.ann.get("/api/v1/templates").await;
    assert_eq!(list.as_array().map(Vec::len), Some(DEFAULT_TEMPLATES - 1));
    let (_, gone) = t.ann.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(
        (gone["deleted"].as_bool(), gone["sendable"].as_bool()),
        (Some(true), Some(false))
    );
    // Listed again: the same template (same id), sendable again.
    t.sim
        .set_templates(switchboard_simulator::default_templates());
    t.admin.ok("/api/v1/templates/sync", json!({})).await;
    let (_, back) = t.ann.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(
        (back["deleted"].as_bool(), back["sendable"].as_bool()),
        (Some(false), Some(true))
    );

    // WhatsApp refusing the token: 502 with the reason; nothing already stored is lost.
    patch_ok(
        &t.admin,
        &format!("/api/v1/channels/{}", t.channel),
        json!({"access_token": "revoked"}),
    )
    .await;
    let (s, v) = t.admin.post("/api/v1/templates/sync", json!({})).await;
    assert_error(s, &v, 502, "sync_failed");
    assert_eq!(v["error"]["accounts"][0]["ok"], false, "{v}");
    let (_, list) = t.ann.get("/api/v1/templates").await;
    assert_eq!(list.as_array().map(Vec::len), Some(DEFAULT_TEMPLATES));
    // A channel without a business account cannot be synced.
    patch_ok(
        &t.admin,
        &format!("/api/v1/channels/{}", t.channel),
        json!({"access_token": DEFAULT_ACCESS_TOKEN}),
    )
    .await;
    let (s, v) = t
        .admin
        .post("/api/v1/templates/sync", json!({"channel_id": "chn_nope"}))
        .await;
    assert_error(s, &v, 422, "unknown_channel");
    let (s, v) = t
        .admin
        .post("/api/v1/templates/sync", json!({"channel": "x"}))
        .await;
    assert_error(s, &v, 422, "invalid_body");
}

async fn startup_and_periodic_sync(db: Db) {
    let mut t = setup(db, false).await;
    // The periodic sync (every hour by default) runs on the server's clock.
    t.server.clock.advance_secs(3601);
    wait_for_templates(&t.ann, "the periodic sync", |l| {
        l.len() == DEFAULT_TEMPLATES
    })
    .await;

    // A template approved meanwhile is there after a restart (the start-up sync).
    t.sim.upsert_template(
        switchboard_simulator::Template::new(
            "welcome_back",
            "de",
            switchboard_simulator::TemplateCategory::Utility,
        )
        .body("Willkommen zurück, {{1}}!"),
    );
    let db = t.server.db.clone();
    let clock = t.server.clock.clone();
    t.server.stop().await;
    t.server = Server::start_full(
        db.clone(),
        clock.clone(),
        vec![(
            "SWITCHBOARD_WHATSAPP__GRAPH_API_BASE",
            t.sim.graph_api_base(),
        )],
        None,
    )
    .await;
    let ann = t.server.login("ann", PASSWORD).await;
    let list = wait_for_templates(&ann, "the start-up sync", |l| {
        l.len() == DEFAULT_TEMPLATES + 1
    })
    .await;
    assert_eq!(by_name(&list, "welcome_back")["language"], "de");

    // WhatsApp unreachable at start-up: the server starts and serves all the same.
    t.server.stop().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    t.server = Server::start_full(
        db,
        clock,
        vec![(
            "SWITCHBOARD_WHATSAPP__GRAPH_API_BASE",
            format!("http://{dead}/v21.0"),
        )],
        None,
    )
    .await;
    let (s, _) = t.server.anon().get("/readyz").await;
    assert_eq!(s, 200);
    let admin = t.server.admin().await;
    let (s, list) = admin.get("/api/v1/templates").await;
    assert_eq!(
        (s, list.as_array().map(Vec::len)),
        (200, Some(DEFAULT_TEMPLATES + 1))
    );
    let (s, v) = admin.post("/api/v1/templates/sync", json!({})).await;
    assert_error(s, &v, 502, "sync_failed");
}

// ------------------------------------------------------------------------- status webhooks

async fn status_webhook_pauses(db: Db) {
    let mut t = setup(db, true).await;
    let id = conversation(&mut t, "4915000000001", "Pia").await;
    let order = template_id(&t.ann, "order_update").await;
    let send = json!({"template": {"id": order, "variables": {"1": "A-1"}}});

    // WhatsApp pauses the template: its webhook moves the status, and sending is refused.
    let answer = t
        .sim
        .set_template_status("order_update", "en_US", TemplateStatus::Paused, None)
        .await
        .expect("webhook");
    assert_eq!(answer, 200);
    let (_, v) = t.ann.get(&format!("/api/v1/templates/{order}")).await;
    assert_eq!(v["status"], "PAUSED");
    assert_eq!(v["sendable"], false);
    assert!(
        v["rejected_reason"]
            .as_str()
            .is_some_and(|r| r.contains("paused")),
        "{v}"
    );
    let (s, body) = t
        .ann
        .post(&format!("/api/v1/interactions/{id}/messages"), send.clone())
        .await;
    assert_error(s, &body, 422, "template_not_approved");
    assert_eq!(body["error"]["status"], "PAUSED");
    let (_, preview) = t
        .ann
        .get(&format!(
            "/api/v1/interactions/{id}/templates/{order}/preview"
        ))
        .await;
    assert_eq!(preview["sendable"], false);
    assert_eq!(preview["not_sendable"]["code"], "template_not_approved");

    // Approved again: it goes out.
    t.sim
        .set_template_status("order_update", "en_US", TemplateStatus::Approved, None)
        .await
        .expect("webhook");
    let m = t
        .ann
        .ok(&format!("/api/v1/interactions/{id}/messages"), send)
        .await;
    expect_status(&mut t.ws, m["id"].as_str().expect("id"), "read").await;

    // Rejected in review, with WhatsApp's reason.
    t.sim
        .set_template_status(
            "order_update",
            "en_US",
            TemplateStatus::Rejected,
            Some("INVALID_FORMAT"),
        )
        .await
        .expect("webhook");
    let (_, v) = t.ann.get(&format!("/api/v1/templates/{order}")).await;
    assert_eq!(
        (v["status"].as_str(), v["rejected_reason"].as_str()),
        (Some("REJECTED"), Some("INVALID_FORMAT"))
    );

    // Never sendable: pending, rejected, disabled.
    for name in ["spring_sale", "flash_offer", "legacy_promo"] {
        let tid = template_id(&t.ann, name).await;
        let (s, body) = t
            .ann
            .try_act(
                &id,
                "messages",
                json!({"template": {"id": tid, "variables": {"1": "x"}}}),
            )
            .await;
        assert_error(s, &body, 422, "template_not_approved");
    }
    assert_eq!(
        t.sim.sent_messages().len(),
        1,
        "refused sends never reach WhatsApp"
    );

    // A status webhook of an account no channel has changes nothing (and is still answered 200).
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{
        "id": "999999", "time": 1, "changes": [{"field": "message_template_status_update",
        "value": {"event": "DISABLED", "message_template_id": 1, "message_template_name": "order_update",
                  "message_template_language": "en_US", "reason": "NONE"}}]}]}))
    .expect("json");
    let r = post_signed_webhook(&t.server, SECRET, body).await;
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = t.ann.get(&format!("/api/v1/templates/{order}")).await;
    assert_eq!(v["status"], "REJECTED");
}

// ------------------------------------------------------------------------------------ send

async fn outside_the_window_and_a_tap(db: Db) {
    let mut t = setup(db, true).await;
    let wa_id = "4915000000002";
    let id = conversation(&mut t, wa_id, "Kerry").await;
    let reminder = template_id(&t.ann, "appointment_reminder").await;
    // The admin maps the first body variable to the contact's first name.
    let v = t
        .admin
        .patch_ok(
            &format!("/api/v1/templates/{reminder}"),
            json!({"variable_map": {"1": "contact.first_name", "button.2": null}}),
        )
        .await;
    assert_eq!(v["variable_map"], json!({"body.1": "contact.first_name"}));
    // The contact made from Kerry's profile is the one prefill reads: a change shows at once.
    let (_, pop) = t
        .ann
        .get(&format!("/api/v1/interactions/{id}/screen-pop"))
        .await;
    let contact = string(&pop["contact"]["id"]);
    t.ann
        .patch_ok(
            &format!("/api/v1/contacts/{contact}"),
            json!({"first_name": "Kez"}),
        )
        .await;

    // A day and more later: texts are refused, a template is the way.
    t.server.clock.advance_secs(25 * 3600);
    let (s, body) = t.ann.try_act(&id, "messages", json!({"text": "hi?"})).await;
    assert_error(s, &body, 422, "template_required");

    let p = t
        .ann
        .get_ok(&format!(
            "/api/v1/interactions/{id}/templates/{reminder}/preview"
        ))
        .await;
    assert_eq!(p["sendable"], true);
    assert_eq!(p["contact"]["first_name"], "Kez");
    assert_eq!(p["contact"]["id"], contact.as_str());
    assert_eq!(p["contact"]["phones"][0]["number"], format!("+{wa_id}"));
    let var = |key: &str| {
        p["variables"]
            .as_array()
            .expect("variables")
            .iter()
            .find(|v| v["key"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(var("body.1")["value"], "Kez");
    assert_eq!(var("body.1")["source"], "contact.first_name");
    assert_eq!(var("body.2")["value"], Value::Null);
    assert_eq!(
        p["missing"],
        json!(["header.1", "body.2", "body.3", "button.2"])
    );
    assert_eq!(
        p["text"],
        "Hi Kez, this is a reminder of your appointment on {{2}} at {{3}}."
    );
    assert_eq!(p["footer"], Value::Null);
    assert_eq!(p["buttons"].as_array().map(Vec::len), Some(3));

    let m = t
        .ann.act_with(&id, "messages", json!({"template": {"id": reminder, "variables": {
                "header.1": "#4", "1": "Kerry", "body.2": "May 3", "3": "10:00", "button.2": "a-17"}}})).await;
    assert_eq!(m["type"], "template");
    assert_eq!(m["status"], "queued");
    assert_eq!(
        m["text"],
        "Hi Kerry, this is a reminder of your appointment on May 3 at 10:00."
    );
    assert_eq!(m["payload"]["template"]["name"], "appointment_reminder");
    assert_eq!(
        m["payload"]["header"],
        json!({"format": "TEXT", "text": "Appointment #4"})
    );
    assert_eq!(
        m["payload"]["buttons"],
        json!([{"index": 0, "type": "QUICK_REPLY", "text": "Confirm"},
               {"index": 1, "type": "QUICK_REPLY", "text": "Change date"},
               {"index": 2, "type": "URL", "text": "Manage", "url": "https://example.com/appointments/a-17"}])
    );
    let message_id = string(&m["id"]);

    // Exactly what WhatsApp expects.
    let sent = t.sim.wait_for_accepted(1, WAIT).await.expect("accepted");
    assert_eq!(
        sent[0].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": wa_id,
            "type": "template",
            "template": {
                "name": "appointment_reminder",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "text", "text": "#4"}]},
                    {"type": "body", "parameters": [
                        {"type": "text", "text": "Kerry"},
                        {"type": "text", "text": "May 3"},
                        {"type": "text", "text": "10:00"}]},
                    {"type": "button", "sub_type": "url", "index": "2",
                     "parameters": [{"type": "text", "text": "a-17"}]}
                ]
            }
        })
    );
    assert_eq!(sent[0].token, DEFAULT_ACCESS_TOKEN);
    let wamid = sent[0].wamid().expect("wamid").to_owned();
    expect_status(&mut t.ws, &message_id, "read").await;
    let stored = messages_of(&t.ann, &id).await;
    let stored = stored
        .iter()
        .find(|m| m["id"] == message_id.as_str())
        .expect("the template message");
    assert_eq!(stored["wa_message_id"], wamid.as_str());
    assert_eq!(
        stored["payload"]["buttons"][2]["url"],
        "https://example.com/appointments/a-17"
    );

    // The interaction ends; the customer taps "Confirm": a new interaction, offered through the
    // queue, whose message points at the template message.
    t.ann.act(&id, "end").await;
    t.ann.act(&id, "wrap-up").await;
    let tap = t
        .sim
        .customer(wa_id, "Kerry")
        .tap_template_button(&wamid, "Confirm", "Confirm")
        .await
        .expect("tap");
    assert_eq!(tap.status, 200);
    let new_id = offered(&mut t.ws, wa_id, "an offer for the tap").await;
    assert_ne!(new_id, id, "a new interaction");
    t.ann.act(&new_id, "accept").await;
    let msgs = messages_of(&t.ann, &new_id).await;
    let button = msgs
        .iter()
        .find(|m| m["type"] == "button")
        .unwrap_or_else(|| panic!("the tap is in the transcript: {msgs:?}"));
    assert_eq!(button["text"], "Confirm");
    assert_eq!(button["payload"]["context"]["id"], wamid.as_str());
    assert_eq!(button["payload"]["reply_to"]["id"], message_id.as_str());
    assert_eq!(button["payload"]["reply_to"]["type"], "template");
    assert_eq!(
        button["payload"]["reply_to"]["template"]["name"],
        "appointment_reminder"
    );
    // The whole conversation shows the template with its buttons, then the tap.
    let (_, conv) = t
        .ann
        .get(&format!(
            "/api/v1/interactions/{new_id}/messages?scope=conversation"
        ))
        .await;
    let kinds: Vec<&str> = conv["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["type"].as_str())
        .filter(|k| *k != "system")
        .collect();
    assert_eq!(kinds, ["text", "template", "button"]);
}

async fn named_parameters(db: Db) {
    let mut t = setup(db, true).await;
    let id = conversation(&mut t, "4915000000003", "Noor").await;
    let notice = template_id(&t.ann, "account_notice").await;
    t.ann.act_with(&id, "messages", json!({"template": {"id": notice, "variables": {"ticket_id": "T-7", "body.first_name": "Noor"}}})).await;
    let sent = t.sim.wait_for_accepted(1, WAIT).await.expect("accepted");
    assert_eq!(
        sent[0].body["template"]["components"],
        json!([{"type": "body", "parameters": [
            {"type": "text", "parameter_name": "first_name", "text": "Noor"},
            {"type": "text", "parameter_name": "ticket_id", "text": "T-7"}]}])
    );
    // A template without variables goes without components.
    let hello = template_id(&t.ann, "hello_world").await;
    t.ann
        .act_with(&id, "messages", json!({"template": {"id": hello}}))
        .await;
    let sent = t.sim.wait_for_accepted(2, WAIT).await.expect("accepted");
    assert_eq!(
        sent[1].body["template"],
        json!({"name": "hello_world", "language": {"code": "en_US"}})
    );
}

async fn refusals_store_nothing(db: Db) {
    let mut t = setup(db, true).await;
    let id = conversation(&mut t, "4915000000004", "Ida").await;
    let order = template_id(&t.ann, "order_update").await;
    let reminder = template_id(&t.ann, "appointment_reminder").await;
    let url = format!("/api/v1/interactions/{id}/messages");
    let before = messages_of(&t.ann, &id).await.len();
    let cases = [
        (
            json!({"template": {"id": order}}),
            "template_variable_missing",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "  "}}}),
            "template_variable_missing",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "x".repeat(1025)}}}),
            "template_variable_too_long",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "x".repeat(1000)}}}),
            "template_variable_too_long",
        ),
        (
            json!({"template": {"id": reminder, "variables": {"header.1": "y".repeat(50),
            "1": "a", "2": "b", "3": "c", "button.2": "d"}}}),
            "template_variable_too_long",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "two\nlines"}}}),
            "invalid_template_variable",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "A", "2": "B"}}}),
            "unknown_template_variable",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": ["A"]}}}),
            "invalid_template_variable",
        ),
        (
            json!({"template": {"id": "tpl_nope", "variables": {}}}),
            "unknown_template",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "A"}, "language": "de"}}),
            "template_language_unavailable",
        ),
        (
            json!({"template": {"id": order, "variables": {"1": "A"}}, "text": "both"}),
            "invalid_body",
        ),
        (json!({}), "invalid_body"),
    ];
    for (body, code) in cases {
        let (s, v) = t.ann.post(&url, body.clone()).await;
        assert_error(s, &v, 422, code);
        assert!(
            v["error"]["message"].as_str().is_some_and(|m| m.len() > 10),
            "{v}"
        );
    }
    // The header image is required where the template has one.
    let photo = template_id(&t.ann, "shipping_photo").await;
    let (s, v) = t
        .ann
        .post(
            &url,
            json!({"template": {"id": photo, "variables": {"1": "P-9"}}}),
        )
        .await;
    assert_error(s, &v, 422, "template_header_media_required");
    assert_eq!(v["error"]["kind"], "image");
    // A template of another business account than this number's.
    patch_ok(
        &t.admin,
        &format!("/api/v1/channels/{}", t.channel),
        json!({"waba_id": "555000"}),
    )
    .await;
    let (s, v) = t
        .ann
        .post(
            &url,
            json!({"template": {"id": order, "variables": {"1": "A"}}}),
        )
        .await;
    assert_error(s, &v, 422, "template_wrong_channel");
    let (_, p) = t
        .ann
        .get(&format!(
            "/api/v1/interactions/{id}/templates/{order}/preview"
        ))
        .await;
    assert_eq!(p["not_sendable"]["code"], "template_wrong_channel");
    // Another agent cannot send (nor preview) in Ann's interaction.
    let admin = &t.admin;
    agent(admin, "otto", 3, true, &[]).await;
    let otto = t.server.login("otto", PASSWORD).await;
    let (s, v) = otto
        .post(
            &url,
            json!({"template": {"id": order, "variables": {"1": "A"}}}),
        )
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = otto
        .get(&format!(
            "/api/v1/interactions/{id}/templates/{order}/preview"
        ))
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = t
        .ann
        .get(&format!(
            "/api/v1/interactions/{id}/templates/tpl_nope/preview"
        ))
        .await;
    assert_error(s, &v, 404, "not_found");
    // Variable maps are checked.
    for map in [
        json!({"9": "contact.name"}),
        json!({"1": "contact.shoe_size"}),
        json!(["1"]),
    ] {
        let (s, v) = t
            .admin
            .patch(
                &format!("/api/v1/templates/{order}"),
                json!({"variable_map": map}),
            )
            .await;
        assert_error(s, &v, 422, "invalid_variable_map");
    }
    let (_, v) = t.ann.get(&format!("/api/v1/templates/{order}")).await;
    assert_eq!(
        v["variable_map"],
        json!({}),
        "a refused map changes nothing"
    );

    assert_eq!(
        messages_of(&t.ann, &id).await.len(),
        before,
        "nothing stored"
    );
    assert!(t.sim.sent_messages().is_empty(), "nothing sent");
}

async fn whatsapp_errors_reach_the_agent(db: Db) {
    let mut t = setup(db, true).await;
    let id = conversation(&mut t, "4915000000005", "Rui").await;
    let order = template_id(&t.ann, "order_update").await;
    // WhatsApp paused it, and its webhook has not come (yet): WhatsApp refuses the send.
    let paused = t
        .sim
        .templates()
        .into_iter()
        .find(|x| x.name == "order_update")
        .expect("template")
        .with_status(TemplateStatus::Paused);
    t.sim.upsert_template(paused);
    let m = t
        .ann
        .act_with(
            &id,
            "messages",
            json!({"template": {"id": order, "variables": {"1": "A-1"}}}),
        )
        .await;
    let message_id = string(&m["id"]);
    let f = expect_status(&mut t.ws, &message_id, "failed").await;
    assert_eq!(f.data["error"]["code"], 132015);
    assert!(
        f.data["error"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("Template is Paused")),
        "{f:?}"
    );
    assert!(
        f.data["error"]["details"]
            .as_str()
            .is_some_and(|d| d.contains("order_update")),
        "{f:?}"
    );
    // Parameters WhatsApp refuses (here: WhatsApp's template has two now) fail with 132000.
    let changed = switchboard_simulator::Template::new(
        "order_update",
        "en_US",
        switchboard_simulator::TemplateCategory::Utility,
    )
    .body("Your order {{1}} ships on {{2}}.");
    t.sim.upsert_template(changed);
    let m = t
        .ann
        .act_with(
            &id,
            "messages",
            json!({"template": {"id": order, "variables": {"1": "A-1"}}}),
        )
        .await;
    let f = expect_status(&mut t.ws, m["id"].as_str().expect("id"), "failed").await;
    assert_eq!(f.data["error"]["code"], 132000);
    let sends = t.sim.sent_messages();
    assert_eq!(sends.len(), 2, "template errors are not retried");
    assert_eq!(sends[0].error_code(), Some(132015));
    // Stored with the reason: a reload shows it.
    let msgs = messages_of(&t.ann, &id).await;
    let failed = msgs
        .iter()
        .find(|m| m["id"] == message_id.as_str())
        .expect("message");
    assert_eq!(
        (failed["status"].as_str(), &failed["error"]["code"]),
        (Some("failed"), &json!(132015))
    );
}

async fn header_image(db: Db) {
    let mut t = setup(db, true).await;
    let id = conversation(&mut t, "4915000000006", "Lea").await;
    let photo = template_id(&t.ann, "shipping_photo").await;
    let order = template_id(&t.ann, "order_update").await;
    let url = format!("/api/v1/interactions/{id}/messages");
    let template = |tid: &str| {
        Part::text(
            "template",
            &json!({"id": tid, "variables": {"1": "P-9"}}).to_string(),
        )
    };

    // Refused: a document where an image is expected; a file for a template without media; a
    // caption; a template part that is not JSON.
    let pdf = b"%PDF-1.4 tiny".to_vec();
    let (s, v) = t
        .ann
        .multipart(
            &url,
            &[
                template(&photo),
                Part::file("file", "a.pdf", "application/pdf", &pdf),
            ],
        )
        .await;
    assert_error(s, &v, 422, "template_header_media_mismatch");
    let (s, v) = t
        .ann
        .multipart(
            &url,
            &[
                template(&order),
                Part::file("file", "p.png", "image/png", TINY_PNG),
            ],
        )
        .await;
    assert_error(s, &v, 422, "template_header_media_unexpected");
    let (s, v) = t
        .ann
        .multipart(
            &url,
            &[
                template(&photo),
                Part::text("caption", "look"),
                Part::file("file", "p.png", "image/png", TINY_PNG),
            ],
        )
        .await;
    assert_error(s, &v, 422, "caption_not_allowed");
    let (s, v) = t
        .ann
        .multipart(
            &url,
            &[
                Part::text("template", "{nope"),
                Part::file("file", "p.png", "image/png", TINY_PNG),
            ],
        )
        .await;
    assert_error(s, &v, 422, "invalid_body");
    assert!(t.sim.media().is_empty(), "nothing uploaded");

    // Outside the window too.
    t.server.clock.advance_secs(25 * 3600);
    let (s, m) = t
        .ann
        .multipart(
            &url,
            &[
                Part::file("file", "parcel.png", "image/png", TINY_PNG),
                template(&photo),
            ],
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["type"], "template");
    assert_eq!(m["payload"]["header"]["format"], "IMAGE");
    assert_eq!(m["payload"]["media"]["state"], "stored");
    let message_id = string(&m["id"]);
    // The agent (and the transcript) can show the header image.
    let (s, _, bytes) = t
        .ann
        .get_bytes(&format!("/api/v1/messages/{message_id}/media"))
        .await;
    assert_eq!((s, bytes.as_slice()), (200, TINY_PNG));

    let sent = t.sim.wait_for_accepted(1, WAIT).await.expect("accepted");
    let uploaded = t.sim.media();
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0].bytes, TINY_PNG);
    assert_eq!(uploaded[0].mime_type, "image/png");
    assert_eq!(
        sent[0].body["template"]["components"],
        json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"id": uploaded[0].id}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "P-9"}]}
        ])
    );
    expect_status(&mut t.ws, &message_id, "read").await;
}

on_every_backend!(
    a_sync_follows_paging_and_marks_missing_templates_deleted,
    sync_pages_and_deletes
);
on_every_backend!(
    templates_sync_at_start_up_and_periodically,
    startup_and_periodic_sync
);
on_every_backend!(
    a_status_webhook_pauses_a_template_and_sending_it_is_refused,
    status_webhook_pauses
);
on_every_backend!(
    a_template_outside_the_window_arrives_as_whatsapp_expects_and_a_tap_opens_an_interaction,
    outside_the_window_and_a_tap
);
on_every_backend!(named_parameters_are_sent_by_name, named_parameters);
on_every_backend!(
    refused_template_sends_store_and_send_nothing,
    refusals_store_nothing
);
on_every_backend!(
    template_errors_from_whatsapp_reach_the_agent_with_their_reason,
    whatsapp_errors_reach_the_agent
);
on_every_backend!(
    a_header_image_is_uploaded_and_sent_by_media_id,
    header_image
);
