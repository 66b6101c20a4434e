//! etcd's size as the churn benchmark reports it: the database file, the
//! part of it in use, and the keys under the benchmark's prefix.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use drover_store::keys::collections as c;
use drover_store::Store;
use etcd_client::GetOptions;
use serde_json::{json, Value};

/// Collections garbage collection must empty once every job is stopped.
const COLLECTED: [&str; 9] = [
    c::JOBS,
    c::JOBS_STATUS,
    c::JOBS_VERSIONS,
    c::JOBS_STABLE,
    c::ALLOCATIONS,
    c::ALLOCATIONS_BINDING,
    c::ALLOCATIONS_STATUS,
    c::NODE_ALLOCS,
    c::DEPLOYMENTS,
];

#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    /// The database file (`db_size`).
    pub db_bytes: i64,
    /// The part of it holding live data (`raft_used_db_size`, what
    /// defragmenting would shrink the file to).
    pub in_use_bytes: i64,
    /// Keys under the prefix.
    pub keys: i64,
    /// Keys in the collections GC empties.
    pub collectable: i64,
}

impl Sizes {
    pub async fn read(store: &Store) -> anyhow::Result<Self> {
        let mut client = store.client();
        let status = client.status().await.context("etcd status")?;
        let mut sizes = Sizes {
            db_bytes: status.db_size(),
            in_use_bytes: status.raft_used_db_size(),
            keys: count(store, &format!("{}/", store.keys().prefix())).await?,
            collectable: 0,
        };
        for collection in COLLECTED {
            sizes.collectable += count(store, &store.keys().collection(collection)).await?;
        }
        Ok(sizes)
    }

    pub fn gc_done(&self) -> bool {
        self.collectable == 0
    }

    pub fn line(&self) -> String {
        format!(
            "db {:>7.2} MB  in use {:>7.2} MB  keys {:>6} (jobs/allocations/versions… {})",
            mb(self.db_bytes),
            mb(self.in_use_bytes),
            self.keys,
            self.collectable
        )
    }

    pub fn json(&self) -> Value {
        json!({"db_bytes": self.db_bytes, "in_use_bytes": self.in_use_bytes,
               "keys": self.keys, "collectable_keys": self.collectable})
    }
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1_048_576.0
}

async fn count(store: &Store, prefix: &str) -> anyhow::Result<i64> {
    let mut kv = store.client().kv_client();
    let resp = kv
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .with_context(|| format!("counting {prefix}"))?;
    Ok(resp.count())
}

/// Polls until the collected collections are empty; the sizes then (or
/// at the timeout).
pub async fn wait_collected(store: &Store, timeout: Duration) -> anyhow::Result<Sizes> {
    let deadline = Instant::now() + timeout;
    loop {
        let sizes = Sizes::read(store).await?;
        if sizes.gc_done() || Instant::now() >= deadline {
            if !sizes.gc_done() {
                eprintln!("GC left {} keys after {timeout:?}", sizes.collectable);
            }
            return Ok(sizes);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the server reports a compaction at or past `revision`.
pub async fn wait_compacted(client: &reqwest::Client, url: &str, revision: i64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if compacted_revision(client, url).await >= revision {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("the server did not compact to revision {revision} within {limit:?}");
}

async fn compacted_revision(client: &reqwest::Client, url: &str) -> i64 {
    let Ok(response) = client.get(url).send().await else {
        return 0;
    };
    let Ok(text) = response.text().await else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("drover_etcd_compacted_revision "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as i64)
}

/// The sizes once etcd has finished freeing what a compaction released:
/// the compact call returns before the deletion, which etcd does in
/// batches in the background, so the space in use shrinks for a while
/// after. Settled when it has not dropped for a second (or at `limit`).
pub async fn wait_space_freed(store: &Store, limit: Duration) -> anyhow::Result<Sizes> {
    const POLL: Duration = Duration::from_millis(250);
    const QUIET_POLLS: u32 = 4;
    let deadline = Instant::now() + limit;
    let mut sizes = Sizes::read(store).await?;
    let mut quiet = 0;
    while quiet < QUIET_POLLS && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        let next = Sizes::read(store).await?;
        quiet = if dropped(sizes.in_use_bytes, next.in_use_bytes) {
            0
        } else {
            quiet + 1
        };
        sizes = next;
    }
    Ok(sizes)
}

/// A drop of more than 1% (new writes, e.g. node status, add a little).
fn dropped(before: i64, after: i64) -> bool {
    after < before - before / 100
}

/// Returns the space compaction freed to the filesystem.
pub async fn defragment(store: &Store) -> anyhow::Result<()> {
    let mut client = store.client();
    client.defragment().await.context("etcd defragment")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dropped;

    #[test]
    fn only_a_real_drop_keeps_the_wait_going() {
        assert!(dropped(10_000_000, 9_000_000));
        assert!(!dropped(10_000_000, 9_950_000));
        assert!(!dropped(10_000_000, 10_200_000));
    }
}
