//! [`EmuBlockPool`]: a lookaside list over the emulated pool.
//!
//! Like the kernel's list: a LIFO cache of freed blocks, bounded by a depth that starts at
//! [`DEPTH_MIN`] and is re-tuned once per emulated second from the miss rate (between
//! [`DEPTH_MIN`] and [`DEPTH_MAX`]), or fixed by `EmuConfig::lookaside_depth` (Driver Verifier
//! fixes it at 0: every free goes back to pool). Cached blocks are not poisoned; their guard
//! bytes are checked when they are freed to the list.

use crate::Emu;
use crate::Routine;
use crate::pool::ListEntry;
use mxf_core::platform::{BlockPool, BlockPoolStats, PoolTag};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};

/// Depth a tuned list starts at and never goes below.
pub const DEPTH_MIN: u16 = 4;
/// Depth a tuned list never exceeds.
pub const DEPTH_MAX: u16 = 256;

/// The state of one list shared with the emulator's tuner and leak report.
pub(crate) struct LookasideShared {
    pub(crate) id: u64,
    pub(crate) tag: PoolTag,
    pub(crate) block_size: usize,
    depth: AtomicU16,
    tuned: bool,
    // The statistics are counted with `count` by the pool (under its lock).
    pub(crate) allocs: AtomicU64,
    pub(crate) alloc_misses: AtomicU64,
    pub(crate) frees: AtomicU64,
    pub(crate) free_misses: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// `allocs` and `alloc_misses` at the previous tuning tick.
    last_allocs: AtomicU64,
    last_misses: AtomicU64,
}

/// Adds one to a list statistic. Every writer holds the pool lock, so a plain load and
/// store (rather than a locked read-modify-write, several times dearer) cannot lose a count;
/// readers (`stats`, the tuner) take no lock and see some recent value.
pub(crate) fn count(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

impl LookasideShared {
    /// The list's depth now, in blocks.
    pub(crate) fn depth(&self) -> usize {
        usize::from(self.depth.load(Relaxed))
    }

    /// One tuning tick (the kernel's once-a-second scan): an idle list shrinks, a list that
    /// misses often grows in proportion to its miss rate and headroom, a list that almost
    /// never misses shrinks by one.
    pub(crate) fn tune(&self) {
        if !self.tuned {
            return;
        }
        let allocs = self.allocs.load(Relaxed);
        let misses = self.alloc_misses.load(Relaxed);
        let d_allocs = allocs.saturating_sub(self.last_allocs.swap(allocs, Relaxed));
        let d_misses = misses.saturating_sub(self.last_misses.swap(misses, Relaxed));
        let depth = self.depth.load(Relaxed);
        let new = if d_allocs < 75 {
            depth.saturating_sub(10).max(DEPTH_MIN)
        } else {
            let per_mille = d_misses.saturating_mul(1000) / d_allocs;
            if per_mille < 5 {
                depth.saturating_sub(1).max(DEPTH_MIN)
            } else {
                let headroom = u64::from(DEPTH_MAX - depth.min(DEPTH_MAX));
                let grow = per_mille.saturating_mul(headroom) / 2000 + 5;
                (u64::from(depth) + grow).min(u64::from(DEPTH_MAX)) as u16
            }
        };
        self.depth.store(new, Relaxed);
    }
}

/// The emulator's [`BlockPool`]: a lookaside list.
pub struct EmuBlockPool {
    emu: Emu,
    shared: Arc<LookasideShared>,
    /// The list's slot in the pool's `Lists`.
    slot: usize,
}

impl EmuBlockPool {
    pub(crate) fn create(emu: &Emu, block_size: usize, tag: PoolTag) -> Self {
        let cfg_depth = if emu.inner.cfg.verifier {
            Some(0)
        } else {
            emu.inner.cfg.lookaside_depth
        };
        let shared = Arc::new(LookasideShared {
            id: emu.inner.next_id.fetch_add(1, Relaxed),
            tag,
            block_size,
            depth: AtomicU16::new(cfg_depth.unwrap_or(DEPTH_MIN)),
            tuned: cfg_depth.is_none(),
            allocs: AtomicU64::new(0),
            alloc_misses: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            free_misses: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_allocs: AtomicU64::new(0),
            last_misses: AtomicU64::new(0),
        });
        let slot = emu.pool_state().lists.insert(ListEntry {
            cache: Vec::new(),
            shared: Arc::clone(&shared),
        });
        emu.inner.counters.block_pools_created.fetch_add(1, Relaxed);
        Self {
            emu: emu.clone(),
            shared,
            slot,
        }
    }

    /// The list's current depth (how many free blocks it may cache).
    pub fn depth(&self) -> u16 {
        self.shared.depth.load(Relaxed)
    }

    /// How many free blocks the list holds right now.
    pub fn cached(&self) -> usize {
        self.emu
            .pool_state()
            .lists
            .get(self.slot)
            .map_or(0, |l| l.cache.len())
    }

    /// The pool tag of every block.
    pub fn tag(&self) -> PoolTag {
        self.shared.tag
    }
}

impl std::fmt::Debug for EmuBlockPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuBlockPool")
            .field("tag", &format_args!("{}", self.shared.tag))
            .field("block_size", &self.shared.block_size)
            .field("depth", &self.depth())
            .finish()
    }
}

impl BlockPool for EmuBlockPool {
    fn block_size(&self) -> usize {
        self.shared.block_size
    }

    fn alloc(&self) -> Option<NonNull<u8>> {
        self.emu
            .check_pool_alloc_irql(self.shared.block_size, Routine::BlockPoolAlloc);
        let p = self.emu.pool_state().alloc_block(self.slot)?;
        NonNull::new(p as *mut u8)
    }

    unsafe fn free(&self, block: NonNull<u8>) {
        let p = block.as_ptr() as usize;
        self.emu.check_pool_free_irql(p, Routine::BlockPoolFree);
        let result = self.emu.pool_state().free_block(p, self.slot);
        if let Err(bc) = result {
            crate::bugcheck::raise(bc);
        }
    }

    fn stats(&self) -> BlockPoolStats {
        let s = &self.shared;
        BlockPoolStats {
            allocs: s.allocs.load(Relaxed),
            alloc_misses: s.alloc_misses.load(Relaxed),
            frees: s.frees.load(Relaxed),
            free_misses: s.free_misses.load(Relaxed),
            failures: s.failures.load(Relaxed),
        }
    }
}

impl Drop for EmuBlockPool {
    fn drop(&mut self) {
        let result = self.emu.pool_state().remove_list(self.slot);
        if std::thread::panicking() {
            return;
        }
        self.emu.check_passive(Routine::DropBlockPool);
        if let Err(bc) = result {
            crate::bugcheck::raise(bc);
        }
    }
}
