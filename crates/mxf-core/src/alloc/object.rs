//! The allocator object's platform-independent half, [`Allocator`]: its layout, the two lanes
//! (events, buffers), reference counting, state and statistics.
//!
//! The object is split in two: [`Allocator`], which does not depend on the platform type, and
//! `Object<P>` ([`backend`](super::backend)), which adds the platform and the two block pools.
//! The vtable is one per `P` ([`vtbl`](super::vtbl)): its hot slots (`GetMessage`,
//! `GetBuffer`, `PutMessage`, `PutBuffer`) are compiled for `P`, so the IRQL check and the
//! processor lookup that start every get and put inline into them
//! ([`processor_if_at_most_dispatch`]), with no call through a pointer. The rest — the
//! Rust-ABI twins of the slots, and the cold paths (block pool alloc/free on a reserve miss,
//! bug check, log, destroy) — reaches the platform through the [`Backend`] trait object the
//! `Allocator` keeps of its own `Object<P>`, so that code exists once. Our objects are
//! recognised by a private interface id ([`IID_MXF_PRIVATE_ALLOCATOR`]), not by the vtable's
//! address, which is per `P` (and a constant's address is not guaranteed unique).
//!
//! The methods on [`Allocator`] are spread over files by concern, each an `impl` block on top
//! of this one: pointer validation ([`validate`](super::validate)), the block pool side
//! ([`pool`](super::pool)), the stops above `DISPATCH_LEVEL` ([`stops`](super::stops)), the
//! full get and put ([`full`](super::full)), the chain walk ([`chain`](super::chain)), the fast
//! paths ([`fast`](super::fast)), the Rust-ABI twins of the slots ([`twins`](super::twins))
//! and the teardown of the lanes ([`teardown`](super::teardown)).

use super::IID_MXF_PRIVATE_ALLOCATOR;
use super::header::{Identity, Kind};
use super::lane::Lane;
use super::stats::AllocatorStats;
use super::sync::{AtomicI32, Ordering};
use crate::com::{self, ComPtr, OurMark, OurObject, RefCount};
use crate::platform::{BlockPoolStats, DISPATCH_LEVEL, Irql, Platform, bugcheck};
use core::ptr::NonNull;
use mxf_abi::{Guid, IAllocatorMxf, IAllocatorMxfVtbl, KsState};

/// The IRQL check every get and put starts with: the current processor, or `Err(irql)` when
/// the caller runs above `DISPATCH_LEVEL` (then the processor is not asked for).
#[inline(always)]
pub(crate) fn processor_if_at_most_dispatch<P: Platform>(platform: &P) -> Result<u32, Irql> {
    let irql = platform.current_irql();
    if irql > DISPATCH_LEVEL {
        return Err(irql);
    }
    Ok(platform.current_processor())
}

/// The platform half of the object as the platform-independent half sees it: what does not
/// run in the vtable's `P`-specific slots. Implemented by `Object<P>`
/// ([`backend`](super::backend)); an [`Allocator`] reaches its own through
/// [`Allocator::backend`].
pub(crate) trait Backend {
    /// [`processor_if_at_most_dispatch`] on the object's platform.
    fn enter(&self) -> Result<u32, Irql>;
    /// A block from `kind`'s block pool (`HEADER_SIZE + payload` bytes, contents
    /// unspecified), or `None` when the pool has none.
    fn alloc_block(&self, kind: Kind) -> Option<NonNull<u8>>;
    /// Gives a block back to `kind`'s block pool.
    ///
    /// # Safety
    /// `block` came from [`Self::alloc_block`] of this `kind` on this object, is allocated,
    /// given back once and not used afterwards.
    unsafe fn free_block(&self, kind: Kind, block: NonNull<u8>);
    /// `kind`'s block pool's own counters.
    fn pool_stats(&self, kind: Kind) -> BlockPoolStats;
    /// Stops the system (the platform's bug check).
    fn bug_check(&self, code: u32, params: [usize; 4]) -> !;
    /// The object's destructor: given the object's own [`Allocator::backend`] pointer, frees
    /// the reserves, the slot arrays, the pools and the object itself. A function of the
    /// pointer, not a method, because it frees the memory a `&self` would point to.
    ///
    /// # Safety (of calling the function)
    /// The pointer is the `backend` of the live object this was asked of, and no reference
    /// to the object is left (its count reached zero): nothing uses it afterwards.
    fn destructor(&self) -> unsafe fn(NonNull<dyn Backend>);
}

/// Our `IAllocatorMXF` object (what the interface pointer points to).
///
/// Obtained with [`Allocator::from_com`]; the methods are the Rust-ABI twins of the vtable
/// slots (same code, no `extern "system"` boundary — a bug check inside them may unwind in
/// the host emulator, which an `extern "system"` function may not) plus statistics.
#[repr(C)]
pub struct Allocator {
    /// The interface's vtable pointer (`Vtbl::<P>::VTBL`): must stay the first field.
    pub(crate) vtbl: *const IAllocatorMxfVtbl,
    /// `OurMark::of::<Allocator>()`: checked by [`Allocator::from_raw`] after the private
    /// interface id was answered (a second, independent sign that the object is ours).
    pub(crate) mark: OurMark,
    pub(crate) refs: RefCount,
    pub(crate) state: AtomicI32,
    pub(crate) buffer_size: u16,
    pub(crate) poison: bool,
    pub(crate) identity: Identity,
    /// The `Object<P>` this is the first field of, with provenance over all of it (set once
    /// at creation; [`Self::backend`]).
    pub(crate) backend: NonNull<dyn Backend>,
    pub(crate) events: Lane,
    pub(crate) buffers: Lane,
}

// SAFETY: `Allocator` is `#[repr(C)]` with the vtable pointer first and the mark second
// (`OurMark::of::<Allocator>()`, set in `new_allocator` and never written again); only
// allocator objects (`Object<P>`, which start with an `Allocator`) answer the private id, and
// with themselves (`vtbl::IIDS`).
unsafe impl OurObject for Allocator {
    const PRIVATE_IID: Guid = IID_MXF_PRIVATE_ALLOCATOR;
}

// SAFETY: all shared mutable state is atomic; the raw pointers name memory the object owns
// for its lifetime (slot arrays, itself) and are only read. The platform part is `Send +
// Sync` by the `Platform` and `BlockPool` bounds.
unsafe impl Sync for Allocator {}
// SAFETY: as above.
unsafe impl Send for Allocator {}

impl Allocator {
    /// Our object behind `p`, if `p` is one of ours (it answers
    /// [`IID_MXF_PRIVATE_ALLOCATOR`] with itself and carries the allocator's mark:
    /// [`com::ours`]).
    pub fn from_com(p: &ComPtr<IAllocatorMxf>) -> Option<&Allocator> {
        com::ours(p)
    }

    /// Our object behind a raw interface pointer, if it is one of ours ([`com::ours_raw`]).
    /// Foreign objects are only called through their `QueryInterface` (and `Release`, if they
    /// answer), as any COM client would.
    ///
    /// # Safety
    /// `p` points to a live `IAllocatorMXF` object on which the caller holds a reference for
    /// `'a`.
    pub unsafe fn from_raw<'a>(p: *mut IAllocatorMxf) -> Option<&'a Allocator> {
        // SAFETY: the caller's promise.
        unsafe { com::ours_raw(p) }
    }

    /// `GetBufferSize()`.
    pub fn buffer_size(&self) -> u16 {
        self.buffer_size
    }

    /// The state last set by `SetState` (`KSSTATE_STOP` initially).
    pub fn state(&self) -> KsState {
        KsState(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set_state(&self, state: KsState) {
        self.state.store(state.0, Ordering::Relaxed);
    }

    /// The current reference count (diagnostics).
    pub fn ref_count(&self) -> u32 {
        self.refs.get()
    }

    pub(crate) fn add_ref(&self) -> u32 {
        self.refs.add_ref()
    }

    /// The object's reference count (for the shared `QueryInterface`).
    pub(crate) fn refs(&self) -> &RefCount {
        &self.refs
    }

    /// `Release`: destroys the object when the count reaches zero.
    ///
    /// # Safety
    /// The caller gives up one reference it owns and does not use `self` if it was the last.
    pub(crate) unsafe fn release(&self) -> u32 {
        let (destroy, whole) = (self.backend().destructor(), self.backend);
        crate::com::answer_release(
            self.refs.release(),
            || {
                // SAFETY: `answer_release` runs this only when the count reached zero with
                // this call: no reference is left, so nothing else uses the object (a caller
                // that releases more than it owns is caught below only while the memory is
                // still ours); `whole` is this object's own `backend` pointer.
                unsafe { destroy(whole) }
            },
            // A Release on a count that is already zero: the object is being destroyed by
            // another caller right now (memory already freed is beyond detection).
            || {
                self.bug_check(
                    bugcheck::REFERENCE_BY_POINTER,
                    [0, self as *const _ as usize, 0, 0],
                )
            },
        )
    }

    /// Statistics (a snapshot; exact when no call is in progress).
    pub fn stats(&self) -> AllocatorStats {
        let (e, b) = (&self.events, &self.buffers);
        let (oe, ob) = (e.outstanding(), b.outstanding());
        let (ge, gb) = (e.gets(), b.gets());
        AllocatorStats {
            gets: ge,
            puts: ge.saturating_sub(u64::from(oe)),
            buffer_gets: gb,
            buffer_puts: gb.saturating_sub(u64::from(ob)),
            reserve_hits: e.reserve_hits() + b.reserve_hits(),
            pool_misses: e.pool_misses.load(Ordering::Relaxed)
                + b.pool_misses.load(Ordering::Relaxed),
            failures: e.failures.load(Ordering::Relaxed) + b.failures.load(Ordering::Relaxed),
            outstanding_events: oe,
            outstanding_buffers: ob,
            high_water_events: e.high_water.load(Ordering::Relaxed),
            high_water_buffers: b.high_water.load(Ordering::Relaxed),
            reserve_free_events: e.reserve().free(),
            reserve_free_buffers: b.reserve().free(),
        }
    }

    /// How many per-processor reserve stacks `kind` has (0 without a reserve): the
    /// platform's processor count at creation, capped at `MAX_PROCESSORS`.
    pub fn reserve_processors(&self, kind: Kind) -> u32 {
        self.lane(kind).cpus
    }

    /// Free reserve blocks of `kind` on processor `cpu`'s stack now (a snapshot); `None` if
    /// there is no such stack.
    pub fn reserve_free_on(&self, kind: Kind, cpu: u32) -> Option<u32> {
        let lane = self.lane(kind);
        lane.reserve()
            .cpus
            .get(cpu as usize)
            .map(|c| c.stack.len() as u32)
    }

    /// The event block pool's own counters.
    pub fn event_pool_stats(&self) -> BlockPoolStats {
        self.backend().pool_stats(Kind::Event)
    }

    /// The IRQL check every get and put starts with, and the processor it runs on
    /// ([`processor_if_at_most_dispatch`] through the [`Backend`], for the Rust-ABI twins).
    #[inline(always)]
    pub(crate) fn enter(&self) -> Result<u32, Irql> {
        self.backend().enter()
    }

    /// The platform half of this object.
    #[inline(always)]
    pub(crate) fn backend(&self) -> &dyn Backend {
        // SAFETY: `backend` points to the `Object<P>` whose first field `self` is (set once in
        // `new_allocator`), so it is live and unaliased by any `&mut` for as long as `self` is.
        unsafe { self.backend.as_ref() }
    }

    #[inline(always)]
    pub(crate) fn lane(&self, kind: Kind) -> &Lane {
        match kind {
            Kind::Event => &self.events,
            Kind::Buffer => &self.buffers,
        }
    }

    #[cold]
    pub(crate) fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        self.backend().bug_check(code, params)
    }
}
