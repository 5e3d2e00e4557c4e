//! Bad input: every malformed, oversized, unauthorised or fault-injected ingest request gets the
//! exact status with a Relay-style JSON error, is recorded under `/api/refusals/`, and leaves the
//! server serving with everything stored before it intact. One bad item inside an otherwise fine
//! envelope is stored with a `decode_error` instead of failing the envelope.
//!
//! Requests go over real sockets with a minimal HTTP/1.1 client (`support::http`), so that
//! bodies can be as broken as a test needs and a server that answers before reading the whole
//! body is fine.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, ForwardConfig, Limits};
use serde_json::{Value, json};
use support::binary::Binary;
use support::http::{Reply, get_json, items_with_event_id, send};
use support::{event_envelope, new_event_id};

async fn post(addr: SocketAddr, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send(addr, "POST", target, headers, body).await
}

const ENVELOPE_CT: (&str, &str) = ("Content-Type", "application/x-sentry-envelope");

async fn post_envelope(addr: SocketAddr, body: &[u8]) -> Reply {
    post_envelope_to(addr, 1, body).await
}

async fn post_envelope_to(addr: SocketAddr, project: u64, body: &[u8]) -> Reply {
    post(
        addr,
        &format!("/api/{project}/envelope/"),
        &[ENVELOPE_CT],
        body,
    )
    .await
}

async fn stored_item_count(addr: SocketAddr) -> u64 {
    let stats = get_json(addr, "/api/stats/").await;
    stats["items"]
        .as_u64()
        .unwrap_or_else(|| panic!("stats without an item count: {stats}"))
}

/// Stores two envelopes and one store event, each checked to be acknowledged, and returns
/// their event ids.
async fn seed(addr: SocketAddr) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..2 {
        let id = new_event_id();
        let reply = post_envelope(addr, &event_envelope(&id, &format!("seed envelope {n}"))).await;
        assert_eq!(reply.status, 200, "seed envelope {n}: {}", reply.text());
        ids.push(id);
    }
    let id = new_event_id();
    let body = json!({"event_id": id, "message": "seed store event"}).to_string();
    let reply = post(
        addr,
        "/api/1/store/",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "seed store event: {}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"id": id}),
        "store answers with the event id"
    );
    ids.push(id);
    ids
}

/// Asserts everything a refused request must leave behind: the `status`, a Relay-style error
/// body, the newest refusal with that status and a reason containing every one of
/// `reason_parts` (case-insensitive), a server that still stores a good envelope (posted with
/// `good_headers`, whose event id is added to `stored`), and every `stored` event still there
/// (and nothing else added by the refused request).
async fn assert_refused(
    addr: SocketAddr,
    reply: &Reply,
    status: u16,
    reason_parts: &[&str],
    stored: &mut Vec<String>,
    good_headers: &[(&str, &str)],
) {
    assert_eq!(reply.status, status, "answer: {}", reply.text());
    let body = reply.json();
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "error body without a detail: {body}");
    assert!(
        body["causes"].is_array(),
        "error body without causes: {body}"
    );
    assert!(
        reply
            .header("x-sentry-error")
            .is_some_and(|v| !v.is_empty()),
        "no X-Sentry-Error header on a {status}"
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "error bodies are JSON"
    );

    let refusals = get_json(addr, "/api/refusals/").await;
    let newest = &refusals["refusals"][0];
    assert_eq!(
        newest["status"],
        json!(status),
        "newest refusal: {refusals}"
    );
    let reason = newest["reason"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for part in reason_parts {
        assert!(
            reason.contains(&part.to_ascii_lowercase()),
            "refusal reason {reason:?} does not mention {part:?}"
        );
    }
    assert!(
        refusals["by_status"][status.to_string()].as_u64() >= Some(1),
        "refusal counts miss {status}: {refusals}"
    );

    let after = new_event_id();
    let good = post(
        addr,
        "/api/1/envelope/",
        good_headers,
        &event_envelope(&after, "after the bad request"),
    )
    .await;
    assert_eq!(
        good.status,
        200,
        "server refuses a good envelope after a bad request: {}",
        good.text()
    );
    assert_eq!(
        items_with_event_id(addr, &after).await.len(),
        1,
        "good envelope after the bad request not stored"
    );

    stored.push(after);
    assert_stored_exactly(addr, stored, "the refused request must store nothing").await;
}

/// Asserts that every one of `ids` is still stored, once, and that nothing else is.
async fn assert_stored_exactly(addr: SocketAddr, ids: &[String], context: &str) {
    for id in ids {
        assert_eq!(
            items_with_event_id(addr, id).await.len(),
            1,
            "item {id} is gone ({context})"
        );
    }
    assert_eq!(stored_item_count(addr).await, ids.len() as u64, "{context}");
}

/// Starts a server, seeds it, sends the bad request `send_bad` builds, checks the refusal, and
/// returns the answer for any further checks.
async fn refused_case<F, Fut>(
    config: Config,
    status: u16,
    reason_parts: &[&str],
    send_bad: F,
) -> Reply
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = Reply>,
{
    let sentry = FakeSentry::start_with(config)
        .await
        .expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;
    let reply = send_bad(addr).await;
    assert_refused(
        addr,
        &reply,
        status,
        reason_parts,
        &mut stored,
        &[ENVELOPE_CT],
    )
    .await;
    reply
}

/// An envelope with `header` and one item per `(item header, payload)`; each item header gets
/// its payload's `length`.
fn envelope(header: Value, items: &[(Value, Vec<u8>)]) -> Vec<u8> {
    let mut body = format!("{header}\n").into_bytes();
    for (item_header, payload) in items {
        let mut item_header = item_header.clone();
        item_header["length"] = json!(payload.len());
        body.extend_from_slice(format!("{item_header}\n").as_bytes());
        body.extend_from_slice(payload);
        body.push(b'\n');
    }
    body
}

/// A session update item for a new session.
fn session_item() -> (Value, Vec<u8>) {
    let payload = json!({"sid": new_event_id(), "status": "ok", "attrs": {"release": "1.0"}});
    (json!({"type": "session"}), payload.to_string().into_bytes())
}

/// Replaces the fault rules through `PUT /api/faults/` and returns the rules it answers with.
async fn put_faults(addr: SocketAddr, rules: Value) -> Value {
    let body = json!({ "faults": rules }).to_string();
    let reply = send(
        addr,
        "PUT",
        "/api/faults/",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "PUT /api/faults/: {}", reply.text());
    reply.json()
}

/// Removes every fault rule through `DELETE /api/faults/`.
async fn clear_faults(addr: SocketAddr) {
    let reply = send(addr, "DELETE", "/api/faults/", &[], b"").await;
    assert_eq!(reply.status, 200, "DELETE /api/faults/: {}", reply.text());
    assert_eq!(reply.json(), json!({"faults": []}));
}

#[tokio::test]
async fn store_with_invalid_json_is_400() {
    refused_case(
        Config::ephemeral(),
        400,
        &["invalid event payload", "invalid json"],
        |addr| async move {
            post(
                addr,
                "/api/1/store/",
                &[("Content-Type", "application/json")],
                br#"{"message": "unterminated"#,
            )
            .await
        },
    )
    .await;
}

#[tokio::test]
async fn store_with_json_that_is_not_an_object_is_400() {
    for body in [&b"[1, 2, 3]"[..], b"42", b"\"just a string\""] {
        let what = String::from_utf8_lossy(body).into_owned();
        refused_case(
            Config::ephemeral(),
            400,
            &["expected a json object"],
            |addr| async move {
                post(
                    addr,
                    "/api/1/store/",
                    &[("Content-Type", "application/json")],
                    body,
                )
                .await
            },
        )
        .await;
        eprintln!("store body {what} refused as expected");
    }
}

#[tokio::test]
async fn truncated_envelope_is_400() {
    let id = new_event_id();
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":500}}\n{{\"message\":\"short\"}}\n"
    );
    refused_case(
        Config::ephemeral(),
        400,
        &["invalid event envelope", "declared length 500"],
        |addr| async move { post_envelope(addr, body.as_bytes()).await },
    )
    .await;
}

#[tokio::test]
async fn item_length_not_followed_by_newline_is_400() {
    let id = new_event_id();
    // The declared length ends inside the payload.
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":5}}\n{{\"message\":\"hello\"}}\n"
    );
    refused_case(
        Config::ephemeral(),
        400,
        &["invalid event envelope", "not followed by a newline"],
        |addr| async move { post_envelope(addr, body.as_bytes()).await },
    )
    .await;
}

#[tokio::test]
async fn envelope_header_that_is_not_json_is_400() {
    let body = b"this is not json\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n";
    refused_case(
        Config::ephemeral(),
        400,
        &["invalid event envelope", "envelope header"],
        |addr| async move { post_envelope(addr, body).await },
    )
    .await;
}

#[tokio::test]
async fn item_header_that_is_not_json_is_400() {
    let id = new_event_id();
    let body = format!("{{\"event_id\":\"{id}\"}}\nnot an item header\n");
    refused_case(
        Config::ephemeral(),
        400,
        &["invalid event envelope", "item header"],
        |addr| async move { post_envelope(addr, body.as_bytes()).await },
    )
    .await;
}

#[tokio::test]
async fn unknown_content_encoding_is_415() {
    let body = event_envelope(&new_event_id(), "compressed with compress(1)");
    refused_case(Config::ephemeral(), 415, &["compress"], |addr| async move {
        post(
            addr,
            "/api/1/envelope/",
            &[
                ("Content-Type", "application/x-sentry-envelope"),
                ("Content-Encoding", "compress"),
            ],
            &body,
        )
        .await
    })
    .await;
}

#[tokio::test]
async fn corrupt_gzip_is_400() {
    // A gzip header followed by bytes that are not a deflate stream.
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend_from_slice(&[0xff; 64]);
    refused_case(
        Config::ephemeral(),
        400,
        &["compression", "gzip"],
        |addr| async move {
            post(
                addr,
                "/api/1/envelope/",
                &[
                    ("Content-Type", "application/x-sentry-envelope"),
                    ("Content-Encoding", "gzip"),
                ],
                &body,
            )
            .await
        },
    )
    .await;
}

/// A single-member gzip of `total` zero bytes, built without ever holding (or compressing) more
/// than one chunk: after a full flush the deflate encoder starts afresh, so the compressed form
/// of one chunk of zeros, repeated, is the deflate stream of all of them.
fn gzip_of_zeros(total: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    const CHUNK: usize = 1 << 20;
    assert_eq!(total % CHUNK, 0, "total must be a whole number of chunks");
    let zeros = vec![0u8; CHUNK];
    let mut deflate = Compress::new(Compression::best(), false);
    let mut chunk = Vec::with_capacity(CHUNK);
    deflate
        .compress_vec(&zeros, &mut chunk, FlushCompress::Full)
        .expect("compress the first chunk");
    assert_eq!(
        deflate.total_in(),
        CHUNK as u64,
        "the first chunk is consumed in one call"
    );
    let mut again = Vec::with_capacity(CHUNK);
    deflate
        .compress_vec(&zeros, &mut again, FlushCompress::Full)
        .expect("compress the second chunk");
    assert_eq!(
        chunk, again,
        "a full flush must reset the encoder for the chunks to repeat"
    );
    let mut tail = Vec::with_capacity(64);
    deflate
        .compress_vec(&[], &mut tail, FlushCompress::Finish)
        .expect("finish the deflate stream");
    let mut crc = Crc::new();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..total / CHUNK {
        crc.update(&zeros);
        out.extend_from_slice(&chunk);
    }
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out
}

#[test]
fn the_bomb_really_inflates_to_its_size() {
    // Checks the test's own bomb builder on a smaller size: it must be one valid gzip member.
    use std::io::Read as _;
    let bomb = gzip_of_zeros(16 << 20);
    let mut decoder = flate2::read::GzDecoder::new(&bomb[..]);
    let mut inflated = Vec::new();
    decoder
        .read_to_end(&mut inflated)
        .expect("the bomb is valid gzip");
    assert_eq!(inflated.len(), 16 << 20);
    assert!(inflated.iter().all(|&b| b == 0));
    let mut rest = Vec::new();
    decoder
        .into_inner()
        .read_to_end(&mut rest)
        .expect("read past the member");
    assert!(rest.is_empty(), "one gzip member and nothing after it");
}

#[tokio::test]
async fn decompression_bomb_is_413_and_fast() {
    let bomb = gzip_of_zeros(1 << 30);
    assert!(
        bomb.len() < 2 << 20,
        "1 GiB of zeros should gzip to about 1 MB, got {}",
        bomb.len()
    );
    let limit = Limits::default().max_decompressed;
    let limit_text = limit.to_string();
    refused_case(
        Config::ephemeral(),
        413,
        &["after decompression", &limit_text],
        |addr| async move {
            let started = Instant::now();
            let reply = post(
                addr,
                "/api/1/envelope/",
                &[
                    ("Content-Type", "application/x-sentry-envelope"),
                    ("Content-Encoding", "gzip"),
                ],
                &bomb,
            )
            .await;
            let took = started.elapsed();
            assert!(
                took < Duration::from_secs(15),
                "refusing a bomb took {took:?}"
            );
            reply
        },
    )
    .await;
}

#[tokio::test]
async fn body_over_max_request_body_is_413() {
    let config = Config {
        limits: Limits {
            max_request_body: 64 * 1024,
            ..Default::default()
        },
        ..Config::ephemeral()
    };
    let id = new_event_id();
    let filler = "x".repeat(1024 * 1024);
    let body = event_envelope(&id, &filler);
    assert!(body.len() > 1024 * 1024);
    refused_case(
        config,
        413,
        &["exceeds the limit of 65536"],
        |addr| async move { post_envelope(addr, &body).await },
    )
    .await;
}

#[tokio::test]
async fn event_item_over_max_event_item_is_413() {
    let limit = Limits::default().max_event_item;
    let id = new_event_id();
    let body = event_envelope(&id, &"y".repeat(limit));
    refused_case(
        Config::ephemeral(),
        413,
        &["size limits for type 'event'"],
        |addr| async move { post_envelope(addr, &body).await },
    )
    .await;
}

#[tokio::test]
async fn empty_envelope_body_is_400() {
    refused_case(
        Config::ephemeral(),
        400,
        &["empty envelope"],
        |addr| async move { post_envelope(addr, b"").await },
    )
    .await;
}

#[tokio::test]
async fn empty_store_body_is_400() {
    refused_case(
        Config::ephemeral(),
        400,
        &["empty event payload"],
        |addr| async move {
            post(
                addr,
                "/api/1/store/",
                &[("Content-Type", "application/json")],
                b"",
            )
            .await
        },
    )
    .await;
}

#[tokio::test]
async fn non_numeric_project_is_400_and_recorded() {
    let body = event_envelope(&new_event_id(), "to project abc");
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let seeded = seed(addr).await;
    let reply = post(
        addr,
        "/api/abc/envelope/",
        &[("Content-Type", "application/x-sentry-envelope")],
        &body,
    )
    .await;
    let mut stored = seeded;
    assert_refused(
        addr,
        &reply,
        400,
        &["invalid project id", "abc"],
        &mut stored,
        &[ENVELOPE_CT],
    )
    .await;
    let refusals = get_json(addr, "/api/refusals/").await;
    let newest = &refusals["refusals"][0];
    assert_eq!(newest["path"], json!("/api/abc/envelope/"), "{refusals}");
    assert_eq!(newest["project_id"], Value::Null, "{refusals}");
}

#[tokio::test]
async fn an_event_item_with_invalid_json_is_stored_with_a_decode_error() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let seeded = seed(addr).await;
    let id = new_event_id();
    let bad_event = br#"{"message": "cut off"#;
    let attachment = b"line one\nline two";
    let session =
        br#"{"sid":"7b0e6ae6a3d74d0f9a4e1b9c6d1e2f3a","status":"ok","attrs":{"release":"1.0"}}"#;
    let mut body = format!("{{\"event_id\":\"{id}\"}}\n").into_bytes();
    body.extend_from_slice(
        format!("{{\"type\":\"event\",\"length\":{}}}\n", bad_event.len()).as_bytes(),
    );
    body.extend_from_slice(bad_event);
    body.extend_from_slice(
        format!(
            "\n{{\"type\":\"attachment\",\"filename\":\"a.txt\",\"length\":{}}}\n",
            attachment.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(attachment);
    body.extend_from_slice(
        format!("\n{{\"type\":\"session\",\"length\":{}}}\n", session.len()).as_bytes(),
    );
    body.extend_from_slice(session);
    body.push(b'\n');

    let reply = post_envelope(addr, &body).await;
    assert_eq!(
        reply.status,
        200,
        "one bad item must not fail the envelope: {}",
        reply.text()
    );
    assert_eq!(reply.json(), json!({"id": id}));

    let list = get_json(addr, "/api/items/?order=asc&limit=1000").await;
    let items = list["items"].as_array().expect("items list");
    assert_eq!(
        items.len(),
        seeded.len() + 3,
        "all three items are stored: {list}"
    );
    let new: Vec<&Value> = items[seeded.len()..].iter().collect();
    let types: Vec<&str> = new
        .iter()
        .map(|i| i["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["event", "attachment", "session"]);
    assert!(
        new.iter()
            .all(|i| i["envelope_id"] == new[0]["envelope_id"]),
        "one envelope: {list}"
    );

    let event = new[0];
    let error = event["decode_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("invalid JSON"),
        "event decode_error: {event}"
    );
    assert!(
        event["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("could not decode"),
        "summary names the problem: {event}"
    );
    assert_eq!(
        event["event_id"],
        json!(id),
        "the envelope's event id is kept on the bad item"
    );
    for other in &new[1..] {
        assert_eq!(other["decode_error"], Value::Null, "{other}");
    }
    assert_eq!(new[2]["summary"], json!("session ok 1.0"));

    let raw = send(
        addr,
        "GET",
        &format!(
            "/api/items/{}/raw",
            event["id"].as_str().unwrap_or_default()
        ),
        &[],
        b"",
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, bad_event, "the bad payload is kept byte for byte");
    let raw = send(
        addr,
        "GET",
        &format!(
            "/api/items/{}/raw",
            new[1]["id"].as_str().unwrap_or_default()
        ),
        &[],
        b"",
    )
    .await;
    assert_eq!(raw.body, attachment);

    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(
        refusals["total"],
        json!(0),
        "nothing was refused: {refusals}"
    );
    for id in &seeded {
        assert_eq!(
            items_with_event_id(addr, id).await.len(),
            1,
            "seeded item {id} is gone"
        );
    }
}

#[tokio::test]
async fn required_keys_are_checked_wherever_the_key_is() {
    let config = Config {
        required_keys: vec!["good".into()],
        ..Config::ephemeral()
    };
    let sentry = FakeSentry::start_with(config)
        .await
        .expect("start fake-sentry");
    let addr = sentry.addr();
    let envelope_ct = ("Content-Type", "application/x-sentry-envelope");
    let good_auth = (
        "X-Sentry-Auth",
        "Sentry sentry_key=good, sentry_version=7, sentry_client=test/1.0",
    );

    // Accepted: the key in X-Sentry-Auth, in the query string, in the envelope's dsn, and in
    // Authorization.
    let by_header = new_event_id();
    let reply = post(
        addr,
        "/api/1/envelope/",
        &[envelope_ct, good_auth],
        &event_envelope(&by_header, "header"),
    )
    .await;
    assert_eq!(reply.status, 200, "key in X-Sentry-Auth: {}", reply.text());
    let by_query = new_event_id();
    let reply = post(
        addr,
        "/api/1/envelope/?sentry_key=good&sentry_version=7",
        &[envelope_ct],
        &event_envelope(&by_query, "query"),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "key in the query string: {}",
        reply.text()
    );
    let by_dsn = new_event_id();
    let payload = json!({"event_id": by_dsn, "message": "dsn"}).to_string();
    let body = format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        json!({"event_id": by_dsn, "dsn": sentry.dsn(1)}),
        payload.len()
    );
    assert!(
        sentry.dsn(1).contains("://good@"),
        "the DSN carries the required key: {}",
        sentry.dsn(1)
    );
    let reply = post(addr, "/api/1/envelope/", &[envelope_ct], body.as_bytes()).await;
    assert_eq!(
        reply.status,
        200,
        "key in the envelope dsn: {}",
        reply.text()
    );
    let by_authorization = new_event_id();
    let reply = post(
        addr,
        "/api/1/envelope/",
        &[
            envelope_ct,
            ("Authorization", "Sentry sentry_key=good, sentry_version=7"),
        ],
        &event_envelope(&by_authorization, "authorization"),
    )
    .await;
    assert_eq!(reply.status, 200, "key in Authorization: {}", reply.text());
    let by_store = new_event_id();
    let reply = post(
        addr,
        "/api/1/store/",
        &[("Content-Type", "application/json"), good_auth],
        json!({"event_id": by_store, "message": "store"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "key in X-Sentry-Auth on store: {}",
        reply.text()
    );

    let seeded = vec![
        by_header.clone(),
        by_query.clone(),
        by_dsn.clone(),
        by_authorization.clone(),
        by_store,
    ];
    for (id, source) in [
        (&by_header, "x_sentry_auth"),
        (&by_query, "query"),
        (&by_dsn, "envelope_dsn"),
        (&by_authorization, "authorization"),
    ] {
        let items = items_with_event_id(addr, id).await;
        assert_eq!(items.len(), 1, "event {id} stored");
        let envelope = get_json(addr, &format!("/api/envelopes/{}", items[0]["envelope_id"])).await;
        assert_eq!(envelope["auth_source"], json!(source), "{envelope}");
        assert_eq!(envelope["public_key"], json!("good"), "{envelope}");
    }

    // Refused: a wrong key (in each place) and no key at all.
    let bad_dsn = format!(
        "{}\n{{\"type\":\"event\"}}\n{{}}\n",
        json!({"dsn": format!("http://bad@{addr}/1")})
    );
    let cases = [
        BadAuth {
            target: "/api/1/envelope/",
            headers: vec![
                envelope_ct,
                ("X-Sentry-Auth", "Sentry sentry_key=bad, sentry_version=7"),
            ],
            body: event_envelope(&new_event_id(), "bad header"),
            reason: &["unknown public key", "bad"],
        },
        BadAuth {
            target: "/api/1/envelope/",
            headers: vec![
                envelope_ct,
                ("Authorization", "Sentry sentry_key=bad, sentry_version=7"),
            ],
            body: event_envelope(&new_event_id(), "bad authorization"),
            reason: &["unknown public key", "bad"],
        },
        BadAuth {
            target: "/api/1/envelope/?sentry_key=bad",
            headers: vec![envelope_ct],
            body: event_envelope(&new_event_id(), "bad query"),
            reason: &["unknown public key", "bad"],
        },
        BadAuth {
            target: "/api/1/envelope/",
            headers: vec![envelope_ct],
            body: bad_dsn.into_bytes(),
            reason: &["unknown public key", "bad"],
        },
        BadAuth {
            target: "/api/1/envelope/",
            headers: vec![envelope_ct],
            body: event_envelope(&new_event_id(), "no key"),
            reason: &["missing authorization"],
        },
        BadAuth {
            target: "/api/1/store/",
            headers: vec![
                ("Content-Type", "application/json"),
                ("X-Sentry-Auth", "Sentry sentry_key=bad"),
            ],
            body: br#"{"message":"bad store"}"#.to_vec(),
            reason: &["unknown public key"],
        },
    ];
    let mut stored = seeded;
    for case in cases {
        let reply = post(addr, case.target, &case.headers, &case.body).await;
        eprintln!("{} {:?} -> {}", case.target, case.headers, reply.status);
        assert_refused(
            addr,
            &reply,
            401,
            case.reason,
            &mut stored,
            &[envelope_ct, good_auth],
        )
        .await;
    }
}

/// A request that must be refused with 401.
struct BadAuth {
    target: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    reason: &'static [&'static str],
}

#[tokio::test]
async fn injected_rate_limit_and_server_errors() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;

    let rules = put_faults(
        addr,
        json!([{"kind": "rate_limit", "retry_after_secs": 7, "categories": ["error"], "rate": 1.0}]),
    )
    .await;
    assert_eq!(rules["faults"][0]["kind"], json!("rate_limit"));
    for attempt in 0..2 {
        let reply = post_envelope(addr, &event_envelope(&new_event_id(), "rate limited")).await;
        assert_eq!(reply.status, 429, "attempt {attempt}: {}", reply.text());
        assert_eq!(reply.header("retry-after"), Some("7"));
        let limits = reply.header("x-sentry-rate-limits").unwrap_or_default();
        assert!(
            limits.starts_with("7:error:"),
            "X-Sentry-Rate-Limits {limits:?}"
        );
        assert!(
            !reply.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }
    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(refusals["by_status"]["429"], json!(2), "{refusals}");
    assert!(
        refusals["refusals"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("429")
    );

    clear_faults(addr).await;
    let id = new_event_id();
    let reply = post_envelope(addr, &event_envelope(&id, "after the rate limit")).await;
    assert_eq!(reply.status, 200, "faults cleared: {}", reply.text());
    stored.push(id);

    put_faults(addr, json!([{"kind": "server_error", "rate": 0.5}])).await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let id = new_event_id();
        let reply = post_envelope(addr, &event_envelope(&id, &format!("half fail {n}"))).await;
        if reply.status == 200 {
            stored.push(id);
        }
        statuses.push(reply.status);
    }
    assert_eq!(
        statuses,
        [200, 500, 200, 500, 200, 500, 200, 500],
        "rate 0.5 fails every second request"
    );
    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(refusals["by_status"]["500"], json!(4), "{refusals}");

    assert_stored_exactly(addr, &stored, "faulted requests store nothing").await;

    let rules = json!({"faults": [{"kind": "server_error", "rate": 1.5}]});
    let reply = send(
        addr,
        "PUT",
        "/api/faults/",
        &[],
        rules.to_string().as_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        400,
        "a rate above 1 is refused: {}",
        reply.text()
    );
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rate")
    );
}

/// Sets `rule` through `PUT /api/faults/`, sends one envelope, clears the rule (so that the good
/// envelope `assert_refused` posts is not faulted too), and checks the refusal names the fault.
async fn injected_fault_case(rule: Value, status: u16, fault: &str) {
    let reply = refused_case(
        Config::ephemeral(),
        status,
        &["injected fault", fault],
        |addr| async move {
            put_faults(addr, json!([rule])).await;
            let reply = post_envelope(addr, &event_envelope(&new_event_id(), "faulted")).await;
            clear_faults(addr).await;
            reply
        },
    )
    .await;
    assert_eq!(
        reply.json()["detail"],
        json!(format!("injected fault: {fault}"))
    );
}

#[tokio::test]
async fn injected_too_large_is_413() {
    injected_fault_case(json!({"kind": "too_large"}), 413, "413 too large").await;
}

#[tokio::test]
async fn injected_unavailable_is_503() {
    injected_fault_case(json!({"kind": "unavailable"}), 503, "503 unavailable").await;
}

#[tokio::test]
async fn injected_delay_answers_normally_but_late() {
    const DELAY: Duration = Duration::from_millis(300);
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;
    let rules = put_faults(addr, json!([{"kind": "delay", "millis": 300}])).await;
    assert_eq!(
        rules,
        json!({"faults": [{"kind": "delay", "millis": 300, "rate": 1.0, "project": null}]})
    );
    for n in 0..2 {
        let id = new_event_id();
        let started = Instant::now();
        let reply = post_envelope(addr, &event_envelope(&id, &format!("delayed {n}"))).await;
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "delayed {n}: {}", reply.text());
        assert_eq!(reply.json(), json!({"id": id}));
        assert!(took >= DELAY, "delayed {n} answered after only {took:?}");
        stored.push(id);
    }
    clear_faults(addr).await;
    let id = new_event_id();
    let reply = post_envelope(addr, &event_envelope(&id, "after the delay")).await;
    assert_eq!(reply.status, 200, "after the delay: {}", reply.text());
    stored.push(id);

    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(
        refusals["total"],
        json!(0),
        "a delay refuses nothing: {refusals}"
    );
    assert_stored_exactly(addr, &stored, "a delay drops nothing").await;
}

#[tokio::test]
async fn a_project_fault_rule_hits_only_that_project() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;
    put_faults(addr, json!([{"kind": "server_error", "project": 2}])).await;

    let reply = post_envelope_to(addr, 2, &event_envelope(&new_event_id(), "to project 2")).await;
    // The good envelope assert_refused sends goes to project 1, with the rule still in place.
    assert_refused(
        addr,
        &reply,
        500,
        &["injected fault", "500 server error"],
        &mut stored,
        &[ENVELOPE_CT],
    )
    .await;
    assert_eq!(
        reply.json()["detail"],
        json!("injected fault: 500 server error")
    );
    let refusals = get_json(addr, "/api/refusals/").await;
    let newest = &refusals["refusals"][0];
    assert_eq!(newest["project_id"], json!(2), "{refusals}");
    assert_eq!(newest["path"], json!("/api/2/envelope/"), "{refusals}");

    let id = new_event_id();
    let reply = post_envelope_to(addr, 3, &event_envelope(&id, "to project 3")).await;
    assert_eq!(reply.status, 200, "project 3: {}", reply.text());
    let items = items_with_event_id(addr, &id).await;
    assert_eq!(items.len(), 1, "project 3 event stored");
    assert_eq!(items[0]["project_id"], json!(3), "{items:?}");
    stored.push(id);

    let reply = post_envelope_to(
        addr,
        2,
        &event_envelope(&new_event_id(), "to project 2 again"),
    )
    .await;
    assert_eq!(reply.status, 500, "project 2 again: {}", reply.text());
    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(refusals["by_status"]["500"], json!(2), "{refusals}");
    assert_stored_exactly(addr, &stored, "project 2 requests store nothing").await;
}

#[tokio::test]
async fn fault_flag_of_the_binary_hits_its_project() {
    let binary = Binary::start(["--fault", "500:1.0@3"]).await;
    let addr = binary.addr;
    let faults = get_json(addr, "/api/faults/").await;
    assert_eq!(
        faults,
        json!({"faults": [{"kind": "server_error", "rate": 1.0, "project": 3}]}),
        "--fault 500:1.0@3 parsed"
    );

    let faulted = new_event_id();
    let reply = post_envelope_to(addr, 3, &event_envelope(&faulted, "to project 3")).await;
    assert_eq!(
        reply.status,
        500,
        "project 3: {}; stderr: {}",
        reply.text(),
        binary.stderr()
    );
    assert_eq!(
        reply.json()["detail"],
        json!("injected fault: 500 server error")
    );
    let id = new_event_id();
    let reply = post_envelope(addr, &event_envelope(&id, "to project 1")).await;
    assert_eq!(
        reply.status,
        200,
        "project 1: {}; stderr: {}",
        reply.text(),
        binary.stderr()
    );
    assert_eq!(reply.json(), json!({"id": id}));

    assert_eq!(items_with_event_id(addr, &id).await.len(), 1);
    assert!(items_with_event_id(addr, &faulted).await.is_empty());
    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(refusals["total"], json!(1), "{refusals}");
    let newest = &refusals["refusals"][0];
    assert_eq!(newest["status"], json!(500), "{refusals}");
    assert_eq!(newest["project_id"], json!(3), "{refusals}");
    assert!(
        newest["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("500 server error"),
        "{refusals}"
    );
    binary.kill_9().await;
}

#[tokio::test]
async fn more_items_than_max_items_per_envelope_is_413() {
    let config = Config {
        limits: Limits {
            max_items_per_envelope: 3,
            ..Default::default()
        },
        ..Config::ephemeral()
    };
    let items: Vec<(Value, Vec<u8>)> = (0..4)
        .map(|n| {
            (
                json!({"type": "attachment", "filename": format!("{n}.txt")}),
                format!("attachment {n}").into_bytes(),
            )
        })
        .collect();
    let body = envelope(json!({"event_id": new_event_id()}), &items);
    refused_case(config, 413, &["4 items", "limit of 3"], |addr| async move {
        post_envelope(addr, &body).await
    })
    .await;
}

#[tokio::test]
async fn more_sessions_than_max_sessions_is_413() {
    let config = Config {
        limits: Limits {
            max_sessions: 2,
            ..Default::default()
        },
        ..Config::ephemeral()
    };
    let sessions: Vec<(Value, Vec<u8>)> = (0..3).map(|_| session_item()).collect();
    let body = envelope(json!({}), &sessions);
    refused_case(
        config,
        413,
        &["3 sessions", "limit of 2"],
        |addr| async move { post_envelope(addr, &body).await },
    )
    .await;
}

#[tokio::test]
async fn client_report_over_max_client_report_is_413() {
    let limit = Limits::default().max_client_report;
    let discarded: Vec<Value> = (0..200)
        .map(|n| json!({"reason": "queue_overflow", "category": "error", "quantity": n}))
        .collect();
    let payload = json!({"timestamp": 1_700_000_000, "discarded_events": discarded})
        .to_string()
        .into_bytes();
    assert!(payload.len() > limit, "{} bytes", payload.len());
    let body = envelope(json!({}), &[(json!({"type": "client_report"}), payload)]);
    let limit_text = limit.to_string();
    let reply = refused_case(
        Config::ephemeral(),
        413,
        &["size limits for type 'client_report'", &limit_text],
        |addr| async move { post_envelope(addr, &body).await },
    )
    .await;
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("client_report"),
        "detail names the item type: {detail}"
    );
}

/// `--public-url` is the DSN the binary shows (the API index, the UI); a malformed one is
/// refused at start with the reason.
#[tokio::test]
async fn public_url_sets_the_dsn_and_malformed_ones_are_refused() {
    let binary = Binary::start(["--public-url", "http://fake-sentry:8000/"]).await;
    let index = get_json(binary.addr, "/api/").await;
    assert_eq!(index["dsn"], "http://public@fake-sentry:8000/1", "{index}");
    drop(binary);
    let binary = Binary::start(std::iter::empty::<&str>()).await;
    let index = get_json(binary.addr, "/api/").await;
    assert_eq!(
        index["dsn"],
        format!("http://public@127.0.0.1:{}/1", binary.addr.port()),
        "{index}"
    );
    drop(binary);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fake-sentry"))
        .args(["--port", "0", "--public-url", "fake-sentry:8000"])
        .env_clear()
        .output()
        .expect("run fake-sentry");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid public URL"), "{stderr}");
}

/// A config whose in-flight memory budget is `budget` bytes, everything else as usual.
fn with_in_flight_budget(budget: usize) -> Config {
    let mut config = Config::ephemeral();
    config.limits.max_in_flight = budget;
    config
}

/// An event envelope whose attachment makes it about `size` bytes.
fn envelope_of_size(event_id: &str, size: usize) -> Vec<u8> {
    envelope(
        json!({"event_id": event_id}),
        &[
            (
                json!({"type": "event"}),
                json!({"event_id": event_id, "message": "big one"})
                    .to_string()
                    .into_bytes(),
            ),
            (
                json!({"type": "attachment", "filename": "big.bin"}),
                vec![b'a'; size],
            ),
        ],
    )
}

async fn in_flight_bytes(addr: SocketAddr) -> u64 {
    let stats = get_json(addr, "/api/stats/").await;
    stats["in_flight"]["bytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("stats without in-flight bytes: {stats}"))
}

#[tokio::test]
async fn a_body_bigger_than_the_in_flight_budget_is_413() {
    refused_case(
        with_in_flight_budget(256 * 1024),
        413,
        &["in-flight memory budget of 262144 bytes"],
        |addr| async move { post_envelope(addr, &envelope_of_size(&new_event_id(), 300 * 1024)).await },
    )
    .await;
}

#[tokio::test]
async fn a_body_that_decompresses_past_the_in_flight_budget_is_413() {
    let body = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(&envelope_of_size(&new_event_id(), 400 * 1024))
            .expect("gzip");
        encoder.finish().expect("gzip")
    };
    assert!(body.len() < 64 * 1024, "compresses well: {}", body.len());
    refused_case(
        with_in_flight_budget(256 * 1024),
        413,
        &["in-flight memory budget"],
        |addr| async move {
            post(
                addr,
                "/api/1/envelope/",
                &[ENVELOPE_CT, ("Content-Encoding", "gzip")],
                &body,
            )
            .await
        },
    )
    .await;
}

/// While one request holds part of the budget, a request that would fit alone but not beside it
/// gets 503 with `Retry-After`; once the first is done (and stored) the budget is whole again
/// and the second fits. An uncompressed envelope costs four times its size in flight: the
/// body, its decoded copy, the items parsed out of it and its compact form.
#[tokio::test]
async fn requests_that_find_the_in_flight_budget_in_use_get_503() {
    use tokio::io::AsyncWriteExt;
    const KIB: usize = 1024;
    let sentry = FakeSentry::start_with(with_in_flight_budget(3840 * KIB))
        .await
        .expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;
    assert_eq!(in_flight_bytes(addr).await, 0);

    // Send all but the last bytes of a 900 KiB envelope and keep the connection open: its
    // body is charged (3,600 KiB once it is decoded, parsed and compressed too).
    let held_id = new_event_id();
    let held_body = envelope_of_size(&held_id, 900 * KIB);
    let (sent, rest) = held_body.split_at(held_body.len() - 10);
    let mut held = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-sentry-envelope\r\nContent-Length: {}\r\n\r\n",
        held_body.len()
    );
    held.write_all(head.as_bytes()).await.expect("write head");
    held.write_all(sent).await.expect("write body");
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_flight_bytes(addr).await < held_body.len() as u64 {
        assert!(Instant::now() < deadline, "the held body is never charged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // 800 KiB (3,200 KiB in flight) does not fit beside the 900 KiB body.
    let reply = post_envelope(addr, &envelope_of_size(&new_event_id(), 800 * KIB)).await;
    assert_refused(
        addr,
        &reply,
        503,
        &["in use by other requests"],
        &mut stored,
        &[ENVELOPE_CT],
    )
    .await;
    assert_eq!(reply.header("retry-after"), Some("1"));

    // The rest of the held body arrives: that envelope is stored, and the budget is free.
    held.write_all(rest).await.expect("write the rest");
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut held, &mut answer)
        .await
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "held request: {answer}");
    // The event and its attachment.
    assert_eq!(items_with_event_id(addr, &held_id).await.len(), 2);
    assert_eq!(in_flight_bytes(addr).await, 0);

    let after = new_event_id();
    let reply = post_envelope(addr, &envelope_of_size(&after, 800 * KIB)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(items_with_event_id(addr, &after).await.len(), 2);
    assert_eq!(in_flight_bytes(addr).await, 0);
    for id in &stored {
        assert_eq!(items_with_event_id(addr, id).await.len(), 1, "{id} is gone");
    }
}

/// What storing an envelope makes is charged too, from before it is made until the envelope is
/// committed: the compact form of its body, which zstd hands back in a buffer as large as the
/// body however small it compressed to. A 900 KiB uncompressed envelope needs about 3,600 KiB:
/// under 3,200 KiB its body, decoded copy and items fit, its compact form does not, and it is
/// refused; under 3,700 KiB it is stored, unless it is also forwarded (the copy sent upstream
/// needs 1,800 KiB more). Either way the budget is whole again afterwards.
#[tokio::test]
async fn the_compact_copy_of_a_body_is_charged_until_it_is_committed() {
    const KIB: usize = 1024;
    let body = envelope_of_size(&new_event_id(), 900 * KIB);
    let reply = refused_case(
        with_in_flight_budget(3200 * KIB),
        413,
        &[
            "in-flight memory budget of 3276800 bytes",
            "--max-in-flight",
        ],
        |addr| async move {
            let reply = post_envelope(addr, &body).await;
            assert_eq!(in_flight_bytes(addr).await, 0, "released when refused");
            reply
        },
    )
    .await;
    drop(reply);

    let sentry = FakeSentry::start_with(with_in_flight_budget(3700 * KIB))
        .await
        .expect("start fake-sentry");
    let addr = sentry.addr();
    let stored = new_event_id();
    let reply = post_envelope(addr, &envelope_of_size(&stored, 900 * KIB)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(items_with_event_id(addr, &stored).await.len(), 2);
    assert_eq!(in_flight_bytes(addr).await, 0, "released once committed");

    let mut forwarding = with_in_flight_budget(3700 * KIB);
    forwarding.forward = Some(ForwardConfig::new(
        "http://public@127.0.0.1:9/1".parse().expect("dsn"),
    ));
    refused_case(forwarding, 413, &["--max-in-flight"], |addr| async move {
        let reply = post_envelope(addr, &envelope_of_size(&new_event_id(), 900 * KIB)).await;
        assert_eq!(in_flight_bytes(addr).await, 0, "released when refused");
        reply
    })
    .await;
}

/// A client that stops halfway through its body gets 408 once the body timeout has passed, and
/// what it held of the in-flight budget comes back.
#[tokio::test]
async fn a_body_that_stops_arriving_is_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::ephemeral();
    config.limits.body_timeout = Duration::from_millis(300);
    let sentry = FakeSentry::start_with(config)
        .await
        .expect("start fake-sentry");
    let addr = sentry.addr();
    let mut stored = seed(addr).await;

    let body = envelope_of_size(&new_event_id(), 64 * 1024);
    // Before the headers go out, so the server's clock cannot have started earlier.
    let started = Instant::now();
    let mut stalled = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-sentry-envelope\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stalled
        .write_all(head.as_bytes())
        .await
        .expect("write head");
    stalled
        .write_all(&body[..body.len() / 2])
        .await
        .expect("write half the body");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut answer))
        .await
        .expect("an answer before the test's own deadline")
        .expect("read the answer");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered before the timeout: {:?}",
        started.elapsed()
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "stalled request: {answer}"
    );
    assert!(answer.contains("did not arrive within 0.3 s"), "{answer}");
    assert_eq!(in_flight_bytes(addr).await, 0);

    // The refusal is recorded, the server still stores, and nothing was lost.
    let refusals = get_json(addr, "/api/refusals/").await;
    assert_eq!(refusals["refusals"][0]["status"], json!(408), "{refusals}");
    let after = new_event_id();
    let good = post_envelope(addr, &event_envelope(&after, "after the stalled request")).await;
    assert_eq!(good.status, 200, "{}", good.text());
    stored.push(after);
    assert_stored_exactly(addr, &stored, "a stalled request stores nothing").await;
}
