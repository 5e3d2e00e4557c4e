//! detect-secrets 1.5.0, the scanner of Yelp's that many teams run in CI, as a peer: run over
//! every true positive of the detector corpus (`testdata/detectors/**/*.txt`), each secret it
//! finds must be covered by a hit of the `strict` preset's audit detectors on the same text.
//!
//! It needs the pinned detect-secrets: `$UNDERSTUDY_DETECT_SECRETS_PYTHON`, else the
//! workspace's `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the test
//! is skipped with a note, or fails when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

use std::path::PathBuf;
use std::process::Command;

use event_filter::Policy;
use event_filter::detect::find_all;

fn unescape(s: &str) -> String {
    s.replace("\\\\", "\u{0}")
        .replace("\\n", "\n")
        .replace('\u{0}', "\\")
}

/// Every true-positive text of the corpus, with where it comes from.
fn true_positives() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/detectors");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("secrets")] {
        for entry in std::fs::read_dir(&dir).expect("corpus folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|x| x == "txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let content = std::fs::read_to_string(&path).expect("corpus file");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (no, line) in content.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("+ ") {
                let text = rest.rsplit_once(" => ").map_or(rest, |(t, _)| t);
                cases.push((format!("{name}:{}", no + 1), unescape(text)));
            }
        }
    }
    cases
}

/// The byte ranges of `text`'s lines as Python reads a file (universal newlines: `\n`, `\r`
/// and `\r\n` end a line), so that detect-secrets' line numbers map back.
fn lines(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(start..i);
                start = i + 1;
            }
            b'\r' => {
                out.push(start..i);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(start..bytes.len());
    out
}

#[derive(serde::Deserialize)]
struct PotentialSecret {
    line: usize,
    #[serde(rename = "type")]
    kind: String,
    secret: String,
}

#[test]
fn strict_finds_every_secret_detect_secrets_finds_in_the_corpus() {
    let Some(python) = test_clients::python_with_detect_secrets("the detect-secrets comparison")
    else {
        return;
    };
    let cases = true_positives();
    // One file, each case's lines in turn; `owner[line - 1]` is (case, line's byte range).
    let mut file = String::new();
    let mut owner = Vec::new();
    for (index, (_, text)) in cases.iter().enumerate() {
        for range in lines(text) {
            file.push_str(&text[range.clone()]);
            file.push('\n');
            owner.push((index, range));
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "event-filter-detect-secrets-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, &file).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/detect_secrets_scan.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&corpus)
        .output()
        .expect("run detect-secrets");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "detect-secrets failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: Vec<PotentialSecret> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        found.len() > 100,
        "detect-secrets found only {} secrets",
        found.len()
    );

    let detectors = Policy::preset("strict").expect("strict").audit.detectors;
    let mut missed = Vec::new();
    for secret in &found {
        let (case, line) = owner[secret.line - 1].clone();
        let (origin, text) = &cases[case];
        // The value may occur more than once on its line (detect-secrets' GitLab plugin
        // reports just the `glpat` prefix); any occurrence a hit overlaps counts.
        let places: Vec<(usize, usize)> = text[line.clone()]
            .match_indices(secret.secret.as_str())
            .map(|(at, s)| (line.start + at, line.start + at + s.len()))
            .collect();
        if places.is_empty() {
            missed.push(format!(
                "{origin}: {} {:?} not in its line",
                secret.kind, secret.secret
            ));
            continue;
        }
        let hits = find_all(&detectors, text);
        let covered = places.iter().any(|&(start, end)| {
            hits.iter()
                .any(|&(_, hit)| hit.start < end && start < hit.end)
        });
        if !covered {
            missed.push(format!(
                "{origin}: {} {:?} in {text:?}",
                secret.kind, secret.secret
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "detect-secrets found {} secrets that strict misses:\n{}",
        missed.len(),
        missed.join("\n")
    );
}
