//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{Access, Endpoint};
use crate::runtime::error::ApiError;
use crate::runtime::metrics::label;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use switchboard_domain::{InteractionState, Presence};

feature_state! {
    /// The operations endpoints' handles.
    OpsState {
    core: Core,
    store: Store,
    metrics: Arc<Metrics>,
    hasher: Arc<PasswordHasher>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/healthz",
            summary: "Liveness: the process answers.",
            access: Access::Public,
            body: None,
            handler: get(healthz),
            doc: super::Doc::ok::<super::wire::Health>(),
        },
        Endpoint {
            method: "GET",
            path: "/readyz",
            summary: "Readiness: the database is reachable (several nodes: and NATS, and some \
                      node is the router).",
            access: Access::Public,
            body: None,
            handler: get(readyz),
            doc: super::Doc::ok::<super::wire::Ready>(),
        },
        Endpoint {
            method: "GET",
            path: "/metrics",
            summary: "Prometheus metrics.",
            access: Access::Public,
            body: None,
            handler: get(metrics),
            doc: super::Doc::text(200, "text/plain"),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/cluster",
            summary: "The nodes of the cluster seen in the last minute (one node when \
                      `cluster.nats_url` is unset), with the one that is the router.",
            access: Access::Admin,
            body: None,
            handler: get(cluster),
            doc: super::Doc::ok::<super::wire::Cluster>(),
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/openapi.json",
            summary: "This API's OpenAPI document.",
            access: Access::Public,
            body: None,
            handler: get(openapi),
            doc: super::Doc::ok::<serde_json::Map<String, serde_json::Value>>(),
        },
    ]
}

/// `GET /healthz`
async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`
async fn readyz(State(state): State<OpsState>) -> Response {
    match state.store.ping().await {
        Ok(()) => {
            if let Err(why) = state.core.link().map_or(Ok(()), |l| l.ready()) {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"error": {"code": "cluster_unready", "message": why}})),
                )
                    .into_response();
            }
            axum::Json(json!({"status": "ready", "database": state.store.backend()}))
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": {"code": "database_unreachable", "message": "the database does not answer"}})),
            )
                .into_response()
        }
    }
}

/// `GET /api/v1/cluster`
async fn cluster(State(state): State<OpsState>) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let Some(link) = state.core.link() else {
        let node = json!({
            "id": state.config.cluster.node_id(),
            "started_at": null,
            "last_seen_at": crate::runtime::views::ts(now),
            "router": true,
        });
        return Ok(axum::Json(json!({ "nodes": [node] })).into_response());
    };
    let lease = state.store.lease().await?;
    let nodes: Vec<serde_json::Value> = state
        .store
        .nodes(switchboard_domain::Timestamp(now.0 - 60_000))
        .await?
        .into_iter()
        .map(|n| {
            json!({
                "id": n.id,
                "started_at": crate::runtime::views::ts(n.started_at),
                "last_seen_at": crate::runtime::views::ts(n.last_seen_at),
                "router": lease.live && lease.holder == n.id,
                "this_node": n.id == link.node_id,
            })
        })
        .collect();
    let replica = link
        .replica_status()
        .map(|(epoch, commit, loads)| json!({ "epoch": epoch, "commit": commit, "loads": loads }));
    Ok(axum::Json(json!({ "nodes": nodes, "replica": replica })).into_response())
}

/// `GET /metrics`
async fn metrics(State(state): State<OpsState>) -> Response {
    let gauges = state
        .core
        .read(|s| {
            let e = &s.engine;
            let now_waiting: Vec<(String, usize)> = e
                .queues()
                .map(|q| (q.name.clone(), e.waiting(&q.id).len()))
                .collect();
            let mut presence = [0usize; 4];
            for a in e.agents() {
                let i = match a.presence {
                    Presence::Offline => 0,
                    Presence::Available => 1,
                    Presence::OnBreak => 2,
                    Presence::Rona => 3,
                };
                presence[i] += 1;
            }
            let mut states = [0usize; 4];
            for it in e.interactions() {
                let i = match it.state {
                    InteractionState::Queued => 0,
                    InteractionState::Offered => 1,
                    InteractionState::Active => 2,
                    _ => 3,
                };
                states[i] += 1;
            }
            (now_waiting, presence, states)
        })
        .await;
    let mut g: Vec<(&str, &str, String, f64)> = Vec::new();
    if let Ok((queues, presence, states)) = gauges {
        for (name, depth) in queues {
            g.push((
                "switchboard_queue_depth",
                "Interactions waiting in each queue.",
                format!("queue=\"{}\"", label(&name)),
                depth as f64,
            ));
        }
        for (i, p) in ["offline", "available", "on_break", "rona"]
            .iter()
            .enumerate()
        {
            g.push((
                "switchboard_agents",
                "Agents by presence.",
                format!("presence=\"{p}\""),
                presence[i] as f64,
            ));
        }
        for (i, s) in ["queued", "offered", "active", "wrap_up"]
            .iter()
            .enumerate()
        {
            g.push((
                "switchboard_interactions",
                "Live interactions by state.",
                format!("state=\"{s}\""),
                states[i] as f64,
            ));
        }
    }
    if let Some(link) = state.core.link() {
        g.push((
            "switchboard_cluster_router",
            "1 while this node is the router (several nodes).",
            String::new(),
            state
                .metrics
                .cluster_router
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        ));
        g.push((
            "switchboard_cluster_relay_lag_ms",
            "Milliseconds between the router publishing the last relayed commit and this node \
             receiving it (several nodes).",
            String::new(),
            link.relay_lag_ms.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ));
        g.push((
            "switchboard_cluster_replica_loads",
            "Times this node loaded its replica of the routing state whole from the store (at \
             start, after it was the router, after a gap in the relayed commits); every other \
             commit is applied from the rows relayed with it (several nodes).",
            String::new(),
            link.replica_loads() as f64,
        ));
    }
    g.push((
        "switchboard_password_hashes",
        "Password hashes (logins, password changes) running or waiting now.",
        String::new(),
        state.hasher.in_use() as f64,
    ));
    g.push((
        "switchboard_password_hash_workers",
        "Password hashes that may run at once.",
        String::new(),
        state.hasher.workers() as f64,
    ));
    // The CRM event queue, by state (read from the store: it outlives the process).
    match state.store.count_crm_events().await {
        Ok(counts) => {
            for st in ["pending", "delivered", "dead"] {
                let n = counts.iter().find(|(s, _)| s == st).map_or(0, |(_, n)| *n);
                g.push((
                    "switchboard_crm_events",
                    "CRM events in the webhook queue, by state.",
                    format!("state=\"{st}\""),
                    n as f64,
                ));
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count CRM events"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&g),
    )
        .into_response()
}

/// `GET /api/v1/openapi.json`
async fn openapi() -> Response {
    axum::Json(super::openapi()).into_response()
}
