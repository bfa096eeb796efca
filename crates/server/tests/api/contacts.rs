//! The built-in CRM end to end, customers writing through signed webhooks from the simulator:
//! the screen pop with none, one and several matches under both new-contact policies, re-linking,
//! cases saved and closed by the wrap-up with the whole transcript, history and full-text search
//! with who may see what, merging, the state of a number, replies after the end (sticky and not)
//! and outbound starts (SPEC §4, §5).

use crate::support::*;
use crate::whatsapp::{conversation, expect_status, say, setup, Wa};
use serde_json::{json, Value};

async fn screen_pop(api: &Api, id: &str) -> Value {
    api.get_ok(&format!("/api/v1/interactions/{id}/screen-pop"))
        .await
}

async fn new_contact(api: &Api, body: Value) -> String {
    let (s, v) = api.post("/api/v1/contacts", body).await;
    assert_eq!(s, 201, "{v}");
    string(&v["id"])
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|c| string(&c["id"]))
        .collect()
}

/// Ends and wraps up an interaction of Ann's.
async fn finish(wa: &Wa, id: &str) {
    wa.ann.act(id, "end").await;
    wa.ann.act(id, "wrap-up").await;
}

async fn screen_pop_with_none_one_and_several_matches(db: Db) {
    let mut wa = setup(db).await;
    // None, policy "create" (the default): a contact is made from the WhatsApp profile.
    let id = conversation(&mut wa, "4915111111111", "Ada Lovelace").await;
    let pop = screen_pop(&wa.ann, &id).await;
    assert_eq!(pop["phone"], "+4915111111111");
    assert_eq!(pop["contact"]["name"], "Ada Lovelace");
    assert_eq!(pop["contact"]["first_name"], "Ada");
    assert_eq!(pop["contact"]["last_name"], "Lovelace");
    assert_eq!(pop["contact"]["phones"][0]["number"], "+4915111111111");
    assert_eq!(pop["match_count"], 1);
    assert_eq!(pop["show_new_contact_form"], false);
    let ada = string(&pop["contact"]["id"]);
    assert_eq!(wa.ann.interaction(&id).await["contact"]["id"], ada.as_str());
    // Found again by its number in any format.
    let (_, found) = wa
        .ann
        .get("/api/v1/contacts?phone=0049%20151%201111%201111")
        .await;
    assert_eq!(ids(&found), vec![ada.clone()]);

    // One match: an existing contact pops, nothing is created.
    let bea = new_contact(
        &wa.admin,
        json!({"name": "Bea Real", "phones": ["+49 151 2222-2222"], "email": "bea@example.com"}),
    )
    .await;
    let id = conversation(&mut wa, "4915122222222", "B.").await;
    let pop = screen_pop(&wa.ann, &id).await;
    assert_eq!(pop["contact"]["id"], bea.as_str());
    assert_eq!(pop["contact"]["name"], "Bea Real");
    assert_eq!(pop["match_count"], 1);
    let (_, found) = wa.ann.get("/api/v1/contacts?phone=%2B4915122222222").await;
    assert_eq!(ids(&found), vec![bea.clone()], "no second contact was made");

    // Several matches: the first (oldest) is linked until the agent picks another.
    let c1 = new_contact(
        &wa.admin,
        json!({"name": "Carl One", "phones": ["+4915133333333"]}),
    )
    .await;
    let c2 = new_contact(
        &wa.admin,
        json!({"name": "Carl Two", "phones": ["+4915133333333"]}),
    )
    .await;
    let id = conversation(&mut wa, "4915133333333", "Carl").await;
    let pop = screen_pop(&wa.ann, &id).await;
    assert_eq!(pop["match_count"], 2);
    assert_eq!(ids(&pop["matches"]), vec![c1.clone(), c2.clone()]);
    assert_eq!(pop["contact"]["id"], c1.as_str());
    let v = wa
        .ann
        .put(
            &format!("/api/v1/interactions/{id}/contact"),
            json!({"contact_id": c2}),
        )
        .await;
    assert_eq!(v.0, 200, "{}", v.1);
    assert_eq!(v.1["contact"]["id"], c2.as_str());
    let ann_id = wa.ann_id.clone();
    let i = id.clone();
    let c2_ = c2.clone();
    wa.ws
        .expect("the new link live", move |f| {
            f.kind == "interaction.updated"
                && f.data["id"] == i.as_str()
                && f.data["contact"]["id"] == c2_.as_str()
        })
        .await;
    let _ = ann_id;
    assert_eq!(screen_pop(&wa.ann, &id).await["contact"]["id"], c2.as_str());
    // An unknown contact is refused and changes nothing.
    let (s, b) = wa
        .ann
        .put(
            &format!("/api/v1/interactions/{id}/contact"),
            json!({"contact_id": "con_nope"}),
        )
        .await;
    assert_error(s, &b, 404, "not_found");
    assert_eq!(wa.ann.interaction(&id).await["contact"]["id"], c2.as_str());
    // The customer's next interaction stays with the chosen contact.
    finish(&wa, &id).await;
    let next = conversation(&mut wa, "4915133333333", "Carl").await;
    assert_ne!(next, id);
    assert_eq!(
        screen_pop(&wa.ann, &next).await["contact"]["id"],
        c2.as_str()
    );

    // None, policy "prompt": nothing is created; the agent gets the form, prefilled.
    wa.admin
        .patch("/api/v1/settings", json!({"new_contact_policy": "prompt"}))
        .await;
    let id = conversation(&mut wa, "4915144444444", "Cy Young").await;
    let pop = screen_pop(&wa.ann, &id).await;
    assert_eq!(pop["contact"], Value::Null);
    assert_eq!(pop["match_count"], 0);
    assert_eq!(pop["show_new_contact_form"], true);
    assert_eq!(pop["new_contact_policy"], "prompt");
    assert_eq!(pop["prefill"]["name"], "Cy Young");
    assert_eq!(pop["prefill"]["first_name"], "Cy");
    assert_eq!(pop["prefill"]["phones"], json!(["+4915144444444"]));
    let (_, none) = wa.ann.get("/api/v1/contacts?phone=%2B4915144444444").await;
    assert_eq!(none, json!([]));
    let cy = new_contact(
        &wa.ann,
        json!({"name": "Cy Young", "phones": ["+4915144444444"], "fields": {"tier": "gold"}}),
    )
    .await;
    wa.ann
        .put(
            &format!("/api/v1/interactions/{id}/contact"),
            json!({"contact_id": cy}),
        )
        .await;
    let pop = screen_pop(&wa.ann, &id).await;
    assert_eq!(pop["contact"]["fields"]["tier"], "gold");
    assert_eq!(pop["show_new_contact_form"], false);

    // Bad input is refused and creates nothing.
    for body in [
        json!({"name": "Bad", "phones": ["12"]}),
        json!({"name": "Bad", "phones": ["+49 151 1234567x"]}),
        json!({"name": "Bad", "email": "not-an-email"}),
        json!({"name": "  "}),
        json!({"name": "Bad", "fields": {"x": {"nested": true}}}),
        json!({"name": "Bad", "shoe_size": 42}),
    ] {
        let (s, b) = wa.ann.post("/api/v1/contacts", body.clone()).await;
        assert_eq!(s, 422, "{body} -> {b}");
    }
    let (_, bad) = wa.ann.get("/api/v1/contacts?q=Bad").await;
    assert_eq!(bad, json!([]));
}

async fn wrap_up_saves_a_closed_case_with_the_whole_transcript(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915155555555", "Dora Diaz").await;
    let contact = string(&screen_pop(&wa.ann, &id).await["contact"]["id"]);
    let first = say(&wa, &id, "Hi Dora, how can I help?").await;
    expect_status(&mut wa.ws, &first, "sent").await;
    customer_writes(
        &wa.sim,
        "4915155555555",
        "Dora Diaz",
        "My parcel never arrived",
    )
    .await;
    let i = id.clone();
    wa.ws
        .expect("the customer's reply", move |f| {
            f.kind == "message.created"
                && f.data["interaction_id"] == i.as_str()
                && f.data["text"] == "My parcel never arrived"
        })
        .await;
    // Saved before the end: an open case.
    let (s, open) = wa
        .ann
        .try_act(&id, "case", json!({"subject": "Lost parcel"}))
        .await;
    assert_eq!(s, 201, "{open}");
    assert_eq!(open["state"], "open");
    assert_eq!(open["contact_id"], contact.as_str());
    // The agents so far are on it already, named (the desk names the notes' authors by them).
    assert_eq!(open["agents"][0]["agent_id"], wa.ann_id.as_str(), "{open}");
    assert_eq!(open["agents"][0]["display_name"], "Ann", "{open}");
    wa.ann
        .act_with(&id, "notes", json!({"text": "Asked the courier"}))
        .await;
    let (_, cases) = wa
        .ann
        .get(&format!("/api/v1/contacts/{contact}/cases"))
        .await;
    assert_eq!(cases[0]["state"], "open");
    finish(&wa, &id).await;

    // The wrap-up closed that same case, with the three times, the agent and the transcript.
    let (_, cases) = wa
        .ann
        .get(&format!("/api/v1/contacts/{contact}/cases"))
        .await;
    let cases = cases.as_array().expect("list");
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0]["id"], open["id"]);
    assert_eq!(cases[0]["state"], "closed");
    assert_eq!(cases[0]["subject"], "Lost parcel");
    let (_, case) = wa
        .ann
        .get(&format!(
            "/api/v1/cases/{}",
            open["id"].as_str().expect("id")
        ))
        .await;
    let t = |k: &str| {
        case[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {case}"))
            .to_owned()
    };
    assert!(t("initiated_at") <= t("accepted_at"), "{case}");
    assert!(t("accepted_at") <= t("ended_at"), "{case}");
    assert!(!t("closed_at").is_empty());
    assert_eq!(case["agents"][0]["agent_id"], wa.ann_id.as_str());
    assert_eq!(case["agents"][0]["display_name"], "Ann");
    assert_eq!(case["queue_id"], wa.queue.as_str());
    let texts = texts(&case["transcript"]);
    assert_eq!(
        texts,
        vec![
            "Hello there",
            "Hi Dora, how can I help?",
            "My parcel never arrived",
            "Ann ended the conversation"
        ]
    );
    assert_eq!(case["notes"][0]["text"], "Asked the courier");

    // A case without a contact (policy "prompt") is assigned later, and the history follows.
    wa.admin
        .patch("/api/v1/settings", json!({"new_contact_policy": "prompt"}))
        .await;
    let id2 = conversation(&mut wa, "4915166666666", "Eve").await;
    finish(&wa, &id2).await;
    let (_, loose) = wa.ann.get("/api/v1/cases?unassigned=true").await;
    let loose = loose.as_array().expect("list").clone();
    assert_eq!(loose.len(), 1);
    assert_eq!(loose[0]["interaction_id"], id2.as_str());
    // Also by conversation, and in the screen pop of that conversation.
    let conv = loose[0]["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let (_, of_conv) = wa
        .ann
        .get(&format!(
            "/api/v1/cases?unassigned=true&conversation_id={conv}"
        ))
        .await;
    assert_eq!(of_conv, Value::Array(loose.clone()));
    let (_, other) = wa
        .ann
        .get("/api/v1/cases?unassigned=true&conversation_id=cnv_other")
        .await;
    assert_eq!(other, json!([]));
    let (s, b) = wa
        .ann
        .get(&format!("/api/v1/cases?conversation_id={conv}"))
        .await;
    assert_error(s, &b, 400, "invalid_query");
    let pop = wa
        .ann
        .get_ok(&format!("/api/v1/interactions/{id2}/screen-pop"))
        .await;
    assert_eq!(pop["unassigned_cases"][0]["id"], loose[0]["id"]);
    let eve = new_contact(
        &wa.ann,
        json!({"name": "Eve", "phones": ["+4915166666666"]}),
    )
    .await;
    let case_id = loose[0]["id"].as_str().expect("id");
    let v = wa
        .ann
        .patch_ok(
            &format!("/api/v1/cases/{case_id}"),
            json!({"contact_id": eve}),
        )
        .await;
    assert_eq!(v["contact_id"], eve.as_str());
    let (_, loose) = wa.ann.get("/api/v1/cases?unassigned=true").await;
    assert_eq!(loose, json!([]));
    let (_, pop) = wa
        .ann
        .get(&format!("/api/v1/interactions/{id2}/screen-pop"))
        .await;
    assert_eq!(pop["unassigned_cases"], json!([]));
    let (_, hist) = wa
        .ann
        .get(&format!("/api/v1/contacts/{eve}/interactions"))
        .await;
    assert_eq!(ids(&hist["interactions"]), vec![id2.clone()]);
    let (s, b) = wa
        .ann
        .patch(
            &format!("/api/v1/cases/{case_id}"),
            json!({"contact_id": "con_nope"}),
        )
        .await;
    assert_error(s, &b, 404, "not_found");
}

async fn history_search_and_the_communication_list(db: Db) {
    let mut wa = setup(db).await;
    let admin = wa.admin.clone();
    let other_queue = queue(&admin, json!({"name": "Elsewhere"})).await;
    agent(&admin, "olga", 5, true, &[&other_queue]).await;
    let olga = wa.server.login("olga", PASSWORD).await;
    agent(&admin, "bob", 5, true, &[&wa.queue]).await;
    let bob = wa.server.login("bob", PASSWORD).await;

    let id1 = conversation(&mut wa, "4915177777777", "Finn").await;
    let finn = string(&screen_pop(&wa.ann, &id1).await["contact"]["id"]);
    customer_writes(
        &wa.sim,
        "4915177777777",
        "Finn",
        "The invoice 4711 is overdue",
    )
    .await;
    let i = id1.clone();
    wa.ws
        .expect("invoice message", move |f| {
            f.kind == "message.created"
                && f.data["interaction_id"] == i.as_str()
                && f.data["direction"] == "in"
                && f.data["text"] == "The invoice 4711 is overdue"
        })
        .await;
    say(&wa, &id1, "I will check the invoice right away").await;
    wa.ann
        .ok(
            &format!("/api/v1/interactions/{id1}/notes"),
            json!({"text": "Promised to pay on Friday"}),
        )
        .await;
    finish(&wa, &id1).await;
    let id2 = conversation(&mut wa, "4915177777777", "Finn").await;
    assert_ne!(id1, id2);
    customer_writes(
        &wa.sim,
        "4915177777777",
        "Finn",
        "Any news about my Überweisung?",
    )
    .await;
    let i = id2.clone();
    wa.ws
        .expect("second message", move |f| {
            f.kind == "message.created"
                && f.data["interaction_id"] == i.as_str()
                && f.data["text"] == "Any news about my Überweisung?"
        })
        .await;

    // History: both interactions, newest first, paged; transcripts on request.
    let (_, page) = wa
        .ann
        .get(&format!("/api/v1/contacts/{finn}/interactions?limit=1"))
        .await;
    assert_eq!(ids(&page["interactions"]), vec![id2.clone()]);
    let cursor = string(&page["next_before"]);
    let (_, page2) = bob
        .get(&format!(
            "/api/v1/contacts/{finn}/interactions?limit=1&before={cursor}&transcripts=true"
        ))
        .await;
    assert_eq!(
        ids(&page2["interactions"]),
        vec![id1.clone()],
        "across agents: Bob sees Ann's"
    );
    assert_eq!(page2["interactions"][0]["state"], "done");
    assert_eq!(page2["interactions"][0]["agents"][0]["display_name"], "Ann");
    let texts = texts(&page2["interactions"][0]["messages"]);
    assert!(texts.contains(&"The invoice 4711 is overdue"), "{texts:?}");
    // The private note is in the history, beside the messages.
    assert_eq!(
        crate::support::texts(&page2["interactions"][0]["notes"]),
        ["Promised to pay on Friday"]
    );
    let (s, b) = wa
        .ann
        .get(&format!(
            "/api/v1/contacts/{finn}/interactions?before=yesterday"
        ))
        .await;
    assert_error(s, &b, 400, "invalid_cursor");

    // Full-text search: prefixes, several words, any case and accents as written.
    let found = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (_, hits) = wa.ann.get("/api/v1/search?q=INVOIC").await;
    assert_eq!(
        found(&hits),
        vec![
            "I will check the invoice right away",
            "The invoice 4711 is overdue"
        ],
        "newest first"
    );
    let (_, hits) = wa.ann.get("/api/v1/search?q=invoice%204711").await;
    assert_eq!(found(&hits), vec!["The invoice 4711 is overdue"]);
    let (_, hits) = wa.ann.get("/api/v1/search?q=%C3%BCberweisung").await;
    assert_eq!(found(&hits), vec!["Any news about my Überweisung?"]);
    let conv = hits["messages"][0]["conversation_id"]
        .as_str()
        .expect("conv")
        .to_owned();
    let (_, hits) = wa
        .ann
        .get(&format!("/api/v1/search?q=invoice&conversation_id={conv}"))
        .await;
    assert_eq!(found(&hits).len(), 2);
    let (_, hits) = wa
        .ann
        .get("/api/v1/search?q=invoice&conversation_id=elsewhere")
        .await;
    assert_eq!(found(&hits).len(), 0);
    // Olga works another queue: nothing of this conversation is hers to find. Admins see all.
    let (_, hits) = olga.get("/api/v1/search?q=invoice").await;
    assert_eq!(found(&hits).len(), 0);
    let (_, hits) = admin.get("/api/v1/search?q=invoice").await;
    assert_eq!(found(&hits).len(), 2);
    // Text that is not a word is refused (and never reaches the query language).
    for q in ["", "%22%2A%20%28%29%20", "'''"] {
        let (s, b) = wa.ann.get(&format!("/api/v1/search?q={q}")).await;
        assert_error(s, &b, 400, "invalid_query");
    }
    let (s, _) = wa.ann.get("/api/v1/search?q=NEAR%28invoice%29%20AND").await;
    assert_eq!(s, 200, "query syntax is plain words");

    // The communication list: the conversation, its contact, the last message, unread since
    // the last reply (Finn wrote once since Ann's answer).
    let (_, list) = wa.ann.get("/api/v1/conversations").await;
    let row = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["wa_id"] == "4915177777777")
        .expect("Finn's conversation")
        .clone();
    assert_eq!(row["contact_name"], "Finn");
    assert_eq!(row["unread"], 2, "{row}");
    assert_eq!(
        row["last_message"]["text"],
        "Any news about my Überweisung?"
    );
    let (_, list) = olga.get("/api/v1/conversations").await;
    assert_eq!(list, json!([]));
}

async fn merging_and_the_state_of_numbers(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915188888888", "Gil").await;
    let gil = string(&screen_pop(&wa.ann, &id).await["contact"]["id"]);
    // a number that cannot receive is flagged after the channel's send to it fails.
    let (_, c) = wa.ann.get(&format!("/api/v1/contacts/{gil}")).await;
    assert_eq!(c["phones"][0]["status"], "unknown");
    let m = say(&wa, &id, "Hello Gil").await;
    expect_status(&mut wa.ws, &m, "sent").await;
    let (_, c) = wa.ann.get(&format!("/api/v1/contacts/{gil}")).await;
    assert_eq!(c["phones"][0]["status"], "ok");
    assert_eq!(c["has_failed_number"], false);
    wa.sim.faults().add_undeliverable("4915188888888");
    let m = say(&wa, &id, "Still there?").await;
    expect_status(&mut wa.ws, &m, "failed").await;
    let (_, c) = wa.ann.get(&format!("/api/v1/contacts/{gil}")).await;
    assert_eq!(c["phones"][0]["status"], "failed");
    assert_eq!(c["phones"][0]["last_send"]["error"]["code"], 131026);
    assert_eq!(c["has_failed_number"], true);
    finish(&wa, &id).await;

    // A second record of the same person, with another number connected and an email.
    let dup = new_contact(
        &wa.ann,
        json!({"name": "Gil G.", "email": "gil@example.com", "fields": {"tier": "silver"}}),
    )
    .await;
    let (s, v) = wa
        .ann
        .post(
            &format!("/api/v1/contacts/{dup}/phones"),
            json!({"number": "0049 160 1234567"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["phones"][0]["number"], "+491601234567");
    assert_eq!(v["phones"][0]["status"], "unknown");
    let (s, b) = wa
        .ann
        .post(
            &format!("/api/v1/contacts/{dup}/phones"),
            json!({"number": "not a number"}),
        )
        .await;
    assert_error(s, &b, 422, "invalid_phone");
    // Agents may not merge; supervisors and admins may.
    let (s, b) = wa
        .ann
        .post(
            &format!("/api/v1/contacts/{gil}/merge"),
            json!({"from": dup}),
        )
        .await;
    assert_error(s, &b, 403, "forbidden");
    let (s, b) = wa
        .admin
        .post(
            &format!("/api/v1/contacts/{gil}/merge"),
            json!({"from": gil}),
        )
        .await;
    assert_error(s, &b, 422, "invalid_merge");
    let (s, merged) = wa
        .admin
        .post(
            &format!("/api/v1/contacts/{gil}/merge"),
            json!({"from": dup}),
        )
        .await;
    assert_eq!(s, 200, "{merged}");
    let numbers = strings(&merged["phones"], "number");
    assert_eq!(numbers, vec!["+4915188888888", "+491601234567"]);
    assert_eq!(merged["email"], "gil@example.com");
    assert_eq!(merged["fields"]["tier"], "silver");
    // The merged-away record leads to the one that remains; lookups find only that one.
    let (_, c) = wa.ann.get(&format!("/api/v1/contacts/{dup}")).await;
    assert_eq!(c["id"], gil.as_str());
    let (_, found) = wa.ann.get("/api/v1/contacts?phone=%2B491601234567").await;
    assert_eq!(ids(&found), vec![gil.clone()]);
    let (s, b) = wa
        .admin
        .post(
            &format!("/api/v1/contacts/{gil}/merge"),
            json!({"from": dup}),
        )
        .await;
    assert_error(s, &b, 404, "not_found");
    let (_, hist) = wa
        .ann
        .get(&format!("/api/v1/contacts/{gil}/interactions"))
        .await;
    assert_eq!(ids(&hist["interactions"]), vec![id]);
    // Patching: fields merge, null removes, numbers are normalized.
    let v = wa
        .ann
        .patch_ok(
            &format!("/api/v1/contacts/{gil}"),
            json!({"fields": {"tier": null, "vip": true}, "phones": ["+49 151 8888 8888"]}),
        )
        .await;
    assert_eq!(v["fields"], json!({"vip": true}));
    assert_eq!(v["phones"].as_array().map(Vec::len), Some(1));
    let (s, b) = wa
        .ann
        .patch(&format!("/api/v1/contacts/{gil}"), json!({"name": ""}))
        .await;
    assert_error(s, &b, 422, "invalid_contact");
    let (_, c) = wa.ann.get(&format!("/api/v1/contacts/{gil}")).await;
    assert_eq!(c["name"], "Gil", "a refused patch changes nothing");
}

async fn replies_after_the_end_open_new_interactions_sticky_and_not(db: Db) {
    let mut wa = setup(db).await;
    let admin = wa.admin.clone();
    agent(&admin, "bob", 5, true, &[&wa.queue]).await;
    let bob = wa.server.login("bob", PASSWORD).await;
    let mut bob_ws = bob.ws(None).await;
    // Not sticky: the reply after the end is a new interaction, routed through the queue.
    let id = conversation(&mut wa, "4915199999999", "Hal").await;
    finish(&wa, &id).await;
    bob.available().await;
    wa.ann.on_break("Lunch").await;
    customer_writes(&wa.sim, "4915199999999", "Hal", "One more thing").await;
    let f = bob_ws
        .expect("offer to Bob", |f| f.kind == "offer.created")
        .await;
    let id2 = string(&f.data["interaction_id"]);
    assert_ne!(id2, id, "a new interaction");
    let v = bob.interaction(&id2).await;
    assert_eq!(
        v["conversation_id"],
        wa.ann.interaction(&id).await["conversation_id"]
    );
    bob.act(&id2, "accept").await;
    bob.act(&id2, "end").await;
    bob.act(&id2, "wrap-up").await;

    // Sticky: offered first to the agent who last handled it (Bob), even though Ann is free.
    wa.admin
        .patch_ok(
            &format!("/api/v1/queues/{}", wa.queue),
            json!({"sticky": true, "sticky_timeout_s": 120}),
        )
        .await;
    wa.ann.available().await;
    customer_writes(&wa.sim, "4915199999999", "Hal", "Back again").await;
    let f = bob_ws
        .expect("sticky offer to Bob", |f| f.kind == "offer.created")
        .await;
    let id3 = string(&f.data["interaction_id"]);
    bob.act(&id3, "accept").await;
    bob.act(&id3, "end").await;
    bob.act(&id3, "wrap-up").await;
    // Bob is away: the reply waits for him until sticky_timeout, then goes to the queue.
    bob.on_break("Lunch").await;
    let mut watch = admin.ws(None).await;
    customer_writes(&wa.sim, "4915199999999", "Hal", "Hello?").await;
    let f = watch
        .expect("the new interaction, waiting", |f| {
            f.kind == "interaction.updated"
                && f.data["state"] == "queued"
                && f.data["customer"]["wa_id"] == "4915199999999"
        })
        .await;
    let id4 = string(&f.data["id"]);
    assert_ne!(id4, id3);
    assert_eq!(
        admin.interaction(&id4).await["state"],
        "queued",
        "held for Bob though Ann is free"
    );
    wa.server.clock.advance_secs(121);
    let i = id4.clone();
    wa.ws
        .expect("offered to Ann after the timeout", move |f| {
            f.kind == "offer.created" && f.data["interaction_id"] == i.as_str()
        })
        .await;
}

async fn outbound_starts(db: Db) {
    let mut wa = setup(db).await;
    // A customer who wrote today: a free text may open the conversation.
    let id = conversation(&mut wa, "4915110101010", "Ivy").await;
    let ivy = string(&screen_pop(&wa.ann, &id).await["contact"]["id"]);
    finish(&wa, &id).await;
    let (s, v) = wa
        .ann
        .post(
            "/api/v1/interactions",
            json!({"contact_id": ivy, "text": "Your order has shipped"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "active");
    assert_eq!(v["owner_id"], wa.ann_id.as_str());
    assert_eq!(v["contact"]["id"], ivy.as_str());
    let out = string(&v["id"]);
    let sent = wa
        .sim
        .wait_for_accepted(1, std::time::Duration::from_secs(10))
        .await
        .expect("sent");
    assert!(sent
        .iter()
        .any(|m| m.text() == Some("Your order has shipped")));
    // A second start on the same conversation is refused: it is already open and Ann's.
    let (s, b) = wa
        .ann
        .post("/api/v1/interactions", json!({"contact_id": ivy}))
        .await;
    assert_error(s, &b, 409, "already_yours");
    // The customer's answer joins it: no offer, no new interaction.
    customer_writes(&wa.sim, "4915110101010", "Ivy", "Thanks!").await;
    let o = out.clone();
    wa.ws
        .expect("the answer", move |f| {
            f.kind == "message.created"
                && f.data["interaction_id"] == o.as_str()
                && f.data["text"] == "Thanks!"
        })
        .await;
    assert_eq!(wa.ann.interaction(&out).await["unread"], 1);

    // Someone who never wrote: free text is refused (a template is needed) and nothing opens.
    let zed = new_contact(
        &wa.ann,
        json!({"name": "Zed", "phones": ["+4915120202020"]}),
    )
    .await;
    let before = wa.ann.get("/api/v1/interactions").await.1;
    let (s, b) = wa
        .ann
        .post(
            "/api/v1/interactions",
            json!({"contact_id": zed, "text": "Hi"}),
        )
        .await;
    assert_error(s, &b, 422, "template_required");
    assert_eq!(wa.ann.get("/api/v1/interactions").await.1, before);
    // Without text it opens, owned by Ann, and says the window is closed.
    let (s, v) = wa.ann.start_outbound("+49 151 2020 2020").await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["contact"]["id"],
        zed.as_str(),
        "linked by the number's conversation"
    );
    assert_eq!(v["window_expires_at"], Value::Null);
    let zid = v["id"].as_str().expect("id");
    let (s, b) = wa.ann.try_act(zid, "messages", json!({"text": "Hi"})).await;
    assert_error(s, &b, 422, "template_required");
    for body in [
        json!({}),
        json!({"phone": "12"}),
        json!({"contact_id": "con_nope"}),
        json!({"contact_id": zed, "phone": "+4915111119999"}),
        json!({"phone": "+4915120202099", "channel_id": "nope"}),
    ] {
        let (s, b) = wa.ann.post("/api/v1/interactions", body.clone()).await;
        assert!(s == 422 || s == 404, "{body}: {s} {b}");
    }
}

on_every_backend!(
    screen_pop_finds_none_one_or_several_contacts,
    screen_pop_with_none_one_and_several_matches
);
on_every_backend!(
    a_wrap_up_leaves_a_closed_case_with_the_transcript,
    wrap_up_saves_a_closed_case_with_the_whole_transcript
);
on_every_backend!(
    contact_history_search_and_communication_list,
    history_search_and_the_communication_list
);
on_every_backend!(
    contacts_merge_and_numbers_are_checked,
    merging_and_the_state_of_numbers
);
on_every_backend!(
    a_reply_after_the_end_opens_a_new_interaction,
    replies_after_the_end_open_new_interactions_sticky_and_not
);
on_every_backend!(agents_start_outbound_interactions, outbound_starts);
