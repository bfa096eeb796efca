//! The one rule for text Switchboard stores, from what WhatsApp documents and what the
//! database's indexes can hold (SQLite stores anything; PostgreSQL refuses NUL in text, an
//! index entry over about 2,700 bytes and a `tsvector` over 1 MB).
//!
//! - Text from outside loses NUL and the other control characters but `\n` and `\t`
//!   ([`clean`]); a one-line value (a name, a subject, a break reason, an id) loses them all
//!   ([`line`]).
//! - Agent and API input over its bound is refused with 422 by its endpoint; a customer's
//!   content is never refused: it is cleaned, and only what an index needs is bounded
//!   ([`key`], [`name`]). The raw payload of a message is kept as received (JSON escapes
//!   control characters, so it is always storable).
//! - The full-text index covers the first [`SEARCH_PREFIX_CHARS`] characters of a message
//!   (PostgreSQL migration 0008), so a text of any length is stored and found by its words.
//!
//! Pure functions: no I/O, never panics.

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// An outside id (a WhatsApp message id, a status value, a sender) longer than this is stored
/// by its hash (see [`key`]). WhatsApp's ids are about 60 bytes.
pub const KEY_MAX_BYTES: usize = 256;
/// A customer's profile name is cut to this many characters (it is indexed for contact search).
pub const NAME_MAX_CHARS: usize = 256;
/// Break reasons: how many may be configured, and how long each may be.
pub const BREAK_REASONS_MAX: usize = 50;
pub const BREAK_REASON_MAX_CHARS: usize = 100;
/// The full-text index covers this many first characters of a message body (mirrored by the
/// PostgreSQL migration `0008_bounded_search.sql`).
pub const SEARCH_PREFIX_CHARS: usize = 100_000;

/// Without NUL and the other control characters, but `\n` and `\t`.
pub fn clean(s: &str) -> Cow<'_, str> {
    strip(s, |c| c.is_control() && c != '\n' && c != '\t')
}

/// Without any control character (for one-line values).
pub fn line(s: &str) -> Cow<'_, str> {
    strip(s, char::is_control)
}

fn strip(s: &str, drop: impl Fn(char) -> bool) -> Cow<'_, str> {
    if s.chars().any(&drop) {
        Cow::Owned(s.chars().filter(|c| !drop(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// A customer's name as stored: one line, at most [`NAME_MAX_CHARS`] characters.
pub fn name(s: &str) -> String {
    line(s).trim().chars().take(NAME_MAX_CHARS).collect()
}

/// An outside id as an index key: itself when it is one line of at most [`KEY_MAX_BYTES`],
/// otherwise `sha256:<hex>` of its bytes. The same id always gives the same key, so a
/// redelivered message is still found; the raw payload keeps the id as received.
pub fn key(s: &str) -> Cow<'_, str> {
    if s.len() <= KEY_MAX_BYTES && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(s.as_bytes()))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_keeps_lines_and_tabs_only() {
        assert_eq!(clean("a\u{0}b\nc\td\r\u{7f}\u{85}e"), "ab\nc\tde");
        assert!(matches!(clean("plain ünïcode"), Cow::Borrowed(_)));
        assert_eq!(line("a\nb\tc\u{0}"), "abc");
    }

    #[test]
    fn long_or_odd_ids_become_stable_hashes() {
        assert_eq!(key("wamid.ABC"), "wamid.ABC");
        let long = "x".repeat(KEY_MAX_BYTES + 1);
        let k = key(&long);
        assert_eq!(k, key(&long), "the same id, the same key");
        assert!(k.starts_with("sha256:") && k.len() == 7 + 64);
        assert_ne!(key(&format!("{long}y")), k);
        assert!(key("id\u{0}").starts_with("sha256:"));
    }

    #[test]
    fn names_are_one_bounded_line() {
        assert_eq!(name(" Ann\u{0}\n "), "Ann");
        assert_eq!(name(&"é".repeat(1000)).chars().count(), NAME_MAX_CHARS);
    }
}
