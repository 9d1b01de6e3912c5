//! `Engine::search_batch`: many searches of one namespace in one call.
//!
//! The steps of `search.rs`, each done once for the whole batch: every query is
//! checked before anything runs (an invalid one fails the call, naming its index,
//! and nothing is recorded); all are ranked under one read lock, semantic-only
//! queries with the same filters in one shared pass over the vectors
//! (`search::batch`); their records come from one LMDB read transaction; and the
//! accesses of the queries that count them are recorded together, with at most one
//! promotion round trip to the writer. Each query's hits are exactly those a search
//! of its own would return at the same instant.

use super::search::{self, check_hit_sizes, Fetched, Ranking};
use super::{read, Engine, Shared};
use crate::error::{CoreError, Result};
use crate::search::batch::scan_groups;
use crate::search::{Hit, SearchQuery, MAX_K};
use std::sync::Arc;

/// Most queries in one batch.
pub const MAX_BATCH_QUERIES: usize = 256;

impl Engine {
    /// Runs every query of a batch (all of one namespace), each query's hits best
    /// first, in query order; see the module documentation. The results of a batch
    /// total at most `MAX_K` hits.
    ///
    /// A text query of a namespace an embedder serves gets its vector first, as in
    /// `search` (each through the query cache, one model call per query not cached).
    pub fn search_batch(&self, queries: &[SearchQuery]) -> Result<Vec<Vec<Hit>>> {
        let shared = self.shared()?;
        if queries.len() > MAX_BATCH_QUERIES {
            return search_batch(&shared, queries); // refused before any model time
        }
        let mut embedded: Option<Vec<SearchQuery>> = None;
        for (i, q) in queries.iter().enumerate() {
            if let Some(with_vector) = self.embed_query(&shared, q).map_err(|e| indexed(i, e))? {
                embedded.get_or_insert_with(|| queries.to_vec())[i] = with_vector;
            }
        }
        search_batch(&shared, embedded.as_deref().unwrap_or(queries))
    }
}

/// `query i: <message>`, keeping the kind of error.
fn indexed(i: usize, e: CoreError) -> CoreError {
    let message = format!("query {i}: {}", e.message());
    match e {
        CoreError::InvalidArgument(_) => CoreError::InvalidArgument(message),
        CoreError::Capacity(_) => CoreError::Capacity(message),
        CoreError::NotFound(_) => CoreError::NotFound(message),
        CoreError::Unavailable(_) => CoreError::Unavailable(message),
        other => other,
    }
}

fn search_batch(shared: &Shared, queries: &[SearchQuery]) -> Result<Vec<Vec<Hit>>> {
    let Some(first) = queries.first() else { return Ok(Vec::new()) };
    if queries.len() > MAX_BATCH_QUERIES {
        return Err(CoreError::invalid(format!(
            "{} queries in one batch; the limit is {MAX_BATCH_QUERIES}",
            queries.len()
        )));
    }
    let total: usize = queries.iter().map(|q| q.k).sum();
    if total > MAX_K {
        return Err(CoreError::invalid(format!(
            "the queries ask for {total} hits in all; a batch returns at most {MAX_K}"
        )));
    }
    let mut patterns = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        if q.namespace != first.namespace {
            return Err(indexed(
                i,
                CoreError::invalid(format!(
                    "namespace {:?} differs from the batch's {:?}",
                    q.namespace, first.namespace
                )),
            ));
        }
        patterns.push(search::prepare(q, shared).map_err(|e| indexed(i, e))?);
    }
    let with_pattern: Vec<bool> = patterns.iter().map(Option::is_some).collect();
    let rankings = rank_all(shared, queries, &with_pattern)?;
    let ns: Arc<str> = Arc::from(first.namespace.as_str());
    let mut fetched = Vec::with_capacity(queries.len());
    {
        let rtxn = shared.store.env.read_txn()?;
        for (i, (ranking, pattern)) in rankings.into_iter().zip(&patterns).enumerate() {
            let q = &queries[i];
            let f = match pattern {
                Some(p) => super::pattern::matching(&rtxn, shared, &ns, ranking, p, q),
                None => search::fetch(&rtxn, shared, &ns, ranking, q.include_embedding),
            };
            fetched.push(f.map_err(|e| indexed(i, e))?);
        }
    }
    for (i, (q, f)) in queries.iter().zip(&mut fetched).enumerate() {
        crate::archive::hydrate(shared, &mut f.found, q.now_ms).map_err(|e| indexed(i, e))?;
        if q.max_hit_bytes > 0 {
            check_hit_sizes(&f.found, q.max_hit_bytes).map_err(|e| indexed(i, e))?;
        }
    }
    account(shared, &ns, queries, &mut fetched)?;
    Ok(fetched.into_iter().map(search::hits).collect())
}

/// Ranks every query under one read lock; semantic-only queries without a pattern
/// and with equal filters share one scan, unless their namespace's graph serves them.
fn rank_all(
    shared: &Shared,
    queries: &[SearchQuery],
    with_pattern: &[bool],
) -> Result<Vec<Ranking>> {
    let state = shared.state.read().expect("state lock");
    let Some(space) = state.namespace(&queries[0].namespace) else {
        // An unknown namespace has no hits, but a query no namespace could run
        // is still refused.
        for (i, q) in queries.iter().enumerate() {
            search::plan(q, 0, shared.cfg.analyzer).map_err(|e| indexed(i, e))?;
        }
        return Ok(queries.iter().map(|_| Vec::new()).collect());
    };
    let mut out: Vec<Option<Ranking>> = queries.iter().map(|_| None).collect();
    let mut plans = Vec::new();
    let mut which = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        if with_pattern[i] {
            continue;
        }
        let plan = search::plan(q, space.dim, space.index.analyzer()).map_err(|e| indexed(i, e))?;
        if space.index.shares_scan(&plan) {
            plans.push(plan);
            which.push(i);
        }
    }
    let refs: Vec<&_> = plans.iter().collect();
    for group in scan_groups(&refs) {
        let members: Vec<&_> = group.iter().map(|&g| refs[g]).collect();
        for (&g, ranked) in group.iter().zip(space.index.semantic_many(&members)) {
            out[which[g]] = Some(search::with_access(space, ranked));
        }
    }
    for (i, q) in queries.iter().enumerate() {
        if out[i].is_none() {
            out[i] =
                Some(search::rank(shared, space, q, with_pattern[i]).map_err(|e| indexed(i, e))?);
        }
    }
    Ok(out.into_iter().map(|r| r.expect("every query ranked")).collect())
}

/// Records the accesses of the queries that count them, in one call: a memory hit
/// by two such queries counts twice, as it would in two searches.
fn account(
    shared: &Shared,
    ns: &str,
    queries: &[SearchQuery],
    fetched: &mut [Fetched],
) -> Result<()> {
    let counting: Vec<usize> = (0..queries.len()).filter(|&i| queries[i].count_access).collect();
    if counting.is_empty() {
        return Ok(());
    }
    let mut all = Vec::new();
    for &i in &counting {
        all.append(&mut fetched[i].found);
    }
    read::account(shared, ns, &mut all, queries[0].now_ms, true)?;
    let mut rest = all.into_iter();
    for &i in &counting {
        let n = fetched[i].explains.len();
        fetched[i].found = rest.by_ref().take(n).collect();
    }
    Ok(())
}
