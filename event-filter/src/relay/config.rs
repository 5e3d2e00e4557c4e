//! A Relay PII config compiled the way Relay compiles it: read into the shape Relay reads it
//! into (the `spec` types below, which mirror Relay's own, so that a config Relay's
//! `validate_pii_config` refuses is refused here too), every application's selector parsed, and
//! its rule references resolved (custom rules first, then built-ins; `alias` and `multiple`
//! expanded, an inner rule named after the group when the group hides its members) into a set
//! ordered by rule id, each rule once; the regexes of the rules applied compiled.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::rules::{self, Builtin, CompiledRule, Finder, Redaction};
use super::selector::{Selector, SelectorError};

/// How deep `alias` and `multiple` rules may nest: a rule reached through more is not applied
/// (nor its pattern compiled), as in Relay (sentry-relay 0.10.1 stops after 200).
const MAX_RULE_NESTING: usize = 200;

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

/// Why a config cannot be compiled (Relay's `validate_pii_config` refuses the same configs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A rule does not have the shape Relay reads (a field missing or of the wrong type, an
    /// unknown rule type, a field given twice, ...).
    #[error("rule {rule:?}: {message}")]
    Rule { rule: String, message: String },
    /// An application's rules are not a list of rule ids.
    #[error("selector {selector:?}: {message}")]
    Application { selector: String, message: String },
    /// The rest of the config does not have the shape Relay reads. `line` and `column`
    /// (1-based) are where in the text, or 0 when the config was not read from text.
    #[error("{message}")]
    Schema {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("selector {selector:?}: {error}")]
    Selector {
        selector: String,
        error: SelectorError,
    },
    /// A rule an application uses has a regex (`pattern`, `keyPattern`) that does not compile.
    #[error("rule {rule:?}: its {field} {pattern:?} does not compile: {error}")]
    Pattern {
        rule: String,
        field: &'static str,
        pattern: String,
        error: String,
    },
    #[error(
        "a selector of {bytes} bytes and {nodes} parts is over the limit \
         ({MAX_SELECTOR_BYTES} bytes, {MAX_SELECTOR_NODES} parts)"
    )]
    SelectorTooLarge { bytes: usize, nodes: usize },
}

impl ConfigError {
    fn schema(error: &serde_json::Error) -> Self {
        let mut message = error.to_string();
        // serde_json ends its message with the position, which the error carries separately.
        let at = format!(" at line {} column {}", error.line(), error.column());
        if error.line() > 0 && message.ends_with(&at) {
            message.truncate(message.len() - at.len());
        }
        // An error inside a rule or an application starts with its name (see `named_entries`).
        if let Some((rule, message)) = named(&message, "rule") {
            let message = match message
                .strip_prefix("unknown variant `")
                .and_then(|rest| rest.split_once("`, expected"))
            {
                Some((kind, _)) => format!("unknown rule type {kind:?}"),
                None => message.to_string(),
            };
            return ConfigError::Rule { rule, message };
        }
        if let Some((selector, message)) = named(&message, "selector") {
            let message = message.to_string();
            return ConfigError::Application { selector, message };
        }
        ConfigError::Schema {
            message,
            line: error.line(),
            column: error.column(),
        }
    }
}

/// The name and the rest of a message `named_entries` wrote: `{what} "name": rest`.
fn named<'m>(message: &'m str, what: &str) -> Option<(String, &'m str)> {
    let quoted = message.strip_prefix(what)?.strip_prefix(' ')?;
    let mut names = serde_json::Deserializer::from_str(quoted).into_iter::<String>();
    let name = names.next()?.ok()?;
    let rest = quoted.get(names.byte_offset()..)?.strip_prefix(": ")?;
    Some((name, rest))
}

/// Relay's config types (relay-pii's `PiiConfig`, `RuleSpec`, `RuleType`, `Redaction`, ...,
/// as sentry-relay 0.10.1 has them), with the same serde attributes, so that a config is read,
/// and refused, exactly as Relay reads it: unknown fields ignored, a field given twice refused, a
/// struct also read from a list of its fields in order, a rule type also read from its index
/// in the list of types. Errors inside a rule or an application name it.
mod spec {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, MapAccess, Visitor};

    #[derive(Deserialize)]
    pub(super) struct PiiConfig {
        #[serde(default)]
        pub rules: Rules,
        #[serde(default)]
        #[expect(
            dead_code,
            reason = "read to refuse what Relay refuses; Relay ignores the key"
        )]
        pub vars: Vars,
        #[serde(default)]
        pub applications: Applications,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Vars {
        #[serde(default)]
        #[expect(
            dead_code,
            reason = "read to refuse what Relay refuses; Relay ignores the key"
        )]
        pub hash_key: Option<String>,
    }

    /// The rules by id (a later rule of the same id replaces an earlier one, as in Relay).
    #[derive(Default)]
    pub(super) struct Rules(pub BTreeMap<String, RuleSpec>);

    /// The applications in the order written (a later one of an equal selector wins).
    #[derive(Default)]
    pub(super) struct Applications(pub Vec<(String, Vec<String>)>);

    #[derive(Deserialize)]
    pub(super) struct RuleSpec {
        #[serde(flatten)]
        pub ty: RuleType,
        #[serde(default)]
        pub redaction: Redaction,
    }

    /// In Relay's order, which a numeric `type` indexes.
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub(super) enum RuleType {
        Anything,
        Pattern(PatternRule),
        Imei,
        Mac,
        Uuid,
        Email,
        Ip,
        Creditcard,
        Iban,
        Userpath,
        Pemkey,
        UrlAuth,
        UsSsn,
        Bearer,
        Password,
        Cookies,
        #[serde(alias = "redactPair")]
        RedactPair(RedactPairRule),
        Multiple(MultipleRule),
        Alias(AliasRule),
        /// Relay's placeholder for types it does not know; no rule can be one (it wants a
        /// string where a rule is a map), so `"type": "unknown"` is refused.
        Unknown(#[expect(dead_code, reason = "never read: no rule deserializes to it")] String),
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct PatternRule {
        pub pattern: String,
        #[serde(default = "replace_groups_default")]
        pub replace_groups: Option<BTreeSet<u8>>,
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "serde's default for an Option field"
    )]
    fn replace_groups_default() -> Option<BTreeSet<u8>> {
        Some(BTreeSet::from([0]))
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct RedactPairRule {
        pub key_pattern: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct MultipleRule {
        pub rules: Vec<String>,
        #[serde(default)]
        pub hide_inner: bool,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct AliasRule {
        pub rule: String,
        #[serde(default)]
        pub hide_inner: bool,
    }

    #[derive(Deserialize, Default)]
    #[serde(tag = "method", rename_all = "snake_case")]
    pub(super) enum Redaction {
        #[default]
        Default,
        Remove,
        Replace(ReplaceRedaction),
        Mask,
        Hash,
        #[serde(other)]
        Other,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct ReplaceRedaction {
        #[serde(default = "default_replace_text")]
        pub text: String,
    }

    fn default_replace_text() -> String {
        "[Filtered]".into()
    }

    /// A map read entry by entry, an error in an entry's value named after its key.
    fn named_entries<'de, A, V>(
        mut map: A,
        what: &str,
        mut add: impl FnMut(String, V),
    ) -> Result<(), A::Error>
    where
        A: MapAccess<'de>,
        V: Deserialize<'de>,
    {
        while let Some(key) = map.next_key::<String>()? {
            // The key as a JSON string, which `ConfigError::schema` reads back; serde_json
            // reads the position back from the end of the message.
            let value = map.next_value::<V>().map_err(|e| {
                let name = serde_json::to_string(&key).unwrap_or_default();
                de::Error::custom(format_args!("{what} {name}: {e}"))
            })?;
            add(key, value);
        }
        Ok(())
    }

    impl<'de> Deserialize<'de> for Rules {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct RulesVisitor;
            impl<'de> Visitor<'de> for RulesVisitor {
                type Value = Rules;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rules, A::Error> {
                    let mut rules = BTreeMap::new();
                    named_entries(map, "rule", |id, spec| {
                        rules.insert(id, spec);
                    })?;
                    Ok(Rules(rules))
                }
            }
            deserializer.deserialize_map(RulesVisitor)
        }
    }

    impl<'de> Deserialize<'de> for Applications {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct ApplicationsVisitor;
            impl<'de> Visitor<'de> for ApplicationsVisitor {
                type Value = Applications;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Applications, A::Error> {
                    let mut applications = Vec::new();
                    named_entries(map, "selector", |selector, ids| {
                        applications.push((selector, ids));
                    })?;
                    Ok(Applications(applications))
                }
            }
            deserializer.deserialize_map(ApplicationsVisitor)
        }
    }
}

struct Compiler<'a> {
    rules: &'a BTreeMap<String, spec::RuleSpec>,
    /// The groups (`alias`, `multiple`, built-in groups) fully expanded, by id and the name
    /// their members take, with the least depth they were expanded at: expanding one again
    /// at that depth or deeper adds nothing, and without this a group that names itself twice
    /// would take exponential time.
    expanded: HashMap<(String, Option<String>), usize>,
}

impl Compiler<'_> {
    /// Adds the leaf rules `id` stands for to `out` (keyed by id, first one kept), named after
    /// `origin` when a hiding group encloses it.
    fn collect(
        &mut self,
        out: &mut BTreeMap<String, CompiledRule>,
        id: &str,
        origin: Option<&str>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth > MAX_RULE_NESTING || out.contains_key(id) {
            return Ok(());
        }
        let key = (id.to_string(), origin.map(str::to_string));
        if self.expanded.get(&key).is_some_and(|&d| d <= depth) {
            return Ok(());
        }
        let name = origin.unwrap_or(id);
        let rules = self.rules;
        if let Some(spec) = rules.get(id) {
            self.collect_spec(out, id, name, spec, depth)?;
        } else {
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
                    return Ok(());
                }
                Builtin::UrlauthLegacy => {
                    let (finders, redaction) = rules::urlauth_legacy();
                    insert(out, id, name, false, finders, redaction);
                    return Ok(());
                }
                Builtin::Group(members) => {
                    for member in members {
                        self.collect(out, member, origin, depth + 1)?;
                    }
                }
            }
        }
        let least = self.expanded.entry(key).or_insert(depth);
        *least = (*least).min(depth);
        Ok(())
    }

    fn collect_spec(
        &mut self,
        out: &mut BTreeMap<String, CompiledRule>,
        id: &str,
        name: &str,
        spec: &spec::RuleSpec,
        depth: usize,
    ) -> Result<(), ConfigError> {
        use spec::RuleType as T;
        let redaction = redaction(&spec.redaction);
        let pattern_error = |field, pattern: &str, error: regex::Error| ConfigError::Pattern {
            rule: id.to_string(),
            field,
            pattern: pattern.to_string(),
            error: regex_error(&error),
        };
        let (members, hide): (&[String], bool) = match &spec.ty {
            T::Alias(alias) => (std::slice::from_ref(&alias.rule), alias.hide_inner),
            T::Multiple(multiple) => (&multiple.rules, multiple.hide_inner),
            T::Pattern(rule) => {
                let groups = rule
                    .replace_groups
                    .as_ref()
                    .map(|groups| groups.iter().map(|g| usize::from(*g)).collect());
                let finder = rules::pattern_finder(&rule.pattern, groups)
                    .map_err(|e| pattern_error("pattern", &rule.pattern, e))?;
                insert(out, id, name, false, vec![finder], redaction);
                return Ok(());
            }
            T::RedactPair(rule) => {
                let finder = rules::redact_pair_finder(&rule.key_pattern)
                    .map_err(|e| pattern_error("keyPattern", &rule.key_pattern, e))?;
                insert(out, id, name, false, vec![finder], redaction);
                return Ok(());
            }
            // Relay skips it (and no config can hold one).
            T::Unknown(_) => return Ok(()),
            simple => {
                let kind = match simple {
                    T::Anything => "anything",
                    T::Imei => "imei",
                    T::Mac => "mac",
                    T::Uuid => "uuid",
                    T::Email => "email",
                    T::Ip => "ip",
                    T::Creditcard => "creditcard",
                    T::Iban => "iban",
                    T::Userpath => "userpath",
                    T::Pemkey => "pemkey",
                    T::UrlAuth => "url_auth",
                    T::UsSsn => "us_ssn",
                    T::Bearer => "bearer",
                    T::Password => "password",
                    T::Cookies => "cookies",
                    _ => "unknown",
                };
                if let Some((anything, finders)) = rules::finders_of_type(kind) {
                    insert(out, id, name, anything, finders, redaction);
                }
                return Ok(());
            }
        };
        let origin = hide.then_some(name);
        for member in members {
            self.collect(out, member, origin, depth + 1)?;
        }
        Ok(())
    }
}

fn redaction(spec: &spec::Redaction) -> Redaction {
    match spec {
        spec::Redaction::Default => Redaction::Default,
        spec::Redaction::Remove => Redaction::Remove,
        spec::Redaction::Replace(replace) => Redaction::Replace(replace.text.clone()),
        spec::Redaction::Mask => Redaction::Mask,
        spec::Redaction::Hash => Redaction::Hash,
        spec::Redaction::Other => Redaction::Other,
    }
}

/// A regex error in one line: the last of a syntax error's (the first ones repeat the pattern
/// and point into it).
fn regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().map(str::trim).rfind(|line| !line.is_empty());
    last.map_or(text.clone(), |line| {
        line.strip_prefix("error: ").unwrap_or(line).to_string()
    })
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
        origin: origin.into(),
        anything,
        finders,
        redaction,
    });
}

impl PiiEngine {
    /// Compiles a PII config (`{"rules": {...}, "applications": {...}}`).
    pub fn compile(config: &Value) -> Result<Self, ConfigError> {
        let spec = spec::PiiConfig::deserialize(config).map_err(|e| ConfigError::schema(&e))?;
        Self::from_spec(&spec)
    }

    /// Compiles a PII config from its JSON text: as [`PiiEngine::compile`], but also refusing a
    /// field given twice (as Relay does), and with the line and column of a schema error.
    pub(super) fn compile_str(source: &str) -> Result<Self, ConfigError> {
        let spec: spec::PiiConfig =
            serde_json::from_str(source).map_err(|e| ConfigError::schema(&e))?;
        Self::from_spec(&spec)
    }

    fn from_spec(spec: &spec::PiiConfig) -> Result<Self, ConfigError> {
        let mut compiler = Compiler {
            rules: &spec.rules.0,
            expanded: HashMap::new(),
        };
        let mut applications: BTreeMap<Selector, Vec<CompiledRule>> = BTreeMap::new();
        for (text, ids) in &spec.applications.0 {
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
            compiler.expanded.clear();
            for id in ids {
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
