use super::*;
use drover_api_types::alloc::ClientStatus;
use drover_api_types::jobspec::{parse_str, ParseOptions};

const WEB: &str = r#"
job "web" {
  group "front" {
    count = 2
    task "nginx" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
  group "back" {
    task "api" {
      driver = "docker"
      config { image = "api" }
    }
  }
}
"#;

fn job(version: u64) -> Job {
    let loaded = parse_str("web.nomad", WEB, &ParseOptions::default()).expect("parse");
    let mut job = loaded.jobs.into_iter().next().expect("one job");
    job.metadata.namespace = "default".into();
    job.metadata.version = version;
    job
}

fn alloc(group: &str, index: u32, version: u64, status: ClientStatus) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = format!("{group}-{index}-v{version}");
    a.metadata.namespace = "default".into();
    a.spec.job_id = "web".into();
    a.spec.task_group = group.into();
    a.spec.index = index;
    a.spec.job_version = version;
    a.status.client_status = status;
    if status == ClientStatus::Running {
        a.binding = Some(drover_api_types::alloc::Binding {
            node_id: "n1".into(),
            ..Default::default()
        });
    }
    a
}

fn updates(out: &GroupsOutcome, group: &str) -> GroupUpdates {
    out.updates.get(group).copied().unwrap_or_default()
}

#[test]
fn a_new_job_creates_every_allocation_and_queues_them_for_placement() {
    let out = plan_groups(&job(0), &[], &[], Utc::now(), &BTreeSet::new());
    assert_eq!(updates(&out, "front").create, 2);
    assert_eq!(updates(&out, "back").create, 1);
    assert_eq!(out.pending.len(), 3);
    assert!(out
        .pending
        .iter()
        .all(|a| a.binding.is_none() && a.spec.job_id == "web"));
    assert!(out.freed.is_empty());
}

#[test]
fn the_same_version_is_ignored_and_a_new_one_replaced() {
    let running = [
        alloc("front", 0, 3, ClientStatus::Running),
        alloc("front", 1, 3, ClientStatus::Running),
        alloc("back", 0, 3, ClientStatus::Running),
    ];
    let out = plan_groups(&job(3), &running, &[], Utc::now(), &BTreeSet::new());
    assert_eq!(updates(&out, "front").ignore, 2);
    assert!(out.pending.is_empty(), "nothing to place");
    let out = plan_groups(&job(4), &running, &[], Utc::now(), &BTreeSet::new());
    let front = updates(&out, "front");
    // The default update block replaces one at a time.
    assert_eq!(
        (front.destructive_update, front.ignore, front.create),
        (1, 1, 0)
    );
    assert_eq!(out.pending.len(), 2, "replacements wait for placement");
    assert!(out.freed.contains("front-0-v3"));
}

#[test]
fn scaling_down_destroys_the_highest_indexes_and_removed_groups_go() {
    let mut smaller = job(3);
    smaller.spec.groups[0].count = 1;
    smaller.spec.groups.retain(|g| g.name == "front");
    let running = [
        alloc("front", 0, 3, ClientStatus::Running),
        alloc("front", 1, 3, ClientStatus::Running),
        alloc("back", 0, 3, ClientStatus::Running),
    ];
    let out = plan_groups(&smaller, &running, &[], Utc::now(), &BTreeSet::new());
    let front = updates(&out, "front");
    assert_eq!((front.destroy, front.ignore), (1, 1));
    assert!(out.freed.contains("front-1-v3"));
    assert_eq!(
        updates(&out, "back").destroy,
        1,
        "the removed group is listed"
    );
    assert!(out.freed.contains("back-0-v3"));
}

#[test]
fn a_stopped_job_destroys_everything_and_places_nothing() {
    let mut stopped = job(3);
    stopped.spec.stop = true;
    let mut queued = alloc("front", 1, 3, ClientStatus::Pending);
    queued.binding = None;
    let allocs = [alloc("front", 0, 3, ClientStatus::Running), queued];
    let out = plan_groups(&stopped, &allocs, &[], Utc::now(), &BTreeSet::new());
    assert_eq!(updates(&out, "front").destroy, 2);
    assert!(out.pending.is_empty(), "{:?}", out.pending);
}

#[test]
fn allocations_already_queued_stay_pending() {
    let queued = alloc("back", 0, 3, ClientStatus::Pending);
    let out = plan_groups(&job(3), &[queued], &[], Utc::now(), &BTreeSet::new());
    assert_eq!(updates(&out, "back").ignore, 1);
    assert!(out.pending.iter().any(|a| a.metadata.uid == "back-0-v3"));
}

#[test]
fn the_candidate_is_the_stored_job_when_unchanged() {
    let mut stored = job(2);
    stored.metadata.resource_version = 40;
    let (j, changed) = candidate(
        Some(&stored),
        job(0),
        "default",
        Utc::now(),
        &Default::default(),
    )
    .expect("ok");
    assert!(!changed);
    assert_eq!(j.metadata.version, 2);
    let mut bigger = job(0);
    bigger.spec.groups[0].count = 3;
    let (j, changed) = candidate(
        Some(&stored),
        bigger,
        "default",
        Utc::now(),
        &Default::default(),
    )
    .expect("ok");
    assert!(changed);
    assert_eq!(j.metadata.version, 3);
    assert!(diff_jobs(Some(&stored), &j)
        .render()
        .contains("~ count: \"2\" => \"3\""));
}

#[test]
fn in_place_groups_update_every_older_allocation_where_it_runs() {
    let running = [
        alloc("front", 0, 3, ClientStatus::Running),
        alloc("front", 1, 3, ClientStatus::Running),
        alloc("back", 0, 3, ClientStatus::Running),
    ];
    let in_place = BTreeSet::from(["front".to_string()]);
    let out = plan_groups(&job(4), &running, &[], Utc::now(), &in_place);
    let front = updates(&out, "front");
    assert_eq!(
        (
            front.in_place_update,
            front.destructive_update,
            front.ignore
        ),
        (2, 0, 0)
    );
    assert!(!out.freed.contains("front-0-v3"), "nothing is replaced");
    let back = updates(&out, "back");
    assert_eq!((back.destructive_update, back.in_place_update), (1, 0));
    assert_eq!(out.pending.len(), 1, "only back's replacement is placed");
}

#[test]
fn update_kinds_follow_the_shared_rule() {
    let old = job(3);
    let mut new = job(4);
    new.spec.groups[0].count = 5;
    new.spec.groups[1].tasks[0]
        .config
        .insert("image".into(), "api:2".into());
    let kinds = update_kinds(&old, &new);
    assert!(!kinds["front"].destructive);
    assert_eq!(kinds["front"].field, None);
    assert!(kinds["back"].destructive);
    assert_eq!(
        kinds["back"].field.as_deref(),
        Some("tasks[api].config.image")
    );
}

#[test]
fn a_destructive_update_with_canaries_plans_the_canaries() {
    let mut new = job(1);
    let front = &mut new.spec.groups[0];
    front.count = 3;
    front.update = Some(drover_api_types::job::UpdateStrategy {
        canary: Some(1),
        max_parallel: Some(1),
        ..Default::default()
    });
    let allocs: Vec<Allocation> = (0..3)
        .map(|i| alloc("front", i, 0, ClientStatus::Running))
        .collect();
    let out = plan_groups(&new, &allocs, &[], Utc::now(), &BTreeSet::new());
    let front = updates(&out, "front");
    assert_eq!(
        (
            front.canary,
            front.ignore,
            front.destructive_update,
            front.create
        ),
        (1, 3, 0, 0),
        "{front:?}"
    );
    let front_pending = out
        .pending
        .iter()
        .filter(|a| a.spec.task_group == "front")
        .count();
    assert_eq!(front_pending, 1, "the canary waits for placement");
}

const FULL: &str = r#"
job "web" {
  group "front" {
    count = 3
    update {
      max_parallel = 1
    }
    network {
      port "http" {
        static = 80
      }
    }
    task "nginx" {
      driver = "docker"
      config { image = "nginx:2" }
    }
  }
}
"#;

/// Mid-rollout on a full cluster (port 80 taken on all three nodes), with a
/// queued replacement whose predecessor is still stopping, `drover plan`
/// shows no placement failure: the replacement waits for that room, as
/// placement does.
#[test]
fn a_queued_replacement_on_a_full_cluster_is_not_a_failed_placement() {
    use drover_api_types::alloc::{AssignedPort, Binding};
    use drover_api_types::node::{DriverInfo, NodeResources, NodeState};
    use drover_controllers::placement::add_binding;

    let loaded = parse_str("web.nomad", FULL, &ParseOptions::default()).expect("parse");
    let mut job = loaded.jobs.into_iter().next().expect("one job");
    job.metadata.namespace = "default".into();
    job.metadata.version = 1;
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let mut n = Node::default();
            n.metadata.uid = format!("n{i}");
            n.metadata.name = format!("n{i}");
            n.status.state = NodeState::Ready;
            n.spec.datacenter = "dc1".into();
            n.spec.resources = NodeResources {
                cpu: 4000,
                cores: 4,
                memory: 8192,
                disk: 0,
            };
            n.spec.drivers.insert(
                "docker".into(),
                DriverInfo {
                    detected: true,
                    healthy: true,
                    ..Default::default()
                },
            );
            n
        })
        .collect();
    let mut allocs: Vec<Allocation> = (0..3)
        .map(|i| {
            let mut a = alloc("front", i, 0, ClientStatus::Running);
            a.binding = Some(Binding {
                node_id: format!("n{i}"),
                ports: BTreeMap::from([(
                    "http".to_string(),
                    AssignedPort {
                        value: 80,
                        ..Default::default()
                    },
                )]),
                cpu: 100,
                memory: 300,
                ..Default::default()
            });
            a
        })
        .collect();
    allocs[0].spec.desired_status = DesiredStatus::Stop;
    let mut replacement = alloc("front", 0, 1, ClientStatus::Pending);
    replacement.spec.previous_allocation = Some(allocs[0].metadata.uid.clone());
    allocs.push(replacement);

    let out = plan_groups(&job, &allocs, &nodes, Utc::now(), &BTreeSet::new());
    assert_eq!(out.pending.len(), 1, "only the queued replacement: {out:?}");
    let held = HashSet::from([allocs[0].metadata.uid.clone()]);
    assert_eq!(held_rooms(&allocs), held);
    let mut usage: std::collections::HashMap<String, drover_controllers::placement::NodeUsage> =
        std::collections::HashMap::new();
    for b in allocs.iter().filter_map(|a| a.binding.as_ref()) {
        add_binding(usage.entry(b.node_id.clone()).or_default(), b);
    }
    let input = PassInput {
        job: &job,
        pending: &out.pending,
        existing: &allocs,
        nodes: &nodes,
        options: PlacementOptions::default(),
        now: Utc::now(),
        seed: 0,
        quota: None,
    };
    let plan = plan_pass(&input, usage);
    assert_eq!(plan.failures, BTreeMap::new());
    assert_eq!(plan.waiting.len(), 1);

    // Once the predecessor has ended, its room stays held (base usage
    // counts it) and the replacement is bound there.
    allocs[0].status.client_status = ClientStatus::Complete;
    assert_eq!(held_rooms(&allocs), held);
}
