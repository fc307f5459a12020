//! `PutMessage` on the allocator: recycling a whole chain, package sub-chains and buffers
//! included, without recursion.
//!
//! Packages nest, and a recursive walk would put the nesting depth — chosen by whoever built
//! the chain — on the kernel stack (a few KB at `DISPATCH_LEVEL`). The walk keeps its
//! "where to continue" stack in the package events themselves instead: when it meets a
//! package with a sub-chain, that package event has already been claimed (marked `FREE`,
//! still ours), so its `pNextEvt` becomes the link of the continuation stack and its
//! `pPackageEvt` the event to continue with once the sub-chain is done; the package event is
//! recycled when it is popped. Memory use is O(1) whatever the nesting.
//!
//! A cycle in a chain (an event reached twice) is a double put: the second claim finds the
//! block `FREE` and bug checks, so the walk always terminates.

use super::header::{HEADER_SIZE, Header, Kind, Word};
use super::object::Allocator;
use core::ptr::{self, NonNull};
use mxf_abi::{DmusKernelEvent, NtStatus, SHORT_EVENT_MAX, STATUS_SUCCESS};

impl Allocator {
    /// Recycles every event of `chain` (following `pNextEvt`): for each event, a package
    /// with a non-null `pPackageEvt` has its sub-chain recycled too; otherwise an event with
    /// `cbEvent > 8` and a non-null `pbData` has its buffer recycled; then the event itself.
    /// A null chain is a no-op; a package with a null `pPackageEvt` is an ordinary event.
    /// Reserve blocks go to the stack of processor `cpu` (the one the put runs on).
    ///
    /// # Safety
    /// As [`Allocator::put_message`].
    #[inline(always)]
    pub(crate) unsafe fn put_chain(&self, chain: *mut DmusKernelEvent, cpu: u32) {
        // SAFETY: per the caller.
        unsafe { self.put_chain_from(chain, None, cpu) }
    }

    /// [`Self::put_chain`] of a chain whose first event `chain` the caller has already
    /// claimed (`block`/`word` from its `claim`): where the fast path of `PutMessage` hands
    /// over when the chain is more than one plain reserve event. Returns `STATUS_SUCCESS`.
    ///
    /// # Safety
    /// As [`Allocator::put_message`]; `block`/`word` came from a `claim` of `chain` on this
    /// thread, and the event was not recycled since.
    #[inline(never)]
    pub(crate) unsafe extern "C" fn put_chain_claimed(
        &self,
        chain: NonNull<DmusKernelEvent>,
        block: NonNull<u8>,
        word: Word,
        cpu: u32,
    ) -> NtStatus {
        // SAFETY: per the caller.
        unsafe { self.put_chain_from(chain.as_ptr(), Some((block, word)), cpu) };
        STATUS_SUCCESS
    }

    /// The walk of [`Self::put_chain`]; `claimed`: the claim of `chain`'s first event, when
    /// the caller made it.
    ///
    /// # Safety
    /// As [`Self::put_chain_claimed`] when `claimed` is `Some`, else as [`Self::put_chain`].
    #[inline(always)]
    unsafe fn put_chain_from(
        &self,
        chain: *mut DmusKernelEvent,
        mut claimed: Option<(NonNull<u8>, Word)>,
        cpu: u32,
    ) {
        let lane = self.lane(Kind::Event);
        let mut cur = chain;
        // Claimed package events whose sub-chain is being walked, linked by `p_next_evt`;
        // each one's `u_data.p_package_evt` holds the event to continue with.
        let mut resume: *mut DmusKernelEvent = ptr::null_mut();
        loop {
            let Some(evt) = NonNull::new(cur) else {
                let Some(pkg) = NonNull::new(resume) else {
                    return;
                };
                let pkg = pkg.as_ptr();
                // SAFETY: `pkg` is a package event claimed below and not yet recycled: its
                // memory is ours, initialised, and nothing else references it.
                let parked = unsafe { pkg.read() };
                let up = parked.p_next_evt;
                // SAFETY: we wrote this union field ourselves when parking the event.
                let next = unsafe { parked.u_data.p_package_evt };
                resume = up;
                cur = next;
                // SAFETY: `pkg` was claimed by this walk and not recycled since.
                unsafe { self.recycle_claimed_event(pkg, cpu) };
                continue;
            };
            let (block, word) = match claimed.take() {
                Some(c) => c,
                // SAFETY: the caller owns the chain; `claim` validates the header (bug check
                // if the event is not a live event of ours) and makes the event ours until
                // recycled.
                None => unsafe { self.claim(lane, evt.cast()) },
            };
            let e = evt.as_ptr();
            // SAFETY: a live event of ours, just claimed: 40 initialised bytes nothing else
            // references.
            let event = unsafe { e.read() };
            let (next, flags, cb, data) = (
                event.p_next_evt,
                event.us_flags,
                event.cb_event,
                event.u_data,
            );
            let package = flags & mxf_abi::DMUS_KEF_PACKAGE_EVENT != 0;
            // SAFETY: every bit pattern of the 8-byte union is a valid pointer.
            let sub = unsafe { data.p_package_evt };
            if package && !sub.is_null() {
                // Park the event on the resume stack: its link points up, its payload to the
                // event to continue with.
                let mut parked = event;
                parked.p_next_evt = resume;
                parked.u_data.p_package_evt = next;
                // SAFETY: the event is ours until recycled, writable and nothing else
                // references it.
                unsafe { e.write(parked) };
                resume = e;
                cur = sub;
                continue;
            }
            // SAFETY: as above.
            let buf = unsafe { data.pb_data };
            if usize::from(cb) > SHORT_EVENT_MAX
                && let Some(buf) = NonNull::new(buf)
            {
                // SAFETY: per the caller, a buffer of this allocator owned by the chain.
                unsafe { self.put(self.lane(Kind::Buffer), buf, cpu) };
            }
            // SAFETY: claimed above on this thread, not recycled since.
            unsafe { self.recycle(lane, block, word, cpu) };
            cur = next;
        }
    }

    /// Recycles a package event parked on the resume stack.
    ///
    /// # Safety
    /// `e` was claimed by the current walk and not recycled since.
    unsafe fn recycle_claimed_event(&self, e: *mut DmusKernelEvent, cpu: u32) {
        let lane = self.lane(Kind::Event);
        let block = e.cast::<u8>().wrapping_sub(HEADER_SIZE);
        // SAFETY: `e` is one of our events (claimed), so its block starts HEADER_SIZE before
        // it, is allocated (not null) and 16-aligned.
        let block = unsafe { NonNull::new_unchecked(block) };
        // SAFETY: as above: an allocated, 16-aligned block of ours, so its header is readable.
        let word = unsafe { Header::at(block) }.load();
        // SAFETY: the claim's word is still in the header (nothing writes a FREE header but
        // the claimer, and we are it); the block is ours until now.
        unsafe { self.recycle(lane, block, word, cpu) };
    }
}
