//! The supervisor's board: the live state of agents and queues from the engine, and
//! today's figures per queue counted from the report tables, so the board and the reports
//! never disagree. The figures are recounted every few seconds (and for every `GET`); a queue
//! whose figures changed gets a `monitor.queue` event through the core, stored once in the
//! shared floor stream.

use crate::runtime::clock::Clock;
use crate::runtime::core::{Attach, Core};
use crate::runtime::error::ApiError;
use crate::runtime::monitor::{self, QueueToday, Today};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::QueueId;
use switchboard_store::{report_day_of, ReportFilter, ReportGroup, Store, SummaryQuery};
use tokio::sync::watch;

/// How often today's figures are recounted when nobody asks.
const RECOUNT: Duration = Duration::from_secs(2);

/// The monitor service.
#[derive(Clone)]
pub struct Monitor {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub today: Today,
    /// `reports.timezone`: the day the figures count.
    pub timezone: String,
}

impl Monitor {
    /// Recounts today's figures of every queue; queues whose figures changed get a
    /// `monitor.queue` event.
    pub async fn recount(&self) -> Result<(), ApiError> {
        let now = self.clock.now();
        let (_, from, to) = report_day_of(now, &self.timezone)
            .map_err(|e| ApiError::invalid("invalid_timezone", e.to_string()))?;
        let summary = self
            .store
            .report_summary(&SummaryQuery {
                filter: ReportFilter {
                    from,
                    to,
                    ..ReportFilter::default()
                },
                group_by: ReportGroup::Queue,
                tz: self.timezone.clone(),
                now,
            })
            .await?;
        let figures: HashMap<QueueId, QueueToday> = summary
            .rows
            .into_iter()
            .map(|r| {
                (
                    QueueId(r.key),
                    QueueToday {
                        offered: r.offered,
                        accepted: r.accepted,
                        missed: r.missed,
                        handled: r.handled,
                        sla_met_pct: r.sla_met_pct,
                    },
                )
            })
            .collect();
        let changed = self.today.replace(figures);
        if !changed.is_empty() {
            self.core
                .store(Attach {
                    monitor_queues: changed,
                    ..Attach::default()
                })
                .await?;
        }
        Ok(())
    }

    /// The board as `GET /api/v1/monitor` answers it, with today's figures just counted.
    pub async fn board(&self) -> Result<Value, ApiError> {
        self.recount().await?;
        let today = self.today.clone();
        let now = self.clock.now();
        self.core
            .read(move |s| monitor::board(&s.engine, &today, now))
            .await
    }
}

/// Recounts today's figures every few seconds until shutdown.
pub async fn run(state: Monitor, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = state.recount().await {
            tracing::warn!(error = %e.message, "counting today's figures for the board failed");
        }
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = tokio::time::sleep(RECOUNT) => {}
        }
    }
}
