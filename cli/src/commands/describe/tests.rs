use std::collections::BTreeMap;

use drover_api::views::{NodeView, Usage};
use drover_api_types::alloc::{ClientStatus, DesiredStatus, TaskEvent, TaskRunState, TaskState};
use drover_api_types::job::{GroupSummary, JobStatus, PlacementFailure};
use drover_api_types::node::NodeState;
use drover_api_types::{mock, JobType};

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn ago(secs: i64) -> Option<DateTime<Utc>> {
    Some(now() - chrono::Duration::seconds(secs))
}

fn job() -> Job {
    let mut job = mock::job_of("web", JobType::Service, vec![mock::group("front", 2)]);
    job.metadata.version = 1;
    job.metadata.creation_timestamp = ago(60);
    job.spec.priority = 50;
    Job {
        status: Some(JobStatus {
            status: "running".into(),
            summary: BTreeMap::from([(
                "front".to_string(),
                GroupSummary {
                    running: 1,
                    queued: 1,
                    ..Default::default()
                },
            )]),
            placement_failures: BTreeMap::from([(
                "front".to_string(),
                PlacementFailure {
                    queued: 1,
                    nodes_evaluated: 3,
                    nodes_filtered: BTreeMap::from([(
                        "${attr.kernel.name} = windows".to_string(),
                        2,
                    )]),
                    dimensions_exhausted: BTreeMap::from([("memory".to_string(), 1)]),
                    quota_exhausted: None,
                },
            )]),
            ..Default::default()
        }),
        ..job
    }
}

fn alloc() -> AllocationView {
    let events = vec![
        TaskEvent {
            event_type: "Received".into(),
            time: ago(50),
            message: "Task received by client".into(),
            exit_code: None,
        },
        TaskEvent {
            event_type: "Started".into(),
            time: ago(40),
            message: "Task started by client".into(),
            exit_code: None,
        },
    ];
    AllocationView {
        id: "abcdef12-0000-1111".into(),
        name: "web.front[0]".into(),
        namespace: "default".into(),
        job: "web".into(),
        group: "front".into(),
        job_version: 1,
        node_id: Some("node0001-aaaa".into()),
        node_name: Some("sim-1".into()),
        ports: BTreeMap::new(),
        allocated: Default::default(),
        desired_status: DesiredStatus::Run,
        desired_description: String::new(),
        migrate: false,
        client_status: ClientStatus::Running,
        client_description: "Tasks are running".into(),
        task_states: BTreeMap::from([(
            "server".to_string(),
            TaskState {
                state: TaskRunState::Running,
                restarts: 1,
                started_at: ago(40),
                events,
                ..Default::default()
            },
        )]),
        healthy: None,
        deployment_id: None,
        canary: false,
        previous_allocation: None,
        create_time: ago(50),
        placed_at: None,
        status_time: None,
        modify_time: ago(40),
        index: 5,
    }
}

#[test]
fn a_quota_that_held_allocations_back_is_the_reason_shown() {
    let mut held = job();
    if let Some(status) = held.status.as_mut() {
        status.placement_failures.insert(
            "front".into(),
            PlacementFailure {
                queued: 1,
                quota_exhausted: Some(
                    "quota web exhausted: memory 4096/4096 MB used, 256 MB asked".into(),
                ),
                ..Default::default()
            },
        );
    }
    let page = job_page(&held, &[], None, Style::PLAIN, now());
    assert!(
        page.contains(
            "Task Group \"front\" (1 unplaced):\n  * Quota web exhausted: memory 4096/4096 MB used, 256 MB asked\n"
        ),
        "{page}"
    );
    assert!(!page.contains("No nodes were eligible"), "{page}");
}

#[test]
fn the_job_page_has_the_summary_the_reasons_and_the_allocations() {
    let page = job_page(&job(), &[alloc()], None, Style::PLAIN, now());
    assert!(page.starts_with("ID          = web\n"), "{page}");
    assert!(page.contains("Priority    = 50\n"), "{page}");
    assert!(
        page.contains("Submitted   = 2024-05-01T11:59:00Z (60s ago)\n"),
        "{page}"
    );
    assert!(
        page.contains(
            "Task Group   Queued   Starting   Running   Failed   Complete   Lost   Unknown\n\
             front        1        0          1         0        0          0      0\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("Task Group \"front\" (1 unplaced):\n  * 3 nodes evaluated\n"),
        "{page}"
    );
    assert!(
        page.contains("Constraint \"${attr.kernel.name} = windows\": 2 nodes excluded by filter"),
        "{page}"
    );
    assert!(
        page.contains("Resources exhausted on 1 nodes: memory"),
        "{page}"
    );
    assert!(
        page.contains("abcdef12   sim-1   front        1         run       running   50s ago"),
        "{page}"
    );
    let none = job_page(&job(), &[], None, Style::PLAIN, now());
    assert!(
        none.ends_with("Allocations\nNo allocations placed\n"),
        "{none}"
    );
}

#[test]
fn the_allocation_page_has_tasks_resources_and_events_newest_first() {
    let page = alloc_page(&alloc(), Some(&job()), Style::PLAIN, now());
    assert!(
        page.contains("ID                  = abcdef12-0000-1111\n"),
        "{page}"
    );
    assert!(page.contains("Node Name           = sim-1\n"), "{page}");
    assert!(
        page.contains("Client Description  = Tasks are running\n"),
        "{page}"
    );
    assert!(page.contains("Desired Description = <none>\n"), "{page}");
    assert!(page.contains("Task \"server\" is \"running\""), "{page}");
    assert!(page.contains("Restarts = 1\n"), "{page}");
    assert!(
        page.contains("CPU      = 100 MHz\nMemory   = 64 MiB\n"),
        "{page}"
    );
    let started = page.find("Task started by client").expect("started event");
    let received = page
        .find("Task received by client")
        .expect("received event");
    assert!(started < received, "{page}");
    // Without its job the page still shows what the allocation knows.
    let bare = alloc_page(&alloc(), None, Style::PLAIN, now());
    assert!(
        bare.contains("Restarts = 1\n") && !bare.contains("MHz"),
        "{bare}"
    );
}

#[test]
fn the_node_page_shows_usage_allocations_and_attributes() {
    let detail = NodeDetail {
        node: NodeView {
            id: "node0001-aaaa".into(),
            name: "sim-1".into(),
            datacenter: "dc1".into(),
            node_class: String::new(),
            node_pool: "default".into(),
            address: "127.0.0.1".into(),
            http_addr: String::new(),
            http_tls: false,
            status: NodeState::Ready,
            status_description: String::new(),
            eligible: true,
            drain: None,
            drivers: BTreeMap::from([("docker".to_string(), true)]),
            resources: Usage {
                cpu: 3900,
                memory: 8000,
                memory_max: 8000,
            },
            allocated: Usage {
                cpu: 100,
                memory: 64,
                memory_max: 64,
            },
            allocations: 1,
            agent_version: "0.1.0".into(),
            heartbeat: true,
            last_transition: None,
            create_time: None,
            index: 3,
        },
        attributes: BTreeMap::from([("kernel.name".to_string(), "linux".to_string())]),
        meta: BTreeMap::new(),
        host_volumes: BTreeMap::new(),
        events: Vec::new(),
        allocation_list: vec![alloc()],
    };
    let page = node_page(&detail, Style::PLAIN, now());
    assert!(
        page.contains("ID                 = node0001-aaaa\n"),
        "{page}"
    );
    assert!(page.contains("Eligibility        = eligible\n"), "{page}");
    assert!(page.contains("Class              = <none>\n"), "{page}");
    assert!(page.contains("100/3900 MHz   64/8000 MiB"), "{page}");
    assert!(page.contains("kernel.name = linux\n"), "{page}");
    assert!(page.contains("abcdef12   sim-1"), "{page}");
    assert!(!page.contains("Meta"), "{page}");
}
