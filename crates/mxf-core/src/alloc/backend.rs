//! The allocator object's platform half: `Object<P>`, the whole object for platform `P` (what
//! the interface pointer points to), and its [`Backend`] implementation, through which the
//! platform-independent [`Allocator`] reaches the platform and the block pools. The vtable
//! slots compiled for `P` ([`vtbl`](super::vtbl)) reach it directly
//! ([`Object::from_interface`]).

use super::TAG_OBJECT;
use super::header::Kind;
use super::object::{Allocator, Backend, processor_if_at_most_dispatch};
use crate::platform::{BlockPool, BlockPoolStats, Irql, Platform};
use core::ptr::{self, NonNull};

/// The whole object for platform `P`: what the interface pointer points to.
#[repr(C)]
pub(crate) struct Object<P: Platform> {
    pub(crate) core: Allocator,
    pub(crate) platform: P,
    pub(crate) event_pool: P::BlockPool,
    pub(crate) buffer_pool: P::BlockPool,
}

impl<P: Platform> Object<P> {
    /// The object behind an interface pointer of `P`'s vtable.
    ///
    /// # Safety
    /// `this` is an interface pointer to a live `Object<P>` (what the COM contract guarantees
    /// for every call through `P`'s vtable, the only one such objects carry), valid for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn from_interface<'a, T>(this: *mut T) -> &'a Self {
        // SAFETY: per the caller; `Object<P>` is `#[repr(C)]` with the `Allocator` first,
        // whose first field is the vtable pointer, so the interface pointer is the object
        // pointer, with provenance over all of it (it came from `new_allocator`'s block).
        unsafe { &*this.cast::<Self>() }
    }

    fn pool(&self, kind: Kind) -> &P::BlockPool {
        match kind {
            Kind::Event => &self.event_pool,
            Kind::Buffer => &self.buffer_pool,
        }
    }

    /// Frees the reserves, the slot arrays, the pools and the object (the
    /// [`Backend::destructor`] of `Object<P>`).
    ///
    /// # Safety
    /// `whole` is the [`Allocator::backend`] pointer of a live `Object<P>` with no reference
    /// left: nothing uses the object afterwards.
    unsafe fn destroy(whole: NonNull<dyn Backend>) {
        let obj = whole.cast::<Self>();
        // SAFETY: per the caller the object is live and ours alone from here on.
        let this = unsafe { obj.as_ref() };
        // SAFETY: no reference is left (the caller's promise), and these are the platform and
        // pools the lanes were built over.
        unsafe {
            this.core
                .empty_lanes(&this.platform, &this.event_pool, &this.buffer_pool)
        };
        let platform = this.platform.clone();
        // SAFETY: the object is initialised, ours alone (the caller's promise) and dropped
        // once here (the pools are deleted; blocks still out stay allocated, as with a
        // lookaside list); `this` is not used again, and `whole` carries provenance over the
        // whole object (it came from `new_allocator`'s block).
        unsafe { ptr::drop_in_place(obj.as_ptr()) };
        // SAFETY: the object's memory came from `pool_alloc(.., TAG_OBJECT)` in
        // `new_allocator`; its contents were dropped just above and nothing refers to it.
        unsafe { platform.pool_free(obj.cast(), TAG_OBJECT) };
    }
}

impl<P: Platform> Backend for Object<P> {
    fn enter(&self) -> Result<u32, Irql> {
        processor_if_at_most_dispatch(&self.platform)
    }

    fn alloc_block(&self, kind: Kind) -> Option<NonNull<u8>> {
        self.pool(kind).alloc()
    }

    unsafe fn free_block(&self, kind: Kind, block: NonNull<u8>) {
        // SAFETY: the caller's promise: `block` is an allocated block of this kind's pool,
        // given back once.
        unsafe { self.pool(kind).free(block) }
    }

    fn pool_stats(&self, kind: Kind) -> BlockPoolStats {
        self.pool(kind).stats()
    }

    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        self.platform.bug_check(code, params)
    }

    fn destructor(&self) -> unsafe fn(NonNull<dyn Backend>) {
        Self::destroy
    }
}
