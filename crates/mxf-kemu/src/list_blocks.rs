//! [`ListBlocks`]: every live block of one lookaside list and its LIFO cache of free ones,
//! so that a cache hit (alloc or free) is checked and served by the list alone, under the
//! list's own lock, without the pool's.
//!
//! The blocks sit in a slab (index = slot): the cache holds slot numbers, so an allocation
//! from the cache needs no lookup, and a free needs one (address to slot).

use crate::addr_index::AddrIndex;

#[derive(Clone, Copy)]
struct Slot {
    ptr: usize,
    cached: bool,
}

/// What a list knows about a pointer freed to it.
pub(crate) enum Freed {
    /// A live block of the list, handed out (not cached): the free is legal; its slot.
    Out(u32),
    /// A live block of the list already on its cache: a double free.
    Cached,
    /// Not a live block of this list: the pool says what it is.
    Unknown,
}

/// The list's live blocks and its cache. Membership (`insert`, `remove`) changes only with
/// the pool lock held too, so that under the pool lock a list's blocks are exactly the live
/// allocations the pool records as its blocks; the cached flag changes under the list lock
/// alone.
#[derive(Default)]
pub(crate) struct ListBlocks {
    slots: Vec<Slot>,
    /// Slots no block uses.
    vacant: Vec<u32>,
    by_ptr: AddrIndex,
    /// Cached blocks' slots, most recently freed last.
    cache: Vec<u32>,
}

impl ListBlocks {
    /// Blocks on the cache.
    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Takes the most recently cached block off the cache.
    #[inline]
    pub(crate) fn pop_cached(&mut self) -> Option<usize> {
        let i = self.cache.pop()?;
        let slot = self.slots.get_mut(i as usize)?;
        slot.cached = false;
        Some(slot.ptr)
    }

    /// Classifies a pointer being freed to the list.
    #[inline]
    pub(crate) fn freed(&self, ptr: usize) -> Freed {
        match self.by_ptr.get(ptr) {
            None => Freed::Unknown,
            Some(i) => match self.slots.get(i as usize) {
                Some(s) if s.cached => Freed::Cached,
                Some(_) => Freed::Out(i),
                None => Freed::Unknown,
            },
        }
    }

    /// Puts the handed-out block in slot `i` (from [`Freed::Out`]) on the cache.
    #[inline]
    pub(crate) fn push_cached(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.cached = true;
            self.cache.push(i);
        }
    }

    /// Records a new block, handed out. Pool lock held.
    pub(crate) fn insert(&mut self, ptr: usize) {
        let slot = Slot { ptr, cached: false };
        let i = match self.vacant.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = slot;
                }
                i
            }
            None => {
                self.slots.push(slot);
                // A list with 2^32 live blocks would have exhausted host memory long before.
                (self.slots.len() - 1) as u32
            }
        };
        self.by_ptr.insert(ptr, i);
    }

    /// Forgets the handed-out block in slot `i` (from [`Freed::Out`]), going back to pool.
    /// Pool lock held.
    pub(crate) fn remove(&mut self, i: u32) {
        if let Some(s) = self.slots.get(i as usize) {
            self.by_ptr.remove(s.ptr);
            self.vacant.push(i);
        }
    }

    /// Empties the list (it is being deleted): the cached blocks' addresses, for the pool to
    /// release. Pool lock held.
    pub(crate) fn take_cached(&mut self) -> Vec<usize> {
        let cached = self.cached_ptrs().collect();
        *self = Self::default();
        cached
    }

    /// The cached blocks' addresses.
    pub(crate) fn cached_ptrs(&self) -> impl Iterator<Item = usize> + '_ {
        self.cache
            .iter()
            .filter_map(|&i| self.slots.get(i as usize).map(|s| s.ptr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_move_between_out_and_cached_and_slots_are_reused() {
        let mut l = ListBlocks::default();
        l.insert(0x100);
        l.insert(0x200);
        let Freed::Out(a) = l.freed(0x100) else {
            panic!("0x100 is out")
        };
        assert!(matches!(l.freed(0x300), Freed::Unknown));
        l.push_cached(a);
        assert!(matches!(l.freed(0x100), Freed::Cached));
        assert_eq!(l.cached_ptrs().collect::<Vec<_>>(), [0x100]);
        assert_eq!(l.pop_cached(), Some(0x100));
        assert_eq!(l.pop_cached(), None);
        let Freed::Out(b) = l.freed(0x200) else {
            panic!("0x200 is out")
        };
        l.remove(b);
        assert!(matches!(l.freed(0x200), Freed::Unknown));
        l.insert(0x400);
        let Freed::Out(c) = l.freed(0x400) else {
            panic!("0x400 is out")
        };
        assert_eq!(c, b, "the vacant slot is reused");
        l.push_cached(c);
        assert_eq!(l.take_cached(), [0x400]);
        assert!(matches!(l.freed(0x100), Freed::Unknown));
    }
}
