//! `proptest` strategies over programs and crashes, so any crate can write property tests such
//! as "for every crash, my pipeline reports the ground truth".
//!
//! ```
//! use crash_generator::strategies::any_crash;
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(4), |(crash in any_crash())| {
//!     prop_assert_eq!(crash.truth().status.as_str(), "OK");
//! });
//! ```

use proptest::prelude::*;

use crate::crash::Crash;
use crate::profile::{OsFlavor, Profile, Span};
use crate::program::Program;

/// Any OS flavour (every OS on every CPU it is modelled on).
pub fn any_os() -> impl Strategy<Value = OsFlavor> {
    proptest::sample::select(OsFlavor::ALL.to_vec())
}

/// Well-formed profiles of every flavour with varied shapes and probabilities (no edge cases).
pub fn any_profile() -> impl Strategy<Value = Profile> {
    (
        any_os(),
        (1u32..=6, 1u32..=4, 1u32..=12),
        (0.0f64..=1.0, 0.0f64..=1.0, 0.0f64..=0.5, 0.0f64..=0.5),
        (0.0f64..=0.5, 0.0f64..=0.5),
    )
        .prop_map(
            |(
                os,
                (modules, threads, frames),
                (inline, cfi, public, no_syms),
                (unloaded, no_id),
            )| {
                Profile {
                    os,
                    modules: Span(1, modules),
                    threads: Span(1, threads),
                    frames_per_thread: Span(1, frames),
                    inline_probability: inline,
                    cfi_probability: cfi,
                    public_frame_probability: public,
                    module_without_symbols_probability: no_syms,
                    unloaded_frame_probability: unloaded,
                    module_without_debug_id_probability: no_id,
                    ..Profile::default()
                }
            },
        )
}

/// A program from any profile and seed.
pub fn any_program() -> impl Strategy<Value = Program> {
    (any_profile(), any::<u64>()).prop_map(|(profile, seed)| Program::generate(&profile, seed))
}

/// A crash from any profile and seed.
pub fn any_crash() -> impl Strategy<Value = Crash> {
    (any_profile(), any::<u64>()).prop_map(|(profile, seed)| Crash::generate(&profile, seed))
}

/// Crashes of one given profile, over seeds.
pub fn crash_of(profile: Profile) -> impl Strategy<Value = Crash> {
    any::<u64>().prop_map(move |seed| Crash::generate(&profile, seed))
}
