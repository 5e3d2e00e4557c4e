//! A bench's working directory: the one the user named (made if missing, kept afterwards), or
//! a temporary one removed when the bench ends.

use std::path::{Path, PathBuf};

pub struct Scratch {
    path: PathBuf,
    /// Removes the temporary directory when dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl Scratch {
    /// `dir` when given, else a temporary directory named after `prefix`.
    pub fn new(dir: Option<&Path>, prefix: &str) -> std::io::Result<Self> {
        match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Ok(Self {
                    path: dir.to_path_buf(),
                    _temporary: None,
                })
            }
            None => {
                let temporary = tempfile::Builder::new().prefix(prefix).tempdir()?;
                Ok(Self {
                    path: temporary.path().to_path_buf(),
                    _temporary: Some(temporary),
                })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
