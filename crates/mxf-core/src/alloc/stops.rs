//! The stops above `DISPATCH_LEVEL`: a get or put called above it stops the system the way
//! the platform's pool would (the module documentation of [`alloc`](super) explains the codes),
//! changing nothing of a reserve block first. Cold, out of line: the hot paths only branch here.

use super::header::{HEADER_SIZE, Header, NO_SLOT, STATE_LIVE};
use super::lane::Lane;
use super::object::Allocator;
use super::sync::Ordering;
use crate::platform::{Irql, bugcheck};
use core::ptr::NonNull;

impl Allocator {
    /// A get above `DISPATCH_LEVEL`. It must stop whether the reserve or the block pool would
    /// serve it, and the same way: so first the block pool is asked, whose own IRQL check
    /// stops the system with the platform's code (`BAD_POOL_CALLER` 0x08; under Verifier
    /// 0xC4 / 0x02 — the emulator always checks, the kernel's pool does when the lookaside
    /// list goes to pool, as it always does under Verifier); if it hands out a block (a
    /// lookaside hit checks nothing), the allocator stops with `BAD_POOL_CALLER` 0x08 and the
    /// pool's parameters (p2 IRQL, p3 `NonPagedPoolNx`, p4 block size), what the pool raises
    /// without Verifier. The probe's block is never given back: the system is stopping.
    #[cold]
    #[inline(never)]
    pub(crate) fn get_above_dispatch(&self, lane: &Lane, irql: Irql) -> ! {
        let _probe = self.backend().alloc_block(lane.kind);
        self.bug_check(
            bugcheck::BAD_POOL_CALLER,
            [
                bugcheck::c2::ALLOC_IRQL,
                usize::from(irql),
                crate::platform::NON_PAGED_POOL_NX,
                HEADER_SIZE + lane.payload,
            ],
        )
    }

    /// A put (`PutBuffer` of `payload`, `PutMessage` of a chain starting at `payload`) above
    /// `DISPATCH_LEVEL`. A live pool block of ours goes to the block pool's free, as a put at
    /// a legal IRQL would, so the platform's own check stops the system (`BAD_POOL_CALLER`
    /// 0x09; under Verifier 0xC4 / 0x12); a reserve block (or a null chain, or a free
    /// that returns) stops here with `BAD_POOL_CALLER` 0x09 and the pool's parameters (p2
    /// IRQL, p3 `NonPagedPoolNx`, p4 the block, header included; 0 for a null chain). A
    /// reserve block is left as it was (live, its holder's): nothing changes before the stop.
    ///
    /// # Safety
    /// As [`Self::put_buffer`] for a non-null `payload`.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn put_above_dispatch(&self, lane: &Lane, payload: *mut u8, irql: Irql) -> ! {
        let addr = payload as usize;
        let mut block_addr = 0;
        if let Some(p) = NonNull::new(payload)
            && addr.is_multiple_of(HEADER_SIZE)
            && addr >= HEADER_SIZE
        {
            block_addr = addr - HEADER_SIZE;
            // SAFETY: `addr >= HEADER_SIZE` (checked), so the block address is not null.
            let at = unsafe { NonNull::new_unchecked(payload.wrapping_sub(HEADER_SIZE)) };
            // SAFETY: 16-aligned (checked) and, the caller's promise, the 16 bytes before
            // `payload` are readable; only atomic loads here.
            let header = unsafe { Header::at(at) };
            let word = header.load();
            if word.belongs_to(self.identity, lane.kind)
                && word.state() == STATE_LIVE
                && word.slot() == NO_SLOT
                && header.owner.load(Ordering::Relaxed) == self.identity.owner
            {
                // SAFETY: per the caller; `claim` re-validates and makes the block ours.
                let (block, _) = unsafe { self.claim(lane, p) };
                // SAFETY: a pool block of this lane, claimed by this thread.
                unsafe { self.free_pool_block(lane, block) };
            }
        }
        self.bug_check(
            bugcheck::BAD_POOL_CALLER,
            [
                bugcheck::c2::FREE_IRQL,
                usize::from(irql),
                crate::platform::NON_PAGED_POOL_NX,
                block_addr,
            ],
        )
    }
}
