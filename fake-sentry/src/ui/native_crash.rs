//! The native crash view: a minidump's event (Sentry's schema, as the minidump pipeline writes
//! it once the dump is processed) shaped for the detail page. An exception banner with the
//! processing status, the signature, a reprocess button and the minidump's links; the crashing
//! thread's frames, newest first, with trust, inline and missing-symbol marks; the other threads
//! collapsed; the module list; and the system the crash happened on.
//!
//! How it fits: [`native_crash_view`] reads a [`NativeCrash`] into a [`NativeCrashView`], the way
//! `event_view` reads an event; `templates/native_crash.html` lays out a variable `native`
//! holding that view, so the detail page includes it (`{% include "native_crash.html" %}` inside
//! `{% if let Some(native) = native %}`), and [`NativeCrashSection`] renders it on its own
//! ([`render`]). Frames use the markup and classes of the Python frames view (`ol.frames`,
//! `details.frame`).
//!
//! The event is hostile input (any client can post one): every field may be missing or of
//! another JSON type, and is then shown as its JSON text or left out; everything is cut to
//! [`UiLimits`] (`frames`, `native_threads`, `native_modules`, `field_rows`, `cell_chars`) and
//! escaped by the template. Links are built here from the minidump's item id, percent-encoded.

use serde_json::Value;

use super::event_view::values;
use super::limits::UiLimits;
use super::text::str_at;

/// How far processing of the minidump has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NativeStatus<'a> {
    /// Not processed yet: the event is what the client sent.
    Pending,
    Processed,
    /// Processing failed with `error`; the event is what the client sent.
    Failed {
        error: &'a str,
    },
}

/// What the native crash view shows, as the detail page has it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NativeCrash<'a> {
    /// The native crash event in Sentry's event schema. While [`NativeStatus::Pending`] or
    /// [`NativeStatus::Failed`] it is only what the client sent (no exception, threads or
    /// `debug_meta` yet): what is there is shown.
    pub event: &'a Value,
    pub status: NativeStatus<'a>,
    /// Socorro-style signature, when processed.
    pub signature: Option<&'a str>,
    /// Item id of the minidump attachment (`ItemSummary::id`): the raw download is
    /// `/api/items/{id}/raw`, reprocessing `POST /api/items/{id}/reprocess`, the processor's
    /// JSON `/api/items/{id}/processed`.
    pub minidump_item_id: &'a str,
    pub minidump_filename: &'a str,
    pub minidump_size: u64,
}

/// A small label with a class from a fixed set (never from the event) and an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Badge {
    pub text: String,
    /// CSS classes besides `badge`.
    pub class: &'static str,
    /// What the badge means, for the `title` attribute; empty for none.
    pub title: &'static str,
}

/// One native frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeFrame {
    /// The function, or `module@offset` (else the instruction address) when unsymbolicated.
    pub function: String,
    /// Whether `function` is a symbol name rather than an address.
    pub symbolicated: bool,
    /// `file:line`, whatever is known of it.
    pub location: String,
    /// The basename of the module (`package`).
    pub module: String,
    pub address: String,
    pub trust: Option<Badge>,
    pub inline: bool,
    /// The frame's module has no symbols (`data.symbolicator_status` `missing` or
    /// `unknown_image`).
    pub no_symbols: bool,
    pub in_app: bool,
    /// Addresses, offsets and the rest, for the frame's body.
    pub details: Vec<(String, String)>,
}

/// One stack, newest frame first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NativeStack {
    pub frames: Vec<NativeFrame>,
    /// The oldest frames beyond [`UiLimits::frames`], left out.
    pub omitted: usize,
    pub registers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeThread {
    pub name: String,
    pub crashed: bool,
    pub current: bool,
    /// Frames in the event, shown or not.
    pub frame_count: usize,
    pub stack: NativeStack,
}

/// One row of the modules table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModuleRow {
    /// The basename of `code_file`.
    pub code_name: String,
    /// `code_file` as given.
    pub code_file: String,
    pub debug_file: String,
    pub debug_id: String,
    pub code_id: String,
    pub version: String,
    /// `start–end` when `image_addr` and `image_size` are numbers, else what was given.
    pub range: String,
    pub unloaded: bool,
    pub symbols: Option<Badge>,
}

/// The minidump's links, built from its item id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MinidumpLinks {
    pub raw: String,
    pub processed: String,
    pub reprocess: String,
    pub filename: String,
    pub size: u64,
}

/// The status line of the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusView {
    /// `pending`, `processed` or `failed`: a CSS class too.
    pub kind: &'static str,
    pub label: &'static str,
    /// Why processing failed; empty otherwise.
    pub error: String,
}

/// Everything the native crash section shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeCrashView {
    /// Type and value of the last exception (`exception.values[-1]`).
    pub ty: String,
    pub value: String,
    pub mechanism: String,
    /// `handled`, `unhandled` or empty.
    pub handled: String,
    pub status: StatusView,
    pub signature: String,
    pub links: MinidumpLinks,
    /// The name of the crashing thread, when the event's threads say which it is.
    pub crashing_thread: String,
    /// The crashing thread's stack: the exception's, else the crashed thread's.
    pub crashing: NativeStack,
    /// Frames of the crashing stack in the event, shown or not.
    pub crashing_frame_count: usize,
    pub threads: Vec<NativeThread>,
    /// Threads beyond [`UiLimits::native_threads`], left out.
    pub threads_omitted: usize,
    pub modules: Vec<ModuleRow>,
    /// Modules beyond [`UiLimits::native_modules`], left out.
    pub modules_omitted: usize,
    pub system: Vec<(String, String)>,
}

/// The native crash section on its own (the detail page includes its template instead), for
/// tests.
#[cfg(test)]
#[derive(askama::Template)]
#[template(path = "native_crash.html")]
pub(crate) struct NativeCrashSection<'a> {
    pub native: &'a NativeCrashView,
}

/// The HTML of the native crash section for `crash`, bounded by `limits`.
#[cfg(test)]
pub(crate) fn render(limits: &UiLimits, crash: &NativeCrash) -> Result<String, askama::Error> {
    use askama::Template;
    let native = native_crash_view(limits, crash);
    NativeCrashSection { native: &native }.render()
}

/// `text` as one URL path segment: everything but RFC 3986's unreserved characters
/// percent-encoded, so that no id can reach another path.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    // `.` and `..` are path segments of their own meaning.
    match out.as_str() {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => out,
    }
}

fn links(crash: &NativeCrash) -> MinidumpLinks {
    let base = format!("/api/items/{}", path_segment(crash.minidump_item_id));
    MinidumpLinks {
        raw: format!("{base}/raw"),
        processed: format!("{base}/processed"),
        reprocess: format!("{base}/reprocess"),
        filename: crash.minidump_filename.to_string(),
        size: crash.minidump_size,
    }
}

fn status_view(l: &UiLimits, status: NativeStatus) -> StatusView {
    match status {
        NativeStatus::Pending => StatusView {
            kind: "pending",
            label: "processing…",
            error: String::new(),
        },
        NativeStatus::Processed => StatusView {
            kind: "processed",
            label: "processed",
            error: String::new(),
        },
        NativeStatus::Failed { error } => StatusView {
            kind: "failed",
            label: "processing failed",
            error: l.cell(error),
        },
    }
}

/// The last component of a Windows or Unix path.
fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// An address or offset: hex strings as given, whole numbers in hex, anything else as text.
fn address_text(l: &UiLimits, value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(n) => format!("0x{n:x}"),
            None => l.value_text(value),
        },
        other => l.value_text(other),
    }
}

/// An address as a number: `0x` hex or decimal text, or a whole JSON number.
fn address_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// The value at `key`, unless it is missing or null.
fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.get(key).filter(|v| !v.is_null())
}

fn trust_badge(l: &UiLimits, trust: &Value) -> Badge {
    let (text, class, title) = match trust.as_str() {
        Some("context") => (
            "context",
            "trust",
            "the thread's newest frame, from its registers",
        ),
        Some("prewalked") => ("prewalked", "trust", "given by the minidump's writer"),
        Some("cfi") => ("cfi", "trust", "unwound with call frame information"),
        Some("fp" | "frame_pointer") => ("fp", "trust", "unwound with the frame pointer"),
        Some("cfi_scan") => (
            "cfi scan",
            "trust warn",
            "found by scanning the stack, checked with call frame information",
        ),
        Some("scan") => (
            "scan",
            "trust warn",
            "found by scanning the stack: it may not be a real frame",
        ),
        Some("none" | "non") => ("none", "trust warn", "no way of unwinding found this frame"),
        _ => {
            return Badge {
                text: l.value_text(trust),
                class: "trust",
                title: "",
            };
        }
    };
    Badge {
        text: text.into(),
        class,
        title,
    }
}

fn native_frame(l: &UiLimits, frame: &Value) -> NativeFrame {
    let data = frame.get("data");
    let data_at = |key: &str| data.and_then(|d| field(d, key));
    let package = str_at(frame, "package").unwrap_or("");
    let module = l.cell(basename(package));
    let address = field(frame, "instruction_addr")
        .map(|v| address_text(l, v))
        .unwrap_or_default();
    let module_offset = data_at("module_offset").map(|v| address_text(l, v));
    let symbol = str_at(frame, "function")
        .or_else(|| str_at(frame, "symbol"))
        .filter(|f| !f.is_empty());
    let function = match (symbol, &module_offset) {
        (Some(name), _) => l.cell(name),
        (None, Some(offset)) if !module.is_empty() => format!("{module}@{offset}"),
        (None, _) if !address.is_empty() => address.clone(),
        (None, _) => "<unknown>".into(),
    };
    let file = str_at(frame, "filename")
        .or_else(|| str_at(frame, "abs_path"))
        .map(|f| l.cell(f))
        .unwrap_or_default();
    let location = match field(frame, "lineno").map(|v| l.value_text(v)) {
        None => file,
        Some(line) if file.is_empty() => format!("line {line}"),
        Some(line) => format!("{file}:{line}"),
    };
    let mut details = Vec::new();
    let mut detail = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            details.push((name.to_string(), value));
        }
    };
    detail("instruction address", Some(address.clone()));
    detail("module offset", module_offset);
    detail(
        "function offset",
        data_at("function_offset").map(|v| address_text(l, v)),
    );
    detail("module", field(frame, "package").map(|v| l.value_text(v)));
    detail(
        "symbol address",
        field(frame, "symbol_addr").map(|v| address_text(l, v)),
    );
    detail(
        "image address",
        field(frame, "image_addr").map(|v| address_text(l, v)),
    );
    if let Some(path) = str_at(frame, "abs_path").filter(|p| str_at(frame, "filename") != Some(p)) {
        detail("path", Some(l.cell(path)));
    }
    detail(
        "symbols",
        data_at("symbolicator_status").map(|v| l.value_text(v)),
    );
    NativeFrame {
        function,
        symbolicated: symbol.is_some(),
        location,
        module,
        address,
        trust: field(frame, "trust").map(|t| trust_badge(l, t)),
        inline: data_at("inline").and_then(Value::as_bool) == Some(true),
        no_symbols: matches!(
            data_at("symbolicator_status").and_then(Value::as_str),
            Some("missing" | "unknown_image")
        ),
        in_app: frame.get("in_app").and_then(Value::as_bool) == Some(true),
        details,
    }
}

/// The frames of a stack trace object (`{"frames": [...]}`).
fn frames_of(stacktrace: Option<&Value>) -> &[Value] {
    stacktrace
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn native_stack(l: &UiLimits, stacktrace: Option<&Value>) -> NativeStack {
    let frames = frames_of(stacktrace);
    NativeStack {
        // The protocol lists frames oldest first; the crash site is read first.
        frames: frames
            .iter()
            .rev()
            .take(l.frames)
            .map(|f| native_frame(l, f))
            .collect(),
        omitted: frames.len().saturating_sub(l.frames),
        registers: stacktrace
            .and_then(|s| field(s, "registers"))
            .map(|r| l.pairs(r))
            .unwrap_or_default(),
    }
}

fn thread_name(l: &UiLimits, thread: &Value) -> String {
    let id = field(thread, "id").map(|v| l.value_text(v));
    match (field(thread, "name").map(|v| l.value_text(v)), id) {
        (Some(name), Some(id)) => format!("{name} (id {id})"),
        (Some(name), None) => name,
        (None, Some(id)) => format!("thread {id}"),
        (None, None) => "thread".into(),
    }
}

/// Whether `thread` is the one that crashed: it says so, or the exception names its id.
fn is_crashed(thread: &Value, exception_thread: Option<&Value>) -> bool {
    thread.get("crashed").and_then(Value::as_bool) == Some(true)
        || exception_thread.is_some_and(|id| field(thread, "id") == Some(id))
}

fn module_row(l: &UiLimits, image: &Value) -> ModuleRow {
    let text = |key: &str| {
        field(image, key)
            .map(|v| l.value_text(v))
            .unwrap_or_default()
    };
    let code_file = text("code_file");
    let start = field(image, "image_addr");
    let size = field(image, "image_size");
    let range = match (
        start.and_then(address_number),
        size.and_then(address_number),
    ) {
        (Some(start), Some(size)) => match start.checked_add(size) {
            Some(end) => format!("0x{start:x}–0x{end:x}"),
            None => format!("0x{start:x} + {size}"),
        },
        _ => [start, size]
            .into_iter()
            .flatten()
            .map(|v| address_text(l, v))
            .collect::<Vec<_>>()
            .join(" + "),
    };
    let symbols = field(image, "debug_status").map(|status| {
        let (class, title) = match status.as_str() {
            Some("found") => ("ok", "symbols found and used"),
            Some("missing") => ("warn", "symbols for this module were not found"),
            Some("malformed") => ("warn", "the symbols found could not be read"),
            Some("unused") => ("", "no frame needed this module's symbols"),
            _ => ("", ""),
        };
        Badge {
            text: l.value_text(status),
            class,
            title,
        }
    });
    ModuleRow {
        code_name: l.cell(basename(str_at(image, "code_file").unwrap_or(&code_file))),
        code_file,
        debug_file: text("debug_file"),
        debug_id: text("debug_id"),
        code_id: text("code_id"),
        version: text("version"),
        range,
        unloaded: image.get("unloaded").and_then(Value::as_bool) == Some(true),
        symbols,
    }
}

/// `contexts.os` (name, version, build), `contexts.device.arch` and the plain fields of
/// `contexts.cpu`; fields that are objects or lists are left out.
fn system_rows(l: &UiLimits, event: &Value) -> Vec<(String, String)> {
    let contexts = event.get("contexts");
    let context = |name: &str| contexts.and_then(|c| c.get(name));
    let plain = |value: &Value| match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(l.value_text(value)),
        _ => None,
    };
    let mut rows = Vec::new();
    for (key, label) in [
        ("name", "OS"),
        ("version", "OS version"),
        ("build", "OS build"),
    ] {
        if let Some(text) = context("os").and_then(|os| os.get(key)).and_then(plain) {
            rows.push((label.to_string(), text));
        }
    }
    if let Some(arch) = context("device")
        .and_then(|d| d.get("arch"))
        .and_then(plain)
    {
        rows.push(("Architecture".into(), arch));
    }
    if let Some(Value::Object(cpu)) = context("cpu") {
        for (key, value) in cpu.iter().filter(|(k, _)| *k != "type") {
            if rows.len() >= l.field_rows {
                break;
            }
            if let Some(text) = plain(value) {
                rows.push((format!("CPU {}", l.cell(key)), text));
            }
        }
    }
    rows.truncate(l.field_rows);
    rows
}

/// Shapes a native crash for display. Never fails: what is missing or malformed is left out.
pub(crate) fn native_crash_view(l: &UiLimits, crash: &NativeCrash) -> NativeCrashView {
    let event = crash.event;
    let exception = values(event.get("exception")).last();
    let exception_at = |key: &str| exception.and_then(|e| field(e, key));
    let exception_thread = exception_at("thread_id");
    let mechanism = exception_at("mechanism");
    let threads = values(event.get("threads"));
    let crashed_thread = threads.iter().find(|t| is_crashed(t, exception_thread));
    // Sentry moves the crashed thread's stack onto the exception; an event that kept it on the
    // thread is read from there (and the thread's own entry below does not repeat it).
    let exception_stack = exception_at("stacktrace");
    let thread_stack = crashed_thread.and_then(|t| field(t, "stacktrace"));
    let from_thread = frames_of(exception_stack).is_empty() && thread_stack.is_some();
    let crashing_stack = if from_thread {
        thread_stack
    } else {
        exception_stack
    };
    let mut crashing = native_stack(l, crashing_stack);
    if crashing.registers.is_empty() {
        crashing.registers = thread_stack
            .and_then(|s| field(s, "registers"))
            .map(|r| l.pairs(r))
            .unwrap_or_default();
    }
    let images = event
        .get("debug_meta")
        .and_then(|d| d.get("images"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    NativeCrashView {
        ty: exception_at("type")
            .map(|v| l.value_text(v))
            .unwrap_or_default(),
        value: exception_at("value")
            .map(|v| l.value_text(v))
            .unwrap_or_default(),
        mechanism: mechanism
            .and_then(|m| field(m, "type"))
            .map(|v| l.value_text(v))
            .unwrap_or_default(),
        handled: match mechanism.and_then(|m| m.get("handled")) {
            Some(Value::Bool(true)) => "handled".into(),
            Some(Value::Bool(false)) => "unhandled".into(),
            _ => String::new(),
        },
        status: status_view(l, crash.status),
        signature: crash.signature.map(|s| l.cell(s)).unwrap_or_default(),
        links: links(crash),
        crashing_thread: crashed_thread
            .map(|t| thread_name(l, t))
            .unwrap_or_default(),
        crashing_frame_count: frames_of(crashing_stack).len(),
        crashing,
        threads: threads
            .iter()
            .take(l.native_threads)
            .map(|t| {
                let crashed = is_crashed(t, exception_thread);
                NativeThread {
                    name: thread_name(l, t),
                    crashed,
                    current: t.get("current").and_then(Value::as_bool) == Some(true),
                    frame_count: frames_of(t.get("stacktrace")).len(),
                    stack: if crashed && from_thread {
                        NativeStack::default()
                    } else {
                        native_stack(l, field(t, "stacktrace"))
                    },
                }
            })
            .collect(),
        threads_omitted: threads.len().saturating_sub(l.native_threads),
        modules: images
            .iter()
            .take(l.native_modules)
            .map(|i| module_row(l, i))
            .collect(),
        modules_omitted: images.len().saturating_sub(l.native_modules),
        system: system_rows(l, event),
    }
}

#[cfg(test)]
mod tests;
