//! Deterministic test vectors and recall against an exact index.

use memd_core::search::ann::AnnIndex;
use memd_core::search::vector::{unit, ExactIndex, Reach, VectorIndex};
use memd_core::{Engine, RawMemory};
use std::collections::HashSet;

/// Deterministic clustered unit vectors: `n` points around `clusters` centres.
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut gauss = move || {
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (u, v) = (next().max(1e-12), next());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let centres: Vec<Vec<f32>> =
        (0..clusters).map(|_| (0..dim).map(|_| gauss()).collect()).collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % clusters];
            unit(&c.iter().map(|x| x + 0.35 * gauss()).collect::<Vec<_>>()).unwrap()
        })
        .collect()
}

/// recall@k of a search asking for the `beam` nearest.
pub fn recall(
    ann: &AnnIndex,
    exact: &ExactIndex,
    queries: &[Vec<f32>],
    k: usize,
    beam: usize,
) -> f64 {
    let mut found = 0;
    for q in queries {
        let mut want = Vec::new();
        exact.visit(q, Reach::All, |_| true, |s, c| want.push((c, s)));
        want.sort_by(|a, b| b.0.total_cmp(&a.0));
        let want: HashSet<u32> = want.iter().take(k).map(|w| w.1).collect();
        let mut got = Vec::new();
        ann.visit(q, Reach::Nearest(beam), |_| true, |s, c| got.push((c, s)));
        got.sort_by(|a, b| b.0.total_cmp(&a.0));
        found += got.iter().take(k).filter(|g| want.contains(&g.1)).count();
    }
    found as f64 / (queries.len() * k) as f64
}

/// Stores `data[i]` as memory `m{i:05}` (text "memory number i", tier 1) in
/// namespace "ns", 1 000 per batch.
pub fn put_vectors(e: &Engine, data: &[Vec<f32>]) {
    for (b, chunk) in data.chunks(1_000).enumerate() {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| RawMemory {
                key: format!("m{:05}", b * 1_000 + i),
                text: format!("memory number {}", b * 1_000 + i),
                embedding: Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                tier: 1,
                ..RawMemory::default()
            })
            .collect();
        e.put_many("ns", items, 1_000, true).unwrap();
    }
}
