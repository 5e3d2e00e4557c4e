//! `crash-generator` CLI: generate crashes to disk, submit them to a collector, inspect dumps.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use crash_generator::submission::{AnnotationEncoding, Destination, Encoding, submit_batch};
use crash_generator::{Arch, OsFlavor, Profile, check_files, describe_minidump, write_batch};

#[derive(Parser)]
#[command(
    version,
    about = "Deterministic synthetic crashes with matching symbols and ground truth"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// OS (overrides the profile's): linux, android, mac or windows, on x86-64 unless `--arch`
    /// says otherwise (android: arm64); `<os>-<arch>` spellings such as windows-x86 also work.
    #[arg(long)]
    os: Option<OsFlavor>,
    /// CPU: amd64, x86 or arm64 (android: arm64 only). `--os windows --arch x86` is
    /// `--os windows-x86`.
    #[arg(long)]
    arch: Option<Arch>,
    /// A TOML profile file (defaults apply to missing keys).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// First seed; crash i uses seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of crashes.
    #[arg(long, default_value_t = 1)]
    count: u64,
}

impl ProfileArgs {
    fn profile(&self) -> Result<Profile> {
        let mut profile = match &self.profile {
            Some(path) => Profile::load(path)?,
            None => Profile::default(),
        };
        if let Some(os) = self.os {
            profile.os = os;
            profile.arch = None;
        }
        if let Some(arch) = self.arch {
            profile.os = profile.flavour().with_arch(arch)?;
            profile.arch = None;
        }
        Ok(profile)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write DIR/dumps/*.dmp, DIR/symbols/<debug_file>/<debug_id>/<sym>, DIR/truth/*.json.
    Generate {
        #[command(flatten)]
        profile: ProfileArgs,
        #[arg(long)]
        out: PathBuf,
        /// Also write DIR/symbols-zip/<name>.zip per crash, as Firefox uploads symbols.
        #[arg(long)]
        zip: bool,
    },
    /// Send crashes to an Antenna-style collector (or write the request bodies to a directory).
    Submit {
        #[command(flatten)]
        profile: ProfileArgs,
        /// Collector submit URL, e.g. http://127.0.0.1:8888/submit.
        #[arg(long, required_unless_present = "out")]
        url: Option<String>,
        /// Write `<name>.multipart` bodies here instead of POSTing.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Annotations as one `extra` JSON part instead of form fields.
        #[arg(long)]
        json_annotations: bool,
        /// Gzip the whole body (Content-Encoding: gzip).
        #[arg(long)]
        gzip: bool,
    },
    /// Print what a minidump contains.
    Inspect { file: PathBuf },
    /// Compare a processor's JSON output (`minidump-stackwalk --json`) with a truth file; exits
    /// non-zero and lists every mismatch when they differ.
    Check {
        /// A truth file written by `generate` (DIR/truth/<name>.json).
        #[arg(long)]
        truth: PathBuf,
        /// The processor's JSON output.
        #[arg(long)]
        processed: PathBuf,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Generate { profile, out, zip } => {
            let summary = write_batch(&out, &profile.profile()?, profile.seed, profile.count, zip)
                .with_context(|| format!("writing to {}", out.display()))?;
            println!(
                "wrote {} crashes, {} sym files, {} bytes to {}",
                summary.crashes,
                summary.sym_files,
                summary.bytes,
                out.display()
            );
        }
        Command::Submit {
            profile,
            url,
            out,
            json_annotations,
            gzip,
        } => submit(profile, url, out, json_annotations, gzip)?,
        Command::Inspect { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = describe_minidump(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {} ({e})", file.display(), e.name()))?;
            print!("{text}");
        }
        Command::Check { truth, processed } => {
            let mismatches = check_files(&truth, &processed)?;
            for m in &mismatches {
                println!("{m}");
            }
            if !mismatches.is_empty() {
                bail!("{} mismatches", mismatches.len());
            }
            println!("processed output matches the truth");
        }
    }
    Ok(())
}

fn submit(
    args: ProfileArgs,
    url: Option<String>,
    out: Option<PathBuf>,
    json_annotations: bool,
    gzip: bool,
) -> Result<()> {
    let destination = match (out, url) {
        (Some(dir), _) => Destination::Directory(dir),
        (None, Some(url)) => Destination::Collector(url),
        (None, None) => bail!("give --url or --out"),
    };
    let encoding = Encoding {
        annotations: if json_annotations {
            AnnotationEncoding::ExtraJson
        } else {
            AnnotationEncoding::FormFields
        },
        gzip,
    };
    let outcome = submit_batch(
        &args.profile()?,
        args.seed,
        args.count,
        encoding,
        &destination,
    )?;
    match &destination {
        Destination::Directory(dir) => {
            println!(
                "wrote {} submission bodies to {}",
                outcome.sent,
                dir.display()
            )
        }
        Destination::Collector(_) => println!(
            "submitted {} crashes, {} rejected or discarded",
            outcome.sent,
            outcome.rejected.len()
        ),
    }
    if !outcome.rejected.is_empty() {
        bail!(
            "{} submissions were rejected or discarded",
            outcome.rejected.len()
        );
    }
    Ok(())
}
