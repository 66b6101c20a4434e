//! Per-key exponential backoff with jitter.
//!
//! After the n-th consecutive failure of a key, its delay is
//! `min(max, base * 2^(n-1))`, stretched by a random factor in
//! `[1, 1 + jitter)` and capped again at `max`. The jitter spreads the
//! retries of keys that failed together (e.g. when etcd was briefly away) so
//! they do not hammer the store in lockstep. The random source is seeded by
//! the caller so that tests are deterministic.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Delay after the first failure.
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Relative jitter: 0.0 disables it, 0.1 adds up to 10%.
    pub jitter: f64,
    /// Seed of the jitter's random source.
    pub seed: u64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(5),
            max: Duration::from_secs(300),
            jitter: 0.1,
            seed: 0,
        }
    }
}

/// Computes delays from failure counts; owns the jitter's random source.
#[derive(Debug)]
pub struct Backoff {
    config: BackoffConfig,
    rng: StdRng,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
        }
    }

    /// The un-jittered delay after `failures` consecutive failures (≥ 1).
    pub fn exponential(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(63);
        let factor = 1u64 << shift;
        let factor = u32::try_from(factor).unwrap_or(u32::MAX);
        self.config
            .base
            .checked_mul(factor)
            .map_or(self.config.max, |d| d.min(self.config.max))
    }

    /// The delay after `failures` consecutive failures, with jitter.
    pub fn delay(&mut self, failures: u32) -> Duration {
        let d = self.exponential(failures);
        if self.config.jitter <= 0.0 {
            return d;
        }
        let r: f64 = self.rng.random_range(0.0..1.0);
        d.mul_f64(1.0 + self.config.jitter * r).min(self.config.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jitter: f64) -> BackoffConfig {
        BackoffConfig {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter,
            seed: 42,
        }
    }

    #[test]
    fn grows_exponentially_and_caps() {
        let mut b = Backoff::new(config(0.0));
        let got: Vec<u128> = (1..=7).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_bounds_and_is_deterministic() {
        let mut a = Backoff::new(config(0.5));
        let mut b = Backoff::new(config(0.5));
        for n in 1..=6 {
            let exp = a.exponential(n);
            let da = a.delay(n);
            assert_eq!(da, b.delay(n));
            assert!(da >= exp, "{da:?} < {exp:?}");
            assert!(da <= exp.mul_f64(1.5).min(Duration::from_secs(1)));
        }
    }
}
