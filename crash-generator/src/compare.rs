//! Checking a processor's result against the ground truth. Both the native
//! [`minidump_processor::ProcessState`] and its JSON form (what `minidump-stackwalk --json` prints)
//! are first read into a [`GroundTruth`]-shaped observation, then compared field by field.

use std::fmt;

use minidump::Module as _;
use minidump_processor::ProcessState;
use serde_json::Value;

use crate::ids::basename;
use crate::stack::Trust;
use crate::truth::{
    FrameTruth, GroundTruth, InlineTruth, ModuleTruth, ThreadTruth, UnloadedHit,
    UnloadedModuleTruth, hex,
};

/// One difference between the truth and a processor's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where, e.g. `threads[0].frames[2].function`.
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_read_plainly() {
        let mut out = Vec::new();
        cmp(
            &mut out,
            "threads[0].frames[1].function",
            &Some("a::b"),
            &None,
        );
        cmp(
            &mut out,
            "threads[0].frames[1].line",
            &Some(12u32),
            &Some(13),
        );
        cmp_hex(&mut out, "crash_info.address", Some(0x10), None);
        let text: Vec<String> = out.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                r#"threads[0].frames[1].function: expected "a::b", got none"#,
                "threads[0].frames[1].line: expected 12, got 13",
                "crash_info.address: expected 0x10, got none",
            ]
        );
    }

    #[test]
    fn a_different_crash_is_reported_field_by_field() {
        use crate::{Crash, Profile};
        let a = Crash::generate(&Profile::default(), 1);
        let b = Crash::generate(&Profile::default(), 2);
        let mismatches = diff(a.truth(), b.truth());
        assert!(mismatches.iter().any(|m| m.path == "pid"));
        assert!(diff(a.truth(), a.truth()).is_empty());
    }
}

impl GroundTruth {
    /// Differences between this truth and a native processing result (empty when they agree).
    pub fn compare(&self, state: &ProcessState) -> Vec<Mismatch> {
        diff(self, &observe_state(state))
    }

    /// Differences between this truth and the processor's JSON output.
    pub fn compare_json(&self, json: &Value) -> Vec<Mismatch> {
        diff(self, &observe_json(json))
    }

    /// Differences when processing failed with `error_name` (e.g. `MissingThreadList`).
    pub fn compare_error(&self, error_name: &str) -> Vec<Mismatch> {
        let mut out = Vec::new();
        cmp(&mut out, "status", &self.status, &error_name.to_string());
        out
    }
}

/// Why [`check_files`] could not compare.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a truth file: {source}")]
    Truth {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Processed {
        path: String,
        source: serde_json::Error,
    },
}

/// Compares a processor's JSON output file with a truth file written by `generate`.
pub fn check_files(
    truth: &std::path::Path,
    processed: &std::path::Path,
) -> Result<Vec<Mismatch>, CheckError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| CheckError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let expected: GroundTruth =
        serde_json::from_slice(&read(truth)?).map_err(|source| CheckError::Truth {
            path: truth.display().to_string(),
            source,
        })?;
    let actual: Value =
        serde_json::from_slice(&read(processed)?).map_err(|source| CheckError::Processed {
            path: processed.display().to_string(),
            source,
        })?;
    Ok(expected.compare_json(&actual))
}

/// Reads a native result into the truth's shape.
pub fn observe_state(state: &ProcessState) -> GroundTruth {
    let threads = state
        .threads
        .iter()
        .map(|t| ThreadTruth {
            thread_id: t.thread_id,
            thread_name: t.thread_name.clone(),
            frames: t
                .frames
                .iter()
                .map(|f| {
                    let module_base = f.module.as_ref().map(|m| m.base_address());
                    FrameTruth {
                        trust: trust_from_str(f.trust.as_str()),
                        offset: f.instruction,
                        module: f
                            .module
                            .as_ref()
                            .map(|m| basename(&m.code_file()).to_string()),
                        module_offset: module_base.map(|b| f.instruction - b),
                        function: f.function_name.clone(),
                        function_offset: f.function_base.map(|b| f.instruction - b),
                        file: f.source_file_name.clone(),
                        line: f.source_line,
                        inlines: f
                            .inlines
                            .iter()
                            .map(|i| InlineTruth {
                                function: i.function_name.clone(),
                                file: i.source_file_name.clone(),
                                line: i.source_line,
                            })
                            .collect(),
                        unloaded_modules: f
                            .unloaded_modules
                            .iter()
                            .map(|(module, offsets)| UnloadedHit {
                                module: module.clone(),
                                offsets: offsets.iter().copied().collect(),
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let modules = state
        .modules
        .iter()
        .map(|m| {
            let code_file = m.code_file();
            let name = basename(&code_file).to_string();
            let stats = state.symbol_stats.get(&name);
            let (debug_file, debug_id) = match stats.and_then(|s| s.extra_debug_info.as_ref()) {
                Some(extra) => (
                    Some(extra.debug_file.clone()),
                    Some(extra.debug_identifier.breakpad().to_string()),
                ),
                None => (
                    m.debug_file().map(|f| f.into_owned()),
                    m.debug_identifier().map(|id| id.breakpad().to_string()),
                ),
            };
            ModuleTruth {
                filename: name,
                debug_file: non_empty(debug_file.map(|f| basename(&f).to_string())),
                debug_id: debug_id.filter(|id| !is_nil_debug_id(id)),
                code_id: non_empty(m.code_identifier().map(|c| c.as_str().to_lowercase())),
                base_addr: m.base_address(),
                end_addr: m.base_address() + m.size(),
                loaded_symbols: stats.is_some_and(|s| s.loaded_symbols),
                corrupt_symbols: stats.is_some_and(|s| s.corrupt_symbols),
            }
        })
        .collect();
    let unloaded_modules = state
        .unloaded_modules
        .iter()
        .map(|m| UnloadedModuleTruth {
            filename: m.name.clone(),
            code_id: non_empty(m.code_identifier().map(|c| c.as_str().to_lowercase())),
            base_addr: m.base_address(),
            end_addr: m.base_address() + m.size(),
        })
        .collect();
    GroundTruth {
        status: "OK".to_string(),
        os: Some(state.system_info.os.long_name().into_owned()),
        cpu_arch: Some(state.system_info.cpu.to_string()),
        pid: state.process_id,
        crash_reason: state.exception_info.as_ref().map(|e| e.reason.to_string()),
        crash_address: state.exception_info.as_ref().map(|e| e.address.0),
        crashing_thread: state.requesting_thread,
        threads,
        modules,
        unloaded_modules,
        socorro: None,
    }
}

/// Reads `minidump-stackwalk --json` output into the truth's shape. Missing fields read as absent.
pub fn observe_json(json: &Value) -> GroundTruth {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let h = |v: &Value| v.as_str().and_then(hex::parse);
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let threads = arr(&json["threads"])
        .iter()
        .map(|t| ThreadTruth {
            thread_id: t["thread_id"].as_u64().unwrap_or(u64::MAX) as u32,
            thread_name: s(&t["thread_name"]),
            frames: arr(&t["frames"])
                .iter()
                .map(|f| FrameTruth {
                    trust: trust_from_str(f["trust"].as_str().unwrap_or("non")),
                    offset: h(&f["offset"]).unwrap_or(u64::MAX),
                    module: s(&f["module"]),
                    module_offset: h(&f["module_offset"]),
                    function: s(&f["function"]),
                    function_offset: h(&f["function_offset"]),
                    file: s(&f["file"]),
                    line: f["line"].as_u64().map(|l| l as u32),
                    inlines: arr(&f["inlines"])
                        .iter()
                        .map(|i| InlineTruth {
                            function: s(&i["function"]).unwrap_or_default(),
                            file: s(&i["file"]),
                            line: i["line"].as_u64().map(|l| l as u32),
                        })
                        .collect(),
                    unloaded_modules: arr(&f["unloaded_modules"])
                        .iter()
                        .map(|u| UnloadedHit {
                            module: s(&u["module"]).unwrap_or_default(),
                            offsets: arr(&u["offsets"]).iter().filter_map(h).collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let modules = arr(&json["modules"])
        .iter()
        .map(|m| ModuleTruth {
            filename: s(&m["filename"]).unwrap_or_default(),
            debug_file: non_empty(s(&m["debug_file"])),
            debug_id: s(&m["debug_id"]).filter(|id| !is_nil_debug_id(id)),
            code_id: non_empty(s(&m["code_id"]).map(|c| c.to_lowercase())),
            base_addr: h(&m["base_addr"]).unwrap_or(u64::MAX),
            end_addr: h(&m["end_addr"]).unwrap_or(u64::MAX),
            loaded_symbols: m["loaded_symbols"].as_bool().unwrap_or(false),
            corrupt_symbols: m["corrupt_symbols"].as_bool().unwrap_or(false),
        })
        .collect();
    let unloaded_modules = arr(&json["unloaded_modules"])
        .iter()
        .map(|m| UnloadedModuleTruth {
            filename: s(&m["filename"]).unwrap_or_default(),
            code_id: non_empty(s(&m["code_id"]).map(|c| c.to_lowercase())),
            base_addr: h(&m["base_addr"]).unwrap_or(u64::MAX),
            end_addr: h(&m["end_addr"]).unwrap_or(u64::MAX),
        })
        .collect();
    let crash = &json["crash_info"];
    GroundTruth {
        status: s(&json["status"]).map_or_else(
            || "missing".to_string(),
            |s| {
                if s == "OK" { "OK".to_string() } else { s }
            },
        ),
        os: s(&json["system_info"]["os"]),
        cpu_arch: s(&json["system_info"]["cpu_arch"]),
        pid: json["pid"].as_u64().map(|p| p as u32),
        crash_reason: s(&crash["type"]),
        crash_address: h(&crash["address"]),
        crashing_thread: crash["crashing_thread"].as_u64().map(|i| i as usize),
        threads,
        modules,
        unloaded_modules,
        socorro: None,
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn is_nil_debug_id(id: &str) -> bool {
    id.is_empty() || id.bytes().all(|b| b == b'0')
}

fn trust_from_str(s: &str) -> Trust {
    match s {
        "context" => Trust::Context,
        "cfi" => Trust::Cfi,
        "frame_pointer" => Trust::FramePointer,
        "scan" => Trust::Scan,
        // `cfi_scan`, `prewalked`, `non`: nothing the generator produces; report as a scan.
        _ => Trust::Scan,
    }
}

/// Debug text without the `Some(..)` wrapper, `none` for absent values.
fn show<T: fmt::Debug>(v: &T) -> String {
    let text = format!("{v:?}");
    match text.strip_prefix("Some(").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None if text == "None" => "none".to_string(),
        None => text,
    }
}

fn cmp<T: PartialEq + fmt::Debug>(out: &mut Vec<Mismatch>, path: &str, expected: &T, actual: &T) {
    if expected != actual {
        out.push(Mismatch {
            path: path.to_string(),
            expected: show(expected),
            actual: show(actual),
        });
    }
}

fn cmp_hex(out: &mut Vec<Mismatch>, path: &str, expected: Option<u64>, actual: Option<u64>) {
    if expected != actual {
        let fmt = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |v| format!("{v:#x}"));
        out.push(Mismatch {
            path: path.to_string(),
            expected: fmt(expected),
            actual: fmt(actual),
        });
    }
}

/// Field-by-field differences between an expected and an observed result.
pub fn diff(expected: &GroundTruth, actual: &GroundTruth) -> Vec<Mismatch> {
    let mut out = Vec::new();
    cmp(&mut out, "status", &expected.status, &actual.status);
    if expected.status != "OK" {
        return out;
    }
    cmp(&mut out, "system_info.os", &expected.os, &actual.os);
    cmp(
        &mut out,
        "system_info.cpu_arch",
        &expected.cpu_arch,
        &actual.cpu_arch,
    );
    cmp(&mut out, "pid", &expected.pid, &actual.pid);
    cmp(
        &mut out,
        "crash_info.type",
        &expected.crash_reason,
        &actual.crash_reason,
    );
    cmp_hex(
        &mut out,
        "crash_info.address",
        expected.crash_address,
        actual.crash_address,
    );
    cmp(
        &mut out,
        "crash_info.crashing_thread",
        &expected.crashing_thread,
        &actual.crashing_thread,
    );
    cmp(
        &mut out,
        "threads.len",
        &expected.threads.len(),
        &actual.threads.len(),
    );
    for (ti, (e, a)) in expected.threads.iter().zip(&actual.threads).enumerate() {
        let p = format!("threads[{ti}]");
        cmp(
            &mut out,
            &format!("{p}.thread_id"),
            &e.thread_id,
            &a.thread_id,
        );
        cmp(
            &mut out,
            &format!("{p}.thread_name"),
            &e.thread_name,
            &a.thread_name,
        );
        cmp(
            &mut out,
            &format!("{p}.frames.len"),
            &e.frames.len(),
            &a.frames.len(),
        );
        for (fi, (ef, af)) in e.frames.iter().zip(&a.frames).enumerate() {
            let p = format!("{p}.frames[{fi}]");
            cmp(&mut out, &format!("{p}.trust"), &ef.trust, &af.trust);
            cmp_hex(
                &mut out,
                &format!("{p}.offset"),
                Some(ef.offset),
                Some(af.offset),
            );
            cmp(&mut out, &format!("{p}.module"), &ef.module, &af.module);
            cmp_hex(
                &mut out,
                &format!("{p}.module_offset"),
                ef.module_offset,
                af.module_offset,
            );
            cmp(
                &mut out,
                &format!("{p}.function"),
                &ef.function,
                &af.function,
            );
            cmp_hex(
                &mut out,
                &format!("{p}.function_offset"),
                ef.function_offset,
                af.function_offset,
            );
            cmp(&mut out, &format!("{p}.file"), &ef.file, &af.file);
            cmp(&mut out, &format!("{p}.line"), &ef.line, &af.line);
            cmp(&mut out, &format!("{p}.inlines"), &ef.inlines, &af.inlines);
            cmp(
                &mut out,
                &format!("{p}.unloaded_modules"),
                &ef.unloaded_modules,
                &af.unloaded_modules,
            );
        }
    }
    cmp(
        &mut out,
        "modules.len",
        &expected.modules.len(),
        &actual.modules.len(),
    );
    for (mi, (e, a)) in expected.modules.iter().zip(&actual.modules).enumerate() {
        let p = format!("modules[{mi}]");
        cmp(&mut out, &format!("{p}.filename"), &e.filename, &a.filename);
        cmp(
            &mut out,
            &format!("{p}.debug_file"),
            &e.debug_file,
            &a.debug_file,
        );
        cmp(&mut out, &format!("{p}.debug_id"), &e.debug_id, &a.debug_id);
        cmp(&mut out, &format!("{p}.code_id"), &e.code_id, &a.code_id);
        cmp_hex(
            &mut out,
            &format!("{p}.base_addr"),
            Some(e.base_addr),
            Some(a.base_addr),
        );
        cmp_hex(
            &mut out,
            &format!("{p}.end_addr"),
            Some(e.end_addr),
            Some(a.end_addr),
        );
        cmp(
            &mut out,
            &format!("{p}.loaded_symbols"),
            &e.loaded_symbols,
            &a.loaded_symbols,
        );
        cmp(
            &mut out,
            &format!("{p}.corrupt_symbols"),
            &e.corrupt_symbols,
            &a.corrupt_symbols,
        );
    }
    cmp(
        &mut out,
        "unloaded_modules.len",
        &expected.unloaded_modules.len(),
        &actual.unloaded_modules.len(),
    );
    for (mi, (e, a)) in expected
        .unloaded_modules
        .iter()
        .zip(&actual.unloaded_modules)
        .enumerate()
    {
        let p = format!("unloaded_modules[{mi}]");
        cmp(&mut out, &format!("{p}.filename"), &e.filename, &a.filename);
        cmp(&mut out, &format!("{p}.code_id"), &e.code_id, &a.code_id);
        cmp_hex(
            &mut out,
            &format!("{p}.base_addr"),
            Some(e.base_addr),
            Some(a.base_addr),
        );
        cmp_hex(
            &mut out,
            &format!("{p}.end_addr"),
            Some(e.end_addr),
            Some(a.end_addr),
        );
    }
    out
}
