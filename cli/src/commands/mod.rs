//! The command-line surface: one module per command.

mod agent;
mod bench;
mod cluster_args;
mod inspect;
mod jobfile;
mod local_etcd;
mod logs;
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
    /// Check job files (Nomad HCL or YAML) without submitting them.
    Validate(validate::Args),
    /// Print the job a file describes, with every default filled in.
    Inspect(inspect::Args),
    /// Run the controllers against etcd (one server leads, others stand by).
    Server(server::Args),
    /// Make this machine a node on the local Docker (or `--simulate N` nodes).
    Agent(agent::Args),
    /// Stream a task's output (`drover logs ALLOC [TASK] [-f] [--stderr] [--tail N]`).
    Logs(logs::Args),
    /// Benchmarks with real parts (`drover bench schedule`, `drover bench agent`).
    Bench(bench::Args),
    /// Print the version.
    Version,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => Ok(validate::run(&args)),
        Command::Inspect(args) => inspect::run(&args),
        Command::Server(args) => server::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::Logs(args) => logs::run(&args),
        Command::Version => {
            println!("drover {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
