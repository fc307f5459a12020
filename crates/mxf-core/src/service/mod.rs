//! Our own `IServiceGroup`: a fixed set of `IServiceSink` members serviced together, with an
//! optional delayed service over a platform timer.
//!
//! # Why our own group
//! PortCls exports `PcNewServiceGroup`, but the miniport is portable code that must run on the
//! host emulator as well as in the kernel, and a group is small. Owning it also pins down the
//! rules below, which the host port emulator and the tests rely on.
//!
//! # Rules
//! - Members are kept in an array of [`MAX_MEMBERS`] entries, each holding one reference
//!   (`AddMember` adds a reference, `RemoveMember` and the group's destruction release it).
//!   A full group refuses with `STATUS_INSUFFICIENT_RESOURCES`. The same sink may be added
//!   twice (it is then serviced twice); `RemoveMember` removes one entry.
//! - `RequestService` (IRQL <= `DISPATCH_LEVEL`) only queues the group's DPC (a timer due now:
//!   `KeInsertQueueDpc` in the kernel) and returns: the members are serviced on that DPC, not
//!   inside the caller's stack and locks. Requests made before the DPC runs are served by that
//!   one run (a queued DPC is queued once), as a service request asks for "service soon", not
//!   for one call per request.
//! - The DPC calls every member's `RequestService` in the order they were added, **with the
//!   group's spin lock held** (as PortCls's own group does): a member must not call
//!   `AddMember`/`RemoveMember` of the same group from inside its `RequestService` (that would
//!   deadlock; the emulator reports it as a self-deadlock). Requesting service or delayed
//!   service from inside is fine (it only touches the timers).
//! - Holding the lock also means no reference is taken or dropped during service, so a
//!   member's final `Release` never happens at `DISPATCH_LEVEL` on the group's account.
//! - Delayed service: the timer is created with the group (`PASSIVE_LEVEL`), so
//!   `SupportDelayedService` only enables it. `RequestDelayedService(delay)` follows
//!   `KeSetTimer`'s sign convention read as a signed 64-bit value: negative = relative delay
//!   of `-delay` (100 ns units), otherwise an absolute *system* time
//!   ([`Platform::system_time_100ns`], 100 ns since 1601), converted to the monotonic clock
//!   when the request is made (a time already past fires at once; a later change of the
//!   system clock does not move it, unlike a kernel absolute timer). A request before
//!   `SupportDelayedService` is ignored and counted ([`ServiceStats::delayed_refused`]).
//!   A new request replaces a pending one; `CancelDelayedService` disarms it.
//! - `QueryInterface` answers `IUnknown`, `IServiceSink` and `IServiceGroup` (all at offset 0),
//!   and [`IID_MXF_PRIVATE_SERVICE_GROUP`] with the group itself, which is how
//!   [`service_stats`] and [`member_count`] recognise a group of ours ([`com::ours`]).
//! - The final `Release` must happen at `PASSIVE_LEVEL` (it deletes the timers, waiting for a
//!   callback in flight), which is where PortCls releases the groups it holds.

use crate::com::{self, ComObject, ComPtr, OurMark, OurObject, RefCount};
use crate::platform::{Platform, PoolTag, SpinLock, Timer};
use core::ffi::c_void;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use mxf_abi::NtError;
use mxf_abi::{
    Guid, IID_ISERVICE_GROUP, IID_ISERVICE_SINK, IID_IUNKNOWN, IServiceGroup, IServiceGroupVtbl,
    IServiceSink, IServiceSinkVtbl, NtStatus, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

/// Most members a group holds.
pub const MAX_MEMBERS: usize = 8;

/// Pool tag of a service group object.
pub const TAG_SERVICE_GROUP: PoolTag = PoolTag::new(b"MxfG");

/// Counters of a group.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ServiceStats {
    /// `RequestService` calls on the group (each queues the service DPC).
    pub requests: u64,
    /// Service runs (the service DPC and the delayed-service timer), each calling every
    /// member once.
    pub services: u64,
    /// Member `RequestService` calls made.
    pub member_calls: u64,
    /// `RequestDelayedService` calls that armed the timer.
    pub delayed_requests: u64,
    /// `RequestDelayedService` calls ignored because delayed service was not enabled.
    pub delayed_refused: u64,
    /// Delayed-service timer expirations.
    pub delayed_fired: u64,
    /// `CancelDelayedService` calls that disarmed a pending request.
    pub delayed_cancelled: u64,
    /// `AddMember` calls refused because the group was full.
    pub add_refused: u64,
}

struct Members {
    slots: [Option<ComPtr<IServiceSink>>; MAX_MEMBERS],
}

/// A private interface id: our groups answer `QueryInterface` with it (returning themselves,
/// AddRef'd), which is how [`service_stats`] and [`member_count`] recognise them
/// ([`com::ours`]). Never asked for by PortCls.
pub const IID_MXF_PRIVATE_SERVICE_GROUP: Guid =
    Guid::from_u128(0x6d786630_0020_4d58_8000_6d78666c6f6f);

/// The group object (what the interface pointer points to).
#[repr(C)]
struct Group<P: Platform> {
    vtbl: *const IServiceGroupVtbl,
    /// `OurMark::of::<Group<P>>()` (for [`com::ours`]).
    mark: OurMark,
    refs: RefCount,
    platform: P,
    members: SpinLock<P::RawSpinLock, Members>,
    /// The delayed-service timer. Never written after construction: a timer callback in
    /// flight holds `&Group` while `destroy` deletes the timer, so `destroy` reads it out
    /// (`ptr::read`) rather than taking it (a write); `ManuallyDrop` keeps `drop_in_place`
    /// from dropping it again.
    timer: ManuallyDrop<P::Timer>,
    /// The service DPC (a timer only ever armed for now), handled as `timer`.
    dpc: ManuallyDrop<P::Timer>,
    delayed_supported: AtomicBool,
    requests: AtomicU64,
    services: AtomicU64,
    member_calls: AtomicU64,
    delayed_requests: AtomicU64,
    delayed_refused: AtomicU64,
    delayed_fired: AtomicU64,
    delayed_cancelled: AtomicU64,
    add_refused: AtomicU64,
}

/// Creates a service group with no member. `PASSIVE_LEVEL` (creates its timer). Returns the
/// creator's reference.
pub fn new_service_group<P: Platform>(platform: P) -> Result<ComPtr<IServiceGroup>, NtError> {
    const {
        assert!(core::mem::align_of::<Group<P>>() <= crate::platform::POOL_ALIGN);
    }
    let mem = platform
        .pool_alloc(core::mem::size_of::<Group<P>>(), TAG_SERVICE_GROUP)
        .ok_or(NtError::INSUFFICIENT_RESOURCES)?
        .cast::<Group<P>>();
    // SAFETY: the timer's context is the object's address; the object is written below,
    // before anything can arm the timer, and the timer is dropped (waiting for a callback in
    // flight) before the memory is freed in `destroy`. `Group::<P>::on_timer` is sound at
    // DISPATCH_LEVEL from any CPU with that context.
    let timer =
        unsafe { platform.new_timer(Group::<P>::on_timer, mem.as_ptr().cast_const().cast()) };
    let timer = match timer {
        Ok(t) => t,
        Err(status) => {
            // SAFETY: from `pool_alloc` with this tag above, never initialised or shared.
            unsafe { platform.pool_free(mem.cast(), TAG_SERVICE_GROUP) };
            return Err(status);
        }
    };
    // SAFETY: as for `timer`, with `on_service_dpc`.
    let dpc =
        unsafe { platform.new_timer(Group::<P>::on_service_dpc, mem.as_ptr().cast_const().cast()) };
    let dpc = match dpc {
        Ok(t) => t,
        Err(status) => {
            // Never armed: dropping it waits for nothing (PASSIVE_LEVEL, as `new_timer`).
            drop(timer);
            // SAFETY: as above.
            unsafe { platform.pool_free(mem.cast(), TAG_SERVICE_GROUP) };
            return Err(status);
        }
    };
    let lock = platform.new_spin_lock();
    let group = Group {
        vtbl: &Group::<P>::VTBL,
        mark: OurMark::of::<Group<P>>(),
        refs: RefCount::new(),
        platform,
        members: SpinLock::new(
            lock,
            Members {
                slots: [const { None }; MAX_MEMBERS],
            },
        ),
        timer: ManuallyDrop::new(timer),
        dpc: ManuallyDrop::new(dpc),
        delayed_supported: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        services: AtomicU64::new(0),
        member_calls: AtomicU64::new(0),
        delayed_requests: AtomicU64::new(0),
        delayed_refused: AtomicU64::new(0),
        delayed_fired: AtomicU64::new(0),
        delayed_cancelled: AtomicU64::new(0),
        add_refused: AtomicU64::new(0),
    };
    // SAFETY: fresh, aligned (checked at compile time) block of the object's size, ours.
    unsafe { mem.as_ptr().write(group) };
    // SAFETY: `Group` is `#[repr(C)]` with the vtable pointer first: `mem` is a valid
    // `IServiceGroup` pointer carrying the object's one initial reference.
    Ok(unsafe { ComPtr::from_raw(mem.cast::<IServiceGroup>()) })
}

/// The counters of a group made by [`new_service_group`] with the same `P`; `None` if `group`
/// is not one of ours ([`com::ours`]).
pub fn service_stats<P: Platform>(group: &ComPtr<IServiceGroup>) -> Option<ServiceStats> {
    com::ours::<Group<P>, _>(group).map(Group::stats)
}

/// Number of members of a group of ours (`None` as for [`service_stats`]).
pub fn member_count<P: Platform>(group: &ComPtr<IServiceGroup>) -> Option<usize> {
    let g = com::ours::<Group<P>, _>(group)?;
    Some(
        g.members
            .lock()
            .slots
            .iter()
            .filter(|s| s.is_some())
            .count(),
    )
}

impl<P: Platform> Group<P> {
    const VTBL: IServiceGroupVtbl = IServiceGroupVtbl {
        base: IServiceSinkVtbl {
            base: com::unknown_vtbl::<Self>(),
            request_service: Self::request_service,
        },
        add_member: Self::add_member,
        remove_member: Self::remove_member,
        support_delayed_service: Self::support_delayed_service,
        request_delayed_service: Self::request_delayed_service,
        cancel_delayed_service: Self::cancel_delayed_service,
    };

    fn stats(&self) -> ServiceStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServiceStats {
            requests: r(&self.requests),
            services: r(&self.services),
            member_calls: r(&self.member_calls),
            delayed_requests: r(&self.delayed_requests),
            delayed_refused: r(&self.delayed_refused),
            delayed_fired: r(&self.delayed_fired),
            delayed_cancelled: r(&self.delayed_cancelled),
            add_refused: r(&self.add_refused),
        }
    }

    /// Services every member (on the service DPC or the delayed-service timer:
    /// `DISPATCH_LEVEL`).
    fn service(&self) {
        self.services.fetch_add(1, Ordering::Relaxed);
        let members = self.members.lock();
        for sink in members.slots.iter().flatten() {
            self.member_calls.fetch_add(1, Ordering::Relaxed);
            sink.request_service();
        }
    }

    /// The delayed-service timer's callback (`DISPATCH_LEVEL`).
    ///
    /// # Safety
    /// `context` is the address of a live `Group<P>` (the timer is dropped before the object
    /// is freed).
    unsafe fn on_timer(context: *const c_void) {
        // SAFETY: per the caller.
        let this = unsafe { &*context.cast::<Self>() };
        this.delayed_fired.fetch_add(1, Ordering::Relaxed);
        this.service();
    }

    /// The service DPC's callback (`DISPATCH_LEVEL`).
    ///
    /// # Safety
    /// As [`Self::on_timer`].
    unsafe fn on_service_dpc(context: *const c_void) {
        // SAFETY: per the caller.
        unsafe { &*context.cast::<Self>() }.service();
    }

    unsafe extern "system" fn request_service(this: *mut IServiceSink) {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        me.requests.fetch_add(1, Ordering::Relaxed);
        // Due now: the DPC is queued at once (not at the next clock tick).
        me.dpc.set(me.platform.now_100ns());
    }

    unsafe extern "system" fn add_member(
        this: *mut IServiceGroup,
        sink: *mut IServiceSink,
    ) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let Some(sink) = NonNull::new(sink) else {
            return STATUS_INVALID_PARAMETER;
        };
        // SAFETY: a non-null member is a live IServiceSink (COM contract); we keep a reference.
        let sink = unsafe { ComPtr::from_raw_add_ref(sink) };
        let refused = {
            let mut m = me.members.lock();
            match m.slots.iter_mut().find(|s| s.is_none()) {
                Some(slot) => {
                    *slot = Some(sink);
                    None
                }
                None => Some(sink),
            }
        };
        match refused {
            None => STATUS_SUCCESS,
            Some(sink) => {
                me.add_refused.fetch_add(1, Ordering::Relaxed);
                drop(sink);
                STATUS_INSUFFICIENT_RESOURCES
            }
        }
    }

    unsafe extern "system" fn remove_member(this: *mut IServiceGroup, sink: *mut IServiceSink) {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let removed = {
            let mut m = me.members.lock();
            m.slots
                .iter_mut()
                .find(|s| s.as_ref().is_some_and(|p| p.as_raw() == sink))
                .and_then(Option::take)
        };
        // Released outside the lock: a final Release may run the member's destructor.
        drop(removed);
    }

    unsafe extern "system" fn support_delayed_service(this: *mut IServiceGroup) {
        // SAFETY: COM contract.
        unsafe { Self::obj(this) }
            .delayed_supported
            .store(true, Ordering::Release);
    }

    unsafe extern "system" fn request_delayed_service(this: *mut IServiceGroup, delay: u64) {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        if !me.delayed_supported.load(Ordering::Acquire) {
            me.delayed_refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let signed = delay as i64;
        let now = me.platform.now_100ns();
        let due = if signed < 0 {
            now.saturating_add(signed.unsigned_abs().min(i64::MAX as u64) as i64)
        } else {
            // Absolute system time: as far from now as it is from the system time now.
            now.saturating_add(signed.saturating_sub(me.platform.system_time_100ns()))
        };
        me.timer.set(due);
        me.delayed_requests.fetch_add(1, Ordering::Relaxed);
    }

    unsafe extern "system" fn cancel_delayed_service(this: *mut IServiceGroup) {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        if me.timer.cancel() {
            me.delayed_cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: `Group<P>` is `#[repr(C)]` with its vtable pointer first and `mark` second,
// `OurMark::of::<Group<P>>()` from `new_service_group` on and never written again; only groups
// answer the private id, and with themselves (`IIDS`, all at offset 0).
unsafe impl<P: Platform> OurObject for Group<P> {
    const PRIVATE_IID: Guid = IID_MXF_PRIVATE_SERVICE_GROUP;
}

// SAFETY: `Group` is `#[repr(C)]` with its vtable pointer first; `VTBL` starts with
// `unknown_vtbl::<Self>()` and is an `IServiceGroupVtbl`, which begins with `IServiceSink`'s and
// `IUnknown`'s tables, the interfaces of `IIDS` (the private id answers the group itself, which
// `OurObject` names); only `Group<P>` objects carry `VTBL`. `destroy` is sound at a zero count
// (see there).
unsafe impl<P: Platform> ComObject for Group<P> {
    type Platform = P;
    const NAME: &'static str = "service group";
    const IIDS: &'static [Guid] = &[
        IID_IUNKNOWN,
        IID_ISERVICE_SINK,
        IID_ISERVICE_GROUP,
        IID_MXF_PRIVATE_SERVICE_GROUP,
    ];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &P {
        &self.platform
    }

    unsafe fn destroy(this: *mut Self) {
        // Per the caller no reference to the object is left but a timer callback's, queued or
        // running on another CPU, which only reads it. The timer goes first: it is read out
        // without writing the object, and dropping it waits for that callback. Then the object
        // is ours alone: the members' references are released and the memory freed.
        // SAFETY: `this` points to a live `Group` (the caller's promise), so the field's place
        // is in bounds; no reference is made.
        let timer_field = unsafe { ptr::addr_of!((*this).timer) };
        // SAFETY: the field is initialised, and `ManuallyDrop`: reading it out leaves a bitwise
        // copy behind that is never used or dropped again.
        let timer = ManuallyDrop::into_inner(unsafe { ptr::read(timer_field) });
        drop(timer);
        // SAFETY: as for the timer field: in bounds of the live object.
        let dpc_field = unsafe { ptr::addr_of!((*this).dpc) };
        // SAFETY: as for the timer: initialised, `ManuallyDrop`, never used again.
        let dpc = ManuallyDrop::into_inner(unsafe { ptr::read(dpc_field) });
        drop(dpc);
        // SAFETY: the timer waited for its callback, so no other reference is left; the memory
        // came from `pool_alloc` with this tag in `new_service_group`, and the moved-out fields
        // are `ManuallyDrop`, which dropping the object skips.
        unsafe { com::drop_and_free(this, TAG_SERVICE_GROUP) };
    }
}

/// Typed calls of the `IServiceGroup` slots beyond `RequestService` (which `ComPtr` has).
pub trait ServiceGroupExt {
    /// `AddMember`.
    fn add_member(&self, sink: &ComPtr<IServiceSink>) -> NtStatus;
    /// `RemoveMember`.
    fn remove_member(&self, sink: &ComPtr<IServiceSink>);
    /// `SupportDelayedService`.
    fn support_delayed_service(&self);
    /// `RequestDelayedService` (see the module docs for the meaning of `delay`).
    fn request_delayed_service(&self, delay: u64);
    /// `CancelDelayedService`.
    fn cancel_delayed_service(&self);
}

impl ServiceGroupExt for ComPtr<IServiceGroup> {
    fn add_member(&self, sink: &ComPtr<IServiceSink>) -> NtStatus {
        // SAFETY: `group_vtbl` is this live object's own table, so the slot takes `this` of
        // this type; `sink` is a live IServiceSink the group may AddRef.
        unsafe { (self.group_vtbl().add_member)(self.as_raw(), sink.as_raw()) }
    }

    fn remove_member(&self, sink: &ComPtr<IServiceSink>) {
        // SAFETY: the live object's own table; the slot takes `this` and a live `sink`.
        unsafe { (self.group_vtbl().remove_member)(self.as_raw(), sink.as_raw()) }
    }

    fn support_delayed_service(&self) {
        // SAFETY: the live object's own table; the slot takes `this` of this type.
        unsafe { (self.group_vtbl().support_delayed_service)(self.as_raw()) }
    }

    fn request_delayed_service(&self, delay: u64) {
        // SAFETY: the live object's own table; the slot takes `this` of this type and a value.
        unsafe { (self.group_vtbl().request_delayed_service)(self.as_raw(), delay) }
    }

    fn cancel_delayed_service(&self) {
        // SAFETY: the live object's own table; the slot takes `this` of this type.
        unsafe { (self.group_vtbl().cancel_delayed_service)(self.as_raw()) }
    }
}
