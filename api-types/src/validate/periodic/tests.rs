use super::super::testutil::{job_of_type, messages, task, TASK};
use super::parse_cron;
use crate::job::{JobType, Parameterized, Periodic};
use crate::task::DispatchPayload;

const JOB: &str = "job \"billing\"";

fn periodic_job(crons: &[&str], time_zone: &str) -> crate::job::Job {
    let mut job = job_of_type(JobType::Batch);
    job.spec.periodic = Some(Periodic {
        crons: crons.iter().map(|c| c.to_string()).collect(),
        time_zone: time_zone.into(),
        ..Periodic::default()
    });
    job
}

#[test]
fn nomad_cron_forms_parse() {
    for expression in [
        "*/15 * * * *",
        "0 3 * * 0",
        "0 3 * * 7",
        "0 3 * * 1-5",
        "0 3 * * 5-7",
        "0 3 * * MON-FRI",
        "0 0 1 1 * 2030",
        "30 0 3 * * * *",
        "@daily",
        "@midnight",
        "@annually",
        "@hourly",
        "@weekly",
        "@monthly",
    ] {
        assert!(
            parse_cron(expression).is_ok(),
            "{expression}: {:?}",
            parse_cron(expression).err()
        );
    }
    for bad in [
        "",
        "* * * *",
        "61 * * * *",
        "* * * * 8",
        "@sometimes",
        "a b c d e",
    ] {
        assert!(parse_cron(bad).is_err(), "{bad}");
    }
}

#[test]
fn cron_weekdays_follow_cron_numbering() {
    use chrono::{Datelike, TimeZone, Utc};
    let after = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
    let next_weekday = |expression: &str| {
        let schedule = parse_cron(expression).ok()?;
        let next = schedule.after(&after?).next()?;
        Some(next.weekday())
    };
    assert_eq!(next_weekday("0 3 * * 0"), Some(chrono::Weekday::Sun));
    assert_eq!(next_weekday("0 3 * * 7"), Some(chrono::Weekday::Sun));
    assert_eq!(next_weekday("0 3 * * 3"), Some(chrono::Weekday::Wed));
}

#[test]
fn valid_periodic_job_is_clean() {
    assert_eq!(
        messages(&periodic_job(&["0 3 * * *"], "Europe/Paris")),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(&periodic_job(&["@daily"], "UTC")),
        Vec::<String>::new()
    );
    let mut job = job_of_type(JobType::Sysbatch);
    job.spec.periodic = Some(Periodic {
        crons: vec!["0 */6 * * *".into()],
        ..Periodic::default()
    });
    assert_eq!(messages(&job), Vec::<String>::new());
}

#[test]
fn invalid_crons_and_time_zone() {
    let job = periodic_job(&["0 3 * *", "61 * * * *"], "Europe/Pariss");
    let got = messages(&job);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0],
        format!("error: {JOB} periodic: crons[0] \"0 3 * *\" is not a valid cron expression: it has 4 fields, not 5 (minute hour day-of-month month day-of-week); write e.g. \"*/15 * * * *\" or \"@daily\"")
    );
    assert_eq!(
        got[1],
        format!("error: {JOB} periodic: crons[1] \"61 * * * *\" is not a valid cron expression: Minutes must be less than 59. ('61' specified.); write e.g. \"*/15 * * * *\" or \"@daily\"")
    );
    assert_eq!(
        got[2],
        format!("error: {JOB} periodic: time_zone \"Europe/Pariss\" is not a known time zone (did you mean \"Europe/Paris\"?); use an IANA name such as \"UTC\" or \"America/New_York\"")
    );
    assert_eq!(
        messages(&periodic_job(&[], "")),
        [format!(
            "error: {JOB} periodic: no cron expression; set cron, e.g. \"0 3 * * *\""
        )]
    );
}

#[test]
fn periodic_and_parameterized_only_on_batch_types() {
    let mut job = job_of_type(JobType::Service);
    job.spec.periodic = Some(Periodic {
        crons: vec!["@daily".into()],
        ..Periodic::default()
    });
    job.spec.parameterized = Some(Parameterized::default());
    assert_eq!(
        messages(&job),
        [
            format!("error: {JOB} periodic: periodic is only allowed in batch and sysbatch jobs (this job is \"service\"); set type to \"batch\" or remove periodic"),
            format!("error: {JOB} parameterized: parameterized is only allowed in batch and sysbatch jobs (this job is \"service\"); set type to \"batch\" or remove parameterized"),
        ]
    );
}

#[test]
fn parameterized_payload_and_meta() {
    let mut job = job_of_type(JobType::Batch);
    job.spec.parameterized = Some(Parameterized {
        payload: "mandatory".into(),
        meta_required: vec!["customer".into(), "region".into()],
        meta_optional: vec!["region".into()],
    });
    assert_eq!(
        messages(&job),
        [
            format!("error: {JOB} parameterized: payload \"mandatory\" is not valid; use one of: \"optional\", \"required\", \"forbidden\""),
            format!("error: {JOB} parameterized: meta key \"region\" is both required and optional; keep it in meta_required or meta_optional, not both"),
        ]
    );
}

#[test]
fn dispatch_payload() {
    let at = format!("error: {TASK} dispatch_payload");
    let mut job = job_of_type(JobType::Batch);
    task(&mut job).dispatch_payload = Some(DispatchPayload {
        file: "input.json".into(),
    });
    assert_eq!(
        messages(&job),
        [format!("{at}: dispatch_payload is only used by parameterized jobs; add a parameterized block or remove dispatch_payload")]
    );
    job.spec.parameterized = Some(Parameterized::default());
    assert_eq!(messages(&job), Vec::<String>::new());
    for file in ["/etc/passwd", "../x", "a/../../b"] {
        task(&mut job).dispatch_payload = Some(DispatchPayload { file: file.into() });
        assert_eq!(
            messages(&job),
            [format!("{at}: file {file:?} must be a relative path inside the task's local/ directory (no leading \"/\" and no \"..\")")]
        );
    }
    task(&mut job).dispatch_payload = Some(DispatchPayload::default());
    job.spec.parameterized = Some(Parameterized {
        payload: "forbidden".into(),
        ..Parameterized::default()
    });
    assert_eq!(
        messages(&job),
        [
            format!("{at}: the job's parameterized payload is \"forbidden\", so there is no payload to write; remove dispatch_payload or allow a payload"),
            format!("{at}: file is empty; name the file under local/ to write the payload to"),
        ]
    );
}
