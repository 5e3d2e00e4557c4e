//! Socorro crash signatures, computed as Socorro's signature generation (`siggen`
//! 2.2.20241029) computes them.
//!
//! The input is a Socorro processed crash: the stackwalker's output (`minidump-stackwalk
//! --json`, rust-minidump's schema) in `json_dump`, and beside it the annotations siggen reads,
//! under Socorro's processed names (`abort_message`, `oom_allocation_size`,
//! `async_shutdown_timeout`, `ipc_channel_error`, ...; see [`processed_crash`] for the whole
//! list and how raw annotations map onto it). A bare stackwalker output (an object with neither
//! `json_dump` nor `mdsw_status_string`) is accepted too and is signed as Socorro's processor
//! would sign it, with no annotations.
//!
//! ```
//! let processed = serde_json::json!({
//!     "json_dump": {
//!         "crash_info": {"crashing_thread": 0, "type": "SIGSEGV"},
//!         "system_info": {"os": "Linux"},
//!         "threads": [{"frames": [
//!             {"function": "memcpy", "module": "libc.so.6"},
//!             {"function": "nsFoo::Bar(int, char const*)", "file": "/src/foo.cpp", "line": 12},
//!             {"function": "main"},
//!         ]}],
//!     },
//!     "abort_message": "###!!! ABORT: bad state: file /src/foo.cpp:12",
//! });
//! let result = crash_signature::generate(&processed);
//! assert_eq!(result.signature, "Abort | bad state | memcpy | nsFoo::Bar");
//! assert_eq!(result.proto_signature.as_deref(), Some("memcpy | nsFoo::Bar | main"));
//! ```
//!
//! How the parts fit:
//! - `lists` holds siggen's signature lists (vendored unchanged in
//!   `siglists/`) and compiles them; `pyre` rewrites their Python regular expressions for the
//!   `regex` crate with the same meaning.
//! - `crash_data` reads what the rules need from the processed crash, as siggen's
//!   `convert_to_crash_data` does.
//! - `frames` reduces each frame of the crashing thread to one string, with `normalize`'s
//!   C/C++ and Rust rules for function names; `walk` turns those strings into a signature
//!   with the lists; `java` signs Java crashes.
//! - `rules` has siggen's rules, and `pipeline` runs them in siggen's order.
//! - `py` answers the questions of Python semantics the output depends on (truthiness,
//!   `str()`, whitespace, `int()`, `json.loads` and its error messages, the message of an
//!   exception raised on an unexpected type), so that siggen's notes come out the same too.
//!
//! `testdata/corpus` holds processed crashes for every rule and normalisation case with the
//! signatures siggen gives them (`expected.json`); the tests require the same, and compare
//! with siggen itself when it is installed (found by the `test-clients` crate).

mod crash_data;
mod frames;
mod java;
mod lists;
mod normalize;
mod pipeline;
mod py;
mod pyre;
mod rules;
mod walk;

/// siggen's signature lists as vendored (`siglists/`), entry by entry, for code that wants to
/// name frames the way real crashes name them (crash-generator's production-like names).
pub mod siglists {
    /// The entries of the prefix list (Python regular expressions, matched at a frame's start).
    pub fn prefix_entries() -> impl Iterator<Item = &'static str> {
        crate::lists::entries(crate::lists::PREFIX)
    }

    /// The entries of the irrelevant list (Python regular expressions).
    pub fn irrelevant_entries() -> impl Iterator<Item = &'static str> {
        crate::lists::entries(crate::lists::IRRELEVANT)
    }

    /// The sentinels: whole frame names a signature starts at.
    pub fn sentinel_entries() -> impl Iterator<Item = &'static str> {
        crate::lists::entries(crate::lists::SENTINELS)
    }

    /// Whether siggen's prefix list matches a normalised frame.
    pub fn is_prefix(frame: &str) -> bool {
        crate::lists::LISTS.prefix.is_match(frame)
    }

    /// Whether siggen's irrelevant list matches a normalised frame.
    pub fn is_irrelevant(frame: &str) -> bool {
        crate::lists::LISTS.irrelevant.is_match(frame)
    }
}

use serde_json::{Map, Value};

pub use frames::MAX_FRAMES;
pub use rules::MAX_LENGTH;

/// What siggen's `SignatureGenerator.generate` gives for a crash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureResult {
    /// The signature.
    pub signature: String,
    /// siggen's notes: why the signature is what it is, in its words (`<Rule>: <note>`).
    pub notes: Vec<String>,
    /// The normalised frames of the crashing thread joined with ` | ` (Socorro's
    /// `proto_signature`); `None` when the stack had no frames or the signature came from a
    /// Java stack.
    pub proto_signature: Option<String>,
    /// The normalised frames themselves (siggen's `normalized_frames`).
    pub normalized_frames: Option<Vec<String>>,
}

/// The signature of a processed crash (or a bare stackwalker output), with siggen's notes.
///
/// A processed crash is an object with `json_dump` or `mdsw_status_string` (Socorro's processor
/// writes no `json_dump` for an empty minidump, which it never gives the stackwalker); anything
/// else is taken for a bare stackwalker output.
pub fn generate(crash: &Value) -> SignatureResult {
    let wrapped;
    let is_processed =
        crash.get("json_dump").is_some() || crash.get("mdsw_status_string").is_some();
    let processed = if is_processed {
        crash
    } else {
        wrapped = crash_data::wrap_stackwalk_output(crash);
        &wrapped
    };
    let outcome = pipeline::run(&crash_data::CrashData::from_processed(processed));
    SignatureResult {
        signature: outcome.signature,
        notes: outcome.notes,
        proto_signature: outcome.proto_signature,
        normalized_frames: outcome.normalized_frames,
    }
}

/// The signature of a processed crash (or a bare stackwalker output).
pub fn signature(crash: &Value) -> String {
    generate(crash).signature
}

/// A processed crash for a stackwalker output and the crash's raw annotations, holding what
/// Socorro's processor copies for siggen:
///
/// | annotation | processed key |
/// |---|---|
/// | `AbortMessage` | `abort_message` |
/// | `OOMAllocationSize` | `oom_allocation_size` (an integer; dropped when not one) |
/// | `JSLargeAllocationFailure` | `js_large_allocation_failure` |
/// | `AsyncShutdownTimeout` | `async_shutdown_timeout` |
/// | `ipc_channel_error` | `ipc_channel_error` |
/// | `IPCMessageName` | `ipc_message_name` |
///
/// plus `mdsw_status_string`, the stackwalker's `status`. Not derived here (set them on the
/// result when you have them): `additional_minidumps` (the names of the other minidumps in the
/// submission, which decide between `IPCError-browser` and `IPCError-content`), `hang`, and
/// the Java fields, which Socorro's processor sanitises (`java_stack_trace` loses the exception
/// message) before siggen sees them. `MozCrashReason` is not read by siggen.
pub fn processed_crash(json_dump: &Value, annotations: &Map<String, Value>) -> Value {
    let mut processed = crash_data::wrap_stackwalk_output(json_dump);
    let map = processed
        .as_object_mut()
        .expect("wrap_stackwalk_output makes an object");
    for (annotation, key) in [
        ("AbortMessage", "abort_message"),
        ("JSLargeAllocationFailure", "js_large_allocation_failure"),
        ("AsyncShutdownTimeout", "async_shutdown_timeout"),
        ("ipc_channel_error", "ipc_channel_error"),
        ("IPCMessageName", "ipc_message_name"),
    ] {
        if let Some(value) = annotations.get(annotation) {
            map.insert(key.to_string(), value.clone());
        }
    }
    if let Some(size) = annotations
        .get("OOMAllocationSize")
        .and_then(crash_data::oom_size)
    {
        map.insert("oom_allocation_size".to_string(), size);
    }
    processed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crash(frames: Value) -> Value {
        json!({
            "crash_info": {"crashing_thread": 0, "type": "SIGSEGV"},
            "system_info": {"os": "Linux"},
            "threads": [{"frames": frames}],
            "status": "OK",
        })
    }

    #[test]
    fn top_function_ends_the_signature() {
        let sig = signature(&crash(json!([
            {"function": "Foo::bar(int, char const*)", "file": "/src/foo.cpp", "module": "libfoo.so"},
            {"function": "main", "module": "app"}
        ])));
        assert_eq!(sig, "Foo::bar");
    }

    #[test]
    fn a_bare_stackwalker_output_is_signed_as_socorro_would() {
        assert_eq!(
            signature(&crash(json!([]))),
            "EMPTY: no frame data available; OK"
        );
        assert_eq!(
            signature(&json!({"threads": []})),
            "EMPTY: no frame data available; unknown error"
        );
    }

    #[test]
    fn a_processed_crash_without_json_dump_is_not_taken_for_stackwalker_output() {
        // Socorro's processor skips the stackwalker for an empty minidump: no json_dump.
        let processed = json!({"mdsw_status_string": "EmptyMinidump", "product": "Firefox"});
        assert_eq!(
            signature(&processed),
            "EMPTY: no frame data available; EmptyMinidump"
        );
    }

    #[test]
    fn hostile_shapes_are_signed_without_panicking() {
        for crash in [
            json!(null),
            json!([]),
            json!("text"),
            json!({"json_dump": null}),
            json!({"json_dump": {"threads": "no", "crash_info": {"crashing_thread": "x"}}}),
            json!({"json_dump": {"threads": [{"frames": [null, 1, {"inlines": "x"}]}]}}),
            json!({"json_dump": {"threads": [{"frames": [{"function": "a", "unloaded_modules": {}}]}],
                   "crash_info": {"crashing_thread": -99}}}),
            json!({"json_dump": {}, "async_shutdown_timeout": "[".repeat(100_000),
                   "abort_message": ["é"], "oom_allocation_size": "9".repeat(60),
                   "java_exception": {"exception": {"values": [{"stacktrace": {"frames": 3}}]}}}),
        ] {
            let result = generate(&crash);
            assert!(result.signature.chars().count() <= MAX_LENGTH, "{result:?}");
        }
    }

    #[test]
    fn annotations_map_to_processed_keys() {
        let annotations = json!({"AbortMessage": "boom", "OOMAllocationSize": "1048576"});
        let processed = processed_crash(
            &crash(json!([{"function": "f"}])),
            annotations.as_object().unwrap(),
        );
        assert_eq!(processed["oom_allocation_size"], json!(1048576));
        assert_eq!(signature(&processed), "Abort | boom | OOM | large | f");
    }
}
