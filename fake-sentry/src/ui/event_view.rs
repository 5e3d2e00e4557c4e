//! An event payload shaped for display: exception chain, stack frames, threads, breadcrumbs,
//! tags, contexts, user, request and SDK. Reads whatever shape an SDK sent (objects or pair
//! lists, float or RFC 3339 times, legacy `exception` lists) and never fails: a field that is
//! not what the protocol says is shown as its JSON text or left out.

use serde_json::Value;

use super::limits::UiLimits;
use super::text::str_at;

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
    /// Frames left out beyond [`UiLimits::frames`].
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
    /// The oldest causes of a chain longer than [`UiLimits::chain`], left out.
    pub exceptions_omitted: usize,
    pub threads: Vec<ThreadView>,
    /// Threads beyond [`UiLimits::chain`], left out.
    pub threads_omitted: usize,
    /// A top-level `stacktrace` (messages captured with `attach_stacktrace`).
    pub stacktrace: Option<StackView>,
    /// The newest breadcrumbs, oldest first.
    pub breadcrumbs: Vec<BreadcrumbView>,
    /// The oldest breadcrumbs beyond [`UiLimits::breadcrumbs`], left out.
    pub breadcrumbs_omitted: usize,
    pub tags: Vec<(String, String)>,
    pub overview: Vec<(String, String)>,
    pub contexts: Vec<Section>,
    pub user: Vec<(String, String)>,
    pub request: Option<RequestView>,
    pub sdk: Option<SdkView>,
    pub extra: Vec<(String, String)>,
}

/// `values` of a `{"values": [...]}` container, or the list itself (older SDKs send bare lists).
pub(super) fn values(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(list)) => list,
        Some(Value::Object(map)) => match map.get("values") {
            Some(Value::Array(list)) => list,
            _ => &[],
        },
        _ => &[],
    }
}

fn text_or_empty(l: &UiLimits, value: &Value, key: &str) -> String {
    l.text_at(value, key).unwrap_or_default()
}

fn frame_view(l: &UiLimits, frame: &Value) -> FrameView {
    let file = str_at(frame, "filename")
        .or_else(|| str_at(frame, "abs_path"))
        .map(|f| l.cell(f))
        .unwrap_or_default();
    let mut location = file;
    if let Some(line) = frame.get("lineno").filter(|v| !v.is_null()) {
        location.push(':');
        location.push_str(&l.value_text(line));
        if let Some(col) = frame.get("colno").filter(|v| !v.is_null()) {
            location.push(':');
            location.push_str(&l.value_text(col));
        }
    }
    let lineno = frame.get("lineno").and_then(Value::as_i64);
    let mut context = Vec::new();
    // The lines nearest the frame's own line are kept: the end of `pre_context`, the start of
    // `post_context`.
    let lines = |key: &str| -> Vec<String> {
        let list = frame
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let list = if key == "pre_context" {
            &list[list.len().saturating_sub(l.context_lines)..]
        } else {
            &list[..list.len().min(l.context_lines)]
        };
        list.iter().map(|v| l.value_text(v)).collect()
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
            text: l.cell(line),
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
    .filter_map(|k| l.text_at(frame, k).map(|v| (k.to_string(), v)))
    .collect();
    FrameView {
        function: str_at(frame, "function")
            .or_else(|| str_at(frame, "symbol"))
            .map(|f| l.cell(f))
            .unwrap_or_else(|| "<unknown>".into()),
        module: text_or_empty(l, frame, "module"),
        location,
        in_app: frame
            .get("in_app")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        context,
        vars: frame.get("vars").map(|v| l.pairs(v)).unwrap_or_default(),
        extra,
    }
}

/// A stack trace object (`{"frames": [...]}`), most recent call first.
pub fn stack_view(l: &UiLimits, stacktrace: Option<&Value>) -> StackView {
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
            .take(l.frames)
            .map(|v| frame_view(l, v))
            .collect(),
        omitted: frames.len().saturating_sub(l.frames),
        registers: stacktrace
            .get("registers")
            .map(|v| l.pairs(v))
            .unwrap_or_default(),
    }
}

fn exception_view(l: &UiLimits, exception: &Value) -> ExceptionView {
    let mechanism = exception.get("mechanism");
    ExceptionView {
        ty: text_or_empty(l, exception, "type"),
        value: text_or_empty(l, exception, "value"),
        module: text_or_empty(l, exception, "module"),
        mechanism: mechanism
            .and_then(|m| l.text_at(m, "type"))
            .unwrap_or_default(),
        handled: match mechanism.and_then(|m| m.get("handled")) {
            Some(Value::Bool(true)) => "handled".into(),
            Some(Value::Bool(false)) => "unhandled".into(),
            _ => String::new(),
        },
        stack: stack_view(l, exception.get("stacktrace")),
    }
}

fn thread_view(l: &UiLimits, thread: &Value) -> ThreadView {
    let mut flags = Vec::new();
    for flag in ["crashed", "current", "main"] {
        if thread.get(flag).and_then(Value::as_bool) == Some(true) {
            flags.push(flag);
        }
    }
    let id = text_or_empty(l, thread, "id");
    let name = match l.text_at(thread, "name") {
        Some(name) if id.is_empty() => name,
        Some(name) => format!("{name} (id {id})"),
        None => format!("thread {id}"),
    };
    ThreadView {
        name,
        flags: flags.join(", "),
        stack: stack_view(l, thread.get("stacktrace")),
    }
}

fn breadcrumb_view(l: &UiLimits, crumb: &Value) -> BreadcrumbView {
    BreadcrumbView {
        time: crumb
            .get("timestamp")
            .map(|v| l.timestamp_text(v))
            .unwrap_or_default(),
        category: text_or_empty(l, crumb, "category"),
        level: text_or_empty(l, crumb, "level"),
        kind: text_or_empty(l, crumb, "type"),
        message: text_or_empty(l, crumb, "message"),
        data: crumb.get("data").map(|v| l.pairs(v)).unwrap_or_default(),
    }
}

/// A query string given as text, pairs or an object, as rows.
fn query_rows(l: &UiLimits, value: &Value) -> Vec<(String, String)> {
    match value {
        Value::String(text) => text
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .take(l.field_rows)
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (l.cell(k), l.cell(v))
            })
            .collect(),
        other => l.pairs(other),
    }
}

/// Cookies given as a `Cookie:` header text, pairs or an object, as rows.
fn cookie_rows(l: &UiLimits, value: &Value) -> Vec<(String, String)> {
    match value {
        Value::String(text) => text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .take(l.field_rows)
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (l.cell(k), l.cell(v))
            })
            .collect(),
        other => l.pairs(other),
    }
}

fn request_view(l: &UiLimits, request: &Value) -> RequestView {
    RequestView {
        method: text_or_empty(l, request, "method"),
        url: text_or_empty(l, request, "url"),
        query: request
            .get("query_string")
            .map(|v| query_rows(l, v))
            .unwrap_or_default(),
        headers: request
            .get("headers")
            .map(|v| l.pairs(v))
            .unwrap_or_default(),
        cookies: request
            .get("cookies")
            .map(|v| cookie_rows(l, v))
            .unwrap_or_default(),
        data: request
            .get("data")
            .filter(|d| !d.is_null())
            .map(|v| l.value_text(v))
            .unwrap_or_default(),
        env: request.get("env").map(|v| l.pairs(v)).unwrap_or_default(),
    }
}

fn sdk_view(l: &UiLimits, sdk: &Value) -> SdkView {
    SdkView {
        name: text_or_empty(l, sdk, "name"),
        version: text_or_empty(l, sdk, "version"),
        integrations: sdk
            .get("integrations")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .take(l.field_rows)
                    .map(|v| l.value_text(v))
                    .collect()
            })
            .unwrap_or_default(),
        packages: sdk
            .get("packages")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .take(l.field_rows)
                    .map(|p| match (str_at(p, "name"), str_at(p, "version")) {
                        (Some(n), Some(v)) => l.cell(&format!("{n} {v}")),
                        _ => l.value_text(p),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The message of an event: `logentry`/`message` (object or string forms).
fn message_text(l: &UiLimits, event: &Value) -> String {
    for key in ["logentry", "message"] {
        match event.get(key) {
            Some(Value::String(s)) => return l.cell(s),
            Some(obj @ Value::Object(_)) => {
                if let Some(text) = str_at(obj, "formatted").or_else(|| str_at(obj, "message")) {
                    return l.cell(text);
                }
            }
            _ => {}
        }
    }
    String::new()
}

/// Shapes an event (or transaction, or feedback) payload for display.
pub fn event_view(l: &UiLimits, event: &Value) -> EventView {
    // The protocol lists the chain oldest first; the raised exception is the last one, and
    // the one to keep when the chain is cut.
    let chain = values(event.get("exception"));
    let exceptions: Vec<ExceptionView> = chain
        .iter()
        .rev()
        .take(l.chain)
        .map(|v| exception_view(l, v))
        .collect();
    let threads = values(event.get("threads"));
    // Breadcrumbs too are oldest first, and the last ones lead up to the event.
    let crumbs = values(event.get("breadcrumbs"));
    let crumbs_omitted = crumbs.len().saturating_sub(l.breadcrumbs);
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
            l.timestamp_text(value)
        } else {
            l.value_text(value)
        };
        Some((key.to_string(), text))
    })
    .collect();
    let contexts = match event.get("contexts") {
        Some(Value::Object(map)) => map
            .iter()
            .take(l.field_rows)
            .map(|(name, ctx)| Section {
                title: l.cell(name),
                rows: match ctx {
                    Value::Object(_) => l.pairs(ctx),
                    other => vec![(String::new(), l.value_text(other))],
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    EventView {
        message: message_text(l, event),
        exceptions,
        exceptions_omitted: chain.len().saturating_sub(l.chain),
        threads: threads
            .iter()
            .take(l.chain)
            .map(|v| thread_view(l, v))
            .collect(),
        threads_omitted: threads.len().saturating_sub(l.chain),
        stacktrace: event
            .get("stacktrace")
            .filter(|s| s.is_object())
            .map(|s| stack_view(l, Some(s))),
        breadcrumbs: crumbs[crumbs_omitted..]
            .iter()
            .map(|v| breadcrumb_view(l, v))
            .collect(),
        breadcrumbs_omitted: crumbs_omitted,
        tags: event.get("tags").map(|v| l.pairs(v)).unwrap_or_default(),
        overview,
        contexts,
        user: event.get("user").map(|v| l.pairs(v)).unwrap_or_default(),
        request: event
            .get("request")
            .filter(|r| r.is_object())
            .map(|v| request_view(l, v)),
        sdk: event
            .get("sdk")
            .filter(|s| s.is_object())
            .map(|v| sdk_view(l, v)),
        extra: event.get("extra").map(|v| l.pairs(v)).unwrap_or_default(),
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
        let view = event_view(&UiLimits::default(), &event);
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
        let view = event_view(
            &UiLimits::default(),
            &json!({
                "exception": [{"type": 5}], "breadcrumbs": "nope", "tags": [["a", "b"], 3],
                "request": {"query_string": "a=1&b", "cookies": "x=1; y=2"}, "message": "hi"
            }),
        );
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
        assert_eq!(
            event_view(&UiLimits::default(), &json!("not an object")),
            EventView::default()
        );
    }

    #[test]
    fn what_is_shown_follows_the_limits() {
        let frames: Vec<Value> = (0..10)
            .map(|i| json!({"function": format!("f{i}"), "pre_context": ["a", "b", "c"]}))
            .collect();
        let exceptions: Vec<Value> = (0..5)
            .map(|i| json!({"type": format!("E{i}"), "stacktrace": {"frames": frames}}))
            .collect();
        let crumbs: Vec<Value> = (0..9).map(|i| json!({"message": i})).collect();
        let event = json!({"exception": {"values": exceptions}, "breadcrumbs": crumbs,
                           "tags": {"a": "1", "b": "2", "c": "3"}, "message": "abcdef"});
        let limits = UiLimits {
            frames: 4,
            context_lines: 2,
            chain: 3,
            breadcrumbs: 7,
            field_rows: 2,
            cell_chars: 4,
            ..UiLimits::default()
        };
        let view = event_view(&limits, &event);
        // The raised exception and its nearest causes are kept, most recent first.
        assert_eq!(
            view.exceptions
                .iter()
                .map(|e| e.ty.as_str())
                .collect::<Vec<_>>(),
            ["E4", "E3", "E2"]
        );
        assert_eq!(view.exceptions_omitted, 2);
        let stack = &view.exceptions[0].stack;
        assert_eq!(stack.frames.len(), 4);
        assert_eq!(stack.omitted, 6);
        assert_eq!(stack.frames[0].function, "f9");
        // The two lines just before the frame's line (it has none of its own here).
        let context: Vec<&str> = stack.frames[0]
            .context
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(context, ["b", "c"]);
        // The newest breadcrumbs, still oldest first.
        assert_eq!(view.breadcrumbs.len(), 7);
        assert_eq!(view.breadcrumbs_omitted, 2);
        assert_eq!(
            (
                view.breadcrumbs[0].message.as_str(),
                view.breadcrumbs[6].message.as_str()
            ),
            ("2", "8")
        );
        assert_eq!(view.tags.len(), 2);
        assert_eq!(view.message, "abcd…");
        let all = event_view(&UiLimits::default(), &event);
        assert_eq!(
            (all.exceptions.len(), all.exceptions[0].stack.frames.len()),
            (5, 10)
        );
        assert_eq!((all.breadcrumbs.len(), all.tags.len()), (9, 3));
    }
}
