//! Policies parse from TOML, extend presets, and every mistake is reported at its line and
//! column.

use event_filter::{Policy, PolicyError};

fn error(source: &str) -> PolicyError {
    Policy::from_toml(source, "test.toml").expect_err("the policy must be refused")
}

#[test]
fn every_preset_parses() {
    for name in event_filter::presets::NAMES {
        let policy = Policy::preset(name).unwrap_or_else(|e| panic!("preset {name}: {e}"));
        assert!(!policy.rules.is_empty(), "preset {name} has rules");
    }
    assert!(Policy::preset("nope").is_err());
}

#[test]
fn a_policy_extends_a_preset() {
    let base = Policy::preset("python-sdk").expect("preset").rules.len();
    let policy = Policy::from_toml(
        "extends = \"python-sdk\"\n[[rule]]\npath = \"extra.card\"\naction = \"mask_keep\"\nkeep = 4\nfrom_end = true\n",
        "test.toml",
    )
    .expect("valid");
    assert_eq!(policy.rules.len(), base + 1);
    assert_eq!(&*policy.rules[base].name, "rule 1");
}

#[test]
fn unknown_action_points_at_its_value() {
    let err = error("[[rule]]\npath = \"extra.x\"\naction = \"obliterate\"\n");
    assert_eq!((err.line, err.column), (3, 10), "{err}");
    assert!(
        err.message.contains("unknown action \"obliterate\""),
        "{err}"
    );
    assert!(err.to_string().starts_with("test.toml:3:10: "), "{err}");
}

#[test]
fn bad_path_points_inside_the_path() {
    let err = error("[[rule]]\naction = \"mask\"\npath = \"extra..x\"\n");
    assert_eq!(err.line, 3, "{err}");
    assert!(
        err.column > 8,
        "the column is inside the path string: {err}"
    );
    assert!(err.message.starts_with("invalid path"), "{err}");
}

#[test]
fn unknown_keys_and_detectors_and_presets_are_located() {
    let err = error("[[rule]]\npath = \"a\"\naction = \"mask\"\nkeap = 4\n");
    assert_eq!(err.line, 4, "a typo in a key name: {err}");
    let err = error("[[rule]]\ndetectors = [\"email\", \"emial\"]\naction = \"mask\"\n");
    assert_eq!((err.line, err.column), (2, 23), "{err}");
    assert!(err.message.contains("unknown detector \"emial\""), "{err}");
    let err = error("extends = \"lenient\"\n");
    assert_eq!(err.line, 1, "{err}");
    assert!(
        err.message.contains("python-sdk"),
        "lists the known presets: {err}"
    );
}

#[test]
fn rules_need_somewhere_to_act_and_complete_settings() {
    let err = error("[[rule]]\naction = \"mask\"\n");
    assert!(
        err.message.contains("needs a path, detectors, or both"),
        "{err}"
    );
    let err = error("[[rule]]\npath = \"a\"\naction = \"hash\"\n");
    assert!(err.message.contains("key"), "{err}");
    let err = error("[[rule]]\npath = \"a\"\naction = \"replace\"\npattern = \"(\"\n");
    assert_eq!(err.line, 4, "{err}");
    let err = error("[[detector]]\nname = \"email\"\npattern = \"x\"\n");
    assert!(err.message.contains("built-in"), "{err}");
}

#[test]
fn toml_syntax_errors_are_located_too() {
    let err = error("[[rule]]\npath = \"a\"\naction = mask\n");
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn custom_detectors_and_audit_settings() {
    let policy = Policy::from_toml(
        "[[detector]]\nname = \"order_id\"\npattern = \"ORD-[0-9]{8}\"\n\n[[rule]]\ndetectors = [\"order_id\"]\naction = \"mask\"\n\n[audit]\ndetectors = [\"all\", \"order_id\"]\nallow = [\"exception.**\", \"level\"]\n",
        "test.toml",
    )
    .expect("valid");
    assert_eq!(policy.rules[0].detectors[0].name(), "order_id");
    assert_eq!(
        policy.audit.detectors.len(),
        event_filter::detect::builtin_detectors().len() + 1
    );
    assert_eq!(policy.audit.allow.as_ref().map(Vec::len), Some(2));
}

/// `strict` extends `python-sdk`, which masks denylisted keys only where sentry-sdk looks;
/// strict masks them wherever they are, values no detector would recognise included.
#[test]
fn strict_masks_denylisted_keys_at_any_depth() {
    let scrubber = event_filter::Scrubber::new(Policy::preset("strict").expect("strict"));
    let mut event = serde_json::json!({
        "tags": { "Session": "plain-words" },
        "contexts": { "app": { "nested": { "PASSWORD": "plain-words" } } },
        "extra": { "deep": [{ "api_key": "plain-words" }] },
        "request": { "env": { "REMOTE_ADDR": "plain-words" } },
        "message": "plain-words",
    });
    scrubber.scrub(&mut event);
    for path in [
        "/tags/Session",
        "/contexts/app/nested/PASSWORD",
        "/extra/deep/0/api_key",
        "/request/env/REMOTE_ADDR",
    ] {
        assert_eq!(event.pointer(path), Some(&"[Filtered]".into()), "{path}");
    }
    assert_eq!(event["message"], "plain-words");

    // python-sdk itself leaves them, as the SDK does (tests/presets_vs_peers.rs).
    let python_sdk = event_filter::Scrubber::new(Policy::preset("python-sdk").expect("preset"));
    let mut event = serde_json::json!({ "tags": { "Session": "plain-words" } });
    python_sdk.scrub(&mut event);
    assert_eq!(event["tags"]["Session"], "plain-words");
}

#[test]
fn secret_families_are_detectors_by_name_and_as_a_group() {
    let policy = Policy::from_toml(
        "[audit]\ndetectors = [\"stripe_secret_key\", \"secrets\"]\n",
        "test",
    )
    .expect("policy");
    let names: Vec<&str> = policy.audit.detectors.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["stripe_secret_key", "secrets"]);
    // `secrets` is every family in one detector, whose hits carry their family's name.
    let secrets = &policy.audit.detectors[1];
    let hits = secrets.find("glpat-Zq3Xw9Lm2Rt5Vy7Pn4Hs");
    assert_eq!(hits.len(), 1);
    assert_eq!(secrets.name_of(hits[0]), "gitlab_pat");
    assert!(secrets.find("jane.doe@example.com").is_empty());
    let err = Policy::from_toml(
        "[[detector]]\nname = \"gitlab_pat\"\npattern = \"x\"\n",
        "test",
    )
    .unwrap_err();
    assert!(err.to_string().contains("built-in detector"), "{err}");
}

/// Relay's identifier rules are detectors a policy names one by one (Relay's spellings
/// `usssn` and `userpath` too); `all`, and so `strict`, leaves them out: an event's own ids are
/// UUIDs.
#[test]
fn relays_identifiers_are_detectors_by_name_and_not_in_all() {
    let policy = Policy::from_toml(
        "[[rule]]\ndetectors = [\"mac\", \"uuid\", \"imei\", \"usssn\", \"userpath\"]\naction = \"mask\"\n",
        "test",
    )
    .expect("policy");
    let names: Vec<&str> = policy.rules[0].detectors.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["mac", "uuid", "imei", "us_ssn", "user_path"]);
    let event = serde_json::json!({
        "event_id": "9b2f0c3e1a4d4e8b9c7f2d6e5a1b3c4f",
        "extra": {
            "mac": "wlan0 00:1A:2B:3C:4D:5E",
            "device": "F47AC10B-58CC-4372-A567-0E02B2C3D479",
            "imei": "356938035643809",
            "ssn": "ssn 078-05-1120",
            "path": "/home/jdoe/app/main.py",
        },
    });
    let mut scrubbed = event.clone();
    event_filter::Scrubber::new(policy).scrub(&mut scrubbed);
    assert_eq!(
        scrubbed["extra"],
        serde_json::json!({
            "mac": "wlan0 [Filtered]",
            "device": "[Filtered]",
            "imei": "[Filtered]",
            "ssn": "ssn [Filtered]",
            "path": "/home/[Filtered]/app/main.py",
        })
    );

    let all: Vec<String> = Policy::from_toml("[audit]\ndetectors = [\"all\"]\n", "test")
        .expect("policy")
        .audit
        .detectors
        .iter()
        .map(|d| d.name().to_owned())
        .collect();
    for name in ["mac", "uuid", "imei", "us_ssn", "user_path"] {
        assert!(!all.iter().any(|n| n == name), "{name} in all");
    }
    let mut strict = event.clone();
    event_filter::Scrubber::new(Policy::preset("strict").expect("strict")).scrub(&mut strict);
    assert_eq!(strict["event_id"], event["event_id"]);
    assert_eq!(strict["extra"]["device"], event["extra"]["device"]);
}
