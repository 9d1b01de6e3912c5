//! Vector indexes: the `VectorIndex` trait and `ExactIndex`, an exact cosine scan.
//!
//! # Algorithm
//!
//! `ExactIndex` keeps one namespace's vectors in a single contiguous row-major f32
//! matrix, one row per slot, each row scaled to unit length when inserted. Cosine
//! similarity with a (unit) query is then one dot product per row. The dot product
//! keeps 16 independent partial sums (`LANES`), a shape LLVM turns into SIMD adds
//! and multiplies without `unsafe` intrinsics; on x86-64 CPUs with AVX2 and FMA the
//! same code is compiled a second time with those features enabled and chosen at
//! run time (the default x86-64 target only assumes SSE2). A scan is bound by
//! memory bandwidth (a 384-d row is 1.5 KiB), so the filter is tested before the
//! row is read: a selective filter skips most of the matrix, and a matrix of more
//! than `PARALLEL_FLOATS` floats is split across up to `MAX_THREADS` scoped threads
//! (one memory channel rarely saturates from one core). The threads only compute
//! similarities into a buffer; candidates are then visited in slot order on the
//! caller's thread, so the result does not depend on the split.
//!
//! The trait is what the search pipeline uses; `ann::AnnIndex` implements it with
//! an HNSW graph over this matrix, walking the graph for `Reach::Nearest`, testing
//! the same filter while it walks, and calling back only for the rows it reached.

use super::quant::{Quantization, Rows};
use std::borrow::Cow;

/// Partial sums in the dot product (two AVX2 registers, four SSE registers).
const LANES: usize = 16;
/// Matrix size (floats) from which a scan uses several threads.
const PARALLEL_FLOATS: usize = 1 << 22;
/// Most threads one scan uses (the machine is shared with other requests).
const MAX_THREADS: usize = 4;

/// How much of an index a search must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every vector passing the filter: an exact search.
    All,
    /// At least the `n` nearest passing the filter (an approximate index may miss
    /// some of them, and may visit more).
    Nearest(usize),
}

/// What the search pipeline needs from a vector index.
pub trait VectorIndex {
    /// Stores `vector` at `slot`, replacing what was there.
    fn insert(&mut self, slot: u32, vector: &[f32]);
    /// Forgets the vector at `slot`.
    fn remove(&mut self, slot: u32);
    /// True when `slot` has a vector.
    fn contains(&self, slot: u32) -> bool;
    /// Cosine similarity of `slot` with the unit vector `query`, if it has a vector.
    fn similarity(&self, slot: u32, query: &[f32]) -> Option<f32>;
    /// Calls `visit(slot, cosine)` for the stored vectors that pass `accept`: every
    /// one for an exact index or `Reach::All`, the neighbourhood it explored for an
    /// approximate one. Returns true when every vector passing `accept` was visited.
    fn visit(
        &self,
        query: &[f32],
        reach: Reach,
        accept: impl Fn(u32) -> bool + Sync,
        visit: impl FnMut(u32, f32),
    ) -> bool;
    /// Like `visit`, restricted to `slots` (a selective filter's candidates).
    fn visit_slots(
        &self,
        query: &[f32],
        slots: &[u32],
        accept: impl FnMut(u32) -> bool,
        visit: impl FnMut(u32, f32),
    );
}

/// Exact cosine search over a contiguous matrix of unit rows.
#[derive(Clone, Debug, Default)]
pub struct ExactIndex {
    dim: usize,
    rows: Rows,
    present: Vec<bool>,
    count: usize,
}

/// `v` scaled to unit length; `None` for the zero vector (it has no direction).
pub fn unit(v: &[f32]) -> Option<Vec<f32>> {
    let norm = dot(v, v).sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| v.iter().map(|x| x / norm).collect())
}

impl ExactIndex {
    /// An empty index whose rows are stored as `kind`.
    pub fn new(kind: Quantization) -> ExactIndex {
        ExactIndex { rows: Rows::new(kind), ..ExactIndex::default() }
    }

    /// How the rows are stored.
    pub fn quantization(&self) -> Quantization {
        self.rows.kind()
    }

    /// The row storage (bytes per row, raw rows).
    pub fn rows(&self) -> &Rows {
        &self.rows
    }

    /// Number of slots with a vector.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no slot has a vector.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Dimension (0 before the first vector).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The row of `slot` as last written (decoded if quantized), whether or not it
    /// still has a vector (a graph walks through removed rows until it lets go of
    /// them). `slot` must have been written.
    #[inline]
    pub fn raw_row(&self, slot: u32) -> Cow<'_, [f32]> {
        self.rows.row(slot)
    }

    /// Dot product of the row of `slot` (as `raw_row`) with `q`.
    #[inline]
    pub fn raw_dot(&self, slot: u32, q: &[f32]) -> f32 {
        self.rows.dot(slot, q)
    }

    /// Starts loading the row of `slot` into the cache (see `prefetch`).
    #[inline]
    pub fn prefetch(&self, slot: u32) {
        self.rows.prefetch(slot);
    }

    /// Bytes held by the matrix (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.rows.heap_bytes() + self.present.capacity()
    }

    fn has(&self, slot: u32) -> bool {
        self.present.get(slot as usize).copied().unwrap_or(false)
    }

    /// Like `visit` (or `visit_slots` when `slots` is given) for several unit queries
    /// at once: each row with a vector that passes `accept` is read once and compared
    /// with every query, and `visit(slot, cosines)` gets one cosine per query, in
    /// order. A batch of searches then shares one pass over the matrix, which is
    /// bound by memory bandwidth: the row stays in cache for all the queries.
    /// Queries of another dimension than the rows make it visit nothing.
    pub fn visit_many(
        &self,
        queries: &[&[f32]],
        slots: Option<&[u32]>,
        accept: impl Fn(u32) -> bool,
        mut visit: impl FnMut(u32, &[f32]),
    ) {
        if self.dim == 0 || queries.iter().any(|q| q.len() != self.dim) {
            return;
        }
        let mut sims = vec![0.0f32; queries.len()];
        let mut one = |slot: u32| {
            if accept(slot) {
                dots(&self.rows.row(slot), queries, &mut sims);
                visit(slot, &sims);
            }
        };
        match slots {
            Some(slots) => {
                for &slot in slots {
                    if self.has(slot) {
                        one(slot);
                    }
                }
            }
            None => {
                for at in 0..self.present.len() {
                    if self.present[at] {
                        one(at as u32);
                    }
                }
            }
        }
    }
}

/// Snapshot entry points (`search::persist`): the matrix as raw bytes per row,
/// behind a format byte, so another row encoding only changes these two methods.
impl ExactIndex {
    /// Slots the matrix covers (rows written, removed ones included).
    pub(crate) fn slots(&self) -> usize {
        self.present.len()
    }

    /// Writes the present flags and every row (removed ones too: a graph still
    /// walks through them).
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        w.bytes(&self.present.iter().map(|&p| u8::from(p)).collect::<Vec<u8>>());
        self.rows.encode(w);
    }

    /// Reads what `encode` wrote.
    pub(crate) fn decode(
        quant: Quantization,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<ExactIndex> {
        let present: Vec<bool> = r.bytes()?.iter().map(|&b| b != 0).collect();
        let rows = Rows::decode(quant, r)?;
        if rows.slots() != present.len() {
            return Err(super::persist::Bad::malformed("matrix size"));
        }
        let dim = rows.dim();
        let count = present.iter().filter(|&&p| p).count();
        Ok(ExactIndex { dim, rows, present, count })
    }
}

impl VectorIndex for ExactIndex {
    fn insert(&mut self, slot: u32, vector: &[f32]) {
        if self.dim == 0 {
            self.dim = vector.len();
        }
        assert_eq!(vector.len(), self.dim, "the engine checks dimensions");
        let at = slot as usize;
        if self.present.len() <= at {
            self.present.resize(at + 1, false);
            self.rows.grow(self.dim, at + 1);
        }
        self.count -= usize::from(self.present[at]);
        let unit = unit(vector);
        self.present[at] = unit.is_some();
        self.count += usize::from(self.present[at]);
        if let Some(u) = unit {
            self.rows.write(slot, &u);
        }
    }

    fn remove(&mut self, slot: u32) {
        if let Some(p) = self.present.get_mut(slot as usize) {
            self.count -= usize::from(*p);
            *p = false;
        }
    }

    fn contains(&self, slot: u32) -> bool {
        self.present.get(slot as usize).copied().unwrap_or(false)
    }

    fn similarity(&self, slot: u32, query: &[f32]) -> Option<f32> {
        self.has(slot).then(|| self.rows.dot(slot, query))
    }

    fn visit(
        &self,
        query: &[f32],
        _reach: Reach,
        accept: impl Fn(u32) -> bool + Sync,
        mut visit: impl FnMut(u32, f32),
    ) -> bool {
        if self.dim == 0 || query.len() != self.dim {
            return true;
        }
        // Bytes, not floats, decide: an int8 matrix is a quarter of the memory traffic.
        let threads = if self.present.len() * self.rows.row_bytes() < PARALLEL_FLOATS * 4 {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        };
        if threads == 1 {
            for at in 0..self.present.len() {
                let slot = at as u32;
                if self.present[at] && accept(slot) {
                    visit(slot, self.rows.dot(slot, query));
                }
            }
            return true;
        }
        // NaN marks rows without a vector or rejected by the filter.
        let mut sims = vec![f32::NAN; self.present.len()];
        let chunk = sims.len().div_ceil(threads);
        let fill = |first: usize, out: &mut [f32]| {
            for (i, sim) in out.iter_mut().enumerate() {
                let at = first + i;
                if self.present[at] && accept(at as u32) {
                    *sim = self.rows.dot(at as u32, query);
                }
            }
        };
        std::thread::scope(|s| {
            let mut parts = sims.chunks_mut(chunk).enumerate();
            let (_, mine) = parts.next().expect("at least one row");
            for (t, part) in parts {
                let fill = &fill;
                s.spawn(move || fill(t * chunk, part));
            }
            fill(0, mine);
        });
        for (at, &sim) in sims.iter().enumerate() {
            if !sim.is_nan() {
                visit(at as u32, sim);
            }
        }
        true
    }

    fn visit_slots(
        &self,
        query: &[f32],
        slots: &[u32],
        mut accept: impl FnMut(u32) -> bool,
        mut visit: impl FnMut(u32, f32),
    ) {
        if query.len() != self.dim {
            return;
        }
        for &slot in slots {
            if self.has(slot) && accept(slot) {
                visit(slot, self.rows.dot(slot, query));
            }
        }
    }
}

/// Cache lines of a row `prefetch` asks for (the hardware streams the rest once
/// the first few are read).
const PREFETCH_LINES: usize = 8;

/// Asks the CPU to start loading the head of `row` into the cache: a graph walk
/// calls it for every neighbour before computing any distance, so the loads of a
/// node's neighbours overlap instead of waiting for each other.
#[inline]
pub fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(16).take(PREFETCH_LINES) {
        // SAFETY: `_mm_prefetch` is a hint that never faults (SSE, part of the
        // x86-64 baseline); the pointer is in bounds anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
}

/// Asks the CPU to start loading every cache line of `words` (a graph list).
#[inline]
pub fn prefetch_u32s(words: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    for line in words.chunks(16) {
        // SAFETY: as in `prefetch`: a hint that never faults, in bounds anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(last) = words.last() {
        // The list need not start on a line: its last word may be on one more.
        // SAFETY: as above.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(last).cast(),
            );
        }
    }
}

/// Dot product of two equal-length slices, with the fastest code this CPU runs.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is
            // the only requirement of a `#[target_feature]` function.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<f32, true>(a, b)
}

/// `out[j] = dot(row, queries[j])` for every query (all of the row's length), four
/// queries at a time: each chunk of the row is loaded once for four products, which
/// is what makes a batch's shared scan cheaper per query than a scan of its own.
pub fn dots(row: &[f32], queries: &[&[f32]], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is
            // the only requirement of a `#[target_feature]` function.
            unsafe { dots_avx2(row, queries, out) };
            return;
        }
    }
    dots_lanes::<false>(row, queries, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dots_avx2(row: &[f32], queries: &[&[f32]], out: &mut [f32]) {
    dots_lanes::<true>(row, queries, out);
}

#[expect(
    clippy::inline_always,
    reason = "must be inlined into dots_avx2 to be compiled with AVX2 and FMA enabled"
)]
#[inline(always)]
fn dots_lanes<const FMA: bool>(row: &[f32], queries: &[&[f32]], out: &mut [f32]) {
    let mut groups = queries.chunks_exact(4);
    let mut at = 0;
    for g in groups.by_ref() {
        let n = g.iter().fold(row.len(), |n, q| n.min(q.len()));
        // The same lanes, multiply-adds and order of additions as `dot_lanes`, so
        // every product is bit for bit the one a search of its own computes.
        let (mut s0, mut s1, mut s2, mut s3) =
            ([0.0f32; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
        let chunks = row[..n]
            .chunks_exact(LANES)
            .zip(g[0][..n].chunks_exact(LANES))
            .zip(g[1][..n].chunks_exact(LANES))
            .zip(g[2][..n].chunks_exact(LANES))
            .zip(g[3][..n].chunks_exact(LANES));
        for ((((r, a), b), c), d) in chunks {
            for l in 0..LANES {
                if FMA {
                    s0[l] = r[l].mul_add(a[l], s0[l]);
                    s1[l] = r[l].mul_add(b[l], s1[l]);
                    s2[l] = r[l].mul_add(c[l], s2[l]);
                    s3[l] = r[l].mul_add(d[l], s3[l]);
                } else {
                    s0[l] += r[l] * a[l];
                    s1[l] += r[l] * b[l];
                    s2[l] += r[l] * c[l];
                    s3[l] += r[l] * d[l];
                }
            }
        }
        let whole = n / LANES * LANES;
        for (j, acc) in [s0, s1, s2, s3].into_iter().enumerate() {
            let q = g[j];
            let tail: f32 = row[whole..n].iter().zip(&q[whole..n]).fold(0.0, |t, (x, y)| t + x * y);
            out[at + j] = lane_sum(acc) + tail;
        }
        at += 4;
    }
    for q in groups.remainder() {
        out[at] = dot_lanes::<f32, FMA>(row, q);
        at += 1;
    }
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<f32, false>(a, b)
}

/// The dot product in `LANES` independent partial sums; with `FMA`, each step is
/// one fused multiply-add (only where the CPU has FMA: elsewhere `mul_add` is a
/// slow library call). `a` is f32, or int8 codes widened to f32 on the fly
/// (`quant::dot_i8`), a shape LLVM turns into byte-to-float conversions.
#[expect(
    clippy::inline_always,
    reason = "must be inlined into dot_avx2 to be compiled with AVX2 and FMA enabled"
)]
#[inline(always)]
pub(super) fn dot_lanes<T: Copy + Into<f32>, const FMA: bool>(a: &[T], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let x: f32 = x[i].into();
            acc[i] = if FMA { x.mul_add(y[i], acc[i]) } else { acc[i] + x * y[i] };
        }
    }
    let mut tail = 0.0;
    for (&x, y) in ra.iter().zip(rb) {
        tail += x.into() * y;
    }
    lane_sum(acc) + tail
}

/// The sum of the lanes as a tree of halvings (three vector adds) instead of 15
/// dependent scalar adds: the sum is on the critical path of every graph step.
#[expect(
    clippy::inline_always,
    reason = "must be inlined into the AVX2 callers to be compiled with AVX2 enabled"
)]
#[inline(always)]
fn lane_sum(mut acc: [f32; LANES]) -> f32 {
    let mut half = LANES / 2;
    while half > 0 {
        for i in 0..half {
            acc[i] += acc[i + half];
        }
        half /= 2;
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_every_length() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn dots_match_dot_for_any_number_of_queries() {
        for (n, k) in [(3, 1), (16, 4), (70, 7), (384, 9), (33, 0)] {
            let row: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let qs: Vec<Vec<f32>> = (0..k)
                .map(|j| (0..n).map(|i| ((i * (j + 2)) as f32 * 0.11).cos()).collect())
                .collect();
            let refs: Vec<&[f32]> = qs.iter().map(Vec::as_slice).collect();
            let mut out = vec![0.0; k];
            dots(&row, &refs, &mut out);
            for (got, q) in out.iter().zip(&qs) {
                assert!((got - dot(&row, q)).abs() < 1e-4, "n={n} k={k}");
            }
        }
    }

    #[test]
    fn parallel_scan_visits_what_a_sequential_one_would() {
        let (dim, rows) = (1024, PARALLEL_FLOATS / 1024 + 7);
        let mut ix = ExactIndex::default();
        for slot in 0..rows as u32 {
            let v: Vec<f32> = (0..dim).map(|i| ((i as u32 * 7 + slot) % 13) as f32 - 6.0).collect();
            if slot % 5 != 3 {
                ix.insert(slot, &v);
            }
        }
        let q = unit(&(0..dim).map(|i| (i % 3) as f32).collect::<Vec<_>>()).unwrap();
        let mut seen = Vec::new();
        ix.visit(&q, Reach::All, |s| s % 2 == 0, |s, c| seen.push((s, c)));
        let want: Vec<(u32, f32)> = (0..rows as u32)
            .filter(|s| s % 2 == 0 && s % 5 != 3)
            .map(|s| (s, ix.similarity(s, &q).unwrap()))
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn cosine_scan_skips_rejected_and_removed_rows() {
        let mut ix = ExactIndex::default();
        ix.insert(0, &[1.0, 0.0]);
        ix.insert(1, &[3.0, 3.0]);
        ix.insert(2, &[0.0, -2.0]);
        ix.insert(3, &[0.0, 0.0]);
        ix.remove(2);
        let mut seen = Vec::new();
        ix.visit(&[1.0, 0.0], Reach::All, |s| s != 0, |s, c| seen.push((s, c)));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, 1);
        assert!((seen[0].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(ix.similarity(3, &[1.0, 0.0]), None);
        assert_eq!(ix.len(), 2);
    }
}
