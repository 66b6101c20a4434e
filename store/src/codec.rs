//! What a stored value is: raw [`Kv`]s and the JSON [`Stored`] codec.
//!
//! Values are JSON. The revision an object was read at comes from etcd's
//! `mod_revision`, never from the value, so it is stripped on write and filled
//! in on read ([`ApiObject`]s carry it in `metadata.resource_version`; other
//! values are wrapped in [`Versioned`]).

use drover_api_types::ApiObject;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Result, StoreError};

/// A key-value pair as etcd returned it, with a UTF-8 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the last write to this key.
    pub mod_revision: i64,
    /// Revision at which the key was (last) created.
    pub create_revision: i64,
    /// Attached lease id, 0 for none.
    pub lease: i64,
}

impl Kv {
    pub(crate) fn from_etcd(kv: &etcd_client::KeyValue) -> Result<Self> {
        let key = String::from_utf8(kv.key().to_vec()).map_err(|e| StoreError::NonUtf8Key {
            key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })?;
        Ok(Self {
            key,
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
            create_revision: kv.create_revision(),
            lease: kv.lease(),
        })
    }

    /// Decodes the value as `V`, with the revision filled in.
    pub fn decode<V: Stored>(&self) -> Result<V> {
        V::decode(&self.value, self.mod_revision).map_err(|source| StoreError::Decode {
            key: self.key.clone(),
            source,
        })
    }
}

/// A value the typed API can store: encoded as JSON, with its revision kept
/// outside the bytes.
pub trait Stored: Sized + Send + Sync + 'static {
    /// The bytes to store (without the revision).
    fn encode(&self) -> serde_json::Result<Vec<u8>>;
    /// Rebuilds the value from stored bytes read at `mod_revision`.
    fn decode(value: &[u8], mod_revision: i64) -> serde_json::Result<Self>;
    /// The revision this value was read at (0 if never stored).
    fn revision(&self) -> i64;
}

impl<T: ApiObject> Stored for T {
    fn encode(&self) -> serde_json::Result<Vec<u8>> {
        if self.meta().resource_version == 0 {
            return serde_json::to_vec(self);
        }
        // The revision must not be persisted: it would be stale the moment
        // the write lands.
        let mut copy = self.clone();
        copy.meta_mut().resource_version = 0;
        serde_json::to_vec(&copy)
    }

    fn decode(value: &[u8], mod_revision: i64) -> serde_json::Result<Self> {
        let mut obj: T = serde_json::from_slice(value)?;
        obj.meta_mut().resource_version = mod_revision;
        Ok(obj)
    }

    fn revision(&self) -> i64 {
        self.meta().resource_version
    }
}

/// Any serde value together with the revision it was read at, for keys that
/// hold something other than an [`ApiObject`] (statuses, bindings, indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<V> {
    pub value: V,
    /// etcd `mod_revision` at read time; 0 for a value not yet stored.
    pub revision: i64,
}

impl<V> Versioned<V> {
    /// A value not yet stored.
    pub fn new(value: V) -> Self {
        Self { value, revision: 0 }
    }
}

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> Stored for Versioned<V> {
    fn encode(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&self.value)
    }

    fn decode(value: &[u8], mod_revision: i64) -> serde_json::Result<Self> {
        Ok(Self {
            value: serde_json::from_slice(value)?,
            revision: mod_revision,
        })
    }

    fn revision(&self) -> i64 {
        self.revision
    }
}

/// A value whose key says all a reader needs (a cache of which keys exist):
/// the bytes are never parsed, so a large value costs nothing to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyOnly {
    /// etcd `mod_revision` at read time.
    pub revision: i64,
}

impl Stored for KeyOnly {
    fn encode(&self) -> serde_json::Result<Vec<u8>> {
        Ok(b"{}".to_vec())
    }

    fn decode(_value: &[u8], mod_revision: i64) -> serde_json::Result<Self> {
        Ok(Self {
            revision: mod_revision,
        })
    }

    fn revision(&self) -> i64 {
        self.revision
    }
}

pub(crate) fn encode<V: Stored>(key: &str, value: &V) -> Result<Vec<u8>> {
    value.encode().map_err(|source| StoreError::Encode {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::ObjectMeta;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Thing {
        metadata: ObjectMeta,
        size: u32,
    }
    drover_api_types::impl_api_object!(Thing, "Thing", "things", namespaced = true);

    #[test]
    fn api_objects_never_store_their_revision() {
        let mut t = Thing {
            metadata: ObjectMeta {
                name: "a".into(),
                namespace: "default".into(),
                resource_version: 42,
                ..ObjectMeta::default()
            },
            size: 3,
        };
        let bytes = t.encode().expect("encode");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert_eq!(
            text,
            r#"{"metadata":{"name":"a","namespace":"default"},"size":3}"#
        );
        let back = Thing::decode(&bytes, 77).expect("decode");
        t.metadata.resource_version = 77;
        assert_eq!(back, t);
    }

    #[test]
    fn versioned_values_carry_the_read_revision() {
        let v = Versioned::new(vec![1u8, 2]);
        assert_eq!(v.encode().expect("encode"), b"[1,2]");
        let back = Versioned::<Vec<u8>>::decode(b"[1,2]", 9).expect("decode");
        assert_eq!(back.revision(), 9);
        assert_eq!(back.value, vec![1, 2]);
    }
}
