//! The demo scenario, run for real once: it must pass, its JUnit XML must be valid and list
//! every case, and (when the pinned minidump-stackwalk is installed, as `.ci/run` does) the
//! external stackwalker must agree with the in-process processor on every crash.

use std::path::PathBuf;

use harness::report::{self, junit};
use harness::run::{IN_PROCESS, RunOptions, STACKWALK, run};

/// The pinned binary: `MINIDUMP_STACKWALK`, else where `.ci/run` installs it.
fn stackwalk() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MINIDUMP_STACKWALK") {
        return Some(PathBuf::from(path));
    }
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.clients/minidump-stackwalk/bin/minidump-stackwalk");
    installed.exists().then_some(installed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_passes_with_valid_junit_and_processors_agree() {
    let walker = stackwalk();
    if walker.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install minidump-stackwalk 0.27.0 (see .ci/run)"
        );
        eprintln!(
            "minidump-stackwalk not installed: the in-process/external agreement is not checked here \
             (cargo install minidump-stackwalk@0.27.0 --locked --root .clients/minidump-stackwalk)"
        );
    }
    let scenario = harness::demo::scenario();
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

    // ~100 crashes across four OS flavours, each symbol file fetched once.
    let in_process: Vec<_> = report
        .crashes
        .iter()
        .filter(|c| c.processor == IN_PROCESS)
        .collect();
    assert_eq!(in_process.len(), 100);
    for os in ["Linux", "Windows NT", "Mac OS X"] {
        assert!(
            in_process.iter().any(|c| c.os.as_deref() == Some(os)),
            "no {os} crash"
        );
    }
    assert!(
        in_process
            .iter()
            .all(|c| c.crash_id.is_some() && c.signature.is_some())
    );
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

    if walker.is_some() {
        let external: Vec<_> = report
            .crashes
            .iter()
            .filter(|c| c.processor == STACKWALK)
            .collect();
        assert_eq!(external.len(), 100);
        for c in external {
            assert!(c.passed, "{}: {:?}", c.id, c.mismatches);
        }
    }
}
