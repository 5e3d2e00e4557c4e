//! Writes Breakpad `.sym` files. This is the one place in the workspace that produces them; the
//! record order follows dump_syms (MODULE, INFO, FILE, INLINE_ORIGIN, FUNC with its INLINE and line
//! records, PUBLIC, STACK WIN, STACK CFI).

use std::fmt::Write as _;

use crate::ids;
use crate::profile::{Arch, OperatingSystem, OsFlavor};
use crate::program::Module;

/// Generator name and version written as `INFO GENERATOR`.
pub const GENERATOR: &str = concat!("crash-generator ", env!("CARGO_PKG_VERSION"));

/// Where a module's `.sym` lives under a symbols root: `<debug_file>/<debug_id>/<sym_file>`.
pub fn sym_path(module: &Module) -> String {
    let debug_file = module.debug_file().expect("symbol identity");
    let leaf = ids::basename(&debug_file);
    format!(
        "{leaf}/{}/{}",
        module.debug_id().expect("symbol identity"),
        ids::sym_file_name(leaf)
    )
}

/// dump_syms names the OS by the binary format, so Android's ELF modules say `Linux`.
fn os_name(os: OsFlavor) -> &'static str {
    match os.os() {
        OperatingSystem::Linux | OperatingSystem::Android => "Linux",
        OperatingSystem::Windows => "windows",
        OperatingSystem::Mac => "mac",
    }
}

fn arch_name(os: OsFlavor) -> &'static str {
    match os.arch() {
        Arch::Amd64 => "x86_64",
        Arch::X86 => "x86",
        Arch::Arm64 => "arm64",
    }
}

/// The `.sym` text for a module.
pub fn write_sym(os: OsFlavor, module: &Module) -> String {
    let mut out = String::with_capacity(4096 + module.functions.len() * 256);
    let debug_file = module.debug_file().expect("symbol identity");
    let _ = writeln!(
        out,
        "MODULE {} {} {} {}",
        os_name(os),
        arch_name(os),
        module.debug_id().expect("symbol identity"),
        ids::basename(&debug_file)
    );
    match (os.is_windows(), module.code_id(os)) {
        (true, Some(code_id)) => {
            let _ = writeln!(out, "INFO CODE_ID {code_id} {}", module.filename());
        }
        (_, Some(code_id)) => {
            let _ = writeln!(out, "INFO CODE_ID {}", code_id.to_uppercase());
        }
        (_, None) => {}
    }
    let _ = writeln!(out, "INFO GENERATOR {GENERATOR}");
    for (id, file) in module.files.iter().enumerate() {
        let _ = writeln!(out, "FILE {id} {file}");
    }
    for (id, name) in module.inline_origins.iter().enumerate() {
        let _ = writeln!(out, "INLINE_ORIGIN {id} {name}");
    }
    for f in &module.functions {
        let _ = writeln!(
            out,
            "FUNC {}{:x} {:x} {:x} {}",
            if f.multiple { "m " } else { "" },
            f.rva,
            f.size,
            f.param_size,
            f.name
        );
        for i in &f.inlines {
            let _ = writeln!(
                out,
                "INLINE {} {} {} {} {:x} {:x}",
                i.depth, i.call_line, i.call_file, i.origin, i.rva, i.size
            );
        }
        for l in &f.lines {
            let _ = writeln!(out, "{:x} {:x} {} {}", l.rva, l.size, l.line, l.file);
        }
    }
    let mut publics: Vec<(u64, u32, &str)> = module
        .functions
        .iter()
        .filter(|f| f.also_public)
        .map(|f| (f.rva, f.param_size, f.name.as_str()))
        .chain(module.publics.iter().map(|p| (p.rva, 0, p.name.as_str())))
        .collect();
    publics.sort_by_key(|p| p.0);
    for (rva, param_size, name) in publics {
        let _ = writeln!(out, "PUBLIC {rva:x} {param_size:x} {name}");
    }
    if os == OsFlavor::WindowsX86 {
        write_stack_win(&mut out, module);
        return out;
    }
    let cfi_ranges = module
        .functions
        .iter()
        .filter(|f| f.has_cfi)
        .map(|f| (f.rva, f.size, f.frame_size))
        .chain(
            module
                .publics
                .iter()
                .filter(|p| p.has_cfi)
                .map(|p| (p.rva, p.size, p.frame_size)),
        );
    for (rva, size, frame_size) in cfi_ranges {
        write_stack_cfi(&mut out, os.arch(), rva, size, frame_size);
    }
    out
}

/// The STACK CFI rows of one function, for a prologue that has set up the whole frame by
/// `rva + 4`; every address a frame can be at lies past the 16-byte prologue, so the last row
/// is the one the walker applies. The frame's top holds the saved frame pointer and the return
/// address (see the stack layout modules).
fn write_stack_cfi(out: &mut String, arch: Arch, rva: u64, size: u64, frame_size: u64) {
    match arch {
        // push rbp / mov rbp, rsp / sub rsp, N on amd64, push ebp / mov ebp, esp / sub esp, N on
        // x86: one prologue at two widths, whose `mov` is a byte longer on amd64 (REX prefix).
        Arch::Amd64 | Arch::X86 => {
            let (sp, fp, word, frame_set_up) = if arch == Arch::Amd64 {
                ("$rsp", "$rbp", 8, 4)
            } else {
                ("$esp", "$ebp", 4, 3)
            };
            let _ = writeln!(
                out,
                "STACK CFI INIT {rva:x} {size:x} .cfa: {sp} {word} + .ra: .cfa -{word} + ^"
            );
            let _ = writeln!(
                out,
                "STACK CFI {:x} .cfa: {sp} {} + {fp}: .cfa -{} + ^",
                rva + 1,
                2 * word,
                2 * word
            );
            let _ = writeln!(
                out,
                "STACK CFI {:x} .cfa: {sp} {frame_size} +",
                rva + frame_set_up
            );
        }
        // On entry the return address is in x30; `sub sp, sp, N` / `stp x29, x30, [sp, N-16]`
        // then stores the frame record at the top of the frame. AArch64 register names carry
        // no `$`, as dump_syms writes them.
        Arch::Arm64 => {
            let _ = writeln!(out, "STACK CFI INIT {rva:x} {size:x} .cfa: sp 0 + .ra: x30");
            let _ = writeln!(
                out,
                "STACK CFI {:x} .cfa: sp {frame_size} + .ra: .cfa -8 + ^ x29: .cfa -16 + ^",
                rva + 4
            );
        }
    }
}

/// STACK WIN records, as dump_syms writes them for 32-bit PDBs (x86 Windows has no STACK CFI).
/// A PUBLIC region's parameter size is 0, matching its PUBLIC line, because the processor takes
/// the parameter size of a frame outside any FUNC from the PUBLIC record.
fn write_stack_win(out: &mut String, module: &Module) {
    let functions = module.functions.iter().filter_map(|f| {
        f.stack_win
            .map(|win| win.record(f.rva, f.size, f.param_size, f.frame_size))
    });
    let publics = module.publics.iter().filter_map(|p| {
        p.stack_win
            .map(|win| win.record(p.rva, p.size, 0, p.frame_size))
    });
    for line in functions.chain(publics) {
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use crate::program::Program;

    #[test]
    fn sym_text_parses_with_breakpad_symbols() {
        for os in OsFlavor::ALL {
            let program = Program::generate(&Profile::for_os(os), 7);
            for module in program.modules.iter() {
                let text = write_sym(os, module);
                assert!(text.ends_with('\n'));
                let parsed = breakpad_symbols::SymbolFile::from_bytes(text.as_bytes())
                    .unwrap_or_else(|e| panic!("{os:?} sym does not parse: {e}\n{text}"));
                for f in &module.functions {
                    let found = parsed.functions.get(f.rva + 1).expect("FUNC parsed");
                    assert_eq!(found.name, f.name);
                }
            }
        }
    }
}
