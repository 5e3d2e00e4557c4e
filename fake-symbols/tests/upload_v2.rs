//! Tecken's upload v2 and its GCS resumable sessions, driven the way the `upload-symbols` CLI
//! drives them: `auth_info`, `POST /upload/v2/`, gzip when asked, then `PUT` chunks with
//! `Content-Range` and follow the 308 `Range` answers until the 200 object.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use fake_symbols::Config;
use fake_symbols::config::Token;
use fake_symbols::testing::FakeSymbols;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use support::*;
use tokio::io::AsyncWriteExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const TRY_TOKEN: &str = "feedfacefeedfacefeedfacefeedface";

fn config() -> Config {
    let mut config = Config::ephemeral();
    config.upload_api_version = 2;
    config.tokens = vec![
        Token::parse_flag(&format!("{TOKEN}:upload:dev@example.com")).unwrap(),
        Token::parse_flag(&format!("{TRY_TOKEN}:upload_try")).unwrap(),
    ];
    config
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn spec(key: &str, content: &[u8]) -> Value {
    json!({"key": key, "size": content.len(), "md5_hash": md5_hex(content)})
}

async fn post_v2(symbols: &FakeSymbols, token: Option<&str>, body: String) -> (u16, Value) {
    let mut request = raw_client()
        .post(format!("{}/upload/v2/", symbols.url()))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header("auth-token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn put(url: &str, content_range: Option<String>, body: Vec<u8>) -> reqwest_012::Response {
    let mut request = raw_client()
        .put(url)
        .header("content-length", body.len())
        .body(body);
    if let Some(range) = content_range {
        request = request.header("content-range", range);
    }
    request.send().await.unwrap()
}

/// The `upload-symbols` v2 loop: chunks of `chunk` bytes, resuming from the 308 `Range`.
/// Returns the statuses seen and the final object.
async fn upload_chunked(url: &str, data: &[u8], chunk: u64) -> (Vec<u16>, Value) {
    let total = data.len() as u64;
    let mut sent = 0u64;
    let mut statuses = Vec::new();
    loop {
        let size = chunk.min(total - sent);
        let last = (sent + size).saturating_sub(1);
        let response = put(
            url,
            Some(format!("bytes {sent}-{last}/{total}")),
            data[sent as usize..(sent + size) as usize].to_vec(),
        )
        .await;
        let status = response.status().as_u16();
        statuses.push(status);
        match status {
            200 | 201 => return (statuses, response.json().await.unwrap()),
            308 => {
                let range = response.headers()["range"].to_str().unwrap().to_string();
                sent = range
                    .strip_prefix("bytes=0-")
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    + 1;
            }
            // upload-symbols retries these (10 times, from 1 s; immediately here).
            429 | 500 | 502 | 503 | 504 => {}
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
}

#[tokio::test]
async fn a_v2_upload_as_upload_symbols_does_it() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let info: Value = raw_client()
        .post(format!("{}/upload/auth_info/", symbols.url()))
        .header("auth-token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["upload_api_version"], 2);

    let sym_key = format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym");
    let body = json!({"files": [
        spec(&sym_key, LIBFOO_SYM.as_bytes()),
        spec("libfoo.so/not-hex/libfoo.so.sym", b"x"),
        {"key": "libbar.so/ABCD0/libbar.so.sym", "size": 1, "md5_hash": "not-an-md5"},
    ]});
    let (status, response) = post_v2(&symbols, Some(TOKEN), body.to_string()).await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(response["user"], "dev@example.com");
    assert_eq!(response["try_symbols"], false);
    assert_eq!(response["upload_protocol"], "gcs-resumable");
    assert!(
        response["id"].is_u64() && response["created_at"].is_u64(),
        "{response}"
    );
    let files = response["files"].as_array().unwrap();
    assert_eq!(files[0]["key"], sym_key);
    assert_eq!(files[0]["action"]["type"], "upload");
    assert_eq!(files[0]["action"]["content_encoding"], "gzip");
    assert_eq!(
        files[1],
        json!({"key": "libfoo.so/not-hex/libfoo.so.sym", "action": {"type": "error", "msg": "invalid key"}})
    );
    assert_eq!(
        files[2]["action"],
        json!({"type": "error", "msg": "invalid MD5 hex digest"})
    );

    // Gzip as asked, then 40-byte chunks: 308s with the stored range, then the object.
    let url = files[0]["action"]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/__storage__/upload/", symbols.url())));
    let gz = gzip(LIBFOO_SYM.as_bytes());
    let (statuses, object) = upload_chunked(&url, &gz, 40).await;
    let chunks = gz.len().div_ceil(40);
    assert_eq!(statuses.len(), chunks);
    assert!(
        statuses[..chunks - 1].iter().all(|s| *s == 308),
        "{statuses:?}"
    );
    assert_eq!(object["name"], format!("v1/{sym_key}"));
    assert_eq!(object["size"], gz.len().to_string());
    assert_eq!(
        object["md5Hash"],
        base64::engine::general_purpose::STANDARD.encode(Md5::digest(&gz))
    );
    assert_eq!(object["contentEncoding"], "gzip");

    // Stored as the original content: downloads serve it and v2 now skips it.
    let downloaded = raw_client()
        .get(format!("{}{}", symbols.url(), libfoo_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.text().await.unwrap(), LIBFOO_SYM);
    let stored = symbols.store().get(&libfoo_key(), false).unwrap().unwrap();
    assert_eq!(stored.header.debug_file.as_deref(), Some("libfoo.so"));
    let (status, again) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": [spec(&sym_key, LIBFOO_SYM.as_bytes())]}).to_string(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(again["files"][0]["action"], json!({"type": "skip"}));
    // A repeated final chunk answers the object again, as GCS does for a finished session.
    let last = put(&url, Some(format!("bytes */{}", gz.len())), Vec::new()).await;
    assert_eq!(last.status(), 200);
    assert_eq!(symbols.sessions_pending(), 0);
}

#[tokio::test]
async fn resumable_sessions_answer_status_queries_overlaps_gaps_and_bad_lengths() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let content = b"\x7fELF not a sym, stored as is".repeat(10);
    let key = "libfoo.so/ABCDEF0/libfoo.so.dbg.gz";
    let (_, response) = post_v2(
        &symbols,
        Some(TRY_TOKEN),
        json!({"files": [spec(key, &content)]}).to_string(),
    )
    .await;
    assert_eq!(response["try_symbols"], true);
    let action = &response["files"][0]["action"];
    assert_eq!(action["content_encoding"], Value::Null);
    let url = action["url"].as_str().unwrap().to_string();
    let total = content.len();
    let error = |v: Value| {
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // Nothing yet: a status query answers 308 without a Range.
    let status = put(&url, Some(format!("bytes */{total}")), vec![]).await;
    assert_eq!(status.status(), 308);
    assert!(status.headers().get("range").is_none());
    // A first chunk, then a retry of it that overlaps and goes further.
    let first = put(
        &url,
        Some(format!("bytes 0-99/{total}")),
        content[..100].to_vec(),
    )
    .await;
    assert_eq!(first.headers()["range"], "bytes=0-99");
    let overlap = put(
        &url,
        Some(format!("bytes 50-149/{total}")),
        content[50..150].to_vec(),
    )
    .await;
    assert_eq!(
        (overlap.status().as_u16(), &overlap.headers()["range"]),
        (308, &"bytes=0-149".parse().unwrap())
    );
    // A gap is refused with GCS's JSON error; so is a body shorter than its range.
    let gap = put(
        &url,
        Some(format!("bytes 200-209/{total}")),
        content[200..210].to_vec(),
    )
    .await;
    assert_eq!(gap.status(), 400);
    assert!(error(gap.json().await.unwrap()).contains("exceeds already uploaded size of 150"));
    let short = put(
        &url,
        Some(format!("bytes 150-199/{total}")),
        content[150..160].to_vec(),
    )
    .await;
    assert_eq!(short.status(), 400);
    let status = put(&url, Some("bytes */*".into()), vec![]).await;
    assert_eq!(
        status.headers()["range"],
        "bytes=0-149",
        "a refused chunk is not kept"
    );
    // A changed total and an unknown session.
    let changed = put(
        &url,
        Some("bytes 150-151/999".into()),
        content[150..152].to_vec(),
    )
    .await;
    assert_eq!(changed.status(), 400);
    let unknown = put(
        &format!("{}/__storage__/upload/999999", symbols.url()),
        None,
        vec![1],
    )
    .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], 404);
    // The rest, with the total unknown until the last chunk.
    let middle = put(
        &url,
        Some("bytes 150-199/*".into()),
        content[150..200].to_vec(),
    )
    .await;
    assert_eq!(middle.headers()["range"], "bytes=0-199");
    let done = put(
        &url,
        Some(format!("bytes 200-{}/{total}", total - 1)),
        content[200..].to_vec(),
    )
    .await;
    assert_eq!(done.status(), 200);
    let object: Value = done.json().await.unwrap();
    assert_eq!(object["name"], format!("try/v1/{key}"));
    assert_eq!(object["size"], total.to_string());
    let key = fake_symbols::SymbolKey::from_path(key).unwrap();
    let stored = symbols.store().get_exact(&key, true).unwrap().unwrap();
    assert_eq!((stored.size, stored.md5), (total as u64, md5_hex(&content)));
}

#[tokio::test]
async fn whole_object_puts_and_content_that_does_not_match_the_declaration() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let plain = b"MODULE Linux x86_64 ABCD0 libbar.so\nFUNC 1000 10 0 bar\n";
    let files = json!({"files": [
        spec("libbar.so/ABCD0/libbar.so.sym", plain),
        spec("libbaz.so/ABCD0/libbaz.so.sym", plain),
        spec("libqux.so/ABCD0/libqux.so.sym", plain),
    ]});
    let (_, response) = post_v2(&symbols, Some(TOKEN), files.to_string()).await;
    let url = |i: usize| {
        response["files"][i]["action"]["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(symbols.sessions_pending(), 3);

    // No Content-Range: the body is the whole object.
    let whole = put(&url(0), None, gzip(plain)).await;
    assert_eq!(whole.status(), 200, "{:?}", whole.text().await);
    // Not gzip although gzip was asked.
    let raw = put(&url(1), None, plain.to_vec()).await;
    assert_eq!(raw.status(), 400);
    // Gzip of other content than declared: refused, nothing stored.
    let other = put(
        &url(2),
        None,
        gzip(b"MODULE Linux x86_64 ABCD0 libqux.so\n"),
    )
    .await;
    assert_eq!(other.status(), 400);
    let message = other.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("does not match the declared file"),
        "{message}"
    );
    let stored = |name: &str| {
        let key = fake_symbols::SymbolKey::from_path(&format!("{name}/ABCD0/{name}.sym"));
        symbols
            .store()
            .get_exact(&key.unwrap(), false)
            .unwrap()
            .is_some()
    };
    assert!(stored("libbar.so"));
    assert!(!stored("libbaz.so") && !stored("libqux.so"));
    assert_eq!(symbols.sessions_pending(), 0, "failed sessions are closed");
    assert!(
        std::fs::read_dir(symbols.store().staging_dir())
            .unwrap()
            .next()
            .is_none(),
        "no staging files left"
    );
}

#[tokio::test]
async fn v2_request_errors_are_json() {
    let mut config = config();
    config.limits.max_upload_v2_files = 2;
    config.limits.max_upload_sessions = 2;
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    let error = |v: &Value| v["error"].as_str().unwrap_or_default().to_string();
    let three: Vec<Value> = (0..3)
        .map(|i| spec(&format!("m{i}.so/ABCD0/m{i}.so.sym"), b"x"))
        .collect();

    let (status, body) = post_v2(&symbols, None, json!({"files": []}).to_string()).await;
    assert_eq!(
        (status, error(&body).as_str()),
        (
            403,
            "This requires an Auth-Token to authenticate the request"
        )
    );
    let (status, body) = post_v2(&symbols, Some(TOKEN), "{not json".into()).await;
    assert_eq!(
        (status, error(&body).as_str()),
        (400, "malformed JSON request body")
    );
    let (status, body) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": [{"key": "a/B/c"}]}).to_string(),
    )
    .await;
    assert_eq!(
        (status, error(&body).as_str()),
        (400, "malformed JSON request body")
    );
    let (status, body) = post_v2(&symbols, Some(TOKEN), json!({"files": three}).to_string()).await;
    assert_eq!((status, error(&body).as_str()), (400, "too many files"));
    let get = raw_client()
        .get(format!("{}/upload/v2/", symbols.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(
        error(&get.json().await.unwrap()),
        "Method Not Allowed (GET): /upload/v2/"
    );
    // Two sessions fit; a third waits for them (503, which upload-symbols retries).
    let (status, _) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": &three[..2]}).to_string(),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": &three[2..]}).to_string(),
    )
    .await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn a_chunk_cut_short_by_a_disconnect_is_not_kept() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let content = vec![b'z'; 4096];
    let (_, response) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": [spec("big.so/ABCD0/big.so.dbg.gz", &content)]}).to_string(),
    )
    .await;
    let url = response["files"][0]["action"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let first = put(
        &url,
        Some("bytes 0-1023/4096".into()),
        content[..1024].to_vec(),
    )
    .await;
    assert_eq!(first.headers()["range"], "bytes=0-1023");

    // Announce 2048 bytes, send 100, hang up.
    let path = url.strip_prefix(&symbols.url()).unwrap().to_string();
    let mut stream = tokio::net::TcpStream::connect(symbols.addr())
        .await
        .unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: x\r\ncontent-range: bytes 1024-3071/4096\r\ncontent-length: 2048\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&content[1024..1124]).await.unwrap();
    stream.flush().await.unwrap();
    // The 100 bytes reach the session's staging file, then the client goes away mid-body.
    let staging = symbols.store().staging_dir();
    let staged_len = || {
        std::fs::read_dir(&staging)
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .max()
    };
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(20);
    while staged_len() != Some(1124) {
        assert!(
            Instant::now() < deadline,
            "partial chunk never written: {:?}",
            staged_len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The session still stands at the last whole chunk ...
    let status = put(&url, Some("bytes */4096".into()), vec![]).await;
    assert_eq!(status.status(), 308);
    assert_eq!(status.headers()["range"], "bytes=0-1023");
    // ... and the next chunk replaces the partial one (or the md5 check would fail).
    let done = put(
        &url,
        Some("bytes 1024-4095/4096".into()),
        content[1024..].to_vec(),
    )
    .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn session_urls_go_through_the_fault_rules() {
    use fake_symbols::{FaultAction, FaultRule, FaultSpec};
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    symbols
        .set_faults(FaultSpec {
            seed: 1,
            rules: vec![FaultRule {
                path: Some("^/__storage__/upload/".into()),
                module: None,
                first: Some(2),
                share: None,
                action: FaultAction::Status {
                    code: 503,
                    retry_after_secs: None,
                },
            }],
        })
        .unwrap();
    let key = format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym");
    let (_, response) = post_v2(
        &symbols,
        Some(TOKEN),
        json!({"files": [spec(&key, LIBFOO_SYM.as_bytes())]}).to_string(),
    )
    .await;
    let url = response["files"][0]["action"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let gz = gzip(LIBFOO_SYM.as_bytes());
    let (statuses, object) = upload_chunked(&url, &gz, 100).await;
    assert_eq!(&statuses[..2], [503, 503]);
    assert_eq!(*statuses.last().unwrap(), 200);
    assert_eq!(object["name"], format!("v1/{key}"));
    let logged: Vec<u16> = symbols
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.status)
        .collect();
    assert_eq!(logged, statuses);
}

/// A session abandoned halfway expires: its staged bytes go, its slot under
/// `max_upload_sessions` is free again and its URL answers 404, while a new session works.
#[tokio::test]
async fn abandoned_sessions_expire_and_free_their_slot_and_staged_bytes() {
    let ttl = Duration::from_millis(400);
    let mut config = config();
    config.limits.max_upload_sessions = 1;
    config.limits.upload_session_ttl = ttl;
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    let content = b"\x7fELF abandoned".repeat(20);
    let key = "libgone.so/ABCDEF1/libgone.so.dbg.gz";
    let files = json!({"files": [spec(key, &content)]}).to_string();
    let opened = Instant::now();
    let (status, response) = post_v2(&symbols, Some(TOKEN), files.clone()).await;
    assert_eq!(status, 201, "{response}");
    let url = response["files"][0]["action"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let total = content.len();
    let first = put(
        &url,
        Some(format!("bytes 0-99/{total}")),
        content[..100].to_vec(),
    )
    .await;
    assert_eq!(first.status(), 308);
    let staged = || {
        std::fs::read_dir(symbols.store().staging_dir())
            .unwrap()
            .count()
    };
    assert_eq!(staged(), 1);
    // The one slot is taken.
    let (status, _) = post_v2(&symbols, Some(TOKEN), files.clone()).await;
    assert_eq!(status, 503);

    // The client goes away; its session URL keeps answering 308 until the ttl is up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let gone = loop {
        let status = put(&url, Some(format!("bytes */{total}")), vec![]).await;
        match status.status().as_u16() {
            308 => assert!(Instant::now() < deadline, "the session never expired"),
            404 => break Instant::now(),
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(gone.duration_since(opened) >= ttl);
    assert_eq!(staged(), 0, "the staged bytes are deleted");
    assert_eq!(symbols.sessions_pending(), 0);
    // A chunk to the expired URL is refused too and stores nothing.
    let late = put(
        &url,
        Some(format!("bytes 100-{}/{total}", total - 1)),
        content[100..].to_vec(),
    )
    .await;
    assert_eq!(late.status(), 404);

    // The slot is free: a new session uploads the whole file.
    let (status, response) = post_v2(&symbols, Some(TOKEN), files).await;
    assert_eq!(status, 201, "{response}");
    let url = response["files"][0]["action"]["url"].as_str().unwrap();
    let (_, object) = upload_chunked(url, &content, 100).await;
    assert_eq!(object["size"], total.to_string());
    let key = fake_symbols::SymbolKey::from_path(key).unwrap();
    assert!(symbols.store().get_exact(&key, false).unwrap().is_some());
}
