//! Searching one layer of the graph: the greedy descent through the upper layers
//! and the beam search of `ef` on a layer with a filter predicate (Malkov &
//! Yashunin's SEARCH-LAYER, as in hnswlib's filtered `searchBaseLayerST`).
//!
//! The filter is tested while walking: every reached node is a stepping stone,
//! but only nodes that pass `accept` enter the result list, so the `ef` best are
//! taken among matching nodes. A selective filter fills the list slowly and the
//! walk goes on; `budget` bounds the distance computations so such a walk gives
//! up (`None`) and the caller scans exactly instead.

use super::graph::Graph;
use crate::search::vector::ExactIndex;
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A node and its cosine with the query; ordered by cosine, then slot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Near {
    /// Cosine with the query (rows and queries are unit vectors).
    pub sim: f32,
    /// The node.
    pub slot: u32,
}

impl Eq for Near {}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sim.total_cmp(&other.sim).then_with(|| other.slot.cmp(&self.slot))
    }
}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Nodes seen by one walk: a stamp per slot, so starting a walk costs nothing
/// (the array is cleared only when the stamp wraps).
#[derive(Default)]
pub struct Visited {
    marks: Vec<u32>,
    stamp: u32,
}

impl Visited {
    fn start(&mut self, slots: usize) {
        if self.marks.len() < slots {
            self.marks.resize(slots, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.fill(0);
            self.stamp = 1;
        }
    }

    /// Marks `slot`; true the first time in this walk.
    #[inline]
    fn first(&mut self, slot: u32) -> bool {
        let m = &mut self.marks[slot as usize];
        let new = *m != self.stamp;
        *m = self.stamp;
        new
    }
}

thread_local! {
    /// One visited set per thread: concurrent searches each walk their own.
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

/// Runs `f` with this thread's visited set (each beam search restarts it).
pub fn with_visited<R>(f: impl FnOnce(&mut Visited) -> R) -> R {
    VISITED.with(|v| f(&mut v.borrow_mut()))
}

/// A query against one graph and its vectors.
pub struct Walk<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The vectors (rows of the exact index, tombstones' rows included).
    pub rows: &'a ExactIndex,
    /// The unit query.
    pub q: &'a [f32],
}

impl Walk<'_> {
    #[inline]
    fn sim(&self, slot: u32) -> Near {
        Near { sim: self.rows.raw_dot(slot, self.q), slot }
    }

    /// The node nearest the query reached greedily from `from` on `layer` (an upper
    /// layer: every node counts, live or not, as a way down).
    pub fn greedy(&self, from: u32, layer: u8) -> Near {
        let mut best = self.sim(from);
        loop {
            let mut moved = false;
            for &n in self.graph.links(best.slot, layer) {
                let near = self.sim(n);
                if near.sim > best.sim {
                    best = near;
                    moved = true;
                }
            }
            if !moved {
                return best;
            }
        }
    }

    /// Greedy descent from the entry point to layer `to` (included): the node to
    /// start `to`'s beam search from; `None` for an empty graph.
    pub fn descend(&self, to: u8) -> Option<u32> {
        let (mut at, top) = self.graph.entry()?;
        for layer in (to.saturating_add(1)..=top).rev() {
            at = self.greedy(at, layer).slot;
        }
        Some(at)
    }

    /// The `ef` nodes nearest the query that pass `accept`, best first, found by a
    /// beam search on `layer` from `entry`; `None` once more than `budget` distances
    /// were computed (the filter is too selective for a walk to be worth it).
    pub fn beam(
        &self,
        entry: u32,
        layer: u8,
        ef: usize,
        budget: usize,
        accept: impl Fn(u32) -> bool,
        visited: &mut Visited,
    ) -> Option<Vec<Near>> {
        visited.start(self.graph.slots());
        let start = self.sim(entry);
        visited.first(entry);
        let mut todo: BinaryHeap<Near> = BinaryHeap::with_capacity(ef * 2);
        let mut found: BinaryHeap<Reverse<Near>> = BinaryHeap::with_capacity(ef + 1);
        todo.push(start);
        if accept(entry) {
            found.push(Reverse(start));
        }
        let mut spent = 1usize;
        let mut fresh: Vec<u32> = Vec::with_capacity(self.graph.cap(layer));
        while let Some(c) = todo.pop() {
            let floor = found.peek().map_or(f32::NEG_INFINITY, |r| r.0.sim);
            if found.len() >= ef && c.sim < floor {
                break;
            }
            if layer == 0 {
                // The list expanded next is most likely the best left; its load
                // overlaps this node's distances.
                if let Some(next) = todo.peek() {
                    self.graph.prefetch_links0(next.slot);
                }
            }
            fresh.clear();
            for &n in self.graph.links(c.slot, layer) {
                if visited.first(n) {
                    self.rows.prefetch(n);
                    fresh.push(n);
                }
            }
            for &n in &fresh {
                spent += 1;
                if spent > budget {
                    return None;
                }
                let near = self.sim(n);
                let floor = found.peek().map_or(f32::NEG_INFINITY, |r| r.0.sim);
                if found.len() < ef || near.sim > floor {
                    todo.push(near);
                    if accept(n) {
                        found.push(Reverse(near));
                        if found.len() > ef {
                            found.pop();
                        }
                    }
                }
            }
        }
        let mut out: Vec<Near> = found.into_iter().map(|r| r.0).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        Some(out)
    }
}
