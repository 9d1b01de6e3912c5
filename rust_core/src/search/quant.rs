//! `Rows`: the vector matrix's row storage, full-precision f32 or int8 codes.
//!
//! # Algorithm
//!
//! Every row is a unit vector (the exact index scales it when inserted). With
//! `Quantization::Int8` a row is kept as one signed byte per component and one f32
//! scale: `scale = max|x| / 127`, `code = round(x / scale)`, so the largest
//! component maps to ±127 and the rounding error of any component is at most
//! `scale / 2`. A 384-d row then takes 388 bytes instead of 1 536 (3.96 ×
//! smaller). Similarity with an f32 query is asymmetric: the query stays exact
//! and `dot(q, row) = scale * Σ q[i] * code[i]`, so the only error is the row's
//! rounding (about 1e-3 of cosine at 384-d). The graph walk and the exact scan
//! rank on these similarities; `engine/search.rs` re-scores the final candidates
//! with the f32 vector stored in LMDB, so no second f32 copy is kept in RAM.
//!
//! Rows are addressed by slot; `row_bytes` and `raw_row_bytes` expose a row as
//! plain bytes (codes then scale, little-endian) for whoever persists the matrix.

use super::floats::Floats;
use super::vector::{dot, dot_lanes};
use std::borrow::Cow;

/// How the vector matrix stores its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quantization {
    /// Four-byte floats (exact cosines).
    #[default]
    None,
    /// One signed byte per component plus a per-row scale (about 4 × smaller).
    Int8,
}

impl Quantization {
    /// Parses a configuration value (`none` or `int8`).
    pub fn parse(s: &str) -> Option<Quantization> {
        match s {
            "none" | "f32" => Some(Quantization::None),
            "int8" => Some(Quantization::Int8),
            _ => None,
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Int8 => "int8",
        }
    }
}

/// A row-major matrix of unit rows, one per slot, in one of two encodings.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    kind: Quantization,
    dim: usize,
    /// The f32 rows (`Quantization::None`), possibly served from the snapshot file.
    floats: Floats,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl Rows {
    /// Empty rows stored as `kind`.
    pub fn new(kind: Quantization) -> Rows {
        Rows { kind, ..Rows::default() }
    }

    /// The encoding.
    pub fn kind(&self) -> Quantization {
        self.kind
    }

    /// Components per row (0 before the first `grow`).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Slots with room for a row.
    pub fn slots(&self) -> usize {
        match (self.dim, self.kind) {
            (0, _) => 0,
            (d, Quantization::None) => self.floats.len() / d,
            (_, Quantization::Int8) => self.scales.len(),
        }
    }

    /// Makes room for `slots` rows of `dim` components (zero rows), growing by
    /// at least an eighth: the matrix is most of a namespace's memory, and
    /// doubling would leave up to half of it unused.
    pub fn grow(&mut self, dim: usize, slots: usize) {
        self.dim = dim;
        match self.kind {
            Quantization::None => self.floats.resize(slots * dim),
            Quantization::Int8 => {
                reserve(&mut self.codes, slots * dim);
                reserve(&mut self.scales, slots);
            }
        }
    }

    /// Stores the unit vector `unit` at `slot` (which `grow` made room for).
    pub fn write(&mut self, slot: u32, unit: &[f32]) {
        let at = slot as usize * self.dim;
        match self.kind {
            Quantization::None => self.floats.get_mut(at, self.dim).copy_from_slice(unit),
            Quantization::Int8 => {
                let max = unit.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                for (c, x) in self.codes[at..at + self.dim].iter_mut().zip(unit) {
                    *c = (x / scale).round().clamp(-127.0, 127.0) as i8;
                }
                self.scales[slot as usize] = scale;
            }
        }
    }

    /// Dot product of the row at `slot` with `q` (of the rows' dimension).
    #[inline]
    pub fn dot(&self, slot: u32, q: &[f32]) -> f32 {
        let at = slot as usize * self.dim;
        match self.kind {
            Quantization::None => dot(self.floats.get(at, self.dim), q),
            Quantization::Int8 => {
                dot_i8(&self.codes[at..at + self.dim], q) * self.scales[slot as usize]
            }
        }
    }

    /// The row at `slot` as floats: borrowed when stored as floats, decoded
    /// otherwise (graph construction compares rows with rows).
    pub fn row(&self, slot: u32) -> Cow<'_, [f32]> {
        let at = slot as usize * self.dim;
        match self.kind {
            Quantization::None => Cow::Borrowed(self.floats.get(at, self.dim)),
            Quantization::Int8 => {
                let s = self.scales[slot as usize];
                Cow::Owned(
                    self.codes[at..at + self.dim].iter().map(|&c| f32::from(c) * s).collect(),
                )
            }
        }
    }

    /// Asks the CPU to start loading the row at `slot` (see `vector::prefetch`).
    #[inline]
    pub fn prefetch(&self, slot: u32) {
        let at = slot as usize * self.dim;
        match self.kind {
            Quantization::None => super::vector::prefetch(self.floats.get(at, self.dim)),
            Quantization::Int8 => prefetch_bytes(&self.codes[at..at + self.dim]),
        }
    }

    /// Bytes one row takes (for memory reports and for persisting rows).
    pub fn row_bytes(&self) -> usize {
        match self.kind {
            Quantization::None => self.dim * 4,
            Quantization::Int8 => self.dim + 4,
        }
    }

    /// The row at `slot` as `row_bytes()` little-endian bytes: the floats, or the
    /// codes followed by the scale.
    pub fn raw_row_bytes(&self, slot: u32) -> Vec<u8> {
        let at = slot as usize * self.dim;
        match self.kind {
            Quantization::None => {
                self.floats.get(at, self.dim).iter().flat_map(|x| x.to_le_bytes()).collect()
            }
            Quantization::Int8 => {
                let mut out: Vec<u8> =
                    self.codes[at..at + self.dim].iter().map(|&c| c.to_le_bytes()[0]).collect();
                out.extend_from_slice(&self.scales[slot as usize].to_le_bytes());
                out
            }
        }
    }

    /// True when the f32 rows are served from the snapshot file (`search::floats`).
    pub fn served_in_place(&self) -> bool {
        !self.floats.parts()[0].is_empty()
    }

    /// Bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.floats.bytes() + self.codes.capacity() + self.scales.capacity() * 4
    }
}

/// Where the matrix starts in the snapshot body (bytes; the body starts at a
/// multiple of it in the file): f32-aligned, so a mapping serves it as it is.
const MATRIX_ALIGN: usize = 64;

/// Row encoding tags in the search snapshot (`search::persist`).
const ROWS_F32: u8 = 1;
const ROWS_INT8: u8 = 2;

impl Rows {
    /// Writes the encoding, the dimension and every row as `raw_row_bytes`
    /// would give it, for the search snapshot.
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        w.u8(match self.kind {
            Quantization::None => ROWS_F32,
            Quantization::Int8 => ROWS_INT8,
        });
        w.len(self.dim);
        w.u64(self.slots() as u64);
        // Aligned, so that the open can serve the rows from the file in place.
        w.align(MATRIX_ALIGN);
        for part in self.floats.parts() {
            w.raw_f32s(part);
        }
        // SAFETY: an i8 and a u8 have the same size and every bit pattern is a valid
        // u8; the view borrows `codes` for this call only.
        let codes = unsafe {
            std::slice::from_raw_parts(self.codes.as_ptr().cast::<u8>(), self.codes.len())
        };
        w.raw(codes);
        w.raw_f32s(&self.scales);
    }

    /// Reads what `encode` wrote; rows stored in another encoding than `want`
    /// (the daemon's `engine.vector_quantization` changed) are refused.
    pub(crate) fn decode(
        want: Quantization,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<Rows> {
        use super::persist::Bad;
        let kind = match r.u8()? {
            ROWS_F32 => Quantization::None,
            ROWS_INT8 => Quantization::Int8,
            _ => return Err(Bad::malformed("vector row format")),
        };
        if kind != want {
            return Err(Bad(format!(
                "the snapshot's vectors are {}, engine.vector_quantization (or its rule for the namespace) is {}",
                kind.name(),
                want.name()
            )));
        }
        let dim = r.u32()? as usize;
        let slots = usize::try_from(r.u64()?).map_err(|_| Bad::malformed("matrix size"))?;
        let n = slots.checked_mul(dim).ok_or_else(|| Bad::malformed("matrix size"))?;
        let f32s = super::persist::f32s;
        let mut rows = Rows::new(kind);
        rows.dim = dim;
        r.align(MATRIX_ALIGN)?;
        match kind {
            Quantization::None => rows.floats = r.floats(n)?,
            Quantization::Int8 => {
                rows.codes = r.take(n)?.iter().map(|&b| i8::from_le_bytes([b])).collect();
                let bytes = slots.checked_mul(4).ok_or_else(|| Bad::malformed("matrix size"))?;
                rows.scales = f32s(r.take(bytes)?);
            }
        }
        Ok(rows)
    }
}

/// Resizes `v` to `len`, reserving at least an eighth more when it must grow.
/// A new allocation is advised into huge pages (`hugepages`: walks read rows at random).
fn reserve<T: Clone + Default>(v: &mut Vec<T>, len: usize) {
    if v.capacity() < len {
        v.reserve_exact((len - v.len()).max(v.len() / 8));
        super::hugepages::advise(v);
    }
    v.resize(len, T::default());
}

fn prefetch_bytes(row: &[i8]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(64).take(8) {
        // SAFETY: `_mm_prefetch` is a hint that never faults (SSE, part of the
        // x86-64 baseline); the pointer is in bounds anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
}

/// `Σ q[i] * codes[i]` with the fastest code this CPU runs.
pub fn dot_i8(codes: &[i8], q: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is
            // the only requirement of a `#[target_feature]` function.
            return unsafe { dot_i8_avx2(codes, q) };
        }
    }
    dot_lanes::<i8, false>(codes, q)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_i8_avx2(codes: &[i8], q: &[f32]) -> f32 {
    dot_lanes::<i8, true>(codes, q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::vector::unit;

    fn vector(seed: u32, dim: usize) -> Vec<f32> {
        unit(
            &(0..dim)
                .map(|i| ((i as u32 * 7919 + seed * 104_729) % 1000) as f32 - 500.0)
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn int8_rows_keep_cosines_within_a_percent_and_take_a_quarter() {
        let dim = 384;
        let (mut exact, mut quant) = (Rows::new(Quantization::None), Rows::new(Quantization::Int8));
        exact.grow(dim, 50);
        quant.grow(dim, 50);
        for s in 0..50 {
            let v = vector(s, dim);
            exact.write(s, &v);
            quant.write(s, &v);
        }
        for s in 0..50 {
            let q = vector(1000 + s, dim);
            let (e, a) = (exact.dot(s, &q), quant.dot(s, &q));
            assert!((e - a).abs() < 0.01, "slot {s}: {e} vs {a}");
            let back = quant.row(s);
            assert!((dot(&back, &q) - a).abs() < 1e-4);
        }
        assert_eq!(quant.row_bytes(), 388);
        assert_eq!(quant.raw_row_bytes(3).len(), 388);
        assert_eq!(exact.raw_row_bytes(3).len(), exact.row_bytes());
        assert!(exact.heap_bytes() >= 3 * quant.heap_bytes());
    }

    #[test]
    fn int8_dot_matches_naive_for_every_length() {
        for n in 0..70 {
            let c: Vec<i8> = (0..n).map(|i: i32| (i * 37) % 255 - 127).map(|x| x as i8).collect();
            let q: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = c.iter().zip(&q).map(|(&x, y)| f32::from(x) * y).sum();
            assert!((dot_i8(&c, &q) - naive).abs() < 1e-2, "n={n}");
        }
        assert_eq!(Quantization::parse("int8"), Some(Quantization::Int8));
        assert_eq!(Quantization::parse("int4"), None);
    }
}
