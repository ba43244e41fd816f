//! The one error type of the HTTP surface and its mapping onto API.md's
//! `{"error": "...", "code": "..."}` body and status codes.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::ModelError;
use crate::registry::RegistryError;
use crate::train::TrainError;

/// The body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub error: String,
    /// Stable machine code: `invalid_json`, `invalid_input`, `not_found`, `conflict`,
    /// `payload_too_large`, `unauthorized`, `busy`, `overloaded`, `timeout`, `internal`.
    pub code: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    /// 422: well-formed JSON whose content is unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// 400: a malformed path or query parameter.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("missing or wrong API key: send Authorization: Bearer <key>")]
    Unauthorized,
    #[error("{0}")]
    Busy(String),
    #[error("server is overloaded, retry later")]
    Overloaded,
    #[error("request timed out")]
    Timeout,
    #[error("{0}")]
    Unavailable(String),
    /// Logged in full; the client sees only a generic message.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidInput(_) | ApiError::BadRequest(_) => "invalid_input",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Busy(_) => "busy",
            ApiError::Overloaded => "overloaded",
            ApiError::Timeout => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code(),
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Valid JSON of the wrong shape (missing or unknown field, wrong type).
            JsonRejection::JsonDataError(e) => ApiError::InvalidInput(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => ApiError::InvalidJson(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::InvalidJson("expected Content-Type: application/json".into())
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

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        ApiError::InvalidInput(e.to_string())
    }
}

impl From<TrainError> for ApiError {
    fn from(e: TrainError) -> Self {
        if e.is_internal() {
            ApiError::Internal(e.to_string())
        } else {
            ApiError::InvalidInput(e.to_string())
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
            RegistryError::InvalidModel(_) => ApiError::InvalidInput(e.to_string()),
        }
    }
}
