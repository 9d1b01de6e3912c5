//! `memd._core.Engine`, continued: access tokens and the object-storage archive's
//! configuration and passes.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::archive::{PyArchiveReport, PyArchiveSetup};
use super::engine::PyEngine;
use super::gil::enter_core;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pymethods]
impl PyEngine {
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

    #[pyo3(signature = (setup = None))]
    fn configure_archive(&self, py: Python<'_>, setup: Option<PyArchiveSetup>) -> PyResult<()> {
        enter_core(py, || {
            self.engine.configure_archive(setup.map(PyArchiveSetup::into_config).transpose()?)
        })
    }

    fn archive_pass(&self, py: Python<'_>, now_ms: u64) -> PyResult<PyArchiveReport> {
        Ok(PyArchiveReport(enter_core(py, || self.engine.archive_pass(now_ms))?))
    }
}
