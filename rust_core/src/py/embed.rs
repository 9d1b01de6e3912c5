//! The embedding configuration crossing the boundary: `memd.embed.setup.EmbedSetup`
//! (read by attribute), already resolved by Python (which backend, where the local
//! model's files are, the API key), turned into the core's `embed::Setup`.

use crate::embed::local::LocalEmbedder;
use crate::embed::minilm::MiniLmEmbedder;
use crate::embed::openai::{OpenAiConfig, OpenAiEmbedder};
use crate::embed::{Backend, Embedder, Rule, Setup};
use crate::error::CoreError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `memd.embed.setup.LocalModel`.
#[derive(FromPyObject)]
pub struct PyLocalModel {
    kind: String,
    library: PathBuf,
    weights: PathBuf,
    name: String,
    threads: usize,
}

/// `memd.embed.setup.OpenAiEndpoint`.
#[derive(FromPyObject)]
pub struct PyOpenAiEndpoint {
    url: String,
    model: String,
    dimensions: usize,
    api_key: String,
    batch_size: usize,
    timeout_ms: u64,
    retries: u32,
    breaker_failures: u32,
    breaker_cooldown_ms: u64,
    input_type: bool,
}

/// `memd.embed.setup.EmbedSetup`.
#[derive(FromPyObject)]
pub struct PyEmbedSetup {
    default: String,
    rules: Vec<(String, String)>,
    local: Option<PyLocalModel>,
    openai: Option<PyOpenAiEndpoint>,
    query_cache: usize,
    embed_context: bool,
}

fn backend(name: &str) -> Result<Backend, CoreError> {
    match name {
        "none" => Ok(Backend::None),
        "local" => Ok(Backend::Local),
        "openai" => Ok(Backend::OpenAi),
        other => Err(CoreError::invalid(format!(
            "unknown embedding backend {other:?} (valid: none, local, openai)"
        ))),
    }
}

impl PyEmbedSetup {
    /// The core's setup; loads the local model (call with the GIL released).
    pub fn into_setup(self) -> Result<Setup, CoreError> {
        let local = match self.local {
            Some(m) if m.kind == "minilm" => {
                Some(Arc::new(MiniLmEmbedder::load(&m.weights, &m.name, m.threads)?)
                    as Arc<dyn Embedder>)
            }
            Some(m) => {
                let e = LocalEmbedder::load(&m.library, &m.weights, &m.name)?;
                Some(Arc::new(e) as Arc<dyn Embedder>)
            }
            None => None,
        };
        let openai = match self.openai {
            Some(o) => Some(Arc::new(OpenAiEmbedder::new(OpenAiConfig {
                url: o.url,
                model: o.model,
                dim: o.dimensions,
                api_key: o.api_key,
                batch_size: o.batch_size,
                timeout: Duration::from_millis(o.timeout_ms),
                retries: o.retries,
                breaker_failures: o.breaker_failures,
                breaker_cooldown: Duration::from_millis(o.breaker_cooldown_ms),
                input_type: o.input_type,
            })?) as Arc<dyn Embedder>),
            None => None,
        };
        let rules = self
            .rules
            .into_iter()
            .map(|(pattern, b)| Ok(Rule { pattern, backend: backend(&b)? }))
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok(Setup {
            default: Some(backend(&self.default)?),
            rules,
            local,
            openai,
            query_cache: self.query_cache,
            embed_context: self.embed_context,
        })
    }
}
