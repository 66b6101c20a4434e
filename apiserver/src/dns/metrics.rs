//! The DNS server's metrics, on the server's `/metrics`.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use super::wire::Transport;

/// Cheap to clone: the handles share their values.
#[derive(Clone)]
pub struct DnsMetrics {
    /// By transport and response code (`dropped` when nothing was sent).
    queries: IntCounterVec,
    tcp_connections: IntGauge,
}

impl DnsMetrics {
    /// Metrics that no registry exposes (the bench, tests).
    pub fn unregistered() -> prometheus::Result<Self> {
        Ok(DnsMetrics {
            queries: IntCounterVec::new(
                Opts::new(
                    "drover_dns_queries_total",
                    "DNS queries by transport (udp, tcp) and response code \
                     (NOERROR, NXDOMAIN, REFUSED, …; dropped: not answered).",
                ),
                &["transport", "rcode"],
            )?,
            tcp_connections: IntGauge::new(
                "drover_dns_tcp_connections",
                "DNS TCP connections open now.",
            )?,
        })
    }

    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.queries.clone()))?;
        registry.register(Box::new(metrics.tcp_connections.clone()))?;
        Ok(metrics)
    }

    /// Counts one query and the answer sent for it, if any.
    pub fn answered(&self, transport: Transport, answer: Option<&[u8]>) {
        let transport = match transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        self.queries
            .with_label_values(&[transport, rcode(answer)])
            .inc();
    }

    pub fn tcp_opened(&self) {
        self.tcp_connections.inc();
    }

    pub fn tcp_closed(&self) {
        self.tcp_connections.dec();
    }

    #[cfg(test)]
    fn count(&self, transport: &str, rcode: &str) -> u64 {
        self.queries.with_label_values(&[transport, rcode]).get()
    }
}

/// The response code in a response's header (the low 4 bits of byte 3).
fn rcode(answer: Option<&[u8]>) -> &'static str {
    let Some(code) = answer.and_then(|a| a.get(3)).map(|b| b & 0x0f) else {
        return "dropped";
    };
    match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_their_code() {
        let metrics = DnsMetrics::unregistered().expect("metrics");
        metrics.answered(Transport::Udp, Some(&[0, 1, 0x84, 0x03]));
        metrics.answered(Transport::Udp, Some(&[0, 1, 0x84, 0x00]));
        metrics.answered(Transport::Tcp, Some(&[0, 1, 0x84, 0x05]));
        metrics.answered(Transport::Udp, None);
        assert_eq!(metrics.count("udp", "NXDOMAIN"), 1);
        assert_eq!(metrics.count("udp", "NOERROR"), 1);
        assert_eq!(metrics.count("tcp", "REFUSED"), 1);
        assert_eq!(metrics.count("udp", "dropped"), 1);
        let registry = Registry::new();
        assert!(DnsMetrics::register(&registry).is_ok());
    }
}
