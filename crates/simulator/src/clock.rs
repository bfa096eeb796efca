//! The simulator's clock: wall time plus an adjustable offset.
//!
//! Everything WhatsApp dates — webhook timestamps, the 24-hour customer service window, media URL and
//! media id expiry — reads this clock, so a test can jump a day ahead without waiting. Rate limits
//! (throughput, pair rate) are about real request pacing and use the monotonic clock instead.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A shared, cloneable clock. Clones see the same offset.
#[derive(Clone, Debug, Default)]
pub struct SimClock {
    offset_ms: Arc<AtomicI64>,
}

impl SimClock {
    /// Milliseconds since the Unix epoch, offset included.
    pub fn now_unix_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall.saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Seconds since the Unix epoch, offset included (the unit of every WhatsApp timestamp).
    pub fn now_unix(&self) -> i64 {
        self.now_unix_ms().div_euclid(1000)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the clock back by `by`.
    pub fn rewind(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_sub(ms, Ordering::SeqCst);
    }

    /// The current offset from wall time, in milliseconds (negative when rewound).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Back to wall time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}
