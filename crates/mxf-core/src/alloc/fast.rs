//! The fast paths of the four hot vtable slots: a reserve hit on the running processor's own
//! stack, and the put of one plain reserve block back onto it.
//!
//! Why separate paths: every interlocked operation waits until the processor's store buffer
//! has drained, so every store between two of them — the register saves of a function
//! prologue, spills of values kept across a call — lengthens the pair. A get+put pair is
//! three interlocked operations (pop, header CAS, push), and the full paths, which can call
//! out (steal, block pool, poison checks, high-water samples, chain walks), keep values in
//! callee-saved registers and spill them. The fast paths do only what the common case needs
//! and make no call that returns into them (a bug check does not return), so few values
//! live across a call and the slots save few registers. The get slots make a single pop
//! attempt ([`Reserve::take_own_once`]): a retry loop would keep its state in registers
//! across the loop (a lost race is rare and goes to the full get, which retries). The
//! measurements behind these choices are in `benches/README.md`. Every other case is handed
//! over *in tail position* to the full path, which behaves the same:
//! - a get: the own stack empty (steal, then block pool) or its one pop attempt lost a race
//!   to another processor (the full get's pop retries), no reserve, poison on →
//!   [`FastGet::Full`], before anything was taken; the popped slot without a block →
//!   [`FastGet::Pool`], as the full get does; a high-water sample is taken after the event
//!   is handed out (it only reads the stacks' counts);
//! - a put: a pool block, poison on, or (`PutMessage`) a chain that is more than one event
//!   without a buffer or package sub-chain → the full recycle / chain walk, continuing from
//!   the claim the fast path made (a block is claimed exactly once).
//!
//! The IRQL check comes first in both, and above `DISPATCH_LEVEL` goes straight to the same
//! stop as the full path. Validation (`claim`, the reserve header check) is the very same
//! code.
//!
//! The functions the fast paths hand over to are `extern "C"`: they cannot unwind (a panic —
//! the host emulator's bug check — aborts in them, as it would at the `extern "system"` slot
//! that calls them), so the slots need no unwind landing pad around those calls and the
//! compiler can make them tail calls, with no frame kept in the slot. The kernel build
//! (`panic = "abort"`) gets this anyway; `extern "C"` makes the unwinding host build match.

use super::header::{Header, Kind, NO_SLOT, STATE_LIVE, Word, payload_of};
use super::lane::zeroed_event;
use super::object::Allocator;
#[cfg(doc)]
use super::reserve::Reserve;
use super::sync::Ordering;
use core::ptr::NonNull;
use mxf_abi::{DMUS_KEF_PACKAGE_EVENT, DmusKernelEvent, NtStatus, SHORT_EVENT_MAX, STATUS_SUCCESS};

/// What the fast path of a get did.
pub(crate) enum FastGet {
    /// A block from the own stack's reserve, now `LIVE`; `sample`: sample the high-water
    /// mark ([`Allocator::sampled`]) once it is handed out.
    Got { payload: NonNull<u8>, sample: bool },
    /// Nothing taken: do the full get ([`Allocator::get_slow`] with `reserve` = true).
    Full,
    /// A slot was popped but holds no block (every slot holds one, so this does not happen):
    /// the block pool, as the full get falls back to ([`Allocator::get_slow`], `reserve` =
    /// false).
    Pool,
}

impl Allocator {
    /// A get from processor `cpu`'s own reserve stack (the IRQL check passed).
    #[inline(always)]
    pub(crate) fn get_fast(&self, kind: Kind, cpu: u32) -> FastGet {
        let lane = self.lane(kind);
        if self.poison {
            return FastGet::Full;
        }
        let Some(taken) = lane.reserve().take_own_once(cpu) else {
            return FastGet::Full;
        };
        let Some(block) = lane.block(taken.index) else {
            return FastGet::Pool;
        };
        let word = self.check_reserve_header(lane, block, taken.index);
        // SAFETY: the reserve's blocks stay allocated for the allocator's lifetime.
        let header = unsafe { Header::at(block) };
        // As in the full get: the pop made the block ours, so `FREE -> LIVE` is a plain store.
        header
            .word
            .store(word.with_state(STATE_LIVE).0, Ordering::Relaxed);
        FastGet::Got {
            // SAFETY: `block` is one of our blocks.
            payload: unsafe { payload_of(block) },
            sample: taken.sample,
        }
    }

    /// The full get of `kind` on processor `cpu` after the fast path declined
    /// ([`FastGet::Full`]: `reserve` = true; [`FastGet::Pool`]: false), writing `*out` as
    /// the vtable slot does (an event zeroed).
    ///
    /// # Safety
    /// `out` is a non-null out-pointer of the caller's.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe extern "C" fn get_slow(
        &self,
        kind: Kind,
        cpu: u32,
        reserve: bool,
        out: *mut *mut u8,
    ) -> NtStatus {
        let lane = self.lane(kind);
        let got = if reserve {
            self.get(lane, Ok(cpu))
        } else {
            self.get_from_pool(lane)
        };
        let (p, status) = match got {
            Ok(p) if kind == Kind::Event => {
                // SAFETY: an event payload just got.
                let e = unsafe { zeroed_event(p) };
                (e.as_ptr().cast(), STATUS_SUCCESS)
            }
            Ok(p) => (p.as_ptr(), STATUS_SUCCESS),
            Err(e) => (core::ptr::null_mut(), e.status()),
        };
        // SAFETY: per the caller.
        unsafe { out.write_unaligned(p) };
        status
    }

    /// Samples `kind`'s high-water mark after a fast get; returns `STATUS_SUCCESS` (the
    /// get's status, so that the slot ends in a tail call).
    #[cold]
    #[inline(never)]
    pub(crate) extern "C" fn sampled(&self, kind: Kind) -> NtStatus {
        self.lane(kind).note_high_water();
        STATUS_SUCCESS
    }

    /// `PutBuffer` on processor `cpu` (the IRQL check passed).
    ///
    /// # Safety
    /// As [`Allocator::put_buffer`].
    #[inline(always)]
    pub(crate) unsafe fn put_buffer_fast(&self, buf: NonNull<u8>, cpu: u32) -> NtStatus {
        let lane = self.lane(Kind::Buffer);
        // SAFETY: per the caller.
        let (block, word) = unsafe { self.claim(lane, buf) };
        let slot = word.slot();
        if slot == NO_SLOT || self.poison {
            // SAFETY: claimed just above on this thread.
            return unsafe { self.recycle_slow(Kind::Buffer, block, word, cpu) };
        }
        // `claim` checked that `slot` is this block's reserve slot.
        lane.reserve().give(cpu, usize::from(slot));
        STATUS_SUCCESS
    }

    /// `PutMessage` on processor `cpu` (the IRQL check passed).
    ///
    /// # Safety
    /// As [`Allocator::put_message`].
    #[inline(always)]
    pub(crate) unsafe fn put_message_fast(
        &self,
        chain: *mut DmusKernelEvent,
        cpu: u32,
    ) -> NtStatus {
        let Some(evt) = NonNull::new(chain) else {
            return STATUS_SUCCESS;
        };
        let lane = self.lane(Kind::Event);
        // SAFETY: per the caller; as in the chain walk, the event is validated and claimed
        // before any of its fields is read.
        let (block, word) = unsafe { self.claim(lane, evt.cast()) };
        let e = evt.as_ptr();
        // SAFETY: a live event of ours, just claimed: 40 initialised bytes (zeroed when handed
        // out) nothing else references.
        let event = unsafe { e.read() };
        let (next, flags, cb, data) = (
            event.p_next_evt,
            event.us_flags,
            event.cb_event,
            event.u_data,
        );
        // SAFETY: every bit pattern of the 8-byte union is a valid pointer.
        let data = unsafe { data.pb_data };
        // What the walk would do besides recycling this event: a package sub-chain (a package
        // with a non-null `pPackageEvt`), else a buffer (`cbEvent > 8`, non-null `pbData`);
        // `pPackageEvt` and `pbData` are the same union bits.
        let more = !next.is_null()
            || (!data.is_null()
                && (flags & DMUS_KEF_PACKAGE_EVENT != 0 || usize::from(cb) > SHORT_EVENT_MAX));
        let slot = word.slot();
        if more || slot == NO_SLOT || self.poison {
            // SAFETY: per the caller; `evt` was claimed just above on this thread.
            return unsafe { self.put_chain_claimed(evt, block, word, cpu) };
        }
        lane.reserve().give(cpu, usize::from(slot));
        STATUS_SUCCESS
    }

    /// The full recycle of a claimed block (pool block, or poison on). Returns
    /// `STATUS_SUCCESS`.
    ///
    /// # Safety
    /// As [`Allocator::recycle`].
    #[cold]
    #[inline(never)]
    unsafe extern "C" fn recycle_slow(
        &self,
        kind: Kind,
        block: NonNull<u8>,
        word: Word,
        cpu: u32,
    ) -> NtStatus {
        // SAFETY: per the caller.
        unsafe { self.recycle(self.lane(kind), block, word, cpu) };
        STATUS_SUCCESS
    }
}
