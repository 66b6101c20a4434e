//! What stops a web page from driving the API behind its user's back: a
//! page may send a cross-site POST with a `text/plain` body without asking
//! first, and DNS rebinding can point a page's own name at a loopback
//! server. So (pure, [`refusal`]):
//! - a POST must say its body is JSON (`415` otherwise) — a page cannot
//!   send that cross-site without the browser asking the server first, and
//!   the server never says yes;
//! - a request whose `Origin` is not the server's own is refused (`403`)
//!   — WebSocket handshakes included, so a page cannot open an exec
//!   session (`/v1/client/allocation/{id}/exec`) with its visitor's
//!   credentials;
//! - a server listening on loopback answers only to loopback names in
//!   `Host` (`403` otherwise), which defeats rebinding.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Why a request is refused, if it is.
pub fn refusal(
    loopback: bool,
    method: &Method,
    headers: &HeaderMap,
) -> Option<(StatusCode, String)> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST);
    if loopback {
        if let Some(host) = host {
            if !is_loopback_name(host_name(host)) {
                return Some((
                    StatusCode::FORBIDDEN,
                    format!("Host {host:?} is not a name this server answers to (it listens on loopback)"),
                ));
            }
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let own = host.is_some_and(|h| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|o| o.eq_ignore_ascii_case(h))
        });
        if !own {
            return Some((
                StatusCode::FORBIDDEN,
                format!("requests from another origin ({origin}) are refused"),
            ));
        }
    }
    if method == Method::POST {
        let json = text(header::CONTENT_TYPE).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return Some((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a POST must carry a JSON body (Content-Type: application/json)".to_string(),
            ));
        }
    }
    None
}

/// `host` of `host:port`, `[::1]` of `[::1]:port`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    })
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The layer: refuses as [`refusal`] says, before anything else runs.
pub async fn guard(loopback: bool, req: Request, next: Next) -> Response {
    match refusal(loopback, req.method(), req.headers()) {
        Some((status, message)) => {
            crate::api::error::ApiError::new(status, message).into_response()
        }
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    #[test]
    fn a_cross_site_form_post_is_refused() {
        let h = headers(&[
            ("host", "127.0.0.1:4646"),
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ]);
        assert_eq!(
            refusal(true, &Method::POST, &h).map(|r| r.0),
            Some(StatusCode::FORBIDDEN)
        );
        let h = headers(&[("host", "127.0.0.1:4646"), ("content-type", "text/plain")]);
        assert_eq!(
            refusal(true, &Method::POST, &h).map(|r| r.0),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn the_cli_and_same_origin_pages_pass() {
        let h = headers(&[
            ("host", "127.0.0.1:4646"),
            ("content-type", "application/json; charset=utf-8"),
        ]);
        assert_eq!(refusal(true, &Method::POST, &h), None);
        let h = headers(&[
            ("host", "localhost:4646"),
            ("origin", "http://localhost:4646"),
        ]);
        assert_eq!(refusal(true, &Method::GET, &h), None);
        let h = headers(&[("host", "[::1]:4646")]);
        assert_eq!(refusal(true, &Method::DELETE, &h), None);
        // Consul's KV takes any body on PUT.
        let h = headers(&[("host", "127.0.0.1:8500"), ("content-type", "text/plain")]);
        assert_eq!(refusal(true, &Method::PUT, &h), None);
    }

    #[test]
    fn a_cross_site_websocket_handshake_is_refused() {
        // What a page of another site opening `new WebSocket(...)` to the
        // exec route sends: a GET with its own Origin.
        let h = headers(&[
            ("host", "127.0.0.1:4646"),
            ("origin", "http://evil.example"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(
            refusal(true, &Method::GET, &h).map(|r| r.0),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refusal(false, &Method::GET, &h).map(|r| r.0),
            Some(StatusCode::FORBIDDEN)
        );
        // The server's own pages may.
        let h = headers(&[
            ("host", "127.0.0.1:4646"),
            ("origin", "http://127.0.0.1:4646"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
        ]);
        assert_eq!(refusal(true, &Method::GET, &h), None);
    }

    #[test]
    fn a_rebound_name_reaches_no_loopback_server() {
        let h = headers(&[("host", "attacker.example:4646")]);
        assert_eq!(
            refusal(true, &Method::GET, &h).map(|r| r.0),
            Some(StatusCode::FORBIDDEN)
        );
        // A server on a real address answers to the names it is reached by.
        assert_eq!(refusal(false, &Method::GET, &h), None);
    }
}
