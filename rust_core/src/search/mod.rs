//! Scored search: BM25 over `text`, cosine over embeddings, both fused, blended
//! with recency, frequency and importance, under filters. Pure Rust, no pyo3.
//!
//! Each namespace owns a `SearchIndex` (in `tier::state::Namespace`), updated by
//! every write and delete in the same place the LRU and TTL indexes are, and
//! rebuilt from the records at open. `Engine::search` (`engine/search.rs`) validates
//! a `SearchQuery` into a `Plan`, runs it under the state's read lock, then reads
//! the winning records. See `docs/search.md` for the choices and measurements.
//!
//! - `tokenize`: Unicode-aware tokens (CJK and Thai as bigrams); `analyze`: NFKC
//!   and stemming around them, the terms BM25 indexes.
//! - `text`: the inverted index and BM25.
//! - `vector`: the vector index trait and the exact SIMD cosine scan.
//! - `ann`: the HNSW graph over those vectors, with exact fallbacks.
//! - `quant`: the matrix's row storage, f32 or int8 (`Quantization`).
//! - `filter`: filters and the per-document attributes they test.
//! - `labels`: interned tags and metadata entries, with the slots holding each.
//! - `score`: the final score, its explanation and the top-k heap.
//! - `index`: the per-namespace index and its maintenance.
//! - `query`: the search pipeline; `fusion`: hybrid fusion.
//! - `pattern`: globs and regular expressions over text; `batch`: many searches at once.
//! - `fuzzy`: typo-tolerant keyword terms.
//! - `persist`: the snapshot of every index, written at close and read at open.

pub mod analyze;
pub mod ann;
pub mod batch;
pub mod filter;
pub mod floats;
pub mod fusion;
pub mod fuzzy;
pub mod hugepages;
pub mod index;
pub mod labels;
pub mod pattern;
pub mod persist;
pub mod quant;
pub mod query;
pub mod score;
pub mod stop;
pub mod text;
pub mod tokenize;
pub mod vector;

pub use analyze::Analyzer;
pub use filter::{DocMeta, Filter};
pub use fusion::CosineScale;
pub use index::{DocInput, SearchIndex};
pub use query::Plan;
pub use score::{Explain, RecencyFrom, Weights};
pub use text::Bm25;

use crate::model::Memory;

/// Most results one search may ask for.
pub const MAX_K: usize = 10_000;

/// Most distinct words in a query: a query is a question, not a document (and the
/// per-document match counter is 16 bits).
pub const MAX_QUERY_TERMS: usize = 1024;

/// `Weighted` fusion's default keyword share (chosen on `bench/recall_bench.py`).
pub const KEYWORD_WEIGHT: f32 = 0.1;

/// Which relevance a search uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Keyword with text, semantic with a vector, hybrid with both.
    #[default]
    Auto,
    /// BM25 over the text only.
    Keyword,
    /// Cosine over the vector only.
    Semantic,
    /// Both, fused.
    Hybrid,
    /// Keyword, restricted to memories containing the text as an exact phrase.
    Phrase,
    /// Relevance 1 for every memory matching the query's pattern (required).
    Pattern,
}

/// How hybrid search fuses keyword and vector relevance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fusion {
    /// Reciprocal rank fusion.
    Rrf,
    /// `a * keyword + (1 - a) * cosine`, each in [0, 1]: the default, as it ranks
    /// better than RRF on `bench/search_quality.py` (see `docs/search.md`).
    #[default]
    Weighted,
}

/// A search request.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent per-request switches mirroring SearchRequest's fields, not states"
)]
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// Namespace searched (required).
    pub namespace: String,
    /// Query text; may be empty when a vector is given.
    pub text: String,
    /// Query vector, the namespace's dimension.
    pub vector: Option<Vec<f32>>,
    /// Results wanted, 1..=`MAX_K`.
    pub k: usize,
    /// Relevance mode.
    pub mode: Mode,
    /// Final score weights.
    pub weights: Weights,
    /// Recency half-life (ms, > 0).
    pub half_life_ms: u64,
    /// Recency measured from the last access or creation.
    pub recency_from: RecencyFrom,
    /// Access count at which frequency reaches 1.
    pub frequency_saturation: u64,
    /// Hybrid fusion.
    pub fusion: Fusion,
    /// `Weighted` fusion's keyword share, in [0, 1].
    pub keyword_weight: f32,
    /// `Weighted` fusion's cosine rescaling over the vector candidates.
    pub cosine_scale: CosineScale,
    /// `Rrf` fusion's cut of each list, at most `fusion::MAX_RRF_DEPTH`; 0: `max(10k, 100)`.
    pub rrf_depth: usize,
    /// BM25 parameters.
    pub bm25: Bm25,
    /// Filters.
    pub filter: Filter,
    /// Count each hit as an access (LRU recency, access count, promotion).
    pub count_access: bool,
    /// The request's time.
    pub now_ms: u64,
    /// Largest hit the caller can send, encoded (0: no bound). A larger hit fails
    /// the search with `Capacity` before any access is counted.
    pub max_hit_bytes: usize,
    /// Only memories whose text matches this pattern (`pattern.rs`).
    pub pattern: Option<pattern::PatternSpec>,
    /// Scan every vector instead of walking the namespace's graph (a large
    /// namespace's vector search is otherwise approximate: see `ann`).
    pub exact: bool,
    /// Return each hit's embedding. Off by default: the vector is then neither
    /// decoded nor encoded (it is most of a hit's bytes and of a client's work).
    pub include_embedding: bool,
    /// Keyword terms the index lacks match indexed ones within 1-2 edits (`fuzzy.rs`).
    pub fuzzy: bool,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            namespace: String::new(),
            text: String::new(),
            vector: None,
            k: 10,
            mode: Mode::Auto,
            weights: Weights::default(),
            half_life_ms: 24 * 3_600_000,
            recency_from: RecencyFrom::LastAccess,
            frequency_saturation: 100,
            fusion: Fusion::Weighted,
            keyword_weight: KEYWORD_WEIGHT,
            cosine_scale: CosineScale::default(),
            rrf_depth: 0,
            bm25: Bm25::default(),
            filter: Filter { importance_max: 1.0, ..Filter::default() },
            count_access: false,
            now_ms: 0,
            max_hit_bytes: 0,
            pattern: None,
            exact: false,
            include_embedding: false,
            fuzzy: false,
        }
    }
}

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The memory, as stored (access statistics as of the search).
    pub memory: Memory,
    /// Its score and how it was made.
    pub explain: Explain,
}
