//! Which etcd endpoint to use, without I/O.
//!
//! [`EndpointSet`] holds what is known of each endpoint ([`Health`]) and the
//! *preferred* one, which every request tries first. Observations come from
//! the health checker's probes and from requests ([`Observation`]). The
//! rules:
//! - an endpoint is [`Health::Unknown`] until something is heard from it,
//!   [`Health::Up`] after it answered, [`Health::Down`] after it could not
//!   be reached, did not answer in time, or said it cannot serve (no
//!   leader); the latest observation wins;
//! - the preferred endpoint stays preferred unless it is down (no flapping
//!   back when a lost member returns); then the next endpoint after it that
//!   is up is preferred, else the next one not known to be down; if every
//!   endpoint is down, the preference stays (nothing is better);
//! - a request tries the preferred endpoint first, then the others: those
//!   up, then those unknown, then those down, each group in ring order after
//!   the preferred one, so different failures spread the same way.
//!
//! With one endpoint nothing ever changes: it is preferred and tried alone.

/// What is known of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Nothing heard yet.
    Unknown,
    /// Its last probe or request got an answer.
    Up,
    /// Its last probe or request could not reach it, or it could not serve.
    Down,
}

/// One thing learnt about one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observation {
    /// It answered (successfully or with an error of the request's own,
    /// such as a failed compare or a permission denied).
    Answered,
    /// It could not be reached, the connection broke, it did not answer in
    /// time, or it answered that it cannot serve now.
    Unreachable,
}

/// What an observation changed, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changed {
    /// The endpoint's health changed to this.
    pub health: Option<Health>,
    /// The preferred endpoint changed from the first to the second index.
    pub preferred: Option<(usize, usize)>,
}

/// The endpoints' health and the preferred one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSet {
    health: Vec<Health>,
    preferred: usize,
}

impl EndpointSet {
    /// `len` endpoints, all unknown, the first preferred. `len` is at least
    /// one (the config requires an endpoint); zero is treated as one.
    pub fn new(len: usize) -> Self {
        Self {
            health: vec![Health::Unknown; len.max(1)],
            preferred: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.health.len()
    }

    pub fn is_empty(&self) -> bool {
        self.health.is_empty()
    }

    /// The endpoint requests try first.
    pub fn preferred(&self) -> usize {
        self.preferred
    }

    /// What is known of endpoint `index` (unknown if out of range).
    pub fn health(&self, index: usize) -> Health {
        self.health.get(index).copied().unwrap_or(Health::Unknown)
    }

    /// Records an observation of endpoint `index` (ignored if out of range)
    /// and moves the preference if the rules say so.
    pub fn observe(&mut self, index: usize, observation: Observation) -> Changed {
        let mut changed = Changed::default();
        let Some(slot) = self.health.get_mut(index) else {
            return changed;
        };
        let health = match observation {
            Observation::Answered => Health::Up,
            Observation::Unreachable => Health::Down,
        };
        if *slot != health {
            *slot = health;
            changed.health = Some(health);
        }
        let next = self.choose();
        if next != self.preferred {
            changed.preferred = Some((self.preferred, next));
            self.preferred = next;
        }
        changed
    }

    /// The preferred endpoint under the rules, given the current health.
    fn choose(&self) -> usize {
        if self.health(self.preferred) != Health::Down {
            return self.preferred;
        }
        let ring = self.ring();
        ring.iter()
            .copied()
            .find(|&i| self.health[i] == Health::Up)
            .or_else(|| {
                ring.iter()
                    .copied()
                    .find(|&i| self.health[i] == Health::Unknown)
            })
            .unwrap_or(self.preferred)
    }

    /// The other endpoints in ring order after the preferred one.
    fn ring(&self) -> Vec<usize> {
        let n = self.health.len();
        (1..n).map(|k| (self.preferred + k) % n).collect()
    }

    /// Every endpoint once, in the order a request should try them.
    pub fn attempt_order(&self) -> Vec<usize> {
        let ring = self.ring();
        let mut order = Vec::with_capacity(self.health.len());
        order.push(self.preferred);
        for wanted in [Health::Up, Health::Unknown, Health::Down] {
            order.extend(ring.iter().copied().filter(|&i| self.health[i] == wanted));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Observation::{Answered, Unreachable};

    #[test]
    fn starts_unknown_with_the_first_preferred() {
        let set = EndpointSet::new(3);
        assert_eq!(set.preferred(), 0);
        assert_eq!(set.attempt_order(), vec![0, 1, 2]);
        assert!((0..3).all(|i| set.health(i) == Health::Unknown));
    }

    #[test]
    fn a_single_endpoint_never_changes() {
        let mut set = EndpointSet::new(1);
        let changed = set.observe(0, Unreachable);
        assert_eq!(changed.preferred, None);
        assert_eq!(set.preferred(), 0);
        assert_eq!(set.attempt_order(), vec![0]);
        assert_eq!(EndpointSet::new(0).attempt_order(), vec![0]);
    }

    #[test]
    fn a_down_preferred_endpoint_hands_over_to_the_next_up_one() {
        let mut set = EndpointSet::new(3);
        set.observe(2, Answered);
        let changed = set.observe(0, Unreachable);
        // 1 is only unknown, 2 answered: 2 wins.
        assert_eq!(changed.preferred, Some((0, 2)));
        assert_eq!(changed.health, Some(Health::Down));
        assert_eq!(set.attempt_order(), vec![2, 1, 0]);
    }

    #[test]
    fn with_nothing_up_an_unknown_endpoint_is_next() {
        let mut set = EndpointSet::new(3);
        assert_eq!(set.observe(0, Unreachable).preferred, Some((0, 1)));
        assert_eq!(set.attempt_order(), vec![1, 2, 0]);
    }

    #[test]
    fn the_preference_sticks_while_its_endpoint_is_not_down() {
        let mut set = EndpointSet::new(3);
        set.observe(0, Unreachable);
        set.observe(1, Answered);
        assert_eq!(set.preferred(), 1);
        // 0 comes back: no flapping back to it.
        let changed = set.observe(0, Answered);
        assert_eq!(
            changed,
            Changed {
                health: Some(Health::Up),
                preferred: None
            }
        );
        assert_eq!(set.preferred(), 1);
        // Up (0) before unknown (2).
        assert_eq!(set.attempt_order(), vec![1, 0, 2]);
    }

    #[test]
    fn all_down_keeps_the_preference_and_tries_everything() {
        let mut set = EndpointSet::new(3);
        for i in [1, 2, 0] {
            set.observe(i, Unreachable);
        }
        // 0 went down last, with nothing better: it stays preferred.
        assert_eq!(set.preferred(), 0);
        assert_eq!(set.attempt_order(), vec![0, 1, 2]);
        // The first to answer takes over.
        assert_eq!(set.observe(2, Answered).preferred, Some((0, 2)));
    }

    #[test]
    fn repeated_observations_report_no_change() {
        let mut set = EndpointSet::new(2);
        assert_eq!(set.observe(1, Answered).health, Some(Health::Up));
        assert_eq!(set.observe(1, Answered), Changed::default());
        assert_eq!(set.observe(7, Unreachable), Changed::default());
    }

    #[test]
    fn attempt_order_puts_up_before_unknown_before_down() {
        let mut set = EndpointSet::new(5);
        set.observe(1, Unreachable);
        set.observe(3, Answered);
        set.observe(4, Answered);
        assert_eq!(set.preferred(), 0);
        assert_eq!(set.attempt_order(), vec![0, 3, 4, 2, 1]);
    }
}
