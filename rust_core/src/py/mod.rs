//! Python bindings (`memd._core`). The only files that use pyo3: everything here
//! converts at the boundary and calls the pure-Rust engine with the GIL released.

mod archive;
mod embed;
mod engine;
mod engine_admin;
mod engine_effects;
mod engine_search;
mod engine_snapshot;
mod engine_wire;
mod errors;
mod gil;
mod offline;
mod ops;
mod relay;
mod search;
mod types;

use pyo3::prelude::*;

/// The `memd._core` extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<types::PyMemory>()?;
    m.add_class::<types::PyPutResult>()?;
    m.add_class::<types::PyListPage>()?;
    m.add_class::<types::PySweepResult>()?;
    m.add_class::<types::PyTierStats>()?;
    m.add_class::<types::PyNamespaceStats>()?;
    m.add_class::<types::PyMapInfo>()?;
    m.add_class::<types::PyLifecycleAction>()?;
    m.add_class::<types::PyLifecycleReport>()?;
    m.add_class::<search::PyHit>()?;
    m.add_class::<ops::PyTransferReport>()?;
    m.add_class::<archive::PyArchiveReport>()?;
    m.add_class::<offline::PyVerifyReport>()?;
    m.add_function(wrap_pyfunction!(offline::py_verify, m)?)?;
    m.add_function(wrap_pyfunction!(offline::peek_namespace, m)?)?;
    m.add_function(wrap_pyfunction!(offline::fill_store_keys, m)?)?;
    m.add_class::<relay::PyRelayCall>()?;
    m.add_function(wrap_pyfunction!(relay::relay_unary, m)?)?;
    m.add_function(wrap_pyfunction!(relay::relay_start, m)?)?;
    Ok(())
}
