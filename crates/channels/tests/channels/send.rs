//! Outbound bodies and error classification (no network).

use serde_json::json;
use switchboard_channels::send::{OutboundError, CAPTION_MAX_CHARS, TEXT_MAX_CHARS};
use switchboard_channels::*;

const TO: &str = "16315551234";

#[test]
fn text_body() {
    let m = OutboundMessage::Text {
        body: "Hello".into(),
        preview_url: false,
    };
    assert_eq!(
        m.to_json(TO, None),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "text", "text": {"body": "Hello"}})
    );
    let m = OutboundMessage::Text {
        body: "See https://example.com".into(),
        preview_url: true,
    };
    assert_eq!(
        m.to_json(TO, Some("wamid.THEIRS")),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "text", "text": {"body": "See https://example.com", "preview_url": true},
               "context": {"message_id": "wamid.THEIRS"}})
    );
}

#[test]
fn media_bodies() {
    let image = OutboundMessage::Media {
        kind: MediaKind::Image,
        source: MediaSource::Id("1234".into()),
        caption: Some("Your receipt".into()),
        filename: None,
    };
    assert_eq!(
        image.to_json(TO, None),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "image", "image": {"id": "1234", "caption": "Your receipt"}})
    );
    let doc = OutboundMessage::Media {
        kind: MediaKind::Document,
        source: MediaSource::Link("https://example.com/a.pdf".into()),
        caption: Some("Contract".into()),
        filename: Some("contract.pdf".into()),
    };
    assert_eq!(
        doc.to_json(TO, Some("wamid.Q")),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "document",
               "document": {"link": "https://example.com/a.pdf", "caption": "Contract", "filename": "contract.pdf"},
               "context": {"message_id": "wamid.Q"}})
    );
    // No caption on audio or stickers, no file name but on documents: left out of the body.
    for kind in [MediaKind::Audio, MediaKind::Sticker, MediaKind::Video] {
        let m = OutboundMessage::Media {
            kind,
            source: MediaSource::Id("9".into()),
            caption: Some("c".into()),
            filename: Some("f".into()),
        };
        let body = m.to_json(TO, None);
        assert_eq!(body["type"], kind.as_str());
        assert_eq!(body[kind.as_str()]["id"], "9");
        assert_eq!(
            body[kind.as_str()].get("caption").is_some(),
            kind.takes_caption()
        );
        assert!(body[kind.as_str()].get("filename").is_none());
    }
}

#[test]
fn reaction_body() {
    let m = OutboundMessage::Reaction {
        message_id: "wamid.THEIRS".into(),
        emoji: "👍".into(),
    };
    assert_eq!(
        m.to_json(TO, Some("ignored")),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "reaction", "reaction": {"message_id": "wamid.THEIRS", "emoji": "👍"}})
    );
    let remove = OutboundMessage::Reaction {
        message_id: "wamid.THEIRS".into(),
        emoji: String::new(),
    };
    assert_eq!(remove.to_json(TO, None)["reaction"]["emoji"], "");
    assert_eq!(remove.validate(), Ok(()));
}

#[test]
fn template_body() {
    let components = json!([
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/h.png"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Kerry"},
                                        {"type": "currency", "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000}},
                                        {"type": "date_time", "date_time": {"fallback_value": "June 9"}}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "YES"}]},
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "order/42"}]}
    ]);
    let m = OutboundMessage::Template {
        name: "appointment_reminder".into(),
        language: "en_US".into(),
        components: components.clone(),
    };
    assert_eq!(
        m.to_json(TO, None),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
               "type": "template",
               "template": {"name": "appointment_reminder", "language": {"code": "en_US"},
                            "components": components}})
    );
    let bare = OutboundMessage::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        components: json!([]),
    };
    assert_eq!(
        bare.to_json(TO, None)["template"],
        json!({"name": "hello_world", "language": {"code": "en_US"}})
    );
}

#[test]
fn mark_read_body() {
    let m = OutboundMessage::MarkRead {
        message_id: "wamid.THEIRS".into(),
    };
    assert_eq!(
        m.to_json(TO, Some("x")),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.THEIRS"})
    );
    assert_eq!(m.kind_str(), "read");
}

#[test]
fn validation_catches_whatsapp_limits() {
    let text = |body: String| OutboundMessage::Text {
        body,
        preview_url: false,
    };
    assert_eq!(text("  ".into()).validate(), Err(OutboundError::EmptyText));
    assert_eq!(text("é".repeat(TEXT_MAX_CHARS)).validate(), Ok(()));
    assert_eq!(
        text("é".repeat(TEXT_MAX_CHARS + 1)).validate(),
        Err(OutboundError::TextTooLong {
            len: 4097,
            max: 4096
        })
    );
    let media = |kind, caption: Option<String>, filename: Option<&str>| OutboundMessage::Media {
        kind,
        source: MediaSource::Id("1".into()),
        caption,
        filename: filename.map(str::to_owned),
    };
    assert_eq!(
        media(MediaKind::Image, Some("c".repeat(CAPTION_MAX_CHARS)), None).validate(),
        Ok(())
    );
    assert_eq!(
        media(
            MediaKind::Image,
            Some("c".repeat(CAPTION_MAX_CHARS + 1)),
            None
        )
        .validate(),
        Err(OutboundError::CaptionTooLong {
            len: 1025,
            max: 1024
        })
    );
    assert_eq!(
        media(MediaKind::Sticker, Some("c".into()), None).validate(),
        Err(OutboundError::CaptionNotAllowed(MediaKind::Sticker))
    );
    assert_eq!(
        media(MediaKind::Image, None, Some("a.png")).validate(),
        Err(OutboundError::FilenameNotAllowed)
    );
    assert_eq!(
        media(MediaKind::Document, Some("c".into()), Some("a.pdf")).validate(),
        Ok(())
    );
    let no_source = OutboundMessage::Media {
        kind: MediaKind::Image,
        source: MediaSource::Link(" ".into()),
        caption: None,
        filename: None,
    };
    assert!(no_source.validate().is_err());
    let bad_template = OutboundMessage::Template {
        name: "t".into(),
        language: "en".into(),
        components: json!({"type": "body"}),
    };
    assert_eq!(
        bad_template.validate(),
        Err(OutboundError::ComponentsNotArray)
    );
    assert!(OutboundMessage::MarkRead {
        message_id: "".into()
    }
    .validate()
    .is_err());
}

#[test]
fn outbound_messages_serialize_for_the_outbox() {
    let m = OutboundMessage::Media {
        kind: MediaKind::Document,
        source: MediaSource::Id("5".into()),
        caption: None,
        filename: Some("a.pdf".into()),
    };
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["type"], "media");
    assert_eq!(v["kind"], "document");
    assert_eq!(serde_json::from_value::<OutboundMessage>(v).unwrap(), m);
}

// ---------------------------------------------------------------------------------------------
// Error classification.

const NEEDS_TEMPLATE: ErrorClass = ErrorClass::Permanent {
    needs_template: true,
    undeliverable: false,
    auth: false,
};
const UNDELIVERABLE: ErrorClass = ErrorClass::Permanent {
    needs_template: false,
    undeliverable: true,
    auth: false,
};
const AUTH: ErrorClass = ErrorClass::Permanent {
    needs_template: false,
    undeliverable: false,
    auth: true,
};

fn error_body(code: i64, message: &str, details: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AazKq1VbGBUvI3NgYfR4hyU"
    }}))
    .unwrap()
}

#[test]
fn every_listed_code_is_classified() {
    let table: Vec<(i64, u16, ErrorClass)> = vec![
        (131047, 400, NEEDS_TEMPLATE),
        (131026, 400, UNDELIVERABLE),
        (131051, 400, ErrorClass::PERMANENT),
        (131052, 400, ErrorClass::PERMANENT),
        (131053, 400, ErrorClass::PERMANENT),
        (131056, 400, ErrorClass::PairRate),
        (130429, 400, ErrorClass::Throughput),
        (131057, 400, ErrorClass::Transient),
        (131000, 500, ErrorClass::Transient),
        (131000, 400, ErrorClass::Transient),
        (132000, 400, ErrorClass::PERMANENT),
        (132001, 404, ErrorClass::PERMANENT),
        (132005, 400, ErrorClass::PERMANENT),
        (132007, 400, ErrorClass::PERMANENT),
        (132012, 400, ErrorClass::PERMANENT),
        (132015, 400, ErrorClass::PERMANENT),
        (132016, 400, ErrorClass::PERMANENT),
        (100, 400, ErrorClass::PERMANENT),
        (131008, 400, ErrorClass::PERMANENT),
        (131009, 400, ErrorClass::PERMANENT),
        (190, 401, AUTH),
        (0, 401, AUTH),
        (10, 403, AUTH),
        (200, 403, AUTH),
        (299, 403, AUTH),
        (4, 400, ErrorClass::Throughput),
        (80007, 400, ErrorClass::Throughput),
        (131048, 400, ErrorClass::Throughput),
    ];
    for (code, status, class) in table {
        let e = SendError::from_response(status, &error_body(code, "(#x) message", "details"));
        assert_eq!(e.class, class, "code {code}");
        assert_eq!(e.code, Some(code));
        assert_eq!(e.http_status, Some(status));
        assert_eq!(e.origin, ErrorOrigin::Api);
        assert_eq!(
            e.class.is_retryable(),
            !matches!(class, ErrorClass::Permanent { .. })
        );
    }
}

#[test]
fn unknown_codes_fall_back_to_the_status() {
    assert_eq!(
        ErrorClass::classify(Some(400), Some(131031)),
        ErrorClass::PERMANENT
    );
    assert_eq!(
        ErrorClass::classify(Some(503), Some(2)),
        ErrorClass::Transient
    );
    assert_eq!(ErrorClass::classify(Some(500), None), ErrorClass::Transient);
    assert_eq!(
        ErrorClass::classify(Some(429), None),
        ErrorClass::Throughput
    );
    assert_eq!(ErrorClass::classify(Some(404), None), ErrorClass::PERMANENT);
    assert_eq!(ErrorClass::classify(None, None), ErrorClass::Transient);
}

#[test]
fn a_real_error_body_is_read_in_full() {
    let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_subcode":2494010,"error_user_title":"Outside the window","error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A7x9Yz"}}"#;
    let e = SendError::from_response(400, body);
    assert_eq!(e.class, NEEDS_TEMPLATE);
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.subcode, Some(2494010));
    assert_eq!(e.error_type.as_deref(), Some("OAuthException"));
    assert_eq!(e.title.as_deref(), Some("Outside the window"));
    assert_eq!(e.message, "(#131047) Re-engagement message");
    assert!(e
        .details
        .as_deref()
        .unwrap()
        .starts_with("Message failed to send"));
    assert_eq!(e.fbtrace_id.as_deref(), Some("A7x9Yz"));
    assert_eq!(
        e.to_string(),
        "(#131047) Outside the window: Message failed to send because more than 24 hours have passed since the customer last replied to this number. [HTTP 400]"
    );
    // Serializable, for the outbox row.
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["class"]["class"], "permanent");
    assert_eq!(v["class"]["needs_template"], true);
}

#[test]
fn a_non_json_error_body_is_classified_by_status() {
    let e = SendError::from_response(502, b"<html>Bad Gateway</html>");
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.code, None);
    assert_eq!(e.message, "HTTP 502: <html>Bad Gateway</html>");
    let e = SendError::from_response(403, b"");
    assert_eq!(e.class, ErrorClass::PERMANENT);
    assert_eq!(e.message, "HTTP 403");
    let e = SendError::from_response(400, br#"{"error":"not an object"}"#);
    assert_eq!(e.class, ErrorClass::PERMANENT);
    // A code given as a string still counts.
    let e = SendError::from_response(
        400,
        br#"{"error":{"code":"130429","message":"Rate limit hit"}}"#,
    );
    assert_eq!(e.class, ErrorClass::Throughput);
}
