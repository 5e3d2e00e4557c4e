//! `STACK WIN` unwind records for 32-bit x86 Windows modules: what each kind says, how it is
//! written into a `.sym` file, and what it needs from and gives to the x86 walker of
//! minidump-unwind 0.27 (`breakpad-symbols`' `walk_with_stack_win_framedata` / `_fpo`).
//!
//! The walker computes `frame_size = local_size + saved_register_size + grand_callee_params`,
//! where the grand callee's parameter size is the one the processor symbolized for the frame
//! below (its `STACK WIN` `parameter_size`, else its `FUNC`/`PUBLIC` one, else 0): those bytes are
//! the callee's arguments, pushed by the caller at the bottom of the caller's frame. A function
//! whose own frame (locals, saved registers, saved `ebp` slot, return address) is `frame_size`
//! bytes gets `local_size + saved_register_size = frame_size - 4`, so `$esp + frame_size` of the
//! walker lands on the return address. [`crate::stack_x86`] lays the stack out to match.

use std::fmt::Write as _;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Which `STACK WIN` record a function carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StackWinKind {
    /// Type 4 (FrameData), the standard `push ebp; mov ebp, esp` prologue:
    /// `$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =`. Needs the callee's `ebp` to
    /// point at its saved-`ebp` slot; restores the caller's `ebp` from it.
    FrameDataEbp,
    /// Type 4 (FrameData) from `.raSearch`: `$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =`.
    /// Needs a known callee `ebp` (the evaluator reads it first). The program does not assign
    /// `$ebp`, and breakpad-symbols 0.27 clears unassigned caller registers under `$`-prefixed
    /// names that never match, so the callee's `ebp` passes through to the caller.
    FrameDataRaSearch,
    /// Type 4 (FrameData) from `.raSearch` that also restores `ebp` from the slot below the
    /// return address: `... $ebp $T0 4 - ^ =`.
    FrameDataRaSearchSavedEbp,
    /// Type 0 (FPO) with `allocates_base_pointer = 1`: the caller's `ebp` is read at
    /// `$esp + grand_callee_params + saved_register_size - 8`. Works without a known `ebp`.
    FpoSavedEbp,
    /// Type 0 (FPO) with `allocates_base_pointer = 0`: `ebp` is untouched, so the caller's is the
    /// callee's (which must be known).
    Fpo,
}

/// How the caller's `ebp` comes out of a `STACK WIN` unwind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerEbp {
    /// Read from the slot just below the return address.
    BelowReturnAddress,
    /// Read from `frame start + args + saved_register_size - 8` (FPO with a base pointer).
    SavedAt { offset: u64 },
    /// The callee's `ebp`, passed through.
    PassedThrough,
}

/// A function's `STACK WIN` record, minus what the function itself supplies (range, parameter
/// size, frame size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackWin {
    pub kind: StackWinKind,
    /// `saved_register_size`; `local_size` is `frame_size - 4 - saved_register_size`.
    pub saved_register_size: u32,
}

/// Bytes of prologue written into each record (not used by the walker).
const PROLOGUE_SIZE: u32 = 6;

impl StackWin {
    /// A random record for a function whose frame is `frame_size` bytes (a multiple of 4, >= 12).
    pub fn generate(rng: &mut ChaCha8Rng, frame_size: u64) -> StackWin {
        let frame_size = frame_size as u32;
        debug_assert!(frame_size >= 12 && frame_size.is_multiple_of(4));
        let kind = match rng.random_range(0u32..20) {
            0..=5 => StackWinKind::FrameDataEbp,
            6..=8 => StackWinKind::FrameDataRaSearch,
            9..=12 => StackWinKind::FrameDataRaSearchSavedEbp,
            13..=16 => StackWinKind::FpoSavedEbp,
            _ => StackWinKind::Fpo,
        };
        // FPO with a base pointer keeps the caller's ebp at saved_register_size - 8, which must
        // lie inside the frame below the saved-ebp slot and the return address.
        let (lowest, highest) = match kind {
            StackWinKind::FpoSavedEbp => (2, (frame_size - 4) / 4),
            _ => (0, ((frame_size - 4) / 4).min(4)),
        };
        StackWin {
            kind,
            saved_register_size: rng.random_range(lowest..=highest) * 4,
        }
    }

    /// Whether the walker needs a known callee `ebp` to evaluate the record.
    pub fn needs_callee_ebp(self) -> bool {
        self.kind != StackWinKind::FpoSavedEbp
    }

    /// Whether the record wants the callee's `ebp` to point at its saved-`ebp` slot.
    pub fn needs_frame_pointer(self) -> bool {
        self.kind == StackWinKind::FrameDataEbp
    }

    /// Where the caller's `ebp` comes from.
    pub fn caller_ebp(self) -> CallerEbp {
        match self.kind {
            StackWinKind::FrameDataEbp | StackWinKind::FrameDataRaSearchSavedEbp => {
                CallerEbp::BelowReturnAddress
            }
            StackWinKind::FpoSavedEbp => CallerEbp::SavedAt {
                offset: u64::from(self.saved_register_size) - 8,
            },
            StackWinKind::FrameDataRaSearch | StackWinKind::Fpo => CallerEbp::PassedThrough,
        }
    }

    /// The `STACK WIN` line for code at `[rva, rva + size)`.
    pub fn record(self, rva: u64, size: u64, parameter_size: u32, frame_size: u64) -> String {
        let saved = self.saved_register_size;
        let locals = frame_size as u32 - 4 - saved;
        let mut line = String::with_capacity(96);
        let (ty, tail) = match self.kind {
            StackWinKind::FrameDataEbp => (
                4,
                "1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =",
            ),
            StackWinKind::FrameDataRaSearch => (4, "1 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + ="),
            StackWinKind::FrameDataRaSearchSavedEbp => (
                4,
                "1 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebp $T0 4 - ^ =",
            ),
            StackWinKind::FpoSavedEbp => (0, "0 1"),
            StackWinKind::Fpo => (0, "0 0"),
        };
        let _ = write!(
            line,
            "STACK WIN {ty} {rva:x} {size:x} {PROLOGUE_SIZE:x} 0 {parameter_size:x} {saved:x} {locals:x} 0 {tail}"
        );
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_with_the_kind_they_claim() {
        let mut rng = crate::rng_for(1, b"test");
        for _ in 0..200 {
            let frame_size = rng.random_range(3u64..=32) * 4;
            let win = StackWin::generate(&mut rng, frame_size);
            let text = format!(
                "MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 a.pdb\nFUNC 1000 40 8 f\n{}\n",
                win.record(0x1000, 0x40, 8, frame_size)
            );
            let sym = breakpad_symbols::SymbolFile::from_bytes(text.as_bytes()).unwrap();
            let framedata = sym.win_stack_framedata_info.get(0x1010).is_some();
            let fpo = sym.win_stack_fpo_info.get(0x1010).is_some();
            let is_framedata = !matches!(win.kind, StackWinKind::Fpo | StackWinKind::FpoSavedEbp);
            assert_eq!((framedata, fpo), (is_framedata, !is_framedata), "{text}");
            if let CallerEbp::SavedAt { offset } = win.caller_ebp() {
                assert!(offset + 8 <= frame_size - 4, "{win:?} in {frame_size}");
            }
        }
    }
}
