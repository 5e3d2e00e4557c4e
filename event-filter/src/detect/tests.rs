use super::payment::{iban_mod97, luhn};
use super::prefilter::{
    Gate, L_DIGIT, L_DOT, L_UPPER, P_CAP_A, P_CAP_I, P_CAP_J, P_LOWER_Z, P_SLASH, Stats,
    add_saturating_lanes, at_least, letters,
};
use super::scan::{b64_decode, find_ci, find_window4};

use super::*;
use proptest::prelude::*;

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/detectors");

fn det(kind: DetectorKind) -> Detector {
    Detector::builtin(kind).expect("built-in kind")
}

/// What `all` names, then the built-in kinds it leaves out.
fn every_detector() -> Vec<Detector> {
    let mut detectors = builtin_detectors();
    detectors.extend(DetectorKind::NOT_IN_ALL.map(det));
    detectors
}

fn hit_texts<'a>(d: &Detector, text: &'a str) -> Vec<&'a str> {
    d.find(text).iter().map(|h| &text[h.range()]).collect()
}

/// `\n` → newline, `\\` → backslash.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks one corpus file's `+`/`-` lines against `d`; failures are appended. Each kind
/// needs at least `min` positives and `min` negatives.
fn check_corpus(d: &Detector, content: &str, label: &str, min: usize, failures: &mut Vec<String>) {
    let (mut pos, mut neg) = (0, 0);
    for (no, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{label}.txt:{}", no + 1);
        if let Some(rest) = line.strip_prefix("+ ") {
            pos += 1;
            let (text, want) = match rest.rsplit_once(" => ") {
                Some((t, w)) => (unescape(t), Some(unescape(w))),
                None => (unescape(rest), None),
            };
            let got = hit_texts(d, &text);
            if got.is_empty() {
                failures.push(format!("{at}: not detected: {text:?}"));
            } else if let Some(want) = want
                && !got.contains(&want.as_str())
            {
                failures.push(format!("{at}: want hit {want:?}, got {got:?}"));
            }
            if d.is_match(&text) == got.is_empty() {
                failures.push(format!("{at}: is_match disagrees with find"));
            }
        } else if let Some(rest) = line.strip_prefix("- ") {
            neg += 1;
            let text = unescape(rest);
            let got = hit_texts(d, &text);
            if !got.is_empty() {
                failures.push(format!("{at}: false positive {got:?} in {text:?}"));
            }
            if d.is_match(&text) {
                failures.push(format!("{at}: is_match true on a negative"));
            }
        } else {
            failures.push(format!("{at}: malformed line {line:?}"));
        }
    }
    if pos < min || neg < min {
        failures.push(format!("{label}: only {pos} positives, {neg} negatives"));
    }
}

#[test]
fn corpus() {
    let mut failures = Vec::new();
    for kind in DetectorKind::BUILTIN {
        let path = format!("{CORPUS_DIR}/{}.txt", kind.name());
        match std::fs::read_to_string(&path) {
            Ok(content) => check_corpus(&det(kind), &content, kind.name(), 8, &mut failures),
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every secret family has `testdata/detectors/secrets/<family>.txt` with at least five true
/// and five false positives (written by `generate.py` there, which decides them with its own
/// implementation of gitleaks' matching), the detector agrees with every line, and every file
/// names a family.
#[test]
fn secret_family_corpus() {
    let dir = format!("{CORPUS_DIR}/secrets");
    let mut failures = Vec::new();
    let mut families: Vec<&str> = secret_families().iter().map(|&(f, _)| f).collect();
    families.dedup();
    for family in &families {
        let path = format!("{dir}/{family}.txt");
        let d = Detector::secret(family).expect("a family's detector");
        match std::fs::read_to_string(&path) {
            Ok(content) => check_corpus(&d, &content, family, 5, &mut failures),
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    for entry in std::fs::read_dir(&dir).expect("secrets corpus folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(family) = name.strip_suffix(".txt")
            && !families.contains(&family)
        {
            failures.push(format!("{name}: no such secret family"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every built-in detector's necessary-byte gate (and every secret rule's keywords) must hold
/// for its own corpus positives, or `find_all` would miss them. The one difference allowed:
/// a secret family's hit that `find_all` drops because a more specific detector found the
/// same secret.
#[test]
fn find_all_agrees_with_find_on_corpus() {
    let detectors = builtin_detectors();
    let group = detectors.len() - 1;
    assert_eq!(detectors[group].name(), "secrets");
    let families = secret_detectors();
    let mut checks: Vec<(usize, &Detector, String)> = Vec::new();
    for (i, d) in detectors[..group].iter().enumerate() {
        checks.push((i, d, format!("{CORPUS_DIR}/{}.txt", d.name())));
    }
    for d in &families {
        checks.push((group, d, format!("{CORPUS_DIR}/secrets/{}.txt", d.name())));
    }
    for (i, d, path) in checks {
        let content = std::fs::read_to_string(&path).unwrap();
        for line in content.lines() {
            let Some(rest) = line.strip_prefix("+ ").or_else(|| line.strip_prefix("- ")) else {
                continue;
            };
            let text = unescape(rest.rsplit_once(" => ").map_or(rest, |(t, _)| t));
            let alone = d.find(&text);
            let all = find_all(&detectors, &text);
            let merged: Vec<Hit> = all
                .iter()
                .filter(|&&(j, _)| j == i)
                .map(|&(_, h)| h)
                .collect();
            assert!(
                merged_agrees(&detectors, i, d, &alone, &all),
                "{}: {text:?}: alone {alone:?}, merged {merged:?}",
                d.name()
            );
        }
    }
    // The kinds `all` leaves out, among every detector.
    let every = every_detector();
    for (i, d) in every.iter().enumerate().skip(detectors.len()) {
        let content = std::fs::read_to_string(format!("{CORPUS_DIR}/{}.txt", d.name())).unwrap();
        for line in content.lines() {
            let Some(rest) = line.strip_prefix("+ ").or_else(|| line.strip_prefix("- ")) else {
                continue;
            };
            let text = unescape(rest.rsplit_once(" => ").map_or(rest, |(t, _)| t));
            let all = find_all(&every, &text);
            assert!(
                merged_agrees(&every, i, d, &d.find(&text), &all),
                "{}: {text:?}",
                d.name()
            );
        }
    }
}

/// Whether `d`'s hits alone (`alone`) are what `find_all` reported as detector `i`'s in
/// `all`: for a hand-written detector exactly; for a secret detector, each of its hits is
/// there (under the same family) or overlaps a hit of a detector at least as specific (one
/// secret, one finding), and nothing of that family is there that `d` did not find.
fn merged_agrees(
    detectors: &[Detector],
    i: usize,
    d: &Detector,
    alone: &[Hit],
    all: &[(usize, Hit)],
) -> bool {
    let merged: Vec<Hit> = all
        .iter()
        .filter(|&&(j, h)| j == i && detectors[j].name_of(h) == d.name_of(h))
        .map(|&(_, h)| h)
        .collect();
    if d.kind() != DetectorKind::Secret {
        return merged == alone;
    }
    let family: Vec<Hit> = merged
        .iter()
        .copied()
        .filter(|&h| {
            alone
                .iter()
                .any(|a| d.name_of(*a) == detectors[i].name_of(h))
        })
        .collect();
    let overlapped = |hit: &Hit| {
        all.iter().any(|&(_, h)| {
            h.specificity() <= hit.specificity() && h.start < hit.end && hit.start < h.end
        })
    };
    family.iter().all(|h| alone.contains(h))
        && alone.iter().all(|h| family.contains(h) || overlapped(h))
}

#[test]
fn kind_names_round_trip() {
    for kind in DetectorKind::BUILTIN
        .into_iter()
        .chain([DetectorKind::Custom])
    {
        assert_eq!(kind.name().parse::<DetectorKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
    }
    for (alias, kind) in [
        ("creditcard", DetectorKind::CreditCard),
        ("pem", DetectorKind::PemPrivateKey),
        ("usssn", DetectorKind::UsSsn),
        ("userpath", DetectorKind::UserPath),
    ] {
        assert_eq!(alias.parse::<DetectorKind>().unwrap(), kind, "{alias}");
    }
    let err = "ip".parse::<DetectorKind>().unwrap_err();
    assert_eq!(err.input, "ip");
    assert!(err.to_string().contains("ipv4"));
    assert!("Email".parse::<DetectorKind>().is_err());
    assert!(
        DetectorKind::BUILTIN
            .iter()
            .all(|&k| k != DetectorKind::Custom)
    );
}

#[test]
fn serde_names_and_aliases() {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};
    let parse = |s: &'static str| {
        let de: StrDeserializer<'_, Error> = s.into_deserializer();
        DetectorKind::deserialize(de)
    };
    for kind in DetectorKind::BUILTIN {
        assert_eq!(parse(kind.name()).unwrap(), kind);
    }
    assert_eq!(parse("creditcard").unwrap(), DetectorKind::CreditCard);
    assert_eq!(parse("pem").unwrap(), DetectorKind::PemPrivateKey);
    assert_eq!(parse("usssn").unwrap(), DetectorKind::UsSsn);
    assert_eq!(parse("userpath").unwrap(), DetectorKind::UserPath);
    assert!(parse("ip").is_err());
}

#[test]
fn hit_helpers() {
    let hit = Hit::new(2, 5);
    assert_eq!(hit.range(), 2..5);
    assert_eq!(hit.len(), 3);
    assert!(!hit.is_empty());
    assert_eq!(
        &"a@b.io x"[det(DetectorKind::Email).find("a@b.io x")[0].range()],
        "a@b.io"
    );
}

#[test]
fn builtin_custom_is_none_and_names() {
    assert!(Detector::builtin(DetectorKind::Custom).is_none());
    assert!(Detector::builtin(DetectorKind::Secret).is_none());
    let all = builtin_detectors();
    let in_all: Vec<DetectorKind> = DetectorKind::BUILTIN
        .into_iter()
        .filter(|k| k.in_all())
        .collect();
    assert_eq!(
        in_all.len() + DetectorKind::NOT_IN_ALL.len(),
        DetectorKind::BUILTIN.len()
    );
    assert_eq!(all.len(), in_all.len() + 1);
    for (d, &kind) in all.iter().zip(&in_all) {
        assert_eq!(d.kind(), kind);
        assert_eq!(d.name(), kind.name());
    }
    for kind in DetectorKind::NOT_IN_ALL {
        assert!(DetectorKind::BUILTIN.contains(&kind), "{kind}");
        assert!(Detector::builtin(kind).is_some(), "{kind}");
    }
    let secrets = &all[in_all.len()];
    assert_eq!(
        (secrets.kind(), secrets.name()),
        (DetectorKind::Secret, "secrets")
    );
    let families = secret_detectors();
    assert!(families.len() > 200);
    for d in &families {
        assert_eq!(d.kind(), DetectorKind::Secret);
        assert!(secret_families().iter().any(|&(f, _)| f == d.name()));
    }
}

#[test]
fn custom_whole_match_and_group() {
    let whole = Detector::custom("device_id", r"d/[a-f0-9]{12}").unwrap();
    assert_eq!(whole.kind(), DetectorKind::Custom);
    assert_eq!(whole.name(), "device_id");
    let text = "x d/0123456789ab y d/ba9876543210";
    assert_eq!(
        hit_texts(&whole, text),
        ["d/0123456789ab", "d/ba9876543210"]
    );

    let group = Detector::custom("sid", r"sid=([0-9a-f]+)|token").unwrap();
    // The second alternative matches without group 1: no hit for it.
    assert_eq!(
        hit_texts(&group, "sid=abc123 token sid=ff"),
        ["abc123", "ff"]
    );
    assert!(group.is_match("sid=1"));
    assert!(!group.is_match("token only"));

    let empty = Detector::custom("empty", r"a*").unwrap();
    assert_eq!(hit_texts(&empty, "bbaab"), ["aa"]);
}

#[test]
fn custom_invalid_pattern_is_an_error() {
    let err = Detector::custom("broken", "(unclosed").unwrap_err();
    let DetectorError::Pattern { name, .. } = &err;
    assert_eq!(name, "broken");
    assert!(
        err.to_string()
            .starts_with("invalid pattern for detector \"broken\": ")
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(Detector::custom("huge", r"\w{1000}\w{1000}\w{1000}").is_err());
}

#[test]
fn find_all_merges_sorted_with_overlaps() {
    let detectors = builtin_detectors();
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let text = format!("from ::ffff:10.1.2.3 user a@example.com auth Bearer {jwt}");
    let hits = find_all(&detectors, &text);
    let named: Vec<(&str, &str)> = hits
        .iter()
        .map(|&(i, h)| (detectors[i].name(), &text[h.range()]))
        .collect();
    assert_eq!(
        named,
        [
            ("ipv6", "::ffff:10.1.2.3"),
            ("ipv4", "10.1.2.3"),
            ("email", "a@example.com"),
            ("bearer_token", jwt),
            ("jwt", jwt),
        ]
    );
    assert!(hits.windows(2).all(|w| w[0].1.start <= w[1].1.start));
    assert!(find_all(&detectors, "").is_empty());
    assert!(find_all(&[], "a@example.com").is_empty());
    let custom = [Detector::custom("c", "secret").unwrap()];
    assert_eq!(find_all(&custom, "a secret"), [(0, Hit::new(2, 8))]);
}

#[test]
fn multiple_hits_per_detector() {
    let card = det(DetectorKind::CreditCard);
    assert_eq!(
        hit_texts(
            &card,
            "4111111111111111,5555555555554444 and 378282246310005"
        ),
        ["4111111111111111", "5555555555554444", "378282246310005"]
    );
    let ip = det(DetectorKind::Ipv4);
    assert_eq!(
        hit_texts(&ip, "1.1.1.1,8.8.4.4 9.9.9.9"),
        ["1.1.1.1", "8.8.4.4", "9.9.9.9"]
    );
    let email = det(DetectorKind::Email);
    assert_eq!(hit_texts(&email, "a@b.io;c@d.io"), ["a@b.io", "c@d.io"]);
    let aws = det(DetectorKind::AwsAccessKey);
    let text = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
                aws_access_key_id=AKIAIOSFODNN7EXAMPLE";
    assert_eq!(
        hit_texts(&aws, text),
        [
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AKIAIOSFODNN7EXAMPLE"
        ]
    );
}

#[test]
fn card_in_long_digit_group_chains() {
    let card = det(DetectorKind::CreditCard);
    for at in 0..30 {
        let mut groups: Vec<String> = (0..30).map(|k| format!("1{k:02}")).collect();
        groups.insert(at, "3782 822463 10005".to_owned());
        let text = groups.join(" ");
        assert_eq!(hit_texts(&card, &text), ["3782 822463 10005"], "{text}");
    }
    let many = "4111 1111 1111 1111 ".repeat(40);
    assert_eq!(card.find(&many).len(), 40);
}

/// Repetitive inputs that would make a careless scanner quadratic; with linear scanners
/// this takes milliseconds, with a quadratic one it would not finish.
#[test]
fn pathological_inputs_stay_linear() {
    let detectors = builtin_detectors();
    let unit = [
        "-----BEGIN RSA PRIVATE KEY-----",
        "xoxb-",
        "a@b.co",
        "Bearer ",
        "bearer x-",
        "Basic ",
        "eyJ.",
        "eyJhbGciOiJub25lIn0.",
        "1 ",
        "4111 ",
        "AB12",
        "DE89 ",
        "1.2.3.4.",
        "::",
        "a:",
        "a://",
        "x://u:p@",
        "secret_access_key=",
        "AKIA",
        "AIza",
        "ghp_",
        "github_pat_",
        "hooks.slack.com/services/",
        "@",
        "a.",
    ];
    for u in unit {
        let text = u.repeat(100_000 / u.len());
        for d in &detectors {
            let hits = d.find(&text);
            assert!(
                hits.windows(2).all(|w| w[0].end <= w[1].start),
                "{}",
                d.name()
            );
        }
        assert!(find_all(&detectors, &text).len() < text.len());
    }
    let long_local = format!("{}@example.com", "a".repeat(100_000));
    assert!(det(DetectorKind::Email).find(&long_local).is_empty());
}

#[test]
fn helpers() {
    assert!(luhn(b"4111111111111111"));
    assert!(!luhn(b"4111111111111112"));
    assert!(iban_mod97(b"DE89370400440532013000"));
    assert!(!iban_mod97(b"DE89370400440532013001"));
    assert_eq!(b64_decode(b"dXNlcjpwYXNz", false).unwrap(), b"user:pass");
    assert_eq!(b64_decode(b"YXBpOg==", false).unwrap(), b"api:");
    assert_eq!(b64_decode(b"YXBpOg", false).unwrap(), b"api:");
    assert!(b64_decode(b"YXBpO", false).is_none());
    assert!(b64_decode(b"YX=pOg==", false).is_none());
    assert_eq!(find_ci(b"xx BeArEr y", 0, b"bearer"), Some(3));
    assert_eq!(find_ci(b"bearer", 1, b"bearer"), None);
    assert_eq!(
        find_window4(b"..ab12", 0, |a, b, c, d| (a == b'a')
            & (b == b'b')
            & (c == b'1')
            & (d == b'2')),
        Some(2)
    );
    let s = Stats::of("Ab-:.@_ 9Jz=/gKxI".as_bytes());
    assert!((0..8).all(|k| s.n(k) == if k == L_UPPER { 4 } else { 1 }));
    let bits = P_CAP_A | P_CAP_I | P_CAP_J | P_LOWER_Z | P_SLASH | letters(b"abgkxijz");
    assert_eq!(s.present & bits, bits);
    assert_eq!(s.present & letters(b"q"), 0);
    assert!(Gate::new(at_least(&[(L_UPPER, 4), (L_DIGIT, 1)]), P_CAP_J).admits(&s));
    assert!(!Gate::new(at_least(&[(L_UPPER, 5)]), 0).admits(&s));
    assert!(!Gate::new(at_least(&[]), letters(b"q")).admits(&s));
    assert!(Gate::ALWAYS.admits(&s) && !Gate::NEVER.admits(&s));
    let many = Stats::of("1".repeat(200).as_bytes());
    assert!(Gate::new(at_least(&[(L_DIGIT, 127)]), 0).admits(&many));
    assert_eq!(
        add_saturating_lanes(200 | (3 << 8), 100 | (4 << 8)),
        255 | (7 << 8)
    );
    let long = "1".repeat(1000);
    assert_eq!(Stats::of(long.as_bytes()).n(L_DIGIT), 255);
    assert_eq!(Stats::of(long.as_bytes()).n(L_DOT), 0);
}

#[test]
fn hits_are_on_char_boundaries_with_unicode_around() {
    let text = "é 4111 1111 1111 1111 ü jörg@exämple.com 名前 a@例え.jp x@b.com /home/jörg/x";
    for d in every_detector() {
        for h in d.find(text) {
            assert!(text.get(h.range()).is_some(), "{}", d.name());
        }
    }
    assert_eq!(hit_texts(&det(DetectorKind::Email), text), ["x@b.com"]);
}

fn check_invariants(d: &Detector, text: &str) -> Result<(), TestCaseError> {
    let hits = d.find(text);
    let mut last = 0;
    for h in &hits {
        prop_assert!(h.start < h.end, "{}: empty hit {h:?}", d.name());
        prop_assert!(h.start >= last, "{}: overlap/unsorted {hits:?}", d.name());
        prop_assert!(
            text.get(h.range()).is_some(),
            "{}: bad range {h:?}",
            d.name()
        );
        last = h.end;
    }
    prop_assert_eq!(d.is_match(text), !hits.is_empty(), "{}", d.name());
    Ok(())
}

/// Text made of the bytes the detectors care about, so scanners go deep.
fn spicy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "Z",
        "0",
        "1",
        "4",
        "9",
        ".",
        ":",
        "::",
        "-",
        "_",
        " ",
        "\t",
        "\n",
        "@",
        "/",
        "//",
        "://",
        "=",
        "==",
        "+",
        "é",
        "名",
        "\"",
        "'",
        "AKIA",
        "AIza",
        "ghp_",
        "github_pat_",
        "xoxb-",
        "eyJ",
        "Bearer ",
        "basic ",
        "-----BEGIN ",
        "PRIVATE KEY-----",
        "-----END ",
        "DE89",
        "GB82 ",
        "4111 ",
        "1111",
        "255.",
        "ffff",
        "example.com",
        "secret_access_key=",
        "hooks.slack.com/services/",
        "T0/B0/X",
        "dXNlcjpwYXNz",
        "eyJhbGciOiJub25lIn0",
        "0000",
        "\\n",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn find_never_panics_arbitrary(text in any::<String>()) {
        for d in every_detector() {
            check_invariants(&d, &text)?;
        }
    }

    #[test]
    fn find_never_panics_spicy(text in spicy()) {
        let detectors = every_detector();
        for d in &detectors {
            check_invariants(d, &text)?;
        }
        let merged = find_all(&detectors, &text);
        prop_assert!(merged.windows(2).all(|w| w[0].1.start <= w[1].1.start));
        // The byte-class gates of `find_all` never hide a hit.
        for (i, d) in detectors.iter().enumerate() {
            prop_assert!(merged_agrees(&detectors, i, d, &d.find(&text), &merged), "{}", d.name());
        }
    }

    #[test]
    fn custom_never_panics(text in spicy(), grouped in any::<bool>()) {
        let pattern = if grouped { r"(\d+)|[a-z]*" } else { r"\d*" };
        let d = Detector::custom("p", pattern).unwrap();
        check_invariants(&d, &text)?;
    }

    #[test]
    fn embedded_positives_survive_noise(prefix in "[ a-z,;()\\[\\]]{0,8}", suffix in "([ ,;)\\]][ a-z]{0,5}|[.] [a-z]{0,5}|[.])?") {
        let cases = [
            (DetectorKind::Email, "jane.doe@example.com"),
            (DetectorKind::Ipv4, "192.168.1.10"),
            (DetectorKind::Ipv6, "2001:db8::1"),
            (DetectorKind::CreditCard, "4111 1111 1111 1111"),
            (DetectorKind::Iban, "DE89370400440532013000"),
            (DetectorKind::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE"),
            (DetectorKind::GcpApiKey, "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
        ];
        for (kind, value) in cases {
            let text = format!("{prefix} {value}{suffix}");
            let got = hit_texts(&det(kind), &text);
            prop_assert!(got.contains(&value), "{kind}: {text:?} -> {got:?}");
        }
    }
}

/// A Python-SDK-like error event, as the list of its strings (about 4 KB).
fn sample_event_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "c3a2d5e0f6b14c8e9a7b2d1e0f3c4b5a",
        "2024-01-15T12:34:56.789012Z",
        "python",
        "error",
        "processor-7f9c8d6b5-x2x9z",
        "socorro@2024.01.15",
        "production",
        "socorro.processor.processor_app",
        "KeyError",
        "'crash_id'",
        "builtins",
        "/app/socorro/processor/processor_pipeline.py",
        "socorro/processor/processor_pipeline.py",
        "process_crash",
        "socorro.processor.processor_pipeline",
        "        processed_crash = self.pipeline.process_crash(raw_crash, dumps, processed_crash)",
        "    def process_crash(self, ruleset_name, raw_crash, dumps, processed_crash, tmpdir):",
        "        \"\"\"Process a crash with the given ruleset.\"\"\"",
        "        crash_id = raw_crash[\"uuid\"]",
        "        start_time = time.time()",
        "        for rule in self.rulesets[ruleset_name]:",
        "/usr/local/lib/python3.11/site-packages/fillmore/scrubber.py",
        "fillmore.scrubber",
        "__call__",
        "            return self.scrub(event, hint)",
        "<socorro.processor.rules.mozilla.OutOfMemoryBinaryRule object at 0x7f2c1a3b4d90>",
        "{'ProductName': 'Firefox', 'Version': '121.0', 'BuildID': '20231211174248'}",
        "'/tmp/tmpa1b2c3d4/upload_file_minidump'",
        "8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
        "http",
        "Starting new HTTPS connection (1): crash-stats.mozilla.org:443",
        "urllib3.connectionpool",
        "https://crash-stats.mozilla.org:443 \"GET /api/ProcessedCrash/?crash_id=8f9e2a3b HTTP/1.1\" 200 5123",
        "query",
        "SELECT id, crash_id, date_processed FROM raw_crashes WHERE crash_id = %s",
        "https://crash-stats.mozilla.org/report/index/8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
        "GET",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "crash-stats.mozilla.org",
        "gzip, deflate, br",
        "en-US,en;q=0.5",
        "Linux",
        "5.15.0-1051-aws",
        "CPython",
        "3.11.7",
        "3.11.7 (main, Dec 19 2023, 20:33:16) [GCC 12.2.0]",
        "sentry.python",
        "1.39.1",
        "pypi:sentry-sdk",
        "sentry.integrations.logging",
        "sentry.integrations.stdlib",
        "sentry.integrations.excepthook",
        "sentry.integrations.dedupe",
        "sentry.integrations.atexit",
        "sentry.integrations.modules",
        "sentry.integrations.argv",
        "sentry.integrations.threading",
        "ruleset_name",
        "'default'",
        "processing crash 8f9e2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b with 23 rules",
        "MainThread",
        "1402339871232",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    while v.iter().map(String::len).sum::<usize>() < 4096 {
        v.push(
            "        value = self.config.get(\"processor.rules\", default=None)  # line 412".into(),
        );
    }
    v
}

/// Best-of-`trials` seconds for one call of `f`: the machine this runs on is shared, so
/// the fastest trial is the least disturbed one.
fn best_secs(trials: usize, mut f: impl FnMut()) -> f64 {
    (0..trials)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Throughput of each detector alone and of `find_all`, on the strings of a 4 KB event
/// (no hits: the common case) and on one long string. Prints MB/s, asserts nothing.
/// Run with `cargo test --release -- --ignored --nocapture throughput`.
#[test]
#[ignore = "benchmark; prints MB/s, asserts nothing about time"]
fn throughput() {
    use std::hint::black_box;
    let strings = sample_event_strings();
    let bytes: usize = strings.iter().map(String::len).sum();
    let (rounds, trials) = (2_000, 15);
    let detectors = builtin_detectors();
    println!(
        "event: {} strings, {bytes} bytes; best of {trials} x {rounds} events",
        strings.len()
    );
    let mb_s = |secs: f64, total: usize| total as f64 / secs / 1e6;
    for (i, d) in detectors.iter().enumerate() {
        let secs = best_secs(trials, || {
            for _ in 0..rounds {
                for s in &strings {
                    black_box(d.find(black_box(s)));
                }
            }
        });
        let gated = best_secs(trials, || {
            for _ in 0..rounds {
                for s in &strings {
                    black_box(find_all(black_box(&detectors[i..=i]), black_box(s)));
                }
            }
        });
        println!(
            "{:>16}: find {:>6.0} MB/s   find_all([it]) {:>6.0} MB/s",
            d.name(),
            mb_s(secs, bytes * rounds),
            mb_s(gated, bytes * rounds)
        );
    }
    let secs = best_secs(trials, || {
        for _ in 0..rounds {
            for s in &strings {
                black_box(find_all(black_box(&detectors), black_box(s)));
            }
        }
    });
    println!(
        "find_all(all 14): {:.0} MB/s = {:.0} events/s of 4 KB",
        mb_s(secs, bytes * rounds),
        rounds as f64 / secs
    );
    let stats = best_secs(trials, || {
        for _ in 0..rounds {
            for s in &strings {
                black_box(Stats::of(black_box(s.as_bytes())));
            }
        }
    });
    println!(
        "  of which the byte-class pass: {:.0} MB/s",
        mb_s(stats, bytes * rounds)
    );
    let blob: String = strings.join(" ").repeat(256);
    let secs = best_secs(trials, || {
        black_box(find_all(black_box(&detectors), black_box(&blob)));
    });
    println!(
        "find_all(all 14) on one {} KB string: {:.0} MB/s",
        blob.len() >> 10,
        mb_s(secs, blob.len())
    );
    assert!(find_all(&detectors, &blob).is_empty());
}
