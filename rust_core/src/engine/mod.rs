//! `Engine`: the public API of the core. Reads run in the caller's thread on an LMDB
//! read transaction; writes go to the single writer thread (`writer.rs`) and return
//! after their group commit. All methods take the time (`now_ms`) from the caller.

pub(crate) mod apply;
mod batch;
mod batch_wire;
mod clear;
mod embed;
mod encoded;
mod grouped;
mod keyed;
mod lifecycle;
mod lifecycle_wire;
pub mod mark;
mod pace;
mod pattern;
mod put;
mod read;
mod reopen;
mod rescore;
mod search;
mod snapshot;
pub mod snapshot_wire;
mod stats;
mod sweep;
mod tokens;
mod touch;
pub mod touch_wire;
mod transfer;
mod writer;

pub use batch::MAX_BATCH_QUERIES;
pub use keyed::{fill_keys, KeyedStore};
pub use lifecycle::{LifecycleAction, LifecycleReport, LifecycleRequest};
pub use read::ListQuery;
pub use reopen::{CloseReport, OpenReport};
pub use stats::{MapInfo, NamespaceStats, TierStats};
pub use touch::{TakenTouches, MAX_PENDING_KEYS};
pub use transfer::{Conflict, DimensionMismatch, TransferReport, TransferRequest};

use crate::config::EngineConfig;
use crate::error::{CoreError, Result};
use crate::model::{RawMemory, Tier};
use crate::store::lock::DirLock;
use crate::store::Store;
use crate::tier::State;
use crate::validate;
use apply::{Op, Reply};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use writer::{Job, Msg};

/// What the reader paths and the writer thread share.
pub(crate) struct Shared {
    /// LMDB.
    pub store: Store,
    /// Configuration.
    pub cfg: EngineConfig,
    /// In-memory view (LRU, TTL, counts, access statistics).
    /// A read-write lock: searches scan under a read lock, concurrently; the
    /// writer, and reads recording accesses, take the write lock briefly.
    pub state: RwLock<State>,
    tx: Sender<Msg>,
    /// The object-storage archive, once configured (`configure_archive`).
    archive: RwLock<Option<Arc<crate::archive::Archive>>>,
    /// When foreground calls came, so that background work yields to them.
    pub pace: pace::Pace,
    /// Reads waiting for cluster mode's `touch` entries (`deferred_access`).
    pub pending: touch::PendingAccess,
}

impl Shared {
    /// The configured archive, if any.
    pub(crate) fn archive(&self) -> Option<Arc<crate::archive::Archive>> {
        self.archive.read().expect("archive lock").clone()
    }

    /// Applies an archive write (`archive/apply.rs`) and waits for its commit.
    pub(crate) fn submit_archive(&self, op: crate::archive::apply::ArchiveOp) -> Result<u64> {
        let Reply::Count(n) = self.submit(Op::Archive(op))? else {
            unreachable!("archive ops reply Count")
        };
        Ok(n)
    }

    /// Sends a job to the writer and waits for its reply (after commit).
    fn submit(&self, op: Op) -> Result<Reply> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Job(Job { op, reply: Some(tx), mark: mark::take() }))
            .map_err(|_| CoreError::Closed("the engine is closed".into()))?;
        rx.recv().map_err(|_| CoreError::Closed("the engine closed during the call".into()))?
    }

    /// Sends a job without waiting (best-effort housekeeping such as lazy expiry).
    fn submit_detached(&self, op: Op) {
        let _ = self.tx.send(Msg::Job(Job { op, reply: None, mark: None }));
    }
}

/// Result of one item of `put_many`.
#[derive(Debug, Clone, PartialEq)]
pub struct PutResult {
    /// Stored key (generated when the item had none); empty if rejected.
    pub key: String,
    /// New version; 0 if rejected.
    pub version: u64,
    /// Tier after the whole batch; `None` if rejected or already evicted.
    pub tier: Option<Tier>,
    /// Why the item was rejected (`atomic = false` only).
    pub error: Option<CoreError>,
    /// Dedup merged the item into this existing memory (also `key`).
    pub merged_into: Option<String>,
    /// Flag mode: a near-duplicate of this memory (the item was stored anyway).
    pub similar_to: Option<String>,
}

/// A tiered memory store over one LMDB environment.
pub struct Engine {
    shared: RwLock<Option<Arc<Shared>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
    pid: u32,
    /// Held from open to close: one engine per data directory.
    lock: Mutex<Option<DirLock>>,
    /// Server-side embedders (none until `configure_embedding`).
    embedders: crate::embed::Embedders,
    /// Where the search state came from.
    opened: OpenReport,
}

impl Engine {
    /// Opens the store in `path`, rebuilding the in-memory view from LMDB. Fails
    /// with `InUse` if another engine (in any process) has the directory open.
    pub fn open(path: &Path, cfg: EngineConfig) -> Result<Engine> {
        cfg.check()?;
        std::fs::create_dir_all(path)?;
        let lock = DirLock::acquire(path)?;
        let store = Store::open(path, &cfg)?;
        let (state, opened) = reopen::load(path, &store, &cfg)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            store,
            cfg,
            state: RwLock::new(state),
            tx,
            archive: RwLock::new(None),
            pace: pace::Pace::default(),
            pending: touch::PendingAccess::default(),
        });
        let for_writer = shared.clone();
        let writer = std::thread::Builder::new()
            .name("memd-writer".into())
            .spawn(move || writer::run(&for_writer, &rx))?;
        Ok(Engine {
            shared: RwLock::new(Some(shared)),
            writer: Mutex::new(Some(writer)),
            path: path.to_path_buf(),
            pid: std::process::id(),
            lock: Mutex::new(Some(lock)),
            embedders: crate::embed::Embedders::default(),
            opened,
        })
    }

    /// How the search state was loaded at open: from the snapshot, or rebuilt
    /// (and why).
    pub fn open_report(&self) -> &OpenReport {
        &self.opened
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The engine's state for a foreground call: a client's store, read, search or
    /// other data operation, which background work (graph building, lifecycle
    /// passes) yields to for `pace::BUSY_WINDOW`.
    fn shared(&self) -> Result<Arc<Shared>> {
        let shared = self.shared_quietly()?;
        shared.pace.foreground();
        Ok(shared)
    }

    /// `shared` for calls that must not count as foreground: background work (a
    /// lifecycle pass, sweeps, `touch` entries, archive passes, flushes) that would
    /// then yield to itself, and introspection (Stats, the metrics' map info, the
    /// applied sequence) that a monitor or a client waiting on `vectors_pending`
    /// polls: counted, a poll every 50 ms kept the engine "busy" for good and the
    /// graph build at an eighth of a core.
    fn shared_quietly(&self) -> Result<Arc<Shared>> {
        if std::process::id() != self.pid {
            return Err(CoreError::Closed(
                "this engine was opened by the parent process; open a new one after fork()".into(),
            ));
        }
        let guard = self.shared.read().expect("engine lock");
        guard.clone().ok_or_else(|| CoreError::Closed("the engine is closed".into()))
    }

    /// Stores a batch; see `_core.pyi` for the `atomic` contract.
    pub fn put_many(
        &self,
        ns: &str,
        items: Vec<RawMemory>,
        now_ms: u64,
        atomic: bool,
    ) -> Result<Vec<PutResult>> {
        let shared = self.shared()?;
        let mut prepared = self.prepare_put(&shared, ns, items, now_ms, atomic)?;
        let Some(op) = prepared.op.take() else {
            // Nothing to write: in particular, no namespace is created.
            return Ok(prepared.results);
        };
        let reply = shared.submit(op)?;
        Ok(finish_put(&shared, prepared, reply))
    }

    /// Validates and embeds a batch: the per-item results so far and the `Put` op to
    /// submit (`None` when no item is valid). Errors are the batch's (nothing stored).
    fn prepare_put(
        &self,
        shared: &Shared,
        ns: &str,
        items: Vec<RawMemory>,
        now_ms: u64,
        atomic: bool,
    ) -> Result<PreparedPut> {
        let limits = &shared.cfg.limits;
        validate::namespace(ns, limits)?;
        validate::batch_len(items.len(), limits)?;
        let mut results = Vec::with_capacity(items.len());
        let mut valid = Vec::with_capacity(items.len());
        for (index, raw) in items.into_iter().enumerate() {
            let mut result = PutResult {
                key: String::new(),
                version: 0,
                tier: None,
                error: None,
                merged_into: None,
                similar_to: None,
            };
            match validate::item(raw, limits, now_ms) {
                Ok(item) => valid.push((index, item)),
                Err(e) if atomic => return Err(item_error(index, &e)),
                Err(e) => result.error = Some(item_error(index, &e)),
            }
            results.push(result);
        }
        if valid.is_empty() {
            return Ok(PreparedPut { ns: ns.to_owned(), results, indices: Vec::new(), op: None });
        }
        let model = self.embed_items(shared, ns, &mut valid)?;
        let indices: Vec<usize> = valid.iter().map(|(i, _)| *i).collect();
        let op = Op::Put { ns: ns.to_owned(), items: valid, now_ms, atomic, model };
        Ok(PreparedPut { ns: ns.to_owned(), results, indices, op: Some(op) })
    }

    /// Reads a batch: `None` for missing or expired keys. With `count_access`, each
    /// hit is recorded (LRU recency, access count) and may promote the memory.
    pub fn get_many(
        &self,
        ns: &str,
        keys: &[String],
        now_ms: u64,
        count_access: bool,
    ) -> Result<Vec<Option<crate::model::Memory>>> {
        read::get_many(&*self.shared()?, ns, keys, now_ms, count_access)
    }

    /// Deletes a batch; `true` where a live memory was removed.
    pub fn delete_many(&self, ns: &str, keys: &[String], now_ms: u64) -> Result<Vec<bool>> {
        let shared = self.shared()?;
        validate::namespace(ns, &shared.cfg.limits)?;
        validate::batch_len(keys.len(), &shared.cfg.limits)?;
        for key in keys {
            validate::key(key, &shared.cfg.limits, false)?;
        }
        let op = Op::Delete { ns: ns.to_owned(), keys: keys.to_vec(), now_ms, unchanged: None };
        let Reply::Deleted(out) = shared.submit(op)? else {
            unreachable!("delete replies Deleted")
        };
        Ok(out)
    }

    /// Deletes `keys[i]` only if its record still has the version and update time
    /// `unchanged[i]` (checked in the writer's transaction); `true` where a live
    /// memory was removed. The last step of a cross-partition move in cluster mode:
    /// a memory written since it was copied stays.
    pub fn delete_unchanged(
        &self,
        ns: &str,
        keys: &[String],
        unchanged: &[(u64, u64)],
        now_ms: u64,
    ) -> Result<Vec<bool>> {
        if keys.len() != unchanged.len() {
            return Err(CoreError::invalid("one (version, updated_ms) per key"));
        }
        let shared = self.shared()?;
        validate::namespace(ns, &shared.cfg.limits)?;
        validate::batch_len(keys.len(), &shared.cfg.limits)?;
        for key in keys {
            validate::key(key, &shared.cfg.limits, false)?;
        }
        let op = Op::Delete {
            ns: ns.to_owned(),
            keys: keys.to_vec(),
            now_ms,
            unchanged: Some(unchanged.to_vec()),
        };
        let Reply::Deleted(out) = shared.submit(op)? else {
            unreachable!("delete replies Deleted")
        };
        Ok(out)
    }

    /// One page of live memories; see `ListQuery`.
    pub fn list(&self, query: &ListQuery) -> Result<(Vec<crate::model::Memory>, String)> {
        read::list(&*self.shared()?, query)
    }

    /// The best `query.k` memories of a namespace for a query, best first; see
    /// `crate::search`. An unknown namespace has no hits.
    pub fn search(&self, query: &crate::search::SearchQuery) -> Result<Vec<crate::search::Hit>> {
        let shared = self.shared()?;
        match self.embed_query(&shared, query)? {
            Some(embedded) => search::search(&shared, &embedded),
            None => search::search(&shared, query),
        }
    }

    /// Removes at most `max` expired memories: (removed, more expired remain).
    pub fn sweep(&self, now_ms: u64, max: usize) -> Result<(u64, bool)> {
        if max == 0 {
            return Err(CoreError::invalid("max_items must be at least 1"));
        }
        let Reply::Swept(n, more) = self.shared_quietly()?.submit(Op::Sweep { now_ms, max })?
        else {
            unreachable!("sweep replies Swept")
        };
        Ok((n, more))
    }

    /// Statistics of one namespace (`Some`, validated like every namespace
    /// argument; empty if unknown) or all (`None`).
    pub fn stats(&self, ns: Option<&str>) -> Result<Vec<NamespaceStats>> {
        let shared = self.shared_quietly()?;
        if let Some(ns) = ns {
            validate::namespace(ns, &shared.cfg.limits)?;
        }
        Ok(stats::collect(&shared, ns))
    }

    /// Names of all namespaces.
    pub fn namespaces(&self) -> Result<Vec<String>> {
        let shared = self.shared_quietly()?;
        let state = shared.state.read().expect("state lock");
        Ok(state.namespaces().iter().map(|s| s.name.to_string()).collect())
    }

    /// Deletes a namespace; returns how many memories it held.
    pub fn drop_namespace(&self, ns: &str) -> Result<u64> {
        let shared = self.shared()?;
        validate::namespace(ns, &shared.cfg.limits)?;
        let Reply::Count(n) = shared.submit(Op::DropNamespace { ns: ns.to_owned() })? else {
            unreachable!("drop replies Count")
        };
        Ok(n)
    }

    /// Sets (or with `None` removes) the object-storage archive. Reads of offloaded
    /// memories need it; `archive_pass` offloads and collects through it.
    pub fn configure_archive(&self, cfg: Option<crate::archive::ArchiveConfig>) -> Result<()> {
        let archive = cfg.map(crate::archive::Archive::new).transpose()?.map(Arc::new);
        *self.shared_quietly()?.archive.write().expect("archive lock") = archive;
        Ok(())
    }

    /// One archive pass: offload what qualifies, then delete unreferenced objects
    /// (`archive/offload.rs`). Nothing happens without a configured archive.
    pub fn archive_pass(&self, now_ms: u64) -> Result<crate::archive::ArchiveReport> {
        crate::archive::run_pass(&*self.shared_quietly()?, now_ms)
    }

    /// Persists access statistics now; returns how many records were updated.
    pub fn flush(&self) -> Result<u64> {
        let Reply::Count(n) = self.shared_quietly()?.submit(Op::Flush)? else {
            unreachable!("flush replies Count")
        };
        Ok(n)
    }

    /// The last replicated-log sequence applied for `partition` (0: none); see
    /// `mark.rs`.
    pub fn applied(&self, partition: &str) -> Result<u64> {
        let shared = self.shared_quietly()?;
        let rtxn = shared.store.env.read_txn()?;
        shared.store.applied(&rtxn, partition)
    }

    /// fsyncs the environment.
    pub fn sync(&self) -> Result<()> {
        Ok(self.shared_quietly()?.store.env.force_sync()?)
    }

    /// Hot, compacted copy into directory `dir`.
    pub fn backup(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        self.shared_quietly()?.store.backup(dir)
    }

    /// LMDB map size and bytes in use.
    pub fn map_info(&self) -> Result<MapInfo> {
        let (map_size, used_bytes) = self.shared_quietly()?.store.map_usage();
        Ok(MapInfo { map_size: map_size as u64, used_bytes })
    }

    /// Flushes access statistics, stops the writer, writes the search snapshot
    /// and closes LMDB, waiting for calls in flight. Idempotent.
    pub fn close(&self) -> Result<()> {
        self.close_within(None).map(drop)
    }

    /// `close`, giving the search snapshot at most `snapshot_budget` (`reopen::save`;
    /// `None`: no limit). Returns what became of the snapshot, `None` when the engine
    /// was already closed.
    pub fn close_within(
        &self,
        snapshot_budget: Option<std::time::Duration>,
    ) -> Result<Option<CloseReport>> {
        let Some(shared) = self.shared.write().expect("engine lock").take() else {
            return Ok(None);
        };
        let mut phases = Vec::new();
        crate::clock::timed(&mut phases, "writer stop", || {
            let _ = shared.tx.send(Msg::Shutdown);
            match self.writer.lock().expect("writer lock").take() {
                Some(handle) => handle.join().map_err(|_| "the writer thread panicked"),
                None => Ok(()),
            }
        })
        .map_err(|e| CoreError::Internal(e.into()))?;
        // The writer has made its last commit: the snapshot covers everything. A
        // failed or abandoned write only costs the next open a rebuild (a
        // half-written snapshot is never renamed into place, and a torn one is
        // refused), so it does not fail the close: the report says what happened.
        let mut report = reopen::save(&self.path, &shared, snapshot_budget, phases);
        let env = shared.store.env.clone();
        crate::clock::timed(&mut report.phases, "state release", || reopen::release(shared));
        // Waits until every other handle (calls in flight) is gone, so the same
        // directory can be opened again in this process.
        crate::clock::timed(&mut report.phases, "lmdb close", || {
            env.prepare_for_closing().wait();
        });
        // Only now may another engine open the directory.
        drop(self.lock.lock().expect("lock slot").take());
        Ok(Some(report))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// A batch validated by `Engine::prepare_put`, waiting for its `Put` reply.
struct PreparedPut {
    ns: String,
    results: Vec<PutResult>,
    /// Each submitted item's index in the batch, in the op's order.
    indices: Vec<usize>,
    op: Option<Op>,
}

/// Fills a prepared batch's results from the writer's `Put` reply.
fn finish_put(shared: &Shared, prepared: PreparedPut, reply: Reply) -> Vec<PutResult> {
    let Reply::Put(outcomes) = reply else { unreachable!("put replies Put") };
    let PreparedPut { ns, mut results, indices, .. } = prepared;
    // The state's lock only when some tier is not known from the writer: taking
    // it waits for the writer's next job (another caller's batch) to be applied.
    let unsettled = outcomes.iter().any(|o| o.as_ref().is_ok_and(|s| s.tier.is_none()));
    let state = unsettled.then(|| shared.state.read().expect("state lock"));
    let space = state.as_ref().and_then(|state| state.namespace(&ns));
    for (index, outcome) in indices.into_iter().zip(outcomes) {
        let slot = &mut results[index];
        match outcome {
            Ok(stored) => {
                slot.tier = stored.tier.or_else(|| {
                    space.and_then(|s| s.keys.get(stored.key.as_str())).map(|m| m.tier)
                });
                slot.merged_into = stored.merged.then(|| stored.key.clone());
                slot.similar_to = stored.similar_to;
                slot.key = stored.key;
                slot.version = stored.version;
            }
            Err(e) => slot.error = Some(e),
        }
    }
    results
}

fn item_error(index: usize, e: &CoreError) -> CoreError {
    let message = format!("item {index}: {}", e.message());
    match e {
        CoreError::InvalidArgument(_) => CoreError::InvalidArgument(message),
        CoreError::Capacity(_) => CoreError::Capacity(message),
        other => other.clone(),
    }
}
