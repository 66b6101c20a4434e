//! How deployments print (pure): the `drover get deployments` table, the
//! `drover deployment status` page, and the "Latest Deployment" section
//! of `drover describe job`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use drover_api::deployments::DeploymentView;

use super::super::output::{age, fields, short_id, timestamp, Style, Table};

/// One group's progress: `web 2/3` (healthy of desired), with canaries
/// `web 1/3 canaries 1/1` (placed of desired).
fn group_summary(d: &DeploymentView) -> String {
    let parts: Vec<String> = d
        .spec
        .groups
        .iter()
        .map(|(name, spec)| {
            let status = d.status.groups.get(name).cloned().unwrap_or_default();
            let mut s = format!("{name} {}/{}", status.healthy, spec.desired_total);
            if spec.desired_canaries > 0 {
                let _ = write!(
                    s,
                    " canaries {}/{}",
                    status.placed_canaries.len(),
                    spec.desired_canaries
                );
            }
            s
        })
        .collect();
    match parts.is_empty() {
        true => "<none>".to_string(),
        false => parts.join(", "),
    }
}

/// What an operator asked for that the controller may not have done yet.
fn pending_intent(d: &DeploymentView) -> String {
    let Some(admin) = &d.admin else {
        return "-".to_string();
    };
    let mut words = Vec::new();
    if !admin.promote.is_empty() {
        words.push(format!("promote {}", admin.promote.join(",")));
    }
    if admin.paused {
        words.push("pause".to_string());
    }
    if admin.fail {
        words.push("fail".to_string());
    }
    if !admin.alloc_health.is_empty() {
        words.push(format!("{} health marks", admin.alloc_health.len()));
    }
    match words.is_empty() {
        true => "-".to_string(),
        false => words.join("; "),
    }
}

fn or_dash(s: &str) -> String {
    match s {
        "" => "-".to_string(),
        s => s.to_string(),
    }
}

/// `drover get deployments`.
pub fn deployments_table(
    deployments: &[DeploymentView],
    wide: bool,
    all: bool,
    style: Style,
    now: DateTime<Utc>,
) -> Table {
    let mut headers = vec![
        "ID",
        "JOB",
        "VERSION",
        "STATUS",
        "DESCRIPTION",
        "GROUPS (HEALTHY/DESIRED)",
        "AGE",
    ];
    if all {
        headers.insert(0, "NAMESPACE");
    }
    if wide {
        headers.extend(["REQUESTED", "UPDATED"]);
    }
    let mut table = Table::new(&headers);
    for d in deployments {
        let mut row = Vec::new();
        if all {
            row.push(d.metadata.namespace.clone());
        }
        row.extend([
            short_id(d.id()).to_string(),
            d.spec.job_id.clone(),
            d.spec.job_version.to_string(),
            style.status(d.state().as_str()),
            or_dash(&d.status.description),
            group_summary(d),
            age(d.created(), now),
        ]);
        if wide {
            row.extend([pending_intent(d), age(d.status.updated_at, now)]);
        }
        table.row(row);
    }
    table
}

/// The per-group table Nomad prints under "Deployed".
pub fn groups_table(d: &DeploymentView) -> Table {
    let canaries = d.spec.groups.values().any(|g| g.desired_canaries > 0);
    let mut headers = vec!["Task Group", "Auto Revert"];
    if canaries {
        headers.push("Promoted");
    }
    headers.push("Desired");
    if canaries {
        headers.push("Canaries");
    }
    headers.extend(["Placed", "Healthy", "Unhealthy", "Progress Deadline"]);
    let mut table = Table::new(&headers);
    for (name, spec) in &d.spec.groups {
        let s = d.status.groups.get(name).cloned().unwrap_or_default();
        let mut row = vec![name.clone(), spec.auto_revert.to_string()];
        if canaries {
            let promoted = match spec.desired_canaries {
                0 => "N/A".to_string(),
                _ => s.promoted.to_string(),
            };
            row.push(promoted);
        }
        row.push(spec.desired_total.to_string());
        if canaries {
            row.push(spec.desired_canaries.to_string());
        }
        row.extend([
            s.placed.to_string(),
            s.healthy.to_string(),
            s.unhealthy.to_string(),
            timestamp(s.require_progress_by),
        ]);
        table.row(row);
    }
    table
}

/// The deployment's fields, then its groups (`drover deployment status`
/// and the job page's "Latest Deployment").
pub fn deployment_fields(d: &DeploymentView, style: Style, full_id: bool) -> String {
    let id = match full_id {
        true => d.id().to_string(),
        false => short_id(d.id()).to_string(),
    };
    let mut pairs = vec![("ID", id)];
    if full_id {
        pairs.extend([
            ("Job ID", d.spec.job_id.clone()),
            ("Job Version", d.spec.job_version.to_string()),
            ("Namespace", d.metadata.namespace.clone()),
            ("Created", timestamp(d.created())),
        ]);
    }
    pairs.extend([
        ("Status", style.status(d.state().as_str())),
        ("Description", or_dash(&d.status.description)),
    ]);
    if let Some(v) = d.status.reverted_to {
        pairs.push(("Reverted To", format!("version {v}")));
    }
    let intent = pending_intent(d);
    if intent != "-" {
        pairs.push(("Requested", intent));
    }
    let mut out = fields(&pairs);
    let _ = write!(out, "\n{}\n", style.bold("Deployed"));
    out.push_str(&groups_table(d).render());
    out
}

/// `drover deployment status ID`.
pub fn deployment_page(d: &DeploymentView, style: Style) -> String {
    deployment_fields(d, style, true)
}

/// The "Latest Deployment" section of `drover describe job`.
pub fn latest_section(d: Option<&DeploymentView>, style: Style) -> String {
    let Some(d) = d else {
        return String::new();
    };
    format!(
        "\n{}\n{}",
        style.bold("Latest Deployment"),
        deployment_fields(d, style, false)
    )
}
