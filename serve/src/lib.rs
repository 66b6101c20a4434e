//! Serving an axum router over plain TCP or TLS, for the server's API and
//! the agent's: one accept loop with a deadline on request headers (and on
//! the TLS handshake), a bound on connections served at once, graceful
//! shutdown, and the TLS configuration both
//! listeners take from `--tls-cert`, `--tls-key` and `--tls-client-ca`.
//!
//! # Layout
//! - [`serve`]: the accept loop (HTTP/1.1, with upgrades for the exec
//!   routes' WebSockets).
//! - [`agent_token`]: server-issued credentials for the agents' HTTP APIs.
//! - [`scrape_token`]: the token metrics scrapers present to `/metrics`.
//! - [`tls`]: a listener's TLS (and mutual TLS) configuration from PEM
//!   files.

pub mod agent_token;
pub mod scrape_token;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The token of a request's `Authorization: Bearer …` header, if it has
/// one: what servers present to agents (task logs) and scrapers to
/// `/metrics`.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// How a listener serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a client has to send a request's headers (and to finish
    /// the TLS handshake).
    pub header_read: Duration,
    /// TLS only, when set.
    pub tls: Option<tls::ServerTls>,
    /// Connections served at once; one more is closed as soon as it is
    /// accepted, so a flood of idle connections cannot take every file
    /// descriptor.
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            header_read: Duration::from_secs(10),
            tls: None,
            max_connections: 1024,
        }
    }
}

/// How long in-flight requests get to finish at shutdown (follow streams
/// would otherwise hold it forever).
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` becomes true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: Options,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let header_read = options.header_read;
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let acceptor = options.tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1.1 only, with upgrades: the exec routes switch to WebSocket.
    // A connection that upgraded leaves hyper (and its slot): the handler
    // owns it, bounds its own sessions and ends them at shutdown.
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
            .http1_only();
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read);
    while !*shutdown.borrow() {
        tokio::select! {
            // `changed`, not `wait_for`: its guard must not live across the
            // accept branch's await (the future must be Send).
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { break },
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: pause, go on.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::debug!("connection refused: {} connections already served", options.max_connections);
                    drop(stream);
                    continue;
                };
                let service = hyper_util::service::TowerToHyperService::new(router.clone());
                let (acceptor, builder, watcher) = (acceptor.clone(), builder.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let Some(acceptor) = acceptor else {
                        let connection = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(connection).await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        drop(slot);
                        return;
                    };
                    // The handshake gets as long as a request's headers: a
                    // client that stalls in it is cut off the same way.
                    let stream = match tokio::time::timeout(header_read, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let connection = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(connection).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
        }
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_bearer_token_is_read_from_authorization_only() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                value.parse().expect("header"),
            );
            headers
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("Bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&with("Bearer ")), None);
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&axum::http::HeaderMap::new()), None);
    }

    async fn get(addr: std::net::SocketAddr) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn connections_beyond_the_bound_are_closed_and_slots_come_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let (stop, stopped) = watch::channel(false);
        let options = Options {
            max_connections: 2,
            ..Options::default()
        };
        let server = tokio::spawn(serve(listener, router, options, stopped));
        assert!(get(addr).await.expect("served").contains("hello"));

        // Two idle connections hold both slots.
        let idle: Vec<tokio::net::TcpStream> = idle_connections(addr, 2).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = get(addr).await.unwrap_or_default();
        assert!(!refused.contains("hello"), "{refused:?}");
        drop(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get(addr).await.expect("served").contains("hello"));
        let _ = stop.send(true);
        let _ = server.await;
    }

    async fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        out
    }
}
