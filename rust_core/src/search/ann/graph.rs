//! The HNSW graph's storage: a level and neighbour lists per slot, the entry
//! point, and the neighbour-selection heuristic.
//!
//! Nodes are the index's slots, so a node's vector is its row in the
//! `ExactIndex` matrix (no copy). Layer 0 lists live in one flat array, `m0 + 1`
//! words per slot (a count, then the neighbours): a walk reads a node's list
//! without a pointer chase. Upper layers hold about one node in `m`, so each such
//! node owns a small boxed array of `m + 1` words per layer above 0.

use super::walk::Near;
use crate::search::vector::ExactIndex;

/// `levels` value of a slot that is not in the graph.
const ABSENT: u8 = u8::MAX;

/// Highest level a node may draw (the chance of reaching it is `m^-15`).
pub const MAX_LEVEL: u8 = 15;

/// Layers of neighbour lists over slots.
#[derive(Clone, Debug)]
pub struct Graph {
    m: usize,
    m0: usize,
    levels: Vec<u8>,
    links0: Vec<u32>,
    /// Per slot: how many layer-0 lists hold it. Kept above 0 for every node but
    /// the entry point, so no node is left unreachable (see `build::connect`).
    indeg: Vec<u32>,
    upper: Vec<Box<[u32]>>,
    entry: Option<u32>,
    nodes: usize,
}

impl Graph {
    /// An empty graph keeping `m` neighbours per node on upper layers, `2m` on layer 0.
    pub fn new(m: usize) -> Graph {
        Graph {
            m,
            m0: 2 * m,
            levels: Vec::new(),
            links0: Vec::new(),
            indeg: Vec::new(),
            upper: Vec::new(),
            entry: None,
            nodes: 0,
        }
    }

    /// Nodes in the graph (tombstones included).
    pub fn len(&self) -> usize {
        self.nodes
    }

    /// True when the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    /// Slots the arrays cover (every node is below this).
    pub fn slots(&self) -> usize {
        self.levels.len()
    }

    /// Neighbours kept per node on upper layers.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Most neighbours a node keeps on `layer`.
    pub fn cap(&self, layer: u8) -> usize {
        if layer == 0 {
            self.m0
        } else {
            self.m
        }
    }

    /// True when `slot` is a node.
    #[inline]
    pub fn contains(&self, slot: u32) -> bool {
        self.levels.get(slot as usize).is_some_and(|&l| l != ABSENT)
    }

    /// The node's top layer (`slot` must be a node).
    pub fn level(&self, slot: u32) -> u8 {
        self.levels[slot as usize]
    }

    /// The entry point and its level.
    pub fn entry(&self) -> Option<(u32, u8)> {
        self.entry.map(|e| (e, self.level(e)))
    }

    /// Makes `slot` the entry point (`None`: the graph has no live way in).
    pub fn set_entry(&mut self, slot: Option<u32>) {
        self.entry = slot;
    }

    fn span(&self, slot: u32, layer: u8) -> (&[u32], usize) {
        if layer == 0 {
            let w = self.m0 + 1;
            (&self.links0, slot as usize * w)
        } else {
            (&self.upper[slot as usize], (layer as usize - 1) * (self.m + 1))
        }
    }

    /// The node's neighbours on `layer` (empty above its level).
    #[inline]
    pub fn links(&self, slot: u32, layer: u8) -> &[u32] {
        if layer == 0 {
            // Every slot the arrays cover has a layer-0 list (a count of 0 when it is
            // not a node), so the walk's hot path reads no level: one cache miss
            // fewer per expanded node.
            let at = slot as usize * (self.m0 + 1);
            let n = self.links0[at] as usize;
            return &self.links0[at + 1..at + 1 + n];
        }
        if layer > self.levels[slot as usize] {
            return &[];
        }
        let (words, at) = self.span(slot, layer);
        let n = words[at] as usize;
        &words[at + 1..at + 1 + n]
    }

    /// Asks the CPU to start loading the node's layer-0 list (`m0 + 1` words, two or
    /// three cache lines): the walk calls it for the candidate it will expand next
    /// while it computes the current one's distances.
    #[inline]
    pub fn prefetch_links0(&self, slot: u32) {
        let at = slot as usize * (self.m0 + 1);
        if let Some(list) = self.links0.get(at..at + self.m0 + 1) {
            crate::search::vector::prefetch_u32s(list);
        }
    }

    /// How many layer-0 lists hold `slot`.
    #[inline]
    pub fn indeg(&self, slot: u32) -> u32 {
        self.indeg[slot as usize]
    }

    /// Replaces the node's neighbours on `layer` (at most `cap(layer)` of them).
    pub fn set_links(&mut self, slot: u32, layer: u8, links: &[u32]) {
        debug_assert!(links.len() <= self.cap(layer) && layer <= self.level(slot));
        if layer == 0 {
            let at = slot as usize * (self.m0 + 1);
            let n = self.links0[at] as usize;
            for i in at + 1..at + 1 + n {
                self.indeg[self.links0[i] as usize] -= 1;
            }
            for &l in links {
                self.indeg[l as usize] += 1;
            }
        }
        let (words, at) = if layer == 0 {
            let w = self.m0 + 1;
            (&mut self.links0[..], slot as usize * w)
        } else {
            (&mut self.upper[slot as usize][..], (layer as usize - 1) * (self.m + 1))
        };
        words[at] = links.len() as u32;
        words[at + 1..at + 1 + links.len()].copy_from_slice(links);
    }

    /// Adds `slot` as a node of level `level`, without neighbours.
    pub fn add_node(&mut self, slot: u32, level: u8) {
        let at = slot as usize;
        if self.levels.len() <= at {
            self.levels.resize(at + 1, ABSENT);
            let cap = self.links0.capacity();
            self.links0.resize((at + 1) * (self.m0 + 1), 0);
            if self.links0.capacity() != cap {
                crate::search::hugepages::advise(&self.links0);
            }
            self.indeg.resize(at + 1, 0);
            self.upper.resize_with(at + 1, Box::default);
        }
        debug_assert!(self.levels[at] == ABSENT, "slot {slot} is already a node");
        self.levels[at] = level;
        self.links0[at * (self.m0 + 1)] = 0;
        self.upper[at] = vec![0; level as usize * (self.m + 1)].into_boxed_slice();
        self.nodes += 1;
    }

    /// Takes `slot` out of the graph (no other node may still link to it), adding
    /// to `orphans` the nodes it held the last layer-0 link to.
    pub fn remove_node(&mut self, slot: u32, orphans: &mut Vec<u32>) {
        let at = slot as usize;
        if self.levels[at] == ABSENT {
            return;
        }
        let links = self.links(slot, 0).to_vec();
        self.set_links(slot, 0, &[]);
        orphans.extend(links.into_iter().filter(|&n| self.indeg[n as usize] == 0));
        self.levels[at] = ABSENT;
        self.upper[at] = Box::default();
        self.nodes -= 1;
        if self.entry == Some(slot) {
            self.entry = None;
        }
    }

    /// The node with the highest level among those `keep` accepts.
    pub fn highest(&self, keep: impl Fn(u32) -> bool) -> Option<u32> {
        let mut best: Option<(u8, u32)> = None;
        for (at, &l) in self.levels.iter().enumerate() {
            if l != ABSENT && keep(at as u32) && best.is_none_or(|(b, _)| l > b) {
                best = Some((l, at as u32));
            }
        }
        best.map(|(_, s)| s)
    }

    /// Bytes held by the lists (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.levels.capacity()
            + (self.links0.capacity() + self.indeg.capacity()) * 4
            + self.upper.capacity() * std::mem::size_of::<Box<[u32]>>()
            + self.upper.iter().map(|u| u.len() * 4).sum::<usize>()
    }
}

/// Snapshot entry points (`search::persist`): the graph as it is, checked on the
/// way back so that no walk can index outside its arrays.
impl Graph {
    /// Writes the graph.
    pub(crate) fn encode(&self, w: &mut crate::search::persist::Writer) {
        w.len(self.m);
        w.bytes(&self.levels);
        w.u32s(&self.links0);
        w.u32s(&self.indeg);
        for list in &self.upper {
            w.u32s(list);
        }
        w.u32(self.entry.unwrap_or(u32::MAX));
        w.u64(self.nodes as u64);
    }

    /// Reads what `encode` wrote, for a graph of `m` neighbours over at most
    /// `rows` slots.
    pub(crate) fn decode(
        m: usize,
        rows: usize,
        r: &mut crate::search::persist::Reader,
    ) -> crate::search::persist::Got<Graph> {
        use crate::search::persist::Bad;
        let bad = |what: &str| Err(Bad::malformed(what));
        if r.u32()? as usize != m {
            return bad("graph m");
        }
        let mut g = Graph::new(m);
        g.levels = r.bytes()?.to_vec();
        g.links0 = r.u32s()?;
        crate::search::hugepages::advise(&g.links0);
        g.indeg = r.u32s()?;
        let slots = g.levels.len();
        if slots > rows || g.links0.len() != slots * (g.m0 + 1) || g.indeg.len() != slots {
            return bad("graph arrays");
        }
        g.upper.reserve_exact(slots);
        for &level in &g.levels {
            let list = r.u32s()?;
            let want = if level == ABSENT { 0 } else { level as usize * (m + 1) };
            if level != ABSENT && level > MAX_LEVEL || list.len() != want {
                return bad("graph levels");
            }
            g.upper.push(list.into_boxed_slice());
        }
        let entry = r.u32()?;
        g.entry = (entry != u32::MAX).then_some(entry);
        g.nodes = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
        let nodes = g.levels.iter().filter(|&&l| l != ABSENT).count();
        if g.nodes != nodes || g.entry.is_some_and(|e| !g.contains(e)) {
            return bad("graph nodes");
        }
        for slot in 0..slots as u32 {
            for layer in 0..=g.levels[slot as usize] {
                if !g.contains(slot) {
                    break;
                }
                let (words, at) = g.span(slot, layer);
                let n = words[at] as usize;
                if n > g.cap(layer) || words[at + 1..at + 1 + n].iter().any(|&s| !g.contains(s)) {
                    return bad("graph links");
                }
            }
        }
        Ok(g)
    }
}

/// Malkov & Yashunin's neighbour-selection heuristic (their Algorithm 4, as in
/// hnswlib): `cands`, sorted best first by cosine with the base node, are taken
/// in order, and one is kept only if it is closer to the base than to every
/// neighbour kept so far, until `cap` are kept. A candidate hidden behind a kept
/// neighbour is reachable through it, so the list spends its few places on
/// different directions; that is what keeps clustered data navigable.
pub fn select(rows: &ExactIndex, cands: &[Near], cap: usize) -> Vec<u32> {
    let mut kept: Vec<Near> = Vec::with_capacity(cap);
    for &c in cands {
        if kept.len() == cap {
            break;
        }
        let row = rows.raw_row(c.slot);
        if kept.iter().all(|k| rows.raw_dot(k.slot, &row) <= c.sim) {
            kept.push(c);
        }
    }
    kept.into_iter().map(|n| n.slot).collect()
}

/// `slots` with their cosine to `base`'s row, best first.
pub fn ranked(rows: &ExactIndex, base: u32, slots: impl Iterator<Item = u32>) -> Vec<Near> {
    let row = rows.raw_row(base);
    let mut out: Vec<Near> = slots.map(|s| Near { sim: rows.raw_dot(s, &row), slot: s }).collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out
}
