//! Every processed crash a run writes (`crashes/<crash>.json`) is one Socorro's signature
//! generation reads unchanged and signs as the harness did: a real run over Linux, Windows,
//! macOS and 32-bit Windows crashes, crashes whose annotations siggen's rules read
//! (`AbortMessage`, `OOMAllocationSize`, `ipc_channel_error`, `AsyncShutdownTimeout`, ...) and
//! the corrupt dumps that sign as `EMPTY: ...`, written into a temporary report folder and
//! signed again by siggen itself (`tests/siggen_check.py`). Then crash-generator's
//! `signature-*` profiles, which exercise every siggen rule, go through the same run: each
//! processed crash must sign as its truth says (the run checks it) and as siggen does.
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

use test_clients::python_with_siggen;

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
    if let Some(python) = python {
        siggen_agrees(&python, dir.path(), crashes.len());
    }
}

/// Runs `tests/siggen_check.py` over the report folder `dir`: siggen must sign each of its
/// `count` crashes as the harness did.
fn siggen_agrees(python: &Path, dir: &Path, count: usize) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/siggen_check.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(dir)
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
    assert_eq!(checked.len(), count);
    let differing: Vec<&Value> = checked.iter().filter(|c| c["equal"] != true).collect();
    assert!(
        differing.is_empty(),
        "siggen signs these differently: {differing:#?}"
    );
    assert!(output.status.success());
}

/// crash-generator's `signature-*` profiles, one or two per siggen rule, each with a seed of
/// its own (crash names are `<os>-<seed>`).
const SIGNATURE_PROFILES: [(&str, u64); 14] = [
    ("signature-lists", 1001),
    ("signature-sentinel", 1002),
    ("signature-rust", 1003),
    ("signature-truncate", 1004),
    ("signature-abort", 1005),
    ("signature-oom", 1006),
    ("signature-shutdown-timeout", 1007),
    ("signature-shutdown-hang", 1008),
    ("signature-ipc", 1009),
    ("signature-stack-overflow", 1010),
    ("signature-hang", 1011),
    ("signature-bad-hardware", 1012),
    ("signature-empty", 1013),
    ("signature-oom-small", 1014),
];

/// Every signature profile's crash goes through the collector as an Antenna submission (its
/// annotations as fields, its additional minidumps as parts) and the processor, and the
/// processed crash the harness keeps signs as the crash's truth says: the run fails otherwise
/// (a `signature` mismatch). siggen agrees with each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_profiles_sign_through_the_pipeline_as_their_truth_says() {
    let python = python_with_siggen(
        "siggen's signatures of crash-generator's signature profiles in harness/tests/socorro_crashes.rs",
    );
    let profiles = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crash-generator/profiles");
    let mut toml =
        String::from("name = \"signature-profiles\"\n[services]\nfake_sentry = \"none\"\n");
    for (name, seed) in SIGNATURE_PROFILES {
        let path = profiles.join(format!("{name}.toml"));
        toml.push_str(&format!(
            "[[corpus.generated]]\nprofile = {:?}\ncrashes = 1\nseed = {seed}\n",
            path.display().to_string()
        ));
    }
    let scenario = Scenario::from_toml(&toml, Path::new("signatures.toml"), ".".into()).unwrap();
    // The pinned minidump-stackwalk processes every crash too, and its processed crash must
    // sign as the truth says as well.
    let walker = test_clients::minidump_stackwalk(concat!(
        "the minidump-stackwalk half of the signature profiles in ",
        file!()
    ));
    let options = RunOptions {
        progress: false,
        stackwalk: walker.clone(),
    };
    let report = run(&scenario, &options).await.unwrap();
    assert!(report.passed, "{}", report::terminal::render(&report));
    let dir = tempfile::tempdir().unwrap();
    report::write_all(&report, dir.path()).unwrap();
    let crashes = written(dir.path());
    assert_eq!(crashes.len(), SIGNATURE_PROFILES.len());
    let processors = if walker.is_some() { 2 } else { 1 };
    assert_eq!(report.crashes.len(), SIGNATURE_PROFILES.len() * processors);
    for outcome in &report.crashes {
        assert!(outcome.signature.is_some(), "{}", outcome.crash);
        assert!(outcome.mismatches.is_empty(), "{:?}", outcome.mismatches);
    }

    // What travelled in the submission reached the processed crash.
    let ipc = &crashes["windows-1009"];
    assert_eq!(
        ipc["additional_minidumps"],
        serde_json::json!(["upload_file_minidump_browser"])
    );
    assert_eq!(
        ipc["signature"],
        "IPCError-browser | ShutDownKill | IPC_Message_Name=PContent::Msg_PreferenceUpdate"
    );
    assert_eq!(crashes["linux-1011"]["hang"], "1");
    for (crash, start) in [
        (
            "linux-1005",
            "Abort | Aborting on channel error. Fatal state | ",
        ),
        ("windows-1006", "OOM | large | "),
        ("linux-1014", "OOM | small"),
        ("windows-1008", "shutdownhang | "),
        ("windows-1010", "stackoverflow | "),
        ("linux-1011", "hang: 1 | "),
        ("windows-1012", "bad hardware | js_Interpret:"),
        (
            "linux-1013",
            "EMPTY: no frame data available; MissingThreadList",
        ),
        (
            "mac-1007",
            "AsyncShutdownTimeout | profile-before-change | ",
        ),
    ] {
        let signature = crashes[crash]["signature"].as_str().unwrap();
        assert!(signature.starts_with(start), "{crash}: {signature}");
    }

    if let Some(python) = python {
        siggen_agrees(&python, dir.path(), crashes.len());
    }
}
