//! The synthetic program: modules laid out in memory, each with source files, functions with line
//! tables and inline call chains, CFI, and PUBLIC-only regions. Everything is drawn from one seeded
//! RNG, so a seed and a profile always give the same program.
//!
//! The model also answers "what must a symbolizer report at this address?" ([`Module::symbolize`]),
//! which is where the ground truth for every frame comes from.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::ids::{self, CodeView};
use crate::names::NameGen;
use crate::profile::{Arch, OperatingSystem, OsFlavor, Profile};
use crate::stack_win::StackWin;

/// A source line range inside a function (a Breakpad line record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    pub rva: u64,
    pub size: u64,
    pub line: u32,
    pub file: u32,
}

/// One `INLINE` record: code inlined at `depth`, called from `call_file:call_line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRecord {
    pub depth: u32,
    pub call_line: u32,
    pub call_file: u32,
    pub origin: u32,
    pub rva: u64,
    pub size: u64,
}

/// A function described by a `FUNC` record.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    pub rva: u64,
    pub size: u64,
    pub param_size: u32,
    /// Written as `FUNC m` (multiple symbols folded into one address).
    pub multiple: bool,
    pub lines: Vec<LineRecord>,
    /// Sorted by depth, then address; ranges at one depth never overlap and each deeper range lies
    /// inside one range of the level above.
    pub inlines: Vec<InlineRecord>,
    /// Bytes this function's frame occupies on the stack (return address included).
    pub frame_size: u64,
    /// Whether the `.sym` carries unwind info for this function: STACK CFI, or STACK WIN for
    /// 32-bit x86 Windows.
    pub has_cfi: bool,
    /// The STACK WIN record (x86 Windows functions with `has_cfi` only).
    pub stack_win: Option<StackWin>,
    /// Also exported: a `PUBLIC` at the same address (FUNC wins, as in dump_syms output).
    pub also_public: bool,
}

/// A `PUBLIC` symbol with no FUNC around it (stripped code): a name, no file or line.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicRegion {
    pub name: String,
    pub rva: u64,
    /// Bytes up to the next symbol; frames are only placed inside.
    pub size: u64,
    pub frame_size: u64,
    pub has_cfi: bool,
    /// The STACK WIN record (x86 Windows regions with `has_cfi` only).
    pub stack_win: Option<StackWin>,
}

/// A loaded module.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Full path as the dump records it.
    pub code_file: String,
    pub base: u64,
    pub size: u32,
    pub time_date_stamp: u32,
    /// The module's real identity; what its `.sym` file is filed under.
    pub codeview: CodeView,
    /// Whether the dump carries the CodeView record (without it there is no debug id in the dump).
    pub codeview_in_dump: bool,
    pub files: Vec<String>,
    pub inline_origins: Vec<String>,
    pub functions: Vec<Function>,
    pub publics: Vec<PublicRegion>,
    /// Whether a `.sym` file is produced for this module.
    pub has_symbols: bool,
}

/// A module that was loaded once and is gone by crash time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadedModule {
    pub name: String,
    pub base: u64,
    pub size: u32,
    pub time_date_stamp: u32,
}

/// What the symbolizer must say about one inline frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFrameTruth {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// What the symbolizer must say about an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymbolTruth {
    pub function: Option<String>,
    pub function_base: Option<u64>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Innermost first, as the processor orders them.
    pub inlines: Vec<InlineFrameTruth>,
}

impl Module {
    /// The basename the processor reports as the module's `filename`.
    pub fn filename(&self) -> &str {
        ids::basename(&self.code_file)
    }

    /// Debug file as the dump records it (PDB name, or the module path for ELF).
    pub fn debug_file(&self) -> Option<String> {
        match &self.codeview {
            CodeView::Elf { .. } => Some(self.code_file.clone()),
            CodeView::Pdb70 { pdb_name, .. } => Some(pdb_name.clone()),
            CodeView::None => None,
        }
    }

    /// The CodeView record as the dump carries it.
    pub fn codeview_in_dump(&self) -> Option<&CodeView> {
        self.codeview_in_dump.then_some(&self.codeview)
    }

    pub fn debug_id(&self) -> Option<String> {
        ids::debug_id(&self.codeview)
    }

    pub fn code_id(&self, os: OsFlavor) -> Option<String> {
        ids::code_id(
            &self.codeview,
            os.os() == OperatingSystem::Mac,
            self.time_date_stamp,
            self.size,
        )
    }

    pub fn end(&self) -> u64 {
        self.base + u64::from(self.size)
    }

    pub fn contains(&self, address: u64) -> bool {
        address >= self.base && address < self.end()
    }

    /// The symbolization of `rva` that a correct `.sym` consumer reports.
    pub fn symbolize(&self, rva: u64) -> SymbolTruth {
        if !self.has_symbols {
            return SymbolTruth::default();
        }
        if let Some(f) = self
            .functions
            .iter()
            .find(|f| rva >= f.rva && rva < f.rva + f.size)
        {
            let line = f
                .lines
                .iter()
                .find(|l| rva >= l.rva && rva < l.rva + l.size);
            let chain: Vec<&InlineRecord> = {
                let mut chain = Vec::new();
                let mut depth = 0;
                while let Some(record) = f
                    .inlines
                    .iter()
                    .find(|i| i.depth == depth && rva >= i.rva && rva < i.rva + i.size)
                {
                    chain.push(record);
                    depth += 1;
                }
                chain
            };
            let file_name = |id: u32| self.files.get(id as usize).cloned();
            let (file, line_no, inlines) = if chain.is_empty() {
                (
                    line.and_then(|l| file_name(l.file)),
                    line.map(|l| l.line),
                    Vec::new(),
                )
            } else {
                // The real frame reports the outermost call site; each inline frame reports the
                // location inside it: the next call site, or the line record for the innermost.
                let outer = chain[0];
                let mut inlines: Vec<InlineFrameTruth> = chain
                    .iter()
                    .enumerate()
                    .map(|(i, record)| {
                        let (file, line) = match chain.get(i + 1) {
                            Some(next) => (file_name(next.call_file), Some(next.call_line)),
                            None => (line.and_then(|l| file_name(l.file)), line.map(|l| l.line)),
                        };
                        InlineFrameTruth {
                            function: self.inline_origins[record.origin as usize].clone(),
                            file,
                            line,
                        }
                    })
                    .collect();
                inlines.reverse();
                (file_name(outer.call_file), Some(outer.call_line), inlines)
            };
            return SymbolTruth {
                function: Some(f.name.clone()),
                function_base: Some(f.rva),
                file,
                line: line_no,
                inlines,
            };
        }
        if let Some(p) = self
            .publics
            .iter()
            .find(|p| rva >= p.rva && rva < p.rva + p.size)
        {
            return SymbolTruth {
                function: Some(p.name.clone()),
                function_base: Some(p.rva),
                ..SymbolTruth::default()
            };
        }
        SymbolTruth::default()
    }
}

/// A synthetic program: its modules and the modules it once had.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub os: OsFlavor,
    pub modules: Vec<Module>,
    pub unloaded_modules: Vec<UnloadedModule>,
}

fn span(rng: &mut ChaCha8Rng, s: crate::profile::Span) -> u32 {
    rng.random_range(s.min()..=s.max())
}

/// Rounds up to a multiple of 16 bytes.
fn align16(x: u64) -> u64 {
    (x + 15) & !15
}

impl Program {
    /// Builds the program for `seed`: the same inputs always give the same program.
    pub fn generate(profile: &Profile, seed: u64) -> Program {
        let mut rng = crate::rng_for(seed, b"program");
        Self::generate_with(profile, &mut rng)
    }

    pub(crate) fn generate_with(profile: &Profile, rng: &mut ChaCha8Rng) -> Program {
        let os = profile.flavour();
        let mut names = NameGen::new(os);
        let module_count = span(rng, profile.modules) as usize;
        let mut modules = Vec::with_capacity(module_count);
        for index in 0..module_count {
            modules.push(generate_module(profile, rng, &mut names, index));
        }
        let unloaded_count = span(rng, profile.unloaded_modules) as usize;
        let unloaded_modules = (0..unloaded_count)
            .map(|i| {
                let size = rng.random_range(4u32..=64) * 0x1000;
                UnloadedModule {
                    name: names.unloaded_module_path(rng, i),
                    base: unloaded_base(os, i) + u64::from(rng.random_range(0u32..16)) * 0x1000,
                    size,
                    time_date_stamp: rng.random_range(0x5000_0000u32..0x6800_0000),
                }
            })
            .collect();
        Program {
            os,
            modules,
            unloaded_modules,
        }
    }
}

/// Module bases: one 16 MiB slot per module, in the address ranges each OS typically uses.
fn module_base(os: OsFlavor, index: usize) -> u64 {
    let slot = index as u64 * 0x100_0000;
    // 32-bit: DLLs and shared libraries from 1.5 GiB in 4 MiB slots (a module is at most
    // ~2.5 MiB), all below 4 GiB and clear of the thread stacks and unloaded modules.
    let slot_32 = 0x6000_0000 + index as u64 * 0x40_0000;
    match (os, index) {
        (OsFlavor::Linux | OsFlavor::LinuxArm64, 0) => 0x5555_5555_4000,
        (OsFlavor::Linux | OsFlavor::LinuxArm64, _) => 0x7f00_0000_0000 + slot,
        (OsFlavor::Windows | OsFlavor::WindowsArm64, 0) => 0x7ff6_1000_0000,
        (OsFlavor::Windows | OsFlavor::WindowsArm64, _) => 0x7ffa_0000_0000 + slot,
        (OsFlavor::Mac | OsFlavor::MacArm64, 0) => 0x1_0000_0000,
        (OsFlavor::Mac, _) => 0x7ff8_0000_0000 + slot,
        // Apple silicon maps system dylibs from the shared cache, around 0x18_0000_0000.
        (OsFlavor::MacArm64, _) => 0x18_0000_0000 + slot,
        // Android's app_process64 and the libraries of a 39-bit address space.
        (OsFlavor::AndroidArm64, 0) => 0x5a_0000_0000,
        (OsFlavor::AndroidArm64, _) => 0x70_0000_0000 + slot,
        // The executables at their classic image bases (PIE for Linux).
        (OsFlavor::WindowsX86, 0) => 0x0040_0000,
        (OsFlavor::LinuxX86, 0) => 0x5655_5000,
        (OsFlavor::MacX86, 0) => 0x0010_0000,
        (OsFlavor::WindowsX86 | OsFlavor::LinuxX86 | OsFlavor::MacX86, _) => slot_32,
    }
}

fn unloaded_base(os: OsFlavor, index: usize) -> u64 {
    let slot = index as u64 * 0x100_0000;
    match os {
        OsFlavor::Linux | OsFlavor::LinuxArm64 => 0x7f10_0000_0000 + slot,
        OsFlavor::Windows | OsFlavor::WindowsArm64 => 0x7ffb_0000_0000 + slot,
        OsFlavor::Mac => 0x7ff9_0000_0000 + slot,
        OsFlavor::MacArm64 => 0x1c_0000_0000 + slot,
        OsFlavor::AndroidArm64 => 0x74_0000_0000 + slot,
        OsFlavor::WindowsX86 | OsFlavor::MacX86 => 0x5000_0000 + index as u64 * 0x10_0000,
        // Below the PIE executable at 0x5655_5000.
        OsFlavor::LinuxX86 => 0x4000_0000 + index as u64 * 0x10_0000,
    }
}

fn generate_module(
    profile: &Profile,
    rng: &mut ChaCha8Rng,
    names: &mut NameGen,
    index: usize,
) -> Module {
    let os = profile.flavour();
    let code_file = names.module_path(rng, index);
    let namespace = names.namespace(rng);
    let file_count = span(rng, profile.files_per_module) as usize;
    let files: Vec<String> = (0..file_count)
        .map(|_| names.source_file(rng, &code_file))
        .collect();
    let origin_count = rng.random_range(2usize..=6);
    let inline_origins: Vec<String> = (0..origin_count)
        .map(|_| names.function(rng, &namespace))
        .collect();

    let mut cursor: u64 = 0x1000;
    let function_count = span(rng, profile.functions_per_module) as usize;
    let mut functions = Vec::with_capacity(function_count);
    for _ in 0..function_count {
        let size = align16(rng.random_range(0x30u64..=0x400));
        let rva = cursor;
        cursor = align16(cursor + size + rng.random_range(0u64..=0x40));
        let main_file = rng.random_range(0..file_count) as u32;
        let lines = generate_lines(rng, rva, size, main_file, file_count as u32);
        let inlines = if rng.random_bool(profile.inline_probability) {
            generate_inlines(rng, rva, size, file_count as u32, origin_count as u32)
        } else {
            Vec::new()
        };
        functions.push(Function {
            name: names.function(rng, &namespace),
            rva,
            size,
            // dump_syms records parameter sizes from PDBs only, and only x86 walkers use them.
            param_size: match os {
                OsFlavor::Windows => rng.random_range(0u32..4) * 8,
                OsFlavor::WindowsX86 => rng.random_range(0u32..4) * 4,
                _ => 0,
            },
            multiple: rng.random_bool(0.05),
            lines,
            inlines,
            frame_size: frame_size(os, rng),
            has_cfi: rng.random_bool(profile.cfi_probability),
            stack_win: None,
            also_public: rng.random_bool(0.2),
        });
        let f = functions.last_mut().expect("just pushed");
        if os == OsFlavor::WindowsX86 && f.has_cfi {
            f.stack_win = Some(StackWin::generate(rng, f.frame_size));
        }
    }
    let public_count = span(rng, profile.publics_per_module) as usize;
    let mut publics = Vec::with_capacity(public_count);
    for _ in 0..public_count {
        let size = align16(rng.random_range(0x30u64..=0x200));
        let rva = cursor;
        cursor = rva + size;
        let name = names.public_symbol(rng);
        let frame_size = frame_size(os, rng);
        let has_cfi = rng.random_bool(profile.cfi_probability);
        let stack_win =
            (os == OsFlavor::WindowsX86 && has_cfi).then(|| StackWin::generate(rng, frame_size));
        publics.push(PublicRegion {
            name,
            rva,
            size,
            frame_size,
            has_cfi,
            stack_win,
        });
    }
    let size = ((cursor + 0x1000 + 0xfff) & !0xfff) as u32;
    let base = module_base(os, index) + u64::from(rng.random_range(0u32..64)) * 0x1000;
    let time_date_stamp = rng.random_range(0x5000_0000u32..0x6800_0000);
    let no_debug_id = index > 0
        && os.is_windows()
        && rng.random_bool(profile.module_without_debug_id_probability);
    let codeview = {
        match os.os() {
            OperatingSystem::Linux | OperatingSystem::Android => CodeView::Elf {
                build_id: (0..20).map(|_| rng.random::<u8>()).collect(),
            },
            OperatingSystem::Windows => CodeView::Pdb70 {
                guid: rng.random(),
                age: rng.random_range(1u32..=3),
                pdb_name: names.pdb_name(&code_file),
            },
            OperatingSystem::Mac => CodeView::Pdb70 {
                guid: rng.random(),
                age: 0,
                pdb_name: ids::basename(&code_file).to_string(),
            },
        }
    };
    let has_symbols = !rng.random_bool(profile.module_without_symbols_probability);
    Module {
        code_file,
        base,
        size,
        time_date_stamp,
        codeview,
        codeview_in_dump: !no_debug_id,
        files,
        inline_origins,
        functions,
        publics,
        has_symbols,
    }
}

/// Bytes a frame occupies (return address included). x86 frames stay within 128 bytes (plus
/// up to 12 bytes of pushed arguments) so that a scan, which looks 40 words (160 bytes) deep after
/// a frame-pointer or scanned frame, always reaches the return address.
pub(crate) fn frame_size(os: OsFlavor, rng: &mut ChaCha8Rng) -> u64 {
    match os.arch() {
        Arch::Amd64 => rng.random_range(2u64..=16) * 16,
        Arch::X86 => rng.random_range(3u64..=32) * 4,
        // sp stays 16-aligned; at most 256 bytes, so a scan (40 words) reaches the frame record.
        Arch::Arm64 => rng.random_range(2u64..=16) * 16,
    }
}

fn generate_lines(
    rng: &mut ChaCha8Rng,
    rva: u64,
    size: u64,
    main_file: u32,
    file_count: u32,
) -> Vec<LineRecord> {
    let mut lines = Vec::new();
    let mut at = rva;
    let mut line = rng.random_range(1u32..=3000);
    while at < rva + size {
        let len = rng.random_range(2u64..=0x30).min(rva + size - at);
        let file = if rng.random_bool(0.1) {
            rng.random_range(0..file_count)
        } else {
            main_file
        };
        lines.push(LineRecord {
            rva: at,
            size: len,
            line,
            file,
        });
        at += len;
        line += rng.random_range(0u32..=6);
    }
    lines
}

/// Up to two non-overlapping depth-0 inline ranges, each possibly holding nested deeper ones.
fn generate_inlines(
    rng: &mut ChaCha8Rng,
    rva: u64,
    size: u64,
    file_count: u32,
    origin_count: u32,
) -> Vec<InlineRecord> {
    let mut out = Vec::new();
    // Leave the first 0x10 bytes (the prologue) free of inlines.
    let usable_start = rva + 0x10;
    let half = (size - 0x10) / 2;
    for slot in 0..2 {
        if slot == 1 && !rng.random_bool(0.5) {
            break;
        }
        let slot_start = usable_start + slot * half;
        let start = slot_start + rng.random_range(0..half / 4 + 1);
        let len = rng
            .random_range(half / 4..=half - (start - slot_start))
            .max(1);
        let mut range = (start, len);
        let mut depth = 0;
        loop {
            out.push(InlineRecord {
                depth,
                call_line: rng.random_range(1u32..=3000),
                call_file: rng.random_range(0..file_count),
                origin: rng.random_range(0..origin_count),
                rva: range.0,
                size: range.1,
            });
            if depth >= 3 || range.1 < 4 || !rng.random_bool(0.5) {
                break;
            }
            let inner_start = range.0 + rng.random_range(0..range.1 / 2);
            let inner_len = rng.random_range(1..=range.0 + range.1 - inner_start);
            range = (inner_start, inner_len);
            depth += 1;
        }
    }
    out.sort_by_key(|i| (i.depth, i.rva));
    out
}
