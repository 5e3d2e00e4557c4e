//! The harness against services it did not start, as in docker compose: `harness up --only
//! collector` serves the collector alone with its read API; a scenario whose services are URLs
//! uploads, submits, processes and audits through them; and what gets processed is the dump
//! the collector stored, read back through that API (or the generated one when a collector,
//! like Antenna, has no read API).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::collector::CollectorConfig;
use harness::scenario::Scenario;
use harness::services::{self, RunningCollector, UPLOAD_TOKEN};
use harness::{RunOptions, run};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_harness");
/// A valid Antenna crash id (throttle digit 0, date 261126).
const CRASH_ID: &str = "de1bb258-cbbf-4589-a673-34f800261126";

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, Path::new("test.toml"), ".".into()).unwrap()
}

/// Kills the child if the test fails before stopping it: an orphan holding the inherited
/// stderr would keep `cargo test | tail` waiting forever.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_runs_against_services_given_by_url() {
    let sentry = services::start_sentry(loopback(), Default::default())
        .await
        .unwrap();
    let symbols = services::start_symbols(loopback()).await.unwrap();
    let collector = RunningCollector::start(loopback(), CollectorConfig::default())
        .await
        .unwrap();
    let text = format!(
        r#"
        name = "external"
        [services]
        fake_sentry = "{}"
        fake_symbols = "{}"
        collector = "{}"
        symbols_upload_token = "{UPLOAD_TOKEN}"
        [[corpus.generated]]
        profile = "linux"
        crashes = 3
        seed = 70
        [[corpus.generated]]
        profile = "windows"
        crashes = 2
        seed = 80
        [[fault]]
        name = "500s"
        crashes = 1
        rules = [{{ action = {{ kind = "status", code = 500 }} }}]
        expect = {{ symbolicated = "none", max_requests_per_module = 1 }}
        [audit]
        policy = "strict"
        component = {{ leak = "both", scrub = true, orders = 2 }}
        [expect]
        ground_truth = true
        max_symbol_requests_per_module = 1
        "#,
        sentry.url(),
        symbols.url(),
        collector.url()
    );
    let report = run(&scenario(&text), &RunOptions::default()).await.unwrap();
    assert!(report.passed, "{}", report.failures().join("\n"));
    assert_eq!(report.crashes.len(), 5);
    // Every crash went through the collector, and what was processed is what it stored.
    let stored = collector.state().crash_ids();
    assert_eq!(stored.len(), 5, "{stored:?}");
    for crash in &report.crashes {
        let id = crash.crash_id.as_deref().expect("a crash id");
        assert!(collector.state().crash(id).is_some(), "{id} not stored");
    }
    // The symbols were uploaded to the external fake-symbols and fetched from it, each sym
    // file once (the harness reads its request log; the fault stage cleared it since).
    assert!(
        report.symbols.requests > 0 && report.symbols.modules > 0,
        "{:?}",
        report.symbols
    );
    assert!(
        report.symbols.max_requests_per_module <= 1,
        "{:?}",
        report.symbols
    );
    assert!(
        report.symbols.per_module.iter().any(|m| m.status == 200),
        "{:?}",
        report.symbols
    );
    assert_eq!(report.faults.len(), 1);
    assert!(report.faults[0].passed, "{:?}", report.faults[0]);
    // The audited component reported to the external fake-sentry.
    assert!(!report.audit.is_empty());
    collector.shutdown().await;
    symbols.shutdown().await;
    sentry.shutdown().await;
}

/// A collector (mocked) that stores something else than what was sent: the harness must
/// process the stored bytes, so the crash fails to process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dump_processed_is_the_one_the_collector_stored() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/submit"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("CrashID=bp-{CRASH_ID}\n")),
        )
        .mount(&collector)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/crashes/bp-{CRASH_ID}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"uuid": CRASH_ID})),
        )
        .mount(&collector)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/crashes/bp-{CRASH_ID}/dumps/upload_file_minidump"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"MDMP but not really".to_vec()))
        .mount(&collector)
        .await;
    let text = format!(
        r#"
        name = "stored-dump"
        [services]
        fake_sentry = "none"
        collector = "{}"
        [[corpus.generated]]
        profile = "linux"
        crashes = 1
        seed = 5
        "#,
        collector.uri()
    );
    let report = run(&scenario(&text), &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    let crash = &report.crashes[0];
    assert_eq!(
        crash.crash_id.as_deref(),
        Some(format!("bp-{CRASH_ID}").as_str())
    );
    assert_ne!(crash.status, "OK", "{crash:?}");
}

/// Antenna has no read API: the harness processes the generated dump and still passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_without_a_read_api_still_works() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/submit"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("CrashID=bp-{CRASH_ID}\n")),
        )
        .mount(&collector)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&collector)
        .await;
    let text = format!(
        r#"
        name = "antenna"
        [services]
        fake_sentry = "none"
        collector = "{}"
        [[corpus.generated]]
        profile = "linux"
        crashes = 2
        seed = 9
        "#,
        collector.uri()
    );
    let report = run(&scenario(&text), &RunOptions::default()).await.unwrap();
    assert!(report.passed, "{}", report.failures().join("\n"));
    assert!(report.crashes.iter().all(|c| c.status == "OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_only_collector_serves_the_collector_and_its_read_api() {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["up", "--collector-port", "0", "--only", "collector"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.starts_with("Ctrl-C");
            seen.push(line);
            if done {
                std::thread::spawn(move || lines.for_each(drop));
                break;
            }
        }
        seen
    })
    .await
    .unwrap();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("fake-sentry") || l.starts_with("fake-symbols")),
        "{lines:?}"
    );
    let submit = lines
        .iter()
        .find(|l| l.starts_with("collector"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no collector URL in {lines:?}"))
        .to_string();
    let base = submit.trim_end_matches("/submit").to_string();

    let client = reqwest::Client::new();
    let crash = crash_generator::Crash::generate(&crash_generator::Profile::default(), 11);
    let encoded = crash_generator::submission::build(
        &crash_generator::submission::Submission::for_crash(&crash),
        "harness-test-boundary",
    );
    let mut request = client
        .post(&submit)
        .header("content-type", &encoded.content_type)
        .body(encoded.body);
    if let Some(encoding) = encoded.content_encoding {
        request = request.header("content-encoding", encoding);
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    let id = body
        .strip_prefix("CrashID=")
        .unwrap()
        .trim_end()
        .to_string();

    let list: serde_json::Value = client
        .get(format!("{base}/api/crashes/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["crashes"][0]["crash_id"], id.as_str(), "{list}");
    assert_eq!(
        list["crashes"][0]["dumps"]["upload_file_minidump"],
        crash.minidump_bytes().len(),
        "{list}"
    );
    let raw: serde_json::Value = client
        .get(format!("{base}/api/crashes/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["uuid"], id.trim_start_matches("bp-"), "{raw}");
    let dump = client
        .get(format!(
            "{base}/api/crashes/{id}/dumps/upload_file_minidump"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(dump.status(), 200);
    assert_eq!(dump.bytes().await.unwrap().as_ref(), crash.minidump_bytes());
    for missing in [
        format!("{base}/api/crashes/bp-{CRASH_ID}"),
        format!("{base}/api/crashes/{id}/dumps/upload_file_other"),
    ] {
        let response = client.get(&missing).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
        let error: serde_json::Value = response.json().await.unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains("no crash") || message.contains("has no dump"),
            "{error}"
        );
    }

    // SIGTERM (what `docker stop` sends) stops it cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "harness up did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

/// A symbols server without fake-symbols' request log (Tecken, here mocked) cannot have its
/// requests counted: an expectation on them fails as "not counted" instead of passing on zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbol_requests_on_a_server_without_a_request_log_are_not_counted() {
    let tecken = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/upload/"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"upload": {}})))
        .mount(&tecken)
        .await;
    Mock::given(path_regex(".*"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&tecken)
        .await;
    let text = format!(
        r#"
        name = "tecken"
        [services]
        fake_sentry = "none"
        collector = "none"
        fake_symbols = "{}"
        symbols_upload_token = "token"
        [[corpus.generated]]
        profile = "linux"
        crashes = 1
        seed = 3
        [expect]
        ground_truth = false
        max_symbol_requests_per_module = 1
        "#,
        tecken.uri()
    );
    let report = run(&scenario(&text), &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    let check = report
        .expectations
        .iter()
        .find(|c| c.name == "symbol requests per sym file")
        .expect("the check is reported");
    assert!(!check.passed);
    assert!(check.actual.starts_with("not counted"), "{check:?}");
    // The crash itself was processed (its symbols were simply missing).
    assert_eq!(report.crashes[0].status, "OK", "{:?}", report.crashes[0]);
}
