//! Symbol keys `<debug_file>/<debug_id>/<sym_file>` and Tecken's rules for them.
//!
//! The same rules decide which download paths exist (anything else is a JSON 404, as Django's
//! resolver answers) and which zip members an upload may contain.

use std::fmt;

/// File name extensions Tecken serves (`DOWNLOAD_FILE_EXTENSIONS_ALLOWED`, case-sensitive).
pub const DOWNLOAD_EXTENSIONS: [&str; 6] = [".sym", ".dl_", ".ex_", ".pd_", ".dbg.gz", ".tar.bz2"];

/// The debug id Tecken never looks up (33 zeros).
const ZERO_DEBUG_ID: &str = "000000000000000000000000000000000";

/// One symbol file's place in the store.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SymbolKey {
    pub debug_file: String,
    /// Upper-case hex.
    pub debug_id: String,
    pub file_name: String,
}

impl SymbolKey {
    /// Validates the three components as Tecken's URL resolver does and upper-cases the id.
    pub fn parse(debug_file: &str, debug_id: &str, file_name: &str) -> Option<Self> {
        (is_key_component(debug_file) && is_hex(debug_id) && is_key_component(file_name)).then(
            || Self {
                debug_file: debug_file.to_string(),
                debug_id: debug_id.to_ascii_uppercase(),
                file_name: file_name.to_string(),
            },
        )
    }

    /// Parses `a/b/c` (a zip member name or a storage path).
    pub fn from_path(path: &str) -> Option<Self> {
        let mut parts = path.split('/');
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Self::parse(a, b, c)
    }

    /// Tecken's ignore list: answered 404 `Symbol Not Found (and ignored)` without a lookup.
    pub fn is_ignored(&self) -> bool {
        self.file_name == "file.ptr"
            || self.debug_id == ZERO_DEBUG_ID
            || !DOWNLOAD_EXTENSIONS
                .iter()
                .any(|ext| self.file_name.ends_with(ext))
    }

    /// Whether a miss may be a code-file/code-id lookup (`is_maybe_codeinfo`).
    pub fn may_be_code_info(&self) -> bool {
        self.file_name.ends_with(".sym") && self.debug_id.len() < 33
    }
}

impl fmt::Display for SymbolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.debug_file, self.debug_id, self.file_name
        )
    }
}

/// Tecken's `VALID_KEY_CHARS`: `[^\x00-\x1f\x80-\xff\\\^`><{}\[\]#%"'\|/]+`. Non-ASCII bytes
/// are outside it too (their UTF-8 bytes are all >= 0x80).
pub fn is_key_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            (0x20..0x80).contains(&b)
                && b != 0x7f
                && !matches!(
                    b,
                    b'\\' | b'^' | b'`' | b'>' | b'<' | b'{' | b'}' | b'[' | b']' | b'#' | b'%'
                        | b'"' | b'\'' | b'|' | b'/'
                )
        })
        // Django's path converter never matches these segments either.
        && s != "."
        && s != ".."
}

pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tecken_rejects_what_its_tests_reject() {
        for bad in [
            "汉.pdb",
            "⚡️.sym",
            "p%eter.sym",
            "a#b",
            "x\u{1}y",
            "a\\b",
            "",
        ] {
            assert!(!is_key_component(bad), "{bad:?}");
        }
        for good in [
            "xul.pdb",
            "libxul.so",
            "firefox.exe",
            "name with spaces.sym",
            "a+b~c",
        ] {
            assert!(is_key_component(good), "{good:?}");
        }
        assert!(!is_hex("12g4"));
        assert_eq!(
            SymbolKey::parse("xul.pdb", "abc1", "xul.sym")
                .unwrap()
                .debug_id,
            "ABC1"
        );
    }

    #[test]
    fn ignore_list_and_code_info() {
        let key = |a: &str, b: &str, c: &str| SymbolKey::parse(a, b, c).unwrap();
        assert!(key("xul.pdb", "ABC", "file.ptr").is_ignored());
        assert!(key("xul.pdb", ZERO_DEBUG_ID, "xul.sym").is_ignored());
        assert!(key("xul.pdb", "ABC", "xul.txt").is_ignored());
        assert!(key("xul.pdb", "ABC", "xul.SYM").is_ignored());
        assert!(!key("xul.pdb", "ABC", "xul.dbg.gz").is_ignored());
        assert!(key("xul.dll", "651C9AF99241000", "xul.sym").may_be_code_info());
        assert!(!key("g.dll", "651C9AF99241000", "g.dl_").may_be_code_info());
        assert!(!key("x.pdb", "A".repeat(33).as_str(), "x.sym").may_be_code_info());
    }
}
