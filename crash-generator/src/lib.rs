//! `crash-generator`: deterministic synthetic crashes whose correct processing result is known.
//!
//! From a [`Profile`] and a seed, [`Program::generate`] builds a synthetic program (modules with
//! Linux/Windows/macOS identities, source files, functions with line tables and inline chains,
//! STACK CFI, or STACK WIN for 32-bit x86 Windows, PUBLIC-only regions) and [`Crash::generate`]
//! crashes it: threads with call chains laid out on their stacks so that each frame is found by a
//! known unwinding method ([`stack`] for x86-64, [`stack_x86`] with [`stack_win`] for x86). From a
//! crash come three artefacts that agree with each other:
//!
//! * the minidump ([`Crash::minidump_bytes`], written by [`dump_writer`] on top of
//!   `minidump-synth`),
//! * the Breakpad `.sym` files ([`Crash::sym_files`], written by [`sym_writer`], the only `.sym`
//!   writer in the workspace; [`Crash::symbols_zip`] packs them like a Firefox upload),
//! * the [`GroundTruth`] ([`Crash::truth`]): what `minidump-processor` must report, which
//!   [`GroundTruth::compare`] and [`GroundTruth::compare_json`] check against a real result.
//!
//! [`processing`] runs the real processor over a crash with its symbols served from memory.
//! [`submission`] builds and parses Antenna-style crash report submissions (the workspace's one
//! parser of that format, bounded by limits checked while reading; [`submit_batch`] sends many), [`strategies`] has proptest strategies, [`edge`] the deliberate malformations,
//! [`inspect`] describes a dump, [`output`] writes crashes to disk (generation speed is measured by the
//! workspace's `bench` crate). [`stack`] explains how each frame's trust is forced.
//!
//! ```
//! use crash_generator::{Crash, Profile};
//! let crash = Crash::generate(&Profile::default(), 42);
//! assert_eq!(crash.minidump_bytes(), Crash::generate(&Profile::default(), 42).minidump_bytes());
//! assert_eq!(crash.truth().status, "OK");
//! for (path, sym) in crash.sym_files() {
//!     assert_eq!(path.split('/').count(), 3);
//!     assert!(sym.starts_with(b"MODULE "));
//! }
//! ```

pub mod compare;
pub mod crash;
pub mod dump_writer;
pub mod edge;
pub mod exception;
pub mod ids;
mod names;
pub mod profile;
pub mod program;
pub mod stack;
pub mod stack_win;
pub mod stack_x86;
pub mod sym_writer;
pub mod truth;

pub use compare::Mismatch;
pub(crate) use crash::rng_for;
pub use crash::{Crash, symbols_zip};
pub use profile::{Arch, EdgeCase, OsFlavor, Profile, ProfileError, Span};
pub use program::Program;
pub use stack::Trust;
pub use truth::GroundTruth;
pub mod inspect;
pub mod output;
pub mod processing;
pub mod strategies;
pub mod submission;
pub mod submit_batch;
