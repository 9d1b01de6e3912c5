//! `memd._core.Engine`, continued: the engine's effects that cluster mode logs
//! (transfer, clear, lifecycle, sweep, access statistics as `touch` entries) and the
//! applied-sequence mark they carry.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::engine::{saturating_usize, scoped, PyEngine};
use super::gil::enter_core;
use super::ops::{self, PyTransferReport};
use super::types::{PyLifecycleReport, PySweepResult};
use crate::engine::{LifecycleRequest, TransferRequest};
use crate::lifecycle::Jobs;
use crate::validate;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `take_touches`' answer: (payload, keys, promotions, more).
type TakenTouches<'py> = (Bound<'py, PyBytes>, usize, usize, bool);

#[pymethods]
impl PyEngine {
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

    fn applied(&self, py: Python<'_>, partition: &str) -> PyResult<u64> {
        enter_core(py, || self.engine.applied(partition))
    }
}
