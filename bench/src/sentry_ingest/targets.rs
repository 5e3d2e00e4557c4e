//! What `bench fake-sentry` can measure ([`Target`]): the whole server in process (memory or
//! file), the HTTP stack with or without ingest behind it, the storage writer alone, and
//! ingest alone; each driven by [`super::drive`] or called directly.

use std::time::{Duration, Instant};

use bytes::Bytes;

use fake_sentry::config::{Config, Limits, Storage, SyncMode};
use fake_sentry::testing::FakeSentry;
use fake_sentry::{Endpoint, IngestRequest, NewEnvelope, Store, ingest_envelope};

use crate::child_server::http_client;
use crate::sentry_process::ServerCommand;

use super::{
    BenchResult, DISTINCT_EVENTS, Generator, Load, PYTHON_ERROR_ENVELOPE_GZ, Tally, event_id,
    gzip_envelope_request, summarize,
};

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
    /// What sends the load of the targets that drive HTTP; the storage and ingest targets
    /// always run flat out.
    pub generator: Generator,
    /// How the file-backed targets sync.
    pub sync: SyncMode,
    /// Where the file-backed targets keep their databases.
    pub dir: std::path::PathBuf,
    /// The whole-server targets' `--max-events` and `--max-db-size`, to measure eviction.
    pub caps: ServerCaps,
    /// The whole-server targets run as fake-sentry's command line in a process of its own.
    pub server_process: bool,
}

/// Retention caps of the in-process server; absent, it keeps everything a run sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerCaps {
    pub max_items: Option<usize>,
    pub max_db_bytes: Option<u64>,
    /// The server's `--search-index-max-bytes` (its default when absent; 0 turns it off).
    pub search_index_max_bytes: Option<usize>,
    /// The server's `--bodies` (its default when absent).
    pub bodies: Option<fake_sentry::BodyStorage>,
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

    /// A short name for ratios between targets (`file / memory`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Memory => "memory",
            Target::File => "file",
            Target::Http => "http",
            Target::HttpIngest => "http-ingest",
            Target::StorageMemory => "storage-memory",
            Target::StorageFile => "storage-file",
            Target::Ingest => "ingest",
        }
    }

    /// Whether this target is measured over HTTP (and so by [`RunSettings::generator`]).
    pub fn drives_http(self) -> bool {
        matches!(
            self,
            Target::Memory | Target::File | Target::Http | Target::HttpIngest
        )
    }

    /// Measures this target.
    pub async fn measure(self, run: &RunSettings) -> anyhow::Result<BenchResult> {
        let mut label = self.label(run.sync);
        if self.drives_http() {
            label.push_str(run.generator.suffix());
        }
        let (connections, duration, sync, load) =
            (run.connections, run.duration, run.sync, &run.generator);
        // A fresh database: one left by an earlier row would add its items to this one's.
        let file = |name: &str| {
            let path = run.dir.join(name);
            for file in fake_sentry::Store::files(&path) {
                let _ = std::fs::remove_file(file);
            }
            path
        };
        match self {
            Target::Memory if run.server_process => {
                bench_server_process(&label, ":memory:".into(), run).await
            }
            Target::File if run.server_process => {
                bench_server_process(&label, file("bench.sqlite"), run).await
            }
            Target::Memory => {
                let (storage, caps) = (Storage::Memory, run.caps);
                bench_in_process(&label, storage, sync, connections, duration, load, caps).await
            }
            Target::File => {
                let (storage, caps) = (Storage::File(file("bench.sqlite")), run.caps);
                bench_in_process(&label, storage, sync, connections, duration, load, caps).await
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
                let storage = Storage::File(file("storage-only.sqlite"));
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
    load: &Generator,
    caps: ServerCaps,
) -> anyhow::Result<BenchResult> {
    let config = Config {
        storage,
        sync,
        // Unless asked to, keep everything the run sends: eviction is not what is measured.
        max_items: caps.max_items.unwrap_or(usize::MAX >> 2),
        max_db_bytes: caps.max_db_bytes,
        search_index_max_bytes: caps
            .search_index_max_bytes
            .unwrap_or(fake_sentry::config::DEFAULT_SEARCH_INDEX_MAX_BYTES),
        bodies: caps.bodies.unwrap_or_default(),
        ..Config::ephemeral()
    };
    let server = FakeSentry::start_with(config).await?;
    let result = load
        .drive(label, &server.url(), connections, duration)
        .await;
    server.shutdown().await;
    result
}

/// Starts fake-sentry's command line in a process of its own on `db` (a file or `:memory:`),
/// with the run's sync mode and caps, and measures it.
pub async fn bench_server_process(
    label: &str,
    db: std::path::PathBuf,
    run: &RunSettings,
) -> anyhow::Result<BenchResult> {
    let mut args = vec!["--sync".to_string(), run.sync.as_str().to_string()];
    if let Some(bytes) = run.caps.max_db_bytes {
        args.extend(["--max-db-size".into(), format!("{bytes}B")]);
    }
    if let Some(bytes) = run.caps.search_index_max_bytes {
        args.extend(["--search-index-max-bytes".into(), format!("{bytes}B")]);
    }
    if let Some(bodies) = run.caps.bodies {
        args.extend(["--bodies".into(), bodies.as_str().into()]);
    }
    let command = ServerCommand {
        program: None,
        db,
        // As in process: everything the run sends is kept unless asked otherwise.
        max_events: run.caps.max_items.map_or(u64::MAX >> 2, |n| n as u64),
        args,
        log_filter: "warn".into(),
        log: run.dir.join("bench-server.log"),
    };
    let started = command.start(&http_client()?).await?;
    let result = run
        .generator
        .drive(label, &started.url, run.connections, run.duration)
        .await;
    started.server.terminate(SERVER_GRACE).await?;
    result
}

/// How long a server process has to stop once asked.
const SERVER_GRACE: Duration = Duration::from_secs(30);

/// The fixture envelope as ingest turns it into a storage record.
fn fixture_envelope() -> anyhow::Result<NewEnvelope> {
    Ok(ingest_envelope(&fixture_request(), &Limits::default(), &[])?.envelope)
}

/// The fixture as the server sees one of the load generator's requests.
pub(super) fn fixture_request() -> IngestRequest {
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
    load: &Generator,
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
    let url = format!("http://{addr}");
    let result = load.drive(label, &url, connections, duration).await;
    let _ = stop.send(());
    let _ = server.await;
    result
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
                headers,
                ..gzip_envelope_request(body)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Both HTTP stage targets answer the fixture with 200 (an ingest error would count as
    /// an error, and a stage that answered nothing would report no requests).
    #[tokio::test]
    async fn http_stage_targets_answer_the_fixture() {
        for stage in [HttpStage::AnswerOnly, HttpStage::Ingest] {
            let load = Generator::Builtin(Load::Closed);
            let result = bench_http_stage("stage", stage, 2, Duration::from_millis(300), &load)
                .await
                .expect("stage bench runs");
            assert!(result.requests > 0, "{stage:?}: no request answered");
            assert_eq!(result.errors, 0, "{stage:?}: requests failed");
        }
    }
}
