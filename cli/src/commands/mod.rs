//! The command-line surface: one module per command.

mod acl;
mod agent;
mod agent_join;
mod alloc;
mod apply;
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
mod namespace;
mod node;
mod operator;
mod output;
mod periodic;
mod plan;
mod scale;
mod server;
mod tls;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// drover: a workload orchestrator. Nomad job files in, containers out;
/// all state in etcd.
#[derive(Debug, Parser)]
#[command(name = "drover", version, propagate_version = true)]
pub struct Cli {
    /// Where the API is and which namespace: accepted before the
    /// subcommand (`drover --addr URL apply …`) as after it.
    #[command(flatten)]
    api: client::ApiArgs,
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
    /// Allocations: `alloc exec ALLOC [TASK] -- CMD...` runs a command in a task;
    /// `alloc restart ALLOC [TASK]` restarts running tasks in place.
    Alloc(alloc::Args),
    /// Run a parameterized job once: `drover dispatch JOB [--meta K=V]... [FILE|-]`.
    Dispatch(dispatch::Args),
    /// Periodic jobs: `drover periodic force JOB` launches one now.
    Periodic(periodic::Args),
    /// Namespaces: apply, list, describe, delete.
    Namespace(namespace::Args),
    /// ACLs: bootstrap, policies, tokens.
    Acl(acl::Args),
    /// A CA and certificates for TLS: `tls ca create`, `tls cert create --server`.
    Tls(tls::Args),
    /// Cluster-wide settings: the metrics scrape token.
    Operator(operator::Args),
    /// Print the version.
    Version,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Apply(args) => apply::run(&args, &cli.api),
        Command::Plan(args) => plan::run(&args, &cli.api),
        Command::Get(args) => get::run(&args, &cli.api),
        Command::Describe(args) => describe::run(&args, &cli.api),
        Command::Delete(args) => delete::run(&args, &cli.api),
        Command::Node(args) => node::run(&args, &cli.api),
        Command::Deployment(args) => deployment::run(&args, &cli.api),
        Command::History(args) => history::run(&args, &cli.api),
        Command::Revert(args) => history::revert(&args, &cli.api),
        Command::Scale(args) => scale::run(&args, &cli.api),
        Command::Init(args) => init::run(&args),
        Command::Completion(args) => completion::run(&args),
        Command::Dev(args) => dev::run(&args),
        Command::Validate(args) => Ok(validate::run(&args)),
        Command::Inspect(args) => inspect::run(&args),
        Command::Server(args) => server::run(&args),
        Command::Agent(args) => agent::run(&args, &cli.api),
        Command::Logs(args) => logs::run(&args, &cli.api),
        Command::Alloc(args) => alloc::run(&args, &cli.api),
        Command::Kv(args) => kv::run(&args, &cli.api),
        Command::Dispatch(args) => dispatch::run(&args, &cli.api),
        Command::Periodic(args) => periodic::run(&args, &cli.api),
        Command::Namespace(args) => namespace::run(&args, &cli.api),
        Command::Acl(args) => acl::run(&args, &cli.api),
        Command::Tls(args) => tls::run(&args),
        Command::Operator(args) => operator::run(&args, &cli.api),
        Command::Version => {
            println!("drover {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Cli {
        Cli::try_parse_from(argv).expect("parse")
    }

    /// kubectl and nomad users type the connection flags before the
    /// subcommand; they must mean the same there as after it.
    #[test]
    fn api_flags_work_before_and_after_the_subcommand() {
        for argv in [
            &[
                "drover",
                "--addr",
                "http://10.0.0.1:4646",
                "-n",
                "prod",
                "get",
                "jobs",
            ][..],
            &[
                "drover",
                "get",
                "jobs",
                "--addr",
                "http://10.0.0.1:4646",
                "-n",
                "prod",
            ][..],
            &[
                "drover",
                "--addr=http://10.0.0.1:4646",
                "get",
                "-n",
                "prod",
                "jobs",
            ][..],
        ] {
            let cli = parse(argv);
            assert_eq!(cli.api.addr, "http://10.0.0.1:4646", "{argv:?}");
            assert_eq!(cli.api.namespace, "prod", "{argv:?}");
            assert!(matches!(cli.command, Command::Get(_)), "{argv:?}");
        }
        let cli = parse(&["drover", "--addr", "http://h:1", "apply", "-f", "web.nomad"]);
        assert_eq!(cli.api.addr, "http://h:1");
        assert!(matches!(cli.command, Command::Apply(_)));
    }
}
