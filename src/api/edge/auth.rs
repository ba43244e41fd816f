//! The API key: with `server.api_key` set, every route but the open ones needs
//! `Authorization: Bearer <key>`.

use axum::extract::Request;
use axum::http::header;

use crate::api::dashboard;
use crate::config::Secret;

/// Routes that orchestrators and Prometheus reach without credentials.
pub const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Whether `req` may go on, given the configured key.
pub fn authorized(key: Option<&Secret>, req: &Request) -> bool {
    let Some(key) = key.map(Secret::expose) else {
        return true;
    };
    let path = req.uri().path();
    if OPEN_ROUTES.contains(&path) || dashboard::serves(path) {
        return true;
    }
    let given = req.headers().get(header::AUTHORIZATION);
    bearer_matches(given.and_then(|v| v.to_str().ok()), key)
}

/// Whether an `Authorization` value is `Bearer <key>`; gRPC metadata is checked with it
/// too, so both protocols accept exactly the same credentials.
pub fn bearer_matches(authorization: Option<&str>, key: &str) -> bool {
    let given = authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(given.as_bytes(), key.as_bytes())
}

/// Compares without an early exit so response timing does not reveal the key's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ x);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn keys_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"secret-key", b"secret-key"));
        assert!(!constant_time_eq(b"secret-ke", b"secret-key"));
        assert!(!constant_time_eq(b"secret-keyx", b"secret-key"));
        assert!(!constant_time_eq(b"", b"secret-key"));
    }
}
