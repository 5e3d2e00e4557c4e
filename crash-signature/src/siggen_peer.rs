//! Where the real siggen is, for the tests that compare with it: this crate's corpus test and
//! the harness's check of the crashes it writes. One place says which version is the peer and
//! what happens without it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The siggen release this crate reproduces, as `scripts/setup-test-clients` pins it.
pub const SIGGEN_VERSION: &str = "2.2.20241029";

/// Whether every test client must be present (a missing one fails the test instead of skipping
/// what needs it): the same rule as `scripts/setup-test-clients`'.
pub fn all_clients_required() -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    set("UNDERSTUDY_REQUIRE_ALL_CLIENTS").as_deref() == Some("1")
        || set("CI").is_some_and(|v| v != "0" && v != "false")
}

/// The siggen version `python` has, if any.
fn siggen_version(python: &Path) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('siggen'))",
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// An interpreter with the pinned siggen: `$UNDERSTUDY_SIGGEN_PYTHON`, else the workspace's
/// `.clients/venv`. Without one: `None` and a note on stderr naming `what` was skipped, or a
/// panic when every client is required.
pub fn python_with_siggen(what: &str) -> Option<PathBuf> {
    let (python, from_env) = match std::env::var_os("UNDERSTUDY_SIGGEN_PYTHON") {
        Some(path) => (PathBuf::from(path), true),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.clients/venv/bin/python"),
            false,
        ),
    };
    let why = match siggen_version(&python) {
        Some(version) if version == SIGGEN_VERSION => return Some(python),
        Some(version) => format!(
            "{} has siggen {version}, not {SIGGEN_VERSION}",
            python.display()
        ),
        None if from_env => format!(
            "UNDERSTUDY_SIGGEN_PYTHON={} cannot import siggen",
            python.display()
        ),
        None => format!(
            "siggen {SIGGEN_VERSION} not found in .clients/venv; run scripts/setup-test-clients \
             or set UNDERSTUDY_SIGGEN_PYTHON"
        ),
    };
    assert!(!all_clients_required(), "{why}");
    // Straight to the process's stderr: libtest captures `eprintln!` and shows it only for a
    // failing test, and a skip nobody sees is the silent one this note is here to avoid.
    let _ = writeln!(std::io::stderr(), "skipped: {what}: {why}");
    None
}
