//! Applying a policy to an event: the `before_send` half of event-filter.
//!
//! Rules run in policy order. A rule with a path acts on what the path selects; a rule with
//! detectors acts only on what they find inside strings (under its path, or anywhere). Every
//! change is reported (path, rule, action, detector). A rule that fails never costs the event:
//! the failure becomes a diagnostic, the value it was working on becomes [`ERROR_MARKER`], and
//! the remaining rules still run, as Fillmore does.

use std::borrow::Cow;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::Value;

use crate::action::{Action, Outcome};
use crate::detect::find_all;
use crate::excerpt::Excerpt;
use crate::path::{JsonPath, MatchPath, walk_strings_mut_lazy};
use crate::policy::{Policy, Rule};

/// Where Sentry events keep metadata about their values.
const META_KEY: &str = "_meta";

/// Sentry's remark type for what an action did: `x` removed, `s` substituted, `m` masked,
/// `p` pseudonymised.
fn remark_type(action: &str) -> &'static str {
    match action {
        "remove" => "x",
        "mask_keep" => "m",
        "hash" => "p",
        _ => "s",
    }
}

/// Adds `[rule, type]` to the remarks of `at` in a `_meta` tree (`{"a": {"b": {"": {"rem":
/// [...]}}}}`, array indexes as string keys), once.
fn add_remark(meta: &mut Value, at: &JsonPath, rule: &str, action: &str) {
    let mut node = meta;
    for elem in at.iter() {
        let key = match elem {
            crate::path::PathElem::Key(k) => k.clone(),
            crate::path::PathElem::Index(i) => i.to_string(),
        };
        let Some(map) = node.as_object_mut() else {
            return;
        };
        node = map
            .entry(key)
            .or_insert_with(|| Value::Object(Default::default()));
    }
    let Some(map) = node.as_object_mut() else {
        return;
    };
    let own = map
        .entry(String::new())
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(own) = own.as_object_mut() else {
        return;
    };
    let remarks = own.entry("rem").or_insert_with(|| Value::Array(Vec::new()));
    let remark = serde_json::json!([rule, remark_type(action)]);
    if let Some(list) = remarks.as_array_mut()
        && !list.contains(&remark)
    {
        list.push(remark);
    }
}

/// What a value becomes when the rule working on it fails.
pub const ERROR_MARKER: &str = "[event-filter: scrub error]";

/// One change the scrubber made.
///
/// Recording one allocates only its location: the rule's and the detector's names are shared,
/// and the path's text and the excerpt are spelled out when read ([`Change::path`], the
/// excerpt's `Display`, or serialisation), which a `before_send` that never reads its report
/// never pays for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where the value was.
    pub location: JsonPath,
    pub rule: Arc<str>,
    pub action: &'static str,
    /// The detector (or secret family) that found it, for a rule with detectors.
    pub detector: Option<Cow<'static, str>>,
    /// What was there before, redacted.
    pub excerpt: Excerpt,
}

impl Change {
    /// Where the value was, as a path's text (`request.headers.Authorization`).
    pub fn path(&self) -> String {
        self.location.to_string()
    }
}

/// `{"path", "rule", "action", "detector" (when there is one), "excerpt"}`, all text.
impl Serialize for Change {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Change", 5)?;
        map.serialize_field("path", &self.path())?;
        map.serialize_field("rule", &*self.rule)?;
        map.serialize_field("action", self.action)?;
        match &self.detector {
            Some(detector) => map.serialize_field("detector", detector)?,
            None => map.skip_field("detector")?,
        }
        map.serialize_field("excerpt", &self.excerpt)?;
        map.end()
    }
}

/// A rule that failed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub rule: String,
    pub path: String,
    pub message: String,
}

/// Everything one scrub did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    pub changes: Vec<Change>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Applies a [`Policy`] to events.
#[derive(Debug, Clone)]
pub struct Scrubber {
    policy: Policy,
}

impl Scrubber {
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Scrubs `event` in place.
    pub fn scrub(&self, event: &mut Value) -> ScrubReport {
        let mut report = ScrubReport::default();
        // With remarks on, rules never see `_meta`: a rule on `**.password` must not blank
        // the remark recorded under `_meta...password`.
        let existing_meta = match (self.policy.meta_remarks, event.as_object_mut()) {
            (true, Some(map)) => map.remove(META_KEY),
            _ => None,
        };
        for rule in &self.policy.rules {
            let outcome = catch_unwind(AssertUnwindSafe(|| apply_rule(rule, event, &mut report)));
            if outcome.is_err() {
                // Actions are written not to panic; this keeps a bug in one from losing events.
                report.diagnostics.push(Diagnostic {
                    rule: rule.name.to_string(),
                    path: String::new(),
                    message: "the rule panicked; later rules still ran".into(),
                });
            }
        }
        for engine in &self.policy.relay {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                engine.strip(event, &mut report.changes);
            }));
            if outcome.is_err() {
                report.diagnostics.push(Diagnostic {
                    rule: "relay".into(),
                    path: String::new(),
                    message: "the Relay PII config panicked; the event is partly scrubbed".into(),
                });
            }
        }
        if self.policy.meta_remarks
            && let Some(map) = event.as_object_mut()
        {
            let mut meta = existing_meta.unwrap_or_else(|| Value::Object(Default::default()));
            for change in &report.changes {
                add_remark(&mut meta, &change.location, &change.rule, change.action);
            }
            if meta.as_object().is_some_and(|m| !m.is_empty()) {
                map.insert(META_KEY.into(), meta);
            }
        }
        report
    }

    /// A `before_send` callback for the `sentry` crate:
    /// `ClientOptions::new().before_send(scrubber.before_send())`.
    pub fn before_send(
        self: Arc<Self>,
    ) -> impl Fn(
        sentry_types::protocol::v7::Event<'static>,
    ) -> Option<sentry_types::protocol::v7::Event<'static>>
    + Send
    + Sync
    + 'static {
        move |event| Some(self.scrub_sentry_event(event).0)
    }

    /// Scrubs a typed `sentry` event through its JSON form. If the scrubbed JSON no longer
    /// fits the event schema (a rule replaced a number with text, say), the event is not
    /// dropped: a minimal event that says so is returned instead of anything unscrubbed.
    pub fn scrub_sentry_event(
        &self,
        event: sentry_types::protocol::v7::Event<'static>,
    ) -> (sentry_types::protocol::v7::Event<'static>, ScrubReport) {
        use sentry_types::protocol::v7::Event;
        let Ok(mut value) = serde_json::to_value(&event) else {
            return (event, ScrubReport::default());
        };
        let mut report = self.scrub(&mut value);
        match serde_json::from_value::<Event<'static>>(value) {
            Ok(scrubbed) => (scrubbed, report),
            Err(err) => {
                report.diagnostics.push(Diagnostic {
                    rule: String::new(),
                    path: String::new(),
                    message: format!("the scrubbed event no longer fits the Sentry schema: {err}"),
                });
                let minimal = Event {
                    event_id: event.event_id,
                    level: event.level,
                    timestamp: event.timestamp,
                    platform: event.platform,
                    release: event.release,
                    environment: event.environment,
                    message: Some(format!(
                        "event-filter could not rebuild this event after scrubbing: {err}"
                    )),
                    ..Default::default()
                };
                (minimal, report)
            }
        }
    }
}

fn apply_rule(rule: &Rule, event: &mut Value, report: &mut ScrubReport) {
    if rule.detectors.is_empty() {
        let Some(path) = &rule.path else {
            return;
        };
        if matches!(rule.action, Action::Remove) {
            let mut excerpts = Vec::new();
            path.for_each_match_ref(event, &mut |_, value| excerpts.push(Excerpt::of(value)));
            for (removed, excerpt) in path.remove_matches(event).into_iter().zip(excerpts) {
                report.changes.push(change(rule, removed, None, excerpt));
            }
            return;
        }
        path.for_each_match_lazy(event, &mut |at, value| apply_whole(rule, at, value, report));
        return;
    }
    let mut visit = |base: &mut dyn MatchPath, value: &mut Value| {
        walk_strings_mut_lazy(value, &mut |sub, text| {
            apply_detected(rule, base, sub, text, report);
        });
    };
    match &rule.path {
        Some(path) => path.for_each_match_lazy(event, &mut visit),
        None => visit(&mut JsonPath::default(), event),
    }
}

fn joined(base: &JsonPath, sub: &JsonPath) -> JsonPath {
    JsonPath(base.0.iter().chain(sub.0.iter()).cloned().collect())
}

fn change(
    rule: &Rule,
    location: JsonPath,
    detector: Option<Cow<'static, str>>,
    excerpt: Excerpt,
) -> Change {
    Change {
        location,
        rule: Arc::clone(&rule.name),
        action: rule.action.name(),
        detector,
        excerpt,
    }
}

fn apply_whole(rule: &Rule, at: &mut dyn MatchPath, value: &mut Value, report: &mut ScrubReport) {
    // A value already masked: nothing to change, so no excerpt and no path.
    if let Action::Mask { text } = &rule.action
        && value.as_str() == Some(text.as_str())
    {
        return;
    }
    let before = Excerpt::of(value);
    match rule.action.apply(value) {
        Ok(Outcome::Changed) => {
            report
                .changes
                .push(change(rule, at.get().clone(), None, before));
        }
        Ok(Outcome::Unchanged) => {}
        Ok(Outcome::Remove) => {
            // Only `remove` asks for removal, and it is handled by `remove_matches`.
            *value = Value::Null;
            report
                .changes
                .push(change(rule, at.get().clone(), None, before));
        }
        Err(err) => {
            *value = Value::String(ERROR_MARKER.into());
            report.diagnostics.push(Diagnostic {
                rule: rule.name.to_string(),
                path: at.get().to_string(),
                message: err.to_string(),
            });
        }
    }
}

fn apply_detected(
    rule: &Rule,
    base: &mut dyn MatchPath,
    sub: &mut dyn MatchPath,
    text: &mut String,
    report: &mut ScrubReport,
) {
    let hits = find_all(&rule.detectors, text);
    if hits.is_empty() {
        return;
    }
    // Most strings have no hit: the full path is only built for those that do.
    let mut at = joined(base.get(), sub.get());
    // Hits of different detectors may overlap; the action gets disjoint ranges.
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(hits.len());
    // One change per detector (per family for secrets), with the first text it matched
    // (redacted).
    let mut names: Vec<(Cow<'static, str>, Excerpt)> = Vec::new();
    for (index, hit) in &hits {
        if let Some(name) = rule.detectors.get(*index).map(|d| d.label_of(*hit))
            && !names.iter().any(|(n, _)| *n == name)
        {
            names.push((
                name,
                Excerpt::of_text(text.get(hit.start..hit.end).unwrap_or_default()),
            ));
        }
        match ranges.last_mut() {
            Some(last) if hit.start <= last.end => last.end = last.end.max(hit.end),
            _ => ranges.push(hit.start..hit.end),
        }
    }
    match rule.action.apply_ranges(text, &ranges) {
        Ok(Outcome::Unchanged) => {}
        Ok(_) => {
            // Usually one detector: its change takes the path, the others a copy.
            let mut names = names.into_iter().peekable();
            while let Some((name, excerpt)) = names.next() {
                let location = match names.peek() {
                    Some(_) => at.clone(),
                    None => std::mem::take(&mut at),
                };
                report
                    .changes
                    .push(change(rule, location, Some(name), excerpt));
            }
        }
        Err(err) => {
            *text = ERROR_MARKER.into();
            report.diagnostics.push(Diagnostic {
                rule: rule.name.to_string(),
                path: at.to_string(),
                message: err.to_string(),
            });
        }
    }
}
