//! Allocations of the simulated nodes: one watch on `node-allocs/` for the
//! whole fleet, and batched status writes.
//!
//! Each allocation assigned to a live simulated node is reported once per
//! desired status and deployment (an allocation updated in place joins the
//! new version's deployment and is judged healthy for it again): `run` →
//! `running` with one running task state per task
//! (task names from the job, read from a jobs cache; the group name when the
//! job is unknown), `stop`/`evict` → `complete`. Writes go to a channel; the
//! flusher gathers them for `flush_interval`, keeps the last write per key,
//! and commits them as one batch (as few transactions as etcd allows).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::{
    AllocationStatus, ClientStatus, DeploymentHealth, DesiredStatus, TaskEvent, TaskRunState,
    TaskState,
};
use drover_api_types::{Allocation, Job};
use drover_store::keys::collections as c;
use drover_store::{Cache, Stored, Versioned, WatchEvent};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{lock, Shared};

/// Most writes per flush; more wait for the next one.
const MAX_FLUSH: usize = 4096;

/// The assignments seen on `node-allocs/` and what was reported for each.
#[derive(Default)]
pub(super) struct AllocState {
    /// node-allocs key → allocation.
    assigned: BTreeMap<String, Allocation>,
    /// node-allocs key → the desired status and deployment last reported.
    reported: HashMap<String, (DesiredStatus, Option<String>)>,
    jobs: Option<Cache<Job>>,
}

/// Builds the status a simulated agent reports for `alloc`.
pub fn simulated_status(alloc: &Allocation, tasks: &[String]) -> AllocationStatus {
    let now = Some(Utc::now());
    let running = alloc.spec.desired_status == DesiredStatus::Run;
    let task_state = |_: &String| TaskState {
        state: if running {
            TaskRunState::Running
        } else {
            TaskRunState::Dead
        },
        started_at: now,
        finished_at: if running { None } else { now },
        events: vec![TaskEvent {
            event_type: if running { "Started" } else { "Killed" }.into(),
            time: now,
            message: if running {
                "Task started by client (simulated)"
            } else {
                "Task successfully killed (simulated)"
            }
            .into(),
            exit_code: None,
        }],
        ..Default::default()
    };
    AllocationStatus {
        client_status: if running {
            ClientStatus::Running
        } else {
            ClientStatus::Complete
        },
        client_description: if running {
            "Tasks are running"
        } else {
            "All tasks have completed"
        }
        .into(),
        task_states: tasks.iter().map(|t| (t.clone(), task_state(t))).collect(),
        // Simulated tasks are healthy the moment they run, for whatever
        // deployment placed them.
        deployment_health: alloc.spec.deployment_id.clone().filter(|_| running).map(
            |deployment_id| DeploymentHealth {
                deployment_id,
                healthy: true,
                at: now,
                description: String::new(),
            },
        ),
        updated_at: now,
        checks: Vec::new(),
    }
}

fn task_names(jobs: Option<&Cache<Job>>, shared: &Shared, alloc: &Allocation) -> Vec<String> {
    let key = shared
        .store
        .keys()
        .job(&alloc.metadata.namespace, &alloc.spec.job_id);
    let names: Vec<String> = jobs
        .and_then(|j| j.get(&key))
        .and_then(|job| {
            job.spec
                .groups
                .into_iter()
                .find(|g| g.name == alloc.spec.task_group)
        })
        .map(|g| g.tasks.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    if names.is_empty() {
        vec![alloc.spec.task_group.clone()]
    } else {
        names
    }
}

/// Reports `key`'s allocation if its node is live and its desired status
/// was not reported yet. Call with the state locked.
fn report(shared: &Shared, state: &mut AllocState, key: &str) {
    let Some(alloc) = state.assigned.get(key) else {
        return;
    };
    let keys = shared.store.keys();
    let Some(node_id) = keys
        .parse(key)
        .and_then(|p| p.segments.first().map(|s| s.to_string()))
    else {
        return;
    };
    match shared.node(&node_id) {
        Some(node) if !node.killed => {}
        _ => return,
    }
    let desired = (alloc.spec.desired_status, alloc.spec.deployment_id.clone());
    if state.reported.get(key) == Some(&desired) {
        return;
    }
    let tasks = task_names(state.jobs.as_ref(), shared, alloc);
    let status = Versioned::new(simulated_status(alloc, &tasks));
    let Ok(bytes) = status.encode() else { return };
    let status_key = keys.alloc_status(
        Some(&node_id),
        &alloc.metadata.namespace,
        &alloc.metadata.uid,
    );
    if shared.writes.send((status_key, bytes)).is_ok() {
        state.reported.insert(key.to_string(), desired);
    }
}

/// Reports every allocation of `node_id` not reported yet (after a revive).
pub(super) fn report_node(shared: &Shared, node_id: &str) {
    let prefix = shared.store.keys().node_allocs_prefix(node_id);
    let mut state = lock(&shared.allocs);
    let keys: Vec<String> = state
        .assigned
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        report(shared, &mut state, &key);
    }
}

fn apply(shared: &Shared, event: WatchEvent<Allocation>) {
    let mut state = lock(&shared.allocs);
    match event {
        WatchEvent::Restarted { objects, .. } => {
            state.assigned = objects.into_iter().collect();
            let AllocState {
                assigned, reported, ..
            } = &mut *state;
            reported.retain(|k, _| assigned.contains_key(k));
            let keys: Vec<String> = state.assigned.keys().cloned().collect();
            for key in keys {
                report(shared, &mut state, &key);
            }
        }
        WatchEvent::Applied { key, object } => {
            state.assigned.insert(key.clone(), object);
            report(shared, &mut state, &key);
        }
        WatchEvent::Deleted { key, .. } => {
            state.assigned.remove(&key);
            state.reported.remove(&key);
        }
        WatchEvent::Synced { .. } => {}
    }
}

/// Watches `node-allocs/` (once for the fleet) until shutdown.
pub(super) async fn watch_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let keys = shared.store.keys().clone();
    let jobs = shared.store.reflector::<Job>(&keys.collection(c::JOBS));
    let cache = jobs.cache();
    tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        _ = cache.wait_ready() => {}
    }
    lock(&shared.allocs).jobs = Some(jobs.cache());
    let mut watcher = shared
        .store
        .watch_prefix::<Allocation>(&keys.collection(c::NODE_ALLOCS));
    loop {
        let item = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            item = watcher.next() => item,
        };
        match item {
            Some(Ok(event)) => apply(&shared, event),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "simulator: skipping an assignment that does not decode")
            }
            None => return,
        }
    }
}

/// Gathers status writes and commits them in batches until shutdown (then
/// flushes what is pending).
pub(super) async fn flush_loop(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            _ = stop.wait_for(|s| *s) => None,
            w = rx.recv() => match w { Some(w) => Some(w), None => return },
        };
        let Some(first) = first else {
            let mut rest = Vec::new();
            while let Ok(w) = rx.try_recv() {
                rest.push(w);
            }
            flush(&shared, rest).await;
            return;
        };
        let mut pending = vec![first];
        let until = Instant::now() + shared.config.flush_interval;
        while pending.len() < MAX_FLUSH {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(w)) => pending.push(w),
                Ok(None) | Err(_) => break,
            }
        }
        flush(&shared, pending).await;
    }
}

/// Commits `writes` (last write per key wins), retrying until it lands.
async fn flush(shared: &Shared, writes: Vec<(String, Vec<u8>)>) {
    if writes.is_empty() {
        return;
    }
    let mut last: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, bytes) in writes {
        last.insert(key, bytes);
    }
    let mut delay = Duration::from_millis(50);
    loop {
        let mut batch = shared.store.batch();
        for (key, bytes) in &last {
            batch.put(key.clone(), bytes.clone());
        }
        match batch.commit(&shared.store).await {
            Ok(_) => {
                let mut stats = shared.stats();
                stats.statuses_written += last.len() as u64;
                stats.status_batches += 1;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = last.len(), retry_in = ?delay, "simulator: status batch failed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
