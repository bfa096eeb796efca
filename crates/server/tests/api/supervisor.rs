//! A supervisor acting on others' work (R-8.7 … ): setting an agent's presence (the agent
//! is told who did it), taking over and reassigning an active interaction, and whispering to
//! its agents (stored, shown, never sent or counted as a reply). Each is also in the audit log.

use crate::support::*;
use serde_json::{json, Value};

/// A queue, the agents ann and bob in it, the supervisor sue; ann, bob and sue logged in.
struct Floor {
    server: Server,
    admin: Api,
    queue: String,
    ann_id: String,
    bob_id: String,
    sue_id: String,
    ann: Api,
    bob: Api,
    sue: Api,
}

async fn floor(db: Db) -> Floor {
    let (server, admin) = Server::with_admin(db).await;
    let queue = queue(&admin, json!({"name": "Support", "post_processing_s": 60})).await;
    let ann_id = agent(&admin, "ann", 2, false, &[&queue]).await;
    let bob_id = agent(&admin, "bob", 2, false, &[&queue]).await;
    let sue_id = create_user(
        &admin,
        json!({"username": "sue", "password": PASSWORD, "display_name": "Sue",
               "role": "supervisor", "capacity": 1}),
    )
    .await;
    let ann = server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    let sue = server.login("sue", PASSWORD).await;
    Floor {
        server,
        admin,
        queue,
        ann_id,
        bob_id,
        sue_id,
        ann,
        bob,
        sue,
    }
}

impl Floor {
    /// A customer writes; ann (the only available agent) accepts.
    async fn active_with_ann(&self, wa_id: &str) -> String {
        self.ann.available().await;
        let id = self
            .server
            .ingest_id(&self.queue, wa_id, "Mia", "my parcel is late")
            .await;
        self.ann.act(&id, "accept").await;
        id
    }

    /// The audit entries of `action` on `target`, newest first.
    async fn audit(&self, action: &str, target: &str) -> Vec<Value> {
        let v = self
            .sue
            .get_ok(&format!("/api/v1/audit?action={action}&target_id={target}"))
            .await;
        v["items"].as_array().expect("items").clone()
    }
}

impl Api {
    /// `PUT /api/v1/agents/{agent}/presence` to `presence`.
    async fn set_presence(&self, agent: &str, presence: &str) -> (u16, Value) {
        self.put(
            &format!("/api/v1/agents/{agent}/presence"),
            json!({ "presence": presence }),
        )
        .await
    }
}

async fn presence_set_by_a_supervisor(db: Db) {
    let f = floor(db).await;
    let mut ann_ws = f.ann.ws(None).await;
    f.ann.available().await;
    let own = ann_ws.expect_presence(&f.ann_id, "available").await;
    assert!(
        own.data.get("changed_by").is_none(),
        "an agent's own change names nobody: {}",
        own.data
    );
    // Ann is offered a conversation, then leaves her desk without logging out.
    let id = f
        .server
        .ingest(&f.queue, "4917000001", "Mia", "hello?")
        .await
        .interaction_id
        .0;
    assert_eq!(f.ann.interaction(&id).await["state"], "offered");

    // An agent may not set someone else's presence.
    let (s, v) = f.bob.set_presence(&f.ann_id, "offline").await;
    assert_error(s, &v, 403, "forbidden");
    let (s, v) = f.sue.set_presence(&f.ann_id, "asleep").await;
    assert_error(s, &v, 422, "invalid_presence");

    let (s, v) = f.sue.set_presence(&f.ann_id, "offline").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], f.ann_id.as_str());
    assert_eq!(v["presence"], "offline");

    // Her desktop is told, and by whom; her offer is withdrawn and waits for someone else.
    let told = ann_ws.expect_presence(&f.ann_id, "offline").await;
    assert_eq!(
        told.data["changed_by"],
        json!({"id": f.sue_id, "name": "Sue"}),
        "{}",
        told.data
    );
    ann_ws
        .expect("the offer withdrawn", |fr| {
            fr.kind == "offer.withdrawn" && fr.data["interaction_id"] == id.as_str()
        })
        .await;
    assert_eq!(f.ann.me().await["presence"], "offline");
    assert_eq!(f.sue.interaction(&id).await["state"], "queued");

    // Both changes are in the audit log: hers by herself, then Sue's, newest first.
    let items = f.audit("presence.changed", &f.ann_id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["actor"], json!({"id": f.sue_id, "name": "Sue"}));
    assert_eq!(items[0]["target"], json!({"type": "agent", "id": f.ann_id}));
    assert_eq!(items[0]["before"]["presence"], "available");
    assert_eq!(items[0]["after"]["presence"], "offline");
    assert_eq!(items[1]["actor"]["id"], f.ann_id.as_str());
    assert_eq!(items[1]["before"]["presence"], "offline");
    assert_eq!(items[1]["after"]["presence"], "available");

    // Setting what is already set changes nothing and logs nothing.
    let (s, v) = f.sue.set_presence(&f.ann_id, "offline").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(f.audit("presence.changed", &f.ann_id).await.len(), 2);
    let (s, v) = f.sue.set_presence("usr_missing", "offline").await;
    assert_error(s, &v, 404, "not_found");
}
on_every_backend!(
    a_supervisor_sets_an_agents_presence_and_the_agent_sees_who,
    presence_set_by_a_supervisor
);

async fn take_over(db: Db) {
    let f = floor(db).await;
    let id = f.active_with_ann("4917000002").await;
    let mut ann_ws = f.ann.ws(None).await;

    let (s, v) = f.bob.try_act(&id, "take-over", json!({})).await;
    assert_error(s, &v, 403, "forbidden");

    // Sue's capacity (1) is no obstacle, even when full.
    let (s, v) = f.sue.try_act(&id, "take-over", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["owner_id"], f.sue_id.as_str());
    assert_eq!(v["state"], "active");
    let other = f.active_with_ann("4917000003").await;
    let (s, v) = f.sue.try_act(&other, "take-over", json!({})).await;
    assert_eq!(s, 200, "above capacity a take-over is still allowed: {v}");

    // Ann goes to wrap-up for it; she sees it so.
    ann_ws
        .expect("ann's view of the take-over", |fr| {
            fr.kind == "interaction.updated"
                && fr.data["id"] == id.as_str()
                && fr.data["owner_id"] == f.sue_id.as_str()
        })
        .await;
    let seen = f.ann.interaction(&id).await;
    let ann_part = item(&seen, "participants", "agent_id", &f.ann_id);
    assert_eq!(ann_part["state"], "wrap_up", "{seen}");

    // Taking over what one owns is refused.
    let (s, v) = f.sue.try_act(&id, "take-over", json!({})).await;
    assert_error(s, &v, 409, "already_owner");
    let (s, v) = f.sue.try_act("int_missing", "take-over", json!({})).await;
    assert_error(s, &v, 404, "not_found");

    let items = f.audit("interaction.taken_over", &id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["actor"]["id"], f.sue_id.as_str());
    assert_eq!(items[0]["before"], json!({"owner_id": f.ann_id}));
    assert_eq!(items[0]["after"], json!({"owner_id": f.sue_id}));
}
on_every_backend!(a_supervisor_takes_over_an_active_interaction, take_over);

async fn reassign(db: Db) {
    let f = floor(db).await;
    let other_queue = queue(&f.admin, json!({"name": "Billing"})).await;
    let id = f.active_with_ann("4917000004").await;

    // Bob, another agent, still cannot see it.
    let (s, v) = f
        .bob
        .try_act(&id, "transfer", json!({"queue_id": other_queue}))
        .await;
    assert_error(s, &v, 404, "not_found");

    // Sue, who does not take part, moves it to Billing; Ann goes to wrap-up.
    let (s, v) = f
        .sue
        .try_act(&id, "transfer", json!({"queue_id": other_queue}))
        .await;
    assert_eq!(s, 200, "{v}");
    let now = f.sue.interaction(&id).await;
    assert_eq!(now["queue_id"], other_queue.as_str(), "{now}");
    assert_eq!(now["state"], "queued", "nobody serves Billing: {now}");
    assert_eq!(f.ann.me().await["activity"], "post_processing");

    // To an agent: Bob is offered it.
    let second = f.active_with_ann("4917000005").await;
    f.bob.available().await;
    f.sue
        .act_with(&second, "transfer", json!({"agent_id": f.bob_id}))
        .await;
    assert_eq!(f.bob.interaction(&second).await["state"], "offered");

    // Only an active interaction can be reassigned.
    let (s, v) = f
        .sue
        .try_act(&id, "transfer", json!({"queue_id": f.queue}))
        .await;
    assert_error(s, &v, 409, "not_active");

    let items = f.audit("interaction.reassigned", &id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["actor"]["id"], f.sue_id.as_str());
    assert_eq!(items[0]["before"]["owner_id"], f.ann_id.as_str());
    assert_eq!(items[0]["after"], json!({"queue_id": other_queue}));
}
on_every_backend!(
    a_supervisor_reassigns_an_interaction_they_do_not_own,
    reassign
);

async fn whisper(db: Db) {
    let f = floor(db).await;
    let id = f.active_with_ann("4917000006").await;
    let mut ann_ws = f.ann.ws(None).await;
    let mut sue_ws = f.sue.ws(None).await;
    let before = f.ann.interaction(&id).await;
    assert!(before["awaiting_reply_since"].is_string(), "{before}");

    let (s, v) = f.ann.try_act(&id, "whisper", json!({"text": "psst"})).await;
    assert_error(s, &v, 403, "forbidden");
    for (text, code) in [
        ("   ", "empty_message"),
        (&"x".repeat(5000) as &str, "text_too_long"),
    ] {
        let (s, v) = f.sue.try_act(&id, "whisper", json!({"text": text})).await;
        assert_error(s, &v, 422, code);
    }

    let (s, m) = f
        .sue
        .try_act(
            &id,
            "whisper",
            json!({"text": "Offer her the express refund"}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["type"], "whisper");
    assert_eq!(m["direction"], "internal");
    assert_eq!(m["author_id"], f.sue_id.as_str());
    assert_eq!(m["author_name"], "Sue");
    let mid = string(&m["id"]);

    // Live to the agent and to the supervisor.
    for ws in [&mut ann_ws, &mut sue_ws] {
        let fr = ws
            .expect("the whisper", |fr| {
                fr.kind == "message.created" && fr.data["id"] == mid.as_str()
            })
            .await;
        assert_eq!(fr.data["type"], "whisper");
        assert_eq!(
            fr.data["payload"]["author_name"], "Sue",
            "live events name the supervisor"
        );
    }

    // Not a reply: the customer still waits, nothing unread changed; not a customer message.
    let after = f.ann.interaction(&id).await;
    assert_eq!(
        after["awaiting_reply_since"],
        before["awaiting_reply_since"]
    );
    assert_eq!(after["unread"], before["unread"]);

    // In the transcript, and in the case saved from it.
    let page = f
        .ann
        .get_ok(&format!(
            "/api/v1/interactions/{id}/messages?scope=transcript"
        ))
        .await;
    let shown = item(&page, "messages", "id", &mid);
    assert_eq!(shown["author_name"], "Sue");
    let case = f.ann.act(&id, "case").await;
    let cid = case["id"].as_str().expect("case id");
    let detail = f.ann.get_ok(&format!("/api/v1/cases/{cid}")).await;
    assert_eq!(item(&detail, "transcript", "id", &mid)["type"], "whisper");

    // And in the contact's history, with the transcripts.
    let contact = string(&f.ann.ok("/api/v1/contacts", json!({"name": "Mia"})).await["id"]);
    f.ann
        .put_ok(
            &format!("/api/v1/interactions/{id}/contact"),
            json!({"contact_id": contact}),
        )
        .await;
    let history = f
        .ann
        .get_ok(&format!(
            "/api/v1/contacts/{contact}/interactions?transcripts=true"
        ))
        .await;
    let entry = item(&history, "interactions", "id", &id);
    assert_eq!(item(&entry, "messages", "id", &mid)["type"], "whisper");

    // Also in wrap-up; not once the interaction is done.
    f.ann.act(&id, "end").await;
    f.sue
        .act_with(&id, "whisper", json!({"text": "Use the code LATE"}))
        .await;
    f.ann.act(&id, "wrap-up").await;
    let (s, v) = f
        .sue
        .try_act(&id, "whisper", json!({"text": "too late"}))
        .await;
    assert_error(s, &v, 409, "not_active");

    let items = f.audit("interaction.whispered", &id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[1]["after"]["text"], "Offer her the express refund");
}
on_every_backend!(a_supervisor_whispers_to_the_agents_only, whisper);

async fn whisper_never_reaches_whatsapp(db: Db) {
    use crate::whatsapp::{conversation, expect_status, say, setup};
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915111111111", "Olga").await;
    supervisor(&wa.admin, "sue").await;
    let sue = wa.server.login("sue", PASSWORD).await;
    let (s, m) = sue
        .try_act(&id, "whisper", json!({"text": "Coaching only"}))
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["status"], "stored");
    // Ann answers after the whisper; messages to one customer leave in order, so once hers is
    // delivered, a whisper queued before it would have been sent first.
    let reply = say(&wa, &id, "Your parcel leaves today").await;
    expect_status(&mut wa.ws, &reply, "delivered").await;
    let sent: Vec<String> = wa
        .sim
        .accepted_messages()
        .iter()
        .filter_map(|x| x.text().map(str::to_owned))
        .collect();
    assert_eq!(sent, ["Your parcel leaves today"]);
    // The whisper itself never changes status: nothing was sent.
    let page = wa
        .ann
        .get_ok(&format!("/api/v1/interactions/{id}/messages"))
        .await;
    let whisper = item(&page, "messages", "type", "whisper");
    assert_eq!(whisper["status"], "stored");
    assert!(whisper["wa_message_id"].is_null(), "{whisper}");
}
on_every_backend!(
    a_whisper_never_reaches_whatsapp,
    whisper_never_reaches_whatsapp
);
