//! The bench's moving parts: the agent as a child process, the watch of
//! allocation statuses, clean-up guards.

use super::super::measure::proc_status_mb;
use super::Node;
use anyhow::{bail, Context as _};
use drover_api_types::alloc::{AllocationStatus, ClientStatus};
use drover_node_agent::driver::labels;
use drover_store::keys::collections as c;
use drover_store::{Store, Versioned, WatchEvent};
use futures::StreamExt;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// When each allocation's status first said `running`, as seen on a watch.
pub(super) struct RunningWatch {
    seen: Arc<Mutex<HashMap<String, SystemTime>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningWatch {
    /// Returns once the watch has listed, so no later write is missed.
    pub(super) async fn start(store: &Store) -> anyhow::Result<Self> {
        let mut watch = store.watch_prefix::<Versioned<AllocationStatus>>(
            &store.keys().collection(c::ALLOCATIONS_STATUS),
        );
        match watch.next().await {
            Some(Ok(WatchEvent::Restarted { .. })) => {}
            Some(Err(e)) => return Err(e).context("watching allocation statuses"),
            _ => bail!("the allocation status watch ended before it listed"),
        }
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                let Ok(WatchEvent::Applied { key, object }) = event else {
                    continue;
                };
                if object.value.client_status != ClientStatus::Running {
                    continue;
                }
                let now = SystemTime::now();
                if let Some(id) = key.rsplit('/').next() {
                    record
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(id.to_string())
                        .or_insert(now);
                }
            }
        });
        Ok(RunningWatch { seen, task })
    }

    /// The `running` times of the allocations in `of`.
    pub(super) fn seen(&self, of: &HashMap<String, SystemTime>) -> HashMap<String, SystemTime> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(id, _)| of.contains_key(*id))
            .map(|(id, at)| (id.clone(), *at))
            .collect()
    }
}

impl Drop for RunningWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `drover agent` as a child process. Dropping it kills the agent and then
/// removes every container of its node, so no error path leaves any behind
/// (the agent would otherwise keep them: a stopped agent leaves containers
/// running by design).
pub(super) struct AgentProcess {
    child: Child,
    data_dir: PathBuf,
    node_id: Option<String>,
    stopped: bool,
}

impl AgentProcess {
    pub(super) fn start(
        endpoints: &[String],
        prefix: &str,
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let exe = crate::measure::drover_binary()?;
        let data_dir = scratch.join("agent");
        let log = std::fs::File::create(scratch.join("agent.log")).context("agent log")?;
        let child = Command::new(exe)
            .arg("agent")
            .arg(format!("--etcd={}", endpoints.join(",")))
            .arg(format!("--etcd-prefix={prefix}"))
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg("--address=127.0.0.1")
            .arg(format!("--node-name=bench-agent-{}", std::process::id()))
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting drover agent")?;
        Ok(Self {
            child,
            data_dir,
            node_id: None,
            stopped: false,
        })
    }

    /// Waits for the node id file, then for the node's registration.
    pub(super) async fn wait_registered(
        &mut self,
        store: &Store,
        limit: Duration,
    ) -> anyhow::Result<Node> {
        let started = Instant::now();
        let id_file = self.data_dir.join("node-id");
        loop {
            if let Some(status) = self.child.try_wait().context("watching the agent")? {
                bail!("drover agent exited with {status} during start-up");
            }
            if self.node_id.is_none() {
                if let Ok(id) = std::fs::read_to_string(&id_file) {
                    let id = id.trim();
                    if !id.is_empty() {
                        self.node_id = Some(id.to_string());
                    }
                }
            }
            if let Some(id) = &self.node_id {
                let node = store
                    .get_at::<drover_api_types::Node>(&store.keys().node(id))
                    .await
                    .context("reading the agent's node")?;
                if let Some(node) = node {
                    return Ok(Node {
                        id: id.clone(),
                        name: node.metadata.name,
                    });
                }
            }
            if started.elapsed() > limit {
                bail!("the agent did not register its node within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resident set now (VmRSS), in MB.
    pub(super) fn rss_mb(&self) -> f64 {
        proc_status_mb(self.child.id(), "VmRSS")
    }

    pub(super) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(id) = &self.node_id {
            remove_node_containers(id);
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `docker rm -f` of every container labelled with this node: synchronous,
/// so it also runs from `Drop` on an error path.
pub(super) fn remove_node_containers(node_id: &str) {
    let listed = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label={}={node_id}", labels::NODE_ID))
        .stderr(Stdio::null())
        .output();
    let Ok(listed) = listed else { return };
    let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return;
    }
    let _ = Command::new("docker")
        .args(["rm", "-f"])
        .args(&ids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The scratch directory, removed however the run ends.
pub(super) struct Scratch(pub(super) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // The agent's mounts first (tasks' secrets/ tmpfs, pinned mount
        // sources), or the directory cannot go.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let root = self.0.to_string_lossy();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
            if point.starts_with(root.as_ref()) {
                let _ = Command::new("umount").args(["-l", point]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The end of the agent's log, since the scratch directory holding it is
/// about to go.
pub(super) fn print_tail(log: &Path) {
    let Ok(file) = std::fs::File::open(log) else {
        return;
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    let from = lines.len().saturating_sub(20);
    if from < lines.len() {
        eprintln!("last lines of the agent's log:");
        for line in &lines[from..] {
            eprintln!("  {line}");
        }
    }
}
