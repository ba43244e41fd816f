//! The one error table of the HTTP surface: every error the server answers is an
//! [`ApiError`], whose variant fixes its status and API.md's machine code in
//! [`ApiError::status_and_code`]; and every conversion from a domain error (registry,
//! serving, training, jobs, feedback, axum's rejections) into it lives in this file.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::datasets::DatasetError;
use crate::jobs::JobError;
use crate::models::ModelError;
use crate::monitor::FeedbackError;
use crate::registry::RegistryError;
use crate::serving::ServeError;
use crate::train::TrainError;

/// The body of every non-2xx answer; `modelctl` reads it back, hence `Deserialize` and a
/// code that may be owned.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub error: String,
    /// Stable machine code, one of [`CODES`].
    #[schema(value_type = String)]
    pub code: Cow<'static, str>,
}

/// Every machine code the server answers with (API.md's list).
pub const CODES: &[&str] = &[
    "invalid_json",
    "invalid_input",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "busy",
    "training_disabled",
    "read_only_store",
    "internal",
    "overloaded",
    "unavailable",
    "timeout",
];

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a body that is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// 422: well-formed JSON whose content is unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// 400: a malformed path, query, header or tensor.
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong API key: send Authorization: Bearer <key>")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Busy(String),
    /// 403: a training request to a serving-only replica (`training.enabled = false`).
    #[error("{0}")]
    TrainingDisabled(String),
    /// 403: a write (new version, alias move, delete) to a store that takes none.
    #[error("{0}")]
    ReadOnlyStore(String),
    /// The detail goes to the log (by the edge), never to the client.
    #[error("internal error")]
    Internal(String),
    #[error("server is overloaded, retry later")]
    Overloaded,
    /// 503: not ready yet, draining, or a version that failed to load.
    #[error("{0}")]
    Unavailable(String),
    #[error("request timed out")]
    Timeout,
    /// 408: the client did not send its body in time (`server.body_timeout_ms`).
    #[error("the request body did not arrive in time")]
    RequestTimeout,
}

/// The detail of a 500, carried on the response for the edge to log; never serialised.
#[derive(Debug, Clone)]
pub struct InternalDetail(pub String);

impl ApiError {
    /// The table: each variant's status and code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            ApiError::TrainingDisabled(_) => (StatusCode::FORBIDDEN, "training_disabled"),
            ApiError::ReadOnlyStore(_) => (StatusCode::FORBIDDEN, "read_only_store"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "timeout"),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// The error for an answer that left a handler (or axum itself) without API.md's
    /// body, e.g. axum's own 405 and 415, with `text` as its message.
    pub fn from_status(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::BAD_REQUEST => ApiError::InvalidJson(text),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
            StatusCode::NOT_FOUND => ApiError::NotFound(text),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(text),
            StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
            StatusCode::CONFLICT => ApiError::Conflict(text),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(0),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
            StatusCode::TOO_MANY_REQUESTS => ApiError::Busy(text),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(text),
            StatusCode::GATEWAY_TIMEOUT => ApiError::Timeout,
            s if s.is_client_error() => ApiError::InvalidInput(text),
            _ => ApiError::Internal(text),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: self.to_string(),
            code: Cow::Borrowed(code),
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Internal(detail) = self {
            response.extensions_mut().insert(InternalDetail(detail));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Valid JSON of the wrong shape (missing or unknown field, wrong type).
            JsonRejection::JsonDataError(e) => ApiError::InvalidInput(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => ApiError::InvalidJson(e.body_text()),
            // API.md's 415: the body was never read, so whether it is JSON is unknown;
            // its declared media type is what was wrong.
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(0)
                } else {
                    ApiError::InvalidJson(e.body_text())
                }
            }
            other => ApiError::InvalidJson(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Input the model cannot take is the client's (422); a runtime failure is the server's.
impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        if e.is_runtime() {
            ApiError::Internal(e.to_string())
        } else {
            ApiError::InvalidInput(e.to_string())
        }
    }
}

/// A training file that exists but cannot be read, or a broken invariant, is the
/// server's fault; everything else about data and parameters is the client's.
impl From<TrainError> for ApiError {
    fn from(e: TrainError) -> Self {
        if e.is_internal() {
            ApiError::Internal(e.to_string())
        } else {
            ApiError::InvalidInput(e.to_string())
        }
    }
}

impl From<DatasetError> for ApiError {
    fn from(e: DatasetError) -> Self {
        match e {
            DatasetError::InvalidName(_) => ApiError::BadRequest(e.to_string()),
            DatasetError::NotFound(_) => ApiError::NotFound(e.to_string()),
            DatasetError::Csv(_) => ApiError::InvalidInput(e.to_string()),
            DatasetError::TooLarge { limit } => {
                ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX))
            }
            DatasetError::Store(io) => match RegistryError::from(io) {
                RegistryError::ReadOnly(m) => ApiError::ReadOnlyStore(m),
                other => ApiError::Internal(format!("dataset store: {other}")),
            },
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::ModelNotFound(_)
            | RegistryError::VersionNotFound { .. }
            | RegistryError::AliasNotFound { .. } => ApiError::NotFound(e.to_string()),
            RegistryError::AliasInUse { .. } => ApiError::Conflict(e.to_string()),
            RegistryError::NotReady { .. } => ApiError::Unavailable(e.to_string()),
            RegistryError::InvalidName(_) => ApiError::BadRequest(e.to_string()),
            RegistryError::Store(_) => ApiError::Internal(e.to_string()),
            RegistryError::ReadOnly(m) => ApiError::ReadOnlyStore(m),
            RegistryError::InvalidModel(_) => ApiError::InvalidInput(e.to_string()),
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Registry(e) => e.into(),
            ServeError::Model(e) => e.into(),
            ServeError::Feedback(e) => e.into(),
            ServeError::NonFinitePrediction { .. } => ApiError::InvalidInput(e.to_string()),
            ServeError::Lost(_) | ServeError::Metrics(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<FeedbackError> for ApiError {
    fn from(e: FeedbackError) -> Self {
        match e {
            FeedbackError::UnknownRequest(_) => ApiError::NotFound(e.to_string()),
            FeedbackError::AlreadyRecorded(_) => ApiError::Conflict(e.to_string()),
            FeedbackError::Invalid(m) => ApiError::InvalidInput(m),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::QueueFull(_) => ApiError::Busy(e.to_string()),
            JobError::NotFound(_) => ApiError::NotFound(e.to_string()),
            JobError::OverBudget(m) => ApiError::InvalidInput(m),
            JobError::Disabled => ApiError::TrainingDisabled(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_answers_a_listed_code_with_its_status_class() {
        let all = [
            ApiError::InvalidJson(String::new()),
            ApiError::InvalidInput(String::new()),
            ApiError::BadRequest(String::new()),
            ApiError::Unauthorized,
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::Busy(String::new()),
            ApiError::TrainingDisabled(String::new()),
            ApiError::ReadOnlyStore(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Overloaded,
            ApiError::Unavailable(String::new()),
            ApiError::Timeout,
            ApiError::RequestTimeout,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for e in &all {
            let (status, code) = e.status_and_code();
            assert!(CODES.contains(&code), "{e:?} answers unlisted code {code}");
            assert!(status.is_client_error() || status.is_server_error());
            seen.insert(code);
        }
        assert_eq!(seen.len(), CODES.len(), "a listed code no variant answers");
    }

    #[test]
    fn statuses_map_back_onto_the_table() {
        for status in [
            400u16, 401, 404, 405, 408, 409, 413, 415, 429, 500, 503, 504,
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            let e = ApiError::from_status(status, "x".into());
            assert_eq!(e.status(), status, "{status}");
        }
    }

    #[test]
    fn an_internal_error_hides_its_detail_and_carries_it_for_the_log() {
        let r = ApiError::Internal("secret path /x".into()).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let detail = r.extensions().get::<InternalDetail>().map(|d| d.0.clone());
        assert_eq!(detail.as_deref(), Some("secret path /x"));
    }
}
