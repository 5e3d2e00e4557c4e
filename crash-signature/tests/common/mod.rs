//! What the corpus tests share: reading the test data and comparing results with siggen's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crash_signature::{SignatureResult, generate};
use serde_json::Value;

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The corpus's processed crashes, by file name.
pub fn corpus() -> BTreeMap<String, Value> {
    let dir = testdata().join("corpus");
    let mut crashes = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("testdata/corpus") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && name != "expected.json" {
            crashes.insert(name, read_json(&path));
        }
    }
    crashes
}

/// A committed expectations file, `corpus/expected.json` or `probes/expected.json`.
pub fn committed(relative: &str) -> Value {
    read_json(&testdata().join(relative))
}

/// siggen's answer for one crash, as the script writes it.
pub fn as_result(expected: &Value) -> SignatureResult {
    SignatureResult {
        signature: expected["signature"]
            .as_str()
            .expect("a signature")
            .to_string(),
        notes: expected["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .map(|n| n.as_str().expect("a note").to_string())
            .collect(),
        proto_signature: expected["proto_signature"].as_str().map(str::to_string),
        normalized_frames: None,
    }
}

/// Ours, in the same terms (siggen's script does not write the normalised frames).
pub fn ours(crash: &Value) -> SignatureResult {
    SignatureResult {
        normalized_frames: None,
        ..generate(crash)
    }
}

/// Compares ours with siggen's for every named crash; lists every difference, then fails.
pub fn assert_all_match<'a>(
    what: &str,
    cases: impl IntoIterator<Item = (String, &'a Value, SignatureResult)>,
) -> usize {
    let mut mismatches = Vec::new();
    let mut count = 0;
    for (name, crash, siggen) in cases {
        count += 1;
        let ours = ours(crash);
        if ours != siggen {
            mismatches.push(format!("{name}:\n  siggen: {siggen:?}\n  ours:   {ours:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {count} {what} differ from siggen:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    count
}
