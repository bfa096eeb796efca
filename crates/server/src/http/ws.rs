//! `GET /api/v1/ws[?since=SEQ]`: the live event stream of one user.
//!
//! On connect the server sends `{"seq": LAST, "type": "hello", …}`; with `since` it first replays
//! every stored event after `since` (or sends `resync` when those were pruned), then streams new
//! ones. Frames are `{seq, type, data}` with `seq` increasing per socket: numbers come from one
//! counter for every stream, so a user's own stream has gaps where others' events were numbered.
//! A supervisor's socket reads their own stream and the shared floor stream (`hub::FLOOR`),
//! merged in that one order. What a user has open (`PUT …/viewing`, `POST …/watch`) lasts while
//! at least one socket of theirs is open; the `hello` frame is sent once it counts. A socket that falls behind the live channel catches up from the
//! store, so no event is skipped or repeated.

use super::state::feature_state;
#[allow(unused_imports)]
use super::state::prelude::*;
use super::{Access, Endpoint, Query};
use crate::runtime::core::Attach;
use crate::runtime::error::ApiError;
use crate::runtime::hub::{Frame, FLOOR};
use crate::services::auth::AuthUser;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use switchboard_domain::{AgentId, Command};
use tokio::sync::broadcast::error::RecvError;

feature_state! {
    /// The websocket's handles.
    WsState {
    core: Core,
    store: Store,
    hub: Hub,
    shutdown: watch::Receiver<bool>,
    viewers: Viewers,
    } => viewing: Viewing { core, viewers }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint {
        method: "GET",
        path: crate::services::auth::WEBSOCKET_PATH,
        summary: "Websocket of live events ({seq, type, data}); ?since=SEQ replays what was missed; token also as ?token=.",
        access: Access::Agent,
        body: None,
        handler: get(upgrade), doc: super::Doc::with(super::Reply::Empty(101)).query::<WsQuery>(),
    }]
}

#[derive(Deserialize, schemars::JsonSchema)]
struct WsQuery {
    since: Option<i64>,
    #[allow(dead_code)]
    token: Option<String>,
}

/// `GET /api/v1/ws`
async fn upgrade(
    State(state): State<WsState>,
    Extension(user): Extension<AuthUser>,
    Query(q): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws.on_upgrade(move |socket| session(state, user, q.since, socket)),
        // A plain GET (no `Connection: upgrade`, `Upgrade: websocket`, key or version): 426
        // in the API's error shape, naming the protocol to switch to.
        Err(r) => {
            let mut resp = ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade_required",
                format!("this endpoint is a websocket: {}", r.body_text()),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            resp
        }
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

async fn send_frame(sink: &mut Sink, f: &Frame) -> bool {
    sink.send(Message::Text(f.text())).await.is_ok()
}

/// Sends the stored events of the socket's streams after `*cursor`; false if the socket failed.
async fn replay(state: &WsState, user: &AuthUser, sink: &mut Sink, cursor: &mut i64) -> bool {
    loop {
        let rows = match state
            .store
            .encoded_events_of_streams(&streams_of(user), *cursor, 500)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, agent = %user.id, "replay failed");
                return false;
            }
        };
        if rows.is_empty() {
            return true;
        }
        for r in rows {
            // The stored text: the same bytes the live stream sent.
            let f = Frame::new(r.seq, r.kind, r.data.into());
            if !send_frame(sink, &f).await {
                return false;
            }
            *cursor = r.seq;
        }
    }
}

/// The streams a user's socket reads: their own, and for supervisors the shared floor.
fn streams_of(user: &AuthUser) -> Vec<AgentId> {
    let mut v = vec![user.id.clone()];
    if user.is_supervisor() {
        v.push(AgentId(FLOOR.to_owned()));
    }
    v
}

async fn session(state: WsState, user: AuthUser, since: Option<i64>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut rx = state.hub.subscribe(&user.id, user.is_supervisor());
    let mut revoked = state.hub.revocations();
    let agent = user.id.clone();
    if state
        .core
        .call(
            Command::Connected {
                agent: agent.clone(),
            },
            Attach::default(),
        )
        .await
        .is_err()
    {
        return;
    }
    // What the user opens is theirs while a socket of theirs is open.
    state.viewing().connected(&agent);
    let streams = streams_of(&user);
    let last = state
        .core
        .read(move |s| {
            streams
                .iter()
                .filter_map(|id| s.stream_last.get(id).copied())
                .max()
                .unwrap_or(0)
        })
        .await
        .unwrap_or(0);
    let hello = Frame::from_value(
        last,
        "hello",
        &json!({"user_id": user.id, "last_seq": last}),
    );
    let mut ok = send_frame(&mut sink, &hello).await;
    let mut cursor = last;
    if let (true, Some(since)) = (ok, since) {
        cursor = since.max(0);
        // One counter numbers every stream: below the oldest number kept anywhere, events of
        // this socket's streams may have been pruned.
        let oldest = state.store.min_event_seq_any().await.ok().flatten();
        if oldest.is_some_and(|o| o > cursor + 1) || cursor > last {
            // What the client missed is no longer kept (or it is from another life of the
            // database): tell it to reload its state.
            let f = Frame::from_value(last, "resync", &json!({"reason": "events_pruned"}));
            ok = send_frame(&mut sink, &f).await;
            cursor = last;
        } else {
            ok = replay(&state, &user, &mut sink, &mut cursor).await;
        }
    }
    let mut shutdown = state.shutdown.clone();
    while ok {
        // Biased: events already published are sent before a ping is answered, so a client's
        // "pong" means it holds every event committed before its "ping".
        tokio::select! {
            biased;
            _ = crate::runtime::clock::stopped(&mut shutdown) => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                break;
            }
            r = revoked.recv() => {
                let ended = match r {
                    Ok(r) => r.user == user.id && r.token_hash.as_ref().is_none_or(|t| t == &user.token_hash),
                    // Missed revocations: check the session itself.
                    Err(RecvError::Lagged(_)) => !crate::services::auth::still_stored(&state.store, &user).await,
                    Err(RecvError::Closed) => false,
                };
                if ended {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1008, reason: "session ended".into() }))).await;
                    break;
                }
            }
            frame = rx.recv() => match frame {
                Ok(f) => {
                    if f.seq <= cursor {
                        continue;
                    }
                    ok = send_frame(&mut sink, &f).await;
                    cursor = f.seq;
                }
                Err(RecvError::Lagged(_)) => {
                    ok = replay(&state, &user, &mut sink, &mut cursor).await;
                }
                Err(RecvError::Closed) => break,
            },
            msg = stream.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(t))) if t.as_str() == "ping" => {
                    ok = sink.send(Message::Text("pong".into())).await.is_ok();
                }
                Some(Ok(_)) => {}
            },
        }
    }
    state.viewing().disconnected(&agent).await;
    let _ = state
        .core
        .call(Command::Disconnected { agent }, Attach::default())
        .await;
}
