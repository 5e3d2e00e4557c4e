//! The `fake-sentry` command line: serve (the default, or `serve`), every flag with a
//! `FAKE_SENTRY_*` variable. [`main`] is what the `fake-sentry` binary and the suite's
//! multi-call binary run; it parses, builds a [`Config`] and serves until a signal.

mod native_args;

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use event_filter::Policy;

use crate::config::{Config, Limits, PublicUrl, Storage, SyncMode, UiLimit, UiLimits, parse_size};
use crate::config::{ForwardConfig, Upstream};
use crate::data_policy::DataPolicy;
use crate::faults::FaultRule;
use crate::server::Server;

#[derive(Parser)]
#[command(
    name = "fake-sentry",
    version,
    about = "A fake Sentry server that keeps everything SDKs send"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Process one minidump job from stdin to stdout: the worker process the server starts
    /// for each dump (`crate::native::worker`).
    #[command(name = "process-minidump", hide = true)]
    ProcessMinidump,
}

/// What the program running this command line gives it, for the minidump workers it starts.
#[derive(Default)]
pub struct Host {
    /// The arguments that make this executable run this command line again, before its own
    /// (none for `fake-sentry`, and for the suite's multi-call binary, which is run as
    /// `fake-sentry`; `serve-fake-sentry` for bench's).
    pub prefix: Vec<OsString>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FAKE_SENTRY_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FAKE_SENTRY_PORT", default_value_t = 8000)]
    port: u16,
    /// SQLite file to keep data in (WAL mode); in memory when absent, empty or `:memory:`.
    #[arg(long, env = "FAKE_SENTRY_DB")]
    db: Option<Storage>,
    /// Items kept before the oldest are evicted.
    #[arg(long, env = "FAKE_SENTRY_MAX_EVENTS", default_value_t = 200_000)]
    max_events: usize,
    /// Bytes the in-memory store keeps (bodies, payloads, headers) before the oldest
    /// envelopes are evicted; not applied to --db.
    #[arg(long, env = "FAKE_SENTRY_MAX_MEMORY_BYTES", value_parser = parse_size, default_value = "1GiB")]
    max_memory_bytes: usize,
    /// Bytes the --db file holds (its pages in use) before the oldest envelopes are evicted;
    /// no cap when absent or empty. Freed pages are reused, so the file stops growing near the
    /// cap but never shrinks; the WAL is bounded by --max-wal. In memory the smaller of this
    /// and --max-memory-bytes applies.
    #[arg(long, env = "FAKE_SENTRY_MAX_DB_SIZE", value_parser = parse_size_cap)]
    max_db_size: Option<SizeCap>,
    /// Refused requests kept for /api/refusals/.
    #[arg(long, env = "FAKE_SENTRY_MAX_REFUSALS", default_value_t = 10_000)]
    max_refusals: usize,
    /// Bytes of refused requests (reasons, body prefixes, paths) kept for /api/refusals/
    /// before the oldest are evicted; applied to --db as well.
    #[arg(long, env = "FAKE_SENTRY_MAX_REFUSAL_BYTES", value_parser = parse_size, default_value = "64MiB")]
    max_refusal_bytes: usize,
    /// The URL SDKs reach this server at, for the DSN it prints and shows (e.g.
    /// http://fake-sentry:8000 in a compose network); the listening address when absent.
    #[arg(long, env = "FAKE_SENTRY_PUBLIC_URL")]
    public_url: Option<PublicUrl>,
    /// Host names the API and web UI answer to besides IP addresses, localhost, dotless
    /// names (compose services) and the --public-url host, comma-separated; ".example.com"
    /// allows its subdomains and "*" any name. Defeats DNS rebinding (docs/security.md).
    #[arg(long, env = "FAKE_SENTRY_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Most client connections open at once; further clients wait to be accepted.
    #[arg(long, env = "FAKE_SENTRY_MAX_CONNECTIONS", default_value_t = http_edge::ConnectionLimits::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a client has to send each request's headers (idle keep-alive included).
    #[arg(long, env = "FAKE_SENTRY_HEADER_READ_TIMEOUT", default_value_t = http_edge::ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64())]
    header_read_timeout: f64,
    /// Seconds a request body may go without a byte arriving; a stalled body gets 408 (the
    /// whole body also has --body-timeout).
    #[arg(long, env = "FAKE_SENTRY_BODY_IDLE_TIMEOUT", default_value_t = http_edge::ConnectionLimits::DEFAULT_BODY_IDLE_TIMEOUT.as_secs_f64())]
    body_idle_timeout: f64,
    /// Most header lines in one request (more get 431).
    #[arg(long, env = "FAKE_SENTRY_MAX_HEADERS", default_value_t = http_edge::ConnectionLimits::DEFAULT_MAX_HEADERS)]
    max_headers: usize,
    /// Largest request head: request line and headers (more get 431; at least 8KiB).
    #[arg(long, env = "FAKE_SENTRY_MAX_HEAD", value_parser = parse_size, default_value = "64KiB")]
    max_head: usize,
    /// Largest the SQLite write-ahead log (--db) may grow before it is checkpointed and
    /// rewound (or truncated).
    #[arg(long, env = "FAKE_SENTRY_MAX_WAL", value_parser = parse_size, default_value = "256MiB")]
    max_wal: usize,
    /// How --db syncs to disk: off (survives the process being killed, not a machine crash;
    /// fastest), normal (also survives a machine crash, minus the last commits) or full.
    #[arg(long, env = "FAKE_SENTRY_SYNC", default_value = "off")]
    sync: SyncMode,
    /// Longest payload the search index of --db takes in; longer ones, and those that are not
    /// UTF-8, are read by every text search. 0 turns the index off (every search reads all).
    #[arg(long, env = "FAKE_SENTRY_SEARCH_INDEX_MAX_BYTES", value_parser = parse_size, default_value = "64KiB")]
    search_index_max_bytes: usize,
    /// How request bodies are kept: compact (the decoded body compressed against a dictionary
    /// of what SDKs send, when that is smaller; a compressed body's bytes as sent are then not
    /// kept) or as-sent (byte for byte, for `?as_sent` downloads; about twice the disk).
    #[arg(long, env = "FAKE_SENTRY_BODIES", default_value = "compact")]
    bodies: crate::store::BodyStorage,
    /// Accept only this public key (repeat for several); any key when absent.
    #[arg(
        long = "require-key",
        env = "FAKE_SENTRY_REQUIRE_KEY",
        value_delimiter = ','
    )]
    require_key: Vec<String>,
    /// Inject a fault: KIND[:RATE][@PROJECT], KIND one of 429[=SECS], 413, 500, 503, delay=MS.
    #[arg(long = "fault", env = "FAKE_SENTRY_FAULTS", value_delimiter = ',')]
    faults: Vec<FaultRule>,
    /// Largest request body on the wire (e.g. 100MiB).
    #[arg(long, env = "FAKE_SENTRY_MAX_REQUEST_BODY", value_parser = parse_size, default_value = "100MiB")]
    max_request_body: usize,
    /// Largest body after decompression.
    #[arg(long, env = "FAKE_SENTRY_MAX_DECOMPRESSED", value_parser = parse_size, default_value = "200MiB")]
    max_decompressed: usize,
    /// Memory all requests being ingested may hold together (bodies, decompressed bodies,
    /// items) until committed; past it requests get 503.
    #[arg(long, env = "FAKE_SENTRY_MAX_IN_FLIGHT", value_parser = parse_size, default_value = "1GiB")]
    max_in_flight: usize,
    /// Seconds a request's body may take to arrive once its headers have; slower ones get 408.
    #[arg(long, env = "FAKE_SENTRY_BODY_TIMEOUT", default_value_t = 60.0)]
    body_timeout: f64,
    /// Largest event, transaction, span, log or metric item.
    #[arg(long, env = "FAKE_SENTRY_MAX_EVENT_ITEM", value_parser = parse_size, default_value = "1MiB")]
    max_event_item: usize,
    /// Largest attachment (and minidump).
    #[arg(long, env = "FAKE_SENTRY_MAX_ATTACHMENT", value_parser = parse_size, default_value = "100MiB")]
    max_attachment: usize,
    /// Most items in one envelope.
    #[arg(
        long,
        env = "FAKE_SENTRY_MAX_ITEMS_PER_ENVELOPE",
        default_value_t = 1000
    )]
    max_items_per_envelope: usize,
    /// Most sessions in one envelope.
    #[arg(long, env = "FAKE_SENTRY_MAX_SESSIONS", default_value_t = 100)]
    max_sessions: usize,
    /// Largest envelope header line.
    #[arg(long, env = "FAKE_SENTRY_MAX_ENVELOPE_HEADER", value_parser = parse_size, default_value = "64KiB")]
    max_envelope_header: usize,
    /// Largest envelope item header line.
    #[arg(long, env = "FAKE_SENTRY_MAX_ITEM_HEADER", value_parser = parse_size, default_value = "64KiB")]
    max_item_header: usize,
    /// Most codings in one Content-Encoding header (e.g. "gzip, br" is two).
    #[arg(long, env = "FAKE_SENTRY_MAX_ENCODINGS", default_value_t = 4)]
    max_encodings: usize,
    /// Most levels of a minidump form's sentry[a][b]... field name.
    #[arg(long, env = "FAKE_SENTRY_MAX_FORM_DEPTH", default_value_t = 32)]
    max_form_depth: usize,
    /// Most parts (fields and files) in a minidump upload's multipart form.
    #[arg(long, env = "FAKE_SENTRY_MAX_FORM_FIELDS", default_value_t = 1000)]
    max_form_fields: usize,
    /// Largest minidump form field that is not a file.
    #[arg(long, env = "FAKE_SENTRY_MAX_FORM_FIELD", value_parser = parse_size, default_value = "1MiB")]
    max_form_field: usize,
    /// Largest headers of one multipart part.
    #[arg(long, env = "FAKE_SENTRY_MAX_PART_HEADER", value_parser = parse_size, default_value = "16KiB")]
    max_part_header: usize,
    /// Most pairs in an ingest request's query string.
    #[arg(long, env = "FAKE_SENTRY_MAX_QUERY_PAIRS", default_value_t = 100)]
    max_query_pairs: usize,
    /// Largest query string of an ingest request.
    #[arg(long, env = "FAKE_SENTRY_MAX_QUERY", value_parser = parse_size, default_value = "256KiB")]
    max_query: usize,
    /// Causes an error answer, log line or stored refusal lists before "and N more".
    #[arg(long, env = "FAKE_SENTRY_MAX_ERROR_CAUSES", default_value_t = 20)]
    max_error_causes: usize,
    /// Longest error cause (or detail) kept in answers, log lines and refusals.
    #[arg(long, env = "FAKE_SENTRY_MAX_ERROR_CAUSE", value_parser = parse_size, default_value = "1KiB")]
    max_error_cause: usize,
    /// Largest PUT /api/faults/ body.
    #[arg(long, env = "FAKE_SENTRY_MAX_FAULTS_BODY", value_parser = parse_size, default_value = "64KiB")]
    max_faults_body: usize,
    /// Deepest nesting of any JSON received (headers, items, bodies, fault rules); 128 is
    /// serde_json's own limit and the most there can be.
    #[arg(long, env = "FAKE_SENTRY_MAX_JSON_DEPTH", default_value_t = 128,
          value_parser = clap::value_parser!(u16).range(1..=128))]
    max_json_depth: u16,
    /// Entries of one log item stored as rows of their own (for /api/logs/ and /logs); those
    /// past it are counted, not kept.
    #[arg(long, env = "FAKE_SENTRY_MAX_LOG_ENTRIES", default_value_t = 1000)]
    max_log_entries: usize,
    /// Audit every JSON item against this data policy (event-filter TOML, or a Relay PII
    /// config as .json); findings show in the API and UI.
    #[arg(long, env = "FAKE_SENTRY_POLICY", conflicts_with = "preset")]
    policy: Option<PathBuf>,
    /// Audit against a built-in policy: python-sdk, fillmore or strict.
    #[arg(long, env = "FAKE_SENTRY_PRESET")]
    preset: Option<String>,
    /// Also keep the scrubbed version of every audited item (and forward that one).
    #[arg(long, env = "FAKE_SENTRY_SCRUB")]
    scrub: bool,
    /// Forward everything captured to this DSN (scrubbed with --scrub): a scrubbing proxy.
    #[arg(long, env = "FAKE_SENTRY_FORWARD")]
    forward: Option<Upstream>,
    /// Envelopes waiting to be forwarded before new ones are dropped.
    #[arg(long, env = "FAKE_SENTRY_FORWARD_QUEUE", default_value_t = 1000)]
    forward_queue: usize,
    /// Bytes of envelopes waiting to be forwarded (or being sent) before new ones are dropped.
    #[arg(long, env = "FAKE_SENTRY_FORWARD_QUEUE_BYTES", value_parser = parse_size, default_value = "256MiB")]
    forward_queue_bytes: usize,
    /// Seconds before a forwarding request is abandoned.
    #[arg(long, env = "FAKE_SENTRY_FORWARD_TIMEOUT", default_value_t = 30.0)]
    forward_timeout: f64,
    /// How much of a captured value the web UI shows: KEY=N (repeat, or comma-separate), e.g.
    /// frames=1000 or pretty_json_bytes=8MiB. Keys and defaults: frames 250, context_lines 50,
    /// breadcrumbs 500, chain 50, native_threads 100, native_modules 1000, spans 1000,
    /// logs 1000, field_rows 500, cell_chars 2000, summary_chars 300, pretty_json_bytes 1MiB,
    /// json_view_bytes 8MiB, text_preview_bytes 64KiB, hex_preview_bytes 4KiB,
    /// compare_changes 2000, refusals 500, page 50, max_page 500, suggestions 50,
    /// suggestion_window 500.
    #[arg(
        long = "ui-limit",
        env = "FAKE_SENTRY_UI_LIMITS",
        value_delimiter = ','
    )]
    ui_limits: Vec<UiLimit>,
    /// Most items one API list or wait answer carries (lists page on with `next_cursor`).
    #[arg(long, env = "FAKE_SENTRY_API_MAX_PAGE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    api_max_page: u32,
    /// Most spans GET /api/traces/{id} nests in its tree, and most log entries it pins.
    #[arg(long, env = "FAKE_SENTRY_MAX_TRACE_SPANS", default_value_t = crate::config::DEFAULT_MAX_TRACE_SPANS as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_trace_spans: u32,
    /// Envelopes Spotlight's /stream replays to a client that connects without Last-Event-ID.
    #[arg(long, env = "FAKE_SENTRY_STREAM_REPLAY", default_value_t = 500)]
    stream_replay: u32,
    /// Bytes of a refused request's body kept for /api/refusals/ and the refusals page.
    #[arg(long, env = "FAKE_SENTRY_REFUSED_BODY_PREFIX", value_parser = parse_size, default_value = "4KiB")]
    refused_body_prefix: usize,
    #[command(flatten)]
    native: native_args::NativeArgs,
}

/// A byte cap that may be switched off: empty (as an image's environment can set it, like
/// `FAKE_SENTRY_DB=`) means none.
#[derive(Debug, Clone, Copy)]
struct SizeCap(Option<usize>);

fn parse_size_cap(text: &str) -> Result<SizeCap, String> {
    match text.trim() {
        "" => Ok(SizeCap(None)),
        size => parse_size(size).map(|bytes| SizeCap(Some(bytes))),
    }
}

/// A flag's seconds as a duration of at least a millisecond; infinite or absurd values are an
/// error rather than a panic.
fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs.max(0.001)).map_err(|e| anyhow::anyhow!("{flag} {secs}: {e}"))
}

impl ServeArgs {
    fn data_policy(&self) -> anyhow::Result<Option<DataPolicy>> {
        let (policy, origin) = match (&self.policy, &self.preset) {
            (Some(path), _) => (Policy::from_file(path)?, path.display().to_string()),
            (None, Some(name)) => (Policy::preset(name)?, format!("preset:{name}")),
            (None, None) if self.scrub => bail!("--scrub needs --policy FILE or --preset NAME"),
            (None, None) => return Ok(None),
        };
        Ok(Some(DataPolicy::new(policy, origin, self.scrub)))
    }

    fn config(&self) -> anyhow::Result<Config> {
        let defaults = Limits::default();
        let forward_timeout = seconds("--forward-timeout", self.forward_timeout)?;
        Ok(Config {
            listen: SocketAddr::new(self.host, self.port),
            storage: self.db.clone().unwrap_or(Storage::Memory),
            max_items: self.max_events,
            max_memory_bytes: self.max_memory_bytes,
            max_db_bytes: self.max_db_size.and_then(|cap| cap.0).map(|b| b as u64),
            max_refusals: self.max_refusals,
            max_refusal_bytes: self.max_refusal_bytes,
            max_wal_bytes: self.max_wal as u64,
            sync: self.sync,
            search_index_max_bytes: self.search_index_max_bytes,
            bodies: self.bodies,
            limits: Limits {
                max_request_body: self.max_request_body,
                max_decompressed: self.max_decompressed,
                max_event_item: self.max_event_item,
                max_attachment: self.max_attachment,
                max_items_per_envelope: self.max_items_per_envelope,
                max_sessions: self.max_sessions,
                max_in_flight: self.max_in_flight,
                body_timeout: seconds("--body-timeout", self.body_timeout)?,
                max_envelope_header: self.max_envelope_header,
                max_item_header: self.max_item_header,
                max_encodings: self.max_encodings,
                max_form_depth: self.max_form_depth,
                max_form_fields: self.max_form_fields,
                max_form_field: self.max_form_field,
                max_part_header: self.max_part_header,
                max_query_pairs: self.max_query_pairs,
                max_query: self.max_query,
                max_error_causes: self.max_error_causes,
                max_error_cause: self.max_error_cause,
                max_faults_body: self.max_faults_body,
                max_json_depth: usize::from(self.max_json_depth),
                max_log_entries: self.max_log_entries,
                ..defaults
            },
            required_keys: self.require_key.clone(),
            faults: self.faults.clone(),
            policy: self.data_policy()?,
            forward: self.forward.clone().map(|upstream| ForwardConfig {
                queue: self.forward_queue,
                queue_bytes: self.forward_queue_bytes,
                timeout: forward_timeout,
                ..ForwardConfig::new(upstream)
            }),
            public_url: self.public_url.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            connection: http_edge::ConnectionLimits {
                max_connections: self.max_connections,
                header_read_timeout: seconds("--header-read-timeout", self.header_read_timeout)?,
                max_headers: self.max_headers,
                max_head_bytes: self.max_head,
                body_idle_timeout: seconds("--body-idle-timeout", self.body_idle_timeout)?,
            },
            ui: UiLimits::with(&self.ui_limits)?,
            api_max_page: self.api_max_page as usize,
            max_trace_spans: self.max_trace_spans as usize,
            stream_replay: self.stream_replay as usize,
            refused_body_prefix: self.refused_body_prefix,
            native: self.native.config()?,
        })
    }
}

async fn serve(args: ServeArgs, host: &Host) -> anyhow::Result<()> {
    let mut config = args.config()?;
    config.native.isolation = args.native.isolation(&host.prefix)?;
    let server = Server::bind(config)
        .await
        .context("cannot start fake-sentry")?;
    let state = server.state();
    println!(
        "fake-sentry {} listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()
    );
    println!("DSN: {}", state.dsn(1));
    if let Some(policy) = &state.config.policy {
        let mode = if policy.scrub {
            "audit and scrub"
        } else {
            "audit"
        };
        println!("data policy: {} ({mode})", policy.origin);
    }
    if let Some(forwarder) = &state.forwarder {
        println!("forwarding to {}", forwarder.upstream().envelope_url);
    }
    server.run(http_edge::shutdown_signal()).await?;
    Ok(())
}

/// Runs the command line `args` (the program name first): parses it (printing help, the
/// version or a usage error and exiting as clap does), sets up logging and serves. Minidump
/// workers are this executable run as `fake-sentry`, without a memory limit: see [`main_with`].
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    main_with(args, Host::default())
}

/// [`main`] in a program that says how to run its minidump workers.
pub fn main_with(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    host: Host,
) -> ExitCode {
    let cli = Cli::parse_from(args);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "fake_sentry=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match cli.command {
        Some(Command::ProcessMinidump) => return crate::native::worker::main(),
        Some(Command::Serve(args)) => *args,
        None => cli.serve,
    };
    http_edge::run_to_exit(serve(args, &host))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// `--help` lists every UI limit with its default, as `UiLimits` has them.
    #[test]
    fn ui_limit_help_lists_every_key_with_its_default() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .expect("serve subcommand")
            .render_long_help()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for (key, field) in UiLimits::KEYS {
            let value = *field(&mut UiLimits::default());
            let shown = match value {
                v if v >= 1 << 20 && v % (1 << 20) == 0 => format!("{}MiB", v >> 20),
                v if v >= 1 << 10 && v % (1 << 10) == 0 && key.ends_with("_bytes") => {
                    format!("{}KiB", v >> 10)
                }
                v => v.to_string(),
            };
            let entry = format!("{key} {shown}");
            let listed = help.match_indices(&entry).any(|(at, _)| {
                let next = help[at + entry.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric())
            });
            assert!(listed, "--help does not give {entry}: {help}");
        }
    }

    /// A file has no byte cap unless `--max-db-size` is given.
    #[test]
    fn the_db_size_cap_is_off_unless_given() {
        let config = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).expect("parses");
            cli.serve.config().expect("config")
        };
        assert_eq!(config(&["fake-sentry"]).max_db_bytes, None);
        assert_eq!(
            config(&["fake-sentry", "--max-db-size", "64MiB"]).max_db_bytes,
            Some(64 << 20)
        );
        assert_eq!(
            config(&["fake-sentry", "--max-db-size="]).max_db_bytes,
            None
        );
        assert!(Cli::try_parse_from(["fake-sentry", "--max-db-size", "lots"]).is_err());
    }

    #[test]
    fn the_search_index_cap_defaults_to_the_library_s_and_zero_turns_it_off() {
        let config = |args: &[&str]| {
            let cli =
                Cli::try_parse_from(["fake-sentry", "serve"].iter().chain(args)).expect("parses");
            let Some(Command::Serve(args)) = cli.command else {
                panic!("not serve");
            };
            args.config().expect("config").search_index_max_bytes
        };
        assert_eq!(config(&[]), crate::config::DEFAULT_SEARCH_INDEX_MAX_BYTES);
        assert_eq!(config(&["--search-index-max-bytes=1MiB"]), 1 << 20);
        assert_eq!(config(&["--search-index-max-bytes=0"]), 0);
    }

    #[test]
    fn display_and_api_bounds_reach_the_config() {
        let cli = Cli::try_parse_from(["fake-sentry", "serve", "--ui-limit", "frames=3,page=7"])
            .expect("parses");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        let config = args.config().expect("config");
        assert_eq!((config.ui.frames, config.ui.page), (3, 7));
        let cli = Cli::try_parse_from([
            "fake-sentry",
            "serve",
            "--api-max-page=5",
            "--stream-replay=0",
            "--refused-body-prefix=1KiB",
            "--max-refusal-bytes=2MiB",
        ])
        .expect("parses");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        let config = args.config().expect("config");
        assert_eq!(
            (
                config.api_max_page,
                config.stream_replay,
                config.refused_body_prefix,
                config.max_refusal_bytes
            ),
            (5, 0, 1024, 2 << 20)
        );
        assert!(Cli::try_parse_from(["fake-sentry", "serve", "--api-max-page=0"]).is_err());
        let cli = Cli::try_parse_from(["fake-sentry", "serve", "--ui-limit", "stack=3"]);
        let err = cli.err().expect("an unknown key is refused").to_string();
        assert!(err.contains("unknown UI limit \"stack\""), "{err}");
    }
}
