//! The thin async shell: one UDP loop and one TCP listener over the same
//! snapshot channel. Both are bounded: UDP answers in place, one packet at
//! a time (an answer is a hash lookup; there is nothing to wait on), and
//! TCP holds at most `max_tcp_connections`, each closed after
//! `tcp_idle_timeout` without a complete query.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};

use super::metrics::DnsMetrics;
use super::wire::{handle, Transport};
use super::{DnsConfig, Snapshot};

/// The largest UDP query we read; longer datagrams arrive cut and answer
/// FORMERR. Queries are tiny; this leaves room for EDNS options.
const UDP_READ_MAX: usize = 4096;
/// A slow reader gets this long to take an answer off a TCP connection.
const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The bound sockets: bind first, so a taken port fails start-up.
pub struct Sockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

impl Sockets {
    /// The address both listen on (the UDP one; TCP has the same port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// How many UDP ports an `addr` with port 0 tries before giving up.
const ANY_PORT_ATTEMPTS: usize = 32;

/// Binds UDP and TCP on `addr`. With port 0, TCP takes the port UDP got;
/// the kernel picks UDP and TCP ports from separate pools, so that port
/// may be taken for TCP, and another one is tried.
pub async fn bind(addr: SocketAddr) -> std::io::Result<Sockets> {
    let attempts = if addr.port() == 0 {
        ANY_PORT_ATTEMPTS
    } else {
        1
    };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok(Sockets { udp, tcp }),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrInUse)))
}

/// Serves both transports until `shutdown` turns true.
pub async fn serve(
    sockets: Sockets,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<DnsConfig>,
    metrics: DnsMetrics,
    shutdown: watch::Receiver<bool>,
) {
    let udp = serve_udp(
        sockets.udp,
        snapshots.clone(),
        Arc::clone(&config),
        metrics.clone(),
        shutdown.clone(),
    );
    let tcp = serve_tcp(sockets.tcp, snapshots, config, metrics, shutdown);
    tokio::join!(udp, tcp);
}

/// The UDP loop: receive, answer, send, until `shutdown`.
pub async fn serve_udp(
    socket: UdpSocket,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<DnsConfig>,
    metrics: DnsMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut rng = StdRng::from_os_rng();
    let mut buf = vec![0u8; UDP_READ_MAX];
    loop {
        let (len, peer) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(received) => received,
                // ICMP errors from earlier sends surface here on some
                // systems; they concern that peer, not the socket.
                Err(e) => {
                    tracing::debug!(error = %e, "dns: udp receive failed");
                    continue;
                }
            },
            () = stopped(&mut shutdown) => return,
        };
        let snapshot = Arc::clone(&snapshots.borrow());
        let answer = handle(&buf[..len], Transport::Udp, &snapshot, &config, &mut rng);
        metrics.answered(Transport::Udp, answer.as_deref());
        let Some(answer) = answer else {
            continue;
        };
        if let Err(e) = socket.send_to(&answer, peer).await {
            tracing::debug!(%peer, error = %e, "dns: udp send failed");
        }
    }
}

/// The TCP listener: one task per connection, at most
/// `max_tcp_connections` at once.
pub async fn serve_tcp(
    listener: TcpListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<DnsConfig>,
    metrics: DnsMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_tcp_connections.max(1)));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: back off, not spin.
                    tracing::warn!(error = %e, "dns: tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => return,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "dns: too many tcp connections; closing");
            continue;
        };
        let snapshots = snapshots.clone();
        let config = Arc::clone(&config);
        let shutdown = shutdown.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            metrics.tcp_opened();
            if let Err(e) = connection(stream, snapshots, config, &metrics, shutdown).await {
                tracing::debug!(%peer, error = %e, "dns: tcp connection closed");
            }
            metrics.tcp_closed();
            drop(slot);
        });
    }
}

/// Queries on one connection, each a 2-byte length then the message
/// (RFC 1035 §4.2.2), answered in order until the client closes, idles
/// past the timeout, or the server shuts down.
async fn connection(
    mut stream: TcpStream,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<DnsConfig>,
    metrics: &DnsMetrics,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut rng = StdRng::from_os_rng();
    let mut buf = Vec::new();
    loop {
        let read = async {
            let len = stream.read_u16().await?;
            buf.resize(usize::from(len), 0);
            stream.read_exact(&mut buf).await?;
            std::io::Result::Ok(())
        };
        tokio::select! {
            read = tokio::time::timeout(config.tcp_idle_timeout, read) => match read {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            },
            () = stopped(&mut shutdown) => return Ok(()),
        }
        let snapshot = Arc::clone(&snapshots.borrow());
        let answer = handle(&buf, Transport::Tcp, &snapshot, &config, &mut rng);
        metrics.answered(Transport::Tcp, answer.as_deref());
        let Some(answer) = answer else {
            // A packet not worth answering is not worth keeping the
            // connection for either.
            return Ok(());
        };
        // `handle` keeps TCP answers within u16::MAX.
        let len = u16::try_from(answer.len()).unwrap_or(u16::MAX);
        let write = async {
            stream.write_u16(len).await?;
            stream.write_all(&answer).await?;
            stream.flush().await
        };
        match tokio::time::timeout(TCP_WRITE_TIMEOUT, write).await {
            Ok(result) => result?,
            Err(_) => return Ok(()),
        }
    }
}

/// Completes once `shutdown` is true (or its sender is gone). The guard
/// `wait_for` returns is dropped here: held across an await it would make
/// the serving futures `!Send`.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_port_gives_udp_and_tcp_the_same_port() {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        for _ in 0..8 {
            let sockets = bind(any).await.expect("bind");
            let udp = sockets.udp.local_addr().expect("udp addr");
            let tcp = sockets.tcp.local_addr().expect("tcp addr");
            assert_eq!(udp, tcp);
        }
    }

    #[tokio::test]
    async fn a_named_port_taken_for_tcp_is_an_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("tcp");
        let addr = taken.local_addr().expect("addr");
        let err = bind(addr).await.err().expect("the port is taken");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    }
}
