//! One worker per allocation: it holds the latest desired allocation (a
//! newer one replaces an older one; a stop is never lost, because the last
//! value is the one acted on), compares it with what Docker shows, carries
//! out what [`compute_actions`] decides, applies the restart policy, and
//! writes the allocation status. The decisions are the pure modules'; this
//! is the shell.
//!
//! It never stops a container because etcd is unreachable: the only inputs
//! that stop containers are the desired allocation and Docker itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{
    Allocation, AllocationStatus, ClientStatus, DesiredStatus, TaskRunState, TaskState,
};
use drover_api_types::host_access::HostPolicy;
use drover_api_types::{Job, Node, Task, TaskGroup};
use drover_store::{Store, StoreError, Versioned};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::actions::{compute_actions, DesiredTask, Intent};
use crate::container_spec::templates::MAX_SOURCE_BYTES;
use crate::container_spec::{container_spec, AgentPolicy};
use crate::disconnect::{self, ContactVerdict};
use crate::driver::docker::Docker;
use crate::driver::{labels, Observed};
use crate::lifecycle::{self, Phase, Step, TaskView};
use crate::task_env::TaskContext;
use crate::task_state::{self as ts, events};

mod checks;
mod execute;
mod health;

/// How often a worker looks at Docker when nothing else wakes it. Exits
/// wake it at once through Docker's events; this catches anything missed
/// while the event stream was down.
const POLL: Duration = Duration::from_secs(10);
/// How soon a pass looks again for a job copy (or a status) it could not
/// read; the copy's arrival also wakes the worker.
const JOB_WAIT: Duration = Duration::from_secs(1);
/// How often it looks once every task is dead: only a new desired state
/// (which wakes it at once) can change anything then.
const IDLE: Duration = Duration::from_secs(60);
/// How soon it looks again after a task changed state.
const NEXT_PHASE: Duration = Duration::from_millis(20);

/// What every worker of one agent shares.
pub struct Shared {
    pub store: Store,
    pub docker: Docker,
    pub node: watch::Receiver<Node>,
    pub allocs_dir: PathBuf,
    /// What tasks may ask of this node beyond their allocation.
    pub host: HostPolicy,
    /// Where templates may read absolute `source` paths from.
    pub template_source_dirs: Vec<PathBuf>,
    /// The most processes a container may run.
    pub pids_limit: Option<i64>,
    /// Finished allocations, for garbage collection.
    pub finished: crate::gc::Finished,
    /// What `/metrics` serves.
    pub metrics: Arc<crate::metrics::AgentMetrics>,
    /// `Some(since)` while the agent is out of contact with the servers
    /// ([`crate::heartbeat::Registration::out_of_contact`]).
    pub out_of_contact: watch::Receiver<Option<Instant>>,
}

/// Per-task memory of the worker: restarts, a pending restart.
#[derive(Default)]
struct TaskMemory {
    restarts: Vec<DateTime<Utc>>,
    restart_at: Option<Instant>,
    /// The exit that led to the pending restart or death, already recorded.
    handled_exit: Option<String>,
}

struct Worker {
    shared: Arc<Shared>,
    job: Option<Arc<Job>>,
    status: AllocationStatus,
    written: Option<AllocationStatus>,
    /// The status already in etcd has been read: an agent restart carries
    /// on from it (events, restarts, and tasks that are done stay done —
    /// a completed batch task must not run again).
    resumed: bool,
    /// The revision of the status in etcd as this worker last read or
    /// wrote it (0: absent). Writes are guarded by it, so a status the
    /// servers wrote meanwhile (lost, unknown) is read before it is
    /// replaced.
    stored_revision: i64,
    /// Set when the servers declared the allocation lost (its node was
    /// down): it stays lost, whatever its tasks do once the node is back.
    declared_lost: Option<String>,
    /// Set when this agent stopped the allocation itself, out of contact
    /// with the servers for the group's `stop_on_client_after`: it stays
    /// stopped (and lost) once the contact is back.
    stopped_without_contact: Option<String>,
    /// When this worker last heard from the servers: its allocation
    /// arrived or changed, or a status write went through. The lease may
    /// still be re-registering after a cut while the watch already
    /// delivers; what arrived proves contact, so `stop_on_client_after`
    /// never counts from before it.
    heard_from_servers: Instant,
    tasks: BTreeMap<String, TaskMemory>,
    /// The service checks running for this allocation.
    checks: checks::Checks,
    /// Start of the current unbroken healthy stretch (deployment health).
    health_up_since: Option<DateTime<Utc>>,
    /// The deployment this worker last saw the allocation in, and since
    /// when: an allocation updated in place joins the new version's
    /// deployment, and its `healthy_deadline` counts from then.
    deployment_joined: Option<(String, DateTime<Utc>)>,
}

/// Runs the worker of one allocation until `desired` says it is gone (and
/// its containers are stopped) or `shutdown`.
pub async fn run(
    shared: Arc<Shared>,
    mut desired: watch::Receiver<Option<Allocation>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut worker = Worker {
        shared,
        job: None,
        status: AllocationStatus::default(),
        written: None,
        resumed: false,
        stored_revision: 0,
        declared_lost: None,
        stopped_without_contact: None,
        heard_from_servers: Instant::now(),
        tasks: BTreeMap::new(),
        checks: checks::Checks::new(),
        health_up_since: None,
        deployment_joined: None,
    };
    let mut reported = crate::metrics::ForgetOnDrop::new(worker.shared.metrics.clone());
    let mut contact = worker.shared.out_of_contact.clone();
    let mut contact_open = true;
    // When the next pass is due: now, at first.
    let mut due = Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let current = desired.borrow_and_update().clone();
        let Some(alloc) = current else { return };
        reported.set(&alloc.metadata.uid);
        if Instant::now() >= due {
            due = Instant::now() + worker.pass(&alloc).await;
        }
        tokio::select! {
            // `changed`, not `wait_for`: no lock guard is held across the
            // check branch's await, so the future stays Send.
            stop = shutdown.changed() => if stop.is_err() || *shutdown.borrow() { return },
            changed = desired.changed() => {
                if changed.is_err() {
                    return;
                }
                worker.heard_from_servers = Instant::now();
                due = Instant::now();
            }
            // Contact lost: `stop_on_client_after` may start counting.
            // Contact back: the servers may have written the status
            // meanwhile (unknown, lost); it is read and written again now
            // rather than at the next change.
            changed = contact.changed(), if contact_open => {
                match changed {
                    Ok(()) if contact.borrow_and_update().is_none() => worker.written = None,
                    Ok(()) => {}
                    Err(_) => contact_open = false,
                }
                due = Instant::now();
            }
            _ = tokio::time::sleep_until(due) => {}
            // A check result is folded in without a whole pass.
            Some(result) = worker.checks.next() => worker.check_result(&alloc, result).await,
        }
    }
}

impl Worker {
    /// One reconcile; returns how long to sleep before the next.
    async fn pass(&mut self, alloc: &Allocation) -> Duration {
        let now = Utc::now();
        let Some(job) = self.load(alloc).await else {
            return JOB_WAIT;
        };
        let Some(group) = job
            .spec
            .groups
            .iter()
            .find(|g| g.name == alloc.spec.task_group)
        else {
            tracing::warn!(alloc = %alloc.metadata.uid, group = %alloc.spec.task_group, "the job has no such group");
            return POLL;
        };
        let node = self.shared.node.borrow().clone();
        let contact_recheck = self.judge_contact(alloc, group);
        let stopping = alloc.spec.desired_status != DesiredStatus::Run
            || self.stopped_without_contact.is_some();
        let before = self.status.clone();
        let views: Vec<TaskView> = group
            .tasks
            .iter()
            .map(|t| TaskView::new(t, self.status.task_states.get(&t.name)))
            .collect();
        let steps = lifecycle::plan(&views, stopping);
        let desired = self.desired_tasks(alloc, &job, group, &node, &steps, now);
        let observed = match self
            .shared
            .docker
            .list((labels::ALLOC_ID, alloc.metadata.uid.as_str()))
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(alloc = %alloc.metadata.uid, error = %e, "docker list failed");
                return POLL;
            }
        };
        self.mark_stopped_tasks(group, &steps, &observed, now);
        let mut wake = if self.done(&group.tasks) { IDLE } else { POLL };
        for action in compute_actions(&desired, &observed) {
            if let Some(soon) = self
                .execute(alloc, &job, group.tasks.as_slice(), action)
                .await
            {
                wake = wake.min(soon);
            }
        }
        if self.status != before {
            // A task changed state, so the next lifecycle phase may be due.
            wake = wake.min(NEXT_PHASE);
        }
        self.settle_client_status(alloc, group, now);
        if let Some(recheck) = contact_recheck {
            wake = wake.min(recheck);
        }
        self.sync_checks(alloc, &job, group, &node);
        if let Some(soon) = self.judge_health(alloc, group, now) {
            wake = wake.min(soon);
        }
        self.write_status(alloc).await;
        wake
    }

    /// The allocation's status as last written (once) and its job version;
    /// none while etcd cannot say (the pass is retried).
    async fn load(&mut self, alloc: &Allocation) -> Option<Arc<Job>> {
        if let Err(e) = self.resume(alloc).await {
            tracing::warn!(alloc = %alloc.metadata.uid, error = %e, "cannot read the allocation's status; retrying");
            return None;
        }
        if let Err(e) = self.load_job(alloc).await {
            tracing::warn!(alloc = %alloc.metadata.uid, error = %e, "cannot read the allocation's job; retrying");
            return None;
        }
        self.job.clone()
    }

    /// Whether the allocation must stop for lack of contact with the
    /// servers (`disconnect.stop_on_client_after`); when not yet, how soon
    /// to look again.
    fn judge_contact(&mut self, alloc: &Allocation, group: &TaskGroup) -> Option<Duration> {
        if self.stopped_without_contact.is_some() {
            return None;
        }
        let out_since = *self.shared.out_of_contact.borrow();
        let (stop_after, heard) = (group.stop_on_client_after(), self.heard_from_servers);
        match disconnect::verdict(stop_after, out_since, heard, Instant::now()) {
            ContactVerdict::Keep { recheck_in } => recheck_in,
            ContactVerdict::Stop { after } => {
                let after = drover_api_types::Duration::from(after);
                tracing::warn!(alloc = %alloc.metadata.uid, %after, "no contact with the servers for stop_on_client_after; stopping the allocation");
                self.stopped_without_contact = Some(format!(
                    "stopped by its agent: no contact with the servers for {after} (disconnect.stop_on_client_after)"
                ));
                None
            }
        }
    }

    /// What each task should be, from its lifecycle step: left alone,
    /// stopped, or run as the container its spec makes (a spec that cannot
    /// be made fails the task).
    fn desired_tasks(
        &mut self,
        alloc: &Allocation,
        job: &Job,
        group: &TaskGroup,
        node: &Node,
        steps: &[Step],
        now: DateTime<Utc>,
    ) -> Vec<DesiredTask> {
        let mut desired = Vec::new();
        for (task, step) in group.tasks.iter().zip(steps) {
            let state = self.task_state(&task.name);
            if state.events.is_empty() {
                ts::record(
                    state,
                    events::RECEIVED,
                    "Task received by client",
                    None,
                    now,
                );
            }
            let intent = match step {
                Step::Wait => Intent::Leave,
                Step::Skip => {
                    if state.state != TaskRunState::Dead {
                        ts::record(
                            state,
                            events::NOT_RESTARTING,
                            "Not run: no main task of the allocation ever started",
                            None,
                            now,
                        );
                        state.state = TaskRunState::Dead;
                        state.finished_at = Some(now);
                    }
                    Intent::Leave
                }
                Step::Stop => Intent::Stop {
                    signal: (!task.kill_signal.is_empty()).then(|| task.kill_signal.clone()),
                    timeout: task.kill_timeout.as_std(),
                },
                Step::Run => {
                    let ctx = TaskContext {
                        job,
                        group,
                        task,
                        alloc,
                        node,
                    };
                    let policy = AgentPolicy {
                        allocs_dir: &self.shared.allocs_dir,
                        host: &self.shared.host,
                        pids_limit: self.shared.pids_limit,
                        template_source_dirs: &self.shared.template_source_dirs,
                        read_source: &|root, path| {
                            crate::confined::read_file(root, path, MAX_SOURCE_BYTES)
                        },
                    };
                    match container_spec(&ctx, &policy) {
                        Ok(spec) => Intent::Run(Box::new(spec)),
                        Err(e) => {
                            self.fail_task(&task.name, events::DRIVER_FAILURE, e.to_string(), now);
                            continue;
                        }
                    }
                }
            };
            desired.push(DesiredTask {
                alloc_id: alloc.metadata.uid.clone(),
                task: task.name.clone(),
                intent,
                restart: crate::user_restart::wanted(alloc.spec.restart.as_ref(), &task.name),
            });
        }
        desired
    }

    /// A task to stop with nothing running is done (its container, if any,
    /// exited or was never made); running ones are marked dead once their
    /// stop succeeds.
    fn mark_stopped_tasks(
        &mut self,
        group: &TaskGroup,
        steps: &[Step],
        observed: &[Observed],
        now: DateTime<Utc>,
    ) {
        for (task, step) in group.tasks.iter().zip(steps) {
            let runs = observed
                .iter()
                .any(|c| c.running && c.labels.get(labels::TASK) == Some(&task.name));
            if *step == Step::Stop && !runs {
                let state = self.task_state(&task.name);
                if state.state != TaskRunState::Dead {
                    state.state = TaskRunState::Dead;
                    state.finished_at.get_or_insert(now);
                }
            }
        }
    }

    /// The allocation's client status from its tasks' (lost whatever they
    /// say once the servers declared it so or it stopped out of contact);
    /// when every task is done, when it finished, for the finished-alloc
    /// collector.
    fn settle_client_status(&mut self, alloc: &Allocation, group: &TaskGroup, now: DateTime<Utc>) {
        if self.done(&group.tasks) {
            let finished = self
                .status
                .task_states
                .values()
                .filter_map(|t| t.finished_at)
                .max()
                .unwrap_or(now);
            self.shared.finished.report(&alloc.metadata.uid, finished);
        }
        let names: Vec<(String, bool)> = group
            .tasks
            .iter()
            .map(|t| (t.name.clone(), Phase::of(t) == Phase::Main))
            .collect();
        let (client, description) = ts::client_status(&self.status, &names);
        self.status.client_status = client;
        self.status.client_description = description.into();
        if let Some(why) = self
            .declared_lost
            .as_ref()
            .or(self.stopped_without_contact.as_ref())
        {
            self.status.client_status = ClientStatus::Lost;
            self.status.client_description = why.clone();
        }
    }

    fn done(&self, tasks: &[Task]) -> bool {
        tasks.iter().all(|t| {
            self.status
                .task_states
                .get(&t.name)
                .is_some_and(|s| s.state == TaskRunState::Dead)
        }) && self.tasks.values().all(|m| m.restart_at.is_none())
    }

    fn task_state(&mut self, task: &str) -> &mut TaskState {
        self.status
            .task_states
            .entry(task.to_string())
            .or_insert_with(|| TaskState {
                state: TaskRunState::Pending,
                ..Default::default()
            })
    }

    fn fail_task(&mut self, task: &str, kind: &str, message: String, now: DateTime<Utc>) {
        let state = self.task_state(task);
        if state.state == TaskRunState::Dead {
            return;
        }
        tracing::warn!(task, %message, "task failed");
        ts::record(state, kind, message, None, now);
        state.state = TaskRunState::Dead;
        state.failed = true;
        state.finished_at = Some(now);
    }

    async fn resume(&mut self, alloc: &Allocation) -> drover_store::Result<()> {
        if self.resumed {
            return Ok(());
        }
        let key = self.status_key(alloc);
        if let Some(found) = self
            .shared
            .store
            .get_at::<Versioned<AllocationStatus>>(&key)
            .await?
        {
            self.adopt(found);
        }
        self.resumed = true;
        Ok(())
    }

    /// Takes the stored status as this worker's own.
    fn adopt(&mut self, found: Versioned<AllocationStatus>) {
        self.stored_revision = found.revision;
        if found.value.client_status == ClientStatus::Lost {
            self.declared_lost = Some(found.value.client_description.clone());
        }
        self.status = found.value.clone();
        self.written = Some(found.value);
    }

    /// After a guarded write lost to a server's write: keep what the
    /// servers decided (lost), take the rest from this worker, and write
    /// again on the next pass.
    async fn reread_status(&mut self, key: &str) -> drover_store::Result<()> {
        let found = self
            .shared
            .store
            .get_at::<Versioned<AllocationStatus>>(key)
            .await?;
        self.stored_revision = found.as_ref().map_or(0, |f| f.revision);
        if let Some(found) = found {
            if found.value.client_status == ClientStatus::Lost {
                tracing::info!(alloc = %key, "the servers declared this allocation lost; it stays lost");
                self.declared_lost = Some(found.value.client_description.clone());
                self.status.client_status = ClientStatus::Lost;
                self.status.client_description = found.value.client_description;
            }
        }
        self.written = None;
        Ok(())
    }

    /// Where this node keeps the allocation's status: under its own id,
    /// the only place its etcd role may write.
    fn status_key(&self, alloc: &Allocation) -> String {
        let node_id = self.shared.node.borrow().metadata.uid.clone();
        self.shared.store.keys().alloc_status(
            Some(&node_id),
            &alloc.metadata.namespace,
            &alloc.metadata.uid,
        )
    }

    async fn load_job(&mut self, alloc: &Allocation) -> drover_store::Result<()> {
        let fresh = self
            .job
            .as_ref()
            .is_some_and(|j| j.metadata.version == alloc.spec.job_version);
        if fresh {
            return Ok(());
        }
        // The servers copy each job version and group this node's
        // allocations run under the node's own prefix (the only jobs its
        // etcd role may read); until the copy lands the pass waits for it.
        let node_id = self.shared.node.borrow().metadata.uid.clone();
        let copy = self.shared.store.keys().node_job(
            &node_id,
            &alloc.metadata.namespace,
            &alloc.spec.job_id,
            alloc.spec.job_version,
            Some(&alloc.spec.task_group),
        );
        if let Some(job) = self.shared.store.get_at::<Job>(&copy).await? {
            self.job = Some(Arc::new(job));
        }
        Ok(())
    }

    /// Writes the status when it changed; a failure is retried next pass
    /// (etcd being away must not disturb the containers).
    async fn write_status(&mut self, alloc: &Allocation) {
        // Reported whether or not etcd takes the write: the node's metrics
        // say what runs here even while etcd is away.
        let report = crate::metrics::report_of(alloc, self.job.as_deref(), &self.status);
        self.shared.metrics.report(&alloc.metadata.uid, report);
        self.write_status_once(alloc, true).await;
    }

    /// Writes the status unless it is what was last written; after losing
    /// to a server's write, re-reads and (with `retry`) writes once more.
    async fn write_status_once(&mut self, alloc: &Allocation, retry: bool) {
        if self.written.as_ref() == Some(&self.status) {
            return;
        }
        let mut status = self.status.clone();
        status.updated_at = Some(Utc::now());
        let key = self.status_key(alloc);
        let stored = Versioned {
            value: status,
            revision: self.stored_revision,
        };
        let written = match self.stored_revision {
            0 => self.shared.store.create_at(&key, &stored).await,
            _ => self.shared.store.update_at(&key, &stored).await,
        };
        match written {
            Ok(revision) => {
                self.stored_revision = revision;
                self.written = Some(self.status.clone());
                self.heard_from_servers = Instant::now();
            }
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => {
                if let Err(e) = self.reread_status(&key).await {
                    tracing::warn!(alloc = %alloc.metadata.uid, error = %e, "cannot re-read the status; will retry");
                } else if retry {
                    // The servers' write (unknown after a disconnection, or
                    // lost) is folded in: write this agent's view over it
                    // now, not at the next change.
                    Box::pin(self.write_status_once(alloc, false)).await;
                }
            }
            Err(e) => {
                tracing::warn!(alloc = %alloc.metadata.uid, error = %e, "status write failed; will retry")
            }
        }
    }
}
