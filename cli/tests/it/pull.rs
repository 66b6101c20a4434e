//! Image pulls end to end: a real agent pulls its task's image from a
//! Docker Registry served by the test on 127.0.0.1 (plain HTTP; Docker
//! trusts 127.0.0.0/8 registries without TLS), with and without HTTP basic
//! auth, and fails the task clearly when the pull cannot succeed.

use std::process::Command;
use std::time::Duration;

use drover_api_types::alloc::{
    Allocation, AllocationStatus, ClientStatus, TaskRunState, TaskState,
};
use drover_api_types::job::{ReschedulePolicy, RestartPolicy};
use drover_api_types::Job;
use drover_store::{Store, Versioned};
use drover_test_support::registry::{RegistryOptions, TestRegistry};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

use crate::common::*;

const ADDRESS: &str = "127.0.0.21";
const REPO: &str = "drover/busybox";

/// A server and one agent on [`ADDRESS`]; the guard removes the node's
/// containers at the end.
struct Cluster {
    store: Store,
    _data: tempfile::TempDir,
    _etcd: TestEtcd,
    _agent: Proc,
    _server: Proc,
    _cleanup: Cleanup,
}

impl Cluster {
    async fn start() -> Cluster {
        let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
        let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
        let data = tempfile::tempdir().expect("tempdir");
        let data_dir = data.path().join("agent");
        let server = drover(&etcd, &["server", "--http-addr=127.0.0.1:0"]);
        let agent = drover(
            &etcd,
            &[
                "agent",
                &format!("--address={ADDRESS}"),
                &format!("--data-dir={}", data_dir.display()),
                // Any free port: the tests of this file share the address.
                &format!("--http-addr={ADDRESS}:0"),
            ],
        );
        let cleanup = cleanup_when_registered(&data_dir).await;
        Cluster {
            store,
            _data: data,
            _etcd: etcd,
            _agent: agent,
            _server: server,
            _cleanup: cleanup,
        }
    }

    async fn submit(&self, job: &Job) {
        let key = self.store.keys().job("default", &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
    }

    /// The job's allocation and its status, once `done` says so.
    async fn alloc_when(
        &self,
        what: &str,
        done: impl Fn(&AllocationStatus) -> bool,
    ) -> (Allocation, AllocationStatus) {
        let store = &self.store;
        eventually(90, what, || async {
            let keys = store.keys();
            let allocs: Vec<Allocation> = store
                .list_at(&keys.collection("allocations"))
                .await
                .ok()?
                .items;
            let a = allocs.into_iter().find(|a| a.spec.job_id == "pulled")?;
            let s: Versioned<AllocationStatus> = store
                .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
                .await
                .ok()??;
            done(&s.value).then_some((a, s.value))
        })
        .await
    }
}

/// `docker rmi -f` of the image now and when dropped, so the agent must
/// pull it and nothing is left behind.
struct RemoveImage(String);

impl RemoveImage {
    fn now(image: &str) -> RemoveImage {
        remove_image(image);
        RemoveImage(image.to_string())
    }
}

impl Drop for RemoveImage {
    fn drop(&mut self) {
        remove_image(&self.0);
    }
}

fn remove_image(image: &str) {
    let _ = Command::new("docker").args(["rmi", "-f", image]).output();
}

/// A one-task job "pulled" whose task "main" runs `image`, never restarted
/// nor rescheduled, so a failed pull settles as a failed allocation.
fn job_with(image: &str, auth: Option<(&str, &str)>) -> Job {
    let mut job = web_job();
    job.metadata.name = "pulled".into();
    let group = &mut job.spec.groups[0];
    group.network = None;
    group.reschedule = Some(ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..Default::default()
    });
    let task = &mut group.tasks[0];
    task.name = "main".into();
    task.env.clear();
    task.config.remove("ports");
    task.config.insert("image".into(), image.into());
    task.config.insert(
        "args".into(),
        serde_json::json!(["-c", "echo pulled; exec sleep 3600"]),
    );
    if let Some((username, password)) = auth {
        // What HCL's `auth { username = … password = … }` block becomes.
        task.config.insert(
            "auth".into(),
            serde_json::json!({"username": username, "password": password}),
        );
    }
    task.restart = Some(RestartPolicy {
        attempts: Some(0),
        interval: Some(Duration::from_secs(60).into()),
        delay: Some(Duration::from_secs(1).into()),
        mode: Some("fail".into()),
        render_templates: None,
    });
    job
}

fn events(task: &TaskState) -> Vec<String> {
    task.events
        .iter()
        .map(|e| format!("{}: {}", e.event_type, e.message))
        .collect()
}

/// Runs the job on a fresh cluster until it is running; checks the pull
/// was reported as a "Driver" event and the container runs the image.
async fn runs_after_a_pull(registry: &TestRegistry, image: &str, auth: Option<(&str, &str)>) {
    let cluster = Cluster::start().await;
    cluster.submit(&job_with(image, auth)).await;
    let (alloc, status) = cluster
        .alloc_when("the allocation running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let task = &status.task_states["main"];
    assert!(
        task.events
            .iter()
            .any(|e| e.event_type == "Driver" && e.message.starts_with("Downloading image")),
        "no download event: {:?}",
        events(task)
    );
    assert!(
        events(task)
            .iter()
            .any(|e| e.starts_with("Driver: Downloading image") && e.contains(image)),
        "the download event names the image: {:?}",
        events(task)
    );
    assert!(
        registry.served_pull(REPO),
        "the registry did not serve the manifest and both blobs: {:?}",
        registry.requests()
    );
    let container = format!("main-{}", alloc.metadata.uid);
    assert_eq!(docker_inspect(&container, "{{.Config.Image}}"), image);
    assert_eq!(docker_inspect(&container, "{{.State.Running}}"), "true");
}

/// Runs the job on a fresh cluster until the allocation fails; returns
/// the task's "Driver Failure" message.
async fn fails_to_pull(image: &str, auth: Option<(&str, &str)>) -> String {
    let cluster = Cluster::start().await;
    cluster.submit(&job_with(image, auth)).await;
    let (_, status) = cluster
        .alloc_when("the allocation failed", |s| {
            s.client_status == ClientStatus::Failed
        })
        .await;
    let task = &status.task_states["main"];
    assert!(task.failed, "{task:?}");
    assert_eq!(task.state, TaskRunState::Dead, "{task:?}");
    let failure = task
        .events
        .iter()
        .find(|e| e.event_type == "Driver Failure")
        .unwrap_or_else(|| panic!("no Driver Failure event: {:?}", events(task)));
    assert!(
        failure.message.contains(image),
        "the failure names the image {image}: {}",
        failure.message
    );
    assert!(
        !task.events.iter().any(|e| e.event_type == "Started"),
        "{:?}",
        events(task)
    );
    failure.message.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_image_is_pulled_from_the_registry_then_run() {
    let registry = TestRegistry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let image = registry.image(REPO, "pull");
    let _rmi = RemoveImage::now(&image);
    runs_after_a_pull(&registry, &image, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_basic_auth_is_pulled_from_with_the_task_configs_auth() {
    let options = RegistryOptions::default().with_basic_auth("u", "p");
    let registry = TestRegistry::start(options).await.expect("registry");
    let image = registry.image(REPO, "pull");
    let _rmi = RemoveImage::now(&image);
    runs_after_a_pull(&registry, &image, Some(("u", "p"))).await;
    let requests = registry.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.authorized && r.path.contains("/manifests/")),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_task_with_an_authentication_error() {
    let options = RegistryOptions::default().with_basic_auth("u", "p");
    let registry = TestRegistry::start(options).await.expect("registry");
    let image = registry.image(REPO, "pull");
    let _rmi = RemoveImage::now(&image);
    let message = fails_to_pull(&image, Some(("u", "wrong"))).await;
    let lower = message.to_lowercase();
    assert!(
        lower.contains("unauthorized") || lower.contains("authentication"),
        "the failure says why: {message}"
    );
    let requests = registry.requests();
    assert!(
        requests.iter().all(|r| !r.authorized && r.status == 401),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.path.contains("/manifests/")),
        "the manifest was asked for (with the wrong credentials): {requests:?}"
    );
    assert!(!registry.served_pull(REPO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_tag_fails_the_task_naming_the_image() {
    let registry = TestRegistry::start(RegistryOptions::default())
        .await
        .expect("registry");
    let image = registry.image(REPO, "missing");
    let _rmi = RemoveImage::now(&image);
    let message = fails_to_pull(&image, None).await;
    let lower = message.to_lowercase();
    assert!(
        lower.contains("not found") || lower.contains("manifest unknown"),
        "the failure says why: {message}"
    );
    let requests = registry.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == format!("/v2/{REPO}/manifests/missing") && r.status == 404),
        "{requests:?}"
    );
    assert!(!registry.served_pull(REPO));
}
