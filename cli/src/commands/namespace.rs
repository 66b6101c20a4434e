//! `drover namespace apply|list|describe|delete`: namespaces as objects
//! (`/v1/namespace/…`). A job goes only into one that exists; `default`
//! always does.

use std::process::ExitCode;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create namespace NAME, or change its description.
    Apply {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
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
        Action::Apply { name, description } => {
            rt.block_on(client.apply_namespace(name, description))?;
            println!("Namespace {name:?} applied");
        }
        Action::List => {
            let all = rt.block_on(client.namespaces())?;
            println!("{:<24} {:>5}  DESCRIPTION", "NAME", "JOBS");
            for n in all {
                let note = if n.exists {
                    n.description
                } else {
                    format!("(not created: drover namespace apply {})", n.name)
                };
                println!("{:<24} {:>5}  {note}", n.name, n.jobs);
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
        }
        Action::Delete { name } => {
            rt.block_on(client.delete_namespace(name))?;
            println!("Namespace {name:?} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
