//! Exceptions per OS flavour: the raw codes written into the exception stream and the crash
//! reason string the processor derives from them.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::profile::{Arch, OperatingSystem, OsFlavor};

/// What went wrong, in the dump's raw terms plus the processor's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSpec {
    pub code: u32,
    pub flags: u32,
    /// `exception_address` in the record.
    pub record_address: u64,
    /// `exception_information` parameters (at most 15).
    pub parameters: Vec<u64>,
    /// The address the processor reports as the crash address.
    pub crash_address: u64,
    /// The processor's crash reason (`crash_info.type`).
    pub reason: String,
}

/// The kind of crash, independent of OS wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// Invalid read of `fault` (null deref or wild pointer).
    ReadFault,
    /// Invalid write of `fault`.
    WriteFault,
    /// Abort (assertion, `abort()`).
    Abort,
    /// Illegal instruction at the pc.
    IllegalInstruction,
    /// Integer division by zero at the pc.
    DivideByZero,
    /// Ran off the end of the stack; `fault` is in the guard page.
    StackOverflow,
}

impl CrashKind {
    /// Picks an ordinary (non-overflow) crash kind.
    pub fn pick(rng: &mut ChaCha8Rng) -> CrashKind {
        match rng.random_range(0u32..10) {
            0..=3 => CrashKind::ReadFault,
            4..=5 => CrashKind::WriteFault,
            6..=7 => CrashKind::Abort,
            8 => CrashKind::IllegalInstruction,
            _ => CrashKind::DivideByZero,
        }
    }
}

// Linux signal numbers and si_code values.
const SIGILL: u32 = 4;
const SIGABRT: u32 = 6;
const SIGFPE: u32 = 8;
const SIGSEGV: u32 = 11;
const SEGV_MAPERR: u32 = 1;
const SEGV_ACCERR: u32 = 2;
const ILL_ILLOPN: u32 = 2;
const FPE_INTDIV: u32 = 1;
// Windows NTSTATUS codes.
const EXCEPTION_ACCESS_VIOLATION: u32 = 0xC000_0005;
const EXCEPTION_ILLEGAL_INSTRUCTION: u32 = 0xC000_001D;
const EXCEPTION_INT_DIVIDE_BY_ZERO: u32 = 0xC000_0094;
const EXCEPTION_STACK_OVERFLOW: u32 = 0xC000_00FD;
const STATUS_FATAL_APP_EXIT: u32 = 0x4000_0015;
// macOS Mach exception types and codes.
const EXC_BAD_ACCESS: u32 = 1;
const EXC_BAD_INSTRUCTION: u32 = 2;
const EXC_ARITHMETIC: u32 = 3;
const EXC_BREAKPOINT: u32 = 6;
const KERN_INVALID_ADDRESS: u32 = 1;
const KERN_PROTECTION_FAILURE: u32 = 2;
const EXC_I386_INVOP: u32 = 1;
const EXC_I386_DIV: u32 = 1;
const EXC_I386_BPT: u32 = 2;
const EXC_ARM_UNDEFINED: u32 = 1;
const EXC_ARM_BREAKPOINT: u32 = 1;

/// The exception for `kind` on `os`, crashing at `pc` and (for faults) touching `fault`.
pub fn exception_for(os: OsFlavor, kind: CrashKind, pc: u64, fault: u64) -> ExceptionSpec {
    let simple = |code: u32, flags: u32, address: u64, reason: &str| ExceptionSpec {
        code,
        flags,
        record_address: address,
        parameters: Vec::new(),
        crash_address: address,
        reason: reason.to_string(),
    };
    let arm64 = os.arch() == Arch::Arm64;
    // ARM64 integer division does not trap (it yields 0); compilers that check for zero divisors
    // call abort or execute `brk`, which only Windows turns into EXCEPTION_INT_DIVIDE_BY_ZERO.
    let kind = if arm64 && !os.is_windows() && kind == CrashKind::DivideByZero {
        CrashKind::Abort
    } else {
        kind
    };
    match os.os() {
        OperatingSystem::Linux | OperatingSystem::Android => match kind {
            CrashKind::ReadFault => simple(SIGSEGV, SEGV_MAPERR, fault, "SIGSEGV / SEGV_MAPERR"),
            CrashKind::WriteFault => simple(SIGSEGV, SEGV_ACCERR, fault, "SIGSEGV / SEGV_ACCERR"),
            CrashKind::StackOverflow => {
                simple(SIGSEGV, SEGV_ACCERR, fault, "SIGSEGV / SEGV_ACCERR")
            }
            CrashKind::Abort => simple(SIGABRT, 0, pc, "SIGABRT"),
            CrashKind::IllegalInstruction => simple(SIGILL, ILL_ILLOPN, pc, "SIGILL / ILL_ILLOPN"),
            CrashKind::DivideByZero => simple(SIGFPE, FPE_INTDIV, pc, "SIGFPE / FPE_INTDIV"),
        },
        OperatingSystem::Windows => match kind {
            CrashKind::ReadFault | CrashKind::WriteFault => {
                let (access, reason) = if kind == CrashKind::ReadFault {
                    (0, "EXCEPTION_ACCESS_VIOLATION_READ")
                } else {
                    (1, "EXCEPTION_ACCESS_VIOLATION_WRITE")
                };
                ExceptionSpec {
                    code: EXCEPTION_ACCESS_VIOLATION,
                    flags: 0,
                    record_address: pc,
                    parameters: vec![access, fault],
                    crash_address: fault,
                    reason: reason.to_string(),
                }
            }
            CrashKind::StackOverflow => {
                let mut spec = simple(EXCEPTION_STACK_OVERFLOW, 0, pc, "EXCEPTION_STACK_OVERFLOW");
                spec.parameters = vec![1, fault];
                spec
            }
            CrashKind::Abort => simple(STATUS_FATAL_APP_EXIT, 0, pc, "STATUS_FATAL_APP_EXIT"),
            CrashKind::IllegalInstruction => simple(
                EXCEPTION_ILLEGAL_INSTRUCTION,
                0,
                pc,
                "EXCEPTION_ILLEGAL_INSTRUCTION",
            ),
            CrashKind::DivideByZero => simple(
                EXCEPTION_INT_DIVIDE_BY_ZERO,
                0,
                pc,
                "EXCEPTION_INT_DIVIDE_BY_ZERO",
            ),
        },
        // Mach exceptions: a bad access is the same on every CPU; traps carry the CPU's codes.
        OperatingSystem::Mac => match kind {
            CrashKind::ReadFault => simple(
                EXC_BAD_ACCESS,
                KERN_INVALID_ADDRESS,
                fault,
                "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS",
            ),
            CrashKind::WriteFault | CrashKind::StackOverflow => simple(
                EXC_BAD_ACCESS,
                KERN_PROTECTION_FAILURE,
                fault,
                "EXC_BAD_ACCESS / KERN_PROTECTION_FAILURE",
            ),
            // `brk` (Rust's and clang's trap on arm64).
            CrashKind::Abort | CrashKind::DivideByZero if arm64 => simple(
                EXC_BREAKPOINT,
                EXC_ARM_BREAKPOINT,
                pc,
                "EXC_BREAKPOINT / EXC_ARM_BREAKPOINT",
            ),
            CrashKind::IllegalInstruction if arm64 => simple(
                EXC_BAD_INSTRUCTION,
                EXC_ARM_UNDEFINED,
                pc,
                "EXC_BAD_INSTRUCTION / EXC_ARM_UNDEFINED",
            ),
            // A trap (`__builtin_trap`, Rust's abort on x86 macOS); rust-minidump 0.27 has no name
            // for EXC_CRASH.
            CrashKind::Abort => simple(
                EXC_BREAKPOINT,
                EXC_I386_BPT,
                pc,
                "EXC_BREAKPOINT / EXC_I386_BPT",
            ),
            CrashKind::IllegalInstruction => simple(
                EXC_BAD_INSTRUCTION,
                EXC_I386_INVOP,
                pc,
                "EXC_BAD_INSTRUCTION / EXC_I386_INVOP",
            ),
            CrashKind::DivideByZero => simple(
                EXC_ARITHMETIC,
                EXC_I386_DIV,
                pc,
                "EXC_ARITHMETIC / EXC_I386_DIV",
            ),
        },
    }
}
