//! A processed minidump as Sentry shows a native crash: the processor's JSON
//! (`minidump-stackwalk --json`'s schema) turned into the event fields Sentry's symbolicator
//! fills in (`exception`, `threads`, `debug_meta`, the `os` and `device` contexts), merged
//! into the event the client sent with the dump.
//!
//! Frames follow Sentry's order (oldest first). A frame's inlined calls become frames of their
//! own at the same address, marked `data.inline`, as Sentry lists them. What the processor
//! knows that Sentry's schema has no field for (module and function offsets, whether symbols
//! were found) goes in `data`, as symbolicator puts `symbolicator_status` there.

use serde_json::{Map, Value, json};

/// Most characters of an event item's summary once its dump is processed.
const MAX_SUMMARY: usize = 300;

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The crash reason (`EXCEPTION_ACCESS_VIOLATION_READ`, `SIGSEGV / SEGV_MAPERR`) and the
/// address, when the dump has an exception.
pub(crate) fn crash_reason(processed: &Value) -> Option<(String, Option<String>)> {
    let info = processed.get("crash_info")?;
    let reason = text(info, "type")?.to_string();
    Some((reason, text(info, "address").map(str::to_string)))
}

/// What lists show for a processed native crash: `REASON at ADDRESS | signature`.
pub(crate) fn summary(processed: &Value, signature: &str) -> String {
    let head = match crash_reason(processed) {
        Some((reason, Some(address))) => format!("{reason} at {address}"),
        Some((reason, None)) => reason,
        None => "minidump without a crash reason".into(),
    };
    let mut summary = format!("{head} | {signature}");
    if summary.chars().count() > MAX_SUMMARY {
        summary = summary.chars().take(MAX_SUMMARY - 1).collect();
        summary.push('…');
    }
    summary
}

/// Sentry's name for the operating system rust-minidump reports.
fn os_name(os: &str) -> &str {
    match os {
        "Windows NT" => "Windows",
        "Mac OS X" => "macOS",
        "iOS" => "iOS",
        "Linux" => "Linux",
        "Android" => "Android",
        other => other,
    }
}

/// The image type Sentry's `debug_meta` uses on each system.
fn image_type(os: &str) -> &'static str {
    match os {
        "Windows NT" => "pe",
        "Mac OS X" | "iOS" => "macho",
        _ => "elf",
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).ok()
}

/// The modules of the dump by base name, for frames (which name only the base name).
struct Modules<'a> {
    loaded: Vec<&'a Value>,
}

impl<'a> Modules<'a> {
    fn new(processed: &'a Value) -> Self {
        let loaded = processed
            .get("modules")
            .and_then(Value::as_array)
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        Self { loaded }
    }

    fn by_basename(&self, name: &str) -> Option<&'a Value> {
        self.loaded
            .iter()
            .copied()
            .find(|m| text(m, "filename").is_some_and(|f| basename(f) == name))
    }
}

/// One processor frame, with its inlined calls first, as Sentry frames (newest first; the
/// caller reverses the whole list).
fn frames_of(frame: &Value, modules: &Modules<'_>, out: &mut Vec<Value>) {
    let module_name = text(frame, "module");
    let module = module_name.and_then(|name| modules.by_basename(name));
    let package = module
        .and_then(|m| text(m, "filename"))
        .or(module_name)
        .map(str::to_string);
    let image_addr = module
        .and_then(|m| text(m, "base_addr"))
        .map(str::to_string);
    let instruction = text(frame, "offset").map(str::to_string);
    let trust = text(frame, "trust").unwrap_or("none").to_string();
    for inline in frame
        .get("inlines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut f = Map::new();
        f.insert("instruction_addr".into(), json!(instruction));
        f.insert("function".into(), json!(text(inline, "function")));
        if let Some(file) = text(inline, "file") {
            f.insert("filename".into(), json!(file));
            f.insert("abs_path".into(), json!(file));
        }
        f.insert(
            "lineno".into(),
            inline.get("line").cloned().unwrap_or(Value::Null),
        );
        f.insert("package".into(), json!(package));
        f.insert("image_addr".into(), json!(image_addr));
        f.insert("trust".into(), json!(trust));
        f.insert(
            "data".into(),
            json!({"inline": true, "symbolicator_status": "symbolicated"}),
        );
        // Sentry leaves out what is not known rather than writing null.
        f.retain(|_, v| !v.is_null());
        out.push(Value::Object(f));
    }
    let function = text(frame, "function");
    let status = match (function, module_name) {
        (Some(_), _) => "symbolicated",
        (None, Some(_)) => "missing",
        (None, None) => "unknown_image",
    };
    let mut f = Map::new();
    f.insert("instruction_addr".into(), json!(instruction));
    f.insert("function".into(), json!(function));
    if let Some(file) = text(frame, "file") {
        f.insert("filename".into(), json!(file));
        f.insert("abs_path".into(), json!(file));
    }
    f.insert(
        "lineno".into(),
        frame.get("line").cloned().unwrap_or(Value::Null),
    );
    f.insert("package".into(), json!(package));
    f.insert("image_addr".into(), json!(image_addr));
    let symbol_addr = instruction
        .as_deref()
        .and_then(parse_hex)
        .zip(text(frame, "function_offset").and_then(parse_hex))
        .and_then(|(at, offset)| at.checked_sub(offset))
        .map(|addr| format!("{addr:#x}"));
    f.insert("symbol_addr".into(), json!(symbol_addr));
    f.insert("trust".into(), json!(trust));
    let mut data = Map::new();
    data.insert("symbolicator_status".into(), json!(status));
    for key in ["module_offset", "function_offset"] {
        if let Some(v) = text(frame, key) {
            data.insert(key.into(), json!(v));
        }
    }
    f.insert("data".into(), Value::Object(data));
    f.retain(|_, v| !v.is_null());
    out.push(Value::Object(f));
}

/// A processor thread's frames as a Sentry stacktrace (oldest first), with the registers of
/// its top frame when the processor gave them.
fn stacktrace(thread: &Value, modules: &Modules<'_>) -> Value {
    let mut frames = Vec::new();
    for frame in thread
        .get("frames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        frames_of(frame, modules, &mut frames);
    }
    frames.reverse();
    let mut out = Map::new();
    out.insert("frames".into(), Value::Array(frames));
    if let Some(registers) = thread
        .pointer("/frames/0/registers")
        .filter(|r| r.is_object())
    {
        out.insert("registers".into(), registers.clone());
    }
    Value::Object(out)
}

/// Sentry's `debug_meta.images` for the processor's modules, loaded and unloaded.
fn images(processed: &Value) -> Vec<Value> {
    let os = processed
        .pointer("/system_info/os")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let arch = processed.pointer("/system_info/cpu_arch").cloned();
    let size = |m: &Value| {
        text(m, "base_addr")
            .and_then(parse_hex)
            .zip(text(m, "end_addr").and_then(parse_hex))
            .map(|(base, end)| end.saturating_sub(base))
    };
    let mut out: Vec<Value> = Vec::new();
    for m in processed
        .get("modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let flag = |key: &str| m.get(key).and_then(Value::as_bool).unwrap_or(false);
        let status = if flag("corrupt_symbols") {
            "malformed"
        } else if flag("loaded_symbols") {
            "found"
        } else if flag("missing_symbols") {
            "missing"
        } else {
            "unused"
        };
        out.push(json!({
            "type": image_type(os),
            "code_file": text(m, "filename"),
            "code_id": text(m, "code_id"),
            "debug_file": text(m, "debug_file"),
            "debug_id": text(m, "debug_id"),
            "image_addr": text(m, "base_addr"),
            "image_size": size(m),
            "arch": arch,
            "version": text(m, "version"),
            "debug_status": status,
        }));
    }
    for m in processed
        .get("unloaded_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push(json!({
            "type": image_type(os),
            "code_file": text(m, "filename"),
            "code_id": text(m, "code_id"),
            "image_addr": text(m, "base_addr"),
            "image_size": size(m),
            "arch": arch,
            "unloaded": true,
            "debug_status": "unused",
        }));
    }
    for image in &mut out {
        if let Value::Object(map) = image {
            map.retain(|_, v| !v.is_null());
        }
    }
    out
}

/// The `os` and `device` contexts from the dump's system info.
fn system_contexts(processed: &Value) -> Map<String, Value> {
    let mut contexts = Map::new();
    let Some(info) = processed.get("system_info") else {
        return contexts;
    };
    if let Some(os) = text(info, "os") {
        let mut ctx = Map::new();
        ctx.insert("type".into(), json!("os"));
        ctx.insert("name".into(), json!(os_name(os)));
        if let Some(version) = text(info, "os_ver") {
            // rust-minidump writes "10.0.19041 1234" or "13.4.1 22F82": version, then build.
            let mut parts = version.splitn(2, ' ');
            ctx.insert("version".into(), json!(parts.next()));
            if let Some(build) = parts.next() {
                ctx.insert("build".into(), json!(build));
            }
        }
        contexts.insert("os".into(), Value::Object(ctx));
    }
    let mut device = Map::new();
    device.insert("type".into(), json!("device"));
    if let Some(arch) = text(info, "cpu_arch") {
        device.insert("arch".into(), json!(arch));
    }
    if let Some(cpu) = text(info, "cpu_info") {
        device.insert("cpu_description".into(), json!(cpu));
    }
    if let Some(count) = info.get("cpu_count").filter(|c| c.is_u64()) {
        device.insert("processor_count".into(), count.clone());
    }
    if device.len() > 1 {
        contexts.insert("device".into(), Value::Object(device));
    }
    contexts
}

/// The native crash event: `client_event` (what was sent with the dump; any JSON) with the
/// processed dump's exception, threads, images and system contexts. What the client set wins
/// for contexts it named; the crash fields are the dump's.
pub(crate) fn native_event(client_event: Option<&Value>, processed: &Value) -> Value {
    let mut event = client_event
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    event.entry("platform").or_insert_with(|| json!("native"));
    event.entry("level").or_insert_with(|| json!("fatal"));
    let modules = Modules::new(processed);
    let crashing = processed
        .pointer("/crash_info/crashing_thread")
        .and_then(Value::as_u64)
        .or_else(|| {
            processed
                .pointer("/crashing_thread/threads_index")
                .and_then(Value::as_u64)
        })
        .map(|i| i as usize);
    let threads = processed
        .get("threads")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut values = Vec::with_capacity(threads.len());
    let mut crashed_thread = None;
    for (index, thread) in threads.iter().enumerate() {
        let crashed = Some(index) == crashing;
        // The crashing thread's frames are the exception's, where its registers come from the
        // processor's copy of it (`crashing_thread`, which has them on its first frame).
        let source = if crashed {
            processed.get("crashing_thread").unwrap_or(thread)
        } else {
            thread
        };
        let mut t = Map::new();
        t.insert(
            "id".into(),
            thread.get("thread_id").cloned().unwrap_or(json!(index)),
        );
        if let Some(name) = text(thread, "thread_name") {
            t.insert("name".into(), json!(name));
        }
        t.insert("crashed".into(), json!(crashed));
        t.insert("current".into(), json!(crashed));
        let trace = stacktrace(source, &modules);
        if crashed {
            crashed_thread = Some((t.get("id").cloned().unwrap_or(Value::Null), trace));
        } else {
            t.insert("stacktrace".into(), trace);
        }
        values.push(Value::Object(t));
    }
    event.insert("threads".into(), json!({"values": values}));
    if let Some((reason, address)) = crash_reason(processed) {
        let value = match &address {
            Some(address) => format!("Fatal Error: {reason} at {address}"),
            None => format!("Fatal Error: {reason}"),
        };
        let (thread_id, trace) = crashed_thread.unwrap_or((Value::Null, json!({"frames": []})));
        let mut exception = json!({
            "type": reason,
            "value": value,
            "thread_id": thread_id,
            "mechanism": {"type": "minidump", "handled": false, "synthetic": true},
            "stacktrace": trace,
        });
        if let Some(assertion) = processed
            .pointer("/crash_info/assertion")
            .filter(|a| a.is_string())
        {
            exception["mechanism"]["data"] = json!({"assertion": assertion});
        }
        event.insert("exception".into(), json!({"values": [exception]}));
    } else if let Some((id, trace)) = crashed_thread {
        // A dump written without a crash (a hang report): its requesting thread keeps its stack.
        if let Some(Value::Object(t)) =
            values_mut(&mut event).and_then(|v| v.iter_mut().find(|t| t.get("id") == Some(&id)))
        {
            t.insert("stacktrace".into(), trace);
        }
    }
    event.insert("debug_meta".into(), json!({"images": images(processed)}));
    let contexts = event
        .entry("contexts")
        .or_insert_with(|| Value::Object(Map::new()));
    if !contexts.is_object() {
        *contexts = Value::Object(Map::new());
    }
    if let Value::Object(contexts) = contexts {
        for (key, value) in system_contexts(processed) {
            contexts.entry(key).or_insert(value);
        }
    }
    Value::Object(event)
}

fn values_mut(event: &mut Map<String, Value>) -> Option<&mut Vec<Value>> {
    event.get_mut("threads")?.get_mut("values")?.as_array_mut()
}

/// The text a search by function name finds a processed crash by: the crash reason, the
/// signature, and every function, file and module of its frames.
pub(crate) fn search_text(processed: &Value, signature: &str) -> String {
    let mut out = String::new();
    if let Some((reason, address)) = crash_reason(processed) {
        out.push_str(&reason);
        out.push('\n');
        if let Some(address) = address {
            out.push_str(&address);
            out.push('\n');
        }
    }
    out.push_str(signature);
    out.push('\n');
    for thread in processed
        .get("threads")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for frame in thread
            .get("frames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for inline in frame
                .get("inlines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for key in ["function", "file"] {
                    if let Some(v) = text(inline, key) {
                        out.push_str(v);
                        out.push('\n');
                    }
                }
            }
            for key in ["function", "file", "module"] {
                if let Some(v) = text(frame, key) {
                    out.push_str(v);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows_crash() -> Value {
        json!({
            "status": "OK",
            "system_info": {"os": "Windows NT", "os_ver": "10.0.19041 1", "cpu_arch": "amd64",
                            "cpu_info": "GenuineIntel family 6", "cpu_count": 4},
            "crash_info": {"type": "EXCEPTION_ACCESS_VIOLATION_READ", "address": "0x0",
                           "crashing_thread": 0},
            "crashing_thread": {"threads_index": 0, "frames": [
                {"frame": 0, "module": "app.exe", "function": "crash_here", "file": "c:\\src\\app.c",
                 "line": 12, "offset": "0x140001010", "module_offset": "0x1010",
                 "function_offset": "0x10", "trust": "context",
                 "registers": {"rip": "0x140001010"},
                 "inlines": [{"function": "inlined_helper", "file": "c:\\src\\util.h", "line": 3}]},
                {"frame": 1, "module": "other.dll", "offset": "0x7ff00002000",
                 "module_offset": "0x2000", "trust": "scan"}
            ]},
            "threads": [
                {"thread_id": 42, "thread_name": "main", "frames": [
                    {"frame": 0, "module": "app.exe", "function": "crash_here", "offset": "0x140001010",
                     "trust": "context",
                     "inlines": [{"function": "inlined_helper", "file": "c:\\src\\util.h", "line": 3}]},
                    {"frame": 1, "module": "other.dll", "offset": "0x7ff00002000", "trust": "scan"}
                ]},
                {"thread_id": 43, "frames": [{"frame": 0, "offset": "0x10", "trust": "context"}]}
            ],
            "modules": [
                {"filename": "C:\\app\\app.exe", "base_addr": "0x140000000", "end_addr": "0x140010000",
                 "debug_file": "app.pdb", "debug_id": "ABC1", "code_id": "5F000000", "version": "1.0.0.0",
                 "loaded_symbols": true},
                {"filename": "C:\\Windows\\other.dll", "base_addr": "0x7ff00000000",
                 "end_addr": "0x7ff00010000", "missing_symbols": true}
            ],
            "unloaded_modules": [{"filename": "gone.dll", "base_addr": "0x1000", "end_addr": "0x2000"}]
        })
    }

    #[test]
    fn a_processed_windows_crash_becomes_sentrys_native_event() {
        let client = json!({"release": "app@1.0", "tags": {"build": "42"},
                            "contexts": {"os": {"name": "Windows", "version": "from the client"}}});
        let event = native_event(Some(&client), &windows_crash());
        insta::assert_json_snapshot!(event);
    }

    #[test]
    fn the_summary_names_the_reason_the_address_and_the_signature() {
        assert_eq!(
            summary(&windows_crash(), "crash_here"),
            "EXCEPTION_ACCESS_VIOLATION_READ at 0x0 | crash_here"
        );
        assert_eq!(
            summary(&json!({}), "EMPTY: no crashing thread identified"),
            "minidump without a crash reason | EMPTY: no crashing thread identified"
        );
        assert_eq!(
            summary(&windows_crash(), &"x".repeat(1000)).chars().count(),
            MAX_SUMMARY
        );
    }

    #[test]
    fn hostile_shapes_give_an_event_without_panicking() {
        for processed in [
            json!(null),
            json!([]),
            json!({"threads": "no", "modules": 3, "crash_info": {"type": 5}}),
            json!({"threads": [{"frames": [null, 1, {"inlines": "x"}]}], "crash_info": {"crashing_thread": 99}}),
            json!({"crash_info": {"type": "SIGSEGV", "crashing_thread": 0}, "threads": [{}]}),
        ] {
            let event = native_event(Some(&json!("not an object")), &processed);
            assert!(event.is_object());
            let _ = search_text(&processed, "sig");
        }
        let event = native_event(
            Some(&json!({"contexts": "wrong type"})),
            &json!({"system_info": {"os": "Linux"}}),
        );
        assert_eq!(event["contexts"]["os"]["name"], "Linux");
    }

    #[test]
    fn search_text_holds_functions_inlines_files_and_modules() {
        let text = search_text(&windows_crash(), "crash_here");
        for needle in [
            "EXCEPTION_ACCESS_VIOLATION_READ",
            "crash_here",
            "inlined_helper",
            "util.h",
            "other.dll",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }
}
