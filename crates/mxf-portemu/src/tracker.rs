//! [`Tracker`]: what the port emulator's COM objects and calls did — live objects by kind
//! (so tests can prove every reference came back) and the IRQL of every cross-boundary call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// Live COM objects of the port emulator by kind, and the IRQLs each call was made at.
#[derive(Default, Debug)]
pub struct Tracker {
    live: Mutex<BTreeMap<&'static str, i64>>,
    calls: Mutex<BTreeMap<&'static str, CallRecord>>,
}

/// How often a call was made and at which IRQLs.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Number of calls.
    pub count: u64,
    /// Every IRQL the call was seen at.
    pub irqls: BTreeSet<u8>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tracker {
    /// A new, empty tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records a call to `name` at `irql`.
    pub fn call(&self, name: &'static str, irql: u8) {
        let mut calls = lock(&self.calls);
        let r = calls.entry(name).or_default();
        r.count += 1;
        r.irqls.insert(irql);
    }

    /// The record of `name` (empty if never called).
    pub fn calls_of(&self, name: &str) -> CallRecord {
        lock(&self.calls).get(name).cloned().unwrap_or_default()
    }

    /// Every call recorded so far.
    pub fn calls(&self) -> BTreeMap<&'static str, CallRecord> {
        lock(&self.calls).clone()
    }

    /// Live objects of each kind that has ever been created (zero entries included).
    pub fn live(&self) -> BTreeMap<&'static str, i64> {
        lock(&self.live).clone()
    }

    /// Live objects in all.
    pub fn live_total(&self) -> i64 {
        lock(&self.live).values().sum()
    }

    pub(crate) fn born(self: &Arc<Self>, kind: &'static str) -> LiveGuard {
        *lock(&self.live).entry(kind).or_default() += 1;
        LiveGuard {
            tracker: Arc::clone(self),
            kind,
        }
    }
}

/// Held by every COM object of the emulator: counts it live until dropped.
#[derive(Debug)]
pub(crate) struct LiveGuard {
    tracker: Arc<Tracker>,
    kind: &'static str,
}

impl LiveGuard {
    pub(crate) fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        *lock(&self.tracker.live).entry(self.kind).or_default() -= 1;
    }
}
