//! The Rust-ABI twins of the vtable's get and put slots: the same behaviour as the slots
//! ([`vtbl`](super::vtbl)), reached through the [`Backend`](super::object::Backend) for the IRQL
//! check, with no `extern "system"` boundary, so that a bug check inside them may unwind in the
//! host emulator (which an `extern "system"` function may not). A layer on top of the full
//! paths ([`full`](super::full), [`chain`](super::chain), [`stops`](super::stops)).

use super::lane::zeroed_event;
use super::object::Allocator;
#[cfg(doc)]
use crate::platform::bugcheck;
use core::ptr::NonNull;
use mxf_abi::{DmusKernelEvent, NtError};

impl Allocator {
    /// `GetMessage`: a zeroed event (`cb_struct` = 40) owned by the caller.
    #[inline]
    pub fn get_message(&self) -> Result<NonNull<DmusKernelEvent>, NtError> {
        let payload = self.get(&self.events, self.enter())?;
        // SAFETY: an event payload just got.
        Ok(unsafe { zeroed_event(payload) })
    }

    /// `GetBuffer`: a buffer of [`Self::buffer_size`] bytes (contents unspecified).
    #[inline]
    pub fn get_buffer(&self) -> Result<NonNull<u8>, NtError> {
        self.get(&self.buffers, self.enter())
    }

    /// `PutBuffer`: returns one buffer. Bug checks `BAD_POOL_CALLER` (0xC2) with parameter 1
    /// [`bugcheck::c2::FOREIGN`] or [`bugcheck::c2::DOUBLE_FREE`] for a
    /// pointer that is not a live buffer of this allocator (see the module documentation for
    /// what can be told apart).
    ///
    /// # Safety
    /// `buf` is a pointer the caller got from this allocator's `GetBuffer` and owns, or at
    /// least 16 readable bytes precede it (see the module documentation); the caller does not
    /// use the buffer afterwards.
    #[inline]
    pub unsafe fn put_buffer(&self, buf: NonNull<u8>) {
        match self.enter() {
            // SAFETY: per the caller.
            Ok(cpu) => unsafe { self.put(&self.buffers, buf, cpu) },
            // SAFETY: per the caller.
            Err(irql) => unsafe { self.put_above_dispatch(&self.buffers, buf.as_ptr(), irql) },
        }
    }

    /// `PutMessage` on the allocator: recycles a chain, its package sub-chains and buffers
    /// included (the walk of module `chain`).
    ///
    /// # Safety
    /// `chain` is null or a chain whose events (and buffers and package sub-chains) are owned
    /// by the caller, as for [`Self::put_buffer`]; none is used afterwards.
    #[inline]
    pub unsafe fn put_message(&self, chain: *mut DmusKernelEvent) {
        match self.enter() {
            // SAFETY: per the caller.
            Ok(cpu) => unsafe { self.put_chain(chain, cpu) },
            // SAFETY: per the caller (a non-null chain starts with an event of ours).
            Err(irql) => unsafe { self.put_above_dispatch(&self.events, chain.cast(), irql) },
        }
    }
}
