//! `disconnect.stop_on_client_after`: an agent cut off from the servers for
//! that long stops the group's allocations itself, because the servers
//! have by then declared them lost and replaced them elsewhere (a workload
//! that must not run twice, such as one holding an external lock, asks for
//! this). Without the setting nothing is ever stopped for want of contact.
//!
//! Pure: the worker passes in what the heartbeat knows and the clock.

use std::time::Duration;

use tokio::time::Instant;

/// What a worker does about the contact with the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactVerdict {
    /// Keep running; look again after this long if the contact is still
    /// lost then (`None`: nothing to look at).
    Keep { recheck_in: Option<Duration> },
    /// Stop the allocation: out of contact for at least `after`.
    Stop { after: Duration },
}

/// The verdict for a group with `stop_after` (`stop_on_client_after`), an
/// agent whose lease has been lost since `out_of_contact_since` (`None`: in
/// contact), for an allocation whose worker last heard from the servers at
/// `heard` (the allocation arrived, or a status write went through): that
/// proves contact too, and after a cut the watch is often back before the
/// lease, so a fresh allocation is never stopped for the old cut.
pub fn verdict(
    stop_after: Option<Duration>,
    out_of_contact_since: Option<Instant>,
    heard: Instant,
    now: Instant,
) -> ContactVerdict {
    let (Some(after), Some(since)) = (stop_after, out_of_contact_since) else {
        return ContactVerdict::Keep { recheck_in: None };
    };
    let since = since.max(heard);
    let out_for = now.saturating_duration_since(since);
    match after.checked_sub(out_for).filter(|left| !left.is_zero()) {
        Some(left) => ContactVerdict::Keep {
            recheck_in: Some(left),
        },
        None => ContactVerdict::Stop { after },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_group_that_asks_is_stopped_and_only_once_the_time_is_up() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let minute = Some(Duration::from_secs(60));
        assert_eq!(
            verdict(None, Some(t0), t0, at(3600)),
            ContactVerdict::Keep { recheck_in: None },
            "no stop_on_client_after: never"
        );
        assert_eq!(
            verdict(minute, None, t0, at(3600)),
            ContactVerdict::Keep { recheck_in: None },
            "in contact"
        );
        assert_eq!(
            verdict(minute, Some(t0), t0, at(45)),
            ContactVerdict::Keep {
                recheck_in: Some(Duration::from_secs(15))
            }
        );
        assert_eq!(
            verdict(minute, Some(t0), t0, at(60)),
            ContactVerdict::Stop {
                after: Duration::from_secs(60)
            }
        );
        assert_eq!(
            verdict(minute, Some(at(10)), t0, at(5)),
            ContactVerdict::Keep {
                recheck_in: Some(Duration::from_secs(60))
            },
            "a since in the future counts as just now"
        );
    }

    /// After a cut the watch can deliver a new allocation before the lease
    /// is back: what arrived proves contact, so the old cut does not count.
    #[test]
    fn hearing_from_the_servers_restarts_the_count() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let three = Some(Duration::from_secs(3));
        assert_eq!(
            verdict(three, Some(t0), t0, at(10)),
            ContactVerdict::Stop {
                after: Duration::from_secs(3)
            }
        );
        assert_eq!(
            verdict(three, Some(t0), at(9), at(10)),
            ContactVerdict::Keep {
                recheck_in: Some(Duration::from_secs(2))
            }
        );
    }
}
