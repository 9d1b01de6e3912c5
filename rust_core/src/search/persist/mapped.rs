//! The snapshot file mapped read-only into memory, for the open to decode in place.
//!
//! Reading a 2 GB snapshot with `std::fs::read` copies it from the page cache into a
//! fresh heap buffer: the copy, and one page fault per 4 KiB page of that buffer,
//! cost about as much as decoding it, and the buffer doubles the open's peak memory.
//! A shared read-only mapping with `MAP_POPULATE` makes the cached file pages the
//! buffer (the kernel maps them in one go instead of faulting them one by one), and
//! they are released with the mapping when decoding ends.
//!
//! Invariant: nothing writes the mapped file while it is mapped. The snapshot is only
//! ever replaced by renaming a new file over it (a new inode: the mapping keeps the
//! old one) and the data directory is locked by its one engine (`memd.lock`); a file
//! truncated underneath by hand would fault (SIGBUS) rather than misread.

use std::fs::File;
use std::os::fd::AsRawFd;

/// A read-only mapping of a whole file; unmapped on drop.
#[derive(Debug)]
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; sharing `&[u8]` views of
// immutable memory between threads is sound, and moving the owner moves nothing.
unsafe impl Send for Mapped {}
// SAFETY: as above: only shared reads of memory that nothing writes.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `file` (its whole current length) read-only.
    pub fn new(file: &File) -> std::io::Result<Mapped> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file larger than the address space"))?;
        if len == 0 {
            return Ok(Mapped { ptr: std::ptr::null_mut(), len: 0 });
        }
        // SAFETY: a fresh shared read-only mapping of an open file descriptor: no
        // existing memory is touched; failure is reported as MAP_FAILED, checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives, and
        // nothing writes them (module invariant).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmaps exactly the mapping `new` made; no slice of it outlives
            // `self` (they borrow it).
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_what_the_file_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let mapped = Mapped::new(&File::open(&path).expect("open")).expect("map");
        assert_eq!(mapped.bytes(), data.as_slice());
        std::fs::write(&path, b"").expect("write");
        let empty = Mapped::new(&File::open(&path).expect("open")).expect("map");
        assert!(empty.bytes().is_empty());
    }
}
