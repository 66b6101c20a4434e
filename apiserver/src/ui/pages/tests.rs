use super::job::summary::{render_job, JobActions, JobPage};
use super::jobs::render_jobs;
use super::nodes::render_nodes;
use super::overview::{render_overview, Overview};
use super::*;

use crate::ui::calls::CallError;
use drover_api_types::job::{GroupSummary, JobStatus, JobType, PlacementFailure};
use drover_api_types::mock;
use drover_api_types::Job;

fn job_with(name: &str, status: &str, running: u64, count: i64) -> Job {
    let group = mock::group("front", count);
    let mut job = mock::job_of(name, JobType::Service, vec![group]);
    job.status = Some(JobStatus {
        status: status.into(),
        summary: [(
            "front".to_string(),
            GroupSummary {
                running,
                ..GroupSummary::default()
            },
        )]
        .into(),
        ..JobStatus::default()
    });
    job
}

#[test]
fn the_jobs_table_shows_each_job_and_escapes_names() {
    let jobs = [
        job_with("web", "running", 2, 3),
        job_with("<script>", "dead", 0, 1),
    ];
    let html = render_jobs(&jobs).into_string();
    assert!(html.contains(">web</a>"), "{html}");
    assert!(html.contains("2/3"), "{html}");
    assert!(html.contains("class=\"status-dead\""), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(render_jobs(&[]).into_string().contains("No jobs"));
}

#[test]
fn the_overview_counts_by_status_and_says_what_it_may_not_show() {
    let data = Overview {
        nodes: Err(CallError {
            status: StatusCode::FORBIDDEN,
            message: "token lacks node read".into(),
        }),
        allocations: Ok(vec![]),
        jobs: Ok(vec![
            job_with("a", "running", 1, 1),
            job_with("b", "running", 1, 1),
            job_with("c", "dead", 0, 1),
        ]),
    };
    let html = render_overview(&data).into_string();
    assert!(html.contains("not shown: token lacks node read"), "{html}");
    assert!(
        html.contains("<dt class=\"status-running\">running</dt><dd>2</dd>"),
        "{html}"
    );
    assert!(html.contains("<dd>1</dd>"), "{html}");
}

#[test]
fn query_values_are_escaped() {
    assert_eq!(url_component("web team/x"), "web%20team%2Fx");
    assert_eq!(url_component("*"), "*");
}

#[test]
fn a_job_page_explains_what_waits_and_links_from_the_list() {
    let mut job = job_with("web", "running", 1, 3);
    if let Some(status) = job.status.as_mut() {
        status.placement_failures.insert(
            "front".into(),
            PlacementFailure {
                queued: 2,
                nodes_evaluated: 3,
                nodes_filtered: [("constraint ${meta.rack} = r9".to_string(), 3)].into(),
                ..PlacementFailure::default()
            },
        );
    }
    let html = render_job(&JobPage {
        job: job.clone(),
        allocations: Ok(vec![]),
        deployments: Ok(vec![]),
        children: None,
        alloc_page: 0,
        may: JobActions::default(),
    })
    .into_string();
    assert!(
        !html.contains("Stop job") && !html.contains("form class=\"scale\""),
        "{html}"
    );
    let operator = render_job(&JobPage {
        job: job.clone(),
        allocations: Ok(vec![]),
        deployments: Ok(vec![]),
        children: None,
        alloc_page: 0,
        may: JobActions {
            submit: true,
            scale: true,
            dispatch: true,
        },
    })
    .into_string();
    assert!(
        operator.contains("data-path=\"/v1/job/web/stop?namespace=default\""),
        "{operator}"
    );
    assert!(
        operator.contains("data-path=\"/v1/job/web/scale?namespace=default\" data-group=\"front\""),
        "{operator}"
    );
    assert!(html.contains("2 not placed, 3 node(s) evaluated"), "{html}");
    assert!(
        html.contains("constraint ${meta.rack} = r9 filtered 3 node(s)"),
        "{html}"
    );
    assert!(html.contains("role=\"alert\""), "{html}");
    let list = render_jobs(&[job]).into_string();
    assert!(list.contains("href=\"/ui/job/default/web\""), "{list}");
    let denied = render_job(&JobPage {
        job: job_with("api", "pending", 0, 1),
        allocations: Err(CallError {
            status: StatusCode::FORBIDDEN,
            message: "no read-job".into(),
        }),
        deployments: Ok(vec![]),
        children: None,
        alloc_page: 0,
        may: JobActions::default(),
    })
    .into_string();
    assert!(denied.contains("not shown: no read-job"), "{denied}");
}

#[test]
fn the_nodes_table_says_when_there_are_none() {
    let html = render_nodes(&[]).into_string();
    assert!(html.contains("No nodes"), "{html}");
}

#[test]
fn an_allocation_page_shows_events_newest_first_and_its_panels_by_right() {
    use super::allocs::{render_alloc, AllocActions, AllocPage};
    use drover_api_types::alloc::{TaskEvent, TaskRunState, TaskState};
    let at = |secs: i64| chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0);
    let event = |kind: &str, message: &str, secs| TaskEvent {
        event_type: kind.into(),
        time: at(secs),
        message: message.into(),
        exit_code: None,
    };
    let mut alloc: drover_api::views::AllocationView = serde_json::from_value(serde_json::json!({
        "id": "0123456789abcdef", "name": "web.front[0]", "namespace": "default",
        "job": "web", "group": "front", "job_version": 2, "node_id": null,
        "node_name": "n1", "desired_status": "run", "client_status": "running",
        "healthy": null, "previous_allocation": null, "create_time": null,
        "modify_time": null, "index": 1
    }))
    .expect("a view");
    alloc.task_states.insert(
        "web".into(),
        TaskState {
            state: TaskRunState::Running,
            restarts: 1,
            events: vec![
                event("Received", "Task received by client", 0),
                event("Started", "Task started by client", 5),
            ],
            ..TaskState::default()
        },
    );
    let html = render_alloc(&AllocPage {
        alloc: alloc.clone(),
        may: AllocActions {
            read_logs: true,
            exec: true,
            stop: true,
        },
        usage: Some(super::usage::Usage::Unavailable(
            "the node's agent did not answer within 1.5 s".into(),
        )),
    })
    .into_string();
    let started = html.find("Task started by client").expect("started");
    let received = html.find("Task received by client").expect("received");
    assert!(started < received, "newest first: {html}");
    assert!(
        html.contains("data-src=\"/ui/logs/0123456789abcdef/web\""),
        "{html}"
    );
    assert!(
        html.contains("data-src=\"/ui/exec/0123456789abcdef?task=web\""),
        "{html}"
    );
    assert!(html.contains("Stop allocation"), "{html}");
    // Restart, the allocation's and a running task's, with its task named.
    assert!(
        html.contains(
            "data-path=\"/v1/client/allocation/0123456789abcdef/restart?namespace=default\""
        ),
        "{html}"
    );
    assert!(html.contains(">Restart</button>"), "{html}");
    assert!(
        html.contains("data-body=\"{&quot;TaskName&quot;:&quot;web&quot;}\""),
        "{html}"
    );
    // The usage panel: kept across refreshes, fetched again by the script;
    // an agent away is a sentence, not a failed page.
    assert!(
        html.contains("data-src=\"/ui/alloc-usage/default/0123456789abcdef\""),
        "{html}"
    );
    assert!(
        html.contains("Resource usage unavailable: the node"),
        "{html}"
    );
    let reader = render_alloc(&AllocPage {
        alloc: alloc.clone(),
        may: AllocActions::default(),
        usage: None,
    })
    .into_string();
    assert!(
        !reader.contains("/ui/exec/")
            && !reader.contains("/ui/logs/")
            && !reader.contains("Stop allocation")
            && !reader.contains("/restart")
            && !reader.contains("Resource usage"),
        "{reader}"
    );
    // A finished allocation is not restarted.
    let mut done = alloc;
    done.client_status = drover_api_types::alloc::ClientStatus::Complete;
    let finished = render_alloc(&AllocPage {
        alloc: done,
        may: AllocActions {
            read_logs: true,
            exec: true,
            stop: true,
        },
        usage: None,
    })
    .into_string();
    assert!(!finished.contains("/restart"), "{finished}");
    assert!(reader.contains("lacks read-logs"), "{reader}");
    assert!(html.contains("href=\"/ui/job/default/web\""), "{html}");
    assert!(html.contains("Restarts: 1"), "{html}");
}

#[test]
fn the_token_link_shows_where_a_token_matters() {
    use crate::ui::layout::TokenLink;
    assert_eq!(TokenLink::of(false, false), TokenLink::Hidden);
    assert_eq!(TokenLink::of(true, false), TokenLink::SignIn);
    assert_eq!(TokenLink::of(true, true), TokenLink::Token);
    assert_eq!(TokenLink::of(false, true), TokenLink::Token);
}

#[test]
fn deployments_offer_their_levers_only_while_active_and_allowed() {
    use super::deployments::render_deployments;
    use drover_api::deployments::DeploymentView;
    use drover_api_types::deployment::{DeploymentGroupSpec, DeploymentState};
    use drover_api_types::Deployment;
    let mut d = Deployment::default();
    d.metadata.uid = "0123456789abcdef".into();
    d.metadata.namespace = "default".into();
    d.spec.job_id = "web".into();
    d.spec.groups.insert(
        "front".into(),
        DeploymentGroupSpec {
            desired_total: 3,
            desired_canaries: 1,
            ..DeploymentGroupSpec::default()
        },
    );
    d.status.state = DeploymentState::Blocked;
    let view = DeploymentView::new(d.clone(), None);
    let allowed: BTreeMap<String, bool> = [("default".to_string(), true)].into();
    let html = render_deployments(std::slice::from_ref(&view), &allowed).into_string();
    assert!(
        html.contains("Promote") && html.contains("Pause") && html.contains("Fail"),
        "{html}"
    );
    assert!(
        html.contains("data-path=\"/v1/deployment/0123456789abcdef/promote?namespace=*\""),
        "{html}"
    );
    assert!(html.contains("front: 0/3, canaries 0/1"), "{html}");
    let refused: BTreeMap<String, bool> = [("default".to_string(), false)].into();
    let html = render_deployments(std::slice::from_ref(&view), &refused).into_string();
    assert!(!html.contains("Promote"), "{html}");
    d.status.state = DeploymentState::Successful;
    let html = render_deployments(&[DeploymentView::new(d, None)], &allowed).into_string();
    assert!(!html.contains("Fail</button>"), "{html}");
}

#[test]
fn the_editor_parses_as_apply_does_but_reads_no_server_file() {
    use super::run::{parse, PlanAsk, MAX_SOURCE};
    let ask = |source: &str, variables: &str| PlanAsk {
        source: source.into(),
        variables: variables.into(),
    };
    let good = "variable \"n\" {\n  default = 1\n}\njob \"web\" {\n  group \"g\" {\n    count = var.n\n    task \"t\" {\n      driver = \"docker\"\n      config {\n        image = \"busybox\"\n      }\n    }\n  }\n}\n";
    let job = parse(&ask(good, "n=3")).expect("parsed");
    assert_eq!(
        (job.metadata.name.as_str(), job.spec.groups[0].count),
        ("web", 3)
    );
    let reads = good.replace("image = \"busybox\"", "image = file(\"/etc/hostname\")");
    let refused = parse(&ask(&reads, "")).expect_err("file() refused");
    assert!(
        refused.iter().any(|e| e.contains("parsed by a server")),
        "{refused:?}"
    );
    let broken = parse(&ask("job \"web\" {\n  group \"g\" {\n", "")).expect_err("a syntax error");
    assert!(
        broken.iter().any(|e| e.starts_with("editor:")),
        "{broken:?}"
    );
    assert!(parse(&ask(good, "no-equals-sign")).is_err());
    let huge = "#".repeat(MAX_SOURCE + 1);
    assert!(parse(&ask(&huge, "")).expect_err("too big")[0].contains("at most"));
}

#[test]
fn services_show_their_checks_by_state_and_instances_their_output() {
    use super::services::{render_service, render_services};
    let listed = serde_json::json!([{ "Namespace": "default", "Services": [
        { "ServiceName": "api", "Tags": ["v1"] }, { "ServiceName": "db", "Tags": [] } ] }]);
    let checks = serde_json::json!([
        { "ServiceName": "api", "ServiceID": "i1", "Name": "http", "Status": "passing", "Output": "HTTP GET: 200 OK" },
        { "ServiceName": "api", "ServiceID": "i2", "Name": "http", "Status": "critical", "Output": "connection refused <b>" },
        { "ServiceName": "", "Status": "passing" }
    ]);
    let html = render_services(&listed, &Ok(checks.clone())).into_string();
    assert!(
        html.contains("href=\"/ui/service/api?namespace=default\""),
        "{html}"
    );
    assert!(
        html.contains("1 passing") && html.contains("1 critical"),
        "{html}"
    );
    assert!(html.contains("no checks"), "db has none: {html}");
    let instances = serde_json::json!([
        { "ID": "i2", "Address": "10.0.0.2", "Port": 8080, "JobID": "api", "Namespace": "default", "AllocID": "0123456789abcdef", "Tags": ["v1"] }
    ]);
    let one = render_service("api", &instances, &Ok(checks)).into_string();
    assert!(one.contains("10.0.0.2:8080"), "{one}");
    assert!(one.contains("connection refused &lt;b&gt;"), "{one}");
    assert!(
        !one.contains("HTTP GET: 200 OK"),
        "another instance's check: {one}"
    );
    assert!(one.contains("href=\"/ui/alloc/0123456789abcdef\""), "{one}");
}

#[test]
fn versions_show_their_diffs_and_revert_only_older_ones_when_allowed() {
    use super::job::versions::render_versions;
    use drover_api::versions::JobVersion;
    use drover_api_types::diff::diff_jobs;
    let v0 = job_with("web", "running", 1, 1);
    let mut v1 = v0.clone();
    v1.metadata.version = 1;
    v1.spec.groups[0].count = 3;
    let list = vec![
        JobVersion {
            version: 1,
            stable: false,
            job: v1.clone(),
            diff: Some(diff_jobs(Some(&v0), &v1)),
        },
        JobVersion {
            version: 0,
            stable: true,
            job: v0,
            diff: None,
        },
    ];
    let html = render_versions("default", "web", &list, true).into_string();
    assert!(
        html.contains("class=\"changed\""),
        "the count change is marked: {html}"
    );
    assert_eq!(html.matches("Revert to version").count(), 1, "{html}");
    assert!(html.contains("Revert to version 0"), "{html}");
    assert!(
        html.contains(
            "data-body=\"{&quot;enforce_prior_version&quot;:1,&quot;job_version&quot;:0}\""
        ) || html.contains(
            "data-body=\"{&quot;job_version&quot;:0,&quot;enforce_prior_version&quot;:1}\""
        ),
        "{html}"
    );
    assert!(html.contains("stable"), "{html}");
    let reader = render_versions("default", "web", &list, false).into_string();
    assert!(!reader.contains("Revert to version"), "{reader}");
}

#[test]
fn search_matches_names_anywhere_and_ids_from_the_start() {
    use super::search::{find, matches, render_search};
    assert!(matches("WEB", "api-web", ""));
    assert!(matches("0123", "x", "0123abcd"));
    assert!(
        !matches("23ab", "x", "0123abcd"),
        "an id matches from its start only"
    );
    let jobs = vec![
        job_with("web", "running", 1, 1),
        job_with("api", "running", 1, 1),
    ];
    let alloc: drover_api::views::AllocationView = serde_json::from_value(serde_json::json!({
        "id": "0123456789abcdef", "name": "web.front[0]", "namespace": "default",
        "job": "web", "group": "front", "job_version": 0, "node_id": null,
        "node_name": null, "desired_status": "run", "client_status": "running",
        "healthy": null, "previous_allocation": null, "create_time": null,
        "modify_time": null, "index": 1
    }))
    .expect("a view");
    let refused = Err(CallError {
        status: StatusCode::FORBIDDEN,
        message: "no node read".into(),
    });
    let found = find("web", Ok(jobs.clone()), refused, Ok(vec![alloc.clone()]));
    assert_eq!(
        (found.jobs.len(), found.nodes.len(), found.allocations.len()),
        (1, 0, 1)
    );
    let html = render_search("web", &found).into_string();
    assert!(html.contains("href=\"/ui/job/default/web\""), "{html}");
    assert!(
        html.contains("href=\"/ui/alloc/0123456789abcdef\""),
        "{html}"
    );
    assert!(html.contains("not searched: nodes: no node read"), "{html}");
    let none = find("zzz", Ok(jobs), Ok(vec![]), Ok(vec![alloc]));
    assert!(render_search("zzz", &none)
        .into_string()
        .contains("Nothing matches"));
}

#[test]
fn topology_fills_each_node_by_its_allocations_and_pages_the_fleet() {
    use super::topology::{hue, render_topology, PER_PAGE};
    use drover_api::views::{AllocationView, NodeView, Usage};
    let node = |i: usize| -> NodeView {
        serde_json::from_value(serde_json::json!({
            "id": format!("node-{i:04}"), "name": format!("n{i:04}"), "datacenter": "dc1",
            "node_pool": "default", "address": "10.0.0.1", "http_addr": "", "status": "ready",
            "status_description": "", "eligible": true, "drain": null, "drivers": {},
            "resources": {"cpu": 1000, "memory": 2000, "memory_max": 2000},
            "allocated": {"cpu": 250, "memory": 500, "memory_max": 500},
            "allocations": 1, "agent_version": "", "heartbeat": true,
            "last_transition": null, "create_time": null, "index": 1
        }))
        .expect("a node view")
    };
    let mut alloc: AllocationView = serde_json::from_value(serde_json::json!({
        "id": "0123456789abcdef", "name": "web.front[0]", "namespace": "default",
        "job": "web", "group": "front", "job_version": 0, "node_id": "node-0000",
        "node_name": "n0000", "desired_status": "run", "client_status": "running",
        "healthy": null, "previous_allocation": null, "create_time": null,
        "modify_time": null, "index": 1
    }))
    .expect("an alloc view");
    alloc.allocated = Usage {
        cpu: 250,
        memory: 500,
        memory_max: 500,
    };
    let nodes: Vec<NodeView> = (0..PER_PAGE + 1).map(node).collect();
    let html = render_topology(&nodes, &Ok(vec![alloc]), 0).into_string();
    assert!(
        html.contains("width:25.00%"),
        "a quarter of CPU and of memory: {html}"
    );
    assert!(
        html.contains("href=\"/ui/alloc/0123456789abcdef\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("hsl({} 55% 50%)", hue("web"))),
        "{html}"
    );
    assert!(html.contains("CPU: 250 of 1000 MHz allocated"), "{html}");
    assert_eq!(
        html.matches("class=\"node-box\"").count(),
        PER_PAGE,
        "one page of nodes"
    );
    assert!(
        html.contains("page 1 of 2") && html.contains("/ui/topology?page=1"),
        "{html}"
    );
    let last = render_topology(&nodes, &Ok(vec![]), 9).into_string();
    assert_eq!(
        last.matches("class=\"node-box\"").count(),
        1,
        "a page past the end is the last"
    );
    assert_eq!(hue("web"), hue("web"));
}

#[test]
fn a_job_of_many_allocations_lists_them_a_page_at_a_time() {
    use super::job::summary::ALLOCS_PER_PAGE;
    let allocations: Vec<drover_api::views::AllocationView> = (0..250)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "id": format!("{i:016}"), "name": format!("web.front[{i}]"), "namespace": "default",
                "job": "web", "group": "front", "job_version": 0, "node_id": null,
                "node_name": "n1", "desired_status": "run", "client_status": "running",
                "healthy": null, "previous_allocation": null, "create_time": null,
                "modify_time": null, "index": 1
            }))
            .expect("a view")
        })
        .collect();
    let page = |n: usize| {
        render_job(&JobPage {
            job: job_with("web", "running", 250, 250),
            allocations: Ok(allocations.clone()),
            deployments: Ok(vec![]),
            children: None,
            alloc_page: n,
            may: JobActions::default(),
        })
        .into_string()
    };
    let second = page(1);
    assert_eq!(second.matches("href=\"/ui/alloc/").count(), ALLOCS_PER_PAGE);
    assert!(second.contains("web.front[100]") && second.contains("web.front[199]"));
    assert!(!second.contains("web.front[99]<") && !second.contains("web.front[200]"));
    assert!(second.contains("allocations 101–200 of 250"), "{second}");
    assert!(second.contains("href=\"/ui/job/default/web?page=0\""));
    assert!(second.contains("href=\"/ui/job/default/web?page=2\""));
    // A page past the end shows the last.
    let last = page(99);
    assert!(last.contains("allocations 201–250 of 250"), "{last}");
    assert!(!last.contains("older →"));
}
