//! Stack layout for 32-bit x86 (`windows-x86`, `linux-x86`, `mac-x86`): turns a planned call chain into
//! stack memory, `esp`/`ebp` and the trust of every frame that minidump-unwind 0.27's x86 walker
//! (`src/x86.rs`) must recover. The amd64 counterpart is [`crate::stack`].
//!
//! Frame `k` starts at `sp_k` and holds, from low to high addresses: the arguments it pushed for
//! its callee (`args_size`, the callee's parameter size as the processor symbolizes it), its own
//! locals and saved registers, the saved-`ebp` slot and the return address into frame `k + 1`
//! (`frame_size` bytes from the end of the arguments). So `sp_{k+1} = sp_k + args_size +
//! frame_size`, and `STACK WIN`'s `$esp + locals + saved registers + grand-callee parameters`
//! lands on the return address.
//!
//! The x86 walker tries, in order, and the layout forces which one succeeds:
//!
//! 1. **cfi**: the callee's code has a `STACK WIN` record the walker can evaluate (Windows) or
//!    `STACK CFI` (Linux, macOS: `.cfa: $esp <frame_size> + .ra: .cfa -4 + ^ $ebp: .cfa -8 + ^`).
//!    FrameData (type 4) and FPO without a base pointer need a known callee `ebp`; FPO with one
//!    and STACK CFI do not, and STACK CFI restores `ebp` from the slot below the return address.
//! 2. **frame_pointer**: the callee's `ebp` is known and readable. The x86 walker does not
//!    validate the result, so a known `ebp` that should not be used is set to 0 (unreadable).
//! 3. **scan**: the return address is the first word at or above `sp_k` inside a module. The slot
//!    below it is zero, so the scanner's `ebp` guess fails and the caller's `ebp` is unknown: after
//!    a scan only FPO-with-base-pointer records (cfi) or another scan can find the next caller.
//!
//! The caller's `ebp` after a `STACK WIN` unwind depends on the record ([`CallerEbp`]); after a
//! frame-pointer step it is the saved slot's value. Values are chosen from the outermost frame
//! inwards, so a pass-through (FPO without a base pointer, FrameData from `.raSearch`) carries the
//! caller's requirement down.

use crate::stack::{LaidOutStack, StackMemory, Trust, stack_pointers};
use crate::stack_win::{CallerEbp, StackWin};

/// One frame of a planned x86 call chain, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedX86Frame {
    /// Frame 0: the pc. Callers: the return address.
    pub pc: u32,
    /// Locals, saved registers, the saved-`ebp` slot and the return address (multiple of 4, >= 8).
    pub frame_size: u64,
    /// Arguments this frame pushed for its callee (0 for frame 0).
    pub args_size: u64,
    /// The usable `STACK WIN` record covering the frame's code, if any (Windows).
    pub stack_win: Option<StackWin>,
    /// Whether the frame's code has usable `STACK CFI` (Linux, macOS). The CFA is
    /// `$esp + frame_size`, so such a frame pushes no arguments for its callee: cdecl callers on
    /// those systems keep no parameter size in their symbols (`args_size` is 0).
    pub stack_cfi: bool,
}

/// How the walker gets from frame `k` to `k + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    StackWin(StackWin),
    StackCfi,
    FramePointer,
    Scan,
}

/// Below the first frame: space the thread was using when it stopped.
const RED_ZONE: u64 = 0x40;
/// Zeros above the last frame, so a scan from it finds nothing.
const DEAD_ZONE: u64 = 0x100;

/// Chooses frame-pointer vs. scan steps (where the callee has no usable `STACK WIN` but a known
/// `ebp`) from `choose_fp`, then writes the stack.
pub fn lay_out(
    frames: &[PlannedX86Frame],
    stack_base: u64,
    mut choose_fp: impl FnMut(usize) -> bool,
) -> LaidOutStack {
    assert!(!frames.is_empty(), "a thread has at least one frame");
    let n = frames.len();
    let (sp, top) = stack_pointers(
        stack_base + RED_ZONE,
        frames.iter().map(|f| f.args_size + f.frame_size),
    );
    let end = top + DEAD_ZONE;
    let return_slot = |k: usize| sp[k] + frames[k].args_size + frames[k].frame_size - 4;
    let ebp_slot = |k: usize| return_slot(k) - 4;

    // Forward: the step out of each frame, given whether its ebp is known to the walker.
    let mut known_ebp = vec![true; n];
    let mut steps = Vec::with_capacity(n.saturating_sub(1));
    let mut trust = Vec::with_capacity(n);
    trust.push(Trust::Context);
    for k in 0..n - 1 {
        let step = match frames[k].stack_win {
            Some(win) if known_ebp[k] || !win.needs_callee_ebp() => Step::StackWin(win),
            _ if frames[k].stack_cfi => {
                debug_assert_eq!(frames[k].args_size, 0, "STACK CFI frames push no arguments");
                Step::StackCfi
            }
            _ if known_ebp[k] && choose_fp(k) => Step::FramePointer,
            _ => Step::Scan,
        };
        // Every STACK WIN kind leaves the caller's ebp known (see `CallerEbp`).
        known_ebp[k + 1] = step != Step::Scan;
        trust.push(match step {
            Step::StackWin(_) | Step::StackCfi => Trust::Cfi,
            Step::FramePointer => Trust::FramePointer,
            Step::Scan => Trust::Scan,
        });
        steps.push(step);
    }

    // Backward: the ebp value each frame must hold for its own step.
    let mut ebp = vec![0u64; n];
    ebp[n - 1] = ebp_slot(n - 1);
    for k in (0..n - 1).rev() {
        ebp[k] = match steps[k] {
            Step::Scan => 0,
            Step::StackWin(win) if win.caller_ebp() == CallerEbp::PassedThrough => ebp[k + 1],
            Step::StackWin(_) | Step::StackCfi | Step::FramePointer => ebp_slot(k),
        };
    }

    let mut memory = StackMemory::zeroed(stack_base, end);
    // x86 words are 4 bytes; every address here is below 4 GiB.
    let mut put = |address: u64, value: u64| memory.put_u32(address, value as u32);
    for k in 0..n - 1 {
        put(return_slot(k), u64::from(frames[k + 1].pc));
        let caller_ebp = ebp[k + 1];
        match steps[k] {
            Step::FramePointer | Step::StackCfi => put(ebp_slot(k), caller_ebp),
            Step::StackWin(win) => match win.caller_ebp() {
                CallerEbp::BelowReturnAddress => put(ebp_slot(k), caller_ebp),
                CallerEbp::SavedAt { offset } => {
                    put(sp[k] + frames[k].args_size + offset, caller_ebp);
                }
                CallerEbp::PassedThrough => {}
            },
            // The scanner would take a plausible stack address below the return address as
            // the caller's ebp; leave it zero.
            Step::Scan => {}
        }
    }
    LaidOutStack {
        memory_base: stack_base,
        rsp: sp[0],
        rbp: ebp[0],
        memory: memory.bytes,
        trust,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack_win::StackWinKind;

    fn frame(pc: u32, stack_win: Option<StackWinKind>) -> PlannedX86Frame {
        PlannedX86Frame {
            pc,
            frame_size: 0x20,
            args_size: 0,
            stack_win: stack_win.map(|kind| StackWin {
                kind,
                saved_register_size: 8,
            }),
            stack_cfi: false,
        }
    }

    #[test]
    fn after_a_scan_only_fpo_with_a_base_pointer_is_cfi() {
        let frames = [
            frame(0x1000, None),
            frame(0x2000, Some(StackWinKind::FrameDataEbp)),
            frame(0x3000, Some(StackWinKind::FpoSavedEbp)),
            frame(0x4000, None),
        ];
        let laid = lay_out(&frames, 0x10_0000, |_| false);
        assert_eq!(
            laid.trust,
            [Trust::Context, Trust::Scan, Trust::Scan, Trust::Cfi]
        );
        assert_eq!(laid.rbp, 0);
    }

    #[test]
    fn fpo_passes_the_callers_frame_pointer_through() {
        let frames = [
            frame(0x1000, Some(StackWinKind::Fpo)),
            frame(0x2000, None),
            frame(0x3000, None),
        ];
        let laid = lay_out(&frames, 0x10_0000, |_| true);
        assert_eq!(
            laid.trust,
            [Trust::Context, Trust::Cfi, Trust::FramePointer]
        );
        let read = |a: u64| {
            let at = (a - laid.memory_base) as usize;
            u32::from_le_bytes(laid.memory[at..at + 4].try_into().unwrap())
        };
        // Frame 0's ebp is frame 1's: it points at frame 1's saved-ebp slot.
        assert_eq!(laid.rbp, laid.rsp + 0x20 + 0x20 - 8);
        assert_eq!(read(laid.rbp + 4), 0x3000);
        assert_eq!(read(laid.rsp + 0x20 - 4), 0x2000);
    }

    #[test]
    fn stack_cfi_works_after_a_scan_and_restores_ebp() {
        let mut frames = [
            frame(0x1000, None),
            frame(0x2000, None),
            frame(0x3000, None),
            frame(0x4000, None),
        ];
        frames[1].stack_cfi = true;
        let laid = lay_out(&frames, 0x10_0000, |_| true);
        // Frame 0 -> 1 by frame pointer, 1 -> 2 by CFI, which leaves ebp known for 2 -> 3.
        assert_eq!(
            laid.trust,
            [
                Trust::Context,
                Trust::FramePointer,
                Trust::Cfi,
                Trust::FramePointer
            ]
        );
        let laid = lay_out(&frames, 0x10_0000, |_| false);
        assert_eq!(
            laid.trust,
            [Trust::Context, Trust::Scan, Trust::Cfi, Trust::Scan]
        );
    }
}
