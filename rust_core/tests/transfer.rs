//! Transfer and Clear through the engine: a property test against a model (two
//! namespaces as maps, written the slow and obvious way), across random puts,
//! deletes, transfers, clears and reopens; plus the cases the model leaves out
//! (capacity, expiry, access statistics, atomicity within a group commit).

mod common;

use memd_core::engine::{Conflict, DimensionMismatch, TransferRequest};
use memd_core::{Durability, Engine, EngineConfig, ListQuery, RawMemory, Tier, TierConfig};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const NS: [&str; 2] = ["a", "b"];

fn unbounded() -> EngineConfig {
    let tier = TierConfig { capacity: 0, default_ttl_ms: 0 };
    EngineConfig {
        map_size: 64 << 20,
        durability: Durability::NoSync,
        tiers: [tier; 4],
        ..EngineConfig::default()
    }
}

/// What the model keeps of a memory: text, embedding dimension (0: none), tier.
type Doc = (String, u32, u8);

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    spaces: BTreeMap<&'static str, BTreeMap<String, Doc>>,
    dims: BTreeMap<&'static str, u32>,
}

#[derive(Clone, Debug)]
enum Step {
    Put { ns: usize, key: u8, dim: u32, tier: u8, text: u8 },
    Delete { ns: usize, key: u8 },
    Transfer { from: usize, keys: Option<Vec<u8>>, moving: bool, conflict: u8, dimension: u8 },
    Clear { ns: usize, tier: u8 },
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0usize..2, 0u8..8, prop_oneof![Just(0u32), Just(2), Just(3)], 1u8..5, 0u8..4)
            .prop_map(|(ns, key, dim, tier, text)| Step::Put { ns, key, dim, tier, text }),
        1 => (0usize..2, 0u8..8).prop_map(|(ns, key)| Step::Delete { ns, key }),
        4 => (
            0usize..2,
            prop::option::weighted(0.7, prop::collection::vec(0u8..8, 1..5)),
            any::<bool>(),
            0u8..3,
            0u8..3,
        )
            .prop_map(|(from, keys, moving, conflict, dimension)| Step::Transfer {
                from,
                keys,
                moving,
                conflict,
                dimension
            }),
        1 => (0usize..2, 0u8..5).prop_map(|(ns, tier)| Step::Clear { ns, tier }),
        1 => Just(Step::Reopen),
    ]
}

fn key(k: u8) -> String {
    format!("k{k}")
}

fn raw(key: u8, dim: u32, tier: u8, text: u8) -> RawMemory {
    RawMemory {
        key: self::key(key),
        text: format!("text {text}"),
        embedding: (dim > 0)
            .then(|| (0..dim).flat_map(|i| (i as f32 + 1.0).to_le_bytes()).collect()),
        tier: i128::from(tier),
        ..RawMemory::default()
    }
}

/// What the engine holds, in the model's terms.
fn observe(e: &Engine) -> Model {
    let mut m = Model::default();
    for stats in e.stats(None).unwrap() {
        let ns = NS.iter().find(|n| **n == stats.namespace).expect("only a and b");
        m.dims.insert(ns, stats.dimension);
        let q = ListQuery { ns: (*ns).into(), now_ms: 1, limit: 10_000, ..Default::default() };
        let docs = e.list(&q).unwrap().0.into_iter().map(|x| {
            let dim = x.embedding.as_ref().map_or(0, Vec::len) as u32;
            (x.key, (x.text, dim, x.header.tier.number()))
        });
        m.spaces.insert(ns, docs.collect());
    }
    m
}

/// The model's transfer: `Ok(counts)` (transferred, overwritten, dropped, skipped
/// existing, skipped dimension, missing) or the kind of error (and no change).
fn model_transfer(
    m: &mut Model,
    from: usize,
    keys: Option<&[u8]>,
    moving: bool,
    conflict: u8,
    dimension: u8,
) -> Result<[u64; 6], &'static str> {
    let (src, dst) = (NS[from], NS[1 - from]);
    let Some(source) = m.spaces.get(src).cloned() else { return Err("NotFound") };
    let wanted: Vec<String> = match keys {
        None => source.keys().cloned().collect(),
        Some(keys) => {
            let mut seen = BTreeSet::new();
            keys.iter().map(|k| key(*k)).filter(|k| seen.insert(k.clone())).collect()
        }
    };
    let target = m.spaces.get(dst).cloned().unwrap_or_default();
    let mut dim = m.dims.get(dst).copied().unwrap_or(0);
    let mut counts = [0u64; 6];
    let mut plan = Vec::new();
    for k in wanted {
        let Some(doc) = source.get(&k) else {
            counts[5] += 1;
            continue;
        };
        let mut doc = doc.clone();
        let occupied = target.contains_key(&k);
        if occupied {
            match conflict {
                0 => return Err("AlreadyExists"),
                1 => {
                    counts[3] += 1;
                    continue;
                }
                _ => counts[1] += 1,
            }
        }
        if doc.1 != 0 && dim != 0 && doc.1 != dim {
            match dimension {
                0 => return Err("InvalidArgument"),
                1 => {
                    counts[4] += 1;
                    counts[1] -= u64::from(occupied);
                    continue;
                }
                _ => {
                    doc.1 = 0;
                    counts[2] += 1;
                }
            }
        } else if dim == 0 {
            dim = doc.1;
        }
        plan.push((k, doc));
    }
    if plan.is_empty() {
        return Ok(counts);
    }
    m.dims.insert(dst, dim);
    for (k, doc) in plan {
        m.spaces.entry(dst).or_default().insert(k.clone(), doc);
        if moving {
            m.spaces.get_mut(src).expect("source").remove(&k);
        }
        counts[0] += 1;
    }
    Ok(counts)
}

fn run(e: &Engine, m: &mut Model, step: &Step, now: u64) -> Result<(), TestCaseError> {
    match step {
        Step::Put { ns, key: which, dim, tier, text } => {
            let ok = m.dims.get(NS[*ns]).is_none_or(|d| *d == 0 || *dim == 0 || d == dim);
            let got = e.put_many(NS[*ns], vec![raw(*which, *dim, *tier, *text)], now, true);
            prop_assert_eq!(got.is_ok(), ok);
            if ok {
                let fixed = m.dims.entry(NS[*ns]).or_insert(0);
                if *fixed == 0 {
                    *fixed = *dim;
                }
                let doc = (format!("text {text}"), *dim, *tier);
                m.spaces.entry(NS[*ns]).or_default().insert(key(*which), doc);
            }
        }
        Step::Delete { ns, key: k } => {
            e.delete_many(NS[*ns], &[key(*k)], now).unwrap();
            if let Some(space) = m.spaces.get_mut(NS[*ns]) {
                space.remove(&key(*k));
            }
        }
        Step::Transfer { from, keys, moving, conflict, dimension } => {
            let req = TransferRequest {
                source: NS[*from].into(),
                target: NS[1 - from].into(),
                keys: keys.as_ref().map(|ks| ks.iter().map(|k| key(*k)).collect()),
                moving: *moving,
                on_conflict: [Conflict::Fail, Conflict::Skip, Conflict::Overwrite]
                    [*conflict as usize],
                on_dimension: [
                    DimensionMismatch::Fail,
                    DimensionMismatch::Skip,
                    DimensionMismatch::DropEmbedding,
                ][*dimension as usize],
                now_ms: now,
            };
            let want = model_transfer(m, *from, keys.as_deref(), *moving, *conflict, *dimension);
            match (e.transfer(&req), want) {
                (Ok(report), Ok(counts)) => {
                    let got = [
                        report.transferred,
                        report.overwritten,
                        report.dropped_embeddings,
                        report.skipped_existing,
                        report.skipped_dimension,
                        report.missing,
                    ];
                    prop_assert_eq!(got, counts);
                    prop_assert_eq!(report.demoted_by_capacity, 0);
                }
                (Err(err), Err(kind)) => prop_assert_eq!(err.kind(), kind),
                (got, want) => prop_assert!(false, "engine {:?}, model {:?}", got, want),
            }
        }
        Step::Clear { ns, tier } => {
            let tier = Tier::from_number(i64::from(*tier));
            match (e.clear(NS[*ns], tier), m.spaces.get_mut(NS[*ns])) {
                (Ok(n), Some(space)) => {
                    let before = space.len();
                    space.retain(|_, d| tier.is_some_and(|t| t.number() != d.2));
                    prop_assert_eq!(n as usize, before - space.len());
                }
                (Err(err), None) => prop_assert_eq!(err.kind(), "NotFound"),
                (got, _) => prop_assert!(false, "clear: engine {:?}", got),
            }
        }
        Step::Reopen => unreachable!("handled by the caller"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn transfer_and_clear_agree_with_a_model(steps in prop::collection::vec(step(), 1..24)) {
        let dir = tempfile::tempdir().unwrap();
        let mut e = common::open(dir.path(), unbounded());
        let mut m = Model::default();
        for (i, s) in steps.iter().enumerate() {
            if let Step::Reopen = s {
                e.close().unwrap();
                e = common::open(dir.path(), unbounded());
            } else {
                run(&e, &mut m, s, 1_000 + i as u64)?;
            }
            prop_assert_eq!(observe(&e), m.clone(), "after step {} {:?}", i, s);
        }
    }
}

fn request(keys: Option<Vec<String>>, moving: bool) -> TransferRequest {
    TransferRequest {
        source: "a".into(),
        target: "b".into(),
        keys,
        moving,
        on_conflict: Conflict::Fail,
        on_dimension: DimensionMismatch::Fail,
        now_ms: 2_000,
    }
}

#[test]
fn a_transferred_memory_keeps_its_history_and_unflushed_accesses() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), unbounded());
    let mut m = raw(1, 3, 3, 0);
    m.ttl_ms = Some(1_000_000);
    m.tags = vec!["t".into()];
    m.metadata = vec![("kind".into(), "fact".into())];
    e.put_many("a", vec![m], 1_000, true).unwrap();
    e.get_many("a", &[key(1)], 1_500, true).unwrap();
    let before = e.get_many("a", &[key(1)], 1_600, false).unwrap()[0].clone().unwrap();
    let r = e.transfer(&request(None, true)).unwrap();
    assert_eq!((r.transferred, r.missing), (1, 0));
    assert!(e.get_many("a", &[key(1)], 2_000, false).unwrap()[0].is_none(), "moved");
    let after = e.get_many("b", &[key(1)], 2_000, false).unwrap()[0].clone().unwrap();
    assert_eq!(after.header, before.header, "times, counts, version, expiry, tier");
    assert_eq!(
        (&after.text, &after.tags, &after.metadata),
        (&before.text, &before.tags, &before.metadata)
    );
    assert_eq!(after.embedding, before.embedding);
    assert_eq!(&*after.namespace, "b");
    let counters = |ns: &str, name: &str| -> u64 {
        let stats = e.stats(Some(ns)).unwrap();
        stats[0].tiers.iter().map(|t| t.counters.iter().find(|c| c.0 == name).unwrap().1).sum()
    };
    assert_eq!((counters("a", "transferred.out"), counters("b", "transferred.in")), (1, 1));
    let q = memd_core::SearchQuery {
        namespace: "b".into(),
        text: "text".into(),
        now_ms: 2_000,
        ..Default::default()
    };
    assert_eq!(e.search(&q).unwrap().len(), 1, "searchable in its new namespace");
    let q = memd_core::SearchQuery { namespace: "a".into(), ..q };
    assert!(e.search(&q).unwrap().is_empty(), "and not in the old one");
}

#[test]
fn expired_memories_are_missing_and_expired_targets_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), unbounded());
    let short = |k: u8, text: u8| RawMemory { ttl_ms: Some(100), ..raw(k, 0, 2, text) };
    e.put_many("a", vec![short(1, 0), raw(2, 0, 2, 0)], 1_000, true).unwrap();
    e.put_many("b", vec![short(2, 1)], 1_000, true).unwrap();
    let r = e.transfer(&request(Some(vec![key(1), key(2)]), false)).unwrap();
    assert_eq!((r.transferred, r.missing, r.overwritten), (1, 1, 0));
    let got = e.get_many("b", &[key(2)], 2_000, false).unwrap()[0].clone().unwrap();
    assert_eq!(got.text, "text 0");
}

#[test]
fn capacity_is_enforced_in_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), common::small_config());
    let batch = |ns: &str, keys: std::ops::Range<u8>, t: u64| {
        e.put_many(ns, keys.map(|k| raw(k, 0, 1, 0)).collect(), t, true).unwrap();
    };
    batch("b", 0..3, 1_000);
    batch("a", 10..13, 1_500);
    let r = e.transfer(&request(None, false)).unwrap();
    assert_eq!(r.transferred, 3);
    assert_eq!(r.demoted_by_capacity, 3, "WORKING holds 3: the target's older three go down");
    let working = e.stats(Some("b")).unwrap()[0].tiers[0].count;
    assert_eq!(working, 3);
}

#[test]
fn a_failed_transfer_in_a_group_commit_leaves_the_others_alone() {
    let dir = tempfile::tempdir().unwrap();
    let e = std::sync::Arc::new(common::open(dir.path(), unbounded()));
    e.put_many("a", vec![raw(1, 0, 2, 0)], 1_000, true).unwrap();
    e.put_many("b", vec![raw(1, 0, 2, 1)], 1_000, true).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    e.transfer(&request(Some(vec![key(1)]), true)).map(|_| ())
                } else {
                    e.put_many("c", vec![raw(i, 0, 2, 0)], 1_100, true).map(|_| ())
                }
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let got = t.join().unwrap();
        if i % 2 == 0 {
            assert_eq!(got.unwrap_err().kind(), "AlreadyExists");
        } else {
            got.unwrap();
        }
    }
    assert_eq!(e.stats(Some("c")).unwrap()[0].tiers[1].count, 4);
    assert_eq!(
        e.get_many("b", &[key(1)], 1_200, false).unwrap()[0].as_ref().unwrap().text,
        "text 1"
    );
    assert!(e.get_many("a", &[key(1)], 1_200, false).unwrap()[0].is_some());
}

#[test]
fn bad_requests_are_refused_before_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path(), unbounded());
    e.put_many("a", vec![raw(1, 0, 2, 0)], 1_000, true).unwrap();
    let same = TransferRequest { target: "a".into(), ..request(None, false) };
    assert_eq!(e.transfer(&same).unwrap_err().kind(), "InvalidArgument");
    assert_eq!(
        e.transfer(&request(Some(Vec::new()), false)).unwrap_err().kind(),
        "InvalidArgument"
    );
    let unknown = TransferRequest { source: "zz".into(), ..request(None, false) };
    assert_eq!(e.transfer(&unknown).unwrap_err().kind(), "NotFound");
    let empty_key = request(Some(vec![String::new()]), false);
    assert_eq!(e.transfer(&empty_key).unwrap_err().kind(), "InvalidArgument");
    assert_eq!(e.clear("zz", None).unwrap_err().kind(), "NotFound");
    assert!(e.stats(Some("b")).unwrap().is_empty(), "no target created");
    e.clear("a", None).unwrap();
    assert_eq!(e.clear("a", None).unwrap(), 0, "a cleared namespace stays");
    assert_eq!(e.namespaces().unwrap(), ["a"]);
}
