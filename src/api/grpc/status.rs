//! REST errors as gRPC statuses: the same message, the OIP's code for the same failure.

use tonic::{Code, Status};

use crate::api::error::ApiError;

/// The status for `e`; an internal error's detail is logged here and never sent.
pub fn to_status(e: &ApiError) -> Status {
    let code = match e {
        ApiError::InvalidJson(_)
        | ApiError::InvalidInput(_)
        | ApiError::BadRequest(_)
        | ApiError::UnsupportedMediaType(_) => Code::InvalidArgument,
        ApiError::Unauthorized => Code::Unauthenticated,
        ApiError::TrainingDisabled(_) | ApiError::ReadOnlyStore(_) => Code::PermissionDenied,
        ApiError::NotFound(_) => Code::NotFound,
        ApiError::MethodNotAllowed(_) => Code::Unimplemented,
        ApiError::Conflict(_) => Code::FailedPrecondition,
        ApiError::PayloadTooLarge(_) | ApiError::Busy(_) => Code::ResourceExhausted,
        ApiError::Overloaded | ApiError::Unavailable(_) => Code::Unavailable,
        ApiError::Timeout | ApiError::RequestTimeout => Code::DeadlineExceeded,
        ApiError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error (gRPC)");
            Code::Internal
        }
    };
    Status::new(code, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_rest_statuses() {
        let cases = [
            (
                ApiError::BadRequest("bad shape".into()),
                Code::InvalidArgument,
            ),
            (ApiError::NotFound("no model".into()), Code::NotFound),
            (ApiError::Unauthorized, Code::Unauthenticated),
            (ApiError::PayloadTooLarge(10), Code::ResourceExhausted),
            (ApiError::Overloaded, Code::Unavailable),
            (ApiError::Timeout, Code::DeadlineExceeded),
            (ApiError::Internal("secret detail".into()), Code::Internal),
        ];
        for (e, code) in cases {
            let s = to_status(&e);
            assert_eq!(s.code(), code, "{e:?}");
            assert_eq!(s.message(), e.to_string());
            assert!(!s.message().contains("secret"));
        }
    }
}
