//! Server-issued credentials for the agents' HTTP APIs: whoever merely
//! reaches a node's `:4647` gets no task logs.
//!
//! Servers keep one master key in etcd (`secrets/agent-api-key`, made by
//! the first server); each node checks tokens with its own key, derived
//! from it ([`node_key`]) and kept where only that node (and the servers)
//! may read it (`nodes-api-key/<node>`), so a node's key opens no other
//! node. A server asking an agent for a path signs `(node id, expiry,
//! path)` with that node's key (HMAC-SHA256) and sends the result as
//! `Authorization: Bearer v1.<expiry>.<mac>`; the agent checks the MAC for
//! its own node id and that very path, and that the expiry is at most
//! [`TTL`] ahead and not past. A token is good for one path on one node for
//! a minute, so one seen on the wire opens nothing else.

use std::time::Duration;

use ring::hmac;

/// How long a token is good for.
pub const TTL: Duration = Duration::from_secs(60);

/// A new random key (hex of 32 bytes).
pub fn new_key() -> Result<String, &'static str> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system's random source failed")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn signing_input(node_id: &str, expiry: u64, path: &str) -> String {
    format!("v1\n{node_id}\n{expiry}\n{path}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Node `node_id`'s own key, derived from the servers' `master` key.
pub fn node_key(master: &str, node_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, master.as_bytes());
    hex(hmac::sign(&key, format!("node-key\n{node_id}").as_bytes()).as_ref())
}

/// The token for asking node `node_id` for `path`, issued at `now` (Unix
/// seconds) with the servers' `master` key.
pub fn issue(master: &str, node_id: &str, path: &str, now: u64) -> String {
    let expiry = now + TTL.as_secs();
    let node = node_key(master, node_id);
    let key = hmac::Key::new(hmac::HMAC_SHA256, node.as_bytes());
    let tag = hmac::sign(&key, signing_input(node_id, expiry, path).as_bytes());
    format!("v1.{expiry}.{}", hex(tag.as_ref()))
}

/// Why `token` does not let its bearer ask node `node_id` for `path` at
/// `now`, if it does not; `key` is the node's own ([`node_key`]).
pub fn verify(
    key: &str,
    node_id: &str,
    path: &str,
    token: &str,
    now: u64,
) -> Result<(), &'static str> {
    let mut parts = token.splitn(3, '.');
    let (Some("v1"), Some(expiry), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not a drover agent token");
    };
    let expiry: u64 = expiry.parse().map_err(|_| "not a drover agent token")?;
    if expiry < now {
        return Err("the token has expired");
    }
    if expiry > now + TTL.as_secs() + 5 {
        return Err("the token is good for longer than servers issue them");
    }
    let mac = unhex(mac).ok_or("not a drover agent token")?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hmac::verify(&key, signing_input(node_id, expiry, path).as_bytes(), &mac)
        .map_err(|_| "the token was not issued for this node and path")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_one_path_on_one_node_for_a_minute() {
        let key = new_key().expect("key");
        assert_eq!(key.len(), 64);
        let path = "/v1/client/logs/a1/web";
        let token = issue(&key, "node-1", path, 1_000);
        // The node holds its own key, not the servers' master key.
        let master = key.clone();
        let key = node_key(&master, "node-1");
        assert_eq!(verify(&key, "node-1", path, &token, 1_000), Ok(()));
        assert!(verify(&master, "node-1", path, &token, 1_000).is_err());
        // Another node's key opens nothing here.
        let other_node = node_key(&master, "node-2");
        assert!(verify(&other_node, "node-1", path, &token, 1_000).is_err());
        assert_eq!(verify(&key, "node-1", path, &token, 1_060), Ok(()));
        assert_eq!(
            verify(&key, "node-1", path, &token, 1_061),
            Err("the token has expired")
        );
        for (node, other_path) in [("node-2", path), ("node-1", "/v1/client/logs/a2/web")] {
            assert_eq!(
                verify(&key, node, other_path, &token, 1_000),
                Err("the token was not issued for this node and path")
            );
        }
        let other_key = new_key().expect("key");
        assert!(verify(&other_key, "node-1", path, &token, 1_000).is_err());
        // A forged expiry breaks the MAC; a far one is refused outright.
        let stretched = token.replacen("v1.1060.", "v1.1070.", 1);
        assert!(verify(&key, "node-1", path, &stretched, 1_000).is_err());
        let far = issue(&master, "node-1", path, 10_000);
        assert!(verify(&key, "node-1", path, &far, 1_000).is_err());
        for junk in ["", "v1", "v2.1.ab", "v1.x.ab", "v1.1060.zz"] {
            assert!(verify(&key, "node-1", path, junk, 1_000).is_err(), "{junk}");
        }
    }
}
