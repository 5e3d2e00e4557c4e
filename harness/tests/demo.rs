//! The demo scenario, run for real once: it must pass (fake-sentry's processing of the crashes
//! sent to it as sentry-native sends them included), its JUnit XML must be valid and list
//! every case, and the external stackwalker (the pinned minidump-stackwalk, which
//! `scripts/setup-test-clients` installs when every client is required, as in `.ci/run`) must
//! agree with the in-process processor on every crash. Without it the comparison is skipped with
//! a note on stderr, or fails when every client is required. Every processed crash the run
//! writes (`crashes/<crash>.json`, and `crashes/<crash>.stackwalk.json` with the external
//! stackwalker) must be signed by siggen 2.2.20241029 (`tests/siggen_check.py`) as the harness
//! signed it, likewise skipped or failed without siggen.

mod common;

use harness::report::{self, junit};
use harness::{FAKE_SENTRY, IN_PROCESS, RunOptions, STACKWALK, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_passes_with_valid_junit_and_processors_agree() {
    // First, so that a missing siggen fails before the run when every client is required.
    let python = test_clients::python_with_siggen(concat!(
        "siggen's signatures of the demo's processed crashes in ",
        file!()
    ));
    let walker =
        test_clients::minidump_stackwalk(concat!("the minidump-stackwalk comparison in ", file!()));
    let scenario = harness::demo_scenario();
    let report = run(
        &scenario,
        &RunOptions {
            progress: false,
            stackwalk: walker.clone(),
        },
    )
    .await
    .expect("the demo runs");
    assert!(
        report.passed,
        "the demo failed:\n{}",
        report::terminal::render(&report)
    );

    // 100 crashes across seven platforms, ARM64 among them, each symbol file fetched once.
    let in_process: Vec<_> = report
        .crashes
        .iter()
        .filter(|c| c.processor == IN_PROCESS)
        .collect();
    assert_eq!(in_process.len(), 100);
    for os in ["Linux", "Windows NT", "Mac OS X", "Android"] {
        assert!(
            in_process.iter().any(|c| c.os.as_deref() == Some(os)),
            "no {os} crash"
        );
    }
    for platform in ["mac-arm64-", "android-", "windows-arm64-"] {
        assert_eq!(
            in_process
                .iter()
                .filter(|c| c.crash.starts_with(platform) && c.passed)
                .count(),
            15,
            "{platform} crashes that match their ground truth"
        );
    }
    assert!(
        in_process
            .iter()
            .all(|c| c.crash_id.is_some() && c.signature.is_some())
    );
    // The 32-bit Windows and Android crashes also went to fake-sentry as sentry-native sends
    // them: each processed there to its ground truth, with the in-process processor's signature.
    let sentry: Vec<_> = report
        .crashes
        .iter()
        .filter(|c| c.processor == FAKE_SENTRY)
        .collect();
    assert_eq!(sentry.len(), 30);
    for c in &sentry {
        assert!(
            (c.crash.starts_with("windows-x86-") || c.crash.starts_with("android-")) && c.passed,
            "{c:?}"
        );
        let reference = in_process.iter().find(|o| o.crash == c.crash).unwrap();
        assert_eq!(c.signature, reference.signature, "{}", c.crash);
    }
    assert_eq!(report.symbols.max_requests_per_module, 1);
    assert!(report.symbols.modules > 3);
    assert_eq!(report.faults.len(), 3);
    assert!(
        !report.audit.is_empty(),
        "the component's events were audited"
    );

    // Reports, and the JUnit XML lists every case.
    let dir = tempfile::tempdir().unwrap();
    let paths = report::write_all(&report, dir.path()).unwrap();
    let xml = std::fs::read_to_string(&paths.junit).unwrap();
    let parsed = junit::parse(&xml).expect("valid JUnit XML");
    let expected_cases =
        report.crashes.len() + report.faults.len() + report.audit.len() + report.expectations.len();
    assert_eq!(parsed.tests, expected_cases);
    assert_eq!(parsed.failures, 0);
    for crash in &report.crashes {
        assert!(
            parsed.cases.iter().any(|c| c.suite == "crashes"
                && c.name == crash.crash
                && c.classname.ends_with(&crash.processor)),
            "{} missing from the JUnit XML",
            crash.id
        );
    }
    let html = std::fs::read_to_string(&paths.html).unwrap();
    assert!(html.contains("<svg") && html.contains("passed"));
    // Every crash as Socorro keeps it, with the signature its result gives.
    for crash in &in_process {
        let path = paths.crashes.join(format!("{}.json", crash.crash));
        let kept: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            kept["signature"].as_str(),
            crash.signature.as_deref(),
            "{}",
            crash.crash
        );
    }
    // minidump-stackwalk's processed crashes beside them.
    let processors = if walker.is_some() { 2 } else { 1 };
    assert_eq!(
        std::fs::read_dir(&paths.crashes).unwrap().count(),
        100 * processors
    );

    if walker.is_some() {
        let external: Vec<_> = report
            .crashes
            .iter()
            .filter(|c| c.processor == STACKWALK)
            .collect();
        assert_eq!(external.len(), 100);
        for c in external {
            assert!(c.passed, "{}: {:?}", c.id, c.mismatches);
            let path = paths.crashes.join(format!("{}.stackwalk.json", c.crash));
            let kept: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(
                kept["signature"].as_str(),
                c.signature.as_deref(),
                "{}",
                c.crash
            );
        }
    }

    // siggen signs every file of the seven platforms as the harness did.
    if let Some(python) = python {
        common::siggen_agrees(&python, dir.path(), 100 * processors);
    }
}
