//! Dumps processed in worker processes (`NativeConfig::isolation`, the `fake-sentry` binary's
//! hidden `process-minidump`): the same results as in process, and hard limits. A worker that
//! never yields is killed at the time limit, one that allocates past `max_memory` aborts, one
//! that answers garbage gives a bounded failure; the server serves on through each.

use std::path::Path;
use std::time::Duration;

use crash_generator::{Crash, OsFlavor, Profile, Span};
use fake_sentry::Config;
use fake_sentry::config::WorkerCommand;
use fake_sentry::testing::FakeSentry;
use fake_symbols::testing::FakeSymbols;
use serde_json::Value;

use super::{assert_matches_truth, crash, form, get, post_form, upload_symbols, wait_for_status};
use crate::support::binary::Binary;
use crate::support::http::send;

/// The `fake-sentry` binary's worker subcommand.
fn worker() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_fake-sentry")).arg("process-minidump")
}

/// A server whose dumps are processed by `worker`, with symbols from `symbols`.
async fn isolated(symbols: Option<&FakeSymbols>, worker: WorkerCommand) -> FakeSentry {
    let mut config = Config::ephemeral();
    config.native.symbol_urls = symbols.map(|s| vec![s.url()]).unwrap_or_default();
    config.native.workers = 2;
    config.native.isolation = Some(worker);
    FakeSentry::start_with(config).await.expect("start")
}

/// The error of the dump posted as `event_id`, once it has failed.
async fn error_of(sentry: &FakeSentry, event_id: &str) -> String {
    let processed = get(sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_eq!(processed["status"], "failed", "{processed}");
    processed["error"].as_str().expect("an error").to_string()
}

/// The server still ingests and answers.
async fn assert_serving(sentry: &FakeSentry) {
    let reply = send(
        sentry.addr(),
        "POST",
        "/api/1/store/",
        &[(
            "X-Sentry-Auth",
            "Sentry sentry_key=public, sentry_version=7",
        )],
        br#"{"message": "still here"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    get(sentry, "/api/stats/").await;
}

#[tokio::test]
async fn a_dump_processed_in_a_worker_equals_the_same_dump_processed_in_process() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let crashes = [crash(OsFlavor::Linux, 101), crash(OsFlavor::Windows, 102)];
    for crash in &crashes {
        upload_symbols(&symbols, crash);
    }
    let in_worker = isolated(Some(&symbols), worker()).await;
    let in_process = super::start(Some(&symbols)).await;
    for (n, crash) in crashes.iter().enumerate() {
        let body = form(&[], &[], crash.minidump_bytes());
        let worker_id = post_form(&in_worker, &body, false).await;
        let process_id = post_form(&in_process, &body, false).await;
        wait_for_status(&in_worker, "processed", n + 1).await;
        wait_for_status(&in_process, "processed", n + 1).await;
        let from_worker = get(&in_worker, &format!("/api/items/{worker_id}/processed")).await;
        let from_process = get(&in_process, &format!("/api/items/{process_id}/processed")).await;
        assert_matches_truth(crash, &from_worker, "processed in a worker");
        assert_eq!(from_worker["processed"], from_process["processed"]);
        assert_eq!(from_worker["signature"], from_process["signature"]);
    }
}

/// A module a worker found missing is remembered by the server: the next worker does not ask
/// for it again, until a reprocess forgets it (and finds the symbols uploaded since).
#[tokio::test]
async fn workers_share_the_missing_modules_and_a_reprocess_forgets_them() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let crash = crash(OsFlavor::Linux, 111);
    let mut config = Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    config.native.workers = 1;
    config.native.isolation = Some(worker());
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let body = form(&[], &[], crash.minidump_bytes());
    let first = post_form(&sentry, &body, false).await;
    wait_for_status(&sentry, "processed", 1).await;
    let asked = symbols.requests().len();
    assert!(asked > 0, "the first worker asked for nothing");
    post_form(&sentry, &body, false).await;
    wait_for_status(&sentry, "processed", 2).await;
    assert_eq!(
        symbols.requests().len(),
        asked,
        "the second worker asked again for modules known to be missing"
    );
    upload_symbols(&symbols, &crash);
    let reply = send(
        sentry.addr(),
        "POST",
        &format!("/api/items/{first}/reprocess"),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let deadline = tokio::time::Instant::now() + super::PROCESSING;
    loop {
        let processed = get(&sentry, &format!("/api/items/{first}/processed")).await;
        if processed["status"] == "processed" && processed["attempt"] == 2 {
            assert_matches_truth(&crash, &processed, "reprocessed in a worker");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reprocessed: {processed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Bytes of the files under `dir`, however deep.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => bytes_under(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Workers download into the shared cache; the server keeps it under its cap, once the
/// worker is done with the files.
#[tokio::test]
async fn the_server_keeps_the_cache_its_workers_fill_under_its_cap() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let crash = crash(OsFlavor::Mac, 171);
    upload_symbols(&symbols, &crash);
    let cache = tempfile::tempdir().expect("tempdir");
    let mut config = Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    config.native.symbols_cache = Some(cache.path().to_path_buf());
    config.native.symbols_cache_max_bytes = 1;
    config.native.isolation = Some(worker());
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{event_id}/processed")).await;
    assert_matches_truth(
        &crash,
        &processed,
        "symbols read before the cache was trimmed",
    );
    let downloaded = symbols
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .count();
    assert!(downloaded > 0, "nothing was downloaded into the cache");
    assert_eq!(bytes_under(&cache.path().join("cache")), 0);
}

/// Whether process `pid` exists, a zombie included (it keeps its `/proc` entry until reaped).
fn process_exists(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

/// Process `pid`'s nice value, from `/proc/{pid}/stat` (its 19th field).
fn nice_of(pid: &str) -> Option<i32> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")).ok()?;
    // The command name may hold spaces: the fields after it are counted from its `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(16)?.parse().ok()
}

#[tokio::test]
async fn a_worker_that_never_yields_is_killed_and_reaped_at_the_time_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("worker.pid");
    let mut config = Config::ephemeral();
    config.native.workers = 1;
    config.native.timeout = Duration::from_millis(1500);
    config.native.isolation = Some(worker().env("FAKE_SENTRY_WORKER_TEST_HANG", &pid_file));
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let crash = crash(OsFlavor::Linux, 121);
    let started = std::time::Instant::now();
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    // The worker is running (and hanging) once it has written its id.
    let deadline = std::time::Instant::now() + super::PROCESSING;
    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(&pid_file)
            && !pid.is_empty()
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "no worker started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        process_exists(&pid),
        "the hanging worker {pid} is not running"
    );
    // Started from a minidump thread, it runs at that thread's lowest priority.
    assert_eq!(nice_of(&pid), Some(19), "worker {pid}'s nice value");
    wait_for_status(&sentry, "failed", 1).await;
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let error = error_of(&sentry, &event_id).await;
    assert!(error.starts_with("Timeout:"), "{error}");
    // Recorded only once the worker was killed and reaped: no process, no zombie.
    assert!(
        !process_exists(&pid),
        "worker {pid} outlived its time limit"
    );
    assert_serving(&sentry).await;
    // The worker's slot is free again: the next dump gets a worker (and its time limit).
    std::fs::remove_file(&pid_file).expect("remove the pid file");
    let next = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "failed", 2).await;
    assert!(error_of(&sentry, &next).await.starts_with("Timeout:"));
}

#[tokio::test]
async fn a_worker_that_answers_garbage_gives_a_bounded_failure() {
    let worker = worker().env("FAKE_SENTRY_WORKER_TEST_GARBAGE", "1");
    let sentry = isolated(None, worker).await;
    let crash = crash(OsFlavor::Windows, 131);
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "failed", 1).await;
    let error = error_of(&sentry, &event_id).await;
    assert!(error.starts_with("WorkerFailed:"), "{error}");
    assert!(error.contains("cap"), "{error}");
    assert!(error.len() < 300, "{} bytes: {error}", error.len());
    assert_serving(&sentry).await;
}

#[tokio::test]
async fn a_worker_that_cannot_start_gives_a_failure() {
    let sentry = isolated(None, WorkerCommand::new("/nonexistent/fake-sentry")).await;
    let crash = crash(OsFlavor::Linux, 141);
    let event_id = post_form(&sentry, &form(&[], &[], crash.minidump_bytes()), false).await;
    wait_for_status(&sentry, "failed", 1).await;
    let error = error_of(&sentry, &event_id).await;
    assert!(
        error.starts_with("WorkerFailed: cannot start the worker /nonexistent/fake-sentry"),
        "{error}"
    );
}

/// The heap a worker may take past what it holds with its job.
const MAX_MEMORY: u64 = 8 << 20;

/// A crash with large symbol files, well within the default symbol budget: parsing them takes
/// several times [`MAX_MEMORY`]; and a crash of the default profile, whose symbols fit in it.
/// Both crashes' symbols are on `symbols`.
fn big_and_small(symbols: &FakeSymbols, seed: u64) -> (Crash, Crash) {
    let big = Crash::generate(
        &Profile {
            functions_per_module: Span(20_000, 20_000),
            ..Profile::for_os(OsFlavor::Linux)
        },
        seed,
    );
    let sym_bytes: usize = big.sym_files().iter().map(|(_, b)| b.len()).sum();
    assert!(
        sym_bytes as u64 > 2 * MAX_MEMORY,
        "only {sym_bytes} bytes of symbols"
    );
    upload_symbols(symbols, &big);
    let small = crash(OsFlavor::Linux, seed + 1);
    upload_symbols(symbols, &small);
    (big, small)
}

#[tokio::test]
async fn a_dump_over_the_memory_limit_fails_and_the_next_is_processed() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let (big, small) = big_and_small(&symbols, 151);
    let mut config = Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    config.native.workers = 1;
    config.native.max_memory = MAX_MEMORY;
    config.native.isolation = Some(worker());
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let big_id = post_form(&sentry, &form(&[], &[], big.minidump_bytes()), false).await;
    wait_for_status(&sentry, "failed", 1).await;
    let error = error_of(&sentry, &big_id).await;
    assert_eq!(
        error,
        format!("MemoryLimit: processing needed more than {MAX_MEMORY} bytes")
    );
    assert_serving(&sentry).await;
    let small_id = post_form(&sentry, &form(&[], &[], small.minidump_bytes()), false).await;
    wait_for_status(&sentry, "processed", 1).await;
    let processed = get(&sentry, &format!("/api/items/{small_id}/processed")).await;
    assert_matches_truth(&small, &processed, "after a worker ran out of memory");
}

/// What `/api/items/{event_id}/processed` answers once the dump is no longer pending.
async fn settled(binary: &Binary, event_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + super::PROCESSING;
    loop {
        let target = format!("/api/items/{event_id}/processed");
        let reply = send(binary.addr, "GET", &target, &[], b"").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let processed = reply.json();
        if processed["status"] != "pending" {
            return processed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still pending: {processed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The binary's command line: a worker per dump by default, its memory capped by
/// `--minidump-max-memory`; `--minidump-in-process` processes in the server, without the cap.
#[tokio::test]
async fn the_binary_caps_each_dump_s_worker_unless_told_to_process_in_process() {
    let symbols = FakeSymbols::start().await.expect("start fake-symbols");
    let (big, small) = big_and_small(&symbols, 161);
    let max_memory = format!("--minidump-max-memory={MAX_MEMORY}");
    let url = symbols.url();
    let binary = Binary::start(["--symbols-url", &url, &max_memory]).await;
    let big_form = form(&[], &[], big.minidump_bytes());
    let big_id = post_binary(&binary, &big_form).await;
    let processed = settled(&binary, &big_id).await;
    assert_eq!(
        processed["error"],
        format!("MemoryLimit: processing needed more than {MAX_MEMORY} bytes"),
        "{processed}"
    );
    let small_id = post_binary(&binary, &form(&[], &[], small.minidump_bytes())).await;
    let processed = settled(&binary, &small_id).await;
    assert_matches_truth(
        &small,
        &processed,
        "the binary, after a worker ran out of memory",
    );
    drop(binary);
    let binary = Binary::start(["--symbols-url", &url, &max_memory, "--minidump-in-process"]).await;
    let big_id = post_binary(&binary, &big_form).await;
    let processed = settled(&binary, &big_id).await;
    assert_matches_truth(&big, &processed, "the binary, in process");
}

async fn post_binary(binary: &Binary, body: &[u8]) -> String {
    let content_type = format!("multipart/form-data; boundary={}", super::BOUNDARY);
    let headers = [
        ("Content-Type", content_type.as_str()),
        (
            "X-Sentry-Auth",
            "Sentry sentry_key=public, sentry_version=7",
        ),
    ];
    let reply = send(binary.addr, "POST", "/api/1/minidump/", &headers, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text().trim().replace('-', "")
}
