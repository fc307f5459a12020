//! The `IAllocatorMXF` vtable: `extern "system"` entry points over [`Allocator`].
//!
//! Each function turns the C calling convention and out-pointers into a call of the Rust
//! method of the same name. There is one vtable per platform type `P` ([`Vtbl::VTBL`]): the
//! four hot slots (`GetMessage`, `GetBuffer`, `PutMessage`, `PutBuffer`) are compiled for `P`
//! and do the IRQL check and the processor lookup inline ([`processor_if_at_most_dispatch`]), then
//! run the fast path ([`fast`](super::fast)), handing anything else to the full path; the other
//! slots are shared. The table's address does not identify our objects (a constant's address is not
//! guaranteed unique): `QueryInterface` answers [`IID_MXF_PRIVATE_ALLOCATOR`] instead. None of them
//! may unwind (an `extern "system"` function that panics aborts), which holds in the kernel, where
//! a bug check does not return; in the host emulator a bug check is a panic, so tests that expect
//! one call the Rust methods directly.

use super::IID_MXF_PRIVATE_ALLOCATOR;
use super::backend::Object;
use super::fast::FastGet;
use super::header::Kind;
use super::lane::zeroed_event;
use super::object::{Allocator, processor_if_at_most_dispatch};
use crate::platform::Platform;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;
use mxf_abi::{
    DmusKernelEvent, Guid, IAllocatorMxf, IAllocatorMxfVtbl, IID_IALLOCATOR_MXF, IID_IMXF,
    IID_IUNKNOWN, IMxf, IMxfVtbl, IUnknown, IUnknownVtbl, KsState, NtStatus,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

/// The vtables, one per platform type.
pub(crate) struct Vtbl<P>(PhantomData<P>);

impl<P: Platform> Vtbl<P> {
    /// The vtable of `Object<P>` (`&Vtbl::<P>::VTBL` is a promoted `'static`).
    pub(crate) const VTBL: IAllocatorMxfVtbl = IAllocatorMxfVtbl {
        base: IMxfVtbl {
            base: IUnknownVtbl {
                query_interface,
                add_ref,
                release,
            },
            set_state,
            put_message: put_message::<P>,
            connect_output,
            disconnect_output,
        },
        get_message: get_message::<P>,
        get_buffer_size,
        get_buffer: get_buffer::<P>,
        put_buffer: put_buffer::<P>,
    };
}

/// The object behind `this`.
///
/// # Safety
/// `this` is an interface pointer to a live [`Allocator`] (what the COM contract guarantees
/// for every call through our vtable), valid for `'a`.
unsafe fn obj<'a, T>(this: *mut T) -> &'a Allocator {
    // SAFETY: per the caller; `Allocator` is `#[repr(C)]` with the vtable pointer first, so
    // the interface pointer is the object pointer.
    unsafe { &*this.cast::<Allocator>() }
}

/// The interfaces the allocator answers (all at offset 0 of the object).
const IIDS: [Guid; 4] = [
    IID_IUNKNOWN,
    IID_IMXF,
    IID_IALLOCATOR_MXF,
    IID_MXF_PRIVATE_ALLOCATOR,
];

unsafe extern "system" fn query_interface(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: COM contract (see `obj`).
    let refs = unsafe { obj(this) }.refs();
    // SAFETY: `iid` and `out` are null or valid (COM contract; read and written unaligned);
    // `refs` is `this`'s count, and the allocator implements every interface of `IIDS` at
    // offset 0 (its vtable is an `IAllocatorMxfVtbl`; the private IID answers the object).
    unsafe { crate::com::answer_query_interface(this, iid, out, &IIDS, refs) }
}

unsafe extern "system" fn add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: COM contract.
    unsafe { obj(this) }.add_ref()
}

unsafe extern "system" fn release(this: *mut IUnknown) -> u32 {
    // SAFETY: COM contract: `this` is a live allocator's interface pointer.
    let allocator = unsafe { obj(this) };
    // SAFETY: the caller gives up one reference and, if it was the last, does not use the
    // object again; `allocator` is not used after this call either.
    unsafe { allocator.release() }
}

unsafe extern "system" fn set_state(this: *mut IMxf, state: KsState) -> NtStatus {
    if !state.is_valid() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: COM contract.
    unsafe { obj(this) }.set_state(state);
    STATUS_SUCCESS
}

unsafe extern "system" fn put_message<P: Platform>(
    this: *mut IMxf,
    chain: *mut DmusKernelEvent,
) -> NtStatus {
    // SAFETY: COM contract: this slot is only in `Object<P>`'s vtable.
    let o = unsafe { Object::<P>::from_interface(this) };
    let core = &o.core;
    match processor_if_at_most_dispatch(&o.platform) {
        // SAFETY: `PutMessage` transfers ownership of the chain, whose events come from this
        // allocator (the allocator is the last stop of a chain).
        Ok(cpu) => unsafe { core.put_message_fast(chain, cpu) },
        // SAFETY: as above (a non-null chain starts with an event of ours).
        Err(irql) => unsafe { core.put_above_dispatch(core.lane(Kind::Event), chain.cast(), irql) },
    }
}

/// The allocator is the last stop of every chain and never forwards anything, so it keeps
/// no sink: `ConnectOutput` accepts any non-null sink without storing it or taking a
/// reference (holding one would only create a cycle, since a sink usually holds its
/// allocator), and `DisconnectOutput` likewise. A null sink is `STATUS_INVALID_PARAMETER`.
unsafe extern "system" fn connect_output(_this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
    if sink.is_null() {
        STATUS_INVALID_PARAMETER
    } else {
        STATUS_SUCCESS
    }
}

/// See [`connect_output`].
unsafe extern "system" fn disconnect_output(_this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
    if sink.is_null() {
        STATUS_INVALID_PARAMETER
    } else {
        STATUS_SUCCESS
    }
}

unsafe extern "system" fn get_message<P: Platform>(
    this: *mut IAllocatorMxf,
    out: *mut *mut DmusKernelEvent,
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: COM contract: this slot is only in `Object<P>`'s vtable.
    let o = unsafe { Object::<P>::from_interface(this) };
    // SAFETY: `out` is the caller's non-null out-pointer.
    unsafe { get::<P>(o, Kind::Event, out.cast()) }
}

/// `GetMessage`/`GetBuffer` of `kind`: the IRQL check, the fast path, else the full get.
///
/// # Safety
/// `out` is the caller's non-null out-pointer.
#[inline(always)]
unsafe fn get<P: Platform>(o: &Object<P>, kind: Kind, out: *mut *mut u8) -> NtStatus {
    let core = &o.core;
    let cpu = match processor_if_at_most_dispatch(&o.platform) {
        Ok(cpu) => cpu,
        Err(irql) => core.get_above_dispatch(core.lane(kind), irql),
    };
    match core.get_fast(kind, cpu) {
        FastGet::Got { payload, sample } => {
            let p = if kind == Kind::Event {
                // SAFETY: an event payload just got.
                unsafe { zeroed_event(payload) }.cast::<u8>()
            } else {
                payload
            };
            // SAFETY: per the caller.
            unsafe { out.write_unaligned(p.as_ptr()) };
            if sample {
                return core.sampled(kind);
            }
            STATUS_SUCCESS
        }
        // SAFETY: per the caller.
        FastGet::Full => unsafe { core.get_slow(kind, cpu, true, out) },
        // SAFETY: per the caller.
        FastGet::Pool => unsafe { core.get_slow(kind, cpu, false, out) },
    }
}

unsafe extern "system" fn get_buffer_size(this: *mut IAllocatorMxf) -> u16 {
    // SAFETY: COM contract.
    unsafe { obj(this) }.buffer_size()
}

unsafe extern "system" fn get_buffer<P: Platform>(
    this: *mut IAllocatorMxf,
    out: *mut *mut u8,
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: COM contract: this slot is only in `Object<P>`'s vtable.
    let o = unsafe { Object::<P>::from_interface(this) };
    // SAFETY: `out` is the caller's non-null out-pointer.
    unsafe { get::<P>(o, Kind::Buffer, out) }
}

unsafe extern "system" fn put_buffer<P: Platform>(
    this: *mut IAllocatorMxf,
    buf: *mut u8,
) -> NtStatus {
    let Some(buf) = NonNull::new(buf) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: COM contract: this slot is only in `Object<P>`'s vtable.
    let o = unsafe { Object::<P>::from_interface(this) };
    let core = &o.core;
    match processor_if_at_most_dispatch(&o.platform) {
        // SAFETY: `PutBuffer` returns a buffer the caller got from `GetBuffer`.
        Ok(cpu) => unsafe { core.put_buffer_fast(buf, cpu) },
        // SAFETY: as above.
        Err(irql) => unsafe {
            core.put_above_dispatch(core.lane(Kind::Buffer), buf.as_ptr(), irql)
        },
    }
}
