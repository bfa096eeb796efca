//! The WhatsApp channel inside the server: the directory of connected numbers, webhook handling
//! (signature, ingest of every message, statuses), the outbox that sends agents' messages, and
//! media (the blob store and the service that downloads customers' media).
//!
//! The protocol itself (parsing, signing, the Graph API client, error classes) lives in
//! `switchboard-channels`; this module decides what is stored and when, through the core.

pub mod media;
pub mod outbox;
pub mod webhook;

use std::collections::HashMap;
use std::sync::RwLock;
use switchboard_domain::Timestamp;
use switchboard_store::{ChannelRecord, Store};

/// Connected numbers, kept in memory (they change rarely) and written through to the store,
/// with what the admin console shows of each one's traffic ([`ChannelActivity`]).
#[derive(Default)]
pub struct Channels {
    by_id: RwLock<HashMap<String, ChannelRecord>>,
    activity: RwLock<HashMap<String, ChannelActivity>>,
}

/// What a number's traffic last said, for the admin: kept in memory by the webhook (each signed
/// webhook naming the number) and the outbox (each refused send attempt). The last send error is
/// also read once from the outbox rows (which keep every attempt's error durably), so it survives
/// a restart; the last webhook is only known since the process started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelActivity {
    pub last_webhook_at: Option<Timestamp>,
    /// When and what (the Graph error in words).
    pub last_send_error: Option<(Timestamp, String)>,
    /// Whether the last send error was looked up in the store yet.
    pub stored_error_read: bool,
}

impl Channels {
    pub async fn load(store: &Store) -> Result<Channels, switchboard_store::StoreError> {
        let list = store.channels().await?;
        let by_id = list.into_iter().map(|c| (c.id.clone(), c)).collect();
        Ok(Channels {
            by_id: RwLock::new(by_id),
            activity: RwLock::default(),
        })
    }
    /// Reads the channels again from the store (several nodes: a channel added, changed or
    /// removed through another node).
    pub async fn refresh(&self, store: &Store) -> Result<(), switchboard_store::StoreError> {
        let list = store.channels().await?;
        *self.write() = list.into_iter().map(|c| (c.id.clone(), c)).collect();
        Ok(())
    }
    pub fn get(&self, id: &str) -> Option<ChannelRecord> {
        self.read().get(id).cloned()
    }
    pub fn by_phone_number_id(&self, pnid: &str) -> Option<ChannelRecord> {
        self.read()
            .values()
            .find(|c| c.phone_number_id == pnid)
            .cloned()
    }
    pub fn all(&self) -> Vec<ChannelRecord> {
        let mut v: Vec<ChannelRecord> = self.read().values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        v
    }
    pub fn set(&self, c: ChannelRecord) {
        self.write().insert(c.id.clone(), c);
    }
    pub fn remove(&self, id: &str) {
        self.write().remove(id);
        self.activity_mut().remove(id);
    }
    /// A signed webhook named the number at `at`.
    pub fn webhook_received(&self, id: &str, at: Timestamp) {
        let mut a = self.activity_mut();
        let e = a.entry(id.to_owned()).or_default();
        e.last_webhook_at = e.last_webhook_at.max(Some(at));
    }
    /// A send from the number failed at `at` (a retry or for good) with `message`.
    pub fn send_failed(&self, id: &str, at: Timestamp, message: String) {
        let mut a = self.activity_mut();
        let e = a.entry(id.to_owned()).or_default();
        if e.last_send_error.as_ref().is_none_or(|(t, _)| *t <= at) {
            e.last_send_error = Some((at, message));
        }
    }
    /// The last send error found in the store, unless a newer one is known.
    pub fn stored_send_error(&self, id: &str, found: Option<(Timestamp, String)>) {
        let mut a = self.activity_mut();
        let e = a.entry(id.to_owned()).or_default();
        e.stored_error_read = true;
        if let Some((at, message)) = found {
            if e.last_send_error.as_ref().is_none_or(|(t, _)| *t < at) {
                e.last_send_error = Some((at, message));
            }
        }
    }
    /// What the number's traffic last said.
    pub fn activity(&self, id: &str) -> ChannelActivity {
        self.activity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
    fn activity_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ChannelActivity>> {
        self.activity.write().unwrap_or_else(|e| e.into_inner())
    }
    /// The distinct app secrets of all channels (a webhook is signed with one of them).
    pub fn app_secrets(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().values().map(|c| c.app_secret.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ChannelRecord>> {
        self.by_id.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ChannelRecord>> {
        self.by_id.write().unwrap_or_else(|e| e.into_inner())
    }
}
