//! Tecken's download API as clients see it: path validation, ignore list, try storage, gzip,
//! HEAD, storage redirects, code-id redirects, syminfo, CORS, Debug-Time, dockerflow and the
//! admin endpoints.

mod support;

use std::io::Read;

use fake_symbols::Config;
use fake_symbols::testing::FakeSymbols;
use serde_json::{Value, json};
use support::*;

async fn server_with(config: Config) -> FakeSymbols {
    let symbols = FakeSymbols::start_with(config).await.unwrap();
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

async fn server() -> FakeSymbols {
    server_with(Config::ephemeral()).await
}

async fn get(symbols: &FakeSymbols, path: &str) -> reqwest_012::Response {
    raw_client()
        .get(format!("{}{path}", symbols.url()))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_characters_are_json_404_and_ignored_files_text_404() {
    let symbols = server().await;
    for path in [
        "/%E6%B1%89.pdb/ABC/x.sym",
        "/p%25eter.pdb/ABC/x.sym",
        "/xul.pdb/XYZ/xul.sym",
        "/xul.pdb/ABC/a%7Cb.sym",
        "/only/two",
    ] {
        let response = get(&symbols, path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "Not Found", "{path}");
    }
    for path in [
        "/xul.pdb/ABC/file.ptr",
        "/xul.pdb/000000000000000000000000000000000/xul.sym",
        "/xul.pdb/ABC/xul.txt",
    ] {
        let response = get(&symbols, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.text().await.unwrap(),
            "Symbol Not Found (and ignored)"
        );
    }
    let missing = get(&symbols, "/xul.pdb/ABC/xul.sym").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "Symbol Not Found");
}

#[tokio::test]
async fn found_files_plain_gzip_lowercase_ids_and_query_strings() {
    let symbols = server().await;
    let path = format!(
        "/libfoo.so/{}/libfoo.so.sym?code_file=libfoo.so&code_id=x",
        DEBUG_ID.to_lowercase()
    );
    let plain = get(&symbols, &path).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["content-length"],
        LIBFOO_SYM.len().to_string().as_str()
    );
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
    assert_eq!(plain.text().await.unwrap(), LIBFOO_SYM);
    let gz = raw_client()
        .get(format!("{}{path}", symbols.url()))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, LIBFOO_SYM);
}

#[tokio::test]
async fn try_symbols_only_with_try_prefix_or_query() {
    let symbols = server().await;
    let key = fake_symbols::SymbolKey::from_path("t.pdb/AA/t.sym").unwrap();
    symbols
        .store()
        .put(&key, true, b"MODULE windows x86 AA t.pdb\n")
        .unwrap();
    assert_eq!(get(&symbols, "/t.pdb/AA/t.sym").await.status(), 404);
    assert_eq!(get(&symbols, "/try/t.pdb/AA/t.sym").await.status(), 200);
    assert_eq!(get(&symbols, "/t.pdb/AA/t.sym?try=0").await.status(), 200);
    // Regular files are found through /try/ too.
    assert_eq!(
        get(&symbols, &format!("/try{}", libfoo_path()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn head_is_200_and_storage_redirect_mode_302s() {
    let mut config = Config::ephemeral();
    config.redirect_to_storage = true;
    let symbols = server_with(config).await;
    let head = raw_client()
        .head(format!("{}{}", symbols.url(), libfoo_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let redirect = get(&symbols, &libfoo_path()).await;
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("{}/__storage__/v1{}", symbols.url(), libfoo_path())
    );
    let stored = raw_client()
        .get(&location)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.headers()["cache-control"], "no-transform");
    assert_eq!(stored.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn code_id_lookup_redirects_with_the_query_string() {
    let symbols = server().await;
    let response = get(
        &symbols,
        "/xul.dll/5D2F1A6C3A000/xul.sym?code_file=xul.dll&x=1",
    )
    .await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        format!("/xul.pdb/{XUL_DEBUG_ID}/xul.sym?code_file=xul.dll&x=1").as_str()
    );
    let head = raw_client()
        .head(format!("{}/xul.dll/5d2f1a6c3a000/xul.sym", symbols.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 302);
    // Not a code-info candidate: `.dl_` and 33-character ids.
    assert_eq!(
        get(&symbols, "/xul.dll/5D2F1A6C3A000/xul.dl_")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn syminfo_cors_debug_time_405_and_dockerflow() {
    let symbols = server().await;
    let info: Value = get(&symbols, "/api/syminfo/xul.dll/5D2F1A6C3A000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({"debug_id": XUL_DEBUG_ID, "debug_filename": "xul.pdb", "code_file": "xul.dll",
               "code_id": "5D2F1A6C3A000", "generator": "dump_syms 2.3.4",
               "url": format!("{}/xul.pdb/{XUL_DEBUG_ID}/xul.sym", symbols.url())})
    );
    assert_eq!(
        get(&symbols, "/api/syminfo/nope.dll/AB").await.status(),
        404
    );
    let debug = raw_client()
        .get(format!("{}{}", symbols.url(), libfoo_path()))
        .header("debug", "true")
        .send()
        .await
        .unwrap();
    assert!(
        debug.headers()["debug-time"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .is_ok()
    );
    assert_eq!(
        debug.headers()["access-control-allow-headers"],
        "accept,accept-encoding,authorization,content-type,dnt,origin,user-agent,x-csrftoken,x-requested-with"
    );
    let post = raw_client()
        .post(format!("{}{}", symbols.url(), libfoo_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    let body: Value = post.json().await.unwrap();
    assert_eq!(
        body["error"],
        format!("Method Not Allowed (POST): {}", libfoo_path())
    );
    assert_eq!(get(&symbols, "/__lbheartbeat__").await.status(), 200);
    let heartbeat: Value = get(&symbols, "/__heartbeat__").await.json().await.unwrap();
    assert_eq!(heartbeat["status"], "ok");
    let version: Value = get(&symbols, "/__version__").await.json().await.unwrap();
    assert!(version["version"].is_string());
}

#[tokio::test]
async fn fault_admin_api_and_request_log() {
    let symbols = server().await;
    let client = raw_client();
    let bad = client
        .put(format!("{}/__fault__", symbols.url()))
        .header("content-type", "application/json")
        .body(r#"{"rules": [{"action": {"kind": "status", "code": 200}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let spec = json!({"seed": 9, "rules": [{"path": "^/libfoo", "first": 1,
        "action": {"kind": "status", "code": 429, "retry_after_secs": 7}}]});
    let set = client
        .put(format!("{}/__fault__", symbols.url()))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let limited = get(&symbols, &libfoo_path()).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(get(&symbols, &libfoo_path()).await.status(), 200);
    let log: Value = get(&symbols, "/__requests__").await.json().await.unwrap();
    let statuses: Vec<(String, u64)> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("/__fault__".to_string(), 400),
            ("/__fault__".to_string(), 200),
            (libfoo_path(), 429),
            (libfoo_path(), 200)
        ]
    );
    assert_eq!(log["requests"][2]["faults"], json!([0]));
    let current: Value = get(&symbols, "/__fault__").await.json().await.unwrap();
    assert_eq!(current, spec);
}
