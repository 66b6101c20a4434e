//! The command-line surface: one module per command.

mod agent;
mod apply;
mod bench;
mod client;
mod cluster_args;
mod completion;
mod delete;
mod deployment;
mod describe;
mod dev;
mod dispatch;
mod get;
mod history;
mod init;
mod inspect;
mod jobfile;
mod kv;
mod local_etcd;
mod logs;
mod metrics;
mod node;
mod output;
mod periodic;
mod plan;
mod scale;
mod server;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// drover: a workload orchestrator. Nomad job files in, containers out;
/// all state in etcd.
#[derive(Debug, Parser)]
#[command(name = "drover", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register the jobs in files (Nomad HCL or YAML) and follow them.
    Apply(apply::Args),
    /// Show what applying a job file would change.
    Plan(plan::Args),
    /// List jobs, allocations, nodes, services or deployments.
    Get(get::Args),
    /// Show one job, allocation, node or deployment in detail.
    Describe(describe::Args),
    /// Stop (and with --purge, remove) a job.
    Delete(delete::Args),
    /// Drain a node or set its eligibility.
    Node(node::Args),
    /// Deployments: list, status, promote, fail, pause, resume, health.
    Deployment(deployment::Args),
    /// A job's versions, stability and (with -p) changes.
    History(history::Args),
    /// Run an older version of a job again (as a new version).
    Revert(history::RevertArgs),
    /// Set a task group's count.
    Scale(scale::Args),
    /// Write an example job file.
    Init(init::Args),
    /// Print a shell completion script.
    Completion(completion::Args),
    /// Run etcd, a server and an agent on this machine.
    Dev(dev::Args),
    /// Check job files (Nomad HCL or YAML) without submitting them.
    Validate(validate::Args),
    /// Print the job a file describes, with every default filled in.
    Inspect(inspect::Args),
    /// Run the controllers against etcd (one server leads, others stand by).
    Server(server::Args),
    /// Make this machine a node on the local Docker (or `--simulate N` nodes).
    Agent(agent::Args),
    /// The Consul-compatible KV store: get, put, delete, list.
    Kv(kv::Args),
    /// Stream a task's output (`drover logs ALLOC [TASK] [-f] [--stderr] [--tail N]`).
    Logs(logs::Args),
    /// Benchmarks with real parts (`drover bench schedule`, `drover bench agent`).
    Bench(bench::Args),
    /// Run a parameterized job once: `drover dispatch JOB [--meta K=V]... [FILE|-]`.
    Dispatch(dispatch::Args),
    /// Periodic jobs: `drover periodic force JOB` launches one now.
    Periodic(periodic::Args),
    /// Print the version.
    Version,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Apply(args) => apply::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Get(args) => get::run(&args),
        Command::Describe(args) => describe::run(&args),
        Command::Delete(args) => delete::run(&args),
        Command::Node(args) => node::run(&args),
        Command::Deployment(args) => deployment::run(&args),
        Command::History(args) => history::run(&args),
        Command::Revert(args) => history::revert(&args),
        Command::Scale(args) => scale::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Completion(args) => completion::run(&args),
        Command::Dev(args) => dev::run(&args),
        Command::Validate(args) => Ok(validate::run(&args)),
        Command::Inspect(args) => inspect::run(&args),
        Command::Server(args) => server::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::Logs(args) => logs::run(&args),
        Command::Kv(args) => kv::run(&args),
        Command::Dispatch(args) => dispatch::run(&args),
        Command::Periodic(args) => periodic::run(&args),
        Command::Version => {
            println!("drover {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
