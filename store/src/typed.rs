//! The typed API: JSON values with optimistic concurrency.
//!
//! Two levels: `*_at` functions take an explicit key and any [`Stored`] value
//! (use them for split keys such as statuses and bindings); the plain
//! functions take an [`ApiObject`] and file it by [`Keys::object`]. Every read
//! sets the revision from etcd's `mod_revision`; `update` compares it, so two
//! writers that read the same revision cannot both win.
//!
//! [`Keys::object`]: crate::keys::Keys::object

use drover_api_types::ApiObject;

use crate::codec::{encode, Kv, Stored};
use crate::error::{Result, StoreError};
use crate::keys::validate_object_segments;
use crate::store::{Guard, List, Store};

impl Store {
    /// Reads and decodes one key.
    pub async fn get_at<V: Stored>(&self, key: &str) -> Result<Option<V>> {
        self.get_raw(key).await?.map(|kv| kv.decode()).transpose()
    }

    /// Reads and decodes every key under `prefix` at one revision.
    pub async fn list_at<V: Stored>(&self, prefix: &str) -> Result<List<V>> {
        let raw = self.list_raw(prefix).await?;
        let items = raw
            .items
            .iter()
            .map(Kv::decode)
            .collect::<Result<Vec<V>>>()?;
        Ok(List {
            items,
            revision: raw.revision,
        })
    }

    /// Stores `value` at `key` only if the key does not exist; returns the
    /// new revision. Fails with [`StoreError::AlreadyExists`].
    pub async fn create_at<V: Stored>(&self, key: &str, value: &V) -> Result<i64> {
        self.put_raw(key, encode(key, value)?, Guard::Absent, None)
            .await
    }

    /// Replaces `key` only if it is still at `value.revision()`; returns the
    /// new revision. Fails with [`StoreError::Conflict`] otherwise.
    pub async fn update_at<V: Stored>(&self, key: &str, value: &V) -> Result<i64> {
        let expected = value.revision();
        if expected <= 0 {
            // Revision 0 would compare equal to a missing key and silently
            // turn the update into a create.
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
                actual: None,
            });
        }
        let bytes = encode(key, value)?;
        self.put_raw(key, bytes, Guard::Revision(expected), None)
            .await
    }

    /// Stores `value` at `key` unconditionally (last writer wins): only for
    /// keys with a single writer, such as an agent's own status.
    pub async fn put_at<V: Stored>(&self, key: &str, value: &V) -> Result<i64> {
        self.put_raw(key, encode(key, value)?, Guard::None, None)
            .await
    }

    /// Reads an object by namespace and name (namespace ignored for
    /// cluster-scoped kinds).
    pub async fn get<T: ApiObject>(&self, namespace: &str, name: &str) -> Result<Option<T>> {
        validate_object_segments::<T>(namespace, name)?;
        self.get_at(&self.keys().object::<T>(namespace, name)).await
    }

    /// Lists objects of a kind, in one namespace or all.
    pub async fn list<T: ApiObject>(&self, namespace: Option<&str>) -> Result<List<T>> {
        self.list_at(&self.keys().kind_prefix::<T>(namespace)).await
    }

    /// Creates `obj`; returns it with `resource_version` set.
    pub async fn create<T: ApiObject>(&self, obj: &T) -> Result<T> {
        let key = self.object_key(obj)?;
        let revision = self.create_at(&key, obj).await?;
        Ok(with_revision(obj, revision))
    }

    /// Updates `obj` if it is still at `metadata.resource_version`; returns it
    /// with the new `resource_version`.
    pub async fn update<T: ApiObject>(&self, obj: &T) -> Result<T> {
        let key = self.object_key(obj)?;
        let revision = self.update_at(&key, obj).await?;
        Ok(with_revision(obj, revision))
    }

    /// Deletes an object, only if still at `expected_revision` when given.
    /// Returns whether something was deleted.
    pub async fn delete<T: ApiObject>(
        &self,
        namespace: &str,
        name: &str,
        expected_revision: Option<i64>,
    ) -> Result<bool> {
        validate_object_segments::<T>(namespace, name)?;
        let key = self.keys().object::<T>(namespace, name);
        let guard = expected_revision.map_or(Guard::None, Guard::Revision);
        Ok(self.delete_raw(&key, guard).await?.is_some())
    }

    fn object_key<T: ApiObject>(&self, obj: &T) -> Result<String> {
        let meta = obj.meta();
        validate_object_segments::<T>(&meta.namespace, &meta.name)?;
        Ok(self.keys().of(obj))
    }
}

fn with_revision<T: ApiObject>(obj: &T, revision: i64) -> T {
    let mut out = obj.clone();
    out.meta_mut().resource_version = revision;
    out
}
