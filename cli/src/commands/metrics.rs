//! The registry each long-running command (`server`, `agent`) serves at
//! `/metrics`, with what every component shares: `drover_build_info` and
//! the etcd request metrics of the store.

use anyhow::Context as _;
use prometheus::{IntGaugeVec, Opts, Registry};

/// The version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit of this build (`unknown` when built without git).
pub const COMMIT: &str = env!("DROVER_GIT_COMMIT");

/// A fresh registry with `drover_build_info` and the etcd metrics on it.
pub fn process_registry() -> anyhow::Result<Registry> {
    let registry = Registry::new();
    let build_info = IntGaugeVec::new(
        Opts::new(
            "drover_build_info",
            "Always 1; the labels say which build runs.",
        ),
        &["version", "commit"],
    )
    .context("creating drover_build_info")?;
    build_info.with_label_values(&[VERSION, COMMIT]).set(1);
    registry
        .register(Box::new(build_info))
        .context("registering drover_build_info")?;
    drover_store::metrics::register(&registry).context("registering the etcd metrics")?;
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_one_with_version_and_commit() {
        let registry = process_registry().expect("registry");
        let families = registry.gather();
        let info = families
            .iter()
            .find(|f| f.name() == "drover_build_info")
            .expect("build info");
        let metric = &info.get_metric()[0];
        assert_eq!(metric.get_gauge().value(), 1.0);
        let labels: Vec<(&str, &str)> = metric
            .get_label()
            .iter()
            .map(|l| (l.name(), l.value()))
            .collect();
        assert!(labels.contains(&("version", VERSION)));
        assert!(labels.iter().any(|(n, v)| *n == "commit" && !v.is_empty()));
    }
}
