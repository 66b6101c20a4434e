//! `drover get jobs|allocs|nodes|services|deployments [NAME]`: list objects as a
//! table, or as JSON/YAML for scripts; `-w` re-prints whenever the answer
//! changes (blocking queries on `X-Drover-Index`).

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use drover_api::views::{AllocationView, NodeView};
use drover_api_types::Job;
use serde_json::Value;

use super::client::{runtime, segment, ApiArgs, Client, Indexed};

mod children;
pub use children::Children;
#[path = "get/services.rs"]
mod services;
use super::output::{age, list_or_none, print_machine, short_id, Format, Style, Table};

/// What `drover get` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jobs,
    Allocs,
    Nodes,
    Services,
    Deployments,
}

impl Kind {
    /// Singular, plural and short forms, as kubectl accepts them.
    pub fn parse(s: &str) -> Result<Kind, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "job" | "jobs" => Kind::Jobs,
            "alloc" | "allocs" | "allocation" | "allocations" => Kind::Allocs,
            "node" | "nodes" | "no" => Kind::Nodes,
            "svc" | "service" | "services" => Kind::Services,
            "deploy" | "deployment" | "deployments" => Kind::Deployments,
            _ => {
                return Err(format!(
                    "unknown kind {s:?}; one of: jobs, allocs, nodes, services, deployments"
                ))
            }
        })
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Jobs => "jobs",
            Kind::Allocs => "allocations",
            Kind::Nodes => "nodes",
            Kind::Services => "services",
            Kind::Deployments => "deployments",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// jobs, allocs, nodes, services or deployments (singular and short
    /// forms work too: job, alloc, node, svc, deploy).
    #[arg(value_parser = Kind::parse, value_name = "KIND")]
    pub kind: Kind,
    /// Only this one: a job name, or an allocation or node id (a unique
    /// prefix is enough) or name.
    pub name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// After the first answer, print again whenever it changes (Ctrl-C to stop).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Jobs: also list the children of periodic and parameterized jobs
    /// (hidden by default; their parent's CHILDREN column counts them).
    #[arg(short = 'a', long = "all-children")]
    pub all_children: bool,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let style = Style::detect(args.output);
    runtime()?.block_on(async {
        let mut index: Option<i64> = None;
        loop {
            let answer = fetch(&client, args, index).await?;
            if index != Some(answer.index) {
                if index.is_some() && args.output.is_table() {
                    println!();
                }
                print(args, &client, style, &answer.value)?;
            }
            if !args.watch {
                return Ok(ExitCode::SUCCESS);
            }
            index = Some(answer.index);
        }
    })
}

/// One read of what `args` asks for, blocking past `index` when given.
async fn fetch(
    client: &Client,
    args: &Args,
    index: Option<i64>,
) -> anyhow::Result<Indexed<Vec<Value>>> {
    if args.kind == Kind::Services {
        return services::fetch(client, args.name.as_deref(), args.all_namespaces, index).await;
    }
    let mut query = Vec::new();
    // Allocation ids are unique across namespaces and pasted from any
    // listing, so one is looked up everywhere.
    let by_id = matches!(args.kind, Kind::Allocs | Kind::Deployments) && args.name.is_some();
    if args.all_namespaces || by_id {
        query.push(("namespace", "*".to_string()));
    }
    if let Some(index) = index {
        query.push(("index", index.to_string()));
        query.push(("wait", "5m".to_string()));
    }
    let (many, one) = match args.kind {
        Kind::Jobs => ("/v1/jobs", "/v1/job"),
        Kind::Allocs => ("/v1/allocations", "/v1/allocation"),
        Kind::Deployments => ("/v1/deployments", "/v1/deployment"),
        _ => ("/v1/nodes", "/v1/node"),
    };
    match &args.name {
        None => Ok(client.get(many, &query).await?),
        Some(name) => {
            let answer: Indexed<Value> = client
                .get(&format!("{one}/{}", segment(name)), &query)
                .await?;
            Ok(Indexed {
                index: answer.index,
                value: vec![answer.value],
            })
        }
    }
}

fn print(args: &Args, client: &Client, style: Style, items: &[Value]) -> anyhow::Result<()> {
    if !args.output.is_table() {
        // One object for a name (as kubectl), an array for a list, so a
        // script's shape never depends on how many objects exist.
        // A service's instances are a list whatever their number.
        return match (&args.name, items) {
            (Some(_), [one]) if args.kind != Kind::Services => print_machine(args.output, one),
            _ => print_machine(args.output, &items),
        };
    }
    let wide = args.output == Format::Wide;
    let now = Utc::now();
    let table = match args.kind {
        Kind::Jobs => {
            let jobs = decode::<Job>(items)?;
            let (shown, children) = children::split(jobs, args.all_children || args.name.is_some());
            jobs_table_with_children(&shown, &children, wide, args.all_namespaces, style, now)
        }
        Kind::Allocs => allocs_table(
            &decode::<AllocationView>(items)?,
            wide,
            args.all_namespaces,
            style,
            now,
        ),
        Kind::Services if args.name.is_some() => {
            services::instances_table(items, wide, args.all_namespaces, style)
        }
        Kind::Services => services::services_table(items, wide, args.all_namespaces),
        Kind::Deployments => super::deployment::render::deployments_table(
            &decode(items)?,
            wide,
            args.all_namespaces,
            style,
            now,
        ),
        _ => nodes_table(&decode::<NodeView>(items)?, wide, style, now),
    };
    if table.is_empty() {
        let scope = if args.all_namespaces || args.kind == Kind::Nodes {
            String::new()
        } else {
            format!(" in namespace {:?}", client.namespace())
        };
        eprintln!("No {} found{scope}.", args.kind.plural());
    } else {
        print!("{}", table.render());
    }
    Ok(())
}

pub fn decode<T: serde::de::DeserializeOwned>(items: &[Value]) -> anyhow::Result<Vec<T>> {
    items
        .iter()
        .map(|v| serde_json::from_value(v.clone()).context("decoding the server's answer"))
        .collect()
}

fn with_namespace(mut headers: Vec<&'static str>, all: bool) -> Vec<&'static str> {
    if all {
        headers.insert(0, "NAMESPACE");
    }
    headers
}

/// A job's status word: the controller's, or `pending` before it has one.
pub fn job_status(job: &Job) -> String {
    match &job.status {
        Some(s) if !s.status.is_empty() => s.status.clone(),
        _ if job.spec.stop => "dead".to_string(),
        _ => "pending".to_string(),
    }
}

/// Running allocations over the count asked for, all groups together.
pub fn running_of_desired(job: &Job) -> String {
    let desired: i64 = job.spec.groups.iter().map(|g| g.count.max(0)).sum();
    let running: u64 = job
        .status
        .as_ref()
        .map(|s| s.summary.values().map(|g| g.running).sum())
        .unwrap_or(0);
    format!("{running}/{desired}")
}

/// The jobs table without a CHILDREN column (the tests' shorthand).
#[cfg(test)]
pub fn jobs_table(jobs: &[Job], wide: bool, all: bool, style: Style, now: DateTime<Utc>) -> Table {
    jobs_table_with_children(jobs, &Children::new(), wide, all, style, now)
}

/// The jobs table; with a CHILDREN column (live/all) when `children`
/// counts any.
pub fn jobs_table_with_children(
    jobs: &[Job],
    children: &Children,
    wide: bool,
    all: bool,
    style: Style,
    now: DateTime<Utc>,
) -> Table {
    let mut headers = vec![
        "NAME", "TYPE", "STATUS", "VERSION", "GROUPS", "RUNNING", "AGE",
    ];
    let with_children = !children.is_empty();
    if with_children {
        headers.push("CHILDREN");
    }
    if wide {
        headers.extend(["PRIORITY", "DATACENTERS", "STOPPED"]);
    }
    let mut table = Table::new(&with_namespace(headers, all));
    for job in jobs {
        let mut row = Vec::new();
        if all {
            row.push(job.metadata.namespace.clone());
        }
        row.extend([
            job.metadata.name.clone(),
            job.spec.job_type.as_str().to_string(),
            style.status(&job_status(job)),
            job.metadata.version.to_string(),
            job.spec.groups.len().to_string(),
            running_of_desired(job),
            age(job.metadata.creation_timestamp, now),
        ]);
        if with_children {
            row.push(children::cell(children, job));
        }
        if wide {
            row.extend([
                job.spec.priority.to_string(),
                list_or_none(&job.spec.datacenters),
                job.spec.stop.to_string(),
            ]);
        }
        table.row(row);
    }
    table
}

/// A status enum's wire word (`running`, `stop`, `ready`, …).
pub fn word<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The node an allocation is on (name, else short id), `<none>` before placement.
pub fn alloc_node(a: &AllocationView) -> String {
    match (&a.node_name, &a.node_id) {
        (Some(name), _) if !name.is_empty() => name.clone(),
        (_, Some(id)) => short_id(id).to_string(),
        _ => "<none>".to_string(),
    }
}

pub fn allocs_table(
    allocs: &[AllocationView],
    wide: bool,
    all: bool,
    style: Style,
    now: DateTime<Utc>,
) -> Table {
    let mut headers = vec!["ID", "NAME", "NODE", "DESIRED", "STATUS", "VERSION", "AGE"];
    if wide {
        headers.extend(["JOB", "GROUP", "NODE ID", "PORTS", "HEALTHY", "MODIFIED"]);
    }
    let mut table = Table::new(&with_namespace(headers, all));
    let mut sorted: Vec<&AllocationView> = allocs.iter().collect();
    sorted.sort_by(|a, b| (&a.name, a.create_time).cmp(&(&b.name, b.create_time)));
    for a in sorted {
        let mut row = Vec::new();
        if all {
            row.push(a.namespace.clone());
        }
        row.extend([
            short_id(&a.id).to_string(),
            a.name.clone(),
            alloc_node(a),
            word(a.desired_status),
            style.status(&word(a.client_status)),
            a.job_version.to_string(),
            age(a.create_time, now),
        ]);
        if wide {
            let ports: Vec<String> = a
                .ports
                .iter()
                .map(|(label, p)| format!("{label}={}", p.value))
                .collect();
            let healthy = match a.healthy {
                Some(h) => h.to_string(),
                None => "-".to_string(),
            };
            row.extend([
                a.job.clone(),
                a.group.clone(),
                short_id(a.node_id.as_deref().unwrap_or("<none>")).to_string(),
                list_or_none(&ports),
                healthy,
                age(a.modify_time, now),
            ]);
        }
        table.row(row);
    }
    table
}

pub fn eligibility(n: &NodeView) -> &'static str {
    if n.eligible {
        "eligible"
    } else {
        "ineligible"
    }
}

pub fn nodes_table(nodes: &[NodeView], wide: bool, style: Style, now: DateTime<Utc>) -> Table {
    let mut headers = vec![
        "ID",
        "NAME",
        "DC",
        "CLASS",
        "ADDRESS",
        "STATUS",
        "ELIGIBILITY",
        "DRAIN",
        "ALLOCS",
        "AGE",
    ];
    if wide {
        headers.extend(["POOL", "CPU", "MEMORY", "DRIVERS", "VERSION"]);
    }
    let mut table = Table::new(&headers);
    let mut sorted: Vec<&NodeView> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for n in sorted {
        let class = match n.node_class.as_str() {
            "" => "<none>".to_string(),
            c => c.to_string(),
        };
        let mut row = vec![
            short_id(&n.id).to_string(),
            n.name.clone(),
            n.datacenter.clone(),
            class,
            n.address.clone(),
            style.status(&word(n.status)),
            style.status(eligibility(n)),
            n.drain.is_some().to_string(),
            n.allocations.to_string(),
            age(n.create_time, now),
        ];
        if wide {
            let drivers: Vec<String> = n
                .drivers
                .iter()
                .map(|(name, healthy)| match healthy {
                    true => name.clone(),
                    false => format!("{name}(unhealthy)"),
                })
                .collect();
            row.extend([
                n.node_pool.clone(),
                format!("{}/{}MHz", n.allocated.cpu, n.resources.cpu),
                format!("{}/{}MB", n.allocated.memory, n.resources.memory),
                list_or_none(&drivers),
                n.agent_version.clone(),
            ]);
        }
        table.row(row);
    }
    table
}

#[cfg(test)]
#[path = "get/tests.rs"]
mod tests;
