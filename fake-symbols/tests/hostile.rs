//! Hostile input against fake-symbols over real sockets (issue 17): each attack, then the same
//! checks: the service still answers `/__lbheartbeat__`, the symbols uploaded before are still
//! downloadable, and for the memory-heavy attacks the peak RSS (`VmHWM`) of a spawned
//! `fake-symbols` process stayed under a stated bound.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use fake_symbols::Config;
use fake_symbols::config::Token;
use fake_symbols::testing::FakeSymbols;
use reqwest_012::multipart::{Form, Part};
use serde_json::{Value, json};
use support::process::{Spawned, raw_exchange};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn config() -> Config {
    let mut config = Config::ephemeral();
    config.tokens = vec![Token::parse_flag(&format!("{TOKEN}:upload")).unwrap()];
    config
}

/// A server with libfoo uploaded through the API (so "still downloadable" covers the upload
/// path too).
/// Uploads a multipart body whose first part header never ends: `chunks` chunks of 64 KiB of
/// one header line, in a chunked body (so no Content-Length check applies); the status line of
/// the answer, if one comes `within`.
async fn endless_part_header(
    addr: std::net::SocketAddr,
    chunks: usize,
    within: Duration,
) -> Option<String> {
    let mut pieces = vec![chunked(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"symbols.zip\"; filename=\"s.zip\"\r\nX-Junk: ",
    )];
    pieces.extend((0..chunks).map(|_| chunked(&[b'a'; 64 << 10])));
    raw_exchange(addr, upload_head(addr), pieces, within).await
}

async fn seeded(config: Config) -> FakeSymbols {
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    let zip = zip_of(&[(
        &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
        LIBFOO_SYM.as_bytes(),
    )]);
    let status = upload_zip(&symbols.url(), zip).await;
    assert_eq!(status, 201);
    symbols
}

async fn upload_zip(url: &str, zip: Vec<u8>) -> u16 {
    let form = Form::new().part("symbols.zip", Part::bytes(zip).file_name("symbols.zip"));
    raw_client()
        .post(format!("{url}/upload/"))
        .header("auth-token", TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The checks after every attack: heartbeat, and libfoo downloads whole.
async fn still_serving(url: &str) {
    let client = raw_client();
    let heartbeat = client
        .get(format!("{url}/__lbheartbeat__"))
        .send()
        .await
        .expect("the service answers after the attack");
    assert_eq!(heartbeat.status(), 200);
    let sym = client
        .get(format!("{url}{}", libfoo_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(sym.status(), 200);
    assert_eq!(sym.text().await.unwrap(), LIBFOO_SYM);
}

// --- Item 6: URL upload redirects ---------------------------------------------------------

#[tokio::test]
async fn a_url_upload_redirect_to_another_port_is_refused_before_it_is_fetched() {
    let allowed = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path("/symbols.zip"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/internal/symbols.zip", elsewhere.uri()).as_str(),
        ))
        .mount(&allowed)
        .await;
    let mut config = config();
    config.url_uploads.allowed_domains = vec![allowed.address().to_string()];
    config.url_uploads.require_https = false;
    let symbols = seeded(config).await;
    let response = raw_client()
        .post(format!("{}/upload/", symbols.url()))
        .header("auth-token", TOKEN)
        .form(&[("url", format!("{}/symbols.zip", allowed.uri()))])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (
            400,
            format!(
                "Not an allowed domain ('{}') to download from.",
                elsewhere.address()
            )
            .as_str()
        )
    );
    let reached = elsewhere.received_requests().await.unwrap();
    assert!(
        reached.is_empty(),
        "the redirect target was fetched: {reached:?}"
    );
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn a_url_upload_is_bounded_in_time_over_all_its_hops() {
    let remote = MockServer::start().await;
    let zip = zip_of(&[("a.pdb/AB/a.sym", b"MODULE windows x86 AB a.pdb\n")]);
    // Five hops of 400 ms each: every request is within the 1 s timeout, the chain is not.
    for hop in 0..5 {
        Mock::given(method("HEAD"))
            .and(path(format!("/hop{hop}.zip")))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("/hop{}.zip", hop + 1).as_str())
                    .set_delay(Duration::from_millis(400)),
            )
            .mount(&remote)
            .await;
    }
    Mock::given(method("HEAD"))
        .and(path("/hop5.zip"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&remote)
        .await;
    Mock::given(method("GET"))
        .and(path("/hop5.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .mount(&remote)
        .await;
    let mut config = config();
    config.url_uploads.allowed_domains = vec![remote.address().to_string()];
    config.url_uploads.require_https = false;
    config.url_uploads.timeout = Duration::from_secs(1);
    let symbols = seeded(config).await;
    let started = Instant::now();
    let response = raw_client()
        .post(format!("{}/upload/", symbols.url()))
        .header("auth-token", TOKEN)
        .form(&[("url", format!("{}/hop0.zip", remote.uri()))])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("timed out"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    still_serving(&symbols.url()).await;
}

// --- Item 7: the fault admin API ---------------------------------------------------------

#[tokio::test]
async fn fault_writes_in_cors_simple_content_types_are_refused() {
    let symbols = seeded(config()).await;
    let client = raw_client();
    let spec = r#"{"rules": [{"action": {"kind": "status", "code": 503}}]}"#;
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for verb in [reqwest_012::Method::POST, reqwest_012::Method::PUT] {
            let mut request = client
                .request(verb.clone(), format!("{}/__fault__", symbols.url()))
                .body(spec);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{verb} {content_type:?}");
        }
    }
    let current: Value = client
        .get(format!("{}/__fault__", symbols.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["rules"], json!([]));
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn latency_rules_past_the_limit_are_refused_and_never_overflow() {
    let symbols = seeded(config()).await;
    let client = raw_client();
    let put = |spec: Value| {
        client
            .put(format!("{}/__fault__", symbols.url()))
            .json(&spec)
            .send()
    };
    // Enough u64::MAX-millisecond rules that their sum overflows a Duration.
    let rules: Vec<Value> = (0..1001)
        .map(|_| json!({"action": {"kind": "latency", "millis": u64::MAX}}))
        .collect();
    let response = put(json!({"rules": rules})).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "invalid fault spec: 1001 rules exceed the limit of 1000"
    );
    let one = json!({"rules": [{"action": {"kind": "latency", "millis": u64::MAX}}]});
    let response = put(one).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        format!(
            "invalid fault spec: rule 0: latency {} ms exceeds the limit of 600000 ms (--max-fault-latency)",
            u64::MAX
        )
    );
    // At the limit, summed over many rules: capped, not overflowed.
    let mut config = config();
    config.limits.max_fault_latency = Duration::from_millis(50);
    let short = seeded(config).await;
    let rules: Vec<Value> = (0..1000)
        .map(|_| json!({"action": {"kind": "latency", "millis": 50}}))
        .collect();
    let response = raw_client()
        .put(format!("{}/__fault__", short.url()))
        .json(&json!({"rules": rules}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    still_serving(&short.url()).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn splitting_a_multi_byte_func_name_serves_the_whole_file() {
    let symbols = seeded(config()).await;
    let key = fake_symbols::SymbolKey::from_path("wide.so/ABCD0/wide.so.sym").unwrap();
    let sym = "MODULE Linux x86_64 ABCD0 wide.so\nFILE 0 a.c\nFUNC 1000 40 0 中\n1000 40 1 0\n";
    symbols.store().put(&key, false, sym.as_bytes()).unwrap();
    symbols
        .set_faults(fake_symbols::FaultSpec {
            seed: 0,
            rules: vec![fake_symbols::FaultRule {
                path: Some("^/wide".into()),
                module: None,
                first: None,
                share: None,
                action: fake_symbols::FaultAction::Corrupt {
                    corruption: fake_symbols::Corruption::NameSplitByNewline,
                },
            }],
        })
        .unwrap();
    let body = raw_client()
        .get(format!("{}/wide.so/ABCD0/wide.so.sym", symbols.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        "MODULE Linux x86_64 ABCD0 wide.so\nFILE 0 a.c\nFUNC 1000 40 0 中\n\n1000 40 1 0\n"
    );
    still_serving(&symbols.url()).await;
}

// --- Item 8: multipart framing, sessions, concurrent uploads -------------------------------

fn chunked(piece: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
    out.extend_from_slice(piece);
    out.extend_from_slice(b"\r\n");
    out
}

fn upload_head(addr: std::net::SocketAddr) -> String {
    format!(
        "POST /upload/ HTTP/1.1\r\nHost: {addr}\r\nAuth-Token: {TOKEN}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
}

#[tokio::test]
async fn an_endless_part_header_in_a_chunked_body_is_refused_at_the_limit() {
    let symbols = seeded(config()).await;
    // 8 MiB of one header line, never ended, and the body never finished: the old parser
    // waited for `\r\n\r\n` buffering it all.
    let status = endless_part_header(symbols.addr(), 128, Duration::from_secs(20)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 400 Bad Request"));
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn a_body_of_too_many_parts_is_refused_while_parsing() {
    let symbols = seeded(config()).await;
    let mut body = Vec::new();
    for i in 0..10_000 {
        body.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n")
                .as_bytes(),
        );
    }
    let response = raw_client()
        .post(format!("{}/upload/", symbols.url()))
        .header("auth-token", TOKEN)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "bad multipart form: the multipart body has more than 100 parts"
    );
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn upload_session_urls_are_unguessable_and_capped_in_bytes() {
    let mut config = config();
    config.limits.max_upload_session_bytes = 1 << 20;
    let symbols = seeded(config).await;
    let post = |files: Value| {
        raw_client()
            .post(format!("{}/upload/v2/", symbols.url()))
            .header("auth-token", TOKEN)
            .header("content-type", "application/json")
            .body(json!({ "files": files }).to_string())
            .send()
    };
    let file = |key: &str, size: u64| json!({"key": key, "size": size, "md5_hash": "0".repeat(32)});
    let response = post(json!([
        file("a.pdb/AB/a.pdb", 1000),
        file("b.pdb/AB/b.pdb", 1000)
    ]))
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let ids: Vec<String> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let url = f["action"]["url"].as_str().unwrap();
            url.rsplit('/').next().unwrap().to_string()
        })
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(ids[0], ids[1]);
    // Guessing a sequential id finds nothing.
    for guess in ["1", "2", "3"] {
        let response = raw_client()
            .put(format!("{}/__storage__/upload/{guess}", symbols.url()))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    // 2 MB more would pass the 1 MiB cap: 507, and nothing opened.
    let pending = symbols.sessions_pending();
    let response = post(json!([file("c.pdb/AB/c.pdb", 2_000_000)]))
        .await
        .unwrap();
    assert_eq!(response.status(), 507);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("--max-upload-session-bytes"),
        "{body}"
    );
    assert_eq!(symbols.sessions_pending(), pending);
    // A session cannot stage more than its declared file.
    let response = raw_client()
        .put(format!("{}/__storage__/upload/{}", symbols.url(), ids[0]))
        .header("content-range", "bytes 0-4999/*")
        .body(vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn concurrent_uploads_of_one_key_end_with_the_index_matching_the_file() {
    let symbols = seeded(config()).await;
    let key = fake_symbols::SymbolKey::from_path("race.pdb/AB12/race.sym").unwrap();
    for round in 0..10 {
        let uploads: Vec<_> = (0..6)
            .map(|i| {
                let sym = format!(
                    "MODULE windows x86_64 AB12 race.pdb\nFILE 0 {round}-{i}{}\n",
                    "y".repeat(i * 3000)
                );
                let zip = zip_of(&[("race.pdb/AB12/race.sym", sym.as_bytes())]);
                let url = symbols.url();
                tokio::spawn(async move { upload_zip(&url, zip).await })
            })
            .collect();
        for upload in uploads {
            assert_eq!(upload.await.unwrap(), 201);
        }
        let stored = symbols.store().get(&key, false).unwrap().unwrap();
        let served = raw_client()
            .get(format!("{}/race.pdb/AB12/race.sym", symbols.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            (stored.size, stored.md5.clone()),
            (
                served.len() as u64,
                hex::encode(<md5::Md5 as md5::Digest>::digest(&served))
            ),
            "round {round}: the index and the file disagree"
        );
    }
    still_serving(&symbols.url()).await;
}

// --- Zip bombs, invalid UTF-8 -------------------------------------------------------------

fn zip_stored_zeros(members: usize, size: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(size > u32::MAX as usize);
    let zeros = vec![0u8; 1 << 20];
    for i in 0..members {
        zip.start_file(format!("bomb{i}.pdb/AB/bomb.pdb"), options)
            .unwrap();
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len());
            zip.write_all(&zeros[..n]).unwrap();
            left -= n;
        }
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn zip_bombs_stop_at_the_member_and_total_limits() {
    let mut config = config();
    config.limits.max_member_bytes = 16 << 20;
    config.limits.max_extracted_bytes = 40 << 20;
    let symbols = seeded(config).await;
    // One member of 64 MiB of zeros (about 64 KiB compressed).
    let bomb = zip_stored_zeros(1, 64 << 20);
    assert!(bomb.len() < 1 << 20);
    assert_eq!(upload_zip(&symbols.url(), bomb).await, 413);
    // Eight members of 8 MiB each: every one within the member limit, together past the total.
    let bombs = zip_stored_zeros(8, 8 << 20);
    assert_eq!(upload_zip(&symbols.url(), bombs).await, 413);
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn invalid_utf8_in_paths_headers_and_fields_is_answered_not_fatal() {
    let symbols = seeded(config()).await;
    let addr = symbols.addr();
    let heads: Vec<Vec<u8>> = vec![
        b"GET /\xff\xfe.pdb/ABCD/x.sym HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        b"GET /__fault__ HTTP/1.1\r\nHost: \xff\xff\r\n\r\n".to_vec(),
        [
            &b"POST /upload/ HTTP/1.1\r\nHost: h\r\nAuth-Token: \xff"[..],
            TOKEN.as_bytes(),
            b"\r\nContent-Length: 0\r\n\r\n",
        ]
        .concat(),
        b"PUT /__storage__/upload/\xc3\x28 HTTP/1.1\r\nHost: h\r\nContent-Range: bytes \xff-1/2\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"PUT /__fault__ HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n\"\xff\"\x00".to_vec(),
        b"POST /symbolicate/v5 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n\xff\xfe\xfd".to_vec(),
    ];
    for head in heads {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&head).await.unwrap();
        let mut answer = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
            .await
            .expect("an answer or a close")
            .unwrap_or(0);
        let line = String::from_utf8_lossy(&answer[..n]).into_owned();
        // An answer that is not a 5xx, or a closed connection for a head hyper cannot parse.
        assert!(
            n == 0 || (line.starts_with("HTTP/1.1 ") && !line.starts_with("HTTP/1.1 5")),
            "{:?} -> {line:?}",
            String::from_utf8_lossy(&head)
        );
    }
    // A multipart field name and a zip member name that are not UTF-8.
    let form = Form::new().part("try", Part::bytes(b"\xff".to_vec())).part(
        "symbols.zip",
        Part::bytes(zip_of(&[("bad\u{fffd}.pdb/AB/x.pdb", b"x")])).file_name("s.zip"),
    );
    let response = raw_client()
        .post(format!("{}/upload/", symbols.url()))
        .header("auth-token", TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    still_serving(&symbols.url()).await;
}

// --- Memory: a spawned server process ----------------------------------------------------

/// Peak RSS the memory-heavy attacks must stay under (the idle debug build is ~15 MB; the
/// attacks below would each take 100+ MB if their bytes were held).
const RSS_BOUND: u64 = 64 << 20;

#[tokio::test]
async fn memory_stays_flat_under_header_zip_directory_and_request_log_attacks() {
    let server = Spawned::start(TOKEN, &["--request-log-bytes", "1MiB"]);
    let zip = zip_of(&[(
        &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
        LIBFOO_SYM.as_bytes(),
    )]);
    assert_eq!(upload_zip(&server.url, zip).await, 201);
    let idle = server.peak_rss();

    // 1. A 128 MiB part header in a chunked body.
    let status = endless_part_header(server.addr(), 2048, Duration::from_secs(60)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 400 Bad Request"));
    still_serving(&server.url).await;
    let after_headers = server.peak_rss();

    // 2. A zip whose directory declares 300,000 entries (default limit 100,000).
    let mut many = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..300_000 {
        many.start_file(format!("m.pdb/AB/{i:06}.pdb"), options)
            .unwrap();
    }
    let many = many.finish().unwrap().into_inner();
    assert_eq!(upload_zip(&server.url, many).await, 400);
    still_serving(&server.url).await;
    let after_zip = server.peak_rss();

    // 3. Requests with 16 KiB paths into a request log capped at 1 MiB.
    let client = raw_client();
    for i in 0..400 {
        let path = format!("/{i}{}/AB/x.sym", "p".repeat(16 << 10));
        let _ = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
    }
    let log: Value = client
        .get(format!("{}/__requests__", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: usize = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().len())
        .sum();
    assert!(paths <= 1 << 20, "the log holds {paths} bytes of paths");
    still_serving(&server.url).await;
    let after_log = server.peak_rss();

    eprintln!(
        "peak RSS: idle {} MB, after the header attack {} MB, the zip directory {} MB, the log {} MB",
        idle >> 20,
        after_headers >> 20,
        after_zip >> 20,
        after_log >> 20
    );
    assert!(after_log < RSS_BOUND, "peak RSS {} MB", after_log >> 20);
}

// --- The HTTP edge (http-edge) -------------------------------------------------------------

#[tokio::test]
async fn thousands_of_headers_are_refused_and_the_service_stays_up() {
    let symbols = seeded(config()).await;
    let mut head = format!("GET {} HTTP/1.1\r\nHost: h\r\n", libfoo_path());
    for i in 0..5000 {
        head.push_str(&format!("X-H{i}: v\r\n"));
    }
    head.push_str("\r\n");
    let status = raw_exchange(symbols.addr(), head, vec![], Duration::from_secs(10)).await;
    // 431, or a closed connection once the head passes the buffer; never served.
    assert!(
        status.is_none()
            || status.as_deref() == Some("HTTP/1.1 431 Request Header Fields Too Large"),
        "{status:?}"
    );
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn the_admin_endpoints_refuse_foreign_hosts_and_cross_site_writes() {
    let mut config = config();
    config.allowed_hosts = vec!["fake-symbols".into()];
    let symbols = seeded(config).await;
    let client = raw_client();
    let fault_url = format!("{}/__fault__", symbols.url());
    let spec = json!({"rules": [{"action": {"kind": "status", "code": 503}}]});
    // DNS rebinding: a name the server was not told about.
    let rebound = client
        .get(&fault_url)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let rebound = client
        .get(format!("{}/__requests__", symbols.url()))
        .header("host", "attacker.example:8070")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    // A page on another site, even with a JSON body (after a preflight it would not pass).
    let cross = client
        .put(&fault_url)
        .header("origin", "http://attacker.example")
        .header("sec-fetch-site", "cross-site")
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let current: Value = client
        .get(&fault_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["rules"], json!([]));
    // The configured name and plain clients are served.
    let named = client
        .get(&fault_url)
        .header("host", "fake-symbols:8070")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    assert_eq!(named.headers()["content-security-policy"], "sandbox");
    assert!(named.headers().get("access-control-allow-origin").is_none());
    // Downloads keep Tecken's CORS and any Host (they are public, as Tecken's are).
    let download = client
        .get(format!("{}{}", symbols.url(), libfoo_path()))
        .header("host", "symbols.example")
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["access-control-allow-origin"], "*");
    still_serving(&symbols.url()).await;
}

#[tokio::test]
async fn a_client_that_trickles_its_head_is_disconnected_and_others_are_served() {
    let mut config = config();
    config.connection.header_read_timeout = Duration::from_millis(500);
    let symbols = seeded(config).await;
    let mut slow = TcpStream::connect(symbols.addr()).await.unwrap();
    slow.write_all(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: h\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Trickle a header byte every 100 ms; the server must give up at its deadline.
    let closed = loop {
        still_serving(&symbols.url()).await;
        if slow.write_all(b"X").await.is_err() {
            break true;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await
        {
            // A 408 or a close.
            break n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408");
        }
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
    };
    assert!(
        closed,
        "the trickling client was still connected after 10 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_large_upload_body_trickled_slowly_holds_no_memory_and_blocks_nobody() {
    let server = Spawned::start(TOKEN, &[]);
    let zip = zip_of(&[(
        &format!("libfoo.so/{DEBUG_ID}/libfoo.so.sym"),
        LIBFOO_SYM.as_bytes(),
    )]);
    assert_eq!(upload_zip(&server.url, zip).await, 201);
    // A chunked multipart upload whose file part arrives 64 KiB at a time, for 3 s, while other
    // clients are served; then it is abandoned (the staging file goes with it).
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(upload_head(server.addr()).as_bytes())
        .await
        .unwrap();
    stream
        .write_all(&chunked(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"symbols.zip\"; filename=\"s.zip\"\r\n\r\n",
        ))
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(3);
    let mut sent = 0u64;
    while Instant::now() < until {
        stream.write_all(&chunked(&[0x5a; 64 << 10])).await.unwrap();
        sent += 64 << 10;
        still_serving(&server.url).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stream);
    still_serving(&server.url).await;
    let peak = server.peak_rss();
    eprintln!("trickled {} KiB; peak RSS {} MB", sent >> 10, peak >> 20);
    assert!(peak < RSS_BOUND, "peak RSS {} MB", peak >> 20);
}
