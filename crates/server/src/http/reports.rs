//! Reports, read by supervisors and admins: the summary grouped by queue, agent,
//! channel, local day or hour; one row per interaction (the drill-down); an agent's presence
//! timeline. Each in JSON or, with `format=csv`, as an RFC 4180 file. The figures are the
//! store's (`switchboard_store::reports`, defined in ARCHITECTURE.md, "Report definitions"); this
//! module checks the question, names things and writes the answer.
//!
//! The interactions CSV is streamed: the store is read in keyset pages of [`CSV_PAGE`] rows and
//! each page is written out before the next is read, so memory stays flat however many rows.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{ok, Access, Endpoint, Path, Query};
use crate::runtime::error::ApiError;
use crate::runtime::views;
use crate::services::paging;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use switchboard_domain::{AgentId, InteractionId, QueueId, Timestamp};
use switchboard_store::{
    report_bucket_range, report_day_of, ReportFigure, ReportFilter, ReportGroup, ReportInteraction,
    SummaryQuery, SummaryRow, Timeline, MAX_HOUR_RANGE_DAYS, MAX_RANGE_DAYS,
};

feature_state! {
    /// The reports' handles: the store for the figures, the core for names and ids, the clock
    /// for "now" and the configuration for the default time zone.
    ReportsState {
    core: Core,
    store: Store,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    }
}

/// Rows read from the store per page of the streamed interactions CSV.
const CSV_PAGE: i64 = 1_000;
const DAY_MS: i64 = 86_400_000;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/api/v1/reports/summary",
            summary: "Figures of the interactions that arrived in [from, to) (RFC 3339, required; at most 3660 days, 366 with group_by=hour), grouped by queue, agent, channel, day or hour (group_by, default queue; days and hours are local to tz, an IANA name, default reports.timezone), narrowed by queue_id, agent_id, channel_id; a total once per interaction. format=csv answers text/csv: a header row, one line per row, the total line last, one column `disposition:CODE` per code seen.",
            access: Access::Supervisor,
            body: None,
            handler: get(summary),
            doc: super::Doc::ok::<super::wire::ReportSummary>()
                .and(super::Reply::Text(200, "text/csv"))
                .query::<SummaryParams>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/reports/interactions",
            summary: "The interactions behind the figures (drill-down): those that arrived in [from, to), newest first, filtered by queue_id, agent_id (offered to or worked by them), channel_id, disposition and figure (the count clicked). JSON pages with limit (1-500, default 50) and before = the `next` of the previous page; format=csv streams every row.",
            access: Access::Supervisor,
            body: None,
            handler: get(interactions),
            doc: super::Doc::ok::<super::wire::ReportInteractions>()
                .and(super::Reply::Text(200, "text/csv"))
                .query::<InteractionParams>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/reports/agents/{id}/timeline",
            summary: "An agent's presence over [from, to) clipped to now: intervals that tile it (offline before the first one) and seconds per presence and per break reason, adding up to the range. format=csv: one line per interval.",
            access: Access::Supervisor,
            body: None,
            handler: get(timeline),
            doc: super::Doc::ok::<super::wire::ReportTimeline>()
                .and(super::Reply::Text(200, "text/csv"))
                .query::<TimelineParams>(),
        },
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SummaryParams {
    /// Start of the range, inclusive (RFC 3339). Required.
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339). Required.
    to: Option<String>,
    /// `queue` (default), `agent`, `channel`, `day` or `hour`.
    group_by: Option<String>,
    /// Only interactions that arrived in this queue (404 for an unknown queue).
    queue_id: Option<String>,
    /// This agent's own figures (404 for an unknown agent).
    agent_id: Option<String>,
    /// Only interactions of this WhatsApp number (an unknown one has no figures).
    channel_id: Option<String>,
    /// IANA time zone of days and hours (`Europe/Berlin`); default `reports.timezone`.
    tz: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct InteractionParams {
    /// Start of the range, inclusive (RFC 3339). Required.
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339). Required.
    to: Option<String>,
    queue_id: Option<String>,
    /// Interactions offered to or worked by this agent; with `figure`, those behind the
    /// agent's own count.
    agent_id: Option<String>,
    channel_id: Option<String>,
    /// A disposition key of the summary: a code, `(none)` or `(no code)`.
    disposition: Option<String>,
    /// The count clicked: `offered`, `accepted`, `missed`, `rejected`, `handled`,
    /// `transferred`.
    figure: Option<String>,
    /// JSON page size, 1-500 (default 50).
    limit: Option<i64>,
    /// The `next` of the previous page.
    before: Option<String>,
    /// `json` (default) or `csv` (every row, streamed).
    format: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct TimelineParams {
    /// Start of the range, inclusive (RFC 3339). Required.
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339). Required.
    to: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

// ------------------------------------------------------------------------------ the question

/// Whether the answer is CSV (`format=csv`) or JSON (`format=json`, or none).
fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format.filter(|f| !f.is_empty()) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            "invalid_format",
            format!("format must be json or csv, not {other:?}"),
        )),
    }
}

/// The range `[from, to)`: both required RFC 3339 times, `from` before `to`, at most
/// `max_days` long. Every fault is 422 with what to send instead.
fn range(
    from: Option<&str>,
    to: Option<&str>,
    max_days: i64,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let one = |name: &str, v: Option<&str>| {
        super::time_param(name, v)
            .map_err(|e| ApiError::invalid("invalid_time", e.message))?
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_time",
                    format!("{name} is required: an RFC 3339 time such as 2026-01-31T00:00:00Z"),
                )
            })
    };
    let (from, to) = (one("from", from)?, one("to", to)?);
    if to <= from {
        return Err(ApiError::invalid(
            "invalid_range",
            "to must be after from (the range is [from, to))",
        ));
    }
    if to.0 - from.0 > max_days * DAY_MS {
        return Err(ApiError::invalid(
            "range_too_long",
            format!("the range may be at most {max_days} days long"),
        )
        .with("max_days", max_days));
    }
    Ok((from, to))
}

/// The IANA zone asked for, else `reports.timezone`; 422 for a name the tz database lacks.
fn zone(state: &ReportsState, tz: Option<&str>) -> Result<String, ApiError> {
    let tz = match tz.filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None => return Ok(state.config.reports.timezone.clone()),
    };
    report_day_of(Timestamp(0), &tz).map_err(|_| {
        ApiError::invalid(
            "invalid_timezone",
            format!("tz must be an IANA time zone name such as UTC or Europe/Berlin, not {tz:?}"),
        )
    })?;
    Ok(tz)
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// The queue and agent filters, each 404 when no such queue or agent exists.
async fn known_filters(
    state: &ReportsState,
    queue_id: Option<String>,
    agent_id: Option<String>,
) -> Result<(Option<QueueId>, Option<AgentId>), ApiError> {
    let queue = nonempty(queue_id).map(QueueId);
    let agent = nonempty(agent_id).map(AgentId);
    if queue.is_none() && agent.is_none() {
        return Ok((None, None));
    }
    let (q, a) = (queue.clone(), agent.clone());
    let (queue_ok, agent_ok) = state
        .core
        .read(move |s| {
            (
                q.as_ref().is_none_or(|q| s.engine.queue(q).is_some()),
                a.as_ref().is_none_or(|a| s.engine.agent(a).is_some()),
            )
        })
        .await?;
    if !queue_ok {
        return Err(ApiError::not_found("queue"));
    }
    if !agent_ok {
        return Err(ApiError::not_found("agent"));
    }
    Ok((queue, agent))
}

/// Agents' display names by id (a deleted agent is shown by id).
async fn agent_names(state: &ReportsState) -> Result<HashMap<String, String>, ApiError> {
    state
        .core
        .read(|s| {
            s.engine
                .agents()
                .map(|a| (a.id.0.clone(), a.display_name.clone()))
                .collect()
        })
        .await
}

// ------------------------------------------------------------------------------------- CSV

/// One CSV line (RFC 4180): fields separated by commas, ended by CRLF. A field is quoted when it
/// holds a comma, a quote, CR or LF (quotes doubled inside). A text field starting with `=`,
/// `+`, `-`, `@`, a tab or CR, which a spreadsheet would run as a formula, gets a leading `'`
/// inside quotes (OWASP's advice), so it is shown as the text it is. Numbers are written as
/// numbers.
#[derive(Default)]
struct CsvLine(String);

impl CsvLine {
    fn sep(&mut self) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
    }
    /// A text field.
    fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
        if formula || s.contains([',', '"', '\r', '\n']) {
            self.0.push('"');
            if formula {
                self.0.push('\'');
            }
            self.0.push_str(&s.replace('"', "\"\""));
            self.0.push('"');
        } else {
            self.0.push_str(s);
        }
        self
    }
    fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        self.text(s.unwrap_or(""))
    }
    /// A number (empty when there is none).
    fn num(&mut self, n: Option<impl std::fmt::Display>) -> &mut Self {
        self.sep();
        if let Some(n) = n {
            let _ = write!(self.0, "{n}");
        }
        self
    }
    fn time(&mut self, t: Option<Timestamp>) -> &mut Self {
        self.sep();
        if let Some(t) = t {
            self.0.push_str(&views::ts(t));
        }
        self
    }
    /// [`CsvLine::time`] of one of many instants, most of them on the same days.
    fn instant(&mut self, dates: &mut Dates, t: Option<Timestamp>) -> &mut Self {
        self.sep();
        if let Some(t) = t {
            dates.push(t, &mut self.0);
        }
        self
    }
    fn end(self, out: &mut String) {
        out.push_str(&self.0);
        out.push_str("\r\n");
    }
}

/// [`views::ts`] of the many instants of a long CSV: the date is formatted once per UTC day,
/// the time of day from its digits (the streamed CSV writes five instants a row).
#[derive(Default)]
struct Dates {
    /// The day (since 1970-01-01) and its `YYYY-MM-DDT`.
    day: Option<(i64, String)>,
}

impl Dates {
    fn push(&mut self, t: Timestamp, out: &mut String) {
        let (day, ms) = (t.0.div_euclid(DAY_MS), t.0.rem_euclid(DAY_MS));
        let date = match &self.day {
            Some((d, date)) if *d == day => date,
            _ => {
                let date: String = views::ts(Timestamp(day * DAY_MS))
                    .chars()
                    .take(11)
                    .collect();
                &self.day.insert((day, date)).1
            }
        };
        if date.len() != 11 {
            // Outside the years views::ts writes: as it writes them.
            out.push_str(&views::ts(t));
            return;
        }
        out.push_str(date);
        let _ = write!(
            out,
            "{:02}:{:02}:{:02}.{:03}Z",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
    }
}

/// A header row of plain column names.
fn header_row(names: &[&str], out: &mut String) {
    let mut l = CsvLine::default();
    for n in names {
        l.text(n);
    }
    l.end(out);
}

/// A CSV answer, downloaded as `filename`.
fn csv_response(body: Body, filename: &str) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The UTC day of `t` (`YYYY-MM-DD`), for file names.
fn day(t: Timestamp) -> String {
    views::ts(t).chars().take(10).collect()
}

// ---------------------------------------------------------------------------------- summary

const SUMMARY_COLUMNS: [&str; 14] = [
    "key",
    "label",
    "from",
    "to",
    "offered",
    "accepted",
    "missed",
    "rejected",
    "handled",
    "transferred",
    "avg_handle_s",
    "avg_speed_of_answer_s",
    "avg_first_response_s",
    "sla_met_pct",
];

/// A row of the summary as JSON: its figures and the instants `[from, to)` it covers (a day's
/// or hour's own; the whole range for other rows), which the drill-down takes as they are.
fn row_json(r: &SummaryRow, from: Timestamp, to: Timestamp) -> Value {
    json!({
        "key": r.key,
        "label": r.label,
        "from": views::ts(from),
        "to": views::ts(to),
        "offered": r.offered,
        "accepted": r.accepted,
        "missed": r.missed,
        "rejected": r.rejected,
        "handled": r.handled,
        "transferred": r.transferred,
        "avg_handle_s": r.avg_handle_s,
        "avg_speed_of_answer_s": r.avg_speed_of_answer_s,
        "avg_first_response_s": r.avg_first_response_s,
        "sla_met_pct": r.sla_met_pct,
        "dispositions": r.dispositions,
    })
}

fn row_csv(r: &SummaryRow, from: Timestamp, to: Timestamp, codes: &[&String], out: &mut String) {
    let mut l = CsvLine::default();
    l.text(&r.key)
        .text(&r.label)
        .time(Some(from))
        .time(Some(to))
        .num(Some(r.offered))
        .num(Some(r.accepted))
        .num(Some(r.missed))
        .num(Some(r.rejected))
        .num(Some(r.handled))
        .num(Some(r.transferred))
        .num(r.avg_handle_s)
        .num(r.avg_speed_of_answer_s)
        .num(r.avg_first_response_s)
        .num(r.sla_met_pct);
    for c in codes {
        l.num(Some(r.dispositions.get(*c).copied().unwrap_or(0)));
    }
    l.end(out);
}

/// `GET /api/v1/reports/summary`
async fn summary(
    State(state): State<ReportsState>,
    Query(p): Query<SummaryParams>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(p.format.as_deref())?;
    let group_by = match p.group_by.as_deref().filter(|g| !g.is_empty()) {
        None => ReportGroup::Queue,
        Some(g) => ReportGroup::parse(g).ok_or_else(|| {
            ApiError::invalid(
                "invalid_group_by",
                format!("group_by must be queue, agent, channel, day or hour, not {g:?}"),
            )
        })?,
    };
    let max_days = if group_by == ReportGroup::Hour {
        MAX_HOUR_RANGE_DAYS
    } else {
        MAX_RANGE_DAYS
    };
    let (from, to) = range(p.from.as_deref(), p.to.as_deref(), max_days)?;
    let tz = zone(&state, p.tz.as_deref())?;
    let (queue_id, agent_id) = known_filters(&state, p.queue_id, p.agent_id).await?;
    let s = state
        .store
        .report_summary(&SummaryQuery {
            filter: ReportFilter {
                from,
                to,
                queue_id,
                agent_id,
                channel_id: nonempty(p.channel_id),
                ..ReportFilter::default()
            },
            group_by,
            tz: tz.clone(),
            now: state.clock.now(),
        })
        .await?;
    // A day's or hour's row covers its own instants, clipped to the range asked for.
    let span = |r: &SummaryRow| match group_by {
        ReportGroup::Day | ReportGroup::Hour => report_bucket_range(&r.key, &tz)
            .map(|(a, b)| (a.max(from), b.min(to)))
            .unwrap_or((from, to)),
        _ => (from, to),
    };
    if csv {
        let codes: BTreeSet<&String> = s
            .rows
            .iter()
            .chain(std::iter::once(&s.total))
            .flat_map(|r| r.dispositions.keys())
            .collect();
        let codes: Vec<&String> = codes.into_iter().collect();
        let mut out = String::new();
        let mut head = CsvLine::default();
        for c in SUMMARY_COLUMNS {
            head.text(c);
        }
        for c in &codes {
            head.text(&format!("disposition:{c}"));
        }
        head.end(&mut out);
        for r in &s.rows {
            let (a, b) = span(r);
            row_csv(r, a, b, &codes, &mut out);
        }
        row_csv(&s.total, from, to, &codes, &mut out);
        let name = format!(
            "switchboard-summary-by-{}-{}-to-{}.csv",
            group_by.as_str(),
            day(from),
            day(to)
        );
        return Ok(csv_response(Body::from(out), &name));
    }
    let rows: Vec<Value> = s
        .rows
        .iter()
        .map(|r| {
            let (a, b) = span(r);
            row_json(r, a, b)
        })
        .collect();
    Ok(ok(json!({
        "from": views::ts(from),
        "to": views::ts(to),
        "group_by": group_by.as_str(),
        "tz": tz,
        "rows": rows,
        "total": row_json(&s.total, from, to),
    })))
}

// ----------------------------------------------------------------------------- interactions

const INTERACTION_COLUMNS: [&str; 24] = [
    "id",
    "queue_id",
    "queue",
    "channel",
    "customer_wa_id",
    "customer_name",
    "contact_id",
    "agent_ids",
    "agents",
    "outbound",
    "created_at",
    "accepted_at",
    "first_response_at",
    "ended_at",
    "wrapped_up_at",
    "disposition",
    "handle_s",
    "speed_of_answer_s",
    "first_response_s",
    "transfers",
    "missed_offers",
    "rejected_offers",
    "messages_in",
    "messages_out",
];

fn name_of<'a>(names: &'a HashMap<String, String>, a: &'a AgentId) -> &'a str {
    names.get(a.as_str()).map_or(a.as_str(), String::as_str)
}

fn interaction_json(r: &ReportInteraction, names: &HashMap<String, String>) -> Value {
    let agents: Vec<Value> = r
        .agents
        .iter()
        .map(|a| json!({"id": a, "name": name_of(names, a)}))
        .collect();
    let ts = |t: Option<Timestamp>| t.map(views::ts);
    json!({
        "id": r.id,
        "queue": {"id": r.queue_id, "name": r.queue},
        "channel": r.channel_id,
        "customer": {"wa_id": r.customer_wa_id, "name": r.customer_name},
        "contact_id": r.contact_id,
        "agents": agents,
        "outbound": r.outbound,
        "created_at": views::ts(r.created_at),
        "accepted_at": ts(r.accepted_at),
        "first_response_at": ts(r.first_response_at),
        "ended_at": ts(r.ended_at),
        "wrapped_up_at": ts(r.wrapped_up_at),
        "disposition": r.disposition,
        "handle_s": r.handle_s,
        "speed_of_answer_s": r.speed_of_answer_s,
        "first_response_s": r.first_response_s,
        "transfers": r.transfers,
        "missed_offers": r.missed_offers,
        "rejected_offers": r.rejected_offers,
        "messages_in": r.messages_in,
        "messages_out": r.messages_out,
    })
}

/// Agents in a CSV cell: names (or ids) joined by `"; "`.
fn joined(r: &ReportInteraction, f: impl Fn(&AgentId) -> String) -> String {
    r.agents.iter().map(f).collect::<Vec<_>>().join("; ")
}

fn interaction_csv(
    r: &ReportInteraction,
    names: &HashMap<String, String>,
    dates: &mut Dates,
    out: &mut String,
) {
    let mut l = CsvLine::default();
    l.text(r.id.as_str())
        .text(r.queue_id.as_str())
        .text(&r.queue)
        .opt_text(r.channel_id.as_deref())
        .text(&r.customer_wa_id)
        .opt_text(r.customer_name.as_deref())
        .opt_text(r.contact_id.as_deref())
        .text(&joined(r, |a| a.0.clone()))
        .text(&joined(r, |a| name_of(names, a).to_owned()))
        .text(if r.outbound { "true" } else { "false" })
        .instant(dates, Some(r.created_at))
        .instant(dates, r.accepted_at)
        .instant(dates, r.first_response_at)
        .instant(dates, r.ended_at)
        .instant(dates, r.wrapped_up_at)
        .opt_text(r.disposition.as_deref())
        .num(r.handle_s)
        .num(r.speed_of_answer_s)
        .num(r.first_response_s)
        .num(Some(r.transfers))
        .num(Some(r.missed_offers))
        .num(Some(r.rejected_offers))
        .num(Some(r.messages_in))
        .num(Some(r.messages_out));
    l.end(out);
}

/// `GET /api/v1/reports/interactions`
async fn interactions(
    State(state): State<ReportsState>,
    Query(p): Query<InteractionParams>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(p.format.as_deref())?;
    let (from, to) = range(p.from.as_deref(), p.to.as_deref(), MAX_RANGE_DAYS)?;
    let figure = match nonempty(p.figure) {
        None => None,
        Some(f) => Some(ReportFigure::parse(&f).ok_or_else(|| {
            ApiError::invalid(
                "invalid_figure",
                format!(
                    "figure must be offered, accepted, missed, rejected, handled or transferred, not {f:?}"
                ),
            )
        })?),
    };
    let limit = if csv {
        CSV_PAGE
    } else {
        paging::limit(p.limit, 50, 500)?
    };
    let (queue_id, agent_id) = known_filters(&state, p.queue_id, p.agent_id).await?;
    let filter = ReportFilter {
        from,
        to,
        queue_id,
        agent_id,
        channel_id: nonempty(p.channel_id),
        disposition: nonempty(p.disposition),
        figure,
    };
    let before = nonempty(p.before).map(InteractionId);
    let names = agent_names(&state).await?;
    if !csv {
        // One more than the page: whether there is a next one (`next` is null on the last).
        let mut page = state
            .store
            .report_interactions(&filter, limit + 1, before.as_ref())
            .await?;
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        let next = more.then(|| page.last().map(|r| r.id.0.clone())).flatten();
        let items: Vec<Value> = page.iter().map(|r| interaction_json(r, &names)).collect();
        return Ok(ok(json!({"items": items, "next": next})));
    }
    // Streamed: the header, then one chunk per page of the store, until a short page.
    struct Walk {
        store: Store,
        filter: ReportFilter,
        names: HashMap<String, String>,
        before: Option<InteractionId>,
        dates: Dates,
        started: bool,
        done: bool,
    }
    let walk = Walk {
        store: state.store.clone(),
        filter,
        names,
        before,
        dates: Dates::default(),
        started: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(walk, |mut w| async move {
        if w.done {
            return None;
        }
        let mut out = String::new();
        if !w.started {
            w.started = true;
            header_row(&INTERACTION_COLUMNS, &mut out);
        }
        match w
            .store
            .report_interactions(&w.filter, CSV_PAGE, w.before.as_ref())
            .await
        {
            Ok(page) => {
                for r in &page {
                    interaction_csv(r, &w.names, &mut w.dates, &mut out);
                }
                w.done = (page.len() as i64) < CSV_PAGE;
                w.before = page.last().map(|r| r.id.clone());
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), w))
            }
            Err(e) => {
                // The status is sent already: the download ends unfinished, never silently short.
                tracing::error!(error = %e, "the interactions CSV stopped");
                w.done = true;
                Some((Err(std::io::Error::other(e.to_string())), w))
            }
        }
    });
    let name = format!("switchboard-interactions-{}-to-{}.csv", day(from), day(to));
    Ok(csv_response(Body::from_stream(stream), &name))
}

// --------------------------------------------------------------------------------- timeline

/// `GET /api/v1/reports/agents/{id}/timeline`
async fn timeline(
    State(state): State<ReportsState>,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
) -> Result<Response, ApiError> {
    // The path names the agent: an unknown one is 404 whatever the question.
    let (_, agent) = known_filters(&state, None, Some(id)).await?;
    let agent = agent.ok_or_else(|| ApiError::not_found("agent"))?;
    let csv = wants_csv(p.format.as_deref())?;
    let (from, to) = range(p.from.as_deref(), p.to.as_deref(), MAX_RANGE_DAYS)?;
    let t: Timeline = state
        .store
        .agent_timeline(&agent, from, to, state.clock.now())
        .await?;
    if csv {
        let mut out = String::new();
        header_row(&["presence", "reason", "from", "to", "seconds"], &mut out);
        for i in &t.intervals {
            let mut l = CsvLine::default();
            l.text(i.presence.as_str())
                .opt_text(i.reason.as_deref())
                .time(Some(i.from))
                .time(Some(i.to))
                .num(Some((i.to.0 - i.from.0) as f64 / 1000.0));
            l.end(&mut out);
        }
        let name = format!(
            "switchboard-timeline-{}-{}-to-{}.csv",
            agent.as_str(),
            day(from),
            day(to)
        );
        return Ok(csv_response(Body::from(out), &name));
    }
    let intervals: Vec<Value> = t
        .intervals
        .iter()
        .map(|i| {
            json!({
                "presence": i.presence.as_str(),
                "reason": i.reason,
                "from": views::ts(i.from),
                "to": views::ts(i.to),
            })
        })
        .collect();
    Ok(ok(json!({
        "agent_id": agent,
        "from": views::ts(from),
        "to": views::ts(to),
        "intervals": intervals,
        "totals": t.totals,
        "break_totals": t.break_totals,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        let mut out = String::new();
        let mut l = CsvLine::default();
        l.text("plain")
            .text("a,b")
            .text("say \"hi\"")
            .text("two\nlines")
            .text("=SUM(A1)")
            .text("+49")
            .text("-1")
            .text("@x")
            .num(Some(-1.5))
            .num(None::<i64>)
            .opt_text(None);
        l.end(&mut out);
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"'=SUM(A1)\",\"'+49\",\"'-1\",\"'@x\",-1.5,,\r\n"
        );
    }

    /// The streamed CSV's instants are written as `views::ts` writes them, on any day and at any
    /// millisecond, whether or not the day changed since the last one.
    #[test]
    fn csv_instants_as_views_writes_them() {
        let mut dates = Dates::default();
        let mut t = -3 * DAY_MS - 1;
        while t < 60 * 366 * DAY_MS {
            let mut out = String::new();
            dates.push(Timestamp(t), &mut out);
            assert_eq!(out, views::ts(Timestamp(t)));
            t += 7_919_993_317;
        }
        for t in [
            0,
            1,
            DAY_MS - 1,
            DAY_MS,
            1_767_225_600_000,
            1_767_311_999_999,
        ] {
            for _ in 0..2 {
                let mut out = String::new();
                dates.push(Timestamp(t), &mut out);
                assert_eq!(out, views::ts(Timestamp(t)));
            }
        }
    }
}
