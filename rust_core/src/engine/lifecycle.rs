//! A lifecycle pass: policies and consolidation over every live memory.
//!
//! # Algorithm
//!
//! A namespace is walked in key order in batches of `SCAN_BATCH` records. Each batch
//! is *planned* in the caller's thread on a read transaction under the state's read
//! lock (held for one batch only, so reads and writes interleave): every live memory
//! is turned into a `Subject` (tier, importance, times and access count from the
//! in-memory view, which is newer than the record; the category from the record
//! when a policy needs it) and `lifecycle::decide` says what to do with it.
//!
//! The batch's decisions are then *applied* by the writer in one transaction per
//! `APPLY_BATCH` actions (`apply::lifecycle`), which decides again for each memory
//! and skips the ones whose decision changed in between (read, rewritten, deleted).
//! A dry run stops after planning, so it reports exactly what a real run on the same
//! state does. Each memory is visited once per pass (keys do not move), and an
//! applied action makes its own rule stop matching (a consolidated memory is no
//! longer `SHORT_TERM`, a refreshed one no longer idle), so passes do not repeat work.
//!
//! Cost: one header decode and one hash lookup per memory, plus a record read per
//! applied move (to rewrite and verify it). `bench/lifecycle_bench.py` measures it.
//!
//! A pass is background work: each plan and each apply batch is one bounded step
//! (`SCAN_BATCH` records under the read lock, `APPLY_BATCH` actions per write
//! transaction, so the writer holds the state's write lock briefly), and after each
//! step the pass pauses while requests are being served (`pace.rs`), so that it
//! takes a small share of a busy daemon's CPU and the whole of an idle one's.

use crate::engine::apply::{Op, Reply};
use crate::engine::{Engine, Shared};
use crate::error::{CoreError, Result};
use crate::lifecycle::{decide, retention, Decision, Jobs, Subject, Verdict};
use crate::model::Tier;
use crate::store::{codec, keys};
use crate::validate;
use std::ops::Bound;

/// Records planned per read-lock hold: every Retrieve waits for it (recording an
/// access takes the write lock), so it is kept to about a millisecond.
const SCAN_BATCH: usize = 1024;
/// Actions applied per write transaction: small enough that the writer holds the
/// state's write lock (which readers wait for) about a millisecond at a time.
const APPLY_BATCH: usize = 256;
/// Most actions one pass may report.
pub const MAX_ACTIONS: usize = 1_000_000;

/// What a pass should do.
#[derive(Clone, Debug)]
pub struct LifecycleRequest {
    /// One namespace, or all.
    pub namespace: Option<String>,
    /// Which jobs.
    pub jobs: Jobs,
    /// Plan only.
    pub dry_run: bool,
    /// Stop after this many actions.
    pub max_actions: usize,
    /// The time.
    pub now_ms: u64,
    /// Plan the whole pass, then apply it in ONE write transaction (cluster mode: a
    /// `lifecycle` log entry, whose mark commits with it; see `pass_whole`). Needs a
    /// namespace; unpaced.
    pub single_transaction: bool,
}

/// One action of a pass.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleAction {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// `consolidate` or the policy's name.
    pub rule: String,
    /// `consolidate`, `archive`, `demote`, `delete` or `refresh`.
    pub action: &'static str,
    /// Tier before.
    pub from: Tier,
    /// Tier after; `None` when deleted.
    pub to: Option<Tier>,
    /// Retention score when evaluated.
    pub retention: f64,
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LifecycleReport {
    /// Applied actions (planned ones in a dry run).
    pub actions: Vec<LifecycleAction>,
    /// Live memories evaluated.
    pub scanned: u64,
    /// Planned actions skipped because the memory changed before they were applied.
    pub skipped: u64,
    /// `max_actions` was reached.
    pub more: bool,
    /// Other memories moved or deleted by capacity as a consequence.
    pub demoted_by_capacity: u64,
    /// `actions` counted by (rule, action), sorted: what metrics, logs and the RPC
    /// summarise, so nobody has to walk the actions again.
    pub counts: Vec<(String, &'static str, u64)>,
}

/// One planned action.
struct Planned {
    key: String,
    decision: Decision,
    from: Tier,
    retention: f64,
}

impl Engine {
    /// Runs one lifecycle pass; see the module docs.
    pub fn lifecycle(&self, req: &LifecycleRequest) -> Result<LifecycleReport> {
        let shared = self.shared_quietly()?;
        if req.max_actions == 0 || req.max_actions > MAX_ACTIONS {
            return Err(CoreError::invalid(format!("max_actions must be in 1..={MAX_ACTIONS}")));
        }
        if req.single_transaction && (req.namespace.is_none() || req.dry_run) {
            return Err(CoreError::invalid(
                "a single-transaction lifecycle pass needs one namespace and no dry run",
            ));
        }
        let names: Vec<String> = match &req.namespace {
            Some(ns) => {
                validate::namespace(ns, &shared.cfg.limits)?;
                if shared.state.read().expect("state lock").namespace(ns).is_none() {
                    return Err(CoreError::NotFound(format!("namespace {ns:?} does not exist")));
                }
                vec![ns.clone()]
            }
            None => self.namespaces()?,
        };
        let mut report = LifecycleReport::default();
        for ns in names {
            if req.single_transaction {
                pass_whole(&shared, &ns, req, &mut report)?;
                break;
            }
            pass(&shared, &ns, req, &mut report)?;
            if report.more {
                break;
            }
        }
        let mut counts = std::collections::BTreeMap::<(&str, &'static str), u64>::new();
        for a in &report.actions {
            *counts.entry((a.rule.as_str(), a.action)).or_default() += 1;
        }
        report.counts =
            counts.into_iter().map(|((rule, action), n)| (rule.to_owned(), action, n)).collect();
        Ok(report)
    }
}

fn pass(
    shared: &Shared,
    ns: &str,
    req: &LifecycleRequest,
    report: &mut LifecycleReport,
) -> Result<()> {
    let mut cursor = keys::namespace_prefix(ns);
    let mut first = true;
    loop {
        let room = req.max_actions - report.actions.len();
        let (planned, next) = shared
            .pace
            .step(|| plan(shared, ns, &cursor, first, req, room, &mut report.scanned))?;
        first = false;
        if req.dry_run {
            report.actions.extend(
                planned
                    .into_iter()
                    .map(|p| action(shared, ns, p.key, p.decision, p.from, p.retention)),
            );
        } else {
            for chunk in planned.chunks(APPLY_BATCH) {
                shared.pace.step(|| apply(shared, ns, chunk, req, report))?;
            }
        }
        if report.actions.len() >= req.max_actions {
            report.more = next.is_some();
            return Ok(());
        }
        match next {
            Some(key) => cursor = key,
            None => return Ok(()),
        }
    }
}

/// Cluster mode's pass (`LifecycleRequest::single_transaction`): plans the whole
/// namespace (at most `max_actions` actions), then applies every planned action in
/// ONE write transaction, which also records the caller's pending mark
/// (`engine/mark.rs`): the entry's effects and its sequence commit together.
///
/// Why one transaction. Every replica applies the entry at the same `now_ms` to the
/// same state, so it plans and applies the same actions. The paced pass (`pass`)
/// commits every `APPLY_BATCH` actions; a node that crashed between two of them would,
/// after its restart, re-apply the entry (its mark was not recorded) to a half-way
/// state, and a half-way state is not the state the owner planned from: a memory a
/// first batch demoted by capacity may now match another rule, and `max_actions`
/// would count only the second half, so the replica would diverge. With one
/// transaction there is no half-way state on disk: either none of the entry is there
/// (nor its mark) and re-applying it runs the same pass on the same state, or all of
/// it is, with its mark, and the entry is skipped. The transaction is submitted even
/// when nothing is planned, so the mark is always recorded.
///
/// The price: the writer holds the state's write lock for up to `max_actions`
/// actions at once (the RPC's default is 10 000), and the pass is not paced, since on
/// the owner the partition's writes wait for it anyway.
fn pass_whole(
    shared: &Shared,
    ns: &str,
    req: &LifecycleRequest,
    report: &mut LifecycleReport,
) -> Result<()> {
    let mut cursor = keys::namespace_prefix(ns);
    let mut first = true;
    let mut planned = Vec::new();
    let mut more = false;
    loop {
        let room = req.max_actions - planned.len();
        let (batch, next) = plan(shared, ns, &cursor, first, req, room, &mut report.scanned)?;
        first = false;
        planned.extend(batch);
        if planned.len() >= req.max_actions {
            more = next.is_some();
            break;
        }
        match next {
            Some(key) => cursor = key,
            None => break,
        }
    }
    apply(shared, ns, &planned, req, report)?;
    report.more = more;
    Ok(())
}

/// Plans up to `SCAN_BATCH` records after `cursor` (from it when `first`), at most
/// `room` actions; returns them and the cursor to continue from (`None`: done).
fn plan(
    shared: &Shared,
    ns: &str,
    cursor: &[u8],
    first: bool,
    req: &LifecycleRequest,
    room: usize,
    scanned: &mut u64,
) -> Result<(Vec<Planned>, Option<Vec<u8>>)> {
    let cfg = &shared.cfg.lifecycle;
    let categories = cfg.uses_categories();
    let mut end = ns.as_bytes().to_vec();
    end.push(1);
    let start = if first { Bound::Included(cursor) } else { Bound::Excluded(cursor) };
    let rtxn = shared.store.env.read_txn()?;
    let state = shared.state.read().expect("state lock");
    let Some(space) = state.namespace(ns) else { return Ok((Vec::new(), None)) };
    let mut planned = Vec::new();
    let mut last = None;
    let mut seen = 0;
    for entry in shared.store.memories.range(&rtxn, &(start, Bound::Excluded(end.as_slice())))? {
        let (db_key, record) = entry?;
        seen += 1;
        let Some((_, key)) = keys::split(db_key) else { continue };
        last = Some(db_key);
        let Some(meta) = space.keys.get(key).filter(|m| !m.is_expired(req.now_ms)) else {
            continue;
        };
        *scanned += 1;
        let category = if categories { codec::metadata_value(record, "category")? } else { None };
        let subject = Subject { tier: meta.tier, retention: meta.retention(), category };
        if let Some(decision) = decide(cfg, req.jobs, &subject, req.now_ms) {
            let retention = retention::score(&subject.retention, req.now_ms);
            planned.push(Planned { key: key.to_owned(), decision, from: meta.tier, retention });
            if planned.len() == room {
                break;
            }
        }
        if seen == SCAN_BATCH {
            break;
        }
    }
    let done = seen < SCAN_BATCH && planned.len() < room;
    Ok((planned, if done { None } else { last.map(<[u8]>::to_vec) }))
}

fn apply(
    shared: &Shared,
    ns: &str,
    chunk: &[Planned],
    req: &LifecycleRequest,
    report: &mut LifecycleReport,
) -> Result<()> {
    let planned = chunk.iter().map(|p| (p.key.clone(), p.decision)).collect();
    let op = Op::Lifecycle { ns: ns.to_owned(), planned, jobs: req.jobs, now_ms: req.now_ms };
    let Reply::Lifecycle(applied) = shared.submit(op)? else { unreachable!("lifecycle replies") };
    report.demoted_by_capacity += applied.cascaded;
    for (p, outcome) in chunk.iter().zip(applied.items) {
        match outcome {
            Some((from, retention)) => {
                report.actions.push(action(shared, ns, p.key.clone(), p.decision, from, retention));
            }
            None => report.skipped += 1,
        }
    }
    Ok(())
}

fn action(
    shared: &Shared,
    ns: &str,
    key: String,
    decision: Decision,
    from: Tier,
    retention: f64,
) -> LifecycleAction {
    let cfg = &shared.cfg.lifecycle;
    let to = match decision.verdict {
        Verdict::Move(t) => Some(t),
        Verdict::Delete => None,
        Verdict::Refresh => Some(from),
    };
    LifecycleAction {
        namespace: ns.to_owned(),
        key,
        rule: decision.rule_name(cfg).to_owned(),
        action: decision.action(cfg),
        from,
        to,
        retention,
    }
}
