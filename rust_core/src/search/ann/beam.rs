//! The search beam's width as the graph grows: the default `ef_search` widens
//! with the number of nodes, so a namespace of a million memories keeps the recall
//! that a namespace of a hundred thousand gets from the configured width.
//!
//! # Why a fixed beam is not enough
//!
//! A beam search of width `ef` returns the best of the nodes it reached from one
//! entry point; the true neighbours it misses are those behind a local optimum
//! that the beam never steps past. The more nodes, the more such optima along the
//! way and the smaller the share of the neighbourhood that `ef` places cover, so
//! recall at a fixed `ef` falls as the graph grows: `bench/ann_bench.py` measured
//! recall@10 on clustered 384-d vectors (`m = 16`, `ef_construction = 128`) of
//! 0.99 at 100 000 nodes and 0.90 at 1 000 000 with `ef = 64`; at 100 000 the
//! sweep (`--ef-sweep`, `docs/search.md`) has 0.988 at 64 and 0.994 at 128.
//!
//! # The rule
//!
//! Up to `grows_from` nodes (100 000 by default) the beam is `ef_search` as
//! configured, which keeps small namespaces at today's latency. Past it the beam
//! doubles for every tenfold growth of the graph:
//!
//! ```text
//! ef(n) = ceil(ef_search * 2^log10(n / grows_from))     n > grows_from
//! ```
//!
//! so 64 at 100 000, 79 at 200 000, 128 at 1 000 000 and 256 at 10 000 000. A
//! walk's cost grows about linearly with `ef` and logarithmically with `n`, so
//! the latency this adds is bounded by the doubling per decade. A request for
//! more than `ef(n)` hits widens the beam to `k` as before, and `exact` still
//! scans everything.

/// The beam width for a graph of `nodes` nodes, from the configured `ef_search`
/// and the size `grows_from` up to which it is used unchanged (see the module).
pub fn width(ef_search: usize, grows_from: usize, nodes: usize) -> usize {
    if nodes <= grows_from || grows_from == 0 {
        return ef_search;
    }
    let decades = (nodes as f64 / grows_from as f64).log10();
    (ef_search as f64 * decades.exp2()).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::width;

    #[test]
    fn the_beam_is_as_configured_up_to_grows_from_then_doubles_per_decade() {
        assert_eq!(width(64, 100_000, 10_000), 64);
        assert_eq!(width(64, 100_000, 100_000), 64);
        assert_eq!(width(64, 100_000, 200_000), 79);
        assert_eq!(width(64, 100_000, 1_000_000), 128);
        assert_eq!(width(64, 100_000, 10_000_000), 256);
        assert_eq!(width(64, 0, 10_000_000), 64, "0 turns the rule off");
        let mut last = 0;
        for n in (0..3_000_000).step_by(10_007) {
            let w = width(64, 100_000, n);
            assert!(w >= last, "the beam never narrows as the graph grows");
            last = w;
        }
    }
}
