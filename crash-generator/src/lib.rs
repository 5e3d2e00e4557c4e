//! `crash-generator`: deterministic synthetic crashes whose correct processing result is known.
//!
//! From a [`Profile`] and a seed, [`Program::generate`] builds a synthetic program for one of ten
//! platforms ([`OsFlavor`]: Linux, macOS and Windows on x86-64, 32-bit x86 and ARM64, Android on
//! ARM64), with modules carrying the OS's identities (ELF build ids, PDB GUID+age, Mach-O UUIDs),
//! source files, functions with line tables and inline chains, STACK CFI (or STACK WIN for
//! 32-bit x86 Windows) and PUBLIC-only regions, and [`Crash::generate`]
//! crashes it: threads with call chains laid out on their stacks so that each frame is found by a
//! known unwinding method (its [`Trust`]). From a crash come three artefacts that agree with each
//! other:
//!
//! * the minidump ([`Crash::minidump_bytes`], written on top of `minidump-synth`),
//! * the Breakpad `.sym` files ([`Crash::sym_files`], from the only `.sym` writer in the
//!   workspace, at [`sym_path`]; [`Crash::symbols_zip`] packs them like a Firefox upload),
//! * the [`GroundTruth`] ([`Crash::truth`]): what `minidump-processor` must report, which
//!   [`GroundTruth::compare`] and [`GroundTruth::compare_json`] check against a real result
//!   ([`check_files`] does it for files on disk).
//!
//! The public surface: those types and the data they hold, at the crate root ([`Crash`] and its
//! [`ThreadPlan`]s, [`Program`] and its [`Module`]s, the truth types, [`Mismatch`]), plus
//! [`write_batch`]/[`write_crash`] to write crashes to disk and [`describe_minidump`] to describe
//! a dump. Six modules are namespaces of their own:
//! [`submission`] builds, posts and parses Antenna-style crash report submissions (the
//! workspace's one parser of that format, bounded by limits checked while reading) and submits
//! batches of them; [`processing`] runs the real processor over a crash with its symbols served
//! from memory; [`strategies`] has proptest strategies; [`edge`] holds the deliberate
//! malformations and the status each one makes the processor report; [`ids`] the Breakpad and
//! CodeView identifier rules; [`socorro`] the processed crash Socorro makes of a crash and the
//! signature it gets.
//!
//! A profile's `crashing_stack` recipe ([`CrashingStack`]) makes the crashing thread start like a
//! production crash, with frames named from Socorro's signature lists, C++ templates, Rust
//! symbols in both manglings and deep inline chains; with `socorro_signature` the truth also
//! holds the signature Socorro gives the crash ([`socorro`] builds the processed crash and
//! `crash-signature` signs it).
//!
//! How the parts fit (every other module is private): `profile` reads profiles; `program`
//! generates modules, with `names` and `ids`; `crash` puts a crash together: `frames` plans each
//! thread's call chain and hands it to the CPU's stack layout, `stack` for x86-64 (which explains
//! how each frame's trust is forced), `stack_x86` with `stack_win` for x86 and `stack_arm64` for
//! ARM64, `platform` holds the per-OS process facts (stacks, thread ids, system info) and
//! `exception` picks the exception; `dump_writer` and
//! `sym_writer` write the artefacts; `truth` and `compare` hold and check the expectation;
//! `stack_recipe` reads a crashing-stack recipe and `dress` carries it out, with names from
//! `siglist_names` (Socorro's lists) and `symbol_names` (C++ and Rust shapes);
//! `inspect` and `output` serve the binary, and `submit_batch` the `submit` command
//! (generation speed is measured by the workspace's `bench` crate).
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

mod compare;
mod crash;
mod dress;
mod dump_writer;
pub mod edge;
mod exception;
mod frames;
pub mod ids;
mod inspect;
mod names;
mod output;
mod platform;
pub mod processing;
mod profile;
mod program;
mod siglist_names;
pub mod socorro;
mod stack;
mod stack_arm64;
mod stack_recipe;
mod stack_win;
mod stack_x86;
pub mod strategies;
pub mod submission;
mod submit_batch;
mod sym_writer;
mod symbol_names;
mod truth;

pub use compare::{CheckError, Mismatch, check_files};
pub(crate) use crash::rng_for;
pub use crash::{Crash, FrameSite, Location, SymbolState, ThreadPlan, symbols_zip};
pub use dump_writer::Amd64Registers;
pub use exception::ExceptionSpec;
pub use inspect::describe as describe_minidump;
pub use output::{BatchSummary, write_batch, write_crash};
pub use profile::{Arch, EdgeCase, OperatingSystem, OsFlavor, Profile, ProfileError, Span};
pub use program::{
    Function, InlineFrameTruth, InlineRecord, LineRecord, Module, Program, PublicRegion,
    SymbolTruth, UnloadedModule,
};
pub use stack::{LaidOutStack, Trust};
pub use stack_recipe::{CrashingStack, FrameKind, RecipeException};
pub use stack_win::{CallerEbp, StackWin, StackWinKind};
pub use sym_writer::{sym_path, write_sym};
pub use truth::{
    FrameTruth, GroundTruth, InlineTruth, ModuleTruth, ThreadTruth, UnloadedHit,
    UnloadedModuleTruth,
};
