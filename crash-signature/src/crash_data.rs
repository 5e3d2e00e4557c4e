//! The input siggen's rules read, taken from a processed crash as
//! `siggen.utils.convert_to_crash_data` takes it.
//!
//! A Socorro processed crash holds the stackwalker's output in `json_dump` and the crash
//! annotations the processor copied, under Socorro's processed names, beside it:
//!
//! | processed key | from annotation | read by |
//! |---|---|---|
//! | `abort_message` | `AbortMessage` | AbortSignature |
//! | `oom_allocation_size` | `OOMAllocationSize` (as an int) | OOMSignature |
//! | `js_large_allocation_failure` | `JSLargeAllocationFailure` | OOMSignature |
//! | `async_shutdown_timeout` | `AsyncShutdownTimeout` | SignatureShutdownTimeout |
//! | `ipc_channel_error` | `ipc_channel_error` | SignatureIPCChannelError |
//! | `ipc_message_name` | `IPCMessageName` | SignatureIPCMessageName |
//! | `additional_minidumps` | the other minidumps' names | SignatureIPCChannelError |
//! | `mdsw_status_string` | the stackwalker's `status` | StackwalkerErrorSignatureRule |
//! | `hang` | | HungProcess |
//! | `java_stack_trace` | `JavaStackTrace` (sanitised) | SignatureGenerationRule |
//! | `java_exception` | `JavaException` (parsed) | SignatureGenerationRule |
//!
//! and from `json_dump`: `crash_info.crashing_thread`, `crash_info.type` (siggen's `reason`),
//! `threads` and `system_info.os`. siggen reads nothing else: not `MozCrashReason`, not the
//! processed `crashing_thread`, not `json_dump.crashing_thread`.

use serde_json::{Map, Value};

use crate::py;

/// What the rules read. Every field is what `glom(..., default=None)` gives: `None` for a
/// missing key and for JSON `null`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrashData<'a> {
    pub(crate) hang: Option<&'a Value>,
    /// `int_or_none(oom_allocation_size)`.
    pub(crate) oom_allocation_size: Option<i128>,
    pub(crate) js_large_allocation_failure: Option<&'a Value>,
    pub(crate) abort_message: Option<&'a Value>,
    pub(crate) mdsw_status_string: Option<&'a Value>,
    pub(crate) async_shutdown_timeout: Option<&'a Value>,
    pub(crate) ipc_channel_error: Option<&'a Value>,
    pub(crate) ipc_message_name: Option<&'a Value>,
    pub(crate) additional_minidumps: Option<&'a Value>,
    pub(crate) crashing_thread: Option<&'a Value>,
    pub(crate) reason: Option<&'a Value>,
    pub(crate) threads: Option<&'a Value>,
    pub(crate) os: Option<&'a Value>,
    pub(crate) java_exception: Option<&'a Value>,
    pub(crate) java_stack_trace: Option<&'a Value>,
}

/// Follows `path` through objects (by key) and arrays (by index, negative from the end) as
/// glom does; `None` where it leads nowhere or to `null`.
pub(crate) fn glom<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut here = value;
    for segment in path {
        here = match here {
            Value::Object(map) => map.get(*segment)?,
            Value::Array(items) => {
                let index: i64 = segment.parse().ok()?;
                let index = if index < 0 {
                    i64::try_from(items.len()).ok()? + index
                } else {
                    index
                };
                items.get(usize::try_from(index).ok()?)?
            }
            _ => return None,
        };
    }
    (!here.is_null()).then_some(here)
}

impl<'a> CrashData<'a> {
    /// `convert_to_crash_data(processed_crash)`.
    pub(crate) fn from_processed(processed: &'a Value) -> Self {
        let top = |key: &str| glom(processed, &[key]);
        let dump = |path: &[&str]| {
            let mut full = vec!["json_dump"];
            full.extend_from_slice(path);
            glom(processed, &full)
        };
        CrashData {
            hang: top("hang"),
            oom_allocation_size: top("oom_allocation_size").and_then(py::int),
            js_large_allocation_failure: top("js_large_allocation_failure"),
            abort_message: top("abort_message"),
            mdsw_status_string: top("mdsw_status_string"),
            async_shutdown_timeout: top("async_shutdown_timeout"),
            ipc_channel_error: top("ipc_channel_error"),
            ipc_message_name: top("ipc_message_name"),
            additional_minidumps: top("additional_minidumps"),
            crashing_thread: dump(&["crash_info", "crashing_thread"]),
            reason: dump(&["crash_info", "type"]),
            threads: dump(&["threads"]),
            os: dump(&["system_info", "os"]),
            java_exception: top("java_exception"),
            java_stack_trace: top("java_stack_trace"),
        }
    }

    /// `get_crashing_thread(crash_data)`: the index as an int, 0 when missing or not a number.
    pub(crate) fn crashing_thread_index(&self) -> i128 {
        self.crashing_thread.and_then(py::int).unwrap_or(0)
    }

    /// `glom(crash_data, "threads.<index>", default={})`: the thread found there (which may
    /// be `null`), or `None` for the default.
    pub(crate) fn thread(&self, index: i128) -> Option<&'a Value> {
        match self.threads? {
            Value::Array(items) => {
                let len = i128::try_from(items.len()).ok()?;
                let index = if index < 0 { len + index } else { index };
                items.get(usize::try_from(index).ok()?)
            }
            Value::Object(map) => map.get(&index.to_string()),
            _ => None,
        }
    }
}

/// A processed crash for a bare stackwalker output, as Socorro's processor would make it for
/// siggen: the output in `json_dump` and its `status` as `mdsw_status_string` ("unknown error"
/// without one).
pub(crate) fn wrap_stackwalk_output(dump: &Value) -> Value {
    let mut processed = Map::new();
    let status = dump
        .get("status")
        .filter(|s| !s.is_null())
        .cloned()
        .unwrap_or_else(|| Value::String("unknown error".to_string()));
    processed.insert("json_dump".to_string(), dump.clone());
    processed.insert("mdsw_status_string".to_string(), status);
    Value::Object(processed)
}

/// `OOMAllocationSize` as Socorro's processor copies it: `int(value)`, or nothing.
pub(crate) fn oom_size(value: &Value) -> Option<Value> {
    py::int(value)
        .and_then(|size| i64::try_from(size).ok())
        .map(Value::from)
}
