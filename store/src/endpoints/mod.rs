//! Several etcd endpoints: one client each, health checks, failover.
//!
//! [`Endpoints`] keeps one etcd [`Client`] per endpoint, connected on first
//! use and kept (its channel reconnects by itself), and the pure
//! [`EndpointSet`] that decides which endpoint to use. With more than one
//! endpoint a background task probes each every [`PROBE_INTERVAL`] with a
//! cheap linearizable read (a count-only get of the store's prefix key,
//! like `etcdctl endpoint health`) under [`PROBE_TIMEOUT`]; requests report
//! what they saw too. [`classify`] sorts request failures into the kinds
//! that decide whether a request may be sent again elsewhere (see
//! [`Retry`]). With one endpoint there is no probing and no retrying: a
//! request goes to it, once, as it always did.

pub mod choice;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions};
use tokio::sync::OnceCell;

pub use choice::{Changed, EndpointSet, Health, Observation};

/// How often each endpoint is probed (with more than one).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a probe may take before the endpoint counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Which failures allow sending a request again, to the next endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read, or anything else that may be repeated with the same result
    /// (revoking a lease): after any failure to reach or be served by the
    /// endpoint ([`Failure::NotSent`] or [`Failure::Unavailable`]).
    Idempotent,
    /// A write: only when it was certainly not sent ([`Failure::NotSent`]).
    /// One that may have been applied is never sent twice.
    IfNotSent,
}

impl Retry {
    /// Whether a request that failed with `failure` may be sent again.
    pub fn allows(self, failure: Failure) -> bool {
        matches!(
            (self, failure),
            (_, Failure::NotSent) | (Retry::Idempotent, Failure::Unavailable)
        )
    }
}

/// What a failed request says about its endpoint and its fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made: the request never left this process.
    NotSent,
    /// The connection broke, the request timed out, or the member said it
    /// cannot serve now (no leader, its own timeout): a write may or may
    /// not have been applied.
    Unavailable,
    /// The member answered with an error of the request itself (a bad
    /// argument, permission denied, ...): another member would say the same.
    Answered,
}

impl Failure {
    /// What the failure says about the endpoint's health.
    pub fn observation(self) -> Observation {
        match self {
            Failure::NotSent | Failure::Unavailable => Observation::Unreachable,
            Failure::Answered => Observation::Answered,
        }
    }
}

/// Sorts an etcd client error into a [`Failure`] kind.
///
/// tonic reports a failed connect as `Unavailable` with a
/// [`tonic::ConnectError`] in its source chain; any other status with a
/// source was made by the client's own stack (a broken connection, a
/// cancelled stream), while a status from the server has none, and etcd
/// answers `Unavailable` or `DeadlineExceeded` when it cannot serve (no
/// leader, its own request timeout).
pub fn classify(error: &etcd_client::Error) -> Failure {
    use etcd_client::Error as E;
    match error {
        // Building the connection failed: nothing was sent.
        E::TransportError(_) | E::IoError(_) => Failure::NotSent,
        E::GRpcStatus(status) => {
            let mut source = std::error::Error::source(status);
            let local = source.is_some();
            while let Some(e) = source {
                if e.is::<tonic::ConnectError>() {
                    return Failure::NotSent;
                }
                source = e.source();
            }
            match status.code() {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Failure::Unavailable,
                _ if local => Failure::Unavailable,
                _ => Failure::Answered,
            }
        }
        // The client's own stream plumbing broke.
        E::WatchError(_) | E::LeaseKeepAliveError(_) => Failure::Unavailable,
        _ => Failure::Answered,
    }
}

/// The endpoints of one [`Store`](crate::Store), their clients and health.
pub(crate) struct Endpoints {
    urls: Vec<String>,
    /// `None` for a store built around an existing client (nothing to
    /// connect; its one "endpoint" is that client).
    options: Option<ConnectOptions>,
    clients: Vec<OnceCell<Client>>,
    set: Mutex<EndpointSet>,
}

impl Endpoints {
    /// Unconnected endpoints; connect with [`connect_first`](Self::connect_first).
    pub(crate) fn new(urls: Vec<String>, options: ConnectOptions) -> Self {
        let n = urls.len();
        Self {
            urls,
            options: Some(options),
            clients: (0..n).map(|_| OnceCell::new()).collect(),
            set: Mutex::new(EndpointSet::new(n)),
        }
    }

    /// One existing client, labelled `label`; no failover.
    pub(crate) fn fixed(client: Client, label: String) -> Self {
        Self {
            urls: vec![label],
            options: None,
            clients: vec![OnceCell::new_with(Some(client))],
            set: Mutex::new(EndpointSet::new(1)),
        }
    }

    fn set(&self) -> MutexGuard<'_, EndpointSet> {
        // The set is consistent after every method: a panic elsewhere
        // while it was locked leaves nothing half-done.
        self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn len(&self) -> usize {
        self.urls.len()
    }

    /// The URL of endpoint `index`.
    pub(crate) fn url(&self, index: usize) -> &str {
        self.urls.get(index).map_or("", String::as_str)
    }

    /// The preferred endpoint's URL.
    pub(crate) fn preferred_url(&self) -> &str {
        self.url(self.set().preferred())
    }

    /// Every endpoint once, best first.
    pub(crate) fn attempt_order(&self) -> Vec<usize> {
        self.set().attempt_order()
    }

    /// Connects to the first endpoint that accepts, in order, and returns
    /// its client. Without credentials connecting only sets up the channel
    /// (the first request dials); with them it also authenticates, so an
    /// unreachable endpoint or a wrong password fails here. All failing is
    /// the first endpoint's error.
    pub(crate) async fn connect_first(&self) -> Result<Client, etcd_client::Error> {
        let mut first_err = None;
        for index in self.attempt_order() {
            match self.client(index).await {
                Ok(client) => {
                    crate::metrics::set_preferred(None, self.preferred_url());
                    return Ok(client);
                }
                Err(e) => {
                    self.observe(index, classify(&e).observation());
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err
            .unwrap_or_else(|| etcd_client::Error::InvalidArgs("no etcd endpoint".to_string())))
    }

    /// The client of endpoint `index`, connecting it if need be.
    pub(crate) async fn client(&self, index: usize) -> Result<Client, etcd_client::Error> {
        let Some(cell) = self.clients.get(index) else {
            return Err(etcd_client::Error::InvalidArgs(format!(
                "no etcd endpoint #{index}"
            )));
        };
        let client = cell
            .get_or_try_init(|| async {
                match &self.options {
                    Some(options) => {
                        Client::connect([self.url(index)], Some(options.clone())).await
                    }
                    None => Err(etcd_client::Error::InvalidArgs(
                        "a store made from a client cannot reconnect".to_string(),
                    )),
                }
            })
            .await?;
        Ok(client.clone())
    }

    /// The preferred endpoint's client if it is connected, else the first
    /// connected one in attempt order.
    pub(crate) fn current(&self) -> Option<Client> {
        self.attempt_order()
            .into_iter()
            .find_map(|i| self.clients.get(i).and_then(OnceCell::get).cloned())
    }

    /// Records an observation; logs and exports what it changed.
    pub(crate) fn observe(&self, index: usize, observation: Observation) {
        let changed = self.set().observe(index, observation);
        if let Some(health) = changed.health {
            let up = health == Health::Up;
            crate::metrics::set_endpoint_up(self.url(index), up);
            if up {
                tracing::info!(endpoint = self.url(index), "etcd endpoint is up");
            } else {
                tracing::warn!(endpoint = self.url(index), "etcd endpoint is down");
            }
        }
        if let Some((from, to)) = changed.preferred {
            crate::metrics::set_preferred(Some(self.url(from)), self.url(to));
            tracing::warn!(
                from = self.url(from),
                to = self.url(to),
                "etcd: failing over to another endpoint"
            );
        }
    }

    /// Records a request's failure on endpoint `index`.
    pub(crate) fn report(&self, index: usize, error: &etcd_client::Error) {
        self.observe(index, classify(error).observation());
    }

    /// Probes every endpoint once, concurrently.
    async fn probe_all(&self, key: &str) {
        let probes = (0..self.len()).map(|index| async move {
            let probe = async {
                let mut kv = self.client(index).await?.kv_client();
                kv.get(key, Some(GetOptions::new().with_count_only())).await
            };
            let observation = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                Ok(Ok(_)) => Observation::Answered,
                // Permission denied and the like: it answered.
                Ok(Err(e)) => classify(&e).observation(),
                Err(_) => Observation::Unreachable,
            };
            self.observe(index, observation);
        });
        futures::future::join_all(probes).await;
    }
}

/// Probes `endpoints` every [`PROBE_INTERVAL`] while any store uses them
/// (the task holds only a weak reference between rounds). Does nothing for
/// a single endpoint.
pub(crate) fn spawn_health_checker(endpoints: &Arc<Endpoints>, probe_key: String) {
    if endpoints.len() < 2 {
        return;
    }
    let weak: Weak<Endpoints> = Arc::downgrade(endpoints);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(endpoints) = weak.upgrade() else {
                return;
            };
            endpoints.probe_all(&probe_key).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, "x"))
    }

    #[test]
    fn a_failed_connect_was_not_sent() {
        let connect = tonic::ConnectError(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        let status = tonic::Status::from_error(Box::new(connect));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let error = etcd_client::Error::GRpcStatus(status);
        assert_eq!(classify(&error), Failure::NotSent);
        assert!(Retry::IfNotSent.allows(classify(&error)));
    }

    #[test]
    fn server_side_unavailability_is_retried_for_reads_only() {
        for code in [tonic::Code::Unavailable, tonic::Code::DeadlineExceeded] {
            let failure = classify(&status(code));
            assert_eq!(failure, Failure::Unavailable);
            assert!(Retry::Idempotent.allows(failure));
            assert!(!Retry::IfNotSent.allows(failure));
            assert_eq!(failure.observation(), Observation::Unreachable);
        }
    }

    #[test]
    fn a_locally_made_status_is_a_broken_connection() {
        let broken = tonic::Status::from_error(Box::new(std::io::Error::other("h2 gone")));
        assert_eq!(
            classify(&etcd_client::Error::GRpcStatus(broken)),
            Failure::Unavailable
        );
    }

    #[test]
    fn an_answer_is_not_retried_and_the_endpoint_is_up() {
        for code in [
            tonic::Code::PermissionDenied,
            tonic::Code::InvalidArgument,
            tonic::Code::NotFound,
            tonic::Code::FailedPrecondition,
        ] {
            let failure = classify(&status(code));
            assert_eq!(failure, Failure::Answered);
            assert!(!Retry::Idempotent.allows(failure));
            assert_eq!(failure.observation(), Observation::Answered);
        }
        let args = etcd_client::Error::InvalidArgs("bad".into());
        assert_eq!(classify(&args), Failure::Answered);
    }
}
