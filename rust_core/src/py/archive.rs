//! The archive configuration crossing the boundary: `memd.archive.setup.ArchiveSetup`
//! (read by attribute; Python has read the key and credential files), and the report
//! of a pass.

use crate::archive::{crypto, ArchiveConfig, ArchiveReport, Keyring, S3Config};
use crate::error::CoreError;
use pyo3::prelude::*;
use std::time::Duration;

/// `memd.archive.setup.ArchiveSetup`.
#[derive(FromPyObject)]
pub struct PyArchiveSetup {
    endpoint: String,
    bucket: String,
    region: String,
    access_key: String,
    secret_key: String,
    timeout_ms: u64,
    prefix: String,
    key: Vec<u8>,
    old_keys: Vec<Vec<u8>>,
    offload_after_ms: u64,
    offload_min_bytes: u32,
    offload_large_bytes: u32,
    object_bytes: usize,
    max_objects: usize,
    cache_bytes: usize,
}

impl PyArchiveSetup {
    /// The core's configuration (keys parsed: hex or raw).
    pub fn into_config(self) -> Result<ArchiveConfig, CoreError> {
        let current = crypto::parse_key(&self.key)?;
        let old = self.old_keys.iter().map(|k| crypto::parse_key(k)).collect::<Result<_, _>>()?;
        Ok(ArchiveConfig {
            s3: S3Config {
                endpoint: self.endpoint,
                bucket: self.bucket,
                region: self.region,
                access_key: self.access_key,
                secret_key: self.secret_key,
                timeout: Duration::from_millis(self.timeout_ms),
            },
            prefix: self.prefix,
            keyring: Keyring::new(current, old),
            offload_after_ms: self.offload_after_ms,
            offload_min_bytes: self.offload_min_bytes,
            offload_large_bytes: self.offload_large_bytes,
            object_bytes: self.object_bytes,
            max_objects: self.max_objects,
            cache_bytes: self.cache_bytes,
        })
    }
}

/// What one archive pass did.
#[pyclass(frozen, name = "ArchiveReport", module = "memd._core")]
pub struct PyArchiveReport(pub ArchiveReport);

#[pymethods]
impl PyArchiveReport {
    #[getter]
    fn offloaded(&self) -> u64 {
        self.0.offloaded
    }
    #[getter]
    fn objects(&self) -> u64 {
        self.0.objects
    }
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    #[getter]
    fn collected(&self) -> u64 {
        self.0.collected
    }
    #[getter]
    fn more(&self) -> bool {
        self.0.more
    }
    fn __repr__(&self) -> String {
        let r = &self.0;
        format!(
            "ArchiveReport(offloaded={}, objects={}, bytes={}, collected={}, more={})",
            r.offloaded,
            r.objects,
            r.bytes,
            r.collected,
            if r.more { "True" } else { "False" }
        )
    }
}
