//! The supervisor's board: `GET /api/v1/monitor`. Live changes arrive on supervisors'
//! websockets as `monitor.agent` and `monitor.queue` events carrying the same objects.

use super::{ok, Access, Endpoint};
use crate::runtime::error::ApiError;
use crate::services::monitor::Monitor;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint {
        method: "GET",
        path: "/api/v1/monitor",
        summary: "The supervisor's board: agents (presence, activity, load) and queues (waiting, longest wait, available agents, today's figures).",
        access: Access::Supervisor,
        body: None,
        handler: get(board),
        doc: super::Doc::ok::<super::wire::Monitor>(),
    }]
}

/// `GET /api/v1/monitor`
async fn board(State(monitor): State<Monitor>) -> Result<Response, ApiError> {
    Ok(ok(monitor.board().await?))
}
