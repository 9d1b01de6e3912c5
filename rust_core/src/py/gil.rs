//! Running engine work with the GIL released.

use crate::error::Result;
use pyo3::{PyResult, Python};

/// Runs `f` without the GIL (other Python threads keep running) and maps its error.
/// The engine holds no Python objects, so `f` only touches Rust data.
pub fn enter_core<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T> + Send,
    T: Send,
{
    py.detach(f).map_err(Into::into)
}
