//! `Content-Range` headers of GCS resumable uploads: no panic, an accepted range is ordered and
//! inside the total, and the canonical form of what was parsed parses to the same value.
#![no_main]

use fake_symbols::fuzzing::parse_content_range;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Some(parsed) = parse_content_range(value) else {
        return;
    };
    if let Some((first, last)) = parsed.range {
        assert!(first <= last);
        if let Some(total) = parsed.total {
            assert!(last < total);
        }
    }
    let range = match parsed.range {
        Some((first, last)) => format!("{first}-{last}"),
        None => "*".to_string(),
    };
    let total = parsed
        .total
        .map_or_else(|| "*".to_string(), |t| t.to_string());
    assert_eq!(
        parse_content_range(&format!("bytes {range}/{total}")),
        Some(parsed)
    );
});
