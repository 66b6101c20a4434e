//! drover's etcd store: the only place that talks to etcd.
//!
//! All cluster state lives in etcd; this crate gives the rest of drover a
//! typed, revision-aware view of it.
//!
//! # Layout
//! - [`config`]: [`StoreConfig`] (endpoints, TLS, auth, timeouts, txn limits).
//! - [`keys`]: the key layout, one function per key; the table is there.
//! - [`codec`]: raw [`Kv`]s and the JSON [`Stored`] codec; revisions come from
//!   etcd's `mod_revision`, never from the stored bytes.
//! - [`store`]: [`Store`], the connection, and raw byte-level operations with
//!   [`Guard`]s (create-if-absent, compare-and-swap).
//! - [`endpoints`]: one client per etcd endpoint, health checks and failover;
//!   the pure [`EndpointSet`] decides which endpoint to use.
//! - [`typed`]: typed get / list / create / update / delete, for any
//!   [`ApiObject`](drover_api_types::ApiObject) or any key.
//! - [`batch`]: [`Batch`], many writes in as few transactions as etcd's limits
//!   allow; its docs say exactly what is atomic.
//! - [`watch`]: list-then-watch streams that resume after disconnects and
//!   re-list after compaction; the pure [`WatchMachine`] decides.
//! - [`reflector`]: an in-memory [`Cache`] fed by a watch, with a readiness
//!   gate.
//! - [`lease`]: [`Lease`] with background keepalive.
//! - [`secrets`]: cluster secrets (the agent API key, each node's key
//!   derived from it), made once.
//! - [`allocs`]: one allocation's status, found through its binding.
//! - [`migrate`]: one-time moves of keys whose layout changed, run as a
//!   server starts.
//! - [`node_identity`]: a node's own etcd user and role, reaching only its
//!   keys.
//! - [`metrics`]: etcd request latency and errors, endpoint health and the
//!   endpoint in use, for the binaries' `/metrics`.
//! - [`election`]: [`Election`], leader election on a lease.
//! - [`error`]: the crate's error type, [`StoreError`].

pub mod allocs;
pub mod batch;
pub mod codec;
pub mod config;
pub mod election;
pub mod endpoints;
pub mod error;
pub mod jobs;
pub mod keys;
pub mod lease;
pub mod metrics;
pub mod migrate;
pub mod node_identity;
pub mod reflector;
pub mod secrets;
pub mod store;
pub mod typed;
pub mod watch;

pub use batch::{Atomic, Batch, BatchOutcome, TxnLimits};
pub use codec::{KeyOnly, Kv, Stored, Versioned};
pub use config::StoreConfig;
pub use election::Election;
pub use endpoints::EndpointSet;
pub use error::{Result, StoreError};
pub use keys::Keys;
pub use lease::{Lease, LeaseState};
pub use reflector::{Cache, IndexFn, Reflector, Writer};
pub use store::{Guard, List, Store};
pub use watch::{RawEvent, RawWatcher, WatchEvent, WatchMachine, Watcher};
