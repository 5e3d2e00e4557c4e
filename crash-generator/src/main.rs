//! `crash-generator` CLI: generate crashes to disk, submit them to a collector, inspect dumps,
//! benchmark generation.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use crash_generator::submission::{self, AnnotationEncoding, Submission};
use crash_generator::{Crash, OsFlavor, Profile, bench, inspect, output};

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
    /// OS flavour (overrides the profile's).
    #[arg(long)]
    os: Option<OsFlavor>,
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
    /// Generate crashes in memory on one thread and print crashes/s and MB/s.
    Bench {
        #[command(flatten)]
        profile: ProfileArgs,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Generate { profile, out, zip } => {
            let summary =
                output::write_batch(&out, &profile.profile()?, profile.seed, profile.count, zip)
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
            let text = inspect::describe(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {} ({e})", file.display(), e.name()))?;
            print!("{text}");
        }
        Command::Bench { profile } => {
            let count = if profile.count == 1 {
                10_000
            } else {
                profile.count
            };
            println!("{}", bench::run(&profile.profile()?, count));
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
    let profile = args.profile()?;
    let bar = output::progress_bar(args.count, "submitting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let mut rejected = 0u64;
    for seed in args.seed..args.seed + args.count {
        let crash = Crash::generate(&profile, seed);
        let mut sub = Submission::for_crash(&crash);
        sub.gzip = gzip;
        if json_annotations {
            sub.annotation_encoding = AnnotationEncoding::ExtraJson;
        }
        let encoded = submission::build(&sub, &submission::boundary_for(seed));
        match (&out, &url) {
            (Some(dir), _) => {
                std::fs::create_dir_all(dir)?;
                std::fs::write(
                    dir.join(format!("{}.multipart", crash.name())),
                    &encoded.body,
                )?;
            }
            (None, Some(url)) => {
                let response = runtime.block_on(submission::post(&client, url, &encoded))?;
                // Antenna answers 200 even when its throttler discards (`Discarded=rule_...`).
                if response.status != 200 || response.crash_id().is_none() {
                    rejected += 1;
                    bar.println(format!(
                        "{}: HTTP {} {}",
                        crash.name(),
                        response.status,
                        response.body.trim_end()
                    ));
                }
            }
            (None, None) => bail!("give --url or --out"),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    match out {
        Some(dir) => println!(
            "wrote {} submission bodies to {}",
            args.count,
            dir.display()
        ),
        None => println!("submitted {} crashes, {rejected} rejected", args.count),
    }
    if rejected > 0 {
        bail!("{rejected} submissions were rejected or discarded");
    }
    Ok(())
}
