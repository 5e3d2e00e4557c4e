//! The rule files load, compile and behave like gitleaks where events differ from files.

use super::*;

#[test]
fn rule_files_load() {
    let rules = SecretRules::load().expect("rule files load");
    assert!(rules.len() > 200, "only {} rules", rules.len());
}

/// Every regex in the vendored gitleaks file compiles once rewritten from Go's dialect.
/// Lists all failures at once.
#[test]
fn gitleaks_patterns_compile_in_rust() {
    let config: rules::RawConfig = toml::from_str(GITLEAKS).unwrap();
    let mut failures = Vec::new();
    let mut patterns: Vec<(String, String)> = Vec::new();
    for rule in &config.rules {
        if let Some(regex) = &rule.regex {
            patterns.push((rule.id.clone(), regex.clone()));
        }
        for allow in &rule.allowlists {
            for regex in &allow.regexes {
                patterns.push((format!("{} allowlist", rule.id), regex.clone()));
            }
        }
    }
    for regex in config.allowlist.iter().flat_map(|a| &a.regexes) {
        patterns.push(("global allowlist".into(), regex.clone()));
    }
    for (id, pattern) in patterns {
        let pattern = rules::go_to_rust(&pattern);
        if let Err(e) = rules::compile_regex(&pattern) {
            failures.push(format!("{id}: {pattern}\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn go_dialect_rewrites_only_what_rust_reads_differently() {
    use rules::go_to_rust;
    assert_eq!(go_to_rust(r"\w{3}"), "[0-9A-Za-z_]{3}");
    assert_eq!(go_to_rust(r"[\w.-]{0,50}?"), "[0-9A-Za-z_.-]{0,50}?");
    assert_eq!(go_to_rust(r"\d+\s"), r"[0-9]+[\t\n\f\r ]");
    assert_eq!(go_to_rust(r"\b(x)\b"), r"(?-u:\b)(x)(?-u:\b)");
    assert_eq!(go_to_rust(r"\${(?:[A-Z_]+)}$"), r"\$\{(?:[A-Z_]+)\}$");
    assert_eq!(go_to_rust(r"{{[^}]+}}"), r"\{\{[^}]+\}\}");
    assert_eq!(go_to_rust(r"[^]]+]"), r"[^\]]+]");
    assert_eq!(go_to_rust(r"a{2,}b{1,3}[\x60'"), r"a{2,}b{1,3}[\x60'");
    // Semantics: Go's ASCII \w does not take a non-ASCII letter, nor does the rewrite.
    let word = rules::compile_regex(&go_to_rust(r"^\w+$")).unwrap();
    assert!(word.is_match("abc_123"));
    assert!(!word.is_match("abcé"));
    let braces = rules::compile_regex(&go_to_rust(r"^\${(?:[A-Z_]+|[a-z_]+)}$")).unwrap();
    assert!(braces.is_match("${PASSWORD}"));
    assert!(!braces.is_match("$PASSWORD"));
}

fn family_hits<'a>(family: &str, text: &'a str) -> Vec<&'a str> {
    let d = crate::detect::Detector::secret(family).expect("family");
    d.find(text).iter().map(|h| &text[h.range()]).collect()
}

#[test]
fn the_hit_is_the_secret_group_not_its_label() {
    let token = "b_Zk3q9Xw2Lm8Rt5Vy7Pn4Hs6Jd1Fg0Ca2Eb9Qx3Wz7Uo5";
    let text = format!("BEAMER_TOKEN={token}");
    assert_eq!(family_hits("beamer_api_token", &text), [token]);
}

#[test]
fn a_rule_runs_only_when_one_of_its_keywords_is_there() {
    // airtable-personnal-access-token's regex has no "airtable" in it; its keyword does.
    let token =
        "patAbCdEfGhIjKlMn.0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    assert!(family_hits("airtable_personnal_access_token", token).is_empty());
    let labelled = format!("airtable: {token}");
    assert_eq!(
        family_hits("airtable_personnal_access_token", &labelled),
        [token]
    );
}

#[test]
fn low_entropy_secrets_and_allowlisted_ones_are_dropped() {
    // stripe-secret-key wants more than 2 bits per character.
    assert!(family_hits("stripe_secret_key", "sk_live_aaaaaaaaaaaaaaaaaaaaaaaa").is_empty());
    assert_eq!(
        family_hits("stripe_secret_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc").len(),
        1
    );
    // gitleaks' aws-access-token allowlist: keys ending in EXAMPLE are documentation.
    assert!(family_hits("aws_access_token", "AKIAIOSFODNN7EXAMPLE").is_empty());
    assert_eq!(
        family_hits("aws_access_token", "AKIAZ4WQ7NHJ5TKB3RYX").len(),
        1
    );
    // The global stopword list.
    assert!(
        family_hits(
            "generic_api_key",
            "api_key = abcdefghijklmnopqrstuvwxyz0123"
        )
        .is_empty()
    );
    assert_eq!(
        family_hits("generic_api_key", "api_key = q8Zr2Lk9Xw4Tn7Vb1Mc5").len(),
        1
    );
}

#[test]
fn path_conditions_never_hold_for_an_event_string() {
    let raw = rules::RawAllowlist {
        condition: Some("AND".into()),
        paths: vec![r"\.bb$".into()],
        regexes: vec!["LICENSE".into()],
        ..Default::default()
    };
    let and = rules::compile_allowlist(&raw, "test", "test").unwrap();
    assert!(!and.allows("secret", "LICENSE = x", "LICENSE = x"));
    let or = rules::compile_allowlist(
        &rules::RawAllowlist {
            condition: None,
            ..raw
        },
        "test",
        "test",
    )
    .unwrap();
    assert!(or.allows("LICENSE", "LICENSE", "LICENSE"));
    assert!(!or.allows("secret", "secret", "secret"));
}

#[test]
fn a_catch_all_gives_way_to_the_specific_family_on_the_same_secret() {
    use crate::detect::{builtin_detectors, find_all};
    let text = "stripe_api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'";
    assert_eq!(family_hits("secret_assignment", text).len(), 1);
    assert_eq!(family_hits("generic_api_key", text).len(), 1);
    let detectors = builtin_detectors();
    let names: Vec<&str> = find_all(&detectors, text)
        .iter()
        .map(|&(i, hit)| detectors[i].name_of(hit))
        .collect();
    assert_eq!(names, ["stripe_secret_key"]);
}

#[test]
fn entropy_is_shannons_in_bits_per_character() {
    assert_eq!(shannon_entropy(""), 0.0);
    assert_eq!(shannon_entropy("aaaa"), 0.0);
    assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-12);
    assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-12);
}

/// Where the time goes: each rule's cost over the strings of the benchmark's event, most
/// expensive first. `cargo test --release -p event-filter --lib -- --ignored rule_cost
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn rule_cost() {
    use std::time::Instant;
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../testdata/events/python-pii-unscrubbed.json"
    ))
    .unwrap();
    let mut strings = Vec::new();
    crate::path::walk(&event, &mut |_, v| {
        if let serde_json::Value::String(s) = v {
            strings.push(s.clone());
        }
    });
    let rules = rules();
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        for s in &strings {
            std::hint::black_box(rules.admitted(s, &Stats::of(s.as_bytes())));
        }
    }
    let bytes: usize = strings.iter().map(String::len).sum();
    let short = strings.iter().filter(|s| s.len() < rules.shortest).count();
    let keyword_hits = strings
        .iter()
        .filter(|s| !rules.keyword_rules_in(s).is_empty())
        .count();
    println!(
        "{} strings ({bytes} bytes, {short} shorter than {}), {keyword_hits} with a keyword; keyword pass {:?} per event",
        strings.len(),
        rules.shortest,
        start.elapsed() / rounds
    );
    let secrets = crate::detect::Detector::secrets();
    let start = Instant::now();
    for _ in 0..rounds {
        for s in &strings {
            std::hint::black_box(secrets.find(s));
        }
    }
    println!(
        "every secret family: {:?} per event",
        start.elapsed() / rounds
    );
    let admitted: Vec<RuleSet> = strings
        .iter()
        .map(|s| rules.admitted(s, &Stats::of(s.as_bytes())))
        .collect();
    let mut costs = Vec::new();
    for index in 0..rules.len() {
        let texts: Vec<&String> = strings
            .iter()
            .zip(&admitted)
            .filter(|(_, set)| set.iter().any(|i| i == index))
            .map(|(s, _)| s)
            .collect();
        let start = Instant::now();
        for _ in 0..rounds {
            for s in &texts {
                let mut hits = Vec::new();
                let mut sink = Sink {
                    hits: &mut hits,
                    first_only: false,
                };
                rules.scan(index, s, &mut sink);
            }
        }
        costs.push((start.elapsed() / rounds, rules.family(index), texts.len()));
    }
    costs.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (cost, family, runs) in costs.iter().take(25) {
        println!("{cost:>12?} {family} ({runs} strings)");
    }
}

/// The keyword walk (lanes, their hand-over at segment ends) admits exactly the rules one
/// of whose keywords occurs in the text, ASCII case-insensitively: on every corpus line and
/// with every keyword at every offset of texts long enough for lanes.
#[test]
fn keyword_walk_admits_the_rules_whose_keywords_occur() {
    let rules = rules();
    let check = |text: &str| {
        let lower = text.to_ascii_lowercase();
        let admitted = rules.keyword_rules_in(text);
        for (index, rule) in rules.rules.iter().enumerate() {
            let expected = rule.keywords.iter().any(|k| lower.contains(k.as_str()));
            let got = admitted.iter().any(|i| i == index);
            assert_eq!(got, expected, "rule {} on {text:?}", rule.source);
        }
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/detectors/secrets");
    for entry in std::fs::read_dir(dir).unwrap() {
        if let Ok(text) = std::fs::read_to_string(entry.unwrap().path()) {
            text.lines().for_each(check);
        }
    }
    let mut keywords: Vec<&str> = rules
        .rules
        .iter()
        .flat_map(|r| r.keywords.iter().map(String::as_str))
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    let filler = "the quick brown fox jumps over the lazy dog 0123456789 ".repeat(3);
    for keyword in keywords {
        let upper = keyword.to_ascii_uppercase();
        for len in [45, 130] {
            for at in 0..len {
                let mut text: String = filler.chars().take(at).collect();
                text.push_str(if at % 2 == 0 { keyword } else { &upper });
                text.extend(filler.chars().take(len - at));
                check(&text);
            }
        }
    }
}

#[test]
#[ignore = "a measurement, not a check"]
fn keyword_engines() {
    use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
    use std::time::Instant;
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../testdata/events/python-pii-unscrubbed.json"
    ))
    .unwrap();
    let mut strings = Vec::new();
    crate::path::walk(&event, &mut |_, v| {
        if let serde_json::Value::String(s) = v
            && s.len() >= 7
        {
            strings.push(s.clone());
        }
    });
    let mut words: Vec<String> = SecretRules::load()
        .unwrap()
        .rules
        .iter()
        .flat_map(|r| r.keywords.clone())
        .collect();
    words.sort();
    words.dedup();
    for kind in [
        AhoCorasickKind::DFA,
        AhoCorasickKind::ContiguousNFA,
        AhoCorasickKind::NoncontiguousNFA,
    ] {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(&words)
            .unwrap();
        for _ in 0..2 {
            let start = Instant::now();
            for _ in 0..2000 {
                for s in &strings {
                    std::hint::black_box(ac.find_overlapping_iter(s.as_str()).count());
                }
            }
            let overlapping = start.elapsed() / 2000;
            let start = Instant::now();
            for _ in 0..2000 {
                for s in &strings {
                    std::hint::black_box(ac.is_match(s.as_str()));
                }
            }
            println!(
                "{kind:?}: {} words, {} bytes; overlapping {overlapping:?}, is_match {:?} per event",
                words.len(),
                ac.memory_usage(),
                start.elapsed() / 2000
            );
        }
    }
}
