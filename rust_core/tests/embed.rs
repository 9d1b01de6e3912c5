//! Server-side embedding through the engine: what a put and a search do with an
//! embedder, with a toy model (letter counts) standing in for a real one, so the
//! engine's rules are checked without one; the real models are tested end to end in
//! `tests/server/test_embed_*.py`.

mod common;

use memd_core::embed::{Backend, Embedder, Kind, Rule, Setup};
use memd_core::search::{Mode, SearchQuery};
use memd_core::{CoreError, Engine, RawMemory, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts of the letters a..h: texts sharing letters are close.
struct Letters {
    name: &'static str,
    calls: AtomicUsize,
    down: AtomicBool,
}

impl Letters {
    fn new(name: &'static str) -> Arc<Letters> {
        Arc::new(Letters { name, calls: AtomicUsize::new(0), down: AtomicBool::new(false) })
    }
}

impl Embedder for Letters {
    fn model(&self) -> &str {
        self.name
    }
    fn dim(&self) -> usize {
        8
    }
    fn embed(&self, texts: &[&str], _: Kind) -> Result<Vec<Vec<f32>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(CoreError::Unavailable("the model is down".into()));
        }
        let vector = |t: &str| {
            let mut v = vec![0.01f32; 8];
            for b in t.bytes().filter(|b| (b'a'..=b'h').contains(b)) {
                v[usize::from(b - b'a')] += 1.0;
            }
            v
        };
        Ok(texts.iter().map(|t| vector(t)).collect())
    }
}

fn setup(local: &Arc<Letters>) -> Setup {
    Setup {
        default: Some(Backend::Local),
        rules: vec![Rule { pattern: "raw*".into(), backend: Backend::None }],
        local: Some(local.clone() as Arc<dyn Embedder>),
        openai: None,
        query_cache: 16,
        embed_context: false,
    }
}

fn text(t: &str) -> RawMemory {
    RawMemory { text: t.into(), ..RawMemory::default() }
}

/// Live memories of a namespace.
fn count(e: &Engine, ns: &str) -> u64 {
    e.stats(Some(ns)).unwrap().iter().flat_map(|s| &s.tiers).map(|t| t.count).sum()
}

fn semantic(ns: &str, q: &str) -> SearchQuery {
    SearchQuery {
        namespace: ns.into(),
        text: q.into(),
        mode: Mode::Semantic,
        k: 3,
        ..SearchQuery::default()
    }
}

#[test]
fn a_put_embeds_in_one_batch_and_a_search_embeds_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), common::small_config());
    let model = Letters::new("local:letters");
    e.configure_embedding(setup(&model)).unwrap();
    let items = vec![
        text("aaaa"),
        text("hhhh"),
        RawMemory { value: b"v".to_vec(), ..RawMemory::default() },
    ];
    let put = e.put_many("ns", items, 1, true).unwrap();
    assert_eq!(model.calls.load(Ordering::SeqCst), 1, "one call for the batch");
    let stored = e.get_many("ns", &[put[0].key.clone(), put[2].key.clone()], 2, false).unwrap();
    assert_eq!(stored[0].as_ref().unwrap().embedding.as_ref().map(Vec::len), Some(8));
    assert!(stored[1].as_ref().unwrap().embedding.is_none(), "no text, no vector");
    let hits = e.search(&semantic("ns", "ha hhh")).unwrap();
    assert_eq!(hits[0].memory.key, put[1].key);
    // The query cache answers the same question again without the model.
    let calls = model.calls.load(Ordering::SeqCst);
    e.search(&semantic("ns", "ha hhh")).unwrap();
    assert_eq!(model.calls.load(Ordering::SeqCst), calls);
    // A rule keeps a namespace out: no vector, and semantic search needs one.
    e.put_many("raw:1", vec![text("abc")], 3, true).unwrap();
    let err = e.search(&semantic("raw:1", "abc")).unwrap_err();
    assert_eq!(err.kind(), "InvalidArgument");
}

#[test]
fn a_batch_search_embeds_its_text_queries() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), common::small_config());
    let model = Letters::new("local:letters");
    e.configure_embedding(setup(&model)).unwrap();
    let put = e.put_many("ns", vec![text("aaaa"), text("hhhh")], 1, true).unwrap();
    let batch = e.search_batch(&[semantic("ns", "ha hhh"), semantic("ns", "a a")]).unwrap();
    assert_eq!(batch[0][0].memory.key, put[1].key);
    assert_eq!(batch[1][0].memory.key, put[0].key);
    // The same as one search each.
    for (q, hits) in ["ha hhh", "a a"].iter().zip(&batch) {
        let single = e.search(&semantic("ns", q)).unwrap();
        let keys = |h: &[memd_core::search::Hit]| {
            h.iter().map(|h| h.memory.key.clone()).collect::<Vec<_>>()
        };
        assert_eq!(keys(hits), keys(&single));
    }
    // A failing model fails the batch, naming the query.
    model.down.store(true, Ordering::SeqCst);
    let err = e.search_batch(&[semantic("ns", "ha hhh"), semantic("ns", "b c")]).unwrap_err();
    assert!(err.to_string().contains("query 1"), "{err}");
    assert_eq!(err.kind(), "Unavailable");
}

#[test]
fn a_failing_model_stores_nothing_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), common::small_config());
    let model = Letters::new("local:letters");
    e.configure_embedding(setup(&model)).unwrap();
    let first = e.put_many("ns", vec![text("abc")], 1, true).unwrap();
    model.down.store(true, Ordering::SeqCst);
    let err = e.put_many("ns", vec![text("def"), text("ggg")], 2, false).unwrap_err();
    assert_eq!(err.kind(), "Unavailable");
    assert_eq!(count(&e, "ns"), 1);
    assert!(e.get_many("ns", &[first[0].key.clone()], 3, true).unwrap()[0].is_some());
    let keyword = SearchQuery { mode: Mode::Keyword, ..semantic("ns", "abc") };
    assert_eq!(e.search(&keyword).unwrap().len(), 1);
    assert_eq!(e.search(&semantic("ns", "new words")).unwrap_err().kind(), "Unavailable");
}

#[test]
fn a_namespace_keeps_the_model_it_was_filled_with_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = common::open(dir.path(), common::small_config());
        e.configure_embedding(setup(&Letters::new("local:letters"))).unwrap();
        e.put_many("ns", vec![text("abc")], 1, true).unwrap();
        // Client vectors elsewhere: that namespace is theirs.
        let mine = RawMemory { embedding: Some(vec![0, 0, 128, 63]), ..text("mine") };
        e.put_many("own", vec![mine], 1, true).unwrap();
        let err = e.put_many("own", vec![text("abc")], 2, true).unwrap_err();
        assert!(err.message().contains("vectors its clients sent"), "{err}");
    }
    let e = common::open(dir.path(), common::small_config());
    e.configure_embedding(setup(&Letters::new("local:other"))).unwrap();
    let err = e.put_many("ns", vec![text("abc d")], 3, true).unwrap_err();
    assert!(err.message().contains("holds vectors of model local:letters"), "{err}");
    assert!(e.search(&semantic("ns", "abc")).is_err());
    // Nothing was stored; a new namespace takes the new model.
    assert_eq!(count(&e, "ns"), 1);
    e.put_many("ns2", vec![text("abc")], 3, true).unwrap();
    // The stores's records, models included, are consistent.
    e.close().unwrap();
    let report = memd_core::store::verify::verify(dir.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.namespaces, 3);
}
