//! Eliot's v5/v4 symbolication API: exact response shapes, including inlines, unknown
//! modules and the found_modules tri-state, and its validation errors.

mod support;

use fake_symbols::testing::FakeSymbols;
use fake_symbols::{FaultAction, FaultRule, FaultSpec};
use serde_json::{Value, json};
use support::*;

async fn server() -> FakeSymbols {
    let symbols = FakeSymbols::start().await.unwrap();
    symbols
        .store()
        .put(&libfoo_key(), false, LIBFOO_SYM.as_bytes())
        .unwrap();
    symbols
        .store()
        .put(&xul_key(), false, XUL_SYM.as_bytes())
        .unwrap();
    symbols
}

async fn post(symbols: &FakeSymbols, path: &str, body: &str) -> (u16, Value) {
    let response = raw_client()
        .post(format!("{}{path}", symbols.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn v5_exact_shape_with_inlines_unknown_and_missing_modules() {
    let symbols = server().await;
    let request = json!({
        "jobs": [{
            "memoryMap": [["libfoo.so", DEBUG_ID], ["xul.pdb", XUL_DEBUG_ID], ["gone.pdb", "ABCDEF"], ["unused.so", "00"]],
            "stacks": [[[0, 0x1010], [1, 0x2010], [2, 0x30], [-1, 0x1234], [0, 0x9000]]]
        }],
        "version": 5
    });
    let (status, body) = post(&symbols, "/symbolicate/v5", &request.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"results": [{
            "stacks": [[
                {"frame": 0, "module": "libfoo.so", "module_offset": "0x1010",
                 "function": "foo::crash_here", "function_offset": "0x10",
                 "file": "/src/foo/crash.rs", "line": 42,
                 "inlines": [
                    {"function": "foo::deep_inline", "file": "/src/foo/deep.rs", "line": 99},
                    {"function": "foo::helper", "file": "/src/foo/helper.rs", "line": 17}
                 ]},
                {"frame": 1, "module": "xul.dll", "module_offset": "0x2010",
                 "function": "mozilla::dom::Element::Focus()", "function_offset": "0x10",
                 "file": "hg:hg.mozilla.org/mozilla-central:dom/base/Element.cpp:abc", "line": 120},
                {"frame": 2, "module": "gone.pdb", "module_offset": "0x30"},
                {"frame": 3, "module": "<unknown>", "module_offset": "0x1234"},
                {"frame": 4, "module": "libfoo.so", "module_offset": "0x9000"}
            ]],
            "found_modules": {
                format!("libfoo.so/{DEBUG_ID}"): true,
                format!("xul.pdb/{XUL_DEBUG_ID}"): true,
                "gone.pdb/ABCDEF": false,
                "unused.so/00": null
            }
        }]})
    );
}

#[tokio::test]
async fn v5_bare_job_and_multiple_jobs() {
    let symbols = server().await;
    let bare =
        json!({"memoryMap": [["libfoo.so", DEBUG_ID]], "stacks": [[[0, 0x1020]]], "version": 5});
    let (status, body) = post(&symbols, "/symbolicate/v5", &bare.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["results"][0]["stacks"][0][0]["function"],
        "foo::crash_here"
    );
    assert_eq!(body["results"][0]["stacks"][0][0]["line"], 44);
    let two = json!({"jobs": [bare.clone(), bare]});
    let (_, body) = post(&symbols, "/symbolicate/v5", &two.to_string()).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn v5_module_faults_make_the_module_false() {
    let symbols = server().await;
    symbols
        .set_faults(FaultSpec {
            seed: 0,
            rules: vec![FaultRule {
                path: None,
                module: Some("libfoo.so".into()),
                first: None,
                share: None,
                action: FaultAction::Status {
                    code: 503,
                    retry_after_secs: None,
                },
            }],
        })
        .unwrap();
    let request = json!({"memoryMap": [["libfoo.so", DEBUG_ID]], "stacks": [[[0, 0x1010]]]});
    let (_, body) = post(&symbols, "/symbolicate/v5", &request.to_string()).await;
    assert_eq!(
        body["results"][0]["found_modules"][format!("libfoo.so/{DEBUG_ID}")],
        false
    );
    assert_eq!(
        body["results"][0]["stacks"][0][0],
        json!({"frame": 0, "module": "libfoo.so", "module_offset": "0x1010"})
    );
}

#[tokio::test]
async fn v5_line_before_func_gives_a_negative_function_offset() {
    let symbols = FakeSymbols::start().await.unwrap();
    let sym =
        "MODULE Linux x86_64 AB0 libbad.so\nFILE 0 a.c\nFUNC 1000 10 0 bad::func\nffb 15 7 0\n";
    symbols
        .store()
        .put(
            &fake_symbols::SymbolKey::parse("libbad.so", "AB0", "libbad.so.sym").unwrap(),
            false,
            sym.as_bytes(),
        )
        .unwrap();
    let request = json!({"memoryMap": [["libbad.so", "AB0"]], "stacks": [[[0, 0xffb]]]});
    let (_, body) = post(&symbols, "/symbolicate/v5", &request.to_string()).await;
    let frame = &body["results"][0]["stacks"][0][0];
    assert_eq!(frame["function"], "bad::func");
    assert_eq!(frame["function_offset"], "-0x5");
}

#[tokio::test]
async fn v4_shape() {
    let symbols = server().await;
    let request = json!({"memoryMap": [["libfoo.so", DEBUG_ID], ["wntdll.pdb", "AA"]],
        "stacks": [[[0, 0x1010], [1, 0x1010a]]], "version": 4});
    let (status, body) = post(&symbols, "/symbolicate/v4", &request.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"symbolicatedStacks": [["foo::crash_here (in libfoo.so)", "0x1010a (in wntdll.pdb)"]],
               "knownModules": [true, false]})
    );
}

#[tokio::test]
async fn validation_errors_are_eliot_s() {
    let symbols = server().await;
    let job = json!({"memoryMap": [["libfoo.so", DEBUG_ID]], "stacks": [[[0, 1]]]});
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "Payload is not valid JSON"),
        (
            json!({"jobs": vec![job.clone(); 11]}).to_string(),
            "please limit number of jobs in a single request to <= 10",
        ),
        (json!({"jobs": [1]}).to_string(), "job 0 is invalid"),
        (
            json!({"jobs": [{"memoryMap": []}]}).to_string(),
            "job 0 is invalid: no stacks specified",
        ),
        (
            json!({"jobs": [{"stacks": [[[0, 1]]]}]}).to_string(),
            "job 0 is invalid: no memoryMap specified",
        ),
        (
            json!({"memoryMap": [["bad/name", "AB"]], "stacks": [[[0, 1]]]}).to_string(),
            "job 0 has invalid modules: module index 0 has an invalid debug_filename",
        ),
        (
            json!({"memoryMap": [["ok.pdb", "XYZ"]], "stacks": [[[0, 1]]]}).to_string(),
            "job 0 has invalid modules: module index 0 has an invalid debug_id",
        ),
        (
            json!({"memoryMap": [["ok.pdb", "AB"]], "stacks": [[[1, 1]]]}).to_string(),
            "job 0 has invalid stacks: stack 0 frame 0 has an invalid module_index",
        ),
        (
            json!({"memoryMap": [["ok.pdb", "AB"]], "stacks": [[[0, -2]]]}).to_string(),
            "job 0 has invalid stacks: stack 0 frame 0 has an invalid module_offset",
        ),
    ];
    for (body, title) in cases {
        let (status, answer) = post(&symbols, "/symbolicate/v5", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["title"], title, "{body}");
    }
}
