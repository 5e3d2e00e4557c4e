//! The database format across versions: a file an older fake-sentry wrote opens in this one,
//! reads back exactly as it did there, and takes new envelopes; a file from a newer one is
//! refused with both versions named.
//!
//! `testdata/db/` holds a database written by an older build through the real ingest path
//! ([`send_fixture_requests`]), beside what that build's API answered for it (`*.expected.json`);
//! `testdata/db/README.md` says which commit wrote them and how to write them again.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use event_filter::Policy;
use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, DataPolicy, Storage};
use serde_json::{Map, Value, json};
use support::http::{Reply, get_json, send};

/// Event ids the fixture requests carry, so that sending them twice stores the same payloads.
const ENVELOPE_EVENT: &str = "5f0e1d2c3b4a49788796a5b4c3d2e1f0";
const STORE_EVENT: &str = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
const MINIDUMP_EVENT: &str = "9f8e7d6c5b4a43219f8e7d6c5b4a4321";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A configuration whose data policy scrubs, so that items carry findings and scrubbed copies.
fn scrubbing(storage: Storage) -> Config {
    Config {
        storage,
        // The policy v1.sqlite's scrubbed copies were made with, not today's preset: the
        // comparison is of storage formats, and presets change (testdata/db/README.md).
        policy: Some(DataPolicy::new(
            Policy::from_file(&testdata().join("strict-v1.toml")).expect("frozen strict policy"),
            "preset:strict",
            true,
        )),
        ..Config::ephemeral()
    }
}

async fn post(addr: SocketAddr, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let reply = send(addr, "POST", target, headers, body).await;
    assert_eq!(reply.status, 200, "POST {target}: {}", reply.text());
    reply
}

/// One request of every kind the store keeps differently: a real SDK's gzipped envelope, a
/// gzipped envelope with an event (with PII to scrub), a binary attachment and a newline-framed
/// item, a plain `/store/` body, a gzipped minidump upload with a second file, a security
/// report, and a refused request.
async fn send_fixture_requests(addr: SocketAddr) {
    let python = include_bytes!("../testdata/captures/python-error-gzip.envelope.gz");
    post(
        addr,
        "/api/1/envelope/",
        &[
            ("Content-Type", "application/x-sentry-envelope"),
            ("Content-Encoding", "gzip"),
            ("User-Agent", "sentry.python/2.75.0"),
            (
                "X-Sentry-Auth",
                "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0",
            ),
        ],
        python,
    )
    .await;

    let event = json!({
        "event_id": ENVELOPE_EVENT,
        "level": "error",
        "message": "card 4111 1111 1111 1111 declined for alice@example.com",
        "user": {"email": "alice@example.com", "ip_address": "203.0.113.9"},
        "platform": "python",
    })
    .to_string();
    let attachment: Vec<u8> = (0..=255u8).chain(*b"\n\r\n{\"x\":1}\n\0").collect();
    let session = json!({"sid": "6f3a", "init": true, "status": "ok"}).to_string();
    let mut body = format!(
        "{}\n{}\n{event}\n",
        json!({"event_id": ENVELOPE_EVENT, "dsn": "http://public@127.0.0.1:1/1"}),
        json!({"type": "event", "length": event.len()}),
    )
    .into_bytes();
    body.extend_from_slice(
        json!({"type": "attachment", "length": attachment.len(), "filename": "blob.bin",
               "content_type": "application/octet-stream"})
        .to_string()
        .as_bytes(),
    );
    body.push(b'\n');
    body.extend_from_slice(&attachment);
    body.push(b'\n');
    body.extend_from_slice(format!("{{\"type\":\"session\"}}\n{session}\n").as_bytes());
    post(
        addr,
        "/api/1/envelope/",
        &[
            ("Content-Type", "application/x-sentry-envelope"),
            ("Content-Encoding", "gzip"),
            (
                "X-Sentry-Auth",
                "Sentry sentry_key=public, sentry_version=7",
            ),
        ],
        &gzip(&body),
    )
    .await;

    let store_event = json!({
        "event_id": STORE_EVENT,
        "message": "from the store endpoint",
        "level": "warning",
        "platform": "javascript",
        "extra": {"ratio": 0.5},
    })
    .to_string();
    post(
        addr,
        "/api/2/store/?sentry_key=public",
        &[("Content-Type", "application/json")],
        store_event.as_bytes(),
    )
    .await;

    let dump: Vec<u8> = b"MDMP\x93\xa7\x00\x00"
        .iter()
        .copied()
        .chain((0..4096u32).map(|n| (n * 7 % 251) as u8))
        .collect();
    let boundary = "----understudy-fixture";
    let sentry_json = json!({"event_id": MINIDUMP_EVENT, "release": "app@2.0"}).to_string();
    let parts: [(&str, Option<&str>, &[u8]); 4] = [
        ("upload_file_minidump", Some("crash.dmp"), &dump),
        ("sentry", None, sentry_json.as_bytes()),
        ("ProductName", None, b"Firefox"),
        (
            "memory_report",
            Some("memory.json"),
            b"{\"explicit\": 1024}",
        ),
    ];
    let mut multipart = Vec::new();
    for (name, filename, data) in parts {
        multipart.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        multipart.extend_from_slice(disposition.as_bytes());
        multipart.extend_from_slice(data);
        multipart.extend_from_slice(b"\r\n");
    }
    multipart.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    post(
        addr,
        "/api/3/minidump/?sentry_key=public",
        &[
            ("Content-Type", &content_type),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(&multipart),
    )
    .await;

    let report = json!({"csp-report": {"document-uri": "https://example.com/",
        "violated-directive": "script-src 'self'", "blocked-uri": "https://evil.example/x.js"}});
    post(
        addr,
        "/api/3/security/?sentry_key=public&sentry_release=web%401.2",
        &[("Content-Type", "application/csp-report")],
        report.to_string().as_bytes(),
    )
    .await;

    let refused = send(
        addr,
        "POST",
        "/api/2/store/?sentry_key=public",
        &[("Content-Type", "application/json")],
        b"[1, 2, 3]",
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

async fn get_bytes(addr: SocketAddr, target: &str) -> Option<Vec<u8>> {
    let reply = send(addr, "GET", target, &[], b"").await;
    (reply.status == 200).then_some(reply.body)
}

/// What the API answers about everything stored: the listing, each item (detail, payload,
/// scrubbed copy), each envelope (detail, body as sent and decoded), Kent's list and events,
/// and the refusals. Bytes are base64.
async fn snapshot(addr: SocketAddr) -> Value {
    let listing = get_json(addr, "/api/items/?order=asc&limit=1000").await;
    let mut items = Map::new();
    let mut envelopes = Map::new();
    for item in listing["items"].as_array().expect("items") {
        let id = item["id"].as_str().expect("id");
        let raw = get_bytes(addr, &format!("/api/items/{id}/raw")).await;
        let scrubbed = get_bytes(addr, &format!("/api/items/{id}/raw?scrubbed=1")).await;
        items.insert(
            id.to_string(),
            json!({
                "detail": get_json(addr, &format!("/api/items/{id}")).await,
                "raw": b64(&raw.expect("every item has a payload")),
                "scrubbed": scrubbed.as_deref().map(b64),
                "kent": get_json(addr, &format!("/api/event/{id}")).await,
            }),
        );
        let envelope = item["envelope_id"].as_i64().expect("envelope id");
        if !envelopes.contains_key(&envelope.to_string()) {
            // `None` for an encoded body kept compact (see `without_body_forms`).
            let as_sent =
                get_bytes(addr, &format!("/api/envelopes/{envelope}/raw?as_sent=1")).await;
            let decoded = get_bytes(addr, &format!("/api/envelopes/{envelope}/raw"))
                .await
                .expect("decoded envelope body");
            envelopes.insert(
                envelope.to_string(),
                json!({
                    "detail": get_json(addr, &format!("/api/envelopes/{envelope}")).await,
                    "as_sent": as_sent.as_deref().map(b64),
                    "decoded": b64(&decoded),
                }),
            );
        }
    }
    json!({
        "listing": listing,
        "items": items,
        "envelopes": envelopes,
        "kent_list": get_json(addr, "/api/eventlist/").await,
        "refusals": get_json(addr, "/api/refusals/").await,
    })
}

/// Writes `FIXTURE_OUT/<name>.sqlite` and `<name>.expected.json` (`name` from `FIXTURE_NAME`)
/// with this build: the fixture requests through the real ingest path into a file, then what
/// the API answers for them. Run it on the commit a fixture is to capture (see
/// `testdata/db/README.md`).
#[tokio::test]
#[ignore = "writes a fixture database; run by hand, see testdata/db/README.md"]
async fn write_fixture_database() {
    let out = PathBuf::from(std::env::var("FIXTURE_OUT").expect("FIXTURE_OUT: a directory"));
    let name = std::env::var("FIXTURE_NAME").expect("FIXTURE_NAME: e.g. v1");
    let dir = std::env::temp_dir().join(format!("fake-sentry-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("fixture.sqlite");
    let sentry = FakeSentry::start_with(scrubbing(Storage::File(db.clone())))
        .await
        .expect("start");
    send_fixture_requests(sentry.addr()).await;
    let expected = snapshot(sentry.addr()).await;
    sentry.shutdown().await;
    // Everything into the main file, so that the one file is the whole database.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(conn);
    std::fs::copy(&db, out.join(format!("{name}.sqlite"))).expect("copy the database");
    std::fs::write(
        out.join(format!("{name}.expected.json")),
        serde_json::to_string_pretty(&expected).expect("json") + "\n",
    )
    .expect("write the expected answers");
    let _ = std::fs::remove_dir_all(&dir);
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/db")
}

/// A directory under the system temp dir, removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "fake-sentry-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    /// A copy of the fixture database `name` in this directory.
    fn fixture(&self, name: &str) -> PathBuf {
        let path = self.0.join(format!("{name}.sqlite"));
        std::fs::copy(testdata().join(format!("{name}.sqlite")), &path).expect("copy fixture");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("read user_version")
}

/// `value` without what differs between two captures of the same requests: ids, sequence
/// numbers, times, links, and the server's address.
fn without_identity(value: &Value) -> Value {
    const VOLATILE: [&str; 8] = [
        "id",
        "seq",
        "envelope_id",
        "received_at",
        "item_ids",
        "links",
        "event_id",
        "host",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), without_identity(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_identity).collect()),
        other => other.clone(),
    }
}

/// `value` without the trace ids of its item summaries (objects with a `seq`): rows stored
/// before schema version 5 have none.
fn without_trace_ids(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !(k.as_str() == "trace_id" && map.contains_key("seq")))
                .map(|(k, v)| (k.clone(), without_trace_ids(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_trace_ids).collect()),
        other => other.clone(),
    }
}

/// A snapshot as a build before schema version 7 answered it: every body it kept was kept as
/// sent, and its envelope records (of their own and in item details) did not say so
/// (`kept_as_sent`).
fn before_compact_bodies(snapshot: &Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(kept) = map.remove("kept_as_sent") {
                    assert_eq!(kept, json!(true), "{map:?}");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(list) => list.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut snapshot = snapshot.clone();
    for envelope in snapshot["envelopes"]
        .as_object()
        .expect("envelopes")
        .values()
    {
        assert!(envelope["as_sent"].is_string(), "{envelope}");
    }
    strip(&mut snapshot);
    snapshot
}

/// An item or envelope of a snapshot without what depends on the form its body is kept in:
/// the bytes as sent, which a compact body keeps only when it was sent without an encoding,
/// and the records' `kept_as_sent`, which says so.
fn without_body_forms(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "kept_as_sent" | "as_sent"))
                .map(|(k, v)| (k.clone(), without_body_forms(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_body_forms).collect()),
        other => other.clone(),
    }
}

/// Every item of a snapshot, in storage order, and its envelope.
fn items_in_order(snapshot: &Value) -> Vec<(Value, Value)> {
    snapshot["listing"]["items"]
        .as_array()
        .expect("listing")
        .iter()
        .map(|summary| {
            let id = summary["id"].as_str().expect("id");
            let envelope = summary["envelope_id"].to_string();
            (
                snapshot["items"][id].clone(),
                snapshot["envelopes"][&envelope].clone(),
            )
        })
        .collect()
}

/// A file written before schema versions (version 1) opens, is marked version 2 without its
/// rows being rewritten, answers every read exactly as the build that wrote it did, and takes
/// new envelopes, which read back the same as the old rows of the same requests.
#[tokio::test]
async fn a_version_1_database_reads_back_as_its_build_answered() {
    let dir = TempDir::new("v1");
    let db = dir.fixture("v1");
    assert_eq!(user_version(&db), 0);
    let expected: Value = serde_json::from_slice(
        &std::fs::read(testdata().join("v1.expected.json")).expect("read expected"),
    )
    .expect("expected JSON");
    let sentry = FakeSentry::start_with(scrubbing(Storage::File(db.clone())))
        .await
        .expect("start on the old file");
    let old = before_compact_bodies(&snapshot(sentry.addr()).await);
    for (key, _) in expected.as_object().expect("object") {
        assert_eq!(old[key], expected[key], "{key} reads back differently");
    }
    assert_eq!(old, expected);
    assert_eq!(user_version(&db), 7, "migrated in place");
    let old_rows: i64 = rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.query_row("SELECT COUNT(*) FROM items WHERE layout IS NULL", [], |r| {
                r.get(0)
            })
        })
        .expect("count");
    assert_eq!(old_rows, 9, "old rows keep their layout");

    // The same requests again, stored the new way, read back as the old rows do.
    send_fixture_requests(sentry.addr()).await;
    let both = snapshot(sentry.addr()).await;
    let all = items_in_order(&both);
    assert_eq!(all.len(), 18);
    let (before, after) = all.split_at(9);
    for ((old_item, old_envelope), (new_item, new_envelope)) in before.iter().zip(after) {
        for key in ["raw", "scrubbed"] {
            assert_eq!(
                old_item[key], new_item[key],
                "{key} of {}",
                old_item["detail"]["item"]
            );
        }
        // Minidumps stored before schema version 4 were never queued for processing; the
        // same dump stored now is (and fails: the fixture's dump is a stand-in).
        let mut new_item = without_trace_ids(new_item);
        if let Some(processing) = new_item["detail"]
            .as_object_mut()
            .and_then(|d| d.remove("processing"))
        {
            assert_eq!(processing["filename"], "crash.dmp", "{processing}");
            assert!(old_item["detail"].get("processing").is_none());
        }
        assert_eq!(
            without_identity(&without_body_forms(old_item)),
            without_identity(&without_body_forms(&new_item)),
            "item {}",
            old_item["detail"]["item"]
        );
        // Old rows keep bodies as sent; new ones compact where that is smaller, so only an
        // identity body is still there as sent. Every other answer is the same.
        let kept = new_envelope["detail"]["kept_as_sent"] == json!(true);
        assert_eq!(kept, new_envelope["as_sent"].is_string(), "{new_envelope}");
        if kept {
            assert_eq!(old_envelope["as_sent"], new_envelope["as_sent"]);
        }
        assert_eq!(
            without_identity(&without_body_forms(old_envelope)),
            without_identity(&without_body_forms(new_envelope))
        );
    }
    let new_rows: Vec<(Option<i64>, i64)> = {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let mut stmt = conn
            .prepare("SELECT layout, LENGTH(payload) FROM items WHERE seq > 9 ORDER BY seq")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    // Envelope items, the `/store/` body and security report (compact JSON with its keys in
    // order, so written back unchanged) and the minidump upload's files are kept in the body;
    // the minidump's event (built from the form) compressed.
    let layouts: Vec<Option<i64>> = new_rows.iter().map(|(layout, _)| *layout).collect();
    assert_eq!(
        layouts,
        [3, 3, 3, 3, 2, 1, 2, 2, 2].map(Some),
        "{new_rows:?}"
    );
    sentry.shutdown().await;
}

/// A database written at schema version 4 (before items recorded their traces) opens in
/// today's build, migrates to version 5 in place and reads back exactly as its build
/// answered: its rows are not backfilled with trace ids.
#[tokio::test]
async fn a_version_4_database_reads_back_as_its_build_answered() {
    let dir = TempDir::new("v4");
    let db = dir.fixture("v4");
    assert_eq!(user_version(&db), 4);
    let expected: Value = serde_json::from_slice(
        &std::fs::read(testdata().join("v4.expected.json")).expect("read expected"),
    )
    .expect("expected JSON");
    let sentry = FakeSentry::start_with(scrubbing(Storage::File(db.clone())))
        .await
        .expect("start on the version 4 file");
    let old = before_compact_bodies(&snapshot(sentry.addr()).await);
    for (key, _) in expected.as_object().expect("object") {
        assert_eq!(old[key], expected[key], "{key} reads back differently");
    }
    assert_eq!(user_version(&db), 7, "migrated in place");
    sentry.shutdown().await;
}

/// A file a newer fake-sentry wrote is refused, untouched, with both versions named: by the
/// library and by the binary, which exits with the message.
#[tokio::test]
async fn a_newer_database_is_refused_naming_both_versions() {
    let dir = TempDir::new("newer");
    let db = dir.fixture("v1");
    rusqlite::Connection::open(&db)
        .and_then(|c| c.pragma_update(None, "user_version", 99))
        .expect("set user_version");
    let before = std::fs::read(&db).expect("read");
    let want = "the database is schema version 99, written by a newer fake-sentry; \
                this one reads versions 1 to 7";

    let Err(err) = FakeSentry::start_with(scrubbing(Storage::File(db.clone()))).await else {
        panic!("a newer database opened");
    };
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    assert!(message.contains(want), "{message}");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-sentry"))
        .args(["--host", "127.0.0.1", "--port", "0", "--db"])
        .arg(&db)
        .env_clear()
        .output()
        .await
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(want), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file is untouched"
    );
}
