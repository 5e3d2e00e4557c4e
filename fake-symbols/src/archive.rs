//! Tecken's handling of an uploaded zip: check the listing (pattern, snippets, duplicates)
//! before anything is written, then extract member by member into the store.
//!
//! Each member streams through a staging temp file (size and md5 computed on the way) and is
//! renamed into place, so memory stays flat for any archive size and a cancelled upload leaves
//! nothing behind: temp files delete themselves when dropped, and the cancel flag stops the
//! copy between chunks.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::UploadError;
use crate::keys::SymbolKey;
use crate::store::{PutOutcome, SymbolStore, copy_fingerprinted};

/// What happened to each member.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveOutcome {
    pub stored: Vec<String>,
    /// Identical files already stored (Tecken's `skipped_keys`).
    pub skipped: Vec<String>,
    /// `*-symbols.txt` and `.DS_Store` members.
    pub ignored: Vec<String>,
}

/// Rules for one archive.
pub struct ArchiveRules<'a> {
    pub disallowed_snippets: &'a [String],
    pub max_member_bytes: u64,
    pub max_members: usize,
}

enum Member {
    /// `name` is the member name as uploaded; `key` its normalized place in the store.
    Symbol {
        index: usize,
        key: SymbolKey,
        name: String,
    },
    Ignored(String),
}

/// Storage key as Tecken reports it (`v1/...`, `try/v1/...`): the prefix joined to the member
/// name exactly as uploaded (`os.path.join(prefix, member.name)` in `upload_archive`), so a
/// lower-case debug id stays lower-case in `skipped_keys`.
pub fn storage_key(member_name: &str, try_symbols: bool) -> String {
    if try_symbols {
        format!("try/v1/{member_name}")
    } else {
        format!("v1/{member_name}")
    }
}

/// Validates and extracts `zip_path` into `store`.
pub fn extract_archive(
    store: &SymbolStore,
    zip_path: &Path,
    try_symbols: bool,
    rules: &ArchiveRules<'_>,
    cancel: &Arc<AtomicBool>,
) -> Result<ArchiveOutcome, UploadError> {
    let file = File::open(zip_path)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|_| UploadError::NotAZip)?;
    if archive.len() > rules.max_members {
        return Err(UploadError::TooManyMembers(rules.max_members));
    }
    if archive.has_duplicate_names()
        && let Some((name, first, second)) = duplicate_size_conflict(zip_path)?
    {
        return Err(UploadError::DuplicateSizes {
            name,
            first,
            second,
        });
    }
    let members = check_listing(&mut archive, rules)?;
    let mut outcome = ArchiveOutcome::default();
    for member in members {
        match member {
            Member::Ignored(name) => outcome.ignored.push(name),
            Member::Symbol { index, key, name } => {
                let mut entry = archive
                    .by_index(index)
                    .map_err(|e| UploadError::BadForm(format!("bad zip member: {e}")))?;
                let mut staged = tempfile::NamedTempFile::new_in(store.staging_dir())?;
                let limited = Cancellable {
                    inner: (&mut entry).take(rules.max_member_bytes + 1),
                    cancel: cancel.clone(),
                };
                let fp = copy_fingerprinted(limited, staged.as_file_mut()).map_err(|e| {
                    if e.kind() == io::ErrorKind::ConnectionAborted {
                        UploadError::Internal("upload cancelled".to_string())
                    } else {
                        UploadError::BadForm(format!(
                            "could not extract {}: {e}",
                            String::from_utf8_lossy(entry.name_raw())
                        ))
                    }
                })?;
                if fp.size > rules.max_member_bytes {
                    return Err(UploadError::TooLarge(rules.max_member_bytes));
                }
                let staged = staged.into_temp_path();
                let name = storage_key(&name, try_symbols);
                match store.put_file(&key, try_symbols, &staged, &fp)? {
                    PutOutcome::Stored => outcome.stored.push(name),
                    PutOutcome::Skipped => outcome.skipped.push(name),
                }
                // After a rename the temp path is gone; dropping it is then a no-op.
                drop(staged);
            }
        }
    }
    Ok(outcome)
}

/// The first name that appears twice with different sizes. The zip crate's central-directory
/// index keeps one entry per name, so this walks the local headers in order instead (only
/// when the index says there are duplicates).
fn duplicate_size_conflict(zip_path: &Path) -> Result<Option<(String, u64, u64)>, UploadError> {
    let mut reader = io::BufReader::new(File::open(zip_path)?);
    let mut sizes: HashMap<String, u64> = HashMap::new();
    loop {
        let entry =
            zip::read::read_zipfile_from_stream(&mut reader).map_err(|_| UploadError::NotAZip)?;
        let Some(mut entry) = entry else {
            return Ok(None);
        };
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        // Streamed entries may carry their size only in a trailing descriptor: count it.
        let size = io::copy(&mut entry, &mut io::sink()).map_err(|_| UploadError::NotAZip)?;
        match sizes.get(&name) {
            Some(&first) if first != size => return Ok(Some((name, first, size))),
            Some(_) => {}
            None => {
                sizes.insert(name, size);
            }
        }
    }
}

/// Tecken's listing checks, in its order: per name the disallowed snippets and the allowed
/// patterns (duplicates with different sizes were checked before).
fn check_listing<R: Read + io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    rules: &ArchiveRules<'_>,
) -> Result<Vec<Member>, UploadError> {
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|_| UploadError::NotAZip)?;
        if entry.is_dir() {
            continue;
        }
        files.push((
            index,
            String::from_utf8_lossy(entry.name_raw()).into_owned(),
        ));
    }
    let mut members = Vec::with_capacity(files.len());
    for (index, name) in files {
        if let Some(snippet) = rules
            .disallowed_snippets
            .iter()
            .find(|s| !s.is_empty() && name.contains(s.as_str()))
        {
            return Err(UploadError::Snippet(snippet.clone()));
        }
        let basename = name.rsplit('/').next().unwrap_or(&name);
        if (!name.contains('/') && name.ends_with("-symbols.txt")) || basename == ".DS_Store" {
            members.push(Member::Ignored(name));
            continue;
        }
        // Absolute paths, `..` and wrong depths all fail the pattern: no zip-slip.
        match SymbolKey::from_path(&name) {
            Some(key) => members.push(Member::Symbol { index, key, name }),
            None => return Err(UploadError::Pattern(name)),
        }
    }
    Ok(members)
}

/// Fails reads once `cancel` is set (the client went away).
struct Cancellable<R> {
    inner: R,
    cancel: Arc<AtomicBool>,
}

impl<R: Read> Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cancelled",
            ));
        }
        self.inner.read(buf)
    }
}
