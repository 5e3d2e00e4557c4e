//! The decisive test: the real minidump-processor (0.27, symbols from the generated `.sym` files)
//! reports exactly the ground truth, natively and in its JSON form, for many seeds and every
//! platform (Linux, macOS and Windows on x86-64, 32-bit x86 and ARM64; Android on ARM64).
//! `PROPTEST_CASES` raises the case count (default 64, sized for debug-profile CI).

use crash_generator::processing;
use crash_generator::strategies::{any_crash, any_os, any_profile};
use crash_generator::{Crash, Mismatch, OsFlavor, Profile};
use proptest::prelude::*;

mod common;
use common::ARM64_AND_X86_CFI;
use common::runtime;

fn listing(crash: &Crash, mismatches: &[Mismatch]) -> String {
    let mut out = format!(
        "{} mismatches for {} (profile {:?}):\n",
        mismatches.len(),
        crash.name(),
        crash.profile.os
    );
    for m in mismatches.iter().take(40) {
        out.push_str(&format!("  {m}\n"));
    }
    out
}

fn check(crash: &Crash) -> Result<(), TestCaseError> {
    let state = runtime()
        .block_on(processing::process(crash))
        .map_err(|e| TestCaseError::fail(format!("{}: processing failed: {e}", crash.name())))?;
    let mismatches = crash.truth().compare(&state);
    prop_assert!(mismatches.is_empty(), "{}", listing(crash, &mismatches));

    let mut json = Vec::new();
    state.print_json(&mut json, false).expect("json output");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("valid json");
    let mismatches = crash.truth().compare_json(&json);
    prop_assert!(
        mismatches.is_empty(),
        "json: {}",
        listing(crash, &mismatches)
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn processor_reports_the_truth_for_default_profiles(os in any_os(), seed in any::<u64>()) {
        check(&Crash::generate(&Profile::for_os(os), seed))?;
    }

    #[test]
    fn processor_reports_the_truth_for_any_profile(crash in any_crash()) {
        check(&crash)?;
    }

    /// The x86 walker with STACK WIN, over varied shapes (every function with STACK WIN, none,
    /// and in between).
    #[test]
    fn processor_reports_the_truth_for_any_windows_x86_profile(
        profile in any_profile().prop_map(|p| p.with_os(OsFlavor::WindowsX86)),
        seed in any::<u64>(),
    ) {
        check(&Crash::generate(&profile, seed))?;
    }

    /// The ARM64 walker (CFI with `sp`/`x29` rules, x29/x30 frame records, scanning) and the
    /// 32-bit x86 one with STACK CFI, over varied shapes.
    #[test]
    fn processor_reports_the_truth_for_any_arm64_or_x86_cfi_profile(
        profile in any_profile(),
        os in proptest::sample::select(ARM64_AND_X86_CFI.to_vec()),
        seed in any::<u64>(),
    ) {
        check(&Crash::generate(&profile.with_os(os), seed))?;
    }
}

#[test]
fn arm64_and_x86_cfi_platforms_match_for_fixed_seeds() {
    for os in ARM64_AND_X86_CFI {
        for seed in 0..16 {
            check(&Crash::generate(&Profile::for_os(os), seed)).unwrap();
        }
    }
}

#[test]
fn default_linux_profile_matches_for_fixed_seeds() {
    for seed in 0..16 {
        let crash = Crash::generate(&Profile::for_os(OsFlavor::Linux), seed);
        check(&crash).unwrap();
    }
}

#[test]
fn windows_x86_profile_matches_for_fixed_seeds() {
    for seed in 0..32 {
        let crash = Crash::generate(&Profile::for_os(OsFlavor::WindowsX86), seed);
        check(&crash).unwrap();
    }
}

/// Guards against a vacuous pass: across seeds the generated truths exercise every trust level,
/// inline chains, PUBLIC-only and unsymbolized frames, and unloaded modules.
#[test]
fn generated_crashes_cover_every_feature() {
    use crash_generator::Trust;
    use std::collections::BTreeSet;
    for os in OsFlavor::ALL {
        let mut trusts = BTreeSet::new();
        let (mut inlines, mut public_only, mut unsymbolized, mut unloaded) = (0, 0, 0, 0);
        for seed in 0..64 {
            let crash = Crash::generate(&Profile::for_os(os), seed);
            for frame in crash.truth().threads.iter().flat_map(|t| &t.frames) {
                trusts.insert(frame.trust.as_str());
                inlines += usize::from(!frame.inlines.is_empty());
                public_only += usize::from(frame.function.is_some() && frame.file.is_none());
                unsymbolized += usize::from(frame.module.is_some() && frame.function.is_none());
                unloaded += usize::from(!frame.unloaded_modules.is_empty());
            }
        }
        let all: BTreeSet<&str> = [Trust::Context, Trust::Cfi, Trust::FramePointer, Trust::Scan]
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(trusts, all, "{os:?}");
        assert!(inlines > 10, "{os:?}: {inlines} frames with inlines");
        assert!(public_only > 5, "{os:?}: {public_only} PUBLIC-only frames");
        assert!(
            unsymbolized > 5,
            "{os:?}: {unsymbolized} unsymbolized frames"
        );
        assert!(
            unloaded > 3,
            "{os:?}: {unloaded} frames in unloaded modules"
        );
    }
}

/// The Linux streams are read back: /proc/self/maps (one mapping per module and stack),
/// lsb-release and the process id.
#[test]
fn linux_streams_are_read_by_the_processor() {
    let crash = Crash::generate(&Profile::default(), 3);
    let state = runtime().block_on(processing::process(&crash)).unwrap();
    assert_eq!(
        state.linux_memory_map_count,
        Some(crash.program.modules.len() + crash.threads.len())
    );
    let lsb = state
        .linux_standard_base
        .as_ref()
        .expect("lsb-release read");
    assert_eq!(lsb.id, "Debian");
    assert_eq!(state.process_id, Some(crash.pid));
}

/// Each flavour records its mappings in the one stream its real writer uses: Breakpad's Linux
/// (and Android) dumps carry /proc/self/maps and no MemoryInfoList, the others a MemoryInfoList
/// and no maps.
/// With both, rust-minidump warns on every load (`UnifiedMemoryInfoList got both kinds of info!`).
#[test]
fn each_flavour_writes_one_kind_of_memory_info() {
    use minidump::{Minidump, MinidumpLinuxMaps, MinidumpMemoryInfoList};
    for os in OsFlavor::ALL {
        let crash = Crash::generate(&Profile::for_os(os), 5);
        let dump = Minidump::read(crash.minidump_bytes()).expect("the dump parses");
        let info = dump.get_stream::<MinidumpMemoryInfoList>().is_ok();
        let maps = dump.get_stream::<MinidumpLinuxMaps>().is_ok();
        assert_eq!(
            (info, maps),
            (!os.is_linux_kernel(), os.is_linux_kernel()),
            "{os:?}"
        );
    }
}
