//! The text side of pattern search: testing a compiled pattern on ranked candidates.
//!
//! The search index keeps no text (only its terms), so a pattern is tested on the
//! stored records. Candidates arrive ranked best first (`search::rank` ranks every
//! candidate when the query has a pattern), and are read in that order from one
//! LMDB read transaction, outside the state lock, until `k` match: a common pattern
//! reads about k records, a rare one reads every candidate. The text read is
//! bounded by `MAX_SCAN_BYTES` per search; past it the search fails with `Capacity`
//! (its result would otherwise silently depend on where the scan stopped), and the
//! message says how to narrow it. Nothing is recorded before that point.

use super::search::{decoded, Fetched, Ranking};
use super::Shared;
use crate::error::{CoreError, Result};
use crate::search::pattern::{Pattern, MAX_SCAN_BYTES};
use crate::search::SearchQuery;
use crate::store::{codec, keys};
use heed::RoTxn;
use std::sync::Arc;

/// The first `q.k` of `ranking` whose text matches `pattern`, decoded (their vectors
/// only with `q.include_embedding`), in rank order.
pub(super) fn matching(
    rtxn: &RoTxn,
    shared: &Shared,
    ns: &Arc<str>,
    ranking: Ranking,
    pattern: &Pattern,
    q: &SearchQuery,
) -> Result<Fetched> {
    let k = q.k;
    let mut out = Fetched { found: Vec::with_capacity(k), explains: Vec::with_capacity(k) };
    let mut scanned: u64 = 0;
    let mut db_key = keys::namespace_prefix(ns);
    let prefix_len = db_key.len();
    for (r, last_access_ms, access_count) in ranking {
        if out.found.len() == k {
            break;
        }
        db_key.truncate(prefix_len);
        db_key.extend_from_slice(r.key.as_bytes());
        // A memory deleted since the ranking is left out.
        let Some(record) = shared.store.memories.get(rtxn, &db_key)? else { continue };
        let text = codec::text_of(record)?;
        scanned += text.len() as u64;
        if scanned > MAX_SCAN_BYTES {
            return Err(CoreError::Capacity(format!(
                "the pattern search read {} MiB of text without finding {k} matches (the \
                 limit is {} MiB); narrow it with filters (tiers, tags, metadata, time \
                 ranges) or a query",
                scanned >> 20,
                MAX_SCAN_BYTES >> 20
            )));
        }
        if pattern.is_match(text) {
            let access = (last_access_ms, access_count);
            out.found.push(Some(decoded(
                rtxn,
                shared,
                ns,
                &r.key,
                record,
                access,
                q.include_embedding,
            )?));
            out.explains.push(r.explain);
        }
    }
    Ok(out)
}
