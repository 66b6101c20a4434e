//! How much the KV holds, kept in memory from a watch of `kv/`, so a write
//! that would take it past the server's cap (`--kv-max-bytes`,
//! `--kv-max-keys`) is refused before it reaches etcd. The check is
//! against what the watch has seen: writes racing each other may pass it
//! together, by at most one value each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use drover_store::keys::collections as c;
use drover_store::{Store, Stored, WatchEvent};
use futures::StreamExt;

/// The KV's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    pub max_bytes: u64,
    pub max_keys: u64,
}

impl KvLimits {
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
    pub const DEFAULT_MAX_KEYS: u64 = 100_000;
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_keys: Self::DEFAULT_MAX_KEYS,
        }
    }
}

/// A stored value's size, its bytes never kept.
struct StoredSize(u64);

impl Stored for StoredSize {
    fn encode(&self) -> serde_json::Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn decode(value: &[u8], _mod_revision: i64) -> serde_json::Result<Self> {
        Ok(StoredSize(value.len() as u64))
    }
    fn revision(&self) -> i64 {
        0
    }
}

#[derive(Default)]
struct Usage {
    sizes: HashMap<String, u64>,
    bytes: u64,
    listed: bool,
}

impl Usage {
    fn set(&mut self, key: String, size: u64) {
        let old = self.sizes.insert(key, size).unwrap_or(0);
        self.bytes = self.bytes.saturating_sub(old).saturating_add(size);
    }
    fn remove(&mut self, key: &str) {
        let old = self.sizes.remove(key).unwrap_or(0);
        self.bytes = self.bytes.saturating_sub(old);
    }
}

/// Why a write of `size` bytes at `key` does not fit (pure).
fn over_cap(usage: &Usage, limits: KvLimits, key: &str, size: u64) -> Option<String> {
    let replaced = usage.sizes.get(key).copied();
    let keys = usage.sizes.len() as u64 + u64::from(replaced.is_none());
    if keys > limits.max_keys {
        return Some(format!(
            "the KV is full: {} keys stored, at most {} (--kv-max-keys)",
            usage.sizes.len(),
            limits.max_keys
        ));
    }
    let bytes = usage.bytes - replaced.unwrap_or(0) + size;
    (bytes > limits.max_bytes).then(|| {
        format!(
            "the KV is full: {} bytes stored, this write would make {bytes}, at most {} (--kv-max-bytes)",
            usage.bytes, limits.max_bytes
        )
    })
}

/// The shared usage and its watch.
#[derive(Clone, Default)]
pub struct KvUsage {
    usage: Arc<Mutex<Usage>>,
}

impl KvUsage {
    /// Starts the watch of `kv/`; call inside the runtime.
    pub fn start(store: &Store) -> KvUsage {
        let this = KvUsage::default();
        let usage = Arc::clone(&this.usage);
        let mut watch = store.watch_prefix::<StoredSize>(&store.keys().collection(c::KV));
        tokio::spawn(async move {
            while let Some(event) = watch.next().await {
                let Ok(event) = event else { continue };
                let mut usage = usage.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    WatchEvent::Restarted { objects, .. } => {
                        *usage = Usage::default();
                        for (key, size) in objects {
                            usage.set(key, size.0);
                        }
                        usage.listed = true;
                    }
                    WatchEvent::Applied { key, object } => usage.set(key, object.0),
                    WatchEvent::Deleted { key, .. } => usage.remove(&key),
                    WatchEvent::Synced { .. } => {}
                }
            }
        });
        this
    }

    /// Why writing `size` stored bytes at etcd key `key` is refused, if it
    /// is; nothing is refused before the first listing.
    pub fn refuse(&self, limits: KvLimits, key: &str, size: u64) -> Option<String> {
        let usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if !usage.listed {
            return None;
        }
        over_cap(&usage, limits, key, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(entries: &[(&str, u64)]) -> Usage {
        let mut u = Usage::default();
        for (k, s) in entries {
            u.set(k.to_string(), *s);
        }
        u
    }

    #[test]
    fn writes_fit_until_either_cap_and_a_rewrite_counts_once() {
        let limits = KvLimits {
            max_bytes: 100,
            max_keys: 2,
        };
        let u = usage(&[("a", 40), ("b", 50)]);
        assert_eq!(u.bytes, 90);
        assert!(over_cap(&u, limits, "a", 50).is_none(), "a replaced: 100");
        assert!(over_cap(&u, limits, "a", 51).is_some());
        let full = over_cap(&u, limits, "c", 1).expect("a third key");
        assert!(full.contains("--kv-max-keys"), "{full}");
        let mut u = u;
        u.remove("b");
        assert_eq!(u.bytes, 40);
        assert!(over_cap(&u, limits, "c", 60).is_none());
        let big = over_cap(&u, limits, "c", 61).expect("over the bytes");
        assert!(big.contains("--kv-max-bytes"), "{big}");
    }
}
