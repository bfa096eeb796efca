//! Simulated customers: each method is one thing a person does in WhatsApp, turned into the
//! signed webhook Meta would POST to Switchboard. Every message opens (or extends) the customer's
//! 24-hour service window in the simulator.

use std::sync::Arc;

use axum::body::Bytes;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::config::PhoneNumberConfig;
use crate::error::SimError;
use crate::ids::{self, Direction};
use crate::state::{MediaOrigin, RecordedSend, Shared, SimEvent};
use crate::webhook::message_envelope;

/// What happened to one customer message.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerMessage {
    /// Its id (`messages[0].id`).
    pub wamid: String,
    /// What Switchboard's webhook answered.
    pub status: u16,
    /// The envelope that was POSTed.
    pub envelope: Value,
}

impl CustomerMessage {
    /// The message object (`entry[0].changes[0].value.messages[0]`).
    pub fn message(&self) -> &Value {
        self.envelope
            .pointer("/entry/0/changes/0/value/messages/0")
            .unwrap_or(&Value::Null)
    }
}

/// A shared contact card (`contacts[]` of a contacts message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactCard {
    /// `name.formatted_name`.
    pub formatted_name: String,
    /// `name.first_name`.
    pub first_name: Option<String>,
    /// `name.last_name`.
    pub last_name: Option<String>,
    /// Phone numbers, with the wa id when the number is on WhatsApp.
    pub phones: Vec<(String, Option<String>)>,
    /// Email addresses.
    pub emails: Vec<String>,
}

impl ContactCard {
    /// A card with a name and one phone number on WhatsApp.
    pub fn new(formatted_name: &str, phone: &str) -> Self {
        let wa_id: String = phone.chars().filter(char::is_ascii_digit).collect();
        let mut parts = formatted_name.splitn(2, ' ');
        Self {
            formatted_name: formatted_name.to_owned(),
            first_name: parts.next().map(str::to_owned),
            last_name: parts.next().map(str::to_owned),
            phones: vec![(phone.to_owned(), Some(wa_id))],
            emails: Vec::new(),
        }
    }

    fn to_json(&self) -> Value {
        let mut name = json!({ "formatted_name": self.formatted_name });
        if let Some(first) = &self.first_name {
            name["first_name"] = json!(first);
        }
        if let Some(last) = &self.last_name {
            name["last_name"] = json!(last);
        }
        let phones: Vec<Value> = self
            .phones
            .iter()
            .map(|(phone, wa_id)| {
                let mut p = json!({ "phone": phone, "type": "CELL" });
                if let Some(wa_id) = wa_id {
                    p["wa_id"] = json!(wa_id);
                }
                p
            })
            .collect();
        let mut card = json!({ "name": name, "phones": phones });
        if !self.emails.is_empty() {
            let emails: Vec<Value> = self
                .emails
                .iter()
                .map(|e| json!({ "email": e, "type": "HOME" }))
                .collect();
            card["emails"] = json!(emails);
        }
        card
    }
}

/// A simulated WhatsApp user writing to one business number.
#[derive(Clone)]
pub struct Customer {
    shared: Arc<Shared>,
    number: PhoneNumberConfig,
    wa_id: String,
    profile_name: String,
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customer")
            .field("wa_id", &self.wa_id)
            .field("profile_name", &self.profile_name)
            .field("phone_number_id", &self.number.phone_number_id)
            .finish()
    }
}

impl Customer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        number: PhoneNumberConfig,
        wa_id: &str,
        profile_name: &str,
    ) -> Self {
        Self {
            shared,
            number,
            wa_id: wa_id.to_owned(),
            profile_name: profile_name.to_owned(),
        }
    }

    /// The customer's WhatsApp id (their number, digits only).
    pub fn wa_id(&self) -> &str {
        &self.wa_id
    }

    /// The WhatsApp profile name.
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The business number written to.
    pub fn phone_number_id(&self) -> &str {
        &self.number.phone_number_id
    }

    /// The messages the business has sent this customer (accepted sends), oldest first.
    pub fn received(&self) -> Vec<RecordedSend> {
        let number = &self.number.phone_number_id;
        self.shared.with_records(|r| {
            r.sends
                .iter()
                .filter(|s| {
                    s.wamid().is_some()
                        && &s.phone_number_id == number
                        && s.to().is_some_and(|to| {
                            to.chars().filter(char::is_ascii_digit).collect::<String>()
                                == self.wa_id
                        })
                })
                .cloned()
                .collect()
        })
    }

    /// `context` for a reply to `wamid`: `from` is the customer when they quote their own message,
    /// else the business number.
    fn context_for(&self, wamid: &str) -> Value {
        let own = self.shared.with_records(|r| {
            r.webhooks.iter().any(|w| {
                w.body.pointer("/entry/0/changes/0/value/messages/0/id") == Some(&json!(wamid))
                    && w.body.pointer("/entry/0/changes/0/value/messages/0/from")
                        == Some(&json!(self.wa_id))
            })
        });
        let from = if own {
            self.wa_id.clone()
        } else {
            self.number.display_phone_number.clone()
        };
        json!({ "from": from, "id": wamid })
    }

    /// Posts one message of type `message_type` whose type object is `object` (`None` for types
    /// without one, like `unsupported`), with optional `context` and extra top-level fields.
    /// `from`, `id` and `timestamp` are filled in.
    pub async fn send_raw(
        &self,
        message_type: &str,
        object: Option<Value>,
        context: Option<Value>,
        extra: Option<Value>,
    ) -> Result<CustomerMessage, SimError> {
        let wamid = ids::wamid(&self.wa_id, Direction::Inbound);
        let now = self.shared.clock.now_unix();
        let mut message = json!({
            "from": self.wa_id,
            "id": wamid,
            "timestamp": now.to_string(),
            "type": message_type,
        });
        if let Some(context) = context {
            message["context"] = context;
        }
        if let Some(object) = object {
            message[message_type] = object;
        }
        if let Some(Value::Object(extra)) = extra {
            for (key, value) in extra {
                message[key] = value;
            }
        }
        self.shared
            .record_inbound(&self.number.phone_number_id, &self.wa_id, now);
        let envelope = message_envelope(
            &self.shared.metadata(&self.number),
            &self.wa_id,
            &self.profile_name,
            vec![message],
        );
        let answered = self.shared.post_webhook(&envelope, 0).await;
        self.shared.emit(SimEvent::CustomerMessage {
            wa_id: self.wa_id.clone(),
            wamid: wamid.clone(),
            message_type: message_type.to_owned(),
            http_status: answered.as_ref().ok().copied(),
        });
        Ok(CustomerMessage {
            wamid,
            status: answered?,
            envelope,
        })
    }

    /// A text message.
    pub async fn send_text(&self, body: &str) -> Result<CustomerMessage, SimError> {
        self.send_raw("text", Some(json!({ "body": body })), None, None)
            .await
    }

    /// A text replying to (quoting) message `wamid`.
    pub async fn reply_to(&self, wamid: &str, body: &str) -> Result<CustomerMessage, SimError> {
        let context = self.context_for(wamid);
        self.send_raw("text", Some(json!({ "body": body })), Some(context), None)
            .await
    }

    /// A forwarded text (`context.forwarded`; `frequently` sets `frequently_forwarded`).
    pub async fn forward_text(
        &self,
        body: &str,
        frequently: bool,
    ) -> Result<CustomerMessage, SimError> {
        let context = if frequently {
            json!({ "frequently_forwarded": true })
        } else {
            json!({ "forwarded": true })
        };
        self.send_raw("text", Some(json!({ "body": body })), Some(context), None)
            .await
    }

    fn register_media(&self, bytes: Vec<u8>, mime_type: &str, filename: Option<&str>) -> Value {
        let sha256 = STANDARD.encode(Sha256::digest(&bytes));
        let info = self.shared.store_media(
            &self.number.phone_number_id,
            mime_type,
            filename.map(str::to_owned),
            Bytes::from(bytes),
            MediaOrigin::Customer,
        );
        json!({ "id": info.id, "mime_type": mime_type, "sha256": sha256 })
    }

    /// An image (registered so that media lookup and download work); `sha256` is base64 as in
    /// real webhooks.
    pub async fn send_image(
        &self,
        bytes: Vec<u8>,
        mime_type: &str,
        caption: Option<&str>,
    ) -> Result<CustomerMessage, SimError> {
        let mut image = self.register_media(bytes, mime_type, None);
        if let Some(caption) = caption {
            image["caption"] = json!(caption);
        }
        self.send_raw("image", Some(image), None, None).await
    }

    /// A video.
    pub async fn send_video(
        &self,
        bytes: Vec<u8>,
        mime_type: &str,
        caption: Option<&str>,
    ) -> Result<CustomerMessage, SimError> {
        let mut video = self.register_media(bytes, mime_type, None);
        if let Some(caption) = caption {
            video["caption"] = json!(caption);
        }
        self.send_raw("video", Some(video), None, None).await
    }

    /// A document with its file name.
    pub async fn send_document(
        &self,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
        caption: Option<&str>,
    ) -> Result<CustomerMessage, SimError> {
        let mut document = self.register_media(bytes, mime_type, Some(filename));
        document["filename"] = json!(filename);
        if let Some(caption) = caption {
            document["caption"] = json!(caption);
        }
        self.send_raw("document", Some(document), None, None).await
    }

    /// An audio clip; `voice` for a recorded voice note.
    pub async fn send_audio(
        &self,
        bytes: Vec<u8>,
        mime_type: &str,
        voice: bool,
    ) -> Result<CustomerMessage, SimError> {
        let mut audio = self.register_media(bytes, mime_type, None);
        audio["voice"] = json!(voice);
        self.send_raw("audio", Some(audio), None, None).await
    }

    /// A sticker (`image/webp`).
    pub async fn send_sticker(
        &self,
        bytes: Vec<u8>,
        animated: bool,
    ) -> Result<CustomerMessage, SimError> {
        let mut sticker = self.register_media(bytes, "image/webp", None);
        sticker["animated"] = json!(animated);
        self.send_raw("sticker", Some(sticker), None, None).await
    }

    /// A shared location.
    pub async fn send_location(
        &self,
        latitude: f64,
        longitude: f64,
        name: Option<&str>,
        address: Option<&str>,
    ) -> Result<CustomerMessage, SimError> {
        let mut location = json!({ "latitude": latitude, "longitude": longitude });
        if let Some(name) = name {
            location["name"] = json!(name);
        }
        if let Some(address) = address {
            location["address"] = json!(address);
        }
        self.send_raw("location", Some(location), None, None).await
    }

    /// Shared contact cards.
    pub async fn send_contacts(
        &self,
        contacts: &[ContactCard],
    ) -> Result<CustomerMessage, SimError> {
        let cards: Vec<Value> = contacts.iter().map(ContactCard::to_json).collect();
        self.send_raw("contacts", Some(Value::Array(cards)), None, None)
            .await
    }

    /// A tap on a reply button of interactive message `reply_to_wamid`.
    pub async fn tap_button(
        &self,
        reply_to_wamid: &str,
        id: &str,
        title: &str,
    ) -> Result<CustomerMessage, SimError> {
        let interactive = json!({
            "type": "button_reply",
            "button_reply": { "id": id, "title": title },
        });
        let context = self.context_for(reply_to_wamid);
        self.send_raw("interactive", Some(interactive), Some(context), None)
            .await
    }

    /// A choice in a list message `reply_to_wamid`.
    pub async fn select_list_item(
        &self,
        reply_to_wamid: &str,
        id: &str,
        title: &str,
        description: Option<&str>,
    ) -> Result<CustomerMessage, SimError> {
        let mut reply = json!({ "id": id, "title": title });
        if let Some(description) = description {
            reply["description"] = json!(description);
        }
        let interactive = json!({ "type": "list_reply", "list_reply": reply });
        let context = self.context_for(reply_to_wamid);
        self.send_raw("interactive", Some(interactive), Some(context), None)
            .await
    }

    /// A tap on a quick-reply button of template message `template_wamid` (type `button`).
    pub async fn tap_template_button(
        &self,
        template_wamid: &str,
        payload: &str,
        text: &str,
    ) -> Result<CustomerMessage, SimError> {
        let context = self.context_for(template_wamid);
        self.send_raw(
            "button",
            Some(json!({ "payload": payload, "text": text })),
            Some(context),
            None,
        )
        .await
    }

    /// A reaction to message `wamid`; an empty `emoji` removes it.
    pub async fn react(&self, wamid: &str, emoji: &str) -> Result<CustomerMessage, SimError> {
        self.send_raw(
            "reaction",
            Some(json!({ "message_id": wamid, "emoji": emoji })),
            None,
            None,
        )
        .await
    }

    /// A message WhatsApp cannot pass on (type `unsupported`, error 131051).
    pub async fn send_unsupported(&self) -> Result<CustomerMessage, SimError> {
        let errors = json!({ "errors": [{
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": { "details": "Message type is currently not supported." },
        }]});
        self.send_raw("unsupported", None, None, Some(errors)).await
    }
}
