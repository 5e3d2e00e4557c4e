//! The `windows-x86` flavour: its `.sym` files carry STACK WIN (and no STACK CFI), every kind of
//! STACK WIN record is what the real x86 walker uses to find a `cfi` frame, and without those
//! records the processor no longer agrees with the truth, so the agreement is not vacuous.

use std::collections::BTreeSet;

use crash_generator::processing::{self, InMemorySymbols};
use crash_generator::{Crash, Location, OsFlavor, Profile, StackWinKind, Trust};

mod common;
use common::runtime;

fn x86(seed: u64) -> Crash {
    Crash::generate(&Profile::for_os(OsFlavor::WindowsX86), seed)
}

/// The STACK WIN kind of the code at `location`, if its module's symbols are in the crash.
fn stack_win_kind(crash: &Crash, location: Location) -> Option<StackWinKind> {
    let has_syms = |module: usize| {
        let m = &crash.program.modules[module];
        crash
            .sym_files()
            .iter()
            .any(|(path, _)| path == &crash_generator::sym_path(m))
    };
    match location {
        Location::Function { module, function } if has_syms(module) => {
            crash.program.modules[module].functions[function]
                .stack_win
                .map(|w| w.kind)
        }
        Location::Public { module, public } if has_syms(module) => crash.program.modules[module]
            .publics[public]
            .stack_win
            .map(|w| w.kind),
        _ => None,
    }
}

#[test]
fn x86_syms_carry_both_stack_win_types_and_no_stack_cfi() {
    let (mut framedata, mut fpo) = (0, 0);
    for seed in 0..16 {
        for (path, sym) in x86(seed).sym_files() {
            let text = std::str::from_utf8(sym).unwrap();
            assert!(text.starts_with("MODULE windows x86 "), "{path}");
            assert!(!text.contains("STACK CFI"), "{path}");
            framedata += text.matches("\nSTACK WIN 4 ").count();
            fpo += text.matches("\nSTACK WIN 0 ").count();
        }
    }
    assert!(
        framedata > 20 && fpo > 20,
        "{framedata} FrameData, {fpo} FPO"
    );
}

#[test]
fn every_stack_win_kind_yields_cfi_frames_and_every_trust_occurs() {
    let mut kinds = BTreeSet::new();
    let mut trusts = BTreeSet::new();
    for seed in 0..64 {
        let crash = x86(seed);
        for (plan, truth) in crash.threads.iter().zip(&crash.truth().threads) {
            for (k, frame) in truth.frames.iter().enumerate() {
                trusts.insert(frame.trust.as_str());
                if frame.trust == Trust::Cfi {
                    let kind = stack_win_kind(&crash, plan.frames[k - 1].location)
                        .expect("a cfi frame's callee has a STACK WIN record");
                    kinds.insert(format!("{kind:?}"));
                }
            }
        }
    }
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert_eq!(trusts.len(), 4, "{trusts:?}");
}

#[test]
fn without_stack_win_the_processor_disagrees() {
    let mut checked = 0;
    for seed in 0..32 {
        let crash = x86(seed);
        let cfi_frames = crash
            .truth()
            .threads
            .iter()
            .flat_map(|t| &t.frames)
            .filter(|f| f.trust == Trust::Cfi)
            .count();
        if cfi_frames == 0 {
            continue;
        }
        let state = runtime().block_on(processing::process(&crash)).unwrap();
        assert!(crash.truth().compare(&state).is_empty(), "{}", crash.name());

        let mut stripped = InMemorySymbols::for_crash(&crash);
        for (path, sym) in crash.sym_files() {
            let text = std::str::from_utf8(sym).unwrap();
            let kept: String = text
                .lines()
                .filter(|l| !l.starts_with("STACK WIN "))
                .map(|l| format!("{l}\n"))
                .collect();
            stripped.insert(path.clone(), kept.into_bytes());
        }
        let state = runtime()
            .block_on(processing::process_with(&crash, stripped))
            .unwrap();
        let mismatches = crash.truth().compare(&state);
        assert!(
            mismatches.iter().any(|m| m.path.ends_with(".trust")),
            "{}: stripping STACK WIN changed no trust: {mismatches:?}",
            crash.name()
        );
        checked += 1;
    }
    assert!(checked > 10, "{checked} crashes with cfi frames");
}

#[test]
fn x86_contexts_and_addresses_fit_in_32_bits() {
    for seed in 0..16 {
        let crash = x86(seed);
        let truth = crash.truth();
        assert_eq!(truth.cpu_arch.as_deref(), Some("x86"));
        assert_eq!(truth.os.as_deref(), Some("Windows NT"));
        assert!(truth.crash_address.unwrap() <= u64::from(u32::MAX));
        for m in &truth.modules {
            assert!(m.end_addr <= u64::from(u32::MAX), "{}", m.filename);
        }
        for t in &crash.threads {
            assert!(t.stack.memory_base + t.stack.memory.len() as u64 <= u64::from(u32::MAX));
        }
        let text = crash_generator::describe_minidump(crash.minidump_bytes()).unwrap();
        assert!(text.contains("system: Windows NT / x86"), "{text}");
        assert!(text.contains(" x86 eip=0x"), "{text}");
    }
}
