//! The browser boundary (docs/security.md): a web page the developer visits can post to ingest,
//! as browser SDKs do, but cannot read what was captured, change faults, flush, or get a
//! captured payload rendered on fake-sentry's origin, and DNS rebinding gets nowhere.
//!
//! Requests are written by hand so that `Host`, `Origin` and `Sec-Fetch-Site` are exactly what
//! a browser under attack would send.

use std::net::SocketAddr;
use std::time::Duration;

use fake_sentry::Config;
use fake_sentry::testing::FakeSentry;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request with exactly these headers (a `Host` among them) and a `Content-Length`.
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut head = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(body).await.expect("body");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

const PAGE: &str = "<html><script>fetch('/api/items/')</script></html>";

/// An envelope with one attachment that declares itself a web page.
fn script_envelope() -> Vec<u8> {
    format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n\
         {{\"type\":\"attachment\",\"length\":{},\"filename\":\"page.html\",\"content_type\":\"text/html\"}}\n\
         {PAGE}\n",
        PAGE.len()
    )
    .into_bytes()
}

async fn captured_count(addr: SocketAddr) -> u64 {
    request(addr, "GET", "/api/stats/", &[], b"").await.json()["items"]
        .as_u64()
        .expect("an item count")
}

#[tokio::test]
async fn raw_payloads_are_downloads_never_pages_on_our_origin() {
    let sentry = FakeSentry::start().await.expect("start");
    let addr = sentry.addr();
    let posted = request(
        addr,
        "POST",
        "/api/1/envelope/",
        &[("Content-Type", "text/html")],
        &script_envelope(),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.head);
    let items = request(addr, "GET", "/api/items/?type=attachment", &[], b"").await;
    let item = &items.json()["items"][0];
    let raws = [
        format!("/api/envelopes/{}/raw", item["envelope_id"]),
        format!("/api/envelopes/{}/raw?as_sent=1", item["envelope_id"]),
        format!("/api/items/{}/raw", item["id"].as_str().expect("id")),
    ];
    for raw in &raws {
        let answer = request(addr, "GET", raw, &[], b"").await;
        assert_eq!(answer.status, 200, "{raw}: {}", answer.head);
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/octet-stream"),
            "{raw}"
        );
        assert!(
            answer
                .header("content-disposition")
                .is_some_and(|d| d.starts_with("attachment")),
            "{raw}: {}",
            answer.head
        );
        assert_eq!(
            answer.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            answer.header("content-security-policy").as_deref(),
            Some("sandbox")
        );
        assert!(
            String::from_utf8_lossy(&answer.body).contains("<script>"),
            "kept as sent"
        );
    }
}

#[tokio::test]
async fn other_sites_can_post_events_but_not_read_or_change_anything() {
    let sentry = FakeSentry::start().await.expect("start");
    let addr = sentry.addr();
    let evil = [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ];
    // Ingest stays open to every origin, as Sentry's is for browser SDKs.
    let mut headers = evil.to_vec();
    headers.push(("Content-Type", "text/plain;charset=UTF-8"));
    let event = br#"{"event_id":"0b0c2b7d7a2d4d0c9c4b8a1e2f3a4b5c"}
{"type":"event"}
{"message":"from a page","level":"error"}
"#;
    let posted = request(addr, "POST", "/api/1/envelope/", &headers, event).await;
    assert_eq!(posted.status, 200, "{}", posted.head);
    assert_eq!(
        posted.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(captured_count(addr).await, 1);

    // Reads answer (there is no way to tell a page's read from a tab's), but never with CORS,
    // so the page cannot see them.
    for read in [
        "/api/items/",
        "/api/eventlist/",
        "/api/stats/",
        "/api/refusals/",
        "/",
    ] {
        let answer = request(addr, "GET", read, &evil, b"").await;
        assert_eq!(answer.header("access-control-allow-origin"), None, "{read}");
        assert_eq!(
            answer.header("cross-origin-resource-policy").as_deref(),
            Some("same-origin"),
            "{read}"
        );
    }
    // A preflight for a fault change or a flush gets no CORS either, so the browser never
    // sends them; and the simple-request forms are refused outright.
    for (method, target) in [("PUT", "/api/faults/"), ("POST", "/api/flush/")] {
        let mut preflight = evil.to_vec();
        preflight.push(("Access-Control-Request-Method", method));
        let answer = request(addr, "OPTIONS", target, &preflight, b"").await;
        assert_eq!(
            answer.header("access-control-allow-origin"),
            None,
            "{target}"
        );
    }
    let mut text_plain = evil.to_vec();
    text_plain.push(("Content-Type", "text/plain"));
    let faults = request(addr, "PUT", "/api/faults/", &text_plain, b"[\"500\"]").await;
    assert_eq!(faults.status, 403, "{}", faults.head);
    let flush = request(addr, "POST", "/api/flush/", &evil, b"").await;
    assert_eq!(flush.status, 403, "{}", flush.head);
    assert!(
        flush.json()["detail"]
            .as_str()
            .unwrap()
            .contains("another site")
    );
    let mut form = evil.to_vec();
    form.push(("Content-Type", "application/x-www-form-urlencoded"));
    let ui_flush = request(addr, "POST", "/flush", &form, b"").await;
    assert_eq!(ui_flush.status, 403, "{}", ui_flush.head);
    assert_eq!(captured_count(addr).await, 1, "nothing was flushed");

    // The UI's own form, and a non-browser client, still flush.
    let same_origin = [
        ("Origin", &*format!("http://{addr}")),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let own = request(addr, "POST", "/api/flush/", &same_origin, b"").await;
    assert_eq!(own.status, 200, "{}", own.head);
    assert_eq!(captured_count(addr).await, 0);
}

#[tokio::test]
async fn a_rebound_host_name_reads_nothing_listed_names_do() {
    let mut config = Config::ephemeral();
    config.allowed_hosts = vec!["sentry.dev.example".into()];
    config.public_url = Some("http://fake-sentry.ci.example:8000".parse().unwrap());
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let addr = sentry.addr();
    for refused in [
        "attacker.example",
        "attacker.example:8000",
        "127.0.0.1.attacker.example",
    ] {
        let answer = request(addr, "GET", "/api/items/", &[("Host", refused)], b"").await;
        assert_eq!(answer.status, 403, "{refused}: {}", answer.head);
        assert!(
            answer.json()["detail"]
                .as_str()
                .unwrap()
                .contains("not allowed")
        );
        let ui = request(addr, "GET", "/", &[("Host", refused)], b"").await;
        assert_eq!(ui.status, 403, "{refused}");
    }
    for allowed in [
        "127.0.0.1:8000",
        "localhost:8000",
        "[::1]:8000",
        "fake-sentry:8000",
        "sentry.dev.example",
        "fake-sentry.ci.example:8000",
    ] {
        let answer = request(addr, "GET", "/api/items/", &[("Host", allowed)], b"").await;
        assert_eq!(answer.status, 200, "{allowed}: {}", answer.head);
    }
    // Probes and SDKs reach the service by any name.
    let probe = request(
        addr,
        "GET",
        "/__lbheartbeat__",
        &[("Host", "attacker.example")],
        b"",
    )
    .await;
    assert_eq!(probe.status, 200);
    let ingest = request(
        addr,
        "POST",
        "/api/1/store/",
        &[
            ("Host", "attacker.example"),
            ("Content-Type", "application/json"),
        ],
        br#"{"message":"by another name"}"#,
    )
    .await;
    assert_eq!(ingest.status, 200, "{}", ingest.head);
}

#[tokio::test]
async fn only_local_pages_may_read_the_spotlight_stream() {
    let sentry = FakeSentry::start().await.expect("start");
    let addr = sentry.addr();
    let envelope = br#"{}
{"type":"event"}
{"message":"for spotlight"}
"#;
    // Any page may post to /stream, as to Spotlight's sidecar.
    let posted = request(
        addr,
        "POST",
        "/stream",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/x-sentry-envelope"),
        ],
        envelope,
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.head);
    assert!(posted.header("access-control-allow-origin").is_some());
    for (origin, readable) in [
        ("http://localhost:3000", true),
        ("http://127.0.0.1:5173", true),
        ("https://evil.example", false),
        ("http://192.0.2.7:3000", false),
    ] {
        let mut preflight = vec![("Origin", origin), ("Access-Control-Request-Method", "GET")];
        let answer = request(addr, "OPTIONS", "/stream", &preflight, b"").await;
        assert_eq!(
            answer.header("access-control-allow-origin").is_some(),
            readable,
            "preflight from {origin}: {}",
            answer.head
        );
        preflight.truncate(1);
        // A replay of what was captured ends at once with `?replay_only=1`-less clients too:
        // read only the head of the answer.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "GET /stream HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("a head within 10 s")
                .expect("read");
            assert!(n > 0, "closed before the head");
            seen.extend_from_slice(&buffer[..n]);
        }
        let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(
            head.contains("access-control-allow-origin"),
            readable,
            "stream from {origin}: {head}"
        );
    }
}
