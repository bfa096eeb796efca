//! Silent watch and who is viewing: a supervisor watches a live
//! interaction without the agent or the customer noticing anything (no unread count, no read
//! receipt, no event); users who have an interaction open are shown to its other readers live,
//! supervisors who only watch never to agents, and presence ends when the socket closes.

use crate::support::*;
use crate::whatsapp::{conversation, expect_status, say, setup};
use serde_json::{json, Value};

/// The ids of `viewers` (a `{interaction_id, viewers}` object), in order.
fn ids(v: &Value) -> Vec<String> {
    v["viewers"]
        .as_array()
        .expect("viewers")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Waits for `interaction.viewers` of `id` naming exactly `want`.
async fn expect_viewers(ws: &mut Ws, id: &str, want: &[&str]) -> Frame {
    let (i, w): (String, Vec<String>) =
        (id.to_owned(), want.iter().map(|s| s.to_string()).collect());
    ws.expect(&format!("viewers of {id}: {want:?}"), move |f| {
        f.kind == "interaction.viewers"
            && f.data["interaction_id"] == i.as_str()
            && ids(&f.data) == w
    })
    .await
}

/// The frames of `ws` until now that are about viewers.
async fn viewer_frames(ws: &mut Ws) -> Vec<Frame> {
    ws.drain()
        .await
        .into_iter()
        .filter(|f| f.kind == "interaction.viewers")
        .collect()
}

async fn silent_watch(db: Db) {
    let mut wa = setup(db).await;
    let id = conversation(&mut wa, "4915111111111", "Olga").await;
    let sue_id = wa
        .admin
        .ok(
            "/api/v1/agents",
            json!({"username": "sue", "password": PASSWORD, "display_name": "Sue", "role": "supervisor"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let sue = wa.server.login("sue", PASSWORD).await;
    let mut sue_ws = sue.ws(None).await;
    wa.ws.drain().await;
    let unread_before = wa.ann.interaction(&id).await["unread"].clone();

    // Agents may not watch; nor can anyone watch what does not exist.
    let (s, v) = wa
        .ann
        .post(&format!("/api/v1/interactions/{id}/watch"), json!({}))
        .await;
    assert_error(s, &v, 403, "forbidden");
    let (s, v) = sue.post("/api/v1/interactions/nope/watch", json!({})).await;
    assert_error(s, &v, 404, "not_found");

    let (s, w) = sue
        .post(&format!("/api/v1/interactions/{id}/watch"), json!({}))
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["interaction"]["id"], id.as_str());
    assert_eq!(w["interaction"]["state"], "active");
    assert_eq!(
        w["viewers"],
        json!([{"id": sue_id, "name": "Sue", "watching": true}])
    );
    // Supervisors see one another watch.
    expect_viewers(&mut sue_ws, &id, &[&sue_id]).await;
    // The transcript reads as usual; a watcher cannot mark it read.
    let (s, page) = sue.messages(&id).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(texts(&page["messages"]), ["Hello there"]);
    let (s, v) = sue
        .post(&format!("/api/v1/interactions/{id}/read"), json!({}))
        .await;
    assert_error(s, &v, 409, "not_active");

    // The customer writes on: the watcher sees it live; the agent's unread count is hers alone.
    customer_writes(&wa.sim, "4915111111111", "Olga", "Are you there?").await;
    for ws in [&mut wa.ws, &mut sue_ws] {
        ws.expect("the customer's message", |f| {
            f.kind == "message.created" && f.data["text"] == "Are you there?"
        })
        .await;
    }
    let after = wa.ann.interaction(&id).await;
    assert_eq!(
        after["unread"].as_u64(),
        unread_before.as_u64().map(|n| n + 1),
        "{after}"
    );
    // Nothing told the agent: no viewers event, no event naming the supervisor.
    let seen = wa.ws.drain().await;
    assert!(
        seen.iter()
            .all(|f| f.kind != "interaction.viewers" && !f.data.to_string().contains(&sue_id)),
        "{seen:?}"
    );
    let (_, v) = wa
        .ann
        .put(&format!("/api/v1/interactions/{id}/viewing"), json!({}))
        .await;
    assert_eq!(
        ids(&v),
        [wa.ann_id.as_str()],
        "the agent is not shown the watcher: {v}"
    );
    expect_viewers(&mut wa.ws, &id, &[&wa.ann_id]).await;

    // Nothing reached WhatsApp but the agent's reply: no read receipt.
    let reply = say(&wa, &id, "Yes, one moment").await;
    expect_status(&mut wa.ws, &reply, "delivered").await;
    assert!(
        wa.sim.read_receipts().is_empty(),
        "{:?}",
        wa.sim.read_receipts()
    );

    // Stopping tells supervisors, not the agent.
    let (s, _) = sue
        .delete(&format!("/api/v1/interactions/{id}/watch"))
        .await;
    assert_eq!(s, 204);
    expect_viewers(&mut sue_ws, &id, &[&wa.ann_id]).await;
    assert!(viewer_frames(&mut wa.ws).await.is_empty());

    // An ended interaction is played back, not watched.
    wa.ann.act(&id, "end").await;
    wa.ann.act_with(&id, "wrap-up", json!({})).await;
    let (s, v) = sue
        .post(&format!("/api/v1/interactions/{id}/watch"), json!({}))
        .await;
    assert_error(s, &v, 409, "not_live");
}
on_every_backend!(a_supervisor_watches_an_interaction_silently, silent_watch);

async fn who_is_viewing(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support", "post_processing_s": 60})).await;
    let ann_id = agent(&admin, "ann", 2, false, &[&q]).await;
    let bob_id = agent(&admin, "bob", 2, false, &[&q]).await;
    agent(&admin, "carl", 2, false, &[&q]).await;
    let sue_id = admin
        .ok(
            "/api/v1/agents",
            json!({"username": "sue", "password": PASSWORD, "display_name": "Sue", "role": "supervisor"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (ann, bob, carl, sue) = (
        server.login("ann", PASSWORD).await,
        server.login("bob", PASSWORD).await,
        server.login("carl", PASSWORD).await,
        server.login("sue", PASSWORD).await,
    );
    ann.available().await;
    let id = server.ingest_id(&q, "4917000001", "Mia", "hello?").await;
    ann.act(&id, "accept").await;
    bob.available().await;
    ann.act_with(&id, "conference", json!({"agent_id": bob_id}))
        .await;
    bob.act(&id, "accept").await;
    let viewing = format!("/api/v1/interactions/{id}/viewing");

    // Without a live connection nothing is registered.
    let (s, v) = ann.put(&viewing, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert!(ids(&v).is_empty(), "{v}");

    let mut ann_ws = ann.ws(None).await;
    let mut bob_ws = bob.ws(None).await;
    let mut sue_ws = sue.ws(None).await;
    let v = ann.put(&viewing, json!({})).await.1;
    assert_eq!(
        v,
        json!({"interaction_id": id, "viewers": [{"id": ann_id, "name": "Ann", "watching": false}]})
    );
    for ws in [&mut ann_ws, &mut bob_ws, &mut sue_ws] {
        expect_viewers(ws, &id, &[&ann_id]).await;
    }
    bob.put(&viewing, json!({})).await;
    let f = expect_viewers(&mut ann_ws, &id, &[&ann_id, &bob_id]).await;
    assert_eq!(f.data["viewers"][1]["name"], "Bob");
    expect_viewers(&mut sue_ws, &id, &[&ann_id, &bob_id]).await;

    // A supervisor who only looks is shown to supervisors, never to agents.
    let (s, v) = sue.put(&viewing, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), [ann_id.clone(), bob_id.clone(), sue_id.clone()]);
    assert_eq!(v["viewers"][2]["watching"], true);
    expect_viewers(&mut sue_ws, &id, &[&ann_id, &bob_id, &sue_id]).await;
    assert!(viewer_frames(&mut ann_ws).await.is_empty());
    assert_eq!(
        ids(&bob.put(&viewing, json!({})).await.1),
        [ann_id.clone(), bob_id.clone()]
    );

    // One who may not see the interaction may not say they view it.
    let (s, v) = carl.put(&viewing, json!({})).await;
    assert_error(s, &v, 404, "not_found");

    // Presence ends when the socket closes.
    bob_ws.close().await;
    expect_viewers(&mut ann_ws, &id, &[&ann_id]).await;
    assert_eq!(
        ids(&bob.put(&viewing, json!({})).await.1),
        [ann_id.as_str()]
    );

    // Closing it again is said with DELETE (also when it was not open).
    let (s, _) = carl.delete(&viewing).await;
    assert_eq!(s, 204);

    // A watching supervisor who takes over takes part: the agents see them now.
    sue.ok(&format!("/api/v1/interactions/{id}/take-over"), json!({}))
        .await;
    let f = expect_viewers(&mut ann_ws, &id, &[&ann_id, &sue_id]).await;
    assert_eq!(f.data["viewers"][1]["watching"], false);
    let (s, _) = ann.delete(&viewing).await;
    assert_eq!(s, 204);
    expect_viewers(&mut sue_ws, &id, &[&sue_id]).await;
}
on_every_backend!(who_is_viewing_an_interaction_live, who_is_viewing);
