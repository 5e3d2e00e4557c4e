//! The skip and fail paths, run in a child process (this test binary, running [`probe`] alone)
//! so that each case chooses its own environment and its own `.clients/` without touching this
//! process's, and the note on stderr can be read.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use super::*;

/// The `.clients/` directory the probe looks in.
const PROBE_DIR: &str = "TEST_CLIENTS_PROBE_DIR";
/// Every variable the lookups read, cleared in the probe unless a case sets it.
const VARIABLES: [&str; 5] = [
    "UNDERSTUDY_REQUIRE_ALL_CLIENTS",
    "CI",
    "MINIDUMP_STACKWALK",
    "UNDERSTUDY_SIGGEN_PYTHON",
    "UNDERSTUDY_KENT",
];

/// Held while a test writes a script or starts a process: a child forked while another thread
/// still has a new script open for writing would make running that script fail (ETXTBSY).
static SERIAL: Mutex<()> = Mutex::new(());

/// Not a check of its own: the child process the other tests run, looking for the stackwalker
/// in `$TEST_CLIENTS_PROBE_DIR` and printing what it found.
#[test]
#[ignore = "run by the other tests, in a child process"]
fn probe() {
    let Some(dir) = std::env::var_os(PROBE_DIR) else {
        return;
    };
    let found = Clients { dir: dir.into() }.minidump_stackwalk("the probe's comparison");
    println!("found: {found:?}");
}

struct Outcome {
    passed: bool,
    stdout: String,
    stderr: String,
}

fn run_probe(dir: &Path, env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "tests::probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_DIR, dir);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("the probe runs");
    Outcome {
        passed: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A `.clients/` whose minidump-stackwalk says `version`.
fn clients_with_stackwalk(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("minidump-stackwalk/bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin.join("minidump-stackwalk"),
        &format!("echo 'minidump-stackwalk {version}'"),
    );
    dir
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_missing_client_is_skipped_with_a_note_on_stderr() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let empty = tempfile::tempdir().unwrap();
    let out = run_probe(empty.path(), &[]);
    assert!(out.passed, "{}", out.stderr);
    assert!(out.stdout.contains("found: None"), "{}", out.stdout);
    assert!(
        out.stderr.contains("skipped: the probe's comparison: ")
            && out
                .stderr
                .contains("minidump-stackwalk does not exist; run UNDERSTUDY_REQUIRE_ALL_CLIENTS=1 scripts/setup-test-clients"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_client_fails_when_every_client_is_required() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let empty = tempfile::tempdir().unwrap();
    let out = run_probe(empty.path(), &[("UNDERSTUDY_REQUIRE_ALL_CLIENTS", "1")]);
    assert!(!out.passed, "{}", out.stdout);
    assert!(
        out.stderr.contains("the probe's comparison: ") && !out.stderr.contains("skipped"),
        "{}",
        out.stderr
    );
}

#[test]
fn ci_requires_every_client_unless_it_says_0_or_false() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let empty = tempfile::tempdir().unwrap();
    for (ci, required) in [("true", true), ("1", true), ("0", false), ("false", false)] {
        let out = run_probe(empty.path(), &[("CI", ci)]);
        assert_eq!(out.passed, !required, "CI={ci}: {}", out.stderr);
    }
    let out = run_probe(empty.path(), &[("UNDERSTUDY_REQUIRE_ALL_CLIENTS", "0")]);
    assert!(
        out.passed,
        "UNDERSTUDY_REQUIRE_ALL_CLIENTS=0: {}",
        out.stderr
    );
}

#[test]
fn the_pinned_client_in_clients_is_found() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clients = clients_with_stackwalk(MINIDUMP_STACKWALK_VERSION);
    let out = run_probe(clients.path(), &[("UNDERSTUDY_REQUIRE_ALL_CLIENTS", "1")]);
    assert!(out.passed, "{}", out.stderr);
    assert!(
        out.stdout.contains("found: Some(") && out.stdout.contains("minidump-stackwalk\")"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("skipped"), "{}", out.stderr);
}

#[test]
fn another_version_counts_as_missing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clients = clients_with_stackwalk("0.26.1");
    let out = run_probe(clients.path(), &[]);
    assert!(out.passed, "{}", out.stderr);
    assert!(out.stdout.contains("found: None"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("\"minidump-stackwalk 0.26.1\", not 0.27.0"),
        "{}",
        out.stderr
    );
    let out = run_probe(clients.path(), &[("UNDERSTUDY_REQUIRE_ALL_CLIENTS", "1")]);
    assert!(!out.passed, "{}", out.stdout);
}

#[test]
fn a_broken_override_fails_even_when_clients_are_optional() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clients = clients_with_stackwalk(MINIDUMP_STACKWALK_VERSION);
    let out = run_probe(
        clients.path(),
        &[("MINIDUMP_STACKWALK", "/nonexistent/minidump-stackwalk")],
    );
    assert!(!out.passed, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("MINIDUMP_STACKWALK=/nonexistent/minidump-stackwalk: /nonexistent/minidump-stackwalk does not exist; unset it"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_override_that_works_wins_over_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let elsewhere = clients_with_stackwalk(MINIDUMP_STACKWALK_VERSION);
    let walker = elsewhere
        .path()
        .join("minidump-stackwalk/bin/minidump-stackwalk");
    let empty = tempfile::tempdir().unwrap();
    let out = run_probe(
        empty.path(),
        &[
            ("MINIDUMP_STACKWALK", walker.to_str().unwrap()),
            ("UNDERSTUDY_REQUIRE_ALL_CLIENTS", "1"),
        ],
    );
    assert!(out.passed, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("found: Some({walker:?})")),
        "{}",
        out.stdout
    );
}

#[test]
fn siggen_must_be_the_pinned_release() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("python");
    let siggen = [("siggen", SIGGEN_VERSION)];
    write_script(&python, &format!("echo {SIGGEN_VERSION}"));
    assert_eq!(has_pinned_packages(&python, &siggen), Ok(()));
    write_script(&python, "echo 2.1.0");
    let why = has_pinned_packages(&python, &siggen).unwrap_err();
    assert!(why.ends_with("has siggen 2.1.0, not 2.2.20241029"), "{why}");
    write_script(&python, "exit 1");
    let why = has_pinned_packages(&python, &siggen).unwrap_err();
    assert!(why.ends_with("cannot import siggen"), "{why}");
}

/// Every package must be at its pin: the peer scrubbers are two.
#[test]
fn each_of_several_packages_must_be_pinned() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("python");
    let peers = [
        ("sentry-sdk", SENTRY_SDK_VERSION),
        ("fillmore", FILLMORE_VERSION),
    ];
    // The script sees the package's name in its `-c` argument.
    write_script(
        &python,
        &format!(
            "case \"$2\" in *sentry-sdk*) echo {SENTRY_SDK_VERSION};; *) echo {FILLMORE_VERSION};; esac"
        ),
    );
    assert_eq!(has_pinned_packages(&python, &peers), Ok(()));
    write_script(
        &python,
        &format!("case \"$2\" in *sentry-sdk*) echo {SENTRY_SDK_VERSION};; *) echo 2.1.0;; esac"),
    );
    let why = has_pinned_packages(&python, &peers).unwrap_err();
    assert!(why.ends_with("has fillmore 2.1.0, not 2.2.0"), "{why}");
}

#[test]
fn clients_are_looked_for_in_the_workspace_root() {
    let dir = Clients::of_workspace().dir;
    assert!(dir.ends_with(".clients"), "{}", dir.display());
    let root = std::fs::read_to_string(dir.parent().unwrap().join("Cargo.toml")).unwrap();
    assert!(root.contains("\"test-clients\""), "not the workspace root");
}
