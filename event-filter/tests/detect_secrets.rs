//! detect-secrets 1.5.0, the scanner of Yelp's that many teams run in CI, as a peer: run over
//! every true positive of the detector corpus (`testdata/detectors/**/*.txt`), each secret it
//! finds must lie wholly inside what the `strict` preset's detectors mask in the same text
//! (their hits, joined where they touch), and every one of its plugins ([`PLUGINS`]) must find
//! something, so that no plugin is compared against nothing.
//!
//! It needs the pinned detect-secrets: `$UNDERSTUDY_DETECT_SECRETS_PYTHON`, else the
//! workspace's `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the test
//! is skipped with a note, or fails when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

use std::collections::BTreeSet;
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

/// Every plugin of detect-secrets 1.5.0, by class name: the script must run exactly these, and
/// each must find at least one secret in the corpus.
const PLUGINS: [&str; 27] = [
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "Base64HighEntropyString",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "HexHighEntropyString",
    "IPPublicDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
];

/// The script's first line: the plugins it ran.
#[derive(serde::Deserialize)]
struct PluginsRun {
    plugins: Vec<String>,
}

#[derive(serde::Deserialize)]
struct PotentialSecret {
    line: usize,
    plugin: String,
    #[serde(rename = "type")]
    kind: String,
    secret: String,
}

/// The part of a value detect-secrets reports that is the secret. Three plugins report more:
/// IPPublicDetector an address with its port (`0.0.0.0:5000`), AzureStorageKeyDetector the key
/// with its label (`AccountKey=...`), and ArtifactoryDetector the token with the space, quote,
/// `=` or `:` its regex wants on either side (`" AKCp... "`). None of those is what must not
/// leak, and the detectors mask the address, the key and the token alone.
fn secret_part<'a>(plugin: &str, value: &'a str) -> &'a str {
    match plugin {
        "IPPublicDetector" => value.split(':').next().unwrap_or(value),
        "AzureStorageKeyDetector" => value.strip_prefix("AccountKey=").unwrap_or(value),
        "ArtifactoryDetector" => {
            value.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '=' | ':'))
        }
        _ => value,
    }
}

/// Whether `hits` (sorted by start) cover all of `start..end`, joined where they touch or
/// overlap.
fn covers(hits: &[(usize, event_filter::detect::Hit)], start: usize, end: usize) -> bool {
    let mut reached = start;
    for &(_, hit) in hits {
        if hit.start > reached {
            break;
        }
        reached = reached.max(hit.end);
        if reached >= end {
            return true;
        }
    }
    false
}

#[test]
fn covering_joins_touching_hits_and_wants_every_byte() {
    use event_filter::detect::Hit;
    let hits = [
        (0, Hit::new(2, 5)),
        (1, Hit::new(5, 9)),
        (0, Hit::new(12, 14)),
    ];
    assert!(covers(&hits, 2, 9));
    assert!(covers(&hits, 3, 7));
    assert!(!covers(&hits, 1, 4), "starts before the first hit");
    assert!(!covers(&hits, 8, 13), "a gap at 9..12");
    assert!(!covers(&hits, 12, 15), "ends after the last hit");
}

#[test]
fn strict_masks_whole_every_secret_detect_secrets_finds_and_every_plugin_fires() {
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let run: PluginsRun = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("the plugins detect-secrets ran");
    assert_eq!(run.plugins, PLUGINS, "detect-secrets' plugins");
    let found: Vec<PotentialSecret> = lines
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        found.len() > 100,
        "detect-secrets found only {} secrets",
        found.len()
    );
    let fired: BTreeSet<&str> = found.iter().map(|s| s.plugin.as_str()).collect();
    let silent: Vec<&str> = PLUGINS.into_iter().filter(|p| !fired.contains(p)).collect();
    assert!(
        silent.is_empty(),
        "detect-secrets plugins that found nothing in the true positives: {}",
        silent.join(", ")
    );

    let detectors = Policy::preset("strict").expect("strict").audit.detectors;
    let mut missed = Vec::new();
    for secret in &found {
        let (case, line) = owner[secret.line - 1].clone();
        let (origin, text) = &cases[case];
        let value = secret_part(&secret.plugin, &secret.secret);
        // The value may occur more than once on its line (detect-secrets' GitLab plugin
        // reports just the `glpat` prefix); each occurrence must be masked whole.
        let places: Vec<(usize, usize)> = text[line.clone()]
            .match_indices(value)
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
        let uncovered: Vec<&str> = places
            .iter()
            .filter(|&&(start, end)| !covers(&hits, start, end))
            .map(|&(start, end)| &text[start..end])
            .collect();
        if !uncovered.is_empty() {
            let masked: Vec<&str> = hits.iter().map(|&(_, h)| &text[h.range()]).collect();
            missed.push(format!(
                "{origin}: {} {:?} in {text:?}, strict masks {masked:?}",
                secret.kind, secret.secret
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "detect-secrets found {} secrets that strict does not mask whole:\n{}",
        missed.len(),
        missed.join("\n")
    );
}
