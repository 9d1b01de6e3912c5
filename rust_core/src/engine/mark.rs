//! Cluster mode's applied-sequence mark, carried from a caller to the writer.
//!
//! A cluster node applies each replicated-log entry with one engine call (a Store,
//! a Delete, a `DropNamespace`) and must record the entry's sequence in the SAME
//! transaction as its effects (`store/applied.rs`). Rather than add a mark argument
//! to every write method of the public API, the caller scopes a mark around the
//! call: the first job that call submits to the writer carries it. The slot is
//! thread-local and the engine methods submit from the calling thread (the GIL is
//! released, the thread stays), and it is cleared when the scope ends, so a call
//! that failed validation before submitting cannot leak its mark into the next one.

use crate::store::applied::Mark;
use std::cell::RefCell;

thread_local! {
    static PENDING: RefCell<Option<Mark>> = const { RefCell::new(None) };
}

/// Runs `f` with `mark` pending: the first job `f` submits records it.
pub fn scoped<T>(mark: Option<Mark>, f: impl FnOnce() -> T) -> T {
    if mark.is_none() {
        return f();
    }
    PENDING.with(|slot| *slot.borrow_mut() = mark);
    let out = f();
    PENDING.with(|slot| slot.borrow_mut().take());
    out
}

/// Takes the pending mark, if any (called once per submitted job).
pub(crate) fn take() -> Option<Mark> {
    PENDING.with(|slot| slot.borrow_mut().take())
}
