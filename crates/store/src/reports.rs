//! Reports: the report tables written from the engine's facts in each commit, and the
//! queries over them: the summary by queue, agent, channel, day or hour; one row per interaction
//! (the drill-down); an agent's presence timeline.
//!
//! The figures are defined in ARCHITECTURE.md, "Report definitions"; this file computes them
//! exactly so and never from anything but the report tables (`report_interactions`,
//! `report_offers`, `report_legs`, `presence_intervals`), so no report scans messages or events.
//!
//! Time zones: a day or an hour is a local one of the IANA zone asked for. The UTC offsets in
//! force over the range are looked up once in Rust (`jiff`, with its own copy of the tz
//! database, so the host's needs none) and handed to the SQL as a `CASE` over the transitions in
//! the range, so both backends bucket the same way without time-zone support of their own.

use crate::error::{Result, StoreError};
use crate::rows::RowExt;
use crate::Store;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use switchboard_domain::engine::{Fact, FactKind};
use switchboard_domain::model::{AgentId, InteractionId, Presence, QueueId, Timestamp};

/// The disposition key of an interaction (or participation) completed by the wrap-up countdown.
pub const DISPOSITION_BY_COUNTDOWN: &str = "(none)";
/// The disposition key of a wrap-up submitted without a code.
pub const DISPOSITION_NO_CODE: &str = "(no code)";

/// A value bound to a statement of the facts' writes.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

/// One statement writing a fact, built before the transaction opens.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) sql: &'static str,
    pub(crate) args: Vec<Arg>,
}

fn text(s: &str) -> Arg {
    Arg::Text(Some(s.to_owned()))
}
fn opt_text(s: Option<&str>) -> Arg {
    Arg::Text(s.map(str::to_owned))
}
fn int(i: i64) -> Arg {
    Arg::Int(Some(i))
}

/// The statements that record `facts`, in their order, each fact's rows with their roll-ups
/// (unless `rollups` is false: benchmarks only).
///
/// The roll-ups: before the facts' rows, what the report rows the facts touch add to the
/// roll-ups is taken away; after them, it is added back: one statement per roll-up table and
/// phase, whatever the number of facts and interactions (the ids of each part bound as one JSON
/// array; the three parts of the agents' table summed in one statement, so each of its rows is
/// written once per phase).
pub(crate) fn fact_statements(facts: &[Fact], rollups: bool, postgres: bool) -> Vec<Stmt> {
    let mut rows = Vec::with_capacity(facts.len() * 2);
    // Messages are counted per interaction and written by one statement after the other
    // rows (a commit of a webhook burst holds one per message, of many interactions).
    let mut counts: Vec<(&str, i64, i64)> = Vec::new();
    let mut counted: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for fact in facts {
        let (id, n_in, n_out) = match &fact.kind {
            FactKind::MessageIn { interaction } => (interaction.as_str(), 1, 0),
            FactKind::MessageOut { interaction, .. } => (interaction.as_str(), 0, 1),
            _ => {
                fact_rows(fact, &mut rows);
                continue;
            }
        };
        let k = *counted.entry(id).or_insert_with(|| {
            counts.push((id, 0, 0));
            counts.len() - 1
        });
        counts[k].1 += n_in;
        counts[k].2 += n_out;
    }
    if !counts.is_empty() {
        rows.push(Stmt {
            sql: if postgres {
                "UPDATE report_interactions AS r \
                 SET messages_in = r.messages_in + v.n_in, messages_out = r.messages_out + v.n_out \
                 FROM (SELECT x->>0 AS id, CAST(x->>1 AS BIGINT) AS n_in, \
                       CAST(x->>2 AS BIGINT) AS n_out FROM jsonb_array_elements($1::jsonb) AS x) AS v \
                 WHERE r.id = v.id"
            } else {
                "UPDATE report_interactions \
                 SET messages_in = messages_in + v.n_in, messages_out = messages_out + v.n_out \
                 FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS n_in, \
                       json_extract(value, '$[2]') AS n_out FROM json_each($1)) AS v \
                 WHERE report_interactions.id = v.id"
            },
            args: vec![Arg::Text(Some(
                serde_json::to_string(&counts).unwrap_or_default(),
            ))],
        });
    }
    if !rollups {
        return rows;
    }
    // The interactions whose rows each part sums, each once.
    let mut touched: Vec<Vec<&str>> = vec![Vec::new(); PARTS.len()];
    let mut seen = std::collections::HashSet::new();
    for fact in facts {
        for (part, id) in rollup_parts(&fact.kind) {
            let i = part.index();
            if seen.insert((i, id.as_str())) {
                touched[i].push(id.as_str());
            }
        }
    }
    let deltas = |add: bool| {
        let mut out = Vec::new();
        for (t, parts) in ROLLUP_TABLES.iter().enumerate() {
            if parts.iter().all(|p| touched[p.index()].is_empty()) {
                continue;
            }
            let args = parts
                .iter()
                .map(|p| {
                    let ids = serde_json::to_string(&touched[p.index()]).unwrap_or_default();
                    Arg::Text(Some(ids))
                })
                .collect();
            out.push(Stmt {
                sql: table_delta_sql(t, add, postgres),
                args,
            });
        }
        out
    };
    let mut out = deltas(false);
    out.extend(rows);
    out.extend(deltas(true));
    out
}

/// The roll-up tables, each with the parts summed into it (in the order of their ids' bind
/// parameters).
const ROLLUP_TABLES: [&[Part]; 4] = [
    &[Part::Interaction],
    &[Part::InteractionDispositions],
    &[Part::FirstAgent, Part::Offers, Part::Legs],
    &[Part::LegDispositions],
];

/// The statement taking away (`add` false) or adding back what the report rows of the
/// interactions bound (one JSON array of ids per part of the table) add to roll-up table
/// `table` of [`ROLLUP_TABLES`].
fn table_delta_sql(table: usize, add: bool, postgres: bool) -> &'static str {
    static SQL: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let mut out = Vec::new();
        for postgres in [false, true] {
            for parts in ROLLUP_TABLES {
                for add in [false, true] {
                    out.push(table_upsert_sql(parts, !add, |p, n| {
                        let col = p.tables().4;
                        if postgres {
                            format!(
                                "{col} = ANY (ARRAY(SELECT jsonb_array_elements_text(${n}::jsonb)))"
                            )
                        } else {
                            format!("{col} IN (SELECT value FROM json_each(${n}))")
                        }
                    }));
                }
            }
        }
        out
    });
    &SQL[(usize::from(postgres) * ROLLUP_TABLES.len() + table) * 2 + usize::from(add)]
}

/// One upsert into the roll-up table of `parts` of what the rows each part's selector picks add
/// (or, `negative`, take away): the parts' sums added up per roll-up row.
fn table_upsert_sql(
    parts: &[Part],
    negative: bool,
    selector: impl Fn(Part, usize) -> String,
) -> String {
    if let [part] = parts {
        return part.upsert_sql(&selector(*part, 1), negative);
    }
    let cols: Vec<&str> = ROLLUP_COLUMNS
        .iter()
        .copied()
        .filter(|c| {
            parts
                .iter()
                .any(|p| p.figures().iter().any(|(f, _)| f == c))
        })
        .collect();
    let selects: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| p.select_sql(&selector(*p, i + 1), negative, &cols))
        .collect();
    let (_, target, _, _, _) = parts[0].tables();
    let keys = parts[0].keys();
    let group: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
    let sums: Vec<String> = cols.iter().map(|c| format!("SUM({c})")).collect();
    let sets: Vec<String> = cols
        .iter()
        .map(|c| format!("{c} = {target}.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {target} ({}, {}) SELECT {}, {} FROM ({}) u WHERE 1 = 1 GROUP BY {} \
         ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        cols.join(", "),
        keys.join(", "),
        sums.join(", "),
        selects.join(" UNION ALL "),
        group.join(", "),
        keys.join(", "),
        sets.join(", ")
    )
}

/// The statements that write `fact` into the report tables.
fn fact_rows(fact: &Fact, out: &mut Vec<Stmt>) {
    {
        let at = fact.at.0;
        match &fact.kind {
            FactKind::Arrived {
                interaction,
                queue,
                channel,
                customer,
                contact_id,
                outbound,
                sla_response_s,
            } => out.push(Stmt {
                sql: "INSERT INTO report_interactions (id, queue_id, channel_id, customer_wa_id, \
                      customer_name, contact_id, outbound, sla_ms, created_at, messages_in) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                args: vec![
                    text(interaction.as_str()),
                    text(queue.as_str()),
                    opt_text(channel.as_deref()),
                    text(&customer.wa_id),
                    opt_text(customer.name.as_deref()),
                    opt_text(contact_id.as_deref()),
                    int(i64::from(*outbound)),
                    int(i64::from(*sla_response_s) * 1000),
                    int(at),
                    int(i64::from(!*outbound)),
                ],
            }),
            FactKind::OfferMade {
                interaction,
                agent,
                source,
            } => {
                out.push(Stmt {
                    sql:
                        "INSERT INTO report_offers (interaction_id, agent_id, offered_at, source, \
                          created_at, queue_id, channel_id) \
                          SELECT id, $1, $2, $3, created_at, queue_id, channel_id \
                          FROM report_interactions WHERE id = $4 ON CONFLICT DO NOTHING",
                    args: vec![
                        text(agent.as_str()),
                        int(at),
                        text(source.as_str()),
                        text(interaction.as_str()),
                    ],
                });
            }
            FactKind::OfferEnded {
                interaction,
                agent,
                outcome,
            } => {
                out.push(Stmt {
                    sql: "UPDATE report_offers SET outcome = $1, ended_at = $2 \
                          WHERE interaction_id = $3 AND agent_id = $4 AND outcome IS NULL",
                    args: vec![
                        text(outcome.as_str()),
                        int(at),
                        text(interaction.as_str()),
                        text(agent.as_str()),
                    ],
                });
                let counter = match outcome {
                    switchboard_domain::OfferOutcome::Missed => Some(
                        "UPDATE report_interactions SET missed_offers = missed_offers + 1 \
                         WHERE id = $1",
                    ),
                    switchboard_domain::OfferOutcome::Rejected => Some(
                        "UPDATE report_interactions SET rejected_offers = rejected_offers + 1 \
                         WHERE id = $1",
                    ),
                    _ => None,
                };
                if let Some(sql) = counter {
                    out.push(Stmt {
                        sql,
                        args: vec![text(interaction.as_str())],
                    });
                }
            }
            FactKind::Answered { interaction, agent } => out.push(Stmt {
                sql: "UPDATE report_interactions SET accepted_at = $1, first_agent_id = $2 \
                      WHERE id = $3 AND accepted_at IS NULL",
                args: vec![int(at), text(agent.as_str()), text(interaction.as_str())],
            }),
            FactKind::Joined {
                interaction,
                agent,
                role,
            } => out.push(Stmt {
                sql: "INSERT INTO report_legs (interaction_id, agent_id, joined_at, role, \
                      created_at, queue_id, channel_id) \
                      SELECT id, $1, $2, $3, created_at, queue_id, channel_id \
                      FROM report_interactions WHERE id = $4 ON CONFLICT DO NOTHING",
                args: vec![
                    text(agent.as_str()),
                    int(at),
                    text(match role {
                        switchboard_domain::ParticipantRole::Owner => "owner",
                        switchboard_domain::ParticipantRole::Conference => "conference",
                    }),
                    text(interaction.as_str()),
                ],
            }),
            // Counted together by `fact_statements`.
            FactKind::MessageIn { .. } | FactKind::MessageOut { .. } => {}
            FactKind::FirstResponse { interaction, agent } => out.push(Stmt {
                sql: "UPDATE report_interactions SET first_response_at = $1, \
                      first_response_agent_id = $2 WHERE id = $3 AND first_response_at IS NULL",
                args: vec![int(at), text(agent.as_str()), text(interaction.as_str())],
            }),
            FactKind::Transferred {
                interaction, from, ..
            } => {
                out.push(Stmt {
                    sql: "UPDATE report_interactions SET transfers = transfers + 1 WHERE id = $1",
                    args: vec![text(interaction.as_str())],
                });
                out.push(Stmt {
                    sql: "UPDATE report_legs SET transferred = 1 \
                          WHERE interaction_id = $1 AND agent_id = $2 AND wrapped_up_at IS NULL",
                    args: vec![text(interaction.as_str()), text(from.as_str())],
                });
            }
            FactKind::Ended { interaction, by } => out.push(Stmt {
                sql: "UPDATE report_interactions SET ended_at = $1, ended_by = $2 WHERE id = $3",
                args: vec![int(at), text(by.as_str()), text(interaction.as_str())],
            }),
            FactKind::WrappedUp {
                interaction,
                agent,
                disposition,
                by_countdown,
                closing,
            } => {
                out.push(Stmt {
                    sql: "UPDATE report_legs SET wrapped_up_at = $1, disposition = $2, \
                          by_countdown = $3 \
                          WHERE interaction_id = $4 AND agent_id = $5 AND wrapped_up_at IS NULL",
                    args: vec![
                        int(at),
                        opt_text(disposition.as_deref()),
                        int(i64::from(*by_countdown)),
                        text(interaction.as_str()),
                        text(agent.as_str()),
                    ],
                });
                if *closing {
                    out.push(Stmt {
                        sql: "UPDATE report_interactions SET disposition = $1, by_countdown = $2 \
                              WHERE id = $3",
                        args: vec![
                            opt_text(disposition.as_deref()),
                            int(i64::from(*by_countdown)),
                            text(interaction.as_str()),
                        ],
                    });
                }
            }
            FactKind::Completed { interaction } => out.push(Stmt {
                sql: "UPDATE report_interactions SET wrapped_up_at = $1, handle_ms = \
                      (SELECT COALESCE(SUM(wrapped_up_at - joined_at), 0) FROM report_legs \
                       WHERE interaction_id = $2 AND wrapped_up_at IS NOT NULL) \
                      WHERE id = $2",
                args: vec![int(at), text(interaction.as_str())],
            }),
            FactKind::Presence {
                agent,
                presence,
                reason,
            } => {
                out.push(Stmt {
                    sql: "UPDATE presence_intervals SET to_at = $1 \
                          WHERE agent_id = $2 AND to_at IS NULL AND from_at < $1",
                    args: vec![int(at), text(agent.as_str())],
                });
                // Two changes within one millisecond: the later one is the interval.
                out.push(Stmt {
                    sql: "INSERT INTO presence_intervals (agent_id, from_at, to_at, presence, \
                          reason) VALUES ($1, $2, NULL, $3, $4) ON CONFLICT (agent_id, from_at) \
                          DO UPDATE SET to_at = NULL, presence = excluded.presence, \
                          reason = excluded.reason",
                    args: vec![
                        text(agent.as_str()),
                        int(at),
                        text(presence.as_str()),
                        opt_text(reason.as_deref()),
                    ],
                });
            }
        }
    }
}

// ----------------------------------------------------------------------------------- roll-ups

/// The migration that adds the roll-up tables (and fills them from the report rows).
pub(crate) const ROLLUP_MIGRATION: i64 = 13;

/// The spans of the roll-ups: UTC hours, UTC days and weeks of 7 UTC days from 1970-01-01.
const SPANS_SQL: &str =
    "(SELECT 3600000 AS span UNION ALL SELECT 86400000 UNION ALL SELECT 604800000) s";

const WEEK_MS: i64 = 7 * DAY_MS;

/// The per-interaction roll-ups are kept per queue and channel (`l.lv = 0`) and once more for
/// all queues and channels together (queue and channel `'*'`), the rows of a summary by day or
/// hour without a queue or channel filter.
const LEVELS_SQL: &str = "(SELECT 0 AS lv UNION ALL SELECT 1) l";

/// The queue and channel of the roll-up row of all queues and channels.
const ALL: &str = "*";

/// A column of the roll-ups and what one row of a report table adds to it.
type Figure = (&'static str, &'static str);

const ACCEPTED_SQL: &str = "CASE WHEN outbound = 0 AND accepted_at IS NOT NULL THEN 1 ELSE 0 END";

/// The speed figures of an interaction (in an agent's row: those they answered first).
const SPEED_FIGURES: &[Figure] = &[
    ("answered", ACCEPTED_SQL),
    (
        "answer_ms",
        "CASE WHEN outbound = 0 AND accepted_at IS NOT NULL THEN accepted_at - created_at \
         ELSE 0 END",
    ),
    (
        "responded",
        "CASE WHEN outbound = 0 AND first_response_at IS NOT NULL THEN 1 ELSE 0 END",
    ),
    (
        "response_ms",
        "CASE WHEN outbound = 0 AND first_response_at IS NOT NULL \
         THEN first_response_at - created_at ELSE 0 END",
    ),
    (
        "sla_met",
        "CASE WHEN outbound = 0 AND first_response_at IS NOT NULL \
         AND first_response_at - created_at <= sla_ms THEN 1 ELSE 0 END",
    ),
    (
        "sla_late",
        "CASE WHEN outbound = 0 AND first_response_at IS NOT NULL \
         AND first_response_at - created_at > sla_ms THEN 1 ELSE 0 END",
    ),
];

/// The counts of an interaction (beside [`SPEED_FIGURES`]).
const INTERACTION_FIGURES: &[Figure] = &[
    ("n", "1"),
    ("offered", "CASE WHEN outbound = 0 THEN 1 ELSE 0 END"),
    ("accepted", ACCEPTED_SQL),
    ("missed", "missed_offers"),
    ("rejected", "rejected_offers"),
    (
        "handled",
        "CASE WHEN wrapped_up_at IS NOT NULL THEN 1 ELSE 0 END",
    ),
    ("transferred", "CASE WHEN transfers > 0 THEN 1 ELSE 0 END"),
    (
        "handle_ms",
        "CASE WHEN wrapped_up_at IS NOT NULL THEN handle_ms ELSE 0 END",
    ),
];

/// An agent's offer.
const OFFER_FIGURES: &[Figure] = &[
    ("n", "1"),
    ("offered", "1"),
    (
        "accepted",
        "CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END",
    ),
    ("missed", "CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END"),
    (
        "rejected",
        "CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END",
    ),
];

/// An agent's participation.
const LEG_FIGURES: &[Figure] = &[
    ("n", "1"),
    (
        "handled",
        "CASE WHEN wrapped_up_at IS NOT NULL THEN 1 ELSE 0 END",
    ),
    ("transferred", "transferred"),
    (
        "handle_ms",
        "CASE WHEN wrapped_up_at IS NOT NULL THEN wrapped_up_at - joined_at ELSE 0 END",
    ),
];

/// An interaction an agent answered first: its row in that agent's figures.
const FIRST_FIGURES: &[Figure] = &[("n", "1")];

/// A count of rows, for the dispositions.
const COUNT_FIGURES: &[Figure] = &[("n", "1")];

/// Every column of the roll-ups, as the figures name them.
const ROLLUP_COLUMNS: &[&str] = &[
    "n",
    "offered",
    "accepted",
    "missed",
    "rejected",
    "handled",
    "transferred",
    "handle_ms",
    "answered",
    "answer_ms",
    "responded",
    "response_ms",
    "sla_met",
    "sla_late",
];

/// A part of the roll-ups: the rows of one report table summed into one roll-up table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `report_interactions` into `report_rollups`.
    Interaction,
    /// Handled interactions by disposition.
    InteractionDispositions,
    /// `report_interactions` into the row of the agent who answered first.
    FirstAgent,
    /// `report_offers` into the agent's row.
    Offers,
    /// `report_legs` into the agent's row.
    Legs,
    /// Completed participations by disposition.
    LegDispositions,
}

const PARTS: [Part; 6] = [
    Part::Interaction,
    Part::InteractionDispositions,
    Part::FirstAgent,
    Part::Offers,
    Part::Legs,
    Part::LegDispositions,
];

impl Part {
    fn figures(self) -> Vec<Figure> {
        match self {
            Part::Interaction => [INTERACTION_FIGURES, SPEED_FIGURES].concat(),
            Part::FirstAgent => [FIRST_FIGURES, SPEED_FIGURES].concat(),
            Part::Offers => OFFER_FIGURES.to_vec(),
            Part::Legs => LEG_FIGURES.to_vec(),
            Part::InteractionDispositions | Part::LegDispositions => COUNT_FIGURES.to_vec(),
        }
    }
    fn index(self) -> usize {
        PARTS.iter().position(|p| *p == self).unwrap_or_default()
    }
    /// (report table, roll-up table, agent column, condition, its interaction's column).
    fn tables(
        self,
    ) -> (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
    ) {
        const ONE: &str = "id";
        const AGENT: &str = "interaction_id";
        match self {
            Part::Interaction => ("report_interactions", "report_rollups", None, "", ONE),
            Part::InteractionDispositions => (
                "report_interactions",
                "report_rollup_dispositions",
                None,
                " AND wrapped_up_at IS NOT NULL",
                ONE,
            ),
            Part::FirstAgent => (
                "report_interactions",
                "report_agent_rollups",
                Some("first_agent_id"),
                " AND first_agent_id IS NOT NULL",
                ONE,
            ),
            Part::Offers => (
                "report_offers",
                "report_agent_rollups",
                Some("agent_id"),
                "",
                AGENT,
            ),
            Part::Legs => (
                "report_legs",
                "report_agent_rollups",
                Some("agent_id"),
                "",
                AGENT,
            ),
            Part::LegDispositions => (
                "report_legs",
                "report_agent_rollup_dispositions",
                Some("agent_id"),
                " AND wrapped_up_at IS NOT NULL",
                AGENT,
            ),
        }
    }
    fn dispositions(self) -> bool {
        matches!(self, Part::InteractionDispositions | Part::LegDispositions)
    }
    /// The key columns of the part's roll-up table.
    fn keys(self) -> Vec<&'static str> {
        let mut keys = vec!["span", "bucket"];
        if self.tables().2.is_some() {
            keys.push("agent_id");
        }
        keys.extend(["queue_id", "channel_id"]);
        if self.dispositions() {
            keys.push("disposition");
        }
        keys
    }
    /// The rows `selector` picks summed per roll-up row: the keys, then `cols` (0 for a column
    /// the part has no figure of), negated when `negative`.
    fn select_sql(self, selector: &str, negative: bool, cols: &[&str]) -> String {
        let (source, _, agent, cond, _) = self.tables();
        let figures = self.figures();
        let mut values = vec!["s.span".to_owned(), "created_at / s.span".to_owned()];
        if let Some(a) = agent {
            values.push(a.to_owned());
        }
        let mut from = format!("{source}, {SPANS_SQL}");
        if agent.is_some() {
            values.extend(["queue_id".to_owned(), "COALESCE(channel_id, '')".to_owned()]);
        } else {
            from += &format!(", {LEVELS_SQL}");
            values.extend([
                format!("CASE WHEN l.lv = 0 THEN queue_id ELSE '{ALL}' END"),
                format!("CASE WHEN l.lv = 0 THEN COALESCE(channel_id, '') ELSE '{ALL}' END"),
            ]);
        }
        if self.dispositions() {
            values.push(DISPOSITION_SQL.to_owned());
        }
        let keys = self.keys();
        let group: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
        let sign = if negative { "-" } else { "" };
        let values: Vec<String> = values
            .iter()
            .zip(&keys)
            .map(|(v, k)| format!("{v} AS {k}"))
            .chain(
                cols.iter()
                    .map(|c| match figures.iter().find(|(f, _)| f == c) {
                        Some((_, e)) => format!("{sign}COALESCE(SUM({e}), 0) AS {c}"),
                        None => format!("0 AS {c}"),
                    }),
            )
            .collect();
        format!(
            "SELECT {} FROM {from} WHERE {selector}{cond} GROUP BY {}",
            values.join(", "),
            group.join(", ")
        )
    }
    /// An upsert adding (or, `negative`, taking away) what the rows `selector` picks add to
    /// the roll-ups, in every span.
    fn upsert_sql(self, selector: &str, negative: bool) -> String {
        let target = self.tables().1;
        let keys = self.keys();
        let cols: Vec<&str> = self.figures().iter().map(|(c, _)| *c).collect();
        let sets: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = {target}.{c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO {target} ({}, {}) {} ON CONFLICT ({}) DO UPDATE SET {}",
            keys.join(", "),
            cols.join(", "),
            self.select_sql(selector, negative, &cols),
            keys.join(", "),
            sets.join(", ")
        )
    }
}

/// The parts of the roll-ups a fact may change, with the interaction whose report rows they
/// sum. Each is taken away before the facts' rows are written and added back after, so a
/// roll-up always equals the sums of the rows it covers, whatever a fact changes (a late accept,
/// a first response, a wrap-up all land in the bucket of the interaction's arrival) and however
/// often a fact is applied.
fn rollup_parts(kind: &FactKind) -> Vec<(Part, &InteractionId)> {
    match kind {
        FactKind::Arrived { interaction, .. } => vec![(Part::Interaction, interaction)],
        FactKind::OfferMade { interaction, .. } => vec![(Part::Offers, interaction)],
        FactKind::OfferEnded {
            interaction,
            outcome,
            ..
        } => {
            let mut v = vec![(Part::Offers, interaction)];
            if matches!(
                outcome,
                switchboard_domain::OfferOutcome::Missed
                    | switchboard_domain::OfferOutcome::Rejected
            ) {
                v.push((Part::Interaction, interaction));
            }
            v
        }
        FactKind::Answered { interaction, .. } | FactKind::FirstResponse { interaction, .. } => {
            vec![
                (Part::Interaction, interaction),
                (Part::FirstAgent, interaction),
            ]
        }
        FactKind::Joined { interaction, .. } => vec![(Part::Legs, interaction)],
        FactKind::Transferred { interaction, .. } => {
            vec![(Part::Interaction, interaction), (Part::Legs, interaction)]
        }
        FactKind::WrappedUp {
            interaction,
            closing,
            ..
        } => {
            let mut v = vec![
                (Part::Legs, interaction),
                (Part::LegDispositions, interaction),
            ];
            if *closing {
                v.push((Part::Interaction, interaction));
                v.push((Part::InteractionDispositions, interaction));
            }
            v
        }
        FactKind::Completed { interaction } => vec![
            (Part::Interaction, interaction),
            (Part::InteractionDispositions, interaction),
        ],
        FactKind::MessageIn { .. }
        | FactKind::MessageOut { .. }
        | FactKind::Ended { .. }
        | FactKind::Presence { .. } => Vec::new(),
    }
}

/// Empties the roll-ups and sums them again from the report tables (the migration that adds
/// them; [`Store::rebuild_report_rollups`]).
pub(crate) fn rollup_rebuild_sql() -> Vec<String> {
    let mut out: Vec<String> = [
        "report_rollups",
        "report_rollup_dispositions",
        "report_agent_rollups",
        "report_agent_rollup_dispositions",
    ]
    .iter()
    .map(|t| format!("DELETE FROM {t}"))
    .collect();
    // In key order: a bucket's rows are written side by side (as the commits of its hour
    // write them), so a summary reads few pages of the table.
    out.extend(PARTS.iter().map(|p| {
        let order: Vec<String> = (1..=p.keys().len()).map(|i| i.to_string()).collect();
        p.upsert_sql("1 = 1", false).replacen(
            " ON CONFLICT (",
            &format!(" ORDER BY {} ON CONFLICT (", order.join(", ")),
            1,
        )
    }));
    out
}

// ------------------------------------------------------------------------------------ queries

/// How the summary's rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportGroup {
    Queue,
    Agent,
    Channel,
    /// Local days of the report's time zone.
    Day,
    /// Local hours of the report's time zone.
    Hour,
}

impl ReportGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportGroup::Queue => "queue",
            ReportGroup::Agent => "agent",
            ReportGroup::Channel => "channel",
            ReportGroup::Day => "day",
            ReportGroup::Hour => "hour",
        }
    }
    pub fn parse(s: &str) -> Option<ReportGroup> {
        match s {
            "queue" => Some(ReportGroup::Queue),
            "agent" => Some(ReportGroup::Agent),
            "channel" => Some(ReportGroup::Channel),
            "day" => Some(ReportGroup::Day),
            "hour" => Some(ReportGroup::Hour),
            _ => None,
        }
    }
}

/// A count of the summary, to list the interactions behind it (the drill-down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFigure {
    Offered,
    Accepted,
    Missed,
    Rejected,
    Handled,
    Transferred,
}

impl ReportFigure {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFigure::Offered => "offered",
            ReportFigure::Accepted => "accepted",
            ReportFigure::Missed => "missed",
            ReportFigure::Rejected => "rejected",
            ReportFigure::Handled => "handled",
            ReportFigure::Transferred => "transferred",
        }
    }
    pub fn parse(s: &str) -> Option<ReportFigure> {
        [
            ReportFigure::Offered,
            ReportFigure::Accepted,
            ReportFigure::Missed,
            ReportFigure::Rejected,
            ReportFigure::Handled,
            ReportFigure::Transferred,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
    /// The condition on `report_interactions r` of the interactions behind this figure.
    fn interaction_sql(self) -> &'static str {
        match self {
            ReportFigure::Offered => "r.outbound = 0",
            ReportFigure::Accepted => "r.outbound = 0 AND r.accepted_at IS NOT NULL",
            ReportFigure::Missed => "r.missed_offers > 0",
            ReportFigure::Rejected => "r.rejected_offers > 0",
            ReportFigure::Handled => "r.wrapped_up_at IS NOT NULL",
            ReportFigure::Transferred => "r.transfers > 0",
        }
    }
    /// With an agent filter: the agent's own offers or participations behind this figure
    /// (`{a}` is the agent's placeholder).
    fn agent_sql(self, a: &str) -> String {
        let offers = |outcome: &str| {
            format!(
                "r.id IN (SELECT interaction_id FROM report_offers WHERE agent_id = {a}{outcome})"
            )
        };
        let legs = |cond: &str| {
            format!(
                "r.id IN (SELECT interaction_id FROM report_legs WHERE agent_id = {a} AND {cond})"
            )
        };
        match self {
            ReportFigure::Offered => offers(""),
            ReportFigure::Accepted => offers(" AND outcome = 'accepted'"),
            ReportFigure::Missed => offers(" AND outcome = 'missed'"),
            ReportFigure::Rejected => offers(" AND outcome = 'rejected'"),
            ReportFigure::Handled => legs("wrapped_up_at IS NOT NULL"),
            ReportFigure::Transferred => legs("transferred = 1"),
        }
    }
}

/// The instants `[from, to)` of a summary row's local day (`YYYY-MM-DD`) or hour
/// (`YYYY-MM-DDTHH:00`) in the IANA zone `tz`, to list the interactions behind it. An hour that
/// the autumn change repeats covers both of its occurrences, as its row does.
pub fn report_bucket_range(key: &str, tz: &str) -> Result<(Timestamp, Timestamp)> {
    let bad = || StoreError::Invalid(format!("not a day or an hour of a report: {key:?}"));
    let zone = jiff::tz::TimeZone::get(tz)
        .map_err(|_| StoreError::Invalid(format!("unknown time zone {tz:?}")))?;
    let num = |a: usize, b: usize| key.get(a..b).and_then(|x| x.parse::<i16>().ok());
    let date = match (num(0, 4), num(5, 7), num(8, 10)) {
        (Some(y), Some(m), Some(d)) if key.get(4..5) == Some("-") && key.get(7..8) == Some("-") => {
            jiff::civil::Date::new(y, m as i8, d as i8).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    let ms = |z: std::result::Result<jiff::Zoned, jiff::Error>| {
        z.map(|z| Timestamp(z.timestamp().as_millisecond()))
            .map_err(|_| bad())
    };
    match key.len() {
        10 => {
            let next = date.tomorrow().map_err(|_| bad())?;
            Ok((ms(date.to_zoned(zone.clone()))?, ms(next.to_zoned(zone))?))
        }
        16 if key.get(10..11) == Some("T") && key.get(13..16) == Some(":00") => {
            let hour = num(11, 13)
                .filter(|h| (0..24).contains(h))
                .ok_or_else(bad)?;
            let start = ms(date.at(hour as i8, 0, 0, 0).to_zoned(zone.clone()))?;
            let end = if hour == 23 {
                ms(date.tomorrow().map_err(|_| bad())?.to_zoned(zone))?
            } else {
                ms(date.at(hour as i8 + 1, 0, 0, 0).to_zoned(zone))?
            };
            Ok((start, Timestamp(end.0.max(start.0 + HOUR_MS))))
        }
        _ => Err(bad()),
    }
}

/// The local day (`YYYY-MM-DD`) of the instant `at` in the IANA zone `tz`, with its instants
/// `[from, to)`: "today" of the supervisor's board.
pub fn report_day_of(at: Timestamp, tz: &str) -> Result<(String, Timestamp, Timestamp)> {
    let zone = jiff::tz::TimeZone::get(tz)
        .map_err(|_| StoreError::Invalid(format!("unknown time zone {tz:?}")))?;
    let instant = jiff::Timestamp::from_millisecond(at.0)
        .map_err(|_| StoreError::Invalid(format!("not an instant: {}", at.0)))?;
    let key = instant.to_zoned(zone).date().to_string();
    let (from, to) = report_bucket_range(&key, tz)?;
    Ok((key, from, to))
}

/// What a report covers: interactions that arrived in `[from, to)`, narrowed by the filters.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub from: Timestamp,
    pub to: Timestamp,
    /// The queue the interactions arrived in.
    pub queue_id: Option<QueueId>,
    /// This agent's own figures (their offers, participations, and the interactions they
    /// answered first); in the drill-down, the interactions offered to or handled by them.
    pub agent_id: Option<AgentId>,
    pub channel_id: Option<String>,
    /// Drill-down only: the interaction's disposition key (a code, [`DISPOSITION_BY_COUNTDOWN`]
    /// or [`DISPOSITION_NO_CODE`]).
    pub disposition: Option<String>,
    /// Drill-down only: the interactions behind one count (with `agent_id`: behind that agent's
    /// count).
    pub figure: Option<ReportFigure>,
}

/// [`Store::report_summary`]'s question.
#[derive(Debug, Clone)]
pub struct SummaryQuery {
    pub filter: ReportFilter,
    pub group_by: ReportGroup,
    /// IANA time zone name of the days and hours (e.g. `Europe/Berlin`, `UTC`).
    pub tz: String,
    /// The time of asking: an interaction unanswered past its SLA target by then counts as not
    /// met; one still within it counts for neither side yet.
    pub now: Timestamp,
}

/// One line of the summary (or its total). Averages are `None` when nothing was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SummaryRow {
    /// Queue, agent or channel id; `YYYY-MM-DD` for a local day, `YYYY-MM-DDTHH:00` for an hour;
    /// `total` for the total.
    pub key: String,
    /// The queue's or agent's name, the channel's number, the local day or hour.
    pub label: String,
    /// Inbound interactions that arrived (per agent: offers made to them).
    pub offered: i64,
    /// Inbound interactions accepted at least once (per agent: offers they accepted).
    pub accepted: i64,
    /// Offers whose acceptance interval ran out, one per offer.
    pub missed: i64,
    /// Offers rejected, one per offer.
    pub rejected: i64,
    /// Interactions whose every wrap-up is done (per agent: completed participations).
    pub handled: i64,
    /// Interactions transferred at least once (per agent: their participations ended by one).
    pub transferred: i64,
    /// Accept to end of own wrap-up, summed over an interaction's participations.
    pub avg_handle_s: Option<f64>,
    /// First accept minus arrival.
    pub avg_speed_of_answer_s: Option<f64>,
    /// First agent message minus arrival.
    pub avg_first_response_s: Option<f64>,
    /// First agent message within the queue's `sla_response_s`, of those decided.
    pub sla_met_pct: Option<f64>,
    /// Handled interactions (per agent: their wrap-ups) by code, [`DISPOSITION_BY_COUNTDOWN`]
    /// and [`DISPOSITION_NO_CODE`].
    pub dispositions: BTreeMap<String, i64>,
}

/// The summary: rows and their total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub from: Timestamp,
    pub to: Timestamp,
    pub group_by: ReportGroup,
    pub rows: Vec<SummaryRow>,
    /// Every interaction of the range and filters once. For `group_by=agent` without an agent
    /// filter it is not the sum of the rows: an interaction two agents worked on is in both rows.
    pub total: SummaryRow,
}

/// One interaction in the drill-down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportInteraction {
    pub id: InteractionId,
    pub queue_id: QueueId,
    pub queue: String,
    pub channel_id: Option<String>,
    pub customer_wa_id: String,
    pub customer_name: Option<String>,
    /// The contact it is linked to now (after a re-link or a merge), else the one at arrival.
    pub contact_id: Option<String>,
    /// Agents who accepted it, in the order they joined.
    pub agents: Vec<AgentId>,
    pub outbound: bool,
    pub created_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub first_response_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub wrapped_up_at: Option<Timestamp>,
    /// The disposition key once it is done (see [`ReportFilter::disposition`]).
    pub disposition: Option<String>,
    pub handle_s: Option<f64>,
    pub speed_of_answer_s: Option<f64>,
    pub first_response_s: Option<f64>,
    pub transfers: i64,
    pub missed_offers: i64,
    pub rejected_offers: i64,
    pub messages_in: i64,
    pub messages_out: i64,
}

/// One stretch of an agent's timeline, clipped to the range asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceInterval {
    pub presence: Presence,
    pub reason: Option<String>,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// An agent's presence over a range: intervals that tile it, and seconds per presence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub intervals: Vec<PresenceInterval>,
    /// Seconds per presence (`available`, `on_break`, `rona`, `offline`); they add up to the
    /// range's length.
    pub totals: BTreeMap<String, f64>,
    /// Seconds on break per reason.
    pub break_totals: BTreeMap<String, f64>,
}

/// Sums of one row, before averages.
#[derive(Debug, Clone, Default)]
struct Acc {
    offered: i64,
    accepted: i64,
    missed: i64,
    rejected: i64,
    handled: i64,
    transferred: i64,
    handle_ms: i64,
    answered: i64,
    answer_ms: i64,
    responded: i64,
    response_ms: i64,
    sla_met: i64,
    sla_missed: i64,
    dispositions: BTreeMap<String, i64>,
}

impl Acc {
    /// Adds a summed column of a query (named as in [`ROLLUP_COLUMNS`], or `sla_due`).
    fn add_col(&mut self, col: &str, v: i64) {
        match col {
            "offered" => self.offered += v,
            "accepted" => self.accepted += v,
            "missed" => self.missed += v,
            "rejected" => self.rejected += v,
            "handled" => self.handled += v,
            "transferred" => self.transferred += v,
            "handle_ms" => self.handle_ms += v,
            "answered" => self.answered += v,
            "answer_ms" => self.answer_ms += v,
            "responded" => self.responded += v,
            "response_ms" => self.response_ms += v,
            "sla_met" => self.sla_met += v,
            // Answered past the target, or no answer yet and the target passed.
            "sla_late" | "sla_due" => self.sla_missed += v,
            _ => {}
        }
    }
    fn add(&mut self, o: &Acc) {
        self.offered += o.offered;
        self.accepted += o.accepted;
        self.missed += o.missed;
        self.rejected += o.rejected;
        self.handled += o.handled;
        self.transferred += o.transferred;
        self.handle_ms += o.handle_ms;
        self.answered += o.answered;
        self.answer_ms += o.answer_ms;
        self.responded += o.responded;
        self.response_ms += o.response_ms;
        self.sla_met += o.sla_met;
        self.sla_missed += o.sla_missed;
        for (k, n) in &o.dispositions {
            *self.dispositions.entry(k.clone()).or_default() += n;
        }
    }
    fn row(&self, key: String, label: String) -> SummaryRow {
        let avg = |ms: i64, n: i64| (n > 0).then(|| ms as f64 / n as f64 / 1000.0);
        let decided = self.sla_met + self.sla_missed;
        SummaryRow {
            key,
            label,
            offered: self.offered,
            accepted: self.accepted,
            missed: self.missed,
            rejected: self.rejected,
            handled: self.handled,
            transferred: self.transferred,
            avg_handle_s: avg(self.handle_ms, self.handled),
            avg_speed_of_answer_s: avg(self.answer_ms, self.answered),
            avg_first_response_s: avg(self.response_ms, self.responded),
            sla_met_pct: (decided > 0).then(|| self.sla_met as f64 * 100.0 / decided as f64),
            dispositions: self.dispositions.clone(),
        }
    }
}

/// The UTC offsets in force over a range: `(from_ms, offset_ms)`, ascending.
#[derive(Debug, Clone)]
struct Offsets(Vec<(i64, i64)>);

const DAY_MS: i64 = 86_400_000;
/// The longest range a summary covers, in days (about ten years).
pub const MAX_RANGE_DAYS: i64 = 3_660;
/// The longest range a summary by hour covers, in days.
pub const MAX_HOUR_RANGE_DAYS: i64 = 366;
const HOUR_MS: i64 = 3_600_000;

impl Offsets {
    fn of(tz: &str, from: Timestamp, to: Timestamp) -> Result<Offsets> {
        let zone = jiff::tz::TimeZone::get(tz)
            .map_err(|_| StoreError::Invalid(format!("unknown time zone {tz:?}")))?;
        let start = jiff::Timestamp::from_millisecond(from.0)
            .map_err(|e| StoreError::Invalid(format!("from: {e}")))?;
        let mut v = vec![(from.0, i64::from(zone.to_offset(start).seconds()) * 1000)];
        for tr in zone.following(start) {
            let at = tr.timestamp().as_millisecond();
            if at >= to.0 {
                break;
            }
            v.push((at, i64::from(tr.offset().seconds()) * 1000));
        }
        Ok(Offsets(v))
    }
    fn at(&self, t: i64) -> i64 {
        self.0
            .iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .or(self.0.first())
            .map_or(0, |(_, o)| *o)
    }
    /// SQL for `col` shifted to local time (milliseconds).
    fn local_sql(&self, col: &str) -> String {
        if self.0.len() == 1 {
            return format!("({col} + {})", self.0[0].1);
        }
        let mut s = format!("({col} + CASE");
        for w in self.0.windows(2) {
            s += &format!(" WHEN {col} < {} THEN {}", w[1].0, w[0].1);
        }
        let last = self.0.last().map_or(0, |(_, o)| *o);
        s += &format!(" ELSE {last} END)");
        s
    }
}

/// `(year, month, day)` of a day number since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn day_key(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn hour_key(hour: i64) -> String {
    format!(
        "{}T{:02}:00",
        day_key(hour.div_euclid(24)),
        hour.rem_euclid(24)
    )
}

/// The columns a grouping reads, per table.
struct Cols {
    agent: &'static str,
    /// The instant of arrival (milliseconds).
    time: &'static str,
}

const RAW_TIME: &str = "created_at";
/// The start of a roll-up's hour.
const ROLLUP_TIME: &str = "(bucket * 3600000)";

/// [`key_sql`] of `group` over the columns `agent` and `time`; `''` (one row) for none.
fn group_key(
    group: Option<ReportGroup>,
    agent: &'static str,
    time: &'static str,
    offsets: &Offsets,
) -> String {
    group.map_or_else(
        || "''".to_owned(),
        |g| key_sql(g, &Cols { agent, time }, offsets),
    )
}

fn key_sql(group: ReportGroup, cols: &Cols, offsets: &Offsets) -> String {
    match group {
        ReportGroup::Queue => "queue_id".into(),
        ReportGroup::Channel => "COALESCE(channel_id, '')".into(),
        ReportGroup::Agent => format!("COALESCE({}, '')", cols.agent),
        ReportGroup::Day => format!("CAST({} / {DAY_MS} AS TEXT)", offsets.local_sql(cols.time)),
        ReportGroup::Hour => format!("CAST({} / {HOUR_MS} AS TEXT)", offsets.local_sql(cols.time)),
    }
}

/// The disposition key of a completed row, in SQL.
const DISPOSITION_SQL: &str =
    "CASE WHEN by_countdown = 1 THEN '(none)' ELSE COALESCE(disposition, '(no code)') END";

/// [`DISPOSITION_SQL`] of the table aliased `r`.
const DISPOSITION_SQL_R: &str =
    "CASE WHEN r.by_countdown = 1 THEN '(none)' ELSE COALESCE(r.disposition, '(no code)') END";

/// A WHERE clause over `[from, to)` and the filters, with placeholders from `$first` on, and the
/// values to bind in order.
fn where_sql(
    f: &ReportFilter,
    first: usize,
    agent_col: Option<&str>,
    extra: &str,
) -> (String, Vec<Arg>) {
    where_in("", f, first, agent_col, extra)
}

/// [`where_sql`] with the table's columns named `{prefix}column`.
fn where_in(
    prefix: &str,
    f: &ReportFilter,
    first: usize,
    agent_col: Option<&str>,
    extra: &str,
) -> (String, Vec<Arg>) {
    let mut n = first - 1;
    let mut p = || {
        n += 1;
        format!("${n}")
    };
    let mut sql = format!(
        "{prefix}created_at >= {} AND {prefix}created_at < {}",
        p(),
        p()
    );
    let mut args = vec![int(f.from.0), int(f.to.0)];
    push_filters(&mut sql, &mut args, &mut p, prefix, f, agent_col);
    sql += extra;
    (sql, args)
}

/// The queue, channel and agent filters of `f` added to a WHERE clause.
fn push_filters(
    sql: &mut String,
    args: &mut Vec<Arg>,
    p: &mut impl FnMut() -> String,
    prefix: &str,
    f: &ReportFilter,
    agent_col: Option<&str>,
) {
    if let Some(q) = &f.queue_id {
        *sql += &format!(" AND {prefix}queue_id = {}", p());
        args.push(text(q.as_str()));
    }
    if let Some(c) = &f.channel_id {
        *sql += &format!(" AND {prefix}channel_id = {}", p());
        args.push(text(c));
    }
    if let (Some(a), Some(col)) = (&f.agent_id, agent_col) {
        *sql += &format!(" AND {col} = {}", p());
        args.push(text(a.as_str()));
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(t) => q.bind(t.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

/// Inbound interactions without a first response whose target passed at the time of asking
/// (`$1`): SLA missed, though no roll-up can hold it.
const SLA_DUE_SQL: &str =
    "outbound = 0 AND first_response_at IS NULL AND created_at + sla_ms <= $1";

/// `COALESCE(SUM(expression), 0) AS column` of each figure.
fn figure_sums(figures: &[Figure]) -> String {
    figures
        .iter()
        .map(|(c, e)| format!("COALESCE(SUM({e}), 0) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of `figures`' columns.
fn figure_cols(figures: &[Figure]) -> Vec<&'static str> {
    figures.iter().map(|(c, _)| *c).collect()
}

/// A part of a summary's range in roll-up buckets: the buckets `[lo, hi)` of `span`, added
/// (`sign` 1) or taken away (`sign` -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    sign: i64,
    span: i64,
    lo: i64,
    hi: i64,
}

impl Segment {
    fn add(span: i64, lo: i64, hi: i64) -> Segment {
        Segment {
            sign: 1,
            span,
            lo,
            hi,
        }
    }
    fn take(span: i64, lo: i64, hi: i64) -> Segment {
        Segment {
            sign: -1,
            span,
            lo,
            hi,
        }
    }
}

/// Whether `n` of the `per` fine buckets of a coarse one are read as the coarse bucket less the
/// other `per - n` (fewer buckets) rather than as they are.
fn complement(n: i64, per: i64) -> bool {
    1 + per - n < n
}

/// Covers the buckets `[lo, hi)` of `span`, `per` of which make one coarser bucket: pushes the
/// buckets of `span` to add or take away at the edges, and returns the coarser buckets to read
/// (whole ones inside the range, and at an edge the one around buckets taken away), or `None`
/// when the range is read in buckets of `span` alone.
fn cover(span: i64, lo: i64, hi: i64, per: i64, out: &mut Vec<Segment>) -> Option<(i64, i64)> {
    let (c0, c1) = ((lo + per - 1).div_euclid(per), hi.div_euclid(per));
    if c0 > c1 {
        // Inside one coarser bucket.
        let c = lo.div_euclid(per);
        if complement(hi - lo, per) {
            out.push(Segment::take(span, c * per, lo));
            out.push(Segment::take(span, hi, (c + 1) * per));
            return Some((c, c + 1));
        }
        out.push(Segment::add(span, lo, hi));
        return None;
    }
    let a = if complement(c0 * per - lo, per) {
        out.push(Segment::take(span, (c0 - 1) * per, lo));
        c0 - 1
    } else {
        out.push(Segment::add(span, lo, c0 * per));
        c0
    };
    let b = if complement(hi - c1 * per, per) {
        out.push(Segment::take(span, hi, (c1 + 1) * per));
        c1 + 1
    } else {
        out.push(Segment::add(span, c1 * per, hi));
        c1
    };
    Some((a, b))
}

/// The buckets of a summary's range in the roll-ups: whole weeks inside the range, whole UTC
/// days around them and hours at its edges (only hours when rows are local days or hours). A
/// partial day or week at an edge that the range mostly covers is read as the whole bucket less
/// the hours or days outside the range (fewer rows: an agent has one row per week but up to 24
/// per day), which is exact because every figure is a sum; the buckets are read in one
/// statement, so no commit falls between a bucket and what is taken from it. `None` when the
/// range does not start and end on whole UTC hours, or a local day or hour asked for does not
/// (a zone with a :30 or :45 offset or change): the summary then reads the report tables.
fn rollup_segments(q: &SummaryQuery, offsets: &Offsets) -> Option<Vec<Segment>> {
    let f = &q.filter;
    let whole = |t: i64| t.rem_euclid(HOUR_MS) == 0;
    if !whole(f.from.0) || !whole(f.to.0) || f.channel_id.as_deref() == Some("") {
        return None;
    }
    let (h0, h1) = (f.from.0 / HOUR_MS, f.to.0 / HOUR_MS);
    if matches!(q.group_by, ReportGroup::Day | ReportGroup::Hour) {
        if offsets.0.iter().any(|&(at, o)| !whole(at) || !whole(o)) {
            return None;
        }
        return Some(vec![Segment::add(HOUR_MS, h0, h1)]);
    }
    let mut out = Vec::new();
    if let Some((d0, d1)) = cover(HOUR_MS, h0, h1, 24, &mut out) {
        if let Some((w0, w1)) = cover(DAY_MS, d0, d1, 7, &mut out) {
            out.push(Segment::add(WEEK_MS, w0, w1));
        }
    }
    out.retain(|s| s.lo < s.hi);
    Some(out)
}

/// What a summary reads: its question, the offsets of its zone, and the roll-ups' segments of
/// its range (`None`: the report tables).
struct Source<'a> {
    q: &'a SummaryQuery,
    offsets: &'a Offsets,
    segments: Option<&'a [Segment]>,
}

/// Whether [`Store::report_summary`] answers `q` from the roll-ups (else from the report
/// tables; the figures are the same).
pub fn report_summary_uses_rollups(q: &SummaryQuery) -> Result<bool> {
    let offsets = Offsets::of(&q.tz, q.filter.from, q.filter.to)?;
    Ok(rollup_segments(q, &offsets).is_some())
}

/// PostgreSQL's SUM of BIGINT is NUMERIC: every sum is read through this cast.
fn cast_sums(sql: &str) -> String {
    sql.replace("COALESCE(SUM(", "CAST(COALESCE(SUM(")
        .replace("), 0) AS ", "), 0) AS BIGINT) AS ")
}

impl Store {
    /// Figures of the interactions that arrived in the range, grouped (see ARCHITECTURE.md,
    /// "Report definitions"). Time groups list every local day or hour of the range, also empty
    /// ones; other groups list what has figures.
    ///
    /// Read from the roll-ups when the range and its local days or hours fall on whole UTC
    /// hours (see [`report_summary_uses_rollups`]), else from the report tables.
    pub async fn report_summary(&self, q: &SummaryQuery) -> Result<Summary> {
        self.summary(q, true).await
    }

    /// [`Store::report_summary`] always read from the report tables: the exact query the
    /// roll-ups must agree with (tests and the benchmark compare the two).
    pub async fn report_summary_raw(&self, q: &SummaryQuery) -> Result<Summary> {
        self.summary(q, false).await
    }

    /// Empties the roll-ups and sums them again from the report tables, in one transaction:
    /// what the migration adding them does, for report rows written in bulk (the benchmark).
    pub async fn rebuild_report_rollups(&self) -> Result<()> {
        dispatch_commit!(self, pool => {
            let mut tx = pool.begin().await?;
            for sql in rollup_rebuild_sql() {
                sqlx::raw_sql(&sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn summary(&self, q: &SummaryQuery, rollups: bool) -> Result<Summary> {
        let f = &q.filter;
        if f.to.0 <= f.from.0 {
            return Err(StoreError::Invalid("the range is empty: to <= from".into()));
        }
        // Time groups list every bucket of the range: bound how many there can be.
        let longest = match q.group_by {
            ReportGroup::Hour => MAX_HOUR_RANGE_DAYS,
            _ => MAX_RANGE_DAYS,
        };
        if f.to.0 - f.from.0 > longest * DAY_MS {
            return Err(StoreError::Invalid(format!(
                "the range is longer than {longest} days (for group_by={})",
                q.group_by.as_str()
            )));
        }
        let offsets = Offsets::of(&q.tz, f.from, f.to)?;
        let segments = if rollups {
            rollup_segments(q, &offsets)
        } else {
            None
        };
        let src = Source {
            q,
            offsets: &offsets,
            segments: segments.as_deref(),
        };
        let agent_mode = q.group_by == ReportGroup::Agent || f.agent_id.is_some();
        let mut rows: HashMap<String, Acc> = HashMap::new();
        if agent_mode {
            self.agent_figures(&src, q.group_by, &mut rows).await?;
        } else {
            self.interaction_figures(&src, Some(q.group_by), false, &mut rows)
                .await?;
        }
        let total = if q.group_by == ReportGroup::Agent && f.agent_id.is_none() {
            let mut all = HashMap::new();
            self.interaction_figures(&src, None, false, &mut all)
                .await?;
            all.remove("").unwrap_or_default()
        } else {
            let mut t = Acc::default();
            for acc in rows.values() {
                t.add(acc);
            }
            t
        };
        if matches!(q.group_by, ReportGroup::Day | ReportGroup::Hour) {
            let step = if q.group_by == ReportGroup::Day {
                DAY_MS
            } else {
                HOUR_MS
            };
            // Every local bucket the range touches (offsets change on quarter hours at most).
            let mut t = f.from.0;
            while t < f.to.0 {
                let b = (t + offsets.at(t)).div_euclid(step);
                rows.entry(b.to_string()).or_default();
                t += 15 * 60 * 1000;
            }
        }
        let labels = self.report_labels(q.group_by).await?;
        let mut out: Vec<SummaryRow> = rows
            .into_iter()
            .map(|(k, acc)| {
                let (key, label) = match q.group_by {
                    ReportGroup::Day | ReportGroup::Hour => {
                        let b: i64 = k.parse().unwrap_or_default();
                        let key = if q.group_by == ReportGroup::Day {
                            day_key(b)
                        } else {
                            hour_key(b)
                        };
                        (key.clone(), key.replace('T', " "))
                    }
                    _ => {
                        let label = labels.get(&k).cloned().unwrap_or_else(|| k.clone());
                        (k, label)
                    }
                };
                acc.row(key, label)
            })
            .collect();
        match q.group_by {
            ReportGroup::Day | ReportGroup::Hour => out.sort_by(|a, b| a.key.cmp(&b.key)),
            _ => out.sort_by(|a, b| a.label.cmp(&b.label).then(a.key.cmp(&b.key))),
        }
        Ok(Summary {
            from: f.from,
            to: f.to,
            group_by: q.group_by,
            rows: out,
            total: total.row("total".into(), "Total".into()),
        })
    }

    /// Per-interaction figures into `rows` (key `""` when `group` is `None`). `first_agent`
    /// keeps only interactions first answered by an agent, grouped by that agent.
    async fn interaction_figures(
        &self,
        src: &Source<'_>,
        group: Option<ReportGroup>,
        first_agent: bool,
        rows: &mut HashMap<String, Acc>,
    ) -> Result<()> {
        let key = group_key(group, "first_agent_id", RAW_TIME, src.offsets);
        let (agent_col, extra) = if first_agent {
            (Some("first_agent_id"), " AND first_agent_id IS NOT NULL")
        } else {
            (None, "")
        };
        let (cond, args) = where_sql(&src.q.filter, 2, agent_col, extra);
        if let Some(segments) = src.segments {
            if !first_agent {
                self.rollup_figures(src, segments, group, false, rows)
                    .await?;
            }
            // What the roll-ups cannot hold: no answer yet and the target passed by now.
            let sql = format!(
                "SELECT {key} AS k, COUNT(*) AS sla_due FROM report_interactions \
                 WHERE {cond} AND {SLA_DUE_SQL} GROUP BY 1"
            );
            return dispatch!(self, pool => {
                let query = bind_all!(sqlx::query(&sql).bind(src.q.now.0), &args);
                for r in query.fetch_all(pool).await? {
                    rows.entry(r.text("k")?).or_default().add_col("sla_due", r.int("sla_due")?);
                }
                Ok(())
            });
        }
        let figures = if first_agent {
            // An agent's speed figures: only what they answered first.
            [FIRST_FIGURES, SPEED_FIGURES].concat()
        } else {
            Part::Interaction.figures()
        };
        // Dispositions come from the same scan: grouped by them too, summed up here.
        let d = if first_agent {
            "NULL".to_owned()
        } else {
            format!("CASE WHEN wrapped_up_at IS NULL THEN NULL ELSE {DISPOSITION_SQL} END")
        };
        let sql = cast_sums(&format!(
            "SELECT {key} AS k, {d} AS d, {}, \
             COALESCE(SUM(CASE WHEN {SLA_DUE_SQL} THEN 1 ELSE 0 END), 0) AS sla_due \
             FROM report_interactions WHERE {cond} GROUP BY 1, 2",
            figure_sums(&figures)
        ));
        let mut names = figure_cols(&figures);
        names.push("sla_due");
        dispatch!(self, pool => {
            let query = bind_all!(sqlx::query(&sql).bind(src.q.now.0), &args);
            for r in query.fetch_all(pool).await? {
                let acc = rows.entry(r.text("k")?).or_default();
                for c in &names {
                    acc.add_col(c, r.int(c)?);
                }
                if let Some(d) = r.opt_text("d")? {
                    *acc.dispositions.entry(d).or_default() += r.int("handled")?;
                }
            }
            Ok::<_, StoreError>(())
        })
    }

    /// Figures summed from the roll-ups over `segments`: per interaction, or (`agent`) the
    /// agents' own (their offers, participations, and what they answered first).
    async fn rollup_figures(
        &self,
        src: &Source<'_>,
        segments: &[Segment],
        group: Option<ReportGroup>,
        agent: bool,
        rows: &mut HashMap<String, Acc>,
    ) -> Result<()> {
        let key = group_key(group, "agent_id", ROLLUP_TIME, src.offsets);
        let (table, dispositions) = if agent {
            ("report_agent_rollups", "report_agent_rollup_dispositions")
        } else {
            ("report_rollups", "report_rollup_dispositions")
        };
        // Every queue and channel together: their own rows.
        let f = &src.q.filter;
        let all_queues = f.queue_id.is_none()
            && f.channel_id.is_none()
            && !matches!(group, Some(ReportGroup::Queue | ReportGroup::Channel));
        // One statement per table over every segment, each row signed by its segment's sign:
        // what a segment takes away is read in the same snapshot as what another adds. One scan
        // of the table (its key's ranges or-ed), not a union of scans, which PostgreSQL would
        // hand to parallel workers that cost more to start than such a scan takes.
        let mut n = 0;
        let mut p = || {
            n += 1;
            format!("${n}")
        };
        let mut args = Vec::new();
        let (mut any, mut taken) = (Vec::new(), Vec::new());
        for seg in segments {
            let cond = format!(
                "(span = {} AND bucket >= {} AND bucket < {})",
                p(),
                p(),
                p()
            );
            args.extend([int(seg.span), int(seg.lo), int(seg.hi)]);
            if seg.sign < 0 {
                taken.push(cond.clone());
            }
            any.push(cond);
        }
        let mut cond = format!("({})", any.join(" OR "));
        if !agent {
            cond += if all_queues {
                " AND queue_id = '*' AND channel_id = '*'"
            } else {
                " AND queue_id <> '*'"
            };
        }
        push_filters(
            &mut cond,
            &mut args,
            &mut p,
            "",
            &src.q.filter,
            agent.then_some("agent_id"),
        );
        let sign = if taken.is_empty() {
            "1".to_owned()
        } else {
            format!("CASE WHEN {} THEN -1 ELSE 1 END", taken.join(" OR "))
        };
        let sums = ROLLUP_COLUMNS
            .iter()
            .map(|c| format!("COALESCE(SUM(s * {c}), 0) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let figures = cast_sums(&format!(
            "SELECT k, {sums} FROM (SELECT {key} AS k, {sign} AS s, {} FROM {table} \
             WHERE {cond}) b GROUP BY k HAVING SUM(s * n) > 0",
            ROLLUP_COLUMNS.join(", ")
        ));
        let by_code = cast_sums(&format!(
            "SELECT k, d, COALESCE(SUM(s * n), 0) AS n FROM (SELECT {key} AS k, {sign} AS s, \
             disposition AS d, n FROM {dispositions} WHERE {cond}) b GROUP BY k, d \
             HAVING SUM(s * n) > 0"
        ));
        dispatch!(self, pool => {
            for r in bind_all!(sqlx::query(&figures), &args).fetch_all(pool).await? {
                let acc = rows.entry(r.text("k")?).or_default();
                for c in ROLLUP_COLUMNS {
                    acc.add_col(c, r.int(c)?);
                }
            }
            for r in bind_all!(sqlx::query(&by_code), &args).fetch_all(pool).await? {
                let acc = rows.entry(r.text("k")?).or_default();
                *acc.dispositions.entry(r.text("d")?).or_default() += r.int("n")?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// An agent's own figures (or every agent's, grouped by agent): their offers, their
    /// participations, and the speed figures of the interactions they answered first.
    async fn agent_figures(
        &self,
        src: &Source<'_>,
        group: ReportGroup,
        rows: &mut HashMap<String, Acc>,
    ) -> Result<()> {
        if let Some(segments) = src.segments {
            self.rollup_figures(src, segments, Some(group), true, rows)
                .await?;
            return self.interaction_figures(src, Some(group), true, rows).await;
        }
        let key = group_key(Some(group), "agent_id", RAW_TIME, src.offsets);
        let (cond, args) = where_sql(&src.q.filter, 1, Some("agent_id"), "");
        let offers = format!(
            "SELECT {key} AS k, {} FROM report_offers WHERE {cond} GROUP BY 1",
            figure_sums(OFFER_FIGURES)
        );
        let legs = format!(
            "SELECT {key} AS k, \
             CASE WHEN wrapped_up_at IS NULL THEN NULL ELSE {DISPOSITION_SQL} END AS d, {} \
             FROM report_legs WHERE {cond} GROUP BY 1, 2",
            figure_sums(LEG_FIGURES)
        );
        let (offers, legs) = (cast_sums(&offers), cast_sums(&legs));
        dispatch!(self, pool => {
            for r in bind_all!(sqlx::query(&offers), &args).fetch_all(pool).await? {
                let acc = rows.entry(r.text("k")?).or_default();
                for c in figure_cols(OFFER_FIGURES) {
                    acc.add_col(c, r.int(c)?);
                }
            }
            for r in bind_all!(sqlx::query(&legs), &args).fetch_all(pool).await? {
                let acc = rows.entry(r.text("k")?).or_default();
                for c in figure_cols(LEG_FIGURES) {
                    acc.add_col(c, r.int(c)?);
                }
                if let Some(d) = r.opt_text("d")? {
                    *acc.dispositions.entry(d).or_default() += r.int("handled")?;
                }
            }
            Ok::<_, StoreError>(())
        })?;
        self.interaction_figures(src, Some(group), true, rows).await
    }

    /// Names of queues, agents or channels by id, for row labels.
    async fn report_labels(&self, group: ReportGroup) -> Result<HashMap<String, String>> {
        let sql = match group {
            ReportGroup::Queue => "SELECT id, name AS label FROM queues",
            ReportGroup::Agent => "SELECT id, display_name AS label FROM users",
            ReportGroup::Channel => "SELECT id, display_phone_number AS label FROM channels",
            ReportGroup::Day | ReportGroup::Hour => return Ok(HashMap::new()),
        };
        dispatch!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.text("id")?, r.text("label")?)))
                .collect::<Result<HashMap<_, _>>>()
        })
    }

    /// The interactions behind the figures (the drill-down): those that arrived in the range and
    /// match the filters, newest first, at most `limit`, after the interaction `before` (the
    /// last one of the previous page) when given.
    pub async fn report_interactions(
        &self,
        filter: &ReportFilter,
        limit: i64,
        before: Option<&InteractionId>,
    ) -> Result<Vec<ReportInteraction>> {
        // After `before`: its arrival bounds the range, so each page reads the index from
        // there instead of from the range's end.
        let after = match before {
            None => None,
            Some(b) => {
                let at: Option<i64> = dispatch!(self, pool => {
                    sqlx::query("SELECT created_at FROM report_interactions WHERE id = $1")
                        .bind(b.as_str())
                        .fetch_optional(pool)
                        .await?
                        .map(|r| r.int("created_at"))
                        .transpose()
                })?;
                match at {
                    Some(at) => Some((at, b)),
                    None => return Ok(Vec::new()),
                }
            }
        };
        let bounded;
        let filter = match after {
            Some((at, _)) if at < filter.to.0 => {
                bounded = ReportFilter {
                    to: Timestamp(at + 1),
                    ..filter.clone()
                };
                &bounded
            }
            _ => filter,
        };
        let (mut cond, mut args) = where_in("r.", filter, 1, None, "");
        let mut n = args.len();
        let mut p = || {
            n += 1;
            format!("${n}")
        };
        match (&filter.agent_id, filter.figure) {
            (Some(a), Some(figure)) => {
                let ph = p();
                cond += &format!(" AND {}", figure.agent_sql(&ph));
                args.push(text(a.as_str()));
            }
            (Some(a), None) => {
                let ph = p();
                cond += &format!(
                    " AND (r.id IN (SELECT interaction_id FROM report_legs WHERE agent_id = {ph}) \
                     OR r.id IN (SELECT interaction_id FROM report_offers WHERE agent_id = {ph}))"
                );
                args.push(text(a.as_str()));
            }
            (None, Some(figure)) => cond += &format!(" AND {}", figure.interaction_sql()),
            (None, None) => {}
        }
        if let Some(d) = &filter.disposition {
            cond += &format!(
                " AND r.wrapped_up_at IS NOT NULL AND {} = {}",
                DISPOSITION_SQL_R,
                p()
            );
            args.push(text(d));
        }
        if let Some((at, b)) = after {
            let (t, id) = (p(), p());
            cond += &format!(" AND (r.created_at < {t} OR (r.created_at = {t} AND r.id < {id}))");
            args.push(int(at));
            args.push(text(b.as_str()));
        }
        let sql = format!(
            "SELECT r.*, q.name AS queue_name, {DISPOSITION_SQL_R} AS dkey, \
             COALESCE(i.contact_id, r.contact_id) AS linked_contact_id \
             FROM report_interactions r LEFT JOIN queues q ON q.id = r.queue_id \
             LEFT JOIN interactions i ON i.id = r.id \
             WHERE {cond} ORDER BY r.created_at DESC, r.id DESC LIMIT {}",
            p()
        );
        args.push(int(limit.max(0)));
        let mut out = dispatch!(self, pool => {
            let rows = bind_all!(sqlx::query(&sql), &args).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let created = r.int("created_at")?;
                    let accepted = r.opt_int("accepted_at")?;
                    let first = r.opt_int("first_response_at")?;
                    let wrapped = r.opt_int("wrapped_up_at")?;
                    let outbound = r.int("outbound")? != 0;
                    let secs = |ms: i64| ms as f64 / 1000.0;
                    let queue_id = r.text("queue_id")?;
                    Ok(ReportInteraction {
                        id: InteractionId(r.text("id")?),
                        queue: r.opt_text("queue_name")?.unwrap_or_else(|| queue_id.clone()),
                        queue_id: QueueId(queue_id),
                        channel_id: r.opt_text("channel_id")?,
                        customer_wa_id: r.text("customer_wa_id")?,
                        customer_name: r.opt_text("customer_name")?,
                        // The link as it is now (re-linked, merged), else the one at arrival.
                        contact_id: r.opt_text("linked_contact_id")?,
                        agents: Vec::new(),
                        outbound,
                        created_at: Timestamp(created),
                        accepted_at: accepted.map(Timestamp),
                        first_response_at: first.map(Timestamp),
                        ended_at: r.opt_ts("ended_at")?,
                        wrapped_up_at: wrapped.map(Timestamp),
                        disposition: if wrapped.is_some() { Some(r.text("dkey")?) } else { None },
                        handle_s: if wrapped.is_some() {
                            r.opt_int("handle_ms")?.map(secs)
                        } else {
                            None
                        },
                        speed_of_answer_s: accepted
                            .filter(|_| !outbound)
                            .map(|a| secs(a - created)),
                        first_response_s: first.filter(|_| !outbound).map(|f| secs(f - created)),
                        transfers: r.int("transfers")?,
                        missed_offers: r.int("missed_offers")?,
                        rejected_offers: r.int("rejected_offers")?,
                        messages_in: r.int("messages_in")?,
                        messages_out: r.int("messages_out")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        if out.is_empty() {
            return Ok(out);
        }
        // The page's ids bound as one JSON array: SQLite looks up each numbered parameter's
        // name among the earlier ones, so an IN list of a page's ids costs the square of the
        // page's length to prepare.
        let ids = serde_json::to_string(&out.iter().map(|it| it.id.as_str()).collect::<Vec<_>>())
            .map_err(|e| StoreError::Invalid(format!("interaction ids: {e}")))?;
        let in_ids = if self.backend() == "postgres" {
            "interaction_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))"
        } else {
            "interaction_id IN (SELECT value FROM json_each($1))"
        };
        let sql = format!(
            "SELECT interaction_id, agent_id FROM report_legs WHERE {in_ids} \
             ORDER BY joined_at, agent_id"
        );
        let mut agents: HashMap<String, Vec<AgentId>> = HashMap::new();
        dispatch!(self, pool => {
            for r in sqlx::query(&sql).bind(&ids).fetch_all(pool).await? {
                let list = agents.entry(r.text("interaction_id")?).or_default();
                let a = AgentId(r.text("agent_id")?);
                if !list.contains(&a) {
                    list.push(a);
                }
            }
            Ok::<_, StoreError>(())
        })?;
        for it in &mut out {
            it.agents = agents.remove(it.id.as_str()).unwrap_or_default();
        }
        Ok(out)
    }

    /// An agent's presence over `[from, to)`, clipped to it and to `now` (what lies after `now`
    /// has not happened). Time before the agent's first recorded interval counts as offline.
    pub async fn agent_timeline(
        &self,
        agent: &AgentId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Timeline> {
        let end = to.min(now);
        let mut intervals = Vec::new();
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        let mut break_totals: BTreeMap<String, f64> = BTreeMap::new();
        if end <= from {
            return Ok(Timeline {
                intervals,
                totals,
                break_totals,
            });
        }
        let rows: Vec<(i64, Option<i64>, String, Option<String>)> = dispatch!(self, pool => {
            let rows = sqlx::query(
                "SELECT from_at, to_at, presence, reason FROM presence_intervals \
                 WHERE agent_id = $1 AND from_at < $2 AND (to_at IS NULL OR to_at > $3) \
                 ORDER BY from_at",
            )
            .bind(agent.as_str())
            .bind(end.0)
            .bind(from.0)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.int("from_at")?,
                        r.opt_int("to_at")?,
                        r.text("presence")?,
                        r.opt_text("reason")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let mut cursor = from.0;
        let mut push = |p: Presence, reason: Option<String>, a: i64, b: i64| {
            if b <= a {
                return;
            }
            let secs = (b - a) as f64 / 1000.0;
            *totals.entry(p.as_str().to_owned()).or_default() += secs;
            if let (Presence::OnBreak, Some(r)) = (p, &reason) {
                *break_totals.entry(r.clone()).or_default() += secs;
            }
            intervals.push(PresenceInterval {
                presence: p,
                reason,
                from: Timestamp(a),
                to: Timestamp(b),
            });
        };
        for (a, b, p, reason) in rows {
            let presence = Presence::parse(&p)
                .ok_or_else(|| StoreError::Corrupt(format!("presence: {p:?}")))?;
            let a = a.max(from.0);
            let b = b.unwrap_or(end.0).min(end.0);
            if a > cursor {
                push(Presence::Offline, None, cursor, a);
            }
            push(presence, reason, a.max(cursor), b);
            cursor = cursor.max(b);
        }
        if cursor < end.0 {
            push(Presence::Offline, None, cursor, end.0);
        }
        Ok(Timeline {
            intervals,
            totals,
            break_totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_and_offsets() {
        assert_eq!(day_key(0), "1970-01-01");
        assert_eq!(day_key(19_875), "2024-06-01");
        assert_eq!(hour_key(24 * 19_875 + 23), "2024-06-01T23:00");
        // Berlin, around the spring change of 2024-03-31 01:00 UTC.
        let from = Timestamp(1_711_836_000_000); // 2024-03-30 22:00 UTC
        let to = Timestamp(from.0 + DAY_MS);
        let o = Offsets::of("Europe/Berlin", from, to).expect("zone");
        assert_eq!(
            o.0,
            vec![(from.0, HOUR_MS), (1_711_846_800_000, 2 * HOUR_MS)]
        );
        assert!(Offsets::of("Mars/Olympus", from, to).is_err());
    }

    /// The signed segments of any range on whole hours count every hour of the range once and
    /// no other, and read a partial day or week as the whole bucket less the rest only when
    /// that reads fewer buckets.
    #[test]
    fn segments_cover_the_range_exactly() {
        let query = |from: i64, to: i64| SummaryQuery {
            filter: ReportFilter {
                from: Timestamp(from * HOUR_MS),
                to: Timestamp(to * HOUR_MS),
                ..ReportFilter::default()
            },
            group_by: ReportGroup::Agent,
            tz: "UTC".into(),
            now: Timestamp(0),
        };
        let offsets = Offsets(vec![(0, 0)]);
        let per_hour = |span: i64| span / HOUR_MS;
        // 2026-03-05 00:00 UTC (a Thursday: a week starts there) and hours around it.
        let start = 1_772_668_800_000 / HOUR_MS;
        let mut took = 0;
        for from in (start - 30)..(start + 30) {
            for len in [
                1,
                5,
                13,
                23,
                24,
                25,
                47,
                100,
                24 * 9 + 3,
                24 * 30,
                24 * 30 + 22,
                24 * 40 + 11,
            ] {
                let to = from + len;
                let segs = rollup_segments(&query(from, to), &offsets).expect("whole hours");
                let mut count: HashMap<i64, i64> = HashMap::new();
                for s in &segs {
                    assert!(s.lo < s.hi, "{s:?}");
                    let w = per_hour(s.span);
                    for b in s.lo..s.hi {
                        for h in b * w..(b + 1) * w {
                            *count.entry(h).or_default() += s.sign;
                        }
                    }
                    took += usize::from(s.sign < 0);
                }
                for (h, n) in count {
                    let inside = (from..to).contains(&h);
                    assert_eq!(n, i64::from(inside), "hour {h} of [{from}, {to}): {segs:?}");
                }
                // Never more hour buckets than a day holds at each edge, nor day buckets than a week.
                let buckets = |span: i64| {
                    segs.iter()
                        .filter(|s| s.span == span)
                        .map(|s| s.hi - s.lo)
                        .sum::<i64>()
                };
                assert!(buckets(HOUR_MS) <= 24, "{segs:?}");
                assert!(buckets(DAY_MS) <= 8, "{segs:?}");
            }
        }
        assert!(took > 100, "{took} segments taken away");
        // A 30-day range of local days in Berlin read from 11 buckets instead of 34.
        let berlin = rollup_segments(&query(start - 3 * 24 - 1, start + 26 * 24 - 2), &offsets)
            .expect("whole hours");
        let n: i64 = berlin.iter().map(|s| s.hi - s.lo).sum();
        assert!(n <= 12, "{berlin:?}");
    }
}
