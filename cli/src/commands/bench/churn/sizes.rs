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

/// Returns the space compaction freed to the filesystem.
pub async fn defragment(store: &Store) -> anyhow::Result<()> {
    let mut client = store.client();
    client.defragment().await.context("etcd defragment")?;
    Ok(())
}
