//! reports through HTTP: a scripted day on the fake clock, driven through the public API
//! and signed WhatsApp webhooks (arrivals, offers, a missed offer, a reject, a transfer, first
//! responses, dispositions, one wrap-up completed by the countdown, presence changes, one
//! interaction across midnight in Berlin), then every figure of the summary by queue, agent,
//! channel, day and hour asserted exactly; the CSV parsed and compared with the JSON; the
//! drill-down's rows matching the counts; the timelines adding up; the errors.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchboard_domain::engine::{Fact, FactKind};
use switchboard_domain::model::{Customer, InteractionId, QueueId, Timestamp};
use switchboard_server::ManualClock;

const SECRET: &str = "reports-app-secret";
/// 2027-01-12 00:00 in Berlin (UTC+1): 2027-01-11 23:00 UTC.
const DAY: i64 = 1_799_712_000_000 - 3_600_000;
/// The day in Berlin, `[from, to)`, as query parameters.
const RANGE: &str = "from=2027-01-11T23:00:00Z&to=2027-01-12T23:00:00Z";

/// Berlin time on 2027-01-12 (`h` past 23 is the next day).
fn at(h: i64, m: i64, s: i64) -> Timestamp {
    Timestamp(DAY + ((h * 60 + m) * 60 + s) * 1000)
}

fn set(server: &Server, h: i64, m: i64, s: i64) {
    server.clock.set(at(h, m, s));
}

/// What a row must say: its six counts, and the sums behind its averages (milliseconds and how
/// many), SLA met and missed, and dispositions.
struct Want {
    counts: [i64; 6],
    handle: (i64, i64),
    answer: (i64, i64),
    response: (i64, i64),
    sla: (i64, i64),
    dispositions: &'static [(&'static str, i64)],
}

fn avg(ms: i64, n: i64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        json!(ms as f64 / n as f64 / 1000.0)
    }
}

fn check_row(row: &Value, want: &Want) {
    let counts: Vec<i64> = [
        "offered",
        "accepted",
        "missed",
        "rejected",
        "handled",
        "transferred",
    ]
    .iter()
    .map(|k| row[*k].as_i64().unwrap_or(-1))
    .collect();
    assert_eq!(counts, want.counts, "counts of {}", row["key"]);
    assert_eq!(
        row["avg_handle_s"],
        avg(want.handle.0, want.handle.1),
        "handle of {row}"
    );
    assert_eq!(
        row["avg_speed_of_answer_s"],
        avg(want.answer.0, want.answer.1),
        "speed of answer of {row}"
    );
    assert_eq!(
        row["avg_first_response_s"],
        avg(want.response.0, want.response.1),
        "first response of {row}"
    );
    let (met, missed) = want.sla;
    let sla = if met + missed == 0 {
        Value::Null
    } else {
        json!(met as f64 * 100.0 / (met + missed) as f64)
    };
    assert_eq!(row["sla_met_pct"], sla, "SLA of {row}");
    let d: BTreeMap<&str, i64> = want.dispositions.iter().copied().collect();
    assert_eq!(row["dispositions"], json!(d), "dispositions of {row}");
}

fn rows(summary: &Value) -> &Vec<Value> {
    summary["rows"].as_array().expect("rows")
}

fn key_row<'a>(summary: &'a Value, key: &str) -> &'a Value {
    rows(summary)
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {summary:#}"))
}

/// A tiny RFC 4180 reader: records of fields, quoted fields with doubled quotes, CRLF ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a record ends with CRLF");
                record.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record ends with CRLF"
    );
    out
}

/// A CSV answer: 200, `text/csv; charset=utf-8`, an attachment; its records.
async fn csv(api: &Api, path: &str) -> Vec<Vec<String>> {
    let (status, headers, body) = api.get_bytes(path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"switchboard-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    parse_csv(std::str::from_utf8(&body).expect("UTF-8"))
}

/// A CSV cell equals a JSON value: `null` is empty, numbers are the same number, text is the
/// same text (a leading `=+-@` shown after a `'`).
fn same(cell: &str, v: &Value, what: &str) {
    match v {
        Value::Null => assert_eq!(cell, "", "{what}"),
        Value::Number(n) => assert_eq!(
            cell.parse::<f64>().ok(),
            n.as_f64(),
            "{what}: {cell} vs {n}"
        ),
        Value::Bool(b) => assert_eq!(cell, b.to_string(), "{what}"),
        Value::String(s) => {
            let shown = if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.clone()
            };
            assert_eq!(cell, shown, "{what}");
        }
        other => panic!("{what}: no CSV cell for {other}"),
    }
}

/// The summary CSV says what its JSON says: a header, one line per row, the total last, one
/// column per disposition code.
async fn csv_equals_json(api: &Api, query: &str) {
    let json_v = api
        .get_ok(&format!("/api/v1/reports/summary?{query}"))
        .await;
    let table = csv(api, &format!("/api/v1/reports/summary?{query}&format=csv")).await;
    let (head, lines) = table.split_first().expect("a header row");
    let mut all: Vec<&Value> = rows(&json_v).iter().collect();
    all.push(&json_v["total"]);
    assert_eq!(
        lines.len(),
        all.len(),
        "{query}: a line per row and the total"
    );
    assert_eq!(lines.last().expect("total")[0], "total");
    for (line, row) in lines.iter().zip(all) {
        assert_eq!(line.len(), head.len());
        for (name, cell) in head.iter().zip(line) {
            let v = match name.strip_prefix("disposition:") {
                Some(code) => row["dispositions"].get(code).cloned().unwrap_or(json!(0)),
                None => row[name.as_str()].clone(),
            };
            assert!(
                name.starts_with("disposition:") || row.get(name.as_str()).is_some(),
                "column {name} is not a field"
            );
            same(cell, &v, &format!("{query}: {name} of {}", row["key"]));
        }
    }
    let codes: Vec<&str> = head
        .iter()
        .filter_map(|h| h.strip_prefix("disposition:"))
        .collect();
    let want: std::collections::BTreeSet<&str> = rows(&json_v)
        .iter()
        .chain([&json_v["total"]])
        .flat_map(|r| r["dispositions"].as_object().expect("dispositions").keys())
        .map(String::as_str)
        .collect();
    let want: Vec<&str> = want.into_iter().collect();
    assert_eq!(codes, want, "one column per code seen");
}

/// The interactions CSV says what the JSON list says, row for row.
async fn interactions_csv_equals_json(api: &Api, query: &str) {
    let list = api
        .get_ok(&format!("/api/v1/reports/interactions?{query}&limit=500"))
        .await;
    let items = list["items"].as_array().expect("items");
    let table = csv(
        api,
        &format!("/api/v1/reports/interactions?{query}&format=csv"),
    )
    .await;
    let (head, lines) = table.split_first().expect("a header row");
    assert_eq!(lines.len(), items.len(), "{query}");
    for (line, it) in lines.iter().zip(items) {
        let cell = |name: &str| {
            let i = head.iter().position(|h| h == name).expect(name);
            line[i].as_str()
        };
        let agents = |f: &str| {
            it["agents"]
                .as_array()
                .expect("agents")
                .iter()
                .map(|a| string(&a[f]))
                .collect::<Vec<_>>()
                .join("; ")
        };
        same(cell("queue_id"), &it["queue"]["id"], "queue_id");
        same(cell("queue"), &it["queue"]["name"], "queue");
        same(cell("customer_wa_id"), &it["customer"]["wa_id"], "wa_id");
        same(cell("customer_name"), &it["customer"]["name"], "name");
        assert_eq!(cell("agent_ids"), agents("id"));
        assert_eq!(cell("agents"), agents("name"));
        for name in head {
            if let Some(v) = it
                .get(name.as_str())
                .filter(|v| !v.is_object() && !v.is_array())
            {
                same(cell(name), v, name);
            }
        }
    }
}

/// The interactions behind a count, on one page.
async fn behind(api: &Api, query: &str) -> Vec<Value> {
    let v = api
        .get_ok(&format!(
            "/api/v1/reports/interactions?{RANGE}&limit=500&{query}"
        ))
        .await;
    assert_eq!(v["next"], Value::Null, "one page");
    v["items"].as_array().expect("items").clone()
}

/// Each count of `row` lists exactly its interactions (missed and rejected count offers: the
/// interactions listed carry them) with the row's own filter `filter`.
async fn drill_down_matches(api: &Api, row: &Value, filter: &str, per_agent: bool) {
    for figure in [
        "offered",
        "accepted",
        "handled",
        "transferred",
        "missed",
        "rejected",
    ] {
        if per_agent && figure == "offered" {
            // An agent's offers: one interaction may be offered to them twice (checked apart).
            continue;
        }
        let items = behind(api, &format!("{filter}&figure={figure}")).await;
        let n = row[figure].as_i64().expect("a count");
        let listed = match figure {
            "missed" | "rejected" if !per_agent => items
                .iter()
                .map(|i| i[format!("{figure}_offers")].as_i64().unwrap_or(0))
                .sum(),
            _ => items.len() as i64,
        };
        assert_eq!(listed, n, "{figure} behind {} ({filter})", row["key"]);
    }
    if !per_agent {
        for (code, n) in row["dispositions"].as_object().expect("dispositions") {
            let items = behind(api, &format!("{filter}&disposition={}", enc(code))).await;
            assert_eq!(items.len() as i64, n.as_i64().unwrap_or(-1), "{code}");
        }
    }
}

fn enc(s: &str) -> String {
    s.replace('(', "%28")
        .replace(')', "%29")
        .replace(' ', "%20")
}

/// A customer writes through a signed webhook; the interaction offered to `ws`'s agent.
async fn writes_and_offered(
    sim: &switchboard_simulator::SimulatorHandle,
    ws: &mut Ws,
    wa: &str,
    name: &str,
) -> String {
    let m = customer_writes(sim, wa, name, &format!("Hello, I am {name}")).await;
    assert_eq!(m.status, 200, "the webhook was answered");
    let f = ws
        .expect("the offer", |f| {
            f.kind == "offer.created" && f.data["customer_name"] == name
        })
        .await;
    string(&f.data["interaction_id"])
}

async fn scripted_day(db: Db) {
    let (server, sim) = start_with_simulator_at(
        db,
        SECRET,
        |_| {},
        vec![
            ("SWITCHBOARD_REPORTS__TIMEZONE", "Europe/Berlin".into()),
            ("SWITCHBOARD_SERVER__SESSION_TTL_HOURS", "72".into()),
        ],
        ManualClock::new(at(7, 50, 0)),
    )
    .await;
    let admin = server.admin().await;
    let support = queue(
        &admin,
        json!({"name": "Support", "acceptance_interval_s": 30, "post_processing_s": 60,
               "sla_response_s": 60,
               "dispositions": [{"code": "solved", "label": "Solved"}, {"code": "callback", "label": "Call back"}]}),
    )
    .await;
    let sales = queue(
        &admin,
        json!({"name": "Sales", "acceptance_interval_s": 30, "post_processing_s": 60,
               "sla_response_s": 120, "dispositions": [{"code": "sale", "label": "Sale"}]}),
    )
    .await;
    let (s, channel) = admin
        .post("/api/v1/channels", simulator_channel(SECRET, &support))
        .await;
    assert_eq!(s, 201, "{channel}");
    let channel_id = string(&channel["id"]);
    let ann_id = agent(&admin, "ann", 2, true, &[&support, &sales]).await;
    let bob_id = agent(&admin, "bob", 2, false, &[&support, &sales]).await;
    supervisor(&admin, "sue").await;
    let ann = server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    let sue = server.login("sue", PASSWORD).await;
    let mut ann_ws = ann.ws(None).await;
    let mut bob_ws = bob.ws(None).await;

    // 08:00 Ann starts. C1: answered in 20 s, first response in 50 s, solved.
    set(&server, 8, 0, 0);
    ann.available().await;
    ann_ws.expect_presence(&ann_id, "available").await;
    set(&server, 8, 10, 0);
    let c1 = writes_and_offered(&sim, &mut ann_ws, "4915100000001", "Cleo").await;
    set(&server, 8, 10, 20);
    ann.act(&c1, "accept").await;
    set(&server, 8, 10, 50);
    ann.reply(&c1, "Hi Cleo").await;
    set(&server, 8, 20, 0);
    ann.act(&c1, "end").await;
    set(&server, 8, 20, 30);
    ann.act_with(&c1, "wrap-up", json!({"disposition_code": "solved"}))
        .await;

    // C2: Ann misses it (RONA); Bob, starting at 08:40, takes it; the countdown completes it.
    set(&server, 8, 30, 0);
    let c2 = writes_and_offered(&sim, &mut ann_ws, "4915100000002", "Dan").await;
    set(&server, 8, 30, 30);
    let f = ann_ws.expect_kind("offer.withdrawn", &c2).await;
    assert_eq!(f.data["reason"], "timeout");
    ann_ws.expect_presence(&ann_id, "rona").await;
    set(&server, 8, 40, 0);
    bob.available().await;
    assert_eq!(bob.interaction(&c2).await["state"], "offered");
    set(&server, 8, 40, 10);
    bob.act(&c2, "accept").await;
    set(&server, 8, 41, 0);
    bob.reply(&c2, "Sorry for the wait").await;
    set(&server, 8, 45, 0);
    bob.act(&c2, "end").await;
    set(&server, 8, 46, 0);
    bob_ws.expect_state(&c2, "done").await;
    set(&server, 8, 50, 0);
    bob.on_break("Coffee").await;

    // C3: Ann rejects it (RONA); Bob takes it and transfers it to Ann, who solves it.
    set(&server, 9, 0, 0);
    ann.available().await;
    set(&server, 9, 10, 0);
    let c3 = writes_and_offered(&sim, &mut ann_ws, "4915100000003", "Eve").await;
    set(&server, 9, 10, 5);
    ann.act(&c3, "reject").await;
    assert_eq!(ann.me().await["presence"], "rona");
    set(&server, 9, 12, 0);
    bob.available().await;
    assert_eq!(bob.interaction(&c3).await["state"], "offered");
    set(&server, 9, 12, 20);
    bob.act(&c3, "accept").await;
    set(&server, 9, 13, 0);
    bob.reply(&c3, "Let me look").await;
    set(&server, 9, 15, 0);
    ann.available().await;
    set(&server, 9, 20, 0);
    bob.act_with(&c3, "transfer", json!({"agent_id": ann_id}))
        .await;
    set(&server, 9, 20, 10);
    ann.act(&c3, "accept").await;
    set(&server, 9, 20, 20);
    bob.act_with(&c3, "wrap-up", json!({"disposition_code": "callback"}))
        .await;
    set(&server, 9, 30, 0);
    ann.act(&c3, "end").await;
    set(&server, 9, 30, 40);
    ann.act_with(&c3, "wrap-up", json!({"disposition_code": "solved"}))
        .await;
    set(&server, 9, 55, 0);
    bob.on_break("Lunch").await;

    // C4 (Sales, another number): wrapped up without a code.
    set(&server, 10, 0, 0);
    let c4 = server
        .ingest_id(&sales, "4915100000004", "Finn", "Hello sales")
        .await;
    assert_eq!(ann.interaction(&c4).await["state"], "offered");
    set(&server, 10, 0, 25);
    ann.act(&c4, "accept").await;
    set(&server, 10, 1, 30);
    ann.reply(&c4, "Hi Finn").await;
    set(&server, 10, 10, 0);
    ann.act(&c4, "end").await;
    set(&server, 10, 10, 15);
    ann.act_with(&c4, "wrap-up", json!({})).await;

    // C5 (Sales) waits while Ann is at lunch until 23:45.
    set(&server, 10, 59, 0);
    ann.on_break("Lunch").await;
    set(&server, 11, 0, 0);
    let c5 = server
        .ingest_id(&sales, "4915100000005", "Gus", "Anyone there?")
        .await;
    set(&server, 23, 45, 0);
    ann.available().await;
    assert_eq!(ann.interaction(&c5).await["state"], "offered");
    set(&server, 23, 45, 10);
    ann.act(&c5, "accept").await;
    set(&server, 23, 45, 20);
    ann.reply(&c5, "Sorry, Gus").await;
    set(&server, 23, 46, 0);
    ann.act(&c5, "end").await;
    set(&server, 23, 46, 10);
    ann.act_with(&c5, "wrap-up", json!({"disposition_code": "sale"}))
        .await;

    // C6 arrives at 23:50 and is done after midnight: it counts on the 12th.
    set(&server, 23, 50, 0);
    let c6 = writes_and_offered(&sim, &mut ann_ws, "4915100000006", "Hana").await;
    set(&server, 23, 50, 25);
    ann.act(&c6, "accept").await;
    set(&server, 23, 51, 0);
    ann.reply(&c6, "Hi Hana").await;
    set(&server, 24, 5, 0);
    ann.act(&c6, "end").await;
    set(&server, 24, 5, 30);
    ann.act_with(&c6, "wrap-up", json!({"disposition_code": "solved"}))
        .await;
    set(&server, 24, 10, 0);

    // ---- The figures (ARCHITECTURE.md, "Report definitions").
    // Handle (ms): C1 610 s, C2 350, C3 480 (Bob) + 630 (Ann), C4 590, C5 60, C6 905.
    // Answer: C1 20, C2 610, C3 140, C4 25, C5 45910, C6 25. First response: C1 50, C2 660,
    // C3 180, C4 90, C5 45920, C6 60. SLA met: C1, C4, C6 (60 s of 60 counts as met).
    let total = Want {
        counts: [6, 6, 1, 1, 6, 1],
        handle: (3_625_000, 6),
        answer: (46_730_000, 6),
        response: (46_960_000, 6),
        sla: (3, 3),
        dispositions: &[("(no code)", 1), ("(none)", 1), ("sale", 1), ("solved", 3)],
    };
    let support_want = Want {
        counts: [4, 4, 1, 1, 4, 1],
        handle: (2_975_000, 4),
        answer: (795_000, 4),
        response: (950_000, 4),
        sla: (2, 2),
        dispositions: &[("(none)", 1), ("solved", 3)],
    };
    let sales_want = Want {
        counts: [2, 2, 0, 0, 2, 0],
        handle: (650_000, 2),
        answer: (45_935_000, 2),
        response: (46_010_000, 2),
        sla: (1, 1),
        dispositions: &[("(no code)", 1), ("sale", 1)],
    };
    let by_queue = sue
        .get_ok(&format!("/api/v1/reports/summary?{RANGE}&group_by=queue"))
        .await;
    assert_eq!(
        by_queue["tz"], "Europe/Berlin",
        "reports.timezone by default"
    );
    assert_eq!(by_queue["group_by"], "queue");
    let labels: Vec<&str> = strings(&by_queue["rows"], "label");
    assert_eq!(labels, ["Sales", "Support"]);
    check_row(key_row(&by_queue, &support), &support_want);
    check_row(key_row(&by_queue, &sales), &sales_want);
    check_row(&by_queue["total"], &total);
    assert_eq!(by_queue["total"]["key"], "total");

    // Per agent: their own offers, participations and wrap-ups; the speed figures of what they
    // answered first (Ann: C1, C4, C5, C6; Bob: C2, C3).
    let ann_want = Want {
        counts: [7, 5, 1, 1, 5, 0],
        handle: (2_795_000, 5),
        answer: (45_980_000, 4),
        response: (46_120_000, 4),
        sla: (3, 1),
        dispositions: &[("(no code)", 1), ("sale", 1), ("solved", 3)],
    };
    let bob_want = Want {
        counts: [2, 2, 0, 0, 2, 1],
        handle: (830_000, 2),
        answer: (750_000, 2),
        response: (840_000, 2),
        sla: (0, 2),
        dispositions: &[("(none)", 1), ("callback", 1)],
    };
    let by_agent = sue
        .get_ok(&format!("/api/v1/reports/summary?{RANGE}&group_by=agent"))
        .await;
    assert_eq!(strings(&by_agent["rows"], "label"), ["Ann", "Bob"]);
    check_row(key_row(&by_agent, &ann_id), &ann_want);
    check_row(key_row(&by_agent, &bob_id), &bob_want);
    check_row(&by_agent["total"], &total);
    // One agent's figures with any grouping: Bob by queue (both his interactions are Support's).
    let bob_by_queue = sue
        .get_ok(&format!(
            "/api/v1/reports/summary?{RANGE}&group_by=queue&agent_id={bob_id}"
        ))
        .await;
    assert_eq!(rows(&bob_by_queue).len(), 1);
    check_row(key_row(&bob_by_queue, &support), &bob_want);
    check_row(&bob_by_queue["total"], &bob_want);

    // By channel: the simulator's number (Support) and the other one (Sales).
    let by_channel = sue
        .get_ok(&format!("/api/v1/reports/summary?{RANGE}&group_by=channel"))
        .await;
    check_row(key_row(&by_channel, &channel_id), &support_want);
    assert_eq!(
        key_row(&by_channel, &channel_id)["label"],
        channel["display_phone_number"]
    );
    check_row(key_row(&by_channel, "test-channel"), &sales_want);

    // By day over two days: C6, done after midnight, counts on the day it arrived.
    let two_days = "from=2027-01-11T23:00:00Z&to=2027-01-13T23:00:00Z";
    let by_day = sue
        .get_ok(&format!("/api/v1/reports/summary?{two_days}&group_by=day"))
        .await;
    assert_eq!(
        strings(&by_day["rows"], "key"),
        ["2027-01-12", "2027-01-13"]
    );
    check_row(key_row(&by_day, "2027-01-12"), &total);
    let next = key_row(&by_day, "2027-01-13");
    assert_eq!(next["offered"], 0);
    assert_eq!(next["handled"], 0);
    assert_eq!(next["from"], "2027-01-12T23:00:00.000Z");
    assert_eq!(next["to"], "2027-01-13T23:00:00.000Z");
    // In UTC the same instants are two days: the first hour belongs to the 11th.
    let utc = sue
        .get_ok(&format!(
            "/api/v1/reports/summary?{RANGE}&group_by=day&tz=UTC"
        ))
        .await;
    assert_eq!(utc["tz"], "UTC");
    assert_eq!(strings(&utc["rows"], "key"), ["2027-01-11", "2027-01-12"]);
    assert_eq!(key_row(&utc, "2027-01-11")["offered"], 0);
    check_row(key_row(&utc, "2027-01-12"), &total);

    // By hour: 24 local hours, each interaction in the hour it arrived.
    let by_hour = sue
        .get_ok(&format!("/api/v1/reports/summary?{RANGE}&group_by=hour"))
        .await;
    assert_eq!(rows(&by_hour).len(), 24);
    let offered: BTreeMap<String, i64> = rows(&by_hour)
        .iter()
        .filter(|r| r["offered"] != 0)
        .map(|r| (string(&r["key"]), r["offered"].as_i64().unwrap_or(0)))
        .collect();
    let want: BTreeMap<String, i64> = [
        ("2027-01-12T08:00", 2),
        ("2027-01-12T09:00", 1),
        ("2027-01-12T10:00", 1),
        ("2027-01-12T11:00", 1),
        ("2027-01-12T23:00", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(offered, want);
    check_row(
        key_row(&by_hour, "2027-01-12T08:00"),
        &Want {
            counts: [2, 2, 1, 0, 2, 0],
            handle: (960_000, 2),
            answer: (630_000, 2),
            response: (710_000, 2),
            sla: (1, 1),
            dispositions: &[("(none)", 1), ("solved", 1)],
        },
    );
    let eight = key_row(&by_hour, "2027-01-12T08:00");
    assert_eq!(eight["from"], "2027-01-12T07:00:00.000Z");
    assert_eq!(eight["to"], "2027-01-12T08:00:00.000Z");

    // ---- The drill-down: each count lists exactly its interactions.
    drill_down_matches(&sue, &by_queue["total"], "", false).await;
    drill_down_matches(
        &sue,
        key_row(&by_queue, &support),
        &format!("queue_id={support}"),
        false,
    )
    .await;
    drill_down_matches(
        &sue,
        key_row(&by_queue, &sales),
        &format!("queue_id={sales}"),
        false,
    )
    .await;
    drill_down_matches(
        &sue,
        key_row(&by_agent, &ann_id),
        &format!("agent_id={ann_id}"),
        true,
    )
    .await;
    drill_down_matches(
        &sue,
        key_row(&by_agent, &bob_id),
        &format!("agent_id={bob_id}"),
        true,
    )
    .await;
    // Ann was offered C3 twice (routed, then by Bob's transfer): 7 offers, 6 interactions.
    let offered_ann = behind(&sue, &format!("agent_id={ann_id}&figure=offered")).await;
    assert_eq!(offered_ann.len(), 6);
    let offered_bob = behind(&sue, &format!("agent_id={bob_id}&figure=offered")).await;
    assert_eq!(
        strings(&json!(offered_bob), "id"),
        [c3.as_str(), c2.as_str()]
    );
    // An hour's row drills down with its own instants.
    let day_row = key_row(&by_hour, "2027-01-12T09:00");
    let nine = sue
        .get_ok(&format!(
            "/api/v1/reports/interactions?from={}&to={}",
            string(&day_row["from"]),
            string(&day_row["to"])
        ))
        .await;
    assert_eq!(strings(&nine["items"], "id"), [c3.as_str()]);
    // The rows themselves: newest first, with what happened to each.
    let all = behind(&sue, "").await;
    let ids: Vec<String> = all.iter().map(|i| string(&i["id"])).collect();
    assert_eq!(ids, [&c6, &c5, &c4, &c3, &c2, &c1].map(String::clone));
    let r3 = &all[3];
    assert_eq!(r3["queue"], json!({"id": support, "name": "Support"}));
    assert_eq!(
        r3["customer"],
        json!({"wa_id": "4915100000003", "name": "Eve"})
    );
    assert_eq!(
        r3["agents"],
        json!([{"id": bob_id, "name": "Bob"}, {"id": ann_id, "name": "Ann"}])
    );
    assert_eq!(
        (
            &r3["transfers"],
            &r3["rejected_offers"],
            &r3["disposition"],
            &r3["handle_s"],
            &r3["speed_of_answer_s"],
            &r3["first_response_s"]
        ),
        (
            &json!(1),
            &json!(1),
            &json!("solved"),
            &json!(1110.0),
            &json!(140.0),
            &json!(180.0)
        )
    );
    assert_eq!(r3["created_at"], "2027-01-12T08:10:00.000Z");
    assert_eq!(all[0]["wrapped_up_at"], "2027-01-12T23:05:30.000Z");
    assert_eq!(all[4]["disposition"], "(none)");
    assert_eq!(all[4]["missed_offers"], 1);
    // Pages: two at a time, following `next`, give the same rows.
    let mut paged = Vec::new();
    let mut before = String::new();
    loop {
        let v = sue
            .get_ok(&format!(
                "/api/v1/reports/interactions?{RANGE}&limit=2&before={before}"
            ))
            .await;
        paged.extend(strings(&v["items"], "id").into_iter().map(str::to_owned));
        match v["next"].as_str() {
            Some(n) => before = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, ids);
    // Six rows in pages of three: the second page is the last, and says so.
    let first = sue
        .get_ok(&format!("/api/v1/reports/interactions?{RANGE}&limit=3"))
        .await;
    let second = sue
        .get_ok(&format!(
            "/api/v1/reports/interactions?{RANGE}&limit=3&before={}",
            string(&first["next"])
        ))
        .await;
    assert_eq!(
        strings(&second["items"], "id"),
        [c3.as_str(), c2.as_str(), c1.as_str()]
    );
    assert_eq!(second["next"], Value::Null);

    // ---- CSV = JSON.
    for g in ["queue", "agent", "channel", "day", "hour"] {
        csv_equals_json(&sue, &format!("{RANGE}&group_by={g}")).await;
    }
    csv_equals_json(&sue, &format!("{RANGE}&group_by=queue&agent_id={ann_id}")).await;
    interactions_csv_equals_json(&sue, RANGE).await;
    interactions_csv_equals_json(&sue, &format!("{RANGE}&agent_id={bob_id}&figure=handled")).await;

    // ---- Timelines: intervals tile the day, totals add up to it.
    let ann_t = sue
        .get_ok(&format!("/api/v1/reports/agents/{ann_id}/timeline?{RANGE}"))
        .await;
    assert_eq!(
        ann_t["totals"],
        json!({"offline": 28800.0, "available": 9575.0, "rona": 2065.0, "on_break": 45960.0})
    );
    assert_eq!(ann_t["break_totals"], json!({"Lunch": 45960.0}));
    let bob_t = sue
        .get_ok(&format!("/api/v1/reports/agents/{bob_id}/timeline?{RANGE}"))
        .await;
    assert_eq!(
        bob_t["totals"],
        json!({"offline": 31200.0, "available": 3180.0, "on_break": 52020.0})
    );
    assert_eq!(
        bob_t["break_totals"],
        json!({"Coffee": 1320.0, "Lunch": 50700.0})
    );
    for t in [&ann_t, &bob_t] {
        let sum: f64 = t["totals"]
            .as_object()
            .expect("totals")
            .values()
            .filter_map(Value::as_f64)
            .sum();
        assert_eq!(sum, 86_400.0, "the totals add up to the day");
        let iv = t["intervals"].as_array().expect("intervals");
        assert_eq!(iv[0]["from"], "2027-01-11T23:00:00.000Z");
        assert_eq!(iv[iv.len() - 1]["to"], "2027-01-12T23:00:00.000Z");
        for w in iv.windows(2) {
            assert_eq!(w[0]["to"], w[1]["from"], "the intervals tile the range");
        }
    }
    let ann_csv = csv(
        &sue,
        &format!("/api/v1/reports/agents/{ann_id}/timeline?{RANGE}&format=csv"),
    )
    .await;
    let ann_iv = ann_t["intervals"].as_array().expect("intervals");
    assert_eq!(ann_csv[0], ["presence", "reason", "from", "to", "seconds"]);
    assert_eq!(ann_csv.len(), ann_iv.len() + 1);
    for (line, iv) in ann_csv[1..].iter().zip(ann_iv) {
        same(&line[0], &iv["presence"], "presence");
        same(&line[1], &iv["reason"], "reason");
        same(&line[2], &iv["from"], "from");
        same(&line[3], &iv["to"], "to");
    }
    // Asked in the middle of the day, a timeline stops at the time of asking.
    let half = sue
        .get_ok(&format!(
            "/api/v1/reports/agents/{ann_id}/timeline?from=2027-01-12T23:00:00Z&to=2027-01-13T23:00:00Z"
        ))
        .await;
    assert_eq!(half["totals"], json!({"available": 600.0}));

    // ---- Nobody but supervisors and admins reads reports; the admin reads the same.
    let (s, v) = ann.get(&format!("/api/v1/reports/summary?{RANGE}")).await;
    assert_error(s, &v, 403, "forbidden");
    assert_eq!(
        admin
            .get_ok(&format!("/api/v1/reports/summary?{RANGE}"))
            .await["total"],
        by_queue["total"]
    );
}

on_every_backend!(reports_of_a_scripted_day_are_exact, scripted_day);

async fn refusals(db: Db) {
    let (_server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    let a = agent(&admin, "ann", 1, false, &[&q]).await;
    let cases: Vec<(String, u16, &str)> = vec![
        ("/api/v1/reports/summary".into(), 422, "invalid_time"),
        ("/api/v1/reports/summary?from=2027-01-01T00:00:00Z".into(), 422, "invalid_time"),
        ("/api/v1/reports/summary?from=yesterday&to=2027-01-02T00:00:00Z".into(), 422, "invalid_time"),
        ("/api/v1/reports/summary?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z".into(), 422, "invalid_range"),
        ("/api/v1/reports/summary?from=2027-01-01T00:00:00Z&to=2027-01-01T00:00:00Z".into(), 422, "invalid_range"),
        (format!("/api/v1/reports/summary?{RANGE}&group_by=week"), 422, "invalid_group_by"),
        (format!("/api/v1/reports/summary?{RANGE}&tz=Mars/Olympus"), 422, "invalid_timezone"),
        (format!("/api/v1/reports/summary?{RANGE}&format=xlsx"), 422, "invalid_format"),
        ("/api/v1/reports/summary?from=2000-01-01T00:00:00Z&to=2027-01-01T00:00:00Z".into(), 422, "range_too_long"),
        ("/api/v1/reports/summary?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&group_by=hour".into(), 422, "range_too_long"),
        (format!("/api/v1/reports/summary?{RANGE}&queue_id=q_missing"), 404, "not_found"),
        (format!("/api/v1/reports/summary?{RANGE}&agent_id=u_missing"), 404, "not_found"),
        (format!("/api/v1/reports/interactions?{RANGE}&figure=happy"), 422, "invalid_figure"),
        (format!("/api/v1/reports/interactions?{RANGE}&limit=0"), 400, "invalid_limit"),
        (format!("/api/v1/reports/interactions?{RANGE}&queue_id=q_missing&format=csv"), 404, "not_found"),
        ("/api/v1/reports/interactions?to=2027-01-01T00:00:00Z".into(), 422, "invalid_time"),
        (format!("/api/v1/reports/agents/u_missing/timeline?{RANGE}"), 404, "not_found"),
        (format!("/api/v1/reports/agents/{a}/timeline?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z"), 422, "invalid_range"),
    ];
    for (path, status, code) in cases {
        let (s, v) = admin.get(&path).await;
        assert_error(s, &v, status, code);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {v}"
        );
    }
    let (_, v) = admin
        .get("/api/v1/reports/summary?from=2000-01-01T00:00:00Z&to=2027-01-01T00:00:00Z")
        .await;
    assert_eq!(v["error"]["max_days"], 3660, "the limit is said: {v}");
    // An unknown channel or disposition is no error: it has no figures.
    let v = admin
        .get_ok(&format!(
            "/api/v1/reports/summary?{RANGE}&channel_id=nowhere"
        ))
        .await;
    assert_eq!(v["total"]["offered"], 0);
    let v = admin
        .get_ok(&format!(
            "/api/v1/reports/interactions?{RANGE}&disposition=nope"
        ))
        .await;
    assert_eq!(v["items"], json!([]));
}

on_every_backend!(reports_refuse_bad_questions_clearly, refusals);

/// The interactions CSV is streamed page by page through the store: every row once, in
/// order, across several pages; text that a spreadsheet would run is neutralised.
async fn streamed(db: Db) {
    let (server, admin) = Server::with_admin(db).await;
    let q = queue(&admin, json!({"name": "Support"})).await;
    let n = 2_345;
    let base = DAY + 3_600_000;
    let facts: Vec<Fact> = (0..n)
        .map(|i| Fact {
            at: Timestamp(base + i * 1000),
            kind: FactKind::Arrived {
                interaction: InteractionId(format!("i_{i:05}")),
                queue: QueueId(q.clone()),
                channel: Some("ch".into()),
                customer: Customer {
                    wa_id: format!("49151{i:07}"),
                    name: Some(if i == 7 {
                        "=HYPERLINK(\"http://x\",\"a, b\")".into()
                    } else {
                        format!("Customer {i}")
                    }),
                },
                contact_id: None,
                outbound: false,
                sla_response_s: 60,
            },
        })
        .collect();
    for chunk in facts.chunks(500) {
        server
            .state
            .store
            .commit(&switchboard_store::Changeset {
                facts: chunk.to_vec(),
                ..Default::default()
            })
            .await
            .expect("facts stored");
    }
    let table = csv(
        &admin,
        &format!("/api/v1/reports/interactions?{RANGE}&format=csv"),
    )
    .await;
    assert_eq!(table.len() as i64, n + 1, "a header and every row");
    let ids: Vec<&str> = table[1..].iter().map(|r| r[0].as_str()).collect();
    let want: Vec<String> = (0..n).rev().map(|i| format!("i_{i:05}")).collect();
    assert_eq!(ids, want, "newest first, each once");
    let seventh = table.iter().find(|r| r[0] == "i_00007").expect("row 7");
    assert_eq!(seventh[5], "'=HYPERLINK(\"http://x\",\"a, b\")");
}

on_every_backend!(the_interactions_csv_streams_every_row, streamed);
