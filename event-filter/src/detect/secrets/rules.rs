//! The secret rule files as data: their TOML shape (gitleaks' config format, which our own
//! `rules/understudy.toml` reuses) and their compilation into [`Rule`]s and [`Allowlist`]s.
//!
//! gitleaks is written in Go, whose RE2 syntax the `regex` crate nearly shares; both engines
//! are linear-time. [`go_to_rust`] rewrites the few constructs Rust reads differently.

use aho_corasick::AhoCorasick;

use crate::detect::prefilter::{
    Gate, L_COLON, L_DIGIT, L_DOT, L_UPPER, P_CAP_A, at_least, letters,
};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// A rule file: gitleaks' `config/gitleaks.toml` layout.
#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    /// gitleaks' global allowlist.
    #[serde(default)]
    pub(super) allowlist: Option<RawAllowlist>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    /// Our file only: ids of rules in other files that a rule here or a hand-written
    /// detector already covers, each with the reason.
    #[serde(default)]
    pub(super) replaces: Vec<RawReplacement>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawReplacement {
    pub(super) id: String,
    #[allow(dead_code, reason = "documentation inside the rule file")]
    pub(super) by: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawRule {
    pub(super) id: String,
    #[serde(default)]
    pub(super) regex: Option<String>,
    #[serde(default)]
    pub(super) secret_group: usize,
    #[serde(default)]
    pub(super) entropy: f64,
    #[serde(default)]
    pub(super) keywords: Vec<String>,
    #[serde(default)]
    pub(super) allowlists: Vec<RawAllowlist>,
    /// Our file only: a catch-all rule whose hits give way to any more specific hit.
    #[serde(default)]
    pub(super) generic: bool,
    /// Our file only: byte counts every match needs, for rules with no usable keyword.
    #[serde(default)]
    pub(super) needs: Option<RawNeeds>,
}

/// Bytes a match cannot do without, checked against the text's byte statistics before the
/// regex runs (see `prefilter`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNeeds {
    #[serde(default)]
    digits: u8,
    #[serde(default)]
    uppercase: u8,
    #[serde(default)]
    dots: u8,
    #[serde(default)]
    colons: u8,
    /// Letters that must occur, in either case.
    #[serde(default)]
    letters: String,
    /// Whether a capital `A` must occur.
    #[serde(default)]
    capital_a: bool,
}

impl RawNeeds {
    pub(super) fn gate(&self) -> Gate {
        let min = at_least(&[
            (L_DIGIT, self.digits.min(127)),
            (L_UPPER, self.uppercase.min(127)),
            (L_DOT, self.dots.min(127)),
            (L_COLON, self.colons.min(127)),
        ]);
        let capital = if self.capital_a { P_CAP_A } else { 0 };
        Gate::new(min, letters(self.letters.as_bytes()) | capital)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawAllowlist {
    #[serde(default)]
    pub(super) condition: Option<String>,
    #[serde(default)]
    pub(super) paths: Vec<String>,
    #[serde(default)]
    pub(super) regex_target: Option<String>,
    #[serde(default)]
    pub(super) regexes: Vec<String>,
    #[serde(default)]
    pub(super) stopwords: Vec<String>,
}

/// Rewrites a pattern from Go's RE2 dialect into the `regex` crate's, which reads three things
/// differently:
/// - Go's `\w`, `\d`, `\s` and `\b` are ASCII, Rust's Unicode: they become explicit ASCII
///   classes (and `(?-u:\b)`), which also keeps `[\w-]{50,1000}` (pypi-upload-token) within
///   the compiled-size limit Rust's Unicode `\w` would blow.
/// - Go takes a `{` that does not start a repetition as a literal (`{{[^}]+}}` in the
///   curl-auth-user allowlist, `${(?:...)}` in the global one); Rust rejects it, so it is
///   escaped, and so is the `}` that closes it.
///
/// Everything else (classes, groups, flags, `\x60`) means the same in both.
pub(super) fn go_to_rust(go: &str) -> String {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 16);
    let mut in_class = false;
    let mut literal_braces = 0usize;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let next = chars.get(i + 1).copied().unwrap_or('\\');
                let ascii = match (next, in_class) {
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('d', false) => Some("[0-9]"),
                    ('d', true) => Some("0-9"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('D', false) => Some("[^0-9]"),
                    ('S', false) => Some("[^\\t\\n\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    _ => None,
                };
                match ascii {
                    Some(text) => out.push_str(text),
                    None => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` (after an optional `^`) right at the start is a literal in both.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' if !in_class => {
                let rest: String = chars.get(i..).unwrap_or_default().iter().collect();
                match repetition_len(&rest) {
                    Some(len) => {
                        out.push_str(rest.get(..len).unwrap_or_default());
                        i += rest.get(..len).map_or(1, |r| r.chars().count());
                        continue;
                    }
                    None => {
                        literal_braces += 1;
                        out.push_str("\\{");
                    }
                }
            }
            '}' if !in_class && literal_braces > 0 => {
                literal_braces -= 1;
                out.push_str("\\}");
            }
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The length of a `{n}`, `{n,}` or `{n,m}` repetition at the start of `s`, if it is one.
fn repetition_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix('{')?;
    let close = body.find('}')?;
    let inner = body.get(..close)?;
    let (min, max) = inner.split_once(',').unwrap_or((inner, "0"));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    (!min.is_empty() && digits(min) && digits(max)).then_some(close + 2)
}

/// What part of a finding an allowlist regex looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The secret (the capture group), gitleaks' default.
    Secret,
    /// The whole regex match.
    Match,
    /// The line of text the match starts on.
    Line,
}

/// A compiled allowlist: a finding it matches is not reported.
#[derive(Debug)]
pub(super) struct Allowlist {
    pub(super) target: Target,
    pub(super) regexes: Vec<Regex>,
    /// Lowercase words; the secret containing one (case-insensitively) is allowed.
    pub(super) stopwords: Option<AhoCorasick>,
    /// `condition = "AND"`: every part given must match, not any one.
    pub(super) all: bool,
    /// Whether it names file paths, which events do not have: such a part never matches.
    pub(super) has_paths: bool,
}

impl Allowlist {
    /// Whether the finding is allowed, gitleaks' rules: with OR any of paths, regexes and
    /// stopwords matching suffices; with AND every one that is given must match.
    pub(super) fn allows(&self, secret: &str, whole: &str, line: &str) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => whole,
            Target::Line => line,
        };
        let regex =
            (!self.regexes.is_empty()).then(|| self.regexes.iter().any(|r| r.is_match(target)));
        let stopword = self.stopwords.as_ref().map(|words| words.is_match(secret));
        let path = self.has_paths.then_some(false);
        let parts = [regex, stopword, path];
        if self.all {
            parts.iter().flatten().all(|&p| p) && parts.iter().any(Option::is_some)
        } else {
            parts.iter().flatten().any(|&p| p)
        }
    }
}

/// One compiled rule.
#[derive(Debug)]
pub(super) struct Rule {
    /// The family name findings carry: the rule id in snake_case.
    pub(super) family: String,
    /// Where the rule comes from: `gitleaks:<id>` or `understudy:<id>`.
    pub(super) source: String,
    pub(super) regex: Regex,
    pub(super) secret_group: usize,
    /// Shannon entropy (bits per byte) the secret must exceed; 0 means no check.
    pub(super) entropy: f64,
    pub(super) keywords: Vec<String>,
    pub(super) allowlists: Vec<Allowlist>,
    pub(super) generic: bool,
    /// The length of the shortest text the regex matches.
    pub(super) min_len: usize,
    /// What the text's byte statistics must show first, if the rule says.
    pub(super) gate: Option<Gate>,
}

/// A rule file that cannot be used. The files are vendored, so this is a build defect; the
/// tests load every file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuleFileError {
    #[error("{file}: {source}")]
    Toml {
        file: &'static str,
        #[source]
        source: toml::de::Error,
    },
    #[error("{file}: rule {id:?}: {source}")]
    Regex {
        file: &'static str,
        id: String,
        #[source]
        source: regex::Error,
    },
    #[error("{file}: rule {id:?}: {message}")]
    Invalid {
        file: &'static str,
        id: String,
        message: String,
    },
}

/// Compiled size limit per pattern: generous for gitleaks' bounded repetitions (`{0,50}?`
/// prefixes), still a bound.
const SIZE_LIMIT: usize = 1 << 24;

pub(super) fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
}

pub(super) fn compile_allowlist(
    raw: &RawAllowlist,
    file: &'static str,
    id: &str,
) -> Result<Allowlist, RuleFileError> {
    let target = match raw.regex_target.as_deref() {
        None | Some("secret") => Target::Secret,
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        Some(other) => {
            return Err(RuleFileError::Invalid {
                file,
                id: id.to_owned(),
                message: format!("unknown regexTarget {other:?}"),
            });
        }
    };
    let regexes = raw
        .regexes
        .iter()
        .map(|r| {
            compile_regex(&go_to_rust(r)).map_err(|source| RuleFileError::Regex {
                file,
                id: id.to_owned(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stopwords = if raw.stopwords.is_empty() {
        None
    } else {
        Some(
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&raw.stopwords)
                .map_err(|e| RuleFileError::Invalid {
                    file,
                    id: id.to_owned(),
                    message: e.to_string(),
                })?,
        )
    };
    Ok(Allowlist {
        target,
        regexes,
        stopwords,
        all: raw
            .condition
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("and")),
        has_paths: !raw.paths.is_empty(),
    })
}

/// Compiles one rule; `None` for rules that only name files (`pkcs12-file`), which have
/// nothing to look for inside a string.
pub(super) fn compile_rule(
    raw: &RawRule,
    file: &'static str,
    origin: &str,
) -> Result<Option<Rule>, RuleFileError> {
    let Some(pattern) = &raw.regex else {
        return Ok(None);
    };
    let pattern = go_to_rust(pattern);
    let regex = compile_regex(&pattern).map_err(|source| RuleFileError::Regex {
        file,
        id: raw.id.clone(),
        source,
    })?;
    // The pattern compiled, so it parses; 0 (no gating) would only cost time.
    let min_len = regex_syntax::parse(&pattern)
        .ok()
        .and_then(|hir| hir.properties().minimum_len())
        .unwrap_or(0);
    if raw.secret_group >= regex.captures_len() && raw.secret_group > 0 {
        return Err(RuleFileError::Invalid {
            file,
            id: raw.id.clone(),
            message: format!("secretGroup {} does not exist", raw.secret_group),
        });
    }
    let allowlists = raw
        .allowlists
        .iter()
        .map(|a| compile_allowlist(a, file, &raw.id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Rule {
        family: raw.id.replace(['-', '.'], "_"),
        source: format!("{origin}:{}", raw.id),
        regex,
        secret_group: raw.secret_group,
        entropy: raw.entropy,
        keywords: raw
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        allowlists,
        // gitleaks' own catch-all is `generic-api-key`.
        generic: raw.generic || raw.id.starts_with("generic"),
        min_len,
        gate: raw.needs.as_ref().map(RawNeeds::gate),
    }))
}

/// Shannon entropy of `s` in bits per byte, as gitleaks computes it (over characters; the
/// secrets it is used on are ASCII).
pub(super) fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s.as_bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}
