//! Socorro-style crash signatures, from a processed crash in rust-minidump's JSON form.
//!
//! This follows the C/C++/Rust part of Socorro's `CSignatureTool` as summarised in the
//! reference notes (§4.4): inline frames are expanded before their parent frame, the first 40
//! frames of the crashing thread are considered, each frame is normalised (function, else
//! `file#line`, else module, else `(unloaded <module>)`, else `@<offset>`), frames on the
//! prefix list are kept and the walk goes on, irrelevant frames are skipped, the first other
//! frame ends the signature, and the result is joined with ` | ` and cut to 255 characters.
//! The lists are short summaries of Socorro's `siglists/`, not copies of them.

use serde_json::Value;

/// Socorro's `MAXIMUM_FRAMES_TO_CONSIDER`.
pub const MAX_FRAMES: usize = 40;
/// Socorro's `SigTruncate` limit.
pub const MAX_LENGTH: usize = 255;

/// Frames that only say *how* the process died; the signature keeps them and goes on.
const PREFIX: &[&str] = &[
    "abort",
    "raise",
    "__GI_raise",
    "__GI_abort",
    "_purecall",
    "RtlRaiseException",
    "KiUserExceptionDispatcher",
    "std::panicking::",
    "core::panicking::",
    "core::result::unwrap_failed",
    "core::option::unwrap_failed",
    "MOZ_Crash",
    "mozalloc_abort",
    "memcpy",
    "memmove",
    "memset",
    "malloc",
    "free",
    "realloc",
    "operator new",
];

/// Frames that say nothing about the crash; the signature skips them.
const IRRELEVANT: &[&str] = &[
    "@0x0",
    "_alloca_probe",
    "__chkstk",
    "_chkstk",
    "RtlUserThreadStart",
    "BaseThreadInitThunk",
    "_start",
    "__libc_start_main",
    "start_thread",
    "__clone",
];

/// The signature of a processed crash. `processed` may be the stackwalker's JSON or a Socorro
/// processed crash that wraps it in `json_dump`.
pub fn signature(processed: &Value) -> String {
    let dump = processed.get("json_dump").unwrap_or(processed);
    let crashing = dump
        .pointer("/crash_info/crashing_thread")
        .and_then(Value::as_u64)
        .or_else(|| {
            dump.pointer("/crashing_thread/threads_index")
                .and_then(Value::as_u64)
        });
    let Some(index) = crashing else {
        return "EMPTY: no crashing thread identified".to_string();
    };
    let frames = dump
        .pointer(&format!("/threads/{index}/frames"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let os = dump.pointer("/system_info/os").and_then(Value::as_str);
    let lower_modules = os == Some("Windows NT");
    let normalised: Vec<String> = expand_inlines(frames)
        .into_iter()
        .take(MAX_FRAMES)
        .map(|frame| normalise(&frame, lower_modules))
        .collect();
    if normalised.is_empty() {
        return "EMPTY: no frame data available".to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for name in &normalised {
        if is_listed(IRRELEVANT, name) {
            continue;
        }
        parts.push(name);
        if !is_listed(PREFIX, name) {
            break;
        }
    }
    if parts.is_empty() {
        // Every frame was irrelevant: fall back to the top frame, as Socorro does.
        parts.push(&normalised[0]);
    }
    truncate(&printable(&parts.join(" | ")))
}

/// One frame as siggen sees it, inline or real.
#[derive(Debug, Default)]
struct SigFrame {
    function: Option<String>,
    file: Option<String>,
    line: Option<u64>,
    module: Option<String>,
    unloaded: Option<String>,
    module_offset: Option<String>,
    offset: Option<String>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn expand_inlines(frames: &[Value]) -> Vec<SigFrame> {
    let mut out = Vec::new();
    for frame in frames {
        let module = text(frame, "module");
        for inline in frame
            .get("inlines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(SigFrame {
                function: text(inline, "function"),
                file: text(inline, "file"),
                line: inline.get("line").and_then(Value::as_u64),
                module: module.clone(),
                ..SigFrame::default()
            });
        }
        let unloaded = frame
            .pointer("/unloaded_modules/0/module")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(SigFrame {
            function: text(frame, "function"),
            file: text(frame, "file"),
            line: frame.get("line").and_then(Value::as_u64),
            module,
            unloaded,
            module_offset: text(frame, "module_offset"),
            offset: text(frame, "offset"),
        });
    }
    out
}

fn normalise(frame: &SigFrame, lower_modules: bool) -> String {
    if let Some(function) = &frame.function {
        let is_rust = frame.file.as_deref().is_some_and(|f| f.ends_with(".rs"));
        return if is_rust {
            normalise_rust(function)
        } else {
            normalise_cpp(function)
        };
    }
    if let (Some(file), Some(line)) = (&frame.file, frame.line) {
        return format!("{}#{line}", leaf(file));
    }
    if let Some(module) = &frame.module {
        return if lower_modules {
            module.to_lowercase()
        } else {
            module.clone()
        };
    }
    if let Some(unloaded) = &frame.unloaded {
        return format!("(unloaded {unloaded})");
    }
    let offset = frame
        .module_offset
        .as_deref()
        .or(frame.offset.as_deref())
        .unwrap_or("0x0");
    format!("@{offset}")
}

/// Rust: drop the `::h<16 hex>` hash suffix.
fn normalise_rust(function: &str) -> String {
    match function.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head.to_string()
        }
        _ => function.to_string(),
    }
}

/// C++: drop the parameter list and collapse template arguments to `<T>`, as siggen does.
fn normalise_cpp(function: &str) -> String {
    let mut out = String::with_capacity(function.len());
    let mut angle = 0usize;
    let mut paren = 0usize;
    for c in function.chars() {
        match c {
            '<' if paren == 0 => {
                if angle == 0 {
                    out.push_str("<T>");
                }
                angle += 1;
            }
            '>' if paren == 0 && angle > 0 => angle -= 1,
            '(' if angle == 0 => paren += 1,
            ')' if angle == 0 && paren > 0 => paren -= 1,
            _ if angle == 0 && paren == 0 => out.push(c),
            _ => {}
        }
    }
    let trimmed = out.trim().trim_end_matches(" const").trim();
    if trimmed.is_empty() {
        function.to_string()
    } else {
        trimmed.to_string()
    }
}

fn leaf(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_listed(list: &[&str], name: &str) -> bool {
    list.iter().any(|entry| {
        if entry.ends_with("::") || entry.contains(' ') {
            name.starts_with(entry)
        } else {
            name == *entry
        }
    })
}

/// `SigPrintableCharsOnly` and `SigFixWhitespace`.
fn printable(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    kept.split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_LENGTH {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_LENGTH - 3).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crash(frames: Value) -> Value {
        json!({
            "crash_info": {"crashing_thread": 0, "type": "SIGSEGV"},
            "system_info": {"os": "Linux"},
            "threads": [{"frames": frames}]
        })
    }

    #[test]
    fn top_function_ends_the_signature() {
        let sig = signature(&crash(json!([
            {"function": "Foo::bar(int, char const*)", "file": "foo.cpp", "module": "libfoo.so"},
            {"function": "main", "module": "app"}
        ])));
        assert_eq!(sig, "Foo::bar");
    }

    #[test]
    fn prefix_frames_are_kept_and_irrelevant_skipped() {
        let sig = signature(&crash(json!([
            {"function": "__chkstk"},
            {"function": "abort"},
            {"function": "std::panicking::begin_panic_handler::h0123456789abcdef", "file": "panicking.rs"},
            {"function": "app::main::h0123456789abcdef", "file": "main.rs"},
            {"function": "never"}
        ])));
        assert_eq!(
            sig,
            "abort | std::panicking::begin_panic_handler | app::main"
        );
    }

    #[test]
    fn inlines_come_before_their_frame() {
        let sig = signature(&crash(json!([
            {"function": "outer", "inlines": [{"function": "memcpy"}, {"function": "inner"}]}
        ])));
        assert_eq!(sig, "memcpy | inner");
    }

    #[test]
    fn fallbacks_without_function() {
        let file_line = crash(json!([{"file": "/src/a/b.c", "line": 12}]));
        assert_eq!(signature(&file_line), "b.c#12");
        let module = json!({
            "crash_info": {"crashing_thread": 0},
            "system_info": {"os": "Windows NT"},
            "threads": [{"frames": [{"module": "XUL.DLL"}]}]
        });
        assert_eq!(signature(&module), "xul.dll");
        let unloaded =
            crash(json!([{"unloaded_modules": [{"module": "gone.so", "offsets": ["0x1"]}]}]));
        assert_eq!(signature(&unloaded), "(unloaded gone.so)");
        let bare = crash(json!([{"offset": "0x00007fff1234"}]));
        assert_eq!(signature(&bare), "@0x00007fff1234");
    }

    #[test]
    fn empty_cases() {
        assert_eq!(
            signature(&json!({"threads": []})),
            "EMPTY: no crashing thread identified"
        );
        assert_eq!(
            signature(&crash(json!([]))),
            "EMPTY: no frame data available"
        );
    }

    #[test]
    fn templates_collapse_and_long_signatures_truncate() {
        let sig = signature(&crash(json!([
            {"function": "std::vector<int, std::allocator<int> >::push_back(int const&)"}
        ])));
        assert_eq!(sig, "std::vector<T>::push_back");
        let long = "f".repeat(400);
        let sig = signature(&crash(json!([{"function": long}])));
        assert_eq!(sig.len(), MAX_LENGTH);
        assert!(sig.ends_with("..."));
    }

    #[test]
    fn socorro_wrapper_is_unwrapped() {
        let wrapped = json!({"json_dump": crash(json!([{"function": "boom"}]))});
        assert_eq!(signature(&wrapped), "boom");
    }
}
