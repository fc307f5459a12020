//! The full get and put of a block: every case the fast paths ([`fast`](super::fast)) hand
//! over, and what the Rust-ABI twins ([`twins`](super::twins)) and the chain walk
//! ([`chain`](super::chain)) run. A get pops the running processor's reserve stack (stealing
//! from the others when it is empty), checks the block and marks it `LIVE`, else goes to the
//! block pool ([`pool`](super::pool)); a put claims the block ([`validate`](super::validate))
//! and recycles it to the reserve or the pool.

use super::POISON_BYTE;
use super::header::{Header, NO_SLOT, STATE_LIVE, Word, payload_of};
use super::lane::{Lane, lane_payload_mut};
use super::object::Allocator;
use super::sync::Ordering;
use crate::platform::Irql;
use core::ptr::NonNull;
use mxf_abi::NtError;

impl Allocator {
    /// The hot path of `GetMessage`/`GetBuffer`: given the IRQL check's outcome and the
    /// processor, one pop from that processor's stack (the only interlocked operation), a
    /// check of the block's header, a plain store of its new state.
    #[inline(always)]
    pub(crate) fn get(
        &self,
        lane: &Lane,
        entered: Result<u32, Irql>,
    ) -> Result<NonNull<u8>, NtError> {
        let cpu = match entered {
            Ok(cpu) => cpu,
            Err(irql) => self.get_above_dispatch(lane, irql),
        };
        if let Some(taken) = lane.reserve().take(cpu)
            && let Some(block) = lane.block(taken.index)
        {
            let i = taken.index;
            let word = self.check_reserve_block(lane, block, i);
            // SAFETY: the reserve's blocks stay allocated for the allocator's lifetime.
            let header = unsafe { Header::at(block) };
            // The pop made the block exclusively ours: no other CPU may touch its header until
            // we hand it out, so `FREE -> LIVE` is a plain store, not an RMW. `Relaxed`: the
            // store reaches a later putter through the same synchronisation that hands it the
            // event (whatever passed the pointer along), and it is ordered after the put's
            // `LIVE -> FREE` CAS by the reserve stack's release/acquire.
            header
                .word
                .store(word.with_state(STATE_LIVE).0, Ordering::Relaxed);
            if taken.sample {
                lane.note_high_water();
            }
            // SAFETY: `block` is one of our blocks.
            return Ok(unsafe { payload_of(block) });
        }
        self.get_from_pool(lane)
    }

    /// Returns one block of `lane` given by its payload pointer.
    ///
    /// # Safety
    /// As [`Self::put_buffer`].
    /// `cpu` is the processor the put runs on (from [`Self::enter`]).
    #[inline]
    pub(crate) unsafe fn put(&self, lane: &Lane, payload: NonNull<u8>, cpu: u32) {
        // SAFETY: per the caller.
        let (block, word) = unsafe { self.claim(lane, payload) };
        // SAFETY: `claim` moved the block from LIVE to FREE on this thread: it is ours.
        unsafe { self.recycle(lane, block, word, cpu) };
    }

    /// Gives a block that [`Self::claim`] marked `FREE` back to the reserve (the stack of
    /// processor `cpu`) or the pool.
    ///
    /// # Safety
    /// `block`/`word` came from a `claim` on this thread and the block was not recycled since.
    #[inline(always)]
    pub(crate) unsafe fn recycle(&self, lane: &Lane, block: NonNull<u8>, word: Word, cpu: u32) {
        let slot = word.slot();
        if slot != NO_SLOT {
            if self.poison {
                // SAFETY: the block is ours (claimed) until pushed.
                unsafe { lane_payload_mut(lane, block) }.fill(POISON_BYTE);
            }
            // `claim` checked that `slot` is this block's reserve slot (so the reserve has
            // stacks and the push succeeds).
            lane.reserve().give(cpu, usize::from(slot));
        } else {
            // SAFETY: a pool block (`NO_SLOT`) claimed by this thread, as required.
            unsafe { self.free_pool_block(lane, block) };
        }
    }
}
