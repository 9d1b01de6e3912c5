//! `relay_unary`, `relay_start` and `RelayCall`: the relay's calls (`crate::relay`)
//! with the GIL released while they run. A reply crosses as a tuple
//! `(code, message, body, metadata)`: the owner's status is data, not an exception.

// pyo3 extracts arguments as owned values; taking them by value is its idiom.
#![allow(clippy::needless_pass_by_value)]

use super::gil::enter_core;
use crate::error::CoreError;
use crate::relay::{self, Pending, Reply, UnaryCall};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::time::Duration;

/// A reply as Python sees it.
type PyReply<'py> = (u32, String, Bound<'py, PyBytes>, Vec<(String, Bound<'py, PyBytes>)>);

/// Unlimited deadlines are a year: what `Duration` and the `grpc-timeout` header hold.
const LONGEST: Duration = Duration::from_hours(365 * 24);

fn reply(py: Python<'_>, reply: Reply) -> PyReply<'_> {
    let metadata =
        reply.metadata.into_iter().map(|(key, value)| (key, PyBytes::new(py, &value))).collect();
    (reply.code, reply.message, PyBytes::new(py, &reply.body), metadata)
}

/// Metadata values as grpcio gives them: `str`, or `bytes` under `-bin` keys.
fn metadata(pairs: &[(String, Bound<'_, PyAny>)]) -> PyResult<Vec<(String, Vec<u8>)>> {
    pairs
        .iter()
        .map(|(key, value)| {
            let bytes = if let Ok(text) = value.cast::<PyString>() {
                text.to_str()?.as_bytes().to_vec()
            } else if let Ok(bytes) = value.cast::<PyBytes>() {
                bytes.as_bytes().to_vec()
            } else {
                return Err(
                    CoreError::invalid(format!("metadata {key:?}: not str or bytes")).into()
                );
            };
            Ok((key.clone(), bytes))
        })
        .collect()
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    if value.is_nan() {
        return Err(CoreError::invalid(format!("{what} is NaN")).into());
    }
    Ok(Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(LONGEST).min(LONGEST))
}

/// One unary call of `path` at `address`, to its end (see `memd/_core.pyi`).
#[pyfunction]
#[pyo3(signature = (address, path, metadata, request, timeout_s, max_bytes))]
pub fn relay_unary<'py>(
    py: Python<'py>,
    address: &str,
    path: &str,
    metadata: Vec<(String, Bound<'py, PyAny>)>,
    request: &[u8],
    timeout_s: f64,
    max_bytes: usize,
) -> PyResult<PyReply<'py>> {
    let metadata = self::metadata(&metadata)?;
    let timeout = seconds(timeout_s, "timeout_s")?;
    let call = UnaryCall { address, path, metadata: &metadata, request, timeout, max_bytes };
    let done = enter_core(py, || relay::unary(&call))?;
    Ok(reply(py, done))
}

/// Start one unary call; wait for it with `RelayCall.wait` (see `memd/_core.pyi`).
#[pyfunction]
#[pyo3(signature = (address, path, metadata, request, timeout_s, max_bytes))]
pub fn relay_start<'py>(
    py: Python<'py>,
    address: &str,
    path: &str,
    metadata: Vec<(String, Bound<'py, PyAny>)>,
    request: &[u8],
    timeout_s: f64,
    max_bytes: usize,
) -> PyResult<PyRelayCall> {
    let metadata = self::metadata(&metadata)?;
    let timeout = seconds(timeout_s, "timeout_s")?;
    let call = UnaryCall { address, path, metadata: &metadata, request, timeout, max_bytes };
    Ok(PyRelayCall(enter_core(py, || relay::start(&call))?))
}

/// A call started by `relay_start`.
#[pyclass(frozen, name = "RelayCall", module = "memd._core")]
pub struct PyRelayCall(Pending);

#[pymethods]
impl PyRelayCall {
    /// The reply if it arrives within `slice_s`, else None (the call goes on).
    fn wait<'py>(&self, py: Python<'py>, slice_s: f64) -> PyResult<Option<PyReply<'py>>> {
        let slice = seconds(slice_s, "slice_s")?;
        let done = py.detach(|| self.0.wait(slice));
        Ok(done.map(|done| reply(py, done)))
    }

    /// Give up on the call (its HTTP/2 stream is reset: the server sees it cancelled).
    fn cancel(&self) {
        self.0.cancel();
    }
}
