//! A WebSocket client over plain TCP or TLS: what `drover alloc exec`
//! opens to a server and a server to a node's agent (the exec protocol,
//! [`crate::exec`]). TLS is rustls with the same files as the HTTP
//! client's ([`crate::client::TlsFiles`]): the system's roots plus a CA,
//! and a client certificate for mutual TLS.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::TlsFiles;
use crate::error::ClientError;

/// How long a TCP connection, and then the TLS and WebSocket handshakes,
/// may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest URL a request carries (the `http` crate's bound on a URI,
/// which the servers' HTTP stack shares).
pub const MAX_URL: usize = 65_534;

/// A URL as an error names it: its start, when it is long.
fn short(url: &str) -> String {
    match url.char_indices().nth(120) {
        Some((i, _)) => format!("{:?}…", &url[..i]),
        None => format!("{url:?}"),
    }
}

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open WebSocket.
pub type Socket = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// Why a WebSocket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one this client can use.
    #[error("{0}")]
    Address(String),
    /// No connection: refused, timed out, TLS refused.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered the handshake with an HTTP error.
    #[error("{}", crate::error::api_error_message(*.status, body))]
    Refused { status: u16, body: String },
}

impl TlsFiles {
    /// A rustls client configuration trusting the system's roots and
    /// `ca_cert`, presenting the client certificate when given one.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let tls = |path: &std::path::Path, e: &dyn std::fmt::Display| {
            ClientError::Tls(format!("{}: {e}", path.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped: a CA given by file
        // may be all a cluster needs.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &self.ca_cert {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| tls(path, &e))? {
                roots
                    .add(cert.map_err(|e| tls(path, &e))?)
                    .map_err(|e| tls(path, &e))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let mut config =
            match (&self.client_cert, &self.client_key) {
                (Some(cert), Some(key)) => {
                    let chain = CertificateDer::pem_file_iter(cert)
                        .map_err(|e| tls(cert, &e))?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| tls(cert, &e))?;
                    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls(key, &e))?;
                    builder
                        .with_client_auth_cert(chain, key_der)
                        .map_err(|e| tls(cert, &e))?
                }
                (None, None) => builder.with_no_client_auth(),
                _ => return Err(ClientError::Tls(
                    "a client certificate needs its key: give both --client-cert and --client-key"
                        .into(),
                )),
            };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The limits a WebSocket reads with: messages and frames of at most
/// `max_message` bytes.
pub fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Opens a WebSocket to `url` (`http`/`ws` or `https`/`wss`) with extra
/// `headers`; TLS with `tls` (required for `https`).
pub async fn connect(
    url: &str,
    headers: &[(&str, &str)],
    tls: Option<Arc<rustls::ClientConfig>>,
    max_message: usize,
) -> Result<Socket, ConnectError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConnectError::Address(format!("{} is not a URL: {e}", short(url))))?;
    let secure = match parsed.scheme() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        other => {
            return Err(ConnectError::Address(format!(
                "{}: the scheme {other:?} is neither http nor https",
                short(url)
            )))
        }
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| ConnectError::Address(format!("{} names no host", short(url))))?
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| ConnectError::Address(format!("{} names no port", short(url))))?;
    let mut ws_url = parsed.clone();
    // Only the scheme changes; `set_scheme` refuses no http → ws change.
    let _ = ws_url.set_scheme(if secure { "wss" } else { "ws" });
    if ws_url.as_str().len() > MAX_URL {
        return Err(ConnectError::Address(format!(
            "the request is too long to send: its URL is {} bytes, and HTTP allows at most {MAX_URL}",
            ws_url.as_str().len()
        )));
    }
    let mut request = ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Address(format!("{}: {e}", short(url))))?;
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ConnectError::Address(format!("header {name:?}: {e}")))?;
        let value = tungstenite::http::HeaderValue::from_str(value)
            .map_err(|e| ConnectError::Address(format!("header {name}: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    // `[::1]` as a URL host is `::1` to connect to.
    let dial = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((dial.as_str(), port)),
    )
    .await
    .map_err(|_| ConnectError::Unreachable("connecting timed out".into()))?
    .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if secure {
        let tls = tls.ok_or_else(|| {
            ConnectError::Address(format!(
                "{} is https but no TLS settings were given",
                short(url)
            ))
        })?;
        let name = ServerName::try_from(dial.clone())
            .map_err(|e| ConnectError::Address(format!("{host:?}: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(tls);
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp))
            .await
            .map_err(|_| ConnectError::Unreachable("the TLS handshake timed out".into()))?
            .map_err(|e| ConnectError::Unreachable(format!("TLS: {e}")))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let handshake =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config(max_message)));
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_) => Err(ConnectError::Unreachable(
            "the WebSocket handshake timed out".into(),
        )),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Err(ConnectError::Refused { status, body })
        }
        Ok(Err(e)) => Err(ConnectError::Unreachable(e.to_string())),
    }
}
