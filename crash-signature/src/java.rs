//! Signatures of Java crashes (Fenix, GeckoView): siggen's two Java tools.
//!
//! - From `java_stack_trace` (the text of a Java stack trace): `<exception class>: <message>
//!   <first frame>`, with 8-digit hex addresses in the message written `@<addr>` and the line
//!   number dropped from the frame (`Foo.java:12)` becomes `Foo.java)`). When the message ends
//!   with `<addr>` a `: ` (not a space) separates it from the frame. Past 255 characters the
//!   message is dropped.
//! - From `java_exception` (the structured exception): `<module>.<type>: at
//!   <module>.<function>(<filename>)` of the first frame of the first exception value.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::crash_data::glom;
use crate::py::{self, PyErr};

const NOT_TEXT: &str = "EMPTY: Java stack trace not in expected format";
const NOT_AN_EXCEPTION: &str = "EMPTY: Java exception not in expected format";
/// siggen's `JavaSignatureTool.DESCRIPTION_MAX_LENGTH`.
const DESCRIPTION_MAX_LENGTH: usize = 255;

static HEX_ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("@[0-9a-f]{8}").expect("a valid pattern"));
static LINE_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.java:\d+\)\z").expect("a valid pattern"));

/// The signature of a Java stack trace, and siggen's notes.
pub(crate) fn from_stack_trace(source: &Value) -> (String, Vec<String>) {
    let Some(source) = source.as_str() else {
        return (
            NOT_TEXT.to_string(),
            vec!["JavaSignatureTool: stack trace not in expected format".to_string()],
        );
    };
    let lines: Vec<&str> = py::splitlines(source).into_iter().map(py::strip).collect();
    let Some(first) = lines.first() else {
        return (
            NOT_TEXT.to_string(),
            vec!["JavaSignatureTool: stack trace not in expected format".to_string()],
        );
    };
    let mut notes = Vec::new();
    let (class, description) = match first.split_once(':') {
        Some((class, description)) => (
            py::strip(class).to_string(),
            py::strip(&HEX_ADDRESS.replace_all(description, "@<addr>")).to_string(),
        ),
        None => {
            notes
                .push("JavaSignatureTool: stack trace line 1 is not in the expected format".into());
            (first.to_string(), String::new())
        }
    };
    let method = match lines.get(1) {
        Some(line) => {
            let method = LINE_NUMBER.replace(line, ".java)").into_owned();
            if method.is_empty() {
                notes.push("JavaSignatureTool: stack trace line 2 is empty".into());
            }
            method
        }
        None => {
            notes.push("JavaSignatureTool: stack trace line 2 is missing".into());
            String::new()
        }
    };
    let signature = if description.ends_with("<addr>") {
        join_non_empty(": ", &[&class, &description, &method])
    } else {
        let phrase = join_non_empty(" ", &[&description, &method]);
        join_non_empty(": ", &[&class, &phrase])
    };
    if signature.chars().count() > DESCRIPTION_MAX_LENGTH {
        notes.push("JavaSignatureTool: dropped Java exception description due to length".into());
        return (format!("{class}: {method}"), notes);
    }
    (signature, notes)
}

fn join_non_empty(separator: &str, parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(separator)
}

/// The signature of a structured Java exception, and siggen's notes.
pub(crate) fn from_exception(source: &Value) -> Result<(String, Vec<String>), PyErr> {
    let not_expected = || {
        (
            NOT_AN_EXCEPTION.to_string(),
            vec!["JavaExceptionSignatureTool: value not in expected format".to_string()],
        )
    };
    if !source.is_object() {
        return Ok(not_expected());
    }
    let Some(stacktrace) =
        glom(source, &["exception", "values", "0", "stacktrace"]).filter(|s| py::truthy(s))
    else {
        return Ok(not_expected());
    };
    let stacktrace = py::as_dict(stacktrace)?;
    let module = stacktrace
        .get("module")
        .map_or(Value::String(String::new()), Clone::clone);
    let kind = stacktrace
        .get("type")
        .map_or(Value::String("Unknown".into()), Clone::clone);
    let class = if py::truthy(&module) && py::truthy(&kind) {
        format!("{}.{}", py::to_str(&module), py::to_str(&kind))
    } else {
        py::to_str(&kind)
    };
    let frames = match py::get(stacktrace, "frames").filter(|f| py::truthy(f)) {
        Some(frames) => py::iterate(frames)?,
        None => Vec::new(),
    };
    let normalized = frames
        .iter()
        .map(|frame| exception_frame(frame))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match normalized.first() {
        Some(first) => (format!("{class}: at {first}"), Vec::new()),
        None => (class, Vec::new()),
    })
}

/// `<module>.<function>(<filename>)` of one frame, with what is missing left out.
fn exception_frame(frame: &Value) -> Result<String, PyErr> {
    let frame = py::as_dict(frame)?;
    let empty = Value::String(String::new());
    let module = frame.get("module").unwrap_or(&empty);
    let function = frame.get("function").unwrap_or(&empty);
    let signature = match (py::truthy(module), py::truthy(function)) {
        (true, true) => {
            // `".".join([module, function])` wants two strs.
            for (i, part) in [module, function].into_iter().enumerate() {
                if !part.is_string() {
                    return Err(PyErr::other(format!(
                        "sequence item {i}: expected str instance, {} found",
                        py::type_name(part)
                    )));
                }
            }
            Value::String(format!("{}.{}", py::to_str(module), py::to_str(function)))
        }
        (true, false) => module.clone(),
        (false, true) => function.clone(),
        (false, false) => empty.clone(),
    };
    let filename = frame.get("filename").unwrap_or(&empty);
    Ok(match (py::truthy(&signature), py::truthy(filename)) {
        (true, true) => format!("{}({})", py::to_str(&signature), py::to_str(filename)),
        (true, false) => py::to_str(&signature),
        _ => "unknown".to_string(),
    })
}
