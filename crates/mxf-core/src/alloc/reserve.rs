//! The reserve's free slots, spread over one lock-free stack per processor.
//!
//! A single shared stack head is one cache line that every get and put on every processor
//! writes: with two processors busy, the line ping-pongs between them and two threads do
//! less work than one. So each processor gets its own [`IndexStack`] (all over the one slot
//! array, so a block keeps its slot identity wherever it is), alone on a 128-byte line pair
//! (adjacent-line prefetchers fetch lines in pairs). A get pops its own processor's stack; when
//! that is empty it *steals* from the others (in order, starting with the next processor),
//! moving up to [`STEAL_BATCH`] more indices — half of what the victim has left — onto its own
//! stack so that the gets after it are local again; only when every stack is empty does it go
//! to the block pool. A put pushes onto the stack of the processor it runs on, wherever the
//! block came from.
//!
//! # Where the reserve lives
//! The reserve is split, not replicated: `reserve_*` blocks in all, slot `i` starting on
//! processor `i % n`. Every processor can still reach every free reserve block (by
//! stealing), so the reserve's promises hold whichever processor a get runs on: a capture
//! DPC never finds the reserve empty while one of its blocks is free anywhere, and the cap
//! and the memory taken at creation do not grow with the processor count.
//!
//! # Which processor
//! The caller passes the platform's `current_processor`. At `DISPATCH_LEVEL` that is stable;
//! at `PASSIVE_LEVEL` the thread may have moved by the time it pops or pushes, which costs at
//! most a shared cache line, never correctness: every stack is a full lock-free stack, safe
//! from every processor at once.
//!
//! # Counting without counters
//! Every stack's head counts its pushes and pops ([`IndexStack::pushes_pops`]). A steal's
//! moves are a pop from the victim and a push onto the thief's stack, counted once more in
//! `moved` (cold path only), so the reserve hits — gets served from the reserve — are
//! `sum(pops) - moved`, and the free blocks `sum(counts)`.
//!
//! # High-water sampling
//! The outstanding count is `reserve - sum(counts) + pool blocks`: exact, but reading every
//! processor's head would bring back the cache-line traffic the split removes. So a get
//! reports `sample = true` only when its own stack reached a new low (below `floor`, the
//! lowest count since the last sample on this processor) or it stole; the caller then sums
//! the heads. While all gets and puts run on one processor that is exact: the other stacks
//! only change by that processor's steals, which sample and reset the floor, and between two
//! samples the outstanding count can only exceed the last sample by the own stack going lower.
//! With several processors at once it may miss a peak that two processors reach together
//! (each sample is a true count taken without a lock).
//!
//! This file is also compiled by `tests/loom_stack.rs` (with `loom`'s atomics in `sync`).

use super::stack::{IndexStack, Slot};
use super::sync::{AtomicU32, AtomicU64, Ordering};

/// Most indices a steal moves onto the thief's stack besides the one it hands out.
pub const STEAL_BATCH: u32 = 16;

/// One processor's stack of free slot indices, alone on a 128-byte line pair.
#[repr(C, align(128))]
pub struct PerCpu {
    /// The free slots of this processor.
    pub stack: IndexStack,
    /// Lowest count of `stack` since this processor last sampled (see the module docs).
    floor: AtomicU32,
}

impl PerCpu {
    /// An empty stack.
    pub fn new() -> Self {
        Self {
            stack: IndexStack::new(),
            floor: AtomicU32::new(0),
        }
    }
}

impl Default for PerCpu {
    fn default() -> Self {
        Self::new()
    }
}

/// A slot index taken from the reserve.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Taken {
    /// The slot.
    pub index: usize,
    /// Whether the caller should sample the outstanding count for the high-water mark.
    pub sample: bool,
}

/// A view of one reserve: its per-processor stacks, its slot array and its steal counter.
pub struct Reserve<'a, T> {
    /// One stack per processor (empty when the reserve has no blocks).
    pub cpus: &'a [PerCpu],
    /// The slot array every stack indexes.
    pub slots: &'a [Slot<T>],
    /// Indices moved by steals (popped from a victim and pushed onto the thief's stack).
    pub moved: &'a AtomicU64,
}

impl<T> Reserve<'_, T> {
    /// The stack of processor `cpu` (folded onto the stacks there are); `None` when the
    /// reserve has no stacks.
    #[inline(always)]
    fn home(&self, cpu: u32) -> Option<(usize, &PerCpu)> {
        let n = self.cpus.len();
        let i = cpu as usize;
        let i = if i < n {
            i
        } else if n == 0 {
            return None;
        } else {
            i % n
        };
        self.cpus.get(i).map(|c| (i, c))
    }

    /// Distributes slots `0..slots.len()` over the stacks (slot `i` on stack `i % n`, the
    /// lowest index on top) and sets every floor. Creation only: nothing else uses the
    /// reserve yet.
    pub fn fill(&self) {
        let n = self.cpus.len();
        if n == 0 {
            return;
        }
        for i in (0..self.slots.len()).rev() {
            if let Some(c) = self.cpus.get(i % n) {
                c.stack.push(self.slots, i);
            }
        }
        for c in self.cpus {
            c.floor.store(c.stack.len() as u32, Ordering::Relaxed);
        }
    }

    /// A free slot for a get on processor `cpu`: its own stack first, then a steal; `None`
    /// when every stack is empty.
    #[inline(always)]
    pub fn take(&self, cpu: u32) -> Option<Taken> {
        let (me, own) = self.home(cpu)?;
        if let Some(taken) = Self::pop_own(own, self.slots) {
            return Some(taken);
        }
        self.steal(me, own)
    }

    /// The first half of [`Reserve::take`]: a free slot from processor `cpu`'s own stack
    /// only; `None` when that stack is empty (or there are no stacks), without stealing.
    /// (The allocator's fast path uses [`Reserve::take_own_once`].)
    #[inline(always)]
    pub fn take_own(&self, cpu: u32) -> Option<Taken> {
        let (_, own) = self.home(cpu)?;
        Self::pop_own(own, self.slots)
    }

    /// As [`Reserve::take_own`], with a single attempt at the pop
    /// ([`IndexStack::pop_once`]): `None` also when another processor changed the stack
    /// first. The allocator's fast path, which follows a `None` with a full [`Reserve::take`].
    #[inline(always)]
    pub fn take_own_once(&self, cpu: u32) -> Option<Taken> {
        let (_, own) = self.home(cpu)?;
        let popped = own.stack.pop_once(self.slots)?;
        Some(Self::note_taken(own, popped))
    }

    #[inline(always)]
    fn pop_own(own: &PerCpu, slots: &[Slot<T>]) -> Option<Taken> {
        let popped = own.stack.pop_counted(slots)?;
        Some(Self::note_taken(own, popped))
    }

    /// The floor bookkeeping of a pop from `own` that left `left` indices.
    #[inline(always)]
    fn note_taken(own: &PerCpu, (index, left): (usize, u32)) -> Taken {
        // The floor sits on this processor's own line and only its gets touch it: a plain
        // load and, on a new low only, a store.
        let sample = left < own.floor.load(Ordering::Relaxed);
        if sample {
            own.floor.store(left, Ordering::Relaxed);
        }
        Taken { index, sample }
    }

    /// Pops from the other processors' stacks, next processor first; moves up to
    /// [`STEAL_BATCH`] more indices (half of what the victim has left) onto `own`.
    #[cold]
    #[inline(never)]
    fn steal(&self, me: usize, own: &PerCpu) -> Option<Taken> {
        let n = self.cpus.len();
        for d in 1..n {
            let Some(victim) = self.cpus.get((me + d) % n) else {
                continue;
            };
            let Some((index, left)) = victim.stack.pop_counted(self.slots) else {
                continue;
            };
            let mut moved = 0u64;
            for _ in 0..(left / 2).min(STEAL_BATCH) {
                let Some(i) = victim.stack.pop(self.slots) else {
                    break;
                };
                // In bounds (it was on a stack over the same slots), and ours alone between
                // the pop and the push: the push cannot fail.
                if own.stack.push(self.slots, i) {
                    moved += 1;
                }
            }
            if moved != 0 {
                self.moved.fetch_add(moved, Ordering::Relaxed);
            }
            own.floor.store(own.stack.len() as u32, Ordering::Relaxed);
            return Some(Taken {
                index,
                sample: true,
            });
        }
        None
    }

    /// Returns slot `index` from processor `cpu`: onto that processor's stack. `false` (and
    /// nothing done) if the reserve has no stacks or `index` is out of bounds.
    ///
    /// The caller owns `index`: it is on no stack and no other thread pushes it.
    #[inline(always)]
    pub fn give(&self, cpu: u32, index: usize) -> bool {
        match self.home(cpu) {
            Some((_, own)) => own.stack.push(self.slots, index),
            None => false,
        }
    }

    /// Any free slot (the highest-numbered processor's first), for tearing down: `None`
    /// when every stack is empty.
    pub fn drain_one(&self) -> Option<usize> {
        self.cpus.iter().rev().find_map(|c| c.stack.pop(self.slots))
    }

    /// Free slots on all stacks (a snapshot).
    pub fn free(&self) -> u32 {
        self.cpus.iter().map(|c| c.stack.len() as u32).sum()
    }

    /// Gets served from the reserve so far: pops of all stacks minus the steals' moves (a
    /// snapshot; exact when no call is in progress).
    pub fn hits(&self) -> u64 {
        let pops: u64 = self.cpus.iter().map(|c| c.stack.pushes_pops().1).sum();
        pops.saturating_sub(self.moved.load(Ordering::Relaxed))
    }
}
