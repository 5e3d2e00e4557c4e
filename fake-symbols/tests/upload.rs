//! Tecken's upload API: every error string, the 201 body, skipped re-uploads, try uploads,
//! zip-slip, upload by download (against wiremock) and disconnect cleanup.

mod support;

use std::time::{Duration, Instant};

use fake_symbols::Config;
use fake_symbols::config::{Permission, Token};
use fake_symbols::testing::FakeSymbols;
use reqwest_012::multipart::{Form, Part};
use serde_json::Value;
use support::*;
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const TRY_TOKEN: &str = "feedfacefeedfacefeedfacefeedface";

fn config() -> Config {
    let mut config = Config::ephemeral();
    let mut expired = Token::parse_flag("expired:upload").unwrap();
    expired.expires_at = Some(1);
    let mut inactive = Token::parse_flag("inactive:upload").unwrap();
    inactive.active = false;
    config.tokens = vec![
        Token::parse_flag(&format!("{TOKEN}:upload:dev@example.com")).unwrap(),
        Token::parse_flag(&format!("{TRY_TOKEN}:upload_try")).unwrap(),
        Token::parse_flag("viewer:view_all_uploads").unwrap(),
        expired,
        inactive,
    ];
    config
}

async fn upload_form(symbols: &FakeSymbols, token: Option<&str>, form: Form) -> (u16, Value) {
    let mut request = raw_client().post(format!("{}/upload/", symbols.url()));
    if let Some(token) = token {
        request = request.header("auth-token", token);
    }
    let response = request.multipart(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn upload_zip(symbols: &FakeSymbols, token: &str, field: &str, zip: Vec<u8>) -> (u16, Value) {
    let form = Form::new().part(field.to_string(), Part::bytes(zip).file_name("symbols.zip"));
    upload_form(symbols, Some(token), form).await
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn auth_errors() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let zip = || {
        zip_of(&[(
            "libfoo.so/ABCD/libfoo.so.sym",
            b"MODULE Linux x86 ABCD libfoo.so\n",
        )])
    };
    let cases = [
        (
            None,
            "This requires an Auth-Token to authenticate the request",
        ),
        (Some("nottoken"), "API Token not matched"),
        (Some("expired"), "API Token found but expired"),
        (Some("inactive"), "API Token matched but user not active"),
        (Some("viewer"), "Forbidden"),
    ];
    for (token, message) in cases {
        let form = Form::new().part("symbols.zip", Part::bytes(zip()).file_name("s.zip"));
        let (status, body) = upload_form(&symbols, token, form).await;
        assert_eq!((status, error(&body)), (403, message));
    }
    // A comment after `-` is ignored.
    let (status, _) = upload_zip(
        &symbols,
        &format!("{TOKEN}-ci-20230913"),
        "symbols.zip",
        zip(),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn archive_errors_are_tecken_s_and_nothing_is_written() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let sym: &[u8] = b"MODULE Linux x86 ABCD libfoo.so\n";
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("symbols.rar", zip_of(&[("a/AB/a.sym", sym)]), "Unrecognized archive file extension \".rar\"".into()),
        ("symbols.zip", b"not a zip".to_vec(), "File is not a zip file".into()),
        ("symbols.zip", Vec::new(), "File is not a zip file".into()),
        (
            "symbols.zip",
            duplicated(zip_of(&[("a/AB/a.sym", b"123456789012345678901234"), ("a/AB/b.sym", b"123456789012345678901234567890123456789")])),
            "The zipfile buffer contains two files both called a/AB/a.sym and they have difference sizes (24 != 39)".into(),
        ),
        (
            "symbols.zip",
            zip_of(&[("qcom/proprietary/AB/x.sym", sym)]),
            "Content of archive file contains the snippet 'qcom/proprietary' which is not allowed".into(),
        ),
        (
            "symbols.zip",
            zip_of(&[("a/AB/a.sym", sym), ("xpcshell.sym", sym)]),
            "Unrecognized file pattern. Should only be <module>/<hex>/<file> or <name>-symbols.txt and nothing else. (First unrecognized pattern was 'xpcshell.sym')".into(),
        ),
        ("symbols.zip", zip_of(&[("../../AB/evil.sym", sym)]), pattern_error("../../AB/evil.sym")),
        ("symbols.zip", zip_of(&[("/abs/AB/evil.sym", sym)]), pattern_error("/abs/AB/evil.sym")),
        ("symbols.zip", zip_of(&[("a/NOTHEX/a.sym", sym)]), pattern_error("a/NOTHEX/a.sym")),
    ];
    for (field, zip, message) in cases {
        let (status, body) = upload_zip(&symbols, TOKEN, field, zip).await;
        assert_eq!((status, error(&body)), (400, message.as_str()));
    }
    let (status, body) = upload_form(&symbols, Some(TOKEN), Form::new().text("try", "1")).await;
    assert_eq!(
        (status, error(&body)),
        (400, "Must be multipart form data with at least one file")
    );
    assert!(symbols.store().list().unwrap().is_empty());
    let staging = symbols.store().staging_dir();
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

/// Renames `a/AB/b.sym` to `a/AB/a.sym` in place (zip writers refuse duplicate names).
fn duplicated(mut zip: Vec<u8>) -> Vec<u8> {
    let from = b"a/AB/b.sym";
    let mut at = 0;
    while let Some(i) = zip[at..].windows(from.len()).position(|w| w == from) {
        zip[at + i + 5] = b'a';
        at += i + from.len();
    }
    zip
}

fn pattern_error(name: &str) -> String {
    format!(
        "Unrecognized file pattern. Should only be <module>/<hex>/<file> or <name>-symbols.txt and nothing else. (First unrecognized pattern was '{name}')"
    )
}

#[tokio::test]
async fn upload_then_download_and_reupload_is_skipped() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let zip = zip_of(&[
        (
            &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
            LIBFOO_SYM.as_bytes(),
        ),
        ("firefox-symbols.txt", b"list"),
        ("xul.pdb/.DS_Store", b""),
        ("flag/deadbeef/flag.jpeg", b"\xff\xd8"),
    ]);
    let (status, body) = upload_zip(&symbols, TOKEN, "symbols.zip", zip.clone()).await;
    assert_eq!(status, 201, "{body}");
    let upload = &body["upload"];
    for field in [
        "id",
        "size",
        "filename",
        "bucket",
        "download_url",
        "try_symbols",
        "redirect_urls",
        "completed_at",
        "created_at",
        "user",
        "skipped_keys",
    ] {
        assert!(upload.get(field).is_some(), "missing {field}: {body}");
    }
    assert_eq!(upload["size"], zip.len() as u64);
    assert_eq!(upload["filename"], "symbols.zip");
    assert_eq!(upload["user"], "dev@example.com");
    assert_eq!(upload["try_symbols"], false);
    assert_eq!(upload["skipped_keys"], serde_json::json!([]));
    let downloaded = raw_client()
        .get(format!("{}{}", symbols.url(), libfoo_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.text().await.unwrap(), LIBFOO_SYM);
    let (status, body) = upload_zip(&symbols, TOKEN, "symbols.zip", zip).await;
    assert_eq!(status, 201);
    let mut skipped: Vec<String> =
        serde_json::from_value(body["upload"]["skipped_keys"].clone()).unwrap();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            // Tecken reports the member name as uploaded: the lower-case id stays.
            "v1/flag/deadbeef/flag.jpeg".to_string(),
            format!("v1/libfoo.so/{DEBUG_ID}/libfoo.so.sym")
        ]
    );
    // The store itself files it under the upper-cased id, which downloads look up.
    assert!(
        symbols
            .store()
            .get(
                &fake_symbols::SymbolKey::from_path("flag/DEADBEEF/flag.jpeg").unwrap(),
                false
            )
            .unwrap()
            .is_some()
    );
    // The header went into the index.
    let stored = symbols.store().get(&libfoo_key(), false).unwrap().unwrap();
    assert_eq!(
        stored.header.code_id.as_deref(),
        Some("A0A1A2A3A4A5A6A7A8A9AAABACADAEAFCAFEBABE")
    );
}

#[tokio::test]
async fn try_uploads_by_permission_or_field() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let zip = zip_of(&[(
        &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
        LIBFOO_SYM.as_bytes(),
    )]);
    let (status, body) = upload_zip(&symbols, TRY_TOKEN, "symbols.zip", zip.clone()).await;
    assert_eq!(
        (status, &body["upload"]["try_symbols"]),
        (201, &Value::Bool(true))
    );
    assert!(symbols.store().get(&libfoo_key(), false).unwrap().is_none());
    assert!(symbols.store().get(&libfoo_key(), true).unwrap().is_some());
    let form = Form::new()
        .text("try", "yes")
        .part("symbols.zip", Part::bytes(zip).file_name("s.zip"));
    let (status, body) = upload_form(&symbols, Some(TOKEN), form).await;
    assert_eq!(status, 201);
    assert_eq!(body["upload"]["try_symbols"], true);
    let info: Value = raw_client()
        .post(format!("{}/upload/auth_info/", symbols.url()))
        .header("auth-token", TRY_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["try_symbols"], true);
    assert_eq!(info["upload_api_version"], 1);
    assert!(info["token_expires_at"].is_i64());
    assert_eq!(Permission::UploadTry, config().tokens[1].permission);
}

#[tokio::test]
async fn upload_larger_than_the_limit_is_413() {
    let mut config = config();
    config.limits.max_upload_bytes = 1000;
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    let form = Form::new().part(
        "symbols.zip",
        Part::bytes(vec![0u8; 3000]).file_name("s.zip"),
    );
    let (status, body) = upload_form(&symbols, Some(TOKEN), form).await;
    assert_eq!(
        (status, error(&body)),
        (413, "upload is too large (limit 1000 bytes)")
    );
}

async fn url_upload(symbols: &FakeSymbols, url: &str) -> (u16, Value) {
    let response = raw_client()
        .post(format!("{}/upload/", symbols.url()))
        .header("auth-token", TOKEN)
        .form(&[("url", url)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn upload_by_download_from_allowed_domains() {
    let remote = MockServer::start().await;
    let zip = zip_of(&[(
        &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
        LIBFOO_SYM.as_bytes(),
    )]);
    Mock::given(method("HEAD"))
        .and(path("/good/symbols.zip"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", zip.len().to_string().as_str()),
        )
        .mount(&remote)
        .await;
    Mock::given(method("GET"))
        .and(path("/good/symbols.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip.clone()))
        .mount(&remote)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/moved.zip"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/good/symbols.zip"))
        .mount(&remote)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/loop.zip"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop.zip"))
        .mount(&remote)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/missing.zip"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&remote)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/broken.zip"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&remote)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/flaky.zip"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&remote)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky.zip"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&remote)
        .await;

    let host = remote.address().to_string();
    let mut config = config();
    config.url_uploads.allowed_domains = vec![host.clone()];
    config.url_uploads.require_https = false;
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    let base = remote.uri();

    let (status, body) = url_upload(&symbols, &format!("{base}/moved.zip")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["upload"]["download_url"], format!("{base}/moved.zip"));
    assert_eq!(body["upload"]["filename"], "symbols.zip");
    assert!(symbols.store().get(&libfoo_key(), false).unwrap().is_some());

    let cases = [
        (
            format!("{base}/loop.zip"),
            400,
            format!("Too many redirects trying to open {base}/loop.zip"),
        ),
        (
            format!("{base}/missing.zip"),
            400,
            format!("{base}/missing.zip can't be found (404)"),
        ),
        (
            format!("{base}/broken.zip"),
            500,
            format!("{base}/broken.zip errored (503)"),
        ),
        (
            format!("{base}/flaky.zip"),
            400,
            format!("non-200 status code when retrieving {base}/flaky.zip"),
        ),
        (
            "http://evil.example.com/s.zip".to_string(),
            400,
            "Not an allowed domain ('evil.example.com') to download from.".to_string(),
        ),
    ];
    for (url, code, message) in cases {
        let (status, body) = url_upload(&symbols, &url).await;
        assert_eq!((status, error(&body)), (code, message.as_str()), "{url}");
    }

    // Tecken's defaults: https only.
    let strict = FakeSymbols::start_with(self::config()).await.unwrap();
    let (status, body) = url_upload(&strict, &format!("{base}/good/symbols.zip")).await;
    assert_eq!((status, error(&body)), (400, "Insecure URL"));
    let (status, body) = url_upload(&strict, "https://example.com/s.zip").await;
    assert_eq!(
        (status, error(&body)),
        (
            400,
            "Not an allowed domain ('example.com') to download from."
        )
    );
}

#[tokio::test]
async fn a_client_that_disconnects_leaves_no_temp_files() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let staging = symbols.store().staging_dir();
    let mut stream = tokio::net::TcpStream::connect(symbols.addr())
        .await
        .unwrap();
    let boundary = "XyZ";
    let head = format!(
        "POST /upload/ HTTP/1.1\r\nhost: x\r\nauth-token: {TOKEN}\r\ncontent-type: multipart/form-data; boundary={boundary}\r\ncontent-length: 100000000\r\n\r\n--{boundary}\r\ncontent-disposition: form-data; name=\"symbols.zip\"; filename=\"s.zip\"\r\ncontent-type: application/zip\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'P'; 1 << 20]).await.unwrap();
    stream.flush().await.unwrap();
    // The upload is being staged ...
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&staging).unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "no temp file appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... and disappears when the client goes away mid-body.
    drop(stream);
    while std::fs::read_dir(&staging).unwrap().count() != 0 {
        assert!(Instant::now() < deadline, "temp file left behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends an upload's head declaring `content_length` and a first 1 MiB of the zip part.
async fn start_upload(symbols: &FakeSymbols, content_length: u64) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(symbols.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /upload/ HTTP/1.1\r\nhost: x\r\nauth-token: {TOKEN}\r\ncontent-type: multipart/form-data; boundary=XyZ\r\ncontent-length: {content_length}\r\n\r\n--XyZ\r\ncontent-disposition: form-data; name=\"symbols.zip\"; filename=\"s.zip\"\r\ncontent-type: application/zip\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'P'; 1 << 20]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

#[tokio::test]
async fn declared_sizes_past_2_pow_31_and_2_pow_32_are_read_in_64_bits() {
    use tokio::io::AsyncReadExt;
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let staging = symbols.store().staging_dir();
    let deadline = Instant::now() + Duration::from_secs(20);

    // The 2022 Tecken overflow size is under the 4 GiB limit: the body is being staged.
    let stream = start_upload(&symbols, 2_644_960_066).await;
    while std::fs::read_dir(&staging).unwrap().count() == 0 {
        assert!(
            Instant::now() < deadline,
            "a 2,644,960,066-byte upload was not accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stream);
    while std::fs::read_dir(&staging).unwrap().count() != 0 {
        assert!(Instant::now() < deadline, "temp file left behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 5 GiB is over the limit (read as 32 bits it would be 1 GiB and pass): refused up front.
    let mut stream = start_upload(&symbols, 5 << 30).await;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("upload is too large") {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(remaining, stream.read(&mut buf))
            .await
            .expect("no answer to a 5 GiB upload")
            .unwrap();
        assert!(
            n > 0,
            "closed without the error: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(&format!("(limit {} bytes)", 4u64 << 30)),
        "{response}"
    );
}

/// A real upload past 2^31 bytes (the 2022 Tecken overflow size) over a socket: the record
/// reports the exact size and the member arrives whole. Slow (about 8 GB of disk writes in a
/// debug build), so ignored by default; `bench fake-symbols --upload 2644960066` runs the same
/// in release and also reports the server's peak RSS.
#[tokio::test]
#[ignore = "writes ~8 GB to disk; run with --ignored"]
async fn an_upload_past_2_pow_31_bytes_reports_its_exact_size() {
    use std::io::{Read, Write};
    const MEMBER: u64 = 2_644_960_066;
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("big.zip");
    {
        let file = std::fs::File::create(&zip_path).unwrap();
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        zip.start_file("big.so/ABCD0/big.so.dbg.gz", options)
            .unwrap();
        std::io::copy(&mut std::io::repeat(b'z').take(MEMBER), &mut zip).unwrap();
        zip.finish().unwrap().flush().unwrap();
    }
    let zip_size = std::fs::metadata(&zip_path).unwrap().len();
    assert!(zip_size > 1 << 31);
    let file = tokio::fs::File::open(&zip_path).await.unwrap();
    let part =
        Part::stream_with_length(reqwest_012::Body::from(file), zip_size).file_name("symbols.zip");
    let (status, body) =
        upload_form(&symbols, Some(TOKEN), Form::new().part("symbols.zip", part)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["upload"]["size"].as_u64(), Some(zip_size));
    let key = fake_symbols::SymbolKey::from_path("big.so/ABCD0/big.so.dbg.gz").unwrap();
    let stored = symbols.store().get(&key, false).unwrap().unwrap();
    assert_eq!(stored.size, MEMBER);
    assert_eq!(std::fs::metadata(&stored.path).unwrap().len(), MEMBER);
}

/// Debug files named like a store's own files once hit them (a 500 on the index database,
/// symbols stored in the staging folder where cleanup deletes them; found by the `archive`
/// fuzz target). They are ordinary keys: stored, served, and kept.
#[tokio::test]
async fn debug_files_named_like_the_store_s_own_files_are_ordinary_keys() {
    let symbols = FakeSymbols::start_with(config()).await.unwrap();
    let names = [
        format!(".fake-symbols-index.sqlite/{DEBUG_ID}/x.sym"),
        format!(".staging/{DEBUG_ID}/x.sym"),
        format!("index.sqlite/{DEBUG_ID}/x.sym"),
        format!("staging/{DEBUG_ID}/x.sym"),
    ];
    let members: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), LIBFOO_SYM.as_bytes()))
        .collect();
    let (status, body) = upload_zip(&symbols, TOKEN, "symbols.zip", zip_of(&members)).await;
    assert_eq!(status, 201, "{body}");
    // Another upload runs the staging cleanup; the stored files stay.
    let other = format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym");
    let (status, body) = upload_zip(
        &symbols,
        TOKEN,
        "symbols.zip",
        zip_of(&[(other.as_str(), LIBFOO_SYM.as_bytes())]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for name in &names {
        let response = raw_client()
            .get(format!("{}/{name}", symbols.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.text().await.unwrap(), LIBFOO_SYM, "{name}");
    }
    assert_eq!(
        std::fs::read_dir(symbols.store().staging_dir())
            .unwrap()
            .count(),
        0,
        "staging is empty"
    );
}
