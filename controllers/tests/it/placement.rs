//! The placement controller against a real etcd: nodes and allocation specs
//! are written as the agent and the job controller would, and the tests
//! read back what placement wrote (bindings, the per-node index, the job's
//! placement record).

use crate::common::placement_fixtures as fixtures;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use drover_api_types::alloc::{AllocationStatus, ClientStatus};
use drover_api_types::job::{PlacementFailure, Spread};
use drover_store::Versioned;
use fixtures::{constraint, group, job, node, poll, static_port, Harness};

#[tokio::test]
async fn static_port_binds_one_allocation_per_node_and_records_why_the_rest_wait() {
    let h = Harness::start().await;
    for name in ["a", "b", "c"] {
        h.put_node(&node(name, "dc1")).await;
    }
    h.put_job(&job("web", vec![static_port(group("web", 3), 80)]))
        .await;
    let ids = h.put_allocs("web", "web", 0, 3).await;

    let bound = h.wait_bound(&ids).await;
    let nodes: BTreeSet<&str> = bound.iter().map(|b| b.node_id.as_str()).collect();
    assert_eq!(nodes.len(), 3, "one allocation per node: {bound:?}");
    for b in &bound {
        assert_eq!(b.ports["http"].value, 80);
        assert_eq!((b.cpu, b.memory), (100, 64));
        assert!(b.bound_at.is_some());
    }
    // The agent's index holds the whole allocation with its binding.
    let index = h.node_index().await;
    assert_eq!(index.len(), 3);
    for (node_id, a) in &index {
        assert_eq!(a.binding.as_ref().map(|b| &b.node_id), Some(node_id));
        assert_eq!(a.spec.job_id, "web");
    }
    assert_eq!(h.placement("web").await, None);

    let fourth = h.put_allocs("web", "web", 3, 1).await;
    let record = h.wait_placement("web", |p| p.contains_key("web")).await;
    let expected = PlacementFailure {
        queued: 1,
        nodes_evaluated: 3,
        nodes_filtered: BTreeMap::new(),
        dimensions_exhausted: BTreeMap::from([("port 80".to_string(), 3)]),
        quota_exhausted: None,
    };
    assert_eq!(record["web"], expected);
    assert!(!h.bindings().await.contains_key(&fourth[0]));
    // The metrics say the same: three placed, the fourth failed on a port.
    assert_eq!(h.metrics.placed.get(), 3);
    assert!(h.metrics.failed.with_label_values(&["port"]).get() >= 1);
    assert!(h.metrics.pass_duration.get_sample_count() >= 2);
    h.shutdown().await;
}

#[tokio::test]
async fn distinct_hosts_puts_each_allocation_on_its_own_node() {
    let h = Harness::start().await;
    for name in ["a", "b"] {
        h.put_node(&node(name, "dc1")).await;
    }
    let mut g = group("cache", 3);
    g.constraints.push(constraint("", "distinct_hosts", "true"));
    h.put_job(&job("cache", vec![g])).await;
    let ids = h.put_allocs("cache", "cache", 0, 3).await;

    let record = h
        .wait_placement("cache", |p| {
            p.get("cache")
                .is_some_and(|f| f.nodes_filtered.contains_key("distinct_hosts") && f.queued == 1)
        })
        .await;
    assert_eq!(record["cache"].queued, 1);
    assert_eq!(record["cache"].nodes_filtered["distinct_hosts"], 2);
    let bindings = h.bindings().await;
    let nodes: BTreeSet<&str> = bindings.values().map(|b| b.node_id.as_str()).collect();
    assert_eq!((bindings.len(), nodes.len()), (2, 2));
    assert!(ids.iter().filter(|id| bindings.contains_key(*id)).count() == 2);
    h.shutdown().await;
}

#[tokio::test]
async fn spread_over_three_datacenters_is_even() {
    let h = Harness::start().await;
    for dc in ["dc1", "dc2", "dc3"] {
        for i in 0..2 {
            h.put_node(&node(&format!("{dc}-{i}"), dc)).await;
        }
    }
    let mut g = group("api", 9);
    g.spreads.push(Spread {
        attribute: "${node.datacenter}".into(),
        weight: 100,
        targets: Vec::new(),
    });
    h.put_job(&job("api", vec![g])).await;
    let ids = h.put_allocs("api", "api", 0, 9).await;

    let bound = h.wait_bound(&ids).await;
    let mut per_dc: BTreeMap<String, usize> = BTreeMap::new();
    for b in &bound {
        let dc = b
            .node_name
            .split('-')
            .next()
            .unwrap_or_default()
            .to_string();
        *per_dc.entry(dc).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [("dc1", 3), ("dc2", 3), ("dc3", 3)]
        .map(|(d, n)| (d.to_string(), n))
        .into();
    assert_eq!(per_dc, expected);
    h.shutdown().await;
}

/// One end-to-end case per operator family. Node "alpha" and node "beta"
/// differ in every attribute tested; each job has one allocation (two for
/// `distinct_property`) and must land on the expected node, or stay queued
/// with the constraint as the reason.
#[tokio::test]
async fn every_constraint_operator_family_filters_nodes() {
    let h = Harness::start().await;
    let mut alpha = node("alpha", "dc1");
    let attrs = [
        ("cpu.numcores", "8"),
        ("driver.docker.version", "24.0.7"),
        ("os.version", "1.2.3"),
    ];
    for (k, v) in attrs {
        alpha.spec.attributes.insert(k.into(), v.into());
    }
    alpha.spec.meta.insert("tags".into(), "a,b".into());
    alpha.spec.meta.insert("gpu".into(), "yes".into());
    alpha.spec.meta.insert("rack".into(), "r1".into());
    let mut beta = node("beta", "dc1");
    let attrs = [
        ("kernel.name", "windows"),
        ("cpu.numcores", "2"),
        ("driver.docker.version", "19.3"),
        ("os.version", "0.9.0"),
    ];
    for (k, v) in attrs {
        beta.spec.attributes.insert(k.into(), v.into());
    }
    beta.spec.meta.insert("tags".into(), "c".into());
    beta.spec.meta.insert("rack".into(), "r1".into());
    h.put_node(&alpha).await;
    h.put_node(&beta).await;

    // (job, attribute, operator, value, the node it must land on)
    let cases = [
        ("eq", "${attr.kernel.name}", "=", "linux", "alpha"),
        ("ne", "${attr.kernel.name}", "!=", "linux", "beta"),
        ("gt", "${attr.cpu.numcores}", ">", "4", "alpha"),
        ("le", "${attr.cpu.numcores}", "<=", "4", "beta"),
        ("re", "${attr.kernel.name}", "regexp", "^win", "beta"),
        (
            "ver",
            "${attr.driver.docker.version}",
            "version",
            ">= 20.0",
            "alpha",
        ),
        (
            "semver",
            "${attr.os.version}",
            "semver",
            ">= 1.0.0",
            "alpha",
        ),
        ("setall", "${meta.tags}", "set_contains", "a,b", "alpha"),
        ("setany", "${meta.tags}", "set_contains_any", "c,z", "beta"),
        ("isset", "${meta.gpu}", "is_set", "", "alpha"),
        ("notset", "${meta.gpu}", "is_not_set", "", "beta"),
    ];
    let mut expected = Vec::new();
    for (name, attribute, operator, value, want) in cases {
        let mut g = group("g", 1);
        g.constraints.push(constraint(attribute, operator, value));
        h.put_job(&job(name, vec![g])).await;
        let ids = h.put_allocs(name, "g", 0, 1).await;
        expected.push((name, ids[0].clone(), format!("id-{want}")));
    }
    // Accepted nowhere: queued, the constraint as written is the reason.
    let mut nowhere = group("g", 1);
    nowhere
        .constraints
        .push(constraint("${attr.kernel.name}", "=", "plan9"));
    h.put_job(&job("none", vec![nowhere])).await;
    h.put_allocs("none", "g", 0, 1).await;
    // Both nodes are in rack r1: one allocation per rack.
    let mut per_rack = group("g", 2);
    per_rack
        .constraints
        .push(constraint("${meta.rack}", "distinct_property", "1"));
    h.put_job(&job("rack", vec![per_rack])).await;
    h.put_allocs("rack", "g", 0, 2).await;

    let ids: Vec<String> = expected.iter().map(|(_, id, _)| id.clone()).collect();
    let bound = h.wait_bound(&ids).await;
    for ((name, _, want), b) in expected.iter().zip(&bound) {
        assert_eq!(&b.node_id, want, "case {name}");
    }
    let reason = "constraint ${attr.kernel.name} = plan9";
    let none = h
        .wait_placement("none", |p| {
            p.get("g")
                .is_some_and(|f| f.nodes_filtered.get(reason) == Some(&2))
        })
        .await;
    assert_eq!(none["g"].nodes_filtered[reason], 2);
    assert_eq!((none["g"].queued, none["g"].nodes_evaluated), (1, 2));
    let rack = h
        .wait_placement("rack", |p| {
            p.get("g").is_some_and(|f| {
                f.queued == 1
                    && f.nodes_filtered
                        .contains_key("distinct_property ${meta.rack}")
            })
        })
        .await;
    assert_eq!(rack["g"].queued, 1);
    assert_eq!(
        rack["g"].nodes_filtered["distinct_property ${meta.rack}"],
        2
    );
    let bindings = h.bindings().await;
    let rack_bound = ["rack-g-0", "rack-g-1"]
        .iter()
        .filter(|id| bindings.contains_key(**id))
        .count();
    assert_eq!(rack_bound, 1);
    h.shutdown().await;
}

#[tokio::test]
async fn a_node_added_later_takes_the_queued_allocation() {
    let h = Harness::start().await;
    let mut small = node("small", "dc1");
    small.spec.resources.cpu = 150;
    h.put_node(&small).await;
    h.put_job(&job("batch", vec![group("work", 2)])).await;
    let ids = h.put_allocs("batch", "work", 0, 2).await;

    // Earlier passes may record other reasons (the node's status or the
    // second allocation not seen yet); wait for the settled explanation.
    let record = h
        .wait_placement("batch", |p| {
            p.get("work")
                .is_some_and(|f| f.dimensions_exhausted.contains_key("cpu"))
        })
        .await;
    assert_eq!(record["work"].queued, 1);
    assert_eq!(record["work"].dimensions_exhausted["cpu"], 1);

    // Nothing but the new node triggers the controller (resync is a minute).
    h.put_node(&node("big", "dc1")).await;
    let bound = h.wait_bound(&ids).await;
    let nodes: BTreeSet<&str> = bound.iter().map(|b| b.node_id.as_str()).collect();
    assert_eq!(nodes, BTreeSet::from(["id-big", "id-small"]));
    poll("the placement record to be deleted", || async {
        h.placement("batch").await.is_none().then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_terminal_allocation_frees_its_node() {
    let h = Harness::start().await;
    let mut small = node("small", "dc1");
    small.spec.resources.cpu = 150;
    h.put_node(&small).await;
    h.put_job(&job("batch", vec![group("work", 2)])).await;
    let first = h.put_allocs("batch", "work", 0, 1).await;
    h.wait_bound(&first).await;
    let second = h.put_allocs("batch", "work", 1, 1).await;
    h.wait_placement("batch", |p| p.contains_key("work")).await;

    // The agent reports the first one complete: its cpu is free again.
    let status = Versioned::new(AllocationStatus {
        client_status: ClientStatus::Complete,
        ..Default::default()
    });
    let key = h
        .store
        .alloc_status_key(fixtures::NS, &first[0])
        .await
        .expect("binding");
    h.store.put_at(&key, &status).await.expect("put status");
    let bound = h.wait_bound(&second).await;
    assert_eq!(bound[0].node_id, "id-small");
    poll("the placement record to be deleted", || async {
        h.placement("batch").await.is_none().then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_deferred_allocation_is_placed_when_due_and_never_reported_queued() {
    let h = Harness::start().await;
    h.put_node(&node("a", "dc1")).await;
    h.put_job(&job("later", vec![group("work", 1)])).await;
    let mut a = fixtures::alloc("later", "work", 0);
    a.spec.not_before = Some(Utc::now() + chrono::Duration::milliseconds(1500));
    let key = h.store.keys().alloc(fixtures::NS, &a.metadata.uid);
    h.store.put_at(&key, &a).await.expect("put allocation");

    let bound = h.wait_bound(&[a.metadata.uid.clone()]).await;
    let bound_at = bound[0].bound_at.expect("bound_at");
    assert!(bound_at >= a.spec.not_before.unwrap_or_default());
    assert_eq!(h.placement("later").await, None);
    h.shutdown().await;
}
