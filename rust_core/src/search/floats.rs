//! `Floats`: the f32 vector matrix's storage (`quant::Rows`), a growable array whose
//! first part may be served in place from the search snapshot file.
//!
//! At open, the snapshot's matrix (1.5 GB of its 1.8 GB at 1 000 000 384-d
//! memories) used to be copied into a fresh `Vec`: the copy, and a page fault and a
//! zeroing per 4 KiB page of the new buffer, were a third of the open's CPU (perf).
//! Now the matrix's bytes are mapped copy-on-write (`persist::PrivateMap`) as the
//! `head`: reads are served by the page cache's pages, a write to a row there (a
//! reused slot, a changed vector) copies the one page it touches, and rows appended
//! after the open go to the heap `tail`. A row never straddles the two, since the
//! head holds whole rows (`slots × dim` floats).
//!
//! The head stays mapped until the index is dropped; a close writes a new snapshot
//! to another file and renames it over the old one, whose pages the mapping keeps.

use super::persist::PrivateMap;

/// A growable f32 array: a mapped head of fixed length, then a heap tail.
#[derive(Default)]
pub struct Floats {
    head: Option<PrivateMap>,
    tail: Vec<f32>,
}

impl std::fmt::Debug for Floats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Floats")
            .field("mapped", &self.head_len())
            .field("heap", &self.tail.len())
            .finish_non_exhaustive()
    }
}

impl Clone for Floats {
    /// A copy on the heap (the mapping is private to its owner: a write through one
    /// clone must not show in another).
    fn clone(&self) -> Floats {
        let mut all = Vec::with_capacity(self.len());
        all.extend_from_slice(self.head());
        all.extend_from_slice(&self.tail);
        Floats { head: None, tail: all }
    }
}

impl From<Vec<f32>> for Floats {
    fn from(tail: Vec<f32>) -> Floats {
        super::hugepages::advise(&tail);
        Floats { head: None, tail }
    }
}

impl Floats {
    /// Serves `map`'s bytes as the first floats, in place. `None` when they cannot
    /// be viewed as f32s here (misaligned, or a big-endian machine): the caller
    /// copies instead.
    pub fn mapped(map: PrivateMap) -> Option<Floats> {
        let bytes = map.bytes();
        let fits = cfg!(target_endian = "little")
            && bytes.len().is_multiple_of(4)
            && bytes.as_ptr().align_offset(std::mem::align_of::<f32>()) == 0;
        fits.then(|| Floats { head: Some(map), tail: Vec::new() })
    }

    // The casts are aligned: `mapped` checked the pointer's alignment.
    #[allow(clippy::cast_ptr_alignment)]
    fn head(&self) -> &[f32] {
        match &self.head {
            // SAFETY: `mapped` checked that the bytes are f32-aligned and a multiple of
            // 4 long; every bit pattern is a valid f32 and, on this little-endian
            // machine, the file's byte order is the in-memory one.
            Some(map) => unsafe {
                let b = map.bytes();
                std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len() / 4)
            },
            None => &[],
        }
    }

    #[allow(clippy::cast_ptr_alignment)]
    fn head_mut(&mut self) -> &mut [f32] {
        match &mut self.head {
            // SAFETY: as in `head`; `&mut self` makes this the only view.
            Some(map) => unsafe {
                let b = map.bytes_mut();
                std::slice::from_raw_parts_mut(b.as_mut_ptr().cast::<f32>(), b.len() / 4)
            },
            None => &mut [],
        }
    }

    fn head_len(&self) -> usize {
        self.head.as_ref().map_or(0, |m| m.bytes().len() / 4)
    }

    /// Floats held.
    pub fn len(&self) -> usize {
        self.head_len() + self.tail.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Floats `at..at + n`, all in the head or all in the tail (a row); panics on
    /// a range out of bounds or across the two, as slice indexing does.
    #[inline]
    pub fn get(&self, at: usize, n: usize) -> &[f32] {
        let head = self.head_len();
        if at < head {
            &self.head()[at..at + n]
        } else {
            &self.tail[at - head..at - head + n]
        }
    }

    /// `get`, writable.
    #[inline]
    pub fn get_mut(&mut self, at: usize, n: usize) -> &mut [f32] {
        let head = self.head_len();
        if at < head {
            &mut self.head_mut()[at..at + n]
        } else {
            &mut self.tail[at - head..at - head + n]
        }
    }

    /// Grows to `len` floats (zeros appended to the tail), reserving at least an
    /// eighth of the whole more when the tail must grow: the matrix is most of a
    /// namespace's memory, and doubling would leave up to half of it unused. A `len`
    /// below the head's moves everything to the heap first (never done today).
    pub fn resize(&mut self, len: usize) {
        let head = self.head_len();
        if len < head {
            *self = Floats::from(self.head()[..len].to_vec());
            return;
        }
        let want = len - head;
        if self.tail.capacity() < want {
            self.tail.reserve_exact((want - self.tail.len()).max(len / 8));
            // Walks read rows at random (`hugepages`); the mapped head is file-backed,
            // which transparent huge pages do not cover.
            super::hugepages::advise(&self.tail);
        }
        self.tail.resize(want, 0.0);
    }

    /// The whole array as its two parts, in order (for the snapshot writer).
    pub fn parts(&self) -> [&[f32]; 2] {
        [self.head(), &self.tail]
    }

    /// Bytes held: the heap tail's capacity and the mapped head (resident once
    /// read, though as page cache the kernel can drop and re-read it).
    pub fn bytes(&self) -> usize {
        (self.tail.capacity() + self.head_len()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file holding `n` floats `0, 1, 2, ...` after `pad` bytes.
    fn file_of(dir: &std::path::Path, pad: usize, n: usize) -> std::fs::File {
        let mut bytes = vec![0xAB; pad];
        bytes.extend((0..n).flat_map(|i| (i as f32).to_le_bytes()));
        let path = dir.join("m");
        std::fs::write(&path, bytes).expect("write");
        std::fs::File::open(path).expect("open")
    }

    #[test]
    fn a_mapped_head_reads_in_place_takes_writes_and_grows_on_the_heap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = file_of(dir.path(), 64, 3_000);
        let mut f =
            Floats::mapped(PrivateMap::new(&file, 64, 3_000 * 4).expect("map")).expect("aligned");
        assert_eq!((f.len(), f.get(2_996, 4)), (3_000, &[2996.0, 2997.0, 2998.0, 2999.0][..]));
        f.get_mut(4, 2).copy_from_slice(&[-1.0, -2.0]);
        f.resize(3_010);
        f.get_mut(3_004, 2).copy_from_slice(&[7.0, 8.0]);
        assert_eq!(f.get(0, 8), &[0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 6.0, 7.0]);
        assert_eq!(f.get(3_000, 6), &[0.0, 0.0, 0.0, 0.0, 7.0, 8.0]);
        let copy = f.clone();
        f.get_mut(0, 1)[0] = 42.0;
        assert_eq!(copy.get(0, 1), &[0.0], "a clone does not share the mapping");
        assert_eq!(copy.parts()[0].len(), 0, "a clone lives on the heap");
        assert_eq!(copy.get(3_004, 2), &[7.0, 8.0]);
        let on_disk = std::fs::read(dir.path().join("m")).expect("read");
        assert_eq!(on_disk[64 + 16..64 + 20], 4.0f32.to_le_bytes(), "the file is unchanged");
    }

    #[test]
    fn a_misaligned_range_is_not_served_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = file_of(dir.path(), 2, 10);
        assert!(Floats::mapped(PrivateMap::new(&file, 2, 40).expect("map")).is_none());
        let mut shrunk = Floats::from(vec![1.0, 2.0, 3.0]);
        shrunk.resize(1);
        assert_eq!((shrunk.len(), shrunk.get(0, 1)), (1, &[1.0][..]));
    }
}
