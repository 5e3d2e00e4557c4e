//! Relay's selector language (`$frame.vars.password && !$string || extra.'a.b'`): parsing,
//! writing back in Relay's normal form, and matching against the path of a value.
//!
//! A selector matches a path from its end: `extra.foo` matches `extra.foo` anywhere in the event,
//! `*` stands for one item and `**` for any number (at most one `**` per path). Keys compare
//! case-insensitively. `$type` items match values of that type, where the type is either the
//! JSON kind (`$string`, `$object`, ...) or the place in Sentry's schema (`$frame`, `$http`, ...).
//! Which values a selector may touch at all depends on the value's pii attribute ([`Pii`]):
//! `false` values never, `maybe` values only through a specific path (no `**`, no JSON kind,
//! schema types only in first place), `true` values through any selector.
//!
//! The grammar is Relay's (spaces allowed between tokens):
//!
//! ```text
//! or    := and (("||" | "|") and)*
//! and   := maybe (("&&" | "&") maybe)*
//! maybe := ("!" | "~") group | group
//! group := "(" or ")" | path
//! path  := item ("." item)*
//! item  := "$" [a-z_]+ | "**" | "*" | [0-9]+ | [A-Za-z_][A-Za-z0-9_-]* | "'" key "'"
//! ```
//!
//! where a quoted key skips the spaces right after its opening quote and writes a quote as `''`.
//! A parse is still rejected for an unknown `$type`, two `**` in one path, or a path that is just
//! `*`. A selector is kept as a list of nodes, each after its children, and parsed, matched and
//! written with explicit stacks: nesting costs no call stack (Relay itself overflows its stack
//! past about 3,000 nested parentheses).

use std::cmp::Ordering;
use std::fmt;

use super::schema::{Pii, TypeSet, ValueType};

/// One item of a selector path, in Relay's order (which orders the applications of a config).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Item {
    Type(ValueType),
    Index(u64),
    /// As written, and lower-cased for matching.
    Key {
        text: String,
        lower: String,
    },
    Wildcard,
    DeepWildcard,
}

/// A selector node; children are indices of earlier nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Path(Vec<Item>),
    Not(usize),
    And(Vec<usize>),
    Or(Vec<usize>),
}

/// A parsed selector.
#[derive(Debug, Clone)]
pub(super) struct Selector {
    nodes: Vec<Node>,
    root: usize,
    /// Relay's order of selectors as one comparable sequence (see [`sort_key`]).
    sort_key: Vec<SortToken>,
}

/// Why a selector does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("invalid selector syntax at byte {0}")]
    Syntax(usize),
    #[error("unknown value type ${0}")]
    UnknownType(String),
    #[error("deep wildcard (**) used more than once in a path")]
    DeepWildcardTwice,
    #[error("a wildcard (*) must be part of a path")]
    LoneWildcard,
    #[error("index {0} is too large")]
    IndexTooLarge(String),
}

/// One step of the path being matched: the key (lower-cased) or index it entered by, and the
/// types of what is there.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub key: Option<String>,
    pub index: Option<usize>,
    pub types: TypeSet,
}

impl Item {
    fn key(text: String) -> Self {
        let lower = text.to_lowercase();
        Item::Key { text, lower }
    }

    /// Whether this item matches `step`, for a value whose pii attribute is `pii`, the item
    /// being at position `position` of its path.
    fn matches(&self, pii: Pii, position: usize, step: &Step) -> bool {
        match (self, pii) {
            (_, Pii::False) => false,
            (Item::Wildcard, _) => true,
            (Item::DeepWildcard, pii) => pii == Pii::True,
            (Item::Type(ty), Pii::True) => step.types.contains(*ty),
            (Item::Type(ty), Pii::Maybe) => {
                step.types.contains(*ty) && !ty.is_json_kind() && position == 0
            }
            (Item::Index(index), _) => step.index.is_some_and(|i| i as u64 == *index),
            (Item::Key { lower, .. }, _) => step.key.as_deref() == Some(lower.as_str()),
        }
    }
}

impl Selector {
    /// Parses a selector, without Relay's legacy names (`freeform`, `databag`, ...).
    pub(super) fn parse_non_legacy(text: &str) -> Result<Self, SelectorError> {
        let tokens = tokenize(text)?;
        let (nodes, root) = parse(&tokens, text.len())?;
        let sort_key = sort_key(&nodes, root);
        Ok(Self {
            nodes,
            root,
            sort_key,
        })
    }

    /// The selector that matches what this one does not.
    pub(super) fn negated(mut self) -> Self {
        self.nodes.push(Node::Not(self.root));
        self.root = self.nodes.len() - 1;
        self.sort_key = sort_key(&self.nodes, self.root);
        self
    }

    /// How many nodes the selector has (a measure of its size).
    pub(super) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the selector matches the value at the end of `path` (root first), whose pii
    /// attribute is `pii`. Nodes come after their children, so one pass in order evaluates them.
    pub(super) fn matches(&self, path: &[Step], pii: Pii) -> bool {
        if pii == Pii::False {
            return false;
        }
        let mut results: Vec<bool> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let result = match node {
                Node::Path(items) => path_matches(items, path, pii),
                Node::Not(inner) => !results[*inner],
                Node::And(all) => all.iter().all(|i| results[*i]),
                Node::Or(any) => any.iter().any(|i| results[*i]),
            };
            results.push(result);
        }
        results[self.root]
    }
}

/// A path selector against a path, both walked from the end. Items after the `**` match the
/// last steps one to one; the `**` then takes the step above them (and a `maybe` value is never
/// reached through one). Above that, the first item before the `**` is looked for from the top
/// of the path down, and the items after it must match the steps that follow it; any steps left
/// between them and the `**` are the `**`'s too. So `**.password` reaches `extra.password` but
/// not a top-level `password` (the `**` needs a step of its own).
fn path_matches(items: &[Item], path: &[Step], pii: Pii) -> bool {
    if items.len() > path.len() {
        return false;
    }
    let deep = items.iter().position(|i| *i == Item::DeepWildcard);
    let tail_start = deep.map_or(0, |d| d + 1);
    let tail = &items[tail_start..];
    let tail_steps = &path[path.len() - tail.len()..];
    for (offset, (item, step)) in tail.iter().zip(tail_steps).enumerate() {
        if !item.matches(pii, tail_start + offset, step) {
            return false;
        }
    }
    let Some(deep) = deep else {
        // Without `**` only the selector's end is anchored.
        return true;
    };
    let below = &path[..path.len() - tail.len()];
    let Some(deep_step) = below.last() else {
        return false;
    };
    if !items[deep].matches(pii, deep, deep_step) {
        return false;
    }
    let above = &below[..below.len() - 1];
    let head = &items[..deep];
    let Some(first) = head.first() else {
        return true;
    };
    let Some(start) = above.iter().position(|step| first.matches(pii, 0, step)) else {
        return false;
    };
    let run = &above[start..];
    run.len() >= head.len()
        && head
            .iter()
            .zip(run)
            .enumerate()
            .skip(1)
            .all(|(i, (item, step))| item.matches(pii, i, step))
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    /// Parses a selector, with Relay's legacy names for "any string" and "any object".
    fn from_str(text: &str) -> Result<Self, SelectorError> {
        match text {
            "freeform" | "email" | "sensitive" | "text" => Self::parse_non_legacy("$string"),
            "databag" | "container" => Self::parse_non_legacy("$object"),
            _ => Self::parse_non_legacy(text),
        }
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key == other.sort_key
    }
}

impl Eq for Selector {}

impl PartialOrd for Selector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Selector {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key.cmp(&other.sort_key)
    }
}

/// Relay orders selectors as nested enums (`And` < `Or` < `Not` < `Path`, then their contents
/// in order, a shorter list first). The same order, as a flat sequence: each node's variant,
/// its contents, and an end mark that sorts below everything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortToken {
    End,
    And,
    Or,
    Not,
    Path,
    Item(Item),
}

fn sort_key(nodes: &[Node], root: usize) -> Vec<SortToken> {
    enum Work {
        Node(usize),
        End,
    }
    let mut out = Vec::new();
    let mut work = vec![Work::Node(root)];
    while let Some(next) = work.pop() {
        let node = match next {
            Work::End => {
                out.push(SortToken::End);
                continue;
            }
            Work::Node(node) => node,
        };
        match &nodes[node] {
            Node::Path(items) => {
                out.push(SortToken::Path);
                out.extend(items.iter().cloned().map(SortToken::Item));
                out.push(SortToken::End);
            }
            Node::Not(inner) => {
                out.push(SortToken::Not);
                work.push(Work::Node(*inner));
            }
            Node::And(children) | Node::Or(children) => {
                out.push(if matches!(nodes[node], Node::And(_)) {
                    SortToken::And
                } else {
                    SortToken::Or
                });
                work.push(Work::End);
                work.extend(children.iter().rev().map(|c| Work::Node(*c)));
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Dot,
    Item(Item),
}

/// Splits a selector into tokens, each with the byte it starts at.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, SelectorError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let run = |from: usize, ok: fn(u8) -> bool| {
        from + bytes
            .get(from..)
            .map_or(0, |rest| rest.iter().take_while(|&&b| ok(b)).count())
    };
    while let Some(&b) = bytes.get(i) {
        let (token, next) = match b {
            b' ' => {
                i += 1;
                continue;
            }
            b'(' => (Token::Open, i + 1),
            b')' => (Token::Close, i + 1),
            b'.' => (Token::Dot, i + 1),
            b'!' | b'~' => (Token::Not, i + 1),
            b'&' | b'|' => {
                let doubled = bytes.get(i + 1) == Some(&b);
                let token = if b == b'&' { Token::And } else { Token::Or };
                (token, i + if doubled { 2 } else { 1 })
            }
            b'*' if bytes.get(i + 1) == Some(&b'*') => (Token::Item(Item::DeepWildcard), i + 2),
            b'*' => (Token::Item(Item::Wildcard), i + 1),
            b'$' => {
                let end = run(i + 1, |c| c.is_ascii_lowercase() || c == b'_');
                let name = text.get(i + 1..end).unwrap_or_default();
                if name.is_empty() {
                    return Err(SelectorError::Syntax(i));
                }
                let ty = ValueType::from_selector_name(name)
                    .ok_or_else(|| SelectorError::UnknownType(name.to_string()))?;
                (Token::Item(Item::Type(ty)), end)
            }
            b'0'..=b'9' => {
                let end = run(i, |c| c.is_ascii_digit());
                let digits = text.get(i..end).unwrap_or_default();
                let index = digits
                    .parse()
                    .map_err(|_| SelectorError::IndexTooLarge(digits.to_string()))?;
                (Token::Item(Item::Index(index)), end)
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = run(i, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
                let key = text.get(i..end).unwrap_or_default().to_string();
                (Token::Item(Item::key(key)), end)
            }
            b'\'' => {
                let start = run(i + 1, |c| c == b' ');
                let mut key = String::new();
                let mut j = start;
                loop {
                    let rest = text.get(j..).unwrap_or_default();
                    match rest.chars().next() {
                        Some('\'') if rest.as_bytes().get(1) == Some(&b'\'') => {
                            key.push('\'');
                            j += 2;
                        }
                        Some('\'') | None => break,
                        Some(c) => {
                            key.push(c);
                            j += c.len_utf8();
                        }
                    }
                }
                if key.is_empty() || bytes.get(j) != Some(&b'\'') {
                    return Err(SelectorError::Syntax(i));
                }
                (Token::Item(Item::key(key)), j + 1)
            }
            _ => return Err(SelectorError::Syntax(i)),
        };
        tokens.push((token, i));
        i = next;
    }
    Ok(tokens)
}

/// A group being parsed: the finished alternatives and the conjuncts of the current one.
#[derive(Default)]
struct Group {
    alternatives: Vec<usize>,
    conjuncts: Vec<usize>,
}

fn push(nodes: &mut Vec<Node>, node: Node) -> usize {
    nodes.push(node);
    nodes.len() - 1
}

/// One node for a list of `and` or `or` operands: the operand itself when there is one.
fn combine(nodes: &mut Vec<Node>, operands: Vec<usize>, node: fn(Vec<usize>) -> Node) -> usize {
    match operands.as_slice() {
        [single] => *single,
        _ => push(nodes, node(operands)),
    }
}

/// The node for a finished group: its alternatives, each a conjunction.
fn finish(nodes: &mut Vec<Node>, mut group: Group) -> usize {
    let conjunction = combine(nodes, group.conjuncts, Node::And);
    group.alternatives.push(conjunction);
    combine(nodes, group.alternatives, Node::Or)
}

/// Parses tokens into nodes, returning them and the root. Groups are a stack, not recursion.
fn parse(tokens: &[(Token, usize)], len: usize) -> Result<(Vec<Node>, usize), SelectorError> {
    let at_byte = |at: usize| tokens.get(at).map_or(len, |(_, byte)| *byte);
    let mut nodes = Vec::new();
    // Enclosing groups, each with whether a `!` stands before the group opened in it.
    let mut outer: Vec<(Group, bool)> = Vec::new();
    let mut group = Group::default();
    let mut negate = false;
    let mut at = 0;
    loop {
        // An operand: `!`, a group, or a path.
        let mut operand = match tokens.get(at).map(|(t, _)| t) {
            Some(Token::Not) if !negate => {
                negate = true;
                at += 1;
                continue;
            }
            Some(Token::Open) => {
                outer.push((std::mem::take(&mut group), negate));
                negate = false;
                at += 1;
                continue;
            }
            Some(Token::Item(_)) => {
                let (path, next) = parse_path(tokens, at)?;
                at = next;
                push(&mut nodes, Node::Path(path))
            }
            _ => return Err(SelectorError::Syntax(at_byte(at))),
        };
        // Then operators, closing groups as they come.
        loop {
            if negate {
                operand = push(&mut nodes, Node::Not(operand));
                negate = false;
            }
            group.conjuncts.push(operand);
            match tokens.get(at).map(|(t, _)| t) {
                Some(Token::And) => {}
                Some(Token::Or) => {
                    let conjuncts = std::mem::take(&mut group.conjuncts);
                    let conjunction = combine(&mut nodes, conjuncts, Node::And);
                    group.alternatives.push(conjunction);
                }
                Some(Token::Close) => {
                    let (parent, negated) = outer
                        .pop()
                        .ok_or_else(|| SelectorError::Syntax(at_byte(at)))?;
                    operand = finish(&mut nodes, std::mem::replace(&mut group, parent));
                    negate = negated;
                    at += 1;
                    continue;
                }
                None if outer.is_empty() => {
                    let root = finish(&mut nodes, group);
                    return Ok((nodes, root));
                }
                _ => return Err(SelectorError::Syntax(at_byte(at))),
            }
            at += 1;
            break;
        }
    }
}

/// A path starting at `tokens[at]`, and the index after it.
fn parse_path(
    tokens: &[(Token, usize)],
    mut at: usize,
) -> Result<(Vec<Item>, usize), SelectorError> {
    let mut items = Vec::new();
    loop {
        match tokens.get(at) {
            Some((Token::Item(item), _)) => items.push(item.clone()),
            Some((_, byte)) => return Err(SelectorError::Syntax(*byte)),
            None => return Err(SelectorError::Syntax(tokens.last().map_or(0, |t| t.1))),
        }
        at += 1;
        if tokens.get(at).map(|(t, _)| t) != Some(&Token::Dot) {
            break;
        }
        at += 1;
    }
    if items.iter().filter(|i| **i == Item::DeepWildcard).count() > 1 {
        return Err(SelectorError::DeepWildcardTwice);
    }
    if items == [Item::Wildcard] {
        return Err(SelectorError::LoneWildcard);
    }
    Ok((items, at))
}

/// A key as Relay writes it: bare when it reads back as a plain key (spaces around it allowed),
/// else in single quotes with quotes doubled.
pub(super) fn render_key(key: &str) -> String {
    let core = key.trim_matches(' ').as_bytes();
    let plain = core
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && core
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if plain {
        key.to_string()
    } else {
        format!("'{}'", key.replace('\'', "''"))
    }
}

/// Writes the selector in Relay's normal form: canonical type names, `&&` and `||`, bare keys
/// where they read back, parentheses only where needed.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        enum Work<'t> {
            Node(usize),
            Text(&'static str),
            Item(&'t Item),
        }
        let mut work = vec![Work::Node(self.root)];
        while let Some(next) = work.pop() {
            let node = match next {
                Work::Text(text) => {
                    f.write_str(text)?;
                    continue;
                }
                Work::Item(item) => {
                    match item {
                        Item::Type(ty) => write!(f, "${}", ty.selector_name())?,
                        Item::Index(index) => write!(f, "{index}")?,
                        Item::Key { text, .. } => f.write_str(&render_key(text))?,
                        Item::Wildcard => f.write_str("*")?,
                        Item::DeepWildcard => f.write_str("**")?,
                    }
                    continue;
                }
                Work::Node(node) => node,
            };
            // Pushed in reverse: the last pushed is written first.
            match &self.nodes[node] {
                Node::Path(items) => {
                    for (i, item) in items.iter().enumerate().rev() {
                        work.push(Work::Item(item));
                        if i > 0 {
                            work.push(Work::Text("."));
                        }
                    }
                }
                Node::Not(inner) => {
                    if matches!(self.nodes[*inner], Node::Path(_)) {
                        work.push(Work::Node(*inner));
                        work.push(Work::Text("!"));
                    } else {
                        work.push(Work::Text(")"));
                        work.push(Work::Node(*inner));
                        work.push(Work::Text("!("));
                    }
                }
                Node::And(operands) => {
                    for (i, operand) in operands.iter().enumerate().rev() {
                        if matches!(self.nodes[*operand], Node::Or(_)) {
                            work.push(Work::Text(")"));
                            work.push(Work::Node(*operand));
                            work.push(Work::Text("("));
                        } else {
                            work.push(Work::Node(*operand));
                        }
                        if i > 0 {
                            work.push(Work::Text(" && "));
                        }
                    }
                }
                Node::Or(operands) => {
                    for (i, operand) in operands.iter().enumerate().rev() {
                        work.push(Work::Node(*operand));
                        if i > 0 {
                            work.push(Work::Text(" || "));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(path: &[(&'static str, ValueType)]) -> Vec<Step> {
        path.iter()
            .map(|(key, ty)| Step {
                key: key.parse::<usize>().is_err().then(|| key.to_lowercase()),
                index: key.parse().ok(),
                types: TypeSet::of(*ty),
            })
            .collect()
    }

    fn matches(selector: &str, path: &[(&'static str, ValueType)], pii: Pii) -> bool {
        let selector: Selector = selector.parse().unwrap();
        selector.matches(&steps(path), pii)
    }

    fn normal(selector: &str) -> String {
        selector.parse::<Selector>().unwrap().to_string()
    }

    #[test]
    fn parses_what_relay_accepts_and_refuses_the_rest() {
        for ok in [
            "a.b",
            "'a&b'",
            "!a && b",
            "~a",
            "a & b | c",
            "x.*",
            "**",
            "'a''b'",
            "a-b",
            "_a",
            "a . b",
            "( a || b ) && !c",
            "$string.foo",
            "a.$string",
            "A.B",
            "$bool",
            "$list",
            "$stack",
            "$http.headers.x-custom",
        ] {
            assert!(ok.parse::<Selector>().is_ok(), "{ok}");
        }
        for (bad, error) in [
            ("*", SelectorError::LoneWildcard),
            ("**.a.**", SelectorError::DeepWildcardTwice),
            ("$foo", SelectorError::UnknownType("foo".into())),
            ("1a", SelectorError::Syntax(1)),
            ("a.", SelectorError::Syntax(1)),
            ("(a", SelectorError::Syntax(2)),
            ("''", SelectorError::Syntax(0)),
            ("!!a", SelectorError::Syntax(1)),
            ("a)", SelectorError::Syntax(1)),
        ] {
            assert_eq!(bad.parse::<Selector>(), Err(error), "{bad}");
        }
    }

    #[test]
    fn selectors_are_written_back_in_relays_normal_form() {
        assert_eq!(normal("a || b && !c"), "a || b && !c");
        assert_eq!(normal("(a || b) && c"), "(a || b) && c");
        assert_eq!(normal("!(a && b)"), "!(a && b)");
        assert_eq!(normal("$request.'a.b'.0"), "$http.'a.b'.0");
        assert_eq!(normal("freeform"), "$string");
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(normal(&deep), "a");
        let deep_not: Selector = format!("{}a{}", "!(".repeat(50_000), ")".repeat(50_000))
            .parse()
            .unwrap();
        assert_eq!(deep_not.node_count(), 50_001);
        // An even number of negations.
        assert!(deep_not.matches(&steps(&[("a", ValueType::String)]), Pii::True));
    }

    #[test]
    fn selectors_sort_as_relays_nested_enums_do() {
        let mut all: Vec<Selector> = ["b", "$string", "a.b", "a", "!a", "a || b", "a && b", "*.a"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        all.sort();
        let written: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            written,
            ["a && b", "a || b", "!a", "$string", "a", "a.b", "b", "*.a"]
        );
    }

    #[test]
    fn paths_match_from_the_end_and_keys_ignore_case() {
        use ValueType::*;
        let path = [("extra", Object), ("Foo", String)];
        assert!(matches("extra.foo", &path, Pii::True));
        assert!(matches("EXTRA.Foo", &path, Pii::True));
        assert!(matches("foo", &path, Pii::True));
        assert!(!matches("bar.extra.foo", &path, Pii::True));
        assert!(matches("*.foo", &path, Pii::True));
        assert!(matches("$string", &path, Pii::True));
        assert!(!matches("$string", &path, Pii::Maybe));
        assert!(matches("extra.foo", &path, Pii::Maybe));
        assert!(!matches("extra.foo", &path, Pii::False));
        assert!(matches("$string && !extra.bar", &path, Pii::True));
        assert!(!matches("$string && !extra.foo", &path, Pii::True));
    }

    #[test]
    fn deep_wildcards_take_any_number_of_steps_but_one() {
        use ValueType::*;
        let path = [
            ("exception", Object),
            ("values", Array),
            ("0", Exception),
            ("stacktrace", Stacktrace),
            ("frames", Array),
            ("3", Frame),
            ("vars", Object),
            ("password", String),
        ];
        assert!(matches("**.password", &path, Pii::True));
        assert!(!matches("**.password", &path, Pii::Maybe));
        assert!(matches("$frame.**", &path, Pii::True));
        assert!(matches("$error.**.vars.password", &path, Pii::True));
        assert!(matches("exception.**.password", &path, Pii::True));
        assert!(!matches(
            "stacktrace.**.frames.3.vars.password",
            &path,
            Pii::True
        ));
        assert!(matches("$frame.vars.password", &path, Pii::True));
        assert!(matches("$frame.vars.password", &path, Pii::Maybe));
        assert!(!matches("password.**", &path, Pii::True));
        // A leading `**` needs a step of its own.
        let shallow = [("extra", Object), ("password", String)];
        assert!(matches("**.password", &shallow, Pii::True));
        assert!(!matches("**.password", &shallow[1..], Pii::True));
    }
}
