//! A lock-free LIFO of slot indices (a Treiber stack) with ABA protection by a version tag.
//!
//! The stack links *indices* of a fixed slot array rather than pointers, so that its whole
//! head — `{tag: 32, count: 16, top: 16}` — fits one 64-bit word and every operation is one
//! ordinary 64-bit compare-and-swap (no 16-byte CAS, no inline assembly, portable to every
//! target with 64-bit atomics, and modelled exactly by `loom`, which has no 128-bit atomics).
//!
//! # ABA
//! A pop reads `top` and then `slots[top].link`, and commits with a CAS on the head. Between
//! the read and the CAS, other CPUs may pop `top`, pop more, and push `top` back with a
//! different link: the head's index would match again (ABA) and the stale link would be
//! installed. The tag counts every successful push and pop (mod 2^32), so the CAS fails
//! unless no operation at all completed in between — or exactly a multiple of 2^32 did,
//! which at tens of nanoseconds per operation takes minutes of other CPUs' uninterrupted
//! work while this CPU sits between two instructions at `DISPATCH_LEVEL`.
//!
//! # Memory ordering (the weakest that are correct; x86 emits the same code for all of them,
//! weaker architectures do not)
//! Every change of the head is a successful CAS, i.e. a read-modify-write, so every push's
//! `Release` CAS heads a release sequence that runs through all later operations on the head.
//! - push: the CAS is `Release` (on success): it publishes the link write *and* whatever the
//!   pusher wrote into the slot's item (the block: its header, payload, poison). It needs no
//!   `Acquire`: the pusher dereferences nothing it reads from the head (`top` is only copied
//!   into the link). Its loads of the head (initial, and on CAS failure) are `Relaxed` for the
//!   same reason — a stale value only makes the CAS fail.
//! - pop: every load of the head it acts on is `Acquire` (the initial load and the failure
//!   ordering of the CAS), so the `link` it then reads — and, once the CAS succeeds, the block
//!   it hands out — are at least as new as the push that put `top` there (every push is in the
//!   release sequence the loaded value belongs to). The successful CAS read exactly that value,
//!   so it needs no ordering of its own beyond `Acquire` (kept for clarity, free on x86); a pop
//!   publishes nothing — the next owner of the block learns its contents from the popper's
//!   own later push.
//! - `link` is an atomic because a pop may read it while a concurrent push rewrites it (that
//!   pop's CAS then fails, by the tag); `Relaxed` suffices, the head's ordering covers it.
//!
//! This file is also compiled by `tests/loom_stack.rs` (with `loom`'s atomics in `sync`).

use super::sync::{AtomicU32, AtomicU64, Ordering};

/// One entry of the slot array: its link in the stack and the item it stands for.
pub struct Slot<T> {
    /// `top` value (index + 1, 0 = end) of the entry below this one while it is on the stack.
    link: AtomicU32,
    /// What the slot stands for (a reserve block); immutable for the stack's lifetime.
    pub item: T,
}

impl<T> Slot<T> {
    /// An unlinked slot for `item`.
    pub fn new(item: T) -> Self {
        Self {
            link: AtomicU32::new(0),
            item,
        }
    }
}

/// Most slots a stack can index (`top` is a 16-bit index + 1, and 0 means empty).
pub const MAX_SLOTS: usize = 0xFFFF;

const TOP_MASK: u64 = 0xFFFF;
const COUNT_SHIFT: u32 = 16;
const TAG_SHIFT: u32 = 32;

#[inline]
fn top(h: u64) -> u32 {
    (h & TOP_MASK) as u32
}

#[inline]
fn count(h: u64) -> u32 {
    ((h >> COUNT_SHIFT) & 0xFFFF) as u32
}

#[inline]
fn tag(h: u64) -> u32 {
    (h >> TAG_SHIFT) as u32
}

#[inline]
fn pack(tag: u32, count: u32, top: u32) -> u64 {
    (u64::from(tag) << TAG_SHIFT) | (u64::from(count & 0xFFFF) << COUNT_SHIFT) | u64::from(top)
}

/// The head of a stack over a `&[Slot<T>]` of at most [`MAX_SLOTS`] entries.
///
/// Every method takes the slot array; a stack must always be used with the same array.
/// Pushing an index that is already on the stack breaks the LIFO (a cycle) but never memory
/// safety: indices are bounds-checked and links are atomics. The allocator guarantees it
/// cannot happen (a block's header state moves `LIVE -> FREE` by CAS before its index is
/// pushed, and each index is pushed only by the one thread that won that CAS).
pub struct IndexStack {
    head: AtomicU64,
    /// How many times the tag wrapped (so that the total of operations, hence the number of
    /// pops, is known without a counter on the hot path; see [`IndexStack::pushes_pops`]).
    wraps: AtomicU32,
}

impl IndexStack {
    /// An empty stack.
    pub fn new() -> Self {
        Self {
            head: AtomicU64::new(0),
            wraps: AtomicU32::new(0),
        }
    }

    /// Takes the most recently pushed index, or `None` when empty.
    #[inline]
    pub fn pop<T>(&self, slots: &[Slot<T>]) -> Option<usize> {
        self.pop_counted(slots).map(|(index, _)| index)
    }

    /// As [`IndexStack::pop`], also returning how many indices the pop left on the stack (the
    /// count its CAS installed), so the caller needs no second look at the head.
    #[inline]
    pub fn pop_counted<T>(&self, slots: &[Slot<T>]) -> Option<(usize, u32)> {
        let mut h = self.head.load(Ordering::Acquire);
        loop {
            match self.try_pop(slots, h) {
                Ok(popped) => return popped,
                Err(seen) => h = seen,
            }
        }
    }

    /// One attempt of [`IndexStack::pop_counted`]: `None` when the stack is empty *or* when
    /// another operation changed the head first (the caller then does the full pop, which
    /// retries). For fast paths: with no retry loop the compiler keeps no loop state in
    /// registers, so the function it is inlined into saves fewer of them.
    #[inline(always)]
    pub fn pop_once<T>(&self, slots: &[Slot<T>]) -> Option<(usize, u32)> {
        self.try_pop(slots, self.head.load(Ordering::Acquire))
            .ok()
            .flatten()
    }

    /// A pop from the head value `h` (loaded `Acquire`): `Ok(Some((index, left)))` popped,
    /// `Ok(None)` empty, `Err(seen)` the CAS failed and `seen` is the head now.
    #[inline(always)]
    fn try_pop<T>(&self, slots: &[Slot<T>], h: u64) -> Result<Option<(usize, u32)>, u64> {
        let t = top(h);
        if t == 0 {
            return Ok(None);
        }
        let index = (t - 1) as usize;
        // An index on the stack is always in bounds (push checks); `None` keeps a corrupted
        // head from turning into an out-of-bounds access.
        let Some(slot) = slots.get(index) else {
            return Ok(None);
        };
        let next = slot.link.load(Ordering::Relaxed);
        let new = pack(tag(h).wrapping_add(1), count(h).wrapping_sub(1), next);
        match self
            .head
            .compare_exchange_weak(h, new, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                self.note_wrap(new);
                Ok(Some((index, count(new))))
            }
            Err(seen) => Err(seen),
        }
    }

    /// Puts `index` on top. Returns `false` (and does nothing) if `index` is out of bounds.
    ///
    /// The caller owns `index`: it is not on the stack and no other thread pushes it.
    #[inline]
    pub fn push<T>(&self, slots: &[Slot<T>], index: usize) -> bool {
        let Some(slot) = slots.get(index) else {
            return false;
        };
        if index >= MAX_SLOTS {
            return false;
        }
        let mine = index as u32 + 1;
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            slot.link.store(top(h), Ordering::Relaxed);
            let new = pack(tag(h).wrapping_add(1), count(h).wrapping_add(1), mine);
            match self
                .head
                .compare_exchange_weak(h, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.note_wrap(new);
                    return true;
                }
                Err(seen) => h = seen,
            }
        }
    }

    #[inline(always)]
    fn note_wrap(&self, new: u64) {
        if tag(new) == 0 {
            self.wraps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(pushes, pops)` since creation (a snapshot). Every operation bumps the tag, so
    /// `tag_total = pushes + pops` and `count = pushes - pops`: no counter on the hot path.
    /// Right at a wrap of the 32-bit tag (every 2^32 operations) a snapshot taken between the
    /// wrapping CAS and the `wraps` increment reads 2^31 pops too few.
    pub fn pushes_pops(&self) -> (u64, u64) {
        let h = self.head.load(Ordering::Acquire);
        let total = (u64::from(self.wraps.load(Ordering::Relaxed)) << 32) | u64::from(tag(h));
        let count = u64::from(count(h));
        let pops = total.saturating_sub(count) / 2;
        (pops + count, pops)
    }

    /// How many indices are on the stack (a snapshot).
    #[inline]
    pub fn len(&self) -> usize {
        count(self.head.load(Ordering::Relaxed)) as usize
    }

    /// Whether the stack is empty (a snapshot).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for IndexStack {
    fn default() -> Self {
        Self::new()
    }
}
