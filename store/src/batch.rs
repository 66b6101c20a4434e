//! Batched writes: many puts and deletes in as few etcd transactions as the
//! server's limits allow.
//!
//! # What is atomic
//! - An [`Atomic`] unit (its guards and all its ops) is always committed in a
//!   single transaction: all of it lands or none of it does. A single call
//!   such as [`Batch::create`] is a unit of one op.
//! - [`Batch::commit`] packs consecutive units into transactions of at most
//!   `max_txn_ops` ops and `max_request_bytes` bytes, in order. Units in
//!   different transactions are **not** atomic with each other: a crash
//!   part-way leaves a prefix of the batch committed. A unit whose guard fails
//!   is reported in [`BatchOutcome::failed`] and the other units still commit.
//! - [`Batch::commit_atomic`] puts every unit in one transaction and refuses
//!   batches that do not fit; if any guard fails nothing is written.
//!
//! Two ops on the same key never share a transaction (etcd rejects that), so
//! a later write to a key in the batch lands after the earlier one.

use std::collections::HashSet;

use futures::StreamExt;
use std::ops::Range;

use etcd_client::{Compare, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse};

use crate::codec::{encode, Kv, Stored};
use crate::error::{Result, StoreError};
use crate::store::{Guard, Store};

/// Per-transaction limits, mirroring etcd's `--max-txn-ops` and
/// `--max-request-bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnLimits {
    pub max_ops: usize,
    pub max_bytes: usize,
}

/// Bytes reserved for the transaction envelope and raft wrapping that the
/// server counts against `--max-request-bytes`.
const ENVELOPE_BYTES: usize = 512;
/// Conservative protobuf framing per op (tags, lengths, lease).
const OP_OVERHEAD: usize = 24;
/// Conservative protobuf framing per compare (tags, target, revision).
const COMPARE_OVERHEAD: usize = 32;

/// One write in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<i64>,
    },
    Delete {
        key: String,
    },
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }

    fn size(&self) -> usize {
        match self {
            Op::Put { key, value, .. } => key.len() + value.len() + OP_OVERHEAD,
            Op::Delete { key } => key.len() + OP_OVERHEAD,
        }
    }

    fn to_txn_op(&self) -> TxnOp {
        match self {
            Op::Put { key, value, lease } => TxnOp::put(
                key.as_str(),
                value.clone(),
                lease.map(|id| PutOptions::new().with_lease(id)),
            ),
            Op::Delete { key } => TxnOp::delete(key.as_str(), None),
        }
    }
}

/// Writes that must land together, with the guards they depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Atomic {
    guards: Vec<(String, Guard)>,
    ops: Vec<Op>,
}

impl Atomic {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `guard` to hold on `key` for the unit to apply.
    pub fn guard(mut self, key: impl Into<String>, guard: Guard) -> Self {
        if guard != Guard::None {
            self.guards.push((key.into(), guard));
        }
        self
    }

    pub fn put(mut self, key: impl Into<String>, value: Vec<u8>) -> Self {
        let key = key.into();
        self.ops.push(Op::Put {
            key,
            value,
            lease: None,
        });
        self
    }

    /// A put whose key disappears with the lease.
    pub fn put_with_lease(mut self, key: impl Into<String>, value: Vec<u8>, lease: i64) -> Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value,
            lease: Some(lease),
        });
        self
    }

    /// Puts `value` as JSON, guarded by its revision when it has one
    /// (compare-and-swap) or by absence when it has none (create).
    pub fn put_value<V: Stored>(self, key: &str, value: &V) -> Result<Self> {
        let bytes = encode(key, value)?;
        let guard = match value.revision() {
            0 => Guard::Absent,
            rev => Guard::Revision(rev),
        };
        Ok(self.guard(key, guard).put(key, bytes))
    }

    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }

    /// This unit and `other` as one: all of both guards, then both writes.
    pub fn merge(mut self, other: Atomic) -> Self {
        self.guards.extend(other.guards);
        self.ops.extend(other.ops);
        self
    }

    fn size(&self) -> usize {
        let guards: usize = self
            .guards
            .iter()
            .map(|(k, _)| k.len() + COMPARE_OVERHEAD)
            .sum();
        guards + self.ops.iter().map(Op::size).sum::<usize>()
    }

    fn first_key(&self) -> &str {
        self.ops
            .first()
            .map(Op::key)
            .or_else(|| self.guards.first().map(|(k, _)| k.as_str()))
            .unwrap_or("")
    }
}

/// What a committed batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Transactions sent that succeeded.
    pub txns: usize,
    /// Units committed.
    pub applied: usize,
    /// Revision of the last successful transaction (0 if none).
    pub revision: i64,
    /// Units whose guard failed, by index, with the failure
    /// ([`StoreError::AlreadyExists`] or [`StoreError::Conflict`]).
    pub failed: Vec<(usize, StoreError)>,
}

/// A list of [`Atomic`] units to commit together. See the module docs for
/// what is atomic.
#[derive(Debug, Clone)]
pub struct Batch {
    units: Vec<Atomic>,
    limits: TxnLimits,
}

impl Batch {
    pub fn new(limits: TxnLimits) -> Self {
        Self {
            units: Vec::new(),
            limits,
        }
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Adds a unit that is never split across transactions.
    pub fn push(&mut self, unit: Atomic) -> &mut Self {
        self.units.push(unit);
        self
    }

    /// Unconditional put.
    pub fn put(&mut self, key: impl Into<String>, value: Vec<u8>) -> &mut Self {
        self.push(Atomic::new().put(key, value))
    }

    /// Put only if `key` does not exist.
    pub fn create(&mut self, key: &str, value: Vec<u8>) -> &mut Self {
        self.push(Atomic::new().guard(key, Guard::Absent).put(key, value))
    }

    /// Put only if `key` is at `revision`.
    pub fn update(&mut self, key: &str, value: Vec<u8>, revision: i64) -> &mut Self {
        self.push(
            Atomic::new()
                .guard(key, Guard::Revision(revision))
                .put(key, value),
        )
    }

    /// Unconditional delete.
    pub fn delete(&mut self, key: impl Into<String>) -> &mut Self {
        self.push(Atomic::new().delete(key))
    }

    /// Delete only if `key` is at `revision`.
    pub fn delete_if(&mut self, key: &str, revision: i64) -> &mut Self {
        self.push(
            Atomic::new()
                .guard(key, Guard::Revision(revision))
                .delete(key),
        )
    }

    /// How the units will be packed: one range of unit indexes per txn.
    pub fn plan(&self) -> Result<Vec<Range<usize>>> {
        plan_chunks(&self.units, self.limits)
    }

    /// Commits in as few transactions as the limits allow, in order.
    ///
    /// A transport error stops the batch with
    /// [`StoreError::BatchIncomplete`]: units before `applied` were processed
    /// (committed, unless their guard failed), the rest were not sent.
    pub async fn commit(self, store: &Store) -> Result<BatchOutcome> {
        let chunks = self.plan()?;
        let total = self.units.len();
        let mut outcome = BatchOutcome::default();
        for chunk in chunks {
            let start = chunk.start;
            let mut pending: Vec<usize> = chunk.collect();
            if let Err(e) = commit_chunk(store, &self.units, &mut pending, &mut outcome).await {
                return Err(StoreError::BatchIncomplete {
                    applied: start,
                    total,
                    source: Box::new(e),
                });
            }
        }
        Ok(outcome)
    }

    /// Like [`Batch::commit`], with up to `in_flight` transactions at once:
    /// for many independent units (e.g. bindings of different allocations)
    /// this is several times faster than one transaction after another.
    ///
    /// Transactions are no longer ordered, so when two units write the same
    /// key this falls back to [`Batch::commit`]. On a transport error the
    /// committed units are not necessarily a prefix:
    /// [`StoreError::BatchIncomplete`] counts them, and the caller re-reads.
    pub async fn commit_concurrent(self, store: &Store, in_flight: usize) -> Result<BatchOutcome> {
        let mut keys: HashSet<&str> = HashSet::new();
        let distinct = self
            .units
            .iter()
            .flat_map(|u| u.ops.iter().map(Op::key))
            .all(|k| keys.insert(k));
        if !distinct || in_flight <= 1 {
            return self.commit(store).await;
        }
        let chunks = self.plan()?;
        let total = self.units.len();
        let units = &self.units;
        let results: Vec<(usize, Result<BatchOutcome>)> = futures::stream::iter(chunks)
            .map(|chunk| async move {
                let size = chunk.len();
                let mut outcome = BatchOutcome::default();
                let mut pending: Vec<usize> = chunk.collect();
                let result = commit_chunk(store, units, &mut pending, &mut outcome).await;
                (size, result.map(|()| outcome))
            })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let mut merged = BatchOutcome::default();
        let mut first_error = None;
        for (_, result) in results {
            match result {
                Ok(o) => {
                    merged.txns += o.txns;
                    merged.applied += o.applied;
                    merged.revision = merged.revision.max(o.revision);
                    merged.failed.extend(o.failed);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        merged.failed.sort_by_key(|(i, _)| *i);
        match first_error {
            None => Ok(merged),
            Some(e) => Err(StoreError::BatchIncomplete {
                applied: merged.applied,
                total,
                source: Box::new(e),
            }),
        }
    }

    /// Commits every unit in one transaction: all or nothing. Fails with
    /// [`StoreError::BatchUnitTooLarge`] if the batch does not fit, and with
    /// the first failed guard's error if any guard fails.
    pub async fn commit_atomic(self, store: &Store) -> Result<i64> {
        let all = Atomic {
            guards: self.units.iter().flat_map(|u| u.guards.clone()).collect(),
            ops: self.units.iter().flat_map(|u| u.ops.clone()).collect(),
        };
        check_unit(0, &all, self.limits)?;
        let resp = store.txn(all.first_key(), build_txn(&[&all])).await?;
        if resp.succeeded() {
            return Ok(resp.header().map_or(0, |h| h.revision()));
        }
        let current = failure_kvs(&resp)?;
        let (key, guard) = all
            .guards
            .iter()
            .find(|(key, guard)| !guard_holds(*guard, current.iter().find(|kv| &kv.key == key)))
            .or_else(|| all.guards.first())
            .cloned()
            .unwrap_or_else(|| (all.first_key().to_string(), Guard::None));
        Err(guard.failure(&key, current.iter().find(|kv| kv.key == key)))
    }
}

/// Sends `pending` units as one txn; when guards fail, drops the units whose
/// guards the failure branch shows as broken and retries the rest.
async fn commit_chunk(
    store: &Store,
    units: &[Atomic],
    pending: &mut Vec<usize>,
    outcome: &mut BatchOutcome,
) -> Result<()> {
    // A guard can fail and then hold again by the time we read it back; cap
    // the retries so a flapping key cannot spin us forever.
    for _ in 0..8 {
        if pending.is_empty() {
            return Ok(());
        }
        let batch: Vec<&Atomic> = pending.iter().map(|&i| &units[i]).collect();
        let resp = store.txn(batch[0].first_key(), build_txn(&batch)).await?;
        if resp.succeeded() {
            outcome.txns += 1;
            outcome.applied += pending.len();
            outcome.revision = resp.header().map_or(outcome.revision, |h| h.revision());
            return Ok(());
        }
        let current = failure_kvs(&resp)?;
        pending.retain(|&i| match broken_guard(&units[i], &current) {
            Some(err) => {
                outcome.failed.push((i, err));
                false
            }
            None => true,
        });
    }
    for i in pending.drain(..) {
        let unit = &units[i];
        let err = match unit.guards.first() {
            Some((key, guard)) => guard.failure(key, None),
            None => StoreError::Conflict {
                key: unit.first_key().to_string(),
                expected: 0,
                actual: None,
            },
        };
        outcome.failed.push((i, err));
    }
    Ok(())
}

/// The error for the first guard of `unit` that `current` shows as broken.
fn broken_guard(unit: &Atomic, current: &[Kv]) -> Option<StoreError> {
    unit.guards.iter().find_map(|(key, guard)| {
        let kv = current.iter().find(|kv| &kv.key == key);
        (!guard_holds(*guard, kv)).then(|| guard.failure(key, kv))
    })
}

fn guard_holds(guard: Guard, kv: Option<&Kv>) -> bool {
    match guard {
        Guard::None => true,
        Guard::Absent => kv.is_none(),
        Guard::Revision(rev) => kv.is_some_and(|kv| kv.mod_revision == rev),
    }
}

/// Guards of all units as compares; their ops as the success branch; a read
/// of every guarded key as the failure branch, to tell which guard broke.
fn build_txn(units: &[&Atomic]) -> Txn {
    let mut compares: Vec<Compare> = Vec::new();
    let mut reads = Vec::new();
    let mut ops = Vec::new();
    let mut seen: HashSet<(&str, Guard)> = HashSet::new();
    for unit in units {
        for (key, guard) in &unit.guards {
            if !seen.insert((key.as_str(), *guard)) {
                continue;
            }
            compares.extend(guard.compare(key));
            reads.push(TxnOp::get(key.as_str(), None));
        }
        ops.extend(unit.ops.iter().map(Op::to_txn_op));
    }
    Txn::new().when(compares).and_then(ops).or_else(reads)
}

fn failure_kvs(resp: &TxnResponse) -> Result<Vec<Kv>> {
    let mut kvs = Vec::new();
    for op in resp.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            for kv in get.kvs() {
                kvs.push(Kv::from_etcd(kv)?);
            }
        }
    }
    Ok(kvs)
}

fn check_unit(index: usize, unit: &Atomic, limits: TxnLimits) -> Result<()> {
    let ops = unit.ops.len().max(unit.guards.len());
    let bytes = unit.size() + ENVELOPE_BYTES;
    if ops > limits.max_ops || bytes > limits.max_bytes {
        return Err(StoreError::BatchUnitTooLarge {
            index,
            key: unit.first_key().to_string(),
            ops,
            bytes,
            max_ops: limits.max_ops,
            max_bytes: limits.max_bytes,
        });
    }
    Ok(())
}

/// Packs consecutive units greedily into transactions that respect `limits`
/// and never touch one key twice. Pure, so it is tested without etcd.
pub fn plan_chunks(units: &[Atomic], limits: TxnLimits) -> Result<Vec<Range<usize>>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let (mut ops, mut guards, mut bytes) = (0, 0, ENVELOPE_BYTES);
    let mut keys: HashSet<&str> = HashSet::new();
    // Identical guards (e.g. the leader fence every unit carries) are one
    // compare per transaction.
    let mut seen_guards: HashSet<(&str, Guard)> = HashSet::new();
    for (i, unit) in units.iter().enumerate() {
        check_unit(i, unit, limits)?;
        let new_guards = unit
            .guards
            .iter()
            .filter(|(k, g)| !seen_guards.contains(&(k.as_str(), *g)))
            .count();
        let fits = ops + unit.ops.len() <= limits.max_ops
            && guards + new_guards <= limits.max_ops
            && bytes + unit.size() <= limits.max_bytes
            && unit.ops.iter().all(|op| !keys.contains(op.key()))
            // A guard must see the writes of earlier units, which it would
            // not if both were in one txn (compares run before all ops).
            && unit.guards.iter().all(|(k, _)| !keys.contains(k.as_str()));
        if !fits {
            chunks.push(start..i);
            start = i;
            (ops, guards, bytes) = (0, 0, ENVELOPE_BYTES);
            keys.clear();
            seen_guards.clear();
        }
        ops += unit.ops.len();
        bytes += unit.size();
        keys.extend(unit.ops.iter().map(Op::key));
        for (k, g) in &unit.guards {
            if seen_guards.insert((k.as_str(), *g)) {
                guards += 1;
            }
        }
    }
    if start < units.len() {
        chunks.push(start..units.len());
    }
    Ok(chunks)
}

impl Store {
    /// An empty batch sized by this store's configured limits.
    pub fn batch(&self) -> Batch {
        Batch::new(TxnLimits {
            max_ops: self.config().max_txn_ops,
            max_bytes: self.config().max_request_bytes,
        })
    }
}

#[cfg(test)]
mod tests;
