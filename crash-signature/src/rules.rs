//! siggen's rules, one function each, in the order [`crate::pipeline`] runs them.
//!
//! Each rule checks its own condition, then changes the signature in progress (and may add a
//! note). A rule that meets a value of the wrong type fails as siggen's Python does, with the
//! same message: the pipeline notes `<Rule>: Rule failed: <message>` and goes on.

use serde_json::Value;

use crate::crash_data::CrashData;
use crate::frames::normalized_frames;
use crate::java;
use crate::pipeline::Outcome;
use crate::py::json::{LoadError, PyJson};
use crate::py::{self, ErrKind, PyErr};
use crate::walk::walk;

/// siggen's `SIGNATURE_MAX_LENGTH`.
pub const MAX_LENGTH: usize = 255;

/// SignatureGenerationRule: the signature of the stack (Java trace, Java exception, or the
/// crashing thread's frames).
pub(crate) fn signature_generation(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    generate_from_stack(
        data,
        data.crashing_thread_index(),
        "SignatureGenerationRule",
        out,
    )
}

/// The signature generation rule's action with the crashing thread at `thread`, noting under
/// `rule`. Everything that can fail does so before `out` changes.
fn generate_from_stack(
    data: &CrashData,
    thread: i128,
    rule: &str,
    out: &mut Outcome,
) -> Result<(), PyErr> {
    if let Some(trace) = data.java_stack_trace.filter(|v| py::truthy(v)) {
        let (signature, notes) = java::from_stack_trace(trace);
        out.notes_from(rule, notes);
        out.signature = signature;
        return Ok(());
    }
    if let Some(exception) = data.java_exception.filter(|v| py::truthy(v)) {
        let (signature, notes) = java::from_exception(exception)?;
        out.notes_from(rule, notes);
        out.signature = signature;
        return Ok(());
    }
    let windows = data.os.and_then(Value::as_str) == Some("Windows NT");
    let frames = match normalized_frames(data.thread(thread), windows) {
        Ok(frames) => frames,
        // siggen catches these to write a note, but calls a method its result does not have.
        Err(e) if e.kind == ErrKind::Lookup => {
            return Err(PyErr::other("'Result' object has no attribute 'note'"));
        }
        Err(e) => return Err(e),
    };
    let (signature, notes) = walk(&frames, thread);
    if !frames.is_empty() {
        out.proto_signature = Some(frames.join(" | "));
        out.normalized_frames = Some(frames);
    }
    out.notes_from(rule, notes);
    if !signature.is_empty() {
        out.signature = signature;
    }
    Ok(())
}

/// StackwalkerErrorSignatureRule: an `EMPTY` signature gets the stackwalker's status:
/// `EMPTY: no frame data available; <status>`.
pub(crate) fn stackwalker_error(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    let Some(status) = data.mdsw_status_string.filter(|v| py::truthy(v)) else {
        return Ok(());
    };
    if out.signature.starts_with("EMPTY") {
        out.signature = format!("{}; {}", out.signature, py::to_str(status));
    }
    Ok(())
}

/// BadHardware: `bad hardware | ` before the signature when the crash reason has
/// `STATUS_DEVICE_DATA_ERROR`.
pub(crate) fn bad_hardware(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    let Some(reason) = data.reason.filter(|v| py::truthy(v)) else {
        return Ok(());
    };
    if py::contains(reason, "STATUS_DEVICE_DATA_ERROR")? {
        out.signature = format!("bad hardware | {}", out.signature);
    }
    Ok(())
}

/// OOMSignature: out-of-memory crashes become `OOM | small` (allocation of at most 256 KiB),
/// `OOM | large | <signature>` or `OOM | unknown | <signature>` (no allocation size).
pub(crate) fn oom(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if !is_oom(data, &out.signature)? {
        return Ok(());
    }
    let large_failure =
        data.js_large_allocation_failure.and_then(Value::as_str) == Some("Reporting");
    out.signature = match data.oom_allocation_size {
        _ if large_failure => format!("OOM | large | {}", out.signature),
        None => format!("OOM | unknown | {}", out.signature),
        Some(size) if size <= 262_144 => "OOM | small".to_string(),
        Some(_) => format!("OOM | large | {}", out.signature),
    };
    Ok(())
}

fn is_oom(data: &CrashData, signature: &str) -> Result<bool, PyErr> {
    const FRAGMENTS: [&str; 5] = [
        "NS_ABORT_OOM",
        "mozalloc_handle_oom",
        "CrashAtUnhandlableOOM",
        "AutoEnterOOMUnsafeRegion",
        "alloc::oom::oom",
    ];
    const REASONS: [&str; 2] = ["STATUS_FATAL_MEMORY_EXHAUSTION", "STATUS_NO_MEMORY"];
    const LAST_ERRORS: [&str; 2] = ["ERROR_COMMITMENT_LIMIT", "ERROR_NOT_ENOUGH_MEMORY"];
    if data.oom_allocation_size.is_some_and(|size| size != 0) {
        return Ok(true);
    }
    if signature.is_empty() {
        return Ok(false);
    }
    if FRAGMENTS.iter().any(|f| signature.contains(f)) {
        return Ok(true);
    }
    if let Some(thread) = data
        .thread(data.crashing_thread_index())
        .filter(|t| py::truthy(t))
    {
        let last_error = py::as_dict(thread)?.get("last_error_value");
        if last_error
            .and_then(Value::as_str)
            .is_some_and(|e| LAST_ERRORS.contains(&e))
        {
            return Ok(true);
        }
    }
    if data
        .reason
        .and_then(Value::as_str)
        .is_some_and(|r| REASONS.contains(&r))
    {
        return Ok(true);
    }
    Ok(data.js_large_allocation_failure.and_then(Value::as_str) == Some("Reporting"))
}

/// AbortSignature: `Abort | <message> | <signature>` with the abort message's text (without
/// its `###!!! ABORT:` lead-in, file and line, non-printable characters; at most 80
/// characters); `Abort | <signature>` for a message that only names a file.
pub(crate) fn abort(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    let Some(message) = data.abort_message.filter(|v| py::truthy(v)) else {
        return Ok(());
    };
    let Some(message) = message.as_str() else {
        return abort_with_odd_message(message, out);
    };
    if message.contains("###!!! ABORT: file ") {
        out.signature = format!("Abort | {}", out.signature);
        return Ok(());
    }
    let mut message = match message.split_once("###!!! ABORT:") {
        Some((_, rest)) => rest.to_string(),
        None => message.to_string(),
    };
    if let Some((head, _)) = message.split_once(": file ") {
        message = head.to_string();
    }
    if message.contains("unable to find a usable font") {
        // The localised explanation in parentheses goes (bug 1385966).
        if let (Some(open), Some(close)) = (message.find('('), message.rfind(')')) {
            message = format!("{}{}", &message[..open], &message[close + 1..]);
        }
    }
    let message = printable_ascii(&message);
    let message = py::strip(&message);
    let message = if message.chars().count() > 80 {
        format!("{}...", &message[..77])
    } else {
        message.to_string()
    };
    out.signature = format!("Abort | {message} | {}", out.signature);
    Ok(())
}

/// The abort rule on a message that is not text, as Python runs it: `in` tests membership of a
/// list's items or a dict's keys (and fails on a number), and the text handling fails on
/// anything but a str.
fn abort_with_odd_message(message: &Value, out: &mut Outcome) -> Result<(), PyErr> {
    if py::contains(message, "###!!! ABORT: file ")? {
        out.signature = format!("Abort | {}", out.signature);
        return Ok(());
    }
    if py::contains(message, "###!!! ABORT:")? || py::contains(message, ": file ")? {
        return Err(PyErr::no_attribute(message, "split"));
    }
    if py::contains(message, "unable to find a usable font")? {
        return Err(PyErr::no_attribute(message, "find"));
    }
    let kept: String = py::iterate(message)?
        .iter()
        .filter_map(|item| item.as_str())
        .filter(|s| {
            let mut chars = s.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if (' '..='~').contains(&c))
        })
        .collect();
    let kept = py::strip(&kept);
    let kept = if kept.chars().count() > 80 {
        format!("{}...", &kept[..77])
    } else {
        kept.to_string()
    };
    out.signature = format!("Abort | {kept} | {}", out.signature);
    Ok(())
}

/// siggen's `drop_bad_characters`: printable ASCII only.
fn printable_ascii(text: &str) -> String {
    text.chars().filter(|c| (' '..='~').contains(c)).collect()
}

/// SignatureShutdownTimeout: the signature is replaced by `AsyncShutdownTimeout | <phase> |
/// <condition names, sorted, comma-separated>` from the annotation's JSON.
pub(crate) fn shutdown_timeout(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    const RULE: &str = "SignatureShutdownTimeout";
    let Some(annotation) = data.async_shutdown_timeout.filter(|v| py::truthy(v)) else {
        return Ok(());
    };
    let Some(text) = annotation.as_str() else {
        return Err(PyErr::other(format!(
            "the JSON object must be str, bytes or bytearray, not {}",
            py::type_name(annotation)
        )));
    };
    let mut parts = vec!["AsyncShutdownTimeout".to_string()];
    let mut note = None;
    match py::json::loads(text) {
        Err(LoadError::TooDeep(message)) => return Err(PyErr::other(message)),
        Err(LoadError::Decode(message)) => {
            parts.push("UNKNOWN".to_string());
            note = Some(format!("Error parsing AsyncShutdownTimeout: {message}"));
        }
        Ok(shutdown) => {
            if !matches!(shutdown, PyJson::Dict(_)) {
                return Err(PyErr::other(format!(
                    "'{}' object has no attribute 'get'",
                    shutdown.type_name()
                )));
            }
            parts.push(match shutdown.dict_get("phase") {
                Some(PyJson::Str(phase)) => phase.clone(),
                _ => "(unknown)".to_string(),
            });
            match condition_names(shutdown.dict_get("conditions"))? {
                Some(mut names) if !names.is_empty() => {
                    names.sort();
                    parts.push(names.join(","));
                }
                Some(_) => parts.push("(none)".to_string()),
                None => {
                    parts.push("UNKNOWN".to_string());
                    note = Some("Error parsing AsyncShutdownTimeout: 'name'".to_string());
                }
            }
        }
    }
    if let Some(note) = note {
        out.info(RULE, note);
    }
    out.info(
        RULE,
        format!(
            "Signature replaced with a Shutdown Timeout signature, was: \"{}\"",
            out.signature
        ),
    );
    out.signature = parts.join(" | ");
    Ok(())
}

/// The names of the conditions: a dict's `name`, anything else as text. `Ok(None)` when a
/// dict has no `name` (siggen's KeyError, which it notes), `Err` when the conditions cannot be
/// iterated.
fn condition_names(conditions: Option<&PyJson>) -> Result<Option<Vec<String>>, PyErr> {
    let Some(conditions) = conditions.filter(|c| c.truthy()) else {
        return Ok(Some(Vec::new()));
    };
    let items = conditions.iterate().ok_or_else(|| {
        PyErr::other(format!(
            "'{}' object is not iterable",
            conditions.type_name()
        ))
    })?;
    let mut names = Vec::with_capacity(items.len());
    for item in &items {
        match item {
            PyJson::Dict(_) => match item.dict_get("name") {
                Some(name) => names.push(name.to_str()),
                None => return Ok(None),
            },
            other => names.push(other.to_str()),
        }
    }
    Ok(Some(names))
}

/// SignatureRunWatchDog: a shutdown hang (`RunWatchdog` in the signature) is signed by the
/// main thread's stack, as `shutdownhang | <signature of thread 0>`.
pub(crate) fn run_watchdog(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if !out.signature.contains("RunWatchdog") {
        return Ok(());
    }
    // siggen reruns the signature generation rule itself, whose notes keep its name.
    generate_from_stack(data, 0, "SignatureGenerationRule", out)?;
    out.signature = format!("shutdownhang | {}", out.signature);
    Ok(())
}

/// SignatureIPCChannelError: the signature is replaced by `IPCError-browser | <error>` when the
/// browser's minidump came along, `IPCError-content | <error>` otherwise (error cut to 100
/// characters).
pub(crate) fn ipc_channel_error(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    let Some(error) = data.ipc_channel_error.filter(|v| py::truthy(v)) else {
        return Ok(());
    };
    let browser = match data.additional_minidumps.filter(|v| py::truthy(v)) {
        Some(dumps) => py::contains(dumps, "upload_file_minidump_browser")?,
        None => false,
    };
    let error = match error {
        Value::String(s) => s.chars().take(100).collect(),
        Value::Array(items) => py::repr(&Value::Array(items.iter().take(100).cloned().collect())),
        Value::Object(_) => return Err(PyErr::other("unhashable type: 'slice'")),
        other => {
            return Err(PyErr::other(format!(
                "'{}' object is not subscriptable",
                py::type_name(other)
            )));
        }
    };
    let process = if browser { "browser" } else { "content" };
    out.info(
        "SignatureIPCChannelError",
        "IPC Channel Error stomped on signature".to_string(),
    );
    out.signature = format!("IPCError-{process} | {error}");
    Ok(())
}

/// SignatureIPCMessageName: ` | IPC_Message_Name=<name>` after the signature.
pub(crate) fn ipc_message_name(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if let Some(name) = data.ipc_message_name.filter(|v| py::truthy(v)) {
        out.signature = format!("{} | IPC_Message_Name={}", out.signature, py::to_str(name));
    }
    Ok(())
}

/// StackOverflowSignature: `stackoverflow | ` before the signature for
/// `EXCEPTION_STACK_OVERFLOW`.
pub(crate) fn stack_overflow(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if data.reason.and_then(Value::as_str) == Some("EXCEPTION_STACK_OVERFLOW") {
        out.signature = format!("stackoverflow | {}", out.signature);
    }
    Ok(())
}

/// HungProcess: `hang: <hang> | ` before the signature when the crash has a `hang` value.
pub(crate) fn hung_process(data: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if let Some(hang) = data.hang {
        out.signature = format!("hang: {} | {}", py::to_str(hang), out.signature);
    }
    Ok(())
}

/// SigFixWhitespace: no whitespace at either end, every run of whitespace one space.
pub(crate) fn fix_whitespace(_: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    let words: Vec<&str> = py::strip(&out.signature)
        .split(py::is_space)
        .filter(|w| !w.is_empty())
        .collect();
    out.signature = words.join(" ");
    Ok(())
}

/// SigTruncate: a signature longer than [`MAX_LENGTH`] characters is cut to 252 and ends with
/// `...`.
pub(crate) fn truncate(_: &CrashData, out: &mut Outcome) -> Result<(), PyErr> {
    if out.signature.chars().count() > MAX_LENGTH {
        let kept: String = out.signature.chars().take(MAX_LENGTH - 3).collect();
        out.signature = format!("{kept}...");
        out.info(
            "SigTruncate",
            "SigTrunc: signature truncated due to length".to_string(),
        );
    }
    Ok(())
}
