//! The same profile and seed always give the same bytes; different seeds give different crashes.

use crash_generator::strategies::any_profile;
use crash_generator::{Crash, OsFlavor, Profile};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn same_seed_same_bytes(profile in any_profile(), seed in any::<u64>()) {
        let a = Crash::generate(&profile, seed);
        let b = Crash::generate(&profile, seed);
        prop_assert_eq!(a.minidump_bytes(), b.minidump_bytes());
        prop_assert_eq!(a.sym_files(), b.sym_files());
        prop_assert_eq!(a.truth(), b.truth());
        prop_assert_eq!(a.symbols_zip(), b.symbols_zip());
    }
}

#[test]
fn different_seeds_differ() {
    for os in OsFlavor::ALL {
        let profile = Profile::for_os(os);
        assert_ne!(
            Crash::generate(&profile, 1).minidump_bytes(),
            Crash::generate(&profile, 2).minidump_bytes()
        );
    }
}

#[test]
fn truth_json_round_trips() {
    let crash = Crash::generate(&Profile::default(), 77);
    let json = crash.truth().to_json_pretty();
    let back: crash_generator::GroundTruth = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, crash.truth());
    assert!(json.contains("\"trust\": \"context\""));
}

#[test]
fn symbols_zip_holds_every_sym_file() {
    let crash = Crash::generate(&Profile::default(), 5);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(crash.symbols_zip())).unwrap();
    assert_eq!(zip.len(), crash.sym_files().len());
    for (path, bytes) in crash.sym_files() {
        let mut entry = zip.by_name(path).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        assert_eq!(&content, bytes);
    }
}

/// The x86 flavour's STACK WIN records and 32-bit stacks are as deterministic as the rest.
#[test]
fn windows_x86_same_seed_same_bytes() {
    let profile = Profile::for_os(OsFlavor::WindowsX86);
    for seed in 0..8 {
        let a = Crash::generate(&profile, seed);
        let b = Crash::generate(&profile, seed);
        assert_eq!(a.minidump_bytes(), b.minidump_bytes());
        assert_eq!(a.sym_files(), b.sym_files());
        assert_eq!(a.truth(), b.truth());
    }
    assert_ne!(
        Crash::generate(&profile, 1).sym_files(),
        Crash::generate(&profile, 2).sym_files()
    );
}
