//! Errors as the API answers them: a status and a JSON body
//! `{"error": "...", "field": "..."}` (`field` names the offending input,
//! such as `job "web" group "api"` or the query parameter).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use drover_api::ApiErrorBody;
use drover_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// Names the input that is wrong.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// What a reference resolved to ([`drover_api_types::resolve::resolve`]),
/// as the API answers: nothing is a 404, an ambiguous prefix a 400, both
/// naming `field`.
pub fn resolved(
    result: Result<usize, drover_api_types::resolve::ResolveError>,
    field: &str,
) -> ApiResult<usize> {
    use drover_api_types::resolve::ResolveError;
    result.map_err(|e| match e {
        ResolveError::NotFound(m) => ApiError::not_found(m).at(field),
        ResolveError::Ambiguous { message, .. } => ApiError::bad_request(message).at(field),
    })
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: self.message,
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => StatusCode::CONFLICT,
            StoreError::InvalidKey { .. } => StatusCode::BAD_REQUEST,
            StoreError::Timeout { .. } | StoreError::Etcd { .. } | StoreError::Connect { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, "request failed in the store");
        }
        ApiError::new(status, e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses() {
        let conflict = StoreError::Conflict {
            key: "k".into(),
            expected: 3,
            actual: Some(4),
        };
        assert_eq!(ApiError::from(conflict).status, StatusCode::CONFLICT);
        let bad = StoreError::InvalidKey {
            segment: "a/b".into(),
            reason: "contains /",
        };
        assert_eq!(ApiError::from(bad).status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_field_leads_the_display() {
        let e = ApiError::bad_request("must be at least 0").at("count");
        assert_eq!(e.to_string(), "count: must be at least 0");
    }
}
