//! Service discovery end to end, as the operators would check it:
//! the seed's nginx job at count 3 on three real agents, found with the
//! real `dig` through drover's DNS and through the Consul-compatible
//! health API; a node taken away loses its instances and the replacements
//! appear; a failing http check takes an instance out of DNS and `?passing`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use drover_api_types::alloc::{Allocation, Binding, ClientStatus};
use drover_api_types::group::Check;
use drover_api_types::Job;
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `nginx:1.22.1` as the seed job names it: busybox httpd on port 80.
fn nginx_image() {
    drover_test_support::docker::busybox_image_with_cmd(
        "nginx:1.22.1",
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    )
    .expect("nginx image");
}

fn seed_nginx(count: i64) -> Job {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/nginx.nomad");
    let loaded = drover_api_types::jobspec::load_file(&path, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let mut job = loaded.jobs.into_iter().next().expect("one job");
    job.spec.groups[0].count = count;
    job
}

/// The (address, port) pairs of `name`'s SRV answer, the address from the
/// additional A record of each target, as `dig` prints them.
fn dig_srv(dns_port: u16, name: &str) -> BTreeSet<(String, u16)> {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &dns_port.to_string(),
            name,
            "SRV",
            "+noall",
            "+answer",
            "+additional",
            "+time=1",
            "+tries=1",
        ])
        .output()
        .expect("dig (bind9-dnsutils) is installed by make test");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut targets = Vec::new();
    let mut addresses = std::collections::HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, _, "IN", "SRV", _prio, _weight, port, target] => {
                if let Ok(port) = port.parse::<u16>() {
                    targets.push((target.to_string(), port));
                }
            }
            [name, _, "IN", "A", ip] => {
                addresses.insert(name.to_string(), ip.to_string());
            }
            _ => {}
        }
    }
    targets
        .into_iter()
        .filter_map(|(target, port)| addresses.get(&target).map(|ip| (ip.clone(), port)))
        .collect()
}

/// (address, port) of the job's running allocations, from their bindings.
async fn running_instances(store: &Store, job: &str) -> Vec<(Allocation, Binding)> {
    let keys = store.keys();
    let allocs: Vec<Allocation> = store
        .list_at(&keys.collection("allocations"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut out = Vec::new();
    for a in allocs.into_iter().filter(|a| a.spec.job_id == job) {
        let (ns, id) = (a.metadata.namespace.clone(), a.metadata.uid.clone());
        let status = store.alloc_status_of(&ns, &id).await;
        let binding = store
            .get_at::<Versioned<Binding>>(&keys.alloc_binding(&ns, &id))
            .await;
        if let (Ok(Some(status)), Ok(Some(binding))) = (status, binding) {
            if status.value.client_status == ClientStatus::Running
                && a.spec.desired_status == drover_api_types::alloc::DesiredStatus::Run
            {
                out.push((a, binding.value));
            }
        }
    }
    out
}

fn endpoints(instances: &[(Allocation, Binding)]) -> BTreeSet<(String, u16)> {
    instances
        .iter()
        .map(|(_, b)| (b.ports["http"].host_ip.clone(), b.ports["http"].value))
        .collect()
}

/// The passing instances of `service` as `/v1/health/service?passing` lists them.
async fn passing(api: &str, service: &str) -> Option<BTreeSet<(String, u16)>> {
    let url = format!("http://{api}/v1/health/service/{service}?passing=1");
    let entries: Vec<serde_json::Value> = reqwest::get(&url).await.ok()?.json().await.ok()?;
    Some(
        entries
            .iter()
            .filter_map(|e| {
                let s = &e["Service"];
                let port = u16::try_from(s["Port"].as_u64()?).ok()?;
                Some((s["Address"].as_str()?.to_string(), port))
            })
            .collect(),
    )
}

struct Fleet {
    store: Store,
    api: String,
    dns_port: u16,
    agents: Vec<(String, Proc)>,
    _server: Proc,
    _cleanups: Vec<Cleanup>,
    _data: tempfile::TempDir,
}

impl Fleet {
    async fn start(addresses: &[&str]) -> Fleet {
        nginx_image();
        let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
        let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
        let data = tempfile::tempdir().expect("tempdir");
        let api = format!("127.0.0.1:{}", free_port());
        let dns_port = free_port();
        let server = drover(
            &etcd,
            &[
                "server",
                &format!("--http-addr={api}"),
                &format!("--dns-addr=127.0.0.1:{dns_port}"),
                "--heartbeat-ttl=2s",
                "--heartbeat-grace=2s",
            ],
        );
        let mut agents = Vec::new();
        let mut cleanups = Vec::new();
        for ip in addresses {
            let dir = data.path().join(ip);
            let args = [
                "agent".to_string(),
                format!("--address={ip}"),
                format!("--http-addr={ip}:0"),
                format!("--node-name=node-{ip}"),
                "--heartbeat-ttl=2s".to_string(),
                format!("--data-dir={}", dir.display()),
            ];
            agents.push((ip.to_string(), drover(&etcd, &as_strs(&args))));
            cleanups.push(cleanup_when_registered(&dir).await);
        }
        Fleet {
            store,
            api,
            dns_port,
            agents,
            _server: server,
            _cleanups: cleanups,
            _data: data,
        }
    }

    async fn submit(&self, job: &Job) {
        let key = self
            .store
            .keys()
            .job(&job.metadata.namespace, &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_at_count_three_is_found_by_dig_and_follows_a_node_loss() {
    let mut fleet = Fleet::start(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]).await;
    fleet.submit(&seed_nginx(3)).await;

    let running = eventually(120, "three nginx running", || async {
        let r = running_instances(&fleet.store, "nginx").await;
        (r.len() == 3).then_some(r)
    })
    .await;
    let expected = endpoints(&running);
    let dns_port = fleet.dns_port;
    eventually(
        30,
        "dig lists the three instances with their ports",
        || async { (dig_srv(dns_port, "nginx.service.consul") == expected).then_some(()) },
    )
    .await;
    assert_eq!(
        dig_srv(dns_port, "_nginx._tcp.service.consul"),
        expected,
        "the RFC 2782 name answers the same"
    );
    eventually(10, "the health API lists the same three", || async {
        (passing(&fleet.api, "nginx").await? == expected).then_some(())
    })
    .await;

    // Take away the node holding the first instance: its agent stops, so
    // its heartbeat lapses and the node goes down.
    let victim = running[0].1.ports["http"].host_ip.clone();
    let position = fleet
        .agents
        .iter()
        .position(|(ip, _)| *ip == victim)
        .expect("the victim's agent");
    let (_, agent) = fleet.agents.remove(position);
    drop(agent);

    let moved = eventually(
        90,
        "three instances again, none on the lost node",
        || async {
            let found = dig_srv(dns_port, "nginx.service.consul");
            (found.len() == 3 && found.iter().all(|(ip, _)| *ip != victim)).then_some(found)
        },
    )
    .await;
    let now_running = endpoints(&running_instances(&fleet.store, "nginx").await);
    assert_eq!(moved, now_running, "DNS answers what runs");
    assert_eq!(passing(&fleet.api, "nginx").await, Some(now_running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_http_check_takes_the_instance_out_of_dns_and_passing() {
    let fleet = Fleet::start(&["127.0.0.5"]).await;
    let mut job = seed_nginx(1);
    job.metadata.name = "checked".into();
    let service = &mut job.spec.groups[0].tasks[0].services[0];
    service.name = "checked-web".into();
    service.checks.push(Check {
        name: "index".into(),
        check_type: "http".into(),
        path: "/".into(),
        interval: drover_api_types::Duration(Duration::from_secs(1)),
        timeout: drover_api_types::Duration(Duration::from_secs(1)),
        ..Default::default()
    });
    fleet.submit(&job).await;

    let running = eventually(60, "the instance running", || async {
        let r = running_instances(&fleet.store, "checked").await;
        (r.len() == 1).then_some(r)
    })
    .await;
    let expected = endpoints(&running);
    let dns_port = fleet.dns_port;
    eventually(30, "the passing instance in DNS and ?passing", || async {
        let in_dns = dig_srv(dns_port, "checked-web.service.consul") == expected;
        let in_api = passing(&fleet.api, "checked-web").await? == expected;
        (in_dns && in_api).then_some(())
    })
    .await;

    // Break the check: the page it asks for goes away inside the container.
    let container = format!("nginx-{}", running[0].0.metadata.uid);
    let removed = Command::new("docker")
        .args(["exec", &container, "rm", "/www/index.html"])
        .status()
        .expect("docker exec");
    assert!(removed.success());

    eventually(
        30,
        "the failing instance gone from DNS and ?passing",
        || async {
            let gone_dns = dig_srv(dns_port, "checked-web.service.consul").is_empty();
            let gone_api = passing(&fleet.api, "checked-web").await?.is_empty();
            (gone_dns && gone_api).then_some(())
        },
    )
    .await;
    // Still registered, only critical: the catalog shows it, health says why.
    let url = format!("http://{}/v1/health/service/checked-web", fleet.api);
    let entries: Vec<serde_json::Value> = reqwest::get(&url)
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let statuses: Vec<&str> = entries[0]["Checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["Status"].as_str())
        .collect();
    assert!(statuses.contains(&"critical"), "{statuses:?}");
}
