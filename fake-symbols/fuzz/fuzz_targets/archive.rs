//! Upload zips through `extract_archive`, from arbitrary bytes written to a temp file
//! (the upload handler stages its body the same way). Input: the first byte chooses regular or
//! try symbols, the rest is the zip. Invariants: no panic; a refusal is a client error (4xx);
//! every stored or skipped member is a valid key whose file lies inside the store and is no
//! larger than the member limit; nothing is left in the staging directory.
#![no_main]

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use fake_symbols::fuzzing::{ArchiveRules, extract_archive};
use fake_symbols::{SymbolKey, SymbolStore};
use libfuzzer_sys::fuzz_target;

const MAX_MEMBER_BYTES: u64 = 256 * 1024;

/// One store for the whole run (opening SQLite per input would dominate the time).
fn store() -> &'static (tempfile::TempDir, SymbolStore) {
    static STORE: OnceLock<(tempfile::TempDir, SymbolStore)> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory for the fuzz store");
        let store = SymbolStore::open(dir.path()).expect("open an empty store");
        (dir, store)
    })
}

fuzz_target!(|data: &[u8]| {
    let [flags, zip @ ..] = data else {
        return;
    };
    let try_symbols = flags & 1 == 1;
    let (dir, store) = store();
    let mut upload = tempfile::NamedTempFile::new_in(dir.path()).expect("stage the upload");
    upload.write_all(zip).expect("write the upload");
    let rules = ArchiveRules {
        disallowed_snippets: &["__MACOSX".to_string()],
        max_member_bytes: MAX_MEMBER_BYTES,
        max_members: 64,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    match extract_archive(store, upload.path(), try_symbols, &rules, &cancel) {
        Ok(outcome) => {
            let prefix = if try_symbols { "try/v1/" } else { "v1/" };
            for name in outcome.stored.iter().chain(&outcome.skipped) {
                let member = name.strip_prefix(prefix).expect("storage key prefix");
                let Some(key) = SymbolKey::from_path(member) else {
                    panic!("stored member {member:?} is not a valid key");
                };
                let path = store.path_of(&key, try_symbols);
                assert!(
                    path.starts_with(dir.path()),
                    "{path:?} is outside the store"
                );
                let size = std::fs::metadata(&path).map(|m| m.len());
                assert!(
                    matches!(size, Ok(size) if size <= MAX_MEMBER_BYTES),
                    "{path:?}: {size:?}"
                );
            }
        }
        Err(err) => {
            let status = err.status();
            assert!(
                status.is_client_error(),
                "a bad zip answered {status}: {err}"
            );
        }
    }
    let staged = std::fs::read_dir(store.staging_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 0, "extraction left files in the staging directory");
});
