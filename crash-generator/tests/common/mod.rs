//! What more than one of this crate's test files needs. Each test file is a crate of its own
//! that uses some of it, hence the `dead_code` allowances.

use crash_generator::OsFlavor;

/// The flavours whose walkers unwind with STACK CFI other than amd64's: ARM64 on every OS, and
/// 32-bit x86 on Linux and macOS (windows-x86 unwinds with STACK WIN and is tested on its own).
#[allow(dead_code)]
pub const ARM64_AND_X86_CFI: [OsFlavor; 6] = [
    OsFlavor::LinuxArm64,
    OsFlavor::AndroidArm64,
    OsFlavor::MacArm64,
    OsFlavor::WindowsArm64,
    OsFlavor::LinuxX86,
    OsFlavor::MacX86,
];

/// A runtime for the processor's async API in plain `#[test]`s (proptest drives some of them).
#[allow(dead_code)]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}
