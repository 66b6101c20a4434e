//! HTTP request metrics of the server's listener:
//! `drover_http_requests_total{route,method,code}` and
//! `drover_http_request_duration_seconds{route,method}`.
//!
//! `route` is the matched route template (`/v1/job/{name}`), never the raw
//! path: a path per job or allocation would make a series per object.
//! Requests that match no route share `route="unmatched"`, and unusual
//! methods share `method="other"`, for the same reason. The duration runs
//! until the response starts, so a follow stream counts its set-up only.
//!
//! The collectors are process-wide, like the store's etcd metrics
//! ([`drover_store::metrics`]), so building several routers on one registry
//! (tests do) counts into the same series.

use std::sync::LazyLock;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The `route` of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    denied: IntCounterVec,
    audit_dropped: IntCounter,
}

static METRICS: LazyLock<HttpMetrics> = LazyLock::new(|| HttpMetrics {
    // Constant options (a test registers them): these cannot fail at run time.
    requests: IntCounterVec::new(
        Opts::new(
            "drover_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
        ),
        &["route", "method", "code"],
    )
    .expect("constant counter options are valid"),
    duration: HistogramVec::new(
        HistogramOpts::new(
            "drover_http_request_duration_seconds",
            "Time until the response started, by route template and method.",
        )
        .buckets(BUCKETS.to_vec()),
        &["route", "method"],
    )
    .expect("constant histogram options are valid"),
    denied: IntCounterVec::new(
        Opts::new(
            "drover_http_denied_total",
            "Requests refused (403: no token that allows them), by route template.",
        ),
        &["route"],
    )
    .expect("constant counter options are valid"),
    audit_dropped: IntCounter::new(
        "drover_audit_dropped_total",
        "Audit log lines lost: the writer's queue was full or the file could not be written.",
    )
    .expect("constant counter options are valid"),
});

/// Counts a refused request.
pub fn count_denial(route: &str) {
    METRICS.denied.with_label_values(&[route]).inc();
}

/// Counts an audit line lost.
pub fn count_audit_drop() {
    METRICS.audit_dropped.inc();
}

/// Registers the HTTP metrics on `registry` (again is not an error) and
/// wraps every route of `router` with the layer that records them.
pub fn instrument(router: Router, registry: &Registry) -> Router {
    for collector in [
        Box::new(METRICS.requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(METRICS.duration.clone()),
        Box::new(METRICS.denied.clone()),
        Box::new(METRICS.audit_dropped.clone()),
    ] {
        match registry.register(collector) {
            Ok(()) | Err(prometheus::Error::AlreadyReg) => {}
            // Only a clashing metric of the same name could do this; serve
            // the API without these metrics rather than not at all.
            Err(e) => tracing::warn!(error = %e, "registering the HTTP metrics failed"),
        }
    }
    // `layer`, not `route_layer`: it runs after routing (so the matched
    // path is known) and also wraps the fallbacks (unknown routes).
    router.layer(axum::middleware::from_fn(record))
}

async fn record(req: Request, next: Next) -> Response {
    let route = route_label(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = method_label(req.method());
    let started = tokio::time::Instant::now();
    let response = next.run(req).await;
    METRICS
        .duration
        .with_label_values(&[route.as_str(), method])
        .observe(started.elapsed().as_secs_f64());
    let code = response.status().as_u16().to_string();
    METRICS
        .requests
        .with_label_values(&[route.as_str(), method, code.as_str()])
        .inc();
    response
}

/// The `route` label: the matched template, or [`UNMATCHED`].
pub fn route_label(matched: Option<&str>) -> String {
    matched.map_or_else(|| UNMATCHED.to_string(), str::to_string)
}

/// The `method` label: the standard methods by name, anything else
/// `other` (a client can send any token as a method).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_or_unmatched() {
        assert_eq!(route_label(Some("/v1/job/{name}")), "/v1/job/{name}");
        assert_eq!(route_label(None), UNMATCHED);
    }

    #[test]
    fn odd_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let odd = Method::from_bytes(b"PURGE").expect("a valid token");
        assert_eq!(method_label(&odd), "other");
    }

    #[tokio::test]
    async fn the_layer_labels_by_template() {
        use axum::routing::get;
        use tower::ServiceExt as _;
        let registry = Registry::new();
        let router = instrument(
            Router::new().route("/v1/thing/{id}", get(|| async { "ok" })),
            &registry,
        );
        let request = |uri: &str| {
            axum::http::Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .expect("request")
        };
        let ok = router.clone().oneshot(request("/v1/thing/abc")).await;
        assert_eq!(ok.expect("response").status(), 200);
        let missing = router.oneshot(request("/nowhere")).await;
        assert_eq!(missing.expect("response").status(), 404);
        let text = {
            let mut out = Vec::new();
            prometheus::Encoder::encode(
                &prometheus::TextEncoder::new(),
                &registry.gather(),
                &mut out,
            )
            .expect("encode");
            String::from_utf8(out).expect("utf-8")
        };
        assert!(text.contains(
            r#"drover_http_requests_total{code="200",method="GET",route="/v1/thing/{id}"}"#
        ));
        assert!(!text.contains("/v1/thing/abc"));
        assert!(text.contains(r#"route="unmatched""#));
    }
}
