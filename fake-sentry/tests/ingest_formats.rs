//! Everything real clients put on the wire is accepted and kept: content types, encodings,
//! auth locations, every endpoint and item type; plus the query side a test relies on (filters,
//! pagination, waits, live streams, CORS, Dockerflow).

mod support;

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use fake_sentry::testing::{FakeSentry, of_type};
use fake_sentry::{BodyStorage, Config};
use futures::StreamExt;
use serde_json::{Value, json};
use support::get_json;

const EVENT_ID: &str = "0123456789abcdef0123456789abcdef";

fn envelope(event_id: &str, message: &str) -> Vec<u8> {
    let payload = json!({"event_id": event_id, "message": message, "level": "error", "platform": "python",
                         "release": "r1", "environment": "test", "sdk": {"name": "sentry.test", "version": "1"}})
    .to_string();
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("zlib");
    e.finish().expect("zlib")
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
    w.write_all(data).expect("brotli");
    drop(w);
    out
}

#[tokio::test]
async fn form_urlencoded_text_plain_multipart_and_missing_content_types_are_all_envelopes() {
    // Kent silently drops form-urlencoded envelopes; browsers send text/plain.
    let sentry = FakeSentry::start().await.expect("start");
    let url = format!("{}/api/1/envelope/", sentry.url());
    let cases = [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain;charset=UTF-8"),
        Some("multipart/form-data"),
        Some("application/json"),
        Some("application/x-sentry-envelope"),
        None,
    ];
    for (i, content_type) in cases.iter().enumerate() {
        let id = format!("{:032x}", i + 1);
        let headers: Vec<(&str, &str)> = content_type
            .iter()
            .map(|ct| ("content-type", *ct))
            .collect();
        let reply = post(&url, &headers, envelope(&id, &format!("case {i}"))).await;
        assert_eq!(
            reply.status,
            200,
            "{content_type:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.json(),
            json!({"id": id}),
            "Relay's answer for {content_type:?}"
        );
        let item = support::item_by_event_id(&sentry.url(), &id, "event").await;
        assert_eq!(item["item"]["summary"], format!("case {i}"));
        assert_eq!(item["envelope"]["content_type"], json!(content_type));
    }
}

/// Every coding is undone, in both body forms: `as-sent` gives every body back byte for byte;
/// `compact` (the default) keeps an encoded body decoded when that is smaller, says so, and
/// answers `?as_sent` with 409 for it, while an identity body is still there as sent.
#[tokio::test]
async fn every_content_encoding_is_decoded() {
    for bodies in [BodyStorage::AsSent, BodyStorage::Compact] {
        every_content_encoding_is_decoded_keeping(bodies).await;
    }
}

async fn every_content_encoding_is_decoded_keeping(bodies: BodyStorage) {
    let sentry = FakeSentry::start_with(Config {
        bodies,
        ..Config::ephemeral()
    })
    .await
    .expect("start");
    let url = format!("{}/api/7/envelope", sentry.url()); // no trailing slash
    type Encoder = fn(&[u8]) -> Vec<u8>;
    let cases: [(&str, Encoder); 7] = [
        ("gzip", gzip),
        ("deflate", zlib),
        ("deflate", raw_deflate),
        ("br", brotli),
        ("zstd", |d| zstd::encode_all(d, 3).expect("zstd")),
        ("identity", |d| d.to_vec()),
        ("UTF-8", |d| d.to_vec()), // sentry-ruby 5.x sends this; Relay ignores it
    ];
    for (i, (encoding, encode)) in cases.iter().enumerate() {
        let id = format!("{:032x}", 100 + i);
        let reply = post(
            &url,
            &[("content-encoding", encoding)],
            encode(&envelope(&id, encoding)),
        )
        .await;
        assert_eq!(
            reply.status,
            200,
            "{encoding}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let item = support::item_by_event_id(&sentry.url(), &id, "event").await;
        assert_eq!(item["item"]["project_id"], 7);
        assert_eq!(item["envelope"]["content_encoding"], *encoding);
        // The body is kept as sent and served decoded, or as sent on request.
        let plain = envelope(&id, encoding);
        let raw_url = format!(
            "{}/api/envelopes/{}/raw",
            sentry.url(),
            item["envelope"]["id"]
        );
        let decoded = reqwest::get(&raw_url)
            .await
            .expect("raw")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(&decoded[..], &plain[..], "{encoding}: decoded body");
        let as_sent = reqwest::get(format!("{raw_url}?as_sent=1"))
            .await
            .expect("raw");
        let encoded = matches!(*encoding, "gzip" | "deflate" | "br" | "zstd");
        let kept = bodies == BodyStorage::AsSent || !encoded;
        assert_eq!(
            item["envelope"]["kept_as_sent"], kept,
            "{encoding} {bodies:?}"
        );
        assert_eq!(item["envelope"]["size"], plain.len());
        assert_eq!(item["envelope"]["wire_size"], encode(&plain).len());
        if kept {
            assert_eq!(as_sent.status(), 200, "{encoding} {bodies:?}");
            let as_sent = as_sent.bytes().await.expect("bytes");
            assert_eq!(
                &as_sent[..],
                &encode(&plain)[..],
                "{encoding}: body as sent"
            );
        } else {
            assert_eq!(as_sent.status(), 409, "{encoding} {bodies:?}");
            let error: Value = as_sent.json().await.expect("error JSON");
            assert!(
                error["error"]
                    .as_str()
                    .is_some_and(|d| d.contains("--bodies as-sent")),
                "{error}"
            );
        }
    }
    // Two codings applied in order are undone in reverse.
    let id = format!("{:032x}", 200);
    let body = gzip(&brotli(&envelope(&id, "br then gzip")));
    let reply = post(&url, &[("content-encoding", "br, gzip")], body).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    support::item_by_event_id(&sentry.url(), &id, "event").await;
}

#[tokio::test]
async fn store_endpoint_accepts_plain_legacy_and_non_finite_json() {
    let sentry = FakeSentry::start().await.expect("start");
    let url = format!("{}/api/3/store/", sentry.url());
    let auth = (
        "x-sentry-auth",
        "Sentry sentry_key=abc, sentry_version=7, sentry_client=raven-python/6.10.0",
    );
    let event = |id: &str, msg: &str| {
        json!({"event_id": id, "message": msg})
            .to_string()
            .into_bytes()
    };

    let plain = post(
        &url,
        &[auth, ("content-type", "application/json")],
        event(&format!("{:032x}", 1), "plain"),
    )
    .await;
    assert_eq!(plain.json(), json!({"id": format!("{:032x}", 1)}));

    // raven-python: base64 of zlib of JSON.
    let legacy = base64::engine::general_purpose::STANDARD
        .encode(zlib(&event(&format!("{:032x}", 2), "legacy")));
    let reply = post(
        &url,
        &[auth, ("content-type", "application/octet-stream")],
        legacy.into_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    // Python's json writes NaN; Relay turns it into null.
    let nan = format!(
        r#"{{"event_id":"{:032x}","message":"nan","extra":{{"x":NaN}}}}"#,
        3
    )
    .into_bytes();
    assert_eq!(post(&url, &[auth], nan).await.status, 200);

    // No event_id: one is assigned and answered.
    let reply = post(&url, &[auth], br#"{"message":"no id"}"#.to_vec()).await;
    let assigned = reply.json()["id"]
        .as_str()
        .expect("assigned id")
        .to_string();
    assert_eq!(assigned.len(), 32);

    for (id, summary) in [
        (format!("{:032x}", 2), "legacy"),
        (format!("{:032x}", 3), "nan"),
        (assigned, "no id"),
    ] {
        let item = support::item_by_event_id(&sentry.url(), &id, "event").await;
        assert_eq!(item["item"]["summary"], summary);
        assert_eq!(item["envelope"]["endpoint"], "store");
        assert_eq!(item["envelope"]["client"], "raven-python/6.10.0");
    }
    let nan_item = support::item_by_event_id(&sentry.url(), &format!("{:032x}", 3), "event").await;
    assert_eq!(nan_item["payload"]["extra"]["x"], Value::Null);

    // The image-beacon GET form answers with a GIF.
    let data = json!({"event_id": format!("{:032x}", 4), "message": "beacon"}).to_string();
    let beacon = reqwest::Client::new()
        .get(format!("{}/api/3/store/", sentry.url()))
        .query(&[
            ("sentry_key", "abc"),
            ("sentry_version", "7"),
            ("sentry_data", data.as_str()),
        ])
        .send()
        .await
        .expect("beacon");
    assert_eq!(beacon.status(), 200);
    assert_eq!(beacon.headers()["content-type"], "image/gif");
    support::item_by_event_id(&sentry.url(), &format!("{:032x}", 4), "event").await;

    // A beacon has no body, so a Content-Encoding it carries (even one ingest cannot decode)
    // describes nothing stored: it is accepted, and what it stored stays readable (the fuzz
    // target `ingest` found such an envelope kept with an encoding its reader refused).
    let data = json!({"event_id": format!("{:032x}", 5), "message": "odd beacon"}).to_string();
    let beacon = reqwest::Client::new()
        .get(format!("{}/api/3/store/", sentry.url()))
        .header("content-encoding", "compress")
        .query(&[("sentry_key", "abc"), ("sentry_data", data.as_str())])
        .send()
        .await
        .expect("beacon");
    assert_eq!(beacon.status(), 200);
    let item = support::item_by_event_id(&sentry.url(), &format!("{:032x}", 5), "event").await;
    assert_eq!(item["payload"]["message"], "odd beacon");
    assert_eq!(item["envelope"]["content_encoding"], Value::Null);
    assert_eq!(
        item["envelope"]["http_headers"]["content-encoding"], "compress",
        "the header is still recorded as sent: {item}"
    );
    for link in ["raw", "envelope_raw"] {
        let path = item["links"][link].as_str().expect("link");
        let reply = reqwest::get(format!("{}{path}", sentry.url()))
            .await
            .expect("read");
        assert_eq!(reply.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn security_reports_in_both_formats() {
    let sentry = FakeSentry::start().await.expect("start");
    let legacy = json!({"csp-report": {"document-uri": "https://example.com/", "violated-directive": "script-src 'self'",
                                       "blocked-uri": "https://evil.example/x.js"}});
    let reply = post(
        &format!(
            "{}/api/2/security/?sentry_key=k&sentry_release=web%401.2&sentry_environment=prod",
            sentry.url()
        ),
        &[("content-type", "application/csp-report")],
        legacy.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let reporting_api = json!([
        {"type": "csp-violation", "url": "https://example.com/a", "body": {"effectiveDirective": "img-src", "blockedURL": "https://x/1.png"}},
        {"type": "csp-violation", "url": "https://example.com/b", "body": {"effectiveDirective": "style-src", "blockedURL": "inline"}}
    ]);
    let reply = post(
        &format!("{}/api/2/csp-report/?sentry_key=k", sentry.url()),
        &[("content-type", "application/reports+json")],
        reporting_api.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);

    let items = sentry
        .wait_for(of_type("security"), 3)
        .await
        .expect("three reports");
    let summaries: Vec<&str> = items.iter().map(|i| i.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "csp-report: script-src 'self'",
            "csp-report: img-src",
            "csp-report: style-src"
        ]
    );
    assert_eq!(items[0].release.as_deref(), Some("web@1.2"));
    assert_eq!(items[0].environment.as_deref(), Some("prod"));
    // Kent gives every report of a list the same id; here each is its own item and event.
    assert_ne!(items[1].id, items[2].id);
    assert_ne!(items[1].event_id, items[2].event_id);
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn minidump_uploads_multipart_and_gzipped_like_antenna() {
    let sentry = FakeSentry::start().await.expect("start");
    let url = format!("{}/api/4/minidump/?sentry_key=k", sentry.url());
    let dump: Vec<u8> = b"MDMP\x93\xa7\x00\x00"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 256))
        .collect();
    let boundary = "----understudy";
    let sentry_json = json!({"release": "app@2.0", "tags": {"channel": "nightly"}}).to_string();
    let body = multipart(
        boundary,
        &[
            ("upload_file_minidump", Some("crash.dmp"), &dump),
            ("sentry", None, sentry_json.as_bytes()),
            ("sentry[environment]", None, b"staging"),
            ("ProductName", None, b"Firefox"),
            (
                "memory_report",
                Some("memory.json.gz"),
                b"\x1f\x8bnot really",
            ),
        ],
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let reply = post(
        &url,
        &[
            ("content-type", &content_type),
            ("content-encoding", "gzip"),
        ],
        gzip(&body),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let answered = String::from_utf8(reply.body.clone()).expect("utf-8 id");
    let event_id = uuid::Uuid::parse_str(answered.trim())
        .expect("a hyphenated UUID")
        .simple()
        .to_string();
    assert_eq!(answered.trim().len(), 36);

    let event = support::item_by_event_id(&sentry.url(), &event_id, "event").await;
    assert_eq!(event["payload"]["release"], "app@2.0");
    assert_eq!(event["payload"]["environment"], "staging");
    assert_eq!(event["payload"]["tags"]["channel"], "nightly");
    assert_eq!(event["payload"]["extra"]["ProductName"], "Firefox");
    assert_eq!(event["payload"]["platform"], "native");
    let attachments = get_json(&format!(
        "{}/api/items/?type=attachment&event_id={event_id}&order=asc",
        sentry.url()
    ))
    .await;
    let attachments = attachments["items"].as_array().expect("items");
    assert_eq!(attachments.len(), 2, "{attachments:?}");
    assert_eq!(attachments[0]["filename"], "crash.dmp");
    let raw = reqwest::get(format!(
        "{}/api/items/{}/raw",
        sentry.url(),
        attachments[0]["id"].as_str().unwrap_or_default()
    ))
    .await
    .expect("raw")
    .bytes()
    .await
    .expect("bytes");
    assert_eq!(&raw[..], &dump[..], "the minidump bytes are kept exactly");
    assert_eq!(attachments[1]["filename"], "memory.json.gz");

    // A raw minidump body works too; something that is not a minidump is refused.
    let raw_reply = post(
        &url,
        &[("content-type", "application/octet-stream")],
        dump.clone(),
    )
    .await;
    assert_eq!(raw_reply.status, 200);
    let bad = multipart(
        boundary,
        &[("upload_file_minidump", Some("x.dmp"), b"not a dump")],
    );
    let bad_reply = post(&url, &[("content-type", &content_type)], bad).await;
    assert_eq!(bad_reply.status, 400);
    assert_eq!(bad_reply.json()["detail"], "invalid minidump");
}

#[tokio::test]
async fn every_item_type_is_kept_including_unknown_and_binary() {
    let sentry = FakeSentry::start().await.expect("start");
    let binary: &[u8] = &[0, 159, 146, 150, b'\n', 255];
    let items: Vec<(Value, Vec<u8>)> = vec![
        (
            json!({"type": "event"}),
            json!({"message": "with friends", "event_id": EVENT_ID})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "attachment", "filename": "a.txt", "length": 5}),
            b"hello".to_vec(),
        ),
        (
            json!({"type": "session"}),
            json!({"sid": "s", "status": "ok", "attrs": {"release": "r"}})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "client_report"}),
            json!({"discarded_events": [{"reason": "x", "category": "error", "quantity": 3}]})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "log", "item_count": 1, "content_type": "application/vnd.sentry.items.log+json"}),
            json!({"items": [{"level": "info", "body": "logged"}]})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "check_in"}),
            json!({"monitor_slug": "nightly", "status": "ok"})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "replay_recording", "length": binary.len()}),
            binary.to_vec(),
        ),
        (
            json!({"type": "statsd", "length": 13}),
            b"metric:1|c|#a".to_vec(),
        ),
        (
            json!({"type": "profile_chunk"}),
            json!({"chunk_id": "c"}).to_string().into_bytes(),
        ),
        (
            json!({"type": "feedback"}),
            json!({"contexts": {"feedback": {"message": "nice"}}})
                .to_string()
                .into_bytes(),
        ),
        (
            json!({"type": "something_new", "length": 4}),
            b"\x01\x02\x03\x04".to_vec(),
        ),
    ];
    let mut body = format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"sdk\":{{\"name\":\"sentry.test\",\"version\":\"9\"}}}}\n"
    )
    .into_bytes();
    for (header, payload) in &items {
        body.extend_from_slice(header.to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(payload);
        body.push(b'\n');
    }
    let reply = post(
        &format!("{}/api/1/envelope/", sentry.url()),
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let stored = sentry.items(Default::default()).await.expect("items");
    let types: Vec<&str> = stored.iter().map(|i| i.item_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "event",
            "attachment",
            "session",
            "client_report",
            "log",
            "check_in",
            "replay_recording",
            "statsd",
            "profile_chunk",
            "feedback",
            "something_new"
        ]
    );
    assert!(
        stored.iter().all(|i| i.decode_error.is_none()),
        "{stored:?}"
    );
    assert_eq!(stored[3].summary, "client report: 3 discarded");
    assert_eq!(stored[4].summary, "log: info logged");
    assert_eq!(stored[9].summary, "feedback: nice");
    // Binary payloads come back byte for byte, and so does the whole envelope.
    let raw = reqwest::get(format!("{}/api/items/{}/raw", sentry.url(), stored[6].id))
        .await
        .expect("raw")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&raw[..], binary);
    let envelope_raw = reqwest::get(format!(
        "{}/api/envelopes/{}/raw",
        sentry.url(),
        stored[0].envelope_id
    ))
    .await
    .expect("raw envelope")
    .bytes()
    .await
    .expect("bytes");
    assert_eq!(&envelope_raw[..], &body[..]);
    // Kent's API shows binary items instead of failing with 500.
    let kent = get_json(&format!("{}/api/event/{}", sentry.url(), stored[6].id)).await;
    assert_eq!(kent["payload"]["body"]["encoding"], "base64");
    assert_eq!(kent["payload"]["header"]["type"], "replay_recording");
}

#[tokio::test]
async fn auth_is_read_from_every_location() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = format!("{}/api/1/envelope/", sentry.url());
    let dsn_envelope = |id: &str| {
        let mut body =
            format!("{{\"event_id\":\"{id}\",\"dsn\":\"http://fromdsn@localhost/1\"}}\n")
                .into_bytes();
        body.extend_from_slice(b"{\"type\":\"event\"}\n{\"message\":\"dsn\"}\n");
        body
    };
    // (url, headers, body, expected auth source, expected key)
    type AuthCase<'a> = (String, Vec<(&'a str, &'a str)>, Vec<u8>, &'a str, &'a str);
    let cases: Vec<AuthCase> = vec![
        (
            base.clone(),
            vec![("x-sentry-auth", "Sentry sentry_key=hdr, sentry_version=7")],
            envelope(&format!("{:032x}", 1), "a"),
            "x_sentry_auth",
            "hdr",
        ),
        (
            base.clone(),
            vec![("authorization", "Sentry sentry_key=authz, sentry_version=7")],
            envelope(&format!("{:032x}", 2), "b"),
            "authorization",
            "authz",
        ),
        (
            format!("{base}?sentry_key=qry&sentry_version=7"),
            vec![],
            envelope(&format!("{:032x}", 3), "c"),
            "query",
            "qry",
        ),
        (
            base.clone(),
            vec![],
            dsn_envelope(&format!("{:032x}", 4)),
            "envelope_dsn",
            "fromdsn",
        ),
    ];
    for (url, headers, body, source, key) in cases {
        let reply = post(&url, &headers, body).await;
        assert_eq!(reply.status, 200);
        let id = reply.json()["id"].as_str().expect("id").to_string();
        let item = support::item_by_event_id(&sentry.url(), &id, "event").await;
        assert_eq!(item["envelope"]["auth_source"], source);
        assert_eq!(item["envelope"]["public_key"], key);
    }
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let sentry = FakeSentry::start().await.expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/api/1/envelope/", sentry.url());
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-sentry-auth,content-type,sentry-trace,baggage",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for needed in [
        "x-sentry-auth",
        "content-type",
        "sentry-trace",
        "baggage",
        "content-encoding",
    ] {
        assert!(allowed.contains(needed), "{needed} not allowed: {allowed}");
    }
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap_or_default()
            .contains("POST")
    );
    assert_eq!(h["access-control-max-age"], "3600");
    let reply = client
        .post(&url)
        .header("origin", "http://localhost:3000")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(envelope(EVENT_ID, "from a browser"))
        .send()
        .await
        .expect("post");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
    let exposed = reply.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-sentry-rate-limits") && exposed.contains("retry-after"),
        "{exposed}"
    );
}

#[tokio::test]
async fn relay_answers_and_sessions_only_envelopes() {
    let sentry = FakeSentry::start().await.expect("start");
    let body = b"{}\n{\"type\":\"session\"}\n{\"sid\":\"x\",\"status\":\"exited\"}\n".to_vec();
    let reply = post(&format!("{}/api/1/envelope/", sentry.url()), &[], body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({}), "no event, no id");
    let reply = post(
        &format!("{}/api/1/envelope/", sentry.url()),
        &[],
        envelope(EVENT_ID, "x"),
    )
    .await;
    assert_eq!(reply.json(), json!({"id": EVENT_ID}));
}

/// Text search ignores ASCII case, takes `%` and `_` literally, and reaches into binary
/// attachments past their NUL bytes, in memory and on a file (whose read connections are
/// separate from the writer's).
#[tokio::test]
async fn text_search_ignores_case_and_reads_binary_attachments() {
    let dir = std::env::temp_dir().join(format!(
        "fake-sentry-search-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for storage in [
        fake_sentry::config::Storage::Memory,
        fake_sentry::config::Storage::File(dir.join("search.sqlite")),
    ] {
        let sentry = FakeSentry::start_with(fake_sentry::config::Config {
            storage,
            ..fake_sentry::config::Config::ephemeral()
        })
        .await
        .expect("start");
        let mut minidump = b"MDMP\x93\xa7\0\0\0\0\0\0".to_vec();
        minidump.extend_from_slice(b"\0\0C:\\builds\\xul.DLL\0\x01\x02");
        let mut body = envelope(EVENT_ID, "Upload 100%_done");
        body.extend_from_slice(
            format!(
                "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"crash.dmp\"}}\n",
                minidump.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(&minidump);
        body.push(b'\n');
        let reply = post(&format!("{}/api/1/envelope/", sentry.url()), &[], body).await;
        assert_eq!(reply.status, 200);
        let base = sentry.url();
        let types = |q: &str| {
            let url = format!("{base}/api/items/?q={q}");
            async move {
                let mut types: Vec<String> = get_json(&url).await["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(|i| i["type"].as_str().unwrap_or_default().to_string())
                    .collect();
                types.sort();
                types
            }
        };
        assert_eq!(types("upload%20100").await, ["event"]);
        assert_eq!(types("0%25_D").await, ["event"], "% and _ are plain text");
        assert_eq!(types("1_0").await, Vec::<String>::new());
        assert_eq!(types("XUL.dll").await, ["attachment"]);
        assert_eq!(types("nowhere").await, Vec::<String>::new());
        sentry.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn filters_and_cursor_pagination() {
    let sentry = FakeSentry::start().await.expect("start");
    let url = |p: u64| format!("{}/api/{p}/store/", sentry.url());
    for i in 0..25u64 {
        let level = if i % 5 == 0 { "fatal" } else { "error" };
        let release = format!("r{}", i % 2);
        let event = json!({"event_id": format!("{i:032x}"), "message": format!("needle-{i}"), "level": level,
                           "release": release, "environment": "qa", "sdk": {"name": "sentry.python.django", "version": "2"}});
        assert_eq!(
            post(&url(1 + i % 3), &[], event.to_string().into_bytes())
                .await
                .status,
            200
        );
    }
    let base = sentry.url();
    let count = |q: &str| {
        let url = format!("{base}/api/items/?limit=1000&{q}");
        async move {
            get_json(&url).await["items"]
                .as_array()
                .expect("items")
                .len()
        }
    };
    assert_eq!(count("").await, 25);
    assert_eq!(count("level=fatal").await, 5);
    assert_eq!(count("release=r1").await, 12);
    assert_eq!(count("project=2").await, 8);
    assert_eq!(
        count("sdk=sentry.python").await,
        25,
        "an SDK name prefix matches"
    );
    assert_eq!(
        count("sdk=sentry.pyth").await,
        0,
        "but only at a dot boundary"
    );
    assert_eq!(count("q=needle-1").await, 11, "needle-1 and needle-10..19");
    assert_eq!(count("q=needle-1&level=error&project=3").await, 3);
    assert_eq!(count(&format!("event_id={:032x}", 7)).await, 1);
    assert_eq!(
        count("since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z").await,
        25
    );
    assert_eq!(count("until=2000-01-01T00:00:00Z").await, 0);
    let bad = reqwest::get(format!("{base}/api/items/?since=yesterday"))
        .await
        .expect("bad time");
    assert_eq!(bad.status(), 400);
    let bad = reqwest::get(format!("{base}/api/items/?project=x"))
        .await
        .expect("bad project");
    assert_eq!(bad.status(), 400);

    // Cursor pagination visits every item once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{base}/api/items/?limit=7&cursor={c}"),
            None => format!("{base}/api/items/?limit=7"),
        };
        let page = get_json(&page_url).await;
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["seq"].as_i64().expect("seq")),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.dedup();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 25);
}

#[tokio::test]
async fn wait_returns_as_soon_as_items_arrive_and_reports_timeouts() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let waiter = tokio::spawn({
        let url = format!("{base}/api/wait/?type=event&count=2&timeout=30&project=5");
        async move { get_json(&url).await }
    });
    // The waiter blocks until the second matching item; a non-matching one does not count.
    let started = std::time::Instant::now();
    for (project, id) in [(5, 1), (6, 2), (5, 3)] {
        let reply = post(
            &format!("{base}/api/{project}/envelope/"),
            &[],
            envelope(&format!("{id:032x}"), "w"),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    let outcome = waiter.await.expect("waiter");
    assert_eq!(outcome["satisfied"], true);
    assert_eq!(outcome["count"], 2);
    assert_eq!(outcome["items"].as_array().expect("items").len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the wait returned on arrival, not at its timeout"
    );

    let timed_out = get_json(&format!(
        "{base}/api/wait/?type=transaction&count=1&timeout=0.2"
    ))
    .await;
    assert_eq!(timed_out["satisfied"], false);
    assert_eq!(timed_out["count"], 0);
}

/// Reads SSE text from `response` until `needle` appears or the deadline passes.
async fn read_sse_until(response: reqwest::Response, needle: &str) -> String {
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !text.contains(needle) {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!(
                "stream ended or timed out before {needle:?} ({:?}); got:\n{text}",
                other.map(|o| o.is_some())
            ),
        }
    }
    text
}

#[tokio::test]
async fn live_streams_spotlight_and_items() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let items = reqwest::get(format!("{base}/api/items/stream/?type=event"))
        .await
        .expect("items stream");
    assert_eq!(items.headers()["content-type"], "text/event-stream");
    let spotlight = reqwest::get(format!("{base}/stream"))
        .await
        .expect("spotlight stream");

    // Spotlight's SDK transport posts uncompressed envelopes to /stream.
    let reply = post(
        &format!("{base}/stream"),
        &[("content-type", "application/x-sentry-envelope")],
        envelope(EVENT_ID, "via spotlight"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    // A transaction the item stream's filter excludes, then an event it includes.
    let tx =
        b"{}\n{\"type\":\"transaction\"}\n{\"transaction\":\"skip me\",\"spans\":[]}\n".to_vec();
    assert_eq!(
        post(&format!("{base}/api/1/envelope/"), &[], tx)
            .await
            .status,
        200
    );
    assert_eq!(
        post(
            &format!("{base}/api/1/envelope/"),
            &[],
            envelope(&format!("{:032x}", 9), "second")
        )
        .await
        .status,
        200
    );

    let text = read_sse_until(items, "second").await;
    assert!(text.contains("event: item"), "{text}");
    assert!(text.contains("via spotlight"), "{text}");
    assert!(!text.contains("skip me"), "the type filter applies: {text}");

    let text = read_sse_until(spotlight, "via spotlight").await;
    assert!(
        text.contains("event: application/x-sentry-envelope"),
        "{text}"
    );
    let data = text
        .lines()
        .find(|l| l.starts_with("data:") && l.contains("via spotlight"))
        .expect("data line");
    let parsed: Value =
        serde_json::from_str(data.trim_start_matches("data:").trim()).expect("JSON data");
    assert_eq!(parsed[0]["event_id"], EVENT_ID);
    assert_eq!(parsed[1][0][0]["type"], "event");
    assert_eq!(parsed[1][0][1]["message"], "via spotlight");
}

#[tokio::test]
async fn dockerflow_endpoints() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    assert_eq!(
        get_json(&format!("{base}/__heartbeat__")).await["status"],
        "ok"
    );
    get_json(&format!("{base}/__lbheartbeat__")).await;
    let version = get_json(&format!("{base}/__version__")).await;
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    // The JSON index lives at /api/ (the web UI has /).
    let index = get_json(&format!("{base}/api/")).await;
    assert_eq!(index["dsn"], sentry.dsn(1));
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_waits() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let spotlight = reqwest::get(format!("{base}/stream"))
        .await
        .expect("spotlight stream");
    let items = reqwest::get(format!("{base}/api/items/stream/"))
        .await
        .expect("items stream");
    let waiter = tokio::spawn(reqwest::get(format!(
        "{base}/api/wait/?count=1&timeout=300"
    )));
    // The wait is registered once it has counted; a committed item elsewhere is not needed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    tokio::time::timeout_at(deadline, sentry.shutdown())
        .await
        .expect("graceful shutdown must not hang on open streams or waits");
    for stream in [spotlight, items] {
        let mut body = stream.bytes_stream();
        while let Some(chunk) = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("stream ends")
        {
            if chunk.is_err() {
                break;
            }
        }
    }
    let answer = tokio::time::timeout_at(deadline, waiter)
        .await
        .expect("wait answered")
        .expect("task");
    if let Ok(response) = answer {
        assert_eq!(
            response.status(),
            503,
            "a wait cut short by shutdown says so"
        );
    }
}

/// `--api-max-page`, `--stream-replay` and `--refused-body-prefix` bound what the API hands
/// out, and only that: lists page on by cursor, waits still count everything.
#[tokio::test]
async fn api_bounds_are_settings() {
    let sentry = FakeSentry::start_with(fake_sentry::config::Config {
        api_max_page: 3,
        stream_replay: 2,
        refused_body_prefix: 8,
        ..fake_sentry::config::Config::ephemeral()
    })
    .await
    .expect("start");
    let base = sentry.url();
    for n in 0..5 {
        let id = format!("{:032x}", 100 + n);
        let reply = post(
            &format!("{base}/api/1/envelope/"),
            &[],
            envelope(&id, &format!("bounded message {n}")),
        )
        .await;
        assert_eq!(reply.status, 200);
    }

    // A list asks for 10 and gets 3, then the other 2 through the cursor.
    let first = get_json(&format!("{base}/api/items/?limit=10&order=asc")).await;
    assert_eq!(
        first["items"].as_array().expect("items").len(),
        3,
        "{first}"
    );
    let cursor = first["next_cursor"].as_str().expect("a next cursor");
    let rest = get_json(&format!(
        "{base}/api/items/?limit=10&order=asc&cursor={cursor}"
    ))
    .await;
    let rest = rest["items"].as_array().expect("items");
    assert_eq!(rest.len(), 2);
    assert!(
        rest[1]["summary"]
            .as_str()
            .unwrap()
            .contains("bounded message 4")
    );

    // A wait for 5 is satisfied by 5 and says so, carrying the first 3.
    let waited = get_json(&format!("{base}/api/wait/?count=5&timeout=10")).await;
    assert_eq!(waited["satisfied"], true);
    assert_eq!(waited["count"], 5);
    assert_eq!(waited["items"].as_array().expect("items").len(), 3);

    // Spotlight's stream replays the last 2 envelopes only.
    let spotlight = reqwest::get(format!("{base}/stream"))
        .await
        .expect("spotlight stream");
    let text = read_sse_until(spotlight, "bounded message 4").await;
    assert!(text.contains("bounded message 3"), "{text}");
    assert!(!text.contains("bounded message 2"), "{text}");

    // A refused body is kept to its first 8 bytes.
    let reply = post(
        &format!("{base}/api/1/store/"),
        &[("content-type", "application/json")],
        b"{this is not JSON at all}".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    let refusals = get_json(&format!("{base}/api/refusals/")).await;
    let newest = &refusals["refusals"][0];
    assert_eq!(newest["body_prefix"], "{this is", "{refusals}");
    assert_eq!(newest["body_size"], 25);
}

/// The item API gives a JSON payload as the SDK sent it: key order, number spelling and all
/// (a value tree would sort the keys and round a number past u64 to a float).
#[tokio::test]
async fn item_api_returns_json_payloads_as_sent() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let event = r#"{"zeta":1,"alpha":{"b":2,"a":1},"big":123456789012345678901234567890,"message":"as sent"}"#;
    let body = format!(
        "{{}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    );
    let reply = post(&format!("{base}/api/1/envelope/"), &[], body.into_bytes()).await;
    assert_eq!(reply.status, 200);
    let list = get_json(&format!("{base}/api/items/?limit=1")).await;
    let id = list["items"][0]["id"].as_str().expect("id").to_string();
    let text = reqwest::get(format!("{base}/api/items/{id}"))
        .await
        .expect("item")
        .text()
        .await
        .expect("body");
    assert!(text.contains(&format!("\"payload\":{event}")), "{text}");
    let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(parsed["payload"]["message"], "as sent");
    assert_eq!(parsed["item"]["id"], id.as_str());
    assert_eq!(parsed["links"]["raw"], format!("/api/items/{id}/raw"));
}
