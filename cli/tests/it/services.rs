//! Service registration end to end (real etcd, real Docker): a running
//! allocation's services appear under `services/` with the node address and
//! the published port (or, with `address_mode = "driver"`, the container's
//! IP and port), interpolated tags and meta, and their checks' health; a
//! failing check turns critical there; stopping the job deregisters them;
//! so does the node going silent (its agent killed: the heartbeat lease
//! expires), well before the node would be declared down.

use std::time::Duration;

use drover_api_types::group::{Check, Service};
use drover_api_types::service::ServiceRegistration;
use drover_api_types::Job;
use drover_store::Store;
use drover_test_support::wait::eventually;

use crate::common::*;

const ADDRESS: &str = "127.0.0.41";

async fn registrations(store: &Store) -> Option<Vec<ServiceRegistration>> {
    let keys = store.keys();
    Some(
        store
            .list_at(&keys.collection("services"))
            .await
            .ok()?
            .items,
    )
}

/// The job's registrations once `done` holds for them.
async fn registrations_when(
    store: &Store,
    job: &str,
    what: &str,
    done: impl Fn(&[ServiceRegistration]) -> bool,
) -> Vec<ServiceRegistration> {
    eventually(60, what, || async {
        let mut regs: Vec<ServiceRegistration> = registrations(store)
            .await?
            .into_iter()
            .filter(|r| r.spec.job_id == job)
            .collect();
        regs.sort_by(|a, b| a.spec.service_name.cmp(&b.spec.service_name));
        done(&regs).then_some(regs)
    })
    .await
}

fn check_status<'a>(r: &'a ServiceRegistration, id: &str) -> Option<&'a str> {
    r.spec
        .checks
        .iter()
        .find(|c| c.check_id == id)
        .map(|c| c.status.as_str())
}

/// `web_job` with a group service on the dynamic port (an http check on the
/// file the task writes) and a task service addressed by the container.
fn catalog_job(name: &str) -> Job {
    let mut job = web_job();
    job.metadata.name = name.into();
    let group = &mut job.spec.groups[0];
    let mut web = Service {
        name: "${NOMAD_JOB_NAME}-web".into(),
        port: "http".into(),
        provider: "consul".into(),
        tags: vec![
            "v1".into(),
            "dc-${node.datacenter}".into(),
            "i${NOMAD_ALLOC_INDEX}".into(),
        ],
        checks: vec![Check {
            name: "alive".into(),
            check_type: "http".into(),
            path: "/env.txt".into(),
            interval: Duration::from_secs(1).into(),
            timeout: Duration::from_secs(1).into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    web.meta.insert("alloc".into(), "${NOMAD_ALLOC_ID}".into());
    group.services = vec![web];
    group.tasks[0].services = vec![Service {
        name: "direct".into(),
        port: "http".into(),
        address_mode: "driver".into(),
        ..Default::default()
    }];
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_allocations_are_registered_and_deregistered() {
    let mut cluster = Cluster::start_with(ADDRESS, &["--heartbeat-ttl=3s"]).await;
    let store = cluster.store.clone();
    let job = catalog_job("shop");
    cluster.submit(&job).await;

    // Registered, with the check passing once the task serves its file.
    let regs = registrations_when(
        &store,
        "shop",
        "both services registered, check passing",
        |r| {
            r.len() == 2
                && r.iter()
                    .any(|r| check_status(r, "shop-web/alive") == Some("passing"))
        },
    )
    .await;
    let (alloc, binding) = running_alloc(&store).await;
    let id = &alloc.metadata.uid;
    let web = &regs[1];
    assert_eq!(web.spec.service_name, "shop-web");
    assert_eq!(
        web.metadata.name,
        format!("_drover-{id}-group-shop-web-http")
    );
    assert_eq!(web.metadata.namespace, "default");
    assert_eq!(web.spec.address, ADDRESS);
    assert_eq!(web.spec.port, binding.ports["http"].value);
    assert_eq!(web.spec.tags, ["v1", "dc-dc1", "i0"]);
    assert_eq!(web.spec.meta.get("alloc"), Some(id));
    assert_eq!(
        (web.spec.alloc_id.as_str(), web.spec.task.as_str()),
        (id.as_str(), "")
    );
    assert_eq!(web.spec.node_id, binding.node_id);
    assert_eq!(web.spec.datacenter, "dc1");
    // The service answers where it is registered.
    let addr = format!("{}:{}", web.spec.address, web.spec.port);
    let body = http_get(&addr, "/env.txt").await.unwrap_or_default();
    assert!(body.contains("200 OK"), "{addr}: {body}");

    // address_mode = "driver": the container's own IP and port.
    let direct = &regs[0];
    assert_eq!(direct.spec.service_name, "direct");
    assert_eq!(direct.spec.task, "httpd");
    let container = format!("httpd-{id}");
    let ip = docker_inspect(
        &container,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert_eq!(
        (direct.spec.address.as_str(), direct.spec.port),
        (ip.as_str(), 8080)
    );

    // The check fails: critical in the registration.
    std::fs::remove_file(cluster.alloc_dir(&alloc).join("env.txt")).expect("remove the file");
    let regs = registrations_when(&store, "shop", "the check critical", |r| {
        r.iter()
            .any(|r| check_status(r, "shop-web/alive") == Some("critical"))
    })
    .await;
    let web = regs.iter().find(|r| r.spec.service_name == "shop-web");
    let output = web
        .map(|w| w.spec.checks[0].output.clone())
        .unwrap_or_default();
    assert!(output.contains("404"), "{output}");

    // Stopping the job deregisters both.
    cluster.stop(&job).await;
    registrations_when(
        &store,
        "shop",
        "deregistered after the stop",
        <[_]>::is_empty,
    )
    .await;

    // A second job registers; then its node goes silent.
    let job = catalog_job("cart");
    cluster.submit(&job).await;
    registrations_when(&store, "cart", "the second job registered", |r| {
        r.len() == 2
    })
    .await;
    let _ = cluster.agent.0.kill();
    let _ = cluster.agent.0.wait();
    let killed = std::time::Instant::now();
    registrations_when(
        &store,
        "cart",
        "deregistered once the heartbeat is gone",
        <[_]>::is_empty,
    )
    .await;
    // The server's heartbeat grace (10 s) has not passed: this is the
    // heartbeat, not the node being declared down and its allocation lost.
    assert!(
        killed.elapsed() < Duration::from_secs(3 + 10),
        "{:?}",
        killed.elapsed()
    );
}
