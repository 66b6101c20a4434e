//! [`Store`]: the connection, and raw byte-level operations.
//!
//! Every unary call runs under the configured request timeout (tokio's clock)
//! and maps failures to [`StoreError`] with the operation and key. The typed
//! API in [`crate::typed`] is built on these.

use std::future::Future;
use std::sync::Arc;

use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn,
    TxnOp, TxnOpResponse, TxnResponse,
};

use crate::codec::Kv;
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::keys::Keys;

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
/// connection.
#[derive(Clone)]
pub struct Store {
    client: Client,
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
    /// Connects with `config`.
    pub async fn connect(config: StoreConfig) -> Result<Self> {
        let client = config.connect().await?;
        Ok(Self::from_client(client, config))
    }

    /// Wraps an existing client (the config still supplies prefix and limits).
    pub fn from_client(client: Client, config: StoreConfig) -> Self {
        Self {
            client,
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

    /// A clone of the underlying etcd client, for what this API lacks.
    pub fn client(&self) -> Client {
        self.client.clone()
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
        let key = self.keys.prefix().to_string();
        let opts = GetOptions::new().with_count_only();
        let mut kv = self.client.kv_client();
        let resp = self
            .timed("get", &key, kv.get(key.as_str(), Some(opts)))
            .await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    /// Reads one key.
    pub async fn get_raw(&self, key: &str) -> Result<Option<Kv>> {
        let mut kv = self.client.kv_client();
        let resp = self.timed("get", key, kv.get(key, None)).await?;
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
            let mut kv = self.client.kv_client();
            let resp = self
                .timed("list", prefix, kv.get(start.clone(), Some(opts)))
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
        let mut kv = self.client.kv_client();
        let label = revision.to_string();
        self.timed(
            "compact",
            &label,
            kv.compact(revision, Some(CompactionOptions::new())),
        )
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
            let mut kv = self.client.kv_client();
            let resp = self.timed("put", key, kv.put(key, value, opts)).await?;
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
            let mut kv = self.client.kv_client();
            let resp = self.timed("delete", key, kv.delete(key, None)).await?;
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
        let mut kv = self.client.kv_client();
        let resp = self
            .timed("delete", prefix, kv.delete(prefix, Some(opts)))
            .await?;
        Ok(resp.deleted())
    }

    /// Runs a raw etcd transaction under the request timeout.
    pub async fn txn(&self, label: &str, txn: Txn) -> Result<TxnResponse> {
        let mut kv = self.client.kv_client();
        self.timed("txn", label, kv.txn(txn)).await
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
        let mut kv = self.client.kv_client();
        let resp = self.timed(op, key, kv.txn(txn)).await?;
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
