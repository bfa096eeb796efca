//! Fault injection: switched at run time on a running simulator, read by every send and webhook.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::GraphError;
use crate::lock;

/// A way a send can fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// HTTP 500, code 131000 "Something went wrong" (transient).
    ServerError,
    /// HTTP 503, code 2 "Service temporarily unavailable" (transient).
    ServiceUnavailable,
    /// Code 130429, the number's throughput is exhausted.
    Throughput,
    /// Code 131056, pair rate limit.
    PairRate,
    /// Code 131047, outside the 24-hour window (whatever the window says).
    ReEngagement,
    /// Code 131026, undeliverable.
    Undeliverable,
    /// HTTP 500, code 131057, account in maintenance.
    Maintenance,
    /// Any other Graph error.
    Graph(GraphError),
}

impl SendFailure {
    /// The Graph error this failure answers with.
    pub fn to_graph_error(&self) -> GraphError {
        match self {
            Self::ServerError => GraphError::server_error(),
            Self::ServiceUnavailable => GraphError::service_unavailable(),
            Self::Throughput => GraphError::throughput(),
            Self::PairRate => GraphError::pair_rate(),
            Self::ReEngagement => GraphError::re_engagement(),
            Self::Undeliverable => GraphError::undeliverable(),
            Self::Maintenance => GraphError::maintenance(),
            Self::Graph(error) => error.clone(),
        }
    }
}

/// The faults in force. All off by default.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The next sends are refused, one failure each, in order (e.g. `[ServerError; 2]`: two 500s,
    /// then normal service).
    pub fail_next: VecDeque<SendFailure>,
    /// Each send is refused with this probability in percent (0–100), with this failure.
    pub fail_percent: Option<(u8, SendFailure)>,
    /// The next sends are accepted (a wamid) and then reported `failed` with these errors by status
    /// webhook, one each, in order.
    pub fail_async_next: VecDeque<SendFailure>,
    /// Customer numbers (wa ids) that always get 131026, besides the configured ones.
    pub undeliverable: BTreeSet<String>,
    /// Every Graph API answer is delayed by this much.
    pub latency: Duration,
    /// Every webhook (message or status) is POSTed twice.
    pub duplicate_webhooks: bool,
    /// Status webhooks go out in reverse order: read before delivered before sent (their timestamps
    /// still tell the true order).
    pub out_of_order_statuses: bool,
    /// All status webhooks of a send are delivered before its HTTP answer goes back.
    pub statuses_before_response: bool,
}

/// The switch board of a running simulator's faults ([`crate::SimulatorHandle::faults`]).
#[derive(Clone, Debug, Default)]
pub struct FaultControl {
    faults: Arc<Mutex<Faults>>,
}

impl FaultControl {
    /// Replaces all faults.
    pub fn set(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// The faults in force now.
    pub fn get(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Changes the faults in place.
    pub fn update(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut lock(&self.faults));
    }

    /// Back to no faults.
    pub fn clear(&self) {
        self.set(Faults::default());
    }

    /// The next `n` sends are refused with `failure`.
    pub fn fail_next(&self, n: usize, failure: SendFailure) {
        self.update(|f| f.fail_next.extend(std::iter::repeat_n(failure, n)));
    }

    /// The next `n` sends are accepted, then reported `failed` with `failure`.
    pub fn fail_async_next(&self, n: usize, failure: SendFailure) {
        self.update(|f| f.fail_async_next.extend(std::iter::repeat_n(failure, n)));
    }

    /// `percent` % of sends are refused with `failure` (0 turns it off).
    pub fn fail_percent(&self, percent: u8, failure: SendFailure) {
        self.update(|f| {
            f.fail_percent = (percent > 0).then(|| (percent.min(100), failure));
        });
    }

    /// Sends to `wa_id` always get 131026.
    pub fn add_undeliverable(&self, wa_id: &str) {
        self.update(|f| {
            f.undeliverable.insert(wa_id.to_owned());
        });
    }

    /// Every Graph API answer waits `latency` first.
    pub fn set_latency(&self, latency: Duration) {
        self.update(|f| f.latency = latency);
    }

    /// Every webhook is POSTed twice (or not).
    pub fn set_duplicate_webhooks(&self, on: bool) {
        self.update(|f| f.duplicate_webhooks = on);
    }

    /// Status webhooks go out in reverse order (or not).
    pub fn set_out_of_order_statuses(&self, on: bool) {
        self.update(|f| f.out_of_order_statuses = on);
    }

    /// Status webhooks are delivered before the send's answer (or not).
    pub fn set_statuses_before_response(&self, on: bool) {
        self.update(|f| f.statuses_before_response = on);
    }

    /// What the next send must answer, if a fault says so: consumes one `fail_next`.
    pub(crate) fn take_send_failure(&self) -> Option<GraphError> {
        let mut faults = lock(&self.faults);
        if let Some(failure) = faults.fail_next.pop_front() {
            return Some(failure.to_graph_error());
        }
        if let Some((percent, failure)) = &faults.fail_percent {
            let roll: u8 = rand::random_range(0..100);
            if roll < *percent {
                return Some(failure.to_graph_error());
            }
        }
        None
    }

    pub(crate) fn take_async_failure(&self) -> Option<GraphError> {
        lock(&self.faults)
            .fail_async_next
            .pop_front()
            .map(|f| f.to_graph_error())
    }

    pub(crate) fn is_undeliverable(&self, wa_id: &str) -> bool {
        lock(&self.faults).undeliverable.contains(wa_id)
    }
}
