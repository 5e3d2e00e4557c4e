//! Property tests for fake-symbols' parsers of outside bytes: the sym header, symbol keys and
//! paths, `Content-Range`, the sym rewrites (corruptions and truncation), the multipart framing
//! guard and the zip end-of-directory reader. None may panic on any input; where a parse has a
//! canonical form, the form parses back to the same value.

use std::io::Read;

use fake_symbols::fuzzing::{
    Corrupting, Framing, FramingLimits, SymHeader, Truncating, declared_entries, is_key_component,
    module_of_path, parse_content_range, split_name,
};
use fake_symbols::{Corruption, CutAt, SymbolKey};
use proptest::prelude::*;

const CORRUPTIONS: [Corruption; 5] = [
    Corruption::WrongModuleId,
    Corruption::InlineOriginNoName,
    Corruption::InlineOriginBlankName,
    Corruption::NameSplitByNewline,
    Corruption::LineBeforeFunc,
];

/// Sym-like text: record keywords, hex numbers, multi-byte names, odd whitespace.
fn sym_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "MODULE [a-zA-Z]{0,8} [a-z0-9_]{0,6} [0-9A-Fa-f]{0,34} [^\n]{0,12}",
        "INFO CODE_ID [0-9A-F]{0,16}( [^\n]{0,8})?",
        "INFO GENERATOR [^\n]{0,16}",
        "FILE [0-9]{1,3} [^\n]{0,16}",
        "INLINE_ORIGIN [0-9]{0,4}( [^\n]{0,12})?",
        "FUNC (m )?[0-9a-f]{1,17} [0-9a-f]{1,17} [0-9a-f]{1,3}( [^\n]{0,12})?",
        "[0-9a-f]{1,17} [0-9a-f]{1,17} [0-9]{1,5} [0-9]{1,3}",
        "PUBLIC [0-9a-f]{1,8} 0 [^\n]{0,12}",
        "[^\n]{0,40}",
    ];
    prop::collection::vec((line, prop_oneof!["\n", "\r\n", ""]), 0..24)
        .prop_map(|lines| lines.into_iter().map(|(l, end)| l + &end).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_sym_header_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let header = SymHeader::read(&bytes[..]);
        if let Some(id) = &header.debug_id {
            prop_assert!(!id.bytes().any(|b| b.is_ascii_lowercase()));
        }
        if !bytes.starts_with(b"MODULE ") {
            prop_assert_eq!(header.os, None);
        }
    }

    #[test]
    fn a_module_line_is_read_back(
        os in "[a-zA-Z]{1,8}", arch in "[a-z0-9_]{1,8}", id in "[0-9A-F]{1,33}",
        file in "[a-zA-Z0-9._]{1,16}",
    ) {
        let text = format!("MODULE {os} {arch} {id} {file}\nFILE 0 a.c\n");
        let header = SymHeader::read(text.as_bytes());
        prop_assert_eq!(header.os.as_deref(), Some(os.as_str()));
        prop_assert_eq!(header.arch.as_deref(), Some(arch.as_str()));
        prop_assert_eq!(header.debug_id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(header.debug_file.as_deref(), Some(file.as_str()));
    }

    #[test]
    fn accepted_keys_are_safe_and_round_trip(path in "[ -~\u{80}-\u{10ffff}/]{0,64}") {
        if let Some(key) = SymbolKey::from_path(&path) {
            for part in [&key.debug_file, &key.debug_id, &key.file_name] {
                prop_assert!(is_key_component(part));
                prop_assert!(!part.contains('/') && part != ".." && part != ".");
            }
            prop_assert!(!key.debug_id.bytes().any(|b| b.is_ascii_lowercase()));
            prop_assert_eq!(SymbolKey::from_path(&key.to_string()), Some(key));
        }
        let _ = module_of_path(&path);
    }

    #[test]
    fn valid_keys_are_accepted(
        file in "[a-zA-Z0-9._ +~-]{1,24}", id in "[0-9a-fA-F]{1,40}", name in "[a-zA-Z0-9._-]{1,24}",
    ) {
        prop_assume!(file != "." && file != ".." && name != "." && name != "..");
        let key = SymbolKey::parse(&file, &id, &name);
        prop_assert!(key.is_some());
        prop_assert_eq!(key.map(|k| k.debug_id), Some(id.to_ascii_uppercase()));
    }

    #[test]
    fn content_ranges_are_ordered_and_canonical(value in "(bytes )?([0-9*]{0,21}(-[0-9]{0,21})?)?(/[0-9*]{0,21})?") {
        if let Some(parsed) = parse_content_range(&value) {
            if let Some((first, last)) = parsed.range {
                prop_assert!(first <= last);
                if let Some(total) = parsed.total {
                    prop_assert!(last < total);
                }
            }
            let range = parsed.range.map_or("*".to_string(), |(a, b)| format!("{a}-{b}"));
            let total = parsed.total.map_or("*".to_string(), |t| t.to_string());
            prop_assert_eq!(parse_content_range(&format!("bytes {range}/{total}")), Some(parsed));
        }
    }

    #[test]
    fn content_ranges_round_trip(first in any::<u64>(), len in any::<u64>(), extra in any::<u64>()) {
        let last = first.saturating_add(len);
        let total = last.saturating_add(1).saturating_add(extra);
        prop_assume!(last < total);
        let parsed = parse_content_range(&format!("bytes {first}-{last}/{total}"));
        prop_assert_eq!(parsed.and_then(|p| p.range), Some((first, last)));
        prop_assert_eq!(parsed.and_then(|p| p.total), Some(total));
    }

    #[test]
    fn corruptions_never_panic_on_sym_like_text(text in sym_text(), which in prop::collection::vec(0..5usize, 0..5)) {
        let corruptions: Vec<Corruption> = which.into_iter().map(|i| CORRUPTIONS[i]).collect();
        let mut out = Vec::new();
        Corrupting::new(text.as_bytes(), corruptions.clone()).read_to_end(&mut out).unwrap();
        if corruptions.is_empty() {
            prop_assert_eq!(&out, text.as_bytes());
        }
        // Only the first FUNC's name is split: removing that one newline gives back the
        // input's bytes for the split alone.
        if corruptions == [Corruption::NameSplitByNewline] {
            prop_assert!(out.len() == text.len() || out.len() == text.len() + 1);
        }
    }

    #[test]
    fn corruptions_never_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), which in 0..5usize) {
        let mut out = Vec::new();
        Corrupting::new(&bytes[..], vec![CORRUPTIONS[which]]).read_to_end(&mut out).unwrap();
    }

    #[test]
    fn a_split_name_keeps_every_char(name in "\\PC{1,24}") {
        let (first, rest) = split_name(&name);
        prop_assert!(!first.is_empty());
        prop_assert_eq!(format!("{first}{rest}"), name);
    }

    #[test]
    fn truncation_keeps_a_prefix(text in sym_text(), limit in 0u64..600, boundary in any::<bool>()) {
        let at = if boundary { CutAt::LineBoundary } else { CutAt::MidLine };
        let mut out = Vec::new();
        let _ = Truncating::new(text.as_bytes(), limit, at, false).read_to_end(&mut out);
        prop_assert!(text.as_bytes().starts_with(&out));
        if boundary && (out.len() as u64) < text.len() as u64 && !out.is_empty() {
            prop_assert_eq!(out.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn the_framing_guard_counts_the_same_whatever_the_chunking(
        parts in prop::collection::vec(("[a-z]{0,40}", prop::collection::vec(any::<u8>(), 0..200)), 0..6),
        step in 1usize..64,
    ) {
        let mut body = Vec::new();
        for (name, data) in &parts {
            body.extend_from_slice(format!("--B0UND\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--B0UND--\r\n");
        let limits = FramingLimits { max_header_bytes: 1 << 20, max_parts: 1000 };
        let whole = {
            let mut f = Framing::new("B0UND", limits);
            f.feed(&body).map(|()| f.parts())
        };
        let mut f = Framing::new("B0UND", limits);
        let pieces = body.chunks(step).try_for_each(|c| f.feed(c)).map(|()| f.parts());
        prop_assert_eq!(&whole, &pieces);
        // Data containing the delimiter splits a part, as it does for the parser, so the count is
        // at least the parts sent.
        prop_assert!(whole.unwrap() >= parts.len());
    }

    #[test]
    fn the_framing_guard_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048), step in 1usize..128) {
        let limits = FramingLimits { max_header_bytes: 256, max_parts: 4 };
        let mut f = Framing::new("b", limits);
        let _ = bytes.chunks(step).try_for_each(|c| f.feed(c));
    }

    #[test]
    fn the_zip_directory_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), tail_eocd in any::<bool>(), count in any::<u16>()) {
        let mut bytes = bytes;
        if tail_eocd {
            // An end-of-central-directory record with this count.
            bytes.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
            bytes.extend_from_slice(&count.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            bytes.extend_from_slice(&[0; 10]);
        }
        let declared = declared_entries(&mut std::io::Cursor::new(&bytes)).unwrap();
        if tail_eocd && count != 0xFFFF {
            prop_assert!(declared.is_some_and(|n| n >= u64::from(count)));
        }
    }
}
