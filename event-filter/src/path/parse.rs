//! The selector syntax (see the [module docs](super)) parsed into [`Segment`]s, with errors
//! that name the column.

/// One segment of a [`PathSelector`](super::PathSelector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key, or the name of a `[name, value]` pair. When written as a bare canonical
    /// decimal number (`0`, `12`) it also matches that array index.
    Key(String),
    /// Any of these object keys or pair names (`{a,b}`); never an array index. A quoted
    /// number such as `"0"` parses to a one-element `Keys`, so that it names the key only.
    Keys(Vec<String>),
    /// `*`: any single object key or array element.
    AnyOne,
    /// `[]`: any array element, never an object key.
    AnyElement,
    /// `**`: zero or more levels.
    AnyDepth,
}

/// A selector that does not parse, with the 1-based character column of the problem in the
/// text given to `PathSelector::from_str` (see [`PathSelector`](super::PathSelector)).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message} at column {column}")]
pub struct PathError {
    /// What is wrong.
    pub message: String,
    /// 1-based character (not byte) column in the selector text.
    pub column: usize,
}

/// The most segments a selector may have: states `0..=len` must fit the bits of a `u64`.
pub const MAX_SEGMENTS: usize = 63;

/// The index a key names, if it is a canonical decimal number (`0`, `17`; not `007`, `+1`).
pub(super) fn canonical_index(k: &str) -> Option<usize> {
    let canonical = match k.as_bytes() {
        [b'0'] => true,
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.iter().all(|b| b.is_ascii_digit())
        }
        [] => false,
    };
    if canonical { k.parse().ok() } else { None }
}

/// Recursive-descent parser over the trimmed selector's characters; columns are reported in
/// the untrimmed text.
pub(super) struct Parser {
    chars: Vec<char>,
    /// Characters of leading whitespace trimmed away.
    offset: usize,
}

impl Parser {
    pub(super) fn new(text: &str) -> Self {
        Parser {
            chars: text.trim().chars().collect(),
            offset: text.chars().take_while(|c| c.is_whitespace()).count(),
        }
    }

    fn err(&self, message: impl Into<String>, pos: usize) -> PathError {
        PathError {
            message: message.into(),
            column: self.offset + pos + 1,
        }
    }

    fn at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    pub(super) fn parse(&self) -> Result<Vec<Segment>, PathError> {
        if self.chars.is_empty() {
            return Err(PathError {
                message: "empty selector".into(),
                column: 1,
            });
        }
        let mut segments = Vec::new();
        let mut pos = 0;
        loop {
            if segments.len() == MAX_SEGMENTS {
                return Err(self.err(format!("too many segments (at most {MAX_SEGMENTS})"), pos));
            }
            let (segment, next) = self.segment(pos)?;
            segments.push(segment);
            pos = next;
            match self.at(pos) {
                None => return Ok(segments),
                Some('.') if pos + 1 == self.chars.len() => {
                    return Err(self.err("trailing '.'", pos));
                }
                Some('.') => pos += 1,
                Some(_) => return Err(self.err("expected '.' after segment", pos)),
            }
        }
    }

    /// One segment starting at `pos`; returns it and the position just after it.
    fn segment(&self, pos: usize) -> Result<(Segment, usize), PathError> {
        match self.at(pos) {
            None | Some('.') => Err(self.err("empty segment", pos)),
            Some('"') => {
                let (key, next) = self.quoted(pos)?;
                // A quoted number names the object key only; `Keys` never matches indexes.
                let segment = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                    Segment::Keys(vec![key])
                } else {
                    Segment::Key(key)
                };
                Ok((segment, next))
            }
            Some('{') => self.braces(pos),
            Some(_) => {
                let end = (pos..self.chars.len())
                    .find(|&i| self.at(i) == Some('.'))
                    .unwrap_or(self.chars.len());
                let word = self.chars.get(pos..end).unwrap_or_default();
                let segment = match word {
                    ['*'] => Segment::AnyOne,
                    ['*', '*'] => Segment::AnyDepth,
                    ['[', ']'] => Segment::AnyElement,
                    _ => Segment::Key(self.bare(pos, end, false)?),
                };
                Ok((segment, end))
            }
        }
    }

    /// Validates a bare key spanning `start..end`.
    fn bare(&self, start: usize, end: usize, in_braces: bool) -> Result<String, PathError> {
        let mut key = String::new();
        for pos in start..end {
            let Some(c) = self.at(pos) else { break };
            let problem = match c {
                '*' => Some("'*' must be a whole segment ('*' or '**'); quote a literal '*'"),
                '[' | ']' => Some(
                    "'[]' must be a whole segment; write an array index as a plain number (frames.0)",
                ),
                '"' => Some("a quote may only start a segment; quote the whole key"),
                '{' => Some("'{' may only start a segment"),
                '}' => Some("unbalanced '}'"),
                ',' => Some("',' is only allowed inside '{...}'"),
                '\\' => Some("'\\' is only allowed inside a quoted key"),
                '.' if in_braces => Some("'.' inside '{...}'; quote the key"),
                c if c.is_whitespace() => Some("whitespace in a key; quote the key"),
                _ => None,
            };
            if let Some(message) = problem {
                return Err(self.err(message, pos));
            }
            key.push(c);
        }
        Ok(key)
    }

    /// A quoted key whose opening quote is at `open`; returns it and the position after the
    /// closing quote.
    fn quoted(&self, open: usize) -> Result<(String, usize), PathError> {
        let mut key = String::new();
        let mut pos = open + 1;
        loop {
            match self.at(pos) {
                None => return Err(self.err("unterminated quoted key", open)),
                Some('"') => return Ok((key, pos + 1)),
                Some('\\') => match self.at(pos + 1) {
                    Some(c @ ('"' | '\\')) => {
                        key.push(c);
                        pos += 2;
                    }
                    Some(c) => {
                        return Err(self.err(
                            format!("unknown escape '\\{c}' (only \\\" and \\\\ are escapes)"),
                            pos,
                        ));
                    }
                    None => return Err(self.err("unterminated quoted key", open)),
                },
                Some(c) => {
                    key.push(c);
                    pos += 1;
                }
            }
        }
    }

    /// `{a, "b.c"}` with the `{` at `open`.
    fn braces(&self, open: usize) -> Result<(Segment, usize), PathError> {
        let mut keys = Vec::new();
        let mut pos = open + 1;
        let skip_ws = |mut p: usize| {
            while self.at(p).is_some_and(char::is_whitespace) {
                p += 1;
            }
            p
        };
        loop {
            pos = skip_ws(pos);
            match self.at(pos) {
                None => return Err(self.err("unclosed '{'", open)),
                Some('}') if keys.is_empty() => return Err(self.err("empty '{}'", open)),
                Some('}' | ',') => return Err(self.err("empty key in '{...}'", pos)),
                Some('"') => {
                    let (key, next) = self.quoted(pos)?;
                    keys.push(key);
                    pos = next;
                }
                Some(_) => {
                    let end = (pos..self.chars.len())
                        .find(|&i| {
                            self.at(i)
                                .is_some_and(|c| c == ',' || c == '}' || c.is_whitespace())
                        })
                        .unwrap_or(self.chars.len());
                    keys.push(self.bare(pos, end, true)?);
                    pos = end;
                }
            }
            pos = skip_ws(pos);
            match self.at(pos) {
                Some(',') => pos += 1,
                Some('}') => return Ok((Segment::Keys(keys), pos + 1)),
                None => return Err(self.err("unclosed '{'", open)),
                Some(_) => return Err(self.err("expected ',' or '}'", pos)),
            }
        }
    }
}
