//! `memd._core.Engine`, continued: search, single and batched (a batch's replies
//! encoded in Rust), and the server-side embedders searches and stores use.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::embed::PyEmbedSetup;
use super::engine::PyEngine;
use super::gil::enter_core;
use super::search::{PyHit, PySearchQuery};
use crate::search::SearchQuery;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pymethods]
impl PyEngine {
    #[pyo3(signature = (query, now_ms, max_hit_bytes = 0))]
    fn search(
        &self,
        py: Python<'_>,
        query: PySearchQuery,
        now_ms: u64,
        max_hit_bytes: usize,
    ) -> PyResult<Vec<PyHit>> {
        let query = SearchQuery { max_hit_bytes, ..query.into_query(now_ms)? };
        let hits = enter_core(py, || self.engine.search(&query))?;
        hits.into_iter().map(|h| PyHit::new(py, h)).collect()
    }

    #[pyo3(signature = (queries, now_ms, max_hit_bytes = 0))]
    fn search_batch(
        &self,
        py: Python<'_>,
        queries: Vec<PySearchQuery>,
        now_ms: u64,
        max_hit_bytes: usize,
    ) -> PyResult<Vec<Vec<PyHit>>> {
        let queries = queries
            .into_iter()
            .map(|q| Ok(SearchQuery { max_hit_bytes, ..q.into_query(now_ms)? }))
            .collect::<Result<Vec<_>, crate::error::CoreError>>()?;
        let results = enter_core(py, || self.engine.search_batch(&queries))?;
        results
            .into_iter()
            .map(|hits| hits.into_iter().map(|h| PyHit::new(py, h)).collect())
            .collect()
    }

    #[pyo3(signature = (queries, explain, now_ms, max_reply_bytes = 4 << 20))]
    fn search_batch_encoded<'py>(
        &self,
        py: Python<'py>,
        queries: Vec<PySearchQuery>,
        explain: Vec<bool>,
        now_ms: u64,
        max_reply_bytes: usize,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let queries = queries
            .into_iter()
            .map(|q| Ok(SearchQuery { max_hit_bytes: max_reply_bytes, ..q.into_query(now_ms)? }))
            .collect::<Result<Vec<_>, crate::error::CoreError>>()?;
        let pages = enter_core(py, || {
            self.engine.search_batch_encoded(&queries, &explain, max_reply_bytes)
        })?;
        Ok(pages.iter().map(|p| PyBytes::new(py, p)).collect())
    }

    /// `(vectors, graph nodes, pending, condemned)` of a namespace's vector index.
    fn vector_index(
        &self,
        py: Python<'_>,
        namespace: &str,
    ) -> PyResult<Option<(usize, usize, usize, usize)>> {
        let stats = enter_core(py, || self.engine.stats(Some(namespace)))?;
        Ok(stats.first().map(|s| {
            let v = s.vectors;
            (v.vectors, v.nodes, v.pending, v.condemned)
        }))
    }

    fn configure_embedding(&self, py: Python<'_>, setup: PyEmbedSetup) -> PyResult<()> {
        enter_core(py, || self.engine.configure_embedding(setup.into_setup()?))
    }

    fn embedder_of(&self, namespace: &str) -> Option<(String, usize)> {
        self.engine.embedder_of(namespace)
    }

    fn recorded_models(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        enter_core(py, || self.engine.recorded_models())
    }

    #[pyo3(signature = (namespace, texts, query = false))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        namespace: &str,
        texts: Vec<String>,
        query: bool,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let vectors = enter_core(py, || self.engine.embed(namespace, &texts, query))?;
        Ok(vectors
            .iter()
            .map(|v| PyBytes::new(py, &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()))
            .collect())
    }
}
