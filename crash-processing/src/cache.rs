//! The symbol cache's size cap: once the files under the cache pass it, the least recently
//! used are removed until they fit again.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every file under `dir`, with its size and the time it was last used (its access time where
/// the file system keeps one, else its modification time).
fn files(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                let used = meta
                    .accessed()
                    .ok()
                    .max(meta.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((entry.path(), meta.len(), used));
            }
        }
    }
    out
}

/// Removes the least recently used files under `dir` until what is left takes at most
/// `max_bytes`. Returns the bytes removed. A file another process removed first is skipped.
pub(crate) fn enforce_cap(dir: &Path, max_bytes: u64) -> u64 {
    let mut files = files(dir);
    let mut total: u64 = files.iter().map(|(_, size, _)| size).sum();
    if total <= max_bytes {
        return 0;
    }
    files.sort_by_key(|(_, _, used)| *used);
    let mut removed = 0;
    for (path, size, _) in files {
        if total <= max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(size);
            removed += size;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_files_go_first_until_the_rest_fits() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        for (name, size, age) in [
            ("a/a.sym", 400, 3),
            ("b/b.sym", 400, 2),
            ("c/c.sym", 400, 1),
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, vec![b'x'; size]).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            let when = old + std::time::Duration::from_secs(100 - age);
            file.set_times(
                std::fs::FileTimes::new()
                    .set_accessed(when)
                    .set_modified(when),
            )
            .unwrap();
        }
        assert_eq!(
            enforce_cap(dir.path(), 1_200),
            0,
            "within the cap: nothing goes"
        );
        assert_eq!(enforce_cap(dir.path(), 900), 400);
        assert!(!dir.path().join("a/a.sym").exists(), "the oldest went");
        assert!(dir.path().join("b/b.sym").exists());
        assert!(dir.path().join("c/c.sym").exists());
        assert_eq!(enforce_cap(dir.path(), 0), 800);
    }
}
