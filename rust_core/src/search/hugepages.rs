//! Transparent huge pages for the big arrays that searches read at random: the
//! vector matrix (`quant::Rows`) and the graph's layer-0 lists (`ann::graph`).
//!
//! # Why
//!
//! A graph walk reads a few hundred rows scattered over the whole matrix (1.5 KiB
//! per 384-d vector: 150 MB at 100 000 vectors, 1.5 GB at 1 000 000). With 4 KiB
//! pages almost every row is a TLB miss as well as a cache miss, and the page-table
//! walk comes before the row's own load can start; 2 MiB pages cut the entries
//! needed by 512, so the translations stay cached and a prefetch can start at once.
//! Linux backs anonymous memory with huge pages only where a process asks
//! (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` on most
//! distributions, and on this project's machines), hence `madvise(MADV_HUGEPAGE)`.
//!
//! The advice is a hint: it never fails a caller, costs one system call per
//! reallocation (the arrays grow by an eighth or more at a time), and applies to
//! the whole-page part of the buffer; the kernel backs the 2 MiB-aligned parts with
//! huge pages as they are touched, and its `khugepaged` collapses pages touched
//! before.

/// Buffers under this many bytes are left alone (the advice would cover at most a
/// page or two).
const MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back `v`'s allocation with huge pages (a no-op off Linux and
/// for small buffers). Call it after the buffer was (re)allocated.
pub fn advise<T>(v: &Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + bytes) / PAGE * PAGE;
        if end > first {
            // SAFETY: the range lies inside `v`'s own allocation (rounded inwards to
            // whole pages), and MADV_HUGEPAGE changes only how the kernel backs
            // those pages, never their contents or their mapping's validity.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}
