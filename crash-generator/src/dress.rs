//! Carrying out a profile's `crashing_stack` recipe: a library without symbols named from
//! siggen's lists ([`prepare_program`], before the crash is planned), the crashing thread's top
//! frames placed in functions of their own or in that library ([`plan_crashing_stack`]), then
//! those functions named and given source files and inline chains ([`dress_program`]) once the
//! stack is laid out. Names never change an address, so the stack layout (and with it every
//! frame's trust) is the same as for synthetic names; the `.sym` files and the truth are both
//! written from the dressed program afterwards, so they agree.
//!
//! Each step draws from its own seeded stream (`rng_for(seed, b"recipe-…")`): the recipe is
//! deterministic, and profiles without one draw exactly what they always drew.

use std::collections::BTreeSet;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::crash::SymbolState;
use crate::exception::ExceptionSpec;
use crate::frames::{FrameSite, Location, pick_code_site};
use crate::ids::{self, CodeView};
use crate::profile::{OperatingSystem, OsFlavor, Profile};
use crate::program::{InlineRecord, Program};
use crate::siglist_names::{POOLS, is_ordinary_function};
use crate::stack_recipe::{FrameKind, RecipeException};
use crate::symbol_names;

/// `EXCEPTION_IN_PAGE_ERROR` and the NTSTATUS a failing disk gives it.
const EXCEPTION_IN_PAGE_ERROR: u32 = 0xC000_0006;
const STATUS_DEVICE_DATA_ERROR: u64 = 0xC000_009C;

/// Turns the program's last library into a system library without symbols, named from the
/// prefix list for the OS, when the recipe has frames there.
pub(crate) fn prepare_program(profile: &Profile, program: &mut Program, seed: u64) {
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
    let mut rng = crate::rng_for(seed, b"recipe-module");
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

/// The crashing thread's frames: the recipe's top frames (each named function in a function of
/// its own, each `unsymbolized` frame in the library [`prepare_program`] stripped), then
/// ordinary frames up to the profile's frame count.
pub(crate) fn plan_crashing_stack(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
) -> Vec<FrameSite> {
    let recipe = profile.crashing_stack.as_ref().expect("a recipe");
    let drawn = rng.random_range(profile.frames_per_thread.min()..=profile.frames_per_thread.max())
        as usize;
    let unsymbolized = states.iter().rposition(|s| *s == SymbolState::Absent);
    let mut used = BTreeSet::new();
    let mut frames = Vec::with_capacity(drawn.max(recipe.top.len()));
    for kind in &recipe.top {
        let site = match (kind, unsymbolized) {
            (FrameKind::Unsymbolized, Some(module)) => {
                let m = &program.modules[module];
                Some(FrameSite {
                    location: Location::Bare { module },
                    instruction: m.base + rng.random_range(0x1000..u64::from(m.size) - 0x1000),
                    frame_size: crate::program::frame_size(program.os, rng),
                })
            }
            (FrameKind::Unsymbolized, None) => None,
            _ => fresh_function_site(program, states, rng, &mut used),
        };
        frames.push(site.unwrap_or_else(|| pick_code_site(profile, program, states, rng)));
    }
    while frames.len() < drawn {
        frames.push(pick_code_site(profile, program, states, rng));
    }
    frames
}

/// A site in a function with symbols that no other recipe frame uses.
fn fresh_function_site(
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
    used: &mut BTreeSet<(usize, usize)>,
) -> Option<FrameSite> {
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
    let (module, function) = free[rng.random_range(0..free.len())];
    used.insert((module, function));
    let m = &program.modules[module];
    let f = &m.functions[function];
    Some(FrameSite {
        location: Location::Function { module, function },
        instruction: m.base + f.rva + rng.random_range(0x10..f.size),
        frame_size: f.frame_size,
    })
}

/// Names the functions under the recipe's top frames of `frames` (the crashing thread's).
pub(crate) fn dress_program(
    profile: &Profile,
    program: &mut Program,
    frames: &[FrameSite],
    seed: u64,
) {
    let Some(recipe) = &profile.crashing_stack else {
        return;
    };
    let mut rng = crate::rng_for(seed, b"recipe-names");
    let os = program.os;
    let mut named = BTreeSet::new();
    for (kind, site) in recipe.top.iter().zip(frames) {
        let Location::Function { module, function } = site.location else {
            continue;
        };
        if !kind.is_function() || !named.insert((module, function)) {
            continue;
        }
        let m = &mut program.modules[module];
        let rva = site.instruction - m.base;
        let rust = matches!(kind, FrameKind::RustLegacy | FrameKind::RustV0);
        let file = add_source_file(os, &mut m.files, &m.code_file, &mut rng, rust);
        let f = &mut m.functions[function];
        f.name = function_name(kind, &mut rng);
        for line in &mut f.lines {
            line.file = file;
        }
        f.inlines.clear();
        if let FrameKind::InlinedPrefix(depth) = kind {
            let first_origin = m.inline_origins.len() as u32;
            for _ in 0..*depth {
                m.inline_origins
                    .push(pick_name(&POOLS.prefix_functions, &mut rng));
            }
            let f = &mut m.functions[function];
            f.inlines = inline_chain(f.rva, f.size, rva, *depth, first_origin, file, &mut rng);
        }
    }
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
