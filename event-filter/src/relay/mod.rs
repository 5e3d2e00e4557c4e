//! Relay's PII configs (`{"rules": {...}, "applications": {...}}`, the format a project's
//! `config.piiConfig` holds and Relay applies before Sentry stores an event), applied with Relay's
//! own semantics.
//!
//! The parts:
//! - `selector`: Relay's selector language (`$frame.vars.password && !$string || extra.'a.b'`)
//!   and how a selector matches the path of a value: from the end, keys case-insensitively,
//!   value types, and each field's pii attribute (`true`, `maybe`, `false`);
//! - `schema`: which value types and pii attribute each place in an event has, the latter
//!   measured from Relay itself (`rules/relay-pii-fields.tsv`);
//! - `rules`: the rule types, Relay's built-in rules and their redactions;
//! - `config`: a config compiled as Relay compiles it (selectors in Relay's order, rule
//!   references resolved through `alias` and `multiple`, each rule once);
//! - `strip`: the walk that applies it, as Relay's PII processor does.
//!
//! [`import`] reads a config (or a project config holding one) into a [`Policy`] whose
//! [`Policy::relay`] holds the compiled config; the scrubber applies it after the policy's own
//! rules.
//!
//! Legacy data-scrubbing settings are accepted too (`legacy`), converted first exactly as
//! Relay's `convert_datascrubbing_config` does ([`convert_datascrubbing_config`]) and then
//! compiled: a document of settings (`{"scrubData": true, "sensitiveFields": [...], ...}` with
//! no `rules` or `applications`), a project config holding them (`datascrubbingSettings`, also
//! under `config`, next to an optional `piiConfig`: Relay applies the PII config, then the
//! converted settings, and so does the policy), or Sentry's project options
//! (`sentry:scrub_data`, `sentry:scrub_defaults`, `sentry:scrub_ip_address`,
//! `sentry:sensitive_fields`, `sentry:safe_fields`; unset ones take Sentry's defaults, which
//! scrub data and defaults). A config is refused when Relay's own validation
//! (`validate_pii_config`, what Sentry runs when a config is saved) refuses it: a field missing
//! or of the wrong type, an unknown rule type, a selector that does not parse, a regex of an
//! applied rule that does not compile. Notes list what Relay accepts but ignores (references to
//! rules that do not exist, hash keys, snake_case spellings of `replaceGroups` and `hideInner`),
//! so a config that does less than its author meant says so. `tests/relay_vs_peer.rs` compares
//! the results with Relay's own engine (PyPI `sentry-relay`) on real SDK events and configs
//! that use every feature, and `tests/relay_validate.rs` which configs are refused.

mod config;
mod legacy;
#[cfg(test)]
mod peer;
mod rules;
mod schema;
mod selector;
mod strip;

use std::sync::Arc;

use serde_json::Value;

pub use config::{ConfigError, MAX_SELECTOR_BYTES, MAX_SELECTOR_NODES, PiiEngine};
pub use legacy::{LegacyError, convert_datascrubbing_config};
pub use selector::SelectorError;

use crate::policy::{Locator, Policy, PolicyError};

/// An imported Relay PII config.
#[derive(Debug, Clone)]
pub struct RelayImport {
    pub policy: Policy,
    /// What Relay ignores in the config, one sentence each.
    pub notes: Vec<String>,
}

/// Reads a Relay PII config or legacy data-scrubbing settings (JSON text, see the module doc);
/// `origin` names it in errors.
pub fn import(source: &str, origin: &str) -> Result<RelayImport, PolicyError> {
    legacy::import_with_settings(source, origin, import_pii_config)
}

/// Reads a Relay PII config (JSON text); `origin` names it in errors.
fn import_pii_config(source: &str, origin: &str) -> Result<RelayImport, PolicyError> {
    let document: Value = serde_json::from_str(source).map_err(|e| PolicyError {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message: format!("invalid JSON: {e}"),
    })?;
    // A whole project config (`{"config": {"piiConfig": {...}}}`) is accepted too.
    let nested = document
        .pointer("/config/piiConfig")
        .or_else(|| document.get("piiConfig"));
    let config = nested.unwrap_or(&document);
    let at = Locator { origin, source };
    let compiled = match nested {
        Some(config) => PiiEngine::compile(config),
        // From the text, which Relay's validation reads: a field given twice is refused too,
        // and errors have their line and column.
        None => PiiEngine::compile_str(source),
    };
    let engine = compiled.map_err(|error| {
        let near = match &error {
            ConfigError::Schema { line, column, .. } if *line > 0 => {
                return PolicyError {
                    origin: origin.to_string(),
                    line: *line,
                    column: *column,
                    message: error.to_string(),
                };
            }
            ConfigError::Schema { .. } => "piiConfig",
            ConfigError::Selector { selector, .. } | ConfigError::Application { selector, .. } => {
                selector.as_str()
            }
            ConfigError::Rule { rule, .. } | ConfigError::Pattern { rule, .. } => rule.as_str(),
            ConfigError::SelectorTooLarge { .. } => "applications",
        };
        let offset = key_offset(source, near);
        at.error(offset..offset, error.to_string())
    })?;
    let notes = notes(config);
    Ok(RelayImport {
        policy: Policy {
            relay: vec![Arc::new(engine)],
            ..Policy::default()
        },
        notes,
    })
}

/// Where `key` is written as a key (`"key":`) in `source`, else where it is written at all,
/// else 0.
fn key_offset(source: &str, key: &str) -> usize {
    let Ok(quoted) = serde_json::to_string(key) else {
        return 0;
    };
    let mut first = None;
    for (offset, _) in source.match_indices(&quoted) {
        first.get_or_insert(offset);
        if source[offset + quoted.len()..]
            .trim_start()
            .starts_with(':')
        {
            return offset;
        }
    }
    first.unwrap_or(0)
}

/// Relay's rule types in its order, which a numeric `type` indexes.
const RULE_TYPES: [&str; 20] = [
    "anything",
    "pattern",
    "imei",
    "mac",
    "uuid",
    "email",
    "ip",
    "creditcard",
    "iban",
    "userpath",
    "pemkey",
    "url_auth",
    "us_ssn",
    "bearer",
    "password",
    "cookies",
    "redact_pair",
    "multiple",
    "alias",
    "unknown",
];

/// What Relay ignores in `config`.
fn notes(config: &Value) -> Vec<String> {
    let mut notes = Vec::new();
    let rules = config.get("rules").and_then(Value::as_object);
    let defined = |id: &str| {
        rules.is_some_and(|r| r.contains_key(id))
            || id
                .strip_prefix('@')
                .is_some_and(|name| rules::builtin(name).is_some())
    };
    let mut referenced: Vec<&str> = Vec::new();
    if let Some(applications) = config.get("applications").and_then(Value::as_object) {
        for ids in applications.values() {
            referenced.extend(
                ids.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
        }
    }
    for (id, spec) in rules.into_iter().flatten() {
        referenced.extend(spec.get("rule").and_then(Value::as_str));
        referenced.extend(
            spec.get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
        if let Some(index) = spec.get("type").and_then(Value::as_u64)
            && let Some(kind) = usize::try_from(index).ok().and_then(|i| RULE_TYPES.get(i))
        {
            notes.push(format!(
                "rule {id:?}: \"type\": {index} is read as {kind:?} (Relay reads a number as the \
                 position of a type in its list)"
            ));
        }
        for (ignored, read) in [
            ("replace_groups", "replaceGroups"),
            ("hide_inner", "hideInner"),
        ] {
            if spec.get(ignored).is_some() && spec.get(read).is_none() {
                notes.push(format!(
                    "rule {id:?}: {ignored:?} is ignored (Relay reads {read:?})"
                ));
            }
        }
        let redaction = spec.get("redaction");
        if redaction.and_then(|r| r.get("key")).is_some() {
            notes.push(format!(
                "rule {id:?}: Relay hashes without a key (HMAC-SHA1, empty key); \"key\" is ignored"
            ));
        }
        if redaction.is_some_and(|r| r.get("mask_char").is_some() || r.get("range").is_some()) {
            notes.push(format!(
                "rule {id:?}: Relay masks every character with '*'; \"mask_char\" and \"range\" are ignored"
            ));
        }
    }
    referenced.sort_unstable();
    referenced.dedup();
    for id in referenced {
        if !defined(id) {
            notes.push(format!(
                "rule {id:?} is referenced but not defined, so it does nothing (Relay ignores it too)"
            ));
        }
    }
    if config.pointer("/vars/hashKey").is_some() {
        notes.push(
            "vars.hashKey is ignored: Relay hashes without a key (HMAC-SHA1, empty key)".into(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scrub::Scrubber;

    fn scrub(config: &str, mut event: Value) -> Value {
        let import = import(config, "relay.json").unwrap();
        Scrubber::new(import.policy).scrub(&mut event);
        event
    }

    #[test]
    fn the_documented_basic_example_replaces_ips_in_every_string() {
        let out = scrub(
            r#"{"applications": {"$string": ["@ip:replace"]}}"#,
            json!({"message": "from 10.1.2.3 and ::1", "extra": {"x": "10.0.0.1"}}),
        );
        assert_eq!(out["message"], "from [ip] and [ip]");
        assert_eq!(out["extra"]["x"], "[ip]");
    }

    #[test]
    fn hashes_are_relays_unkeyed_hmac_sha1() {
        // Relay's `@email:hash` of "x@y.com", as sentry-relay 0.10.1 writes it.
        let out = scrub(
            r#"{"applications": {"$string": ["@email:hash"]}, "vars": {"hashKey": "ignored"}}"#,
            json!({"extra": {"a": "x@y.com"}}),
        );
        assert_eq!(
            out["extra"]["a"],
            "64F9484BC64F32516BCECF5A9AD831E0DBA1474C"
        );
    }

    #[test]
    fn negation_conjunction_and_value_types_select_as_relay_does() {
        let config = r#"{"applications": {"$string && !extra.keep": ["@anything:remove"],
                                          "$number && extra.*": ["@anything:remove"]}}"#;
        let out = scrub(
            config,
            json!({"extra": {"keep": "kept", "drop": "gone", "n": 5, "b": true},
                   "event_id": "0123456789abcdef0123456789abcdef"}),
        );
        assert_eq!(
            out,
            json!({"extra": {"keep": "kept", "drop": null, "n": null, "b": true},
                   "event_id": "0123456789abcdef0123456789abcdef"})
        );
    }

    #[test]
    fn replace_groups_replace_only_those_groups() {
        let config = r#"{"rules": {"r": {"type": "pattern", "pattern": "a(x)(b)",
                                        "replaceGroups": [2], "redaction": {"method": "mask"}}},
                         "applications": {"$string": ["r"]}}"#;
        let out = scrub(config, json!({"extra": {"a": "axb axb"}}));
        assert_eq!(out["extra"]["a"], "ax* ax*");
    }

    /// Groups `[0, 1]` of `a(x)b` overlap: group 1 lies inside group 0. Relay accepts the
    /// config and then panics applying it (sentry-relay 0.10.1: "byte range starts at 3 but
    /// ends at 1"); event-filter replaces group 0 and skips group 1, which overlaps it.
    #[test]
    fn overlapping_replace_groups_replace_the_first_group_where_relay_panics() {
        let config = json!({"rules": {"r": {"type": "pattern", "pattern": "a(x)b",
                                            "replaceGroups": [0, 1],
                                            "redaction": {"method": "replace", "text": "[R]"}}},
                            "applications": {"$string": ["r"]}});
        let event = json!({"extra": {"a": "one axb two"}});
        let out = scrub(&config.to_string(), event.clone());
        assert_eq!(out["extra"]["a"], "one [R] two");

        let Some(relay) = peer::run(
            "Relay on overlapping replaceGroups",
            r#"
import json, sys
import sentry_relay
request = json.load(sys.stdin)
sentry_relay.validate_pii_config(json.dumps(request["config"]))
try:
    print(json.dumps({"stripped": sentry_relay.pii_strip_event(request["config"], request["event"])}))
except sentry_relay.Panic as e:
    print(json.dumps({"panic": str(e).splitlines()[0]}))
"#,
            &json!({"config": config, "event": event}).to_string(),
        ) else {
            return;
        };
        let stderr = String::from_utf8_lossy(&relay.stderr);
        assert!(relay.status.success(), "{}: {stderr}", relay.status);
        let reply: Value = serde_json::from_slice(&relay.stdout).expect("the driver's JSON");
        let panic = reply["panic"].as_str().unwrap_or_else(|| {
            panic!("Relay no longer panics on overlapping replaceGroups: {reply}")
        });
        assert!(panic.contains("panicked"), "{panic}");
        assert!(panic.contains("byte range"), "{panic}");
    }

    #[test]
    fn password_rules_delete_by_key_and_blank_strings_that_name_one() {
        let out = scrub(
            r#"{"applications": {"$string": ["@password"], "$object": ["@password"]}}"#,
            json!({"extra": {"password": "hunter2", "my_token": "t", "note": "the password=x",
                             "secret": {"nested": 1}, "name": "n"}}),
        );
        assert_eq!(
            out["extra"],
            json!({"password": null, "my_token": null, "note": "", "secret": null, "name": "n"})
        );
    }

    #[test]
    fn earlier_redactions_are_not_rescanned() {
        // Rules run in id order: `@email:replace` writes `[email]`, which the later pattern
        // for `[` does not see (sentry-relay 0.10.1 gives the same).
        let out = scrub(
            r#"{"rules": {"r": {"type": "pattern", "pattern": "\\[",
                                "redaction": {"method": "replace", "text": "X"}}},
                "applications": {"$string": ["r", "@email"]}}"#,
            json!({"extra": {"a": "a [b] c@d.com"}}),
        );
        assert_eq!(out["extra"]["a"], "a Xb] [email]");
    }

    #[test]
    fn fields_relay_marks_maybe_need_a_specific_selector() {
        let event = json!({"request": {"url": "https://a/x?q=bob@example.com"},
                           "extra": {"e": "bob@example.com"}});
        let wide = scrub(
            r#"{"applications": {"$string": ["@email"]}}"#,
            event.clone(),
        );
        assert_eq!(wide["request"]["url"], "https://a/x?q=bob@example.com");
        assert_eq!(wide["extra"]["e"], "[email]");
        let specific = scrub(r#"{"applications": {"$http.url": ["@email"]}}"#, event);
        // Relay's email pattern takes the path and query too.
        assert_eq!(specific["request"]["url"], "https://[email]");
    }

    #[test]
    fn a_scrubbed_ip_becomes_the_users_id() {
        let out = scrub(
            r#"{"applications": {"$user.ip_address": ["@anything:hash"]}}"#,
            json!({"user": {"ip_address": "1.2.3.4"}}),
        );
        assert_eq!(out["user"]["ip_address"], Value::Null);
        assert_eq!(out["user"]["id"].as_str().map(str::len), Some(40));
    }

    #[test]
    fn query_strings_are_scrubbed_as_relays_pairs() {
        let out = scrub(
            r#"{"applications": {"$string": ["@password"]}}"#,
            json!({"request": {"query_string": "token=1&a=b%20c"}}),
        );
        assert_eq!(
            out["request"]["query_string"],
            json!([["token", null], ["a", "b c"]])
        );
        let untouched = scrub(
            r#"{"applications": {"$string": ["@ip"]}}"#,
            json!({"request": {"query_string": "a=b%20c"}}),
        );
        assert_eq!(untouched["request"]["query_string"], "a=b%20c");
    }

    #[test]
    fn a_whole_project_config_is_accepted() {
        let import = import(
            r#"{"config": {"piiConfig": {"applications": {"$string": ["@email"]}}}}"#,
            "project.json",
        )
        .unwrap();
        assert!(import.policy.relay.iter().any(|engine| !engine.is_empty()));
    }

    #[test]
    fn what_relay_ignores_is_noted() {
        let import = import(
            r#"{"rules": {"r": {"type": "pattern", "pattern": "x", "replace_groups": [1],
                                "redaction": {"method": "hash", "key": "k"}},
                          "n": {"type": 6}},
                "applications": {"$string": ["r", "n", "@nope"]}}"#,
            "relay.json",
        )
        .unwrap();
        let notes = import.notes.join("\n");
        assert!(
            notes.contains("\"@nope\" is referenced but not defined"),
            "{notes}"
        );
        assert!(notes.contains("\"key\" is ignored"), "{notes}");
        assert!(notes.contains("\"replace_groups\" is ignored"), "{notes}");
        assert!(notes.contains("is read as \"ip\""), "{notes}");
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_refused_where_it_is_applied() {
        let config = "{\"rules\": {\n  \"r\": {\"type\": \"pattern\", \"pattern\": \"(x\"}},\n \
                      \"applications\": {\"$string\": [\"r\"]}}";
        let err = import(config, "relay.json").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3), "{err}");
        assert!(
            err.message
                .contains("rule \"r\": its pattern \"(x\" does not compile: unclosed group"),
            "{err}"
        );
        // Not applied, it does nothing, and Relay accepts it.
        import(
            r#"{"rules": {"r": {"type": "pattern", "pattern": "(x"}}}"#,
            "relay.json",
        )
        .unwrap();
    }

    #[test]
    fn groups_that_name_themselves_compile_quickly() {
        let import = import(
            r#"{"rules": {"a": {"type": "multiple", "rules": ["a", "a", "b", "@ip"]},
                          "b": {"type": "alias", "rule": "a"}},
                "applications": {"$string": ["a"]}}"#,
            "relay.json",
        )
        .unwrap();
        assert_eq!(import.policy.relay[0].rule_count(), 1);
    }

    #[test]
    fn errors_point_at_the_offending_name() {
        let err = import(
            "{\n  \"rules\": {\n    \"r\": {\"type\": \"nope\"}\n  },\n  \"applications\": {\"$string\": [\"r\"]}\n}",
            "relay.json",
        )
        .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("unknown rule type \"nope\""), "{err}");
        let err = import(r#"{"applications": {"$bogus.x": ["@ip"]}}"#, "r.json").unwrap_err();
        assert!(err.message.contains("unknown value type $bogus"), "{err}");
        let err = import("{\"rules\": [", "relay.json").unwrap_err();
        assert!(err.message.contains("invalid JSON"));
    }
}
