//! Python's `json.loads`, for the one annotation siggen decodes itself (`AsyncShutdownTimeout`).
//!
//! serde_json would decode valid text the same way, but siggen notes the decoder's error
//! message when the text is not valid JSON (`Error parsing AsyncShutdownTimeout: Expecting
//! value: line 1 column 1 (char 0)`), keeps a dict's keys in insertion order, and reads
//! `NaN`/`Infinity`. This decoder accepts what CPython's (C) decoder accepts and fails where it
//! fails, with its message and position (in characters).
//!
//! Python also gives up on deep nesting, with a `RecursionError` that siggen does not catch.
//! Where depends on how deep the interpreter's stack already is: called as
//! `testdata/siggen_expected.py` calls siggen, the 992nd nested array or object fails, and
//! [`MAX_NESTING`] is set to match. (Socorro's processor calls from deeper, so it fails a few
//! levels earlier.)

/// A decoded value, as Python holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyJson {
    None,
    Bool(bool),
    /// An int, as its decimal text.
    Int(String),
    Float(f64),
    Str(String),
    List(Vec<PyJson>),
    /// A dict: keys in first-insertion order, the last value of a repeated key.
    Dict(Vec<(String, PyJson)>),
}

impl PyJson {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            PyJson::None => "NoneType",
            PyJson::Bool(_) => "bool",
            PyJson::Int(_) => "int",
            PyJson::Float(_) => "float",
            PyJson::Str(_) => "str",
            PyJson::List(_) => "list",
            PyJson::Dict(_) => "dict",
        }
    }

    /// `dict.get(key)`, or `None` if this is not a dict.
    pub(crate) fn dict_get(&self, key: &str) -> Option<&PyJson> {
        match self {
            PyJson::Dict(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn truthy(&self) -> bool {
        match self {
            PyJson::None => false,
            PyJson::Bool(b) => *b,
            PyJson::Int(i) => i != "0",
            PyJson::Float(f) => *f != 0.0,
            PyJson::Str(s) => !s.is_empty(),
            PyJson::List(items) => !items.is_empty(),
            PyJson::Dict(pairs) => !pairs.is_empty(),
        }
    }

    /// `list(self)`: the items of a list, the keys of a dict, the characters of a str.
    pub(crate) fn iterate(&self) -> Option<Vec<PyJson>> {
        match self {
            PyJson::List(items) => Some(items.clone()),
            PyJson::Dict(pairs) => {
                Some(pairs.iter().map(|(k, _)| PyJson::Str(k.clone())).collect())
            }
            PyJson::Str(s) => Some(s.chars().map(|c| PyJson::Str(c.to_string())).collect()),
            _ => None,
        }
    }

    /// `str(self)`.
    pub(crate) fn to_str(&self) -> String {
        match self {
            PyJson::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    fn repr(&self) -> String {
        match self {
            PyJson::None => "None".to_string(),
            PyJson::Bool(true) => "True".to_string(),
            PyJson::Bool(false) => "False".to_string(),
            PyJson::Int(i) => i.clone(),
            PyJson::Float(f) => super::float_repr(*f),
            PyJson::Str(s) => super::repr_str(s),
            PyJson::List(items) => {
                let inner: Vec<String> = items.iter().map(PyJson::repr).collect();
                format!("[{}]", inner.join(", "))
            }
            PyJson::Dict(pairs) => {
                let inner: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}: {}", super::repr_str(k), v.repr()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

/// The deepest nesting of arrays and objects decoded; one more is Python's `RecursionError`.
pub(crate) const MAX_NESTING: usize = 991;

/// Why `json.loads` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadError {
    /// `JSONDecodeError` (a `ValueError`), with its message.
    Decode(String),
    /// `RecursionError`, with its message.
    TooDeep(String),
}

/// `json.loads(text)`.
pub(crate) fn loads(text: &str) -> Result<PyJson, LoadError> {
    let chars: Vec<char> = text.chars().collect();
    let decoder = Decoder { s: &chars };
    let fail = |message: &str, pos: usize| Err(LoadError::Decode(decoder.message(message, pos)));
    if chars.first() == Some(&'\u{feff}') {
        return fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
    }
    let start = decoder.skip_ws(0);
    match decoder.value(start) {
        Ok((value, end)) => {
            let end = decoder.skip_ws(end);
            if end == chars.len() {
                Ok(value)
            } else {
                fail("Extra data", end)
            }
        }
        Err(Stop::NoValue(pos)) => fail("Expecting value", pos),
        Err(Stop::Error(message, pos)) => fail(message, pos),
        Err(Stop::TooDeep(container)) => Err(LoadError::TooDeep(format!(
            "maximum recursion depth exceeded while decoding a JSON {container} from a unicode \
             string"
        ))),
    }
}

/// Why decoding stopped: no value starts at a position (Python's `StopIteration`, reported as
/// "Expecting value"), or a syntax error inside a value.
enum Stop {
    NoValue(usize),
    Error(&'static str, usize),
    /// Nested deeper than [`MAX_NESTING`]: "array" or "object".
    TooDeep(&'static str),
}

struct Decoder<'a> {
    s: &'a [char],
}

type Scan = Result<(PyJson, usize), Stop>;

impl Decoder<'_> {
    fn message(&self, message: &str, pos: usize) -> String {
        let before = &self.s[..pos.min(self.s.len())];
        let line = before.iter().filter(|&&c| c == '\n').count() + 1;
        let column = match before.iter().rposition(|&c| c == '\n') {
            Some(newline) => pos - newline,
            None => pos + 1,
        };
        format!("{message}: line {line} column {column} (char {pos})")
    }

    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn literal(&self, i: usize, word: &str) -> bool {
        let n = word.chars().count();
        self.s.len() >= i + n && self.s[i..i + n].iter().copied().eq(word.chars())
    }

    /// The value at `i`. Nesting is followed with a stack of open arrays and objects rather
    /// than recursion, so that deep input costs heap, not stack.
    fn value(&self, start: usize) -> Scan {
        let mut open: Vec<Open> = Vec::new();
        let mut i = start;
        loop {
            // A value starts at `i`: a scalar, or an array or object that may stay open.
            let (mut value, mut end) = match self.at(i) {
                Some(c @ ('[' | '{')) => {
                    if open.len() == MAX_NESTING {
                        return Err(Stop::TooDeep(if c == '[' { "array" } else { "object" }));
                    }
                    let inside = self.skip_ws(i + 1);
                    match (c, self.at(inside)) {
                        ('[', Some(']')) => (PyJson::List(Vec::new()), inside + 1),
                        ('{', Some('}')) => (PyJson::Dict(Vec::new()), inside + 1),
                        ('[', _) => {
                            open.push(Open::List(Vec::new()));
                            i = inside;
                            continue;
                        }
                        _ => {
                            let (key, value_at) = self.key(inside)?;
                            open.push(Open::Dict(Vec::new(), key));
                            i = value_at;
                            continue;
                        }
                    }
                }
                _ => self.scalar(i)?,
            };
            // The value is complete: it goes into the innermost open container, which may then
            // close (and so complete in turn) or go on after a comma.
            loop {
                let Some(container) = open.last_mut() else {
                    return Ok((value, end));
                };
                let after = self.skip_ws(end);
                let closer = match container {
                    Open::List(items) => {
                        items.push(value);
                        ']'
                    }
                    Open::Dict(pairs, key) => {
                        let key = std::mem::take(key);
                        match pairs.iter_mut().find(|(k, _)| *k == key) {
                            Some(pair) => pair.1 = value,
                            None => pairs.push((key, value)),
                        }
                        '}'
                    }
                };
                match self.at(after) {
                    Some(c) if c == closer => {
                        value = match open.pop().expect("the container just used") {
                            Open::List(items) => PyJson::List(items),
                            Open::Dict(pairs, _) => PyJson::Dict(pairs),
                        };
                        end = after + 1;
                    }
                    Some(',') => {
                        let next = self.skip_ws(after + 1);
                        i = match open.last_mut().expect("the container just used") {
                            Open::List(_) => next,
                            Open::Dict(_, key) => {
                                let (next_key, value_at) = self.key(next)?;
                                *key = next_key;
                                value_at
                            }
                        };
                        break;
                    }
                    _ => return Err(Stop::Error("Expecting ',' delimiter", after)),
                }
            }
        }
    }

    /// An object's `"key":` at `i`; returns the key and where its value starts.
    fn key(&self, i: usize) -> Result<(String, usize), Stop> {
        if self.at(i) != Some('"') {
            return Err(Stop::Error(
                "Expecting property name enclosed in double quotes",
                i,
            ));
        }
        let (key, after_key) = self.string(i + 1)?;
        let colon = self.skip_ws(after_key);
        if self.at(colon) != Some(':') {
            return Err(Stop::Error("Expecting ':' delimiter", colon));
        }
        Ok((key, self.skip_ws(colon + 1)))
    }

    /// A string, constant or number at `i`.
    fn scalar(&self, i: usize) -> Scan {
        let Some(c) = self.at(i) else {
            return Err(Stop::NoValue(i));
        };
        let constant = |word: &str, value: PyJson| {
            self.literal(i, word)
                .then(|| (value, i + word.chars().count()))
        };
        let found = match c {
            '"' => return self.string(i + 1).map(|(s, end)| (PyJson::Str(s), end)),
            'n' => constant("null", PyJson::None),
            't' => constant("true", PyJson::Bool(true)),
            'f' => constant("false", PyJson::Bool(false)),
            'N' => constant("NaN", PyJson::Float(f64::NAN)),
            'I' => constant("Infinity", PyJson::Float(f64::INFINITY)),
            '-' => constant("-Infinity", PyJson::Float(f64::NEG_INFINITY)),
            _ => None,
        };
        match found {
            Some(done) => Ok(done),
            None => self.number(i),
        }
    }

    fn digits_from(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    fn number(&self, start: usize) -> Scan {
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('0') => i += 1,
            Some('1'..='9') => i = self.digits_from(i + 1),
            _ => return Err(Stop::NoValue(start)),
        }
        let mut is_float = false;
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i = self.digits_from(i + 1);
            is_float = true;
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            let end = self.digits_from(j);
            if end > j {
                i = end;
                is_float = true;
            }
        }
        let text: String = self.s[start..i].iter().collect();
        let value = if is_float {
            PyJson::Float(text.parse().unwrap_or(f64::NAN))
        } else if text == "-0" {
            PyJson::Int("0".to_string())
        } else {
            PyJson::Int(text)
        };
        Ok((value, i))
    }

    /// A string whose opening quote is at `start - 1`; returns the text and the index after
    /// the closing quote.
    fn string(&self, start: usize) -> Result<(String, usize), Stop> {
        let begin = start - 1;
        let unterminated = Stop::Error("Unterminated string starting at", begin);
        let mut out = String::new();
        let mut i = start;
        loop {
            let Some(c) = self.at(i) else {
                return Err(unterminated);
            };
            match c {
                '"' => return Ok((out, i + 1)),
                '\\' => {
                    let Some(escape) = self.at(i + 1) else {
                        return Err(unterminated);
                    };
                    if escape == 'u' {
                        let (c, end) = self.unicode_escape(i + 1)?;
                        out.push(c);
                        i = end;
                        continue;
                    }
                    out.push(match escape {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        _ => return Err(Stop::Error("Invalid \\escape", i)),
                    });
                    i += 2;
                }
                c if (c as u32) < 0x20 => {
                    return Err(Stop::Error("Invalid control character at", i));
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// Four hex digits after the `u` at `u`; returns the value and the index after them.
    fn hex4(&self, u: usize) -> Result<u32, Stop> {
        let mut value = 0;
        for i in u + 1..u + 5 {
            let digit = self
                .at(i)
                .and_then(|c| c.to_digit(16))
                .ok_or(Stop::Error("Invalid \\uXXXX escape", u))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// `\uXXXX` (and a following low surrogate) with its `u` at `u`. Like CPython, it wants at
    /// least one character after the four digits, and joins a surrogate pair only when one
    /// more character follows the pair. A lone surrogate, which Rust text cannot hold, becomes
    /// U+FFFD.
    fn unicode_escape(&self, u: usize) -> Result<(char, usize), Stop> {
        let end = u + 5;
        if end >= self.s.len() {
            return Err(Stop::Error("Invalid \\uXXXX escape", u));
        }
        let high = self.hex4(u)?;
        if (0xd800..0xdc00).contains(&high)
            && end + 6 < self.s.len()
            && self.at(end) == Some('\\')
            && self.at(end + 1) == Some('u')
        {
            let low = self.hex4(end + 1)?;
            if (0xdc00..0xe000).contains(&low) {
                let joined = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return Ok((char::from_u32(joined).unwrap_or('\u{fffd}'), end + 6));
            }
        }
        Ok((char::from_u32(high).unwrap_or('\u{fffd}'), end))
    }
}

/// An array or object being decoded: its items so far (and, for an object, the key whose
/// value comes next).
enum Open {
    List(Vec<PyJson>),
    Dict(Vec<(String, PyJson)>, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_cpythons() {
        for (text, want) in [
            ("not json", "Expecting value: line 1 column 1 (char 0)"),
            (
                "{\"phase\": 1",
                "Expecting ',' delimiter: line 1 column 12 (char 11)",
            ),
            (
                "{\"a\":1,}",
                "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)",
            ),
            ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
            (
                "{\"a\" 1}",
                "Expecting ':' delimiter: line 1 column 6 (char 5)",
            ),
            (
                "\"ab\ncd\"",
                "Invalid control character at: line 1 column 4 (char 3)",
            ),
            (
                "\"ab",
                "Unterminated string starting at: line 1 column 1 (char 0)",
            ),
            ("\"ab\\q\"", "Invalid \\escape: line 1 column 4 (char 3)"),
            (
                "\"ab\\u12\"",
                "Invalid \\uXXXX escape: line 1 column 5 (char 4)",
            ),
            ("1 2", "Extra data: line 1 column 3 (char 2)"),
            (
                "\u{feff}{}",
                "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)",
            ),
            ("01", "Extra data: line 1 column 2 (char 1)"),
            ("[", "Expecting value: line 1 column 2 (char 1)"),
            (
                "{",
                "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            ),
            ("\n\n  x", "Expecting value: line 3 column 3 (char 4)"),
            (
                "{\"é\": 1, x}",
                "Expecting property name enclosed in double quotes: line 1 column 10 (char 9)",
            ),
        ] {
            assert_eq!(loads(text), Err(LoadError::Decode(want.into())), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_a_recursion_error() {
        let nested =
            |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
        // Within a quarter of a tokio worker's 2 MiB stack, even unoptimised.
        std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                assert!(loads(&nested("[", "]", MAX_NESTING)).is_ok());
                assert!(loads(&nested("{\"a\":", "}", MAX_NESTING)).is_ok());
            })
            .expect("a thread")
            .join()
            .expect("no stack overflow");
        assert_eq!(
            loads(&nested("[", "]", MAX_NESTING + 1)),
            Err(LoadError::TooDeep(
                "maximum recursion depth exceeded while decoding a JSON array from a unicode string"
                    .into()
            ))
        );
        assert!(matches!(
            loads(&nested("{\"a\":", "}", 100_000)),
            Err(LoadError::TooDeep(m)) if m.contains("JSON object")
        ));
    }

    #[test]
    fn values_decode_as_python_holds_them() {
        let value =
            loads(r#"{"b": [1, -0, 2.50, 1e2, true, null], "a": "\ud834\udd1e", "b": "x"}"#)
                .unwrap();
        assert_eq!(
            value,
            PyJson::Dict(vec![
                ("b".into(), PyJson::Str("x".into())),
                ("a".into(), PyJson::Str("\u{1d11e}".into())),
            ])
        );
        let list = loads("[1, -0, 2.50, 1e2, true, null, NaN]").unwrap();
        assert_eq!(list.to_str(), "[1, 0, 2.5, 100.0, True, None, nan]");
    }
}
