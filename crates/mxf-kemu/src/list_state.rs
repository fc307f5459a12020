//! The state of one emulated lookaside list that the list itself, the emulator's tuner and
//! the pool's leak report share ([`LookasideShared`]), and its statistics counter. A leaf
//! module: the pool and the lookaside lists both build on it.

use crate::hostlock::HostLock;
use crate::list_blocks::ListBlocks;
use mxf_core::platform::PoolTag;
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
    /// Special pool: blocks have guards, checked on every free.
    pub(crate) special: bool,
    /// Bytes of guard after a block.
    pub(crate) back_guard: usize,
    /// The list's live blocks and cache.
    pub(crate) blocks: HostLock<ListBlocks>,
    pub(crate) depth: AtomicU16,
    pub(crate) tuned: bool,
    // The statistics are counted with `count` under the list's `blocks` lock.
    pub(crate) allocs: AtomicU64,
    pub(crate) alloc_misses: AtomicU64,
    pub(crate) frees: AtomicU64,
    pub(crate) free_misses: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// `allocs` and `alloc_misses` at the previous tuning tick.
    pub(crate) last_allocs: AtomicU64,
    pub(crate) last_misses: AtomicU64,
}

/// Adds one to a list statistic. Every writer holds the list's lock, so a plain load and
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
