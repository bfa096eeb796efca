//! `X-Hub-Signature-256` verification.

use switchboard_channels::*;

const SECRET: &[u8] = b"app-secret-123";
const BODY: &[u8] = include_bytes!("../samples/text.json");

#[test]
fn valid_signature_is_accepted() {
    let header = sign(SECRET, BODY);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), "sha256=".len() + 64);
    assert_eq!(header, header.to_lowercase());
    assert_eq!(verify_signature(SECRET, BODY, Some(&header)), Ok(()));
}

#[test]
fn uppercase_hex_and_whitespace_are_accepted() {
    let header = sign(SECRET, BODY);
    let upper = format!("sha256={}", header["sha256=".len()..].to_uppercase());
    assert_eq!(verify_signature(SECRET, BODY, Some(&upper)), Ok(()));
    assert_eq!(
        verify_signature(SECRET, BODY, Some(&format!("  {header} "))),
        Ok(())
    );
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let header = sign(b"another-secret", BODY);
    assert_eq!(
        verify_signature(SECRET, BODY, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn tampered_body_is_a_mismatch() {
    let header = sign(SECRET, BODY);
    let mut tampered = BODY.to_vec();
    let i = tampered.iter().position(|&b| b == b'D').unwrap();
    tampered[i] = b'd';
    assert_eq!(
        verify_signature(SECRET, &tampered, Some(&header)),
        Err(SignatureError::Mismatch)
    );
    // Re-serialized JSON (same meaning, other bytes) does not verify either.
    let v: serde_json::Value = serde_json::from_slice(BODY).unwrap();
    let reserialized = serde_json::to_vec(&v).unwrap();
    assert_eq!(
        verify_signature(SECRET, &reserialized, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn missing_header() {
    assert_eq!(
        verify_signature(SECRET, BODY, None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_signature(SECRET, BODY, Some("   ")),
        Err(SignatureError::Missing)
    );
}

#[test]
fn malformed_headers() {
    let good = sign(SECRET, BODY);
    let hex = &good["sha256=".len()..];
    for bad in [
        hex.to_owned(),                     // no scheme
        format!("sha1={hex}"),              // wrong algorithm
        format!("sha256={}", &hex[..63]),   // too short
        format!("sha256={hex}00"),          // too long
        format!("sha256={}zz", &hex[..62]), // not hex
        "sha256=".to_owned(),               // empty digest
        format!("sha256={}é", &hex[..62]),  // non-ASCII
    ] {
        let got = verify_signature(SECRET, BODY, Some(&bad));
        assert!(
            matches!(got, Err(SignatureError::Malformed(_))),
            "{bad:?} gave {got:?}"
        );
        assert_eq!(got.unwrap_err().as_str(), "malformed");
    }
}

#[test]
fn an_empty_secret_accepts_nothing() {
    let header = sign(b"", BODY);
    assert_eq!(
        verify_signature(b"", BODY, Some(&header)),
        Err(SignatureError::EmptySecret)
    );
}
