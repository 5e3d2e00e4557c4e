//! Where the pinned test clients are, and what a test does without one.
//!
//! `scripts/setup-test-clients` installs the outside programs some tests compare with or drive
//! into `.clients/` at the workspace root: a Python venv with siggen (Socorro's signature
//! generation), detect-secrets and the peer scrubbers (sentry-sdk, Fillmore), minidump-stackwalk,
//! Kent, and Debian's wrk. Every test that needs one asks here,
//! so the rule is written once:
//!
//! - a variable names a client elsewhere (`UNDERSTUDY_SIGGEN_PYTHON`,
//!   `UNDERSTUDY_DETECT_SECRETS_PYTHON`, `UNDERSTUDY_PEERS_PYTHON`, `MINIDUMP_STACKWALK`,
//!   `UNDERSTUDY_KENT`); when it is set but does not work the test fails, because someone asked
//!   for that client and a skip would hide the mistake;
//! - else the client is looked for in `.clients/`, at the pinned version where the tests depend
//!   on it ([`SIGGEN_VERSION`], [`MINIDUMP_STACKWALK_VERSION`]);
//! - without it the lookup returns `None` after one note on stderr ([`skip_or_fail`]), or fails
//!   the test when [`all_clients_required`] (as `.ci/run` makes it).
//!
//! ```no_run
//! let Some(walker) = test_clients::minidump_stackwalk("the stackwalker comparison in tests/x.rs")
//! else {
//!     return; // skipped, and stderr says so
//! };
//! let output = std::process::Command::new(walker).arg("--version").output().unwrap();
//! assert!(output.status.success());
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The siggen release crash-signature reproduces, as `scripts/setup-test-clients` pins it.
pub const SIGGEN_VERSION: &str = "2.2.20241029";
/// The detect-secrets release event-filter's strict preset is compared with.
pub const DETECT_SECRETS_VERSION: &str = "1.5.0";
/// The sentry-relay release (Relay's PII engine) event-filter's Relay config import is compared
/// with.
pub const SENTRY_RELAY_VERSION: &str = "0.10.1";
/// The sentry-sdk release whose `EventScrubber` the `python-sdk` preset is compared with.
pub const SENTRY_SDK_VERSION: &str = "2.75.0";
/// The Fillmore release whose default scrubber the `fillmore` preset is compared with.
pub const FILLMORE_VERSION: &str = "2.2.0";
/// The minidump-stackwalk release the harness and crash-generator compare with; the same
/// release as the minidump crates the workspace builds on.
pub const MINIDUMP_STACKWALK_VERSION: &str = "0.27.0";

/// Whether every test client must be present, so that a missing one fails the test instead of
/// skipping what needs it: `UNDERSTUDY_REQUIRE_ALL_CLIENTS=1` (which `.ci/run` sets), or `CI`
/// set to anything but `0` or `false`. The same rule as `scripts/setup-test-clients`'.
pub fn all_clients_required() -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    set("UNDERSTUDY_REQUIRE_ALL_CLIENTS").as_deref() == Some("1")
        || set("CI").is_some_and(|v| v != "0" && v != "false")
}

/// What a test does when a client it needs is missing: fails (a panic naming `what` and `why`,
/// at the test's line: every lookup here is `#[track_caller]`)
/// when every client is required, else notes `skipped: {what}: {why}` on stderr and returns, so
/// the caller skips `what`.
#[track_caller]
pub fn skip_or_fail(what: &str, why: &str) {
    assert!(!all_clients_required(), "{what}: {why}");
    // Straight to the process's stderr: libtest captures `eprintln!` and shows it only for a
    // failing test, and a skip nobody sees is the silent one this note is here to avoid.
    let _ = writeln!(std::io::stderr(), "skipped: {what}: {why}");
}

/// An interpreter with the pinned siggen: `$UNDERSTUDY_SIGGEN_PYTHON`, else
/// `.clients/venv/bin/python`. Without one: `None` after [`skip_or_fail`] for `what`.
#[track_caller]
pub fn python_with_siggen(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().python_with_siggen(what)
}

/// An interpreter with the pinned detect-secrets: `$UNDERSTUDY_DETECT_SECRETS_PYTHON`, else
/// `.clients/venv/bin/python`. Without one: `None` after [`skip_or_fail`] for `what`.
#[track_caller]
pub fn python_with_detect_secrets(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().python_with(
        what,
        "UNDERSTUDY_DETECT_SECRETS_PYTHON",
        &[("detect-secrets", DETECT_SECRETS_VERSION)],
    )
}

/// An interpreter with the pinned peer scrubbers, sentry-sdk and Fillmore:
/// `$UNDERSTUDY_PEERS_PYTHON`, else `.clients/venv/bin/python`. Without one: `None` after
/// [`skip_or_fail`] for `what`.
#[track_caller]
pub fn python_with_scrubber_peers(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().python_with(
        what,
        "UNDERSTUDY_PEERS_PYTHON",
        &[
            ("sentry-sdk", SENTRY_SDK_VERSION),
            ("fillmore", FILLMORE_VERSION),
        ],
    )
}

/// An interpreter with the pinned sentry-relay (Relay's own PII engine):
/// `$UNDERSTUDY_RELAY_PYTHON`, else `.clients/venv/bin/python`. Without one: `None` after
/// [`skip_or_fail`] for `what`.
#[track_caller]
pub fn python_with_relay(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().python_with(
        what,
        "UNDERSTUDY_RELAY_PYTHON",
        &[("sentry-relay", SENTRY_RELAY_VERSION)],
    )
}

/// The pinned minidump-stackwalk: `$MINIDUMP_STACKWALK`, else
/// `.clients/minidump-stackwalk/bin/minidump-stackwalk`. Without it: `None` after
/// [`skip_or_fail`] for `what`.
#[track_caller]
pub fn minidump_stackwalk(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().minidump_stackwalk(what)
}

/// Kent's server, the Python fake Sentry the bench measures as a peer: `$UNDERSTUDY_KENT`, else
/// `.clients/kent/bin/kent-server`. Without it: `None` after [`skip_or_fail`] for `what`.
#[track_caller]
pub fn kent_server(what: &str) -> Option<PathBuf> {
    Clients::of_workspace().kent_server(what)
}

/// Debian's wrk, the external load generator, on `PATH` (the release is the pin; the bench
/// runs it by name). Without it: `None` after [`skip_or_fail`] for `what`.
#[track_caller]
pub fn wrk(what: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("wrk"))
            .find(|wrk| is_executable(wrk))
    });
    if found.is_none() {
        skip_or_fail(
            what,
            "wrk is not on PATH; scripts/setup-test-clients installs it",
        );
    }
    found
}

/// Where `scripts/setup-test-clients` puts the clients.
struct Clients {
    dir: PathBuf,
}

impl Clients {
    fn of_workspace() -> Self {
        // This crate's folder is in the workspace root, where `.clients/` is.
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        Clients {
            dir: crate_dir.parent().unwrap_or(crate_dir).join(".clients"),
        }
    }

    #[track_caller]
    fn python_with_siggen(&self, what: &str) -> Option<PathBuf> {
        self.python_with(
            what,
            "UNDERSTUDY_SIGGEN_PYTHON",
            &[("siggen", SIGGEN_VERSION)],
        )
    }

    /// The venv's interpreter (or the one `variable` names) with each of `packages` at its
    /// pinned version.
    #[track_caller]
    fn python_with(
        &self,
        what: &str,
        variable: &str,
        packages: &[(&str, &str)],
    ) -> Option<PathBuf> {
        find(
            what,
            variable,
            self.dir.join("venv/bin/python"),
            |python| has_pinned_packages(python, packages),
            &format!("run scripts/setup-test-clients or set {variable}"),
        )
    }

    #[track_caller]
    fn minidump_stackwalk(&self, what: &str) -> Option<PathBuf> {
        find(
            what,
            "MINIDUMP_STACKWALK",
            self.dir.join("minidump-stackwalk/bin/minidump-stackwalk"),
            is_pinned_stackwalk,
            // setup-test-clients builds it only when every client is required (minutes).
            "run UNDERSTUDY_REQUIRE_ALL_CLIENTS=1 scripts/setup-test-clients or set \
             MINIDUMP_STACKWALK",
        )
    }

    #[track_caller]
    fn kent_server(&self, what: &str) -> Option<PathBuf> {
        find(
            what,
            "UNDERSTUDY_KENT",
            self.dir.join("kent/bin/kent-server"),
            |path| {
                if is_executable(path) {
                    Ok(())
                } else {
                    Err(format!("{} is not an executable", path.display()))
                }
            },
            "run scripts/setup-test-clients or set UNDERSTUDY_KENT",
        )
    }
}

/// The client `$variable` names, which must pass `check` (else the test fails), or the one at
/// `installed` if it passes, or `None` after [`skip_or_fail`] with the reason and `hint`.
#[track_caller]
fn find(
    what: &str,
    variable: &str,
    installed: PathBuf,
    check: impl Fn(&Path) -> Result<(), String>,
    hint: &str,
) -> Option<PathBuf> {
    // A missing file is the common case (never installed): say so, not that it failed to run.
    let check = |path: &Path| {
        if path.exists() {
            check(path)
        } else {
            Err(format!("{} does not exist", path.display()))
        }
    };
    if let Some(path) = std::env::var_os(variable).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if let Err(why) = check(&path) {
            panic!(
                "{what}: {variable}={}: {why}; unset it to use .clients/'s",
                path.display()
            );
        }
        return Some(path);
    }
    match check(&installed) {
        Ok(()) => Some(installed),
        Err(why) => {
            skip_or_fail(what, &format!("{why}; {hint}"));
            None
        }
    }
}

/// Whether `python` runs and has each of `packages` (name, version) at that version.
fn has_pinned_packages(python: &Path, packages: &[(&str, &str)]) -> Result<(), String> {
    for (package, pinned) in packages {
        let script = format!("import importlib.metadata as m; print(m.version('{package}'))");
        let version = version_of(python, &["-c", &script])
            .ok_or_else(|| format!("{} cannot import {package}", python.display()))?;
        if version != *pinned {
            return Err(format!(
                "{} has {package} {version}, not {pinned}",
                python.display()
            ));
        }
    }
    Ok(())
}

/// Whether `walker --version` says `minidump-stackwalk` [`MINIDUMP_STACKWALK_VERSION`].
fn is_pinned_stackwalk(walker: &Path) -> Result<(), String> {
    let said = version_of(walker, &["--version"])
        .ok_or_else(|| format!("{} does not run", walker.display()))?;
    if said.split_whitespace().last() == Some(MINIDUMP_STACKWALK_VERSION) {
        Ok(())
    } else {
        Err(format!(
            "{} is {said:?}, not {MINIDUMP_STACKWALK_VERSION}",
            walker.display()
        ))
    }
}

/// What `program args` prints, trimmed, if it runs and succeeds.
fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests;
