//! Edge-case profiles get the processor's documented outcome: corrupt dumps fail with the named
//! error, malformed `.sym` files are rejected as a whole (loaded but corrupt, frames unsymbolized),
//! and stack overflows, deep stacks, unloaded modules and modules without debug ids still match
//! the truth exactly.

use std::path::Path;

use crash_generator::processing;
use crash_generator::{Crash, EdgeCase, OsFlavor, Profile, Span};

mod common;
use common::runtime;

fn assert_matches_truth(crash: &Crash) {
    let state = runtime()
        .block_on(processing::process(crash))
        .unwrap_or_else(|e| panic!("{}: {e}", crash.name()));
    let mismatches = crash.truth().compare(&state);
    assert!(
        mismatches.is_empty(),
        "{}:\n{}",
        crash.name(),
        mismatches
            .iter()
            .take(30)
            .map(|m| format!("  {m}\n"))
            .collect::<String>()
    );
}

fn edge_profile(os: OsFlavor, edge: EdgeCase) -> Profile {
    Profile::default().with_os(os).with_edge_case(edge)
}

#[test]
fn corrupt_dumps_fail_with_the_documented_error() {
    let expected = [
        (EdgeCase::EmptyDump, "MissingHeader"),
        (EdgeCase::BadHeader, "HeaderMismatch"),
        (EdgeCase::TruncatedDump, "MissingDirectory"),
        (EdgeCase::MissingThreadList, "MissingThreadList"),
        (EdgeCase::MissingSystemInfo, "MissingSystemInfo"),
    ];
    for os in OsFlavor::ALL {
        for (edge, name) in expected {
            for seed in 0..3 {
                let crash = Crash::generate(&edge_profile(os, edge), seed);
                assert_eq!(crash.truth().status, name);
                let error = runtime()
                    .block_on(processing::process(&crash))
                    .expect_err("a corrupt dump must not process");
                assert_eq!(error.name(), name, "{os:?} {edge:?}: {error}");
                assert!(crash.truth().compare_error(error.name()).is_empty());
            }
        }
    }
}

#[test]
fn malformed_syms_are_rejected_whole_and_reported_corrupt() {
    for os in OsFlavor::ALL {
        for edge in [
            EdgeCase::NamelessInlineOrigin,
            EdgeCase::NewlineInName,
            EdgeCase::LineBeforeFunc,
        ] {
            for seed in 0..6 {
                let crash = Crash::generate(&edge_profile(os, edge), seed);
                let main = &crash.program.modules[0];
                let (_, sym) = crash
                    .sym_files()
                    .iter()
                    .find(|(path, _)| path.starts_with(&format!("{}/", main_debug_leaf(main))))
                    .expect("the main module has a (malformed) sym file");
                assert!(
                    breakpad_symbols::SymbolFile::from_bytes(sym).is_err(),
                    "{edge:?} sym must not parse"
                );
                assert_matches_truth(&crash);
                let http = crash.truth_over_http();
                assert!(!http.modules[0].corrupt_symbols);
            }
        }
    }
}

fn main_debug_leaf(module: &crash_generator::Module) -> String {
    crash_generator::ids::basename(&module.debug_file().unwrap()).to_string()
}

#[test]
fn stack_overflow_gives_a_deep_recursive_crashing_thread() {
    for os in OsFlavor::ALL {
        let profile = Profile::default().with_os(os).with_stack_overflow();
        let crash = Crash::generate(&profile, 11);
        let thread = &crash.truth().threads[crash.truth().crashing_thread.unwrap()];
        assert!(thread.frames.len() > 300, "{} frames", thread.frames.len());
        assert_matches_truth(&crash);
    }
}

#[test]
fn many_threads_modules_and_deep_stacks_match() {
    let profile = Profile {
        modules: Span(20, 30),
        threads: Span(20, 30),
        frames_per_thread: Span(100, 300),
        ..Profile::default()
    };
    for os in OsFlavor::ALL {
        assert_matches_truth(&Crash::generate(
            &Profile {
                os,
                ..profile.clone()
            },
            5,
        ));
    }
}

#[test]
fn modules_without_debug_ids_are_found_by_code_id() {
    for (os, seed) in [OsFlavor::Windows, OsFlavor::WindowsX86]
        .into_iter()
        .flat_map(|os| (0..8).map(move |seed| (os, seed)))
    {
        let profile = Profile {
            modules: Span(4, 6),
            module_without_debug_id_probability: 1.0,
            module_without_symbols_probability: 0.0,
            ..Profile::for_os(os)
        };
        let crash = Crash::generate(&profile, seed);
        assert!(
            crash
                .program
                .modules
                .iter()
                .skip(1)
                .all(|m| m.codeview_in_dump().is_none())
        );
        assert_matches_truth(&crash);
    }
}

#[test]
fn frames_in_unloaded_modules_match() {
    let profile = Profile {
        unloaded_modules: Span(1, 3),
        unloaded_frame_probability: 1.0,
        threads: Span(3, 5),
        ..Profile::default()
    };
    for os in OsFlavor::ALL {
        for seed in 0..4 {
            let crash = Crash::generate(
                &Profile {
                    os,
                    ..profile.clone()
                },
                seed,
            );
            let hits = crash
                .truth()
                .threads
                .iter()
                .filter(|t| !t.frames[0].unloaded_modules.is_empty())
                .count();
            assert!(hits > 0, "some thread starts in an unloaded module");
            assert_matches_truth(&crash);
        }
    }
}

#[test]
fn every_shipped_profile_loads_and_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let profile =
                Profile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A profile named after a flavour (`linux-arm64.toml`, `android.toml`) is that one.
            let stem = path.file_stem().unwrap().to_str().unwrap();
            if let Ok(flavour) = stem.parse::<OsFlavor>() {
                assert_eq!(profile.os, flavour, "{}", path.display());
            }
            let crash = Crash::generate(&profile, 1);
            assert_eq!(
                crash.truth().status,
                profile
                    .edge_case
                    .map_or("OK", crash_generator::edge::expected_status)
            );
            seen += 1;
        }
    }
    assert!(seen >= 10);
    assert_eq!(
        Profile::load(&dir.join("linux.toml")).unwrap(),
        Profile::default(),
        "linux.toml spells out the defaults"
    );
}
