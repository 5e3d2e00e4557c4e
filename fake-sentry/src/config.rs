//! Server configuration: where to listen, where to keep data, and every size limit.
//!
//! The web UI's bounds ([`UiLimits`]) are settings like any other and live here too: the UI
//! reads its settings from this module, never the reverse.
//!
//! Limits are named values with Relay's documented defaults (develop-docs `envelopes.mdx`
//! §Size Limits, Relay `limits.*` options) so that a payload the fake accepts is one real Sentry
//! would accept too; every one of them is a command-line flag.

mod forward;
mod native;
mod ui_limits;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use forward::{BadDsn, ForwardConfig, Upstream};
pub use native::*;
pub use ui_limits::{BadUiLimit, UiLimit, UiLimits};

use crate::data_policy::DataPolicy;
use crate::faults::FaultRule;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Size limits applied to every ingest request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read off the wire, before decompression (Relay `max_envelope_size`, older default).
    pub max_request_body: usize,
    /// Bytes after decompression (develop-docs: 200 MiB per envelope).
    pub max_decompressed: usize,
    /// One event, transaction, span, log or metric item (1 MiB).
    pub max_event_item: usize,
    /// One attachment item (Relay `max_attachment_size`, 100 MiB).
    pub max_attachment: usize,
    /// One check-in item (100 KiB).
    pub max_check_in: usize,
    /// One client report (4 KiB).
    pub max_client_report: usize,
    /// One profile or profile chunk (50 MiB).
    pub max_profile: usize,
    /// One replay recording or video (100 MiB decompressed).
    pub max_replay: usize,
    /// Items in one envelope.
    pub max_items_per_envelope: usize,
    /// Sessions in one envelope (Relay `max_session_count`).
    pub max_sessions: usize,
    /// Any other item type.
    pub max_other_item: usize,
    /// What all requests being ingested may hold in memory together: bodies, decompressed
    /// bodies and item copies, until their envelopes are committed (no Relay equivalent; see
    /// the `in_flight` module and [`http_edge::InFlightBudget`]). Large enough for any one request the other limits allow (a body
    /// that decompresses to 200 MiB holds about 560 MiB), with room for many small ones.
    pub max_in_flight: usize,
    /// How long a request's body may take to arrive once its headers have: a client that
    /// stalls mid-body would otherwise hold its share of `max_in_flight` for as long as its
    /// connection stays open.
    pub body_timeout: Duration,
    /// Bytes of an envelope's header line (checked before it is parsed).
    pub max_envelope_header: usize,
    /// Bytes of one envelope item's header line (checked before it is parsed).
    pub max_item_header: usize,
    /// Codings in one `Content-Encoding` header (Relay accepts one; chains are legal HTTP).
    pub max_encodings: usize,
    /// Levels of a minidump form's `sentry[a][b]...` field name, checked while it is read.
    pub max_form_depth: usize,
    /// Parts of a minidump upload's multipart form (fields and files together).
    pub max_form_fields: usize,
    /// Bytes of one form field that is not a file (a `sentry` JSON field, a bracket field, an
    /// `extra` value); files are bounded by `max_attachment`.
    pub max_form_field: usize,
    /// Bytes of one multipart part's headers (its name, file name, content type and the rest).
    pub max_part_header: usize,
    /// Pairs in an ingest request's query string.
    pub max_query_pairs: usize,
    /// Bytes of an ingest request's query string.
    pub max_query: usize,
    /// Causes an error answer, log line or stored refusal lists before "and N more".
    pub max_error_causes: usize,
    /// Bytes of one error cause (and of an error's detail) kept in answers, logs and refusals.
    pub max_error_cause: usize,
    /// Bytes of a `PUT /api/faults/` body.
    pub max_faults_body: usize,
    /// Levels of nesting in any JSON received: envelope and item headers, JSON items, store and
    /// security bodies, a minidump's `sentry` field, fault rules. serde_json stops at 128 while
    /// parsing; a lower limit is checked by a scan before parsing (see
    /// [`sentry_envelope::check_json_depth`]).
    pub max_json_depth: usize,
    /// Entries of one `log` item stored as rows of their own (for `/api/logs/` and `/logs`);
    /// entries past it are counted, not kept (the item's payload keeps them all).
    pub max_log_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body: 100 * MIB,
            max_decompressed: 200 * MIB,
            max_event_item: MIB,
            max_attachment: 100 * MIB,
            max_check_in: 100 * KIB,
            max_client_report: 4 * KIB,
            max_profile: 50 * MIB,
            max_replay: 100 * MIB,
            max_items_per_envelope: 1000,
            max_sessions: 100,
            max_other_item: MIB,
            max_in_flight: 1024 * MIB,
            body_timeout: Duration::from_secs(60),
            max_envelope_header: 64 * KIB,
            max_item_header: 64 * KIB,
            max_encodings: 4,
            max_form_depth: 32,
            max_form_fields: 1000,
            max_form_field: MIB,
            max_part_header: 16 * KIB,
            max_query_pairs: 100,
            max_query: 256 * KIB,
            max_error_causes: 20,
            max_error_cause: KIB,
            max_faults_body: 64 * KIB,
            max_json_depth: sentry_envelope::SERDE_JSON_MAX_DEPTH,
            max_log_entries: crate::item::DEFAULT_MAX_LOG_ENTRIES,
        }
    }
}

impl Limits {
    /// The size limit for one item of `item_type`, as Relay applies it.
    pub fn for_item_type(&self, item_type: &str) -> usize {
        match item_type {
            "event" | "transaction" | "span" | "log" | "trace_metric" | "feedback"
            | "user_report" | "replay_event" | "security" | "nel" => self.max_event_item,
            "attachment" => self.max_attachment,
            "check_in" => self.max_check_in,
            "client_report" => self.max_client_report,
            "profile" | "profile_chunk" => self.max_profile,
            "replay_recording" | "replay_video" => self.max_replay,
            _ => self.max_other_item,
        }
    }
}

/// Where items are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// SQLite in memory: fast, gone when the process exits.
    Memory,
    /// SQLite file in WAL mode: survives restarts and `kill -9` after a 200.
    File(PathBuf),
}

impl std::str::FromStr for Storage {
    type Err = std::convert::Infallible;

    /// A path; empty or `:memory:` (SQLite's name) mean in memory, so that an image whose
    /// environment sets a file can still be told to keep everything in memory. Those two are
    /// recognised around blanks (an environment variable set to spaces), but a path is taken
    /// as given: a file name may begin or end with a space.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "" | ":memory:" => Storage::Memory,
            _ => Storage::File(PathBuf::from(s)),
        })
    }
}

/// How a file-backed store syncs to disk. Every mode keeps what was acknowledged when the
/// process is killed (a commit is written to the WAL before its 200 is sent); they differ on
/// what a crash of the whole machine (power loss, kernel panic) may cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// Never fsync: the writer checkpoints the WAL itself, cheaply, whenever it reaches
    /// `max_wal_bytes`, and the WAL file is rewritten in place. A machine crash can lose
    /// recent envelopes or damage the file. The right trade for a test fake.
    #[default]
    Off,
    /// SQLite's `NORMAL`: commits are not synced but checkpoints are (on a thread of their
    /// own), so a machine crash loses at most the last commits and never damages the file.
    Normal,
    /// SQLite's `FULL`: every commit is synced as well.
    Full,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Off => "off",
            SyncMode::Normal => "normal",
            SyncMode::Full => "full",
        }
    }
}

impl std::str::FromStr for SyncMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(SyncMode::Off),
            "normal" => Ok(SyncMode::Normal),
            "full" => Ok(SyncMode::Full),
            other => Err(format!(
                "unknown sync mode {other:?}: use off, normal or full"
            )),
        }
    }
}

/// `--max-trace-spans`: most spans one trace tree answer nests (see [`Config::max_trace_spans`]).
pub const DEFAULT_MAX_TRACE_SPANS: usize = 10_000;

/// Default for [`Config::max_wal_bytes`].
pub const DEFAULT_MAX_WAL_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes of refused requests kept for the refusals API (`--max-refusal-bytes`).
pub const DEFAULT_MAX_REFUSAL_BYTES: usize = 64 * MIB;

/// Longest payload the search index of a file takes in (`--search-index-max-bytes`): every
/// event, log and most transactions, where a larger payload costs indexing time in proportion
/// and is rare enough to be read by each search instead.
pub const DEFAULT_SEARCH_INDEX_MAX_BYTES: usize = 64 * KIB;

/// Everything a running fake-sentry needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub storage: Storage,
    /// Items kept before the oldest are evicted.
    pub max_items: usize,
    /// Bytes the in-memory store keeps (bodies, payloads, headers) before the oldest
    /// envelopes are evicted; a file-backed store is not capped by it.
    pub max_memory_bytes: usize,
    /// Bytes a database file holds (its pages in use) before the oldest envelopes are
    /// evicted; no cap when `None` (the default: a file is kept, the disk is the user's to
    /// size, and `max_items` still bounds it). In memory the smaller of this and
    /// `max_memory_bytes` applies. See `store/retention.rs`.
    pub max_db_bytes: Option<u64>,
    /// Refused requests kept for the refusals API.
    pub max_refusals: usize,
    /// Bytes of refused requests (reasons, body prefixes, head strings) kept for the refusals
    /// API before the oldest are evicted, in memory and in a file alike.
    pub max_refusal_bytes: usize,
    /// Largest the SQLite write-ahead log may grow (file-backed): there it is checkpointed
    /// and rewound (sync off) or truncated (sync normal or full), see `store::Store::open`.
    pub max_wal_bytes: u64,
    /// How a file-backed store syncs to disk.
    pub sync: SyncMode,
    /// File-backed: the longest payload the search index takes in (longer ones, and those that
    /// are not UTF-8, are read by every search); 0 turns the index off.
    pub search_index_max_bytes: usize,
    /// The form request bodies are kept in (see `store/compact.rs`).
    pub bodies: crate::store::BodyStorage,
    pub limits: Limits,
    /// Public keys accepted; empty accepts any key (and requests with none).
    pub required_keys: Vec<String>,
    pub faults: Vec<FaultRule>,
    /// The data policy every JSON item is audited (and optionally scrubbed) against.
    pub policy: Option<DataPolicy>,
    /// Send everything captured on to a real Sentry.
    pub forward: Option<ForwardConfig>,
    /// The base URL SDKs reach this server at (`http://fake-sentry:8000` in a compose
    /// network), for the DSN it prints and shows; the listening address when absent.
    pub public_url: Option<PublicUrl>,
    /// Host names the read and control routes answer to, besides those
    /// [`http_edge::HostAllowlist`] always allows and the `public_url` host.
    pub allowed_hosts: Vec<String>,
    /// What each client connection may hold: open connections, head deadline and size.
    pub connection: http_edge::ConnectionLimits,
    /// How much of a captured value the web UI shows.
    pub ui: UiLimits,
    /// Most items one API list or wait answer carries (larger sets are paged by cursor).
    pub api_max_page: usize,
    /// Most spans (transactions and spans) `GET /api/traces/{id}` nests in its tree, and most
    /// log entries it pins; past it the answer says it was truncated (its durations are
    /// never cut: they come from every span).
    pub max_trace_spans: usize,
    /// Envelopes Spotlight's `/stream` replays to a client that connects without
    /// `Last-Event-ID`.
    pub stream_replay: usize,
    /// Bytes of a refused request's body kept for the refusals API and page.
    pub refused_body_prefix: usize,
    /// How minidumps are processed into native crash events.
    pub native: NativeConfig,
}

/// A base URL SDKs use to reach fake-sentry: `http(s)://HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `http` or `https`.
    pub scheme: String,
    /// Host, port and any path prefix, without a trailing slash.
    pub rest: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid public URL {0:?}: expected http(s)://HOST[:PORT][/PREFIX] without user, query or fragment"
)]
pub struct BadPublicUrl(pub String);

impl std::str::FromStr for PublicUrl {
    type Err = BadPublicUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadPublicUrl(text.to_string());
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let host = rest.split('/').next().unwrap_or_default();
        let valid = matches!(scheme, "http" | "https")
            && !host.is_empty()
            && !rest.contains(['@', '?', '#', ' '])
            && !rest.chars().any(char::is_control);
        if !valid {
            return Err(bad());
        }
        Ok(Self {
            scheme: scheme.to_string(),
            rest: rest.to_string(),
        })
    }
}

impl PublicUrl {
    /// The DSN of `project` for public key `key`.
    pub fn dsn(&self, key: &str, project: u64) -> String {
        format!("{}://{key}@{}/{project}", self.scheme, self.rest)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            storage: Storage::Memory,
            max_items: 200_000,
            max_memory_bytes: 1024 * MIB,
            max_db_bytes: None,
            max_refusals: 10_000,
            max_refusal_bytes: DEFAULT_MAX_REFUSAL_BYTES,
            max_wal_bytes: DEFAULT_MAX_WAL_BYTES,
            sync: SyncMode::default(),
            search_index_max_bytes: DEFAULT_SEARCH_INDEX_MAX_BYTES,
            bodies: crate::store::BodyStorage::default(),
            limits: Limits::default(),
            required_keys: Vec::new(),
            faults: Vec::new(),
            policy: None,
            forward: None,
            public_url: None,
            allowed_hosts: Vec::new(),
            connection: http_edge::ConnectionLimits::default(),
            ui: UiLimits::default(),
            api_max_page: 1000,
            max_trace_spans: DEFAULT_MAX_TRACE_SPANS,
            stream_replay: 500,
            refused_body_prefix: 4 * KIB,
            native: NativeConfig::default(),
        }
    }
}

impl Config {
    /// How the store is opened.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_items: self.max_items,
            max_refusals: self.max_refusals,
            max_refusal_bytes: self.max_refusal_bytes,
            max_wal_bytes: self.max_wal_bytes,
            sync: self.sync,
            max_memory_bytes: self.max_memory_bytes,
            max_db_bytes: self.max_db_bytes,
            search_index_max_bytes: self.search_index_max_bytes,
            bodies: self.bodies,
        }
    }

    /// A configuration for tests: in memory, ephemeral port on loopback.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

/// Parses a byte size with the meaning every Understudy service gives it
/// ([`http_edge::ByteSize`]): `KiB`, `MiB`, `GiB` and the bare `k`, `m`, `g` are powers of
/// 1024, `KB`, `MB`, `GB` powers of 1000 (before, `MB` meant MiB here and 10^6 in
/// fake-symbols).
pub fn parse_size(text: &str) -> Result<usize, String> {
    text.parse::<http_edge::ByteSize>()
        .map(http_edge::ByteSize::as_usize)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names_memory_or_a_path_as_given() {
        let parse = |text: &str| text.parse::<Storage>().unwrap();
        for memory in ["", "   ", ":memory:", " :memory:\n"] {
            assert_eq!(parse(memory), Storage::Memory, "{memory:?}");
        }
        assert_eq!(parse("db.sqlite"), Storage::File("db.sqlite".into()));
        assert_eq!(parse(" my db "), Storage::File(" my db ".into()));
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("2m"), Ok(2 * MIB));
        assert_eq!(parse_size("10MB"), Ok(10_000_000), "SI, as in fake-symbols");
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("7 parsecs").is_err());
    }

    #[test]
    fn item_limits_follow_relay() {
        let limits = Limits::default();
        assert_eq!(limits.for_item_type("event"), MIB);
        assert_eq!(limits.for_item_type("client_report"), 4 * KIB);
        assert_eq!(limits.for_item_type("check_in"), 100 * KIB);
        assert_eq!(limits.for_item_type("attachment"), 100 * MIB);
    }

    #[test]
    fn public_urls_make_dsns() {
        let url: PublicUrl = "http://fake-sentry:8000/".parse().unwrap();
        assert_eq!(url.dsn("public", 1), "http://public@fake-sentry:8000/1");
        let url: PublicUrl = "https://sentry.example.com/prefix".parse().unwrap();
        assert_eq!(url.dsn("k", 7), "https://k@sentry.example.com/prefix/7");
        for bad in [
            "fake-sentry:8000",
            "ftp://x",
            "http://",
            "http://user@host",
            "http://host/?q",
            "http://host/#f",
            "http://ho st",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad} accepted");
        }
    }
}
