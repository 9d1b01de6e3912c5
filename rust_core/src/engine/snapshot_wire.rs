//! A partition's copy as it travels between cluster nodes: `memd.v1.PartitionSnapshotChunk`
//! of `proto/memd/v1/cluster_service.proto`, encoded and decoded here so that a copy
//! never crosses into Python record by record.
//!
//! Field numbers and types mirror the proto; `tests/unit/test_partition_snapshot.py`
//! reads chunks made here with the Python classes generated from the same file.

use crate::error::{CoreError, Result};
use prost::Message;

/// `memd.v1.PartitionSnapshotChunk`.
#[derive(Clone, PartialEq, Message)]
pub struct Chunk {
    /// The last log sequence the copy holds.
    #[prost(uint64, tag = "1")]
    pub sequence: u64,
    /// First chunk only: every namespace the copy holds.
    #[prost(string, repeated, tag = "2")]
    pub namespaces: Vec<String>,
    /// Records, byte for byte.
    #[prost(message, repeated, tag = "3")]
    pub records: Vec<StoreRecord>,
}

/// `memd.v1.StoreRecord`.
#[derive(Clone, PartialEq, Message)]
pub struct StoreRecord {
    /// `memd.v1.StoreDatabase`.
    #[prost(enumeration = "Database", tag = "1")]
    pub database: i32,
    /// The LMDB key.
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    /// The LMDB value.
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
}

/// `memd.v1.StoreDatabase`: the databases a partition's copy is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Database {
    /// Not a database (refused).
    Unspecified = 0,
    /// `namespaces`.
    Namespaces = 1,
    /// `memories`.
    Memories = 2,
    /// `vectors`.
    Vectors = 3,
    /// `vector_free`.
    VectorFree = 4,
}

/// Decodes the chunks of one copy, checking that they agree on the sequence and that
/// every record belongs to a namespace the first chunk lists (its key is the name,
/// for `namespaces`, else starts with the name and a NUL). Returns the sequence, the
/// namespaces and the records; nothing is installed from a copy that fails here.
///
/// # Errors
///
/// `InvalidArgument` for no chunk, a chunk that does not decode, sequences that
/// differ, an unknown database, or a record of no listed namespace.
pub fn decode(chunks: &[&[u8]]) -> Result<(u64, Vec<String>, Vec<StoreRecord>)> {
    let mut decoded = Vec::with_capacity(chunks.len());
    for raw in chunks {
        decoded.push(
            Chunk::decode(*raw)
                .map_err(|e| CoreError::invalid(format!("not a PartitionSnapshotChunk: {e}")))?,
        );
    }
    let Some(first) = decoded.first() else {
        return Err(CoreError::invalid("a partition's copy has at least one chunk"));
    };
    let (sequence, names) = (first.sequence, first.namespaces.clone());
    let mut records = Vec::new();
    for chunk in decoded {
        if chunk.sequence != sequence {
            return Err(CoreError::invalid(format!(
                "the copy's chunks are of sequences {sequence} and {}",
                chunk.sequence
            )));
        }
        for record in chunk.records {
            check(&record, &names)?;
            records.push(record);
        }
    }
    Ok((sequence, names, records))
}

fn check(record: &StoreRecord, names: &[String]) -> Result<()> {
    let key = record.key.as_slice();
    let ok = match Database::try_from(record.database) {
        Ok(Database::Namespaces) => names.iter().any(|n| n.as_bytes() == key),
        Ok(Database::Memories | Database::Vectors | Database::VectorFree) => names
            .iter()
            .any(|n| key.len() > n.len() && key.starts_with(n.as_bytes()) && key[n.len()] == 0),
        Ok(Database::Unspecified) | Err(_) => {
            return Err(CoreError::invalid(format!(
                "a record of unknown database {} in a partition's copy",
                record.database
            )))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid("a record of a namespace the partition's copy does not list"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(database: Database, key: &[u8]) -> StoreRecord {
        StoreRecord { database: database as i32, key: key.to_vec(), value: b"v".to_vec() }
    }

    fn chunk(sequence: u64, names: &[&str], records: Vec<StoreRecord>) -> Vec<u8> {
        let namespaces = names.iter().map(|n| (*n).to_owned()).collect();
        Chunk { sequence, namespaces, records }.encode_to_vec()
    }

    #[test]
    fn records_of_listed_namespaces_are_taken_in_order() {
        let a = chunk(7, &["a"], vec![record(Database::Namespaces, b"a")]);
        let b = chunk(7, &[], vec![record(Database::Memories, b"a\0k")]);
        let (seq, names, records) = decode(&[&a, &b]).expect("a valid copy");
        assert_eq!((seq, names), (7, vec!["a".to_owned()]));
        assert_eq!(
            records.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
            [b"a".to_vec(), b"a\0k".to_vec()]
        );
    }

    #[test]
    fn a_copy_that_does_not_hold_together_is_refused() {
        assert!(decode(&[]).is_err(), "no chunk");
        assert!(decode(&[b"\xff\xff"]).is_err(), "not a chunk");
        let other_seq = chunk(8, &[], vec![]);
        assert!(decode(&[&chunk(7, &["a"], vec![]), &other_seq]).is_err(), "two sequences");
        let stranger = vec![record(Database::Memories, b"ab\0k")];
        assert!(decode(&[&chunk(7, &["a"], stranger)]).is_err(), "a namespace not listed");
        let bare = vec![record(Database::Vectors, b"a")];
        assert!(decode(&[&chunk(7, &["a"], bare)]).is_err(), "a vector key without its NUL");
        let unknown = vec![StoreRecord { database: 9, key: b"a\0k".to_vec(), value: vec![] }];
        assert!(decode(&[&chunk(7, &["a"], unknown)]).is_err(), "an unknown database");
    }
}
