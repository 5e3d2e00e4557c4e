//! Sentry's legacy data-scrubbing settings (the project's "Data Scrubber" switches, safe fields and
//! sensitive fields), converted into the Relay PII config Relay derives from them.
//!
//! Relay reads the settings as `{"scrubData": bool, "scrubDefaults": bool, "scrubIpAddresses":
//! bool, "sensitiveFields": [string], "excludeFields": [string]}`: camelCase keys only, every key
//! optional (`false` / empty when missing), other keys ignored, and no `null`s. Like any serde
//! struct it also takes the same five fields as an array, in the order `excludeFields`,
//! `scrubData`, `scrubIpAddresses`, `sensitiveFields`, `scrubDefaults` (shorter arrays leave the
//! rest at their defaults).
//!
//! The conversion, as Relay 0.10.1 (PyPI `sentry-relay`) does it:
//! - `scrubData` and `scrubDefaults`: the `@common:filter` rule, `@anything:filter` on Relay's list
//!   of session and CSRF cookie names, `@cookies:filter` on cookie headers, and replace-only
//!   rules (`@email:replace`, ...) on messages and AI/MCP span attributes;
//! - `scrubIpAddresses` (on its own, without `scrubData`): `@ip:replace`, and `@anything:remove`
//!   on the fields known to hold addresses;
//! - `scrubData` and `sensitiveFields`: a `strip-fields` rule, a case-insensitive `redact_pair`
//!   whose key pattern is the fields (trimmed, empty ones dropped) regex-escaped and joined
//!   with `|`;
//! - `@common:filter`, `@ip:replace` and `strip-fields` apply to `$string || $number || $array ||
//!   $object` except a fixed list of fields, and except each exclude field (trimmed, empty ones
//!   dropped). An exclude field that is a valid selector is excluded as that selector, written
//!   back in Relay's normal form (`$request` becomes `$http`, `a . b` becomes `a.b`, `a | b`
//!   becomes `!(a || b)`); anything else is excluded as one literal key (`'a b'`).

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::RelayImport;
use super::rules::SENSITIVE_COOKIES;
use super::selector::{Selector, render_key};
use crate::policy::{Locator, PolicyError};

/// Why legacy settings could not be read. Relay rejects the same settings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegacyError {
    /// The settings are a string, number, boolean or `null`.
    #[error("legacy data-scrubbing settings must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// The array form has more than the five fields.
    #[error(
        "legacy data-scrubbing settings as an array have at most 5 fields \
         (excludeFields, scrubData, scrubIpAddresses, sensitiveFields, scrubDefaults), not {0}"
    )]
    TooManyFields(usize),
    /// A switch that is not `true` or `false`.
    #[error("\"{field}\" must be true or false, not {found}")]
    NotABoolean {
        field: &'static str,
        found: &'static str,
    },
    /// A field list that is not an array.
    #[error("\"{field}\" must be an array of strings, not {found}")]
    NotAList {
        field: &'static str,
        found: &'static str,
    },
    /// An entry of a field list that is not a string.
    #[error("\"{field}\"[{index}] must be a string, not {found}")]
    NotAString {
        field: &'static str,
        index: usize,
        found: &'static str,
    },
}

/// The settings' keys, in the order of the array form.
const FIELDS: [&str; 5] = [
    "excludeFields",
    "scrubData",
    "scrubIpAddresses",
    "sensitiveFields",
    "scrubDefaults",
];

/// The settings, read.
#[derive(Debug, Default)]
struct Settings<'a> {
    exclude_fields: Vec<&'a str>,
    scrub_data: bool,
    scrub_ip_addresses: bool,
    sensitive_fields: Vec<&'a str>,
    scrub_defaults: bool,
}

impl<'a> Settings<'a> {
    fn read(value: &'a Value) -> Result<Self, LegacyError> {
        let mut settings = Settings::default();
        match value {
            Value::Object(map) => {
                for field in FIELDS {
                    if let Some(value) = map.get(field) {
                        settings.set(field, value)?;
                    }
                }
            }
            Value::Array(values) => {
                if values.len() > FIELDS.len() {
                    return Err(LegacyError::TooManyFields(values.len()));
                }
                for (field, value) in FIELDS.into_iter().zip(values) {
                    settings.set(field, value)?;
                }
            }
            other => return Err(LegacyError::NotAnObject(kind(other))),
        }
        Ok(settings)
    }

    fn set(&mut self, field: &'static str, value: &'a Value) -> Result<(), LegacyError> {
        let switch = || match value {
            Value::Bool(on) => Ok(*on),
            other => Err(LegacyError::NotABoolean {
                field,
                found: kind(other),
            }),
        };
        let list = || match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    item.as_str().ok_or(LegacyError::NotAString {
                        field,
                        index,
                        found: kind(item),
                    })
                })
                .collect(),
            other => Err(LegacyError::NotAList {
                field,
                found: kind(other),
            }),
        };
        match field {
            "excludeFields" => self.exclude_fields = list()?,
            "sensitiveFields" => self.sensitive_fields = list()?,
            "scrubData" => self.scrub_data = switch()?,
            "scrubIpAddresses" => self.scrub_ip_addresses = switch()?,
            _ => self.scrub_defaults = switch()?,
        }
        Ok(())
    }
}

/// A JSON value's kind, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// The selectors and rule lists below are data: they are what Relay 0.10.1's conversion emits
// (checked against the real `sentry_relay.convert_datascrubbing_config` by
// tests/relay_legacy.rs).

/// What every rule of the settings applies to, before the exclude fields.
const SCRUBBED_VALUES: &str = "($string || $number || $array || $object) && !(debug_meta.** || \
     $frame.filename || $frame.abs_path || $logentry.formatted || $error.value || \
     $http.headers.user-agent)";

/// Fields removed outright when IP addresses are scrubbed.
const IP_FIELDS: &str = "$http.env.REMOTE_ADDR || $user.ip_address || $sdk.client_ip || \
     $span.sentry_tags.'user.ip' || attributes.'client.address'";

/// Whole cookie headers, which get the cookie filter.
const COOKIE_HEADERS: &str = "*.'http.request.header.cookie'.* || *.'http.request.header.cookie' \
     || *.'http.response.header.set-cookie'.* || *.'http.response.header.set-cookie'";

/// Span data and attribute names (AI prompts and responses, MCP results) that only get
/// replace-only rules, after `$logentry.formatted || $log.body`; each as
/// `$span.data.'NAME' || attributes.'NAME'.value`.
const REPLACE_ONLY_ATTRIBUTES: [&str; 16] = [
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "gen_ai.request.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.input",
    "gen_ai.tool.call.result",
    "gen_ai.tool.output",
    "gen_ai.output.messages",
    "gen_ai.response.tool_calls",
    "gen_ai.response.text",
    "gen_ai.response.object",
    "gen_ai.tool.definitions",
    "gen_ai.request.available_tools",
    "gen_ai.tool.name",
    "mcp.prompt.result",
    "mcp.tool.result.content",
];

/// The rules applied to [`REPLACE_ONLY_ATTRIBUTES`].
const REPLACE_ONLY_RULES: [&str; 5] = [
    "@email:replace",
    "@creditcard:replace",
    "@iban:replace",
    "@usssn:replace",
    "@bearer:replace",
];

fn sensitive_cookies_selector() -> String {
    let mut alternatives = Vec::with_capacity(SENSITIVE_COOKIES.len() * 3);
    for name in SENSITIVE_COOKIES {
        alternatives.push(format!("*.cookies.{}", render_key(name)));
        alternatives.push(format!(
            "*.{}",
            render_key(&format!("http.request.header.cookie.{name}"))
        ));
        alternatives.push(format!(
            "*.{}",
            render_key(&format!("http.response.header.set-cookie.{name}"))
        ));
    }
    alternatives.join(" || ")
}

fn replace_only_selector() -> String {
    let mut alternatives = vec!["$logentry.formatted".to_string(), "$log.body".to_string()];
    for name in REPLACE_ONLY_ATTRIBUTES {
        alternatives.push(format!("$span.data.{}", render_key(name)));
        alternatives.push(format!("attributes.{}.value", render_key(name)));
    }
    alternatives.join(" || ")
}

/// Relay's `convert_datascrubbing_config`: legacy settings to a PII config (`None` when they
/// scrub nothing; the Python function returns `{}` then).
///
/// The result is the JSON Relay 0.10.1 produces for the same settings, key for key.
pub fn convert_datascrubbing_config(settings: &Value) -> Result<Option<Value>, LegacyError> {
    let settings = Settings::read(settings)?;
    let mut rules = Map::new();
    let mut applications = Map::new();
    let mut applied: Vec<&str> = Vec::new();

    if settings.scrub_data && settings.scrub_defaults {
        applied.push("@common:filter");
        applications.insert(sensitive_cookies_selector(), json!(["@anything:filter"]));
        applications.insert(COOKIE_HEADERS.to_string(), json!(["@cookies:filter"]));
        applications.insert(replace_only_selector(), json!(REPLACE_ONLY_RULES));
    }
    if settings.scrub_ip_addresses {
        applications.insert(IP_FIELDS.to_string(), json!(["@anything:remove"]));
        applied.push("@ip:replace");
    }
    if settings.scrub_data {
        let escaped: Vec<String> = settings
            .sensitive_fields
            .iter()
            .map(|field| field.trim())
            .filter(|field| !field.is_empty())
            .map(escape_regex)
            .collect();
        if !escaped.is_empty() {
            rules.insert(
                "strip-fields".to_string(),
                json!({
                    "type": "redact_pair",
                    "keyPattern": escaped.join("|"),
                    "redaction": {"method": "replace", "text": "[Filtered]"},
                }),
            );
            applied.push("strip-fields");
        }
    }
    if applied.is_empty() && applications.is_empty() {
        return Ok(None);
    }
    if !applied.is_empty() {
        let mut selector = SCRUBBED_VALUES.to_string();
        for field in &settings.exclude_fields {
            let field = field.trim();
            if !field.is_empty() {
                selector.push_str(" && ");
                selector.push_str(&excluded(field));
            }
        }
        applications.insert(selector, json!(applied));
    }

    let mut config = Map::new();
    if !rules.is_empty() {
        config.insert("rules".to_string(), Value::Object(rules));
    }
    config.insert("applications".to_string(), Value::Object(applications));
    Ok(Some(Value::Object(config)))
}

/// A literal as a regex (the characters the `regex` crate treats as special, backslashed).
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An exclude field as the negated selector it adds: the field read as a selector when it is
/// one, else as a single literal key.
fn excluded(field: &str) -> String {
    match Selector::parse_non_legacy(field) {
        Ok(selector) => selector.negated().to_string(),
        Err(_) => format!("!{}", render_key(field)),
    }
}

// ---------------------------------------------------------------------------------------------
// Import of documents holding the settings.
// ---------------------------------------------------------------------------------------------

/// Sentry's project options behind the settings, with the settings key each one sets.
const PROJECT_OPTIONS: [(&str, &str); 5] = [
    ("sentry:safe_fields", "excludeFields"),
    ("sentry:scrub_data", "scrubData"),
    ("sentry:scrub_ip_address", "scrubIpAddresses"),
    ("sentry:sensitive_fields", "sensitiveFields"),
    ("sentry:scrub_defaults", "scrubDefaults"),
];

/// Where a document's legacy settings are.
struct Found {
    settings: Value,
    /// Whether they are Sentry's project options (named as such in errors).
    options: bool,
    /// The key in the document errors point at.
    key: &'static str,
}

/// The legacy settings a document holds.
fn settings_in(document: &Value) -> Option<Found> {
    let map = document.as_object()?;
    for pointer in ["/config/datascrubbingSettings", "/datascrubbingSettings"] {
        if let Some(settings) = document.pointer(pointer) {
            let settings = settings.clone();
            let key = "datascrubbingSettings";
            return Some(Found {
                settings,
                options: false,
                key,
            });
        }
    }
    if let Some((key, _)) = PROJECT_OPTIONS.iter().find(|(o, _)| map.contains_key(*o)) {
        // An unset option has Sentry's default: scrubbing data and defaults on.
        let mut settings = Map::new();
        for (option, field) in PROJECT_OPTIONS {
            let value = match (map.get(option), field) {
                (Some(value), _) => value.clone(),
                (None, "scrubData" | "scrubDefaults") => Value::Bool(true),
                (None, "scrubIpAddresses") => Value::Bool(false),
                (None, _) => json!([]),
            };
            settings.insert(field.to_string(), value);
        }
        let settings = Value::Object(settings);
        return Some(Found {
            settings,
            options: true,
            key,
        });
    }
    if map.contains_key("rules") || map.contains_key("applications") {
        return None;
    }
    let key = FIELDS.into_iter().find(|key| map.contains_key(*key))?;
    let settings = document.clone();
    Some(Found {
        settings,
        options: false,
        key,
    })
}

impl LegacyError {
    /// The settings key the error is about.
    fn field(&self) -> Option<&'static str> {
        match self {
            LegacyError::NotAnObject(_) | LegacyError::TooManyFields(_) => None,
            LegacyError::NotABoolean { field, .. }
            | LegacyError::NotAList { field, .. }
            | LegacyError::NotAString { field, .. } => Some(field),
        }
    }
}

/// [`super::import`] for any document: `import_pii_config` for its PII config, plus the PII
/// config converted from the legacy settings it holds, if any.
pub(super) fn import_with_settings(
    source: &str,
    origin: &str,
    import_pii_config: fn(&str, &str) -> Result<RelayImport, PolicyError>,
) -> Result<RelayImport, PolicyError> {
    let Some(found) = serde_json::from_str::<Value>(source)
        .ok()
        .as_ref()
        .and_then(settings_in)
    else {
        return import_pii_config(source, origin);
    };
    let at = |name: &str| {
        let offset = source.find(&format!("\"{name}\"")).unwrap_or(0);
        Locator { origin, source }.error(offset..offset, "")
    };
    let converted = convert_datascrubbing_config(&found.settings).map_err(|e| {
        let option = |field| {
            PROJECT_OPTIONS
                .iter()
                .find(|(_, key)| *key == field)
                .map_or(field, |(option, _)| *option)
        };
        let (name, message) = match e.field() {
            Some(field) if found.options => (
                option(field),
                format!("project option \"{}\": {e}", option(field)),
            ),
            Some(field) => (field, format!("legacy data-scrubbing settings: {e}")),
            None => (found.key, format!("{e}")),
        };
        PolicyError {
            message,
            ..at(name)
        }
    })?;
    // The document's own PII config (`piiConfig`; without one, nothing).
    let mut import = import_pii_config(source, origin)?;
    if let Some(converted) = converted {
        // Errors in the converted config, which the user did not write, point at the settings.
        let legacy = import_pii_config(&converted.to_string(), origin).map_err(|e| PolicyError {
            message: format!(
                "legacy data-scrubbing settings: the PII config Relay converts them to does not \
                 import: {}",
                e.message
            ),
            ..at(found.key)
        })?;
        import.policy.relay.extend(legacy.policy.relay);
        import.notes.extend(legacy.notes);
    }
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(settings: Value) -> Result<Option<Value>, LegacyError> {
        convert_datascrubbing_config(&settings)
    }

    /// The selector an exclude field adds.
    fn exclusion(field: &str) -> String {
        let config = convert(json!({"scrubIpAddresses": true, "excludeFields": [field]}))
            .unwrap()
            .unwrap();
        let applications = config["applications"].as_object().unwrap();
        let selector = applications
            .keys()
            .find(|k| k.starts_with(SCRUBBED_VALUES))
            .unwrap();
        selector[SCRUBBED_VALUES.len()..]
            .strip_prefix(" && ")
            .unwrap_or("")
            .to_string()
    }

    #[test]
    fn settings_that_are_not_an_object_are_errors() {
        for (settings, found) in [
            (json!(null), "null"),
            (json!(true), "a boolean"),
            (json!(1), "a number"),
            (json!("scrubData"), "a string"),
        ] {
            assert_eq!(convert(settings), Err(LegacyError::NotAnObject(found)));
        }
        let error = convert(json!(null)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "legacy data-scrubbing settings must be a JSON object, not null"
        );
    }

    #[test]
    fn switches_must_be_booleans() {
        for field in ["scrubData", "scrubDefaults", "scrubIpAddresses"] {
            for (value, found) in [
                (json!(null), "null"),
                (json!(1), "a number"),
                (json!("true"), "a string"),
                (json!([true]), "an array"),
                (json!({}), "an object"),
            ] {
                let error = convert(json!({ field: value })).unwrap_err();
                assert_eq!(
                    error,
                    LegacyError::NotABoolean {
                        field: FIELDS.iter().find(|f| **f == field).unwrap(),
                        found
                    }
                );
                assert_eq!(
                    error.to_string(),
                    format!("\"{field}\" must be true or false, not {found}")
                );
            }
        }
    }

    #[test]
    fn field_lists_must_be_arrays_of_strings() {
        for field in ["sensitiveFields", "excludeFields"] {
            let error = convert(json!({ field: "password" })).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("\"{field}\" must be an array of strings, not a string")
            );
            assert!(matches!(
                convert(json!({ field: null })),
                Err(LegacyError::NotAList { found: "null", .. })
            ));
            let error = convert(json!({ field: ["ok", 1] })).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("\"{field}\"[1] must be a string, not a number")
            );
            assert!(matches!(
                convert(json!({ field: [null] })),
                Err(LegacyError::NotAString { index: 0, .. })
            ));
        }
    }

    #[test]
    fn a_type_error_counts_even_when_the_switches_are_off() {
        assert!(convert(json!({"scrubData": false, "sensitiveFields": [1]})).is_err());
        assert!(convert(json!({"excludeFields": {"a": 1}})).is_err());
    }

    #[test]
    fn the_array_form_has_at_most_five_fields() {
        let error = convert(json!([[], true, true, [], true, 5])).unwrap_err();
        assert_eq!(error, LegacyError::TooManyFields(6));
        assert!(error.to_string().contains("at most 5 fields"));
        assert!(matches!(
            convert(json!([[], 1])),
            Err(LegacyError::NotABoolean {
                field: "scrubData",
                ..
            })
        ));
        assert_eq!(convert(json!([])), Ok(None));
        assert!(convert(json!([[], false, true])).unwrap().is_some());
    }

    #[test]
    fn nothing_switched_on_converts_to_nothing() {
        assert_eq!(convert(json!({})), Ok(None));
        assert_eq!(convert(json!({"scrubData": true})), Ok(None));
        assert_eq!(
            convert(json!({"scrubDefaults": true, "sensitiveFields": ["x"]})),
            Ok(None)
        );
        assert_eq!(
            convert(json!({"scrub_data": true, "scrub_defaults": true})),
            Ok(None)
        );
    }

    #[test]
    fn sensitive_fields_become_one_escaped_key_pattern() {
        let config = convert(json!({
            "scrubData": true,
            "sensitiveFields": [" a-b&c~d#e f ", "", "  ", "A.B*c?d(e)f|g[h]i{j}k^l$m\\n", "ü\u{a0}"],
        }))
        .unwrap()
        .unwrap();
        assert_eq!(
            config["rules"]["strip-fields"]["keyPattern"],
            r"a\-b\&c\~d\#e f|A\.B\*c\?d\(e\)f\|g\[h\]i\{j\}k\^l\$m\\n|ü"
        );
    }

    #[test]
    fn exclude_fields_are_written_back_in_normal_form() {
        for (field, expected) in [
            ("foo", "!foo"),
            ("' abc'", "!abc"),
            ("'abc '", "!abc "),
            ("'it''s'", "!'it''s'"),
            ("a . b", "!a.b"),
            ("! a", "!(!a)"),
            ("!!a", "!'!!a'"),
            ("a | b", "!(a || b)"),
            ("((a || b) || c)", "!(a || b || c)"),
            ("a && (b || c)", "!(a && (b || c))"),
            ("a || !b && c", "!(a || !b && c)"),
            ("$request.env", "!$http.env"),
            ("$foo", "!'$foo'"),
            ("a.007", "!a.7"),
            ("99999999999999999999999", "!'99999999999999999999999'"),
            ("*", "!'*'"),
            ("a.**.b.**", "!'a.**.b.**'"),
            ("a || *", "!'a || *'"),
            ("ü", "!'ü'"),
            ("'   '", "!'''   '''"),
            ("'abc''", "!'''abc'''''"),
            ("\u{a0}a\u{a0}", "!a"),
            ("()", "!'()'"),
        ] {
            assert_eq!(exclusion(field), expected, "{field:?}");
        }
        assert_eq!(exclusion(""), "");
        assert_eq!(exclusion("   "), "");
    }

    #[test]
    fn deeply_nested_exclude_fields_do_not_exhaust_the_stack() {
        let deep = format!("{}a{}", "(".repeat(200_000), ")".repeat(200_000));
        assert_eq!(exclusion(&deep), "!a");
        let nots = format!("{}a{}", "!(".repeat(100_000), ")".repeat(100_000));
        let expected = format!("{}!a{}", "!(".repeat(100_000), ")".repeat(100_000));
        assert!(exclusion(&nots) == expected);
        let unbalanced = "(".repeat(100_000);
        assert!(exclusion(&unbalanced).starts_with("!'(((("));
    }

    /// What the test above guards against, in Relay itself: its exclude-field parser
    /// recurses per parenthesis, and on a thread with Linux's default 8 MiB of stack
    /// sentry-relay 0.10.1 converts 1,000 levels and dies of a stack overflow (SIGSEGV) at
    /// 3,000 (its limit is about 2,550), killing its process.
    #[cfg(unix)]
    #[test]
    fn relay_itself_crashes_on_exclude_fields_nested_3000_deep() {
        use std::os::unix::process::ExitStatusExt as _;
        const CONVERT: &str = r#"
import sys, threading
import sentry_relay
depth = int(sys.stdin.read())
field = "(" * depth + "a" + ")" * depth
def convert():
    sentry_relay.convert_datascrubbing_config(
        {"scrubData": True, "scrubIpAddresses": True, "excludeFields": [field]})
    print("converted")
threading.stack_size(8 << 20)
thread = threading.Thread(target=convert)
thread.start()
thread.join()
"#;
        let what = "Relay on deeply nested exclude fields";
        let Some(shallow) = super::super::peer::run(what, CONVERT, "1000") else {
            return;
        };
        assert!(
            shallow.status.success() && shallow.stdout.starts_with(b"converted"),
            "{}: {}",
            shallow.status,
            String::from_utf8_lossy(&shallow.stderr)
        );
        let deep = super::super::peer::run(what, CONVERT, "3000").expect("Relay ran once");
        assert!(
            deep.status.signal().is_some(),
            "Relay no longer crashes 3,000 levels deep: {}, stdout {:?}",
            deep.status,
            String::from_utf8_lossy(&deep.stdout)
        );
        // And event-filter converts that depth (and far more, above) to the same selector as
        // one level.
        let field = format!("{}a{}", "(".repeat(3000), ")".repeat(3000));
        assert_eq!(exclusion(&field), "!a");
    }

    #[test]
    fn project_options_use_sentrys_defaults() {
        let found = settings_in(&json!({"sentry:scrub_ip_address": true})).unwrap();
        assert!(found.options);
        assert_eq!(found.key, "sentry:scrub_ip_address");
        let settings = found.settings;
        assert_eq!(
            settings,
            json!({"excludeFields": [], "scrubData": true, "scrubIpAddresses": true,
                   "sensitiveFields": [], "scrubDefaults": true})
        );
        assert!(settings_in(&json!({"rules": {}, "scrubData": true})).is_none());
        assert!(settings_in(&json!({"applications": {}})).is_none());
        assert!(settings_in(&json!([[], true])).is_none());
        assert!(settings_in(&json!({"config": {"datascrubbingSettings": {}}})).is_some());
    }
}
