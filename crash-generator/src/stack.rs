//! Stack layout: turns a planned call chain into stack memory, a CPU context and the frames (with
//! their trust) that minidump-unwind's amd64 walker must recover.
//!
//! Every frame `k` owns `frame_size` bytes starting at its stack pointer `sp_k`; its last two
//! words hold the caller's saved `rbp` and the return address, so `sp_{k+1} = sp_k + frame_size`.
//! How the walker reaches the caller is forced by what the callee offers, in the walker's order:
//!
//! 1. **cfi** when the callee's code has STACK CFI (`.cfa: $rsp <frame_size> +`, `.ra` and `$rbp`
//!    read from the frame's top two words);
//! 2. **frame_pointer** when the callee's `rbp` points at its saved-rbp slot and the saved value is
//!    a plausible frame pointer for the caller;
//! 3. **scan** otherwise: the return address is the first word above `sp_k` inside a module (all
//!    other words are zero or stack addresses).
//!
//! A frame's `rbp` is therefore chosen by what its *own* caller transition needs: a valid frame
//! pointer (`Valid`), zero (`Null`, fails immediately) or a pointer into an all-zero "dead zone"
//! above the last frame (`Dead`, passes the caller_bp >= caller_sp check of the previous frame-pointer
//! step, then fails; the Windows walker's 15-slot probe also only finds zeros there). After a scan
//! the walker guesses `rbp` itself and never gets a usable frame pointer, so a scanned frame's caller
//! is found by CFI or scanning again. The walk ends at a frame whose return-address slot is zero.

use serde::{Deserialize, Serialize};

/// How the processor found a frame (`trust` in its JSON output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Context,
    Cfi,
    FramePointer,
    Scan,
}

impl Trust {
    /// The processor's spelling (`FrameTrust::as_str`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Context => "context",
            Trust::Cfi => "cfi",
            Trust::FramePointer => "frame_pointer",
            Trust::Scan => "scan",
        }
    }
}

/// One frame of a planned call chain, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFrame {
    /// Frame 0: the pc. Callers: the return address (the call instruction is at `pc - 1`).
    pub pc: u64,
    pub frame_size: u64,
    /// Whether the code at `pc` (at `pc - 1` for callers) is covered by STACK CFI.
    pub has_cfi: bool,
}

/// What the layout produced for one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaidOutStack {
    /// Address of the first byte of `memory`.
    pub memory_base: u64,
    pub memory: Vec<u8>,
    /// Registers of frame 0.
    pub rsp: u64,
    pub rbp: u64,
    /// `trust[k]` is how frame `k` is found.
    pub trust: Vec<Trust>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rbp {
    Valid,
    Null,
    Dead,
}

/// Chooses transitions (frame pointer vs. scan where the callee has no CFI) from `choose_fp`,
/// then writes the stack. `choose_fp(k)` is asked only where both are possible.
pub fn lay_out(
    frames: &[PlannedFrame],
    stack_base: u64,
    choose_fp: impl FnMut(usize) -> bool,
) -> LaidOutStack {
    assert!(!frames.is_empty(), "a thread has at least one frame");
    let n = frames.len();
    let trust = trust_chain(frames, choose_fp);

    const RED_ZONE: u64 = 0x80;
    const DEAD_ZONE: u64 = 0x120;
    let sp0 = stack_base + RED_ZONE;
    let (sp, dead) = stack_pointers(sp0, frames.iter().map(|f| f.frame_size));
    let end = dead + DEAD_ZONE;
    let mut memory = StackMemory::zeroed(stack_base, end);
    let slot_of = |k: usize| sp[k] + frames[k].frame_size - 16;

    // rbp[k]: the value frame k's rbp must hold for the transition k -> k+1.
    let rbp_kind = |k: usize| -> Rbp {
        if k + 1 == n {
            return Rbp::Valid;
        }
        match trust[k + 1] {
            Trust::FramePointer | Trust::Cfi | Trust::Context => Rbp::Valid,
            // A frame found by frame pointer must still look like one (caller_bp >= caller_sp),
            // so its failing pointer aims at the dead zone; otherwise zero.
            Trust::Scan if trust[k] == Trust::FramePointer => Rbp::Dead,
            Trust::Scan => Rbp::Null,
        }
    };
    let rbp_value = |k: usize| match rbp_kind(k) {
        Rbp::Valid => slot_of(k),
        Rbp::Null => 0,
        Rbp::Dead => dead,
    };
    for k in 0..n {
        let (saved_rbp, return_address) = if k + 1 < n {
            let caller_rbp = match trust[k + 1] {
                Trust::Cfi | Trust::FramePointer => rbp_value(k + 1),
                // The scanner guesses rbp on its own; leave the slot empty.
                _ => 0,
            };
            (caller_rbp, frames[k + 1].pc)
        } else {
            (0, 0)
        };
        memory.put_u64(slot_of(k), saved_rbp);
        memory.put_u64(slot_of(k) + 8, return_address);
    }
    LaidOutStack {
        memory_base: stack_base,
        rsp: sp0,
        rbp: rbp_value(0),
        memory: memory.bytes,
        trust,
    }
}

/// How each frame of an amd64 or arm64 chain is found, innermost first: `trust[k + 1]` is the
/// step out of frame `k`. The two walkers share the order: CFI where the callee has it, else
/// the frame pointer where `choose_fp(k)` picks it, else a scan. After a scan the walker has no
/// frame pointer of its own (amd64 guesses `rbp`, the arm64 scanner restores only pc and sp), so
/// only CFI or another scan can follow; `choose_fp(k)` is asked only where both are possible.
pub(crate) fn trust_chain(
    frames: &[PlannedFrame],
    mut choose_fp: impl FnMut(usize) -> bool,
) -> Vec<Trust> {
    let n = frames.len();
    let mut trust = Vec::with_capacity(n);
    trust.push(Trust::Context);
    for k in 0..n - 1 {
        let step = if frames[k].has_cfi {
            Trust::Cfi
        } else if trust[k] == Trust::Scan {
            Trust::Scan
        } else if choose_fp(k) {
            Trust::FramePointer
        } else {
            Trust::Scan
        };
        trust.push(step);
    }
    trust
}

/// The stack pointer of every frame, the first at `first` and each caller's where its callee's
/// `sizes` bytes end, and the address just above the last frame.
pub(crate) fn stack_pointers(first: u64, sizes: impl Iterator<Item = u64>) -> (Vec<u64>, u64) {
    let mut sp = Vec::with_capacity(sizes.size_hint().0);
    let mut cursor = first;
    for size in sizes {
        sp.push(cursor);
        cursor += size;
    }
    (sp, cursor)
}

/// A thread's stack memory from `base` up to an end, all zeros until a layout writes its
/// little-endian words.
pub(crate) struct StackMemory {
    base: u64,
    pub(crate) bytes: Vec<u8>,
}

impl StackMemory {
    pub(crate) fn zeroed(base: u64, end: u64) -> Self {
        StackMemory {
            base,
            bytes: vec![0; (end - base) as usize],
        }
    }

    pub(crate) fn put_u64(&mut self, address: u64, value: u64) {
        self.put(address, &value.to_le_bytes());
    }

    pub(crate) fn put_u32(&mut self, address: u64, value: u32) {
        self.put(address, &value.to_le_bytes());
    }

    fn put(&mut self, address: u64, word: &[u8]) {
        let at = (address - self.base) as usize;
        self.bytes[at..at + word.len()].copy_from_slice(word);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 0x40-byte frame at `pc`, for this layout's tests and the arm64 one's.
    pub(crate) fn frame(pc: u64, has_cfi: bool) -> PlannedFrame {
        PlannedFrame {
            pc,
            frame_size: 0x40,
            has_cfi,
        }
    }

    #[test]
    fn scan_is_sticky_and_cfi_wins() {
        let frames = [
            frame(0x1000, false),
            frame(0x2000, false),
            frame(0x3000, true),
            frame(0x4000, false),
        ];
        let laid = lay_out(&frames, 0x10_0000, |_| false);
        assert_eq!(
            laid.trust,
            [Trust::Context, Trust::Scan, Trust::Scan, Trust::Cfi]
        );
        assert_eq!(laid.rbp, 0);
    }

    #[test]
    fn frame_pointer_chain_points_at_saved_slots() {
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
        let read = |a: u64| read_u64(&laid, a);
        // frame 0's rbp -> saved rbp of frame 1, return address into frame 1
        assert_eq!(read(laid.rbp + 8), 0x2000);
        let rbp1 = read(laid.rbp);
        assert_eq!(rbp1, laid.rsp + 0x40 + 0x30);
        assert_eq!(read(rbp1 + 8), 0x3000);
        assert_eq!(read(read(rbp1) + 8), 0, "walk ends after the last frame");
    }

    /// The 8-byte word the layout wrote at `address`.
    pub(crate) fn read_u64(laid: &LaidOutStack, address: u64) -> u64 {
        let at = (address - laid.memory_base) as usize;
        u64::from_le_bytes(laid.memory[at..at + 8].try_into().unwrap())
    }
}
