//! The HNSW index against the exact index as its model: random inserts, deletes,
//! purges (slot reuse), partial builds and filtered searches; recall on clustered
//! data; and the writer building a namespace's graph through the engine.

mod common;

use common::vectors::{clustered, put_vectors, recall};
use memd_core::search::ann::{AnnIndex, Params};
use memd_core::search::vector::{dot, unit, ExactIndex, Reach, VectorIndex};
use memd_core::{Durability, Engine, SearchQuery};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

const DIM: usize = 8;

fn small(ef_search: usize) -> Params {
    Params { m: 4, ef_construction: 16, ef_search, ef_grows_from: 0, build_at: 8, seed: 3 }
}

#[derive(Clone, Debug)]
enum Op {
    Insert([i8; DIM]),
    Delete(usize),
    Purge,
    Build(usize),
    Query([i8; DIM], usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let v = || prop::array::uniform8(-3i8..4);
    prop_oneof![
        8 => v().prop_map(Op::Insert),
        3 => any::<usize>().prop_map(Op::Delete),
        1 => Just(Op::Purge),
        3 => (1usize..40).prop_map(Op::Build),
        3 => (v(), 1usize..12, 0u8..3).prop_map(|(q, k, f)| Op::Query(q, k, f)),
    ]
}

/// The index plus what it should hold, with slots handed out as `SearchIndex` does.
struct Model {
    ann: AnnIndex,
    live: BTreeMap<u32, Vec<f32>>,
    dead: Vec<u32>,
    free: Vec<u32>,
    next: u32,
}

impl Model {
    fn new(params: Params) -> Model {
        let ann = AnnIndex::with_params(params);
        Model { ann, live: BTreeMap::new(), dead: Vec::new(), free: Vec::new(), next: 0 }
    }

    fn insert(&mut self, v: &[f32]) {
        let slot = self.free.pop().or_else(|| self.ann.take_released()).unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        assert!(!self.live.contains_key(&slot) && !self.ann.in_graph(slot), "slot {slot} reused");
        self.ann.insert(slot, v);
        if let Some(u) = unit(v) {
            self.live.insert(slot, u);
        }
        // A slot without a vector (zero vector) is still a document: it dies later.
        self.dead.retain(|&s| s != slot);
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Insert(v) => self.insert(&v.map(f32::from)),
            Op::Delete(i) if !self.live.is_empty() => {
                let slot = *self.live.keys().nth(i % self.live.len()).unwrap();
                self.live.remove(&slot);
                self.ann.remove(slot);
                self.dead.push(slot);
            }
            Op::Purge => {
                let dead = std::mem::take(&mut self.dead);
                self.free.extend(self.ann.purge(dead));
            }
            Op::Build(n) => {
                for _ in 0..*n {
                    let Some(w) = self.ann.plan_work() else { break };
                    assert!(self.ann.apply_work(w));
                }
            }
            Op::Delete(_) | Op::Query(..) => {}
        }
    }

    /// Visits with `Reach::Nearest(k)` under filter `f`; checks what must always
    /// hold and returns the hits, best first.
    fn query(&self, q: &[f32], k: usize, f: u8) -> Vec<(u32, f32)> {
        let accept =
            |s: u32| self.live.contains_key(&s) && (f == 0 || s.is_multiple_of(3 * u32::from(f)));
        let mut hits = Vec::new();
        let complete = self.ann.visit(q, Reach::Nearest(k), accept, |s, c| hits.push((s, c)));
        let eligible: HashSet<u32> = self.live.keys().copied().filter(|&s| accept(s)).collect();
        let seen: HashSet<u32> = hits.iter().map(|h| h.0).collect();
        assert_eq!(seen.len(), hits.len(), "a slot visited twice");
        for &(s, c) in &hits {
            assert!(eligible.contains(&s), "slot {s} is deleted or filtered out");
            assert!((c - dot(&self.live[&s], q)).abs() < 1e-5, "cosine of {s}");
        }
        for &s in &eligible {
            if !self.ann.in_graph(s) {
                assert!(seen.contains(&s), "pending slot {s} not scanned");
            }
        }
        assert!(
            hits.len() >= k.min(eligible.len()),
            "{} hits, {} eligible",
            hits.len(),
            eligible.len()
        );
        if complete {
            assert_eq!(seen, eligible);
        }
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits
    }
}

fn exact_top(m: &Model, q: &[f32], k: usize, f: u8) -> Vec<f32> {
    let mut sims: Vec<f32> = m
        .live
        .iter()
        .filter(|(s, _)| f == 0 || s.is_multiple_of(3 * u32::from(f)))
        .map(|(_, v)| dot(v, q))
        .collect();
    sims.sort_by(|a, b| b.total_cmp(a));
    sims.truncate(k);
    sims
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ann_never_hides_or_invents(ops in prop::collection::vec(op(), 1..250)) {
        let mut m = Model::new(small(8));
        for op in &ops {
            m.apply(op);
            if let Op::Query(q, k, f) = op {
                if let Some(q) = unit(&q.map(f32::from)) {
                    m.query(&q, *k, *f);
                }
            }
        }
    }

    /// A beam as wide as the namespace scans (HNSW does not promise that every
    /// node is reachable; this property found the one case among thousands, many
    /// identical vectors, before the scan rule): the results are the exact ones.
    #[test]
    fn with_a_wide_beam_ann_is_exact(ops in prop::collection::vec(op(), 1..250)) {
        let mut m = Model::new(small(100_000));
        for op in &ops {
            m.apply(op);
            if let Op::Query(q, k, f) = op {
                if let Some(q) = unit(&q.map(f32::from)) {
                    let got: Vec<f32> = m.query(&q, *k, *f).iter().take(*k).map(|h| h.1).collect();
                    let want = exact_top(&m, &q, *k, *f);
                    prop_assert_eq!(got.len(), want.len());
                    for (g, w) in got.iter().zip(&want) {
                        prop_assert!((g - w).abs() < 1e-5, "{:?} vs {:?}", got, want);
                    }
                }
            }
        }
    }
}

#[test]
fn recall_on_clustered_vectors_survives_deletes() {
    let data = clustered(6_000, 32, 60, 11);
    let params = Params { build_at: 1_000, ..Params::default() };
    let mut ann = AnnIndex::with_params(params);
    let mut exact = ExactIndex::default();
    for (slot, v) in data.iter().enumerate() {
        ann.insert(slot as u32, v);
        exact.insert(slot as u32, v);
    }
    ann.build();
    assert_eq!(ann.stats().nodes, 6_000);
    let queries = clustered(200, 32, 60, 99);
    // (bench/ann_bench.py measures recall on realistic data; here: a hard small
    // set, and that deletes and slot reuse cost no recall.)
    let before = recall(&ann, &exact, &queries, 10, 10);
    assert!(before >= 0.9, "recall@10 {before}");
    let wide = recall(&ann, &exact, &queries, 10, 1_000);
    assert!(wide >= 0.995, "recall@10 with a beam of 1000: {wide}");

    // Delete half, purge (condemning their nodes), repair, reuse the slots.
    let dead: Vec<u32> = (0..6_000).filter(|s| s % 2 == 0).collect();
    for &s in &dead {
        ann.remove(s);
        exact.remove(s);
    }
    assert!(ann.purge(dead).is_empty(), "graph slots wait for the repair");
    assert_eq!(ann.stats().condemned, 3_000);
    ann.build();
    assert_eq!((ann.stats().nodes, ann.stats().condemned), (3_000, 0));
    let r = recall(&ann, &exact, &queries, 10, 10);
    // Repairing half the graph away costs a few points at this narrow beam (0.93
    // against 0.95 when this test was written).
    assert!(r >= before - 0.05, "recall@10 after deleting half: {r} (was {before})");
    let mut reused = 0;
    while let Some(slot) = ann.take_released() {
        assert_eq!(slot % 2, 0);
        ann.insert(slot, &data[slot as usize]);
        exact.insert(slot, &data[slot as usize]);
        reused += 1;
    }
    assert_eq!(reused, 3_000);
    ann.build();
    // Inserting into a repaired graph costs some recall at this (narrow) beam: 0.88
    // against 0.95 when this test was written; a beam of 200 finds 0.99 either way.
    let r = recall(&ann, &exact, &queries, 10, 10);
    assert!(r >= before - 0.1, "recall@10 after reusing the slots: {r} (was {before})");
}

#[test]
fn a_selective_filter_still_returns_k() {
    let data = clustered(4_000, 16, 40, 5);
    let mut ann = AnnIndex::with_params(Params { build_at: 100, ..Params::default() });
    for (slot, v) in data.iter().enumerate() {
        ann.insert(slot as u32, v);
    }
    ann.build();
    // One slot in 500: the walk would starve, the sample sends it to the exact scan.
    for (filter, expect) in [(500u32, 8usize), (7, 10)] {
        let mut hits = Vec::new();
        ann.visit(&data[3], Reach::Nearest(10), |s| s % filter == 0, |s, _| hits.push(s));
        assert!(hits.len() >= expect && hits.iter().all(|s| s % filter == 0), "{filter}: {hits:?}");
    }
}

#[test]
fn the_writer_builds_the_graph_and_search_agrees_with_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::small_config();
    cfg.durability = Durability::NoSync;
    cfg.tiers[0].capacity = 0;
    let e = common::open(dir.path(), cfg);
    let data = clustered(10_200, 16, 50, 21);
    put_vectors(&e, &data);
    let graph = wait_for_graph(&e, 10_200);
    assert_eq!((graph.nodes, graph.pending), (10_200, 0));
    let search = |i: usize, exact: bool| {
        let q = SearchQuery {
            namespace: "ns".into(),
            vector: Some(data[i].clone()),
            k: 5,
            exact,
            weights: memd_core::search::Weights {
                relevance: 1.0,
                recency: 0.0,
                frequency: 0.0,
                importance: 0.0,
            },
            now_ms: 2_000,
            ..SearchQuery::default()
        };
        e.search(&q).unwrap().into_iter().map(|h| h.memory.key).collect::<Vec<_>>()
    };
    for i in (0..10_200).step_by(397) {
        let (ann, exact) = (search(i, false), search(i, true));
        assert_eq!(ann[0], format!("m{i:05}"));
        assert_eq!(ann[0], exact[0]);
    }
    e.close().unwrap();
}

fn wait_for_graph(e: &Engine, nodes: usize) -> memd_core::search::ann::AnnStats {
    for _ in 0..600 {
        let s = e.stats(Some("ns")).unwrap()[0].vectors;
        if s.nodes >= nodes && s.pending == 0 {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    e.stats(Some("ns")).unwrap()[0].vectors
}
