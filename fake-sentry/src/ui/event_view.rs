//! An event payload shaped for display: exception chain, stack frames, threads, breadcrumbs,
//! tags, contexts, user, request and SDK. Reads whatever shape an SDK sent (objects or pair
//! lists, float or RFC 3339 times, legacy `exception` lists) and never fails: a field that is
//! not what the protocol says is shown as its JSON text or left out.

use serde_json::Value;

use super::text::{
    MAX_CELL_CHARS, MAX_FIELD_ROWS, pairs, str_at, text_at, timestamp_text, truncate, value_text,
};

/// Most frames shown per stack trace (a runaway recursion can send thousands).
const MAX_FRAMES: usize = 250;
/// Most breadcrumbs shown.
const MAX_BREADCRUMBS: usize = 500;
/// Most exceptions or threads shown.
const MAX_CHAIN: usize = 50;

/// One source line around a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextLine {
    pub lineno: String,
    pub text: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameView {
    pub function: String,
    pub module: String,
    /// `file:line:column`, whatever is known of it.
    pub location: String,
    pub in_app: bool,
    pub context: Vec<ContextLine>,
    pub vars: Vec<(String, String)>,
    pub extra: Vec<(String, String)>,
}

/// One stack trace, most recent call first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackView {
    pub frames: Vec<FrameView>,
    /// Frames left out beyond [`MAX_FRAMES`].
    pub omitted: usize,
    pub registers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionView {
    pub ty: String,
    pub value: String,
    pub module: String,
    pub mechanism: String,
    pub handled: String,
    pub stack: StackView,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThreadView {
    pub name: String,
    pub flags: String,
    pub stack: StackView,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreadcrumbView {
    pub time: String,
    pub category: String,
    pub level: String,
    pub kind: String,
    pub message: String,
    pub data: Vec<(String, String)>,
}

/// A titled table of key/value rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestView {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub data: String,
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SdkView {
    pub name: String,
    pub version: String,
    pub integrations: Vec<String>,
    pub packages: Vec<String>,
}

/// Everything the detail page shows of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventView {
    pub message: String,
    /// The chain with the raised exception first.
    pub exceptions: Vec<ExceptionView>,
    pub threads: Vec<ThreadView>,
    /// A top-level `stacktrace` (messages captured with `attach_stacktrace`).
    pub stacktrace: Option<StackView>,
    pub breadcrumbs: Vec<BreadcrumbView>,
    pub tags: Vec<(String, String)>,
    pub overview: Vec<(String, String)>,
    pub contexts: Vec<Section>,
    pub user: Vec<(String, String)>,
    pub request: Option<RequestView>,
    pub sdk: Option<SdkView>,
    pub extra: Vec<(String, String)>,
}

/// `values` of a `{"values": [...]}` container, or the list itself (older SDKs send bare lists).
fn values(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(list)) => list,
        Some(Value::Object(map)) => match map.get("values") {
            Some(Value::Array(list)) => list,
            _ => &[],
        },
        _ => &[],
    }
}

fn text_or_empty(value: &Value, key: &str) -> String {
    text_at(value, key).unwrap_or_default()
}

fn frame_view(frame: &Value) -> FrameView {
    let file = str_at(frame, "filename")
        .or_else(|| str_at(frame, "abs_path"))
        .map(|f| truncate(f, MAX_CELL_CHARS))
        .unwrap_or_default();
    let mut location = file;
    if let Some(line) = frame.get("lineno").filter(|v| !v.is_null()) {
        location.push(':');
        location.push_str(&value_text(line));
        if let Some(col) = frame.get("colno").filter(|v| !v.is_null()) {
            location.push(':');
            location.push_str(&value_text(col));
        }
    }
    let lineno = frame.get("lineno").and_then(Value::as_i64);
    let mut context = Vec::new();
    let lines = |key: &str| -> Vec<String> {
        frame
            .get(key)
            .and_then(Value::as_array)
            .map(|l| l.iter().take(50).map(value_text).collect())
            .unwrap_or_default()
    };
    let pre = lines("pre_context");
    let number = |offset: i64| lineno.map(|l| (l + offset).to_string()).unwrap_or_default();
    for (i, text) in pre.iter().enumerate() {
        context.push(ContextLine {
            lineno: number(i as i64 - pre.len() as i64),
            text: text.clone(),
            current: false,
        });
    }
    if let Some(line) = str_at(frame, "context_line") {
        context.push(ContextLine {
            lineno: number(0),
            text: truncate(line, MAX_CELL_CHARS),
            current: true,
        });
    }
    for (i, text) in lines("post_context").into_iter().enumerate() {
        context.push(ContextLine {
            lineno: number(i as i64 + 1),
            text,
            current: false,
        });
    }
    let extra = [
        "package",
        "instruction_addr",
        "symbol_addr",
        "image_addr",
        "platform",
    ]
    .into_iter()
    .filter_map(|k| text_at(frame, k).map(|v| (k.to_string(), v)))
    .collect();
    FrameView {
        function: str_at(frame, "function")
            .or_else(|| str_at(frame, "symbol"))
            .map(|f| truncate(f, MAX_CELL_CHARS))
            .unwrap_or_else(|| "<unknown>".into()),
        module: text_or_empty(frame, "module"),
        location,
        in_app: frame
            .get("in_app")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        context,
        vars: frame.get("vars").map(pairs).unwrap_or_default(),
        extra,
    }
}

/// A stack trace object (`{"frames": [...]}`), most recent call first.
pub fn stack_view(stacktrace: Option<&Value>) -> StackView {
    let Some(stacktrace) = stacktrace else {
        return StackView::default();
    };
    let frames = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    StackView {
        // The protocol lists frames oldest first; people read the crash site first.
        frames: frames
            .iter()
            .rev()
            .take(MAX_FRAMES)
            .map(frame_view)
            .collect(),
        omitted: frames.len().saturating_sub(MAX_FRAMES),
        registers: stacktrace.get("registers").map(pairs).unwrap_or_default(),
    }
}

fn exception_view(exception: &Value) -> ExceptionView {
    let mechanism = exception.get("mechanism");
    ExceptionView {
        ty: text_or_empty(exception, "type"),
        value: text_or_empty(exception, "value"),
        module: text_or_empty(exception, "module"),
        mechanism: mechanism
            .and_then(|m| text_at(m, "type"))
            .unwrap_or_default(),
        handled: match mechanism.and_then(|m| m.get("handled")) {
            Some(Value::Bool(true)) => "handled".into(),
            Some(Value::Bool(false)) => "unhandled".into(),
            _ => String::new(),
        },
        stack: stack_view(exception.get("stacktrace")),
    }
}

fn thread_view(thread: &Value) -> ThreadView {
    let mut flags = Vec::new();
    for flag in ["crashed", "current", "main"] {
        if thread.get(flag).and_then(Value::as_bool) == Some(true) {
            flags.push(flag);
        }
    }
    let id = text_or_empty(thread, "id");
    let name = match text_at(thread, "name") {
        Some(name) if id.is_empty() => name,
        Some(name) => format!("{name} (id {id})"),
        None => format!("thread {id}"),
    };
    ThreadView {
        name,
        flags: flags.join(", "),
        stack: stack_view(thread.get("stacktrace")),
    }
}

fn breadcrumb_view(crumb: &Value) -> BreadcrumbView {
    BreadcrumbView {
        time: crumb
            .get("timestamp")
            .map(timestamp_text)
            .unwrap_or_default(),
        category: text_or_empty(crumb, "category"),
        level: text_or_empty(crumb, "level"),
        kind: text_or_empty(crumb, "type"),
        message: text_or_empty(crumb, "message"),
        data: crumb.get("data").map(pairs).unwrap_or_default(),
    }
}

/// A query string given as text, pairs or an object, as rows.
fn query_rows(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::String(text) => text
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .take(MAX_FIELD_ROWS)
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (truncate(k, MAX_CELL_CHARS), truncate(v, MAX_CELL_CHARS))
            })
            .collect(),
        other => pairs(other),
    }
}

/// Cookies given as a `Cookie:` header text, pairs or an object, as rows.
fn cookie_rows(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::String(text) => text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .take(MAX_FIELD_ROWS)
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (truncate(k, MAX_CELL_CHARS), truncate(v, MAX_CELL_CHARS))
            })
            .collect(),
        other => pairs(other),
    }
}

fn request_view(request: &Value) -> RequestView {
    RequestView {
        method: text_or_empty(request, "method"),
        url: text_or_empty(request, "url"),
        query: request
            .get("query_string")
            .map(query_rows)
            .unwrap_or_default(),
        headers: request.get("headers").map(pairs).unwrap_or_default(),
        cookies: request.get("cookies").map(cookie_rows).unwrap_or_default(),
        data: request
            .get("data")
            .filter(|d| !d.is_null())
            .map(value_text)
            .unwrap_or_default(),
        env: request.get("env").map(pairs).unwrap_or_default(),
    }
}

fn sdk_view(sdk: &Value) -> SdkView {
    SdkView {
        name: text_or_empty(sdk, "name"),
        version: text_or_empty(sdk, "version"),
        integrations: sdk
            .get("integrations")
            .and_then(Value::as_array)
            .map(|l| l.iter().take(MAX_FIELD_ROWS).map(value_text).collect())
            .unwrap_or_default(),
        packages: sdk
            .get("packages")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .take(MAX_FIELD_ROWS)
                    .map(|p| match (str_at(p, "name"), str_at(p, "version")) {
                        (Some(n), Some(v)) => truncate(&format!("{n} {v}"), MAX_CELL_CHARS),
                        _ => value_text(p),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The message of an event: `logentry`/`message` (object or string forms).
fn message_text(event: &Value) -> String {
    for key in ["logentry", "message"] {
        match event.get(key) {
            Some(Value::String(s)) => return truncate(s, MAX_CELL_CHARS),
            Some(obj @ Value::Object(_)) => {
                if let Some(text) = str_at(obj, "formatted").or_else(|| str_at(obj, "message")) {
                    return truncate(text, MAX_CELL_CHARS);
                }
            }
            _ => {}
        }
    }
    String::new()
}

/// Shapes an event (or transaction, or feedback) payload for display.
pub fn event_view(event: &Value) -> EventView {
    let mut exceptions: Vec<ExceptionView> = values(event.get("exception"))
        .iter()
        .take(MAX_CHAIN)
        .map(exception_view)
        .collect();
    // The protocol lists the chain oldest first; the raised exception is the last one.
    exceptions.reverse();
    let overview = [
        "event_id",
        "timestamp",
        "level",
        "platform",
        "logger",
        "transaction",
        "server_name",
        "release",
        "dist",
        "environment",
        "fingerprint",
        "modules",
    ]
    .into_iter()
    .filter_map(|key| {
        let value = event.get(key).filter(|v| !v.is_null())?;
        let text = if key == "timestamp" {
            timestamp_text(value)
        } else {
            value_text(value)
        };
        Some((key.to_string(), text))
    })
    .collect();
    let contexts = match event.get("contexts") {
        Some(Value::Object(map)) => map
            .iter()
            .take(MAX_FIELD_ROWS)
            .map(|(name, ctx)| Section {
                title: truncate(name, MAX_CELL_CHARS),
                rows: match ctx {
                    Value::Object(_) => pairs(ctx),
                    other => vec![(String::new(), value_text(other))],
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    EventView {
        message: message_text(event),
        exceptions,
        threads: values(event.get("threads"))
            .iter()
            .take(MAX_CHAIN)
            .map(thread_view)
            .collect(),
        stacktrace: event
            .get("stacktrace")
            .filter(|s| s.is_object())
            .map(|s| stack_view(Some(s))),
        breadcrumbs: values(event.get("breadcrumbs"))
            .iter()
            .take(MAX_BREADCRUMBS)
            .map(breadcrumb_view)
            .collect(),
        tags: event.get("tags").map(pairs).unwrap_or_default(),
        overview,
        contexts,
        user: event.get("user").map(pairs).unwrap_or_default(),
        request: event
            .get("request")
            .filter(|r| r.is_object())
            .map(request_view),
        sdk: event.get("sdk").filter(|s| s.is_object()).map(sdk_view),
        extra: event.get("extra").map(pairs).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_and_frames_read_most_recent_first() {
        let event = json!({"exception": {"values": [
            {"type": "KeyError", "value": "'a'"},
            {"type": "ValueError", "value": "bad", "mechanism": {"type": "generic", "handled": false},
             "stacktrace": {"frames": [
                {"function": "main", "filename": "app.py", "lineno": 3, "in_app": true},
                {"function": "inner", "filename": "lib.py", "lineno": 10,
                 "pre_context": ["a", "b"], "context_line": "c", "post_context": ["d"],
                 "vars": {"x": 1, "s": "<b>"}}
             ]}}
        ]}});
        let view = event_view(&event);
        assert_eq!(view.exceptions[0].ty, "ValueError");
        assert_eq!(view.exceptions[0].handled, "unhandled");
        assert_eq!(view.exceptions[1].ty, "KeyError");
        let frames = &view.exceptions[0].stack.frames;
        assert_eq!(frames[0].function, "inner");
        assert_eq!(frames[0].location, "lib.py:10");
        assert_eq!(
            frames[0]
                .context
                .iter()
                .map(|l| l.lineno.as_str())
                .collect::<Vec<_>>(),
            ["8", "9", "10", "11"]
        );
        assert!(frames[0].context[2].current);
        assert_eq!(
            frames[0].vars,
            vec![("s".into(), "<b>".into()), ("x".into(), "1".into())]
        );
        assert!(frames[1].in_app);
    }

    #[test]
    fn odd_shapes_do_not_fail() {
        let view = event_view(&json!({
            "exception": [{"type": 5}], "breadcrumbs": "nope", "tags": [["a", "b"], 3],
            "request": {"query_string": "a=1&b", "cookies": "x=1; y=2"}, "message": "hi"
        }));
        assert_eq!(view.exceptions[0].ty, "5");
        assert!(view.breadcrumbs.is_empty());
        assert_eq!(view.tags, vec![("a".into(), "b".into())]);
        let request = view.request.expect("request");
        assert_eq!(
            request.query,
            vec![("a".into(), "1".into()), ("b".into(), "".into())]
        );
        assert_eq!(request.cookies.len(), 2);
        assert_eq!(view.message, "hi");
        assert_eq!(event_view(&json!("not an object")), EventView::default());
    }
}
