//! Bytes in, bytes out, around the pure [`answer`](super::answer::answer):
//! what to do with packets that do not parse, and how to fit an answer in
//! the room the transport gives it.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use rand::Rng;

use super::answer::answer;
use super::{DnsConfig, Snapshot};

/// How the query came, which bounds the answer's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The classic UDP limit, for clients without EDNS (RFC 1035).
const UDP_CLASSIC: usize = 512;
/// What a 2-byte TCP length prefix can carry.
const TCP_MAX: usize = u16::MAX as usize;

/// The response bytes for `packet`, or `None` when nothing should be sent:
/// a packet too short to carry a header, or one that is itself a response
/// (answering those would let two servers bounce packets forever).
pub fn handle(
    packet: &[u8],
    transport: Transport,
    snapshot: &Snapshot,
    config: &DnsConfig,
    rng: &mut impl Rng,
) -> Option<Vec<u8>> {
    let request = match Message::from_vec(packet) {
        Ok(request) => request,
        Err(_) => return form_error(packet),
    };
    if request.metadata.message_type == MessageType::Response {
        return None;
    }
    let limit = match transport {
        Transport::Tcp => TCP_MAX,
        Transport::Udp => match &request.edns {
            Some(edns) => {
                usize::from(edns.max_payload().min(config.max_udp_payload)).max(UDP_CLASSIC)
            }
            None => UDP_CLASSIC,
        },
    };
    let response = answer(&request, snapshot, config, rng);
    encode(response, limit)
}

/// FORMERR for a packet whose header reads but whose body does not; the
/// header is all we echo.
fn form_error(packet: &[u8]) -> Option<Vec<u8>> {
    let header = packet.get(..12)?;
    // QR set: a response, never answered.
    if header[2] & 0x80 != 0 {
        return None;
    }
    let id = u16::from_be_bytes([header[0], header[1]]);
    let op_code = OpCode::from_u8((header[2] >> 3) & 0x0f);
    let message = Message::error_msg(id, op_code, ResponseCode::FormErr);
    message.to_vec().ok()
}

/// `response` serialised within `limit` bytes. When it does not fit, the
/// additional section goes, then as many answers as it takes, and TC is
/// set so the client asks again over TCP (RFC 2181 §9).
pub fn encode(mut response: Message, limit: usize) -> Option<Vec<u8>> {
    let fallback = servfail_of(&response);
    let bytes = match response.to_vec() {
        Ok(bytes) => bytes,
        Err(_) => return fallback,
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    response.metadata.truncation = true;
    response.additionals.clear();
    let answers = std::mem::take(&mut response.answers);
    // The longest prefix of the answers that fits: at most log2(n) encodes.
    let (mut fits, mut over) = (0, answers.len() + 1);
    let mut best = None;
    while fits + 1 < over {
        let mid = (fits + over) / 2;
        response.answers = answers[..mid].to_vec();
        match response.to_vec() {
            Ok(bytes) if bytes.len() <= limit => {
                fits = mid;
                best = Some(bytes);
            }
            _ => over = mid,
        }
    }
    if let Some(bytes) = best {
        return Some(bytes);
    }
    response.answers.clear();
    response.authorities.clear();
    response
        .to_vec()
        .ok()
        .filter(|b| b.len() <= limit)
        .or(fallback)
}

/// A bare SERVFAIL for `response`'s id, for when it cannot be encoded.
fn servfail_of(response: &Message) -> Option<Vec<u8>> {
    Message::error_msg(
        response.metadata.id,
        response.metadata.op_code,
        ResponseCode::ServFail,
    )
    .to_vec()
    .ok()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
