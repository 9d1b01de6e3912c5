//! Server-side embedding in the engine's calls (`crate::embed`): a put embeds the
//! texts of its items that came without a vector before the batch goes to the writer,
//! and a semantic or hybrid search with text and no vector embeds the text.
//!
//! A namespace's vectors come from one source: the model recorded with it
//! (`store/embedder.rs`), or its clients. `check` is the rule, applied in the
//! caller's thread before any model time is spent and again in the writer, before
//! the first write of the batch, where it is authoritative.

use crate::embed::{Kind, Setup};
use crate::engine::{Engine, Shared};
use crate::error::{CoreError, Result};
use crate::model::NewMemory;
use crate::search::{Mode, SearchQuery};
use crate::store::embedder::NamespaceRecord;
use crate::tier::migrate::Txn;
use crate::validate;

/// Whether namespace `ns`, as recorded, may get vectors from `model` of `dim`.
fn check(ns: &str, record: Option<&NamespaceRecord>, model: &str, dim: usize) -> Result<()> {
    let Some(record) = record else { return Ok(()) };
    match &record.model {
        Some(m) if m == model && record.dim as usize == dim => Ok(()),
        Some(m) => Err(CoreError::invalid(format!(
            "namespace {ns:?} holds vectors of model {m} ({} dimensions); the embedder \
             configured for it is {model} ({dim} dimensions): configure {m} for it again, \
             or store into another namespace",
            record.dim
        ))),
        None if record.dim == 0 => Ok(()),
        None => Err(CoreError::invalid(format!(
            "namespace {ns:?} holds vectors its clients sent ({} dimensions), not the \
             server's embedder {model}: send a vector with every memory and query there, \
             or set its embedding backend to none",
            record.dim
        ))),
    }
}

/// What a server-side embedder embeds of a memory: its text; with `embed.context`
/// (`with_context`), its context, a blank line and its text, so the vector places the
/// text in its context (the previous turn, the session's title) as a reader would.
/// The context comes first; a long one can push the text's tail past the model's
/// token limit (256 for `MiniLM`). Off by default: on `bench/recall_bench.py
/// --context` (previous turn as context) it cost semantic R@1 -0.297
/// (docs/search.md#recall).
fn passage(m: &NewMemory, with_context: bool) -> std::borrow::Cow<'_, str> {
    if !with_context {
        return m.text.as_str().into();
    }
    match (m.context.is_empty(), m.text.is_empty()) {
        (true, _) => m.text.as_str().into(),
        (false, true) => m.context.as_str().into(),
        (false, false) => format!("{}\n\n{}", m.context, m.text).into(),
    }
}

fn record(shared: &Shared, ns: &str) -> Result<Option<NamespaceRecord>> {
    let rtxn = shared.store.env.read_txn()?;
    shared.store.namespace_record(&rtxn, ns)
}

impl Engine {
    /// Sets the embedders and which namespaces they serve (docs/embeddings.md).
    pub fn configure_embedding(&self, setup: Setup) -> Result<()> {
        setup.check(self.shared_quietly()?.cfg.limits.max_embedding_dim)?;
        self.embedders.configure(setup);
        Ok(())
    }

    /// The embedding model identity and dimension serving namespace `ns`, if any.
    pub fn embedder_of(&self, ns: &str) -> Option<(String, usize)> {
        self.embedders.for_namespace(ns).map(|e| (e.model().to_owned(), e.dim()))
    }

    /// The distinct models the server has embedded namespaces with, as recorded
    /// in the store (sorted): what a daemon whose model choice is `auto` looks at
    /// so that an upgrade keeps serving the namespaces an earlier default filled.
    pub fn recorded_models(&self) -> Result<Vec<String>> {
        let shared = self.shared_quietly()?;
        let rtxn = shared.store.env.read_txn()?;
        let mut models = std::collections::BTreeSet::new();
        for entry in shared.store.namespaces.iter(&rtxn)? {
            let (_, value) = entry?;
            models.extend(crate::store::embedder::decode(value)?.model);
        }
        Ok(models.into_iter().collect())
    }

    /// The vectors the embedder of namespace `ns` makes of `texts` (as queries or
    /// passages), without storing anything: for benchmarks and diagnostics.
    pub fn embed(&self, ns: &str, texts: &[String], query: bool) -> Result<Vec<Vec<f32>>> {
        validate::namespace(ns, &self.shared()?.cfg.limits)?;
        let e = self
            .embedders
            .for_namespace(ns)
            .ok_or_else(|| CoreError::invalid(format!("no embedder serves namespace {ns:?}")))?;
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        e.embed(&texts, if query { Kind::Query } else { Kind::Passage })
    }

    /// Embeds, in one batch, the texts of the items that have no vector, when an
    /// embedder serves `ns`; returns its model identity for the writer to record.
    pub(super) fn embed_items(
        &self,
        shared: &Shared,
        ns: &str,
        items: &mut [(usize, NewMemory)],
    ) -> Result<Option<String>> {
        let with = self.embedders.embeds_context();
        let missing: Vec<usize> = (0..items.len())
            .filter(|&i| {
                let m = &items[i].1;
                m.embedding.is_none() && !(m.text.is_empty() && (m.context.is_empty() || !with))
            })
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let Some(e) = self.embedders.for_namespace(ns) else { return Ok(None) };
        check(ns, record(shared, ns)?.as_ref(), e.model(), e.dim())?;
        let owned: Vec<std::borrow::Cow<str>> =
            missing.iter().map(|&i| passage(&items[i].1, with)).collect();
        let texts: Vec<&str> = owned.iter().map(AsRef::as_ref).collect();
        let vectors = e.embed(&texts, Kind::Passage)?;
        for (i, v) in missing.into_iter().zip(vectors) {
            items[i].1.embedding = Some(v);
        }
        Ok(Some(e.model().to_owned()))
    }

    /// The query with its text embedded, for a semantic or hybrid search that has
    /// text, no vector, and an embedder serving its namespace; `None` otherwise.
    pub(super) fn embed_query(
        &self,
        shared: &Shared,
        q: &SearchQuery,
    ) -> Result<Option<SearchQuery>> {
        let wants = matches!(q.mode, Mode::Semantic | Mode::Hybrid);
        if !wants || q.vector.is_some() || q.text.trim().is_empty() {
            return Ok(None);
        }
        let Some(e) = self.embedders.for_namespace(&q.namespace) else { return Ok(None) };
        // Bad input fails before any model time is spent.
        validate::namespace(&q.namespace, &shared.cfg.limits)?;
        if q.text.len() > shared.cfg.limits.max_text_bytes {
            return Ok(None); // the search's own validation names the limit
        }
        check(&q.namespace, record(shared, &q.namespace)?.as_ref(), e.model(), e.dim())?;
        let vector = self.embedders.query(e.as_ref(), &q.text)?;
        Ok(Some(SearchQuery { vector: Some(vector.to_vec()), ..q.clone() }))
    }
}

/// In the writer, before the first write of a put that carries server vectors of
/// `model`: the namespace must still accept them.
pub(super) fn check_model(txn: &Txn, ns: &str, model: Option<&str>, dim: u32) -> Result<()> {
    let Some(model) = model else { return Ok(()) };
    let record = txn.store.namespace_record(txn.wtxn, ns)?;
    check(ns, record.as_ref(), model, dim as usize)
}

/// In the writer, after the namespace's dimension is stored: records the model.
pub(super) fn record_model(txn: &mut Txn, ns: &str, model: Option<&str>, dim: u32) -> Result<()> {
    let Some(model) = model else { return Ok(()) };
    let record = txn.store.namespace_record(txn.wtxn, ns)?;
    if record.and_then(|r| r.model).as_deref() != Some(model) {
        txn.store.put_namespace_model(txn.wtxn, ns, dim, model)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passage_is_the_context_then_the_text() {
        let m = |text: &str, context: &str| NewMemory {
            key: String::new(),
            text: text.into(),
            value: Vec::new(),
            embedding: None,
            tags: Vec::new(),
            metadata: Vec::new(),
            context: context.into(),
            importance: None,
            priority: 0,
            ttl_ms: None,
            tier: None,
            history: None,
        };
        assert_eq!(passage(&m("text", ""), true), "text");
        assert_eq!(passage(&m("", "ctx"), true), "ctx");
        assert_eq!(passage(&m("text", "ctx"), true), "ctx\n\ntext");
        assert_eq!(passage(&m("text", "ctx"), false), "text");
    }

    fn rec(dim: u32, model: Option<&str>) -> NamespaceRecord {
        NamespaceRecord { dim, model: model.map(str::to_owned) }
    }

    #[test]
    fn a_namespace_takes_vectors_from_one_source() {
        assert!(check("n", None, "local:e5", 384).is_ok());
        assert!(check("n", Some(&rec(0, None)), "local:e5", 384).is_ok());
        assert!(check("n", Some(&rec(384, Some("local:e5"))), "local:e5", 384).is_ok());
        let other = check("n", Some(&rec(768, Some("openai:big"))), "local:e5", 384);
        let msg = other.unwrap_err().to_string();
        assert!(msg.contains("model openai:big (768 dimensions)"), "{msg}");
        assert!(msg.contains("local:e5 (384 dimensions)"), "{msg}");
        let clients = check("n", Some(&rec(384, None)), "local:e5", 384).unwrap_err();
        assert!(clients.message().contains("vectors its clients sent"), "{clients}");
    }
}
