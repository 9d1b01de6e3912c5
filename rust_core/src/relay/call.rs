//! One unary gRPC call on an HTTP/2 stream: the request's headers and framed message,
//! then the reply's headers, message and trailers, read into a [`Reply`].
//!
//! Every way a call can end is a [`Reply`] with a gRPC code, as grpcio's client
//! reports it: the owner's status as it sent it; a connection that cannot be made or
//! breaks, `UNAVAILABLE`; the deadline, `DEADLINE_EXCEEDED` (the caller drops the
//! future, and h2 resets the stream, so the owner sees the call cancelled); a reply
//! over the size limit, `RESOURCE_EXHAUSTED`; a malformed one, `INTERNAL`.

use super::frame::{self, code, Unframe};
use super::pool::{Failure, Pool};
use super::Reply;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request};
use std::time::Duration;

/// The request of a call, ready to send (metadata already checked: see
/// [`super::UnaryCall`]).
pub struct Prepared {
    /// `host:port` of the server.
    pub address: String,
    /// The method's path, `/package.Service/Method`.
    pub path: String,
    /// Metadata as HTTP/2 headers (`-bin` values base64-encoded).
    pub headers: HeaderMap,
    /// The framed request message.
    pub body: Bytes,
    /// The call's deadline, from now.
    pub timeout: Duration,
    /// The largest reply message accepted.
    pub max_bytes: usize,
}

/// Run the call, within its timeout.
pub async fn run(pool: &Pool, call: Prepared) -> Reply {
    let timeout = call.timeout;
    if timeout.is_zero() {
        // Nothing is sent: the first poll below could open the stream already.
        return Reply::failed(code::DEADLINE_EXCEEDED, "Deadline Exceeded".into());
    }
    match tokio::time::timeout(timeout, attempt(pool, call)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err((code, message))) => Reply::failed(code, message),
        Err(_) => Reply::failed(code::DEADLINE_EXCEEDED, "Deadline Exceeded".into()),
    }
}

async fn attempt(pool: &Pool, call: Prepared) -> Result<Reply, Failure> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}{}", call.address, call.path))
        .body(())
        .map_err(|e| (code::INTERNAL, format!("request for {}: {e}", call.path)))?;
    let headers = request.headers_mut();
    *headers = call.headers;
    headers.insert("te", HeaderValue::from_static("trailers"));
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    let timeout = frame::timeout_header(call.timeout);
    headers.insert("grpc-timeout", HeaderValue::from_str(&timeout).expect("digits and a unit"));

    // A connection found dead before the stream was opened is replaced once: nothing
    // was sent on it, so sending again on a fresh one is safe for any call.
    let mut retried = false;
    let (response, mut stream) = loop {
        let conn = pool.connect(&call.address).await?;
        let opened = match conn.send.clone().ready().await {
            Ok(mut send) => send.send_request(request.clone(), false),
            Err(err) => Err(err),
        };
        match opened {
            Ok(opened) => break opened,
            Err(err) => {
                conn.mark_dead();
                if retried || !(err.is_io() || err.is_go_away()) {
                    return Err(broken(&call.address, &err));
                }
                retried = true;
            }
        }
    };
    stream.send_data(call.body, true).map_err(|e| broken(&call.address, &e))?;
    let response = response.await.map_err(|e| broken(&call.address, &e))?;
    let (head, mut body) = response.into_parts();
    if head.status != http::StatusCode::OK {
        let code = frame::http_status_code(head.status.as_u16());
        return Err((code, format!("HTTP status {} from {}", head.status, call.address)));
    }
    let mut metadata = custom(&head.headers);
    if let Some((code, message)) = frame::status(&head.headers) {
        // Trailers-only: the whole reply was its headers (an error, as a rule).
        return Ok(Reply { code, message, body: Bytes::new(), metadata });
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| broken(&call.address, &e))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
        if data.len() > call.max_bytes.saturating_add(5) {
            break; // over the limit: `unframe` says by how much; the drop resets the stream
        }
    }
    let message = match frame::unframe(&data, call.max_bytes) {
        Unframe::One(message) => Some(message),
        Unframe::Empty => None,
        Unframe::TooLarge(len) => {
            return Err((
                code::RESOURCE_EXHAUSTED,
                format!("Received message larger than max ({len} vs. {})", call.max_bytes),
            ))
        }
        Unframe::Malformed(what) => return Err((code::INTERNAL, format!("a reply with {what}"))),
    };
    let trailers = body.trailers().await.map_err(|e| broken(&call.address, &e))?;
    let trailers = trailers.unwrap_or_default();
    metadata.extend(custom(&trailers));
    let (code, text) =
        frame::status(&trailers).unwrap_or((code::UNKNOWN, "a reply without grpc-status".into()));
    match message {
        Some(body) if code == code::OK => Ok(Reply { code, message: text, body, metadata }),
        None if code == code::OK => Err((code::INTERNAL, "a unary reply without a message".into())),
        _ => Ok(Reply { code, message: text, body: Bytes::new(), metadata }),
    }
}

/// A stream or connection failure as grpcio's client reports it: a reset by the
/// peer with CANCEL as CANCELLED, anything else as UNAVAILABLE.
fn broken(address: &str, err: &h2::Error) -> Failure {
    if err.is_reset() && err.reason() == Some(h2::Reason::CANCEL) {
        return (code::CANCELLED, format!("the call was cancelled by {address}"));
    }
    (code::UNAVAILABLE, format!("connection to {address} failed: {err}"))
}

/// The reply's own metadata: every key but HTTP/2's and gRPC's (`grpc-*`,
/// `content-type`), values as sent (`-bin` ones still base64).
fn custom(map: &HeaderMap) -> Vec<(String, Bytes)> {
    map.iter()
        .filter(|(key, _)| !key.as_str().starts_with("grpc-") && *key != "content-type")
        .map(|(key, value)| (key.as_str().to_owned(), Bytes::copy_from_slice(value.as_bytes())))
        .collect()
}
