//! `AnnIndex`: approximate nearest-neighbour search over one namespace's vectors,
//! an HNSW graph over the exact index's rows, behind the `VectorIndex` trait. The
//! rows are f32 or int8 (`search::quant`); the walk and the scan use them as they
//! are, and `engine/rescore.rs` re-scores an int8 namespace's final candidates.
//!
//! # Algorithm
//!
//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
//! search using Hierarchical Navigable Small World graphs", 2016/2018). Every
//! vector is a node; each node draws a level `l = floor(-ln(u) / ln M)`, so each
//! layer holds about `1/M` of the one below, and on each layer up to its own it
//! keeps up to `M` neighbours (`2M` on layer 0). A search descends greedily from
//! the entry point (the highest node) through the upper layers, then runs a beam
//! search of width `ef_search` on layer 0 (`walk.rs`). An insertion does the same
//! with width `ef_construction` on each of the new node's layers and keeps `M` of
//! what it found, chosen by the neighbour-selection heuristic (`graph::select`: a
//! candidate closer to an already kept neighbour than to the node is dropped,
//! so the list spans directions instead of piling into one cluster). Cosine is a
//! dot product because every row is a unit vector.
//!
//! Defaults (`Params`): `M = 16`, `ef_construction = 128`, `ef_search = 64`, with
//! which `bench/ann_bench.py` measured recall@10 of 0.99 on clustered 384-d vectors
//! at 100 000 and 0.90 at 1 000 000 (`docs/search.md` has the table). The beam a
//! search uses widens past 100 000 nodes (`beam.rs`: doubling per tenfold growth,
//! 128 at 1 000 000), because recall at a fixed beam falls as the graph grows.
//!
//! # Never wrong, only approximate
//!
//! - **Every live vector is seen.** The writer does not insert into the graph while
//!   it applies a write: `insert` only adds the row to the exact matrix and the slot
//!   to `pending`. Searches scan `pending` exactly, in addition to the graph walk,
//!   and the writer folds pending slots into the graph a few at a time once no
//!   write has come for 2 ms (`plan_work` under the state's read lock, `apply_work`
//!   under the write lock; see `engine/writer.rs`). A write waits for at most one
//!   step (about one 384-d insertion).
//! - **Filters are tested inside the walk**: every node is a stepping stone, only
//!   nodes passing the filter enter the result, so the `ef` best are taken among
//!   matching memories. A filter that passes under 1/32 of a 256-slot sample, a walk
//!   that computes more distances than a quarter of the namespace, or a walk that
//!   comes back with fewer than the `k` results asked for, falls back to the exact
//!   scan: a filtered search returns `k` hits whenever `k` exist. So does a beam
//!   as wide as the namespace (HNSW does not promise that every node is reachable;
//!   `build::rescue` keeps every node linked from some layer-0 list, which makes
//!   unreachable nodes rare, but only a scan makes "everything" exact).
//! - **Deletes** leave tombstones: the row stays, walks pass through the node, but
//!   it is never reported. Tombstones are removed when the search index purges its
//!   dead slots (a quarter of them dead): a repair pass (`repair.rs`) relinks their
//!   neighbours around them in bounded steps, then releases their slots for reuse.
//!   Until then a tombstone's slot is not reused, so no node ever points at a row
//!   that changed. Repair instead of periodic rebuilds: a rebuild of a million
//!   vectors is minutes of CPU, during which either the old graph (and its memory)
//!   stays or searches go exact; repairing touches only the deleted nodes'
//!   neighbourhoods.
//! - **Small namespaces stay exact**: below `build_at` live vectors (10 000) no
//!   graph is built and every search scans, which at that size is as fast as a
//!   walk (`bench/ann_bench.py` measures the crossover). Each namespace owns its
//!   index, so a graph never holds another namespace's memories.
//! - **Exact on request**: `Reach::All` (a search's `exact` flag) scans everything.
//!
//! # Why our own HNSW
//!
//! Crates considered (crates.io, 2025): `hnsw_rs` (MIT/Apache-2.0, maintained)
//! has filtered search but no removal, keeps its own copy of every vector (1.5 KiB
//! per 384-d memory, doubling the index) and brings rayon, mmap and logging crates;
//! `instant-distance` (MIT/Apache-2.0, last release 2023) builds a static map from
//! all points at once, with no insert, delete or filter; `usearch` (Apache-2.0)
//! supports removal and filtered search but is C++ behind `cxx`, with its own
//! vector storage and threads. None reads vectors where memd already keeps them,
//! lets a search scan the not-yet-indexed tail exactly under one predicate, or
//! splits an insertion into a read-only plan and a short write, which is how the
//! writer keeps searches running while it builds. The algorithm is a few hundred
//! lines; owning it makes it deterministic (seeded levels) and testable against
//! the exact index as a model (`tests/ann.rs`).

pub mod beam;
mod build;
mod graph;
mod pending;
mod repair;
mod walk;

use super::quant::Quantization;
use super::vector::{ExactIndex, Reach, VectorIndex};
use build::{level, link, plan, Planned};
use graph::Graph;
use pending::Pending;
use repair::{Relink, Repair};
use std::sync::atomic::{AtomicU64, Ordering};
use walk::{with_visited, Near, Walk};

/// Graph settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Neighbours per node on upper layers (`2m` on layer 0).
    pub m: usize,
    /// Beam width when inserting.
    pub ef_construction: usize,
    /// Beam width when searching (at least the `k` asked for), on graphs of up to
    /// `ef_grows_from` nodes; wider on larger ones (`beam::width`).
    pub ef_search: usize,
    /// Nodes past which the beam widens (0: `ef_search` at every size). A search
    /// setting, not part of the graph: changing it needs no rebuild.
    pub ef_grows_from: usize,
    /// Live vectors from which the graph is built and used.
    pub build_at: usize,
    /// Seed of the level draws.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            m: 16,
            ef_construction: 128,
            ef_search: 64,
            ef_grows_from: 100_000,
            build_at: 10_000,
            seed: 0x6d65_6d64,
        }
    }
}

/// Slots sampled to estimate a filter's selectivity.
const SAMPLE: usize = 256;
/// Sampled slots passing the filter below which the exact scan is cheaper (1/32).
const SAMPLE_MIN_HITS: usize = SAMPLE / 32;
/// Vector floats whose insertion one writer step plans (one 384-d vector, under a
/// millisecond; 32 16-d ones): about the most a write waits for the graph.
const STEP_FLOATS: usize = 512;
/// Nodes below which insertions are planned one at a time (a batch is planned
/// against the graph before it, so its nodes cannot link to each other).
const SERIAL_BELOW: usize = 256;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How far the graph is from the vectors (for tests and reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnnStats {
    /// Live vectors.
    pub vectors: usize,
    /// Graph nodes (tombstones included).
    pub nodes: usize,
    /// Vectors not in the graph yet.
    pub pending: usize,
    /// Vectors the writer still has to put into the graph: `pending` once the
    /// namespace has (or is building) a graph, 0 below `build_at` (no graph will be
    /// built, searches scan). 0 means the graph is complete: the signal a caller
    /// waits on after a bulk load.
    pub waiting: usize,
    /// Tombstones waiting for a repair pass, or in the one running.
    pub condemned: usize,
    /// Heap bytes of the matrix, the graph and the bookkeeping.
    pub bytes: usize,
    /// How the matrix stores its rows.
    pub quantization: Quantization,
}

/// An HNSW graph over an exact index, with the not-yet-indexed tail scanned exactly.
#[derive(Clone, Debug)]
pub struct AnnIndex {
    id: u64,
    version: u64,
    params: Params,
    exact: ExactIndex,
    graph: Graph,
    pending: Pending,
    drawn: u64,
    held: Vec<u32>,
    repair: Option<(Repair, usize)>,
    released: Vec<u32>,
}

/// Graph work planned under a read lock, applied under the write lock.
#[derive(Debug)]
pub struct Work {
    id: u64,
    version: u64,
    step: Step,
}

#[derive(Debug)]
enum Step {
    Insert(Vec<Planned>),
    Repair(Vec<Relink>, usize),
}

impl Default for AnnIndex {
    fn default() -> Self {
        AnnIndex::with_params(Params::default())
    }
}

impl AnnIndex {
    /// An empty index with these settings.
    pub fn with_params(params: Params) -> AnnIndex {
        AnnIndex::with_quantization(params, Quantization::None)
    }

    /// An empty index with these settings whose rows are stored as `quant`.
    pub fn with_quantization(params: Params, quant: Quantization) -> AnnIndex {
        AnnIndex {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            version: 0,
            params,
            exact: ExactIndex::new(quant),
            graph: Graph::new(params.m),
            pending: Pending::default(),
            drawn: 0,
            held: Vec::new(),
            repair: None,
            released: Vec::new(),
        }
    }

    /// The exact index underneath.
    pub fn exact(&self) -> &ExactIndex {
        &self.exact
    }

    /// True when `slot` is a node of the graph (live or tombstone).
    pub fn in_graph(&self, slot: u32) -> bool {
        self.graph.contains(slot)
    }

    /// The beam a search asking for `want` hits walks with now (`beam::width`).
    pub fn ef(&self, want: usize) -> usize {
        let p = &self.params;
        beam::width(p.ef_search, p.ef_grows_from, self.graph.len()).max(want)
    }

    /// Changes the search settings (`ef_search`, `ef_grows_from`); they are not
    /// part of the graph, so nothing is rebuilt (benchmarks sweep beams with it).
    pub fn set_search(&mut self, ef_search: usize, ef_grows_from: usize) {
        self.params.ef_search = ef_search;
        self.params.ef_grows_from = ef_grows_from;
    }

    /// Where the graph stands.
    pub fn stats(&self) -> AnnStats {
        AnnStats {
            vectors: self.exact.len(),
            nodes: self.graph.len(),
            pending: self.pending.len(),
            waiting: if self.building() { self.pending.len() } else { 0 },
            condemned: self.held.len() + self.repair.as_ref().map_or(0, |r| r.1),
            bytes: self.heap_bytes(),
            quantization: self.exact.quantization(),
        }
    }

    /// Bytes held by the matrix, the graph and the bookkeeping.
    pub fn heap_bytes(&self) -> usize {
        self.exact.heap_bytes() + self.graph.heap_bytes() + self.pending.heap_bytes()
    }

    fn building(&self) -> bool {
        !self.graph.is_empty() || self.exact.len() >= self.params.build_at
    }

    /// True when the writer has graph work to do here.
    pub fn has_work(&self) -> bool {
        self.repair.is_some() || (self.building() && !self.pending.is_empty())
    }

    /// Plans the next bounded step of graph work (read-only).
    pub fn plan_work(&self) -> Option<Work> {
        let step = if let Some((r, _)) = &self.repair {
            let (relinks, next) = r.plan(&self.graph, &self.exact);
            Step::Repair(relinks, next)
        } else if self.building() && !self.pending.is_empty() {
            let n = if self.graph.len() < SERIAL_BELOW {
                1
            } else {
                (STEP_FLOATS / self.exact.dim().max(1)).clamp(1, 32)
            };
            let live = |s| self.exact.contains(s);
            let (p, ef) = (&self.params, self.params.ef_construction);
            let plans = with_visited(|v| {
                let mut plans = Vec::with_capacity(n);
                for (i, &slot) in self.pending.next(n).iter().enumerate() {
                    let l = level(p.seed, self.drawn + i as u64, p.m);
                    plans.push(plan(&self.graph, &self.exact, (slot, l), ef, live, v));
                }
                plans
            });
            Step::Insert(plans)
        } else {
            return None;
        };
        Some(Work { id: self.id, version: self.version, step })
    }

    /// Applies a step planned on this index; false (and nothing changes) if the
    /// index changed since.
    pub fn apply_work(&mut self, work: Work) -> bool {
        if work.id != self.id || work.version != self.version {
            return false;
        }
        self.version += 1;
        match work.step {
            Step::Insert(plans) => {
                for p in &plans {
                    self.pending.remove(p.slot);
                    let exact = &self.exact;
                    link(&mut self.graph, exact, p, |s| exact.contains(s));
                }
                self.drawn += plans.len() as u64;
            }
            Step::Repair(relinks, next) => {
                let Some((r, _)) = &mut self.repair else { return false };
                let mut orphans = Vec::new();
                let done = r.apply(&mut self.graph, &relinks, next, &mut orphans);
                if let Some(released) = done {
                    self.released.extend(released);
                    self.repair = None;
                }
                self.adopt(orphans);
                self.start_repair();
            }
        }
        true
    }

    /// Takes out of the graph the layer-0 nodes no list links to any more (a
    /// repair can leave some), and those only they linked to; live ones wait in
    /// `pending` to be inserted again, so they stay visible. (A node on upper
    /// layers may still be linked there, so it stays: the descent can reach it.)
    fn adopt(&mut self, mut orphans: Vec<u32>) {
        while let Some(o) = orphans.pop() {
            let condemned = self.repair.as_ref().is_some_and(|(r, _)| r.condemns(o));
            let entry = self.graph.entry().is_some_and(|(e, _)| e == o);
            if !self.graph.contains(o)
                || self.graph.level(o) > 0
                || self.graph.indeg(o) > 0
                || condemned
                || entry
            {
                continue;
            }
            self.graph.remove_node(o, &mut orphans);
            if self.exact.contains(o) {
                self.pending.push(o);
            }
        }
    }

    /// Runs every pending step now (benchmarks, tests, tools).
    pub fn build(&mut self) {
        while let Some(w) = self.plan_work() {
            self.apply_work(w);
        }
    }

    fn start_repair(&mut self) {
        if self.repair.is_none() && !self.held.is_empty() {
            let slots = std::mem::take(&mut self.held);
            let n = slots.len();
            self.repair = Some((Repair::start(&mut self.graph, slots), n));
        }
    }

    /// Takes the dead slots of a purge; returns those reusable now. Graph nodes
    /// among them are condemned and come back through `take_released` once a repair
    /// pass has unlinked them.
    pub fn purge(&mut self, dead: Vec<u32>) -> Vec<u32> {
        self.version += 1;
        let (held, free): (Vec<u32>, Vec<u32>) =
            dead.into_iter().partition(|&s| self.graph.contains(s));
        self.held.extend(held);
        self.start_repair();
        free
    }

    /// A slot the graph has released, reusable.
    pub fn take_released(&mut self) -> Option<u32> {
        self.released.pop()
    }

    /// True when a search for `q` that does not ask for exactness walks the graph
    /// (before filters are considered).
    pub fn walks_graph(&self, q: &[f32]) -> bool {
        self.graph.entry().is_some()
            && q.len() == self.exact.dim()
            && self.exact.len() >= self.params.build_at
            && self.pending.len() * 2 <= self.exact.len()
    }

    /// True when under 1/32 of a deterministic sample of slots pass `accept`.
    fn selective(&self, accept: impl Fn(u32) -> bool) -> bool {
        let slots = self.graph.slots() as u64;
        // Fibonacci hashing spreads the sample over the slots (multiply-shift, no
        // division).
        let hits = (0..SAMPLE as u64)
            .map(|i| ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) * slots) >> 32)
            .filter(|&s| self.exact.contains(s as u32) && accept(s as u32))
            .count();
        hits < SAMPLE_MIN_HITS
    }

    /// The walk's `ef` best and every pending vector passing `accept`; `None` when
    /// the walk gave up or found fewer than `want`.
    fn approximate(
        &self,
        q: &[f32],
        want: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Option<Vec<Near>> {
        let ef = self.ef(want);
        if ef >= self.exact.len() {
            // A beam as wide as the namespace costs a scan; the scan misses nothing.
            return None;
        }
        let budget = (self.exact.len() / 4).max(64 * ef);
        let walk = Walk { graph: &self.graph, rows: &self.exact, q };
        let entry = walk.descend(0)?;
        let ok = |s| self.exact.contains(s) && accept(s);
        let mut hits = with_visited(|v| walk.beam(entry, 0, ef, budget, ok, v))?;
        for &s in self.pending.as_slice() {
            if ok(s) {
                hits.push(Near { sim: self.exact.raw_dot(s, q), slot: s });
            }
        }
        (hits.len() >= want).then_some(hits)
    }
}

/// Snapshot entry points (`search::persist`). A repair pass in progress is saved
/// as its condemned nodes and starts over at load: one full pass over a graph whose
/// earlier nodes were already relinked leaves the same guarantee (no node links to
/// a condemned one at its end). Pending vectors are not saved: they are exactly
/// the rows with a vector that are not graph nodes.
impl AnnIndex {
    /// Writes the settings the graph was built with, the rows and the graph.
    pub(crate) fn encode(&self, w: &mut super::persist::Writer) {
        let p = &self.params;
        w.len(p.m);
        w.len(p.ef_construction);
        w.u64(p.seed);
        self.exact.encode(w);
        self.graph.encode(w);
        w.u64(self.drawn);
        let mut condemned = self.held.clone();
        if let Some((r, _)) = &self.repair {
            condemned.extend_from_slice(r.condemned());
        }
        w.u32s(&condemned);
        w.u32s(&self.released);
    }

    /// Reads what `encode` wrote into an index with settings `params`; a graph
    /// built with another `m`, `ef_construction` or seed is refused.
    pub(crate) fn decode(
        params: Params,
        quant: Quantization,
        r: &mut super::persist::Reader,
    ) -> super::persist::Got<AnnIndex> {
        use super::persist::Bad;
        let (m, ef, seed) = (r.u32()? as usize, r.u32()? as usize, r.u64()?);
        if (m, ef, seed) != (params.m, params.ef_construction, params.seed) {
            return Err(Bad("the graph settings changed".into()));
        }
        let mut ix = AnnIndex::with_quantization(params, quant);
        ix.exact = ExactIndex::decode(quant, r)?;
        let rows = ix.exact.slots();
        ix.graph = Graph::decode(m, rows, r)?;
        ix.drawn = r.u64()?;
        ix.held = r.u32s()?;
        ix.released = r.u32s()?;
        let g = &ix.graph;
        if !ix.held.iter().all(|&s| g.contains(s))
            || ix.released.iter().any(|&s| g.contains(s) || s as usize >= rows.max(g.slots()))
        {
            return Err(Bad::malformed("condemned nodes"));
        }
        for slot in 0..rows as u32 {
            if ix.exact.contains(slot) && !ix.graph.contains(slot) {
                ix.pending.push(slot);
            }
        }
        ix.start_repair();
        Ok(ix)
    }
}

impl VectorIndex for AnnIndex {
    fn insert(&mut self, slot: u32, vector: &[f32]) {
        self.version += 1;
        // The search index never reuses a slot the graph holds (see `purge`).
        debug_assert!(!self.graph.contains(slot), "slot {slot} is still a graph node");
        self.exact.insert(slot, vector);
        if self.exact.contains(slot) && !self.graph.contains(slot) {
            self.pending.push(slot);
        } else {
            self.pending.remove(slot);
        }
    }

    fn remove(&mut self, slot: u32) {
        self.version += 1;
        self.exact.remove(slot);
        self.pending.remove(slot);
    }

    fn contains(&self, slot: u32) -> bool {
        self.exact.contains(slot)
    }

    fn similarity(&self, slot: u32, query: &[f32]) -> Option<f32> {
        self.exact.similarity(slot, query)
    }

    fn visit(
        &self,
        query: &[f32],
        reach: Reach,
        accept: impl Fn(u32) -> bool + Sync,
        mut visit: impl FnMut(u32, f32),
    ) -> bool {
        if let Reach::Nearest(want) = reach {
            if self.walks_graph(query) && !self.selective(&accept) {
                if let Some(hits) = self.approximate(query, want, &accept) {
                    for h in hits {
                        visit(h.slot, h.sim);
                    }
                    return false;
                }
            }
        }
        self.exact.visit(query, Reach::All, accept, visit)
    }

    fn visit_slots(
        &self,
        query: &[f32],
        slots: &[u32],
        accept: impl FnMut(u32) -> bool,
        visit: impl FnMut(u32, f32),
    ) {
        self.exact.visit_slots(query, slots, accept, visit);
    }
}
