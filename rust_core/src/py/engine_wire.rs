//! `memd._core.Engine`, continued: the daemon's hot RPCs on wire bytes: protobuf in,
//! protobuf out, decoded and encoded in Rust so the servicer never builds a Python
//! message.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::engine::{scoped, PyEngine};
use super::gil::enter_core;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pymethods]
impl PyEngine {
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
}
