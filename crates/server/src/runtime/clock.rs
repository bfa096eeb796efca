//! Time for the server: the system clock in production, a manual clock in tests.
//!
//! Every deadline the server waits for goes through [`Clock::sleep_until`], so tests advance a
//! [`ManualClock`] and the timer service wakes at once, with no real waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use switchboard_domain::Timestamp;
use tokio::sync::watch;

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
    /// Completes once `now() >= at`.
    fn sleep_until(&self, at: Timestamp) -> BoxFuture;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
    fn sleep_until(&self, at: Timestamp) -> BoxFuture {
        let wait = at.0.saturating_sub(self.now().0).max(0) as u64;
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(wait)))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<i64>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start.0)),
        }
    }
    pub fn advance_secs(&self, secs: i64) {
        self.now.send_modify(|t| *t += secs * 1000);
    }
    pub fn set(&self, at: Timestamp) {
        self.now.send_replace(at.0);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(*self.now.borrow())
    }
    fn sleep_until(&self, at: Timestamp) -> BoxFuture {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // An error means the clock was dropped: nothing will ever wake us.
            if rx.wait_for(|t| *t >= at.0).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// Completes once `rx` turns true (the server's shutdown signal); never holds the watch guard
/// across an await, so it can sit in a `select!` of a `Send` future.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
