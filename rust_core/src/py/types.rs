//! Values crossing the boundary: inputs read by attribute from the dataclasses of
//! `memd/types.py`, outputs as frozen pyclasses whose getters convert lazily (a
//! field is turned into a Python object only when it is read).

use crate::config::{Durability, EngineConfig, Limits, TierConfig};
use crate::engine::{MapInfo, NamespaceStats, PutResult, TierStats};
use crate::error::CoreError;
use crate::model::{Memory, RawMemory, Tier};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use std::collections::HashMap;

/// `memd.types.NewMemory`, read by attribute.
#[derive(FromPyObject)]
pub struct PyNewMemory {
    key: String,
    text: String,
    value: PyBackedBytes,
    embedding: Option<PyBackedBytes>,
    tags: Vec<String>,
    metadata: HashMap<String, String>,
    importance: Option<f64>,
    // Wide integers, so out-of-range values become a per-item InvalidArgument
    // (in `validate.rs`) instead of failing the whole batch's conversion.
    priority: i128,
    ttl_ms: Option<i128>,
    tier: i128,
}

impl From<PyNewMemory> for RawMemory {
    fn from(p: PyNewMemory) -> RawMemory {
        RawMemory {
            key: p.key,
            text: p.text,
            value: p.value.to_vec(),
            embedding: p.embedding.map(|e| e.to_vec()),
            tags: p.tags,
            metadata: p.metadata.into_iter().collect(),
            importance: p.importance,
            priority: p.priority,
            ttl_ms: p.ttl_ms,
            tier: p.tier,
        }
    }
}

/// `memd.types.TierOptions`.
#[derive(FromPyObject)]
pub struct PyTierOptions {
    capacity: u64,
    default_ttl_ms: u64,
}

/// `memd.types.EngineOptions`.
#[derive(FromPyObject)]
pub struct PyEngineOptions {
    map_size_bytes: usize,
    durability: String,
    sync_interval_ms: u64,
    flush_interval_ms: u64,
    tiers: Vec<PyTierOptions>,
    default_tier: i64,
    promote_min_reads: u32,
    promote_window_ms: u64,
    promote_importance: f64,
    max_value_bytes: usize,
    max_text_bytes: usize,
    max_embedding_dim: usize,
}

impl TryFrom<PyEngineOptions> for EngineConfig {
    type Error = CoreError;

    fn try_from(o: PyEngineOptions) -> Result<EngineConfig, CoreError> {
        let durability = match o.durability.as_str() {
            "sync" => Durability::Sync,
            "nosync" => Durability::NoSync,
            other => return Err(CoreError::invalid(format!("unknown durability {other:?}"))),
        };
        let tiers: Vec<TierConfig> = o
            .tiers
            .iter()
            .map(|t| TierConfig { capacity: t.capacity, default_ttl_ms: t.default_ttl_ms })
            .collect();
        let tiers: [TierConfig; 4] =
            tiers.try_into().map_err(|_| CoreError::invalid("tiers must have 4 entries"))?;
        let default_tier = Tier::from_number(o.default_tier)
            .ok_or_else(|| CoreError::invalid(format!("unknown tier {}", o.default_tier)))?;
        Ok(EngineConfig {
            map_size: o.map_size_bytes,
            durability,
            sync_interval_ms: o.sync_interval_ms,
            flush_interval_ms: o.flush_interval_ms,
            tiers,
            default_tier,
            promote_min_reads: o.promote_min_reads,
            promote_window_ms: o.promote_window_ms,
            promote_importance: o.promote_importance as f32,
            limits: Limits {
                max_value_bytes: o.max_value_bytes,
                max_text_bytes: o.max_text_bytes,
                max_embedding_dim: o.max_embedding_dim,
                ..Limits::default()
            },
        })
    }
}

/// A stored memory.
#[pyclass(frozen, name = "Memory", module = "memd._core")]
pub struct PyMemory(pub Memory);

#[pymethods]
impl PyMemory {
    #[getter]
    fn namespace(&self) -> &str {
        &self.0.namespace
    }
    #[getter]
    fn key(&self) -> &str {
        &self.0.key
    }
    #[getter]
    fn text(&self) -> &str {
        &self.0.text
    }
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.value)
    }
    #[getter]
    fn embedding<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let e = self.0.embedding.as_ref()?;
        let bytes: Vec<u8> = e.iter().flat_map(|x| x.to_le_bytes()).collect();
        Some(PyBytes::new(py, &bytes))
    }
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.0.tags.clone()
    }
    #[getter]
    fn metadata(&self) -> HashMap<String, String> {
        self.0.metadata.iter().cloned().collect()
    }
    #[getter]
    fn importance(&self) -> f32 {
        self.0.header.importance
    }
    #[getter]
    fn priority(&self) -> i32 {
        self.0.header.priority
    }
    #[getter]
    fn tier(&self) -> u8 {
        self.0.header.tier.number()
    }
    #[getter]
    fn ttl_ms(&self) -> u64 {
        self.0.header.ttl_ms
    }
    #[getter]
    fn expires_at_ms(&self) -> u64 {
        self.0.header.expires_at_ms
    }
    #[getter]
    fn created_ms(&self) -> u64 {
        self.0.header.created_ms
    }
    #[getter]
    fn updated_ms(&self) -> u64 {
        self.0.header.updated_ms
    }
    #[getter]
    fn last_access_ms(&self) -> u64 {
        self.0.header.last_access_ms
    }
    #[getter]
    fn access_count(&self) -> u64 {
        self.0.header.access_count
    }
    #[getter]
    fn version(&self) -> u64 {
        self.0.header.version
    }
    fn vector(&self) -> Option<Vec<f32>> {
        self.0.embedding.clone()
    }
    fn __repr__(&self) -> String {
        let h = &self.0.header;
        format!(
            "Memory(namespace={:?}, key={:?}, tier={}, version={}, text={:?})",
            &*self.0.namespace,
            self.0.key,
            h.tier.number(),
            h.version,
            self.0.text.chars().take(40).collect::<String>()
        )
    }
}

/// Outcome of one put item.
#[pyclass(frozen, name = "PutResult", module = "memd._core")]
pub struct PyPutResult(pub PutResult);

#[pymethods]
impl PyPutResult {
    #[getter]
    fn key(&self) -> &str {
        &self.0.key
    }
    #[getter]
    fn version(&self) -> u64 {
        self.0.version
    }
    #[getter]
    fn tier(&self) -> u8 {
        self.0.tier.map_or(0, Tier::number)
    }
    #[getter]
    fn error(&self) -> Option<&str> {
        self.0.error.as_ref().map(CoreError::message)
    }
    #[getter]
    fn error_kind(&self) -> Option<&'static str> {
        self.0.error.as_ref().map(CoreError::kind)
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// One page of `list`.
#[pyclass(frozen, name = "ListPage", module = "memd._core")]
pub struct PyListPage {
    pub items: Vec<Py<PyMemory>>,
    pub next_cursor: String,
}

#[pymethods]
impl PyListPage {
    #[getter]
    fn items(&self, py: Python<'_>) -> Vec<Py<PyMemory>> {
        self.items.iter().map(|m| m.clone_ref(py)).collect()
    }
    #[getter]
    fn next_cursor(&self) -> &str {
        &self.next_cursor
    }
}

/// What a sweep did.
#[pyclass(frozen, name = "SweepResult", module = "memd._core")]
pub struct PySweepResult {
    #[pyo3(get)]
    pub expired: u64,
    #[pyo3(get)]
    pub more: bool,
}

/// One tier's statistics.
#[pyclass(frozen, name = "TierStats", module = "memd._core")]
pub struct PyTierStats(pub TierStats);

#[pymethods]
impl PyTierStats {
    #[getter]
    fn tier(&self) -> u8 {
        self.0.tier.number()
    }
    #[getter]
    fn count(&self) -> u64 {
        self.0.count
    }
    #[getter]
    fn capacity(&self) -> u64 {
        self.0.capacity
    }
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    #[getter]
    fn counters(&self) -> HashMap<&'static str, u64> {
        self.0.counters.iter().copied().collect()
    }
}

/// One namespace's statistics.
#[pyclass(frozen, name = "NamespaceStats", module = "memd._core")]
pub struct PyNamespaceStats(pub NamespaceStats);

#[pymethods]
impl PyNamespaceStats {
    #[getter]
    fn namespace(&self) -> &str {
        &self.0.namespace
    }
    #[getter]
    fn dimension(&self) -> u32 {
        self.0.dimension
    }
    #[getter]
    fn misses(&self) -> u64 {
        self.0.misses
    }
    #[getter]
    fn tiers(&self) -> Vec<PyTierStats> {
        self.0.tiers.iter().cloned().map(PyTierStats).collect()
    }
}

/// LMDB map usage.
#[pyclass(frozen, name = "MapInfo", module = "memd._core")]
pub struct PyMapInfo(pub MapInfo);

#[pymethods]
impl PyMapInfo {
    #[getter]
    fn map_size(&self) -> u64 {
        self.0.map_size
    }
    #[getter]
    fn used_bytes(&self) -> u64 {
        self.0.used_bytes
    }
}
