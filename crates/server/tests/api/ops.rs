//! R-10.1 and R-10.4, operations: liveness, readiness with the database, Prometheus metrics that
//! follow what happens, the OpenAPI document covering every endpoint, and a graceful stop that
//! closes live sockets with 1001 (going away).

use crate::support::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use switchboard_server::http::{endpoint_list, Access};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// The value of one sample (`name{labels}` exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.rsplit_once(' ')
            .filter(|(k, _)| *k == series)
            .and_then(|(_, v)| v.parse().ok())
    })
}

/// Each series of `want` has its value in `text`.
#[track_caller]
fn assert_samples(text: &str, want: &[(&str, f64)]) {
    for (series, value) in want {
        assert_eq!(sample(text, series), Some(*value), "{series}");
    }
}

async fn metrics(anon: &Api) -> String {
    let resp = anon
        .http
        .get(format!("{}/metrics", anon.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = content_type_of(&resp);
    assert!(
        ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
        "{ct}"
    );
    resp.text().await.expect("text")
}

async fn probes_and_metrics(db: Db) {
    let server = Server::start(db.clone()).await;
    let anon = server.anon();
    let (s, v) = anon.get("/healthz").await;
    assert_eq!((s, v["status"].clone()), (200, json!("ok")), "{v}");
    let v = anon.get_ok("/readyz").await;
    assert_eq!(v["status"], "ready");
    assert_eq!(
        v["database"],
        db.name(),
        "readyz names the database it checked"
    );

    let admin = server.admin().await;
    let q = queue(
        &admin,
        json!({"name": "Support", "acceptance_interval_s": 30}),
    )
    .await;
    queue(&admin, json!({"name": "VIP \"gold\""})).await;
    let text = metrics(&anon).await;
    for name in [
        "switchboard_offers_total",
        "switchboard_accepts_total",
        "switchboard_missed_offers_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} counter")),
            "{name} missing:\n{text}"
        );
        assert_eq!(sample(&text, name), Some(0.0), "{name}");
    }
    assert!(text.contains("# TYPE switchboard_queue_depth gauge"));
    assert_eq!(
        sample(&text, r#"switchboard_queue_depth{queue="Support"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"switchboard_queue_depth{queue="VIP \"gold\""}"#),
        Some(0.0),
        "label values are escaped:\n{text}"
    );

    // Three customers wait: the depth says so.
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            server
                .ingest_id(&q, &format!("4919000000{i}"), "Cleo", "hello")
                .await,
        );
    }
    let text = metrics(&anon).await;
    assert_eq!(
        sample(&text, r#"switchboard_queue_depth{queue="Support"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"switchboard_interactions{state="queued"}"#),
        Some(3.0)
    );

    // An agent arrives: three offers; one accepted, one missed, which puts her in RONA and so
    // withdraws the third.
    agent(&admin, "ann", 3, false, &[&q]).await;
    let ann = server.login("ann", PASSWORD).await;
    ann.available().await;
    let text = metrics(&anon).await;
    assert_samples(
        &text,
        &[
            ("switchboard_offers_total", 3.0),
            (r#"switchboard_queue_depth{queue="Support"}"#, 0.0),
            (r#"switchboard_agents{presence="available"}"#, 1.0),
        ],
    );
    ann.ok(
        &format!("/api/v1/interactions/{}/accept", ids[0]),
        json!({}),
    )
    .await;
    let mut ws = ann.ws(None).await;
    server.clock.advance_secs(31);
    let mut reasons = vec![
        ws.expect_kind("offer.withdrawn", &ids[1]).await.data["reason"].clone(),
        ws.expect_kind("offer.withdrawn", &ids[2]).await.data["reason"].clone(),
    ];
    reasons.sort_by_key(Value::to_string);
    assert_eq!(reasons, [json!("agent_unavailable"), json!("timeout")]);
    let text = metrics(&anon).await;
    assert_samples(
        &text,
        &[
            ("switchboard_accepts_total", 1.0),
            ("switchboard_missed_offers_total", 1.0),
            ("switchboard_offers_total", 3.0),
            (r#"switchboard_queue_depth{queue="Support"}"#, 2.0),
            (r#"switchboard_agents{presence="rona"}"#, 1.0),
        ],
    );

    // Request latency, by route template (never by id) and status class.
    let h = "switchboard_http_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {h} histogram")), "{text}");
    let accept = format!(
        r#"{h}_count{{method="POST",route="/api/v1/interactions/{{id}}/accept",status="2xx"}}"#
    );
    assert_eq!(sample(&text, &accept), Some(1.0), "{text}");
    let inf = format!(
        r#"{h}_bucket{{method="POST",route="/api/v1/interactions/{{id}}/accept",status="2xx",le="+Inf"}}"#
    );
    assert_eq!(sample(&text, &inf), Some(1.0));
    assert!(sample(
        &text,
        &format!(
            r#"{h}_sum{{method="POST",route="/api/v1/interactions/{{id}}/accept",status="2xx"}}"#
        )
    )
    .is_some_and(|s| s > 0.0));
    let me_ok = sample(
        &text,
        &format!(r#"{h}_count{{method="PUT",route="/api/v1/me/presence",status="2xx"}}"#),
    );
    assert_eq!(me_ok, Some(1.0));
    assert!(
        !ids.iter().any(|id| text.contains(id.as_str())),
        "no ids in metric labels"
    );
    let (s, _) = anon.get("/api/v1/no-such-thing").await;
    assert_eq!(s, 404);
    let text = metrics(&anon).await;
    assert!(
        sample(
            &text,
            &format!(r#"{h}_count{{method="GET",route="unmatched",status="4xx"}}"#)
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        !text.contains("no-such-thing"),
        "unknown paths do not become labels"
    );
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                r#"{h}_bucket{{method="PUT",route="/api/v1/me/presence",status="2xx""#
            ))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
        .collect();
    assert!(
        buckets.len() > 2 && buckets.windows(2).all(|w| w[0] <= w[1]),
        "{buckets:?}"
    );
}

on_every_backend!(
    probes_answer_and_metrics_follow_what_happens,
    probes_and_metrics
);

async fn openapi(db: Db) {
    let server = Server::start(db).await;
    let (s, doc) = server.anon().get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    let table = endpoint_list();
    let listed: BTreeSet<&str> = table.iter().map(|(_, p, _)| *p).collect();
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        listed, documented,
        "the document lists exactly the served paths"
    );
    for (method, path, access) in &table {
        let op = &paths[*path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path}"
        );
        assert!(op["operationId"].is_string());
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        assert_eq!(
            op["security"].is_array(),
            *access != Access::Public,
            "{method} {path}: security"
        );
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(params, in_path, "{method} {path}: path parameters");
    }
    let methods: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(methods, table.len(), "one operation per endpoint");
    // Request bodies are described by schemas.
    let body =
        &paths["/api/v1/queues"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(body.is_object(), "{body}");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let name = body["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .expect("a schema reference");
    let props = schemas[name]["properties"].as_object().expect("properties");
    assert!(
        props.contains_key("name") && props.contains_key("routing_policy"),
        "{}",
        schemas[name]
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let error: &Value = &doc["components"]["responses"]["Error"];
    assert!(error.is_object(), "the error shape is documented");
    assert_eq!(
        doc_problems(&doc),
        Vec::<String>::new(),
        "the document describes every answer"
    );

    // What a client generator needs beyond the paths.
    let op = |m: &str, p: &str| doc["paths"][p][m].clone();
    let names = |o: &Value| -> Vec<String> {
        o["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let list = op("get", "/api/v1/interactions");
    assert!(
        ["all", "state", "queue_id", "limit"]
            .iter()
            .all(|n| names(&list).iter().any(|x| x == n)),
        "{list}"
    );
    assert!(names(&op("get", "/api/v1/contacts")).contains(&"phone".to_owned()));
    assert!(names(&op("get", "/api/v1/ws")).contains(&"since".to_owned()));
    assert!(names(&op("get", "/webhooks/whatsapp")).contains(&"hub.challenge".to_owned()));
    for path in [
        "/api/v1/interactions/{id}/end",
        "/api/v1/interactions/{id}/wrap-up",
        "/api/v1/interactions/{id}/case",
    ] {
        assert_eq!(
            op("post", path)["requestBody"]["required"],
            false,
            "{path}: the body is optional"
        );
    }
    assert_eq!(
        op("post", "/api/v1/queues")["requestBody"]["required"],
        true
    );
    let send = op("post", "/api/v1/interactions/{id}/messages");
    let form = &send["requestBody"]["content"]["multipart/form-data"]["schema"];
    let form = &schemas[form["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .expect("a form schema")];
    assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
    assert!(send["responses"]["201"]["content"]["application/json"]["schema"].is_object());
    assert!(op("get", "/api/v1/ws")["responses"]["101"].is_object());
    assert!(op("delete", "/api/v1/queues/{id}")["responses"]["204"].is_object());
    assert!(op("post", "/api/v1/queues")["responses"]["201"].is_object());
    // A created queue's id feeds the operations on it.
    let links = &op("post", "/api/v1/queues")["responses"]["201"]["links"];
    assert_eq!(
        links["get_api_v1_queues__id_"]["parameters"]["id"], "$response.body#/id",
        "{links}"
    );
    let links = &op("get", "/api/v1/interactions/{id}")["responses"]["200"]["links"];
    assert!(
        links["post_api_v1_interactions__id__accept"].is_object(),
        "{links}"
    );
}

/// Every way the document falls short of describing the API: an operation without a success
/// answer, a success answer with a body but no schema, a JSON schema without a type, a `$ref`
/// that leads nowhere.
fn doc_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, methods) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in methods.as_object().into_iter().flatten() {
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            let successes: Vec<(&String, &Value)> = responses
                .iter()
                .filter(|(s, _)| s.starts_with('2') || s.as_str() == "101")
                .collect();
            if successes.is_empty() {
                problems.push(format!("{method} {path}: no success answer"));
            }
            for (status, r) in successes {
                match r["content"].as_object() {
                    None if status == "204" || status == "101" => {}
                    None => problems.push(format!("{method} {path} {status}: no content")),
                    Some(types) => {
                        for (ct, media) in types {
                            let schema = &media["schema"];
                            let described = schema
                                .as_object()
                                .is_some_and(|o| o.contains_key("$ref") || o.contains_key("type"));
                            if !described {
                                problems.push(format!(
                                    "{method} {path} {status} {ct}: no schema ({schema})"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r.to_owned());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    // OpenAPI 3.0 has no boolean schemas (`true` for "anything").
    fn booleans(v: &Value, at: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                let here = format!("{at}/{k}");
                if k == "properties" {
                    for (name, s) in child.as_object().into_iter().flatten() {
                        if s.is_boolean() {
                            out.push(format!("{here}/{name} is a boolean schema"));
                        }
                    }
                }
                if matches!(k.as_str(), "items" | "schema") && child.is_boolean() {
                    out.push(format!("{here} is a boolean schema"));
                }
                booleans(child, &here, out);
            }
        }
    }
    booleans(doc, "#", &mut problems);
    let mut all = Vec::new();
    refs(doc, &mut all);
    for r in all {
        let mut cur = doc;
        for part in r.trim_start_matches("#/").split('/') {
            cur = &cur[part];
        }
        if !cur.is_object() {
            problems.push(format!("{r} leads nowhere"));
        }
    }
    problems
}

on_every_backend!(the_openapi_document_lists_every_endpoint, openapi);

async fn shutdown(db: Db) {
    let (mut server, admin) = Server::with_admin(db).await;
    let url = format!(
        "{}/api/v1/ws?token={}",
        server.base.replace("http://", "ws://"),
        admin.token.as_deref().expect("token")
    );
    let (mut stream, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let hello = stream.next().await.expect("frame").expect("frame");
    assert!(hello.to_text().expect("text").contains("\"hello\""));
    let read_close = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    };
    let (_, frame) = tokio::join!(server.stop(), read_close);
    let frame = frame.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Away, "1001 going away: {frame:?}");
    assert_eq!(u16::from(frame.code), 1001);
    // Stopped means stopped.
    let gone = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .send()
        .await;
    assert!(gone.is_err(), "the server still answers after stopping");
}

on_every_backend!(a_graceful_stop_closes_live_sockets_with_1001, shutdown);
