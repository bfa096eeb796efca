//! Ids that look like WhatsApp's: wamids, media ids, fbtrace ids, conversation ids.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::Rng as _;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_HEX: &[u8] = b"0123456789ABCDEF";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// Which way a message went; it changes a byte and the length of the random part of the wamid,
/// as in real ones.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direction {
    Outbound,
    Inbound,
}

/// A wamid in the real layout: base64 of a small protobuf-like record holding the customer's
/// number and a random uppercase hex id, e.g. `wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJ…AA=`.
pub(crate) fn wamid(customer_wa_id: &str, direction: Direction) -> String {
    let (kind, id_len) = match direction {
        Direction::Outbound => (0x11_u8, 18_usize),
        Direction::Inbound => (0x12_u8, 20_usize),
    };
    let number = customer_wa_id.as_bytes();
    let id = random_from(UPPER_HEX, id_len);
    let mut raw = Vec::with_capacity(number.len() + id.len() + 10);
    raw.extend_from_slice(&[0x1c, 0x18, u8::try_from(number.len()).unwrap_or(u8::MAX)]);
    raw.extend_from_slice(number);
    raw.extend_from_slice(&[0x15, 0x02, 0x00, kind, 0x18]);
    raw.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    raw.extend_from_slice(id.as_bytes());
    raw.push(0x00);
    format!("wamid.{}", STANDARD.encode(raw))
}

/// A Graph object id: 15–16 decimal digits.
pub(crate) fn graph_id() -> String {
    let mut rng = rand::rng();
    let first = char::from(b'1' + rng.random_range(0..9_u8));
    let rest = random_from(b"0123456789", 15);
    format!("{first}{rest}")
}

/// `fbtrace_id` of a Graph error.
pub(crate) fn fbtrace_id() -> String {
    random_from(ALPHANUMERIC, 27)
}

/// A random lowercase hex string (conversation ids, URL hashes).
pub(crate) fn hex_token(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A stable numeric id derived from a string (template ids), so a restarted simulator lists the
/// same templates under the same ids.
pub(crate) fn stable_numeric_id(seed: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut n = 0_u64;
    for b in &digest[..8] {
        n = (n << 8) | u64::from(*b);
    }
    format!("{}", 1_000_000_000_000_000 + n % 9_000_000_000_000_000)
}
