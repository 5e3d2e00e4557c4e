//! The sym body faults (`sym_rewrite`: every `Corruption`, and truncation at a line boundary or
//! mid-line, clean or aborted) applied through `SymSource::open`, the chain a download streams,
//! to an arbitrary stored sym file or a synthetic one with arbitrary names.
//!
//! Input: byte 0 picks the corruptions (bits 0-4) and the truncation (bit 5 on, bit 6 mid-line,
//! bit 7 abort); byte 1 is the fraction kept (/255); byte 2 bit 0 picks a synthetic source
//! (debug file and debug id on the first two lines, up to 64 KiB from the rest of byte 2);
//! otherwise the rest is the stored file.
//!
//! Invariants: no panic; without faults the file comes back unchanged; the corruptions read
//! to the end without error and add at most two lines (the moved or renamed records keep
//! theirs, `name_split_by_newline` inserts exactly one newline into the file as it was);
//! a truncated body is a prefix of the untruncated one, at least `fraction` of the nominal
//! size, ends where the cut says, and fails iff the fault aborts.
#![no_main]

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use fake_symbols::fuzzing::{BodyFaults, SymSource};
use fake_symbols::{Corruption, CutAt};
use libfuzzer_sys::fuzz_target;

const CORRUPTIONS: [Corruption; 5] = [
    Corruption::WrongModuleId,
    Corruption::InlineOriginNoName,
    Corruption::InlineOriginBlankName,
    Corruption::NameSplitByNewline,
    Corruption::LineBeforeFunc,
];

/// One scratch file for the whole run (rewritten per input; libFuzzer runs one at a time).
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().join("fuzz.sym");
        (dir, path)
    })
    .1
}

fn read(source: &SymSource, faults: &BodyFaults) -> (Vec<u8>, bool) {
    let mut reader = match source.open(faults) {
        Ok(reader) => reader,
        Err(err) => panic!("opening {source:?} failed: {err}"),
    };
    let mut out = Vec::new();
    let failed = reader.read_to_end(&mut out).is_err();
    (out, failed)
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fuzz_target!(|data: &[u8]| {
    let [faults_byte, fraction, source_byte, rest @ ..] = data else {
        return;
    };
    let corruptions: Vec<Corruption> = CORRUPTIONS
        .iter()
        .enumerate()
        .filter(|(bit, _)| faults_byte & (1 << bit) != 0)
        .map(|(_, c)| *c)
        .collect();
    let at = if faults_byte & 0x40 != 0 {
        CutAt::MidLine
    } else {
        CutAt::LineBoundary
    };
    let fraction = f64::from(*fraction) / 255.0;
    let truncate = (faults_byte & 0x20 != 0).then_some((fraction, at, faults_byte & 0x80 != 0));

    let (source, file) = if source_byte & 1 != 0 {
        let text = String::from_utf8_lossy(rest);
        let mut lines = text.split('\n');
        let debug_file = lines.next().unwrap_or_default().to_string();
        let debug_id = lines.next().unwrap_or_default().to_string();
        let size = u64::from(source_byte >> 1) * 512;
        let source = SymSource::Synthetic {
            debug_file,
            debug_id,
            size,
        };
        (source, None)
    } else {
        let path = scratch();
        std::fs::write(path, rest).expect("write the scratch sym file");
        let source = SymSource::File {
            path: path.clone(),
            size: rest.len() as u64,
        };
        (source, Some(rest))
    };

    let plain = read(&source, &BodyFaults::default());
    assert!(!plain.1, "reading without faults failed");
    if let Some(file) = file {
        assert_eq!(plain.0, file, "no faults, yet the file changed");
    }

    let corrupted_faults = BodyFaults {
        corruptions: corruptions.clone(),
        ..BodyFaults::default()
    };
    let (full, failed) = read(&source, &corrupted_faults);
    assert!(!failed, "corrupting {corruptions:?} failed");
    let original = &plain.0;
    assert!(
        newlines(&full) <= newlines(original) + 2,
        "{corruptions:?} added more than two lines"
    );
    match corruptions.as_slice() {
        [Corruption::WrongModuleId | Corruption::LineBeforeFunc] => {
            assert_eq!(newlines(&full), newlines(original), "{corruptions:?}");
        }
        [Corruption::NameSplitByNewline] if full != *original => {
            assert_eq!(full.len(), original.len() + 1, "not one byte inserted");
            let at = full
                .iter()
                .zip(original)
                .position(|(a, b)| a != b)
                .unwrap_or(original.len());
            assert_eq!(full[at], b'\n', "the inserted byte is not a newline");
            assert_eq!(&full[..at], &original[..at]);
            assert_eq!(&full[at + 1..], &original[at..], "the split lost bytes");
        }
        _ => {}
    }

    let Some((fraction, at, abort)) = truncate else {
        return;
    };
    let (cut, failed) = read(
        &source,
        &BodyFaults {
            corruptions,
            truncate,
            ..BodyFaults::default()
        },
    );
    assert!(full.starts_with(&cut), "the truncated body is not a prefix");
    if cut.len() < full.len() {
        assert_eq!(failed, abort, "a cut body failed: {failed}, abort: {abort}");
        let limit = (source.nominal_size() as f64 * fraction) as u64;
        assert!(cut.len() as u64 >= limit, "cut at {} < {limit}", cut.len());
        match at {
            CutAt::LineBoundary => assert!(cut.is_empty() || cut.ends_with(b"\n")),
            CutAt::MidLine => assert!(cut.last().is_some_and(|&b| b != b'\n')),
        }
    }
});
