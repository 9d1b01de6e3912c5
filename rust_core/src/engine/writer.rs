//! The writer thread: the only place that writes to LMDB.
//!
//! Callers (Python threads with the GIL released) send jobs over a channel and wait
//! for their reply. The writer takes every job that is waiting, applies them all in
//! ONE write transaction and commits once, then replies to each: concurrent writers
//! are group-committed, so in `sync` mode N concurrent batches cost one fsync, not N.
//! Every reply is sent only after the commit returned, so an acknowledged write is
//! on disk (sync) or in the OS page cache (nosync).
//!
//! The state lock is held while jobs are applied but released before the commit's
//! fsync, so readers recording accesses never wait for the disk.
//!
//! When no job has come for `GRAPH_IDLE`, the writer builds the namespaces' HNSW
//! graphs (`search::ann`) one bounded step at a time: the step is planned under the
//! state's read lock (searches run meanwhile) and applied under the write lock; a
//! job arriving meanwhile waits for at most that one step. A stream of writes
//! closer together than `GRAPH_IDLE` is never slowed; the graph catches up after.
//! While requests are being served, each graph step is followed by a pause in
//! proportion to it (`pace.rs`), so that searches and reads keep most of the CPU.
//!
//! If a commit fails (map full, disk full, I/O error), the transaction is aborted, the
//! in-memory view is rebuilt from LMDB (the source of truth) and, when several jobs
//! were grouped, each is retried alone so one failing batch cannot fail the others.

use crate::clock;
use crate::engine::apply::{self, Op, Reply};
use crate::engine::Shared;
use crate::error::{CoreError, Result};
use crate::store::disk;
use crate::store::keys::KeyGen;
use crate::tier::migrate::Txn;
use crate::tier::State;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// Most jobs grouped into one transaction.
const MAX_GROUP: usize = 256;

/// How long the writer waits for another job before spending time on graphs.
const GRAPH_IDLE: Duration = Duration::from_millis(2);

/// A write request and where its reply goes (`None`: nobody waits, e.g. lazy expiry).
pub struct Job {
    /// What to do.
    pub op: Op,
    /// Reply channel.
    pub reply: Option<SyncSender<Result<Reply>>>,
    /// Cluster mode: the log entry this job applies, recorded in its transaction.
    pub mark: Option<crate::store::applied::Mark>,
}

/// Messages to the writer.
pub enum Msg {
    /// Apply a job.
    Job(Job),
    /// Flush, sync and exit.
    Shutdown,
}

/// The writer loop; returns on `Shutdown` or when every sender is gone.
pub fn run(shared: &Arc<Shared>, rx: &Receiver<Msg>) {
    let mut keygen = KeyGen::default();
    let flush_every = Duration::from_millis(shared.cfg.flush_interval_ms.max(1));
    let sync_every = Duration::from_millis(shared.cfg.sync_interval_ms.max(1));
    let mut last_flush = clock::monotonic();
    let mut last_sync = clock::monotonic();
    let mut unsynced = false;
    // Loaded namespaces may need graphs; any commit may add vectors.
    let mut graph_work = true;
    let mut graph_cursor = 0u32;
    let mut last_job = clock::monotonic();
    // The next graph step waits for this (`pace.rs`).
    let mut graph_at = clock::monotonic();
    loop {
        let flush_wait = flush_every.saturating_sub(clock::since(last_flush));
        let wait = if graph_work {
            let paused = graph_at.saturating_duration_since(clock::monotonic());
            GRAPH_IDLE.saturating_sub(clock::since(last_job)).max(paused).min(flush_wait)
        } else {
            flush_wait
        };
        let mut jobs = Vec::new();
        let mut shutdown = false;
        match rx.recv_timeout(wait) {
            Ok(Msg::Job(job)) => jobs.push(job),
            Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => shutdown = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        while !shutdown && jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => jobs.push(job),
                Ok(Msg::Shutdown) => shutdown = true,
                Err(_) => break,
            }
        }
        let flush = shutdown || clock::since(last_flush) >= flush_every;
        if flush {
            last_flush = clock::monotonic();
        }
        let has_dirty = flush && !shared.state.read().expect("state lock").dirty.is_empty();
        if !jobs.is_empty() || has_dirty {
            graph_work |= !jobs.is_empty();
            if !jobs.is_empty() {
                last_job = clock::monotonic();
            }
            commit_group(shared, &mut keygen, jobs, flush);
            unsynced = true;
        } else if graph_work
            && !shutdown
            && clock::since(last_job) >= GRAPH_IDLE
            && clock::monotonic() >= graph_at
        {
            let start = clock::monotonic();
            graph_work = graph_step(shared, &mut graph_cursor);
            graph_at = clock::monotonic() + shared.pace.pause_after(clock::since(start));
        }
        let sync_due = shutdown || clock::since(last_sync) >= sync_every;
        if unsynced && sync_due && shared.cfg.durability == crate::config::Durability::NoSync {
            // A failed periodic sync is retried next period; commits are unaffected.
            let _ = shared.store.env.force_sync();
            unsynced = false;
            last_sync = clock::monotonic();
        }
        if shutdown {
            return;
        }
    }
}

fn commit_group(shared: &Arc<Shared>, keygen: &mut KeyGen, jobs: Vec<Job>, flush: bool) {
    match try_commit(shared, keygen, &jobs, flush) {
        Ok(replies) => {
            for (job, reply) in jobs.into_iter().zip(replies) {
                send(job, reply);
            }
        }
        Err(err) => {
            rebuild(shared);
            if jobs.len() == 1 {
                send(jobs.into_iter().next().expect("one job"), Err(err));
                return;
            }
            for job in jobs {
                let reply = try_commit(shared, keygen, std::slice::from_ref(&job), false);
                let reply = reply.and_then(|mut r| r.pop().expect("one reply"));
                if reply.is_err() {
                    rebuild(shared);
                }
                send(job, reply);
            }
        }
    }
}

fn send(job: Job, reply: Result<Reply>) {
    if let Some(tx) = job.reply {
        // The caller may have gone away (e.g. interrupted); its write still stands.
        let _ = tx.send(reply);
    }
}

/// Applies `jobs` in one transaction. Job-level errors that happen before the job
/// writes anything (e.g. a dimension mismatch) are returned in the job's reply; a
/// storage error aborts the whole transaction.
fn try_commit(
    shared: &Arc<Shared>,
    keygen: &mut KeyGen,
    jobs: &[Job],
    flush: bool,
) -> Result<Vec<Result<Reply>>> {
    let mut wtxn = shared.store.env.write_txn()?;
    let replies = {
        let mut state = shared.state.write().expect("state lock");
        let archive = shared.archive();
        let mut txn = Txn {
            store: &shared.store,
            wtxn: &mut wtxn,
            state: &mut state,
            cfg: &shared.cfg,
            archive: archive.as_deref(),
        };
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            let reply = apply::apply(&mut txn, keygen, &job.op);
            if let Err(
                e @ (CoreError::Storage(_) | CoreError::Capacity(_) | CoreError::Internal(_)),
            ) = &reply
            {
                return Err(e.clone());
            }
            // The entry is applied even when the op refused it (a job-level error is
            // deterministic: every replica refuses it alike), so the mark stands.
            if let Some(mark) = &job.mark {
                shared.store.put_mark(txn.wtxn, mark)?;
            }
            replies.push(reply);
        }
        // An entry of cluster mode's log (a mark) persists the access statistics its
        // effects changed (a lifecycle refresh) with its mark: a replica that crashed
        // before the periodic flush would otherwise keep older ones than the others.
        if flush || jobs.iter().any(|job| job.mark.is_some()) {
            apply::flush_access(&mut txn)?;
        }
        replies
    };
    // A full disk shows at commit, when the pages are written (see `store/disk.rs`).
    wtxn.commit().map_err(|e| disk::classify_commit(e, shared.store.env.path()))?;
    Ok(replies)
}

/// One bounded step of graph work in the next namespace that has some after
/// `cursor`; returns whether any namespace had work.
fn graph_step(shared: &Shared, cursor: &mut u32) -> bool {
    let (id, work) = {
        let state = shared.state.read().expect("state lock");
        let Some(id) = state.next_vector_work(*cursor) else { return false };
        (id, state.namespace_by_id(id).and_then(|ns| ns.index.plan_vector_work()))
    };
    *cursor = id;
    if let Some(work) = work {
        let mut state = shared.state.write().expect("state lock");
        if state.namespace_by_id(id).is_some() {
            state.by_id(id).index.apply_vector_work(work);
        }
    }
    true
}

/// Rebuilds the in-memory view after an aborted transaction.
fn rebuild(shared: &Arc<Shared>) {
    // Loading (which re-indexes every record for search) runs without the lock:
    // only this thread writes, so LMDB cannot change meanwhile, and accesses
    // recorded until the swap are carried over. If even reading fails, the old
    // view stays; a reopen rebuilds it.
    let Ok(mut fresh) =
        State::load(&shared.store, shared.cfg.analyzer, shared.cfg.vector_quantization.clone())
    else {
        return;
    };
    let mut state = shared.state.write().expect("state lock");
    let old = std::mem::take(&mut *state);
    fresh.carry_over(old);
    *state = fresh;
}
