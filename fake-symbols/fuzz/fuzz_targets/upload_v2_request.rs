//! Upload v2 request bodies (`{"files": [{"key", "size", "md5_hash"}]}`) on arbitrary bytes,
//! planned against an empty store: no panic, and each file's decision follows Tecken's order
//! (an invalid key, then an invalid md5, else an upload of exactly that key, gzipped iff `.sym`).
#![no_main]

use std::sync::OnceLock;

use fake_symbols::fuzzing::{Action, FileSpec, plan};
use fake_symbols::{SymbolKey, SymbolStore};
use libfuzzer_sys::fuzz_target;

/// The body shape `POST /upload/v2/` reads (its own request type is private to the handler).
#[derive(serde::Deserialize)]
struct UploadRequest {
    files: Vec<FileSpec>,
}

/// One empty store for the whole run: nothing is ever written to it here.
fn store() -> &'static SymbolStore {
    static STORE: OnceLock<(tempfile::TempDir, SymbolStore)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temporary directory for the fuzz store");
            let store = SymbolStore::open(dir.path()).expect("open an empty store");
            (dir, store)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<UploadRequest>(data) else {
        return;
    };
    for (index, spec) in request.files.iter().enumerate() {
        let try_symbols = index % 2 == 1;
        let action = match plan(store(), spec, try_symbols) {
            Ok(action) => action,
            Err(err) => panic!("planning {spec:?} failed: {err}"),
        };
        let key = SymbolKey::from_path(&spec.key);
        let md5_ok =
            spec.md5_hash.len() == 32 && spec.md5_hash.bytes().all(|b| b.is_ascii_hexdigit());
        match action {
            Action::Error(reason) if key.is_none() => assert_eq!(reason, "invalid key"),
            Action::Error(reason) => {
                assert!(!md5_ok);
                assert_eq!(reason, "invalid MD5 hex digest");
            }
            Action::Skip => panic!("skipped {spec:?} against an empty store"),
            Action::Upload(target) => {
                assert!(md5_ok);
                assert_eq!(Some(&target.key), key.as_ref());
                assert_eq!(target.name, spec.key);
                assert_eq!(target.try_symbols, try_symbols);
                assert_eq!(target.declared.size, spec.size);
                assert_eq!(target.declared.md5, spec.md5_hash.to_ascii_lowercase());
                assert_eq!(target.gzip, target.key.file_name.ends_with(".sym"));
            }
        }
    }
});
