//! Writing generated crashes to disk in the layout consumers expect:
//! `DIR/dumps/<name>.dmp`, `DIR/symbols/<debug_file>/<debug_id>/<sym_file>`, `DIR/truth/<name>.json`,
//! and with `zip` also `DIR/symbols-zip/<name>.zip` (a Firefox-style symbol upload).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::crash::Crash;
use crate::profile::Profile;

/// Counts of what [`write_batch`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchSummary {
    pub crashes: usize,
    pub sym_files: usize,
    pub bytes: u64,
}

/// Writes one crash below `dir`; returns the bytes written.
pub fn write_crash(dir: &Path, crash: &Crash, zip: bool) -> io::Result<u64> {
    let name = crash.name();
    let mut bytes = 0u64;
    let mut write = |path: PathBuf, data: &[u8]| -> io::Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, data)?;
        bytes += data.len() as u64;
        Ok(())
    };
    write(
        dir.join("dumps").join(format!("{name}.dmp")),
        crash.minidump_bytes(),
    )?;
    for (path, data) in crash.sym_files() {
        write(dir.join("symbols").join(path), data)?;
    }
    write(
        dir.join("truth").join(format!("{name}.json")),
        crash.truth().to_json_pretty().as_bytes(),
    )?;
    if zip {
        write(
            dir.join("symbols-zip").join(format!("{name}.zip")),
            &crash.symbols_zip(),
        )?;
    }
    Ok(bytes)
}

/// Generates `count` crashes for seeds `first_seed..` and writes them, with a progress bar.
pub fn write_batch(
    dir: &Path,
    profile: &Profile,
    first_seed: u64,
    count: u64,
    zip: bool,
) -> io::Result<BatchSummary> {
    let bar = progress_bar(count, "generating");
    let mut summary = BatchSummary::default();
    for seed in first_seed..first_seed + count {
        let crash = Crash::generate(profile, seed);
        summary.bytes += write_crash(dir, &crash, zip)?;
        summary.crashes += 1;
        summary.sym_files += crash.sym_files().len();
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// A progress bar for `len` items (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar
}
