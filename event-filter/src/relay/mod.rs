//! Import of Relay's PII config JSON (`{"rules": {...}, "applications": {...}}`), the format a
//! self-hosted Relay reads from a project's `config.piiConfig`, into a [`Policy`].
//!
//! What maps, and how:
//! - Built-in rules (`@ip`, `@email:hash`, `@creditcard:mask`, `@password`, `@common`, ...) with
//!   Relay's own default redactions (`[ip]`, `[email]`, ... replacements).
//! - Custom rules: `pattern` (a custom detector), the value types `email`, `ip`, `creditcard`,
//!   `iban`, `pemkey`, `urlauth`, `bearer` (built-in detectors), `mac`, `uuid`, `imei`,
//!   `usssn`, `userpath` (regex detectors written here), `password` and `redact_pair` (key
//!   names), `anything`, `multiple` and `alias`.
//! - Redactions: `remove`, `replace` (with `text`), `mask` (with the older `range` and
//!   `mask_char` options), `hash` (keyed by `vars.hashKey` or the rule's `key`).
//! - Selectors: value types (`$string` means "any string"), schema types (`$frame`,
//!   `$exception`, `$request`/`$http`, `$user`, `$breadcrumb`, ...) expanded to the event paths
//!   they occur at, dotted paths with `*`, `**` and quoted keys, and `||`. A `&&` with a value
//!   type keeps the path (detectors only look at strings anyway).
//!
//! Approximations, chosen to err on the side of redacting more: `password` and `redact_pair`
//! match exact key names (case-insensitive) anywhere below the selected value, where Relay
//! matches its key regex; `userpath` redacts the whole `/home/NAME` prefix, where Relay keeps
//! the `/home/` part.
//!
//! What does not map is skipped and listed in [`RelayImport::notes`], never silently dropped:
//! negation (`!`), `&&` of two paths, `replaceGroups`, `chars_to_ignore`, and rule types this
//! crate has no equivalent for. `check-policy` prints the notes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::action::Action;
use crate::detect::{Detector, DetectorKind};
use crate::path::PathSelector;
use crate::policy::{Locator, Policy, PolicyError, Rule};

/// A converted Relay PII config.
#[derive(Debug, Clone)]
pub struct RelayImport {
    pub policy: Policy,
    /// Parts of the config that could not be expressed, one sentence each.
    pub notes: Vec<String>,
}

/// The key used for `hash` when the config names none (Relay hashes without a user key).
const DEFAULT_HASH_KEY: &[u8] = b"event-filter relay import";

/// Key names Relay's `password` rule type matches (its key regex, as exact names compared
/// case-insensitively).
const PASSWORD_KEYS: &str = "{password,passwd,secret,api_key,apikey,auth,credentials,mysql_pwd,privatekey,private_key,token,session_id,sessionid}";

/// Detectors for Relay value types that have no built-in detector here.
const EXTRA_PATTERNS: [(&str, &str); 5] = [
    ("mac", r"(?i)\b[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}\b"),
    (
        "uuid",
        r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
    ),
    ("imei", r"\b\d{2}\s?-?\d{6}\s?-?\d{6}\s?-?\d{1,2}\b"),
    ("usssn", r"\b\d{3}-\d{2}-\d{4}\b"),
    (
        "userpath",
        r"(?i)(?:/Users/|/home/|[a-z]:\\Users\\|[a-z]:/Users/)[^/\\\s]+",
    ),
];

/// A resolved rule: what it finds and what it does there.
#[derive(Debug, Clone)]
enum Target {
    /// Values of these detectors inside strings.
    Detectors(Vec<Detector>),
    /// Values under keys with these names (a `{a,b}` segment).
    Keys(String),
    /// The whole selected value.
    Anything,
}

struct Importer<'a> {
    origin: &'a str,
    source: &'a str,
    rules: &'a serde_json::Map<String, Value>,
    hash_key: Vec<u8>,
    notes: Vec<String>,
}

impl Importer<'_> {
    /// An error located at the first quoted occurrence of `near` in the file.
    fn error(&self, near: &str, message: impl Into<String>) -> PolicyError {
        let at = Locator {
            origin: self.origin,
            source: self.source,
        };
        match self.source.find(&format!("\"{near}\"")) {
            Some(offset) => at.error(offset..offset, message),
            None => PolicyError {
                origin: self.origin.to_string(),
                line: 0,
                column: 0,
                message: message.into(),
            },
        }
    }

    /// Resolves a rule reference to (target, action) pairs; `multiple` gives several.
    fn resolve(&mut self, name: &str, depth: usize) -> Result<Vec<(Target, Action)>, PolicyError> {
        if depth > 16 {
            return Err(self.error(name, format!("rule {name:?} refers to itself")));
        }
        if let Some(spec) = self.rules.get(name) {
            let spec = spec.clone();
            return self.resolve_spec(name, &spec, depth);
        }
        if let Some(builtin) = name.strip_prefix('@') {
            return self.resolve_builtin(name, builtin, depth);
        }
        Err(self.error(name, format!("unknown rule {name:?}")))
    }

    fn resolve_builtin(
        &mut self,
        full: &str,
        builtin: &str,
        depth: usize,
    ) -> Result<Vec<(Target, Action)>, PolicyError> {
        let (kind, method) = builtin.split_once(':').unwrap_or((builtin, ""));
        if kind == "common" {
            let mut out = Vec::new();
            for member in [
                "iban",
                "ip",
                "email",
                "creditcard",
                "pemkey",
                "urlauth",
                "userpath",
                "password",
                "usssn",
            ] {
                let name = match method {
                    "filter" => format!("@{member}:filter"),
                    _ => format!("@{member}"),
                };
                out.extend(self.resolve(&name, depth + 1)?);
            }
            return Ok(out);
        }
        let target = self
            .value_type_target(kind)
            .ok_or_else(|| self.error(full, format!("unknown built-in rule {full:?}")))?;
        let replace = |text: &str| Action::Mask { text: text.into() };
        let action = match method {
            "" => match kind {
                "mac" | "uuid" | "usssn" => mask_all(),
                "password" => Action::Remove,
                "anything" => replace("[Filtered]"),
                "creditcard" => replace("[creditcard]"),
                other => replace(&format!("[{}]", builtin_label(other))),
            },
            "replace" => replace(&format!("[{}]", builtin_label(kind))),
            "filter" | "legacy" => replace("[Filtered]"),
            "remove" => Action::Remove,
            "mask" => mask_all(),
            "hash" => Action::Hash {
                key: self.hash_key.clone(),
            },
            other => {
                return Err(self.error(
                    full,
                    format!("unknown redaction {other:?} in built-in rule {full:?}"),
                ));
            }
        };
        Ok(vec![(target, action)])
    }

    /// The target of a Relay value type (`email`, `ip`, `password`, ...).
    fn value_type_target(&self, kind: &str) -> Option<Target> {
        let builtin = |k: DetectorKind| Detector::builtin(k).into_iter().collect::<Vec<_>>();
        Some(match kind {
            "email" => Target::Detectors(builtin(DetectorKind::Email)),
            "ip" => Target::Detectors(
                [DetectorKind::Ipv4, DetectorKind::Ipv6]
                    .into_iter()
                    .filter_map(Detector::builtin)
                    .collect(),
            ),
            "creditcard" => Target::Detectors(builtin(DetectorKind::CreditCard)),
            "iban" => Target::Detectors(builtin(DetectorKind::Iban)),
            "pemkey" => Target::Detectors(builtin(DetectorKind::PemPrivateKey)),
            "urlauth" => Target::Detectors(builtin(DetectorKind::UrlPassword)),
            "bearer" => Target::Detectors(builtin(DetectorKind::BearerToken)),
            "password" => Target::Keys(PASSWORD_KEYS.into()),
            "anything" => Target::Anything,
            other => {
                let (name, pattern) = EXTRA_PATTERNS.iter().find(|(n, _)| *n == other)?;
                Target::Detectors(Detector::custom(name, pattern).ok().into_iter().collect())
            }
        })
    }

    fn resolve_spec(
        &mut self,
        name: &str,
        spec: &Value,
        depth: usize,
    ) -> Result<Vec<(Target, Action)>, PolicyError> {
        let rule_type = spec
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| self.error(name, format!("rule {name:?} has no \"type\"")))?;
        let target = match rule_type {
            "multiple" | "alias" => {
                let members: Vec<String> = match rule_type {
                    "multiple" => spec
                        .get("rules")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default(),
                    _ => spec
                        .get("rule")
                        .and_then(Value::as_str)
                        .map(|r| vec![r.to_string()])
                        .unwrap_or_default(),
                };
                if members.is_empty() {
                    return Err(self.error(name, format!("rule {name:?} names no rules")));
                }
                let mut out = Vec::new();
                for member in members {
                    out.extend(self.resolve(&member, depth + 1)?);
                }
                // A redaction on the group overrides its members'.
                if let Some(action) = self.redaction(name, spec.get("redaction"), None)? {
                    for pair in &mut out {
                        pair.1 = action.clone();
                    }
                }
                return Ok(out);
            }
            "pattern" => {
                let pattern = spec.get("pattern").and_then(Value::as_str).ok_or_else(|| {
                    self.error(name, format!("pattern rule {name:?} has no \"pattern\""))
                })?;
                if spec.get("replaceGroups").is_some_and(|g| !g.is_null()) {
                    self.notes.push(format!(
                        "rule {name:?}: replaceGroups is not supported; the whole match is redacted"
                    ));
                }
                let detector = Detector::custom(name, pattern).map_err(|e| {
                    self.error(name, format!("rule {name:?}: invalid pattern: {e}"))
                })?;
                Target::Detectors(vec![detector])
            }
            "redact_pair" => {
                let key_pattern = spec
                    .get("keyPattern")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match literal_alternation(key_pattern) {
                    Some(keys) => Target::Keys(format!("{{{}}}", keys.join(","))),
                    None => {
                        self.notes.push(format!(
                            "rule {name:?}: keyPattern {key_pattern:?} is not a list of literal key names; skipped"
                        ));
                        return Ok(Vec::new());
                    }
                }
            }
            other => match self.value_type_target(other) {
                Some(target) => target,
                None => {
                    self.notes.push(format!(
                        "rule {name:?}: rule type {other:?} has no equivalent; skipped"
                    ));
                    return Ok(Vec::new());
                }
            },
        };
        let action = self
            .redaction(name, spec.get("redaction"), Some(rule_type))?
            .unwrap_or(Action::Mask {
                text: "[Filtered]".into(),
            });
        Ok(vec![(target, action)])
    }

    /// The action for a rule's `redaction` object; `None` when it has none (or `default`).
    fn redaction(
        &mut self,
        name: &str,
        redaction: Option<&Value>,
        rule_type: Option<&str>,
    ) -> Result<Option<Action>, PolicyError> {
        let Some(redaction) = redaction.filter(|r| !r.is_null()) else {
            return Ok(rule_type.and_then(default_redaction));
        };
        let method = redaction
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("default");
        Ok(Some(match method {
            "default" => return Ok(rule_type.and_then(default_redaction)),
            "remove" => Action::Remove,
            "replace" => Action::Mask {
                text: redaction
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("[Filtered]")
                    .to_string(),
            },
            "mask" => {
                if redaction.get("chars_to_ignore").is_some() {
                    self.notes.push(format!(
                        "rule {name:?}: chars_to_ignore is not supported; every character is masked"
                    ));
                }
                let mask_char = redaction
                    .get("mask_char")
                    .and_then(Value::as_str)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('*');
                let range = redaction.get("range").and_then(Value::as_array);
                let bound = |i: usize| range.and_then(|r| r.get(i)).and_then(Value::as_i64);
                let (keep, from_end) = match (bound(0), bound(1)) {
                    (None | Some(0), Some(end)) if end < 0 => (end.unsigned_abs() as usize, true),
                    (Some(start), None) if start > 0 => (start as usize, false),
                    _ => (0, false),
                };
                Action::MaskKeep {
                    keep,
                    from_end,
                    mask_char,
                }
            }
            "hash" => Action::Hash {
                key: redaction
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty())
                    .map(|k| k.as_bytes().to_vec())
                    .unwrap_or_else(|| self.hash_key.clone()),
            },
            other => {
                return Err(self.error(
                    name,
                    format!("rule {name:?}: unknown redaction method {other:?}"),
                ));
            }
        }))
    }
}

fn mask_all() -> Action {
    Action::MaskKeep {
        keep: 0,
        from_end: false,
        mask_char: '*',
    }
}

/// The replacement label Relay uses for a built-in rule's `:replace` form.
fn builtin_label(kind: &str) -> &str {
    match kind {
        "urlauth" => "auth",
        "userpath" => "user",
        "usssn" => "us-ssn",
        "anything" => "Filtered",
        other => other,
    }
}

/// The redaction a custom rule of a value type gets when it names none: Relay's defaults.
fn default_redaction(rule_type: &str) -> Option<Action> {
    Some(match rule_type {
        "password" => Action::Remove,
        "mac" | "uuid" | "usssn" => mask_all(),
        "pattern" | "anything" | "redact_pair" => Action::Mask {
            text: "[Filtered]".into(),
        },
        other => Action::Mask {
            text: format!("[{}]", builtin_label(other)),
        },
    })
}

/// `(?i)^(a|b|c)$`-style patterns as the list `[a, b, c]`, when every alternative is a plain
/// key name.
fn literal_alternation(pattern: &str) -> Option<Vec<String>> {
    let mut p = pattern.trim();
    p = p.strip_prefix("(?i)").unwrap_or(p);
    p = p.strip_prefix('^').unwrap_or(p);
    p = p.strip_suffix('$').unwrap_or(p);
    if let Some(inner) = p.strip_prefix('(').and_then(|q| q.strip_suffix(')')) {
        p = inner.strip_prefix("?:").unwrap_or(inner);
    }
    let keys: Vec<String> = p.split('|').map(|k| k.trim().to_string()).collect();
    let plain = |k: &String| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    keys.iter().all(plain).then_some(keys)
}

/// Where Relay's schema types occur in an event, as dotted selectors.
fn schema_type_paths(name: &str) -> Option<Vec<&'static str>> {
    const STACKTRACES: [&str; 3] = [
        "exception.values.*.stacktrace",
        "threads.values.*.stacktrace",
        "stacktrace",
    ];
    Some(match name {
        "$event" => vec![""],
        "$exception" => vec!["exception.values.*"],
        "$stacktrace" => STACKTRACES.to_vec(),
        "$frame" => vec![
            "exception.values.*.stacktrace.frames.*",
            "threads.values.*.stacktrace.frames.*",
            "stacktrace.frames.*",
        ],
        "$request" | "$http" => vec!["request"],
        "$user" => vec!["user"],
        "$logentry" | "$message" => vec!["logentry"],
        "$thread" => vec!["threads.values.*"],
        "$breadcrumb" => vec!["breadcrumbs.values.*"],
        "$span" => vec!["spans.*"],
        "$sdk" => vec!["sdk"],
        "$error" => vec!["errors.*"],
        "$context" | "$contexts" => vec!["contexts.*"],
        _ => return None,
    })
}

const VALUE_TYPES: [&str; 7] = [
    "$string",
    "$number",
    "$boolean",
    "$datetime",
    "$array",
    "$object",
    "$binary",
];

/// Splits on a two-character operator outside single quotes.
fn split_outside_quotes<'s>(text: &'s str, op: &str) -> Vec<&'s str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            in_quotes = !in_quotes;
        } else if !in_quotes && bytes[i..].starts_with(op.as_bytes()) {
            parts.push(&text[start..i]);
            i += op.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// A Relay path (`$frame.vars.'my key'.**`) as our selectors; `None` for the whole event.
fn convert_path(path: &str) -> Result<Vec<Option<String>>, String> {
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '\'' => {
                in_quotes = !in_quotes;
                quoted = true;
            }
            '.' if !in_quotes => {
                segments.push(finish_segment(&current, quoted));
                current.clear();
                quoted = false;
            }
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err(format!("unterminated quote in {path:?}"));
    }
    segments.push(finish_segment(&current, quoted));
    let (prefixes, rest) = match path.split('.').next() {
        Some(first) if first.starts_with('$') => {
            let prefixes = schema_type_paths(first)
                .ok_or_else(|| format!("unknown selector type {first:?}"))?;
            (prefixes, &segments[1..])
        }
        _ => (vec![""], &segments[..]),
    };
    let tail = rest.join(".");
    Ok(prefixes
        .into_iter()
        .map(|prefix| match (prefix.is_empty(), tail.is_empty()) {
            (true, true) => None,
            (true, false) => Some(tail.clone()),
            (false, true) => Some(prefix.to_string()),
            (false, false) => Some(format!("{prefix}.{tail}")),
        })
        .collect())
}

/// One segment in our syntax: wildcards as they are, plain keys bare, others quoted.
fn finish_segment(text: &str, quoted: bool) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !quoted && (plain || text == "*" || text == "**") {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

/// The selectors an application key stands for: `None` entries mean "anywhere".
fn convert_selector(selector: &str, notes: &mut Vec<String>) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for alternative in split_outside_quotes(selector, "||") {
        let conjuncts: Vec<String> = split_outside_quotes(alternative, "&&")
            .into_iter()
            .map(|c| {
                c.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .trim()
                    .to_string()
            })
            .collect();
        if conjuncts.iter().any(|c| c.starts_with('!')) {
            notes.push(format!(
                "selector {selector:?}: negation (!) is not supported; skipped"
            ));
            continue;
        }
        let paths: Vec<&String> = conjuncts
            .iter()
            .filter(|c| !VALUE_TYPES.contains(&c.as_str()))
            .collect();
        if conjuncts
            .iter()
            .any(|c| VALUE_TYPES.contains(&c.as_str()) && c != "$string")
        {
            notes.push(format!(
                "selector {selector:?}: only strings are scanned; non-string value types are not narrowed"
            ));
        }
        match paths.as_slice() {
            [] => out.push(None),
            [path] if path.as_str() == "**" => out.push(None),
            [path] => match convert_path(path) {
                Ok(converted) => out.extend(converted),
                Err(e) => notes.push(format!("selector {selector:?}: {e}; skipped")),
            },
            _ => notes.push(format!(
                "selector {selector:?}: a conjunction of paths is not supported; skipped"
            )),
        }
    }
    out
}

/// Converts a Relay PII config (JSON text); `origin` names it in errors.
pub fn import(source: &str, origin: &str) -> Result<RelayImport, PolicyError> {
    let config: Value = serde_json::from_str(source).map_err(|e| PolicyError {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message: format!("invalid JSON: {e}"),
    })?;
    // A whole project config (`{"config": {"piiConfig": {...}}}`) is accepted too.
    let config = config
        .pointer("/config/piiConfig")
        .or_else(|| config.get("piiConfig"))
        .unwrap_or(&config);
    let empty = serde_json::Map::new();
    let not_object = |what: &str| PolicyError {
        origin: origin.to_string(),
        line: 1,
        column: 1,
        message: format!("\"{what}\" must be an object"),
    };
    let rules = match config.get("rules") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(not_object("rules")),
    };
    let applications = match config.get("applications") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(not_object("applications")),
    };
    let hash_key = config
        .pointer("/vars/hashKey")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .map_or_else(|| DEFAULT_HASH_KEY.to_vec(), |k| k.as_bytes().to_vec());
    let mut importer = Importer {
        origin,
        source,
        rules,
        hash_key,
        notes: Vec::new(),
    };
    let mut policy = Policy::default();
    let applications: BTreeMap<&String, &Value> = applications.iter().collect();
    for (selector, rule_names) in applications {
        let names: Vec<&str> = rule_names
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let paths = convert_selector(selector, &mut importer.notes);
        for name in names {
            for (target, action) in importer.resolve(name, 0)? {
                for path in &paths {
                    let rule_name = format!("{name} @ {selector}");
                    let parse = |text: String| {
                        text.parse::<PathSelector>().map_err(|e| {
                            importer.error(
                                selector,
                                format!("selector {selector:?} gives path {text:?}: {}", e.message),
                            )
                        })
                    };
                    let (path, detectors) = match (&target, path) {
                        (Target::Detectors(d), None) => (None, d.clone()),
                        (Target::Detectors(d), Some(p)) => {
                            (Some(parse(format!("{p}.**"))?), d.clone())
                        }
                        (Target::Keys(keys), None) => (
                            Some(parse(format!("**.{keys}"))?.case_insensitive(true)),
                            vec![],
                        ),
                        (Target::Keys(keys), Some(p)) => (
                            Some(parse(format!("{p}.**.{keys}"))?.case_insensitive(true)),
                            vec![],
                        ),
                        (Target::Anything, Some(p)) => (Some(parse(p.clone())?), vec![]),
                        (Target::Anything, None) => {
                            importer.notes.push(format!(
                                "{rule_name}: redacting every value of the event is not supported; skipped"
                            ));
                            continue;
                        }
                    };
                    policy.rules.push(Rule {
                        name: rule_name,
                        path,
                        action: action.clone(),
                        detectors,
                    });
                }
            }
        }
    }
    importer.notes.dedup();
    Ok(RelayImport {
        policy,
        notes: importer.notes,
    })
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
    fn selectors_with_non_ascii_characters_split_without_panicking() {
        // Found by the relay_config fuzz target: `text[i..]` sliced inside a multi-byte char.
        assert_eq!(split_outside_quotes("é&&ü", "&&"), ["é", "ü"]);
        assert_eq!(split_outside_quotes("'a||é'||b", "||"), ["'a||é'", "b"]);
        assert!(import(r#"{"applications": {"é": ["@ip"]}}"#, "relay.json").is_ok());
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
    fn custom_pattern_rules_hash_what_they_match() {
        let config = r#"{
            "rules": {"device_id": {"type": "pattern", "pattern": "d/[a-f0-9]{12}",
                                    "redaction": {"method": "hash"}}},
            "applications": {"$string": ["device_id"]}
        }"#;
        let a = scrub(config, json!({"message": "device d/0123456789ab failed"}));
        let b = scrub(config, json!({"message": "device d/0123456789ab failed"}));
        let text = a["message"].as_str().unwrap();
        assert!(!text.contains("0123456789ab"), "{text}");
        assert_eq!(a, b, "hashes are stable");
    }

    #[test]
    fn schema_selectors_expand_to_event_paths() {
        let config = r#"{"applications": {"$frame.vars.secret_thing": ["@anything:remove"],
                                          "$http.headers.x-custom": ["@anything:replace"]}}"#;
        let out = scrub(
            config,
            json!({
                "exception": {"values": [{"stacktrace": {"frames": [
                    {"function": "f", "vars": {"secret_thing": "s3cr3t", "ok": 1}}]}}]},
                "request": {"headers": {"X-Custom": "private", "Accept": "*/*"}}
            }),
        );
        let frame = &out["exception"]["values"][0]["stacktrace"]["frames"][0];
        assert!(frame["vars"].get("secret_thing").is_none());
        assert_eq!(frame["vars"]["ok"], 1);
        assert_eq!(out["request"]["headers"]["X-Custom"], "[Filtered]");
        assert_eq!(out["request"]["headers"]["Accept"], "*/*");
    }

    #[test]
    fn password_and_redact_pair_rules_match_key_names() {
        let config = r#"{
            "rules": {"tokens": {"type": "redact_pair", "keyPattern": "(?i)^(x_token|api_secret)$",
                                 "redaction": {"method": "replace", "text": "[gone]"}}},
            "applications": {"**": ["@password", "tokens"]}
        }"#;
        let out = scrub(
            config,
            json!({"extra": {"Password": "p", "x_token": "t", "api_secret": "s", "name": "n"}}),
        );
        assert!(out["extra"].get("Password").is_none());
        assert_eq!(out["extra"]["x_token"], "[gone]");
        assert_eq!(out["extra"]["api_secret"], "[gone]");
        assert_eq!(out["extra"]["name"], "n");
    }

    #[test]
    fn builtin_defaults_follow_relay() {
        let out = scrub(
            r#"{"applications": {"$string": ["@email", "@creditcard:mask", "@userpath"]}}"#,
            json!({"a": "mail bob@example.com", "b": "card 4111 1111 1111 1111",
                   "c": "at /home/alice/app.py"}),
        );
        assert_eq!(out["a"], "mail [email]");
        let card = out["b"].as_str().unwrap();
        assert!(
            !card.contains("4111 1111 1111 1111") && card.contains('*'),
            "{card}"
        );
        assert_eq!(out["c"], "at [user]/app.py");
    }

    #[test]
    fn or_selectors_become_one_rule_per_alternative() {
        let out = scrub(
            r#"{"applications": {"extra.a || extra.'b.c'": ["@anything:remove"]}}"#,
            json!({"extra": {"a": 1, "b.c": 2, "d": 3}}),
        );
        assert_eq!(out, json!({"extra": {"d": 3}}));
    }

    #[test]
    fn a_whole_project_config_is_accepted() {
        let import = import(
            r#"{"config": {"piiConfig": {"applications": {"$string": ["@email"]}}}}"#,
            "project.json",
        )
        .unwrap();
        assert_eq!(import.policy.rules.len(), 1);
    }

    #[test]
    fn unmappable_parts_are_noted_not_dropped_silently() {
        let import = import(
            r#"{"rules": {"r": {"type": "pattern", "pattern": "x(y)", "replaceGroups": [1]}},
                "applications": {"!extra.safe": ["@ip"], "$string": ["r"]}}"#,
            "relay.json",
        )
        .unwrap();
        assert_eq!(import.policy.rules.len(), 1);
        assert!(import.notes.iter().any(|n| n.contains("negation")));
        assert!(import.notes.iter().any(|n| n.contains("replaceGroups")));
    }

    #[test]
    fn errors_point_at_the_offending_name() {
        let err = import(
            "{\n  \"applications\": {\n    \"$string\": [\"nope\"]\n  }\n}",
            "relay.json",
        )
        .unwrap_err();
        assert_eq!((err.line, err.column), (3, 17), "{err}");
        assert!(err.message.contains("unknown rule \"nope\""));
        let err = import("{\"rules\": [", "relay.json").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("invalid JSON"));
        let err = import(r#"{"applications": {"$bogus.x": ["@ip"]}}"#, "r.json").unwrap();
        assert!(
            err.notes
                .iter()
                .any(|n| n.contains("unknown selector type"))
        );
    }
}
