//! Media of WhatsApp messages: the blob store, and the media service that downloads what
//! customers send.
//!
//! - [`Blobs`]: a directory (`media.dir`) of content-addressed files named by the lowercase hex
//!   sha256 of their bytes, each written to a temporary file, synced, then renamed into place, so
//!   a blob either exists whole or not at all. Created on demand.
//! - [`run`]: the media service. Every inbound image, video, audio, document or sticker is stored
//!   with `payload.media.state = "pending"` (mirrored in the store's `media_state` column); the
//!   service finds those (also after a restart), fetches each through the Graph API (lookup,
//!   authenticated download, sha256 check), enforces WhatsApp's type and size limits, stores the
//!   blob and then updates the message through the core, so agents get `message.updated` live.
//!   Transient failures retry with backoff; permanent ones (sha256 mismatch, over the limit,
//!   unknown media) mark the media `failed` with the reason and keep the message.
//!
//! A message's media payload is `{"state": "pending"|"stored"|"failed", "blob", "mime_type",
//! "size", "filename", "error"}`. This module never changes a message's status or text, and a
//! message never points at a blob that is not durable.

use crate::runtime::clock::Clock;
use crate::runtime::core::Attach;
use crate::runtime::core::Core;
use crate::runtime::locks::KeyedLocks;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use switchboard_channels::media::{check_media, media_limit, HumanSize, LimitError, MEDIA_MAX};
use switchboard_channels::send::{ErrorOrigin, SendError};
use switchboard_channels::MediaKind;
use switchboard_domain::Timestamp;
use switchboard_store::Store;
use switchboard_store::{MessageRecord, MessageStatusUpdate};
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// The media service: downloads customers' media into the blob store.
#[derive(Clone)]
pub struct MediaService {
    pub core: Core,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub locks: Arc<KeyedLocks>,
    pub channels: Arc<crate::services::whatsapp::Channels>,
    pub graph: switchboard_channels::GraphClient,
    pub blobs: Blobs,
    /// Woken when the webhook stored customer media.
    pub media_wake: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
}

/// Messages read from the store per page.
const PAGE: i64 = 200;
/// Downloads at once.
const PARALLEL: usize = 4;
/// The longest wait between two attempts of one download.
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;
/// WhatsApp keeps inbound media for 7 days; after that a download cannot succeed.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;
/// Temporary files older than this are leftovers of a crash.
const STALE_TEMP: Duration = Duration::from_secs(3600);
const TEMP_PREFIX: &str = ".tmp-";

// ------------------------------------------------------------------------------ blob store

/// The content-addressed blob directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: Arc<Path>,
}

impl Blobs {
    pub fn new(dir: impl Into<PathBuf>) -> Blobs {
        Blobs {
            dir: Arc::from(dir.into()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob `sha` lives; `None` unless `sha` is 64 lowercase hex digits (so an id from
    /// a payload can never name another file).
    pub fn path(&self, sha: &str) -> Option<PathBuf> {
        let ok = sha.len() == 64
            && sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| self.dir.join(sha))
    }

    /// Starts writing a blob whose bytes arrive piece by piece.
    pub async fn writer(&self) -> io::Result<BlobWriter> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let name = format!("{TEMP_PREFIX}{:016x}", rand::rng().random::<u64>());
        let temp = self.dir.join(name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await?;
        Ok(BlobWriter {
            blobs: self.clone(),
            file: Some(file),
            temp,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Stores `bytes`; returns their sha256 (hex) and whether the blob is new.
    pub async fn put(&self, bytes: &[u8]) -> io::Result<(String, bool)> {
        let mut w = self.writer().await?;
        w.write(bytes).await?;
        let done = w.finish().await?;
        Ok((done.sha256, done.created))
    }

    /// The whole blob.
    pub async fn read(&self, sha: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(sha).ok_or_else(invalid_name)?).await
    }

    /// The blob, opened for reading.
    pub async fn open(&self, sha: &str) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path(sha).ok_or_else(invalid_name)?).await
    }

    /// Deletes a blob (e.g. one written for a request that was then refused).
    pub async fn remove(&self, sha: &str) {
        if let Some(p) = self.path(sha) {
            if let Err(e) = tokio::fs::remove_file(&p).await {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, blob = sha, "cannot delete a blob");
                }
            }
        }
    }

    /// Deletes temporary files a crash left behind.
    pub async fn clean_temp(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        while let Ok(Some(e)) = entries.next_entry().await {
            let stale = e
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP);
            if stale && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
}

/// The key of [`MediaService::locks`] held while a blob is stored and the message naming it
/// committed, so a blob deleted after a refused request is never one another message uses.
pub fn lock_key(sha: &str) -> crate::runtime::locks::LockKey {
    crate::runtime::locks::LockKey::Blob(sha.to_owned())
}

fn invalid_name() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a blob name")
}

/// A blob being written: bytes go to a temporary file and into the hash. Dropped without
/// [`finish`](BlobWriter::finish), the temporary file is deleted and nothing is stored.
#[derive(Debug)]
pub struct BlobWriter {
    blobs: Blobs,
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    hasher: Sha256,
    size: u64,
}

/// A finished blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Lowercase hex sha256, also its file name.
    pub sha256: String,
    pub size: u64,
    /// It was not stored before.
    pub created: bool,
}

impl BlobWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(invalid_name)?;
        file.write_all(bytes).await?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The sha256 (hex) of the bytes written so far: the name [`finish`](Self::finish) gives.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Makes the blob durable under its sha256 (an identical blob already stored is kept).
    pub async fn finish(mut self) -> io::Result<StoredBlob> {
        let mut file = self.file.take().ok_or_else(invalid_name)?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let target = self.blobs.dir.join(&sha256);
        let created = !tokio::fs::try_exists(&target).await.unwrap_or(false);
        if created {
            tokio::fs::rename(&self.temp, &target).await?;
            // The rename itself must survive a crash: the message will point at this name.
            if let Ok(dir) = tokio::fs::File::open(&*self.blobs.dir).await {
                if let Err(e) = dir.sync_all().await {
                    tracing::warn!(error = %e, "cannot sync the media directory");
                }
            }
        } else {
            let _ = tokio::fs::remove_file(&self.temp).await;
        }
        Ok(StoredBlob {
            sha256,
            size: self.size,
            created,
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

// ------------------------------------------------------------------------------ payloads

/// `payload.media` of a message whose media is not downloaded yet.
pub fn pending(mime_type: Option<&str>, filename: Option<&str>) -> Value {
    json!({"state": "pending", "mime_type": mime_type, "filename": filename})
}

/// `payload.media` of a message whose media is in the blob store.
pub fn stored(blob: &str, mime_type: &str, size: u64, filename: Option<&str>) -> Value {
    json!({"state": "stored", "blob": blob, "mime_type": mime_type, "size": size,
           "filename": filename})
}

/// What the outbox needs to upload a stored blob before sending its message (the `upload`
/// field of the outbox request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub blob: String,
    pub mime_type: String,
    pub filename: Option<String>,
}

/// The media kind an agent's file is sent as: the kind whose accepted types include `mime`;
/// other `image/*`, `video/*` and `audio/*` types keep their kind (and are then refused, naming
/// what is accepted); anything else is a document.
pub fn kind_for(mime: &str) -> MediaKind {
    let essence = switchboard_channels::media::essence(mime);
    for k in [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Sticker,
    ] {
        if k.accepted_mime_types().contains(&essence.as_str()) {
            return k;
        }
    }
    match essence.split('/').next() {
        Some("image") => MediaKind::Image,
        Some("video") => MediaKind::Video,
        Some("audio") => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

// ------------------------------------------------------------------------------ the service

/// One download's outcome.
enum Outcome {
    /// Stored, failed for good, or no longer pending: nothing more to do.
    Done,
    /// Try again later.
    Retry(String),
}

struct Backoff {
    attempts: u32,
    next_at: Timestamp,
}

/// The media service: runs until shutdown. Woken by [`MediaService::media_wake`] when the webhook
/// stored customer media, and by its own retry deadlines.
pub async fn run(state: MediaService) {
    let mut shutdown = state.shutdown.clone();
    state.blobs.clean_temp().await;
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let pass = pass(&state, &mut backoff);
        let next_retry = tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            next = pass => next,
        };
        let retry_wait = next_retry.map(|t| state.clock.sleep_until(t));
        tokio::select! {
            _ = crate::runtime::clock::stopped(&mut shutdown) => break,
            _ = state.media_wake.notified() => {}
            _ = async { match retry_wait { Some(f) => f.await, None => std::future::pending().await } } => {}
        }
    }
    tracing::info!("media service stopped");
}

/// Downloads every pending media that is due; returns when the next retry is due, if any.
async fn pass(state: &MediaService, backoff: &mut HashMap<String, Backoff>) -> Option<Timestamp> {
    let now = state.clock.now();
    let mut after: Option<String> = None;
    let mut seen = HashSet::new();
    let mut next_retry: Option<Timestamp> = None;
    loop {
        let page = match state.store.pending_media(after.as_deref(), PAGE).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "media: cannot read pending downloads");
                // Try again shortly rather than waiting for the next webhook.
                return Some(Timestamp(now.0 + 5000));
            }
        };
        let full = page.len() as i64 == PAGE;
        after = page.last().map(|m| m.id.clone());
        let mut set = JoinSet::new();
        let mut results = Vec::new();
        for m in page {
            seen.insert(m.id.clone());
            if let Some(b) = backoff.get(&m.id).filter(|b| b.next_at > now) {
                next_retry = Some(next_retry.map_or(b.next_at, |t| t.min(b.next_at)));
                continue;
            }
            while set.len() >= PARALLEL {
                if let Some(Ok(r)) = set.join_next().await {
                    results.push(r);
                }
            }
            let state = state.clone();
            set.spawn(async move {
                let id = m.id.clone();
                (id, download(&state, m).await)
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                results.push(r);
            }
        }
        for (id, outcome) in results {
            match outcome {
                Outcome::Done => {
                    backoff.remove(&id);
                }
                Outcome::Retry(reason) => {
                    let b = backoff.entry(id.clone()).or_insert(Backoff {
                        attempts: 0,
                        next_at: now,
                    });
                    b.attempts += 1;
                    let wait = 1000i64
                        .saturating_mul(1i64 << b.attempts.min(16))
                        .min(MAX_BACKOFF_MS);
                    b.next_at = Timestamp(state.clock.now().0 + wait);
                    tracing::warn!(message = %id, attempts = b.attempts, backoff_ms = wait, error = %reason, "media: download failed, will retry");
                    next_retry = Some(next_retry.map_or(b.next_at, |t| t.min(b.next_at)));
                }
            }
        }
        if !full {
            break;
        }
    }
    backoff.retain(|id, _| seen.contains(id));
    next_retry
}

/// A permanent failure, as stored in `payload.media.error`.
fn failure(code: &str, message: impl Into<String>) -> Value {
    json!({"code": code, "message": message.into()})
}

/// Fetches one message's media and records the outcome on the message.
#[tracing::instrument(name = "media.download", skip_all, fields(message = %m.id))]
async fn download(state: &MediaService, m: MessageRecord) -> Outcome {
    let content = m.payload.get("content").cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        content
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let (media_id, expected, filename) = (text("id"), text("sha256"), text("filename"));
    let mut mime = text("mime_type");
    let Some(kind) = MediaKind::from_wire(&m.kind) else {
        return finish(
            state,
            &m,
            Err(failure("not_media", "the message carries no media")),
        )
        .await;
    };
    let Some(media_id) = media_id else {
        return finish(
            state,
            &m,
            Err(failure("no_media_id", "the message names no media id")),
        )
        .await;
    };
    // What WhatsApp allows for this kind bounds the download itself.
    let cap = match mime.as_deref().map(|t| media_limit(kind, t)) {
        Some(Ok(max)) => max,
        Some(Err(e)) => {
            return finish(state, &m, Err(failure("unsupported_type", e.to_string()))).await
        }
        None => kind
            .accepted_mime_types()
            .first()
            .and_then(|t| media_limit(kind, t).ok())
            .unwrap_or(MEDIA_MAX),
    };
    let channel = match state.store.conversation(&m.conversation_id).await {
        Ok(c) => c
            .and_then(|c| c.channel_id)
            .and_then(|id| state.channels.get(&id)),
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let Some(channel) = channel else {
        return finish(
            state,
            &m,
            Err(failure(
                "channel_removed",
                "the WhatsApp number this media came through is no longer connected",
            )),
        )
        .await;
    };
    let graph = state.graph.clone().with_max_download(cap);
    let fetched = graph
        .fetch_media(&media_id, &channel.access_token, expected.as_deref())
        .await;
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) if e.class.is_retryable() => {
            if state.clock.now().millis_since(m.created_at) > KEEP_MS {
                return finish(
                    state,
                    &m,
                    Err(failure(
                        "expired",
                        format!("WhatsApp no longer keeps this media ({})", e.describe()),
                    )),
                )
                .await;
            }
            return Outcome::Retry(e.describe());
        }
        Err(e) => return finish(state, &m, Err(fetch_failure(kind, cap, &e))).await,
    };
    if mime.is_none() {
        mime = fetched.info.mime_type.clone();
    }
    let mime = mime.unwrap_or_else(|| "application/octet-stream".to_owned());
    let mime = switchboard_channels::media::essence(&mime);
    if let Err(e) = check_media(kind, &mime, &fetched.bytes) {
        return finish(state, &m, Err(limit_failure(&e))).await;
    }
    let sha = hex::encode(Sha256::digest(&fetched.bytes));
    let work = async {
        if let Err(e) = state.blobs.put(&fetched.bytes).await {
            return Outcome::Retry(format!("cannot write the blob: {e}"));
        }
        let size = fetched.bytes.len() as u64;
        let media = stored(&sha, &mime, size, filename.as_deref());
        finish(state, &m, Ok(media)).await
    };
    state.locks.with(lock_key(&sha), work).await
}

fn limit_failure(e: &LimitError) -> Value {
    let code = match e {
        LimitError::UnsupportedType { .. } => "unsupported_type",
        LimitError::TooLarge { .. } => "too_large",
        LimitError::Empty => "empty",
    };
    failure(code, e.to_string())
}

fn fetch_failure(kind: MediaKind, cap: u64, e: &SendError) -> Value {
    let mut v = match e.origin {
        ErrorOrigin::Checksum => failure(
            "checksum_mismatch",
            format!(
                "the downloaded file does not match its sha256 ({})",
                e.message
            ),
        ),
        ErrorOrigin::TooLarge => failure(
            "too_large",
            format!(
                "this {kind} is larger than WhatsApp's limit of {} for it",
                HumanSize(cap)
            ),
        ),
        _ => failure("download_failed", e.describe()),
    };
    if let Some(code) = e.code {
        v["graph_code"] = json!(code);
    }
    v
}

/// Stores the outcome in the message's payload through the core (`message.updated`).
async fn finish(state: &MediaService, m: &MessageRecord, result: Result<Value, Value>) -> Outcome {
    let mut payload = m.payload.clone();
    let previous = payload.get("media").cloned().unwrap_or(Value::Null);
    let media = match result {
        Ok(media) => media,
        Err(error) => {
            tracing::warn!(message = %m.id, error = %error, "media: download failed for good");
            json!({"state": "failed", "mime_type": previous.get("mime_type"),
                   "filename": previous.get("filename"), "error": error})
        }
    };
    if !payload.is_object() {
        payload = json!({});
    }
    payload["media"] = media;
    let update = MessageStatusUpdate {
        id: m.id.clone(),
        // A media update changes neither the status nor the error of the message itself.
        status: m.status.clone(),
        error: m.error.clone(),
        wa_message_id: None,
        payload: Some(payload),
        updated_at: state.clock.now(),
    };
    let attach = Attach {
        message_updates: vec![(update, m.interaction_id.clone())],
        ..Attach::default()
    };
    match state.core.store(attach).await {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Retry(format!("cannot store the outcome: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn blobs_are_content_addressed_and_written_whole() {
        let dir = std::env::temp_dir().join(format!("sb-blobs-{:016x}", rand::random::<u64>()));
        let blobs = Blobs::new(dir.join("media"));
        let (sha, created) = blobs.put(b"hello").await.unwrap();
        assert!(created);
        assert_eq!(sha, hex::encode(Sha256::digest(b"hello")));
        assert_eq!(blobs.read(&sha).await.unwrap(), b"hello");
        let (again, created) = blobs.put(b"hello").await.unwrap();
        assert_eq!((again.as_str(), created), (sha.as_str(), false));
        // An abandoned writer leaves nothing behind.
        let mut w = blobs.writer().await.unwrap();
        w.write(b"partial").await.unwrap();
        drop(w);
        let names: Vec<String> = std::fs::read_dir(blobs.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![sha.clone()]);
        assert!(blobs.path("../etc/passwd").is_none());
        assert!(blobs.path(&sha.to_uppercase()).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn agents_files_get_a_kind() {
        assert_eq!(kind_for("image/png"), MediaKind::Image);
        assert_eq!(kind_for("image/gif"), MediaKind::Image);
        assert_eq!(kind_for("image/webp"), MediaKind::Sticker);
        assert_eq!(kind_for("audio/ogg; codecs=opus"), MediaKind::Audio);
        assert_eq!(kind_for("video/mp4"), MediaKind::Video);
        assert_eq!(kind_for("application/pdf"), MediaKind::Document);
    }
}
