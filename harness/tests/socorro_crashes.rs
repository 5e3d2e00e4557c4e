//! Every processed crash a run writes (`crashes/<crash>.json`) is one Socorro's signature
//! generation reads unchanged and signs as the harness did: a real run over Linux, Windows,
//! macOS and 32-bit Windows crashes, crashes whose annotations siggen's rules read
//! (`AbortMessage`, `OOMAllocationSize`, `ipc_channel_error`, `AsyncShutdownTimeout`, ...) and
//! the corrupt dumps that sign as `EMPTY: ...`, written into a temporary report folder and
//! signed again by siggen itself (`tests/siggen_check.py`).
//!
//! siggen 2.2.20241029 is found in `UNDERSTUDY_SIGGEN_PYTHON`'s interpreter, else in
//! `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the siggen half is
//! skipped with a note on stderr, or fails when every test client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::{self, RunReport};
use harness::scenario::Scenario;
use harness::{IN_PROCESS, RunOptions, run};
use serde_json::Value;

use crash_signature::siggen_peer::python_with_siggen;

/// Every OS flavour, annotations each of siggen's annotation rules reads, and every corrupt
/// dump the processor refuses.
const SCENARIO: &str = r####"
name = "socorro-crashes"
[services]
fake_sentry = "none"

[[corpus.generated]]
profile = "linux"
programs = 2
crashes = 3
seed = 100
[[corpus.generated]]
profile = "windows"
programs = 2
crashes = 3
seed = 200
[[corpus.generated]]
profile = "mac"
programs = 2
crashes = 3
seed = 300
[[corpus.generated]]
profile = "windows-x86"
programs = 2
crashes = 3
seed = 400

[[corpus.generated]]
profile = { os = "linux", annotations = { ProductName = "Firefox", Version = "128.0", ReleaseChannel = "nightly", ProcessType = "content", AbortMessage = "###!!! ABORT: Aborting on channel error.: file /builds/worker/checkouts/gecko/ipc/glue/MessageChannel.cpp:2600", MozCrashReason = "MOZ_RELEASE_ASSERT(false)" } }
crashes = 1
seed = 110
[[corpus.generated]]
profile = { os = "windows", annotations = { ProductName = "Firefox", Version = "115.0", ReleaseChannel = "esr", OOMAllocationSize = "1048576" } }
crashes = 1
seed = 210
[[corpus.generated]]
profile = { os = "windows", annotations = { ProductName = "Firefox", Version = "128.0", ReleaseChannel = "release", ipc_channel_error = "ShutDownKill", IPCMessageName = "PContent::Msg_Foo" } }
crashes = 1
seed = 220
[[corpus.generated]]
profile = { os = "mac", annotations = { ProductName = "Thunderbird", Version = "128.0", ReleaseChannel = "beta", AsyncShutdownTimeout = '{"phase":"profile-before-change","conditions":[{"name":"StorageService shutdown"}]}' } }
crashes = 1
seed = 310
[[corpus.generated]]
profile = { os = "windows-x86", annotations = { ProductName = "Firefox", Version = "128.0", Hang = "1", JSLargeAllocationFailure = "Reporting" } }
crashes = 1
seed = 410

[[corpus.generated]]
profile = { os = "linux", edge_case = "empty_dump" }
crashes = 1
seed = 500
[[corpus.generated]]
profile = { os = "windows", edge_case = "bad_header" }
crashes = 1
seed = 501
[[corpus.generated]]
profile = { os = "mac", edge_case = "truncated_dump" }
crashes = 1
seed = 502
[[corpus.generated]]
profile = { os = "linux", edge_case = "missing_thread_list" }
crashes = 1
seed = 503
[[corpus.generated]]
profile = { os = "windows-x86", edge_case = "missing_system_info" }
crashes = 1
seed = 504
"####;

/// The scenario, run, and its reports written into `dir`.
async fn run_into(dir: &Path) -> RunReport {
    let scenario = Scenario::from_toml(SCENARIO, Path::new("socorro.toml"), ".".into()).unwrap();
    let report = run(&scenario, &RunOptions::default()).await.unwrap();
    assert!(report.passed, "{}", report::terminal::render(&report));
    report::write_all(&report, dir).unwrap();
    report
}

/// Every `crashes/*.json` of `dir`, by crash name.
fn written(dir: &Path) -> BTreeMap<String, Value> {
    std::fs::read_dir(dir.join("crashes"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (name, json)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn siggen_signs_every_written_crash_as_the_harness_did() {
    // First, so that a missing siggen fails before the run when every client is required.
    let python = python_with_siggen(
        "siggen's signatures of the written crashes in harness/tests/socorro_crashes.rs",
    );
    let dir = tempfile::tempdir().unwrap();
    let report = run_into(dir.path()).await;
    let crashes = written(dir.path());

    // One file per crash, and the signature the report gives is the file's.
    let results: Vec<_> = report
        .crashes
        .iter()
        .filter(|c| c.processor == IN_PROCESS)
        .collect();
    assert_eq!(results.len(), 22);
    assert_eq!(crashes.len(), results.len());
    for result in &results {
        let crash = &crashes[&result.crash];
        assert_eq!(
            result.signature.as_deref(),
            crash["signature"].as_str(),
            "{}",
            result.crash
        );
        assert_eq!(
            crash["uuid"].as_str(),
            result.crash_id.as_deref().map(|id| &id[3..])
        );
        assert_eq!(crash["crash_id"], crash["uuid"]);
    }

    // Socorro's keys, from the processor and from the annotations.
    let linux = &crashes["linux-100"];
    assert_eq!(linux["json_dump"]["status"], "OK");
    assert_eq!(linux["mdsw_status_string"], "OK");
    assert_eq!(linux["os_name"], "Linux");
    assert_eq!(linux["cpu_arch"], "amd64");
    assert_eq!(
        linux["crashing_thread"],
        linux["json_dump"]["crash_info"]["crashing_thread"]
    );
    assert_eq!(linux["product"], "Firefox");
    assert_eq!(linux["version"], "128.0");
    assert_eq!(linux["release_channel"], "nightly");
    assert_eq!(linux["additional_minidumps"], serde_json::json!([]));
    assert!(linux["proto_signature"].is_string());
    assert_eq!(crashes["windows-x86-400"]["cpu_arch"], "x86");
    assert_eq!(crashes["mac-300"]["os_name"], "Mac OS X");

    let aborted = &crashes["linux-110"];
    assert_eq!(aborted["process_type"], "content");
    assert_eq!(aborted["moz_crash_reason"], "MOZ_RELEASE_ASSERT(false)");
    let signature = aborted["signature"].as_str().unwrap();
    assert!(
        signature.starts_with("Abort | Aborting on channel error. | "),
        "{signature}"
    );
    let oom = &crashes["windows-210"];
    assert_eq!(oom["oom_allocation_size"], 1048576);
    assert_eq!(oom["version"], "115.0esr");
    assert!(
        oom["signature"]
            .as_str()
            .unwrap()
            .starts_with("OOM | large | ")
    );
    let ipc = &crashes["windows-220"];
    assert_eq!(ipc["ipc_channel_error"], "ShutDownKill");
    assert!(
        ipc["signature"]
            .as_str()
            .unwrap()
            .starts_with("IPCError-content | ShutDownKill")
    );
    let shutdown = &crashes["mac-310"];
    assert_eq!(
        shutdown["signature"],
        "AsyncShutdownTimeout | profile-before-change | StorageService shutdown"
    );
    assert!(
        crashes["windows-x86-410"]["signature"]
            .as_str()
            .unwrap()
            .starts_with("hang: 1 | ")
    );

    // Corrupt dumps: what Socorro keeps when the stackwalker gives nothing.
    let empty = &crashes["linux-500"];
    assert!(
        empty.get("json_dump").is_none(),
        "Socorro never walks an empty dump"
    );
    assert_eq!(
        empty["signature"],
        "EMPTY: no frame data available; EmptyMinidump"
    );
    for (crash, status) in [
        ("windows-501", "HeaderMismatch"),
        ("mac-502", "MissingDirectory"),
        ("linux-503", "MissingThreadList"),
        ("windows-x86-504", "MissingSystemInfo"),
    ] {
        let kept = &crashes[crash];
        assert_eq!(kept["json_dump"], serde_json::json!({}), "{crash}");
        assert_eq!(kept["mdsw_status_string"], status, "{crash}");
        assert_eq!(
            kept["signature"],
            format!("EMPTY: no frame data available; {status}"),
            "{crash}"
        );
    }

    // And siggen itself signs each file as it stands the same way.
    let Some(python) = python else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/siggen_check.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .arg("--json")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let checked = checked["crashes"].as_array().expect("a list of crashes");
    assert_eq!(checked.len(), crashes.len());
    let differing: Vec<&Value> = checked.iter().filter(|c| c["equal"] != true).collect();
    assert!(
        differing.is_empty(),
        "siggen signs these differently: {differing:#?}"
    );
    assert!(output.status.success());
}
