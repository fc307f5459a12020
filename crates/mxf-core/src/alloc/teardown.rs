//! Teardown of the lanes: what the final `Release` gives back of them (every reserve block,
//! checked, to its block pool; the reserve's memory), what it reports (blocks still out,
//! leaked on purpose), and the same freeing for a lane that construction built but could not
//! use ([`build`](super::build)). The object itself is dropped and freed by its platform half
//! ([`backend`](super::backend)), once its lanes are empty.

use super::TAG_RESERVE;
use super::lane::Lane;
use super::object::Allocator;
use super::sync::Ordering;
use crate::platform::{BlockPool, LogLevel, Platform};
use core::ptr::NonNull;

/// Empties `lane`'s reserve for good: every block on its stacks goes back to `pool`, each
/// after `check(block, slot)`; then the reserve's memory goes back to `platform`. Returns the
/// number of blocks freed.
///
/// # Safety
/// `lane` was built over `platform` and `pool` (`build_lane`), and nothing uses its reserve
/// during or after the call.
pub(crate) unsafe fn empty_lane<P: Platform>(
    platform: &P,
    pool: &P::BlockPool,
    lane: &Lane,
    mut check: impl FnMut(NonNull<u8>, usize),
) -> usize {
    let reserve = lane.reserve();
    let mut freed = 0usize;
    while let Some(i) = reserve.drain_one() {
        let Some(block) = lane.block(i) else {
            continue;
        };
        check(block, i);
        // SAFETY: a block on the reserve stack is a free block of `pool` (the lane was built
        // over it), owned by the reserve; it leaves the stack here for good.
        unsafe { pool.free(block) };
        freed += 1;
    }
    if let Some(p) = NonNull::new(lane.mem) {
        // SAFETY: the reserve's memory came from `pool_alloc(.., TAG_RESERVE)` in
        // `build_lane` and, per the caller, nothing reads it any more.
        unsafe { platform.pool_free(p, TAG_RESERVE) };
    }
    freed
}

impl Allocator {
    /// The lanes' part of the final `Release`: empties both reserves ([`empty_lane`], every
    /// block checked as a get would: a corrupted one stops the system) and logs the blocks
    /// still out, which stay allocated (freeing them under their holder would be worse).
    ///
    /// # Safety
    /// The object's reference count reached zero: nothing uses the allocator during or after
    /// the call; `platform`, `event_pool` and `buffer_pool` are the ones it was built over.
    pub(crate) unsafe fn empty_lanes<P: Platform>(
        &self,
        platform: &P,
        event_pool: &P::BlockPool,
        buffer_pool: &P::BlockPool,
    ) {
        for (lane, pool) in [(&self.events, event_pool), (&self.buffers, buffer_pool)] {
            let check = |block, i| {
                self.check_reserve_block(lane, block, i);
            };
            // SAFETY: per the caller, the lane was built over these and is no longer used.
            let freed = unsafe { empty_lane(platform, pool, lane, check) };
            let leaked = usize::from(lane.reserve_cap).saturating_sub(freed)
                + lane.pool_out.load(Ordering::Relaxed) as usize;
            if leaked != 0 {
                platform.log(
                    LogLevel::Error,
                    format_args!(
                        "mxf allocator {:p}: {leaked} {:?} block(s) still out at the final \
                         Release; leaked",
                        self, lane.kind
                    ),
                );
            }
        }
    }
}
