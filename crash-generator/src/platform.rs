//! Per-flavour facts about a crashed process that are not about its modules (those are in
//! `program`) or its exception (in `exception`): where thread stacks live, how thread ids look,
//! what the system info stream says and the OS name the processor reports.

use std::io::Write as _;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dump_writer::{self, SystemIdentity};
use crate::profile::{Arch, OperatingSystem, OsFlavor};

/// Where the first thread's stack starts; later threads follow upwards, [`stack_gap`] apart.
pub fn stack_region_start(os: OsFlavor) -> u64 {
    match os {
        OsFlavor::Linux | OsFlavor::LinuxArm64 => 0x7ffd_0000_0000,
        OsFlavor::Windows | OsFlavor::WindowsArm64 => 0x00e0_0000_0000,
        OsFlavor::Mac => 0x7ff0_0000_0000,
        OsFlavor::MacArm64 => 0x16_0000_0000,
        OsFlavor::AndroidArm64 => 0x7f_0000_0000,
        // 32-bit: below the executables and libraries (see `program::module_base`).
        OsFlavor::WindowsX86 | OsFlavor::LinuxX86 | OsFlavor::MacX86 => 0x0100_0000,
    }
}

/// Unmapped space between two threads' stacks.
pub fn stack_gap(os: OsFlavor) -> u64 {
    match os.arch() {
        Arch::Amd64 | Arch::Arm64 => 0x10_0000,
        // 32-bit address space: 64 KiB guard gaps keep 1,000 threads under 256 MiB.
        Arch::X86 => 0x1_0000,
    }
}

/// A thread id as the OS would hand it out: Linux (and Android) thread ids are pids, the main
/// thread's equal to the process's; Windows ids are multiples of 4; Mach thread ids are large.
pub fn draw_thread_id(os: OsFlavor, rng: &mut ChaCha8Rng, pid: u32, index: usize) -> u32 {
    match (os.os(), index) {
        (OperatingSystem::Linux | OperatingSystem::Android, 0) => pid,
        (OperatingSystem::Linux | OperatingSystem::Android, _) => {
            pid + 1 + rng.random_range(0u32..5000)
        }
        (OperatingSystem::Windows, _) => rng.random_range(1u32..0x4000) * 4,
        (OperatingSystem::Mac, _) => rng.random_range(0x1000u32..0x10_0000),
    }
}

/// The OS as the processor names it (`system_info.os`).
pub fn processor_os_name(os: OsFlavor) -> &'static str {
    match os.os() {
        OperatingSystem::Linux => "Linux",
        OperatingSystem::Android => "Android",
        OperatingSystem::Windows => "Windows NT",
        OperatingSystem::Mac => "Mac OS X",
    }
}

/// What the system info stream says about the OS.
pub fn system_identity(os: OsFlavor, module_count: usize) -> SystemIdentity {
    let cpu_count = (module_count % 8 + 2) as u8;
    match os.os() {
        OperatingSystem::Linux => SystemIdentity {
            platform_id: dump_writer::PLATFORM_LINUX,
            major_version: 6,
            minor_version: 1,
            build_number: 0,
            cpu_count,
        },
        // Android 14's kernel.
        OperatingSystem::Android => SystemIdentity {
            platform_id: dump_writer::PLATFORM_ANDROID,
            major_version: 5,
            minor_version: 15,
            build_number: 0,
            cpu_count,
        },
        OperatingSystem::Windows => SystemIdentity {
            platform_id: dump_writer::PLATFORM_WINDOWS_NT,
            major_version: 10,
            minor_version: 0,
            build_number: 22631,
            cpu_count,
        },
        OperatingSystem::Mac => SystemIdentity {
            platform_id: dump_writer::PLATFORM_MAC_OS_X,
            major_version: 14,
            minor_version: 5,
            build_number: 0,
            cpu_count,
        },
    }
}

/// `/proc/cpuinfo` as the kernel writes it for the flavour's CPU.
pub fn linux_cpu_info(arch: Arch, module_count: usize) -> String {
    let mut out = Vec::new();
    for cpu in 0..(module_count % 8 + 2) {
        let _ = match arch {
            Arch::Arm64 => write!(
                out,
                "processor\t: {cpu}\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n"
            ),
            Arch::Amd64 | Arch::X86 => write!(
                out,
                "processor\t: {cpu}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\nmicrocode\t: 0xf0\n\n"
            ),
        };
    }
    String::from_utf8(out).expect("ascii")
}
