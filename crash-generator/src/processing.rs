//! Running the real `minidump-processor` over a generated crash, with its `.sym` files served
//! from memory. The supplier behaves like a local symbol directory (a file that fails to parse is
//! reported as loaded and corrupt) plus a symbol server's code-file/code-id lookup for modules
//! whose dump entry has no debug id.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use breakpad_symbols::{
    DebugInfoResult, FileError, FileKind, LocateSymbolsResult, SymbolError, SymbolFile,
    SymbolSupplier, Symbolizer,
};
use minidump::{Minidump, Module};
use minidump_processor::{ProcessError, ProcessState};

use crate::crash::Crash;
use crate::ids;

/// `.sym` files held in memory, keyed by their symbol-server path.
#[derive(Debug, Clone, Default)]
pub struct InMemorySymbols {
    /// `<debug_file>/<debug_id>/<sym_file>` -> bytes.
    files: HashMap<String, Vec<u8>>,
    /// (code_file basename, upper-case code id) -> (debug_file, debug_id).
    code_info: HashMap<(String, String), (String, String)>,
}

impl InMemorySymbols {
    /// The symbols of one crash.
    pub fn for_crash(crash: &Crash) -> Self {
        let mut symbols = InMemorySymbols::default();
        for (path, bytes) in crash.sym_files() {
            symbols.files.insert(path.clone(), bytes.clone());
        }
        let os = crash.program.os;
        for m in &crash.program.modules {
            if let (Some(code_id), Some(debug_file), Some(debug_id)) =
                (m.code_id(os), m.debug_file(), m.debug_id())
            {
                symbols.code_info.insert(
                    (m.filename().to_string(), code_id.to_uppercase()),
                    (ids::basename(&debug_file).to_string(), debug_id),
                );
            }
        }
        symbols
    }

    /// Adds or replaces the `.sym` file at `<debug_file>/<debug_id>/<sym_file>`, e.g. to see
    /// what the processor makes of a crash with edited symbols.
    pub fn insert(&mut self, path: String, bytes: Vec<u8>) {
        self.files.insert(path, bytes);
    }

    fn lookup(&self, debug_file: &str, debug_id: &str) -> Option<&Vec<u8>> {
        let leaf = ids::basename(debug_file);
        let path = format!("{leaf}/{debug_id}/{}", ids::sym_file_name(leaf));
        self.files.get(&path)
    }
}

#[async_trait]
impl SymbolSupplier for InMemorySymbols {
    async fn locate_symbols(
        &self,
        module: &(dyn Module + Sync),
    ) -> Result<LocateSymbolsResult, SymbolError> {
        let debug_file = module.debug_file();
        let debug_id = module.debug_identifier();
        let (bytes, extra) = match (debug_file, debug_id) {
            (Some(file), Some(id)) => (
                self.lookup(&file, &id.breakpad().to_string())
                    .ok_or(SymbolError::NotFound)?,
                None,
            ),
            _ => {
                let code_file = module.code_file();
                let code_id = module.code_identifier().ok_or(SymbolError::NotFound)?;
                let (file, id) = self
                    .code_info
                    .get(&(
                        ids::basename(&code_file).to_string(),
                        code_id.as_str().to_uppercase(),
                    ))
                    .ok_or(SymbolError::NotFound)?;
                let debug_identifier =
                    debugid::DebugId::from_breakpad(id).map_err(|_| SymbolError::NotFound)?;
                (
                    self.lookup(file, id).ok_or(SymbolError::NotFound)?,
                    Some(DebugInfoResult {
                        debug_file: file.clone(),
                        debug_identifier,
                    }),
                )
            }
        };
        let symbols = SymbolFile::from_bytes(bytes)?;
        Ok(LocateSymbolsResult {
            symbols,
            extra_debug_info: extra,
        })
    }

    async fn locate_file(
        &self,
        _module: &(dyn Module + Sync),
        _file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        Err(FileError::NotFound)
    }
}

/// Why a dump could not be processed, named the way minidump-stackwalk logs it.
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    #[error("{name}: {0}", name = .0.name())]
    Read(#[from] minidump::Error),
    #[error("{name}: {0}", name = .0.name())]
    Process(#[from] ProcessError),
}

impl ProcessingError {
    /// The error name (`HeaderMismatch`, `MissingThreadList`, ...), comparable with
    /// [`crate::GroundTruth::status`].
    pub fn name(&self) -> &'static str {
        match self {
            ProcessingError::Read(e) => e.name(),
            ProcessingError::Process(ProcessError::MinidumpReadError(e)) => e.name(),
            ProcessingError::Process(e) => e.name(),
        }
    }
}

/// Processes a crash's minidump with the real processor and the crash's own symbols.
pub async fn process(crash: &Crash) -> Result<ProcessState, ProcessingError> {
    process_with(crash, InMemorySymbols::for_crash(crash)).await
}

/// Processes a crash's minidump with the real processor and the given symbols.
pub async fn process_with(
    crash: &Crash,
    symbols: InMemorySymbols,
) -> Result<ProcessState, ProcessingError> {
    let dump = Minidump::read(crash.minidump_bytes())?;
    let symbolizer = Symbolizer::new(symbols);
    Ok(minidump_processor::process_minidump(&dump, &symbolizer).await?)
}
