//! A minimal gRPC unary client for raw bytes, over HTTP/2 (the `h2` crate): the client
//! half of a cluster node's forwarding hop (`memd/cluster/forward.py`).
//!
//! Why it exists: a forwarded call cost one more grpcio server call and one more grpcio
//! *client* call in Python on the same cores as everything else, which capped a
//! forwarded read near half a direct one (docs/cluster.md, "Figures"). This client does
//! the client half with no Python and no GIL: the forwarding handler hands it the
//! request's bytes, metadata and deadline, and gets back the owner's status, message,
//! reply bytes and metadata.
//!
//! Design:
//! - A [`pool::Pool`] owns a tokio runtime and one HTTP/2 connection per target
//!   address, made once and reused: each call is a stream on it. A connection whose
//!   driver ended (peer gone, GOAWAY) is replaced by the next call; a call that finds
//!   it dead before opening its stream dials again once. Blocking calls use their
//!   thread's own pool, driven by the caller while it waits (no hand-off between
//!   threads: see `pool.rs`); started calls use the process's shared pool, whose one
//!   worker thread drives them while the caller waits in slices.
//! - A call ([`call::run`]) sends the gRPC headers (`te: trailers`, `content-type:
//!   application/grpc`, `grpc-timeout` from the timeout, the caller's metadata) and the
//!   message in the 5-byte framing ([`frame`]), then reads the reply's message and
//!   trailers, or the status of a trailers-only reply. The owner's status is data (a
//!   [`Reply`]), never an error here; so are the relay's own failures, coded as grpcio's
//!   client codes them (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`...).
//! - [`unary`] runs a call on the caller's thread, socket and all. [`start`] runs it
//!   as a task on the shared worker and returns a [`Pending`] that can be
//!   waited on in slices and cancelled: the forwarder of a write watches the owner's
//!   lease between slices and cancels the stream (an HTTP/2 reset) once the owner lost
//!   its partition, without ever sending the write twice.
//! - Plaintext only (`http://`): nodes talk to each other without TLS, as before.
//! - Only `CoreError::InvalidArgument` is raised (metadata that HTTP/2 cannot carry),
//!   and `Internal` if a runtime cannot be made.

pub mod call;
pub mod frame;
pub mod pool;

use crate::error::{CoreError, Result};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use pool::Pool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::AbortHandle;

/// One call's input.
pub struct UnaryCall<'a> {
    /// `host:port` of the server (plaintext HTTP/2).
    pub address: &'a str,
    /// The method's path, `/package.Service/Method`.
    pub path: &'a str,
    /// The caller's metadata: lowercase keys; values printable ASCII, except under keys
    /// ending in `-bin` (any bytes, sent base64-encoded as gRPC requires).
    pub metadata: &'a [(String, Vec<u8>)],
    /// The serialized request message.
    pub request: &'a [u8],
    /// The call's deadline, from now.
    pub timeout: Duration,
    /// The largest message sent or received.
    pub max_bytes: usize,
}

/// How a call ended.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The gRPC status code (0: OK).
    pub code: u32,
    /// The status message (`grpc-message`, decoded).
    pub message: String,
    /// The reply message (empty unless `code` is 0).
    pub body: Bytes,
    /// The reply's metadata, initial then trailing, without the protocol's own keys;
    /// values as sent (`-bin` ones base64).
    pub metadata: Vec<(String, Bytes)>,
}

impl Reply {
    fn failed(code: u32, message: String) -> Self {
        Self { code, message, body: Bytes::new(), metadata: Vec::new() }
    }
}

/// Run one call to its end on this thread.
///
/// # Errors
/// `InvalidArgument` for metadata HTTP/2 cannot carry; every other outcome is a
/// [`Reply`].
pub fn unary(call: &UnaryCall<'_>) -> Result<Reply> {
    let Some(prepared) = prepare(call)? else { return Ok(oversized(call)) };
    Pool::local(|pool| pool.runtime().block_on(call::run(pool, prepared))).map_err(no_runtime)
}

/// Start one call; its reply is collected with [`Pending::wait`].
///
/// # Errors
/// As [`unary`].
pub fn start(call: &UnaryCall<'_>) -> Result<Pending> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let Some(prepared) = prepare(call)? else {
        let _ = sender.send(oversized(call));
        return Ok(Pending { receiver: Mutex::new(receiver), abort: None });
    };
    let pool = Pool::shared().map_err(no_runtime)?;
    let runner = Arc::clone(&pool);
    let task = pool.runtime().spawn(async move {
        let _ = sender.send(call::run(&runner, prepared).await);
    });
    Ok(Pending { receiver: Mutex::new(receiver), abort: Some(task.abort_handle()) })
}

/// A call started by [`start`].
pub struct Pending {
    receiver: Mutex<Receiver<Reply>>,
    abort: Option<AbortHandle>,
}

impl Pending {
    /// The reply, if it arrives within `slice`; None while the call still runs.
    pub fn wait(&self, slice: Duration) -> Option<Reply> {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner);
        match receiver.recv_timeout(slice) {
            Ok(reply) => Some(reply),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                Some(Reply::failed(frame::code::CANCELLED, "Cancelled".into()))
            }
        }
    }

    /// Give up on the call: its stream is reset, so the server sees it cancelled.
    pub fn cancel(&self) {
        if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}

#[expect(clippy::needless_pass_by_value, reason = "a `map_err` argument")]
fn no_runtime(err: std::io::Error) -> CoreError {
    CoreError::Internal(format!("the relay's runtime did not start: {err}"))
}

/// The call as sent (None: the request is over the size limit).
fn prepare(call: &UnaryCall<'_>) -> Result<Option<call::Prepared>> {
    let headers = headers(call.metadata)?;
    if call.request.len() > call.max_bytes.min(u32::MAX as usize) {
        return Ok(None);
    }
    let prepared = call::Prepared {
        address: call.address.to_owned(),
        path: call.path.to_owned(),
        headers,
        body: frame::frame(call.request),
        timeout: call.timeout,
        max_bytes: call.max_bytes,
    };
    Ok(Some(prepared))
}

fn oversized(call: &UnaryCall<'_>) -> Reply {
    let message =
        format!("Sent message larger than max ({} vs. {})", call.request.len(), call.max_bytes);
    Reply::failed(frame::code::RESOURCE_EXHAUSTED, message)
}

/// Keys the protocol sets itself, or that HTTP/2 forbids.
const RESERVED: [&str; 8] = [
    "te",
    "content-type",
    "connection",
    "host",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The caller's metadata as HTTP/2 headers.
fn headers(metadata: &[(String, Vec<u8>)]) -> Result<HeaderMap> {
    let mut map = HeaderMap::with_capacity(metadata.len() + 3);
    for (key, value) in metadata {
        if key.starts_with("grpc-") || RESERVED.contains(&key.as_str()) {
            return Err(CoreError::invalid(format!("metadata key {key:?} is reserved")));
        }
        let name = HeaderName::from_bytes(key.as_bytes())
            .ok()
            .filter(|n| n.as_str() == key)
            .ok_or_else(|| CoreError::invalid(format!("bad metadata key {key:?}")))?;
        let value = if key.ends_with("-bin") {
            let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(value);
            HeaderValue::from_str(&encoded).expect("base64 is header-safe")
        } else {
            HeaderValue::from_bytes(value)
                .ok()
                .filter(|_| value.iter().all(|b| (0x20..0x7f).contains(b)))
                .ok_or_else(|| {
                    CoreError::invalid(format!("metadata {key:?}: a value not printable ASCII"))
                })?
        };
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect()
    }

    #[test]
    fn metadata_becomes_headers_with_binary_values_in_base64() {
        let map = headers(&meta(&[
            ("authorization", b"Bearer t"),
            ("x-id-bin", &[0, 255, 1]),
            ("x-two", b"a"),
            ("x-two", b"b"),
        ]))
        .unwrap();
        assert_eq!(map["authorization"], "Bearer t");
        assert_eq!(map["x-id-bin"], "AP8B");
        assert_eq!(map.get_all("x-two").iter().count(), 2);
    }

    #[test]
    fn metadata_http2_cannot_carry_is_refused() {
        for bad in [
            meta(&[("Upper", b"x")]),
            meta(&[("grpc-timeout", b"1S")]),
            meta(&[("te", b"trailers")]),
            meta(&[("x", "é".as_bytes())]),
            meta(&[("x", b"a\nb")]),
        ] {
            let err = headers(&bad).unwrap_err();
            assert!(matches!(err, CoreError::InvalidArgument(_)), "{err}");
        }
    }

    #[test]
    fn a_dead_address_is_unavailable_and_a_large_request_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener); // nothing listens there now
        let mut call = UnaryCall {
            address: &address,
            path: "/x.Y/Z",
            metadata: &[],
            request: b"12345",
            timeout: Duration::from_secs(5),
            max_bytes: 100,
        };
        assert_eq!(unary(&call).unwrap().code, frame::code::UNAVAILABLE);
        call.max_bytes = 4;
        let reply = start(&call).unwrap().wait(Duration::from_secs(5)).unwrap();
        assert_eq!(reply.code, frame::code::RESOURCE_EXHAUSTED);
    }
}
