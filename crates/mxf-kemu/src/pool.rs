//! The emulated nonpaged pool: every allocation tracked by address and tag, special-pool
//! guard bytes, poisoned quarantine of freed memory, and the registry of lookaside lists.
//! A list's blocks are pool allocations; which of them sit on its cache the list keeps
//! itself (`ListBlocks`, under its own lock). Lock order: the pool lock, then a list's;
//! a list's blocks join or leave it only with both held.

use crate::bugcheck::{BugCheck, c2};
use crate::fault::FaultState;
use crate::guard::{FRONT_GUARD, GUARD_BYTE, layout_for};
use crate::hasher::{AddrMap, AddrSet};
use crate::list_blocks::Freed;
use crate::list_state::{LookasideShared, count};
use mxf_core::platform::{PoolTag, bugcheck};
use std::alloc;
use std::collections::hash_map::{Entry, OccupiedEntry};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

/// The pattern freed memory is filled with while it sits in quarantine.
pub use mxf_core::platform::POISON_BYTE;
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

/// Who an allocation belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Owner {
    /// A plain `pool_alloc`.
    Pool,
    /// A block of lookaside list `list` (whether it sits on the list's cache, the list
    /// knows).
    Block { list: u64 },
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

/// The lookaside lists, each in the slot it got at creation (its `EmuBlockPool` keeps the
/// slot). A slot is reused only after its list was removed.
#[derive(Default)]
pub(crate) struct Lists {
    slots: Vec<Option<Arc<LookasideShared>>>,
}

impl Lists {
    /// Adds a list; its slot.
    pub(crate) fn insert(&mut self, entry: Arc<LookasideShared>) -> usize {
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

    fn remove(&mut self, slot: usize) -> Option<Arc<LookasideShared>> {
        self.slots.get_mut(slot).and_then(Option::take)
    }

    /// Every list, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<LookasideShared>> {
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
        let base = if zeroed {
            // SAFETY: `layout` has a nonzero size (it includes both guards).
            unsafe { alloc::alloc_zeroed(layout) }
        } else {
            // SAFETY: as above, a nonzero size.
            unsafe { alloc::alloc(layout) }
        };
        if base.is_null() {
            return None;
        }
        let ptr = base as usize + FRONT_GUARD;
        if self.special {
            // SAFETY: `base..base+layout.size()` is the allocation just made, writable; the
            // front guard is its first FRONT_GUARD bytes.
            unsafe { std::ptr::write_bytes(base, GUARD_BYTE, FRONT_GUARD) };
            let back = base.wrapping_add(FRONT_GUARD + size);
            // SAFETY: the back guard runs from `ptr + size` (`back`) to the allocation's end,
            // inside the same writable allocation.
            unsafe { std::ptr::write_bytes(back, GUARD_BYTE, layout.size() - FRONT_GUARD - size) };
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
        let live = self.check_free(ptr, tag)?.remove();
        self.release(ptr, live)
    }

    /// A new block for list `l`, whose cache was empty: one allocation attempt (fault
    /// injection included), recorded by the list as handed out. Counts a failure.
    pub(crate) fn alloc_block(&mut self, l: &LookasideShared) -> Option<usize> {
        let p = self.alloc(l.block_size, l.tag, Owner::Block { list: l.id });
        let mut blocks = l.blocks.lock();
        match p {
            Some(p) => blocks.insert(p),
            None => count(&l.failures),
        }
        p
    }

    /// `BlockPool::free` to list `l` when the list could not take the block at once (its
    /// cache full, or the free looked wrong): checks the free, then caches the block if the
    /// list holds fewer than its depth, releases it otherwise (counted as a free miss).
    pub(crate) fn free_block(&mut self, ptr: usize, l: &LookasideShared) -> Result<(), BugCheck> {
        let mut blocks = l.blocks.lock();
        let i = match blocks.freed(ptr) {
            Freed::Out(i) => i,
            Freed::Cached => {
                return Err(BugCheck {
                    code: bugcheck::BAD_POOL_CALLER,
                    params: [c2::DOUBLE_FREE, 0, 0, ptr],
                    message: format!(
                        "block {ptr:#x} of block pool {} freed twice: it is already on the \
                         lookaside list",
                        tag_str(l.tag)
                    ),
                });
            }
            Freed::Unknown => {
                drop(blocks);
                return Err(self.bad_block_free(ptr, l));
            }
        };
        if self.special {
            check_guards(ptr, l.block_size, l.tag)?;
        }
        if blocks.cached() < l.depth() {
            blocks.push_cached(i);
            return Ok(());
        }
        blocks.remove(i);
        count(&l.free_misses);
        drop(blocks);
        // The list's blocks are live allocations: the entry is there.
        match self.live.remove(&ptr) {
            Some(live) => self.release(ptr, live),
            None => Ok(()),
        }
    }

    /// Why `ptr`, which is not a live block of list `l`, cannot be freed to it.
    fn bad_block_free(&self, ptr: usize, l: &LookasideShared) -> BugCheck {
        let Some(live) = self.live.get(&ptr) else {
            return not_live(&self.quarantine_set, &self.recent_frees, ptr, l.tag);
        };
        let what = match live.owner {
            Owner::Pool => "a pool_alloc allocation was freed to a block pool",
            // A block of `l` itself is always one the list knows.
            Owner::Block { .. } => {
                "a block was freed to a block pool other than the one it came from"
            }
        };
        foreign(ptr, what, live.tag)
    }

    /// Removes the list in `slot` and releases the blocks it caches (the first error found,
    /// after releasing them all). Its blocks still out stay live allocations, of no list.
    pub(crate) fn remove_list(&mut self, slot: usize) -> Result<(), BugCheck> {
        let Some(list) = self.lists.remove(slot) else {
            return Ok(());
        };
        let cached = list.blocks.lock().take_cached();
        let mut first_error = Ok(());
        for p in cached {
            if let Some(live) = self.live.remove(&p) {
                let r = self.release(p, live);
                if first_error.is_ok() {
                    first_error = r;
                }
            }
        }
        first_error
    }

    /// Checks the pointer, tag and owner of a `pool_free`, and the guard bytes of the
    /// allocation; its entry, for the caller to release without a second lookup.
    fn check_free(
        &mut self,
        ptr: usize,
        tag: PoolTag,
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
        if let Owner::Block { .. } = live.owner {
            return Err(foreign(
                ptr,
                "a block pool's block was freed with pool_free",
                live.tag,
            ));
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
        // Under the pool lock, every list's blocks are exactly the live blocks recorded with
        // its id, so its cache says which of them are cached.
        let cached: AddrSet<usize> = self
            .lists
            .iter()
            .flat_map(|l| l.blocks.lock().cached_ptrs().collect::<Vec<_>>())
            .collect();
        // (tag, size, kind) -> count
        let mut groups: HashMap<([u8; 4], usize, &'static str), usize> = HashMap::new();
        for (p, l) in &self.live {
            let kind = match l.owner {
                Owner::Pool => "pool_alloc",
                Owner::Block { .. } if cached.contains(p) => "cached on an undeleted block pool",
                Owner::Block { .. } => "block pool block not freed",
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
            .map(|l| (l.tag.bytes(), l.block_size))
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
            params: [c2::DOUBLE_FREE, 0, 0, ptr],
            message: format!(
                "double free: {ptr:#x} (tag {}) was already freed",
                tag_str(tag)
            ),
        }
    } else {
        BugCheck {
            code: bugcheck::BAD_POOL_CALLER,
            params: [c2::FOREIGN, 0, ptr, 0],
            message: format!(
                "free of {ptr:#x} (tag {}), which is not a live pool allocation",
                tag_str(tag)
            ),
        }
    }
}

/// A free of `ptr` to the wrong place (0xC2 / 0x46).
fn foreign(ptr: usize, what: &str, tag: PoolTag) -> BugCheck {
    BugCheck {
        code: bugcheck::BAD_POOL_CALLER,
        params: [c2::FOREIGN, 0, ptr, 0],
        message: format!("{what} (address {ptr:#x}, tag {})", tag_str(tag)),
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
