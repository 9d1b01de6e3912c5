//! Put: storing a validated batch inside the writer's transaction, with dedup and the
//! category defaults. Every item is checked (dimension, an imported history's
//! expiry) before the first write, so a rejected atomic batch leaves no trace.
//!
//! A stored memory's times and counts are "now" for a write, or exactly its
//! `History` for an import (`NewMemory.history`, which dedup leaves alone); either
//! way its TTL counts from its last store (`updated_ms`), so an imported memory
//! expires when it would have where it came from.

use crate::config::EngineConfig;
use crate::engine::apply::{Reply, Stored};
use crate::error::{CoreError, Result};
use crate::lifecycle::dedup::text_hash;
use crate::lifecycle::{Category, NearAction};
use crate::model::{Header, History, MemoryView, NewMemory, Tier};
use crate::store::{codec, keys, keys::KeyGen};
use crate::tier::migrate::Txn;
use std::sync::Arc;

/// The first vector stored in a namespace fixes its dimension. Checked for the whole
/// batch before any write: with `atomic`, one mismatch rejects the batch; without,
/// the mismatching items are reported and skipped.
/// Items `rejected` already (`check_expired`) neither count nor fail here.
fn check_dims(
    dim: u32,
    items: &[(usize, NewMemory)],
    rejected: Vec<Option<CoreError>>,
    atomic: bool,
) -> Result<(u32, Vec<Option<CoreError>>)> {
    let mut dim = dim;
    let mut errors = Vec::with_capacity(items.len());
    for ((index, item), rejected) in items.iter().zip(rejected) {
        if rejected.is_some() {
            errors.push(rejected);
            continue;
        }
        let got = item.embedding.as_ref().map_or(0, Vec::len) as u32;
        let err = if got != 0 && dim != 0 && got != dim {
            Some(CoreError::invalid(format!(
                "item {index}: embedding has {got} dimensions; this namespace uses {dim}"
            )))
        } else {
            if dim == 0 {
                dim = got;
            }
            None
        };
        match err {
            Some(e) if atomic => return Err(e),
            e => errors.push(e),
        }
    }
    Ok((dim, errors))
}

/// Rejects the imported items whose history makes them expire at or before
/// `now_ms`: they expired before they arrived, and stored they could only push live
/// memories out of a full tier. With `atomic`, the first one rejects the batch.
fn check_expired(
    txn: &Txn,
    ns: &str,
    items: &[(usize, NewMemory)],
    now_ms: u64,
    atomic: bool,
) -> Result<Vec<Option<CoreError>>> {
    let space = txn.state.namespace(ns);
    let mut errors = Vec::with_capacity(items.len());
    for (index, item) in items {
        if item.history.is_none() {
            errors.push(None);
            continue;
        }
        let stored = space.and_then(|s| s.keys.get(item.key.as_str()));
        let old_tier = stored.filter(|m| !m.is_expired(now_ms)).map(|m| m.tier);
        let tier = item.tier.or(old_tier).unwrap_or(txn.cfg.default_tier);
        let at = expiry(item, ttl_of(txn.cfg, category(txn.cfg, item), item, tier), now_ms);
        if at == 0 || at > now_ms {
            errors.push(None);
            continue;
        }
        let e = CoreError::invalid(format!(
            "item {index}: its history has it expire at {at}, not after the server's clock \
             ({now_ms}): it expired before it arrived"
        ));
        if atomic {
            return Err(e);
        }
        errors.push(Some(e));
    }
    Ok(errors)
}

/// The category defaults (seed 002) of an item, from its metadata `category`.
fn category<'c>(cfg: &'c EngineConfig, item: &NewMemory) -> Option<&'c Category> {
    let name = item.metadata.iter().find(|(k, _)| k == "category").map(|(_, v)| v)?;
    cfg.lifecycle.category(name)
}

/// The TTL an item gets in `tier`: its own, else its category's retention, else the
/// tier's default (0: never expires).
fn ttl_of(cfg: &EngineConfig, category: Option<&Category>, item: &NewMemory, tier: Tier) -> u64 {
    let category_ttl = category.map(|c| c.retention_ms).filter(|&ms| ms > 0);
    item.ttl_ms.or(category_ttl).unwrap_or(cfg.tier(tier).default_ttl_ms)
}

/// When an item stored now with `ttl_ms` expires (0: never): its history's explicit
/// expiry, else the TTL counted from its last store, which is now unless its history
/// says when.
fn expiry(item: &NewMemory, ttl_ms: u64, now_ms: u64) -> u64 {
    match item.history {
        Some(History { expires_at_ms: Some(at), .. }) => at,
        _ if ttl_ms == 0 => 0,
        history => history.map_or(now_ms, |h| h.updated_ms).saturating_add(ttl_ms),
    }
}

/// Stores a batch (`Op::Put`).
pub(super) fn put(
    txn: &mut Txn,
    keygen: &mut KeyGen,
    ns: &str,
    items: &[(usize, NewMemory)],
    now_ms: u64,
    atomic: bool,
    model: Option<&str>,
) -> Result<Reply> {
    let existing = txn.state.namespace(ns).map(|space| space.dim);
    // Check before creating anything, so a rejected batch leaves no trace.
    let expired = check_expired(txn, ns, items, now_ms, atomic)?;
    let (dim, errors) = check_dims(existing.unwrap_or(0), items, expired, atomic)?;
    super::embed::check_model(txn, ns, model, dim)?;
    let (ns_id, name) = {
        let space = txn.state.ensure(ns);
        space.dim = dim;
        (space.id, space.name.clone())
    };
    if existing != Some(dim) {
        txn.store.put_namespace(txn.wtxn, ns, dim)?;
    }
    super::embed::record_model(txn, ns, model, dim)?;
    let mut outcomes = Vec::with_capacity(items.len());
    // Whether every stored item is still where it was written: then each outcome's
    // tier is final without a lookup after the batch (`Stored::tier`).
    let mut settled = true;
    for ((_, item), error) in items.iter().zip(errors) {
        if let Some(e) = error {
            outcomes.push(Err(e));
            continue;
        }
        // `None`: a key of the client's that the state does not hold (so no record).
        let live = (!item.key.is_empty())
            .then(|| txn.state.meta_mut(ns_id, &item.key).map(|m| !m.is_expired(now_ms)));
        let adds = live != Some(Some(true));
        // Dedup is for writes: an import restores each memory as it was, under its
        // own key, so importing twice (or into a daemon whose dedup the source did not
        // have) gives the same memories.
        let deduped = adds && item.history.is_none();
        let duplicate =
            if deduped { find_duplicate(txn, ns_id, &name, item, now_ms)? } else { None };
        let stored = match duplicate {
            Some((key, true)) => {
                // The merged memory may be an earlier item of this batch.
                settled = false;
                Stored {
                    version: merge_into(txn, ns_id, &name, &key, item, now_ms)?,
                    key: key.to_string(),
                    tier: None,
                    merged: true,
                    similar_to: None,
                }
            }
            other => {
                let key = if item.key.is_empty() { keygen.next(now_ms) } else { item.key.clone() };
                let similar_to = other.map(|(similar, _)| {
                    let tier = txn.state.meta_mut(ns_id, &similar).map(|m| m.tier);
                    if let Some(tier) = tier {
                        txn.state.by_id(ns_id).counters(tier).dedup_flagged += 1;
                    }
                    similar.to_string()
                });
                let absent = live == Some(None);
                let written = put_one(txn, ns_id, &name, &key, item, now_ms, absent)?;
                // A rewrite may replace an earlier item of this batch; a demotion
                // may move one.
                settled &= !written.replaced && written.moved == 0;
                Stored {
                    key,
                    version: written.version,
                    tier: Some(written.tier),
                    merged: false,
                    similar_to,
                }
            }
        };
        outcomes.push(Ok(stored));
    }
    if !settled {
        for stored in outcomes.iter_mut().flatten() {
            stored.tier = None;
        }
    }
    Ok(Reply::Put(outcomes))
}

/// What `put_one` did.
struct Written {
    version: u64,
    /// The tier written into.
    tier: Tier,
    /// The key held a memory, now replaced.
    replaced: bool,
    /// Memories that capacity moved as a consequence.
    moved: u64,
}

/// Writes one memory under `key`; `absent` says the state was just found not to
/// hold it (skips a second lookup).
fn put_one(
    txn: &mut Txn,
    ns_id: u32,
    name: &Arc<str>,
    key: &str,
    item: &NewMemory,
    now_ms: u64,
    absent: bool,
) -> Result<Written> {
    let old_meta = if absent { None } else { txn.state.remove(ns_id, key).map(|(_, meta)| meta) };
    // The state mirrors every stored key, so a key it does not know has no record:
    // new memories (the common case) skip the B-tree lookup.
    let old = match old_meta {
        Some(_) => match txn.store.memories.get(txn.wtxn, &keys::db_key(name, key))? {
            Some(bytes) => Some(codec::decode_header(bytes)?).filter(|h| !h.is_expired(now_ms)),
            None => None,
        },
        None => None,
    };
    let tier = item.tier.or(old.as_ref().map(|h| h.tier)).unwrap_or(txn.cfg.default_tier);
    // Category defaults (seed 002) sit between the item's own values and the tier's.
    let category = category(txn.cfg, item);
    let ttl_ms = ttl_of(txn.cfg, category, item, tier);
    let importance = item
        .importance
        .or(old.as_ref().map(|h| h.importance))
        .or(category.and_then(|c| c.importance))
        .unwrap_or(0.5);
    let access_count = match (&old, &old_meta) {
        (Some(h), Some(meta)) => meta.access_count.max(h.access_count),
        (Some(h), None) => h.access_count,
        (None, _) => 0,
    };
    // An import's history replaces the bookkeeping of a write now, for a new key or
    // an existing one alike, so storing the same item twice leaves the same memory.
    let history = item.history;
    let header = Header {
        tier,
        compressed: false,
        offloaded: false,
        importance,
        priority: item.priority,
        dim: item.embedding.as_ref().map_or(0, Vec::len) as u32,
        created_ms: match history {
            Some(h) => h.created_ms,
            None => old.as_ref().map_or(now_ms, |h| h.created_ms),
        },
        updated_ms: history.map_or(now_ms, |h| h.updated_ms),
        last_access_ms: history.map_or(now_ms, |h| h.last_access_ms),
        access_count: history.map_or(access_count, |h| h.access_count),
        version: match history {
            Some(h) => h.version,
            None => old.as_ref().map_or(0, |h| h.version) + 1,
        },
        expires_at_ms: expiry(item, ttl_ms, now_ms),
        ttl_ms,
    };
    // The item's fields are encoded and indexed where they are (no copy per item).
    let memory = MemoryView {
        namespace: name,
        key,
        header: &header,
        text: &item.text,
        value: &item.value,
        embedding: item.embedding.as_deref(),
        tags: &item.tags,
        metadata: &item.metadata,
        context: &item.context,
    };
    let replaced = old_meta.is_some();
    if replaced {
        txn.write(ns_id, &memory)?;
    } else {
        txn.write_new(ns_id, &memory)?;
    }
    let moved = txn.enforce_capacity(ns_id, tier, now_ms)?;
    Ok(Written { version: header.version, tier, replaced, moved })
}

/// A live memory that `item` duplicates: `(key, merge)`, where `merge` is false for
/// a near-duplicate in flag mode. An identical text wins over a similar vector.
fn find_duplicate(
    txn: &mut Txn,
    ns_id: u32,
    name: &Arc<str>,
    item: &NewMemory,
    now_ms: u64,
) -> Result<Option<(Arc<str>, bool)>> {
    let cfg = &txn.cfg.lifecycle;
    if cfg.dedup_exact {
        let candidates = txn.state.by_id(ns_id).texts.candidates(text_hash(&item.text)).to_vec();
        for key in candidates {
            if txn.state.meta_mut(ns_id, &key).is_none_or(|m| m.is_expired(now_ms)) {
                continue;
            }
            // Equal hashes are only candidates: compare the stored text, then the
            // context: the same words in another context ("yes" to two questions)
            // are two memories.
            let record = txn.store.memories.get(txn.wtxn, &keys::db_key(name, &key))?;
            let Some(record) = record else { continue };
            if codec::text_of(record)? == item.text
                && codec::decode_searchable(record)?.context == item.context
            {
                return Ok(Some((key, true)));
            }
        }
    }
    let Some(vector) = item.embedding.as_deref().filter(|_| cfg.dedup_near_threshold > 0.0) else {
        return Ok(None);
    };
    let nearest = txn.state.by_id(ns_id).index.nearest(vector, now_ms);
    Ok(nearest
        .filter(|(_, sim)| *sim >= cfg.dedup_near_threshold)
        .map(|(key, _)| (key, cfg.dedup_near_action == NearAction::Merge)))
}

/// Merges a duplicate store into the existing memory `key`: one more access,
/// importance the larger of the two, tags merged; text, value, embedding, metadata
/// and expiry stay as they were. Returns the new version.
fn merge_into(
    txn: &mut Txn,
    ns_id: u32,
    name: &Arc<str>,
    key: &str,
    item: &NewMemory,
    now_ms: u64,
) -> Result<u64> {
    let mut m = txn
        .read(name, key)?
        .ok_or_else(|| CoreError::Internal(format!("{name}/{key} indexed but not stored")))?;
    let (_, meta) = txn
        .state
        .remove(ns_id, key)
        .ok_or_else(|| CoreError::Internal(format!("{name}/{key} stored but not indexed")))?;
    let h = &mut m.header;
    h.access_count = meta.access_count.max(h.access_count) + 1;
    h.last_access_ms = now_ms.max(meta.last_access_ms);
    h.updated_ms = now_ms;
    h.version += 1;
    h.importance = h.importance.max(item.importance.unwrap_or(0.0));
    for tag in &item.tags {
        if !m.tags.contains(tag) {
            m.tags.push(tag.clone());
        }
    }
    let (tier, version) = (m.header.tier, m.header.version);
    txn.write(ns_id, &m.view())?;
    txn.state.by_id(ns_id).counters(tier).dedup_merged += 1;
    txn.enforce_capacity(ns_id, tier, now_ms)?;
    Ok(version)
}
