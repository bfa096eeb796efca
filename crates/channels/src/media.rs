//! WhatsApp media rules that need no network: the kinds of media, their accepted MIME types and
//! size limits, and the sha256 check of downloaded bytes.
//!
//! Limits are WhatsApp's (image 5 MB, video and audio 16 MB, document 100 MB, sticker 100 KB
//! static / 500 KB animated). They are applied with decimal megabytes (5 MB = 5,000,000 bytes) so
//! a file we accept is never one Meta refuses. This module never touches the network or disk.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const KB: u64 = 1_000;
const MB: u64 = 1_000_000;

/// The media message types of WhatsApp, named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    /// Every kind, in a stable order.
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Sticker,
    ];

    /// The wire name (`"image"`, `"video"`, …), also the key of the media object in a message.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// The kind named `name` on the wire, if it is a media kind.
    pub fn from_wire(name: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether WhatsApp accepts a caption on this kind (image, video, document).
    pub fn takes_caption(self) -> bool {
        matches!(
            self,
            MediaKind::Image | MediaKind::Video | MediaKind::Document
        )
    }

    /// The MIME types WhatsApp accepts for this kind; empty for documents, which take any type.
    pub fn accepted_mime_types(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => &["image/jpeg", "image/png"],
            MediaKind::Video => &["video/mp4", "video/3gpp"],
            MediaKind::Audio => &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            MediaKind::Document => &[],
            MediaKind::Sticker => &["image/webp"],
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest static sticker.
pub const STICKER_STATIC_MAX: u64 = 100 * KB;
/// Largest animated sticker.
pub const STICKER_ANIMATED_MAX: u64 = 500 * KB;
/// Largest media of any kind (documents).
pub const MEDIA_MAX: u64 = 100 * MB;

/// Why a file cannot be sent as a given kind of WhatsApp media. The messages are written for an
/// agent to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{mime} files cannot be sent as {kind} on WhatsApp (accepted: {accepted})")]
    UnsupportedType {
        kind: MediaKind,
        mime: String,
        accepted: String,
    },
    #[error("this {kind} is {size}, more than WhatsApp's limit of {max} for {what}")]
    TooLarge {
        kind: MediaKind,
        what: &'static str,
        size: HumanSize,
        max: HumanSize,
    },
    #[error("the file is empty")]
    Empty,
}

/// A byte count shown the way people read it (`4.2 MB`, `120 KB`, `512 bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanSize(pub u64);

impl fmt::Display for HumanSize {
    /// Rounded up, so a size over a limit never reads as equal to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= MB {
            let hundredths = n.div_ceil(MB / 100);
            let (whole, frac) = (hundredths / 100, hundredths % 100);
            let (tenths, rest) = (frac / 10, frac % 10);
            match (frac, rest) {
                (0, _) => write!(f, "{whole} MB"),
                (_, 0) => write!(f, "{whole}.{tenths} MB"),
                _ => write!(f, "{whole}.{frac:02} MB"),
            }
        } else if n >= KB {
            write!(f, "{} KB", n.div_ceil(KB))
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// `type/subtype` in lowercase, without parameters (`audio/ogg; codecs=opus` -> `audio/ogg`).
pub fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The largest file WhatsApp accepts as `kind` with MIME type `mime`, or why that type is not
/// accepted at all. Stickers get the animated limit here; [`check_media`] looks at the bytes and
/// applies the static one when the sticker is not animated.
pub fn media_limit(kind: MediaKind, mime: &str) -> Result<u64, LimitError> {
    let mime = essence(mime);
    let accepted = kind.accepted_mime_types();
    let ok = match kind {
        // WhatsApp takes documents of any type; a MIME type must still be given.
        MediaKind::Document => mime.contains('/'),
        _ => accepted.contains(&mime.as_str()),
    };
    if !ok {
        return Err(LimitError::UnsupportedType {
            kind,
            mime: if mime.is_empty() {
                "untyped".to_owned()
            } else {
                mime
            },
            accepted: if accepted.is_empty() {
                "any type/subtype".to_owned()
            } else {
                accepted.join(", ")
            },
        });
    }
    Ok(match kind {
        MediaKind::Image => 5 * MB,
        MediaKind::Video | MediaKind::Audio => 16 * MB,
        MediaKind::Document => MEDIA_MAX,
        MediaKind::Sticker => STICKER_ANIMATED_MAX,
    })
}

/// Checks a whole file against WhatsApp's rules for `kind`: accepted MIME type, not empty, and
/// within the size limit (for stickers: 100 KB, or 500 KB when the WebP is animated).
pub fn check_media(kind: MediaKind, mime: &str, bytes: &[u8]) -> Result<(), LimitError> {
    let mut max = media_limit(kind, mime)?;
    let mut what = match kind {
        MediaKind::Image => "images",
        MediaKind::Video => "videos",
        MediaKind::Audio => "audio",
        MediaKind::Document => "documents",
        MediaKind::Sticker => "animated stickers",
    };
    if kind == MediaKind::Sticker && !is_animated_webp(bytes) {
        max = STICKER_STATIC_MAX;
        what = "static stickers";
    }
    if bytes.is_empty() {
        return Err(LimitError::Empty);
    }
    let size = bytes.len() as u64;
    if size > max {
        return Err(LimitError::TooLarge {
            kind,
            what,
            size: HumanSize(size),
            max: HumanSize(max),
        });
    }
    Ok(())
}

/// Whether `bytes` is an extended WebP (`RIFF….WEBPVP8X`) with the animation flag set.
pub fn is_animated_webp(bytes: &[u8]) -> bool {
    bytes.len() > 20
        && &bytes[0..4] == b"RIFF"
        && &bytes[8..12] == b"WEBP"
        && &bytes[12..16] == b"VP8X"
        && bytes[20] & 0x02 != 0
}

/// Why downloaded bytes were not accepted against a published sha256.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("the expected sha256 is neither 64 hex digits nor base64 of 32 bytes")]
    Malformed,
    #[error("sha256 mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: String, actual: String },
}

/// Verifies `bytes` against `expected`, a sha256 digest given either as hex (lower or upper
/// case, as media lookups may return it) or as base64 (standard or URL-safe, padded or not, as
/// webhooks carry it).
pub fn verify_sha256(bytes: &[u8], expected: &str) -> Result<(), DigestError> {
    let want = decode_digest(expected).ok_or(DigestError::Malformed)?;
    let got = Sha256::digest(bytes);
    // Not a secret: a plain comparison is fine here.
    if got.as_slice() == want.as_slice() {
        Ok(())
    } else {
        Err(DigestError::Mismatch {
            expected: expected.trim().to_owned(),
            actual: hex::encode(got),
        })
    }
}

fn decode_digest(expected: &str) -> Option<Vec<u8>> {
    let s = expected.trim();
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).ok();
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(s).ok())
        .find(|d| d.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(HumanSize(5 * MB).to_string(), "5 MB");
        assert_eq!(HumanSize(17_250_000).to_string(), "17.25 MB");
        assert_eq!(HumanSize(17_200_000).to_string(), "17.2 MB");
        assert_eq!(HumanSize(5_000_001).to_string(), "5.01 MB");
        assert_eq!(HumanSize(120_500).to_string(), "121 KB");
        assert_eq!(HumanSize(12).to_string(), "12 bytes");
    }

    #[test]
    fn mime_essence() {
        assert_eq!(essence(" Audio/OGG; codecs=opus"), "audio/ogg");
    }
}
