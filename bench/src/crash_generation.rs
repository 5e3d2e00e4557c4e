//! The generation benchmark (`bench crash-generator`): crashes per second and MB per second on
//! one core, syms included.

use std::time::Instant;

use crash_generator::Crash;
use crash_generator::Profile;

/// Measured figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    pub crashes: u64,
    pub seconds: f64,
    /// Minidump plus `.sym` bytes.
    pub bytes: u64,
}

impl BenchReport {
    pub fn crashes_per_second(&self) -> f64 {
        self.crashes as f64 / self.seconds
    }

    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} crashes in {:.2} s: {:.0} crashes/s, {:.1} MB/s ({:.1} KB per crash with syms)",
            self.crashes,
            self.seconds,
            self.crashes_per_second(),
            self.megabytes_per_second(),
            self.bytes as f64 / 1e3 / self.crashes as f64
        )
    }
}

/// Generates `count` crashes (minidump, syms and truth) on the calling thread.
pub fn run(profile: &Profile, count: u64) -> BenchReport {
    let start = Instant::now();
    let mut bytes = 0u64;
    for seed in 0..count {
        let crash = Crash::generate(profile, seed);
        bytes += crash.minidump_bytes().len() as u64;
        bytes += crash
            .sym_files()
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum::<u64>();
    }
    BenchReport {
        crashes: count,
        seconds: start.elapsed().as_secs_f64(),
        bytes,
    }
}
