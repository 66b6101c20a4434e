//! Table tests for feasibility, ports and scoring, with small builders.

use std::collections::BTreeMap;

use drover_api_types::group::{Network, Port, VolumeRequest};
use drover_api_types::job::{Affinity, Constraint, Spread, SpreadTarget};
use drover_api_types::node::{DrainStrategy, HostVolume, NodeState};
use drover_api_types::{mock, Job, JobType, Node, TaskGroup};

use super::*;

/// A ready 4-core node in `dc1` of class `compute` on rack `r1`, with a
/// host volume `data` and ten dynamic ports.
pub(crate) fn node(name: &str) -> Node {
    let mut n = mock::node(name);
    n.metadata.uid = format!("uid-{name}");
    n.status.state = NodeState::Ready;
    let s = &mut n.spec;
    s.node_class = "compute".into();
    s.address = "10.0.0.1".into();
    s.attributes.insert("kernel.name".into(), "linux".into());
    s.meta.insert("rack".into(), "r1".into());
    s.host_volumes.insert("data".into(), HostVolume::default());
    s.max_dynamic_port = 20009;
    n
}

/// The job the group is placed for; its groups do not matter here.
fn job() -> Job {
    mock::job_of("web", JobType::Service, Vec::new())
}

/// Three allocations of one 500 MHz, 256 MB task.
fn group() -> TaskGroup {
    let mut g = mock::group("web", 3);
    g.tasks[0].resources.cpu = 500;
    g.tasks[0].resources.memory = 256;
    g
}

fn constraint(attribute: &str, operator: &str, value: &str) -> Constraint {
    Constraint {
        attribute: attribute.into(),
        operator: operator.into(),
        value: value.into(),
    }
}

fn ports(list: &[(&str, Option<i64>)]) -> Option<Network> {
    Some(Network {
        ports: list
            .iter()
            .map(|(label, p)| Port {
                label: (*label).into(),
                static_port: *p,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn check(n: &Node, j: &Job, g: &TaskGroup, u: &NodeUsage) -> Result<(), String> {
    feasible(n, j, g, u, &PlacementOptions::default()).map_err(|r| r.text().to_string())
}

#[test]
fn each_feasibility_reason() {
    type Case = (
        &'static str,
        fn(&mut Node, &mut Job, &mut TaskGroup, &mut NodeUsage),
    );
    let cases: Vec<Case> = vec![
        ("", |_, _, _, _| {}),
        ("node not ready", |n, _, _, _| {
            n.status.state = NodeState::Down
        }),
        ("node ineligible", |n, _, _, _| {
            n.scheduling.ineligible = true
        }),
        ("node draining", |n, _, _, _| {
            n.scheduling.drain = Some(DrainStrategy::default())
        }),
        ("datacenter", |_, j, _, _| {
            j.spec.datacenters = vec!["eu*".into()]
        }),
        ("", |_, j, _, _| j.spec.datacenters = vec!["dc*".into()]),
        ("", |_, j, _, _| {
            j.spec.datacenters = vec!["x".into(), "*".into()]
        }),
        ("node pool", |_, j, _, _| j.spec.node_pool = "gpu".into()),
        ("", |_, j, _, _| j.spec.node_pool = "all".into()),
        ("missing driver \"exec\"", |_, _, g, _| {
            g.tasks[0].driver = "exec".into()
        }),
        ("driver \"docker\" unhealthy", |n, _, _, _| {
            if let Some(d) = n.spec.drivers.get_mut("docker") {
                d.healthy = false;
            }
        }),
        ("constraint ${attr.kernel.name} = windows", |_, j, _, _| {
            j.spec.constraints = vec![constraint("${attr.kernel.name}", "=", "windows")]
        }),
        ("constraint ${meta.rack} != r1", |_, _, g, _| {
            g.constraints = vec![constraint("${meta.rack}", "!=", "r1")]
        }),
        ("constraint ${attr.gpu} is_set", |_, _, g, _| {
            g.tasks[0].constraints = vec![constraint("${attr.gpu}", "is_set", "")]
        }),
        ("missing host volume \"logs\"", |_, _, g, _| {
            g.volumes.insert(
                "logs".into(),
                VolumeRequest {
                    volume_type: "host".into(),
                    source: "logs".into(),
                    ..Default::default()
                },
            );
        }),
        ("cpu", |_, _, _, u| u.cpu = 3600),
        ("memory", |n, _, _, _| n.spec.reserved.memory = 8000),
        ("port 80", |_, _, g, u| {
            g.network = ports(&[("http", Some(80))]);
            u.used_ports.insert(80);
        }),
        ("port 8080", |_, _, g, _| {
            g.network = ports(&[("a", Some(8080)), ("b", Some(8080))])
        }),
        ("dynamic port", |_, _, g, u| {
            g.network = ports(&[("a", None), ("b", None)]);
            u.used_ports.extend(20000..20009);
        }),
        ("", |_, _, g, u| {
            g.network = ports(&[("http", Some(80)), ("a", None)]);
            u.used_ports.extend(20000..20009);
        }),
    ];
    for (want, edit) in cases {
        let (mut n, mut j, mut g, mut u) = (node("n1"), job(), group(), NodeUsage::default());
        edit(&mut n, &mut j, &mut g, &mut u);
        let got = check(&n, &j, &g, &u).err().unwrap_or_default();
        assert_eq!(got, want);
    }
}

#[test]
fn resource_reasons_are_exhausted_others_filtered() {
    let (n, j, g) = (node("n1"), job(), group());
    let usage = NodeUsage {
        cpu: 4000,
        ..Default::default()
    };
    let r = feasible(&n, &j, &g, &usage, &PlacementOptions::default()).expect_err("rejected");
    assert!(r.is_exhausted());
    let mut j = job();
    j.spec.datacenters = vec!["nope".into()];
    let r = feasible(&n, &j, &g, &NodeUsage::default(), &Default::default()).expect_err("rejected");
    assert_eq!(r, Reason::Filtered("datacenter".into()));
}

#[test]
fn memory_oversubscription() {
    let (n, j, mut g) = (node("n1"), job(), group());
    g.tasks[0].resources.memory_max = Some(9000);
    let usage = NodeUsage::default();
    let off = PlacementOptions::default();
    let on = PlacementOptions {
        memory_oversubscription: true,
        ..Default::default()
    };
    assert_eq!(
        feasible(&n, &j, &g, &usage, &off),
        Err(Reason::Exhausted("memory".into()))
    );
    assert_eq!(feasible(&n, &j, &g, &usage, &on), Ok(()));
    // The reservation itself must still fit.
    g.tasks[0].resources.memory = 8500;
    assert_eq!(
        feasible(&n, &j, &g, &usage, &on),
        Err(Reason::Exhausted("memory".into()))
    );
}

#[test]
fn distinct_hosts_job_and_group_level() {
    let (n, mut j, mut g) = (node("n1"), job(), group());
    let mut usage = NodeUsage::default();
    usage.job_allocs.insert("other".into(), 1);
    j.spec.constraints = vec![constraint("", "distinct_hosts", "")];
    assert_eq!(check(&n, &j, &g, &usage), Err("distinct_hosts".into()));
    j.spec.constraints.clear();
    g.constraints = vec![constraint("", "distinct_hosts", "true")];
    assert_eq!(check(&n, &j, &g, &usage), Ok(()));
    usage.job_allocs.insert("web".into(), 1);
    assert_eq!(check(&n, &j, &g, &usage), Err("distinct_hosts".into()));
    g.constraints = vec![constraint("", "distinct_hosts", "false")];
    assert_eq!(check(&n, &j, &g, &usage), Ok(()));
}

#[test]
fn distinct_property_with_limit_two() {
    let (n, j, mut g) = (node("n1"), job(), group());
    g.constraints = vec![constraint("${meta.rack}", "distinct_property", "2")];
    let with = |count: u32| {
        let mut usage = NodeUsage::default();
        usage.group_property_counts.insert(
            "${meta.rack}".into(),
            BTreeMap::from([("r1".to_string(), count), ("r2".to_string(), 5)]),
        );
        usage
    };
    let reason = Err("distinct_property ${meta.rack}".to_string());
    let table = [
        (0, Ok(())),
        (1, Ok(())),
        (2, reason.clone()),
        (3, reason.clone()),
    ];
    for (count, want) in table {
        assert_eq!(check(&n, &j, &g, &with(count)), want, "count {count}");
    }
    // Default limit is 1; a node without the property is rejected.
    g.constraints = vec![constraint("${meta.rack}", "distinct_property", "")];
    assert_eq!(check(&n, &j, &g, &with(1)), reason);
    let mut bare = node("n2");
    bare.spec.meta.clear();
    assert_eq!(check(&bare, &j, &g, &with(0)), reason);
}

#[test]
fn dynamic_ports_unique_deterministic_and_free() {
    let n = node("n1");
    let mut g = group();
    g.network = ports(&[("http", Some(80)), ("a", None), ("b", None), ("c", None)]);
    let mut usage = NodeUsage::default();
    usage.used_ports.extend([20001, 20003, 20005, 20007]);
    for seed in 0..50u64 {
        let got = assign_ports(&n, &g, &usage, seed).expect("ports");
        assert_eq!(got["http"].value, 80);
        assert_eq!(got["http"].host_ip, "10.0.0.1");
        let dynamic: Vec<u16> = ["a", "b", "c"].iter().map(|l| got[*l].value).collect();
        let unique: std::collections::BTreeSet<_> = dynamic.iter().collect();
        assert_eq!(unique.len(), 3, "seed {seed}: {dynamic:?}");
        for p in &dynamic {
            assert!((20000..=20009).contains(p) && !usage.used_ports.contains(p));
        }
        assert_eq!(assign_ports(&n, &g, &usage, seed).expect("ports"), got);
    }
    // Exactly as many free as asked: all of them get used.
    usage.used_ports.extend([20000, 20002, 20004]);
    let got = assign_ports(&n, &g, &usage, 7).expect("ports");
    let mut dynamic: Vec<u16> = ["a", "b", "c"].iter().map(|l| got[*l].value).collect();
    dynamic.sort_unstable();
    assert_eq!(dynamic, vec![20006, 20008, 20009]);
    usage.used_ports.insert(20006);
    assert_eq!(
        assign_ports(&n, &g, &usage, 7),
        Err(Reason::Exhausted("dynamic port".into()))
    );
    usage.used_ports.insert(80);
    assert_eq!(
        assign_ports(&n, &g, &usage, 7),
        Err(Reason::Exhausted("port 80".into()))
    );
}

fn used(cpu: i64, memory: i64) -> NodeUsage {
    NodeUsage {
        cpu,
        memory,
        ..Default::default()
    }
}

#[test]
fn binpack_prefers_fuller_spread_prefers_emptier() {
    let (n, j, g) = (node("n1"), job(), group());
    let (empty, full) = (used(0, 0), used(2000, 4096));
    let binpack = PlacementOptions::default();
    let spread = PlacementOptions {
        algorithm: Algorithm::Spread,
        ..Default::default()
    };
    assert!(score(&n, &j, &g, &full, &binpack) > score(&n, &j, &g, &empty, &binpack));
    assert!(score(&n, &j, &g, &empty, &spread) > score(&n, &j, &g, &full, &spread));
    for u in [&empty, &full] {
        for o in [&binpack, &spread] {
            let s = score(&n, &j, &g, u, o);
            assert!((0.0..=1.0).contains(&s), "{s}");
        }
    }
}

#[test]
fn job_anti_affinity_penalises_collisions() {
    let (n, j, g) = (node("n1"), job(), group());
    let mut crowded = used(0, 0);
    crowded.job_allocs.insert("web".into(), 1);
    let o = PlacementOptions::default();
    assert!(score(&n, &j, &g, &used(0, 0), &o) > score(&n, &j, &g, &crowded, &o));
}

#[test]
fn affinity_changes_ranking() {
    let (a, mut b, j, mut g) = (node("a"), node("b"), job(), group());
    b.spec.meta.insert("rack".into(), "r2".into());
    let o = PlacementOptions::default();
    // Without affinity the fuller node wins.
    let (ua, ub) = (used(2000, 4096), used(0, 0));
    assert!(score(&a, &j, &g, &ua, &o) > score(&b, &j, &g, &ub, &o));
    g.affinities = vec![Affinity {
        attribute: "${meta.rack}".into(),
        operator: "=".into(),
        value: "r2".into(),
        weight: 100,
    }];
    assert!(score(&b, &j, &g, &ub, &o) > score(&a, &j, &g, &ua, &o));
    // A negative weight pushes away.
    g.affinities[0].weight = -100;
    assert!(score(&b, &j, &g, &ua, &o) < score(&a, &j, &g, &ua, &o));
}

#[test]
fn spread_targets_prefer_values_under_target() {
    let (a, mut b, mut j, g) = (node("a"), node("b"), job(), group());
    b.spec.meta.insert("rack".into(), "r2".into());
    j.spec.spreads = vec![Spread {
        attribute: "${meta.rack}".into(),
        weight: 50,
        targets: vec![
            SpreadTarget {
                value: "r1".into(),
                percent: 50,
            },
            SpreadTarget {
                value: "r2".into(),
                percent: 50,
            },
        ],
    }];
    let mut u = used(0, 0);
    u.group_property_counts.insert(
        "${meta.rack}".into(),
        BTreeMap::from([("r1".to_string(), 2)]),
    );
    let o = PlacementOptions::default();
    assert!(score(&b, &j, &g, &u, &o) > score(&a, &j, &g, &u, &o));
    // Even spread (no targets) prefers the less used value too.
    j.spec.spreads[0].targets.clear();
    assert!(score(&b, &j, &g, &u, &o) > score(&a, &j, &g, &u, &o));
}

#[test]
fn cores_are_reserved_by_id_and_counted() {
    let n = node("a");
    let mut g = group();
    g.tasks[0].resources.cpu = 0;
    g.tasks[0].resources.cores = Some(2);
    let mut usage = NodeUsage::default();
    let cores = assign_cores(&n, &g, &usage).expect("fits");
    assert_eq!(cores.get(&g.tasks[0].name), Some(&vec![0, 1]));
    // Their MHz count: 2 of 4 cores of a 4000 MHz node.
    assert_eq!(GroupAsk::of(&g).cpu_on(&n), 2000);
    usage.used_cores.extend([0, 2]);
    let cores = assign_cores(&n, &g, &usage).expect("fits");
    assert_eq!(cores.get(&g.tasks[0].name), Some(&vec![1, 3]));
    usage.used_cores.insert(1);
    assert_eq!(assign_cores(&n, &g, &usage), None);
    assert_eq!(check(&n, &job(), &g, &usage), Err("cores".to_string()));
}

#[test]
fn a_node_takes_only_the_host_access_its_agent_allows() {
    use drover_api_types::host_access::{HostAccess, HostPolicy};
    let j = job();
    let asking = |config: serde_json::Value| {
        let mut g = group();
        g.tasks[0].driver = "docker".into();
        if let serde_json::Value::Object(map) = config {
            g.tasks[0].config = map;
        }
        g
    };
    let cases = [
        (
            serde_json::json!({"privileged": true}),
            HostAccess::Privileged,
            "driver.docker: privileged containers disabled",
        ),
        (
            serde_json::json!({"volumes": ["/:/host"]}),
            HostAccess::HostPaths,
            "driver.docker: volumes disabled",
        ),
        (
            serde_json::json!({"network_mode": "host"}),
            HostAccess::HostNetwork,
            "driver.docker: host network disabled",
        ),
        (
            serde_json::json!({"pid_mode": "host"}),
            HostAccess::HostPid,
            "driver.docker: host pid namespace disabled",
        ),
    ];
    for (config, access, refused) in cases {
        let g = asking(config);
        let plain = node("a");
        assert_eq!(
            check(&plain, &j, &g, &NodeUsage::default()),
            Err(refused.into())
        );
        let mut open = node("b");
        let policy = HostPolicy {
            allowed: [access].into(),
            ..HostPolicy::default()
        };
        let docker = open.spec.drivers.entry("docker".into()).or_default();
        docker
            .attributes
            .extend(policy.attributes().map(|(k, v)| (k.to_string(), v)));
        assert_eq!(
            check(&open, &j, &g, &NodeUsage::default()),
            Ok(()),
            "{refused}"
        );
    }
    // What stays inside the task directory needs nothing.
    let inside = asking(serde_json::json!({"volumes": ["local/conf:/etc/app"]}));
    assert_eq!(
        check(&node("a"), &j, &inside, &NodeUsage::default()),
        Ok(())
    );
    // Capabilities: within the node's allow_caps (Nomad's default list when
    // it publishes none).
    let admin = asking(serde_json::json!({"cap_add": ["SYS_ADMIN"]}));
    assert_eq!(
        check(&node("a"), &j, &admin, &NodeUsage::default()),
        Err("driver.docker: capability sys_admin not allowed".into())
    );
    let chown = asking(serde_json::json!({"cap_add": ["CHOWN"]}));
    assert_eq!(check(&node("a"), &j, &chown, &NodeUsage::default()), Ok(()));
}
