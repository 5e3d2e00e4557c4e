//! The command line: `harness up | run | demo | diff`. [`main`] is what the `harness` binary
//! and the suite's multi-call binary run: it sets up logging, parses [`Cli`] and calls
//! [`execute`]; everything here is plain library code.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use http_edge::{ByteSize, ConnectionLimits};

use crate::collector::{CollectorConfig, CollectorConfigError, SubmissionLimits};
use crate::report;
use crate::run::{RunOptions, RunServices};
use crate::scenario::Scenario;
use crate::services::{Ports, Suite, SuiteService};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "End-to-end crash-pipeline tests and data-policy audits"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve fake-sentry, fake-symbols and the collector (or those `--only` names) until Ctrl-C.
    Up(UpArgs),
    /// Run a scenario file; exit 0 only when every expectation held.
    Run(RunArgs),
    /// Run the built-in demo scenario (the default command).
    Demo(DemoArgs),
    /// Compare two processed crashes frame by frame (socc-pair style); exit 1 if they differ.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[arg(long, default_value = "127.0.0.1", env = "HARNESS_HOST")]
    pub host: IpAddr,
    /// fake-sentry's port (0: any free port).
    #[arg(long, default_value_t = 8000, env = "HARNESS_SENTRY_PORT")]
    pub sentry_port: u16,
    /// fake-symbols' port.
    #[arg(long, default_value_t = 8070, env = "HARNESS_SYMBOLS_PORT")]
    pub symbols_port: u16,
    /// The collector's port.
    #[arg(long, default_value_t = 8888, env = "HARNESS_COLLECTOR_PORT")]
    pub collector_port: u16,
    #[command(flatten)]
    pub collector: CollectorArgs,
    /// Serve only these services (comma-separated), e.g. `--only collector` next to
    /// fake-sentry and fake-symbols containers.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        env = "HARNESS_ONLY",
        default_values_t = SuiteService::ALL
    )]
    pub only: Vec<SuiteService>,
}

/// The collector's settings: storage, and the limits every submission is read under.
#[derive(Debug, clap::Args)]
pub struct CollectorArgs {
    /// Also store crashes in Antenna's `v1/...` layout under this folder.
    #[arg(long, env = "HARNESS_COLLECTOR_DIR")]
    pub collector_dir: Option<PathBuf>,
    /// Largest crash submission body as received (compressed or not), in bytes (413 above).
    #[arg(long, default_value_t = ByteSize(crate::collector::DEFAULT_MAX_BODY as u64), env = "HARNESS_MAX_SUBMISSION")]
    pub max_submission: ByteSize,
    /// Crashes the collector keeps in memory (new ones get 507 once reached).
    #[arg(long, default_value_t = crate::collector::DEFAULT_MAX_CRASHES, env = "HARNESS_MAX_CRASHES")]
    pub max_crashes: usize,
    /// Bytes of crashes (dumps and raw crashes) the collector keeps in memory (507 once reached).
    #[arg(long, default_value_t = ByteSize(crate::collector::DEFAULT_MAX_BYTES as u64), env = "HARNESS_COLLECTOR_MAX_BYTES")]
    pub collector_max_bytes: ByteSize,
    /// Bytes all submissions being received and parsed may hold together: bodies, gunzipped
    /// bodies, the annotations and dumps copied out of them (503 with `Retry-After` past it).
    /// At least what one submission may hold: three times `--max-submission`, or
    /// `--max-submission` plus three times `--collector-max-decompressed`, whichever is larger,
    /// plus 1MiB (101MiB at the defaults); a smaller budget is refused at startup.
    #[arg(long, default_value_t = ByteSize(crate::collector::DEFAULT_MAX_IN_FLIGHT as u64), env = "HARNESS_COLLECTOR_MAX_IN_FLIGHT")]
    pub collector_max_in_flight: ByteSize,
    /// Seconds to receive a whole submission body once its headers are in (408 after).
    #[arg(long, default_value_t = crate::collector::DEFAULT_BODY_TIMEOUT.as_secs(), env = "HARNESS_COLLECTOR_BODY_TIMEOUT")]
    pub collector_body_timeout: u64,
    /// Largest submission body once gunzipped, in bytes (413 above; stops gzip bombs).
    #[arg(long, default_value_t = ByteSize(SubmissionLimits::default().max_decompressed as u64), env = "HARNESS_COLLECTOR_MAX_DECOMPRESSED")]
    pub collector_max_decompressed: ByteSize,
    /// Parts in one multipart submission.
    #[arg(long, default_value_t = SubmissionLimits::default().max_parts, env = "HARNESS_COLLECTOR_MAX_PARTS")]
    pub collector_max_parts: usize,
    /// Bytes of one part's header block.
    #[arg(long, default_value_t = ByteSize(SubmissionLimits::default().max_part_header as u64), env = "HARNESS_COLLECTOR_MAX_PART_HEADER")]
    pub collector_max_part_header: ByteSize,
    /// Bytes of a field name (and of a key in the `extra` JSON).
    #[arg(long, default_value_t = ByteSize(SubmissionLimits::default().max_field_name as u64), env = "HARNESS_COLLECTOR_MAX_FIELD_NAME")]
    pub collector_max_field_name: ByteSize,
    /// Bytes of one annotation value.
    #[arg(long, default_value_t = ByteSize(SubmissionLimits::default().max_field_value as u64), env = "HARNESS_COLLECTOR_MAX_FIELD_VALUE")]
    pub collector_max_field_value: ByteSize,
    /// Annotations in one submission (text fields plus `extra` JSON keys).
    #[arg(long, default_value_t = SubmissionLimits::default().max_annotations, env = "HARNESS_COLLECTOR_MAX_ANNOTATIONS")]
    pub collector_max_annotations: usize,
    /// Dump parts in one submission.
    #[arg(long, default_value_t = SubmissionLimits::default().max_dumps, env = "HARNESS_COLLECTOR_MAX_DUMPS")]
    pub collector_max_dumps: usize,
    /// Nesting levels of the `extra` JSON (the top object is level 1).
    #[arg(long, default_value_t = SubmissionLimits::default().max_json_depth, env = "HARNESS_COLLECTOR_MAX_JSON_DEPTH")]
    pub collector_max_json_depth: usize,
    /// `collector_notes` kept per crash (the rest are counted in one last note).
    #[arg(long, default_value_t = SubmissionLimits::default().max_notes, env = "HARNESS_COLLECTOR_MAX_NOTES")]
    pub collector_max_notes: usize,
    /// `Host` names the read API (`/api/crashes/...`) answers to, comma-separated, besides IP
    /// literals, `localhost`, `*.localhost` and names without a dot; `.example.com` allows its
    /// subdomains, `*` turns the check off.
    #[arg(long, value_delimiter = ',', env = "HARNESS_COLLECTOR_ALLOWED_HOSTS")]
    pub collector_allowed_hosts: Vec<String>,
    /// Open connections to the collector at once (more wait in the kernel's backlog).
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_MAX_CONNECTIONS, env = "HARNESS_COLLECTOR_MAX_CONNECTIONS")]
    pub collector_max_connections: usize,
    /// Seconds a client has to send a request head (slowloris, idle keep-alive).
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), env = "HARNESS_COLLECTOR_HEADER_TIMEOUT")]
    pub collector_header_timeout: u64,
    /// Seconds a request body may go without a byte arriving (408; a minimum rate that leaves
    /// `--collector-body-timeout` for the whole body).
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_BODY_IDLE_TIMEOUT.as_secs(), env = "HARNESS_COLLECTOR_BODY_IDLE_TIMEOUT")]
    pub collector_body_idle_timeout: u64,
    /// Header lines in one request head (431 above).
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_MAX_HEADERS, env = "HARNESS_COLLECTOR_MAX_HEADERS")]
    pub collector_max_headers: usize,
    /// Bytes of one request head (431 above; at least 8KiB).
    #[arg(long, default_value_t = ByteSize(ConnectionLimits::DEFAULT_MAX_HEAD_BYTES as u64), env = "HARNESS_COLLECTOR_MAX_HEAD_BYTES")]
    pub collector_max_head_bytes: ByteSize,
}

impl CollectorArgs {
    /// The collector's configuration, or why it cannot serve by it (an in-flight budget too
    /// small for one submission at the other limits).
    pub fn config(&self) -> Result<CollectorConfig, CollectorConfigError> {
        let config = CollectorConfig {
            limits: SubmissionLimits {
                max_body: self.max_submission.as_usize(),
                max_decompressed: self.collector_max_decompressed.as_usize(),
                max_parts: self.collector_max_parts,
                max_part_header: self.collector_max_part_header.as_usize(),
                max_field_name: self.collector_max_field_name.as_usize(),
                max_field_value: self.collector_max_field_value.as_usize(),
                max_annotations: self.collector_max_annotations,
                max_dumps: self.collector_max_dumps,
                max_json_depth: self.collector_max_json_depth,
                max_notes: self.collector_max_notes,
            },
            max_crashes: self.max_crashes,
            max_bytes: self.collector_max_bytes.as_usize(),
            body_timeout: Duration::from_secs(self.collector_body_timeout),
            max_in_flight: self.collector_max_in_flight.as_usize(),
            storage_dir: self.collector_dir.clone(),
            allowed_hosts: self.collector_allowed_hosts.clone(),
            connection: ConnectionLimits {
                max_connections: self.collector_max_connections,
                header_read_timeout: Duration::from_secs(self.collector_header_timeout),
                max_headers: self.collector_max_headers,
                max_head_bytes: self.collector_max_head_bytes.as_usize(),
                body_idle_timeout: Duration::from_secs(self.collector_body_idle_timeout),
            },
        };
        config.check()?;
        Ok(config)
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    pub scenario: PathBuf,
    #[command(flatten)]
    pub common: CommonRunArgs,
}

#[derive(Debug, clap::Args)]
pub struct CommonRunArgs {
    /// Where report.json, junit.xml, report.html and crashes/ go (default:
    /// `target/harness/<scenario>`).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Also run this minidump-stackwalk binary (Socorro's flags) and compare.
    #[arg(long, env = "MINIDUMP_STACKWALK")]
    pub stackwalk: Option<PathBuf>,
    /// Keep the services running after the run (Ctrl-C stops them).
    #[arg(long)]
    pub keep_running: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub common: CommonRunArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    pub left: PathBuf,
    pub right: PathBuf,
    /// Print the differences as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line `args` (the program name first): logging to stderr (library warnings
/// about dumps and symbols stay out unless `RUST_LOG` asks for them), then [`execute`]. Exit
/// status: [`execute`]'s, or 2 on an error.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "warn,minidump_processor=error,minidump_unwind=error,breakpad_symbols=error",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(args);
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(execute(cli)));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Demo(DemoArgs {
        common: CommonRunArgs {
            report_dir: None,
            stackwalk: None,
            keep_running: false,
            quiet: false,
        },
    })) {
        Command::Up(args) => up(args).await,
        Command::Run(args) => {
            let scenario = Scenario::load(&args.scenario)?;
            run_scenario(&scenario, &args.common).await
        }
        Command::Demo(args) => run_scenario(&crate::demo::scenario(), &args.common).await,
        Command::Diff(args) => diff(&args),
    }
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let suite = Suite::start(
        Ports {
            host: args.host,
            sentry: args.sentry_port,
            symbols: args.symbols_port,
            collector: args.collector_port,
        },
        args.collector.config()?,
        &args.only,
    )
    .await?;
    println!("{}", suite.describe());
    println!("Ctrl-C stops them.");
    http_edge::shutdown_signal().await;
    suite.shutdown().await;
    // Whoever started us may have stopped reading; that is no reason to fail.
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(ExitCode::SUCCESS)
}

async fn run_scenario(scenario: &Scenario, args: &CommonRunArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    let options = RunOptions {
        progress: !args.quiet && std::io::stderr().is_terminal(),
        stackwalk: args.stackwalk.clone(),
    };
    let services = RunServices::start(scenario).await?;
    let result = crate::run::run_with(scenario, &options, &services).await;
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            services.shutdown().await;
            return Err(e.into());
        }
    };
    let dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| Path::new("target").join("harness").join(&scenario.name));
    let paths = report::write_all(&report, &dir)?;
    print!("{}", report::terminal::render(&report));
    println!(
        "\nreports: {}\n         {}\n         {}\n         {} ({} processed crashes, as Socorro keeps them)",
        paths.html.display(),
        paths.json.display(),
        paths.junit.display(),
        paths.crashes.display(),
        report.processed_crashes.len()
    );
    if args.keep_running {
        if let Some(url) = &services.sentry_url {
            println!(
                "\nfake-sentry UI/API: {url}  (DSN {})",
                services.dsn(1).unwrap_or_default()
            );
        }
        if let Some(url) = &services.symbols_url {
            println!("fake-symbols:       {url}");
        }
        if let Some(url) = &services.collector_url {
            println!("collector:          {url}/submit");
        }
        println!("Ctrl-C stops them.");
        http_edge::shutdown_signal().await;
    }
    services.shutdown().await;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn diff(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let read = |path: &Path| -> anyhow::Result<serde_json::Value> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
    };
    let (left, right) = (read(&args.left)?, read(&args.right)?);
    let result = crate::diff::compare(&left, &right);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!(
            "{}",
            result.render(
                &args.left.display().to_string(),
                &args.right.display().to_string()
            )
        );
    }
    Ok(if result.is_same() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
