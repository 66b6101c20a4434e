//! Fixtures shared by the integration tests.
//!
//! # Layout
//! - [`etcd`]: [`EtcdProcess`], a real `etcd` on free loopback ports that can
//!   be stopped, restarted and compacted; [`TestEtcd`], which reuses the etcd
//!   named by `DROVER_TEST_ETCD_ENDPOINTS` (with a unique key prefix) or
//!   spawns one.
//!   [`EtcdProcess::start_tls`] serves clients over TLS with client
//!   certificates made by [`tls`]; [`EtcdCluster`] runs a multi-member etcd
//!   whose members can be killed and restarted.
//! - [`tls`]: [`TlsFiles`], a throwaway CA, server and client certificate
//!   generated with the `openssl` tool.
//! - [`wait`]: `within` (a deadline) and `eventually` (poll until).
//! - [`proxy`]: [`TcpProxy`], a loopback TCP forwarder that can cut and restore
//!   connections, to simulate a client-side network partition.
//! - [`docker`]: [`busybox_image`], a local image `docker import`ed from
//!   Debian's busybox-static (no registry is reachable in tests).
//! - [`registry`]: [`TestRegistry`], a Docker Registry (HTTP API v2) on
//!   127.0.0.1 serving that busybox rootfs as a pullable image, optionally
//!   behind HTTP basic auth, recording the requests it served.

pub mod docker;
pub mod etcd;
pub mod proxy;
pub mod registry;
pub mod tls;
pub mod wait;

pub use docker::busybox_image;
pub use etcd::{EtcdCluster, EtcdProcess, FixtureError, TestEtcd, SHARED_ETCD_ENV};
pub use proxy::TcpProxy;
pub use registry::{RegistryOptions, TestRegistry};
pub use tls::TlsFiles;
