//! The `fake-symbols` command line: serve (the default, or `serve`), every flag with a
//! `FAKE_SYMBOLS_*` variable. [`main`] is what the `fake-symbols` binary and the suite's
//! multi-call binary run; it parses, builds a [`Config`] and serves until a signal.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Limits, Token, TokensFile, UrlUploads, parse_size};
use crate::faults::FaultSpec;
use crate::server::Server;

#[derive(Parser)]
#[command(
    name = "fake-symbols",
    version,
    about = "A Tecken- and Eliot-compatible symbols server with fault injection"
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
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FAKE_SYMBOLS_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "FAKE_SYMBOLS_PORT", default_value_t = 8070)]
    port: u16,
    /// Symbols directory (`<debug_file>/<debug_id>/<sym_file>`); a temporary one when absent.
    #[arg(long, env = "FAKE_SYMBOLS_SYMBOLS_DIR")]
    symbols_dir: Option<PathBuf>,
    /// Base URL clients reach this server at (for redirects); the bound address when absent.
    #[arg(long, env = "FAKE_SYMBOLS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Answer found files with a 302 to a storage URL, like Tecken in production.
    #[arg(long, env = "FAKE_SYMBOLS_REDIRECT_TO_STORAGE")]
    redirect_to_storage: bool,
    /// An upload token: KEY:upload|upload_try|view_all_uploads[:EMAIL] (repeatable).
    #[arg(long = "token", env = "FAKE_SYMBOLS_TOKENS", value_delimiter = ',', value_parser = Token::parse_flag)]
    tokens: Vec<Token>,
    /// A TOML file of `[[tokens]]` (key, permission, email, expires_at, active).
    #[arg(long, env = "FAKE_SYMBOLS_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,
    /// A JSON fault spec applied at start (see `/__fault__`).
    #[arg(long, env = "FAKE_SYMBOLS_FAULTS_FILE")]
    faults_file: Option<PathBuf>,
    /// Hosts `url=` uploads may download from (repeatable); Tecken's list when absent.
    #[arg(
        long = "allowed-domain",
        env = "FAKE_SYMBOLS_ALLOWED_DOMAINS",
        value_delimiter = ','
    )]
    allowed_domains: Vec<String>,
    /// Allow `url=` uploads from any domain and scheme (Tecken's ALLOW_UPLOAD_BY_ANY_DOMAIN).
    #[arg(long, env = "FAKE_SYMBOLS_ALLOW_ANY_DOMAIN")]
    allow_any_domain: bool,
    /// Accept `http://` URLs for `url=` uploads from allowed domains.
    #[arg(long, env = "FAKE_SYMBOLS_ALLOW_HTTP_URLS")]
    allow_http_urls: bool,
    /// Member-name snippets refused in uploads.
    #[arg(
        long = "disallowed-snippet",
        env = "FAKE_SYMBOLS_DISALLOWED_SNIPPETS",
        value_delimiter = ',',
        default_value = "qcom/proprietary"
    )]
    disallowed_snippets: Vec<String>,
    /// Largest upload (zip) accepted.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_UPLOAD", value_parser = parse_size, default_value = "4GiB")]
    max_upload: u64,
    /// Largest extracted zip member.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_MEMBER", value_parser = parse_size, default_value = "4GiB")]
    max_member: u64,
    /// Most entries in one uploaded zip (checked before its directory is parsed).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_MEMBERS", default_value_t = 100_000)]
    max_members: usize,
    /// Bytes one uploaded zip may extract to, all members together (zip bombs stop here).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_EXTRACTED", value_parser = parse_size, default_value = "16GiB")]
    max_extracted: u64,
    /// Parts in one multipart upload body.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_FORM_PARTS", default_value_t = 100)]
    max_form_parts: usize,
    /// Bytes of one multipart part's headers (and of the preamble).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_PART_HEADER", value_parser = parse_size, default_value = "64KiB")]
    max_part_header: u64,
    /// Largest synthetic sym a fault may generate.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_SYNTHETIC", value_parser = parse_size, default_value = "4GiB")]
    max_synthetic: u64,
    /// Parsed modules kept by symbolication, by sym size.
    #[arg(long, env = "FAKE_SYMBOLS_SYMBOL_CACHE", value_parser = parse_size, default_value = "256MiB")]
    symbol_cache: u64,
    /// Jobs per symbolication request.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_JOBS", default_value_t = 10)]
    max_jobs: usize,
    /// Requests kept in the request log.
    #[arg(long, env = "FAKE_SYMBOLS_REQUEST_LOG", default_value_t = 100_000)]
    request_log: usize,
    /// Bytes the request log may hold (the oldest entries go first).
    #[arg(long, env = "FAKE_SYMBOLS_REQUEST_LOG_BYTES", value_parser = parse_size, default_value = "64MiB")]
    request_log_bytes: u64,
    /// Largest fault spec body (`/__fault__`).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_ADMIN_BODY", value_parser = parse_size, default_value = "1MiB")]
    max_admin_body: u64,
    /// Longest delay (seconds) latency faults may add to one request.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_FAULT_LATENCY", default_value_t = 600)]
    max_fault_latency: u64,
    /// Most rules in a fault spec.
    #[arg(long, env = "FAKE_SYMBOLS_MAX_FAULT_RULES", default_value_t = 1000)]
    max_fault_rules: usize,
    /// Redirects a `url=` upload follows (each hop is checked against the allowed domains).
    #[arg(
        long,
        env = "FAKE_SYMBOLS_URL_UPLOAD_MAX_REDIRECTS",
        default_value_t = 5
    )]
    url_upload_max_redirects: usize,
    /// Seconds a `url=` upload may take, every redirect hop and the download together.
    #[arg(long, env = "FAKE_SYMBOLS_URL_UPLOAD_TIMEOUT", default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400 * 365))]
    url_upload_timeout: u64,
    /// Files per upload v2 request (Tecken's UPLOAD_V2_MAX_FILES_PER_REQUEST).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_UPLOAD_V2_FILES", default_value_t = 1024)]
    max_upload_v2_files: usize,
    /// The upload_api_version /upload/auth_info/ reports (upload-symbols uses v2 when 2).
    #[arg(long, env = "FAKE_SYMBOLS_UPLOAD_API_VERSION", default_value_t = 1,
        value_parser = clap::value_parser!(u8).range(1..=2))]
    upload_api_version: u8,
    /// Upload v2 resumable sessions waiting for their bytes (more answer 503).
    #[arg(
        long,
        env = "FAKE_SYMBOLS_MAX_UPLOAD_SESSIONS",
        default_value_t = 10_000
    )]
    max_upload_sessions: usize,
    /// Seconds an upload v2 session URL stays valid; then its staged bytes are deleted and the
    /// URL answers 404 (GCS session URIs last a week).
    #[arg(long, env = "FAKE_SYMBOLS_UPLOAD_SESSION_TTL", default_value_t = 7 * 86_400,
        value_parser = clap::value_parser!(u64).range(1..))]
    upload_session_ttl: u64,
    /// Seconds a client has to send a whole request head (slowloris; idle keep-alive).
    #[arg(long, env = "FAKE_SYMBOLS_HEADER_READ_TIMEOUT", default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    header_read_timeout: u64,
    /// Seconds a request body may go without a byte arriving (a stalled upload is cut off).
    #[arg(long, env = "FAKE_SYMBOLS_BODY_IDLE_TIMEOUT", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    body_idle_timeout: u64,
    /// Most header lines in one request (more get 431).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_HEADERS", default_value_t = http_edge::ConnectionLimits::DEFAULT_MAX_HEADERS)]
    max_headers: usize,
    /// Largest request head: request line and headers (more get 431; at least 8KiB).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_HEAD", value_parser = parse_size, default_value = "64KiB")]
    max_head: u64,
    /// Open connections at once (more wait in the kernel's backlog).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_CONNECTIONS", default_value_t = 1024,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Host names the admin endpoints answer to, besides IP literals, localhost, dotless
    /// names and the --public-url host (comma separated; `*` turns the check off).
    #[arg(long, env = "FAKE_SYMBOLS_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Bytes all pending upload v2 sessions may stage together (more answer 507).
    #[arg(long, env = "FAKE_SYMBOLS_MAX_UPLOAD_SESSION_BYTES", value_parser = parse_size, default_value = "32GiB")]
    max_upload_session_bytes: u64,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut tokens = self.tokens.clone();
        if let Some(path) = &self.tokens_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file: TokensFile =
                toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
            tokens.extend(file.tokens);
        }
        let faults = match &self.faults_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str::<FaultSpec>(&text)
                    .with_context(|| format!("invalid fault spec {}", path.display()))?
            }
            None => FaultSpec::default(),
        };
        let mut url_uploads = UrlUploads {
            allow_any_domain: self.allow_any_domain,
            require_https: !self.allow_http_urls,
            max_redirects: self.url_upload_max_redirects,
            timeout: Duration::from_secs(self.url_upload_timeout),
            ..UrlUploads::default()
        };
        let max_fault_latency = Duration::from_secs(self.max_fault_latency);
        if !self.allowed_domains.is_empty() {
            url_uploads.allowed_domains = self.allowed_domains.clone();
        }
        Ok(Config {
            listen: SocketAddr::new(self.host, self.port),
            symbols_dir: self.symbols_dir.clone(),
            public_url: self.public_url.clone(),
            redirect_to_storage: self.redirect_to_storage,
            tokens,
            disallowed_snippets: self.disallowed_snippets.clone(),
            url_uploads,
            limits: Limits {
                max_upload_bytes: self.max_upload,
                max_member_bytes: self.max_member,
                max_members: self.max_members,
                max_extracted_bytes: self.max_extracted,
                max_form_parts: self.max_form_parts,
                max_part_header_bytes: usize::try_from(self.max_part_header)
                    .context("--max-part-header does not fit in memory")?,
                max_admin_body: usize::try_from(self.max_admin_body)
                    .context("--max-admin-body does not fit in memory")?,
                max_fault_latency,
                max_fault_rules: self.max_fault_rules,
                request_log_bytes: self.request_log_bytes,
                max_upload_session_bytes: self.max_upload_session_bytes,
                max_synthetic_bytes: self.max_synthetic,
                symbol_cache_bytes: self.symbol_cache,
                max_jobs: self.max_jobs,
                request_log_capacity: self.request_log,
                max_upload_v2_files: self.max_upload_v2_files,
                max_upload_sessions: self.max_upload_sessions,
                upload_session_ttl: Duration::from_secs(self.upload_session_ttl),
                ..Limits::default()
            },
            faults,
            connection: http_edge::ConnectionLimits {
                header_read_timeout: Duration::from_secs(self.header_read_timeout),
                body_idle_timeout: Duration::from_secs(self.body_idle_timeout),
                max_headers: self.max_headers,
                max_head_bytes: usize::try_from(self.max_head)
                    .context("--max-head does not fit")?,
                max_connections: usize::try_from(self.max_connections)
                    .context("--max-connections does not fit")?,
            },
            allowed_hosts: self.allowed_hosts.clone(),
            upload_api_version: self.upload_api_version,
        })
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let server = Server::bind(args.config()?)
        .await
        .context("cannot start fake-symbols")?;
    println!(
        "fake-symbols {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        server.url()
    );
    println!("symbols dir: {}", server.state().store.root().display());
    server.run(http_edge::shutdown_signal()).await?;
    Ok(())
}

/// Runs the command line `args` (the program name first): parses it (printing help, the
/// version or a usage error and exiting as clap does), sets up logging and serves.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = Cli::parse_from(args);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "fake_symbols=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    http_edge::run_to_exit(match cli.command {
        Some(Command::Serve(args)) => serve(*args),
        None => serve(cli.serve),
    })
}
