//! Profiles: the knobs that shape a generated program and its crash, loadable from TOML so a team
//! can keep its own next to its tests.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which operating system the synthetic program pretends to run on. Every flavour is x86-64; the
/// flavour decides module naming, identifiers (ELF build ids, PDB GUID+age, Mach-O UUIDs), the
/// exception codes and the `.sym` layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFlavor {
    Linux,
    Windows,
    Mac,
}

impl OsFlavor {
    /// Every flavour, for loops in tests and benchmarks.
    pub const ALL: [OsFlavor; 3] = [OsFlavor::Linux, OsFlavor::Windows, OsFlavor::Mac];

    /// The name the CLI and profiles use.
    pub fn as_str(self) -> &'static str {
        match self {
            OsFlavor::Linux => "linux",
            OsFlavor::Windows => "windows",
            OsFlavor::Mac => "mac",
        }
    }
}

impl std::str::FromStr for OsFlavor {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linux" => Ok(OsFlavor::Linux),
            "windows" => Ok(OsFlavor::Windows),
            "mac" | "macos" => Ok(OsFlavor::Mac),
            other => Err(ProfileError::Invalid(format!(
                "unknown os {other:?} (expected linux, windows or mac)"
            ))),
        }
    }
}

/// An inclusive `[min, max]` range, written as a two-element array in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span(pub u32, pub u32);

impl Span {
    pub fn min(self) -> u32 {
        self.0
    }
    pub fn max(self) -> u32 {
        self.1
    }
}

/// A deliberate defect, for testing how consumers handle bad input. `None` (the default) gives a
/// well-formed crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeCase {
    /// A zero-byte minidump.
    EmptyDump,
    /// The minidump's signature is overwritten.
    BadHeader,
    /// The thread list stream is left out.
    MissingThreadList,
    /// The system info stream is left out.
    MissingSystemInfo,
    /// The crashing module's `.sym` has `INLINE_ORIGIN <id>` with no name (dump_syms 2.1.x).
    NamelessInlineOrigin,
    /// The crashing module's `.sym` has a function name containing a newline.
    NewlineInName,
    /// The crashing module's `.sym` has a line record before any FUNC.
    LineBeforeFunc,
}

impl EdgeCase {
    pub const ALL: [EdgeCase; 7] = [
        EdgeCase::EmptyDump,
        EdgeCase::BadHeader,
        EdgeCase::MissingThreadList,
        EdgeCase::MissingSystemInfo,
        EdgeCase::NamelessInlineOrigin,
        EdgeCase::NewlineInName,
        EdgeCase::LineBeforeFunc,
    ];

    /// Whether this edge case breaks the minidump (as opposed to a `.sym` file).
    pub fn corrupts_dump(self) -> bool {
        matches!(
            self,
            EdgeCase::EmptyDump
                | EdgeCase::BadHeader
                | EdgeCase::MissingThreadList
                | EdgeCase::MissingSystemInfo
        )
    }
}

/// Everything that shapes a generated crash. Probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Operating system flavour.
    pub os: OsFlavor,
    /// Loaded modules (the main executable is one of them).
    pub modules: Span,
    /// FUNC-described functions per module.
    pub functions_per_module: Span,
    /// Source files per module.
    pub files_per_module: Span,
    /// PUBLIC-only symbols (no FUNC, no lines) per module.
    pub publics_per_module: Span,
    /// Threads in the process (the crashing one included).
    pub threads: Span,
    /// Frames per thread.
    pub frames_per_thread: Span,
    /// Unloaded modules listed in the dump.
    pub unloaded_modules: Span,
    /// Chance that a function carries inline call chains.
    pub inline_probability: f64,
    /// Chance that a function (or PUBLIC region) has STACK CFI.
    pub cfi_probability: f64,
    /// Chance that a frame lands in a PUBLIC-only region instead of a FUNC.
    pub public_frame_probability: f64,
    /// Chance that a module ships no `.sym` file at all.
    pub module_without_symbols_probability: f64,
    /// Chance that a non-crashing thread's top frame is in an unloaded module.
    pub unloaded_frame_probability: f64,
    /// Chance that a library module has no debug id (no CodeView record, Windows only: this
    /// forces the code-file/code-id lookup a symbol server must answer with a redirect).
    pub module_without_debug_id_probability: f64,
    /// Make the crashing thread a runaway recursion that overflowed its stack.
    pub stack_overflow: bool,
    /// A deliberate defect (corrupt dump or malformed `.sym`).
    pub edge_case: Option<EdgeCase>,
    /// Crash annotations: written into the Crashpad info stream and sent with submissions.
    pub annotations: BTreeMap<String, String>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            os: OsFlavor::Linux,
            modules: Span(2, 5),
            functions_per_module: Span(4, 12),
            files_per_module: Span(1, 4),
            publics_per_module: Span(0, 3),
            threads: Span(1, 4),
            frames_per_thread: Span(2, 12),
            unloaded_modules: Span(0, 2),
            inline_probability: 0.4,
            cfi_probability: 0.5,
            public_frame_probability: 0.1,
            module_without_symbols_probability: 0.1,
            unloaded_frame_probability: 0.2,
            module_without_debug_id_probability: 0.0,
            stack_overflow: false,
            edge_case: None,
            annotations: BTreeMap::from([
                ("ProductName".to_string(), "Firefox".to_string()),
                ("Version".to_string(), "128.0".to_string()),
                ("ReleaseChannel".to_string(), "nightly".to_string()),
                ("BuildID".to_string(), "20260101000000".to_string()),
            ]),
        }
    }
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot parse profile: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid profile: {0}")]
    Invalid(String),
}

impl Profile {
    /// The default profile for one OS flavour.
    pub fn for_os(os: OsFlavor) -> Self {
        Profile {
            os,
            ..Profile::default()
        }
    }

    /// Parses a TOML profile; missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        let profile: Profile = toml::from_str(text)?;
        profile.validate()?;
        Ok(profile)
    }

    /// Reads and parses a TOML profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Checks ranges and probabilities; generation relies on these invariants.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let spans = [
            ("modules", self.modules, 1, 200),
            ("functions_per_module", self.functions_per_module, 1, 2000),
            ("files_per_module", self.files_per_module, 1, 500),
            ("publics_per_module", self.publics_per_module, 0, 500),
            ("threads", self.threads, 1, 1000),
            ("frames_per_thread", self.frames_per_thread, 1, 100_000),
            ("unloaded_modules", self.unloaded_modules, 0, 200),
        ];
        for (name, span, lowest, highest) in spans {
            if span.min() > span.max() || span.min() < lowest || span.max() > highest {
                return Err(ProfileError::Invalid(format!(
                    "{name} = [{}, {}] must satisfy {lowest} <= min <= max <= {highest}",
                    span.min(),
                    span.max()
                )));
            }
        }
        let probabilities = [
            ("inline_probability", self.inline_probability),
            ("cfi_probability", self.cfi_probability),
            ("public_frame_probability", self.public_frame_probability),
            (
                "module_without_symbols_probability",
                self.module_without_symbols_probability,
            ),
            (
                "unloaded_frame_probability",
                self.unloaded_frame_probability,
            ),
            (
                "module_without_debug_id_probability",
                self.module_without_debug_id_probability,
            ),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(ProfileError::Invalid(format!(
                    "{name} = {p} is not in 0..=1"
                )));
            }
        }
        Ok(())
    }
}
