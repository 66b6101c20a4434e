//! What this machine is: attributes under Nomad's names, schedulable
//! resources, and the node id kept in the data dir.
//!
//! The parsers of `/proc/cpuinfo`, `/proc/meminfo`, `/etc/os-release`,
//! `/proc/sys/kernel/osrelease` and `/proc/net/route` are pure functions;
//! [`read`] is the thin shell that reads the files. The filesystem of the
//! data dir is measured with `statvfs` (through `rustix`, no `unsafe` here).
//!
//! CPU frequency: the first `cpu MHz` of `/proc/cpuinfo`; when there is
//! none (many ARM machines and some VMs), `cpuinfo_max_freq` of cpu0 in
//! sysfs (kHz); when that is missing too, [`DEFAULT_CPU_MHZ`].

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};

use drover_api_types::node::NodeResources;

/// The frequency assumed when neither `/proc/cpuinfo` nor sysfs gives one.
pub const DEFAULT_CPU_MHZ: u64 = 1000;

/// The file in the data dir that holds the node id.
pub const NODE_ID_FILE: &str = "node-id";

const CPUFREQ_MAX: &str = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq";

#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("fingerprint: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fingerprint: cannot parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("node id: cannot write {path}: {source} (is the data dir writable?)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`read`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub attributes: BTreeMap<String, String>,
    pub resources: NodeResources,
}

/// The parts of `/proc/cpuinfo` the fingerprint uses.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// Logical processors (`processor` entries).
    pub cores: u64,
    /// The first `cpu MHz`, if any.
    pub mhz: Option<f64>,
    pub model_name: Option<String>,
}

/// Parses `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo {
        cores: 0,
        mhz: None,
        model_name: None,
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => info.cores += 1,
            "cpu MHz" if info.mhz.is_none() => {
                info.mhz = value.parse::<f64>().ok().filter(|m| *m > 0.0);
            }
            "model name" if info.model_name.is_none() && !value.is_empty() => {
                info.model_name = Some(value.to_string());
            }
            _ => {}
        }
    }
    info
}

/// Parses `cpuinfo_max_freq` (kHz) into MHz.
pub fn parse_cpufreq_khz(text: &str) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .map(|khz| khz / 1000)
        .filter(|m| *m > 0)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | Some("KB") | Some("kb") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// `KEY=value` pairs of `/etc/os-release`, quotes removed.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

/// `/proc/sys/kernel/osrelease`: the kernel version, trimmed.
pub fn parse_osrelease(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|s| !s.is_empty())
}

/// The default route of `/proc/net/route`: its interface and gateway.
pub fn parse_default_route(text: &str) -> Option<(String, Ipv4Addr)> {
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (iface, dest, gateway) = (cols.first()?, cols.get(1)?, cols.get(2)?);
        if *dest != "00000000" {
            return None;
        }
        // The kernel prints the address in host (little-endian) byte order.
        let raw = u32::from_str_radix(gateway, 16).ok()?;
        Some((iface.to_string(), Ipv4Addr::from(raw.swap_bytes())))
    })
}

/// Go's name of this architecture, as Nomad reports `cpu.arch`.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// What the machine readings add up to: the pure part of [`read`].
#[derive(Debug, Clone, PartialEq)]
pub struct Readings {
    pub cpu: CpuInfo,
    /// Used when `cpu.mhz` is `None`.
    pub cpufreq_mhz: Option<u64>,
    pub memory_bytes: u64,
    pub kernel_version: String,
    pub os_release: BTreeMap<String, String>,
    pub hostname: String,
    pub address: IpAddr,
    pub disk_total_bytes: u64,
    pub disk_free_bytes: u64,
}

/// The fingerprint of `readings` (pure).
pub fn assemble(r: &Readings) -> Fingerprint {
    let cores = r.cpu.cores.max(1);
    let mhz = r
        .cpu
        .mhz
        .map(|m| m.round() as u64)
        .or(r.cpufreq_mhz)
        .unwrap_or(DEFAULT_CPU_MHZ);
    let total = cores * mhz;
    let mut a = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        a.insert(k.to_string(), v);
    };
    set("cpu.arch", go_arch(std::env::consts::ARCH).to_string());
    set("cpu.numcores", cores.to_string());
    set("cpu.frequency", mhz.to_string());
    set("cpu.totalcompute", total.to_string());
    if let Some(model) = &r.cpu.model_name {
        set("cpu.modelname", model.clone());
    }
    set("memory.totalbytes", r.memory_bytes.to_string());
    set("kernel.name", "linux".to_string());
    set("kernel.version", r.kernel_version.clone());
    if let Some(id) = r.os_release.get("ID") {
        set("os.name", id.clone());
    }
    if let Some(version) = r.os_release.get("VERSION_ID") {
        set("os.version", version.clone());
    }
    set("unique.hostname", r.hostname.clone());
    set("unique.network.ip-address", r.address.to_string());
    set("unique.storage.bytestotal", r.disk_total_bytes.to_string());
    set("unique.storage.bytesfree", r.disk_free_bytes.to_string());
    set("drover.version", env!("CARGO_PKG_VERSION").to_string());
    set("nomad.version", drover_api_types::NOMAD_VERSION.to_string());
    let mb = |bytes: u64| i64::try_from(bytes / (1024 * 1024)).unwrap_or(i64::MAX);
    Fingerprint {
        attributes: a,
        resources: NodeResources {
            cpu: i64::try_from(total).unwrap_or(i64::MAX),
            cores: i64::try_from(cores).unwrap_or(i64::MAX),
            memory: mb(r.memory_bytes),
            disk: mb(r.disk_free_bytes),
        },
    }
}

fn read_file(path: &str) -> Result<String, FingerprintError> {
    std::fs::read_to_string(path).map_err(|source| FingerprintError::Read {
        path: path.into(),
        source,
    })
}

/// Fingerprints this machine. `data_dir` is measured for disk; `address`
/// is the `--address` given, else the address of the default route's
/// interface (or 127.0.0.1 without one).
pub fn read(data_dir: &Path, address: Option<IpAddr>) -> Result<Fingerprint, FingerprintError> {
    let cpu = parse_cpuinfo(&read_file("/proc/cpuinfo")?);
    let cpu = CpuInfo {
        cores: if cpu.cores == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
        } else {
            cpu.cores
        },
        ..cpu
    };
    let cpufreq_mhz = std::fs::read_to_string(CPUFREQ_MAX)
        .ok()
        .and_then(|t| parse_cpufreq_khz(&t));
    let meminfo = "/proc/meminfo";
    let memory_bytes =
        parse_meminfo_total(&read_file(meminfo)?).ok_or_else(|| FingerprintError::Parse {
            path: meminfo.into(),
            reason: "no MemTotal line".into(),
        })?;
    let kernel_version = parse_osrelease(&read_file("/proc/sys/kernel/osrelease")?)
        .unwrap_or_else(|| "unknown".into());
    let os_release = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|t| parse_osrelease(&t))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let address = address.unwrap_or_else(default_address);
    let (disk_total_bytes, disk_free_bytes) = disk_space(data_dir)?;
    Ok(assemble(&Readings {
        cpu,
        cpufreq_mhz,
        memory_bytes,
        kernel_version,
        os_release,
        hostname,
        address,
        disk_total_bytes,
        disk_free_bytes,
    }))
}

/// The local address of the default route's interface: a UDP socket
/// "connected" to the gateway (no packet is sent) is bound to it.
fn default_address() -> IpAddr {
    let gateway = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|t| parse_default_route(&t))
        .map(|(_, gw)| gw);
    let target = match gateway {
        Some(gw) if !gw.is_unspecified() => gw,
        // A default route without a gateway (point-to-point): any address
        // off-link picks the same interface.
        Some(_) => Ipv4Addr::new(192, 0, 2, 1),
        None => return IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect((target, 9)).map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Total and free (for unprivileged users) bytes of `dir`'s filesystem.
fn disk_space(dir: &Path) -> Result<(u64, u64), FingerprintError> {
    let st = rustix::fs::statvfs(dir).map_err(|e| FingerprintError::Read {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    Ok((
        st.f_blocks.saturating_mul(st.f_frsize),
        st.f_bavail.saturating_mul(st.f_frsize),
    ))
}

/// The node id kept in `<data_dir>/node-id`; created (a UUID v4) on first
/// use. A restarted agent is the same node. The file is written whole to a
/// temp file, synced, then linked into place: a crash never leaves a partial
/// id, and of two racing creators the first wins and both return its id
/// (where the filesystem has hard links; else it is renamed into place).
pub fn node_id(data_dir: &Path) -> Result<String, FingerprintError> {
    let path = data_dir.join(NODE_ID_FILE);
    if let Some(id) = read_node_id(&path)? {
        return Ok(id);
    }
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FingerprintError::Write { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(write_err(data_dir))?;
    let id = uuid::Uuid::new_v4().to_string();
    let tmp = data_dir.join(format!(".{NODE_ID_FILE}.{id}.tmp"));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(format!("{id}\n").as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, &path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            // A filesystem without hard links: rename (last racer wins).
            std::fs::rename(&tmp, &path)
        }
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_node_id(&path)?.ok_or_else(|| FingerprintError::Parse {
                path,
                reason: "vanished while being created".into(),
            })
        }
        Err(source) => Err(FingerprintError::Write { path, source }),
    }
}

/// The id in `path`, `None` if there is no such file.
fn read_node_id(path: &Path) -> Result<Option<String>, FingerprintError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let id = text.trim();
            uuid::Uuid::parse_str(id)
                .map(|_| Some(id.to_string()))
                .map_err(|e| FingerprintError::Parse {
                    path: path.to_path_buf(),
                    reason: format!("not a UUID ({e}); remove the file to make a new node"),
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FingerprintError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
