//! Socorro's signature pipeline (`crash_signature::generate`) on arbitrary processed crashes.
//! The pipeline reads text from outside in several places: the frames' function names (C++,
//! Rust and Java normalisation), the `AsyncShutdownTimeout` annotation (a JSON document parsed
//! by crash-signature's own Python-compatible JSON reader) and the abort message. Input: the
//! first byte picks what the rest is:
//!
//! - `0`: a whole processed crash as JSON (any shape: missing, mistyped and odd keys);
//! - `1`: an `AsyncShutdownTimeout` annotation on a crash with one frame;
//! - `2`: function names, one per line, as the crashing thread's frames (normalisation and the
//!   prefix and irrelevant lists), with the abort message set to the whole text.
//!
//! Invariants: no panic; the same crash gives the same result twice; the signature is at most
//! `MAX_LENGTH` characters (SigTruncate runs last), and holds no line break (SigFixWhitespace).
#![no_main]

use crash_signature::{MAX_LENGTH, generate};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn crash_with_frames(functions: &[&str], abort_message: &str) -> Value {
    let frames: Vec<Value> = functions
        .iter()
        .enumerate()
        .map(|(index, function)| {
            json!({
                "frame": index,
                "function": function,
                "module": "libxul.so",
                "file": "hg:hg.mozilla.org/mozilla-central:dom/base/Thing.cpp:abc",
                "line": index + 1,
                "offset": format!("{:#x}", 0x1000 + index * 16),
                "module_offset": format!("{:#x}", 0x100 + index * 16),
            })
        })
        .collect();
    json!({
        "json_dump": {
            "crash_info": { "crashing_thread": 0, "type": "SIGSEGV / SEGV_MAPERR", "address": "0x0" },
            "crashing_thread": { "frames": frames.clone(), "threads_index": 0 },
            "threads": [{ "frames": frames }],
            "status": "OK",
        },
        "abort_message": abort_message,
        "mdsw_status_string": "OK",
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let crash = match mode % 3 {
        0 => match serde_json::from_slice::<Value>(rest) {
            Ok(crash) => crash,
            Err(_) => return,
        },
        1 => {
            let mut crash = crash_with_frames(&["mozilla::SpinEventLoopUntil"], "");
            crash["async_shutdown_timeout"] = Value::String(text.into_owned());
            crash
        }
        _ => {
            let functions: Vec<&str> = text.lines().take(400).collect();
            crash_with_frames(&functions, &text)
        }
    };

    let result = generate(&crash);
    assert_eq!(result, generate(&crash), "the pipeline is not deterministic");
    assert!(
        result.signature.chars().count() <= MAX_LENGTH,
        "signature longer than {MAX_LENGTH} characters: {:?}",
        result.signature
    );
    assert!(
        !result.signature.contains(['\n', '\r']),
        "signature holds a line break: {:?}",
        result.signature
    );
});
