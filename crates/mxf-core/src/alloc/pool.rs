//! The block pool side of a lane: a get past the reserve, and the free of a pool block. Both
//! are cold (a reserve hit and its put never reach them) and both go to the platform through
//! the [`Backend`](super::object::Backend).

use super::header::{Header, NO_SLOT, STATE_LIVE, Word, payload_of};
use super::lane::Lane;
use super::object::Allocator;
use super::sync::Ordering;
use core::ptr::NonNull;
use mxf_abi::NtError;

impl Allocator {
    /// A get that the reserve could not serve: a block from the block pool, unless the lane's
    /// pool cap is reached or the pool has none (`STATUS_INSUFFICIENT_RESOURCES`, counted as
    /// a failure). The block's header is written `LIVE`, with no reserve slot.
    #[cold]
    #[inline(never)]
    pub(crate) fn get_from_pool(&self, lane: &Lane) -> Result<NonNull<u8>, NtError> {
        if lane.pool_out.fetch_add(1, Ordering::Relaxed) >= lane.pool_cap {
            lane.pool_out.fetch_sub(1, Ordering::Relaxed);
            lane.failures.fetch_add(1, Ordering::Relaxed);
            return Err(NtError::INSUFFICIENT_RESOURCES);
        }
        let Some(block) = self.backend().alloc_block(lane.kind) else {
            lane.pool_out.fetch_sub(1, Ordering::Relaxed);
            lane.failures.fetch_add(1, Ordering::Relaxed);
            return Err(NtError::INSUFFICIENT_RESOURCES);
        };
        // SAFETY: a fresh block of HEADER_SIZE + payload bytes, POOL_ALIGN-aligned, ours.
        let header = unsafe { Header::at(block) };
        header.init(
            self.identity,
            Word::new(self.identity, lane.kind, NO_SLOT, STATE_LIVE),
        );
        lane.pool_misses.fetch_add(1, Ordering::Relaxed);
        lane.note_high_water();
        // SAFETY: `block` is one of our blocks.
        Ok(unsafe { payload_of(block) })
    }

    /// Gives a claimed pool block back to the platform's pool (kept out of the hot path).
    ///
    /// # Safety
    /// `block` is a pool block (`NO_SLOT`) of `lane` claimed by this thread: an allocated
    /// block of this lane's pool, freed once, not used afterwards.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn free_pool_block(&self, lane: &Lane, block: NonNull<u8>) {
        // SAFETY: per the caller: a block of this lane's pool, allocated, given back once.
        unsafe { self.backend().free_block(lane.kind, block) };
        lane.pool_out.fetch_sub(1, Ordering::Relaxed);
    }
}
