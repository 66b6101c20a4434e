//! A periodic block's crons in its time zone: the launch times due in a
//! window and the next launch.
//!
//! Crons are read by [`parse_cron`] — the one validation used — so the
//! controller launches exactly on what registration accepted. Times are
//! computed in the job's zone (wall-clock crons follow DST like Nomad's)
//! and returned in UTC.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use drover_api_types::job::Periodic;
use drover_api_types::validate::parse_cron;

/// The zone crons are read in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    Utc,
    /// The server's local zone (`time_zone = "Local"`).
    Local,
    Named(chrono_tz::Tz),
}

/// The parsed crons of one periodic block.
#[derive(Debug, Clone)]
pub struct Schedule {
    crons: Vec<cron::Schedule>,
    zone: Zone,
}

impl Schedule {
    /// Parses `periodic`; the error names the bad cron or zone (a job that
    /// passed validation never has one).
    pub fn parse(periodic: &Periodic) -> Result<Self, String> {
        let crons = periodic
            .crons
            .iter()
            .map(|c| parse_cron(c).map_err(|e| format!("cron {c:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let zone = match periodic.time_zone.as_str() {
            "" | "UTC" => Zone::Utc,
            "Local" => Zone::Local,
            name => Zone::Named(
                chrono_tz::Tz::from_str(name).map_err(|e| format!("time_zone {name:?}: {e}"))?,
            ),
        };
        Ok(Self { crons, zone })
    }

    /// The earliest launch time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.crons
            .iter()
            .filter_map(|c| match self.zone {
                Zone::Utc => next_in(c, &t.with_timezone(&Utc)),
                Zone::Local => next_in(c, &t.with_timezone(&chrono::Local)),
                Zone::Named(tz) => next_in(c, &t.with_timezone(&tz)),
            })
            .min()
    }

    /// The latest launch time in `(after, until]`: the one launch owed for
    /// that window (earlier missed ones are not backfilled, as in Nomad).
    pub fn latest_in(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if until <= after {
            return None;
        }
        self.crons
            .iter()
            .filter_map(|c| match self.zone {
                Zone::Utc => latest_before(c, &until.with_timezone(&Utc)),
                Zone::Local => latest_before(c, &until.with_timezone(&chrono::Local)),
                Zone::Named(tz) => latest_before(c, &until.with_timezone(&tz)),
            })
            .filter(|t| *t > after)
            .max()
    }
}

fn next_in<Z: TimeZone>(cron: &cron::Schedule, t: &DateTime<Z>) -> Option<DateTime<Utc>> {
    cron.after(t).next().map(|n| n.with_timezone(&Utc))
}

/// The latest time of `cron` at or before `t`. Cron times are whole
/// seconds, so searching back from the next whole second includes `t`'s
/// own second.
fn latest_before<Z: TimeZone>(cron: &cron::Schedule, t: &DateTime<Z>) -> Option<DateTime<Utc>> {
    let whole = t.timestamp() + 1;
    let bound = DateTime::from_timestamp(whole, 0)?.with_timezone(&t.timezone());
    cron.after(&bound)
        .next_back()
        .map(|p| p.with_timezone(&Utc))
}
