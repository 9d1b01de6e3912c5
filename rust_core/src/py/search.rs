//! Search values crossing the boundary: `memd.types.SearchQuery` (read by attribute,
//! with its nested `SearchWeights` and `SearchFilter`) and the frozen `Hit` results.

use super::types::PyMemory;
use crate::error::CoreError;
use crate::model::Tier;
use crate::search::fusion::MAX_RRF_DEPTH;
use crate::search::pattern::{PatternSpec, Syntax};
use crate::search::score::{Explain, RecencyFrom, Weights};
use crate::search::{Bm25, CosineScale, Filter, Fusion, Hit, Mode, SearchQuery, MAX_K};
use crate::validate::int63;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyDict;
use std::collections::HashMap;

/// `memd.types.SearchWeights`.
#[derive(FromPyObject)]
pub struct PySearchWeights {
    relevance: f64,
    recency: f64,
    frequency: f64,
    importance: f64,
}

/// `memd.types.SearchFilter`.
#[derive(FromPyObject)]
pub struct PySearchFilter {
    tiers: Vec<i128>,
    tags_all: Vec<String>,
    tags_any: Vec<String>,
    metadata: HashMap<String, String>,
    importance_min: f64,
    importance_max: f64,
    created_after_ms: i128,
    created_before_ms: i128,
    accessed_after_ms: i128,
    accessed_before_ms: i128,
}

/// `memd.types.SearchQuery`.
// Its flags are the Python dataclass's fields, read by attribute one for one.
#[allow(clippy::struct_excessive_bools)]
#[derive(FromPyObject)]
pub struct PySearchQuery {
    namespace: String,
    text: String,
    vector: Option<PyBackedBytes>,
    k: i128,
    mode: String,
    weights: PySearchWeights,
    half_life_ms: i128,
    recency_from: String,
    fusion: String,
    keyword_weight: f64,
    cosine_scale: String,
    rrf_depth: i128,
    frequency_saturation: i128,
    bm25_k1: f64,
    bm25_b: f64,
    filter: PySearchFilter,
    count_access: bool,
    pattern: String,
    pattern_syntax: String,
    pattern_ignore_case: bool,
    exact: bool,
    include_embedding: bool,
    fuzzy: bool,
}

fn choice<T: Copy>(name: &str, got: &str, options: &[(&str, T)]) -> Result<T, CoreError> {
    options.iter().find(|(n, _)| *n == got).map(|(_, v)| *v).ok_or_else(|| {
        let valid: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        CoreError::invalid(format!("unknown {name} {got:?} (valid: {})", valid.join(", ")))
    })
}

fn vector(bytes: &[u8]) -> Result<Vec<f32>, CoreError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return Err(CoreError::invalid(format!(
            "vector is {} bytes; it must be a non-empty multiple of 4 (packed float32)",
            bytes.len()
        )));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn cosine_scale(name: &str) -> Result<CosineScale, CoreError> {
    let scales = [
        ("none", CosineScale::None),
        ("minmax", CosineScale::MinMax),
        ("zscore", CosineScale::ZScore),
    ];
    choice("cosine_scale", name, &scales)
}

fn rrf_depth(depth: i128) -> Result<usize, CoreError> {
    usize::try_from(depth).ok().filter(|d| *d <= MAX_RRF_DEPTH).ok_or_else(|| {
        CoreError::invalid(format!("rrf_depth must be in 0..={MAX_RRF_DEPTH}, got {depth}"))
    })
}

impl PySearchQuery {
    /// The engine's query at `now_ms`; rejects what cannot be converted.
    pub fn into_query(self, now_ms: u64) -> Result<SearchQuery, CoreError> {
        let f = self.filter;
        let tiers =
            f.tiers
                .iter()
                .map(|&n| {
                    i64::try_from(n).ok().and_then(Tier::from_number).ok_or_else(|| {
                        CoreError::invalid(format!("unknown tier {n} (valid: 1..4)"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
        let mut metadata: Vec<(String, String)> = f.metadata.into_iter().collect();
        metadata.sort();
        let w = self.weights;
        Ok(SearchQuery {
            namespace: self.namespace,
            text: self.text,
            vector: self.vector.as_deref().map(vector).transpose()?,
            k: usize::try_from(self.k).ok().filter(|k| (1..=MAX_K).contains(k)).ok_or_else(
                || CoreError::invalid(format!("k must be in 1..={MAX_K}, got {}", self.k)),
            )?,
            mode: choice(
                "mode",
                &self.mode,
                &[
                    ("auto", Mode::Auto),
                    ("keyword", Mode::Keyword),
                    ("semantic", Mode::Semantic),
                    ("hybrid", Mode::Hybrid),
                    ("phrase", Mode::Phrase),
                    ("pattern", Mode::Pattern),
                ],
            )?,
            weights: Weights {
                relevance: w.relevance as f32,
                recency: w.recency as f32,
                frequency: w.frequency as f32,
                importance: w.importance as f32,
            },
            half_life_ms: int63("half_life_ms", self.half_life_ms)?,
            recency_from: choice(
                "recency_from",
                &self.recency_from,
                &[("last_access", RecencyFrom::LastAccess), ("created", RecencyFrom::Created)],
            )?,
            frequency_saturation: int63("frequency_saturation", self.frequency_saturation)?,
            fusion: choice(
                "fusion",
                &self.fusion,
                &[("rrf", Fusion::Rrf), ("weighted", Fusion::Weighted)],
            )?,
            keyword_weight: self.keyword_weight as f32,
            cosine_scale: cosine_scale(&self.cosine_scale)?,
            rrf_depth: rrf_depth(self.rrf_depth)?,
            bm25: Bm25 { k1: self.bm25_k1 as f32, b: self.bm25_b as f32 },
            filter: Filter {
                tiers,
                tags_all: f.tags_all,
                tags_any: f.tags_any,
                metadata,
                importance_min: f.importance_min as f32,
                importance_max: f.importance_max as f32,
                created_after_ms: int63("created_after_ms", f.created_after_ms)?,
                created_before_ms: int63("created_before_ms", f.created_before_ms)?,
                accessed_after_ms: int63("accessed_after_ms", f.accessed_after_ms)?,
                accessed_before_ms: int63("accessed_before_ms", f.accessed_before_ms)?,
            },
            count_access: self.count_access,
            now_ms,
            max_hit_bytes: 0,
            pattern: if self.pattern.is_empty() {
                None
            } else {
                Some(PatternSpec {
                    pattern: self.pattern,
                    syntax: choice(
                        "pattern_syntax",
                        &self.pattern_syntax,
                        &[("glob", Syntax::Glob), ("regex", Syntax::Regex)],
                    )?,
                    ignore_case: self.pattern_ignore_case,
                })
            },
            exact: self.exact,
            include_embedding: self.include_embedding,
            fuzzy: self.fuzzy,
        })
    }
}

/// One search result.
#[pyclass(frozen, name = "Hit", module = "memd._core")]
pub struct PyHit {
    memory: Py<PyMemory>,
    key: String,
    explain: Explain,
}

impl PyHit {
    /// Wraps a result (the memory becomes a Python object once, here).
    pub fn new(py: Python<'_>, hit: Hit) -> PyResult<PyHit> {
        let key = hit.memory.key.clone();
        Ok(PyHit { memory: Py::new(py, PyMemory(hit.memory))?, key, explain: hit.explain })
    }
}

#[pymethods]
impl PyHit {
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }
    #[getter]
    fn score(&self) -> f32 {
        self.explain.score
    }
    #[getter]
    fn memory(&self, py: Python<'_>) -> Py<PyMemory> {
        self.memory.clone_ref(py)
    }
    #[getter]
    fn explain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = &self.explain;
        let [rel, rec, freq, imp] = e.parts();
        let d = PyDict::new(py);
        for (name, value) in [
            ("score", e.score),
            ("relevance", e.relevance),
            ("bm25", e.bm25),
            ("keyword", e.keyword),
            ("cosine", e.cosine),
            ("keyword_rank", e.keyword_rank as f32),
            ("semantic_rank", e.semantic_rank as f32),
            ("recency", e.recency),
            ("frequency", e.frequency),
            ("importance", e.importance),
            ("relevance_part", rel),
            ("recency_part", rec),
            ("frequency_part", freq),
            ("importance_part", imp),
        ] {
            d.set_item(name, f64::from(value))?;
        }
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!("Hit(key={:?}, score={:.4})", self.key, self.explain.score)
    }
}
