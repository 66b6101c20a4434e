use super::super::testutil::{assert_diags, base_job, group, messages, task, GROUP, SERVICE, TASK};
use crate::duration::Duration;
use crate::group::{Check, CheckRestart, Service};
use crate::job::Job;

const CHECK: &str =
    "job \"billing\" group \"api\" task \"api\" service \"billing-api\" check \"alive\"";

fn check(job: &mut Job) -> &mut Check {
    &mut task(job).services[0].checks[0]
}

#[test]
fn service_names() {
    let cases = [
        ("billing-api", None),
        ("${NOMAD_JOB_NAME}-api", None),
        ("api-${NOMAD_ALLOC_INDEX}", None),
        ("billing_api", Some("name \"billing_api\" is not a valid service name; use letters, digits and '-' (at most 63, not starting or ending with '-'), or ${...} interpolation")),
        ("-api", Some("name \"-api\" is not a valid service name; use letters, digits and '-' (at most 63, not starting or ending with '-'), or ${...} interpolation")),
    ];
    for (name, problem) in cases {
        let mut job = base_job();
        task(&mut job).services[0].name = name.into();
        let expected: Vec<String> = problem
            .map(|p| format!("error: {TASK} service {name:?}: {p}"))
            .into_iter()
            .collect();
        assert_eq!(messages(&job), expected, "{name}");
    }
    assert_diags(
        |job| task(job).services[0].name.clear(),
        &[&format!(
            "error: {TASK} service[0]: name is empty; name the service, e.g. \"web\""
        )],
    );
}

#[test]
fn duplicate_services_and_checks() {
    assert_diags(
        |job| {
            let service = task(job).services[0].clone();
            task(job).services.push(service);
        },
        &[&format!("error: {TASK}: service \"billing-api\" with port \"web\" is defined more than once; give each service a unique name")],
    );
    assert_diags(
        |job| {
            let mut service = task(job).services[0].clone();
            service.port = "8080".into();
            task(job).services.push(service);
        },
        &[],
    );
    assert_diags(
        |job| {
            let c = check(job).clone();
            task(job).services[0].checks.push(c);
        },
        &[&format!("error: {SERVICE}: check name \"alive\" is used more than once; give each check its own name")],
    );
}

#[test]
fn service_fields() {
    assert_diags(
        |job| {
            let service = &mut task(job).services[0];
            service.provider = "consol".into();
            service.address_mode = "bridge".into();
            service.on_update = "never".into();
        },
        &[
            &format!("error: {SERVICE}: provider \"consol\" is not valid; use one of: \"consul\", \"nomad\" (did you mean \"consul\"?)"),
            &format!("error: {SERVICE}: address_mode \"bridge\" is not valid; use one of: \"auto\", \"host\", \"driver\", \"alloc\""),
            &format!("error: {SERVICE}: on_update \"never\" is not valid; use one of: \"\", \"require_healthy\", \"ignore_warnings\", \"ignore\""),
        ],
    );
}

#[test]
fn group_services_reference_tasks() {
    let group_service = |task_name: &str, check_task: &str, kind: &str| Service {
        name: "billing".into(),
        port: "web".into(),
        task: task_name.into(),
        checks: vec![Check {
            name: "c".into(),
            check_type: kind.into(),
            command: "/bin/true".into(),
            task: check_task.into(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            ..Check::default()
        }],
        ..Service::default()
    };
    assert_diags(
        |job| group(job).services.push(group_service("api", "", "script")),
        &[],
    );
    assert_diags(
        |job| group(job).services.push(group_service("", "worker", "script")),
        &[&format!("error: {GROUP} service \"billing\" check \"c\": task \"worker\" is not a task of this group (defined: \"api\")")],
    );
    assert_diags(
        |job| group(job).services.push(group_service("web", "", "script")),
        &[
            &format!("error: {GROUP} service \"billing\": task \"web\" is not a task of this group (defined: \"api\")"),
        ],
    );
    assert_diags(
        |job| group(job).services.push(group_service("", "", "script")),
        &[&format!("error: {GROUP} service \"billing\" check \"c\": script checks in a group service need a task to run in; set task on the check or the service")],
    );
}

#[test]
fn check_rules() {
    let at = format!("error: {CHECK}");
    type Case = (Box<dyn Fn(&mut Check)>, Vec<String>);
    let cases: Vec<Case> = vec![
        (Box::new(|c| c.check_type = "htp".into()), vec![format!("{at}: type \"htp\" is not valid; use one of: \"http\", \"tcp\", \"script\", \"grpc\" (did you mean \"http\"?)")]),
        (Box::new(|c| c.path.clear()), vec![format!("{at}: http checks need a path; set path, e.g. \"/health\"")]),
        (Box::new(|c| { c.check_type = "script".into(); c.path.clear(); }), vec![format!("{at}: script checks need a command; set command")]),
        (Box::new(|c| { c.check_type = "tcp".into(); c.path.clear(); }), vec![]),
        (Box::new(|c| c.interval = Duration::ZERO), vec![format!("{at}: interval is not set; set interval, e.g. \"10s\"")]),
        (Box::new(|c| c.interval = Duration::from_millis(500)), vec![format!("{at}: interval 500ms is too short; use at least 1s")]),
        (Box::new(|c| c.timeout = Duration::ZERO), vec![format!("{at}: timeout is not set; set timeout, e.g. \"2s\"")]),
        (Box::new(|c| c.initial_status = "ok".into()), vec![format!("{at}: initial_status \"ok\" is not valid; use one of: \"\", \"passing\", \"warning\", \"critical\"")]),
        (Box::new(|c| c.initial_status = "passing".into()), vec![]),
        (Box::new(|c| c.protocol = "ftp".into()), vec![format!("{at}: protocol \"ftp\" is not valid; use one of: \"\", \"http\", \"https\"")]),
        (Box::new(|c| c.method = "get".into()), vec![format!("{at}: method \"get\" is not valid; write it in capitals: \"GET\"")]),
        (Box::new(|c| c.method = "FETCH".into()), vec![format!("{at}: method \"FETCH\" is not valid; use one of: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"CONNECT\", \"OPTIONS\", \"TRACE\", \"PATCH\"")]),
        (Box::new(|c| c.method = "POST".into()), vec![]),
        (Box::new(|c| c.port = "admin".into()), vec![format!("{at}: port label \"admin\" is not defined in the group network (defined: \"web\")")]),
        (Box::new(|c| c.address_mode = "auto".into()), vec![format!("{at}: address_mode \"auto\" is not valid; use one of: \"\", \"host\", \"driver\", \"alloc\"")]),
        (Box::new(|c| c.check_restart = Some(CheckRestart { limit: -1, ..CheckRestart::default() })), vec![format!("{at}: check_restart limit -1 is negative; use 0 (never restart) or more")]),
        (Box::new(|c| c.check_restart = Some(CheckRestart { limit: 3, ..CheckRestart::default() })), vec![]),
        (Box::new(|c| c.failures_before_critical = Some(-2)), vec![format!("{at}: failures_before_critical -2 is negative; use 0 or more")]),
    ];
    for (index, (mutate, expected)) in cases.into_iter().enumerate() {
        let mut job = base_job();
        mutate(check(&mut job));
        assert_eq!(messages(&job), expected, "case {index}");
    }
}

#[test]
fn checks_need_a_port() {
    assert_diags(
        |job| task(job).services[0].port.clear(),
        &[&format!(
            "error: {CHECK}: http checks need a port; set port on the check or on the service"
        )],
    );
    assert_diags(
        |job| {
            task(job).services[0].port.clear();
            check(job).port = "web".into();
        },
        &[],
    );
}
