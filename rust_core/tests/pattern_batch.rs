//! Pattern search and batch search through the engine, each checked against a
//! simpler way of getting the same answer: a pattern search is the same search
//! without the pattern, over every candidate, keeping the first k whose text the
//! pattern (as a plain `regex`) matches; a batch is its queries searched one by one.

mod common;

use memd_core::search::pattern::{PatternSpec, Syntax};
use memd_core::search::{Filter, Mode, SearchQuery};
use memd_core::{Durability, Engine, EngineConfig, RawMemory, Tier};
use proptest::prelude::*;

const NS: &str = "ns";
const WORDS: [&str; 6] = ["apple", "banana", "cherry", "date", "Elder", "fig"];

fn config() -> EngineConfig {
    EngineConfig { durability: Durability::NoSync, ..common::small_config() }
}

/// Memories: key, words, a vector, tier, importance.
fn fill(e: &Engine, docs: &[(Vec<u8>, [i8; 3], u8, u8)]) {
    let items = docs
        .iter()
        .enumerate()
        .map(|(i, (words, v, tier, imp))| RawMemory {
            key: format!("m{i:02}"),
            text: words.iter().map(|&w| WORDS[usize::from(w)]).collect::<Vec<_>>().join(" "),
            value: b"v".to_vec(),
            embedding: Some(v.iter().flat_map(|x| (f32::from(*x) + 0.5).to_le_bytes()).collect()),
            tier: i128::from(*tier),
            importance: Some(f64::from(*imp) / 4.0),
            ..RawMemory::default()
        })
        .collect();
    e.put_many(NS, items, 1_000, true).unwrap();
}

fn docs() -> impl Strategy<Value = Vec<(Vec<u8>, [i8; 3], u8, u8)>> {
    prop::collection::vec(
        (prop::collection::vec(0u8..6, 1..5), prop::array::uniform3(-2i8..3), 1u8..5, 0u8..5),
        1..40,
    )
}

/// A glob or a regex, and the plain regex it means.
fn pattern() -> impl Strategy<Value = (PatternSpec, String)> {
    let cases: Vec<(&str, Syntax, bool, &str)> = vec![
        ("*apple*", Syntax::Glob, false, "(?s)^.*apple.*$"),
        ("?anana*", Syntax::Glob, false, "(?s)^.anana.*$"),
        ("*[ce]herry", Syntax::Glob, false, "(?s)^.*[ce]herry$"),
        ("*elder*", Syntax::Glob, true, "(?is)^.*elder.*$"),
        (r"\bdate\b.*\bfig\b", Syntax::Regex, false, r"\bdate\b.*\bfig\b"),
        ("^(apple|banana) ", Syntax::Regex, false, "^(apple|banana) "),
        ("ELDER", Syntax::Regex, true, "(?i)ELDER"),
    ];
    prop::sample::select(cases).prop_map(|(p, syntax, ignore_case, re)| {
        (PatternSpec { pattern: p.into(), syntax, ignore_case }, re.to_string())
    })
}

fn query() -> impl Strategy<Value = SearchQuery> {
    (0u8..4, prop::collection::vec(0u8..6, 1..3), prop::array::uniform3(-2i8..3), 1usize..8, 0u8..3)
        .prop_map(|(mode, words, v, k, tiers)| SearchQuery {
            namespace: NS.into(),
            text: words.iter().map(|&w| WORDS[usize::from(w)]).collect::<Vec<_>>().join(" "),
            vector: Some(v.iter().map(|x| f32::from(*x) + 0.25).collect()),
            k,
            mode: [Mode::Auto, Mode::Keyword, Mode::Semantic, Mode::Hybrid][usize::from(mode)],
            filter: Filter {
                tiers: match tiers {
                    0 => Vec::new(),
                    1 => vec![Tier::ShortTerm, Tier::LongTerm],
                    _ => vec![Tier::Archive],
                },
                importance_max: 1.0,
                ..Filter::default()
            },
            now_ms: 2_000,
            ..SearchQuery::default()
        })
}

fn keys(hits: &[memd_core::Hit]) -> Vec<(String, f32)> {
    hits.iter().map(|h| (h.memory.key.clone(), h.explain.score)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_pattern_keeps_the_first_k_matching_candidates(
        docs in docs(),
        q in query(),
        (spec, re) in pattern(),
        pattern_only in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let e = common::open(dir.path(), config());
        fill(&e, &docs);
        let re = regex::Regex::new(&re).unwrap();
        let mut with = SearchQuery { pattern: Some(spec), ..q.clone() };
        let mut every = SearchQuery { k: 1_000, ..q.clone() };
        if pattern_only {
            with.mode = Mode::Pattern;
            every.mode = Mode::Pattern;
            every.pattern = Some(PatternSpec { pattern: "*".into(), ..PatternSpec::default() });
        }
        let got = e.search(&with).unwrap();
        let want: Vec<_> = e.search(&every).unwrap().into_iter()
            .filter(|h| re.is_match(&h.memory.text))
            .take(q.k)
            .collect();
        prop_assert_eq!(keys(&got), keys(&want));
        if pattern_only {
            prop_assert!(got.iter().all(|h| (h.explain.relevance - 1.0).abs() < 1e-6));
        }
    }

    #[test]
    fn a_batch_answers_what_separate_searches_do(
        docs in docs(),
        queries in prop::collection::vec((query(), prop::option::of(pattern())), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let e = common::open(dir.path(), config());
        fill(&e, &docs);
        let queries: Vec<SearchQuery> = queries
            .into_iter()
            .map(|(q, p)| SearchQuery { pattern: p.map(|p| p.0), ..q })
            .collect();
        let batch = e.search_batch(&queries).unwrap();
        prop_assert_eq!(batch.len(), queries.len());
        for (q, got) in queries.iter().zip(&batch) {
            prop_assert_eq!(keys(got), keys(&e.search(q).unwrap()));
        }
    }
}

fn semantic(v: [f32; 3], k: usize) -> SearchQuery {
    SearchQuery {
        namespace: NS.into(),
        vector: Some(v.to_vec()),
        k,
        mode: Mode::Semantic,
        now_ms: 2_000,
        ..SearchQuery::default()
    }
}

#[test]
fn a_bad_query_fails_the_batch_by_index_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), config());
    fill(&e, &[(vec![0, 1], [1, 0, 0], 3, 2), (vec![2], [0, 1, 0], 3, 2)]);
    let counting = SearchQuery { count_access: true, ..semantic([1.0, 0.0, 0.0], 2) };
    let accesses = || -> Vec<u64> {
        let got = e.get_many(NS, &["m00".into(), "m01".into()], 2_000, false).unwrap();
        got.into_iter().map(|m| m.unwrap().header.access_count).collect()
    };
    let before = accesses();
    let bad = [
        SearchQuery { vector: Some(vec![1.0, 0.0, 0.0, 0.0]), ..semantic([1.0, 0.0, 0.0], 2) },
        SearchQuery { k: 0, ..semantic([1.0, 0.0, 0.0], 2) },
        SearchQuery { namespace: "other".into(), ..semantic([1.0, 0.0, 0.0], 2) },
        SearchQuery {
            pattern: Some(PatternSpec { pattern: "[".into(), ..PatternSpec::default() }),
            ..semantic([1.0, 0.0, 0.0], 2)
        },
    ];
    for b in bad {
        let err = e.search_batch(&[counting.clone(), b]).unwrap_err();
        assert_eq!(err.kind(), "InvalidArgument");
        assert!(err.message().starts_with("query 1: "), "{err}");
        assert_eq!(accesses(), before, "nothing was counted");
    }
    let too_many = vec![semantic([1.0, 0.0, 0.0], 1); 257];
    assert_eq!(e.search_batch(&too_many).unwrap_err().kind(), "InvalidArgument");
    let too_deep = vec![semantic([1.0, 0.0, 0.0], 5_001); 2];
    assert_eq!(e.search_batch(&too_deep).unwrap_err().kind(), "InvalidArgument");
    // Two counting queries hitting the same memories count twice, like two searches.
    let hits = e.search_batch(&[counting.clone(), counting]).unwrap();
    assert_eq!(hits.iter().map(Vec::len).sum::<usize>(), 4);
    assert_eq!(accesses(), before.iter().map(|n| n + 2).collect::<Vec<_>>());
    assert!(e.search_batch(&[]).unwrap().is_empty());
}

#[test]
fn an_unknown_namespace_has_no_hits_but_bad_queries_still_fail() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), config());
    let q = SearchQuery { namespace: "nobody".into(), ..semantic([1.0, 0.0, 0.0], 3) };
    assert_eq!(e.search_batch(&[q.clone(), q.clone()]).unwrap(), vec![Vec::new(), Vec::new()]);
    let pattern_mode = SearchQuery { mode: Mode::Pattern, ..q };
    assert_eq!(e.search_batch(&[pattern_mode]).unwrap_err().kind(), "InvalidArgument");
}

#[test]
fn a_pattern_search_reads_a_bounded_amount_of_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig { map_size: 512 << 20, ..config() };
    cfg.limits.max_text_bytes = 1 << 20;
    let e = common::open(dir.path(), cfg);
    // 70 memories of 1 MiB of text each: a pattern matching none reads past 64 MiB.
    let text = "x".repeat(1 << 20);
    for chunk in 0..7 {
        let items = (0..10)
            .map(|i| RawMemory {
                key: format!("big{chunk}{i}"),
                text: text.clone(),
                tier: 4,
                ..RawMemory::default()
            })
            .collect();
        e.put_many(NS, items, 1_000, true).unwrap();
    }
    let q = SearchQuery {
        namespace: NS.into(),
        mode: Mode::Pattern,
        pattern: Some(PatternSpec { pattern: "*y*".into(), ..PatternSpec::default() }),
        count_access: true,
        now_ms: 2_000,
        ..SearchQuery::default()
    };
    let err = e.search(&q).unwrap_err();
    assert_eq!(err.kind(), "CapacityExceeded", "{err}");
    let found = SearchQuery {
        pattern: Some(PatternSpec { pattern: "x*".into(), ..PatternSpec::default() }),
        k: 3,
        ..q
    };
    assert_eq!(e.search(&found).unwrap().len(), 3, "a common pattern stops after k matches");
}
