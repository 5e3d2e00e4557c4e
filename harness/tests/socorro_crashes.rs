//! Every processed crash a run writes (`crashes/<crash>.json`, and `crashes/<crash>.stackwalk.json`
//! when minidump-stackwalk runs beside the in-process processor) is one Socorro's signature
//! generation reads unchanged and signs as the harness did: a real run over all ten platforms
//! (x86-64, 32-bit x86 and ARM64 on Linux, macOS and Windows, and Android), crashes whose
//! annotations siggen's rules read (`AbortMessage`, `OOMAllocationSize`, `ipc_channel_error`,
//! `AsyncShutdownTimeout`, ...) and the corrupt dumps that sign as `EMPTY: ...`, written into a
//! temporary report folder and signed again by siggen itself (`tests/siggen_check.py`). Then
//! crash-generator's `signature-*` profiles, which exercise every siggen rule (on ARM64 too),
//! go through the same run with both processors, the list recipes with several crashes of one
//! program: each processed crash must sign as its truth says (the run checks it) and as siggen
//! does.
//!
//! siggen 2.2.20241029 is found in `UNDERSTUDY_SIGGEN_PYTHON`'s interpreter, else in
//! `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the siggen half is
//! skipped with a note on stderr, or fails when every test client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use harness::report::{self, RunReport};
use harness::scenario::Scenario;
use harness::{IN_PROCESS, RunOptions, STACKWALK, run};
use serde_json::Value;

use common::{siggen_agrees, siggen_check, written};
use test_clients::python_with_siggen;

/// Every platform (the inline `{ os, arch }` spelling too), annotations each of siggen's annotation rules reads, and every corrupt
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
profile = "linux-arm64"
programs = 2
crashes = 3
seed = 600
[[corpus.generated]]
profile = "android"
programs = 2
crashes = 3
seed = 700
[[corpus.generated]]
profile = "mac-arm64"
programs = 2
crashes = 3
seed = 800
[[corpus.generated]]
profile = "windows-arm64"
programs = 2
crashes = 3
seed = 900
[[corpus.generated]]
profile = "linux-x86"
programs = 2
crashes = 3
seed = 1000
[[corpus.generated]]
profile = "mac-x86"
programs = 2
crashes = 3
seed = 1100

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
profile = { os = "linux", arch = "arm64", annotations = { ProductName = "Firefox", Version = "128.0", ReleaseChannel = "release", MozCrashReason = "MOZ_CRASH(gone)" } }
crashes = 2
seed = 610

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
    assert_eq!(results.len(), 42);
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
    for (crash, cpu, os) in [
        ("linux-arm64-600", "arm64", "Linux"),
        ("android-arm64-700", "arm64", "Android"),
        ("mac-arm64-800", "arm64", "Mac OS X"),
        ("windows-arm64-900", "arm64", "Windows NT"),
        ("linux-x86-1000", "x86", "Linux"),
        ("mac-x86-1100", "x86", "Mac OS X"),
    ] {
        let kept = &crashes[crash];
        assert_eq!(kept["cpu_arch"], cpu, "{crash}");
        assert_eq!(kept["os_name"], os, "{crash}");
        assert_eq!(kept["json_dump"]["status"], "OK", "{crash}");
    }
    // `{ os = "linux", arch = "arm64" }` is the linux-arm64 platform, named as such.
    for crash in ["linux-arm64-610", "linux-arm64-611"] {
        let kept = &crashes[crash];
        assert_eq!(kept["cpu_arch"], "arm64", "{crash}");
        assert_eq!(
            kept["json_dump"]["system_info"]["cpu_arch"], "arm64",
            "{crash}"
        );
        assert_eq!(kept["moz_crash_reason"], "MOZ_CRASH(gone)", "{crash}");
    }

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
        notes_are_compared_exactly(&python, dir.path());
    }
}

/// siggen_check.py holds the harness's signature notes (report.json) to siggen's exactly: a
/// note siggen never gives, or one it gives left out, is a difference, empty lists included.
fn notes_are_compared_exactly(python: &Path, dir: &Path) {
    let (checked, _) = siggen_check(python, dir);
    let with_notes = checked
        .iter()
        .find(|c| c["siggen_notes"].as_array().is_some_and(|n| !n.is_empty()))
        .and_then(|c| c["crash"].as_str())
        .expect("a crash siggen gives notes")
        .to_string();
    let without_notes = "linux-100";
    let path = dir.join("report.json");
    let mut edited: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for result in edited["crashes"].as_array_mut().unwrap() {
        if result["processor"] != IN_PROCESS {
            continue;
        }
        if result["crash"] == without_notes {
            result["signature_notes"] = serde_json::json!(["SignatureGenerationRule: invented"]);
        } else if result["crash"] == with_notes.as_str() {
            result["signature_notes"] = serde_json::json!([]);
        }
    }
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (checked, success) = siggen_check(python, dir);
    let differing: BTreeSet<&str> = checked
        .iter()
        .filter(|c| c["equal"] != true)
        .filter_map(|c| c["crash"].as_str())
        .collect();
    assert_eq!(
        differing,
        BTreeSet::from([without_notes, with_notes.as_str()])
    );
    assert!(!success, "siggen_check.py exits 1 on a difference");
}

/// crash-generator's `signature-*` profiles, one or two per siggen rule and four on ARM64, each
/// with seeds of its own (crash names are `<os>-<seed>`) and its number of crashes. The list
/// recipes run three crashes of one program (the scenario's default `programs = 1`), which the
/// one `.sym` per debug id the symbols server keeps must symbolize as each crash's truth says.
const SIGNATURE_PROFILES: [(&str, u64, u32); 18] = [
    ("signature-lists", 1101, 3),
    ("signature-sentinel", 1002, 1),
    ("signature-rust", 1003, 1),
    ("signature-truncate", 1004, 1),
    ("signature-abort", 1005, 1),
    ("signature-oom", 1006, 1),
    ("signature-shutdown-timeout", 1007, 1),
    ("signature-shutdown-hang", 1008, 1),
    ("signature-ipc", 1009, 1),
    ("signature-stack-overflow", 1010, 1),
    ("signature-hang", 1011, 1),
    ("signature-bad-hardware", 1012, 1),
    ("signature-empty", 1013, 1),
    ("signature-oom-small", 1014, 1),
    ("signature-arm64-lists", 1201, 3),
    ("signature-arm64-rust", 1016, 1),
    ("signature-arm64-oom", 1017, 1),
    ("signature-arm64-abort", 1018, 1),
];

/// Every signature profile's crash goes through the collector as an Antenna submission (its
/// annotations as fields, its additional minidumps as parts), the in-process processor and
/// minidump-stackwalk, and each processed crash the harness keeps (`<crash>.json`,
/// `<crash>.stackwalk.json`) signs as the crash's truth says: the run fails otherwise (a
/// `signature` mismatch, or frame mismatches when crashes of one program disagree with its
/// `.sym`). siggen agrees with each file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_profiles_sign_through_the_pipeline_as_their_truth_says() {
    let python = python_with_siggen(
        "siggen's signatures of crash-generator's signature profiles in harness/tests/socorro_crashes.rs",
    );
    let profiles = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crash-generator/profiles");
    let mut toml =
        String::from("name = \"signature-profiles\"\n[services]\nfake_sentry = \"none\"\n");
    for (name, seed, crashes) in SIGNATURE_PROFILES {
        let path = profiles.join(format!("{name}.toml"));
        toml.push_str(&format!(
            "[[corpus.generated]]\nprofile = {:?}\ncrashes = {crashes}\nseed = {seed}\n",
            path.display().to_string()
        ));
    }
    let total: usize = SIGNATURE_PROFILES.iter().map(|(_, _, n)| *n as usize).sum();
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
    let processors = if walker.is_some() { 2 } else { 1 };
    assert_eq!(report.crashes.len(), total * processors);
    // Every processed crash reached `crashes/`: minidump-stackwalk's beside the in-process
    // processor's, with the signature its result gives.
    assert_eq!(crashes.len(), total * processors);
    for outcome in &report.crashes {
        assert!(outcome.signature.is_some(), "{}", outcome.crash);
        assert!(outcome.mismatches.is_empty(), "{:?}", outcome.mismatches);
        let file = match outcome.processor.as_str() {
            IN_PROCESS => outcome.crash.clone(),
            STACKWALK => format!("{}.stackwalk", outcome.crash),
            other => panic!("unexpected processor {other}"),
        };
        let kept = &crashes[&file];
        assert_eq!(
            kept["signature"].as_str(),
            outcome.signature.as_deref(),
            "{file}"
        );
        assert_eq!(
            kept.get("stackwalk_version").is_some(),
            outcome.processor == STACKWALK,
            "{file}"
        );
    }
    for crash in [
        "linux-1101",
        "linux-1102",
        "linux-1103",
        "android-arm64-1201",
        "android-arm64-1203",
    ] {
        assert!(crashes.contains_key(crash), "{crash}");
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
        ("windows-arm64-1017", "OOM | large | "),
        (
            "linux-arm64-1018",
            "Abort | Aborting on channel error. Fatal state | ",
        ),
    ] {
        let signature = crashes[crash]["signature"].as_str().unwrap();
        assert!(signature.starts_with(start), "{crash}: {signature}");
    }

    if let Some(python) = python {
        siggen_agrees(&python, dir.path(), crashes.len());
    }
}
