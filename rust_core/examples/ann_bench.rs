//! The HNSW index (`search::ann`) against the exact scan on one vector set, for
//! `bench/ann_bench.py`, which writes the vectors and runs hnswlib on the same ones.
//!
//!     ann_bench VECTORS QUERIES TRUTH [M EF_CONSTRUCTION EF_SEARCH [QUANT]]
//!
//! QUANT is `none` (default) or `int8`. With `int8` the index holds int8 rows and
//! `ann` does what the engine does (`engine/rescore.rs`): asks the graph for the
//! engine's pool of candidates and re-scores them with the f32 vectors (here from
//! RAM, standing in for the engine's LMDB reads) before keeping 10.
//!
//! VECTORS and QUERIES are raw little-endian: u32 count, u32 dimension, then the
//! rows as f32; TRUTH the same with u32 ids (the exact top 10 of each query).
//! Prints one JSON line after building (time and rate of the writer's steps run
//! back to back on one thread, the index's heap bytes and the graph's alone), then
//! answers each line on stdin: `ann [EF]` times every query through the graph (top 10,
//! p50/p99, recall@10; the default beam for the graph's size, `ann::beam`, or
//! exactly EF), `exact` through the scan. Rounds driven from outside let
//! the caller interleave them with hnswlib's on a shared machine.

use memd_core::clock;
use memd_core::search::ann::{AnnIndex, Params};
use memd_core::search::quant::Quantization;
use memd_core::search::vector::dot;
use memd_core::search::vector::{unit, ExactIndex, Reach, VectorIndex};
use std::collections::BinaryHeap;

const K: usize = 10;

fn read(path: &str) -> (usize, Vec<Vec<f32>>) {
    let raw = std::fs::read(path).expect("read the vectors file");
    let word = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (n, dim) = (word(0), word(1));
    let floats: Vec<f32> =
        raw[8..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(floats.len(), n * dim, "{path}: {n} x {dim}");
    (dim, floats.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

/// Slots of the `k` best cosines among those visited, best first.
fn top(k: usize, visit: impl FnOnce(&mut dyn FnMut(u32, f32))) -> Vec<u32> {
    // Min-heap of (cosine bits, slot): unit cosines are in [-1, 1], shifted positive.
    let mut heap: BinaryHeap<std::cmp::Reverse<(u32, u32)>> = BinaryHeap::with_capacity(k + 1);
    visit(&mut |slot, cos| {
        let key = (cos + 2.0).to_bits();
        if heap.len() < k {
            heap.push(std::cmp::Reverse((key, slot)));
        } else if heap.peek().is_some_and(|w| key > w.0 .0) {
            heap.pop();
            heap.push(std::cmp::Reverse((key, slot)));
        }
    });
    let mut out: Vec<(u32, u32)> = heap.into_iter().map(|r| r.0).collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.into_iter().map(|(_, s)| s).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize, default: usize| args.get(i).map_or(default, |a| a.parse().unwrap());
    let defaults = Params::default();
    let params = Params {
        m: num(4, defaults.m),
        ef_construction: num(5, defaults.ef_construction),
        ef_search: num(6, defaults.ef_search),
        // The graph at every size, so small sets show where it starts to pay.
        build_at: 0,
        ..defaults
    };
    let (dim, rows) = read(&args[1]);
    let (_, queries) = read(&args[2]);
    let queries: Vec<Vec<f32>> = queries.iter().filter_map(|q| unit(q)).collect();
    let (_, truth) = read(&args[3]);
    let truth: Vec<Vec<u32>> =
        truth.iter().map(|t| t.iter().map(|x| x.to_bits()).collect()).collect();

    let quant =
        args.get(7).map_or(Quantization::None, |q| Quantization::parse(q).expect("none|int8"));
    // The engine's pool for a quantized search (`engine/rescore.rs`: max(3k, k + 20)).
    let pool = if quant == Quantization::None { K } else { (K * 3).max(K + 20) };
    let mut ann = AnnIndex::with_quantization(params, quant);
    let mut exact = ExactIndex::default();
    for (slot, v) in rows.iter().enumerate() {
        ann.insert(slot as u32, v);
    }
    let t = clock::monotonic();
    ann.build();
    let build_s = clock::since(t).as_secs_f64();
    for (slot, v) in rows.iter().enumerate() {
        exact.insert(slot as u32, v);
    }
    // Unit rows for re-scoring (what the engine reads back from LMDB).
    let rows: Vec<Vec<f32>> = if quant == Quantization::None {
        drop(rows);
        Vec::new()
    } else {
        rows.iter().filter_map(|r| unit(r)).collect()
    };
    let stats = ann.stats();
    assert_eq!(stats.pending, 0, "built");
    let n = stats.vectors;
    println!(
        "{{\"n\": {n}, \"dim\": {dim}, \"m\": {}, \"ef_construction\": {}, \"ef_search\": {}, \
         \"build_s\": {build_s:.4}, \"build_rate\": {:.1}, \"heap_bytes\": {}, \"graph_bytes\": {}, \
         \"quant\": \"{}\", \"bytes_per_vector\": {:.1}}}",
        params.m,
        params.ef_construction,
        params.ef_search,
        n as f64 / build_s.max(1e-9),
        ann.heap_bytes(),
        ann.heap_bytes().saturating_sub(ann.exact().heap_bytes()),
        quant.name(),
        ann.heap_bytes() as f64 / n.max(1) as f64,
    );
    for line in std::io::stdin().lines() {
        let line = line.expect("stdin");
        let mut words = line.split_whitespace();
        let exact_scan = match words.next() {
            Some("ann") => false,
            Some("exact") => true,
            other => panic!("unknown command {other:?}"),
        };
        // `ann` walks with the index's default beam for its size (`ann::beam`);
        // `ann EF` with exactly EF (at least the pool), whatever the size.
        // One build serves a sweep of beams.
        match words.next() {
            Some(ef) => ann.set_search(ef.parse::<usize>().expect("ef"), 0),
            None => ann.set_search(params.ef_search, params.ef_grows_from),
        }
        let (mut times, mut found) = (Vec::with_capacity(queries.len()), 0usize);
        for (q, want) in queries.iter().zip(&truth) {
            let t = clock::monotonic();
            let got = if exact_scan {
                top(K, |f| {
                    exact.visit(q, Reach::All, |_| true, f);
                })
            } else {
                let cands = top(pool, |f| {
                    ann.visit(q, Reach::Nearest(pool), |_| true, f);
                });
                if rows.is_empty() {
                    cands
                } else {
                    top(K, |f| cands.iter().for_each(|&s| f(s, dot(&rows[s as usize], q))))
                }
            };
            times.push(clock::since(t).as_secs_f64() * 1e3);
            found += got.iter().filter(|s| want.contains(s)).count();
        }
        // The first few warm the caches and the visited set.
        times.drain(..5.min(times.len()));
        times.sort_by(f64::total_cmp);
        println!(
            "{{\"recall\": {:.4}, \"p50_ms\": {:.4}, \"p99_ms\": {:.4}, \"ef\": {}}}",
            found as f64 / (queries.len() * K) as f64,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            if exact_scan { 0 } else { ann.ef(pool) },
        );
    }
}
