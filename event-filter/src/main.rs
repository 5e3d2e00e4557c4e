//! The `event-filter` command: scrub, audit and check policies from the shell or CI.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use event_filter::shape::{Shape, diff_shapes, diff_values, volatile_paths};
use event_filter::{Auditor, Document, Finding, Policy, Scrubber};

#[derive(Parser)]
#[command(
    name = "event-filter",
    version,
    about = "Scrub Sentry events and audit them against a data policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scrub a JSON event or an envelope; writes the same kind to stdout, the report to stderr.
    Scrub {
        #[command(flatten)]
        policy: PolicyArgs,
        /// The file to scrub (`-` or nothing for stdin).
        file: Option<PathBuf>,
    },
    /// Audit events or envelopes; exits 1 when there are findings.
    Audit {
        #[command(flatten)]
        policy: PolicyArgs,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate a policy file (TOML, or a Relay PII config as `.json`); errors name the line
    /// and column, and a Relay import lists what it could not map.
    CheckPolicy { policy: PathBuf },
    /// Print the shape of events (paths and value kinds, no values) as a snapshot.
    Shape {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compare two events (values, ignoring volatile fields) or two shape snapshots; exits 1
    /// when they differ.
    Diff {
        before: PathBuf,
        after: PathBuf,
        /// Also report fields that change on every event (ids, timestamps).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct PolicyArgs {
    /// A policy file (TOML).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// A built-in policy: python-sdk, fillmore or strict.
    #[arg(long)]
    preset: Option<String>,
}

impl PolicyArgs {
    fn load(&self) -> anyhow::Result<Policy> {
        match (&self.policy, &self.preset) {
            (Some(path), _) => Ok(Policy::from_file(path)?),
            (None, Some(name)) => Ok(Policy::preset(name)?),
            (None, None) => bail!("give --policy FILE or --preset NAME"),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match file {
        None => std::io::stdin().read_to_end(&mut bytes).map(|_| ())?,
        Some(p) if p == Path::new("-") => std::io::stdin().read_to_end(&mut bytes).map(|_| ())?,
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
        }
    }
    Ok(bytes)
}

fn scrub(policy: Policy, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let scrubber = Scrubber::new(policy);
    let mut document = Document::parse(&read_input(file)?)?;
    let mut stderr = std::io::stderr().lock();
    document.for_each_payload(&mut |label, value| {
        let report = scrubber.scrub(value);
        for change in &report.changes {
            let detector = change
                .detector
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let _ = writeln!(
                stderr,
                "{label}: {} {} by {:?}{detector}",
                change.location, change.action, change.rule
            );
        }
        for diagnostic in &report.diagnostics {
            let _ = writeln!(
                stderr,
                "{label}: rule {:?} failed at {}: {}",
                diagnostic.rule, diagnostic.path, diagnostic.message
            );
        }
    });
    std::io::stdout().lock().write_all(&document.to_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Findings of one payload of one file.
struct Audited {
    file: String,
    payload: String,
    findings: Vec<Finding>,
}

fn audit(policy: Policy, files: &[PathBuf], format: Format) -> anyhow::Result<ExitCode> {
    let auditor = Auditor::new(policy);
    let mut results = Vec::new();
    for file in files {
        let mut document = Document::parse(&read_input(Some(file))?)
            .with_context(|| format!("{}", file.display()))?;
        document.for_each_payload(&mut |label, value| {
            results.push(Audited {
                file: file.display().to_string(),
                payload: label.to_string(),
                findings: auditor.audit(value),
            });
        });
    }
    let total: usize = results.iter().map(|r| r.findings.len()).sum();
    let mut out = std::io::stdout().lock();
    match format {
        Format::Human => {
            for r in &results {
                for f in &r.findings {
                    writeln!(
                        out,
                        "{}: {}: {} [{:?} {}] {}",
                        r.file, r.payload, f.path, f.kind, f.name, f.excerpt
                    )?;
                }
            }
            writeln!(
                out,
                "{total} findings in {} payloads of {} files",
                results.len(),
                files.len()
            )?;
        }
        Format::Json => {
            let json: Vec<_> = results
                .iter()
                .map(|r| serde_json::json!({"file": r.file, "payload": r.payload, "findings": r.findings}))
                .collect();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::Junit => {
            let cases = results
                .iter()
                .map(|r| {
                    let name = format!("{}: {}", r.file, r.payload);
                    if r.findings.is_empty() {
                        return junit::Case::passed("event-filter", name);
                    }
                    let lines: Vec<String> = r
                        .findings
                        .iter()
                        .map(|f| format!("{} [{:?} {}] {}", f.path, f.kind, f.name, f.excerpt))
                        .collect();
                    let message = format!("{} findings", r.findings.len());
                    junit::Case::failed("event-filter", name, message, lines.join("\n"))
                })
                .collect();
            junit::Suite::new("event-filter audit", cases).write_to(&mut out)?;
        }
    }
    Ok(if total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn shape(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut merged = Shape::default();
    for file in files {
        let mut document = Document::parse(&read_input(Some(file))?)
            .with_context(|| format!("{}", file.display()))?;
        document.for_each_payload(&mut |_, value| merged.merge(&Shape::of(value)));
    }
    print!("{}", merged.to_snapshot());
    Ok(ExitCode::SUCCESS)
}

fn diff(before: &Path, after: &Path, all: bool) -> anyhow::Result<ExitCode> {
    let (a, b) = (read_input(Some(before))?, read_input(Some(after))?);
    let shapes = std::str::from_utf8(&a)
        .ok()
        .zip(std::str::from_utf8(&b).ok())
        .and_then(|(a, b)| {
            Shape::from_snapshot(a)
                .ok()
                .zip(Shape::from_snapshot(b).ok())
        });
    let mut out = std::io::stdout().lock();
    let differences = match shapes {
        Some((a, b)) => {
            let changes = diff_shapes(&a, &b);
            for change in &changes {
                writeln!(out, "{}", serde_json::to_string(change)?)?;
            }
            changes.len()
        }
        None => {
            let parse = |bytes: &[u8], path: &Path| -> anyhow::Result<serde_json::Value> {
                serde_json::from_slice(bytes).with_context(|| {
                    format!(
                        "{} is neither an event nor a shape snapshot",
                        path.display()
                    )
                })
            };
            let ignore = if all { Vec::new() } else { volatile_paths() };
            let changes = diff_values(&parse(&a, before)?, &parse(&b, after)?, &ignore);
            for change in &changes {
                writeln!(out, "{}", serde_json::to_string(change)?)?;
            }
            changes.len()
        }
    };
    writeln!(out, "{differences} differences")?;
    Ok(if differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scrub { policy, file } => policy.load().and_then(|p| scrub(p, file.as_deref())),
        Command::Audit {
            policy,
            format,
            files,
        } => policy.load().and_then(|p| audit(p, &files, format)),
        Command::Shape { files } => shape(&files),
        Command::Diff { before, after, all } => diff(&before, &after, all),
        Command::CheckPolicy { policy } => check_policy(&policy),
    };
    result.unwrap_or_else(|err| {
        eprintln!("event-filter: {err:#}");
        ExitCode::from(2)
    })
}

/// Validates a policy file; for a Relay PII config, also lists what Relay ignores in it.
fn check_policy(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let policy = Policy::from_file(path)?;
    if policy.relay.is_empty() {
        println!("{}: ok, {} rules", path.display(), policy.rules.len());
    } else {
        let selectors: usize = policy.relay.iter().map(|e| e.selector_count()).sum();
        let rules: usize = policy.relay.iter().map(|e| e.rule_count()).sum();
        println!(
            "{}: ok, Relay PII config: {selectors} selectors, {rules} rules",
            path.display()
        );
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let source = std::fs::read_to_string(path)?;
        let import = event_filter::relay::import(&source, &path.display().to_string())?;
        for note in &import.notes {
            println!("note: {note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
