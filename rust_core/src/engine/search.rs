//! `Engine::search`: validates a `SearchQuery`, runs it on the namespace's
//! `SearchIndex` under the state's read lock, then reads the winning records.
//!
//! Validation happens before anything else, so a bad request changes nothing. The
//! scan holds the read lock (concurrent searches run in parallel; the writer waits
//! for a running scan, at most one scan's time). Phrase verification reads
//! candidate records inside the scan from one LMDB read transaction. Records are
//! decoded after the lock is released. With `count_access`, the hits are then
//! recorded exactly like a `get_many` of their keys (LRU recency, access count,
//! promotion), after the ranking, so a search never ranks on its own accesses.
//!
//! A search with a pattern ranks every candidate under the lock, then tests the
//! pattern on their text in rank order outside it, until k match (`pattern.rs`).
//! Batches of searches reuse these steps (`batch.rs`).

use crate::engine::{read, Shared};
use crate::error::{CoreError, Result};
use crate::model::Memory;
use crate::search::pattern::Pattern;
use crate::search::score::{Ranked, Scorer};
use crate::search::{
    vector, Analyzer, Explain, Hit, Mode, Plan, SearchQuery, MAX_K, MAX_QUERY_TERMS,
};
use crate::store::{codec, keys};
use crate::tier::state::Namespace;
use crate::validate;
use crate::wire;
use heed::RoTxn;
use prost::Message;
use std::sync::Arc;

/// What a `memd.v1.SearchHit` adds to its memory, at most: the hit's and the
/// memory's tags and lengths, the score, the six-double explanation, and the
/// access statistics that accounting may still grow (two 10-byte varints).
const HIT_OVERHEAD: usize = 128;

/// Fails with `Capacity` if a hit could not be sent in one message. A hit whose size
/// bound fits is not encoded: only a possibly too large one pays for the exact length.
pub(super) fn check_hit_sizes(found: &[Option<Memory>], max_hit_bytes: usize) -> Result<()> {
    for m in found.iter().flatten() {
        if wire::memory_len_bound(m) + HIT_OVERHEAD <= max_hit_bytes {
            continue;
        }
        let len = wire::MemoryPb::from(m.clone()).encoded_len() + HIT_OVERHEAD;
        if len > max_hit_bytes {
            return Err(CoreError::Capacity(format!(
                "hit {:?} takes {len} bytes, over the {max_hit_bytes}-byte message limit",
                m.key
            )));
        }
    }
    Ok(())
}

fn check(ok: bool, msg: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(msg))
    }
}

/// Checks everything that does not depend on the namespace's contents.
fn validate_query(q: &SearchQuery, shared: &Shared) -> Result<()> {
    let limits = &shared.cfg.limits;
    validate::namespace(&q.namespace, limits)?;
    if q.k == 0 || q.k > MAX_K {
        return Err(CoreError::invalid(format!("k must be in 1..={MAX_K}, got {}", q.k)));
    }
    if q.text.len() > limits.max_text_bytes {
        return Err(CoreError::invalid(format!(
            "query text is {} bytes; the limit is {}",
            q.text.len(),
            limits.max_text_bytes
        )));
    }
    let w = &q.weights;
    let ws = [
        ("relevance", w.relevance),
        ("recency", w.recency),
        ("frequency", w.frequency),
        ("importance", w.importance),
    ];
    // [0, 1] as the proto documents: NaN, infinities and negatives fail too.
    if let Some((name, x)) = ws.iter().find(|(_, x)| !(0.0..=1.0).contains(x)) {
        return Err(CoreError::invalid(format!("weight {name} is {x}; it must be in [0, 1]")));
    }
    check(ws.iter().map(|(_, x)| x).sum::<f32>() > 0.0, "at least one weight must be > 0")?;
    check(q.half_life_ms > 0, "half_life_ms must be > 0")?;
    check(q.frequency_saturation > 0, "frequency_saturation must be > 0")?;
    check((0.0..=1.0).contains(&q.keyword_weight), "keyword_weight must be in [0, 1]")?;
    check(q.rrf_depth <= crate::search::fusion::MAX_RRF_DEPTH, "rrf_depth must be <= 10000")?;
    check(q.bm25.k1.is_finite() && q.bm25.k1 >= 0.0, "bm25_k1 must be finite and >= 0")?;
    check((0.0..=1.0).contains(&q.bm25.b), "bm25_b must be in [0, 1]")?;
    let f = &q.filter;
    for (name, x) in [("min_importance", f.importance_min), ("max_importance", f.importance_max)] {
        if !x.is_finite() {
            return Err(CoreError::invalid(format!("{name} is {x}; it must be finite")));
        }
    }
    check(f.importance_min <= f.importance_max, "importance_min must be <= importance_max")?;
    if let Some(v) = &q.vector {
        check(!v.is_empty(), "vector must not be empty")?;
        check(v.len() <= limits.max_embedding_dim, "vector has too many dimensions")?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(CoreError::invalid(format!("vector[{i}] is not finite")));
        }
        check(vector::unit(v).is_some(), "vector must not be all zeros")?;
    }
    Ok(())
}

/// Turns a validated query into a plan for a namespace of dimension `dim` whose
/// index analyzes text with `analyzer`.
pub(super) fn plan(q: &SearchQuery, dim: u32, analyzer: Analyzer) -> Result<Plan> {
    let toks = analyzer.terms(&q.text);
    let mut terms = toks.clone();
    terms.sort();
    terms.dedup();
    if terms.len() > MAX_QUERY_TERMS {
        return Err(CoreError::invalid(format!(
            "the query text has {} distinct words; the limit is {MAX_QUERY_TERMS}",
            terms.len()
        )));
    }
    let (use_text, use_vector) = match q.mode {
        Mode::Auto => (!terms.is_empty(), q.vector.is_some()),
        Mode::Keyword | Mode::Phrase => (true, false),
        Mode::Semantic => (false, true),
        Mode::Hybrid => (true, true),
        Mode::Pattern => (false, false),
    };
    if use_text && terms.is_empty() {
        let why = if q.text.trim().is_empty() { "is empty" } else { "has no searchable words" };
        return Err(CoreError::invalid(format!(
            "the query text {why}; this mode needs text{}",
            if q.mode == Mode::Auto { " or a vector" } else { "" }
        )));
    }
    if q.fuzzy && (!use_text || q.mode == Mode::Phrase) {
        return Err(CoreError::invalid(
            "fuzzy applies to keyword terms: it needs keyword or hybrid search with text",
        ));
    }
    if !use_text && !use_vector && q.pattern.is_none() {
        return Err(CoreError::invalid("the query needs text, a vector or a pattern"));
    }
    let vector = if use_vector {
        let v = q.vector.as_ref().ok_or_else(|| CoreError::invalid("this mode needs a vector"))?;
        if dim != 0 && v.len() != dim as usize {
            return Err(CoreError::invalid(format!(
                "vector has {} dimensions; this namespace uses {dim}",
                v.len()
            )));
        }
        vector::unit(v)
    } else {
        None
    };
    Ok(Plan {
        terms: if use_text { terms } else { Vec::new() },
        phrase: (q.mode == Mode::Phrase).then_some(toks),
        vector,
        k: q.k,
        fusion: q.fusion,
        keyword_weight: q.keyword_weight,
        cosine_scale: q.cosine_scale,
        rrf_depth: q.rrf_depth,
        bm25: q.bm25,
        scorer: Scorer::new(
            q.weights,
            q.half_life_ms,
            q.recency_from,
            q.frequency_saturation,
            q.now_ms,
        ),
        filter: q.filter.clone(),
        exact: q.exact,
        fuzzy: q.fuzzy,
    })
}

/// A search's candidates, best first, each with the access statistics of its
/// memory as of the ranking (the records may lag until the writer flushes them).
pub(super) type Ranking = Vec<(Ranked, u64, u64)>;

/// Checks a query and compiles its pattern, before anything else happens.
pub(super) fn prepare(q: &SearchQuery, shared: &Shared) -> Result<Option<Pattern>> {
    validate_query(q, shared)?;
    match &q.pattern {
        Some(_) if q.mode == Mode::Phrase => {
            Err(CoreError::invalid("set a phrase or a pattern, not both"))
        }
        Some(spec) => Pattern::compile(spec).map(Some),
        None if q.mode == Mode::Pattern => Err(CoreError::invalid("pattern mode needs a pattern")),
        None => Ok(None),
    }
}

/// Ranks a prepared query in `space`, under the state's read lock (held by the
/// caller). With a pattern every candidate is ranked, best first, so that the
/// pattern can then be tested lazily, outside the lock (`pattern::matching`).
pub(super) fn rank(
    shared: &Shared,
    space: &Namespace,
    q: &SearchQuery,
    pattern: bool,
) -> Result<Ranking> {
    let analyzer = space.index.analyzer();
    let mut plan = plan(q, space.dim, analyzer)?;
    if pattern {
        plan.k = space.index.len().max(1);
    }
    // A quantized namespace ranks a wider pool, then re-scores it in f32.
    let (k, rescore) = (plan.k, super::rescore::needed(space, &plan));
    if rescore {
        plan.k = super::rescore::pool(k);
    }
    let ranked = if plan.terms.is_empty() && plan.vector.is_none() {
        space.index.rank_all(&plan)
    } else {
        // Phrase mode reads candidates' text; other modes never call `verify`.
        let rtxn = if plan.phrase.is_some() { Some(shared.store.env.read_txn()?) } else { None };
        let prefix = keys::namespace_prefix(&q.namespace);
        let verify = |key: &str| {
            let (Some(rtxn), Some(phrase)) = (&rtxn, &plan.phrase) else { return true };
            let mut db_key = prefix.clone();
            db_key.extend_from_slice(key.as_bytes());
            // The text alone: decoding the vector too cost most of a verification.
            // A phrase may occur in the text or in the context (indexed in one bag
            // with it), not across the two; the context is read only when the text
            // does not hold it.
            match shared.store.memories.get(rtxn, &db_key) {
                Ok(Some(record)) => {
                    codec::text_of(record).is_ok_and(|t| analyzer.contains_phrase(t, phrase))
                        || codec::decode_searchable(record)
                            .is_ok_and(|s| analyzer.contains_phrase(s.context, phrase))
                }
                _ => false,
            }
        };
        space.index.search(&plan, verify)
    };
    let ranked = if rescore {
        super::rescore::rescore(shared, &q.namespace, &plan, ranked, k)?
    } else {
        ranked
    };
    Ok(with_access(space, ranked))
}

/// Ranked hits with their memories' access statistics as of now.
pub(super) fn with_access(space: &Namespace, ranked: Vec<Ranked>) -> Ranking {
    ranked
        .into_iter()
        .map(|r| {
            let m = space.index.meta_of(&r.key).cloned().unwrap_or_default();
            (r, m.last_access_ms, m.access_count)
        })
        .collect()
}

/// Ranks a prepared query in its namespace under the read lock; an unknown
/// namespace has no hits (but a query no namespace could run is still refused).
fn rank_in(shared: &Shared, q: &SearchQuery, pattern: bool) -> Result<Ranking> {
    let state = shared.state.read().expect("state lock");
    match state.namespace(&q.namespace) {
        Some(space) => rank(shared, space, q, pattern),
        None => plan(q, 0, shared.cfg.analyzer).map(|_| Vec::new()),
    }
}

/// The records of ranked hits, from one read transaction: the memory (`None` when
/// deleted since the ranking) and its explanation, in rank order.
pub(super) struct Fetched {
    /// Per hit.
    pub found: Vec<Option<Memory>>,
    /// Per hit, in the same order.
    pub explains: Vec<Explain>,
}

/// Decodes the records of `ranking` (every one of them), their vectors only with
/// `embedding`.
pub(super) fn fetch(
    rtxn: &RoTxn,
    shared: &Shared,
    ns: &Arc<str>,
    ranking: Ranking,
    embedding: bool,
) -> Result<Fetched> {
    let mut out = Fetched { found: Vec::with_capacity(ranking.len()), explains: Vec::new() };
    for (r, last_access_ms, access_count) in ranking {
        let db_key = keys::db_key(ns, &r.key);
        // A memory deleted since the scan is left out.
        let m = match shared.store.memories.get(rtxn, &db_key)? {
            Some(record) => Some(decoded(
                rtxn,
                shared,
                ns,
                &r.key,
                record,
                (last_access_ms, access_count),
                embedding,
            )?),
            None => None,
        };
        out.found.push(m);
        out.explains.push(r.explain);
    }
    Ok(out)
}

/// A record as a hit's memory, with the access statistics of the ranking
/// (`(last_access_ms, access_count)`) where newer; its vector only with `embedding`.
pub(super) fn decoded(
    rtxn: &RoTxn,
    shared: &Shared,
    ns: &Arc<str>,
    key: &str,
    record: &[u8],
    (last_access_ms, access_count): (u64, u64),
    embedding: bool,
) -> Result<Memory> {
    let mut m = shared.store.decode(rtxn, ns.clone(), key.to_owned(), record, embedding)?;
    m.header.last_access_ms = m.header.last_access_ms.max(last_access_ms);
    m.header.access_count = m.header.access_count.max(access_count);
    Ok(m)
}

/// Runs a search; see the module documentation.
pub(super) fn search(shared: &Shared, q: &SearchQuery) -> Result<Vec<Hit>> {
    let pattern = prepare(q, shared)?;
    let ranking = rank_in(shared, q, pattern.is_some())?;
    let ns: Arc<str> = Arc::from(q.namespace.as_str());
    let mut fetched = {
        let rtxn = shared.store.env.read_txn()?;
        match &pattern {
            Some(p) => super::pattern::matching(&rtxn, shared, &ns, ranking, p, q)?,
            None => fetch(&rtxn, shared, &ns, ranking, q.include_embedding)?,
        }
    };
    crate::archive::hydrate(shared, &mut fetched.found, q.now_ms)?;
    if q.max_hit_bytes > 0 {
        check_hit_sizes(&fetched.found, q.max_hit_bytes)?;
    }
    if q.count_access {
        read::account(shared, &ns, &mut fetched.found, q.now_ms, true)?;
    }
    Ok(hits(fetched))
}

/// The hits of fetched records, leaving out those deleted since the ranking.
pub(super) fn hits(fetched: Fetched) -> Vec<Hit> {
    fetched
        .explains
        .into_iter()
        .zip(fetched.found)
        .filter_map(|(explain, m)| Some(Hit { memory: m?, explain }))
        .collect()
}
