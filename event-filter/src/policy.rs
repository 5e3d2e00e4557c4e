//! The data policy: one TOML file that the scrubber, the auditor, fake-sentry and the harness
//! all read.
//!
//! ```toml
//! extends = "python-sdk"            # start from a preset (optional)
//! meta_remarks = true               # note each change in the event's `_meta`, as Sentry does
//!
//! [[rule]]
//! name = "frame passwords"
//! path = "exception.values.*.stacktrace.frames.*.vars.{password,secret}"
//! action = "mask"                   # remove | mask | mask_keep | hash | scrub_query
//!                                   # | scrub_cookies | strip_url | replace
//!
//! [[rule]]
//! name = "emails anywhere"
//! detectors = ["email"]             # act on detector hits inside strings only
//! action = "hash"
//! key_env = "EVENT_FILTER_HASH_KEY"
//!
//! [[detector]]                      # user-defined detectors, usable by name
//! name = "order_id"
//! pattern = "ORD-[0-9]{8}"
//!
//! [audit]
//! detectors = ["all"]               # findings wherever these match ("secrets": every
//!                                   # secret family; a family by name: "stripe_secret_key")
//! allow = ["exception.**", "level"] # strict audit: any other path is a finding
//! ```
//!
//! Parsing keeps the source so every error names its line and column, including errors found
//! after TOML parsing (a bad path, an unknown action or detector).

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::action::Action;
use crate::detect::{Detector, DetectorKind};
use crate::path::PathSelector;
use crate::presets;

/// A policy error, located in its source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct PolicyError {
    /// The file name, preset name or `<policy>`.
    pub origin: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One scrubbing rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Shared with every change the rule makes.
    pub name: Arc<str>,
    /// Where it applies; `None` means everywhere (only with detectors).
    pub path: Option<PathSelector>,
    pub action: Action,
    /// When set, the action applies only to what these detectors find inside strings.
    pub detectors: Vec<Detector>,
}

/// Audit settings.
#[derive(Debug, Clone, Default)]
pub struct AuditSettings {
    /// Detectors whose hits anywhere are findings.
    pub detectors: Vec<Detector>,
    /// When set, every leaf path not matched by one of these is a finding.
    pub allow: Option<Vec<PathSelector>>,
}

/// A parsed, validated policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub audit: AuditSettings,
    /// Record every change in the event's `_meta` as Sentry does (`meta_remarks = true`), so
    /// Sentry's UI shows which rule removed or replaced a value.
    pub meta_remarks: bool,
    /// Relay PII configs, applied in order after `rules` with Relay's own semantics (see
    /// [`crate::relay`]); set when a policy is imported from a Relay config or from legacy
    /// data-scrubbing settings (a project with both has two, applied as Relay does).
    pub relay: Vec<std::sync::Arc<crate::relay::PiiEngine>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    extends: Option<Spanned<String>>,
    meta_remarks: Option<bool>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default, rename = "detector")]
    detectors: Vec<RawDetector>,
    audit: Option<RawAudit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    path: Option<Spanned<String>>,
    action: Spanned<String>,
    #[serde(default)]
    detectors: Vec<Spanned<String>>,
    #[serde(default)]
    case_insensitive: bool,
    text: Option<String>,
    keep: Option<usize>,
    #[serde(default)]
    from_end: bool,
    mask_char: Option<char>,
    key: Option<String>,
    key_env: Option<Spanned<String>>,
    names: Option<Vec<String>>,
    pattern: Option<Spanned<String>>,
    with: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetector {
    name: Spanned<String>,
    pattern: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    #[serde(default)]
    detectors: Vec<Spanned<String>>,
    allow: Option<Vec<Spanned<String>>>,
}

/// Turns byte offsets into line and column numbers (1-based, columns in characters).
pub(crate) struct Locator<'a> {
    pub(crate) origin: &'a str,
    pub(crate) source: &'a str,
}

impl Locator<'_> {
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        let offset = span.start.min(self.source.len());
        let before = self.source.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        PolicyError {
            origin: self.origin.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl Policy {
    /// Parses a policy from TOML text; `origin` names it in errors (a file name).
    pub fn from_toml(source: &str, origin: &str) -> Result<Self, PolicyError> {
        let at = Locator { origin, source };
        let raw: RawPolicy = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            at.error(span, e.message().to_string())
        })?;
        let mut policy = match &raw.extends {
            Some(name) => presets::load(name.get_ref())
                .ok_or_else(|| {
                    at.error(
                        name.span(),
                        format!(
                            "unknown preset {:?} (known: {})",
                            name.get_ref(),
                            presets::NAMES.join(", ")
                        ),
                    )
                })?
                .map_err(|e| at.error(name.span(), format!("preset {:?}: {e}", name.get_ref())))?,
            None => Policy::default(),
        };
        if let Some(meta_remarks) = raw.meta_remarks {
            policy.meta_remarks = meta_remarks;
        }
        let mut custom = Vec::new();
        for d in &raw.detectors {
            if builtin_kind(d.name.get_ref()).is_some()
                || Detector::secret(d.name.get_ref()).is_some()
            {
                return Err(at.error(
                    d.name.span(),
                    format!("{:?} is the name of a built-in detector", d.name.get_ref()),
                ));
            }
            let detector = Detector::custom(d.name.get_ref(), d.pattern.get_ref())
                .map_err(|e| at.error(d.pattern.span(), e.to_string()))?;
            custom.push(detector);
        }
        let resolve = |names: &[Spanned<String>]| -> Result<Vec<Detector>, PolicyError> {
            let mut out = Vec::new();
            for name in names {
                match name.get_ref().as_str() {
                    "all" => out.extend(crate::detect::builtin_detectors()),
                    "secrets" => out.push(Detector::secrets()),
                    other => {
                        let found = builtin_kind(other)
                            .and_then(Detector::builtin)
                            .or_else(|| Detector::secret(other))
                            .or_else(|| custom.iter().find(|d| d.name() == other).cloned())
                            .ok_or_else(|| {
                                at.error(name.span(), format!("unknown detector {other:?}"))
                            })?;
                        out.push(found);
                    }
                }
            }
            Ok(out)
        };
        for (i, rule) in raw.rules.iter().enumerate() {
            let name = rule
                .name
                .clone()
                .unwrap_or_else(|| format!("rule {}", i + 1));
            let path = match &rule.path {
                Some(p) => Some(
                    p.get_ref()
                        .parse::<PathSelector>()
                        .map_err(|e| {
                            let start = p.span().start + 1 + e.column.saturating_sub(1);
                            at.error(start..start, format!("invalid path: {}", e.message))
                        })?
                        .case_insensitive(rule.case_insensitive),
                ),
                None => None,
            };
            let detectors = resolve(&rule.detectors)?;
            if path.is_none() && detectors.is_empty() {
                return Err(at.error(
                    rule.action.span(),
                    format!("rule {name:?} needs a path, detectors, or both"),
                ));
            }
            let action = build_action(rule, &at)?;
            policy.rules.push(Rule {
                name: name.into(),
                path,
                action,
                detectors,
            });
        }
        if let Some(audit) = &raw.audit {
            policy.audit.detectors.extend(resolve(&audit.detectors)?);
            if let Some(allow) = &audit.allow {
                let mut selectors = policy.audit.allow.take().unwrap_or_default();
                for p in allow {
                    selectors.push(p.get_ref().parse::<PathSelector>().map_err(|e| {
                        let start = p.span().start + 1 + e.column.saturating_sub(1);
                        at.error(start..start, format!("invalid allow path: {}", e.message))
                    })?);
                }
                policy.audit.allow = Some(selectors);
            }
        }
        Ok(policy)
    }

    /// Reads and parses a policy file: TOML, or a Relay PII config when the name ends in
    /// `.json` (see [`crate::relay`]; use [`crate::relay::import`] to see what did not map).
    pub fn from_file(path: &std::path::Path) -> Result<Self, PolicyError> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| PolicyError {
            origin: origin.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the policy: {e}"),
        })?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return crate::relay::import(&source, &origin).map(|import| import.policy);
        }
        Self::from_toml(&source, &origin)
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Self, PolicyError> {
        presets::load(name).unwrap_or_else(|| {
            Err(PolicyError {
                origin: name.to_string(),
                line: 0,
                column: 0,
                message: format!("unknown preset (known: {})", presets::NAMES.join(", ")),
            })
        })
    }
}

/// The built-in detector kind with this name, if any.
fn builtin_kind(name: &str) -> Option<DetectorKind> {
    name.parse::<DetectorKind>()
        .ok()
        .filter(|kind| !matches!(kind, DetectorKind::Custom | DetectorKind::Secret))
}

fn build_action(rule: &RawRule, at: &Locator<'_>) -> Result<Action, PolicyError> {
    let span = rule.action.span();
    let action = match rule.action.get_ref().as_str() {
        "remove" => Action::Remove,
        "mask" => Action::Mask {
            text: rule.text.clone().unwrap_or_else(|| "[Filtered]".into()),
        },
        "mask_keep" => Action::MaskKeep {
            keep: rule.keep.unwrap_or(0),
            from_end: rule.from_end,
            mask_char: rule.mask_char.unwrap_or('*'),
        },
        "hash" => {
            let key = match (&rule.key, &rule.key_env) {
                (Some(key), None) => key.clone().into_bytes(),
                (None, Some(var)) => std::env::var(var.get_ref())
                    .map_err(|_| {
                        at.error(
                            var.span(),
                            format!("environment variable {:?} is not set", var.get_ref()),
                        )
                    })?
                    .into_bytes(),
                _ => {
                    return Err(at.error(
                        span,
                        "action \"hash\" needs exactly one of `key` or `key_env`",
                    ));
                }
            };
            if key.is_empty() {
                return Err(at.error(span, "the hash key is empty"));
            }
            Action::Hash { key }
        }
        "scrub_query" => Action::ScrubQuery {
            names: rule.names.clone().unwrap_or_default(),
        },
        "scrub_cookies" => Action::ScrubCookies {
            names: rule.names.clone().unwrap_or_default(),
        },
        "strip_url" => Action::StripUrl,
        "replace" => {
            let pattern = rule
                .pattern
                .as_ref()
                .ok_or_else(|| at.error(span.clone(), "action \"replace\" needs a `pattern`"))?;
            let regex = regex::Regex::new(pattern.get_ref())
                .map_err(|e| at.error(pattern.span(), format!("invalid pattern: {e}")))?;
            Action::Replace {
                pattern: regex,
                with: rule.with.clone().unwrap_or_else(|| "[Filtered]".into()),
            }
        }
        other => {
            return Err(at.error(
                span,
                format!(
                    "unknown action {other:?} (expected remove, mask, mask_keep, hash, scrub_query, scrub_cookies, strip_url or replace)"
                ),
            ));
        }
    };
    Ok(action)
}
