//! Live fan-out of committed events to the websockets of each user.
//!
//! Only events already durable reach the hub; a socket that falls behind (its channel lagged)
//! re-reads what it missed from the store, so the hub may drop and nothing is lost.

use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use switchboard_domain::AgentId;
use tokio::sync::broadcast;

/// One delivered event: `{seq, type, data}`.
///
/// `data` is JSON text, encoded once by the core worker and shared by the stored row and every
/// recipient; the frame's own text is built at most once, by the first socket that sends it,
/// and every other socket of that user sends the same bytes.
#[derive(Debug)]
pub struct Frame {
    pub seq: i64,
    pub kind: Cow<'static, str>,
    /// The event's `data`, as JSON text.
    pub data: Arc<str>,
    text: OnceLock<Utf8Bytes>,
}

impl Frame {
    /// A frame whose `data` is already JSON text (from [`encode`]).
    pub fn new(seq: i64, kind: impl Into<Cow<'static, str>>, data: Arc<str>) -> Frame {
        Frame {
            seq,
            kind: kind.into(),
            data,
            text: OnceLock::new(),
        }
    }

    pub fn from_value(seq: i64, kind: impl Into<Cow<'static, str>>, data: &Value) -> Frame {
        Frame::new(seq, kind, encode(data))
    }

    /// The frame as sent, `{"data":…,"seq":…,"type":…}`: the bytes `serde_json` gives the object
    /// `{seq, type, data}` (its keys sorted), without encoding `data` again.
    pub fn text(&self) -> Utf8Bytes {
        self.text
            .get_or_init(|| {
                let mut out = String::with_capacity(self.data.len() + self.kind.len() + 40);
                out.push_str("{\"data\":");
                out.push_str(&self.data);
                let _ = write!(out, ",\"seq\":{},\"type\":", self.seq);
                out.push_str(&Value::from(&*self.kind).to_string());
                out.push('}');
                Utf8Bytes::from(out)
            })
            .clone()
    }
}

/// The JSON text of an event's `data`.
pub fn encode(data: &Value) -> Arc<str> {
    Arc::from(data.to_string())
}

/// A session (or all sessions of a user) that ended: its live sockets must close.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub user: AgentId,
    /// `None` revokes every session of the user (the user was deleted).
    pub token_hash: Option<String>,
}

/// The stream every supervisor reads beside their own: events about the whole floor (every
/// interaction, every agent's presence, the monitor) stored once, not once per supervisor.
/// Not a user id (those never start with `*`).
pub const FLOOR: &str = "*floor";

#[derive(Default)]
struct Channels {
    users: HashMap<AgentId, broadcast::Sender<Arc<Frame>>>,
    /// Users whose sockets also receive the [`FLOOR`] stream.
    floor: std::collections::HashSet<AgentId>,
}

#[derive(Clone)]
pub struct Hub {
    channels: Arc<Mutex<Channels>>,
    revocations: broadcast::Sender<Revocation>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            channels: Arc::default(),
            revocations: broadcast::channel(256).0,
        }
    }
}

impl Hub {
    /// Tells live sockets that a session ended (logout) or a user was deleted.
    pub fn revoke(&self, user: &AgentId, token_hash: Option<String>) {
        let _ = self.revocations.send(Revocation {
            user: user.clone(),
            token_hash,
        });
    }

    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    /// The live frames of `user` (and, with `floor`, of the shared [`FLOOR`] stream, in the one
    /// order they were committed).
    pub fn subscribe(&self, user: &AgentId, floor: bool) -> broadcast::Receiver<Arc<Frame>> {
        let mut c = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if floor {
            c.floor.insert(user.clone());
        }
        c.users
            .entry(user.clone())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// Sends a committed frame to the sockets of `user`, or of every floor reader for
    /// [`FLOOR`]. Frames are published in sequence order by the one core worker, so each
    /// socket's channel holds its frames in order.
    pub fn publish(&self, user: &AgentId, frame: Arc<Frame>) {
        let mut c = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let Channels { users, floor } = &mut *c;
        if user.as_str() == FLOOR {
            floor.retain(|u| match users.get(u) {
                Some(tx) if tx.send(frame.clone()).is_ok() => true,
                _ => {
                    // No receiver left: forget the channel.
                    users.remove(u);
                    false
                }
            });
            return;
        }
        if let Some(tx) = users.get(user) {
            if tx.send(frame).is_err() {
                users.remove(user);
                floor.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The frame text is byte for byte what encoding the whole object gives, so clients see
    /// the same frames as before events were encoded once.
    #[test]
    fn frame_text_is_the_encoded_object() {
        let datas = [
            json!({"id": "msg_1", "text": "a \"quoted\" ü line\n", "n": 12, "nested": {"b": [1, null, true], "a": 1.5}}),
            json!(null),
            json!([]),
            json!("plain"),
        ];
        for (i, data) in datas.iter().enumerate() {
            for kind in ["message.created", "hello", "odd \"kind\""] {
                let seq = i as i64 * 1_000_000_007 - 3;
                let f = Frame::from_value(seq, kind, data);
                let want = json!({"seq": seq, "type": kind, "data": data}).to_string();
                assert_eq!(f.text().as_str(), want);
                // Built once, the same bytes after.
                assert_eq!(f.text().as_str(), want);
            }
        }
    }
}
