//! An allocation's CPU and memory end to end, on a real etcd, a real
//! server and a real agent sampling a real container: the server's
//! `GET /v1/client/allocation/{id}/stats` answers in Nomad's shape with
//! the samples the agent keeps under `History` (a CPU rate from the
//! second sample on), the allocation page's usage panel draws them, and
//! the agent's own route answers only a server's token.

use drover_api_types::alloc::ClientStatus;
use drover_test_support::wait::eventually;
use serde_json::Value;

use crate::common::*;

const ADDRESS: &str = "127.0.0.114";

async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}")).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_arrive_from_the_agent_through_the_server_and_the_page() {
    let cluster = Cluster::start(ADDRESS).await;
    // A little work every second: a CPU rate above nothing, not a core.
    let mut task = shell_task(
        "busy",
        "while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 1; done",
    );
    task.resources.cpu = 300;
    task.resources.memory = 64;
    task.resources.memory_max = None;
    let job = job_of("stats", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("stats", "front", "the task running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let id = alloc.metadata.uid.clone();
    let base = format!("http://{}", cluster.server_addr);

    // Two rounds of the agent's sampler (10 s apart) give a rate.
    let usage: Value = eventually(60, "two samples, the second with a CPU rate", || async {
        let (status, body) = get(&base, &format!("/v1/client/allocation/{}/stats", &id[..8])).await;
        let usage: Value = serde_json::from_str(&body).ok()?;
        let samples = usage.pointer("/History/busy/Samples")?.as_array()?;
        let rated = samples.last()?.get("CpuPercent").is_some();
        (status == 200 && samples.len() >= 2 && rated).then_some(usage)
    })
    .await;
    let history = &usage["History"]["busy"];
    assert_eq!(history["CpuReservedMHz"], 300, "{usage}");
    assert_eq!(history["MemoryLimitBytes"], 64 << 20, "{usage}");
    assert_eq!(usage["IntervalSeconds"], 10);
    let last = history["Samples"]
        .as_array()
        .and_then(|s| s.last())
        .expect("a sample");
    let percent = last["CpuPercent"].as_f64().expect("a rate");
    assert!(percent > 0.0 && percent < 400.0, "{last}");
    assert!(last["CpuMHz"].as_f64().is_some_and(|m| m > 0.0), "{last}");
    let memory = last["MemoryBytes"].as_u64().expect("memory");
    assert!(memory > 0 && memory < 64 << 20, "{last}");
    // Nomad's fields, for Nomad's clients: the latest values.
    assert_eq!(
        usage.pointer("/Tasks/busy/ResourceUsage/MemoryStats/RSS"),
        Some(&Value::from(memory)),
        "{usage}"
    );
    assert_eq!(
        usage["ResourceUsage"]["CpuStats"]["Percent"],
        last["CpuPercent"]
    );
    assert!(
        usage["Timestamp"].as_i64().is_some_and(|t| t > 0),
        "{usage}"
    );

    // The page draws them, each chart an image named by its latest values;
    // the panel alone is what the page's script fetches every 10 s.
    let (status, page) = get(&base, &format!("/ui/alloc/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Resource usage"), "{page}");
    assert!(
        page.contains("aria-label=\"CPU of busy over the last 5 minutes: now "),
        "{page}"
    );
    let (status, panel) = get(&base, &format!("/ui/alloc-usage/default/{id}")).await;
    assert_eq!(status, 200, "{panel}");
    assert_eq!(panel.matches("role=\"img\"").count(), 2, "{panel}");
    assert!(panel.contains("of a 64.0 MiB limit"), "{panel}");
    assert!(panel.contains("<path class=\"series\""), "{panel}");

    // Refusals: no such allocation; the agent's route without a server's
    // token.
    let (status, body) = get(&base, "/v1/client/allocation/no-such-alloc/stats").await;
    assert_eq!(status, 404, "{body}");
    let agent = cluster.agent_addr().await;
    let (status, body) = get(
        &format!("http://{agent}"),
        &format!("/v1/client/stats/{id}"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
}
