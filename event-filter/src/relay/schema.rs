//! What Relay knows about each place in an event that a selector can ask about: its value types
//! (`$string`, `$frame`, `$http`, ...) and its pii attribute.
//!
//! The pii attributes come from `rules/relay-pii-fields.tsv`, measured from Relay itself by
//! `rules/relay_pii_fields.py` (which explains how). A place the table does not name takes its
//! object's default (`request.*`), or else its parent's attribute: below a free-form value
//! (`extra`, `vars`, `data`) everything is alike.
//!
//! Places are named in Relay's shapes, which SDKs do not always send: [`crate::relay`]'s walk
//! maps `exception: [...]` to `exception.values`, and a top-level `message` string to
//! `logentry.formatted`, before asking here.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Relay's pii attribute of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pii {
    True,
    Maybe,
    False,
}

/// The value types of Relay's selectors, in Relay's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum ValueType {
    String,
    Binary,
    Number,
    Boolean,
    DateTime,
    Array,
    Object,
    Event,
    Attachments,
    Replay,
    Exception,
    Stacktrace,
    Frame,
    Request,
    User,
    LogEntry,
    Message,
    Thread,
    Breadcrumb,
    Span,
    ClientSdkInfo,
    Minidump,
    HeapMemory,
    StackMemory,
    Log,
    TraceMetric,
}

/// Every type with the names Relay's selectors accept for it, the one Relay writes first.
const NAMES: [(ValueType, &[&str]); 26] = [
    (ValueType::String, &["string"]),
    (ValueType::Binary, &["binary"]),
    (ValueType::Number, &["number"]),
    (ValueType::Boolean, &["boolean", "bool"]),
    (ValueType::DateTime, &["datetime"]),
    (ValueType::Array, &["array", "list"]),
    (ValueType::Object, &["object"]),
    (ValueType::Event, &["event"]),
    (ValueType::Attachments, &["attachments"]),
    (ValueType::Replay, &["replay"]),
    (ValueType::Exception, &["error", "exception"]),
    (ValueType::Stacktrace, &["stack", "stacktrace"]),
    (ValueType::Frame, &["frame"]),
    (ValueType::Request, &["http", "request"]),
    (ValueType::User, &["user"]),
    (ValueType::LogEntry, &["logentry"]),
    (ValueType::Message, &["message"]),
    (ValueType::Thread, &["thread"]),
    (ValueType::Breadcrumb, &["breadcrumb"]),
    (ValueType::Span, &["span"]),
    (ValueType::ClientSdkInfo, &["sdk"]),
    (ValueType::Minidump, &["minidump"]),
    (ValueType::HeapMemory, &["heap_memory"]),
    (ValueType::StackMemory, &["stack_memory"]),
    (ValueType::Log, &["log"]),
    (ValueType::TraceMetric, &["trace_metric"]),
];

impl ValueType {
    pub(super) fn from_selector_name(name: &str) -> Option<Self> {
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&name))
            .map(|(ty, _)| *ty)
    }

    pub(super) fn selector_name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(ty, _)| *ty == self)
            .map_or("", |(_, names)| names[0])
    }

    /// JSON kinds can only select `true` fields; schema types may name `maybe` fields too.
    pub(super) fn is_json_kind(self) -> bool {
        matches!(
            self,
            ValueType::String
                | ValueType::Binary
                | ValueType::Number
                | ValueType::Boolean
                | ValueType::DateTime
                | ValueType::Array
                | ValueType::Object
        )
    }
}

/// A set of value types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TypeSet(u32);

impl TypeSet {
    pub(super) fn of(ty: ValueType) -> Self {
        Self(1 << ty as u32)
    }

    pub(super) fn with(self, ty: ValueType) -> Self {
        Self(self.0 | 1 << ty as u32)
    }

    pub(super) fn contains(self, ty: ValueType) -> bool {
        self.0 & (1 << ty as u32) != 0
    }
}

/// The measured table, as a tree of keys (`*` for array items and unnamed keys).
#[derive(Debug, Default)]
pub(super) struct PiiNode {
    pii: Option<Pii>,
    children: HashMap<String, PiiNode>,
}

static PII_FIELDS: LazyLock<PiiNode> =
    LazyLock::new(|| parse_table(include_str!("../../rules/relay-pii-fields.tsv")));

fn parse_table(text: &str) -> PiiNode {
    let mut root = PiiNode::default();
    for line in text.lines() {
        let Some((pattern, pii)) = line.split_once('\t') else {
            continue;
        };
        if line.starts_with('#') {
            continue;
        }
        let pii = match pii.trim() {
            "true" => Pii::True,
            "maybe" => Pii::Maybe,
            _ => Pii::False,
        };
        let mut node = &mut root;
        for key in split_pattern(pattern) {
            node = node.children.entry(key).or_default();
        }
        node.pii = Some(pii);
    }
    root
}

/// A table pattern's keys: dot-separated, `'quoted'` where a key holds dots (`''` a quote).
fn split_pattern(pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut key = String::new();
    let mut quoted = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                chars.next();
                key.push('\'');
            }
            '\'' => quoted = !quoted,
            '.' if !quoted => keys.push(std::mem::take(&mut key)),
            c => key.push(c),
        }
    }
    keys.push(key);
    keys
}

/// Where the walk stands in the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    node: Option<&'static PiiNode>,
    pub pii: Pii,
}

impl Place {
    /// The event itself: never matched, its fields are looked up below.
    pub(super) fn root() -> Self {
        Self {
            node: Some(&PII_FIELDS),
            pii: Pii::False,
        }
    }

    /// A value below this one that takes its attribute without a table entry: the value of a
    /// `[key, value]` pair.
    pub(super) fn inherited(self) -> Self {
        Self {
            node: None,
            pii: self.pii,
        }
    }

    /// The place of child `key` (`None` for an array item).
    pub(super) fn child(self, key: Option<&str>, at_contexts: bool) -> Self {
        let Some(node) = self.node else {
            return Self {
                node: None,
                pii: self.pii,
            };
        };
        let named = key.and_then(|k| node.children.get(k));
        // A context the table does not know is a custom context to Relay.
        let named = named.or_else(|| {
            (at_contexts && key.is_some())
                .then(|| node.children.get("custom"))
                .flatten()
        });
        match named.or_else(|| node.children.get("*")) {
            Some(child) => Self {
                node: Some(child),
                pii: child.pii.unwrap_or(self.pii),
            },
            None => Self {
                node: None,
                pii: self.pii,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pii_at(keys: &[&str]) -> Pii {
        let mut place = Place::root();
        for (i, key) in keys.iter().enumerate() {
            let key = (*key != "0").then_some(*key);
            place = place.child(key, i == 1 && keys[0] == "contexts");
        }
        place.pii
    }

    #[test]
    fn the_measured_table_gives_relays_attributes() {
        assert_eq!(pii_at(&["extra", "anything", "below"]), Pii::True);
        assert_eq!(pii_at(&["request", "url"]), Pii::Maybe);
        assert_eq!(pii_at(&["request", "headers", "X-Anything"]), Pii::True);
        assert_eq!(pii_at(&["tags", "user"]), Pii::Maybe);
        assert_eq!(pii_at(&["event_id"]), Pii::False);
        assert_eq!(
            pii_at(&[
                "exception",
                "values",
                "0",
                "stacktrace",
                "frames",
                "0",
                "vars",
                "x"
            ]),
            Pii::True
        );
        assert_eq!(
            pii_at(&[
                "exception",
                "values",
                "0",
                "stacktrace",
                "frames",
                "0",
                "function"
            ]),
            Pii::False
        );
        assert_eq!(
            pii_at(&["contexts", "my_custom_context", "field"]),
            Pii::True
        );
        assert_eq!(pii_at(&["contexts", "os", "name"]), Pii::False);
        assert_eq!(pii_at(&["some_unknown_top_level_field"]), Pii::True);
    }

    #[test]
    fn patterns_split_on_unquoted_dots_only() {
        assert_eq!(
            split_pattern("contexts.trace.data.'thread.id'"),
            ["contexts", "trace", "data", "thread.id"]
        );
        assert_eq!(split_pattern("a.'it''s'"), ["a", "it's"]);
    }
}
