//! Module-level functions of `memd._core` that need no open engine: the offline
//! integrity check (`verify`, with its frozen `VerifyReport`), the namespace
//! of a serialized request (`peek_namespace`, for the server's authorization), and a
//! Store's keys made before it is logged (`fill_store_keys`, cluster mode).

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::gil::enter_core;
use crate::engine;
use crate::store::verify::{self, VerifyReport};
use crate::wire;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

/// What an offline integrity check found.
#[pyclass(frozen, name = "VerifyReport", module = "memd._core")]
pub struct PyVerifyReport(pub VerifyReport);

#[pymethods]
impl PyVerifyReport {
    #[getter]
    fn memories(&self) -> u64 {
        self.0.memories
    }
    #[getter]
    fn by_tier(&self) -> Vec<u64> {
        self.0.by_tier.to_vec()
    }
    #[getter]
    fn namespaces(&self) -> u64 {
        self.0.namespaces
    }
    #[getter]
    fn tokens(&self) -> u64 {
        self.0.tokens
    }
    #[getter]
    fn record_bytes(&self) -> u64 {
        self.0.record_bytes
    }
    #[getter]
    fn file_bytes(&self) -> u64 {
        self.0.file_bytes
    }
    #[getter]
    fn problems(&self) -> Vec<String> {
        self.0.problems.clone()
    }
    #[getter]
    fn ok(&self) -> bool {
        self.0.problems.is_empty()
    }
    fn __repr__(&self) -> String {
        let r = &self.0;
        format!(
            "VerifyReport(memories={}, namespaces={}, tokens={}, problems={})",
            r.memories,
            r.namespaces,
            r.tokens,
            r.problems.len()
        )
    }
}

/// Checks the store in `path` without changing it (see `store/verify.rs`).
#[pyfunction(name = "verify")]
pub fn py_verify(py: Python<'_>, path: PathBuf) -> PyResult<PyVerifyReport> {
    enter_core(py, || verify::verify(&path)).map(PyVerifyReport)
}

/// Requests below this size are read with the GIL held (their namespace peeked, or
/// their missing keys filled): a pass over a few kilobytes takes less time than
/// handing the GIL to another of the server's threads and waiting to get it back
/// (a peek runs on every authorized call, a fill on every cluster Store).
const READ_WITH_GIL_BYTES: usize = 64 << 10;

/// The namespace (field 1) of a serialized `memd.v1` request; "" when absent.
#[pyfunction]
pub fn peek_namespace(py: Python<'_>, request: &[u8]) -> PyResult<String> {
    if request.len() < READ_WITH_GIL_BYTES {
        return wire::peek_namespace(request).map_err(Into::into);
    }
    enter_core(py, || wire::peek_namespace(request))
}

/// A serialized `StoreRequest` with every missing key made at `now_ms` (see
/// `engine/keyed.rs`): (the request to log, its namespace, its number of memories).
/// The request object itself comes back when no key was missing.
#[pyfunction]
pub fn fill_store_keys<'py>(
    py: Python<'py>,
    request: Bound<'py, PyBytes>,
    now_ms: u64,
) -> PyResult<(Bound<'py, PyBytes>, String, usize)> {
    let bytes = request.as_bytes();
    let keyed = if bytes.len() < READ_WITH_GIL_BYTES {
        engine::fill_keys(bytes, now_ms)?
    } else {
        enter_core(py, || engine::fill_keys(bytes, now_ms))?
    };
    let payload = match keyed.payload {
        Some(encoded) => PyBytes::new(py, &encoded),
        None => request,
    };
    Ok((payload, keyed.namespace, keyed.items))
}
