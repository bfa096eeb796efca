//! Opaque, time-sortable ids: `<prefix>_<12 hex ms><6 hex counter><8 hex random>`.
//!
//! Sorting message ids sorts messages by creation, which the transcript paging relies on.

use std::sync::atomic::{AtomicU32, Ordering};
use switchboard_domain::Timestamp;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn new_id(prefix: &str, now: Timestamp) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
    let r: u32 = rand::random();
    format!("{prefix}_{:012x}{n:06x}{r:08x}", now.0.max(0))
}

/// A random secret token (256 bits, hex).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The id of the conversation between one customer and one channel: stable, so every node
/// derives the same id without a lookup. A message without a channel hashes a byte that no
/// channel id (UTF-8 text) can contain, so it never shares a conversation with a channel's.
pub fn conversation_id(channel: Option<&str>, wa_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    match channel {
        Some(c) => h.update(c.as_bytes()),
        None => h.update([0xffu8]),
    }
    h.update([0u8]);
    h.update(wa_id.as_bytes());
    let d = h.finalize();
    format!("cv_{}", hex::encode(&d[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ids_sort_by_time_and_are_unique() {
        let a = new_id("m", Timestamp(1_000));
        let b = new_id("m", Timestamp(1_000));
        let c = new_id("m", Timestamp(2_000));
        assert_ne!(a, b);
        assert!(a < c && b < c);
    }
    #[test]
    fn conversation_ids_are_stable_per_channel_and_customer() {
        // Stored rows carry these ids: the derivation must never change for a channel's
        // conversations (SHA-256 of "ch1", NUL, "4915", first 12 bytes).
        assert_eq!(
            conversation_id(Some("ch1"), "4915"),
            "cv_bc85afb6554aa7ab6e83358e"
        );
        assert_ne!(
            conversation_id(Some("ch1"), "4915"),
            conversation_id(Some("ch2"), "4915")
        );
        assert_ne!(
            conversation_id(Some("ch1"), "4915"),
            conversation_id(Some("ch1"), "49150")
        );
        assert_ne!(
            conversation_id(None, "4915"),
            conversation_id(Some(""), "4915")
        );
    }
}
