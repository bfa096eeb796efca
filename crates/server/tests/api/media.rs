//! Media through WhatsApp end to end, against the Cloud API simulator: customers'
//! images and documents downloaded, checked and served to the agents who may see them; a
//! download whose sha256 does not match kept as a failed media; media still pending at a restart
//! fetched after it; agents' files uploaded and sent by media id; files over WhatsApp's limits or
//! of types it does not take refused with clear errors and nothing stored.

use crate::support::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use switchboard_simulator::{
    message_envelope, Customer, CustomerMessage, MediaOrigin, Metadata, SimulatorHandle,
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID, TINY_PNG,
};

const SECRET: &str = "app-secret-for-media-tests";
const WAIT: Duration = Duration::from_secs(10);
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

struct Wa {
    server: Server,
    sim: SimulatorHandle,
    admin: Api,
    ann: Api,
    bob: Api,
    ws: Ws,
}

fn graph_env(sim: &SimulatorHandle) -> Vec<(&'static str, String)> {
    vec![("SWITCHBOARD_WHATSAPP__GRAPH_API_BASE", sim.graph_api_base())]
}

/// A server wired to the simulator, a WhatsApp number routed to a queue, Ann (in the queue,
/// listening) and Bob (an agent elsewhere).
async fn setup(db: Db) -> Wa {
    let (server, sim, admin, q, _) = whatsapp_queue(db, SECRET).await;
    let other = queue(&admin, json!({"name": "Elsewhere"})).await;
    agent(&admin, "ann", 10, true, &[&q]).await;
    agent(&admin, "bob", 10, true, &[&other]).await;
    let ann = server.login("ann", PASSWORD).await;
    let bob = server.login("bob", PASSWORD).await;
    let ws = ann.ws(None).await;
    ann.available().await;
    bob.available().await;
    Wa {
        server,
        sim,
        admin,
        ann,
        bob,
        ws,
    }
}

/// The customer writes; Ann is offered and accepts. Returns the interaction id.
async fn conversation(wa: &mut Wa, wa_id: &str) -> String {
    let m = customer_writes(&wa.sim, wa_id, "Maria", "Hello").await;
    assert_eq!(m.status, 200);
    let f = wa.ws.expect("offer", |f| f.kind == "offer.created").await;
    let id = string(&f.data["interaction_id"]);
    wa.ann.act(&id, "accept").await;
    id
}

/// Waits for the stored message with WhatsApp id `wamid`; returns its id.
async fn created(ws: &mut Ws, wamid: &str) -> Frame {
    let w = wamid.to_owned();
    ws.expect(&format!("message {wamid}"), move |f| {
        f.kind == "message.created" && f.data["wa_message_id"] == w.as_str()
    })
    .await
}

/// The id Switchboard gave the message `wamid` when it stored it.
async fn created_id(ws: &mut Ws, wamid: &str) -> String {
    string(&created(ws, wamid).await.data["id"])
}

/// The customer sends the test PDF as a document named `filename`.
async fn send_pdf(customer: &Customer, filename: &str) -> CustomerMessage {
    customer
        .send_document(PDF.to_vec(), "application/pdf", filename, None)
        .await
        .expect("document")
}

/// Waits for `message.updated` of `id` whose media reached `state`.
async fn media_state(ws: &mut Ws, id: &str, state: &str) -> Frame {
    let (i, s) = (id.to_owned(), state.to_owned());
    ws.expect(&format!("media of {id} {state}"), move |f| {
        f.kind == "message.updated"
            && f.data["id"] == i.as_str()
            && f.data["payload"]["media"]["state"] == s.as_str()
    })
    .await
}

fn media_url(message: &str) -> String {
    format!("/api/v1/messages/{message}/media")
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The names of the files in the media directory (none when it was never created).
fn blob_files(db: &Db) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(db.media_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn customers_media_reaches_the_agent(db: Db) {
    let mut wa = setup(db).await;
    let it = conversation(&mut wa, "4915100000001").await;
    let customer = wa.sim.customer("4915100000001", "Maria");

    // An image with a caption.
    let sent = customer
        .send_image(TINY_PNG.to_vec(), "image/png", Some("my parcel"))
        .await
        .expect("image");
    assert_eq!(sent.status, 200);
    let m = created(&mut wa.ws, &sent.wamid).await;
    assert_eq!(m.data["type"], "image");
    assert_eq!(m.data["text"], "my parcel");
    let image = string(&m.data["id"]);
    let f = media_state(&mut wa.ws, &image, "stored").await;
    let media = &f.data["payload"]["media"];
    assert_eq!(media["mime_type"], "image/png");
    assert_eq!(media["size"], TINY_PNG.len());
    assert_eq!(media["blob"], sha_hex(TINY_PNG));
    assert_eq!(
        f.data["payload"]["content"]["id"],
        sent.message()["image"]["id"]
    );

    let (s, headers, bytes) = wa.ann.get_bytes(&media_url(&image)).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, TINY_PNG, "the exact bytes");
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(blob_files(&wa.server.db).contains(&sha_hex(TINY_PNG)));

    // A document keeps its file name.
    let sent = send_pdf(&customer, "Invoice 42.pdf").await;
    let doc = created_id(&mut wa.ws, &sent.wamid).await;
    media_state(&mut wa.ws, &doc, "stored").await;
    let (s, headers, bytes) = wa.ann.get_bytes(&media_url(&doc)).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, PDF);
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("Invoice%2042.pdf"),
        "{disposition}"
    );

    // The transcript shows the stored media too.
    let (_, page) = wa.ann.messages(&it).await;
    let listed: Vec<&Value> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["id"] == image.as_str() || m["id"] == doc.as_str())
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|m| m["payload"]["media"]["state"] == "stored"));

    // Another agent cannot tell it from a missing message; a supervisor (admin) may watch.
    let (s, hidden) = wa.bob.get(&media_url(&image)).await;
    assert_error(s, &hidden, 404, "not_found");
    let (s, missing) = wa.bob.get(&media_url("msg_missing")).await;
    assert_eq!((s, &missing), (404, &hidden));
    let (s, missing) = wa.ann.get(&media_url("msg_missing")).await;
    assert_eq!((s, &missing), (404, &hidden));
    let (s, _, bytes) = wa.admin.get_bytes(&media_url(&image)).await;
    assert_eq!((s, bytes.as_slice()), (200, TINY_PNG));
    let (s, v) = wa.server.anon().get(&media_url(&image)).await;
    assert_error(s, &v, 401, "unauthorized");

    // A text message has no media.
    let first = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["type"] == "text")
        .expect("the greeting")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, v) = wa.ann.get(&media_url(&first)).await;
    assert_error(s, &v, 404, "media_not_available");
}

async fn a_checksum_mismatch_keeps_the_message(db: Db) {
    let mut wa = setup(db).await;
    let it = conversation(&mut wa, "4915100000002").await;
    let customer = wa.sim.customer("4915100000002", "Maria");
    let sent = customer
        .send_image(TINY_PNG.to_vec(), "image/png", None)
        .await
        .expect("image");
    let media_id = sent.message()["image"]["id"]
        .as_str()
        .expect("media id")
        .to_owned();
    let good = created_id(&mut wa.ws, &sent.wamid).await;
    media_state(&mut wa.ws, &good, "stored").await;

    // The same media announced with the digest of other bytes.
    use base64::Engine as _;
    let wrong = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"other bytes"));
    let wamid = "wamid.media-mismatch-1";
    let message = json!({"from": "4915100000002", "id": wamid, "timestamp": "1700000000",
        "type": "image", "image": {"id": media_id, "mime_type": "image/png", "sha256": wrong}});
    let metadata = Metadata {
        waba_id: DEFAULT_WABA_ID.into(),
        phone_number_id: DEFAULT_PHONE_NUMBER_ID.into(),
        display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER.into(),
    };
    let body = serde_json::to_vec(&message_envelope(
        &metadata,
        "4915100000002",
        "Maria",
        vec![message],
    ))
    .expect("json");
    let r = post_signed_webhook(&wa.server, SECRET, body).await;
    assert_eq!(r.status().as_u16(), 200);
    let bad = created_id(&mut wa.ws, wamid).await;
    let f = media_state(&mut wa.ws, &bad, "failed").await;
    let error = &f.data["payload"]["media"]["error"];
    assert_eq!(error["code"], "checksum_mismatch", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("sha256")),
        "{error}"
    );
    assert_eq!(f.data["status"], "received", "the message itself is fine");

    // Kept in the transcript, its media refused with the reason.
    let (_, page) = wa.ann.messages(&it).await;
    let kept = item(&page, "messages", "id", &bad);
    assert_eq!(kept["type"], "image");
    assert_eq!(kept["payload"]["media"]["state"], "failed");
    let (s, v) = wa.ann.get(&media_url(&bad)).await;
    assert_error_says(s, &v, 404, "media_not_available", "sha256");
    assert_eq!(v["error"]["state"], "failed");
    // Nothing but the good blob was stored.
    assert_eq!(blob_files(&wa.server.db), vec![sha_hex(TINY_PNG)]);
}

async fn pending_media_is_fetched_after_a_restart(db: Db) {
    let mut wa = setup(db).await;
    let it = conversation(&mut wa, "4915100000003").await;
    // The Graph API hangs: the download cannot finish before the server stops.
    wa.sim.faults().set_latency(Duration::from_secs(120));
    let sent = send_pdf(&wa.sim.customer("4915100000003", "Maria"), "late.pdf").await;
    let doc = created_id(&mut wa.ws, &sent.wamid).await;
    let since = wa.ws.last_seq;
    let (s, v) = wa.ann.get(&media_url(&doc)).await;
    assert_error(s, &v, 404, "media_not_available");
    assert_eq!(v["error"]["state"], "pending");

    wa.server.stop().await;
    wa.sim.faults().set_latency(Duration::ZERO);
    let server = Server::start_full(
        wa.server.db.clone(),
        wa.server.clock.clone(),
        graph_env(&wa.sim),
        None,
    )
    .await;
    let ann = server.login("ann", PASSWORD).await;
    let mut ws = ann.ws(Some(since)).await;
    media_state(&mut ws, &doc, "stored").await;
    let (s, _, bytes) = ann.get_bytes(&media_url(&doc)).await;
    assert_eq!((s, bytes.as_slice()), (200, PDF));
    let _ = it;
}

async fn agents_files_are_uploaded_and_sent_by_id(db: Db) {
    let mut wa = setup(db).await;
    let it = conversation(&mut wa, "4915100000004").await;
    let url = format!("/api/v1/interactions/{it}/messages");
    let (s, m) = wa
        .ann
        .multipart(
            &url,
            &[
                Part::file("file", "label.png", "image/png", TINY_PNG),
                Part::text("caption", "Your return label 📦"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["status"], "queued");
    assert_eq!(m["type"], "image");
    assert_eq!(m["direction"], "out");
    assert_eq!(m["text"], "Your return label 📦");
    assert_eq!(m["payload"]["media"]["state"], "stored");
    assert_eq!(m["payload"]["media"]["size"], TINY_PNG.len());
    let image = string(&m["id"]);

    let sent = wa.sim.wait_for_accepted(1, WAIT).await.expect("sent");
    assert_eq!(sent[0].message_type(), "image");
    assert_eq!(sent[0].to(), Some("4915100000004"));
    let body = &sent[0].body["image"];
    assert_eq!(body["caption"], "Your return label 📦");
    assert!(body.get("link").is_none(), "sent by id: {body}");
    let media_id = body["id"].as_str().expect("sent by media id");
    let uploaded = wa
        .sim
        .media()
        .into_iter()
        .find(|m| m.id == media_id)
        .expect("the upload");
    assert_eq!(uploaded.origin, MediaOrigin::Uploaded);
    assert_eq!(uploaded.bytes, TINY_PNG);
    assert_eq!(uploaded.mime_type, "image/png");
    let i = image.clone();
    wa.ws
        .expect("accepted", move |f| {
            f.kind == "message.updated"
                && f.data["id"] == i.as_str()
                && f.data["status"] == "accepted"
        })
        .await;
    // The agent can open what they sent.
    let (s, _, bytes) = wa.ann.get_bytes(&media_url(&image)).await;
    assert_eq!((s, bytes.as_slice()), (200, TINY_PNG));

    // A document goes with its file name.
    let (s, m) = wa
        .ann
        .multipart(
            &url,
            &[Part::file(
                "file",
                "C:\\docs\\terms.pdf",
                "application/pdf",
                PDF,
            )],
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["type"], "document");
    assert_eq!(m["payload"]["media"]["filename"], "terms.pdf");
    let sent = wa.sim.wait_for_accepted(2, WAIT).await.expect("sent");
    assert_eq!(sent[1].message_type(), "document");
    assert_eq!(sent[1].body["document"]["filename"], "terms.pdf");
    let uploaded = wa
        .sim
        .media()
        .into_iter()
        .find(|m| Some(m.id.as_str()) == sent[1].body["document"]["id"].as_str())
        .expect("the upload");
    assert_eq!(uploaded.bytes, PDF);
}

async fn files_over_the_limits_are_refused(db: Db) {
    let mut wa = setup(db).await;
    let it = conversation(&mut wa, "4915100000005").await;
    let url = format!("/api/v1/interactions/{it}/messages");
    let before = blob_files(&wa.server.db);

    let big = vec![0u8; 5_000_001];
    let (s, v) = wa
        .ann
        .multipart(&url, &[Part::file("file", "big.png", "image/png", &big)])
        .await;
    assert_error_says(s, &v, 422, "media_too_large", "5 MB");
    assert_eq!(v["error"]["limit"], 5_000_000);
    assert_eq!(v["error"]["size"], 5_000_001);

    let (s, v) = wa
        .ann
        .multipart(
            &url,
            &[Part::file("file", "cat.gif", "image/gif", b"GIF89a....")],
        )
        .await;
    assert_error(s, &v, 422, "unsupported_media_type");
    assert_eq!(v["error"]["mime_type"], "image/gif");
    assert!(
        v["error"]["accepted"]
            .as_str()
            .is_some_and(|a| a.contains("image/jpeg")),
        "{v}"
    );

    let static_sticker = vec![0u8; 100_001];
    let (s, v) = wa
        .ann
        .multipart(
            &url,
            &[Part::file("file", "s.webp", "image/webp", &static_sticker)],
        )
        .await;
    assert_error(s, &v, 422, "media_too_large");
    assert_eq!(v["error"]["limit"], 100_000);

    let (s, v) = wa
        .ann
        .multipart(
            &url,
            &[
                Part::file("file", "a.ogg", "audio/ogg", b"OggS...."),
                Part::text("caption", "listen"),
            ],
        )
        .await;
    assert_error(s, &v, 422, "caption_not_allowed");

    let long = "x".repeat(1025);
    let (s, v) = wa
        .ann
        .multipart(
            &url,
            &[
                Part::file("file", "p.png", "image/png", TINY_PNG),
                Part::text("caption", &long),
            ],
        )
        .await;
    assert_error(s, &v, 422, "caption_too_long");
    assert_eq!(v["error"]["limit"], 1024);

    let (s, v) = wa
        .ann
        .multipart(&url, &[Part::file("file", "e.png", "image/png", b"")])
        .await;
    assert_error(s, &v, 422, "empty_file");
    let (s, v) = wa
        .ann
        .multipart(&url, &[Part::text("caption", "no file")])
        .await;
    assert_error(s, &v, 422, "missing_file");

    // Same permission rules as text: hidden from Bob, refused to an admin who only watches.
    let ok_file = [Part::file("file", "p.png", "image/png", TINY_PNG)];
    let (s, v) = wa.bob.multipart(&url, &ok_file).await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = wa.admin.multipart(&url, &ok_file).await;
    assert_error(s, &v, 409, "not_active");

    // Nothing was stored, uploaded or sent.
    assert_eq!(blob_files(&wa.server.db), before);
    let (_, page) = wa.ann.get(&format!("{url}?limit=100")).await;
    let outbound = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["direction"] == "out")
        .count();
    assert_eq!(outbound, 0);
    assert!(wa
        .sim
        .media()
        .iter()
        .all(|m| m.origin != MediaOrigin::Uploaded));
    assert!(wa.sim.sent_messages().is_empty());
    let quiet = wa.ws.drain().await;
    assert!(
        !quiet
            .iter()
            .any(|f| f.kind == "message.created" && f.data["direction"] == "out"),
        "{quiet:?}"
    );
}

on_every_backend!(
    customers_images_and_documents_are_downloaded_and_served,
    customers_media_reaches_the_agent
);
on_every_backend!(
    a_sha256_mismatch_marks_the_media_failed_and_keeps_the_message,
    a_checksum_mismatch_keeps_the_message
);
on_every_backend!(
    media_pending_at_a_restart_is_fetched_after_it,
    pending_media_is_fetched_after_a_restart
);
on_every_backend!(
    agents_files_are_uploaded_and_sent_by_media_id,
    agents_files_are_uploaded_and_sent_by_id
);
on_every_backend!(
    files_over_whatsapps_limits_or_of_other_types_are_refused,
    files_over_the_limits_are_refused
);
