//! What the HTTP edge does around a request, for gRPC calls: the API key, the
//! in-flight limit, the deadline (`grpc-timeout`, capped by `server.request_timeout_ms`)
//! and the request metrics, with the gRPC method as the `route` label.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use tonic::metadata::MetadataMap;
use tonic::Status;

use super::status::to_status;
use crate::api::edge::admission::Admission;
use crate::api::edge::{auth, metrics};
use crate::api::error::ApiError;
use crate::state::AppState;

/// The edge of the gRPC server (its own in-flight count, the same limit as HTTP's).
pub struct Guard {
    pub state: AppState,
    admission: Admission,
}

/// Gives the in-flight slot back however the call ends (answered, failed, cancelled).
struct Slot<'a>(&'a Admission);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Guard {
    pub fn new(state: AppState) -> Self {
        let limit = state.cfg.server.concurrency_limit;
        Self {
            state,
            admission: Admission::new(limit),
        }
    }

    /// Runs `call` as method `route` if the caller may, within the deadline, and counts it.
    pub async fn run<T, F>(
        &self,
        route: &'static str,
        md: &MetadataMap,
        call: F,
    ) -> Result<T, Status>
    where
        F: Future<Output = Result<T, ApiError>>,
    {
        let started = Instant::now();
        let result = self.checked(md, call).await;
        let status = match &result {
            Ok(_) => StatusCode::OK,
            Err(e) => e.status(),
        };
        let secs = started.elapsed().as_secs_f64();
        metrics::record(&self.state.metrics, "POST", route, status, secs);
        result.map_err(|e| to_status(&e))
    }

    async fn checked<T, F>(&self, md: &MetadataMap, call: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>>,
    {
        if let Some(key) = self.state.cfg.server.api_key.as_ref() {
            let given = md.get("authorization").and_then(|v| v.to_str().ok());
            if !auth::bearer_matches(given, key.expose()) {
                return Err(ApiError::Unauthorized);
            }
        }
        if !self.admission.admit() {
            return Err(ApiError::Overloaded);
        }
        let _slot = Slot(&self.admission);
        let limit = Duration::from_millis(self.state.cfg.server.request_timeout_ms);
        let deadline = match md.get("grpc-timeout").and_then(|v| v.to_str().ok()) {
            Some(t) => parse_timeout(t)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("grpc-timeout '{t}' is not a timeout"))
                })?
                .min(limit),
            None => limit,
        };
        tokio::time::timeout(deadline, call)
            .await
            .unwrap_or(Err(ApiError::Timeout))
    }
}

/// gRPC's `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n).
fn parse_timeout(v: &str) -> Option<Duration> {
    let unit = v.chars().last()?;
    let digits = v.get(..v.len() - unit.len_utf8())?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;
    use std::time::Duration;

    #[test]
    fn grpc_timeouts_parse_by_unit() {
        assert_eq!(parse_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(
            parse_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "5", "123456789S", "5x", "-5S", "5é"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }
}
