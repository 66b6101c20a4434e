//! The crate's one error type.
//!
//! Every variant names what was being done and to which key, so a log line or
//! a CLI message is enough to locate the problem without a backtrace.

use std::path::PathBuf;

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// etcd (or the connection to it) failed an operation.
    #[error("etcd {op} {key}: {source}")]
    Etcd {
        op: &'static str,
        key: String,
        #[source]
        source: etcd_client::Error,
    },

    /// An operation did not finish within the configured request timeout.
    #[error("etcd {op} {key}: timed out after {timeout_ms} ms")]
    Timeout {
        op: &'static str,
        key: String,
        timeout_ms: u64,
    },

    /// Connecting failed (bad endpoint, TLS or credentials).
    #[error("connecting to etcd at {endpoints}: {source}")]
    Connect {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },

    /// A create found the key already present.
    #[error("{key} already exists")]
    AlreadyExists { key: String },

    /// The key does not exist.
    #[error("{key} not found")]
    NotFound { key: String },

    /// Optimistic concurrency failed: the key changed since it was read.
    /// Re-read and recompute; never retry blindly.
    #[error("conflict on {key}: expected revision {expected}, found {}", display_rev(*.actual))]
    Conflict {
        key: String,
        expected: i64,
        /// The current mod revision, `None` if the key is gone.
        actual: Option<i64>,
    },

    /// A value could not be serialised.
    #[error("encoding {key} as JSON: {source}")]
    Encode {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// A stored value could not be deserialised as the expected type.
    #[error("decoding {key} from JSON: {source}")]
    Decode {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// A key segment (namespace, name, id) cannot be used in a key.
    #[error("invalid key segment {segment:?}: {reason}")]
    InvalidKey {
        segment: String,
        reason: &'static str,
    },

    /// etcd returned a key that is not UTF-8 (drover never writes one).
    #[error("etcd returned a non UTF-8 key {key:?}")]
    NonUtf8Key { key: String },

    /// The configuration cannot work.
    #[error("store configuration: {0}")]
    Config(String),

    /// A TLS file could not be read.
    #[error("reading {path}: {source}")]
    TlsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One atomic unit of a batch exceeds the per-transaction limits.
    #[error("batch unit {index} (first key {key}) needs {ops} ops / {bytes} bytes, over the limit of {max_ops} ops / {max_bytes} bytes")]
    BatchUnitTooLarge {
        index: usize,
        key: String,
        ops: usize,
        bytes: usize,
        max_ops: usize,
        max_bytes: usize,
    },

    /// A batch failed part-way: the first `applied` units are committed.
    #[error("batch failed after {applied} of {total} units were committed: {source}")]
    BatchIncomplete {
        applied: usize,
        total: usize,
        #[source]
        source: Box<StoreError>,
    },

    /// The lease expired or was revoked; keys attached to it are gone.
    #[error("lease {id:x} expired or was revoked")]
    LeaseLost { id: i64 },
}

fn display_rev(rev: Option<i64>) -> String {
    rev.map_or_else(|| "no key".to_string(), |r| r.to_string())
}

impl StoreError {
    pub(crate) fn etcd(
        op: &'static str,
        key: impl Into<String>,
        source: etcd_client::Error,
    ) -> Self {
        Self::Etcd {
            op,
            key: key.into(),
            source,
        }
    }

    /// Whether this is an optimistic-concurrency conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}
