//! A Relay PII config compiled the way Relay compiles it: every application's selector parsed,
//! and its rule references resolved (custom rules first, then built-ins; `alias` and `multiple`
//! expanded, an inner rule named after the group when the group hides its members) into a set
//! ordered by rule id, each rule once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::rules::{self, Builtin, CompiledRule, Finder, Redaction};
use super::selector::{Selector, SelectorError};

/// How deep `alias` and `multiple` rules may nest (a cycle stops here too).
const MAX_RULE_NESTING: usize = 32;

/// The largest selector compiled, in bytes and in nodes. Every value of every event is matched
/// against every selector, so these bound what a hostile config costs; Sentry's own converted
/// data-scrubbing config, the largest real one, has a 2.6 KiB selector of 69 paths.
pub const MAX_SELECTOR_BYTES: usize = 64 * 1024;
pub const MAX_SELECTOR_NODES: usize = 4096;

/// A compiled Relay PII config: applications in Relay's order.
#[derive(Debug, Clone, Default)]
pub struct PiiEngine {
    pub(super) applications: Vec<(Selector, Vec<CompiledRule>)>,
}

/// Why a config cannot be compiled (Relay refuses the same configs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("selector {selector:?}: {error}")]
    Selector {
        selector: String,
        error: SelectorError,
    },
    #[error("rule {rule:?}: unknown rule type {kind:?}")]
    UnknownType { rule: String, kind: String },
    #[error("rule {rule:?}: {message}")]
    InvalidRule { rule: String, message: String },
    #[error("\"{0}\" must be an object")]
    NotAnObject(&'static str),
    #[error(
        "a selector of {bytes} bytes and {nodes} parts is over the limit \
         ({MAX_SELECTOR_BYTES} bytes, {MAX_SELECTOR_NODES} parts)"
    )]
    SelectorTooLarge { bytes: usize, nodes: usize },
}

struct Compiler<'a> {
    rules: &'a Map<String, Value>,
}

impl Compiler<'_> {
    /// Adds the leaf rules `id` stands for to `out` (keyed by id, first one kept), named after
    /// `origin` when a hiding group encloses it.
    fn collect(
        &self,
        out: &mut BTreeMap<String, CompiledRule>,
        id: &str,
        origin: Option<&str>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth > MAX_RULE_NESTING || out.contains_key(id) {
            return Ok(());
        }
        let name = origin.unwrap_or(id);
        if let Some(spec) = self.rules.get(id) {
            return self.collect_spec(out, id, name, spec, depth);
        }
        let Some(builtin) = id.strip_prefix('@').and_then(rules::builtin) else {
            // Relay ignores a reference to no rule.
            return Ok(());
        };
        match builtin {
            Builtin::Single(kind, redaction) => {
                let Some((anything, finders)) = rules::finders_of_type(kind) else {
                    return Ok(());
                };
                // A bare built-in name is an alias that hides the rule it stands for.
                insert(out, id, name, anything, finders, redaction);
            }
            Builtin::UrlauthLegacy => {
                let (finders, redaction) = rules::urlauth_legacy();
                insert(out, id, name, false, finders, redaction);
            }
            Builtin::Group(members) => {
                for member in members {
                    self.collect(out, member, origin, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn collect_spec(
        &self,
        out: &mut BTreeMap<String, CompiledRule>,
        id: &str,
        name: &str,
        spec: &Value,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let invalid = |message: &str| ConfigError::InvalidRule {
            rule: id.to_string(),
            message: message.to_string(),
        };
        let kind = spec
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no \"type\""))?;
        let redaction = rules::redaction_of(spec.get("redaction"));
        match kind {
            "alias" | "multiple" => {
                let members: Vec<&str> = if kind == "alias" {
                    let rule = spec
                        .get("rule")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("an alias needs \"rule\""))?;
                    vec![rule]
                } else {
                    spec.get("rules")
                        .and_then(Value::as_array)
                        .ok_or_else(|| invalid("a multiple rule needs \"rules\""))?
                        .iter()
                        .filter_map(Value::as_str)
                        .collect()
                };
                let hide = spec
                    .get("hideInner")
                    .or_else(|| spec.get("hide_inner"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let origin = hide.then_some(name);
                for member in members {
                    self.collect(out, member, origin, depth + 1)?;
                }
                Ok(())
            }
            "pattern" => {
                let pattern = spec
                    .get("pattern")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("a pattern rule needs \"pattern\""))?;
                let groups = match spec
                    .get("replaceGroups")
                    .or_else(|| spec.get("replace_groups"))
                {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(groups)) => Some(
                        groups
                            .iter()
                            .map(|g| {
                                g.as_u64()
                                    .filter(|g| *g <= u64::from(u8::MAX))
                                    .map(|g| g as usize)
                                    .ok_or_else(|| invalid("replaceGroups holds group numbers"))
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(_) => return Err(invalid("replaceGroups must be a list")),
                };
                // Relay ignores a pattern that does not compile.
                let finders: Vec<Finder> =
                    rules::pattern_finder(pattern, groups).into_iter().collect();
                insert(out, id, name, false, finders, redaction);
                Ok(())
            }
            "redact_pair" | "redactPair" => {
                let key_pattern = spec
                    .get("keyPattern")
                    .or_else(|| spec.get("key_pattern"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("a redact_pair rule needs \"keyPattern\""))?;
                let finders: Vec<Finder> =
                    rules::redact_pair_finder(key_pattern).into_iter().collect();
                insert(out, id, name, false, finders, redaction);
                Ok(())
            }
            other => {
                let (anything, finders) =
                    rules::finders_of_type(other).ok_or_else(|| ConfigError::UnknownType {
                        rule: id.to_string(),
                        kind: other.to_string(),
                    })?;
                insert(out, id, name, anything, finders, redaction);
                Ok(())
            }
        }
    }
}

fn insert(
    out: &mut BTreeMap<String, CompiledRule>,
    id: &str,
    origin: &str,
    anything: bool,
    finders: Vec<Finder>,
    redaction: Redaction,
) {
    out.entry(id.to_string()).or_insert(CompiledRule {
        origin: origin.to_string(),
        anything,
        finders,
        redaction,
    });
}

impl PiiEngine {
    /// Compiles a PII config (`{"rules": {...}, "applications": {...}}`).
    pub fn compile(config: &Value) -> Result<Self, ConfigError> {
        let empty = Map::new();
        let object = |key: &'static str| match config.get(key) {
            None | Some(Value::Null) => Ok(&empty),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(ConfigError::NotAnObject(key)),
        };
        let compiler = Compiler {
            rules: object("rules")?,
        };
        let mut applications: BTreeMap<Selector, Vec<CompiledRule>> = BTreeMap::new();
        for (text, ids) in object("applications")? {
            if text.len() > MAX_SELECTOR_BYTES {
                return Err(ConfigError::SelectorTooLarge {
                    bytes: text.len(),
                    nodes: 0,
                });
            }
            let selector: Selector = text.parse().map_err(|error| ConfigError::Selector {
                selector: text.clone(),
                error,
            })?;
            if selector.node_count() > MAX_SELECTOR_NODES {
                return Err(ConfigError::SelectorTooLarge {
                    bytes: text.len(),
                    nodes: selector.node_count(),
                });
            }
            let mut set = BTreeMap::new();
            for id in ids
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                compiler.collect(&mut set, id, None, 0)?;
            }
            // Two spellings of one selector: the later one wins, as when Relay reads the map.
            applications.insert(selector, set.into_values().collect());
        }
        Ok(Self {
            applications: applications.into_iter().collect(),
        })
    }

    /// How many selectors the config applies rules at.
    pub fn selector_count(&self) -> usize {
        self.applications.len()
    }

    /// How many rules it applies, over all selectors.
    pub fn rule_count(&self) -> usize {
        self.applications.iter().map(|(_, rules)| rules.len()).sum()
    }

    /// Whether the config does anything.
    pub fn is_empty(&self) -> bool {
        self.applications.iter().all(|(_, rules)| rules.is_empty())
    }
}
