use super::*;

const CPUINFO_X86: &str = "processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
cpu MHz\t\t: 2199.998
cache size\t: 56320 KB

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
cpu MHz\t\t: 2199.998
";

/// An ARM machine: no `cpu MHz`, no `model name`.
const CPUINFO_ARM: &str = "processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
CPU part\t: 0xd0c

processor\t: 1
BogoMIPS\t: 50.00

processor\t: 2
BogoMIPS\t: 50.00

processor\t: 3
BogoMIPS\t: 50.00
";

const MEMINFO: &str = "MemTotal:       16318480 kB
MemFree:         1234567 kB
MemAvailable:    9876543 kB
";

const OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
# a comment
ID=debian
HOME_URL='https://www.debian.org/'
"#;

const ROUTE: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
";

fn readings(cpu: CpuInfo, cpufreq_mhz: Option<u64>) -> Readings {
    Readings {
        cpu,
        cpufreq_mhz,
        memory_bytes: 16_318_480 * 1024,
        kernel_version: "6.1.0-13-amd64".into(),
        os_release: parse_os_release(OS_RELEASE),
        hostname: "node-a".into(),
        address: "10.0.0.5".parse().expect("ip"),
        disk_total_bytes: 100 * 1024 * 1024 * 1024,
        disk_free_bytes: 40 * 1024 * 1024 * 1024,
    }
}

#[test]
fn cpuinfo_counts_processors_and_takes_the_first_frequency() {
    let info = parse_cpuinfo(CPUINFO_X86);
    assert_eq!(info.cores, 2);
    assert_eq!(info.mhz, Some(2199.998));
    assert_eq!(
        info.model_name.as_deref(),
        Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
    );
}

#[test]
fn cpuinfo_without_mhz_falls_back_to_cpufreq_then_the_default() {
    let info = parse_cpuinfo(CPUINFO_ARM);
    assert_eq!(info.cores, 4);
    assert_eq!(info.mhz, None);
    assert_eq!(parse_cpufreq_khz("2400000\n"), Some(2400));
    assert_eq!(parse_cpufreq_khz("garbage"), None);

    let with_sysfs = assemble(&readings(info.clone(), Some(2400)));
    assert_eq!(with_sysfs.attributes["cpu.frequency"], "2400");
    assert_eq!(with_sysfs.attributes["cpu.totalcompute"], "9600");
    assert_eq!(with_sysfs.resources.cpu, 9600);

    let neither = assemble(&readings(info, None));
    assert_eq!(
        neither.attributes["cpu.frequency"],
        DEFAULT_CPU_MHZ.to_string()
    );
    assert_eq!(neither.resources.cpu, 4 * DEFAULT_CPU_MHZ as i64);
}

#[test]
fn meminfo_total_is_in_bytes() {
    assert_eq!(parse_meminfo_total(MEMINFO), Some(16_318_480 * 1024));
    assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
}

#[test]
fn os_release_unquotes_and_skips_comments() {
    let os = parse_os_release(OS_RELEASE);
    assert_eq!(os["ID"], "debian");
    assert_eq!(os["VERSION_ID"], "12");
    assert_eq!(os["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(os["HOME_URL"], "https://www.debian.org/");
    assert_eq!(os.len(), 5);
}

#[test]
fn kernel_version_is_trimmed() {
    assert_eq!(
        parse_osrelease("6.1.0-13-amd64\n").as_deref(),
        Some("6.1.0-13-amd64")
    );
    assert_eq!(parse_osrelease("  \n"), None);
}

#[test]
fn default_route_gives_interface_and_gateway() {
    assert_eq!(
        parse_default_route(ROUTE),
        Some(("eth0".to_string(), Ipv4Addr::new(192, 168, 1, 1)))
    );
    assert_eq!(
        parse_default_route(&ROUTE[..ROUTE.find("eth0").expect("eth0")]),
        None
    );
}

#[test]
fn assemble_uses_nomads_attribute_names_and_resources() {
    let fp = assemble(&readings(parse_cpuinfo(CPUINFO_X86), None));
    let a = &fp.attributes;
    assert_eq!(a["cpu.numcores"], "2");
    assert_eq!(a["cpu.frequency"], "2200");
    assert_eq!(a["cpu.totalcompute"], "4400");
    assert_eq!(a["memory.totalbytes"], (16_318_480u64 * 1024).to_string());
    assert_eq!(a["kernel.name"], "linux");
    assert_eq!(a["kernel.version"], "6.1.0-13-amd64");
    assert_eq!(a["os.name"], "debian");
    assert_eq!(a["os.version"], "12");
    assert_eq!(a["unique.hostname"], "node-a");
    assert_eq!(a["unique.network.ip-address"], "10.0.0.5");
    assert_eq!(
        a["unique.storage.bytesfree"],
        (40u64 * 1024 * 1024 * 1024).to_string()
    );
    assert_eq!(a["drover.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        fp.resources,
        NodeResources {
            cpu: 4400,
            cores: 2,
            memory: 15_936,
            disk: 40 * 1024,
        }
    );
}

#[test]
fn go_arch_names() {
    assert_eq!(go_arch("x86_64"), "amd64");
    assert_eq!(go_arch("aarch64"), "arm64");
    assert_eq!(go_arch("riscv64"), "riscv64");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "drover-fp-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn node_id_is_created_once_and_kept() {
    let dir = temp_dir("id");
    let first = node_id(&dir.join("nested")).expect("create");
    let again = node_id(&dir.join("nested")).expect("read");
    assert_eq!(first, again);
    assert!(uuid::Uuid::parse_str(&first).is_ok());
    let other = node_id(&dir.join("other")).expect("create other");
    assert_ne!(first, other);
    std::fs::create_dir_all(dir.join("bad")).expect("dir");
    std::fs::write(dir.join("bad").join(NODE_ID_FILE), "not-a-uuid").expect("write");
    assert!(matches!(
        node_id(&dir.join("bad")),
        Err(FingerprintError::Parse { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn node_id_racers_agree_and_whitespace_is_ignored() {
    let dir = temp_dir("race");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| node_id(&dir))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("node id"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from(NODE_ID_FILE)]);

    let padded = temp_dir("padded");
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(padded.join(NODE_ID_FILE), format!("  {id}\n\n")).expect("write");
    assert_eq!(node_id(&padded).expect("read"), id);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&padded).ok();
}
