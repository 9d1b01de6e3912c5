//! Server-side embedders: the vectors of memories stored without one, and of text
//! queries in semantic and hybrid mode, made by the daemon (docs/embeddings.md).
//!
//! An `Embedder` turns texts into unit vectors of a fixed dimension under a model
//! identity (`model()`), which is recorded per namespace next to its dimension
//! (`store/embedder.rs`): vectors of two models never meet in one namespace. The
//! daemon configures at most one embedder per backend (`local`, `openai`) and says
//! which one serves each namespace (`Setup`: a default and pattern rules, first
//! match wins). Embedding runs in the caller's thread before a write reaches the
//! writer, so a slow model or endpoint never holds the writer or a reader.

pub mod breaker;
pub mod cache;
pub mod local;
pub mod minilm;
pub mod openai;

use crate::error::{CoreError, Result};
use cache::QueryCache;
use std::sync::{Arc, RwLock};

/// What a text is embedded as: some models (E5, BGE, nomic) embed questions and the
/// passages that answer them differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A search query.
    Query,
    /// A memory's text.
    Passage,
}

/// A text embedding model.
pub trait Embedder: Send + Sync {
    /// The model's identity as recorded per namespace, `backend:model`.
    fn model(&self) -> &str;
    /// The dimension of every vector it returns.
    fn dim(&self) -> usize;
    /// One unit vector of `dim()` floats per text, in order. A model or endpoint
    /// failure is `Unavailable`.
    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Vec<f32>>>;
}

/// Which embedder serves a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// None: memories keep the vectors their clients send (or none).
    None,
    /// The in-process model.
    Local,
    /// The OpenAI-compatible endpoint.
    OpenAi,
}

/// A per-namespace override: namespaces equal to `pattern`, or starting with it
/// minus a final `*`, use `backend`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `name` or `prefix*`.
    pub pattern: String,
    /// The backend of matching namespaces.
    pub backend: Backend,
}

impl Rule {
    fn matches(&self, ns: &str) -> bool {
        crate::config::namespace_matches(&self.pattern, ns)
    }
}

/// The embedding configuration of an engine.
#[derive(Clone, Default)]
pub struct Setup {
    /// The backend of namespaces no rule matches.
    pub default: Option<Backend>,
    /// Overrides, first match wins.
    pub rules: Vec<Rule>,
    /// The `local` embedder, if configured.
    pub local: Option<Arc<dyn Embedder>>,
    /// The `openai` embedder, if configured.
    pub openai: Option<Arc<dyn Embedder>>,
    /// Query vectors kept (0: no cache).
    pub query_cache: usize,
    /// Embed a memory's context with its text (`embed.context`); else the text alone.
    pub embed_context: bool,
}

impl Setup {
    /// Checks that every backend named has an embedder and fits `max_dim`.
    pub fn check(&self, max_dim: usize) -> Result<()> {
        let named = self.default.iter().chain(self.rules.iter().map(|r| &r.backend));
        for backend in named {
            if *backend != Backend::None && self.embedder(*backend).is_none() {
                return Err(CoreError::invalid(format!(
                    "embedding backend {backend:?} is named but not configured"
                )));
            }
        }
        for e in [&self.local, &self.openai].into_iter().flatten() {
            if e.dim() == 0 || e.dim() > max_dim {
                return Err(CoreError::invalid(format!(
                    "embedder {} makes {}-dimensional vectors; the limit is {max_dim} \
                     (engine.max_embedding_dim)",
                    e.model(),
                    e.dim()
                )));
            }
        }
        Ok(())
    }

    fn embedder(&self, backend: Backend) -> Option<&Arc<dyn Embedder>> {
        match backend {
            Backend::None => None,
            Backend::Local => self.local.as_ref(),
            Backend::OpenAi => self.openai.as_ref(),
        }
    }
}

/// An engine's embedders: the configuration and the query cache.
#[derive(Default)]
pub struct Embedders {
    setup: RwLock<Setup>,
    cache: QueryCache,
}

impl Embedders {
    /// Replaces the configuration (and empties the query cache).
    pub fn configure(&self, setup: Setup) {
        self.cache.resize(setup.query_cache);
        *self.setup.write().expect("embed setup lock") = setup;
    }

    /// Whether a memory's context is embedded with its text (`embed.context`).
    pub fn embeds_context(&self) -> bool {
        self.setup.read().expect("embed setup lock").embed_context
    }

    /// The embedder serving namespace `ns`, if any.
    pub fn for_namespace(&self, ns: &str) -> Option<Arc<dyn Embedder>> {
        let setup = self.setup.read().expect("embed setup lock");
        let backend = setup
            .rules
            .iter()
            .find(|r| r.matches(ns))
            .map(|r| r.backend)
            .or(setup.default)
            .unwrap_or(Backend::None);
        setup.embedder(backend).cloned()
    }

    /// The vector of a query text, from the cache when it was asked recently.
    pub fn query(&self, e: &dyn Embedder, text: &str) -> Result<Arc<[f32]>> {
        if let Some(v) = self.cache.get(e.model(), text) {
            return Ok(v);
        }
        let v: Arc<[f32]> = one(e.embed(&[text], Kind::Query)?)?.into();
        self.cache.put(e.model(), text, v.clone());
        Ok(v)
    }
}

fn one(mut vectors: Vec<Vec<f32>>) -> Result<Vec<f32>> {
    match (vectors.pop(), vectors.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(CoreError::Unavailable("the embedder returned no vector".into())),
    }
}

/// Checks what a model returned: `n` finite, non-zero vectors of `dim` floats;
/// returns them scaled to unit length (some endpoints do not normalise).
pub fn checked(model: &str, dim: usize, n: usize, vectors: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
    if vectors.len() != n {
        return Err(CoreError::Unavailable(format!(
            "embedder {model} returned {} vectors for {n} texts",
            vectors.len()
        )));
    }
    vectors
        .into_iter()
        .map(|mut v| {
            if v.len() != dim {
                return Err(CoreError::Unavailable(format!(
                    "embedder {model} returned a {}-dimensional vector; it is configured \
                     for {dim}",
                    v.len()
                )));
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err(CoreError::Unavailable(format!(
                    "embedder {model} returned a zero or non-finite vector"
                )));
            }
            for x in &mut v {
                *x /= norm;
            }
            Ok(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, usize);
    impl Embedder for Fixed {
        fn model(&self) -> &str {
            self.0
        }
        fn dim(&self) -> usize {
            self.1
        }
        fn embed(&self, texts: &[&str], _: Kind) -> Result<Vec<Vec<f32>>> {
            Ok(texts.iter().map(|t| vec![t.len() as f32 + 1.0; self.1]).collect())
        }
    }

    fn setup() -> Setup {
        Setup {
            default: Some(Backend::Local),
            rules: vec![
                Rule { pattern: "raw".into(), backend: Backend::None },
                Rule { pattern: "team:*".into(), backend: Backend::OpenAi },
            ],
            local: Some(Arc::new(Fixed("local:a", 4))),
            openai: Some(Arc::new(Fixed("openai:b", 8))),
            query_cache: 4,
            embed_context: false,
        }
    }

    #[test]
    fn rules_pick_the_backend_first_match_wins() {
        let e = Embedders::default();
        e.configure(setup());
        assert_eq!(e.for_namespace("agent:x").unwrap().model(), "local:a");
        assert!(e.for_namespace("raw").is_none());
        assert_eq!(e.for_namespace("raw2").unwrap().model(), "local:a");
        assert_eq!(e.for_namespace("team:alpha").unwrap().model(), "openai:b");
        assert!(Embedders::default().for_namespace("agent:x").is_none());
    }

    #[test]
    fn a_named_backend_must_be_configured_and_fit() {
        let mut s = setup();
        assert!(s.check(1024).is_ok());
        assert!(s.check(6).unwrap_err().message().contains("limit is 6"));
        s.openai = None;
        assert!(s.check(1024).unwrap_err().message().contains("OpenAi"));
    }

    #[test]
    fn checked_normalises_and_rejects_bad_vectors() {
        let v = checked("m", 2, 1, vec![vec![3.0, 4.0]]).unwrap();
        assert!((v[0][0] - 0.6).abs() < 1e-6 && (v[0][1] - 0.8).abs() < 1e-6);
        assert_eq!(checked("m", 3, 1, vec![vec![1.0, 0.0]]).unwrap_err().kind(), "Unavailable");
        assert!(checked("m", 2, 1, vec![vec![0.0, 0.0]]).is_err());
        assert!(checked("m", 2, 1, vec![vec![f32::NAN, 1.0]]).is_err());
        assert!(checked("m", 2, 2, vec![vec![1.0, 0.0]]).is_err());
    }

    #[test]
    fn query_vectors_are_cached_per_model() {
        let e = Embedders::default();
        e.configure(setup());
        let local = e.for_namespace("x").unwrap();
        let a = e.query(local.as_ref(), "tea").unwrap();
        assert!(Arc::ptr_eq(&a, &e.query(local.as_ref(), "tea").unwrap()));
        assert_eq!(a.len(), 4);
    }
}
