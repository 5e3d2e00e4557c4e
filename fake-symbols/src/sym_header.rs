//! The header of a Breakpad `.sym` file, read the way Tecken's `libsym.py` reads it: `MODULE`
//! and `INFO` lines until the first other line; anything unparseable just leaves fields empty.

use std::io::{BufRead, Read};

/// Module facts from a `.sym` header.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SymHeader {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub debug_id: Option<String>,
    pub debug_file: Option<String>,
    pub code_id: Option<String>,
    pub code_file: Option<String>,
    pub generator: Option<String>,
}

/// Longest header line looked at; a longer line ends the header.
const MAX_HEADER_LINE: usize = 64 * 1024;
/// Most header lines looked at.
const MAX_HEADER_LINES: usize = 256;

impl SymHeader {
    /// Reads the header from the start of `reader` (stops at the first non-header line).
    pub fn read(mut reader: impl BufRead) -> Self {
        let mut header = Self::default();
        let mut line = Vec::new();
        for index in 0..MAX_HEADER_LINES {
            line.clear();
            let mut limited = reader.by_ref().take(MAX_HEADER_LINE as u64);
            match limited.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                break;
            };
            let text = text.trim_end_matches(['\r', '\n']);
            if index == 0 && text.starts_with("MODULE ") {
                let mut parts = text.splitn(5, ' ').skip(1);
                header.os = parts.next().map(str::to_string);
                header.arch = parts.next().map(str::to_string);
                header.debug_id = parts.next().map(str::to_ascii_uppercase);
                header.debug_file = parts.next().map(str::to_string);
            } else if let Some(rest) = text.strip_prefix("INFO CODE_ID ") {
                let mut parts = rest.splitn(2, ' ');
                header.code_id = parts.next().map(str::to_string);
                header.code_file = parts.next().map(str::to_string);
            } else if let Some(rest) = text.strip_prefix("INFO GENERATOR ") {
                header.generator = Some(rest.to_string());
            } else if !text.starts_with("INFO ") {
                break;
            }
        }
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_module_and_info() {
        let text = "MODULE windows x86_64 a0b1 xul.pdb\nINFO CODE_ID 5F00AB xul.dll\nINFO GENERATOR dump_syms 2.3.4\nFILE 0 a.c\n";
        let header = SymHeader::read(text.as_bytes());
        assert_eq!(header.debug_id.as_deref(), Some("A0B1"));
        assert_eq!(header.debug_file.as_deref(), Some("xul.pdb"));
        assert_eq!(header.code_id.as_deref(), Some("5F00AB"));
        assert_eq!(header.code_file.as_deref(), Some("xul.dll"));
        assert_eq!(header.generator.as_deref(), Some("dump_syms 2.3.4"));
        assert_eq!(SymHeader::read(&b"garbage\n"[..]), SymHeader::default());
    }
}
