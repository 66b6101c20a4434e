//! The parent part of `drover describe job`: a periodic job's last launch,
//! its result and the next launch, and the children of a periodic or
//! parameterized job (as `nomad job status` shows "Previously Launched
//! Jobs" / "Dispatched Jobs").

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use drover_api::children::ChildrenResponse;
use drover_api_types::Job;

use crate::commands::output::{age, timestamp, timestamp_ago, Style, Table};

/// The sections for a parent `job`, from `GET /v1/job/{name}/children`.
pub fn parent_sections(
    job: &Job,
    answer: &ChildrenResponse,
    style: Style,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    if let (Some(periodic), Some(record)) = (&job.spec.periodic, &answer.periodic) {
        let _ = write!(out, "\n{}\n", style.bold("Periodic"));
        let enabled = periodic.enabled && !job.spec.stop;
        let next = match record.next_launch {
            Some(t) if enabled => format!("{} (in {})", timestamp(Some(t)), age(Some(now), t)),
            _ => "none (disabled or stopped)".to_string(),
        };
        let zone = match periodic.time_zone.as_str() {
            "" => "UTC",
            z => z,
        };
        let rows = [
            ("Cron", format!("{} ({zone})", periodic.crons.join(", "))),
            ("Prohibit Overlap", periodic.prohibit_overlap.to_string()),
            ("Next Launch", next),
            ("Last Launch", timestamp_ago(record.last_launch, now)),
            ("Last Child", or_dash(&record.last_child)),
            ("Last Result", or_dash(&record.last_result)),
            ("Last Success", timestamp_ago(record.last_success, now)),
            ("Skipped Launches", record.skipped.to_string()),
        ];
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<17}= {v}");
        }
    }
    let title = if job.spec.periodic.is_some() {
        "Previously Launched Jobs"
    } else {
        "Dispatched Jobs"
    };
    let _ = write!(out, "\n{}\n", style.bold(title));
    if answer.children.is_empty() {
        out.push_str("None\n");
        return out;
    }
    let mut table = Table::new(&["ID", "Status", "Result", "Launched"]);
    for c in &answer.children {
        table.row(vec![
            c.job_id.clone(),
            style.status(&or_dash(&c.status)),
            or_dash(&c.result),
            timestamp_ago(c.launched, now),
        ]);
    }
    out.push_str(&table.render());
    out
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}
