//! Webhook authenticity: the `X-Hub-Signature-256` check of every POST and the GET subscription
//! handshake.
//!
//! Meta signs each webhook POST with `sha256=<hex HMAC-SHA256(app_secret, raw body)>`. The check
//! runs over the raw bytes exactly as received (never over re-serialized JSON) and compares in
//! constant time. This module never parses the body and never logs the secret or the digest.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header Meta puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Why a webhook POST is not accepted as coming from Meta. Every variant means "answer 401,
/// store nothing"; they are distinct only for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No app secret is configured: nothing can be verified, so nothing is accepted.
    #[error("no app secret is configured for this channel")]
    EmptySecret,
    /// The request has no `X-Hub-Signature-256` header.
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    /// The header is present but is not `sha256=` followed by 64 hexadecimal digits.
    #[error("the X-Hub-Signature-256 header is malformed: {0}")]
    Malformed(&'static str),
    /// Well-formed, but not the HMAC of this body under this secret.
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// A short stable label for metrics and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            SignatureError::EmptySecret => "empty_secret",
            SignatureError::Missing => "missing",
            SignatureError::Malformed(_) => "malformed",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against the HMAC-SHA256 of
/// `raw_body` keyed with `app_secret`. Accepts lower- or uppercase hex and surrounding
/// whitespace; the comparison is constant-time (`hmac`'s `verify_slice`).
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    if app_secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let header = header.ok_or(SignatureError::Missing)?.trim();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let (scheme, digest) = header
        .split_once('=')
        .ok_or(SignatureError::Malformed("expected sha256=<hex>"))?;
    if !scheme.trim().eq_ignore_ascii_case("sha256") {
        return Err(SignatureError::Malformed("the algorithm is not sha256"));
    }
    let digest = digest.trim();
    if digest.len() != 64 {
        return Err(SignatureError::Malformed("the digest is not 64 hex digits"));
    }
    let expected = hex::decode(digest)
        .map_err(|_| SignatureError::Malformed("the digest is not hexadecimal"))?;
    let mut mac = new_mac(app_secret);
    mac.update(raw_body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=<lowercase hex>`.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac(app_secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (long keys are hashed, short ones padded), so this
    // constructor cannot fail; the fallback only exists to avoid a panic path.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
    }
}

/// The GET subscription handshake: `hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`.
/// Returns the challenge to echo (as `text/plain`, status 200) when the mode is `subscribe` and
/// the token equals `expected_token` (compared in constant time); `None` means "answer 403".
pub fn verify_subscription<'a>(
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &str,
) -> Option<&'a str> {
    if mode != Some("subscribe") || expected_token.is_empty() {
        return None;
    }
    let token = verify_token?;
    let challenge = challenge?;
    if constant_time_eq(token.as_bytes(), expected_token.as_bytes()) {
        Some(challenge)
    } else {
        None
    }
}

/// Compares through HMAC so neither length nor content leak through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let key = b"switchboard-verify-token-compare";
    let mut mac = new_mac(key);
    mac.update(b);
    let tag = mac.finalize().into_bytes();
    let mut mac = new_mac(key);
    mac.update(a);
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn subscription_handshake() {
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("tok"), Some("123"), "tok"),
            Some("123")
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("bad"), Some("123"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("unsubscribe"), Some("tok"), Some("123"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), None, Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some(""), Some("1"), ""),
            None
        );
    }
}
