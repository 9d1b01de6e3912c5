//! Packed vector storage (format 2): embeddings live outside their records, several
//! to one LMDB value, so a 384-d memory no longer takes a whole 4 KiB leaf page.
//!
//! Why: LMDB keeps a node of more than about a third of a page alone on its leaf
//! (a full leaf is split in the middle), so a 1.7 KB record costs 4 KiB of disk. A
//! value above the node limit (about half a page) goes to overflow pages, which are
//! exactly `ceil((16 + size) / page)` pages: a *group* of `n` same-sized vectors
//! fills those pages almost completely (five 384-d vectors in two pages).
//!
//! Layout (`VECTORS_DB`, little-endian values, big-endian keys so groups sort):
//!
//! ```text
//! key   namespace ++ 0x00 ++ u32 BE dim ++ u64 BE group
//! value u64 occupancy bitmap (bit i: slot i in use) ++ n * (dim * f32)
//! ```
//!
//! A group holds one namespace's vectors of one dimension only (one tenant never
//! shares a value with another). `VECTOR_FREE_DB` has an empty entry under the same
//! key for every group with a free slot, so a put finds room with one cursor step.
//! A record refers to its vector by `slot_ref = group << 8 | slot`; the vector and
//! its record are written in the same transaction, so they commit together.

use crate::error::{CoreError, Result};
use crate::store::env::RawDb;
use heed::{RoTxn, RwTxn};

/// Bytes of a group's occupancy bitmap.
const BITMAP: usize = 8;
/// Most slots in one group (bits of the bitmap).
const MAX_SLOTS: usize = 64;
/// Most pages one group may take: larger groups pack slightly better but make every
/// single put copy more.
const MAX_PAGES: usize = 16;
/// A group size within this factor of the best bytes per vector is good enough; the
/// smallest such group is chosen (less to copy per put).
const SLACK: f64 = 1.08;
/// LMDB's page header, which an overflow run also pays once.
const PAGE_HEADER: usize = 16;

/// How many vectors of `slot_bytes` one group holds, for LMDB pages of `page` bytes.
///
/// Small vectors share an ordinary leaf value (64 to a group); larger ones take the
/// overflow run whose bytes per vector is within `SLACK` of the best (measured with
/// `bench/storage_bench.py`: 5 for 384-d, 1 638 B per vector).
pub fn slots_per_group(slot_bytes: usize, page: usize) -> usize {
    if BITMAP + MAX_SLOTS * slot_bytes <= page / 4 {
        return MAX_SLOTS;
    }
    let cost = |n: usize| {
        let pages = (PAGE_HEADER + BITMAP + n * slot_bytes).div_ceil(page);
        (pages <= MAX_PAGES).then(|| (pages * page) as f64 / n as f64)
    };
    let best = (1..=MAX_SLOTS).filter_map(cost).fold(f64::INFINITY, f64::min);
    (1..=MAX_SLOTS)
        .find(|&n| cost(n).is_some_and(|c| c <= best * SLACK) && BITMAP + n * slot_bytes > page / 2)
        .or_else(|| (1..=MAX_SLOTS).find(|&n| cost(n).is_some_and(|c| c <= best * SLACK)))
        .unwrap_or(1)
}

fn corrupt(what: &str) -> CoreError {
    CoreError::Internal(format!("corrupt vector store: {what}"))
}

/// The key of the group holding `slot_ref`, and the slot's index in it.
pub fn slot_key(ns: &str, dim: u32, slot_ref: u64) -> (Vec<u8>, u8) {
    (group_key(ns, dim, slot_ref >> 8), (slot_ref & 0xFF) as u8)
}

fn group_key(ns: &str, dim: u32, group: u64) -> Vec<u8> {
    let mut k = prefix(ns, dim);
    k.extend_from_slice(&group.to_be_bytes());
    k
}

fn prefix(ns: &str, dim: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 13);
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(&dim.to_be_bytes());
    k
}

fn group_of(key: &[u8]) -> Result<u64> {
    let tail = key.len().checked_sub(8).ok_or_else(|| corrupt("short key"))?;
    Ok(u64::from_be_bytes(key[tail..].try_into().expect("8 bytes")))
}

/// The packed vectors of one environment.
#[derive(Clone, Copy)]
pub struct Vectors {
    /// `VECTORS_DB`.
    pub groups: RawDb,
    /// `VECTOR_FREE_DB`.
    pub free: RawDb,
    /// The environment's page size.
    pub page: usize,
}

impl Vectors {
    /// The raw little-endian f32 bytes of vector `slot_ref` (`dim` floats) of
    /// namespace `ns`, borrowed from the transaction (no copy).
    pub fn get<'t>(&self, txn: &'t RoTxn, ns: &str, dim: u32, slot_ref: u64) -> Result<&'t [u8]> {
        let (group, slot) = (slot_ref >> 8, (slot_ref & 0xFF) as usize);
        let bytes = self.groups.get(txn, &group_key(ns, dim, group))?;
        let bytes = bytes.ok_or_else(|| corrupt("missing group"))?;
        if bytes.len() < BITMAP
            || bytes[..BITMAP].iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)) & (1 << slot)
                == 0
        {
            return Err(corrupt("slot not in use"));
        }
        let size = dim as usize * 4;
        let at = BITMAP + slot * size;
        bytes.get(at..at + size).ok_or_else(|| corrupt("short group"))
    }

    /// Stores `vector` (raw LE f32 bytes) in a free slot of namespace `ns`; returns
    /// its slot reference.
    pub fn insert(&self, txn: &mut RwTxn, ns: &str, vector: &[u8]) -> Result<u64> {
        let dim = (vector.len() / 4) as u32;
        let n = slots_per_group(vector.len(), self.page);
        let room = self.free.prefix_iter(txn, &prefix(ns, dim))?.next().transpose()?;
        let (group, mut bytes) = if let Some((key, _)) = room {
            let group = group_of(key)?;
            let old = self.groups.get(txn, &group_key(ns, dim, group))?;
            (group, old.ok_or_else(|| corrupt("free group missing"))?.to_vec())
        } else {
            let last = self.groups.rev_prefix_iter(txn, &prefix(ns, dim))?.next().transpose()?;
            let group = match last {
                Some((key, _)) => group_of(key)? + 1,
                None => 0,
            };
            // Full size from the start: later puts then overwrite the value in place.
            (group, vec![0; BITMAP + n * vector.len()])
        };
        let mut used = u64::from_le_bytes(bytes[..BITMAP].try_into().expect("8 bytes"));
        let slot = (0..n).find(|i| used & (1 << i) == 0).ok_or_else(|| corrupt("full group"))?;
        used |= 1 << slot;
        bytes[..BITMAP].copy_from_slice(&used.to_le_bytes());
        let at = BITMAP + slot * vector.len();
        bytes
            .get_mut(at..at + vector.len())
            .ok_or_else(|| corrupt("short group"))?
            .copy_from_slice(vector);
        let key = group_key(ns, dim, group);
        self.groups.put(txn, &key, &bytes)?;
        if (0..n).all(|i| used & (1 << i) != 0) {
            self.free.delete(txn, &key)?;
        } else {
            self.free.put(txn, &key, &[])?;
        }
        Ok(group << 8 | slot as u64)
    }

    /// Overwrites the vector in `slot_ref` (same dimension) in place; an unchanged
    /// vector (a rewrite of the same memory, a dedup merge) writes nothing.
    pub fn overwrite(&self, txn: &mut RwTxn, ns: &str, slot_ref: u64, vector: &[u8]) -> Result<()> {
        let (group, slot) = (slot_ref >> 8, (slot_ref & 0xFF) as usize);
        let key = group_key(ns, (vector.len() / 4) as u32, group);
        let old = self.groups.get(txn, &key)?.ok_or_else(|| corrupt("missing group"))?;
        let at = BITMAP + slot * vector.len();
        if old.get(at..at + vector.len()) == Some(vector) {
            return Ok(());
        }
        let mut bytes = old.to_vec();
        bytes
            .get_mut(at..at + vector.len())
            .ok_or_else(|| corrupt("short group"))?
            .copy_from_slice(vector);
        Ok(self.groups.put(txn, &key, &bytes)?)
    }

    /// Frees slot `slot_ref`; a group left empty is deleted.
    pub fn remove(&self, txn: &mut RwTxn, ns: &str, dim: u32, slot_ref: u64) -> Result<()> {
        let (group, slot) = (slot_ref >> 8, slot_ref & 0xFF);
        let key = group_key(ns, dim, group);
        let Some(old) = self.groups.get(txn, &key)? else { return Err(corrupt("missing group")) };
        let mut bytes = old.to_vec();
        let used = u64::from_le_bytes(bytes[..BITMAP].try_into().expect("8 bytes")) & !(1 << slot);
        if used == 0 {
            self.groups.delete(txn, &key)?;
            self.free.delete(txn, &key)?;
            return Ok(());
        }
        bytes[..BITMAP].copy_from_slice(&used.to_le_bytes());
        self.groups.put(txn, &key, &bytes)?;
        Ok(self.free.put(txn, &key, &[])?)
    }

    /// Every slot in use, as `(group key, slot)` (for `verify`: each must belong to
    /// exactly one record).
    pub fn used_slots(&self, txn: &RoTxn) -> Result<Vec<(Vec<u8>, u8)>> {
        let mut out = Vec::new();
        for entry in self.groups.iter(txn)? {
            let (key, bytes) = entry?;
            let used = bytes.get(..BITMAP).ok_or_else(|| corrupt("short group"))?;
            let used = u64::from_le_bytes(used.try_into().expect("8 bytes"));
            out.extend((0..64u8).filter(|i| used & (1 << i) != 0).map(|i| (key.to_vec(), i)));
        }
        Ok(out)
    }

    /// Deletes every vector of namespace `ns` (all dimensions).
    pub fn drop_namespace(&self, txn: &mut RwTxn, ns: &str) -> Result<()> {
        let mut start = ns.as_bytes().to_vec();
        start.push(0);
        let mut end = ns.as_bytes().to_vec();
        end.push(1);
        let range = (std::ops::Bound::Included(&start[..]), std::ops::Bound::Excluded(&end[..]));
        self.groups.delete_range(txn, &range)?;
        self.free.delete_range(txn, &range)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sizes_fill_their_pages() {
        // 384-d: five vectors in two pages (the figure docs/architecture.md quotes).
        assert_eq!(slots_per_group(1536, 4096), 5);
        // Tiny vectors share one small leaf value.
        assert_eq!(slots_per_group(12, 4096), 64);
        for dim in [16usize, 100, 256, 384, 512, 768, 1024, 1536, 3072] {
            let b = dim * 4;
            let n = slots_per_group(b, 4096);
            let pages = (PAGE_HEADER + BITMAP + n * b).div_ceil(4096);
            assert!((1..=MAX_SLOTS).contains(&n) && pages <= MAX_PAGES, "dim {dim}");
        }
    }
}
