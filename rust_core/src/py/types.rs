//! Values crossing the boundary: inputs read by attribute from the dataclasses of
//! `memd/types.py`, outputs as frozen pyclasses whose getters convert lazily (a
//! field is turned into a Python object only when it is read).

use crate::config::{Durability, EngineConfig, Limits, QuantRules, TierConfig};
use crate::engine::{
    LifecycleAction, LifecycleReport, MapInfo, NamespaceStats, PutResult, TierStats,
};
use crate::error::CoreError;
use crate::lifecycle::{Category, Conditions, LifecycleConfig, NearAction, Policy, PolicyAction};
use crate::model::{Memory, RawHistory, RawMemory, Tier};
use crate::search::quant::Quantization;
use crate::search::Analyzer;
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
    context: String,
    importance: Option<f64>,
    // Wide integers, so out-of-range values become a per-item InvalidArgument
    // (in `validate.rs`) instead of failing the whole batch's conversion.
    priority: i128,
    ttl_ms: Option<i128>,
    tier: i128,
    history: Option<PyMemoryHistory>,
}

/// `memd.types.MemoryHistory`, read by attribute (wide integers, as above).
#[derive(FromPyObject)]
pub struct PyMemoryHistory {
    created_ms: i128,
    updated_ms: i128,
    last_access_ms: i128,
    access_count: i128,
    version: i128,
    expires_at_ms: i128,
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
            context: p.context,
            importance: p.importance,
            priority: p.priority,
            ttl_ms: p.ttl_ms,
            tier: p.tier,
            history: p.history.map(|h| RawHistory {
                created_ms: h.created_ms,
                updated_ms: h.updated_ms,
                last_access_ms: h.last_access_ms,
                access_count: h.access_count,
                version: h.version,
                expires_at_ms: h.expires_at_ms,
            }),
        }
    }
}

/// `memd.types.TierOptions`.
#[derive(FromPyObject)]
pub struct PyTierOptions {
    capacity: u64,
    default_ttl_ms: u64,
}

/// `memd.types.PolicyOptions`.
#[derive(FromPyObject)]
pub struct PyPolicyOptions {
    name: String,
    action: String,
    tiers: Vec<i64>,
    categories: Vec<String>,
    min_idle_ms: Option<u64>,
    min_age_ms: Option<u64>,
    importance_below: Option<f64>,
    importance_above: Option<f64>,
    access_count_below: Option<u64>,
    retention_below: Option<f64>,
}

/// `memd.types.CategoryOptions`.
#[derive(FromPyObject)]
pub struct PyCategoryOptions {
    name: String,
    retention_ms: u64,
    importance: Option<f64>,
}

/// `memd.types.LifecycleOptions`.
#[derive(FromPyObject)]
pub struct PyLifecycleOptions {
    consolidate_min_importance: f64,
    consolidate_min_access_count: u64,
    consolidate_min_age_ms: u64,
    policies: Vec<PyPolicyOptions>,
    categories: Vec<PyCategoryOptions>,
    dedup_exact: bool,
    dedup_near_threshold: f64,
    dedup_near_action: String,
    compress_from_tier: i64,
    compress_min_bytes: usize,
}

fn tier(n: i64) -> Result<Tier, CoreError> {
    Tier::from_number(n).ok_or_else(|| CoreError::invalid(format!("unknown tier {n}")))
}

impl TryFrom<PyPolicyOptions> for Policy {
    type Error = CoreError;

    fn try_from(p: PyPolicyOptions) -> Result<Policy, CoreError> {
        Ok(Policy {
            action: PolicyAction::parse(&p.action)?,
            when: Conditions {
                tiers: p.tiers.into_iter().map(tier).collect::<Result<_, _>>()?,
                categories: p.categories,
                min_idle_ms: p.min_idle_ms,
                min_age_ms: p.min_age_ms,
                importance_below: p.importance_below.map(|x| x as f32),
                importance_above: p.importance_above.map(|x| x as f32),
                access_count_below: p.access_count_below,
                retention_below: p.retention_below,
            },
            name: p.name,
        })
    }
}

impl TryFrom<PyLifecycleOptions> for LifecycleConfig {
    type Error = CoreError;

    fn try_from(o: PyLifecycleOptions) -> Result<LifecycleConfig, CoreError> {
        let near_action = match o.dedup_near_action.as_str() {
            "merge" => NearAction::Merge,
            "flag" => NearAction::Flag,
            other => {
                return Err(CoreError::invalid(format!("unknown dedup_near_action {other:?}")))
            }
        };
        Ok(LifecycleConfig {
            consolidate_min_importance: o.consolidate_min_importance as f32,
            consolidate_min_access_count: o.consolidate_min_access_count,
            consolidate_min_age_ms: o.consolidate_min_age_ms,
            policies: o.policies.into_iter().map(Policy::try_from).collect::<Result<_, _>>()?,
            categories: o
                .categories
                .into_iter()
                .map(|c| Category {
                    name: c.name,
                    retention_ms: c.retention_ms,
                    importance: c.importance.map(|x| x as f32),
                })
                .collect(),
            dedup_exact: o.dedup_exact,
            dedup_near_threshold: o.dedup_near_threshold as f32,
            dedup_near_action: near_action,
            compress_from_tier: tier(o.compress_from_tier)?,
            compress_min_bytes: o.compress_min_bytes,
        })
    }
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
    lifecycle: PyLifecycleOptions,
    search_language: String,
    search_stop_words: bool,
    vector_quantization: String,
    vector_quantization_namespaces: Vec<(String, String)>,
    lazy_expiry: bool,
    deferred_access: bool,
}

fn quantization(name: &str) -> Result<Quantization, CoreError> {
    Quantization::parse(name).ok_or_else(|| {
        CoreError::invalid(format!("unknown vector_quantization {name:?}; one of none, int8"))
    })
}

/// The analyzer of `engine.search_language` and `engine.search_stop_words`.
fn analyzer(language: &str, stop_words: bool) -> Result<Analyzer, CoreError> {
    let analyzer = Analyzer::parse(language).ok_or_else(|| {
        let known: Vec<&str> = Analyzer::names().collect();
        CoreError::invalid(format!(
            "unknown search_language {language:?}; one of {}",
            known.join(", ")
        ))
    })?;
    if !stop_words {
        return Ok(analyzer);
    }
    analyzer.with_stop_words().ok_or_else(|| {
        CoreError::invalid(format!(
            "search_stop_words: no stop-word list for search_language {language:?} (lists: english)"
        ))
    })
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
            lifecycle: LifecycleConfig::try_from(o.lifecycle)?,
            analyzer: analyzer(&o.search_language, o.search_stop_words)?,
            vector_quantization: QuantRules {
                default: quantization(&o.vector_quantization)?,
                rules: o
                    .vector_quantization_namespaces
                    .iter()
                    .map(|(pattern, q)| Ok((pattern.clone(), quantization(q)?)))
                    .collect::<Result<Vec<_>, CoreError>>()?
                    .into(),
            },
            lazy_expiry: o.lazy_expiry,
            deferred_access: o.deferred_access,
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
    fn context(&self) -> &str {
        &self.0.context
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
    #[getter]
    fn merged_into(&self) -> &str {
        self.0.merged_into.as_deref().unwrap_or_default()
    }
    #[getter]
    fn similar_to(&self) -> &str {
        self.0.similar_to.as_deref().unwrap_or_default()
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
    fn value_bytes(&self) -> u64 {
        self.0.value_bytes
    }
    #[getter]
    fn stored_value_bytes(&self) -> u64 {
        self.0.stored_value_bytes
    }
    #[getter]
    fn compressed(&self) -> u64 {
        self.0.compressed
    }
    #[getter]
    fn importance_avg(&self) -> f64 {
        self.0.importance_avg
    }
    #[getter]
    fn created_avg_ms(&self) -> u64 {
        self.0.created_avg_ms
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
    #[getter]
    fn vectors(&self) -> usize {
        self.0.vectors.vectors
    }
    #[getter]
    fn vectors_pending(&self) -> usize {
        self.0.vectors.waiting
    }
    #[getter]
    fn graph_nodes(&self) -> usize {
        self.0.vectors.nodes
    }
    #[getter]
    fn vector_bytes(&self) -> usize {
        self.0.vectors.bytes
    }
    #[getter]
    fn vector_quantization(&self) -> &'static str {
        self.0.vectors.quantization.name()
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

/// One lifecycle action.
#[pyclass(frozen, name = "LifecycleAction", module = "memd._core")]
pub struct PyLifecycleAction(pub LifecycleAction);

#[pymethods]
impl PyLifecycleAction {
    #[getter]
    fn namespace(&self) -> &str {
        &self.0.namespace
    }
    #[getter]
    fn key(&self) -> &str {
        &self.0.key
    }
    #[getter]
    fn rule(&self) -> &str {
        &self.0.rule
    }
    #[getter]
    fn action(&self) -> &'static str {
        self.0.action
    }
    // Named after the Python property.
    #[allow(clippy::wrong_self_convention)]
    #[getter]
    fn from_tier(&self) -> u8 {
        self.0.from.number()
    }
    #[getter]
    fn to_tier(&self) -> u8 {
        self.0.to.map_or(0, Tier::number)
    }
    #[getter]
    fn retention(&self) -> f64 {
        self.0.retention
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// What a lifecycle pass did.
#[pyclass(frozen, name = "LifecycleReport", module = "memd._core")]
pub struct PyLifecycleReport(pub LifecycleReport);

#[pymethods]
impl PyLifecycleReport {
    #[getter]
    fn actions(&self) -> Vec<PyLifecycleAction> {
        self.0.actions.iter().cloned().map(PyLifecycleAction).collect()
    }
    #[getter]
    fn scanned(&self) -> u64 {
        self.0.scanned
    }
    #[getter]
    fn skipped(&self) -> u64 {
        self.0.skipped
    }
    #[getter]
    fn more(&self) -> bool {
        self.0.more
    }
    #[getter]
    fn demoted_by_capacity(&self) -> u64 {
        self.0.demoted_by_capacity
    }
    #[getter]
    fn counts(&self) -> Vec<(String, &'static str, u64)> {
        self.0.counts.clone()
    }
    /// The report as a serialized `RunLifecycleResponse`, built without the GIL.
    fn encode_response<'py>(&self, py: Python<'py>, dry_run: bool) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.0.encode_response(dry_run));
        PyBytes::new(py, &bytes)
    }
}
