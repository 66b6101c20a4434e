//! `GET /v1/job/{name}/logs?group&task&follow&stderr&tail=N`: the output
//! of every running allocation of a job, interleaved line by line, each
//! line named by its allocation and task (`1a2b3c4d web.web[0]/server:
//! …`) — what `drover logs job/NAME -f` prints (Nomad #10308 asks for it).
//!
//! Each allocation's output comes from its node's agent, as one task's
//! does ([`super::logs::open_output`]). Following, the job's allocations
//! are looked at again every [`RELIST`]: one that starts later joins the
//! stream. At most [`MAX_STREAMS`] task outputs are read at once; a job
//! with more names a `group` or `task`, or reads allocations one by one.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use drover_api::agent_logs::LogQuery;
use drover_api_types::acl::Capability;
use drover_api_types::alloc::{ClientStatus, DesiredStatus};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::acl::Caller;
use super::allocs::{self, Joined};
use super::error::{ApiError, ApiResult};
use super::logs::{group_tasks, open_output, parse_query};
use super::route::{Need, Produces, Route, Routes};
use super::ApiState;

/// The most task outputs one request reads at once.
pub const MAX_STREAMS: usize = 64;
/// A line longer than this is passed on in pieces, each named.
pub const MAX_LINE: usize = 16 << 10;
/// How often a followed job's allocations are looked at again.
const RELIST: Duration = Duration::from_secs(2);
/// Lines waiting for a slow reader before the streams wait for it.
const BUFFERED_LINES: usize = 1024;

pub(crate) fn routes() -> Routes {
    Routes::new("jobs").add(
        Route::get(
            "/v1/job/{name}/logs",
            "Every running allocation's output, interleaved, each line named",
        )
        .query(&["namespace", "group", "task", "follow", "stderr", "tail"])
        .produces(Produces::Text)
        .needs(Need::Namespace(Capability::ReadLogs)),
        job_logs,
    )
}

/// Which task outputs of a job are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub group: Option<String>,
    pub task: Option<String>,
}

/// One task's output to read: (allocation id, its name, task).
pub type Source = (String, String, String);

/// The running allocations' task outputs `selection` names (pure), given
/// each allocation and its group's tasks.
pub fn sources(
    job: &str,
    allocations: &[(Joined, Vec<String>)],
    selection: &Selection,
) -> Vec<Source> {
    let mut out = Vec::new();
    for (joined, tasks) in allocations {
        let a = &joined.alloc;
        let running = joined
            .status
            .as_ref()
            .is_some_and(|s| s.client_status == ClientStatus::Running);
        if a.spec.job_id != job
            || a.spec.desired_status != DesiredStatus::Run
            || !running
            || selection
                .group
                .as_ref()
                .is_some_and(|g| *g != a.spec.task_group)
        {
            continue;
        }
        for task in tasks {
            if selection.task.as_ref().is_none_or(|t| t == task) {
                out.push((
                    a.metadata.uid.clone(),
                    a.metadata.name.clone(),
                    task.clone(),
                ));
            }
        }
    }
    out
}

/// What starts each line of a source's output.
pub fn prefix((id, name, task): &Source) -> String {
    let short = id.get(..8).unwrap_or(id);
    format!("{short} {name}/{task}: ")
}

/// Cuts one source's output into named lines (pure); a line longer than
/// [`MAX_LINE`] is cut into named pieces.
#[derive(Debug)]
pub struct Lines {
    prefix: String,
    partial: Vec<u8>,
}

impl Lines {
    pub fn new(prefix: String) -> Lines {
        Lines {
            prefix,
            partial: Vec::new(),
        }
    }

    /// The whole lines `chunk` completes, each named and ending in `\n`.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                out.push(self.emit());
            } else {
                self.partial.push(byte);
                if self.partial.len() >= MAX_LINE {
                    out.push(self.emit());
                }
            }
        }
        out
    }

    /// What is left when the source ends.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.partial.is_empty()).then(|| self.emit())
    }

    fn emit(&mut self) -> Bytes {
        let mut line = Vec::with_capacity(self.prefix.len() + self.partial.len() + 1);
        line.extend_from_slice(self.prefix.as_bytes());
        line.append(&mut self.partial);
        line.push(b'\n');
        Bytes::from(line)
    }
}

async fn job_logs(
    State(state): State<ApiState>,
    caller: Caller,
    Path(job): Path<String>,
    Query(mut query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let ns = query
        .get("namespace")
        .filter(|ns| !ns.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".into());
    caller.require(&ns, Capability::ReadLogs)?;
    let selection = Selection {
        group: query.remove("group"),
        task: query.remove("task"),
    };
    let q = parse_query(&query)?;
    let exists = state
        .store
        .get_at::<drover_api_types::Job>(&state.store.keys().job(&ns, &job))
        .await?
        .is_some();
    if !exists {
        return Err(ApiError::not_found(format!(
            "job {job:?} not found in namespace {ns:?}"
        )));
    }
    let first = running_sources(&state, &ns, &job, &selection).await?;
    if first.len() > MAX_STREAMS {
        return Err(ApiError::bad_request(format!(
            "job {job:?} has {} running task outputs; at most {MAX_STREAMS} are read at once: name a group or task",
            first.len()
        )));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED_LINES);
    tokio::spawn(read_all(state, ns, job, selection, q, first, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response())
}

/// The job's running task outputs, as [`sources`] picks them.
async fn running_sources(
    state: &ApiState,
    ns: &str,
    job: &str,
    selection: &Selection,
) -> ApiResult<Vec<(Source, Joined)>> {
    let (all, _) = allocs::load(&state.store, Some(ns)).await?;
    let mut with_tasks = Vec::new();
    for joined in all.into_iter().filter(|j| j.alloc.spec.job_id == job) {
        let tasks = group_tasks(&state.store, &joined).await?;
        with_tasks.push((joined, tasks));
    }
    let picked = sources(job, &with_tasks, selection);
    Ok(picked
        .into_iter()
        .filter_map(|source| {
            let joined = with_tasks
                .iter()
                .find(|(j, _)| j.alloc.metadata.uid == source.0)
                .map(|(j, _)| j.clone())?;
            Some((source, joined))
        })
        .collect())
}

/// Reads every source into `tx`; following, adds the ones that start
/// later, until the reader goes away. Not following, ends when they do.
async fn read_all(
    state: ApiState,
    ns: String,
    job: String,
    selection: Selection,
    q: LogQuery,
    first: Vec<(Source, Joined)>,
    tx: mpsc::Sender<Bytes>,
) {
    let mut seen: BTreeSet<Source> = BTreeSet::new();
    let mut readers = tokio::task::JoinSet::new();
    let mut start = |(source, joined): (Source, Joined), seen: &mut BTreeSet<Source>| {
        if seen.len() >= MAX_STREAMS || !seen.insert(source.clone()) {
            return;
        }
        readers.spawn(read_one(state.clone(), source, joined, q, tx.clone()));
    };
    for pair in first {
        start(pair, &mut seen);
    }
    if q.follow {
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                _ = tokio::time::sleep(RELIST) => {}
            }
            // Only allocations not seen before join: one seen would repeat
            // its tail.
            if let Ok(now) = running_sources(&state, &ns, &job, &selection).await {
                for pair in now {
                    start(pair, &mut seen);
                }
            }
        }
        readers.abort_all();
    } else {
        drop(tx);
        while readers.join_next().await.is_some() {}
    }
}

/// One source's output into `tx`, line by line, named.
async fn read_one(
    state: ApiState,
    source: Source,
    joined: Joined,
    q: LogQuery,
    tx: mpsc::Sender<Bytes>,
) {
    let mut lines = Lines::new(prefix(&source));
    let response = match open_output(&state, &joined, &source.2, q).await {
        Ok(response) => response,
        Err(e) => {
            let _ = tx
                .send(Bytes::from(format!(
                    "{}[drover: {}]\n",
                    prefix(&source),
                    e.message
                )))
                .await;
            return;
        }
    };
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        for line in lines.feed(&chunk) {
            if tx.send(line).await.is_err() {
                return;
            }
        }
    }
    if let Some(rest) = lines.finish() {
        let _ = tx.send(rest).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_named_whole_and_bounded() {
        let prefix = "1a2b3c4d web.web[0]/server: ";
        let mut lines = Lines::new(prefix.into());
        assert!(lines.feed(b"tick ").is_empty());
        let out = lines.feed(b"1\ntick 2\ntick");
        assert_eq!(
            out,
            vec![
                Bytes::from_static(b"1a2b3c4d web.web[0]/server: tick 1\n"),
                Bytes::from_static(b"1a2b3c4d web.web[0]/server: tick 2\n"),
            ]
        );
        assert_eq!(
            lines.finish(),
            Some(Bytes::from_static(b"1a2b3c4d web.web[0]/server: tick\n"))
        );
        assert_eq!(lines.finish(), None);
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let pieces = lines.feed(&long);
        assert_eq!(pieces.len(), 2);
        assert!(pieces
            .iter()
            .all(|p| p.len() == MAX_LINE + prefix.len() + 1));
        assert_eq!(lines.finish().map(|b| b.len()), Some(5 + prefix.len() + 1));
    }

    fn joined(
        id: &str,
        job: &str,
        group: &str,
        desired: DesiredStatus,
        client: ClientStatus,
    ) -> Joined {
        let mut alloc = drover_api_types::alloc::Allocation::default();
        alloc.metadata.uid = id.into();
        alloc.metadata.name = format!("{job}.{group}[0]");
        alloc.spec.job_id = job.into();
        alloc.spec.task_group = group.into();
        alloc.spec.desired_status = desired;
        let status = drover_api_types::alloc::AllocationStatus {
            client_status: client,
            ..Default::default()
        };
        Joined {
            alloc,
            binding: None,
            status: Some(status),
        }
    }

    #[test]
    fn only_running_allocations_of_the_job_and_the_selection_are_read() {
        let tasks = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let all = vec![
            (
                joined(
                    "a1",
                    "web",
                    "front",
                    DesiredStatus::Run,
                    ClientStatus::Running,
                ),
                tasks(&["nginx", "log"]),
            ),
            (
                joined(
                    "a2",
                    "web",
                    "back",
                    DesiredStatus::Run,
                    ClientStatus::Running,
                ),
                tasks(&["api"]),
            ),
            (
                joined(
                    "a3",
                    "web",
                    "front",
                    DesiredStatus::Stop,
                    ClientStatus::Running,
                ),
                tasks(&["nginx"]),
            ),
            (
                joined(
                    "a4",
                    "web",
                    "front",
                    DesiredStatus::Run,
                    ClientStatus::Pending,
                ),
                tasks(&["nginx"]),
            ),
            (
                joined(
                    "b1",
                    "other",
                    "front",
                    DesiredStatus::Run,
                    ClientStatus::Running,
                ),
                tasks(&["nginx"]),
            ),
        ];
        let every = sources("web", &all, &Selection::default());
        let ids: Vec<(&str, &str)> = every
            .iter()
            .map(|(id, _, t)| (id.as_str(), t.as_str()))
            .collect();
        assert_eq!(ids, vec![("a1", "nginx"), ("a1", "log"), ("a2", "api")]);
        let front = sources(
            "web",
            &all,
            &Selection {
                group: Some("front".into()),
                task: None,
            },
        );
        assert_eq!(front.len(), 2);
        let nginx = sources(
            "web",
            &all,
            &Selection {
                group: None,
                task: Some("nginx".into()),
            },
        );
        assert_eq!(nginx.len(), 1);
        assert_eq!(prefix(&every[0]), "a1 web.front[0]/nginx: ");
    }
}
