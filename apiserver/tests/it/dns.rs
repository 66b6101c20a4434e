//! The DNS server against a real etcd, asked by the real `dig`: service
//! registrations and nodes are written straight into the store, the way
//! the services controller and the agents write them, and the answers
//! follow them through the catalog view.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::service::{CheckStatus, ServiceRegistration};
use drover_api_types::{Node, ObjectMeta};
use drover_apiserver::catalog_view::CatalogView;
use drover_apiserver::dns::{self, DnsConfig, DnsMetrics};
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::etcd::TestEtcd;
use tokio::sync::watch;

struct Dns {
    _etcd: TestEtcd,
    store: Store,
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

async fn start() -> Dns {
    start_with(DnsConfig::default()).await
}

async fn start_with(dns_config: DnsConfig) -> Dns {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    let store = Store::connect(config).await.expect("connect");
    let sockets = dns::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind dns");
    let addr = sockets.local_addr().expect("dns addr");
    let (stop, shutdown) = watch::channel(false);
    let view = CatalogView::start(&store);
    tokio::spawn(dns::run(
        view,
        sockets,
        dns_config,
        DnsMetrics::unregistered().expect("metrics"),
        shutdown,
    ));
    Dns {
        _etcd: etcd,
        store,
        addr,
        _stop: stop,
    }
}

impl Dns {
    async fn node(&self, id: &str, name: &str, address: &str, state: NodeState) {
        let node = Node {
            metadata: ObjectMeta {
                name: name.into(),
                uid: id.into(),
                ..Default::default()
            },
            spec: drover_api_types::node::NodeSpec {
                datacenter: "dc1".into(),
                address: address.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let keys = self.store.keys();
        self.store
            .put_at(&keys.node(id), &node)
            .await
            .expect("node");
        let status = Versioned::new(NodeStatus {
            state,
            ..Default::default()
        });
        self.store
            .put_at(&keys.node_status(id), &status)
            .await
            .expect("node status");
    }

    /// Registers `id`: `service` on node (`node_id`, `node_name`) at
    /// `address:port`, with one check in `check` state.
    async fn register(
        &self,
        id: &str,
        service: &str,
        node: (&str, &str),
        addr: (&str, u16),
        tags: &[&str],
        check: &str,
    ) {
        self.register_in("default", id, service, node, addr, tags, check)
            .await
    }

    /// [`Dns::register`] in namespace `ns`.
    #[allow(clippy::too_many_arguments)]
    async fn register_in(
        &self,
        ns: &str,
        id: &str,
        service: &str,
        node: (&str, &str),
        addr: (&str, u16),
        tags: &[&str],
        check: &str,
    ) {
        let mut reg = ServiceRegistration::default();
        reg.metadata.name = id.into();
        reg.metadata.namespace = ns.into();
        reg.spec.service_name = service.into();
        reg.spec.node_id = node.0.into();
        reg.spec.node_name = node.1.into();
        reg.spec.datacenter = "dc1".into();
        reg.spec.address = addr.0.into();
        reg.spec.port = addr.1;
        reg.spec.tags = tags.iter().map(|t| (*t).to_string()).collect();
        reg.spec.checks = vec![CheckStatus {
            check_id: format!("{id}-check"),
            name: "http".into(),
            status: check.into(),
            ..Default::default()
        }];
        let key = self.store.keys().service(ns, id);
        self.store.put_at(&key, &reg).await.expect("registration");
    }

    async fn deregister(&self, id: &str) {
        let key = self.store.keys().service("default", id);
        self.store
            .delete_raw(&key, drover_store::Guard::None)
            .await
            .expect("delete registration");
    }

    /// `dig @addr -p port ARGS…`: stdout, sorted line by line.
    async fn dig(&self, args: &[&str]) -> Vec<String> {
        let output = tokio::process::Command::new("dig")
            .arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.addr.port().to_string(), "+time=2", "+tries=1"])
            .args(args)
            .output()
            .await
            .expect("running dig (bind9-dnsutils)");
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(String::from)
            .collect();
        lines.sort();
        lines
    }

    /// Asks until the answer is `want` (the catalog follows etcd one watch
    /// event behind), failing after 10 s with the last answer.
    async fn until(&self, args: &[&str], want: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.dig(args).await;
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dig {args:?}: got {got:#?}, want {want:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Three nginx instances over two nodes, tagged v1/v2, and a node
    /// with nothing on it.
    async fn nginx(&self) {
        self.node("n1", "web-1", "127.0.0.11", NodeState::Ready)
            .await;
        self.node("n2", "web-2", "127.0.0.12", NodeState::Ready)
            .await;
        self.register(
            "a",
            "nginx",
            ("n1", "web-1"),
            ("127.0.0.11", 8080),
            &["v1"],
            "passing",
        )
        .await;
        self.register(
            "b",
            "nginx",
            ("n2", "web-2"),
            ("127.0.0.12", 8081),
            &["v1"],
            "warning",
        )
        .await;
        self.register(
            "c",
            "nginx",
            ("n2", "web-2"),
            ("127.0.0.12", 8082),
            &["v2"],
            "passing",
        )
        .await;
    }
}

const ALL_SRV: [&str; 3] = [
    "1 1 8080 web-1.node.dc1.consul.",
    "1 1 8081 web-2.node.dc1.consul.",
    "1 1 8082 web-2.node.dc1.consul.",
];

#[tokio::test]
async fn srv_a_tags_and_rfc2782() {
    let dns = start().await;
    dns.nginx().await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV)
        .await;
    // The glue: each target's A record in the additional section.
    assert_eq!(
        dns.dig(&["nginx.service.consul", "SRV", "+noall", "+additional"])
            .await
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        [
            "web-1.node.dc1.consul. 0 IN A 127.0.0.11",
            "web-2.node.dc1.consul. 0 IN A 127.0.0.12",
        ]
    );
    assert_eq!(
        dns.dig(&["nginx.service.consul", "A", "+short"]).await,
        ["127.0.0.11", "127.0.0.12"]
    );
    assert_eq!(
        dns.dig(&["v1.nginx.service.consul", "SRV", "+short"]).await,
        ALL_SRV[..2]
    );
    assert_eq!(
        dns.dig(&["_nginx._tcp.service.consul", "SRV", "+short"])
            .await,
        ALL_SRV
    );
    assert_eq!(
        dns.dig(&["_nginx._v2.service.consul", "SRV", "+short"])
            .await,
        ALL_SRV[2..]
    );
    assert_eq!(
        dns.dig(&["NGINX.service.DC1.consul", "SRV", "+short"])
            .await,
        ALL_SRV
    );
    assert_eq!(
        dns.dig(&["nginx.service.drover", "SRV", "+short"]).await,
        [
            "1 1 8080 web-1.node.dc1.drover.",
            "1 1 8081 web-2.node.dc1.drover.",
            "1 1 8082 web-2.node.dc1.drover.",
        ]
    );
    // Over TCP too.
    assert_eq!(
        dns.dig(&["+tcp", "nginx.service.consul", "SRV", "+short"])
            .await,
        ALL_SRV
    );
}

#[tokio::test]
async fn nodes_and_unknown_names() {
    let dns = start().await;
    dns.nginx().await;
    dns.until(&["web-1.node.consul", "A", "+short"], &["127.0.0.11"])
        .await;
    // Nodes and their statuses reach the catalog view on watches of their
    // own: web-2 may land a moment after web-1.
    dns.until(&["web-2.node.dc1.consul", "+short"], &["127.0.0.12"])
        .await;
    let status = |lines: Vec<String>| {
        lines.iter().find_map(|l| {
            l.split("status: ")
                .nth(1)
                .map(|s| s.split(',').next().unwrap_or("").to_string())
        })
    };
    let raw = |name: &'static str| {
        let dns = &dns;
        async move {
            let output = tokio::process::Command::new("dig")
                .arg(format!("@{}", dns.addr.ip()))
                .args([
                    "-p",
                    &dns.addr.port().to_string(),
                    "+time=2",
                    "+tries=1",
                    name,
                ])
                .output()
                .await
                .expect("dig");
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        status(raw("nope.service.consul").await).as_deref(),
        Some("NXDOMAIN")
    );
    assert_eq!(status(raw("example.com").await).as_deref(), Some("REFUSED"));
    let authority = dns
        .dig(&["nope.service.consul", "+noall", "+authority"])
        .await;
    assert_eq!(authority.len(), 1, "{authority:?}");
    let soa: Vec<&str> = authority[0].split_whitespace().collect();
    assert_eq!(soa[..5], ["consul.", "0", "IN", "SOA", "ns.consul."]);
    // NODATA: the name exists, the type does not.
    assert_eq!(
        status(raw("web-1.node.consul").await).as_deref(),
        Some("NOERROR")
    );
    let nodata = dns
        .dig(&["nginx.service.consul", "TXT", "+noall", "+authority"])
        .await;
    assert_eq!(nodata.len(), 1, "{nodata:?}");
}

#[tokio::test]
async fn health_and_deletion_follow_the_catalog() {
    let dns = start().await;
    dns.nginx().await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV)
        .await;
    // A critical check takes the instance out.
    dns.register(
        "c",
        "nginx",
        ("n2", "web-2"),
        ("127.0.0.12", 8082),
        &["v2"],
        "critical",
    )
    .await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV[..2])
        .await;
    // A deleted registration is gone.
    dns.deregister("a").await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV[1..2])
        .await;
    // A node going down takes its instances with it: nothing left.
    dns.node("n2", "web-2", "127.0.0.12", NodeState::Down).await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &[])
        .await;
    let authority = dns
        .dig(&["nginx.service.consul", "SRV", "+noall", "+authority"])
        .await;
    assert_eq!(authority.len(), 1, "{authority:?}");
    // And back.
    dns.node("n2", "web-2", "127.0.0.12", NodeState::Ready)
        .await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV[1..2])
        .await;
}

#[tokio::test]
async fn big_answers_fall_back_to_tcp() {
    let dns = start().await;
    dns.node("n1", "web-1", "127.0.0.11", NodeState::Ready)
        .await;
    for i in 0..60u16 {
        let id = format!("big-{i}");
        let ip = format!("127.0.1.{}", i + 1);
        dns.register(&id, "big", ("n1", "web-1"), (&ip, 9000 + i), &[], "passing")
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // +ignore: show the truncated UDP answer instead of retrying.
        let udp = dns
            .dig(&["big.service.consul", "A", "+noedns", "+ignore", "+short"])
            .await;
        let full = dns
            .dig(&["big.service.consul", "A", "+noedns", "+short"])
            .await;
        if full.len() == 60 {
            assert!(udp.len() < 60, "512 bytes hold no 60 A records: {udp:?}");
            break;
        }
        assert!(Instant::now() < deadline, "got {} of 60", full.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn garbage_and_stalled_connections_do_not_hurt() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let dns = start_with(DnsConfig {
        tcp_idle_timeout: Duration::from_millis(300),
        ..DnsConfig::default()
    })
    .await;
    dns.nginx().await;
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV)
        .await;

    // UDP: random bytes and cut headers.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let mut seed: u32 = 12345;
    for len in 0..300usize {
        let packet: Vec<u8> = (0..len % 97)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        udp.send_to(&packet, dns.addr).await.expect("send garbage");
    }

    // TCP: a length prefix promising more than comes, then silence: the
    // server hangs up after the idle timeout.
    let mut stalled = tokio::net::TcpStream::connect(dns.addr).await.expect("tcp");
    stalled
        .write_all(&[0xff, 0xff, 1, 2, 3])
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "not closed: {closed:?}");

    // TCP: a framed message that is not DNS gets FORMERR or a hang-up.
    let mut framed = tokio::net::TcpStream::connect(dns.addr).await.expect("tcp");
    framed
        .write_all(&[0, 14, 0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff])
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), framed.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer and no hang-up");
    if answer.len() >= 6 {
        assert_eq!(answer[2..4], [0xab, 0xcd], "the id is echoed");
        assert_eq!(answer[5] & 0x0f, 1, "FORMERR");
    }

    // Still answering, both ways.
    assert_eq!(
        dns.dig(&["nginx.service.consul", "SRV", "+short"]).await,
        ALL_SRV
    );
    assert_eq!(
        dns.dig(&["+tcp", "nginx.service.consul", "SRV", "+short"])
            .await,
        ALL_SRV
    );
}

#[tokio::test]
async fn a_service_answers_within_its_namespace_only() {
    let dns = start().await;
    dns.nginx().await;
    // Another namespace's job takes the same service name.
    dns.register_in(
        "db",
        "d",
        "nginx",
        ("n1", "web-1"),
        ("127.0.0.11", 9999),
        &[],
        "passing",
    )
    .await;
    dns.register_in(
        "db",
        "e",
        "postgres",
        ("n1", "web-1"),
        ("127.0.0.11", 5432),
        &[],
        "passing",
    )
    .await;
    let db_srv = ["1 1 5432 web-1.node.dc1.consul."];
    dns.until(&["postgres.service.db.ns.consul", "SRV", "+short"], &db_srv)
        .await;
    dns.until(
        &["postgres.service.db.ns.dc1.dc.consul", "SRV", "+short"],
        &db_srv,
    )
    .await;
    dns.until(
        &["nginx.service.db.ns.consul", "SRV", "+short"],
        &["1 1 9999 web-1.node.dc1.consul."],
    )
    .await;
    // By name alone: the default namespace's, never db's.
    dns.until(&["nginx.service.consul", "SRV", "+short"], &ALL_SRV)
        .await;
    dns.until(&["postgres.service.consul", "SRV", "+short"], &[])
        .await;
}
