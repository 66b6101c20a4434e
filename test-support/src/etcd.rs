//! A real etcd for integration tests.
//!
//! [`EtcdProcess`] owns an `etcd` child process on free loopback ports with a
//! temporary data directory. It keeps its ports and data across
//! [`EtcdProcess::stop`] / [`EtcdProcess::restart`] so that tests can check how
//! clients ride out an outage. [`TestEtcd`] is what most tests want: the
//! shared etcd exported by `make test` when there is one, a private one
//! otherwise, and in both cases a key prefix nobody else uses.
//! [`EtcdProcess::start_tls`] starts one that serves clients over TLS and
//! requires a client certificate. [`EtcdCluster`] runs several members, any
//! of which can be killed and restarted.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{Client, CompactionOptions, ConnectOptions};
use tempfile::TempDir;

use crate::tls::TlsFiles;

/// Comma-separated client URLs of an etcd that tests may share.
pub const SHARED_ETCD_ENV: &str = "DROVER_TEST_ETCD_ENDPOINTS";

const ETCD_BIN: &str = "etcd";
const ETCDCTL_BIN: &str = "etcdctl";
const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;

/// Why a fixture could not be set up.
#[derive(Debug)]
pub struct FixtureError(String);

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

impl FixtureError {
    pub(crate) fn from_msg(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

fn fixture_err(msg: impl Into<String>) -> FixtureError {
    FixtureError::from_msg(msg)
}

/// A running (or stopped) etcd owned by the test. Killed on drop.
pub struct EtcdProcess {
    child: Option<Child>,
    data_dir: TempDir,
    client_port: u16,
    peer_port: u16,
    tls: Option<TlsFiles>,
    /// `--name`, and `--initial-cluster` / `--initial-cluster-token` when
    /// this is a member of an [`EtcdCluster`] (`None`: a cluster of one).
    name: String,
    cluster: Option<(String, String)>,
}

impl EtcdProcess {
    /// Starts etcd on free loopback ports and waits until it answers.
    pub async fn start() -> Result<Self, FixtureError> {
        Self::start_with(false).await
    }

    /// Like [`start`](Self::start), but clients must use TLS with a client
    /// certificate. The certificates are generated into the fixture's
    /// tempdir; [`tls_files`](Self::tls_files) has their paths.
    pub async fn start_tls() -> Result<Self, FixtureError> {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> Result<Self, FixtureError> {
        ensure_etcd_binary()?;
        let mut last_err = fixture_err("etcd did not start");
        // Free ports are picked by binding and releasing them, so another
        // process can grab one in between: retry on fresh ports.
        for _ in 0..START_ATTEMPTS {
            let data_dir = tempfile::Builder::new()
                .prefix("drover-etcd-")
                .tempdir()
                .map_err(|e| fixture_err(format!("creating etcd data dir: {e}")))?;
            let tls = if tls {
                Some(TlsFiles::generate(data_dir.path())?)
            } else {
                None
            };
            let mut etcd = Self::unstarted(data_dir, tls, "drover-test".to_string())?;
            match etcd.spawn_and_wait().await {
                Ok(()) => return Ok(etcd),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// A stopped etcd on fresh free ports with `data_dir`.
    fn unstarted(
        data_dir: TempDir,
        tls: Option<TlsFiles>,
        name: String,
    ) -> Result<Self, FixtureError> {
        Ok(Self {
            child: None,
            data_dir,
            client_port: free_port()?,
            peer_port: free_port()?,
            tls,
            name,
            cluster: None,
        })
    }

    /// The peer URL, e.g. `http://127.0.0.1:23801`.
    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// The client URL, e.g. `http://127.0.0.1:23791` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The CA and client certificate paths, if started with
    /// [`start_tls`](Self::start_tls).
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The client port, for proxies.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// Kills etcd (SIGKILL, like a crash); ports and data are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data dir and waits for it.
    pub async fn restart(&mut self) -> Result<(), FixtureError> {
        self.stop();
        self.spawn_and_wait().await
    }

    /// A fresh client to this etcd (with the client certificate under TLS).
    pub async fn client(&self) -> Result<Client, FixtureError> {
        connect_with(&[self.endpoint()], self.tls.as_ref()).await
    }

    /// Compacts the keyspace up to `revision` (physically, so watchers from
    /// older revisions are cancelled at once).
    pub async fn compact(&self, revision: i64) -> Result<(), FixtureError> {
        let mut client = self.client().await?;
        client
            .compact(revision, Some(CompactionOptions::new().with_physical()))
            .await
            .map(|_| ())
            .map_err(|e| fixture_err(format!("compacting etcd to {revision}: {e}")))
    }

    /// Runs `etcdctl` (API v3) against this etcd, with the client
    /// certificate under TLS, and returns its stdout.
    /// E.g. `etcd.etcdctl(&["user", "add", "root:pw"])`.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut cmd = Command::new(ETCDCTL_BIN);
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint()))
            .stdin(Stdio::null());
        if let Some(tls) = &self.tls {
            cmd.arg("--cacert")
                .arg(&tls.ca)
                .arg("--cert")
                .arg(&tls.client_cert)
                .arg("--key")
                .arg(&tls.client_key);
        }
        let output = cmd
            .args(args)
            .output()
            .map_err(|e| fixture_err(format!("running {ETCDCTL_BIN}: {e}")))?;
        if !output.status.success() {
            return Err(fixture_err(format!(
                "{ETCDCTL_BIN} {args:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.path().join("etcd.log")
    }

    async fn spawn_and_wait(&mut self) -> Result<(), FixtureError> {
        self.spawn_child()?;
        self.wait_healthy().await
    }

    /// Starts the process without waiting: a cluster member answers only
    /// once a quorum of its peers runs too.
    fn spawn_child(&mut self) -> Result<(), FixtureError> {
        let child = self.spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until etcd answers a read, or fails after [`START_TIMEOUT`]
    /// (stopping it) or as soon as the process exits.
    async fn wait_healthy(&mut self) -> Result<(), FixtureError> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(fixture_err(format!(
                        "etcd exited with {status} during start-up; log tail:\n{}",
                        log_tail(&self.log_path())
                    )));
                }
            }
            if healthy(&self.endpoint(), self.tls.as_ref()).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                self.stop();
                return Err(fixture_err(format!(
                    "etcd at {} not healthy after {START_TIMEOUT:?}; log tail:\n{}",
                    self.endpoint(),
                    log_tail(&self.log_path())
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn spawn(&self) -> Result<Child, FixtureError> {
        let client = self.endpoint();
        let peer = self.peer_url();
        let (initial_cluster, token) = self
            .cluster
            .clone()
            .unwrap_or_else(|| (format!("{}={peer}", self.name), "etcd-cluster".to_string()));
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| fixture_err(format!("opening etcd log: {e}")))?;
        let log2 = log
            .try_clone()
            .map_err(|e| fixture_err(format!("opening etcd log: {e}")))?;
        Command::new(ETCD_BIN)
            .arg(format!("--name={}", self.name))
            .arg(format!(
                "--data-dir={}",
                self.data_dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg(format!("--initial-cluster-token={token}"))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .args(self.tls.as_ref().map(tls_args).unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| fixture_err(format!("spawning {ETCD_BIN}: {e}")))
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster of etcd members on loopback, each an [`EtcdProcess`] with its
/// own ports and data directory. Members can be killed (SIGKILL) and
/// restarted with the same ports and data, to test riding out the loss of
/// one. All members are killed on drop.
pub struct EtcdCluster {
    members: Vec<EtcdProcess>,
}

impl EtcdCluster {
    /// Starts `size` members (plain HTTP) and waits until each answers.
    pub async fn start(size: usize) -> Result<Self, FixtureError> {
        if size == 0 {
            return Err(fixture_err("an etcd cluster needs at least one member"));
        }
        ensure_etcd_binary()?;
        let mut last_err = fixture_err("etcd cluster did not start");
        // As for one process: a free port may be taken before etcd binds it,
        // so start over on fresh ports.
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(size).await {
                Ok(cluster) => return Ok(cluster),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    async fn try_start(size: usize) -> Result<Self, FixtureError> {
        let token = format!("drover-test-{}", unique_prefix().replace('/', "-"));
        let mut members = Vec::with_capacity(size);
        for i in 0..size {
            let data_dir = tempfile::Builder::new()
                .prefix("drover-etcd-member-")
                .tempdir()
                .map_err(|e| fixture_err(format!("creating etcd data dir: {e}")))?;
            members.push(EtcdProcess::unstarted(data_dir, None, format!("m{i}"))?);
        }
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        for member in &mut members {
            member.cluster = Some((initial_cluster.clone(), token.clone()));
            member.spawn_child()?;
        }
        // Dropping `members` on error kills whatever was started.
        for member in &mut members {
            member.wait_healthy().await?;
        }
        Ok(Self { members })
    }

    /// How many members there are (running or not).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members (never, for a started cluster).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every member's client URL, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(EtcdProcess::endpoint).collect()
    }

    /// Member `index`'s client URL.
    pub fn endpoint(&self, index: usize) -> String {
        self.members[index].endpoint()
    }

    /// The index of the member with client URL `endpoint`.
    pub fn index_of(&self, endpoint: &str) -> Option<usize> {
        self.members.iter().position(|m| m.endpoint() == endpoint)
    }

    /// Member `index` itself (to run `etcdctl` against it, say).
    pub fn member(&self, index: usize) -> &EtcdProcess {
        &self.members[index]
    }

    /// Kills member `index` with SIGKILL (a crash); its ports and data are
    /// kept for [`restart`](Self::restart).
    pub fn kill(&mut self, index: usize) {
        self.members[index].stop();
    }

    /// Starts member `index` again on its ports and data and waits until it
    /// answers (which needs a quorum of members running).
    pub async fn restart(&mut self, index: usize) -> Result<(), FixtureError> {
        self.members[index].restart().await
    }

    /// Starts every stopped member again at once (one alone cannot answer
    /// without a quorum) and waits until each answers.
    pub async fn restart_stopped(&mut self) -> Result<(), FixtureError> {
        let stopped: Vec<usize> = (0..self.members.len())
            .filter(|i| self.members[*i].child.is_none())
            .collect();
        for &i in &stopped {
            self.members[i].spawn_child()?;
        }
        for &i in &stopped {
            self.members[i].wait_healthy().await?;
        }
        Ok(())
    }

    /// The index of the raft leader, as the running members report it.
    pub async fn leader(&self) -> Result<usize, FixtureError> {
        let mut ids = Vec::new();
        let mut leader = 0;
        let mut last_err = fixture_err("no running member answered");
        for (index, member) in self.members.iter().enumerate() {
            if member.child.is_none() {
                continue;
            }
            match member_status(member).await {
                Ok((id, known)) => {
                    ids.push((index, id));
                    if leader == 0 {
                        leader = known;
                    }
                }
                Err(e) => last_err = e,
            }
        }
        if leader == 0 && !ids.is_empty() {
            return Err(fixture_err("no leader elected"));
        }
        ids.into_iter()
            .find(|&(_, id)| id == leader)
            .map(|(index, _)| index)
            .ok_or(last_err)
    }
}

/// A member's own id and the leader it knows of (0: none).
async fn member_status(member: &EtcdProcess) -> Result<(u64, u64), FixtureError> {
    let endpoint = member.endpoint();
    let status = async {
        let mut client = member.client().await?;
        client
            .status()
            .await
            .map_err(|e| fixture_err(format!("status of etcd {endpoint}: {e}")))
    };
    let status = tokio::time::timeout(Duration::from_secs(2), status)
        .await
        .map_err(|_| fixture_err(format!("status of etcd {endpoint}: timed out")))??;
    let id = status.header().map_or(0, |h| h.member_id());
    Ok((id, status.leader()))
}

/// An etcd for a test that does not disrupt it, plus a key prefix of its own.
pub struct TestEtcd {
    /// Client URLs.
    pub endpoints: Vec<String>,
    /// A prefix no other test uses, e.g. `/drover-test/1234-7-...`.
    pub prefix: String,
    owned: Option<EtcdProcess>,
}

impl TestEtcd {
    /// Uses `DROVER_TEST_ETCD_ENDPOINTS` if set, else spawns a private etcd.
    pub async fn shared_or_spawn() -> Result<Self, FixtureError> {
        let prefix = unique_prefix();
        if let Ok(value) = std::env::var(SHARED_ETCD_ENV) {
            let endpoints: Vec<String> = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !endpoints.is_empty() {
                return Ok(Self {
                    endpoints,
                    prefix,
                    owned: None,
                });
            }
        }
        let etcd = EtcdProcess::start().await?;
        Ok(Self {
            endpoints: vec![etcd.endpoint()],
            prefix,
            owned: Some(etcd),
        })
    }

    /// Whether this test owns its etcd (and may therefore disrupt it).
    pub fn is_private(&self) -> bool {
        self.owned.is_some()
    }

    /// A fresh client.
    pub async fn client(&self) -> Result<Client, FixtureError> {
        connect(&self.endpoints).await
    }
}

/// Key prefixes unique across processes and within one.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("/drover-test/{}-{n}-{nanos}", std::process::id())
}

async fn connect(endpoints: &[String]) -> Result<Client, FixtureError> {
    connect_with(endpoints, None).await
}

async fn connect_with(
    endpoints: &[String],
    tls: Option<&TlsFiles>,
) -> Result<Client, FixtureError> {
    let mut opts = ConnectOptions::new().with_connect_timeout(Duration::from_secs(2));
    if let Some(tls) = tls {
        opts = opts.with_tls(tls.client_options()?);
    }
    Client::connect(endpoints, Some(opts))
        .await
        .map_err(|e| fixture_err(format!("connecting to etcd {endpoints:?}: {e}")))
}

async fn healthy(endpoint: &str, tls: Option<&TlsFiles>) -> bool {
    let probe = async {
        let mut client = connect_with(&[endpoint.to_string()], tls).await.ok()?;
        client.get("health", None).await.ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(_))
    )
}

/// etcd flags to serve clients over TLS and require a client certificate.
fn tls_args(tls: &TlsFiles) -> Vec<String> {
    vec![
        format!("--cert-file={}", tls.server_cert.display()),
        format!("--key-file={}", tls.server_key.display()),
        format!("--trusted-ca-file={}", tls.ca.display()),
        "--client-cert-auth".to_string(),
    ]
}

fn ensure_etcd_binary() -> Result<(), FixtureError> {
    match Command::new(ETCD_BIN)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(fixture_err(format!(
            "`{ETCD_BIN} --version` failed ({status}); install Debian's etcd-server \
             (apt-get install etcd-server) or run `make test`, which installs it"
        ))),
        Err(e) => Err(fixture_err(format!(
            "cannot run `{ETCD_BIN}` ({e}): the integration tests need a real etcd. \
             Install Debian's etcd-server (apt-get install etcd-server) or run \
             `make test`, which installs it"
        ))),
    }
}

/// Where members' ports are picked: below Linux's ephemeral range
/// (32768–60999, where `bind :0` and outgoing connections take theirs) and
/// below agents' dynamic ports (20000–32000), so nothing else takes a
/// stopped member's port before it is restarted on it.
const MEMBER_PORTS: std::ops::Range<u16> = 10_000..20_000;

/// A free port in [`MEMBER_PORTS`], each process and call starting from
/// its own place so concurrent fixtures rarely try the same one.
fn free_port() -> Result<u16, FixtureError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let span = u64::from(MEMBER_PORTS.end - MEMBER_PORTS.start);
    let seed = u64::from(std::process::id()).wrapping_mul(7919)
        + SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
    for _ in 0..span {
        let offset = (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = MEMBER_PORTS.start + u16::try_from(offset).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(fixture_err(format!(
        "finding a free port: none in {MEMBER_PORTS:?}"
    )))
}

fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
