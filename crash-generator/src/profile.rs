//! Profiles: the knobs that shape a generated program and its crash, loadable from TOML so a team
//! can keep its own next to its tests.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::stack_recipe::{CrashingStack, RecipeException};

/// The operating system a flavour runs, whatever its CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatingSystem {
    Linux,
    /// Android: Linux underneath (ELF modules, signals, `/proc` streams), told apart by the
    /// system info's platform id (`0x8203`, a Breakpad extension).
    Android,
    Mac,
    Windows,
}

impl OperatingSystem {
    /// The name the CLI and profiles use.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatingSystem::Linux => "linux",
            OperatingSystem::Android => "android",
            OperatingSystem::Mac => "mac",
            OperatingSystem::Windows => "windows",
        }
    }
}

/// Which operating system and CPU the synthetic program pretends to run on. `Linux`, `Windows`
/// and `Mac` are x86-64 (their names predate the other CPUs); the others name their CPU. The
/// flavour decides module naming, identifiers (ELF build ids, PDB GUID+age, Mach-O UUIDs), the
/// exception codes, the CPU context format, the stack layout and the `.sym` layout: `STACK WIN`
/// unwind records for 32-bit x86 Windows, `STACK CFI` everywhere else.
///
/// [`OsFlavor::new`] builds a flavour from an [`OperatingSystem`] and an [`Arch`]; combinations
/// that are not modelled (Android on anything but arm64) are refused there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFlavor {
    Linux,
    Windows,
    Mac,
    /// 32-bit x86 Windows (`os = "windows-x86"`).
    #[serde(rename = "windows-x86")]
    WindowsX86,
    /// 32-bit x86 Linux.
    #[serde(rename = "linux-x86")]
    LinuxX86,
    /// 32-bit x86 macOS.
    #[serde(rename = "mac-x86")]
    MacX86,
    /// ARM64 (AArch64) Linux.
    #[serde(rename = "linux-arm64")]
    LinuxArm64,
    /// ARM64 Android (the only Android CPU modelled; `os = "android"` also reads as this).
    #[serde(rename = "android-arm64", alias = "android")]
    AndroidArm64,
    /// Apple silicon macOS.
    #[serde(rename = "mac-arm64")]
    MacArm64,
    /// Windows on ARM64.
    #[serde(rename = "windows-arm64")]
    WindowsArm64,
}

/// The CPU a flavour runs on, as the processor names it (`system_info.cpu_arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    X86,
    Arm64,
}

impl Arch {
    /// The processor's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::X86 => "x86",
            Arch::Arm64 => "arm64",
        }
    }
}

impl OsFlavor {
    /// Every flavour, for loops in tests and benchmarks.
    pub const ALL: [OsFlavor; 10] = [
        OsFlavor::Linux,
        OsFlavor::Windows,
        OsFlavor::Mac,
        OsFlavor::WindowsX86,
        OsFlavor::LinuxX86,
        OsFlavor::MacX86,
        OsFlavor::LinuxArm64,
        OsFlavor::AndroidArm64,
        OsFlavor::MacArm64,
        OsFlavor::WindowsArm64,
    ];

    /// The flavour for `os` on `arch`, if it is modelled.
    pub fn new(os: OperatingSystem, arch: Arch) -> Result<OsFlavor, ProfileError> {
        use OperatingSystem as Os;
        Ok(match (os, arch) {
            (Os::Linux, Arch::Amd64) => OsFlavor::Linux,
            (Os::Linux, Arch::X86) => OsFlavor::LinuxX86,
            (Os::Linux, Arch::Arm64) => OsFlavor::LinuxArm64,
            (Os::Android, Arch::Arm64) => OsFlavor::AndroidArm64,
            (Os::Mac, Arch::Amd64) => OsFlavor::Mac,
            (Os::Mac, Arch::X86) => OsFlavor::MacX86,
            (Os::Mac, Arch::Arm64) => OsFlavor::MacArm64,
            (Os::Windows, Arch::Amd64) => OsFlavor::Windows,
            (Os::Windows, Arch::X86) => OsFlavor::WindowsX86,
            (Os::Windows, Arch::Arm64) => OsFlavor::WindowsArm64,
            (Os::Android, Arch::Amd64 | Arch::X86) => {
                return Err(ProfileError::Invalid(format!(
                    "android is only modelled on arm64, not {}",
                    arch.as_str()
                )));
            }
        })
    }

    /// The name the CLI and profiles use.
    pub fn as_str(self) -> &'static str {
        match self {
            OsFlavor::Linux => "linux",
            OsFlavor::Windows => "windows",
            OsFlavor::Mac => "mac",
            OsFlavor::WindowsX86 => "windows-x86",
            OsFlavor::LinuxX86 => "linux-x86",
            OsFlavor::MacX86 => "mac-x86",
            OsFlavor::LinuxArm64 => "linux-arm64",
            OsFlavor::AndroidArm64 => "android-arm64",
            OsFlavor::MacArm64 => "mac-arm64",
            OsFlavor::WindowsArm64 => "windows-arm64",
        }
    }

    /// The operating system, whatever the CPU.
    pub fn os(self) -> OperatingSystem {
        match self {
            OsFlavor::Linux | OsFlavor::LinuxX86 | OsFlavor::LinuxArm64 => OperatingSystem::Linux,
            OsFlavor::AndroidArm64 => OperatingSystem::Android,
            OsFlavor::Mac | OsFlavor::MacX86 | OsFlavor::MacArm64 => OperatingSystem::Mac,
            OsFlavor::Windows | OsFlavor::WindowsX86 | OsFlavor::WindowsArm64 => {
                OperatingSystem::Windows
            }
        }
    }

    /// Whether the flavour is Windows (any CPU).
    pub fn is_windows(self) -> bool {
        self.os() == OperatingSystem::Windows
    }

    /// Whether the process is Linux underneath (Linux or Android): ELF modules, signals and the
    /// `/proc` streams Breakpad's Linux handler writes.
    pub fn is_linux_kernel(self) -> bool {
        matches!(self.os(), OperatingSystem::Linux | OperatingSystem::Android)
    }

    /// The CPU the flavour runs on.
    pub fn arch(self) -> Arch {
        match self {
            OsFlavor::Linux | OsFlavor::Windows | OsFlavor::Mac => Arch::Amd64,
            OsFlavor::WindowsX86 | OsFlavor::LinuxX86 | OsFlavor::MacX86 => Arch::X86,
            OsFlavor::LinuxArm64
            | OsFlavor::AndroidArm64
            | OsFlavor::MacArm64
            | OsFlavor::WindowsArm64 => Arch::Arm64,
        }
    }

    /// The flavour for `self`'s OS on `arch`.
    pub fn with_arch(self, arch: Arch) -> Result<OsFlavor, ProfileError> {
        OsFlavor::new(self.os(), arch)
    }
}

impl std::str::FromStr for Arch {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "amd64" | "x86_64" | "x86-64" => Ok(Arch::Amd64),
            "x86" | "i386" | "i686" => Ok(Arch::X86),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            other => Err(ProfileError::Invalid(format!(
                "unknown arch {other:?} (expected amd64, x86 or arm64)"
            ))),
        }
    }
}

impl std::str::FromStr for OperatingSystem {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linux" => Ok(OperatingSystem::Linux),
            "android" => Ok(OperatingSystem::Android),
            "mac" | "macos" => Ok(OperatingSystem::Mac),
            "windows" => Ok(OperatingSystem::Windows),
            other => Err(ProfileError::Invalid(format!(
                "unknown os {other:?} (expected linux, android, mac or windows)"
            ))),
        }
    }
}

impl std::str::FromStr for OsFlavor {
    type Err = ProfileError;

    /// An OS alone (`linux`, `mac`, `windows` on x86-64; `android` on arm64) or `<os>-<arch>`
    /// (`windows-x86`, `linux-arm64`, ...), plus the older `windows_x86` and `win32`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "android" => return Ok(OsFlavor::AndroidArm64),
            "windows_x86" | "win32" => return Ok(OsFlavor::WindowsX86),
            _ => {}
        }
        let (os, arch) = match s.split_once('-') {
            Some((os, arch)) => (os, arch.parse()?),
            None => (s, Arch::Amd64),
        };
        let os: OperatingSystem = os.parse().map_err(|_| {
            ProfileError::Invalid(format!(
                "unknown os {s:?} (expected linux, android, mac or windows, optionally \
                 followed by -x86 or -arm64)"
            ))
        })?;
        OsFlavor::new(os, arch)
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
    /// The minidump is cut in half (an interrupted upload or write); the stream directory,
    /// written last, is lost.
    TruncatedDump,
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
    pub const ALL: [EdgeCase; 8] = [
        EdgeCase::EmptyDump,
        EdgeCase::BadHeader,
        EdgeCase::TruncatedDump,
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
                | EdgeCase::TruncatedDump
                | EdgeCase::MissingThreadList
                | EdgeCase::MissingSystemInfo
        )
    }
}

/// Everything that shapes a generated crash. Probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Operating system flavour (and CPU).
    pub os: OsFlavor,
    /// The CPU, if the profile names it apart from `os` (`os = "linux"`, `arch = "arm64"`); it
    /// overrides the CPU of `os` ([`Profile::flavour`]). [`Profile::from_toml`] folds it into
    /// `os` and clears it, so a loaded profile's `os` is the flavour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
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
    /// What the crashing thread's stack starts with (names from Socorro's signature lists, C++
    /// templates, Rust symbols, deep inline chains) and its exception; `None`: synthetic names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crashing_stack: Option<CrashingStack>,
    /// Other minidumps sent with the crash, by the suffix of their part name (`browser` is
    /// `upload_file_minidump_browser`, which makes an IPC channel error the browser's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_minidumps: Vec<String>,
    /// Put the signature Socorro gives the crash into the truth (`socorro`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub socorro_signature: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            os: OsFlavor::Linux,
            arch: None,
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
            crashing_stack: None,
            additional_minidumps: Vec::new(),
            socorro_signature: false,
        }
    }
}

/// Upper bound on `threads.max * frames_per_thread.max`, which keeps a dump under ~256 MB.
pub const MAX_TOTAL_FRAMES: u64 = 1_000_000;

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

    /// The flavour to generate: `os`, on `arch` if the profile names a CPU apart.
    pub fn flavour(&self) -> OsFlavor {
        self.arch
            .and_then(|arch| self.os.with_arch(arch).ok())
            .unwrap_or(self.os)
    }

    /// Builder-style: the OS flavour.
    pub fn with_os(mut self, os: OsFlavor) -> Self {
        self.os = os;
        self.arch = None;
        self
    }

    /// Builder-style: modules per program.
    pub fn with_modules(mut self, min: u32, max: u32) -> Self {
        self.modules = Span(min, max);
        self
    }

    /// Builder-style: threads per crash.
    pub fn with_threads(mut self, min: u32, max: u32) -> Self {
        self.threads = Span(min, max);
        self
    }

    /// Builder-style: frames per thread.
    pub fn with_frames(mut self, min: u32, max: u32) -> Self {
        self.frames_per_thread = Span(min, max);
        self
    }

    /// Builder-style: a deliberate defect.
    pub fn with_edge_case(mut self, edge_case: EdgeCase) -> Self {
        self.edge_case = Some(edge_case);
        self
    }

    /// Builder-style: crash the main thread by runaway recursion.
    pub fn with_stack_overflow(mut self) -> Self {
        self.stack_overflow = true;
        self
    }

    /// Builder-style: one crash annotation.
    pub fn with_annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }

    /// Parses a TOML profile; missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ProfileError> {
        let mut profile: Profile = toml::from_str(text)?;
        if let Some(arch) = profile.arch.take() {
            profile.os = profile.os.with_arch(arch)?;
        }
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
        if let Some(arch) = self.arch {
            self.os.with_arch(arch)?;
        }
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
        // Each frame takes up to 256 bytes of stack memory; bound the whole dump.
        let total_frames = u64::from(self.threads.max()) * u64::from(self.frames_per_thread.max());
        if total_frames > MAX_TOTAL_FRAMES {
            return Err(ProfileError::Invalid(format!(
                "threads.max x frames_per_thread.max = {total_frames} exceeds {MAX_TOTAL_FRAMES} frames"
            )));
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
        if let Some(recipe) = &self.crashing_stack {
            self.validate_recipe(recipe)?;
        }
        for name in &self.additional_minidumps {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ProfileError::Invalid(format!(
                    "additional_minidumps: {name:?} must be letters, digits and _"
                )));
            }
        }
        Ok(())
    }

    /// A recipe needs functions of its own for its named frames and, for `unsymbolized`
    /// frames, a library besides the main executable.
    fn validate_recipe(&self, recipe: &CrashingStack) -> Result<(), ProfileError> {
        let invalid = |why: &str| Err(ProfileError::Invalid(format!("crashing_stack: {why}")));
        if self.stack_overflow {
            return invalid("cannot be combined with stack_overflow");
        }
        if recipe.exception == Some(RecipeException::InPageDeviceError) && !self.os.is_windows() {
            return invalid("exception in_page_device_error is Windows-only");
        }
        if recipe.needs_unsymbolized_module() && self.modules.min() < 2 {
            return invalid("unsymbolized frames need modules.min >= 2");
        }
        let library = usize::from(recipe.needs_unsymbolized_module());
        let functions =
            (self.modules.min() as usize - library) * self.functions_per_module.min() as usize;
        if recipe.named_frames() > functions {
            return invalid(&format!(
                "{} named frames need as many functions; the profile guarantees {functions}",
                recipe.named_frames()
            ));
        }
        if self.module_without_symbols_probability > 0.0 && recipe.named_frames() > 0 {
            return invalid("named frames need module_without_symbols_probability = 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_bad_values_are_refused() {
        let p = Profile::from_toml("os = \"mac\"\nthreads = [2, 3]\n").unwrap();
        assert_eq!(p.os, OsFlavor::Mac);
        assert_eq!(p.threads, Span(2, 3));
        assert_eq!(p.modules, Profile::default().modules);
        let x86 = Profile::from_toml("os = \"windows-x86\"\n").unwrap();
        assert_eq!(x86.os, OsFlavor::WindowsX86);
        assert_eq!(
            toml::to_string(&x86).unwrap().lines().next(),
            Some("os = \"windows-x86\"")
        );
        assert_eq!(
            OsFlavor::Windows.with_arch(Arch::X86).unwrap(),
            OsFlavor::WindowsX86
        );
        assert_eq!(
            OsFlavor::Linux.with_arch(Arch::X86).unwrap(),
            OsFlavor::LinuxX86
        );
        assert!(OsFlavor::AndroidArm64.with_arch(Arch::Amd64).is_err());
        let recipe = Profile::from_toml(
            "os = \"windows\"\nmodule_without_symbols_probability = 0.0\n\
             [crashing_stack]\ntop = [\"unsymbolized\", \"inlined-prefix:4\"]\n\
             exception = \"in_page_device_error\"",
        )
        .unwrap();
        assert_eq!(recipe.crashing_stack.unwrap().named_frames(), 1);
        for bad in [
            "threads = [3, 2]",
            "cfi_probability = 1.5",
            "modules = [0, 1]",
            "threads = [1, 1000]\nframes_per_thread = [1, 100000]",
            "no_such_key = 1",
            "os = \"beos\"",
            "os = \"android\"\narch = \"x86\"",
            "os = \"linux\"\narch = \"sparc\"",
            "stack_overflow = true\n[crashing_stack]\ntop = [\"cpp\"]",
            "module_without_symbols_probability = 0.0\n[crashing_stack]\ntop = [\"cpp\"]\nexception = \"in_page_device_error\"",
            "modules = [1, 2]\nmodule_without_symbols_probability = 0.0\n[crashing_stack]\ntop = [\"unsymbolized\"]",
            "[crashing_stack]\ntop = [\"prefix\"]",
            "module_without_symbols_probability = 0.0\nmodules = [2, 2]\nfunctions_per_module = [1, 1]\n[crashing_stack]\ntop = [\"cpp\", \"cpp\", \"cpp\"]",
            "[crashing_stack]\ntop = [\"jit\"]",
            "additional_minidumps = [\"a b\"]",
        ] {
            assert!(Profile::from_toml(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn os_and_arch_spellings_name_every_flavour() {
        for flavour in OsFlavor::ALL {
            assert_eq!(flavour.as_str().parse::<OsFlavor>().unwrap(), flavour);
            assert_eq!(
                OsFlavor::new(flavour.os(), flavour.arch()).unwrap(),
                flavour
            );
            let text = format!("os = \"{}\"\n", flavour.as_str());
            assert_eq!(Profile::from_toml(&text).unwrap().os, flavour);
        }
        for (text, flavour) in [
            ("os = \"linux\"\narch = \"arm64\"\n", OsFlavor::LinuxArm64),
            ("os = \"mac\"\narch = \"x86\"\n", OsFlavor::MacX86),
            ("os = \"android\"\n", OsFlavor::AndroidArm64),
            (
                "os = \"windows-x86\"\narch = \"arm64\"\n",
                OsFlavor::WindowsArm64,
            ),
        ] {
            let profile = Profile::from_toml(text).unwrap();
            assert_eq!(profile.os, flavour, "{text}");
            assert_eq!((profile.arch, profile.flavour()), (None, flavour), "{text}");
        }
        // A profile built in code (or deserialized without `from_toml`) keeps `arch` apart.
        let built = Profile {
            arch: Some(Arch::Arm64),
            ..Profile::for_os(OsFlavor::Mac)
        };
        assert_eq!(built.flavour(), OsFlavor::MacArm64);
        assert!(built.validate().is_ok());
        assert_eq!(
            "android".parse::<OsFlavor>().unwrap(),
            OsFlavor::AndroidArm64
        );
        assert_eq!("win32".parse::<OsFlavor>().unwrap(), OsFlavor::WindowsX86);
        let refused = "android-x86".parse::<OsFlavor>().unwrap_err().to_string();
        assert!(refused.contains("only modelled on arm64"), "{refused}");
    }
}
