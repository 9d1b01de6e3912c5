//! Cluster mode's group commit of Stores: several `StoreRequest`s applied as ONE
//! writer job, so in one transaction with one applied-sequence mark, each request
//! with its own reply.
//!
//! A partition's owner gathers the Stores that arrive while its previous append to
//! the log is in flight into one log entry (`memd/cluster/group_commit.py`); every
//! replica applies that entry with this call. Each request is applied as if it came
//! alone, in the order given, so the outcome is the one of applying them one after
//! the other:
//! - a request refused as a whole (malformed, too many items, a bad namespace, an
//!   atomic batch with an invalid item, a dimension mismatch) is refused alone:
//!   every op checks everything before its first write, so the transaction is as
//!   that request found it, and the next one goes on;
//! - `after[j] = Some(k)`: request `j` is applied only if request `k < j` was (the
//!   later batches of one `StoreStream`, which a single node never applies after a
//!   failed batch, since the stream ends there);
//! - a storage error aborts the whole transaction (as for any job): nothing of the
//!   group is applied, and the call fails.

use crate::engine::apply::{self, Op, Reply};
use crate::engine::encoded::{check_items, store_response};
use crate::engine::{finish_put, Engine, PreparedPut};
use crate::error::{CoreError, Result};
use crate::model::RawMemory;
use crate::store::keys::KeyGen;
use crate::tier::migrate::Txn;
use crate::wire;

/// One grouped request's outcome: the encoded `StoreResponse` and its item count, or
/// why the request was refused (nothing of it stored).
pub type GroupedReply = Result<(Vec<u8>, usize)>;

/// Why a request was not applied: the one it depends on (`after`) was not.
const SKIPPED: &str = "not applied: an earlier batch of the same stream failed";

impl Engine {
    /// Applies serialized `StoreRequest`s in one transaction, in order, each refused
    /// or stored on its own (see the module docs); the pending mark (`mark.rs`) is
    /// recorded with them, even when every request was refused.
    ///
    /// # Errors
    /// `after` malformed (not one per request, or not pointing backwards), a closed
    /// engine, or a storage error (then nothing is applied).
    pub fn store_encoded_group(
        &self,
        requests: &[&[u8]],
        after: &[Option<usize>],
        now_ms: u64,
        max_items: usize,
    ) -> Result<Vec<GroupedReply>> {
        if after.len() != requests.len()
            || after.iter().enumerate().any(|(j, k)| k.is_some_and(|k| k >= j))
        {
            return Err(CoreError::invalid("after: one earlier index (or none) per request"));
        }
        let shared = self.shared()?;
        // Before the writer: decode, validate and embed each request.
        let mut prepared: Vec<Result<(PreparedPut, u64, usize)>> =
            Vec::with_capacity(requests.len());
        for (j, request) in requests.iter().enumerate() {
            let failed_dependency = after[j].is_some_and(|k| prepared[k].is_err());
            let one = if failed_dependency {
                Err(CoreError::Unavailable(SKIPPED.into()))
            } else {
                self.prepare_request(&shared, request, now_ms, max_items)
            };
            prepared.push(one);
        }
        let mut ops = Vec::with_capacity(prepared.len());
        for one in &mut prepared {
            ops.push(one.as_mut().ok().and_then(|(p, _, _)| p.op.take()));
        }
        let refused = prepared.iter().map(Result::is_err).collect();
        let op = Op::Group { ops, after: after.to_vec(), refused };
        let Reply::Group(applied) = shared.submit(op)? else { unreachable!("group replies Group") };
        let mut out = Vec::with_capacity(prepared.len());
        for (one, reply) in prepared.into_iter().zip(applied) {
            out.push(match (one, reply) {
                (Err(e), _) | (_, Some(Err(e))) => Err(e),
                (Ok((p, batch_id, n)), Some(Ok(reply))) => {
                    Ok((store_response(finish_put(&shared, p, reply), batch_id), n))
                }
                (Ok((p, batch_id, n)), None) => Ok((store_response(p.results, batch_id), n)),
            });
        }
        Ok(out)
    }

    /// One request of a group, decoded and prepared: its put, batch id and item count.
    fn prepare_request(
        &self,
        shared: &super::Shared,
        request: &[u8],
        now_ms: u64,
        max_items: usize,
    ) -> Result<(PreparedPut, u64, usize)> {
        let req: wire::StoreRequest = wire::decode(request)?;
        let n = req.memories.len();
        check_items(n, max_items)?;
        let raw: Vec<RawMemory> = req.memories.into_iter().map(RawMemory::from).collect();
        let prepared = self.prepare_put(shared, &req.namespace, raw, now_ms, req.atomic)?;
        Ok((prepared, req.batch_id, n))
    }
}

/// The writer's side of `Op::Group`: each op in order, skipping those refused before
/// (`refused`) or whose dependency (`after`) was not applied. Per op: `None` when
/// there was nothing to apply (refused before, or no valid item), else its reply.
///
/// # Errors
/// A storage, capacity or internal error of any op: the transaction must be aborted.
pub fn apply_group(
    txn: &mut Txn,
    keygen: &mut KeyGen,
    ops: &[Option<Op>],
    after: &[Option<usize>],
    refused: &[bool],
) -> Result<Reply> {
    let mut applied = Vec::with_capacity(ops.len());
    let mut replies = Vec::with_capacity(ops.len());
    for (j, op) in ops.iter().enumerate() {
        if refused[j] {
            applied.push(false);
            replies.push(None);
            continue;
        }
        if after[j].is_some_and(|k| !applied[k]) {
            applied.push(false);
            replies.push(Some(Err(CoreError::Unavailable(SKIPPED.into()))));
            continue;
        }
        let Some(op) = op else {
            applied.push(true);
            replies.push(None);
            continue;
        };
        match apply::apply(txn, keygen, op) {
            Err(e @ (CoreError::Storage(_) | CoreError::Capacity(_) | CoreError::Internal(_))) => {
                return Err(e)
            }
            reply => {
                applied.push(reply.is_ok());
                replies.push(Some(reply));
            }
        }
    }
    Ok(Reply::Group(replies))
}
