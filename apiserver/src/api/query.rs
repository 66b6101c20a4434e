//! Query parameters every read accepts — `namespace` (`*` for all),
//! `index` and `wait` for blocking queries — and the `X-Drover-Index`
//! header every read answers with.
//!
//! A blocking query (`?index=N&wait=30s`) returns once something in the
//! collections the endpoint reads changed after revision N, or when the
//! wait (at most [`MAX_WAIT`], default [`DEFAULT_WAIT`]) is over; either
//! way the answer carries the revision it was read at, to pass as the next
//! `index`.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use super::feed::Feed;

pub const INDEX_HEADER: &str = "x-drover-index";
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
pub const MAX_WAIT: Duration = Duration::from_secs(600);
pub const DEFAULT_NAMESPACE: &str = "default";

/// The common read parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// `None` means every namespace (`namespace=*`).
    pub namespace: Option<String>,
    pub index: Option<i64>,
    pub wait: Duration,
}

impl ReadOptions {
    /// Parses the query string; unknown parameters are the endpoint's to
    /// judge, so they are left alone here.
    pub fn parse(query: &HashMap<String, String>) -> Result<ReadOptions, ApiError> {
        let namespace = match query.get("namespace").map(String::as_str) {
            None | Some("") => Some(DEFAULT_NAMESPACE.to_string()),
            Some("*") => None,
            Some(ns) => Some(ns.to_string()),
        };
        let index = query
            .get("index")
            .map(|v| {
                v.parse::<i64>().ok().filter(|i| *i >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "index must be a revision (a whole number ≥ 0), got {v:?}"
                    ))
                    .at("index")
                })
            })
            .transpose()?;
        let wait = match query.get("wait") {
            None => DEFAULT_WAIT,
            Some(v) => drover_api_types::Duration::parse(v)
                .map(|d| d.as_std())
                .map_err(|e| ApiError::bad_request(format!("{e}")).at("wait"))?,
        };
        Ok(ReadOptions {
            namespace,
            index,
            wait: wait.min(MAX_WAIT),
        })
    }

    /// The namespace a write or single-object read addresses.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// Blocks as the query asks (no-op without `index`).
    pub async fn block(&self, feed: &Feed, collections: &[&str]) {
        if let Some(index) = self.index {
            feed.wait_past(collections, index, self.wait).await;
        }
    }
}

/// A JSON answer with the revision it was read at.
pub struct Indexed<T>(pub i64, pub T);

impl<T: Serialize> IntoResponse for Indexed<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.1).into_response();
        if let Ok(value) = HeaderValue::from_str(&self.0.to_string()) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(INDEX_HEADER), value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_all_namespaces() {
        let o = ReadOptions::parse(&q(&[])).expect("parse");
        assert_eq!(o.namespace.as_deref(), Some("default"));
        assert_eq!((o.index, o.wait), (None, DEFAULT_WAIT));
        let o = ReadOptions::parse(&q(&[("namespace", "*")])).expect("parse");
        assert_eq!(o.namespace, None);
        assert_eq!(o.namespace_or_default(), "default");
    }

    #[test]
    fn index_and_wait_are_checked_and_wait_is_capped() {
        let o = ReadOptions::parse(&q(&[("index", "42"), ("wait", "2s")])).expect("parse");
        assert_eq!((o.index, o.wait), (Some(42), Duration::from_secs(2)));
        let o = ReadOptions::parse(&q(&[("wait", "1h")])).expect("parse");
        assert_eq!(o.wait, MAX_WAIT);
        let e = ReadOptions::parse(&q(&[("index", "-1")])).expect_err("negative");
        assert_eq!(e.field.as_deref(), Some("index"));
        let e = ReadOptions::parse(&q(&[("wait", "soon")])).expect_err("bad wait");
        assert_eq!(e.field.as_deref(), Some("wait"));
    }
}
