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
use switchboard_store::{ChannelRecord, Store};

/// Connected numbers, kept in memory (they change rarely) and written through to the store.
#[derive(Default)]
pub struct Channels {
    by_id: RwLock<HashMap<String, ChannelRecord>>,
}

impl Channels {
    pub async fn load(store: &Store) -> Result<Channels, switchboard_store::StoreError> {
        let list = store.channels().await?;
        let by_id = list.into_iter().map(|c| (c.id.clone(), c)).collect();
        Ok(Channels {
            by_id: RwLock::new(by_id),
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
