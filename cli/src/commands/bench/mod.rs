//! `drover bench`: figures, not assertions. Each benchmark starts what it
//! measures as child processes (so their memory is theirs alone) against
//! its own etcd unless `--etcd` is given.

mod agent;
mod dns;
mod measure;
mod schedule;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Place allocations on simulated nodes and time it.
    Schedule(schedule::ScheduleArgs),
    /// Bind allocations to a real agent on the local Docker and time how
    /// fast their containers start; the agent's memory idle and loaded.
    Agent(agent::AgentArgs),
    /// DNS queries per second answered on one core, with latencies.
    Dns(dns::DnsArgs),
}

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    match &args.what {
        What::Schedule(args) => schedule::run(args),
        What::Agent(args) => agent::run(args),
        What::Dns(args) => dns::run(args),
    }
}
