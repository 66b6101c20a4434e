use std::collections::BTreeSet;

use drover_api_types::node::{Node, NodeState, NodeStatus};
use drover_api_types::service::{CheckStatus, ServiceRegistration};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::rngs::StdRng;
use rand::SeedableRng as _;

use super::answer;
use crate::dns::catalog::{NodeInput, Snapshot};
use crate::dns::DnsConfig;

fn node(id: &str, name: &str, address: &str, dc: &str) -> Node {
    let mut node = Node::default();
    node.metadata.name = name.into();
    node.metadata.uid = id.into();
    node.spec.address = address.into();
    node.spec.datacenter = dc.into();
    node
}

fn reg(
    service: &str,
    node: (&str, &str),
    address: &str,
    port: u16,
    tags: &[&str],
) -> ServiceRegistration {
    let mut reg = ServiceRegistration::default();
    reg.metadata.name = format!("_drover-{service}-{}-{port}", node.1);
    reg.metadata.namespace = "default".into();
    reg.spec.service_name = service.into();
    reg.spec.node_id = node.0.into();
    reg.spec.node_name = node.1.into();
    reg.spec.address = address.into();
    reg.spec.port = port;
    reg.spec.tags = tags.iter().map(|t| (*t).to_string()).collect();
    reg
}

fn check(status: &str) -> CheckStatus {
    CheckStatus {
        status: status.into(),
        ..Default::default()
    }
}

/// nginx ×3 over two nodes (one with a warning), a critical nginx, an
/// instance on a down node, redis over IPv6, a host-named api, in dc1/dc2.
fn snapshot() -> Snapshot {
    let nodes = [
        node("n1", "web-1", "10.0.0.1", "dc1"),
        node("n2", "web-2", "10.0.0.2", "dc1"),
        node("n3", "web-3", "10.0.0.3", "dc2"),
        node("n4", "dead-1", "10.0.0.4", "dc1"),
        node("n5", "v6-1", "fd00::5", "dc1"),
    ];
    let ready = NodeStatus {
        state: NodeState::Ready,
        ..Default::default()
    };
    let down = NodeStatus {
        state: NodeState::Down,
        ..Default::default()
    };
    let mut warned = reg("nginx", ("n2", "web-2"), "10.0.0.2", 8081, &["v2"]);
    warned.spec.checks = vec![check("passing"), check("warning")];
    let mut critical = reg("nginx", ("n2", "web-2"), "10.0.0.2", 8082, &["v1"]);
    critical.spec.checks = vec![check("passing"), check("critical")];
    let services = vec![
        reg(
            "nginx",
            ("n1", "web-1"),
            "10.0.0.1",
            8080,
            &["v1", "Primary"],
        ),
        warned,
        critical,
        reg("nginx", ("n3", "web-3"), "", 8083, &["v1"]),
        reg("nginx", ("n4", "dead-1"), "10.0.0.4", 8084, &["v1"]),
        reg("redis", ("n5", "v6-1"), "fd00::5", 6379, &[]),
        reg("api", ("n1", "web-1"), "api.example.com", 443, &[]),
        reg("sick", ("n1", "web-1"), "10.0.0.1", 1, &[]),
    ];
    let mut services = services;
    services[7].spec.checks = vec![check("critical")];
    let statuses: Vec<&NodeStatus> = vec![&ready, &ready, &ready, &down, &ready];
    let inputs = nodes.iter().zip(statuses).map(|(n, s)| NodeInput {
        id: &n.metadata.uid,
        node: n,
        status: Some(s),
    });
    Snapshot::build(&services, inputs, 42)
}

fn request(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(
        Name::from_ascii(name).expect("test value"),
        qtype,
    ));
    message
}

fn ask(name: &str, qtype: RecordType) -> Message {
    ask_with(&request(name, qtype), &DnsConfig::default())
}

fn ask_with(request: &Message, config: &DnsConfig) -> Message {
    answer(request, &snapshot(), config, &mut StdRng::seed_from_u64(7))
}

/// The answers as sorted text, e.g. `A 10.0.0.1`, `SRV 1 1 8080 web-1.node.dc1.consul.`.
fn answers(message: &Message) -> Vec<String> {
    let mut out: Vec<String> = message.answers.iter().map(show).collect();
    out.sort();
    out
}

fn additionals(message: &Message) -> Vec<String> {
    let mut out: Vec<String> = message
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, show(r)))
        .collect();
    out.sort();
    out
}

fn show(record: &Record) -> String {
    match &record.data {
        RData::A(a) => format!("A {}", a.0),
        RData::AAAA(a) => format!("AAAA {}", a.0),
        RData::CNAME(c) => format!("CNAME {}", c.0),
        RData::SRV(s) => format!("SRV {} {} {} {}", s.priority, s.weight, s.port, s.target),
        RData::SOA(s) => format!("SOA {} {} {}", s.mname, s.rname, s.serial),
        other => format!("{other:?}"),
    }
}

fn authority_is_soa(message: &Message, domain: &str) {
    assert_eq!(message.authorities.len(), 1, "{message:?}");
    let soa = &message.authorities[0];
    assert_eq!(soa.name.to_ascii(), domain);
    assert_eq!(show(soa), format!("SOA ns.{domain} hostmaster.{domain} 42"));
}

#[test]
fn a_lists_every_healthy_instance_once() {
    let r = ask("nginx.service.consul.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert!(r.metadata.recursion_desired);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    // web-2 twice (8081 warning; 8082 critical is out), dead-1 down: out.
    assert_eq!(answers(&r), ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"]);
    assert!(r.answers.iter().all(|a| a.ttl == 0
        && a.name.to_ascii() == "nginx.service.consul."
        && a.dns_class == DNSClass::IN));
    assert!(r.authorities.is_empty());
}

#[test]
fn srv_carries_ports_and_glue() {
    let r = ask("nginx.service.consul.", RecordType::SRV);
    assert_eq!(
        answers(&r),
        [
            "SRV 1 1 8080 web-1.node.dc1.consul.",
            "SRV 1 1 8081 web-2.node.dc1.consul.",
            "SRV 1 1 8083 web-3.node.dc2.consul.",
        ]
    );
    assert_eq!(
        additionals(&r),
        [
            "web-1.node.dc1.consul. A 10.0.0.1",
            "web-2.node.dc1.consul. A 10.0.0.2",
            "web-3.node.dc2.consul. A 10.0.0.3",
        ]
    );
}

#[test]
fn rfc2782_names_and_tags_filter() {
    let all = ask("_nginx._tcp.service.consul.", RecordType::SRV);
    assert_eq!(all.answers.len(), 3);
    let v1 = ask("v1.nginx.service.consul.", RecordType::SRV);
    assert_eq!(
        answers(&v1),
        [
            "SRV 1 1 8080 web-1.node.dc1.consul.",
            "SRV 1 1 8083 web-3.node.dc2.consul.",
        ]
    );
    let v2 = ask("_nginx._v2.service.consul.", RecordType::SRV);
    assert_eq!(answers(&v2), ["SRV 1 1 8081 web-2.node.dc1.consul."]);
    // Tags match whatever their case.
    let primary = ask("PRIMARY.nginx.service.consul.", RecordType::A);
    assert_eq!(answers(&primary), ["A 10.0.0.1"]);
    let none = ask("v9.nginx.service.consul.", RecordType::A);
    assert_eq!(none.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn a_datacenter_narrows_the_answer() {
    let dc2 = ask("nginx.service.dc2.consul.", RecordType::A);
    assert_eq!(answers(&dc2), ["A 10.0.0.3"]);
    let tagged = ask("v1.nginx.service.dc1.consul.", RecordType::A);
    assert_eq!(answers(&tagged), ["A 10.0.0.1"]);
    let dc9 = ask("nginx.service.dc9.consul.", RecordType::A);
    assert_eq!(dc9.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn names_are_case_insensitive_and_echoed() {
    let r = ask("NGINX.Service.Consul.", RecordType::A);
    assert_eq!(r.answers.len(), 3);
    assert_eq!(r.answers[0].name.to_ascii(), "NGINX.Service.Consul.");
    assert_eq!(r.queries[0].name().to_ascii(), "NGINX.Service.Consul.");
}

#[test]
fn the_drover_domain_answers_too() {
    let r = ask("nginx.service.drover.", RecordType::SRV);
    assert_eq!(r.answers.len(), 3);
    assert!(answers(&r).iter().all(|a| a.ends_with(".drover.")), "{r:?}");
}

#[test]
fn ipv6_instances_answer_aaaa_and_srv_glue() {
    let aaaa = ask("redis.service.consul.", RecordType::AAAA);
    assert_eq!(answers(&aaaa), ["AAAA fd00::5"]);
    let a = ask("redis.service.consul.", RecordType::A);
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.answers.is_empty());
    authority_is_soa(&a, "consul.");
    let srv = ask("redis.service.consul.", RecordType::SRV);
    assert_eq!(answers(&srv), ["SRV 1 1 6379 v6-1.node.dc1.consul."]);
    assert_eq!(additionals(&srv), ["v6-1.node.dc1.consul. AAAA fd00::5"]);
    let any = ask("redis.service.consul.", RecordType::ANY);
    assert_eq!(answers(&any), ["AAAA fd00::5"]);
}

#[test]
fn host_names_answer_with_cname() {
    let a = ask("api.service.consul.", RecordType::A);
    assert_eq!(answers(&a), ["CNAME api.example.com."]);
    let srv = ask("api.service.consul.", RecordType::SRV);
    assert_eq!(answers(&srv), ["SRV 1 1 443 api.example.com."]);
    assert!(srv.additionals.is_empty());
}

#[test]
fn a_service_with_only_critical_instances_does_not_exist() {
    let r = ask("sick.service.consul.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.answers.is_empty());
    authority_is_soa(&r, "consul.");
}

#[test]
fn unknown_names_are_nxdomain_with_soa() {
    for name in [
        "nope.service.consul.",
        "nope.node.consul.",
        "nginx.consul.",
        "a.b.nginx.service.consul.",
        "zzzz.addr.consul.",
    ] {
        let r = ask(name, RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(r.metadata.authoritative);
        authority_is_soa(&r, "consul.");
    }
    let drover = ask("nope.service.drover.", RecordType::A);
    authority_is_soa(&drover, "drover.");
}

#[test]
fn known_names_without_the_type_are_nodata() {
    for (name, qtype) in [
        ("nginx.service.consul.", RecordType::TXT),
        ("nginx.service.consul.", RecordType::AAAA),
        ("web-1.node.consul.", RecordType::AAAA),
        ("consul.", RecordType::A),
    ] {
        let r = ask(name, qtype);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(r.answers.is_empty(), "{name}");
        authority_is_soa(&r, "consul.");
    }
}

#[test]
fn nodes_answer_their_address() {
    let r = ask("web-1.node.consul.", RecordType::A);
    assert_eq!(answers(&r), ["A 10.0.0.1"]);
    let dc = ask("WEB-3.node.dc2.consul.", RecordType::A);
    assert_eq!(answers(&dc), ["A 10.0.0.3"]);
    let wrong_dc = ask("web-3.node.dc1.consul.", RecordType::A);
    assert_eq!(wrong_dc.metadata.response_code, ResponseCode::NXDomain);
    // A node lookup is about the machine, not its health (as in Consul).
    let down = ask("dead-1.node.consul.", RecordType::A);
    assert_eq!(answers(&down), ["A 10.0.0.4"]);
    let v6 = ask("v6-1.node.consul.", RecordType::AAAA);
    assert_eq!(answers(&v6), ["AAAA fd00::5"]);
}

#[test]
fn addr_names_decode() {
    let r = ask("0a000002.addr.dc1.consul.", RecordType::A);
    assert_eq!(answers(&r), ["A 10.0.0.2"]);
    let v6 = ask(
        "fd000000000000000000000000000005.addr.consul.",
        RecordType::AAAA,
    );
    assert_eq!(answers(&v6), ["AAAA fd00::5"]);
}

#[test]
fn the_apex_answers_soa() {
    let r = ask("consul.", RecordType::SOA);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&r), ["SOA ns.consul. hostmaster.consul. 42"]);
}

#[test]
fn other_domains_are_refused() {
    for name in ["example.com.", "nginx.service.consul.example.", "."] {
        let r = ask(name, RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!r.metadata.authoritative);
        assert!(r.answers.is_empty() && r.authorities.is_empty());
    }
}

#[test]
fn configured_domains_and_ttl_apply() {
    let config = DnsConfig::new(
        &["Service.Example".into()],
        std::time::Duration::from_secs(30),
    )
    .expect("test value");
    let r = ask_with(
        &request("nginx.service.service.example.", RecordType::SRV),
        &config,
    );
    assert_eq!(r.answers.len(), 3);
    assert!(r.answers.iter().all(|a| a.ttl == 30));
    assert!(additionals(&r)[0].ends_with("service.example. A 10.0.0.1"));
    let consul = ask_with(&request("nginx.service.consul.", RecordType::A), &config);
    assert_eq!(consul.metadata.response_code, ResponseCode::Refused);
    let missing = ask_with(
        &request("x.service.service.example.", RecordType::A),
        &config,
    );
    assert_eq!(missing.authorities[0].ttl, 30);
}

#[test]
fn answers_are_shuffled() {
    let request = request("nginx.service.consul.", RecordType::SRV);
    let snapshot = snapshot();
    let config = DnsConfig::default();
    let orders: BTreeSet<Vec<u16>> = (0..32)
        .map(|seed| {
            let r = answer(
                &request,
                &snapshot,
                &config,
                &mut StdRng::seed_from_u64(seed),
            );
            r.answers
                .iter()
                .filter_map(|a| match &a.data {
                    RData::SRV(s) => Some(s.port),
                    _ => None,
                })
                .collect()
        })
        .collect();
    assert!(orders.len() > 1, "always one order: {orders:?}");
}

#[test]
fn odd_requests() {
    let mut notify = request("nginx.service.consul.", RecordType::A);
    notify.metadata.op_code = OpCode::Notify;
    assert_eq!(
        ask_with(&notify, &DnsConfig::default())
            .metadata
            .response_code,
        ResponseCode::NotImp
    );
    let mut two = request("nginx.service.consul.", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("web-1.node.consul.").expect("test value"),
        RecordType::A,
    ));
    assert_eq!(
        ask_with(&two, &DnsConfig::default()).metadata.response_code,
        ResponseCode::FormErr
    );
    let mut none = request("nginx.service.consul.", RecordType::A);
    none.queries.clear();
    assert_eq!(
        ask_with(&none, &DnsConfig::default())
            .metadata
            .response_code,
        ResponseCode::FormErr
    );
    let mut chaos = request("nginx.service.consul.", RecordType::A);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(
        ask_with(&chaos, &DnsConfig::default())
            .metadata
            .response_code,
        ResponseCode::Refused
    );
}

#[test]
fn edns_is_answered_with_edns() {
    let mut with = request("nginx.service.consul.", RecordType::A);
    with.set_edns(Edns::new());
    let r = ask_with(&with, &DnsConfig::default());
    assert_eq!(r.edns.as_ref().map(Edns::max_payload), Some(4096));
    let without = ask("nginx.service.consul.", RecordType::A);
    assert!(without.edns.is_none());
}

#[test]
fn before_the_catalog_is_read_everything_is_servfail() {
    let r = answer(
        &request("nginx.service.consul.", RecordType::A),
        &Snapshot::default(),
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(1),
    );
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn instances_off_their_node_address_are_targeted_by_address() {
    let nodes = [node("n1", "web-1", "10.0.0.1", "dc1")];
    let services = [reg("x", ("n1", "web-1"), "172.17.0.5", 80, &[])];
    let inputs = nodes.iter().map(|n| NodeInput {
        id: &n.metadata.uid,
        node: n,
        status: None,
    });
    let snapshot = Snapshot::build(&services, inputs, 1);
    let r = answer(
        &request("x.service.consul.", RecordType::SRV),
        &snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(1),
    );
    assert_eq!(answers(&r), ["SRV 1 1 80 ac110005.addr.dc1.consul."]);
    assert_eq!(additionals(&r), ["ac110005.addr.dc1.consul. A 172.17.0.5"]);
}

#[test]
fn odd_node_names_are_targeted_by_address() {
    let nodes = [node("n1", "web 1.local", "10.0.0.1", "")];
    let services = [reg("x", ("n1", "web 1.local"), "", 80, &[])];
    let inputs = nodes.iter().map(|n| NodeInput {
        id: &n.metadata.uid,
        node: n,
        status: None,
    });
    let snapshot = Snapshot::build(&services, inputs, 1);
    let r = answer(
        &request("x.service.consul.", RecordType::SRV),
        &snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(1),
    );
    assert_eq!(answers(&r), ["SRV 1 1 80 0a000001.addr.consul."]);
    assert_eq!(additionals(&r), ["0a000001.addr.consul. A 10.0.0.1"]);
}
