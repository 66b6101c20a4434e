//! `drover bench`: figures, not assertions. Each benchmark starts what it
//! measures as child processes (so their memory is theirs alone) against
//! its own etcd unless `--etcd` is given.

mod agent;
mod catalog;
mod churn;
mod dns;
mod dns_client;
mod measure;
mod schedule;
mod server_process;

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
    /// Time how fast healthy instances appear in the catalog (HTTP and
    /// DNS) and stopped ones disappear, on simulated nodes.
    Catalog(catalog::CatalogArgs),
    /// Apply, update and stop many small jobs on simulated nodes: update
    /// latencies, and etcd's size before and after GC and compaction.
    Churn(churn::ChurnArgs),
}

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    match &args.what {
        What::Schedule(args) => schedule::run(args),
        What::Agent(args) => agent::run(args),
        What::Dns(args) => dns::run(args),
        What::Catalog(args) => catalog::run(args),
        What::Churn(args) => churn::run(args),
    }
}
