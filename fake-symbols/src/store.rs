//! The symbol store: files on disk in the standard `<debug_file>/<DEBUG_ID>/<sym_file>` layout
//! (try uploads under `try/`), plus a small SQLite index of each file's size, md5 and module
//! header so lookups (code-id redirects, syminfo, skip-on-reupload) never read the files.
//!
//! A directory may be pre-seeded: opening the store indexes every file already in the layout.
//! Files are only ever placed by an atomic rename from the store's own staging directory, so
//! a reader never sees a half-written symbol file.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use md5::{Digest, Md5};
use rusqlite::{Connection, OptionalExtension, params};

use crate::keys::SymbolKey;
use crate::sym_header::SymHeader;

/// The store's own files, inside the symbols directory. `#` is outside Tecken's key
/// characters, so no uploaded `<debug_file>` can name (and overwrite or delete) them.
pub const INTERNAL_DIR: &str = "#fake-symbols";
/// Name of the index database inside [`INTERNAL_DIR`].
pub const INDEX_FILE: &str = "index.sqlite";
/// Staging directory for uploads and extraction inside [`INTERNAL_DIR`] (same filesystem as
/// the store, for renames).
pub const STAGING_DIR: &str = "staging";
/// Directory holding try symbols.
const TRY_DIR: &str = "try";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("symbol store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("symbol index error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// One stored symbol file as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredFile {
    pub key: SymbolKey,
    /// Uploaded as a try symbol (served only to `/try/` or `?try` requests).
    pub try_symbols: bool,
    /// Size in bytes (64-bit: the 2022 Tecken upload overflowed a 32-bit column).
    pub size: u64,
    /// Lower-case hex md5 of the content.
    pub md5: String,
    pub header: SymHeader,
    #[serde(skip)]
    pub path: PathBuf,
}

/// What [`SymbolStore::put_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// An identical file (same size and md5) was already there.
    Skipped,
}

/// Size and md5 of some content, computed while it streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub md5: String,
}

/// Copies `reader` to `writer`, returning its fingerprint.
pub fn copy_fingerprinted(
    mut reader: impl Read,
    mut writer: impl Write,
) -> std::io::Result<Fingerprint> {
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        size += n as u64;
    }
    writer.flush()?;
    Ok(Fingerprint {
        size,
        md5: hex::encode(hasher.finalize()),
    })
}

/// The on-disk store with its index.
pub struct SymbolStore {
    root: PathBuf,
    index: Mutex<Connection>,
    /// Held across a write's skip check, rename and index update, so two uploads of one key
    /// cannot interleave (one file on disk, the other's size and md5 in the index).
    writes: Mutex<()>,
}

impl SymbolStore {
    /// Opens (creating if needed) the store at `root` and indexes files already there.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let internal = root.join(INTERNAL_DIR);
        fs::create_dir_all(internal.join(STAGING_DIR))?;
        let conn = Connection::open(internal.join(INDEX_FILE))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS symbols (
                 debug_file TEXT NOT NULL,
                 debug_id TEXT NOT NULL,
                 file_name TEXT NOT NULL,
                 try_symbols INTEGER NOT NULL,
                 size INTEGER NOT NULL,
                 md5 TEXT NOT NULL,
                 os TEXT, arch TEXT, module_debug_id TEXT, module_debug_file TEXT,
                 code_id TEXT, code_file TEXT, generator TEXT,
                 PRIMARY KEY (debug_file, debug_id, file_name, try_symbols)
             );
             CREATE INDEX IF NOT EXISTS symbols_code ON symbols (code_file, code_id);",
        )?;
        let store = Self {
            root,
            index: Mutex::new(conn),
            writes: Mutex::new(()),
        };
        store.index_existing()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where uploads and extractions stage their temporary files.
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(INTERNAL_DIR).join(STAGING_DIR)
    }

    /// The path a key is stored at.
    pub fn path_of(&self, key: &SymbolKey, try_symbols: bool) -> PathBuf {
        let base = if try_symbols {
            self.root.join(TRY_DIR)
        } else {
            self.root.clone()
        };
        base.join(&key.debug_file)
            .join(&key.debug_id)
            .join(&key.file_name)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (each statement is
        // atomic), so a poisoned lock is still usable.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Indexes files in the layout that the index does not know (a pre-seeded directory) and
    /// forgets rows whose file is gone.
    fn index_existing(&self) -> Result<(), StoreError> {
        let known: Vec<(SymbolKey, bool)> = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare("SELECT debug_file, debug_id, file_name, try_symbols FROM symbols")?;
            stmt.query_map([], |row| {
                Ok((
                    SymbolKey {
                        debug_file: row.get(0)?,
                        debug_id: row.get(1)?,
                        file_name: row.get(2)?,
                    },
                    row.get::<_, bool>(3)?,
                ))
            })?
            .collect::<Result<_, _>>()?
        };
        for (key, try_symbols) in &known {
            if !self.path_of(key, *try_symbols).is_file() {
                self.conn().execute(
                    "DELETE FROM symbols WHERE debug_file=?1 AND debug_id=?2 AND file_name=?3 AND try_symbols=?4",
                    params![key.debug_file, key.debug_id, key.file_name, try_symbols],
                )?;
            }
        }
        for try_symbols in [false, true] {
            let base = if try_symbols {
                self.root.join(TRY_DIR)
            } else {
                self.root.clone()
            };
            for (key, path) in layout_files(&base)? {
                if !try_symbols && key.debug_file == TRY_DIR {
                    continue;
                }
                if known.contains(&(key.clone(), try_symbols)) {
                    continue;
                }
                let fingerprint = copy_fingerprinted(File::open(&path)?, std::io::sink())?;
                let header = SymHeader::read(BufReader::new(File::open(&path)?));
                self.upsert(&key, try_symbols, &fingerprint, &header)?;
            }
        }
        Ok(())
    }

    fn upsert(
        &self,
        key: &SymbolKey,
        try_symbols: bool,
        fp: &Fingerprint,
        header: &SymHeader,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO symbols VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                key.debug_file,
                key.debug_id,
                key.file_name,
                try_symbols,
                fp.size as i64,
                fp.md5,
                header.os,
                header.arch,
                header.debug_id,
                header.debug_file,
                header.code_id,
                header.code_file,
                header.generator,
            ],
        )?;
        Ok(())
    }

    /// Moves `staged` (a file inside [`Self::staging_dir`] with content `fp`) into place,
    /// unless an identical file is already stored.
    pub fn put_file(
        &self,
        key: &SymbolKey,
        try_symbols: bool,
        staged: &Path,
        fp: &Fingerprint,
    ) -> Result<PutOutcome, StoreError> {
        // Read before taking the lock: the header is the staged file's own.
        let header = if key.file_name.ends_with(".sym") {
            SymHeader::read(BufReader::new(File::open(staged)?))
        } else {
            SymHeader::default()
        };
        // The skip check, the rename and the index row are one step for other writers (a
        // rename and an upsert take microseconds, so one lock for the store is enough).
        let _write = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.get_exact(key, try_symbols)?
            && existing.size == fp.size
            && existing.md5 == fp.md5
        {
            return Ok(PutOutcome::Skipped);
        }
        let target = self.path_of(key, try_symbols);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::rename(staged, &target)?;
        if let Err(err) = self.upsert(key, try_symbols, fp, &header) {
            // The file is in place but its row is not: drop the file too, so the index and
            // the directory agree (a reopen would index it again anyway).
            let _ = fs::remove_file(&target);
            return Err(err);
        }
        Ok(PutOutcome::Stored)
    }

    /// Stores `content` under `key` (for tests and seeding).
    pub fn put(
        &self,
        key: &SymbolKey,
        try_symbols: bool,
        content: &[u8],
    ) -> Result<PutOutcome, StoreError> {
        let mut staged = tempfile::NamedTempFile::new_in(self.staging_dir())?;
        let fp = copy_fingerprinted(content, staged.as_file_mut())?;
        let (_, path) = staged.keep().map_err(|e| e.error)?;
        let outcome = self.put_file(key, try_symbols, &path, &fp);
        if !matches!(outcome, Ok(PutOutcome::Stored)) {
            let _ = fs::remove_file(&path);
        }
        outcome
    }

    /// The file stored under exactly this key and try flag.
    pub fn get_exact(
        &self,
        key: &SymbolKey,
        try_symbols: bool,
    ) -> Result<Option<StoredFile>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("{SELECT} WHERE debug_file=?1 AND debug_id=?2 AND file_name=?3 AND try_symbols=?4"),
                params![key.debug_file, key.debug_id, key.file_name, try_symbols],
                |row| self.row_to_file(row),
            )
            .optional()?;
        Ok(row)
    }

    /// Tecken's lookup: regular storage first, then try storage when `include_try`.
    pub fn get(
        &self,
        key: &SymbolKey,
        include_try: bool,
    ) -> Result<Option<StoredFile>, StoreError> {
        if let Some(found) = self.get_exact(key, false)? {
            return Ok(Some(found));
        }
        if include_try {
            return self.get_exact(key, true);
        }
        Ok(None)
    }

    /// Every stored file, ordered by key.
    pub fn list(&self) -> Result<Vec<StoredFile>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT} ORDER BY debug_file, debug_id, file_name, try_symbols"
        ))?;
        let rows = stmt
            .query_map([], |row| self.row_to_file(row))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// How many files are stored (a cheap health check).
    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM symbols", [], |row| row.get(0))?;
        Ok(n as u64)
    }

    /// A `.sym` whose header names this code file and code id (case-insensitive id).
    pub fn find_by_code(
        &self,
        code_file: &str,
        code_id: &str,
        include_try: bool,
    ) -> Result<Option<StoredFile>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "{SELECT} WHERE code_file=?1 AND upper(code_id)=upper(?2) AND (try_symbols=0 OR ?3)
                     ORDER BY try_symbols LIMIT 1"
                ),
                params![code_file, code_id, include_try],
                |row| self.row_to_file(row),
            )
            .optional()?;
        Ok(row)
    }

    /// Syminfo lookup: by code file/id, else by debug file/id.
    pub fn find_module(&self, file: &str, id: &str) -> Result<Option<StoredFile>, StoreError> {
        if let Some(found) = self.find_by_code(file, id, true)? {
            return Ok(Some(found));
        }
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "{SELECT} WHERE debug_file=?1 AND debug_id=upper(?2) AND file_name LIKE '%.sym'
                     ORDER BY try_symbols LIMIT 1"
                ),
                params![file, id],
                |row| self.row_to_file(row),
            )
            .optional()?;
        Ok(row)
    }

    fn row_to_file(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFile> {
        let key = SymbolKey {
            debug_file: row.get(0)?,
            debug_id: row.get(1)?,
            file_name: row.get(2)?,
        };
        let try_symbols: bool = row.get(3)?;
        Ok(StoredFile {
            path: self.path_of(&key, try_symbols),
            key,
            try_symbols,
            size: row.get::<_, i64>(4)? as u64,
            md5: row.get(5)?,
            header: SymHeader {
                os: row.get(6)?,
                arch: row.get(7)?,
                debug_id: row.get(8)?,
                debug_file: row.get(9)?,
                code_id: row.get(10)?,
                code_file: row.get(11)?,
                generator: row.get(12)?,
            },
        })
    }
}

const SELECT: &str = "SELECT debug_file, debug_id, file_name, try_symbols, size, md5, os, arch, \
     module_debug_id, module_debug_file, code_id, code_file, generator FROM symbols";

/// Files exactly three levels below `base` whose components are valid keys.
fn layout_files(base: &Path) -> std::io::Result<Vec<(SymbolKey, PathBuf)>> {
    let mut found = Vec::new();
    let Ok(level1) = fs::read_dir(base) else {
        return Ok(found);
    };
    for a in level1.flatten() {
        if !a.file_type()?.is_dir() {
            continue;
        }
        for b in fs::read_dir(a.path())?.flatten() {
            if !b.file_type()?.is_dir() {
                continue;
            }
            for c in fs::read_dir(b.path())?.flatten() {
                if !c.file_type()?.is_file() {
                    continue;
                }
                let names = (
                    a.file_name().to_string_lossy().into_owned(),
                    b.file_name().to_string_lossy().into_owned(),
                    c.file_name().to_string_lossy().into_owned(),
                );
                if let Some(key) = SymbolKey::parse(&names.0, &names.1, &names.2)
                    && key.debug_id == names.1
                {
                    found.push((key, c.path()));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_skip_and_reindex() {
        let dir = tempfile::tempdir().unwrap();
        let key = SymbolKey::from_path("xul.pdb/ABC1/xul.sym").unwrap();
        let sym = b"MODULE windows x86_64 ABC1 xul.pdb\nINFO CODE_ID 5F00 xul.dll\n";
        {
            let store = SymbolStore::open(dir.path()).unwrap();
            assert_eq!(store.put(&key, false, sym).unwrap(), PutOutcome::Stored);
            assert_eq!(store.put(&key, false, sym).unwrap(), PutOutcome::Skipped);
            let found = store.get(&key, false).unwrap().unwrap();
            assert_eq!(found.size, sym.len() as u64);
            assert_eq!(fs::read(&found.path).unwrap(), sym);
            let by_code = store
                .find_by_code("xul.dll", "5f00", false)
                .unwrap()
                .unwrap();
            assert_eq!(by_code.key, key);
        }
        // A pre-seeded file appears after reopening.
        let seeded = dir.path().join("libc.so/DEF0/libc.so.sym");
        fs::create_dir_all(seeded.parent().unwrap()).unwrap();
        fs::write(&seeded, b"MODULE Linux x86_64 DEF0 libc.so\n").unwrap();
        let store = SymbolStore::open(dir.path()).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        assert_eq!(store.count().unwrap(), 2);
        let try_key = SymbolKey::from_path("t.pdb/AA/t.sym").unwrap();
        store
            .put(&try_key, true, b"MODULE windows x86 AA t.pdb\n")
            .unwrap();
        assert!(store.get(&try_key, false).unwrap().is_none());
        assert!(store.get(&try_key, true).unwrap().unwrap().try_symbols);
    }

    #[test]
    fn sizes_beyond_32_bits_round_trip() {
        // The 2022 Tecken upload of 2,644,960,066 bytes overflowed a 32-bit column.
        let dir = tempfile::tempdir().unwrap();
        let store = SymbolStore::open(dir.path()).unwrap();
        let key = SymbolKey::from_path("big.zip.sym/AB/big.sym").unwrap();
        let staged = store.staging_dir().join("big");
        fs::write(&staged, b"MODULE Linux x86_64 AB big\n").unwrap();
        let fp = Fingerprint {
            size: 2_644_960_066,
            md5: "0".repeat(32),
        };
        store.put_file(&key, false, &staged, &fp).unwrap();
        assert_eq!(store.get(&key, false).unwrap().unwrap().size, 2_644_960_066);
    }

    #[test]
    fn concurrent_writes_of_one_key_end_with_the_index_matching_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SymbolStore::open(dir.path()).unwrap());
        let key = SymbolKey::from_path("race.pdb/AB12/race.sym").unwrap();
        for round in 0..50 {
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let store = store.clone();
                    let key = key.clone();
                    std::thread::spawn(move || {
                        let content = format!(
                            "MODULE windows x86_64 AB12 race.pdb\nFILE 0 {round}-{w}{}\n",
                            "x".repeat(w * 1000)
                        );
                        store.put(&key, false, content.as_bytes()).unwrap();
                    })
                })
                .collect();
            for writer in writers {
                writer.join().unwrap();
            }
            let found = store.get(&key, false).unwrap().unwrap();
            let on_disk = fs::read(&found.path).unwrap();
            let fp = copy_fingerprinted(&on_disk[..], std::io::sink()).unwrap();
            assert_eq!(
                (found.size, &found.md5),
                (fp.size, &fp.md5),
                "round {round}"
            );
        }
    }
}
