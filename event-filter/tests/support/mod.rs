//! What more than one test file needs: the real SDK events in `testdata/events/`, fake-sentry's
//! wire captures, and running
//! one of the Python scripts beside the tests (the peers' drivers) on a JSON request.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `tests/<script>` with `python`, writes `request` (JSON) to its stdin, and returns the
/// JSON it prints; panics, with its stderr, when it fails.
pub fn run_script(python: &Path, script: &str, request: &Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start tests/{script}: {e}"));
    let body = serde_json::to_vec(request).expect("the request as JSON");
    // Written from a thread so that a full stdout pipe cannot stall the write.
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("tests/{script}: {e}"));
    writer
        .join()
        .expect("writer thread")
        .unwrap_or_else(|e| panic!("writing to tests/{script}: {e}"));
    assert!(
        output.status.success(),
        "tests/{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("tests/{script} printed no JSON: {e}"))
}

/// The wire captures of `fake-sentry/testdata/captures/` (`<name>.body` with its headers beside
/// it, or `<name>.envelope.gz`), in name order: the drivers decode them (tests/captures.py).
pub fn wire_captures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fake-sentry/testdata/captures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fake-sentry/testdata/captures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".body") || name.ends_with(".envelope.gz")
        })
        .collect();
    out.sort();
    assert!(out.len() >= 16, "captures missing from {}", dir.display());
    out
}

/// Every event in `testdata/events/` (captured from real SDKs), by file name, in name order.
pub fn real_events() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/events");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("testdata/events")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            let value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 8,
        "captured events are missing from {}",
        dir.display()
    );
    out
}
