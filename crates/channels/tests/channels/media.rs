//! Media limits and sha256 checks.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use switchboard_channels::media::{check_media, is_animated_webp, LimitError};
use switchboard_channels::*;

#[test]
fn limits_per_kind_and_type() {
    let cases = [
        (MediaKind::Image, "image/jpeg", 5_000_000),
        (MediaKind::Image, "image/png", 5_000_000),
        (MediaKind::Video, "video/mp4", 16_000_000),
        (MediaKind::Video, "video/3gpp", 16_000_000),
        (MediaKind::Audio, "audio/aac", 16_000_000),
        (MediaKind::Audio, "audio/amr", 16_000_000),
        (MediaKind::Audio, "audio/mpeg", 16_000_000),
        (MediaKind::Audio, "audio/mp4", 16_000_000),
        (MediaKind::Audio, "audio/ogg; codecs=opus", 16_000_000),
        (MediaKind::Document, "application/pdf", 100_000_000),
        (MediaKind::Document, "text/plain", 100_000_000),
        (MediaKind::Sticker, "image/webp", 500_000),
        (MediaKind::Image, "IMAGE/JPEG", 5_000_000),
    ];
    for (kind, mime, max) in cases {
        assert_eq!(media_limit(kind, mime), Ok(max), "{kind} {mime}");
    }
}

#[test]
fn refused_types_say_what_is_accepted() {
    let err = media_limit(MediaKind::Image, "image/gif").unwrap_err();
    assert_eq!(
        err.to_string(),
        "image/gif files cannot be sent as image on WhatsApp (accepted: image/jpeg, image/png)"
    );
    assert!(media_limit(MediaKind::Sticker, "image/png").is_err());
    assert!(media_limit(MediaKind::Video, "video/quicktime").is_err());
    assert!(media_limit(MediaKind::Audio, "audio/wav").is_err());
    assert!(media_limit(MediaKind::Document, "").is_err());
}

#[test]
fn sizes_are_checked_with_clear_messages() {
    let big = vec![0u8; 5_000_001];
    let err = check_media(MediaKind::Image, "image/jpeg", &big).unwrap_err();
    assert!(matches!(err, LimitError::TooLarge { .. }));
    assert_eq!(
        err.to_string(),
        "this image is 5.01 MB, more than WhatsApp's limit of 5 MB for images"
    );
    assert_eq!(
        check_media(MediaKind::Image, "image/jpeg", &big[..5_000_000]),
        Ok(())
    );
    assert_eq!(
        check_media(MediaKind::Image, "image/jpeg", &[]),
        Err(LimitError::Empty)
    );
    let video = vec![0u8; 17_250_000];
    assert_eq!(
        check_media(MediaKind::Video, "video/mp4", &video)
            .unwrap_err()
            .to_string(),
        "this video is 17.25 MB, more than WhatsApp's limit of 16 MB for videos"
    );
}

fn webp(animated: bool, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(30)];
    b[0..4].copy_from_slice(b"RIFF");
    b[8..12].copy_from_slice(b"WEBP");
    b[12..16].copy_from_slice(b"VP8X");
    b[20] = if animated { 0x02 } else { 0x00 };
    b
}

#[test]
fn sticker_limits_depend_on_animation() {
    assert!(is_animated_webp(&webp(true, 30)));
    assert!(!is_animated_webp(&webp(false, 30)));
    assert!(!is_animated_webp(b"RIFF"));
    assert_eq!(
        check_media(MediaKind::Sticker, "image/webp", &webp(false, 100_000)),
        Ok(())
    );
    let err = check_media(MediaKind::Sticker, "image/webp", &webp(false, 100_001)).unwrap_err();
    assert!(err.to_string().contains("static stickers"), "{err}");
    assert_eq!(
        check_media(MediaKind::Sticker, "image/webp", &webp(true, 500_000)),
        Ok(())
    );
    let err = check_media(MediaKind::Sticker, "image/webp", &webp(true, 500_001)).unwrap_err();
    assert!(err.to_string().contains("animated stickers"), "{err}");
}

#[test]
fn sha256_in_hex_or_base64() {
    let bytes = b"the media bytes";
    let digest = Sha256::digest(bytes);
    let hex_lower = hex::encode(digest);
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    let b64_nopad = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
    let b64_url = base64::engine::general_purpose::URL_SAFE.encode(digest);
    for expected in [
        hex_lower.clone(),
        hex_lower.to_uppercase(),
        b64.clone(),
        b64_nopad,
        b64_url,
        format!(" {b64}\n"),
    ] {
        assert_eq!(verify_sha256(bytes, &expected), Ok(()), "{expected}");
    }
    assert!(matches!(
        verify_sha256(b"other bytes", &b64),
        Err(DigestError::Mismatch { .. })
    ));
    assert!(matches!(
        verify_sha256(b"other bytes", &hex_lower),
        Err(DigestError::Mismatch { .. })
    ));
    assert_eq!(
        verify_sha256(bytes, "not a digest"),
        Err(DigestError::Malformed)
    );
    assert_eq!(verify_sha256(bytes, ""), Err(DigestError::Malformed));
    // base64 of something that is not 32 bytes.
    assert_eq!(verify_sha256(bytes, "YWJj"), Err(DigestError::Malformed));
}

#[test]
fn kinds_round_trip_their_wire_names() {
    for kind in MediaKind::ALL {
        assert_eq!(MediaKind::from_wire(kind.as_str()), Some(kind));
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::json!(kind.as_str())
        );
    }
    assert_eq!(MediaKind::from_wire("text"), None);
}
