//! Native crashes end to end: crash-generator's minidumps posted the ways native SDKs post
//! them (Breakpad and Crashpad multipart forms, gzip-encoded; an envelope with an
//! `event.minidump` attachment), processed by the real `minidump-processor` against a
//! fake-symbols server, and read back as Sentry shows them. The crashing thread's frames must
//! equal crash-generator's ground truth, function by function.

#[path = "native_crashes/isolation.rs"]
mod isolation;
mod support;

use std::io::Write;
use std::time::Duration;

use crash_generator::{Crash, OsFlavor, Profile};
use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, ItemFilter};
use fake_symbols::testing::FakeSymbols;
use serde_json::{Value, json};
use support::http::send;

const BOUNDARY: &str = "understudy-boundary-7d1f";

/// How long processing may take in these tests (a debug build, two cores, other tests).
const PROCESSING: Duration = Duration::from_secs(60);

fn crash(os: OsFlavor, seed: u64) -> Crash {
    Crash::generate(&Profile::for_os(os), seed)
}

/// Puts every `.sym` file of `crash` on the symbols server.
fn upload_symbols(symbols: &FakeSymbols, crash: &Crash) {
    for (path, bytes) in crash.sym_files() {
        let key = fake_symbols::SymbolKey::from_path(path).expect("a generated symbol path");
        symbols
            .store()
            .put(&key, false, bytes)
            .expect("store symbols");
    }
}

/// A symbols server with every `.sym` file of the crash `os` and `seed` make, and that crash.
async fn symbols_serving(os: OsFlavor, seed: u64) -> (FakeSymbols, Crash) {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let crash = crash(os, seed);
    upload_symbols(&symbols, &crash);
    (symbols, crash)
}

/// A multipart form of `fields` (name, value) and the dump as `upload_file_minidump`, plus
/// `files` (name, filename, bytes), as Breakpad and Crashpad write them.
fn form(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])], dump: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    for (name, filename, bytes) in
        files
            .iter()
            .copied()
            .chain([("upload_file_minidump", "crash.dmp", dump)])
    {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn start(symbols: Option<&FakeSymbols>) -> FakeSentry {
    let mut config = Config::ephemeral();
    config.native.symbol_urls = symbols
        .map(|s| vec![s.url()])
        .into_iter()
        .flatten()
        .collect();
    config.native.workers = 2;
    FakeSentry::start_with(config)
        .await
        .expect("start fake-sentry")
}

/// Posts a minidump form; returns the event id fake-sentry answered with.
async fn post_form(sentry: &FakeSentry, body: &[u8], gzipped: bool) -> String {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut headers = vec![
        ("Content-Type", content_type.as_str()),
        (
            "X-Sentry-Auth",
            "Sentry sentry_key=public, sentry_version=7",
        ),
    ];
    if gzipped {
        headers.push(("Content-Encoding", "gzip"));
    }
    let reply = send(sentry.addr(), "POST", "/api/1/minidump/", &headers, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text().trim().replace('-', "")
}

/// Waits until `count` events have their minidumps in `status`.
async fn wait_for_status(sentry: &FakeSentry, status: &str, count: usize) {
    let filter = ItemFilter {
        item_type: Some("event".into()),
        processing: Some(status.into()),
        ..Default::default()
    };
    sentry
        .wait_for_within(filter, count, PROCESSING)
        .await
        .unwrap_or_else(|e| panic!("waiting for {count} {status} minidumps: {e}"));
}

/// Asserts that `processed` (an `/api/items/{id}/processed` answer) is processed and equals
/// `crash`'s ground truth frame by frame; `context` names the case in the message.
fn assert_matches_truth(crash: &Crash, processed: &Value, context: &str) {
    assert_eq!(processed["status"], "processed", "{context}: {processed}");
    let mismatches = crash
        .truth_over_http()
        .compare_json(&processed["processed"]);
    assert!(
        mismatches.is_empty(),
        "{} ({context}): processed differs from the ground truth: {mismatches:#?}",
        crash.name()
    );
}

async fn get(sentry: &FakeSentry, target: &str) -> Value {
    let reply = send(sentry.addr(), "GET", target, &[], b"").await;
    assert_eq!(reply.status, 200, "{target}: {}", reply.text());
    reply.json()
}

/// The function names of a Sentry stacktrace, newest first, inlines included.
fn functions(frames: &Value) -> Vec<String> {
    let mut out: Vec<String> = frames
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("?").to_string())
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn generated_crashes_of_each_os_are_processed_to_their_ground_truth() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let sentry = start(Some(&symbols)).await;
    let crashes = [
        crash(OsFlavor::Linux, 11),
        crash(OsFlavor::Windows, 12),
        crash(OsFlavor::Mac, 13),
    ];
    let mut event_ids = Vec::new();
    for crash in &crashes {
        upload_symbols(&symbols, crash);
        // Breakpad's form: Sentry fields as bracketed form fields.
        let body = form(
            &[
                ("sentry[release]", "native-app@2.1.0"),
                ("sentry[tags][build]", "nightly"),
                ("sentry[user][id]", "user-7"),
            ],
            &[],
            crash.minidump_bytes(),
        );
        event_ids.push(post_form(&sentry, &body, false).await);
    }
    wait_for_status(&sentry, "processed", crashes.len()).await;
    // The comparison can fail: another crash's processed form is not this one's truth.
    let other = get(&sentry, &format!("/api/items/{}/processed", event_ids[1])).await;
    assert!(
        !crashes[0]
            .truth_over_http()
            .compare_json(&other["processed"])
            .is_empty()
    );
    for (crash, event_id) in crashes.iter().zip(&event_ids) {
        let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
        assert_matches_truth(crash, &processed, "breakpad form");
        // Kent's API answers the native crash event.
        let kent = get(&sentry, &format!("/api/event/{event_id}")).await;
        let event = &kent["payload"]["body"];
        assert_eq!(event["release"], "native-app@2.1.0");
        assert_eq!(event["tags"]["build"], "nightly");
        assert_eq!(event["user"]["id"], "user-7");
        let exception = &event["exception"]["values"][0];
        let reason = processed["processed"]["crash_info"]["type"]
            .as_str()
            .unwrap();
        assert_eq!(exception["type"], reason);
        assert_eq!(exception["mechanism"]["type"], "minidump");
        // The crashing thread's frames, function by function, inlines included.
        let expected: Vec<String> = processed["processed"]["crashing_thread"]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| {
                let inlines = f["inlines"].as_array().cloned().unwrap_or_default();
                inlines
                    .into_iter()
                    .map(|i| i["function"].as_str().unwrap_or("?").to_string())
                    .chain([f["function"].as_str().unwrap_or("?").to_string()])
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(functions(&exception["stacktrace"]["frames"]), expected);
        assert!(
            event["debug_meta"]["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["debug_status"] == "found"),
            "{}",
            event["debug_meta"]
        );
        assert!(event["contexts"]["os"]["name"].is_string());
        // Lists show the crash reason and the signature.
        let item = &get(&sentry, &format!("/api/items/{event_id}")).await;
        let signature = processed["signature"].as_str().unwrap();
        assert!(
            item["item"]["summary"]
                .as_str()
                .unwrap()
                .ends_with(signature),
            "{item}"
        );
    }
}

#[tokio::test]
async fn a_crashpad_upload_gzip_encoded_is_processed() {
    let (symbols, crash) = symbols_serving(OsFlavor::Linux, 21).await;
    let sentry = start(Some(&symbols)).await;
    // sentry-native's Crashpad backend: the event and the two breadcrumb files as MessagePack,
    // annotations as form fields, the whole body gzip-encoded by crashpad_handler.
    let event = rmp_serde::to_vec_named(&json!({
        "release": "crashpad-app@1.0",
        "environment": "from-the-event",
        "user": {"id": "u-42"},
        "tags": {"backend": "crashpad"},
        "sdk": {"name": "sentry.native", "version": "0.12.1"},
    }))
    .unwrap();
    let crumbs_new = rmp_serde::to_vec_named(&json!([
        {"message": "clicked save", "timestamp": "2026-12-07T10:00:02Z"}
    ]))
    .unwrap();
    let crumbs_old = rmp_serde::to_vec_named(&json!([
        {"message": "opened file", "timestamp": "2026-12-07T10:00:01Z"}
    ]))
    .unwrap();
    let body = form(
        &[("sentry[environment]", "production")],
        &[
            ("__sentry-event", "__sentry-event", &event),
            ("__sentry-breadcrumb1", "__sentry-breadcrumb1", &crumbs_new),
            ("__sentry-breadcrumb2", "__sentry-breadcrumb2", &crumbs_old),
        ],
        crash.minidump_bytes(),
    );
    let event_id = post_form(&sentry, &gzip(&body), true).await;
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_matches_truth(&crash, &processed, "crashpad form, gzip");
    let kent = get(&sentry, &format!("/api/event/{event_id}")).await;
    let event = &kent["payload"]["body"];
    // The form's annotation wins over the attached event, as in Relay.
    assert_eq!(event["environment"], "production");
    assert_eq!(event["release"], "crashpad-app@1.0");
    assert_eq!(event["user"]["id"], "u-42");
    assert_eq!(event["tags"]["backend"], "crashpad");
    let crumbs: Vec<&str> = event["breadcrumbs"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["message"].as_str().unwrap())
        .collect();
    assert_eq!(crumbs, ["opened file", "clicked save"]);
    assert!(event["exception"]["values"][0]["stacktrace"]["frames"].is_array());
}

#[tokio::test]
async fn an_envelope_with_an_event_and_a_minidump_attachment_is_processed() {
    let (symbols, crash) = symbols_serving(OsFlavor::Windows, 31).await;
    let sentry = start(Some(&symbols)).await;
    let event_id = "9ec79c33ec9942ab8353589fcb2e04dc";
    let event = json!({"event_id": event_id, "level": "fatal", "platform": "native",
                       "release": "envelope-app@3", "tags": {"via": "envelope"}});
    let event = serde_json::to_vec(&event).unwrap();
    let dump = crash.minidump_bytes();
    let mut body = format!("{{\"event_id\":\"{event_id}\"}}\n").into_bytes();
    writeln!(body, "{{\"type\":\"event\",\"length\":{}}}", event.len()).unwrap();
    body.extend_from_slice(&event);
    body.push(b'\n');
    writeln!(
        body,
        "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"crash.dmp\",\"attachment_type\":\"event.minidump\"}}",
        dump.len()
    )
    .unwrap();
    body.extend_from_slice(dump);
    body.push(b'\n');
    let reply = send(
        sentry.addr(),
        "POST",
        "/api/1/envelope/",
        &[(
            "X-Sentry-Auth",
            "Sentry sentry_key=public, sentry_version=7",
        )],
        &body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_matches_truth(&crash, &processed, "envelope attachment");
    let kent = get(&sentry, &format!("/api/event/{event_id}")).await;
    assert_eq!(kent["payload"]["body"]["tags"]["via"], "envelope");
    assert!(kent["payload"]["body"]["exception"]["values"][0]["type"].is_string());
}

#[tokio::test]
async fn without_symbols_a_dump_is_processed_with_its_modules_marked_missing() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let sentry = start(Some(&symbols)).await;
    let crash = crash(OsFlavor::Linux, 41);
    // No symbols uploaded: frames stay unsymbolicated, modules are listed as missing.
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "processed", 1).await;
    let kent = get(&sentry, &format!("/api/event/{event_id}")).await;
    let event = &kent["payload"]["body"];
    let images = event["debug_meta"]["images"].as_array().unwrap();
    assert!(
        images.iter().any(|i| i["debug_status"] == "missing"),
        "{images:?}"
    );
    let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f["data"]["symbolicator_status"] == "missing"),
        "{frames:?}"
    );
    // Symbols uploaded afterwards are found when the dump is processed again.
    upload_symbols(&symbols, &crash);
    let reply = send(
        sentry.addr(),
        "POST",
        &format!("/api/items/{event_id}/reprocess"),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json()["attempt"], 2);
    wait_for_status(&sentry, "processed", 1).await;
    let deadline = tokio::time::Instant::now() + PROCESSING;
    loop {
        let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
        if processed["status"] == "processed" && processed["attempt"] == 2 {
            assert_matches_truth(&crash, &processed, "reprocessed after the upload");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reprocessed: {processed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_corrupt_dump_fails_with_the_processors_error_and_is_still_listed() {
    let sentry = start(None).await;
    // The minidump signature, then nonsense: ingest takes it, the processor cannot.
    let mut dump = b"MDMP\x93\xa7\x00\x00".to_vec();
    dump.extend_from_slice(&[0xff; 64]);
    let event_id = post_form(&sentry, &form(&[], &[], &dump), false).await;
    wait_for_status(&sentry, "failed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_eq!(processed["status"], "failed");
    assert!(processed["processed"].is_null());
    let error = processed["error"].as_str().unwrap();
    assert!(!error.is_empty(), "{processed}");
    let listed = get(&sentry, "/api/items/?type=event").await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[tokio::test]
async fn a_symbols_server_that_is_down_slow_or_truncating_leaves_symbols_missing() {
    let (symbols, crash) = symbols_serving(OsFlavor::Windows, 51).await;
    for action in [
        json!({"kind": "latency", "millis": 5000}),
        json!({"kind": "slow_stream", "bytes_per_sec": 200}),
        json!({"kind": "truncate", "fraction": 0.5, "at": "mid_line", "abort": true}),
        json!({"kind": "status", "code": 503}),
    ] {
        let spec = serde_json::from_value(json!({"rules": [{"action": action}]})).expect("spec");
        symbols.set_faults(spec).expect("set faults");
        let mut config = Config::ephemeral();
        config.native.symbol_urls = vec![
            // Nothing listens there: the connection is refused.
            "http://127.0.0.1:9".into(),
            symbols.url(),
        ];
        config.native.download_timeout = Duration::from_millis(300);
        config.native.timeout = Duration::from_secs(20);
        let sentry = FakeSentry::start_with(config).await.expect("start");
        let started = std::time::Instant::now();
        let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
        wait_for_status(&sentry, "processed", 1).await;
        assert!(started.elapsed() < Duration::from_secs(20), "{action}");
        let kent = get(&sentry, &format!("/api/event/{event_id}")).await;
        let images = kent["payload"]["body"]["debug_meta"]["images"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            images.iter().all(|i| i["debug_status"] != "found"),
            "{action}: {images:?}"
        );
    }
}

#[tokio::test]
async fn a_processed_crash_is_found_by_a_function_name_in_memory_and_in_a_file() {
    let (symbols, crash) = symbols_serving(OsFlavor::Linux, 61).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for storage in [
        fake_sentry::Storage::Memory,
        fake_sentry::Storage::File(dir.path().join("native.db")),
    ] {
        let mut config = Config::ephemeral();
        config.storage = storage.clone();
        config.native.symbol_urls = vec![symbols.url()];
        let sentry = FakeSentry::start_with(config).await.expect("start");
        let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
        wait_for_status(&sentry, "processed", 1).await;
        let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
        // A function below the top frame: in neither the summary nor the client's event.
        let frames = processed["processed"]["crashing_thread"]["frames"]
            .as_array()
            .unwrap();
        let deeper = frames
            .iter()
            .skip(1)
            .find_map(|f| f["function"].as_str())
            .expect("a symbolicated frame below the top");
        let target = format!("/api/items/?type=event&q={}", urlencode(deeper));
        // Searched at once, and again once the index (of a file) has caught up.
        for round in ["at once", "indexed"] {
            if round == "indexed" {
                sentry
                    .state()
                    .store
                    .search_indexed()
                    .await
                    .expect("indexed");
            }
            let found = get(&sentry, &target).await;
            let ids: Vec<&str> = found["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["event_id"].as_str())
                .collect();
            assert_eq!(
                ids,
                [event_id.as_str()],
                "{storage:?} {round}: {deeper}: {found}"
            );
        }
        let none = get(
            &sentry,
            "/api/items/?type=event&q=no_such_function_anywhere",
        )
        .await;
        assert_eq!(none["items"], json!([]));
        sentry.shutdown().await;
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn each_dump_is_held_to_its_time_limit_and_symbol_budget() {
    let (symbols, crash) = symbols_serving(OsFlavor::Linux, 71).await;
    // A budget smaller than any symbol file: every module is processed without symbols.
    let mut config = Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    config.native.max_symbol_bytes = 16;
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    let modules = processed["processed"]["modules"].as_array().unwrap();
    assert!(
        modules.iter().all(|m| m["loaded_symbols"] != true),
        "{modules:?}"
    );
    sentry.shutdown().await;
    // Downloads that take longer than the dump's time limit: the dump fails with Timeout.
    let spec =
        serde_json::from_value(json!({"rules": [{"action": {"kind": "latency", "millis": 5000}}]}))
            .expect("spec");
    symbols.set_faults(spec).expect("set faults");
    let mut config = Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    config.native.download_timeout = Duration::from_secs(30);
    config.native.timeout = Duration::from_millis(300);
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "failed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert!(
        processed["error"].as_str().unwrap().starts_with("Timeout"),
        "{processed}"
    );
}

#[tokio::test]
async fn dumps_left_pending_are_processed_after_a_restart() {
    let (symbols, crash) = symbols_serving(OsFlavor::Mac, 81).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |workers| {
        let mut config = Config::ephemeral();
        config.storage = fake_sentry::Storage::File(dir.path().join("restart.db"));
        config.native.symbol_urls = vec![symbols.url()];
        config.native.workers = workers;
        config
    };
    // Processing off: the dump is stored and stays pending.
    let sentry = FakeSentry::start_with(config(0)).await.expect("start");
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_eq!(processed["status"], "pending");
    let reply = send(
        sentry.addr(),
        "POST",
        &format!("/api/items/{event_id}/reprocess"),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    let stats = get(&sentry, "/api/stats/").await;
    assert_eq!(stats["minidumps_pending"], 1);
    sentry.shutdown().await;
    let sentry = FakeSentry::start_with(config(1)).await.expect("restart");
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_matches_truth(&crash, &processed, "processed after a restart");
    assert_eq!(get(&sentry, "/api/stats/").await["minidumps_pending"], 0);
}

/// Malformed `.sym` files (crash-generator's edge cases) are reported as minidump-stackwalk
/// reports them, with and without a symbol budget: measuring a file must not change what the
/// processor makes of it.
#[tokio::test]
async fn malformed_symbol_files_are_reported_as_the_processor_reports_them() {
    use crash_generator::EdgeCase;
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let mut crashes = Vec::new();
    for (n, edge) in [
        EdgeCase::NamelessInlineOrigin,
        EdgeCase::NewlineInName,
        EdgeCase::LineBeforeFunc,
    ]
    .into_iter()
    .enumerate()
    {
        let profile = Profile {
            edge_case: Some(edge),
            ..Profile::for_os(OsFlavor::Linux)
        };
        let crash = Crash::generate(&profile, 90 + n as u64);
        upload_symbols(&symbols, &crash);
        crashes.push(crash);
    }
    for budget in [u64::MAX, 1 << 30] {
        let mut config = Config::ephemeral();
        config.native.symbol_urls = vec![symbols.url()];
        config.native.max_symbol_bytes = budget;
        let sentry = FakeSentry::start_with(config).await.expect("start");
        let mut ids = Vec::new();
        for crash in &crashes {
            ids.push(post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await);
        }
        wait_for_status(&sentry, "processed", crashes.len()).await;
        for (crash, id) in crashes.iter().zip(&ids) {
            let processed = get(&sentry, &format!("/api/items/{id}/processed")).await;
            assert_matches_truth(crash, &processed, &format!("symbol budget {budget}"));
        }
        sentry.shutdown().await;
    }
}
