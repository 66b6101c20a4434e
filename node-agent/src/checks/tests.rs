use super::*;
use crate::task_env::tests::fixture;
use chrono::TimeZone;
use drover_api_types::{Allocation, Job, Node};

fn with(edit: impl FnOnce(&mut Job)) -> (Job, Allocation, Node) {
    let (mut job, alloc, node) = fixture();
    edit(&mut job);
    (job, alloc, node)
}

fn specs(
    job: &Job,
    alloc: &Allocation,
    node: &Node,
    task: usize,
) -> Result<Vec<CheckSpec>, CheckError> {
    let group = &job.spec.groups[0];
    checks_for(&TaskContext {
        job,
        group,
        task: &group.tasks[task],
        alloc,
        node,
    })
}

fn service(name: &str, port: &str, checks: Vec<Check>) -> Service {
    Service {
        name: name.into(),
        port: port.into(),
        checks,
        ..Default::default()
    }
}

fn check(kind: &str) -> Check {
    Check {
        check_type: kind.into(),
        ..Default::default()
    }
}

#[test]
fn an_http_check_probes_the_published_port_on_the_node_address() {
    let (job, alloc, node) = with(|job| {
        let mut c = check("http");
        c.name = "alive".into();
        c.path = "health".into();
        c.header.insert("X-Probe".into(), vec!["drover".into()]);
        c.interval = Duration::from_secs(5).into();
        job.spec.groups[0].tasks[0].services =
            vec![service("web-${NOMAD_META_team_name}", "http", vec![c])];
    });
    let s = specs(&job, &alloc, &node, 0).expect("specs");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].id, "web-edge/alive");
    assert_eq!(s[0].service, "web-edge");
    assert_eq!(
        s[0].probe,
        Probe::Http {
            url: "http://127.0.0.2:23456/health".into(),
            method: "GET".into(),
            headers: vec![("X-Probe".into(), "drover".into())],
            body: String::new(),
            tls_skip_verify: false,
        }
    );
    assert_eq!(
        (s[0].interval, s[0].timeout),
        (Duration::from_secs(5), DEFAULT_TIMEOUT)
    );
    assert_eq!(s[0].initial, CRITICAL);
}

#[test]
fn group_services_belong_to_their_task_and_tcp_and_script_checks_resolve() {
    let (job, alloc, node) = with(|job| {
        let group = &mut job.spec.groups[0];
        let mut sidecar = group.tasks[0].clone();
        sidecar.name = "sidecar".into();
        group.tasks.push(sidecar);
        let mut script = check("script");
        script.command = "/bin/check".into();
        script.args = vec!["--port".into(), "${NOMAD_PORT_http}".into()];
        group.services = vec![
            service("db", "http", vec![check("tcp"), script]),
            Service {
                task: "sidecar".into(),
                ..service("proxy", "8080", vec![check("tcp")])
            },
        ];
    });
    let first = specs(&job, &alloc, &node, 0).expect("specs");
    assert_eq!(
        first.len(),
        2,
        "the unowned group service follows the first task"
    );
    assert_eq!(first[0].id, "db/0");
    assert_eq!(
        first[0].probe,
        Probe::Tcp {
            addr: "127.0.0.2:23456".into()
        }
    );
    assert_eq!(
        first[1].probe,
        Probe::Script {
            task: "nginx".into(),
            command: vec!["/bin/check".into(), "--port".into(), "80".into()],
        }
    );
    let sidecar = specs(&job, &alloc, &node, 1).expect("specs");
    assert_eq!(sidecar.len(), 1);
    assert_eq!(
        sidecar[0].probe,
        Probe::Tcp {
            addr: "127.0.0.2:8080".into()
        }
    );
}

#[test]
fn a_group_services_checks_run_for_the_main_task_not_a_prestart_hook() {
    let (job, alloc, node) = with(|job| {
        let group = &mut job.spec.groups[0];
        let mut init = group.tasks[0].clone();
        init.name = "init".into();
        init.lifecycle = Some(drover_api_types::task::Lifecycle {
            hook: "prestart".into(),
            sidecar: false,
        });
        group.tasks.insert(0, init);
        group.services = vec![service("web", "http", vec![check("http"), check("tcp")])];
    });
    let hook = specs(&job, &alloc, &node, 0).expect("specs");
    assert!(hook.is_empty(), "not the prestart hook's: {hook:?}");
    let main = specs(&job, &alloc, &node, 1).expect("specs");
    assert_eq!(main.len(), 2, "the main task runs them");
    assert_eq!(
        main[1].probe,
        Probe::Tcp {
            addr: "127.0.0.2:23456".into()
        },
        "against the group's port"
    );
}

#[test]
fn bad_checks_say_what_to_change() {
    let (job, alloc, node) = with(|job| {
        job.spec.groups[0].tasks[0].services = vec![service("web", "admin", vec![check("tcp")])];
    });
    let e = specs(&job, &alloc, &node, 0).expect_err("unknown port");
    assert!(e.to_string().contains("port \"admin\""), "{e}");
    let (job, alloc, node) = with(|job| {
        job.spec.groups[0].tasks[0].services = vec![service("web", "http", vec![check("grpc")])];
    });
    let e = specs(&job, &alloc, &node, 0).expect_err("grpc");
    assert!(
        e.to_string().contains("type \"grpc\" is not supported"),
        "{e}"
    );
}

#[test]
fn http_and_script_results_read_as_consul_reads_them() {
    assert_eq!(http_status(204), PASSING);
    assert_eq!(http_status(429), WARNING);
    assert_eq!(http_status(503), CRITICAL);
    assert_eq!(exit_status(0), PASSING);
    assert_eq!(exit_status(1), WARNING);
    assert_eq!(exit_status(2), CRITICAL);
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_000_000 + secs, 0)
        .single()
        .expect("valid")
}

fn spec() -> CheckSpec {
    CheckSpec {
        id: "web/0".into(),
        name: "alive".into(),
        service: "web".into(),
        task: "nginx".into(),
        probe: Probe::Tcp { addr: "x:1".into() },
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
        initial: CRITICAL.into(),
        success_before_passing: 0,
        failures_before_critical: 0,
        restart: None,
    }
}

fn outcome(status: &'static str) -> Outcome {
    Outcome {
        status,
        output: status.to_string(),
    }
}

#[test]
fn thresholds_hold_the_status_until_enough_results_agree() {
    let mut s = spec();
    s.success_before_passing = 2;
    let mut state = CheckState::new(&s);
    assert_eq!(state.status.status, CRITICAL);
    state.observe(&s, outcome(PASSING), at(0), None);
    assert_eq!(state.status.status, CRITICAL, "one success is not enough");
    state.observe(&s, outcome(PASSING), at(1), None);
    assert_eq!(state.status.status, PASSING);
    state.observe(&s, outcome(WARNING), at(2), None);
    assert_eq!(state.status.status, WARNING, "one failure is enough");
    s.failures_before_critical = 2;
    state.observe(&s, outcome(PASSING), at(3), None);
    state.observe(&s, outcome(PASSING), at(4), None);
    state.observe(&s, outcome(CRITICAL), at(5), None);
    assert_eq!(state.status.status, PASSING, "one failure is tolerated");
    state.observe(&s, outcome(CRITICAL), at(5), None);
    assert_eq!(state.status.status, CRITICAL);
    assert_eq!(state.status.updated_at, Some(at(5)));
}

#[test]
fn check_restart_counts_failures_after_the_grace_and_starts_over() {
    let mut s = spec();
    s.restart = Some(CheckRestart {
        limit: 2,
        grace: Duration::from_secs(10).into(),
        ignore_warnings: true,
    });
    let started = Some(at(0));
    let mut state = CheckState::new(&s);
    assert!(
        !state.observe(&s, outcome(CRITICAL), at(1), started),
        "in grace"
    );
    assert!(
        !state.observe(&s, outcome(CRITICAL), at(5), started),
        "in grace"
    );
    assert!(!state.observe(&s, outcome(CRITICAL), at(11), started));
    assert!(
        !state.observe(&s, outcome(WARNING), at(12), started),
        "warnings ignored"
    );
    assert!(
        !state.observe(&s, outcome(CRITICAL), at(13), started),
        "the count started over"
    );
    assert!(
        state.observe(&s, outcome(CRITICAL), at(14), started),
        "limit reached"
    );
    assert!(
        !state.observe(&s, outcome(CRITICAL), at(15), started),
        "counting again"
    );
}
