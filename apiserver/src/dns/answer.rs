//! The pure core: a request message and a catalog snapshot in, the
//! response message out. No sockets, no clock; the shuffle's randomness is
//! an argument so tests can seed it.
//!
//! Consul's answers: A/AAAA for every healthy instance (deduplicated, as
//! several instances often share a node's address), SRV with priority 1,
//! weight 1 and a target whose A/AAAA record rides in the additional
//! section; NXDOMAIN with the SOA for names that exist nowhere (including
//! a service with no healthy instance), NOERROR with the SOA for a name
//! that has no record of the asked type.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom as _;
use rand::Rng;

use super::catalog::{Address, Instance, Snapshot};
use super::name::{self, Lookup};
use super::DnsConfig;

/// The response to `request`.
pub fn answer(
    request: &Message,
    snapshot: &Snapshot,
    config: &DnsConfig,
    rng: &mut impl Rng,
) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        // RFC 6891: answer EDNS with EDNS, advertising what we accept.
        let mut edns = Edns::new();
        edns.set_max_payload(config.max_udp_payload.max(512));
        response.set_edns(edns);
    }
    let code = if request.metadata.op_code != OpCode::Query {
        ResponseCode::NotImp
    } else if request.metadata.message_type != MessageType::Query || request.queries.len() != 1 {
        ResponseCode::FormErr
    } else if !snapshot.ready {
        ResponseCode::ServFail
    } else {
        resolve(&request.queries[0], snapshot, config, rng, &mut response)
    };
    response.metadata.response_code = code;
    response
}

fn resolve(
    query: &Query,
    snapshot: &Snapshot,
    config: &DnsConfig,
    rng: &mut impl Rng,
    response: &mut Message,
) -> ResponseCode {
    if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
        return ResponseCode::Refused;
    }
    // Not a recursor: anything outside our domains is someone else's.
    let Some((domain, lookup)) = name::parse(query.name(), &config.domains) else {
        return ResponseCode::Refused;
    };
    response.metadata.authoritative = true;
    let mut out = Records {
        qname: query.name().clone(),
        qtype: query.query_type(),
        ttl: config.ttl,
        answers: Vec::new(),
        additionals: Vec::new(),
    };
    let found = match &lookup {
        Lookup::Apex => {
            if matches!(out.qtype, RecordType::SOA | RecordType::ANY) {
                out.answers.push(soa(domain, snapshot, config));
            }
            true
        }
        Lookup::Service {
            service,
            tag,
            namespace,
            datacenter,
        } => {
            let namespace = namespace
                .clone()
                .unwrap_or_else(|| drover_api_types::meta::DEFAULT_NAMESPACE.to_string());
            let mut instances: Vec<&Instance> = snapshot
                .services
                .get(&(namespace, service.clone()))
                .into_iter()
                .flatten()
                .filter(|i| tag.as_ref().is_none_or(|t| i.tags.contains(t)))
                .filter(|i| datacenter.as_ref().is_none_or(|dc| &i.datacenter == dc))
                .collect();
            instances.shuffle(rng);
            out.service(&instances, domain);
            !instances.is_empty()
        }
        Lookup::Node { node, datacenter } => match snapshot.nodes.get(node) {
            Some(entry) if datacenter.as_ref().is_none_or(|dc| &entry.datacenter == dc) => {
                if let Some(address) = &entry.address {
                    out.address(address);
                }
                true
            }
            _ => false,
        },
        Lookup::Addr(ip) => {
            out.address(&Address::Ip(*ip));
            true
        }
        Lookup::Unknown => false,
    };
    let Records {
        answers,
        additionals,
        ..
    } = out;
    if answers.is_empty() {
        // NXDOMAIN or NODATA: either way the SOA says how long to cache it.
        response.add_authority(soa(domain, snapshot, config));
    }
    response.insert_answers(answers);
    response.insert_additionals(additionals);
    if found {
        ResponseCode::NoError
    } else {
        ResponseCode::NXDomain
    }
}

/// The records of one answer, as they are gathered.
struct Records {
    qname: Name,
    qtype: RecordType,
    ttl: u32,
    answers: Vec<Record>,
    additionals: Vec<Record>,
}

impl Records {
    fn service(&mut self, instances: &[&Instance], domain: &Name) {
        if self.qtype == RecordType::SRV {
            for instance in instances {
                let (target, glue) = target(instance, domain);
                let srv = SRV::new(1, 1, instance.port, target.clone());
                self.answers.push(Record::from_rdata(
                    self.qname.clone(),
                    self.ttl,
                    RData::SRV(srv),
                ));
                if let Some(ip) = glue {
                    let record = Record::from_rdata(target, self.ttl, ip_rdata(ip));
                    if !self.additionals.contains(&record) {
                        self.additionals.push(record);
                    }
                }
            }
        } else {
            for instance in instances {
                self.address(&instance.address);
            }
        }
    }

    /// The records of the query name pointing at `address`, for the asked
    /// type (A, AAAA, or both for ANY); duplicates are skipped.
    fn address(&mut self, address: &Address) {
        let rdata = match address {
            Address::Ip(ip) => {
                let wanted = match ip {
                    IpAddr::V4(_) => RecordType::A,
                    IpAddr::V6(_) => RecordType::AAAA,
                };
                if self.qtype != wanted && self.qtype != RecordType::ANY {
                    return;
                }
                ip_rdata(*ip)
            }
            Address::Host(host) => {
                if !matches!(
                    self.qtype,
                    RecordType::A | RecordType::AAAA | RecordType::ANY
                ) {
                    return;
                }
                RData::CNAME(CNAME(host.clone()))
            }
        };
        let record = Record::from_rdata(self.qname.clone(), self.ttl, rdata);
        if !self.answers.contains(&record) {
            self.answers.push(record);
        }
    }
}

/// An SRV target and the address to glue to it, as Consul picks them:
/// `<node>.node.<dc>.<domain>` when the instance is at its node's address
/// and the node's name is a usable label, else `<hex ip>.addr.<dc>.<domain>`
/// (a resolver that ignores the glue and looks the target up must get the
/// instance's address, not the node's); a host name is its own target.
fn target(instance: &Instance, domain: &Name) -> (Name, Option<IpAddr>) {
    let ip = match &instance.address {
        Address::Host(host) => return (host.clone(), None),
        Address::Ip(ip) => *ip,
    };
    let mut labels: Vec<String> = Vec::with_capacity(4);
    if instance.at_node_address && valid_label(&instance.node) {
        labels.push(instance.node.to_lowercase());
        labels.push("node".into());
    } else {
        labels.push(name::encode_addr(ip));
        labels.push("addr".into());
    }
    if valid_label(&instance.datacenter) {
        labels.push(instance.datacenter.clone());
    }
    let name = Name::from_labels(labels.iter().map(String::as_bytes))
        .and_then(|n| n.append_domain(domain));
    match name {
        Ok(name) => (name, Some(ip)),
        // Unreachable with valid labels; the addr form always is.
        Err(_) => (domain.clone(), Some(ip)),
    }
}

/// A node name usable as one DNS label as it stands. A node whose name is
/// not (dots, spaces, too long) is targeted by address instead.
fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn ip_rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    }
}

/// Consul's SOA: `ns.<domain>`, `hostmaster.<domain>`, the catalog index
/// as the serial, and the TTL as the negative-caching minimum.
fn soa(domain: &Name, snapshot: &Snapshot, config: &DnsConfig) -> Record {
    let under = |label: &str| {
        Name::from_labels([label.as_bytes()])
            .and_then(|n| n.append_domain(domain))
            .unwrap_or_else(|_| domain.clone())
    };
    let soa = SOA::new(
        under("ns"),
        under("hostmaster"),
        snapshot.serial,
        3600,
        600,
        86400,
        config.ttl,
    );
    Record::from_rdata(domain.clone(), config.ttl, RData::SOA(soa))
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
