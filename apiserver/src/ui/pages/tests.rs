use super::*;

use drover_api_types::job::{GroupSummary, JobStatus, JobType};
use drover_api_types::mock;

fn job_with(name: &str, status: &str, running: u64, count: i64) -> Job {
    let group = mock::group("front", count);
    let mut job = mock::job_of(name, JobType::Service, vec![group]);
    job.status = Some(JobStatus {
        status: status.into(),
        summary: [(
            "front".to_string(),
            GroupSummary {
                running,
                ..GroupSummary::default()
            },
        )]
        .into(),
        ..JobStatus::default()
    });
    job
}

#[test]
fn the_jobs_table_shows_each_job_and_escapes_names() {
    let jobs = [
        job_with("web", "running", 2, 3),
        job_with("<script>", "dead", 0, 1),
    ];
    let html = render_jobs(&jobs).into_string();
    assert!(html.contains("<td>web</td>"), "{html}");
    assert!(html.contains("2/3"), "{html}");
    assert!(html.contains("class=\"status-dead\""), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(render_jobs(&[]).into_string().contains("No jobs"));
}

#[test]
fn the_overview_counts_by_status_and_says_what_it_may_not_show() {
    let data = Overview {
        nodes: Err(CallError {
            status: StatusCode::FORBIDDEN,
            message: "token lacks node read".into(),
        }),
        allocations: Ok(vec![]),
        jobs: Ok(vec![
            job_with("a", "running", 1, 1),
            job_with("b", "running", 1, 1),
            job_with("c", "dead", 0, 1),
        ]),
    };
    let html = render_overview(&data).into_string();
    assert!(html.contains("not shown: token lacks node read"), "{html}");
    assert!(
        html.contains("<dt class=\"status-running\">running</dt><dd>2</dd>"),
        "{html}"
    );
    assert!(html.contains("<dd>1</dd>"), "{html}");
}

#[test]
fn query_values_are_escaped() {
    assert_eq!(url_component("web team/x"), "web%20team%2Fx");
    assert_eq!(url_component("*"), "*");
}
