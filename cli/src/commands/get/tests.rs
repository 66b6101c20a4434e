use clap::Parser as _;
use drover_api::views::Usage;
use drover_api_types::alloc::{ClientStatus, DesiredStatus};
use drover_api_types::job::{GroupSummary, JobStatus};
use drover_api_types::node::NodeState;
use drover_api_types::{mock, JobType};

use super::*;

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
    Cli::try_parse_from(std::iter::once("get").chain(argv.iter().copied())).map(|c| c.args)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn ago(secs: i64) -> Option<DateTime<Utc>> {
    Some(now() - chrono::Duration::seconds(secs))
}

fn job(name: &str, running: u64) -> Job {
    let mut summary = std::collections::BTreeMap::new();
    summary.insert(
        "front".to_string(),
        GroupSummary {
            running,
            ..Default::default()
        },
    );
    let mut job = mock::job_of(name, JobType::Service, vec![mock::group("front", 3)]);
    job.metadata.version = 2;
    job.metadata.creation_timestamp = ago(300);
    job.status = Some(JobStatus {
        status: "running".into(),
        summary,
        ..Default::default()
    });
    job
}

#[test]
fn kinds_take_kubectl_forms_and_flags_parse() {
    let a = parse(&["alloc", "abc", "-o", "json", "-A", "-w"]).expect("parse");
    assert_eq!(a.kind, Kind::Allocs);
    assert_eq!(a.name.as_deref(), Some("abc"));
    assert_eq!(a.output, Format::Json);
    assert!(a.all_namespaces && a.watch);
    for (word, kind) in [
        ("jobs", Kind::Jobs),
        ("job", Kind::Jobs),
        ("allocations", Kind::Allocs),
        ("no", Kind::Nodes),
        ("svc", Kind::Services),
        ("deploy", Kind::Deployments),
    ] {
        assert_eq!(parse(&[word]).expect(word).kind, kind, "{word}");
    }
    assert_eq!(parse(&["nodes"]).expect("nodes").output, Format::Table);
    let e = parse(&["pods"]).expect_err("unknown kind").to_string();
    assert!(e.contains("one of: jobs, allocs, nodes"), "{e}");
    assert!(parse(&["jobs", "-o", "xml"]).is_err());
}

#[test]
fn the_jobs_table() {
    let mut stopped = job("api", 0);
    stopped.spec.stop = true;
    stopped.status = None;
    let t = jobs_table(&[job("web", 3), stopped], false, false, Style::PLAIN, now());
    assert_eq!(
        t.render(),
        "NAME   TYPE      STATUS    VERSION   GROUPS   RUNNING   AGE\n\
         web    service   running   2         1        3/3       5m\n\
         api    service   dead      2         1        0/3       5m\n"
    );
    let wide = jobs_table(&[job("web", 1)], true, true, Style::PLAIN, now()).render();
    assert!(wide.starts_with("NAMESPACE   NAME"), "{wide}");
    assert!(wide.contains("PRIORITY"), "{wide}");
    assert!(
        wide.lines()
            .nth(1)
            .expect("row")
            .starts_with("default     web"),
        "{wide}"
    );
}

fn alloc(id: &str, name: &str, node: Option<&str>) -> AllocationView {
    AllocationView {
        id: id.into(),
        name: name.into(),
        namespace: "default".into(),
        job: "web".into(),
        group: "front".into(),
        job_version: 1,
        node_id: node.map(|n| format!("{n}-0123456789")),
        node_name: node.map(str::to_string),
        ports: Default::default(),
        allocated: Default::default(),
        desired_status: DesiredStatus::Run,
        desired_description: String::new(),
        migrate: false,
        client_status: if node.is_some() {
            ClientStatus::Running
        } else {
            ClientStatus::Pending
        },
        client_description: String::new(),
        task_states: Default::default(),
        healthy: None,
        deployment_id: None,
        canary: false,
        previous_allocation: None,
        create_time: ago(90),
        placed_at: None,
        status_time: None,
        modify_time: ago(90),
        index: 1,
    }
}

#[test]
fn the_allocations_table_shows_short_ids_sorted_by_name() {
    let allocs = [
        alloc("ffff0000-1111-2222", "web.front[1]", None),
        alloc("abcdef12-3456-7890", "web.front[0]", Some("sim-1")),
    ];
    assert_eq!(
        allocs_table(&allocs, false, false, Style::PLAIN, now()).render(),
        "ID         NAME           NODE     DESIRED   STATUS    VERSION   AGE\n\
         abcdef12   web.front[0]   sim-1    run       running   1         90s\n\
         ffff0000   web.front[1]   <none>   run       pending   1         90s\n"
    );
    let wide = allocs_table(&allocs, true, false, Style::PLAIN, now()).render();
    assert!(
        wide.contains("NODE ID") && wide.contains("sim-1-01"),
        "{wide}"
    );
}

pub fn node_view() -> NodeView {
    NodeView {
        id: "0a1b2c3d4e5f".into(),
        name: "sim-1".into(),
        datacenter: "dc1".into(),
        node_class: String::new(),
        node_pool: "default".into(),
        address: "10.0.0.1".into(),
        http_addr: String::new(),
        http_tls: false,
        status: NodeState::Ready,
        status_description: String::new(),
        eligible: false,
        drain: None,
        drivers: [("docker".to_string(), true)].into(),
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
        allocations: 2,
        agent_version: "0.1.0".into(),
        heartbeat: true,
        last_transition: None,
        create_time: None,
        index: 1,
    }
}

#[test]
fn the_nodes_table() {
    assert_eq!(
        nodes_table(&[node_view()], false, Style::PLAIN, now()).render(),
        "ID         NAME    DC    CLASS    ADDRESS    STATUS   ELIGIBILITY   DRAIN   ALLOCS   AGE\n\
         0a1b2c3d   sim-1   dc1   <none>   10.0.0.1   ready    ineligible    false   2        <unknown>\n"
    );
    let wide = nodes_table(&[node_view()], true, Style::PLAIN, now()).render();
    assert!(wide.contains("100/3900MHz   64/8000MB   docker"), "{wide}");
}
