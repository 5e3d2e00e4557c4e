//! Applying a compiled config to an event the way Relay's PII processor does.
//!
//! The event is walked from the top. At each value, every application whose selector matches
//! the value's path runs its rules in order:
//! - a container or number can only be deleted (by `anything`, or by a rule that finds its
//!   key); booleans and null are never touched;
//! - a string (but not `""`, `"true"`, `"false"`, `"null"` or `"undefined"`) is cut into
//!   chunks: text, and the redactions earlier rules put in. Each rule searches the text with
//!   the redactions standing in as NUL characters, so no rule rewrites another's output.
//!
//! A two-element array whose first element is a string is also read as a `[key, value]` pair,
//! its value scrubbed under that key first (Relay does this for every such array). Cookie and
//! query strings in `request` are read as the pair lists Relay parses them into, and written
//! back as such lists when a rule changes them. When scrubbing leaves `user.ip_address` no
//! longer an IP and the user has no other identity, the value moves to `user.id`, as Relay
//! keeps users countable.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;

use super::config::PiiEngine;
use super::rules::{CompiledRule, Finder, Match, Redaction, Replace};
use super::schema::{Pii, Place, TypeSet, ValueType};
use super::selector::Step;
use crate::excerpt::Excerpt;
use crate::path::JsonPath;
use crate::scrub::Change;

/// Values nested deeper than this are left as they are (ingest bounds depth far below it).
const MAX_DEPTH: usize = 256;

/// Strings Relay never scrubs.
const NEVER_SCRUBBED: [&str; 5] = ["", "true", "false", "null", "undefined"];

#[derive(Debug, Clone)]
enum Chunk {
    Text(String),
    Redaction(String),
}

/// A rule asked for the whole value to go.
struct Delete;

impl PiiEngine {
    /// Scrubs `event` in place, appending what changed to `changes`.
    pub(crate) fn strip(&self, event: &mut Value, changes: &mut Vec<Change>) {
        if self.is_empty() {
            return;
        }
        let Some(map) = event.as_object_mut() else {
            return;
        };
        let mut walk = Walk {
            engine: self,
            steps: Vec::new(),
            norm: Vec::new(),
            json: JsonPath::default(),
            changes,
            carried: None,
            last_chunks: None,
        };
        walk.object_fields(map, Place::root());
    }
}

struct Walk<'a> {
    engine: &'a PiiEngine,
    /// Relay's path to the current value.
    steps: Vec<Step>,
    /// The same path with array positions as `*`, for the schema.
    norm: Vec<String>,
    /// Where the current value is in the JSON as sent.
    json: JsonPath,
    changes: &'a mut Vec<Change>,
    /// The chunks a string was left in by its pass as a pair's value, for its second pass by
    /// position (Relay keeps them in the value's metadata, so that pass does not rescan them).
    carried: Option<(JsonPath, Vec<Chunk>)>,
    /// The chunks of the string scrubbed last.
    last_chunks: Option<Vec<Chunk>>,
}

impl Walk<'_> {
    fn object_fields(&mut self, map: &mut Map<String, Value>, place: Place) {
        let at_root = self.steps.is_empty();
        let at_contexts = self.norm.len() == 1 && self.norm[0] == "contexts";
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let Some(value) = map.get_mut(&key) else {
                continue;
            };
            self.json.push_key(key.clone());
            if at_root {
                self.root_field(&key, value);
            } else {
                let child = place.child(Some(&key), at_contexts);
                self.enter_key(&key, value, child);
            }
            self.json.pop();
        }
    }

    /// A top-level field, where SDKs' shapes and Relay's differ.
    fn root_field(&mut self, key: &str, value: &mut Value) {
        let root = Place::root();
        match (key, &*value) {
            ("message", Value::String(_)) => {
                // Relay reads a top-level message as the log entry's formatted text.
                let logentry = root.child(Some("logentry"), false);
                self.push(Some("logentry"), None, TypeSet::of(ValueType::LogEntry));
                let formatted = logentry.child(Some("formatted"), false);
                self.enter_key("formatted", value, formatted);
                self.pop();
            }
            ("exception" | "breadcrumbs" | "threads", Value::Array(_)) => {
                // The list form stands for `{"values": [...]}`.
                let outer = root.child(Some(key), false);
                self.push(Some(key), None, TypeSet::of(ValueType::Object));
                let values = outer.child(Some("values"), false);
                self.enter_key("values", value, values);
                self.pop();
            }
            ("user", Value::Object(_)) => {
                let before = ip_of(value);
                let place = root.child(Some("user"), false);
                self.enter_key(key, value, place);
                move_scrubbed_ip(value, before);
            }
            _ => {
                let place = root.child(Some(key), false);
                self.enter_key(key, value, place);
            }
        }
    }

    fn push(&mut self, key: Option<&str>, index: Option<usize>, types: TypeSet) {
        self.steps.push(Step {
            key: key.map(str::to_lowercase),
            index,
            types,
        });
        self.norm
            .push(key.map_or_else(|| "*".to_string(), str::to_string));
    }

    fn pop(&mut self) {
        self.steps.pop();
        self.norm.pop();
    }

    fn enter_key(&mut self, key: &str, value: &mut Value, place: Place) {
        self.push(Some(key), None, TypeSet::default());
        self.visit(value, Some(key), place);
        self.pop();
    }

    /// Scrubs the value the last step points at. Returns whether any rule matched it.
    fn visit(&mut self, value: &mut Value, key: Option<&str>, place: Place) -> bool {
        if self.steps.len() > MAX_DEPTH {
            return false;
        }
        let types = self.types_of(value);
        if let Some(last) = self.steps.last_mut() {
            last.types = types;
        }
        match value {
            Value::Null | Value::Bool(_) => false,
            Value::String(text) => {
                if self.is_pair_string() && place.pii != Pii::False {
                    return self.pair_string(value, place);
                }
                if self.is_image_path() {
                    return self.image_path(text, key, place);
                }
                match self.string(text, key, place) {
                    Ok(matched) => matched,
                    Err(Delete) => {
                        *value = Value::Null;
                        true
                    }
                }
            }
            _ => {
                if self.delete_by_rule(value, key, place) {
                    return true;
                }
                match value {
                    Value::Object(map) => {
                        self.object_fields(map, place);
                        false
                    }
                    Value::Array(items) => {
                        self.array(items, place);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    /// The types Relay gives the current value: its JSON kind and its place in the schema.
    fn types_of(&self, value: &Value) -> TypeSet {
        let kind = match value {
            Value::String(_) => ValueType::String,
            Value::Number(_) => ValueType::Number,
            Value::Bool(_) => ValueType::Boolean,
            Value::Array(_) if self.is_pair_list() => ValueType::Object,
            Value::Array(_) => ValueType::Array,
            Value::Object(_) | Value::Null => ValueType::Object,
        };
        let mut types = TypeSet::of(kind);
        if let Some(schema) = schema_type(&self.norm) {
            types = types.with(schema);
        }
        types
    }

    fn is_pair_list(&self) -> bool {
        let norm: Vec<&str> = self.norm.iter().map(String::as_str).collect();
        matches!(
            norm.as_slice(),
            ["request", "headers" | "cookies" | "query_string"]
                | ["tags"]
                | ["contexts", "response", "headers" | "cookies"]
        )
    }

    /// Paths to files whose name Relay keeps: a frame's `filename` and `abs_path`, a debug
    /// image's `code_file` and `debug_file`.
    fn is_image_path(&self) -> bool {
        let norm: Vec<&str> = self.norm.iter().map(String::as_str).collect();
        match norm.as_slice() {
            ["debug_meta", "images", "*", "code_file" | "debug_file"] => true,
            [owner @ .., "frames", "*", "filename" | "abs_path"] => {
                schema_type(&self.norm[..owner.len() + 2]) == Some(ValueType::Frame)
            }
            _ => false,
        }
    }

    /// A file path: everything up to the last separator is scrubbed, the file name kept; a
    /// deleted path becomes the bare file name. Without a separator, nothing is scrubbed.
    fn image_path(&mut self, text: &mut String, key: Option<&str>, place: Place) -> bool {
        let Some(at) = text.rfind(['/', '\\']) else {
            return false;
        };
        let name = text.split_off(at);
        match self.string(text, key, place) {
            Ok(matched) => {
                text.push_str(&name);
                matched
            }
            Err(Delete) => {
                *text = name[1..].to_string();
                true
            }
        }
    }

    fn is_pair_string(&self) -> bool {
        let norm: Vec<&str> = self.norm.iter().map(String::as_str).collect();
        matches!(norm.as_slice(), ["request", "cookies" | "query_string"])
    }

    /// Runs the rules that match here on a container or number; true when one deleted it.
    fn delete_by_rule(&mut self, value: &mut Value, key: Option<&str>, place: Place) -> bool {
        for (selector, rules) in &self.engine.applications {
            if !selector.matches(&self.steps, place.pii) {
                continue;
            }
            for rule in rules {
                if apply_rule(rule, key, None).is_err() {
                    self.record(rule, Excerpt::of(value));
                    *value = Value::Null;
                    return true;
                }
            }
        }
        false
    }

    /// Scrubs a string in place: whether a rule matched it, or that one deleted it.
    fn string(
        &mut self,
        text: &mut String,
        key: Option<&str>,
        place: Place,
    ) -> Result<bool, Delete> {
        if place.pii == Pii::False || NEVER_SCRUBBED.contains(&text.as_str()) {
            return Ok(false);
        }
        let original = std::mem::take(text);
        let carried = self
            .carried
            .as_ref()
            .is_some_and(|(at, _)| *at == self.json);
        let mut chunks = match self.carried.take() {
            Some((_, chunks)) if carried => chunks,
            other => {
                self.carried = other;
                vec![Chunk::Text(original.clone())]
            }
        };
        let mut matched = false;
        for (selector, rules) in &self.engine.applications {
            if !selector.matches(&self.steps, place.pii) {
                continue;
            }
            for rule in rules {
                match apply_rule(rule, key, Some(&mut chunks)) {
                    Ok(false) => {}
                    Ok(true) => {
                        matched = true;
                        self.record(rule, Excerpt::of_text(&original));
                    }
                    Err(Delete) => {
                        self.record(rule, Excerpt::of_text(&original));
                        return Err(Delete);
                    }
                }
            }
        }
        *text = joined(&chunks);
        self.last_chunks = Some(chunks);
        Ok(matched)
    }

    fn array(&mut self, items: &mut [Value], place: Place) {
        if self.is_pair_list() {
            // A typed pair list (headers, cookies, tags, ...): each value is scrubbed under its
            // name; the pairs themselves are not values Relay selects.
            for (index, item) in items.iter_mut().enumerate() {
                match item {
                    Value::Array(pair) if pair.len() == 2 && pair[0].is_string() => {
                        let name = pair[0].as_str().unwrap_or_default().to_string();
                        let child = place.child(Some(&name), false);
                        self.json.push_index(index);
                        self.json.push_index(1);
                        self.push(Some(&name), None, TypeSet::default());
                        self.visit(&mut pair[1], Some(&name), child);
                        self.pop();
                        self.json.pop();
                        self.json.pop();
                    }
                    _ => self.enter_index(index, item, place.child(None, false)),
                }
            }
            return;
        }
        // Any other `[key, value]` pair: the value is scrubbed under the key first, then every
        // element by position, as Relay does.
        if items.len() == 2
            && let Some(Value::String(pair_key)) = items.first()
        {
            let pair_key = pair_key.clone();
            self.json.push_index(1);
            self.push(Some(&pair_key), None, TypeSet::default());
            self.last_chunks = None;
            self.visit(&mut items[1], Some(&pair_key), place.inherited());
            if items[1].is_string()
                && let Some(chunks) = self.last_chunks.take()
            {
                self.carried = Some((self.json.clone(), chunks));
            }
            self.pop();
            self.json.pop();
        }
        for (index, item) in items.iter_mut().enumerate() {
            let child = place.child(None, false);
            self.enter_index(index, item, child);
        }
    }

    fn enter_index(&mut self, index: usize, value: &mut Value, place: Place) {
        self.json.push_index(index);
        self.push(None, Some(index), TypeSet::default());
        self.visit(value, None, place);
        self.pop();
        self.json.pop();
    }

    /// A cookie or query string: scrubbed as the pairs Relay parses it into, and written back
    /// as that pair list when anything changed.
    fn pair_string(&mut self, value: &mut Value, place: Place) -> bool {
        let Value::String(text) = &*value else {
            return false;
        };
        let cookies = self.norm.last().is_some_and(|k| k == "cookies");
        let mut pairs: Vec<Value> = if cookies {
            parse_cookies(text)
        } else {
            parse_query(text)
        }
        .into_iter()
        .map(|(k, v)| Value::Array(vec![Value::String(k), Value::String(v)]))
        .collect();
        if let Some(last) = self.steps.last_mut() {
            last.types = TypeSet::of(ValueType::Object);
        }
        let mut changed = false;
        for pair in &mut pairs {
            let Value::Array(kv) = pair else { continue };
            let Some(Value::String(name)) = kv.first().cloned() else {
                continue;
            };
            let child = place.child(Some(&name), false);
            self.push(Some(&name), None, TypeSet::default());
            let before = kv[1].clone();
            self.visit(&mut kv[1], Some(&name), child);
            changed |= kv[1] != before;
            self.pop();
        }
        if changed {
            *value = Value::Array(pairs);
        }
        changed
    }

    fn record(&mut self, rule: &CompiledRule, excerpt: Excerpt) {
        self.changes.push(Change {
            location: self.json.clone(),
            rule: Arc::clone(&rule.origin),
            action: rule.redaction.name(),
            detector: None,
            excerpt,
        });
    }
}

/// The schema type of the value at `norm`, where Relay has one.
fn schema_type(norm: &[String]) -> Option<ValueType> {
    let n: Vec<&str> = norm.iter().map(String::as_str).collect();
    let stacktrace_owner = |owner: &[&str]| {
        matches!(
            owner,
            [] | ["exception", "values", "*"] | ["threads", "values", "*"]
        )
    };
    Some(match n.as_slice() {
        [] => ValueType::Event,
        ["exception", "values", "*"] => ValueType::Exception,
        ["threads", "values", "*"] => ValueType::Thread,
        ["breadcrumbs", "values", "*"] => ValueType::Breadcrumb,
        ["spans", "*"] => ValueType::Span,
        ["request"] => ValueType::Request,
        ["user"] => ValueType::User,
        ["sdk"] => ValueType::ClientSdkInfo,
        ["logentry"] => ValueType::LogEntry,
        ["logentry", "formatted" | "message"] => ValueType::Message,
        [owner @ .., "stacktrace" | "raw_stacktrace"] if stacktrace_owner(owner) => {
            ValueType::Stacktrace
        }
        [owner @ .., "stacktrace" | "raw_stacktrace", "frames", "*"] if stacktrace_owner(owner) => {
            ValueType::Frame
        }
        _ => return None,
    })
}

/// Applies one rule to a value: `None` for a container or number (which it can only delete),
/// else the string's chunks. `Ok(true)` when it found something.
fn apply_rule(
    rule: &CompiledRule,
    key: Option<&str>,
    mut chunks: Option<&mut Vec<Chunk>>,
) -> Result<bool, Delete> {
    let redacts_text = rule.redaction.redacts_text();
    if rule.anything && (chunks.is_none() || !redacts_text) {
        return Err(Delete);
    }
    let mut found = false;
    for finder in &rule.finders {
        match finder.how {
            Match::Value => {
                if let Some(chunks) = chunks.as_deref_mut() {
                    found |= apply_regex(chunks, finder, &rule.redaction);
                }
            }
            Match::Key | Match::KeyValue => {
                if finder.regex.is_match(key.unwrap_or("")) {
                    match chunks.as_deref_mut() {
                        Some(chunks) if redacts_text => {
                            let whole = Finder {
                                how: Match::Value,
                                regex: super::rules::anything_regex(),
                                replace: Replace::WholeValue,
                            };
                            found |= apply_regex(chunks, &whole, &rule.redaction);
                        }
                        _ => return Err(Delete),
                    }
                } else if finder.how == Match::KeyValue
                    && let Some(chunks) = chunks.as_deref_mut()
                {
                    found |= apply_regex(chunks, finder, &rule.redaction);
                }
            }
        }
    }
    Ok(found)
}

fn joined(chunks: &[Chunk]) -> String {
    chunks
        .iter()
        .map(|c| match c {
            Chunk::Text(t) | Chunk::Redaction(t) => t.as_str(),
        })
        .collect()
}

/// One regex over a string's chunks; true when it matched.
fn apply_regex(chunks: &mut Vec<Chunk>, finder: &Finder, redaction: &Redaction) -> bool {
    let mut search = String::new();
    let mut has_text = false;
    for chunk in chunks.iter() {
        match chunk {
            Chunk::Text(text) => {
                has_text = true;
                search.extend(text.chars().filter(|c| *c != '\0'));
            }
            Chunk::Redaction(_) => search.push('\0'),
        }
    }
    if !has_text || !finder.regex.is_match(&search) {
        return false;
    }
    // Earlier redactions, in order, to put back where their NULs are.
    let mut earlier: std::collections::VecDeque<Chunk> = chunks
        .iter()
        .filter(|c| matches!(c, Chunk::Redaction(_)))
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(chunks.len() + 2);
    match &finder.replace {
        Replace::WholeValue => push_replacement(&mut out, &search, redaction),
        Replace::Groups(groups) => {
            let mut pos = 0;
            for captures in finder.regex.captures_iter(&search) {
                for (index, group) in captures.iter().enumerate() {
                    let Some(group) = group else { continue };
                    // Groups that overlap an earlier replacement are skipped (Relay panics).
                    if !groups.contains(&index) || group.start() < pos {
                        continue;
                    }
                    text_between(&search[pos..group.start()], &mut out, &mut earlier);
                    push_replacement(&mut out, group.as_str(), redaction);
                    pos = group.end();
                }
            }
            text_between(&search[pos..], &mut out, &mut earlier);
        }
    }
    *chunks = out;
    true
}

/// Unmatched text, with the earlier redactions put back at their NULs.
fn text_between(text: &str, out: &mut Vec<Chunk>, earlier: &mut std::collections::VecDeque<Chunk>) {
    if text.is_empty() {
        return;
    }
    let mut pieces = text.split('\0');
    if let Some(first) = pieces.next() {
        out.push(Chunk::Text(first.to_string()));
    }
    for piece in pieces {
        if let Some(redaction) = earlier.pop_front() {
            out.push(redaction);
        }
        out.push(Chunk::Text(piece.to_string()));
    }
}

fn push_replacement(out: &mut Vec<Chunk>, matched: &str, redaction: &Redaction) {
    let text = match redaction {
        Redaction::Default | Redaction::Remove => String::new(),
        Redaction::Mask => "*".repeat(matched.chars().count()),
        Redaction::Hash => hash(matched),
        Redaction::Replace(text) => text.clone(),
        Redaction::Other => return,
    };
    out.push(Chunk::Redaction(text));
}

/// Relay's pseudonym: HMAC-SHA1 with an empty key, in upper-case hex.
fn hash(text: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"").expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

fn ip_of(user: &Value) -> Option<bool> {
    user.get("ip_address").map(is_ip)
}

fn is_ip(value: &Value) -> bool {
    match value {
        Value::String(s) => s == "{{auto}}" || s.parse::<std::net::IpAddr>().is_ok(),
        _ => false,
    }
}

/// Relay's rule for a scrubbed IP: when `user.ip_address` was an IP, is one no longer, and the
/// user has no `id`, `username` or `email`, its value becomes the user's id.
fn move_scrubbed_ip(user: &mut Value, before: Option<bool>) {
    let Some(map) = user.as_object_mut() else {
        return;
    };
    let was_valid = before.unwrap_or(true);
    let still_valid = map.get("ip_address").is_none_or(is_ip);
    let has_identity = ["id", "username", "email"]
        .iter()
        .any(|k| map.get(*k).is_some_and(|v| !v.is_null()));
    if was_valid && !still_valid && !has_identity {
        let ip = map
            .insert("ip_address".into(), Value::Null)
            .unwrap_or(Value::Null);
        map.insert("id".into(), ip);
    }
}

/// A cookie header's pairs as Relay reads them (values percent-decoded).
fn parse_cookies(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|part| {
            let part = part.trim();
            let (name, value) = part.split_once('=')?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s.trim())
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let name = decode(name);
            (!name.is_empty()).then(|| (name, decode(value)))
        })
        .collect()
}

/// A query string's pairs as Relay reads them (form-decoded, without a leading `?`).
fn parse_query(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.strip_prefix('?').unwrap_or(text).as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
