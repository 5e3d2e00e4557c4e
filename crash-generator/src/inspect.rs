//! A readable summary of what a minidump contains (`crash-generator inspect FILE`).

use std::fmt::Write as _;

use minidump::{
    Minidump, MinidumpBreakpadInfo, MinidumpContext, MinidumpCrashpadInfo, MinidumpException,
    MinidumpMiscInfo, MinidumpModuleList, MinidumpRawContext, MinidumpSystemInfo,
    MinidumpThreadList, MinidumpThreadNames, MinidumpUnloadedModuleList, Module as _,
};

/// Describes the streams of a minidump; fails only when the dump cannot be opened at all.
pub fn describe(bytes: &[u8]) -> Result<String, minidump::Error> {
    let dump = Minidump::read(bytes)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "minidump: {} bytes, {} streams, written at {} (unix)",
        bytes.len(),
        dump.all_streams().count(),
        dump.header.time_date_stamp
    );
    let system = dump.get_stream::<MinidumpSystemInfo>().ok();
    match &system {
        Some(s) => {
            let _ = writeln!(
                out,
                "system: {} / {} ({} cpus)",
                s.os.long_name(),
                s.cpu,
                s.raw.number_of_processors
            );
        }
        None => out.push_str("system: (no system info stream)\n"),
    }
    let misc = dump.get_stream::<MinidumpMiscInfo>().ok();
    if let Some(pid) = misc.as_ref().and_then(|m| m.raw.process_id().copied()) {
        let _ = writeln!(out, "process id: {pid}");
    }
    if let Ok(exception) = dump.get_stream::<MinidumpException>() {
        let reason = system
            .as_ref()
            .map(|s| exception.get_crash_reason(s.os, s.cpu).to_string())
            .unwrap_or_else(|| {
                format!("code {:#x}", exception.raw.exception_record.exception_code)
            });
        let address = system
            .as_ref()
            .map(|s| exception.get_crash_address(s.os, s.cpu))
            .unwrap_or(exception.raw.exception_record.exception_address);
        let _ = writeln!(
            out,
            "exception: {reason} at {address:#x} in thread {}",
            exception.get_crashing_thread_id()
        );
    }
    let names = dump.get_stream::<MinidumpThreadNames>().ok();
    match dump.get_stream::<MinidumpThreadList>() {
        Ok(threads) => {
            let _ = writeln!(out, "threads: {}", threads.threads.len());
            for t in &threads.threads {
                let name = names
                    .as_ref()
                    .and_then(|n| n.get_name(t.raw.thread_id))
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                let registers = system
                    .as_ref()
                    .and_then(|s| t.context(s, misc.as_ref()))
                    .map(|c| registers(&c))
                    .unwrap_or_else(|| "no context".to_string());
                let _ = writeln!(
                    out,
                    "  tid {:>6} {:<16} {registers} stack {:#x}+{:#x}",
                    t.raw.thread_id,
                    format!("{name:?}"),
                    t.raw.stack.start_of_memory_range,
                    t.raw.stack.memory.data_size
                );
            }
        }
        Err(_) => out.push_str("threads: (no thread list stream)\n"),
    }
    if let Ok(modules) = dump.get_stream::<MinidumpModuleList>() {
        let _ = writeln!(out, "modules: {}", modules.iter().count());
        for m in modules.iter() {
            let _ = writeln!(
                out,
                "  {:#014x}-{:#014x} {} debug={} {} code_id={}",
                m.base_address(),
                m.base_address() + m.size(),
                m.code_file(),
                m.debug_file().unwrap_or_default(),
                m.debug_identifier()
                    .map(|id| id.breakpad().to_string())
                    .unwrap_or_else(|| "(none)".to_string()),
                m.code_identifier()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| "(none)".to_string()),
            );
        }
    }
    if let Ok(unloaded) = dump.get_stream::<MinidumpUnloadedModuleList>() {
        let _ = writeln!(out, "unloaded modules: {}", unloaded.iter().count());
        for m in unloaded.iter() {
            let _ = writeln!(
                out,
                "  {:#014x}-{:#014x} {}",
                m.base_address(),
                m.base_address() + m.size(),
                m.code_file()
            );
        }
    }
    if let Ok(info) = dump.get_stream::<MinidumpBreakpadInfo>() {
        let _ = writeln!(
            out,
            "breakpad info: dump thread {:?}, requesting thread {:?}",
            info.dump_thread_id, info.requesting_thread_id
        );
    }
    if let Ok(crashpad) = dump.get_stream::<MinidumpCrashpadInfo>() {
        let _ = writeln!(out, "crashpad annotations:");
        for (key, value) in &crashpad.simple_annotations {
            let _ = writeln!(out, "  {key} = {value}");
        }
    }
    Ok(out)
}

/// The registers that locate a thread's stack, named as the context's CPU names them (x86
/// contexts show `eip`/`esp`/`ebp`, AMD64 ones `rip`/`rsp`/`rbp`, ARM64 ones `pc`/`sp`/`fp`).
fn registers(context: &MinidumpContext) -> String {
    match &context.raw {
        MinidumpRawContext::X86(c) => format!(
            "x86 eip={:#010x} esp={:#010x} ebp={:#010x}",
            c.eip, c.esp, c.ebp
        ),
        MinidumpRawContext::Amd64(c) => {
            format!("amd64 rip={:#x} rsp={:#x} rbp={:#x}", c.rip, c.rsp, c.rbp)
        }
        MinidumpRawContext::Arm64(c) => format!(
            "arm64 pc={:#x} sp={:#x} fp={:#x}",
            c.pc,
            c.sp,
            c.iregs[minidump_common::format::Arm64RegisterNumbers::FramePointer as usize]
        ),
        _ => format!(
            "pc={:#x} sp={:#x}",
            context.get_instruction_pointer(),
            context.get_stack_pointer()
        ),
    }
}
