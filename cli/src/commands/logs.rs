//! `drover logs ALLOC [TASK]`: stream a task's output.
//!
//! Until the apiserver proxies it, the CLI reads etcd to find where the
//! allocation runs (allocation → binding → node → `spec.http_addr`) and
//! asks that node's agent directly (`GET /v1/client/logs/{alloc}/{task}`).
//! Resolving ALLOC and TASK is pure and tested below.

use std::time::Duration;

use anyhow::{bail, Context as _};
use drover_api_types::alloc::{Allocation, Binding, DesiredStatus};
use drover_api_types::{Job, Node};
use drover_store::{Store, Versioned};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::cluster_args::EtcdArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Allocation id, a unique prefix of one, or its name (`job.group[0]`).
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

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(logs(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// What the resolver needs to know of one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Desired to run (not stopped or evicted): a name refers to this one
    /// rather than to allocations it replaced.
    pub live: bool,
}

/// Picks the allocation `query` means (pure): a full id, a unique id
/// prefix, or a name (the live one when replacements share it).
pub fn resolve_alloc(query: &str, candidates: &[Candidate]) -> Result<usize, String> {
    if let Some(i) = candidates.iter().position(|c| c.id == query) {
        return Ok(i);
    }
    let by_prefix: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].id.starts_with(query))
        .collect();
    let by_name: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].name == query)
        .collect();
    let matches = match (by_prefix.len(), by_name.len()) {
        (1, _) => return Ok(by_prefix[0]),
        (0, 0) => {
            return Err(format!(
                "no allocation with id, id prefix or name {query:?}"
            ))
        }
        (0, _) => {
            let live: Vec<usize> = by_name
                .iter()
                .copied()
                .filter(|&i| candidates[i].live)
                .collect();
            if let [one] = live.as_slice() {
                return Ok(*one);
            }
            by_name
        }
        _ => by_prefix,
    };
    let mut listed: Vec<String> = matches
        .iter()
        .map(|&i| format!("  {} {}", candidates[i].id, candidates[i].name))
        .collect();
    listed.sort();
    Err(format!(
        "{query:?} matches {} allocations; give more of the id:\n{}",
        matches.len(),
        listed.join("\n")
    ))
}

/// Picks the task (pure): the one asked for, or the group's only task.
/// An empty `tasks` means the job is unknown: the name asked for is trusted.
pub fn resolve_task(asked: Option<&str>, tasks: &[String], alloc: &str) -> Result<String, String> {
    match asked {
        Some(t) if tasks.is_empty() || tasks.iter().any(|x| x == t) => Ok(t.to_string()),
        Some(t) => Err(format!(
            "allocation {alloc} has no task {t:?}; its tasks: {}",
            tasks.join(", ")
        )),
        None => match tasks {
            [one] => Ok(one.clone()),
            [] => Err(format!(
                "cannot tell the tasks of allocation {alloc} (its job is gone); name the task"
            )),
            _ => Err(format!(
                "allocation {alloc} has {} tasks; name one: {}",
                tasks.len(),
                tasks.join(", ")
            )),
        },
    }
}

async fn logs(args: &Args) -> anyhow::Result<()> {
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
    stream(args, &node, id, &task).await
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

async fn stream(args: &Args, node: &Node, alloc: &str, task: &str) -> anyhow::Result<()> {
    let addr = &node.spec.http_addr;
    let mut url = reqwest::Url::parse(&format!("http://{addr}/")).with_context(|| {
        format!(
            "node {} advertises a bad HTTP address {addr:?}",
            node.metadata.name
        )
    })?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("bad agent URL {addr:?}"))?
        .clear()
        .extend(["v1", "client", "logs", alloc, task]);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("follow", if args.follow { "true" } else { "false" });
        q.append_pair("stderr", if args.stderr { "true" } else { "false" });
        if let Some(n) = args.tail {
            q.append_pair("tail", &n.to_string());
        }
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    let unreachable = || {
        format!(
            "cannot reach the agent of node {} at {addr}",
            node.metadata.name
        )
    };
    let response = client.get(url).send().await.with_context(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or(body);
        bail!("the agent at {addr} answered {status}: {message}");
    }
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = if args.stderr {
        Box::new(tokio::io::stderr())
    } else {
        Box::new(tokio::io::stdout())
    };
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| format!("reading the logs from the agent at {addr}"))?;
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

    fn c(id: &str, name: &str, live: bool) -> Candidate {
        Candidate {
            id: id.into(),
            name: name.into(),
            live,
        }
    }

    fn allocs() -> Vec<Candidate> {
        vec![
            c("abc123-1", "web.front[0]", false),
            c("abd456-2", "web.front[0]", true),
            c("ff0000-3", "web.front[1]", true),
            c("ff0011-4", "api.main[0]", true),
        ]
    }

    #[test]
    fn a_full_id_or_a_unique_prefix_picks_one() {
        let a = allocs();
        assert_eq!(resolve_alloc("abd456-2", &a), Ok(1));
        assert_eq!(resolve_alloc("abc", &a), Ok(0));
        assert_eq!(resolve_alloc("ff001", &a), Ok(3));
    }

    #[test]
    fn an_ambiguous_prefix_lists_the_candidates_with_their_names() {
        let e = resolve_alloc("ff00", &allocs()).expect_err("ambiguous");
        assert!(e.contains("matches 2 allocations"), "{e}");
        assert!(e.contains("ff0000-3 web.front[1]"), "{e}");
        assert!(e.contains("ff0011-4 api.main[0]"), "{e}");
    }

    #[test]
    fn an_unknown_id_says_so() {
        let e = resolve_alloc("zzz", &allocs()).expect_err("unknown");
        assert_eq!(e, "no allocation with id, id prefix or name \"zzz\"");
        assert!(resolve_alloc("zzz", &[]).is_err());
    }

    #[test]
    fn a_name_picks_the_live_allocation_of_that_name() {
        let a = allocs();
        assert_eq!(resolve_alloc("web.front[0]", &a), Ok(1));
        assert_eq!(resolve_alloc("api.main[0]", &a), Ok(3));
        let both_stopped = vec![c("a-1", "x.y[0]", false), c("b-2", "x.y[0]", false)];
        let e = resolve_alloc("x.y[0]", &both_stopped).expect_err("ambiguous name");
        assert!(e.contains("a-1 x.y[0]") && e.contains("b-2 x.y[0]"), "{e}");
    }

    #[test]
    fn the_task_is_the_only_one_or_the_one_named() {
        let one = vec!["web".to_string()];
        let two = vec!["web".to_string(), "sidecar".to_string()];
        assert_eq!(resolve_task(None, &one, "a1"), Ok("web".into()));
        assert_eq!(
            resolve_task(Some("sidecar"), &two, "a1"),
            Ok("sidecar".into())
        );
        let e = resolve_task(None, &two, "a1").expect_err("which task");
        assert_eq!(e, "allocation a1 has 2 tasks; name one: web, sidecar");
        let e = resolve_task(Some("db"), &two, "a1").expect_err("no such task");
        assert_eq!(
            e,
            "allocation a1 has no task \"db\"; its tasks: web, sidecar"
        );
        assert_eq!(resolve_task(Some("db"), &[], "a1"), Ok("db".into()));
        assert!(resolve_task(None, &[], "a1").is_err());
    }
}
