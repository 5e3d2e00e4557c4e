//! `harness diff`: frame-by-frame comparison of two processed crashes, the way socc-pair
//! compares Socorro's result with a local minidump-stackwalk run.
//!
//! Both sides may be minidump-stackwalk JSON or a Socorro processed crash (`json_dump` inside).
//! The crash header, the modules (matched by file name) and every thread's frames are
//! compared on the fields a stackwalker upgrade can change; addresses are compared as numbers
//! so `0x00001000` equals `0x1000`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// JSON-pointer-like location, e.g. `threads[0].frames[3].function`.
    pub path: String,
    pub left: String,
    pub right: String,
}

/// The outcome of comparing two processed crashes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashDiff {
    pub differences: Vec<Difference>,
    /// Frames compared over all threads.
    pub frames_compared: usize,
    /// The crashing thread, side by side, one line per frame (for the terminal).
    pub crashing_thread: Vec<FramePair>,
}

/// One frame of the crashing thread on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FramePair {
    pub index: usize,
    pub left: String,
    pub right: String,
    pub same: bool,
}

impl CrashDiff {
    pub fn is_same(&self) -> bool {
        self.differences.is_empty()
    }

    /// A socc-pair-style text rendering: the crashing thread side by side, then every
    /// difference.
    pub fn render(&self, left_name: &str, right_name: &str) -> String {
        let mut out = String::new();
        let width = self
            .crashing_thread
            .iter()
            .map(|f| f.left.chars().count())
            .chain([left_name.len()])
            .max()
            .unwrap_or(0)
            .min(70);
        let _ = writeln!(out, "crashing thread:");
        let _ = writeln!(out, "     {left_name:<width$}   {right_name}");
        for frame in &self.crashing_thread {
            let mark = if frame.same { ' ' } else { '!' };
            let _ = writeln!(
                out,
                "{mark}{:>3} {:<width$}   {}",
                frame.index, frame.left, frame.right
            );
        }
        if self.is_same() {
            let _ = writeln!(
                out,
                "\nno differences ({} frames compared)",
                self.frames_compared
            );
        } else {
            let _ = writeln!(
                out,
                "\n{} differences ({} frames compared):",
                self.differences.len(),
                self.frames_compared
            );
            for d in &self.differences {
                let _ = writeln!(out, "  {}\n    - {}\n    + {}", d.path, d.left, d.right);
            }
        }
        out
    }
}

const HEADER_FIELDS: &[&str] = &[
    "/status",
    "/pid",
    "/crash_info/type",
    "/crash_info/address",
    "/crash_info/crashing_thread",
    "/system_info/os",
    "/system_info/cpu_arch",
    "/thread_count",
];
const MODULE_FIELDS: &[&str] = &[
    "debug_file",
    "debug_id",
    "code_id",
    "base_addr",
    "end_addr",
    "loaded_symbols",
    "missing_symbols",
    "corrupt_symbols",
];
const FRAME_FIELDS: &[&str] = &[
    "function",
    "function_offset",
    "file",
    "line",
    "module",
    "module_offset",
    "offset",
    "trust",
    "missing_symbols",
];

/// Compares two processed crashes.
pub fn compare(left: &Value, right: &Value) -> CrashDiff {
    let left = left.get("json_dump").unwrap_or(left);
    let right = right.get("json_dump").unwrap_or(right);
    let mut diff = CrashDiff::default();
    for pointer in HEADER_FIELDS {
        field(
            &mut diff,
            &pointer[1..].replace('/', "."),
            left.pointer(pointer),
            right.pointer(pointer),
        );
    }
    compare_modules(&mut diff, left, right);
    let threads = |v: &Value| {
        v.get("threads")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (lt, rt) = (threads(left), threads(right));
    for i in 0..lt.len().max(rt.len()) {
        compare_thread(&mut diff, i, lt.get(i), rt.get(i));
    }
    let crashing = left
        .pointer("/crash_info/crashing_thread")
        .or_else(|| right.pointer("/crash_info/crashing_thread"))
        .and_then(Value::as_u64);
    if let Some(index) = crashing {
        let frames = |t: Option<&Value>| {
            t.and_then(|t| t.get("frames"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (lf, rf) = (
            frames(lt.get(index as usize)),
            frames(rt.get(index as usize)),
        );
        for i in 0..lf.len().max(rf.len()) {
            let l = lf.get(i).map(describe_frame).unwrap_or_default();
            let r = rf.get(i).map(describe_frame).unwrap_or_default();
            let same = lf.get(i).zip(rf.get(i)).is_some_and(|(a, b)| {
                FRAME_FIELDS
                    .iter()
                    .all(|k| same_value(a.get(*k), b.get(*k)))
                    && same_value(a.get("inlines"), b.get("inlines"))
            });
            diff.crashing_thread.push(FramePair {
                index: i,
                left: l,
                right: r,
                same,
            });
        }
    }
    diff
}

fn compare_modules(diff: &mut CrashDiff, left: &Value, right: &Value) {
    let modules = |v: &Value| -> Vec<(String, Value)> {
        v.get("modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|m| (text_of(m.get("filename")), m.clone()))
            .collect()
    };
    let (lm, rm) = (modules(left), modules(right));
    for (name, l) in &lm {
        let r = rm.iter().find(|(n, _)| n == name).map(|(_, m)| m);
        match r {
            None => push(diff, format!("modules[{name}]"), "present", "absent"),
            Some(r) => {
                for key in MODULE_FIELDS {
                    field(
                        diff,
                        &format!("modules[{name}].{key}"),
                        l.get(*key),
                        r.get(*key),
                    );
                }
            }
        }
    }
    for (name, _) in &rm {
        if !lm.iter().any(|(n, _)| n == name) {
            push(diff, format!("modules[{name}]"), "absent", "present");
        }
    }
}

fn compare_thread(diff: &mut CrashDiff, index: usize, left: Option<&Value>, right: Option<&Value>) {
    let (Some(left), Some(right)) = (left, right) else {
        push(
            diff,
            format!("threads[{index}]"),
            if left.is_some() { "present" } else { "absent" },
            if right.is_some() { "present" } else { "absent" },
        );
        return;
    };
    field(
        diff,
        &format!("threads[{index}].thread_name"),
        left.get("thread_name"),
        right.get("thread_name"),
    );
    let frames = |t: &Value| {
        t.get("frames")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (lf, rf) = (frames(left), frames(right));
    if lf.len() != rf.len() {
        push(
            diff,
            format!("threads[{index}].frame_count"),
            lf.len().to_string(),
            rf.len().to_string(),
        );
    }
    for (i, (l, r)) in lf.iter().zip(&rf).enumerate() {
        diff.frames_compared += 1;
        for key in FRAME_FIELDS {
            field(
                diff,
                &format!("threads[{index}].frames[{i}].{key}"),
                l.get(*key),
                r.get(*key),
            );
        }
        field(
            diff,
            &format!("threads[{index}].frames[{i}].inlines"),
            l.get("inlines"),
            r.get("inlines"),
        );
    }
}

/// `function (file:line)` or the best fallback, for the side-by-side listing.
pub fn describe_frame(frame: &Value) -> String {
    let get = |k: &str| {
        frame
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let mut text = match (get("function"), get("module")) {
        (Some(f), _) => f.to_string(),
        (None, Some(m)) => format!("{m} + {}", get("module_offset").unwrap_or("?")),
        (None, None) => get("offset").unwrap_or("??").to_string(),
    };
    if let (Some(file), Some(line)) = (get("file"), frame.get("line").and_then(Value::as_u64)) {
        let leaf = file.rsplit(['/', '\\']).next().unwrap_or(file);
        let _ = write!(text, " ({leaf}:{line})");
    }
    let inlines = frame
        .get("inlines")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if inlines > 0 {
        let _ = write!(text, " [+{inlines} inlined]");
    }
    text
}

fn field(diff: &mut CrashDiff, path: &str, left: Option<&Value>, right: Option<&Value>) {
    if !same_value(left, right) {
        push(diff, path.to_string(), text_of(left), text_of(right));
    }
}

fn push(diff: &mut CrashDiff, path: String, left: impl Into<String>, right: impl Into<String>) {
    diff.differences.push(Difference {
        path,
        left: left.into(),
        right: right.into(),
    });
}

/// Equal as JSON, with hex strings compared by value and a missing field equal to `null`.
fn same_value(left: Option<&Value>, right: Option<&Value>) -> bool {
    let l = left.unwrap_or(&Value::Null);
    let r = right.unwrap_or(&Value::Null);
    if l == r {
        return true;
    }
    match (l, r) {
        (Value::String(a), Value::String(b)) => match (parse_hex(a), parse_hex(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(Some(x), Some(y)))
        }
        (Value::Object(a), Value::Object(b)) => a
            .keys()
            .chain(b.keys())
            .all(|k| same_value(a.get(k), b.get(k))),
        _ => false,
    }
}

fn parse_hex(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    u64::from_str_radix(digits, 16).ok()
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn processed(function: &str, line: u64) -> Value {
        json!({
            "status": "OK",
            "crash_info": {"type": "SIGSEGV", "address": "0x0000000000000010", "crashing_thread": 0},
            "system_info": {"os": "Linux", "cpu_arch": "amd64"},
            "modules": [{"filename": "libfoo.so", "debug_id": "ABC0", "loaded_symbols": true}],
            "threads": [{"frames": [
                {"function": function, "file": "foo.c", "line": line, "module": "libfoo.so",
                 "module_offset": "0x1000", "trust": "context"},
                {"function": "main", "module": "app", "trust": "cfi"}
            ]}]
        })
    }

    #[test]
    fn identical_crashes_have_no_differences() {
        let diff = compare(&processed("foo", 3), &processed("foo", 3));
        assert!(diff.is_same(), "{diff:?}");
        assert_eq!(diff.frames_compared, 2);
        assert!(diff.crashing_thread.iter().all(|f| f.same));
    }

    #[test]
    fn hex_spelling_does_not_matter_but_values_do() {
        let mut right = processed("foo", 3);
        right["crash_info"]["address"] = json!("0x10");
        assert!(compare(&processed("foo", 3), &right).is_same());
        right["crash_info"]["address"] = json!("0x11");
        let diff = compare(&processed("foo", 3), &right);
        assert_eq!(diff.differences[0].path, "crash_info.address");
    }

    #[test]
    fn frame_differences_name_the_frame_and_field() {
        let diff = compare(&processed("foo", 3), &processed("bar", 4));
        let paths: Vec<&str> = diff.differences.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["threads[0].frames[0].function", "threads[0].frames[0].line"]
        );
        assert!(!diff.crashing_thread[0].same);
        let text = diff.render("left.json", "right.json");
        assert!(text.contains("!  0 foo (foo.c:3)"), "{text}");
        assert!(text.contains("- foo\n    + bar"), "{text}");
    }

    #[test]
    fn socorro_wrapper_and_missing_modules() {
        let left = json!({"json_dump": processed("foo", 3)});
        let mut right = processed("foo", 3);
        right["modules"] = json!([]);
        let diff = compare(&left, &right);
        assert_eq!(diff.differences.len(), 1);
        assert_eq!(diff.differences[0].path, "modules[libfoo.so]");
    }
}
