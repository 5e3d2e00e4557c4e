//! Every crash of the corpus, and every probe, gets the signature, notes and proto signature
//! siggen 2.2.20241029 gave it (`testdata/*/expected.json`, written by
//! `testdata/siggen_expected.py`). Offline: the expectations are committed.

mod common;

use common::{as_result, assert_all_match, committed, corpus};

#[test]
fn corpus_signatures_equal_siggens() {
    let crashes = corpus();
    let expected = committed("corpus/expected.json");
    let expected = expected.as_object().expect("an object of results");
    let names: Vec<&String> = crashes.keys().collect();
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(
        names, listed,
        "corpus/expected.json is stale: run testdata/siggen_expected.py"
    );
    let count = assert_all_match(
        "corpus crashes",
        crashes
            .iter()
            .map(|(name, crash)| (name.clone(), crash, as_result(&expected[name]))),
    );
    assert!(count >= 50, "the corpus has {count} crashes");
}

#[test]
fn probe_signatures_equal_siggens() {
    let probes = committed("probes/expected.json");
    let signatures = probes["signatures"].as_array().expect("signature probes");
    assert_all_match(
        "signature probes",
        signatures.iter().map(|probe| {
            let name = probe["name"].as_str().expect("a name").to_string();
            (name, &probe["input"], as_result(probe))
        }),
    );
}
