//! The pure parts: reports from the job, CPU deltas, stats → values, and
//! series that go when their allocation does.

use std::collections::HashMap;

use bollard::models::{
    ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats, ContainerStatsResponse,
};
use drover_api_types::service::CheckStatus;
use prometheus::Encoder as _;

use super::collect::usage_of;
use super::*;

fn report() -> (String, AllocReport) {
    let (job, mut alloc, _) = crate::task_env::tests::fixture();
    alloc.metadata.namespace = "default".into();
    alloc.spec.job_id = "web".into();
    alloc.spec.task_group = "frontend".into();
    let status = AllocationStatus {
        client_status: ClientStatus::Running,
        checks: vec![CheckStatus {
            check_id: "web/alive".into(),
            name: "alive".into(),
            status: "passing".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    (
        alloc.metadata.uid.clone(),
        report_of(&alloc, Some(&job), &status),
    )
}

fn text(metrics: &AgentMetrics) -> String {
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut out)
        .expect("encode");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn a_report_takes_the_hard_memory_limit_from_the_job() {
    let (_, report) = report();
    assert_eq!(report.job, "web");
    assert_eq!(report.group, "frontend");
    // memory 256, memory_max 512: the container's limit is memory_max.
    assert_eq!(
        report.tasks["nginx"],
        TaskLimits {
            cpu_mhz: 500,
            memory_bytes: 512 * 1024 * 1024
        }
    );
    assert_eq!(report.checks["web/alive"], "passing");
}

#[test]
fn without_the_job_a_report_has_no_tasks() {
    let (_, alloc, _) = crate::task_env::tests::fixture();
    let report = report_of(&alloc, None, &AllocationStatus::default());
    assert!(report.tasks.is_empty());
    assert_eq!(report.client_status, ClientStatus::Pending);
}

#[test]
fn cpu_grows_by_the_same_containers_delta_and_restarts_from_a_new_one() {
    let sample = |id: &str, nanos: u64| Sample {
        alloc_id: "a".into(),
        task: "t".into(),
        container_id: id.into(),
        cpu_nanos: nanos,
        memory_bytes: 0,
    };
    assert_eq!(cpu_delta_seconds(None, &sample("c1", 2_000_000_000)), 2.0);
    let before = ("c1".to_string(), 2_000_000_000);
    assert_eq!(
        cpu_delta_seconds(Some(&before), &sample("c1", 2_500_000_000)),
        0.5
    );
    assert_eq!(
        cpu_delta_seconds(Some(&before), &sample("c2", 1_000_000_000)),
        1.0
    );
    // A counter that went backwards is a new container under the same id.
    assert_eq!(
        cpu_delta_seconds(Some(&before), &sample("c1", 1_000_000_000)),
        1.0
    );
}

#[test]
fn stats_give_cpu_and_memory_without_the_page_cache() {
    let stats = |cache_key: &str| ContainerStatsResponse {
        cpu_stats: Some(ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(123),
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory_stats: Some(ContainerMemoryStats {
            usage: Some(10_000),
            stats: Some(HashMap::from([(cache_key.to_string(), 4_000)])),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(usage_of(&stats("inactive_file")), Some((123, 6_000)));
    assert_eq!(usage_of(&stats("total_inactive_file")), Some((123, 6_000)));
    assert_eq!(usage_of(&stats("active_anon")), Some((123, 10_000)));
    assert_eq!(usage_of(&ContainerStatsResponse::default()), None);
}

#[test]
fn series_of_a_gone_allocation_are_removed() {
    let metrics = AgentMetrics::register(&Registry::new()).expect("register");
    let (id, report) = report();
    let mut published = Published::default();
    let samples = vec![Sample {
        alloc_id: id.clone(),
        task: "nginx".into(),
        container_id: "c1".into(),
        cpu_nanos: 3_000_000_000,
        memory_bytes: 42,
    }];
    metrics.report(&id, report);
    metrics.publish(&metrics.reports(), &samples, &mut published);
    let labels = r#"alloc_id="a1b2",drover_job="web",namespace="default",task="nginx",task_group="frontend""#;
    let out = text(&metrics);
    assert!(
        out.contains(&format!(
            "drover_alloc_memory_limit_bytes{{{labels}}} 536870912"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("drover_alloc_cpu_limit_mhz{{{labels}}} 500")));
    assert!(out.contains(&format!("drover_alloc_memory_usage_bytes{{{labels}}} 42")));
    assert!(out.contains(&format!(
        "drover_alloc_cpu_usage_seconds_total{{{labels}}} 3"
    )));
    assert!(out.contains(r#"drover_agent_allocations{client_status="running"} 1"#));
    assert!(out.contains(
        r#"drover_agent_check_status{alloc_id="a1b2",check="alive",service="web",status="passing"} 1"#
    ));
    assert!(out.contains(
        r#"drover_agent_check_status{alloc_id="a1b2",check="alive",service="web",status="critical"} 0"#
    ));

    metrics.forget(&id);
    metrics.publish(&metrics.reports(), &samples, &mut published);
    let out = text(&metrics);
    assert!(!out.contains("a1b2"), "{out}");
    assert!(out.contains(r#"drover_agent_allocations{client_status="running"} 0"#));
}
