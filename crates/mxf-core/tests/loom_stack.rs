//! `loom` model of the reserve's lock-free stack (`src/alloc/stack.rs`) and of its
//! per-processor spread (`src/alloc/reserve.rs`: take from the own stack, steal and move from
//! another, give to the own stack), compiled here with loom's atomics: every interleaving of
//! a few threads, within a preemption bound, keeps each index owned by at most one thread,
//! loses none, and keeps the counts the statistics are derived from exact.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mxf-core --test loom_stack --release`
#![cfg(loom)]

/// What `stack.rs` imports as `super::sync`.
mod sync {
    pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
}

#[allow(dead_code)]
#[path = "../src/alloc/stack.rs"]
mod stack;

#[allow(dead_code)]
#[path = "../src/alloc/reserve.rs"]
mod reserve;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use loom::thread;
use reserve::{PerCpu, Reserve};
use stack::{IndexStack, Slot};

/// The shared state: the stack, its slots, and per-slot "owned by a thread" flags plus a
/// payload each owner writes (to check that a pop sees the pusher's writes).
struct Model {
    stack: IndexStack,
    slots: Vec<Slot<usize>>,
    owned: Vec<AtomicBool>,
    payload: Vec<AtomicUsize>,
}

impl Model {
    fn new(n: usize) -> Arc<Self> {
        let m = Model {
            stack: IndexStack::new(),
            slots: (0..n).map(Slot::new).collect(),
            owned: (0..n).map(|_| AtomicBool::new(false)).collect(),
            payload: (0..n).map(AtomicUsize::new).collect(),
        };
        for i in 0..n {
            assert!(m.stack.push(&m.slots, i));
        }
        Arc::new(m)
    }

    /// Pops, checks exclusive ownership and the payload, writes a new payload.
    fn take(&self, who: usize) -> Option<usize> {
        let i = self.stack.pop(&self.slots)?;
        assert_eq!(self.slots[i].item, i);
        assert!(
            !self.owned[i].swap(true, Ordering::Relaxed),
            "index {i} handed out twice"
        );
        // The payload was written (Relaxed) by the last owner before its push: the stack's
        // release/acquire must make it visible.
        let v = self.payload[i].load(Ordering::Relaxed);
        assert_eq!(v % 16, i, "stale payload {v} for {i}");
        self.payload[i].store(i + 16 * (who + 1), Ordering::Relaxed);
        Some(i)
    }

    fn give(&self, i: usize) {
        assert!(self.owned[i].swap(false, Ordering::Relaxed));
        assert!(self.stack.push(&self.slots, i));
    }

    /// Drains the stack at the end: every index exactly once, count consistent.
    fn drain_all(&self, n: usize) {
        assert_eq!(self.stack.len(), n);
        let mut seen = vec![false; n];
        while let Some(i) = self.stack.pop(&self.slots) {
            assert!(!seen[i], "index {i} twice on the stack");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "an index was lost");
        assert_eq!(self.stack.len(), 0);
    }
}

fn builder(bound: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b
}

#[test]
fn two_threads_pop_push_twice() {
    builder(3).check(|| {
        let m = Model::new(2);
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..2 {
                        if let Some(i) = m.take(t) {
                            m.give(i);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        m.drain_all(2);
    });
}

/// The ABA shape: thread 0 reads `top = 0, link = 1` and is preempted; thread 1 pops all
/// three and pushes them back so that 0 is on top again with the same count but `link = 2`.
/// Without the tag, thread 0's CAS would succeed and install the stale link (losing an
/// index); this test fails if the tag is removed from `stack.rs`.
#[test]
fn aba_interleaving_is_caught_by_the_tag() {
    builder(3).check(|| {
        let m = Model::new(3);
        let m0 = m.clone();
        let t0 = thread::spawn(move || {
            if let Some(i) = m0.take(0) {
                m0.give(i);
            }
        });
        let m1 = m.clone();
        let t1 = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..3 {
                if let Some(i) = m1.take(1) {
                    got.push(i);
                }
            }
            // Push back rotated: the first one popped goes back last, i.e. on top.
            if !got.is_empty() {
                got.rotate_left(1);
            }
            for i in got {
                m1.give(i);
            }
        });
        t0.join().unwrap();
        t1.join().unwrap();
        m.drain_all(3);
    });
}

#[test]
fn three_threads_contend_for_two_slots() {
    builder(2).check(|| {
        let m = Model::new(2);
        let hs: Vec<_> = (0..3)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    if let Some(i) = m.take(t) {
                        m.give(i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        m.drain_all(2);
    });
}

/// The per-processor reserve: `cpus` stacks over one slot array, with the same ownership and
/// payload checks as [`Model`], and a count of successful takes to check the hit count.
struct Spread {
    cpus: Vec<PerCpu>,
    slots: Vec<Slot<usize>>,
    moved: AtomicU64,
    owned: Vec<AtomicBool>,
    payload: Vec<AtomicUsize>,
    takes: AtomicUsize,
}

impl Spread {
    fn new(cpus: usize, n: usize) -> Self {
        let s = Spread {
            cpus: (0..cpus).map(|_| PerCpu::new()).collect(),
            slots: (0..n).map(Slot::new).collect(),
            moved: AtomicU64::new(0),
            owned: (0..n).map(|_| AtomicBool::new(false)).collect(),
            payload: (0..n).map(AtomicUsize::new).collect(),
            takes: AtomicUsize::new(0),
        };
        s.reserve().fill();
        s
    }

    fn reserve(&self) -> Reserve<'_, usize> {
        Reserve {
            cpus: &self.cpus,
            slots: &self.slots,
            moved: &self.moved,
        }
    }

    fn take(&self, cpu: u32, who: usize) -> Option<usize> {
        let i = self.reserve().take(cpu)?.index;
        self.takes.fetch_add(1, Ordering::Relaxed);
        assert_eq!(self.slots[i].item, i);
        assert!(
            !self.owned[i].swap(true, Ordering::Relaxed),
            "index {i} handed out twice"
        );
        let v = self.payload[i].load(Ordering::Relaxed);
        assert_eq!(v % 16, i, "stale payload {v} for {i}");
        self.payload[i].store(i + 16 * (who + 1), Ordering::Relaxed);
        Some(i)
    }

    fn give(&self, cpu: u32, i: usize) {
        assert!(self.owned[i].swap(false, Ordering::Relaxed));
        assert!(self.reserve().give(cpu, i));
    }

    /// At the end: every index on exactly one stack, the free count and the hit count (pops
    /// minus moves) exact.
    fn check_all_back(&self, n: usize) {
        let r = self.reserve();
        assert_eq!(r.free() as usize, n);
        assert_eq!(r.hits(), self.takes.load(Ordering::Relaxed) as u64);
        let mut seen = vec![false; n];
        while let Some(i) = r.drain_one() {
            assert!(!seen[i], "index {i} twice on the stacks");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "an index was lost");
        assert_eq!(r.free(), 0);
    }
}

/// Two processors each take twice (stealing when their own stack is empty) and give back to
/// their own stack, while the other does the same.
#[test]
fn two_processors_take_steal_and_give() {
    builder(2).check(|| {
        // Slots 0, 2 on processor 0; slot 1 on processor 1.
        let s = Arc::new(Spread::new(2, 3));
        let hs: Vec<_> = (0..2u32)
            .map(|cpu| {
                let s = s.clone();
                thread::spawn(move || {
                    let a = s.take(cpu, cpu as usize);
                    let b = s.take(cpu, cpu as usize);
                    for i in [a, b].into_iter().flatten() {
                        s.give(cpu, i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        s.check_all_back(3);
    });
}

/// A steal that moves part of the victim's stack (the victim keeps 2 after the steal's pop,
/// so one more index moves) while the victim's own processor takes and gives.
#[test]
fn a_steal_with_a_move_races_the_victims_owner() {
    builder(2).check(|| {
        // Slots 0, 2, 4 on processor 0; slots 1, 3 on processor 1, taken up front so that
        // processor 1 is empty.
        let s = Arc::new(Spread::new(2, 5));
        let held: Vec<usize> = (0..2).filter_map(|_| s.take(1, 9)).collect();
        assert_eq!(held.len(), 2);
        let s0 = s.clone();
        let owner = thread::spawn(move || {
            if let Some(i) = s0.take(0, 0) {
                s0.give(0, i);
            }
        });
        let s1 = s.clone();
        let thief = thread::spawn(move || {
            let got = s1.take(1, 1);
            assert!(got.is_some(), "a free index exists on processor 0");
            if let Some(i) = got {
                s1.give(1, i);
            }
        });
        owner.join().unwrap();
        thief.join().unwrap();
        for i in held {
            s.give(1, i);
        }
        s.check_all_back(5);
    });
}
