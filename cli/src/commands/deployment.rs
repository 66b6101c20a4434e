//! `drover deployment list|status|promote|fail|pause|resume|health`: the
//! operator's side of a rollout. ID is a deployment id or a unique id
//! prefix. The levers only record intent (`deployments-admin/`); the
//! deployments controller acts on it, so each prints what was asked and
//! how to watch it happen.

use drover_api::deployment_actions::{AllocHealthRequest, DeploymentUpdateResponse};
use std::process::ExitCode;

use super::client::{runtime, ApiArgs, Client};
use super::get::{self, Kind};
use super::output::{print_machine, short_id, Format, Style};

#[path = "deployment/render.rs"]
pub mod render;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: DeploymentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeploymentCommand {
    /// List deployments, newest first (as `drover get deployments`).
    List(ListArgs),
    /// Show one deployment and its groups' progress.
    Status(StatusArgs),
    /// Promote the canaries (of every group, or of each --group).
    Promote(PromoteArgs),
    /// Fail a running deployment (its job rolls back if auto_revert is set).
    Fail(IdArgs),
    /// Pause a deployment: nothing more is placed until it is resumed.
    Pause(IdArgs),
    /// Resume a paused deployment.
    Resume(IdArgs),
    /// Mark allocations of health_check = "manual" groups healthy or unhealthy.
    Health(HealthArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// Print again whenever the list changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Deployment id or unique id prefix.
    pub id: String,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// Deployment id or unique id prefix.
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// Deployment id or unique id prefix.
    pub id: String,
    /// Only this group's canaries (repeatable); none: every group's.
    #[arg(long = "group", short = 'g')]
    pub groups: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Deployment id or unique id prefix.
    pub id: String,
    /// Allocation ids (or unique prefixes) to mark healthy.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub healthy: Vec<String>,
    /// Allocation ids (or unique prefixes) to mark unhealthy.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub unhealthy: Vec<String>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let lever = match &args.command {
        DeploymentCommand::List(l) => {
            return get::run(
                &get::Args {
                    kind: Kind::Deployments,
                    name: None,
                    output: l.output,
                    all_namespaces: l.all_namespaces,
                    watch: l.watch,
                    all_children: false,
                },
                api,
            )
        }
        DeploymentCommand::Status(s) => return status(&client, s),
        DeploymentCommand::Promote(p) => runtime()?.block_on(client.promote(&p.id, &p.groups)),
        DeploymentCommand::Fail(i) => runtime()?.block_on(client.fail(&i.id)),
        DeploymentCommand::Pause(i) => runtime()?.block_on(client.pause(&i.id, true)),
        DeploymentCommand::Resume(i) => runtime()?.block_on(client.pause(&i.id, false)),
        DeploymentCommand::Health(h) => {
            if h.healthy.is_empty() && h.unhealthy.is_empty() {
                anyhow::bail!("name allocations with --healthy and/or --unhealthy");
            }
            let request = AllocHealthRequest {
                healthy: h.healthy.clone(),
                unhealthy: h.unhealthy.clone(),
            };
            runtime()?.block_on(client.allocation_health(&h.id, &request))
        }
    }?;
    println!("{}", lever_message(&args.command, &lever));
    Ok(ExitCode::SUCCESS)
}

fn status(client: &Client, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let d = runtime()?.block_on(client.deployment(&args.id))?.value;
    if !args.output.is_table() {
        print_machine(args.output, &serde_json::to_value(&d)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        render::deployment_page(&d, Style::detect(args.output))
    );
    Ok(ExitCode::SUCCESS)
}

/// What a lever did, in words (pure).
pub fn lever_message(command: &DeploymentCommand, r: &DeploymentUpdateResponse) -> String {
    let id = short_id(&r.id);
    let what = match command {
        DeploymentCommand::Promote(p) if p.groups.is_empty() => {
            "promotion of every group's canaries requested".to_string()
        }
        DeploymentCommand::Promote(p) => {
            format!("promotion requested for {}", p.groups.join(", "))
        }
        DeploymentCommand::Fail(_) => "marked to fail".to_string(),
        DeploymentCommand::Pause(_) => "paused".to_string(),
        DeploymentCommand::Resume(_) => "resumed".to_string(),
        DeploymentCommand::Health(_) => format!(
            "allocation health recorded ({} marks)",
            r.admin.alloc_health.len()
        ),
        _ => "updated".to_string(),
    };
    format!(
        "deployment {id} in namespace {:?}: {what}; `drover deployment status {id}` follows it",
        r.namespace
    )
}

#[cfg(test)]
#[path = "deployment/tests.rs"]
mod tests;
