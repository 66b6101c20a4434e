//! The DNS server for the service catalog, Consul's interface: `<service>.service.consul`,
//! `<tag>.<service>.service.consul`, `_<service>._tcp.service.consul` (SRV),
//! `<service>.service.<dc>.consul`, `<node>.node.consul`, over UDP and TCP.
//!
//! # Layout
//! - [`health`]: whether an instance serves traffic (critical checks out).
//! - [`catalog`]: the immutable [`Snapshot`] queries are answered from,
//!   rebuilt from the [`CatalogView`](crate::catalog_view::CatalogView)
//!   on every catalog change.
//! - [`name`]: which catalog question a query name asks.
//! - [`answer`]: the pure core, request message + snapshot → response.
//! - [`wire`]: bytes in, bytes out: malformed packets, truncation.
//! - [`server`]: the UDP loop and the TCP listener, both bounded.
//! - [`metrics`]: queries by transport and response code, TCP connections.

pub mod answer;
pub mod catalog;
pub mod health;
pub mod metrics;
pub mod name;
pub mod server;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use tokio::sync::watch;

use crate::catalog_view::CatalogView;

pub use catalog::Snapshot;
pub use metrics::DnsMetrics;
pub use server::{bind, serve, Sockets};

/// Serves DNS on `sockets` from `view` until `shutdown` turns true.
pub async fn run(
    view: CatalogView,
    sockets: Sockets,
    config: DnsConfig,
    metrics: DnsMetrics,
    shutdown: watch::Receiver<bool>,
) {
    let (snapshots, follower) = catalog::follow(view);
    serve(sockets, snapshots, Arc::new(config), metrics, shutdown).await;
    follower.abort();
}

/// What the DNS server answers and how.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The served domains, lowercase and fully qualified (`consul.`).
    pub domains: Vec<Name>,
    /// The TTL of every record, negative answers included (the SOA
    /// minimum). Consul's default, 0, makes clients see changes at once.
    pub ttl: u32,
    /// The largest UDP answer we send to a client that advertises EDNS.
    pub max_udp_payload: u16,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// TCP connections open at once; more are refused at accept.
    pub max_tcp_connections: usize,
}

/// A configuration that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DNS domain {domain:?}: {reason}")]
    Domain { domain: String, reason: String },
    #[error("no DNS domain to serve")]
    NoDomain,
    #[error("DNS TTL {0:?} is longer than a DNS TTL can be (2^31-1 seconds)")]
    Ttl(Duration),
}

impl DnsConfig {
    /// The default domains are Consul's and our own.
    pub const DEFAULT_DOMAINS: [&'static str; 2] = ["consul", "drover"];

    pub fn new(domains: &[String], ttl: Duration) -> Result<DnsConfig, ConfigError> {
        if domains.is_empty() {
            return Err(ConfigError::NoDomain);
        }
        let mut names: Vec<Name> = Vec::new();
        for domain in domains {
            let trimmed = domain.trim().trim_end_matches('.');
            if trimmed.is_empty() {
                return Err(ConfigError::Domain {
                    domain: domain.clone(),
                    reason: "empty (the root cannot be served)".into(),
                });
            }
            let mut name = Name::from_ascii(trimmed).map_err(|e| ConfigError::Domain {
                domain: domain.clone(),
                reason: e.to_string(),
            })?;
            name.set_fqdn(true);
            let name = name.to_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let ttl_secs = ttl.as_secs();
        if ttl_secs > i32::MAX as u64 {
            return Err(ConfigError::Ttl(ttl));
        }
        Ok(DnsConfig {
            domains: names,
            ttl: ttl_secs as u32,
            ..DnsConfig::default()
        })
    }
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            domains: Self::DEFAULT_DOMAINS
                .iter()
                .filter_map(|d| Name::from_ascii(format!("{d}.")).ok())
                .collect(),
            ttl: 0,
            max_udp_payload: 4096,
            tcp_idle_timeout: Duration::from_secs(10),
            max_tcp_connections: 512,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised() {
        let config = DnsConfig::new(
            &["Consul".into(), "drover.".into(), "consul.".into()],
            Duration::from_secs(5),
        )
        .expect("test value");
        let domains: Vec<String> = config.domains.iter().map(Name::to_ascii).collect();
        assert_eq!(domains, ["consul.", "drover."]);
        assert_eq!(config.ttl, 5);
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert!(DnsConfig::new(&[], Duration::ZERO).is_err());
        assert!(DnsConfig::new(&[".".into()], Duration::ZERO).is_err());
        assert!(DnsConfig::new(&["a..b".into()], Duration::ZERO).is_err());
        assert!(DnsConfig::new(&["consul".into()], Duration::from_secs(1 << 40)).is_err());
    }

    #[test]
    fn the_default_serves_consul_and_drover() {
        let domains: Vec<String> = DnsConfig::default()
            .domains
            .iter()
            .map(Name::to_ascii)
            .collect();
        assert_eq!(domains, ["consul.", "drover."]);
    }
}
