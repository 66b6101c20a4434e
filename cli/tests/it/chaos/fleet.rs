//! The fleet every chaos scenario runs on, as real processes on this
//! machine: a 3-member etcd, 2 servers and 4 agents on the local Docker at
//! 127.0.0.x, the first agent behind one TCP proxy per etcd member so it
//! can be cut off. And what every scenario checks at its end: no spurious
//! restart, never more running than count, nothing lost off a lost node,
//! every server up.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus, DesiredStatus};
use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::Job;
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::{EtcdCluster, TcpProxy};

use crate::common::{self, Cleanup, Proc, DROVER, IMAGE};

/// Heartbeat TTL and grace of the fleet: short, so scenarios are quick.
pub const TTL_SECS: u64 = 5;
pub const GRACE_SECS: u64 = 5;
/// The agents' loopback addresses; agent 0 is the one behind the proxies.
const ADDRESSES: [&str; 4] = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"];
/// The key prefix the fleet writes under (its etcd is its own).
const PREFIX: &str = "/chaos";

pub struct Agent {
    pub node_id: String,
    args: Vec<String>,
    endpoints: String,
    proc: Option<Proc>,
    _cleanup: Cleanup,
}

pub struct Server {
    pub addr: String,
    args: Vec<String>,
    proc: Option<Proc>,
}

pub struct Fleet {
    pub etcd: EtcdCluster,
    pub store: Store,
    pub servers: Vec<Server>,
    pub agents: Vec<Agent>,
    /// One per etcd member, in member order: agent 0's only way to etcd.
    pub proxies: Vec<TcpProxy>,
    _data: tempfile::TempDir,
}

fn free_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string()
}

fn spawn(args: &[String], endpoints: &str) -> Proc {
    let child = Command::new(DROVER)
        .args(args)
        .arg(format!("--etcd={endpoints}"))
        .arg(format!("--etcd-prefix={PREFIX}"))
        .arg(format!(
            "--log-level={}",
            std::env::var("CHAOS_LOG").unwrap_or_else(|_| "error".into())
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start drover");
    Proc(child)
}

impl Fleet {
    pub async fn start() -> Fleet {
        drover_test_support::docker::busybox_image(IMAGE).expect("test image");
        let etcd = EtcdCluster::start(3).await.expect("a 3-member etcd");
        let endpoints = etcd.endpoints().join(",");
        let store = common::connect(etcd.endpoints(), PREFIX).await;
        let mut proxies = Vec::new();
        for endpoint in etcd.endpoints() {
            let target = endpoint
                .trim_start_matches("http://")
                .parse()
                .expect("a member's address");
            proxies.push(TcpProxy::start(target).await.expect("proxy"));
        }
        let mut servers = Vec::new();
        for index in 0..2 {
            let addr = free_addr();
            let args: Vec<String> = [
                "server".to_string(),
                format!("--name=chaos-server-{index}"),
                format!("--http-addr={addr}"),
                "--dns-addr=127.0.0.1:0".into(),
                format!("--heartbeat-ttl={TTL_SECS}s"),
                format!("--heartbeat-grace={GRACE_SECS}s"),
                "--scheduler-algorithm=spread".into(),
                "--election-ttl=5s".into(),
            ]
            .into();
            let proc = Some(spawn(&args, &endpoints));
            servers.push(Server { addr, args, proc });
        }
        let data = tempfile::tempdir().expect("tempdir");
        let mut agents = Vec::new();
        for (index, address) in ADDRESSES.iter().enumerate() {
            let data_dir = data.path().join(format!("agent-{index}"));
            let args: Vec<String> = [
                "agent".to_string(),
                format!("--address={address}"),
                format!("--http-addr={address}:0"),
                format!("--heartbeat-ttl={TTL_SECS}s"),
                format!("--data-dir={}", data_dir.display()),
            ]
            .into();
            let endpoints = if index == 0 {
                proxies
                    .iter()
                    .map(TcpProxy::endpoint)
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                endpoints.clone()
            };
            let proc = Some(spawn(&args, &endpoints));
            let cleanup = common::cleanup_when_registered(&data_dir).await;
            agents.push(Agent {
                node_id: cleanup.0.clone(),
                args,
                endpoints,
                proc,
                _cleanup: cleanup,
            });
        }
        let fleet = Fleet {
            etcd,
            store,
            servers,
            agents,
            proxies,
            _data: data,
        };
        let nodes = ADDRESSES.len();
        eventually(60, "a server leading and every node ready", || async {
            fleet.leader().await?;
            let listed = common::get_json(&fleet.any_server_url(), "/v1/nodes").await?;
            let ready = listed
                .as_array()?
                .iter()
                .filter(|n| n["status"] == "ready")
                .count();
            (ready == nodes).then_some(())
        })
        .await;
        fleet
    }

    pub fn any_server_url(&self) -> String {
        format!("http://{}", self.servers[0].addr)
    }

    /// Submits `job` and waits until `count` of its allocations run.
    pub async fn run_job(&self, job: &Job, count: usize) {
        let key = self.store.keys().job("default", &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
        self.until_running(&job.metadata.name, count).await;
    }

    pub async fn until_running(&self, job: &str, count: usize) -> Vec<Allocation> {
        eventually(
            120,
            &format!("{count} allocations of {job} running"),
            || async {
                let running = self.running(job).await;
                (running.len() == count).then_some(running)
            },
        )
        .await
    }

    /// The job's allocations whose status is running.
    pub async fn running(&self, job: &str) -> Vec<Allocation> {
        self.allocs_with_status()
            .await
            .into_iter()
            .filter(|(a, s, _)| a.spec.job_id == job && s.client_status == ClientStatus::Running)
            .map(|(a, _, _)| a)
            .collect()
    }

    /// Every allocation with its status and binding (unbound: no node).
    pub async fn allocs_with_status(&self) -> Vec<(Allocation, AllocationStatus, Option<Binding>)> {
        let keys = self.store.keys();
        let allocs: Vec<Allocation> = self
            .store
            .list_at(&keys.collection("allocations"))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let mut out = Vec::new();
        for a in allocs {
            let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
            let status: Option<Versioned<AllocationStatus>> =
                self.store.alloc_status_of(ns, id).await.ok().flatten();
            let binding: Option<Versioned<Binding>> = self
                .store
                .get_at(&keys.alloc_binding(ns, id))
                .await
                .ok()
                .flatten();
            out.push((
                a,
                status.map(|s| s.value).unwrap_or_default(),
                binding.map(|b| b.value),
            ));
        }
        out
    }

    pub async fn node_state(&self, node_id: &str) -> Option<NodeState> {
        let key = self.store.keys().node_status(node_id);
        self.store
            .get_at::<Versioned<NodeStatus>>(&key)
            .await
            .ok()
            .flatten()
            .map(|s| s.value.state)
    }

    /// The index of the server that leads now, if one does.
    pub async fn leader(&self) -> Option<usize> {
        for (index, server) in self.servers.iter().enumerate() {
            if server.proc.is_none() {
                continue;
            }
            let url = format!("http://{}", server.addr);
            let answer = common::get_json(&url, "/v1/status/leader").await;
            if answer.is_some_and(|a| a["leading"] == true) {
                return Some(index);
            }
        }
        None
    }

    pub fn kill_server(&mut self, index: usize) {
        self.servers[index].proc = None;
    }

    pub fn start_server(&mut self, index: usize) {
        let endpoints = self.etcd.endpoints().join(",");
        let server = &mut self.servers[index];
        server.proc = Some(spawn(&server.args, &endpoints));
    }

    /// Kills agent `index` (SIGKILL); its containers keep running.
    pub fn kill_agent(&mut self, index: usize) {
        self.agents[index].proc = None;
    }

    pub fn start_agent(&mut self, index: usize) {
        let agent = &mut self.agents[index];
        agent.proc = Some(spawn(&agent.args, &agent.endpoints));
    }

    /// The machine of agent `index` dies: the agent and its containers.
    pub fn lose_node(&mut self, index: usize) {
        self.kill_agent(index);
        for id in containers_of(&self.agents[index].node_id) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }

    pub fn cut_agent_0(&self) {
        self.proxies.iter().for_each(TcpProxy::cut);
    }

    pub fn restore_agent_0(&self) {
        self.proxies.iter().for_each(TcpProxy::restore);
    }

    /// Every running container of the fleet's nodes: alloc id → (node,
    /// container id, start time).
    pub fn containers(&self) -> BTreeMap<String, Container> {
        let mut out = BTreeMap::new();
        for agent in &self.agents {
            for id in containers_of(&agent.node_id) {
                let format = "{{.Id}} {{.State.Running}} {{.State.StartedAt}} {{index .Config.Labels \"io.drover.alloc_id\"}}";
                let line = common::docker_inspect(&id, format);
                let fields: Vec<&str> = line.split_whitespace().collect();
                if let [id, "true", started, alloc] = fields[..] {
                    out.insert(
                        alloc.to_string(),
                        Container {
                            node: agent.node_id.clone(),
                            id: id.to_string(),
                            started: started.to_string(),
                        },
                    );
                }
            }
        }
        out
    }

    /// Samples, every 200 ms until dropped, how many allocations are
    /// meant to run and do (desired run, status running), and how many
    /// containers run on the fleet's nodes; the highest of each is kept.
    pub fn watch_running(&self) -> RunningWatch {
        let nodes: Vec<String> = self.agents.iter().map(|a| a.node_id.clone()).collect();
        let watch = RunningWatch::default();
        let (allocs, containers, at_most, stop) = (
            watch.allocs.clone(),
            watch.containers.clone(),
            watch.at_most.clone(),
            watch.stop.clone(),
        );
        let store = self.store.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let running = running_allocs(&store).await;
                allocs.fetch_max(running, Ordering::Relaxed);
                let nodes = nodes.clone();
                let seen = tokio::task::spawn_blocking(move || {
                    nodes.iter().flat_map(|n| running_on(n)).collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                if seen.len() > containers.fetch_max(seen.len(), Ordering::Relaxed) {
                    let states = alloc_states(&store).await;
                    if let Ok(mut most) = at_most.lock() {
                        *most = seen;
                        most.push(format!("| allocations: {states}"));
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        watch
    }

    /// What every scenario ends with. `before`: the containers at its
    /// start; `lost_nodes`: the nodes the scenario took away, whose
    /// allocations may be lost and replaced; `replaced`: allocations the
    /// scenario itself replaced (a rollout).
    pub async fn assert_invariants(
        &self,
        before: &BTreeMap<String, Container>,
        lost_nodes: &BTreeSet<String>,
        replaced: &BTreeSet<String>,
    ) {
        let after = self.containers();
        for (alloc, was) in before {
            if lost_nodes.contains(&was.node) || replaced.contains(alloc) {
                continue;
            }
            let now = after.get(alloc);
            assert_eq!(
                now.map(|c| (&c.id, &c.started)),
                Some((&was.id, &was.started)),
                "allocation {alloc} on {} was restarted or stopped",
                was.node
            );
        }
        for (alloc, status, binding) in self.allocs_with_status().await {
            if status.client_status == ClientStatus::Lost {
                let node = binding.map(|b| b.node_id).unwrap_or_default();
                assert!(
                    lost_nodes.contains(&node),
                    "allocation {} lost on {node}, which was not lost",
                    alloc.metadata.uid
                );
            }
        }
        for (index, server) in self.servers.iter().enumerate() {
            if server.proc.is_none() {
                continue;
            }
            let url = format!("http://{}", server.addr);
            assert!(
                common::get_json(&url, "/v1/status/leader").await.is_some(),
                "server {index} does not answer"
            );
        }
    }
}

/// A container as a scenario saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub node: String,
    pub id: String,
    pub started: String,
}

/// The most allocations and containers seen running at once.
#[derive(Default)]
pub struct RunningWatch {
    allocs: Arc<AtomicUsize>,
    containers: Arc<AtomicUsize>,
    /// The containers seen when the most ran at once.
    at_most: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl RunningWatch {
    /// Never more than `count` allocations meant to run were running at
    /// once, nor more than `count + stopping` containers: a replaced
    /// allocation's container may still be stopping (its kill timeout)
    /// while its replacement starts on another node, as in Nomad.
    pub fn assert_within(&self, count: usize, stopping: usize) {
        let allocs = self.allocs.load(Ordering::Relaxed);
        let containers = self.containers.load(Ordering::Relaxed);
        println!("chaos: at most {allocs} allocations and {containers} containers ran at once (count {count})");
        let seen = self.at_most.lock().map(|s| s.join(" ")).unwrap_or_default();
        assert!(
            allocs <= count,
            "{allocs} allocations running at once, count {count}"
        );
        assert!(
            containers <= count + stopping,
            "{containers} containers running at once, count {count}: {seen}"
        );
    }
}

impl Drop for RunningWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every allocation as `id8 [index] vVERSION desired/status (why)`, for
/// the message of a failed bound.
async fn alloc_states(store: &Store) -> String {
    let keys = store.keys();
    let Ok(allocs) = store
        .list_at::<Allocation>(&keys.collection("allocations"))
        .await
    else {
        return String::new();
    };
    let mut out = Vec::new();
    for a in allocs.items {
        let status = store
            .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
            .await
            .ok()
            .flatten()
            .map(|s| format!("{:?}", s.value.client_status))
            .unwrap_or_default();
        out.push(format!(
            "{} [{}] v{} {:?}/{status} prev={} ({})",
            a.metadata.uid.get(..8).unwrap_or_default(),
            a.spec.index,
            a.spec.job_version,
            a.spec.desired_status,
            a.spec
                .previous_allocation
                .as_deref()
                .and_then(|p| p.get(..8))
                .unwrap_or("-"),
            a.spec.desired_description
        ));
    }
    out.join("; ")
}

/// Allocations meant to run (desired run) whose status is running.
async fn running_allocs(store: &Store) -> usize {
    let keys = store.keys();
    let Ok(allocs) = store
        .list_at::<Allocation>(&keys.collection("allocations"))
        .await
    else {
        return 0;
    };
    let Ok(statuses) = store.list_raw(&keys.collection("allocations-status")).await else {
        return 0;
    };
    // Keys end in the allocation id.
    let running: BTreeSet<String> = statuses
        .items
        .iter()
        .filter(|kv| {
            kv.decode::<Versioned<AllocationStatus>>()
                .is_ok_and(|s| s.value.client_status == ClientStatus::Running)
        })
        .filter_map(|kv| kv.key.rsplit('/').next().map(String::from))
        .collect();
    allocs
        .items
        .iter()
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .filter(|a| running.contains(&a.metadata.uid))
        .count()
}

fn containers_of(node_id: &str) -> Vec<String> {
    docker_ps(&[
        "-aq",
        "--filter",
        &format!("label=io.drover.node_id={node_id}"),
    ])
}

/// The names of the running containers of a node.
fn running_on(node_id: &str) -> Vec<String> {
    docker_ps(&[
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=io.drover.node_id={node_id}"),
    ])
}

fn docker_ps(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .arg("ps")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Seconds since `start`, to one decimal, for the figures printed.
pub fn secs(start: Instant) -> String {
    format!("{:.1}", start.elapsed().as_secs_f64())
}
