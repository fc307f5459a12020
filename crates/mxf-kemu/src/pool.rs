//! The emulated nonpaged pool: every allocation tracked by address and tag, special-pool
//! guard bytes, poisoned quarantine of freed memory, and the block caches of the lookaside
//! lists (kept here so that one lock orders every change of a block's state).

use crate::bugcheck::{BugCheck, c2};
use crate::fault::FaultState;
use crate::hasher::{AddrMap, AddrSet};
use crate::lookaside::{LookasideShared, count};
use mxf_core::platform::{POOL_ALIGN, PoolTag, bugcheck};
use std::alloc::{self, Layout};
use std::collections::hash_map::{Entry, OccupiedEntry};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

/// Bytes of guard in front of every allocation (keeps the user pointer 16-aligned).
pub(crate) const FRONT_GUARD: usize = POOL_ALIGN;
/// Minimum bytes of guard after the end of the requested size.
pub(crate) const BACK_GUARD: usize = POOL_ALIGN;
/// The pattern written into guard bytes in special-pool mode.
pub const GUARD_BYTE: u8 = 0xFD;
/// The pattern freed memory is filled with while it sits in quarantine.
pub const POISON_BYTE: u8 = 0xDF;
/// The pattern a block pool allocates a new block with in special-pool mode. A lookaside
/// list's blocks are not zeroed (their contents are unspecified, as in the kernel); a pattern
/// other than zero shows code that assumes they are.
pub const FRESH_BLOCK_BYTE: u8 = 0xCB;
/// Maximum number of freed allocations kept poisoned in quarantine.
pub const QUARANTINE_MAX_ENTRIES: usize = 4096;
/// Maximum bytes (whole allocations, guards included) kept in quarantine.
pub const QUARANTINE_MAX_BYTES: usize = 16 << 20;
/// How many recently freed addresses the non-special-pool mode remembers, to call a second
/// free of one a double free rather than a foreign pointer.
const RECENT_FREES: usize = 4096;
/// `NonPagedPoolNx`, reported as the pool type parameter.
pub(crate) const POOL_TYPE_NX: usize = 0x200;

/// Who an allocation belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Owner {
    /// A plain `pool_alloc`.
    Pool,
    /// A block of lookaside list `list`; `cached` while it sits on the list.
    Block { list: u64, cached: bool },
}

struct Live {
    tag: PoolTag,
    size: usize,
    owner: Owner,
}

struct Quarantined {
    ptr: usize,
    size: usize,
    tag: PoolTag,
}

/// A lookaside list as the pool sees it: its cache of free blocks.
pub(crate) struct ListEntry {
    pub(crate) cache: Vec<usize>,
    pub(crate) shared: Arc<LookasideShared>,
}

/// The lookaside lists, each in the slot it got at creation (its `EmuBlockPool` keeps the
/// slot), so that reaching a list's cache is an index, not a lookup. A slot is reused only
/// after its list was removed.
#[derive(Default)]
pub(crate) struct Lists {
    slots: Vec<Option<ListEntry>>,
}

impl Lists {
    /// Adds a list; its slot.
    pub(crate) fn insert(&mut self, entry: ListEntry) -> usize {
        match self.slots.iter().position(Option::is_none) {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        }
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&ListEntry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut ListEntry> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn remove(&mut self, slot: usize) -> Option<ListEntry> {
        self.slots.get_mut(slot).and_then(Option::take)
    }

    /// Every list, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ListEntry> {
        self.slots.iter().flatten()
    }

    fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Live usage of one tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TagUsage {
    /// The tag.
    pub tag: PoolTag,
    /// Live allocations with this tag (blocks cached on a lookaside list included).
    pub count: usize,
    /// Their requested bytes.
    pub bytes: usize,
}

/// A snapshot of the pool (`!poolused` for the emulator).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PoolReport {
    /// Live allocations by tag, sorted by the tag's characters.
    pub by_tag: Vec<TagUsage>,
    /// Live allocations in all.
    pub live_count: usize,
    /// Their requested bytes.
    pub live_bytes: usize,
    /// Highest `live_bytes` ever.
    pub peak_bytes: usize,
    /// Successful allocations so far.
    pub total_allocs: u64,
    /// Frees so far.
    pub total_frees: u64,
    /// Allocation attempts that failed (fault injection).
    pub failed_allocs: u64,
    /// Freed allocations currently held poisoned in quarantine.
    pub quarantined: usize,
}

impl PoolReport {
    /// The live usage of `tag` (zero when it has no live allocation).
    pub fn tag(&self, tag: PoolTag) -> TagUsage {
        self.by_tag
            .iter()
            .copied()
            .find(|u| u.tag == tag)
            .unwrap_or(TagUsage {
                tag,
                count: 0,
                bytes: 0,
            })
    }
}

/// Everything the pool lock protects.
pub(crate) struct PoolState {
    special: bool,
    live: AddrMap<usize, Live>,
    quarantine: VecDeque<Quarantined>,
    quarantine_set: AddrSet<usize>,
    quarantine_bytes: usize,
    recent_frees: VecDeque<usize>,
    pub(crate) lists: Lists,
    /// Fault injection: under this lock too, so that an allocation takes one lock.
    pub(crate) fault: FaultState,
    live_bytes: usize,
    peak_bytes: usize,
    total_allocs: u64,
    total_frees: u64,
    failed_allocs: u64,
}

fn layout_for(size: usize) -> Option<Layout> {
    let body = size.checked_add(POOL_ALIGN - 1)? & !(POOL_ALIGN - 1);
    let total = FRONT_GUARD.checked_add(body)?.checked_add(BACK_GUARD)?;
    Layout::from_size_align(total, POOL_ALIGN).ok()
}

fn tag_str(tag: PoolTag) -> String {
    format!("'{tag}'")
}

impl PoolState {
    pub(crate) fn new(special: bool, fault: FaultState) -> Self {
        Self {
            special,
            live: AddrMap::default(),
            quarantine: VecDeque::new(),
            quarantine_set: AddrSet::default(),
            quarantine_bytes: 0,
            recent_frees: VecDeque::new(),
            lists: Lists::default(),
            fault,
            live_bytes: 0,
            peak_bytes: 0,
            total_allocs: 0,
            total_frees: 0,
            failed_allocs: 0,
        }
    }

    /// One allocation attempt: guarded memory, zeroed for `pool_alloc`, unspecified for a
    /// block ([`FRESH_BLOCK_BYTE`] in special-pool mode); `None` (counted as a failed
    /// allocation) if fault injection fails the attempt, the host is out of memory or the
    /// size is absurd.
    pub(crate) fn alloc(&mut self, size: usize, tag: PoolTag, owner: Owner) -> Option<usize> {
        let p = if self.fault.next_attempt_fails() {
            None
        } else {
            self.alloc_memory(size, tag, owner)
        };
        if p.is_none() {
            self.failed_allocs += 1;
        }
        p
    }

    fn alloc_memory(&mut self, size: usize, tag: PoolTag, owner: Owner) -> Option<usize> {
        let layout = layout_for(size)?;
        let zeroed = owner == Owner::Pool;
        // SAFETY: `layout` has a nonzero size (it includes both guards).
        let base = unsafe {
            if zeroed {
                alloc::alloc_zeroed(layout)
            } else {
                alloc::alloc(layout)
            }
        };
        if base.is_null() {
            return None;
        }
        let ptr = base as usize + FRONT_GUARD;
        if self.special {
            // SAFETY: `base..base+layout.size()` is the allocation just made; the front guard
            // is its first FRONT_GUARD bytes and the back guard runs from `ptr + size` to its
            // end, both inside it.
            unsafe {
                std::ptr::write_bytes(base, GUARD_BYTE, FRONT_GUARD);
                let back = base.add(FRONT_GUARD + size);
                std::ptr::write_bytes(back, GUARD_BYTE, layout.size() - FRONT_GUARD - size);
            }
            if !zeroed {
                // SAFETY: the user part, `size` bytes at `ptr`, lies inside the allocation
                // between the two guards.
                unsafe { std::ptr::write_bytes(ptr as *mut u8, FRESH_BLOCK_BYTE, size) };
            }
        }
        self.live.insert(ptr, Live { tag, size, owner });
        self.live_bytes += size;
        self.peak_bytes = self.peak_bytes.max(self.live_bytes);
        self.total_allocs += 1;
        Some(ptr)
    }

    /// `pool_free`: checks the free and releases the allocation.
    pub(crate) fn free(&mut self, ptr: usize, tag: PoolTag) -> Result<(), BugCheck> {
        let live = self.check_free(ptr, tag, Owner::Pool)?.remove();
        self.release(ptr, live)
    }

    /// `BlockPool::alloc` of the list in `slot`: a block from its cache (marked as taken
    /// from it), else one allocation attempt (fault injection included). Counts the list's
    /// allocs, misses and failures.
    pub(crate) fn alloc_block(&mut self, slot: usize) -> Option<usize> {
        let l = self.lists.get_mut(slot)?;
        count(&l.shared.allocs);
        if let Some(ptr) = l.cache.pop() {
            if let Some(live) = self.live.get_mut(&ptr)
                && let Owner::Block { list, .. } = live.owner
            {
                live.owner = Owner::Block {
                    list,
                    cached: false,
                };
            }
            return Some(ptr);
        }
        count(&l.shared.alloc_misses);
        let (list, size, tag) = (l.shared.id, l.shared.block_size, l.shared.tag);
        let p = self.alloc(
            size,
            tag,
            Owner::Block {
                list,
                cached: false,
            },
        );
        if p.is_none()
            && let Some(l) = self.lists.get(slot)
        {
            count(&l.shared.failures);
        }
        p
    }

    /// `BlockPool::free` to the list in `slot`: checks the free, then caches the block if
    /// the list holds fewer than its depth, releases it otherwise. Counts the list's frees
    /// and free misses.
    pub(crate) fn free_block(&mut self, ptr: usize, slot: usize) -> Result<(), BugCheck> {
        // The slot is emptied only when its `EmuBlockPool` is dropped, so it is there.
        let Some(l) = self.lists.get(slot) else {
            return Ok(());
        };
        count(&l.shared.frees);
        let room = l.cache.len() < l.shared.depth();
        let (list, tag) = (l.shared.id, l.shared.tag);
        let entry = self.check_free(
            ptr,
            tag,
            Owner::Block {
                list,
                cached: false,
            },
        )?;
        if room {
            entry.into_mut().owner = Owner::Block { list, cached: true };
            if let Some(l) = self.lists.get_mut(slot) {
                l.cache.push(ptr);
            }
            Ok(())
        } else {
            let live = entry.remove();
            if let Some(l) = self.lists.get(slot) {
                count(&l.shared.free_misses);
            }
            self.release(ptr, live)
        }
    }

    /// Removes the list in `slot` and releases the blocks it caches (the first error found,
    /// after releasing them all).
    pub(crate) fn remove_list(&mut self, slot: usize) -> Result<(), BugCheck> {
        let Some(list) = self.lists.remove(slot) else {
            return Ok(());
        };
        let mut first_error = Ok(());
        for p in list.cache {
            if let Some(live) = self.live.remove(&p) {
                let r = self.release(p, live);
                if first_error.is_ok() {
                    first_error = r;
                }
            }
        }
        first_error
    }

    /// Checks the pointer, tag and owner of a free, and the guard bytes of the allocation;
    /// its entry, for the caller to release or cache it without a second lookup. `expected`
    /// is the owner the caller's free routine serves (for a block: `cached` false, since a
    /// cached block being freed again is a double free).
    fn check_free(
        &mut self,
        ptr: usize,
        tag: PoolTag,
        expected: Owner,
    ) -> Result<OccupiedEntry<'_, usize, Live>, BugCheck> {
        let Self {
            live,
            quarantine_set,
            recent_frees,
            special,
            ..
        } = self;
        let entry = match live.entry(ptr) {
            Entry::Occupied(e) => e,
            Entry::Vacant(_) => return Err(not_live(quarantine_set, recent_frees, ptr, tag)),
        };
        let live = entry.get();
        if let Owner::Block { list, cached: true } = live.owner
            && expected
                == (Owner::Block {
                    list,
                    cached: false,
                })
        {
            return Err(BugCheck {
                code: bugcheck::BAD_POOL_CALLER,
                params: [bugcheck::BAD_POOL_CALLER_DOUBLE_FREE, 0, 0, ptr],
                message: format!(
                    "block {ptr:#x} of block pool {} freed twice: it is already on the \
                     lookaside list",
                    tag_str(live.tag)
                ),
            });
        }
        if live.owner != expected {
            let what = match (live.owner, expected) {
                (Owner::Pool, _) => "a pool_alloc allocation was freed to a block pool",
                (Owner::Block { .. }, Owner::Pool) => {
                    "a block pool's block was freed with pool_free"
                }
                _ => "a block was freed to a block pool other than the one it came from",
            };
            return Err(BugCheck {
                code: bugcheck::BAD_POOL_CALLER,
                params: [bugcheck::BAD_POOL_CALLER_FOREIGN, 0, ptr, 0],
                message: format!("{what} (address {ptr:#x}, tag {})", tag_str(live.tag)),
            });
        }
        if live.tag != tag {
            return Err(BugCheck {
                code: bugcheck::BAD_POOL_CALLER,
                params: [c2::WRONG_TAG, ptr, live.tag.0 as usize, tag.0 as usize],
                message: format!(
                    "free of {ptr:#x} with tag {} but it was allocated with tag {}",
                    tag_str(tag),
                    tag_str(live.tag)
                ),
            });
        }
        if *special {
            check_guards(ptr, live.size, live.tag)?;
        }
        Ok(entry)
    }

    /// Releases a checked allocation, already removed from `live`: poisons and quarantines
    /// it in special-pool mode (verifying whatever the quarantine evicts), frees it
    /// otherwise.
    fn release(&mut self, ptr: usize, live: Live) -> Result<(), BugCheck> {
        self.live_bytes -= live.size;
        self.total_frees += 1;
        if !self.special {
            if self.recent_frees.len() == RECENT_FREES {
                self.recent_frees.pop_front();
            }
            self.recent_frees.push_back(ptr);
            dealloc(ptr, live.size);
            return Ok(());
        }
        // SAFETY: `ptr..ptr+size` is the user part of a live allocation this state owned
        // (just removed from `live`), and no one may use it after the free.
        unsafe { std::ptr::write_bytes(ptr as *mut u8, POISON_BYTE, live.size) };
        let whole = layout_for(live.size).map_or(0, |l| l.size());
        self.quarantine.push_back(Quarantined {
            ptr,
            size: live.size,
            tag: live.tag,
        });
        self.quarantine_set.insert(ptr);
        self.quarantine_bytes += whole;
        let mut first_error = Ok(());
        while self.quarantine.len() > QUARANTINE_MAX_ENTRIES
            || self.quarantine_bytes > QUARANTINE_MAX_BYTES
        {
            let r = self.evict_oldest();
            if first_error.is_ok() {
                first_error = r;
            }
        }
        first_error
    }

    fn evict_oldest(&mut self) -> Result<(), BugCheck> {
        let Some(q) = self.quarantine.pop_front() else {
            return Ok(());
        };
        self.quarantine_set.remove(&q.ptr);
        self.quarantine_bytes -= layout_for(q.size).map_or(0, |l| l.size());
        let r = verify_quarantined(&q);
        dealloc(q.ptr, q.size);
        r
    }

    /// Verifies the poison and guards of every quarantined allocation (keeps them).
    pub(crate) fn check_quarantine(&self) -> Result<(), BugCheck> {
        self.quarantine.iter().try_for_each(verify_quarantined)
    }

    /// Verifies and releases the whole quarantine.
    pub(crate) fn flush_quarantine(&mut self) -> Result<(), BugCheck> {
        let mut first_error = Ok(());
        while !self.quarantine.is_empty() {
            let r = self.evict_oldest();
            if first_error.is_ok() {
                first_error = r;
            }
        }
        first_error
    }

    /// Checks the guard bytes of every live allocation.
    pub(crate) fn check_live_guards(&self) -> Result<(), BugCheck> {
        if !self.special {
            return Ok(());
        }
        let mut live: Vec<_> = self.live.iter().map(|(&p, l)| (p, l.size, l.tag)).collect();
        live.sort_unstable_by_key(|&(p, ..)| p);
        live.into_iter()
            .try_for_each(|(p, size, tag)| check_guards(p, size, tag))
    }

    pub(crate) fn report(&self) -> PoolReport {
        let mut by: HashMap<PoolTag, TagUsage> = HashMap::new();
        for l in self.live.values() {
            let u = by.entry(l.tag).or_insert(TagUsage {
                tag: l.tag,
                count: 0,
                bytes: 0,
            });
            u.count += 1;
            u.bytes += l.size;
        }
        let mut by_tag: Vec<TagUsage> = by.into_values().collect();
        by_tag.sort_by_key(|u| u.tag.bytes());
        PoolReport {
            by_tag,
            live_count: self.live.len(),
            live_bytes: self.live_bytes,
            peak_bytes: self.peak_bytes,
            total_allocs: self.total_allocs,
            total_frees: self.total_frees,
            failed_allocs: self.failed_allocs,
            quarantined: self.quarantine.len(),
        }
    }

    /// The leak description for unload, or `None` when nothing is live.
    pub(crate) fn leak_message(&self) -> Option<(String, usize, usize)> {
        if self.live.is_empty() && self.lists.is_empty() {
            return None;
        }
        // (tag, size, kind) -> count
        let mut groups: HashMap<([u8; 4], usize, &'static str), usize> = HashMap::new();
        for l in self.live.values() {
            let kind = match l.owner {
                Owner::Pool => "pool_alloc",
                Owner::Block { cached: false, .. } => "block pool block not freed",
                Owner::Block { cached: true, .. } => "cached on an undeleted block pool",
            };
            *groups.entry((l.tag.bytes(), l.size, kind)).or_default() += 1;
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort();
        let mut msg = format!(
            "{} pool allocation(s), {} bytes, leaked at unload:",
            self.live.len(),
            self.live_bytes
        );
        for ((tag, size, kind), count) in groups {
            let _ = write!(
                msg,
                " [tag {} size {size} count {count} ({kind})]",
                tag_str(PoolTag::new(&tag))
            );
        }
        let mut lists: Vec<_> = self
            .lists
            .iter()
            .map(|l| (l.shared.tag.bytes(), l.shared.block_size))
            .collect();
        lists.sort();
        for (tag, size) in lists {
            let _ = write!(
                msg,
                " [block pool tag {} block size {size} not deleted]",
                tag_str(PoolTag::new(&tag))
            );
        }
        Some((msg, self.live.len(), self.live_bytes))
    }
}

impl Drop for PoolState {
    fn drop(&mut self) {
        // Quarantined memory is unreachable to the driver: give it back. Live allocations are
        // left alone (leaked) since a caller may still hold pointers into them.
        while let Some(q) = self.quarantine.pop_front() {
            dealloc(q.ptr, q.size);
        }
    }
}

/// Why `ptr` is not live: a double free if it was freed recently, else a foreign pointer.
fn not_live(
    quarantine_set: &AddrSet<usize>,
    recent_frees: &VecDeque<usize>,
    ptr: usize,
    tag: PoolTag,
) -> BugCheck {
    if quarantine_set.contains(&ptr) || recent_frees.contains(&ptr) {
        BugCheck {
            code: bugcheck::BAD_POOL_CALLER,
            params: [bugcheck::BAD_POOL_CALLER_DOUBLE_FREE, 0, 0, ptr],
            message: format!(
                "double free: {ptr:#x} (tag {}) was already freed",
                tag_str(tag)
            ),
        }
    } else {
        BugCheck {
            code: bugcheck::BAD_POOL_CALLER,
            params: [bugcheck::BAD_POOL_CALLER_FOREIGN, 0, ptr, 0],
            message: format!(
                "free of {ptr:#x} (tag {}), which is not a live pool allocation",
                tag_str(tag)
            ),
        }
    }
}

/// The guards of a special-pool allocation: the first guard byte that is not
/// [`GUARD_BYTE`], as 0xC1.
fn check_guards(ptr: usize, size: usize, tag: PoolTag) -> Result<(), BugCheck> {
    let Some(bad) = first_bad_guard(ptr, size) else {
        return Ok(());
    };
    let (kind, sub) = if bad < 0 {
        ("underrun", 0x21)
    } else {
        ("overrun", 0x20)
    };
    Err(BugCheck {
        code: bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION,
        params: [ptr, size, bad as usize, sub],
        message: format!(
            "pool {kind}: allocation {ptr:#x} with tag {} of {size} bytes has its guard \
             byte at offset {bad} overwritten",
            tag_str(tag)
        ),
    })
}

/// The index of the first byte of `bytes` other than `pattern`. Compares the whole slice
/// branch-free first (which the compiler vectorises), since it almost always matches.
fn first_not(bytes: &[u8], pattern: u8) -> Option<usize> {
    if bytes.iter().fold(0, |diff, &b| diff | (b ^ pattern)) == 0 {
        return None;
    }
    bytes.iter().position(|&b| b != pattern)
}

fn dealloc(ptr: usize, size: usize) {
    if let Some(layout) = layout_for(size) {
        // SAFETY: `ptr - FRONT_GUARD` is the base that `alloc_memory` got from the global
        // allocator with this same layout (same size), and the allocation is no longer
        // tracked anywhere.
        unsafe { alloc::dealloc((ptr - FRONT_GUARD) as *mut u8, layout) };
    }
}

/// Offset (relative to `ptr`, negative in front) of the first guard byte that changed.
fn first_bad_guard(ptr: usize, size: usize) -> Option<isize> {
    let layout = layout_for(size)?;
    let base = ptr - FRONT_GUARD;
    // SAFETY: the front guard is the first FRONT_GUARD bytes of the live allocation at
    // `base`; only this pool writes them, and reading bytes is sound for any value.
    let front = unsafe { std::slice::from_raw_parts(base as *const u8, FRONT_GUARD) };
    if let Some(i) = first_not(front, GUARD_BYTE) {
        return Some(i as isize - FRONT_GUARD as isize);
    }
    let back_len = layout.size() - FRONT_GUARD - size;
    // SAFETY: the back guard runs from `ptr + size` to the end of the same allocation.
    let back = unsafe { std::slice::from_raw_parts((ptr + size) as *const u8, back_len) };
    first_not(back, GUARD_BYTE).map(|i| (size + i) as isize)
}

fn verify_quarantined(q: &Quarantined) -> Result<(), BugCheck> {
    // SAFETY: a quarantined allocation stays allocated until evicted; its user part is
    // `size` bytes at `ptr`.
    let body = unsafe { std::slice::from_raw_parts(q.ptr as *const u8, q.size) };
    let bad = match first_not(body, POISON_BYTE) {
        Some(i) => Some(i as isize),
        None => first_bad_guard(q.ptr, q.size),
    };
    match bad {
        None => Ok(()),
        Some(off) => Err(BugCheck {
            code: bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
            params: [q.ptr.wrapping_add(off as usize), 1, 0, 0],
            message: format!(
                "write after free: freed allocation {:#x} with tag {} of {} bytes was modified \
                 at offset {off} after it was freed",
                q.ptr,
                tag_str(q.tag),
                q.size
            ),
        }),
    }
}
