//! Round trips of whole namespaces' indexes, and every way a snapshot is refused.

use super::*;
use crate::config::QuantRules;
use crate::search::ann::AnnStats;
use crate::search::filter::DocMeta;
use crate::search::quant::Quantization;
use crate::search::vector::{Reach, VectorIndex};
use crate::search::DocInput;
use std::sync::Arc;

const DIM: usize = 8;
const WORDS: [&str; 8] = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "ember"];

fn expect(txn_id: u64) -> Expect {
    Expect {
        txn_id,
        analyzer: Analyzer::ENGLISH,
        params: Params::default(),
        quantization: QuantRules::default(),
    }
}

/// A namespace past the graph threshold with a built graph, deleted memories, a
/// repair pass under way and vectors not yet in the graph: every kind of state.
fn busy_index() -> SearchIndex {
    busy_index_of(Quantization::None)
}

fn busy_index_of(quant: Quantization) -> SearchIndex {
    let mut ix = SearchIndex::with_quantization(Analyzer::ENGLISH, quant);
    let mut seed = 0x1234_5678_u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u32
    };
    let n = Params::default().build_at + 300;
    let keys: Vec<Arc<str>> = (0..n).map(|i| Arc::from(format!("k{i}"))).collect();
    let add = |ix: &mut SearchIndex, key: &Arc<str>, next: &mut dyn FnMut() -> u32| {
        let text: Vec<&str> = (0..5).map(|_| WORDS[next() as usize % WORDS.len()]).collect();
        let v: Vec<f32> = (0..DIM).map(|_| next() as f32 / u32::MAX as f32 - 0.25).collect();
        let tags = vec![format!("t{}", next() % 7)];
        let metadata = vec![("type".to_owned(), format!("m{}", next() % 3))];
        let meta = DocMeta {
            tier: 2,
            importance: 0.5,
            created_ms: u64::from(next()),
            ..DocMeta::default()
        };
        let doc = DocInput {
            text: &text.join(" "),
            context: "",
            embedding: Some(&v),
            tags: &tags,
            metadata: &metadata,
            meta,
        };
        ix.upsert(key, &doc);
    };
    for k in &keys {
        add(&mut ix, k, &mut next);
    }
    ix.vectors.build();
    for k in &keys[..n / 4 + 10] {
        ix.remove(k);
    }
    for _ in 0..3 {
        let w = ix.plan_vector_work().expect("a repair pass runs");
        ix.apply_vector_work(w);
    }
    // Enough new vectors that the namespace is past the threshold again (so
    // searches walk the graph), waiting as pending.
    for k in &keys[..2600] {
        add(&mut ix, k, &mut next);
    }
    ix
}

fn nearest(ix: &SearchIndex, q: &[f32]) -> Vec<(u32, f32)> {
    let mut out = Vec::new();
    ix.vectors.visit(q, Reach::Nearest(10), |_| true, |s, sim| out.push((s, sim)));
    out
}

#[test]
fn an_index_round_trips_exactly() {
    for quant in [Quantization::None, Quantization::Int8] {
        round_trip(quant);
    }
}

fn round_trip(quant: Quantization) {
    let ix = busy_index_of(quant);
    let stats = ix.vectors.stats();
    assert!(stats.nodes > 0 && stats.pending > 0 && stats.condemned > 0, "{stats:?}");
    let bytes = encode(7, Analyzer::ENGLISH, [("ns", &ix)].into_iter());
    let rules = QuantRules::uniform(quant);
    let spaces = decode(&bytes, &Expect { quantization: rules, ..expect(7) }).expect("valid");
    assert_eq!(spaces.len(), 1);
    let (name, back) = &spaces[0];
    assert_eq!(name, "ns");
    // Everything saved comes back bit for bit...
    assert_eq!(encode(7, Analyzer::ENGLISH, [("ns", back)].into_iter()), bytes);
    // ...and what is derived (key map, live bits, pending vectors) agrees.
    assert_eq!(back.len(), ix.len());
    let n = Params::default().build_at + 300;
    assert!((0..n)
        .step_by(37)
        .all(|i| back.contains(&format!("k{i}")) == ix.contains(&format!("k{i}"))));
    assert_eq!(back.meta_of("k5"), ix.meta_of("k5"));
    let AnnStats { vectors, nodes, pending, condemned, .. } = back.vectors.stats();
    assert_eq!(
        (vectors, nodes, pending, condemned),
        (stats.vectors, stats.nodes, stats.pending, stats.condemned)
    );
    assert_eq!(back.vectors.exact().quantization(), quant);
    let q: Vec<f32> =
        crate::search::vector::unit(&[0.3, -0.1, 0.2, 0.9, 0.1, 0.0, 0.4, -0.2]).unwrap();
    assert!(ix.vectors.walks_graph(&q), "the comparison exercises the graph walk");
    assert_eq!(nearest(back, &q), nearest(&ix, &q));
}

#[test]
fn the_restarted_repair_finishes_and_matches_an_exact_scan() {
    let (_, mut back) =
        decode(&encode(1, Analyzer::ENGLISH, [("ns", &busy_index())].into_iter()), &expect(1))
            .expect("valid")
            .remove(0);
    back.vectors.build();
    let s = back.vectors.stats();
    // Tombstones not purged yet (the last deletes) stay nodes until the next purge.
    assert_eq!((s.pending, s.condemned), (0, 0), "{s:?}");
    assert!(s.nodes >= s.vectors, "{s:?}");
    let q: Vec<f32> = crate::search::vector::unit(&[1.0; DIM]).unwrap();
    let mut exact = Vec::new();
    back.vectors.exact().visit(&q, Reach::All, |_| true, |s, sim| exact.push((s, sim)));
    exact.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut walked = nearest(&back, &q);
    walked.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(walked[0], exact[0], "the graph still finds the nearest vector");
}

#[test]
fn every_doubtful_snapshot_is_refused() {
    let mut ix = SearchIndex::new(Analyzer::ENGLISH);
    let doc = DocInput {
        text: "hello world",
        context: "",
        embedding: Some(&[1.0, 0.0]),
        tags: &[],
        metadata: &[],
        meta: DocMeta::default(),
    };
    ix.upsert(&Arc::from("k"), &doc);
    let bytes = encode(5, Analyzer::ENGLISH, [("ns", &ix)].into_iter());
    assert!(decode(&bytes, &expect(5)).is_ok());
    let why = |bytes: &[u8], e: &Expect| decode(bytes, e).err().map(|b| b.0).unwrap_or_default();
    assert!(why(&bytes, &expect(6)).contains("stale"));
    let none = Expect { analyzer: Analyzer::NONE, ..expect(5) };
    assert!(why(&bytes, &none).contains("search_language"));
    let other = Expect { params: Params { m: 8, ..Params::default() }, ..expect(5) };
    assert!(why(&bytes, &other).contains("graph settings"));
    let int8 = Expect { quantization: QuantRules::uniform(Quantization::Int8), ..expect(5) };
    assert!(why(&bytes, &int8).contains("vector_quantization"));
    // A rule for this namespace alone refuses it too; one for another namespace does not.
    let rule = |pattern: &str| QuantRules {
        default: Quantization::None,
        rules: vec![(pattern.to_string(), Quantization::Int8)].into(),
    };
    assert!(why(&bytes, &Expect { quantization: rule("n*"), ..expect(5) }).contains("int8"));
    assert!(decode(&bytes, &Expect { quantization: rule("other"), ..expect(5) }).is_ok());
    let mut txn = bytes.clone();
    txn[HEADER + 3] ^= 0x40;
    assert!(why(&txn, &expect(5)).contains("stale"), "a damaged transaction id never matches");
    for at in [HEADER + 9, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(why(&bad, &expect(5)).contains("checksum"), "byte {at}");
    }
    assert!(why(&bytes[..bytes.len() - 9], &expect(5)).contains("malformed"));
    assert!(why(b"MEMDSNAX", &expect(5)).contains("not a snapshot"));
    let mut version = bytes.clone();
    version[8] = 99;
    assert!(why(&version, &expect(5)).contains("format version"));
}

#[test]
fn files_are_replaced_whole_and_discarded() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(read(dir.path(), &expect(1), &mut Vec::new()), Ok(None)));
    let ix = SearchIndex::new(Analyzer::ENGLISH);
    write(dir.path(), 1, Analyzer::ENGLISH, [("a", &ix)].into_iter(), None).unwrap();
    write(dir.path(), 2, Analyzer::ENGLISH, [("b", &ix)].into_iter(), None).unwrap();
    let spaces = read(dir.path(), &expect(2), &mut Vec::new()).unwrap().unwrap();
    assert_eq!(spaces[0].0, "b");
    discard(dir.path());
    assert!(!path(dir.path()).exists());
}

#[test]
fn the_streamed_file_is_the_encoded_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (busy_index(), busy_index_of(Quantization::Int8));
    let spaces = || [("a", &a), ("b", &b)].into_iter();
    let size = write(dir.path(), 9, Analyzer::ENGLISH, spaces(), None).unwrap();
    let file = std::fs::read(path(dir.path())).unwrap();
    assert_eq!(file.len() as u64, size);
    assert_eq!(file, encode(9, Analyzer::ENGLISH, spaces()));
    assert!(!dir.path().join(format!("{FILE}.tmp")).exists());
}

#[test]
fn a_write_over_its_budget_is_abandoned_and_the_old_file_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ix = busy_index();
    write(dir.path(), 1, Analyzer::ENGLISH, [("a", &ix)].into_iter(), None).unwrap();
    let before = std::fs::read(path(dir.path())).unwrap();
    let now = crate::clock::monotonic();
    let e = write(dir.path(), 2, Analyzer::ENGLISH, [("a", &ix)].into_iter(), Some(now));
    assert_eq!(e.map_err(|e| e.kind()), Err(std::io::ErrorKind::TimedOut));
    assert_eq!(std::fs::read(path(dir.path())).unwrap(), before, "the old snapshot is intact");
    assert!(!dir.path().join(format!("{FILE}.tmp")).exists(), "the partial file is removed");
}

/// What a kill or a power loss can leave of a streamed file: a body whose header is
/// still zero (killed before the header was written), a file cut anywhere, pages
/// lost to zeros. Each is refused, so the open rebuilds.
#[test]
fn a_torn_streamed_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ix = busy_index();
    write(dir.path(), 3, Analyzer::ENGLISH, [("a", &ix)].into_iter(), None).unwrap();
    let file = std::fs::read(path(dir.path())).unwrap();
    let refused = |bytes: &[u8]| {
        std::fs::write(path(dir.path()), bytes).unwrap();
        read(dir.path(), &expect(3), &mut Vec::new()).err().map(|b| b.0).unwrap_or_default()
    };
    let mut no_header = file.clone();
    no_header[..HEADER].fill(0);
    assert!(refused(&no_header).contains("not a snapshot"));
    for cut in [HEADER, HEADER + 1, file.len() / 3, file.len() - 1] {
        assert!(refused(&file[..cut]).contains("malformed"), "cut at {cut}");
    }
    let mut zeroed = file.clone();
    let page = file.len() / 2 / 4096 * 4096;
    zeroed[page..page + 4096].fill(0);
    assert!(refused(&zeroed).contains("checksum"));
    assert!(refused(&file).is_empty(), "the intact file is used");
    let mut phases = Vec::new();
    assert!(matches!(read(dir.path(), &expect(3), &mut phases), Ok(Some(_))));
    let steps: Vec<&str> = phases.iter().map(|p| p.name).collect();
    assert_eq!(steps, ["snapshot map", "snapshot checksum", "snapshot decode"]);
}

/// An index of `n` 384-d vectors (1.5 MB at 1 000: past the size mapped in place).
fn wide_index(n: u32, salt: u32) -> SearchIndex {
    let mut ix = SearchIndex::new(Analyzer::ENGLISH);
    for i in 0..n {
        put_wide(&mut ix, &format!("w{i}"), i * 31 + salt);
    }
    ix
}

fn put_wide(ix: &mut SearchIndex, key: &str, seed: u32) {
    let v: Vec<f32> = (0..384).map(|d| ((d * 7 + seed * 13) % 101) as f32 - 50.0).collect();
    let doc = DocInput {
        text: WORDS[seed as usize % WORDS.len()],
        context: "",
        embedding: Some(&v),
        tags: &[],
        metadata: &[],
        meta: DocMeta::default(),
    };
    ix.upsert(&Arc::from(key), &doc);
}

/// The matrix read back from the file is served in place (copy-on-write): writes
/// after the open (a changed vector, a reused slot, appended rows) give the same
/// index as the same writes on the original, and a snapshot written from it (the
/// next close, renamed over the mapped file) reads back the same again.
#[test]
fn a_matrix_served_from_the_file_takes_writes_like_one_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = wide_index(1_000, 0);
    write(dir.path(), 4, Analyzer::ENGLISH, [("a", &ix)].into_iter(), None).unwrap();
    let file_before = std::fs::read(path(dir.path())).unwrap();
    let (_, mut back) = read(dir.path(), &expect(4), &mut Vec::new()).unwrap().unwrap().remove(0);
    assert!(back.vectors.exact().rows().served_in_place());
    let q: Vec<f32> = crate::search::vector::unit(&[1.0; 384]).unwrap();
    assert_eq!(nearest(&back, &q), nearest(&ix, &q));
    for one in [&mut ix, &mut back] {
        put_wide(one, "w3", 77_777); // a row of the mapped head rewritten
        one.remove("w10");
        put_wide(one, "new-in-a-freed-slot", 5);
        for i in 0..50 {
            put_wide(one, &format!("tail{i}"), 900_000 + i); // rows on the heap
        }
    }
    for seed in [0, 5, 77_777, 900_010] {
        let mut q = vec![0.0f32; 384];
        (0..384).for_each(|d| q[d] = ((d as u32 * 7 + seed * 13) % 101) as f32 - 50.0);
        let q = crate::search::vector::unit(&q).unwrap();
        assert_eq!(nearest(&back, &q), nearest(&ix, &q), "query {seed}");
    }
    let encoded = encode(5, Analyzer::ENGLISH, [("a", &ix)].into_iter());
    assert_eq!(encode(5, Analyzer::ENGLISH, [("a", &back)].into_iter()), encoded);
    assert_eq!(std::fs::read(path(dir.path())).unwrap(), file_before, "the file never changes");
    write(dir.path(), 5, Analyzer::ENGLISH, [("a", &back)].into_iter(), None).unwrap();
    assert_eq!(std::fs::read(path(dir.path())).unwrap(), encoded);
    assert_eq!(nearest(&back, &q), nearest(&ix, &q), "the old mapping outlives the rename");
    let (_, again) = read(dir.path(), &expect(5), &mut Vec::new()).unwrap().unwrap().remove(0);
    assert_eq!(encode(5, Analyzer::ENGLISH, [("a", &again)].into_iter()), encoded);
}
