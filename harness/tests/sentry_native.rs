//! Crashes submitted to fake-sentry as sentry-native submits them (`submit = [.., "sentry"]`):
//! fake-sentry processes each with the real processor, and the run checks what it made of it
//! against the ground truth and the in-process processor's signature. With symbols, every
//! check passes and the events carry the release, environment and crash tag; a fake-sentry
//! that cannot symbolicate, or whose processing fails, fails the run with a frame diff or the
//! error, without waiting out the deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use fake_sentry::testing::FakeSentry;
use fake_symbols::testing::FakeSymbols;
use harness::report::{self, junit};
use harness::scenario::Scenario;
use harness::{FAKE_SENTRY, IN_PROCESS, RunOptions, RunServices, run, run_with};

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, Path::new("test.toml"), ".".into()).unwrap()
}

/// A fake-sentry the test starts itself, processing as `native` says.
async fn own_sentry(native: fake_sentry::config::NativeConfig) -> FakeSentry {
    let config = fake_sentry::Config {
        native,
        ..fake_sentry::Config::ephemeral()
    };
    FakeSentry::start_with(config).await.unwrap()
}

async fn get_json(url: &str) -> serde_json::Value {
    let response = reqwest::get(url).await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_sent_as_sentry_native_are_processed_by_fake_sentry_to_their_ground_truth() {
    let scenario = scenario(
        r#"
        name = "sentry-native"
        [[corpus.generated]]
        profile = "linux"
        crashes = 3
        seed = 10
        submit = ["collector", "sentry"]
        [[corpus.generated]]
        profile = "windows-x86"
        crashes = 2
        seed = 20
        submit = ["sentry"]
        [[corpus.generated]]
        profile = "mac"
        crashes = 1
        seed = 30
        [sentry_native]
        release = "native-app@2.0"
        environment = "ci"
        "#,
    );
    let services = RunServices::start(&scenario).await.unwrap();
    let report = run_with(&scenario, &RunOptions::default(), &services)
        .await
        .unwrap();
    assert!(report.passed, "{}", report::terminal::render(&report));

    // Five crashes went to fake-sentry (the mac one did not); each matched its ground truth,
    // and fake-sentry's signature is the in-process processor's.
    let sentry: Vec<_> = report
        .crashes
        .iter()
        .filter(|c| c.processor == FAKE_SENTRY)
        .collect();
    let names: Vec<&str> = sentry.iter().map(|c| c.crash.as_str()).collect();
    assert_eq!(
        names,
        [
            "linux-10",
            "linux-11",
            "linux-12",
            "windows-x86-20",
            "windows-x86-21"
        ]
    );
    for c in &sentry {
        let in_process = report
            .crashes
            .iter()
            .find(|o| o.crash == c.crash && o.processor == IN_PROCESS)
            .unwrap();
        assert!(c.passed && c.mismatches.is_empty(), "{c:?}");
        assert_eq!(c.status, "OK");
        assert!(c.signature.is_some());
        assert_eq!(c.signature, in_process.signature, "{}", c.crash);
        assert!(!c.frames.is_empty());
        let event_id = c.crash_id.as_deref().unwrap();
        assert_eq!(event_id.len(), 32, "{event_id}");

        // Sent as sentry-native sends it: the release, environment and the crash's tag.
        let url = services.sentry_url.as_deref().unwrap();
        let kent = get_json(&format!("{url}/api/event/{event_id}")).await;
        let event = &kent["payload"]["body"];
        assert_eq!(event["release"], "native-app@2.0");
        assert_eq!(event["environment"], "ci");
        assert_eq!(event["tags"]["crash"], c.crash.as_str());
    }
    // Only the crashes sent to the collector have a collector crash id.
    let through_collector = |name: &str| {
        report
            .crashes
            .iter()
            .find(|c| c.crash == name && c.processor == IN_PROCESS)
            .unwrap()
            .crash_id
            .is_some()
    };
    assert!(through_collector("linux-10") && through_collector("mac-30"));
    assert!(!through_collector("windows-x86-20"));
    assert!(report.stage_millis("sentry-native") > 0.0);

    // One JUnit case per crash fake-sentry processed.
    let xml = junit::render(&report);
    let parsed = junit::parse(&xml).unwrap();
    let cases = parsed
        .cases
        .iter()
        .filter(|c| c.classname == "harness.crashes.fake-sentry")
        .count();
    assert_eq!(cases, 5);
    assert_eq!(parsed.failures, 0);
    services.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_sentry_without_symbols_fails_the_run_with_a_frame_diff() {
    // A fake-sentry given by URL, started without `--symbols-url`: it processes every dump,
    // but cannot symbolicate a frame.
    let sentry = own_sentry(Default::default()).await;
    let scenario = scenario(&format!(
        r#"
        name = "sentry-without-symbols"
        [services]
        fake_sentry = "{}"
        [[corpus.generated]]
        profile = "linux"
        crashes = 2
        seed = 40
        submit = ["collector", "sentry"]
        "#,
        sentry.url()
    ));
    let report = run(&scenario, &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    for c in &report.crashes {
        match c.processor.as_str() {
            IN_PROCESS => assert!(c.passed, "{c:?}"),
            FAKE_SENTRY => {
                assert!(!c.passed);
                assert_eq!(c.status, "OK", "processed, without symbols");
                assert!(
                    c.mismatches
                        .iter()
                        .any(|m| m.path.contains(".frames[") && m.path.ends_with(".function")),
                    "{:?}",
                    c.mismatches
                );
                assert!(
                    c.mismatches
                        .iter()
                        .any(|m| m.path == "vs minidump-processor: signature"),
                    "{:?}",
                    c.mismatches
                );
                assert!(c.frames.iter().any(|f| f.mismatched));
            }
            other => panic!("unexpected processor {other}"),
        }
    }
    let text = report::terminal::render(&report);
    assert!(
        text.contains("fake-sentry                  0       2"),
        "{text}"
    );
    assert!(
        text.contains("crash linux-40/fake-sentry: threads["),
        "{text}"
    );
    let xml = junit::render(&report);
    assert!(
        xml.contains("classname=\"harness.crashes.fake-sentry\""),
        "{xml}"
    );
    assert_eq!(junit::parse(&xml).unwrap().failures, 2);
    let html = report::html::render(&report).unwrap();
    assert!(html.contains("linux-40/fake-sentry"));
    sentry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_fake_sentry_fails_to_process_fails_the_run_at_once() {
    // No time at all for a dump: its first symbol download cannot be answered within the
    // processor's first poll, so the dump fails with the processor's `Timeout`.
    let symbols = FakeSymbols::start().await.unwrap();
    let sentry = own_sentry(fake_sentry::config::NativeConfig {
        timeout: Duration::ZERO,
        symbol_urls: vec![symbols.url()],
        ..Default::default()
    })
    .await;
    let scenario = scenario(&format!(
        r#"
        name = "sentry-fails"
        [services]
        fake_sentry = "{}"
        collector = "none"
        [[corpus.generated]]
        profile = "windows"
        crashes = 1
        seed = 50
        submit = ["sentry"]
        [sentry_native]
        wait_secs = 120
        "#,
        sentry.url()
    ));
    let started = Instant::now();
    let report = run(&scenario, &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    // A failure ends the wait: it is not waited out to the deadline.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let failed = report
        .crashes
        .iter()
        .find(|c| c.processor == FAKE_SENTRY)
        .unwrap();
    assert!(!failed.passed);
    assert_eq!(failed.status, "Timeout");
    let lines = report.failures().join("\n");
    assert!(
        lines.contains(r#"crash windows-50/fake-sentry: status: expected "OK", got "Timeout""#),
        "{lines}"
    );
    sentry.shutdown().await;
    symbols.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_the_processor_cannot_read_passes_when_fake_sentry_fails_it_the_same_way() {
    // Corrupt dumps whose ground truth is the processor's error: fake-sentry takes them (they
    // start with the minidump signature), fails them, and names the same error.
    let scenario = scenario(
        r#"
        name = "sentry-corrupt-dumps"
        [[corpus.generated]]
        profile = { os = "linux", edge_case = "missing_thread_list" }
        crashes = 1
        seed = 70
        submit = ["collector", "sentry"]
        [[corpus.generated]]
        profile = { os = "windows", edge_case = "truncated_dump" }
        crashes = 1
        seed = 71
        submit = ["sentry"]
        "#,
    );
    let report = run(&scenario, &RunOptions::default()).await.unwrap();
    assert!(report.passed, "{}", report::terminal::render(&report));
    let statuses: Vec<(&str, &str)> = report
        .crashes
        .iter()
        .filter(|c| c.processor == FAKE_SENTRY)
        .map(|c| (c.crash.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("linux-70", "MissingThreadList"),
            ("windows-71", "MissingDirectory")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_still_pending_at_the_deadline_fails_the_run() {
    // Processing off: the dump is stored and stays pending.
    let sentry = own_sentry(fake_sentry::config::NativeConfig {
        workers: 0,
        ..Default::default()
    })
    .await;
    let scenario = scenario(&format!(
        r#"
        name = "sentry-pending"
        [services]
        fake_sentry = "{}"
        [[corpus.generated]]
        profile = "mac"
        crashes = 1
        seed = 60
        submit = ["collector", "sentry"]
        [sentry_native]
        wait_secs = 1
        "#,
        sentry.url()
    ));
    let report = run(&scenario, &RunOptions::default()).await.unwrap();
    assert!(!report.passed);
    let pending = report
        .crashes
        .iter()
        .find(|c| c.processor == FAKE_SENTRY)
        .unwrap();
    assert_eq!(pending.status, "still pending after 1 s");
    assert!(pending.crash_id.is_some(), "fake-sentry took it");
    sentry.shutdown().await;
}
