//! `drover namespace apply|list|describe|delete`: namespaces as objects
//! (`/v1/namespace/…`). A job goes only into one that exists; `default`
//! always does.

use std::process::ExitCode;

use drover_api::namespaces::NamespaceRequest;
use drover_api_types::namespace::Quota;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create namespace NAME, or change its description or quota (what
    /// is not given keeps its value).
    Apply {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// What the namespace's live allocations may reserve together:
        /// cpu=MHz,memory=MB,allocs=N (any of them); `none` removes it.
        #[arg(long, value_parser = Quota::parse)]
        quota: Option<Quota>,
    },
    /// Every namespace with its job count.
    List,
    /// One namespace.
    Describe { name: String },
    /// Delete NAME (refused while jobs live in it).
    Delete { name: String },
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let rt = runtime()?;
    match &args.action {
        Action::Apply {
            name,
            description,
            quota,
        } => {
            let request = NamespaceRequest {
                description: description.clone(),
                quota: *quota,
            };
            rt.block_on(client.apply_namespace(name, &request))?;
            println!("Namespace {name:?} applied");
        }
        Action::List => {
            let all = rt.block_on(client.namespaces())?;
            println!("{:<24} {:>5}  {:<32} DESCRIPTION", "NAME", "JOBS", "QUOTA");
            for n in all {
                let note = if n.exists {
                    n.description
                } else {
                    format!("(not created: drover namespace apply {})", n.name)
                };
                let quota = n.quota.unwrap_or_default().to_string();
                println!("{:<24} {:>5}  {quota:<32} {note}", n.name, n.jobs);
            }
        }
        Action::Describe { name } => {
            let n = rt.block_on(client.namespace_view(name))?;
            println!("Name        = {}", n.name);
            println!("Description = {}", n.description);
            println!("Jobs        = {}", n.jobs);
            if !n.exists {
                println!("Created     = no: jobs name it; drover namespace apply {name} makes it a namespace");
            }
            let used = n.used.unwrap_or_default();
            match n.quota {
                Some(quota) => {
                    println!("Quota       = {quota}");
                    println!("\nQuota Usage (live allocations / limit)");
                    for line in quota.describe(&used) {
                        println!("  {line}");
                    }
                }
                None => {
                    println!("Quota       = none");
                    let no_limit = Quota::default().describe(&used);
                    println!("Used        = {}", no_limit.join(", "));
                }
            }
        }
        Action::Delete { name } => {
            rt.block_on(client.delete_namespace(name))?;
            println!("Namespace {name:?} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
