//! The collector under attack, as a real `harness up --only collector` process on a real
//! socket: oversized bodies (declared and chunked), a gzip bomb, thousands of parts, huge part
//! headers in a chunked body, deeply nested `extra` JSON, invalid UTF-8, a full collector, a
//! body trickled slowly and many large submissions at once that are slow to finish (the
//! in-flight budget). After each: the collector still answers `/__lbheartbeat__`, every
//! crash it acknowledged before is still listed and downloadable byte for byte, and (for the
//! memory-heavy ones) its peak RSS (`VmHWM`) stayed under [`RSS_BOUND`].

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crash_generator::submission::{Submission, build};
use crash_generator::{Crash, Profile};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_harness");
/// Peak RSS the collector may reach under any one attack here, at the default limits (25 MiB
/// bodies, 25 MiB decompressed): the received body, the gunzipped body and one copy of its
/// dumps, plus the process's own baseline.
const RSS_BOUND: u64 = 128 * 1024 * 1024;
const BOUNDARY: &str = "hostile-boundary";

/// A `harness up --only collector` child process, killed when dropped.
struct Collector {
    child: Child,
    addr: SocketAddr,
    /// `(crash id, minidump)` of every crash it acknowledged.
    acknowledged: Vec<(String, Vec<u8>)>,
    client: reqwest::Client,
}

impl Collector {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["up", "--only", "collector", "--collector-port", "0"])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = lines
            .by_ref()
            .map(|line| line.unwrap())
            .find(|line| line.starts_with("collector"))
            .and_then(|line| line.split_whitespace().nth(1).map(str::to_string))
            .expect("harness up printed the collector's URL");
        std::thread::spawn(move || lines.for_each(drop));
        let addr = url
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix("/submit"))
            .unwrap()
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            acknowledged: Vec::new(),
            // A fresh connection per request: a kept-alive one that the collector closes for
            // idling (one test sets its header timeout to 1 s) could be reused at the moment
            // it closes, and the request would fail with an incomplete message (seen in CI).
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Submits a generated crash; returns the status and body.
    async fn submit(&mut self, seed: u64) -> (u16, String) {
        let crash = Crash::generate(&Profile::default(), seed);
        let encoded = build(&Submission::for_crash(&crash), BOUNDARY);
        let response = self
            .client
            .post(self.url("/submit"))
            .header("content-type", &encoded.content_type)
            .body(encoded.body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        if status == 200 {
            let id = body.trim_end().strip_prefix("CrashID=bp-").unwrap();
            self.acknowledged
                .push((id.to_string(), crash.minidump_bytes().to_vec()));
        }
        (status, body)
    }

    /// Two crashes acknowledged before the attack.
    async fn with_crashes(mut self) -> Self {
        for seed in [1, 2] {
            assert_eq!(self.submit(seed).await.0, 200);
        }
        self
    }

    /// Peak resident memory so far, in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("VmHWM in /proc/<pid>/status");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// The collector answers, and everything it acknowledged is listed and downloadable.
    async fn assert_intact(&self) {
        let heartbeat = self
            .client
            .get(self.url("/__lbheartbeat__"))
            .send()
            .await
            .unwrap();
        assert_eq!(heartbeat.status(), 200);
        let listing: serde_json::Value = self
            .client
            .get(self.url("/api/crashes/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed: Vec<&str> = listing["crashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["crash_id"].as_str().unwrap())
            .collect();
        for (id, minidump) in &self.acknowledged {
            assert!(listed.contains(&format!("bp-{id}").as_str()), "{id} lost");
            let response = self
                .client
                .get(self.url(&format!("/api/crashes/bp-{id}/dumps/upload_file_minidump")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(&response.bytes().await.unwrap()[..], &minidump[..]);
        }
    }

    async fn assert_intact_within(&self, rss_bound: u64) {
        self.assert_intact().await;
        let peak = self.peak_rss();
        eprintln!("peak RSS {} MiB", peak >> 20);
        assert!(
            peak < rss_bound,
            "peak RSS {} MiB over the {} MiB bound",
            peak >> 20,
            rss_bound >> 20
        );
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    /// The status line and headers.
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `head` then each chunk (pausing `pace` before each) on a raw connection while
/// reading the response; stops writing when the server answers or closes. An error says what
/// came back instead of an answer within `within`.
async fn exchange(
    addr: SocketAddr,
    head: Vec<u8>,
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
    pace: Option<Duration>,
    within: Duration,
) -> Result<Raw, String> {
    exchange_paced(addr, head, chunks.map(move |chunk| (pace, chunk)), within).await
}

/// [`exchange`] with a pause of its own before each chunk.
async fn exchange_paced(
    addr: SocketAddr,
    head: Vec<u8>,
    chunks: impl Iterator<Item = (Option<Duration>, Vec<u8>)> + Send + 'static,
    within: Duration,
) -> Result<Raw, String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sending = tokio::spawn(async move {
        writer.write_all(&head).await?;
        for (pace, chunk) in chunks {
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
            writer.write_all(&chunk).await?;
        }
        std::io::Result::Ok(writer)
    });
    let mut response = Vec::new();
    let read = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            if let Some(raw) = parse_response(&response) {
                return Ok(raw);
            }
            match reader.read(&mut buffer).await {
                Ok(0) => return Err("closed".to_string()),
                Err(e) => return Err(e.to_string()),
                Ok(n) => response.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let raw = tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {within:?}")));
    sending.abort();
    raw.map_err(|e| {
        let got = String::from_utf8_lossy(&response[..response.len().min(300)]).into_owned();
        format!("{e} after {} bytes: {got:?}", response.len())
    })
}

/// A complete response (headers and a `Content-Length` body) from the bytes read so far.
fn parse_response(bytes: &[u8]) -> Option<Raw> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some(Raw {
        status,
        head: head.to_string(),
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

fn post_head(addr: SocketAddr, extra_headers: &str) -> Vec<u8> {
    format!(
        "POST /submit HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra_headers}\r\n"
    )
    .into_bytes()
}

/// HTTP/1.1 chunked framing of `bytes` in pieces of `size`, then the last chunk.
fn chunked(bytes_total: usize, size: usize, fill: u8) -> impl Iterator<Item = Vec<u8>> + Send {
    let full = bytes_total / size;
    let rest = bytes_total % size;
    let frame = move |len: usize| {
        let mut chunk = format!("{len:x}\r\n").into_bytes();
        chunk.extend(std::iter::repeat_n(fill, len));
        chunk.extend_from_slice(b"\r\n");
        chunk
    };
    (0..full)
        .map(move |_| frame(size))
        .chain((rest > 0).then(|| frame(rest)))
        .chain(std::iter::once(b"0\r\n\r\n".to_vec()))
}

fn field(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut part = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").into_bytes();
    part.extend_from_slice(name);
    part.extend_from_slice(b"\"\r\n\r\n");
    part.extend_from_slice(value);
    part.extend_from_slice(b"\r\n");
    part
}

fn close() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

async fn post(collector: &Collector, body: Vec<u8>, encoding: Option<&str>) -> (u16, String) {
    let mut request = collector
        .client
        .post(collector.url("/submit"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_at_the_limit() {
    let collector = Collector::start(&[]).with_crashes().await;
    // Declared too large: refused from the headers, before a byte of body.
    let raw = exchange(
        collector.addr,
        post_head(collector.addr, "Content-Length: 104857600\r\n"),
        std::iter::empty(),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(
        (raw.status, raw.body.as_str()),
        (413, "Discarded=malformed_too_large")
    );
    // Chunked, 100 MiB: refused one byte past 25 MiB.
    let raw = exchange(
        collector.addr,
        post_head(collector.addr, "Transfer-Encoding: chunked\r\n"),
        chunked(100 << 20, 256 * 1024, b'x'),
        None,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 413, "{raw:?}");
    collector.assert_intact_within(RSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_stops_at_the_decompressed_limit() {
    let collector = Collector::start(&[]).with_crashes().await;
    // 1 GiB of a valid-looking multipart body in about 1 MiB of gzip.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(&field(b"ProductName", b"Firefox"))
        .unwrap();
    encoder
        .write_all(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes())
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let (status, body) = post(&collector, bomb, Some("gzip")).await;
    assert_eq!(
        (status, body.as_str()),
        (413, "Discarded=malformed_too_large")
    );
    collector.assert_intact_within(RSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_parts_stop_at_the_part_limit() {
    let collector = Collector::start(&[]).with_crashes().await;
    // 300,000 one-byte fields (about 20 MiB): the default limit is 2048 parts.
    let mut body = Vec::with_capacity(24 << 20);
    for i in 0..300_000u32 {
        body.extend_from_slice(&field(format!("f{i}").as_bytes(), b"v"));
    }
    body.extend_from_slice(&close());
    let (status, text) = post(&collector, body, None).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Discarded=malformed_too_many_parts")
    );
    collector.assert_intact_within(RSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_part_headers_in_a_chunked_body_are_refused() {
    let collector = Collector::start(&[]).with_crashes().await;
    // One part whose header block is 20 MiB long, sent chunked (no Content-Length to check).
    let start =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Padding: ");
    let mut first = format!("{:x}\r\n", start.len()).into_bytes();
    first.extend_from_slice(start.as_bytes());
    first.extend_from_slice(b"\r\n");
    let mut padding: Vec<Vec<u8>> = chunked(20 << 20, 256 * 1024, b'p').collect();
    padding.insert(0, first);
    let raw = exchange(
        collector.addr,
        post_head(collector.addr, "Transfer-Encoding: chunked\r\n"),
        padding.into_iter(),
        None,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        (raw.status, raw.body.as_str()),
        (400, "Discarded=malformed_part_header_too_large")
    );
    collector.assert_intact_within(RSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_extra_json_is_refused_by_depth() {
    let collector = Collector::start(&[]).with_crashes().await;
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"extra\"; filename=\"extra.json\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'[', 10 << 20));
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(&close());
    let (status, text) = post(&collector, body, None).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Discarded=malformed_json_too_deep")
    );
    collector.assert_intact_within(RSS_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_names_and_values_is_kept_with_notes() {
    let collector = Collector::start(&[]).with_crashes().await;
    let mut body = field(b"ProductName", b"Firefox");
    body.extend(field(b"Bad\xff\xfeName", b"ok"));
    body.extend(field(b"BadValue", b"\xc3\x28\xff"));
    body.extend(close());
    let (status, text) = post(&collector, body, None).await;
    assert_eq!(status, 200, "{text}");
    let id = text.trim_end().strip_prefix("CrashID=bp-").unwrap();
    let raw: serde_json::Value = collector
        .client
        .get(collector.url(&format!("/api/crashes/bp-{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["BadValue"], "\u{fffd}(\u{fffd}");
    assert_eq!(raw["Bad\u{fffd}\u{fffd}Name"], "ok");
    assert_eq!(
        raw["metadata"]["collector_notes"],
        serde_json::json!(["a field name is not utf-8", "BadValue has non-utf-8 value"])
    );
    // Invalid UTF-8 in the request's own headers: refused, not stored.
    let raw = exchange(
        collector.addr,
        [
            format!("POST /submit HTTP/1.1\r\nHost: {}\r\n", collector.addr).as_bytes(),
            b"Content-Type: multipart/form-data; boundary=\xff\r\n",
            b"Content-Length: 1\r\nConnection: close\r\n\r\nx",
        ]
        .concat(),
        std::iter::empty(),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 400, "{raw:?}");
    collector.assert_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_collector_refuses_with_507_and_keeps_what_it_has() {
    // Two crashes by count; then the same by bytes, with room for about two.
    let mut by_count = Collector::start(&["--max-crashes", "2"])
        .with_crashes()
        .await;
    let (status, text) = by_count.submit(3).await;
    assert_eq!(status, 507, "{text}");
    assert!(
        text.starts_with("the collector is full: 2 crashes"),
        "{text}"
    );
    by_count.assert_intact().await;
    drop(by_count);

    let mut by_bytes = Collector::start(&["--collector-max-bytes", "256KiB"]);
    let mut statuses = Vec::new();
    for seed in 1..=40 {
        let (status, text) = by_bytes.submit(seed).await;
        statuses.push(status);
        if status != 200 {
            assert_eq!(status, 507, "{text}");
            assert!(text.starts_with("the collector is full"), "{text}");
            break;
        }
    }
    let accepted = statuses.len() - 1;
    assert!(
        accepted > 0 && statuses.last() == Some(&507),
        "{statuses:?}"
    );
    // The refused crash stays refused; nothing was half-kept for it.
    assert_eq!(by_bytes.submit(statuses.len() as u64).await.0, 507);
    assert_eq!(by_bytes.acknowledged.len(), accepted);
    by_bytes.assert_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_times_out_while_others_are_served() {
    let collector = Collector::start(&[
        "--collector-body-timeout",
        "2",
        "--collector-body-idle-timeout",
        "1",
    ])
    .with_crashes()
    .await;
    let started = Instant::now();
    // 1 MiB declared, one byte every 50 ms: it would take 14 hours.
    let trickle = tokio::spawn(exchange(
        collector.addr,
        post_head(collector.addr, "Content-Length: 1048576\r\n"),
        std::iter::repeat_n(vec![b'x'], 1 << 20),
        Some(Duration::from_millis(50)),
        Duration::from_secs(30),
    ));
    // Meanwhile the collector serves everyone else.
    collector.assert_intact().await;
    let raw = trickle.await.unwrap().unwrap();
    assert_eq!(raw.status, 408, "{raw:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    // A body that stops halfway is cut off by the idle timeout.
    let started = Instant::now();
    let mut head = post_head(collector.addr, "Content-Length: 1048576\r\n");
    head.extend_from_slice(&field(b"ProductName", b"Firefox"));
    let raw = exchange(
        collector.addr,
        head,
        std::iter::empty(),
        None,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 408, "{raw:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    collector.assert_intact().await;
}

/// A raw GET with a chosen `Host` (reqwest would send the URL's) and extra header lines.
async fn get_as(addr: SocketAddr, path: &str, host: &str, extra_headers: &str) -> Raw {
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}Connection: close\r\n\r\n");
    exchange(
        addr,
        head.into_bytes(),
        std::iter::empty(),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_api_answers_only_its_own_hosts_and_never_to_other_sites() {
    let collector = Collector::start(&["--collector-allowed-hosts", "crashes.example.test"])
        .with_crashes()
        .await;
    let (id, minidump) = collector.acknowledged[0].clone();
    let dump = format!("/api/crashes/bp-{id}/dumps/upload_file_minidump");
    let port = collector.addr.port();
    // DNS rebinding: the attacker's name pointed at 127.0.0.1 still says so in Host.
    for path in ["/api/crashes/", &format!("/api/crashes/bp-{id}"), &dump] {
        let raw = get_as(
            collector.addr,
            path,
            &format!("rebind.attacker.example:{port}"),
            "",
        )
        .await;
        assert_eq!(raw.status, 403, "{path}: {raw:?}");
        assert!(
            !raw.body.contains(&id),
            "{path} leaked the crash: {}",
            raw.body
        );
    }
    // Loopback, dotless (compose service) and configured names are answered.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "collector:8888".to_string(),
        "crashes.example.test".to_string(),
    ] {
        assert_eq!(
            get_as(collector.addr, "/api/crashes/", &host, "")
                .await
                .status,
            200,
            "{host}"
        );
    }
    // A page elsewhere gets no CORS grant to read with, and a dump is a download, never a page.
    let response = collector
        .client
        .get(collector.url(&dump))
        .header("origin", "https://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"),
        "{headers:?}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(&response.bytes().await.unwrap()[..], &minidump[..]);
    // Ingest stays open to every Host, as Antenna's is.
    let crash = Crash::generate(&Profile::default(), 9);
    let encoded = build(&Submission::for_crash(&crash), BOUNDARY);
    let mut head = format!(
        "POST /submit HTTP/1.1\r\nHost: crash-reports.example.org\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        encoded.content_type,
        encoded.body.len()
    )
    .into_bytes();
    head.extend_from_slice(&encoded.body);
    let raw = exchange(
        collector.addr,
        head,
        std::iter::empty(),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 200, "{raw:?}");
    collector.assert_intact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off() {
    let collector = Collector::start(&[
        "--collector-header-timeout",
        "1",
        "--collector-max-connections",
        "64",
    ])
    .with_crashes()
    .await;
    // Two hundred and fifty idle connections, far past the connection cap.
    let mut idle = Vec::new();
    for _ in 0..250 {
        idle.push(TcpStream::connect(collector.addr).await.unwrap());
    }
    // A slowloris: a request head one header line every 200 ms, never finished.
    let started = Instant::now();
    let slowloris = tokio::spawn(exchange(
        collector.addr,
        b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec(),
        (0..1000).map(|i| format!("X-Slow-{i}: a\r\n").into_bytes()),
        Some(Duration::from_millis(200)),
        Duration::from_secs(60),
    ));
    // Everyone else is still served once the idle ones have timed out.
    collector.assert_intact().await;
    match slowloris.await.unwrap() {
        Ok(raw) => assert_eq!(raw.status, 408, "{raw:?}"),
        Err(closed) => assert!(
            closed.starts_with("closed") || closed.contains("reset"),
            "{closed}"
        ),
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the slowloris lasted {took:?}"
    );
    drop(idle);
    collector.assert_intact().await;
}

/// A valid submission of exactly `size` bytes: `ProductName` and one minidump of filler.
fn submission_of(size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut body = field(b"ProductName", b"Firefox");
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n").into_bytes();
    let dump_len = size - body.len() - tail.len();
    let dump: Vec<u8> = (0..dump_len).map(|i| (i % 251) as u8).collect();
    body.extend_from_slice(&dump);
    body.extend_from_slice(&tail);
    assert_eq!(body.len(), size);
    (body, dump)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_slow_submissions_are_held_to_the_in_flight_budget() {
    /// Each submission's size: the body limit here.
    const SIZE: usize = 20 << 20;
    /// Bytes each sends one at a time, 50 ms apart, after the rest at full speed.
    const TRICKLED: usize = 64;
    /// The budget (64 MiB: three bodies at once), the stored crashes (at most two of those
    /// three fit their copies in the budget; see below) and the process's baseline. Without
    /// the budget, forty 20 MiB bodies are held at once: over 800 MiB.
    const BOUND: u64 = 192 * 1024 * 1024;
    let mut collector = Collector::start(&[
        "--collector-max-in-flight",
        "64MiB",
        "--max-submission",
        "20MiB",
        "--collector-max-decompressed",
        "12MiB",
    ])
    .with_crashes()
    .await;
    let (body, dump) = submission_of(SIZE);
    let body = std::sync::Arc::new(body);
    // Forty at once, each declaring 20 MiB and slow to finish: an 800 MiB demand.
    let attacks: Vec<_> = (0..40)
        .map(|_| {
            let body = body.clone();
            let head = post_head(collector.addr, &format!("Content-Length: {SIZE}\r\n"));
            let fast = (0..SIZE - TRICKLED)
                .step_by(256 * 1024)
                .map(move |at| (at, (at + 256 * 1024).min(SIZE - TRICKLED)));
            let slow = (SIZE - TRICKLED..SIZE).map(|at| (at, at + 1));
            let chunks = fast.chain(slow).map(move |(from, to)| {
                let pace = (to - from == 1).then_some(Duration::from_millis(50));
                (pace, body[from..to].to_vec())
            });
            tokio::spawn(exchange_paced(
                collector.addr,
                head,
                chunks,
                Duration::from_secs(60),
            ))
        })
        .collect();
    // Meanwhile the collector answers, and what it acknowledged is intact.
    collector.assert_intact().await;
    let mut refused = 0;
    for attack in attacks {
        let raw = attack.await.unwrap().unwrap();
        match raw.status {
            200 => {
                let id = raw.body.trim_end().strip_prefix("CrashID=bp-").unwrap();
                collector.acknowledged.push((id.to_string(), dump.clone()));
            }
            // The budget was in use: told to come back, with the knob that decides it. (Of
            // the three bodies admitted, the first to finish finds 60 of 64 MiB held and no
            // room for its dump's copy, so it is told the same.)
            503 => {
                refused += 1;
                assert_eq!(raw.header("retry-after"), Some("1"), "{raw:?}");
                assert!(
                    raw.body.contains("in use by other requests")
                        && raw.body.contains("--collector-max-in-flight"),
                    "{raw:?}"
                );
            }
            _ => panic!("{raw:?}"),
        }
    }
    eprintln!("{refused} of 40 refused with 503");
    assert!(refused >= 36, "only {refused} of 40 refused");
    // The budget is whole again once they are done: a large submission goes through.
    let (status, text) = post(&collector, (*body).clone(), None).await;
    assert_eq!(status, 200, "{text}");
    let id = text.trim_end().strip_prefix("CrashID=bp-").unwrap();
    collector.acknowledged.push((id.to_string(), dump));
    collector.assert_intact_within(BOUND).await;
}

#[test]
fn a_budget_too_small_for_one_submission_is_refused_at_startup() {
    // 64 MiB is below what one submission may hold at the default limits (101 MiB).
    let output = Command::new(BIN)
        .args(["up", "--only", "collector", "--collector-port", "0"])
        .args(["--collector-max-in-flight", "64MiB"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--collector-max-in-flight") && stderr.contains("105906176 bytes"),
        "{stderr}"
    );
}
