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

/// A private, copy-on-write mapping of `len` bytes of a file from byte `offset`,
/// readable and writable: reads are served by the page cache's own pages (no copy,
/// no fresh zeroed page); a write copies only the 4 KiB page it touches into this
/// process, and never reaches the file. The search snapshot's vector matrix is
/// served from one (`search::floats`), so an open does not copy 1.5 GB of rows that
/// are mostly only ever read.
///
/// Not populated at map time: on a private writable mapping `MAP_POPULATE` would
/// take every page for writing, i.e. copy them all; read faults instead map the
/// cached pages (16 at a time, the kernel's fault-around), on the first scan.
/// The module invariant holds here too: the file is never written while mapped.
#[derive(Debug)]
pub struct PrivateMap {
    ptr: *mut libc::c_void,
    /// Bytes mapped: `lead` (from the page boundary below `offset`) + `len`.
    mapped: usize,
    lead: usize,
    len: usize,
}

// SAFETY: the mapping is owned by this value and only reached through `&self`
// (reads) or `&mut self` (writes), so Rust's aliasing rules apply to it as to a Vec.
unsafe impl Send for PrivateMap {}
// SAFETY: as above.
unsafe impl Sync for PrivateMap {}

impl PrivateMap {
    /// Maps bytes `offset..offset + len` of `file` (`len` > 0), copy-on-write.
    pub fn new(file: &File, offset: u64, len: usize) -> std::io::Result<PrivateMap> {
        // SAFETY: sysconf has no preconditions.
        let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .map_err(|_| std::io::Error::other("no page size"))?;
        let lead = usize::try_from(offset % page).map_err(std::io::Error::other)?;
        let start = libc::off_t::try_from(offset - offset % page).map_err(std::io::Error::other)?;
        let mapped = lead.checked_add(len).filter(|_| len > 0).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty or oversized range")
        })?;
        // SAFETY: a fresh private mapping of an open file descriptor: no existing
        // memory is touched; failure is reported as MAP_FAILED, checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                start,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PrivateMap { ptr, mapped, lead, len })
    }

    /// The mapped range's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr + lead` starts `len` mapped, readable bytes that live as long
        // as `self`; writes to them need `&mut self`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>().add(self.lead), self.len) }
    }

    /// The mapped range's bytes, writable (copy-on-write: the file never changes).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the mapping is writable; `&mut self` makes this
        // the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<u8>().add(self.lead), self.len) }
    }
}

impl Drop for PrivateMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; no slice of it outlives
        // `self` (they borrow it).
        unsafe {
            libc::munmap(self.ptr, self.mapped);
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

    #[test]
    fn a_private_map_reads_the_range_and_never_writes_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        let mut map = PrivateMap::new(&file, 5_000, 9_000).expect("map");
        assert_eq!(map.bytes(), &data[5_000..14_000], "an offset off a page boundary");
        map.bytes_mut()[..3].copy_from_slice(b"abc");
        assert_eq!(&map.bytes()[..4], &[b'a', b'b', b'c', data[5_003]]);
        assert_eq!(std::fs::read(&path).expect("read"), data, "the file is unchanged");
        assert!(PrivateMap::new(&file, 0, 0).is_err(), "an empty range is refused");
    }
}
