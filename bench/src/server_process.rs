//! `drover server` as a child process of a benchmark, so its memory is its
//! own and it is killed when the benchmark ends, however it ends.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

use super::measure::proc_status_mb;

pub struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Starts this binary's `server` against `endpoints` under `prefix`,
    /// logging warnings to `scratch/server.log`; `extra` are more flags.
    pub fn start(
        endpoints: &[String],
        prefix: &str,
        scratch: &Path,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let exe = crate::measure::drover_binary()?;
        let log = std::fs::File::create(scratch.join("server.log")).context("server log")?;
        let mut command = Command::new(exe);
        command
            .arg("server")
            .arg(format!("--etcd={}", endpoints.join(",")))
            .arg(format!("--etcd-prefix={prefix}"))
            .arg("--log-level=warn")
            .arg("--election-ttl=5s");
        // Free ports unless told: a `drover dev` may hold the defaults.
        if !extra.iter().any(|a| a.starts_with("--http-addr")) {
            command.arg("--http-addr=127.0.0.1:0");
        }
        if !extra.iter().any(|a| a.starts_with("--dns-addr")) {
            command.arg("--dns-addr=127.0.0.1:0");
        }
        let child = command
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting drover server")?;
        Ok(Self { child })
    }

    /// Peak resident set (VmHWM), in MB; 0 where /proc is not available.
    pub fn peak_rss_mb(&self) -> f64 {
        proc_status_mb(self.child.id(), "VmHWM")
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
