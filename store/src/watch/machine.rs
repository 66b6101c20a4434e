//! The watch state machine, without I/O.
//!
//! It remembers one number: the last revision whose events have all been
//! delivered. From it follow the three rules the driver obeys:
//! - nothing known yet, or history compacted past it: list, then emit
//!   [`RawEvent::Restarted`] with the full state;
//! - otherwise (first watch, or after a dropped connection): watch from
//!   `revision + 1`, so nothing is lost;
//! - drop any event at or below it, so nothing is repeated even if a server
//!   replays.
//!
//! etcd delivers all events of one revision (one txn) in one response, so
//! advancing per response never splits a transaction.

use crate::codec::Kv;
use crate::store::List;

/// What the driver must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the full state.
    List,
    /// Open a watch starting at this revision.
    Watch { start_revision: i64 },
}

/// One change, as seen in a watch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Kv),
    Delete { key: String, revision: i64 },
}

impl Change {
    pub fn revision(&self) -> i64 {
        match self {
            Change::Put(kv) => kv.mod_revision,
            Change::Delete { revision, .. } => *revision,
        }
    }
}

/// A byte-level watch event, as consumers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawEvent {
    /// The complete state at `revision`; replaces whatever was known.
    Restarted { kvs: Vec<Kv>, revision: i64 },
    /// One change after the last `Restarted`.
    Change(Change),
    /// Every change up to `revision` has been delivered: sent after the
    /// changes of each watch response (a whole transaction arrives in one),
    /// and on progress notifications. Consumers that wait for a revision
    /// wait for this, never for the first change carrying it — a
    /// transaction's other changes may still be on their way.
    Synced { revision: i64 },
}

/// The parts of an etcd watch response the machine reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub created: bool,
    pub canceled: bool,
    /// Set (non-zero) when the start revision was compacted.
    pub compact_revision: i64,
    pub header_revision: i64,
    pub changes: Vec<Change>,
}

/// What the driver must do with a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Deliver these events (possibly none) and keep reading.
    Deliver(Vec<RawEvent>),
    /// The watch ended without losing history: open a new one ([`Next`]).
    Reconnect,
    /// History we need is gone: list again ([`Next::List`]).
    Relist,
}

/// Tracks the last delivered revision of one watched range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchMachine {
    revision: Option<i64>,
}

impl WatchMachine {
    /// Starts with a list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from a state the consumer already has at `revision`: the first
    /// watch begins at `revision + 1` (and falls back to a list if that is
    /// compacted).
    pub fn resume_from(revision: i64) -> Self {
        Self {
            revision: Some(revision),
        }
    }

    /// The last revision fully delivered, if any.
    pub fn revision(&self) -> Option<i64> {
        self.revision
    }

    pub fn next(&self) -> Next {
        match self.revision {
            None => Next::List,
            Some(rev) => Next::Watch {
                start_revision: rev + 1,
            },
        }
    }

    /// A list completed: the full state becomes the new baseline.
    pub fn on_listed(&mut self, list: List<Kv>) -> RawEvent {
        self.revision = Some(list.revision);
        RawEvent::Restarted {
            kvs: list.items,
            revision: list.revision,
        }
    }

    /// Folds one watch response in.
    pub fn on_response(&mut self, resp: Response) -> Step {
        let Some(floor) = self.revision else {
            // A response without a baseline cannot be placed in history.
            return Step::Relist;
        };
        if resp.canceled {
            if resp.compact_revision > 0 {
                self.revision = None;
                return Step::Relist;
            }
            return Step::Reconnect;
        }
        if resp.compact_revision > 0 {
            self.revision = None;
            return Step::Relist;
        }
        if resp.changes.is_empty() {
            // A progress notification (etcd sends those only to watchers that
            // have caught up): everything up to its header is delivered.
            if !resp.created && resp.header_revision > floor {
                self.revision = Some(resp.header_revision);
                return Step::Deliver(vec![RawEvent::Synced {
                    revision: resp.header_revision,
                }]);
            }
            return Step::Deliver(Vec::new());
        }
        let mut events = Vec::with_capacity(resp.changes.len());
        let mut last = floor;
        for change in resp.changes {
            let rev = change.revision();
            if rev > floor {
                last = last.max(rev);
                events.push(RawEvent::Change(change));
            }
        }
        self.revision = Some(last);
        if !events.is_empty() {
            events.push(RawEvent::Synced { revision: last });
        }
        Step::Deliver(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, rev: i64) -> Change {
        Change::Put(Kv {
            key: key.into(),
            value: format!("v{rev}").into_bytes(),
            mod_revision: rev,
            create_revision: rev,
            lease: 0,
        })
    }

    fn events(changes: Vec<Change>) -> Response {
        Response {
            header_revision: changes.iter().map(Change::revision).max().unwrap_or(0),
            changes,
            ..Response::default()
        }
    }

    fn listed(m: &mut WatchMachine, revision: i64) -> RawEvent {
        m.on_listed(List {
            items: vec![],
            revision,
        })
    }

    #[test]
    fn lists_first_then_watches_from_the_next_revision() {
        let mut m = WatchMachine::new();
        assert_eq!(m.next(), Next::List);
        let ev = listed(&mut m, 10);
        assert_eq!(
            ev,
            RawEvent::Restarted {
                kvs: vec![],
                revision: 10
            }
        );
        assert_eq!(m.next(), Next::Watch { start_revision: 11 });
    }

    #[test]
    fn created_response_delivers_nothing_and_keeps_the_revision() {
        let mut m = WatchMachine::resume_from(10);
        let step = m.on_response(Response {
            created: true,
            header_revision: 50,
            ..Response::default()
        });
        assert_eq!(step, Step::Deliver(vec![]));
        assert_eq!(m.revision(), Some(10));
    }

    #[test]
    fn events_advance_and_reconnect_resumes_after_the_last_one() {
        let mut m = WatchMachine::resume_from(10);
        let step = m.on_response(events(vec![put("/a", 11), put("/b", 12)]));
        assert_eq!(
            step,
            Step::Deliver(vec![
                RawEvent::Change(put("/a", 11)),
                RawEvent::Change(put("/b", 12)),
                RawEvent::Synced { revision: 12 },
            ])
        );
        let step = m.on_response(Response {
            canceled: true,
            ..Response::default()
        });
        assert_eq!(step, Step::Reconnect);
        assert_eq!(m.next(), Next::Watch { start_revision: 13 });
    }

    #[test]
    fn replayed_events_are_dropped_but_a_whole_txn_is_kept() {
        let mut m = WatchMachine::resume_from(10);
        m.on_response(events(vec![put("/a", 11)]));
        // A replay of 11 plus a two-key txn at 12.
        let step = m.on_response(events(vec![put("/a", 11), put("/b", 12), put("/c", 12)]));
        assert_eq!(
            step,
            Step::Deliver(vec![
                RawEvent::Change(put("/b", 12)),
                RawEvent::Change(put("/c", 12)),
                // Only after the whole transaction.
                RawEvent::Synced { revision: 12 },
            ])
        );
        assert_eq!(m.revision(), Some(12));
    }

    #[test]
    fn compaction_forces_a_relist_with_full_state() {
        let mut m = WatchMachine::resume_from(10);
        let step = m.on_response(Response {
            canceled: true,
            compact_revision: 20,
            ..Response::default()
        });
        assert_eq!(step, Step::Relist);
        assert_eq!(m.next(), Next::List);
        let kv = Kv {
            key: "/a".into(),
            value: b"x".to_vec(),
            mod_revision: 18,
            create_revision: 5,
            lease: 0,
        };
        let ev = m.on_listed(List {
            items: vec![kv.clone()],
            revision: 25,
        });
        assert_eq!(
            ev,
            RawEvent::Restarted {
                kvs: vec![kv],
                revision: 25
            }
        );
        assert_eq!(m.next(), Next::Watch { start_revision: 26 });
    }

    #[test]
    fn progress_notifications_advance_the_resume_point() {
        let mut m = WatchMachine::resume_from(10);
        let step = m.on_response(Response {
            header_revision: 40,
            ..Response::default()
        });
        assert_eq!(step, Step::Deliver(vec![RawEvent::Synced { revision: 40 }]));
        assert_eq!(m.next(), Next::Watch { start_revision: 41 });
        // An older header never moves it back.
        m.on_response(Response {
            header_revision: 30,
            ..Response::default()
        });
        assert_eq!(m.revision(), Some(40));
    }

    #[test]
    fn deletes_carry_their_revision() {
        let mut m = WatchMachine::resume_from(10);
        let del = Change::Delete {
            key: "/a".into(),
            revision: 14,
        };
        let step = m.on_response(events(vec![del.clone()]));
        assert_eq!(
            step,
            Step::Deliver(vec![
                RawEvent::Change(del),
                RawEvent::Synced { revision: 14 }
            ])
        );
        assert_eq!(m.revision(), Some(14));
    }

    #[test]
    fn a_response_before_any_baseline_means_list() {
        let mut m = WatchMachine::new();
        assert_eq!(m.on_response(events(vec![put("/a", 3)])), Step::Relist);
        assert_eq!(m.next(), Next::List);
    }
}
