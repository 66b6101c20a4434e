//! A local etcd as a child process: for `drover bench` (and `drover dev`),
//! which must work on a machine with nothing but the etcd binary.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_store::{Store, StoreConfig};

/// A running etcd, killed when dropped.
pub struct LocalEtcd {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl LocalEtcd {
    /// Starts `etcd` from PATH with its data under `data_dir`, on free
    /// loopback ports, and waits until it answers.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let client = format!("http://127.0.0.1:{}", free_port()?);
        let peer = format!("http://127.0.0.1:{}", free_port()?);
        let log = data_dir.join("etcd.log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("opening the etcd log")?;
        let child = Command::new("etcd")
            .arg("--name=drover")
            .arg(format!("--data-dir={}", data_dir.join("member-data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=drover={peer}"))
            .arg("--quota-backend-bytes=8589934592")
            .arg("--auto-compaction-mode=revision")
            .arg("--auto-compaction-retention=100000")
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow::anyhow!(
                    "etcd is not on PATH: install it (Debian: apt-get install etcd-server) or pass --etcd URL"
                ),
                _ => anyhow::anyhow!("starting etcd: {e}"),
            })?;
        let mut etcd = LocalEtcd {
            child,
            endpoint: client,
            log,
        };
        etcd.wait_healthy().await?;
        Ok(etcd)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut config = StoreConfig::new(vec![self.endpoint.clone()], "/drover");
        config.connect_timeout_ms = 500;
        config.request_timeout_ms = 500;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for etcd")? {
                bail!(
                    "etcd exited with {status} during start-up; see {}",
                    self.log.display()
                );
            }
            if let Ok(store) = Store::connect(config.clone()).await {
                if store.current_revision().await.is_ok() {
                    return Ok(());
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!(
                    "etcd at {} did not answer within 20s; see {}",
                    self.endpoint,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}
