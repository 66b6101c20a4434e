//! `drover agent`: make this machine a drover node. Today only the simulated
//! mode exists (`--simulate N`): N nodes in this process that register,
//! heartbeat and report their allocations running, without Docker — for
//! trying drover out, tests and benchmarks. The Docker agent is the next
//! piece of work (see the README).

use std::time::Duration;

use anyhow::{bail, Context as _};
use drover_node_agent::simulate::{Simulator, SimulatorConfig};
use drover_store::Store;

use super::cluster_args::{parse_duration, shutdown_on_signal, EtcdArgs, LogArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Run N simulated nodes instead of a Docker node.
    #[arg(long, value_name = "N")]
    simulate: Option<usize>,
    /// Simulated node names are `<prefix>-<index>`.
    #[arg(long, default_value = "sim")]
    name_prefix: String,
    /// Datacenters, assigned to simulated nodes in turn.
    #[arg(long = "datacenter", value_delimiter = ',', default_value = "dc1")]
    datacenters: Vec<String>,
    /// MHz of CPU per simulated node.
    #[arg(long, default_value_t = 4000)]
    cpu: i64,
    /// MB of memory per simulated node.
    #[arg(long, default_value_t = 8192)]
    memory: i64,
    /// Heartbeat lease TTL; must match the servers' --heartbeat-ttl.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    heartbeat_ttl: Duration,
}

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let Some(count) = args.simulate else {
        bail!(
            "the Docker node agent is not built yet; run simulated nodes with `drover agent --simulate N`"
        );
    };
    if count == 0 {
        bail!("--simulate needs at least one node");
    }
    args.log.init()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(simulate(args, count))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn simulate(args: &Args, count: usize) -> anyhow::Result<()> {
    let config = args.etcd.config();
    let store = Store::connect(config.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", config.endpoints.join(",")))?;
    let mut shutdown = shutdown_on_signal();
    let simulator = Simulator::start(
        store,
        SimulatorConfig {
            count,
            name_prefix: args.name_prefix.clone(),
            datacenters: args.datacenters.clone(),
            cpu: args.cpu,
            memory: args.memory,
            heartbeat_ttl: args.heartbeat_ttl,
            ..SimulatorConfig::default()
        },
    )
    .await
    .context("starting the simulated nodes")?;
    tracing::info!(nodes = count, "simulated nodes running; Ctrl-C stops them");
    let _ = shutdown.wait_for(|stop| *stop).await;
    simulator.shutdown().await;
    Ok(())
}
