//! The crashing thread's frames, each reduced to one string as siggen's `CSignatureTool` does.
//!
//! - Inline frames come first, one frame each, before the frame they were inlined into; they
//!   take that frame's module and offset and their own function, file and line.
//! - Only the first [`MAX_FRAMES`] of those are looked at.
//! - Rust 1.34's panic functions, which lost their module path in symbol files, get it back
//!   (`panic` in `src/libcore/panicking.rs` is `core::panicking::panic`).
//! - On Windows ("Windows NT") module names are lower-cased.
//! - A frame is then, by precedence: its function (normalised with the Rust rules when its
//!   source file ends in `.rs`, with the C/C++ rules otherwise), `<file>#<line>`, its module
//!   (without `[`/`]` around it), `(unloaded <module>)` for its first unloaded module, or
//!   `@<offset>` (hex, leading zeros dropped); the empty string when it has none of them.

use serde_json::{Map, Value};

use crate::normalize::{cpp_function, parse_source_file, rust_function};
use crate::py::{self, PyErr};

/// siggen's `MAXIMUM_FRAMES_TO_CONSIDER`.
pub const MAX_FRAMES: usize = 40;

/// Rust 1.34's module-less panic symbols, by source file and function.
const RUST_134_PANICS: &[(&str, &str, &str)] = &[
    (
        "src/liballoc/raw_vec.rs",
        "capacity_overflow",
        "alloc::raw_vec::capacity_overflow",
    ),
    (
        "src/libcore/option.rs",
        "expect_failed",
        "core::option::expect_failed",
    ),
    (
        "src/libcore/panicking.rs",
        "panic_bounds_check",
        "core::panicking::panic_bounds_check",
    ),
    (
        "src/libcore/panicking.rs",
        "panic_fmt",
        "core::panicking::panic_fmt",
    ),
    (
        "src/libcore/panicking.rs",
        "panic",
        "core::panicking::panic",
    ),
    (
        "src/libcore/slice/mod.rs",
        "slice_index_order_fail",
        "core::slice::slice_index_order_fail",
    ),
    (
        "src/libstd/panicking.rs",
        "begin_panic_fmt",
        "std::panicking::begin_panic_fmt",
    ),
    (
        "src/libstd/panicking.rs",
        "continue_panic_fmt",
        "std::panicking::continue_panic_fmt",
    ),
    (
        "src/libstd/panicking.rs",
        "rust_panic_with_hook",
        "std::panicking::rust_panic_with_hook",
    ),
];

/// One frame as siggen sees it, inline or not. Fields are `None` when missing or `null`.
struct SigFrame<'a> {
    module: Option<&'a Value>,
    function: Option<&'a Value>,
    file: Option<&'a Value>,
    line: Option<&'a Value>,
    offset: Option<&'a Value>,
    /// Only real frames have unloaded modules.
    unloaded_modules: Option<&'a Value>,
}

/// The normalised frames of `thread` (`None`: no such thread, which siggen treats as `{}`).
pub(crate) fn normalized_frames(
    thread: Option<&Value>,
    lower_modules: bool,
) -> Result<Vec<String>, PyErr> {
    let mut out = Vec::new();
    let Some(thread) = thread else {
        return Ok(out);
    };
    let frames = match py::as_dict(thread)?.get("frames") {
        Some(frames) => py::iterate(frames)?,
        None => return Ok(out),
    };
    for frame in &frames {
        if out.len() == MAX_FRAMES {
            break;
        }
        let frame = py::as_dict(frame)?;
        let inlines = match py::get(frame, "inlines").filter(|v| py::truthy(v)) {
            Some(inlines) => py::iterate(inlines)?,
            None => Vec::new(),
        };
        for inline in &inlines {
            if out.len() == MAX_FRAMES {
                return Ok(out);
            }
            let inline = py::as_dict(inline)?;
            out.push(normalize(
                SigFrame {
                    module: py::get(frame, "module"),
                    function: py::get(inline, "function"),
                    file: py::get(inline, "file"),
                    line: py::get(inline, "line"),
                    offset: py::get(frame, "offset"),
                    unloaded_modules: None,
                },
                lower_modules,
            )?);
        }
        if out.len() == MAX_FRAMES {
            break;
        }
        out.push(normalize(frame_fields(frame), lower_modules)?);
    }
    Ok(out)
}

fn frame_fields(frame: &Map<String, Value>) -> SigFrame<'_> {
    SigFrame {
        module: py::get(frame, "module"),
        function: py::get(frame, "function"),
        file: py::get(frame, "file"),
        line: py::get(frame, "line"),
        offset: py::get(frame, "offset"),
        unloaded_modules: py::get(frame, "unloaded_modules"),
    }
}

/// The source path siggen reads from a frame's `file`, which must be a str when truthy.
fn source_path(file: Option<&Value>) -> Result<Option<&str>, PyErr> {
    match file.filter(|f| py::truthy(f)) {
        Some(file) => Ok(parse_source_file(py::as_str(file, "split")?)),
        None => Ok(None),
    }
}

/// The full name of a Rust 1.34 panic function that lost its module path, looked up (as siggen
/// does, in a dict, so the function must be hashable) by source path and function.
fn rust_134_function(
    path: Option<&str>,
    function: Option<&Value>,
) -> Result<Option<&'static str>, PyErr> {
    if let Some(function @ (Value::Array(_) | Value::Object(_))) = function {
        return Err(PyErr::other(format!(
            "unhashable type: '{}'",
            py::type_name(function)
        )));
    }
    Ok(match (path, function.and_then(Value::as_str)) {
        (Some(path), Some(function)) => RUST_134_PANICS
            .iter()
            .find(|(p, f, _)| *p == path && *f == function)
            .map(|(_, _, full)| *full),
        _ => None,
    })
}

/// One frame's string, by siggen's precedence (see the module doc).
fn normalize(frame: SigFrame<'_>, lower_modules: bool) -> Result<String, PyErr> {
    let path = source_path(frame.file)?;
    let restored = rust_134_function(path, frame.function)?;
    let module = match frame.module.filter(|m| lower_modules && py::truthy(m)) {
        Some(module) => Some(Value::String(py::as_str(module, "lower")?.to_lowercase())),
        None => frame.module.cloned(),
    };

    if let Some(function) = restored {
        return by_language(function, path, frame.line);
    }
    if let Some(function) = frame.function.filter(|f| py::truthy(f)) {
        return match function.as_str() {
            Some(function) => by_language(function, path, frame.line),
            // The Rust rules iterate over the name, the C/C++ rules call `.endswith` on it.
            None if is_rust(path) => Err(PyErr::not_iterable(function)),
            None => Err(PyErr::no_attribute(function, "endswith")),
        };
    }
    if let (Some(file), Some(line)) = (
        frame.file.filter(|f| py::truthy(f)),
        frame.line.filter(|l| py::truthy(l)),
    ) {
        let file = py::as_str(file, "rstrip")?.trim_end_matches(['/', '\\']);
        let leaf = if file.contains('\\') {
            file.rsplit('\\').next()
        } else {
            file.rsplit('/').next()
        };
        return Ok(format!("{}#{}", leaf.unwrap_or(file), py::to_str(line)));
    }
    if let Some(module) = module.as_ref().filter(|m| py::truthy(m)) {
        return Ok(py::as_str(module, "strip")?
            .trim_matches(['[', ']'])
            .to_string());
    }
    if let Some(unloaded) = frame.unloaded_modules.filter(|u| py::truthy(u)) {
        let first = first_item(unloaded)?;
        let first = py::as_dict(&first)?;
        return Ok(format!(
            "(unloaded {})",
            py::to_str_opt(py::get(first, "module"))
        ));
    }
    if let Some(offset) = frame.offset.filter(|o| py::truthy(o)) {
        return Ok(format!("@{}", strip_leading_zeros(offset)));
    }
    Ok(String::new())
}

fn is_rust(path: Option<&str>) -> bool {
    path.unwrap_or("").ends_with(".rs")
}

/// A function name, normalised with the Rust rules for a `.rs` source file and the C/C++
/// rules otherwise.
fn by_language(function: &str, path: Option<&str>, line: Option<&Value>) -> Result<String, PyErr> {
    if is_rust(path) {
        Ok(rust_function(function, line))
    } else {
        cpp_function(function, line)
    }
}

/// `value[0]`.
fn first_item(value: &Value) -> Result<Value, PyErr> {
    match value {
        Value::Array(items) => Ok(items[0].clone()),
        Value::String(s) => Ok(Value::String(
            s.chars().next().map(String::from).unwrap_or_default(),
        )),
        Value::Object(_) => Err(PyErr::lookup("0")),
        other => Err(PyErr::other(format!(
            "'{}' object is not subscriptable",
            py::type_name(other)
        ))),
    }
}

/// `hex(int(offset, 16))`, or the offset as it is when that fails.
fn strip_leading_zeros(offset: &Value) -> String {
    match offset.as_str().and_then(|s| py::parse_int(s, 16)) {
        Some((negative, digits)) => format!("{}0x{digits}", if negative { "-" } else { "" }),
        None => py::to_str(offset),
    }
}
