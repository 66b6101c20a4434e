//! `drover dev`: a whole drover on this machine in one command — etcd (data
//! under `--data-dir`, unless `--etcd` names one), a server and one agent on
//! the local Docker (simulated nodes when Docker is unreachable).
//!
//! The server and the agent are child processes of this executable, so
//! their logs stay apart (`[server]`, `[agent]`) and each shuts down as it
//! would in production. Every child runs in its own process group: a
//! terminal's Ctrl-C reaches only this process, which stops the agent, then
//! the server, then etcd — etcd last, so the others stop cleanly while it
//! still answers. Containers keep running; a restart reuses the data and
//! the agent adopts them.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::local_etcd::{free_port, terminate, EtcdOptions, LocalEtcd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where etcd's data and the agent's state live (reused on restart).
    #[arg(long, default_value = "./drover-data")]
    data_dir: PathBuf,
    /// Use this etcd (repeat, or separate with commas) instead of starting one.
    #[arg(long = "etcd", value_delimiter = ',', value_name = "URL")]
    etcd: Vec<String>,
    /// Where the server's HTTP API listens.
    #[arg(long, default_value = "127.0.0.1:4646")]
    http_addr: SocketAddr,
    /// Where the server answers DNS for the service catalog (`off`: no
    /// DNS). When the default port is taken, a free one is used.
    #[arg(long, default_value = DEFAULT_DNS_ADDR)]
    dns_addr: String,
    /// Turn ACLs on in the server (`drover acl bootstrap` then gives the
    /// first token; docs/acl.md).
    #[arg(long)]
    acl: bool,
    /// Run no agent (bring your own: `drover agent --etcd …`).
    #[arg(long)]
    no_agent: bool,
    /// How many simulated nodes to run when Docker is unreachable.
    #[arg(long, default_value_t = 3)]
    simulated_nodes: usize,
    /// The children's log filter (`info`, `warn`, `drover_controllers=debug`).
    #[arg(long, env = "DROVER_LOG", default_value = "info")]
    log_level: String,
}

/// etcd's usual ports, taken when free so `etcdctl` works as it is.
const ETCD_PORTS: (u16, u16) = (2379, 2380);
/// The agent's usual HTTP port (task logs), taken when free.
const AGENT_HTTP_PORT: u16 = 4647;
/// Consul's DNS port, taken when free so `dig -p 8600` works as it is.
const DEFAULT_DNS_ADDR: &str = "127.0.0.1:8600";
/// How long each child gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(dev(args))
}

async fn dev(args: &Args) -> anyhow::Result<ExitCode> {
    // Installed first: from here on Ctrl-C is ours to handle, so no child
    // is ever left behind, even during start-up.
    let mut signals = Signals::install()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let etcd = if args.etcd.is_empty() {
        let options = EtcdOptions {
            preferred_ports: Some(ETCD_PORTS),
            own_process_group: true,
        };
        let etcd_dir = args.data_dir.join("etcd");
        tokio::select! {
            etcd = LocalEtcd::start_with(&etcd_dir, options) => Some(etcd?),
            () = signals.recv() => return Ok(ExitCode::SUCCESS),
        }
    } else {
        None
    };
    let endpoints = match &etcd {
        Some(etcd) => etcd.endpoint().to_string(),
        None => args.etcd.join(","),
    };
    let mut children = Children(Vec::new());
    let outcome = tokio::select! {
        outcome = start_and_wait(args, &endpoints, &mut children) => outcome,
        () = signals.recv() => {
            eprintln!("[dev] stopping: agent, server, then etcd");
            Ok(ExitCode::SUCCESS)
        }
    };
    children.stop_all().await;
    if let Some(etcd) = etcd {
        eprintln!("[dev] stopping etcd");
        etcd.stop(STOP_GRACE).await;
    }
    outcome
}

async fn start_and_wait(
    args: &Args,
    endpoints: &str,
    children: &mut Children,
) -> anyhow::Result<ExitCode> {
    let api = format!("http://{}", args.http_addr);
    let dns = dns_addr(&args.dns_addr)?;
    let mut server_args = vec![
        "server".to_string(),
        format!("--etcd={endpoints}"),
        format!("--http-addr={}", args.http_addr),
        format!(
            "--dns-addr={}",
            dns.map_or("off".to_string(), |a| a.to_string())
        ),
        "--name=dev-server".to_string(),
        format!("--log-level={}", args.log_level),
    ];
    if args.acl {
        server_args.push("--acl".to_string());
    }
    let refs: Vec<&str> = server_args.iter().map(String::as_str).collect();
    let server = spawn("server", &refs)?;
    children.0.push(server);
    wait_for_api(&api, children).await?;
    let nodes = if args.no_agent {
        "no agent (--no-agent)".to_string()
    } else {
        let (agent_args, nodes) = agent_args(args, endpoints)?;
        let refs: Vec<&str> = agent_args.iter().map(String::as_str).collect();
        children.0.push(spawn("agent", &refs)?);
        nodes
    };
    print_banner(args, endpoints, &api, dns, &nodes);
    let (name, status) = children.first_exit().await;
    eprintln!("[dev] the {name} exited ({status}); stopping the rest");
    Ok(ExitCode::FAILURE)
}

/// SIGINT (Ctrl-C) and SIGTERM.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("handling SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("handling SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// The agent's flags and what it amounts to, for the banner.
fn agent_args(args: &Args, endpoints: &str) -> anyhow::Result<(Vec<String>, String)> {
    let mut flags = vec![
        "agent".to_string(),
        format!("--etcd={endpoints}"),
        format!("--log-level={}", args.log_level),
    ];
    if let Err(why) = docker_reachable() {
        eprintln!(
            "[dev] Docker is not reachable ({why}); running {} simulated nodes instead \
             (allocations are marked running, no containers start)",
            args.simulated_nodes
        );
        flags.extend([
            format!("--simulate={}", args.simulated_nodes),
            "--name-prefix=dev".to_string(),
        ]);
        return Ok((flags, format!("{} simulated nodes", args.simulated_nodes)));
    }
    let agent_port = if port_free(AGENT_HTTP_PORT) {
        AGENT_HTTP_PORT
    } else {
        free_port()?
    };
    flags.extend([
        format!("--data-dir={}", args.data_dir.join("agent").display()),
        "--address=127.0.0.1".to_string(),
        format!("--http-addr=127.0.0.1:{agent_port}"),
    ]);
    Ok((
        flags,
        "one agent on the local Docker (ports published on 127.0.0.1)".to_string(),
    ))
}

/// The DNS address to give the server: `None` for off; the default port
/// moves to a free one when taken (a local Consul agent holds 8600).
fn dns_addr(flag: &str) -> anyhow::Result<Option<SocketAddr>> {
    let flag = flag.trim();
    if flag.is_empty() || flag == "off" {
        return Ok(None);
    }
    let addr: SocketAddr = flag
        .parse()
        .with_context(|| format!("--dns-addr {flag:?}: want host:port, or off"))?;
    if flag != DEFAULT_DNS_ADDR || dns_port_free(addr) {
        return Ok(Some(addr));
    }
    let port = free_port()?;
    eprintln!("[dev] {DEFAULT_DNS_ADDR} is taken; DNS listens on port {port} instead");
    Ok(Some(SocketAddr::new(addr.ip(), port)))
}

/// Both UDP and TCP, as the server binds both.
fn dns_port_free(addr: SocketAddr) -> bool {
    std::net::UdpSocket::bind(addr).is_ok() && std::net::TcpListener::bind(addr).is_ok()
}

fn print_banner(args: &Args, endpoints: &str, api: &str, dns: Option<SocketAddr>, nodes: &str) {
    let mut out = String::new();
    out.push_str("\ndrover dev is up\n");
    out.push_str(&format!("  API:    {api}\n"));
    out.push_str(&format!(
        "  etcd:   {endpoints}{}\n",
        if args.etcd.is_empty() {
            format!(" (data in {})", args.data_dir.join("etcd").display())
        } else {
            String::new()
        }
    ));
    out.push_str(&format!("  nodes:  {nodes}\n"));
    match dns {
        Some(dns) => out.push_str(&format!(
            "  DNS:    {dns} (dig @{} -p {} <service>.service.consul SRV)\n",
            dns.ip(),
            dns.port()
        )),
        None => out.push_str("  DNS:    off (--dns-addr off)\n"),
    }
    out.push_str(&format!("  UI:     {api}/ui\n"));
    if args.acl {
        out.push_str(
            "  ACLs:   on: drover acl bootstrap, then export DROVER_TOKEN=<its Secret ID>\n",
        );
    }
    if api != "http://127.0.0.1:4646" {
        out.push_str(&format!("  export DROVER_ADDR={api}\n"));
    }
    out.push_str("try:     drover init && drover apply -f example.nomad.hcl\n");
    out.push_str(&format!(
        "Ctrl-C stops everything; a restart reuses {}.\n",
        args.data_dir.display()
    ));
    print!("{out}");
    let _ = std::io::stdout().flush();
}

struct Named {
    name: &'static str,
    child: Child,
}

/// The children in start order; stopped in reverse.
struct Children(Vec<Named>);

impl Children {
    async fn stop_all(&mut self) {
        while let Some(mut named) = self.0.pop() {
            eprintln!("[dev] stopping the {}", named.name);
            terminate(&mut named.child, STOP_GRACE).await;
        }
    }

    /// The first child to exit, by name, with its status.
    async fn first_exit(&mut self) -> (&'static str, String) {
        loop {
            for named in &mut self.0 {
                match named.child.try_wait() {
                    Ok(Some(status)) => return (named.name, status.to_string()),
                    Ok(None) => {}
                    Err(e) => return (named.name, e.to_string()),
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// This executable as `name`, its output prefixed with `[name]`.
fn spawn(name: &'static str, args: &[&str]) -> anyhow::Result<Named> {
    let exe = std::env::current_exe().context("finding the drover executable")?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting the {name}"))?;
    if let Some(out) = child.stdout.take() {
        relay(name, out, false);
    }
    if let Some(err) = child.stderr.take() {
        relay(name, err, true);
    }
    Ok(Named { name, child })
}

/// Copies `from` line by line with a `[name] ` prefix (threads: the pipes
/// are blocking, and a child's output must never stall it).
fn relay(name: &'static str, from: impl Read + Send + 'static, to_stderr: bool) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if to_stderr {
                eprintln!("[{name}] {line}");
            } else {
                println!("[{name}] {line}");
            }
        }
    });
}

/// Until `/v1/status/leader` answers (or the server gives up).
async fn wait_for_api(api: &str, children: &mut Children) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the HTTP client")?;
    let started = Instant::now();
    loop {
        if let Some(named) = children.0.last_mut() {
            if let Some(status) = named.child.try_wait().context("watching the server")? {
                bail!("the server exited ({status}) during start-up; see its lines above");
            }
        }
        let answer = http.get(format!("{api}/v1/status/leader")).send().await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server's API at {api} did not answer within 60s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Pings the Docker daemon the agent would use (`DOCKER_HOST` when it is a
/// unix socket, else the default socket).
fn docker_reachable() -> Result<(), String> {
    let socket = docker_socket(std::env::var("DOCKER_HOST").ok().as_deref())?;
    let mut stream = std::os::unix::net::UnixStream::connect(&socket)
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let timeout = Some(Duration::from_secs(3));
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("{} did not answer the ping", socket.display()))
    }
}

fn docker_socket(docker_host: Option<&str>) -> Result<PathBuf, String> {
    match docker_host {
        None | Some("") => Ok(PathBuf::from("/var/run/docker.sock")),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) => Ok(Path::new(path).to_path_buf()),
            None => Err(format!(
                "DOCKER_HOST={host} is not a unix socket; drover dev checks only those"
            )),
        },
    }
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_can_be_switched_off_or_moved() {
        assert_eq!(dns_addr("off").ok(), Some(None));
        assert_eq!(dns_addr("").ok(), Some(None));
        assert_eq!(
            dns_addr("127.0.0.1:5353").ok(),
            Some(Some(SocketAddr::from(([127, 0, 0, 1], 5353))))
        );
        assert!(dns_addr("nonsense").is_err());
        // The default lands somewhere on loopback, free or not.
        let default = dns_addr(DEFAULT_DNS_ADDR).ok().flatten();
        assert!(default.is_some_and(|a| a.ip().is_loopback()));
    }

    #[test]
    fn the_docker_socket_follows_docker_host() {
        assert_eq!(
            docker_socket(None),
            Ok(PathBuf::from("/var/run/docker.sock"))
        );
        assert_eq!(
            docker_socket(Some("unix:///run/user/1000/docker.sock")),
            Ok(PathBuf::from("/run/user/1000/docker.sock"))
        );
        assert!(docker_socket(Some("tcp://10.0.0.1:2375")).is_err());
    }
}
