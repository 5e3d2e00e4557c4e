//! Stack layout for ARM64 (every OS): turns a planned call chain into stack memory, `sp`/`x29`
//! and the trust of every frame that minidump-unwind 0.27's arm64 walker (`src/arm64.rs`) must
//! recover. The amd64 counterpart is [`crate::stack`]; the walker has no OS-specific rules, so one
//! layout serves Linux, Android, macOS and Windows.
//!
//! Frame `k` owns `frame_size` bytes (a multiple of 16) from its stack pointer `sp_k`; its top 16
//! bytes are the frame record `stp x29, x30` writes: the caller's `x29` and the return address
//! into frame `k + 1`. So `sp_{k+1} = sp_k + frame_size`, and a frame pointer that points at the
//! record unwinds to exactly that `sp`. The walker tries, in order, and the layout forces which
//! one succeeds:
//!
//! 1. **cfi** when the frame's code has STACK CFI (`.cfa: sp <frame_size> + .ra: .cfa -8 + ^
//!    x29: .cfa -16 + ^`). Only `sp` is needed, so this works after a scan too, and it restores
//!    the caller's `x29` from the record.
//! 2. **frame_pointer** when the walker knows the frame's `x29` and it points at the record.
//!    The arm64 walker validates nothing but the caller's pc (canonical, not in the first page),
//!    so a known `x29` that must *not* be used is 0: the walker then reads pc 0 and gives up.
//! 3. **scan**: the return address is the first word at or above `sp_k` inside a module (every
//!    other word is zero or a stack address). A scanned frame has no `x29` (the scanner restores
//!    only pc and sp), so its caller is found by CFI or by scanning again.
//!
//! The walk ends at the last frame, whose record holds zeros: CFI yields pc 0, the frame pointer
//! yields pc 0 (refused) and a scan finds only zeros up to the end of the stack memory.
//!
//! A caller's frame is reported at `return address - 4` (arm64 instructions are 4 bytes), where
//! x86 reports `return address - 1`.

use crate::stack::{LaidOutStack, PlannedFrame, StackMemory, Trust, stack_pointers, trust_chain};

/// Space below the first frame (the crashing function was using it).
const RED_ZONE: u64 = 0x80;
/// Zeros above the last frame, so a scan from it finds nothing before the memory ends.
const DEAD_ZONE: u64 = 0x100;

/// Chooses transitions (frame pointer vs. scan where the callee has no CFI but a known `x29`) from
/// `choose_fp`, as the amd64 layout does ([`trust_chain`]: after a scan `x29` is unknown), then
/// writes the stack. `choose_fp(k)` is asked only where both are possible.
pub fn lay_out(
    frames: &[PlannedFrame],
    stack_base: u64,
    choose_fp: impl FnMut(usize) -> bool,
) -> LaidOutStack {
    assert!(!frames.is_empty(), "a thread has at least one frame");
    assert!(
        frames
            .iter()
            .all(|f| f.frame_size >= 16 && f.frame_size.is_multiple_of(16)),
        "arm64 frames hold a 16-byte frame record and keep sp 16-aligned"
    );
    let n = frames.len();
    let trust = trust_chain(frames, choose_fp);
    let (sp, top) = stack_pointers(stack_base + RED_ZONE, frames.iter().map(|f| f.frame_size));
    let end = top + DEAD_ZONE;
    let record = |k: usize| sp[k] + frames[k].frame_size - 16;
    // x29 of frame k as the walker sees it: pointing at its record, unless the step out of it
    // must not use the frame pointer (then 0, which the walker refuses).
    let fp = |k: usize| {
        if k + 1 < n && trust[k + 1] == Trust::Scan {
            0
        } else {
            record(k)
        }
    };

    let mut memory = StackMemory::zeroed(stack_base, end);
    for k in 0..n - 1 {
        memory.put_u64(record(k), fp(k + 1));
        memory.put_u64(record(k) + 8, frames[k + 1].pc);
    }
    LaidOutStack {
        memory_base: stack_base,
        rsp: sp[0],
        rbp: fp(0),
        memory: memory.bytes,
        trust,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::tests::{frame, read_u64 as read};

    #[test]
    fn scan_is_sticky_until_cfi_restores_x29() {
        let frames = [
            frame(0x1000, false),
            frame(0x2000, false),
            frame(0x3000, true),
            frame(0x4000, false),
            frame(0x5000, false),
        ];
        let laid = lay_out(&frames, 0x10_0000, |k| k != 1);
        assert_eq!(
            laid.trust,
            [
                Trust::Context,
                Trust::FramePointer,
                Trust::Scan,
                Trust::Cfi,
                Trust::FramePointer
            ]
        );
        // Frame 1 must not be unwound by its frame pointer: the record that restores it says 0.
        assert_eq!(read(&laid, laid.rbp), 0);
        assert_eq!(read(&laid, laid.rbp + 8), 0x2000);
    }

    #[test]
    fn frame_records_chain_to_the_callers_and_end_in_zeros() {
        let frames = [
            frame(0x1000, false),
            frame(0x2000, false),
            frame(0x3000, false),
        ];
        let laid = lay_out(&frames, 0x10_0000, |_| true);
        assert_eq!(
            laid.trust,
            [Trust::Context, Trust::FramePointer, Trust::FramePointer]
        );
        assert_eq!(laid.rbp, laid.rsp + 0x40 - 16);
        let fp1 = read(&laid, laid.rbp);
        assert_eq!(
            fp1,
            laid.rsp + 0x80 - 16,
            "x29 of frame 1 is its own record"
        );
        assert_eq!(read(&laid, fp1 + 8), 0x3000);
        let fp2 = read(&laid, fp1);
        assert_eq!((read(&laid, fp2), read(&laid, fp2 + 8)), (0, 0));
    }
}
