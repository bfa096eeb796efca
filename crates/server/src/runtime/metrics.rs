//! Prometheus metrics, kept as atomics and rendered as text at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use switchboard_domain::engine::Counters;

/// Request latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    pub offers: AtomicU64,
    pub accepts: AtomicU64,
    pub rejects: AtomicU64,
    pub misses: AtomicU64,
    pub transfers: AtomicU64,
    pub conferences: AtomicU64,
    pub wrap_ups: AtomicU64,
    pub auto_wrap_ups: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub events: AtomicU64,
    pub logins_failed: AtomicU64,
    /// Logins refused by the login limit (429), and for want of a free password hasher (503).
    pub logins_refused: AtomicU64,
    pub logins_busy: AtomicU64,
    pub webhooks_ok: AtomicU64,
    pub webhooks_unauthorized: AtomicU64,
    pub webhook_messages: AtomicU64,
    pub sends_ok: AtomicU64,
    pub sends_retried: AtomicU64,
    pub sends_failed: AtomicU64,
    /// Times the outbox looked for due sends.
    pub outbox_polls: AtomicU64,
    /// CRM webhook delivery attempts, and their outcomes.
    pub crm_attempts: AtomicU64,
    pub crm_delivered: AtomicU64,
    pub crm_retries: AtomicU64,
    pub crm_dead: AtomicU64,
    /// External CRM lookups that answered, and that failed (the local CRM was used).
    pub crm_lookups: AtomicU64,
    pub crm_lookup_failures: AtomicU64,
    /// Several nodes: commands this node forwarded to the router.
    pub forwarded: AtomicU64,
    /// Several nodes: 1 while this node is the router.
    pub cluster_router: AtomicU64,
    requests: Mutex<Vec<RequestSeries>>,
}

struct RequestSeries {
    method: String,
    route: String,
    status_class: u16,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn add(&self, c: &Counters) {
        self.offers.fetch_add(c.offers, Ordering::Relaxed);
        self.accepts.fetch_add(c.accepts, Ordering::Relaxed);
        self.rejects.fetch_add(c.rejects, Ordering::Relaxed);
        self.misses.fetch_add(c.misses, Ordering::Relaxed);
        self.transfers.fetch_add(c.transfers, Ordering::Relaxed);
        self.conferences.fetch_add(c.conferences, Ordering::Relaxed);
        self.wrap_ups.fetch_add(c.wrap_ups, Ordering::Relaxed);
        self.auto_wrap_ups
            .fetch_add(c.auto_wrap_ups, Ordering::Relaxed);
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let class = status / 100;
        let mut series = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let idx = match series
            .iter()
            .position(|s| s.method == method && s.route == route && s.status_class == class)
        {
            Some(i) => i,
            None => {
                series.push(RequestSeries {
                    method: method.to_owned(),
                    route: route.to_owned(),
                    status_class: class,
                    buckets: [0; BUCKETS.len()],
                    count: 0,
                    sum: 0.0,
                });
                series.len() - 1
            }
        };
        let s = &mut series[idx];
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
        s.count += 1;
        s.sum += seconds;
    }

    /// Renders the metrics; `gauges` are (name, help, labels, value) computed at scrape time.
    pub fn render(&self, gauges: &[(&str, &str, String, f64)]) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 28] = [
            (
                "switchboard_cluster_forwarded_total",
                "Commands this node forwarded to the router (several nodes).",
                &self.forwarded,
            ),
            (
                "switchboard_webhooks_total",
                "WhatsApp webhooks accepted (answered 200).",
                &self.webhooks_ok,
            ),
            (
                "switchboard_webhooks_unauthorized_total",
                "WhatsApp webhooks refused for their signature.",
                &self.webhooks_unauthorized,
            ),
            (
                "switchboard_inbound_messages_total",
                "Customer messages received by webhook (redeliveries included).",
                &self.webhook_messages,
            ),
            (
                "switchboard_sends_total",
                "Messages WhatsApp accepted.",
                &self.sends_ok,
            ),
            (
                "switchboard_send_retries_total",
                "Send attempts that failed transiently and will be retried.",
                &self.sends_retried,
            ),
            (
                "switchboard_send_failures_total",
                "Messages WhatsApp refused for good.",
                &self.sends_failed,
            ),
            (
                "switchboard_outbox_polls_total",
                "Times the outbox looked for due sends.",
                &self.outbox_polls,
            ),
            (
                "switchboard_crm_webhook_attempts_total",
                "CRM event webhook delivery attempts.",
                &self.crm_attempts,
            ),
            (
                "switchboard_crm_webhook_delivered_total",
                "CRM events delivered (answered 2xx).",
                &self.crm_delivered,
            ),
            (
                "switchboard_crm_webhook_retries_total",
                "CRM event deliveries that failed transiently and will be retried.",
                &self.crm_retries,
            ),
            (
                "switchboard_crm_webhook_dead_total",
                "CRM events given up (refused, or out of attempts).",
                &self.crm_dead,
            ),
            (
                "switchboard_crm_lookups_total",
                "External CRM lookups that answered.",
                &self.crm_lookups,
            ),
            (
                "switchboard_crm_lookup_failures_total",
                "External CRM lookups that failed (the local CRM was used).",
                &self.crm_lookup_failures,
            ),
            (
                "switchboard_offers_total",
                "Offers made to agents.",
                &self.offers,
            ),
            (
                "switchboard_accepts_total",
                "Offers accepted.",
                &self.accepts,
            ),
            (
                "switchboard_rejects_total",
                "Offers rejected.",
                &self.rejects,
            ),
            (
                "switchboard_missed_offers_total",
                "Offers that timed out.",
                &self.misses,
            ),
            ("switchboard_transfers_total", "Transfers.", &self.transfers),
            (
                "switchboard_conferences_total",
                "Conference joins.",
                &self.conferences,
            ),
            (
                "switchboard_wrap_ups_total",
                "Wrap-ups submitted by agents.",
                &self.wrap_ups,
            ),
            (
                "switchboard_auto_wrap_ups_total",
                "Wrap-ups completed by the countdown.",
                &self.auto_wrap_ups,
            ),
            (
                "switchboard_commits_total",
                "State commits to the database.",
                &self.commits,
            ),
            (
                "switchboard_commit_failures_total",
                "Failed state commits.",
                &self.commit_failures,
            ),
            (
                "switchboard_events_total",
                "Live events stored for delivery.",
                &self.events,
            ),
            (
                "switchboard_login_failures_total",
                "Failed logins (wrong username or password).",
                &self.logins_failed,
            ),
            (
                "switchboard_login_refusals_total",
                "Logins refused by the login limit (429), their password not checked.",
                &self.logins_refused,
            ),
            (
                "switchboard_login_busy_total",
                "Logins refused because every password hasher was busy (503).",
                &self.logins_busy,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let mut last = "";
        for (name, help, labels, value) in gauges {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
        let name = "switchboard_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP request latency.\n# TYPE {name} histogram"
        );
        let series = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for s in series.iter() {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{}xx\"",
                s.method, s.route, s.status_class
            );
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {}", s.buckets[i]);
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
        }
        out
    }
}

/// Escapes a Prometheus label value.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
