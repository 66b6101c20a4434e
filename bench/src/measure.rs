//! What the benchmarks share: percentiles, rounding for JSON, a scratch
//! directory, a process's memory from /proc, the etcd and the `drover`
//! binary to run against.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use drover_test_support::EtcdProcess;

use anyhow::Context as _;

/// The value at quantile `q` (0..=1) of `sorted` (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// p50, p99 and max of a set of latencies in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Summary {
            count: values.len(),
            p50: percentile(&values, 0.50),
            p99: percentile(&values, 0.99),
            max: values.last().copied().unwrap_or(0.0),
        }
    }
}

/// Two decimals are plenty for figures read by people and dashboards.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A directory for this run's etcd, logs and data, unique per process.
pub fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("drover-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A `kB` field of `/proc/<pid>/status` (e.g. `VmRSS`, `VmHWM`) in MB; 0
/// where /proc is not available, so a figure is missing rather than the run.
pub fn proc_status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_or(0.0, |status| status_field_mb(&status, field))
}

fn status_field_mb(status: &str, field: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The etcd a benchmark runs against: `given` endpoints, or a fresh local
/// etcd on free ports (stopped when the handle drops).
pub async fn etcd_for(given: &[String]) -> anyhow::Result<(Option<EtcdProcess>, Vec<String>)> {
    if !given.is_empty() {
        return Ok((None, given.to_vec()));
    }
    let etcd = EtcdProcess::start().await?;
    let endpoint = etcd.endpoint();
    Ok((Some(etcd), vec![endpoint]))
}

/// A loopback address whose port nothing listens on right now.
pub fn free_addr() -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

/// A flag's duration in Nomad's syntax (`500ms`, `30s`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    drover_api_types::Duration::parse(s)
        .map(|d| d.as_std())
        .map_err(|e| e.to_string())
}

/// The `drover` binary the benchmarks start as servers and agents:
/// `$DROVER_BIN`, else the one built beside this binary.
pub fn drover_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("DROVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .context("finding this binary")?
        .with_file_name("drover");
    anyhow::ensure!(
        beside.is_file(),
        "no drover binary at {}: build it first (cargo build --release -p drover-cli) \
         or set DROVER_BIN",
        beside.display()
    );
    Ok(beside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 51.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&values, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn a_summary_sorts_its_input() {
        let s = Summary::of(vec![30.0, 10.0, 20.0]);
        assert_eq!(
            s,
            Summary {
                count: 3,
                p50: 20.0,
                p99: 30.0,
                max: 30.0
            }
        );
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }

    #[test]
    fn status_fields_are_read_in_megabytes() {
        let status = "Name:\tdrover\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_field_mb(status, "VmRSS"), 10.0);
        assert_eq!(status_field_mb(status, "VmHWM"), 20.0);
        assert_eq!(status_field_mb(status, "VmSwap"), 0.0);
        // `VmRSS` must not match a longer field name that starts with it.
        assert_eq!(status_field_mb("VmRSSx:\t1024 kB\n", "VmRSS"), 0.0);
    }
}
