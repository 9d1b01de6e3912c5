//! Search through the engine: a property test that the index agrees with a
//! brute-force scorer over the memories `list` returns, after random puts,
//! overwrites, deletes, reads (promotion, demotion) and a reopen.

mod common;

use memd_core::search::filter::DocMeta;
use memd_core::search::score::{Explain, RecencyFrom, Scorer, Weights};
use memd_core::search::vector::{dot, unit};
use memd_core::search::{Bm25, CosineScale, Filter, Fusion, Mode, SearchQuery};
use memd_core::{Durability, Engine, EngineConfig, ListQuery, Memory, RawMemory, Tier};
use proptest::prelude::*;
use std::collections::HashMap;

const NS: &str = "ns";
const WORDS: [&str; 8] = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi"];

fn config() -> EngineConfig {
    let mut cfg = common::small_config();
    cfg.durability = Durability::NoSync;
    cfg
}

/// A put item: key, words, vector, tag bits, tier, importance (quarters).
type Item = (u8, Vec<u8>, Option<[i8; 4]>, u8, u8, u8);

#[derive(Clone, Debug)]
enum Step {
    Put(Vec<Item>),
    Delete(Vec<u8>),
    Read(Vec<u8>),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    let item = (
        0u8..14,
        prop::collection::vec(0u8..8, 0..6),
        prop::option::weighted(0.8, prop::array::uniform4(-2i8..3)),
        0u8..4,
        0u8..8,
        0u8..5,
    );
    prop_oneof![
        4 => prop::collection::vec(item, 1..5).prop_map(Step::Put),
        1 => prop::collection::vec(0u8..14, 1..3).prop_map(Step::Delete),
        1 => prop::collection::vec(0u8..14, 1..4).prop_map(Step::Read),
        1 => Just(Step::Reopen),
    ]
}

fn raw(key: u8, words: &[u8], v: Option<[i8; 4]>, tags: u8, tier: u8, imp: u8) -> RawMemory {
    let text = words.iter().map(|&w| WORDS[w as usize]).collect::<Vec<_>>().join(" ");
    let tag_list = ["red", "blue"].iter().enumerate().filter(|(i, _)| tags >> i & 1 == 1);
    RawMemory {
        key: format!("k{key:02}"),
        text,
        embedding: v.map(|v| v.iter().flat_map(|x| f32::from(*x).to_le_bytes()).collect()),
        tags: tag_list.map(|(_, t)| (*t).to_string()).collect(),
        metadata: vec![("type".into(), if key.is_multiple_of(2) { "fact" } else { "note" }.into())],
        importance: Some(f64::from(imp) / 4.0),
        tier: i128::from(tier % 5),
        // A memory needs text, a value or an embedding; the value is not searched.
        value: b"v".to_vec(),
        ..RawMemory::default()
    }
}

fn query() -> impl Strategy<Value = SearchQuery> {
    (
        (
            prop::collection::vec(0u8..8, 1..3),
            prop::array::uniform4(-2i8..3),
            0u8..5,
            any::<bool>(),
        ),
        (1usize..8, 0u8..5, 0u8..4, 0u8..3, 0u8..5, any::<bool>()),
    )
        .prop_filter_map(
            "zero vector",
            |((words, v, mode, rrf), (k, tiers, tags, any, imp, c))| {
                let vector: Vec<f32> = v.iter().map(|x| f32::from(*x)).collect();
                unit(&vector)?;
                let tag = |i: u8| ["red", "blue"][usize::from(i % 2)].to_string();
                let filter = Filter {
                    tiers: Tier::ALL.into_iter().filter(|t| tiers >> t.index() & 1 == 1).collect(),
                    tags_all: (tags == 1).then(|| tag(0)).into_iter().collect(),
                    tags_any: if tags >= 2 { vec![tag(0), tag(1)] } else { Vec::new() },
                    metadata: (any == 1)
                        .then(|| ("type".into(), "fact".into()))
                        .into_iter()
                        .collect(),
                    importance_min: f32::from(imp) / 8.0,
                    importance_max: 1.0,
                    created_after_ms: if c { 1_005 } else { 0 },
                    ..Filter::default()
                };
                Some(SearchQuery {
                    namespace: NS.into(),
                    text: words.iter().map(|&w| WORDS[w as usize]).collect::<Vec<_>>().join(" "),
                    vector: Some(vector),
                    k,
                    mode: [Mode::Auto, Mode::Keyword, Mode::Semantic, Mode::Hybrid, Mode::Phrase]
                        [usize::from(mode)],
                    fusion: if rrf { Fusion::Rrf } else { Fusion::Weighted },
                    keyword_weight: 0.3,
                    // The brute-force model fuses raw cosines (min-max: fusion.rs's tests).
                    cosine_scale: CosineScale::None,
                    half_life_ms: 500,
                    recency_from: if c { RecencyFrom::Created } else { RecencyFrom::LastAccess },
                    filter,
                    now_ms: 2_000,
                    ..SearchQuery::default()
                })
            },
        )
}

/// The scorer, written the slow and obvious way over what `list` returns.
fn brute_force(docs: &[Memory], q: &SearchQuery) -> Vec<(String, f32)> {
    let f = &q.filter;
    let meta = |m: &Memory| DocMeta::from_header(&m.header);
    let passes = |m: &Memory| {
        let h = &m.header;
        (f.tiers.is_empty() || f.tiers.contains(&h.tier))
            && f.tags_all.iter().all(|t| m.tags.contains(t))
            && (f.tags_any.is_empty() || f.tags_any.iter().any(|t| m.tags.contains(t)))
            && f.metadata.iter().all(|kv| m.metadata.contains(kv))
            && h.importance >= f.importance_min
            && h.importance <= f.importance_max
            && h.created_ms >= f.created_after_ms
    };
    // The engine's analyzer (NFKC, English stemming): the oracle checks scoring, not it.
    let analyzer = config().analyzer;
    let toks: Vec<Vec<String>> = docs.iter().map(|m| analyzer.terms(&m.text)).collect();
    let mut terms = analyzer.terms(&q.text);
    let phrase = terms.clone();
    terms.sort();
    terms.dedup();
    let n = docs.len() as f32;
    let avg = toks.iter().map(Vec::len).sum::<usize>() as f32 / n;
    let Bm25 { k1, b } = q.bm25;
    let mut norm = 0.0f32;
    for t in &terms {
        let df = toks.iter().filter(|d| d.contains(t)).count() as f32;
        if df > 0.0 {
            norm += (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        }
    }
    let bm25: Vec<f32> = toks
        .iter()
        .map(|doc| {
            let mut s = 0.0f32;
            for t in &terms {
                let df = toks.iter().filter(|d| d.contains(t)).count() as f32;
                let tf = doc.iter().filter(|x| *x == t).count() as f32;
                if tf > 0.0 {
                    let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                    s += idf * tf * (k1 + 1.0)
                        / (tf + k1 * (1.0 - b) + k1 * b / avg * doc.len() as f32);
                }
            }
            s
        })
        .collect();
    let qv = unit(q.vector.as_ref().unwrap()).unwrap();
    let cos: Vec<Option<f32>> = docs
        .iter()
        .map(|m| m.embedding.as_ref().and_then(|e| unit(e)).map(|u| dot(&u, &qv)))
        .collect();
    let (use_text, use_vec) = match q.mode {
        Mode::Auto | Mode::Hybrid => (true, true),
        Mode::Keyword | Mode::Phrase => (true, false),
        Mode::Semantic => (false, true),
        Mode::Pattern => unreachable!("no pattern queries here (see tests/pattern.rs)"),
    };
    let kw_ok = |i: usize| {
        use_text
            && bm25[i] > 0.0
            && (q.mode != Mode::Phrase || analyzer.contains_phrase(&docs[i].text, &phrase))
    };
    let vec_ok = |i: usize| use_vec && cos[i].is_some();
    let eligible: Vec<usize> = (0..docs.len()).filter(|&i| passes(&docs[i])).collect();
    let kwn = |i: usize| if kw_ok(i) { (bm25[i] / norm).min(1.0) } else { 0.0 };
    let rank_of = |score: &dyn Fn(usize) -> Option<f32>| -> HashMap<usize, usize> {
        let mut list: Vec<(usize, f32)> =
            eligible.iter().filter_map(|&i| score(i).map(|s| (i, s))).collect();
        list.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| docs[x.0].key.cmp(&docs[y.0].key)));
        let depth = (q.k * 10).max(100);
        list.iter().take(depth).enumerate().map(|(r, (i, _))| (*i, r + 1)).collect()
    };
    let kw_rank = rank_of(&|i| kw_ok(i).then_some(bm25[i]));
    let vec_rank = rank_of(&|i| if vec_ok(i) { cos[i] } else { None });
    let scorer =
        Scorer::new(q.weights, q.half_life_ms, q.recency_from, q.frequency_saturation, q.now_ms);
    let mut out: Vec<(String, f32)> = Vec::new();
    for &i in &eligible {
        let relevance = match (use_text, use_vec) {
            (true, false) if kw_ok(i) => kwn(i),
            (false, true) if vec_ok(i) => cos[i].unwrap().clamp(0.0, 1.0),
            (true, true) if q.fusion == Fusion::Rrf => {
                let part = |r: Option<&usize>| r.map_or(0.0, |&r| 1.0 / (60.0 + r as f32));
                if kw_rank.contains_key(&i) || vec_rank.contains_key(&i) {
                    (part(kw_rank.get(&i)) + part(vec_rank.get(&i))) * 61.0 / 2.0
                } else {
                    continue;
                }
            }
            (true, true) if kw_ok(i) || vec_ok(i) => {
                let a = q.keyword_weight;
                a * kwn(i) + (1.0 - a) * cos[i].unwrap_or(0.0).clamp(0.0, 1.0)
            }
            _ => continue,
        };
        let e = scorer.finish(Explain { relevance, ..Explain::default() }, &meta(&docs[i]));
        out.push((docs[i].key.clone(), e.score));
    }
    out.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    out.truncate(q.k);
    out
}

fn live(e: &Engine) -> Vec<Memory> {
    let q = ListQuery { ns: NS.into(), now_ms: 2_000, limit: 10_000, ..Default::default() };
    e.list(&q).map(|page| page.0).unwrap_or_default()
}

fn check(e: &Engine, queries: &[SearchQuery]) -> Result<(), TestCaseError> {
    e.flush().unwrap();
    let docs = live(e);
    for q in queries {
        let got = e.search(q).unwrap();
        let got: Vec<(String, f32)> =
            got.into_iter().map(|h| (h.memory.key, h.explain.score)).collect();
        let want = if docs.is_empty() { Vec::new() } else { brute_force(&docs, q) };
        let keys = |v: &[(String, f32)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        prop_assert_eq!(keys(&got), keys(&want), "query {:?}", q);
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g.1 - w.1).abs() < 1e-5, "{:?} vs {:?}", g, w);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_brute_force(
        steps in prop::collection::vec(step(), 1..12),
        queries in prop::collection::vec(query(), 4..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut e = common::open(dir.path(), config());
        for (i, s) in steps.iter().enumerate() {
            let now = 1_000 + i as u64 * 10;
            match s {
                Step::Put(items) => {
                    let batch = items.iter().map(|t| raw(t.0, &t.1, t.2, t.3, t.4, t.5)).collect();
                    e.put_many(NS, batch, now, true).unwrap();
                }
                Step::Delete(keys) => {
                    let keys: Vec<String> = keys.iter().map(|k| format!("k{k:02}")).collect();
                    e.delete_many(NS, &keys, now).unwrap();
                }
                Step::Read(keys) => {
                    let keys: Vec<String> = keys.iter().map(|k| format!("k{k:02}")).collect();
                    e.get_many(NS, &keys, now, true).unwrap();
                }
                Step::Reopen => {
                    e.close().unwrap();
                    e = common::open(dir.path(), config());
                }
            }
        }
        check(&e, &queries)?;
        e.close().unwrap();
        let e = common::open(dir.path(), config());
        check(&e, &queries)?;
    }
}

#[test]
#[expect(clippy::float_cmp, reason = "the defaults are exact literals")]
fn default_weights_are_the_documented_ones() {
    let w = Weights::default();
    assert_eq!([w.relevance, w.recency, w.frequency, w.importance], [0.4, 0.3, 0.2, 0.1]);
}

#[test]
fn selective_filters_scan_only_their_label_lists() {
    // 400 memories, a tag on every 40th: few enough that the scan follows the tag's
    // slot list. Deleting and rewriting tagged memories leaves stale list entries.
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), config());
    let mut cfg_items = Vec::new();
    for i in 0u16..400 {
        let v = [(i % 5) as i8 - 2, (i % 3) as i8, 1, (i % 7) as i8 - 3];
        let mut m = raw(0, &[(i % 8) as u8, (i % 5) as u8], Some(v), 0, 3, (i % 5) as u8);
        m.key = format!("m{i:03}");
        m.tags = if i % 40 == 0 { vec!["red".into()] } else { vec!["blue".into()] };
        cfg_items.push(m);
    }
    e.put_many(NS, cfg_items.clone(), 1_000, true).unwrap();
    let gone: Vec<String> = (0..400).step_by(80).map(|i| format!("m{i:03}")).collect();
    e.delete_many(NS, &gone, 1_100).unwrap();
    for (i, item) in cfg_items.iter().enumerate().filter(|(i, _)| i % 120 == 0) {
        let mut again = item.clone();
        again.key = format!("n{i:03}");
        e.put_many(NS, vec![again], 1_200, true).unwrap();
    }
    let base = SearchQuery {
        namespace: NS.into(),
        text: "apple fig".into(),
        vector: Some(vec![1.0, 0.5, 0.0, -1.0]),
        k: 5,
        now_ms: 2_000,
        cosine_scale: CosineScale::None,
        ..SearchQuery::default()
    };
    let mut queries = Vec::new();
    for mode in [Mode::Semantic, Mode::Hybrid] {
        for fusion in [Fusion::Rrf, Fusion::Weighted] {
            for any in [false, true] {
                let mut q = SearchQuery { mode, fusion, ..base.clone() };
                if any {
                    q.filter.tags_any = vec!["red".into(), "green".into()];
                } else {
                    q.filter.tags_all = vec!["red".into()];
                }
                queries.push(q);
            }
        }
    }
    check(&e, &queries).unwrap();
    assert!(queries.iter().all(|q| !e.search(q).unwrap().is_empty()));
    assert_eq!(e.search(&queries[4]).unwrap().len(), 5, "hybrid: keyword matches too");
}

#[test]
fn a_failed_commit_leaves_the_index_as_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.map_size = 1 << 20;
    cfg.tiers[1].capacity = 0;
    let e = common::open(dir.path(), cfg);
    let text = |key: &str, text: &str| RawMemory { text: text.into(), ..common::item(key, 2) };
    e.put_many(NS, vec![text("kept", "kept words")], 1, true).unwrap();
    let big = |i: usize| RawMemory { value: vec![7u8; 100_000], ..text(&format!("b{i}"), "lost") };
    let err = e.put_many(NS, (0..20).map(big).collect(), 2, true).unwrap_err();
    assert_eq!(err.kind(), "CapacityExceeded");
    let found = |word: &str| -> Vec<String> {
        let q = SearchQuery {
            namespace: NS.into(),
            text: word.into(),
            now_ms: 3,
            ..SearchQuery::default()
        };
        e.search(&q).unwrap().into_iter().map(|h| h.memory.key).collect()
    };
    assert!(found("lost").is_empty(), "the aborted batch is not searchable");
    assert_eq!(found("words"), ["kept"]);
    e.put_many(NS, vec![text("after", "after words")], 4, true).unwrap();
    assert_eq!(found("after"), ["after"]);
}
