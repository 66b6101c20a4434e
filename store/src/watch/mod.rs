//! Watch streams: list, then watch; resume after disconnects; re-list after
//! compaction.
//!
//! A background task drives the pure [`WatchMachine`] against etcd and feeds
//! a bounded channel (so a slow consumer slows the task, never loses
//! events). Transport errors are retried forever with capped exponential
//! backoff and logged; consumers only see events. [`RawWatcher`] yields
//! [`RawEvent`]s; [`Watcher`] decodes them into [`WatchEvent`]s, yielding an
//! `Err` item (and continuing) for a value that does not decode.

pub mod machine;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{EventType, WatchOptions, WatchResponse};
use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::{Kv, Stored};
use crate::error::Result;
use crate::store::{prefix_end, Store};

pub use machine::{Change, Next, RawEvent, Response, Step, WatchMachine};

const CHANNEL_CAPACITY: usize = 256;
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// A typed watch event.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<T> {
    /// The full state at `revision` (first list, or re-list after the history
    /// was compacted): replace everything known, then reconcile.
    Restarted {
        objects: Vec<(String, T)>,
        revision: i64,
    },
    /// A key was created or updated; `object` carries its revision.
    Applied { key: String, object: T },
    /// A key was deleted at `revision`.
    Deleted { key: String, revision: i64 },
    /// Every change up to `revision` has been delivered (see
    /// [`RawEvent::Synced`]).
    Synced { revision: i64 },
}

/// A stream of [`RawEvent`]s for one key prefix. Stops its task on drop.
pub struct RawWatcher {
    rx: mpsc::Receiver<RawEvent>,
    task: JoinHandle<()>,
}

impl Drop for RawWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for RawWatcher {
    type Item = RawEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RawEvent>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// A stream of typed [`WatchEvent`]s for one key prefix.
pub struct Watcher<T> {
    raw: RawWatcher,
    pending: VecDeque<Result<WatchEvent<T>>>,
}

impl<T: Stored> Watcher<T> {
    fn decode(&mut self, event: RawEvent) {
        match event {
            RawEvent::Restarted { kvs, revision } => {
                let mut objects = Vec::with_capacity(kvs.len());
                let mut errors = Vec::new();
                for kv in kvs {
                    match kv.decode::<T>() {
                        Ok(obj) => objects.push((kv.key, obj)),
                        Err(e) => errors.push(Err(e)),
                    }
                }
                self.pending
                    .push_back(Ok(WatchEvent::Restarted { objects, revision }));
                self.pending.extend(errors);
            }
            RawEvent::Change(Change::Put(kv)) => {
                let item = kv.decode::<T>().map(|object| WatchEvent::Applied {
                    key: kv.key,
                    object,
                });
                self.pending.push_back(item);
            }
            RawEvent::Change(Change::Delete { key, revision }) => {
                self.pending
                    .push_back(Ok(WatchEvent::Deleted { key, revision }));
            }
            RawEvent::Synced { revision } => {
                self.pending.push_back(Ok(WatchEvent::Synced { revision }));
            }
        }
    }
}

impl<T: Stored> Stream for Watcher<T> {
    type Item = Result<WatchEvent<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.pending.pop_front() {
                return Poll::Ready(Some(item));
            }
            match Pin::new(&mut this.raw).poll_next(cx) {
                Poll::Ready(Some(event)) => this.decode(event),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> Unpin for Watcher<T> {}

impl Store {
    /// Watches every key under `prefix`: first a [`RawEvent::Restarted`] with
    /// the full state, then each change.
    pub fn watch_raw(&self, prefix: &str) -> RawWatcher {
        self.watch_raw_with(prefix, WatchMachine::new())
    }

    /// Watches `prefix` starting from a given machine (e.g.
    /// [`WatchMachine::resume_from`] a revision the caller already has).
    pub fn watch_raw_with(&self, prefix: &str, machine: WatchMachine) -> RawWatcher {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = tokio::spawn(drive(self.clone(), prefix.to_string(), machine, tx));
        RawWatcher { rx, task }
    }

    /// Typed watch of every key under `prefix`.
    pub fn watch_prefix<T: Stored>(&self, prefix: &str) -> Watcher<T> {
        Watcher {
            raw: self.watch_raw(prefix),
            pending: VecDeque::new(),
        }
    }

    /// Typed watch of one kind, in one namespace or all.
    pub fn watch<T: drover_api_types::ApiObject>(&self, namespace: Option<&str>) -> Watcher<T> {
        self.watch_prefix(&self.keys().kind_prefix::<T>(namespace))
    }
}

/// Doubling backoff between failed attempts, reset by any success.
struct Backoff(Duration);

impl Backoff {
    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }
}

/// Why one watch stream ended.
enum Ended {
    ConsumerGone,
    Relist,
    Broken(String),
}

async fn drive(
    store: Store,
    prefix: String,
    mut machine: WatchMachine,
    tx: mpsc::Sender<RawEvent>,
) {
    let mut backoff = Backoff(BACKOFF_MIN);
    loop {
        match machine.next() {
            Next::List => match store.list_raw(&prefix).await {
                Ok(list) => {
                    if tx.send(machine.on_listed(list)).await.is_err() {
                        return;
                    }
                    backoff.reset();
                }
                Err(e) => {
                    tracing::warn!(%prefix, error = %e, "watch: list failed, retrying");
                    backoff.wait().await;
                }
            },
            Next::Watch { start_revision } => {
                match watch_once(
                    &store,
                    &prefix,
                    start_revision,
                    &mut machine,
                    &tx,
                    &mut backoff,
                )
                .await
                {
                    Ended::ConsumerGone => return,
                    Ended::Relist => {
                        tracing::info!(%prefix, start_revision, "watch: history compacted, re-listing");
                    }
                    Ended::Broken(reason) => {
                        tracing::warn!(%prefix, start_revision, %reason, "watch: stream broke, resuming");
                        backoff.wait().await;
                    }
                }
            }
        }
    }
}

async fn watch_once(
    store: &Store,
    prefix: &str,
    start_revision: i64,
    machine: &mut WatchMachine,
    tx: &mpsc::Sender<RawEvent>,
    backoff: &mut Backoff,
) -> Ended {
    let opts = WatchOptions::new()
        .with_range(prefix_end(prefix.as_bytes()))
        .with_start_revision(start_revision);
    // A failure below is reported, so that after one on an endpoint that
    // cannot be reached the next watch opens on another.
    let (endpoint, client) = match store.stream_client("watch", prefix).await {
        Ok(picked) => picked,
        Err(e) => return Ended::Broken(e.to_string()),
    };
    let mut client = client.watch_client();
    let mut stream = match store
        .timed("watch", prefix, client.watch(prefix, Some(opts)))
        .await
    {
        Ok(stream) => stream,
        Err(e) => {
            store.report_error(endpoint, &e);
            return Ended::Broken(e.to_string());
        }
    };
    loop {
        let resp = match stream.message().await {
            Ok(Some(resp)) => resp,
            Ok(None) => {
                store.report_unreachable(endpoint);
                return Ended::Broken("stream closed by server".into());
            }
            Err(e) => {
                store.report(endpoint, &e);
                return Ended::Broken(e.to_string());
            }
        };
        match machine.on_response(convert(&resp)) {
            Step::Deliver(events) => {
                backoff.reset();
                for event in events {
                    if tx.send(event).await.is_err() {
                        return Ended::ConsumerGone;
                    }
                }
            }
            Step::Reconnect => return Ended::Broken("watch canceled by server".into()),
            Step::Relist => return Ended::Relist,
        }
    }
}

fn convert(resp: &WatchResponse) -> Response {
    let mut changes = Vec::with_capacity(resp.events().len());
    for event in resp.events() {
        let Some(kv) = event.kv() else { continue };
        let kv = match Kv::from_etcd(kv) {
            Ok(kv) => kv,
            Err(e) => {
                // Retrying cannot fix a key drover never writes: skip it.
                tracing::warn!(error = %e, "watch: skipping event");
                continue;
            }
        };
        changes.push(match event.event_type() {
            EventType::Put => Change::Put(kv),
            EventType::Delete => Change::Delete {
                key: kv.key,
                revision: kv.mod_revision,
            },
        });
    }
    Response {
        created: resp.created(),
        canceled: resp.canceled(),
        compact_revision: resp.compact_revision(),
        header_revision: resp.header().map_or(0, |h| h.revision()),
        changes,
    }
}
