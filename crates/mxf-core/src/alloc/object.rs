//! The allocator object: its layout, the two lanes (events, buffers), get/put of blocks,
//! creation and destruction.
//!
//! The object is split in two: [`Allocator`], which does not depend on the platform type, and
//! `Object<P>`, which adds the platform and the two block pools. The vtable is one per `P`
//! ([`vtbl`](super::vtbl)): its hot slots (`GetMessage`, `GetBuffer`, `PutMessage`,
//! `PutBuffer`) are compiled for `P`, so the IRQL check and the processor lookup that start
//! every get and put inline into them ([`processor_if_at_most_dispatch`]), with no call through a
//! pointer. The rest — the Rust-ABI twins of the slots, and the cold paths (block pool alloc/free
//! on a reserve miss, bug check, log, destroy) — goes through a per-`P` table of functions
//! ([`Ops`]), so it exists once. Our objects are recognised by a private interface id
//! ([`IID_MXF_PRIVATE_ALLOCATOR`]), not by the vtable's address, which is per `P` (and a constant's
//! address is not guaranteed unique).

use super::header::{
    HEADER_SIZE, Header, Identity, Kind, NO_SLOT, OwnerTag, STATE_FREE, STATE_LIVE, Word,
    payload_of,
};
use super::reserve::{PerCpu, Reserve};
use super::stack::Slot;
use super::stats::AllocatorStats;
use super::sync::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use super::{ALLOCATOR_MAGIC, IID_MXF_PRIVATE_ALLOCATOR, POISON_BYTE, TAG_OBJECT, TAG_RESERVE};
use crate::com::{ComPtr, RefCount};
use crate::platform::{
    BlockPool, BlockPoolStats, DISPATCH_LEVEL, Irql, LogLevel, Platform, bugcheck,
};
use core::mem::size_of;
use core::ptr::{self, NonNull};
use mxf_abi::NtError;
use mxf_abi::{DmusKernelEvent, IAllocatorMxf, IAllocatorMxfVtbl, IUnknown, KsState};

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

/// The platform calls the object needs, for one platform type `P` (what does not run in the
/// vtable's `P`-specific slots).
pub(crate) struct Ops {
    /// [`processor_if_at_most_dispatch`] for the Rust-ABI twins of the slots.
    enter: unsafe fn(*const ()) -> Result<u32, Irql>,
    alloc_block: unsafe fn(*const (), Kind) -> Option<NonNull<u8>>,
    free_block: unsafe fn(*const (), Kind, NonNull<u8>),
    pool_stats: unsafe fn(*const (), Kind) -> BlockPoolStats,
    bug_check: unsafe fn(*const (), u32, [usize; 4]) -> !,
    destroy: unsafe fn(*const ()),
}

/// A reserve slot's item: its block, padded so that every slot fills one 64-byte line (a
/// push writes the slot's link: two processors' slots must not share a line).
#[repr(C)]
pub(crate) struct Item {
    pub(crate) block: *mut u8,
    pub(crate) _pad: [u8; 48],
}

pub(crate) const SLOT_SIZE: usize = 64;
const _: () = assert!(size_of::<Slot<Item>>() == SLOT_SIZE);
/// Alignment of the reserve's memory (per-processor stacks first, then the slots).
pub(crate) const RESERVE_ALIGN: usize = core::mem::align_of::<PerCpu>();
const _: () =
    assert!(size_of::<PerCpu>() == RESERVE_ALIGN && RESERVE_ALIGN.is_multiple_of(SLOT_SIZE));

/// One kind of block (events or buffers): its reserve, cap and counters.
///
/// The reserve's per-processor stacks live in their own memory, one line pair each
/// ([`reserve`](super::reserve)). Here, two groups a cache line apart (pool memory is only
/// 16-aligned, so padding rather than alignment): fields read on every call, and the
/// counters written on the cold paths (pool, steal, high-water samples).
#[repr(C)]
pub(crate) struct Lane {
    pub(crate) kind: Kind,
    /// The owner part of this lane's header words (the allocator's identity and `kind`).
    pub(crate) tag: OwnerTag,
    /// Payload bytes of a block.
    pub(crate) payload: usize,
    /// The reserve's slot array (`reserve_cap` entries, in `mem`), or dangling.
    pub(crate) slots: *const Slot<Item>,
    /// The reserve's per-processor stacks (`cpus` entries, in `mem`), or dangling.
    pub(crate) stacks: *const PerCpu,
    /// Stacks in `stacks` (0 when the reserve is empty).
    pub(crate) cpus: u32,
    pub(crate) reserve_cap: u16,
    /// Most blocks from the block pool outstanding at once: `max - reserve_cap`, so that
    /// reserve plus pool blocks — hence outstanding blocks — never exceed `max`.
    pub(crate) pool_cap: u32,
    /// The pool allocation holding the stacks and the slots (null when none).
    pub(crate) mem: *mut u8,
    pub(crate) _pad0: [u8; 64],
    /// Blocks taken from the block pool and not yet freed back.
    pub(crate) pool_out: AtomicU32,
    pub(crate) high_water: AtomicU32,
    pub(crate) pool_misses: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// Reserve indices moved between processors by steals ([`Reserve::hits`]).
    pub(crate) moved: AtomicU64,
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
    /// [`ALLOCATOR_MAGIC`]: checked by [`Allocator::from_raw`] after the private interface
    /// id was answered (a second, independent sign that the object is ours).
    pub(crate) magic: u64,
    pub(crate) refs: RefCount,
    pub(crate) state: AtomicI32,
    pub(crate) buffer_size: u16,
    pub(crate) poison: bool,
    pub(crate) identity: Identity,
    pub(crate) ops: &'static Ops,
    /// The whole `Object<P>`, with provenance over all of it (for [`Ops`]).
    pub(crate) whole: *const (),
    pub(crate) events: Lane,
    pub(crate) buffers: Lane,
}

// SAFETY: all shared mutable state is atomic; the raw pointers name memory the object owns
// for its lifetime (slot arrays, itself) and are only read. The platform part is `Send +
// Sync` by the `Platform` and `BlockPool` bounds.
unsafe impl Sync for Allocator {}
// SAFETY: as above.
unsafe impl Send for Allocator {}

/// The whole object for platform `P`: what the interface pointer points to.
#[repr(C)]
pub(crate) struct Object<P: Platform> {
    pub(crate) core: Allocator,
    pub(crate) platform: P,
    pub(crate) event_pool: P::BlockPool,
    pub(crate) buffer_pool: P::BlockPool,
}

impl<P: Platform> Object<P> {
    pub(crate) const OPS: Ops = Ops {
        enter: Self::op_enter,
        alloc_block: Self::op_alloc,
        free_block: Self::op_free,
        pool_stats: Self::op_stats,
        bug_check: Self::op_bug_check,
        destroy: Self::op_destroy,
    };

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

    /// # Safety
    /// `whole` is `Allocator::whole` of a live `Object<P>`.
    unsafe fn from_whole<'a>(whole: *const ()) -> &'a Self {
        // SAFETY: per the caller; `whole` carries provenance over the whole object.
        unsafe { &*whole.cast::<Self>() }
    }

    fn pool(&self, kind: Kind) -> &P::BlockPool {
        match kind {
            Kind::Event => &self.event_pool,
            Kind::Buffer => &self.buffer_pool,
        }
    }

    /// # Safety
    /// `whole` as in [`Self::from_whole`].
    unsafe fn op_enter(whole: *const ()) -> Result<u32, Irql> {
        // SAFETY: per the caller.
        processor_if_at_most_dispatch(&unsafe { Self::from_whole(whole) }.platform)
    }

    /// # Safety
    /// `whole` as in [`Self::from_whole`].
    unsafe fn op_alloc(whole: *const (), kind: Kind) -> Option<NonNull<u8>> {
        // SAFETY: per the caller.
        unsafe { Self::from_whole(whole) }.pool(kind).alloc()
    }

    /// # Safety
    /// `whole` as in [`Self::from_whole`]; `block` came from this kind's pool and is free.
    unsafe fn op_free(whole: *const (), kind: Kind, block: NonNull<u8>) {
        // SAFETY: the caller's promise: `whole` is the `whole` pointer of a live `Object<P>`.
        let this = unsafe { Self::from_whole(whole) };
        // SAFETY: the caller's promise: `block` is an allocated block of this kind's pool,
        // given back once.
        unsafe { this.pool(kind).free(block) }
    }

    /// # Safety
    /// `whole` as in [`Self::from_whole`].
    unsafe fn op_stats(whole: *const (), kind: Kind) -> BlockPoolStats {
        // SAFETY: per the caller.
        unsafe { Self::from_whole(whole) }.pool(kind).stats()
    }

    /// # Safety
    /// `whole` as in [`Self::from_whole`].
    unsafe fn op_bug_check(whole: *const (), code: u32, params: [usize; 4]) -> ! {
        // SAFETY: per the caller.
        unsafe { Self::from_whole(whole) }
            .platform
            .bug_check(code, params)
    }

    /// Frees the reserves, the slot arrays, the pools and the object.
    ///
    /// # Safety
    /// `whole` as in [`Self::from_whole`], with no reference left: nothing uses the object
    /// afterwards.
    unsafe fn op_destroy(whole: *const ()) {
        let obj = whole.cast_mut().cast::<Self>();
        // SAFETY: per the caller the object is live and ours alone from here on.
        let this = unsafe { &*obj };
        for lane in [&this.core.events, &this.core.buffers] {
            let reserve = lane.reserve();
            let mut freed = 0usize;
            while let Some(i) = reserve.drain_one() {
                let Some(block) = lane.block(i) else {
                    continue;
                };
                this.core.check_reserve_block(lane, block, i);
                // SAFETY: a block on the reserve stack is a free block of this kind's pool,
                // owned by the reserve; it leaves the stack here for good.
                unsafe { this.pool(lane.kind).free(block) };
                freed += 1;
            }
            let leaked = usize::from(lane.reserve_cap).saturating_sub(freed)
                + lane.pool_out.load(Ordering::Relaxed) as usize;
            if leaked != 0 {
                this.platform.log(
                    LogLevel::Error,
                    format_args!(
                        "mxf allocator {:p}: {leaked} {:?} block(s) still out at the final \
                         Release; leaked",
                        obj, lane.kind
                    ),
                );
            }
            if let Some(p) = NonNull::new(lane.mem) {
                // SAFETY: the reserve's memory came from `pool_alloc(.., TAG_RESERVE)` in
                // `build_lane` and nothing reads it any more.
                unsafe { this.platform.pool_free(p, TAG_RESERVE) };
            }
        }
        let platform = this.platform.clone();
        // SAFETY: the object is initialised, ours alone (the caller's promise) and dropped
        // once here (the pools are deleted; blocks still out stay allocated, as with a
        // lookaside list); `this` is not used again.
        unsafe { ptr::drop_in_place(obj) };
        // SAFETY: `obj` came from a live object's `whole` pointer, so it is not null.
        let mem = unsafe { NonNull::new_unchecked(obj.cast()) };
        // SAFETY: the object's memory came from `pool_alloc(.., TAG_OBJECT)` in
        // `new_allocator`; its contents were dropped just above and nothing refers to it.
        unsafe { platform.pool_free(mem, TAG_OBJECT) };
    }
}

impl Lane {
    #[inline(always)]
    pub(crate) fn slots(&self) -> &[Slot<Item>] {
        if self.cpus == 0 {
            return &[];
        }
        // SAFETY: with a reserve, `slots` points to `reserve_cap` initialised slots that live
        // as long as the allocator (see `build_lane`); only accessed through shared references.
        unsafe { core::slice::from_raw_parts(self.slots, usize::from(self.reserve_cap)) }
    }

    /// The reserve: its stacks, slots and steal counter.
    #[inline(always)]
    pub(crate) fn reserve(&self) -> Reserve<'_, Item> {
        let stacks: &[PerCpu] = if self.cpus == 0 {
            &[]
        } else {
            // SAFETY: with a reserve, `stacks` points to `cpus` initialised stacks that live
            // as long as the allocator (see `build_lane`); only accessed through shared
            // references.
            unsafe { core::slice::from_raw_parts(self.stacks, self.cpus as usize) }
        };
        Reserve {
            cpus: stacks,
            slots: self.slots(),
            moved: &self.moved,
        }
    }

    /// The block of reserve slot `i`.
    #[inline(always)]
    pub(crate) fn block(&self, i: usize) -> Option<NonNull<u8>> {
        self.slots().get(i).and_then(|s| NonNull::new(s.item.block))
    }

    fn outstanding(&self) -> u32 {
        let in_reserve = self.reserve().free();
        u32::from(self.reserve_cap).saturating_sub(in_reserve)
            + self.pool_out.load(Ordering::Relaxed)
    }

    /// Samples the outstanding count into the high-water mark (sums every processor's stack:
    /// kept off the hot path, see [`reserve`](super::reserve) for when it runs).
    #[cold]
    #[inline(never)]
    pub(crate) fn note_high_water(&self) {
        let now = self
            .outstanding()
            .min(self.pool_cap + u32::from(self.reserve_cap));
        if now > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(now, Ordering::Relaxed);
        }
    }

    fn reserve_hits(&self) -> u64 {
        self.reserve().hits()
    }

    fn gets(&self) -> u64 {
        self.reserve_hits() + self.pool_misses.load(Ordering::Relaxed)
    }
}

/// Why a put was refused.
#[derive(Clone, Copy)]
enum Refused {
    Foreign,
    DoubleFree,
}

impl Allocator {
    /// Our object behind `p`, if `p` is one of ours (it answers
    /// [`IID_MXF_PRIVATE_ALLOCATOR`] with itself and carries our magic).
    pub fn from_com(p: &ComPtr<IAllocatorMxf>) -> Option<&Allocator> {
        // SAFETY: a `ComPtr` holds a reference on a live COM object, for as long as the
        // borrow of `p` lasts.
        unsafe { Self::from_raw(p.as_raw()) }
    }

    /// Our object behind a raw interface pointer, if it is one of ours.
    ///
    /// Asks the object's own `QueryInterface` for [`IID_MXF_PRIVATE_ALLOCATOR`], which only
    /// our allocators answer (with themselves), releases the reference that takes, and then
    /// checks the object's magic word. Foreign objects are only called through their
    /// `QueryInterface` (and `Release`, if they answer), as any COM client would.
    ///
    /// # Safety
    /// `p` points to a live `IAllocatorMXF` object on which the caller holds a reference for
    /// `'a`.
    pub unsafe fn from_raw<'a>(p: *mut IAllocatorMxf) -> Option<&'a Allocator> {
        let unk = p.cast::<IUnknown>();
        let mut out: *mut core::ffi::c_void = ptr::null_mut();
        // SAFETY: the caller's promise: `p` points to a live COM object, whose first field is
        // its vtable pointer.
        let unk_vtbl = unsafe { (*unk).vtbl };
        // SAFETY: every COM vtable starts with IUnknown's slots, valid while the object lives.
        let query_interface = unsafe { (*unk_vtbl).query_interface };
        // SAFETY: the object is live; the id is a valid GUID and `out` a writable PVOID.
        let status = unsafe { query_interface(unk, &IID_MXF_PRIVATE_ALLOCATOR, &mut out) };
        let got = NonNull::new(out.cast::<IUnknown>())?;
        // SAFETY: a non-null result of QueryInterface is a live interface pointer (it carries
        // a reference), whose first field is its vtable pointer.
        let got_vtbl = unsafe { (*got.as_ptr()).vtbl };
        // SAFETY: every COM vtable starts with IUnknown's slots, valid while the object lives.
        let release = unsafe { (*got_vtbl).release };
        // SAFETY: gives back the one reference QueryInterface made for us (the caller's
        // reference keeps the object alive for `'a`; if `got` is not `p` we never look at it
        // again).
        unsafe { release(got.as_ptr()) };
        if !mxf_abi::nt_success(status) || got.as_ptr() != unk {
            return None;
        }
        // SAFETY: only `Allocator` objects answer the private id (with themselves), and
        // `Allocator` is `#[repr(C)]` with `{vtbl, magic}` first: reading `magic` stays inside
        // the object, live for `'a` per the caller.
        let a = unsafe { &*p.cast::<Allocator>() };
        (a.magic == ALLOCATOR_MAGIC).then_some(a)
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
        let (ops, whole) = (self.ops, self.whole);
        crate::com::answer_release(
            self.refs.release(),
            || {
                // SAFETY: `answer_release` runs this only when the count reached zero with
                // this call: no reference is left, so nothing else uses the object (a caller
                // that releases more than it owns is caught below only while the memory is
                // still ours).
                unsafe { (ops.destroy)(whole) }
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
        // SAFETY: `whole` is this live object's `Object<P>`, matching `ops`.
        unsafe { (self.ops.pool_stats)(self.whole, Kind::Event) }
    }

    /// The buffer block pool's own counters.
    pub fn buffer_pool_stats(&self) -> BlockPoolStats {
        // SAFETY: as above.
        unsafe { (self.ops.pool_stats)(self.whole, Kind::Buffer) }
    }

    /// `GetMessage`: a zeroed event (`cb_struct` = 40) owned by the caller.
    #[inline]
    pub fn get_message(&self) -> Result<NonNull<DmusKernelEvent>, NtError> {
        self.get_message_entered(self.enter())
    }

    /// [`Self::get_message`] after [`processor_if_at_most_dispatch`] (the vtable's slot for `P`
    /// calls it with the platform's answer inlined).
    #[inline(always)]
    pub(crate) fn get_message_entered(
        &self,
        entered: Result<u32, Irql>,
    ) -> Result<NonNull<DmusKernelEvent>, NtError> {
        let payload = self.get(&self.events, entered)?;
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
        // SAFETY: per the caller.
        unsafe { self.put_buffer_entered(buf, self.enter()) }
    }

    /// [`Self::put_buffer`] after [`processor_if_at_most_dispatch`].
    ///
    /// # Safety
    /// As [`Self::put_buffer`].
    #[inline(always)]
    pub(crate) unsafe fn put_buffer_entered(&self, buf: NonNull<u8>, entered: Result<u32, Irql>) {
        match entered {
            // SAFETY: per the caller.
            Ok(cpu) => unsafe { self.put(&self.buffers, buf, cpu) },
            // SAFETY: per the caller.
            Err(irql) => unsafe { self.put_above_dispatch(&self.buffers, buf.as_ptr(), irql) },
        }
    }

    /// `PutMessage` on the allocator: recycles a chain (see [`Self::put_chain`]).
    ///
    /// # Safety
    /// `chain` is null or a chain whose events (and buffers and package sub-chains) are owned
    /// by the caller, as for [`Self::put_buffer`]; none is used afterwards.
    #[inline]
    pub unsafe fn put_message(&self, chain: *mut DmusKernelEvent) {
        // SAFETY: per the caller.
        unsafe { self.put_message_entered(chain, self.enter()) }
    }

    /// [`Self::put_message`] after [`processor_if_at_most_dispatch`].
    ///
    /// # Safety
    /// As [`Self::put_message`].
    #[inline(always)]
    pub(crate) unsafe fn put_message_entered(
        &self,
        chain: *mut DmusKernelEvent,
        entered: Result<u32, Irql>,
    ) {
        match entered {
            // SAFETY: per the caller.
            Ok(cpu) => unsafe { self.put_chain(chain, cpu) },
            // SAFETY: per the caller (a non-null chain starts with an event of ours).
            Err(irql) => unsafe { self.put_above_dispatch(&self.events, chain.cast(), irql) },
        }
    }

    /// The IRQL check every get and put starts with, and the processor it runs on
    /// ([`processor_if_at_most_dispatch`] through [`Ops`], for the Rust-ABI twins).
    #[inline(always)]
    fn enter(&self) -> Result<u32, Irql> {
        // SAFETY: `whole` is this live object's `Object<P>`, matching `ops`.
        unsafe { (self.ops.enter)(self.whole) }
    }

    #[inline(always)]
    pub(crate) fn lane(&self, kind: Kind) -> &Lane {
        match kind {
            Kind::Event => &self.events,
            Kind::Buffer => &self.buffers,
        }
    }

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
        // SAFETY: `whole` is this live object's `Object<P>`, matching `ops`.
        let _probe = unsafe { (self.ops.alloc_block)(self.whole, lane.kind) };
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

    #[cold]
    #[inline(never)]
    pub(crate) fn get_from_pool(&self, lane: &Lane) -> Result<NonNull<u8>, NtError> {
        if lane.pool_out.fetch_add(1, Ordering::Relaxed) >= lane.pool_cap {
            lane.pool_out.fetch_sub(1, Ordering::Relaxed);
            lane.failures.fetch_add(1, Ordering::Relaxed);
            return Err(NtError::INSUFFICIENT_RESOURCES);
        }
        // SAFETY: `whole` is this live object's `Object<P>`, matching `ops`.
        let Some(block) = (unsafe { (self.ops.alloc_block)(self.whole, lane.kind) }) else {
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

    /// Verifies a block just taken off the reserve (state `FREE`, our identity, slot `i`,
    /// poison intact); returns its word. Bug checks on corruption.
    #[inline(always)]
    fn check_reserve_block(&self, lane: &Lane, block: NonNull<u8>, i: usize) -> Word {
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

    /// Gives a claimed pool block back to the platform's pool (kept out of the hot path).
    ///
    /// # Safety
    /// `block` is a pool block (`NO_SLOT`) of `lane` claimed by this thread: an allocated
    /// block of this lane's pool, freed once, not used afterwards.
    #[cold]
    #[inline(never)]
    unsafe fn free_pool_block(&self, lane: &Lane, block: NonNull<u8>) {
        // SAFETY: per the caller.
        unsafe { (self.ops.free_block)(self.whole, lane.kind, block) };
        lane.pool_out.fetch_sub(1, Ordering::Relaxed);
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

    #[cold]
    pub(crate) fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        // SAFETY: `whole` is this live object's `Object<P>`, matching `ops`.
        unsafe { (self.ops.bug_check)(self.whole, code, params) }
    }
}

/// Turns the payload of an event block just got into a zeroed event (`cb_struct` = 40).
///
/// # Safety
/// `payload` is the payload of an event block of ours that the caller just got (so it is
/// exclusively the caller's).
#[inline(always)]
pub(crate) unsafe fn zeroed_event(payload: NonNull<u8>) -> NonNull<DmusKernelEvent> {
    let p = payload.cast::<DmusKernelEvent>();
    // SAFETY: per the caller; the payload of an event block is DMUS_KERNEL_EVENT_SIZE bytes,
    // 16-aligned.
    unsafe { p.as_ptr().write(DmusKernelEvent::ZEROED) };
    p
}

/// The payload bytes of a free reserve block.
///
/// # Safety
/// `block` is a block of `lane` that the caller owns exclusively for the returned borrow.
unsafe fn lane_payload<'a>(lane: &Lane, block: NonNull<u8>) -> &'a [u8] {
    // SAFETY: the caller's promise: `block` is a block of `lane`, HEADER_SIZE + payload bytes.
    let payload = unsafe { payload_of(block) };
    // SAFETY: the `lane.payload` bytes from `payload` are inside the block, initialised, and
    // the caller's exclusively for `'a`.
    unsafe { core::slice::from_raw_parts(payload.as_ptr(), lane.payload) }
}

/// As [`lane_payload`], mutable.
///
/// # Safety
/// As [`lane_payload`].
pub(crate) unsafe fn lane_payload_mut<'a>(lane: &Lane, block: NonNull<u8>) -> &'a mut [u8] {
    // SAFETY: as in `lane_payload`: a block of `lane`.
    let payload = unsafe { payload_of(block) };
    // SAFETY: as in `lane_payload`: inside the block, initialised, and the caller's
    // exclusively for `'a`, so a unique borrow is sound.
    unsafe { core::slice::from_raw_parts_mut(payload.as_ptr(), lane.payload) }
}
