//! Typed calls through each DMus interface's vtable.
//!
//! Each wrapper is safe because a [`ComPtr`] guarantees a live object of the right interface;
//! what remains unsafe is ownership of event chains and buffers, which the methods that move
//! them spell out.

use super::ComPtr;
use core::ptr::NonNull;
use mxf_abi::NtError;
use mxf_abi::{
    DmusKernelEvent, IAllocatorMxf, IAllocatorMxfVtbl, IMasterClock, IMasterClockVtbl, IMxf,
    IMxfVtbl, IPortDMus, IPortDMusVtbl, IServiceGroup, IServiceGroupVtbl, IServiceSink,
    IServiceSinkVtbl, KsState, NtStatus, ReferenceTime, nt_success,
};

/// The vtable of `p`, typed as `V`.
///
/// # Safety
/// `p` is live and its vtable pointer points to a `V` (or a table that starts with one).
unsafe fn vtbl<I, V>(p: &ComPtr<I>) -> &V
where
    I: super::Interface,
{
    // SAFETY: the object is live (`p`), so its first field, the vtable pointer, is readable.
    let table = unsafe { *p.as_raw().cast::<*const V>() };
    // SAFETY: per the caller that pointer points to a `V`, valid and immutable while the
    // object lives, which `p` guarantees for the borrow's duration.
    unsafe { &*table }
}

impl ComPtr<IMxf> {
    /// The object's vtable.
    fn mxf_vtbl(&self) -> &IMxfVtbl {
        // SAFETY: an `IMxf` object's vtable is an `IMxfVtbl`.
        unsafe { vtbl::<_, IMxfVtbl>(self) }
    }

    /// `IMXF::SetState`.
    pub fn set_state(&self, state: KsState) -> NtStatus {
        // SAFETY: an `IMxf` object's vtable is an `IMxfVtbl`; the call takes `this` and a value.
        unsafe { (self.mxf_vtbl().set_state)(self.as_raw(), state) }
    }

    /// `IMXF::PutMessage`: hands a chain (possibly null) to the object, which owns it from now.
    ///
    /// # Safety
    /// `chain` is null or a well-formed event chain owned by the caller, whose events, buffers
    /// and packages came from allocators this graph returns them to; the caller does not touch
    /// it afterwards.
    pub unsafe fn put_message(&self, chain: *mut DmusKernelEvent) -> NtStatus {
        // SAFETY: vtable type as above; ownership of `chain` moves per the caller's promise.
        unsafe { (self.mxf_vtbl().put_message)(self.as_raw(), chain) }
    }

    /// `IMXF::ConnectOutput`.
    pub fn connect_output(&self, sink: &ComPtr<IMxf>) -> NtStatus {
        // SAFETY: vtable type as above; `sink` is a live IMXF the callee may AddRef.
        unsafe { (self.mxf_vtbl().connect_output)(self.as_raw(), sink.as_raw()) }
    }

    /// `IMXF::DisconnectOutput`.
    pub fn disconnect_output(&self, sink: &ComPtr<IMxf>) -> NtStatus {
        // SAFETY: vtable type as above; `sink` is a live IMXF.
        unsafe { (self.mxf_vtbl().disconnect_output)(self.as_raw(), sink.as_raw()) }
    }
}

impl ComPtr<IAllocatorMxf> {
    fn alloc_vtbl(&self) -> &IAllocatorMxfVtbl {
        // SAFETY: an `IAllocatorMxf` object's vtable is an `IAllocatorMxfVtbl`.
        unsafe { vtbl::<_, IAllocatorMxfVtbl>(self) }
    }

    /// The allocator seen as its `IMXF` base (the last stop of every chain).
    pub fn as_mxf(&self) -> ComPtr<IMxf> {
        // SAFETY: IAllocatorMXF derives from IMXF.
        unsafe { self.upcast::<IMxf>() }
    }

    /// `GetMessage`: a zeroed event owned by the caller. The pointer is authoritative (callers
    /// test the pointer, not the status), so a success without an event is reported as
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn get_message(&self) -> Result<NonNull<DmusKernelEvent>, NtError> {
        let mut out: *mut DmusKernelEvent = core::ptr::null_mut();
        // SAFETY: live allocator; `out` is a valid out-pointer for the call.
        let status = unsafe { (self.alloc_vtbl().get_message)(self.as_raw(), &mut out) };
        NonNull::new(out).ok_or(if nt_success(status) {
            NtError::INSUFFICIENT_RESOURCES
        } else {
            NtError::or_unsuccessful(status)
        })
    }

    /// `GetBufferSize`: the size of every buffer; constant, read it once.
    pub fn buffer_size(&self) -> u16 {
        // SAFETY: live allocator; the slot takes only `this`.
        unsafe { (self.alloc_vtbl().get_buffer_size)(self.as_raw()) }
    }

    /// `GetBuffer`: a buffer of [`Self::buffer_size`] bytes owned by the caller.
    pub fn get_buffer(&self) -> Result<NonNull<u8>, NtError> {
        let mut out: *mut u8 = core::ptr::null_mut();
        // SAFETY: live allocator; `out` is a valid out-pointer for the call.
        let status = unsafe { (self.alloc_vtbl().get_buffer)(self.as_raw(), &mut out) };
        NonNull::new(out).ok_or(if nt_success(status) {
            NtError::INSUFFICIENT_RESOURCES
        } else {
            NtError::or_unsuccessful(status)
        })
    }

    /// `PutBuffer`: returns a buffer.
    ///
    /// # Safety
    /// `buf` came from this allocator's `GetBuffer`, is owned by the caller and is not used
    /// afterwards.
    pub unsafe fn put_buffer(&self, buf: NonNull<u8>) -> NtStatus {
        // SAFETY: live allocator; ownership of `buf` moves back per the caller's promise.
        unsafe { (self.alloc_vtbl().put_buffer)(self.as_raw(), buf.as_ptr()) }
    }

    /// `PutMessage` on the allocator: recycles a whole chain (packages and buffers included).
    ///
    /// # Safety
    /// As [`ComPtr::<IMxf>::put_message`], with every event and buffer of the chain from this
    /// allocator.
    pub unsafe fn put_message(&self, chain: *mut DmusKernelEvent) -> NtStatus {
        // SAFETY: the allocator's vtable starts with IMXF's; ownership moves per the caller.
        unsafe { (self.alloc_vtbl().base.put_message)(self.as_raw().cast(), chain) }
    }
}

impl ComPtr<IMasterClock> {
    /// The object's vtable.
    fn clock_vtbl(&self) -> &IMasterClockVtbl {
        // SAFETY: an `IMasterClock` object's vtable is an `IMasterClockVtbl`.
        unsafe { vtbl::<_, IMasterClockVtbl>(self) }
    }

    /// `IMasterClock::GetTime`, in 100 ns units.
    pub fn get_time(&self) -> Result<ReferenceTime, NtError> {
        let mut t: ReferenceTime = 0;
        // SAFETY: an `IMasterClock` object's vtable is an `IMasterClockVtbl`; `t` is valid.
        let status = unsafe { (self.clock_vtbl().get_time)(self.as_raw(), &mut t) };
        if nt_success(status) {
            Ok(t)
        } else {
            Err(NtError::or_unsuccessful(status))
        }
    }
}

impl ComPtr<IServiceSink> {
    /// The object's vtable.
    fn sink_vtbl(&self) -> &IServiceSinkVtbl {
        // SAFETY: an `IServiceSink` object's vtable is an `IServiceSinkVtbl`.
        unsafe { vtbl::<_, IServiceSinkVtbl>(self) }
    }

    /// `IServiceSink::RequestService`.
    pub fn request_service(&self) {
        // SAFETY: an `IServiceSink` object's vtable is an `IServiceSinkVtbl`.
        unsafe { (self.sink_vtbl().request_service)(self.as_raw()) }
    }
}

impl ComPtr<IServiceGroup> {
    /// The object's vtable.
    fn sink_vtbl(&self) -> &IServiceSinkVtbl {
        // SAFETY: an `IServiceGroup` object's vtable starts with `IServiceSink`'s.
        unsafe { vtbl::<_, IServiceSinkVtbl>(self) }
    }

    /// The object's vtable, as the whole `IServiceGroupVtbl`.
    pub(crate) fn group_vtbl(&self) -> &IServiceGroupVtbl {
        // SAFETY: an `IServiceGroup` object's vtable is an `IServiceGroupVtbl`.
        unsafe { vtbl::<_, IServiceGroupVtbl>(self) }
    }

    /// `IServiceSink::RequestService` of the group (services every member).
    pub fn request_service(&self) {
        // SAFETY: IServiceGroup's vtable starts with IServiceSink's.
        unsafe { (self.sink_vtbl().request_service)(self.as_raw().cast()) }
    }
}

impl ComPtr<IPortDMus> {
    /// The object's vtable.
    fn port_vtbl(&self) -> &IPortDMusVtbl {
        // SAFETY: an `IPortDMus` object's vtable is an `IPortDMusVtbl`.
        unsafe { vtbl::<_, IPortDMusVtbl>(self) }
    }

    /// `IPortDMus::Notify`: asks the port to service `group` (capture data is waiting).
    pub fn notify(&self, group: &ComPtr<IServiceGroup>) {
        // SAFETY: an `IPortDMus` object's vtable is an `IPortDMusVtbl`; `group` is live.
        unsafe { (self.port_vtbl().notify)(self.as_raw(), group.as_raw()) }
    }
}
