//! Finding ended interactions for playback: a supervisor searches the interactions of
//! the whole floor by contact, customer number, agent, queue, date range and disposition; agents
//! may not search.

use crate::support::*;
use serde_json::{json, Value};

/// The ids of a list of interactions, in the order given.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `agent` accepts, ends and wraps up `id` with the disposition `code`.
async fn handle(agent: &Api, id: &str, code: &str) {
    agent.act(id, "accept").await;
    agent.reply(id, "Thanks for writing").await;
    agent.act(id, "end").await;
    agent
        .act_with(id, "wrap-up", json!({"disposition_code": code}))
        .await;
    assert_eq!(agent.interaction(id).await["state"], "done");
}

async fn find_ended(db: Db) {
    let dispositions =
        json!([{"code": "sold", "label": "Sold"}, {"code": "lost", "label": "Lost"}]);
    let desk = Desk::open_with(
        db,
        json!({"name": "Support", "dispositions": dispositions.clone()}),
        3,
        false,
    )
    .await;
    let (server, admin) = (&desk.server, &desk.admin);
    let sales = queue(
        admin,
        json!({"name": "Sales", "dispositions": dispositions}),
    )
    .await;
    let bob_id = agent(admin, "bob", 3, false, &[&sales]).await;
    supervisor(admin, "sue").await;
    let olga = desk
        .ann
        .ok(
            "/api/v1/contacts",
            json!({"name": "Olga", "phones": ["+4915111111111"]}),
        )
        .await["id"]
        .as_str()
        .expect("contact id")
        .to_owned();

    // Day 1: Olga writes to Support, Ann sells. Day 3: Pete writes to Sales, Bob loses him;
    // then Olga writes again and Ann is still talking to her.
    let day1 = switchboard_server::Clock::now(&server.clock);
    let first = server
        .ingest_id(&desk.queue, "4915111111111", "Olga", "Hello")
        .await;
    handle(&desk.ann, &first, "sold").await;
    server.clock.advance_secs(2 * 86_400);
    // Two days on, everyone logs in afresh.
    let ann = &server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    bob.available().await;
    let sue = server.login("sue", PASSWORD).await;
    let second = server
        .ingest_id(&sales, "4917222222222", "Pete", "Price?")
        .await;
    handle(&bob, &second, "lost").await;
    let live = server
        .ingest_id(&desk.queue, "4915111111111", "Olga", "Me again")
        .await;
    ann.act(&live, "accept").await;
    assert_eq!(
        ann.interaction(&first).await["contact"]["id"],
        olga.as_str(),
        "the contact was linked on arrival"
    );

    let find = |query: String| {
        let sue = &sue;
        let path = format!("/api/v1/interactions?{query}");
        async move { ids(&sue.get_ok(&path).await) }
    };
    // Every ended one, newest first; the live one is not among them.
    assert_eq!(
        find("all=true&state=done".into()).await,
        [second.as_str(), first.as_str()]
    );
    // By customer number, in any format; without a state the live one is found too.
    assert_eq!(
        find("state=done&customer=%2B49%20151%201111%201111".into()).await,
        [first.as_str()]
    );
    assert_eq!(
        find("customer=4915111111111".into()).await,
        [live.as_str(), first.as_str()]
    );
    assert_eq!(
        find(format!("state=done&contact_id={olga}")).await,
        [first.as_str()]
    );
    assert_eq!(
        find(format!("state=done&agent_id={bob_id}")).await,
        [second.as_str()]
    );
    assert_eq!(
        find(format!("state=done&agent_id={}", desk.ann_id)).await,
        [first.as_str()]
    );
    assert_eq!(
        find(format!("all=true&state=done&queue_id={sales}")).await,
        [second.as_str()]
    );
    assert_eq!(
        find("state=done&disposition=sold".into()).await,
        [first.as_str()]
    );
    assert_eq!(
        find("state=done&disposition=lost".into()).await,
        [second.as_str()]
    );
    assert!(find("state=done&disposition=nope".into()).await.is_empty());
    // A date range on arrival: day 1 alone, then from day 2 on.
    let day2 = rfc3339(day1.0 + 86_400_000);
    assert_eq!(
        find(format!("state=done&to={day2}")).await,
        [first.as_str()]
    );
    assert_eq!(
        find(format!("state=done&from={day2}")).await,
        [second.as_str()]
    );
    // Filters combine.
    assert!(find(format!("state=done&from={day2}&disposition=sold"))
        .await
        .is_empty());

    // Agents may not search the floor; wrong values say what is wrong.
    let (s, v) = ann
        .get(&format!("/api/v1/interactions?agent_id={bob_id}"))
        .await;
    assert_error(s, &v, 403, "forbidden");
    let (s, v) = sue.get("/api/v1/interactions?customer=abc").await;
    assert_error(s, &v, 400, "invalid_customer");
    let (s, v) = sue.get("/api/v1/interactions?from=yesterday").await;
    assert_error(s, &v, 400, "invalid_time");
}

/// `ms` since the epoch as an RFC 3339 time, escaped for a query string.
fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("a time");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
        .replace('+', "%2B")
}

on_every_backend!(supervisors_find_ended_interactions, find_ended);

/// Ended interactions come in pages: `before` is the last id of a page, and the pages follow
/// the listing's order (newest first) without gaps or repeats, even for interactions that
/// arrived at the same instant.
async fn page_through_ended(db: Db) {
    let dispositions = json!([{"code": "sold", "label": "Sold"}]);
    let desk = Desk::open_with(
        db,
        json!({"name": "Support", "dispositions": dispositions}),
        3,
        false,
    )
    .await;
    let server = &desk.server;
    supervisor(&desk.admin, "sue").await;
    let sue = server.login("sue", PASSWORD).await;
    // Five chats handled one after the other, all on the same (fake, unmoved) clock tick.
    for n in 0..5 {
        let id = server
            .ingest_id(&desk.queue, &format!("491511000002{n}"), "Pat", "Hi")
            .await;
        handle(&desk.ann, &id, "sold").await;
    }
    let everything = ids(&sue.get_ok("/api/v1/interactions?all=true&state=done").await);
    assert_eq!(everything.len(), 5);
    let mut paged: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/api/v1/interactions?all=true&state=done&limit=2".to_owned();
    loop {
        let page = ids(&sue.get_ok(&path).await);
        sizes.push(page.len());
        paged.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == 2 => {
                path = format!("/api/v1/interactions?all=true&state=done&limit=2&before={last}")
            }
            _ => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(paged, everything);
    // A search pages the same way.
    let page = sue
        .get_ok(&format!(
            "/api/v1/interactions?disposition=sold&limit=2&before={}",
            everything[1]
        ))
        .await;
    assert_eq!(ids(&page), everything[2..4]);

    // Wrong values say what is wrong.
    let (s, v) = sue
        .get("/api/v1/interactions?all=true&state=done&before=int_nope")
        .await;
    assert_error(s, &v, 400, "invalid_cursor");
    let (s, v) = sue
        .get("/api/v1/interactions?all=true&state=done&limit=0")
        .await;
    assert_error(s, &v, 400, "invalid_limit");
    let (s, v) = sue
        .get(&format!("/api/v1/interactions?before={}", everything[0]))
        .await;
    assert_error(s, &v, 400, "invalid_query");
}

on_every_backend!(ended_interactions_come_in_pages, page_through_ended);
