//! `drover logs ALLOC [TASK]`: stream a task's output; `drover logs
//! job/NAME [TASK]`: every running allocation's, interleaved
//! (`GET /v1/job/{name}/logs`).
//!
//! By default through the server (`GET /v1/allocation/{id}/logs/{task}`,
//! which proxies the node's agent), so a user needs to reach only the
//! server. Given `--etcd` (or `DROVER_ETCD`) and no `--addr`, the CLI
//! instead reads etcd to find where the allocation runs (allocation →
//! binding → node → `spec.http_addr`) and asks that node's agent directly
//! (`GET /v1/client/logs/{alloc}/{task}`) — for when no server is up.
//! Resolving ALLOC and TASK is shared with the apiserver
//! ([`drover_api_types::resolve`]).

use drover_api::agent_logs::{agent_url, LogQuery};
use std::time::Duration;

use anyhow::{bail, Context as _};
use drover_api_types::alloc::{Allocation, Binding, DesiredStatus};
use drover_api_types::resolve::{resolve_alloc, resolve_task, Candidate};
use drover_api_types::{Job, Node};
use drover_store::{Store, Versioned};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::client::{segment, ApiArgs};
use super::cluster_args::EtcdArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Allocation id, a unique prefix of one, or its name (`job.group[0]`);
    /// `job/NAME` for every running allocation of a job, interleaved, each
    /// line named by its allocation and task.
    alloc: String,
    /// The task (optional when the group has one).
    task: Option<String>,
    /// Keep streaming new output until the task stops or Ctrl-C.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Show stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<u64>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let argv: Vec<String> = std::env::args().collect();
    let env_set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if direct(&argv, env_set("DROVER_ETCD"), env_set("DROVER_ADDR")) {
        runtime.block_on(logs(args, api))?;
    } else {
        runtime.block_on(through_server(args, api))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Whether to read etcd and ask the agent directly (pure): only when etcd
/// was named and the server was not. clap cannot tell a default from a
/// given value after parsing, hence the look at the arguments.
fn direct(argv: &[String], etcd_env: bool, addr_env: bool) -> bool {
    let given = |flag: &str| {
        argv.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    (given("--etcd") || etcd_env) && !(given("--addr") || addr_env)
}

/// `job/NAME`: the job's output, every running allocation interleaved.
fn job_of(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("job/")
        .filter(|name| !name.is_empty())
}

async fn through_server(args: &Args, api: &ApiArgs) -> anyhow::Result<()> {
    let client = api.client()?;
    if let Some(job) = job_of(&args.alloc) {
        let mut query = vec![
            ("follow", args.follow.to_string()),
            ("stderr", args.stderr.to_string()),
        ];
        if let Some(task) = &args.task {
            query.push(("task", task.clone()));
        }
        if let Some(n) = args.tail {
            query.push(("tail", n.to_string()));
        }
        let path = format!("/v1/job/{}/logs", segment(job));
        let response = client.stream(&path, &query).await?;
        return copy_out(args, response, "the server").await;
    }
    let mut path = format!("/v1/allocation/{}/logs", segment(&args.alloc));
    if let Some(task) = &args.task {
        path = format!("{path}/{}", segment(task));
    }
    let mut query = vec![
        ("follow", args.follow.to_string()),
        ("stderr", args.stderr.to_string()),
        // Allocation ids are unique across namespaces; users paste them
        // from any listing.
        ("namespace", "*".to_string()),
    ];
    if let Some(n) = args.tail {
        query.push(("tail", n.to_string()));
    }
    let response = client.stream(&path, &query).await?;
    copy_out(args, response, "the server").await
}

async fn logs(args: &Args, api: &ApiArgs) -> anyhow::Result<()> {
    if job_of(&args.alloc).is_some() {
        bail!("a job's logs (job/NAME) are read through a server: give --addr (or drop --etcd)");
    }
    let etcd = args.etcd.config();
    let store = Store::connect(etcd.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", etcd.endpoints.join(",")))?;
    let alloc = find_alloc(&store, &args.alloc).await?;
    let (ns, id) = (&alloc.metadata.namespace, &alloc.metadata.uid);
    let tasks = group_tasks(&store, &alloc).await?;
    let task = resolve_task(args.task.as_deref(), &tasks, id).map_err(anyhow::Error::msg)?;
    let keys = store.keys();
    let binding: Versioned<Binding> = store
        .get_at(&keys.alloc_binding(ns, id))
        .await
        .context("reading the allocation's binding")?
        .with_context(|| format!("allocation {id} is not placed on a node yet"))?;
    let node_id = binding.value.node_id;
    let node: Node = store
        .get_at(&keys.node(&node_id))
        .await
        .context("reading the node")?
        .with_context(|| format!("node {node_id} (allocation {id}) is not registered"))?;
    if node.spec.http_addr.is_empty() {
        bail!(
            "node {} ({node_id}) does not advertise an HTTP address (agent older than {}, or simulated)",
            node.metadata.name,
            env!("CARGO_PKG_VERSION")
        );
    }
    let key = store
        .agent_api_key_or_make(|| drover_serve::agent_token::new_key().ok())
        .await
        .context("reading the agent API key")?
        .context("the agent API key could not be made; try again")?;
    stream(args, api, &key, &node, id, &task).await
}

async fn find_alloc(store: &Store, query: &str) -> anyhow::Result<Allocation> {
    let mut allocs: Vec<Allocation> = store
        .list_at(&store.keys().collection("allocations"))
        .await
        .context("listing allocations")?
        .items;
    let candidates: Vec<Candidate> = allocs
        .iter()
        .map(|a| Candidate {
            id: a.metadata.uid.clone(),
            name: a.metadata.name.clone(),
            live: a.spec.desired_status == DesiredStatus::Run,
        })
        .collect();
    let i = resolve_alloc(query, &candidates).map_err(anyhow::Error::msg)?;
    Ok(allocs.swap_remove(i))
}

/// The task names of the allocation's group, from the job version it runs
/// (else the current job; empty when neither is left).
async fn group_tasks(store: &Store, alloc: &Allocation) -> anyhow::Result<Vec<String>> {
    let keys = store.keys();
    let (ns, job_id) = (&alloc.metadata.namespace, &alloc.spec.job_id);
    let mut job: Option<Job> = store
        .get_at(&keys.job_version(ns, job_id, alloc.spec.job_version))
        .await
        .context("reading the allocation's job version")?;
    if job.is_none() {
        job = store
            .get_at(&keys.job(ns, job_id))
            .await
            .context("reading the allocation's job")?;
    }
    Ok(job
        .and_then(|j| {
            j.spec
                .groups
                .into_iter()
                .find(|g| g.name == alloc.spec.task_group)
        })
        .map(|g| g.tasks.into_iter().map(|t| t.name).collect())
        .unwrap_or_default())
}

/// Asks the node's agent directly: over TLS when it serves TLS, with the
/// CLI's `--ca-cert` and client certificate.
async fn stream(
    args: &Args,
    api: &ApiArgs,
    key: &str,
    node: &Node,
    alloc: &str,
    task: &str,
) -> anyhow::Result<()> {
    let addr = &node.spec.http_addr;
    let query = LogQuery {
        follow: args.follow,
        stderr: args.stderr,
        tail: args.tail,
    };
    let url = agent_url(addr, node.spec.http_tls, alloc, task, query).with_context(|| {
        format!(
            "node {} advertises a bad HTTP address {addr:?}",
            node.metadata.name
        )
    })?;
    let client = api
        .tls_files()
        .client_builder()?
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    let unreachable = || {
        format!(
            "cannot reach the agent of node {} at {addr}",
            node.metadata.name
        )
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let token = drover_serve::agent_token::issue(key, &node.metadata.uid, url.path(), now);
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or(body);
        bail!("the agent at {addr} answered {status}: {message}");
    }
    copy_out(args, response, &format!("the agent at {addr}")).await
}

/// Copies the log stream to stdout (stderr with `--stderr`).
async fn copy_out(args: &Args, response: reqwest::Response, from: &str) -> anyhow::Result<()> {
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = if args.stderr {
        Box::new(tokio::io::stderr())
    } else {
        Box::new(tokio::io::stdout())
    };
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| format!("reading the logs from {from}"))?;
        // Flushed chunk by chunk so `-f` output shows up as it comes; a
        // closed pipe (`| head`) is a normal end.
        let written = async {
            out.write_all(&chunk).await?;
            out.flush().await
        };
        match written.await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e).context("writing the logs"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_server_is_the_default_and_wins_when_named() {
        assert!(!direct(&argv(&["drover", "logs", "a1"]), false, false));
        assert!(direct(
            &argv(&["drover", "logs", "a1", "--etcd=http://e:2379"]),
            false,
            false
        ));
        assert!(direct(
            &argv(&["drover", "logs", "--etcd", "http://e:2379", "a1"]),
            false,
            false
        ));
        assert!(direct(&argv(&["drover", "logs", "a1"]), true, false));
        assert!(!direct(
            &argv(&["drover", "logs", "a1", "--etcd=x", "--addr=y"]),
            false,
            false
        ));
        assert!(!direct(
            &argv(&["drover", "logs", "a1", "--etcd-prefix=p"]),
            false,
            false
        ));
        assert!(!direct(&argv(&["drover", "logs", "a1"]), true, true));
    }
}
