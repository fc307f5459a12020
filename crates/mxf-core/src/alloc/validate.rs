//! Pointer validation: what a put checks before it takes a block back ([`Allocator::claim`]:
//! alignment, the header's owner, kind, state and reserve slot, then the one `LIVE -> FREE`
//! CAS), and what a get checks of a block it popped off the reserve (header and poison). Every
//! failure is a bug check; the module documentation of [`alloc`](super) lists what is detected
//! and the limits.

use super::POISON_BYTE;
use super::header::{HEADER_SIZE, Header, NO_SLOT, STATE_FREE, STATE_LIVE, Word};
use super::lane::{Lane, lane_payload};
use super::object::Allocator;
use super::sync::Ordering;
use crate::platform::bugcheck;
use core::ptr::NonNull;

/// Why a put was refused.
#[derive(Clone, Copy)]
enum Refused {
    Foreign,
    DoubleFree,
}

impl Allocator {
    /// Verifies a block just taken off the reserve (state `FREE`, our identity, slot `i`,
    /// poison intact); returns its word. Bug checks on corruption.
    #[inline(always)]
    pub(crate) fn check_reserve_block(&self, lane: &Lane, block: NonNull<u8>, i: usize) -> Word {
        let word = self.check_reserve_header(lane, block, i);
        if self.poison {
            self.check_poison(lane, block);
        }
        word
    }

    /// The header half of [`Self::check_reserve_block`] (all of it when `poison` is off).
    #[inline(always)]
    pub(crate) fn check_reserve_header(&self, lane: &Lane, block: NonNull<u8>, i: usize) -> Word {
        // SAFETY: the reserve's blocks stay allocated for the allocator's lifetime.
        let header = unsafe { Header::at(block) };
        let expected = lane.tag.word(i as u16, STATE_FREE);
        // `Relaxed`: the pop (`Acquire`) already made the last putter's header write visible.
        let word = Word(header.word.load(Ordering::Relaxed));
        if word != expected || header.owner.load(Ordering::Relaxed) != self.identity.owner {
            self.bad_reserve_header(block, word, expected);
        }
        word
    }

    /// The stop of [`Self::check_reserve_header`]. Out of line and taking scalars, so that the
    /// hot slots that inline the check build no parameter array on their stack (a stack frame
    /// and the register saves that come with it, before the pop's interlocked operation).
    #[cold]
    #[inline(never)]
    fn bad_reserve_header(&self, block: NonNull<u8>, word: Word, expected: Word) -> ! {
        self.bug_check(
            bugcheck::BAD_POOL_HEADER,
            [
                bugcheck::BAD_POOL_HEADER_RESERVE,
                block.as_ptr() as usize,
                word.0 as usize,
                expected.0 as usize,
            ],
        )
    }

    /// The poison check of [`Self::check_reserve_block`] (Verifier runs only: kept out of the
    /// hot path's code).
    #[cold]
    #[inline(never)]
    fn check_poison(&self, lane: &Lane, block: NonNull<u8>) {
        {
            // SAFETY: `block` is a free reserve block of this lane, exclusively ours.
            let payload = unsafe { lane_payload(lane, block) };
            if let Some(off) = payload.iter().position(|&b| b != POISON_BYTE) {
                self.bug_check(
                    bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
                    [
                        payload.as_ptr() as usize + off,
                        1,
                        off,
                        bugcheck::POISON_WRITE_AFTER_PUT,
                    ],
                );
            }
        }
    }

    /// Validates `payload` as a live block of `lane` and marks it `FREE` (by CAS). Bug checks
    /// `BAD_POOL_CALLER` otherwise. The block's memory stays valid and ours until
    /// [`Self::recycle`].
    ///
    /// # Safety
    /// As [`Self::put_buffer`]: the 16 bytes before `payload` are readable. For a pointer this
    /// allocator handed out that is guaranteed; for any other pointer it is the caller's
    /// promise, and the module documentation lists what is then detected.
    #[inline(always)]
    pub(crate) unsafe fn claim(&self, lane: &Lane, payload: NonNull<u8>) -> (NonNull<u8>, Word) {
        let addr = payload.as_ptr() as usize;
        if !addr.is_multiple_of(HEADER_SIZE) || addr < HEADER_SIZE {
            self.refuse(lane, payload, 0, Refused::Foreign);
        }
        let block = payload.as_ptr().wrapping_sub(HEADER_SIZE);
        // SAFETY: `block` is 16-aligned and non-null (checked above) and, per the caller, the
        // 16 bytes from it are readable and stay allocated during the call (our blocks stay
        // allocated until `recycle`). Only atomic loads and one CAS touch them.
        let block = unsafe { NonNull::new_unchecked(block) };
        // SAFETY: as just said: aligned, readable and allocated for the call.
        let header = unsafe { Header::at(block) };
        // `Relaxed`: the caller owns the block, so the getter's `LIVE` store already happened
        // before this call (through whatever handed the pointer over); a concurrent second
        // put is settled by the CAS below, not by this load.
        let word = Word(header.word.load(Ordering::Relaxed));
        if !lane.tag.owns(word) {
            self.refuse(lane, payload, word.0, Refused::Foreign);
        }
        match word.state() {
            STATE_LIVE => {}
            STATE_FREE => self.refuse(lane, payload, word.0, Refused::DoubleFree),
            _ => self.refuse(lane, payload, word.0, Refused::Foreign),
        }
        let slot = word.slot();
        let slot_ok = slot == NO_SLOT
            || lane
                .slots()
                .get(usize::from(slot))
                .is_some_and(|s| s.item.block == block.as_ptr());
        if !slot_ok || header.owner.load(Ordering::Relaxed) != self.identity.owner {
            self.refuse(lane, payload, word.0, Refused::Foreign);
        }
        // The one RMW of a put, and what makes a double put safe: of two puts of this block
        // (even on two CPUs at once) exactly one moves it `LIVE -> FREE`; the other fails here
        // and is reported, so an index is never pushed twice. `Relaxed` on both outcomes: the
        // CAS decides ownership by the word's modification order alone; the caller's writes
        // to the block reach its next owner through the reserve push (`Release`) or the
        // platform's pool, and a failure only reports the word it saw.
        match header.word.compare_exchange(
            word.0,
            word.with_state(STATE_FREE).0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => (block, word),
            Err(seen) => {
                let seen = Word(seen);
                let why = if seen.belongs_to(self.identity, lane.kind) && seen.state() == STATE_FREE
                {
                    Refused::DoubleFree
                } else {
                    Refused::Foreign
                };
                self.refuse(lane, payload, seen.0, why)
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self, lane: &Lane, payload: NonNull<u8>, word: u64, why: Refused) -> ! {
        let sub = match why {
            Refused::Foreign => bugcheck::c2::FOREIGN,
            Refused::DoubleFree => bugcheck::c2::DOUBLE_FREE,
        };
        self.bug_check(
            bugcheck::BAD_POOL_CALLER,
            [
                sub,
                payload.as_ptr() as usize,
                word as usize,
                lane.kind as usize,
            ],
        )
    }
}
