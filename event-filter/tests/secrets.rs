//! Issue 22's secrets repro: twenty common secret formats, each in its issuer's shape, in a
//! real sentry-sdk event's `extra` (the captured `python-clean.json`), and a Stripe live key in
//! a frame's `context_line`. The `strict` preset must scrub every one, and its audit must name
//! each by family without ever quoting the secret.
//!
//! The tokens are fake: built here from a fixed seed in each issuer's documented shape.

use std::path::PathBuf;

use event_filter::{Auditor, FindingKind, Policy, Scrubber};
use serde_json::{Value, json};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Deterministic fake characters: a xorshift generator per call, seeded by `seed`.
fn fake(alphabet: &[u8], len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(alphabet[(state % alphabet.len() as u64) as usize])
        })
        .collect()
}

/// `(extra key, value, family the finding must name, the secret inside the value)`.
fn planted() -> Vec<(&'static str, String, &'static str, String)> {
    let same = |key, value: String, family| (key, value.clone(), family, value);
    let azure_key = format!("{}==", fake(B64, 86, 19));
    let pem_body = fake(B64, 64, 20);
    vec![
        same(
            "aws_access_key_id",
            format!("AKIA{}", fake(UPPER32, 16, 1)),
            "aws_access_key",
        ),
        same(
            "github_token",
            format!("ghp_{}", fake(ALNUM, 36, 2)),
            "github_token",
        ),
        same(
            "slack_token",
            format!(
                "xoxb-{}-{}-{}",
                fake(b"0123456789", 11, 3),
                fake(b"0123456789", 13, 4),
                fake(ALNUM, 24, 5)
            ),
            "slack_token",
        ),
        same(
            "gcp_api_key",
            format!("AIza{}", fake(URLSAFE, 35, 6)),
            "gcp_api_key",
        ),
        (
            "deploy_key",
            format!("-----BEGIN EC PRIVATE KEY-----\n{pem_body}\n-----END EC PRIVATE KEY-----"),
            "pem_private_key",
            pem_body.clone(),
        ),
        same(
            "stripe_secret_key",
            format!("sk_live_{}", fake(ALNUM, 24, 7)),
            "stripe_secret_key",
        ),
        same(
            "stripe_restricted_key",
            format!("rk_live_{}", fake(ALNUM, 24, 8)),
            "stripe_restricted_key",
        ),
        same(
            "gitlab_token",
            format!("glpat-{}", fake(ALNUM, 20, 9)),
            "gitlab_pat",
        ),
        same(
            "npm_token",
            format!("npm_{}", fake(ALNUM, 36, 10)),
            "npm_access_token",
        ),
        same(
            "pypi_token",
            format!("pypi-AgEIcHlwaS5vcmc{}", fake(URLSAFE, 120, 11)),
            "pypi_upload_token",
        ),
        same(
            "hf_token",
            format!("hf_{}", fake(LETTERS, 34, 12)),
            "huggingface_access_token",
        ),
        same(
            "do_token",
            format!("dop_v1_{}", fake(HEX, 64, 13)),
            "digitalocean_pat",
        ),
        same(
            "twilio_api_key",
            format!("SK{}", fake(HEX, 32, 14)),
            "twilio_api_key",
        ),
        same(
            "sendgrid_api_key",
            format!("SG.{}.{}", fake(URLSAFE, 22, 15), fake(URLSAFE, 43, 16)),
            "sendgrid_api_token",
        ),
        same(
            "mailchimp_key",
            format!("{}-us21", fake(HEX, 32, 17)),
            "mailchimp_api_key",
        ),
        same(
            "openai_api_key",
            format!(
                "sk-proj-{}T3BlbkFJ{}",
                fake(URLSAFE, 74, 18),
                fake(URLSAFE, 74, 21)
            ),
            "openai_api_key",
        ),
        same(
            "anthropic_api_key",
            format!("sk-ant-api03-{}AA", fake(URLSAFE, 93, 22)),
            "anthropic_api_key",
        ),
        same(
            "shopify_token",
            format!("shpat_{}", fake(HEX, 32, 23)),
            "shopify_access_token",
        ),
        same(
            "square_token",
            format!("EAAA{}", fake(URLSAFE, 60, 24)),
            "square_access_token",
        ),
        (
            "azure_storage",
            format!(
                "DefaultEndpointsProtocol=https;AccountName=understudyfake;AccountKey={azure_key};EndpointSuffix=core.windows.net"
            ),
            "azure_storage_account_key",
            azure_key.clone(),
        ),
    ]
}

fn stripe_in_source() -> String {
    format!("    stripe.api_key = \"sk_live_{}\"", fake(ALNUM, 24, 25))
}

/// The captured sentry-sdk event with the secrets where an application puts them.
fn event_with_secrets() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/events/python-clean.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("captured event")).unwrap();
    let extra = event["extra"].as_object_mut().expect("extra");
    for (key, value, _, _) in planted() {
        extra.insert(key.to_owned(), json!(value));
    }
    let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .expect("frames");
    let frame = frames.last_mut().expect("a frame");
    frame["context_line"] = json!(stripe_in_source());
    event
}

#[test]
fn strict_scrubs_twenty_secret_formats_and_a_context_line() {
    assert_eq!(planted().len(), 20);
    let mut event = event_with_secrets();
    Scrubber::new(Policy::preset("strict").expect("strict")).scrub(&mut event);
    let text = event.to_string();
    let mut survivors: Vec<&str> = planted()
        .iter()
        .filter(|(_, _, _, secret)| text.contains(secret.as_str()))
        .map(|&(key, _, _, _)| key)
        .collect();
    let stripe = stripe_in_source();
    let stripe_key = stripe.split('"').nth(1).expect("quoted key");
    if text.contains(stripe_key) {
        survivors.push("context_line");
    }
    assert!(
        survivors.is_empty(),
        "strict left these untouched: {survivors:?}"
    );
    // The frame is still there, only the key is gone.
    assert!(text.contains("stripe.api_key = "), "{text}");
}

#[test]
fn strict_audit_names_each_family_and_never_the_secret() {
    let event = event_with_secrets();
    let findings = Auditor::new(Policy::preset("strict").expect("strict")).audit(&event);
    for (key, _, family, _) in planted() {
        let path = format!("extra.{key}");
        let names: Vec<&str> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Detector && f.path == path)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, [family], "findings at {path}");
    }
    assert!(
        findings.iter().any(|f| f.kind == FindingKind::Detector
            && f.path.ends_with(".context_line")
            && f.name == "stripe_secret_key"),
        "no stripe_secret_key finding on the context line: {findings:#?}"
    );
    let report = serde_json::to_string(&findings).unwrap();
    for (key, _, _, secret) in planted() {
        // Not the secret, nor any long piece of it.
        for piece in secret.as_bytes().chunks(8).filter(|c| c.len() == 8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                !report.contains(piece),
                "{key}: the findings quote {piece:?}"
            );
        }
    }
}

#[test]
fn readme_lists_every_secret_family() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README");
    let missing: Vec<&str> = event_filter::detect::secret_families()
        .into_iter()
        .map(|(family, _)| family)
        .filter(|family| !readme.contains(&format!("| `{family}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "README's secret-family table lacks {missing:?}; run testdata/detectors/secrets/generate.py"
    );
}

/// Scrubbing is idempotent: once every detector's hits are masked, a second pass over the
/// same event finds nothing more (the benchmark scrubs one event over and over).
#[test]
fn a_scrubbed_event_has_no_detector_hits_left() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/events/python-pii-unscrubbed.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let scrubber = Scrubber::new(
        Policy::from_toml(
            "[[rule]]\ndetectors = [\"all\"]\naction = \"mask\"\n",
            "all",
        )
        .unwrap(),
    );
    scrubber.scrub(&mut event);
    let again = scrubber.scrub(&mut event);
    let found: Vec<(String, Option<String>)> = again
        .changes
        .iter()
        .map(|c| (c.path(), c.detector.as_deref().map(str::to_owned)))
        .collect();
    assert!(found.is_empty(), "{found:?}");
}
