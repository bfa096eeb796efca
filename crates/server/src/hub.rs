//! Live fan-out of committed events to the websockets of each user.
//!
//! Only events already durable reach the hub; a socket that falls behind (its channel lagged)
//! re-reads what it missed from the store, so the hub may drop and nothing is lost.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_domain::AgentId;
use tokio::sync::broadcast;

/// One delivered event: `{seq, type, data}`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: i64,
    pub kind: String,
    pub data: Value,
}

impl Frame {
    pub fn to_json(&self) -> String {
        serde_json::json!({"seq": self.seq, "type": self.kind, "data": self.data}).to_string()
    }
}

/// A session (or all sessions of a user) that ended: its live sockets must close.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub user: AgentId,
    /// `None` revokes every session of the user (the user was deleted).
    pub token_hash: Option<String>,
}

#[derive(Clone)]
pub struct Hub {
    users: Arc<Mutex<HashMap<AgentId, broadcast::Sender<Arc<Frame>>>>>,
    revocations: broadcast::Sender<Revocation>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            users: Arc::default(),
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

    pub fn subscribe(&self, user: &AgentId) -> broadcast::Receiver<Arc<Frame>> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .entry(user.clone())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    pub fn publish(&self, user: &AgentId, frame: Arc<Frame>) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = users.get(user) {
            if tx.send(frame).is_err() {
                // No receiver left: forget the channel.
                users.remove(user);
            }
        }
    }
}
