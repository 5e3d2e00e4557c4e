//! The harness's other promises, through its real entry points: a wrong expectation fails
//! the run with a clear diff and exit code 1; a leaking component fails the audit (naming the
//! path) and passes once the scrubbing policy is its `before_send`; `harness up` serves all
//! three services and stops cleanly on Ctrl-C; `harness diff` exits 0 or 1.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::component::{LEAKED_EMAIL, LEAKED_TOKEN};
use harness::scenario::Scenario;
use harness::{RunOptions, run};

const BIN: &str = env!("CARGO_BIN_EXE_harness");

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, Path::new("test.toml"), ".".into()).unwrap()
}

#[test]
fn a_wrong_expectation_fails_with_a_diff_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    std::fs::write(
        &file,
        r#"
        name = "wrong-expectation"
        [[corpus.generated]]
        profile = "linux"
        crashes = 2
        seed = 1
        [[expect.crash]]
        crash = "linux-1"
        signature = "definitely::not::this"
        "#,
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = Command::new(BIN)
        .args(["run", file.to_str().unwrap(), "--quiet", "--report-dir"])
        .arg(&reports)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains("crash linux-1/minidump-processor: expect.signature: expected definitely::not::this, got "),
        "{stdout}"
    );
    // The second crash, with no expectation, still passed against its ground truth.
    assert!(
        stdout.contains("minidump-processor           1       1"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    let parsed = harness::report::junit::parse(&xml).unwrap();
    assert!(parsed.failures >= 1);
    assert!(xml.contains("definitely::not::this"));
    // The signature checked is the one of the crash as written in crashes/.
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("crashes/linux-1.json")).unwrap())
            .unwrap();
    let signature = kept["signature"].as_str().unwrap();
    assert!(
        stdout.contains(&format!(
            "expected definitely::not::this, got {signature}\n"
        )),
        "{stdout}"
    );
    assert!(reports.join("crashes/linux-2.json").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_component_fails_the_audit_until_scrubbed() {
    let leaking = scenario(
        r#"
        name = "leak"
        [services]
        fake_symbols = "none"
        collector = "none"
        [audit]
        policy = "strict"
        component = { leak = "both", scrub = false, orders = 3 }
        "#,
    );
    let report = run(&leaking, &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    let findings: Vec<_> = report.audit.iter().flat_map(|a| &a.findings).collect();
    assert!(
        findings.iter().any(|f| f.path == "user.email"),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.path.starts_with("extra.provider_request") && f.rule.contains("bearer")),
        "{findings:?}"
    );
    // Findings name the event, and never carry the value itself.
    let lines = report.failures().join("\n");
    assert!(lines.contains("audit: event "), "{lines}");
    assert!(
        !lines.contains(LEAKED_EMAIL) && !lines.contains(LEAKED_TOKEN),
        "{lines}"
    );

    let scrubbed = scenario(
        r#"
        name = "scrubbed"
        [services]
        fake_symbols = "none"
        collector = "none"
        [audit]
        policy = "strict"
        component = { leak = "both", scrub = true, orders = 3 }
        "#,
    );
    let report = run(&scrubbed, &RunOptions::default()).await.unwrap();
    assert!(report.passed, "{}", report.failures().join("\n"));
    assert_eq!(report.audit.len(), 2, "one failed order and one warning");
}

/// Reads lines from `harness up` until all three URLs are printed, then keeps draining its
/// output on a thread (so its last words do not hit a closed pipe).
fn read_urls(stdout: impl std::io::Read + Send + 'static) -> (String, String, String) {
    let mut sentry = None;
    let mut symbols = None;
    let mut collector = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let url = line.split_whitespace().nth(1).map(str::to_string);
        if line.starts_with("fake-sentry") {
            sentry = url;
        } else if line.starts_with("fake-symbols") {
            symbols = url;
        } else if line.starts_with("collector") {
            collector = url;
        }
        if let (Some(a), Some(b), Some(c)) = (&sentry, &symbols, &collector) {
            let urls = (a.clone(), b.clone(), c.clone());
            std::thread::spawn(move || lines.for_each(drop));
            return urls;
        }
    }
    panic!("harness up did not print its URLs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_all_three_and_stops_cleanly() {
    let mut child = Command::new(BIN)
        .args([
            "up",
            "--sentry-port",
            "0",
            "--symbols-port",
            "0",
            "--collector-port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sentry, symbols, submit) = tokio::task::spawn_blocking(move || read_urls(stdout))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for url in [
        format!("{sentry}/__heartbeat__"),
        format!("{symbols}/__heartbeat__"),
    ] {
        let status = client.get(&url).send().await.unwrap().status();
        assert!(status.is_success(), "{url}: {status}");
    }
    // A real crash submission to the collector gets an Antenna crash id.
    let crash = crash_generator::Crash::generate(&crash_generator::Profile::default(), 3);
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
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let id = body.strip_prefix("CrashID=bp-").unwrap().trim_end();
    assert!(harness::collector::is_crash_id(id), "{body}");
    // Ctrl-C: it stops, exits 0, and the ports close.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "harness up did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert!(
        client
            .get(format!("{symbols}/__heartbeat__"))
            .send()
            .await
            .is_err()
    );
}

#[test]
fn diff_exits_0_for_equal_and_1_for_different_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let crash = |function: &str| {
        serde_json::json!({
            "status": "OK",
            "crash_info": {"crashing_thread": 0, "type": "SIGSEGV"},
            "threads": [{"frames": [{"function": function, "module": "app", "trust": "context"}]}]
        })
    };
    let write = |name: &str, value: serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    };
    let a = write("a.json", crash("main"));
    let b = write("b.json", crash("main"));
    let c = write("c.json", serde_json::json!({"json_dump": crash("other")}));
    let same = Command::new(BIN)
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("no differences"));
    let differ = Command::new(BIN)
        .arg("diff")
        .arg(&a)
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(differ.status.code(), Some(1));
    let text = String::from_utf8_lossy(&differ.stdout);
    assert!(text.contains("threads[0].frames[0].function"), "{text}");
    let missing = Command::new(BIN)
        .arg("diff")
        .arg(&a)
        .arg(dir.path().join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
