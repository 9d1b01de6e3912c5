//! Telling a full disk from a broken one when a commit fails. Invariant: a write
//! refused for lack of space is `CoreError::Capacity` (a client can free space or
//! wait, as for a full LMDB map); only real I/O failures stay `Storage`.
//!
//! What LMDB reports on a full filesystem (heed 0.22, LMDB `mdb.master`, measured
//! with strace on an 8 MiB tmpfs, the setup of `tests/server/test_disk_full.py`):
//!
//! - Pages reach the file at commit (`mdb_page_flush`, `pwrite`/`pwritev`; memd
//!   does not use `MDB_WRITEMAP`, so the file is not preallocated or sparse and
//!   grows only by those writes). A write the filesystem refuses outright fails
//!   with `ENOSPC` (or `EDQUOT` over a quota), which heed hands back as
//!   `Error::Io`; `error.rs` maps both to `Capacity` wherever they appear. Seen
//!   when the failing write is a single 4 KiB page (a store of small memories).
//! - A write the filesystem accepts only in part (it filled up midway, the usual
//!   case for a large batch) is a *short* write, which LMDB reports as `EIO`
//!   ("short write, filesystem full?" in its source). Seen for a 100 KiB value:
//!   `pwrite` of 102 400 bytes returned 90 112. So `EIO` from a commit is
//!   classified by looking at the filesystem: with less than `FULL_BELOW` bytes
//!   left for unprivileged writers it is a full disk; otherwise a real I/O error.
//! - Either way LMDB aborts the transaction before writing its meta page, so the
//!   last committed state stands: reads go on, the writer rebuilds its in-memory
//!   view from LMDB and the next commit succeeds once space is freed. The pages
//!   written past the old end of the file are garbage LMDB reuses.

use crate::error::{CoreError, DISK_FULL};
use std::path::Path;

/// Free bytes under which a failed write is blamed on a full filesystem. A short
/// write leaves the filesystem with (almost) nothing free; a larger margin than a
/// few pages only guards against other processes freeing a little meanwhile.
pub const FULL_BELOW: u64 = 1 << 20;

/// Bytes available to unprivileged writers on the filesystem holding `dir`, or
/// `None` if it cannot be asked.
pub fn available_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call and `st`
    // points to writable memory of the right type, which statvfs fills on success.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    // Both are u64 on 64-bit Linux but narrower on some other targets.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Re-classifies the error of a failed commit in directory `dir`: an `EIO` on a
/// filesystem with (almost) no space left is a full disk (see the module docs).
pub fn classify_commit(err: heed::Error, dir: &Path) -> CoreError {
    if let heed::Error::Io(io) = &err {
        if io.raw_os_error() == Some(libc::EIO)
            && available_bytes(dir).is_some_and(|n| n < FULL_BELOW)
        {
            return CoreError::Capacity(DISK_FULL.into());
        }
    }
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eio_with_space_left_stays_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available_bytes(dir.path()).is_some());
        let eio = heed::Error::Io(std::io::Error::from_raw_os_error(libc::EIO));
        // The test machine's temp directory is assumed to have more than 1 MiB free.
        assert_eq!(classify_commit(eio, dir.path()).kind(), "StorageError");
        let enospc = heed::Error::Io(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(classify_commit(enospc, dir.path()).kind(), "CapacityExceeded");
    }
}
