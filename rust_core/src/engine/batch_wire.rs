//! `BatchSearch` replies encoded in Rust: the servicer streams the pages as they come
//! from here, so a batch of 32 queries returning 320 hits costs Python no per-hit
//! work (building a Python `Hit`, then a protobuf message, per hit cost more than the
//! RPC itself saves; see `bench/batch_search.py`). Same paging as `Search`: at most
//! `PAGE_HITS` hits and `max_reply_bytes` per page, best first, every page of every
//! query built before the first is sent.

use super::Engine;
use crate::error::{CoreError, Result};
use crate::search::{Hit, SearchQuery};
use crate::wire::MemoryPb;
use prost::Message;

/// Most hits in one page.
pub const PAGE_HITS: usize = 100;

/// Bytes a page spends besides its hits: the query index (a tag and a varint of at
/// most 5 bytes), with room to spare.
const PAGE_OVERHEAD: usize = 8;

/// `memd.v1.ScoreExplain`.
#[derive(Clone, PartialEq, Message)]
pub struct ScoreExplainPb {
    /// Combined relevance.
    #[prost(double, tag = "1")]
    pub relevance: f64,
    /// Recency.
    #[prost(double, tag = "2")]
    pub recency: f64,
    /// Frequency.
    #[prost(double, tag = "3")]
    pub frequency: f64,
    /// Importance.
    #[prost(double, tag = "4")]
    pub importance: f64,
    /// Raw BM25.
    #[prost(double, tag = "5")]
    pub bm25: f64,
    /// Cosine.
    #[prost(double, tag = "6")]
    pub cosine: f64,
}

/// `memd.v1.SearchHit`.
#[derive(Clone, PartialEq, Message)]
pub struct SearchHitPb {
    /// The memory.
    #[prost(message, optional, tag = "1")]
    pub memory: Option<MemoryPb>,
    /// Final score.
    #[prost(double, tag = "2")]
    pub score: f64,
    /// Score parts, when asked for.
    #[prost(message, optional, tag = "3")]
    pub explain: Option<ScoreExplainPb>,
}

/// `memd.v1.BatchSearchResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct BatchSearchResponsePb {
    /// The query's index in the request.
    #[prost(uint32, tag = "1")]
    pub query_index: u32,
    /// Up to `PAGE_HITS` hits.
    #[prost(message, repeated, tag = "2")]
    pub hits: Vec<SearchHitPb>,
}

impl Engine {
    /// `search_batch`, its results encoded as `BatchSearchResponse` pages of at most
    /// `max_reply_bytes`, in query order, at least one page per query (empty when it
    /// found nothing). `explain[i]` fills query i's score parts.
    pub fn search_batch_encoded(
        &self,
        queries: &[SearchQuery],
        explain: &[bool],
        max_reply_bytes: usize,
    ) -> Result<Vec<Vec<u8>>> {
        if explain.len() != queries.len() {
            return Err(CoreError::invalid("one explain flag per query"));
        }
        pages(self.search_batch(queries)?, explain, max_reply_bytes)
    }
}

fn hit(h: Hit, explain: bool) -> SearchHitPb {
    let e = h.explain;
    SearchHitPb {
        score: f64::from(e.score),
        explain: explain.then(|| ScoreExplainPb {
            relevance: f64::from(e.relevance),
            recency: f64::from(e.recency),
            frequency: f64::from(e.frequency),
            importance: f64::from(e.importance),
            bm25: f64::from(e.bm25),
            cosine: f64::from(e.cosine),
        }),
        memory: Some(MemoryPb::from(h.memory)),
    }
}

/// The pages of every query's hits; `Capacity` if one hit cannot fit in a page.
pub fn pages(results: Vec<Vec<Hit>>, explain: &[bool], max_bytes: usize) -> Result<Vec<Vec<u8>>> {
    let room = max_bytes.saturating_sub(PAGE_OVERHEAD);
    let mut out = Vec::new();
    for (i, (hits, &explain)) in results.into_iter().zip(explain).enumerate() {
        let query_index = u32::try_from(i).expect("at most MAX_BATCH_QUERIES queries");
        let mut page = BatchSearchResponsePb { query_index, hits: Vec::new() };
        let mut size = 0;
        for (rank, h) in hits.into_iter().enumerate() {
            let key = h.memory.key.clone();
            let hit = hit(h, explain);
            let n = hit.encoded_len();
            // A repeated message field costs its tag, its length varint and itself.
            let cost = 1 + prost::encoding::encoded_len_varint(n as u64) + n;
            if cost > room {
                return Err(CoreError::Capacity(format!(
                    "query {i}: search hit {rank} (key {key:?}) needs {cost} bytes, more than \
                     the {max_bytes}-byte message limit (--max-message-bytes)"
                )));
            }
            if !page.hits.is_empty() && (page.hits.len() == PAGE_HITS || size + cost > room) {
                out.push(page.encode_to_vec());
                page.hits.clear();
                size = 0;
            }
            page.hits.push(hit);
            size += cost;
        }
        out.push(page.encode_to_vec());
    }
    Ok(out)
}
