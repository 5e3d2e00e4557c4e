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
    /// Bytes one member may extract to; counted while extracting (limit + 1 is read at most).
    pub max_member_bytes: u64,
    /// Entries the zip may have: checked against its end-of-central-directory record before
    /// the directory is parsed, and while walking local headers.
    pub max_members: usize,
}

/// Bytes extracted from one archive, all members together, when the caller sets no other
/// limit ([`extract_archive`]); the upload handler passes its configured limit to
/// [`extract_archive_within`]. Only the fuzz targets call the former.
#[cfg(feature = "fuzzing")]
pub const UNLIMITED_EXTRACTION: u64 = u64::MAX;

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

/// Validates and extracts `zip_path` into `store`, with no limit on the bytes extracted in
/// total (each member is still bounded).
#[cfg(feature = "fuzzing")]
pub fn extract_archive(
    store: &SymbolStore,
    zip_path: &Path,
    try_symbols: bool,
    rules: &ArchiveRules<'_>,
    cancel: &Arc<AtomicBool>,
) -> Result<ArchiveOutcome, UploadError> {
    extract_archive_within(
        store,
        zip_path,
        try_symbols,
        rules,
        UNLIMITED_EXTRACTION,
        cancel,
    )
}

/// Validates and extracts `zip_path` into `store`; extraction stops with 413 once the members
/// together pass `max_extracted_bytes` (a zip bomb of many highly compressed members). What was
/// stored before that stays stored, as with any other failure halfway through.
pub fn extract_archive_within(
    store: &SymbolStore,
    zip_path: &Path,
    try_symbols: bool,
    rules: &ArchiveRules<'_>,
    max_extracted_bytes: u64,
    cancel: &Arc<AtomicBool>,
) -> Result<ArchiveOutcome, UploadError> {
    let mut file = File::open(zip_path)?;
    // The zip crate reads the whole central directory into memory: refuse an archive that
    // declares too many entries before it does (each costs a few hundred bytes parsed).
    if declared_entries(&mut file)?.is_some_and(|n| n > rules.max_members as u64) {
        return Err(UploadError::TooManyMembers(rules.max_members));
    }
    let mut archive = zip::ZipArchive::new(file).map_err(|_| UploadError::NotAZip)?;
    if archive.len() > rules.max_members {
        return Err(UploadError::TooManyMembers(rules.max_members));
    }
    if archive.has_duplicate_names()
        && let Some((name, first, second)) = duplicate_size_conflict(zip_path, rules.max_members)?
    {
        return Err(UploadError::DuplicateSizes {
            name,
            first,
            second,
        });
    }
    let members = check_listing(&mut archive, rules)?;
    let mut outcome = ArchiveOutcome::default();
    let mut extracted = 0u64;
    for member in members {
        match member {
            Member::Ignored(name) => outcome.ignored.push(name),
            Member::Symbol { index, key, name } => {
                let mut entry = archive
                    .by_index(index)
                    .map_err(|e| UploadError::BadForm(format!("bad zip member: {e}")))?;
                let mut staged = tempfile::NamedTempFile::new_in(store.staging_dir())?;
                // This member may take what is left of the total, or its own limit.
                let left = max_extracted_bytes.saturating_sub(extracted);
                let member_limit = rules.max_member_bytes.min(left);
                let limited = Cancellable {
                    inner: (&mut entry).take(member_limit.saturating_add(1)),
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
                if fp.size > left {
                    return Err(UploadError::ExtractedTooLarge(max_extracted_bytes));
                }
                extracted += fp.size;
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
fn duplicate_size_conflict(
    zip_path: &Path,
    max_members: usize,
) -> Result<Option<(String, u64, u64)>, UploadError> {
    let mut reader = io::BufReader::new(File::open(zip_path)?);
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut walked = 0usize;
    loop {
        // Local headers need not match the central directory: count them too.
        walked += 1;
        if walked > max_members.saturating_add(1) {
            return Err(UploadError::TooManyMembers(max_members));
        }
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

/// The entry count an archive's end-of-central-directory record declares (the zip64 one when
/// the classic record says `0xFFFF`), read from the file's tail without parsing the directory;
/// `None` when there is no such record (the zip parser then refuses the file).
pub fn declared_entries<R: Read + io::Seek>(file: &mut R) -> io::Result<Option<u64>> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
    let len = file.seek(io::SeekFrom::End(0))?;
    // The record is 22 bytes plus a comment of at most 65,535.
    let tail_len = len.min(22 + 65_535);
    file.seek(io::SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)
    else {
        return Ok(None);
    };
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let classic = u64::from(u16_at(&tail, at + 10).max(u16_at(&tail, at + 8)));
    if classic != 0xFFFF {
        return Ok(Some(classic));
    }
    // Zip64: the locator sits just before the classic record and points at the zip64 record.
    let eocd_offset = len - tail_len + at as u64;
    if eocd_offset < 20 {
        return Ok(Some(classic));
    }
    let mut locator = [0u8; 20];
    file.seek(io::SeekFrom::Start(eocd_offset - 20))?;
    file.read_exact(&mut locator)?;
    if locator[..4] != ZIP64_LOCATOR {
        return Ok(Some(classic));
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&locator[8..16]);
    let record_at = u64::from_le_bytes(offset);
    let mut record = [0u8; 56];
    if record_at.saturating_add(56) > len {
        return Ok(Some(classic));
    }
    file.seek(io::SeekFrom::Start(record_at))?;
    file.read_exact(&mut record)?;
    if record[..4] != ZIP64_EOCD {
        return Ok(Some(classic));
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&record[32..40]);
    Ok(Some(u64::from_le_bytes(count).max(classic)))
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
