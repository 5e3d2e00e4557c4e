//! Eliot's symbolication API: `POST /symbolicate/v5` and the deprecated `/symbolicate/v4`.
//!
//! Frames of all jobs are grouped by module and modules are processed one at a time, so only
//! one module's parsed symbols are in memory besides a small cache bounded by sym size (the
//! 2022 Eliot OOM came from holding many xul modules at once). A module's sym content comes
//! through the same fault rules as a download of it, so a test can make symbolication see a
//! missing, slow, truncated or corrupt module exactly as Eliot would see it from Tecken.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use breakpad_symbols::{FrameSymbolizer, SimpleModule, SymbolFile};
use serde_json::{Map, Value, json};

use crate::error::SymbolicateError;
use crate::faults::FaultDecision;
use crate::keys::SymbolKey;
use crate::server::AppState;
use crate::sym_body::SymSource;

/// One module of a job's memory map.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModuleRef {
    pub debug_filename: String,
    pub debug_id: String,
}

impl ModuleRef {
    /// Eliot's sym name: `.pdb` → `.sym`, anything else `+ .sym`.
    pub fn sym_name(&self) -> String {
        match self.debug_filename.strip_suffix(".pdb") {
            Some(stem) => format!("{stem}.sym"),
            None => format!("{}.sym", self.debug_filename),
        }
    }
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    pub modules: Vec<ModuleRef>,
    /// (module index or -1, module offset)
    pub stacks: Vec<Vec<(i64, i64)>>,
}

/// What symbolication found for one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameInfo {
    pub function: Option<String>,
    pub function_offset: Option<i64>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Deepest first.
    pub inlines: Vec<(String, Option<String>, Option<u32>)>,
}

/// A cached module: its key, its cost (sym size) and its symbols.
type CacheEntry = (ModuleRef, u64, Arc<SymbolFile>);

/// Parsed modules kept between requests, bounded by the size of their sym files.
pub struct ModuleCache {
    /// Least recently used first, plus the total cost.
    entries: Mutex<(VecDeque<CacheEntry>, u64)>,
    capacity: u64,
}

impl ModuleCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: Mutex::new((VecDeque::new(), 0)),
            capacity,
        }
    }

    fn get(&self, module: &ModuleRef) -> Option<Arc<SymbolFile>> {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = guard.0.iter().position(|(m, _, _)| m == module)?;
        let entry = guard.0.remove(at)?;
        let symbols = entry.2.clone();
        guard.0.push_back(entry);
        Some(symbols)
    }

    fn insert(&self, module: ModuleRef, cost: u64, symbols: Arc<SymbolFile>) {
        if cost > self.capacity {
            return;
        }
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        while guard.1 + cost > self.capacity {
            match guard.0.pop_front() {
                Some((_, old, _)) => guard.1 -= old,
                None => break,
            }
        }
        guard.1 += cost;
        guard.0.push_back((module, cost, symbols));
    }
}

fn bad(message: impl Into<String>) -> SymbolicateError {
    SymbolicateError::BadRequest(message.into())
}

fn is_debug_filename(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'.' | b'+' | b'{' | b'}' | b'@' | b'<' | b'>' | b' ' | b'~' | b'-'
            )
    })
}

/// Validates one job as Eliot does.
fn parse_job(i: usize, job: &Value) -> Result<Job, SymbolicateError> {
    let job = job
        .as_object()
        .ok_or_else(|| bad(format!("job {i} is invalid")))?;
    let stacks = job
        .get("stacks")
        .ok_or_else(|| bad(format!("job {i} is invalid: no stacks specified")))?;
    let memory_map = job
        .get("memoryMap")
        .ok_or_else(|| bad(format!("job {i} is invalid: no memoryMap specified")))?;
    let invalid_modules = |m: String| bad(format!("job {i} has invalid modules: {m}"));
    let modules = memory_map
        .as_array()
        .ok_or_else(|| invalid_modules("modules must be a list".into()))?
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let pair = m.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                invalid_modules(format!(
                    "module index {n} does not have a debug_filename and debug_id"
                ))
            })?;
            let debug_filename = pair[0]
                .as_str()
                .filter(|s| is_debug_filename(s))
                .ok_or_else(|| {
                    invalid_modules(format!("module index {n} has an invalid debug_filename"))
                })?;
            let debug_id = pair[1]
                .as_str()
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    invalid_modules(format!("module index {n} has an invalid debug_id"))
                })?;
            Ok(ModuleRef {
                debug_filename: debug_filename.to_string(),
                debug_id: debug_id.to_ascii_uppercase(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let invalid_stacks = |m: String| bad(format!("job {i} has invalid stacks: {m}"));
    let stacks = stacks
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_stacks("stacks must be a non-empty list".into()))?
        .iter()
        .enumerate()
        .map(|(s, stack)| {
            stack
                .as_array()
                .ok_or_else(|| invalid_stacks(format!("stack {s} is not a list")))?
                .iter()
                .enumerate()
                .map(|(f, frame)| {
                    let pair = frame.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                        invalid_stacks(format!("stack {s} frame {f} is not a list of two items"))
                    })?;
                    let index = pair[0]
                        .as_i64()
                        .filter(|x| *x >= -1 && *x < modules.len() as i64)
                        .ok_or_else(|| {
                            invalid_stacks(format!(
                                "stack {s} frame {f} has an invalid module_index"
                            ))
                        })?;
                    let offset = pair[1].as_i64().filter(|x| *x >= -1).ok_or_else(|| {
                        invalid_stacks(format!("stack {s} frame {f} has an invalid module_offset"))
                    })?;
                    Ok((index, offset))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Job { modules, stacks })
}

/// Parses a request body into jobs (a bare job object is one job).
pub fn parse_request(
    body: &[u8],
    max_jobs: usize,
    max_frames: usize,
) -> Result<Vec<Job>, SymbolicateError> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|_| bad("Payload is not valid JSON"))?;
    let jobs: Vec<Value> = match payload.get("jobs") {
        Some(Value::Array(jobs)) => jobs.clone(),
        Some(_) => return Err(bad("job 0 is invalid")),
        None => vec![payload],
    };
    if jobs.len() > max_jobs {
        return Err(bad(format!(
            "please limit number of jobs in a single request to <= {max_jobs}"
        )));
    }
    let jobs = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| parse_job(i, job))
        .collect::<Result<Vec<_>, _>>()?;
    let frames: usize = jobs.iter().flat_map(|j| &j.stacks).map(Vec::len).sum();
    if frames > max_frames {
        return Err(bad(format!(
            "please limit number of frames in a single request to <= {max_frames}"
        )));
    }
    Ok(jobs)
}

/// A loaded module: its symbols and the name frames show.
struct Loaded {
    symbols: Arc<SymbolFile>,
    module_name: String,
}

/// Collects what breakpad-symbols reports for one address.
#[derive(Default)]
struct Collector {
    instruction: u64,
    info: FrameInfo,
    function_base: Option<u64>,
}

impl FrameSymbolizer for Collector {
    fn get_instruction(&self) -> u64 {
        self.instruction
    }
    fn set_function(&mut self, name: &str, base: u64, _parameter_size: u32) {
        self.info.function = Some(name.to_string());
        self.function_base = Some(base);
    }
    fn set_source_file(&mut self, file: &str, line: u32, _base: u64) {
        self.info.file = Some(file.to_string());
        self.info.line = Some(line);
    }
    fn add_inline_frame(&mut self, name: &str, file: Option<&str>, line: Option<u32>) {
        self.info
            .inlines
            .push((name.to_string(), file.map(str::to_string), line));
    }
}

/// Looks up one module offset.
pub fn lookup(symbols: &SymbolFile, offset: u64) -> FrameInfo {
    let module = SimpleModule::default();
    let mut collector = Collector {
        instruction: offset,
        ..Collector::default()
    };
    symbols.fill_symbol(&module, &mut collector);
    let mut info = collector.info;
    if let Some(base) = collector.function_base {
        info.function_offset = Some(offset as i64 - base as i64);
    } else if let Some((name, start)) = line_before_function(symbols, offset) {
        // symbolic (Eliot's parser) attributes a line record that starts before its FUNC to
        // that function, giving a negative offset (dump_syms #535: "-0x5").
        info.function = Some(name);
        info.function_offset = Some(offset as i64 - start as i64);
    }
    // Breakpad reports inlines outermost first; Eliot lists them deepest first.
    info.inlines.reverse();
    if info.line == Some(0) {
        info.line = None;
    }
    info
}

/// The function whose first line record (placed before the FUNC) covers `offset`.
fn line_before_function(symbols: &SymbolFile, offset: u64) -> Option<(String, u64)> {
    let funcs = symbols.functions.ranges_values().as_slice();
    let next = funcs.partition_point(|(range, _)| range.start <= offset);
    let (_, func) = funcs.get(next)?;
    func.lines
        .ranges_values()
        .as_slice()
        .iter()
        .any(|(range, _)| range.start <= offset && offset < range.end)
        .then(|| (func.name.clone(), func.address))
}

fn hex(x: i64) -> String {
    if x < 0 {
        format!("-0x{:x}", x.unsigned_abs())
    } else {
        format!("0x{x:x}")
    }
}

/// Fetches and parses one module through the download faults; None when Eliot would say
/// `false` (missing, erroring or unparseable).
async fn load_module(state: &Arc<AppState>, module: &ModuleRef) -> Option<Loaded> {
    let sym_name = module.sym_name();
    let path = format!(
        "/{}/{}/{}",
        module.debug_filename, module.debug_id, sym_name
    );
    let decision: FaultDecision = state.faults.decide(&path, Some(&module.debug_filename));
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    if decision.status.is_some() {
        return None;
    }
    let key = SymbolKey::parse(&module.debug_filename, &module.debug_id, &sym_name)?;
    let faulted = !decision.body.is_empty();
    let (source, header_name) = match decision.body.synthetic_size {
        Some(size) => (
            SymSource::Synthetic {
                debug_file: key.debug_file.clone(),
                debug_id: key.debug_id.clone(),
                size,
            },
            None,
        ),
        None => {
            let file = state.store.get(&key, true).ok()??;
            let name = file.header.code_file.clone().filter(|c| !c.is_empty());
            (
                SymSource::File {
                    path: file.path.clone(),
                    size: file.size,
                },
                name,
            )
        }
    };
    let module_name = header_name.unwrap_or_else(|| module.debug_filename.clone());
    if !faulted && let Some(symbols) = state.symbolizer.get(module) {
        return Some(Loaded {
            symbols,
            module_name,
        });
    }
    let cost = source.nominal_size();
    let body_faults = decision.body.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let reader = source.open(&body_faults).ok()?;
        SymbolFile::parse(reader, |_| ()).ok()
    })
    .await
    .ok()??;
    let symbols = Arc::new(parsed);
    if !faulted {
        state
            .symbolizer
            .insert(module.clone(), cost, symbols.clone());
    }
    Some(Loaded {
        symbols,
        module_name,
    })
}

/// The result for every frame of every job, plus each module's found state.
pub struct Symbolicated {
    /// [job][stack][frame]
    pub frames: Vec<Vec<Vec<(String, FrameInfo)>>>,
    /// Per job, per memoryMap entry: Some(found) or None (never looked up).
    pub found: Vec<Vec<Option<bool>>>,
    pub modules_loaded: usize,
}

/// Symbolicates all jobs, one module at a time.
pub async fn symbolicate(state: &Arc<AppState>, jobs: &[Job]) -> Symbolicated {
    // Where each module's frames are: module -> [(job, stack, frame)].
    let mut by_module: BTreeMap<&ModuleRef, Vec<(usize, usize, usize)>> = BTreeMap::new();
    let mut frames: Vec<Vec<Vec<(String, FrameInfo)>>> = Vec::with_capacity(jobs.len());
    let mut found: Vec<Vec<Option<bool>>> = Vec::with_capacity(jobs.len());
    for (j, job) in jobs.iter().enumerate() {
        found.push(vec![None; job.modules.len()]);
        frames.push(
            job.stacks
                .iter()
                .enumerate()
                .map(|(s, stack)| {
                    stack
                        .iter()
                        .enumerate()
                        .map(|(f, &(index, _))| {
                            if index >= 0 {
                                let module = &job.modules[index as usize];
                                by_module.entry(module).or_default().push((j, s, f));
                                (module.debug_filename.clone(), FrameInfo::default())
                            } else {
                                ("<unknown>".to_string(), FrameInfo::default())
                            }
                        })
                        .collect()
                })
                .collect(),
        );
    }
    let modules_loaded = by_module.len();
    for (module, places) in by_module {
        let loaded = load_module(state, module).await;
        for &(j, s, f) in &places {
            let (index, offset) = jobs[j].stacks[s][f];
            found[j][index as usize] = Some(loaded.is_some());
            if let Some(loaded) = &loaded {
                let entry = &mut frames[j][s][f];
                entry.0 = loaded.module_name.clone();
                if offset >= 0 {
                    entry.1 = lookup(&loaded.symbols, offset as u64);
                }
            }
        }
        // `loaded` drops here: the next module is parsed with this one gone.
    }
    Symbolicated {
        frames,
        found,
        modules_loaded,
    }
}

fn frame_json(index: usize, module: &str, offset: i64, info: &FrameInfo) -> Value {
    let mut frame = Map::new();
    frame.insert("frame".into(), json!(index));
    frame.insert("module".into(), json!(module));
    frame.insert("module_offset".into(), json!(hex(offset)));
    if let Some(function) = &info.function {
        frame.insert("function".into(), json!(function));
        if let Some(off) = info.function_offset {
            frame.insert("function_offset".into(), json!(hex(off)));
        }
    }
    if let Some(file) = &info.file {
        frame.insert("file".into(), json!(file));
        if let Some(line) = info.line {
            frame.insert("line".into(), json!(line));
        }
    }
    if !info.inlines.is_empty() {
        let inlines: Vec<Value> = info
            .inlines
            .iter()
            .map(|(function, file, line)| {
                let mut inline = Map::new();
                inline.insert("function".into(), json!(function));
                if let Some(file) = file {
                    inline.insert("file".into(), json!(file));
                    if let Some(line) = line.filter(|l| *l != 0) {
                        inline.insert("line".into(), json!(line));
                    }
                }
                Value::Object(inline)
            })
            .collect();
        frame.insert("inlines".into(), Value::Array(inlines));
    }
    Value::Object(frame)
}

/// The v5 response body.
pub fn v5_response(jobs: &[Job], result: &Symbolicated) -> Value {
    let results: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            let stacks: Vec<Value> = job
                .stacks
                .iter()
                .enumerate()
                .map(|(s, stack)| {
                    Value::Array(
                        stack
                            .iter()
                            .enumerate()
                            .map(|(f, &(_, offset))| {
                                let (module, info) = &result.frames[j][s][f];
                                frame_json(f, module, offset, info)
                            })
                            .collect(),
                    )
                })
                .collect();
            let found: Map<String, Value> = job
                .modules
                .iter()
                .enumerate()
                .map(|(m, module)| {
                    (
                        format!("{}/{}", module.debug_filename, module.debug_id),
                        json!(result.found[j][m]),
                    )
                })
                .collect();
            json!({"stacks": stacks, "found_modules": found})
        })
        .collect();
    json!({ "results": results })
}

/// The v4 response body (one job).
pub fn v4_response(job: &Job, result: &Symbolicated) -> Value {
    let stacks: Vec<Value> = job
        .stacks
        .iter()
        .enumerate()
        .map(|(s, stack)| {
            Value::Array(
                stack
                    .iter()
                    .enumerate()
                    .map(|(f, &(index, offset))| {
                        let (module, info) = &result.frames[0][s][f];
                        match &info.function {
                            Some(function) => json!(format!("{function} (in {module})")),
                            None => {
                                let name = if index >= 0 {
                                    job.modules[index as usize].debug_filename.as_str()
                                } else {
                                    module.as_str()
                                };
                                json!(format!("{} (in {name})", hex(offset)))
                            }
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    json!({"symbolicatedStacks": stacks, "knownModules": result.found[0]})
}

fn wants_debug(headers: &HeaderMap) -> bool {
    headers.contains_key("debug")
}

fn check_size(state: &AppState, body: &Bytes) -> Result<(), SymbolicateError> {
    if body.len() > state.config.limits.max_symbolicate_body {
        return Err(SymbolicateError::TooLarge(
            state.config.limits.max_symbolicate_body,
        ));
    }
    Ok(())
}

pub async fn v5(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SymbolicateError> {
    let started = Instant::now();
    check_size(&state, &body)?;
    let limits = &state.config.limits;
    let jobs = parse_request(&body, limits.max_jobs, limits.max_frames)?;
    let result = symbolicate(&state, &jobs).await;
    let mut response = v5_response(&jobs, &result);
    if wants_debug(&headers) {
        response["debug"] = json!({
            "time": started.elapsed().as_secs_f64(),
            "modules": {"count": result.modules_loaded},
        });
    }
    Ok(axum::Json(response).into_response())
}

pub async fn v4(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, SymbolicateError> {
    check_size(&state, &body)?;
    let limits = &state.config.limits;
    let jobs = parse_request(&body, 1, limits.max_frames)?;
    let result = symbolicate(&state, &jobs).await;
    Ok(axum::Json(v4_response(&jobs[0], &result)).into_response())
}
