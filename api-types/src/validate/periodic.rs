//! Periodic and parameterized jobs, and the dispatch payload of their tasks.
//!
//! [`parse_cron`] reads cron expressions the way Nomad does (gorhill's
//! cronexpr: 5, 6 or 7 fields, `@daily`-style descriptors, Sunday as 0 or 7)
//! into a [`cron::Schedule`], so the periodic controller evaluates exactly
//! what validation accepted.

use std::str::FromStr;

use crate::diagnostic::suggestion_suffix;
use crate::job::{Job, JobType};
use crate::task::Task;

use super::Report;

const PAYLOAD_MODES: [&str; 3] = ["optional", "required", "forbidden"];

/// Parses a Nomad cron expression. Five fields are `minute hour
/// day-of-month month day-of-week`; six add a year; seven start with
/// seconds. Day-of-week numbers are cron's (0 or 7 = Sunday).
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, String> {
    let text = expression.trim();
    let normalized = if let Some(descriptor) = text.strip_prefix('@') {
        match descriptor {
            "yearly" | "annually" => "@yearly".to_string(),
            "monthly" => "@monthly".to_string(),
            "weekly" => "@weekly".to_string(),
            "daily" | "midnight" => "@daily".to_string(),
            "hourly" => "@hourly".to_string(),
            _ => {
                return Err(format!(
                    "unknown descriptor {text:?}; use @yearly, @monthly, @weekly, @daily or @hourly"
                ))
            }
        }
    } else {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (seconds, rest, year) = match fields.as_slice() {
            rest if rest.len() == 5 => ("0", rest, "*"),
            [rest @ .., year] if rest.len() == 5 => ("0", rest, *year),
            [seconds, rest @ .., year] if rest.len() == 5 => (*seconds, rest, *year),
            _ => {
                return Err(format!(
                    "it has {} fields, not 5 (minute hour day-of-month month day-of-week)",
                    fields.len()
                ))
            }
        };
        let [minute, hour, day, month, weekday] = rest else {
            return Err("expected 5 fields".into());
        };
        let weekday = cron_weekday(weekday);
        format!("{seconds} {minute} {hour} {day} {month} {weekday} {year}")
    };
    cron::Schedule::from_str(&normalized).map_err(|e| last_line(&e.to_string()))
}

/// The cron crate's errors quote the (normalized) expression with a caret
/// on lines of their own; the reason is the last line.
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(text)
        .to_string()
}

/// Day-of-week numbers from cron's 0–7 (0 and 7 = Sunday) to the `cron`
/// crate's 1–7 (1 = Sunday). Names, `*`, `?` and steps are kept.
fn cron_weekday(field: &str) -> String {
    let shift = |n: &str| match n.parse::<u8>() {
        Ok(7) => "1".to_string(),
        Ok(d) if d < 7 => (d + 1).to_string(),
        _ => n.to_string(),
    };
    let items: Vec<String> = field
        .split(',')
        .map(|item| {
            let (base, step) = match item.split_once('/') {
                Some((base, step)) => (base, Some(step)),
                None => (item, None),
            };
            let base = match base.split_once('-') {
                // 7 ends a range as Saturday-then-Sunday: keep the range to
                // Saturday (7) and add Sunday (1) on its own.
                Some((from, "7")) if step.is_none() => format!("{}-7,1", shift(from)),
                Some((from, "7")) => format!("{}-7", shift(from)),
                Some((from, to)) => format!("{}-{}", shift(from), shift(to)),
                None => shift(base),
            };
            match step {
                Some(step) => format!("{base}/{step}"),
                None => base,
            }
        })
        .collect();
    items.join(",")
}

pub(super) fn validate_periodic(report: &mut Report, job: &Job, path: &str) {
    let job_type = job.spec.job_type;
    if let Some(periodic) = &job.spec.periodic {
        let path = format!("{path} periodic");
        if !job_type.runs_to_completion() {
            report.error(&path, type_problem("periodic", job_type));
        }
        if periodic.crons.is_empty() {
            report.error(&path, "no cron expression; set cron, e.g. \"0 3 * * *\"");
        }
        for (index, expression) in periodic.crons.iter().enumerate() {
            if let Err(problem) = parse_cron(expression) {
                report.error(
                    &path,
                    format!(
                        "crons[{index}] {expression:?} is not a valid cron expression: {problem}; write e.g. \"*/15 * * * *\" or \"@daily\""
                    ),
                );
            }
        }
        if let Some(problem) = time_zone_problem(&periodic.time_zone) {
            report.error(&path, problem);
        }
    }
    if let Some(parameterized) = &job.spec.parameterized {
        let path = format!("{path} parameterized");
        if !job_type.runs_to_completion() {
            report.error(&path, type_problem("parameterized", job_type));
        }
        report.one_of(&path, "payload", &parameterized.payload, &PAYLOAD_MODES);
        for key in &parameterized.meta_required {
            if parameterized.meta_optional.contains(key) {
                report.error(
                    &path,
                    format!("meta key {key:?} is both required and optional; keep it in meta_required or meta_optional, not both"),
                );
            }
        }
    }
}

fn type_problem(block: &str, job_type: JobType) -> String {
    format!(
        "{block} is only allowed in batch and sysbatch jobs (this job is {:?}); set type to \"batch\" or remove {block}",
        job_type.as_str()
    )
}

fn time_zone_problem(zone: &str) -> Option<String> {
    if zone.is_empty() || zone == "Local" || chrono_tz::Tz::from_str(zone).is_ok() {
        return None;
    }
    let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    Some(format!(
        "time_zone {zone:?} is not a known time zone{}; use an IANA name such as \"UTC\" or \"America/New_York\"",
        suggestion_suffix(zone, names)
    ))
}

pub(super) fn validate_dispatch_payload(report: &mut Report, job: &Job, task: &Task, path: &str) {
    let Some(payload) = &task.dispatch_payload else {
        return;
    };
    let path = format!("{path} dispatch_payload");
    match &job.spec.parameterized {
        None => report.error(
            &path,
            "dispatch_payload is only used by parameterized jobs; add a parameterized block or remove dispatch_payload",
        ),
        Some(p) if p.payload == "forbidden" => report.error(
            &path,
            "the job's parameterized payload is \"forbidden\", so there is no payload to write; remove dispatch_payload or allow a payload",
        ),
        Some(_) => {}
    }
    let file = payload.file.as_str();
    if file.trim().is_empty() {
        report.error(
            &path,
            "file is empty; name the file under local/ to write the payload to",
        );
    } else if file.starts_with('/') || file.split(['/', '\\']).any(|part| part == "..") {
        report.error(
            &path,
            format!("file {file:?} must be a relative path inside the task's local/ directory (no leading \"/\" and no \"..\")"),
        );
    }
}

#[cfg(test)]
mod tests;
