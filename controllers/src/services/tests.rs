use chrono::{TimeZone, Utc};
use drover_api_types::alloc::{
    Allocation, AssignedPort, Binding, ClientStatus, DesiredStatus, TaskRunState, TaskState,
};
use drover_api_types::group::{Check, Network, Port, Service};
use drover_api_types::service::{CheckStatus, ServiceRegistration};
use drover_api_types::{mock, Job, JobType, Node, TaskGroup};

use super::*;

fn service(name: &str, port: &str) -> Service {
    Service {
        name: name.into(),
        port: port.into(),
        tags: Vec::new(),
        canary_tags: Vec::new(),
        meta: Default::default(),
        canary_meta: Default::default(),
        address_mode: String::new(),
        address: String::new(),
        provider: "nomad".into(),
        task: String::new(),
        enable_tag_override: false,
        on_update: String::new(),
        checks: Vec::new(),
    }
}

fn job() -> Job {
    let mut web = service("web-${NOMAD_GROUP_NAME}", "http");
    web.tags = vec![
        "v1".into(),
        "dc-${node.datacenter}".into(),
        "i${NOMAD_ALLOC_INDEX}".into(),
    ];
    web.meta.insert("alloc".into(), "${NOMAD_ALLOC_ID}".into());
    web.meta.insert("rack".into(), "${meta.rack}".into());
    web.canary_tags = vec!["canary".into()];
    web.checks = vec![
        Check {
            name: "alive".into(),
            check_type: "http".into(),
            path: "/health".into(),
            ..Default::default()
        },
        Check {
            check_type: "tcp".into(),
            ..Default::default()
        },
    ];
    let mut server = mock::task("server");
    server.services.push(service("admin", "9000"));
    let group = TaskGroup {
        name: "api".into(),
        network: Some(Network {
            mode: "bridge".into(),
            ports: vec![Port {
                label: "http".into(),
                to: Some(8080),
                ..Default::default()
            }],
            hostname: None,
            mbits: None,
            dns: None,
        }),
        services: vec![web],
        tasks: vec![server],
        ..Default::default()
    };
    mock::job_of("shop", JobType::Service, vec![group])
}

fn alloc() -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = "a1b2c3".into();
    a.metadata.namespace = "default".into();
    a.metadata.name = "shop.api[1]".into();
    a.spec.job_id = "shop".into();
    a.spec.task_group = "api".into();
    a.spec.index = 1;
    let mut binding = Binding {
        node_id: "n1".into(),
        node_name: "worker-1".into(),
        ..Default::default()
    };
    binding.ports.insert(
        "http".into(),
        AssignedPort {
            host_ip: String::new(),
            value: 23456,
            to: 8080,
        },
    );
    a.binding = Some(binding);
    a.status.client_status = ClientStatus::Running;
    a.status.task_states.insert(
        "server".into(),
        TaskState {
            state: TaskRunState::Running,
            driver_ip: "172.17.0.9".into(),
            ..Default::default()
        },
    );
    a.status.checks = vec![
        CheckStatus {
            check_id: "web-api/alive".into(),
            name: "alive".into(),
            status: "critical".into(),
            output: "HTTP 500".into(),
            updated_at: Utc.timestamp_opt(100, 0).single(),
        },
        CheckStatus {
            check_id: "web-api/1".into(),
            name: "service: \"web-api\" check".into(),
            status: "passing".into(),
            output: "connected".into(),
            updated_at: Utc.timestamp_opt(100, 0).single(),
        },
        CheckStatus {
            check_id: "other/alive".into(),
            status: "passing".into(),
            ..Default::default()
        },
    ];
    a
}

fn node() -> Node {
    let mut n = Node::default();
    n.metadata.uid = "n1".into();
    n.metadata.name = "worker-1".into();
    n.spec.address = "10.0.0.5".into();
    n.spec.datacenter = "dc7".into();
    n.spec.meta.insert("rack".into(), "r2".into());
    n
}

fn desired_of(alloc: &Allocation, job: &Job, node: &Node) -> Desired {
    desired_registrations(&AllocInputs {
        alloc,
        job: Some(job),
        node: Some(node),
        node_alive: true,
    })
}

fn find<'a>(d: &'a Desired, name: &str) -> &'a ServiceRegistration {
    d.registrations
        .iter()
        .find(|r| r.spec.service_name == name)
        .unwrap_or_else(|| panic!("no registration {name}: {d:?}"))
}

#[test]
fn a_running_allocation_registers_group_and_task_services() {
    let (job, alloc, node) = (job(), alloc(), node());
    let d = desired_of(&alloc, &job, &node);
    assert_eq!(d.problems, Vec::<String>::new());
    assert_eq!(d.registrations.len(), 2);
    let web = find(&d, "web-api");
    assert_eq!(web.metadata.namespace, "default");
    assert_eq!(web.metadata.name, "_drover-a1b2c3-group-web-api-http");
    let s = &web.spec;
    assert_eq!((s.address.as_str(), s.port), ("10.0.0.5", 23456));
    assert_eq!(
        s.tags,
        ["v1", "dc-dc7", "i1"],
        "interpolated, no canary tags"
    );
    assert_eq!(s.meta.get("alloc").map(String::as_str), Some("a1b2c3"));
    assert_eq!(s.meta.get("rack").map(String::as_str), Some("r2"));
    assert_eq!(
        (s.node_id.as_str(), s.node_name.as_str()),
        ("n1", "worker-1")
    );
    assert_eq!(s.datacenter, "dc7");
    let mut canary = alloc.clone();
    canary.spec.canary = true;
    let d = desired_of(&canary, &job, &node);
    assert_eq!(find(&d, "web-api").spec.tags, ["canary"], "a canary's tags");
    assert_eq!((s.job_id.as_str(), s.alloc_id.as_str()), ("shop", "a1b2c3"));
    assert_eq!(s.task, "", "a group service names no task");
    let checks: Vec<(&str, &str)> = s
        .checks
        .iter()
        .map(|c| (c.check_id.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(
        checks,
        [("web-api/alive", "critical"), ("web-api/1", "passing")]
    );

    let admin = find(&d, "admin");
    assert_eq!(admin.metadata.name, "_drover-a1b2c3-server-admin-9000");
    assert_eq!(
        (admin.spec.address.as_str(), admin.spec.port),
        ("10.0.0.5", 9000)
    );
    assert_eq!(admin.spec.task, "server");
    assert!(admin.spec.checks.is_empty());
}

#[test]
fn nothing_is_registered_unless_running_meant_to_run_and_on_a_live_node() {
    let (job, node) = (job(), node());
    type Change = Box<dyn Fn(&mut Allocation)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "desired stop",
            Box::new(|a| a.spec.desired_status = DesiredStatus::Stop),
        ),
        (
            "desired evict",
            Box::new(|a| a.spec.desired_status = DesiredStatus::Evict),
        ),
        (
            "pending",
            Box::new(|a| a.status.client_status = ClientStatus::Pending),
        ),
        (
            "complete",
            Box::new(|a| a.status.client_status = ClientStatus::Complete),
        ),
        (
            "failed",
            Box::new(|a| a.status.client_status = ClientStatus::Failed),
        ),
        (
            "lost",
            Box::new(|a| a.status.client_status = ClientStatus::Lost),
        ),
        ("unbound", Box::new(|a| a.binding = None)),
    ];
    for (what, change) in cases {
        let mut a = alloc();
        change(&mut a);
        assert_eq!(desired_of(&a, &job, &node), Desired::default(), "{what}");
    }
    let a = alloc();
    for (what, inputs) in [
        (
            "node down",
            AllocInputs {
                alloc: &a,
                job: Some(&job),
                node: Some(&node),
                node_alive: false,
            },
        ),
        (
            "node gone",
            AllocInputs {
                alloc: &a,
                job: Some(&job),
                node: None,
                node_alive: true,
            },
        ),
        (
            "job gone",
            AllocInputs {
                alloc: &a,
                job: None,
                node: Some(&node),
                node_alive: true,
            },
        ),
    ] {
        assert!(
            desired_registrations(&inputs).registrations.is_empty(),
            "{what}"
        );
    }
}

#[test]
fn a_task_service_waits_for_its_task() {
    let (job, node) = (job(), node());
    let mut a = alloc();
    if let Some(s) = a.status.task_states.get_mut("server") {
        s.state = TaskRunState::Dead;
    }
    let d = desired_of(&a, &job, &node);
    let names: Vec<&str> = d
        .registrations
        .iter()
        .map(|r| r.spec.service_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["web-api"],
        "the group service follows the allocation"
    );
}

#[test]
fn driver_address_mode_uses_the_container_ip_and_port() {
    let (mut job, node) = (job(), node());
    job.spec.groups[0].services[0].address_mode = "driver".into();
    job.spec.groups[0].tasks[0].services[0].address_mode = "alloc".into();
    let d = desired_of(&alloc(), &job, &node);
    let web = find(&d, "web-api");
    assert_eq!(
        (web.spec.address.as_str(), web.spec.port),
        ("172.17.0.9", 8080)
    );
    let admin = find(&d, "admin");
    assert_eq!(
        (admin.spec.address.as_str(), admin.spec.port),
        ("172.17.0.9", 9000)
    );

    // `to` 0: the container listens on the host port's number.
    let mut a = alloc();
    if let Some(b) = a.binding.as_mut() {
        b.ports.insert(
            "http".into(),
            AssignedPort {
                host_ip: String::new(),
                value: 23456,
                to: 0,
            },
        );
    }
    assert_eq!(
        find(&desired_of(&a, &job, &node), "web-api").spec.port,
        23456
    );

    // Until the agent reports the IP, nothing is registered (not the node's
    // address, which would send traffic to the wrong port).
    let mut a = alloc();
    if let Some(s) = a.status.task_states.get_mut("server") {
        s.driver_ip.clear();
    }
    let d = desired_of(&a, &job, &node);
    assert!(d.registrations.is_empty(), "{d:?}");
    assert!(d.problems.is_empty());

    // Nor while the task is not running (restarting: its old IP is stale).
    let mut a = alloc();
    if let Some(s) = a.status.task_states.get_mut("server") {
        s.state = TaskRunState::Pending;
    }
    assert!(desired_of(&a, &job, &node).registrations.is_empty());
}

#[test]
fn an_explicit_address_wins_and_host_ip_beats_the_node_address() {
    let (mut job, node) = (job(), node());
    job.spec.groups[0].services[0].address = "${attr.unique.network.ip-address}".into();
    let mut node_with_attr = node.clone();
    node_with_attr
        .spec
        .attributes
        .insert("unique.network.ip-address".into(), "192.0.2.4".into());
    let web = find(&desired_of(&alloc(), &job, &node_with_attr), "web-api").clone();
    assert_eq!(
        (web.spec.address.as_str(), web.spec.port),
        ("192.0.2.4", 23456)
    );

    let job = self::job();
    let mut a = alloc();
    if let Some(b) = a.binding.as_mut() {
        b.ports.insert(
            "http".into(),
            AssignedPort {
                host_ip: "127.0.0.3".into(),
                value: 23456,
                to: 8080,
            },
        );
    }
    assert_eq!(
        find(&desired_of(&a, &job, &node), "web-api").spec.address,
        "127.0.0.3"
    );
}

#[test]
fn every_provider_registers_and_bad_ports_are_reported() {
    let node = node();
    for provider in ["consul", "nomad", ""] {
        let mut job = job();
        job.spec.groups[0].services[0].provider = provider.into();
        assert_eq!(
            desired_of(&alloc(), &job, &node).registrations.len(),
            2,
            "{provider:?}"
        );
    }
    let mut job = job();
    job.spec.groups[0].services[0].port = "nope".into();
    let d = desired_of(&alloc(), &job, &node);
    assert_eq!(d.registrations.len(), 1);
    assert!(d.problems[0].contains("\"nope\""), "{:?}", d.problems);
}

#[test]
fn registration_ids_are_key_segments() {
    assert_eq!(
        registration_id("a1", "group", "web", ""),
        "_drover-a1-group-web-0"
    );
    assert_eq!(
        registration_id("a1", "t", "we b/${x}", "http"),
        "_drover-a1-t-we_b___x_-http"
    );
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn stored(mut r: ServiceRegistration, revision: i64) -> ServiceRegistration {
    r.metadata.resource_version = revision;
    r.metadata.creation_timestamp = Some(at(1));
    r
}

#[test]
fn the_plan_creates_updates_and_deletes_only_what_differs() {
    let (job, node) = (job(), node());
    let want = desired_of(&alloc(), &job, &node).registrations;
    // Nothing stored: both are created, stamped now.
    let p = plan(want.clone(), &[], at(50));
    assert_eq!(p.put.len(), 2);
    assert!(
        p.put
            .iter()
            .all(|r| r.metadata.resource_version == 0
                && r.metadata.creation_timestamp == Some(at(50)))
    );
    assert!(p.delete.is_empty());

    // Stored as wanted: no write at all.
    let existing: Vec<_> = want.iter().cloned().map(|r| stored(r, 7)).collect();
    assert!(plan(want.clone(), &existing, at(50)).is_empty());

    // A check turns passing: one update, compare-and-swap on revision 7,
    // creation time kept; an orphan is deleted.
    let mut a = alloc();
    a.status.checks[0].status = "passing".into();
    let changed = desired_of(&a, &job, &node).registrations;
    let mut orphan = stored(want[0].clone(), 9);
    orphan.metadata.name = "_drover-gone-group-web-http".into();
    let mut with_orphan = existing.clone();
    with_orphan.push(orphan.clone());
    let p = plan(changed, &with_orphan, at(50));
    assert_eq!(p.put.len(), 1);
    assert_eq!(p.put[0].spec.service_name, "web-api");
    assert_eq!(p.put[0].metadata.resource_version, 7);
    assert_eq!(p.put[0].metadata.creation_timestamp, Some(at(1)));
    assert_eq!(p.delete, vec![orphan]);

    // Deregistration: nothing desired, everything stored goes.
    assert_eq!(plan(Vec::new(), &existing, at(50)).delete.len(), 2);
}

#[test]
fn output_only_changes_wait_for_the_check_update_interval() {
    let (job, node) = (job(), node());
    let existing: Vec<_> = desired_of(&alloc(), &job, &node)
        .registrations
        .into_iter()
        .map(|r| stored(r, 7))
        .collect();
    let mut a = alloc();
    a.status.checks[0].output = "HTTP 503".into();
    a.status.checks[0].updated_at = Some(at(110));
    let want = desired_of(&a, &job, &node).registrations;
    // Stored checks are from t=100: within the interval, no write.
    assert!(plan(want.clone(), &existing, at(110)).is_empty());
    let later = at(100 + CHECK_UPDATE_INTERVAL.as_secs() as i64);
    assert_eq!(plan(want, &existing, later).put.len(), 1);
}

#[test]
fn an_unknown_allocation_stays_listed_while_its_node_is_disconnected() {
    use drover_api_types::node::NodeState::{self, *};
    let job = job();
    let registered = |client: ClientStatus, state: NodeState, alive: bool| {
        let mut a = alloc();
        a.status.client_status = client;
        let mut node = node();
        node.status.state = state;
        !desired_registrations(&AllocInputs {
            alloc: &a,
            job: Some(&job),
            node: Some(&node),
            node_alive: alive,
        })
        .registrations
        .is_empty()
    };
    assert!(
        registered(ClientStatus::Unknown, Disconnected, false),
        "waiting for its node"
    );
    assert!(
        !registered(ClientStatus::Unknown, Down, false),
        "lost with its node"
    );
    // A running allocation on a node that stopped heartbeating goes at once.
    assert!(!registered(ClientStatus::Running, Disconnected, false));
    assert!(!registered(ClientStatus::Running, Ready, false));
    assert!(registered(ClientStatus::Running, Ready, true));
}
