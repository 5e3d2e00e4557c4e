//! `bench fake-symbols`: download, upload and symbolication figures over loopback, with the
//! peak RSS of the server measured in a separate server process (`VmHWM` from `/proc`).
//!
//! 1. Download: a synthetic sym of `download_bytes` is written to a fresh symbols directory,
//!    a server is started on it, and the file is fetched without and with gzip.
//! 2. Upload: a stored (uncompressed) zip of `upload_bytes` is streamed to `/upload/` of a
//!    fresh server; the size in the upload record must be the zip's, to the byte.
//! 3. Symbolication: [`parse_footprint`] measures the parsed size of a synthetic module of
//!    `symbolicate_bytes` in a process of its own, then a fresh server symbolicates a stack in
//!    the same module (generated on the fly by a fault rule) and its peak RSS is compared.
//!
//! A size of 0 skips that part.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest_012 as reqwest;
use serde_json::json;

use crate::parse_footprint::{self, ParseFootprint};
use fake_symbols::synthetic::{self, SyntheticSym};

pub struct BenchOptions {
    pub download_bytes: u64,
    pub upload_bytes: u64,
    pub symbolicate_bytes: u64,
    pub dir: Option<PathBuf>,
}

const TOKEN: &str = "benchtoken";

/// A server running as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    url: String,
    /// Kept open: the server writes more lines, and a closed pipe would kill it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    fn start(symbols_dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        // This binary again, as a fake-symbols server (see `serve_fake_symbols` in main.rs):
        // a process of its own, so that its peak RSS is the server's alone.
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["serve-fake-symbols", "--token", TOKEN, "--symbols-dir"])
            .arg(symbols_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the server process")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line)?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_string);
        match url {
            Some(url) => Ok(Self {
                child,
                url,
                _stdout: stdout,
            }),
            None => {
                let _ = child.kill();
                bail!("the server did not print its URL: {line:?}")
            }
        }
    }

    /// Peak resident set size so far, in bytes.
    fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        Ok(parse_footprint::read_status_field(&status, "VmHWM")?)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bar(len: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_string());
    bar
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Writes a synthetic sym of `size` bytes at `path`.
fn write_sym(path: &Path, debug_file: &str, debug_id: &str, size: u64) -> anyhow::Result<u64> {
    std::fs::create_dir_all(path.parent().context("no parent")?)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let written = std::io::copy(&mut SyntheticSym::new(debug_file, debug_id, size), &mut out)?;
    out.flush()?;
    Ok(written)
}

/// Writes a stored zip of about `size` bytes made of 256 MB synthetic members.
fn write_zip(path: &Path, size: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let member = 256_000_000u64.min(size);
    let mut total = 0u64;
    let mut i = 0u32;
    while total < size {
        let id = format!("{:032X}0", 0xB0000 + i);
        let name = format!("bench{i}.so/{id}/bench{i}.so.sym");
        zip.start_file(name, options)?;
        total += std::io::copy(
            &mut SyntheticSym::new(&format!("bench{i}.so"), &id, member.min(size - total)),
            &mut zip,
        )?;
        i += 1;
    }
    zip.finish()?.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
    expected: u64,
) -> anyhow::Result<(u64, Duration)> {
    let label = if gzip { "download gz" } else { "download" };
    let progress = bar(expected, label);
    let mut request = client.get(url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let started = Instant::now();
    let response = request.send().await?.error_for_status()?;
    let mut stream = response.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk?.len() as u64;
        progress.set_position(total.min(expected));
    }
    let took = started.elapsed();
    progress.finish_and_clear();
    Ok((total, took))
}

pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    let scratch = crate::scratch::Scratch::new(options.dir.as_deref(), "fake-symbols-bench-")?;
    let dir = scratch.path().to_path_buf();
    // A plain client: the bench measures the server, so no transparent decompression.
    let client = reqwest::Client::builder().no_gzip().build()?;
    if options.download_bytes > 0 {
        bench_download(&client, &dir, options.download_bytes).await?;
    }
    if options.upload_bytes > 0 {
        bench_upload(&client, &dir, options.upload_bytes).await?;
    }
    if options.symbolicate_bytes > 0 {
        bench_symbolicate(&client, &dir, options.symbolicate_bytes).await?;
    }
    Ok(())
}

async fn bench_download(client: &reqwest::Client, dir: &Path, bytes: u64) -> anyhow::Result<()> {
    println!("preparing a {:.0} MB sym file ...", mb(bytes));
    let symbols_dir = dir.join("symbols");
    let debug_id = parse_footprint::DEBUG_ID;
    let sym_path = symbols_dir.join("xul.pdb").join(debug_id).join("xul.sym");
    let size = write_sym(&sym_path, "xul.pdb", debug_id, bytes)?;
    let server = ServerProcess::start(&symbols_dir, &[])?;
    let url = format!("{}/xul.pdb/{debug_id}/xul.sym", server.url);
    let (plain, plain_time) = download(client, &url, false, size).await?;
    let (gz, gz_time) = download(client, &url, true, size).await?;
    let rss_download = server.peak_rss()?;
    println!(
        "download {:.0} MB: {:.0} MB/s plain ({:.2} s), gzip on the fly {:.0} MB/s of sym ({:.0} MB on the wire, {:.2} s); server peak RSS {:.1} MB",
        mb(plain),
        mb(plain) / plain_time.as_secs_f64(),
        plain_time.as_secs_f64(),
        mb(size) / gz_time.as_secs_f64(),
        mb(gz),
        gz_time.as_secs_f64(),
        mb(rss_download)
    );
    std::fs::remove_file(&sym_path)?;
    Ok(())
}

async fn bench_upload(client: &reqwest::Client, dir: &Path, bytes: u64) -> anyhow::Result<()> {
    println!("preparing a {:.0} MB zip ...", mb(bytes));
    let zip_path = dir.join("upload.zip");
    let zip_size = write_zip(&zip_path, bytes)?;
    // A fresh server, so its peak RSS is the upload's alone; its limit fits the zip (the
    // default, 4 GiB, would refuse the runs past 2^32).
    let limit = zip_size.max(4 << 30).to_string();
    let server = ServerProcess::start(&dir.join("symbols-upload"), &["--max-upload", &limit])?;
    let progress = bar(zip_size, "upload");
    let file = tokio::fs::File::open(&zip_path).await?;
    let progress_in_stream = progress.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect(move |c| {
        if let Ok(c) = c {
            progress_in_stream.inc(c.len() as u64);
        }
    });
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), zip_size)
            .file_name("symbols.zip");
    let form = reqwest::multipart::Form::new().part("symbols.zip", part);
    let started = Instant::now();
    let response = client
        .post(format!("{}/upload/", server.url))
        .header("auth-token", TOKEN)
        .multipart(form)
        .send()
        .await?;
    let took = started.elapsed();
    progress.finish_and_clear();
    let status = response.status();
    if status.as_u16() != 201 {
        bail!(
            "upload answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let body: serde_json::Value = response.json().await?;
    // The 2022 Tecken incident: a 2,644,960,066-byte upload overflowed a 32-bit size.
    let reported = body["upload"]["size"].as_u64();
    if reported != Some(zip_size) {
        bail!("the upload record says size {reported:?}, the zip has {zip_size} bytes");
    }
    let rss_upload = server.peak_rss()?;
    println!(
        "upload {zip_size} byte zip (stored, extracted and md5-checked; size reported exactly): {:.0} MB/s ({:.2} s); server peak RSS {:.1} MB",
        mb(zip_size) / took.as_secs_f64(),
        took.as_secs_f64(),
        mb(rss_upload)
    );
    std::fs::remove_file(&zip_path)?;
    drop(server);
    std::fs::remove_dir_all(dir.join("symbols-upload"))?;
    Ok(())
}

/// Runs `bench-parse-footprint`, the binary built beside `bench` (`cargo build --release -p
/// bench` builds both), in a process of its own.
fn measure_parse(bytes: u64) -> anyhow::Result<ParseFootprint> {
    let exe = std::env::current_exe()?.with_file_name("bench-parse-footprint");
    if !exe.exists() {
        bail!(
            "{} is missing: build both binaries with `cargo build --release -p bench`",
            exe.display()
        );
    }
    let output = Command::new(&exe)
        .args(["--size", &bytes.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run parse-footprint")?;
    if !output.status.success() {
        bail!("parse-footprint failed: {}", output.status);
    }
    serde_json::from_slice(&output.stdout).context("parse-footprint printed no figures")
}

async fn bench_symbolicate(client: &reqwest::Client, dir: &Path, bytes: u64) -> anyhow::Result<()> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    spinner.set_message(format!(
        "measuring the parsed size of a {:.0} MB module",
        mb(bytes)
    ));
    let footprint = measure_parse(bytes)?;
    spinner.finish_and_clear();
    println!(
        "parse a {:.0} MB synthetic module alone ({} FUNCs): {:.2} s; parsed size {:.1} MB of heap \
         (heap peak during the parse {:.1} MB); process RSS after {:.1} MB, peak {:.1} MB",
        mb(footprint.sym_bytes),
        footprint.functions,
        footprint.parse_secs,
        mb(footprint.parsed_heap),
        mb(footprint.parse_peak_heap),
        mb(footprint.rss_after),
        mb(footprint.peak_rss)
    );

    // A fresh server, so its peak RSS is the symbolication's alone.
    let server = ServerProcess::start(&dir.join("symbols-empty"), &[])?;
    let debug_id = parse_footprint::DEBUG_ID;
    let debug_file = parse_footprint::DEBUG_FILE;
    let spec = json!({"seed": 0, "rules": [{"module": debug_file,
        "action": {"kind": "synthetic", "size": bytes}}]});
    client
        .put(format!("{}/__fault__", server.url))
        .json(&spec)
        .send()
        .await?
        .error_for_status()?;
    let baseline = server.peak_rss()?;
    let frames: Vec<_> = [0u64, 1000, 100_000, 1_000_000]
        .iter()
        .map(|i| json!([0, synthetic::function_address(*i) + 0x50]))
        .collect();
    let request = json!({"jobs": [{"memoryMap": [[debug_file, debug_id]], "stacks": [frames]}],
        "version": 5});
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "symbolicating against a {:.0} MB module",
        mb(bytes)
    ));
    spinner.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let response: serde_json::Value = client
        .post(format!("{}/symbolicate/v5", server.url))
        .json(&request)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let took = started.elapsed();
    spinner.finish_and_clear();
    let found = &response["results"][0]["found_modules"][format!("{debug_file}/{debug_id}")];
    if found != &json!(true) {
        bail!("the synthetic module was not symbolicated: {response}");
    }
    let rss = server.peak_rss()?;
    println!(
        "symbolicate 4 frames in a {:.0} MB synthetic module: {:.2} s; server peak RSS {:.1} MB \
         (idle {:.1} MB) = {:.2} x the parsed size (target < 2)",
        mb(bytes),
        took.as_secs_f64(),
        mb(rss),
        mb(baseline),
        rss as f64 / footprint.parsed_heap.max(1) as f64
    );
    Ok(())
}
