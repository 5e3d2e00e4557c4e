//! Download paths and zip member names (`<debug_file>/<debug_id>/<file>`) through Tecken's key
//! rules: an accepted key has exactly three safe components (no separators, control bytes,
//! non-ASCII or `.`/`..`, so it cannot leave the store), a hex debug id stored upper-case, and
//! its `Display` form parses back to the same key.
#![no_main]

use fake_symbols::SymbolKey;
use fake_symbols::fuzzing::{is_hex, is_key_component};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Some(key) = SymbolKey::from_path(path) else {
        return;
    };
    assert!(path.eq_ignore_ascii_case(&key.to_string()));
    for component in [&key.debug_file, &key.debug_id, &key.file_name] {
        assert!(
            is_key_component(component),
            "unsafe component {component:?}"
        );
        assert!(!component.contains(['/', '\\', '\0']) && component != "." && component != "..");
        assert!(component.is_ascii());
    }
    assert!(is_hex(&key.debug_id));
    assert_eq!(key.debug_id, key.debug_id.to_ascii_uppercase());
    assert_eq!(SymbolKey::from_path(&key.to_string()), Some(key.clone()));
    assert_eq!(
        SymbolKey::parse(&key.debug_file, &key.debug_id, &key.file_name),
        Some(key.clone())
    );
    let _ = (key.is_ignored(), key.may_be_code_info());
});
