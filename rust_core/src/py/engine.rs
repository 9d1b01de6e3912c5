//! `memd._core.Engine`: converts arguments, then runs the engine call with the GIL
//! released. One Rust call per Python call; batches cross as lists.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::archive::{PyArchiveReport, PyArchiveSetup};
use super::embed::PyEmbedSetup;
use super::gil::enter_core;
use super::ops::{self, PyTransferReport};
use super::search::{PyHit, PySearchQuery};
use super::types::{
    PyEngineOptions, PyLifecycleReport, PyListPage, PyMapInfo, PyMemory, PyNamespaceStats,
    PyNewMemory, PyPutResult, PySweepResult,
};
use crate::config::EngineConfig;
use crate::engine::{Engine, LifecycleRequest, ListQuery, TransferRequest};
use crate::lifecycle::Jobs;
use crate::model::RawMemory;
use crate::search::SearchQuery;
use crate::store::applied::Mark;
use crate::validate;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

/// `take_touches`' answer: (payload, keys, promotions, more).
type TakenTouches<'py> = (Bound<'py, PyBytes>, usize, usize, bool);

/// A tiered memory store on one LMDB directory.
#[pyclass(frozen, name = "Engine", module = "memd._core")]
pub struct PyEngine {
    engine: Engine,
}

/// Runs `f` with the cluster mark `(partition, seq)` pending (`engine/mark.rs`).
fn scoped<T>(mark: Option<(String, u64)>, f: impl FnOnce() -> T) -> T {
    let mark = mark.map(|(partition, seq)| Mark { partition, seq });
    crate::engine::mark::scoped(mark, f)
}

/// A count from Python: negatives become 0 and huge values `usize::MAX`, so the
/// engine's own range check names the argument (Python ints are unbounded).
fn saturating_usize(v: i128) -> usize {
    usize::try_from(v.max(0)).unwrap_or(usize::MAX)
}

/// What `close` returns: snapshot bytes, seconds, why skipped, the close's steps.
type CloseTuple = (u64, f64, String, Vec<(&'static str, f64, f64)>);

#[pymethods]
impl PyEngine {
    #[new]
    fn new(py: Python<'_>, path: PathBuf, options: PyEngineOptions) -> PyResult<Self> {
        let cfg = EngineConfig::try_from(options)?;
        let engine = enter_core(py, || Engine::open(&path, cfg))?;
        Ok(PyEngine { engine })
    }

    #[getter]
    fn path(&self) -> String {
        self.engine.path().display().to_string()
    }

    /// (from the snapshot, why rebuilt): how the search state was loaded at open.
    #[getter]
    fn open_report(&self) -> (bool, String) {
        let r = self.engine.open_report();
        (r.from_snapshot, r.reason.clone())
    }

    /// [(step, wall seconds, CPU seconds of its thread)]: where the open's time went.
    #[getter]
    fn open_phases(&self) -> Vec<(&'static str, f64, f64)> {
        self.engine.open_report().phases.iter().map(|p| (p.name, p.wall_s, p.cpu_s)).collect()
    }

    #[pyo3(signature = (namespace, items, now_ms, atomic = true))]
    fn put_many(
        &self,
        py: Python<'_>,
        namespace: &str,
        items: Vec<PyNewMemory>,
        now_ms: u64,
        atomic: bool,
    ) -> PyResult<Vec<PyPutResult>> {
        let raw: Vec<RawMemory> = items.into_iter().map(RawMemory::from).collect();
        let results = enter_core(py, || self.engine.put_many(namespace, raw, now_ms, atomic))?;
        Ok(results.into_iter().map(PyPutResult).collect())
    }

    #[pyo3(signature = (namespace, keys, now_ms, count_access = true))]
    fn get_many(
        &self,
        py: Python<'_>,
        namespace: &str,
        keys: Vec<String>,
        now_ms: u64,
        count_access: bool,
    ) -> PyResult<Vec<Option<PyMemory>>> {
        let found =
            enter_core(py, || self.engine.get_many(namespace, &keys, now_ms, count_access))?;
        Ok(found.into_iter().map(|m| m.map(PyMemory)).collect())
    }

    #[pyo3(signature = (namespace, keys, now_ms, mark = None))]
    fn delete_many(
        &self,
        py: Python<'_>,
        namespace: &str,
        keys: Vec<String>,
        now_ms: u64,
        mark: Option<(String, u64)>,
    ) -> PyResult<Vec<bool>> {
        enter_core(py, || scoped(mark, || self.engine.delete_many(namespace, &keys, now_ms)))
    }

    #[pyo3(signature = (
        namespace, now_ms, tier = 0, cursor = "", limit = 100, reverse = false,
        created_after_ms = 0, created_before_ms = 0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn list(
        &self,
        py: Python<'_>,
        namespace: String,
        now_ms: u64,
        tier: i128,
        cursor: &str,
        limit: i128,
        reverse: bool,
        created_after_ms: i128,
        created_before_ms: i128,
    ) -> PyResult<PyListPage> {
        let query = ListQuery {
            ns: namespace,
            now_ms,
            tier: validate::optional_tier(tier)?,
            cursor: cursor.to_owned(),
            limit: saturating_usize(limit),
            reverse,
            created_after_ms: validate::int63("created_after_ms", created_after_ms)?,
            created_before_ms: validate::int63("created_before_ms", created_before_ms)?,
        };
        let (items, next_cursor) = enter_core(py, || self.engine.list(&query))?;
        let items =
            items.into_iter().map(|m| Py::new(py, PyMemory(m))).collect::<PyResult<Vec<_>>>()?;
        Ok(PyListPage { items, next_cursor })
    }

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

    #[pyo3(signature = (
        source, target, keys, now_ms, moving = false, on_conflict = "fail",
        on_dimension_mismatch = "fail", mark = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        py: Python<'_>,
        source: String,
        target: String,
        keys: Option<Vec<String>>,
        now_ms: u64,
        moving: bool,
        on_conflict: &str,
        on_dimension_mismatch: &str,
        mark: Option<(String, u64)>,
    ) -> PyResult<PyTransferReport> {
        let req = TransferRequest {
            source,
            target,
            keys,
            moving,
            on_conflict: ops::conflict(on_conflict)?,
            on_dimension: ops::dimension(on_dimension_mismatch)?,
            now_ms,
        };
        Ok(PyTransferReport(enter_core(py, || scoped(mark, || self.engine.transfer(&req)))?))
    }

    #[pyo3(signature = (namespace, tier = 0, mark = None))]
    fn clear(
        &self,
        py: Python<'_>,
        namespace: &str,
        tier: i128,
        mark: Option<(String, u64)>,
    ) -> PyResult<u64> {
        let tier = validate::optional_tier(tier)?;
        enter_core(py, || scoped(mark, || self.engine.clear(namespace, tier)))
    }

    #[pyo3(signature = (
        now_ms, namespace = None, consolidate = true, policies = true, dry_run = false,
        max_actions = 10_000, mark = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn lifecycle(
        &self,
        py: Python<'_>,
        now_ms: u64,
        namespace: Option<String>,
        consolidate: bool,
        policies: bool,
        dry_run: bool,
        max_actions: i128,
        mark: Option<(String, u64)>,
    ) -> PyResult<PyLifecycleReport> {
        let req = LifecycleRequest {
            namespace,
            jobs: Jobs { consolidate, policies },
            dry_run,
            max_actions: saturating_usize(max_actions),
            now_ms,
            // A replicated entry (a mark): one transaction, with the mark.
            single_transaction: mark.is_some(),
        };
        Ok(PyLifecycleReport(enter_core(py, || scoped(mark, || self.engine.lifecycle(&req)))?))
    }

    #[pyo3(signature = (now_ms, max_items = 1000, namespaces = None, mark = None))]
    fn sweep(
        &self,
        py: Python<'_>,
        now_ms: u64,
        max_items: i128,
        namespaces: Option<Vec<String>>,
        mark: Option<(String, u64)>,
    ) -> PyResult<PySweepResult> {
        let max = saturating_usize(max_items);
        let (expired, more) = enter_core(py, || {
            scoped(mark, || match &namespaces {
                Some(names) => self.engine.sweep_namespaces(names, now_ms, max),
                None => self.engine.sweep(now_ms, max),
            })
        })?;
        Ok(PySweepResult { expired, more })
    }

    fn expired_count(&self, py: Python<'_>, namespaces: Vec<String>, now_ms: u64) -> PyResult<u64> {
        enter_core(py, || self.engine.expired_count(&namespaces, now_ms))
    }

    /// Cluster owner: `(payload, keys, promotions, more)` of a `touch` entry of the
    /// pending accesses of `namespaces`, or `None` (`engine/touch.rs`).
    #[pyo3(signature = (namespaces, max_keys = 10_000))]
    fn take_touches<'py>(
        &self,
        py: Python<'py>,
        namespaces: Vec<String>,
        max_keys: usize,
    ) -> PyResult<Option<TakenTouches<'py>>> {
        let taken = enter_core(py, || self.engine.take_touches(&namespaces, max_keys))?;
        Ok(taken.map(|t| (PyBytes::new(py, &t.payload), t.keys, t.promotions, t.more)))
    }

    /// Applies a `touch` entry: `(touched, promoted)`.
    #[pyo3(signature = (payload, now_ms, mark = None))]
    fn touch(
        &self,
        py: Python<'_>,
        payload: &[u8],
        now_ms: u64,
        mark: Option<(String, u64)>,
    ) -> PyResult<(u64, u64)> {
        enter_core(py, || scoped(mark, || self.engine.touch(payload, now_ms)))
    }

    /// `(keys waiting for a touch entry, reads dropped because the buffer was full)`.
    fn pending_touches(&self, py: Python<'_>) -> PyResult<(usize, u64)> {
        enter_core(py, || self.engine.pending_touches())
    }

    #[pyo3(signature = (namespace = None))]
    fn stats(&self, py: Python<'_>, namespace: Option<&str>) -> PyResult<Vec<PyNamespaceStats>> {
        let stats = enter_core(py, || self.engine.stats(namespace))?;
        Ok(stats.into_iter().map(PyNamespaceStats).collect())
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

    fn namespaces(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        enter_core(py, || self.engine.namespaces())
    }

    #[pyo3(signature = (namespace, mark = None))]
    fn drop_namespace(
        &self,
        py: Python<'_>,
        namespace: &str,
        mark: Option<(String, u64)>,
    ) -> PyResult<u64> {
        enter_core(py, || scoped(mark, || self.engine.drop_namespace(namespace)))
    }

    fn applied(&self, py: Python<'_>, partition: &str) -> PyResult<u64> {
        enter_core(py, || self.engine.applied(partition))
    }

    fn flush(&self, py: Python<'_>) -> PyResult<u64> {
        enter_core(py, || self.engine.flush())
    }

    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        enter_core(py, || self.engine.sync())
    }

    fn backup(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        enter_core(py, || self.engine.backup(&path))
    }

    fn map_info(&self, py: Python<'_>) -> PyResult<PyMapInfo> {
        enter_core(py, || self.engine.map_info()).map(PyMapInfo)
    }

    #[pyo3(signature = (request, now_ms, max_items = 100_000, mark = None))]
    fn store_encoded<'py>(
        &self,
        py: Python<'py>,
        request: &[u8],
        now_ms: u64,
        max_items: usize,
        mark: Option<(String, u64)>,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let (reply, n) = enter_core(py, || {
            scoped(mark, || self.engine.store_encoded(request, now_ms, max_items))
        })?;
        Ok((PyBytes::new(py, &reply), n))
    }

    #[pyo3(signature = (requests, after, now_ms, max_items = 100_000, mark = None))]
    fn store_encoded_group<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<Bound<'py, PyBytes>>,
        after: Vec<Option<usize>>,
        now_ms: u64,
        max_items: usize,
        mark: Option<(String, u64)>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let slices: Vec<&[u8]> = requests.iter().map(PyBytesMethods::as_bytes).collect();
        let replies = enter_core(py, || {
            scoped(mark, || self.engine.store_encoded_group(&slices, &after, now_ms, max_items))
        })?;
        replies
            .into_iter()
            .map(|reply| match reply {
                Ok((bytes, n)) => {
                    Ok((PyBytes::new(py, &bytes), n).into_pyobject(py)?.into_any().unbind())
                }
                Err(e) => Ok(PyErr::from(e).into_value(py).into_any()),
            })
            .collect()
    }

    #[pyo3(signature = (request, now_ms, max_items = 100_000, max_reply_bytes = 4 << 20))]
    fn retrieve_encoded<'py>(
        &self,
        py: Python<'py>,
        request: &[u8],
        now_ms: u64,
        max_items: usize,
        max_reply_bytes: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let (reply, n) = enter_core(py, || {
            self.engine.retrieve_encoded(request, now_ms, max_items, max_reply_bytes)
        })?;
        Ok((PyBytes::new(py, &reply), n))
    }

    #[pyo3(signature = (
        request, now_ms, default_page = 100, max_page = 1_000, max_reply_bytes = 4 << 20
    ))]
    fn list_encoded<'py>(
        &self,
        py: Python<'py>,
        request: &[u8],
        now_ms: u64,
        default_page: usize,
        max_page: usize,
        max_reply_bytes: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let (reply, n) = enter_core(py, || {
            self.engine.list_encoded(request, now_ms, default_page, max_page, max_reply_bytes)
        })?;
        Ok((PyBytes::new(py, &reply), n))
    }

    fn put_token(&self, py: Python<'_>, digest: &[u8], record: &[u8]) -> PyResult<()> {
        enter_core(py, || self.engine.put_token(digest, record))
    }

    fn delete_token(&self, py: Python<'_>, digest: &[u8]) -> PyResult<bool> {
        enter_core(py, || self.engine.delete_token(digest))
    }

    fn tokens<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
        let all = enter_core(py, || self.engine.tokens())?;
        Ok(all.iter().map(|(d, r)| (PyBytes::new(py, d), PyBytes::new(py, r))).collect())
    }

    fn configure_embedding(&self, py: Python<'_>, setup: PyEmbedSetup) -> PyResult<()> {
        enter_core(py, || self.engine.configure_embedding(setup.into_setup()?))
    }

    #[pyo3(signature = (setup = None))]
    fn configure_archive(&self, py: Python<'_>, setup: Option<PyArchiveSetup>) -> PyResult<()> {
        enter_core(py, || {
            self.engine.configure_archive(setup.map(PyArchiveSetup::into_config).transpose()?)
        })
    }

    fn archive_pass(&self, py: Python<'_>, now_ms: u64) -> PyResult<PyArchiveReport> {
        Ok(PyArchiveReport(enter_core(py, || self.engine.archive_pass(now_ms))?))
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

    /// (snapshot bytes, seconds, why skipped, [(step, wall s, CPU s)]), or None when
    /// already closed.
    #[pyo3(signature = (snapshot_budget_s = None))]
    fn close(
        &self,
        py: Python<'_>,
        snapshot_budget_s: Option<f64>,
    ) -> PyResult<Option<CloseTuple>> {
        let report = enter_core(py, || {
            let budget = match snapshot_budget_s {
                None => None,
                Some(s) if s.is_finite() && s >= 0.0 => Some(std::time::Duration::from_secs_f64(s)),
                Some(s) => {
                    return Err(crate::error::CoreError::InvalidArgument(format!(
                        "snapshot_budget_s must be a finite number >= 0, not {s}"
                    )))
                }
            };
            self.engine.close_within(budget)
        })?;
        Ok(report.map(|r| {
            let phases = r.phases.iter().map(|p| (p.name, p.wall_s, p.cpu_s)).collect();
            (r.bytes, r.seconds, r.skipped, phases)
        }))
    }
}
