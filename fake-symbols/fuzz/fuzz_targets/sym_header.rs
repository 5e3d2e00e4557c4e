//! `SymHeader::read` on arbitrary bytes: no panic, fields only from a first `MODULE ` line or
//! `INFO` lines, never spanning a line break, and the debug id upper-cased as stored.
#![no_main]

use fake_symbols::fuzzing::SymHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = SymHeader::read(data);
    if !data.starts_with(b"MODULE ") {
        assert_eq!(header.os, None);
        assert_eq!(header.arch, None);
        assert_eq!(header.debug_id, None);
        assert_eq!(header.debug_file, None);
    }
    if let Some(id) = &header.debug_id {
        assert!(
            !id.bytes().any(|b| b.is_ascii_lowercase()),
            "debug id {id:?} not upper-cased"
        );
    }
    let fields = [
        &header.os,
        &header.arch,
        &header.debug_id,
        &header.debug_file,
        &header.code_id,
        &header.code_file,
        &header.generator,
    ];
    for field in fields.into_iter().flatten() {
        assert!(!field.contains('\n'), "field {field:?} spans lines");
    }
});
