//! Carrying out a profile's `crashing_stack` recipe on a program: a library without symbols
//! named from siggen's lists, and one function per named recipe frame, chosen, named and given
//! a source file (and, for `inlined-prefix`, an inline chain around a fixed address)
//! ([`dress_program`]); then each crash's crashing thread starts in those places
//! ([`plan_crashing_stack`]). Names never change an address, so the stack layout (and with it
//! every frame's trust) is the same as for synthetic names.
//!
//! Everything the `.sym` files show is decided per program, never per crash: a symbol server
//! keeps one `.sym` per debug id, so every crash of a program must agree with that one file.
//! The draws are seeded from the program's own identity ([`program_key`]), not the crash seed,
//! so each crash of a program (each `Crash::of_program` over a clone of it) dresses it the same
//! way, and profiles without a recipe draw exactly what they always drew.

use std::collections::BTreeSet;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::crash::SymbolState;
use crate::exception::ExceptionSpec;
use crate::frames::{FrameSite, Location, pick_code_site};
use crate::ids::{self, CodeView};
use crate::profile::{Arch, OperatingSystem, OsFlavor, Profile};
use crate::program::{InlineRecord, Program};
use crate::siglist_names::{POOLS, is_ordinary_function};
use crate::stack_recipe::{FrameKind, RecipeException};
use crate::symbol_names;

/// `EXCEPTION_IN_PAGE_ERROR` and the NTSTATUS a failing disk gives it.
const EXCEPTION_IN_PAGE_ERROR: u32 = 0xC000_0006;
const STATUS_DEVICE_DATA_ERROR: u64 = 0xC000_009C;

/// Where one recipe frame of a program lies, the same for every crash of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Anywhere in the library without symbols.
    Bare { module: usize },
    /// In this dressed function; at `pinned` (an rva) when an inline chain surrounds it.
    Function {
        module: usize,
        function: usize,
        pinned: Option<u64>,
    },
    /// The program has no place for the frame (no library to strip, no free function): an
    /// ordinary frame stands in.
    Anywhere,
}

/// The places of a program's recipe frames, from the top of the crashing thread down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecipeSites(Vec<Slot>);

/// A stable 64-bit digest (FNV-1a) of what makes the program itself: its modules' paths,
/// identities and places. Two crashes of one program share it; two programs practically never.
fn program_key(program: &Program) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(program.os.as_str().as_bytes());
    for m in &program.modules {
        feed(m.code_file.as_bytes());
        feed(m.debug_id().unwrap_or_default().as_bytes());
        feed(&m.base.to_le_bytes());
        feed(&m.size.to_le_bytes());
        feed(&m.time_date_stamp.to_le_bytes());
        feed(&(m.functions.len() as u64).to_le_bytes());
    }
    hash
}

/// Dresses `program` for the profile's recipe (nothing without one) and says where each recipe
/// frame lies. A function of the profile and the program alone, so every crash of one program
/// writes the same `.sym` files.
pub(crate) fn dress_program(profile: &Profile, program: &mut Program) -> Option<RecipeSites> {
    let recipe = profile.crashing_stack.as_ref()?;
    let key = program_key(program);
    prepare_program(profile, program, key);
    let states = crate::crash::symbol_states(profile, program);
    let unsymbolized = states.iter().rposition(|s| *s == SymbolState::Absent);
    let mut rng = crate::rng_for(key, b"recipe-names");
    let os = program.os;
    let mut used = BTreeSet::new();
    let mut slots = Vec::with_capacity(recipe.top.len());
    for kind in &recipe.top {
        let slot = match (kind, unsymbolized) {
            (FrameKind::Unsymbolized, Some(module)) => Slot::Bare { module },
            (FrameKind::Unsymbolized, None) => Slot::Anywhere,
            _ => match fresh_function(program, &states, &mut rng, &mut used) {
                Some((module, function)) => {
                    let pinned = dress_function(os, program, module, function, kind, &mut rng);
                    Slot::Function {
                        module,
                        function,
                        pinned,
                    }
                }
                None => Slot::Anywhere,
            },
        };
        slots.push(slot);
    }
    Some(RecipeSites(slots))
}

/// Turns the program's last library into a system library without symbols, named from the
/// prefix list for the OS, when the recipe has frames there.
fn prepare_program(profile: &Profile, program: &mut Program, key: u64) {
    let Some(recipe) = &profile.crashing_stack else {
        return;
    };
    if !recipe.needs_unsymbolized_module() || program.modules.len() < 2 {
        return;
    }
    let os = program.os.os();
    let suffix_fits = |name: &&String| match os {
        OperatingSystem::Linux | OperatingSystem::Android => name.ends_with(".so"),
        OperatingSystem::Windows => name.ends_with(".dll"),
        OperatingSystem::Mac => name.ends_with(".dylib") || name.as_str() == "XUL",
    };
    // Module basenames are unique in a program (Android already maps a libc.so).
    let taken = |name: &&String| {
        program
            .modules
            .iter()
            .any(|m| m.filename() == name.as_str())
    };
    let candidates: Vec<&String> = POOLS
        .prefix_modules
        .iter()
        .filter(suffix_fits)
        .filter(|name| !taken(name))
        .collect();
    if candidates.is_empty() {
        return;
    }
    let mut rng = crate::rng_for(key, b"recipe-module");
    let name = candidates[rng.random_range(0..candidates.len())].clone();
    let module = program.modules.last_mut().expect("two modules");
    // The library stays where the flavour keeps its libraries; only its name changes.
    let directory_len = module.code_file.len() - module.filename().len();
    module.code_file = format!("{}{name}", &module.code_file[..directory_len]);
    if let CodeView::Pdb70 { pdb_name, .. } = &mut module.codeview {
        *pdb_name = match os {
            OperatingSystem::Mac => name.clone(),
            _ => {
                let stem = name
                    .rsplit_once('.')
                    .map_or(name.as_str(), |(stem, _)| stem);
                format!("{stem}.pdb")
            }
        };
    }
    module.has_symbols = false;
}

/// A function with symbols that no other recipe frame uses.
fn fresh_function(
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
    used: &mut BTreeSet<(usize, usize)>,
) -> Option<(usize, usize)> {
    let free: Vec<(usize, usize)> = program
        .modules
        .iter()
        .enumerate()
        .filter(|(index, _)| states[*index] == SymbolState::Good)
        .flat_map(|(module, m)| (0..m.functions.len()).map(move |function| (module, function)))
        .filter(|key| !used.contains(key))
        .collect();
    if free.is_empty() {
        return None;
    }
    let chosen = free[rng.random_range(0..free.len())];
    used.insert(chosen);
    Some(chosen)
}

/// Names one function for its recipe frame and gives it a source file of its own; for
/// `inlined-prefix`, also the inline chain, around the rva it returns (every crash's frame
/// lies there, inside the innermost range).
fn dress_function(
    os: OsFlavor,
    program: &mut Program,
    module: usize,
    function: usize,
    kind: &FrameKind,
    rng: &mut ChaCha8Rng,
) -> Option<u64> {
    let m = &mut program.modules[module];
    let rust = matches!(kind, FrameKind::RustLegacy | FrameKind::RustV0);
    let file = add_source_file(os, &mut m.files, &m.code_file, rng, rust);
    let f = &mut m.functions[function];
    f.name = function_name(kind, rng);
    for line in &mut f.lines {
        line.file = file;
    }
    f.inlines.clear();
    let FrameKind::InlinedPrefix(depth) = kind else {
        return None;
    };
    let mut rva = f.rva + rng.random_range(0x10..f.size);
    if os.arch() == Arch::Arm64 {
        // Where plan_thread puts an ARM64 frame: on its instruction's 4-byte boundary (function
        // starts are 16-byte aligned, so this stays 0x10 clear of the start).
        rva &= !3;
    }
    let (function_rva, function_size) = (f.rva, f.size);
    let first_origin = m.inline_origins.len() as u32;
    for _ in 0..*depth {
        m.inline_origins
            .push(pick_name(&POOLS.prefix_functions, rng));
    }
    m.functions[function].inlines = inline_chain(
        function_rva,
        function_size,
        rva,
        *depth,
        first_origin,
        file,
        rng,
    );
    Some(rva)
}

/// The crashing thread's frames: the recipe's top frames where the program's [`RecipeSites`]
/// put them (a random instruction of each function or of the library without symbols, except
/// where an inline chain fixes it), then ordinary frames up to the profile's frame count.
pub(crate) fn plan_crashing_stack(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    sites: &RecipeSites,
    rng: &mut ChaCha8Rng,
) -> Vec<FrameSite> {
    let drawn = rng.random_range(profile.frames_per_thread.min()..=profile.frames_per_thread.max())
        as usize;
    let mut frames = Vec::with_capacity(drawn.max(sites.0.len()));
    for slot in &sites.0 {
        frames.push(match *slot {
            Slot::Bare { module } => {
                let m = &program.modules[module];
                FrameSite {
                    location: Location::Bare { module },
                    instruction: m.base + rng.random_range(0x1000..u64::from(m.size) - 0x1000),
                    frame_size: crate::program::frame_size(program.os, rng),
                }
            }
            Slot::Function {
                module,
                function,
                pinned,
            } => {
                let m = &program.modules[module];
                let f = &m.functions[function];
                let rva = pinned.unwrap_or_else(|| f.rva + rng.random_range(0x10..f.size));
                FrameSite {
                    location: Location::Function { module, function },
                    instruction: m.base + rva,
                    frame_size: f.frame_size,
                }
            }
            Slot::Anywhere => pick_code_site(profile, program, states, rng),
        });
    }
    while frames.len() < drawn {
        frames.push(pick_code_site(profile, program, states, rng));
    }
    frames
}

fn function_name(kind: &FrameKind, rng: &mut ChaCha8Rng) -> String {
    match kind {
        FrameKind::Irrelevant => pick_name(&POOLS.irrelevant_functions, rng),
        FrameKind::Prefix => pick_name(&POOLS.prefix_functions, rng),
        FrameKind::Sentinel => pick_name(&POOLS.sentinel_functions, rng),
        FrameKind::RustLegacy => symbol_names::rust_legacy_function(rng),
        FrameKind::RustV0 => symbol_names::rust_v0_function(rng),
        FrameKind::Literal(name) => name.clone(),
        FrameKind::Cpp | FrameKind::InlinedPrefix(_) | FrameKind::Unsymbolized => {
            // A template can happen to start like a list entry (`std::list<…>::`); draw again
            // so a `cpp` frame always ends the signature's walk.
            loop {
                let name = symbol_names::cpp_function(rng);
                if is_ordinary_function(&name) {
                    break name;
                }
            }
        }
    }
}

fn pick_name(pool: &[String], rng: &mut ChaCha8Rng) -> String {
    pool[rng.random_range(0..pool.len())].clone()
}

/// Appends a source file of its own for a dressed function; its id.
fn add_source_file(
    os: OsFlavor,
    files: &mut Vec<String>,
    code_file: &str,
    rng: &mut ChaCha8Rng,
    rust: bool,
) -> u32 {
    let module = ids::basename(code_file)
        .split('.')
        .next()
        .unwrap_or("module");
    let word = crate::names::pick(rng, crate::names::WORDS);
    let ext = if rust { "rs" } else { "cpp" };
    let id = files.len();
    files.push(if os.is_windows() {
        format!(r"c:\build\src\{module}\{word}_recipe{id}.{ext}")
    } else {
        format!("/build/src/{module}/{word}_recipe{id}.{ext}")
    });
    id as u32
}

/// `depth` nested inline ranges (depth 0 outermost) around `rva`, each inside the one above and
/// clear of the function's first 0x10 bytes, calling from `file`.
fn inline_chain(
    function_rva: u64,
    function_size: u64,
    rva: u64,
    depth: u32,
    first_origin: u32,
    file: u32,
    rng: &mut ChaCha8Rng,
) -> Vec<InlineRecord> {
    let start_limit = function_rva + 0x10;
    let end_limit = function_rva + function_size;
    (0..depth)
        .map(|level| {
            let margin = u64::from(depth - level);
            let start = rva.saturating_sub(margin).max(start_limit);
            let end = (rva + 1 + margin).min(end_limit);
            InlineRecord {
                depth: level,
                call_line: rng.random_range(1u32..=3000),
                call_file: file,
                origin: first_origin + level,
                rva: start,
                size: end - start,
            }
        })
        .collect()
}

/// The crashing thread: the one drawn, or the last one instead of the main thread when the
/// recipe keeps the crash off the main thread.
pub(crate) fn crashing_thread(profile: &Profile, drawn: usize, thread_count: usize) -> usize {
    let off_main = profile
        .crashing_stack
        .as_ref()
        .is_some_and(|recipe| recipe.off_main_thread);
    if off_main && drawn == 0 && thread_count > 1 {
        thread_count - 1
    } else {
        drawn
    }
}

/// The recipe's exception, when it has one, for a crash at `pc` touching `fault`.
pub(crate) fn recipe_exception(profile: &Profile, pc: u64, fault: u64) -> Option<ExceptionSpec> {
    match profile.crashing_stack.as_ref()?.exception? {
        RecipeException::InPageDeviceError => Some(ExceptionSpec {
            code: EXCEPTION_IN_PAGE_ERROR,
            flags: 0,
            record_address: pc,
            // Read access, the address, the NTSTATUS of the failed paging I/O.
            parameters: vec![0, fault, STATUS_DEVICE_DATA_ERROR],
            crash_address: fault,
            reason: "EXCEPTION_IN_PAGE_ERROR_READ / STATUS_DEVICE_DATA_ERROR".to_string(),
        }),
    }
}
