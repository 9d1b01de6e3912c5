//! One engine per data directory: an exclusive `flock` on `DATA_DIR/memd.lock`,
//! held from open to close. Invariant: while a `DirLock` lives, no other `DirLock`
//! on the same directory exists, in this process or any other.
//!
//! Two engines on one store would each keep their own in-memory view (LRU order,
//! counters, access statistics, search index) and overwrite each other's flushes;
//! LMDB alone would not stop it (it allows many writers, one at a time). `flock`
//! locks belong to the open file description, so a second open in the same process
//! conflicts too, and the kernel releases the lock when the holder dies, even by
//! `kill -9`: a stale lock file never blocks a restart. The file holds the
//! holder's pid, only to name it in the error.

use crate::error::{CoreError, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "memd.lock";

/// An exclusive lock on a data directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    // The open file carries the lock; closing it (on drop) releases it.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks directory `dir` (which must exist) without waiting: `InUse` naming
    /// the holder's pid if another engine has it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: the holder's pid must stay readable to a loser.
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(dir, &mut file)),
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn in_use(dir: &Path, file: &mut File) -> CoreError {
    let mut text = String::new();
    // The holder writes its pid right after locking; a loser racing it may read
    // nothing, and then says so rather than guess.
    let _ = file.read_to_string(&mut text);
    let holder = match text.trim().parse::<u32>() {
        Ok(pid) if pid == std::process::id() => format!("this process, pid {pid}"),
        Ok(pid) => format!("pid {pid}"),
        Err(_) => "pid unknown".to_owned(),
    };
    CoreError::InUse(format!(
        "data directory {} is in use by another memd process ({holder}); stop it first or \
         use another --data-dir",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(first.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert_eq!(err.kind(), "DataDirInUse");
        assert!(err.message().contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(err.message().contains(&dir.path().display().to_string()), "{err}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
