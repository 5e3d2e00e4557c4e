//! What more than one of the harness's test files needs: reading a report folder's processed
//! crashes and having siggen sign them. Each test file is a crate of its own that uses some of
//! it, hence the `dead_code` allowances.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every `crashes/*.json` of the report folder `dir`, by file stem: `<crash>` for the kept
/// processed crash, `<crash>.stackwalk` for minidump-stackwalk's beside the in-process
/// processor's.
#[allow(dead_code)]
pub fn written(dir: &Path) -> BTreeMap<String, Value> {
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

/// Runs `tests/siggen_check.py --json` over the report folder `dir`: its verdict on each
/// processed crash, and whether it exited 0.
#[allow(dead_code)]
pub fn siggen_check(python: &Path, dir: &Path) -> (Vec<Value>, bool) {
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
    let crashes = checked["crashes"]
        .as_array()
        .expect("a list of crashes")
        .clone();
    (crashes, output.status.success())
}

/// siggen must sign each of the `count` processed crashes of the report folder `dir` as the
/// harness did (signature, proto signature, and exactly the notes the report gives).
#[allow(dead_code)]
pub fn siggen_agrees(python: &Path, dir: &Path, count: usize) {
    let (checked, success) = siggen_check(python, dir);
    assert_eq!(checked.len(), count);
    let differing: Vec<&Value> = checked.iter().filter(|c| c["equal"] != true).collect();
    assert!(
        differing.is_empty(),
        "siggen signs these differently: {differing:#?}"
    );
    assert!(success);
}
