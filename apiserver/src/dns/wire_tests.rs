use drover_api_types::service::ServiceRegistration;
use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};

use super::{encode, handle, Transport};
use crate::dns::catalog::Snapshot;
use crate::dns::DnsConfig;

/// `many` with `count` instances, each on its own address.
fn snapshot(count: u16) -> Snapshot {
    let services: Vec<ServiceRegistration> = (0..count)
        .map(|i| {
            let mut reg = ServiceRegistration::default();
            reg.spec.service_name = "many".into();
            reg.spec.address = format!("10.1.{}.{}", i / 250, i % 250 + 1);
            reg.spec.port = 20000 + i;
            reg.spec.node_name = format!("node-{i}");
            reg.spec.datacenter = "dc1".into();
            reg
        })
        .collect();
    Snapshot::build(&services, [], 1)
}

fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut message = Message::query();
    message.add_query(Query::query(
        Name::from_ascii(name).expect("test value"),
        qtype,
    ));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        message.set_edns(e);
    }
    message.to_vec().expect("test value")
}

fn run(packet: &[u8], transport: Transport, snapshot: &Snapshot) -> Option<Message> {
    let bytes = handle(
        packet,
        transport,
        snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(3),
    )?;
    Some(Message::from_vec(&bytes).expect("our answers parse"))
}

#[test]
fn a_small_answer_goes_whole() {
    let r = run(
        &query("many.service.consul.", RecordType::A, None),
        Transport::Udp,
        &snapshot(3),
    )
    .expect("test value");
    assert_eq!(r.answers.len(), 3);
    assert!(!r.metadata.truncation);
}

#[test]
fn udp_without_edns_truncates_at_512() {
    let snapshot = snapshot(100);
    let packet = query("many.service.consul.", RecordType::SRV, None);
    let bytes = handle(
        &packet,
        Transport::Udp,
        &snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(3),
    )
    .expect("test value");
    assert!(bytes.len() <= 512, "{}", bytes.len());
    let r = Message::from_vec(&bytes).expect("test value");
    assert!(r.metadata.truncation);
    assert!(!r.answers.is_empty() && r.answers.len() < 100);
    assert!(r.additionals.is_empty());
    // Over TCP the same question gets everything.
    let tcp = run(&packet, Transport::Tcp, &snapshot).expect("test value");
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 100);
    assert_eq!(tcp.additionals.len(), 100);
}

#[test]
fn udp_with_edns_gets_the_room_it_asks_for() {
    let snapshot = snapshot(100);
    let big = run(
        &query("many.service.consul.", RecordType::A, Some(4096)),
        Transport::Udp,
        &snapshot,
    )
    .expect("test value");
    assert!(!big.metadata.truncation);
    assert_eq!(big.answers.len(), 100);
    assert!(big.edns.is_some());
    // Below 512 counts as 512 (RFC 6891).
    let bytes = handle(
        &query("many.service.consul.", RecordType::A, Some(100)),
        Transport::Udp,
        &snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(3),
    )
    .expect("test value");
    assert!(bytes.len() <= 512 && bytes.len() > 400, "{}", bytes.len());
    // More than we allow is capped at ours.
    let config = DnsConfig {
        max_udp_payload: 1232,
        ..DnsConfig::default()
    };
    let capped = handle(
        &query("many.service.consul.", RecordType::SRV, Some(65000)),
        Transport::Udp,
        &snapshot,
        &config,
        &mut StdRng::seed_from_u64(3),
    )
    .expect("test value");
    assert!(capped.len() <= 1232);
    assert!(
        Message::from_vec(&capped)
            .expect("test value")
            .metadata
            .truncation
    );
}

#[test]
fn encode_keeps_the_header_when_nothing_fits() {
    let snapshot = snapshot(3);
    let request =
        Message::from_vec(&query("many.service.consul.", RecordType::A, None)).expect("test value");
    let response = crate::dns::answer::answer(
        &request,
        &snapshot,
        &DnsConfig::default(),
        &mut StdRng::seed_from_u64(1),
    );
    let bytes = encode(response, 40).expect("test value");
    let r = Message::from_vec(&bytes).expect("test value");
    assert!(r.metadata.truncation);
    assert!(r.answers.is_empty());
}

#[test]
fn responses_are_never_answered() {
    let mut message =
        Message::from_vec(&query("many.service.consul.", RecordType::A, None)).expect("test value");
    message.metadata.message_type = MessageType::Response;
    assert!(run(
        &message.to_vec().expect("test value"),
        Transport::Udp,
        &snapshot(1)
    )
    .is_none());
}

#[test]
fn a_readable_header_with_a_broken_body_is_formerr() {
    let mut packet = query("many.service.consul.", RecordType::A, None);
    packet.truncate(packet.len() - 3);
    let r = run(&packet, Transport::Udp, &snapshot(1)).expect("test value");
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.metadata.id, u16::from_be_bytes([packet[0], packet[1]]));
    assert_eq!(r.metadata.message_type, MessageType::Response);
    // Shorter than a header: silence.
    assert!(run(&packet[..11], Transport::Udp, &snapshot(1)).is_none());
    assert!(run(&[], Transport::Tcp, &snapshot(1)).is_none());
}

/// Random bytes, and valid queries with random bytes flipped, never
/// panic, and whatever is sent back parses.
#[test]
fn garbage_never_panics() {
    let snapshot = snapshot(20);
    let config = DnsConfig::default();
    let mut rng = StdRng::seed_from_u64(99);
    let seeds = [
        query("many.service.consul.", RecordType::SRV, Some(1232)),
        query("_many._tcp.service.dc1.consul.", RecordType::SRV, None),
        query("node-1.node.consul.", RecordType::A, None),
        query("example.com.", RecordType::A, None),
    ];
    for round in 0..20_000 {
        let packet: Vec<u8> = if round % 2 == 0 {
            let len = rng.random_range(0..600);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            bytes
        } else {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            if rng.random_bool(0.2) {
                bytes.truncate(rng.random_range(0..bytes.len()));
            }
            bytes
        };
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Some(answer) = handle(&packet, transport, &snapshot, &config, &mut rng) {
                if transport == Transport::Udp {
                    assert!(answer.len() <= 4096);
                }
                assert!(
                    Message::from_vec(&answer).is_ok(),
                    "unparseable answer to {packet:?}"
                );
            }
        }
    }
}
