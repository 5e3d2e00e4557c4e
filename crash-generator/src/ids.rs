//! Module identifiers the way the processor derives them from a minidump: debug ids, code ids,
//! and the CodeView record bytes that carry them.

use std::fmt::Write as _;

/// The CodeView record a module carries in the dump, which decides its identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeView {
    /// Linux: `BpEL` + GNU build id.
    Elf { build_id: Vec<u8> },
    /// Windows and macOS: `RSDS` + GUID + age + PDB (or module) name.
    Pdb70 {
        guid: [u8; 16],
        age: u32,
        pdb_name: String,
    },
    /// No CodeView record: the module has no debug id (Windows keeps a code id).
    None,
}

const CV_SIGNATURE_ELF: u32 = minidump_common::format::CvSignature::Elf as u32;
const CV_SIGNATURE_PDB70: u32 = minidump_common::format::CvSignature::Pdb70 as u32;

impl CodeView {
    /// The raw record bytes as they appear in the dump.
    pub fn record_bytes(&self) -> Option<Vec<u8>> {
        match self {
            CodeView::Elf { build_id } => {
                let mut out = CV_SIGNATURE_ELF.to_le_bytes().to_vec();
                out.extend_from_slice(build_id);
                Some(out)
            }
            CodeView::Pdb70 {
                guid,
                age,
                pdb_name,
            } => {
                let mut out = CV_SIGNATURE_PDB70.to_le_bytes().to_vec();
                out.extend_from_slice(guid);
                out.extend_from_slice(&age.to_le_bytes());
                out.extend_from_slice(pdb_name.as_bytes());
                out.push(0);
                Some(out)
            }
            CodeView::None => None,
        }
    }
}

/// A GUID stored in the dump's little-endian field layout, printed the Breakpad way
/// (fields 1-3 byte-swapped, upper-case hex, no dashes).
fn guid_hex(bytes: &[u8; 16]) -> String {
    let d1 = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let d2 = u16::from_le_bytes([bytes[4], bytes[5]]);
    let d3 = u16::from_le_bytes([bytes[6], bytes[7]]);
    let mut out = format!("{d1:08X}{d2:04X}{d3:04X}");
    for b in &bytes[8..] {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// The Breakpad debug id (`GUID` + age in hex) the processor reports for a module.
pub fn debug_id(cv: &CodeView) -> Option<String> {
    match cv {
        CodeView::Elf { build_id } => {
            let mut first = [0u8; 16];
            for (slot, byte) in first.iter_mut().zip(build_id.iter()) {
                *slot = *byte;
            }
            Some(format!("{}0", guid_hex(&first)))
        }
        CodeView::Pdb70 { guid, age, .. } => Some(format!("{}{age:X}", guid_hex(guid))),
        CodeView::None => None,
    }
}

/// The code id the processor reports: ELF build id in lower-case hex, PE `TIMESTAMP` + `SizeOfImage`,
/// Mach-O UUID without the age.
pub fn code_id(cv: &CodeView, is_mac: bool, time_date_stamp: u32, size: u32) -> Option<String> {
    match cv {
        CodeView::Elf { build_id } => Some(build_id.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })),
        CodeView::Pdb70 { guid, .. } if is_mac => Some(guid_hex(guid)),
        CodeView::Pdb70 { .. } => Some(pe_code_id(time_date_stamp, size)),
        CodeView::None if !is_mac => Some(pe_code_id(time_date_stamp, size)),
        CodeView::None => None,
    }
}

/// The PE-style code id (also used for every unloaded module).
pub fn pe_code_id(time_date_stamp: u32, size: u32) -> String {
    format!("{time_date_stamp:08X}{size:x}")
}

/// The last path component, accepting both separators (Windows module names use `\`).
pub fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The `.sym` file name for a debug file: `xul.pdb` -> `xul.sym`, `libfoo.so` -> `libfoo.so.sym`.
pub fn sym_file_name(debug_file: &str) -> String {
    let leaf = basename(debug_file);
    match leaf.strip_suffix(".pdb") {
        Some(stem) => format!("{stem}.sym"),
        None => format!("{leaf}.sym"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_debug_id_swaps_the_guid_fields() {
        let build_id: Vec<u8> = (0xa0..0xb4).collect();
        let cv = CodeView::Elf { build_id };
        assert_eq!(debug_id(&cv).unwrap(), "A3A2A1A0A5A4A7A6A8A9AAABACADAEAF0");
        assert_eq!(
            code_id(&cv, false, 0, 0).unwrap(),
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
        );
    }

    #[test]
    fn sym_names_follow_the_symbol_server_layout() {
        assert_eq!(sym_file_name("xul.pdb"), "xul.sym");
        assert_eq!(sym_file_name("/usr/lib/libfoo.so"), "libfoo.so.sym");
        assert_eq!(
            basename(r"C:\Windows\System32\kernel32.dll"),
            "kernel32.dll"
        );
        assert_eq!(pe_code_id(0x1234_5678, 0x20000), "1234567820000");
    }
}
