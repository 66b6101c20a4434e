//! The metrics scrape token: the credential Prometheus (or any scraper)
//! presents to the agents' `/metrics`, and may present to the servers'.
//!
//! Servers make one random token (`secrets/scrape-token`, readable by
//! servers only) and publish its sha256 (`scrape-token-digest`), which
//! every node may read. An agent answers `/metrics` only when the
//! request's `Authorization: Bearer <token>` hashes to that digest: a node
//! holds nothing it could scrape another node with, and a workload that
//! reaches its node's `:4647` learns nothing. Rotating the token replaces
//! both keys; agents read the digest again when a token does not match.

use ring::digest;

/// A new random token (hex of 32 bytes).
pub fn new_token() -> Result<String, &'static str> {
    crate::agent_token::new_key()
}

/// The hex sha256 of `token`, as stored at `scrape-token-digest`.
pub fn digest(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `presented` hashes to `expected_digest`, compared in constant
/// time so a caller cannot learn the digest byte by byte.
pub fn matches(expected_digest: &str, presented: &str) -> bool {
    let got = digest(presented);
    let (a, b) = (got.as_bytes(), expected_digest.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The digest as last read, shared by a listener's requests. A token that
/// does not match it makes the holder read the digest again (a new token
/// works at once), but at most once per [`DigestCache::REREAD`], so a flood
/// of wrong tokens costs etcd one read a second. A match is trusted for
/// [`DigestCache::TRUST`]; then the digest is read again, so a rotated-out
/// token stops working within that time.
#[derive(Debug)]
pub struct DigestCache {
    state: tokio::sync::Mutex<Cached>,
    reread: std::time::Duration,
    trust: std::time::Duration,
}

impl Default for DigestCache {
    fn default() -> Self {
        DigestCache::with_times(Self::REREAD, Self::TRUST)
    }
}

#[derive(Debug, Default)]
struct Cached {
    digest: Option<String>,
    read_at: Option<std::time::Instant>,
}

impl DigestCache {
    pub const REREAD: std::time::Duration = std::time::Duration::from_secs(1);
    pub const TRUST: std::time::Duration = std::time::Duration::from_secs(10);

    /// A cache that reads again after `reread` on a mismatch and after
    /// `trust` on a match.
    pub fn with_times(reread: std::time::Duration, trust: std::time::Duration) -> Self {
        DigestCache {
            state: Default::default(),
            reread,
            trust,
        }
    }

    /// Whether `presented` is the scrape token; `read` fetches the stored
    /// digest (`None` while no server has made one).
    pub async fn check<F, E>(&self, presented: &str, read: F) -> Result<bool, E>
    where
        F: std::future::Future<Output = Result<Option<String>, E>>,
    {
        let mut cached = self.state.lock().await;
        let age = cached.read_at.map(|at| at.elapsed());
        if age.is_some_and(|age| age < self.trust)
            && cached
                .digest
                .as_deref()
                .is_some_and(|d| matches(d, presented))
        {
            return Ok(true);
        }
        if age.is_some_and(|age| age < self.reread) {
            return Ok(false);
        }
        let fresh = read.await?;
        cached.read_at = Some(std::time::Instant::now());
        cached.digest = fresh;
        Ok(cached
            .digest
            .as_deref()
            .is_some_and(|d| matches(d, presented)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_the_token_itself_matches_its_digest() {
        let token = new_token().expect("token");
        let stored = digest(&token);
        assert_eq!(stored.len(), 64);
        assert!(matches(&stored, &token));
        assert!(!matches(&stored, &stored), "the digest is not the token");
        assert!(!matches(&stored, ""));
        assert!(!matches("", &token));
        let other = new_token().expect("token");
        assert!(!matches(&stored, &other));
    }

    #[tokio::test]
    async fn the_cache_reads_again_on_a_mismatch_at_most_once_a_second() {
        let token = new_token().expect("token");
        let (reread, trust) = (Duration::from_millis(100), Duration::from_millis(400));
        let cache = DigestCache::with_times(reread, trust);
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let read = |d: Option<String>| async {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(d)
        };
        // Nothing stored yet: refused, and a second try within the second
        // does not read again.
        assert_eq!(cache.check(&token, read(None)).await, Ok(false));
        assert_eq!(cache.check(&token, read(None)).await, Ok(false));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(reread).await;
        assert_eq!(
            cache.check(&token, read(Some(digest(&token)))).await,
            Ok(true)
        );
        // A match needs no read while it is trusted; then the digest is read
        // again, and a token rotated out meanwhile is refused.
        assert_eq!(cache.check(&token, read(None)).await, Ok(true));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
        tokio::time::sleep(trust).await;
        let rotated = digest(&new_token().expect("token"));
        assert_eq!(cache.check(&token, read(Some(rotated))).await, Ok(false));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
