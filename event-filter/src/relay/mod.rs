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
//! scrub data and defaults). Notes list what Relay itself ignores in the config (references to rules that do not
//! exist, patterns that do not compile, hash keys), so a config that does less than its author
//! meant says so. `tests/relay_vs_peer.rs` compares the results with Relay's own engine
//! (PyPI `sentry-relay`) on real SDK events and configs that use every feature.

mod config;
mod legacy;
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
    let config = document
        .pointer("/config/piiConfig")
        .or_else(|| document.get("piiConfig"))
        .unwrap_or(&document);
    let at = Locator { origin, source };
    let engine = PiiEngine::compile(config).map_err(|error| {
        let near = match &error {
            ConfigError::Selector { selector, .. } => selector.clone(),
            ConfigError::UnknownType { rule, .. } | ConfigError::InvalidRule { rule, .. } => {
                rule.clone()
            }
            ConfigError::NotAnObject(key) => (*key).to_string(),
            ConfigError::SelectorTooLarge { .. } => "applications".to_string(),
        };
        let offset = source.find(&format!("\"{near}\"")).unwrap_or(0);
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
        if spec.get("type").and_then(Value::as_str) == Some("pattern")
            && let Some(pattern) = spec.get("pattern").and_then(Value::as_str)
            && rules::pattern_finder(pattern, None).is_none()
        {
            notes.push(format!(
                "rule {id:?}: its pattern does not compile, so it never matches (Relay ignores it too)"
            ));
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
            r#"{"rules": {"r": {"type": "pattern", "pattern": "(x", "redaction": {"method": "hash", "key": "k"}}},
                "applications": {"$string": ["r", "@nope"]}}"#,
            "relay.json",
        )
        .unwrap();
        let notes = import.notes.join("\n");
        assert!(notes.contains("does not compile"), "{notes}");
        assert!(
            notes.contains("\"@nope\" is referenced but not defined"),
            "{notes}"
        );
        assert!(notes.contains("\"key\" is ignored"), "{notes}");
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
