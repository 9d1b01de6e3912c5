//! The values of `Engine.transfer` and `Engine.clear` crossing the boundary: the
//! option names of a transfer, and the frozen `TransferReport`.

use crate::engine::{Conflict, DimensionMismatch, TransferReport};
use crate::error::CoreError;
use pyo3::prelude::*;

/// `on_conflict`: `fail`, `skip` or `overwrite`.
pub fn conflict(name: &str) -> Result<Conflict, CoreError> {
    match name {
        "fail" => Ok(Conflict::Fail),
        "skip" => Ok(Conflict::Skip),
        "overwrite" => Ok(Conflict::Overwrite),
        other => Err(CoreError::invalid(format!(
            "unknown on_conflict {other:?} (valid: fail, skip, overwrite)"
        ))),
    }
}

/// `on_dimension_mismatch`: `fail`, `skip` or `drop_embedding`.
pub fn dimension(name: &str) -> Result<DimensionMismatch, CoreError> {
    match name {
        "fail" => Ok(DimensionMismatch::Fail),
        "skip" => Ok(DimensionMismatch::Skip),
        "drop_embedding" => Ok(DimensionMismatch::DropEmbedding),
        other => Err(CoreError::invalid(format!(
            "unknown on_dimension_mismatch {other:?} (valid: fail, skip, drop_embedding)"
        ))),
    }
}

/// What a transfer did (see `TransferResponse` in the proto for each count).
#[pyclass(frozen, name = "TransferReport", module = "memd._core")]
pub struct PyTransferReport(pub TransferReport);

#[pymethods]
impl PyTransferReport {
    #[getter]
    fn transferred(&self) -> u64 {
        self.0.transferred
    }
    #[getter]
    fn overwritten(&self) -> u64 {
        self.0.overwritten
    }
    #[getter]
    fn dropped_embeddings(&self) -> u64 {
        self.0.dropped_embeddings
    }
    #[getter]
    fn skipped_existing(&self) -> u64 {
        self.0.skipped_existing
    }
    #[getter]
    fn skipped_dimension(&self) -> u64 {
        self.0.skipped_dimension
    }
    #[getter]
    fn missing(&self) -> u64 {
        self.0.missing
    }
    #[getter]
    fn demoted_by_capacity(&self) -> u64 {
        self.0.demoted_by_capacity
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.0).replace("TransferReport { ", "TransferReport(").replace(" }", ")")
    }
}
