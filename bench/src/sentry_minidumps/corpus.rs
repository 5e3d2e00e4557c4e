//! The dumps `bench fake-sentry-minidumps` posts: crash-generator crashes of Linux, Windows and
//! macOS programs, spread round robin over a few programs per OS as the harness's corpus is, so
//! that modules (and their symbol files) repeat across dumps as they do in production. Each dump
//! is posted as Breakpad's multipart form (`upload_file_minidump`).

use std::collections::BTreeMap;
use std::io::Write;

use crash_generator::{Crash, OsFlavor, Profile, Program};

/// The OS flavours of the corpus, in the order dumps take them.
pub const FLAVOURS: [OsFlavor; 3] = [OsFlavor::Linux, OsFlavor::Windows, OsFlavor::Mac];

/// The multipart boundary of every form.
pub const BOUNDARY: &str = "understudy-bench-7d1f";

/// Seeds of the programs are spread out so they never collide with the crash seeds (as the
/// harness's corpus does).
const PROGRAM_SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

/// The first crash seed of each flavour, far enough apart that no two crashes share a seed.
const SEED_PER_FLAVOUR: u64 = 1_000_000;

/// Generated dumps, ready to post, and the symbol files they need.
pub struct Corpus {
    /// Each dump's multipart form body, in posting order (the flavours interleaved).
    pub forms: Vec<Vec<u8>>,
    /// Every distinct `.sym` file, by its symbol-server path.
    pub sym_files: BTreeMap<String, Vec<u8>>,
    /// Bytes of minidump across the corpus.
    pub dump_bytes: u64,
}

impl Corpus {
    /// `count` dumps over `programs` programs per OS flavour, each flavour's profile being
    /// `base` with its `os` replaced.
    pub fn generate(base: &Profile, count: usize, programs: usize) -> Corpus {
        let programs = programs.max(1);
        let by_flavour: Vec<Vec<Program>> = FLAVOURS
            .iter()
            .map(|&os| {
                let profile = base.clone().with_os(os);
                (0..programs as u64)
                    .map(|p| {
                        let seed =
                            seed_of(os).wrapping_add(PROGRAM_SEED_STRIDE.wrapping_mul(p + 1));
                        Program::generate(&profile, seed)
                    })
                    .collect()
            })
            .collect();
        let mut corpus = Corpus {
            forms: Vec::with_capacity(count),
            sym_files: BTreeMap::new(),
            dump_bytes: 0,
        };
        for n in 0..count {
            let (flavour, round) = (n % FLAVOURS.len(), (n / FLAVOURS.len()) as u64);
            let os = FLAVOURS[flavour];
            let programs = &by_flavour[flavour];
            let program = programs[round as usize % programs.len()].clone();
            let profile = base.clone().with_os(os);
            let crash = Crash::of_program(&profile, program, seed_of(os) + round);
            for (path, bytes) in crash.sym_files() {
                corpus
                    .sym_files
                    .entry(path.clone())
                    .or_insert_with(|| bytes.clone());
            }
            corpus.dump_bytes += crash.minidump_bytes().len() as u64;
            corpus.forms.push(form(crash.minidump_bytes()));
        }
        corpus
    }

    /// Bytes of symbol files the corpus needs (each distinct file once).
    pub fn sym_bytes(&self) -> u64 {
        self.sym_files.values().map(|b| b.len() as u64).sum()
    }

    /// Puts every symbol file on `symbols`.
    pub fn upload_symbols(
        &self,
        symbols: &fake_symbols::testing::FakeSymbols,
    ) -> anyhow::Result<()> {
        for (path, bytes) in &self.sym_files {
            let key = fake_symbols::SymbolKey::from_path(path)
                .ok_or_else(|| anyhow::anyhow!("{path} is not a symbol path"))?;
            symbols.store().put(&key, false, bytes)?;
        }
        Ok(())
    }
}

fn seed_of(os: OsFlavor) -> u64 {
    let index = FLAVOURS.iter().position(|&f| f == os).unwrap_or(0) as u64;
    (index + 1) * SEED_PER_FLAVOUR
}

/// Breakpad's form: a release as a bracketed Sentry field, the dump as `upload_file_minidump`.
fn form(dump: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(dump.len() + 512);
    write!(
        body,
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sentry[release]\"\r\n\r\n\
         native-bench@1.0\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; \
         filename=\"crash.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .expect("write into memory");
    body.extend_from_slice(dump);
    write!(body, "\r\n--{BOUNDARY}--\r\n").expect("write into memory");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dumps cycle through the flavours and, within one, through its programs: with two
    /// programs per flavour, the seventh dump is the first program's again and needs no new
    /// symbol file.
    #[test]
    fn modules_repeat_across_dumps() {
        let six = Corpus::generate(&Profile::default(), 6, 2);
        let seven = Corpus::generate(&Profile::default(), 7, 2);
        assert_eq!(seven.forms.len(), 7);
        assert_eq!(six.sym_files.len(), seven.sym_files.len());
        assert!(seven.forms[0].starts_with(format!("--{BOUNDARY}").as_bytes()));
        assert!(seven.forms[0].ends_with(format!("--{BOUNDARY}--\r\n").as_bytes()));
    }
}
