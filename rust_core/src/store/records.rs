//! Whole memories in and out of the store: a record in `memories` together with its
//! vector in the packed vector store (`vectors.rs`). Invariant: every write or
//! delete of a record with a vector goes through here, in the record's own write
//! transaction, so a vector slot is in use exactly while a record refers to it.

use crate::error::Result;
use crate::model::{Memory, MemoryView};
use crate::store::codec::{self, VectorField};
use crate::store::{keys, Store};
use heed::{RoTxn, RwTxn};
use std::sync::Arc;

/// The stored vector of a format-2 record: `(dim, slot_ref)`.
fn slot_of(record: &[u8]) -> Result<Option<(u32, u64)>> {
    Ok(match codec::vector_field(record)? {
        Some(VectorField::Slot(slot)) => Some((codec::decode_header(record)?.dim, slot)),
        _ => None,
    })
}

/// An embedding as little-endian f32 bytes (the stored form).
fn le_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Store {
    /// The stored f32 embedding of `record` (of namespace `ns`) as little-endian
    /// bytes, borrowed from the transaction, in either record format; `None`
    /// without one. The cheap way to reach a record's full-precision vector.
    pub fn embedding_bytes<'t>(
        &self,
        txn: &'t RoTxn,
        ns: &str,
        record: &'t [u8],
    ) -> Result<Option<&'t [u8]>> {
        match codec::vector_field(record)? {
            None => Ok(None),
            Some(VectorField::Inline(raw)) => Ok(Some(raw)),
            Some(VectorField::Slot(slot)) => {
                let dim = codec::decode_header(record)?.dim;
                self.vectors.get(txn, ns, dim, slot).map(Some)
            }
        }
    }

    /// Decodes `record` with its embedding when `embedding` is set (see
    /// `codec::decode_with`), fetching a format-2 vector from the vector store.
    pub fn decode(
        &self,
        txn: &RoTxn,
        ns: Arc<str>,
        key: String,
        record: &[u8],
        embedding: bool,
    ) -> Result<Memory> {
        let mut m = codec::decode_with(ns, key, record, embedding)?;
        if embedding && m.embedding.is_none() && m.header.dim != 0 {
            m.embedding = self.embedding_bytes(txn, &m.namespace, record)?.map(codec::floats);
        }
        Ok(m)
    }

    /// Writes `m` (in format 2) over whatever record its key had, and its vector:
    /// into the old record's slot when the dimension is unchanged, else into a
    /// fresh slot, the old one freed. Without `replacing` the caller knows the key
    /// has no record, and the lookup of the old one is skipped. Returns the
    /// record's bytes.
    pub fn put_memory(
        &self,
        txn: &mut RwTxn,
        m: &MemoryView,
        compress: bool,
        replacing: bool,
    ) -> Result<Vec<u8>> {
        let db_key = keys::db_key(m.namespace, m.key);
        let old = match replacing.then(|| self.memories.get(txn, &db_key)).transpose()?.flatten() {
            Some(record) => slot_of(record)?,
            None => None,
        };
        let vector = m.embedding.map(le_bytes);
        let dim = vector.as_ref().map_or(0, |v| (v.len() / 4) as u32);
        let slot = match (old, &vector) {
            (Some((d, slot)), Some(v)) if d == dim => {
                self.vectors.overwrite(txn, m.namespace, slot, v)?;
                slot
            }
            (old, vector) => {
                if let Some((d, slot)) = old {
                    self.vectors.remove(txn, m.namespace, d, slot)?;
                }
                match vector {
                    Some(v) => self.vectors.insert(txn, m.namespace, v)?,
                    None => 0,
                }
            }
        };
        let bytes = codec::encode(m, compress, slot);
        self.memories.put(txn, &db_key, &bytes)?;
        Ok(bytes)
    }

    /// Deletes the record of `key` in `ns` and frees its vector's slot. Returns
    /// whether there was a record.
    pub fn delete_memory(&self, txn: &mut RwTxn, ns: &str, key: &str) -> Result<bool> {
        let db_key = keys::db_key(ns, key);
        let Some(record) = self.memories.get(txn, &db_key)? else { return Ok(false) };
        if let Some((dim, slot)) = slot_of(record)? {
            self.vectors.remove(txn, ns, dim, slot)?;
        }
        Ok(self.memories.delete(txn, &db_key)?)
    }
}
