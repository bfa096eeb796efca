//! Housekeeping on a timer, hourly: live events older than `server.event_retention_hours` and
//! audit log entries older than `server.audit_retention_days` are deleted.

use crate::runtime::clock::Clock;
use std::sync::Arc;
use switchboard_domain::Timestamp;
use switchboard_store::Store;
use tokio::sync::watch;

/// The maintenance service: the store, the clock, the retention and the shutdown signal.
#[derive(Clone)]
pub struct Maintenance {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub event_retention_hours: u32,
    pub audit_retention_days: u32,
    pub shutdown: watch::Receiver<bool>,
}

/// Deletes live events and audit entries older than their retention periods, hourly.
pub async fn run(state: Maintenance) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let keep_ms = i64::from(state.event_retention_hours) * 3_600_000;
        let cutoff = Timestamp(state.clock.now().0 - keep_ms);
        match state.store.prune_events(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned old live events"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning live events failed"),
        }
        prune_audit(&state).await;
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

/// Deletes audit entries older than `audit_retention_days`; answers how many went.
pub async fn prune_audit(state: &Maintenance) -> u64 {
    let keep_ms = i64::from(state.audit_retention_days) * 86_400_000;
    let cutoff = Timestamp(state.clock.now().0 - keep_ms);
    match state.store.prune_audit(cutoff).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(deleted = n, "pruned old audit log entries");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "pruning the audit log failed");
            0
        }
    }
}
