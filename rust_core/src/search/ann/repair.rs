//! Taking deleted nodes out of the graph for good, in bounded steps.
//!
//! A deleted memory's node stays in the graph as a tombstone: walks pass through
//! it (its row is intact) but never report it. Its slot cannot be reused while a
//! node links to it, so when the search index purges its dead slots, the graph's
//! tombstones are *condemned* together and one repair pass runs over every node
//! in slot order, a few hundred per step. Each node whose list on some layer
//! holds a condemned node gets a new list, chosen by the heuristic among its other
//! neighbours and the condemned neighbours' own neighbours (`FreshDiskANN`'s delete
//! consolidation): the paths that went through the deleted node go around it.
//! Once the pass has been everywhere no node links to a condemned one, so they
//! leave the graph and their slots are released for reuse.
//!
//! Nodes inserted during the pass never link to a tombstone (construction does not
//! choose them), so the pass never has to revisit a node behind its cursor.

use super::build::rescue;
use super::graph::{ranked, select, Graph};
use crate::search::vector::ExactIndex;

/// Nodes a repair step looks at.
pub const STEP_NODES: usize = 256;

/// One repair pass in progress.
#[derive(Clone, Debug)]
pub struct Repair {
    condemned: Vec<u32>,
    /// One bit per slot: condemned.
    marks: Vec<u64>,
    cursor: usize,
}

/// A node's new list on one layer.
#[derive(Clone, Debug)]
pub struct Relink {
    /// The node.
    pub slot: u32,
    /// The layer.
    pub layer: u8,
    /// Its new neighbours.
    pub links: Vec<u32>,
}

impl Repair {
    /// Starts a pass condemning `slots` (graph nodes whose memories are deleted);
    /// moves the entry point off them.
    pub fn start(graph: &mut Graph, slots: Vec<u32>) -> Repair {
        let mut marks = vec![0u64; graph.slots().div_ceil(64)];
        for &s in &slots {
            marks[s as usize / 64] |= 1 << (s % 64);
        }
        let r = Repair { condemned: slots, marks, cursor: 0 };
        if graph.entry().is_some_and(|(e, _)| r.is_condemned(e)) {
            let next = graph.highest(|s| !r.is_condemned(s));
            // With every node condemned the old entry stays until the pass ends.
            if next.is_some() {
                graph.set_entry(next);
            }
        }
        r
    }

    /// The nodes this pass condemns (a snapshot saves them to condemn again).
    pub fn condemned(&self) -> &[u32] {
        &self.condemned
    }

    #[inline]
    fn is_condemned(&self, slot: u32) -> bool {
        self.marks.get(slot as usize / 64).is_some_and(|w| w >> (slot % 64) & 1 == 1)
    }

    /// The new lists of the next `STEP_NODES` nodes, and where the next step starts.
    pub fn plan(&self, graph: &Graph, rows: &ExactIndex) -> (Vec<Relink>, usize) {
        let end = (self.cursor + STEP_NODES).min(graph.slots());
        let mut out = Vec::new();
        for slot in self.cursor as u32..end as u32 {
            if !graph.contains(slot) || self.is_condemned(slot) {
                continue;
            }
            for layer in 0..=graph.level(slot) {
                let links = graph.links(slot, layer);
                if !links.iter().any(|&n| self.is_condemned(n)) {
                    continue;
                }
                let mut cands: Vec<u32> = Vec::with_capacity(links.len() * 4);
                for &n in links {
                    if self.is_condemned(n) {
                        cands.extend(graph.links(n, layer).iter().copied());
                    } else {
                        cands.push(n);
                    }
                }
                cands.retain(|&c| c != slot && !self.is_condemned(c));
                cands.sort_unstable();
                cands.dedup();
                let cands = ranked(rows, slot, cands.into_iter());
                let mut links = select(rows, &cands, graph.cap(layer));
                if layer == 0 {
                    rescue(graph, slot, &cands, &mut links, graph.cap(0));
                }
                out.push(Relink { slot, layer, links });
            }
        }
        (out, end)
    }

    /// True when `slot` is condemned by this pass.
    pub fn condemns(&self, slot: u32) -> bool {
        self.is_condemned(slot)
    }

    /// Writes a step's lists, adding to `orphans` the nodes left with no incoming
    /// layer-0 link (two lists of one step may drop the same node). Returns the
    /// released slots once the pass is over.
    pub fn apply(
        &mut self,
        graph: &mut Graph,
        relinks: &[Relink],
        next: usize,
        orphans: &mut Vec<u32>,
    ) -> Option<Vec<u32>> {
        for r in relinks {
            if r.layer == 0 {
                let dropped = graph.links(r.slot, 0).iter().filter(|n| !r.links.contains(n));
                let dropped: Vec<u32> = dropped.copied().collect();
                graph.set_links(r.slot, 0, &r.links);
                orphans.extend(dropped.into_iter().filter(|&n| graph.indeg(n) == 0));
            } else {
                graph.set_links(r.slot, r.layer, &r.links);
            }
        }
        self.cursor = next;
        if self.cursor < graph.slots() {
            return None;
        }
        for &s in &self.condemned {
            graph.remove_node(s, orphans);
        }
        if graph.entry().is_none() {
            let next = graph.highest(|_| true);
            graph.set_entry(next);
        }
        Some(std::mem::take(&mut self.condemned))
    }
}
