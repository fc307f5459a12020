//! [`EmuBlockPool`]: a lookaside list over the emulated pool.
//!
//! Like the kernel's list: a LIFO cache of freed blocks, bounded by a depth that starts at
//! [`DEPTH_MIN`] and is re-tuned once per emulated second from the miss rate (between
//! [`DEPTH_MIN`] and [`DEPTH_MAX`](crate::DEPTH_MAX)), or fixed by `EmuConfig::lookaside_depth`
//! (Driver Verifier fixes it at 0: every free goes back to pool). Cached blocks are not
//! poisoned; their guard bytes are checked when they are freed to the list.
//!
//! A cache hit (alloc or free) takes only the list's own lock: the list knows its live blocks
//! ([`ListBlocks`]), so it can tell a legal free from a bad one without the pool. Everything
//! else — misses, releases, and every free the list cannot accept at once (bad pointers,
//! double frees, damaged guards, a full cache) — goes to the pool under the pool lock, which
//! checks it again from scratch and raises exactly the bug check the kernel would.

use crate::guard::{back_guard_len, guards_intact};
use crate::hostlock::HostLock;
use crate::kernel::Kernel;
use crate::list_blocks::{Freed, ListBlocks};
use crate::list_state::{DEPTH_MIN, LookasideShared, count};
use crate::routine::{self, Routine};
use mxf_core::platform::{BlockPool, BlockPoolStats, PoolTag};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};

/// The emulator's [`BlockPool`]: a lookaside list.
pub struct EmuBlockPool {
    kernel: Arc<Kernel>,
    shared: Arc<LookasideShared>,
    /// The list's slot in the pool's `Lists`.
    slot: usize,
}

impl EmuBlockPool {
    pub(crate) fn create(kernel: &Arc<Kernel>, block_size: usize, tag: PoolTag) -> Self {
        let cfg_depth = if kernel.cfg.verifier {
            Some(0)
        } else {
            kernel.cfg.lookaside_depth
        };
        let shared = Arc::new(LookasideShared {
            id: kernel.new_id(),
            tag,
            block_size,
            special: kernel.cfg.special_pool,
            back_guard: back_guard_len(block_size).unwrap_or(0),
            blocks: HostLock::new(ListBlocks::default()),
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
        let slot = kernel.pool_state().lists.insert(Arc::clone(&shared));
        kernel.counters.block_pools_created.fetch_add(1, Relaxed);
        Self {
            kernel: Arc::clone(kernel),
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
        self.shared.blocks.lock().cached()
    }

    /// The pool tag of every block.
    pub fn tag(&self) -> PoolTag {
        self.shared.tag
    }
}

impl EmuBlockPool {
    /// An allocation the cache could not serve (out of line: the hit path stays small).
    #[cold]
    #[inline(never)]
    fn alloc_miss(&self) -> Option<NonNull<u8>> {
        let p = self.kernel.pool_state().alloc_block(&self.shared)?;
        NonNull::new(p as *mut u8)
    }

    /// A free the list could not take at once: the pool checks it from scratch.
    #[cold]
    #[inline(never)]
    fn free_slow(&self, p: usize) {
        let result = self.kernel.pool_state().free_block(p, &self.shared);
        if let Err(bc) = result {
            crate::bugcheck::raise(bc);
        }
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
        routine::check_pool_alloc_irql(
            self.kernel.cfg.verifier,
            self.shared.block_size,
            Routine::BlockPoolAlloc,
        );
        let s = &*self.shared;
        {
            let mut blocks = s.blocks.lock();
            count(&s.allocs);
            if let Some(p) = blocks.pop_cached() {
                return NonNull::new(p as *mut u8);
            }
            count(&s.alloc_misses);
        }
        self.alloc_miss()
    }

    unsafe fn free(&self, block: NonNull<u8>) {
        let p = block.as_ptr() as usize;
        routine::check_pool_free_irql(self.kernel.cfg.verifier, p, Routine::BlockPoolFree);
        let s = &*self.shared;
        {
            let mut blocks = s.blocks.lock();
            count(&s.frees);
            if let Freed::Out(i) = blocks.freed(p)
                && blocks.cached() < s.depth()
                && (!s.special || guards_intact(p, s.block_size, s.back_guard))
            {
                blocks.push_cached(i);
                return;
            }
        }
        self.free_slow(p);
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
        let result = self.kernel.pool_state().remove_list(self.slot);
        if std::thread::panicking() {
            return;
        }
        routine::check_passive(Routine::DropBlockPool);
        if let Err(bc) = result {
            crate::bugcheck::raise(bc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{FRONT_GUARD, GUARD_BYTE};
    use crate::{Emu, EmuConfig, expect_bugcheck};
    use mxf_core::platform::{Platform, bugcheck};

    const TAG: PoolTag = PoolTag::new(b"LkTs");

    fn free(pool: &EmuBlockPool, b: NonNull<u8>) {
        // SAFETY: the tests pass blocks of `pool`, or bad pointers the emulator refuses
        // before touching them.
        unsafe { pool.free(b) }
    }

    #[test]
    fn threads_sharing_a_list_keep_its_blocks_and_counts_consistent() {
        let emu = Emu::new(EmuConfig {
            lookaside_depth: Some(3),
            ..EmuConfig::default()
        });
        let pool = emu.new_block_pool(48, TAG).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for round in 0..500 {
                        // Bursts longer than the depth: hits and misses both ways.
                        let blocks: Vec<_> =
                            (0..1 + round % 6).map(|_| pool.alloc().unwrap()).collect();
                        blocks.into_iter().for_each(|b| free(&pool, b));
                    }
                });
            }
        });
        let st = pool.stats();
        assert_eq!(st.allocs, st.frees);
        assert_eq!(st.allocs, 4 * (0..500u64).map(|r| 1 + r % 6).sum::<u64>());
        // Every block is back: the cached ones are the only live allocations.
        assert_eq!(pool.cached(), 3);
        assert_eq!(emu.pool_report().tag(TAG).count, 3);
        let r = emu.pool_report();
        assert_eq!(r.total_allocs - r.total_frees, 3);
        assert_eq!(st.alloc_misses - st.free_misses, 3);
        drop(pool);
        emu.unload().unwrap();
    }

    #[test]
    fn leak_report_tells_cached_from_outstanding_blocks_of_one_list() {
        let emu = Emu::new(EmuConfig::default());
        let pool = emu.new_block_pool(24, TAG).unwrap();
        let blocks: Vec<_> = (0..3).map(|_| pool.alloc().unwrap()).collect();
        free(&pool, blocks[1]);
        let bc = emu.unload().unwrap_err();
        assert!(
            bc.message
                .contains("tag 'LkTs' size 24 count 2 (block pool block not freed)"),
            "{bc}"
        );
        assert!(
            bc.message
                .contains("tag 'LkTs' size 24 count 1 (cached on an undeleted block pool)"),
            "{bc}"
        );
        // A cached block allocated again counts as outstanding.
        assert_eq!(pool.alloc(), Some(blocks[1]));
        let bc = emu.unload().unwrap_err();
        assert!(
            bc.message.contains("count 3 (block pool block not freed)"),
            "{bc}"
        );
        blocks.into_iter().for_each(|b| free(&pool, b));
        drop(pool);
        emu.unload().unwrap();
    }

    #[test]
    fn bad_frees_to_a_list_with_room_bugcheck_and_leave_it_intact() {
        let emu = Emu::new(EmuConfig::default());
        let a = emu.new_block_pool(16, TAG).unwrap();
        let b = emu.new_block_pool(16, TAG).unwrap();
        let blk = a.alloc().unwrap();
        free(&a, blk);
        // Cached on `a`, freed to `b`: foreign; freed to `a` again: double free.
        let bc = expect_bugcheck(|| free(&b, blk));
        assert_eq!(
            bc.params,
            [bugcheck::c2::FOREIGN, 0, blk.as_ptr() as usize, 0]
        );
        let bc = expect_bugcheck(|| free(&a, blk));
        assert_eq!(
            bc.params,
            [bugcheck::c2::DOUBLE_FREE, 0, 0, blk.as_ptr() as usize]
        );
        // An underrun found on a free the list had room for.
        let blk = a.alloc().unwrap();
        // SAFETY: the byte before a block is its front guard, host memory the pool owns.
        unsafe { blk.as_ptr().wrapping_sub(1).write(0) };
        let bc = expect_bugcheck(|| free(&a, blk));
        assert_eq!(bc.code, bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
        assert_eq!(bc.params[2..], [-1isize as usize, 0x21]);
        assert_eq!((a.cached(), b.cached()), (0, 0));
        // SAFETY: as above; the guard is restored.
        unsafe { blk.as_ptr().wrapping_sub(1).write(GUARD_BYTE) };
        free(&a, blk);
        assert_eq!(a.cached(), 1);
        drop((a, b));
        emu.unload().unwrap();
    }

    #[test]
    fn every_guard_byte_is_checked_on_a_free_the_list_has_room_for() {
        let emu = Emu::new(EmuConfig::default());
        for size in [1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40] {
            let pool = emu.new_block_pool(size, TAG).unwrap();
            let back = back_guard_len(size).unwrap();
            let offsets = (1..=FRONT_GUARD)
                .map(|o| -(o as isize))
                .chain((0..back).map(|o| (size + o) as isize));
            for off in offsets {
                let b = pool.alloc().unwrap();
                // SAFETY: `off` is inside the block's front or back guard, host memory the
                // pool owns around the live block.
                let g = unsafe { b.as_ptr().offset(off) };
                // SAFETY: as above.
                unsafe { g.write(0) };
                let bc = expect_bugcheck(|| free(&pool, b));
                assert_eq!(bc.code, bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
                assert_eq!(bc.params[..3], [b.as_ptr() as usize, size, off as usize]);
                // SAFETY: as above; the guard is restored and the block freed properly.
                unsafe { g.write(GUARD_BYTE) };
                free(&pool, b);
                assert_eq!(pool.cached(), 1, "size {size} offset {off}");
            }
            drop(pool);
        }
        emu.unload().unwrap();
    }
}
