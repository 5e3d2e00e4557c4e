//! A crash of a synthetic program: threads with planned call chains, the crashing thread and its
//! exception, and everything derived from them (the minidump, the `.sym` files, the ground truth).

use std::collections::BTreeSet;
use std::io::Write as _;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dump_writer::{Amd64Registers, DumpWriter};
use crate::exception::{self, CrashKind, ExceptionSpec};
pub use crate::frames::{FrameSite, Location};
use crate::names::NameGen;
use crate::platform;
use crate::profile::{Arch, EdgeCase, OperatingSystem, Profile};
use crate::program::Program;
use crate::stack::{self, LaidOutStack};
use crate::sym_writer;
use crate::truth::{
    FrameTruth, GroundTruth, InlineTruth, ModuleTruth, ThreadTruth, UnloadedHit,
    UnloadedModuleTruth,
};

/// A thread and its laid-out stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPlan {
    pub tid: u32,
    pub name: Option<String>,
    pub frames: Vec<FrameSite>,
    pub stack: LaidOutStack,
    pub registers: Amd64Registers,
}

/// What happened to a module's `.sym` file in this crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolState {
    /// No `.sym` file is produced.
    Absent,
    /// A well-formed `.sym` file.
    Good,
    /// A `.sym` file the parser rejects as a whole (edge-case profiles).
    Corrupt(EdgeCase),
}

/// A generated crash with its minidump, symbol files and ground truth.
#[derive(Debug, Clone)]
pub struct Crash {
    pub seed: u64,
    pub profile: Profile,
    pub program: Program,
    pub threads: Vec<ThreadPlan>,
    pub crashing_thread: usize,
    pub exception: ExceptionSpec,
    pub pid: u32,
    /// Dump time (Unix seconds) and process start time.
    pub timestamp: u32,
    pub process_create_time: u32,
    /// Per module, whether and how its symbols exist.
    pub symbol_states: Vec<SymbolState>,
    /// Crashpad report id (also usable as the submission's id).
    pub report_id: [u8; 16],
    minidump: Vec<u8>,
    sym_files: Vec<(String, Vec<u8>)>,
    truth: GroundTruth,
}

/// Per module, whether and how its symbols exist: as the program says, except that a
/// malformed-sym edge case spoils the main module's symbols (frames land there often).
pub(crate) fn symbol_states(profile: &Profile, program: &Program) -> Vec<SymbolState> {
    let mut states: Vec<SymbolState> = program
        .modules
        .iter()
        .map(|m| {
            if m.has_symbols {
                SymbolState::Good
            } else {
                SymbolState::Absent
            }
        })
        .collect();
    if let Some(edge) = profile.edge_case.filter(|e| !e.corrupts_dump()) {
        states[0] = SymbolState::Corrupt(edge);
    }
    states
}

/// The RNG for one purpose of one seed, so adding draws in one place never shifts another.
pub(crate) fn rng_for(seed: u64, purpose: &[u8]) -> ChaCha8Rng {
    use rand::SeedableRng;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    for (slot, b) in key[8..].iter_mut().zip(purpose) {
        *slot = *b;
    }
    ChaCha8Rng::from_seed(key)
}

impl Crash {
    /// Generates the program and a crash of it: the same profile and seed give the same bytes.
    pub fn generate(profile: &Profile, seed: u64) -> Crash {
        let program = Program::generate(profile, seed);
        Self::of_program(profile, program, seed)
    }

    /// A crash of an already generated program. A profile's `crashing_stack` recipe names the
    /// program's functions from the program alone, so every crash of one program writes the
    /// same `.sym` files (a symbol server keeps one per debug id) and agrees with them.
    pub fn of_program(profile: &Profile, mut program: Program, seed: u64) -> Crash {
        // Before anything is drawn for the crash: the recipe's names belong to the program.
        let recipe = crate::dress::dress_program(profile, &mut program);
        let mut rng = rng_for(seed, b"crash");
        let os = program.os;
        let symbol_states = symbol_states(profile, &program);

        let pid = rng.random_range(1000u32..60000);
        let timestamp = rng.random_range(1_700_000_000u32..1_800_000_000);
        let process_create_time = timestamp - rng.random_range(5u32..86_400);
        let thread_count = rng.random_range(profile.threads.min()..=profile.threads.max()) as usize;
        let drawn_thread = rng.random_range(0..thread_count);
        let crashing_thread = crate::dress::crashing_thread(profile, drawn_thread, thread_count);
        let mut names = NameGen::new(os);
        let mut stack_cursor = platform::stack_region_start(os);
        let mut threads = Vec::with_capacity(thread_count);
        let mut tids = BTreeSet::new();
        for index in 0..thread_count {
            let tid = loop {
                let candidate = platform::draw_thread_id(os, &mut rng, pid, index);
                if tids.insert(candidate) {
                    break candidate;
                }
            };
            let is_crashing = index == crashing_thread;
            let frames = crate::frames::plan_thread(
                profile,
                &program,
                &symbol_states,
                recipe.as_ref(),
                &mut rng,
                is_crashing,
            );
            let stack_base = stack_cursor;
            let laid = crate::frames::lay_out_thread(
                &program,
                &symbol_states,
                &frames,
                stack_base,
                &mut rng,
            );
            stack_cursor = (stack_base + laid.memory.len() as u64 + 0xffff) & !0xffff;
            stack_cursor += platform::stack_gap(os);
            let registers = Amd64Registers {
                rip: frames[0].instruction,
                rsp: laid.rsp,
                rbp: laid.rbp,
                rax: rng.random_range(0u64..0x1000),
                rbx: match os.arch() {
                    Arch::Amd64 | Arch::Arm64 => rng.random(),
                    Arch::X86 => u64::from(rng.random::<u32>()),
                },
            };
            let name = if rng.random_bool(0.9) {
                Some(names.thread_name(&mut rng, index))
            } else {
                None
            };
            threads.push(ThreadPlan {
                tid,
                name,
                frames,
                stack: laid,
                registers,
            });
        }

        let crashing = &threads[crashing_thread];
        let kind = if profile.stack_overflow {
            CrashKind::StackOverflow
        } else {
            CrashKind::pick(&mut rng)
        };
        let fault = match kind {
            CrashKind::StackOverflow => crashing.stack.rsp - 0x1000 + 0xff8,
            _ => match rng.random_range(0u32..3) {
                0 => 0,
                1 => rng.random_range(1u64..0x200) * 8,
                _ => match os.arch() {
                    Arch::Amd64 | Arch::Arm64 => {
                        0x0000_dead_0000_0000 | (rng.random::<u64>() & 0xffff_fff8)
                    }
                    // Kernel space of a 32-bit process.
                    Arch::X86 => 0xdead_0000 | (rng.random::<u64>() & 0xfff8),
                },
            },
        };
        let exception = crate::dress::recipe_exception(profile, crashing.registers.rip, fault)
            .unwrap_or_else(|| exception::exception_for(os, kind, crashing.registers.rip, fault));
        let report_id: [u8; 16] = rng.random();

        let mut crash = Crash {
            seed,
            profile: profile.clone(),
            program,
            threads,
            crashing_thread,
            exception,
            pid,
            timestamp,
            process_create_time,
            symbol_states,
            report_id,
            minidump: Vec::new(),
            sym_files: Vec::new(),
            truth: GroundTruth::unprocessable("OK"),
        };
        let client_id: [u8; 16] = rng.random();
        crash.minidump = crash.build_minidump(client_id);
        crash.sym_files = crash.build_sym_files();
        crash.truth = crash.build_truth();
        if profile.socorro_signature {
            crash.truth.socorro = Some(crate::socorro::sign_truth(&crash.truth, profile));
        }
        crash
    }

    /// The minidump bytes.
    pub fn minidump_bytes(&self) -> &[u8] {
        &self.minidump
    }

    /// The `.sym` files as `(<debug_file>/<debug_id>/<sym_file>, bytes)`.
    pub fn sym_files(&self) -> &[(String, Vec<u8>)] {
        &self.sym_files
    }

    /// What the real processor must report, given these `.sym` files on local disk (or in a
    /// symbol cache) and a symbol server that answers code-file/code-id lookups.
    pub fn truth(&self) -> &GroundTruth {
        &self.truth
    }

    /// The truth when the `.sym` files are fetched over HTTP: a file that fails to parse is then
    /// reported like a missing one (`loaded_symbols: false, corrupt_symbols: false`).
    pub fn truth_over_http(&self) -> GroundTruth {
        let mut truth = self.truth.clone();
        for (module, state) in truth.modules.iter_mut().zip(&self.symbol_states) {
            if matches!(state, SymbolState::Corrupt(_)) {
                module.loaded_symbols = false;
                module.corrupt_symbols = false;
            }
        }
        truth
    }

    /// The `.sym` files zipped the way Firefox's build uploads them to Tecken
    /// (`<debug_file>/<debug_id>/<sym_file>` entries, deflated).
    pub fn symbols_zip(&self) -> Vec<u8> {
        symbols_zip(&self.sym_files)
    }

    /// A file-name-safe id for this crash (`<os>-<seed>`).
    pub fn name(&self) -> String {
        format!("{}-{}", self.program.os.as_str(), self.seed)
    }

    fn build_minidump(&self, client_id: [u8; 16]) -> Vec<u8> {
        let os = self.program.os;
        let edge = self.profile.edge_case;
        if edge == Some(EdgeCase::EmptyDump) {
            return Vec::new();
        }
        let mut w = DumpWriter::new(self.timestamp).arch(os.arch());
        if edge != Some(EdgeCase::MissingSystemInfo) {
            w = w.system_info(platform::system_identity(os, self.program.modules.len()));
        }
        w = w.misc_info(self.pid, self.process_create_time);
        for m in &self.program.modules {
            let cv = m.codeview_in_dump().and_then(|cv| cv.record_bytes());
            w = w.module(
                m.base,
                m.size,
                &m.code_file,
                m.time_date_stamp,
                cv.as_deref(),
            );
        }
        for u in &self.program.unloaded_modules {
            w = w.unloaded_module(u.base, u.size, &u.name, u.time_date_stamp);
        }
        if edge != Some(EdgeCase::MissingThreadList) {
            for t in &self.threads {
                w = w.thread(
                    t.tid,
                    &t.registers,
                    t.stack.memory_base,
                    &t.stack.memory,
                    t.name.as_deref(),
                );
            }
        }
        // Which memory was mapped, in the one stream a real writer uses for it: Breakpad's Linux
        // handler copies /proc/self/maps (the LinuxMaps stream, below) and writes no
        // MemoryInfoList; the other flavours carry a MemoryInfoList. A dump with both is one no
        // real writer makes, and rust-minidump warns about it each time it loads one.
        if !os.is_linux_kernel() {
            const PAGE_READWRITE: u32 = 0x04;
            const PAGE_EXECUTE_READ: u32 = 0x20;
            for t in &self.threads {
                w = w.memory_info(
                    t.stack.memory_base,
                    t.stack.memory.len() as u64,
                    PAGE_READWRITE,
                );
            }
            for m in &self.program.modules {
                w = w.memory_info(m.base, u64::from(m.size), PAGE_EXECUTE_READ);
            }
        }
        let crashing = &self.threads[self.crashing_thread];
        let e = &self.exception;
        w = w.exception(
            crashing.tid,
            e.code,
            e.flags,
            e.record_address,
            &e.parameters,
            &crashing.registers,
        );
        let annotations: Vec<(String, String)> = self
            .profile
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        w = w.crashpad_info(self.report_id, client_id, &annotations);
        if os.is_linux_kernel() {
            // Breakpad's handler thread wrote the dump; it is not in the thread list.
            let handler_tid = self.threads.iter().map(|t| t.tid).max().unwrap_or(self.pid) + 1;
            w = w.breakpad_info(handler_tid, crashing.tid);
            // Android has no /etc/lsb-release for the handler to copy.
            if os.os() != OperatingSystem::Android {
                w = w.linux_lsb_release(
                    "DISTRIB_ID=Debian\nDISTRIB_RELEASE=12\nDISTRIB_CODENAME=bookworm\nDISTRIB_DESCRIPTION=\"Debian GNU/Linux 12\"\n",
                );
            }
            w = w
                .linux_cpu_info(&platform::linux_cpu_info(
                    os.arch(),
                    self.program.modules.len(),
                ))
                .linux_proc_status(&format!(
                    "Name:\t{}\nState:\tR (running)\nPid:\t{}\nPPid:\t1\nThreads:\t{}\n",
                    self.program.modules[0].filename(),
                    self.pid,
                    self.threads.len()
                ))
                .linux_environ("LANG=C.UTF-8\0HOME=/home/user\0")
                .linux_maps(&self.linux_maps());
        }
        let mut bytes = w.finish();
        match edge {
            Some(EdgeCase::BadHeader) => bytes[0..4].copy_from_slice(b"XDMP"),
            Some(EdgeCase::TruncatedDump) => bytes.truncate(bytes.len() / 2),
            _ => {}
        }
        bytes
    }

    /// `/proc/self/maps` for the Linux flavour: each module's text mapping and each stack.
    fn linux_maps(&self) -> String {
        let mut lines: Vec<(u64, String)> = Vec::new();
        for (inode, m) in self.program.modules.iter().enumerate() {
            lines.push((
                m.base,
                format!(
                    "{:x}-{:x} r-xp 00000000 08:01 {} {}",
                    m.base,
                    m.end(),
                    1000 + inode,
                    m.code_file
                ),
            ));
        }
        for (index, t) in self.threads.iter().enumerate() {
            let end = t.stack.memory_base + t.stack.memory.len() as u64;
            let end = (end + 0xfff) & !0xfff;
            let label = if index == 0 { "[stack]" } else { "" };
            lines.push((
                t.stack.memory_base,
                // The kernel pads the path column with spaces, also for anonymous mappings,
                // and the procfs parser the processor uses relies on that.
                format!(
                    "{:x}-{end:x} rw-p 00000000 00:00 0                          {label}",
                    t.stack.memory_base
                ),
            ));
        }
        lines.sort();
        let mut out = String::new();
        for (_, line) in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn build_sym_files(&self) -> Vec<(String, Vec<u8>)> {
        let os = self.program.os;
        self.program
            .modules
            .iter()
            .zip(&self.symbol_states)
            .filter_map(|(m, state)| {
                let text = match state {
                    SymbolState::Absent => return None,
                    SymbolState::Good => sym_writer::write_sym(os, m),
                    SymbolState::Corrupt(edge) => crate::edge::malform_sym(os, m, *edge),
                };
                Some((sym_writer::sym_path(m), text.into_bytes()))
            })
            .collect()
    }

    fn build_truth(&self) -> GroundTruth {
        if let Some(edge) = self.profile.edge_case.filter(|e| e.corrupts_dump()) {
            return GroundTruth::unprocessable(crate::edge::expected_status(edge));
        }
        let os = self.program.os;
        let mut touched = vec![false; self.program.modules.len()];
        let threads = self
            .threads
            .iter()
            .map(|t| ThreadTruth {
                thread_id: t.tid,
                thread_name: t.name.clone(),
                frames: t
                    .frames
                    .iter()
                    .zip(&t.stack.trust)
                    .map(|(f, trust)| {
                        if let Location::Function { module, .. }
                        | Location::Public { module, .. }
                        | Location::Bare { module } = f.location
                        {
                            touched[module] = true;
                        }
                        self.frame_truth(f, *trust)
                    })
                    .collect(),
            })
            .collect();
        let modules = self
            .program
            .modules
            .iter()
            .zip(&self.symbol_states)
            .zip(&touched)
            .map(|((m, state), touched)| {
                let in_dump = m.codeview_in_dump().is_some();
                ModuleTruth {
                    filename: m.filename().to_string(),
                    // Without a debug id the processor learns the identity from the symbol
                    // server's code-id redirect, but only if it looks the module up.
                    debug_file: (in_dump || (*touched && *state != SymbolState::Absent))
                        .then(|| m.debug_file().map(|f| crate::ids::basename(&f).to_string()))
                        .flatten(),
                    debug_id: (in_dump || (*touched && *state != SymbolState::Absent))
                        .then(|| m.debug_id())
                        .flatten(),
                    code_id: m.code_id(os).map(|c| c.to_lowercase()),
                    base_addr: m.base,
                    end_addr: m.end(),
                    loaded_symbols: *touched && *state != SymbolState::Absent,
                    corrupt_symbols: *touched && matches!(state, SymbolState::Corrupt(_)),
                }
            })
            .collect();
        let unloaded_modules = self
            .program
            .unloaded_modules
            .iter()
            .map(|u| UnloadedModuleTruth {
                filename: u.name.clone(),
                code_id: Some(crate::ids::pe_code_id(u.time_date_stamp, u.size).to_lowercase()),
                base_addr: u.base,
                end_addr: u.base + u64::from(u.size),
            })
            .collect();
        GroundTruth {
            status: "OK".to_string(),
            os: Some(platform::processor_os_name(os).to_string()),
            cpu_arch: Some(os.arch().as_str().to_string()),
            pid: Some(self.pid),
            crash_reason: Some(self.exception.reason.clone()),
            crash_address: Some(self.exception.crash_address),
            crashing_thread: Some(self.crashing_thread),
            threads,
            modules,
            unloaded_modules,
            socorro: None,
        }
    }

    fn frame_truth(&self, f: &FrameSite, trust: stack::Trust) -> FrameTruth {
        let offset = f.instruction;
        let loaded = self.program.modules.iter().position(|m| m.contains(offset));
        let mut truth = FrameTruth {
            trust,
            offset,
            module: None,
            module_offset: None,
            function: None,
            function_offset: None,
            file: None,
            line: None,
            inlines: Vec::new(),
            unloaded_modules: Vec::new(),
        };
        match loaded {
            Some(index) => {
                let m = &self.program.modules[index];
                truth.module = Some(m.filename().to_string());
                truth.module_offset = Some(offset - m.base);
                if self.symbol_states[index] == SymbolState::Good {
                    let s = m.symbolize(offset - m.base);
                    truth.function_offset = s.function_base.map(|b| offset - m.base - b);
                    truth.function = s.function;
                    truth.file = s.file;
                    truth.line = s.line;
                    truth.inlines = s
                        .inlines
                        .into_iter()
                        .map(|i| InlineTruth {
                            function: i.function,
                            file: i.file,
                            line: i.line,
                        })
                        .collect();
                }
            }
            None => {
                truth.unloaded_modules = self
                    .program
                    .unloaded_modules
                    .iter()
                    .filter(|u| offset >= u.base && offset < u.base + u64::from(u.size))
                    .map(|u| UnloadedHit {
                        module: u.name.clone(),
                        offsets: vec![offset - u.base],
                    })
                    .collect();
            }
        }
        truth
    }
}

/// Zips `.sym` files under their symbol-server paths.
pub fn symbols_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)
            .expect("in-memory zip entry");
        zip.write_all(bytes).expect("in-memory zip write");
    }
    zip.finish().expect("in-memory zip").into_inner()
}
