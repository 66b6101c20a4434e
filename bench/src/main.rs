//! `drover-bench`: figures, not assertions. Each benchmark starts what it
//! measures as child processes (so their memory is theirs alone) against
//! its own etcd unless `--etcd` is given. It is a binary of its own so the
//! `drover` that operators install links none of its fixtures (a throwaway
//! image builder, a fake registry); it runs the `drover` built beside it.
//!
//! # Layout
//! - `measure`: percentiles, rounding, scratch directories, /proc memory, the etcd to run against.
//! - `server_process`: `drover server` as a child process; where the `drover` binary is.
//! - `fleet`: an etcd, a server and simulated nodes, ready, for the benchmarks that measure a cluster.
//! - `schedule`: allocations placed on simulated nodes.
//! - `agent` (+ `agent/support`): one real agent on the local Docker, its start latency and memory.
//! - `dns`, `dns_client`: queries per second the DNS server answers on one core.
//! - `catalog`: healthy instances into the catalog and DNS, stopped ones out.
//! - `churn` (+ `churn/sizes`, `churn/track`): many jobs applied, updated, stopped; etcd's size.
//! - `ui`: every web UI page's render time and size on a placed fleet; a change reaching an open page.

mod agent;
mod catalog;
mod churn;
mod dns;
mod dns_client;
mod fleet;
mod measure;
mod schedule;
mod server_process;
mod ui;

use std::process::ExitCode;

use clap::Parser as _;

/// Benchmarks of drover with real parts; each prints its figures.
#[derive(Debug, clap::Parser)]
#[command(name = "drover-bench", version)]
struct Args {
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
    /// Every web UI page's render time and size on a fleet of placed
    /// allocations, and how fast a change reaches an open page.
    Ui(ui::UiArgs),
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Schedule(args) => schedule::run(args),
        What::Agent(args) => agent::run(args),
        What::Dns(args) => dns::run(args),
        What::Catalog(args) => catalog::run(args),
        What::Churn(args) => churn::run(args),
        What::Ui(args) => ui::run(args),
    }
}
