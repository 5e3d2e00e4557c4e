//! Ingest benchmark: N keep-alive connections post a real Python SDK error envelope (gzip, as
//! sentry-sdk sends it without brotli) for T seconds; reports envelopes/s and latency
//! percentiles (p50 to max, from an HDR histogram of every request). Runs against in-process
//! servers (memory and file SQLite) and, optionally, a peer such as Kent at a URL, so the
//! figures are comparable within one run.
//!
//! Each connection sends back to back ([`Load::Closed`], for throughput) or on a fixed
//! schedule ([`Load::Rate`], for latency under a given load, counted from each request's due
//! time so that a stall cannot hide: see [`latency`]).

mod latency;

pub use latency::{Latencies, LatencySummary, Load, Schedule};

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use fake_sentry::config::{Config, Limits, Storage, SyncMode};
use fake_sentry::testing::FakeSentry;
use fake_sentry::{Endpoint, IngestRequest, NewEnvelope, Store, ingest_envelope};

/// The wire body of a real `sentry-sdk` 2.75.0 error envelope (see `testdata/captures`).
pub const PYTHON_ERROR_ENVELOPE_GZ: &[u8] =
    include_bytes!("../../fake-sentry/testdata/captures/python-error-gzip.envelope.gz");

/// One measured target.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub label: String,
    /// Requests answered with a 200.
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency: LatencySummary,
    /// The constant rate asked for, and how it went; `None` for a closed loop.
    pub rate: Option<RateOutcome>,
}

/// How a constant-rate run kept to its schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOutcome {
    /// Envelopes per second asked for.
    pub target: f64,
    /// Requests due before the end that were never sent, their connection still waiting on the
    /// server when the run ended. Each is in the latencies with the time it had waited by then
    /// (a lower bound), so a stall at the very end shows too.
    pub unsent: u64,
}

impl BenchResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Achieved envelopes/s as a share of the constant rate asked for.
    pub fn share_of_rate(&self) -> Option<f64> {
        self.rate.map(|rate| self.per_second() / rate.target)
    }
}

/// What one connection (or storage task) measured.
#[derive(Debug, Default)]
struct Tally {
    latencies: Latencies,
    /// Successes; in constant-rate mode `latencies` also holds the unsent requests.
    answered: u64,
    errors: u64,
    unsent: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.merge(&other.latencies);
        self.answered += other.answered;
        self.errors += other.errors;
        self.unsent += other.unsent;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid URL {0:?}: expected http://host:port")]
    Url(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("every request failed ({0} errors); is the target a Sentry ingest server?")]
    AllFailed(u64),
}

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> Result<String, BenchError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| BenchError::Url(url.into()))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(BenchError::Url(url.into()));
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// Drives `base_url` with `connections` connections for `duration`, paced by `load`.
pub async fn drive(
    label: &str,
    base_url: &str,
    connections: usize,
    duration: Duration,
    load: Load,
) -> Result<BenchResult, BenchError> {
    let authority = authority(base_url)?;
    let connections = connections.max(1);
    let requests: Arc<[Vec<u8>]> = fixture_pool()
        .iter()
        .map(|body| request_bytes(&authority, body))
        .collect();
    // Fail early, with a clear error, when nothing listens there.
    drop(
        tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| BenchError::Connect(authority.clone(), e))?,
    );
    // The clock starts once the requests are built and the target answers.
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|index| {
            let pacing = match load {
                Load::Closed => None,
                Load::Rate(rate) => Some(Schedule::new(start, deadline, rate, index, connections)),
            };
            tokio::spawn(connection_loop(
                authority.clone(),
                requests.clone(),
                (index, connections),
                deadline,
                pacing,
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        if let Ok(connection) = task.await {
            tally.merge(connection);
        }
    }
    summarize(label, start.elapsed(), tally, load)
}

/// How many distinct event ids the load cycles through. Real SDKs send a new id with every
/// event; a fixture whose id never changes would flatter whatever is keyed by event id (a
/// SQLite index on them once put each insert on a random page and cost the file-backed
/// storage a fifth of its throughput, which one repeated id hid).
pub const DISTINCT_EVENTS: usize = 4096;

/// The fixture's wire body `count` times, each with an event id of its own (in the envelope
/// header and in the event, where the SDK puts it) and gzipped again. Deterministic, so every
/// run sends the same bytes.
pub fn fixture_bodies(count: usize) -> Vec<Vec<u8>> {
    use std::io::{Read, Write};
    let mut envelope = Vec::new();
    flate2::read::GzDecoder::new(PYTHON_ERROR_ENVELOPE_GZ)
        .read_to_end(&mut envelope)
        .expect("the fixture is valid gzip");
    let text = String::from_utf8(envelope).expect("the fixture is UTF-8");
    (0..count)
        .map(|n| {
            // Same length as the original, so the item's `length` header stays right.
            let id = event_id(n);
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(text.replace(FIXTURE_EVENT_ID, &id).as_bytes())
                .and_then(|()| encoder.finish())
                .expect("gzip into memory")
        })
        .collect()
}

/// The `n`th of the load's event ids: 32 hex digits in no particular order (as SDKs' random
/// UUIDs are), so consecutive requests land at scattered places of whatever is keyed by
/// event id rather than sweeping it in order. SplitMix64's finalizer is a bijection, so `n` below 2^64 never
/// repeat an id.
fn event_id(n: usize) -> String {
    let mut z = (n as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("{z:016x}{:016x}", n as u64 + 1)
}

/// [`fixture_bodies`] of [`DISTINCT_EVENTS`], built once per process.
fn fixture_pool() -> &'static [Vec<u8>] {
    static POOL: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| fixture_bodies(DISTINCT_EVENTS))
}

/// The event id the captured fixture carries.
const FIXTURE_EVENT_ID: &str = "dd52e5d2fcb7424ead216d7d659c8280";

/// The request every connection sends, built once: what sentry-sdk sends (its headers, the
/// gzip fixture as body) over HTTP/1.1 keep-alive.
fn request_bytes(authority: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\n\
         host: {authority}\r\n\
         content-type: application/x-sentry-envelope\r\n\
         content-encoding: gzip\r\n\
         user-agent: sentry.python/2.75.0\r\n\
         x-sentry-auth: Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0\r\n\
         accept-encoding: identity\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

async fn connect(authority: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Posts the fixture's bodies (request `first`, then every `stride`th, so that connections
/// never send the same event id at once) on one connection until `deadline`: back to back, or
/// each when `schedule` says it is due. Reconnects when the server closes the connection
/// (Werkzeug, which Kent runs on, closes after every response); a reconnect counts in that
/// request's latency, as it would for a real SDK. Only a 200 counts as a success.
///
/// A request's latency runs from its send to the end of its answer, except on a schedule when
/// the request went out late because this connection was still waiting on the server: then it
/// runs from when the request was due (wrk2's correction for coordinated omission). A request
/// that goes out late only because the timer woke late (tokio's has millisecond granularity)
/// counts from its send: that lateness is the load generator's, not the server's.
///
/// The client is a plain socket writing a prebuilt request and parsing the answer's head with
/// `httparse`: the load generator shares the cores with the server, so the less it costs, the
/// more of the machine measures the server.
async fn connection_loop(
    authority: String,
    requests: Arc<[Vec<u8>]>,
    (first, stride): (usize, usize),
    deadline: Instant,
    mut schedule: Option<Schedule>,
) -> Tally {
    let mut tally = Tally::default();
    let mut open: Option<(TcpStream, BytesMut)> = None;
    let mut next = first;
    loop {
        let now = Instant::now();
        let sent = match &mut schedule {
            None if now < deadline => now,
            None => break,
            Some(schedule) => match schedule.next_due() {
                None => break,
                Some(due) if now >= deadline => {
                    // The run ended with requests still due: this connection was held up.
                    for due in std::iter::once(due).chain(schedule.drain()) {
                        tally.latencies.record(now - due);
                        tally.unsent += 1;
                    }
                    break;
                }
                Some(due) if now >= due => due,
                Some(due) => {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                }
            },
        };
        let request = &requests[next % requests.len()];
        next += stride;
        let (mut stream, mut buffer) = match open.take() {
            Some(connection) => connection,
            None => match connect(&authority).await {
                Ok(stream) => (stream, BytesMut::with_capacity(4096)),
                Err(_) => {
                    tally.errors += 1;
                    return tally;
                }
            },
        };
        let answer = async {
            stream.write_all(request).await?;
            read_response(&mut stream, &mut buffer).await
        }
        .await;
        match answer {
            Ok(response) => {
                if response.status == 200 {
                    tally.latencies.record(sent.elapsed());
                    tally.answered += 1;
                } else {
                    tally.errors += 1;
                }
                if response.keep_alive {
                    open = Some((stream, buffer));
                }
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

/// What the load generator needs from a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResponseHead {
    status: u16,
    keep_alive: bool,
}

/// How a response body is delimited (RFC 9112 §6.3).
enum BodyFraming {
    Length(usize),
    Chunked,
    UntilClose,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads more of the connection into `buffer`; the end of the stream is an error here.
async fn fill(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<()> {
    if buffer.capacity() - buffer.len() < 1024 {
        buffer.reserve(4096);
    }
    match stream.read_buf(buffer).await? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// Reads one whole response (head and body) from the connection, leaving anything after it in
/// `buffer`.
async fn read_response(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<ResponseHead> {
    let (head, framing, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buffer).map_err(|e| invalid(e.to_string()))? {
            httparse::Status::Complete(head_len) => {
                let status = response.code.unwrap_or_default();
                let mut keep_alive = response.version == Some(1);
                let mut framing = BodyFraming::UntilClose;
                for header in response.headers.iter() {
                    let value = std::str::from_utf8(header.value).unwrap_or_default();
                    if header.name.eq_ignore_ascii_case("content-length") {
                        let length = value
                            .trim()
                            .parse()
                            .map_err(|_| invalid("bad content-length"))?;
                        framing = BodyFraming::Length(length);
                    } else if header.name.eq_ignore_ascii_case("transfer-encoding")
                        && value.to_ascii_lowercase().contains("chunked")
                    {
                        framing = BodyFraming::Chunked;
                        break;
                    } else if header.name.eq_ignore_ascii_case("connection") {
                        let value = value.to_ascii_lowercase();
                        if value.contains("close") {
                            keep_alive = false;
                        } else if value.contains("keep-alive") {
                            keep_alive = true;
                        }
                    }
                }
                break (ResponseHead { status, keep_alive }, framing, head_len);
            }
            httparse::Status::Partial => fill(stream, buffer).await?,
        }
    };
    buffer.advance(head_len);
    match framing {
        BodyFraming::Length(length) => {
            while buffer.len() < length {
                fill(stream, buffer).await?;
            }
            buffer.advance(length);
            Ok(head)
        }
        BodyFraming::Chunked => {
            skip_chunked_body(stream, buffer).await?;
            Ok(head)
        }
        BodyFraming::UntilClose => {
            while stream.read_buf(buffer).await? > 0 {
                buffer.clear();
            }
            Ok(ResponseHead {
                keep_alive: false,
                ..head
            })
        }
    }
}

/// Reads one CRLF-terminated line, returning it without the CRLF.
async fn read_line(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<BytesMut> {
    loop {
        if let Some(end) = buffer.windows(2).position(|w| w == b"\r\n") {
            let line = buffer.split_to(end);
            buffer.advance(2);
            return Ok(line);
        }
        if buffer.len() > 64 * 1024 {
            return Err(invalid("chunk line too long"));
        }
        fill(stream, buffer).await?;
    }
}

async fn skip_chunked_body(stream: &mut TcpStream, buffer: &mut BytesMut) -> io::Result<()> {
    loop {
        let line = read_line(stream, buffer).await?;
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailer fields, then the empty line that ends the message.
            while !read_line(stream, buffer).await?.is_empty() {}
            return Ok(());
        }
        while buffer.len() < size + 2 {
            fill(stream, buffer).await?;
        }
        buffer.advance(size + 2);
    }
}

/// One thing `bench fake-sentry` can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The whole server, SQLite in memory.
    Memory,
    /// The whole server, SQLite in a file.
    File,
    /// The HTTP stack answering without ingest ([`HttpStage::AnswerOnly`]).
    Http,
    /// HTTP and ingest, no storage ([`HttpStage::Ingest`]).
    HttpIngest,
    /// The SQLite writer alone, in memory.
    StorageMemory,
    /// The SQLite writer alone, on a file.
    StorageFile,
    /// Decoding, parsing and describing alone, on one thread.
    Ingest,
}

/// What every target of one `bench fake-sentry` run shares.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub connections: usize,
    pub duration: Duration,
    /// How the targets that drive HTTP pace their connections; the storage and ingest targets
    /// always run flat out.
    pub load: Load,
    /// How the file-backed targets sync.
    pub sync: SyncMode,
    /// Where the file-backed targets keep their databases.
    pub dir: std::path::PathBuf,
}

impl Target {
    /// Every target, in the order a run measures them.
    pub const ALL: [Target; 7] = [
        Target::Memory,
        Target::File,
        Target::Http,
        Target::HttpIngest,
        Target::StorageMemory,
        Target::StorageFile,
        Target::Ingest,
    ];

    fn label(self, sync: SyncMode) -> String {
        let file = format!("file, sync {}", sync.as_str());
        match self {
            Target::Memory => "fake-sentry (memory)".into(),
            Target::File => format!("fake-sentry ({file})"),
            Target::Http => "HTTP only (no ingest)".into(),
            Target::HttpIngest => "HTTP + ingest (no storage)".into(),
            Target::StorageMemory => "storage only (memory)".into(),
            Target::StorageFile => format!("storage only ({file})"),
            Target::Ingest => "ingest only (1 thread)".into(),
        }
    }

    /// Whether this target is measured over HTTP (and so paced by [`RunSettings::load`]).
    pub fn drives_http(self) -> bool {
        matches!(
            self,
            Target::Memory | Target::File | Target::Http | Target::HttpIngest
        )
    }

    /// Measures this target.
    pub async fn measure(self, run: &RunSettings) -> anyhow::Result<BenchResult> {
        let label = self.label(run.sync);
        let (connections, duration, sync, load) =
            (run.connections, run.duration, run.sync, run.load);
        let file = |name: &str| {
            let path = run.dir.join(name);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Storage::File(path)
        };
        match self {
            Target::Memory => {
                let storage = Storage::Memory;
                bench_in_process(&label, storage, sync, connections, duration, load).await
            }
            Target::File => {
                let storage = file("bench.sqlite");
                bench_in_process(&label, storage, sync, connections, duration, load).await
            }
            Target::Http => {
                let stage = HttpStage::AnswerOnly;
                bench_http_stage(&label, stage, connections, duration, load).await
            }
            Target::HttpIngest => {
                let stage = HttpStage::Ingest;
                bench_http_stage(&label, stage, connections, duration, load).await
            }
            Target::StorageMemory => {
                bench_storage(&label, Storage::Memory, sync, connections, duration).await
            }
            Target::StorageFile => {
                let storage = file("storage-only.sqlite");
                bench_storage(&label, storage, sync, connections, duration).await
            }
            Target::Ingest => bench_ingest(&label, duration).await,
        }
    }
}

/// Starts an in-process server on `storage` and measures it.
pub async fn bench_in_process(
    label: &str,
    storage: Storage,
    sync: SyncMode,
    connections: usize,
    duration: Duration,
    load: Load,
) -> anyhow::Result<BenchResult> {
    let config = Config {
        storage,
        sync,
        // Keep everything the run sends: eviction is not what is being measured.
        max_items: usize::MAX >> 2,
        ..Config::ephemeral()
    };
    let server = FakeSentry::start_with(config).await?;
    let result = drive(label, &server.url(), connections, duration, load).await?;
    server.shutdown().await;
    Ok(result)
}

/// The fixture envelope as ingest turns it into a storage record.
fn fixture_envelope() -> anyhow::Result<NewEnvelope> {
    Ok(ingest_envelope(&fixture_request(), &Limits::default(), &[])?.envelope)
}

/// The fixture as the server sees one of the load generator's requests.
fn fixture_request() -> IngestRequest {
    // The headers the load generator sends, so the stored record is the one a request makes.
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("host", "127.0.0.1:8000"),
        ("content-type", "application/x-sentry-envelope"),
        ("content-encoding", "gzip"),
        ("user-agent", "sentry.python/2.75.0"),
        (
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0",
        ),
        ("accept-encoding", "identity"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(PYTHON_ERROR_ENVELOPE_GZ.len()),
    );
    IngestRequest {
        charge: fake_sentry::RequestCharge::unlimited(),
        endpoint: Endpoint::Envelope,
        project_id: 1,
        headers,
        query: Default::default(),
        body: Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ),
        received_at_ms: fake_sentry::now_ms(),
    }
}

/// Measures the ingest stage alone, on one thread: decoding, envelope parsing and describing
/// the fixture's items, as a request does before it queues for the writer; no HTTP, no
/// storage. Its envelopes/s is the inverse of the CPU time that stage costs per request.
pub async fn bench_ingest(label: &str, duration: Duration) -> anyhow::Result<BenchResult> {
    let label = label.to_string();
    tokio::task::spawn_blocking(move || {
        let mut tally = Tally::default();
        let start = Instant::now();
        let deadline = start + duration;
        while Instant::now() < deadline {
            let began = Instant::now();
            match fixture_envelope() {
                Ok(envelope) => {
                    std::hint::black_box(envelope);
                    tally.latencies.record(began.elapsed());
                    tally.answered += 1;
                }
                Err(_) => tally.errors += 1,
            }
        }
        Ok(summarize(&label, start.elapsed(), tally, Load::Closed)?)
    })
    .await?
}

/// How much of the ingest path an HTTP stage target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStage {
    /// Read the body and answer like Relay, nothing else: the floor that the HTTP stack
    /// (client, loopback TCP, hyper, axum) sets.
    AnswerOnly,
    /// Also decode, parse and describe the envelope as the server does, but store nothing.
    Ingest,
}

/// Measures the server's HTTP stack with `stage` of the ingest path behind it and no storage:
/// the same server edge (`http_edge::serve`, default connection limits) with keep-alive and
/// `TCP_NODELAY`, driven by the same load.
/// Set beside the full server's figure, it shows what each stage costs per request.
pub async fn bench_http_stage(
    label: &str,
    stage: HttpStage,
    connections: usize,
    duration: Duration,
    load: Load,
) -> anyhow::Result<BenchResult> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/api/{project}/envelope/",
            axum::routing::post(answer_stage),
        )
        .with_state(stage);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = http_edge::serve(
        listener,
        app,
        http_edge::ConnectionLimits::default(),
        async move {
            let _ = stopped.await;
        },
    );
    let server = tokio::spawn(serve);
    let result = drive(
        label,
        &format!("http://{addr}"),
        connections,
        duration,
        load,
    )
    .await;
    let _ = stop.send(());
    let _ = server.await;
    Ok(result?)
}

async fn answer_stage(
    axum::extract::State(stage): axum::extract::State<HttpStage>,
    headers: http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let event_id = match stage {
        HttpStage::AnswerOnly => Some("dd52e5d2fcb7424ead216d7d659c8280".to_string()),
        HttpStage::Ingest => {
            let request = IngestRequest {
                charge: fake_sentry::RequestCharge::unlimited(),
                endpoint: Endpoint::Envelope,
                project_id: 1,
                headers,
                query: Default::default(),
                body,
                received_at_ms: fake_sentry::now_ms(),
            };
            match ingest_envelope(&request, &Limits::default(), &[]) {
                Ok(ingested) => ingested.event_id,
                Err(err) => return err.into_response(),
            }
        }
    };
    axum::Json(serde_json::json!({ "id": event_id })).into_response()
}

/// Measures the storage stage alone: `concurrency` tasks insert the fixture envelope directly,
/// without HTTP, decoding or parsing. Shows how much of the end-to-end cost is the single
/// writer.
pub async fn bench_storage(
    label: &str,
    storage: Storage,
    sync: SyncMode,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<BenchResult> {
    let store = Store::open(
        &storage,
        usize::MAX >> 2,
        16,
        fake_sentry::config::DEFAULT_MAX_WAL_BYTES,
        sync,
    )?;
    let template = fixture_envelope()?;
    let start = Instant::now();
    let deadline = start + duration;
    let stride = concurrency.max(1);
    let tasks: Vec<_> = (0..stride)
        .map(|first| {
            let store = store.clone();
            let template = template.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut next = first;
                while Instant::now() < deadline {
                    // A new event id each time, as the HTTP targets send (see
                    // `DISTINCT_EVENTS`).
                    let mut envelope = template.clone();
                    let id = event_id(next % DISTINCT_EVENTS);
                    next += stride;
                    for item in &mut envelope.items {
                        item.meta.event_id = Some(id.clone());
                    }
                    let sent = Instant::now();
                    match store.insert(envelope).await {
                        Ok(_) => {
                            tally.latencies.record(sent.elapsed());
                            tally.answered += 1;
                        }
                        Err(_) => tally.errors += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    Ok(summarize(label, start.elapsed(), tally, Load::Closed)?)
}

fn summarize(
    label: &str,
    elapsed: Duration,
    tally: Tally,
    load: Load,
) -> Result<BenchResult, BenchError> {
    if tally.answered == 0 {
        return Err(BenchError::AllFailed(tally.errors));
    }
    Ok(BenchResult {
        label: label.to_string(),
        requests: tally.answered,
        errors: tally.errors,
        elapsed,
        latency: tally.latencies.summary(),
        rate: match load {
            Load::Closed => None,
            Load::Rate(target) => Some(RateOutcome {
                target,
                unsent: tally.unsent,
            }),
        },
    })
}

/// The table's columns after the label: (heading, width).
const COLUMNS: [(&str, usize); 10] = [
    ("envelopes/s", 11),
    ("of rate", 7),
    ("requests", 9),
    ("unsent", 7),
    ("p50 ms", 8),
    ("p90 ms", 8),
    ("p99 ms", 8),
    ("p99.9 ms", 8),
    ("max ms", 8),
    ("errors", 6),
];

/// Width of the label column; longer labels (a peer's URL) push their row to the right.
const LABEL_WIDTH: usize = 28;

fn row_of(label: &str, cells: [String; 10]) -> String {
    let mut row = format!("{label:<LABEL_WIDTH$}");
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        row.push_str(&format!(" {cell:>width$}"));
    }
    row
}

/// A table row. `of rate` (achieved envelopes/s as a share of `--rate`) and `unsent` are `-`
/// for a closed loop.
pub fn format_row(result: &BenchResult) -> String {
    let ms = |latency: Duration| format!("{:.2}", latency.as_secs_f64() * 1e3);
    let latency = &result.latency;
    row_of(
        &result.label,
        [
            format!("{:.0}", result.per_second()),
            result
                .share_of_rate()
                .map_or("-".into(), |share| format!("{:.1}%", share * 100.0)),
            result.requests.to_string(),
            result
                .rate
                .map_or("-".into(), |rate| rate.unsent.to_string()),
            ms(latency.p50),
            ms(latency.p90),
            ms(latency.p99),
            ms(latency.p999),
            ms(latency.max),
            result.errors.to_string(),
        ],
    )
}

pub fn header_row() -> String {
    row_of("target", COLUMNS.map(|(heading, _)| heading.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Each body is the fixture with an event id of its own that ingest reads back, and the
    /// item still parses (its length header still matches).
    #[test]
    fn fixture_bodies_differ_only_in_their_event_ids() {
        let bodies = fixture_bodies(3);
        let mut ids = Vec::new();
        for body in &bodies {
            let request = IngestRequest {
                body: Bytes::from(body.clone()),
                ..fixture_request()
            };
            let ingested =
                ingest_envelope(&request, &Limits::default(), &[]).expect("the body ingests");
            let item = &ingested.envelope.items[0];
            assert_eq!(item.meta.decode_error, None);
            assert_eq!(item.meta.event_id, ingested.event_id);
            assert_eq!(
                item.meta.summary,
                "ValueError: python error understudy-marker-7f3c"
            );
            ids.push(ingested.event_id.expect("an event id"));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "distinct ids: {ids:?}");
        assert!(!ids.contains(&FIXTURE_EVENT_ID.to_string()));
    }

    /// The load's event ids are distinct and not in sorted order, as random UUIDs would be:
    /// ids sorted like the requests that carry them would sweep the event id index in order.
    #[test]
    fn event_ids_are_distinct_and_scattered() {
        let ids: Vec<String> = (0..DISTINCT_EVENTS).map(event_id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), DISTINCT_EVENTS);
        assert!(ids.iter().all(|id| id.len() == 32));
        let in_order = ids.windows(2).filter(|w| w[0] < w[1]).count();
        let share = in_order as f64 / (DISTINCT_EVENTS - 1) as f64;
        assert!((0.4..0.6).contains(&share), "{share} of neighbours ascend");
    }

    /// Both HTTP stage targets answer the fixture with 200 (an ingest error would count as
    /// an error, and a stage that answered nothing would report no requests).
    #[tokio::test]
    async fn http_stage_targets_answer_the_fixture() {
        for stage in [HttpStage::AnswerOnly, HttpStage::Ingest] {
            let result =
                bench_http_stage("stage", stage, 2, Duration::from_millis(300), Load::Closed)
                    .await
                    .expect("stage bench runs");
            assert!(result.requests > 0, "{stage:?}: no request answered");
            assert_eq!(result.errors, 0, "{stage:?}: requests failed");
        }
    }

    /// Serves `raw` as the answer to one connection, then reads back every response the load
    /// generator's parser finds in it.
    async fn parse_all(raw: &'static [u8]) -> Vec<io::Result<ResponseHead>> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            // Byte by byte, so every partial-read path is taken.
            for byte in raw {
                socket.write_all(std::slice::from_ref(byte)).await.unwrap();
                socket.flush().await.unwrap();
            }
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buffer = BytesMut::new();
        let mut heads = Vec::new();
        loop {
            let head = read_response(&mut stream, &mut buffer).await;
            let stop = !matches!(&head, Ok(h) if h.keep_alive);
            heads.push(head);
            if stop {
                break;
            }
        }
        server.await.unwrap();
        heads
    }

    #[tokio::test]
    async fn responses_are_framed_by_length_chunks_or_close() {
        let heads = parse_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{\"a\"}\
              HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n\
              3;x=y\r\nabc\r\n2\r\n\r\n\r\n0\r\nTrailer: 1\r\n\r\n\
              HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until close",
        )
        .await;
        let heads: Vec<ResponseHead> = heads.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            heads,
            [
                ResponseHead {
                    status: 200,
                    keep_alive: true
                },
                ResponseHead {
                    status: 429,
                    keep_alive: true
                },
                ResponseHead {
                    status: 200,
                    keep_alive: false
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_truncated_response_is_an_error() {
        let heads = parse_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort").await;
        assert_eq!(heads.len(), 1);
        assert_eq!(
            heads[0].as_ref().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
