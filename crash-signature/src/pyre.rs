//! Python `re` patterns, rewritten for the `regex` crate with the same meaning.
//!
//! siggen's lists are Python regular expressions, and a few of their lines mean something else
//! (or nothing) to the `regex` crate read as they are:
//!
//! - `{` that does not start a valid repetition is a literal in Python (`{virtual override
//!   thunk}`, `{{closure}}`) and a syntax error for `regex`;
//! - `\<` and `\>` are literal `<` and `>` in Python (`\<name omitted\>`) and word boundaries
//!   for `regex`;
//! - `$` also matches before a final newline in Python (`handle_error$`, `JS::Call$`);
//! - `\s` is `str.isspace()` in Python, which also counts U+001C..U+001F; `\Z` is `regex`'s
//!   `\z`.
//!
//! [`translate`] parses one pattern with Python's grammar and writes each piece in `regex`
//! syntax: literals escaped, classes with every punctuation character hex-escaped, repetitions
//! normalised. What it cannot reproduce exactly (look-around, back-references, possessive
//! repetitions, inline flags, `\w`/`\b` whose Unicode tables differ between the two engines, a
//! `$` followed by more pattern) is an error rather than a near miss, so a list update that
//! needs more fails `every_vendored_pattern_compiles` instead of matching differently.

use std::fmt::Write as _;

/// Why a Python pattern was not translated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{reason} at character {position} of {pattern:?}")]
pub struct TranslateError {
    pub pattern: String,
    pub position: usize,
    pub reason: &'static str,
}

/// The `regex` crate's spelling of Python pattern `pattern`, for use inside a larger pattern
/// (it is wrapped in a non-capturing group).
pub fn translate(pattern: &str) -> Result<String, TranslateError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parser = Parser {
        pattern,
        s: &chars,
        i: 0,
    };
    let (out, _) = parser.alternation(0)?;
    if parser.i < chars.len() {
        return Err(parser.error("unbalanced parenthesis"));
    }
    Ok(format!("(?:{out})"))
}

struct Parser<'a> {
    pattern: &'a str,
    s: &'a [char],
    i: usize,
}

/// One parsed piece of a sequence: its `regex` text and whether it ends with a `$` (directly or
/// in a group), after which nothing may follow.
struct Piece {
    text: String,
    ends_with_dollar: bool,
    repeatable: bool,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> TranslateError {
        TranslateError {
            pattern: self.pattern.to_string(),
            position: self.i,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.s.get(self.i + offset).copied()
    }

    /// `a|b|...` up to a `)` (not consumed) or the end; returns the text and whether any
    /// branch ends with `$`.
    fn alternation(&mut self, depth: usize) -> Result<(String, bool), TranslateError> {
        let mut branches = Vec::new();
        let mut any_dollar = false;
        loop {
            let (text, dollar) = self.sequence(depth)?;
            branches.push(text);
            any_dollar |= dollar;
            if self.peek() == Some('|') {
                self.i += 1;
            } else {
                break;
            }
        }
        Ok((branches.join("|"), any_dollar))
    }

    fn sequence(&mut self, depth: usize) -> Result<(String, bool), TranslateError> {
        let mut out = String::new();
        let mut dollar_seen = false;
        while let Some(c) = self.peek() {
            if c == '|' || (c == ')' && depth > 0) {
                break;
            }
            if c == ')' {
                return Err(self.error("unbalanced parenthesis"));
            }
            let mut piece = self.atom()?;
            if let Some(repeat) = self.repetition()? {
                if !piece.repeatable {
                    return Err(self.error("nothing to repeat"));
                }
                if piece.ends_with_dollar {
                    return Err(self.error("repeated `$` is not translated"));
                }
                piece.text = format!("(?:{}){repeat}", piece.text);
            }
            if dollar_seen {
                return Err(self.error("`$` followed by more pattern is not translated"));
            }
            dollar_seen = piece.ends_with_dollar;
            out.push_str(&piece.text);
        }
        Ok((out, dollar_seen))
    }

    /// A repetition after an atom, in `regex` syntax, if one follows.
    fn repetition(&mut self) -> Result<Option<String>, TranslateError> {
        let base = match self.peek() {
            Some(c @ ('*' | '+' | '?')) => {
                self.i += 1;
                c.to_string()
            }
            Some('{') => match self.braces() {
                Some((text, len)) => {
                    self.i += len;
                    text
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let mut text = base;
        match self.peek() {
            Some('?') => {
                self.i += 1;
                text.push('?');
            }
            Some('+') => return Err(self.error("possessive repetition is not translated")),
            _ => {}
        }
        if matches!(self.peek(), Some('*' | '+' | '?'))
            || (self.peek() == Some('{') && self.braces().is_some())
        {
            return Err(self.error("multiple repeat"));
        }
        Ok(Some(text))
    }

    /// A Python `{m}`, `{m,}`, `{,n}`, `{m,n}` or `{,}` at the cursor: its `regex` spelling and
    /// length. Anything else starting with `{` is a literal brace.
    fn braces(&self) -> Option<(String, usize)> {
        let mut j = self.i + 1;
        let digits = |j: &mut usize| {
            let start = *j;
            while self.s.get(*j).is_some_and(char::is_ascii_digit) {
                *j += 1;
            }
            self.s[start..*j].iter().collect::<String>()
        };
        if self.s.get(j) == Some(&'}') {
            return None;
        }
        let lo = digits(&mut j);
        let (hi, comma) = if self.s.get(j) == Some(&',') {
            j += 1;
            (digits(&mut j), true)
        } else {
            (lo.clone(), false)
        };
        if self.s.get(j) != Some(&'}') {
            return None;
        }
        let lo = if lo.is_empty() { "0".to_string() } else { lo };
        let text = match (comma, hi.is_empty()) {
            (true, true) => format!("{{{lo},}}"),
            (true, false) => format!("{{{lo},{hi}}}"),
            (false, _) => format!("{{{lo}}}"),
        };
        Some((text, j + 1 - self.i))
    }

    fn atom(&mut self) -> Result<Piece, TranslateError> {
        let c = self.peek().expect("atom at a character");
        let literal = |text: String| Piece {
            text,
            ends_with_dollar: false,
            repeatable: true,
        };
        match c {
            '(' => self.group(),
            '[' => self.class().map(literal),
            '\\' => self.escape_outside_class(),
            '.' => {
                self.i += 1;
                Ok(literal(".".to_string()))
            }
            '^' => {
                self.i += 1;
                Ok(Piece {
                    text: "^".to_string(),
                    ends_with_dollar: false,
                    repeatable: false,
                })
            }
            '$' => {
                self.i += 1;
                // Python's `$`: the end, or just before a newline that ends the text. siggen
                // only asks whether a prefix matches, so consuming that newline is the same.
                Ok(Piece {
                    text: r"\n?\z".to_string(),
                    ends_with_dollar: true,
                    repeatable: false,
                })
            }
            '*' | '+' | '?' => Err(self.error("nothing to repeat")),
            '{' if self.braces().is_some() => Err(self.error("nothing to repeat")),
            c => {
                self.i += 1;
                Ok(literal(regex::escape(&c.to_string())))
            }
        }
    }

    fn group(&mut self) -> Result<Piece, TranslateError> {
        self.i += 1; // (
        if self.peek() == Some('?') {
            match (self.peek_at(1), self.peek_at(2)) {
                (Some(':'), _) => self.i += 2,
                (Some('P'), Some('<')) => {
                    // A named group: the name does not matter without back-references.
                    while self.peek().is_some_and(|c| c != '>') {
                        self.i += 1;
                    }
                    if self.peek() != Some('>') {
                        return Err(self.error("unterminated group name"));
                    }
                    self.i += 1;
                }
                (Some('#'), _) => {
                    while self.peek().is_some_and(|c| c != ')') {
                        self.i += 1;
                    }
                    if self.peek() != Some(')') {
                        return Err(self.error("missing ), unterminated comment"));
                    }
                    self.i += 1;
                    return Ok(Piece {
                        text: String::new(),
                        ends_with_dollar: false,
                        repeatable: false,
                    });
                }
                _ => {
                    return Err(self.error(
                        "look-around, back-reference, conditional or flag groups are not translated",
                    ));
                }
            }
        }
        let (inner, dollar) = self.alternation(1)?;
        if self.peek() != Some(')') {
            return Err(self.error("missing ), unterminated subpattern"));
        }
        self.i += 1;
        Ok(Piece {
            text: format!("(?:{inner})"),
            ends_with_dollar: dollar,
            repeatable: true,
        })
    }

    /// An escape outside a class: a class shorthand, an anchor or one literal character.
    fn escape_outside_class(&mut self) -> Result<Piece, TranslateError> {
        let piece = |text: &str, repeatable: bool| Piece {
            text: text.to_string(),
            ends_with_dollar: false,
            repeatable,
        };
        match self.peek_at(1) {
            Some('A') => {
                self.i += 2;
                Ok(piece(r"\A", false))
            }
            Some('Z') => {
                self.i += 2;
                Ok(piece(r"\z", false))
            }
            _ => match self.escape()? {
                Escaped::Char(c) => Ok(piece(&regex::escape(&c.to_string()), true)),
                Escaped::Class(class) => Ok(piece(&format!("[{class}]"), true)),
            },
        }
    }

    /// An escape valid inside and outside classes, at the backslash.
    fn escape(&mut self) -> Result<Escaped, TranslateError> {
        let Some(c) = self.peek_at(1) else {
            return Err(self.error("bad escape (end of pattern)"));
        };
        let start = self.i;
        self.i += 2;
        let hex = |parser: &mut Parser, n: usize| -> Result<char, TranslateError> {
            let digits: String = parser.s[parser.i..].iter().take(n).collect();
            if digits.chars().count() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                parser.i = start;
                return Err(parser.error("incomplete escape"));
            }
            parser.i += n;
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| parser.error("bad escape"))
        };
        Ok(match c {
            'd' => Escaped::Class(r"\d".to_string()),
            'D' => Escaped::Class(r"\D".to_string()),
            's' => Escaped::Class(SPACE.to_string()),
            'S' => Escaped::Class(format!("[^{SPACE}]")),
            'n' => Escaped::Char('\n'),
            't' => Escaped::Char('\t'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\u{c}'),
            'v' => Escaped::Char('\u{b}'),
            'a' => Escaped::Char('\u{7}'),
            'x' => Escaped::Char(hex(self, 2)?),
            'u' => Escaped::Char(hex(self, 4)?),
            'U' => Escaped::Char(hex(self, 8)?),
            c if c.is_ascii_alphanumeric() => {
                self.i = start;
                return Err(self.error(
                    "escape not translated (word classes, boundaries, octal or back-references)",
                ));
            }
            c => Escaped::Char(c),
        })
    }

    /// `[...]`, as a `regex` class.
    fn class(&mut self) -> Result<String, TranslateError> {
        let open = self.i;
        self.i += 1;
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            out.push('^');
            self.i += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                self.i = open;
                return Err(self.error("unterminated character set"));
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            let item = self.class_item()?;
            let is_range = self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']');
            match item {
                Escaped::Char(lo) if is_range => {
                    self.i += 1; // -
                    let Escaped::Char(hi) = self.class_item()? else {
                        return Err(self.error("bad character range"));
                    };
                    if hi < lo {
                        return Err(self.error("bad character range"));
                    }
                    write!(out, "{}-{}", class_char(lo), class_char(hi)).expect("to a String");
                }
                Escaped::Char(c) => out.push_str(&class_char(c)),
                Escaped::Class(_) if is_range => return Err(self.error("bad character range")),
                Escaped::Class(class) => out.push_str(&class),
            }
        }
        out.push(']');
        Ok(out)
    }

    fn class_item(&mut self) -> Result<Escaped, TranslateError> {
        match self.peek() {
            Some('\\') => match self.escape()? {
                // Inside a class, `\S` needs a nested negated class.
                Escaped::Class(class) if class.starts_with("[^") => Ok(Escaped::Class(class)),
                other => Ok(other),
            },
            Some(c) => {
                self.i += 1;
                Ok(Escaped::Char(c))
            }
            None => Err(self.error("unterminated character set")),
        }
    }
}

/// What an escape stands for: one character, or a class body (`\d`, `\s`, `[^...]`).
enum Escaped {
    Char(char),
    Class(String),
}

/// Python's `\s` in a `str` pattern, as the body of a `regex` class.
const SPACE: &str = r"\s\x{1C}-\x{1F}";

/// One character inside a `regex` class: letters, digits and non-ASCII as they are, the rest
/// hex-escaped so that nothing is read as class syntax (`[:`, `&&`, `--`, `~~`, `^`, `\`).
fn class_char(c: char) -> String {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        c.to_string()
    } else {
        format!(r"\x{{{:X}}}", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(python: &str, text: &str) -> bool {
        let rust = format!("^{}", translate(python).unwrap());
        regex::Regex::new(&rust).unwrap().is_match(text)
    }

    #[test]
    fn braces_that_are_not_repetitions_are_literal() {
        assert!(matches(
            "{virtual override thunk}",
            "{virtual override thunk}"
        ));
        assert!(matches(
            "<env_logger::Logger as log::Log>::log::{{closure}}",
            "<env_logger::Logger as log::Log>::log::{{closure}}::h1"
        ));
        assert!(matches("@0x[0-9a-fA-F]{2,}", "@0xab"));
        assert!(!matches("@0x[0-9a-fA-F]{2,}", "@0xa"));
        assert!(matches("a{,2}b", "aab"));
        assert!(matches("a{}", "a{}"));
        assert!(matches("a{1", "a{1"));
    }

    #[test]
    fn escaped_angle_brackets_are_literal() {
        assert!(matches(r"\<name omitted\>", "<name omitted>"));
        assert!(!matches(r"\<name omitted\>", "name omitted"));
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline() {
        assert!(matches("handle_error$", "handle_error"));
        assert!(matches("handle_error$", "handle_error\n"));
        assert!(!matches("handle_error$", "handle_error2"));
        assert!(!matches("handle_error$", "handle_error\n\n"));
        assert!(matches("(a$|b)", "b!"));
        assert!(translate("a$b").is_err());
        assert!(translate("(a$)b").is_err());
    }

    #[test]
    fn classes_and_groups() {
        assert!(matches(
            r"[-+]\[NSException raise(:format:(arguments:)?)?\]",
            "+[NSException raise:format:]"
        ));
        assert!(matches(
            "(Nt|Zw)?WaitForSingleObject(Ex)?",
            "WaitForSingleObject"
        ));
        assert!(matches("[]a]", "]"));
        assert!(matches("[[:x]", ":"));
        assert!(matches(r"a\s", "a\u{1c}"));
        assert!(matches(r"[^\S]", "\u{1f}"));
        assert!(matches(r"x(?#comment)y", "xy"));
        assert!(matches(r"x\Z", "x"));
        assert!(!matches(r"x\Z", "x\n"));
    }

    #[test]
    fn what_is_not_reproduced_exactly_is_refused() {
        for pattern in [
            r"a(?=b)", r"(a)\1", r"\w", r"\bx", "a*+", "(?i)a", "a**", "*a", "(a",
        ] {
            assert!(translate(pattern).is_err(), "{pattern}");
        }
    }
}
