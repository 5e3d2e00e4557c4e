//! Edge cases: the real-world malformations of `.sym` files and the processor outcome each
//! corrupt dump must get.

use crate::profile::{EdgeCase, OsFlavor};
use crate::program::Module;
use crate::sym_writer;

/// The processor's error name for a corrupt-dump edge case (`ProcessError::name`, or the
/// `minidump::Error` name for read failures, as minidump-stackwalk logs it).
pub fn expected_status(edge: EdgeCase) -> &'static str {
    match edge {
        EdgeCase::EmptyDump => "MissingHeader",
        EdgeCase::BadHeader => "HeaderMismatch",
        EdgeCase::MissingThreadList => "MissingThreadList",
        EdgeCase::MissingSystemInfo => "MissingSystemInfo",
        // Malformed syms leave the dump processable.
        EdgeCase::NamelessInlineOrigin | EdgeCase::NewlineInName | EdgeCase::LineBeforeFunc => "OK",
    }
}

/// The module's `.sym` with the malformation real tools produced. breakpad-symbols 0.27 rejects
/// each of these files as a whole.
pub fn malform_sym(os: OsFlavor, module: &Module, edge: EdgeCase) -> String {
    let good = sym_writer::write_sym(os, module);
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    match edge {
        // dump_syms 2.1.x emitted origins without a name (mozilla/dump_syms#511).
        EdgeCase::NamelessInlineOrigin => {
            let at = lines
                .iter()
                .position(|l| l.starts_with("FUNC "))
                .unwrap_or(lines.len());
            lines.insert(at, format!("INLINE_ORIGIN {}", module.inline_origins.len()));
        }
        // A demangler that let a newline through splits the record in two.
        EdgeCase::NewlineInName => {
            if let Some(func) = lines.iter_mut().find(|l| l.starts_with("FUNC ")) {
                func.push_str("\n<lambda at main.cpp:12>");
            }
        }
        // A line record with no FUNC before it.
        EdgeCase::LineBeforeFunc => {
            let at = lines
                .iter()
                .position(|l| l.starts_with("FUNC "))
                .unwrap_or(lines.len());
            lines.insert(at, "1000 4 1 0".to_string());
        }
        EdgeCase::EmptyDump
        | EdgeCase::BadHeader
        | EdgeCase::MissingThreadList
        | EdgeCase::MissingSystemInfo => {}
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
