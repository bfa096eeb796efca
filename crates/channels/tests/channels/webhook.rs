//! Webhook parsing: the shared samples, every inbound type, statuses, batches, and bad input.

use serde_json::{json, Value};
use switchboard_channels::webhook::MAX_WEBHOOK_BYTES;
use switchboard_channels::*;

const TEXT: &str = include_str!("../samples/text.json");
const IMAGE: &str = include_str!("../samples/image.json");
const BUTTON_REPLY: &str = include_str!("../samples/button_reply.json");
const REACTION: &str = include_str!("../samples/reaction.json");
const STATUS_DELIVERED: &str = include_str!("../samples/status_delivered.json");
const STATUS_FAILED: &str = include_str!("../samples/status_failed_131026.json");

const PHONE_NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";

fn parse(body: &str) -> WebhookBatch {
    parse_webhook(body.as_bytes()).unwrap()
}

/// The one `messages` change of a batch that must have nothing rejected or degraded.
fn only_change(batch: &WebhookBatch) -> &MessagesChange {
    assert!(batch.rejected.is_empty(), "rejected: {:?}", batch.rejected);
    assert!(batch.warnings.is_empty(), "warnings: {:?}", batch.warnings);
    assert_eq!(batch.entries.len(), 1);
    match &batch.entries[0] {
        Change::Messages(m) => m,
        other => panic!("not a messages change: {other:?}"),
    }
}

/// The message object at `value.messages[0]` of the single change of `body`.
fn raw_message(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap();
    v["entry"][0]["changes"][0]["value"]["messages"][0].clone()
}

fn raw_status(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap();
    v["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
}

fn kerry() -> Vec<ContactProfile> {
    vec![ContactProfile {
        wa_id: Some("16315551234".into()),
        user_id: None,
        name: Some("Kerry Fisher".into()),
        username: None,
    }]
}

fn change_with(
    contacts: Vec<ContactProfile>,
    messages: Vec<InboundMessage>,
    statuses: Vec<StatusUpdate>,
) -> MessagesChange {
    MessagesChange {
        waba_id: Some(WABA_ID.into()),
        phone_number_id: PHONE_NUMBER_ID.into(),
        display_phone_number: Some("15557650000".into()),
        contacts,
        messages,
        statuses,
        errors: vec![],
    }
}

/// Wraps message objects in a standard envelope (one entry, one change, Kerry's contact).
fn envelope(messages: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA_ID,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16315551234"}],
                    "messages": messages
                }
            }]
        }]
    })
}

/// A message from Kerry with the given type and fields.
fn msg(id: &str, type_name: &str, fields: Value) -> Value {
    let mut m = json!({
        "from": "16315551234",
        "id": id,
        "timestamp": "1749416383",
        "type": type_name,
    });
    for (k, v) in fields.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

/// Parses one message in the standard envelope, requiring it to be clean.
fn one(message: Value) -> InboundMessage {
    let body = envelope(vec![message.clone()]).to_string();
    let batch = parse(&body);
    let change = only_change(&batch);
    assert_eq!(change.messages.len(), 1);
    let m = change.messages[0].clone();
    assert_eq!(m.raw, message, "raw must be the message as received");
    m
}

fn content_of(type_name: &str, fields: Value) -> Content {
    one(msg("wamid.X", type_name, fields)).content
}

// ---------------------------------------------------------------------------------------------
// The shared samples, normalized in full.

#[test]
fn sample_text() {
    let batch = parse(TEXT);
    let expected = change_with(
        kerry(),
        vec![InboundMessage {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".into(),
            from: Some("16315551234".into()),
            user_id: None,
            timestamp: 1749416383,
            context: None,
            referral: None,
            content: Content::Text {
                body: "Does it come in another color?".into(),
            },
            raw: raw_message(TEXT),
        }],
        vec![],
    );
    assert_eq!(only_change(&batch), &expected);
    let m = &expected.messages[0];
    assert_eq!(m.kind_str(), "text");
    assert_eq!(m.summary(), "Does it come in another color?");
    assert_eq!(expected.contact_of(m), Some(&kerry()[0]));
}

#[test]
fn sample_image() {
    let batch = parse(IMAGE);
    let expected = change_with(
        kerry(),
        vec![InboundMessage {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQUJDMTIzNDU2Nzg5MEFCQ0RFRgA=".into(),
            from: Some("16315551234".into()),
            user_id: None,
            timestamp: 1749416500,
            context: None,
            referral: None,
            content: Content::Media(Media {
                kind: MediaKind::Image,
                id: "1003383421387256".into(),
                mime_type: Some("image/jpeg".into()),
                sha256: Some("VGhpcyBpcyBub3QgYSByZWFsIGhhc2ggLSBleGFtcGxlIG9ubHk=".into()),
                caption: Some("This is the one I got".into()),
                filename: None,
                voice: false,
                animated: false,
                url: None,
            }),
            raw: raw_message(IMAGE),
        }],
        vec![],
    );
    assert_eq!(only_change(&batch), &expected);
    assert_eq!(expected.messages[0].kind_str(), "image");
    assert_eq!(
        expected.messages[0].summary(),
        "📷 Photo: This is the one I got"
    );
}

#[test]
fn sample_button_reply_is_a_reply_with_context() {
    let batch = parse(BUTTON_REPLY);
    let expected = change_with(
        kerry(),
        vec![InboundMessage {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQTk5OTk5OTk5OTk5OTk5OTk5OQA=".into(),
            from: Some("16315551234".into()),
            user_id: None,
            timestamp: 1749416600,
            context: Some(Context {
                from: Some("15557650000".into()),
                id: Some("wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJEQkY3QTk2QTE3OTk3N0Q2QjcA".into()),
                forwarded: false,
                frequently_forwarded: false,
            }),
            referral: None,
            content: Content::ButtonReply {
                id: "change-date".into(),
                title: "Change date".into(),
            },
            raw: raw_message(BUTTON_REPLY),
        }],
        vec![],
    );
    assert_eq!(only_change(&batch), &expected);
    assert_eq!(expected.messages[0].kind_str(), "interactive");
    assert_eq!(expected.messages[0].summary(), "🔘 Button: Change date");
}

#[test]
fn sample_reaction() {
    let batch = parse(REACTION);
    let expected = change_with(
        kerry(),
        vec![InboundMessage {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgASGBQzQTExMTExMTExMTExMTExMTExMQA=".into(),
            from: Some("16315551234".into()),
            user_id: None,
            timestamp: 1749416700,
            context: None,
            referral: None,
            content: Content::Reaction {
                message_id: "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJEQkY3QTk2QTE3OTk3N0Q2QjcA".into(),
                emoji: Some("❤️".into()),
            },
            raw: raw_message(REACTION),
        }],
        vec![],
    );
    assert_eq!(only_change(&batch), &expected);
    assert_eq!(expected.messages[0].summary(), "Reaction ❤️ to a message");
}

#[test]
fn sample_status_delivered() {
    let batch = parse(STATUS_DELIVERED);
    let expected = change_with(
        vec![],
        vec![],
        vec![StatusUpdate {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJEQkY3QTk2QTE3OTk3N0Q2QjcA".into(),
            status: DeliveryStatus::Delivered,
            timestamp: 1749416800,
            recipient_id: Some("16315551234".into()),
            errors: vec![],
            biz_opaque_callback_data: None,
            raw: raw_status(STATUS_DELIVERED),
        }],
    );
    assert_eq!(only_change(&batch), &expected);
    assert_eq!(expected.statuses[0].raw["pricing"]["category"], "service");
}

#[test]
fn sample_status_failed_keeps_its_error() {
    let batch = parse(STATUS_FAILED);
    let expected = change_with(
        vec![],
        vec![],
        vec![StatusUpdate {
            id: "wamid.HBgLMTYzMTU1NTEyMzQVAgARGBJGRkZGRkZGRkZGRkZGRkZGRkYA".into(),
            status: DeliveryStatus::Failed,
            timestamp: 1749416900,
            recipient_id: Some("16315559999".into()),
            errors: vec![ApiErrorInfo {
                code: 131026,
                title: "Message undeliverable".into(),
                message: Some("Message undeliverable".into()),
                details: Some("Message Undeliverable.".into()),
                href: Some("/documentation/business-messaging/whatsapp/support/error-codes".into()),
            }],
            biz_opaque_callback_data: None,
            raw: raw_status(STATUS_FAILED),
        }],
    );
    assert_eq!(only_change(&batch), &expected);
    let class = ErrorClass::classify(None, Some(expected.statuses[0].errors[0].code));
    assert_eq!(
        class,
        ErrorClass::Permanent {
            needs_template: false,
            undeliverable: true,
            auth: false
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Every inbound type.

#[test]
fn text_message() {
    let m = one(msg(
        "wamid.T",
        "text",
        json!({"text": {"body": "hi there"}}),
    ));
    assert_eq!(
        m.content,
        Content::Text {
            body: "hi there".into()
        }
    );
    assert_eq!(m.timestamp, 1749416383);
}

#[test]
fn audio_voice_message() {
    let m = one(msg(
        "wamid.A",
        "audio",
        json!({"audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc=", "id": "555", "voice": true}}),
    ));
    assert_eq!(
        m.content,
        Content::Media(Media {
            kind: MediaKind::Audio,
            id: "555".into(),
            mime_type: Some("audio/ogg; codecs=opus".into()),
            sha256: Some("abc=".into()),
            caption: None,
            filename: None,
            voice: true,
            animated: false,
            url: None,
        })
    );
    assert_eq!(m.kind_str(), "audio");
    assert_eq!(m.summary(), "🎤 Voice message");
    let plain = content_of(
        "audio",
        json!({"audio": {"id": "556", "mime_type": "audio/mpeg"}}),
    );
    let Content::Media(media) = &plain else {
        panic!()
    };
    assert!(!media.voice);
}

#[test]
fn video_message() {
    let m = one(msg(
        "wamid.V",
        "video",
        json!({"video": {"caption": "look", "mime_type": "video/mp4", "sha256": "x", "id": "777",
                         "url": "https://lookaside.example/v"}}),
    ));
    let Content::Media(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(media.kind, MediaKind::Video);
    assert_eq!(media.id, "777");
    assert_eq!(media.url.as_deref(), Some("https://lookaside.example/v"));
    assert_eq!(m.summary(), "🎥 Video: look");
    assert_eq!(m.kind_str(), "video");
}

#[test]
fn document_message() {
    let m = one(msg(
        "wamid.D",
        "document",
        json!({"document": {"caption": "Invoice", "filename": "invoice-42.pdf",
                            "mime_type": "application/pdf", "sha256": "y", "id": "888"}}),
    ));
    let Content::Media(media) = &m.content else {
        panic!()
    };
    assert_eq!(media.kind, MediaKind::Document);
    assert_eq!(media.filename.as_deref(), Some("invoice-42.pdf"));
    assert_eq!(media.caption.as_deref(), Some("Invoice"));
    assert_eq!(m.summary(), "📄 Document: Invoice");
    let no_caption = one(msg(
        "wamid.D2",
        "document",
        json!({"document": {"filename": "a.pdf", "id": "889"}}),
    ));
    assert_eq!(no_caption.summary(), "📄 Document: a.pdf");
}

#[test]
fn animated_sticker_message() {
    let m = one(msg(
        "wamid.S",
        "sticker",
        json!({"sticker": {"mime_type": "image/webp", "sha256": "z", "id": "999", "animated": true}}),
    ));
    let Content::Media(media) = &m.content else {
        panic!()
    };
    assert_eq!(media.kind, MediaKind::Sticker);
    assert!(media.animated);
    assert_eq!(m.kind_str(), "sticker");
    assert_eq!(m.summary(), "Animated sticker");
}

#[test]
fn location_message() {
    let m = one(msg(
        "wamid.L",
        "location",
        json!({"location": {"latitude": 38.9041, "longitude": -77.0171, "name": "Convention Center",
                            "address": "801 Mt Vernon Pl NW", "url": "https://example.com"}}),
    ));
    assert_eq!(
        m.content,
        Content::Location {
            latitude: 38.9041,
            longitude: -77.0171,
            name: Some("Convention Center".into()),
            address: Some("801 Mt Vernon Pl NW".into()),
            url: Some("https://example.com".into()),
        }
    );
    assert_eq!(m.summary(), "📍 Location: Convention Center");
    let bare = one(msg(
        "wamid.L2",
        "location",
        json!({"location": {"latitude": "1.5", "longitude": 2}}),
    ));
    assert_eq!(bare.summary(), "📍 Location: 1.5, 2");
}

#[test]
fn contacts_message() {
    let m = one(msg(
        "wamid.C",
        "contacts",
        json!({"contacts": [{
            "name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara", "last_name": "Johnson"},
            "phones": [{"phone": "+1 (940) 555-1234", "wa_id": "19405551234", "type": "HOME"},
                       {"phone": "+1 (940) 555-0000", "type": "WORK"}],
            "emails": [{"email": "bjohnson@example.com", "type": "WORK"}],
            "org": {"company": "Lucky Shrub", "title": "Manager"},
            "urls": [{"url": "https://www.luckyshrub.com", "type": "WORK"}]
        }, {
            "name": {"first_name": "Ann"},
            "phones": "not a list"
        }]}),
    ));
    let Content::Contacts { contacts } = &m.content else {
        panic!()
    };
    assert_eq!(
        contacts[0],
        SharedContact {
            formatted_name: "Barbara J. Johnson".into(),
            first_name: Some("Barbara".into()),
            last_name: Some("Johnson".into()),
            phones: vec![
                SharedPhone {
                    phone: Some("+1 (940) 555-1234".into()),
                    wa_id: Some("19405551234".into()),
                    kind: Some("HOME".into()),
                },
                SharedPhone {
                    phone: Some("+1 (940) 555-0000".into()),
                    wa_id: None,
                    kind: Some("WORK".into()),
                },
            ],
            emails: vec!["bjohnson@example.com".into()],
            org: Some("Lucky Shrub".into()),
            urls: vec!["https://www.luckyshrub.com".into()],
        }
    );
    assert_eq!(contacts[1].formatted_name, "Ann");
    assert!(contacts[1].phones.is_empty());
    assert_eq!(m.summary(), "👤 2 contacts: Barbara J. Johnson, Ann");
}

#[test]
fn list_reply_message() {
    let c = content_of(
        "interactive",
        json!({"interactive": {"type": "list_reply",
               "list_reply": {"id": "slot-3", "title": "Tuesday 10:00", "description": "Morning"}}}),
    );
    assert_eq!(
        c,
        Content::ListReply {
            id: "slot-3".into(),
            title: "Tuesday 10:00".into(),
            description: Some("Morning".into()),
        }
    );
}

#[test]
fn nfm_reply_message() {
    let m = one(msg(
        "wamid.F",
        "interactive",
        json!({"interactive": {"type": "nfm_reply", "nfm_reply": {
            "response_json": "{\"flow_token\":\"abc\",\"rating\":\"5\"}",
            "body": "Sent", "name": "flow"}}}),
    ));
    assert_eq!(
        m.content,
        Content::NfmReply {
            response_json: "{\"flow_token\":\"abc\",\"rating\":\"5\"}".into(),
            body: Some("Sent".into()),
            name: Some("flow".into()),
        }
    );
    assert_eq!(m.summary(), "📝 Form submitted: Sent");
    assert_eq!(m.kind_str(), "interactive");
}

#[test]
fn template_quick_reply_button() {
    let m = one(msg(
        "wamid.B",
        "button",
        json!({"context": {"from": "15557650000", "id": "wamid.TEMPLATE"},
               "button": {"payload": "STOP_PROMOS", "text": "Stop promotions"}}),
    ));
    assert_eq!(
        m.content,
        Content::Button {
            payload: Some("STOP_PROMOS".into()),
            text: "Stop promotions".into(),
        }
    );
    assert_eq!(
        m.context.as_ref().unwrap().id.as_deref(),
        Some("wamid.TEMPLATE")
    );
    assert_eq!(m.kind_str(), "button");
    assert_eq!(m.summary(), "🔘 Button: Stop promotions");
}

#[test]
fn reaction_removed_with_empty_or_absent_emoji() {
    for reaction in [
        json!({"message_id": "wamid.OURS", "emoji": ""}),
        json!({"message_id": "wamid.OURS"}),
    ] {
        let m = one(msg("wamid.R", "reaction", json!({ "reaction": reaction })));
        assert_eq!(
            m.content,
            Content::Reaction {
                message_id: "wamid.OURS".into(),
                emoji: None
            }
        );
        assert_eq!(m.summary(), "Reaction removed");
        assert_eq!(m.kind_str(), "reaction");
    }
}

#[test]
fn reply_context() {
    let m = one(msg(
        "wamid.CTX",
        "text",
        json!({"text": {"body": "yes"}, "context": {"from": "15557650000", "id": "wamid.OURS"}}),
    ));
    assert_eq!(
        m.context,
        Some(Context {
            from: Some("15557650000".into()),
            id: Some("wamid.OURS".into()),
            forwarded: false,
            frequently_forwarded: false
        })
    );
}

#[test]
fn forwarded_and_frequently_forwarded() {
    let m = one(msg(
        "wamid.FW",
        "text",
        json!({"text": {"body": "fw"}, "context": {"forwarded": true}}),
    ));
    let ctx = m.context.unwrap();
    assert!(ctx.forwarded && !ctx.frequently_forwarded);
    assert_eq!(ctx.id, None);
    let m = one(msg(
        "wamid.FFW",
        "text",
        json!({"text": {"body": "fw"}, "context": {"frequently_forwarded": true}}),
    ));
    let ctx = m.context.unwrap();
    assert!(ctx.frequently_forwarded && !ctx.forwarded);
}

#[test]
fn order_message() {
    let items = json!([
        {"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 9.99, "currency": "USD"},
        {"product_retailer_id": "SKU-2", "quantity": "1", "item_price": "5", "currency": "USD"}
    ]);
    let m = one(msg(
        "wamid.O",
        "order",
        json!({"order": {"catalog_id": "CAT1", "text": "please hurry", "product_items": items}}),
    ));
    assert_eq!(
        m.content,
        Content::Order {
            catalog_id: Some("CAT1".into()),
            text: Some("please hurry".into()),
            product_items: items,
        }
    );
    assert_eq!(m.summary(), "🛒 Order: 2 items (please hurry)");
}

#[test]
fn system_user_changed_number_without_contacts() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
            "messages": [{
                "from": "16315551234", "id": "wamid.SYS", "timestamp": "1749416999",
                "type": "system",
                "system": {"body": "User A changed from 16315551234 to 16315550000",
                           "wa_id": "16315550000", "type": "user_changed_number"}
            }]
        }}]}]
    });
    let batch = parse(&body.to_string());
    let change = only_change(&batch);
    assert!(change.contacts.is_empty());
    let m = &change.messages[0];
    assert_eq!(
        m.content,
        Content::System {
            body: "User A changed from 16315551234 to 16315550000".into(),
            kind: Some("user_changed_number".into()),
            wa_id: Some("16315550000".into()),
        }
    );
    assert_eq!(change.contact_of(m), None);
    assert_eq!(m.kind_str(), "system");
}

#[test]
fn unsupported_message_keeps_its_errors() {
    let m = one(msg(
        "wamid.U",
        "unsupported",
        json!({"errors": [{"code": 131051, "title": "Message type unknown",
                           "message": "Message type unknown",
                           "error_data": {"details": "Message type is currently not supported."}}]}),
    ));
    assert_eq!(
        m.content,
        Content::Unsupported {
            type_name: "unsupported".into(),
            errors: vec![ApiErrorInfo {
                code: 131051,
                title: "Message type unknown".into(),
                message: Some("Message type unknown".into()),
                details: Some("Message type is currently not supported.".into()),
                href: None,
            }],
        }
    );
    assert_eq!(m.kind_str(), "unsupported");
    assert_eq!(m.summary(), "Unsupported message");
}

#[test]
fn unknown_future_type_is_kept_as_unsupported() {
    let m = one(msg(
        "wamid.NEW",
        "hologram",
        json!({"hologram": {"id": "1", "depth": 3}}),
    ));
    assert_eq!(
        m.content,
        Content::Unsupported {
            type_name: "hologram".into(),
            errors: vec![]
        }
    );
    assert_eq!(m.kind_str(), "unsupported");
    assert_eq!(m.raw["hologram"]["depth"], 3);
    // An unknown interactive reply too.
    let c = content_of(
        "interactive",
        json!({"interactive": {"type": "call_permission_reply", "call_permission_reply": {}}}),
    );
    assert_eq!(
        c,
        Content::Unsupported {
            type_name: "interactive.call_permission_reply".into(),
            errors: vec![]
        }
    );
}

#[test]
fn user_id_without_from_or_wa_id() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Anon", "username": "@anon"}, "user_id": "US.13491208655302741918"}],
            "messages": [{"user_id": "US.13491208655302741918", "id": "wamid.UID",
                          "timestamp": "1749417000", "type": "text", "text": {"body": "hello"}}]
        }}]}]
    });
    let batch = parse(&body.to_string());
    let change = only_change(&batch);
    let m = &change.messages[0];
    assert_eq!(m.from, None);
    assert_eq!(m.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(m.sender(), Some("US.13491208655302741918"));
    assert_eq!(
        change.contact_of(m),
        Some(&ContactProfile {
            wa_id: None,
            user_id: Some("US.13491208655302741918".into()),
            name: Some("Anon".into()),
            username: Some("@anon".into()),
        })
    );
}

#[test]
fn referral_is_kept() {
    let m = one(msg(
        "wamid.AD",
        "text",
        json!({"text": {"body": "I saw your ad"},
               "referral": {"source_url": "https://fb.me/x", "source_type": "ad", "headline": "Sale"}}),
    ));
    assert_eq!(m.referral.unwrap()["headline"], "Sale");
}

#[test]
fn ids_and_timestamps_as_strings_or_numbers() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": 102290129340398_u64, "changes": [{"field": "messages", "value": {
            "metadata": {"display_phone_number": 15557650000_u64, "phone_number_id": 106540352242922_u64},
            "contacts": [{"profile": {"name": "K"}, "wa_id": 16315551234_u64}],
            "messages": [{"from": 16315551234_u64, "id": "wamid.NUM", "timestamp": 1749416383,
                          "type": "text", "text": {"body": "numbers"}}],
            "statuses": [{"id": "wamid.S", "status": "sent", "timestamp": " 1749416384 ",
                          "recipient_id": 16315551234_u64}]
        }}]}]
    });
    let batch = parse(&body.to_string());
    let change = only_change(&batch);
    assert_eq!(change.waba_id.as_deref(), Some(WABA_ID));
    assert_eq!(change.phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(change.display_phone_number.as_deref(), Some("15557650000"));
    assert_eq!(change.contacts[0].wa_id.as_deref(), Some("16315551234"));
    assert_eq!(change.messages[0].from.as_deref(), Some("16315551234"));
    assert_eq!(change.messages[0].timestamp, 1749416383);
    assert_eq!(change.statuses[0].timestamp, 1749416384);
    assert_eq!(
        change.statuses[0].recipient_id.as_deref(),
        Some("16315551234")
    );
}

// ---------------------------------------------------------------------------------------------
// Statuses.

fn status_batch(statuses: Vec<Value>) -> WebhookBatch {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557650000", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": statuses
        }}]}]
    });
    parse(&body.to_string())
}

#[test]
fn statuses_of_every_kind() {
    let kinds = ["sent", "delivered", "read", "played", "failed", "deleted"];
    let statuses: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut s = json!({"id": "wamid.OUT", "status": k, "timestamp": (1749416800 + i).to_string(),
                               "recipient_id": "16315551234", "biz_opaque_callback_data": "ticket-9"});
            if *k == "failed" {
                s["errors"] = json!([{"code": 131047, "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]);
            }
            s
        })
        .collect();
    let batch = status_batch(statuses);
    assert!(batch.rejected.is_empty());
    // The unknown `deleted` status is kept, with a warning.
    assert_eq!(batch.warnings.len(), 1, "{:?}", batch.warnings);
    let got: Vec<DeliveryStatus> = batch.statuses().map(|(_, s)| s.status.clone()).collect();
    assert_eq!(
        got,
        vec![
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
            DeliveryStatus::Played,
            DeliveryStatus::Failed,
            DeliveryStatus::Unknown("deleted".into()),
        ]
    );
    let failed = batch.statuses().map(|(_, s)| s).nth(4).unwrap();
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].code, 131047);
    assert_eq!(failed.errors[0].title, "Re-engagement message");
    assert!(failed.errors[0]
        .details
        .as_deref()
        .unwrap()
        .contains("24 hours"));
    assert_eq!(failed.biz_opaque_callback_data.as_deref(), Some("ticket-9"));
    assert_eq!(failed.timestamp, 1749416804);
}

#[test]
fn delivery_status_never_goes_back() {
    use DeliveryStatus::*;
    assert!(Sent.advances(None));
    assert!(Delivered.advances(Some(&Sent)));
    assert!(
        Read.advances(Some(&Sent)),
        "read may arrive without delivered"
    );
    assert!(!Delivered.advances(Some(&Read)));
    assert!(!Sent.advances(Some(&Delivered)));
    assert!(!Read.advances(Some(&Read)));
    assert!(Played.advances(Some(&Read)));
    assert!(Failed.advances(Some(&Delivered)));
    assert!(!Read.advances(Some(&Failed)), "failed is final");
    assert!(!Failed.advances(Some(&Failed)));
    assert!(!Unknown("x".into()).advances(Some(&Sent)));
    assert!(Sent.rank() < Delivered.rank() && Delivered.rank() < Read.rank());
    assert!(Failed.is_final() && !Read.is_final());
    assert_eq!(
        serde_json::to_value(Unknown("deleted".into())).unwrap(),
        json!("deleted")
    );
    assert_eq!(
        serde_json::from_value::<DeliveryStatus>(json!("read")).unwrap(),
        Read
    );
}

#[test]
fn stored_statuses_advance_in_the_one_order() {
    // Every status of the order moves a message in an earlier one, never back.
    for (i, earlier) in STATUS_ORDER.iter().enumerate() {
        for later in &STATUS_ORDER[i + 1..] {
            assert!(status_advances(earlier, later), "{earlier} -> {later}");
            assert!(!status_advances(later, earlier), "{later} -> {earlier}");
        }
        assert!(!status_advances(earlier, earlier));
        assert!(status_advances(earlier, "failed"));
        assert!(!status_advances("failed", earlier), "failed is final");
    }
    assert!(!status_advances("sent", "deleted"), "unknown ranks lowest");
    // The wire statuses rank as their stored names do.
    for s in [
        DeliveryStatus::Sent,
        DeliveryStatus::Read,
        DeliveryStatus::Failed,
    ] {
        assert_eq!(s.rank(), status_rank(s.as_str()));
    }
    assert_eq!(DeliveryStatus::Unknown("accepted".into()).rank(), 0);
}

// ---------------------------------------------------------------------------------------------
// Batches and other fields.

#[test]
fn multi_entry_multi_change_batch() {
    let body = include_str!("../fixtures/multi_batch.json");
    let batch = parse(body);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    assert!(batch.warnings.is_empty(), "{:?}", batch.warnings);
    assert_eq!(batch.entries.len(), 4);
    let numbers: Vec<&str> = batch
        .messages_changes()
        .map(|c| c.phone_number_id.as_str())
        .collect();
    assert_eq!(numbers, vec!["111", "222", "333"]);
    let ids: Vec<&str> = batch.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, vec!["wamid.A1", "wamid.A2", "wamid.B1"]);
    let routed: Vec<(&str, &str)> = batch
        .messages()
        .map(|(c, m)| (c.phone_number_id.as_str(), m.id.as_str()))
        .collect();
    assert_eq!(routed[2], ("222", "wamid.B1"));
    let statuses: Vec<(&str, &str)> = batch
        .statuses()
        .map(|(c, s)| (c.phone_number_id.as_str(), s.id.as_str()))
        .collect();
    assert_eq!(statuses, vec![("222", "wamid.OUT1"), ("333", "wamid.OUT2")]);
    // The second entry's change about the account itself.
    let other = batch
        .entries
        .iter()
        .find_map(|c| match c {
            Change::Other {
                waba_id,
                field,
                value,
            } => Some((waba_id, field, value)),
            Change::Messages(_) => None,
        })
        .unwrap();
    assert_eq!(other.0.as_deref(), Some("WABA-2"));
    assert_eq!(other.1, "message_template_status_update");
    assert_eq!(other.2["event"], "APPROVED");
    // value.errors of a change.
    let third = batch.messages_changes().nth(2).unwrap();
    assert_eq!(third.errors[0].code, 131000);
}

#[test]
fn template_status_update_is_kept_raw() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "time": 1749417000, "changes": [{
            "field": "message_template_status_update",
            "value": {"event": "REJECTED", "message_template_id": 594425479261596_u64,
                      "message_template_name": "order_update", "message_template_language": "en_US",
                      "reason": "INCORRECT_CATEGORY"}
        }]}]
    });
    let batch = parse(&body.to_string());
    assert!(batch.rejected.is_empty());
    assert_eq!(
        batch.entries,
        vec![Change::Other {
            waba_id: Some(WABA_ID.into()),
            field: "message_template_status_update".into(),
            value: body["entry"][0]["changes"][0]["value"].clone(),
        }]
    );
    assert_eq!(batch.messages().count(), 0);
}

#[test]
fn empty_entry_list_is_an_empty_batch() {
    let batch = parse(r#"{"object":"whatsapp_business_account","entry":[]}"#);
    assert_eq!(batch, WebhookBatch::default());
}

#[test]
fn batch_serializes_and_reads_back() {
    let batch = parse(include_str!("../fixtures/multi_batch.json"));
    let json = serde_json::to_string(&batch).unwrap();
    let back: WebhookBatch = serde_json::from_str(&json).unwrap();
    assert_eq!(back, batch);
}

// ---------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn one_bad_message_among_good_ones_is_rejected_alone() {
    let bad = json!({"from": "16315551234", "timestamp": "1749416383", "type": "text",
                     "text": {"body": "I have no id"}});
    let body = envelope(vec![
        msg("wamid.GOOD1", "text", json!({"text": {"body": "one"}})),
        bad.clone(),
        json!("not even an object"),
        msg("wamid.GOOD2", "text", json!({"text": {"body": "two"}})),
    ]);
    let batch = parse(&body.to_string());
    let ids: Vec<&str> = batch.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, vec!["wamid.GOOD1", "wamid.GOOD2"]);
    assert_eq!(batch.rejected.len(), 2);
    assert_eq!(
        batch.rejected[0].location,
        "entry[0].changes[0].value.messages[1]"
    );
    assert_eq!(batch.rejected[0].reason, "message has no id");
    assert_eq!(batch.rejected[0].raw, bad);
    assert_eq!(batch.rejected[1].raw, json!("not even an object"));
}

#[test]
fn messages_without_timestamp_or_sender_are_rejected() {
    let mut no_ts = msg("wamid.1", "text", json!({"text": {"body": "x"}}));
    no_ts.as_object_mut().unwrap().remove("timestamp");
    let bad_ts = msg(
        "wamid.2",
        "text",
        json!({"text": {"body": "x"}, "timestamp": "yesterday"}),
    );
    let huge_ts = msg(
        "wamid.3",
        "text",
        json!({"text": {"body": "x"}, "timestamp": 1e30}),
    );
    let mut no_sender = msg("wamid.4", "text", json!({"text": {"body": "x"}}));
    no_sender.as_object_mut().unwrap().remove("from");
    let batch = parse(&envelope(vec![no_ts, bad_ts, huge_ts, no_sender]).to_string());
    assert_eq!(batch.messages().count(), 0);
    let reasons: Vec<&str> = batch.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "message has no valid timestamp",
            "message has no valid timestamp",
            "message has no valid timestamp",
            "message has neither from nor user_id"
        ]
    );
    // Still one (empty) change, so the contact profile is not lost.
    assert_eq!(batch.messages_changes().next().unwrap().contacts.len(), 1);
}

#[test]
fn huge_integer_literal_does_not_break_the_batch() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
      "value":{"metadata":{"phone_number_id":"9"},"messages":[
        {"from":"1","id":"wamid.big","timestamp":123456789012345678901234567890,"type":"text","text":{"body":"x"}},
        {"from":"1","id":"wamid.ok","timestamp":"5","type":"text","text":{"body":"y"}}]}}]}]}"#;
    let batch = parse(body);
    let ids: Vec<&str> = batch.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, vec!["wamid.ok"]);
    assert_eq!(batch.rejected.len(), 1);
}

#[test]
fn malformed_content_of_a_known_type_is_shown_as_unsupported() {
    let batch = parse(
        &envelope(vec![
            msg("wamid.1", "text", json!({"text": {"no_body": true}})),
            msg("wamid.2", "image", json!({"image": "oops"})),
            msg(
                "wamid.3",
                "location",
                json!({"location": {"latitude": "north"}}),
            ),
            msg("wamid.4", "reaction", json!({"reaction": {"emoji": "👍"}})),
        ])
        .to_string(),
    );
    assert!(batch.rejected.is_empty());
    assert_eq!(batch.warnings.len(), 4, "{:?}", batch.warnings);
    let kinds: Vec<String> = batch
        .messages()
        .map(|(_, m)| match &m.content {
            Content::Unsupported { type_name, .. } => type_name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, vec!["text", "image", "location", "reaction"]);
    assert!(batch.warnings[0].starts_with("entry[0].changes[0].value.messages[0]: text content"));
}

#[test]
fn message_without_type_is_unsupported() {
    let mut m = msg("wamid.NT", "text", json!({}));
    m.as_object_mut().unwrap().remove("type");
    let got = one(m);
    assert_eq!(
        got.content,
        Content::Unsupported {
            type_name: "unknown".into(),
            errors: vec![]
        }
    );
}

#[test]
fn change_without_phone_number_id_is_rejected_raw() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [
            {"field": "messages", "value": {"metadata": {"display_phone_number": "1"},
                                            "messages": [{"id": "wamid.lost"}]}},
            {"value": {"no": "field"}},
            "junk",
            {"field": "messages", "value": [1, 2]}
        ]}, 42, {"id": "x", "changes": {"not": "a list"}}]
    });
    let batch = parse(&body.to_string());
    assert!(batch.entries.is_empty());
    let locations: Vec<&str> = batch.rejected.iter().map(|r| r.location.as_str()).collect();
    assert_eq!(
        locations,
        vec![
            "entry[0].changes[0].value",
            "entry[0].changes[1]",
            "entry[0].changes[2]",
            "entry[0].changes[3].value",
            "entry[1]",
            "entry[2]",
        ]
    );
    assert_eq!(batch.rejected[0].raw["messages"][0]["id"], "wamid.lost");
    assert_eq!(batch.rejected[5].raw["changes"]["not"], "a list");
}

#[test]
fn wrong_shapes_inside_a_change() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "nobody"}}, 7, {"wa_id": "1"}],
            "messages": {"not": "an array"},
            "statuses": [{"id": "wamid.S"}, {"status": "read", "timestamp": "1"},
                         {"id": "wamid.S2", "status": "read", "timestamp": "2",
                          "errors": [{"title": "no code"}, {"code": "131000", "title": "ok"}]}],
            "errors": [{"code": 130429, "title": "Rate limit hit"}, "bad"]
        }}]}]
    });
    let batch = parse(&body.to_string());
    let change = batch.messages_changes().next().unwrap();
    assert_eq!(change.contacts.len(), 1);
    assert_eq!(change.contacts[0].name, None);
    assert!(change.messages.is_empty());
    assert_eq!(change.statuses.len(), 1);
    assert_eq!(change.statuses[0].errors.len(), 1);
    assert_eq!(change.statuses[0].errors[0].code, 131000);
    assert_eq!(change.errors.len(), 1);
    let locations: Vec<&str> = batch.rejected.iter().map(|r| r.location.as_str()).collect();
    assert_eq!(
        locations,
        vec![
            "entry[0].changes[0].value.contacts[0]",
            "entry[0].changes[0].value.contacts[1]",
            "entry[0].changes[0].value.messages",
            "entry[0].changes[0].value.statuses[0]",
            "entry[0].changes[0].value.statuses[1]",
            "entry[0].changes[0].value.errors[1]",
        ]
    );
    assert_eq!(batch.warnings.len(), 1, "{:?}", batch.warnings);
}

#[test]
fn not_a_whatsapp_webhook() {
    assert!(matches!(
        parse_webhook(b"{not json"),
        Err(ParseError::InvalidJson(_))
    ));
    assert!(matches!(
        parse_webhook(b""),
        Err(ParseError::InvalidJson(_))
    ));
    assert_eq!(parse_webhook(b"[1,2]"), Err(ParseError::NotAnObject));
    assert_eq!(parse_webhook(b"\"x\""), Err(ParseError::NotAnObject));
    assert_eq!(
        parse_webhook(br#"{"object":"page","entry":[]}"#),
        Err(ParseError::UnexpectedObject("page".into()))
    );
    assert_eq!(
        parse_webhook(br#"{"object":"whatsapp_business_account"}"#),
        Err(ParseError::MissingEntries)
    );
    assert_eq!(
        parse_webhook(br#"{"object":"whatsapp_business_account","entry":{}}"#),
        Err(ParseError::MissingEntries)
    );
    // Invalid UTF-8.
    assert!(matches!(
        parse_webhook(b"{\"object\":\"\xff\"}"),
        Err(ParseError::InvalidJson(_))
    ));
}

#[test]
fn bodies_over_3_mb_are_refused() {
    let body = vec![b' '; MAX_WEBHOOK_BYTES + 1];
    let err = parse_webhook(&body).unwrap_err();
    assert_eq!(
        err,
        ParseError::TooLarge {
            size: MAX_WEBHOOK_BYTES + 1,
            max: MAX_WEBHOOK_BYTES
        }
    );
    assert!(err.to_string().contains("larger than"));
    // Exactly at the limit is parsed (here: a valid body padded with whitespace).
    let mut body = TEXT.as_bytes().to_vec();
    body.resize(MAX_WEBHOOK_BYTES, b' ');
    assert_eq!(parse_webhook(&body).unwrap().messages().count(), 1);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_webhook(deep.as_bytes()),
        Err(ParseError::InvalidJson(_))
    ));
    // Deep junk inside an otherwise valid message: the message is kept, raw.
    let junk = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages",
        "value":{{"metadata":{{"phone_number_id":"9"}},"messages":[{{"from":"1","id":"wamid.j",
        "timestamp":"5","type":"text","text":{{"body":"x"}},"junk":{junk}}}]}}}}]}}]}}"#
    );
    assert_eq!(parse(&body).messages().count(), 1);
}

#[test]
fn summaries_are_short_on_request() {
    let m = one(msg(
        "wamid.LONG",
        "text",
        json!({"text": {"body": "é".repeat(300)}}),
    ));
    let s = m.short_summary(80);
    assert_eq!(s.chars().count(), 80);
    assert!(s.ends_with('…'));
    assert_eq!(m.short_summary(1000), m.summary());
}
