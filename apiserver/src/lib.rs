//! The apiserver: REST API, Consul-compatible catalog and KV, DNS, /metrics.
//!
//! # Layout
//! - [`api`]: the REST API under `/v1` (jobs, allocations, nodes, …).
//! - [`http`]: the HTTP listener `drover server` runs (default
//!   127.0.0.1:4646). Today it serves `/metrics` (Prometheus text format)
//!   and `/v1/status/leader`; the REST API joins it with the apiserver issue.

pub mod api;
pub mod http;
