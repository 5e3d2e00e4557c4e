//! siggen's signature lists (vendored unchanged in `siglists/`), compiled as siggen uses them.
//!
//! Each list file holds one entry a line; blank lines and lines starting with `#` are skipped
//! and every line is stripped of surrounding whitespace. The three regular-expression lists are
//! joined into one alternation that siggen tries with `re.match`: a frame is on the list when
//! any line matches a prefix of it. Here each line goes through [`pyre::translate`] (Python
//! `re` syntax and meaning in the `regex` crate's terms) and the alternation is anchored at the
//! start. Sentinels are plain frame names compared for equality.
//!
//! siggen also ships `trim_dll_signature_re.txt`, but its 2.2.20241029 pipeline never loads it:
//! the list is vendored (and checked to compile) for completeness, and applying it would make
//! signatures differ from siggen's.

use std::sync::LazyLock;

use regex::Regex;

use crate::py;
use crate::pyre::{self, TranslateError};

/// The vendored files, by the name siggen loads them under.
pub(crate) const IRRELEVANT: &str = include_str!("../siglists/irrelevant_signature_re.txt");
pub(crate) const PREFIX: &str = include_str!("../siglists/prefix_signature_re.txt");
pub(crate) const LINE_NUMBERS: &str =
    include_str!("../siglists/signatures_with_line_numbers_re.txt");
pub(crate) const SENTINELS: &str = include_str!("../siglists/signature_sentinels.txt");
#[cfg(test)]
pub(crate) const TRIM_DLL: &str = include_str!("../siglists/trim_dll_signature_re.txt");

/// The lists, compiled once.
pub(crate) struct SigLists {
    /// Frames left out of the signature.
    pub(crate) irrelevant: Regex,
    /// Frames kept in the signature, after which the walk goes on.
    pub(crate) prefix: Regex,
    /// Frames whose source line is appended (`js_Interpret:123`).
    pub(crate) line_numbers: Regex,
    /// Frames a signature starts at when present, in file order.
    pub(crate) sentinels: Vec<&'static str>,
}

pub(crate) static LISTS: LazyLock<SigLists> = LazyLock::new(|| {
    let compile = |name: &str, text: &str| {
        compile(text).unwrap_or_else(|e| panic!("siglists/{name}.txt: {e}"))
    };
    SigLists {
        irrelevant: compile("irrelevant_signature_re", IRRELEVANT),
        prefix: compile("prefix_signature_re", PREFIX),
        line_numbers: compile("signatures_with_line_numbers_re", LINE_NUMBERS),
        sentinels: entries(SENTINELS).collect(),
    }
});

/// The entries of a list file, as siggen reads them.
pub(crate) fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(py::strip)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Why a list did not compile.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListError {
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Regex(#[from] regex::Error),
}

/// A regular-expression list as one `regex` that matches where siggen's `re.match` does.
pub(crate) fn compile(text: &str) -> Result<Regex, ListError> {
    let alternatives = entries(text)
        .map(pyre::translate)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Regex::new(&format!("^(?:{})", alternatives.join("|")))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_pattern_compiles() {
        for (name, text) in [
            ("irrelevant_signature_re", IRRELEVANT),
            ("prefix_signature_re", PREFIX),
            ("signatures_with_line_numbers_re", LINE_NUMBERS),
            ("trim_dll_signature_re", TRIM_DLL),
        ] {
            for line in entries(text) {
                let translated = pyre::translate(line).unwrap_or_else(|e| panic!("{name}: {e}"));
                Regex::new(&translated)
                    .unwrap_or_else(|e| panic!("{name}: {line:?} as {translated:?}: {e}"));
            }
            compile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(LISTS.sentinels.contains(&"core::panicking::panic_fmt"));
    }

    /// `testdata/probes/expected.json` has, for some two thousand texts (every list line as
    /// written, unescaped, extended, after a letter, before a newline, and tricky cases), which
    /// lists siggen's compiled regular expressions match.
    #[test]
    fn lists_match_where_siggens_regular_expressions_do() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/probes/expected.json");
        let probes: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect(path);
        let lists = &*LISTS;
        let mut mismatches = Vec::new();
        let cases = probes["lists"].as_array().expect("list probes");
        for case in cases {
            let text = case["text"].as_str().expect("a text");
            for (name, regex) in [
                ("irrelevant", &lists.irrelevant),
                ("prefix", &lists.prefix),
                ("line_numbers", &lists.line_numbers),
            ] {
                if regex.is_match(text) != case[name].as_bool().expect("a bool") {
                    mismatches.push(format!("{text:?} on {name}: siggen says {}", case[name]));
                }
            }
        }
        assert!(cases.len() > 1000, "{} list probes", cases.len());
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    #[test]
    fn lists_match_prefixes_as_re_match_does() {
        let lists = &*LISTS;
        assert!(lists.irrelevant.is_match("KiFastSystemCallRet"));
        assert!(
            lists
                .irrelevant
                .is_match("std::panicking::begin_panic_handler")
        );
        assert!(lists.irrelevant.is_match("{virtual override thunk}"));
        assert!(!lists.irrelevant.is_match("xKiFastSystemCallRet"));
        assert!(lists.prefix.is_match("<name omitted>"));
        assert!(lists.prefix.is_match("JS::Call"));
        assert!(!lists.prefix.is_match("JS::Call2"));
        assert!(lists.prefix.is_match("xul.dll"));
        assert!(lists.line_numbers.is_match("js_Interpret"));
    }
}
