//! Waiting in tests: a deadline around a future, and polling until a
//! condition holds. A timeout fails the test with what was awaited.

use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] probes.
pub const POLL: Duration = Duration::from_millis(50);

/// Awaits `fut`, or fails the test after `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s waiting for {what}"),
    }
}

/// Probes every [`POLL`] until `probe` returns `Some`, or fails the test
/// after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(secs, what, async {
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}
