//! What the KV endpoints decide, without I/O: how a value and its flags
//! are stored, which guard a `cas` asks for, what a delete-cas answers,
//! how `keys` with a `separator` folds keys, and Consul's entry shape.
//!
//! A value is stored as a small JSON envelope, `{"flags": N, "value":
//! base64}`, so the flags travel with the bytes in one etcd write (a cas
//! covers both) and `raw` reads give back exactly the bytes put.

use base64::Engine;
use drover_store::Guard;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Consul's default `kv_max_value_size`.
pub const MAX_VALUE: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub flags: u64,
    /// Base64; `None` for a value put with an empty body (Consul's null).
    pub value: Option<String>,
}

impl Envelope {
    pub fn new(bytes: &[u8], flags: u64) -> Envelope {
        Envelope {
            flags,
            value: (!bytes.is_empty())
                .then(|| base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // A struct of a number and a string always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored envelope; a value written by hand (`etcdctl put`)
    /// that is not one is served as its raw bytes with no flags.
    pub fn decode(stored: &[u8]) -> Envelope {
        serde_json::from_slice(stored).unwrap_or_else(|_| Envelope::new(stored, 0))
    }

    /// The bytes, for `?raw`.
    pub fn bytes(&self) -> Vec<u8> {
        self.value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .unwrap_or_default()
    }
}

/// The guard a PUT's `cas` asks for: 0 means "only if absent", N "only if
/// the key's ModifyIndex is still N".
pub fn put_guard(cas: Option<u64>) -> Guard {
    match cas {
        None => Guard::None,
        Some(0) => Guard::Absent,
        Some(n) => Guard::Revision(i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

/// What a DELETE with `cas` answers when the guarded delete did not
/// happen: Consul answers `true` when there was nothing to delete.
pub fn delete_cas_answer(deleted: bool, still_exists: bool) -> bool {
    deleted || !still_exists
}

/// `?keys&separator=`: the keys under `prefix`, each cut after the first
/// separator past the prefix (so a "folder" is listed once), sorted.
pub fn fold_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    prefix: &str,
    separator: &str,
) -> Vec<String> {
    let mut out: Vec<String> = keys
        .into_iter()
        .filter_map(|k| {
            let rest = k.strip_prefix(prefix)?;
            if separator.is_empty() {
                return Some(k.to_string());
            }
            Some(match rest.find(separator) {
                Some(at) => format!("{prefix}{}", &rest[..at + separator.len()]),
                None => k.to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One `api.KVPair` as Consul serves it.
pub fn entry(key: &str, envelope: &Envelope, create: i64, modify: i64) -> Value {
    json!({
        "Key": key,
        "Value": envelope.value,
        "Flags": envelope.flags,
        "LockIndex": 0,
        "CreateIndex": create,
        "ModifyIndex": modify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_keep_exact_bytes_and_flags() {
        let bytes = [0u8, 255, 10, b'x'];
        let e = Envelope::decode(&Envelope::new(&bytes, 42).encode());
        assert_eq!((e.bytes(), e.flags), (bytes.to_vec(), 42));
        let empty = Envelope::new(b"", 0);
        assert_eq!(empty.value, None);
        assert!(empty.bytes().is_empty());
        // Hand-written values read as themselves.
        assert_eq!(Envelope::decode(b"plain").bytes(), b"plain");
    }

    #[test]
    fn cas_maps_to_guards() {
        assert_eq!(put_guard(None), Guard::None);
        assert_eq!(put_guard(Some(0)), Guard::Absent);
        assert_eq!(put_guard(Some(17)), Guard::Revision(17));
        assert!(delete_cas_answer(true, false));
        assert!(delete_cas_answer(false, false), "nothing to delete");
        assert!(!delete_cas_answer(false, true), "index moved on");
    }

    #[test]
    fn keys_fold_at_the_separator() {
        let keys = ["app/a", "app/b/c", "app/b/d", "apple", "other"];
        assert_eq!(
            fold_keys(keys, "app/", "/"),
            ["app/a", "app/b/"],
            "folders once"
        );
        assert_eq!(fold_keys(keys, "app", "/"), ["app/", "apple"]);
        assert_eq!(fold_keys(keys, "app", "").len(), 4);
        assert_eq!(fold_keys(keys, "", "/"), ["app/", "apple", "other"]);
    }

    #[test]
    fn entries_have_consuls_fields() {
        let e = entry("k", &Envelope::new(b"hi", 3), 5, 9);
        assert_eq!(e["Value"], "aGk=");
        assert_eq!(
            (
                e["Flags"].as_u64(),
                e["CreateIndex"].as_i64(),
                e["ModifyIndex"].as_i64()
            ),
            (Some(3), Some(5), Some(9))
        );
    }
}
