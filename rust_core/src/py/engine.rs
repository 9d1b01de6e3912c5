//! `memd._core.Engine`: converts arguments, then runs the engine call with the GIL
//! released. One Rust call per Python call; batches cross as lists. This file holds
//! opening, closing, the memory operations and the store's state; the other methods are
//! in `engine_{wire,search,effects,admin}.rs` (pyo3's `multiple-pymethods`).

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::gil::enter_core;
use super::types::{
    PyEngineOptions, PyListPage, PyMapInfo, PyMemory, PyNamespaceStats, PyNewMemory, PyPutResult,
};
use crate::config::EngineConfig;
use crate::engine::{Engine, ListQuery};
use crate::model::RawMemory;
use crate::store::applied::Mark;
use crate::validate;
use pyo3::prelude::*;
use std::path::PathBuf;

/// A tiered memory store on one LMDB directory.
#[pyclass(frozen, name = "Engine", module = "memd._core")]
pub struct PyEngine {
    pub(super) engine: Engine,
}

/// Runs `f` with the cluster mark `(partition, seq)` pending (`engine/mark.rs`).
pub(super) fn scoped<T>(mark: Option<(String, u64)>, f: impl FnOnce() -> T) -> T {
    let mark = mark.map(|(partition, seq)| Mark { partition, seq });
    crate::engine::mark::scoped(mark, f)
}

/// A count from Python: negatives become 0 and huge values `usize::MAX`, so the
/// engine's own range check names the argument (Python ints are unbounded).
pub(super) fn saturating_usize(v: i128) -> usize {
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

    #[pyo3(signature = (namespace = None))]
    fn stats(&self, py: Python<'_>, namespace: Option<&str>) -> PyResult<Vec<PyNamespaceStats>> {
        let stats = enter_core(py, || self.engine.stats(namespace))?;
        Ok(stats.into_iter().map(PyNamespaceStats).collect())
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
