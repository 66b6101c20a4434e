//! Watches allocations, their statuses and deployments, and records when
//! each job reached the version it was last registered at: every
//! allocation meant to run is at that version and running, and none of an
//! older version still runs. Where a deployment of that version exists,
//! when it turned successful is recorded too.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use drover_api_types::alloc::{AllocationStatus, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{Deployment, DeploymentState};
use drover_api_types::Allocation;
use drover_store::keys::collections as c;
use drover_store::{Store, Versioned, WatchEvent};
use futures::StreamExt;

#[derive(Default)]
struct Alloc {
    job: String,
    version: u64,
    run: bool,
    status: Option<ClientStatus>,
}

/// What a job is waiting for.
struct Target {
    version: u64,
    since: Instant,
}

#[derive(Default)]
pub struct State {
    allocs: HashMap<String, Alloc>,
    by_job: HashMap<String, BTreeSet<String>>,
    targets: HashMap<String, Target>,
    /// Job → time from registration to its allocations at the version.
    pub done: HashMap<String, f64>,
    /// Job → time from registration to its deployment's success.
    pub deployed: HashMap<String, f64>,
    /// Job → the versions that have a deployment.
    deployments: HashMap<String, BTreeSet<u64>>,
}

impl State {
    /// Waits for `job` to reach `version`, timed from now.
    pub fn expect(&mut self, job: &str, version: u64) {
        let target = Target {
            version,
            since: Instant::now(),
        };
        self.targets.insert(job.to_string(), target);
        self.done.remove(job);
        self.deployed.remove(job);
        self.check(job);
    }

    /// Jobs whose latest registration has a deployment.
    pub fn with_deployment(&self) -> usize {
        self.targets
            .iter()
            .filter(|(job, t)| {
                self.deployments
                    .get(*job)
                    .is_some_and(|v| v.contains(&t.version))
            })
            .count()
    }

    fn check(&mut self, job: &str) {
        let Some(target) = self.targets.get(job) else {
            return;
        };
        if self.done.contains_key(job) {
            return;
        }
        let ids = self.by_job.get(job).cloned().unwrap_or_default();
        let mut current_running = 0;
        for id in &ids {
            let Some(a) = self.allocs.get(id) else {
                continue;
            };
            let terminal = a.status.is_some_and(|s| s.is_terminal());
            if a.version == target.version && a.run {
                if a.status != Some(ClientStatus::Running) {
                    return;
                }
                current_running += 1;
            } else if !terminal && a.version != target.version {
                return;
            }
        }
        if current_running > 0 {
            let elapsed = target.since.elapsed().as_secs_f64() * 1000.0;
            self.done.insert(job.to_string(), elapsed);
        }
    }

    fn on_alloc(&mut self, id: String, a: Option<Allocation>) {
        let job = match a {
            Some(a) => {
                let entry = self.allocs.entry(id.clone()).or_default();
                entry.job = a.spec.job_id.clone();
                entry.version = a.spec.job_version;
                entry.run = a.spec.desired_status == DesiredStatus::Run;
                self.by_job.entry(entry.job.clone()).or_default().insert(id);
                a.spec.job_id
            }
            None => match self.allocs.remove(&id) {
                Some(old) => {
                    if let Some(set) = self.by_job.get_mut(&old.job) {
                        set.remove(&id);
                    }
                    old.job
                }
                None => return,
            },
        };
        self.check(&job);
    }

    fn on_status(&mut self, id: &str, status: Option<ClientStatus>) {
        if status.is_none() && !self.allocs.contains_key(id) {
            return;
        }
        let entry = self.allocs.entry(id.to_string()).or_default();
        entry.status = status;
        let job = entry.job.clone();
        if !job.is_empty() {
            self.check(&job);
        }
    }

    fn on_deployment(&mut self, d: &Deployment) {
        let job = d.spec.job_id.clone();
        self.deployments
            .entry(job.clone())
            .or_default()
            .insert(d.spec.job_version);
        let Some(target) = self.targets.get(&job) else {
            return;
        };
        if d.spec.job_version == target.version
            && d.status.state == DeploymentState::Successful
            && !self.deployed.contains_key(&job)
        {
            let elapsed = target.since.elapsed().as_secs_f64() * 1000.0;
            self.deployed.insert(job, elapsed);
        }
    }
}

pub type Shared = Arc<Mutex<State>>;

pub fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the watches; returns once each has its initial list.
pub async fn start(store: &Store) -> (Shared, tokio::task::JoinHandle<()>) {
    let state = Shared::default();
    let keys = store.keys();
    let mut allocs = store.watch_prefix::<Allocation>(&keys.collection(c::ALLOCATIONS));
    let mut statuses =
        store.watch_prefix::<Versioned<AllocationStatus>>(&keys.collection(c::ALLOCATIONS_STATUS));
    let mut deployments = store.watch_prefix::<Deployment>(&keys.collection(c::DEPLOYMENTS));
    let _ = allocs.next().await;
    let _ = statuses.next().await;
    let _ = deployments.next().await;
    let sink = Arc::clone(&state);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(Ok(event)) = allocs.next() => match event {
                    WatchEvent::Applied { key, object } => lock(&sink).on_alloc(id_of(&key), Some(object)),
                    WatchEvent::Deleted { key, .. } => lock(&sink).on_alloc(id_of(&key), None),
                    WatchEvent::Restarted { objects, .. } => {
                        let mut state = lock(&sink);
                        for (key, object) in objects {
                            state.on_alloc(id_of(&key), Some(object));
                        }
                    }
                    WatchEvent::Synced { .. } => {}
                },
                Some(Ok(event)) = statuses.next() => match event {
                    WatchEvent::Applied { key, object } => {
                        lock(&sink).on_status(&id_of(&key), Some(object.value.client_status));
                    }
                    WatchEvent::Deleted { key, .. } => lock(&sink).on_status(&id_of(&key), None),
                    WatchEvent::Restarted { objects, .. } => {
                        let mut state = lock(&sink);
                        for (key, object) in objects {
                            state.on_status(&id_of(&key), Some(object.value.client_status));
                        }
                    }
                    WatchEvent::Synced { .. } => {}
                },
                Some(Ok(event)) = deployments.next() => {
                    if let WatchEvent::Applied { object, .. } = event {
                        lock(&sink).on_deployment(&object);
                    }
                },
                else => break,
            }
        }
    });
    (state, task)
}

fn id_of(key: &str) -> String {
    key.rsplit('/').next().unwrap_or_default().to_string()
}
