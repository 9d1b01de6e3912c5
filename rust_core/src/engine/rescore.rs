//! Re-scoring a quantized namespace's final candidates in full precision.
//!
//! A namespace whose vector rows are int8 (`search::quant`) ranks on approximate
//! cosines (about 1e-3 off at 384-d): enough to find the neighbourhood, not to
//! order near-ties or to report the cosine a client stored. So its search asks
//! the index for `pool(k)` candidates instead of `k`, then reads each candidate's
//! f32 vector from LMDB (the store is the only full-precision copy: keeping one
//! in RAM would undo the saving), recomputes its cosine, relevance and score,
//! and keeps the best `k`. The reads are point lookups in the read transaction
//! the search already has, a few dozen per search.
//!
//! Relevance is recomputed the way the index computed it: `max(cos, 0)` for a
//! semantic search, `a * keyword + (1 - a) * max(cos, 0)` for weighted hybrid
//! fusion of raw cosines (`CosineScale::None`). Two fusions keep the index's
//! relevance and order, with only the cosine corrected in the explanation: RRF,
//! whose relevance depends on ranks only, and weighted fusion of rescaled cosines
//! (the default, `search::fusion`), whose rescaling is fitted to every candidate
//! the scan reached, far more than the pool re-read here; their scores are then
//! within the int8 rounding (about 1e-3) of an f32 namespace's.

use crate::engine::Shared;
use crate::error::Result;
use crate::search::quant::Quantization;
use crate::search::score::Ranked;
use crate::search::vector::{dot, unit};
use crate::search::{CosineScale, Fusion, Plan};
use crate::store::keys;
use crate::tier::state::Namespace;
use heed::RoTxn;

/// Candidates asked of a quantized index for a search of `k`: enough that int8
/// rounding (which swaps near-ties) rarely pushes a true top-k member out of the
/// pool. `bench/ann_bench.py --quant int8` measures recall against f32 with it.
pub fn pool(k: usize) -> usize {
    (k * 3).max(k + 20)
}

/// True when `space`'s vectors are quantized and `plan` ranks on them.
pub fn needed(space: &Namespace, plan: &Plan) -> bool {
    plan.vector.is_some() && space.index.vectors().exact().quantization() != Quantization::None
}

/// The stored f32 embedding of `key` in namespace `ns`, read through the store
/// (`None` when the memory is gone or has no vector).
fn stored_vector(rtxn: &RoTxn, shared: &Shared, ns: &str, key: &str) -> Result<Option<Vec<f32>>> {
    let db_key = keys::db_key(ns, key);
    let Some(record) = shared.store.memories.get(rtxn, &db_key)? else { return Ok(None) };
    let Some(raw) = shared.store.embedding_bytes(rtxn, ns, record)? else { return Ok(None) };
    Ok(Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
}

/// `ranked` (candidates of a quantized index for `plan`) with exact cosines, the
/// best `want` in order; see the module documentation.
pub fn rescore(
    shared: &Shared,
    ns: &str,
    plan: &Plan,
    mut ranked: Vec<Ranked>,
    want: usize,
) -> Result<Vec<Ranked>> {
    let Some(query) = plan.vector.as_deref() else { return Ok(ranked) };
    let rtxn = shared.store.env.read_txn()?;
    let semantic = plan.terms.is_empty();
    for hit in &mut ranked {
        let Some(stored) = stored_vector(&rtxn, shared, ns, &hit.key)? else { continue };
        let Some(stored) = unit(&stored) else { continue };
        let cos = dot(&stored, query);
        let e = &mut hit.explain;
        e.cosine = cos;
        if semantic {
            e.relevance = cos.clamp(0.0, 1.0);
        } else if plan.fusion == Fusion::Weighted && plan.cosine_scale == CosineScale::None {
            let kw = plan.keyword_weight;
            e.relevance = kw * e.keyword + (1.0 - kw) * cos.clamp(0.0, 1.0);
        }
        e.score = e.parts().iter().sum();
        hit.score = e.score;
    }
    // `Ranked` orders best first (score, then key).
    ranked.sort_unstable();
    ranked.truncate(want);
    Ok(ranked)
}
