//! The gRPC-over-HTTP/2 wire details of one unary call: the 5-byte message framing,
//! the `grpc-timeout` header, and the status carried by the trailers (or by the
//! headers of a trailers-only response), with `grpc-message` percent-decoded.
//! Pure functions: the tests below cover them without a network.

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use std::time::Duration;

/// gRPC status codes the relay produces itself (the owner's own travel as numbers).
pub mod code {
    /// Success.
    pub const OK: u32 = 0;
    /// The call was cancelled.
    pub const CANCELLED: u32 = 1;
    /// Unknown error (a reply with no `grpc-status`, or an HTTP error status).
    pub const UNKNOWN: u32 = 2;
    /// The deadline passed before the reply was complete.
    pub const DEADLINE_EXCEEDED: u32 = 4;
    /// A message over the size limit.
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    /// The HTTP/2 path is not served (HTTP 404).
    pub const UNIMPLEMENTED: u32 = 12;
    /// A malformed reply.
    pub const INTERNAL: u32 = 13;
    /// The owner could not be reached, or the connection broke.
    pub const UNAVAILABLE: u32 = 14;
    /// HTTP 401.
    pub const UNAUTHENTICATED: u32 = 16;
    /// HTTP 403.
    pub const PERMISSION_DENIED: u32 = 7;
}

/// One gRPC message as sent on a stream: flag byte 0 (not compressed), the payload's
/// length as a big-endian u32, the payload.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32); // callers refuse messages over u32::MAX
    out.put_slice(message);
    out.freeze()
}

/// Why a reply's body is not one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Unframe {
    /// The single message.
    One(Bytes),
    /// No message at all.
    Empty,
    /// A message longer than the limit (its announced length).
    TooLarge(usize),
    /// Anything else (a compressed message, a cut frame, two messages), said in words.
    Malformed(&'static str),
}

/// The one message of a unary reply's body (all its DATA frames, concatenated).
pub fn unframe(body: &[u8], max_bytes: usize) -> Unframe {
    if body.is_empty() {
        return Unframe::Empty;
    }
    if body.len() < 5 {
        return Unframe::Malformed("a message frame cut short");
    }
    if body[0] != 0 {
        // We send no grpc-accept-encoding, so a conforming server never compresses.
        return Unframe::Malformed("a compressed message, but no compression was offered");
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if len > max_bytes {
        return Unframe::TooLarge(len);
    }
    match (body.len() - 5).cmp(&len) {
        std::cmp::Ordering::Less => Unframe::Malformed("a message frame cut short"),
        std::cmp::Ordering::Greater => Unframe::Malformed("more than one message in a unary reply"),
        std::cmp::Ordering::Equal => Unframe::One(Bytes::copy_from_slice(&body[5..])),
    }
}

/// The `grpc-timeout` value for `timeout`: at most 8 digits and a unit, in the finest
/// unit that fits (microseconds up to 100 s, then milliseconds, seconds, hours).
pub fn timeout_header(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let micros = timeout.as_micros().max(1);
    if micros <= MAX {
        return format!("{micros}u");
    }
    let millis = timeout.as_millis();
    if millis <= MAX {
        return format!("{millis}m");
    }
    let secs = u128::from(timeout.as_secs());
    if secs <= MAX {
        return format!("{secs}S");
    }
    format!("{}H", (secs / 3600).min(MAX))
}

/// The status of a reply: (`grpc-status`, percent-decoded `grpc-message`), if the
/// map (trailers, or the headers of a trailers-only reply) carries one.
pub fn status(map: &HeaderMap) -> Option<(u32, String)> {
    let code = map.get("grpc-status")?;
    let code = std::str::from_utf8(code.as_bytes()).ok().and_then(|c| c.parse().ok());
    let message = map.get("grpc-message").map(|m| percent_decode(m.as_bytes())).unwrap_or_default();
    Some(match code {
        Some(code) => (code, message),
        None => (code::UNKNOWN, format!("malformed grpc-status; {message}")),
    })
}

/// `grpc-message`'s encoding undone: `%XX` to its byte, the result read as UTF-8
/// (lossily: the spec asks a client to keep what it can of a bad encoding).
pub fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(hi), Some(lo)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push((hi * 16 + lo) as u8); // two hex digits fit a byte
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The gRPC code of a reply whose HTTP status is not 200 (the gRPC spec's table for
/// a server, or a proxy before it, that answered outside gRPC).
pub fn http_status_code(http: u16) -> u32 {
    match http {
        400 => code::INTERNAL,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::UNIMPLEMENTED,
        429 | 502..=504 => code::UNAVAILABLE,
        _ => code::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_framed_message_unframes_to_itself() {
        for message in [b"".to_vec(), b"x".to_vec(), vec![7u8; 70_000]] {
            let framed = frame(&message);
            assert_eq!(framed.len(), message.len() + 5);
            assert_eq!(unframe(&framed, 1 << 20), Unframe::One(Bytes::from(message)));
        }
    }

    #[test]
    fn bad_bodies_are_named() {
        assert_eq!(unframe(b"", 10), Unframe::Empty);
        assert_eq!(unframe(&[0, 0, 0], 10), Unframe::Malformed("a message frame cut short"));
        assert_eq!(
            unframe(&[0, 0, 0, 0, 3, 1], 10),
            Unframe::Malformed("a message frame cut short")
        );
        assert!(matches!(unframe(&[1, 0, 0, 0, 0], 10), Unframe::Malformed(_)));
        let two = [frame(b"a").to_vec(), frame(b"b").to_vec()].concat();
        assert!(matches!(unframe(&two, 10), Unframe::Malformed(_)));
        assert_eq!(unframe(&frame(&[0; 11]), 10), Unframe::TooLarge(11));
        assert_eq!(unframe(&frame(&[0; 10]), 10), Unframe::One(Bytes::from_static(&[0; 10])));
    }

    #[test]
    fn timeouts_take_the_finest_unit_that_fits() {
        assert_eq!(timeout_header(Duration::from_millis(250)), "250000u");
        assert_eq!(timeout_header(Duration::ZERO), "1u");
        assert_eq!(timeout_header(Duration::from_secs(100)), "100000m");
        assert_eq!(timeout_header(Duration::from_secs(200_000)), "200000S");
        assert_eq!(timeout_header(Duration::from_secs(100_000_000_000)), "27777777H");
    }

    #[test]
    fn status_comes_from_grpc_status_and_a_decoded_message() {
        let mut map = HeaderMap::new();
        assert_eq!(status(&map), None);
        map.insert("grpc-status", HeaderValue::from_static("5"));
        assert_eq!(status(&map), Some((5, String::new())));
        map.insert("grpc-message", HeaderValue::from_static("na%C3%AFve %25 ok%"));
        assert_eq!(status(&map), Some((5, "naïve % ok%".into())));
        map.insert("grpc-status", HeaderValue::from_static("x"));
        assert_eq!(status(&map).map(|s| s.0), Some(code::UNKNOWN));
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode(b"a%2"), "a%2");
        assert_eq!(percent_decode(b"%zz%41"), "%zzA");
        assert_eq!(percent_decode(b"%FF"), "\u{fffd}");
    }

    #[test]
    fn http_errors_map_as_the_spec_says() {
        assert_eq!(http_status_code(404), code::UNIMPLEMENTED);
        assert_eq!(http_status_code(503), code::UNAVAILABLE);
        assert_eq!(http_status_code(500), code::UNKNOWN);
    }
}
