//! Where the search state comes from at open, and where it goes at close: the
//! search snapshot (`search::persist`) when it provably matches LMDB, else a
//! rebuild from the records, with the reason in the `OpenReport`.
//!
//! At open, one thread reads and decodes the snapshot while this one makes its
//! pass over the record headers (LRU, TTL, counts: needed either way); then each
//! namespace's snapshot index is checked against that pass's view: same keys, same
//! attributes (`adopt`). A snapshot that fails any check is deleted before the
//! rebuild, so it is never tried again. At close, after the writer's last commit,
//! LMDB is fsynced and the snapshot streamed to the file with the id of that last
//! transaction, within a time budget (`save`).

use super::Shared;
use crate::clock::{timed, Phase};
use crate::error::Result;
use crate::search::ann::Params;
use crate::search::persist::{self, Bad, Expect};
use crate::search::{DocMeta, SearchIndex};
use crate::store::Store;
use crate::tier::state::KeyMeta;
use crate::tier::State;
use std::collections::HashMap;
use std::path::Path;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// How the engine's search state was loaded at open.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenReport {
    /// True when it came from the snapshot, false when it was rebuilt from LMDB.
    pub from_snapshot: bool,
    /// Why a snapshot was refused ("" when it was used, or when there was none:
    /// a first open, or a data directory from before snapshots).
    pub reason: String,
    /// The open's steps, in the order they ended: "header pass" (the LRU/TTL view),
    /// "snapshot map", "snapshot checksum", "snapshot decode" (on a second thread,
    /// beside the header pass), "snapshot check" (`adopt`), "rebuild" (from LMDB).
    pub phases: Vec<Phase>,
}

impl OpenReport {
    fn rebuilt(reason: String, phases: Vec<Phase>) -> OpenReport {
        OpenReport { from_snapshot: false, reason, phases }
    }
}

/// LMDB's last committed write transaction.
fn txn_id(store: &Store) -> u64 {
    store.env.info().last_txn_id as u64
}

/// The in-memory view of the store in `dir`, its search indexes from the
/// snapshot when it is valid.
pub(crate) fn load(
    dir: &Path,
    store: &Store,
    cfg: &crate::config::EngineConfig,
) -> Result<(State, OpenReport)> {
    let (analyzer, quant) = (cfg.analyzer, &cfg.vector_quantization);
    let mut phases = Vec::new();
    if !persist::path(dir).exists() {
        let state = timed(&mut phases, "rebuild", || State::load(store, analyzer, quant.clone()))?;
        return Ok((state, OpenReport::rebuilt(String::new(), phases)));
    }
    let expect = Expect {
        txn_id: txn_id(store),
        analyzer,
        params: Params::default(),
        quantization: quant.clone(),
    };
    let (state, snapshot) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut read_phases = Vec::new();
            let read = persist::read(dir, &expect, &mut read_phases);
            (read, read_phases)
        });
        let state = timed(&mut phases, "header pass", || {
            State::load_headers(store, analyzer, quant.clone())
        });
        let snapshot = reader.join().map_or_else(
            |_| Err(Bad("the snapshot reader panicked".into())),
            |(read, read_phases)| {
                phases.extend(read_phases);
                read
            },
        );
        (state, snapshot)
    });
    let mut state = state?;
    let adopted = timed(&mut phases, "snapshot check", || {
        snapshot
            .and_then(|s| s.ok_or_else(|| Bad("the search snapshot vanished".into())))
            .and_then(|spaces| adopt(&mut state, spaces))
    });
    match adopted {
        Ok(()) => Ok((state, OpenReport { from_snapshot: true, reason: String::new(), phases })),
        Err(Bad(reason)) => {
            persist::discard(dir);
            drop(state);
            let state =
                timed(&mut phases, "rebuild", || State::load(store, analyzer, quant.clone()))?;
            Ok((state, OpenReport::rebuilt(reason, phases)))
        }
    }
}

/// A key's filter and scoring attributes, from what its record header said.
fn doc_meta(m: &KeyMeta) -> DocMeta {
    DocMeta {
        tier: m.tier.number(),
        importance: m.importance,
        created_ms: m.created_ms,
        last_access_ms: m.last_access_ms,
        access_count: m.access_count,
        ln_accesses: (m.access_count as f32).ln_1p(),
        expires_at_ms: m.expires_at_ms,
    }
}

/// Gives each namespace its snapshot index, after checking that it indexes
/// exactly the namespace's keys, with the attributes their records hold.
///
/// The check compares two order-independent digests (`persist::entry_digest`),
/// one summed over the snapshot's slots and one over the header pass's view: two
/// sequential passes. Looking every LMDB key up in the snapshot's key map, and
/// setting its attributes there, cost a random memory access per key: at 1 000 000
/// memories a quarter of the open's CPU (perf). Equal digests mean the snapshot
/// already holds each key's attributes, so nothing is set.
fn adopt(state: &mut State, spaces: Vec<(String, SearchIndex)>) -> std::result::Result<(), Bad> {
    let mut by_name: HashMap<String, SearchIndex> = spaces.into_iter().collect();
    let ids: Vec<u32> = state.namespaces().iter().map(|n| n.id).collect();
    for id in ids {
        let ns = state.by_id(id);
        let Some(index) = by_name.remove(&*ns.name) else {
            if ns.keys.is_empty() {
                continue;
            }
            return Err(Bad(format!("namespace {:?} is not in the snapshot", ns.name)));
        };
        if index.len() != ns.keys.len() {
            return Err(Bad(format!(
                "namespace {:?}: {} memories in the snapshot, {} in LMDB",
                ns.name,
                index.len(),
                ns.keys.len()
            )));
        }
        let lmdb = ns
            .keys
            .iter()
            .map(|(key, meta)| persist::entry_digest(key, &doc_meta(meta)))
            .fold(0, u64::wrapping_add);
        if lmdb != index.key_digest() {
            return Err(Bad(format!(
                "namespace {:?}: the snapshot's keys or their attributes differ from LMDB's",
                ns.name
            )));
        }
        ns.index = index;
    }
    match by_name.into_iter().find(|(_, ix)| !ix.is_empty()) {
        Some((name, _)) => Err(Bad(format!("namespace {name:?} is in the snapshot, not in LMDB"))),
        None => Ok(()),
    }
}

/// What the close did with the search snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct CloseReport {
    /// The snapshot file's size; 0 when none was written.
    pub bytes: u64,
    /// Seconds the snapshot took (LMDB's fsync included), written or abandoned.
    pub seconds: f64,
    /// Why no snapshot was written ("" when it was): over its time budget, or an
    /// I/O error. The next open then rebuilds (or uses an older snapshot that is
    /// still valid because nothing was committed since).
    pub skipped: String,
    /// The close's steps: "writer stop" (its last commit), "lmdb fsync", "snapshot
    /// write" (encoding and writing, to the page cache: no fsync), "state release"
    /// (`release`), "lmdb close" (waiting for calls in flight).
    pub phases: Vec<Phase>,
}

/// Writes the snapshot of everything `shared` holds, within `budget` when one is
/// given (`Some(ZERO)`: none is written); call once the writer has stopped, so that
/// no commit can follow the transaction it names.
///
/// The budget bounds a shutdown: a snapshot written past a container's grace
/// period is killed anyway, and a killed write costs the next start a rebuild on
/// top of the time it wasted. It covers the LMDB fsync, which cannot be cut short
/// (checked after it), and the streamed encode, checked at every 1 MiB written.
pub(crate) fn save(
    dir: &Path,
    shared: &Shared,
    budget: Option<Duration>,
    mut phases: Vec<Phase>,
) -> CloseReport {
    let start = crate::clock::monotonic();
    let deadline = budget.map(|b| start + b);
    let result = if budget == Some(Duration::ZERO) {
        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "a time budget of 0"))
    } else {
        write_snapshot(dir, shared, deadline, &mut phases)
    };
    let seconds = crate::clock::since(start).as_secs_f64();
    let (bytes, skipped) = match result {
        Ok(bytes) => (bytes, String::new()),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            let within = budget.unwrap_or_default().as_secs_f64();
            (0, format!("not written within its time budget of {within} s"))
        }
        Err(e) => (0, format!("write failed: {e}")),
    };
    CloseReport { bytes, seconds, skipped, phases }
}

fn write_snapshot(
    dir: &Path,
    shared: &Shared,
    deadline: Option<Instant>,
    phases: &mut Vec<Phase>,
) -> std::io::Result<u64> {
    timed(phases, "lmdb fsync", || shared.store.env.force_sync()).map_err(std::io::Error::other)?;
    if deadline.is_some_and(|d| crate::clock::monotonic() >= d) {
        return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "after the LMDB fsync"));
    }
    let state = shared.state.read().expect("state lock");
    let spaces = state.namespaces();
    let spaces: Vec<(&str, &SearchIndex)> = spaces.iter().map(|n| (&*n.name, &n.index)).collect();
    let (txn, analyzer) = (txn_id(&shared.store), shared.cfg.analyzer);
    timed(phases, "snapshot write", || {
        persist::write(dir, txn, analyzer, spaces.into_iter(), deadline)
    })
}

/// Drops `shared`. When that was its last handle, the in-memory view is freed on a
/// thread of its own: at 1 000 000 memories it is gigabytes in millions of
/// allocations, about 1 CPU second to free (seconds of wall time on a loaded
/// machine), which a shutdown need not wait for (the process exits next) and a
/// reopen in the same process does not depend on. With calls still in flight (they
/// hold handles) the last of them frees it, as before.
pub(crate) fn release(shared: std::sync::Arc<Shared>) {
    match std::sync::Arc::try_unwrap(shared) {
        Ok(shared) => {
            let state = shared.state.into_inner().unwrap_or_else(PoisonError::into_inner);
            // If the thread cannot be started, the closure, and the state, is dropped
            // here instead.
            let _ =
                std::thread::Builder::new().name("memd-release".into()).spawn(move || drop(state));
        }
        Err(shared) => drop(shared),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;
    use crate::search::DocInput;
    use std::sync::Arc;

    fn meta(tier: Tier, importance: f32, access_count: u64) -> KeyMeta {
        KeyMeta {
            tier,
            priority: 0,
            importance,
            last_access_ms: 2_000 + access_count,
            access_count,
            expires_at_ms: 0,
            bytes: 64,
            reads: Vec::new(),
            dirty: false,
            created_ms: 1_000,
            text_hash: 0,
            value_raw: 0,
            value_stored: 0,
            offloaded: false,
            slot: crate::tier::state::NO_SLOT,
        }
    }

    /// The header pass's view: namespace "a" with `keys`.
    fn state(keys: &[(&str, KeyMeta)]) -> State {
        let mut state = State::default();
        let id = state.ensure("a").id;
        for (key, m) in keys {
            state.insert(id, Arc::from(*key), m.clone());
        }
        state
    }

    /// A snapshot's index of namespace "a" holding `keys`.
    fn snapshot(keys: &[(&str, KeyMeta)]) -> Vec<(String, SearchIndex)> {
        let mut index = SearchIndex::default();
        for (key, m) in keys {
            let doc = DocInput {
                text: key,
                context: "",
                embedding: None,
                tags: &[],
                metadata: &[],
                meta: doc_meta(m),
            };
            index.upsert(&Arc::from(*key), &doc);
        }
        vec![("a".to_owned(), index)]
    }

    #[test]
    fn a_snapshot_is_adopted_only_with_the_same_keys_and_attributes() {
        let keys = [("k1", meta(Tier::ShortTerm, 0.5, 0)), ("k2", meta(Tier::LongTerm, 0.25, 3))];
        let mut ok = state(&keys);
        assert_eq!(adopt(&mut ok, snapshot(&keys)), Ok(()));
        assert_eq!(ok.namespace("a").map(|ns| ns.index.len()), Some(2));

        let mut changed = keys.clone();
        changed[1].1.access_count = 4; // one read more in LMDB than in the snapshot
        let Err(Bad(why)) = adopt(&mut state(&changed), snapshot(&keys)) else {
            panic!("an attribute differs")
        };
        assert!(why.contains("differ from LMDB"), "{why}");
        changed[1].1 = meta(Tier::Archive, 0.25, 3);
        assert!(adopt(&mut state(&changed), snapshot(&keys)).is_err(), "a tier differs");

        let renamed = [keys[0].clone(), ("k3", keys[1].1.clone())];
        assert!(adopt(&mut state(&renamed), snapshot(&keys)).is_err(), "a key differs");
        assert!(adopt(&mut state(&keys[..1]), snapshot(&keys)).is_err(), "a key is missing");
        assert!(adopt(&mut state(&keys), snapshot(&keys[..1])).is_err(), "a key is extra");
    }
}
