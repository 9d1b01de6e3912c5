//! `memd._core.Engine`, continued: a partition's copy for cluster mode's log
//! compaction (`engine/snapshot.rs`), read and installed with the GIL released.

// pyo3 extracts arguments as owned values; borrowing them is not an option here.
#![allow(clippy::needless_pass_by_value)]

use super::engine::{saturating_usize, scoped, PyEngine};
use super::gil::enter_core;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pymethods]
impl PyEngine {
    /// A partition's namespaces as serialized `PartitionSnapshotChunk`s (one read
    /// transaction), each carrying `sequence`.
    #[pyo3(signature = (namespaces, sequence, chunk_bytes = 1_048_576))]
    fn read_partition<'py>(
        &self,
        py: Python<'py>,
        namespaces: Vec<String>,
        sequence: u64,
        chunk_bytes: i128,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let limit = saturating_usize(chunk_bytes);
        let chunks = enter_core(py, || self.engine.read_partition(&namespaces, sequence, limit))?;
        Ok(chunks.iter().map(|c| PyBytes::new(py, c)).collect())
    }

    /// Installs a partition's copy in place of the namespaces `held`, in one
    /// transaction with `mark`; returns the copy's sequence.
    #[pyo3(signature = (chunks, held, mark = None))]
    fn install_partition<'py>(
        &self,
        py: Python<'py>,
        chunks: Vec<Bound<'py, PyBytes>>,
        held: Vec<String>,
        mark: Option<(String, u64)>,
    ) -> PyResult<u64> {
        let slices: Vec<&[u8]> = chunks.iter().map(PyBytesMethods::as_bytes).collect();
        enter_core(py, || scoped(mark, || self.engine.install_partition(&slices, &held)))
    }
}
