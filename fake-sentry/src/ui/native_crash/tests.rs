//! The native crash view: a processed Windows crash, a pending and a failed one (snapshots in
//! `tests/snapshots/native_crash__*.snap`), hostile events, and how the detail page includes it.

use super::*;
use askama::Template as _;
use serde_json::json;

/// A processed Windows crash as the pipeline writes it: symbolicated frames, one inline,
/// one found by scanning in a module without symbols, two threads, three modules of which
/// one has no symbols and one is unloaded.
fn windows_crash() -> Value {
    json!({
        "event_id": "9f3c0e2a4b5d4c6e8f0a1b2c3d4e5f60",
        "platform": "native",
        "level": "fatal",
        "exception": {"values": [{
            "type": "EXCEPTION_ACCESS_VIOLATION_WRITE",
            "value": "Fatal Error: EXCEPTION_ACCESS_VIOLATION_WRITE / 0x0",
            "thread_id": 4312,
            "mechanism": {"type": "minidump", "handled": false, "synthetic": true},
            "stacktrace": {
                "frames": [
                    {"instruction_addr": "0x7ffb1c2a7034", "package": "C:\\Windows\\System32\\kernel32.dll",
                     "trust": "scan", "in_app": false,
                     "data": {"symbolicator_status": "missing", "module_offset": "0x17034"}},
                    {"instruction_addr": "0x7ff6a0011a2f", "function": "main",
                     "filename": "src\\main.cpp", "lineno": 31, "package": "C:\\app\\crashy.exe",
                     "image_addr": "0x7ff6a0000000", "symbol_addr": "0x7ff6a0011a00",
                     "trust": "cfi", "in_app": true,
                     "data": {"symbolicator_status": "symbolicated", "module_offset": "0x11a2f",
                              "function_offset": "0x2f"}},
                    {"instruction_addr": "0x7ff6a0011480", "function": "crashy::write_through",
                     "filename": "src\\write.cpp", "lineno": 12, "package": "C:\\app\\crashy.exe",
                     "trust": "context", "in_app": true,
                     "data": {"symbolicator_status": "symbolicated", "module_offset": "0x11480",
                              "function_offset": "0x10"}},
                    {"instruction_addr": "0x7ff6a0011480", "function": "crashy::crash_here",
                     "filename": "src\\crash.h", "lineno": 42, "package": "C:\\app\\crashy.exe",
                     "trust": "context", "in_app": true,
                     "data": {"symbolicator_status": "symbolicated", "inline": true,
                              "module_offset": "0x11480"}}
                ],
                "registers": {"rip": "0x7ff6a0011480", "rsp": "0xd9c8aff6f0", "rax": "0x0"}
            }
        }]},
        "threads": {"values": [
            {"id": 4312, "name": "main", "crashed": true, "current": true},
            {"id": 5120, "name": "io worker", "crashed": false,
             "stacktrace": {"frames": [
                 {"instruction_addr": "0x7ffb1e9ad3f4", "function": "NtWaitForSingleObject",
                  "package": "C:\\Windows\\System32\\ntdll.dll", "trust": "cfi",
                  "data": {"symbolicator_status": "symbolicated", "module_offset": "0x9d3f4"}},
                 {"instruction_addr": "0x7ffb1e9ad414", "function": "ZwDelayExecution",
                  "package": "C:\\Windows\\System32\\ntdll.dll", "trust": "context",
                  "data": {"symbolicator_status": "symbolicated", "module_offset": "0x9d414"}}
             ], "registers": {"rip": "0x7ffb1e9ad414"}}}
        ]},
        "debug_meta": {"images": [
            {"type": "pe", "code_file": "C:\\app\\crashy.exe", "debug_file": "crashy.pdb",
             "debug_id": "3249d99d-0c40-4931-8610-f4e4fb0b6936-1", "code_id": "5ab380779000",
             "version": "1.2.0.0", "image_addr": "0x7ff6a0000000", "image_size": 36864,
             "debug_status": "found"},
            {"type": "pe", "code_file": "C:\\Windows\\System32\\kernel32.dll",
             "debug_file": "kernel32.pdb", "debug_id": "d3f2a1b0-9c8d-4e7f-a6b5-c4d3e2f1a0b9-1",
             "code_id": "590285e9e0000", "version": "10.0.19041.3636",
             "image_addr": "0x7ffb1c290000", "image_size": 774144, "debug_status": "missing"},
            {"type": "pe", "code_file": "C:\\app\\plugin.dll", "debug_file": "plugin.pdb",
             "debug_id": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-2", "code_id": "61a0b2c38000",
             "image_addr": "0x7ffb10000000", "image_size": 32768, "unloaded": true,
             "debug_status": "unused"}
        ]},
        "contexts": {
            "os": {"type": "os", "name": "Windows", "version": "10.0.19045", "build": "3636"},
            "device": {"type": "device", "arch": "x86_64"},
            "cpu": {"type": "cpu", "cpu_info": "family 6 model 158 stepping 10", "count": 8}
        }
    })
}

fn crash<'a>(event: &'a Value, status: NativeStatus<'a>) -> NativeCrash<'a> {
    NativeCrash {
        event,
        status,
        signature: None,
        minidump_item_id: "0190f2d4-0000-7000-8000-00000000000d",
        minidump_filename: "upload_file_minidump",
        minidump_size: 48_213,
    }
}

/// Snapshots go beside the UI pages' (`tests/snapshots/`), named `native_crash__*`.
fn assert_html(name: &str, html: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../tests/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(format!("native_crash__{name}"), html));
}

#[test]
fn a_processed_crash_shows_frames_threads_modules_and_system() {
    let event = windows_crash();
    let crash = NativeCrash {
        signature: Some("crashy::crash_here | crashy::write_through | main"),
        ..crash(&event, NativeStatus::Processed)
    };
    let view = native_crash_view(&UiLimits::default(), &crash);
    assert_eq!(view.ty, "EXCEPTION_ACCESS_VIOLATION_WRITE");
    assert_eq!(view.handled, "unhandled");
    assert_eq!(view.crashing_thread, "main (id 4312)");
    let frames = &view.crashing.frames;
    // Newest first.
    assert_eq!(
        frames
            .iter()
            .map(|f| f.function.as_str())
            .collect::<Vec<_>>(),
        [
            "crashy::crash_here",
            "crashy::write_through",
            "main",
            "kernel32.dll@0x17034"
        ]
    );
    assert_eq!(frames[0].location, "src\\crash.h:42");
    assert_eq!(frames[0].module, "crashy.exe");
    assert_eq!(frames[0].trust.as_ref().unwrap().text, "context");
    assert!(frames[0].inline && !frames[1].inline);
    assert!(frames[3].no_symbols && !frames[3].symbolicated);
    assert_eq!(frames[3].trust.as_ref().unwrap().class, "trust warn");
    assert!(
        frames[2]
            .details
            .contains(&("function offset".into(), "0x2f".into()))
    );
    assert_eq!(view.crashing.registers.len(), 3);
    assert_eq!(view.threads.len(), 2);
    assert!(view.threads[0].crashed && !view.threads[1].crashed);
    assert_eq!(view.threads[1].stack.frames[0].function, "ZwDelayExecution");
    assert_eq!(view.modules[0].range, "0x7ff6a0000000–0x7ff6a0009000");
    assert_eq!(view.modules[1].code_name, "kernel32.dll");
    assert_eq!(view.modules[1].symbols.as_ref().unwrap().class, "warn");
    assert!(view.modules[2].unloaded);
    assert_eq!(
        view.system,
        [
            ("OS", "Windows"),
            ("OS version", "10.0.19045"),
            ("OS build", "3636"),
            ("Architecture", "x86_64"),
            ("CPU count", "8"),
            ("CPU cpu_info", "family 6 model 158 stepping 10"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );

    let html = render(&UiLimits::default(), &crash).unwrap();
    assert!(html.contains(
        r#"<form method="post" action="/api/items/0190f2d4-0000-7000-8000-00000000000d/reprocess""#
    ));
    assert!(html.contains(r#"href="/api/items/0190f2d4-0000-7000-8000-00000000000d/raw""#));
    assert!(html.contains(r#"href="/api/items/0190f2d4-0000-7000-8000-00000000000d/processed""#));
    assert_eq!(html.matches(">no symbols</span>").count(), 1, "{html}");
    // Only the crashed thread is open.
    assert_eq!(html.matches(r#"<details class="thread" open>"#).count(), 1);
    assert_html("processed_windows", &html);
}

#[test]
fn a_pending_crash_shows_what_the_client_sent() {
    let event = json!({
        "platform": "native", "level": "fatal",
        "contexts": {"os": {"name": "Linux"}},
        "release": "crashy@1.0"
    });
    let html = render(&UiLimits::default(), &crash(&event, NativeStatus::Pending)).unwrap();
    assert!(html.contains("processing…"), "{html}");
    assert!(html.contains("/reprocess"), "{html}");
    assert!(
        !html.contains("/processed"),
        "no processor JSON yet: {html}"
    );
    assert!(!html.contains(r#"class="frames""#), "{html}");
    assert_html("pending", &html);
}

#[test]
fn a_failed_crash_says_why() {
    let event = json!({"platform": "native", "exception": {"values": [{"type": "Minidump"}]}});
    let failed = NativeStatus::Failed {
        error: "minidump-stackwalk exited with status 1: <not a minidump>",
    };
    let html = render(&UiLimits::default(), &crash(&event, failed)).unwrap();
    assert!(
        html.contains("exited with status 1: &#60;not a minidump&#62;"),
        "{html}"
    );
    assert_html("failed", &html);
}

#[test]
fn hostile_events_are_escaped_and_bounded() {
    let script = "<script>alert(1)</script>";
    let frame = json!({"function": script, "package": format!("C:\\{script}.dll"),
                       "filename": script, "lineno": {"x": script}, "trust": script,
                       "data": {"symbolicator_status": script, "inline": "yes",
                                "module_offset": [script]}});
    let frames = vec![frame; 100_000];
    let threads: Vec<Value> = (0..300)
        .map(|i| json!({"id": i, "name": script, "stacktrace": {"frames": [{"function": script}]}}))
        .collect();
    let images: Vec<Value> = (0..5000)
        .map(|_| {
            json!({"code_file": script, "debug_id": 7, "image_addr": script,
                        "image_size": "big", "debug_status": script, "unloaded": "no"})
        })
        .collect();
    let event = json!({
        "exception": {"values": [
            {"type": script},
            {"type": script, "value": [script], "thread_id": {"a": 1}, "mechanism": "minidump",
             "stacktrace": {"frames": frames, "registers": [[script, script], 5]}}
        ]},
        "threads": {"values": threads},
        "debug_meta": {"images": images},
        "contexts": {"os": {"name": script, "version": [1], "build": {}},
                     "device": "arm64", "cpu": {"cpu_info": script, "count": null, "x": []}}
    });
    let crash = NativeCrash {
        event: &event,
        status: NativeStatus::Failed { error: script },
        signature: Some(script),
        minidump_item_id: "../../flush?x=\"><script>",
        minidump_filename: script,
        minidump_size: 1,
    };
    let limits = UiLimits {
        frames: 30,
        native_threads: 4,
        native_modules: 7,
        ..UiLimits::default()
    };
    let html = render(&limits, &crash).unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    // The id stays one path segment.
    assert!(html.contains("/api/items/..%2F..%2Fflush%3Fx%3D%22%3E%3Cscript%3E/reprocess"));
    let view = native_crash_view(&limits, &crash);
    assert_eq!(view.crashing.frames.len(), 30);
    assert_eq!(view.crashing.omitted, 99_970);
    assert!(html.contains("99970 older frames not shown"));
    assert_eq!((view.threads.len(), view.threads_omitted), (4, 296));
    assert!(html.contains("296 more threads not shown"));
    assert_eq!((view.modules.len(), view.modules_omitted), (7, 4993));
    assert!(html.contains("4993 more modules not shown"));
    assert_eq!(
        html.matches("<li>").count(),
        30 + 4,
        "crashing frames and one per thread"
    );
    // Wrong types are shown as text or left out, never trusted.
    assert!(!view.crashing.frames[0].inline);
    assert!(!view.modules[0].unloaded);
    assert_eq!(view.value, r#"["<script>alert(1)</script>"]"#);
    assert_eq!(
        view.system,
        [("OS", script), ("CPU cpu_info", script)].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(view.crashing.registers.len(), 1);
    // A mechanism that is not an object has no type.
    assert_eq!(view.mechanism, "");
}

#[test]
fn a_crashing_stack_kept_on_its_thread_is_shown_once() {
    let event = json!({
        "exception": {"values": [{"type": "SIGSEGV", "thread_id": 7}]},
        "threads": {"values": [
            {"id": 7, "stacktrace": {"frames": [{"function": "crash_here_once"}],
                                     "registers": {"rip": "0x1"}}},
            {"id": 8, "stacktrace": {"frames": [{"function": "idle"}]}}
        ]}
    });
    let view = native_crash_view(
        &UiLimits::default(),
        &crash(&event, NativeStatus::Processed),
    );
    assert_eq!(view.crashing_thread, "thread 7");
    assert_eq!(view.crashing.frames[0].function, "crash_here_once");
    assert_eq!(view.crashing.registers, [("rip".into(), "0x1".into())]);
    assert!(view.threads[0].crashed && view.threads[0].stack.frames.is_empty());
    assert_eq!(view.threads[0].frame_count, 1);
    let html = render(
        &UiLimits::default(),
        &crash(&event, NativeStatus::Processed),
    )
    .unwrap();
    assert_eq!(html.matches("crash_here_once").count(), 1, "{html}");
    assert!(
        html.contains("Its frames are the crashing thread"),
        "{html}"
    );
}

#[test]
fn any_shape_renders() {
    for event in [
        json!(null),
        json!("a string"),
        json!([1, 2]),
        json!({"exception": "x", "threads": 5, "debug_meta": [], "contexts": "y"}),
        json!({"exception": {"values": [null, 3]}, "threads": {"values": [null, "t", []]}}),
        json!({"exception": [{"stacktrace": {"frames": [null, 1, "f", {"data": 3, "trust": null}]}}]}),
        json!({"debug_meta": {"images": [null, {"image_addr": 18446744073709551615u64, "image_size": 2}]}}),
    ] {
        let html = render(
            &UiLimits::default(),
            &crash(&event, NativeStatus::Processed),
        );
        assert!(html.is_ok(), "{event}");
    }
}

/// What the detail page does with a [`NativeCrashView`] field: include the template where
/// it has one (with its own macros imported as `m`, as `detail.html` has).
#[derive(askama::Template)]
#[template(
    ext = "html",
    source = r#"{% import "macros.html" as m %}<main>{% if let Some(native) = native %}{% include "native_crash.html" %}{% endif %}</main>"#
)]
struct IncludedLikeTheDetailPage {
    native: Option<NativeCrashView>,
}

#[test]
fn the_detail_page_can_include_the_section() {
    let event = windows_crash();
    let crash = crash(&event, NativeStatus::Processed);
    let l = UiLimits::default();
    let page = IncludedLikeTheDetailPage {
        native: Some(native_crash_view(&l, &crash)),
    };
    let html = page.render().unwrap();
    let alone = render(&l, &crash).unwrap();
    assert_eq!(html, format!("<main>{alone}</main>"));
    let empty = IncludedLikeTheDetailPage { native: None };
    assert_eq!(empty.render().unwrap(), "<main></main>");
}

/// The reprocess button is a plain form post to the API: the browser boundary takes it from
/// the UI's own page and refuses it from any other site. (UI pages are served with
/// `Referrer-Policy: no-referrer`, so a browser sends `Origin: null` with the form; the
/// `Sec-Fetch-Site` header every current browser sends is what lets it through.)
#[test]
fn the_reprocess_form_passes_the_browser_boundary_from_the_ui_only() {
    use http::{HeaderMap, HeaderValue, Method};
    let boundary = http_edge::BrowserBoundary::default();
    let form = |site: &'static str| {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "127.0.0.1:8000"),
            ("origin", "null"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("sec-fetch-site", site),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers
    };
    assert!(boundary.check(&Method::POST, &form("same-origin")).is_ok());
    for other in ["cross-site", "same-site"] {
        assert!(
            boundary.check(&Method::POST, &form(other)).is_err(),
            "{other}"
        );
    }
}

#[test]
fn path_segments_keep_ids_in_their_place() {
    assert_eq!(path_segment("0190f2d4-0000-7000"), "0190f2d4-0000-7000");
    assert_eq!(path_segment(".."), "%2E%2E");
    assert_eq!(path_segment("a/b?c#d é"), "a%2Fb%3Fc%23d%20%C3%A9");
}
