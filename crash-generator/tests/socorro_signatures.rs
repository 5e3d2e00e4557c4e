//! The `signature-*` profiles make crashes that exercise every rule of siggen's pipeline, and
//! their truth files say which signature Socorro gives them: for each profile and a few seeds,
//! the REAL minidump-processor processes the crash, its output becomes the processed crash
//! (`crash_generator::socorro::processed_crash`), and the signature `crash-signature` computes
//! from it must equal the truth's, which must show the profile's rule at work; then siggen
//! itself signs the same processed crashes and must agree.
//!
//! siggen 2.2.20241029 is found as the `test-clients` crate finds it
//! (`UNDERSTUDY_SIGGEN_PYTHON`, else `.clients/venv`). Without it that half is skipped with a
//! note on stderr, or fails when every test client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1` or `CI`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crash_generator::processing::InMemorySymbols;
use crash_generator::socorro::{SocorroSignature, processed_crash};
use crash_generator::{Crash, FrameKind, OsFlavor, Profile, Program, processing};
use serde_json::Value;
use test_clients::python_with_siggen;

/// The seeds each profile is generated with.
const SEEDS: [u64; 3] = [1, 20, 300];

/// What shows that a rule changed the signature.
type Shows = fn(&SocorroSignature, &Profile) -> bool;

/// Each profile, the rule(s) it exercises and how the signature shows it.
const CASES: &[(&str, &str, Shows)] = &[
    (
        "signature-lists",
        "SignatureGenerationRule (irrelevant, prefix, module-only frames once, C++ rules)",
        |s, _| {
            let proto = frames(s.proto_signature.as_deref());
            let signature = frames(Some(&s.signature));
            // The irrelevant top frame is gone, the library without symbols counts once,
            // and the walk ended on the C++ frame after the prefix frames.
            signature.len() == 4
                && proto[0] != signature[0]
                && proto[2] == proto[3]
                && signature[1] == proto[2]
                && signature[3] == proto[5]
                && signature[3].contains("<T>") == proto[5].contains("<T>")
        },
    ),
    (
        "signature-sentinel",
        "SignatureGenerationRule (sentinel, Rust v0 names)",
        |s, _| {
            let proto = frames(s.proto_signature.as_deref());
            !s.signature.contains(&proto[0]) && s.signature.starts_with(&proto[1])
                || !s.signature.contains(&proto[0]) && s.signature.starts_with(&proto[2])
        },
    ),
    (
        "signature-rust",
        "SignatureGenerationRule (Rust rules: legacy hash dropped)",
        rust_hash_dropped,
    ),
    (
        "signature-truncate",
        "SigTruncate (and a 32-deep inline chain expanded)",
        |s, _| {
            s.signature.chars().count() == crash_signature::MAX_LENGTH
                && s.signature.ends_with("...")
                && frames(s.proto_signature.as_deref()).len() > 32
        },
    ),
    (
        "signature-abort",
        "AbortSignature, SigFixWhitespace",
        |s, _| {
            s.signature
                .starts_with("Abort | Aborting on channel error. Fatal state | ")
        },
    ),
    ("signature-oom", "OOMSignature", |s, _| {
        s.signature.starts_with("OOM | large | ")
    }),
    ("signature-oom-small", "OOMSignature (small)", |s, _| {
        s.signature == "OOM | small"
    }),
    (
        "signature-shutdown-timeout",
        "SignatureShutdownTimeout",
        |s, _| {
            s.signature
                == "AsyncShutdownTimeout | profile-before-change | IndexedDB shutdown,StorageService shutdown"
        },
    ),
    ("signature-shutdown-hang", "SignatureRunWatchDog", |s, _| {
        // The watchdog thread crashed; the signature is the main thread's.
        s.signature.starts_with("shutdownhang | ") && !s.signature.contains("RunWatchdog")
    }),
    (
        "signature-ipc",
        "SignatureIPCChannelError, SignatureIPCMessageName",
        |s, _| {
            s.signature
                == "IPCError-browser | ShutDownKill | IPC_Message_Name=PContent::Msg_PreferenceUpdate"
        },
    ),
    (
        "signature-stack-overflow",
        "StackOverflowSignature",
        |s, _| s.signature.starts_with("stackoverflow | "),
    ),
    ("signature-hang", "HungProcess", |s, _| {
        s.signature.starts_with("hang: 1 | ")
    }),
    (
        "signature-bad-hardware",
        "BadHardware (and the line-number list: js_Interpret:<line>)",
        |s, _| s.signature.starts_with("bad hardware | js_Interpret:"),
    ),
    (
        "signature-empty",
        "StackwalkerErrorSignatureRule",
        |s, _| s.signature == "EMPTY: no frame data available; MissingThreadList",
    ),
    (
        "signature-arm64-lists",
        "SignatureGenerationRule on Android ARM64 (lists, a library once, inlined prefixes)",
        |s, _| {
            let proto = frames(s.proto_signature.as_deref());
            let signature = frames(Some(&s.signature));
            // prefix | <lib>.so | four inlined prefix functions | the C++ function around them.
            signature.len() == 7
                && proto[0] != signature[0]
                && proto[2] == proto[3]
                && signature[..2] == proto[1..3]
                && signature[2..] == proto[4..9]
        },
    ),
    (
        "signature-arm64-rust",
        "SignatureGenerationRule on macOS ARM64 (Rust rules: legacy hash dropped)",
        rust_hash_dropped,
    ),
    (
        "signature-arm64-oom",
        "OOMSignature on Windows ARM64",
        |s, _| s.signature.starts_with("OOM | large | "),
    ),
    (
        "signature-arm64-abort",
        "AbortSignature, SigFixWhitespace on Linux ARM64",
        |s, _| {
            s.signature
                .starts_with("Abort | Aborting on channel error. Fatal state | ")
        },
    ),
];

/// The Rust rules: a two-frame signature whose Rust frame lost its legacy `::h<hash>`.
fn rust_hash_dropped(s: &SocorroSignature, _: &Profile) -> bool {
    let signature = frames(Some(&s.signature));
    signature.len() == 2 && !ends_in_legacy_hash(&signature[1])
}

/// Whether a frame ends in a legacy Rust symbol's `::h<16 hex digits>` (a path may well hold
/// `::h` elsewhere, as `glean_core::http` does).
fn ends_in_legacy_hash(frame: &str) -> bool {
    frame
        .rsplit_once("::h")
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

fn frames(signature: Option<&str>) -> Vec<String> {
    signature
        .unwrap_or_default()
        .split(" | ")
        .map(str::to_string)
        .collect()
}

fn profile(name: &str) -> Profile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(format!("{name}.toml"));
    Profile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The processed crash Socorro makes of `crash` with the real processor's output.
fn processed_by_the_real_processor(crash: &Crash) -> Value {
    processed_crash_of(crash, &runtime().block_on(processing::process(crash)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// The processed crash Socorro makes of `crash` from the real processor's result.
fn processed_crash_of(
    crash: &Crash,
    result: &Result<minidump_processor::ProcessState, processing::ProcessingError>,
) -> Value {
    match result {
        Ok(state) => {
            let mut json = Vec::new();
            state.print_json(&mut json, false).expect("json output");
            let json: Value = serde_json::from_slice(&json).expect("valid json");
            let status = json["status"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string();
            processed_crash(Some(&json), &status, &crash.profile)
        }
        Err(e) => processed_crash(None, e.name(), &crash.profile),
    }
}

/// siggen's signature, proto signature and notes for each processed crash.
fn siggen_signs(python: &std::path::Path, crashes: &[Value]) -> Vec<SocorroSignature> {
    const SCRIPT: &str = r#"
import json, sys
from siggen.generator import SignatureGenerator
from siggen.utils import convert_to_crash_data
generator = SignatureGenerator()
out = []
for crash in json.load(sys.stdin):
    result = generator.generate(convert_to_crash_data(crash))
    out.append({"signature": result.signature,
                "proto_signature": result.extra.get("proto_signature"),
                "notes": result.notes})
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run siggen");
    let input = serde_json::to_vec(crashes).expect("json");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write to siggen");
    let output = child.wait_with_output().expect("siggen output");
    assert!(output.status.success(), "siggen failed");
    serde_json::from_slice(&output.stdout).expect("siggen's JSON")
}

#[test]
fn every_siggen_rule_is_exercised_and_signed_as_the_truth_and_siggen_say() {
    // First, so that a missing siggen fails before the work when every client is required.
    let python = python_with_siggen("crash-generator's signature profiles");
    let mut processed = Vec::new();
    let mut expected = Vec::new();
    let mut failures = Vec::new();
    for (name, rule, shows) in CASES {
        let profile = profile(name);
        for seed in SEEDS {
            let crash = Crash::generate(&profile, seed);
            let truth = crash
                .truth()
                .socorro
                .clone()
                .unwrap_or_else(|| panic!("{name}: the truth has no signature"));
            let crash_json = processed_by_the_real_processor(&crash);
            let signed = SocorroSignature::of_processed(&crash_json);
            if signed != truth {
                failures.push(format!(
                    "{name} seed {seed}: processor gives {signed:?}, truth {truth:?}"
                ));
            }
            if !shows(&truth, &profile) {
                failures.push(format!("{name} seed {seed}: {rule} not shown by {truth:?}"));
            }
            processed.push(crash_json);
            expected.push((format!("{name} seed {seed}"), truth));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let Some(python) = python else {
        return;
    };
    siggen_agrees(&python, &processed, &expected);
}

#[test]
fn profiles_without_a_recipe_write_no_signature_and_keep_their_truth() {
    for os in crash_generator::OsFlavor::ALL {
        let crash = Crash::generate(&Profile::for_os(os), 7);
        assert!(crash.truth().socorro.is_none());
        assert!(!crash.truth().to_json_pretty().contains("socorro"));
    }
}

#[test]
fn recipe_frames_carry_the_kinds_they_ask_for() {
    let profile = profile("signature-rust");
    let crash = Crash::generate(&profile, 5);
    let thread = &crash.truth().threads[crash.truth().crashing_thread.unwrap()];
    let legacy = thread.frames[1].function.as_deref().unwrap();
    let v0 = thread.frames[2].function.as_deref().unwrap();
    assert!(legacy.rsplit("::h").next().unwrap().len() == 16, "{legacy}");
    assert!(v0.contains('['), "{v0}");
    for frame in &thread.frames[1..3] {
        assert!(frame.file.as_deref().unwrap().ends_with(".rs"), "{frame:?}");
    }
    let recipe = profile.crashing_stack.as_ref().unwrap();
    assert_eq!(recipe.top[1], FrameKind::RustLegacy);

    let deep = Crash::generate(&self::profile("signature-truncate"), 5);
    let thread = &deep.truth().threads[deep.truth().crashing_thread.unwrap()];
    assert_eq!(thread.frames[0].inlines.len(), 32);
}

/// A recipe works on every flavour's stack layout, ARM64 and 32-bit x86 included: the
/// processor still reports the whole truth, the crash signs as the truth says, and siggen
/// signs each processed crash the same way.
#[test]
fn recipes_hold_on_every_flavour_and_siggen_agrees() {
    let python = python_with_siggen("siggen's signatures of recipes on every flavour");
    let runtime = runtime();
    let mut failures = Vec::new();
    let mut processed = Vec::new();
    let mut expected = Vec::new();
    for os in OsFlavor::ALL {
        let profile = lists_with_inlines(os);
        for seed in SEEDS {
            let crash = Crash::generate(&profile, seed);
            let result = runtime.block_on(processing::process(&crash));
            let mismatches = crash.truth().compare(result.as_ref().expect("processing"));
            if !mismatches.is_empty() {
                failures.push(format!("{os:?} seed {seed}: {}", mismatches[0]));
            }
            let truth = crash.truth().socorro.clone().expect("a signature");
            let crash_json = processed_crash_of(&crash, &result);
            let signed = SocorroSignature::of_processed(&crash_json);
            // siggen counts a run of frames in one library once for `.so` and `.dll` names
            // only, so macOS keeps both `libobjc.A.dylib` frames.
            if signed != truth || frames(Some(&truth.signature)).len() < 4 {
                failures.push(format!("{os:?} seed {seed}: {signed:?} vs {truth:?}"));
            }
            processed.push(crash_json);
            expected.push((format!("{os:?} seed {seed}"), truth));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if let Some(python) = python {
        siggen_agrees(&python, &processed, &expected);
    }
}

/// siggen signs each processed crash as `expected` says (signature, proto signature, notes).
fn siggen_agrees(
    python: &std::path::Path,
    processed: &[Value],
    expected: &[(String, SocorroSignature)],
) {
    let siggen = siggen_signs(python, processed);
    assert_eq!(siggen.len(), expected.len());
    let differing: Vec<String> = expected
        .iter()
        .zip(&siggen)
        .filter(|((_, ours), theirs)| ours != *theirs)
        .map(|((what, ours), theirs)| format!("{what}: ours {ours:?}\n  siggen {theirs:?}"))
        .collect();
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

/// `signature-lists` with an inline chain and a Rust frame on top of its recipe, on `os`.
fn lists_with_inlines(os: OsFlavor) -> Profile {
    let mut profile = profile("signature-lists");
    profile.os = os;
    let recipe = profile.crashing_stack.as_mut().unwrap();
    recipe.top.push(FrameKind::InlinedPrefix(5));
    recipe.top.push(FrameKind::RustLegacy);
    profile
}

/// A symbol server keeps one `.sym` file per debug id, and a corpus runs several crashes of one
/// program (the harness's `programs` < `crashes`). A recipe dresses the program, never the crash,
/// so every crash of a program writes the same `.sym` files, and each crash processed against
/// the one store the first crash filled matches its truth frame by frame and signs as its truth
/// says.
#[test]
fn crashes_of_one_program_agree_with_its_one_symbol_store() {
    let python = python_with_siggen("siggen's signatures of crashes sharing programs");
    let runtime = runtime();
    let mut failures = Vec::new();
    let mut processed = Vec::new();
    let mut expected = Vec::new();
    for os in OsFlavor::ALL {
        let profile = lists_with_inlines(os);
        for program_seed in [11u64, 12] {
            let program = Program::generate(&profile, program_seed);
            let crashes: Vec<Crash> = (0..4)
                .map(|i| Crash::of_program(&profile, program.clone(), program_seed * 100 + i))
                .collect();
            let store = InMemorySymbols::for_crash(&crashes[0]);
            for crash in &crashes {
                let what = format!("{os:?} program {program_seed} crash {}", crash.seed);
                if crash.sym_files() != crashes[0].sym_files() {
                    failures.push(format!(
                        "{what}: its .sym files differ from the first crash's"
                    ));
                }
                let result = runtime.block_on(processing::process_with(crash, store.clone()));
                match &result {
                    Ok(state) => {
                        let mismatches = crash.truth().compare(state);
                        if let Some(first) = mismatches.first() {
                            failures.push(format!(
                                "{what}: {} mismatches, first {first}",
                                mismatches.len()
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{what}: {e}")),
                }
                let truth = crash.truth().socorro.clone().expect("a signature");
                let crash_json = processed_crash_of(crash, &result);
                let signed = SocorroSignature::of_processed(&crash_json);
                if signed != truth {
                    failures.push(format!("{what}: signed {signed:?}, truth {truth:?}"));
                }
                processed.push(crash_json);
                expected.push((what, truth));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if let Some(python) = python {
        siggen_agrees(&python, &processed, &expected);
    }
}
