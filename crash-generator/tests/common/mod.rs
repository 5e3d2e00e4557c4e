//! What more than one of this crate's test files needs.

use crash_generator::OsFlavor;

/// The flavours whose walkers unwind with STACK CFI other than amd64's: ARM64 on every OS, and
/// 32-bit x86 on Linux and macOS (windows-x86 unwinds with STACK WIN and is tested on its own).
pub const ARM64_AND_X86_CFI: [OsFlavor; 6] = [
    OsFlavor::LinuxArm64,
    OsFlavor::AndroidArm64,
    OsFlavor::MacArm64,
    OsFlavor::WindowsArm64,
    OsFlavor::LinuxX86,
    OsFlavor::MacX86,
];
