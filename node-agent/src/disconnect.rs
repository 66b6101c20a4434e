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
/// agent out of contact since `out_of_contact_since` (`None`: in contact).
pub fn verdict(
    stop_after: Option<Duration>,
    out_of_contact_since: Option<Instant>,
    now: Instant,
) -> ContactVerdict {
    let (Some(after), Some(since)) = (stop_after, out_of_contact_since) else {
        return ContactVerdict::Keep { recheck_in: None };
    };
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
            verdict(None, Some(t0), at(3600)),
            ContactVerdict::Keep { recheck_in: None },
            "no stop_on_client_after: never"
        );
        assert_eq!(
            verdict(minute, None, at(3600)),
            ContactVerdict::Keep { recheck_in: None },
            "in contact"
        );
        assert_eq!(
            verdict(minute, Some(t0), at(45)),
            ContactVerdict::Keep {
                recheck_in: Some(Duration::from_secs(15))
            }
        );
        assert_eq!(
            verdict(minute, Some(t0), at(60)),
            ContactVerdict::Stop {
                after: Duration::from_secs(60)
            }
        );
        assert_eq!(
            verdict(minute, Some(at(10)), at(5)),
            ContactVerdict::Keep {
                recheck_in: Some(Duration::from_secs(60))
            },
            "a since in the future counts as just now"
        );
    }
}
