//! The smallest DNS client the catalog benchmark needs: one SRV question
//! over UDP with EDNS, answered as (address, port) pairs, the address taken from the
//! additional A/AAAA record of each SRV target.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context as _};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// How long one question may go unanswered before it counts as lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// Asks `server` for `name`'s SRV records.
pub async fn srv_lookup(server: SocketAddr, name: &str) -> anyhow::Result<Vec<(IpAddr, u16)>> {
    let mut question = Message::query();
    question.metadata.recursion_desired = false;
    // Fifty instances do not fit the classic 512 bytes; EDNS lets the
    // whole answer come back over UDP, as a resolver would ask for it.
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    question.set_edns(edns);
    question.add_query(Query::query(
        Name::from_ascii(name).context("a DNS name")?,
        RecordType::SRV,
    ));
    let bytes = question.to_vec().context("encoding the question")?;
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .context("a UDP socket")?;
    socket.send_to(&bytes, server).await.context("sending")?;
    let mut buffer = vec![0u8; 65535];
    let len = tokio::time::timeout(ANSWER_TIMEOUT, socket.recv(&mut buffer))
        .await
        .context("no answer")?
        .context("receiving")?;
    let answer = Message::from_vec(&buffer[..len]).context("decoding the answer")?;
    if answer.metadata.id != question.metadata.id {
        bail!("an answer to another question");
    }
    if answer.metadata.truncation {
        bail!("a truncated answer (more than 4096 bytes)");
    }
    Ok(srv_targets(&answer))
}

/// The (address, port) of every SRV answer whose target has an address in
/// the additional section.
fn srv_targets(answer: &Message) -> Vec<(IpAddr, u16)> {
    let mut addresses: HashMap<&Name, IpAddr> = HashMap::new();
    for record in &answer.additionals {
        match &record.data {
            RData::A(a) => {
                addresses.insert(&record.name, IpAddr::V4(a.0));
            }
            RData::AAAA(aaaa) => {
                addresses.insert(&record.name, IpAddr::V6(aaaa.0));
            }
            _ => {}
        }
    }
    answer
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) => addresses.get(&srv.target).map(|ip| (*ip, srv.port)),
            _ => None,
        })
        .collect()
}
