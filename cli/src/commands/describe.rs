//! `drover describe job|alloc|node|deployment NAME`: one object in detail, as `nomad
//! status` / `nomad alloc status` / `nomad node status` show it. The
//! pages are built from the API objects by pure functions (tested below);
//! `run` only fetches.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use drover_api::deployments::DeploymentView;
use drover_api::views::{AllocationView, NodeDetail};
use drover_api_types::alloc::TaskRunState;
use drover_api_types::Job;

mod children;

use super::client::{runtime, ApiArgs, Client};
use super::deployment::render::{deployment_page, latest_section};
use super::get::{alloc_node, eligibility, job_status, word, Kind};
use super::output::{age, fields, short_id, timestamp, timestamp_ago, Format, Style, Table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// job, alloc or node.
    #[arg(value_parser = Kind::parse, value_name = "KIND")]
    pub kind: Kind,
    /// The job's name, or the allocation's or node's id (a unique prefix
    /// is enough) or name.
    pub name: String,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let style = Style::detect(Format::Table);
    let name = &args.name;
    let page = runtime()?.block_on(async {
        let now = Utc::now();
        match args.kind {
            Kind::Jobs => {
                let job = client.job(name).await?;
                let client = client.for_job(&job.value);
                let allocs = client.job_allocations(&job.value.metadata.name).await?;
                let latest = client.latest_deployment(name).await.ok();
                let latest = latest.and_then(|l| l.value);
                let mut page = job_page(&job.value, &allocs.value, latest.as_ref(), style, now);
                if job.value.spec.is_parent() {
                    let children = client.children(name).await?;
                    page.push_str(&children::parent_sections(
                        &job.value,
                        &children.value,
                        style,
                        now,
                    ));
                }
                Ok(page)
            }
            Kind::Allocs => {
                let alloc = client.allocation(name).await?;
                let job = alloc_job(&client, &alloc.value).await;
                Ok(alloc_page(&alloc.value, job.as_ref(), style, now))
            }
            Kind::Nodes => {
                let node = client.node(name).await?;
                Ok(node_page(&node.value, style, now))
            }
            Kind::Deployments => {
                let d = client.deployment(name).await?;
                Ok(deployment_page(&d.value, style))
            }
            other => anyhow::bail!(
                "drover describe {}: describe a job, alloc, node or deployment; \
                 `drover get {}` lists them",
                other.plural(),
                other.plural()
            ),
        }
    })?;
    print!("{page}");
    Ok(ExitCode::SUCCESS)
}

/// The job version the allocation runs (for its tasks' resources), else
/// the current job; `None` when the job is gone.
async fn alloc_job(client: &Client, alloc: &AllocationView) -> Option<Job> {
    let client = client.in_namespace(&alloc.namespace);
    let versions = client.versions(&alloc.job, false).await.ok();
    let exact = versions.and_then(|v| {
        v.value
            .versions
            .into_iter()
            .find(|v| v.version == alloc.job_version)
    });
    match exact {
        Some(v) => Some(v.job),
        None => client.job(&alloc.job).await.ok().map(|j| j.value),
    }
}

fn section(out: &mut String, style: Style, title: &str) {
    let _ = write!(out, "\n{}\n", style.bold(title));
}

fn allocs_section(out: &mut String, allocs: &[AllocationView], style: Style, now: DateTime<Utc>) {
    section(out, style, "Allocations");
    if allocs.is_empty() {
        out.push_str("No allocations placed\n");
        return;
    }
    let mut table = Table::new(&[
        "ID",
        "Node",
        "Task Group",
        "Version",
        "Desired",
        "Status",
        "Created",
    ]);
    let mut sorted: Vec<&AllocationView> = allocs.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.create_time));
    for a in sorted {
        table.row(vec![
            short_id(&a.id).to_string(),
            alloc_node(a),
            a.group.clone(),
            a.job_version.to_string(),
            word(a.desired_status),
            style.status(&word(a.client_status)),
            format!("{} ago", age(a.create_time, now)),
        ]);
    }
    out.push_str(&table.render());
}

/// `drover describe job`.
pub fn job_page(
    job: &Job,
    allocs: &[AllocationView],
    latest: Option<&DeploymentView>,
    style: Style,
    now: DateTime<Utc>,
) -> String {
    let spec = &job.spec;
    let mut out = fields(&[
        ("ID", job.metadata.name.clone()),
        (
            "Name",
            spec.display_name
                .clone()
                .unwrap_or(job.metadata.name.clone()),
        ),
        ("Namespace", job.metadata.namespace.clone()),
        ("Type", spec.job_type.as_str().to_string()),
        ("Priority", spec.priority.to_string()),
        ("Datacenters", spec.datacenters.join(",")),
        ("Node Pool", spec.node_pool.clone()),
        ("Status", style.status(&job_status(job))),
        ("Version", job.metadata.version.to_string()),
        ("Stop", spec.stop.to_string()),
        (
            "Submitted",
            timestamp_ago(
                job.metadata.submit_time.or(job.metadata.creation_timestamp),
                now,
            ),
        ),
    ]);
    let status = job.status.clone().unwrap_or_default();
    if !status.status_description.is_empty() {
        let _ = writeln!(out, "Description = {}", status.status_description);
    }
    section(&mut out, style, "Summary");
    let mut table = Table::new(&[
        "Task Group",
        "Queued",
        "Starting",
        "Running",
        "Failed",
        "Complete",
        "Lost",
        "Unknown",
    ]);
    for group in &spec.groups {
        let s = status.summary.get(&group.name).cloned().unwrap_or_default();
        table.row(
            [
                group.name.clone(),
                s.queued.to_string(),
                s.starting.to_string(),
                s.running.to_string(),
                s.failed.to_string(),
                s.complete.to_string(),
                s.lost.to_string(),
                s.unknown.to_string(),
            ]
            .into(),
        );
    }
    out.push_str(&table.render());
    if !status.placement_failures.is_empty() {
        section(&mut out, style, "Placement Failure");
        for (group, f) in &status.placement_failures {
            let _ = writeln!(out, "Task Group {group:?} ({} unplaced):", f.queued);
            // A quota holds allocations back before any node is tried.
            if f.nodes_evaluated > 0 || f.quota_exhausted.is_none() {
                let _ = writeln!(out, "  * {} nodes evaluated", f.nodes_evaluated);
            }
            for (reason, n) in &f.nodes_filtered {
                let _ = writeln!(
                    out,
                    "  * Constraint \"{reason}\": {n} nodes excluded by filter"
                );
            }
            for (dimension, n) in &f.dimensions_exhausted {
                let _ = writeln!(out, "  * Resources exhausted on {n} nodes: {dimension}");
            }
            if let Some(quota) = &f.quota_exhausted {
                let _ = writeln!(out, "  * {}", capitalised(quota));
            } else if f.nodes_evaluated == 0 {
                out.push_str("  * No nodes were eligible for evaluation (none ready and eligible in the job's datacenters and node pool)\n");
            }
        }
    }
    out.push_str(&latest_section(latest, style));
    allocs_section(&mut out, allocs, style, now);
    out
}

/// `quota web exhausted…` → `Quota web exhausted…`.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `drover describe alloc`; `job` gives the tasks' resources.
pub fn alloc_page(
    a: &AllocationView,
    job: Option<&Job>,
    style: Style,
    now: DateTime<Utc>,
) -> String {
    let or_none = |s: &str| match s {
        "" => "<none>".to_string(),
        s => s.to_string(),
    };
    let mut pairs = vec![
        ("ID", a.id.clone()),
        ("Name", a.name.clone()),
        ("Namespace", a.namespace.clone()),
        (
            "Node ID",
            short_id(a.node_id.as_deref().unwrap_or("<none>")).to_string(),
        ),
        ("Node Name", alloc_node(a)),
        ("Job ID", a.job.clone()),
        ("Job Version", a.job_version.to_string()),
        ("Task Group", a.group.clone()),
        ("Client Status", style.status(&word(a.client_status))),
        ("Client Description", or_none(&a.client_description)),
        ("Desired Status", word(a.desired_status)),
        ("Desired Description", or_none(&a.desired_description)),
        ("Created", timestamp_ago(a.create_time, now)),
        ("Modified", timestamp_ago(a.modify_time, now)),
    ];
    if let Some(healthy) = a.healthy {
        pairs.push(("Healthy", healthy.to_string()));
    }
    if let Some(prev) = &a.previous_allocation {
        pairs.push(("Replaces", short_id(prev).to_string()));
    }
    let ports: Vec<String> = a
        .ports
        .iter()
        .map(|(label, p)| format!("{label}={}:{}", p.host_ip, p.value))
        .collect();
    if !ports.is_empty() {
        pairs.push(("Ports", ports.join(", ")));
    }
    let mut out = fields(&pairs);
    let group = job.and_then(|j| j.spec.groups.iter().find(|g| g.name == a.group));
    if let (Some(j), true) = (job, group.is_some()) {
        if j.metadata.version != a.job_version {
            let _ = writeln!(
                out,
                "(resources below are from job version {}, the allocation runs version {})",
                j.metadata.version, a.job_version
            );
        }
    }
    let mut names: Vec<String> = a.task_states.keys().cloned().collect();
    for t in group.map(|g| g.tasks.as_slice()).unwrap_or_default() {
        if !names.contains(&t.name) {
            names.push(t.name.clone());
        }
    }
    for name in names {
        let state = a.task_states.get(&name).cloned().unwrap_or_default();
        let task = group.and_then(|g| g.tasks.iter().find(|t| t.name == name));
        let word = match (state.state, state.failed) {
            (TaskRunState::Dead, true) => "dead (failed)",
            (s, _) => s.as_str(),
        };
        section(&mut out, style, &format!("Task {name:?} is {word:?}"));
        let mut task_fields = vec![
            ("Restarts", state.restarts.to_string()),
            ("Started", timestamp_ago(state.started_at, now)),
            ("Finished", timestamp_ago(state.finished_at, now)),
        ];
        if let Some(t) = task {
            task_fields.push(("Driver", t.driver.clone()));
            task_fields.push(("CPU", format!("{} MHz", t.resources.cpu)));
            let memory = match t.resources.memory_max {
                Some(max) if max > t.resources.memory => {
                    format!("{} MiB (max {max} MiB)", t.resources.memory)
                }
                _ => format!("{} MiB", t.resources.memory),
            };
            task_fields.push(("Memory", memory));
        }
        out.push_str(&fields(&task_fields));
        out.push_str("\nRecent Events:\n");
        let mut events = Table::new(&["Time", "Type", "Description"]);
        for e in state.events.iter().rev().take(10) {
            let mut message = e.message.clone();
            if let (Some(code), false) = (e.exit_code, message.contains("xit code")) {
                message = format!("{message} (exit code {code})")
                    .trim_start()
                    .to_string();
            }
            events.row(vec![timestamp(e.time), e.event_type.clone(), message]);
        }
        out.push_str(&events.render());
    }
    out
}

fn map_fields(map: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<(&str, String)> = map.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    fields(&pairs)
}

/// `drover describe node`.
pub fn node_page(detail: &NodeDetail, style: Style, now: DateTime<Utc>) -> String {
    let n = &detail.node;
    let drain = match &n.drain {
        None => "false".to_string(),
        Some(d) => format!(
            "true (deadline {}, started {}{})",
            d.deadline,
            timestamp_ago(d.started_at, now),
            if d.ignore_system_jobs {
                ", system jobs stay"
            } else {
                ""
            }
        ),
    };
    let drivers: Vec<String> = n
        .drivers
        .iter()
        .map(|(name, healthy)| match healthy {
            true => name.clone(),
            false => format!("{name} (unhealthy)"),
        })
        .collect();
    let or_none = |s: &str| match s {
        "" => "<none>".to_string(),
        s => s.to_string(),
    };
    let mut out = fields(&[
        ("ID", n.id.clone()),
        ("Name", n.name.clone()),
        ("Class", or_none(&n.node_class)),
        ("DC", n.datacenter.clone()),
        ("Node Pool", n.node_pool.clone()),
        ("Drain", drain),
        ("Eligibility", style.status(eligibility(n))),
        ("Status", style.status(&word(n.status))),
        ("Status Description", or_none(&n.status_description)),
        (
            "Heartbeat",
            if n.heartbeat { "ok" } else { "missing" }.to_string(),
        ),
        ("Address", n.address.clone()),
        (
            "HTTP Address",
            match (n.http_addr.as_str(), n.http_tls) {
                ("", _) => "<none>".to_string(),
                (addr, true) => format!("https://{addr}"),
                (addr, false) => addr.to_string(),
            },
        ),
        ("Agent Version", n.agent_version.clone()),
        ("Drivers", drivers.join(", ")),
        ("Registered", timestamp_ago(n.create_time, now)),
        ("Last Transition", timestamp_ago(n.last_transition, now)),
    ]);
    section(&mut out, style, "Allocated Resources");
    let mut table = Table::new(&["CPU", "Memory"]);
    table.row(vec![
        format!("{}/{} MHz", n.allocated.cpu, n.resources.cpu),
        format!("{}/{} MiB", n.allocated.memory, n.resources.memory),
    ]);
    out.push_str(&table.render());
    allocs_section(&mut out, &detail.allocation_list, style, now);
    section(&mut out, style, "Attributes");
    out.push_str(&map_fields(&detail.attributes));
    if !detail.meta.is_empty() {
        section(&mut out, style, "Meta");
        out.push_str(&map_fields(&detail.meta));
    }
    section(&mut out, style, "Events");
    let mut events = Table::new(&["Time", "Subsystem", "Message"]);
    for e in detail.events.iter().rev().take(10) {
        events.row(vec![
            timestamp(e.time),
            e.subsystem.clone(),
            e.message.clone(),
        ]);
    }
    out.push_str(&events.render());
    out
}

#[cfg(test)]
#[path = "describe/tests.rs"]
mod tests;
