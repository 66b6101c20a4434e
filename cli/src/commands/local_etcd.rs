//! A local etcd as a child process for `drover dev`,
//! which must work on a machine with nothing but the etcd binary.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
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

/// Where and how a [`LocalEtcd`] runs beyond its data directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtcdOptions {
    /// Client and peer ports to use when both are free (else free ones).
    pub preferred_ports: Option<(u16, u16)>,
    /// In its own process group, so a terminal's Ctrl-C reaches it only
    /// through its parent, which can stop it last.
    pub own_process_group: bool,
}

impl LocalEtcd {
    /// Starts `etcd` from PATH with its data under `data_dir`, on free
    /// loopback ports unless `options` prefers some, and waits until it answers.
    pub async fn start_with(data_dir: &Path, options: EtcdOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let (client_port, peer_port) = match options.preferred_ports {
            Some((c, p)) if port_free(c) && port_free(p) => (c, p),
            _ => (free_port()?, free_port()?),
        };
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = data_dir.join("etcd.log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("opening the etcd log")?;
        let mut command = Command::new("etcd");
        if options.own_process_group {
            command.process_group(0);
        }
        let child = command
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

    /// SIGTERM, then SIGKILL if it is still there after `grace`: etcd
    /// flushes its WAL on a clean stop, so a restart finds the data whole.
    pub async fn stop(mut self, grace: Duration) {
        terminate(&mut self.child, grace).await;
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

/// Sends SIGTERM (through `kill(1)`: the workspace forbids `unsafe`, so no
/// libc) and waits up to `grace` before killing.
pub async fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let started = Instant::now();
    while started.elapsed() < grace {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}
