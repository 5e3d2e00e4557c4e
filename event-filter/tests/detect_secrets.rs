//! detect-secrets 1.5.0, the scanner of Yelp's that many teams run in CI, as a peer: run over
//! every true positive of the detector corpus (`testdata/detectors/**/*.txt`), each secret it
//! finds must be covered by a hit of the `strict` preset's audit detectors on the same text.
//!
//! It needs the pinned detect-secrets: `$UNDERSTUDY_DETECT_SECRETS_PYTHON`, else the
//! workspace's `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the test
//! is skipped with a note, or fails when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use event_filter::Policy;
use event_filter::detect::find_all;

/// The detect-secrets release this test compares with, as `scripts/setup-test-clients` pins it.
const DETECT_SECRETS_VERSION: &str = "1.5.0";

fn all_clients_required() -> bool {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    set("UNDERSTUDY_REQUIRE_ALL_CLIENTS").as_deref() == Some("1")
        || set("CI").is_some_and(|v| v != "0" && v != "false")
}

fn detect_secrets_version(python: &Path) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('detect-secrets'))",
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// An interpreter with the pinned detect-secrets, or `None` after a note on stderr (a panic
/// when every client is required). The same rules as the `test-clients` crate's lookups,
/// written here because that crate is outside event-filter's change.
fn python_with_detect_secrets() -> Option<PathBuf> {
    let (python, from_env) = match std::env::var_os("UNDERSTUDY_DETECT_SECRETS_PYTHON") {
        Some(path) => (PathBuf::from(path), true),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.clients/venv/bin/python"),
            false,
        ),
    };
    let why = match detect_secrets_version(&python) {
        Some(version) if version == DETECT_SECRETS_VERSION => return Some(python),
        Some(version) => format!(
            "{} has detect-secrets {version}, not {DETECT_SECRETS_VERSION}",
            python.display()
        ),
        // An override that is set but does not work fails whatever the mode (as in the
        // test-clients crate): someone asked for it, and skipping would hide the mistake.
        None if from_env => panic!(
            "UNDERSTUDY_DETECT_SECRETS_PYTHON={} cannot import detect_secrets",
            python.display()
        ),
        None => format!(
            "detect-secrets {DETECT_SECRETS_VERSION} not found in .clients/venv; run \
             scripts/setup-test-clients or set UNDERSTUDY_DETECT_SECRETS_PYTHON"
        ),
    };
    assert!(!all_clients_required(), "{why}");
    // Straight to the process's stderr: libtest shows captured output only for failures.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: detect-secrets comparison: {why}"
    );
    None
}

/// `\n` → newline, `\\` → backslash, as the corpus files escape.
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
    let Some(python) = python_with_detect_secrets() else {
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
