//! siggen itself, run now over the corpus and the probes: every signature, note and proto
//! signature must equal ours, and its list matches must equal the committed ones (which the
//! crate's unit test holds the compiled lists to).
//!
//! siggen 2.2.20241029 is found in `UNDERSTUDY_SIGGEN_PYTHON`'s interpreter, else in
//! `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the test is skipped
//! with a note on stderr, or fails when every test client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{as_result, assert_all_match, committed, corpus, testdata};
use serde_json::Value;

use test_clients::python_with_siggen;

/// What siggen says now about the corpus and the probes (`siggen_expected.py --print`).
fn run_siggen(python: &PathBuf) -> Value {
    let script = testdata().join("siggen_expected.py");
    let output = Command::new(python)
        .arg(&script)
        .arg("--print")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("siggen_expected.py prints JSON")
}

#[test]
fn signatures_equal_siggens_run_now() {
    let Some(python) =
        python_with_siggen("the live siggen comparison in crash-signature/tests/siggen_live.rs")
    else {
        return;
    };
    let live = run_siggen(&python);

    let crashes = corpus();
    let live_corpus = live["corpus"].as_object().expect("corpus results");
    assert_eq!(
        crashes.keys().collect::<Vec<_>>(),
        live_corpus.keys().collect::<Vec<_>>(),
        "siggen and this test read different corpus files"
    );
    assert_all_match(
        "corpus crashes",
        crashes
            .iter()
            .map(|(name, crash)| (name.clone(), crash, as_result(&live_corpus[name]))),
    );

    let probes = live["probes"]["signatures"]
        .as_array()
        .expect("signature probes");
    assert_all_match(
        "signature probes",
        probes.iter().map(|probe| {
            let name = probe["name"].as_str().expect("a name").to_string();
            (name, &probe["input"], as_result(probe))
        }),
    );

    assert!(
        live["probes"]["lists"] == committed("probes/expected.json")["lists"],
        "siggen's list matches differ from probes/expected.json: run testdata/siggen_expected.py"
    );
}
