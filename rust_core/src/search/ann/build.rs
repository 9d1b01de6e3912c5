//! Inserting a node (Malkov & Yashunin's Algorithm 1) in two steps: `plan` finds
//! its neighbours with the graph read-only (the expensive part: a beam search of
//! `ef_construction` per layer), `link` writes them and the reverse links. The
//! writer plans under the state's read lock, so searches go on meanwhile, and
//! takes the write lock only to link.
//!
//! Levels are drawn from a seeded `SplitMix64` sequence (the `n`-th insertion draws
//! the `n`-th number), so the same writes build the same graph.

use super::graph::{ranked, select, Graph, MAX_LEVEL};
use super::walk::{Near, Visited, Walk};
use crate::search::vector::ExactIndex;

/// A node's neighbours, found but not yet written.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The node.
    pub slot: u32,
    /// Its level.
    pub level: u8,
    /// Neighbours on layers `0..layers.len()` (empty for the first node).
    pub layers: Vec<Vec<u32>>,
}

/// `SplitMix64`: a statistically good 64-bit hash of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The level of the `n`-th insertion: `floor(-ln(u) / ln(m))` for `u` uniform in
/// (0, 1], so each layer holds about `1/m` of the one below.
pub fn level(seed: u64, n: u64, m: usize) -> u8 {
    let u = ((splitmix(seed ^ splitmix(n)) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let l = (-u.ln() / (m as f64).ln()).floor();
    (l as u8).min(MAX_LEVEL)
}

/// Finds the neighbours of `slot` (whose row holds its vector) among the live
/// nodes (`live`): a greedy descent to the node's level, then on each of its
/// layers a beam search of `ef` whose result the heuristic cuts to `m`.
/// Tombstones are walked through but never chosen.
pub fn plan(
    graph: &Graph,
    rows: &ExactIndex,
    (slot, level): (u32, u8),
    ef: usize,
    live: impl Fn(u32) -> bool,
    visited: &mut Visited,
) -> Planned {
    let q = rows.raw_row(slot);
    let walk = Walk { graph, rows, q: &q };
    let Some((_, top)) = graph.entry() else {
        return Planned { slot, level, layers: Vec::new() };
    };
    let Some(mut at) = walk.descend(level.min(top)) else {
        return Planned { slot, level, layers: Vec::new() };
    };
    let mut layers = vec![Vec::new(); usize::from(level.min(top)) + 1];
    for layer in (0..=level.min(top)).rev() {
        let mut found = walk
            .beam(at, layer, ef, usize::MAX, |n| n != slot && live(n), visited)
            .expect("an unbounded walk always finishes");
        if found.is_empty() {
            // Only tombstones within reach: link to them rather than to nothing.
            found = walk
                .beam(at, layer, ef, usize::MAX, |n| n != slot, visited)
                .expect("an unbounded walk always finishes");
        }
        if let Some(best) = found.first() {
            at = best.slot;
        }
        layers[usize::from(layer)] = select(rows, &found, graph.m());
    }
    Planned { slot, level, layers }
}

/// Writes a planned node into the graph: its lists, and itself into each
/// neighbour's list. A full list is cut back to its cap by the heuristic, over
/// its live members and the newcomer (tombstones go first).
pub fn link(graph: &mut Graph, rows: &ExactIndex, p: &Planned, live: impl Fn(u32) -> bool) {
    graph.add_node(p.slot, p.level);
    for (layer, neighbours) in p.layers.iter().enumerate() {
        let layer = layer as u8;
        graph.set_links(p.slot, layer, neighbours);
        for &n in neighbours {
            connect(graph, rows, n, p.slot, layer, &live);
        }
    }
    if graph.entry().is_none_or(|(_, top)| p.level > top) {
        graph.set_entry(Some(p.slot));
    }
}

/// Adds `to` to `from`'s list on `layer`. A full list is chosen again by the
/// heuristic among its live members and `to`; on layer 0, a node whose only
/// incoming link this list holds keeps its place (`rescue`).
fn connect(
    graph: &mut Graph,
    rows: &ExactIndex,
    from: u32,
    to: u32,
    layer: u8,
    live: impl Fn(u32) -> bool,
) {
    let cap = graph.cap(layer);
    let links = graph.links(from, layer);
    if links.contains(&to) {
        return;
    }
    let mut list: Vec<u32> = Vec::with_capacity(links.len() + 1);
    list.extend_from_slice(links);
    list.push(to);
    if list.len() <= cap {
        graph.set_links(from, layer, &list);
        return;
    }
    let all = ranked(rows, from, list.into_iter());
    let live: Vec<Near> = all.iter().copied().filter(|n| n.slot == to || live(n.slot)).collect();
    let mut kept = select(rows, &live, cap);
    if layer == 0 {
        rescue(graph, from, &all, &mut kept, cap);
    }
    graph.set_links(from, layer, &kept);
}

/// Puts back into `kept` (`from`'s new layer-0 list) every candidate that no other
/// list links to, in place of the worst kept ones that have other incoming links.
/// HNSW's pruning can otherwise leave a node no way in: a walk never reaches it,
/// however wide. (The entry point needs no way in.)
pub fn rescue(graph: &Graph, from: u32, cands: &[Near], kept: &mut Vec<u32>, cap: usize) {
    let current = graph.links(from, 0);
    let others = |n: u32| graph.indeg(n) - u32::from(current.contains(&n));
    let entry = graph.entry().map(|e| e.0);
    for c in cands {
        if kept.contains(&c.slot) || others(c.slot) > 0 || Some(c.slot) == entry {
            continue;
        }
        if kept.len() == cap {
            let Some(pos) = kept.iter().rposition(|&k| others(k) > 0) else { break };
            kept.remove(pos);
        }
        kept.push(c.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_thin_out_by_m() {
        let counts = (0..100_000u64).fold([0usize; 4], |mut c, n| {
            let l = level(7, n, 16) as usize;
            c[l.min(3)] += 1;
            c
        });
        // About 15/16 on level 0 only, 1/16 reaching 1, 1/256 reaching 2.
        assert!((92_000..96_000).contains(&counts[0]), "{counts:?}");
        assert!((5_400..6_400).contains(&counts[1]), "{counts:?}");
        assert!((250..500).contains(&(counts[2] + counts[3])), "{counts:?}");
        assert_eq!(level(7, 5, 16), level(7, 5, 16), "deterministic");
    }
}
