//! Metrics end to end (real etcd, real Docker): while a job runs, the
//! server's and the agent's `/metrics` carry the series a dashboard needs,
//! with values that match the cluster; a stopped task's usage series go.

use std::time::Duration;

use crate::common::{
    http_get, job_of, metric_value as value, scrape, scrape_with, shell_task, status_of, Cluster,
};
use drover_api_types::group::{Check, Service};
use drover_test_support::wait::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_agent_metrics_describe_a_running_job() {
    let cluster = Cluster::start("127.0.0.30").await;
    let mut task = shell_task("main", "trap 'exit 0' TERM; sleep 3600 & wait");
    task.resources.memory = 48;
    task.resources.memory_max = None;
    task.resources.cpu = 150;
    // A script check (no port needed) that passes, for the check series.
    task.services = vec![Service {
        name: "metered".into(),
        provider: "nomad".into(),
        checks: vec![Check {
            name: "ok".into(),
            check_type: "script".into(),
            command: "/bin/true".into(),
            interval: Duration::from_secs(1).into(),
            timeout: Duration::from_secs(1).into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    let job = job_of("metered", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("metered", &job.spec.groups[0].name, "running", |s| {
            s.client_status == drover_api_types::alloc::ClientStatus::Running
        })
        .await;
    let alloc_id = format!("alloc_id=\"{}\"", alloc.metadata.uid);

    // The server: a route called, the cluster gauges, placement, etcd, build.
    let server = &cluster.server_addr;
    let job_route = http_get(server, "/v1/job/metered").await.expect("GET job");
    assert!(job_route.contains(" 200 OK"), "{job_route}");
    let body = eventually(30, "the server's cluster gauges", || async {
        let body = scrape(server).await?;
        (value(&body, "drover_allocations", &[r#"client_status="running""#]) == Some(1.0))
            .then_some(body)
    })
    .await;
    let expect = |name: &str, labels: &[&str]| {
        value(&body, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{body}"))
    };
    assert_eq!(expect("drover_nodes", &[r#"status="ready""#]), 1.0);
    assert_eq!(expect("drover_jobs", &[r#"status="running""#]), 1.0);
    assert_eq!(
        expect("drover_placement_allocations_placed_total", &[]),
        1.0
    );
    assert!(expect("drover_placement_pass_duration_seconds_count", &[]) >= 1.0);
    let get_job = [
        r#"route="/v1/job/{name}""#,
        r#"method="GET""#,
        r#"code="200""#,
    ];
    assert!(expect("drover_http_requests_total", &get_job) >= 1.0);
    assert!(
        !body.contains("/v1/job/metered"),
        "raw paths are not labels"
    );
    assert!(expect("drover_http_request_duration_seconds_count", &get_job[..2]) >= 1.0);
    assert!(
        expect(
            "drover_etcd_request_duration_seconds_count",
            &[r#"operation="txn""#]
        ) >= 1.0
    );
    assert_eq!(
        expect("drover_build_info", &[r#"commit=""#, r#"version=""#]),
        1.0
    );
    assert_eq!(expect("drover_server_leader", &[]), 1.0);

    // The agent, at the address its node advertises: only to the holder
    // of the scrape token.
    let agent = cluster.agent_addr().await;
    assert_eq!(status_of(&agent, "/metrics", "").await, Some(401));
    let wrong = "Authorization: Bearer not-the-token\r\n";
    assert_eq!(status_of(&agent, "/metrics", wrong).await, Some(401));
    let token = cluster.scrape_token().await;
    let bearer = format!("Authorization: Bearer {token}\r\n");
    let check = [
        alloc_id.as_str(),
        r#"check="ok""#,
        r#"service="metered""#,
        r#"status="passing""#,
    ];
    let body = eventually(30, "the agent's usage sample and check", || async {
        let body = scrape_with(&agent, &bearer).await?;
        value(&body, "drover_alloc_memory_usage_bytes", &[&alloc_id])?;
        (value(&body, "drover_agent_check_status", &check) == Some(1.0)).then_some(body)
    })
    .await;
    let expect = |name: &str, labels: &[&str]| {
        value(&body, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{body}"))
    };
    let task_labels = [
        alloc_id.as_str(),
        r#"drover_job="metered""#,
        r#"task="main""#,
        r#"namespace="default""#,
    ];
    assert_eq!(
        expect("drover_alloc_memory_limit_bytes", &task_labels),
        48.0 * 1024.0 * 1024.0
    );
    assert_eq!(expect("drover_alloc_cpu_limit_mhz", &task_labels), 150.0);
    let used = expect("drover_alloc_memory_usage_bytes", &task_labels);
    assert!(used > 0.0 && used < 48.0 * 1024.0 * 1024.0, "{used}");
    assert!(expect("drover_alloc_cpu_usage_seconds_total", &task_labels) >= 0.0);
    assert_eq!(
        expect("drover_agent_allocations", &[r#"client_status="running""#]),
        1.0
    );
    let critical = [check[0], check[1], check[2], r#"status="critical""#];
    assert_eq!(expect("drover_agent_check_status", &critical), 0.0);
    assert_eq!(expect("drover_agent_container_starts_total", &[]), 1.0);
    assert_eq!(expect("drover_agent_oom_kills_total", &[]), 0.0);
    assert_eq!(expect("drover_agent_etcd_connected", &[]), 1.0);
    assert_eq!(expect("drover_build_info", &[r#"commit=""#]), 1.0);
    assert!(
        expect(
            "drover_etcd_request_duration_seconds_count",
            &[r#"operation="put""#]
        ) >= 1.0
    );
    assert!(
        !body.contains(r#"{job="#) && !body.contains(r#",job="#),
        "no `job` label: Prometheus owns it"
    );

    // Rotated: the new token works at once, the old one is refused once
    // the agent's trust in its last read lapses (10 s).
    let rotated: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{server}/v1/operator/scrape-token/rotate"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("rotate")
        .json()
        .await
        .expect("rotate answer");
    let new_token = rotated["token"].as_str().expect("a token").to_string();
    assert_ne!(new_token, token);
    assert_eq!(cluster.scrape_token().await, new_token);
    let old = bearer;
    let bearer = format!("Authorization: Bearer {new_token}\r\n");
    assert_eq!(status_of(&agent, "/metrics", &bearer).await, Some(200));
    eventually(15, "the old scrape token refused", || async {
        (status_of(&agent, "/metrics", &old).await? == 401).then_some(())
    })
    .await;

    // Stopped: the container's usage series go with it.
    cluster.stop(&job).await;
    eventually(40, "the usage series removed", || async {
        let body = scrape_with(&agent, &bearer).await?;
        value(&body, "drover_alloc_memory_usage_bytes", &[&alloc_id])
            .is_none()
            .then_some(())
    })
    .await;
}

/// `--metrics-public` serves the agent's metrics to anyone, as before the
/// scrape token; its logs still need a server's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_agent_serves_metrics_without_the_scrape_token() {
    let cluster = Cluster::start_with("127.0.0.33", &["--metrics-public"]).await;
    let agent = cluster.agent_addr().await;
    let body = eventually(30, "the agent's metrics", || scrape(&agent)).await;
    assert!(body.contains("drover_agent_etcd_connected"), "{body}");
    let logs = "/v1/client/logs/00000000-0000-0000-0000-000000000000/web";
    assert_eq!(status_of(&agent, logs, "").await, Some(401));
}
