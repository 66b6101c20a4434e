//! The apiserver: REST API, Consul-compatible catalog and KV, DNS, /metrics.
//!
//! # Layout
//! - [`api`]: the REST API under `/v1` (jobs, allocations, nodes, …).
//! - `catalog_health`: an instance's health as Consul reports it (pure;
//!   shared by the catalog API and DNS).
//! - `catalog_synth`: the catalog services drover makes up for its own
//!   processes (`drover` for the servers, `drover-agent` for the nodes'
//!   agents), so Prometheus finds them in the catalog.
//! - [`catalog_view`]: services and nodes in memory, with the catalog
//!   index, for the Consul-compatible catalog and DNS.
//! - [`dns`]: the Consul-compatible DNS server for the catalog
//!   (`<service>.service.consul`, SRV, tags, nodes), over UDP and TCP.
//! - [`http`]: the HTTP listener `drover server` runs (default
//!   127.0.0.1:4646): `/metrics`, `/v1/status/leader`, and [`api`] beside
//!   them; slow clients are cut off (header and response deadlines); the
//!   listener itself (plain or TLS) is `drover_serve`'s.
//! - `metrics`: the HTTP request metrics layer (by route template).
//! - [`audit`]: the audit log (changes and refusals, one JSON line each,
//!   rotated by size).
//! - `browser`: what stops a web page from driving the API (JSON-only
//!   POSTs, foreign origins and, on loopback, foreign `Host` names refused).
//! - [`ui`]: the web UI at `/ui`, rendered on the server from the same API,
//!   called in process with the visitor's token.

pub mod api;
pub mod audit;
pub(crate) mod browser;
pub(crate) mod catalog_health;
pub(crate) mod catalog_synth;
pub mod catalog_view;
pub mod dns;
pub mod http;
pub(crate) mod metrics;
pub mod ui;
