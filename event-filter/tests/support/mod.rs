//! What more than one test file reads: the real SDK events in `testdata/events/`.

use std::path::PathBuf;

use serde_json::Value;

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
