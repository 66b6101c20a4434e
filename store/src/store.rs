//! [`Store`]: the connection, and raw byte-level operations.
//!
//! Every unary call runs under the configured request timeout (tokio's clock)
//! and maps failures to [`StoreError`] with the operation and key. With
//! several endpoints a call goes to the preferred one and, if that cannot be
//! reached, to the next ([`crate::endpoints`]): reads whenever the endpoint
//! failed them, writes only when they were certainly not sent. The typed
//! API in [`crate::typed`] is built on these.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn,
    TxnOp, TxnOpResponse, TxnResponse,
};
use tokio::time::Instant;

use crate::codec::Kv;
use crate::config::StoreConfig;
use crate::endpoints::{classify, spawn_health_checker, Endpoints, Observation, Retry};
use crate::error::{Result, StoreError};
use crate::keys::Keys;

/// The shortest time one read attempt gets when the request timeout is
/// shared among several endpoints.
const MIN_READ_ATTEMPT: Duration = Duration::from_secs(1);

/// A precondition on a single-key write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    /// Write unconditionally.
    None,
    /// The key must not exist (create).
    Absent,
    /// The key must exist with this `mod_revision` (compare-and-swap).
    Revision(i64),
}

impl Guard {
    pub(crate) fn compare(self, key: &str) -> Option<Compare> {
        match self {
            Guard::None => None,
            Guard::Absent => Some(Compare::create_revision(key, CompareOp::Equal, 0)),
            Guard::Revision(rev) => Some(Compare::mod_revision(key, CompareOp::Equal, rev)),
        }
    }

    /// The error to report when this guard failed, given the current kv.
    pub(crate) fn failure(self, key: &str, current: Option<&Kv>) -> StoreError {
        match self {
            Guard::Absent => StoreError::AlreadyExists {
                key: key.to_string(),
            },
            Guard::Revision(expected) => StoreError::Conflict {
                key: key.to_string(),
                expected,
                actual: current.map(|kv| kv.mod_revision),
            },
            // Unreachable in practice: an unguarded write has no compare.
            Guard::None => StoreError::Conflict {
                key: key.to_string(),
                expected: 0,
                actual: current.map(|kv| kv.mod_revision),
            },
        }
    }
}

/// A consistent listing: the items and the revision they were read at.
/// Watching from `revision + 1` misses nothing and repeats nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T> {
    pub items: Vec<T>,
    pub revision: i64,
}

/// Handle to etcd plus drover's key layout. Cheap to clone; clones share the
/// connections.
#[derive(Clone)]
pub struct Store {
    endpoints: Arc<Endpoints>,
    /// The first client connected, for [`Store::client`] should no other be.
    first: Client,
    keys: Keys,
    config: Arc<StoreConfig>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("endpoints", &self.config.endpoints)
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

impl Store {
    /// Connects with `config`: one client per endpoint, the first that
    /// accepts now, the others when needed. With several endpoints a
    /// background task checks their health while the store is in use.
    pub async fn connect(config: StoreConfig) -> Result<Self> {
        config.validate()?;
        let options = config.connect_options()?;
        let endpoints = Arc::new(Endpoints::new(config.endpoints.clone(), options));
        let first = endpoints
            .connect_first()
            .await
            .map_err(|source| StoreError::Connect {
                endpoints: config.endpoints.join(","),
                source,
            })?;
        spawn_health_checker(&endpoints, config.prefix.clone());
        Ok(Self {
            endpoints,
            first,
            keys: Keys::new(config.prefix.clone()),
            config: Arc::new(config),
        })
    }

    /// Wraps an existing client (the config still supplies prefix and limits).
    /// There is no failover: every request goes through `client`.
    pub fn from_client(client: Client, config: StoreConfig) -> Self {
        let label = config.endpoints.join(",");
        Self {
            endpoints: Arc::new(Endpoints::fixed(client.clone(), label)),
            first: client,
            keys: Keys::new(config.prefix.clone()),
            config: Arc::new(config),
        }
    }

    /// The key layout under this store's prefix.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// A clone of the etcd client of the preferred endpoint (the one the
    /// store's own requests go to first), for what this API lacks. After a
    /// failure, ask again: the preference moves off an endpoint that cannot
    /// be reached.
    pub fn client(&self) -> Client {
        self.endpoints
            .current()
            .unwrap_or_else(|| self.first.clone())
    }

    /// The URL of the preferred endpoint.
    pub fn current_endpoint(&self) -> String {
        self.endpoints.preferred_url().to_string()
    }

    /// For a stream (watch, lease keepalive): the client of the first
    /// endpoint in attempt order that connects, with its index for
    /// [`report`](Self::report).
    pub(crate) async fn stream_client(
        &self,
        op: &'static str,
        key: &str,
    ) -> Result<(usize, Client)> {
        let mut first_err = None;
        for index in self.endpoints.attempt_order() {
            match self.endpoints.client(index).await {
                Ok(client) => return Ok((index, client)),
                Err(e) => {
                    self.endpoints.report(index, &e);
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(match first_err {
            Some(e) => StoreError::etcd(op, key, e),
            None => StoreError::Config("no etcd endpoint".to_string()),
        })
    }

    /// Records that a stream on endpoint `index` failed with `error`, so
    /// the next [`stream_client`](Self::stream_client) or [`client`](Self::client)
    /// avoids it if it cannot be reached.
    pub(crate) fn report(&self, index: usize, error: &etcd_client::Error) {
        self.endpoints.report(index, error);
    }

    /// Records that a stream on endpoint `index` failed with `error` (an
    /// error from [`timed`](Self::timed), say): a timeout counts as
    /// unreachable; errors that are not etcd's say nothing.
    pub(crate) fn report_error(&self, index: usize, error: &StoreError) {
        match error {
            StoreError::Etcd { source, .. } => self.endpoints.report(index, source),
            StoreError::Timeout { .. } => self.report_unreachable(index),
            _ => {}
        }
    }

    /// Records that a stream on endpoint `index` broke or went silent.
    pub(crate) fn report_unreachable(&self, index: usize) {
        self.endpoints.observe(index, Observation::Unreachable);
    }

    /// How long one attempt of a request may take: the whole request
    /// timeout for a write or with one endpoint; for a read with several,
    /// a share of it, so a member that hangs leaves time to ask another.
    fn attempt_timeout(&self, retry: Retry) -> Duration {
        let total = self.config.request_timeout();
        let n = self.endpoints.len();
        if n < 2 || retry == Retry::IfNotSent {
            return total;
        }
        let shares = u32::try_from(n.min(3)).unwrap_or(3);
        (total / shares).max(MIN_READ_ATTEMPT).min(total)
    }

    /// Sends a request built by `send` from a client: to the preferred
    /// endpoint, then to the next ones while `retry` allows it and the
    /// request timeout is not used up. Each attempt is timed and recorded
    /// in the metrics; failures attach `op` and `key`.
    pub(crate) async fn request<T, F, Fut>(
        &self,
        op: &'static str,
        key: &str,
        retry: Retry,
        mut send: F,
    ) -> Result<T>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.config.request_timeout();
        let per_attempt = self.attempt_timeout(retry);
        let mut last_err = None;
        for index in self.endpoints.attempt_order() {
            let started = Instant::now();
            if started >= deadline {
                break;
            }
            let limit = per_attempt.min(deadline - started);
            let attempt = async {
                let client = self.endpoints.client(index).await?;
                send(client).await
            };
            let outcome = tokio::time::timeout(limit, attempt).await;
            crate::metrics::observe(op, started.elapsed(), matches!(outcome, Ok(Ok(_))));
            let (failure, err) = match outcome {
                Ok(Ok(v)) => {
                    self.endpoints.observe(index, Observation::Answered);
                    return Ok(v);
                }
                Ok(Err(e)) => (classify(&e), StoreError::etcd(op, key, e)),
                Err(_) => (
                    crate::endpoints::Failure::Unavailable,
                    StoreError::Timeout {
                        op,
                        key: key.to_string(),
                        timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    },
                ),
            };
            self.endpoints.observe(index, failure.observation());
            if !retry.allows(failure) {
                return Err(err);
            }
            if self.endpoints.len() > 1 {
                tracing::debug!(
                    endpoint = self.endpoints.url(index),
                    error = %err,
                    "etcd: trying the next endpoint"
                );
            }
            last_err = Some(err);
        }
        Err(last_err.unwrap_or_else(|| StoreError::Timeout {
            op,
            key: key.to_string(),
            timeout_ms: self.config.request_timeout_ms,
        }))
    }

    /// Runs `fut` under the request timeout, attaching `op` and `key`.
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        let started = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(self.config.request_timeout(), fut).await;
        crate::metrics::observe(op, started.elapsed(), matches!(outcome, Ok(Ok(_))));
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::etcd(op, key, e)),
            Err(_) => Err(StoreError::Timeout {
                op,
                key: key.to_string(),
                timeout_ms: self.config.request_timeout_ms,
            }),
        }
    }

    /// The current revision of the whole keyspace.
    pub async fn current_revision(&self) -> Result<i64> {
        // A key inside the prefix (`/drover/`), not the prefix itself: a
        // role granted the prefix `/drover/` may read the one and not the
        // other.
        let key = format!("{}/", self.keys.prefix());
        let opts = GetOptions::new().with_count_only();
        let resp = self
            .request("get", &key, Retry::Idempotent, |client| {
                let (key, opts) = (key.clone(), opts.clone());
                async move { client.kv_client().get(key, Some(opts)).await }
            })
            .await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    /// Reads one key.
    pub async fn get_raw(&self, key: &str) -> Result<Option<Kv>> {
        let resp = self
            .request("get", key, Retry::Idempotent, |client| async move {
                client.kv_client().get(key, None).await
            })
            .await?;
        resp.kvs().first().map(Kv::from_etcd).transpose()
    }

    /// Reads every key under `prefix` at one revision, page by page so large
    /// collections stay under gRPC message limits.
    pub async fn list_raw(&self, prefix: &str) -> Result<List<Kv>> {
        self.list_pages(prefix, false).await
    }

    async fn list_pages(&self, prefix: &str, keys_only: bool) -> Result<List<Kv>> {
        let end = prefix_end(prefix.as_bytes());
        let mut start = prefix.as_bytes().to_vec();
        let mut items = Vec::new();
        let mut revision = 0;
        loop {
            let mut opts = GetOptions::new()
                .with_range(end.clone())
                .with_limit(self.config.list_page_size);
            if keys_only {
                opts = opts.with_keys_only();
            }
            // Later pages read at the first page's revision: the listing is a
            // snapshot, so a watch from `revision + 1` fits it exactly.
            if revision > 0 {
                opts = opts.with_revision(revision);
            }
            let resp = self
                .request("list", prefix, Retry::Idempotent, |client| {
                    let (start, opts) = (start.clone(), opts.clone());
                    async move { client.kv_client().get(start, Some(opts)).await }
                })
                .await?;
            if revision == 0 {
                revision = resp.header().map_or(0, |h| h.revision());
            }
            for kv in resp.kvs() {
                items.push(Kv::from_etcd(kv)?);
            }
            match (resp.more(), resp.kvs().last()) {
                (true, Some(last)) => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok(List { items, revision }),
            }
        }
    }

    /// Every key under `prefix` with its revisions, values left out: for
    /// sweeps (garbage collection) that only need to know what exists.
    pub async fn list_keys(&self, prefix: &str) -> Result<List<Kv>> {
        self.list_pages(prefix, true).await
    }

    /// Compacts etcd's history up to `revision` (not physical: etcd frees
    /// the space in the background). Watches that were behind it re-list.
    pub async fn compact(&self, revision: i64) -> Result<()> {
        let label = revision.to_string();
        self.request("compact", &label, Retry::IfNotSent, |client| async move {
            client
                .kv_client()
                .compact(revision, Some(CompactionOptions::new()))
                .await
        })
        .await?;
        Ok(())
    }

    /// Writes `value` at `key` if `guard` holds; returns the new revision.
    /// A failed guard is [`StoreError::AlreadyExists`] or
    /// [`StoreError::Conflict`].
    pub async fn put_raw(
        &self,
        key: &str,
        value: Vec<u8>,
        guard: Guard,
        lease: Option<i64>,
    ) -> Result<i64> {
        let opts = lease.map(|id| PutOptions::new().with_lease(id));
        let Some(compare) = guard.compare(key) else {
            let resp = self
                .request("put", key, Retry::IfNotSent, |client| {
                    let (value, opts) = (value.clone(), opts.clone());
                    async move { client.kv_client().put(key, value, opts).await }
                })
                .await?;
            return Ok(resp.header().map_or(0, |h| h.revision()));
        };
        let txn = Txn::new()
            .when([compare])
            .and_then([TxnOp::put(key, value, opts)])
            .or_else([TxnOp::get(key, None)]);
        self.guarded_txn("put", key, guard, txn).await
    }

    /// Deletes `key` if `guard` holds. Returns the revision of the delete, or
    /// `None` if there was nothing to delete (only possible with
    /// [`Guard::None`]).
    pub async fn delete_raw(&self, key: &str, guard: Guard) -> Result<Option<i64>> {
        let Some(compare) = guard.compare(key) else {
            let resp = self
                .request("delete", key, Retry::IfNotSent, |client| async move {
                    client.kv_client().delete(key, None).await
                })
                .await?;
            let rev = resp.header().map_or(0, |h| h.revision());
            return Ok((resp.deleted() > 0).then_some(rev));
        };
        let txn = Txn::new()
            .when([compare])
            .and_then([TxnOp::delete(key, None)])
            .or_else([TxnOp::get(key, None)]);
        self.guarded_txn("delete", key, guard, txn).await.map(Some)
    }

    /// Deletes every key under `prefix`; returns how many were deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<i64> {
        let opts = DeleteOptions::new().with_range(prefix_end(prefix.as_bytes()));
        let resp = self
            .request("delete", prefix, Retry::IfNotSent, |client| {
                let opts = opts.clone();
                async move { client.kv_client().delete(prefix, Some(opts)).await }
            })
            .await?;
        Ok(resp.deleted())
    }

    /// Runs a raw etcd transaction under the request timeout. It is sent to
    /// another endpoint only if it certainly was not sent to the first.
    pub async fn txn(&self, label: &str, txn: Txn) -> Result<TxnResponse> {
        self.send_txn("txn", label, txn).await
    }

    async fn send_txn(&self, op: &'static str, key: &str, txn: Txn) -> Result<TxnResponse> {
        self.request(op, key, Retry::IfNotSent, |client| {
            let txn = txn.clone();
            async move { client.kv_client().txn(txn).await }
        })
        .await
    }

    /// Runs a one-key guarded txn whose failure branch reads the key, and
    /// turns a failed compare into the guard's error.
    async fn guarded_txn(
        &self,
        op: &'static str,
        key: &str,
        guard: Guard,
        txn: Txn,
    ) -> Result<i64> {
        let resp = self.send_txn(op, key, txn).await?;
        if resp.succeeded() {
            return Ok(resp.header().map_or(0, |h| h.revision()));
        }
        let current = first_get_kv(&resp)?;
        Err(guard.failure(key, current.as_ref()))
    }
}

/// The first kv returned by a Get op in a txn response.
pub(crate) fn first_get_kv(resp: &TxnResponse) -> Result<Option<Kv>> {
    for op in resp.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            return get.kvs().first().map(Kv::from_etcd).transpose();
        }
    }
    Ok(None)
}

/// The smallest key greater than every key starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): etcd reads "\0" as "to the end of the keyspace".
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/drover/jobs/"), b"/drover/jobs0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn guard_failures_map_to_distinct_errors() {
        let kv = Kv {
            key: "k".into(),
            value: vec![],
            mod_revision: 12,
            create_revision: 3,
            lease: 0,
        };
        assert!(matches!(
            Guard::Absent.failure("k", Some(&kv)),
            StoreError::AlreadyExists { .. }
        ));
        match Guard::Revision(10).failure("k", Some(&kv)) {
            StoreError::Conflict {
                expected, actual, ..
            } => assert_eq!((expected, actual), (10, Some(12))),
            other => panic!("unexpected {other:?}"),
        }
    }
}
