//! The crash corpus of a run: generated crashes (crash-generator) and real dumps.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crash_generator::{Crash, GroundTruth, Program};
use indicatif::ProgressBar;

use crate::scenario::{Destinations, Scenario};

/// One generated crash and the truth the processors must reproduce over HTTP.
pub struct GeneratedCrash {
    pub name: String,
    pub crash: Crash,
    pub truth: GroundTruth,
    /// Where its corpus entry submits it.
    pub destinations: Destinations,
}

/// Seeds of a corpus entry's programs are spread out so they do not collide with crash seeds.
const PROGRAM_SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

/// Generates every crash the scenario asks for. Crashes of one entry are spread round-robin
/// over its programs, so modules (and their symbols) repeat across crashes.
pub fn generate(
    scenario: &Scenario,
    progress: &ProgressBar,
) -> Result<Vec<GeneratedCrash>, String> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (index, entry) in scenario.corpus.generated.iter().enumerate() {
        let profile = scenario.profile(&entry.profile)?;
        let destinations = scenario.destinations(entry);
        let programs: Vec<Program> = (0..entry.programs)
            .map(|p| {
                Program::generate(
                    &profile,
                    entry
                        .seed
                        .wrapping_add(PROGRAM_SEED_STRIDE.wrapping_mul(u64::from(p) + 1)),
                )
            })
            .collect();
        for i in 0..entry.crashes {
            let program = programs[i as usize % programs.len()].clone();
            let seed = entry.seed.wrapping_add(u64::from(i));
            let crash = Crash::of_program(&profile, program, seed);
            let name = crash.name();
            if !names.insert(name.clone()) {
                return Err(format!(
                    "corpus.generated[{index}]: crash {name} already exists; give entries of one OS seeds that do not overlap"
                ));
            }
            let truth = crash.truth_over_http();
            out.push(GeneratedCrash {
                name,
                crash,
                truth,
                destinations,
            });
            progress.inc(1);
        }
    }
    Ok(out)
}

/// Every distinct `.sym` file of the corpus, by its symbol-server path.
pub fn sym_files(crashes: &[GeneratedCrash]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for c in crashes {
        for (path, bytes) in c.crash.sym_files() {
            files.entry(path.clone()).or_insert_with(|| bytes.clone());
        }
    }
    files
}

/// Largest real dump read from a dumps folder.
pub const MAX_REAL_DUMP: u64 = 512 * 1024 * 1024;

/// The real dumps in `dir`: `*.dmp` files, or Antenna's `v1/dump/<id>` layout.
pub fn real_dumps(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let antenna = dir.join("v1").join("dump");
    let (folder, any_name) = if antenna.is_dir() {
        (antenna, true)
    } else {
        (dir.to_path_buf(), false)
    };
    let entries = std::fs::read_dir(&folder)
        .map_err(|e| format!("cannot read dumps folder {}: {e}", folder.display()))?;
    let mut dumps = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", folder.display()))?;
        let path = entry.path();
        let is_dump = any_name || path.extension().is_some_and(|e| e == "dmp");
        if path.is_file() && is_dump {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_REAL_DUMP {
                return Err(format!(
                    "{} is {size} bytes; dumps over {MAX_REAL_DUMP} bytes are refused",
                    path.display()
                ));
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            dumps.push((name, path));
        }
    }
    dumps.sort();
    Ok(dumps)
}
