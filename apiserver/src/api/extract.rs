//! Body and query extractors that fail as the rest of the API does: JSON
//! errors (`{"error", "field"}`) instead of axum's plain-text rejections —
//! 400 for a body that is not JSON or not the expected shape, 415 without
//! `Content-Type: application/json`, 413 past [`MAX_BODY`].

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest request body accepted. A job file is kilobytes; this leaves
/// room for huge ones and dispatch payloads while bounding memory.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// `axum::Json`, rejecting as [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// `axum::extract::Query`, rejecting as [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

/// What a body rejection answers. A body that parses as JSON but not as
/// the request type is the client's mistake like any other, so 400 rather
/// than axum's 422.
pub fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let status = match rejection.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than {MAX_BODY} bytes")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "the request body must be JSON, sent with Content-Type: application/json".to_string()
        }
        _ => rejection.body_text(),
    };
    ApiError::new(status, message).at("body")
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text()).at("query")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Thing {
        #[allow(dead_code)]
        count: i64,
    }

    async fn send(content_type: Option<&str>, body: Vec<u8>) -> Result<(), ApiError> {
        let mut req = Request::post("/");
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let req = req.body(Body::from(body)).expect("request");
        ApiJson::<Thing>::from_request(req, &()).await.map(|_| ())
    }

    #[tokio::test]
    async fn rejections_are_api_errors_with_the_right_status() {
        let json = Some("application/json");
        assert!(send(json, br#"{"count": 1}"#.to_vec()).await.is_ok());
        let e = send(json, b"{not json".to_vec()).await.expect_err("syntax");
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("body"))
        );
        assert!(!e.message.is_empty());
        let e = send(json, br#"{"count": "x"}"#.to_vec())
            .await
            .expect_err("shape");
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "not 422: {e}");
        let e = send(None, br#"{"count": 1}"#.to_vec())
            .await
            .expect_err("type");
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("Content-Type: application/json"));
        // Past axum's default limit (the router sets MAX_BODY).
        let big = format!(r#"{{"count": 1, "pad": "{}"}}"#, "x".repeat(3 << 20));
        let e = send(json, big.into_bytes()).await.expect_err("too large");
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
