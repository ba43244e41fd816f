//! Path spellings the Open Inference Protocol treats as one route: `/v2/` is `/v2`, and
//! `/v2/models/iris/ready/` is `/v2/models/iris/ready`. KServe's and Triton's clients
//! build some URLs with a trailing slash, and axum routes paths exactly.

use axum::extract::Request;
use axum::http::uri::{PathAndQuery, Uri};

/// Drops the trailing slashes of a `/v2` path, before the request is routed (hot or not).
pub fn trim_v2_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() < 4 || !path.ends_with('/') || !path.starts_with("/v2/") {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let rebuilt = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    // The trimmed path is a prefix of a valid one, so it parses; if not, routing
    // answers the path as sent.
    let Ok(pq) = PathAndQuery::try_from(rebuilt) else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// A dataset upload (`PUT /v1/datasets/{name}`) streams a body of up to
/// `server.dataset_limit_bytes`, which may take longer than `server.request_timeout_ms`
/// on any link; it is bounded by the per-frame stall timeout instead.
pub fn streams_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::PUT && path.starts_with("/v1/datasets/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(uri: &str) -> String {
        let mut req = Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap_or_default();
        trim_v2_slash(&mut req);
        req.uri().to_string()
    }

    #[test]
    fn only_v2_paths_lose_their_trailing_slash() {
        assert_eq!(trimmed("/v2/"), "/v2");
        assert_eq!(trimmed("/v2/models/iris/ready/"), "/v2/models/iris/ready");
        assert_eq!(trimmed("/v2/models/iris//?a=1"), "/v2/models/iris?a=1");
        assert_eq!(trimmed("/v1/models/"), "/v1/models/");
        assert_eq!(trimmed("/v2"), "/v2");
        assert_eq!(trimmed("/v2x/"), "/v2x/");
    }
}
