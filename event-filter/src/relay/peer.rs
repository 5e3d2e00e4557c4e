//! Relay itself (the pinned sentry-relay's Python bindings), run in a subprocess, for the unit
//! tests that show what Relay does where event-filter differs on purpose: Relay panics or
//! crashes there, and a crash must take a child process with it, not the test.
//!
//! Python comes from `test_clients::python_with_relay`: without the pinned sentry-relay the
//! test is skipped with a note, or fails when every client is required.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// Runs the Python `code` (which may `import sentry_relay`) with `input` on its stdin; `None`
/// when there is no interpreter with the pinned sentry-relay and the test may skip.
#[track_caller]
pub(super) fn run(what: &str, code: &str, input: &str) -> Option<Output> {
    let python = test_clients::python_with_relay(what)?;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(code)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    // From a thread, so that a full stdout pipe cannot stall the write; a child that crashed
    // before reading all of it makes the write fail, which the exit status reports better.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("wait for Relay's process");
    writer.join().expect("writer thread");
    Some(output)
}
