//! Which catalog question a DNS name asks, Consul's way: the name is read
//! from the right — domain, optional datacenter, the kind (`service`,
//! `node`, `addr`), then what the kind needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

/// A parsed query name, lowercase throughout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The served domain itself (`consul.`): SOA.
    Apex,
    /// `[<tag>.]<service>.service[.<ns>.ns][.<dc>.dc]` (or the legacy
    /// `.service.<dc>`), or `_<service>._<tag>.service…`. No namespace
    /// means `default`: another namespace's services answer only by name.
    Service {
        service: String,
        tag: Option<String>,
        namespace: Option<String>,
        datacenter: Option<String>,
    },
    /// `<node>.node[.<dc>]`.
    Node {
        node: String,
        datacenter: Option<String>,
    },
    /// `<hex ip>.addr[.<dc>]`: the SRV targets this server hands out.
    Addr(IpAddr),
    /// Inside the domain, but no name this server answers.
    Unknown,
}

/// The served domain `name` falls in (lowercase, as configured) and the
/// question it asks; `None` when it is outside every domain.
pub fn parse<'d>(name: &Name, domains: &'d [Name]) -> Option<(&'d Name, Lookup)> {
    let lower = name.to_lowercase();
    let domain = domains.iter().find(|d| d.zone_of(&lower))?;
    let labels: Vec<String> = lower
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let relative = labels
        .len()
        .saturating_sub(usize::from(domain.num_labels()));
    Some((domain, lookup(&labels[..relative])))
}

fn lookup(labels: &[String]) -> Lookup {
    if labels.is_empty() {
        return Lookup::Apex;
    }
    // The kind is followed by nothing, `<dc>`, `<dc>.dc`, `<ns>.ns` or
    // `<ns>.ns.<dc>.dc`: at most four labels.
    let from = labels.len().saturating_sub(5);
    for kind_at in (from..labels.len()).rev() {
        if !is_kind(&labels[kind_at]) {
            continue;
        }
        let Some((namespace, datacenter)) = suffix(&labels[kind_at + 1..]) else {
            continue;
        };
        let before = &labels[..kind_at];
        return match labels[kind_at].as_str() {
            "service" => service(before, namespace, datacenter),
            "node" if !before.is_empty() && namespace.is_none() => Lookup::Node {
                // Node names may hold dots; Consul joins the labels back.
                node: before.join("."),
                datacenter,
            },
            "addr" if namespace.is_none() => match before {
                [hex] => decode_addr(hex).map_or(Lookup::Unknown, Lookup::Addr),
                _ => Lookup::Unknown,
            },
            _ => Lookup::Unknown,
        };
    }
    Lookup::Unknown
}

/// `(namespace, datacenter)` of what follows the kind.
fn suffix(rest: &[String]) -> Option<(Option<String>, Option<String>)> {
    match rest {
        [] => Some((None, None)),
        [dc, kind] if kind == "dc" => Some((None, Some(dc.clone()))),
        [ns, kind] if kind == "ns" => Some((Some(ns.clone()), None)),
        [ns, ns_kind, dc, dc_kind] if ns_kind == "ns" && dc_kind == "dc" => {
            Some((Some(ns.clone()), Some(dc.clone())))
        }
        [dc] => Some((None, Some(dc.clone()))),
        _ => None,
    }
}

fn is_kind(label: &str) -> bool {
    matches!(label, "service" | "node" | "addr")
}

fn service(before: &[String], namespace: Option<String>, datacenter: Option<String>) -> Lookup {
    let (service, tag) = match before {
        [service] => (service.clone(), None),
        // RFC 2782: `_tcp` is the protocol, not a tag (Consul reads it so).
        [service, tag] if service.starts_with('_') && tag.starts_with('_') => {
            let tag = &tag[1..];
            let tag = (tag != "tcp" && !tag.is_empty()).then(|| tag.to_string());
            (service[1..].to_string(), tag)
        }
        [tag, service] => (service.clone(), Some(tag.clone())),
        _ => return Lookup::Unknown,
    };
    if service.is_empty() {
        return Lookup::Unknown;
    }
    Lookup::Service {
        service,
        tag,
        namespace,
        datacenter,
    }
}

/// An IP address from its hex form: 8 digits for IPv4, 32 for IPv6.
pub fn decode_addr(hex: &str) -> Option<IpAddr> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        8 => u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        32 => u128::from_str_radix(hex, 16)
            .ok()
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        _ => None,
    }
}

/// The hex form [`decode_addr`] reads.
pub fn encode_addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:08x}", u32::from(v4)),
        IpAddr::V6(v6) => format!("{:032x}", u128::from(v6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<Name> {
        vec![
            Name::from_ascii("consul.").expect("test value"),
            Name::from_ascii("drover.").expect("test value"),
        ]
    }

    fn parsed(name: &str) -> Option<(String, Lookup)> {
        let domains = domains();
        parse(&Name::from_ascii(name).expect("test value"), &domains)
            .map(|(d, l)| (d.to_ascii(), l))
    }

    fn svc(service: &str, tag: Option<&str>, dc: Option<&str>) -> Lookup {
        Lookup::Service {
            service: service.into(),
            tag: tag.map(Into::into),
            namespace: None,
            datacenter: dc.map(Into::into),
        }
    }

    #[test]
    fn namespaces_and_datacenters_in_consuls_form() {
        let in_ns = |ns: &str, dc: Option<&str>| Lookup::Service {
            service: "api".into(),
            tag: None,
            namespace: Some(ns.into()),
            datacenter: dc.map(Into::into),
        };
        assert_eq!(
            parsed("api.service.web.ns.consul.").map(|p| p.1),
            Some(in_ns("web", None))
        );
        assert_eq!(
            parsed("api.service.web.ns.dc2.dc.consul.").map(|p| p.1),
            Some(in_ns("web", Some("dc2")))
        );
        assert_eq!(
            parsed("api.service.dc2.dc.consul.").map(|p| p.1),
            Some(svc("api", None, Some("dc2")))
        );
        assert_eq!(
            parsed("api.service.dc2.consul.").map(|p| p.1),
            Some(svc("api", None, Some("dc2")))
        );
        assert_eq!(
            parsed("n1.node.web.ns.consul.").map(|p| p.1),
            Some(Lookup::Unknown),
            "nodes have no namespace"
        );
    }

    #[test]
    fn service_names() {
        let cases = [
            ("nginx.service.consul.", svc("nginx", None, None)),
            ("NGINX.Service.CONSUL.", svc("nginx", None, None)),
            ("nginx.service.dc1.consul.", svc("nginx", None, Some("dc1"))),
            ("v1.nginx.service.consul.", svc("nginx", Some("v1"), None)),
            (
                "v1.nginx.service.dc1.consul.",
                svc("nginx", Some("v1"), Some("dc1")),
            ),
            ("_nginx._tcp.service.consul.", svc("nginx", None, None)),
            ("_nginx._v1.service.consul.", svc("nginx", Some("v1"), None)),
            (
                "_nginx._tcp.service.dc2.consul.",
                svc("nginx", None, Some("dc2")),
            ),
            ("a.b.nginx.service.consul.", Lookup::Unknown),
            ("service.consul.", Lookup::Unknown),
            ("nginx.consul.", Lookup::Unknown),
            ("nginx.bogus.dc1.consul.", Lookup::Unknown),
        ];
        for (name, want) in cases {
            assert_eq!(parsed(name).map(|p| p.1), Some(want), "{name}");
        }
    }

    #[test]
    fn node_addr_and_apex_names() {
        assert_eq!(
            parsed("Web-1.node.consul.").map(|p| p.1),
            Some(Lookup::Node {
                node: "web-1".into(),
                datacenter: None
            })
        );
        assert_eq!(
            parsed("web-1.node.dc1.drover.").map(|p| p.1),
            Some(Lookup::Node {
                node: "web-1".into(),
                datacenter: Some("dc1".into())
            })
        );
        assert_eq!(
            parsed("0a000001.addr.dc1.consul.").map(|p| p.1),
            Some(Lookup::Addr("10.0.0.1".parse().expect("test value")))
        );
        assert_eq!(
            parsed("zz000001.addr.consul.").map(|p| p.1),
            Some(Lookup::Unknown)
        );
        assert_eq!(parsed("node.consul.").map(|p| p.1), Some(Lookup::Unknown));
        assert_eq!(parsed("consul.").map(|p| p.1), Some(Lookup::Apex));
        assert_eq!(parsed("Drover.").map(|p| p.0), Some("drover.".into()));
    }

    #[test]
    fn names_outside_the_domains_are_not_ours() {
        assert_eq!(parsed("example.com."), None);
        assert_eq!(parsed("nginx.service.consul.example."), None);
        assert_eq!(parsed("notconsul."), None);
    }

    #[test]
    fn addresses_round_trip_through_hex() {
        for ip in [
            "10.0.0.1",
            "255.255.255.255",
            "::1",
            "2001:db8::8:800:200c:417a",
        ] {
            let ip: IpAddr = ip.parse().expect("test value");
            assert_eq!(decode_addr(&encode_addr(ip)), Some(ip));
        }
        assert_eq!(decode_addr("0a00001"), None);
        assert_eq!(decode_addr("+a000001"), None);
    }
}
