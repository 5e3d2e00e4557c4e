//! Call chains: where each frame of a thread lies (a FUNC, a PUBLIC-only region, code without
//! symbols, an unloaded module) and how the chain is handed to the stack layout of the
//! flavour's CPU ([`crate::stack`], [`crate::stack_x86`], [`crate::stack_arm64`]).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::crash::SymbolState;
use crate::dress::RecipeSites;
use crate::profile::{Arch, OsFlavor, Profile};
use crate::program::Program;
use crate::stack::{self, LaidOutStack, PlannedFrame};
use crate::stack_arm64;
use crate::stack_win::StackWin;
use crate::stack_x86::{self, PlannedX86Frame};

/// Where a frame's instruction lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// In a FUNC of `module`.
    Function { module: usize, function: usize },
    /// In a PUBLIC-only region of `module`.
    Public { module: usize, public: usize },
    /// In a module that has no usable symbols.
    Bare { module: usize },
    /// In an unloaded module (frame 0 of a non-crashing thread only).
    Unloaded { unloaded: usize },
}

/// One frame of a thread's call chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSite {
    pub location: Location,
    /// The instruction the processor must report: the pc for frame 0, the call instruction for
    /// callers (return address - 1 on x86 and x86-64, return address - 4 on ARM64).
    pub instruction: u64,
    pub frame_size: u64,
}

/// The call chain of one thread, innermost first: an ordinary one or a runaway recursion.
pub fn plan_thread(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    recipe: Option<&RecipeSites>,
    rng: &mut ChaCha8Rng,
    is_crashing: bool,
) -> Vec<FrameSite> {
    let mut frames = if is_crashing && profile.stack_overflow {
        plan_recursion(profile, program, states, rng)
    } else if is_crashing && let Some(sites) = recipe {
        crate::dress::plan_crashing_stack(profile, program, states, sites, rng)
    } else {
        plan_frames(profile, program, states, rng, is_crashing)
    };
    match program.os.arch() {
        Arch::Amd64 => {}
        Arch::X86 => avoid_leftover_return_address(profile, program, states, rng, &mut frames),
        // Instructions are 4 bytes; an aligned call keeps its return address (call + 4) inside
        // the function, since sites lie at least 0x10 bytes before a function's end.
        Arch::Arm64 => {
            for f in &mut frames {
                f.instruction &= !3;
            }
        }
    }
    frames
}

/// The return address that makes the processor report `frame` (a caller) at its instruction.
pub fn return_address(os: OsFlavor, frame: &FrameSite) -> u64 {
    match os.arch() {
        Arch::Amd64 | Arch::X86 => frame.instruction + 1,
        Arch::Arm64 => frame.instruction + 4,
    }
}

/// Lays the chain out on a stack at `stack_base` with the flavour's layout; `rng` picks frame
/// pointer or scan wherever both would work.
pub fn lay_out_thread(
    program: &Program,
    states: &[SymbolState],
    frames: &[FrameSite],
    stack_base: u64,
    rng: &mut ChaCha8Rng,
) -> LaidOutStack {
    let os = program.os;
    match os.arch() {
        Arch::Amd64 | Arch::Arm64 => {
            let planned: Vec<PlannedFrame> = frames
                .iter()
                .enumerate()
                .map(|(k, f)| PlannedFrame {
                    pc: if k == 0 {
                        f.instruction
                    } else {
                        return_address(os, f)
                    },
                    frame_size: f.frame_size,
                    has_cfi: has_cfi(program, states, f.location),
                })
                .collect();
            if os.arch() == Arch::Amd64 {
                stack::lay_out(&planned, stack_base, |_| rng.random_bool(0.5))
            } else {
                stack_arm64::lay_out(&planned, stack_base, |_| rng.random_bool(0.5))
            }
        }
        Arch::X86 => {
            let planned = plan_x86(program, states, frames);
            stack_x86::lay_out(&planned, stack_base, |_| rng.random_bool(0.5))
        }
    }
}

fn has_cfi(program: &Program, states: &[SymbolState], location: Location) -> bool {
    match location {
        Location::Function { module, function } => {
            states[module] == SymbolState::Good
                && program.modules[module].functions[function].has_cfi
        }
        Location::Public { module, public } => {
            states[module] == SymbolState::Good && program.modules[module].publics[public].has_cfi
        }
        Location::Bare { .. } | Location::Unloaded { .. } => false,
    }
}

/// The usable STACK WIN record covering a frame's code (x86 Windows).
fn stack_win(program: &Program, states: &[SymbolState], location: Location) -> Option<StackWin> {
    match location {
        Location::Function { module, function } if states[module] == SymbolState::Good => {
            program.modules[module].functions[function].stack_win
        }
        Location::Public { module, public } if states[module] == SymbolState::Good => {
            program.modules[module].publics[public].stack_win
        }
        _ => None,
    }
}

/// The parameter size the processor attributes to a frame once it has symbolized it: the FUNC's
/// (its STACK WIN record says the same), 0 for PUBLIC-only code (our PUBLIC lines say 0) and for
/// code without symbols. The x86 walker adds it to the *caller's* STACK WIN frame size.
fn symbolized_parameter_size(program: &Program, states: &[SymbolState], location: Location) -> u64 {
    match location {
        Location::Function { module, function } if states[module] == SymbolState::Good => {
            u64::from(program.modules[module].functions[function].param_size)
        }
        _ => 0,
    }
}

/// The x86 call chain: pcs, frame sizes, the arguments each caller pushed for its callee and
/// the STACK WIN records the walker will evaluate.
fn plan_x86(
    program: &Program,
    states: &[SymbolState],
    frames: &[FrameSite],
) -> Vec<PlannedX86Frame> {
    frames
        .iter()
        .enumerate()
        .map(|(k, f)| PlannedX86Frame {
            pc: if k == 0 {
                f.instruction as u32
            } else {
                (f.instruction + 1) as u32
            },
            frame_size: f.frame_size,
            args_size: match k {
                0 => 0,
                _ => symbolized_parameter_size(program, states, frames[k - 1].location),
            },
            stack_win: stack_win(program, states, f.location),
            // Only 32-bit Windows code carries STACK WIN; elsewhere unwind info is STACK CFI.
            stack_cfi: has_cfi(program, states, f.location)
                && stack_win(program, states, f.location).is_none(),
        })
        .collect()
}

/// The x86 FPO walker skips a "leftover" return address equal to the context frame's pc (a
/// Breakpad heuristic for FPO system calls); a caller whose return address happens to equal
/// the crashing pc is re-drawn so that the heuristic never fires on a generated stack.
fn avoid_leftover_return_address(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
    frames: &mut [FrameSite],
) {
    while frames.len() > 1 && frames[1].instruction + 1 == frames[0].instruction {
        frames[1] = pick_code_site(profile, program, states, rng);
    }
}

/// A random code location and instruction in a loaded module.
pub(crate) fn pick_code_site(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
) -> FrameSite {
    let module = rng.random_range(0..program.modules.len());
    let m = &program.modules[module];
    let usable = states[module] == SymbolState::Good;
    if !usable && rng.random_bool(0.5) {
        // Code the processor cannot name: anywhere in the module's text.
        let rva = rng.random_range(0x1000..u64::from(m.size) - 0x1000);
        return FrameSite {
            location: Location::Bare { module },
            instruction: m.base + rva,
            frame_size: crate::program::frame_size(program.os, rng),
        };
    }
    if !m.publics.is_empty() && rng.random_bool(profile.public_frame_probability) {
        let public = rng.random_range(0..m.publics.len());
        let p = &m.publics[public];
        return FrameSite {
            location: if usable {
                Location::Public { module, public }
            } else {
                Location::Bare { module }
            },
            instruction: m.base + p.rva + rng.random_range(0x10..p.size),
            frame_size: p.frame_size,
        };
    }
    let function = rng.random_range(0..m.functions.len());
    let f = &m.functions[function];
    FrameSite {
        location: if usable {
            Location::Function { module, function }
        } else {
            Location::Bare { module }
        },
        instruction: m.base + f.rva + rng.random_range(0x10..f.size),
        frame_size: f.frame_size,
    }
}

fn plan_frames(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
    is_crashing: bool,
) -> Vec<FrameSite> {
    let n = rng.random_range(profile.frames_per_thread.min()..=profile.frames_per_thread.max())
        as usize;
    let mut frames = Vec::with_capacity(n);
    if !is_crashing
        && !program.unloaded_modules.is_empty()
        && rng.random_bool(profile.unloaded_frame_probability)
    {
        let unloaded = rng.random_range(0..program.unloaded_modules.len());
        let u = &program.unloaded_modules[unloaded];
        frames.push(FrameSite {
            location: Location::Unloaded { unloaded },
            instruction: u.base + rng.random_range(0..u64::from(u.size)),
            frame_size: crate::program::frame_size(program.os, rng),
        });
    }
    while frames.len() < n {
        frames.push(pick_code_site(profile, program, states, rng));
    }
    frames
}

/// A runaway recursion through one to three functions, under a few ordinary outer frames.
fn plan_recursion(
    profile: &Profile,
    program: &Program,
    states: &[SymbolState],
    rng: &mut ChaCha8Rng,
) -> Vec<FrameSite> {
    let cycle: Vec<FrameSite> = (0..rng.random_range(1usize..=3))
        .map(|_| pick_code_site(profile, program, states, rng))
        .collect();
    let depth = rng.random_range(300usize..=1200);
    let mut frames: Vec<FrameSite> = (0..depth).map(|i| cycle[i % cycle.len()].clone()).collect();
    for _ in 0..rng.random_range(1..=4) {
        frames.push(pick_code_site(profile, program, states, rng));
    }
    frames
}
