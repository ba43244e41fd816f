//! The request id: the client's `x-request-id` echoed, or a generated UUID.

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted, in bytes (a UUID is 36). Ids are kept in the prediction
/// log and echoed on the response, so an unbounded one lets a client make every request
/// cost kilobytes of memory; longer ones are refused (400 `invalid_input`).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A random UUID v4, encoded straight into the header's bytes (no `Display` and
/// re-parse), in a buffer whose clones for the response header share it.
pub fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_maybe_shared(Bytes::from_owner(buf))
        .unwrap_or(HeaderValue::from_static("unknown"))
}
