//! Object metadata shared by every kind, Kubernetes-style.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The API group and version every drover manifest names in `apiVersion`.
pub const API_VERSION: &str = "drover.io/v1";

/// The namespace objects land in when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Identity and bookkeeping common to all objects.
///
/// `resource_version` is the etcd `mod_revision` the object was read at; it is
/// never stored inside the value itself (the store fills it in on read) and is
/// what optimistic-concurrency updates compare against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<DateTime<Utc>>,
    /// etcd `mod_revision` at read time; 0 for an object not yet stored.
    #[serde(skip_serializing_if = "is_zero")]
    pub resource_version: i64,
    /// For jobs: the job version, bumped on every spec change.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub version: u64,
    /// For jobs: when this version was registered (`drover history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submit_time: Option<DateTime<Utc>>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// A stored kind: what the store needs to file and find an object.
pub trait ApiObject: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The kind as it appears in manifests, e.g. `Job`.
    const KIND: &'static str;
    /// The lower-case plural used in keys and URLs, e.g. `jobs`.
    const PLURAL: &'static str;
    /// Whether objects of this kind live in a namespace (nodes do not).
    const NAMESPACED: bool;

    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

/// Implements [`ApiObject`] for a struct with a `metadata: ObjectMeta` field.
#[macro_export]
macro_rules! impl_api_object {
    ($ty:ty, $kind:literal, $plural:literal, namespaced = $ns:literal) => {
        impl $crate::meta::ApiObject for $ty {
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const NAMESPACED: bool = $ns;
            fn meta(&self) -> &$crate::meta::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::meta::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
