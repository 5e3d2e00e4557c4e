//! Our minidump builder. `minidump-synth` (pinned, test-quality) does the container work; this
//! module adds what it lacks (full AMD64, x86 and ARM64 contexts, CodeView records, an exception stream
//! that cites its own context, the header timestamp) and keeps its `test_assembler` types out of
//! our API.

use minidump_common::format as md;
use minidump_synth::{
    CrashpadInfo, DumpString, Memory, MemoryInfo, MiscFieldsProcessTimes, MiscStream, Module,
    SectionExtra, SimpleStream, SynthMinidump, SystemInfo, Thread, ThreadName, UnloadedModule,
};
use test_assembler::{Endian, Section};

use crate::profile::Arch;

const LE: Endian = Endian::Little;

/// The registers we set in a CPU context; the rest are zero. In an x86 context (the dump
/// writer's `arch(Arch::X86)`) the low 32 bits of `rip`, `rsp`, `rbp`, `rax` and `rbx` are written as
/// `eip`, `esp`, `ebp`, `eax` and `ebx`; in an ARM64 context as `pc`, `sp`, `x29` (fp), `x0` and
/// `x19` (the first callee-saved register).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amd64Registers {
    pub rip: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub rax: u64,
    pub rbx: u64,
}

/// A full 1232-byte `CONTEXT_AMD64` with every register marked valid.
fn amd64_context(regs: &Amd64Registers) -> Section {
    const CONTEXT_AMD64_ALL: u32 = 0x0010_001f;
    Section::with_endian(LE)
        .append_repeated(0, 8 * 6) // p1..p6 home
        .D32(CONTEXT_AMD64_ALL)
        .D32(0x1f80) // mx_csr
        .D16(0x33) // cs
        .D16(0x2b) // ds
        .D16(0x2b) // es
        .D16(0x53) // fs
        .D16(0x2b) // gs
        .D16(0x2b) // ss
        .D32(0x246) // eflags
        .append_repeated(0, 8 * 6) // dr0..dr3, dr6, dr7
        .D64(regs.rax)
        .D64(0) // rcx
        .D64(0) // rdx
        .D64(regs.rbx)
        .D64(regs.rsp)
        .D64(regs.rbp)
        .append_repeated(0, 8 * 10) // rsi rdi r8..r15
        .D64(regs.rip)
        .append_repeated(0, 512) // float save
        .append_repeated(0, 16 * 26) // vector registers
        .append_repeated(0, 8 * 6) // vector_control, debug_control, last branch/exception
}

/// A full 716-byte `CONTEXT_X86` with every register marked valid (minidump-synth's helper
/// sets only eip/esp).
fn x86_context(regs: &Amd64Registers) -> Section {
    const CONTEXT_X86_ALL: u32 = 0x0001_003f;
    const FLOATING_SAVE_AREA_SIZE: usize = 112;
    Section::with_endian(LE)
        .D32(CONTEXT_X86_ALL)
        .append_repeated(0, 4 * 6) // dr0..dr3, dr6, dr7
        .append_repeated(0, FLOATING_SAVE_AREA_SIZE)
        .D32(0x2b) // gs
        .D32(0x53) // fs
        .D32(0x2b) // es
        .D32(0x2b) // ds
        .D32(0) // edi
        .D32(0) // esi
        .D32(regs.rbx as u32)
        .D32(0) // edx
        .D32(0) // ecx
        .D32(regs.rax as u32)
        .D32(regs.rbp as u32)
        .D32(regs.rip as u32)
        .D32(0x23) // cs
        .D32(0x246) // eflags
        .D32(regs.rsp as u32)
        .D32(0x2b) // ss
        .append_repeated(0, 512) // extended registers
}

/// A full 912-byte `CONTEXT_ARM64` (minidump-synth's helper sets only pc/sp; the frame-pointer
/// walker needs `x29`).
fn arm64_context(regs: &Amd64Registers) -> Section {
    const CONTEXT_ARM64_ALL: u32 = 0x0040_001f;
    const X0: usize = 0;
    const X19: usize = 19;
    const FP: usize = 29;
    let mut section = Section::with_endian(LE)
        .D32(CONTEXT_ARM64_ALL)
        .D32(0x6000_0000); // cpsr
    for index in 0..31 {
        section = section.D64(match index {
            X0 => regs.rax,
            X19 => regs.rbx,
            FP => regs.rbp,
            // lr: the crashing function's own return address already sits in its frame record.
            _ => 0,
        });
    }
    section
        .D64(regs.rsp)
        .D64(regs.rip)
        .append_repeated(0, 16 * 32) // d0..d31 (NEON)
        .D32(0) // fpcr
        .D32(0) // fpsr
        .append_repeated(0, 4 * 8) // bcr
        .append_repeated(0, 8 * 8) // bvr
        .append_repeated(0, 4 * 2) // wcr
        .append_repeated(0, 8 * 2) // wvr
}

/// OS identity written into the system info stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemIdentity {
    pub platform_id: u32,
    pub major_version: u32,
    pub minor_version: u32,
    pub build_number: u32,
    pub cpu_count: u8,
}

/// Platform ids the processor maps to an OS.
pub const PLATFORM_WINDOWS_NT: u32 = 2;
pub const PLATFORM_MAC_OS_X: u32 = 0x8101;
pub const PLATFORM_LINUX: u32 = 0x8201;
/// A Breakpad extension: Android's handler writes it where Linux's writes `PLATFORM_LINUX`.
pub const PLATFORM_ANDROID: u32 = 0x8203;

/// Assembles one minidump.
pub struct DumpWriter {
    dump: SynthMinidump,
    timestamp: u32,
    arch: Arch,
}

impl Default for DumpWriter {
    fn default() -> Self {
        Self::new(0)
    }
}

impl DumpWriter {
    /// A dump whose header claims it was written at `timestamp` (Unix seconds), of an AMD64
    /// process unless [`DumpWriter::arch`] says otherwise.
    pub fn new(timestamp: u32) -> Self {
        DumpWriter {
            dump: SynthMinidump::with_endian(LE),
            timestamp,
            arch: Arch::Amd64,
        }
    }

    /// The CPU: decides the system info's processor architecture and the format of every
    /// thread and exception context written after this call.
    pub fn arch(mut self, arch: Arch) -> Self {
        self.arch = arch;
        self
    }

    fn context(&self, regs: &Amd64Registers) -> Section {
        match self.arch {
            Arch::Amd64 => amd64_context(regs),
            Arch::X86 => x86_context(regs),
            Arch::Arm64 => arm64_context(regs),
        }
    }

    fn map(mut self, f: impl FnOnce(SynthMinidump) -> SynthMinidump) -> Self {
        self.dump = f(self.dump);
        self
    }

    pub fn system_info(self, id: SystemIdentity) -> Self {
        let mut info = SystemInfo::new(LE);
        info.processor_architecture = match self.arch {
            Arch::Amd64 => md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64,
            Arch::X86 => md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_INTEL,
            Arch::Arm64 => md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_ARM64,
        } as u16;
        info.processor_level = match self.arch {
            Arch::Amd64 | Arch::X86 => 6,
            // Windows on ARM writes the implementer-specific level; 8 is ARMv8.
            Arch::Arm64 => 8,
        };
        info.number_of_processors = id.cpu_count;
        info.platform_id = id.platform_id;
        info.major_version = id.major_version;
        info.minor_version = id.minor_version;
        info.build_number = id.build_number;
        self.map(|d| d.add_system_info(info))
    }

    /// MiscInfo with the process id and its start time.
    pub fn misc_info(self, pid: u32, process_create_time: u32) -> Self {
        let mut misc = MiscStream::new(LE);
        misc.process_id = Some(pid);
        misc.process_times = Some(MiscFieldsProcessTimes {
            process_create_time,
            process_user_time: 1,
            process_kernel_time: 1,
        });
        self.map(|d| d.add_stream(misc))
    }

    /// A loaded module with an optional CodeView record.
    pub fn module(
        self,
        base: u64,
        size: u32,
        name: &str,
        time_date_stamp: u32,
        codeview: Option<&[u8]>,
    ) -> Self {
        let name = DumpString::new(name, LE);
        let mut module = Module::new(LE, base, size, &name, time_date_stamp, 0, None);
        let cv = codeview.map(|bytes| Section::with_endian(LE).append_bytes(bytes));
        if let Some(cv) = &cv {
            module = module.cv_record(cv);
        }
        self.map(|d| {
            let d = d.add_module(module).add(name);
            match cv {
                Some(cv) => d.add(cv),
                None => d,
            }
        })
    }

    pub fn unloaded_module(self, base: u64, size: u32, name: &str, time_date_stamp: u32) -> Self {
        let name = DumpString::new(name, LE);
        let module = UnloadedModule::new(LE, base, size, &name, time_date_stamp, 0);
        self.map(|d| d.add_unloaded_module(module).add(name))
    }

    /// A thread with its stack memory and context; `name` goes to the thread names stream.
    pub fn thread(
        self,
        tid: u32,
        regs: &Amd64Registers,
        stack_base: u64,
        stack: &[u8],
        name: Option<&str>,
    ) -> Self {
        let context = self.context(regs);
        let memory = Memory::with_section(Section::with_endian(LE).append_bytes(stack), stack_base);
        let thread = Thread::new(LE, tid, &memory, &context);
        let this = self.map(|d| d.add_thread(thread).add_memory(memory).add(context));
        match name {
            Some(name) => {
                let name = DumpString::new(name, LE);
                let entry = ThreadName::new(LE, tid, Some(&name));
                this.map(|d| d.add_thread_name(entry).add(name))
            }
            None => this,
        }
    }

    /// A MemoryInfoList entry: committed memory with the given protection.
    pub fn memory_info(self, base: u64, size: u64, protection: u32) -> Self {
        const MEM_COMMIT: u32 = 0x1000;
        const MEM_PRIVATE: u32 = 0x20000;
        let info = MemoryInfo::new(
            LE,
            base,
            base,
            protection,
            size,
            MEM_COMMIT,
            protection,
            MEM_PRIVATE,
        );
        self.map(|d| d.add_memory_info(info))
    }

    /// The exception stream, citing its own copy of the crashing thread's context (as real dumps do).
    pub fn exception(
        self,
        tid: u32,
        code: u32,
        flags: u32,
        address: u64,
        parameters: &[u64],
        regs: &Amd64Registers,
    ) -> Self {
        let context = self.context(regs);
        let mut info = [0u64; 15];
        for (slot, p) in info.iter_mut().zip(parameters) {
            *slot = *p;
        }
        let mut section = Section::with_endian(LE)
            .D32(tid)
            .D32(0) // alignment
            .D32(code)
            .D32(flags)
            .D64(0) // nested exception record
            .D64(address)
            .D32(parameters.len().min(15) as u32)
            .D32(0); // alignment
        for p in info {
            section = section.D64(p);
        }
        let section = section.cite_location(&context);
        let stream = SimpleStream {
            stream_type: md::MINIDUMP_STREAM_TYPE::ExceptionStream as u32,
            section,
        };
        self.map(|d| d.add_stream(stream).add(context))
    }

    /// Crashpad info with report/client ids and simple annotations.
    pub fn crashpad_info(
        self,
        report_id: [u8; 16],
        client_id: [u8; 16],
        annotations: &[(String, String)],
    ) -> Self {
        let mut info = CrashpadInfo::new(LE)
            .report_id(guid(report_id))
            .client_id(guid(client_id));
        for (key, value) in annotations {
            info = info.add_simple_annotation(key, value);
        }
        self.map(|d| d.add_crashpad_info(info))
    }

    /// Breakpad's info stream (hand-written; minidump-synth has no helper): the id of the thread
    /// that wrote the dump (Breakpad's handler thread, not in the thread list) and of the thread
    /// that requested it.
    pub fn breakpad_info(self, dump_thread_id: u32, requesting_thread_id: u32) -> Self {
        const BOTH_IDS_VALID: u32 = 0b11;
        let stream = SimpleStream {
            stream_type: md::MINIDUMP_STREAM_TYPE::BreakpadInfoStream as u32,
            section: Section::with_endian(LE)
                .D32(BOTH_IDS_VALID)
                .D32(dump_thread_id)
                .D32(requesting_thread_id),
        };
        self.map(|d| d.add_stream(stream))
    }

    pub fn linux_lsb_release(self, text: &str) -> Self {
        self.map(|d| d.set_linux_lsb_release(text.as_bytes()))
    }

    /// `/proc/self/maps` text.
    pub fn linux_maps(self, text: &str) -> Self {
        self.map(|d| d.set_linux_maps(text.as_bytes()))
    }

    pub fn linux_cpu_info(self, text: &str) -> Self {
        self.map(|d| d.set_linux_cpu_info(text.as_bytes()))
    }

    pub fn linux_proc_status(self, text: &str) -> Self {
        self.map(|d| d.set_linux_proc_status(text.as_bytes()))
    }

    pub fn linux_environ(self, text: &str) -> Self {
        self.map(|d| d.set_linux_environ(text.as_bytes()))
    }

    /// The finished bytes, with the header timestamp patched in.
    pub fn finish(self) -> Vec<u8> {
        let mut bytes = self
            .dump
            .finish()
            .expect("every section the dump cites was added");
        bytes[20..24].copy_from_slice(&self.timestamp.to_le_bytes());
        bytes
    }
}

fn guid(bytes: [u8; 16]) -> md::GUID {
    md::GUID {
        data1: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        data2: u16::from_le_bytes([bytes[4], bytes[5]]),
        data3: u16::from_le_bytes([bytes[6], bytes[7]]),
        data4: bytes[8..16].try_into().expect("8 bytes"),
    }
}
