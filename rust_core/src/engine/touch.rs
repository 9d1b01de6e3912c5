//! Access statistics and promotion on read in cluster mode: reads record their
//! accesses in a pending buffer; a partition's owner turns the buffer into `touch`
//! log entries (`touch_wire.rs`) with its promotion decisions; every replica, the
//! owner included, applies them (`Op::Touch`).
//!
//! # Why
//!
//! On a single node a read updates the memory's access count, last access time and
//! LRU position in memory (the writer flushes them to the records later) and may
//! promote it. In cluster mode a read on the owner alone must not change anything a
//! replica holds, or the replicas' bytes and eviction orders drift apart; with
//! `EngineConfig::deferred_access` the read only records what it would have done.
//! Promotion by frequency depends on `KeyMeta::reads`, the recent read times, which
//! live in memory only: a replica that restarted has none, so a replica deciding by
//! itself could decide differently. The owner therefore decides, and the entry
//! carries the decision (`promote_from`); replicas apply it and never re-decide.
//!
//! # Algorithm
//!
//! - Recording (`PendingAccess::record`, the read's `now_ms`): per (namespace, key) the
//!   number of reads and the times of the last `promote_min_reads` of them. Bounded
//!   by `MAX_PENDING_KEYS` keys: beyond it, reads of other keys are dropped (and
//!   counted) until the owner's next entry empties the buffer.
//! - Taking (`Engine::take_touches`, on the owner, one partition's namespaces): up to
//!   `max_keys` keys leave the buffer, in (namespace, key) byte order. For each key
//!   still present, the owner replays its read times on a copy of `KeyMeta::reads`
//!   exactly as `State::touch` would, and decides a promotion as a single node's read
//!   would (`read::promotion`): importance above `promote_importance`, or
//!   `promote_min_reads` reads within the window, and not in WORKING.
//! - Applying (`apply`, in the writer's transaction with the entry's mark): for each
//!   key that still exists (one deleted meanwhile is skipped, alike everywhere), the
//!   earlier reads are counted, then each carried time is a `State::touch` (LRU
//!   position, access count, the search index's statistics, recent reads); then the
//!   decided promotions that still hold (the memory is still in `promote_from`) move
//!   one tier up as a single node's would, capacity enforced; last, every pending
//!   access statistic is written into its record, so the records and the mark commit
//!   together.
//!
//! A key promotes at most one tier per entry (a single node could promote twice
//! within one entry's reads); the owner's read replies show the statistics as of the
//! last applied entry.

use super::apply::{self, Op, Promotion, Reply};
use super::touch_wire::{self, KeyAccess, TouchEntry, TouchNamespace};
use super::Engine;
use crate::config::EngineConfig;
use crate::error::Result;
use crate::model::Tier;
use crate::tier::migrate::Txn;
use crate::tier::state::remember_read;
use crate::tier::KeyMeta;
use crate::validate;
use prost::Message;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most keys waiting in the buffer; reads of further keys are dropped until the next
/// entry (a memory's statistics are approximate, never a lost write).
pub const MAX_PENDING_KEYS: usize = 200_000;

/// Reads of one memory not logged yet.
#[derive(Debug, Default)]
struct Pending {
    count: u64,
    /// The last `promote_min_reads` read times, in the order recorded.
    times: Vec<u64>,
}

#[derive(Debug, Default)]
struct Buffer {
    spaces: HashMap<String, HashMap<String, Pending>>,
    keys: usize,
    dropped: u64,
}

/// One namespace's reads taken out of the buffer: (name, [(key, reads)]).
type Taken = (String, Vec<(String, Pending)>);

/// Reads recorded by a deferred-access engine, waiting for the owner's entry.
#[derive(Debug, Default)]
pub(crate) struct PendingAccess(Mutex<Buffer>);

impl PendingAccess {
    /// Records one read of each of `keys` (hits of one read) at `now_ms`.
    pub(crate) fn record(&self, ns: &str, keys: &[String], now_ms: u64, reads_kept: usize) {
        let mut buf = self.0.lock().expect("pending lock");
        let Buffer { spaces, keys: total, dropped } = &mut *buf;
        if !spaces.contains_key(ns) && *total >= MAX_PENDING_KEYS {
            *dropped += keys.len() as u64;
            return;
        }
        let space = spaces.entry(ns.to_owned()).or_default();
        for key in keys {
            if !space.contains_key(key.as_str()) {
                if *total >= MAX_PENDING_KEYS {
                    *dropped += 1;
                    continue;
                }
                *total += 1;
            }
            let p = space.entry(key.clone()).or_default();
            p.count += 1;
            if p.times.len() == reads_kept.max(1) {
                p.times.remove(0);
            }
            p.times.push(now_ms);
        }
    }

    /// Takes up to `max` keys of `names` (sorted by name, then key); `more` when
    /// some of theirs are left.
    fn take(&self, names: &[String], max: usize) -> (Vec<Taken>, bool) {
        let mut buf = self.0.lock().expect("pending lock");
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort_unstable();
        let (mut out, mut room, mut more) = (Vec::new(), max, false);
        for name in sorted {
            let Some(space) = buf.spaces.get_mut(name.as_str()) else { continue };
            if room == 0 {
                more = true;
                break;
            }
            let mut keys: Vec<String> = space.keys().cloned().collect();
            keys.sort_unstable();
            keys.truncate(room);
            let taken: Vec<(String, Pending)> =
                keys.into_iter().filter_map(|k| space.remove_entry(&k)).collect();
            let left = space.len();
            if left == 0 {
                buf.spaces.remove(name.as_str());
            }
            room -= taken.len();
            buf.keys -= taken.len();
            more |= left > 0;
            out.push((name.clone(), taken));
        }
        (out, more)
    }

    /// Forgets the reads of namespaces `keep` says are gone (dropped since the read),
    /// which no entry would ever take.
    fn forget(&self, keep: impl Fn(&str) -> bool) {
        let mut buf = self.0.lock().expect("pending lock");
        let gone: Vec<String> = buf.spaces.keys().filter(|ns| !keep(ns)).cloned().collect();
        for ns in gone {
            if let Some(space) = buf.spaces.remove(&ns) {
                buf.keys -= space.len();
            }
        }
    }

    /// `(keys waiting, reads dropped since open)`.
    fn counts(&self) -> (usize, u64) {
        let buf = self.0.lock().expect("pending lock");
        (buf.keys, buf.dropped)
    }
}

/// What `Engine::take_touches` took: the entry's payload, its keys, and whether
/// more are waiting for the same namespaces.
#[derive(Debug)]
pub struct TakenTouches {
    /// A serialized `memd.v1.TouchEntry`.
    pub payload: Vec<u8>,
    /// Keys it carries.
    pub keys: usize,
    /// Promotions it carries.
    pub promotions: usize,
    /// More keys of these namespaces are waiting.
    pub more: bool,
}

/// The owner's promotion decision for a memory read at `times` (module docs).
fn decide(meta: &KeyMeta, times: &[u64], cfg: &EngineConfig) -> Option<(Tier, Promotion)> {
    meta.tier.warmer()?;
    if meta.importance > cfg.promote_importance {
        return Some((meta.tier, Promotion::Importance));
    }
    let kept = cfg.promote_min_reads.max(1) as usize;
    let (mut reads, mut last) = (meta.reads.clone(), meta.last_access_ms);
    for &t in times {
        last = last.max(t);
        remember_read(&mut reads, last, kept, cfg.promote_window_ms);
    }
    (reads.len() >= kept).then_some((meta.tier, Promotion::Frequency))
}

impl Engine {
    /// Cluster mode's owner: takes up to `max_keys` pending accesses of the
    /// namespaces `names` (one partition's) as a `touch` entry with the owner's
    /// promotion decisions (module docs); `None` when none are waiting. Accesses of
    /// memories gone since their read are left out.
    pub fn take_touches(&self, names: &[String], max_keys: usize) -> Result<Option<TakenTouches>> {
        let shared = self.shared_quietly()?;
        let max = max_keys.clamp(1, touch_wire::MAX_ENTRY_KEYS);
        let (taken, more) = shared.pending.take(names, max);
        let state = shared.state.read().expect("state lock");
        shared.pending.forget(|ns| state.namespace(ns).is_some());
        let (mut entry, mut keys, mut promotions) = (TouchEntry::default(), 0, 0);
        for (name, accesses) in taken {
            let Some(space) = state.namespace(&name) else { continue };
            let mut out = TouchNamespace { namespace: name, accesses: Vec::new() };
            for (key, mut p) in accesses {
                let Some(meta) = space.keys.get(key.as_str()) else { continue };
                p.times.sort_unstable();
                let promote = decide(meta, &p.times, &shared.cfg);
                promotions += usize::from(promote.is_some());
                out.accesses.push(KeyAccess {
                    key,
                    count: p.count,
                    times_ms: p.times,
                    promote_from: promote.map_or(0, |(tier, _)| i32::from(tier.number())),
                    promote_for_importance: matches!(promote, Some((_, Promotion::Importance))),
                });
            }
            keys += out.accesses.len();
            if !out.accesses.is_empty() {
                entry.namespaces.push(out);
            }
        }
        if entry.namespaces.is_empty() {
            return Ok(None);
        }
        Ok(Some(TakenTouches { payload: entry.encode_to_vec(), keys, promotions, more }))
    }

    /// Applies a `touch` entry's payload at `now_ms` in one transaction (with the
    /// caller's mark): `(memories touched, memories promoted)`.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` for a payload that does not decode or check out
    /// (`touch_wire::decode`) or names an invalid namespace or key; nothing changes.
    pub fn touch(&self, payload: &[u8], now_ms: u64) -> Result<(u64, u64)> {
        let shared = self.shared_quietly()?;
        let entry = touch_wire::decode(payload, shared.cfg.promote_min_reads.max(1) as usize)?;
        for ns in &entry.namespaces {
            validate::namespace(&ns.namespace, &shared.cfg.limits)?;
            for a in &ns.accesses {
                validate::key(&a.key, &shared.cfg.limits, false)?;
            }
        }
        let Reply::Touched(touched, promoted) =
            shared.submit(Op::Touch { entry: Box::new(entry), now_ms })?
        else {
            unreachable!("touch replies Touched")
        };
        Ok((touched, promoted))
    }

    /// `(keys waiting for the owner's next touch entry, reads dropped since open
    /// because the buffer was full)`.
    pub fn pending_touches(&self) -> Result<(usize, u64)> {
        Ok(self.shared_quietly()?.pending.counts())
    }
}

/// Applies a touch entry inside the writer's transaction (module docs).
pub(super) fn apply(txn: &mut Txn, entry: &TouchEntry, now_ms: u64) -> Result<Reply> {
    let kept = txn.cfg.promote_min_reads.max(1) as usize;
    let window = txn.cfg.promote_window_ms;
    let (mut touched, mut promoted) = (0u64, 0u64);
    for ns in &entry.namespaces {
        let Some(ns_id) = txn.state.namespace(&ns.namespace).map(|s| s.id) else { continue };
        for a in &ns.accesses {
            touched +=
                u64::from(txn.state.touch_many(ns_id, &a.key, a.count, &a.times_ms, kept, window));
        }
        let decided: Vec<(String, Tier, Promotion)> = ns
            .accesses
            .iter()
            .filter_map(|a| {
                let why = if a.promote_for_importance {
                    Promotion::Importance
                } else {
                    Promotion::Frequency
                };
                Some((a.key.clone(), a.promotion()?, why))
            })
            .collect();
        if !decided.is_empty() {
            let Reply::Promoted(tiers) = apply::promote(txn, &ns.namespace, &decided, now_ms)?
            else {
                unreachable!("promote replies Promoted")
            };
            promoted += tiers.iter().flatten().count() as u64;
        }
    }
    apply::flush_access(txn)?;
    Ok(Reply::Touched(touched, promoted))
}
