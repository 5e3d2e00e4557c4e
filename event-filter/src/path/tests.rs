use super::selector::{is_headers, pair_name};
use super::*;

use proptest::prelude::*;
use serde_json::json;

fn sel(text: &str) -> PathSelector {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn perr(text: &str) -> (String, usize) {
    match text.parse::<PathSelector>() {
        Ok(s) => panic!("{text:?} should not parse, got {:?}", s.segments()),
        Err(e) => (e.message, e.column),
    }
}

fn key(k: &str) -> PathElem {
    PathElem::Key(k.to_owned())
}

fn visited(selector: &PathSelector, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    selector.for_each_match_ref(doc, &mut |p, _| out.push(p.to_string()));
    out
}

fn visited_paths(selector: &PathSelector, doc: &Value) -> Vec<JsonPath> {
    let mut out = Vec::new();
    selector.for_each_match_ref(doc, &mut |p, _| out.push(p.clone()));
    out
}

fn all_paths(doc: &Value) -> Vec<JsonPath> {
    let mut out = Vec::new();
    walk(doc, &mut |p, _| out.push(p.clone()));
    out
}

/// `v` with every object's keys inserted in sorted order, so that expectations written in
/// sorted order hold whether or not serde_json's `preserve_order` is on in the build.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A Python-SDK-style error event (about 2 KB), headers as an object.
fn event() -> Value {
    sorted(json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "level": "error",
        "platform": "python",
        "timestamp": "2024-05-01T12:00:00.000000Z",
        "server_name": "socorro-processor-1",
        "release": "2024.05.01",
        "environment": "prod",
        "exception": {"values": [
            {
                "type": "ZeroDivisionError",
                "value": "division by zero",
                "mechanism": {"type": "generic", "handled": false},
                "stacktrace": {"frames": [
                    {
                        "filename": "socorro/processor/app.py",
                        "function": "process_crash",
                        "lineno": 120,
                        "in_app": true,
                        "vars": {
                            "crash_id": "'de1bb258-cbbf-4589-a673-34f800160918'",
                            "password": "'hunter2'",
                            "username": "'admin'"
                        }
                    },
                    {
                        "filename": "socorro/lib/util.py",
                        "function": "divide",
                        "lineno": 7,
                        "in_app": true,
                        "vars": {"a": "1", "b": "0", "Password": "'other'"}
                    }
                ]}
            },
            {
                "type": "ValueError",
                "value": "bad value",
                "stacktrace": {"frames": [
                    {"function": "outer", "vars": {"password": "'p2'", "self": {"password": "'nested'"}}}
                ]}
            }
        ]},
        "breadcrumbs": {"values": [
            {"type": "http", "category": "httplib", "data": {"url": "https://example.com/?token=abc", "method": "GET", "status_code": 200}},
            {"type": "default", "category": "query", "message": "SELECT 1", "data": {"db.system": "postgresql"}},
            {"type": "log", "category": "app", "message": "starting", "level": "info"}
        ]},
        "request": {
            "url": "https://crash-stats.example.com/api/",
            "method": "POST",
            "query_string": "token=abc&x=1",
            "cookies": {"sessionid": "s3cr3t", "csrftoken": "tok"},
            "headers": {
                "Authorization": "Bearer abcdef",
                "User-Agent": "curl/8.0",
                "X-Forwarded-For": "10.0.0.1",
                "Cookie": "sessionid=s3cr3t"
            },
            "data": {"password": "pw", "comment": "hello"},
            "env": {"REMOTE_ADDR": "10.0.0.1", "SERVER_NAME": "web"}
        },
        "user": {"id": "42", "ip_address": "10.0.0.1", "email": "a@example.com"},
        "contexts": {
            "os": {"name": "Linux", "version": "6.1", "type": "os"},
            "runtime": {"name": "CPython", "version": "3.11.4", "type": "runtime"},
            "trace": {"trace_id": "a0b1", "span_id": "c2d3", "op": "task", "type": "trace"}
        },
        "tags": {"component": "processor", "0": "zero"},
        "extra": {"sys.argv": ["app.py"], "connect.sid": "abc", "0": "zero-key", "list": [10, 11, 12]},
        "sdk": {"name": "sentry.python", "version": "2.8.0", "integrations": ["logging", "stdlib", "threading"]}
    }))
}

/// The same request part as a Sentry pair list, the form Relay normalises to.
fn pair_event() -> Value {
    json!({
        "request": {
            "headers": [
                ["Authorization", "Bearer abcdef"],
                ["User-Agent", "curl/8.0"],
                ["cookie", "sessionid=s3cr3t"],
                ["X-Trace", {"nested": "value"}]
            ],
            "query_string": [["token", "abc"], ["x", "1"], ["Token", "upper"]],
            "cookies": [["sessionid", "s3cr3t"], ["theme", "dark"]]
        }
    })
}

// ----- JsonPath -----

#[test]
fn json_path_display_quotes_what_selectors_treat_specially() {
    let p = JsonPath(vec![
        key("exception"),
        key("values"),
        PathElem::Index(0),
        key("stacktrace"),
        key("frames"),
        PathElem::Index(3),
        key("vars"),
        key("password"),
    ]);
    assert_eq!(
        p.to_string(),
        "exception.values.0.stacktrace.frames.3.vars.password"
    );
    assert_eq!(JsonPath::new().to_string(), "");
    let cases = [
        ("connect.sid", r#""connect.sid""#),
        ("", r#""""#),
        ("0", r#""0""#),
        ("007", r#""007""#),
        ("a*", r#""a*""#),
        ("a b", r#""a b""#),
        ("say \"hi\"", r#""say \"hi\"""#),
        ("back\\slash", r#""back\\slash""#),
        ("[]", r#""[]""#),
        ("{a,b}", r#""{a,b}""#),
        ("x-api-key", "x-api-key"),
        ("$string", "$string"),
        ("héllo", "héllo"),
        ("0a", "0a"),
    ];
    for (k, shown) in cases {
        assert_eq!(JsonPath(vec![key(k)]).to_string(), shown, "key {k:?}");
    }
    assert_eq!(
        JsonPath(vec![key("a"), PathElem::Index(12), key("")]).to_string(),
        r#"a.12."""#
    );
}

#[test]
fn json_path_helpers() {
    let mut p = JsonPath::new();
    assert!(p.is_empty());
    p.push_key("request");
    p.push(key("headers"));
    p.push_index(1);
    assert_eq!(p.len(), 3);
    assert_eq!(p.last(), Some(&PathElem::Index(1)));
    assert!(p.starts_with(&JsonPath(vec![key("request")])));
    assert!(!JsonPath(vec![key("request")]).starts_with(&p));
    assert_eq!(p.iter().count(), 3);
    assert_eq!(p.pop(), Some(PathElem::Index(1)));
    let doc = event();
    assert_eq!(
        JsonPath(vec![key("request"), key("headers"), key("User-Agent")]).resolve(&doc),
        Some(&json!("curl/8.0"))
    );
    assert_eq!(
        JsonPath(vec![key("request"), PathElem::Index(0)]).resolve(&doc),
        None
    );
    let mut doc = doc;
    if let Some(v) =
        JsonPath(vec![key("extra"), key("list"), PathElem::Index(2)]).resolve_mut(&mut doc)
    {
        *v = json!(99);
    }
    assert_eq!(doc["extra"]["list"], json!([10, 11, 99]));
}

#[test]
fn walk_visits_every_node_in_document_order() {
    let doc = sorted(json!({"b": [1, {"c": null}], "a": "x"}));
    let seen: Vec<String> = all_paths(&doc).iter().map(ToString::to_string).collect();
    assert_eq!(seen, ["", "a", "b", "b.0", "b.1", "b.1.c"]);
    let mut n = 0;
    walk(&json!(3), &mut |p, v| {
        assert!(p.is_empty());
        assert_eq!(v, &json!(3));
        n += 1;
    });
    assert_eq!(n, 1);
}

#[test]
fn walk_strings_mut_sees_only_strings() {
    let mut doc = json!({"a": "x", "b": [1, "y", {"c": "z", "d": true}], "e": null});
    let mut seen = Vec::new();
    walk_strings_mut(&mut doc, &mut |p, s| {
        seen.push(p.to_string());
        s.make_ascii_uppercase();
    });
    assert_eq!(seen, ["a", "b.1", "b.2.c"]);
    assert_eq!(
        doc,
        json!({"a": "X", "b": [1, "Y", {"c": "Z", "d": true}], "e": null})
    );
    let mut root = json!("s");
    walk_strings_mut(&mut root, &mut |p, s| {
        assert!(p.is_empty());
        s.push('!');
    });
    assert_eq!(root, json!("s!"));
}

#[test]
fn deep_documents_do_not_overflow_the_stack() {
    let mut doc = json!("leaf");
    for i in 0..50_000 {
        doc = if i % 2 == 0 {
            Value::Array(vec![doc])
        } else {
            Value::Object(std::iter::once(("k".to_owned(), doc)).collect())
        };
    }
    let mut n = 0usize;
    walk(&doc, &mut |_, _| n += 1);
    assert_eq!(n, 50_001);
    let mut hits = 0usize;
    sel("**").for_each_match_ref(&doc, &mut |_, _| hits += 1);
    assert_eq!(hits, 50_000);
    let mut strings = 0usize;
    walk_strings_mut(&mut doc, &mut |_, _| strings += 1);
    assert_eq!(strings, 1);
    // Dismantle iteratively: serde_json's own drop recurses.
    let mut stack = vec![doc];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(a) => stack.append(a),
            Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

// ----- parsing -----

#[test]
fn parses_every_segment_kind() {
    let s = sel(r#"  exception.values.[].*.**.{a, "b.c" ,d}."x\"y\\z".0.007."12"  "#);
    assert_eq!(
        s.as_str(),
        r#"exception.values.[].*.**.{a, "b.c" ,d}."x\"y\\z".0.007."12""#
    );
    assert_eq!(s.to_string(), s.as_str());
    assert_eq!(
        s.segments(),
        [
            Segment::Key("exception".into()),
            Segment::Key("values".into()),
            Segment::AnyElement,
            Segment::AnyOne,
            Segment::AnyDepth,
            Segment::Keys(vec!["a".into(), "b.c".into(), "d".into()]),
            Segment::Key(r#"x"y\z"#.into()),
            Segment::Key("0".into()),
            Segment::Key("007".into()),
            Segment::Keys(vec!["12".into()]),
        ]
    );
    assert_eq!(sel(r#""""#).segments(), [Segment::Key(String::new())]);
    assert_eq!(
        sel("{0,1}").segments(),
        [Segment::Keys(vec!["0".into(), "1".into()])]
    );
    assert_eq!(sel("x-api-key.$string.héllo").segments().len(), 3);
    assert!(!sel("a").is_case_insensitive());
    assert!(sel("a").case_insensitive(true).is_case_insensitive());
    assert_eq!(sel("a.b"), sel(" a.b "));
}

#[test]
fn parse_errors_name_their_column() {
    let cases: &[(&str, &str, usize)] = &[
        ("", "empty selector", 1),
        ("   ", "empty selector", 1),
        (".a", "empty segment", 1),
        ("a..b", "empty segment", 3),
        ("  a..b", "empty segment", 5),
        ("a.", "trailing '.'", 2),
        ("a. ", "trailing '.'", 2),
        (r#""abc"#, "unterminated quoted key", 1),
        (r#"a."b"#, "unterminated quoted key", 3),
        (r#"a."b\"#, "unterminated quoted key", 3),
        (r#"a."b\n""#, "unknown escape", 5),
        (r#""a"b"#, "expected '.' after segment", 4),
        ("{a,b", "unclosed '{'", 1),
        ("x.{a, ", "unclosed '{'", 3),
        ("x.{}", "empty '{}'", 3),
        ("x.{ }", "empty '{}'", 3),
        ("{a,,b}", "empty key in '{...}'", 4),
        ("{a,}", "empty key in '{...}'", 4),
        ("{,a}", "empty key in '{...}'", 2),
        ("{a b}", "expected ',' or '}'", 4),
        ("{a.b}", "'.' inside '{...}'", 3),
        ("{a*}", "'*' must be a whole segment", 3),
        ("{a}b", "expected '.' after segment", 4),
        (r#"{"a}"#, "unterminated quoted key", 2),
        ("a}", "unbalanced '}'", 2),
        ("}", "unbalanced '}'", 1),
        ("a{b", "'{' may only start a segment", 2),
        ("a,b", "',' is only allowed inside", 2),
        ("pass*", "'*' must be a whole segment", 5),
        ("***", "'*' must be a whole segment", 1),
        ("a.*x", "'*' must be a whole segment", 3),
        ("frames[0]", "'[]' must be a whole segment", 7),
        ("[0]", "'[]' must be a whole segment", 1),
        ("a]", "'[]' must be a whole segment", 2),
        ("a b", "whitespace in a key", 2),
        ("a. b", "whitespace in a key", 3),
        ("a\tb", "whitespace in a key", 2),
        (r#"a"b""#, "a quote may only start a segment", 2),
        (r"a\b", "'\\' is only allowed inside a quoted key", 2),
        ("é..", "empty segment", 3),
    ];
    for &(text, message, column) in cases {
        let (got, col) = perr(text);
        assert!(
            got.starts_with(message),
            "{text:?}: {got:?} should start with {message:?}"
        );
        assert_eq!(col, column, "{text:?}: {got}");
    }
    let long = vec!["a"; MAX_SEGMENTS + 1].join(".");
    assert_eq!(
        perr(&long),
        (format!("too many segments (at most {MAX_SEGMENTS})"), 127)
    );
    assert!(
        vec!["a"; MAX_SEGMENTS]
            .join(".")
            .parse::<PathSelector>()
            .is_ok()
    );
    let e = "a..b".parse::<PathSelector>().unwrap_err();
    assert_eq!(e.to_string(), "empty segment at column 3");
}

// ----- matching -----

#[test]
fn frame_vars_rules() {
    let doc = event();
    let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
    assert_eq!(
        visited(&rule, &doc),
        [
            "exception.values.0.stacktrace.frames.0.vars.password",
            "exception.values.1.stacktrace.frames.0.vars.password",
        ]
    );
    // Fillmore's spelling selects the same nodes, and `{}` lists several keys.
    let fillmore = sel("exception.values.[].stacktrace.frames.[].vars.{username,password}");
    assert_eq!(
        visited(&fillmore, &doc),
        [
            "exception.values.0.stacktrace.frames.0.vars.password",
            "exception.values.0.stacktrace.frames.0.vars.username",
            "exception.values.1.stacktrace.frames.0.vars.password",
        ]
    );
    // Frame locals are not headers: case matters unless asked otherwise.
    let ci = sel("exception.values.*.stacktrace.frames.*.vars.PASSWORD").case_insensitive(true);
    assert_eq!(visited(&ci, &doc).len(), 3);
    assert!(
        visited(
            &sel("exception.values.*.stacktrace.frames.*.vars.PASSWORD"),
            &doc
        )
        .is_empty()
    );
}

#[test]
fn case_insensitive_keys_compare_unicode_lowercase_forms() {
    // sentry-sdk's EventScrubber compares `key.lower()`, and Python lowercases the Kelvin sign
    // (U+212A) to `k`: an ASCII-only comparison would let `TO\u{212A}EN` through.
    let doc = json!({"extra": {"TO\u{212A}EN": "a", "Pässword": "b", "token2": "c"}});
    let s = sel("extra.{token,pässword}").case_insensitive(true);
    assert_eq!(visited(&s, &doc), ["extra.Pässword", "extra.TO\u{212A}EN"]);
    assert!(visited(&sel("extra.token"), &doc).is_empty());
}

#[test]
fn any_element_does_not_match_object_keys() {
    let doc = event();
    assert!(visited(&sel("contexts.[]"), &doc).is_empty());
    assert_eq!(
        visited(&sel("contexts.*.version"), &doc),
        ["contexts.os.version", "contexts.runtime.version"]
    );
    assert_eq!(visited(&sel("sdk.integrations.[]"), &doc).len(), 3);
    assert_eq!(visited(&sel("sdk.integrations.*"), &doc).len(), 3);
}

#[test]
fn breadcrumbs_and_contexts() {
    let doc = event();
    assert_eq!(
        visited(&sel("breadcrumbs.values.*.data.url"), &doc),
        ["breadcrumbs.values.0.data.url"]
    );
    assert_eq!(
        visited(&sel("breadcrumbs.values.*.data.\"db.system\""), &doc),
        ["breadcrumbs.values.1.data.\"db.system\""]
    );
    assert_eq!(
        visited(&sel("contexts.{os,runtime}.{name,version}"), &doc),
        [
            "contexts.os.name",
            "contexts.os.version",
            "contexts.runtime.name",
            "contexts.runtime.version"
        ]
    );
    assert_eq!(visited(&sel("contexts.trace"), &doc), ["contexts.trace"]);
    assert!(visited(&sel("contexts.missing.x"), &doc).is_empty());
    assert!(visited(&sel("level.x"), &doc).is_empty());
}

#[test]
fn numbers_quoted_and_bare() {
    let doc = event();
    assert_eq!(
        visited(&sel("exception.values.0.type"), &doc),
        ["exception.values.0.type"]
    );
    assert_eq!(visited(&sel("extra.0"), &doc), [r#"extra."0""#]);
    assert_eq!(visited(&sel(r#"extra."0""#), &doc), [r#"extra."0""#]);
    assert_eq!(visited(&sel("extra.list.2"), &doc), ["extra.list.2"]);
    assert!(visited(&sel(r#"extra.list."2""#), &doc).is_empty());
    assert!(visited(&sel("extra.list.{2}"), &doc).is_empty());
    assert!(visited(&sel("extra.list.02"), &doc).is_empty());
    assert!(visited(&sel("extra.list.3"), &doc).is_empty());
    assert!(visited(&sel("extra.list.99999999999999999999999"), &doc).is_empty());
    assert_eq!(
        visited(&sel(r#"extra."connect.sid""#), &doc),
        [r#"extra."connect.sid""#]
    );
    assert_eq!(
        visited(&sel(r#"**."sys.argv".0"#), &doc),
        [r#"extra."sys.argv".0"#]
    );
}

#[test]
fn headers_compare_ignoring_case() {
    let doc = event();
    assert_eq!(
        visited(&sel("request.headers.authorization"), &doc),
        ["request.headers.Authorization"]
    );
    assert_eq!(
        visited(&sel("request.headers.{COOKIE,x-forwarded-for}"), &doc),
        ["request.headers.Cookie", "request.headers.X-Forwarded-For"]
    );
    assert_eq!(
        visited(&sel("**.headers.user-agent"), &doc),
        ["request.headers.User-Agent"]
    );
    // Only the keys right below `headers`; other maps keep their case.
    assert!(visited(&sel("request.cookies.SessionID"), &doc).is_empty());
    assert!(visited(&sel("Request.headers.Authorization"), &doc).is_empty());
    assert_eq!(
        visited(
            &sel("Request.headers.Authorization").case_insensitive(true),
            &doc
        ),
        ["request.headers.Authorization"]
    );
    let p = |s: &[&str]| JsonPath(s.iter().map(|k| key(k)).collect());
    let rule = sel("request.headers.authorization");
    assert!(rule.matches(&p(&["request", "headers", "AUTHORIZATION"])));
    assert!(!rule.matches(&p(&["request", "cookies", "AUTHORIZATION"])));
}

#[test]
fn pair_lists_select_the_value_by_name() {
    let doc = pair_event();
    assert_eq!(
        visited(&sel("request.headers.authorization"), &doc),
        ["request.headers.0.1"]
    );
    assert_eq!(
        visited(&sel("request.headers.{cookie,user-agent}"), &doc),
        ["request.headers.1.1", "request.headers.2.1"]
    );
    // Outside `headers` pair names keep their case.
    assert_eq!(
        visited(&sel("request.query_string.token"), &doc),
        ["request.query_string.0.1"]
    );
    assert_eq!(
        visited(
            &sel("request.query_string.token").case_insensitive(true),
            &doc
        ),
        ["request.query_string.0.1", "request.query_string.2.1"]
    );
    assert_eq!(visited(&sel("**.sessionid"), &doc), ["request.cookies.0.1"]);
    // The value is a node like any other: selectors continue into it.
    assert_eq!(
        visited(&sel("request.headers.x-trace.nested"), &doc),
        ["request.headers.3.1.nested"]
    );
    assert_eq!(
        visited(&sel("request.headers.x-trace.**"), &doc),
        ["request.headers.3.1", "request.headers.3.1.nested"]
    );
    // `*` and `[]` address the pairs themselves, not their values.
    assert_eq!(
        visited(&sel("request.cookies.*"), &doc),
        ["request.cookies.0", "request.cookies.1"]
    );
    // An index and a name route can both apply; each node still appears once.
    let both = json!({"h": [["1", "a"], ["x", "b"]]});
    assert_eq!(visited(&sel("h.1"), &both), ["h.0.1", "h.1"]);
    assert_eq!(visited(&sel("h.{1,x}.**"), &both), ["h.0.1", "h.1.1"]);
    assert_eq!(visited(&sel("**"), &both).len(), 7);
    // Only well-formed pairs count; a malformed one does not hide the others.
    let mixed = json!({"h": [["a"], ["a", 1, 2], [1, "a"], "a", ["a", "found"]]});
    assert_eq!(visited(&sel("h.a"), &mixed), ["h.4.1"]);
    // Path-only matching cannot see names; the document-aware form can.
    let path = JsonPath(vec![
        key("request"),
        key("headers"),
        PathElem::Index(0),
        PathElem::Index(1),
    ]);
    let rule = sel("request.headers.authorization");
    assert!(!rule.matches(&path));
    assert!(rule.matches_in(&doc, &path));
    let pair = JsonPath(vec![key("request"), key("headers"), PathElem::Index(0)]);
    assert!(!rule.may_match_below(&pair));
    assert!(rule.may_match_below_in(&doc, &pair));
    assert!(!rule.matches_in(&doc, &pair));
    let other = JsonPath(vec![key("request"), key("headers"), PathElem::Index(1)]);
    assert!(!rule.may_match_below_in(&doc, &other));
}

#[test]
fn any_depth_at_start_middle_and_end() {
    let doc = event();
    assert_eq!(
        visited(&sel("**.password"), &doc),
        [
            "exception.values.0.stacktrace.frames.0.vars.password",
            "exception.values.1.stacktrace.frames.0.vars.password",
            "exception.values.1.stacktrace.frames.0.vars.self.password",
            "request.data.password",
        ]
    );
    assert_eq!(
        visited(&sel("exception.**.vars.password"), &doc),
        [
            "exception.values.0.stacktrace.frames.0.vars.password",
            "exception.values.1.stacktrace.frames.0.vars.password",
        ]
    );
    // Zero levels: `**` may vanish.
    assert_eq!(visited(&sel("request.**.url"), &doc), ["request.url"]);
    assert_eq!(
        visited(&sel("**.level"), &doc),
        ["breadcrumbs.values.2.level", "level"]
    );
    // At the end: the node itself and everything below it.
    let below: Vec<String> = all_paths(&doc["request"])
        .iter()
        .map(|p| format!("request{}{p}", if p.is_empty() { "" } else { "." }))
        .collect();
    assert_eq!(visited(&sel("request.**"), &doc), below);
    // Alone: every node but the root.
    assert_eq!(visited_paths(&sel("**"), &doc), all_paths(&doc)[1..]);
    assert!(visited(&sel("**"), &json!(5)).is_empty());
    assert!(!sel("**").matches(&JsonPath::new()));
    assert!(sel("**").may_match_below(&JsonPath::new()));
}

#[test]
fn overlapping_routes_visit_each_node_once() {
    let doc = event();
    let once = visited(&sel("**.password"), &doc);
    for text in [
        "**.**.password",
        "**.**.**.password",
        "**.*.**.password",
        "exception.**.**.password",
    ] {
        let got = visited(&sel(text), &doc);
        let mut dedup = got.clone();
        dedup.dedup();
        assert_eq!(got, dedup, "{text}");
    }
    assert_eq!(visited(&sel("**.**.password"), &doc), once);
    assert_eq!(visited(&sel("**.*"), &doc), visited(&sel("**"), &doc));
    let nested = json!({"a": {"a": {"a": 1}}});
    assert_eq!(visited(&sel("**.a.**"), &nested), ["a", "a.a", "a.a.a"]);
    assert_eq!(visited(&sel("**.a.**.a"), &nested), ["a.a", "a.a.a"]);
}

#[test]
fn for_each_match_scrubs_in_place() {
    let mut doc = event();
    let rule = sel("exception.values.*.stacktrace.frames.*.vars.{password,username}");
    let mut seen = Vec::new();
    rule.for_each_match(&mut doc, &mut |p, v| {
        seen.push(p.to_string());
        *v = json!("[Filtered]");
    });
    assert_eq!(seen.len(), 3);
    assert_eq!(
        doc["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["password"],
        "[Filtered]"
    );
    assert_eq!(
        doc["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"]["Password"],
        "'other'"
    );
    // Pair values are scrubbed in place too.
    let mut pairs = pair_event();
    sel("request.headers.authorization")
        .for_each_match(&mut pairs, &mut |_, v| *v = json!("[Filtered]"));
    assert_eq!(
        pairs["request"]["headers"][0],
        json!(["Authorization", "[Filtered]"])
    );
    // A replaced container is not entered: its old children are gone.
    let mut doc = event();
    let mut n = 0;
    sel("request.**").for_each_match(&mut doc, &mut |_, v| {
        n += 1;
        *v = json!("[Filtered]");
    });
    assert_eq!(n, 1);
    assert_eq!(doc["request"], "[Filtered]");
    // ...but a replacement is: the walk continues into what the node holds now.
    let mut doc = json!({"a": 1});
    let mut seen = Vec::new();
    sel("a.**").for_each_match(&mut doc, &mut |p, v| {
        seen.push(p.to_string());
        if v == &json!(1) {
            *v = json!({"b": [2]});
        }
    });
    assert_eq!(seen, ["a", "a.b", "a.b.0"]);
}

#[test]
fn remove_matches_removes_from_the_back() {
    let mut doc = json!({"list": [[1, 2], [3], [4, 5], "x"], "keep": 1});
    let removed = sel("list.*.0").remove_matches(&mut doc);
    let shown: Vec<String> = removed.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["list.0.0", "list.1.0", "list.2.0"]);
    assert_eq!(doc, json!({"list": [[2], [], [5], "x"], "keep": 1}));

    let mut doc = json!({"list": [0, 1, 2, 3, 4]});
    let removed = sel("list.*").remove_matches(&mut doc);
    assert_eq!(removed.len(), 5);
    assert_eq!(doc, json!({"list": []}));

    // Several pairs of one pair list: each goes whole, later ones unshifted.
    let mut doc = pair_event();
    let removed = sel("request.headers.{authorization,cookie,x-trace}").remove_matches(&mut doc);
    let shown: Vec<String> = removed.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "request.headers.0",
            "request.headers.2",
            "request.headers.3"
        ]
    );
    assert_eq!(
        doc["request"]["headers"],
        json!([["User-Agent", "curl/8.0"]])
    );

    // A match inside a match goes with its ancestor and is not listed.
    let mut doc = json!({"a": {"a": {"a": 1}}, "b": 2});
    let removed = sel("**.a").remove_matches(&mut doc);
    assert_eq!(removed, [JsonPath(vec![key("a")])]);
    assert_eq!(doc, json!({"b": 2}));

    // Lone `**` empties the root, which itself stays.
    let mut doc = event();
    let top = doc.as_object().map_or(0, |m| m.len());
    assert_eq!(sel("**").remove_matches(&mut doc).len(), top);
    assert_eq!(doc, json!({}));

    // Object keys and the realistic rule.
    let mut doc = event();
    let removed = sel("**.password").remove_matches(&mut doc);
    assert_eq!(removed.len(), 4);
    assert!(visited(&sel("**.password"), &doc).is_empty());
    assert_eq!(
        doc["exception"]["values"][1]["stacktrace"]["frames"][0]["vars"]["self"],
        json!({})
    );

    // Nothing to remove.
    let mut doc = event();
    assert!(sel("nope.nope").remove_matches(&mut doc).is_empty());
    assert_eq!(doc, event());
}

#[test]
fn remove_matches_handles_many_siblings() {
    let n = 20_000;
    let mut doc = json!({
        "obj": (0..n).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>(),
        "arr": (0..n).collect::<Vec<_>>(),
    });
    assert_eq!(sel("obj.*").remove_matches(&mut doc).len(), n);
    let removed = sel("arr.*").remove_matches(&mut doc);
    assert_eq!(removed.len(), n);
    assert_eq!(
        removed.last(),
        Some(&JsonPath(vec![key("arr"), PathElem::Index(n - 1)]))
    );
    assert_eq!(doc, json!({"obj": {}, "arr": []}));
}

#[test]
fn walks_nest_and_repeat_without_mixing_paths() {
    let doc = event();
    let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
    let expected = visited(&rule, &doc);
    let mut outer = Vec::new();
    let mut inner = 0usize;
    let mut copy = doc.clone();
    rule.for_each_match(&mut copy, &mut |p, _| {
        // A callback that walks too gets its own buffer and leaves this path intact.
        walk(&doc, &mut |_, _| inner += 1);
        assert_eq!(
            visited(&sel("request.headers.authorization"), &doc),
            ["request.headers.Authorization"]
        );
        outer.push(p.to_string());
    });
    assert_eq!(outer, expected);
    assert_eq!(inner, expected.len() * all_paths(&doc).len());
    // The per-thread buffer carries the previous walk's path; results do not depend on it.
    for _ in 0..3 {
        assert_eq!(visited(&rule, &doc), expected);
        assert_eq!(
            visited(&sel("request.headers.authorization"), &pair_event()),
            ["request.headers.0.1"]
        );
        assert_eq!(
            visited(&sel("**.a"), &json!({"a": [{"a": 1}]})),
            ["a", "a.0.a"]
        );
    }
}

#[test]
fn selectors_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PathSelector>();
    assert_send_sync::<JsonPath>();
    assert_send_sync::<PathError>();
    let rule = sel("**.password");
    let expected = visited(&rule, &event());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| assert_eq!(visited(&rule, &event()), expected));
        }
    });
}

#[test]
fn matches_and_prefix_test_on_paths() {
    let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
    let path = |s: &str| -> JsonPath {
        s.split('.')
            .map(|e| e.parse().map_or_else(|_| key(e), PathElem::Index))
            .collect()
    };
    assert!(rule.matches(&path(
        "exception.values.0.stacktrace.frames.3.vars.password"
    )));
    assert!(!rule.matches(&path("exception.values.0.stacktrace.frames.3.vars")));
    assert!(!rule.matches(&path(
        "exception.values.0.stacktrace.frames.3.vars.password.x"
    )));
    assert!(rule.may_match_below(&path("exception.values.0.stacktrace")));
    assert!(rule.may_match_below(&JsonPath::new()));
    assert!(!rule.may_match_below(&path(
        "exception.values.0.stacktrace.frames.3.vars.password"
    )));
    assert!(!rule.may_match_below(&path("request")));
    assert!(!rule.matches(&JsonPath::new()));
    assert!(sel("a.**").may_match_below(&path("a.b.c")));
    assert!(sel("a.**").matches(&path("a")));
    assert!(sel("list.0").matches(&path("list.0")));
    assert!(sel("list.0").matches(&JsonPath(vec![key("list"), key("0")])));
    assert!(!sel(r#"list."0""#).matches(&path("list.0")));
    assert!(!sel("[]").matches(&path("a")));
    assert!(sel("[]").matches(&path("0")));
}

// ----- properties -----

const KEYS: &[&str] = &[
    "a",
    "b",
    "password",
    "headers",
    "Authorization",
    "authorization",
    "0",
    "1",
    "A",
];

/// Selectors exercising every segment kind, overlaps, pairs and case rules.
const SELECTORS: &[&str] = &[
    "a",
    "a.b",
    "*",
    "**",
    "**.password",
    "a.**",
    "a.**.b",
    "**.**.b",
    "*.*",
    "[]",
    "[].a",
    "0",
    "1",
    "a.0",
    "\"0\"",
    "{a,b}.*",
    "headers.authorization",
    "**.headers.Authorization",
    "a.*.[]",
    "**.0.**",
    "b.{password,\"0\"}",
    "**.a.**.a",
    "*.1.*",
    "**.password.**",
    "a.{Authorization,password}",
    "**.[].**",
    "headers.**",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..100).prop_map(Value::from),
        arb_key().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner.clone(), 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            // Pair lists, well-formed or not.
            prop::collection::vec((arb_key(), inner), 0..4).prop_map(|pairs| {
                Value::Array(pairs.into_iter().map(|(k, v)| json!([k, v])).collect())
            }),
        ]
    })
}

fn has_pair(doc: &Value) -> bool {
    let mut found = false;
    walk(doc, &mut |_, v| {
        if let Value::Array(a) = v {
            found |= a.iter().any(|e| pair_name(e).is_some());
        }
    });
    found
}

fn arb_path() -> impl Strategy<Value = JsonPath> {
    let elem = prop_oneof![
        3 => any::<String>().prop_map(PathElem::Key),
        2 => "[ .*\"\\\\{}\\[\\],a-cA-C0-9]{0,4}".prop_map(PathElem::Key),
        1 => prop::sample::select(&["headers", "**", "*", "[]", "0"][..]).prop_map(|k| PathElem::Key(k.to_owned())),
        2 => (0usize..4).prop_map(PathElem::Index),
    ];
    prop::collection::vec(elem, 1..6).prop_map(JsonPath)
}

/// A document holding `path` and nothing else (arrays padded with nulls).
fn doc_along(path: &[PathElem]) -> Value {
    match path.split_first() {
        None => Value::Null,
        Some((PathElem::Key(k), rest)) => json!({ k.clone(): doc_along(rest) }),
        Some((PathElem::Index(i), rest)) => {
            let mut a = vec![Value::Null; *i];
            a.push(doc_along(rest));
            Value::Array(a)
        }
    }
}

/// Whether the selector printed from `p` matches `q`: an index also matches its decimal
/// key, and keys equal but for case match where case is ignored.
fn equivalent(p: &JsonPath, q: &JsonPath, ci: bool) -> bool {
    p.len() == q.len()
        && p.iter().zip(q.iter()).enumerate().all(|(n, pair)| {
            let under_headers =
                n > 0 && matches!(p.0.get(n - 1), Some(PathElem::Key(k)) if is_headers(k));
            match pair {
                (PathElem::Key(a), PathElem::Key(b)) => {
                    a == b || ((ci || under_headers) && a.to_lowercase() == b.to_lowercase())
                }
                (PathElem::Index(i), PathElem::Index(j)) => i == j,
                // A bare number also names the object key; a quoted one never an index.
                (PathElem::Index(i), PathElem::Key(k)) => *k == i.to_string(),
                (PathElem::Key(_), PathElem::Index(_)) => false,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_agrees_with_for_each_match(doc in arb_json(), ci in any::<bool>()) {
        let pairs = has_pair(&doc);
        let nodes = all_paths(&doc);
        for text in SELECTORS {
            let s = sel(text).case_insensitive(ci);
            let hits = visited_paths(&s, &doc);
            // Visited in document order, each once.
            let mut order = nodes.iter();
            for h in &hits {
                prop_assert!(order.any(|n| n == h), "{text}: {h} out of order or not a node");
            }
            let mut mutable = Vec::new();
            s.for_each_match(&mut doc.clone(), &mut |p, _| mutable.push(p.clone()));
            prop_assert_eq!(&mutable, &hits, "{}", text);
            for p in &nodes {
                let hit = hits.contains(p);
                prop_assert_eq!(s.matches_in(&doc, p), hit, "{} at {}", text, p);
                let below = hits.iter().any(|h| h.len() > p.len() && h.starts_with(p));
                if below {
                    prop_assert!(s.may_match_below_in(&doc, p), "{} below {}", text, p);
                }
                if s.matches(p) {
                    prop_assert!(hit, "{} path-only over-matches {}", text, p);
                }
                if !pairs {
                    prop_assert_eq!(s.matches(p), hit, "{} at {}", text, p);
                    if below {
                        prop_assert!(s.may_match_below(p), "{} below {}", text, p);
                    }
                }
            }
        }
    }

    #[test]
    fn remove_matches_removes_the_outermost_matches(doc in arb_json()) {
        for text in SELECTORS {
            let s = sel(text);
            let mut after = doc.clone();
            let removed = s.remove_matches(&mut after);
            let before = all_paths(&doc);
            let size = |p: &JsonPath| before.iter().filter(|n| n.starts_with(p)).count();
            let gone: usize = removed.iter().map(size).sum();
            prop_assert_eq!(all_paths(&after).len(), before.len() - gone, "{}", text);
            for (n, p) in removed.iter().enumerate() {
                prop_assert!(!removed.iter().take(n).any(|q| p.starts_with(q)), "{} nested {}", text, p);
            }
            if !has_pair(&doc) {
                let hits = visited_paths(&s, &doc);
                let outermost: Vec<JsonPath> = hits
                    .iter()
                    .filter(|h| !hits.iter().any(|a| a.len() < h.len() && h.starts_with(a)))
                    .cloned()
                    .collect();
                prop_assert_eq!(&removed, &outermost, "{}", text);
            }
        }
    }

    #[test]
    fn displayed_paths_parse_back_to_themselves(path in arb_path(), other in arb_path(), ci in any::<bool>()) {
        let text = path.to_string();
        let s = text.parse::<PathSelector>();
        prop_assert!(s.is_ok(), "{:?} -> {:?}", text, s);
        let Ok(s) = s else { return Ok(()) };
        let s = s.case_insensitive(ci);
        prop_assert!(s.matches(&path));
        let doc = doc_along(&path.0);
        prop_assert_eq!(visited_paths(&s, &doc), vec![path.clone()]);
        prop_assert_eq!(s.matches(&other), equivalent(&path, &other, ci), "{} vs {}", text, other);
    }

    #[test]
    fn arbitrary_selectors_never_panic(
        text in "[ a-cA.*\"\\\\{},\\[\\]0-9hé]{0,16}",
        doc in arb_json(),
        ci in any::<bool>(),
    ) {
        let Ok(s) = text.parse::<PathSelector>() else { return Ok(()) };
        let s = s.case_insensitive(ci);
        let mut n = 0usize;
        s.for_each_match_ref(&doc, &mut |_, _| n += 1);
        let mut m = 0usize;
        s.for_each_match(&mut doc.clone(), &mut |_, v| {
            m += 1;
            *v = json!("[Filtered]");
        });
        prop_assert!(m <= n);
        for p in all_paths(&doc) {
            let _ = (s.matches(&p), s.may_match_below(&p), s.matches_in(&doc, &p), s.may_match_below_in(&doc, &p));
        }
        let mut after = doc.clone();
        let removed = s.remove_matches(&mut after);
        prop_assert!(removed.len() <= n);
        // The text it came from reparses to the same selector.
        prop_assert_eq!(s.as_str().parse::<PathSelector>().ok().map(|p| p.case_insensitive(ci)), Some(s));
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        match text.parse::<PathSelector>() {
            Ok(s) => prop_assert!(!s.segments().is_empty()),
            Err(e) => prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e:?}"),
        }
    }
}
